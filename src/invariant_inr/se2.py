r"""SE(2) pose math on points and images, batched.

Convention (used by every function of this package):
    * A pose is a pair ``(theta, tau)``: ``theta`` of shape ``(B,)`` in radians, counter-clockwise
      positive; ``tau`` of shape ``(B, 2)`` in ``(x, y)`` order, in the normalised units below.
    * Points are ``(x, y)`` with ``x`` pointing right and ``y`` pointing **up** (mathematical
      axes), so a positive angle turns an image counter-clockwise on screen, like
      ``torch.rot90(images, 1, dims=(-2, -1))``.
    * An ``H x W`` image is sampled on a uniform grid of pixel centres whose longer side spans
      ``[-1, 1]`` (``linspace(-1, 1, n)``, corners included); pixels are square, so a square image
      covers exactly ``[-1, 1]^2`` and one pixel step is ``2 / (max(H, W) - 1)``. Row 0 is the top
      (``y`` largest). The origin, the centre of rotation, is the centre of the image.
    * :math:`S_{\theta,\tau}(x) = R_\theta(x + \tau)` (translate, then rotate about the origin),
      the paper's :math:`S = R_\theta \circ T_\tau`.
    * ``transform_images(J, theta, tau)`` is :math:`S_{\theta,\tau}[J]`, the image whose content is
      moved by :math:`S`: :math:`S_{\theta,\tau}[J](x) = J(S^{-1}_{\theta,\tau}(x))`. A feature of
      ``J`` at point ``p`` appears at ``transform_points(p, theta, tau)``.

Example:
    >>> import math, torch
    >>> from invariant_inr import se2
    >>> images = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    >>> theta = torch.full((2,), math.pi / 2, dtype=torch.float64)
    >>> tau = torch.zeros(2, 2, dtype=torch.float64)
    >>> turned = se2.transform_images(images, theta, tau)
    >>> torch.allclose(turned, torch.rot90(images, 1, dims=(-2, -1)))
    True
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks

__all__ = [
    "ImageTransform",
    "compose",
    "coordinate_grid",
    "grid_spacing",
    "inverse",
    "random_pose",
    "rotation_matrix",
    "transform_images",
    "transform_points",
    "wrap_angle",
]

TWO_PI = 2.0 * math.pi


def wrap_angle(theta: Tensor) -> Tensor:
    """Wrap angles to ``[0, 2*pi)``.

    Example:
        >>> import math, torch
        >>> wrap_angle(torch.tensor([-math.pi / 2, 5 * math.pi])).tolist()  # doctest: +ELLIPSIS
        [4.71238..., 3.14159...]
    """
    wrapped = torch.remainder(theta, TWO_PI)
    # remainder rounds tiny negative angles up to exactly 2*pi; fold that value back to 0
    return torch.where(wrapped >= TWO_PI, wrapped - TWO_PI, wrapped)


def rotation_matrix(theta: Tensor) -> Tensor:
    r"""Counter-clockwise rotation matrices :math:`R_\theta`.

    Args:
        theta: angles in radians, shape ``(B,)`` (any shape ``(...)`` works).

    Returns:
        ``(..., 2, 2)`` matrices ``[[cos, -sin], [sin, cos]]``.

    Example:
        >>> import math, torch
        >>> rotation_matrix(torch.tensor([math.pi / 2])).round().abs().tolist()
        [[[0.0, 1.0], [1.0, 0.0]]]
    """
    cos, sin = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def _rotate(vectors: Tensor, theta: Tensor) -> Tensor:
    """Rotate ``vectors`` ``(B or 1, ..., 2)`` by per-sample ``theta`` ``(B,)``; broadcasts over the middle axes."""
    shape = (theta.shape[0],) + (1,) * (vectors.ndim - 2)
    cos, sin = torch.cos(theta).view(shape), torch.sin(theta).view(shape)
    x, y = vectors[..., 0], vectors[..., 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)


def _apply_pose(points: Tensor, theta: Tensor, tau: Tensor) -> Tensor:
    """Apply R_theta(x + tau) to ``points`` ``(B or 1, ..., 2)``, without checks."""
    shift = tau.view(tau.shape[0], *([1] * (points.ndim - 2)), 2)
    return _rotate(points + shift, theta)  # translate first, then rotate


def transform_points(points: Tensor, theta: Tensor, tau: Tensor) -> Tensor:
    r"""Apply :math:`S_{\theta,\tau}(x) = R_\theta(x + \tau)` to points.

    Convention: ``(x, y)`` order, ``y`` up, radians, counter-clockwise positive, rotation about
    the origin (see the module docstring).

    Args:
        points: ``(N, 2)`` points shared by the whole batch, or ``(B, N, 2)`` per-sample points
            (any number of middle axes is allowed for per-sample points: ``(B, H, W, 2)``). A 2-D
            tensor is always read as shared points.
        theta: ``(B,)`` angles in radians.
        tau: ``(B, 2)`` translations.

    Returns:
        ``(B, N, 2)`` (or ``(B, ..., 2)``) transformed points.

    Example:
        >>> import math, torch
        >>> p = torch.tensor([[1.0, 0.0]])
        >>> transform_points(p, torch.tensor([math.pi / 2]), torch.tensor([[1.0, 0.0]])).round()
        tensor([[[0., 2.]]])
    """
    _checks.check_points(points)
    _checks.check_pose(theta, tau)
    if points.ndim == 2:
        points = points.unsqueeze(0)  # shared (N, 2) -> (1, N, 2), broadcast over B
    elif _checks.checks_enabled() and points.shape[0] != theta.shape[0]:
        raise ValueError(f"points have batch size {points.shape[0]} but theta/tau have {theta.shape[0]}")
    return _apply_pose(points, theta, tau)


def compose(theta1: Tensor, tau1: Tensor, theta2: Tensor, tau2: Tensor) -> tuple[Tensor, Tensor]:
    r"""The pose of :math:`S_1 \circ S_2` (apply pose 2 first, then pose 1).

    :math:`R_1(R_2(x + \tau_2) + \tau_1) = R_{\theta_1+\theta_2}(x + \tau_2 + R_{-\theta_2}\tau_1)`.

    Returns:
        ``(theta, tau)`` with ``theta`` wrapped to ``[0, 2*pi)``.

    Example:
        >>> import torch
        >>> t, s = torch.rand(3), torch.randn(3, 2)
        >>> ti, si = inverse(t, s)
        >>> theta, tau = compose(t, s, ti, si)
        >>> bool(torch.allclose(tau, torch.zeros(3, 2), atol=1e-6))
        True
    """
    _checks.check_pose(theta1, tau1, theta_name="theta1", tau_name="tau1")
    _checks.check_pose(theta2, tau2, theta1.shape[0], theta_name="theta2", tau_name="tau2")
    tau = tau2 + _rotate(tau1, -theta2)
    return wrap_angle(theta1 + theta2), tau


def inverse(theta: Tensor, tau: Tensor) -> tuple[Tensor, Tensor]:
    r"""The pose of :math:`S^{-1}_{\theta,\tau}(y) = R_{-\theta}y - \tau = R_{-\theta}(y - R_\theta\tau)`.

    Returns:
        ``(wrap_angle(-theta), -R_theta tau)``.

    Example:
        >>> import math, torch
        >>> inverse(torch.tensor([math.pi / 2]), torch.tensor([[1.0, 0.0]]))[1].round().tolist()
        [[-0.0, -1.0]]
    """
    _checks.check_pose(theta, tau)
    return wrap_angle(-theta), -_rotate(tau, theta)


def random_pose(
    batch: int,
    translation_std: float = 0.0,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    r"""Random poses: :math:`\theta \sim U[0, 2\pi)`, :math:`\tau \sim N(0, \sigma^2 I_2)`, one per sample.

    With a ``generator``, numbers are drawn on the generator's device (the CPU for a default
    generator) and then moved, so a seeded generator gives the same poses on every device; without
    one, they are drawn from the global RNG directly on ``device``.

    Args:
        batch: number of poses ``B``.
        translation_std: :math:`\sigma`, in normalised units (one pixel of a ``50 x 50`` image is
            ``2 / 49``).
        generator: optional ``torch.Generator`` for reproducibility.
        device: where the result lives.
        dtype: floating dtype of the result.

    Returns:
        ``theta (B,)``, ``tau (B, 2)``.

    Example:
        >>> import torch
        >>> theta, tau = random_pose(4, 0.1, generator=torch.Generator().manual_seed(0))
        >>> theta.shape, tau.shape
        (torch.Size([4]), torch.Size([4, 2]))
    """
    _checks.check_positive_int(batch, "batch")
    _checks.check_positive_float(translation_std, "translation_std", allow_zero=True)
    # With a generator, draw where it lives (the CPU for a default one) so seeded poses agree across
    # devices; without one, draw directly on the target device (no host-device copy on the hot path).
    draw_device = generator.device if generator is not None else (torch.device(device) if device is not None else None)
    theta = torch.rand(batch, generator=generator, device=draw_device, dtype=torch.float64) * TWO_PI
    tau = torch.randn(batch, 2, generator=generator, device=draw_device, dtype=torch.float64) * translation_std
    return wrap_angle(theta.to(device=device, dtype=dtype)), tau.to(device=device, dtype=dtype)  # wrap: the cast can round up to 2*pi


def grid_spacing(height: int, width: int) -> float:
    """Distance between neighbouring pixel centres in normalised units: ``2 / (max(H, W) - 1)``."""
    return 2.0 / (max(height, width) - 1)


def coordinate_grid(
    height: int,
    width: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The ``(x, y)`` coordinates of the pixel centres of an ``H x W`` image.

    Convention: ``x`` right, ``y`` up, row 0 at the top, square pixels, the longer side spanning
    ``[-1, 1]`` exactly.

    Returns:
        ``(H, W, 2)`` tensor; ``grid[i, j] = (x_j, y_i)``. Flatten with ``grid.reshape(-1, 2)`` for
        the ``(P, 2)`` point list the INR takes (row-major, like ``image.flatten(-2)``).

    Example:
        >>> g = coordinate_grid(3, 3)
        >>> g[0, 0].tolist(), g[1, 1].tolist(), g[2, 2].tolist()
        ([-1.0, 1.0], [0.0, 0.0], [1.0, -1.0])
    """
    height, width = _checks.as_size((height, width))
    step = grid_spacing(height, width)
    xs = (torch.arange(width, device=device, dtype=torch.float64) - (width - 1) / 2) * step
    ys = ((height - 1) / 2 - torch.arange(height, device=device, dtype=torch.float64)) * step
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2)
    return grid.to(dtype)


