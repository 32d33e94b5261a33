r"""The demo behind ``invariant-inr demo``: train on built-in sprites, then show what the model learned.

:func:`run_demo` makes a training and a test set of sprites (:func:`~invariant_inr.datasets.make_sprites`:
squares, ellipses and hearts at random scale, rotation and translation), trains an
:class:`~invariant_inr.IRLINR` with the ``"quick"`` preset (:mod:`invariant_inr.presets`), and
writes to one folder, each file as soon as what it shows is computed (so an interrupted or
partly failing run keeps what it had):

``model.pt``
    The trained model (:meth:`IRLINR.load <invariant_inr.IRLINR.load>` reads it), saved as soon
    as training ends.
``losses.png``
    The training losses per epoch.
``reconstructions.png``
    For one test sprite of each shape, seven copies rotated by :math:`2\pi k / 7` (drawn exactly,
    not interpolated), in three rows each: the inputs, their reconstructions (the INR rendered at
    the encoded pose), and the canonical reconstructions (rendered from ``z`` alone at the identity
    pose), like the paper's figures 3, 8 and 10. Invariance shows as identical canonical rows;
    it means something only where the reconstructions resemble the inputs, so the report gives
    the reconstructions' PSNR beside that of a blank (mean-grey) image and says so plainly when
    they are no better.
``rotation.png``
    True against predicted rotation, like the paper's figure 4: every test sprite is moved by a
    known random pose :math:`g`, and the pose change the encoder predicts between the two images
    (:func:`~invariant_inr.metrics.relative_pose`) is compared with :math:`g`. Squares (symmetric
    under 90 degrees) and ellipses (180 degrees) have no unique rotation, so only hearts can lie
    on the diagonal everywhere; the other shapes show parallel lines.
``clusters.png`` and ``confusion.png``
    Up to 64 test sprites of each k-means cluster of PCA-whitened ``z`` (the paper's figures
    11-12), and the shape-by-cluster counts with matched clusters on the diagonal (figure 5); a
    collapsed code, which cannot be whitened, is clustered as it is.
``scores.json``
    Clustering scores of k-means on ``z`` against the shape labels (accuracy with Hungarian
    matching, NMI, ARI) next to two baselines at no training cost (k-means on raw pixels, and on
    pixels canonicalised by the same rule), and the same on PCA-whitened ``z`` beside the
    canonicalised pixels' 10 whitened principal components, pose recovery overall and per shape
    (:func:`~invariant_inr.metrics.pose_recovery`), invariance and reconstruction measures, the
    settings, the training history, the time taken, and what was skipped and why. It is
    rewritten after every stage.

A part that needs an optional extra that is not installed (matplotlib for the plots) is skipped
with a one-line note; a part that fails is reported in one line and the others still run.
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
from .cluster import kmeans, whiten
from .datasets import Sprites, make_sprites, render_sprites
from .inference import encode_all
from .metrics import (
    adjusted_rand_index,
    clustering_accuracy,
    code_invariance,
    confusion_matrix,
    match_clusters,
    normalized_mutual_info,
    pose_recovery,
    relative_pose,
)
from .model import IRLINR
from .plotting import plot_confusion, plot_losses, plot_rotation, save_cluster_grid, save_image_grid
from .presets import DEMO, preset, training_preset
from .se2 import compose, random_pose
from .training import fit

__all__ = ["DEFAULT_OUT", "clustering_scores", "reconstruction_quality", "run_demo", "to_json"]

DEFAULT_OUT = "invariant-inr-demo"
NUM_COPIES = 7  # rotated copies per sprite in reconstructions.png (2*pi/7 steps, as the paper's figure 3)
POSE_TRANSLATION_STD = 0.05  # std of the known translations applied for the pose evaluation (normalised units)
BLANK_MARGIN_DB = 1.0  # reconstructions less than this much better than a blank image count as blank
COLLAPSED_COSINE = 0.95  # mean cosine of z between different images above which the code counts as collapsed

# what each file shows, for the last lines of the report
FILE_NOTES = {
    "model": "the trained model (IRLINR.load)",
    "losses": "training losses per epoch",
    "reconstructions": "inputs / reconstructions / canonical reconstructions of rotated copies",
    "rotation": "true vs predicted rotation (paper figure 4)",
    "clusters": "64 test images per k-means cluster of PCA-whitened z (paper figures 11-12)",
    "confusion": "shape-by-cluster counts (paper figure 5)",
    "scores": "every number of this run",
}


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


def reconstruction_quality(inputs: Tensor, reconstructions: Tensor, *, data_range: float = 1.0) -> dict[str, Any]:
    """PSNR of ``reconstructions`` against ``inputs``, beside the PSNR of a blank image, and whether they are blank.

    The blank reference is each input's own mean grey level (a constant image): a model that has
    learned nothing scores about that. Reconstructions count as ``blank`` when they beat it by less
    than :data:`BLANK_MARGIN_DB` decibels; then the invariance of the canonical renderings means
    nothing (a constant image is perfectly invariant).

    Args:
        inputs: ``(N, C, H, W)`` images.
        reconstructions: ``(N, C, H, W)`` reconstructions of them.
        data_range: the images' value range (1 for images in ``[0, 1]``).

    Returns:
        ``{"mse", "psnr_db", "blank_psnr_db", "blank"}``.

    Example:
        >>> import torch
        >>> x = torch.zeros(2, 1, 8, 8); x[:, :, 2:6, 2:6] = 1.0
        >>> reconstruction_quality(x, torch.zeros_like(x))["blank"], reconstruction_quality(x, 0.9 * x)["blank"]
        (True, False)
    """
    if inputs.shape != reconstructions.shape:
        raise ValueError(f"inputs and reconstructions must have one shape, got {tuple(inputs.shape)} and {tuple(reconstructions.shape)}")
    inputs, reconstructions = inputs.double(), reconstructions.double()
    mse = float((reconstructions - inputs).pow(2).mean())
    blank = inputs.mean(dim=(1, 2, 3), keepdim=True).expand_as(inputs)
    blank_mse = float((blank - inputs).pow(2).mean())

    def psnr(error: float) -> float:
        return 10.0 * math.log10(data_range**2 / max(error, 1e-12))

    return {
        "mse": mse,
        "psnr_db": psnr(mse),
        "blank_psnr_db": psnr(blank_mse),
        "blank": psnr(mse) < psnr(blank_mse) + BLANK_MARGIN_DB,
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


class _Report:
    """The demo's output folder: files as they are written, ``scores.json`` after every stage, skipped parts."""

    def __init__(self, out: Path, say: Callable[[str], None], scores: dict[str, Any]) -> None:
        self.out, self.say, self.scores = out, say, scores
        self.files: dict[str, str] = {}
        self.scores["skipped"] = {}

    def wrote(self, key: str, path: Path) -> None:
        self.files[key] = str(path)
        self.save_scores()

    def save_scores(self) -> None:
        path = self.out / "scores.json"
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(to_json(self.scores), indent=2) + "\n")
        os.replace(temporary, path)  # atomic: a reader never sees half a file
        self.files["scores"] = str(path)

    def attempt(self, part: str, step: Callable[[], None]) -> bool:
        """Run one optional part; a missing extra or a failure is noted in one line and the demo goes on."""
        try:
            step()
            return True
        except ImportError as error:  # an optional extra (matplotlib, scipy) is not installed
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            self.scores["skipped"][part] = {"reason": reason, "kind": "missing-dependency"}
            self.say(f"skipped {part}: {reason}")
        except Exception as error:  # noqa: BLE001 - one part failing must not lose the others
            reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            self.scores["skipped"][part] = {"reason": reason, "kind": "failed"}
            self.say(f"failed {part}: {reason}")
        self.save_scores()
        return False


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
    """Train on sprites and write the model, pictures and ``scores.json`` to ``out`` (see the module docstring).

    Args:
        out: output folder (created).
        quick: a short smoke run (a few hundred images, seconds on 2 CPU cores) instead of the
            default of a few minutes; the sizes are :data:`invariant_inr.presets.DEMO`. Too short to
            learn much: the report says so.
        epochs: override the number of epochs.
        num_train: override the number of training images.
        seed: seed of the data, the model and the training.
        device: where to train (default: CUDA when available, else the CPU).
        progress: show progress bars.
        log: called with each line of the report (``None``: silent).

    Returns:
        The content of ``scores.json``, plus ``"files"``: the paths written, by kind (``"model"``,
        ``"losses"``, ``"reconstructions"``, ``"rotation"``, ``"clusters"``, ``"confusion"``,
        ``"scores"``); the parts that were skipped, and why, are under ``"skipped"``.

    Example:
        >>> import tempfile
        >>> result = run_demo(tempfile.mkdtemp(), quick=True, num_train=32, epochs=1,
        ...                   progress=False, log=None)  # doctest: +SKIP
        >>> sorted(result["files"])  # doctest: +SKIP
        ['clusters', 'confusion', 'losses', 'model', 'reconstructions', 'rotation', 'scores']
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
    model_kwargs, fit_kwargs = preset("quick"), training_preset("quick")
    report = _Report(out, say, {
        "settings": {**settings, "seed": seed, "device": str(device), "preset": "quick", "model": model_kwargs,
                     "pose_translation_std": POSE_TRANSLATION_STD, "rotated_copies": NUM_COPIES},
        "versions": {"invariant_inr": __version__, "torch": torch.__version__, "python": platform.python_version()},
    })

    say(f"invariant-inr {__version__} demo: {settings['num_train']} training sprites ({size}x{size}), "
        f"{settings['epochs']} epoch(s) on {device}")
    train = make_sprites(settings["num_train"], size=size, seed=seed)
    test = make_sprites(settings["num_test"], size=size, seed=seed + 1)
    model = IRLINR(1, size, seed=seed, **model_kwargs)
    started = time.perf_counter()
    history = fit(model, train.images, epochs=settings["epochs"], seed=seed, device=device, progress=progress, **fit_kwargs)
    train_seconds = time.perf_counter() - started
    model.save(out / "model.pt")  # first of all: the training is the expensive part
    report.scores["training"] = {"seconds": train_seconds, "epochs": history.epochs, "history": dict(history), **fit_kwargs}
    report.wrote("model", out / "model.pt")
    say(f"trained in {train_seconds:.0f} s; last epoch: "
        + ", ".join(f"{name} {history[name][-1]:.4f}" for name in ("total", "recon", "consis", "symm")))
    report.attempt("losses.png", lambda: report.wrote("losses", plot_losses(
        out / "losses.png", {k: history[k] for k in ("total", "recon", "consis", "symm")},
        title=f"{settings['num_train']} sprites, {history.epochs} epoch(s)")))

    model.eval()
    enc = encode_all(model, test.images, device=device)
    report.attempt("reconstructions", lambda: _reconstructions(model, test, report))
    report.attempt("pose recovery", lambda: _pose(model, test, enc.z, enc.theta, enc.tau, device, seed, report))
    report.attempt("clustering", lambda: _clustering(model, test, enc.z, seed, report))
    _summary(report)
    return {**to_json(report.scores), "files": dict(report.files)}


def _reconstructions(model: IRLINR, test: Sprites, report: _Report) -> None:
    """Rotated copies of one sprite per shape: inputs / reconstructions / canonical reconstructions, and their measures."""
    num_classes = len(test.shapes)
    picks = torch.stack([(test.labels == k).nonzero()[0, 0] for k in range(num_classes) if bool((test.labels == k).any())])
    copies = _rotated_copies(test, picks, NUM_COPIES)
    with torch.no_grad():
        recon = model.reconstruct(copies.to(model.device)).cpu()
        canon = model.canonical(copies.to(model.device)).cpu()
    quality = reconstruction_quality(copies, recon)
    invariance = {
        "input_spread": _spread(copies, NUM_COPIES),
        "canonical_spread": _spread(canon, NUM_COPIES),
        "reconstruction_mse": quality["mse"],
        "reconstruction_psnr_db": quality["psnr_db"],
        "blank_image_psnr_db": quality["blank_psnr_db"],
        "reconstructions_blank": quality["blank"],
    }
    invariance["canonical_to_input_spread_ratio"] = invariance["canonical_spread"] / max(invariance["input_spread"], 1e-12)
    report.scores.setdefault("invariance", {}).update(invariance)
    rows, labels = [], []
    for block, k in enumerate(picks.tolist()):
        part = slice(block * NUM_COPIES, (block + 1) * NUM_COPIES)
        rows += [copies[part], recon[part], canon[part]]
        labels += [f"{test.shapes[int(test.labels[k])]}: input", "reconstruction", "canonical"]
    title = (f"copies rotated by 2πk/{NUM_COPIES}\n"  # two lines: one is wider than a narrow grid
             f"reconstruction PSNR {quality['psnr_db']:.1f} dB (blank image {quality['blank_psnr_db']:.1f} dB)")
    report.wrote("reconstructions", save_image_grid(report.out / "reconstructions.png", rows, row_labels=labels, title=title))


def _pose(model: IRLINR, test: Sprites, z: Tensor, theta: Tensor, tau: Tensor, device: Any, seed: int, report: _Report) -> None:
    """Move every test sprite by a known pose g and compare the predicted pose change with g; draw rotation.png."""
    g_theta, g_tau = random_pose(len(test), POSE_TRANSLATION_STD, generator=torch.Generator().manual_seed(seed + 2))
    moved = encode_all(model, _moved_sprites(test, g_theta, g_tau), device=device)
    hat_theta, hat_tau = relative_pose(theta, tau, moved.theta, moved.tau)
    pose = {"all": pose_recovery(g_theta, g_tau, hat_theta, hat_tau).as_dict()}
    for k, name in enumerate(test.shapes):
        member = test.labels == k
        if int(member.sum()) >= 3:
            pose[name] = pose_recovery(g_theta[member], g_tau[member], hat_theta[member], hat_tau[member]).as_dict()
    report.scores["pose_recovery"] = pose
    # raw cosines (not centred), so that a collapsed code scores near 1 between different images too:
    # invariance means something only when that figure is clearly lower
    cosines = code_invariance(moved.z, z, centre=False)
    cosine, others = cosines.same_image, cosines.other_images
    report.scores.setdefault("invariance", {}).update(
        {"z_cosine_similarity_after_known_pose": cosine, "z_cosine_similarity_other_images": others})
    report.save_scores()
    heart = pose.get("heart", pose["all"])
    report.wrote("rotation", plot_rotation(
        report.out / "rotation.png", g_theta, hat_theta, groups=test.labels, group_names=list(test.shapes),
        title=f"hearts: {heart['rotation_within_5deg']:.0%} within 5°, median error {heart['rotation_median_error_deg']:.1f}°",
    ))


def _clustering(model: IRLINR, test: Sprites, z: Tensor, seed: int, report: _Report) -> None:
    """k-means on z: the cluster picture first, then the scores beside two baselines that need no training, then the counts.

    The picture and the counts show k-means on PCA-whitened ``z`` (what ``invariant-inr cluster`` does by default, and
    what won on MNIST(U) and the sprites, ``docs/results.md``); a code that cannot be whitened (collapsed) is shown as it is.
    """
    num_classes = len(test.shapes)
    plain = kmeans(z, num_classes, seed=seed).assignments
    try:
        whitened: Tensor | None = kmeans(whiten(z), num_classes, seed=seed).assignments
    except ValueError as error:  # a code without variance (collapsed) cannot be whitened: say so, keep the rest
        whitened, why_not = None, str(error)
    assignments = plain if whitened is None else whitened
    report.wrote("clusters", save_cluster_grid(report.out / "clusters.png", test.images, assignments, seed=seed))
    canonical_pixels = canonicalize(test.images, model.config.canonical_rule).flatten(1)  # type: ignore[arg-type]
    clustering = {
        "kmeans_z": clustering_scores(test.labels, plain),
        "kmeans_raw_pixels": clustering_scores(test.labels, kmeans(test.images.flatten(1), num_classes, seed=seed).assignments),
        "kmeans_canonicalized_pixels": clustering_scores(test.labels, kmeans(canonical_pixels, num_classes, seed=seed).assignments),
    }
    if whitened is None:
        clustering["kmeans_whitened_z"] = {"skipped": why_not}
    else:  # the pixels get the same step, on 10 principal components
        clustering["kmeans_whitened_z"] = clustering_scores(test.labels, whitened)
        clustering["kmeans_whitened_canonicalized_pixels"] = clustering_scores(
            test.labels, kmeans(whiten(canonical_pixels, dims=10), num_classes, seed=seed).assignments
        )
    matched = match_clusters(test.labels, assignments)  # cluster -> shape
    order = sorted(range(num_classes), key=lambda c: matched.get(c, num_classes + c))
    counts = confusion_matrix(test.labels, assignments, num_classes=num_classes, num_clusters=num_classes)[:, order]
    shown = "kmeans_z" if whitened is None else "kmeans_whitened_z"
    clustering["confusion_matrix"] = {"clustering": shown, "rows": list(test.shapes), "columns": order, "counts": counts.tolist()}
    report.scores["clustering"] = clustering
    report.save_scores()
    accuracy = clustering[shown]["accuracy"]
    label = "k-means on z" if whitened is None else "k-means on PCA-whitened z"
    report.wrote("confusion", plot_confusion(
        report.out / "confusion.png", counts, class_names=list(test.shapes), cluster_names=[str(c) for c in order],
        title=f"{label}: accuracy {accuracy:.1%}"))


def _summary(report: _Report) -> None:
    """The last lines: the figures that matter, plainly qualified, then which file shows what."""
    say, scores = report.say, report.scores
    invariance = scores.get("invariance", {})
    if "reconstruction_psnr_db" in invariance:
        line = (f"reconstructions: PSNR {invariance['reconstruction_psnr_db']:.1f} dB against the inputs "
                f"(a blank image: {invariance['blank_image_psnr_db']:.1f} dB)")
        if invariance["reconstructions_blank"]:
            say(line + " - BLANK: the model has not learned to draw the images yet; this run was too short to mean "
                "anything (run the demo without --quick, or with more --epochs)")
        else:
            say(line)
            say(f"canonical reconstructions of rotated copies vary {invariance['canonical_to_input_spread_ratio']:.3f}x "
                "as much as the inputs (0 = identical)")
    if "z_cosine_similarity_after_known_pose" in invariance:
        same, other = invariance["z_cosine_similarity_after_known_pose"], invariance["z_cosine_similarity_other_images"]
        line = f"cosine of z: {same:.3f} between moved copies of an image, {other:.3f} between different images"
        if other > COLLAPSED_COSINE:
            line += " - COLLAPSED: different images get nearly the same code, so its invariance means nothing yet"
        say(line)
    clustering = scores.get("clustering")
    if clustering:
        z_scores = clustering["kmeans_z"]
        say(f"k-means on z: accuracy {z_scores['accuracy']:.3f}, NMI {z_scores['nmi']:.3f}, ARI {z_scores['ari']:.3f} "
            f"(raw pixels: {clustering['kmeans_raw_pixels']['accuracy']:.3f}, canonicalised pixels: "
            f"{clustering['kmeans_canonicalized_pixels']['accuracy']:.3f})")
        if "accuracy" in clustering.get("kmeans_whitened_z", {}):
            say(f"k-means on PCA-whitened z: accuracy {clustering['kmeans_whitened_z']['accuracy']:.3f} (canonicalised pixels, "
                f"10 whitened principal components: {clustering['kmeans_whitened_canonicalized_pixels']['accuracy']:.3f})")
    pose = scores.get("pose_recovery", {})
    if "heart" in pose:
        rule = scores["settings"]["model"].get("canonical_rule", "")
        source = (f" (pose from the {rule!r} rule on the pixels, nothing learned)"
                  if scores["settings"]["model"].get("pose") == "analytic" else " (learned pose head)")
        say(f"rotation recovery on hearts: circular correlation {pose['heart']['rotation_circular_correlation']:.3f}, "
            f"median error {pose['heart']['rotation_median_error_deg']:.1f} deg{source}")
    for key, note in FILE_NOTES.items():
        if key in report.files:
            say(f"wrote {report.files[key]}: {note}")
    if scores["skipped"]:
        say("skipped: " + "; ".join(f"{part} ({item['reason']})" for part, item in scores["skipped"].items()))
