"""The linear clustering head(s) SCAN trains: features ``(B, D)`` to logits ``(H, B, K)``."""

from __future__ import annotations

from torch import Tensor, nn

from .. import _checks

__all__ = ["ClusteringHead"]


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
