#!/usr/bin/env python
r"""Reproduce the paper's MNIST(U) figures with this library (issue 3): one command per protocol.

Protocols::

    python benchmarks/reproduce.py quick                 # CPU: 10,000 / 2,000 images, 20 min of training per model
    python benchmarks/reproduce.py quick --rule both     # one model per canonical rule ("com" vs "moments")
    python benchmarks/reproduce.py quick --rule all      # one model per rule of invariant_inr.center
    python benchmarks/reproduce.py full --device cuda    # the paper's settings, Tables 1-4 (GPU)
    python benchmarks/reproduce.py slice --skip-scan     # full's data and model, 2 min of training (GPU)
    python benchmarks/reproduce.py smoke                 # seconds; the test-suite runs it on a fake MNIST

``quick``
    MNIST(U) (digits in 50 x 50, rotation ~ U[0, 2 pi), translation ~ N(0, 5^2) pixels) with
    10,000 training images from the MNIST train split and 2,000 test images from the test split
    (seeded random subsets). The model is the named preset of :mod:`invariant_inr.presets`
    (``--preset``, default ``mnist-quick``). Training runs in chunks of 25 steps (``fit``'s
    ``max_steps_per_epoch``; each chunk draws from a fresh shuffle of the training set, and the
    history counts chunks as epochs) and stops after the chunk in which ``--time-limit`` seconds
    (default 1200) have passed.
``full``
    The paper's settings (appendices A-B): 60,000 / 10,000 images, the ``paper`` preset (ResNet18,
    learned pose, centre-of-mass rule), Adam with learning rate 1e-4, weight decay 5e-4, batch size
    128, 200 epochs, no time limit; one model per ``d`` in ``--dims`` (Table 4, default
    32 ... 512); Tables 1-3 are reported for the largest ``d``.
``slice``
    A timed slice of ``full`` (``benchmarks/gpu_check.py`` runs it): all 60,000 training images,
    the seeded random subset of 2,000 test images that ``quick`` uses (so the pixel baselines of
    a ``quick`` run hold for it), the ``paper`` preset (``--preset`` for another),
    trained in chunks of 100 steps for ``--time-limit`` seconds (default 120) per model, so that
    the time per pass over the training set and the figures after that many passes are recorded.
``smoke``
    300 / 200 images, a tiny model and a 20 s budget: checks the harness end to end.

Every protocol computes, on the test images (all written to ``OUT/results.json``, with a
Markdown summary beside the paper's numbers in ``OUT/results.md``):

* **baselines** at no training cost: k-means (10 clusters, best of 10 k-means++ inits, over 5
  seeds) and Ward agglomerative clustering on raw pixels, and on pixels canonicalised by each rule
  of :mod:`invariant_inr.center`: the paper's centre-of-mass pose (``canonicalize(rule="com")``),
  the principal-axis rule (``"moments"``) and the others the library offers;
* **Table 1** (pose): for each test image :math:`J = S_g[J_0]` with known :math:`g = (\theta, \tau)`
  and its un-posed centred digit :math:`J_0`, both are encoded and
  :func:`~invariant_inr.metrics.relative_pose` of the two predicted poses is compared with
  :math:`g` (:func:`~invariant_inr.metrics.pose_recovery`); the same figures for the canonical
  rules alone (no model) show what each rule allows;
* **Table 2**: k-means (5 seeds, mean +- std) and Ward agglomerative clustering on ``z``;
* **Table 3**: SCAN on ``z`` (features mode: the clustering head is trained on the ``z`` of the
  training images and evaluated on the test ``z``; encoder mode: on images through the frozen
  encoder with R + T augmentation, chosen by ``--scan-mode auto`` only when its estimated time
  fits ``--scan-budget``), 5 seeds, mean +- std;
* **Table 4** (``full`` only): Table 3 for several latent sizes ``d``.

Training checkpoints go to ``OUT/ckpt_<tag>/last.pt`` after every epoch (``slice``: none) and an
interrupted run resumes from them (``--no-resume`` starts afresh); the time already spent counts against
``--time-limit``. ``--config`` overrides model, training and SCAN options, e.g.
``--config '{"model": {"latent_dim": 64}, "fit": {"lr": 1e-3}, "scan": {"epochs": 50}}'``
(flat keys are routed by name; a path to a ``.json`` file works too).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from invariant_inr import IRLINR, fit, presets
from invariant_inr.center import CANONICAL_RULES, canonical_pose, canonicalize
from invariant_inr.cluster import (
    SCAN,
    CenteredL2Normalization,
    PCAWhitening,
    agglomerative,
    kmeans,
    l2_normalize,
    save_assignments,
    save_embeddings,
    whiten,
)
from invariant_inr.datasets import MNISTU
from invariant_inr.inference import encode_all
from invariant_inr.metrics import (
    adjusted_rand_index,
    clustering_accuracy,
    code_invariance,
    normalized_mutual_info,
    pose_recovery,
    relative_pose,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers shared by the benchmark scripts
from _run_record import jsonable, run_record, write_json  # noqa: E402

__all__ = ["PAPER", "PROTOCOLS", "build_parser", "main", "render_markdown"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_ROOT = REPO_ROOT.parent / "shared" / "data" / "mnist"
NUM_CLASSES = 10
RULES: tuple[str, ...] = tuple(CANONICAL_RULES)  # every rule the library offers (baselines and --rule all)
BOTH_RULES = ("com", "moments")  # --rule both: the paper's rule against the principal-axis rule

# ------------------------------------------------------------------------------------------------
# Settings. The model preset lives in invariant_inr.presets. Edit PROTOCOLS to change a protocol's defaults.
# ------------------------------------------------------------------------------------------------

# SCAN on z: SCAN's 20 neighbours and entropy weight 5; a learning rate of 1e-2 instead of SCAN's
# 1e-4 and 50 + 15 epochs, because the head here is trained for seconds, not hours (on PCA-32 features
# of MNIST(U) this reached the accuracy of 125 epochs at lr 1e-3 in a third of the time).
SCAN_DEFAULTS: dict[str, Any] = dict(
    num_neighbors=20, entropy_weight=5.0, epochs=50, self_label_epochs=15, lr=1e-2, batch_size=512, num_heads=3
)

PROTOCOLS: dict[str, dict[str, Any]] = {
    "quick": {
        "train_size": 10_000,
        "test_size": 2_000,
        "time_limit": 1200.0,
        "epochs": 10_000,  # the time limit does the cut
        # fit() checks the time limit after each epoch; cutting an "epoch" at 25 steps (each one a fresh
        # shuffle of the training set) checks it every 25 steps and checkpoints as often
        "max_steps_per_epoch": 25,
        "preset": "mnist-quick",
        "dims": None,  # the preset's latent_dim
        "device": "cpu",
        "scan_mode": "auto",
        "scan_runs": 5,
        "kmeans_seeds": 5,
        "model_overrides": {},
        "scan_overrides": {},
    },
    "full": {
        "train_size": 60_000,
        "test_size": 10_000,
        "time_limit": None,
        "epochs": 200,  # paper, appendix B
        "max_steps_per_epoch": None,
        "preset": "paper",
        "dims": (32, 64, 128, 256, 512),  # paper, Table 4
        "device": "auto",
        "scan_mode": "auto",
        "scan_runs": 5,
        "kmeans_seeds": 5,
        "model_overrides": {},
        "scan_overrides": {},
    },
    "slice": {
        "train_size": 60_000,
        "test_size": 2_000,  # the quick protocol's test subset (same seed): its pixel baselines apply
        "time_limit": 120.0,
        "epochs": 10_000,  # the time limit does the cut
        # chunks of 100 steps: the time limit is checked every 100 steps,
        # so a run overshoots its budget by at most one chunk, whatever an epoch costs on the device
        "max_steps_per_epoch": 100,
        "checkpoints": False,  # the paper model's checkpoint (with Adam's state) is 0.9 GB: not every 100 steps
        "preset": "paper",
        "dims": None,  # the preset's latent_dim
        "device": "auto",
        "scan_mode": "features",
        "scan_runs": 5,
        "kmeans_seeds": 5,
        "model_overrides": {},
        "scan_overrides": {},
    },
    "smoke": {
        "train_size": 300,
        "test_size": 200,
        "time_limit": 20.0,
        "epochs": 10_000,
        "max_steps_per_epoch": None,
        "preset": "quick",
        "dims": None,
        "device": "cpu",
        "scan_mode": "features",
        "scan_runs": 2,
        "kmeans_seeds": 2,
        "model_overrides": dict(
            latent_dim=8, num_frequencies=16, inr_hidden=(32,), hyper_hidden=(32,), head_hidden=(64,), pixel_fraction=0.25
        ),
        "scan_overrides": dict(num_neighbors=5, epochs=5, self_label_epochs=1, batch_size=64, num_heads=1),
    },
}
"""Defaults of each protocol; command-line options override them."""

IMAGE_SIZE = 50  # MNIST(U), paper section 4.1.1
TRANSLATION_STD_PIXELS = 5.0

PAPER: dict[str, Any] = {
    "source": "Kwon, Choi, Ryu, ICML 2023 (arXiv 2304.13995), MNIST(U)",
    "table1": {"rotation": 0.9891, "translation_x": 0.999, "translation_y": 0.999},
    "table2": {"kmeans": (59.6, 1.12), "agglomerative": (71.53, 1.01)},
    "table3": {"scan": (90.4, 1.74), "note": "d = 512, SCAN augmentation S1 + S2 + R + T (Table 7)"},
    "table4": {32: (84.18, 2.11), 64: (86.0, 1.78), 128: (85.8, 1.46), 256: (87.0, 0.89), 512: (90.4, 1.74)},
}
"""The paper's MNIST(U) numbers (accuracies in percent, mean and standard deviation over 5 runs)."""


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[reproduce {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Timer:
    """``with Timer(times, "phase"):`` records the phase's wall time in seconds into ``times``."""

    def __init__(self, times: dict[str, float], name: str) -> None:
        self.times, self.name = times, name

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.times[self.name] = round(time.perf_counter() - self.start, 3)
        if exc[0] is None:
            log(f"{self.name}: {self.times[self.name]:.1f} s")


def scores(labels: Tensor, predictions: Tensor) -> dict[str, float]:
    """Hungarian accuracy, NMI and ARI of one clustering."""
    return {
        "accuracy": clustering_accuracy(labels, predictions),
        "nmi": normalized_mutual_info(labels, predictions),
        "ari": adjusted_rand_index(labels, predictions),
    }


def summarize(runs: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Mean, sample standard deviation (ddof=1; 0 for one run) and values of each score over runs."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key in ("accuracy", "nmi", "ari"):
        values = np.array([run[key] for run in runs], dtype=np.float64)
        out[key] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "values": values.tolist(),
        }
    return out


def cluster_features(features: Tensor, labels: Tensor, *, seeds: Sequence[int], with_agglomerative: bool = True) -> dict[str, Any]:
    """k-means (best of 10 inits, once per seed) and Ward agglomerative clustering, scored."""
    features = features.detach().cpu().float()
    runs = [scores(labels, kmeans(features, NUM_CLASSES, num_init=10, seed=int(seed)).assignments) for seed in seeds]
    out: dict[str, Any] = {"kmeans": summarize(runs)}
    if with_agglomerative:
        out["agglomerative"] = summarize([scores(labels, agglomerative(features, NUM_CLASSES, linkage="ward"))])
        out["agglomerative"]["note"] = "deterministic: one run"
    return out


def pca_projection(features: Tensor, dims: int) -> Tensor:
    """``features`` centred and projected on their ``dims`` leading principal directions (not whitened)."""
    pca = PCAWhitening(dims=dims).fit(features.double())
    return (pca.transform(features.double()) * pca.scale).float()  # undo the whitening's unit variance


def pose_figures(theta_true: Tensor, tau_true: Tensor, base: tuple[Tensor, Tensor], moved: tuple[Tensor, Tensor]) -> dict[str, float]:
    """Pose recovery of ``g`` from the predicted poses of ``J0`` (``base``) and ``J = S_g[J0]`` (``moved``)."""
    theta_hat, tau_hat = relative_pose(base[0].double(), base[1].double(), moved[0].double(), moved[1].double())
    return pose_recovery(theta_true.double(), tau_true.double(), theta_hat, tau_hat).as_dict()


def z_invariance(z_moved: Tensor, z_base: Tensor) -> dict[str, float]:
    """Mean cosine of ``z(J)`` with ``z(J0)`` of the same digit, and with every other digit's ``J0``.

    Centred first (:func:`invariant_inr.metrics.code_invariance`): an invariant and informative ``z``
    scores near 1 for the same image and near 0 for another.
    """
    result = code_invariance(z_moved, z_base)
    return {"cos_same_image": result.same_image, "cos_other_image": result.other_images}


# ------------------------------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------------------------------


def _load_presets(name: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Model and training keyword arguments of preset ``name`` and where they came from."""
    if name not in presets.preset_names():
        raise SystemExit(f"unknown preset {name!r}; invariant_inr.presets has {presets.preset_names()}")
    return presets.preset(name), presets.training_preset(name), f"invariant_inr.presets.preset({name!r})"


def _parse_config(text: str | None) -> dict[str, dict[str, Any]]:
    """``--config``: JSON (or a .json file) with sections model/fit/scan, or flat keys routed by name."""
    sections: dict[str, dict[str, Any]] = {"model": {}, "fit": {}, "scan": {}}
    if not text:
        return sections
    path = Path(text)
    raw = path.read_text() if text.strip().endswith(".json") and path.is_file() else text
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SystemExit(f"--config is not valid JSON ({error}): {text!r}") from None
    if not isinstance(data, dict):
        raise SystemExit(f"--config must be a JSON object, got {type(data).__name__}")
    known = {
        "model": set(inspect.signature(IRLINR.__init__).parameters) - {"self", "in_channels", "image_size"},
        "fit": set(inspect.signature(fit).parameters) - {"model", "data", "checkpoint_dir", "resume", "callback"},
        "scan": (set(inspect.signature(SCAN.__init__).parameters) - {"self", "num_clusters"}) | {"runs"},
    }
    for key, value in data.items():
        if key in sections:
            if not isinstance(value, dict):
                raise SystemExit(f"--config section {key!r} must be an object, got {value!r}")
            unknown = set(value) - known[key]
            if unknown:
                raise SystemExit(f"--config {key}: unknown option(s) {sorted(unknown)}; known: {sorted(known[key])}")
            sections[key].update(value)
            continue
        owners = [section for section, names in known.items() if key in names]
        if len(owners) != 1:
            why = "is ambiguous between " + ", ".join(owners) if owners else "is not an option of IRLINR, fit or SCAN"
            raise SystemExit(f"--config key {key!r} {why}; put it in a section, e.g. {{\"model\": {{{key!r}: ...}}}}")
        sections[owners[0]][key] = value
    return sections


def build_parser() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--mnist-root", type=Path, default=DEFAULT_MNIST_ROOT, help="folder with the MNIST IDX files (default: %(default)s)")
    shared.add_argument("--out", type=Path, default=None, help="output folder (default: benchmarks/results/<protocol>)")
    shared.add_argument(
        "--rule", choices=(*RULES, "both", "all"), default=None,
        help="canonical rule of the model; 'both' trains one model for 'com' and one for 'moments', 'all' one per "
        "rule (default: the preset's rule)",
    )
    shared.add_argument("--time-limit", type=float, default=None, help="training budget per model in seconds (0 or negative: none)")
    shared.add_argument("--seed", type=int, default=0, help="seed of the data subsets and poses, the model and the clusterings")
    shared.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    shared.add_argument("--skip-scan", action="store_true", help="leave out SCAN (Table 3/4)")
    shared.add_argument("--skip-baselines", action="store_true", help="leave out the pixel baselines and the rules' own pose recovery")
    shared.add_argument("--preset", default=None, help="model preset from invariant_inr.presets (default: per protocol)")
    shared.add_argument("--config", default=None, help="JSON overrides: {'model': {...}, 'fit': {...}, 'scan': {...}} or a .json file")
    shared.add_argument("--device", default=None, help="cpu, cuda, cuda:1, or auto (cuda if available)")
    shared.add_argument("--dims", default=None, help="comma-separated latent sizes d (full: Table 4; default per protocol)")
    shared.add_argument(
        "--baseline-seeds", type=int, default=None,
        help="k-means seeds of the pixel baselines (default: as for z, 5; each seed is the best of 10 inits)",
    )
    shared.add_argument("--scan-mode", choices=("auto", "features", "encoder"), default=None, help="SCAN on z features or on images through the encoder")
    shared.add_argument("--scan-budget", type=float, default=300.0, help="seconds SCAN may take in encoder mode under --scan-mode auto")
    shared.add_argument(
        "--noise", type=float, default=0.0, metavar="SIGMA",
        help="Gaussian pixel noise of standard deviation SIGMA on every image, training and test, and on the "
        "un-posed test digits the pose is measured against (an independent draw); default 0",
    )
    shared.add_argument("--no-resume", action="store_true", help="ignore existing training checkpoints (they are overwritten)")
    shared.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bars (default: when stderr is a terminal)")
    # hidden: shorter checks of the harness on the real data
    shared.add_argument("--train-size", type=int, default=None, help=argparse.SUPPRESS)
    shared.add_argument("--test-size", type=int, default=None, help=argparse.SUPPRESS)
    shared.add_argument("--image-size", type=int, default=IMAGE_SIZE, help=argparse.SUPPRESS)

    parser = argparse.ArgumentParser(
        prog="reproduce.py",
        description="Reproduce the IRL-INR paper's MNIST(U) figures (Tables 1-4) with invariant-inr.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    sub.add_parser("quick", parents=[shared], help="CPU protocol: 10,000 / 2,000 images, 20 min per model")
    sub.add_parser("full", parents=[shared], help="the paper's settings (GPU): 60,000 / 10,000 images, ResNet18, 200 epochs, d = 32..512")
    sub.add_parser("slice", parents=[shared], help="a timed slice of full (GPU): 60,000 / 2,000 images, 2 min of training per model")
    sub.add_parser("smoke", parents=[shared], help="seconds: checks the harness end to end")
    return parser


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Everything a run needs, from the protocol's defaults and the command line."""
    proto = PROTOCOLS[args.protocol]
    preset_name = args.preset or proto["preset"]
    model_kwargs, fit_kwargs, preset_source = _load_presets(preset_name)
    overrides = _parse_config(args.config)
    model_kwargs.update(proto["model_overrides"])
    model_kwargs.update(overrides["model"])
    fit_kwargs = {"epochs": proto["epochs"], **fit_kwargs, **overrides["fit"]}
    if proto["max_steps_per_epoch"] is not None:
        fit_kwargs.setdefault("max_steps_per_epoch", proto["max_steps_per_epoch"])
    scan_kwargs = {**SCAN_DEFAULTS, **proto["scan_overrides"], **overrides["scan"]}
    scan_runs = int(scan_kwargs.pop("runs", proto["scan_runs"]))
    time_limit = proto["time_limit"] if args.time_limit is None else (args.time_limit if args.time_limit > 0 else None)
    if "time_limit" in fit_kwargs:  # --config {"fit": {"time_limit": ...}} wins over the protocol default
        time_limit = fit_kwargs.pop("time_limit")
    if args.rule in ("both", "all"):
        rules = list(BOTH_RULES if args.rule == "both" else RULES)
    else:
        rules = [args.rule or model_kwargs.get("canonical_rule", "com")]
    if args.dims:
        dims = [int(part) for part in args.dims.split(",") if part.strip()]
    elif proto["dims"]:
        dims = list(proto["dims"])
    else:
        dims = [int(model_kwargs.get("latent_dim", 32))]
    device_name = args.device or proto["device"]
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    return {
        "protocol": args.protocol,
        "train_size": args.train_size or proto["train_size"],
        "test_size": args.test_size or proto["test_size"],
        "image_size": args.image_size,
        "translation_std_pixels": TRANSLATION_STD_PIXELS,
        "seed": args.seed,
        "preset": preset_name,
        "preset_source": preset_source,
        "model": model_kwargs,
        "fit": fit_kwargs,
        "time_limit_per_model": time_limit,
        "checkpoints": proto.get("checkpoints", True),
        "scan": scan_kwargs,
        "scan_runs": scan_runs,
        "scan_mode": args.scan_mode or proto["scan_mode"],
        "scan_budget": args.scan_budget,
        "skip_scan": bool(args.skip_scan),
        "skip_baselines": bool(args.skip_baselines),
        "kmeans_seeds": [args.seed + i for i in range(proto["kmeans_seeds"])],
        "baseline_kmeans_seeds": [args.seed + i for i in range(args.baseline_seeds or proto["kmeans_seeds"])],
        "rules": rules,
        "dims": dims,
        "device": device_name,
        "mnist_root": str(args.mnist_root),
        "noise": _noise_level(args.noise),
    }


def _noise_level(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise SystemExit(f"reproduce.py: --noise must be a finite number >= 0, got {value}")
    return float(value)


# ------------------------------------------------------------------------------------------------
# Phases
# ------------------------------------------------------------------------------------------------


def load_data(settings: dict[str, Any]) -> tuple[MNISTU, MNISTU]:
    """The seeded MNIST(U) training and test subsets."""
    common = dict(
        size=settings["image_size"], translation_std_pixels=settings["translation_std_pixels"], subset="random",
        noise=settings.get("noise", 0.0),
    )
    root = settings["mnist_root"]
    train = MNISTU(root, "train", num_samples=settings["train_size"], seed=settings["seed"], **common)
    test = MNISTU(root, "test", num_samples=settings["test_size"], seed=settings["seed"] + 1, **common)
    return train, test


def reference_digits(test: MNISTU, settings: dict[str, Any]) -> Tensor:
    """The un-posed test digits the pose is measured against; with ``--noise``, with their own noise draw."""
    base = test.base_images()
    sigma = settings.get("noise", 0.0)
    if sigma:
        generator = torch.Generator().manual_seed(settings["seed"] + 7919)  # independent of the data's own draws
        base = base + sigma * torch.randn(base.shape, generator=generator, dtype=base.dtype)
    return base


def run_baselines(test: MNISTU, base: Tensor, settings: dict[str, Any], times: dict[str, float]) -> dict[str, Any]:
    """k-means / agglomerative on raw and canonicalised pixels, and the rules' own pose recovery.

    With ``--noise`` each rule is also run on the robust foreground weights (``denoise="auto"``,
    keys ``<rule>_auto``)."""
    images, labels = test.images, test.labels
    out: dict[str, Any] = {"clustering": {}, "pose": {}}
    seeds = settings["baseline_kmeans_seeds"]
    with Timer(times, "baseline raw pixels"):
        out["clustering"]["raw_pixels"] = cluster_features(images.flatten(1), labels, seeds=seeds)
    variants = [(rule, "none", rule) for rule in RULES]
    if settings.get("noise", 0.0):
        variants += [(rule, "auto", f"{rule}_auto") for rule in RULES]
    for rule, denoise, key in variants:
        with Timer(times, f"baseline {key}-canonicalised pixels"):
            canonical = canonicalize(images, rule, denoise=denoise)  # type: ignore[arg-type]
            out["clustering"][f"{key}_pixels"] = cluster_features(canonical.flatten(1), labels, seeds=seeds)
        if rule != "com":  # PCA to 10 dimensions: the best of the pixel variants tried (issue 10 notes)
            with Timer(times, f"baseline {key}-canonicalised pixels, PCA 10"):
                projected = pca_projection(canonical.flatten(1), 10)
                out["clustering"][f"{key}_pixels_pca10"] = cluster_features(projected, labels, seeds=seeds)
            with Timer(times, f"baseline {key}-canonicalised pixels, PCA 10, centred unit length"):  # as the codes get it
                out["clustering"][f"{key}_pixels_pca10_unit"] = cluster_features(l2_normalize(projected), labels, seeds=seeds)
        with Timer(times, f"analytic pose {key}"):
            out["pose"][key] = pose_figures(
                test.theta, test.tau,
                canonical_pose(base, rule, denoise=denoise),  # type: ignore[arg-type]
                canonical_pose(images, rule, denoise=denoise),  # type: ignore[arg-type]
            )
    return out


BUDGET_FILE = "budget.json"
"""Beside ``last.pt``: the wall seconds ``fit`` has taken so far, the clock its ``time_limit`` runs on."""


def _previous_training(checkpoint: Path) -> tuple[int, float]:
    """Epochs done and training seconds spent in an existing ``last.pt`` (0, 0 if none).

    The seconds are those of :data:`BUDGET_FILE` when it is there (the whole ``fit`` call, as its
    ``time_limit`` counts them); the sum of the epoch times, which leaves out the set-up, would
    leave a sliver of budget that a resumed run spends on one more epoch."""
    if not checkpoint.is_file():
        return 0, 0.0
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    history = state.get("history", {}) if isinstance(state, dict) else {}
    spent = float(sum(history.get("epoch_time", [])))
    budget = checkpoint.parent / BUDGET_FILE
    if budget.is_file():
        spent = max(spent, float(json.loads(budget.read_text()).get("seconds", 0.0)))
    return int(state.get("epoch", 0)), spent


def train_model(
    tag: str, model_kwargs: dict[str, Any], settings: dict[str, Any], train: MNISTU, out: Path, *, resume: bool, progress: bool
) -> tuple[IRLINR, dict[str, Any]]:
    """Build and train one model (resuming from ``out/ckpt_<tag>``), within the time budget."""
    device = torch.device(settings["device"])
    kwargs = {"seed": settings["seed"], **model_kwargs}
    model = IRLINR(1, settings["image_size"], **kwargs)
    checkpoint_dir = out / f"ckpt_{tag}" if settings["checkpoints"] else None
    fit_kwargs = dict(settings["fit"])
    epochs = int(fit_kwargs.pop("epochs"))
    done_epochs, spent = _previous_training(checkpoint_dir / "last.pt") if resume and checkpoint_dir else (0, 0.0)
    limit = settings["time_limit_per_model"]
    remaining = None if limit is None else max(float(limit) - spent, 0.0)
    if remaining == 0.0 and done_epochs > 0:
        epochs = min(epochs, done_epochs)  # budget spent: load the checkpoint, train no further
    if done_epochs:
        log(f"{tag}: resuming after epoch {done_epochs} ({spent:.0f} s already spent)")
    log(f"{tag}: training {sum(p.numel() for p in model.parameters()):,} parameters, budget "
        f"{'none' if remaining is None else f'{remaining:.0f} s'}, up to {epochs} epochs")
    started = time.perf_counter()
    history = fit(
        model,
        train.images,
        epochs=epochs,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        time_limit=remaining,
        seed=settings["seed"],
        device=device,
        progress=progress,
        **fit_kwargs,
    )
    if checkpoint_dir is not None:  # what the next run in this folder has left of the budget
        (checkpoint_dir / BUDGET_FILE).write_text(json.dumps({"seconds": spent + time.perf_counter() - started}) + "\n")
    model.save(out / f"model_{tag}.pt")
    batch_size = int(fit_kwargs.get("batch_size", 128))
    steps_per_epoch = math.ceil(len(train) / batch_size)
    if fit_kwargs.get("max_steps_per_epoch"):
        steps_per_epoch = min(steps_per_epoch, int(fit_kwargs["max_steps_per_epoch"]))
    images_seen = history.epochs * min(len(train), steps_per_epoch * batch_size)
    record = {
        "epochs": history.epochs,
        "resumed_from_epoch": done_epochs,
        "train_seconds": float(sum(history["epoch_time"])),
        "steps_per_epoch": steps_per_epoch,
        "steps": history.epochs * steps_per_epoch,
        "passes_over_training_set": images_seen / len(train),
        "final_losses": {key: values[-1] for key, values in history.items() if values and key != "epoch_time"},
        "history": dict(history),
        "model_config": model.config.to_dict(),
        "num_parameters": sum(p.numel() for p in model.parameters()),
    }
    log(
        f"{tag}: {record['epochs']} epochs ({record['steps']} steps, {record['passes_over_training_set']:.2f} passes over the "
        f"data) in {record['train_seconds']:.0f} s; final losses {record['final_losses']}"
    )
    return model, record


def run_scan(
    model: IRLINR,
    z_train: Tensor,
    z_test: Tensor,
    train: MNISTU,
    test: MNISTU,
    settings: dict[str, Any],
    encode_train_seconds: float,
) -> tuple[dict[str, Any], Tensor]:
    """SCAN on z: mode, per-seed scores on the test set, and the first run's test assignments."""
    options, runs = settings["scan"], settings["scan_runs"]
    mode = settings["scan_mode"]
    # encoder mode encodes 2 x N augmented images per clustering epoch and 2 x N per self-labelling
    # epoch; 1.3 for the augmentation and the head's backward pass
    passes = 2 * int(options.get("epochs", 0)) + 2 * int(options.get("self_label_epochs", 0))
    estimate = encode_train_seconds * passes * runs * 1.3
    reason = "requested"
    if mode == "auto":
        mode = "encoder" if estimate <= settings["scan_budget"] else "features"
        reason = f"auto: encoder mode estimated at {estimate:.0f} s against a budget of {settings['scan_budget']:.0f} s"
    run_scores, first_assignments = [], None
    for index in range(runs):
        scan = SCAN(NUM_CLASSES, seed=settings["seed"] + index, **options)
        if mode == "features":
            scan.fit(z_train)
            predictions = scan.predict(z_test)
        else:  # frozen encoder, R + T augmentation (SCAN's default with an encoder)
            scan.fit(train.images, encoder=model)
            predictions = scan.predict(test.images)
        run_scores.append(scores(test.labels, predictions))
        if first_assignments is None:
            first_assignments = predictions
        log(f"SCAN run {index + 1}/{runs} ({mode}): accuracy {run_scores[-1]['accuracy']:.4f}")
    assert first_assignments is not None  # runs >= 1
    result = {
        "mode": mode,
        "mode_reason": reason,
        "encoder_mode_estimate_seconds": estimate,
        "description": (
            "clustering head trained on z of the training images, evaluated on z of the test images"
            if mode == "features"
            else "frozen IRL-INR encoder, R + T augmentation of the images, head trained on the training images, evaluated on the test images"
        ),
        "options": options,
        **summarize(run_scores),
    }
    return result, first_assignments


def evaluate_model(
    tag: str, model: IRLINR, train: MNISTU, test: MNISTU, base: Tensor, settings: dict[str, Any], out: Path
) -> dict[str, Any]:
    """Tables 1-3 for one trained model."""
    device = torch.device(settings["device"])
    times: dict[str, float] = {}
    with Timer(times, f"{tag}: encode test"):
        enc_test = encode_all(model, test.images, batch_size=256, device=device)
    with Timer(times, f"{tag}: encode un-posed test digits"):
        enc_base = encode_all(model, base, batch_size=256, device=device)
    record: dict[str, Any] = {
        "pose": pose_figures(test.theta, test.tau, (enc_base.theta, enc_base.tau), (enc_test.theta, enc_test.tau)),
        "z_invariance": z_invariance(enc_test.z, enc_base.z),
    }
    save_embeddings(out / f"z_test_{tag}.npy", enc_test.z)
    with Timer(times, f"{tag}: k-means / agglomerative on z"):
        record["clustering"] = cluster_features(enc_test.z, test.labels, seeds=settings["kmeans_seeds"])
        record["clustering_whitened"] = cluster_features(whiten(enc_test.z), test.labels, seeds=settings["kmeans_seeds"])
        record["clustering_normalized"] = cluster_features(l2_normalize(enc_test.z), test.labels, seeds=settings["kmeans_seeds"])
    if not settings["skip_scan"]:
        with Timer(times, f"{tag}: encode train"):
            enc_train = encode_all(model, train.images, batch_size=256, device=device)
        with Timer(times, f"{tag}: SCAN"):
            record["scan"], assignments = run_scan(
                model, enc_train.z, enc_test.z, train, test, settings, times[f"{tag}: encode train"]
            )
        save_assignments(out / f"scan_test_{tag}.csv", assignments, index=test.indices.tolist())
        if record["scan"]["mode"] == "features":  # the same SCAN on whitened z (fitted on the training codes)
            whitening = PCAWhitening().fit(enc_train.z)
            with Timer(times, f"{tag}: SCAN on whitened z"):
                record["scan_whitened"], _ = run_scan(
                    model, whitening.transform(enc_train.z), whitening.transform(enc_test.z), train, test,
                    {**settings, "scan_mode": "features"}, times[f"{tag}: encode train"],
                )
            normalization = CenteredL2Normalization().fit(enc_train.z)
            with Timer(times, f"{tag}: SCAN on centred unit-length z"):
                record["scan_normalized"], _ = run_scan(
                    model, normalization.transform(enc_train.z), normalization.transform(enc_test.z), train, test,
                    {**settings, "scan_mode": "features"}, times[f"{tag}: encode train"],
                )
    record["wall_times"] = times
    return record


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def _pct(summary: dict[str, Any] | None, key: str = "accuracy") -> str:
    if not summary:
        return "-"
    entry = summary[key]
    if summary.get("runs", 1) > 1:
        return f"{100 * entry['mean']:.2f} ± {100 * entry['std']:.2f}"
    return f"{100 * entry['mean']:.2f}"


def _num(summary: dict[str, Any] | None, key: str) -> str:
    if not summary:
        return "-"
    entry = summary[key]
    if summary.get("runs", 1) > 1:
        return f"{entry['mean']:.3f} ± {entry['std']:.3f}"
    return f"{entry['mean']:.3f}"


def _f(value: Any, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}f}"


def render_markdown(results: dict[str, Any]) -> str:
    """The side-by-side tables (paper beside ours), the protocol and a gaps section to fill in."""
    settings, paper = results["settings"], PAPER
    models: dict[str, Any] = results.get("models", {})
    main_tags = results.get("main_models", list(models))
    lines = [
        f"# IRL-INR on MNIST(U): `{settings['protocol']}` protocol",
        "",
        f"Generated by `benchmarks/reproduce.py` on {results['date']}. Paper: {paper['source']}.",
        "Accuracies in percent (Hungarian matching), NMI and ARI in [0, 1]; ± is the sample standard deviation over "
        "seeds of the clustering (the paper's ± is over 5 runs). All figures on the test images.",
        "",
    ]
    if settings["protocol"] != "full":
        lines += [
            "> This is **not** the paper's protocol: a training budget of minutes, and fewer images or a smaller "
            "model (see *Protocol* below). Read the comparison with that in mind.",
            "",
        ]

    # Table 1
    lines += [
        "## Table 1: pose recovery",
        "",
        "The predicted applied pose is `relative_pose` of the encoded poses of the un-posed digit J0 and of J = S_g[J0]; "
        "it is compared with the true g (`metrics.pose_recovery`). *circular*: Fisher-Lee circular correlation; "
        "*Pearson*: Pearson correlation after unwrapping each prediction to the branch nearest the truth (the paper's "
        "number). Analytic rows use the canonical rule on the pixels, no model. *translation*: Pearson of the "
        "parameter tau of S = R o T (a half-turn rotation error negates it); *displacement*: Pearson of S_g(0) = R tau, "
        "where the digit went, which rotation errors do not touch.",
        "",
        "| | rotation (circular) | rotation (Pearson) | median error (deg) | within 5 deg | translation x | translation y "
        "| displacement x | displacement y |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| paper, IRL-INR | - | {paper['table1']['rotation']} | - | - | {paper['table1']['translation_x']} | "
        f"{paper['table1']['translation_y']} | - | - |",
    ]
    for tag in main_tags:
        pose = models[tag]["pose"]
        lines.append(
            f"| ours, IRL-INR `{tag}` | {_f(pose['rotation_circular_correlation'])} | {_f(pose['rotation_pearson'])} | "
            f"{_f(pose['rotation_median_error_deg'], 2)} | {_f(pose['rotation_within_5deg'], 3)} | "
            f"{_f(pose['translation_pearson_x'])} | {_f(pose['translation_pearson_y'])} | "
            f"{_f(pose.get('displacement_pearson_x'))} | {_f(pose.get('displacement_pearson_y'))} |"
        )
    for rule, pose in results.get("baselines", {}).get("pose", {}).items():
        lines.append(
            f"| analytic rule `{rule}` (no model) | {_f(pose['rotation_circular_correlation'])} | {_f(pose['rotation_pearson'])} | "
            f"{_f(pose['rotation_median_error_deg'], 2)} | {_f(pose['rotation_within_5deg'], 3)} | "
            f"{_f(pose['translation_pearson_x'])} | {_f(pose['translation_pearson_y'])} | "
            f"{_f(pose.get('displacement_pearson_x'))} | {_f(pose.get('displacement_pearson_y'))} |"
        )
    if main_tags:
        lines += ["", "Invariance of z (mean cosine similarity of centred z(J) with centred z(J0) of the same digit, and with another digit's):", ""]
        for tag in main_tags:
            inv = models[tag]["z_invariance"]
            lines.append(f"- `{tag}`: same {inv['cos_same_image']:.3f}, other {inv['cos_other_image']:.3f}")
    lines.append("")

    # Table 2
    lines += [
        "## Table 2: clustering z (and the baselines on pixels)",
        "",
        "| | k-means acc | k-means NMI | k-means ARI | agglomerative acc | agglomerative NMI | agglomerative ARI |",
        "|---|---|---|---|---|---|---|",
        f"| paper, IRL-INR | {paper['table2']['kmeans'][0]} ± {paper['table2']['kmeans'][1]} | - | - | "
        f"{paper['table2']['agglomerative'][0]} ± {paper['table2']['agglomerative'][1]} | - | - |",
    ]
    for tag in main_tags:
        c = models[tag]["clustering"]
        lines.append(
            f"| ours, IRL-INR `{tag}` (z) | {_pct(c['kmeans'])} | {_num(c['kmeans'], 'nmi')} | {_num(c['kmeans'], 'ari')} | "
            f"{_pct(c['agglomerative'])} | {_num(c['agglomerative'], 'nmi')} | {_num(c['agglomerative'], 'ari')} |"
        )
        for key, variant in (("clustering_whitened", "z, PCA-whitened"), ("clustering_normalized", "z, centred, unit length")):
            w = models[tag].get(key)
            if w:
                lines.append(
                    f"| ours, IRL-INR `{tag}` ({variant}) | {_pct(w['kmeans'])} | {_num(w['kmeans'], 'nmi')} | {_num(w['kmeans'], 'ari')} | "
                    f"{_pct(w['agglomerative'])} | {_num(w['agglomerative'], 'nmi')} | {_num(w['agglomerative'], 'ari')} |"
                )
    for key, c in results.get("baselines", {}).get("clustering", {}).items():
        if key == "raw_pixels":
            name = "raw pixels"
        elif key.endswith("_pixels_pca10"):
            name = f"pixels, canonicalised by `{key.removesuffix('_pixels_pca10')}`, PCA to 10 dimensions"
        elif key.endswith("_pixels_pca10_unit"):
            name = f"pixels, canonicalised by `{key.removesuffix('_pixels_pca10_unit')}`, PCA to 10 dimensions, centred, unit length"
        else:
            name = f"pixels, canonicalised by `{key.removesuffix('_pixels')}`"
        lines.append(
            f"| baseline: {name} | {_pct(c['kmeans'])} | {_num(c['kmeans'], 'nmi')} | {_num(c['kmeans'], 'ari')} | "
            f"{_pct(c.get('agglomerative'))} | {_num(c.get('agglomerative'), 'nmi')} | {_num(c.get('agglomerative'), 'ari')} |"
        )
    lines += ["", "k-means: best of 10 k-means++ inits per seed; agglomerative: Ward linkage (deterministic, one run).", ""]

    # Table 3
    lines += [
        "## Table 3: SCAN on z",
        "",
        "| | accuracy | NMI | ARI | SCAN mode |",
        "|---|---|---|---|---|",
        f"| paper, IRL-INR + SCAN ({paper['table3']['note']}) | {paper['table3']['scan'][0]} ± {paper['table3']['scan'][1]} | - | - | encoder, fine-tuned |",
    ]
    for tag in main_tags:
        scan = models[tag].get("scan")
        if scan is None:
            lines.append(f"| ours, IRL-INR `{tag}` + SCAN | not run (--skip-scan) | | | |")
        else:
            lines.append(f"| ours, IRL-INR `{tag}` + SCAN | {_pct(scan)} | {_num(scan, 'nmi')} | {_num(scan, 'ari')} | {scan['mode']} |")
        for key, variant, mode in (("scan_whitened", "PCA-whitened z", "features, whitened"),
                                   ("scan_normalized", "centred, unit-length z", "features, unit length")):
            prepared = models[tag].get(key)
            if prepared:
                lines.append(
                    f"| ours, IRL-INR `{tag}` + SCAN on {variant} | {_pct(prepared)} | {_num(prepared, 'nmi')} | "
                    f"{_num(prepared, 'ari')} | {mode} |"
                )
    scans = [models[tag]["scan"] for tag in main_tags if models[tag].get("scan")]
    if scans:
        lines += ["", f"SCAN mode: {scans[0]['description']} ({scans[0]['mode_reason']})."]
    lines.append("")

    # Table 4
    table4 = results.get("table4")
    if table4:
        rules = sorted({entry["rule"] for entry in table4.values()})
        models_by_tag = results.get("models", {})
        lines += [
            "## Table 4: IRL-INR + SCAN accuracy against the latent size d",
            "",
            "| d | paper | "
            + " | ".join(f"ours (`{rule}`), SCAN on z | ours (`{rule}`), SCAN on PCA-whitened z" for rule in rules)
            + " |",
            "|---|---|" + "---|---|" * len(rules),
        ]
        for d in sorted({entry["d"] for entry in table4.values()}):
            row = [str(d), "{} ± {}".format(*paper["table4"][d]) if d in paper["table4"] else "-"]
            for rule in rules:
                tag = next((t for t, e in table4.items() if e["d"] == d and e["rule"] == rule), None)
                entry = table4.get(tag) if tag else None
                row.append(_pct(entry.get("scan")) if entry and entry.get("scan") else "-")
                whitened = models_by_tag.get(tag, {}).get("scan_whitened") if tag else None
                row.append(_pct(whitened) if whitened else "-")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")

    # Protocol
    machine = results["machine"]
    limit = settings["time_limit_per_model"]
    budget = "none" if limit is None else f"{limit:g} s"
    train_times = ", ".join(
        f"`{tag}` {rec['training']['steps']} steps ({rec['training']['passes_over_training_set']:.2f} passes over the training "
        f"images) in {rec['training']['train_seconds']:.0f} s"
        for tag, rec in models.items()
    )
    lines += [
        "## Protocol",
        "",
        f"- Data: MNIST(U), {settings['image_size']} x {settings['image_size']} pixels, rotation U[0, 2π), translation "
        f"N(0, {settings['translation_std_pixels']:g}²) pixels; {settings['train_size']:,} training images (MNIST train split) "
        f"and {settings['test_size']:,} test images (test split), seeded random subsets (seed {settings['seed']} / {settings['seed'] + 1}).",
        f"- Model: preset `{settings['preset']}` ({settings['preset_source']}), canonical rule(s) {settings['rules']}, "
        f"d = {settings['dims']}; options (each model's rule and d replace `canonical_rule` and `latent_dim`) "
        f"`{json.dumps(jsonable(settings['model']))}`.",
        f"- Training: `{json.dumps(jsonable(settings['fit']))}`, budget per model "
        f"{budget} "
        f"(training stops after the epoch, or chunk of `max_steps_per_epoch` steps, in which it runs out); "
        f"{train_times or 'no model trained'}.",
        f"- SCAN: `{json.dumps(jsonable(settings['scan']))}`, {settings['scan_runs']} seeds"
        + (" (skipped)" if settings["skip_scan"] else "")
        + f"; k-means seeds {settings['kmeans_seeds']} on z, "
        + ("pixel baselines not run (--skip-baselines)." if settings.get("skip_baselines") else f"{settings['baseline_kmeans_seeds']} on pixels."),
        f"- Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, {machine['torch_threads']} torch threads, "
        f"torch {machine['torch']}, device {machine['device']}"
        + (f" ({machine['gpu']})" if machine.get("gpu") else "")
        + f"; load average at start {machine.get('load_average_at_start')}.",
        f"- Date: {results['date']}; total wall time {results['wall_times'].get('total', float('nan')):.0f} s.",
        f"- Command: `{results['command']}`",
        "",
        "Wall time per phase (s): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in results["wall_times"].items()) + ".",
        "",
        "## Gaps to the paper and to the baselines",
        "",
        *gap_lines(results),
        "",
    ]
    return "\n".join(lines)


PAPER_IMAGES_SEEN = 200 * 60_000  # 200 epochs of the 60,000 training images (appendix B)


def _baseline_name(key: str) -> str:
    if key == "raw_pixels":
        return "raw pixels"
    if key.endswith("_pixels_pca10"):
        return key.removesuffix("_pixels_pca10") + "-canonicalised pixels (PCA 10)"
    if key.endswith("_pixels_pca10_unit"):
        return key.removesuffix("_pixels_pca10_unit") + "-canonicalised pixels (PCA 10, unit length)"
    return key.removesuffix("_pixels") + "-canonicalised pixels"


def gap_lines(results: dict[str, Any]) -> list[str]:
    """Computed from the figures above: where each model stands against the paper and the pixel baselines.

    Differences are in percentage points of accuracy (ours minus theirs); nothing here is written by
    hand, so the section stays true to the run it describes.
    """
    models: dict[str, Any] = results.get("models", {})
    baselines = results.get("baselines", {}).get("clustering", {})
    lines: list[str] = []

    def mean(summary: dict[str, Any] | None) -> float | None:
        return None if not summary else 100 * float(summary["accuracy"]["mean"])

    for tag in results.get("main_models", list(models)):
        record = models[tag]
        figures = {
            "k-means on z": (mean(record["clustering"].get("kmeans")), PAPER["table2"]["kmeans"][0]),
            "agglomerative on z": (mean(record["clustering"].get("agglomerative")), PAPER["table2"]["agglomerative"][0]),
            "SCAN on z": (mean(record.get("scan")), PAPER["table3"]["scan"][0]),
        }
        parts = [f"{name} {ours:.1f} % ({ours - theirs:+.1f} points)" for name, (ours, theirs) in figures.items() if ours is not None]
        rotation = record["pose"].get("rotation_pearson")
        if rotation is not None and math.isfinite(rotation):
            parts.append(f"rotation Pearson {rotation:.4f} ({rotation - PAPER['table1']['rotation']:+.4f})")
        lines.append(f"- `{tag}` against the paper: " + "; ".join(parts) + ".")
        for variant, clustering in (("z", record["clustering"]), ("PCA-whitened z", record.get("clustering_whitened")),
                                    ("centred, unit-length z", record.get("clustering_normalized"))):
            ours_kmeans = mean((clustering or {}).get("kmeans"))
            if ours_kmeans is not None and baselines:
                against = ", ".join(
                    f"{_baseline_name(key)} {ours_kmeans - mean(c['kmeans']):+.1f}"  # type: ignore[operator]
                    for key, c in baselines.items()
                )
                lines.append(f"- `{tag}` k-means on {variant} against k-means on pixels (points): {against}.")
        training = record.get("training", {})
        if "passes_over_training_set" in training and results["settings"].get("train_size"):
            seen = training["passes_over_training_set"] * results["settings"]["train_size"]
            lines.append(
                f"- `{tag}` saw {seen:,.0f} training images ({training.get('steps', 0)} steps), "
                f"1/{PAPER_IMAGES_SEEN / max(seen, 1):,.0f} of the paper's {PAPER_IMAGES_SEEN:,}."
            )
    scans = [models[tag]["scan"] for tag in results.get("main_models", list(models)) if models[tag].get("scan")]
    if scans and scans[0]["mode"] == "features":
        lines.append(
            "- SCAN ran on frozen z (features mode), without the paper's S1 + S2 augmentations or encoder fine-tuning."
        )
    if results["settings"]["protocol"] != "full":
        lines.append("- A smaller budget than the paper, and smaller data or model (see *Protocol*); Table 4 needs the `full` protocol.")
    return lines or ["- No model was trained in this run."]


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run a protocol; returns the results dict (also written to ``OUT/results.json``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    settings = resolve_settings(args)
    out = args.out or REPO_ROOT / "benchmarks" / "results" / args.protocol
    out.mkdir(parents=True, exist_ok=True)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    results: dict[str, Any] = {
        "protocol": args.protocol,
        **run_record(torch.device(settings["device"]), script="reproduce.py", argv=argv),
        "settings": settings,
        "paper": PAPER,
        "wall_times": {},
        "models": {},
    }
    times: dict[str, float] = results["wall_times"]
    json_path, md_path = out / "results.json", out / "results.md"
    log(f"protocol {args.protocol}: {settings['train_size']} train / {settings['test_size']} test images, rules "
        f"{settings['rules']}, d {settings['dims']}, device {settings['device']}, {torch.get_num_threads()} threads; out {out}")
    started = time.perf_counter()

    with Timer(times, "data"):
        train, test = load_data(settings)
        base = reference_digits(test, settings)
    results["data"] = {
        "train": {"n": len(train), "labels": torch.bincount(train.labels, minlength=NUM_CLASSES).tolist()},
        "test": {"n": len(test), "labels": torch.bincount(test.labels, minlength=NUM_CLASSES).tolist()},
    }
    if not settings["skip_baselines"]:
        results["baselines"] = run_baselines(test, base, settings, times)
    write_json(json_path, results)

    table4: dict[str, Any] = {}
    main_tags = []
    main_dim = max(settings["dims"])
    for rule in settings["rules"]:
        for d in settings["dims"]:
            tag = rule if len(settings["dims"]) == 1 else f"{rule}_d{d}"
            model_kwargs = {**settings["model"], "canonical_rule": rule, "latent_dim": d}
            with Timer(times, f"{tag}: train"):
                model, training = train_model(tag, model_kwargs, settings, train, out, resume=not args.no_resume, progress=progress)
            record = evaluate_model(tag, model, train, test, base, settings, out)
            record["training"] = training
            times.update(record["wall_times"])
            results["models"][tag] = record
            if len(settings["dims"]) > 1:
                table4[tag] = {"rule": rule, "d": d, "scan": record.get("scan"), "clustering": record["clustering"]}
            if d == main_dim:
                main_tags.append(tag)
            results["main_models"] = main_tags
            write_json(json_path, results)
            del model
    if table4:
        results["table4"] = table4
    times["total"] = round(time.perf_counter() - started, 3)
    write_json(json_path, results)
    markdown = render_markdown(jsonable(results))
    md_path.write_text(markdown)
    print(markdown, flush=True)
    log(f"wrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
