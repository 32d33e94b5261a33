"""The SCAN clustering loss: neighbour consistency minus the entropy of the mean prediction."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import _checks

__all__ = ["ScanLoss", "scan_loss"]


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


def _self_label_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """SCAN's self-labelling loss: cross-entropy on pseudo-labels, each class weighted by ``1 / its count``.

    The weights make every class present in the batch count equally (the SCAN paper's class-balanced
    cross-entropy), so the classes that are confident most often do not take over the clusters.

    Args:
        logits: ``(b, K)``, the predictions on the strongly augmented views of the confident samples.
        targets: ``(b,)`` pseudo-labels in ``[0, K)``.

    Returns:
        The weighted mean, a scalar.
    """
    counts = torch.bincount(targets, minlength=logits.shape[-1]).to(logits.dtype)  # (K,)
    weight = torch.where(counts > 0, 1.0 / counts.clamp_min(1), torch.zeros_like(counts))
    return F.cross_entropy(logits, targets, weight=weight)  # class-balanced mean
