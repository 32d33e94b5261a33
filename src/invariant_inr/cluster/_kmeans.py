"""k-means: Lloyd's algorithm with k-means++ seeding, in pure ``torch`` (CPU or GPU)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from .. import _checks
from ._inputs import _as_features, _check_num_clusters

__all__ = ["KMeansResult", "kmeans"]


class KMeansResult(NamedTuple):
    """The result of :func:`kmeans`: ``assignments (N,)``, ``centroids (K, D)``, ``inertia``."""

    assignments: Tensor
    """``(N,)`` ``int64`` cluster of each sample, on the CPU."""
    centroids: Tensor
    """``(K, D)`` cluster centres, on the device the computation ran on."""
    inertia: float
    """Sum of squared distances of the samples to their centroid."""


def _squared_distances(x: Tensor, centroids: Tensor) -> Tensor:
    """``(N, K)`` squared Euclidean distances (one batched ``cdist``)."""
    return torch.cdist(x, centroids).square()


def _kmeans_plusplus(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): each new centre drawn with probability ~ D(x)^2."""
    n = x.shape[0]
    first = int(torch.randint(n, (1,), generator=generator))
    centroids = [x[first]]
    closest = _squared_distances(x, x[first : first + 1]).squeeze(1)  # (N,)
    for _ in range(1, k):
        weights = closest.clamp_min(0).double().cpu()
        if float(weights.sum()) > 0:
            index = int(torch.multinomial(weights, 1, generator=generator))
        else:  # every sample coincides with a centre already chosen
            index = int(torch.randint(n, (1,), generator=generator))
        centroids.append(x[index])
        closest = torch.minimum(closest, _squared_distances(x, x[index : index + 1]).squeeze(1))
    return torch.stack(centroids)  # (K, D)


def _lloyd(x: Tensor, centroids: Tensor, max_iter: int, tol: float) -> tuple[Tensor, Tensor, float]:
    """Lloyd iterations from ``centroids``; empty clusters are moved to the worst-fitted samples."""
    k = centroids.shape[0]
    previous: Tensor | None = None
    for _ in range(max_iter):
        distances, assignments = _squared_distances(x, centroids).min(dim=1)  # (N,), (N,)
        counts = torch.bincount(assignments, minlength=k)  # (K,)
        sums = torch.zeros_like(centroids).index_add_(0, assignments, x)  # (K, D)
        new = sums / counts.clamp_min(1).unsqueeze(1).to(x.dtype)
        empty = counts == 0
        if bool(empty.any()):
            farthest = distances.topk(int(empty.sum())).indices
            new[empty] = x[farthest]
        shift = float((new - centroids).square().sum())
        centroids = new
        if (previous is not None and not bool(empty.any()) and torch.equal(previous, assignments)) or shift <= tol:
            break
        previous = assignments
    assignments = _squared_distances(x, centroids).argmin(dim=1)
    inertia = float((x - centroids[assignments]).square().sum())  # exact, unlike the matmul form of cdist
    return assignments, centroids, inertia


def kmeans(
    features: Any,
    num_clusters: int,
    *,
    num_init: int = 10,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> KMeansResult:
    """k-means clustering in pure ``torch``: k-means++ seeding, then Lloyd iterations.

    The best of ``num_init`` runs (lowest inertia) is returned. Each iteration is one batched
    ``torch.cdist`` over all samples; only the iterations and the k-means++ draws are Python loops.
    Random numbers come from a CPU generator seeded with ``seed``, so results are reproducible
    and the same on every device (up to floating-point rounding). Empty clusters are re-seeded at
    the samples farthest from their centre.

    Args:
        features: ``(N, D)`` features (tensor or numpy array).
        num_clusters: ``K``, between 1 and ``N``.
        num_init: number of restarts.
        max_iter: maximum Lloyd iterations per run.
        tol: stop when the squared centroid shift is below ``tol`` times the mean per-dimension
            variance of the data (as ``scikit-learn`` does), or when no assignment changes.
        seed: random seed.
        device: where to compute (default: where ``features`` are).

    Returns:
        :class:`KMeansResult` ``(assignments (N,), centroids (K, D), inertia)``.

    Example:
        >>> import torch
        >>> points = torch.tensor([[0.0, 0.0], [0.0, 0.1], [4.0, 4.0], [4.0, 4.1]])
        >>> result = kmeans(points, 2, num_init=2)
        >>> result.assignments[0] == result.assignments[1], result.assignments[0] != result.assignments[2]
        (tensor(True), tensor(True))
        >>> round(result.inertia, 4)
        0.01
    """
    x = _as_features(features).to(device)
    k = _check_num_clusters(num_clusters, x.shape[0])
    _checks.check_positive_int(num_init, "num_init")
    _checks.check_positive_int(max_iter, "max_iter")
    tol = _checks.check_positive_float(tol, "tol", allow_zero=True)
    generator = torch.Generator().manual_seed(int(seed))
    tol_abs = tol * float(x.var(dim=0, unbiased=False).mean()) if x.shape[0] > 1 else 0.0
    best: tuple[Tensor, Tensor, float] | None = None
    for _ in range(num_init):
        run = _lloyd(x, _kmeans_plusplus(x, k, generator), max_iter, tol_abs)
        if best is None or run[2] < best[2]:
            best = run
    assert best is not None  # num_init >= 1
    assignments, centroids, inertia = best
    return KMeansResult(assignments.cpu(), centroids, inertia)
