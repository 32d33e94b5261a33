"""MNIST(U): pose recovery (paper Table 1, Figure 4) and clustering (Table 2) with IRL-INR.

    python examples/mnist_u.py --root ../shared/data/mnist          # a few minutes on 2 CPU cores
    python examples/mnist_u.py --root DIR --smoke                   # seconds
    python examples/mnist_u.py --root DIR --paper --device cuda     # the paper's settings (hours on a GPU)

``--root`` is a folder with the four MNIST IDX files (``train-images-idx3-ubyte.gz`` ...); add
``--download`` to fetch them with torchvision on a machine that is online. MNIST(U) embeds each
digit in 50 x 50 pixels, rotates it by theta ~ U[0, 2 pi) and moves it by tau ~ N(0, 5^2) pixels.

Pose recovery: every test image J is S_g[J0], J0 the centred upright digit and g = (theta, tau) the
known pose. The encoder's pose change between J0 and J (``metrics.relative_pose``) is compared with
g (``metrics.pose_recovery``). Clustering: k-means and agglomerative (Ward) on z of the test set,
prepared as suits the model's consistency loss (centred at unit length for the contrastive codes of
``mnist-quick``, PCA-whitened for the paper's ``"cos"`` codes), scored against the digit labels
beside k-means on the raw and on the canonicalised pixels (no learning). The defaults are a small CPU run, far from the paper's 200 epochs
on 60,000 images; expect lower numbers than the paper's.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from invariant_inr import IRLINR, fit
from invariant_inr.center import canonicalize
from invariant_inr.cluster import PCAWhitening, agglomerative, kmeans, l2_normalize, whiten
from invariant_inr.datasets import MNISTU
from invariant_inr.inference import encode_all
from invariant_inr.metrics import (
    adjusted_rand_index,
    clustering_accuracy,
    normalized_mutual_info,
    pose_recovery,
    relative_pose,
)
from invariant_inr.presets import preset, training_preset


def scores(labels: torch.Tensor, assignments: torch.Tensor) -> dict[str, float]:
    return {
        "accuracy": clustering_accuracy(labels, assignments),
        "nmi": normalized_mutual_info(labels, assignments),
        "ari": adjusted_rand_index(labels, assignments),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.environ.get("INVARIANT_INR_MNIST", "../shared/data/mnist"),
                        help="folder with the MNIST IDX files (default $INVARIANT_INR_MNIST or ../shared/data/mnist)")
    parser.add_argument("--download", action="store_true", help="fetch MNIST with torchvision if missing")
    parser.add_argument("--smoke", action="store_true", help="a tiny run of seconds")
    parser.add_argument("--paper", action="store_true",
                        help="paper settings: preset paper, 60,000 / 10,000 images, 200 epochs, d = 32")
    parser.add_argument("--preset", choices=("mnist-quick", "quick", "paper"), default="mnist-quick",
                        help="model and training preset (default mnist-quick, the quick MNIST(U) protocol's)")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--latent-dim", type=int, default=None, help="d (default: the preset's)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--checkpoint-dir", default=None, help="checkpoint every epoch here and resume from it")
    parser.add_argument("--out", default="runs/mnist_u", help="folder for results.json, model.pt, rotation.png")
    args = parser.parse_args()
    if args.paper:
        args.preset, args.train_size, args.test_size, args.epochs = "paper", None, None, 200
    if args.smoke:
        args.train_size, args.test_size, args.epochs = 64, 32, 1

    train = MNISTU(args.root, "train", num_samples=args.train_size, download=args.download)
    test = MNISTU(args.root, "test", num_samples=args.test_size, download=args.download, seed=1)
    print(f"MNIST(U): {len(train)} training and {len(test)} test images of 50 x 50")

    model_kwargs = preset(args.preset)
    if args.latent_dim is not None:
        model_kwargs["latent_dim"] = args.latent_dim
    if args.smoke:  # a tiny network, so that the smoke run takes seconds
        model_kwargs.update(encoder="small", num_frequencies=16, inr_hidden=(32,), hyper_hidden=(32,), head_hidden=(64,))
    fit_kwargs = training_preset(args.preset)
    fit_kwargs.update({k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr)) if v is not None})
    model = IRLINR(in_channels=1, image_size=50, **model_kwargs)
    started = time.perf_counter()
    fit(model, train, epochs=args.epochs, device=args.device, checkpoint_dir=args.checkpoint_dir, **fit_kwargs)
    seconds = time.perf_counter() - started

    # pose recovery: base digits J0 (centred, upright) against the posed test images J = S_g[J0]
    base = encode_all(model, test.base_images())
    posed = encode_all(model, test.images)
    theta_hat, tau_hat = relative_pose(base.theta, base.tau, posed.theta, posed.tau)
    pose = pose_recovery(test.theta, test.tau, theta_hat, tau_hat)

    # clustering of the test codes into the 10 digits, in the geometry their loss trains (docs/results.md)
    prepare = l2_normalize if model.config.consistency == "infonce" else whiten
    z = prepare(posed.z)
    # the no-learning baseline: the pixels canonicalised by the model's rule, 10 principal components
    canonical_pixels = canonicalize(test.images, model.config.canonical_rule).flatten(1)
    pca = PCAWhitening(dims=10).fit(canonical_pixels)
    components = pca.transform(canonical_pixels) * pca.scale  # projected, not whitened
    results = {
        "pose_recovery": pose.as_dict(),
        "codes_prepared_by": prepare.__name__,
        "kmeans": scores(test.labels, kmeans(z, 10, seed=0).assignments),
        "agglomerative": scores(test.labels, agglomerative(z, 10)),
        "kmeans_raw_pixels": scores(test.labels, kmeans(test.images.flatten(1), 10, seed=0).assignments),
        "kmeans_canonical_pixels": scores(test.labels, kmeans(components, 10, seed=0).assignments),
        "settings": {"preset": args.preset, "model": model_kwargs, **fit_kwargs, "epochs": args.epochs,
                     "train_size": len(train), "test_size": len(test), "train_seconds": seconds},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.pt")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"trained {args.epochs} epoch(s) in {seconds:.0f} s")
    print(f"rotation: circular correlation {pose.rotation_circular_correlation:.3f}, "
          f"Pearson (unwrapped) {pose.rotation_pearson:.3f}, median error {pose.rotation_median_error_deg:.1f} deg")
    print(f"translation: Pearson x {pose.translation_pearson_x:.3f}, y {pose.translation_pearson_y:.3f}; "
          f"displacement (rotation-free): x {pose.displacement_pearson_x:.3f}, y {pose.displacement_pearson_y:.3f}")
    print(f"codes prepared by {prepare.__name__} before clustering")
    for name in ("kmeans", "agglomerative", "kmeans_raw_pixels", "kmeans_canonical_pixels"):
        print(f"{name:>18}: " + ", ".join(f"{k} {v:.3f}" for k, v in results[name].items()))
    try:
        from invariant_inr.plotting import plot_rotation

        plot_rotation(out / "rotation.png", test.theta, theta_hat, title="MNIST(U) test set")
    except ImportError as error:
        print(f"no rotation.png: {error}")
    print(f"wrote {out / 'results.json'} and {out / 'model.pt'}")


if __name__ == "__main__":
    main()
