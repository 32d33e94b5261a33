r"""A learned pose that starts at the canonical rule: the rule applied to a learned weight map.

The paper's pose head regresses the pose from the backbone's features; on a CPU budget it learns
little (measured in ``docs/results.md``: median rotation error 40 degrees after 10 minutes on
MNIST(U)), because a plain CNN must learn rotation-equivariance from data. :class:`WeightMapPose`
builds the equivariance in instead (a *learned canonicalisation function*, Kaba et al., ICML 2023):

.. math::

    w(J) = \max\bigl(b(J) + f_\psi(J),\ 0\bigr), \qquad (\hat\theta, \hat\tau) = \mathrm{rule}(w(J)),

where :math:`b(J)` is the mass the rule itself would weigh the pixels by (the channel sum of
:math:`|J|`, or the robust foreground weights of :func:`~invariant_inr.foreground.foreground_weights`
with ``denoise="auto"``), :math:`f_\psi` a small fully convolutional network whose last layer
starts at zero, and ``rule`` one of the canonical rules of :func:`~invariant_inr.center.canonical_pose`.

Why this form:

* **Warm start.** At initialisation :math:`w = b`, so the pose *is* the rule's pose; training
  (the reconstruction and consistency losses, whose gradients reach :math:`\psi` through the pose,
  and the symmetry-breaking loss) moves it from there rather than from a random guess.
* **Equivariance by construction.** The rule is exactly SE(2)-equivariant in the weights it is
  given. The convolutions are translation-equivariant, and their kernels are symmetrised over the
  four quarter turns, so :math:`f_\psi` commutes with rotations by multiples of 90 degrees
  exactly and with other angles up to interpolation: the pose turns with the image whatever
  :math:`\psi` is, not only once trained.
* **Translation.** The convolutions have no biases, so an empty background stays empty and the
  pose moves with the object wherever it sits (away from the frame's edge).
* **Noise.** :math:`f_\psi` sees a 9 x 9 pixel neighbourhood, enough to learn to take weight off
  isolated noisy pixels.

The canonicalised image :math:`S_{\hat\theta,\hat\tau}[J]` is then what the backbone encodes
(see :class:`~invariant_inr.encoders.Encoder`), so ``z`` is invariant exactly as far as the pose
is equivariant.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks
from .center import CANONICAL_RULES, DENOISE_MODES, canonical_pose
from .foreground import foreground_weights

__all__ = ["QuarterTurnConv2d", "WeightMapPose"]


class QuarterTurnConv2d(nn.Conv2d):
    """A ``Conv2d`` whose kernels are the average of their four quarter turns (odd size, same padding).

    Rotating the input by a multiple of 90 degrees rotates the output the same way, exactly
    (zero padding is itself symmetric), so a stack of them with pointwise activations is
    equivariant to quarter turns; for other angles it is as equivariant as interpolation allows.

    Example:
        >>> import torch
        >>> conv = QuarterTurnConv2d(1, 2, 3)
        >>> x = torch.rand(1, 1, 8, 8)
        >>> torch.allclose(conv(torch.rot90(x, 1, (2, 3))), torch.rot90(conv(x), 1, (2, 3)), atol=1e-6)
        True
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (same padding about the centre pixel), got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)

    def symmetric_weight(self) -> Tensor:
        """The kernels used: ``(out, in, k, k)``, invariant under ``torch.rot90``."""
        w = self.weight
        return (w + torch.rot90(w, 1, (2, 3)) + torch.rot90(w, 2, (2, 3)) + torch.rot90(w, 3, (2, 3))) / 4

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - nn.Conv2d's own argument name
        return F.conv2d(input, self.symmetric_weight(), self.bias, padding=self.padding)


class WeightMapPose(nn.Module):
    r"""Pose :math:`(\hat\theta, \hat\tau)` = the canonical rule on a learned, non-negative weight map.

    See the module docstring for the construction and why it starts at the rule's own pose.

    Args:
        in_channels: image channels ``C``.
        rule: ``"com"``, ``"moments"`` or ``"harmonic"``
            (:func:`~invariant_inr.center.canonical_pose`).
        denoise: ``"none"`` (the base weights are the channel sum of ``|J|``, the rule's own) or
            ``"auto"`` (the robust foreground weights, for noisy images).
        width: channels of the hidden convolutions.

    Shape:
        - Input: ``(B, C, H, W)``.
        - Output: ``theta (B,)`` in ``[0, 2*pi)``, ``tau (B, 2)``, with
          ``transform_images(J, theta, tau)`` canonical.

    Example:
        >>> import torch
        >>> from invariant_inr.center import canonical_pose
        >>> images = torch.rand(3, 1, 16, 16)
        >>> head = WeightMapPose(1, rule="moments")
        >>> theta, tau = head(images)  # untrained: exactly the rule's pose
        >>> expected = canonical_pose(images, "moments")
        >>> torch.allclose(theta, expected[0]), torch.allclose(tau, expected[1])
        (True, True)
    """

    def __init__(
        self,
        in_channels: int,
        *,
        rule: Literal["com", "moments", "harmonic"] = "moments",
        denoise: Literal["none", "auto"] = "none",
        width: int = 16,
    ) -> None:
        super().__init__()
        self.in_channels = _checks.check_positive_int(in_channels, "in_channels")
        self.rule = _checks.check_choice(rule, "rule", CANONICAL_RULES)
        self.denoise = _checks.check_choice(denoise, "denoise", DENOISE_MODES)
        width = _checks.check_positive_int(width, "width")
        # Receptive field 5 + 2 + 2 = 9 pixels. No biases: a blank region maps to exactly 0, so the map
        # adds no mass to an empty background, whose extent (and so the pose) would depend on where
        # the object sits in the frame.
        self.correction = nn.Sequential(
            QuarterTurnConv2d(in_channels, width, 5, bias=False),
            nn.ReLU(inplace=True),
            QuarterTurnConv2d(width, width, 3, bias=False),
            nn.ReLU(inplace=True),
            QuarterTurnConv2d(width, 1, 3, bias=False),
        )
        nn.init.zeros_(self.correction[-1].weight)  # warm start: the map is the rule's own weights

    def base_weights(self, images: Tensor) -> Tensor:
        """The weights the rule itself uses, ``(B, 1, H, W)``, non-negative."""
        if self.denoise == "auto":
            return foreground_weights(images)
        return images.abs().sum(dim=1, keepdim=True)

    def weight_map(self, images: Tensor) -> Tensor:
        """The learned weight map :math:`w(J)`, ``(B, 1, H, W)``, non-negative."""
        _checks.check_images(images)
        if images.shape[1] != self.in_channels:
            raise ValueError(f"images must have {self.in_channels} channel(s), got shape {tuple(images.shape)}")
        return F.relu(self.base_weights(images) + self.correction(images))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return canonical_pose(self.weight_map(images), self.rule)  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, rule={self.rule!r}, denoise={self.denoise!r}"
