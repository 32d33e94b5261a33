"""Experiment only (not the library): reproduce.py with the nuisance deformation extended.

Environment: AUG_SHIFT, the largest random shift per axis in normalised units (NuisanceAugment's
``shift``, 0 in the preset); AUG_ERASE, the probability of setting one random rectangle (2-25 % of
the frame, aspect ratio 0.3-3.3, as torchvision's RandomErasing) to 0 after the deformation; AUG_THICKEN,
the probability of the thicker strokes (unset: the preset's 0.5 at strength 1); AUG_THIN, the probability of
thinner strokes (a 3 x 3 grey-level erosion), drawn with the thickening as one choice per image: thicker
with the thickening's probability, thinner with AUG_THIN's, neither otherwise (AUG_THIN 0 by default);
AUG_ELASTIC, the root-mean-square length in pixels of an elastic deformation after the others (a random
displacement field per image, Gaussian-smoothed with a standard deviation of a tenth of the image side and
scaled to that length, as Simard et al. 2003 for handwriting; 0 by default).
Usage: AUG_ERASE=0.5 python aug_wrap.py quick [reproduce.py options]
"""
import os
import runpy
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import invariant_inr.model as model_mod
from invariant_inr.augment import NuisanceAugment
from invariant_inr.foreground import _blur, _gaussian_kernel  # the library's separable Gaussian blur
from invariant_inr.se2 import _to_sampling_grid, coordinate_grid  # our grid, in grid_sample's coordinates

SHIFT = float(os.environ.get("AUG_SHIFT", "0"))
ERASE = float(os.environ.get("AUG_ERASE", "0"))
THICKEN = os.environ.get("AUG_THICKEN")
THIN = float(os.environ.get("AUG_THIN", "0"))
ELASTIC = float(os.environ.get("AUG_ELASTIC", "0"))


def _draw(sample, *shape, like, generator=None):
    """``sample`` (torch.rand or torch.randn) of ``shape`` from ``generator`` (on its device), on ``like``'s device and dtype."""
    device = generator.device if generator is not None else like.device
    return sample(*shape, generator=generator, device=device).to(like.device, like.dtype)


def elastic(images, rms_pixels, generator=None):
    """Each image resampled along its own smooth random displacement field of ``rms_pixels`` rms length."""
    b, _, h, w = images.shape
    kernel = _gaussian_kernel(0.1 * max(h, w), device=images.device, dtype=images.dtype)
    field = _blur(_draw(torch.randn, b, 2, h, w, like=images, generator=generator), kernel)  # (B, 2, H, W), zeros outside
    field = field / field.pow(2).sum(1).mean((1, 2)).sqrt().clamp_min(1e-12)[:, None, None, None]  # unit rms length
    scale = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)], device=images.device, dtype=images.dtype)  # pixels -> grid units
    identity = _to_sampling_grid(coordinate_grid(h, w, device=images.device, dtype=images.dtype), h, w)  # (H, W, 2)
    grid = identity[None] + rms_pixels * field.permute(0, 2, 3, 1) * scale
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class ExtendedNuisanceAugment(NuisanceAugment):
    """NuisanceAugment with the environment's shift, thickening and thinning, then its elastic deformation and
    (probability AUG_ERASE) one erased rectangle."""

    def __init__(self, strength=1.0, **kw):
        kw.setdefault("shift", SHIFT)
        if THICKEN is not None:
            kw.setdefault("thicken", float(THICKEN))
        super().__init__(strength, **kw)
        self.erase = ERASE
        self.thin = THIN
        self.stroke_thicken = self.thicken
        if self.thin > 0:  # the stroke width is then drawn here, once per image; the parent only warps
            self.thicken = 0.0

    def forward(self, images, generator=None):
        out = super().forward(images, generator)
        if self.thin > 0:  # thicker, thinner or neither
            u = _draw(torch.rand, out.shape[0], like=out, generator=generator)[:, None, None, None]
            thick = F.max_pool2d(out, 3, stride=1, padding=1)
            thin = -F.max_pool2d(-out, 3, stride=1, padding=1)
            out = torch.where(u < self.stroke_thicken, thick, torch.where(u < self.stroke_thicken + self.thin, thin, out))
        if ELASTIC > 0:
            out = elastic(out, ELASTIC, generator)
        if self.erase <= 0:
            return out
        b, _, h, w = out.shape
        area = 0.02 + 0.23 * _draw(torch.rand, b, like=out, generator=generator)
        aspect = torch.exp((_draw(torch.rand, b, like=out, generator=generator) * 2 - 1) * 1.2)  # ratio in ~[0.3, 3.3]
        bh = (area * aspect).sqrt().clamp(max=1.0)
        bw = (area / aspect).sqrt().clamp(max=1.0)
        y0 = _draw(torch.rand, b, like=out, generator=generator) * (1 - bh)
        x0 = _draw(torch.rand, b, like=out, generator=generator) * (1 - bw)
        ys = (torch.arange(h, device=out.device) + 0.5) / h
        xs = (torch.arange(w, device=out.device) + 0.5) / w
        iny = (ys[None] >= y0[:, None]) & (ys[None] < (y0 + bh)[:, None])
        inx = (xs[None] >= x0[:, None]) & (xs[None] < (x0 + bw)[:, None])
        erased = _draw(torch.rand, b, like=out, generator=generator) < self.erase
        box = iny[:, :, None] & inx[:, None, :] & erased[:, None, None]
        return out.masked_fill(box[:, None], 0.0)


model_mod.NuisanceAugment = ExtendedNuisanceAugment  # the class IRLINR builds its deformation from
sys.argv = ["reproduce.py"] + sys.argv[1:]
BENCHMARKS = Path(__file__).resolve().parents[2]  # benchmarks/
sys.path.insert(0, str(BENCHMARKS))
runpy.run_path(str(BENCHMARKS / "reproduce.py"), run_name="__main__")
