#!/usr/bin/env python
r"""Speed and memory of invariant-inr against a naive per-sample reference, in one run (issue 4).

What one run measures (all in the same process and the same minutes, so ratios are comparable):

1. ``naive``: a reference train step written here, the way research code of this field does it:
   per-sample random poses, per-sample warps (one ``grid_sample`` per image), per-sample centre of
   mass and angle, and the INR evaluated image by image in a Python loop. Same model, same
   weights, same math as :meth:`IRLINR.loss` (``tests/test_speed_options.py`` checks that the two
   losses and gradients agree for the same poses).
2. ``exact``: our train step, every pixel, float32.
3. our step with each speed option on its own, and all together.
4. the machine's fp32 matrix-multiply rate (a large square GEMM) and the FLOP count of our INR's
   forward+backward, giving the INR's achieved rate as a fraction of that limit.
5. ``encoder``: the encoder alone (one forward+backward over the 2B re-posed images a step
   needs, plus its Adam update), the floor for any method with this encoder.
6. peak memory of a step with and without chunked INR evaluation (fresh subprocess per
   configuration, resident-set high-water mark; see :func:`peak_memory_child`).
7. inference throughput of :meth:`IRLINR.encode`.

A train step is ``zero_grad``, the loss, ``backward`` and an Adam update (what :func:`fit` does per
batch; ours uses fit's optimizer, fused Adam where supported, the naive step PyTorch's default
Adam, as research code does; the two updates are also timed alone). Timings are round-robin
over the configurations (one step of each in turn, ``--repeats`` rounds, after a warm-up round
unless ``--no-warmup``) and the median is reported, so a machine whose load drifts affects all of
them alike. ``all`` combines the options that can pay on the device (bfloat16 only where it is
native; on a CPU without it, the ``bf16`` step is timed once).

Usage::

    python benchmarks/speed.py                                   # paper MNIST(U) sizes, ResNet18
    python benchmarks/speed.py --encoder small --json out.json
    python benchmarks/speed.py --quick                           # tiny smoke configuration (< 60 s)
    python benchmarks/speed.py --device cuda
    python benchmarks/speed.py --device cuda --sizes galaxy-zoo  # 64 x 64 x 3, d = 512, B = 128
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from invariant_inr import IRLINR
from invariant_inr.losses import LossParts
from invariant_inr.se2 import coordinate_grid, random_pose, transform_images
from invariant_inr.training import _LossModule, _make_adam, _native_bf16

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the helpers shared by the benchmark scripts
from _run_record import run_record, write_json  # noqa: E402

__all__ = [
    "OPTIONS",
    "SIZES",
    "inr_flops",
    "main",
    "naive_loss",
    "naive_train_step",
    "parse_args",
    "peak_memory",
    "random_pose_per_sample",
]

TWO_PI = 2.0 * math.pi
OPTIONS = ("pixels", "chunk", "bf16", "channels_last", "compile", "all")
SIZES: dict[str, dict[str, int]] = {  # --sizes: the paper's data sizes, batch 128 (appendix B, Table 5)
    "mnist-u": {"image_size": 50, "channels": 1, "latent_dim": 32, "batch": 128},
    "galaxy-zoo": {"image_size": 64, "channels": 3, "latent_dim": 512, "batch": 128},
}


# ============================================================================ naive reference
def random_pose_per_sample(batch: int, translation_std: float, *, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """One random pose at a time, as research code draws them (same distribution as :func:`random_pose`)."""
    thetas, taus = [], []
    for _ in range(batch):
        thetas.append(torch.rand((), device=device, dtype=torch.float64) * TWO_PI)
        taus.append(torch.randn(2, device=device, dtype=torch.float64) * translation_std)
    return torch.stack(thetas).to(dtype), torch.stack(taus).to(dtype)


def _naive_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Pixel centres ``(P, 2)``, ``(x, y)``, y up, longer side spanning [-1, 1] (the library's convention)."""
    step = 2.0 / (max(height, width) - 1)
    xs = (torch.arange(width, device=device, dtype=torch.float64) - (width - 1) / 2) * step
    ys = ((height - 1) / 2 - torch.arange(height, device=device, dtype=torch.float64)) * step
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2).to(dtype)


def _naive_warp(image: Tensor, theta: Tensor, tau: Tensor, grid: Tensor) -> Tensor:
    """Move the content of one image ``(C, H, W)`` by ``S_{theta,tau}``: one ``grid_sample`` per image."""
    _, height, width = image.shape
    cos, sin = torch.cos(theta), torch.sin(theta)
    # source point of each output pixel: S^{-1}(y) = R_{-theta} y - tau
    src_x = cos * grid[:, 0] + sin * grid[:, 1] - tau[0]
    src_y = -sin * grid[:, 0] + cos * grid[:, 1] - tau[1]
    half_w = (width - 1) / (max(height, width) - 1)
    half_h = (height - 1) / (max(height, width) - 1)
    sampling = torch.stack([src_x / half_w, -src_y / half_h], dim=-1).reshape(1, height, width, 2)
    return F.grid_sample(image[None], sampling, mode="bilinear", padding_mode="zeros", align_corners=True)[0]


