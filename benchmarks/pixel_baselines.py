#!/usr/bin/env python
"""The best a user gets without our model on the quick MNIST(U) split: canonicalised pixels, PCA, whitening, SCAN.

Same split as ``benchmarks/reproduce.py quick --seed SEED`` (10,000 training / 2,000 test images,
subset seeds ``SEED`` / ``SEED + 1``, ``--noise`` as there). The test images are canonicalised by ``--rule`` (``denoise="auto"`` with
``--noise``) and reduced to ``k`` principal components (fitted on the training images), plain or
PCA-whitened; each is clustered by k-means (best of 10 inits, ``--seeds`` seeds) and by SCAN in
features mode (clustering head trained on the training images, scored on the test images, with
``reproduce.py``'s SCAN settings, ``--seeds`` seeds). Accuracy with Hungarian matching, mean ± std.

Usage::

    python benchmarks/pixel_baselines.py --out benchmarks/results/pose_600s/pixel_baselines.md
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from invariant_inr.center import canonicalize
from invariant_inr.cluster import SCAN, PCAWhitening, kmeans
from invariant_inr.metrics import clustering_accuracy

HERE = Path(__file__).resolve().parent


def _reproduce():
    spec = importlib.util.spec_from_file_location("invariant_inr_reproduce", HERE / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", default="moments")
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 16, 32, 64])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0, help="the --seed of the reproduce.py run whose split to use")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    reproduce = _reproduce()
    settings = {**reproduce.resolve_settings(reproduce.build_parser().parse_args(["quick", "--seed", str(args.seed)])), "noise": args.noise}
    train, test = reproduce.load_data(settings)
    denoise = "auto" if args.noise else "none"
    pixels = {name: canonicalize(data.images, args.rule, denoise=denoise).flatten(1).double() for name, data in (("train", train), ("test", test))}
    lines = [
        f"# Pixel baselines: `{args.rule}`-canonicalised pixels (denoise {denoise!r}, noise {args.noise:g}), quick MNIST(U) split (seed {args.seed})",
        "",
        f"Command: `python benchmarks/pixel_baselines.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        "| components | whitened | k-means on test | SCAN (train -> test) |",
        "|---:|---|---:|---:|",
    ]
    for dims in args.dims:
        pca = PCAWhitening(dims=dims).fit(pixels["train"])
        for whitened in (False, True):
            project = (lambda x: pca.transform(x)) if whitened else (lambda x: pca.transform(x) * pca.scale)
            a, b = project(pixels["train"]).float(), project(pixels["test"]).float()
            km = [clustering_accuracy(test.labels, kmeans(b, 10, num_init=10, seed=s).assignments) for s in range(args.seeds)]
            sc = []
            for s in range(args.seeds):
                scan = SCAN(10, seed=s, **settings["scan"])
                scan.fit(a)
                sc.append(clustering_accuracy(test.labels, scan.predict(b)))
            cell = lambda v: f"{100 * np.mean(v):.1f} ± {100 * np.std(v, ddof=1):.1f}"  # noqa: E731
            lines.append(f"| {dims} | {'yes' if whitened else 'no'} | {cell(km)} | {cell(sc)} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    return text


if __name__ == "__main__":
    main()
