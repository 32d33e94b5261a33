"""``cluster``: one entry point that runs the clustering method named by a string."""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from .. import _checks
from ._agglomerative import agglomerative
from ._kmeans import kmeans
from ._normalize import l2_normalize
from ._scan import SCAN
from ._whiten import whiten as pca_whiten

__all__ = ["cluster"]


def cluster(
    features: Any,
    method: Literal["kmeans", "agglomerative", "scan"] = "kmeans",
    *,
    num_clusters: int,
    whiten: bool = False,
    normalize: bool = False,
    **options: Any,
) -> Tensor:
    """Cluster features with the named method and return the assignments.

    Args:
        features: ``(N, D)`` features.
        method: ``"kmeans"`` (:func:`kmeans`), ``"agglomerative"`` (:func:`agglomerative`) or
            ``"scan"`` (:class:`SCAN` on the precomputed features).
        num_clusters: ``K``.
        whiten: PCA-whiten the features first (:func:`whiten`); on the learned ``z`` it helped
            the codes of the paper's ``"cos"`` consistency loss (``docs/results.md``).
        normalize: centre the features and scale each to unit length first (:func:`l2_normalize`):
            the cosine geometry the ``"infonce"`` consistency loss trains ``z`` in, where it helped
            Ward and k-means. At most one of ``whiten`` and ``normalize``.
        **options: keyword options of the chosen method (``seed``, ``linkage``, ``epochs``, ...).

    Returns:
        ``(N,)`` ``int64`` cluster of each sample.

    Example:
        >>> import torch
        >>> points = torch.tensor([[0.0, 0.0], [0.0, 0.1], [4.0, 4.0], [4.0, 4.1]])
        >>> labels = cluster(points, "kmeans", num_clusters=2, seed=1)
        >>> labels.shape
        torch.Size([4])
    """
    _checks.check_choice(method, "method", ("kmeans", "agglomerative", "scan"))
    for name, flag in (("whiten", whiten), ("normalize", normalize)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {_checks.describe(flag)}")
    if whiten and normalize:
        raise ValueError("give at most one of whiten=True and normalize=True (each replaces the other's geometry)")
    if whiten:
        features = pca_whiten(features)
    elif normalize:
        features = l2_normalize(features)
    if method == "kmeans":
        return kmeans(features, num_clusters, **options).assignments
    if method == "agglomerative":
        return agglomerative(features, num_clusters, **options)
    return SCAN(num_clusters, **options).fit_predict(features)
