#!/usr/bin/env python
r"""How well the analytic canonical rules recover a known rotation from noisy images (issue 11).

Protocol. ``--num-samples`` images (default 1,000) of ``--data``:

* ``mnist``: MNIST(U) test digits (50 x 50, the library's :class:`~invariant_inr.datasets.MNISTU`,
  seeded random subset, seed ``--seed``; translations of ``--translation-std-pixels`` pixels,
  5 by default as in the paper);
* ``sprites``: the built-in sprites (:func:`~invariant_inr.datasets.make_sprites`, 32 x 32,
  squares, ellipses and hearts), so that the script runs without MNIST.

Each sample has an un-posed image :math:`J_0` (the centred digit, the upright sprite) and its moved
copy :math:`J = S_g[J_0]` with a known pose :math:`g`. Independent Gaussian noise of standard
deviation :math:`\sigma` is added to both (intensities in [0, 1]; not clipped unless ``--clip``), one
draw per :math:`\sigma` from ``torch.Generator().manual_seed(seed)``. A rule's poses :math:`p_0, p`
of the two noisy images give :math:`\hat g` (:func:`~invariant_inr.metrics.relative_pose`), whose
rotation is compared with :math:`g`'s (:func:`~invariant_inr.metrics.pose_recovery`). The table
gives the median absolute rotation error in degrees (chance: 90). ``com`` depends on where the
object sits, so under translation it cannot recover the rotation even without noise; run with
``--translation-std-pixels 0`` to see it on rotations alone.

Methods (all batched over the images):

* ``<rule>``: :func:`~invariant_inr.center.canonical_pose` with ``denoise="none"`` (the intensities);
* ``<rule>+auto``: ``denoise="auto"`` (:func:`~invariant_inr.foreground.foreground_weights` with its
  defaults: blur 1 px, universal threshold, hysteresis down to 2.5 sigma);
* ablations of ``auto`` for the ``moments`` rule (``foreground_weights`` with one part changed):
  ``no-hysteresis`` (only the universal threshold), ``no-blur`` (detection on the raw pixels),
  ``soft`` (weights ``relu(G * (J - b) - 3 sigma_D)``, a soft threshold of the blurred image);
* ``moments+sketch``: the issue's crude sketch (blur 1 px, keep the blurred pixels above the
  frame's mean plus two standard deviations);
* ``model:NAME`` for each ``--model NAME=PATH``: the pose a trained :class:`~invariant_inr.IRLINR`
  checkpoint encodes (a learned head, or the analytic rule it was configured with), in evaluation
  mode, 256 images at a time;
* ``recon:NAME`` and ``recon:NAME+auto`` for each ``--model`` (name them in ``--methods``, or ``all``): the issue's "reconstruction as a
  denoiser" route. The model reconstructs the noisy image (rendered from its ``z`` at its encoded
  pose, :meth:`~invariant_inr.IRLINR.reconstruct`), and the model's own canonical rule is applied
  to that reconstruction, with ``denoise="none"`` or ``"auto"``. Because the reconstruction is
  drawn at the encoded pose, this pose is the model's pose composed with the rule's pose of the
  canonical rendering: it can correct the model's pose only where that rendering differs between
  the two copies.

Usage::

    python benchmarks/noise_pose.py --data mnist --out benchmarks/results/noise_pose
    python benchmarks/noise_pose.py --data sprites --out benchmarks/results/noise_pose
    python benchmarks/noise_pose.py --methods moments,moments+auto --model map=model_moments.pt --tag learned

Writes ``OUT/<data>.json`` (every figure of ``pose_recovery``, per method and sigma, plus the
seconds each method took for all images and sigmas) and ``OUT/<data>.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from invariant_inr._environment import machine_info
from invariant_inr.center import CANONICAL_RULES, canonical_pose
from invariant_inr.datasets import MNISTU, make_sprites
from invariant_inr.foreground import estimate_background, foreground_weights, universal_threshold
from invariant_inr.metrics import pose_recovery, relative_pose

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_ROOT = REPO_ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_SIGMAS = (0.0, 0.1, 0.2, 0.4)

Pose = tuple[torch.Tensor, torch.Tensor]


def add_noise(images: torch.Tensor, sigma: float, generator: torch.Generator, *, clip: bool = False) -> torch.Tensor:
    """``images`` plus i.i.d. Gaussian noise of standard deviation ``sigma`` (drawn on the CPU)."""
    noisy = images + sigma * torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return noisy.clamp(0.0, 1.0) if clip else noisy


def _kernel(std_pixels: float, dtype: torch.dtype) -> torch.Tensor:
    radius = math.ceil(3 * std_pixels)
    kernel = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=dtype) / std_pixels) ** 2)
    return kernel / kernel.sum()


def _blur(images: torch.Tensor, std_pixels: float) -> torch.Tensor:
    """Separable Gaussian blur, zero padding (one channel)."""
    kernel = _kernel(std_pixels, images.dtype)
    radius = (kernel.numel() - 1) // 2
    out = torch.nn.functional.conv2d(images, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def sketch_weights(images: torch.Tensor) -> torch.Tensor:
    """The issue's crude fix: blur 1 px, keep blurred pixels above the frame's mean + 2 std."""
    blurred = _blur(images, 1.0)
    flat = blurred.flatten(1)
    cut = (flat.mean(dim=1) + 2.0 * flat.std(dim=1)).view(-1, 1, 1, 1)
    return blurred * (blurred > cut)


def soft_weights(images: torch.Tensor) -> torch.Tensor:
    """Soft threshold of the blurred image: ``relu(G * (J - b) - 3 sigma_D)`` (an ablation)."""
    level, noise_std = estimate_background(images)
    blurred = _blur(images - level[..., None, None], 1.0)
    return torch.relu(blurred - 3.0 * (noise_std * _kernel(1.0, images.dtype).pow(2).sum())[..., None, None])


def model_pose(path: Path) -> Callable[[torch.Tensor], Pose]:
    """The pose a saved :class:`~invariant_inr.IRLINR` encodes, as a batched estimator."""
    from invariant_inr import IRLINR

    model = IRLINR.load(path).eval()

    @torch.no_grad()
    def estimate(images: torch.Tensor) -> Pose:
        parts = [model.encode(chunk) for chunk in images.split(256)]
        return torch.cat([p.theta for p in parts]), torch.cat([p.tau for p in parts])

    return estimate


def reconstruction_pose(path: Path, denoise: str) -> Callable[[torch.Tensor], Pose]:
    """The model's canonical rule applied to its reconstruction of each image (a learned denoiser)."""
    from invariant_inr import IRLINR

    model = IRLINR.load(path).eval()
    rule = model.config.canonical_rule

    @torch.no_grad()
    def estimate(images: torch.Tensor) -> Pose:
        recon = torch.cat([model.reconstruct(chunk) for chunk in images.split(256)])
        return canonical_pose(recon, rule, denoise=denoise)  # type: ignore[arg-type]

    return estimate


