"""``invariant-inr cluster``: k-means, agglomerative or SCAN on codes z; assignments, scores and pictures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ._common import EXIT_OK, UsageError, add_device_argument, encode, load_model, resolve_device, say
from ._data import add_data_arguments, load_data
from ._types import non_negative_float, non_negative_int, positive_float, positive_int
from .embeddings import read_embeddings

__all__ = ["add_parser", "run"]

_SCAN_OPTIONS = (
    ("--num-neighbors", dict(type=positive_int, default=20, help="neighbours mined per sample (default 20)")),
    ("--entropy-weight", dict(type=non_negative_float, default=5.0, help="weight of the entropy term (default 5)")),
    ("--scan-epochs", dict(type=positive_int, default=50, help="epochs of the clustering step (default 50)")),
    ("--self-label-epochs", dict(type=non_negative_int, default=25, help="epochs of self-labelling (default 25)")),
    ("--lr", dict(type=positive_float, default=1e-4, help="Adam learning rate (default 1e-4)")),
    ("--batch-size", dict(type=positive_int, default=256, help="batch size, also for encoding (default 256)")),
    ("--head-hidden", dict(type=positive_int, default=None,
                           help="hidden width of a two-layer MLP clustering head (default: the SCAN paper's linear head)")),
)


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "cluster", parents=[common], help="cluster images by their codes z (k-means, agglomerative, SCAN)",
        description="Cluster codes z, read from --embeddings FILE (written by 'embed', or any (N, D) array) or "
        "computed with --checkpoint FILE from DATA, and write one line per image to --out (CSV: index,cluster). "
        "With labels (mnist-u, sprites, --labels-from-folders, or stored by 'embed') the scores are printed. "
        "With --checkpoint and DATA it also writes a PNG of up to 64 images of each cluster (OUT_grid.png) and, "
        "with labels, the class-by-cluster counts (OUT_confusion.png, needs matplotlib). "
        "SCAN with --checkpoint trains on randomly rotated and translated images (the paper's R + T).",
    )
    parser.add_argument("--embeddings", metavar="FILE", help="codes from 'embed' (.pt, .npz, .npy, .csv)")
    parser.add_argument("--checkpoint", metavar="FILE", help="a trained model, to encode DATA")
    add_data_arguments(parser, required=False)
    parser.add_argument("-k", "--num-clusters", type=positive_int, required=True, help="number of clusters (may exceed the classes)")
    parser.add_argument("--method", choices=("kmeans", "agglomerative", "scan"), default="kmeans", help="default kmeans")
    parser.add_argument("--out", default="clusters.csv", metavar="FILE", help="CSV of assignments (default clusters.csv)")
    parser.add_argument("--scores", metavar="FILE", help="also write accuracy, NMI, ARI and the confusion matrix as JSON")
    parser.add_argument("--no-figures", action="store_true", help="write no pictures (cluster grid, confusion matrix)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--whiten", action=argparse.BooleanOptionalAction, default=None,
                        help="PCA-whiten the codes first (default: on for codes of the paper's 'cos' consistency and "
                        "for --embeddings, where it helped k-means, Ward and SCAN; off for a --checkpoint trained "
                        "with consistency='infonce', whose codes it cost about 8 points of k-means on MNIST(U); "
                        "see docs/results.md)")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                        help="centre the codes and scale each to unit length first, the cosine geometry of the "
                        "contrastive loss (default: on for a --checkpoint trained with consistency='infonce', where "
                        "it lifted Ward by 7-10 points on MNIST(U); pass it for such codes read with --embeddings)")
    parser.add_argument("--linkage", choices=("ward", "complete", "average", "single"), default="ward",
                        help="agglomerative linkage (default ward)")
    scan_group = parser.add_argument_group("SCAN")
    for flag, options in _SCAN_OPTIONS:
        scan_group.add_argument(flag, **options)
    add_device_argument(parser)
    parser.set_defaults(func=run)


def _codes(args: argparse.Namespace) -> tuple[Tensor, Tensor | None, list[Any], str, Any, Any]:
    """``(z, labels, ids, description, model, loaded data)``: from --embeddings, or encoded with --checkpoint."""
    if (args.embeddings is None) == (args.checkpoint is None):
        raise UsageError("give either --embeddings FILE, or --checkpoint FILE and DATA")
    if args.embeddings is not None:
        if args.data is not None:
            raise UsageError("DATA is only used with --checkpoint; with --embeddings the codes come from the file")
        z, labels, ids = read_embeddings(Path(args.embeddings))
        return z, labels, ids if ids is not None else list(range(z.shape[0])), f"{z.shape[0]} codes from {args.embeddings!r}", None, None
    model = load_model(args.checkpoint, resolve_device(args.device))
    loaded = load_data(args, image_size=model.config.image_size)
    z = encode(model, loaded.data, args).z
    return z, loaded.labels, loaded.ids, loaded.description, model, loaded


def _assign(args: argparse.Namespace, z: Tensor, model: Any, loaded: Any) -> Tensor:
    from ..cluster import SCAN, agglomerative, kmeans

    k = args.num_clusters
    scan_on_images = args.method == "scan" and model is not None
    if args.whiten and args.normalize:
        raise UsageError("give at most one of --whiten and --normalize: each replaces the other's geometry")
    for flag, given in (("--whiten", args.whiten), ("--normalize", args.normalize)):
        if given and scan_on_images:
            raise UsageError(f"{flag} with SCAN needs --embeddings: with --checkpoint SCAN trains through the encoder on images")
    if not scan_on_images:
        z = _prepare_codes(args, z, contrastive=model is not None and model.config.consistency == "infonce")
    if args.method == "kmeans":
        return kmeans(z, k, seed=args.seed).assignments
    if args.method == "agglomerative":
        return agglomerative(z, k, linkage=args.linkage)
    scan = SCAN(
        k, num_neighbors=min(args.num_neighbors, z.shape[0] - 1), entropy_weight=args.entropy_weight,
        epochs=args.scan_epochs, self_label_epochs=args.self_label_epochs, lr=args.lr, batch_size=args.batch_size,
        head_hidden=args.head_hidden, seed=args.seed, verbose=not args.quiet and not args.no_progress,
    )
    if model is not None:
        model.eval()
        return scan.fit_predict(loaded.tensor().to(model.device), encoder=lambda x: model.encode(x).z)
    return scan.fit_predict(z)


def _prepare_codes(args: argparse.Namespace, z: Tensor, *, contrastive: bool) -> Tensor:
    """Whiten, normalise or keep the codes, as asked, else as suits how they were trained (docs/results.md)."""
    from ..cluster import l2_normalize, whiten

    if args.normalize:
        return l2_normalize(z)
    if args.whiten:
        return whiten(z)
    if contrastive and args.normalize is None:  # the contrastive loss trains directions only
        say(args, "clustering the codes centred and scaled to unit length, not whitened: the model was trained with "
                  "consistency='infonce' (pass --no-normalize to keep them as they are, --whiten to whiten them)")
        return l2_normalize(z)
    if not contrastive and args.whiten is None:  # the default for the paper's codes: whiten, unless they cannot be
        try:
            return whiten(z)
        except ValueError as error:  # e.g. a collapsed code, every row the same
            say(args, f"clustering the codes as they are, not whitened: {error}")
    return z


def _figure(args: argparse.Namespace, what: str, draw: Any) -> None:
    """Draw one optional picture; a missing extra or a failure is one line, and the assignments stay written."""
    try:
        say(args, f"wrote {draw()}")
    except Exception as error:  # noqa: BLE001 - a picture failing must not undo the clustering
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        say(args, f"skipped {what}: {reason}")


def run(args: argparse.Namespace) -> int:
    from ..cluster import save_assignments
    from ..demo import clustering_scores, to_json
    from ..metrics import confusion_matrix, match_clusters
    from ..plotting import plot_confusion, save_cluster_grid

    z, labels, ids, source, model, loaded = _codes(args)
    k = args.num_clusters
    if k > z.shape[0]:
        raise UsageError(f"--num-clusters {k} is more than the {z.shape[0]} samples")
    if args.scores and labels is None:
        raise UsageError("--scores needs labels (mnist-u, sprites, --labels-from-folders, or labels in the file)")
    say(args, f"clustering {source} into {k} clusters with {args.method}")
    assignments = _assign(args, z, model, loaded)
    out = save_assignments(args.out, assignments, index=ids)  # first: the result itself
    say(args, f"wrote {out}")
    say(args, f"cluster sizes: {torch.bincount(assignments.long(), minlength=k).tolist()}")
    stem = Path(args.out).with_suffix("")
    if loaded is not None and not args.no_figures:
        _figure(args, "cluster grid", lambda: save_cluster_grid(f"{stem}_grid.png", loaded.tensor(), assignments, seed=args.seed))
    if labels is None or labels.shape[0] != assignments.shape[0]:
        return EXIT_OK
    scores: dict[str, Any] = clustering_scores(labels, assignments)
    say(args, "against the labels: " + ", ".join(f"{name} {value:.4f}" for name, value in scores.items()))
    classes = torch.unique(labels).tolist()
    if min(classes) >= 0:
        matched = match_clusters(labels, assignments)  # cluster -> class, matched clusters first in class order
        order = sorted(range(k), key=lambda c: (matched.get(c, max(classes) + 1), c))
        counts = confusion_matrix(labels, assignments, num_classes=max(classes) + 1, num_clusters=k)[:, order]
        scores["confusion_matrix"] = {"columns": order, "counts": counts.tolist()}
        if not args.no_figures:
            _figure(args, "confusion matrix", lambda: plot_confusion(
                f"{stem}_confusion.png", counts, cluster_names=[str(c) for c in order],
                title=f"{args.method}: accuracy {scores['accuracy']:.1%}"))
    if args.scores:
        Path(args.scores).parent.mkdir(parents=True, exist_ok=True)
        Path(args.scores).write_text(json.dumps(to_json({"method": args.method, "num_clusters": k, **scores}), indent=2) + "\n")
        say(args, f"wrote {args.scores}")
    return EXIT_OK
