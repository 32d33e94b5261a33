r"""Centre of mass, image moments and the canonical pose (the symmetry-breaking target).

Two rules pick the canonical pose :math:`(\theta, \tau)` of an image :math:`J`, so that
:math:`J^{(can)} = S_{\theta,\tau}[J]` (see :mod:`invariant_inr.se2` for the convention):

``"com"`` (the paper, section 3.4)
    :math:`\tau = -m` and :math:`m = \|\tau\|(\cos\theta, -\sin\theta)`, with :math:`m` the
    centre of mass. The canonical image has its centre of mass at the origin and is turned so that
    the direction in which the centre of mass *was* now points along ``+x``. Because that
    direction depends on where the object sits, two translated copies of one object get different
    canonical rotations.

``"moments"`` (translation-independent, our addition)
    :math:`\tau = -m`, and :math:`\theta = -\varphi` with :math:`\varphi` the direction of the
    principal axis of the second central moments, its sign chosen so that the third moment along
    it is positive. The canonical image has its centre of mass at the origin, its principal axis
    along ``+x`` and its heavier tail towards ``+x``, wherever the object was. Objects with
    isotropic second moments (discs, squares) or a symmetric third moment (ellipses) have an
    ill-defined axis or sign; the rule then returns some valid pose, but it is not stable
    under small changes of the image.

All quantities use the L1 norm over channels as the mass of a pixel, on the grid of
:func:`invariant_inr.se2.coordinate_grid`. An image with zero mass gets the centre ``(0, 0)``
and the identity pose, never NaN.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from . import _checks
from .se2 import coordinate_grid, transform_images, wrap_angle

__all__ = [
    "CANONICAL_RULES",
    "canonical_pose",
    "canonicalize",
    "center_of_mass",
    "central_moments",
    "pose_from_center_of_mass",
    "safe_atan2",
]

CanonicalRule = Literal["com", "moments"]
CANONICAL_RULES: tuple[str, ...] = ("com", "moments")


def safe_atan2(y: Tensor, x: Tensor) -> Tensor:
    """``atan2(y, x)`` with value 0 and zero gradient at ``(0, 0)`` (``torch.atan2`` gives NaN gradients there).

    Example:
        >>> import torch
        >>> x = torch.zeros(1, requires_grad=True)
        >>> safe_atan2(torch.zeros(1), x).sum().backward(); x.grad
        tensor([0.])
    """
    at_origin = (x == 0) & (y == 0)
    angle = torch.atan2(y, torch.where(at_origin, torch.ones_like(x), x))
    return torch.where(at_origin, torch.zeros_like(angle), angle)


def _mass_and_points(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-pixel mass ``(B, P)``, total mass ``(B,)`` and pixel coordinates ``(P, 2)``."""
    _, _, height, width = images.shape
    weights = images.abs().sum(dim=1).flatten(1)  # (B, P): L1 over channels
    total = weights.sum(dim=1)  # (B,)
    points = coordinate_grid(height, width, device=images.device, dtype=images.dtype).reshape(-1, 2)  # (P, 2)
    return weights, total, points


def _normalised(weights: Tensor, total: Tensor) -> Tensor:
    """Weights divided by their total; all zeros where the total is zero."""
    safe_total = torch.where(total > 0, total, torch.ones_like(total))
    return weights / safe_total.unsqueeze(1)


def center_of_mass(images: Tensor) -> Tensor:
    r"""Centre of mass :math:`m = \sum_p x_p \|J_p\|_1 / \sum_p \|J_p\|_1` of each image.

    Args:
        images: ``(B, C, H, W)`` floating images.

    Returns:
        ``(B, 2)`` centres in ``(x, y)`` order, ``y`` up, normalised units; ``(0, 0)`` for an image
        of zero mass.

    Example:
        >>> import torch
        >>> img = torch.zeros(1, 1, 5, 5); img[0, 0, 0, 4] = 1.0  # top-right pixel
        >>> center_of_mass(img)
        tensor([[1., 1.]])
    """
    _checks.check_images(images)
    weights, total, points = _mass_and_points(images)
    return _normalised(weights, total) @ points  # (B, P) @ (P, 2) -> (B, 2)


