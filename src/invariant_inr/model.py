r"""The :class:`IRLINR` facade: encoder, hypernetwork, Fourier features and INR behind one object.

Data flow (paper figure 1), for images ``J`` of shape ``(B, C, H, W)``::

    encoder(J)            -> z (B, d), theta (B,), tau (B, 2)       # Encoding
    hyper(z)              -> eta (B, K)                            # K = inr.num_params
                                                                   # (or inr.num_modulations)
    transform_points(x_p) -> S_{theta,tau}(x_p)  (B, P, 2)          # grid points, moved
    fourier(...)          -> (B, P, 2f)
    inr(..., eta)         -> (B, P, C) -> reshaped to (B, C, H, W)

Rendering at the identity pose gives the canonical image :math:`J^{(can)}`; rendering at the
encoded pose reproduces :math:`J` (appendices E and F).

With ``hypernetwork="full"`` (the paper) ``eta`` is every weight of a
:class:`~invariant_inr.inr.FunctionalINR`; with ``"shift"`` or ``"scale_shift"`` it is the
per-layer modulation of a :class:`~invariant_inr.modulated.ModulatedINR` whose weights are shared
by all images (far fewer numbers per image, see :mod:`invariant_inr.modulated`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from . import _checks
from ._io import atomic_save, load_file
from ._version import __version__
from .augment import NuisanceAugment
from .center import CANONICAL_RULES, DENOISE_MODES
from .encoders import POSE_HEADS, Encoder, Encoding, backbone_sees_canonical, build_backbone
from .fourier import FourierFeatures
from .hyper import HyperMLP
from .inr import FunctionalINR, evaluate_in_chunks
from .modulated import MODULATIONS, ModulatedINR
from .losses import CONSISTENCY_KINDS, LossParts, consistency_loss, reconstruction_loss, symmetry_breaking_loss
from .se2 import _apply_pose, coordinate_grid, random_pose, transform_images

__all__ = ["HYPERNETWORKS", "IRLINR", "IRLINRConfig"]

HYPERNETWORKS: tuple[str, ...] = ("full", *MODULATIONS)
"""What the hypernetwork generates: every INR weight (``"full"``, the paper) or a modulation."""

CHECKPOINT_FORMAT = "invariant-inr"
CHECKPOINT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class IRLINRConfig:
    """Everything needed to rebuild an :class:`IRLINR` (saved in every checkpoint).

    Defaults follow the paper (appendices A-B) except the pose head and the canonical rule
    (``pose_head="weight_map"``, ``canonical_rule="harmonic"``: the paper's ``"mlp"`` head and
    ``"com"`` rule did not learn a pose in minutes on a CPU) and ``latent_norm``; the ``"paper"``
    preset keeps the paper's. See :class:`IRLINR` for the meaning of each field.
    """

    in_channels: int = 1
    image_size: tuple[int, int] = (50, 50)
    latent_dim: int = 32
    encoder: str = "resnet18"
    encoder_features: int | None = None
    encoder_width: int = 32
    pose: str = "learned"
    pose_head: str = "weight_map"
    canonical_rule: str = "harmonic"
    canonical_denoise: str = "none"
    encoder_denoise: str = "none"
    num_frequencies: int = 256
    fourier_sigma: float = 2.0
    inr_hidden: tuple[int, ...] = (256, 256, 256)
    hyper_hidden: tuple[int, ...] = (256, 256, 256)
    hypernetwork: str = "full"
    head_hidden: tuple[int, ...] = (512, 512)
    latent_norm: str = "batch"
    output_activation: str = "identity"
    consistency: str = "cos"
    consistency_temperature: float = 0.5
    translation_std: float = 0.1
    lambda_recon: float = 1.0
    lambda_consis: float = 1.0
    lambda_symm: float = 15.0
    pixel_fraction: float = 1.0
    augment_strength: float = 0.0
    chunk_size: int | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IRLINRConfig:
        known = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown IRLINR config field(s) {unknown}; the checkpoint may come from a newer version")
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        values.setdefault("pose_head", "mlp")  # saved before the option existed: the paper's head, whatever the default
        return cls(**values)


def _widths(value: Any, name: str) -> tuple[int, ...]:
    """A sequence of layer widths, each a positive int, as a tuple (empty: no hidden layer)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of layer widths such as (256, 256), got {_checks.describe(value)}")
    return tuple(_checks.check_positive_int(width, f"{name} width", maximum=1 << 20) for width in value)


