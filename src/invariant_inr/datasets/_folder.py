"""Your own image files: a dataset over a folder of PNG/JPG/... images, read with Pillow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .. import _checks
from ._base import PathLike

__all__ = ["IMAGE_EXTENSIONS", "ImageFolderDataset"]


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
