r"""Clustering of semantic representations: k-means, agglomerative, and SCAN.

Three ways to group images by their invariant representation :math:`z` (paper section 4.3):

* :func:`kmeans` - Lloyd's algorithm with k-means++ seeding, in pure ``torch`` (CPU or GPU).
* :func:`agglomerative` - hierarchical clustering through ``scikit-learn`` (optional extra
  ``pip install "invariant-inr[cluster]"``).
* :class:`SCAN` - *Semantic Clustering by Adopting Nearest neighbours* (Van Gansbeke et al.,
  2020, "SCAN: Learning to classify images without labels"), re-implemented here from the paper:
  mine the nearest neighbours of every sample in feature space (:func:`mine_neighbors`), train a
  clustering head so that a sample and its neighbours get the same confident prediction while the
  clusters stay balanced (:func:`scan_loss`), then sharpen it by self-labelling on confident
  predictions. With an encoder it trains on augmented images (random rotation and translation by
  default, :func:`random_rotate_translate`, the "R + T" of the paper's appendix C); it also runs
  on precomputed features.

:func:`cluster` dispatches by name; :func:`save_assignments` and :func:`save_embeddings` write the
results for other tools. Any number of clusters from 1 to ``N`` is accepted, so over-clustering
(more clusters than classes) works; score it with
``invariant_inr.metrics.clustering_accuracy(..., mapping="majority")``.

Example:
    >>> import torch
    >>> from invariant_inr.cluster import kmeans
    >>> g = torch.Generator().manual_seed(0)
    >>> blobs = torch.cat([torch.randn(20, 2, generator=g) * 0.1 + c for c in (-5.0, 5.0)])
    >>> assignments, centroids, inertia = kmeans(blobs, 2)
    >>> len(set(assignments[:20].tolist())), len(set(assignments[20:].tolist()))
    (1, 1)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks
from .se2 import grid_spacing, transform_images

__all__ = [
    "ClusteringHead",
    "KMeansResult",
    "SCAN",
    "ScanLoss",
    "agglomerative",
    "cluster",
    "kmeans",
    "mine_neighbors",
    "random_rotate_translate",
    "save_assignments",
    "save_embeddings",
    "scan_loss",
]

TWO_PI = 2.0 * math.pi


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _as_features(features: Any, name: str = "features") -> Tensor:
    """Floating features ``(N, D)`` from a tensor, array or nested list; finite and non-empty."""
    if isinstance(features, (np.ndarray, list, tuple)):
        features = torch.as_tensor(np.asarray(features))
    if not isinstance(features, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor or a numpy array of shape (N, D), got {_checks.describe(features)}"
        )
    if features.dtype == torch.bool or features.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {features.dtype}")
    if not features.is_floating_point():
        features = features.float()
    if features.ndim != 2:
        hint = " (pass an encoder to cluster images)" if features.ndim == 4 else ""
        raise ValueError(f"{name} must have shape (N, D), got {tuple(features.shape)}{hint}")
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(features.shape)}")
    if not bool(torch.isfinite(features).all()):
        bad = int((~torch.isfinite(features)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); clean the data first")
    return features


def _check_num_clusters(num_clusters: Any, num_samples: int) -> int:
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, int):
        raise TypeError(f"num_clusters must be an int, got {_checks.describe(num_clusters)}")
    if num_clusters < 1 or num_clusters > num_samples:
        raise ValueError(
            f"num_clusters must be between 1 and the number of samples ({num_samples}), got {num_clusters}"
        )
    return num_clusters


def _import_sklearn_cluster() -> Any:
    try:
        from sklearn import cluster as sk_cluster
    except ImportError:
        raise ImportError(
            "agglomerative clustering needs scikit-learn; install it with "
            '`pip install "invariant-inr[cluster]"` (or `pip install scikit-learn`)'
        ) from None
    return sk_cluster


# --------------------------------------------------------------------------------------------
# k-means and agglomerative clustering
# --------------------------------------------------------------------------------------------


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


def cluster(
    features: Any,
    method: Literal["kmeans", "agglomerative", "scan"] = "kmeans",
    *,
    num_clusters: int,
    **options: Any,
) -> Tensor:
    """Cluster features with the named method and return the assignments.

    Args:
        features: ``(N, D)`` features.
        method: ``"kmeans"`` (:func:`kmeans`), ``"agglomerative"`` (:func:`agglomerative`) or
            ``"scan"`` (:class:`SCAN` on the precomputed features).
        num_clusters: ``K``.
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
    if method == "kmeans":
        return kmeans(features, num_clusters, **options).assignments
    if method == "agglomerative":
        return agglomerative(features, num_clusters, **options)
    return SCAN(num_clusters, **options).fit_predict(features)


