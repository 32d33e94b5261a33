r"""The SCAN trainer (Van Gansbeke et al., 2020): mine neighbours, train clustering heads, self-label."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _checks
from ._inputs import _as_features, _check_num_clusters
from ._neighbors import mine_neighbors
from ._scan_augment import random_rotate_translate
from ._scan_head import ClusteringHead
from ._scan_loss import _self_label_loss, scan_loss

__all__ = ["SCAN"]


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


def _check_neighbors(neighbors: Any, n: int) -> Tensor:
    """Validated ``(N, k)`` int64 neighbour indices on the CPU, as given to ``SCAN.fit``."""
    _checks.check_tensor(neighbors, "neighbors")
    if neighbors.dtype.is_floating_point or neighbors.dtype.is_complex or neighbors.dtype == torch.bool:
        raise TypeError(f"neighbors must be an integer tensor of indices, got dtype {neighbors.dtype}")
    if neighbors.dim() != 2 or neighbors.shape[0] != n or neighbors.shape[1] < 1:
        raise ValueError(f"neighbors must have shape (N, k) = ({n}, k >= 1), got {tuple(neighbors.shape)}")
    indices = neighbors.detach().to("cpu", torch.int64)
    if bool((indices < 0).any()) or bool((indices >= n).any()):
        raise ValueError(f"neighbors must be indices in [0, {n - 1}], got values in [{int(indices.min())}, {int(indices.max())}]")
    if bool((indices == torch.arange(n)[:, None]).any()):
        raise ValueError("neighbors: a sample must not be its own neighbour")
    return indices


def _batches(order: Tensor, batch_size: int) -> list[Tensor]:
    """Split a permutation into batches, dropping a last partial batch when there is a full one."""
    n = order.shape[0]
    stop = n - n % batch_size if n >= batch_size else n
    return list(order[:stop].split(batch_size)) if stop > 0 else [order]


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
        head_hidden: hidden width of each head (a two-layer MLP, see :class:`ClusteringHead`), or
            ``None`` for the linear heads of the SCAN paper.
        augment: callable ``(B, ...) -> (B, ...)`` applied to anchors and neighbours; ``None`` for
            the default (``random_rotate_translate`` on images, nothing on features).
        finetune_encoder: also train the encoder's parameters.
        encoder_lr: Adam learning rate of the encoder's parameters when fine-tuned (``None``: ``lr``).
            A head trained for seconds wants a large ``lr`` that would wreck a pretrained encoder;
            this keeps the encoder's steps small.
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
        head_hidden: int | None = None,
        augment: Callable[[Tensor], Tensor] | None = None,
        finetune_encoder: bool = False,
        encoder_lr: float | None = None,
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
        self.head_hidden = None if head_hidden is None else _checks.check_positive_int(head_hidden, "head_hidden")
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be a callable or None, got {_checks.describe(augment)}")
        self.augment = augment
        self.finetune_encoder = bool(finetune_encoder)
        self.encoder_lr = None if encoder_lr is None else _checks.check_positive_float(encoder_lr, "encoder_lr")
        self.metric = _checks.check_choice(metric, "metric", ("cosine", "euclidean"))
        self.seed = int(seed)
        self.device = device
        self.verbose = bool(verbose)

    def __repr__(self) -> str:
        return (
            f"SCAN(num_clusters={self.num_clusters}, num_neighbors={self.num_neighbors}, "
            f"entropy_weight={self.entropy_weight}, epochs={self.epochs}, self_label_epochs={self.self_label_epochs}, "
            f"lr={self.lr}, batch_size={self.batch_size}, num_heads={self.num_heads}, head_hidden={self.head_hidden}, "
            f"finetune_encoder={self.finetune_encoder}, encoder_lr={self.encoder_lr})"
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

    def fit(
        self, X: Any, encoder: Callable[[Tensor], Any] | None = None, *, neighbors: Tensor | None = None
    ) -> SCAN:
        """Mine neighbours, train the clustering head(s), then self-label.

        Args:
            X: ``(N, C, H, W)`` images when ``encoder`` is given, else ``(N, D)`` features.
            encoder: callable or ``nn.Module`` mapping ``(B, C, H, W)`` images to ``(B, D)``
                features (or to an object with a ``.z`` tensor); ``None`` for features.
            neighbors: ``(N, k)`` integer indices of each sample's neighbours, mined elsewhere
                (e.g. :func:`mine_neighbors` on canonicalised pixels, whose neighbours can be purer
                than those of the features the head is trained on); ``None`` mines
                ``num_neighbors`` from the features. A sample must not be its own neighbour.

        Returns:
            ``self``, with ``labels_``, ``history_``, ``neighbors_``, ``head_`` set.
        """
        data = self._prepare(X, encoder, mine=neighbors is None)
        generator = torch.Generator().manual_seed(self.seed)  # batches and neighbour picks
        augment = self._training_augment(encoder)
        features = self._embed_all(data)  # (N, D), un-augmented
        if neighbors is None:
            self.neighbors_ = mine_neighbors(features, self.num_neighbors, metric=self.metric)  # (N, k), CPU
        else:
            self.neighbors_ = _check_neighbors(neighbors, data.shape[0])
        self.head_ = self._new_head(features)
        finetune = self.finetune_encoder and isinstance(encoder, nn.Module)
        groups: list[dict[str, Any]] = [{"params": list(self.head_.parameters())}]
        if finetune:
            groups.append({"params": list(encoder.parameters()), "lr": self.encoder_lr or self.lr})  # type: ignore[union-attr]
        optimizer = torch.optim.Adam(groups, lr=self.lr, weight_decay=self.weight_decay)
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

    def _prepare(self, X: Any, encoder: Any, *, mine: bool) -> Tensor:
        """Check the input, remember the encoder and choose (and move to) the training device."""
        data = self._check_input(X, encoder)
        n = data.shape[0]
        _check_num_clusters(self.num_clusters, n)
        if mine and self.num_neighbors > n - 1:
            raise ValueError(f"num_neighbors must be at most N - 1 = {n - 1} for {n} samples, got {self.num_neighbors}")
        self.encoder_ = encoder
        self._device = self._resolve_device(data, encoder)
        if self.device is not None and isinstance(encoder, nn.Module):
            encoder.to(self._device)
        return data

    def _training_augment(self, encoder: Any) -> Callable[[Tensor], Tensor] | None:
        """The user's ``augment``, else "R + T" on images (own generator, seeded ``seed + 1``), else none."""
        if self.augment is not None or encoder is None:
            return self.augment
        aug_generator = torch.Generator().manual_seed(self.seed + 1)

        def augment(images: Tensor) -> Tensor:
            return random_rotate_translate(images, generator=aug_generator)  # type: ignore[return-value]

        return augment

    def _new_head(self, features: Tensor) -> ClusteringHead:
        """Fresh heads, initialised from ``seed`` without touching the global RNG, on the training device."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            head = ClusteringHead(features.shape[1], self.num_clusters, num_heads=self.num_heads, hidden=self.head_hidden)
        return head.to(device=self._device, dtype=features.dtype)

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
                loss = _self_label_loss(logits[mask], targets[mask])
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

    def fit_predict(
        self, X: Any, encoder: Callable[[Tensor], Any] | None = None, *, neighbors: Tensor | None = None
    ) -> Tensor:
        """``fit(X, encoder, neighbors=neighbors)`` then return ``labels_``."""
        return self.fit(X, encoder, neighbors=neighbors).labels_
