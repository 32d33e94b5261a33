r"""Evaluation metrics: clustering quality against ground truth, and recovery of the pose.

Clustering (paper Tables 2-4, Figure 5)
    :func:`clustering_accuracy` (best matching of clusters to classes), :func:`normalized_mutual_info`,
    :func:`adjusted_rand_index`, :func:`confusion_matrix` and :func:`match_clusters`. Label inputs
    may be ``torch`` tensors, ``numpy`` arrays or lists of integers (floats are accepted only when
    they hold whole numbers); the label values themselves are arbitrary integers. The scores are
    computed here in ``numpy`` (exact integer counts, ``float64`` sums) and agree with
    ``scikit-learn`` (tested when it is installed). :func:`clustering_accuracy` with
    ``mapping="hungarian"`` uses ``scipy`` (a dependency of the package).

Pose recovery (paper Table 1, Figure 4)
    The canonical pose of an image is arbitrary (a learnt convention), so the pose the encoder
    predicts for one image cannot be compared to anything. What is identifiable is how the
    predicted pose *changes* when a known pose is applied. Take a base image :math:`J_0` and
    :math:`J = S_g[J_0]` with a known applied pose :math:`g = (\theta, \tau)`. The encoder predicts
    the canonical poses :math:`p_0` of :math:`J_0` and :math:`p` of :math:`J`, meaning
    :math:`S_{p_0}[J_0]` and :math:`S_p[J]` are the same canonical image. Because
    :math:`S_a[S_b[J]] = S_{a \circ b}[J]`,

    .. math::
        S_p \circ S_g = S_{p_0} \quad\Longrightarrow\quad
        \hat g = S_p^{-1} \circ S_{p_0} = \mathrm{compose}(\mathrm{inverse}(p), p_0),

    which :func:`relative_pose` computes. :func:`pose_recovery` then compares :math:`\hat g` with
    :math:`g`: a circular correlation for the angle (invariant to the ``2*pi`` wrap), a Pearson
    correlation after unwrapping the prediction to the branch nearest the truth (what a scatter
    plot like the paper's Figure 4 shows), angular errors, and Pearson correlations for the two
    translation coordinates (the numbers of Table 1).

Invariance of the code
    :func:`code_invariance`: the mean cosine of ``z`` between moved copies of the same image, beside
    the same mean between different images. The first alone says nothing: a collapsed code (every
    image mapped to the same ``z``) scores 1 on it. The code is invariant *and* informative when the
    first is near 1 and the second clearly lower.

Convention: angles in radians, counter-clockwise positive; poses as in :mod:`invariant_inr.se2`
(:math:`S_{\theta,\tau}(x) = R_\theta(x + \tau)`).

Example:
    >>> from invariant_inr import metrics
    >>> metrics.clustering_accuracy([0, 0, 1, 1, 2], [2, 2, 0, 0, 1])
    1.0
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from . import _checks
from .se2 import compose, inverse, rotation_matrix

__all__ = [
    "CodeInvariance",
    "PoseRecovery",
    "adjusted_rand_index",
    "circular_correlation",
    "clustering_accuracy",
    "code_invariance",
    "confusion_matrix",
    "match_clusters",
    "normalized_mutual_info",
    "pose_recovery",
    "relative_pose",
    "rotation_error",
    "unwrap_to_nearest",
]

Mapping = Literal["hungarian", "majority"]
MAPPINGS: tuple[str, ...] = ("hungarian", "majority")


# --------------------------------------------------------------------------------------------
# Input conversion
# --------------------------------------------------------------------------------------------


def _to_numpy(value: Any, name: str) -> np.ndarray:
    """A tensor, array or list as a numpy array (no copy when possible)."""
    if isinstance(value, Tensor):
        value = value.detach().cpu()
        return (value.double() if value.is_floating_point() else value).numpy()  # numpy has no bfloat16
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple, range)):
        try:
            return np.asarray(value)
        except ValueError as error:  # ragged lists
            raise ValueError(f"{name} must be a flat list of integers, got a ragged sequence ({error})") from None
    raise TypeError(
        f"{name} must be a torch.Tensor, a numpy array or a list of integers, got {_checks.describe(value)}"
    )


def _as_labels(value: Any, name: str) -> np.ndarray:
    """Integer labels ``(N,)`` as an ``int64`` numpy array; floats must hold whole numbers."""
    array = _to_numpy(value, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (N,), got shape {tuple(array.shape)}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; give at least one label")
    if array.dtype == np.bool_:
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64, copy=False)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or not (array == np.round(array)).all():
            raise TypeError(
                f"{name} must hold integer labels, got floating values that are not whole numbers "
                f"(e.g. {array[~np.isfinite(array) | (array != np.round(array))][:3].tolist()}); "
                "take the argmax of probabilities first"
            )
        return array.astype(np.int64)
    raise TypeError(f"{name} must hold integer labels, got dtype {array.dtype}")


def _label_pair(labels: Any, predictions: Any) -> tuple[np.ndarray, np.ndarray]:
    true = _as_labels(labels, "labels")
    pred = _as_labels(predictions, "predictions")
    if true.shape[0] != pred.shape[0]:
        raise ValueError(f"labels and predictions must have the same length, got {true.shape[0]} and {pred.shape[0]}")
    return true, pred


def _contingency(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Counts ``(C, K)`` over the distinct values of ``true`` (rows) and ``pred`` (columns), sorted."""
    _, true_idx = np.unique(true, return_inverse=True)
    _, pred_idx = np.unique(pred, return_inverse=True)
    num_rows, num_cols = int(true_idx.max()) + 1, int(pred_idx.max()) + 1
    flat = true_idx.reshape(-1) * num_cols + pred_idx.reshape(-1)
    return np.bincount(flat, minlength=num_rows * num_cols).reshape(num_rows, num_cols)


