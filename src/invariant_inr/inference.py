"""Batched inference over a whole data set: codes and poses of every image, without gradients.

:func:`encode_all` is what the ``embed`` and ``cluster`` commands and the examples use to turn a data
set into ``(z, theta, tau)`` arrays for clustering, export and pose metrics.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .encoders import Encoding
from .model import IRLINR
from .training import make_loader

__all__ = ["encode_all"]


def _first_tensor(item: Any) -> Tensor:
    return item[0] if isinstance(item, (tuple, list)) else item


def encode_all(
    model: IRLINR,
    data: Tensor | Dataset | DataLoader,
    *,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: bool = False,
    num_workers: int = 0,
) -> Encoding:
    """Encode every image of ``data`` in order, in eval mode and without gradients.

    Args:
        model: a trained :class:`~invariant_inr.IRLINR`.
        data: ``(N, C, H, W)`` float tensor, a ``Dataset`` of images or ``(image, label, ...)``
            items, or a ``DataLoader`` (used as is, so keep ``shuffle=False`` to keep the order).
        batch_size: images per forward pass (ignored for a ``DataLoader``).
        device: where to run (default: the model's device); the model is moved there.
        progress: show a tqdm progress bar.
        num_workers: ``DataLoader`` workers.

    Returns:
        :class:`~invariant_inr.Encoding` ``(z (N, d), theta (N,), tau (N, 2))`` on the CPU. The
        model's train/eval mode is restored afterwards.

    Raises:
        TypeError: ``model`` is not an :class:`~invariant_inr.IRLINR` or ``data`` of an unknown type.
        ValueError: empty data, or images of the wrong size or channels for the model.

    Example:
        >>> import torch
        >>> from invariant_inr import IRLINR
        >>> from invariant_inr.inference import encode_all
        >>> model = IRLINR(1, 12, 4, encoder="small", num_frequencies=8, inr_hidden=(16,),
        ...                hyper_hidden=(16,), head_hidden=(32,))
        >>> enc = encode_all(model, torch.rand(10, 1, 12, 12), batch_size=4)
        >>> enc.z.shape, enc.theta.shape, enc.tau.shape
        (torch.Size([10, 4]), torch.Size([10]), torch.Size([10, 2]))
    """
    if not isinstance(model, IRLINR):
        raise TypeError(f"model must be an IRLINR, got {type(model).__name__}")
    if device is not None:
        model.to(device)
    target = model.device
    loader = make_loader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(loader), desc="encoding", leave=False, dynamic_ncols=True)
    was_training = model.training
    model.eval()
    parts: list[Encoding] = []
    try:
        with torch.no_grad():
            for batch in loader:
                images = _first_tensor(batch).to(target, dtype=model.dtype, non_blocking=True)
                enc = model.encode(images)
                parts.append(Encoding(enc.z.cpu(), enc.theta.cpu(), enc.tau.cpu()))
                if bar is not None:
                    bar.update(1)
    finally:
        model.train(was_training)
        if bar is not None:
            bar.close()
    if not parts:
        raise ValueError("data yielded no images")
    return Encoding(*(torch.cat(tensors) for tensors in zip(*parts)))
