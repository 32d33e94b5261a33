#!/usr/bin/env python
r"""Do ``IRLINR(in_channels, image_size, latent_dim)`` and ``fit()``'s defaults train in minutes on a CPU? (issue 11)

Protocol. ``--num-train`` built-in sprites (32 x 32, squares, ellipses and hearts at random scale,
rotation and translation; :func:`~invariant_inr.datasets.make_sprites`, seed 0) train a model built
with nothing but ``IRLINR(1, 32, --latent-dim, **overrides)`` for ``--budget`` seconds with
``fit(model, images, epochs=1000, time_limit=budget)`` and every other ``fit`` argument at its
default. ``--num-test`` other sprites (seed 1) and their upright, centred copies
(``base_images()``) then give:

* **pose**: the applied rotation recovered from the two encoded poses
  (:func:`~invariant_inr.metrics.relative_pose`, :func:`~invariant_inr.metrics.pose_recovery`),
  median error modulo each shape's own symmetry (square 90 deg, ellipse 180, heart 360);
* **code**: mean cosine of ``z`` between an image and its upright copy (*same*) and between
  different images (*other*), both after removing the mean code (so a shared offset does not count
  as agreement); a collapsed code has *other* close to *same*;
* **clusters**: k-means accuracy of ``z`` against the three shapes (best of 10 inits), and of
  PCA-whitened ``z`` (:func:`~invariant_inr.cluster.whiten`) beside the no-learning baseline of the
  same step, k-means on the 10 whitened principal components of the test sprites canonicalised by
  the model's rule (as ``invariant-inr demo`` reports it); and k-means on ``z`` centred and scaled to
  unit length (:func:`~invariant_inr.cluster.l2_normalize`) beside the same baseline prepared so.

Each ``--variant`` is a name and JSON overrides of the model (``{}``: the defaults); a ``"fit"``
entry in them overrides ``fit`` arguments instead (``{"fit": {"lr_schedule": "cosine"}}``). With
``--preset NAME`` the model starts from that preset (:mod:`invariant_inr.presets`) and ``fit`` gets
its training settings, so a preset change can be checked on data nobody tunes on; ``--seeds`` trains
each variant once per seed (model and training seed; the data stay the same). Usage::

    python benchmarks/defaults_check.py --budget 240 \
        --variant 'defaults={}' --variant 'paper={"pose_head": "mlp", "canonical_rule": "com"}'
    python benchmarks/defaults_check.py --preset quick --latent-dim 16 --budget 150 --seeds 0 1 \
        --variant 'cos={}' --variant 'infonce={"consistency": "infonce"}'
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from invariant_inr import IRLINR, fit, make_sprites
from invariant_inr._environment import machine_info
from invariant_inr.center import canonicalize
from invariant_inr.cluster import PCAWhitening, kmeans, l2_normalize, whiten
from invariant_inr.inference import encode_all
from invariant_inr.metrics import clustering_accuracy, code_invariance, pose_recovery, relative_pose
from invariant_inr.presets import preset, training_preset

REPO_ROOT = Path(__file__).resolve().parents[1]
SYMMETRY_ORDER = {"square": 4, "ellipse": 2, "heart": 1}


def run_variant(name: str, overrides: dict[str, Any], args: argparse.Namespace, seed: int = 0) -> dict[str, Any]:
    train = make_sprites(args.num_train, size=32, seed=0)
    test = make_sprites(args.num_test, size=32, seed=1)
    model_overrides = {key: value for key, value in overrides.items() if key != "fit"}
    model_kwargs = {**(preset(args.preset) if args.preset else {}), "latent_dim": args.latent_dim, **model_overrides}
    fit_kwargs = {**(training_preset(args.preset) if args.preset else {}), **overrides.get("fit", {})}
    model = IRLINR(1, 32, seed=seed, **model_kwargs)
    start = time.perf_counter()
    history = fit(model, train.images, epochs=1000, time_limit=args.budget, progress=False, seed=seed, **fit_kwargs)
    seconds = time.perf_counter() - start
    moved, base = encode_all(model, test.images, batch_size=256), encode_all(model, test.base_images(), batch_size=256)
    theta_hat, tau_hat = relative_pose(base.theta.double(), base.tau.double(), moved.theta.double(), moved.tau.double())
    order = torch.tensor([SYMMETRY_ORDER[test.shapes[int(label)]] for label in test.labels], dtype=torch.float64)
    period = 2 * math.pi / order
    error = torch.remainder(theta_hat - test.theta.double() + period / 2, period) - period / 2
    figures = pose_recovery(test.theta.double(), test.tau.double(), theta_hat, tau_hat).as_dict()
    classes = len(test.shapes)
    assignments = kmeans(moved.z, classes, num_init=10, seed=0).assignments
    whitened = kmeans(whiten(moved.z), classes, num_init=10, seed=0).assignments
    normalized = kmeans(l2_normalize(moved.z), classes, num_init=10, seed=0).assignments
    pixels = canonicalize(test.images, model.config.canonical_rule).flatten(1)  # type: ignore[arg-type]
    pca = PCAWhitening(dims=10).fit(pixels)  # the 10 principal components: whitened, or projected then centred at unit length
    baseline = kmeans(pca.transform(pixels), classes, num_init=10, seed=0).assignments
    baseline_unit = kmeans(l2_normalize(pca.transform(pixels) * pca.scale), classes, num_init=10, seed=0).assignments
    invariance = code_invariance(moved.z, base.z)  # centred: a shared offset is not agreement
    return {
        "seed": seed,
        "overrides": overrides,
        "config": model.config.to_dict(),
        "fit": fit_kwargs,
        "train_seconds": seconds,
        "epochs": history.epochs,
        "steps": history.epochs * math.ceil(args.num_train / fit_kwargs.get("batch_size", 128)),
        "final_losses": {key: values[-1] for key, values in history.items() if values and key != "epoch_time"},
        "rotation_median_error_mod_symmetry_deg": float(torch.rad2deg(error.abs()).median()),
        "translation_pearson": [figures["translation_pearson_x"], figures["translation_pearson_y"]],
        "cos_same_image": invariance.same_image,
        "cos_other_image": invariance.other_images,
        "kmeans_accuracy": clustering_accuracy(test.labels, assignments),
        "kmeans_whitened_accuracy": clustering_accuracy(test.labels, whitened),
        "kmeans_normalized_accuracy": clustering_accuracy(test.labels, normalized),
        "baseline_kmeans_whitened_canonical_pixels": clustering_accuracy(test.labels, baseline),
        "baseline_kmeans_unit_canonical_pixels": clustering_accuracy(test.labels, baseline_unit),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"  # records written before a column existed


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "# Do the defaults train? (sprites, CPU)",
        "",
        f"{record['about']}. Command: `{record['command']}`. Load average before the run: {record['load_average']}.",
        "",
        "| variant | seed | overrides | train s | epochs | rotation error (deg, mod symmetry) | translation r (x, y) | cos same | cos other "
        "| k-means acc | k-means, whitened z | k-means, centred unit-length z | baseline: whitened canonical pixels "
        "| baseline: same, centred unit length |",
        "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in record["variants"].items():
        tx, ty = r["translation_pearson"]
        name = key.rsplit("@seed", 1)[0]
        lines.append(
            f"| {name} | {r.get('seed', 0)} | `{json.dumps(r['overrides'])}` | {r['train_seconds']:.0f} | {r['epochs']} | "
            f"{r['rotation_median_error_mod_symmetry_deg']:.2f} | {tx:.3f}, {ty:.3f} | {r['cos_same_image']:.3f} | "
            f"{r['cos_other_image']:.3f} | {100 * r['kmeans_accuracy']:.1f} | {100 * r['kmeans_whitened_accuracy']:.1f} | "
            f"{_pct(r.get('kmeans_normalized_accuracy'))} | {100 * r['baseline_kmeans_whitened_canonical_pixels']:.1f} | "
            f"{_pct(r.get('baseline_kmeans_unit_canonical_pixels'))} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON", help="model overrides (repeatable)")
    parser.add_argument("--budget", type=float, default=240.0, help="training seconds per variant")
    parser.add_argument("--num-train", type=int, default=1800)
    parser.add_argument("--num-test", type=int, default=600)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--preset", default=None, help="start the model from this preset and train with its fit settings")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="model and training seeds (one run each)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "defaults_check")
    args = parser.parse_args(argv)
    variants: dict[str, dict[str, Any]] = {}
    for item in args.variant or ["defaults={}"]:
        name, sep, text = item.partition("=")
        try:
            overrides = json.loads(text) if sep else None
        except json.JSONDecodeError as error:
            parser.error(f"--variant {item!r}: the overrides are not JSON ({error})")
        if not name or not isinstance(overrides, dict):
            parser.error(f"--variant expects NAME=JSON-object, got {item!r}")
        variants[name] = overrides
    if args.threads:
        torch.set_num_threads(args.threads)
    record: dict[str, Any] = {
        "command": "python benchmarks/defaults_check.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "about": f"{args.num_train} training / {args.num_test} test sprites, 32 x 32, d = {args.latent_dim}, "
        f"{args.budget:.0f} s of fit() per variant and seed, {torch.get_num_threads()} threads"
        + (f", preset {args.preset!r} with its training settings" if args.preset else ", IRLINR and fit() defaults"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": machine_info(torch.device("cpu")),
        "variants": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, overrides in variants.items():
        for seed in args.seeds:
            key = name if args.seeds == [0] else f"{name}@seed{seed}"
            record["variants"][key] = run_variant(name, overrides, args, seed)
            (args.out / "results.json").write_text(json.dumps(record, indent=2) + "\n")  # after each run
            (args.out / "results.md").write_text(markdown(record))
            print(markdown(record), flush=True)
    return record


if __name__ == "__main__":
    main()
