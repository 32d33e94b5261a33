r"""Equivariance checkers and numerical tolerances, public so that users can test their own models.

Two kinds of identity are checked, with two kinds of tolerance (both defined here, in one place):

* **exact** identities hold up to floating-point rounding: group laws of SE(2) on points and
  poses, image warps by multiples of 90 degrees and whole-pixel shifts (the sampling positions
  land on pixel centres). :func:`tolerances` gives ``(rtol, atol)`` per dtype for them.
* **interpolated** identities hold only up to the interpolation error of a pixel grid (any other
  angle or a sub-pixel shift). They are compared on a central disk, away from the corners that a
  rotation pushes out of the frame, with the loose absolute tolerance of
  :func:`interpolation_tolerance`, valid for smooth images (see there).

Convention: images are ``(B, C, H, W)``; points and the disk use the normalised coordinates of
:func:`invariant_inr.se2.coordinate_grid` (``x`` right, ``y`` up, the longer side spanning
``[-1, 1]``, origin at the image centre).

Example:
    >>> import math, torch
    >>> from invariant_inr import testing
    >>> images = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    >>> theta, tau = torch.full((2,), math.pi / 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    >>> double = lambda x: 2.0 * x  # a pointwise map is equivariant
    >>> testing.image_equivariance_error(double, images, theta, tau) < testing.tolerances(torch.float64)[1]
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from . import _checks
from .se2 import coordinate_grid, transform_images

__all__ = [
    "MIN_SMOOTH_SIGMA_PIXELS",
    "assert_close",
    "assert_equivariant",
    "central_disk_mask",
    "equivariance_error",
    "image_equivariance_error",
    "interpolation_tolerance",
    "render_gaussians",
    "tolerances",
]

# ``(rtol, atol)`` for identities that are exact up to rounding. Measured worst cases of
# ``transform_images`` against ``torch.rot90`` on 64 x 64 images (values in [0, 1]): about 1e-14 in
# float64 and 1e-5 in float32 (the pixel-centre coordinates carry an error of a few ulps, times
# the image side in pixels, times the contrast between neighbouring pixels). The tolerances leave
# a margin of about 10^4 (float64) and 10 (float32) over that, and stay far below the error of any
# wrong convention (half a pixel or a flipped axis gives errors of order 0.1 to 1).
_EXACT_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (1e-4, 1e-4),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (5e-2, 5e-2),
}

# Absolute tolerance for images whose values lie in [0, 1] after an interpolated warp. Bilinear
# interpolation with pixel step h errs by at most h^2 / 8 * (|f_xx| + |f_yy|); for a Gaussian bump
# of peak 1 and standard deviation sigma (in pixels) |f_xx|, |f_yy| <= 1 / sigma^2, so the error is
# at most 1 / (4 sigma^2): 0.04 for sigma = 2.5 pixels. (For a sum of bumps with weights w_k the
# bound is sum |w_k| / (4 sigma^2).) Test images must therefore be at least that smooth (features
# >= 2.5 pixels wide, total weight <= 1). One warp of such an image stays within this tolerance; a
# warp followed by its inverse interpolates twice and needs twice as much.
_INTERPOLATION_ATOL = 0.05
#: The smallest feature width, in pixels, for which :func:`interpolation_tolerance` is valid.
MIN_SMOOTH_SIGMA_PIXELS = 2.5


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` for identities that are exact up to floating-point rounding.

    Args:
        dtype: a floating dtype (``float64``, ``float32``, ``float16``, ``bfloat16``).

    Returns:
        ``(rtol, atol)``, for :func:`torch.testing.assert_close` or :func:`assert_close`.

    Example:
        >>> import torch
        >>> tolerances(torch.float64)
        (1e-10, 1e-10)
    """
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {_checks.describe(dtype)}")
    if dtype not in _EXACT_TOLERANCES:
        raise ValueError(f"dtype must be one of {list(_EXACT_TOLERANCES)}, got {dtype}")
    return _EXACT_TOLERANCES[dtype]


