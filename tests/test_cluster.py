"""Tests for invariant_inr.cluster: k-means, agglomerative, neighbour mining, the SCAN loss and SCAN itself."""

from __future__ import annotations

import csv
import math
import sys
import time
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

from invariant_inr import cluster as cl
from invariant_inr.center import center_of_mass
from invariant_inr.metrics import clustering_accuracy
from invariant_inr.se2 import grid_spacing, transform_images


def _blobs(seed: int = 0, per_blob: int = 100, dim: int = 8, spread: float = 1.0, separation: float = 4.0):
    """Three Gaussian blobs; returns features (3 * per_blob, dim) and their labels."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, dim, generator=gen)
    centres = centres / centres.norm(dim=1, keepdim=True) * separation * 2
    labels = torch.arange(3).repeat_interleave(per_blob)
    return centres[labels] + spread * torch.randn(3 * per_blob, dim, generator=gen), labels


# ---------------------------------------------------------------- k-means / agglomerative


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_recovers_blobs(seed: int) -> None:
    features, labels = _blobs(seed)
    result = cl.kmeans(features, 3, seed=seed)
    assert result.assignments.shape == (300,) and result.assignments.dtype == torch.int64
    assert result.centroids.shape == (3, 8)
    assert clustering_accuracy(labels, result.assignments) > 0.95
    # inertia is the sum of squared distances to the returned centroids
    recomputed = (features - result.centroids[result.assignments]).square().sum()
    assert result.inertia == pytest.approx(float(recomputed), rel=1e-4)
    # each sample sits with its nearest centroid
    assert torch.equal(torch.cdist(features, result.centroids).argmin(dim=1), result.assignments)


def test_kmeans_inertia_close_to_sklearn() -> None:
    sk_cluster = pytest.importorskip("sklearn.cluster")
    gen = torch.Generator().manual_seed(5)
    features = torch.randn(200, 4, generator=gen, dtype=torch.float64)  # no structure: a harder optimisation
    ours = cl.kmeans(features, 5, num_init=4, seed=0).inertia
    theirs = sk_cluster.KMeans(5, n_init=4, random_state=0).fit(features.numpy()).inertia_
    assert ours <= theirs * 1.02


def test_kmeans_is_reproducible_and_handles_edge_cases() -> None:
    features, _ = _blobs(1, per_blob=20)
    first, second = cl.kmeans(features, 4, seed=3), cl.kmeans(features, 4, seed=3)
    assert torch.equal(first.assignments, second.assignments)
    assert cl.kmeans(features, 60).inertia == pytest.approx(0.0, abs=1e-6)  # K = N
    one = cl.kmeans(features, 1)
    assert torch.allclose(one.centroids[0], features.mean(dim=0), atol=1e-5)
    duplicates = torch.zeros(6, 2)  # fewer distinct points than clusters: no NaN
    result = cl.kmeans(duplicates, 3, num_init=2)
    assert torch.isfinite(result.centroids).all() and result.inertia == 0.0
    numpy_result = cl.kmeans(features.numpy().astype(np.float64), 3, num_init=1)
    assert numpy_result.centroids.dtype == torch.float64


@pytest.mark.parametrize("linkage", ["ward", "average"])
def test_agglomerative_recovers_blobs(linkage: str) -> None:
    sk_cluster = pytest.importorskip("sklearn.cluster")
    features, labels = _blobs(4)
    assignments = cl.agglomerative(features, 3, linkage=linkage)  # type: ignore[arg-type]
    assert assignments.shape == (300,) and assignments.dtype == torch.int64
    assert clustering_accuracy(labels, assignments) > 0.95
    direct = sk_cluster.AgglomerativeClustering(n_clusters=3, linkage=linkage).fit_predict(features.double().numpy())
    assert clustering_accuracy(direct, assignments) == 1.0
    assert torch.equal(cl.agglomerative(features, 1), torch.zeros(300, dtype=torch.int64))


def test_agglomerative_without_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"invariant-inr\[cluster\]"):
        cl.agglomerative(torch.randn(5, 2), 2)


def test_cluster_dispatch() -> None:
    features, labels = _blobs(2, per_blob=30)
    assert clustering_accuracy(labels, cl.cluster(features, "kmeans", num_clusters=3)) > 0.95
    assert clustering_accuracy(labels, cl.cluster(features, "agglomerative", num_clusters=3)) > 0.95
    with pytest.raises(ValueError, match="method"):
        cl.cluster(features, "dbscan", num_clusters=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("function", [cl.kmeans, cl.agglomerative])
def test_clustering_input_errors(function) -> None:
    features = torch.randn(10, 3)
    with pytest.raises(ValueError, match="num_clusters"):
        function(features, 0)
    with pytest.raises(ValueError, match="num_clusters"):
        function(features, 11)
    with pytest.raises(TypeError, match="num_clusters"):
        function(features, 2.0)
    bad = features.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        function(bad, 2)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        function(torch.randn(2, 1, 4, 4), 2)
    with pytest.raises(TypeError):
        function("features", 2)


# ---------------------------------------------------------------- neighbours


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_mine_neighbors_matches_brute_force(metric: str) -> None:
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(53, 6, generator=gen, dtype=torch.float64)
    if metric == "cosine":
        normed = features / features.norm(dim=1, keepdim=True)
        distance = -(normed @ normed.T)
    else:
        distance = torch.cdist(features, features)
    distance.fill_diagonal_(math.inf)
    expected = distance.argsort(dim=1)[:, :5]
    for batch_size in (7, 53, 1000):
        neighbors = cl.mine_neighbors(features, 5, metric=metric, batch_size=batch_size)  # type: ignore[arg-type]
        assert neighbors.shape == (53, 5) and neighbors.dtype == torch.int64
        assert torch.equal(neighbors, expected)
        assert not bool((neighbors == torch.arange(53).unsqueeze(1)).any())


def test_mine_neighbors_errors() -> None:
    features = torch.randn(5, 3)
    for k in (0, 5):
        with pytest.raises(ValueError, match="N - 1"):
            cl.mine_neighbors(features, k)
    with pytest.raises(ValueError, match="metric"):
        cl.mine_neighbors(features, 2, metric="l7")  # type: ignore[arg-type]
    features[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        cl.mine_neighbors(features, 2)


# ---------------------------------------------------------------- SCAN loss and head


def test_scan_loss_hand_computed() -> None:
    anchors = torch.tensor([[0.8, 0.2], [0.2, 0.8]], dtype=torch.float64).log()
    neighbors = torch.tensor([[0.6, 0.4], [0.5, 0.5]], dtype=torch.float64).log()
    loss = cl.scan_loss(anchors, neighbors, entropy_weight=2.0)
    consistency = -(math.log(0.8 * 0.6 + 0.2 * 0.4) + math.log(0.5)) / 2
    assert float(loss.consistency) == pytest.approx(consistency, abs=1e-12)
    assert float(loss.entropy) == pytest.approx(math.log(2), abs=1e-12)  # mean prediction (0.5, 0.5)
    assert float(loss.total) == pytest.approx(consistency - 2.0 * math.log(2), abs=1e-12)

    uniform = cl.scan_loss(torch.zeros(5, 4), torch.zeros(5, 4))
    assert float(uniform.consistency) == pytest.approx(math.log(4), abs=1e-6)
    assert float(uniform.entropy) == pytest.approx(math.log(4), abs=1e-6)
    assert float(uniform.total) == pytest.approx(math.log(4) - 5.0 * math.log(4), abs=1e-5)

    collapsed = cl.scan_loss(torch.tensor([[50.0, 0.0, 0.0]] * 3), torch.tensor([[50.0, 0.0, 0.0]] * 3))
    assert float(collapsed.consistency) == pytest.approx(0.0, abs=1e-6)
    assert float(collapsed.entropy) == pytest.approx(0.0, abs=1e-6)


def test_self_label_loss_weighs_every_present_class_equally() -> None:
    from invariant_inr.cluster._scan_loss import _self_label_loss

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 4, generator=generator, dtype=torch.float64)
    targets = torch.tensor([0, 0, 0, 0, 0, 2, 2])  # class 0 five times, class 2 twice, classes 1 and 3 absent
    per_sample = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    expected = (per_sample[:5].mean() + per_sample[5:].mean()) / 2  # the mean over the classes present
    assert float(_self_label_loss(logits, targets)) == pytest.approx(float(expected), abs=1e-12)
    assert float(_self_label_loss(logits, targets)) != pytest.approx(float(per_sample.mean()), abs=1e-6)


def test_scan_loss_gradients_flow_and_stay_finite() -> None:
    gen = torch.Generator().manual_seed(0)
    anchors = (torch.randn(8, 5, generator=gen, dtype=torch.float64) * 1e3).requires_grad_()  # saturated softmax
    neighbors = (torch.randn(8, 5, generator=gen, dtype=torch.float64) * 1e3).requires_grad_()
    loss = cl.scan_loss(anchors, neighbors)
    assert all(bool(torch.isfinite(term)) for term in loss)
    loss.total.backward()
    for grad in (anchors.grad, neighbors.grad):
        assert grad is not None and bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0
    small_a = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    small_n = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, n: cl.scan_loss(a, n).total, (small_a, small_n))


def test_scan_loss_per_head_and_errors() -> None:
    gen = torch.Generator().manual_seed(1)
    anchors, neighbors = torch.randn(3, 6, 4, generator=gen), torch.randn(3, 6, 4, generator=gen)
    per_head = cl.scan_loss(anchors, neighbors)
    assert per_head.total.shape == (3,)
    for h in range(3):
        single = cl.scan_loss(anchors[h], neighbors[h])
        assert torch.allclose(per_head.total[h], single.total) and torch.allclose(per_head.entropy[h], single.entropy)
    with pytest.raises(ValueError, match="same shape"):
        cl.scan_loss(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        cl.scan_loss(torch.randn(4), torch.randn(4))
    with pytest.raises(TypeError):
        cl.scan_loss(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="entropy_weight"):
        cl.scan_loss(torch.randn(4, 3), torch.randn(4, 3), entropy_weight=-1.0)


def test_clustering_head_heads_are_independent_linear_maps() -> None:
    head = cl.ClusteringHead(6, 4, num_heads=3)
    features = torch.randn(5, 6)
    logits = head(features)
    assert logits.shape == (3, 5, 4)
    weight, bias = head.linear.weight.view(3, 4, 6), head.linear.bias.view(3, 4)
    for h in range(3):
        assert torch.allclose(logits[h], features @ weight[h].T + bias[h], atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        head(torch.randn(5, 7))


def test_clustering_head_hidden_heads_are_independent_mlps() -> None:
    # float64: the batched head must equal H separate Linear -> ReLU -> Linear maps to rounding
    head = cl.ClusteringHead(6, 4, num_heads=3, hidden=5).double()
    features = torch.randn(7, 6, dtype=torch.float64)
    logits = head(features)
    assert logits.shape == (3, 7, 4)
    first_w, first_b = head.linear.weight.view(3, 5, 6), head.linear.bias.view(3, 5)
    for h in range(3):
        hidden = torch.relu(features @ first_w[h].T + first_b[h])  # (7, 5)
        reference = hidden @ head.out_weight[h] + head.out_bias[h]  # (7, 4)
        assert torch.allclose(logits[h], reference, rtol=0, atol=1e-12)
    # the heads do not share parameters: changing head 1 leaves heads 0 and 2 as they were
    with torch.no_grad():
        head.out_weight[1] += 1.0
    moved = head(features)
    assert torch.equal(moved[0], logits[0]) and torch.equal(moved[2], logits[2])
    assert not torch.allclose(moved[1], logits[1])
    assert "hidden=5" in repr(head)
    with pytest.raises(ValueError, match="hidden"):
        cl.ClusteringHead(6, 4, hidden=0)


def test_scan_with_hidden_head_separates_a_non_linear_structure() -> None:
    # XOR: four blobs, the diagonal pairs are one class each, and each sample's given neighbours are
    # of its class (from both of its blobs). No line puts the diagonal blobs together (a linear head
    # reaches at most 75 %); an MLP head does
    g = torch.Generator().manual_seed(0)
    corners = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    blob = torch.arange(200) % 4
    features = corners[blob] + 0.1 * torch.randn(200, 2, generator=g)
    labels = blob // 2
    neighbors = torch.stack([
        torch.nonzero((labels == labels[i]) & (torch.arange(200) != i)).flatten()[torch.randperm(99, generator=g)[:6]]
        for i in range(200)
    ])
    options = dict(epochs=100, self_label_epochs=0, lr=2e-2, batch_size=100)
    mlp = cl.SCAN(2, head_hidden=32, **options).fit_predict(features, neighbors=neighbors)
    linear = cl.SCAN(2, **options).fit_predict(features, neighbors=neighbors)
    assert clustering_accuracy(labels, mlp) > 0.95
    assert clustering_accuracy(labels, linear) <= 0.8
    assert "head_hidden=32" in repr(cl.SCAN(2, head_hidden=32))


# ---------------------------------------------------------------- augmentation


def test_random_rotate_translate_is_rotate_then_translate() -> None:
    size = 33
    images = torch.zeros(64, 1, size, size, dtype=torch.float64)
    images[:, 0, 15:18, 15:18] = 1.0  # a centred square: rotation leaves its centre of mass at 0
    gen = torch.Generator().manual_seed(0)
    moved, theta, tau = cl.random_rotate_translate(images, 0.07, generator=gen, return_pose=True)
    assert torch.equal(moved, transform_images(images, theta, tau))
    cos, sin = torch.cos(theta), torch.sin(theta)
    shift = torch.stack([cos * tau[:, 0] - sin * tau[:, 1], sin * tau[:, 0] + cos * tau[:, 1]], dim=-1)  # R_theta tau
    limit = 0.07 * size * grid_spacing(size, size)
    assert bool((shift.abs() <= limit + 1e-12).all())
    assert float(shift.abs().max()) > 0.5 * limit  # the range is actually used
    assert torch.allclose(center_of_mass(moved), shift, atol=2e-3)  # the square moved by t
    assert float(theta.min()) >= 0 and float(theta.max()) < 2 * math.pi and float(theta.std()) > 1.0
    again = cl.random_rotate_translate(images, 0.07, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, moved)
    same = cl.random_rotate_translate(images, 0.0, generator=torch.Generator().manual_seed(1), return_pose=True)
    assert torch.equal(same[2], torch.zeros_like(same[2]))


# ---------------------------------------------------------------- SCAN


def test_scan_on_features_reaches_high_accuracy_quickly() -> None:
    features, labels = _blobs(0)
    torch.optim.Adam(
        [nn.Parameter(torch.zeros(1))]
    )  # the first optimizer imports torch._dynamo (seconds): not SCAN's cost
    start = time.process_time()  # CPU time of this process: robust to other jobs sharing the machine
    scan = cl.SCAN(3, num_neighbors=10, epochs=15, self_label_epochs=3, lr=3e-2, batch_size=150, num_heads=2, seed=0)
    predicted = scan.fit_predict(features)
    elapsed = time.process_time() - start
    assert elapsed < 10.0
    assert predicted.shape == (300,) and torch.equal(predicted, scan.labels_)
    assert clustering_accuracy(labels, predicted) > 0.95
    assert [r["stage"] for r in scan.history_] == ["scan"] * 15 + ["self_label"] * 3
    scan_losses = [r["total"] for r in scan.history_ if r["stage"] == "scan"]
    assert scan_losses[-1] < scan_losses[0]
    assert scan.neighbors_.shape == (300, 10)
    assert torch.equal(scan.predict(features), predicted)
    proba = scan.predict_proba(features)
    assert proba.shape == (300, 3) and torch.allclose(proba.sum(dim=1), torch.ones(300), atol=1e-5)
    with pytest.raises(ValueError, match="8-dimensional|fitted on"):
        scan.predict(torch.randn(4, 5))


def test_scan_over_clustering() -> None:
    features, labels = _blobs(1)
    scan = cl.SCAN(6, num_neighbors=10, epochs=15, self_label_epochs=2, lr=3e-2, batch_size=150, seed=0)
    predicted = scan.fit_predict(features)
    assert int(predicted.max()) < 6 and len(set(predicted.tolist())) > 3
    assert clustering_accuracy(labels, predicted, mapping="majority") > 0.95


class _TinyEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 6)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class _Encoded(NamedTuple):
    z: torch.Tensor
    theta: torch.Tensor


@pytest.mark.parametrize("finetune", [False, True])
def test_scan_with_encoder_and_augmentation(finetune: bool) -> None:
    torch.manual_seed(0)
    encoder = _TinyEncoder()
    images = torch.rand(24, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    before = [p.detach().clone() for p in encoder.parameters()]
    scan = cl.SCAN(
        3,
        num_neighbors=4,
        epochs=1,
        self_label_epochs=1,
        confidence_threshold=0.2,
        lr=1e-2,
        batch_size=8,
        finetune_encoder=finetune,
    )
    labels = scan.fit_predict(images, encoder)
    assert labels.shape == (24,) and labels.dtype == torch.int64 and int(labels.max()) < 3
    assert [r["stage"] for r in scan.history_] == ["scan", "self_label"]
    assert scan.history_[1]["confident_fraction"] > 0  # the self-labelling step actually trained
    changed = any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    assert changed is finetune
    assert encoder.training  # mode restored
    assert scan.predict(images).shape == (24,)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        scan.predict(torch.rand(24, 6))


def test_scan_encoder_lr_sets_the_encoder_step() -> None:
    # one batch, one Adam step: each parameter moves by at most its learning rate (Adam's first step is
    # lr * g / (|g| + eps)), so the encoder moves by about encoder_lr and the head by about lr
    torch.manual_seed(0)
    encoder = _TinyEncoder()
    images = torch.rand(24, 1, 10, 10, generator=torch.Generator().manual_seed(1))
    before = [p.detach().clone() for p in encoder.parameters()]
    scan = cl.SCAN(3, num_neighbors=4, epochs=1, self_label_epochs=0, lr=1e-2, encoder_lr=1e-5, weight_decay=0.0,
                   batch_size=24, finetune_encoder=True)
    scan.fit(images, encoder)
    moved = max(float((a - b.detach()).abs().max()) for a, b in zip(before, encoder.parameters()))
    assert 0.5e-5 < moved <= 1e-5 * 1.01  # float32 rounding of weights of size ~0.1
    assert "encoder_lr=1e-05" in repr(scan)
    with pytest.raises(ValueError, match="encoder_lr"):
        cl.SCAN(3, encoder_lr=0.0)


def test_scan_given_neighbors_are_used_instead_of_mined_ones() -> None:
    # random features (60 points in 64 dimensions: any labelling is linearly separable, but their
    # mined neighbours carry no class): given same-class neighbours, SCAN recovers the classes
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 2
    features = torch.randn(60, 64, generator=g)
    same = [torch.nonzero(labels == labels[i]).flatten() for i in range(60)]
    neighbors = torch.stack([row[row != i][:5] for i, row in enumerate(same)])  # (60, 5), same class
    options = dict(epochs=60, self_label_epochs=0, lr=5e-2, batch_size=60)
    scan = cl.SCAN(2, **options)
    predicted = scan.fit_predict(features, neighbors=neighbors)
    assert torch.equal(scan.neighbors_, neighbors)
    assert clustering_accuracy(labels, predicted) == 1.0
    mined = cl.SCAN(2, num_neighbors=5, **options).fit_predict(features)
    assert clustering_accuracy(labels, mined) < 0.8


@pytest.mark.parametrize(
    ("neighbors", "error", "match"),
    [
        (torch.zeros(10, 3), TypeError, "integer tensor"),
        (torch.ones(9, 3, dtype=torch.long), ValueError, r"shape \(N, k\)"),
        (torch.ones(10, dtype=torch.long), ValueError, r"shape \(N, k\)"),
        (torch.full((10, 2), 10, dtype=torch.long), ValueError, "indices in"),
        (torch.arange(10)[:, None].repeat(1, 2), ValueError, "own neighbour"),
        ([[1, 2]] * 10, TypeError, "torch.Tensor"),
    ],
)
def test_scan_bad_neighbors(neighbors: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.SCAN(2, epochs=1, self_label_epochs=0, batch_size=10).fit(torch.rand(10, 3), neighbors=neighbors)


def test_scan_with_callable_encoder_returning_named_tuple() -> None:
    torch.manual_seed(0)
    module = _TinyEncoder()
    calls: list[int] = []

    def augment(images: torch.Tensor) -> torch.Tensor:
        calls.append(images.shape[0])
        return images.flip(-1)

    def encoder(images: torch.Tensor) -> _Encoded:
        return _Encoded(z=module(images), theta=torch.zeros(images.shape[0]))

    scan = cl.SCAN(2, num_neighbors=3, epochs=1, self_label_epochs=0, batch_size=10, augment=augment)
    labels = scan.fit_predict(torch.rand(20, 1, 8, 8), encoder)
    assert labels.shape == (20,)
    assert calls == [10, 10, 10, 10]  # anchors and neighbours of two batches


def test_scan_input_errors() -> None:
    features = torch.randn(10, 3)
    with pytest.raises(ValueError, match="num_clusters"):
        cl.SCAN(0)
    with pytest.raises(ValueError, match="num_clusters"):
        cl.SCAN(11, num_neighbors=2).fit(features)
    with pytest.raises(ValueError, match="num_neighbors"):
        cl.SCAN(2, num_neighbors=10).fit(features)
    with pytest.raises(ValueError, match="confidence_threshold"):
        cl.SCAN(2, confidence_threshold=1.0)
    bad = features.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        cl.SCAN(2, num_neighbors=2).fit(bad)
    with pytest.raises(ValueError, match="encoder"):
        cl.SCAN(2, num_neighbors=2).fit(torch.rand(10, 1, 8, 8))  # images need an encoder
    with pytest.raises(TypeError, match="encoder"):
        cl.SCAN(2, num_neighbors=2).fit(torch.rand(10, 1, 8, 8), encoder="resnet")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        cl.SCAN(2, num_neighbors=2, epochs=1).fit(
            torch.rand(10, 1, 8, 8), lambda x: torch.full((x.shape[0], 3), float("nan"))
        )
    with pytest.raises(RuntimeError, match="fit"):
        cl.SCAN(2).predict(features)


# ---------------------------------------------------------------- export


def test_save_assignments_and_embeddings(tmp_path) -> None:
    path = cl.save_assignments(tmp_path / "out" / "clusters.csv", torch.tensor([2, 0, 1]))
    with path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows == [["index", "cluster"], ["0", "2"], ["1", "0"], ["2", "1"]]
    with pytest.raises(ValueError, match="index"):
        cl.save_assignments(tmp_path / "x.csv", [0, 1], index=["a"])
    with pytest.raises(TypeError, match="integers"):
        cl.save_assignments(tmp_path / "x.csv", np.array([0.5, 1.0]))

    embeddings = torch.randn(4, 3)
    assert np.array_equal(np.load(cl.save_embeddings(tmp_path / "z.npy", embeddings)), embeddings.numpy())
    loaded = torch.load(cl.save_embeddings(tmp_path / "nested" / "z.pt", embeddings), weights_only=True)
    assert torch.equal(loaded, embeddings)
    with pytest.raises(ValueError, match=".npy or .pt"):
        cl.save_embeddings(tmp_path / "z.txt", embeddings)


# ----------------------------------------------------------------------------- whitening
def test_whitening_gives_unit_covariance_and_applies_to_new_features():
    from invariant_inr.cluster import PCAWhitening, whiten

    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(5, 5, generator=g, dtype=torch.float64)
    train = torch.randn(400, 5, generator=g, dtype=torch.float64) @ mixing + 3.0
    white = whiten(train)
    torch.testing.assert_close(torch.cov(white.T), torch.eye(5, dtype=torch.float64), rtol=0, atol=1e-10)
    torch.testing.assert_close(white.mean(dim=0), torch.zeros(5, dtype=torch.float64), rtol=0, atol=1e-10)
    fitted = PCAWhitening(dims=3).fit(train)
    other = torch.randn(7, 5, generator=g, dtype=torch.float64) @ mixing + 3.0
    assert fitted.transform(other).shape == (7, 3)
    torch.testing.assert_close(fitted.transform(train), white[:, :3])  # leading directions agree
    rank_two = torch.randn(50, 2, generator=g, dtype=torch.float64) @ torch.randn(2, 6, generator=g, dtype=torch.float64)
    assert whiten(rank_two).shape == (50, 2)  # directions without variance are dropped


def test_whitening_finds_classes_hidden_under_a_large_nuisance_direction():
    """Two classes 2 apart along y, a nuisance of spread 10 along x: k-means on the raw features
    splits the nuisance; whitened, the bimodal y direction is what k-means separates."""
    from invariant_inr.cluster import cluster

    g = torch.Generator().manual_seed(1)
    labels = torch.arange(600) % 2
    nuisance = 10.0 * torch.randn(600, generator=g)
    y = 2.0 * labels.float() + 0.15 * torch.randn(600, generator=g)
    features = torch.stack([nuisance, y], dim=1)
    plain = clustering_accuracy(labels, cluster(features, "kmeans", num_clusters=2, seed=0))
    white = clustering_accuracy(labels, cluster(features, "kmeans", num_clusters=2, seed=0, whiten=True))
    assert plain < 0.7 and white > 0.99


# ----------------------------------------------------------------------------- centring + unit length
def test_l2_normalization_is_exact_and_applies_the_fitted_mean():
    from invariant_inr.cluster import CenteredL2Normalization, l2_normalize

    g = torch.Generator().manual_seed(2)
    train = torch.randn(300, 6, generator=g, dtype=torch.float64) * 4.0 + 2.0
    out = l2_normalize(train)
    centred = train - train.mean(dim=0)
    torch.testing.assert_close(out, centred / centred.norm(dim=1, keepdim=True), rtol=0, atol=1e-14)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(300, dtype=torch.float64), rtol=0, atol=1e-14)
    fitted = CenteredL2Normalization().fit(train)
    other = torch.randn(5, 6, generator=g, dtype=torch.float64)
    expected = (other - train.mean(dim=0)) / (other - train.mean(dim=0)).norm(dim=1, keepdim=True)
    torch.testing.assert_close(fitted.transform(other), expected, rtol=0, atol=1e-14)  # the train mean, not other's
    torch.testing.assert_close(l2_normalize(other, center=False), torch.nn.functional.normalize(other, dim=1), rtol=0, atol=1e-14)
    # Euclidean distance on the result is a function of the cosine alone: |u - v|^2 = 2 - 2 cos
    cos = torch.nn.functional.cosine_similarity(centred[0], centred[1], dim=0)
    torch.testing.assert_close((out[0] - out[1]).square().sum(), 2 - 2 * cos, rtol=0, atol=1e-13)
    # a row at the mean has no direction: it stays zero (finite), not NaN
    at_mean = torch.cat([train[:2], train[:2].mean(dim=0, keepdim=True)])
    assert torch.equal(l2_normalize(at_mean)[2], torch.zeros(6, dtype=torch.float64))


def test_l2_normalization_finds_classes_under_a_length_nuisance():
    """Two rays 20 degrees apart, lengths spread 1-10: k-means on the raw points splits near from
    far; on unit vectors it separates the two directions."""
    from invariant_inr.cluster import cluster

    g = torch.Generator().manual_seed(3)
    labels = torch.arange(400) % 2
    angle = torch.deg2rad(torch.where(labels == 0, -10.0, 10.0)) + 0.02 * torch.randn(400, generator=g)
    length = 1.0 + 9.0 * torch.rand(400, generator=g)
    points = torch.stack([length * torch.cos(angle), length * torch.sin(angle)], dim=1)
    plain = clustering_accuracy(labels, cluster(points, "kmeans", num_clusters=2, seed=0))
    unit = clustering_accuracy(labels, cl.kmeans(cl.l2_normalize(points, center=False), 2, seed=0).assignments)
    assert plain < 0.8 and unit > 0.99
    assert torch.equal(cluster(points, "kmeans", num_clusters=2, seed=0, normalize=True),
                       cl.kmeans(cl.l2_normalize(points), 2, seed=0).assignments)


def test_l2_normalization_bad_input():
    from invariant_inr.cluster import CenteredL2Normalization, cluster

    with pytest.raises(RuntimeError, match="fit"):
        CenteredL2Normalization().transform(torch.randn(4, 3))
    with pytest.raises(ValueError, match="3 columns"):
        CenteredL2Normalization().fit(torch.randn(9, 3)).transform(torch.randn(4, 2))
    with pytest.raises(TypeError, match="center"):
        CenteredL2Normalization(center="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="normalize"):
        cluster(torch.randn(9, 3), num_clusters=2, normalize=1)
    with pytest.raises(ValueError, match="at most one"):
        cluster(torch.randn(9, 3), num_clusters=2, whiten=True, normalize=True)


def test_whitening_bad_input():
    from invariant_inr.cluster import PCAWhitening, cluster, whiten

    with pytest.raises(ValueError, match="no variance"):
        whiten(torch.ones(5, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        whiten(torch.randn(1, 3))
    with pytest.raises(RuntimeError, match="fit"):
        PCAWhitening().transform(torch.randn(4, 3))
    with pytest.raises(ValueError, match="3 columns"):
        PCAWhitening().fit(torch.randn(9, 3)).transform(torch.randn(4, 2))
    with pytest.raises(TypeError, match="whiten"):
        cluster(torch.randn(9, 3), num_clusters=2, whiten="yes")
    with pytest.raises(ValueError, match="dims"):
        PCAWhitening(dims=0)