# --------------------------------------------------------------------------------------------
# SCAN building blocks
# --------------------------------------------------------------------------------------------


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


class ScanLoss(NamedTuple):
    """The terms of :func:`scan_loss`; each is a scalar, or ``(H,)`` for ``H`` heads."""

    total: Tensor
    """``consistency - entropy_weight * entropy`` (minimise this)."""
    consistency: Tensor
    r"""``-mean log <p_anchor, p_neighbor>``."""
    entropy: Tensor
    r"""Entropy :math:`H(\bar p)` of the mean anchor prediction, in nats (to be maximised)."""


def scan_loss(anchor_logits: Tensor, neighbor_logits: Tensor, *, entropy_weight: float = 5.0) -> ScanLoss:
    r"""The SCAN clustering loss (Van Gansbeke et al., 2020, eq. 2).

    With :math:`p_a = \mathrm{softmax}(\text{anchor})` and :math:`p_n = \mathrm{softmax}(\text{neighbor})`:

    .. math::
        \text{consistency} = -\frac1B\sum_b \log\langle p_a^{(b)}, p_n^{(b)}\rangle, \qquad
        H = -\sum_k \bar p_k \log \bar p_k,\ \bar p = \frac1B\sum_b p_a^{(b)}, \qquad
        \text{total} = \text{consistency} - w H.

    The consistency term makes a sample and its neighbour agree on a confident cluster; the
    entropy term keeps the clusters balanced (without it everything collapses into one).
    Both logarithms are evaluated from ``log_softmax`` with ``logsumexp``, so the loss is finite
    with gradients even for saturated predictions. Gradients flow into both inputs.

    Args:
        anchor_logits: ``(B, K)``, or ``(H, B, K)`` for ``H`` clustering heads.
        neighbor_logits: same shape, the logits of one neighbour of each anchor.
        entropy_weight: :math:`w \ge 0` (5 in the SCAN paper).

    Returns:
        :class:`ScanLoss` ``(total, consistency, entropy)``: scalars, or ``(H,)`` per head.

    Example:
        >>> import math, torch
        >>> loss = scan_loss(torch.zeros(4, 3), torch.zeros(4, 3))  # uniform predictions
        >>> round(loss.consistency.item(), 4) == round(math.log(3), 4) == round(loss.entropy.item(), 4)
        True
    """
    for value, name in ((anchor_logits, "anchor_logits"), (neighbor_logits, "neighbor_logits")):
        _checks.check_floating(value, name)
        if value.ndim not in (2, 3):
            raise ValueError(f"{name} must have shape (B, K) or (H, B, K), got {tuple(value.shape)}")
    if anchor_logits.shape != neighbor_logits.shape:
        raise ValueError(
            f"anchor_logits and neighbor_logits must have the same shape, got "
            f"{tuple(anchor_logits.shape)} and {tuple(neighbor_logits.shape)}"
        )
    if anchor_logits.shape[-2] == 0 or anchor_logits.shape[-1] == 0:
        raise ValueError(f"logits must have B >= 1 samples and K >= 1 clusters, got {tuple(anchor_logits.shape)}")
    weight = _checks.check_positive_float(entropy_weight, "entropy_weight", allow_zero=True)
    log_anchor = F.log_softmax(anchor_logits, dim=-1)  # (..., B, K)
    log_neighbor = F.log_softmax(neighbor_logits, dim=-1)  # (..., B, K)
    log_agreement = torch.logsumexp(log_anchor + log_neighbor, dim=-1)  # (..., B): log <p_a, p_n>
    consistency = -log_agreement.mean(dim=-1)  # (...)
    batch = anchor_logits.shape[-2]
    log_mean = torch.logsumexp(log_anchor, dim=-2) - math.log(batch)  # (..., K): log of mean p_a
    entropy = -(log_mean.exp() * log_mean).sum(dim=-1)  # (...)
    return ScanLoss(consistency - weight * entropy, consistency, entropy)


