"""Input checks shared by the clustering methods: features ``(N, D)`` and the number of clusters."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import _checks


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
