#!/usr/bin/env python
"""How to prepare a trained code for clustering: as it is, PCA-whitened, or centred and scaled to unit length.

Takes models trained by ``benchmarks/reproduce.py quick`` (their checkpoints ``OUT/ckpt_<tag>/last.pt``,
each with the ``--seed`` of its run) and, on each one's MNIST(U) split (10,000 training / 2,000
test images), clusters the test codes prepared three ways:

* ``z``: as the encoder emits them;
* ``PCA-whitened z``: :class:`~invariant_inr.cluster.PCAWhitening` (fitted on the training codes for
  SCAN, on the test codes for k-means and Ward, as ``reproduce.py`` does);
* ``centred, unit-length z``: :class:`~invariant_inr.cluster.CenteredL2Normalization`, fitted the
  same way: the cosine geometry the ``"infonce"`` consistency loss trains in.

The no-learning baseline gets the same three preparations: the pixels canonicalised by the model's
rule, projected on ``--pixel-dims`` principal components (fitted on the training images).
With ``--noise SIGMA`` (the ``--noise`` of the runs) every image carries ``reproduce.py``'s noise
draw and the pixels are canonicalised on the robust foreground weights (``denoise="auto"``), the
best a user gets from the rule on noisy images.
Each row: k-means (best of 10 inits, ``--seeds`` seeds), Ward (one run) and SCAN in features mode
(``reproduce.py``'s settings, ``--seeds`` seeds), accuracy on the test images (Hungarian matching).
With it, the confusion matrix of Ward on the centred, unit-length codes of each split (the paper's
figure 5). Writes ``OUT/results.json`` and ``OUT/results.md`` with the command, machine and date.

Usage::

    python benchmarks/code_geometry.py --checkpoint 0=/work/exp/cos600_s0/ckpt_moments/last.pt \\
        --checkpoint 1=/work/exp/cos600_s1/ckpt_moments/last.pt --out benchmarks/results/code_geometry
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from invariant_inr import IRLINR
from invariant_inr.center import canonicalize
from invariant_inr.cluster import SCAN, CenteredL2Normalization, PCAWhitening, agglomerative
from invariant_inr.inference import encode_all
from invariant_inr.metrics import confusion_matrix, match_clusters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _run_record import provenance_line, run_record, write_json  # noqa: E402
from reproduce import NUM_CLASSES, build_parser, cluster_features, load_data, log, resolve_settings, scores, summarize  # noqa: E402

PREPARATIONS: dict[str, Callable[[], Any]] = {
    "as it is": lambda: None,
    "PCA-whitened": PCAWhitening,
    "centred, unit length": CenteredL2Normalization,
}


def parse_checkpoint(text: str) -> tuple[int, Path]:
    """``"SEED=PATH"`` -> ``(SEED, PATH)``: a checkpoint and the split seed of its run."""
    seed, sep, path = text.partition("=")
    if not sep or not seed.strip().isdigit() or not path:
        raise argparse.ArgumentTypeError(f"expected SEED=PATH (the --seed of the reproduce.py run and its checkpoint), got {text!r}")
    return int(seed), Path(path)


def prepared(name: str, fit_on: Tensor, *apply_to: Tensor) -> list[Tensor]:
    """``apply_to`` prepared by the named map fitted on ``fit_on`` (``"as it is"``: unchanged)."""
    transform = PREPARATIONS[name]()
    if transform is None:
        return [x.float() for x in apply_to]
    transform.fit(fit_on.double())
    return [transform.transform(x.double()).float() for x in apply_to]


def rows_for(features_train: Tensor, features_test: Tensor, labels: Tensor, settings: dict[str, Any], seeds: int) -> dict[str, Any]:
    """k-means / Ward (test-fitted preparation) and SCAN (train-fitted) for each preparation.

    The clustering seeds are ``reproduce.py``'s (its ``--seed`` plus 0, 1, ...), so the rows on
    ``z`` as it is repeat that run's figures."""
    out: dict[str, Any] = {}
    clustering_seeds = [settings["seed"] + i for i in range(seeds)]
    for name in PREPARATIONS:
        (test_only,) = prepared(name, features_test, features_test)
        clustering = cluster_features(test_only, labels, seeds=clustering_seeds)
        train_f, test_f = prepared(name, features_train, features_train, features_test)
        scan_runs = [scores(labels, SCAN(NUM_CLASSES, seed=s, **settings["scan"]).fit(train_f).predict(test_f))
                     for s in clustering_seeds]
        out[name] = {"kmeans": clustering["kmeans"], "agglomerative": clustering["agglomerative"], "scan": summarize(scan_runs)}
        log(f"  {name}: k-means {100 * out[name]['kmeans']['accuracy']['mean']:.1f}, Ward "
            f"{100 * out[name]['agglomerative']['accuracy']['mean']:.1f}, SCAN {100 * out[name]['scan']['accuracy']['mean']:.1f}")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=parse_checkpoint, action="append", required=True,
                        help="SEED=PATH: a reproduce.py quick checkpoint and the --seed of its run (repeatable)")
    parser.add_argument("--seeds", type=int, default=5, help="k-means and SCAN seeds per row")
    parser.add_argument("--pixel-dims", type=int, nargs="+", default=[10, 32],
                        help="principal components of the canonicalised pixels (one baseline row set per value)")
    parser.add_argument("--noise", type=float, default=0.0, metavar="SIGMA",
                        help="the --noise of the reproduce.py runs: the same noisy images, pixels canonicalised with denoise='auto'")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for seed, path in args.checkpoint:
        settings = resolve_settings(build_parser().parse_args(["quick", "--seed", str(seed), "--noise", repr(args.noise)]))
        train, test = load_data(settings)
        model = IRLINR.load(path).eval()
        log(f"seed {seed}: {path}")
        z_train = encode_all(model, train.images, batch_size=256).z
        z_test = encode_all(model, test.images, batch_size=256).z
        rule = model.config.canonical_rule
        log(f"seed {seed}, z")
        code_rows = rows_for(z_train, z_test, test.labels, settings, args.seeds)
        denoise = "auto" if args.noise else "none"
        canonical = [canonicalize(d.images, rule, denoise=denoise).flatten(1).double() for d in (train, test)]
        pixel_rows: dict[str, Any] = {}
        for dims in args.pixel_dims:
            pca = PCAWhitening(dims=dims).fit(canonical[0])  # projected, not whitened: whitening is a preparation below
            pixels = [(pca.transform(c) * pca.scale).float() for c in canonical]
            log(f"seed {seed}, {rule}-canonicalised pixels (denoise {denoise!r}), {dims} principal components")
            pixel_rows[str(dims)] = rows_for(pixels[0], pixels[1], test.labels, settings, args.seeds)
        (unit_test,) = prepared("centred, unit length", z_test, z_test)
        runs.append({"seed": seed, "checkpoint": str(path), "rule": rule, "z": code_rows, "pixels": pixel_rows,
                     "ward_unit_length_confusion": matched_confusion(test.labels, agglomerative(unit_test, NUM_CLASSES, linkage="ward"))})
    record = {**run_record(torch.device("cpu"), script="code_geometry.py", argv=argv), "pixel_dims": args.pixel_dims, "noise": args.noise,
              "seeds": args.seeds, "runs": runs, "seconds": time.perf_counter() - started}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "results.json", record)
    (args.out / "results.md").write_text(markdown(record))
    print(markdown(record))
    return record