class ClusteringHead(nn.Module):
    """Linear clustering head(s): features ``(B, D)`` to logits ``(H, B, K)``.

    The ``H`` heads are independent linear maps, stored as one ``nn.Linear(D, H * K)`` so they run
    as a single matmul. Initialisation is PyTorch's default for ``nn.Linear``; SCAN trains several
    heads from different random starts and keeps the one with the lowest loss.

    Args:
        in_features: ``D``.
        num_clusters: ``K``.
        num_heads: ``H``.

    Example:
        >>> import torch
        >>> head = ClusteringHead(16, 10, num_heads=3)
        >>> head(torch.randn(5, 16)).shape
        torch.Size([3, 5, 10])
    """

    def __init__(self, in_features: int, num_clusters: int, *, num_heads: int = 1) -> None:
        super().__init__()
        self.in_features = _checks.check_positive_int(in_features, "in_features")
        self.num_clusters = _checks.check_positive_int(num_clusters, "num_clusters")
        self.num_heads = _checks.check_positive_int(num_heads, "num_heads")
        self.linear = nn.Linear(in_features, num_heads * num_clusters)

    def forward(self, features: Tensor) -> Tensor:
        _checks.check_floating(features, "features")
        if features.ndim != 2 or features.shape[1] != self.in_features:
            raise ValueError(f"features must have shape (B, {self.in_features}), got {tuple(features.shape)}")
        logits = self.linear(features)  # (B, H * K)
        return logits.view(features.shape[0], self.num_heads, self.num_clusters).transpose(0, 1)  # (H, B, K)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_clusters={self.num_clusters}, num_heads={self.num_heads}"


