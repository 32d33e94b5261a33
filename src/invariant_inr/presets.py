r"""Named settings of :class:`~invariant_inr.IRLINR` and of training, kept in one place.

Three presets:

``"quick"``
    For CPU runs of minutes on small images (the built-in sprites, 32 x 32): the small CNN
    encoder, the analytic pose (``pose="analytic"``, the pose computed from the pixels, so ``z`` is
    invariant by construction up to interpolation, see :mod:`invariant_inr.encoders`), the
    translation-independent ``"harmonic"`` canonical rule (it turns squares, ellipses and hearts
    to a pose unique up to their own symmetry, where ``"moments"`` flips hearts), ``d = 16``, 64 Fourier frequencies,
    INR and hypernetwork widths of 128, the reconstruction loss on half of the pixels of each
    image per step. It trains with learning rate ``1e-3`` and no weight decay (the paper's
    ``1e-4`` is tuned for 200 epochs). In 100-step sprite runs (batch 32) the reconstruction
    loss reached 0.010 at ``1e-3``, 0.009 at ``3e-3`` and 0.012 at ``1e-4`` (single runs; the
    gain-outside output layer of :class:`~invariant_inr.hyper.HyperMLP` keeps the larger rates
    stable).

``"mnist-quick"``
    The preset of the quick CPU protocol on MNIST(U) (50 x 50, ``benchmarks/reproduce.py quick``):
    as ``"quick"`` with the ``"moments"`` rule (rotated copies of MNIST(U) digits canonicalise to
    the same image slightly more often with it than with ``"harmonic"``: 99.6 % against 99.1 %;
    after the ``"harmonic"`` change of 2026-12-04, within 5 degrees on the quick test split, 99.75 %
    against 99.50 %),
    ``d = 32``, a narrower small CNN (16 channels first, cheaper at 50 x 50),
    96 frequencies, INR widths 192, a quarter of the pixels per step, and the nuisance
    deformation of :mod:`invariant_inr.augment` at strength 1 (``augment_strength=1.0``). In
    runs of the same length on MNIST(U) (10,000 training images, about 125-200 steps of batch 64,
    single seeds), k-means accuracy on the test ``z`` was 25-27 % without it and 36-40 % with it;
    a stronger recipe or an added random half turn did worse (31 %), and so did the ``"mse"``
    consistency (24 %); see ``docs/results.md``. The consistency loss is the contrastive
    ``"infonce"`` at temperature 0.5 (SimCLR's default), which the deformation gives two different
    views to work on: in 600 s runs on MNIST(U) k-means on ``z`` rose from 45 / 43 % to 80 / 72 %
    (two seeds; temperature 0.2: 62 / 61 %), Ward from 42 / 40 % to 71 / 73 %, SCAN from 64 / 65 %
    to 82 / 81 %; on the built-in sprites it was within the spread of ``"cos"``. Cluster its codes
    centred and scaled to unit length (:func:`~invariant_inr.cluster.l2_normalize`; Ward on ``z``
    rose by 7-10 points on MNIST(U)), not PCA-whitened (which cost them about 8 points of k-means);
    give SCAN the codes as they are. Its training settings
    (:func:`training_preset`) add ``lr_schedule="cosine"``: in same-session 600 s runs on MNIST(U)
    (three seeds) k-means on ``z`` rose from 72 % to 75 % on average and SCAN from 80.5 % to
    81.7 % (Ward level: 69.4 % and 69.1 %), and on the built-in sprites k-means on ``z`` from
    71 / 69 % to 75 / 73 %.

``"paper"``
    The paper's settings (appendices A-B): ResNet18 encoder with a ``[512, 512]`` head, a learned
    pose, the centre-of-mass rule, 256 Fourier frequencies with :math:`\sigma = 2`, INR and
    hypernetwork of three hidden layers of 256, all pixels; Adam with learning rate ``1e-4``,
    weight decay ``5e-4``, batch size 128, and the plain linear code (``latent_norm="none"``).
    The :class:`~invariant_inr.IRLINR` defaults differ in ``latent_norm`` (default ``"batch"``, our
    addition against the collapse of ``z``), ``pose_head`` (default ``"weight_map"``) and
    ``canonical_rule`` (default ``"harmonic"``): with the paper's head and rule, the defaults did
    not learn a pose in minutes on a CPU (``benchmarks/defaults_check.py``).

The presets give model options only; the data decides ``in_channels`` and ``image_size``::

    model = IRLINR(in_channels=1, image_size=32, **preset("quick"))
    fit(model, images, **training_preset("quick"))

Example:
    >>> from invariant_inr import IRLINR
    >>> from invariant_inr.presets import preset, training_preset
    >>> model = IRLINR(1, 32, **preset("quick"))
    >>> model.config.encoder, model.config.latent_dim, training_preset("quick")["lr"]
    ('small', 16, 0.001)
"""

