#!/usr/bin/env python
"""Table 1 (pose recovery) of the canonical rules and of trained models, on the quick MNIST(U) test split.

The same split and figures as ``benchmarks/reproduce.py quick --seed SEED`` (2,000 test images,
subset seed ``SEED + 1``): the pose of ``g`` is recovered from the encoded poses of the un-posed
digit ``J0`` and of ``J = S_g[J0]`` (``reproduce.pose_figures``). Besides the rotation figures it
prints both translation figures: the Pearson of the parameter ``tau`` of ``S = R o T``, which a
half-turn error negates, and the Pearson of the displacement ``S_g(0) = R_theta tau``, which a
rotation error does not touch (``invariant_inr.metrics.pose_recovery``).

Usage::

    python benchmarks/pose_table.py --seeds 0 1 2 --model 0:OUT0/model_moments.pt --out pose_table.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from invariant_inr import IRLINR
from invariant_inr.center import CANONICAL_RULES, canonical_pose
from invariant_inr.inference import encode_all

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the helpers shared by the benchmark scripts

import reproduce  # noqa: E402


def _model_arg(text: str) -> tuple[int, Path]:
    seed, sep, path = text.partition(":")
    if not sep or not seed.strip().lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(f"expected SEED:PATH (e.g. 0:model.pt), got {text!r}")
    return int(seed), Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="split seeds (as reproduce.py --seed)")
    parser.add_argument("--rules", nargs="+", default=list(CANONICAL_RULES), choices=CANONICAL_RULES)
    parser.add_argument("--model", type=_model_arg, action="append", default=[], metavar="SEED:PATH",
                        help="a saved IRLINR scored on the split of SEED (repeatable)")
    parser.add_argument("--mnist-root", type=Path, default=reproduce.DEFAULT_MNIST_ROOT)
    parser.add_argument("--test-size", type=int, default=reproduce.PROTOCOLS["quick"]["test_size"],
                        help="test digits (default: the quick protocol's)")
    parser.add_argument("--image-size", type=int, default=reproduce.IMAGE_SIZE, help="image side in pixels (default: MNIST(U)'s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (markdown)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    lines = [
        "| pose | split seed | rotation Pearson | within 5 deg | tau Pearson x / y | displacement Pearson x / y |",
        "|---|---:|---:|---:|---|---|",
    ]

    def row(name: str, seed: int, f: dict[str, float]) -> None:
        lines.append(
            f"| {name} | {seed} | {f['rotation_pearson']:.4f} | {f['rotation_within_5deg']:.4f} | "
            f"{f['translation_pearson_x']:.4f} / {f['translation_pearson_y']:.4f} | "
            f"{f['displacement_pearson_x']:.5f} / {f['displacement_pearson_y']:.5f} |"
        )
        print(lines[-1], flush=True)

    for seed in sorted(set(args.seeds) | {s for s, _ in args.model}):
        # the split of `reproduce.py quick --seed SEED`; the training subset is not used, so keep it small
        settings = reproduce.resolve_settings(reproduce.build_parser().parse_args([
            "quick", "--seed", str(seed), "--mnist-root", str(args.mnist_root), "--train-size", "10",
            "--test-size", str(args.test_size), "--image-size", str(args.image_size),
        ]))
        _, test = reproduce.load_data(settings)
        base = reproduce.reference_digits(test, settings)
        if seed in args.seeds:
            for rule in args.rules:
                row(f"`{rule}` rule", seed, reproduce.pose_figures(
                    test.theta, test.tau, canonical_pose(base, rule), canonical_pose(test.images, rule)))
        for model_seed, path in args.model:
            if model_seed != seed:
                continue
            model = IRLINR.load(path).eval()
            moved, unposed = encode_all(model, test.images, batch_size=256), encode_all(model, base, batch_size=256)
            row(f"model `{path}`", seed, reproduce.pose_figures(
                test.theta, test.tau, (unposed.theta, unposed.tau), (moved.theta, moved.tau)))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/pose_table.py " + " ".join(sys.argv[1:] if argv is None else argv)
        args.out.write_text(f"# Pose recovery, quick MNIST(U) test split\n\nCommand: `{command}`\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
