#!/usr/bin/env python
"""Levers of SCAN on a trained model: where the neighbours come from, and fine-tuning the encoder (appendix C).

Takes a model trained by ``benchmarks/reproduce.py quick`` (its checkpoint ``OUT/ckpt_<tag>/last.pt``)
and, on the same seeded MNIST(U) split (10,000 training / 2,000 test images):

1. **Neighbour sources.** The 20-nearest-neighbour purity (the fraction of a sample's neighbours
   that share its label) on the training images for raw pixels, pixels canonicalised by the model's
   rule, ``z`` and PCA-whitened ``z``: SCAN learns from these neighbours, so their purity bounds
   what it can reach.
2. **SCAN on the code, features mode** (the head alone, ``reproduce.py``'s settings): the reference,
   on ``z`` or whitened ``z`` (``--code``; ``auto`` leaves the codes of ``consistency="infonce"``
   unwhitened), with the neighbours mined from that code (the default), from the canonicalised pixels, or
   from their 64 principal components; and the no-learning baseline, SCAN on the 64 principal
   components of the canonicalised pixels, with the same three neighbour sources (``--seeds`` seeds).
3. **SCAN through the encoder**, images augmented by a random rotation and translation (the
   paper's "R + T"; with ``--augment nuisance`` followed by the training preset's nuisance
   deformation, a strong augmentation in the place of the paper's S1 + S2), the encoder followed
   (``--code whitened``) by the whitening fitted on the training codes (a fixed linear map), for
   ``--epochs`` clustering and ``--self-label-epochs`` self-labelling epochs:
   once with the encoder frozen and once fine-tuned at ``--encoder-lr`` (the head at ``--lr``).

Every accuracy is on the 2,000 test images (Hungarian matching). Writes ``OUT/results.json`` and
``OUT/results.md`` with the command, machine, date and wall times.

Usage::

    python benchmarks/scan_levers.py /work/exp/dsweep/ckpt_moments_d32/last.pt --out benchmarks/results/scan_levers
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from invariant_inr import IRLINR
from invariant_inr.augment import NuisanceAugment
from invariant_inr.center import canonicalize
from invariant_inr.cluster import SCAN, PCAWhitening, mine_neighbors, random_rotate_translate
from invariant_inr.inference import encode_all

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _run_record import provenance_line, run_record, write_json  # noqa: E402
from reproduce import NUM_CLASSES, SCAN_DEFAULTS, build_parser, load_data, log, resolve_settings, scores, summarize  # noqa: E402


class PlainCode(nn.Module):
    """``model.encode(x).z``: the features SCAN sees when the codes are clustered unwhitened."""

    def __init__(self, model: IRLINR) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> Tensor:
        return self.model.encode(images).z


class WhitenedCode(nn.Module):
    """``model.encode(x).z`` followed by a fixed PCA whitening: the features SCAN sees, differentiable."""

    def __init__(self, model: IRLINR, whitening: PCAWhitening) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", whitening.mean.float())
        self.register_buffer("projection", (whitening.components.T / whitening.scale).float())  # (D, D')

    def forward(self, images: Tensor) -> Tensor:
        return (self.model.encode(images).z - self.mean) @ self.projection


def parse_heads(text: str) -> list[int | None]:
    """``"linear,256"`` -> ``[None, 256]``: the ``head_hidden`` of each features-mode SCAN row."""
    heads: list[int | None] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        if item == "linear":
            heads.append(None)
        elif item.isdigit() and int(item) > 0:
            heads.append(int(item))
        else:
            raise argparse.ArgumentTypeError(f"expected 'linear' or a positive hidden width, got {item!r}")
    return heads


def head_name(head_hidden: int | None) -> str:
    return "linear" if head_hidden is None else f"MLP, {head_hidden} hidden"


def purity_of(neighbours: Tensor, labels: Tensor) -> float:
    """Fraction of the mined neighbours ``(N, k)`` of each sample that share its label."""
    return float((labels[neighbours] == labels[:, None]).double().mean())


def scan_augmentation(name: str, strength: float, seed: int) -> Callable[[Tensor], Tensor] | None:
    """SCAN's image augmentation: ``"rt"`` (its default, R + T) or ``"nuisance"`` (R + T, then the
    training preset's nuisance deformation in image space; the rule re-canonicalises the rotation)."""
    if name == "rt":
        return None
    deform = NuisanceAugment(strength)
    generator = torch.Generator().manual_seed(seed + 2)

    def augment(images: Tensor) -> Tensor:
        return deform(random_rotate_translate(images, generator=generator), generator=generator)

    return augment


