"""The public API surface: every name importable today must stay importable.

The lists below were generated from the code *before* ``datasets.py`` and ``cluster.py`` became
packages (``__all__`` of each module, plus the public constants defined there and the public
submodules), then hard-coded, so that a refactoring that drops a name fails here. Adding names is
fine; removing one is a breaking change and needs a CHANGELOG entry and an update of this list.
"""

from __future__ import annotations

import importlib

import pytest

PACKAGE = [
    "ClusteringHead", "Encoder", "Encoding", "FourierFeatures", "FunctionalINR", "History", "HyperMLP",
    "IRLINR", "IRLINRConfig", "ImageFolderDataset", "ImageTransform", "KMeansResult", "LossParts", "MNISTU",
    "NuisanceAugment", "PoseRecovery", "QuarterTurnConv2d", "SCAN", "ScanLoss", "SmallCNN", "Sprites", "WeightMapPose", "__version__",
    "adjusted_rand_index", "agglomerative", "as_dataset", "canonical_pose", "canonicalize", "center_of_mass",
    "central_moments", "checks_disabled", "checks_enabled", "circular_correlation", "cluster",
    "clustering_accuracy", "compose", "confusion_matrix", "consistency_loss", "coordinate_grid", "datasets",
    "embed_digits", "encode_all", "evaluate_in_chunks", "fit", "inverse", "kmeans", "load_mnist",
    "make_loader", "make_sprites", "match_clusters", "metrics", "mine_neighbors", "normalized_mutual_info",
    "pose_from_center_of_mass", "pose_recovery", "preset", "presets", "random_pose",
    "random_rotate_translate", "read_idx", "reconstruction_loss", "relative_pose", "render_sprites",
    "resnet18_backbone", "rotation_error", "rotation_matrix", "save_assignments", "save_embeddings",
    "scan_loss", "se2", "seed_everything", "set_checks_enabled", "symmetry_breaking_loss", "testing",
    "training_preset", "transform_images", "transform_points", "unwrap_to_nearest", "wrap_angle", "write_idx",
]  # fmt: skip
"""``invariant_inr.__all__``."""

SUBMODULES = [
    "augment", "canonicalizer", "center", "cli", "cluster", "datasets", "demo", "encoders", "fourier", "hyper", "inference",
    "inr", "losses", "metrics", "model", "plotting", "presets", "se2", "testing", "training",
]  # fmt: skip
"""Public modules of the package: ``import invariant_inr.<name>`` must work."""

DATASETS = [
    "IMAGE_EXTENSIONS", "ImageFolderDataset", "MNISTU", "MNIST_FILES", "SPRITE_SHAPES", "Sprites",
    "as_dataset", "embed_digits", "load_mnist", "make_sprites", "read_idx", "render_sprites", "write_idx",
]  # fmt: skip
"""``invariant_inr.datasets.__all__``."""

CLUSTER = [
    "ClusteringHead", "KMeansResult", "SCAN", "ScanLoss", "agglomerative", "cluster", "kmeans",
    "mine_neighbors", "random_rotate_translate", "save_assignments", "save_embeddings", "scan_loss",
]  # fmt: skip
"""``invariant_inr.cluster.__all__``."""

CLI = [
    "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "LoadedData", "UsageError", "build_parser",
    "load_data", "main", "read_embeddings", "write_embeddings",
]  # fmt: skip
"""``invariant_inr.cli.__all__``."""

# Public names defined in the modules but not listed in their ``__all__`` (still importable).
EXTRA = {
    "invariant_inr.datasets": ["PathLike"],
    "invariant_inr.cluster": ["TWO_PI"],
    "invariant_inr.cli": ["EMBED_SUFFIXES", "PROG", "TENSOR_SUFFIXES"],
}

SURFACES = {
    "invariant_inr": PACKAGE,
    "invariant_inr.datasets": DATASETS,
    "invariant_inr.cluster": CLUSTER,
    "invariant_inr.cli": CLI,
}


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_every_listed_name_is_importable_and_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in SURFACES[module_name] + EXTRA.get(module_name, []) if not hasattr(module, name)]
    assert missing == [], f"{module_name} lost public name(s) {missing}"
    not_exported = sorted(set(SURFACES[module_name]) - set(module.__all__))
    assert not_exported == [], f"{module_name}.__all__ no longer lists {not_exported}"


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_all_names_resolve(module_name: str) -> None:
    """Every name in ``__all__`` exists (``from module import *`` would fail otherwise)."""
    module = importlib.import_module(module_name)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []


@pytest.mark.parametrize("name", SUBMODULES)
def test_public_submodule_importable(name: str) -> None:
    module = importlib.import_module(f"invariant_inr.{name}")
    assert module.__name__ == f"invariant_inr.{name}"
    assert module.__doc__, f"invariant_inr.{name} has no module docstring"


def test_package_reexports_are_the_same_objects() -> None:
    """A name the package re-exports from ``datasets``/``cluster`` is that module's object."""
    import types

    import invariant_inr

    for module_name, names in (("invariant_inr.datasets", DATASETS), ("invariant_inr.cluster", CLUSTER)):
        module = importlib.import_module(module_name)
        for name in set(names) & set(PACKAGE):
            if isinstance(getattr(invariant_inr, name), types.ModuleType):
                continue  # invariant_inr.cluster is the module, invariant_inr.cluster.cluster the function
            assert getattr(invariant_inr, name) is getattr(module, name), (module_name, name)