def _naive_center(image: Tensor, grid: Tensor) -> Tensor:
    """Centre of mass of one image ``(C, H, W)`` -> ``(2,)``; ``(0, 0)`` for zero mass."""
    mass = image.abs().sum(dim=0).flatten()  # (P,)
    total = mass.sum()
    if float(total) == 0.0:  # a host sync per image, as research code does
        return torch.zeros(2, device=image.device, dtype=image.dtype)
    return (mass[:, None] * grid).sum(dim=0) / total


def _naive_inr(model: IRLINR, params: Tensor, points: Tensor) -> Tensor:
    """One image's INR: Fourier features of ``points (P, 2)`` then ``F.linear`` layer by layer -> ``(P, C)``."""
    phase = TWO_PI * (points @ model.fourier.frequencies.to(points.dtype).t())
    hidden = torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)
    offset = 0
    sizes = model.inr.layer_sizes
    for index, (fan_in, fan_out) in enumerate(sizes):
        weight = params[offset : offset + fan_out * fan_in].reshape(fan_out, fan_in)
        offset += fan_out * fan_in
        bias = params[offset : offset + fan_out]
        offset += fan_out
        hidden = F.linear(hidden, weight, bias)
        if index < len(sizes) - 1:
            hidden = F.relu(hidden)
    return torch.sigmoid(hidden) if model.config.output_activation == "sigmoid" else hidden


def naive_loss(model: IRLINR, images: Tensor, theta: Tensor, tau: Tensor) -> LossParts:
    """The IRL-INR loss of :meth:`IRLINR.loss` (all pixels), computed one sample at a time.

    Args:
        model: an :class:`IRLINR` with ``canonical_rule="com"``; its modules are used as they are.
        images: ``(B, C, H, W)``.
        theta: ``(2B,)`` random angles of the two re-posed copies (copy ``k`` of image ``i`` is
            sample ``k * B + i``, as in :meth:`IRLINR.loss`).
        tau: ``(2B, 2)`` random translations.
    """
    config = model.config
    if config.canonical_rule != "com":
        raise ValueError("the naive reference implements the paper's centre-of-mass rule only")
    batch, channels, height, width = images.shape
    grid = _naive_grid(height, width, images.device, images.dtype)  # (P, 2)
    posed = torch.stack([_naive_warp(images[i % batch], theta[i], tau[i], grid) for i in range(2 * batch)])
    latent = config.latent_dim
    normalise = getattr(model.encoder, "_normalise", lambda codes: codes)  # the encoder's batch-norm of z, if any
    if config.pose == "analytic":  # the rule's pose per image, then the canonicalised image into the backbone
        enc_theta, enc_tau, canonical = [], [], []
        with torch.no_grad():
            for i in range(2 * batch):
                center = _naive_center(posed[i], grid)
                angle = torch.remainder(-torch.atan2(center[1], center[0]), TWO_PI)
                enc_theta.append(angle)
                enc_tau.append(-center)
                canonical.append(_naive_warp(posed[i], angle, -center, grid))
        z = normalise(model.encoder.head(model.encoder.backbone(torch.stack(canonical))))
    else:  # the head predicts the centre of mass; the pose follows per sample
        out = model.encoder.head(model.encoder.backbone(posed))
        z = normalise(out[:, :latent])
        enc_theta, enc_tau = [], []
        for i in range(2 * batch):
            center = out[i, latent : latent + 2]
            enc_theta.append(torch.remainder(-torch.atan2(center[1], center[0]), TWO_PI))
            enc_tau.append(-center)
    params = model.hyper(z)  # (2B, K)
    recon_terms, symm_terms = [], []
    for i in range(2 * batch):
        cos, sin = torch.cos(enc_theta[i]), torch.sin(enc_theta[i])
        shifted = grid + enc_tau[i]
        points = torch.stack([cos * shifted[:, 0] - sin * shifted[:, 1], sin * shifted[:, 0] + cos * shifted[:, 1]], dim=-1)
        prediction = _naive_inr(model, params[i], points)  # (P, C)
        target = posed[i].reshape(channels, -1).t()  # (P, C)
        recon_terms.append((prediction - target).pow(2).sum(dim=1).mean())
        if config.pose == "learned" and config.lambda_symm > 0:
            center = _naive_center(posed[i], grid)
            implied = enc_tau[i].norm() * torch.stack([cos, -sin])
            symm_terms.append((center - implied).pow(2).sum())
    consis_terms = []
    for i in range(batch):
        z1, z2 = z[i], z[batch + i]
        if config.consistency == "cos":
            consis_terms.append(1.0 - (z1 @ z2) / (z1.norm() * z2.norm()).clamp_min(1e-8))
        else:
            consis_terms.append((z1 - z2).pow(2).mean())
    recon = torch.stack(recon_terms).mean()
    consis = torch.stack(consis_terms).mean()
    symm = torch.stack(symm_terms).mean() if symm_terms else torch.zeros((), device=images.device, dtype=images.dtype)
    total = config.lambda_recon * recon + config.lambda_consis * consis + config.lambda_symm * symm
    return LossParts(total, recon, consis, symm)


