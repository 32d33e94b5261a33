#!/usr/bin/env python
r"""Where the ``"harmonic"`` rule loses under noise: which harmonic each noisy copy chose (issue 11).

Protocol: ``--num-samples`` MNIST(U) test digits of split ``--seed`` (translations of 5 pixels), the
un-posed digit and its moved copy each with Gaussian noise of standard deviation ``--sigma`` (one
draw from ``torch.Generator().manual_seed(0)``, as ``noise_pose.py`` does), both rules with
``denoise="auto"``. For every pair of chosen harmonic orders (the lowest order whose relative size
exceeds ``HARMONIC_THRESHOLD``, computed here from the harmonics, whatever the rule then does), the
median rotation error of the ``harmonic`` and ``moments`` rules.

The figures of ``docs/results.md`` (update 2026-12-04: 136 pairs that chose orders 1 and 2, median
error 25 deg) describe the rule as it was before that change; to reproduce them, run this script
with ``src/`` of commit ``4ba2167``::

    python benchmarks/harmonic_orders.py --sigma 0.4 --seed 0
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from invariant_inr import center
from invariant_inr.datasets import MNISTU
from invariant_inr.foreground import foreground_weights
from invariant_inr.metrics import relative_pose
from invariant_inr.se2 import coordinate_grid

from noise_pose import DEFAULT_MNIST_ROOT, add_noise


def chosen_order(images: torch.Tensor) -> torch.Tensor:
    """``(N,)`` the lowest strong harmonic order minus one (the strongest where none is strong)."""
    weights = foreground_weights(images)
    center_, _, probs = center.central_moments(weights)
    points = coordinate_grid(*images.shape[-2:], dtype=images.dtype).reshape(-1, 2)
    real, imag = center._harmonics(probs, center_, points, 4)
    strength = (real**2 + imag**2).sqrt()
    strong = strength > center.HARMONIC_THRESHOLD
    return torch.where(strong.any(1), strong.float().argmax(1), strength.argmax(1))


def rotation_error_deg(rule: str, base: torch.Tensor, moved: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    p0, p1 = center.canonical_pose(base, rule, denoise="auto"), center.canonical_pose(moved, rule, denoise="auto")
    theta_hat, _ = relative_pose(p0[0].double(), p0[1].double(), p1[0].double(), p1[1].double())
    return torch.rad2deg(torch.remainder(theta_hat - theta.double() + math.pi, 2 * math.pi) - math.pi).abs()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist-root", type=Path, default=DEFAULT_MNIST_ROOT)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigma", type=float, default=0.4)
    args = parser.parse_args(argv)
    data = MNISTU(args.mnist_root, "test", num_samples=args.num_samples, subset="random", seed=args.seed, translation_std_pixels=5.0)
    generator = torch.Generator().manual_seed(0)
    base, moved = add_noise(data.base_images(), args.sigma, generator), add_noise(data.images, args.sigma, generator)
    errors = {rule: rotation_error_deg(rule, base, moved, data.theta) for rule in ("harmonic", "moments")}
    first, second = chosen_order(base), chosen_order(moved)
    print(f"sigma {args.sigma}: median error harmonic {errors['harmonic'].median():.2f} deg, moments {errors['moments'].median():.2f} deg")
    print("| orders (un-posed, moved) | pairs | harmonic median (deg) | moments median (deg) |")
    print("|---|---:|---:|---:|")
    for a in range(4):
        for b in range(4):
            pick = (first == a) & (second == b)
            if pick.any():
                print(f"| {a + 1}, {b + 1} | {int(pick.sum())} | {errors['harmonic'][pick].median():.2f} | {errors['moments'][pick].median():.2f} |")


if __name__ == "__main__":
    main()
