r"""The demo behind ``invariant-inr demo``: train on built-in sprites, then show what the model learned.

:func:`run_demo` makes a training and a test set of sprites (:func:`~invariant_inr.datasets.make_sprites`:
squares, ellipses and hearts at random scale, rotation and translation), trains an
:class:`~invariant_inr.IRLINR` with the ``"quick"`` preset (:mod:`invariant_inr.presets`), and
writes to one folder:

``reconstructions.png``
    For one test sprite of each shape, seven copies rotated by :math:`2\pi k / 7` (drawn exactly,
    not interpolated), in three rows each: the inputs, their reconstructions (the INR rendered at
    the encoded pose), and the canonical reconstructions (rendered from ``z`` alone at the identity
    pose), like the paper's figures 3, 8 and 10. Invariance shows as identical canonical rows.
``rotation.png``
    True against predicted rotation, like the paper's figure 4: every test sprite is moved by a
    known random pose :math:`g`, and the pose change the encoder predicts between the two images
    (:func:`~invariant_inr.metrics.relative_pose`) is compared with :math:`g`. Squares (symmetric
    under 90 degrees) and ellipses (180 degrees) have no unique rotation, so only hearts can lie
    on the diagonal everywhere; the other shapes show parallel lines.
``scores.json``
    Clustering scores of k-means on ``z`` against the shape labels (accuracy with Hungarian
    matching, NMI, ARI) next to two baselines at no training cost (k-means on raw pixels, and on
    pixels canonicalised by the same rule), pose recovery overall and per shape
    (:func:`~invariant_inr.metrics.pose_recovery`), invariance measures, the settings, the
    training history and the time taken.
``model.pt``
    The trained model (:meth:`IRLINR.load <invariant_inr.IRLINR.load>` reads it).

Nothing here is tuned to a number: the scores are measured on the run's own test set.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ._version import __version__
from .center import canonicalize
from .cluster import kmeans
from .datasets import Sprites, make_sprites, render_sprites
from .inference import encode_all
from .metrics import adjusted_rand_index, clustering_accuracy, normalized_mutual_info, pose_recovery, relative_pose
from .model import IRLINR
from .plotting import PLOT_HINT, have_matplotlib, plot_rotation, save_image_grid
from .presets import DEMO, preset, training_preset
from .se2 import compose, random_pose
from .training import fit

__all__ = ["DEFAULT_OUT", "clustering_scores", "run_demo", "to_json"]

DEFAULT_OUT = "invariant-inr-demo"
NUM_COPIES = 7  # rotated copies per sprite in reconstructions.png (2*pi/7 steps, as the paper's figure 3)
POSE_TRANSLATION_STD = 0.05  # std of the known translations applied for the pose evaluation (normalised units)


def to_json(value: Any) -> Any:
    """``value`` with tensors turned into lists and NaN/inf floats into ``None`` (strict JSON).

    Example:
        >>> import torch
        >>> to_json({"a": float("nan"), "b": torch.tensor([1.0, 2.0]), "c": (1, 2)})
        {'a': None, 'b': [1.0, 2.0], 'c': [1, 2]}
    """
    if isinstance(value, Tensor):
        return to_json(value.detach().cpu().tolist())
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def clustering_scores(labels: Any, assignments: Any) -> dict[str, float]:
    """Accuracy (Hungarian matching), NMI and ARI of ``assignments`` against ``labels``.

    Example:
        >>> clustering_scores([0, 0, 1, 1], [1, 1, 0, 0])
        {'accuracy': 1.0, 'nmi': 1.0, 'ari': 1.0}
    """
    return {
        "accuracy": clustering_accuracy(labels, assignments),
        "nmi": normalized_mutual_info(labels, assignments),
        "ari": adjusted_rand_index(labels, assignments),
    }


def _rotated_copies(data: Sprites, indices: Tensor, copies: int) -> Tensor:
    """Sprites ``indices`` drawn at their own pose turned by ``2*pi*k/copies`` (exact, not interpolated); ``(n*copies, 1, S, S)``."""
    n = indices.numel()
    steps = torch.arange(copies, dtype=torch.float32) * (2.0 * math.pi / copies)  # (K,)
    labels = data.labels[indices].repeat_interleave(copies)
    scale = data.scale[indices].repeat_interleave(copies)
    theta = data.theta[indices].repeat_interleave(copies) + steps.repeat(n)
    tau = data.tau[indices].repeat_interleave(copies, dim=0)
    return render_sprites(labels, scale, theta, tau, size=data.size, shapes=data.shapes)


def _moved_sprites(data: Sprites, theta: Tensor, tau: Tensor) -> Tensor:
    """The test sprites moved by the known poses ``S_g``, drawn exactly: pose ``g o p0`` of the upright shape."""
    pose_theta, pose_tau = compose(theta, tau, data.theta, data.tau)
    return render_sprites(data.labels, data.scale, pose_theta, pose_tau, size=data.size, shapes=data.shapes)


def _spread(images: Tensor, copies: int) -> float:
    """Mean squared deviation of each group of ``copies`` images from the group's mean image."""
    groups = images.reshape(-1, copies, *images.shape[1:])  # (n, K, C, H, W)
    return float((groups - groups.mean(dim=1, keepdim=True)).pow(2).mean())


