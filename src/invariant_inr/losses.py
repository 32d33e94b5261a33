r"""The three losses of IRL-INR (paper sections 3.3-3.4), each a function of tensors.

Default weights (section 4.1): :math:`\lambda_{recon} = \lambda_{consis} = 1`,
:math:`\lambda_{symm} = 15`.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _checks
from .center import CANONICAL_RULES, DENOISE_MODES, canonical_pose, center_of_mass
from .foreground import foreground_weights

__all__ = [
    "CONSISTENCY_KINDS",
    "LossParts",
    "consistency_loss",
    "reconstruction_loss",
    "symmetry_breaking_loss",
]


class LossParts(NamedTuple):
    """The weighted total and the three unweighted terms of the IRL-INR loss (all scalars)."""

    total: Tensor
    recon: Tensor
    consis: Tensor
    symm: Tensor


def reconstruction_loss(prediction: Tensor, target: Tensor) -> Tensor:
    r"""Mean over images of :math:`\frac1P\sum_p \|J_p - I(\tilde x_p; \eta)\|^2`.

    The squared norm runs over channels, the mean over pixels and the batch. On a random subset
    of pixels this is an unbiased estimate of the full-image value.

    Args:
        prediction: ``(B, P, C)`` INR outputs (or ``(B, C, H, W)``).
        target: same shape as ``prediction``.

    Returns:
        scalar.

    Example:
        >>> import torch
        >>> reconstruction_loss(torch.zeros(2, 4, 3), torch.ones(2, 4, 3))
        tensor(3.)
    """
    if _checks.checks_enabled():
        _checks.check_floating(prediction, "prediction")
        _checks.check_floating(target, "target")
        if prediction.shape != target.shape:
            raise ValueError(
                f"prediction and target must have the same shape, got {tuple(prediction.shape)} and {tuple(target.shape)}"
            )
    channel_axis = -1 if prediction.ndim == 3 else 1
    return (prediction - target).pow(2).sum(dim=channel_axis).mean()


CONSISTENCY_KINDS = ("cos", "mse", "infonce")
"""The forms of :func:`consistency_loss`."""


def consistency_loss(
    z1: Tensor, z2: Tensor, kind: Literal["cos", "mse", "infonce"] = "cos", *, temperature: float = 0.5
) -> Tensor:
    r"""Disagreement of the codes of two re-posed copies of each image.

    ``"cos"``: :math:`1 - \frac{z_1 \cdot z_2}{\|z_1\|\|z_2\|}` (section 3.3.2);
    ``"mse"``: :math:`\|z_1 - z_2\|^2 / d`, both averaged over the batch.

    ``"infonce"`` (our addition; the contrastive loss of SimCLR/CLIP): with :math:`u_i, v_j` the
    unit-length codes of the first and second copies,
    :math:`s_{ij} = u_i \cdot v_j / t`, the cross-entropy of picking each image's own other copy
    among the batch, in both directions:

    .. math::

        \frac{1}{2B} \sum_i \Big[ -\log \frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
        - \log \frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}} \Big].

    ``"cos"`` only pulls the two copies together; ``"infonce"`` also pushes the codes of different
    images of the batch apart, so the code must tell images apart, not only agree with itself.
    It assumes the images of a batch are mostly different ones (a batch of copies of one image has
    no negatives). Its value is about :math:`\log B` at the start, not near 0 as ``"cos"``.

    Args:
        z1: ``(B, d)``.
        z2: ``(B, d)``, row ``i`` from the same image as row ``i`` of ``z1``.
        kind: ``"cos"``, ``"mse"`` or ``"infonce"``.
        temperature: :math:`t` of ``"infonce"`` (positive; ignored by the others).

    Example:
        >>> import torch
        >>> z = torch.randn(4, 8)
        >>> float(consistency_loss(z, 2 * z)) < 1e-6, float(consistency_loss(z, -z))
        (True, 2.0)
        >>> bool(consistency_loss(z, z, "infonce") < consistency_loss(z, z.roll(1, 0), "infonce"))
        True
    """
    _checks.check_choice(kind, "kind", CONSISTENCY_KINDS)
    temperature = _checks.check_positive_float(temperature, "temperature")
    if _checks.checks_enabled():
        _checks.check_floating(z1, "z1")
        _checks.check_floating(z2, "z2")
        if z1.shape != z2.shape or z1.ndim != 2:
            raise ValueError(f"z1 and z2 must both have shape (B, d), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if kind == "cos":
        return (1.0 - F.cosine_similarity(z1, z2, dim=1, eps=1e-8)).mean()
    if kind == "infonce":
        logits = F.normalize(z1, dim=1, eps=1e-8) @ F.normalize(z2, dim=1, eps=1e-8).T / temperature  # (B, B)
        own = torch.arange(z1.shape[0], device=z1.device)
        return 0.5 * (F.cross_entropy(logits, own) + F.cross_entropy(logits.T, own))
    return (z1 - z2).pow(2).mean()


def symmetry_breaking_loss(
    theta: Tensor,
    tau: Tensor,
    images: Tensor,
    rule: Literal["com", "moments", "harmonic"] = "com",
    *,
    denoise: Literal["none", "auto"] = "none",
    direction: Tensor | None = None,
) -> Tensor:
    r"""How far the encoder's pose is from the canonical rule's pose, averaged over the batch.

    ``"com"`` (section 3.4): :math:`\|m - \|\hat\tau\|(\cos\hat\theta, -\sin\hat\theta)\|^2` with
    :math:`m` the centre of mass of ``images``.
    ``"moments"`` and ``"harmonic"``: :math:`\|\hat\tau - \tau^*\|^2 + \|u(\hat\theta) - u(\theta^*)\|^2`
    with :math:`(\theta^*, \tau^*)` the rule's pose and :math:`u(\theta) = (\cos\theta, \sin\theta)`.
    With ``direction`` (the raw output :math:`v` of a pose head whose angle is
    :math:`\hat\theta = -\operatorname{atan2}(v_y, v_x)`, :meth:`Encoder.forward_with_direction
    <invariant_inr.encoders.Encoder.forward_with_direction>`), the angle term is
    :math:`\|v - (\cos\theta^*, -\sin\theta^*)\|^2` instead: convex in the head's output, as the
    ``"com"`` form is in the head's centre output. The angle form's gradient scales as :math:`1/\|v\|`
    and vanishes a half turn off; on MNIST(U) the raw form lowered the ``"mlp"`` head's median rotation
    error from 17.7-23.6 to 11.9-12.5 degrees in 600 s (``docs/results.md``). For a unit :math:`v` the two forms
    are equal.

    Args:
        theta: ``(B,)`` predicted rotation.
        tau: ``(B, 2)`` predicted translation.
        images: ``(B, C, H, W)`` the images the pose was predicted from.
        rule: ``"com"``, ``"moments"`` or ``"harmonic"``.
        denoise: ``"none"`` or ``"auto"``: the rule's target from the intensities or from the
            robust foreground weights (:func:`~invariant_inr.center.canonical_pose`).
        direction: optional ``(B, 2)`` raw direction output of the pose head (``"moments"`` and
            ``"harmonic"`` only).

    Example:
        >>> import torch
        >>> from invariant_inr.center import canonical_pose
        >>> images = torch.rand(3, 1, 8, 8)
        >>> float(symmetry_breaking_loss(*canonical_pose(images), images)) < 1e-10
        True
    """
    _checks.check_choice(rule, "rule", CANONICAL_RULES)
    _checks.check_choice(denoise, "denoise", DENOISE_MODES)
    _checks.check_pose(theta, tau, images.shape[0] if isinstance(images, Tensor) else None)
    if direction is not None:
        if rule == "com":
            raise ValueError("direction is the angle output of the 'moments' and 'harmonic' rules' pose head; the 'com' rule has none")
        _checks.check_floating(direction, "direction")
        if direction.shape != (theta.shape[0], 2):
            raise ValueError(f"direction must have shape (B, 2) = ({theta.shape[0]}, 2), got {tuple(direction.shape)}")
    if rule == "com":
        center = center_of_mass(foreground_weights(images) if denoise == "auto" else images)  # (B, 2)
        implied = tau.norm(dim=1, keepdim=True) * torch.stack([torch.cos(theta), -torch.sin(theta)], dim=1)
        return (center - implied).pow(2).sum(dim=1).mean()
    target_theta, target_tau = canonical_pose(images, rule, denoise=denoise)
    if direction is not None:  # the head's own output: theta = -atan2(v), so the target is (cos, -sin)
        predicted, target = direction, torch.stack([torch.cos(target_theta), -torch.sin(target_theta)], dim=1)
    else:
        predicted = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
        target = torch.stack([torch.cos(target_theta), torch.sin(target_theta)], dim=1)
    return ((tau - target_tau).pow(2).sum(dim=1) + (predicted - target).pow(2).sum(dim=1)).mean()
