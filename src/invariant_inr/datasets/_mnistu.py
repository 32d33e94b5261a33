r"""MNIST(U): MNIST digits embedded in a larger frame at random rotations and translations (paper, section 4.1.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .. import _checks
from ..se2 import grid_spacing, random_pose, transform_images, wrap_angle
from ._base import PathLike, _add_pixel_noise_, _check_noise, _check_seed, _PosedImages
from ._mnist import load_mnist

__all__ = ["MNISTU", "embed_digits"]


def embed_digits(digits: Tensor, size: int = 50) -> Tensor:
    """Embed digits, centred and zero-padded, into ``size x size`` float images in ``[0, 1]``.

    These are the un-posed images of :class:`MNISTU`: ``MNISTU.images`` equals
    ``se2.transform_images(embed_digits(digits, size), theta, tau)``. When ``size - 28`` is odd
    the extra row and column of padding go to the bottom and right.

    Args:
        digits: ``(N, h, w)`` images, ``torch.uint8`` (scaled by 1/255) or floating in ``[0, 1]``.
        size: side of the output, at least ``max(h, w)``.

    Returns:
        ``(N, 1, size, size)`` ``float32``.

    Example:
        >>> import torch
        >>> digits = torch.full((2, 28, 28), 255, dtype=torch.uint8)
        >>> out = embed_digits(digits, 50)
        >>> out.shape, float(out.sum()), float(out[0, 0, 11:39, 11:39].min())
        (torch.Size([2, 1, 50, 50]), 1568.0, 1.0)
    """
    _checks.check_tensor(digits, "digits")
    if digits.ndim != 3:
        raise ValueError(f"digits must have shape (N, h, w), got {tuple(digits.shape)}")
    if digits.shape[0] == 0:
        raise ValueError("digits is an empty batch (N = 0); give at least one digit")
    height, width = digits.shape[-2:]
    _checks.check_positive_int(size, "size", minimum=max(height, width, 2))
    if digits.is_floating_point():
        _checks.check_finite(digits, "digits")
    if digits.dtype == torch.uint8:
        images = digits.float() / 255.0
    elif digits.is_floating_point():
        images = digits.float()
    else:
        raise TypeError(f"digits must be uint8 or floating, got dtype {digits.dtype}")
    top, left = (size - height) // 2, (size - width) // 2
    padded = images.new_zeros(digits.shape[0], 1, size, size)
    padded[:, 0, top : top + height, left : left + width] = images
    return padded


def _warp_in_chunks(make_base: Callable[[slice], Tensor], theta: Tensor, tau: Tensor, chunk: int) -> Tensor:
    """``transform_images(make_base(rows), theta[rows], tau[rows])`` over row chunks, into one tensor."""
    parts = []
    for start in range(0, theta.shape[0], chunk):  # a loop over memory-sized chunks, each one batched warp
        rows = slice(start, start + chunk)
        parts.append(transform_images(make_base(rows), theta[rows], tau[rows]).clamp_(0.0, 1.0))
    return torch.cat(parts)


class MNISTU(_PosedImages):
    r"""MNIST(U): MNIST digits at random rotations and translations (paper, section 4.1.1).

    Each digit is embedded, centred, in ``size x size`` pixels (:func:`embed_digits`), then moved
    by :math:`S_{\theta,\tau}` with :math:`\theta \sim U[0, 2\pi)` and
    :math:`\tau \sim N(0, \sigma^2 I_2)`, :math:`\sigma` = ``translation_std_pixels`` pixels,
    using :func:`invariant_inr.se2.transform_images` (bilinear, zeros outside). All images are
    computed once, at construction, in batched chunks (60,000 images of 50 x 50 take 600 MB as
    float32).

    Poses are drawn for the whole split from ``torch.Generator().manual_seed(seed)`` on the CPU,
    one per MNIST index, *before* ``exclude_digits`` and ``num_samples`` select samples, so a
    digit gets the same pose in every subset built with one seed.

    The pose of each sample is in attributes (index them like the dataset):

    With ``noise > 0``, i.i.d. Gaussian noise of that standard deviation is added to every pixel
    after posing (not clipped, so pixels can leave ``[0, 1]``). It is drawn once, at
    construction, from the same generator *after* the poses and the random subset, for the kept
    samples in order: the same arguments give the same noisy images, and ``dataset[i]`` always
    returns the same noise. ``noise=0`` draws nothing and gives the same images as without it.

    Attributes:
        images: ``(N, 1, size, size)`` ``float32``, in ``[0, 1]`` when ``noise`` is 0.
        labels: ``(N,)`` ``int64`` digit classes.
        theta: ``(N,)`` ``float32`` rotations in radians, in ``[0, 2*pi)``.
        tau: ``(N, 2)`` ``float32`` translations in normalised units
            (pixels times ``se2.grid_spacing(size, size)``).
        digits: ``(N, 28, 28)`` ``uint8`` source digits; :meth:`base_images` embeds them.
        indices: ``(N,)`` ``int64`` positions of the samples in the MNIST split.

    Args:
        root: folder with the MNIST IDX files (see :func:`load_mnist`).
        split: ``"train"`` or ``"test"``.
        size: side of the images (50 in the paper).
        translation_std_pixels: standard deviation of each translation coordinate, in pixels.
        num_samples: keep only this many samples (after ``exclude_digits``); all by default.
        subset: with ``num_samples``, keep the ``"first"`` ones or a seeded ``"random"`` subset
            (kept in MNIST order).
        seed: seed of the poses and of the random subset.
        download: fetch MNIST with torchvision if the files are missing.
        exclude_digits: digit classes to leave out, e.g. ``(9,)`` for MNIST(U)\{9} (paper, App. D).
        return_pose: if True, ``dataset[i]`` is ``(image, label, theta, tau)``.
        chunk_size: images warped per batched call at construction.
        noise: standard deviation of the Gaussian pixel noise added after posing (finite, >= 0).

    ``dataset[i]`` is ``(image (1, size, size), label)`` (or with the pose, see ``return_pose``).

    Example:
        >>> import os, tempfile, torch
        >>> from invariant_inr.datasets import write_idx
        >>> root = tempfile.mkdtemp()  # a fake MNIST of 5 digits, so that the example needs no files
        >>> write_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz"), torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8))
        >>> write_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz"), torch.tensor([0, 9, 2, 9, 4], dtype=torch.uint8))
        >>> data = MNISTU(root, "test", exclude_digits=(9,))
        >>> image, label = data[0]
        >>> len(data), image.shape, data.labels.tolist(), data.tau.shape
        (3, torch.Size([1, 50, 50]), [0, 2, 4], torch.Size([3, 2]))
        >>> from invariant_inr.se2 import transform_images
        >>> torch.allclose(data.images, transform_images(data.base_images(), data.theta, data.tau), atol=1e-6)
        True
        >>> real = MNISTU("/path/to/mnist", "train")  # doctest: +SKIP
    """

    def __init__(
        self,
        root: PathLike,
        split: Literal["train", "test"] = "train",
        *,
        size: int = 50,
        translation_std_pixels: float = 5.0,
        num_samples: int | None = None,
        subset: Literal["first", "random"] = "first",
        seed: int = 0,
        download: bool = False,
        exclude_digits: Iterable[int] = (),
        return_pose: bool = False,
        chunk_size: int = 1024,
        noise: float = 0.0,
    ) -> None:
        super().__init__()
        _checks.check_choice(subset, "subset", ("first", "random"))
        translation_std_pixels = _checks.check_positive_float(translation_std_pixels, "translation_std_pixels", allow_zero=True)
        _checks.check_positive_int(chunk_size, "chunk_size")
        seed = _check_seed(seed)
        noise = _check_noise(noise)
        exclude = _check_digits(exclude_digits)
        _checks.check_positive_int(size, "size", minimum=28)  # before reading files: MNIST digits are 28 x 28
        digits, labels = load_mnist(root, split, download=download)
        _checks.check_positive_int(size, "size", minimum=max(digits.shape[1:]))

        generator = torch.Generator().manual_seed(seed)
        step = grid_spacing(size, size)
        theta, tau = random_pose(digits.shape[0], translation_std_pixels * step, generator=generator)  # whole split
        theta = wrap_angle(theta)  # float32 rounding can turn 2*pi - eps into 2*pi

        keep = ~torch.isin(labels, torch.tensor(sorted(exclude), dtype=torch.int64))
        indices = keep.nonzero().squeeze(1)  # (M,)
        if indices.numel() == 0:
            raise ValueError(f"no samples left in the MNIST {split} split after exclude_digits={sorted(exclude)}")
        if num_samples is not None:
            _checks.check_positive_int(num_samples, "num_samples", maximum=indices.numel())
            if subset == "first":
                indices = indices[:num_samples]
            else:
                chosen = torch.randperm(indices.numel(), generator=generator)[:num_samples]
                indices = indices[chosen.sort().values]

        self.split = split
        self.size = size
        self.translation_std_pixels = translation_std_pixels
        self.seed = seed
        self.noise = noise
        self.exclude_digits = tuple(sorted(exclude))
        self.return_pose = bool(return_pose)
        self.indices = indices
        self.digits = digits[indices]
        self.labels = labels[indices]
        self.theta = theta[indices]
        self.tau = tau[indices]
        self.images = _warp_in_chunks(
            lambda rows: embed_digits(self.digits[rows], size), self.theta, self.tau, chunk_size
        )
        _add_pixel_noise_(self.images, noise, generator)  # last draw: noise=0 keeps every earlier one

    def base_images(self, index: Tensor | slice | None = None) -> Tensor:
        """The un-posed, centred digits ``(n, 1, size, size)`` (all samples, or those at ``index``).

        ``images[index] == se2.transform_images(base_images(index), theta[index], tau[index])``
        up to float rounding (plus the pixel noise, when ``noise > 0``). Computed on demand (not stored).
        """
        digits = self.digits if index is None else self.digits[index]
        if digits.ndim == 2:
            digits = digits.unsqueeze(0)
        return embed_digits(digits, self.size)

    def __repr__(self) -> str:
        return (
            f"MNISTU(split={self.split!r}, n={len(self)}, size={self.size}, "
            f"translation_std_pixels={self.translation_std_pixels}, seed={self.seed}, "
            f"exclude_digits={self.exclude_digits}{f', noise={self.noise}' if self.noise else ''})"
        )


def _check_digits(digits: Iterable[int]) -> set[int]:
    if isinstance(digits, (str, bytes)) or not isinstance(digits, Iterable):
        raise TypeError(f"exclude_digits must be a collection of ints 0..9, got {_checks.describe(digits)}")
    out = set()
    for digit in digits:
        if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
            raise ValueError(f"exclude_digits must hold digits 0..9, got {digit!r}")
        out.add(int(digit))
    return out
