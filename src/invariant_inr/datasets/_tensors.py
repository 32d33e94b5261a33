"""Images in any common form (tensor, array, dataset of tensors/arrays/PIL images) as one checked dataset: ``as_dataset``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset

from .. import _checks
from ._folder import _pil_to_tensor

__all__ = ["as_dataset"]


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