def _linear_sum_assignment() -> Any:
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:  # pragma: no cover - scipy is a dependency; only a broken environment lacks it
        raise ImportError(
            'mapping="hungarian" needs scipy, a dependency of invariant-inr that is missing here; '
            'install it with `pip install scipy`, or use mapping="majority"'
        ) from None
    return linear_sum_assignment


# --------------------------------------------------------------------------------------------
# Clustering metrics
# --------------------------------------------------------------------------------------------


def confusion_matrix(
    labels: Any,
    predictions: Any,
    *,
    num_classes: int | None = None,
    num_clusters: int | None = None,
) -> np.ndarray:
    """Counts of samples of class ``i`` (row) put in cluster ``j`` (column).

    Rows are indexed by the class value and columns by the cluster id, so both must be
    non-negative integers. To draw a confusion matrix like the paper's Figure 5, reorder the
    columns with :func:`match_clusters` first.

    Args:
        labels: ``(N,)`` ground-truth classes, integers ``>= 0``.
        predictions: ``(N,)`` cluster ids, integers ``>= 0``.
        num_classes: number of rows; default ``max(labels) + 1``.
        num_clusters: number of columns; default ``max(predictions) + 1``.

    Returns:
        ``(num_classes, num_clusters)`` ``int64`` array.

    Example:
        >>> confusion_matrix([0, 0, 1, 1], [1, 1, 1, 0]).tolist()
        [[0, 2], [1, 1]]
    """
    true, pred = _label_pair(labels, predictions)
    for values, name in ((true, "labels"), (pred, "predictions")):
        if values.min() < 0:
            raise ValueError(
                f"confusion_matrix needs {name} >= 0 (they index the rows/columns), got {int(values.min())}; "
                "remap them with numpy.unique(..., return_inverse=True)"
            )
    rows = int(true.max()) + 1 if num_classes is None else _checks.check_positive_int(num_classes, "num_classes")
    cols = int(pred.max()) + 1 if num_clusters is None else _checks.check_positive_int(num_clusters, "num_clusters")
    if true.max() >= rows:
        raise ValueError(f"labels go up to {int(true.max())} but num_classes is {rows}")
    if pred.max() >= cols:
        raise ValueError(f"predictions go up to {int(pred.max())} but num_clusters is {cols}")
    return np.bincount(true * cols + pred, minlength=rows * cols).reshape(rows, cols)


