"""Nearest-neighbour mining in feature space (the first step of SCAN)."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import _checks
from ._inputs import _as_features

__all__ = ["mine_neighbors"]


def mine_neighbors(
    features: Any,
    k: int,
    *,
    metric: Literal["cosine", "euclidean"] = "cosine",
    batch_size: int = 1024,
    device: torch.device | str | None = None,
) -> Tensor:
    """The ``k`` nearest neighbours of every sample, excluding the sample itself.

    Computed in chunks of ``batch_size`` query rows, so memory is ``batch_size * N`` scores rather
    than ``N * N``. A sample is excluded by its index, so exact duplicates of it are still
    returned as neighbours.

    Args:
        features: ``(N, D)`` features.
        k: number of neighbours, between 1 and ``N - 1``.
        metric: ``"cosine"`` (largest cosine similarity, as SCAN does) or ``"euclidean"``.
        batch_size: query rows per chunk.
        device: where to compute (default: where ``features`` are).

    Returns:
        ``(N, k)`` ``int64`` indices on the CPU, nearest first.

    Example:
        >>> import torch
        >>> x = torch.tensor([[0.0], [1.0], [10.0], [11.5]])
        >>> mine_neighbors(x, 1, metric="euclidean").squeeze(1).tolist()
        [1, 0, 3, 2]
    """
    x = _as_features(features).to(device)
    n = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {_checks.describe(k)}")
    if k < 1 or k > n - 1:
        raise ValueError(f"k must be between 1 and N - 1 = {n - 1} (a sample is not its own neighbour), got {k}")
    _checks.check_choice(metric, "metric", ("cosine", "euclidean"))
    _checks.check_positive_int(batch_size, "batch_size")
    if metric == "cosine":
        x = F.normalize(x, dim=1)
    chunks = []
    for start in range(0, n, batch_size):
        queries = x[start : start + batch_size]  # (b, D)
        scores = queries @ x.T if metric == "cosine" else -torch.cdist(queries, x)  # (b, N), larger is nearer
        rows = torch.arange(queries.shape[0], device=x.device)
        scores[rows, rows + start] = -torch.inf  # never one's own neighbour
        chunks.append(scores.topk(k, dim=1).indices.cpu())
    return torch.cat(chunks)
