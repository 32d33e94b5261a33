#!/usr/bin/env python
r"""How model options change the quality of ``z`` on MNIST(U) for a fixed training time.

Each variant is the ``mnist-quick`` preset with some options replaced; all variants train on the
same 10,000 MNIST(U) training images (seed 0) with Adam (lr 1e-3, batch 64) for ``--budget``
seconds, and are evaluated on the same 2,000 test images (seed 1) after each third of the budget:

* ``kmeans``: k-means accuracy on ``z`` (10 clusters, best of 10 k-means++ inits, one seed);
* ``knn20``: the fraction of each test image's 20 nearest neighbours in ``z`` (Euclidean) that
  share its label: the purity SCAN's neighbour mining starts from.

Before training, each run also records the same two figures for the untrained model (batch
statistics of ``z`` taken on the test images, on a copy) and, for reference, the 20-NN purity of
the test pixels canonicalised by the ``moments`` rule.

Variants (``--variants``, comma-separated; default ``plain,augment``)::

    plain            the preset without nuisance deformation (augment_strength = 0)
    plain-lr3e-3     the same with Adam's learning rate 3e-3
    augment          the preset as it is (augment_strength = 1)
    augment-strong   a stronger recipe: rotation 30 deg, scale 0.25, shear 0.5, shifts 0.08
    augment-weak     a weaker one without thickening: rotation 12 deg, scale 0.12, shear 0.25
    augment-flip     strength 1 plus a random half turn with probability 0.5
    augment-mse      strength 1 with the mean-squared consistency instead of the cosine
    consis-x3        strength 1 with the consistency weight 3
    shift            strength 1, modulated INR: the hypernetwork emits per-layer shifts only
                     (``hypernetwork="shift"``, shared INR weights; see invariant_inr.modulated)
    scale-shift      strength 1, modulated INR with per-layer scales and shifts (FiLM)
    shift-b128       ``shift`` with batch 128 and an eighth of the pixels (the same INR work per
                     step as batch 64 with a quarter, twice the images)
    shift-b256       ``shift`` with batch 256 and a sixteenth of the pixels
    shift-lr3e-3     ``shift`` with Adam's learning rate 3e-3

Usage::

    python benchmarks/z_ablation.py --budget 600 --threads 1 --variants plain,augment --out benchmarks/results/z_ablation

With ``--step-times ROUNDS`` nothing is evaluated: the listed variants take training steps in turn
(one step each per round, the order rotating, after one warm-up step each) on the same machine at
the same time, and ``OUT/step_times.json`` gets each one's median seconds per step and its ratio
to the first variant: speed ratios that a changing load on a shared machine does not bias.

Run variants as separate processes to use the cores in parallel (``--threads 1`` each); the JSON
output of each goes to ``OUT/<variant>.json``. Steps, not seconds, are what to compare across
variants: the step counts are recorded beside every evaluation. Beside them: the training seconds
alone (``train_seconds``, evaluation excluded), seconds per step, images seen and the machine's
1-minute load average, so variants of different speed can be compared at the same time budget
(quality per minute) when they ran one at a time on an equally loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from copy import deepcopy
from pathlib import Path
from typing import Any

import torch

from invariant_inr import IRLINR, NuisanceAugment, fit
from invariant_inr._environment import machine_info
from invariant_inr.center import canonicalize
from invariant_inr.cluster import kmeans, mine_neighbors
from invariant_inr.datasets import MNISTU
from invariant_inr.inference import encode_all
from invariant_inr.metrics import clustering_accuracy
from invariant_inr.presets import preset

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_ROOT = REPO_ROOT.parent / "shared" / "data" / "mnist"

VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"augment_strength": 0.0},
    "plain-lr3e-3": {"augment_strength": 0.0, "_lr": 3e-3},
    "augment": {"augment_strength": 1.0},
    "augment-strong": {"augment_strength": 1.0, "_augment": dict(rotation_deg=30.0, scale=0.25, shear=0.5, shift=0.08)},
    "augment-weak": {"augment_strength": 1.0, "_augment": dict(rotation_deg=12.0, scale=0.12, shear=0.25, thicken=0.0)},
    "augment-flip": {"augment_strength": 1.0, "_augment": dict(flip=0.5)},
    "augment-mse": {"augment_strength": 1.0, "consistency": "mse"},
    "consis-x3": {"augment_strength": 1.0, "lambda_consis": 3.0},
    "shift": {"augment_strength": 1.0, "hypernetwork": "shift"},
    "scale-shift": {"augment_strength": 1.0, "hypernetwork": "scale_shift"},
    "shift-b128": {"augment_strength": 1.0, "hypernetwork": "shift", "pixel_fraction": 0.125, "_batch_factor": 2},
    "shift-b256": {"augment_strength": 1.0, "hypernetwork": "shift", "pixel_fraction": 0.0625, "_batch_factor": 4},
    "shift-lr3e-3": {"augment_strength": 1.0, "hypernetwork": "shift", "_lr": 3e-3},
}
"""Options replaced in the ``mnist-quick`` preset; ``_augment`` replaces components of the strength-1
:class:`~invariant_inr.NuisanceAugment` recipe (the config cannot name them), ``_lr`` Adam's rate, ``_batch_factor`` multiplies the batch size (64 by default)."""
LEARNING_RATE = 1e-3  # the preset's training rate


