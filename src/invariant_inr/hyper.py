r"""The hypernetwork :math:`H_\psi(z) = \eta`: an MLP from the latent code to the INR's weights."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from . import _checks

__all__ = ["HyperMLP"]


class HyperMLP(nn.Module):
    r"""MLP ``[latent_dim, *hidden, out_features]`` with LeakyReLU(0.1) (paper appendix A).

    ``out_features`` is the weight count of the INR it feeds (``FunctionalINR.num_params``); the
    hypernetwork knows nothing else about the INR.

    Initialisation and scaling (the one place they are decided, :meth:`reset_parameters` and
    :meth:`forward`): hidden layers are Kaiming-normal for the LeakyReLU slope, so activations keep
    the scale of ``z``. The output layer is written as
    :math:`\eta_k = g_k\,(w_k \cdot h / \sqrt{n} + b_k)` with :math:`n` the last hidden width,
    trainable :math:`w_k \sim N(0, 1)`, :math:`b_k = 0`, and a fixed gain :math:`g_k` = ``out_scale[k]``.
    Passing the INR's :meth:`~invariant_inr.inr.FunctionalINR.param_scales` makes the generated INR
    start at the scale of PyTorch's default ``nn.Linear`` initialisation for a unit-scale ``z``, with
    every generated weight depending on ``z`` (Chang et al., "Principled weight initialization for
    hypernetworks", ICLR 2020). Outputs whose scale is 0 (the INR's biases) start at 0 (their
    :math:`w_k` rows are zero) and get the mean nonzero gain, so they can still learn.

    Why the gain sits outside the trained weights: Adam moves every weight by about the learning
    rate whatever its gradient's size, and the output layer has tens of thousands of outputs fed
    by ``n`` hidden units, so with a plain ``nn.Linear`` one step moved each generated weight by
    about ``lr * n`` -- at ``lr = 3e-4`` and ``n = 256`` as much as the weight's own initial
    scale -- which made training noisy. With the gain outside, a step moves :math:`\eta_k` by about
    :math:`g_k \cdot lr \cdot \sqrt{n}`, a small fraction of its scale (the same reasoning as
    muP's per-layer learning rates).

    Args:
        latent_dim: ``d``, the size of ``z``.
        out_features: number of generated parameters.
        hidden: hidden widths (paper: ``(256, 256, 256)``).
        negative_slope: LeakyReLU slope (paper: 0.1).
        out_scale: optional ``(out_features,)`` target standard deviation of each output.

    Shape:
        - Input: ``(B, latent_dim)``.
        - Output: ``(B, out_features)``.

    Example:
        >>> import torch
        >>> from invariant_inr.inr import FunctionalINR
        >>> inr = FunctionalINR(8, hidden=(16,), out_channels=1)
        >>> hyper = HyperMLP(4, inr.num_params, hidden=(32, 32), out_scale=inr.param_scales())
        >>> hyper(torch.randn(3, 4)).shape
        torch.Size([3, 161])
    """

    def __init__(
        self,
        latent_dim: int,
        out_features: int,
        hidden: Sequence[int] = (256, 256, 256),
        *,
        negative_slope: float = 0.1,
        out_scale: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
        self.out_features = _checks.check_positive_int(out_features, "out_features")
        self.negative_slope = _checks.check_positive_float(negative_slope, "negative_slope", allow_zero=True)
        widths = (self.latent_dim, *(_checks.check_positive_int(h, "hidden width") for h in hidden))
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(self.negative_slope)]
        self.body = nn.Sequential(*layers)
        self.hidden_width = widths[-1]
        self.out_weight = nn.Parameter(torch.empty(self.out_features, self.hidden_width))
        self.out_bias = nn.Parameter(torch.zeros(self.out_features))
        if out_scale is None:
            out_scale = torch.full((self.out_features,), 1.0 / math.sqrt(self.hidden_width))
        _checks.check_floating(out_scale, "out_scale")
        if out_scale.shape != (self.out_features,):
            raise ValueError(f"out_scale must have shape ({self.out_features},), got {tuple(out_scale.shape)}")
        out_scale = out_scale.detach().clone().float()
        if bool((out_scale < 0).any()) or not bool((out_scale > 0).any()):
            raise ValueError("out_scale must be >= 0 with at least one positive entry")
        gain = torch.where(out_scale > 0, out_scale, out_scale[out_scale > 0].mean())
        self.register_buffer("out_scale", out_scale, persistent=False)
        self.register_buffer("out_gain", gain, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """(Re)initialise as described in the class docstring."""
        for module in self.body:
            if isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight, a=self.negative_slope, nonlinearity="leaky_relu")
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.out_weight.normal_()
            self.out_weight[self.out_scale == 0] = 0.0  # outputs of scale 0 (INR biases) start at 0
            self.out_bias.zero_()

    def forward(self, z: Tensor) -> Tensor:
        if _checks.checks_enabled():
            _checks.check_floating(z, "z")
            if z.ndim != 2 or z.shape[1] != self.latent_dim:
                raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        hidden = self.body(z)  # (B, n)
        raw = torch.addmm(self.out_bias, hidden, self.out_weight.t(), alpha=1.0 / math.sqrt(self.hidden_width))
        return raw * self.out_gain  # (B, out_features)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, out_features={self.out_features}"