from __future__ import annotations

import copy
from typing import Any

from . import _checks

__all__ = ["DEMO", "PRESETS", "TRAINING", "preset", "preset_names", "training_preset"]

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "latent_dim": 16,
        "encoder": "small",
        "pose": "analytic",
        "canonical_rule": "harmonic",
        "num_frequencies": 64,
        "inr_hidden": (128, 128),
        "hyper_hidden": (128, 128),
        "head_hidden": (256,),
        "pixel_fraction": 0.5,
        "translation_std": 0.05,
    },
    "mnist-quick": {
        "latent_dim": 32,
        "encoder": "small",
        "encoder_width": 16,
        "pose": "analytic",
        "canonical_rule": "moments",
        "num_frequencies": 96,
        "inr_hidden": (192, 192),
        "hyper_hidden": (256, 256),
        "head_hidden": (256,),
        "pixel_fraction": 0.25,
        "translation_std": 0.1,
        "augment_strength": 1.0,
        "consistency": "infonce",
        "consistency_temperature": 0.5,
    },
    "paper": {
        "latent_dim": 32,
        "encoder": "resnet18",
        "consistency": "cos",
        "pose": "learned",
        "pose_head": "mlp",
        "canonical_rule": "com",
        "canonical_denoise": "none",
        "encoder_denoise": "none",
        "num_frequencies": 256,
        "fourier_sigma": 2.0,
        "inr_hidden": (256, 256, 256),
        "hyper_hidden": (256, 256, 256),
        "head_hidden": (512, 512),
        "pixel_fraction": 1.0,
        "translation_std": 0.1,
        "lambda_recon": 1.0,
        "lambda_consis": 1.0,
        "lambda_symm": 15.0,
        "latent_norm": "none",
    },
}
"""Keyword arguments of :class:`~invariant_inr.IRLINR` per preset (without channels and size)."""

TRAINING: dict[str, dict[str, Any]] = {
    "quick": {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 64},
    "mnist-quick": {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 64, "lr_schedule": "cosine"},
    "paper": {"lr": 1e-4, "weight_decay": 5e-4, "batch_size": 128},
}
"""Keyword arguments of :func:`~invariant_inr.fit` per preset (everything but the epochs)."""

DEMO: dict[str, dict[str, Any]] = {
    # ``invariant-inr demo``: a few minutes on 2 CPU cores
    "default": {"image_size": 32, "num_train": 2000, "num_test": 600, "epochs": 5},
    # ``invariant-inr demo --quick``: a smoke run of seconds
    "quick": {"image_size": 32, "num_train": 128, "num_test": 90, "epochs": 2},
}
"""Data size and epochs of the ``invariant-inr demo`` command (model: the ``"quick"`` preset)."""


def preset_names() -> list[str]:
    """The names of the presets.

    Example:
        >>> preset_names()
        ['mnist-quick', 'paper', 'quick']
    """
    return sorted(PRESETS)


def preset(name: str) -> dict[str, Any]:
    """A copy of the :class:`~invariant_inr.IRLINR` keyword arguments of preset ``name``.

    Args:
        name: ``"quick"``, ``"mnist-quick"`` or ``"paper"``.

    Returns:
        A new ``dict`` (changing it does not change the preset).

    Raises:
        ValueError: unknown name.

    Example:
        >>> preset("paper")["encoder"]
        'resnet18'
    """
    _checks.check_choice(name, "preset", preset_names())
    return copy.deepcopy(PRESETS[name])


def training_preset(name: str) -> dict[str, Any]:
    """A copy of the :func:`~invariant_inr.fit` keyword arguments of preset ``name``.

    ``lr``, ``weight_decay`` and ``batch_size``, and ``lr_schedule`` where it is not constant
    (``"mnist-quick"``).

    Example:
        >>> training_preset("paper")
        {'lr': 0.0001, 'weight_decay': 0.0005, 'batch_size': 128}
    """
    _checks.check_choice(name, "preset", preset_names())
    return copy.deepcopy(TRAINING[name])