def naive_train_step(model: IRLINR, images: Tensor, optimizer: torch.optim.Optimizer) -> LossParts:
    """Per-sample poses, :func:`naive_loss`, backward, Adam update."""
    theta, tau = random_pose_per_sample(2 * images.shape[0], model.config.translation_std, device=images.device, dtype=images.dtype)
    optimizer.zero_grad(set_to_none=True)
    parts = naive_loss(model, images, theta, tau)
    parts.total.backward()
    optimizer.step()
    return parts


# ===================================================================================== helpers
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def gemm_rate(device: torch.device, size: int, repeats: int = 5) -> float:
    """Best fp32 ``size x size`` matrix-multiply rate in FLOP/s (``2 n^3`` per product)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    _timed(lambda: a @ b, device)
    best = min(_timed(lambda: a @ b, device) for _ in range(repeats))
    return 2.0 * size**3 / best


def inr_flops(model: IRLINR, num_samples: int, num_points: int, *, points_grad: bool) -> dict[str, float]:
    """FLOPs of the INR's matrix multiplies for ``num_samples x num_points`` points, forward and backward.

    Forward: ``2 N sum(in * out)`` over layers (``N`` = samples x points). Backward: the weight
    gradients cost the same again, the input gradients the same except for the first layer when
    the points need no gradient (analytic poses). The Fourier phases (``K = 2``), cos/sin,
    activations and the loss are elementwise and not counted.
    """
    count = float(num_samples * num_points)
    macs = [fan_in * fan_out for fan_in, fan_out in model.inr.layer_sizes]
    forward = 2.0 * count * sum(macs)
    grad_weights = forward
    grad_inputs = 2.0 * count * (sum(macs) if points_grad else sum(macs[1:]))
    return {"forward": forward, "backward": grad_weights + grad_inputs, "total": forward + grad_weights + grad_inputs}


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not found in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset the resident-set high-water mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn: Callable[[], Any], device: torch.device) -> dict[str, Any]:
    """Peak memory that ``fn()`` adds on top of what is held before it.

    CUDA: ``torch.cuda.max_memory_allocated`` after a reset (tensor memory). CPU: the process's
    resident-set high-water mark ``VmHWM`` (reset through ``/proc/self/clear_refs``) minus the
    resident set ``VmRSS`` just before; without the reset, ``ru_maxrss`` is used, which is only a
    valid peak when nothing earlier in the process went higher (a fresh subprocess).
    """
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        return {"method": "torch.cuda.max_memory_allocated", "before_bytes": before, "peak_bytes": peak, "step_peak_bytes": peak - before}
    reset = _reset_peak_rss()
    before = _status_kib("VmRSS") * 1024
    fn()
    if reset:
        peak, method = _status_kib("VmHWM") * 1024, "VmHWM (reset via /proc/self/clear_refs) - VmRSS before"
    else:
        peak, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss - VmRSS before"
    return {"method": method, "before_bytes": before, "peak_bytes": peak, "step_peak_bytes": peak - before}


# ============================================================================ model and steps
def build_model(args: argparse.Namespace, device: torch.device, **overrides: Any) -> IRLINR:
    options: dict[str, Any] = dict(
        encoder=args.encoder,
        pose=args.pose,
        pose_head="mlp",  # the paper's step
        canonical_rule="com",
        num_frequencies=args.num_frequencies,
        inr_hidden=tuple(args.inr_hidden),
        hyper_hidden=tuple(args.hyper_hidden),
        head_hidden=tuple(args.head_hidden),
        seed=0,
    )
    options.update(overrides)
    channels = options.pop("channels", args.channels)
    size = options.pop("image_size", args.image_size)
    latent = options.pop("latent_dim", args.latent_dim)
    return IRLINR(channels, size, latent, **options).to(device)


class _Runner:
    """One model and optimizer shared by all step configurations (they differ in settings only)."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.device = device
        self.model = build_model(args, device)
        self.base_config = self.model.config
        # fit()'s optimizer (fused Adam where supported); the naive step uses the default Adam of research code
        self.optimizer = _make_adam(self.model.parameters(), lr=1e-4, weight_decay=5e-4)
        self.encoder_optimizer = _make_adam(self.model.encoder.parameters(), lr=1e-4, weight_decay=5e-4)
        self.naive_optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4, weight_decay=5e-4)
        gen = torch.Generator().manual_seed(1)
        self.images = torch.rand(args.batch, args.channels, args.image_size, args.image_size, generator=gen).to(device)
        theta, tau = random_pose(2 * args.batch, self.base_config.translation_std, generator=gen)
        with torch.no_grad():
            self.posed = transform_images(self.images.repeat(2, 1, 1, 1), theta.to(device), tau.to(device))
        self.loss_module = _LossModule(self.model)  # exactly what fit() calls each step
        self.compiled: dict[str, Callable[[Tensor], LossParts]] = {}

    def configure(self, *, pixel_fraction: float = 1.0, chunk_size: int | None = None, channels_last: bool = False) -> None:
        # The options are config fields read by IRLINR.loss; swapping the (frozen) config lets every
        # configuration share one set of weights and optimizer state (a benchmark-only shortcut).
        self.model.config = dataclasses.replace(self.base_config, pixel_fraction=pixel_fraction, chunk_size=chunk_size)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(memory_format=memory_format)

    def train_step(self, name: str, *, compile: bool, bf16: bool, channels_last: bool) -> None:
        images = self.images.contiguous(memory_format=torch.channels_last) if channels_last else self.images
        loss_fn: Callable[[Tensor], LossParts] = self.loss_module
        if compile:
            if name not in self.compiled:
                # dynamic=False: the configurations share one code object; without it, the changed
                # pixel_fraction between them would be traced as a symbolic float
                self.compiled[name] = torch.compile(_LossModule(self.model), dynamic=False)
            loss_fn = self.compiled[name]
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            parts = loss_fn(images)
        parts.total.backward()
        self.optimizer.step()

    def encoder_step(self) -> None:
        self.encoder_optimizer.zero_grad(set_to_none=True)
        enc = self.model.encoder(self.posed)  # (2B, ...) one forward over both re-posed copies
        (enc.z.sum() + enc.theta.sum() + enc.tau.sum()).backward()
        self.encoder_optimizer.step()

    def naive_step(self) -> None:
        naive_train_step(self.model, self.images, self.naive_optimizer)

    def optimizer_steps(self, repeats: int) -> dict[str, Any]:
        """The Adam update alone, default and fused, on the whole model (gradients of one exact step)."""
        self.configure()
        self.train_step("exact", compile=False, bf16=False, channels_last=False)  # leaves gradients in place
        result: dict[str, Any] = {"parameters": sum(p.numel() for p in self.model.parameters())}
        for name, optimizer in (("default", self.naive_optimizer), ("fit", self.optimizer)):
            optimizer.step()
            times = [_timed(optimizer.step, self.device) for _ in range(repeats)]
            fused = bool(optimizer.param_groups[0].get("fused"))
            result[name] = {"fused": fused, "times_s": times, "median_s": statistics.median(times)}
        return result


