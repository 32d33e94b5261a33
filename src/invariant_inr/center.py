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

``"harmonic"`` (translation-independent, adapts to the object's symmetry)
    :math:`\tau = -m`; about the centre of mass, with :math:`u = (x - m_x) + i(y - m_y) = \rho e^{i\varphi}`,
    the angular harmonics :math:`c_k = \sum_p w_p \rho_p^2 e^{ik\varphi_p}` (:math:`k = 1..4`) are
    compared with :math:`\sum_p w_p \rho_p^2`; the lowest :math:`k` whose relative size exceeds
    ``HARMONIC_THRESHOLD`` sets :math:`\theta = -\arg(c_k)/k`, except that :math:`k = 2` is preferred
    to :math:`k = 1` when both are strong (the axis angle is more precise, and a choice between the two
    that flipped with noise would turn the pose by the object's offset between them). A heart
    (mirror-symmetric, no rotational symmetry) and digits use :math:`k = 2`, the principal axis,
    signed by the larger of the third moments along and across it (a heart is lopsided across its
    long axis); an ellipse :math:`k = 2`; a square :math:`k = 4`; a one-sided object with no strong
    axis :math:`k = 1`. So every object is turned to a pose that is
    unique up to its own rotational symmetry, where ``"moments"`` leaves hearts with a random sign
    (their skew is across the principal axis, not along it) and squares with a random axis.

All quantities use the L1 norm over channels as the mass of a pixel, on the grid of
:func:`invariant_inr.se2.coordinate_grid`. An image with zero mass gets the centre ``(0, 0)``
and the identity pose, never NaN.

Noise: every pixel weighs in, so on noisy images the noise of the whole frame dominates the moments
and every rule fails (on MNIST(U) digits with Gaussian noise of standard deviation 0.1 the recovered
rotation is no better than chance). ``denoise="auto"`` computes the rules on
:func:`invariant_inr.foreground.foreground_weights` instead (background level and noise estimated
per image, hysteresis detection of the object, intensities above the background on it). On
noiseless images with a zero background covering more than half the frame it gives exactly the same
pose; it assumes that the foreground is brighter than the background. The default is ``"none"``:
the paper's rule on the raw intensities (exactly :math:`\tau = -m` with :math:`m` the
:func:`center_of_mass`), and no median per image to pay for. For other settings of the detection,
pass your own weights: ``canonical_pose(foreground_weights(images, blur_pixels=2.0), rule)``.
"""

from __future__ import annotations

import math

from typing import Literal

import torch
from torch import Tensor

from . import _checks
from .foreground import foreground_weights
from .se2 import coordinate_grid, transform_images, wrap_angle

__all__ = [
    "CANONICAL_RULES",
    "DENOISE_MODES",
    "HARMONIC_THRESHOLD",
    "angular_harmonics",
    "canonical_pose",
    "canonicalize",
    "center_of_mass",
    "central_moments",
    "pose_from_center_of_mass",
    "safe_atan2",
]

CanonicalRule = Literal["com", "moments", "harmonic"]
CANONICAL_RULES: tuple[str, ...] = ("com", "moments", "harmonic")
Denoise = Literal["none", "auto"]
DENOISE_MODES: tuple[str, ...] = ("none", "auto")
HARMONIC_THRESHOLD = 0.1
r"""Relative size :math:`|c_k| / \sum w\rho^2` above which harmonic ``k`` sets the ``"harmonic"`` rule's angle."""


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


def _principal_direction(
    covariance: Tensor, probs: Tensor, center: Tensor, points: Tensor, *, across: bool = False
) -> Tensor:
    """Angle ``phi (B,)`` of the principal axis, signed so that the third moment along it is >= 0.

    With ``across=True`` the sign comes from whichever third moment is larger in size, along the
    axis or across it (then the one across, taken on the axis turned by +90 degrees, is made >= 0):
    a shape that is lopsided across its long axis (a heart) gets a stable sign too.
    """
    var_x, var_y, cov_xy = covariance[:, 0, 0], covariance[:, 1, 1], covariance[:, 0, 1]
    phi = 0.5 * safe_atan2(2.0 * cov_xy, var_x - var_y)  # (B,), in (-pi/2, pi/2]
    axis = torch.stack([torch.cos(phi), torch.sin(phi)], dim=-1)  # (B, 2)
    offsets = points.unsqueeze(0) - center.unsqueeze(1)  # (B, P, 2)
    along = (offsets @ axis.unsqueeze(-1)).squeeze(-1)  # (B, P)
    skew = (probs * along**3).sum(dim=1)  # (B,)
    if across:
        normal = torch.stack([-axis[:, 1], axis[:, 0]], dim=-1)  # axis turned by +90 degrees
        skew_across = (probs * (offsets @ normal.unsqueeze(-1)).squeeze(-1) ** 3).sum(dim=1)
        skew = torch.where(skew_across.abs() > skew.abs(), skew_across, skew)
    return torch.where(skew < 0, phi + torch.pi, phi)


def angular_harmonics(images: Tensor, orders: int = 4) -> tuple[Tensor, Tensor]:
    r"""Relative angular harmonics about the centre of mass, :math:`c_k / \sum_p w_p\rho_p^2`.

    Args:
        images: ``(B, C, H, W)`` floating images.
        orders: highest order ``k``.

    Returns:
        ``(real, imag)``, each ``(B, orders)``; column ``k - 1`` holds harmonic ``k``. A rotation of
        the image by :math:`\alpha` multiplies harmonic ``k`` by :math:`e^{ik\alpha}`.

    Example:
        >>> import torch
        >>> img = torch.zeros(1, 1, 9, 9); img[0, 0, 4, 1:8] = 1.0  # a horizontal bar: k = 2
        >>> real, imag = angular_harmonics(img)
        >>> [round(v, 3) for v in real[0].tolist()]
        [0.0, 1.0, 0.0, 1.0]
    """
    center, _, probs = central_moments(images)
    _, _, height, width = images.shape
    points = coordinate_grid(height, width, device=images.device, dtype=images.dtype).reshape(-1, 2)
    return _harmonics(probs, center, points, orders)


def _harmonics(probs: Tensor, center: Tensor, points: Tensor, orders: int) -> tuple[Tensor, Tensor]:
    """:func:`angular_harmonics` from the moments :func:`central_moments` already gave."""
    offsets = points.unsqueeze(0) - center.unsqueeze(1)  # (B, P, 2)
    radius_sq = offsets.pow(2).sum(-1)  # (B, P)
    angle = safe_atan2(offsets[..., 1], offsets[..., 0])  # (B, P)
    orders_t = torch.arange(1, orders + 1, device=probs.device, dtype=probs.dtype)  # (K,)
    weights = probs * radius_sq  # (B, P)
    total = weights.sum(dim=1, keepdim=True)  # (B, 1)
    safe_total = torch.where(total > 0, total, torch.ones_like(total))
    phase = angle.unsqueeze(-1) * orders_t  # (B, P, K)
    real = torch.einsum("bp,bpk->bk", weights, torch.cos(phase)) / safe_total
    imag = torch.einsum("bp,bpk->bk", weights, torch.sin(phase)) / safe_total
    return real, imag


def _harmonic_angle(covariance: Tensor, probs: Tensor, center: Tensor, points: Tensor) -> Tensor:
    """Angle ``phi (B,)`` of the ``"harmonic"`` rule (the canonical rotation is ``-phi``)."""
    real, imag = _harmonics(probs, center, points, orders=4)  # (B, 4)
    strength = torch.sqrt(real.pow(2) + imag.pow(2))  # (B, 4)
    strong = strength > HARMONIC_THRESHOLD
    # lowest strong order; where none is strong, the strongest one
    order_index = torch.where(strong.any(dim=1), strong.float().argmax(dim=1), strength.argmax(dim=1))  # (B,)
    # a strong first harmonic with a strong second: take the (signed) axis. Its angle is twice as
    # precise per unit of strength, and the choice no longer flips between k = 1 and k = 2 with the
    # noise, which turned the pose by the object's own offset between arg(c_1) and the axis
    order_index = torch.where((order_index == 0) & strong[:, 1], torch.ones_like(order_index), order_index)
    order = (order_index + 1).to(probs.dtype)
    pick = order_index.unsqueeze(1)
    phi = safe_atan2(imag.gather(1, pick).squeeze(1), real.gather(1, pick).squeeze(1)) / order
    # harmonic k fixes the angle only up to 2*pi/k: take the branch that points most along the first
    # harmonic (weak, but it turns with the image), so objects without k-fold symmetry stay consistent
    branches = phi.unsqueeze(1) + 2 * math.pi * torch.arange(4, device=probs.device, dtype=probs.dtype) / order.unsqueeze(1)
    alignment = real[:, :1] * torch.cos(branches) + imag[:, :1] * torch.sin(branches)  # (B, 4)
    alignment = torch.where(torch.arange(4, device=probs.device) < order.unsqueeze(1), alignment, torch.full_like(alignment, -math.inf))
    phi = branches.gather(1, alignment.argmax(dim=1, keepdim=True)).squeeze(1)
    axis_phi = _principal_direction(covariance, probs, center, points, across=True)  # k = 2, signed
    return torch.where(order_index == 1, axis_phi, phi)


def canonical_pose(images: Tensor, rule: CanonicalRule = "com", *, denoise: Denoise = "none") -> tuple[Tensor, Tensor]:
    r"""The canonical pose :math:`(\theta, \tau)` with :math:`J^{(can)} = S_{\theta,\tau}[J]`.

    ``transform_images(J, *canonical_pose(J))`` has its centre of mass at the origin (up to
    interpolation). See the module docstring for the rules.

    Args:
        images: ``(B, C, H, W)`` floating images.
        rule: ``"com"`` (the paper), ``"moments"`` (principal axis, translation-independent) or
            ``"harmonic"`` (lowest strong angular harmonic, translation-independent).
        denoise: ``"none"`` (default: the raw intensities weigh the pixels) or ``"auto"`` (the
            robust foreground weights of :func:`invariant_inr.foreground.foreground_weights`, for
            noisy images; identical on noiseless images with a zero background). With ``"auto"``
            the centre is that of the foreground weights, not of the raw image.

    Returns:
        ``theta (B,)`` in ``[0, 2*pi)``, ``tau (B, 2)``.

    Example:
        >>> import torch
        >>> from invariant_inr.se2 import transform_images
        >>> img = torch.zeros(1, 1, 9, 9); img[0, 0, 1, 6] = 1.0
        >>> can = transform_images(img, *canonical_pose(img))
        >>> bool(center_of_mass(can).abs().max() < 1e-5)
        True
        >>> import math
        >>> ell = torch.zeros(1, 1, 32, 32); ell[0, 0, 10:14, 4:24] = 1.0; ell[0, 0, 14:22, 4:8] = 1.0
        >>> noisy = ell + 0.3 * torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
        >>> clean = canonical_pose(ell, "moments")[0]
        >>> error = lambda theta: round(math.degrees(abs(math.remainder(float(theta - clean), 2 * math.pi))), 1)
        >>> error(canonical_pose(noisy, "moments")[0]) > 10, error(canonical_pose(noisy, "moments", denoise="auto")[0]) < 2
        (True, True)
    """
    _checks.check_choice(rule, "rule", CANONICAL_RULES)
    _checks.check_choice(denoise, "denoise", DENOISE_MODES)
    if denoise == "auto":
        images = foreground_weights(images)  # (B, 1, H, W), checks the images
    if rule == "com":
        return pose_from_center_of_mass(center_of_mass(images))
    center, covariance, probs = central_moments(images)
    _, _, height, width = images.shape
    points = coordinate_grid(height, width, device=images.device, dtype=images.dtype).reshape(-1, 2)
    if rule == "harmonic":
        phi = _harmonic_angle(covariance, probs, center, points)
    else:
        phi = _principal_direction(covariance, probs, center, points)
    return wrap_angle(-phi), -center


def canonicalize(images: Tensor, rule: CanonicalRule = "com", *, mode: str = "bilinear", denoise: Denoise = "none") -> Tensor:
    """Warp each image to its canonical pose, :math:`S_{\\theta,\\tau}[J]` with :func:`canonical_pose`.

    Args:
        images: ``(B, C, H, W)`` floating images.
        rule: ``"com"``, ``"moments"`` or ``"harmonic"``.
        mode: interpolation of the warp.
        denoise: ``"none"`` or ``"auto"``, see :func:`canonical_pose`; the warp moves the original
            images.

    Returns:
        ``(B, C, H, W)`` canonical images.

    Example:
        >>> import torch
        >>> canonicalize(torch.rand(3, 1, 16, 16), rule="moments").shape
        torch.Size([3, 1, 16, 16])
    """
    theta, tau = canonical_pose(images, rule, denoise=denoise)
    return transform_images(images, theta, tau, mode=mode)  # type: ignore[arg-type]