def methods(models: dict[str, Path] | None = None) -> dict[str, Callable[[torch.Tensor], Pose]]:
    """Name -> batched pose estimator ``images (B, 1, H, W) -> (theta (B,), tau (B, 2))``."""
    out: dict[str, Callable[[torch.Tensor], Pose]] = {}
    for name, path in (models or {}).items():
        out[f"model:{name}"] = model_pose(path)
        out[f"recon:{name}"] = reconstruction_pose(path, "none")
        out[f"recon:{name}+auto"] = reconstruction_pose(path, "auto")
    for rule in CANONICAL_RULES:
        out[rule] = lambda x, rule=rule: canonical_pose(x, rule)  # type: ignore[misc]
        out[f"{rule}+auto"] = lambda x, rule=rule: canonical_pose(x, rule, denoise="auto")  # type: ignore[misc]
    out["moments+auto, no-hysteresis"] = lambda x: canonical_pose(
        foreground_weights(x, low_threshold=universal_threshold(x.shape[-2] * x.shape[-1])), "moments"
    )
    out["moments+auto, no-blur"] = lambda x: canonical_pose(foreground_weights(x, blur_pixels=0.0), "moments")
    out["moments+soft"] = lambda x: canonical_pose(soft_weights(x), "moments")
    out["moments+sketch"] = lambda x: canonical_pose(sketch_weights(x), "moments")
    return out