def matched_confusion(labels: Tensor, assignments: Tensor) -> list[list[int]]:
    """Class (row) by cluster (column) counts, each cluster's column placed at its Hungarian-matched class."""
    mapping = match_clusters(labels, assignments)
    relabelled = torch.tensor([mapping[int(c)] for c in assignments])
    return confusion_matrix(labels, relabelled, num_classes=NUM_CLASSES, num_clusters=NUM_CLASSES).tolist()


def _run_name(checkpoint: str) -> str:
    """The run folder of a ``reproduce.py`` checkpoint (``OUT/ckpt_<tag>/last.pt`` -> ``OUT``'s name), else the file."""
    path = Path(checkpoint)
    return path.parent.parent.name if path.parent.name.startswith("ckpt_") else path.name


def _cell(summary: dict[str, Any]) -> str:
    entry = summary["accuracy"]
    return f"{100 * entry['mean']:.1f}" + (f" ± {100 * entry['std']:.1f}" if summary.get("runs", 1) > 1 else "")


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "# Preparing the code for clustering: as it is, PCA-whitened, centred and unit length (MNIST(U), quick split)",
        "",
        f"{provenance_line(record)}; {record['seconds']:.0f} s. Noise {record.get('noise', 0.0):g}"
        f"{' (pixels canonicalised with denoise=auto)' if record.get('noise') else ''}. Test accuracy in % on 2,000 images; k-means and SCAN ± over {record['seeds']} seeds, Ward one run.",
        "",
        "| split seed | features | preparation | k-means | Ward | SCAN (features mode) |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for run in record["runs"]:
        sources = [(f"z (learned, `{_run_name(run['checkpoint'])}`)", run["z"])] + [
            (f"`{run['rule']}`-canonicalised pixels, {dims} PCs (no learning)", rows) for dims, rows in run["pixels"].items()]
        for label, rows in sources:
            for name, row in rows.items():
                lines.append(f"| {run['seed']} | {label} | {name} | {_cell(row['kmeans'])} | {_cell(row['agglomerative'])} | {_cell(row['scan'])} |")
    for run in record["runs"]:
        matrix = run.get("ward_unit_length_confusion")
        if matrix:
            lines += ["", f"Ward on centred, unit-length z, split seed {run['seed']}: test images of each digit (row) in each "
                      "cluster (column, placed at its matched digit; the diagonal is correct).", "",
                      "| digit | " + " | ".join(str(j) for j in range(len(matrix))) + " |",
                      "|---:|" + "---:|" * len(matrix)]
            lines += [f"| {i} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(matrix)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
