"""Tests for invariant_inr.metrics: clustering scores (against scikit-learn and brute force) and pose recovery."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invariant_inr import metrics
from invariant_inr.center import canonical_pose
from invariant_inr.se2 import compose, inverse, random_pose, transform_images, transform_points

sk_metrics = pytest.importorskip("sklearn.metrics")

TWO_PI = 2 * math.pi


def _random_labels(seed: int, n: int, num_classes: int, num_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, num_classes, n)
    # predictions correlated with the truth, plus noise, so scores are neither 0 nor 1
    pred = np.where(rng.random(n) < 0.6, true % num_clusters, rng.integers(0, num_clusters, n))
    return true, pred


def _brute_force_accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    """Best accuracy over every injective map from clusters to classes (small cases only)."""
    classes, clusters = np.unique(true), np.unique(pred)
    best = 0
    slots = list(classes) + [None] * max(0, len(clusters) - len(classes))
    for perm in itertools.permutations(slots, len(clusters)):
        mapping = dict(zip(clusters, perm))
        best = max(best, sum(mapping[p] == t for t, p in zip(true, pred)))
    return best / len(true)


# ---------------------------------------------------------------- clustering scores


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("num_classes", "num_clusters"), [(3, 3), (4, 7), (6, 2), (1, 3)])
def test_nmi_and_ari_match_sklearn(seed: int, num_classes: int, num_clusters: int) -> None:
    true, pred = _random_labels(seed, 200, num_classes, num_clusters)
    assert metrics.adjusted_rand_index(true, pred) == pytest.approx(
        sk_metrics.adjusted_rand_score(true, pred), abs=1e-12
    )
    for average in ("arithmetic", "geometric", "min", "max"):
        ours = metrics.normalized_mutual_info(true, pred, average=average)
        theirs = sk_metrics.normalized_mutual_info_score(true, pred, average_method=average)
        assert ours == pytest.approx(theirs, abs=1e-12)


@pytest.mark.parametrize(
    ("true", "pred"),
    [
        ([0, 0, 0, 0], [1, 1, 1, 1]),  # one group on both sides
        ([0, 1, 2, 3], [3, 2, 1, 0]),  # all singletons
        ([0, 0, 0, 0], [0, 1, 2, 3]),  # one side constant
        ([0, 0, 1, 1], [0, 1, 0, 1]),  # anti-correlated
        ([5], [7]),  # a single sample
    ],
)
def test_limit_cases_match_sklearn(true: list[int], pred: list[int]) -> None:
    assert metrics.adjusted_rand_index(true, pred) == pytest.approx(sk_metrics.adjusted_rand_score(true, pred))
    assert metrics.normalized_mutual_info(true, pred) == pytest.approx(
        sk_metrics.normalized_mutual_info_score(true, pred)
    )


def test_ari_large_n_no_overflow() -> None:
    rng = np.random.default_rng(0)
    true = rng.integers(0, 3, 200_000)
    pred = np.where(rng.random(true.shape[0]) < 0.9, true, 2 - true)
    assert metrics.adjusted_rand_index(true, pred) == pytest.approx(
        sk_metrics.adjusted_rand_score(true, pred), abs=1e-12
    )


@pytest.mark.parametrize("seed", range(8))
def test_hungarian_accuracy_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    num_classes, num_clusters = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    true, pred = _random_labels(seed, 30, num_classes, num_clusters)
    assert metrics.clustering_accuracy(true, pred) == pytest.approx(_brute_force_accuracy(true, pred))


@settings(deadline=None, max_examples=40)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), min_size=1, max_size=60),
    st.permutations(list(range(7))),
    st.permutations(list(range(5))),
)
def test_accuracy_is_invariant_to_renaming(
    pairs: list[tuple[int, int]], cluster_perm: list[int], class_perm: list[int]
) -> None:
    true = np.array([t for t, _ in pairs])
    pred = np.array([p for _, p in pairs])
    renamed_pred = np.array(cluster_perm)[pred] + 100  # also shift: ids need not start at 0
    renamed_true = np.array(class_perm)[true]
    for mapping in ("hungarian", "majority"):
        base = metrics.clustering_accuracy(true, pred, mapping=mapping)
        assert metrics.clustering_accuracy(renamed_true, renamed_pred, mapping=mapping) == pytest.approx(base)
        assert 0.0 < base <= 1.0
    assert metrics.normalized_mutual_info(renamed_true, renamed_pred) == pytest.approx(
        metrics.normalized_mutual_info(true, pred)
    )
    assert metrics.adjusted_rand_index(renamed_true, renamed_pred) == pytest.approx(
        metrics.adjusted_rand_index(true, pred)
    )
    # majority voting is never below the one-to-one matching
    assert (
        metrics.clustering_accuracy(true, pred, mapping="majority") >= metrics.clustering_accuracy(true, pred) - 1e-12
    )


def test_over_clustering_mappings() -> None:
    true = np.repeat([0, 1, 2], 10)
    pred = np.arange(30) // 5  # 6 pure clusters, two per class
    assert metrics.clustering_accuracy(true, pred, mapping="majority") == 1.0
    assert metrics.clustering_accuracy(true, pred) == pytest.approx(0.5)  # 3 of 6 clusters matched
    matched = metrics.match_clusters(true, pred)
    assert len(matched) == 3 and sorted(matched.values()) == [0, 1, 2]
    assert metrics.match_clusters(true, pred, mapping="majority") == {c: c // 2 for c in range(6)}


def test_confusion_matrix_matches_sklearn_and_sizes() -> None:
    true, pred = _random_labels(3, 100, 4, 4)
    expected = sk_metrics.confusion_matrix(true, pred, labels=[0, 1, 2, 3])
    np.testing.assert_array_equal(metrics.confusion_matrix(true, pred, num_classes=4, num_clusters=4), expected)
    wide = metrics.confusion_matrix([0, 1], [0, 5])
    assert wide.shape == (2, 6) and wide.sum() == 2 and wide[1, 5] == 1
    with pytest.raises(ValueError, match=">= 0"):
        metrics.confusion_matrix([-1, 0], [0, 0])
    with pytest.raises(ValueError, match="num_clusters"):
        metrics.confusion_matrix([0, 1], [0, 5], num_clusters=3)


def test_input_types_are_equivalent() -> None:
    true, pred = _random_labels(0, 50, 3, 3)
    reference = metrics.clustering_accuracy(true, pred)
    assert metrics.clustering_accuracy(torch.from_numpy(true), torch.from_numpy(pred)) == reference
    assert metrics.clustering_accuracy(true.tolist(), pred.tolist()) == reference
    assert metrics.clustering_accuracy(true.astype(np.float32), torch.from_numpy(pred).double()) == reference


@pytest.mark.parametrize(
    "function",
    [
        metrics.clustering_accuracy,
        metrics.normalized_mutual_info,
        metrics.adjusted_rand_index,
        metrics.confusion_matrix,
    ],
)
def test_bad_label_inputs(function) -> None:
    with pytest.raises(ValueError, match="same length"):
        function([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        function([], [])
    with pytest.raises(TypeError, match="integer"):
        function([0.0, 1.5], [0, 1])
    with pytest.raises(TypeError, match="integer"):
        function(np.array([0.0, np.nan]), [0, 1])
    with pytest.raises(TypeError, match="integer"):
        function(["a", "b"], [0, 1])
    with pytest.raises(ValueError, match="one-dimensional"):
        function(np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int))
    with pytest.raises(TypeError):
        function({0, 1}, [0, 1])


def test_bad_mapping_name() -> None:
    with pytest.raises(ValueError, match="mapping"):
        metrics.clustering_accuracy([0], [0], mapping="greedy")  # type: ignore[arg-type]


# ---------------------------------------------------------------- pose recovery


def test_relative_pose_algebra_on_points() -> None:
    gen = torch.Generator().manual_seed(0)
    g = random_pose(16, 0.3, generator=gen, dtype=torch.float64)
    p0 = random_pose(16, 0.3, generator=gen, dtype=torch.float64)
    p1 = compose(*p0, *inverse(*g))  # S_p1 o S_g = S_p0
    points = torch.randn(16, 5, 2, generator=gen, dtype=torch.float64)
    assert torch.allclose(
        transform_points(transform_points(points, *g), *p1), transform_points(points, *p0), atol=1e-12
    )
    theta, tau = metrics.relative_pose(*p0, *p1)
    assert torch.allclose(metrics.rotation_error(theta, g[0]), torch.zeros(16, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(tau, g[1], atol=1e-12)
    # the "from_canonical" convention: q = p^{-1}
    q0, q1 = inverse(*p0), inverse(*p1)
    theta_q, tau_q = metrics.relative_pose(*q0, *q1, convention="from_canonical")
    assert torch.allclose(metrics.rotation_error(theta_q, g[0]), torch.zeros(16, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(tau_q, g[1], atol=1e-12)


def test_relative_pose_recovers_an_applied_pose_on_images() -> None:
    """Canonical poses measured on real pixels (moments rule), exact moves: 90 degrees and whole pixels."""
    size = 21
    images = torch.zeros(4, 1, size, size, dtype=torch.float64)
    images[:, 0, 8:12, 9:11] = 1.0  # an asymmetric "L": a bar and a foot
    images[:, 0, 11, 11:13] = 1.0
    images[1:, 0, 9, 8] = 0.5  # variations per sample
    step = 2.0 / (size - 1)
    theta_g = torch.tensor([0.5, 1.0, 1.5, 0.0], dtype=torch.float64) * math.pi
    shift_pixels = torch.tensor([[2.0, -1.0], [0.0, 3.0], [-2.0, -2.0], [1.0, 0.0]], dtype=torch.float64)
    tau_g = shift_pixels * step
    moved = transform_images(images, theta_g, tau_g)
    assert torch.allclose(moved.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)))  # nothing left the frame
    p0 = canonical_pose(images, rule="moments")
    p1 = canonical_pose(moved, rule="moments")
    theta_hat, tau_hat = metrics.relative_pose(*p0, *p1)
    assert float(metrics.rotation_error(theta_hat, theta_g).max()) < 1e-6
    assert torch.allclose(tau_hat, tau_g, atol=1e-6)


def test_circular_correlation_properties() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(2000, generator=gen, dtype=torch.float64) * TWO_PI
    noise = torch.randn(2000, generator=gen, dtype=torch.float64) * 0.05
    for method in ("fisher_lee", "jammalamadaka"):
        assert metrics.circular_correlation(a, a, method=method) == pytest.approx(1.0, abs=1e-9)
        assert metrics.circular_correlation(a, torch.remainder(a + 2.5, TWO_PI), method=method) == pytest.approx(
            1.0, abs=1e-9
        )
        assert metrics.circular_correlation(a, torch.remainder(1.0 - a, TWO_PI), method=method) == pytest.approx(
            -1.0, abs=1e-9
        )
        assert metrics.circular_correlation(a, a + noise, method=method) > 0.95
        independent = torch.rand(2000, generator=gen, dtype=torch.float64) * TWO_PI
        assert abs(metrics.circular_correlation(a, independent, method=method)) < 0.1
    with pytest.raises(ValueError, match="constant"):
        metrics.circular_correlation([1.0, 1.0, 1.0], [0.0, 1.0, 2.0])


def test_fisher_lee_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, TWO_PI, 40)
    b = a + rng.normal(0, 0.8, 40)
    i, j = np.triu_indices(40, k=1)
    sa, sb = np.sin(a[i] - a[j]), np.sin(b[i] - b[j])
    expected = (sa * sb).sum() / np.sqrt((sa**2).sum() * (sb**2).sum())
    assert metrics.circular_correlation(a, b) == pytest.approx(expected, abs=1e-12)


def test_rotation_error_and_unwrap() -> None:
    true = torch.tensor([0.1, 6.2, 1.0, 3.0], dtype=torch.float64)
    pred = torch.tensor([0.1 + TWO_PI, 0.1, 1.0 + math.pi, 3.0 - 4 * math.pi], dtype=torch.float64)
    error = metrics.rotation_error(true, pred)
    assert torch.allclose(error, torch.tensor([0.0, TWO_PI - 6.1, math.pi, 0.0], dtype=torch.float64), atol=1e-9)
    assert bool((error >= 0).all() and (error <= math.pi + 1e-12).all())
    unwrapped = metrics.unwrap_to_nearest(pred, true)
    assert bool(((unwrapped - true).abs() <= math.pi + 1e-12).all())
    assert torch.allclose(
        torch.remainder(unwrapped - pred + 1e-9, TWO_PI), torch.full((4,), 1e-9, dtype=torch.float64), atol=1e-7
    )


def test_pose_recovery_synthetic() -> None:
    gen = torch.Generator().manual_seed(2)
    n = 3000
    theta = torch.rand(n, generator=gen, dtype=torch.float64) * TWO_PI
    tau = torch.randn(n, 2, generator=gen, dtype=torch.float64) * 0.1

    perfect = metrics.pose_recovery(theta, tau, theta, tau)
    assert perfect.rotation_circular_correlation == pytest.approx(1.0, abs=1e-9)
    assert perfect.rotation_pearson == pytest.approx(1.0, abs=1e-9)
    assert perfect.rotation_median_error_deg == pytest.approx(0.0, abs=1e-9)
    assert perfect.rotation_mean_error_deg == pytest.approx(0.0, abs=1e-9)
    assert perfect.rotation_within_5deg == 1.0
    assert perfect.translation_pearson_x == pytest.approx(1.0) and perfect.translation_pearson_y == pytest.approx(1.0)

    wrapped = metrics.pose_recovery(theta, tau, theta + TWO_PI * torch.randint(-2, 3, (n,), generator=gen), tau)
    assert wrapped.rotation_pearson == pytest.approx(1.0, abs=1e-9)  # 2*pi jumps are not errors

    offset = metrics.pose_recovery(theta, tau, torch.remainder(theta + 1.0, TWO_PI), tau)
    assert offset.rotation_circular_correlation == pytest.approx(1.0, abs=1e-9)
    assert offset.rotation_median_error_deg == pytest.approx(math.degrees(1.0))
    assert offset.rotation_within_5deg == 0.0

    random_pred = metrics.pose_recovery(
        theta,
        tau,
        torch.rand(n, generator=gen, dtype=torch.float64) * TWO_PI,
        torch.randn(n, 2, generator=gen, dtype=torch.float64),
    )
    assert abs(random_pred.rotation_circular_correlation) < 0.1
    assert abs(random_pred.translation_pearson_x) < 0.1 and abs(random_pred.translation_pearson_y) < 0.1
    assert 80.0 < random_pred.rotation_mean_error_deg < 100.0  # uniform error on [0, 180]

    noisy = metrics.pose_recovery(
        theta, tau, theta + torch.randn(n, generator=gen, dtype=torch.float64) * math.radians(2.0), tau
    )
    assert 0.9 < noisy.rotation_within_5deg < 1.0
    assert set(noisy.as_dict()) == set(metrics.PoseRecovery._fields)


def test_pose_recovery_rotation_pearson_of_uninformative_poses() -> None:
    """The documented reading aid: the unwrapped Pearson is sqrt(3)/2 for a pose that ignores the input,
    1/sqrt(2) for a random one, 1/sqrt(1 + 3 s^2 / pi^2) for a Gaussian error of s (angles uniform)."""
    gen = torch.Generator().manual_seed(11)
    n = 20000
    theta = torch.rand(n, generator=gen, dtype=torch.float64) * TWO_PI
    tau = torch.randn(n, 2, generator=gen, dtype=torch.float64) * 0.1
    near_constant = metrics.pose_recovery(theta, tau, 1e-3 * torch.randn(n, generator=gen, dtype=torch.float64), tau)
    assert near_constant.rotation_pearson == pytest.approx(math.sqrt(3) / 2, abs=0.01)
    assert abs(near_constant.rotation_circular_correlation) < 0.05 and near_constant.rotation_median_error_deg > 85.0
    uniform = metrics.pose_recovery(theta, tau, torch.rand(n, generator=gen, dtype=torch.float64) * TWO_PI, tau)
    assert uniform.rotation_pearson == pytest.approx(1 / math.sqrt(2), abs=0.015)
    s = math.radians(14.8)
    gaussian = metrics.pose_recovery(theta, tau, theta + s * torch.randn(n, generator=gen, dtype=torch.float64), tau)
    assert gaussian.rotation_pearson == pytest.approx(1 / math.sqrt(1 + 3 * s**2 / math.pi**2), abs=0.002)
    assert gaussian.rotation_pearson == pytest.approx(0.99, abs=0.002)


def test_pose_recovery_displacement_ignores_half_turn_flips() -> None:
    """A few half-turn rotation errors negate the predicted tau (S = R o T) but not S_g(0) = R tau."""
    gen = torch.Generator().manual_seed(5)
    n = 2000
    theta = torch.rand(n, generator=gen, dtype=torch.float64) * TWO_PI
    tau = torch.randn(n, 2, generator=gen, dtype=torch.float64) * 0.2
    flip = torch.zeros(n, dtype=torch.bool)
    flip[:8] = True  # 0.4 % of the samples a half turn off, as an ambiguous third moment gives
    theta_hat = torch.where(flip, theta + math.pi, theta)
    tau_hat = torch.where(flip.unsqueeze(1), -tau, tau)  # R_{theta + pi}(-tau) = R_theta tau: same displacement
    result = metrics.pose_recovery(theta, tau, theta_hat, tau_hat)
    assert result.displacement_pearson_x == pytest.approx(1.0, abs=1e-12)
    assert result.displacement_pearson_y == pytest.approx(1.0, abs=1e-12)
    assert result.translation_pearson_x < 0.995 and result.translation_pearson_y < 0.995
    # the displacement is where S_g takes the origin: against an independent computation
    theta_noisy = theta + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64)
    tau_noisy = tau + 0.05 * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    noisy = metrics.pose_recovery(theta, tau, theta_noisy, tau_noisy)
    origin = torch.zeros(n, 1, 2, dtype=torch.float64)
    moved = transform_points(origin, theta, tau)[:, 0].numpy()
    moved_hat = transform_points(origin, theta_noisy, tau_noisy)[:, 0].numpy()
    for axis, value in enumerate((noisy.displacement_pearson_x, noisy.displacement_pearson_y)):
        assert value == pytest.approx(np.corrcoef(moved[:, axis], moved_hat[:, axis])[0, 1], abs=1e-12)
        assert 0.5 < value < 0.99


def test_pose_recovery_input_checks() -> None:
    theta, tau = np.zeros(5), np.zeros((5, 2))
    with pytest.raises(ValueError, match="same length"):
        metrics.pose_recovery(theta, tau, np.zeros(4), tau)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        metrics.pose_recovery(theta, np.zeros(5), theta, tau)
    with pytest.raises(ValueError, match="NaN"):
        metrics.pose_recovery(theta, tau, np.full(5, np.nan), tau)
    with pytest.raises(ValueError, match="empty"):
        metrics.rotation_error([], [])


# --------------------------------------------------------------------------------------------
# code_invariance
# --------------------------------------------------------------------------------------------


def _pairwise_reference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Cosines by the N x N matrix, the slow definition code_invariance computes in O(ND)."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    gram = a @ b.T
    n = gram.shape[0]
    return float(np.diag(gram).mean()), float((gram.sum() - np.trace(gram)) / (n * (n - 1)))


@settings(deadline=None, max_examples=30)
@given(n=st.integers(2, 12), d=st.integers(1, 6), seed=st.integers(0, 10_000), centre=st.booleans())
def test_code_invariance_equals_the_pairwise_definition(n: int, d: int, seed: int, centre: bool) -> None:
    rng = np.random.default_rng(seed)
    moved, base = rng.normal(size=(n, d)) + 0.5, rng.normal(size=(n, d)) + 0.5
    result = metrics.code_invariance(moved, base, centre=centre)
    if centre:
        mean = np.concatenate([moved, base]).mean(axis=0)
        moved, base = moved - mean, base - mean
    same, other = _pairwise_reference(moved, base)
    assert result.same_image == pytest.approx(same, abs=1e-12)
    assert result.other_images == pytest.approx(other, abs=1e-12)


def test_code_invariance_tells_a_collapsed_code_from_an_informative_one() -> None:
    g = torch.Generator().manual_seed(0)
    informative = torch.randn(200, 16, generator=g)
    invariant = metrics.code_invariance(informative + 1e-3 * torch.randn(200, 16, generator=g), informative)
    assert invariant.same_image > 0.99 and abs(invariant.other_images) < 0.05
    # a collapsed code: one offset plus tiny noise; raw cosines are near 1 for different images too
    collapsed = torch.full((200, 16), 3.0) + 1e-3 * torch.randn(200, 16, generator=g)
    raw = metrics.code_invariance(collapsed, collapsed.roll(7, dims=0), centre=False)
    assert raw.other_images > 0.99
    assert set(raw.as_dict()) == {"same_image", "other_images"}


def test_code_invariance_bad_input() -> None:
    with pytest.raises(ValueError, match=r"same shape \(N, D\)"):
        metrics.code_invariance(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"same shape \(N, D\)"):
        metrics.code_invariance(torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="at least 2 images"):
        metrics.code_invariance(torch.ones(1, 3), torch.ones(1, 3))