class IRLINR(nn.Module):
    r"""Invariant Representation Learning with Implicit Neural Representations (Kwon et al., 2023).

    Args:
        in_channels: image channels ``C`` (1 greyscale, 3 RGB).
        image_size: ``H`` (square) or ``(H, W)`` of the training images.
        latent_dim: ``d``, the size of the semantic code ``z``.
        encoder: ``"resnet18"`` (paper), ``"small"`` (a quick CPU CNN), or your own ``nn.Module``
            backbone mapping ``(B, C, H, W)`` to ``(B, encoder_features)``.
        encoder_features: the feature size of a custom backbone (required with one).
        encoder_width: channels of the first convolution of the ``"small"`` encoder.
        pose: ``"learned"`` (paper: the head predicts the pose) or ``"analytic"`` (the rule's pose
            from the pixels; the backbone sees the canonicalised image). See :mod:`invariant_inr.encoders`.
        pose_head: how ``pose="learned"`` predicts the pose: ``"weight_map"`` (default: the
            canonical rule applied to a learned weight map of the image,
            :class:`~invariant_inr.canonicalizer.WeightMapPose`; it starts at the rule's pose, is
            equivariant by construction, and the backbone sees the image canonicalised by it) or
            ``"mlp"`` (the paper: extra outputs of the encoder head; it learned little in minutes
            on a CPU, see ``docs/results.md``) or ``"mlp_two_pass"`` (the ``"mlp"`` head's pose, then
            ``z`` from a second backbone pass on the image canonicalised by it, so that
            ``augment_strength`` applies). Ignored with ``pose="analytic"``. Checkpoints
            saved before the option existed load as ``"mlp"``.
        canonical_rule: ``"harmonic"`` (default: lowest strong angular harmonic,
            translation-independent, stable on shapes with rotational symmetry), ``"moments"``
            (principal axis signed by the third moment, translation-independent) or ``"com"``
            (the paper, section 3.4: the direction of the centre of mass, which cannot recover
            the rotation of a centred object). See :mod:`invariant_inr.center`.
        canonical_denoise: ``"none"`` (default: the rule weighs pixels by their intensity) or
            ``"auto"`` (robust foreground weights, for noisy images: background level and noise
            estimated per image; identical on noiseless images with a zero background). Applies
            wherever the rule is computed: the analytic pose and the symmetry-breaking target. See
            :func:`invariant_inr.center.canonical_pose`.
        encoder_denoise: what the encoder's backbone sees: ``"none"`` (default: the image) or
            ``"auto"`` (the image with its background removed by
            :func:`invariant_inr.foreground.remove_background`, for noisy images; identical on
            noiseless images with a zero background). The reconstruction target stays the image
            itself. See ``docs/howto/noisy_images.rst``.
        num_frequencies: Fourier frequencies ``f`` (paper: 256).
        fourier_sigma: their standard deviation (paper: 2.0).
        inr_hidden: INR hidden widths (paper: 256, 256, 256).
        hyper_hidden: hypernetwork hidden widths (paper: 256, 256, 256).
        hypernetwork: what the hypernetwork generates per image: ``"full"`` (default, the paper)
            every weight of the INR (:class:`~invariant_inr.inr.FunctionalINR`); ``"shift"`` only a
            shift of each hidden layer of an INR whose weights are trained and shared by all
            images (:class:`~invariant_inr.modulated.ModulatedINR`, as in functa); ``"scale_shift"``
            a scale and a shift of each (FiLM). The modulated kinds emit ``sum(inr_hidden)``
            (or twice that) numbers per image instead of every weight, so the hypernetwork's output
            layer and its optimizer state are about ``in_features`` times smaller and each INR
            layer is one large matrix multiply; they need at least one INR hidden layer.
        head_hidden: encoder head hidden widths (paper: 512, 512).
        latent_norm: ``"batch"`` (default, our addition against collapse of ``z``) or ``"none"``
            (the paper's plain linear output); see :class:`~invariant_inr.encoders.Encoder`.
        output_activation: ``"identity"`` or ``"sigmoid"`` on the INR output.
        consistency: ``"cos"`` (section 3.3.2), ``"mse"`` or ``"infonce"`` (our addition: the
            contrastive form, which also pushes the codes of different images of a batch apart;
            see :func:`~invariant_inr.losses.consistency_loss`).
        consistency_temperature: temperature of ``consistency="infonce"`` (ignored otherwise;
            default 0.5, SimCLR's; on MNIST(U) 0.5 clustered better than 0.2).
        translation_std: :math:`\sigma` of the random translations of the consistency loss, in
            normalised units (one pixel of a 50x50 image is 2/49).
        lambda_recon: weight of the reconstruction loss (paper: 1).
        lambda_consis: weight of the consistency loss (paper: 1).
        lambda_symm: weight of the symmetry-breaking loss (paper: 15).
        pixel_fraction: fraction of pixels, drawn at random per image and step, on which the
            reconstruction loss is evaluated (1.0: all; an unbiased estimate otherwise).
        augment_strength: strength of the random nuisance deformation (rotation, scale, shear,
            thicker strokes; :class:`~invariant_inr.augment.NuisanceAugment`) applied, during
            :meth:`loss` only, to the canonical image each copy's backbone sees, so the consistency
            loss teaches invariance to more than the pose (our addition; needs
            ``pose="analytic"`` or ``pose_head="weight_map"`` or ``"mlp_two_pass"``). ``0`` (default) is the paper.
        chunk_size: evaluate the INR this many pixels at a time, recomputing activations in the
            backward pass, so memory stays bounded (``None``: all at once).
        seed: seed of the random Fourier matrix and of the initial weights.

    Example:
        >>> import torch
        >>> from invariant_inr import IRLINR
        >>> model = IRLINR(1, 16, 8, encoder="small", num_frequencies=16, inr_hidden=(32,),
        ...                hyper_hidden=(32,), head_hidden=(64,))
        >>> images = torch.rand(4, 1, 16, 16)
        >>> enc = model.encode(images)
        >>> enc.z.shape, model.reconstruct(images).shape, model.render(enc.z, size=32).shape
        (torch.Size([4, 8]), torch.Size([4, 1, 16, 16]), torch.Size([4, 1, 32, 32]))
        >>> parts = model.loss(images)
        >>> parts.total.backward()
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int | tuple[int, int] = 50,
        latent_dim: int = 32,
        *,
        encoder: Literal["resnet18", "small"] | nn.Module = "resnet18",
        encoder_features: int | None = None,
        encoder_width: int = 32,
        pose: Literal["learned", "analytic"] = "learned",
        pose_head: Literal["mlp", "weight_map", "mlp_two_pass"] = "weight_map",
        canonical_rule: Literal["com", "moments", "harmonic"] = "harmonic",
        canonical_denoise: Literal["none", "auto"] = "none",
        encoder_denoise: Literal["none", "auto"] = "none",
        num_frequencies: int = 256,
        fourier_sigma: float = 2.0,
        inr_hidden: Sequence[int] = (256, 256, 256),
        hyper_hidden: Sequence[int] = (256, 256, 256),
        hypernetwork: Literal["full", "shift", "scale_shift"] = "full",
        head_hidden: Sequence[int] = (512, 512),
        latent_norm: Literal["batch", "none"] = "batch",
        output_activation: Literal["identity", "sigmoid"] = "identity",
        consistency: Literal["cos", "mse", "infonce"] = "cos",
        consistency_temperature: float = 0.5,
        translation_std: float = 0.1,
        lambda_recon: float = 1.0,
        lambda_consis: float = 1.0,
        lambda_symm: float = 15.0,
        pixel_fraction: float = 1.0,
        augment_strength: float = 0.0,
        chunk_size: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        custom_backbone = isinstance(encoder, nn.Module)
        if custom_backbone:
            if encoder_features is None:
                raise ValueError("a custom encoder backbone needs encoder_features=<its output feature size>")
            _checks.check_positive_int(encoder_features, "encoder_features")
        elif not isinstance(encoder, str):
            raise TypeError(f"encoder must be 'resnet18', 'small' or an nn.Module, got {type(encoder).__name__}")
        if isinstance(pixel_fraction, bool) or not isinstance(pixel_fraction, (int, float)):
            raise TypeError(f"pixel_fraction must be a number in (0, 1], got {_checks.describe(pixel_fraction)}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {_checks.describe(seed)}")
        if not 0.0 < float(pixel_fraction) <= 1.0:
            raise ValueError(f"pixel_fraction must be in (0, 1], got {pixel_fraction}")
        config = IRLINRConfig(
            in_channels=_checks.check_positive_int(in_channels, "in_channels", maximum=4096),
            image_size=_checks.as_size(image_size, "image_size"),
            latent_dim=_checks.check_positive_int(latent_dim, "latent_dim", maximum=65536),
            encoder="custom" if custom_backbone else _checks.check_choice(encoder, "encoder", ("resnet18", "small")),
            encoder_features=encoder_features,
            encoder_width=_checks.check_positive_int(encoder_width, "encoder_width", maximum=4096),
            pose=_checks.check_choice(pose, "pose", ("learned", "analytic")),
            pose_head=_checks.check_choice(pose_head, "pose_head", POSE_HEADS),
            canonical_rule=_checks.check_choice(canonical_rule, "canonical_rule", CANONICAL_RULES),
            canonical_denoise=_checks.check_choice(canonical_denoise, "canonical_denoise", DENOISE_MODES),
            encoder_denoise=_checks.check_choice(encoder_denoise, "encoder_denoise", DENOISE_MODES),
            num_frequencies=num_frequencies,
            fourier_sigma=_checks.check_positive_float(fourier_sigma, "fourier_sigma"),
            inr_hidden=_widths(inr_hidden, "inr_hidden"),
            hyper_hidden=_widths(hyper_hidden, "hyper_hidden"),
            hypernetwork=_checks.check_choice(hypernetwork, "hypernetwork", HYPERNETWORKS),
            head_hidden=_widths(head_hidden, "head_hidden"),
            latent_norm=_checks.check_choice(latent_norm, "latent_norm", ("batch", "none")),
            output_activation=output_activation,
            consistency=_checks.check_choice(consistency, "consistency", CONSISTENCY_KINDS),
            consistency_temperature=_checks.check_positive_float(consistency_temperature, "consistency_temperature"),
            translation_std=_checks.check_positive_float(translation_std, "translation_std", allow_zero=True),
            lambda_recon=_checks.check_positive_float(lambda_recon, "lambda_recon", allow_zero=True),
            lambda_consis=_checks.check_positive_float(lambda_consis, "lambda_consis", allow_zero=True),
            lambda_symm=_checks.check_positive_float(lambda_symm, "lambda_symm", allow_zero=True),
            pixel_fraction=float(pixel_fraction),
            augment_strength=_checks.check_positive_float(augment_strength, "augment_strength", allow_zero=True),
            chunk_size=chunk_size,
            seed=int(seed),
        )
        if config.augment_strength > 0 and not backbone_sees_canonical(config.pose, config.pose_head):
            raise ValueError(
                f"augment_strength={config.augment_strength} needs pose='analytic' or pose_head='weight_map' or "
                f"'mlp_two_pass' (it deforms the canonical image the backbone sees), got pose='learned' with pose_head='mlp'"
            )
        if config.hypernetwork != "full" and not config.inr_hidden:
            raise ValueError(
                f"hypernetwork={config.hypernetwork!r} modulates the INR's hidden layers, so it needs at least one "
                f"(inr_hidden=(256,) for example), got inr_hidden=()"
            )
        self.config = config
        self.augment = NuisanceAugment(config.augment_strength)
        generator = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # module initialisers draw from the global RNG
            if custom_backbone:
                backbone, features = encoder, int(encoder_features)  # type: ignore[arg-type]
            else:
                backbone, features = build_backbone(config.encoder, config.in_channels, width=config.encoder_width)
            self.encoder = Encoder(
                backbone,
                features,
                config.latent_dim,
                pose=config.pose,  # type: ignore[arg-type]
                rule=config.canonical_rule,
                denoise=config.canonical_denoise,  # type: ignore[arg-type]
                head_hidden=config.head_hidden,
                latent_norm=config.latent_norm,  # type: ignore[arg-type]
                pose_head=config.pose_head,  # type: ignore[arg-type]
                in_channels=config.in_channels,
                input_denoise=config.encoder_denoise,  # type: ignore[arg-type]
            )
            self.fourier = FourierFeatures(config.num_frequencies, config.fourier_sigma, generator=generator)
            self.inr: FunctionalINR | ModulatedINR
            if config.hypernetwork == "full":
                self.inr = FunctionalINR(
                    self.fourier.out_features,
                    config.inr_hidden,
                    config.in_channels,
                    output_activation=config.output_activation,  # type: ignore[arg-type]
                    chunk_size=chunk_size,
                )
                generated, scales = self.inr.num_params, self.inr.param_scales()
            else:
                self.inr = ModulatedINR(
                    self.fourier.out_features,
                    config.inr_hidden,
                    config.in_channels,
                    modulation=config.hypernetwork,  # type: ignore[arg-type]
                    output_activation=config.output_activation,
                    chunk_size=chunk_size,
                )
                generated, scales = self.inr.num_modulations, self.inr.modulation_scales()
            self.hyper = HyperMLP(config.latent_dim, generated, config.hyper_hidden, out_scale=scales)

    # ----------------------------------------------------------------------------------------- utils
    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model's parameters."""
        return next(self.parameters()).dtype

    def _check_images(self, images: Tensor) -> None:
        _checks.check_images(images, channels=self.config.in_channels, size=self.config.image_size)

    # ---------------------------------------------------------------------------------- public API
    def forward(self, images: Tensor) -> Encoding:
        """Same as :meth:`encode`."""
        return self.encode(images)

    def encode(self, images: Tensor) -> Encoding:
        """Encode images into ``(z (B, d), theta (B,), tau (B, 2))``.

        ``S_{theta,tau}[J]`` is the canonical orientation of ``J`` (convention of :mod:`invariant_inr.se2`).

        Args:
            images: ``(B, C, H, W)`` floating images of the model's channels and size.
        """
        self._check_images(images)
        with _checks.checks_disabled():  # checked once above; no further host-device syncs
            return self.encoder(images)

    def _render_points(self, params: Tensor, points: Tensor, chunk_size: int | None) -> Tensor:
        """INR values at (already moved) points ``(B, P, 2)`` or shared ``(P, 2)`` -> ``(B, P, C)``."""

        def fourier_then_inr(chunk: Tensor, chunk_params: Tensor) -> Tensor:
            if type(self.fourier) is FourierFeatures:  # features fused into the first layer (same values)
                return self.inr._evaluate_fourier(chunk, self.fourier.frequencies, chunk_params)  # (B, Pc, C)
            return self.inr._evaluate(self.fourier(chunk), chunk_params)  # (B, Pc, 2f) -> (B, Pc, C)

        chunk = chunk_size if chunk_size is not None else self.config.chunk_size
        with _checks.checks_disabled():
            return evaluate_in_chunks(fourier_then_inr, points, params, chunk)

    def render(
        self,
        z: Tensor,
        size: int | tuple[int, int] | None = None,
        theta: Tensor | None = None,
        tau: Tensor | None = None,
        *,
        chunk_size: int | None = None,
    ) -> Tensor:
        r"""Render the INR of ``z`` on an ``H x W`` grid, at pose ``(theta, tau)`` (identity if omitted).

        Pixel ``p`` gets :math:`I(S_{\theta,\tau}(x_p); H(z))`. With the encoded pose this reproduces
        the input; with the identity it gives the canonical image. Any resolution works: the grid
        of :func:`~invariant_inr.se2.coordinate_grid` always spans ``[-1, 1]`` on the longer side.

        Args:
            z: ``(B, d)`` codes.
            size: ``H`` or ``(H, W)``; the training size by default.
            theta: optional ``(B,)`` rotation.
            tau: optional ``(B, 2)`` translation.
            chunk_size: pixels evaluated at a time (memory bound).

        Returns:
            ``(B, C, H, W)``.
        """
        _checks.check_floating(z, "z")
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z must have shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        if _checks.checks_enabled():
            if z.shape[0] == 0:
                raise ValueError("z is an empty batch (B = 0); give at least one code")
            _checks.check_finite(z, "z")
        height, width = self.config.image_size if size is None else _checks.as_size(size)
        batch = z.shape[0]
        grid = coordinate_grid(height, width, device=z.device, dtype=z.dtype).reshape(-1, 2)  # (P, 2)
        if theta is not None or tau is not None:
            theta = torch.zeros(batch, device=z.device, dtype=z.dtype) if theta is None else theta
            tau = torch.zeros(batch, 2, device=z.device, dtype=z.dtype) if tau is None else tau
            _checks.check_pose(theta, tau, batch)
            points = _apply_pose(grid.unsqueeze(0), theta.to(z.dtype), tau.to(z.dtype))  # (B, P, 2)
        else:
            points = grid
        values = self._render_points(self.hyper(z), points, chunk_size)  # (B, P, C)
        return values.transpose(1, 2).reshape(batch, self.config.in_channels, height, width)

    def reconstruct(self, images: Tensor, *, chunk_size: int | None = None) -> Tensor:
        """Reconstruct ``images`` (rendered at their encoded pose, paper appendix E), ``(B, C, H, W)``."""
        enc = self.encode(images)
        return self.render(enc.z, images.shape[-2:], enc.theta, enc.tau, chunk_size=chunk_size)  # type: ignore[arg-type]

    def canonical(self, images: Tensor, *, size: int | tuple[int, int] | None = None, chunk_size: int | None = None) -> Tensor:
        """Render ``images`` in their canonical orientation from ``z`` alone (appendix F), ``(B, C, H, W)``."""
        enc = self.encode(images)
        return self.render(enc.z, images.shape[-2:] if size is None else size, chunk_size=chunk_size)  # type: ignore[arg-type]

    def loss(self, images: Tensor, *, generator: torch.Generator | None = None) -> LossParts:
        r"""The IRL-INR loss on a batch, as :class:`~invariant_inr.losses.LossParts` (differentiable).

        Each image gets two random poses :math:`\theta \sim U[0, 2\pi)`,
        :math:`\tau \sim N(0, \sigma^2 I)`; both re-posed copies are encoded in one pass, and the
        reconstruction and symmetry-breaking losses are averaged over both, the consistency loss
        compares their codes. Reconstruction uses a random ``pixel_fraction`` of the pixels.

        Args:
            images: ``(B, C, H, W)``.
            generator: optional generator of the random poses and pixel subsets.
        """
        self._check_images(images)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {_checks.describe(generator)}")
        config = self.config
        batch, channels, height, width = images.shape
        theta, tau = random_pose(2 * batch, config.translation_std, generator=generator, device=images.device, dtype=images.dtype)
        with _checks.checks_disabled():  # inputs checked above; nothing below syncs with the host
            posed = transform_images(images.repeat(2, 1, 1, 1), theta, tau)  # (2B, C, H, W): two copies
            augment = None if self.augment.is_identity else functools.partial(self.augment, generator=generator)
            enc, direction = self.encoder.forward_with_direction(posed, augment)  # direction: the "mlp" head's raw angle output
            params = self.hyper(enc.z)  # (2B, K)
            grid = coordinate_grid(height, width, device=images.device, dtype=images.dtype).reshape(-1, 2)  # (P, 2)
            targets = posed.flatten(2).transpose(1, 2)  # (2B, P, C)
            num_pixels = grid.shape[0]
            if config.pixel_fraction < 1.0:
                keep = max(1, round(config.pixel_fraction * num_pixels))
                scores = torch.rand(2 * batch, num_pixels, generator=generator, device=generator.device if generator else images.device)
                index = scores.to(images.device).argsort(dim=1)[:, :keep]  # (2B, k): a random subset per image
                points = grid[index]  # (2B, k, 2)
                targets = targets.gather(1, index.unsqueeze(-1).expand(-1, -1, channels))  # (2B, k, C)
            else:
                points = grid.unsqueeze(0)  # (1, P, 2), broadcast over the batch
            moved = _apply_pose(points, enc.theta.to(images.dtype), enc.tau.to(images.dtype))  # (2B, k, 2)
            recon = reconstruction_loss(self._render_points(params, moved, None), targets)
            z1, z2 = enc.z.chunk(2)
            consis = consistency_loss(z1, z2, config.consistency, temperature=config.consistency_temperature)  # type: ignore[arg-type]
            if config.pose == "learned" and config.lambda_symm > 0:
                symm = symmetry_breaking_loss(
                    enc.theta, enc.tau, posed, config.canonical_rule, denoise=config.canonical_denoise, direction=direction  # type: ignore[arg-type]
                )
            else:
                symm = torch.zeros((), device=images.device, dtype=images.dtype)
        total = config.lambda_recon * recon + config.lambda_consis * consis + config.lambda_symm * symm
        return LossParts(total, recon, consis, symm)

    # ------------------------------------------------------------------------------ checkpointing
    def checkpoint_dict(self) -> dict[str, Any]:
        """The content of a saved model: format tag, versions, config and ``state_dict`` (CPU tensors)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "library_version": __version__,
            "config": self.config.to_dict(),
            "state_dict": {key: value.detach().cpu() for key, value in self.state_dict().items()},
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save config and weights (the Fourier matrix included) atomically to ``path``.

        Load with :meth:`IRLINR.load`; the file holds only tensors and plain types, so it loads
        with ``torch.load(..., weights_only=True)``.
        """
        atomic_save(self.checkpoint_dict(), path)

    @classmethod
    def from_checkpoint_dict(cls, data: Any, *, backbone: nn.Module | None = None, source: str = "checkpoint") -> IRLINR:
        """Rebuild a model from :meth:`checkpoint_dict` output (see :meth:`load`)."""
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{source} is not an invariant-inr model checkpoint (no 'format': {CHECKPOINT_FORMAT!r} entry)")
        version = data.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f"{source} has no valid 'format_version' entry (expected an int, got {_checks.describe(version)})")
        if version > CHECKPOINT_VERSION:
            raise ValueError(
                f"{source} has checkpoint format version {version}, newer than this library's "
                f"{CHECKPOINT_VERSION} (invariant-inr {__version__}); upgrade invariant-inr to load it"
            )
        missing = [key for key in ("config", "state_dict") if not isinstance(data.get(key), dict)]
        if missing:
            raise ValueError(f"{source} is incomplete: expected dict entries 'config' and 'state_dict', {missing} missing or not dicts")
        config = IRLINRConfig.from_dict(data["config"])
        kwargs = config.to_dict()
        if config.encoder == "custom":
            if backbone is None:
                raise ValueError(f"{source} was trained with a custom encoder backbone; pass it as load(..., backbone=module)")
            kwargs["encoder"] = backbone
        elif backbone is not None:
            raise ValueError(f"{source} uses the built-in {config.encoder!r} encoder; do not pass a backbone")
        model = cls(**kwargs)
        try:
            model.load_state_dict(data["state_dict"])
        except RuntimeError as error:
            raise ValueError(f"{source} does not match the architecture in its own config: {error}") from error
        return model

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        map_location: Any = "cpu",
        backbone: nn.Module | None = None,
    ) -> IRLINR:
        """Load a model saved with :meth:`save` (or a training checkpoint of :func:`~invariant_inr.fit`).

        Args:
            path: the file.
            map_location: where to put the tensors (``"cpu"`` by default).
            backbone: the custom backbone module, if the model was built with one.
        """
        data = load_file(path, map_location=map_location)
        if isinstance(data, dict) and "model" in data and "format" not in data:
            data = data["model"]  # a training checkpoint wraps the model
        return cls.from_checkpoint_dict(data, backbone=backbone, source=repr(str(path)))

    def extra_repr(self) -> str:
        config = self.config
        return (
            f"in_channels={config.in_channels}, image_size={config.image_size}, latent_dim={config.latent_dim}, "
            f"encoder={config.encoder!r}, pose={config.pose!r}, pose_head={config.pose_head!r}, canonical_rule={config.canonical_rule!r}"
        )