def _step_configs(args: argparse.Namespace, options: Sequence[str], *, native_bf16: bool) -> list[dict[str, Any]]:
    """Name, settings and description of every timed step configuration.

    ``all`` combines the options that can pay on this device: bfloat16 only where it is native.
    Without native bfloat16 the ``bf16`` step is timed once, without warm-up (it is emulated, slow).
    """
    fraction, chunk = args.pixel_fraction, args.chunk_size
    configs: list[dict[str, Any]] = [
        {"name": "naive", "kind": "naive", "what": "naive per-sample reference, default Adam (item 1)"},
        {"name": "encoder", "kind": "encoder", "what": "encoder alone: forward+backward of 2B images + Adam (item 5)"},
    ]
    defaults = {"kind": "train", "pixel_fraction": 1.0, "chunk_size": None, "bf16": False, "channels_last": False, "compile": False}
    configs.append({"name": "exact", **defaults, "what": "ours, exact: every pixel, float32 (item 2)"})
    settings = {
        "pixels": {"pixel_fraction": fraction, "what": f"ours, pixel_fraction={fraction}"},
        "chunk": {"chunk_size": chunk, "what": f"ours, chunk_size={chunk} (recompute in backward)"},
        "bf16": {
            "bf16": True,
            "what": "ours, bfloat16 autocast" + ("" if native_bf16 else " (emulated here: no native bf16; 1 run)"),
            **({} if native_bf16 else {"max_repeats": 1, "warmup": False}),
        },
        "channels_last": {"channels_last": True, "what": "ours, channels_last"},
        "compile": {"compile": True, "what": "ours, torch.compile of the loss"},
        "all": {
            "pixel_fraction": fraction,
            "chunk_size": chunk,
            "bf16": native_bf16,
            "channels_last": True,
            "compile": "compile" in options,
            "what": "ours, all options together"
            + ("" if native_bf16 else ", bf16 left out (not native here)")
            + ("" if "compile" in options else ", without compile"),
        },
    }
    for name in options:
        entry = {"name": name, **defaults}
        entry.update(settings[name])
        configs.append(entry)
    return configs


def run_steps(
    runner: _Runner, configs: list[dict[str, Any]], repeats: int, naive_repeats: int, log: Callable[[str], None], *, warmup: bool = True
) -> dict[str, dict[str, Any]]:
    """Warm-up round, then ``repeats`` round-robin rounds; the naive step runs in ``naive_repeats`` of them."""
    results: dict[str, dict[str, Any]] = {config["name"]: {"what": config["what"], "times_s": []} for config in configs}

    def one(config: dict[str, Any]) -> float:
        kind = config["kind"]
        if kind == "naive":
            runner.configure()
            return _timed(runner.naive_step, runner.device)
        if kind == "encoder":
            runner.configure()
            return _timed(runner.encoder_step, runner.device)
        runner.configure(pixel_fraction=config["pixel_fraction"], chunk_size=config["chunk_size"], channels_last=config["channels_last"])
        return _timed(
            lambda: runner.train_step(config["name"], compile=config["compile"], bf16=config["bf16"], channels_last=config["channels_last"]),
            runner.device,
        )

    for config in configs:  # warm-up (and compilation; always for compiled configurations)
        if config.get("compile") or (warmup and config.get("warmup", True)):
            seconds = one(config)
            results[config["name"]]["first_call_s"] = seconds
            log(f"  warm-up {config['name']:<14} {seconds:8.3f} s")
    for round_index in range(repeats):
        timed = []
        for config in configs:
            if config["kind"] == "naive" and round_index >= naive_repeats:
                continue
            if round_index >= config.get("max_repeats", repeats):
                continue
            seconds = one(config)
            results[config["name"]]["times_s"].append(seconds)
            timed.append(f"{config['name']}={seconds:.2f}s")
        log(f"  round {round_index + 1}/{repeats}: " + ", ".join(timed))
    runner.configure()
    for entry in results.values():
        entry["median_s"] = statistics.median(entry["times_s"])
        entry["min_s"] = min(entry["times_s"])
    return results


