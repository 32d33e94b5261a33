"""The clustering head(s) SCAN trains: features ``(B, D)`` to logits ``(H, B, K)``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import _checks

__all__ = ["ClusteringHead"]


class ClusteringHead(nn.Module):
    """Clustering head(s): features ``(B, D)`` to logits ``(H, B, K)``.

    The ``H`` heads are independent linear maps, stored as one ``nn.Linear(D, H * K)`` so they run
    as a single matmul. With ``hidden`` set, each head is instead a two-layer MLP
    ``D -> hidden -> K`` (ReLU): its first layers are one ``nn.Linear(D, H * hidden)`` and its
    second ``H`` independent ``(hidden, K)`` maps applied in one batched product. A linear head
    can only cut the feature space by hyperplanes; the MLP gives a frozen encoder's features the
    non-linear boundaries that fine-tuning the encoder would otherwise have to make.
    Initialisation is PyTorch's default for ``nn.Linear`` (the second layer's too); SCAN trains
    several heads from different random starts and keeps the one with the lowest loss.

    Args:
        in_features: ``D``.
        num_clusters: ``K``.
        num_heads: ``H``.
        hidden: width of each head's hidden layer, or ``None`` for linear heads.

    Example:
        >>> import torch
        >>> head = ClusteringHead(16, 10, num_heads=3)
        >>> head(torch.randn(5, 16)).shape
        torch.Size([3, 5, 10])
    """

    def __init__(self, in_features: int, num_clusters: int, *, num_heads: int = 1, hidden: int | None = None) -> None:
        super().__init__()
        self.in_features = _checks.check_positive_int(in_features, "in_features")
        self.num_clusters = _checks.check_positive_int(num_clusters, "num_clusters")
        self.num_heads = _checks.check_positive_int(num_heads, "num_heads")
        self.hidden = None if hidden is None else _checks.check_positive_int(hidden, "hidden")
        if self.hidden is None:
            self.linear = nn.Linear(in_features, num_heads * num_clusters)
        else:
            self.linear = nn.Linear(in_features, num_heads * self.hidden)
            bound = 1.0 / math.sqrt(self.hidden)  # nn.Linear's default for fan-in `hidden`
            self.out_weight = nn.Parameter(torch.empty(num_heads, self.hidden, num_clusters).uniform_(-bound, bound))
            self.out_bias = nn.Parameter(torch.empty(num_heads, 1, num_clusters).uniform_(-bound, bound))

    def forward(self, features: Tensor) -> Tensor:
        _checks.check_floating(features, "features")
        if features.ndim != 2 or features.shape[1] != self.in_features:
            raise ValueError(f"features must have shape (B, {self.in_features}), got {tuple(features.shape)}")
        if self.hidden is None:
            logits = self.linear(features)  # (B, H * K)
            return logits.view(features.shape[0], self.num_heads, self.num_clusters).transpose(0, 1)  # (H, B, K)
        hidden = torch.relu(self.linear(features)).view(features.shape[0], self.num_heads, self.hidden)  # (B, H, J)
        return torch.baddbmm(self.out_bias, hidden.transpose(0, 1), self.out_weight)  # (H, B, K)

    def extra_repr(self) -> str:
        text = f"in_features={self.in_features}, num_clusters={self.num_clusters}, num_heads={self.num_heads}"
        return text if self.hidden is None else f"{text}, hidden={self.hidden}"
