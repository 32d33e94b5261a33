r"""Encoders :math:`E_\phi(J) = (z, \hat\theta, \hat\tau)`: a backbone, an MLP head, and a pose rule.

The pose is never regressed as raw numbers. Four estimators are offered:

``pose="learned"`` (the paper)
    The head predicts, besides ``z``, the quantities that define the canonical pose, and the pose is
    derived from them exactly as the rule derives it from the image: for ``rule="com"`` the centre of
    mass :math:`\hat m` (``d + 2`` outputs, as in appendix A), with :math:`\hat\tau = -\hat m`,
    :math:`\hat\theta = -\angle\hat m`; for ``rule="moments"`` and ``rule="harmonic"`` also a
    direction vector ``a`` (``d + 4`` outputs), with :math:`\hat\theta = -\angle a`. Predicting :math:`\hat m` rather than
    :math:`(\hat\theta, \hat\tau)` avoids regressing an angle across its :math:`2\pi` wrap, and the
    returned pose satisfies the convention of :mod:`invariant_inr.se2` by construction. The
    symmetry-breaking loss pulls these predictions to the rule's values.

``pose="learned"`` with ``pose_head="weight_map"``
    The pose is the rule applied to a learned weight map of the image
    (:class:`~invariant_inr.canonicalizer.WeightMapPose`): it starts as the rule's own pose and is
    equivariant by construction; the backbone sees the image canonicalised by it (a differentiable
    warp, so every loss reaches the pose), as with ``pose="analytic"``.

``pose="learned"`` with ``pose_head="mlp_two_pass"``
    The paper's head predicts the pose from the image as with ``"mlp"``; a second pass of the same
    backbone and head then encodes the image canonicalised by that pose, and ``z`` is read from it.
    The backbone sees a canonical image, so the nuisance deformation (``augment``) applies; it costs
    a second backbone pass per image. The warp is not differentiated in the pose: the pose learns
    from the symmetry-breaking and reconstruction losses only, as with ``"mlp"``.

``pose="analytic"``
    The pose is the rule itself, computed from the pixels (:func:`~invariant_inr.center.canonical_pose`),
    and the backbone sees the canonicalised image :math:`S_{\hat\theta,\hat\tau}[J]`, so ``z`` is
    invariant by construction up to interpolation, and the consistency loss only has to absorb
    what interpolation leaves. The symmetry-breaking loss is then zero. This trains far faster on
    a CPU, and it is what the quick presets use.

Noisy images: ``denoise="auto"`` makes the rule robust (:mod:`invariant_inr.foreground`);
``input_denoise="auto"`` also shows the backbone the image with its background removed
(:func:`~invariant_inr.foreground.remove_background`), so that ``z`` is not spent on the noise of
the empty frame. Both are exactly the identity on noiseless images with a zero background.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks
from .canonicalizer import WeightMapPose
from .center import CANONICAL_RULES, DENOISE_MODES, canonical_pose, pose_from_center_of_mass, safe_atan2
from .foreground import remove_background
from .se2 import transform_images, wrap_angle

__all__ = ["POSE_HEADS", "Encoder", "Encoding", "SmallCNN", "resnet18_backbone", "build_backbone"]

PoseMode = Literal["learned", "analytic"]
PoseHead = Literal["mlp", "weight_map", "mlp_two_pass"]
POSE_HEADS: tuple[str, ...] = ("mlp", "weight_map", "mlp_two_pass")
"""How ``pose="learned"`` predicts the pose: the paper's MLP head, the rule on a learned weight map, or the
paper's head followed by a second pass on the image it canonicalises."""


def backbone_sees_canonical(pose: str, pose_head: str) -> bool:
    """Whether the backbone is shown the canonicalised image, which the nuisance deformation needs: with the
    analytic pose, the weight-map head and the two-pass head; the one-pass ``"mlp"`` head shows it the posed image."""
    return pose == "analytic" or pose_head in ("weight_map", "mlp_two_pass")


class Encoding(NamedTuple):
    """Output of an encoder.

    Attributes:
        z: ``(B, d)`` semantic representation.
        theta: ``(B,)`` canonical rotation in ``[0, 2*pi)``, radians.
        tau: ``(B, 2)`` canonical translation, normalised units; ``S_{theta,tau}[J]`` is canonical.
    """

    z: Tensor
    theta: Tensor
    tau: Tensor


