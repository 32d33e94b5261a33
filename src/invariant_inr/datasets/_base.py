"""What the synthetic posed datasets share: the in-memory dataset of posed images, seed and noise checks.

:class:`~invariant_inr.datasets.MNISTU` and :class:`~invariant_inr.datasets.Sprites` both hold
their images, labels and true poses in memory and may add Gaussian pixel noise; this module holds
that common part.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .. import _checks

PathLike = str | os.PathLike
"""A file or folder name: ``str`` or ``os.PathLike``."""

_NOISE_BLOCK = 1024
"""Images per draw of pixel noise; fixed (not ``chunk_size``) so that the noise depends on the seed alone."""


class _PosedImages(Dataset):
    """Images held in memory with their labels and true poses (``images``, ``labels``, ``theta``, ``tau``).

    ``dataset[i]`` is ``(image, label)``, or ``(image, label, theta, tau)`` when ``return_pose`` is set.
    """

    images: Tensor
    labels: Tensor
    theta: Tensor
    tau: Tensor
    return_pose: bool

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        if self.return_pose:
            return self.images[index], self.labels[index], self.theta[index], self.tau[index]
        return self.images[index], self.labels[index]


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {_checks.describe(seed)}")
    return seed


def _check_noise(noise: Any) -> float:
    """``noise`` as a float: a finite standard deviation ``>= 0``."""
    return _checks.check_positive_float(noise, "noise (the standard deviation of the pixel noise)", allow_zero=True)


def _add_pixel_noise_(images: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """Add i.i.d. ``N(0, std**2)`` noise to every pixel of ``images`` ``(N, C, H, W)``, in place, unclipped.

    The noise is drawn from ``generator`` (on the CPU) in blocks of ``_NOISE_BLOCK`` images, in
    the order of the samples, so the same generator state gives the same noise whatever the
    memory chunking elsewhere. ``std == 0`` draws nothing and leaves ``images`` untouched.
    """
    if std == 0.0:
        return images
    for start in range(0, images.shape[0], _NOISE_BLOCK):  # memory-sized blocks, each one batched draw
        block = images[start : start + _NOISE_BLOCK]
        block.add_(torch.randn(block.shape, generator=generator, dtype=block.dtype), alpha=std)
    return images
