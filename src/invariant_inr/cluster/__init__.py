r"""Clustering of semantic representations: k-means, agglomerative, and SCAN.

This package is the entry point; each idea lives in its own private module (import from here):
``_kmeans``, ``_agglomerative``, ``_dispatch`` (:func:`cluster`), ``_neighbors`` (neighbour
mining), ``_scan_loss``, ``_scan_head``, ``_scan_augment`` ("R + T"), ``_scan`` (the trainer),
``_export`` (writing results), ``_whiten`` (PCA whitening before clustering), ``_normalize``
(centring and unit length before clustering) and ``_inputs``
(shared input checks).

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

:func:`whiten` (or :class:`PCAWhitening`, fitted on one set and applied to another) gives every
principal direction unit variance before k-means or Ward, which helped the codes of the paper's
``"cos"`` loss; :func:`l2_normalize` (or :class:`CenteredL2Normalization`) centres the codes and
scales each to unit length, the cosine geometry of the ``"infonce"`` loss, which helped its codes.
:func:`cluster` dispatches by name (``whiten=True`` or ``normalize=True`` prepares the features first); :func:`save_assignments` and :func:`save_embeddings` write the
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

from ._agglomerative import agglomerative
from ._dispatch import cluster
from ._export import save_assignments, save_embeddings
from ._kmeans import KMeansResult, kmeans
from ._neighbors import mine_neighbors
from ._normalize import CenteredL2Normalization, l2_normalize
from ._scan import SCAN
from ._scan_augment import TWO_PI, random_rotate_translate
from ._scan_head import ClusteringHead
from ._scan_loss import ScanLoss, scan_loss
from ._whiten import PCAWhitening, whiten

__all__ = [
    "CenteredL2Normalization",
    "ClusteringHead",
    "KMeansResult",
    "PCAWhitening",
    "SCAN",
    "ScanLoss",
    "agglomerative",
    "cluster",
    "kmeans",
    "l2_normalize",
    "mine_neighbors",
    "random_rotate_translate",
    "save_assignments",
    "save_embeddings",
    "scan_loss",
    "whiten",
]
