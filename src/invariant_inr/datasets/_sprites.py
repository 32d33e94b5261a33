r"""Sprites: dSprites-like images drawn procedurally from signed distance functions, with known shape, scale and pose."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .. import _checks
from ..se2 import coordinate_grid, grid_spacing, wrap_angle
from ._base import _add_pixel_noise_, _check_noise, _check_seed, _PosedImages
from ._sprite_shapes import _SDFS, SPRITE_SHAPES, _check_shapes

__all__ = ["Sprites", "make_sprites", "render_sprites"]


def render_sprites(
    labels: Tensor,
    scale: Tensor,
    theta: Tensor,
    tau: Tensor,
    *,
    size: int = 32,
    shapes: Sequence[str] = SPRITE_SHAPES,
    chunk_size: int = 1024,
) -> Tensor:
    r"""Draw sprites with the given shape, scale and pose, anti-aliased.

    A sprite is the shape ``shapes[label]``, scaled by ``scale`` about its centre (at scale 1 it
    fits in a disk of radius 0.5, a quarter of the frame's width), in its canonical pose: centred
    at the origin, upright (ellipse long axis along ``y``, heart tip down). The drawn image is
    :math:`S_{\theta,\tau}` applied to it: the pixel at :math:`x` shows the shape at
    :math:`S^{-1}(x) = R_{-\theta}x - \tau`. The shapes are signed distance functions evaluated
    on :func:`~invariant_inr.se2.coordinate_grid`; the intensity ramps from 1 to 0 across one
    pixel at the edge.

    Args:
        labels: ``(N,)`` integer shape indices into ``shapes``.
        scale: ``(N,)`` positive scales.
        theta: ``(N,)`` rotations in radians.
        tau: ``(N, 2)`` translations in normalised units.
        size: image side in pixels.
        shapes: shape names, from :data:`SPRITE_SHAPES`.
        chunk_size: sprites drawn per batched step (memory bound).

    Returns:
        ``(N, 1, size, size)`` ``float32`` in ``[0, 1]``.

    Example:
        >>> import math, torch
        >>> labels, scale = torch.tensor([2, 2]), torch.ones(2)
        >>> theta, tau = torch.tensor([0.0, math.pi]), torch.zeros(2, 2)
        >>> upright, flipped = render_sprites(labels, scale, theta, tau, size=32)
        >>> torch.equal(flipped, torch.rot90(upright, 2, dims=(-2, -1)))  # a heart is not 180-degree symmetric
        False
        >>> bool((upright[0, :16].sum() > upright[0, 16:].sum()))  # lobes at the top, tip at the bottom
        True
    """
    shapes = _check_shapes(shapes)
    size = _checks.check_positive_int(size, "size", minimum=2)
    _checks.check_positive_int(chunk_size, "chunk_size")
    _checks.check_tensor(labels, "labels")
    if labels.ndim != 1 or labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of shape (N,), got {_checks.describe(labels)}")
    if labels.numel() == 0:
        raise ValueError("labels is empty; give at least one sprite")
    if bool(((labels < 0) | (labels >= len(shapes))).any()):
        raise ValueError(f"labels must be in 0..{len(shapes) - 1} (indices into shapes={list(shapes)})")
    _checks.check_floating(scale, "scale")
    if scale.shape != labels.shape:
        raise ValueError(f"scale must have shape {tuple(labels.shape)}, got {tuple(scale.shape)}")
    if not bool((scale > 0).all()) or not bool(torch.isfinite(scale).all()):
        raise ValueError("scale must be positive and finite")
    _checks.check_pose(theta, tau, labels.shape[0])

    dtype = torch.float32
    grid = coordinate_grid(size, size, dtype=dtype).reshape(-1, 2)  # (P, 2)
    gx, gy = grid[:, 0], grid[:, 1]  # (P,)
    pixel = grid_spacing(size, size)
    out = torch.empty(labels.shape[0], size * size, dtype=dtype)
    for k, name in enumerate(shapes):  # a loop over the few shape kinds, not over samples
        members = (labels == k).nonzero().squeeze(1)  # (n_k,)
        for start in range(0, members.numel(), chunk_size):  # memory-sized chunks, each one batched step
            rows = members[start : start + chunk_size]  # (b,)
            th, sc = theta[rows].to(dtype)[:, None], scale[rows].to(dtype)[:, None]  # (b, 1)
            tr = tau[rows].to(dtype)  # (b, 2)
            cos, sin = torch.cos(th), torch.sin(th)
            # S^{-1}(x) = R_{-theta} x - tau, divided by the scale: (b, P) coordinates in the unit shape
            x = (cos * gx + sin * gy - tr[:, :1]) / sc
            y = (cos * gy - sin * gx - tr[:, 1:]) / sc
            distance = _SDFS[name](x, y).mul_(sc)  # (b, P) signed distance in frame units
            out[rows] = distance.div_(-pixel).add_(0.5).clamp_(0.0, 1.0)  # one-pixel anti-aliased edge
    return out.view(-1, 1, size, size)


def _truncated_normal(shape: tuple[int, ...], std: float, bound: float, generator: torch.Generator) -> Tensor:
    """Normal samples with standard deviation ``std`` truncated to ``[-bound * std, bound * std]`` (inverse CDF)."""
    low = 0.5 * math.erfc(bound / math.sqrt(2.0))  # Phi(-bound)
    u = low + (1.0 - 2.0 * low) * torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.special.ndtri(u) * std


class Sprites(_PosedImages):
    """A set of sprites with their latent factors; made by :func:`make_sprites`.

    ``dataset[i]`` is ``(image (1, size, size), label)``, or ``(image, label, theta, tau)`` with
    ``return_pose=True``.

    Attributes:
        images: ``(N, 1, size, size)`` ``float32``, in ``[0, 1]`` when ``noise`` is 0.
        labels: ``(N,)`` ``int64`` indices into ``shapes``.
        scale: ``(N,)`` ``float32`` scales.
        theta: ``(N,)`` ``float32`` rotations in radians (applied to the upright shape).
        tau: ``(N, 2)`` ``float32`` translations in normalised units.
        shapes: the shape names.
        return_pose: whether items carry the pose.
        noise: standard deviation of the Gaussian pixel noise already in ``images`` (recorded
            here, not added by the constructor; :func:`make_sprites` adds it).

    Example:
        >>> s = make_sprites(4, size=16, seed=1)
        >>> len(s), s.images.shape, s.base_images().shape
        (4, torch.Size([4, 1, 16, 16]), torch.Size([4, 1, 16, 16]))
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        scale: Tensor,
        theta: Tensor,
        tau: Tensor,
        *,
        shapes: Sequence[str] = SPRITE_SHAPES,
        return_pose: bool = False,
        noise: float = 0.0,
    ) -> None:
        super().__init__()
        _checks.check_images(images, channels=1)
        _checks.check_pose(theta, tau, images.shape[0])
        for name, value in (("labels", labels), ("scale", scale)):
            _checks.check_tensor(value, name)
            if value.shape != (images.shape[0],):
                raise ValueError(f"{name} must have shape ({images.shape[0]},), got {tuple(value.shape)}")
        self.images, self.labels, self.scale, self.theta, self.tau = images, labels, scale, theta, tau
        self.shapes = _check_shapes(shapes)
        self.return_pose = bool(return_pose)
        self.noise = _check_noise(noise)

    @property
    def size(self) -> int:
        """Side of the images in pixels."""
        return self.images.shape[-1]

    def base_images(self, index: Tensor | slice | None = None) -> Tensor:
        """The sprites in their canonical pose ``(n, 1, size, size)``: same shape and scale, ``theta = 0``, ``tau = 0``.

        ``images ~= se2.transform_images(base_images(), theta, tau)`` up to interpolation (both
        are drawn from the exact shapes; the warp interpolates the base image) and the pixel
        noise (never in ``base_images``).
        """
        labels = self.labels if index is None else self.labels[index].reshape(-1)
        scale = self.scale if index is None else self.scale[index].reshape(-1)
        zeros = torch.zeros(labels.shape[0], dtype=torch.float32)
        return render_sprites(labels, scale, zeros, zeros[:, None].expand(-1, 2), size=self.size, shapes=self.shapes)

    def __repr__(self) -> str:
        noise = f", noise={self.noise}" if self.noise else ""
        return f"Sprites(n={len(self)}, size={self.size}, shapes={self.shapes}{noise})"


