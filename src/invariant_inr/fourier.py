r"""Random Fourier features of coordinates (Rahimi & Recht 2007; Tancik et al. 2020).

:math:`\mathrm{FF}(x) = [\cos(2\pi Bx), \sin(2\pi Bx)]` with :math:`B \in \mathbb{R}^{f \times 2}`,
:math:`B_{ij} \sim N(0, \sigma^2)` (paper appendix A: :math:`f = 256`, :math:`\sigma = 2`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import _checks

__all__ = ["FourierFeatures"]


class FourierFeatures(nn.Module):
    r"""Random Fourier feature encoding of points.

    The frequency matrix ``B`` is a buffer (saved in the ``state_dict``, so a reloaded model
    renders the same images) unless ``learnable=True``, when it is a parameter.

    Args:
        num_frequencies: ``f``, the number of random frequencies; the output has ``2 f`` features.
        sigma: standard deviation of the entries of ``B``, in cycles per normalised unit.
        in_features: dimension of the points (2 for images).
        learnable: train ``B`` with the rest of the model.
        generator: optional ``torch.Generator`` used to draw ``B`` (drawn on the CPU).

    Shape:
        - Input: ``(..., in_features)`` points, ``(x, y)`` order for images.
        - Output: ``(..., 2 * num_frequencies)``, cosines first.

    Example:
        >>> import torch
        >>> ff = FourierFeatures(16, sigma=2.0, generator=torch.Generator().manual_seed(0))
        >>> ff(torch.zeros(5, 2)).shape
        torch.Size([5, 32])
        >>> ff(torch.zeros(1, 2))[0, :16].tolist() == [1.0] * 16  # cos(0) = 1
        True
    """

    def __init__(
        self,
        num_frequencies: int = 256,
        sigma: float = 2.0,
        *,
        in_features: int = 2,
        learnable: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.num_frequencies = _checks.check_positive_int(num_frequencies, "num_frequencies", maximum=65536)
        self.sigma = _checks.check_positive_float(sigma, "sigma")
        self.in_features = _checks.check_positive_int(in_features, "in_features", maximum=16)
        self.learnable = bool(learnable)
        frequencies = torch.randn(num_frequencies, in_features, generator=generator) * sigma
        if learnable:
            self.frequencies = nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)

    @property
    def out_features(self) -> int:
        """``2 * num_frequencies``."""
        return 2 * self.num_frequencies

    def forward(self, points: Tensor) -> Tensor:
        if _checks.checks_enabled():
            _checks.check_floating(points, "points")
            if points.shape[-1] != self.in_features:
                raise ValueError(
                    f"points must have shape (..., {self.in_features}), got {tuple(points.shape)}"
                )
        phase = (2.0 * math.pi) * (points @ self.frequencies.to(points.dtype).t())  # (..., f)
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)  # (..., 2f)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, num_frequencies={self.num_frequencies}, "
            f"sigma={self.sigma}, learnable={self.learnable}"
        )
