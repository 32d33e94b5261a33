"""MNIST files: find and load one split of MNIST from its four IDX files (optionally via torchvision)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from torch import Tensor

from .. import _checks
from ._base import PathLike
from ._idx import read_idx

__all__ = ["MNIST_FILES", "load_mnist"]



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