def run_demo(
    out: str | os.PathLike[str] = DEFAULT_OUT,
    *,
    quick: bool = False,
    epochs: int | None = None,
    num_train: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Train on sprites and write ``reconstructions.png``, ``rotation.png``, ``scores.json``, ``model.pt`` to ``out``.

    Args:
        out: output folder (created).
        quick: a tiny smoke run (a few hundred images, 2 epochs) instead of the default of a few
            minutes on 2 CPU cores; the sizes are :data:`invariant_inr.presets.DEMO`.
        epochs: override the number of epochs.
        num_train: override the number of training images.
        seed: seed of the data, the model and the training.
        device: where to train (default: CUDA when available, else the CPU).
        progress: show progress bars.
        log: called with each line of the report (``None``: silent).

    Returns:
        The content of ``scores.json``, plus ``"files"``: the paths written.

    Example:
        >>> import tempfile
        >>> result = run_demo(tempfile.mkdtemp(), quick=True, num_train=32, epochs=1,
        ...                   progress=False, log=None)  # doctest: +SKIP
        >>> sorted(result["files"])  # doctest: +SKIP
        ['model', 'reconstructions', 'rotation', 'scores']
    """
    say = log if log is not None else (lambda line: None)
    settings = dict(DEMO["quick" if quick else "default"])
    if epochs is not None:
        settings["epochs"] = epochs
    if num_train is not None:
        settings["num_train"] = num_train
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    size = settings["image_size"]

    say(f"invariant-inr {__version__} demo: {settings['num_train']} training sprites ({size}x{size}), "
        f"{settings['epochs']} epoch(s) on {device}")
    train = make_sprites(settings["num_train"], size=size, seed=seed)
    test = make_sprites(settings["num_test"], size=size, seed=seed + 1)
    model_kwargs = preset("quick")
    fit_kwargs = training_preset("quick")
    model = IRLINR(1, size, seed=seed, **model_kwargs)
    started = time.perf_counter()
    history = fit(model, train.images, epochs=settings["epochs"], seed=seed, device=device, progress=progress, **fit_kwargs)
    train_seconds = time.perf_counter() - started
    say(f"trained in {train_seconds:.0f} s; last epoch: "
        + ", ".join(f"{name} {history[name][-1]:.4f}" for name in ("total", "recon", "consis", "symm")))

    model.eval()
    enc = encode_all(model, test.images, device=device)

    # clustering: k-means on z against the shape labels, and two baselines that need no training
    num_classes = len(test.shapes)
    clustering = {
        "kmeans_z": clustering_scores(test.labels, kmeans(enc.z, num_classes, seed=seed).assignments),
        "kmeans_raw_pixels": clustering_scores(test.labels, kmeans(test.images.flatten(1), num_classes, seed=seed).assignments),
        "kmeans_canonicalized_pixels": clustering_scores(
            test.labels,
            kmeans(canonicalize(test.images, model.config.canonical_rule).flatten(1), num_classes, seed=seed).assignments,  # type: ignore[arg-type]
        ),
    }

    # pose: move every test sprite by a known pose g and compare the predicted pose change with g
    g_theta, g_tau = random_pose(len(test), POSE_TRANSLATION_STD, generator=torch.Generator().manual_seed(seed + 2))
    moved = encode_all(model, _moved_sprites(test, g_theta, g_tau), device=device)
    hat_theta, hat_tau = relative_pose(enc.theta, enc.tau, moved.theta, moved.tau)
    pose = {"all": pose_recovery(g_theta, g_tau, hat_theta, hat_tau).as_dict()}
    for k, name in enumerate(test.shapes):
        member = test.labels == k
        if int(member.sum()) >= 3:
            pose[name] = pose_recovery(g_theta[member], g_tau[member], hat_theta[member], hat_tau[member]).as_dict()
    z_cosine = float(torch.nn.functional.cosine_similarity(enc.z, moved.z, dim=1).mean())

    # rotated copies of one sprite per shape: inputs / reconstructions / canonical reconstructions
    picks = torch.stack([(test.labels == k).nonzero()[0, 0] for k in range(num_classes) if bool((test.labels == k).any())])
    copies = _rotated_copies(test, picks, NUM_COPIES)
    with torch.no_grad():
        model_device = model.device
        recon = model.reconstruct(copies.to(model_device)).cpu()
        canon = model.canonical(copies.to(model_device)).cpu()
    invariance = {
        "z_cosine_similarity_after_known_pose": z_cosine,
        "input_spread": _spread(copies, NUM_COPIES),
        "canonical_spread": _spread(canon, NUM_COPIES),
        "reconstruction_mse": float((recon - copies).pow(2).mean()),
    }
    invariance["canonical_to_input_spread_ratio"] = invariance["canonical_spread"] / max(invariance["input_spread"], 1e-12)

    files: dict[str, str] = {}
    rows, labels = [], []
    for block, k in enumerate(picks.tolist()):
        name = test.shapes[int(test.labels[k])]
        part = slice(block * NUM_COPIES, (block + 1) * NUM_COPIES)
        rows += [copies[part], recon[part], canon[part]]
        labels += [f"{name}: input", "reconstruction", "canonical"]
    files["reconstructions"] = str(save_image_grid(
        out / "reconstructions.png", rows, row_labels=labels,
        title=f"copies rotated by 2πk/{NUM_COPIES}",
    ))
    if have_matplotlib():
        heart = pose.get("heart", pose["all"])
        files["rotation"] = str(plot_rotation(
            out / "rotation.png", g_theta, hat_theta, groups=test.labels, group_names=list(test.shapes),
            title=f"hearts: {heart['rotation_within_5deg']:.0%} within 5°, median error {heart['rotation_median_error_deg']:.1f}°",
        ))
    else:
        say(f"skipped rotation.png: {PLOT_HINT}")
    model_path = out / "model.pt"
    model.save(model_path)
    files["model"] = str(model_path)

    scores: dict[str, Any] = {
        "clustering": clustering,
        "pose_recovery": pose,
        "invariance": invariance,
        "training": {
            "seconds": train_seconds,
            "epochs": history.epochs,
            "history": dict(history),
            **fit_kwargs,
        },
        "settings": {**settings, "seed": seed, "device": str(device), "preset": "quick", "model": model_kwargs,
                     "pose_translation_std": POSE_TRANSLATION_STD, "rotated_copies": NUM_COPIES},
        "versions": {"invariant_inr": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }
    files["scores"] = str(out / "scores.json")
    (out / "scores.json").write_text(json.dumps(to_json(scores), indent=2) + "\n")

    z_scores = clustering["kmeans_z"]
    say(f"k-means on z: accuracy {z_scores['accuracy']:.3f}, NMI {z_scores['nmi']:.3f}, ARI {z_scores['ari']:.3f} "
        f"(raw pixels: accuracy {clustering['kmeans_raw_pixels']['accuracy']:.3f})")
    if "heart" in pose:
        say(f"rotation recovery on hearts: circular correlation {pose['heart']['rotation_circular_correlation']:.3f}, "
            f"median error {pose['heart']['rotation_median_error_deg']:.1f} deg")
    say(f"canonical reconstructions of rotated copies vary {invariance['canonical_to_input_spread_ratio']:.3f}x "
        "as much as the inputs (0 = identical)")
    for key in ("reconstructions", "rotation", "scores", "model"):
        if key in files:
            say(f"wrote {files[key]}")
    return {**to_json(scores), "files": files}