def inr_alone(runner: _Runner, args: argparse.Namespace, repeats: int, gemm_size: int) -> dict[str, Any]:
    """Item 4: the INR's forward+backward (Fourier features, INR, reconstruction loss) on fixed weights and points."""
    model, device = runner.model, runner.device
    runner.configure()
    batch2 = 2 * args.batch
    with torch.no_grad():
        enc = model.encoder(runner.posed)
        params = model.hyper(enc.z)
    points_grad = args.pose == "learned"
    params = params.detach().requires_grad_(True)
    grid = coordinate_grid(args.image_size, args.image_size, device=device).reshape(-1, 2)  # (P, 2)
    theta, tau = random_pose(batch2, 0.1, generator=torch.Generator().manual_seed(2))
    cos, sin = torch.cos(theta).to(device)[:, None], torch.sin(theta).to(device)[:, None]
    shifted = grid[None] + tau.to(device)[:, None]
    points = torch.stack([cos * shifted[..., 0] - sin * shifted[..., 1], sin * shifted[..., 0] + cos * shifted[..., 1]], dim=-1)
    points = points.detach().requires_grad_(points_grad)
    targets = runner.posed.flatten(2).transpose(1, 2)

    def step() -> None:
        params.grad = None
        if points.grad is not None:
            points.grad = None
        out = model._render_points(params, points, None)
        (out - targets).pow(2).sum(-1).mean().backward()

    _timed(step, device)
    flops = inr_flops(model, batch2, args.image_size**2, points_grad=points_grad)
    times, fractions = [], []
    for _ in range(repeats):  # each INR step paired with a GEMM measurement right after it
        times.append(_timed(step, device))
        fractions.append(flops["total"] / times[-1] / gemm_rate(device, gemm_size, repeats=2))
    median = statistics.median(times)
    return {
        "times_s": times,
        "median_s": median,
        "flops": flops,
        "achieved_flop_per_s": flops["total"] / median,
        "fraction_of_paired_gemm": statistics.median(fractions),
    }


def encode_throughput(runner: _Runner, args: argparse.Namespace, repeats: int) -> dict[str, Any]:
    """Item 7: images per second of ``model.encode`` in inference mode."""
    model, device = runner.model, runner.device
    runner.configure()
    batch = args.encode_batch
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(batch, args.channels, args.image_size, args.image_size, generator=gen).to(device)
    model.eval()
    try:
        with torch.inference_mode():
            _timed(lambda: model.encode(images), device)
            times = [_timed(lambda: model.encode(images), device) for _ in range(repeats)]
    finally:
        model.train()
    median = statistics.median(times)
    return {"batch": batch, "times_s": times, "median_s": median, "images_per_s": batch / median}


