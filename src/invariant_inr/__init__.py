"""invariant-inr: rotation- and translation-invariant image representations (IRL-INR, Kwon et al. 2023).

The public names are re-exported here; each lives in a module named after its idea:
:mod:`~invariant_inr.se2` (pose math), :mod:`~invariant_inr.center` (centre of mass and the canonical
pose), :mod:`~invariant_inr.foreground` (robust foreground weights of noisy images),
:mod:`~invariant_inr.canonicalizer` (a learned pose: the rule on a learned weight map), :mod:`~invariant_inr.fourier`,
:mod:`~invariant_inr.inr`, :mod:`~invariant_inr.modulated`, :mod:`~invariant_inr.hyper`,
:mod:`~invariant_inr.encoders`, :mod:`~invariant_inr.augment` (nuisance deformations for the consistency loss),
:mod:`~invariant_inr.losses`, :mod:`~invariant_inr.model` (the
:class:`IRLINR` facade) and :mod:`~invariant_inr.training` (:func:`fit`).
"""

from . import cluster, datasets, foreground, metrics, presets, se2, testing
from ._checks import checks_disabled, checks_enabled, set_checks_enabled
from ._version import __version__
from .augment import NuisanceAugment
from .canonicalizer import QuarterTurnConv2d, WeightMapPose
from .center import canonical_pose, canonicalize, center_of_mass, central_moments, pose_from_center_of_mass
from .foreground import estimate_background, foreground_weights, remove_background
from .cluster import (
    SCAN,
    ClusteringHead,
    KMeansResult,
    ScanLoss,
    agglomerative,
    kmeans,
    mine_neighbors,
    random_rotate_translate,
    save_assignments,
    save_embeddings,
    scan_loss,
)
from .datasets import (
    MNISTU,
    ImageFolderDataset,
    Sprites,
    as_dataset,
    embed_digits,
    load_mnist,
    make_sprites,
    read_idx,
    render_sprites,
    write_idx,
)
from .encoders import Encoder, Encoding, SmallCNN, resnet18_backbone
from .fourier import FourierFeatures
from .hyper import HyperMLP
from .inference import encode_all
from .inr import FunctionalINR, evaluate_in_chunks
from .losses import LossParts, consistency_loss, reconstruction_loss, symmetry_breaking_loss
from .metrics import (
    PoseRecovery,
    adjusted_rand_index,
    circular_correlation,
    clustering_accuracy,
    confusion_matrix,
    match_clusters,
    normalized_mutual_info,
    pose_recovery,
    relative_pose,
    rotation_error,
    unwrap_to_nearest,
)
from .model import IRLINR, IRLINRConfig
from .modulated import ModulatedINR
from .presets import preset, training_preset
from .se2 import (
    ImageTransform,
    compose,
    coordinate_grid,
    inverse,
    random_pose,
    rotation_matrix,
    transform_images,
    transform_points,
    wrap_angle,
)
from .training import History, fit, make_loader, seed_everything

__all__ = [
    "NuisanceAugment",
    "encode_all",
    "preset",
    "presets",
    "training_preset",
    "testing",
    "SCAN",
    "ClusteringHead",
    "KMeansResult",
    "ScanLoss",
    "agglomerative",
    "kmeans",
    "mine_neighbors",
    "random_rotate_translate",
    "save_assignments",
    "save_embeddings",
    "scan_loss",
    "cluster",
    "metrics",
    "PoseRecovery",
    "adjusted_rand_index",
    "circular_correlation",
    "clustering_accuracy",
    "confusion_matrix",
    "match_clusters",
    "normalized_mutual_info",
    "pose_recovery",
    "relative_pose",
    "rotation_error",
    "unwrap_to_nearest",
    "MNISTU",
    "ImageFolderDataset",
    "Sprites",
    "as_dataset",
    "datasets",
    "embed_digits",
    "load_mnist",
    "make_sprites",
    "read_idx",
    "render_sprites",
    "write_idx",
    "IRLINR",
    "Encoder",
    "Encoding",
    "FourierFeatures",
    "FunctionalINR",
    "History",
    "HyperMLP",
    "IRLINRConfig",
    "ImageTransform",
    "LossParts",
    "ModulatedINR",
    "QuarterTurnConv2d",
    "SmallCNN",
    "WeightMapPose",
    "__version__",
    "canonical_pose",
    "canonicalize",
    "center_of_mass",
    "central_moments",
    "checks_disabled",
    "checks_enabled",
    "compose",
    "consistency_loss",
    "coordinate_grid",
    "estimate_background",
    "evaluate_in_chunks",
    "fit",
    "foreground_weights",
    "inverse",
    "make_loader",
    "pose_from_center_of_mass",
    "random_pose",
    "reconstruction_loss",
    "remove_background",
    "resnet18_backbone",
    "rotation_matrix",
    "se2",
    "seed_everything",
    "set_checks_enabled",
    "symmetry_breaking_loss",
    "transform_images",
    "transform_points",
    "wrap_angle",
]