def central_moments(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Centre of mass, second central moments and the points relative to the centre.

    Args:
        images: ``(B, C, H, W)`` floating images.

    Returns:
        ``center (B, 2)``, ``covariance (B, 2, 2)`` (mass-weighted, normalised by the total mass),
        ``normalised weights (B, P)``.

    Example:
        >>> import torch
        >>> img = torch.zeros(1, 1, 5, 5); img[0, 0, 2, :] = 1.0  # a horizontal bar
        >>> center, cov, _ = central_moments(img)
        >>> bool(cov[0, 0, 0] > cov[0, 1, 1])
        True
    """
    _checks.check_images(images)
    weights, total, points = _mass_and_points(images)
    probs = _normalised(weights, total)  # (B, P)
    center = probs @ points  # (B, 2)
    offsets = points.unsqueeze(0) - center.unsqueeze(1)  # (B, P, 2)
    covariance = torch.einsum("bp,bpi,bpj->bij", probs, offsets, offsets)  # (B, 2, 2)
    return center, covariance, probs


def pose_from_center_of_mass(center: Tensor) -> tuple[Tensor, Tensor]:
    r"""The paper's canonical pose from a centre of mass: :math:`\tau = -m`, :math:`\theta = -\angle m`.

    Satisfies :math:`m = \|\tau\|(\cos\theta, -\sin\theta)`; ``theta`` is in ``[0, 2*pi)``, and 0
    for ``m = 0``.

    Args:
        center: ``(B, 2)`` centres of mass (measured, or predicted by a pose head).

    Returns:
        ``theta (B,)``, ``tau (B, 2)``.

    Example:
        >>> import torch
        >>> theta, tau = pose_from_center_of_mass(torch.tensor([[0.0, 0.5]]))
        >>> round(theta.item(), 4), tau.tolist()
        (4.7124, [[-0.0, -0.5]])
    """
    _checks.check_floating(center, "center")
    if center.ndim != 2 or center.shape[-1] != 2:
        raise ValueError(f"center must have shape (B, 2), got {tuple(center.shape)}")
    theta = wrap_angle(-safe_atan2(center[:, 1], center[:, 0]))
    return theta, -center


def _principal_direction(covariance: Tensor, probs: Tensor, center: Tensor, points: Tensor) -> Tensor:
    """Angle ``phi (B,)`` of the principal axis, signed so that the third moment along it is >= 0."""
    var_x, var_y, cov_xy = covariance[:, 0, 0], covariance[:, 1, 1], covariance[:, 0, 1]
    phi = 0.5 * safe_atan2(2.0 * cov_xy, var_x - var_y)  # (B,), in (-pi/2, pi/2]
    axis = torch.stack([torch.cos(phi), torch.sin(phi)], dim=-1)  # (B, 2)
    along = (points.unsqueeze(0) - center.unsqueeze(1)) @ axis.unsqueeze(-1)  # (B, P, 1)
    skew = (probs * along.squeeze(-1) ** 3).sum(dim=1)  # (B,)
    return torch.where(skew < 0, phi + torch.pi, phi)


def canonical_pose(images: Tensor, rule: CanonicalRule = "com") -> tuple[Tensor, Tensor]:
    r"""The canonical pose :math:`(\theta, \tau)` with :math:`J^{(can)} = S_{\theta,\tau}[J]`.

    ``transform_images(J, *canonical_pose(J))`` has its centre of mass at the origin (up to
    interpolation). See the module docstring for the two rules.

    Args:
        images: ``(B, C, H, W)`` floating images.
        rule: ``"com"`` (the paper) or ``"moments"`` (principal axis, translation-independent).

    Returns:
        ``theta (B,)`` in ``[0, 2*pi)``, ``tau (B, 2)``.

    Example:
        >>> import torch
        >>> from invariant_inr.se2 import transform_images
        >>> img = torch.zeros(1, 1, 9, 9); img[0, 0, 1, 6] = 1.0
        >>> can = transform_images(img, *canonical_pose(img))
        >>> bool(center_of_mass(can).abs().max() < 1e-5)
        True
    """
    _checks.check_choice(rule, "rule", CANONICAL_RULES)
    if rule == "com":
        return pose_from_center_of_mass(center_of_mass(images))
    center, covariance, probs = central_moments(images)
    _, _, height, width = images.shape
    points = coordinate_grid(height, width, device=images.device, dtype=images.dtype).reshape(-1, 2)
    phi = _principal_direction(covariance, probs, center, points)
    return wrap_angle(-phi), -center


def canonicalize(images: Tensor, rule: CanonicalRule = "com", *, mode: str = "bilinear") -> Tensor:
    """Warp each image to its canonical pose, :math:`S_{\\theta,\\tau}[J]` with :func:`canonical_pose`.

    Args:
        images: ``(B, C, H, W)`` floating images.
        rule: ``"com"`` or ``"moments"``.
        mode: interpolation of the warp.

    Returns:
        ``(B, C, H, W)`` canonical images.

    Example:
        >>> import torch
        >>> canonicalize(torch.rand(3, 1, 16, 16), rule="moments").shape
        torch.Size([3, 1, 16, 16])
    """
    theta, tau = canonical_pose(images, rule)
    return transform_images(images, theta, tau, mode=mode)  # type: ignore[arg-type]
