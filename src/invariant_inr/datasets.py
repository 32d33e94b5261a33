r"""Datasets: MNIST files, MNIST(U), procedural sprites, and your own images.

Four sources, one output format: float images ``(C, H, W)`` in ``[0, 1]`` (batched ``(N, C, H, W)``),
with labels and, for the synthetic sets, the true pose of every sample.

* **MNIST files** -- :func:`read_idx` / :func:`write_idx` read and write the IDX format (plain or
  gzip-compressed); :func:`load_mnist` finds the four MNIST files in a folder you name.
* **MNIST(U)** -- :class:`MNISTU`, the rotated and translated MNIST of the paper (section 4.1.1):
  each digit is embedded, centred, in ``50 x 50`` pixels, turned by
  :math:`\theta \sim U[0, 2\pi)` and moved by :math:`\tau \sim N(0, 5^2 I_2)` **pixels**.
  :func:`embed_digits` gives the un-posed centred digits.
* **Sprites** -- :func:`make_sprites` / :func:`render_sprites`, dSprites-like shapes (square,
  ellipse, heart) drawn procedurally from signed distance functions, with known shape, scale and
  pose; no download.
* **Your own images** -- :class:`ImageFolderDataset` (PNG/JPG through Pillow) and
  :func:`as_dataset`, which wraps tensors, arrays and datasets into one checked format.

Convention: poses follow :mod:`invariant_inr.se2`: ``theta`` ``(N,)`` in radians,
counter-clockwise positive; ``tau`` ``(N, 2)`` in ``(x, y)`` order, ``y`` up, in normalised
units (one pixel of an ``H x W`` image is ``se2.grid_spacing(H, W)``). For every synthetic set,
``images == se2.transform_images(base_images, theta, tau)``, where ``base_images`` is the object
in its canonical pose (centred, upright), so pose metrics can be computed against the truth.

Example:
    >>> sprites = make_sprites(6, size=16, seed=0)
    >>> image, label = sprites[0]
    >>> image.shape, image.dtype, sprites.theta.shape, sprites.tau.shape
    (torch.Size([1, 16, 16]), torch.float32, torch.Size([6]), torch.Size([6, 2]))
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset

from . import _checks
from .se2 import coordinate_grid, grid_spacing, random_pose, transform_images, wrap_angle

__all__ = [
    "IMAGE_EXTENSIONS",
    "MNIST_FILES",
    "SPRITE_SHAPES",
    "ImageFolderDataset",
    "MNISTU",
    "Sprites",
    "as_dataset",
    "embed_digits",
    "load_mnist",
    "make_sprites",
    "read_idx",
    "render_sprites",
    "write_idx",
]

PathLike = str | os.PathLike

# ---------------------------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08  # the IDX type code of unsigned bytes, the only one MNIST uses
_IDX_IMAGES = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
_IDX_LABELS = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)


def read_idx(path: PathLike) -> Tensor:
    """Read an IDX file of unsigned bytes (MNIST's format), plain or gzip-compressed.

    The header is big-endian: a 4-byte magic number ``0x0000 08 D`` (``D`` dimensions; 2051 for
    MNIST images ``(N, 28, 28)``, 2049 for labels ``(N,)``), then ``D`` sizes as 4-byte
    integers, then the bytes. Compression is detected from the first two bytes (``1f 8b``), not
    from the file name.

    Args:
        path: the file.

    Returns:
        A ``torch.uint8`` tensor with the shape the header gives.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the magic number is not that of an unsigned-byte IDX file, the header is
            cut short, or the number of bytes does not match the sizes in the header.

    Example:
        >>> import os, tempfile, torch
        >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
        >>> write_idx(path, torch.tensor([3, 1, 4], dtype=torch.uint8))
        >>> read_idx(path)
        tensor([3, 1, 4], dtype=torch.uint8)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{str(path)!r} starts like a gzip file but cannot be decompressed: {error}") from error
    if len(raw) < 4:
        raise ValueError(f"{str(path)!r} is not an IDX file: {len(raw)} bytes, fewer than the 4-byte magic number")
    (magic,) = struct.unpack(">I", raw[:4])
    zeros, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zeros != 0 or type_code != _IDX_UBYTE or not 1 <= ndim <= 4:
        raise ValueError(
            f"{str(path)!r} is not an unsigned-byte IDX file: magic number {magic} (0x{magic:08x}); expected "
            f"0x000008D with D = 1..4 dimensions, e.g. {_IDX_IMAGES} for images or {_IDX_LABELS} for labels"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(path)!r}: the IDX header needs {header} bytes for {ndim} dimensions, the file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(shape)
    if len(raw) - header != expected:
        raise ValueError(
            f"{str(path)!r}: the header gives shape {shape}, i.e. {expected} bytes of data, "
            f"but the file holds {len(raw) - header}; it is truncated or corrupt"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(array.copy())


def write_idx(path: PathLike, array: Tensor | np.ndarray) -> None:
    """Write an unsigned-byte array as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    The inverse of :func:`read_idx`, for making small test files.

    Args:
        path: the file to write.
        array: ``torch.uint8`` tensor or ``numpy.uint8`` array with 1 to 4 dimensions.

    Example:
        >>> import os, tempfile, torch
        >>> path = os.path.join(tempfile.mkdtemp(), "images-idx3-ubyte")
        >>> write_idx(path, torch.zeros(2, 28, 28, dtype=torch.uint8))
        >>> read_idx(path).shape
        torch.Size([2, 28, 28])
    """
    if isinstance(array, Tensor):
        array = array.detach().cpu().numpy()
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a uint8 tensor or numpy array, got {_checks.describe(array)}")
    if array.dtype != np.uint8:
        raise TypeError(f"array must have dtype uint8, got {array.dtype}")
    if not 1 <= array.ndim <= 4:
        raise ValueError(f"array must have 1 to 4 dimensions, got {array.ndim} (shape {array.shape})")
    magic = (_IDX_UBYTE << 8) | array.ndim
    payload = struct.pack(f">I{array.ndim}I", magic, *array.shape) + np.ascontiguousarray(array).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


# ---------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------

MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""The IDX file names (without ``.gz``) of each split: ``(images, labels)``."""

_SPLITS = tuple(MNIST_FILES)


def _find_idx(folders: Sequence[Path], stem: str) -> Path | None:
    """The first of ``folder/stem`` or ``folder/stem.gz`` that exists, or None."""
    for folder in folders:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _torchvision_mnist() -> Callable[..., Any]:
    """``torchvision.datasets.MNIST``, imported only when a download is asked for."""
    from torchvision.datasets import MNIST

    return MNIST


def load_mnist(root: PathLike, split: Literal["train", "test"] = "train", *, download: bool = False) -> tuple[Tensor, Tensor]:
    """Load one split of MNIST from its IDX files.

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (or ``t10k-...`` for the
    test split), each plain or with ``.gz``, in ``root`` and then in ``root/MNIST/raw`` (where
    ``torchvision.datasets.MNIST`` puts them).

    Args:
        root: folder holding the files.
        split: ``"train"`` (60,000 digits) or ``"test"`` (10,000).
        download: if the files are missing, fetch them with
            ``torchvision.datasets.MNIST(root, download=True)`` (needs a network connection).

    Returns:
        ``images`` ``(N, 28, 28)`` ``torch.uint8`` and ``labels`` ``(N,)`` ``torch.int64``.

    Raises:
        FileNotFoundError: files missing and ``download=False``; the message names the files
            and the folders searched.
        ValueError: the files are not the IDX images/labels pair of one split.

    Example:
        >>> images, labels = load_mnist("/path/to/mnist", "test")  # doctest: +SKIP
        >>> images.shape, labels.shape  # doctest: +SKIP
        (torch.Size([10000, 28, 28]), torch.Size([10000]))
    """
    _checks.check_choice(split, "split", _SPLITS)
    root = Path(root)
    folders = [root, root / "MNIST" / "raw"]
    stems = MNIST_FILES[split]
    paths = [_find_idx(folders, stem) for stem in stems]
    if any(p is None for p in paths) and download:
        try:
            _torchvision_mnist()(str(root), train=split == "train", download=True)
        except Exception as error:  # torchvision raises RuntimeError/URLError/... when offline
            raise RuntimeError(
                f"downloading MNIST into {str(root)!r} with torchvision failed ({error}); "
                "copy the four IDX files into that folder instead"
            ) from error
        paths = [_find_idx(folders, stem) for stem in stems]
    if any(p is None for p in paths):
        missing = [stem for stem, p in zip(stems, paths) if p is None]
        raise FileNotFoundError(
            f"MNIST {split} split not found: looked for {', '.join(f'{m}(.gz)' for m in missing)} in "
            f"{', '.join(repr(str(f)) for f in folders)}; point root at the folder holding the IDX files "
            "or pass download=True on a machine that is online"
        )
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3:
        raise ValueError(f"{str(paths[0])!r} must hold images (N, H, W), got shape {tuple(images.shape)}")
    if labels.ndim != 1:
        raise ValueError(f"{str(paths[1])!r} must hold labels (N,), got shape {tuple(labels.shape)}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST {split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels.long()


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

    Attributes:
        images: ``(N, 1, size, size)`` ``float32`` in ``[0, 1]``.
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

    ``dataset[i]`` is ``(image (1, size, size), label)`` (or with the pose, see ``return_pose``).

    Example:
        >>> import os, tempfile, torch
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
    ) -> None:
        super().__init__()
        _checks.check_choice(subset, "subset", ("first", "random"))
        translation_std_pixels = _checks.check_positive_float(translation_std_pixels, "translation_std_pixels", allow_zero=True)
        _checks.check_positive_int(chunk_size, "chunk_size")
        seed = _check_seed(seed)
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

    def base_images(self, index: Tensor | slice | None = None) -> Tensor:
        """The un-posed, centred digits ``(n, 1, size, size)`` (all samples, or those at ``index``).

        ``images[index] == se2.transform_images(base_images(index), theta[index], tau[index])``
        up to float rounding. Computed on demand (not stored).
        """
        digits = self.digits if index is None else self.digits[index]
        if digits.ndim == 2:
            digits = digits.unsqueeze(0)
        return embed_digits(digits, self.size)

    def __repr__(self) -> str:
        return (
            f"MNISTU(split={self.split!r}, n={len(self)}, size={self.size}, "
            f"translation_std_pixels={self.translation_std_pixels}, seed={self.seed}, "
            f"exclude_digits={self.exclude_digits})"
        )


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {_checks.describe(seed)}")
    return seed


def _check_digits(digits: Iterable[int]) -> set[int]:
    if isinstance(digits, (str, bytes)) or not isinstance(digits, Iterable):
        raise TypeError(f"exclude_digits must be a collection of ints 0..9, got {_checks.describe(digits)}")
    out = set()
    for digit in digits:
        if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
            raise ValueError(f"exclude_digits must hold digits 0..9, got {digit!r}")
        out.add(int(digit))
    return out


# ---------------------------------------------------------------------------------------------
# Sprites
# ---------------------------------------------------------------------------------------------

SPRITE_SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
"""Shapes :func:`render_sprites` can draw. Symmetries: square 90 degrees, ellipse 180 degrees
(and two mirror axes), heart none under rotation (one mirror axis, the ``y`` axis)."""

# Every shape fits in a disk of this radius (normalised units) at scale 1, centred at the origin.
_SPRITE_RADIUS = 0.5
_SQUARE_HALF_SIDE = _SPRITE_RADIUS / math.sqrt(2.0)  # corners on the circle
_ELLIPSE_AXES = (0.5 * _SPRITE_RADIUS, _SPRITE_RADIUS)  # (x, y) semi-axes: upright, long axis along y
# Inigo Quilez's exact heart SDF has its tip at (0, 0) and its lobes (radius sqrt(2)/4) centred at
# (+-0.25, 0.75); we move its bounding box centre (0, _HEART_SHIFT) to the origin and shrink it by
# _HEART_UNIT so that its farthest point lies on the circle of radius _SPRITE_RADIUS.
_HEART_LOBE = (0.25, 0.75)
_HEART_LOBE_RADIUS = math.sqrt(2.0) / 4.0
_HEART_SHIFT = (_HEART_LOBE[1] + _HEART_LOBE_RADIUS) / 2.0
_HEART_UNIT = _SPRITE_RADIUS / (math.hypot(_HEART_LOBE[0], _HEART_LOBE[1] - _HEART_SHIFT) + _HEART_LOBE_RADIUS)


def _sdf_square(x: Tensor, y: Tensor) -> Tensor:
    """Exact signed distance to the square of half-side ``_SQUARE_HALF_SIDE``; ``x, y`` ``(b, P)``."""
    qx, qy = x.abs() - _SQUARE_HALF_SIDE, y.abs() - _SQUARE_HALF_SIDE
    outside = torch.hypot(qx.clamp(min=0.0), qy.clamp(min=0.0))
    return outside + torch.maximum(qx, qy).clamp_(max=0.0)


def _sdf_ellipse(x: Tensor, y: Tensor) -> Tensor:
    """First-order signed distance ``f / |grad f|`` to the upright ellipse (exact on its boundary)."""
    a, b = _ELLIPSE_AXES
    u, v = x / a, y / b
    f = u * u + v * v - 1.0
    grad = torch.hypot(u / a, v / b).mul_(2.0).clamp_(min=1e-6)
    return f.div_(grad)


def _sdf_heart(x: Tensor, y: Tensor) -> Tensor:
    """Exact signed distance to the heart (Inigo Quilez's ``sdHeart``), centred and scaled."""
    x = x.abs() / _HEART_UNIT
    y = y / _HEART_UNIT + _HEART_SHIFT
    lobe = torch.hypot(x - _HEART_LOBE[0], y - _HEART_LOBE[1]) - _HEART_LOBE_RADIUS
    to_top = x * x + (y - 1.0) ** 2
    half = (x + y).clamp(min=0.0).mul_(0.5)
    to_edge = (x - half) ** 2 + (y - half) ** 2
    lower = torch.minimum(to_top, to_edge).sqrt_().mul_(torch.sign(x - y))
    return torch.where(x + y > 1.0, lobe, lower).mul_(_HEART_UNIT)


_SDFS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"square": _sdf_square, "ellipse": _sdf_ellipse, "heart": _sdf_heart}


def _check_shapes(shapes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(shapes, str) or not isinstance(shapes, Sequence) or len(shapes) == 0:
        raise TypeError(f"shapes must be a non-empty sequence of names from {list(SPRITE_SHAPES)}, got {shapes!r}")
    for shape in shapes:
        _checks.check_choice(shape, "each shape", SPRITE_SHAPES)
    return tuple(shapes)


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
        images: ``(N, 1, size, size)`` ``float32`` in ``[0, 1]``.
        labels: ``(N,)`` ``int64`` indices into ``shapes``.
        scale: ``(N,)`` ``float32`` scales.
        theta: ``(N,)`` ``float32`` rotations in radians (applied to the upright shape).
        tau: ``(N, 2)`` ``float32`` translations in normalised units.
        shapes: the shape names.
        return_pose: whether items carry the pose.

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

    @property
    def size(self) -> int:
        """Side of the images in pixels."""
        return self.images.shape[-1]

    def base_images(self, index: Tensor | slice | None = None) -> Tensor:
        """The sprites in their canonical pose ``(n, 1, size, size)``: same shape and scale, ``theta = 0``, ``tau = 0``.

        ``images ~= se2.transform_images(base_images(), theta, tau)`` up to interpolation (both
        are drawn from the exact shapes; the warp interpolates the base image).
        """
        labels = self.labels if index is None else self.labels[index].reshape(-1)
        scale = self.scale if index is None else self.scale[index].reshape(-1)
        zeros = torch.zeros(labels.shape[0], dtype=torch.float32)
        return render_sprites(labels, scale, zeros, zeros[:, None].expand(-1, 2), size=self.size, shapes=self.shapes)

    def __repr__(self) -> str:
        return f"Sprites(n={len(self)}, size={self.size}, shapes={self.shapes})"


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
    return Sprites(images, labels, scale, theta, tau, shapes=shapes, return_pose=return_pose)


# ---------------------------------------------------------------------------------------------
# Your own images
# ---------------------------------------------------------------------------------------------

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
"""File name endings :class:`ImageFolderDataset` reads (case-insensitive)."""


def _import_pil() -> Any:
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - Pillow is installed in the test environment
        raise ImportError(
            "reading image files needs Pillow: pip install pillow (or pip install 'invariant-inr[plot]')"
        ) from error
    return Image


_GRAY_MODES = ("L", "I", "I;16", "I;16B", "I;16L", "F")


def _pil_to_tensor(image: Any, channels: int | None = None) -> Tensor:
    """A PIL image as a float32 ``(C, H, W)`` tensor in ``[0, 1]``.

    Grayscale modes give 1 channel (8-bit scaled by 1/255, 16-bit by 1/65535, ``"F"`` kept as
    is), repeated when ``channels`` is 3 or 4 (alpha 1), so 16-bit data is never cut to 8 bits.
    Other modes are converted to RGB (``channels`` None or 3), ``"L"`` (1) or RGBA (4).
    """
    if image.mode in ("1", "LA"):
        image = image.convert("L")
    if image.mode in _GRAY_MODES:
        array = np.asarray(image)
        if image.mode == "F":
            gray = torch.from_numpy(array.astype(np.float32))
        else:
            scale = 255.0 if array.dtype == np.uint8 else 65535.0  # 8-bit, or 16-bit stored as uint16/int32
            gray = torch.from_numpy(array.astype(np.float32) / scale)
        gray = gray.unsqueeze(0)  # (1, H, W)
        if channels in (3, 4):
            parts = [gray] * 3 + ([torch.ones_like(gray)] if channels == 4 else [])
            gray = torch.cat(parts)
        return gray
    target = {None: "RGB", 1: "L", 3: "RGB", 4: "RGBA"}[channels]
    if image.mode != target:
        image = image.convert(target)
    tensor = torch.from_numpy(np.asarray(image).astype(np.float32) / 255.0)
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


class ImageFolderDataset(Dataset):
    """Images from a folder (PNG, JPG, ... read with Pillow), as float ``(C, H, W)`` in ``[0, 1]``.

    Files are found recursively and sorted by path. Images are read lazily, one per item.

    Args:
        root: the folder.
        size: resize every image to ``size x size`` (int) or ``(H, W)`` (bilinear, antialiased);
            keep each file's size when None (a ``DataLoader`` then needs equal sizes).
        channels: 1 (grayscale), 3 (RGB) or 4 (RGBA); when None, grayscale files give 1 channel
            and the others 3 (alpha dropped). 8-bit files are scaled by 1/255, 16-bit grayscale
            files by 1/65535.
        with_labels: items are ``(image, label)`` with ``label`` the index of the image's
            immediate sub-folder in ``classes`` (sorted names), like ``torchvision``'s
            ``ImageFolder``; every file must then sit in a sub-folder of ``root``.

    Attributes:
        paths: the image files, sorted.
        classes: sorted sub-folder names (only with ``with_labels``, else empty).
        labels: ``(N,)`` ``int64`` (only with ``with_labels``, else None).

    Raises:
        ImportError: Pillow is not installed.
        FileNotFoundError: ``root`` is not a folder.
        ValueError: no image files found, or a file outside a sub-folder with ``with_labels``.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> Image.new("L", (20, 10), color=255).save(os.path.join(root, "a.png"))
        >>> data = ImageFolderDataset(root, size=16)
        >>> len(data), data[0].shape, float(data[0].max())
        (1, torch.Size([1, 16, 16]), 1.0)
    """

    def __init__(
        self,
        root: PathLike,
        *,
        size: int | tuple[int, int] | None = None,
        channels: int | None = None,
        with_labels: bool = False,
    ) -> None:
        super().__init__()
        _import_pil()  # fail early, with an install hint, if Pillow is missing
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {str(self.root)!r} does not exist or is not a folder")
        self.size = None if size is None else _checks.as_size(size)
        if channels is not None and channels not in (1, 3, 4):
            raise ValueError(f"channels must be 1, 3, 4 or None, got {channels!r}")
        self.channels = channels
        self.paths = sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self.paths:
            raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) found under {str(self.root)!r}")
        self.classes: list[str] = []
        self.labels: Tensor | None = None
        if with_labels:
            loose = [p for p in self.paths if p.parent == self.root]
            if loose:
                raise ValueError(
                    f"with_labels=True needs every image inside a class sub-folder of {str(self.root)!r}, "
                    f"but {len(loose)} sit directly in it (e.g. {loose[0].name!r})"
                )
            folder = [p.relative_to(self.root).parts[0] for p in self.paths]
            self.classes = sorted(set(folder))
            lookup = {name: i for i, name in enumerate(self.classes)}
            self.labels = torch.tensor([lookup[name] for name in folder], dtype=torch.int64)

    def load(self, index: int) -> Tensor:
        """Read image ``index`` as ``(C, H, W)`` ``float32``."""
        pil = _import_pil()  # not stored on self: modules cannot be pickled into DataLoader workers
        with pil.open(self.paths[index]) as image:
            image.load()
            if self.size is not None:
                height, width = self.size
                image = image.resize((width, height), resample=pil.BILINEAR)
            return _pil_to_tensor(image, self.channels)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tensor | tuple[Tensor, Tensor]:
        image = self.load(index)
        if self.labels is not None:
            return image, self.labels[index]
        return image

    def __repr__(self) -> str:
        return f"ImageFolderDataset(root={str(self.root)!r}, n={len(self)}, size={self.size}, channels={self.channels})"


def _to_float_images(value: Any, name: str, *, rank: int, layout: str) -> Tensor:
    """Convert a tensor / array / PIL image to floating ``layout`` images in ``[0, 1]`` (uint8 scaled)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"{name} must be a numeric array, got dtype object")
        value = torch.from_numpy(np.ascontiguousarray(value))
    elif not isinstance(value, Tensor) and hasattr(value, "mode") and hasattr(value, "getbands"):
        value = _pil_to_tensor(value)  # a PIL image
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a tensor, a numpy array or a PIL image, got {_checks.describe(value)}")
    if value.dtype == torch.uint8:
        value = value.float() / 255.0
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be floating-point (or uint8, scaled to [0, 1]), got dtype {value.dtype}; "
            "convert it with .float() and scale it to [0, 1] yourself"
        )
    if value.ndim != rank:
        hint = ""
        if value.ndim == rank - 1:
            hint = " (add a channel axis: x.unsqueeze(-3) for grayscale)"
        raise ValueError(f"{name} must have shape {layout}, got {value.ndim} dimensions {tuple(value.shape)}{hint}")
    if any(s == 0 for s in value.shape):
        raise ValueError(f"{name} is empty (shape {tuple(value.shape)})")
    _checks.check_finite(value, name)
    return value


class _TensorImages(Dataset):
    """Images held in one tensor ``(N, C, H, W)``, with optional labels ``(N,)``."""

    def __init__(self, images: Tensor, labels: Tensor | None) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> Tensor | tuple[Tensor, Tensor]:
        if self.labels is None:
            return self.images[index]
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        labelled = "with" if self.labels is not None else "without"
        return f"as_dataset(images {tuple(self.images.shape)} {self.images.dtype}, {labelled} labels)"


class _CheckedDataset(Dataset):
    """Wraps a map-style dataset; converts and checks the image of each item."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        where = f"item {index} of {type(self.dataset).__name__}"
        if isinstance(item, (tuple, list)):
            if len(item) == 0:
                raise ValueError(f"{where} is an empty tuple; expected an image or (image, label, ...)")
            return (_to_float_images(item[0], f"the image of {where}", rank=3, layout="(C, H, W)"), *item[1:])
        return _to_float_images(item, where, rank=3, layout="(C, H, W)")

    def __repr__(self) -> str:
        return f"as_dataset({self.dataset!r})"


def as_dataset(data: Any, labels: Any = None) -> Dataset:
    """Turn images in any common form into a dataset of float ``(C, H, W)`` images.

    Accepted ``data``:

    * a tensor or numpy array ``(N, C, H, W)``: floating (kept as is) or ``uint8`` (scaled by
      1/255 to ``float32``); checked at once for rank, emptiness, dtype and NaN/inf;
    * any map-style ``torch.utils.data.Dataset`` whose items are an image or a tuple
      ``(image, label, ...)``, the image a ``(C, H, W)`` tensor, array or PIL image; each item is
      converted and checked when it is read, and the first one at once.

    Args:
        data: the images.
        labels: optional ``(N,)`` labels for tensor/array ``data``; items are then
            ``(image, label)``. Not allowed with a dataset (its items carry their labels).

    Returns:
        A dataset whose items are ``(C, H, W)`` floating tensors, or ``(image, label, ...)``
        tuples.

    Raises:
        TypeError: unsupported type, an iterable-style dataset, or a non-floating dtype other
            than uint8.
        ValueError: wrong rank, empty data, NaN/inf pixels, labels of the wrong length.

    Example:
        >>> import torch
        >>> data = as_dataset(torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8), labels=torch.arange(5))
        >>> image, label = data[2]
        >>> image.dtype, image.shape, int(label), bool(image.max() <= 1)
        (torch.float32, torch.Size([1, 8, 8]), 2, True)
        >>> as_dataset(torch.zeros(5, 8, 8))
        Traceback (most recent call last):
        ...
        ValueError: data must have shape (N, C, H, W), got 3 dimensions (5, 8, 8) (add a channel axis: x.unsqueeze(-3) for grayscale)
    """
    if isinstance(data, (Tensor, np.ndarray)):
        images = _to_float_images(data, "data", rank=4, layout="(N, C, H, W)")
        if labels is not None:
            if isinstance(labels, np.ndarray):
                labels = torch.from_numpy(labels)
            if not isinstance(labels, Tensor):
                labels = torch.as_tensor(labels)
            if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
                raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        return _TensorImages(images, labels)
    if isinstance(data, IterableDataset):
        raise TypeError("as_dataset needs a map-style dataset (with __len__ and __getitem__), got an IterableDataset")
    if isinstance(data, Dataset):
        if labels is not None:
            raise ValueError("labels can only be given with tensor or array data; a dataset's items carry their own labels")
        if not hasattr(data, "__len__"):
            raise TypeError(f"the dataset {type(data).__name__} must define __len__")
        if len(data) == 0:  # type: ignore[arg-type]
            raise ValueError(f"the dataset {type(data).__name__} is empty")
        wrapped = _CheckedDataset(data)
        wrapped[0]  # fail early on the first item
        return wrapped
    raise TypeError(
        "data must be a tensor or numpy array (N, C, H, W) or a torch Dataset of (C, H, W) images, "
        f"got {_checks.describe(data)}"
    )