def _to_sampling_grid(points: Tensor, height: int, width: int) -> Tensor:
    """Convert our ``(x, y)`` points to ``grid_sample``'s normalised ``(x, y-down)`` coordinates."""
    half_w = (width - 1) / (max(height, width) - 1)
    half_h = (height - 1) / (max(height, width) - 1)
    return torch.stack([points[..., 0] / half_w, -points[..., 1] / half_h], dim=-1)


def transform_images(
    images: Tensor,
    theta: Tensor,
    tau: Tensor,
    *,
    mode: Literal["bilinear", "nearest", "bicubic"] = "bilinear",
    padding_mode: Literal["zeros", "border", "reflection"] = "zeros",
) -> Tensor:
    r"""Move the content of images by :math:`S_{\theta,\tau}`: :math:`S[J](x) = J(S^{-1}(x))`.

    One batched ``grid_sample`` call; each sample has its own pose. Exact (up to rounding) for
    multiples of 90 degrees and whole-pixel translations; other angles interpolate.

    Convention: see the module docstring (``(x, y)``, ``y`` up, radians, counter-clockwise positive,
    rotation about the image centre, translation in normalised units, translate then rotate).

    Args:
        images: ``(B, C, H, W)`` floating images.
        theta: ``(B,)`` angles in radians.
        tau: ``(B, 2)`` translations in normalised units.
        mode: interpolation, ``"bilinear"`` (differentiable in the pose), ``"nearest"`` or
            ``"bicubic"``.
        padding_mode: what is seen outside the frame (``"zeros"`` by default).

    Returns:
        ``(B, C, H, W)`` transformed images.

    Example:
        >>> import torch
        >>> img = torch.zeros(1, 1, 5, 5); img[0, 0, 2, 2] = 1.0
        >>> step = grid_spacing(5, 5)
        >>> moved = transform_images(img, torch.zeros(1), torch.tensor([[step, 0.0]]))
        >>> (moved[0, 0] == 1).nonzero().tolist()  # one pixel to the right
        [[2, 3]]
    """
    _checks.check_images(images, finite=False)
    _checks.check_pose(theta, tau, images.shape[0])
    _checks.check_choice(mode, "mode", ("bilinear", "nearest", "bicubic"))
    _checks.check_choice(padding_mode, "padding_mode", ("zeros", "border", "reflection"))
    _, _, height, width = images.shape
    grid = coordinate_grid(height, width, device=images.device, dtype=images.dtype)  # (H, W, 2)
    inv_theta, inv_tau = wrap_angle(-theta), -_rotate(tau, theta)  # S^{-1}
    source = _apply_pose(grid.unsqueeze(0), inv_theta.to(images.dtype), inv_tau.to(images.dtype))  # (B, H, W, 2)
    sampling = _to_sampling_grid(source, height, width)
    return F.grid_sample(images, sampling, mode=mode, padding_mode=padding_mode, align_corners=True)


class ImageTransform(nn.Module):
    """Module form of :func:`transform_images` (no parameters), for ``nn.Sequential`` pipelines.

    Example:
        >>> import torch
        >>> warp = ImageTransform(mode="nearest")
        >>> warp(torch.rand(2, 3, 8, 8), torch.zeros(2), torch.zeros(2, 2)).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(
        self,
        *,
        mode: Literal["bilinear", "nearest", "bicubic"] = "bilinear",
        padding_mode: Literal["zeros", "border", "reflection"] = "zeros",
    ) -> None:
        super().__init__()
        self.mode = _checks.check_choice(mode, "mode", ("bilinear", "nearest", "bicubic"))
        self.padding_mode = _checks.check_choice(padding_mode, "padding_mode", ("zeros", "border", "reflection"))

    def forward(self, images: Tensor, theta: Tensor, tau: Tensor) -> Tensor:
        return transform_images(images, theta, tau, mode=self.mode, padding_mode=self.padding_mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, padding_mode={self.padding_mode!r}"