class SmallCNN(nn.Module):
    """A small convolutional backbone for quick CPU runs.

    Four 3x3 convolutions (two of stride 2) with BatchNorm and ReLU, then adaptive average
    pooling to ``pool x pool`` and a flatten, so coarse position information survives (a learned
    pose head needs it).

    Args:
        in_channels: image channels ``C``.
        width: channels of the first convolution (doubled after each stride).
        pool: side of the pooled feature map.

    Shape:
        - Input: ``(B, C, H, W)``.
        - Output: ``(B, out_features)`` with ``out_features = 4 * width * pool * pool``.

    Example:
        >>> import torch
        >>> net = SmallCNN(1, width=8, pool=2)
        >>> net(torch.rand(2, 1, 28, 28)).shape == (2, net.out_features)
        True
    """

    def __init__(self, in_channels: int = 1, *, width: int = 32, pool: int = 4) -> None:
        super().__init__()
        _checks.check_positive_int(in_channels, "in_channels")
        _checks.check_positive_int(width, "width")
        self.pool = _checks.check_positive_int(pool, "pool")

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(in_channels, width, 1),
            *block(width, 2 * width, 2),
            *block(2 * width, 2 * width, 1),
            *block(2 * width, 4 * width, 2),
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),
        )
        self.out_features = 4 * width * pool * pool

    def forward(self, images: Tensor) -> Tensor:
        return self.features(images)


def resnet18_backbone(in_channels: int = 1) -> nn.Module:
    """The paper's ResNet18 (torchvision), adapted to small images; outputs ``(B, 512)`` features.

    The stem is a 3x3 convolution of stride 1 without max-pooling (the CIFAR-style stem, as small
    images need), with ``in_channels`` inputs; the classifier is removed. Weights are random.

    Example:
        >>> import torch
        >>> resnet18_backbone(3)(torch.rand(2, 3, 16, 16)).shape
        torch.Size([2, 512])
    """
    from torchvision.models import resnet18

    _checks.check_positive_int(in_channels, "in_channels")
    net = resnet18(weights=None)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    net.out_features = 512  # type: ignore[assignment]
    return net


def build_backbone(name: str, in_channels: int, *, width: int = 32) -> tuple[nn.Module, int]:
    """A named backbone and its feature size: ``"resnet18"`` or ``"small"`` (``width``: its first channels).

    Example:
        >>> _, features = build_backbone("small", 1)
        >>> features
        2048
    """
    _checks.check_choice(name, "encoder", ("resnet18", "small"))
    if name == "resnet18":
        return resnet18_backbone(in_channels), 512
    net = SmallCNN(in_channels, width=width)
    return net, net.out_features