def match_clusters(labels: Any, predictions: Any, *, mapping: Mapping = "hungarian") -> dict[int, int]:
    """The class each cluster is matched to.

    ``"hungarian"``: a one-to-one matching that maximises the number of correctly matched samples
    (``scipy.optimize.linear_sum_assignment`` on the rectangular class-by-cluster count matrix).
    When there are more clusters than classes (over-clustering), only as many clusters as there
    are classes are matched; the others are absent from the result and their samples count as
    errors. ``"majority"``: each cluster goes to its most frequent class (many-to-one; ties go to
    the smaller class value), the usual choice when reporting over-clustering.

    Args:
        labels: ``(N,)`` ground-truth classes (any integers).
        predictions: ``(N,)`` cluster ids (any integers).
        mapping: ``"hungarian"`` or ``"majority"``.

    Returns:
        ``{cluster id: class value}``.

    Example:
        >>> match_clusters([0, 0, 1, 1, 1], [5, 5, 7, 7, 3], mapping="majority")
        {3: 1, 5: 0, 7: 1}
        >>> match_clusters([0, 0, 1, 1, 1], [5, 5, 7, 7, 3])
        {5: 0, 7: 1}
    """
    _checks.check_choice(mapping, "mapping", MAPPINGS)
    true, pred = _label_pair(labels, predictions)
    classes, clusters = np.unique(true), np.unique(pred)
    counts = _contingency(true, pred)  # (C, K)
    if mapping == "majority":
        best = counts.argmax(axis=0)  # (K,)
        return {int(c): int(classes[r]) for c, r in zip(clusters, best)}
    rows, cols = _linear_sum_assignment()(counts, maximize=True)
    return {int(clusters[c]): int(classes[r]) for r, c in sorted(zip(rows, cols), key=lambda rc: rc[1])}


def clustering_accuracy(labels: Any, predictions: Any, *, mapping: Mapping = "hungarian") -> float:
    """Fraction of samples whose cluster is matched to their class (see :func:`match_clusters`).

    ``"hungarian"`` (the default, used by the paper's tables) matches clusters to classes one to
    one and is invariant to renaming the clusters. With more clusters than classes it credits only
    the matched clusters, so over-clustering is penalised; ``"majority"`` maps each cluster to its
    most frequent class, so over-clustering is not penalised (it reaches 1 when every cluster is
    pure) and should be reported together with the number of clusters.

    Args:
        labels: ``(N,)`` ground-truth classes (integers; tensor, array or list).
        predictions: ``(N,)`` cluster ids.
        mapping: ``"hungarian"`` or ``"majority"``.

    Returns:
        Accuracy in ``[0, 1]``.

    Raises:
        ValueError: empty inputs or different lengths.
        TypeError: non-integer values.
        ImportError: ``mapping="hungarian"`` without ``scipy``.

    Example:
        >>> clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 0])
        1.0
        >>> clustering_accuracy([0, 0, 1, 1], [0, 1, 2, 3])  # over-clustering: only 2 clusters matched
        0.5
        >>> clustering_accuracy([0, 0, 1, 1], [0, 1, 2, 3], mapping="majority")
        1.0
    """
    _checks.check_choice(mapping, "mapping", MAPPINGS)
    true, pred = _label_pair(labels, predictions)
    counts = _contingency(true, pred)  # (C, K)
    if mapping == "majority":
        correct = int(counts.max(axis=0).sum())
    else:
        rows, cols = _linear_sum_assignment()(counts, maximize=True)
        correct = int(counts[rows, cols].sum())
    return correct / true.shape[0]