# ============================================================================== memory (item 6)
def peak_memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: one warm-up step at batch 2, then measure one full train step and the INR part.

    ``step``: zero_grad, loss, backward and Adam update of the whole model at batch ``B``.
    ``inr_part``: hypernetwork, INR and reconstruction loss, forward and backward, on ``2B`` fixed
    codes and poses (the part that chunking bounds; the encoder's activations are not in it).
    """
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    args = argparse.Namespace(**spec["model"])
    model = build_model(args, device, chunk_size=spec["chunk_size"])
    optimizer = _make_adam(model.parameters(), lr=1e-4, weight_decay=5e-4)
    loss_module = _LossModule(model)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(spec["batch"], args.channels, args.image_size, args.image_size, generator=gen).to(device)

    def step(batch_images: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_module(batch_images).total.backward()
        optimizer.step()

    step(images[:2])  # allocates the Adam state and any lazily built buffers
    optimizer.zero_grad(set_to_none=True)
    result: dict[str, Any] = {"step": peak_memory(lambda: step(images), device)}
    optimizer.zero_grad(set_to_none=True)
    batch2 = 2 * spec["batch"]
    z = torch.randn(batch2, args.latent_dim, generator=gen).to(device).requires_grad_(True)
    theta, tau = random_pose(batch2, 0.1, generator=gen)
    theta, tau = theta.to(device).requires_grad_(True), tau.to(device).requires_grad_(True)

    def inr_part() -> None:
        rendered = model.render(z, args.image_size, theta, tau)
        (rendered - images.repeat(2, 1, 1, 1)).pow(2).mean().backward()

    result["inr_part"] = peak_memory(inr_part, device)
    return result


def measure_peak_memory(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run :func:`peak_memory_child` in a fresh Python process and return its result."""
    command = [sys.executable, os.path.abspath(__file__), "--_memory-child", json.dumps(spec)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith("MEMORY_RESULT "):
            result = json.loads(line[len("MEMORY_RESULT ") :])
            result["wall_s"] = time.perf_counter() - start
            return result
    tail = (done.stderr or "")[-800:]
    return {"error": f"child exited with code {done.returncode}: {tail}"}


# ========================================================================================= main
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--sizes", choices=tuple(SIZES), default=None,
        help="the paper's sizes of a data set (image side, channels, d, B = 128); the options below then change them",
    )
    parser.add_argument("--image-size", type=int, default=50, help="H = W of the training images (paper MNIST(U): 50)")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32, help="images per step B (paper MNIST(U) on this machine: 32)")
    parser.add_argument("--latent-dim", type=int, default=32, help="d (paper MNIST(U): 32)")
    parser.add_argument("--encoder", choices=("resnet18", "small"), default="resnet18")
    parser.add_argument("--pose", choices=("learned", "analytic"), default="learned")
    parser.add_argument("--num-frequencies", type=int, default=256)
    parser.add_argument("--inr-hidden", type=int, nargs="+", default=[256, 256, 256])
    parser.add_argument("--hyper-hidden", type=int, nargs="+", default=[256, 256, 256])
    parser.add_argument("--head-hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument("--repeats", type=int, default=3, help="timed round-robin rounds (after one warm-up round)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up round (compiled configurations still get one)")
    parser.add_argument("--memory-only", action="store_true", help="run item 6 only")
    parser.add_argument("--naive-repeats", type=int, default=None, help="rounds that include the naive step (default: all)")
    parser.add_argument("--pixel-fraction", type=float, default=0.1, help="fraction of pixels of the 'pixels' option")
    parser.add_argument("--chunk-size", type=int, default=512, help="points per chunk of the 'chunk' option")
    parser.add_argument("--options", nargs="+", choices=OPTIONS, default=list(OPTIONS), help="speed options to time")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--gemm-size", type=int, default=None, help="side of the square GEMM (default 2048 CPU, 8192 CUDA)")
    parser.add_argument("--encode-batch", type=int, default=None, help="batch of the encode() throughput test (default 2 B)")
    parser.add_argument("--no-memory", action="store_true", help="skip item 6 (peak memory subprocesses)")
    parser.add_argument("--memory-batch", type=int, default=128)
    parser.add_argument("--memory-channels", type=int, default=3)
    parser.add_argument("--memory-latent-dim", type=int, default=512)
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[64, 128], help="image sides; chunked at each, unchunked at the first")
    parser.add_argument(
        "--memory-runs",
        nargs="+",
        default=None,
        metavar="SIZE:CHUNK",
        help="explicit item-6 runs, e.g. 64:none 64:512 128:512 (overrides --memory-sizes)",
    )
    parser.add_argument("--memory-chunk-size", type=int, default=None, help="chunk size of item 6 (default: --chunk-size)")
    parser.add_argument("--memory-encoder", choices=("resnet18", "small"), default=None, help="encoder of item 6 (default: --encoder)")
    parser.add_argument("--memory-timeout", type=float, default=3600.0, help="seconds per item-6 subprocess")
    parser.add_argument("--epoch-images", type=int, default=60000, help="images of the epoch estimate (MNIST(U): 60,000)")
    parser.add_argument("--naive-images", type=int, default=2000, help="images the naive code gets in the same time (target)")
    parser.add_argument("--quick", action="store_true", help="tiny smoke configuration (< 60 s)")
    parser.add_argument("--json", type=str, default=None, help="write all results to this JSON file")
    parser.add_argument("--_memory-child", dest="memory_child", type=str, default=None, help=argparse.SUPPRESS)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``--sizes`` sets the sizes it names, and size options given explicitly win over them."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.sizes:
        parser.set_defaults(**SIZES[args.sizes])
        args = parser.parse_args(argv)
    return args


def _apply_quick(args: argparse.Namespace) -> None:
    args.image_size, args.batch, args.latent_dim, args.encoder = 16, 4, 8, "small"
    args.num_frequencies, args.inr_hidden, args.hyper_hidden, args.head_hidden = 16, [32, 32], [32], [64]
    args.repeats, args.chunk_size, args.pixel_fraction = 1, 64, 0.25
    args.options = [option for option in args.options if option != "compile"]
    args.memory_batch, args.memory_latent_dim, args.memory_sizes = 4, 8, [16, 32]
    args.gemm_size = args.gemm_size or 512