def interpolation_tolerance(dtype: torch.dtype = torch.float64) -> float:
    """Loose absolute tolerance for one interpolated warp of a smooth image with values in ``[0, 1]``.

    Valid for images whose features are at least ``MIN_SMOOTH_SIGMA_PIXELS`` (2.5) pixels wide,
    e.g. sums of Gaussians from :func:`render_gaussians` with total weight at most 1: the bilinear
    error bound for those is ``1 / (4 sigma^2) <= 0.04`` with ``sigma`` in pixels (see the source). Rough images (noise, one-pixel lines) can err by up to their full
    contrast; compare them with multiples of 90 degrees and whole-pixel shifts instead.

    Args:
        dtype: the dtype of the images; the rounding tolerance of that dtype is added.

    Returns:
        The absolute tolerance, to compare with a maximum absolute difference on a central disk.

    Example:
        >>> import torch
        >>> interpolation_tolerance(torch.float64)
        0.0500000001
    """
    return _INTERPOLATION_ATOL + tolerances(dtype)[1]


def assert_close(
    actual: Tensor,
    expected: Tensor,
    *,
    dtype: torch.dtype | None = None,
    msg: str | None = None,
) -> None:
    """:func:`torch.testing.assert_close` with the exact-identity tolerances of :func:`tolerances`.

    Args:
        actual: the tensor computed.
        expected: the reference, same shape, dtype and device.
        dtype: whose tolerances to use; by default the dtype of ``actual``.
        msg: optional text prepended to the failure message.

    Raises:
        AssertionError: if the tensors differ by more than the tolerance.

    Example:
        >>> import torch
        >>> x = torch.ones(3, dtype=torch.float64)
        >>> assert_close(x + 1e-12, x)
        >>> assert_close(x + 1e-6, x)
        Traceback (most recent call last):
        ...
        AssertionError: Tensor-likes are not close!...
    """
    _checks.check_tensor(actual, "actual")
    _checks.check_tensor(expected, "expected")
    rtol, atol = tolerances(dtype if dtype is not None else actual.dtype)
    if msg is None:
        torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)
    else:
        torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, msg=lambda default: f"{msg}\n{default}")


