r"""Random nuisance deformations for the consistency loss (an addition to the paper).

With ``pose="analytic"`` the backbone sees the canonicalised image, so two re-posed copies of an
image reach it almost identical and the consistency loss of the paper has nothing left to teach:
``z`` is then trained by the reconstruction loss alone, like an autoencoder's code, and codes of an
autoencoder group images by pixel overlap rather than by kind. :class:`NuisanceAugment` gives the
consistency loss work again. Each copy's canonical image is deformed independently, before the
backbone, by a small random transform that changes how an object is drawn but not what it is:

* a linear map about the origin (the object's centre after canonicalisation): a rotation of up to
  ``rotation_deg``, a scaling by a factor in ``[1 - scale, 1 + scale]`` and a horizontal shear up
  to ``shear`` (slant of handwriting);
* optionally a shift of up to ``shift`` normalised units per axis;
* with probability ``thicken``, a 3 x 3 grey-level dilation (thicker strokes), which assumes
  bright objects on a dark background, as the centre-of-mass rules do;
* with probability ``flip``, a half turn (the one ambiguity the ``"moments"`` rule leaves when an
  object's third moment is weak).

The reconstruction target is left untouched, so ``z`` must still describe the image, and the
consistency loss pulls the codes of the two deformed copies together. The geometric part uses the
coordinate convention of :mod:`invariant_inr.se2` (``x`` right, ``y`` up, the longer side spanning
``[-1, 1]``), so it acts the same on non-square images.

Measured on MNIST(U) (``benchmarks/z_ablation.py``, ``docs/results.md``): with the
``"mnist-quick"`` preset, k-means accuracy on the test ``z`` after 300 steps was 25.1 % without
the deformation and 42.3 % with ``strength=1``.

Example:
    >>> import torch
    >>> augment = NuisanceAugment(strength=1.0)
    >>> images = torch.rand(4, 1, 20, 20)
    >>> out = augment(images, generator=torch.Generator().manual_seed(0))
    >>> out.shape
    torch.Size([4, 1, 20, 20])
    >>> torch.equal(NuisanceAugment(strength=0.0)(images), images)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks
from .se2 import _to_sampling_grid, coordinate_grid, rotation_matrix

__all__ = ["NuisanceAugment"]

# The recipe at strength 1 (the best of the recipes tried on MNIST(U), docs/results.md).
_ROTATION_DEG = 20.0
_SCALE = 0.2
_SHEAR = 0.4
_THICKEN = 0.5


class NuisanceAugment(nn.Module):
    r"""Random small deformations of a batch of images, one independent draw per image.

    Args:
        strength: multiplies the default recipe (rotation 20 deg, scale 0.2, shear 0.4, thickening
            probability 0.5, capped at 1); ``0`` is the identity. Explicit keyword arguments below
            replace the recipe's value for that component.
        rotation_deg: largest rotation, degrees (uniform in ``[-r, r]``).
        scale: largest relative change of size (factor uniform in ``[1 - s, 1 + s]``), ``< 1``.
        shear: largest horizontal shear (uniform in ``[-h, h]``).
        shift: largest shift per axis, normalised units (default 0).
        thicken: probability of a 3 x 3 grey-level dilation.
        flip: probability of a half turn (default 0).

    Shape:
        - Input: ``(B, C, H, W)`` floating images.
        - Output: same shape and dtype.

    Example:
        >>> import torch
        >>> augment = NuisanceAugment(rotation_deg=0.0, scale=0.0, shear=0.0, thicken=1.0)
        >>> image = torch.zeros(1, 1, 5, 5); image[0, 0, 2, 2] = 1.0
        >>> int(augment(image).sum())  # a single bright pixel dilated to 3 x 3
        9
    """

    def __init__(
        self,
        strength: float = 1.0,
        *,
        rotation_deg: float | None = None,
        scale: float | None = None,
        shear: float | None = None,
        shift: float = 0.0,
        thicken: float | None = None,
        flip: float = 0.0,
    ) -> None:
        super().__init__()
        strength = _checks.check_positive_float(strength, "strength", allow_zero=True)

        def pick(value: float | None, default: float, name: str) -> float:
            return default * strength if value is None else _checks.check_positive_float(value, name, allow_zero=True)

        self.rotation_deg = pick(rotation_deg, _ROTATION_DEG, "rotation_deg")
        self.scale = pick(scale, _SCALE, "scale")
        if self.scale >= 1.0:
            raise ValueError(f"scale must be below 1 (a factor in [1 - scale, 1 + scale] must stay positive), got {self.scale}")
        self.shear = pick(shear, _SHEAR, "shear")
        self.shift = _checks.check_positive_float(shift, "shift", allow_zero=True)
        self.thicken = min(pick(thicken, _THICKEN, "thicken"), 1.0)
        self.flip = _checks.check_positive_float(flip, "flip", allow_zero=True)
        for name in ("thicken", "flip"):
            if getattr(self, name) > 1.0:
                raise ValueError(f"{name} is a probability and must be in [0, 1], got {getattr(self, name)}")

    @property
    def is_identity(self) -> bool:
        """Whether every component is off (``forward`` then returns its input)."""
        return not any((self.rotation_deg, self.scale, self.shear, self.shift, self.thicken, self.flip))

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Deform each image independently.

        Args:
            images: ``(B, C, H, W)`` floating images.
            generator: optional generator of the random draws (on any device; the draws are moved
                to the images' device).
        """
        _checks.check_images(images)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {_checks.describe(generator)}")
        if self.is_identity:
            return images
        batch, _, height, width = images.shape
        draw_device = generator.device if generator is not None else images.device

        def uniform(*shape: int) -> Tensor:  # U[-1, 1)
            return (2 * torch.rand(*shape, generator=generator, device=draw_device) - 1).to(images.device, images.dtype)

        def coin(probability: float) -> Tensor:
            return (torch.rand(batch, generator=generator, device=draw_device) < probability).to(images.device)

        out = images
        if any((self.rotation_deg, self.scale, self.shear, self.shift, self.flip)):
            out = self._warp(images, uniform, coin)
        if self.thicken > 0:
            thick = coin(self.thicken)[:, None, None, None]
            out = torch.where(thick, F.max_pool2d(out, 3, stride=1, padding=1), out)
        return out

    def _warp(self, images: Tensor, uniform: Callable[..., Tensor], coin: Callable[[float], Tensor]) -> Tensor:
        """The random linear map (and shift), one bilinear resampling."""
        batch, _, height, width = images.shape
        angle = uniform(batch) * math.radians(self.rotation_deg)
        factor = 1 + uniform(batch) * self.scale
        shear = torch.zeros(batch, 2, 2, device=images.device, dtype=images.dtype)
        shear[:, 0, 0] = shear[:, 1, 1] = 1
        shear[:, 0, 1] = uniform(batch) * self.shear
        # the output pixel at p samples the input at M p + t: M a near-identity matrix
        matrix = rotation_matrix(angle) @ shear / factor[:, None, None]
        if self.flip > 0:
            matrix = matrix * torch.where(coin(self.flip), -1.0, 1.0).to(images.dtype)[:, None, None]
        offset = uniform(batch, 2) * self.shift
        grid = coordinate_grid(height, width, device=images.device, dtype=images.dtype)  # (H, W, 2)
        source = torch.einsum("bij,hwj->bhwi", matrix, grid) + offset[:, None, None, :]
        return F.grid_sample(images, _to_sampling_grid(source, height, width), mode="bilinear", padding_mode="zeros", align_corners=True)

    def extra_repr(self) -> str:
        return (
            f"rotation_deg={self.rotation_deg:g}, scale={self.scale:g}, shear={self.shear:g}, shift={self.shift:g}, "
            f"thicken={self.thicken:g}, flip={self.flip:g}"
        )