def _fmt_bytes(value: float) -> str:
    return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.memory_child is not None:
        print("MEMORY_RESULT " + json.dumps(peak_memory_child(json.loads(args.memory_child))), flush=True)
        return {}
    if args.quick:
        _apply_quick(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch.cuda.is_available() is False")
    args.naive_repeats = args.repeats if args.naive_repeats is None else min(args.naive_repeats, args.repeats)
    args.encode_batch = args.encode_batch or 2 * args.batch
    gemm_size = args.gemm_size or (8192 if device.type == "cuda" else 2048)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)

    report: dict[str, Any] = {
        **run_record(device, script="speed.py", argv=argv),
        "settings": {key: value for key, value in vars(args).items() if key != "memory_child"},
        "native_bf16": _native_bf16(device),
    }
    log(f"machine: {report['machine']['cpu']}, torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    if not args.memory_only:
        rate_start = gemm_rate(device, gemm_size)
        log(f"GEMM {gemm_size}^3 fp32: {rate_start / 1e9:.1f} GFLOP/s")

        runner = _Runner(args, device)
        report["model"] = {
            "parameters": sum(p.numel() for p in runner.model.parameters()),
            "inr_params_per_sample": runner.model.inr.num_params,
            "config": runner.base_config.to_dict(),
        }
        configs = _step_configs(args, args.options, native_bf16=_native_bf16(device))
        log("timing train steps (round-robin): " + ", ".join(config["name"] for config in configs))
        steps = run_steps(runner, configs, args.repeats, args.naive_repeats, log, warmup=not args.no_warmup)
        report["steps"] = steps
        log("INR forward+backward alone")
        report["inr"] = inr_alone(runner, args, max(args.repeats, 3), gemm_size)
        log("Adam update alone (default and fit's)")
        report["optimizer"] = runner.optimizer_steps(max(args.repeats, 2))
        log("encode() throughput")
        report["encode"] = encode_throughput(runner, args, max(args.repeats, 2))
        rate_end = gemm_rate(device, gemm_size)
        report["gemm"] = {"size": gemm_size, "flop_per_s_start": rate_start, "flop_per_s_end": rate_end, "flop_per_s": max(rate_start, rate_end)}
        del runner
        gc.collect()

    if not args.no_memory:
        memory: dict[str, Any] = {"batch": args.memory_batch, "channels": args.memory_channels, "latent_dim": args.memory_latent_dim}
        chunk = args.memory_chunk_size or args.chunk_size
        encoder = args.memory_encoder or args.encoder
        model_spec = {key: getattr(args, key) for key in ("encoder", "pose", "num_frequencies", "inr_hidden", "hyper_hidden", "head_hidden")}
        model_spec.update(encoder=encoder, channels=args.memory_channels, latent_dim=args.memory_latent_dim)
        if args.memory_runs:
            runs = [(int(size), None if chunk_text == "none" else int(chunk_text)) for size, chunk_text in (item.split(":") for item in args.memory_runs)]
        else:
            runs = [(args.memory_sizes[0], None)] + [(size, chunk) for size in args.memory_sizes]
        memory["encoder"], memory["chunk_size"], memory["runs"] = encoder, chunk, []
        for size, chunk_size in runs:
            log(f"peak memory: {size}x{size}, chunk_size={chunk_size}, B={args.memory_batch} (subprocess)")
            spec = {
                "device": args.device,
                "threads": torch.get_num_threads(),
                "batch": args.memory_batch,
                "chunk_size": chunk_size,
                "model": dict(model_spec, image_size=size),
            }
            result = measure_peak_memory(spec, args.memory_timeout)
            result.update(image_size=size, chunk_size=chunk_size)
            memory["runs"].append(result)
        report["memory"] = memory

    report["summary"] = summarize(report, args)
    report["wall_s"] = time.perf_counter() - started
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
        log(f"wrote {args.json}")
    return report


def summarize(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The headline ratios and the targets of issue 4."""
    summary: dict[str, Any] = {}
    if "steps" in report:
        summary.update(_summarize_steps(report, args))
    memory = report.get("memory")
    if memory:
        runs = [run for run in memory["runs"] if "step" in run]
        chunked = [run for run in runs if run["chunk_size"] is not None]
        if len(chunked) >= 2:
            first, last = chunked[0], chunked[-1]
            summary["memory_growth_chunked"] = {
                "step": last["step"]["peak_bytes"] / max(first["step"]["peak_bytes"], 1),
                "step_delta": last["step"]["step_peak_bytes"] / max(first["step"]["step_peak_bytes"], 1),
                "inr_part_delta": last["inr_part"]["step_peak_bytes"] / max(first["inr_part"]["step_peak_bytes"], 1),
                "sizes": [first["image_size"], last["image_size"]],
            }
    return summary


def _summarize_steps(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    steps = report["steps"]
    encoder = steps["encoder"]["median_s"]
    naive = steps["naive"]["median_s"]
    exact = steps["exact"]["median_s"]
    summary = {
        "step_over_encoder": {name: entry["median_s"] / encoder for name, entry in steps.items()},
        "naive_over_step": {name: naive / entry["median_s"] for name, entry in steps.items()},
        "images_per_s": {name: args.batch / entry["median_s"] for name, entry in steps.items()},
    }
    gemm = report["gemm"]["flop_per_s"]
    summary["inr_fraction_of_gemm"] = report["inr"]["achieved_flop_per_s"] / gemm
    summary["inr_fraction_of_paired_gemm"] = report["inr"]["fraction_of_paired_gemm"]
    summary["inr_share_of_exact_step"] = report["inr"]["median_s"] / exact
    fastest = min((name for name in steps if name not in ("naive", "encoder")), key=lambda name: steps[name]["median_s"])
    steps_per_epoch = math.ceil(args.epoch_images / args.batch)
    naive_steps = math.ceil(args.naive_images / args.batch)
    summary["epoch_estimate"] = {
        "method": "computed: measured median step time x steps (ceil(images / batch)); data loading not included",
        "epoch_images": args.epoch_images,
        "naive_images": args.naive_images,
        "exact_epoch_s": steps_per_epoch * exact,
        "fastest_option": fastest,
        "fastest_epoch_s": steps_per_epoch * steps[fastest]["median_s"],
        "naive_time_for_naive_images_s": naive_steps * naive,
        "naive_epoch_s": steps_per_epoch * naive,
    }
    return summary


def _format_steps(report: dict[str, Any]) -> list[str]:
    summary, steps = report["summary"], report["steps"]
    lines = [
        "",
        f"{'configuration':<15}{'median s':>10}{'min s':>9}{'img/s':>9}{'x encoder':>11}{'naive /':>9}  what",
    ]
    for name, entry in steps.items():
        lines.append(
            f"{name:<15}{entry['median_s']:>10.3f}{entry['min_s']:>9.3f}{summary['images_per_s'][name]:>9.2f}"
            f"{summary['step_over_encoder'][name]:>11.2f}{summary['naive_over_step'][name]:>9.2f}  {entry['what']}"
        )
    inr, gemm = report["inr"], report["gemm"]
    lines += [
        "",
        f"GEMM fp32 {gemm['size']}^3: {gemm['flop_per_s'] / 1e9:.1f} GFLOP/s (start {gemm['flop_per_s_start'] / 1e9:.1f}, end {gemm['flop_per_s_end'] / 1e9:.1f})",
        f"INR forward+backward: {inr['flops']['total'] / 1e9:.3g} GFLOP in {inr['median_s']:.3f} s = "
        f"{inr['achieved_flop_per_s'] / 1e9:.1f} GFLOP/s = {100 * summary['inr_fraction_of_gemm']:.0f} % of the best GEMM rate "
        f"({100 * summary['inr_fraction_of_paired_gemm']:.0f} % of a GEMM timed right after each INR step); "
        f"{100 * summary['inr_share_of_exact_step']:.0f} % of the exact step",
        f"encode() inference: {report['encode']['images_per_s']:.1f} images/s (batch {report['encode']['batch']})",
        f"Adam update of {report['optimizer']['parameters'] / 1e6:.1f}M parameters: default {report['optimizer']['default']['median_s']:.3f} s, "
        f"fit's (fused={report['optimizer']['fit']['fused']}) {report['optimizer']['fit']['median_s']:.3f} s",
    ]
    epoch = summary["epoch_estimate"]
    lines.append(
        f"epoch of {epoch['epoch_images']} images ({epoch['method']}): exact {epoch['exact_epoch_s'] / 60:.1f} min, "
        f"{epoch['fastest_option']} {epoch['fastest_epoch_s'] / 60:.1f} min; naive for {epoch['naive_images']} images "
        f"{epoch['naive_time_for_naive_images_s'] / 60:.1f} min (naive epoch {epoch['naive_epoch_s'] / 60:.1f} min)"
    )
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table."""
    machine, summary = report["machine"], report["summary"]
    lines = [
        f"invariant-inr speed benchmark, {report['date']}",
        f"machine: {machine['cpu']} ({machine['logical_cpus']} logical CPUs, {machine['cpu_flags']}), "
        f"{machine['platform']}, torch {machine['torch']}, {machine['torch_threads']} threads, device {machine['device']}"
        + (f" ({machine['gpu']})" if "gpu" in machine else ""),
        f"command: {report['command']}",
    ]
    if "steps" in report:
        lines += _format_steps(report)
    memory = report.get("memory")
    if memory:
        lines += ["", f"peak memory (B={memory['batch']}, C={memory['channels']}, d={memory['latent_dim']}, encoder {memory['encoder']}, fresh subprocess each):"]
        for run in memory["runs"]:
            label = f"  {run['image_size']}x{run['image_size']} chunk_size={run['chunk_size']}"
            if "error" in run:
                lines.append(f"{label}: {run['error']}")
                continue
            lines.append(
                f"{label}: step peak {_fmt_bytes(run['step']['peak_bytes'])} (+{_fmt_bytes(run['step']['step_peak_bytes'])} during the step), "
                f"INR part +{_fmt_bytes(run['inr_part']['step_peak_bytes'])}  [{run['step']['method']}]"
            )
        if "memory_growth_chunked" in summary:
            growth = summary["memory_growth_chunked"]
            lines.append(
                f"  chunked, {growth['sizes'][0]} -> {growth['sizes'][1]} px side: process peak x{growth['step']:.2f}, "
                f"step delta x{growth['step_delta']:.2f}, INR part x{growth['inr_part_delta']:.2f}"
            )
    lines.append(f"total wall time {report.get('wall_s', 0.0):.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
