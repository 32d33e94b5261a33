"""Export of clustering results for other tools: assignments as CSV, embeddings as ``.npy``/``.pt``."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import _checks

__all__ = ["save_assignments", "save_embeddings"]


def save_assignments(path: str | Path, assignments: Any, *, index: Sequence[Any] | None = None) -> Path:
    """Write cluster assignments as a CSV file with the header ``index,cluster``.

    Args:
        path: file to write (parent folders are created).
        assignments: ``(N,)`` integer clusters (tensor, array or list).
        index: ``N`` row identifiers (sample indices, file names); default ``0 .. N-1``.

    Returns:
        The path written.

    Example:
        >>> import tempfile, pathlib
        >>> folder = tempfile.mkdtemp()
        >>> path = save_assignments(pathlib.Path(folder) / "clusters.csv", [2, 0, 1], index=["a", "b", "c"])
        >>> path.read_text().splitlines()
        ['index,cluster', 'a,2', 'b,0', 'c,1']
    """
    if isinstance(assignments, Tensor):
        values = assignments.detach().cpu().numpy()
    elif isinstance(assignments, (np.ndarray, list, tuple)):
        values = np.asarray(assignments)
    else:
        raise TypeError(
            f"assignments must be a tensor, numpy array or list of ints, got {_checks.describe(assignments)}"
        )
    if values.ndim != 1:
        raise ValueError(f"assignments must have shape (N,), got {tuple(values.shape)}")
    if not (np.issubdtype(values.dtype, np.integer) or values.size == 0):
        raise TypeError(f"assignments must be integers, got dtype {values.dtype}")
    rows = list(range(values.shape[0])) if index is None else list(index)
    if len(rows) != values.shape[0]:
        raise ValueError(f"index has {len(rows)} entries but there are {values.shape[0]} assignments")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["index", "cluster"])
        writer.writerows(zip(rows, values.tolist()))
    return path


def save_embeddings(path: str | Path, array: Any) -> Path:
    """Save an array (e.g. embeddings ``(N, D)``) as ``.npy`` (numpy) or ``.pt`` (a CPU tensor).

    Args:
        path: file to write; its extension chooses the format. Parent folders are created.
        array: tensor or numpy array.

    Returns:
        The path written. Read back with ``numpy.load`` or ``torch.load(path, weights_only=True)``.

    Example:
        >>> import tempfile, pathlib, numpy, torch
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> numpy.load(save_embeddings(folder / "z.npy", torch.ones(2, 3))).shape
        (2, 3)
        >>> torch.load(save_embeddings(folder / "z.pt", numpy.zeros((2, 3))), weights_only=True).shape
        torch.Size([2, 3])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".pt"):
        raise ValueError(f"save_embeddings writes .npy or .pt files, got {path.name!r}")
    if isinstance(array, Tensor):
        tensor = array.detach().cpu()
    elif isinstance(array, np.ndarray):
        tensor = torch.from_numpy(array)
    else:
        raise TypeError(f"array must be a torch.Tensor or numpy array, got {_checks.describe(array)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(path, tensor.numpy())
    else:
        torch.save(tensor.clone(), path)
    return path