def central_disk_mask(
    height: int,
    width: int,
    radius: float = 0.6,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """Pixels whose centres lie within ``radius`` of the image centre, in normalised units.

    For a square image, whose frame is ``[-1, 1]^2``, the pre-image of a disk of radius
    ``r <= 1 - |tau|`` under any pose with translation ``tau`` lies inside the frame, so comparisons
    on it are not polluted by content entering or leaving the frame. (The shorter side of a
    non-square image spans only ``(min(H, W) - 1) / (max(H, W) - 1)`` on each side of the centre.)

    Args:
        height: ``H``.
        width: ``W``.
        radius: disk radius in the units of :func:`invariant_inr.se2.coordinate_grid`.
        device: where the mask lives.

    Returns:
        ``(H, W)`` bool mask.

    Example:
        >>> central_disk_mask(5, 5, 0.5).int()
        tensor([[0, 0, 0, 0, 0],
                [0, 0, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 1, 0, 0],
                [0, 0, 0, 0, 0]], dtype=torch.int32)
    """
    height, width = _checks.as_size((height, width))
    radius = _checks.check_positive_float(radius, "radius")
    grid = coordinate_grid(height, width, device=device, dtype=torch.float64)  # (H, W, 2)
    return grid.square().sum(dim=-1) <= radius * radius


def equivariance_error(
    fn_out_of_transformed: Tensor,
    transformed_out: Tensor,
    mask: Tensor | None = None,
) -> float:
    r"""Largest absolute difference between :math:`f(S[x])` and :math:`S[f(x)]`, optionally on a mask.

    Args:
        fn_out_of_transformed: :math:`f(S[x])`, any shape ``(..., H, W)`` (or any shape without a mask).
        transformed_out: :math:`S[f(x)]`, the same shape.
        mask: optional ``(H, W)`` bool mask of the pixels to compare (e.g. :func:`central_disk_mask`),
            broadcast over the leading axes.

    Returns:
        The maximum absolute difference, as a Python float (0.0 if the mask is empty).

    Example:
        >>> import torch
        >>> a, b = torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 3, 3)
        >>> b[0, 0, 0, 0] = 1.0  # differs in a corner only
        >>> equivariance_error(a, b), equivariance_error(a, b, central_disk_mask(3, 3, 1.0))
        (1.0, 0.0)
    """
    _checks.check_tensor(fn_out_of_transformed, "fn_out_of_transformed")
    _checks.check_tensor(transformed_out, "transformed_out")
    if fn_out_of_transformed.shape != transformed_out.shape:
        raise ValueError(
            "fn_out_of_transformed and transformed_out must have the same shape, got "
            f"{tuple(fn_out_of_transformed.shape)} and {tuple(transformed_out.shape)}"
        )
    diff = (fn_out_of_transformed - transformed_out).abs()
    if mask is not None:
        _checks.check_tensor(mask, "mask")
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor, got dtype {mask.dtype}")
        if diff.ndim < 2 or mask.shape != diff.shape[-2:]:
            raise ValueError(
                f"mask must have shape (H, W) = {tuple(diff.shape[-2:])} to match the outputs, got {tuple(mask.shape)}"
            )
        diff = diff[..., mask.to(diff.device)]  # (..., number of pixels in the mask)
    if diff.numel() == 0:
        return 0.0
    return float(diff.max())


def image_equivariance_error(
    f: Callable[[Tensor], Tensor],
    images: Tensor,
    theta: Tensor,
    tau: Tensor,
    *,
    mode: Literal["bilinear", "nearest", "bicubic"] = "bilinear",
    radius: float | None = 0.6,
) -> float:
    r"""Equivariance error of an image-to-image map ``f`` under the poses ``(theta, tau)``.

    Computes :math:`\max |f(S[x]) - S[f(x)]|` over a central disk, with
    :math:`S[\cdot]` = :func:`invariant_inr.se2.transform_images`.

    Args:
        f: maps ``(B, C, H, W)`` images to ``(B, C', H, W)`` images (same spatial size).
        images: ``(B, C, H, W)`` input images.
        theta: ``(B,)`` angles in radians.
        tau: ``(B, 2)`` translations in normalised units.
        mode: interpolation of both warps.
        radius: radius of the central disk compared (see :func:`central_disk_mask`); ``None``
            compares every pixel (meaningful for multiples of 90 degrees on square images).

    Returns:
        The maximum absolute difference, as a Python float.

    Example:
        >>> import torch
        >>> images = torch.rand(2, 1, 16, 16, dtype=torch.float64)
        >>> theta, tau = torch.rand(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
        >>> image_equivariance_error(lambda x: x.flip(-1), images, theta, tau) > 0.01  # a mirror is not
        True
    """
    _checks.check_images(images)
    _checks.check_pose(theta, tau, images.shape[0])
    f_of_moved = f(transform_images(images, theta, tau, mode=mode))
    moved_f = transform_images(f(images), theta, tau, mode=mode)
    height, width = moved_f.shape[-2:]
    mask = None if radius is None else central_disk_mask(height, width, radius, device=moved_f.device)
    return equivariance_error(f_of_moved, moved_f, mask)


def assert_equivariant(
    f: Callable[[Tensor], Tensor],
    images: Tensor,
    theta: Tensor,
    tau: Tensor,
    *,
    atol: float | None = None,
    mode: Literal["bilinear", "nearest", "bicubic"] = "bilinear",
    radius: float | None = 0.6,
) -> float:
    """Assert that ``f`` commutes with :func:`invariant_inr.se2.transform_images` on a central disk.

    Args:
        f: maps ``(B, C, H, W)`` images to ``(B, C', H, W)`` images.
        images: ``(B, C, H, W)`` input images.
        theta: ``(B,)`` angles in radians.
        tau: ``(B, 2)`` translations in normalised units.
        atol: tolerance; by default :func:`interpolation_tolerance` of the images' dtype (loose,
            for arbitrary poses of smooth images). Pass ``tolerances(dtype)[1]`` for multiples of
            90 degrees and whole-pixel shifts.
        mode: interpolation of both warps.
        radius: radius of the central disk compared, or ``None`` for every pixel.

    Returns:
        The error measured (so that a test can also report it).

    Raises:
        AssertionError: if the error exceeds ``atol``.

    Example:
        >>> import math, torch
        >>> images = torch.rand(3, 2, 12, 12, dtype=torch.float64)
        >>> theta = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64) * math.pi / 2
        >>> err = assert_equivariant(torch.relu, images, theta, torch.zeros(3, 2, dtype=torch.float64),
        ...                          atol=tolerances(torch.float64)[1], radius=None)
    """
    error = image_equivariance_error(f, images, theta, tau, mode=mode, radius=radius)
    tol = interpolation_tolerance(images.dtype) if atol is None else atol
    if not error <= tol:
        where = "on every pixel" if radius is None else f"on the central disk of radius {radius}"
        raise AssertionError(f"equivariance error {error:.3g} exceeds the tolerance {tol:.3g} {where}")
    return error


def render_gaussians(
    centers: Tensor,
    sigma: float,
    height: int,
    width: int,
    *,
    weights: Tensor | None = None,
) -> Tensor:
    r"""Render sums of isotropic Gaussian bumps analytically on the pixel grid: smooth test images.

    :math:`J_b(x) = \sum_k w_{bk} \exp(-\|x - c_{bk}\|^2 / (2\sigma^2))`. Because the image is a
    function of the continuous plane, moving the centres by a pose renders the exactly moved image,
    a reference for interpolated warps: ``render_gaussians(transform_points(c, theta, tau), ...)``.

    Args:
        centers: ``(B, K, 2)`` centres in normalised ``(x, y)`` units.
        sigma: standard deviation in normalised units (one pixel is
            :func:`invariant_inr.se2.grid_spacing` ``(H, W)``).
        height: ``H``.
        width: ``W``.
        weights: optional ``(B, K)`` peak heights (default 1).

    Returns:
        ``(B, 1, H, W)`` images, in the dtype and on the device of ``centers``.

    Example:
        >>> import torch
        >>> img = render_gaussians(torch.zeros(1, 1, 2), 0.3, 5, 5)
        >>> img.shape, img[0, 0, 2, 2].item()
        (torch.Size([1, 1, 5, 5]), 1.0)
    """
    _checks.check_floating(centers, "centers")
    if centers.ndim != 3 or centers.shape[-1] != 2:
        raise ValueError(f"centers must have shape (B, K, 2), got {tuple(centers.shape)}")
    sigma = _checks.check_positive_float(sigma, "sigma")
    height, width = _checks.as_size((height, width))
    if weights is None:
        weights = torch.ones(centers.shape[:2], device=centers.device, dtype=centers.dtype)
    else:
        _checks.check_floating(weights, "weights")
        if weights.shape != centers.shape[:2]:
            raise ValueError(f"weights must have shape (B, K) = {tuple(centers.shape[:2])}, got {tuple(weights.shape)}")
    grid = coordinate_grid(height, width, device=centers.device, dtype=centers.dtype).reshape(-1, 2)  # (P, 2)
    sq_dist = (grid.view(1, 1, -1, 2) - centers.unsqueeze(2)).square().sum(dim=-1)  # (B, K, P)
    bumps = torch.exp(-sq_dist / (2.0 * sigma * sigma))  # (B, K, P)
    image = torch.einsum("bk,bkp->bp", weights, bumps)  # (B, P)
    return image.view(-1, 1, height, width)