def make_sprites(
    num_samples: int,
    *,
    size: int = 32,
    shapes: Sequence[str] = SPRITE_SHAPES,
    scale_range: tuple[float, float] = (0.5, 1.0),
    translation_std: float = 0.12,
    seed: int = 0,
    rotate: bool = True,
    translate: bool = True,
    return_pose: bool = False,
    noise: float = 0.0,
) -> Sprites:
    r"""Make a dSprites-like set: random shape, scale, rotation and translation for each sample.

    Latents, drawn from ``torch.Generator().manual_seed(seed)`` on the CPU:

    * shape: balanced, ``num_samples // len(shapes)`` of each (the remainder at random), shuffled;
    * scale: :math:`U[\text{scale\_range}]`;
    * :math:`\theta \sim U[0, 2\pi)` (0 when ``rotate=False``);
    * :math:`\tau`: each coordinate :math:`N(0, \sigma^2)`, :math:`\sigma` = ``translation_std``
      (normalised units), truncated to :math:`[-2\sigma, 2\sigma]` (0 when ``translate=False``).
      With the defaults (shapes within radius 0.5, :math:`|\tau| \le 0.34`) every sprite lies
      inside the frame.

    All latents are drawn whatever ``rotate`` and ``translate`` are, so switching one off keeps
    the others of each sample.

    With ``noise > 0``, i.i.d. Gaussian noise of that standard deviation is added to every pixel
    after drawing (not clipped, so pixels can leave ``[0, 1]``), from the same generator after all
    latents: the same arguments give the same noisy images, and ``noise=0`` gives exactly the
    images made without it.

    Args:
        num_samples: ``N``.
        size: image side in pixels.
        shapes: shape names, from :data:`SPRITE_SHAPES`.
        scale_range: ``(low, high)``, ``0 < low <= high``.
        translation_std: :math:`\sigma`, normalised units.
        seed: random seed.
        rotate: draw rotations.
        translate: draw translations.
        return_pose: items are ``(image, label, theta, tau)`` instead of ``(image, label)``.
        noise: standard deviation of the Gaussian pixel noise (finite, >= 0).

    Returns:
        A :class:`Sprites` dataset.

    Example:
        >>> s = make_sprites(300, size=32, seed=0)
        >>> s.images.shape, s.labels.bincount().tolist()
        (torch.Size([300, 1, 32, 32]), [100, 100, 100])
        >>> torch.equal(make_sprites(300, size=32, seed=0).images, s.images)
        True
    """
    _checks.check_positive_int(num_samples, "num_samples")
    shapes = _check_shapes(shapes)
    seed = _check_seed(seed)
    noise = _check_noise(noise)
    translation_std = _checks.check_positive_float(translation_std, "translation_std", allow_zero=True)
    if not isinstance(scale_range, (tuple, list)) or len(scale_range) != 2:
        raise TypeError(f"scale_range must be a (low, high) pair, got {scale_range!r}")
    low = _checks.check_positive_float(scale_range[0], "scale_range[0]")
    high = _checks.check_positive_float(scale_range[1], "scale_range[1]")
    if high < low:
        raise ValueError(f"scale_range must have low <= high, got {tuple(scale_range)}")

    generator = torch.Generator().manual_seed(seed)
    count = len(shapes)
    labels = torch.arange(num_samples) % count
    extra = num_samples % count  # the remainder gets random shapes, not always the first ones
    if extra:
        labels[num_samples - extra :] = torch.randperm(count, generator=generator)[:extra]
    labels = labels[torch.randperm(num_samples, generator=generator)]
    scale = low + (high - low) * torch.rand(num_samples, generator=generator, dtype=torch.float64)
    theta = torch.rand(num_samples, generator=generator, dtype=torch.float64) * (2.0 * math.pi)
    tau = _truncated_normal((num_samples, 2), translation_std, 2.0, generator)
    if not rotate:
        theta = torch.zeros_like(theta)
    if not translate:
        tau = torch.zeros_like(tau)
    scale, theta, tau = scale.float(), wrap_angle(theta.float()), tau.float()  # wrap: float32 may round up to 2*pi
    images = render_sprites(labels, scale, theta, tau, size=size, shapes=shapes)
    _add_pixel_noise_(images, noise, generator)  # last draw: noise=0 keeps every earlier one
    return Sprites(images, labels, scale, theta, tau, shapes=shapes, return_pose=return_pose, noise=noise)