def random_rotate_translate(
    images: Tensor,
    max_translation: float = 0.07,
    *,
    generator: torch.Generator | None = None,
    return_pose: bool = False,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    r"""Randomly rotate, then translate, each image: the "R + T" augmentation of the paper's appendix C.

    Per sample, :math:`\theta \sim U[0, 2\pi)` and a shift :math:`t` uniform in
    :math:`[-T_x, T_x] \times [-T_y, T_y]` with :math:`T_x` = ``max_translation`` times the image
    width and :math:`T_y` = ``max_translation`` times the height (in pixels), like torchvision's
    ``RandomRotation(180)`` followed by ``RandomAffine(0, translate=(a, a))``. The map
    :math:`x \mapsto R_\theta x + t` equals :math:`S_{\theta,\tau}` with
    :math:`\tau = R_{-\theta} t`, applied with one batched :func:`invariant_inr.se2.transform_images`.
    Random numbers are drawn on the generator's device (the CPU by default), then moved.

    Args:
        images: ``(B, C, H, W)`` floating images.
        max_translation: :math:`a`, the largest shift as a fraction of the image side (0.07 in the paper).
        generator: optional ``torch.Generator`` for reproducibility.
        return_pose: also return the applied pose ``(theta (B,), tau (B, 2))``.

    Returns:
        ``(B, C, H, W)`` augmented images, or ``(images, theta, tau)`` when ``return_pose``.

    Example:
        >>> import torch
        >>> out, theta, tau = random_rotate_translate(torch.rand(4, 1, 16, 16), return_pose=True,
        ...                                           generator=torch.Generator().manual_seed(0))
        >>> out.shape, theta.shape, tau.shape
        (torch.Size([4, 1, 16, 16]), torch.Size([4]), torch.Size([4, 2]))
    """
    _checks.check_images(images, finite=False)
    limit = _checks.check_positive_float(max_translation, "max_translation", allow_zero=True)
    batch, _, height, width = images.shape
    gen_device = generator.device if generator is not None else torch.device("cpu")
    theta = torch.rand(batch, generator=generator, device=gen_device, dtype=torch.float64) * TWO_PI  # (B,)
    unit = torch.rand(batch, 2, generator=generator, device=gen_device, dtype=torch.float64) * 2 - 1  # (B, 2)
    side = torch.tensor([width, height], device=gen_device, dtype=torch.float64)  # (x, y) extents in pixels
    shift = unit * limit * side * grid_spacing(height, width)  # (B, 2), normalised units
    cos, sin = torch.cos(theta), torch.sin(theta)
    tau = torch.stack(
        [cos * shift[:, 0] + sin * shift[:, 1], -sin * shift[:, 0] + cos * shift[:, 1]], dim=-1
    )  # R_{-theta} t
    theta = theta.to(device=images.device, dtype=images.dtype)
    tau = tau.to(device=images.device, dtype=images.dtype)
    moved = transform_images(images, theta, tau)
    return (moved, theta, tau) if return_pose else moved


def _feature_output(output: Any) -> Tensor:
    """The feature tensor an encoder returned: a tensor, or an object with a ``.z`` field."""
    if isinstance(output, Tensor):
        features = output
    elif hasattr(output, "z") and isinstance(output.z, Tensor):
        features = output.z
    else:
        raise TypeError(
            "the encoder must return a (B, D) tensor (or an object with a .z tensor), "
            f"got {_checks.describe(output)}; pass e.g. `lambda x: model.encode(x).z`"
        )
    if features.ndim != 2:
        raise ValueError(f"the encoder must return features of shape (B, D), got {tuple(features.shape)}")
    return features


def _batches(order: Tensor, batch_size: int) -> list[Tensor]:
    """Split a permutation into batches, dropping a last partial batch when there is a full one."""
    n = order.shape[0]
    stop = n - n % batch_size if n >= batch_size else n
    return list(order[:stop].split(batch_size)) if stop > 0 else [order]


# --------------------------------------------------------------------------------------------
# SCAN
# --------------------------------------------------------------------------------------------


class SCAN:
    r"""SCAN clustering (Van Gansbeke et al., 2020), re-implemented from the paper.

    ``fit`` runs the two SCAN steps after the pretext task (here: IRL-INR, or any encoder):

    1. **Mine neighbours.** The features of the *un-augmented* inputs give the ``num_neighbors``
       nearest neighbours of every sample (:func:`mine_neighbors`, cosine similarity by default).
    2. **Clustering step** (``epochs`` epochs). Each anchor is paired with one of its neighbours,
       drawn at random every time; both are augmented independently with ``augment`` and encoded,
       and ``num_heads`` linear heads are trained with :func:`scan_loss`. The head with the lowest
       loss in the last epoch is kept.
    3. **Self-labelling** (``self_label_epochs`` epochs). Predictions on the un-augmented input
       whose top probability exceeds ``confidence_threshold`` become pseudo-labels; the head (and
       the encoder, when fine-tuned) is trained with cross-entropy on the *augmented* input,
       weighting each class by the inverse of its number of confident samples in the batch.

    Inputs: with an ``encoder`` (any callable or ``nn.Module`` mapping ``(B, C, H, W)`` images to
    ``(B, D)`` features, or to an object with a ``.z`` tensor, e.g. ``lambda x: model.encode(x).z``),
    ``X`` is images and ``augment`` defaults to :func:`random_rotate_translate` ("R + T", the
    paper's choice for IRL-INR + SCAN). Without an encoder, ``X`` is precomputed features
    ``(N, D)``, the head is trained on them directly, and ``augment`` (a feature-space callable)
    is off unless given. With ``finetune_encoder=True`` and an ``nn.Module`` encoder, the encoder is
    trained together with the heads (as in the paper, where SCAN updates the backbone); otherwise
    the encoder is frozen and kept in eval mode. The encoder is moved to ``device`` only when it
    is given explicitly.

    Any ``num_clusters`` from 1 to ``N`` works; over-clustering (more clusters than classes) is
    allowed. The defaults (``lr=1e-4``, Adam, entropy weight 5, confidence 0.99) are those of the
    SCAN paper; short runs on small data need a larger ``lr``.

    Args:
        num_clusters: ``K``.
        num_neighbors: neighbours mined per sample (20 in the SCAN paper).
        entropy_weight: weight of the entropy term of :func:`scan_loss`.
        epochs: epochs of the clustering step.
        self_label_epochs: epochs of self-labelling (0 to skip).
        confidence_threshold: minimum top probability for a pseudo-label, in ``(0, 1)``.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        batch_size: samples per step.
        num_heads: clustering heads trained in parallel in the clustering step.
        augment: callable ``(B, ...) -> (B, ...)`` applied to anchors and neighbours; ``None`` for
            the default (``random_rotate_translate`` on images, nothing on features).
        finetune_encoder: also train the encoder's parameters.
        metric: similarity used to mine neighbours, ``"cosine"`` or ``"euclidean"``.
        seed: seed of every random choice (head initialisation, batches, neighbours, augmentation).
        device: where to train (default: the encoder's device, or the features', or the CPU).
        verbose: print one line per epoch.

    Attributes:
        labels_: ``(N,)`` cluster of each training sample (after ``fit``).
        history_: one ``dict`` of losses per epoch, with ``"stage"`` ``"scan"`` or ``"self_label"``.
        neighbors_: ``(N, num_neighbors)`` mined neighbour indices.
        head_: the trained :class:`ClusteringHead`; ``best_head_`` the index of the head used.
        encoder_: the encoder given to ``fit`` (``None`` for features).

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0]])
        >>> x = torch.cat([torch.randn(50, 2, generator=g) * 0.5 + c for c in centres])
        >>> scan = SCAN(2, num_neighbors=5, epochs=10, self_label_epochs=1, lr=5e-2, batch_size=50)
        >>> labels = scan.fit_predict(x)
        >>> len(set(labels[:50].tolist())), len(set(labels[50:].tolist()))
        (1, 1)
    """

    def __init__(
        self,
        num_clusters: int,
        *,
        num_neighbors: int = 20,
        entropy_weight: float = 5.0,
        epochs: int = 50,
        self_label_epochs: int = 25,
        confidence_threshold: float = 0.99,
        lr: float = 1e-4,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        num_heads: int = 1,
        augment: Callable[[Tensor], Tensor] | None = None,
        finetune_encoder: bool = False,
        metric: Literal["cosine", "euclidean"] = "cosine",
        seed: int = 0,
        device: torch.device | str | None = None,
        verbose: bool = False,
    ) -> None:
        self.num_clusters = _checks.check_positive_int(num_clusters, "num_clusters")
        self.num_neighbors = _checks.check_positive_int(num_neighbors, "num_neighbors")
        self.entropy_weight = _checks.check_positive_float(entropy_weight, "entropy_weight", allow_zero=True)
        self.epochs = _checks.check_positive_int(epochs, "epochs", minimum=0)
        self.self_label_epochs = _checks.check_positive_int(self_label_epochs, "self_label_epochs", minimum=0)
        threshold = _checks.check_positive_float(confidence_threshold, "confidence_threshold")
        if threshold >= 1.0:
            raise ValueError(f"confidence_threshold must be in (0, 1), got {threshold}")
        self.confidence_threshold = threshold
        self.lr = _checks.check_positive_float(lr, "lr")
        self.weight_decay = _checks.check_positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.batch_size = _checks.check_positive_int(batch_size, "batch_size")
        self.num_heads = _checks.check_positive_int(num_heads, "num_heads")
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be a callable or None, got {_checks.describe(augment)}")
        self.augment = augment
        self.finetune_encoder = bool(finetune_encoder)
        self.metric = _checks.check_choice(metric, "metric", ("cosine", "euclidean"))
        self.seed = int(seed)
        self.device = device
        self.verbose = bool(verbose)

    def __repr__(self) -> str:
        return (
            f"SCAN(num_clusters={self.num_clusters}, num_neighbors={self.num_neighbors}, "
            f"entropy_weight={self.entropy_weight}, epochs={self.epochs}, self_label_epochs={self.self_label_epochs}, "
            f"lr={self.lr}, batch_size={self.batch_size}, num_heads={self.num_heads}, "
            f"finetune_encoder={self.finetune_encoder})"
        )

    # ---- helpers ---------------------------------------------------------------------------

    def _resolve_device(self, data: Tensor, encoder: Any) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        if isinstance(encoder, nn.Module):
            parameter = next(encoder.parameters(), None)
            if parameter is not None:
                return parameter.device
        return data.device if encoder is None else torch.device("cpu")

    def _embed(self, batch: Tensor, *, grad: bool) -> Tensor:
        """Features ``(B, D)`` of a batch of inputs on the training device."""
        batch = batch.to(self._device)
        if self.encoder_ is None:
            return batch
        with torch.set_grad_enabled(grad):
            return _feature_output(self.encoder_(batch))

    def _embed_all(self, data: Tensor) -> Tensor:
        """Features of the whole (un-augmented) data set, in eval mode, without gradients."""
        if self.encoder_ is None:
            return data.to(self._device)
        was_training = isinstance(self.encoder_, nn.Module) and self.encoder_.training
        if isinstance(self.encoder_, nn.Module):
            self.encoder_.eval()
        try:
            with torch.no_grad():
                chunks = [self._embed(chunk, grad=False) for chunk in data.split(self.batch_size)]
        finally:
            if was_training:
                self.encoder_.train()  # type: ignore[union-attr]
        features = torch.cat(chunks)
        if not bool(torch.isfinite(features).all()):
            raise ValueError("the encoder produced NaN or infinite features")
        return features

    def _check_input(self, X: Any, encoder: Any) -> Tensor:
        if encoder is None:
            return _as_features(X, "X (features, as no encoder was given)")
        if not callable(encoder):
            raise TypeError(
                f"encoder must be a callable or nn.Module mapping images to features, got {_checks.describe(encoder)}"
            )
        _checks.check_tensor(X, "X (images)")
        _checks.check_images(X, "X (images)")
        return X

    # ---- public API ------------------------------------------------------------------------

    def fit(self, X: Any, encoder: Callable[[Tensor], Any] | None = None) -> SCAN:
        """Mine neighbours, train the clustering head(s), then self-label.

        Args:
            X: ``(N, C, H, W)`` images when ``encoder`` is given, else ``(N, D)`` features.
            encoder: callable or ``nn.Module`` mapping ``(B, C, H, W)`` images to ``(B, D)``
                features (or to an object with a ``.z`` tensor); ``None`` for features.

        Returns:
            ``self``, with ``labels_``, ``history_``, ``neighbors_``, ``head_`` set.
        """
        data = self._check_input(X, encoder)
        n = data.shape[0]
        _check_num_clusters(self.num_clusters, n)
        if self.num_neighbors > n - 1:
            raise ValueError(f"num_neighbors must be at most N - 1 = {n - 1} for {n} samples, got {self.num_neighbors}")
        self.encoder_ = encoder
        self._device = self._resolve_device(data, encoder)
        if self.device is not None and isinstance(encoder, nn.Module):
            encoder.to(self._device)
        generator = torch.Generator().manual_seed(self.seed)
        augment = self.augment
        if augment is None and encoder is not None:
            aug_generator = torch.Generator().manual_seed(self.seed + 1)

            def augment(images: Tensor) -> Tensor:
                return random_rotate_translate(images, generator=aug_generator)  # type: ignore[return-value]

        features = self._embed_all(data)  # (N, D), un-augmented
        self.neighbors_ = mine_neighbors(features, self.num_neighbors, metric=self.metric)  # (N, k), CPU
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            head = ClusteringHead(features.shape[1], self.num_clusters, num_heads=self.num_heads)
        self.head_ = head.to(device=self._device, dtype=features.dtype)
        finetune = self.finetune_encoder and isinstance(encoder, nn.Module)
        parameters = list(self.head_.parameters()) + (list(encoder.parameters()) if finetune else [])  # type: ignore[union-attr]
        optimizer = torch.optim.Adam(parameters, lr=self.lr, weight_decay=self.weight_decay)
        was_training = isinstance(encoder, nn.Module) and encoder.training
        if isinstance(encoder, nn.Module):
            encoder.train(finetune)
        self.history_: list[dict[str, float | int | str]] = []
        self.best_head_ = 0
        try:
            self._clustering_step(data, optimizer, augment, generator, finetune)
            self._self_label_step(data, optimizer, augment, generator, finetune)
        finally:
            if isinstance(encoder, nn.Module):
                encoder.train(was_training)
        self.head_.eval()
        self.labels_ = self.predict(data)
        return self

    def _clustering_step(
        self,
        data: Tensor,
        optimizer: torch.optim.Optimizer,
        augment: Callable[[Tensor], Tensor] | None,
        generator: torch.Generator,
        finetune: bool,
    ) -> None:
        n, k = data.shape[0], self.neighbors_.shape[1]
        for epoch in range(self.epochs):
            sums = torch.zeros(3, self.num_heads, dtype=torch.float64)  # (total, consistency, entropy) x heads
            seen = 0
            for anchors in _batches(torch.randperm(n, generator=generator), self.batch_size):
                pick = torch.randint(k, (anchors.shape[0],), generator=generator)  # one neighbour per anchor
                neighbors = self.neighbors_[anchors, pick]  # (b,)
                anchor_x, neighbor_x = data[anchors].to(self._device), data[neighbors].to(self._device)
                if augment is not None:
                    anchor_x, neighbor_x = augment(anchor_x), augment(neighbor_x)
                anchor_logits = self.head_(self._embed(anchor_x, grad=finetune))  # (H, b, K)
                neighbor_logits = self.head_(self._embed(neighbor_x, grad=finetune))  # (H, b, K)
                loss = scan_loss(anchor_logits, neighbor_logits, entropy_weight=self.entropy_weight)
                optimizer.zero_grad(set_to_none=True)
                loss.total.sum().backward()  # heads are independent: the sum trains each on its own loss
                optimizer.step()
                sums += torch.stack([t.detach().double().cpu() for t in loss]) * anchors.shape[0]
                seen += anchors.shape[0]
            means = sums / seen  # (3, H)
            self.best_head_ = int(means[0].argmin())
            record: dict[str, float | int | str] = {
                "stage": "scan",
                "epoch": epoch,
                "total": float(means[0, self.best_head_]),
                "consistency": float(means[1, self.best_head_]),
                "entropy": float(means[2, self.best_head_]),
                "best_head": self.best_head_,
            }
            self.history_.append(record)
            if self.verbose:
                print(
                    f"SCAN epoch {epoch + 1}/{self.epochs}: "
                    + ", ".join(f"{key}={value:.4f}" for key, value in record.items() if isinstance(value, float))
                )

    def _self_label_step(
        self,
        data: Tensor,
        optimizer: torch.optim.Optimizer,
        augment: Callable[[Tensor], Tensor] | None,
        generator: torch.Generator,
        finetune: bool,
    ) -> None:
        n, head = data.shape[0], self.best_head_
        for epoch in range(self.self_label_epochs):
            loss_sum, confident, used = 0.0, 0, 0
            for indices in _batches(torch.randperm(n, generator=generator), self.batch_size):
                batch = data[indices].to(self._device)
                with torch.no_grad():
                    probs = F.softmax(self.head_(self._embed(batch, grad=False))[head], dim=-1)  # (b, K)
                top, targets = probs.max(dim=-1)
                mask = top > self.confidence_threshold  # (b,)
                count = int(mask.sum())
                confident += count
                if count == 0:
                    continue
                strong = augment(batch) if augment is not None else batch
                logits = self.head_(self._embed(strong, grad=finetune))[head]  # (b, K)
                counts = torch.bincount(targets[mask], minlength=self.num_clusters).to(logits.dtype)  # (K,)
                weight = torch.where(counts > 0, 1.0 / counts.clamp_min(1), torch.zeros_like(counts))
                loss = F.cross_entropy(logits[mask], targets[mask], weight=weight)  # class-balanced mean
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * count
                used += count
            record: dict[str, float | int | str] = {
                "stage": "self_label",
                "epoch": epoch,
                "loss": loss_sum / used if used else float("nan"),
                "confident_fraction": confident / n,
            }
            self.history_.append(record)
            if self.verbose:
                print(
                    f"self-label epoch {epoch + 1}/{self.self_label_epochs}: "
                    f"loss={record['loss']:.4f}, confident={record['confident_fraction']:.3f}"
                )

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_"):
            raise RuntimeError("this SCAN instance is not fitted yet; call fit(X) first")

    def predict_proba(self, X: Any) -> Tensor:
        """Cluster probabilities ``(N, K)`` (on the CPU) from the selected head.

        Args:
            X: images ``(N, C, H, W)`` if ``fit`` got an encoder, else features ``(N, D)``.
        """
        self._check_fitted()
        data = self._check_input(X, self.encoder_)
        features = self._embed_all(data)
        if features.shape[1] != self.head_.in_features:
            raise ValueError(
                f"X gives {features.shape[1]}-dimensional features, but the head was fitted on {self.head_.in_features}"
            )
        with torch.no_grad():
            chunks = [F.softmax(self.head_(chunk)[self.best_head_], dim=-1) for chunk in features.split(4096)]
        return torch.cat(chunks).cpu()

    def predict(self, X: Any) -> Tensor:
        """The most probable cluster ``(N,)`` (``int64``, on the CPU) of each input."""
        return self.predict_proba(X).argmax(dim=-1)

    def fit_predict(self, X: Any, encoder: Callable[[Tensor], Any] | None = None) -> Tensor:
        """``fit(X, encoder)`` then return ``labels_``."""
        return self.fit(X, encoder).labels_


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


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