def _entropy_of_counts(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of the distribution given by non-negative ``counts``."""
    counts = counts[counts > 0].astype(np.float64)
    probs = counts / counts.sum()
    return float(-(probs * np.log(probs)).sum())


def normalized_mutual_info(
    labels: Any,
    predictions: Any,
    *,
    average: Literal["arithmetic", "geometric", "min", "max"] = "arithmetic",
) -> float:
    r"""Normalised mutual information :math:`I(U; V) / \mathrm{mean}(H(U), H(V))`.

    Same definition and limit cases as ``sklearn.metrics.normalized_mutual_info_score``: two
    labelings that each put every sample in one group score 1; otherwise zero mutual information
    scores 0.

    Args:
        labels: ``(N,)`` ground-truth classes.
        predictions: ``(N,)`` cluster ids.
        average: how the two entropies are averaged in the normaliser.

    Returns:
        NMI in ``[0, 1]``.

    Example:
        >>> normalized_mutual_info([0, 0, 1, 1], [1, 1, 0, 0])
        1.0
        >>> normalized_mutual_info([0, 0, 0, 0], [0, 1, 2, 3])
        0.0
    """
    _checks.check_choice(average, "average", ("arithmetic", "geometric", "min", "max"))
    true, pred = _label_pair(labels, predictions)
    counts = _contingency(true, pred)  # (C, K)
    if counts.shape[0] == counts.shape[1] == 1:
        return 1.0
    if counts.shape[0] == 1 or counts.shape[1] == 1:
        return 0.0  # one side is constant: no information (avoids 1e-17 / 0 from rounding)
    total = float(true.shape[0])
    joint = counts.astype(np.float64) / total
    row, col = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    mutual = float((joint[nonzero] * (np.log(joint[nonzero]) - np.log((row @ col)[nonzero]))).sum())
    mutual = max(mutual, 0.0)  # rounding can give -1e-17
    if mutual == 0.0:
        return 0.0
    h_true, h_pred = _entropy_of_counts(counts.sum(axis=1)), _entropy_of_counts(counts.sum(axis=0))
    if average == "arithmetic":
        normaliser = (h_true + h_pred) / 2
    elif average == "geometric":
        normaliser = math.sqrt(h_true * h_pred)
    elif average == "min":
        normaliser = min(h_true, h_pred)
    else:
        normaliser = max(h_true, h_pred)
    normaliser = max(normaliser, float(np.finfo(np.float64).eps))
    return float(mutual / normaliser)


def adjusted_rand_index(labels: Any, predictions: Any) -> float:
    r"""Adjusted Rand index (Hubert & Arabie, 1985): pair-counting agreement corrected for chance.

    With :math:`n_{ij}` the class-by-cluster counts, :math:`a_i, b_j` their row and column sums,
    :math:`\mathrm{ARI} = (\sum_{ij}\binom{n_{ij}}{2} - E) / (\tfrac12[\sum_i\binom{a_i}{2} +
    \sum_j\binom{b_j}{2}] - E)` with :math:`E = \sum_i\binom{a_i}{2}\sum_j\binom{b_j}{2} /
    \binom{n}{2}`. Computed with exact Python integers (no overflow for large ``N``); identical
    labelings (up to renaming) score 1, including the degenerate cases where the formula is
    ``0 / 0``, as in ``sklearn.metrics.adjusted_rand_score``.

    Args:
        labels: ``(N,)`` ground-truth classes.
        predictions: ``(N,)`` cluster ids.

    Returns:
        ARI, at most 1 (0 in expectation for random labelings, can be negative).

    Example:
        >>> adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0])
        1.0
        >>> adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1])
        -0.5
    """
    true, pred = _label_pair(labels, predictions)
    counts = _contingency(true, pred)  # (C, K)
    n = int(true.shape[0])
    sum_sq = int((counts.astype(np.int64) ** 2).sum())
    row_sq = int((counts.sum(axis=1).astype(np.int64) ** 2).sum())
    col_sq = int((counts.sum(axis=0).astype(np.int64) ** 2).sum())
    # pair counts (ordered pairs): same-same, same class only, same cluster only, neither
    both = sum_sq - n
    class_only = row_sq - sum_sq
    cluster_only = col_sq - sum_sq
    neither = n * n - row_sq - col_sq + sum_sq
    if class_only == 0 and cluster_only == 0:
        return 1.0
    numerator = 2 * (both * neither - class_only * cluster_only)
    denominator = (both + class_only) * (class_only + neither) + (both + cluster_only) * (cluster_only + neither)
    return float(numerator / denominator)


# --------------------------------------------------------------------------------------------
# Pose recovery
# --------------------------------------------------------------------------------------------


def _as_float_vector(value: Any, name: str, *, columns: int | None = None) -> Tensor:
    """A ``(N,)`` (or ``(N, columns)``) float64 CPU tensor from a tensor, array or list; finite, non-empty."""
    array = _to_numpy(value, name)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    expected = "(N,)" if columns is None else f"(N, {columns})"
    if (columns is None and array.ndim != 1) or (
        columns is not None and (array.ndim != 2 or array.shape[1] != columns)
    ):
        raise ValueError(f"{name} must have shape {expected}, got {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty; give at least one value")
    tensor = torch.as_tensor(np.asarray(array, dtype=np.float64))
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor


def _same_length(*named: tuple[str, Tensor]) -> None:
    lengths = {name: int(t.shape[0]) for name, t in named}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs must have the same length N, got {lengths}")


def relative_pose(
    theta0: Tensor,
    tau0: Tensor,
    theta1: Tensor,
    tau1: Tensor,
    *,
    convention: Literal["to_canonical", "from_canonical"] = "to_canonical",
) -> tuple[Tensor, Tensor]:
    r"""The applied pose :math:`\hat g` that the predicted poses of two images imply.

    With ``convention="to_canonical"`` (this package's, as in
    :func:`invariant_inr.center.canonical_pose`), a predicted pose :math:`p` of an image
    :math:`J` is the one with :math:`S_p[J]` canonical. If :math:`J_1 = S_g[J_0]`, then
    :math:`S_{p_1}\circ S_g = S_{p_0}`, so :math:`\hat g = S_{p_1}^{-1} \circ S_{p_0}`.
    With ``convention="from_canonical"`` a pose :math:`q` means :math:`J = S_q[\text{canonical}]`,
    and :math:`\hat g = S_{q_1} \circ S_{q_0}^{-1}`.

    Args:
        theta0: ``(B,)`` predicted angle of the base images :math:`J_0`.
        tau0: ``(B, 2)`` predicted translation of the base images.
        theta1: ``(B,)`` predicted angle of the moved images :math:`J_1 = S_g[J_0]`.
        tau1: ``(B, 2)`` predicted translation of the moved images.
        convention: what a predicted pose means, see above.

    Returns:
        ``theta (B,)`` in ``[0, 2*pi)`` and ``tau (B, 2)`` of :math:`\hat g`.

    Example:
        >>> import torch
        >>> from invariant_inr.se2 import compose, inverse, random_pose
        >>> g = random_pose(4, 0.1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> p0 = random_pose(4, 0.1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        >>> p1 = compose(*p0, *inverse(*g))  # the pose that canonicalises S_g[J0]
        >>> theta, tau = relative_pose(*p0, *p1)
        >>> bool(torch.allclose(theta, g[0])), bool(torch.allclose(tau, g[1]))
        (True, True)
    """
    _checks.check_choice(convention, "convention", ("to_canonical", "from_canonical"))
    if convention == "to_canonical":
        return compose(*inverse(theta1, tau1), theta0, tau0)
    return compose(theta1, tau1, *inverse(theta0, tau0))


def _wrap_pi(angle: Tensor) -> Tensor:
    """Wrap to ``[-pi, pi)``."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def rotation_error(true: Any, pred: Any) -> Tensor:
    """Absolute circular difference between angles, in radians, in ``[0, pi]``.

    Args:
        true: ``(N,)`` angles in radians (tensor, array or list).
        pred: ``(N,)`` angles in radians.

    Returns:
        ``(N,)`` float64 tensor of errors; ``2*pi`` apart counts as 0.

    Example:
        >>> import math
        >>> rotation_error([0.1, 6.2], [2 * math.pi + 0.1, 0.1]).tolist()  # doctest: +ELLIPSIS
        [0.0, 0.183...]
    """
    true_t, pred_t = _as_float_vector(true, "true"), _as_float_vector(pred, "pred")
    _same_length(("true", true_t), ("pred", pred_t))
    return _wrap_pi(pred_t - true_t).abs()


def unwrap_to_nearest(pred: Any, true: Any) -> Tensor:
    """``pred + 2*pi*k`` with the integer ``k`` that brings each predicted angle nearest the true one.

    This is the branch a scatter plot of true against predicted rotation should use (the paper's
    Figure 4 shows points off the diagonal by ``2*pi``, which are correct predictions).

    Args:
        pred: ``(N,)`` predicted angles in radians.
        true: ``(N,)`` true angles in radians.

    Returns:
        ``(N,)`` float64 tensor, each within ``pi`` of ``true``.

    Example:
        >>> import math
        >>> round(unwrap_to_nearest([0.1], [2 * math.pi - 0.1]).item(), 4)
        6.3832
    """
    true_t, pred_t = _as_float_vector(true, "true"), _as_float_vector(pred, "pred")
    _same_length(("true", true_t), ("pred", pred_t))
    return true_t + _wrap_pi(pred_t - true_t)


def circular_correlation(a: Any, b: Any, *, method: Literal["fisher_lee", "jammalamadaka"] = "fisher_lee") -> float:
    r"""Correlation coefficient of two samples of angles (radians), in ``[-1, 1]``.

    ``"fisher_lee"`` (Fisher & Lee, 1983, :math:`\rho_T`): with :math:`u_i = (\cos a_i, \sin a_i)`
    and :math:`v_i = (\cos b_i, \sin b_i)`,
    :math:`\rho = \det(\sum u_i v_i^\top) / \sqrt{\det(\sum u_i u_i^\top)\det(\sum v_i v_i^\top)}`,
    equal to :math:`\sum_{i<j}\sin(a_i-a_j)\sin(b_i-b_j) / \sqrt{\sum_{i<j}\sin^2(a_i-a_j)
    \sum_{i<j}\sin^2(b_i-b_j)}` but computed in :math:`O(N)`. It needs no mean direction, so it is
    well defined for angles spread uniformly over the circle (as random rotations are); it is 1 when
    ``b = a + c`` and -1 when ``b = c - a`` (mod ``2*pi``).

    ``"jammalamadaka"`` (Jammalamadaka & SenGupta, 2001):
    :math:`\sum \sin(a_i-\bar a)\sin(b_i-\bar b) / \sqrt{\sum\sin^2(a_i-\bar a)\sum\sin^2(b_i-\bar b)}`
    with :math:`\bar a, \bar b` the circular means (ill-conditioned when the angles are uniform).

    Returns NaN when one sample has no spread (all angles equal modulo ``pi``).

    Example:
        >>> import torch
        >>> a = torch.rand(100, generator=torch.Generator().manual_seed(0)) * 6.28
        >>> round(circular_correlation(a, (a + 4.0) % 6.283185307179586), 6)
        1.0
        >>> round(circular_correlation(a, -a), 6)
        -1.0
    """
    _checks.check_choice(method, "method", ("fisher_lee", "jammalamadaka"))
    a_t, b_t = _as_float_vector(a, "a"), _as_float_vector(b, "b")
    _same_length(("a", a_t), ("b", b_t))
    if a_t.shape[0] < 2:
        raise ValueError(f"circular_correlation needs at least 2 angle pairs, got {a_t.shape[0]}")
    for name, angles in (("a", a_t), ("b", b_t)):
        if bool((torch.remainder(angles - angles[0] + math.pi / 2, math.pi) - math.pi / 2).abs().max() < 1e-12):
            raise ValueError(
                f"{name} is constant (all angles equal mod pi): it has no circular variance, the correlation is undefined"
            )
    if method == "jammalamadaka":
        mean_a = torch.atan2(torch.sin(a_t).sum(), torch.cos(a_t).sum())
        mean_b = torch.atan2(torch.sin(b_t).sum(), torch.cos(b_t).sum())
        sa, sb = torch.sin(a_t - mean_a), torch.sin(b_t - mean_b)
        denominator = torch.sqrt((sa * sa).sum() * (sb * sb).sum())
        return float((sa * sb).sum() / denominator) if denominator > 0 else float("nan")
    u = torch.stack([torch.cos(a_t), torch.sin(a_t)], dim=-1)  # (N, 2)
    v = torch.stack([torch.cos(b_t), torch.sin(b_t)], dim=-1)  # (N, 2)
    cross = torch.linalg.det(u.T @ v)
    spread = torch.linalg.det(u.T @ u) * torch.linalg.det(v.T @ v)
    if spread <= 1e-12 * a_t.shape[0] ** 4:  # (all angles equal mod pi): 0 / 0
        return float("nan")
    return float((cross / torch.sqrt(spread)).clamp(-1.0, 1.0))


def _pearson(x: Tensor, y: Tensor) -> float:
    """Pearson correlation of two float64 vectors; NaN when either is constant."""
    xc, yc = x - x.mean(), y - y.mean()
    denominator = torch.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / denominator) if denominator > 0 else float("nan")


class PoseRecovery(NamedTuple):
    """How well predicted applied poses match the true ones (see :func:`pose_recovery`)."""

    rotation_circular_correlation: float
    """Fisher-Lee circular correlation of true and predicted angles (1 is perfect)."""
    rotation_pearson: float
    """Pearson correlation of true angles and predictions unwrapped to the nearest branch."""
    rotation_median_error_deg: float
    """Median absolute circular error, degrees."""
    rotation_mean_error_deg: float
    """Mean absolute circular error, degrees."""
    rotation_within_5deg: float
    """Fraction of samples with circular error below 5 degrees."""
    translation_pearson_x: float
    """Pearson correlation of true and predicted ``x`` translation."""
    translation_pearson_y: float
    """Pearson correlation of true and predicted ``y`` translation."""
    displacement_pearson_x: float
    """Pearson correlation of true and predicted ``x`` of :math:`S_g(0) = R_\theta\tau`, where ``g`` moves the origin."""
    displacement_pearson_y: float
    """Pearson correlation of true and predicted ``y`` of :math:`S_g(0)`."""

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain ``dict`` (for logging and JSON)."""
        return dict(self._asdict())


def pose_recovery(theta_true: Any, tau_true: Any, theta_hat: Any, tau_hat: Any) -> PoseRecovery:
    r"""Compare predicted applied poses :math:`\hat g` (from :func:`relative_pose`) with the true :math:`g`.

    Args:
        theta_true: ``(N,)`` applied angles, radians.
        tau_true: ``(N, 2)`` applied translations.
        theta_hat: ``(N,)`` predicted applied angles, radians.
        tau_hat: ``(N, 2)`` predicted applied translations.

    Returns:
        A :class:`PoseRecovery` (a named tuple; ``.as_dict()`` for a dict). ``rotation_pearson``
        is the Pearson correlation of ``theta_true`` against ``theta_hat`` unwrapped to the
        branch nearest ``theta_true`` (:func:`unwrap_to_nearest`); it is the paper's Table 1
        rotation number without penalising ``2*pi`` wraps. Correlations are NaN where one side is
        constant. Read it beside the median error: it is high even for a pose that carries no
        information. For angles uniform on :math:`[0, 2\pi)`, a prediction that ignores the input
        scores :math:`\sqrt{3}/2 \approx 0.866` and a uniformly random one
        :math:`1/\sqrt{2} \approx 0.707` (their circular correlation is about 0), while an
        independent Gaussian error of standard deviation :math:`s` gives
        :math:`1/\sqrt{1 + 3 s^2 / \pi^2}`: 0.99 is :math:`s \approx 14.8` degrees, or about 0.7 %
        of the predictions a half turn off and the rest exact (a fraction :math:`p` of half turns
        is an error variance :math:`p \pi^2`: :math:`1/\sqrt{1 + 3p}`).

        ``translation_pearson_*`` compare the parameter :math:`\tau` of
        :math:`S_g = R_\theta \circ T_\tau` (the paper's parameterisation, translate then rotate),
        so a rotation error turns the predicted :math:`\tau` with it: a prediction off by a half turn
        gives :math:`-\tau`, and a few such flips among thousands lower these figures visibly.
        ``displacement_pearson_*`` compare :math:`S_g(0) = R_\theta\tau`, where the move takes the
        origin (for a centred object, where the object went), which does not depend on the rotation.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> theta, tau = torch.rand(50, generator=g) * 6.28, torch.randn(50, 2, generator=g) * 0.1
        >>> result = pose_recovery(theta, tau, theta + 0.01, tau)
        >>> round(result.rotation_median_error_deg, 3), result.rotation_within_5deg
        (0.573, 1.0)
        >>> flipped = pose_recovery(theta, tau, theta + 3.14159265, -tau)  # a half turn off, same displacement
        >>> round(flipped.translation_pearson_x, 3), round(flipped.displacement_pearson_x, 3)
        (-1.0, 1.0)
    """
    theta_t = _as_float_vector(theta_true, "theta_true")
    theta_p = _as_float_vector(theta_hat, "theta_hat")
    tau_t = _as_float_vector(tau_true, "tau_true", columns=2)
    tau_p = _as_float_vector(tau_hat, "tau_hat", columns=2)
    _same_length(("theta_true", theta_t), ("tau_true", tau_t), ("theta_hat", theta_p), ("tau_hat", tau_p))
    error = _wrap_pi(theta_p - theta_t).abs()  # (N,)
    error_deg = torch.rad2deg(error)
    moved_t = (rotation_matrix(theta_t) @ tau_t.unsqueeze(-1)).squeeze(-1)  # S_g(0) = R tau, (N, 2)
    moved_p = (rotation_matrix(theta_p) @ tau_p.unsqueeze(-1)).squeeze(-1)
    return PoseRecovery(
        rotation_circular_correlation=circular_correlation(theta_t, theta_p),
        rotation_pearson=_pearson(theta_t, theta_t + _wrap_pi(theta_p - theta_t)),
        rotation_median_error_deg=float(np.median(error_deg.numpy())),
        rotation_mean_error_deg=float(error_deg.mean()),
        rotation_within_5deg=float((error_deg < 5.0).double().mean()),
        translation_pearson_x=_pearson(tau_t[:, 0], tau_p[:, 0]),
        translation_pearson_y=_pearson(tau_t[:, 1], tau_p[:, 1]),
        displacement_pearson_x=_pearson(moved_t[:, 0], moved_p[:, 0]),
        displacement_pearson_y=_pearson(moved_t[:, 1], moved_p[:, 1]),
    )


class CodeInvariance(NamedTuple):
    """Mean cosine similarities of codes (see :func:`code_invariance`)."""

    same_image: float
    """Mean cosine of ``z(J_i)`` with ``z(J0_i)``: moved copies of the same image (1 is invariant)."""
    other_images: float
    """Mean cosine of ``z(J_i)`` with ``z(J0_j)`` over every ``i != j``: different images."""

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain ``dict`` (for logging and JSON)."""
        return dict(self._asdict())


def code_invariance(z_moved: Any, z_base: Any, *, centre: bool = True) -> CodeInvariance:
    r"""How much the code of an image changes when the image moves, beside how much it differs between images.

    Row ``i`` of ``z_moved`` is the code of a moved copy :math:`J_i = S_{g_i}[J0_i]` of the image whose
    code is row ``i`` of ``z_base``. With ``centre=True`` the mean code over both sets is subtracted
    first, so that an offset shared by every code does not count as agreement: an invariant and
    informative code then scores near 1 for the same image and near 0 for other images. With
    ``centre=False`` the raw cosines are used; a collapsed code scores near 1 on both.

    The mean over the :math:`N(N-1)` pairs of different images is exact and costs
    :math:`O(ND)` (sums of unit vectors, no :math:`N \times N` matrix), computed in ``float64``.

    Args:
        z_moved: ``(N, D)`` codes of the moved images (tensor, array or nested list).
        z_base: ``(N, D)`` codes of the images before the move, row for row.
        centre: subtract the mean code of both sets before taking cosines.

    Returns:
        A :class:`CodeInvariance` (``.as_dict()`` for a dict).

    Raises:
        ValueError: when the shapes differ, are not ``(N, D)``, or ``N < 2``.

    Example:
        >>> import torch
        >>> z = torch.eye(4)
        >>> result = code_invariance(z, z, centre=False)
        >>> result.same_image, result.other_images
        (1.0, 0.0)
    """
    moved = torch.as_tensor(_to_numpy(z_moved, "z_moved"), dtype=torch.float64)
    base = torch.as_tensor(_to_numpy(z_base, "z_base"), dtype=torch.float64)
    if moved.ndim != 2 or base.shape != moved.shape:
        raise ValueError(
            f"z_moved and z_base must be codes of the same shape (N, D), got {tuple(moved.shape)} and {tuple(base.shape)}"
        )
    n = moved.shape[0]
    if n < 2:
        raise ValueError(f"code_invariance needs at least 2 images to compare different ones, got N={n}")
    if centre:
        mean = torch.cat([moved, base]).mean(dim=0)
        moved, base = moved - mean, base - mean
    a = torch.nn.functional.normalize(moved, dim=1)
    b = torch.nn.functional.normalize(base, dim=1)
    diagonal = (a * b).sum(dim=1)  # (N,)
    # sum over all (i, j) of a_i . b_j is (sum a) . (sum b); the pairs i != j leave out the diagonal
    off_diagonal = (a.sum(dim=0) @ b.sum(dim=0) - diagonal.sum()) / (n * (n - 1))
    return CodeInvariance(same_image=float(diagonal.mean()), other_images=float(off_diagonal))