def neighbour_purity(z: torch.Tensor, labels: torch.Tensor, k: int = 20) -> float:
    """Fraction of the ``k`` nearest neighbours (Euclidean) with the same label."""
    neighbours = mine_neighbors(z.double(), k, metric="euclidean")  # (N, k)
    return float((labels[neighbours] == labels[:, None]).double().mean())


def evaluate(model: IRLINR, test: MNISTU, seed: int) -> dict[str, float]:
    """k-means accuracy and 20-NN purity of the test ``z``."""
    z = encode_all(model, test.images, batch_size=256).z
    predictions = kmeans(z, 10, num_init=10, seed=seed).assignments
    return {"kmeans": clustering_accuracy(test.labels, predictions), "knn20": neighbour_purity(z, test.labels)}


def untrained_figures(model: IRLINR, test: MNISTU, seed: int) -> dict[str, float]:
    """:func:`evaluate` on a copy of the untrained model whose ``z`` statistics come from ``test``."""
    copy = deepcopy(model).train()
    with torch.no_grad():
        for start in range(0, len(test), 250):  # BatchNorm running statistics of z (momentum 0.1)
            copy.encode(test.images[start : start + 250])
    return evaluate(copy, test, seed)


def build_model(variant: str, seed: int, *, image_size: int = 50, overrides: dict[str, Any] | None = None) -> IRLINR:
    overrides = overrides or {}
    options = {**preset("mnist-quick"), **{k: v for k, v in VARIANTS[variant].items() if not k.startswith("_")}, **overrides}
    model = IRLINR(1, image_size, seed=seed, **options)
    if "_augment" in VARIANTS[variant]:  # a recipe the config cannot name: replace the module
        model.augment = NuisanceAugment(model.config.augment_strength, **VARIANTS[variant]["_augment"])
    return model


