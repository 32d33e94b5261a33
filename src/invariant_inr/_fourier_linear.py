r"""Fourier features fused with the first INR layer: one autograd node, no stored phases.

The unfused chain ``points -> phase -> [cos, sin] -> cat -> baddbmm`` keeps the phases, the two
halves and their concatenation for the backward pass, and autograd's ``cos``/``sin`` backward
recomputes ``sin``/``cos`` of the phases. :func:`fourier_linear` computes the same numbers with
the features written once into one buffer (no ``cat`` copy) and keeps only that buffer: the
derivatives of ``cos`` and ``sin`` are read back from it (:math:`\cos' = -\sin`,
:math:`\sin' = \cos`). The first-layer matmul is the very same ``baddbmm`` call, so the forward
values are bit-identical to the unfused chain.

Phases are always computed in the points' dtype, even under ``torch.autocast``: a bfloat16
phase of tens of radians would be off by a sizeable fraction of a turn. Only the matmuls run in
the autocast dtype.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["fourier_linear"]


def _autocast_state(device_type: str) -> tuple[bool, torch.dtype | None]:
    """Whether autocast is on for ``device_type`` (``"cpu"`` or ``"cuda"``), and its dtype."""
    if device_type not in ("cpu", "cuda"):
        return False, None
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except TypeError:  # PyTorch < 2.4
        enabled = torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()
    if not enabled:
        return False, None
    try:
        return True, torch.get_autocast_dtype(device_type)
    except AttributeError:  # PyTorch < 2.4
        return True, torch.get_autocast_cpu_dtype() if device_type == "cpu" else torch.get_autocast_gpu_dtype()


def _no_autocast(device_type: str) -> Any:
    return torch.autocast(device_type, enabled=False) if device_type in ("cpu", "cuda") else contextlib.nullcontext()


class _FourierLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, points: Tensor, frequencies: Tensor, weight: Tensor, bias: Tensor) -> Tensor:  # type: ignore[override]
        device_type = points.device.type
        autocast, low_dtype = _autocast_state(device_type)
        num_freq = frequencies.shape[0]
        with _no_autocast(device_type):
            # (B, P, 2) @ (2, f) -> (B, P, f), then times 2 pi in place (same rounding as FourierFeatures)
            phase = torch.matmul(points, frequencies.to(points.dtype).t()).mul_(2.0 * math.pi)
            compute_dtype = low_dtype if autocast else torch.promote_types(points.dtype, weight.dtype)
            features = phase.new_empty((*phase.shape[:-1], 2 * num_freq), dtype=compute_dtype)  # (B, P, 2f)
            torch.cos(phase, out=features[..., :num_freq])
            torch.sin(phase, out=features[..., num_freq:])
            del phase
            w = weight.to(compute_dtype)  # (B, out, 2f), or (out, 2f) shared by the batch
            if weight.ndim == 2:  # shared weights: (..., P, 2f) @ (2f, out) + (out,), one flat GEMM
                out = torch.nn.functional.linear(features, w, bias.to(compute_dtype))  # (..., P, out)
            elif features.ndim == 2:  # shared points: (P, 2f) @ (B, 2f, out) + (B, 1, out) -> (B, P, out)
                out = torch.matmul(features, w.transpose(1, 2)) + bias.to(compute_dtype).unsqueeze(1)
            else:  # per-sample points: (B, P, 2f) @ (B, 2f, out) + (B, 1, out) -> (B, P, out)
                out = torch.baddbmm(bias.to(compute_dtype).unsqueeze(1), features, w.transpose(1, 2))
        ctx.save_for_backward(points, frequencies, weight, features)
        ctx.bias_dtype = bias.dtype
        ctx.compute_dtype = compute_dtype
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        points, frequencies, weight, features = ctx.saved_tensors
        need_points, need_freq, need_weight, need_bias = ctx.needs_input_grad[:4]
        grad_points = grad_freq = grad_weight = grad_bias = None
        num_freq = frequencies.shape[0]
        shared = features.ndim == 2
        shared_weight = weight.ndim == 2
        with _no_autocast(points.device.type):
            grad = grad_out.to(ctx.compute_dtype)  # (B, P, out), or (P, out) for shared points and weights
            if need_weight:
                if shared_weight:  # sum over samples and points: (out, B P) @ (B P, 2f) -> (out, 2f)
                    grad_weight = grad.reshape(-1, grad.shape[-1]).t() @ features.reshape(-1, features.shape[-1])
                elif shared:  # (B, out, P) @ (P, 2f) -> (B, out, 2f)
                    grad_weight = torch.matmul(grad.transpose(1, 2), features)
                else:
                    grad_weight = torch.bmm(grad.transpose(1, 2), features)
                grad_weight = grad_weight.to(weight.dtype)
            if need_bias:
                if shared_weight:
                    grad_bias = grad_out.reshape(-1, grad_out.shape[-1]).sum(dim=0, dtype=ctx.bias_dtype)  # (out,)
                else:
                    grad_bias = grad_out.sum(dim=1, dtype=ctx.bias_dtype)  # (B, out)
            if need_points or need_freq:
                grad_features = torch.matmul(grad, weight.to(ctx.compute_dtype))  # (B, P, 2f)
                cos = features[..., :num_freq].to(points.dtype)
                sin = features[..., num_freq:].to(points.dtype)
                grad_cos = grad_features[..., :num_freq].to(points.dtype)
                grad_sin = grad_features[..., num_freq:].to(points.dtype)
                # d/dphase: -sin * grad_cos + cos * grad_sin, times 2 pi from phase = 2 pi x B^T
                grad_phase = torch.addcmul(cos * grad_sin, sin, grad_cos, value=-1.0).mul_(2.0 * math.pi)
                if shared and grad_phase.ndim == 3:
                    grad_phase = grad_phase.sum(dim=0)  # (P, f): the points are shared by the batch
                freq = frequencies.to(points.dtype)
                if need_points:
                    grad_points = torch.matmul(grad_phase, freq)  # (..., P, f) @ (f, 2) -> (..., P, 2)
                if need_freq:  # sum over samples and points of grad_phase^T x: (f, 2)
                    flat_phase = grad_phase.reshape(-1, num_freq)
                    flat_points = points.expand(*grad_phase.shape[:-1], points.shape[-1]).reshape(-1, points.shape[-1])
                    grad_freq = (flat_phase.t() @ flat_points).to(frequencies.dtype)
        return grad_points, grad_freq, grad_weight, grad_bias


def fourier_linear(points: Tensor, frequencies: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    r"""``[cos(2 pi x B^T), sin(2 pi x B^T)] @ W^T + b`` per sample, as one memory-lean autograd node.

    Same values as ``FourierFeatures`` followed by the first layer of a ``FunctionalINR``; the
    backward pass needs no stored phases and no recomputed ``cos``/``sin``.

    Args:
        points: ``(B, P, 2)`` per-sample or ``(P, 2)`` shared points.
        frequencies: ``(f, 2)`` frequency matrix ``B`` (cycles per unit).
        weight: ``(B, out, 2 f)`` per-sample weights, cosine columns first, or ``(out, 2 f)``
            weights shared by the batch (one flat matrix multiply over all samples' points).
        bias: ``(B, out)`` per-sample biases, or ``(out,)`` with shared weights.

    Returns:
        ``(B, P, out)``; ``(P, out)`` when both the points and the weights are shared.

    Example:
        >>> import math, torch
        >>> points, freq = torch.rand(2, 5, 2), torch.randn(3, 2)
        >>> weight, bias = torch.randn(2, 4, 6), torch.randn(2, 4)
        >>> phase = 2 * math.pi * (points @ freq.t())
        >>> features = torch.cat([phase.cos(), phase.sin()], dim=-1)
        >>> expected = torch.baddbmm(bias.unsqueeze(1), features, weight.transpose(1, 2))
        >>> torch.equal(fourier_linear(points, freq, weight, bias), expected)
        True
        >>> shared = fourier_linear(points, freq, weight[0], bias[0])  # one weight for the batch
        >>> torch.allclose(shared, features @ weight[0].t() + bias[0], atol=1e-6)
        True
    """
    return _FourierLinear.apply(points, frequencies, weight, bias)
