"""The sprite shapes: their names and signed distance functions (square, ellipse, heart) in the canonical pose."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .. import _checks

__all__ = ["SPRITE_SHAPES"]


SPRITE_SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
"""Shapes :func:`render_sprites` can draw. Symmetries: square 90 degrees, ellipse 180 degrees
(and two mirror axes), heart none under rotation (one mirror axis, the ``y`` axis)."""

# Every shape fits in a disk of this radius (normalised units) at scale 1, centred at the origin.
_SPRITE_RADIUS = 0.5
_SQUARE_HALF_SIDE = _SPRITE_RADIUS / math.sqrt(2.0)  # corners on the circle
_ELLIPSE_AXES = (0.5 * _SPRITE_RADIUS, _SPRITE_RADIUS)  # (x, y) semi-axes: upright, long axis along y
# Inigo Quilez's exact heart SDF has its tip at (0, 0) and its lobes (radius sqrt(2)/4) centred at
# (+-0.25, 0.75); we move its bounding box centre (0, _HEART_SHIFT) to the origin and shrink it by
# _HEART_UNIT so that its farthest point lies on the circle of radius _SPRITE_RADIUS.
_HEART_LOBE = (0.25, 0.75)
_HEART_LOBE_RADIUS = math.sqrt(2.0) / 4.0
_HEART_SHIFT = (_HEART_LOBE[1] + _HEART_LOBE_RADIUS) / 2.0
_HEART_UNIT = _SPRITE_RADIUS / (math.hypot(_HEART_LOBE[0], _HEART_LOBE[1] - _HEART_SHIFT) + _HEART_LOBE_RADIUS)


def _sdf_square(x: Tensor, y: Tensor) -> Tensor:
    """Exact signed distance to the square of half-side ``_SQUARE_HALF_SIDE``; ``x, y`` ``(b, P)``."""
    qx, qy = x.abs() - _SQUARE_HALF_SIDE, y.abs() - _SQUARE_HALF_SIDE
    outside = torch.hypot(qx.clamp(min=0.0), qy.clamp(min=0.0))
    return outside + torch.maximum(qx, qy).clamp_(max=0.0)


def _sdf_ellipse(x: Tensor, y: Tensor) -> Tensor:
    """First-order signed distance ``f / |grad f|`` to the upright ellipse (exact on its boundary)."""
    a, b = _ELLIPSE_AXES
    u, v = x / a, y / b
    f = u * u + v * v - 1.0
    grad = torch.hypot(u / a, v / b).mul_(2.0).clamp_(min=1e-6)
    return f.div_(grad)


def _sdf_heart(x: Tensor, y: Tensor) -> Tensor:
    """Exact signed distance to the heart (Inigo Quilez's ``sdHeart``), centred and scaled."""
    x = x.abs() / _HEART_UNIT
    y = y / _HEART_UNIT + _HEART_SHIFT
    lobe = torch.hypot(x - _HEART_LOBE[0], y - _HEART_LOBE[1]) - _HEART_LOBE_RADIUS
    to_top = x * x + (y - 1.0) ** 2
    half = (x + y).clamp(min=0.0).mul_(0.5)
    to_edge = (x - half) ** 2 + (y - half) ** 2
    lower = torch.minimum(to_top, to_edge).sqrt_().mul_(torch.sign(x - y))
    return torch.where(x + y > 1.0, lobe, lower).mul_(_HEART_UNIT)


_SDFS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"square": _sdf_square, "ellipse": _sdf_ellipse, "heart": _sdf_heart}


def _check_shapes(shapes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(shapes, str) or not isinstance(shapes, Sequence) or len(shapes) == 0:
        raise TypeError(f"shapes must be a non-empty sequence of names from {list(SPRITE_SHAPES)}, got {shapes!r}")
    for shape in shapes:
        _checks.check_choice(shape, "each shape", SPRITE_SHAPES)
    return tuple(shapes)
