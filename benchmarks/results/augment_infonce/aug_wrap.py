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

import invariant_inr.model as model_mod
from invariant_inr.augment import NuisanceAugment

SHIFT = float(os.environ.get("AUG_SHIFT", "0"))
ERASE = float(os.environ.get("AUG_ERASE", "0"))
THICKEN = os.environ.get("AUG_THICKEN")
THIN = float(os.environ.get("AUG_THIN", "0"))
ELASTIC = float(os.environ.get("AUG_ELASTIC", "0"))


def elastic(images, rms_pixels, generator=None):
    """Each image resampled along its own smooth random displacement field of ``rms_pixels`` rms length."""
    b, c, h, w = images.shape
    dev = generator.device if generator is not None else images.device
    field = torch.randn(b, 2, h, w, generator=generator, device=dev).to(images.device, images.dtype)
    sigma = 0.1 * max(h, w)
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    field = torch.nn.functional.conv2d(field, kernel.view(1, 1, 1, -1).expand(2, 1, 1, -1), padding=(0, radius), groups=2)
    field = torch.nn.functional.conv2d(field, kernel.view(1, 1, -1, 1).expand(2, 1, -1, 1), padding=(radius, 0), groups=2)
    field = field / field.pow(2).sum(1).mean((1, 2)).sqrt().clamp_min(1e-12)[:, None, None, None]  # unit rms length
    scale = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)], device=images.device, dtype=images.dtype)  # pixels -> grid units
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=images.device, dtype=images.dtype),
                            torch.linspace(-1, 1, w, device=images.device, dtype=images.dtype), indexing="ij")
    grid = torch.stack([xs, ys], -1)[None] + rms_pixels * field.permute(0, 2, 3, 1) * scale
    return torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class ErasingShiftAugment(NuisanceAugment):
    """NuisanceAugment with the environment's shift, thickening and thinning, then its elastic deformation and
    (probability AUG_ERASE) one erased rectangle."""

    def __init__(self, strength=1.0, **kw):
        kw.setdefault("shift", SHIFT)
        if THICKEN is not None:
            kw.setdefault("thicken", float(THICKEN))
        super().__init__(strength, **kw)
        self.erase = ERASE
        self.thin = THIN

    def forward(self, images, generator=None):
        if self.thin > 0:  # the stroke width drawn here, once per image: thicker, thinner or neither
            thicken, self.thicken = self.thicken, 0.0
            try:
                out = super().forward(images, generator)
            finally:
                self.thicken = thicken
            dev = generator.device if generator is not None else out.device
            u = torch.rand(out.shape[0], generator=generator, device=dev).to(out.device)[:, None, None, None]
            thick = torch.nn.functional.max_pool2d(out, 3, stride=1, padding=1)
            thin = -torch.nn.functional.max_pool2d(-out, 3, stride=1, padding=1)
            out = torch.where(u < thicken, thick, torch.where(u < thicken + self.thin, thin, out))
        else:
            out = super().forward(images, generator)
        if ELASTIC > 0:
            out = elastic(out, ELASTIC, generator)
        if self.erase <= 0:
            return out
        b, _, h, w = out.shape
        dev = generator.device if generator is not None else out.device
        r = lambda *s: torch.rand(*s, generator=generator, device=dev).to(out.device)
        area = 0.02 + 0.23 * r(b)
        aspect = torch.exp((r(b) * 2 - 1) * 1.2)  # ratio in ~[0.3, 3.3]
        bh = (area * aspect).sqrt().clamp(max=1.0)
        bw = (area / aspect).sqrt().clamp(max=1.0)
        y0 = r(b) * (1 - bh); x0 = r(b) * (1 - bw)
        ys = (torch.arange(h, device=out.device) + 0.5) / h
        xs = (torch.arange(w, device=out.device) + 0.5) / w
        iny = (ys[None] >= y0[:, None]) & (ys[None] < (y0 + bh)[:, None])
        inx = (xs[None] >= x0[:, None]) & (xs[None] < (x0 + bw)[:, None])
        box = iny[:, :, None] & inx[:, None, :] & (r(b) < self.erase)[:, None, None]
        return out.masked_fill(box[:, None], 0.0)


model_mod.NuisanceAugment = ErasingShiftAugment  # the class IRLINR builds its deformation from
sys.argv = ["reproduce.py"] + sys.argv[1:]
BENCHMARKS = Path(__file__).resolve().parents[2]  # benchmarks/
sys.path.insert(0, str(BENCHMARKS))
runpy.run_path(str(BENCHMARKS / "reproduce.py"), run_name="__main__")
