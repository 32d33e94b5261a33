r"""A modulated INR: one MLP shared by all images, each image only shifting (and scaling) its layers.

Instead of generating every weight of the INR per image (:class:`~invariant_inr.inr.FunctionalINR`,
the paper), the weights :math:`W_l, b_l` are ordinary trainable parameters shared by the batch,
and each image contributes per-layer *modulations* (Perez et al., FiLM, 2018; Dupont et al.,
functa, ICML 2022 and COIN++, 2022):

.. math::

    h_{l+1} = \mathrm{act}\big(s_l \odot (W_l h_l + b_l) + t_l\big),\qquad s_l = 1 + \sigma_l,

with a per-image shift :math:`t_l` (``"shift"``) and optionally a per-image scale deviation
:math:`\sigma_l` (``"scale_shift"``) for every hidden layer; the output layer is not modulated.
A hypernetwork then emits ``sum(hidden)`` (or twice that) numbers per image instead of every
weight: for the ``mnist-quick`` sizes 384 instead of 73,921, so its output layer and its Adam
state shrink by a factor of about 190, and each INR layer is one large matrix multiply over all
images' points instead of a batched one.

Modulation contract: the flat modulation vector of one sample is the concatenation, hidden layer
by hidden layer, of its shift ``(width,)`` and then, with ``"scale_shift"``, its scale deviation
``(width,)``. :attr:`ModulatedINR.modulation_shapes` lists them in that order and
:attr:`ModulatedINR.num_modulations` is their total, which is what a
:class:`~invariant_inr.hyper.HyperMLP` must produce per sample.

In :class:`~invariant_inr.IRLINR` it is selected with ``hypernetwork="shift"`` or
``"scale_shift"`` (``"full"``, the default, is the paper's hypernetwork); pixel subsampling
(``pixel_fraction``) and chunked evaluation (``chunk_size``) work as with the full one.

Example:
    >>> import torch
    >>> from invariant_inr import IRLINR
    >>> model = IRLINR(1, 16, 8, encoder="small", num_frequencies=16, inr_hidden=(32, 32),
    ...                hyper_hidden=(32,), head_hidden=(64,), hypernetwork="shift")
    >>> model.hyper.out_features  # one shift per hidden unit, instead of every INR weight
    64
    >>> model.loss(torch.rand(4, 1, 16, 16)).total.backward()
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from . import _checks
from ._fourier_linear import fourier_linear
from .inr import _ACTIVATIONS, check_points_and_codes, evaluate_in_chunks

__all__ = ["MODULATIONS", "ModulatedINR"]

Modulation = Literal["shift", "scale_shift"]
MODULATIONS: tuple[str, ...] = ("shift", "scale_shift")
"""The kinds of modulation :class:`ModulatedINR` supports."""


class ModulatedINR(nn.Module):
    r"""An MLP with shared trainable weights and per-sample modulations of its hidden layers.

    ``forward`` takes the per-sample modulations; every layer is one matrix multiply over all
    samples' points at once (no loop over samples). Same call signature and output as
    :class:`~invariant_inr.inr.FunctionalINR`, with ``modulations`` in place of ``params``.

    Initialisation (:meth:`reset_parameters`): weights uniform with standard deviation
    ``1 / sqrt(fan_in)`` and zero biases, the scale :meth:`FunctionalINR.param_scales
    <invariant_inr.inr.FunctionalINR.param_scales>` gives the generated weights of the full
    hypernetwork, so both start as functions of the same scale.

    Args:
        in_features: input features per point (``2 f`` for Fourier features of ``f`` frequencies).
        hidden: widths of the hidden layers (at least one: there is nothing to modulate otherwise).
        out_channels: output channels ``C``.
        modulation: ``"shift"`` (per-layer shifts, functa) or ``"scale_shift"`` (FiLM: scales and shifts).
        activation: hidden activation, ``"relu"`` by default.
        output_activation: ``"identity"`` (default) or ``"sigmoid"``.
        chunk_size: default number of points evaluated at a time (``None``: all at once); see
            :func:`~invariant_inr.inr.evaluate_in_chunks`.

    Shape:
        - inputs: ``(B, P, in_features)`` per sample, or ``(P, in_features)`` shared by the batch.
        - modulations: ``(B, num_modulations)``.
        - output: ``(B, P, out_channels)``.

    Example:
        >>> import torch
        >>> inr = ModulatedINR(8, hidden=(16, 16), out_channels=3)
        >>> inr.num_modulations, inr.modulation_shapes[0]
        (32, ('layers.0.shift', (16,)))
        >>> modulations = torch.zeros(4, inr.num_modulations)  # zero modulations: the shared MLP
        >>> out = inr(torch.rand(100, 8), modulations)
        >>> out.shape, torch.equal(out[0], out[3])
        (torch.Size([4, 100, 3]), True)
        >>> ModulatedINR(8, hidden=(16, 16), modulation="scale_shift").num_modulations
        64
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (256, 256, 256),
        out_channels: int = 1,
        *,
        modulation: Modulation = "shift",
        activation: str = "relu",
        output_activation: str = "identity",
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.in_features = _checks.check_positive_int(in_features, "in_features")
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(f"hidden must be a sequence of layer widths such as (256, 256), got {_checks.describe(hidden)}")
        self.hidden = tuple(_checks.check_positive_int(h, "hidden width") for h in hidden)
        if not self.hidden:
            raise ValueError("a ModulatedINR needs at least one hidden layer (the layers it modulates), got hidden=()")
        self.out_channels = _checks.check_positive_int(out_channels, "out_channels")
        self.modulation = _checks.check_choice(modulation, "modulation", MODULATIONS)
        self.activation = _checks.check_choice(activation, "activation", tuple(_ACTIVATIONS))
        self.output_activation = _checks.check_choice(output_activation, "output_activation", ("identity", "sigmoid"))
        self.chunk_size = None if chunk_size is None else _checks.check_positive_int(chunk_size, "chunk_size")
        widths = (self.in_features, *self.hidden, self.out_channels)
        self.layer_sizes: tuple[tuple[int, int], ...] = tuple(zip(widths[:-1], widths[1:]))  # (in, out)
        self.layers = nn.ModuleList(nn.Linear(fan_in, fan_out) for fan_in, fan_out in self.layer_sizes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """(Re)initialise as described in the class docstring."""
        for layer in self.layers:
            bound = math.sqrt(3.0 / layer.in_features)  # U(-a, a) has std a / sqrt(3) = 1 / sqrt(fan_in)
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)

    # ------------------------------------------------------------------------- modulation contract
    @property
    def modulation_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of each modulation, in the order of the flat modulation vector."""
        kinds = ("shift",) if self.modulation == "shift" else ("shift", "scale")
        return [(f"layers.{index}.{kind}", (width,)) for index, width in enumerate(self.hidden) for kind in kinds]

    @property
    def num_modulations(self) -> int:
        """Length of the flat per-sample modulation vector."""
        return sum(math.prod(shape) for _, shape in self.modulation_shapes)

    def modulation_scales(self) -> Tensor:
        r"""Target standard deviation of each modulation at initialisation, ``(num_modulations,)``.

        Shifts of layer ``l`` get :math:`2^{-(l+1)/2}`: the standard deviation of that layer's
        pre-activation at initialisation for Fourier-feature inputs (mean square 1/2, halved by
        each ReLU), so at the start each image's code moves every pre-activation about as much
        as the points do, as it does with the full hypernetwork, whose generated weights all
        depend on ``z``. Scale deviations get 0: the scales start at exactly 1 and are learned
        (:class:`~invariant_inr.hyper.HyperMLP` still gives their outputs a nonzero gain).
        """
        scales = []
        for name, (width,) in self.modulation_shapes:
            index = int(name.split(".")[1])
            std = 2.0 ** (-(index + 1) / 2) if name.endswith("shift") else 0.0
            scales.append(torch.full((width,), std))
        return torch.cat(scales)

    def unflatten(self, modulations: Tensor) -> list[tuple[Tensor, Tensor | None]]:
        """Split ``(B, num_modulations)`` into per-hidden-layer ``(shift (B, width), scale deviation (B, width) or None)``."""
        sizes = [math.prod(shape) for _, shape in self.modulation_shapes]
        pieces = modulations.split(sizes, dim=1)  # one split: its backward is one concatenation
        if self.modulation == "shift":
            return [(shift, None) for shift in pieces]
        return [(pieces[2 * index], pieces[2 * index + 1]) for index in range(len(self.hidden))]

    # --------------------------------------------------------------------------------- evaluation
    def _modulate(self, pre: Tensor, bias: Tensor, shift: Tensor, scale: Tensor | None) -> Tensor:
        """``(1 + scale) * (pre + bias) + shift`` per sample: pre ``(B, P, w)`` or shared ``(P, w)`` -> ``(B, P, w)``."""
        if scale is None:  # the bias folded into the shift: one add over the points
            return pre + (shift + bias).unsqueeze(1)  # (B, P, w) or (P, w) + (B, 1, w)
        gain = (1.0 + scale).unsqueeze(1)  # (B, 1, w)
        return torch.addcmul((shift + bias * (1.0 + scale)).unsqueeze(1), pre, gain)  # (B, P, w)

    def _layers(self, pre: Tensor, mods: list[tuple[Tensor, Tensor | None]]) -> Tensor:
        """All layers, given the first layer's unbiased, unmodulated pre-activation ``pre`` ``(B, P, w0)`` or ``(P, w0)``."""
        act = _ACTIVATIONS[self.activation]
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            if index > 0:  # (B, P, w_in) @ (w_in, w_out): one flat matrix multiply over all samples' points
                pre = torch.matmul(hidden, layer.weight.t())  # (B, P, w_out)
            if index == last:
                out = pre + layer.bias  # (B, P, C): not modulated
                return torch.sigmoid(out) if self.output_activation == "sigmoid" else out
            shift, scale = mods[index]
            hidden = self._modulate(pre, layer.bias, shift, scale)  # (B, P, w_out)
            # in place for ReLU: the add that produced ``hidden`` keeps nothing for backward
            hidden = torch.relu_(hidden) if self.activation == "relu" else act(hidden)
        raise AssertionError("unreachable: the last layer returns")

    def _evaluate(self, inputs: Tensor, modulations: Tensor) -> Tensor:
        first = self.layers[0]
        pre = torch.matmul(inputs, first.weight.t())  # (B, P, w0) or shared (P, w0)
        return self._layers(pre, self.unflatten(modulations))

    def _evaluate_fourier(self, points: Tensor, frequencies: Tensor, modulations: Tensor) -> Tensor:
        """``_evaluate(FourierFeatures(points), modulations)`` with the features fused into the first layer.

        ``points`` ``(B, P, 2)`` or ``(P, 2)``, ``frequencies`` ``(f, 2)`` with ``2 f == in_features``.
        """
        first = self.layers[0]
        zero_bias = first.bias.new_zeros(()).expand_as(first.bias)  # the bias joins the modulation
        pre = fourier_linear(points, frequencies, first.weight, zero_bias)  # (B, P, w0) or (P, w0)
        return self._layers(pre, self.unflatten(modulations))

    def forward(self, inputs: Tensor, modulations: Tensor, *, chunk_size: int | None = None) -> Tensor:
        if _checks.checks_enabled():
            check_points_and_codes(inputs, modulations, "modulations", self.num_modulations, self.in_features)
        chunk = chunk_size if chunk_size is not None else self.chunk_size
        return evaluate_in_chunks(self._evaluate, inputs, modulations, chunk)

    def extra_repr(self) -> str:
        widths = "-".join(str(w) for w in (self.in_features, *self.hidden, self.out_channels))
        return (
            f"widths={widths}, modulation={self.modulation!r}, num_modulations={self.num_modulations}, "
            f"activation={self.activation!r}, output_activation={self.output_activation!r}, chunk_size={self.chunk_size}"
        )
