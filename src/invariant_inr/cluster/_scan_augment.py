r"""SCAN's default image augmentation: a random rotation then translation ("R + T", paper appendix C)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks
from ..se2 import grid_spacing, transform_images

__all__ = ["random_rotate_translate"]


TWO_PI = 2.0 * math.pi


def random_rotate_translate(
    images: Tensor,
    max_translation: float = 0.07,
    *,
    generator: torch.Generator | None = None,
    return_pose: bool = False,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    r"""Randomly rotate, then translate, each image: the "R + T" augmentation of the paper's appendix C.

    Per sample, :math:`\theta \sim U[0, 2\pi)` and a shift :math:`t` uniform in
    :math:`[-T_x, T_x] \times [-T_y, T_y]` with :math:`T_x` = ``max_translation`` times the image
    width and :math:`T_y` = ``max_translation`` times the height (in pixels), like torchvision's
    ``RandomRotation(180)`` followed by ``RandomAffine(0, translate=(a, a))``. The map
    :math:`x \mapsto R_\theta x + t` equals :math:`S_{\theta,\tau}` with
    :math:`\tau = R_{-\theta} t`, applied with one batched :func:`invariant_inr.se2.transform_images`.
    Random numbers are drawn on the generator's device (the CPU by default), then moved.

    Args:
        images: ``(B, C, H, W)`` floating images.
        max_translation: :math:`a`, the largest shift as a fraction of the image side (0.07 in the paper).
        generator: optional ``torch.Generator`` for reproducibility.
        return_pose: also return the applied pose ``(theta (B,), tau (B, 2))``.

    Returns:
        ``(B, C, H, W)`` augmented images, or ``(images, theta, tau)`` when ``return_pose``.

    Example:
        >>> import torch
        >>> out, theta, tau = random_rotate_translate(torch.rand(4, 1, 16, 16), return_pose=True,
        ...                                           generator=torch.Generator().manual_seed(0))
        >>> out.shape, theta.shape, tau.shape
        (torch.Size([4, 1, 16, 16]), torch.Size([4]), torch.Size([4, 2]))
    """
    _checks.check_images(images, finite=False)
    limit = _checks.check_positive_float(max_translation, "max_translation", allow_zero=True)
    batch, _, height, width = images.shape
    gen_device = generator.device if generator is not None else torch.device("cpu")
    theta = torch.rand(batch, generator=generator, device=gen_device, dtype=torch.float64) * TWO_PI  # (B,)
    unit = torch.rand(batch, 2, generator=generator, device=gen_device, dtype=torch.float64) * 2 - 1  # (B, 2)
    side = torch.tensor([width, height], device=gen_device, dtype=torch.float64)  # (x, y) extents in pixels
    shift = unit * limit * side * grid_spacing(height, width)  # (B, 2), normalised units
    cos, sin = torch.cos(theta), torch.sin(theta)
    tau = torch.stack(
        [cos * shift[:, 0] + sin * shift[:, 1], -sin * shift[:, 0] + cos * shift[:, 1]], dim=-1
    )  # R_{-theta} t
    theta = theta.to(device=images.device, dtype=images.dtype)
    tau = tau.to(device=images.device, dtype=images.dtype)
    moved = transform_images(images, theta, tau)
    return (moved, theta, tau) if return_pose else moved