def run_scan_encoder(model: IRLINR, whitening: PCAWhitening | None, train: Any, test: Any, options: dict[str, Any],
                     finetune: bool, seed: int, augment: Callable[[Tensor], Tensor] | None = None) -> dict[str, Any]:
    """SCAN through the (frozen or fine-tuned) encoder, from a fresh copy of the trained model."""
    state = {key: value.clone() for key, value in model.state_dict().items()}
    encoder = PlainCode(model) if whitening is None else WhitenedCode(model, whitening)
    scan = SCAN(NUM_CLASSES, seed=seed, finetune_encoder=finetune, augment=augment, **options)
    start = time.perf_counter()
    try:
        scan.fit(train.images, encoder=encoder)
        encoder.eval()
        predictions = scan.predict(test.images)
    finally:
        model.load_state_dict(state)  # the next variant starts from the same trained model
        model.eval()
    return {"seconds": time.perf_counter() - start, **scores(test.labels, predictions),
            "history": scan.history_, "options": {**options, "finetune_encoder": finetune}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a model or training checkpoint of reproduce.py quick")
    parser.add_argument("--seed", type=int, default=0, help="the --seed of the reproduce.py run (its split)")
    parser.add_argument("--noise", type=float, default=0.0, help="the --noise of the reproduce.py run")
    parser.add_argument("--epochs", type=int, default=4, help="SCAN clustering epochs through the encoder")
    parser.add_argument("--self-label-epochs", type=int, default=2, help="self-labelling epochs through the encoder")
    parser.add_argument("--lr", type=float, default=1e-2, help="learning rate of the clustering head")
    parser.add_argument("--encoder-lr", type=float, default=1e-4, help="learning rate of the fine-tuned encoder")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=5, help="SCAN seeds of each features-mode row")
    parser.add_argument("--heads", type=parse_heads, default=[None, 256],
                        help="comma-separated heads of the features-mode rows: 'linear' or a hidden width (default linear,256)")
    parser.add_argument("--variants", default="frozen,finetuned", help="comma-separated: frozen, finetuned")
    parser.add_argument("--code", choices=("auto", "z", "whitened"), default="auto",
                        help="the code SCAN trains on: z, PCA-whitened z, or auto (z for a model trained with "
                             "consistency='infonce', whose codes cluster best unwhitened; whitened otherwise)")
    parser.add_argument("--augment", choices=("rt", "nuisance"), default="rt",
                        help="SCAN's image augmentation through the encoder: R + T (its default), or R + T then "
                             "the model's nuisance deformation (NuisanceAugment at the model's augment_strength, or 1)")
    parser.add_argument("--skip-features-mode", action="store_true", help="only the purity and the encoder rows")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = resolve_settings(build_parser().parse_args(["quick", "--seed", str(args.seed), "--noise", str(args.noise)]))
    started = time.perf_counter()
    times: dict[str, float] = {}
    train, test = load_data(settings)
    model = IRLINR.load(args.checkpoint).eval()
    rule = model.config.canonical_rule
    t = time.perf_counter()
    z_train = encode_all(model, train.images, batch_size=256).z
    z_test = encode_all(model, test.images, batch_size=256).z
    times["encode train + test"] = time.perf_counter() - t
    whitening = PCAWhitening().fit(z_train.double())
    code = args.code if args.code != "auto" else ("z" if model.config.consistency == "infonce" else "whitened")
    code_name = "z" if code == "z" else "PCA-whitened z"

    t = time.perf_counter()
    k = SCAN_DEFAULTS["num_neighbors"]
    canonical = canonicalize(train.images, rule).flatten(1)
    canonical_test = canonicalize(test.images, rule).flatten(1)
    pixels_pca = PCAWhitening(dims=64).fit(canonical.double())
    pixel_components = (  # projected, not whitened: the best pixel SCAN setting of pixel_baselines.py
        (pixels_pca.transform(canonical.double()) * pixels_pca.scale).float(),
        (pixels_pca.transform(canonical_test.double()) * pixels_pca.scale).float())
    whitened_z = (whitening.transform(z_train.double()).float(), whitening.transform(z_test.double()).float())
    code_features = (z_train, z_test) if code == "z" else whitened_z
    features = {  # name: (train, test) features the head is trained on
        code_name: code_features,
        f"{rule}-canonicalised pixels, 64 principal components (no learning)": pixel_components,
    }
    # each neighbour graph is mined once: its purity is reported and SCAN trains on it
    neighbour_sources = {code_name: mine_neighbors(code_features[0], k),
                         f"{rule}-canonicalised pixels": mine_neighbors(canonical, k),
                         "64 principal components of those": mine_neighbors(pixel_components[0], k)}
    code_graphs = {"z": z_train, "PCA-whitened z": whitened_z[0]}  # the one SCAN trains on is mined already
    purity = {"raw pixels": purity_of(mine_neighbors(train.images.flatten(1), k), train.labels),
              f"{rule}-canonicalised pixels": purity_of(neighbour_sources[f"{rule}-canonicalised pixels"], train.labels),
              **{name: purity_of(neighbour_sources[name] if name == code_name else mine_neighbors(codes, k), train.labels)
                 for name, codes in code_graphs.items()}}
    times["20-NN purity"] = time.perf_counter() - t
    for name, value in purity.items():
        log(f"20-NN purity, {name}: {value:.4f}")

    t = time.perf_counter()
    features_results: list[dict[str, Any]] = []
    for head_hidden in [] if args.skip_features_mode else args.heads:
        for feature_name, (f_train, f_test) in features.items():
            for source, neighbours in neighbour_sources.items():
                runs = [
                    scores(test.labels, SCAN(NUM_CLASSES, seed=s, head_hidden=head_hidden, **SCAN_DEFAULTS)
                           .fit(f_train, neighbors=neighbours).predict(f_test))
                    for s in range(args.seeds)
                ]
                row = {"features": feature_name, "neighbours": source, "head_hidden": head_hidden, **summarize(runs)}
                features_results.append(row)
                log(f"SCAN ({head_name(head_hidden)} head) on {feature_name}, neighbours from {source}: accuracy "
                    f"{100 * row['accuracy']['mean']:.1f} ± {100 * row['accuracy']['std']:.1f}")
    times["SCAN features mode"] = time.perf_counter() - t

    options = {**SCAN_DEFAULTS, "epochs": args.epochs, "self_label_epochs": args.self_label_epochs, "lr": args.lr,
               "batch_size": args.batch_size, "encoder_lr": args.encoder_lr}
    encoder_results: dict[str, Any] = {}
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if variant not in ("frozen", "finetuned"):
            raise SystemExit(f"--variants: expected frozen and/or finetuned, got {variant!r}")
        log(f"SCAN through the encoder, {variant}: {args.epochs} + {args.self_label_epochs} epochs")
        augment = scan_augmentation(args.augment, model.config.augment_strength or 1.0, args.seed)
        encoder_results[variant] = run_scan_encoder(model, whitening if code == "whitened" else None, train, test,
                                                    options, variant == "finetuned", args.seed, augment)
        times[f"SCAN through the encoder, {variant}"] = encoder_results[variant]["seconds"]
        log(f"  accuracy {encoder_results[variant]['accuracy']:.4f} in {encoder_results[variant]['seconds']:.0f} s")
    times["total"] = time.perf_counter() - started

    record = {**run_record(torch.device("cpu"), script="scan_levers.py", argv=argv), "checkpoint": str(args.checkpoint), "split_seed": args.seed, "noise": args.noise,
              "code": code_name, "augment": args.augment,
              "neighbour_purity_20nn_train": purity, "scan_features_mode": features_results,
              "scan_through_encoder": encoder_results, "wall_times": times}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "results.json", record)
    (args.out / "results.md").write_text(markdown(record))
    print(markdown(record))
    return record


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "# SCAN levers: neighbour sources and encoder fine-tuning (MNIST(U), quick split)",
        "",
        f"{provenance_line(record)}.",
        f"Model: `{record['checkpoint']}`; split seed {record['split_seed']}, noise {record['noise']}; "
        f"SCAN on {record.get('code', 'PCA-whitened z')}, augmentation through the encoder: "
        f"{'R + T then the nuisance deformation' if record.get('augment') == 'nuisance' else 'R + T'}.",
        "",
        "| 20-NN purity on the 10,000 training images | purity |",
        "|---|---:|",
        *(f"| {name} | {100 * value:.1f} % |" for name, value in record["neighbour_purity_20nn_train"].items()),
        "",
        f"| SCAN, features mode ({SCAN_DEFAULTS['epochs']} + {SCAN_DEFAULTS['self_label_epochs']} epochs; test accuracy, "
        "2,000 images) | neighbours from | head | accuracy | NMI |",
        "|---|---|---|---:|---:|",
        *(f"| {row['features']} | {row['neighbours']} | {head_name(row['head_hidden'])} | "
          f"{100 * row['accuracy']['mean']:.1f} ± {100 * row['accuracy']['std']:.1f} % | {row['nmi']['mean']:.3f} |"
          for row in record["scan_features_mode"]),
    ]
    if record["scan_through_encoder"]:
        lines += ["", "| SCAN through the encoder (test accuracy, 2,000 images, one seed) | accuracy | NMI | ARI | seconds |",
                  "|---|---:|---:|---:|---:|"]
    for variant, result in record["scan_through_encoder"].items():
        o = result["options"]
        lines.append(
            f"| through the encoder, {variant} ({o['epochs']} + {o['self_label_epochs']} epochs, "
            f"{'R + T + nuisance' if record.get('augment') == 'nuisance' else 'R + T'}, head lr {o['lr']}"
            + (f", encoder lr {o['encoder_lr']}" if variant == "finetuned" else "")
            + f") | {100 * result['accuracy']:.1f} % | {result['nmi']:.3f} | {result['ari']:.3f} | {result['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