def _mlp(widths: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if index < len(widths) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    r"""Backbone + MLP head ``[features, *head_hidden, d + pose_outputs]`` + pose rule.

    Args:
        backbone: any module mapping ``(B, C, H, W)`` to ``(B, feature_dim)``.
        feature_dim: the backbone's output size.
        latent_dim: ``d``.
        pose: ``"learned"`` (paper) or ``"analytic"`` (see the module docstring).
        rule: canonical rule, ``"com"`` (paper) or ``"moments"``.
        denoise: ``"none"`` or ``"auto"``: how the analytic pose, and the base weights of the
            ``"weight_map"`` head, weigh the pixels (:func:`~invariant_inr.center.canonical_pose`).
        head_hidden: hidden widths of the head (paper: ``(512, 512)``), ReLU activations.
        latent_norm: ``"batch"`` standardises each coordinate of ``z`` over the batch (a BatchNorm
            without affine parameters, running statistics at evaluation), so ``z`` cannot collapse
            to one direction: a code that is the same for every image has no variance to keep.
            ``"none"`` is the paper's plain linear output. See the note below.
        pose_head: with ``pose="learned"``: ``"mlp"`` (the paper: the head's extra outputs define
            the pose), ``"weight_map"`` (:class:`~invariant_inr.canonicalizer.WeightMapPose`,
            the backbone then sees the canonicalised image) or ``"mlp_two_pass"`` (the ``"mlp"``
            head's pose, then ``z`` from a second pass on the image canonicalised by it).
        in_channels: image channels, needed by the ``"weight_map"`` head.
        input_denoise: what the backbone sees: ``"none"`` (the image) or ``"auto"``
            (:func:`~invariant_inr.foreground.remove_background` of it: background level subtracted,
            everything outside the detected object set to 0). A pose from the rule (analytic or
            weight map) is unaffected; the ``"mlp"`` head predicts its pose from what the backbone
            sees. With ``denoise="auto"`` and the analytic pose the detection is computed once.

    Note:
        Without the normalisation, a paper-faithful run was seen to drift towards codes dominated by
        a shared offset (mean cosine similarity between codes of *different* images above 0.97 after
        200 steps on sprites), which hurts cosine-based neighbour mining (SCAN) and the cosine
        consistency loss, which cannot tell a shared offset from agreement.

    Shape:
        - Input: ``(B, C, H, W)``.
        - Output: :class:`Encoding` ``(z (B, d), theta (B,), tau (B, 2))``.

    Example:
        >>> import torch
        >>> enc = Encoder(SmallCNN(1, width=8, pool=2), 128, latent_dim=16, head_hidden=(64,))
        >>> out = enc(torch.rand(3, 1, 20, 20))
        >>> out.z.shape, out.theta.shape, out.tau.shape
        (torch.Size([3, 16]), torch.Size([3]), torch.Size([3, 2]))
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        latent_dim: int,
        *,
        pose: PoseMode = "learned",
        rule: str = "com",
        denoise: Literal["none", "auto"] = "none",
        head_hidden: Sequence[int] = (512, 512),
        latent_norm: Literal["batch", "none"] = "batch",
        pose_head: PoseHead = "mlp",
        in_channels: int = 1,
        input_denoise: Literal["none", "auto"] = "none",
    ) -> None:
        super().__init__()
        if not isinstance(backbone, nn.Module):
            raise TypeError(f"backbone must be an nn.Module, got {type(backbone).__name__}")
        self.feature_dim = _checks.check_positive_int(feature_dim, "feature_dim")
        self.latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
        self.pose = _checks.check_choice(pose, "pose", ("learned", "analytic"))
        self.rule = _checks.check_choice(rule, "rule", CANONICAL_RULES)
        self.denoise = _checks.check_choice(denoise, "denoise", DENOISE_MODES)
        self.input_denoise = _checks.check_choice(input_denoise, "input_denoise", DENOISE_MODES)
        self.pose_head = _checks.check_choice(pose_head, "pose_head", POSE_HEADS)
        self.backbone = backbone
        self.pose_map = (
            WeightMapPose(in_channels, rule=rule, denoise=denoise)  # type: ignore[arg-type]
            if pose == "learned" and pose_head == "weight_map"
            else None
        )
        mlp_pose = pose == "learned" and self.pose_map is None  # "mlp" and "mlp_two_pass"
        self.pose_outputs = 0 if not mlp_pose else (2 if rule == "com" else 4)
        self.head = _mlp((self.feature_dim, *head_hidden, self.latent_dim + self.pose_outputs))
        self.latent_norm = _checks.check_choice(latent_norm, "latent_norm", ("batch", "none"))
        self.z_norm = nn.BatchNorm1d(self.latent_dim, affine=False) if latent_norm == "batch" else None

    def _normalise(self, z: Tensor) -> Tensor:
        if self.z_norm is None:
            return z
        if self.training and z.shape[0] == 1:  # batch statistics need two samples: use the running ones
            norm = self.z_norm
            return F.batch_norm(z, norm.running_mean, norm.running_var, training=False, eps=norm.eps)
        return self.z_norm(z)

    @property
    def sees_canonical_images(self) -> bool:
        """Whether the backbone sees the canonicalised image (analytic pose, the weight-map head or the two-pass head)."""
        return backbone_sees_canonical(self.pose, self.pose_head)

    def _encode_canonical(self, images: Tensor, theta: Tensor, tau: Tensor, augment: Callable[[Tensor], Tensor] | None) -> Tensor:
        canonical_images = transform_images(images, theta, tau)
        if augment is not None:
            canonical_images = augment(canonical_images)
        # the head's pose outputs, where it has them ("mlp_two_pass"), are not read on the canonical image
        return self._normalise(self.head(self.backbone(canonical_images))[:, : self.latent_dim])  # (B, d)

    @staticmethod
    def _second_pass_pose(theta: Tensor, tau: Tensor) -> tuple[Tensor, Tensor]:
        # "mlp_two_pass" warps with the pose detached: on MNIST(U) letting the code's losses move the pose through
        # the warp cost 2.6-7.2 points of k-means, Ward and SCAN and did not improve the pose (docs/results.md;
        # mlp_head/grad_wrap.py replaces this to rerun that form)
        return theta.detach(), tau.detach()

    def forward(self, images: Tensor, augment: Callable[[Tensor], Tensor] | None = None) -> Encoding:
        """Encode ``images``; where the backbone sees the canonical image (:attr:`sees_canonical_images`),
        ``augment`` (if given) deforms it first (the training-time nuisance deformation of
        :class:`~invariant_inr.augment.NuisanceAugment`; the pose is that of the undeformed image)."""
        return self.forward_with_direction(images, augment)[0]

    def forward_with_direction(
        self, images: Tensor, augment: Callable[[Tensor], Tensor] | None = None
    ) -> tuple[Encoding, Tensor | None]:
        r""":meth:`forward`, and the ``"mlp"`` head's raw direction output ``v`` (``(B, 2)``,
        :math:`\theta = -\operatorname{atan2}(v_y, v_x)`) where it has one (the ``"moments"`` and
        ``"harmonic"`` rules), else ``None``: what
        :func:`~invariant_inr.losses.symmetry_breaking_loss` takes as ``direction``.

        Example:
            >>> import torch
            >>> from invariant_inr.se2 import wrap_angle
            >>> enc = Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=8, head_hidden=(16,), rule="moments")
            >>> out, direction = enc.forward_with_direction(torch.rand(3, 1, 12, 12))
            >>> direction.shape, bool(torch.allclose(wrap_angle(-torch.atan2(direction[:, 1], direction[:, 0])), out.theta, atol=1e-5))
            (torch.Size([3, 2]), True)
        """
        seen = remove_background(images) if self.input_denoise == "auto" else images  # what the backbone is shown
        if self.pose == "analytic":
            with torch.no_grad():
                if self.input_denoise == "auto" and self.denoise == "auto":
                    # the rule's foreground weights are the channel sum of `seen`: detect once
                    theta, tau = canonical_pose(seen, self.rule)  # type: ignore[arg-type]
                else:
                    theta, tau = canonical_pose(images, self.rule, denoise=self.denoise)  # type: ignore[arg-type]
            return Encoding(self._encode_canonical(seen, theta, tau, augment), theta, tau), None
        if self.pose_map is not None:  # differentiable in the pose: every loss reaches the weight map
            theta, tau = self.pose_map(images)
            return Encoding(self._encode_canonical(seen, theta, tau, augment), theta, tau), None
        if augment is not None and not self.sees_canonical_images:
            raise ValueError(
                "augment needs the backbone to see the canonical image (pose='analytic' or pose_head='weight_map' "
                "or 'mlp_two_pass'), which the 'mlp' pose head does not produce"
            )
        out = self.head(self.backbone(seen))  # (B, d + pose_outputs)
        center = out[:, self.latent_dim : self.latent_dim + 2]
        theta, tau = pose_from_center_of_mass(center)  # (B,), (B, 2); tau = -m
        direction = None
        if self.rule != "com":  # "moments" and "harmonic": the angle is not the centre's direction
            direction = out[:, self.latent_dim + 2 :]  # (B, 2): the rule's direction (axis, harmonic)
            theta = wrap_angle(-safe_atan2(direction[:, 1], direction[:, 0]))
        # two passes: z from the image canonicalised by the predicted pose; one pass: z from the same outputs (the paper)
        if self.pose_head == "mlp_two_pass":
            z = self._encode_canonical(seen, *self._second_pass_pose(theta, tau), augment)
        else:
            z = self._normalise(out[:, : self.latent_dim])
        return Encoding(z, theta, tau), direction

    def extra_repr(self) -> str:
        denoise = f", denoise={self.denoise!r}" if self.denoise != "none" else ""
        denoise += f", input_denoise={self.input_denoise!r}" if self.input_denoise != "none" else ""
        head = f", pose_head={self.pose_head!r}" if self.pose == "learned" else ""
        return (
            f"latent_dim={self.latent_dim}, pose={self.pose!r}{head}, rule={self.rule!r}{denoise}, "
            f"latent_norm={self.latent_norm!r}"
        )

