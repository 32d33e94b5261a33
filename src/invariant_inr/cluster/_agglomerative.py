"""Agglomerative (hierarchical) clustering through ``scikit-learn`` (optional extra ``[cluster]``)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from .. import _checks
from ._inputs import _as_features, _check_num_clusters

__all__ = ["agglomerative"]


def _import_sklearn_cluster() -> Any:
    try:
        from sklearn import cluster as sk_cluster
    except ImportError:
        raise ImportError(
            "agglomerative clustering needs scikit-learn; install it with "
            '`pip install "invariant-inr[cluster]"` (or `pip install scikit-learn`)'
        ) from None
    return sk_cluster


def agglomerative(
    features: Any,
    num_clusters: int,
    *,
    linkage: Literal["ward", "complete", "average", "single"] = "ward",
    metric: str = "euclidean",
) -> Tensor:
    """Agglomerative (hierarchical) clustering with ``sklearn.cluster.AgglomerativeClustering``.

    Needs the optional extra ``pip install "invariant-inr[cluster]"``. Time and memory grow
    quadratically with ``N`` (a few tens of thousands of samples is the practical limit).

    Args:
        features: ``(N, D)`` features (tensor or numpy array).
        num_clusters: ``K``, between 1 and ``N``.
        linkage: ``"ward"`` (minimum variance; needs ``metric="euclidean"``), ``"complete"``,
            ``"average"`` or ``"single"``.
        metric: distance for the non-ward linkages (``"euclidean"``, ``"cosine"``, ``"l1"``, ...).

    Returns:
        ``(N,)`` ``int64`` cluster of each sample.

    Raises:
        ImportError: ``scikit-learn`` is not installed.

    Example:
        >>> import torch
        >>> points = torch.tensor([[0.0, 0.0], [0.0, 0.1], [4.0, 4.0], [4.0, 4.1]])
        >>> labels = agglomerative(points, 2)
        >>> bool(labels[0] == labels[1]), bool(labels[0] != labels[2])
        (True, True)
    """
    x = _as_features(features)
    k = _check_num_clusters(num_clusters, x.shape[0])
    _checks.check_choice(linkage, "linkage", ("ward", "complete", "average", "single"))
    if linkage == "ward" and metric != "euclidean":
        raise ValueError(f'linkage="ward" works only with metric="euclidean", got metric={metric!r}')
    sk_cluster = _import_sklearn_cluster()
    if k == 1:  # scikit-learn needs at least 2 samples; one cluster is trivial
        return torch.zeros(x.shape[0], dtype=torch.int64)
    model = sk_cluster.AgglomerativeClustering(n_clusters=k, linkage=linkage, metric=metric)
    labels = model.fit_predict(x.detach().cpu().double().numpy())
    return torch.as_tensor(np.asarray(labels, dtype=np.int64))