SYMMETRY_ORDER = {"square": 4, "ellipse": 2, "heart": 1}
"""Rotational symmetry of each sprite shape: a rotation is recoverable only modulo ``2 pi / order``."""


def symmetric_error_deg(theta_true: torch.Tensor, theta_hat: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Absolute rotation error modulo each object's symmetry ``2 pi / order``, degrees ``(N,)``."""
    period = 2 * math.pi / order.double()
    difference = torch.remainder(theta_hat.double() - theta_true.double() + period / 2, period) - period / 2
    return torch.rad2deg(difference.abs())


def load(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """``base (N, 1, H, W)``, ``moved (N, 1, H, W)``, ``theta (N,)``, ``tau (N, 2)``, symmetry orders ``(N,)``, a description."""
    if args.data == "mnist":
        data = MNISTU(
            args.mnist_root, "test", num_samples=args.num_samples, subset="random", seed=args.seed,
            translation_std_pixels=args.translation_std_pixels,
        )
        about = f"{args.num_samples} MNIST(U) test digits, 50 x 50, translation std {args.translation_std_pixels} px, seed {args.seed}"
        return data.base_images(), data.images, data.theta, data.tau, torch.ones(len(data), dtype=torch.int64), about
    translate = args.translation_std_pixels > 0
    data = make_sprites(args.num_samples, size=32, seed=args.seed, translate=translate)
    about = f"{args.num_samples} sprites (squares, ellipses, hearts), 32 x 32, {'translated' if translate else 'not translated'}, seed {args.seed}"
    order = torch.tensor([SYMMETRY_ORDER[data.shapes[int(label)]] for label in data.labels])
    return data.base_images(), data.images, data.theta, data.tau, order, about


def evaluate(
    base: torch.Tensor, moved: torch.Tensor, theta: torch.Tensor, tau: torch.Tensor, order: torch.Tensor, *,
    sigmas: Sequence[float], seed: int, clip: bool, names: Sequence[str], models: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """Every method at every sigma: ``{method: {"sigma": {figures}}, "seconds": {method: s}}``."""
    table = methods(models)
    results: dict[str, Any] = {name: {} for name in names}
    seconds = {name: 0.0 for name in names}
    for sigma in sigmas:
        generator = torch.Generator().manual_seed(seed)
        noisy_base = add_noise(base, sigma, generator, clip=clip)
        noisy_moved = add_noise(moved, sigma, generator, clip=clip)
        for name in names:
            start = time.perf_counter()
            p0, p1 = table[name](noisy_base), table[name](noisy_moved)
            seconds[name] += time.perf_counter() - start
            theta_hat, tau_hat = relative_pose(p0[0].double(), p0[1].double(), p1[0].double(), p1[1].double())
            figures = pose_recovery(theta.double(), tau.double(), theta_hat, tau_hat).as_dict()
            figures["rotation_median_error_mod_symmetry_deg"] = float(symmetric_error_deg(theta, theta_hat, order).median())
            figures["finite"] = bool(torch.isfinite(theta_hat).all() and torch.isfinite(tau_hat).all())
            results[name][f"{sigma:g}"] = figures
    return {"methods": results, "seconds": seconds}


def markdown(record: dict[str, Any]) -> str:
    sigmas = record["settings"]["sigmas"]
    sprites = record["settings"]["data"] == "sprites"
    key = "rotation_median_error_mod_symmetry_deg" if sprites else "rotation_median_error_deg"
    lines = [
        f"# Rotation recovery under noise: {record['settings']['data']}",
        "",
        f"{record['about']}. Gaussian noise of std sigma added to the un-posed image and to its moved copy"
        f"{' (clipped to [0, 1])' if record['settings']['clip'] else ''}; median absolute error of the recovered"
        " relative rotation, degrees (chance: 90)"
        + (", modulo each shape's rotational symmetry (square 90 deg, ellipse 180 deg, heart 360 deg; chance 22.5, 45, 90)" if sprites else "")
        + ". Within 5 deg: fraction of samples (without the symmetry).",
        "",
        f"Command: `{record['command']}`",
        "",
        "| method | " + " | ".join(f"sigma = {s:g}" for s in sigmas) + " | within 5 deg at " + f"{sigmas[-1]:g} | seconds |",
        "|---|" + "---:|" * (len(sigmas) + 2),
    ]
    for name, per_sigma in record["methods"].items():
        cells = [f"{per_sigma[f'{s:g}'][key]:.2f}" for s in sigmas]
        last = per_sigma[f"{sigmas[-1]:g}"]["rotation_within_5deg"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {last:.2f} | {record['seconds'][name]:.1f} |")
    lines += [
        "",
        f"*seconds*: wall time of the method over all sigmas ({2 * len(sigmas)} calls of {record['settings']['num_samples']} images), "
        f"one process with {record['settings']['threads']} thread(s); load average before the run {record['load_average']} "
        "(other jobs shared the machine: compare the rows with one another, not across runs).",
        "",
    ]
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("mnist", "sprites"), default="mnist")
    parser.add_argument("--mnist-root", type=Path, default=DEFAULT_MNIST_ROOT)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(DEFAULT_SIGMAS))
    parser.add_argument("--translation-std-pixels", type=float, default=5.0, help="MNIST(U) translation std; sprites: 0 turns translation off")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noise-seed", type=int, default=0)
    parser.add_argument("--clip", action="store_true", help="clip the noisy images to [0, 1]")
    parser.add_argument("--methods", default="all", help="comma-separated method names, or 'all'")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="also measure the pose of a saved IRLINR checkpoint, as method 'model:NAME' (repeatable)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tag", default=None, help="output name (default: the data name)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "noise_pose")
    args = parser.parse_args(argv)
    args.models = {}
    for item in args.model:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            parser.error(f"--model expects NAME=PATH with an existing checkpoint file, got {item!r}")
        args.models[name] = Path(path)
    per_model = [f"{kind}:{name}{suffix}" for name in args.models for kind, suffix in (("model", ""), ("recon", ""), ("recon", "+auto"))]
    known = [*list(methods()), *per_model]
    args.method_names = known if args.methods == "all" else [m.strip() for m in args.methods.split(",")]
    args.method_names += [f"model:{name}" for name in args.models if f"model:{name}" not in args.method_names]
    unknown = [m for m in args.method_names if m not in known]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {known}")
    if args.num_samples < 2:
        parser.error("--num-samples must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    load_average = [round(x, 2) for x in os.getloadavg()]
    base, moved, theta, tau, order, about = load(args)
    record: dict[str, Any] = {
        "command": "python benchmarks/noise_pose.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "about": about,
        "settings": {
            "data": args.data, "num_samples": args.num_samples, "sigmas": args.sigmas, "seed": args.seed,
            "noise_seed": args.noise_seed, "clip": args.clip, "translation_std_pixels": args.translation_std_pixels,
            "threads": args.threads, "models": {name: str(path) for name, path in args.models.items()},
        },
        "load_average": load_average,
        "machine": machine_info(torch.device("cpu")),
    }
    record.update(evaluate(
        base, moved, theta, tau, order, sigmas=args.sigmas, seed=args.noise_seed, clip=args.clip, names=args.method_names,
        models=args.models,
    ))
    args.out.mkdir(parents=True, exist_ok=True)
    tag = args.tag or args.data
    (args.out / f"{tag}.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / f"{tag}.md").write_text(markdown(record))
    print(markdown(record))
    return record


if __name__ == "__main__":
    main()