def run(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    common = dict(size=args.image_size, translation_std_pixels=5.0, subset="random")
    train = MNISTU(args.mnist_root, "train", num_samples=args.train_size, seed=args.seed, **common)
    test = MNISTU(args.mnist_root, "test", num_samples=args.test_size, seed=args.seed + 1, **common)
    model = build_model(variant, args.seed, image_size=args.image_size, overrides=json.loads(args.model_overrides))
    optimizer = torch.optim.Adam(model.parameters(), lr=VARIANTS[variant].get("_lr", LEARNING_RATE))
    batch_size = args.batch_size * VARIANTS[variant].get("_batch_factor", 1)
    record: dict[str, Any] = {
        "variant": variant,
        "options": VARIANTS[variant],
        "config": model.config.to_dict(),
        "untrained": untrained_figures(model, test, args.seed),
        "moments_pixels_knn20": neighbour_purity(canonicalize(test.images, "moments").flatten(1), test.labels),
        "batch_size": batch_size,
        "load_average_1min_before": os.getloadavg()[0],
        "evaluations": [],
    }
    steps, train_seconds, start = 0, 0.0, time.perf_counter()
    for third in range(3):
        fit_start = time.perf_counter()
        history = fit(
            model, train.images, epochs=10**6, batch_size=batch_size, optimizer=optimizer, max_steps_per_epoch=args.chunk_steps,
            time_limit=args.budget / 3, seed=args.seed + third, progress=False,
        )
        train_seconds += time.perf_counter() - fit_start
        steps += args.chunk_steps * history.epochs
        evaluation = {
            "seconds": round(time.perf_counter() - start, 1),
            "train_seconds": round(train_seconds, 1),
            "steps": steps,
            "images_seen": steps * batch_size,
            "seconds_per_step": round(train_seconds / steps, 3),
            "load_average_1min": os.getloadavg()[0],
            "recon": history["recon"][-1],
            "consis": history["consis"][-1],
            **evaluate(model, test, args.seed),
        }
        record["evaluations"].append(evaluation)
        print(variant, json.dumps(evaluation), flush=True)
    return record


def step_times(variants: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Median seconds of one training step (loss, backward, Adam) per variant, steps interleaved."""
    train = MNISTU(args.mnist_root, "train", num_samples=args.train_size, seed=args.seed, size=args.image_size,
                   translation_std_pixels=5.0, subset="random")
    overrides = json.loads(args.model_overrides)
    models = {variant: build_model(variant, args.seed, image_size=args.image_size, overrides=overrides) for variant in variants}
    optimizers = {v: torch.optim.Adam(m.parameters(), lr=VARIANTS[v].get("_lr", LEARNING_RATE)) for v, m in models.items()}
    generator = torch.Generator().manual_seed(args.seed)
    seconds: dict[str, list[float]] = {variant: [] for variant in variants}
    load = [os.getloadavg()[0]]
    for round_index in range(args.step_times + 1):  # round 0 is the warm-up
        shift = round_index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            batch = args.batch_size * VARIANTS[variant].get("_batch_factor", 1)
            images = train.images[torch.randint(len(train), (batch,), generator=generator)]
            start = time.perf_counter()
            parts = models[variant].loss(images, generator=generator)
            optimizers[variant].zero_grad(set_to_none=True)
            parts.total.backward()
            optimizers[variant].step()
            if round_index > 0:
                seconds[variant].append(time.perf_counter() - start)
        load.append(os.getloadavg()[0])
    medians = {variant: statistics.median(times) for variant, times in seconds.items()}
    first = variants[0]
    return {
        "rounds": args.step_times,
        "variants": {
            variant: {
                "batch_size": args.batch_size * VARIANTS[variant].get("_batch_factor", 1),
                "parameters": sum(p.numel() for p in models[variant].parameters()),
                "median_seconds_per_step": round(medians[variant], 4),
                "ratio_to_" + first: round(medians[variant] / medians[first], 3),
                "seconds": [round(t, 4) for t in seconds[variant]],
            }
            for variant in variants
        },
        "load_average_1min": load,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="plain,augment", help=f"comma-separated, from {sorted(VARIANTS)}")
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per variant (default 600)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step-times", type=int, default=0, metavar="ROUNDS",
                        help="only time interleaved training steps of the variants, ROUNDS each (see above)")
    parser.add_argument("--mnist-root", type=Path, default=DEFAULT_MNIST_ROOT)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "z_ablation")
    parser.add_argument("--train-size", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument("--test-size", type=int, default=2_000, help=argparse.SUPPRESS)
    # for the test-suite: a tiny model on fake data
    parser.add_argument("--image-size", type=int, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--chunk-steps", type=int, default=25, help=argparse.SUPPRESS)
    parser.add_argument("--model-overrides", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {sorted(VARIANTS)}")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/z_ablation.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.step_times > 0:
        record = step_times(variants, args)
        record.update(command=command, machine=machine_info(torch.device("cpu")), date=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (args.out / "step_times.json").write_text(json.dumps(record, indent=2))
        for variant, figures in record["variants"].items():
            print(variant, figures["median_seconds_per_step"], figures[f"ratio_to_{variants[0]}"], flush=True)
        return
    for variant in variants:
        record = run(variant, args)
        record.update(command=command, budget_seconds=args.budget, machine=machine_info(torch.device("cpu")),
                      date=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (args.out / f"{variant}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
