r"""An MLP whose weights come from outside (the INR of IRL-INR), evaluated with batched matmuls.

Weight contract: the flat parameter vector of one sample is the concatenation, layer by layer,
of the weight ``(out, in)`` (row-major) and then the bias ``(out,)``. :attr:`FunctionalINR.param_shapes`
lists them in that order and :attr:`FunctionalINR.num_params` is their total, which is what a
:class:`~invariant_inr.hyper.HyperMLP` must produce per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from . import _checks
from ._fourier_linear import fourier_linear

__all__ = ["FunctionalINR", "evaluate_in_chunks"]

Activation = Literal["relu", "leaky_relu", "gelu", "silu", "sine"]
OutputActivation = Literal["identity", "sigmoid"]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "gelu": F.gelu,
    "silu": F.silu,
    "sine": torch.sin,
}


def evaluate_in_chunks(
    fn: Callable[[Tensor, Tensor], Tensor],
    points: Tensor,
    params: Tensor,
    chunk_size: int | None,
    *,
    recompute: bool = True,
) -> Tensor:
    """Evaluate ``fn(points[:, chunk], params)`` chunk by chunk along the point axis and concatenate.

    With ``recompute=True`` and gradients enabled, each chunk runs under activation
    checkpointing: only its inputs and outputs are kept, and the hidden activations are
    recomputed in the backward pass, so peak memory grows with ``chunk_size``, not with the
    number of points.

    Args:
        fn: maps ``(B, Pc, ...)`` points (or shared ``(Pc, ...)``) and ``params`` to ``(B, Pc, C)``.
        points: ``(B, P, ...)`` per-sample or ``(P, ...)`` shared points.
        params: ``(B, K)`` per-sample parameters, passed whole to every chunk.
        chunk_size: points per chunk; ``None`` evaluates everything at once.
        recompute: recompute activations in backward instead of storing them.

    Returns:
        ``(B, P, C)``.

    Example:
        >>> import torch
        >>> fn = lambda pts, p: pts.sum(-1, keepdim=True) * p[:, None, :1]
        >>> pts, p = torch.rand(2, 10, 2), torch.rand(2, 3)
        >>> torch.allclose(evaluate_in_chunks(fn, pts, p, 3), fn(pts, p))
        True
    """
    shared = points.ndim == 2
    num_points = points.shape[0] if shared else points.shape[1]
    if chunk_size is None or chunk_size >= num_points:
        return fn(points, params)
    _checks.check_positive_int(chunk_size, "chunk_size")
    use_checkpoint = recompute and torch.is_grad_enabled() and (params.requires_grad or points.requires_grad)
    outputs = []
    for start in range(0, num_points, chunk_size):
        chunk = points[start : start + chunk_size] if shared else points[:, start : start + chunk_size]
        if use_checkpoint:
            outputs.append(checkpoint(fn, chunk, params, use_reentrant=False))
        else:
            outputs.append(fn(chunk, params))
    return torch.cat(outputs, dim=1)  # (B, P, C)


class FunctionalINR(nn.Module):
    r"""A multilayer perceptron :math:`I(\cdot\,; \eta)` with per-sample weights :math:`\eta`.

    It owns no trainable parameters; ``forward`` takes them. Every layer is one batched matmul
    over the whole batch (``torch.baddbmm``); there is no loop over samples.

    Args:
        in_features: input features per point (``2 f`` for Fourier features of ``f`` frequencies).
        hidden: widths of the hidden layers (paper: ``(256, 256, 256)``).
        out_channels: output channels ``C`` (1 for greyscale, 3 for RGB).
        activation: hidden activation, ``"relu"`` by default.
        output_activation: ``"identity"`` (default) or ``"sigmoid"`` for outputs in ``(0, 1)``.
        chunk_size: default number of points evaluated at a time (``None``: all at once); see
            :func:`evaluate_in_chunks`.

    Shape:
        - inputs: ``(B, P, in_features)`` per sample, or ``(P, in_features)`` shared by the batch.
        - params: ``(B, num_params)``.
        - output: ``(B, P, out_channels)``.

    Example:
        >>> import torch
        >>> inr = FunctionalINR(8, hidden=(16, 16), out_channels=3)
        >>> inr.num_params, [shape for _, shape in inr.param_shapes][:2]
        (467, [(16, 8), (16,)])
        >>> params = inr.init_params().expand(4, -1)
        >>> inr(torch.rand(100, 8), params).shape
        torch.Size([4, 100, 3])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (256, 256, 256),
        out_channels: int = 1,
        *,
        activation: Activation = "relu",
        output_activation: OutputActivation = "identity",
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.in_features = _checks.check_positive_int(in_features, "in_features")
        self.hidden = tuple(_checks.check_positive_int(h, "hidden width") for h in hidden)
        self.out_channels = _checks.check_positive_int(out_channels, "out_channels")
        self.activation = _checks.check_choice(activation, "activation", tuple(_ACTIVATIONS))
        self.output_activation = _checks.check_choice(output_activation, "output_activation", ("identity", "sigmoid"))
        self.chunk_size = None if chunk_size is None else _checks.check_positive_int(chunk_size, "chunk_size")
        widths = (self.in_features, *self.hidden, self.out_channels)
        self.layer_sizes: tuple[tuple[int, int], ...] = tuple(zip(widths[:-1], widths[1:]))  # (in, out)

    @property
    def param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of each weight and bias, in the order of the flat parameter vector."""
        shapes: list[tuple[str, tuple[int, ...]]] = []
        for index, (fan_in, fan_out) in enumerate(self.layer_sizes):
            shapes.append((f"layers.{index}.weight", (fan_out, fan_in)))
            shapes.append((f"layers.{index}.bias", (fan_out,)))
        return shapes

    @property
    def num_params(self) -> int:
        """Length of the flat per-sample parameter vector."""
        return sum(fan_out * fan_in + fan_out for fan_in, fan_out in self.layer_sizes)

    def param_scales(self) -> Tensor:
        """Per-entry standard deviation of a He (Kaiming-uniform) initialisation, ``(num_params,)``.

        Weights of layer ``l`` get ``1 / sqrt(fan_in)`` (PyTorch's ``nn.Linear`` default scale),
        biases 0. A hypernetwork uses this to generate weights in a sane range at initialisation.
        """
        scales = []
        for fan_in, fan_out in self.layer_sizes:
            scales.append(torch.full((fan_out * fan_in,), 1.0 / math.sqrt(fan_in)))
            scales.append(torch.zeros(fan_out))
        return torch.cat(scales)

    def init_params(self, generator: torch.Generator | None = None) -> Tensor:
        """One flat parameter vector drawn like ``nn.Linear``'s default initialisation, ``(1, num_params)``."""
        scale = self.param_scales()
        uniform = torch.rand(scale.shape, generator=generator) * 2.0 - 1.0
        return (uniform * scale * math.sqrt(3.0)).unsqueeze(0)  # U(-a, a) has std a / sqrt(3)

    def unflatten(self, params: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Split ``(B, num_params)`` into per-layer ``(weight (B, out, in), bias (B, out))`` views."""
        batch = params.shape[0]
        sizes = [size for fan_in, fan_out in self.layer_sizes for size in (fan_out * fan_in, fan_out)]
        # one split (its backward is one concatenation) rather than a slice per tensor (whose
        # backward writes a zero-filled (B, num_params) gradient each)
        pieces = params.split(sizes, dim=1)
        return [
            (pieces[2 * index].view(batch, fan_out, fan_in), pieces[2 * index + 1])
            for index, (fan_in, fan_out) in enumerate(self.layer_sizes)
        ]

    def _hidden_layers(self, hidden: Tensor, layers: list[tuple[Tensor, Tensor]], first: int) -> Tensor:
        """Apply ``layers[first:]``; ``hidden`` is the input (``first == 0``) or layer ``first - 1``'s pre-activation."""
        act = _ACTIVATIONS[self.activation]
        for index in range(first, len(layers)):
            if index > 0:  # activation of the previous (hidden) layer; in place for ReLU, as the
                # matmul that produced ``hidden`` does not keep its output for backward
                hidden = torch.relu_(hidden) if self.activation == "relu" else act(hidden)
            weight, bias = layers[index]
            if hidden.ndim == 2:  # shared (P, F): one broadcast matmul, (P, F) @ (B, F, out) -> (B, P, out)
                hidden = torch.matmul(hidden, weight.transpose(1, 2)) + bias.unsqueeze(1)
            else:  # (B, P, F) @ (B, F, out) + (B, 1, out) -> (B, P, out)
                hidden = torch.baddbmm(bias.unsqueeze(1), hidden, weight.transpose(1, 2))
        return torch.sigmoid(hidden) if self.output_activation == "sigmoid" else hidden

    def _evaluate(self, inputs: Tensor, params: Tensor) -> Tensor:
        return self._hidden_layers(inputs, self.unflatten(params), 0)

    def _evaluate_fourier(self, points: Tensor, frequencies: Tensor, params: Tensor) -> Tensor:
        """``_evaluate(FourierFeatures(points), params)`` with the features fused into the first layer.

        ``points`` ``(B, P, 2)`` or ``(P, 2)``, ``frequencies`` ``(f, 2)`` with ``2 f == in_features``.
        Same values; less memory and time (see :mod:`invariant_inr._fourier_linear`).
        """
        layers = self.unflatten(params)
        weight, bias = layers[0]
        hidden = fourier_linear(points, frequencies, weight, bias)  # (B, P, hidden[0])
        return self._hidden_layers(hidden, layers, 1)

    def forward(self, inputs: Tensor, params: Tensor, *, chunk_size: int | None = None) -> Tensor:
        if _checks.checks_enabled():
            check_points_and_codes(inputs, params, "params", self.num_params, self.in_features)
        chunk = chunk_size if chunk_size is not None else self.chunk_size
        return evaluate_in_chunks(self._evaluate, inputs, params, chunk)

    def extra_repr(self) -> str:
        widths = "-".join(str(w) for w in (self.in_features, *self.hidden, self.out_channels))
        return (
            f"widths={widths}, num_params={self.num_params}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}, chunk_size={self.chunk_size}"
        )


def check_points_and_codes(inputs: Tensor, codes: Tensor, name: str, width: int, in_features: int) -> None:
    """Check an INR's inputs ``(B, P, D)`` or shared ``(P, D)`` against its per-image ``codes`` ``(B, width)``.

    Shared by :class:`FunctionalINR` (``codes`` = its weights) and
    :class:`~invariant_inr.modulated.ModulatedINR` (``codes`` = its modulations).
    """
    _checks.check_floating(inputs, "inputs")
    _checks.check_floating(codes, name)
    if codes.ndim != 2 or codes.shape[1] != width:
        raise ValueError(f"{name} must have shape (B, {width}), got {tuple(codes.shape)}")
    if inputs.ndim not in (2, 3) or inputs.shape[-1] != in_features:
        raise ValueError(f"inputs must have shape (B, P, {in_features}) or (P, {in_features}), got {tuple(inputs.shape)}")
    if inputs.ndim == 3 and inputs.shape[0] != codes.shape[0]:
        raise ValueError(f"inputs have batch size {inputs.shape[0]} but {name} have {codes.shape[0]}")
