"""Cluster images by their invariant codes z: k-means, agglomerative (Ward) and SCAN, then export.

    python examples/clustering.py                               # trains a quick model: a few minutes on 2 CPU cores
    python examples/clustering.py --checkpoint invariant-inr-demo/model.pt   # reuse the demo's model
    python examples/clustering.py --smoke                       # seconds
    python examples/clustering.py --scan-epochs 50 --self-label-epochs 25 --scan-lr 1e-4 --scan-images  # paper-style SCAN

The test set is sprites of three shapes at random rotations and translations. Every method is scored
against the shapes (accuracy with Hungarian matching, NMI, ARI); an over-clustering run (K = 6)
is scored with majority mapping. Assignments go to ``clusters_<method>.csv`` (``index,cluster``) and
the codes to ``z.npy`` in ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invariant_inr import IRLINR, fit
from invariant_inr.cluster import SCAN, agglomerative, kmeans, save_assignments, save_embeddings
from invariant_inr.datasets import make_sprites
from invariant_inr.inference import encode_all
from invariant_inr.metrics import adjusted_rand_index, clustering_accuracy, normalized_mutual_info
from invariant_inr.presets import preset, training_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny run of seconds")
    parser.add_argument("--checkpoint", help="a trained 32x32 grey model (e.g. the demo's model.pt); else train one")
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--num-test", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--scan-epochs", type=int, default=30)
    parser.add_argument("--self-label-epochs", type=int, default=5)
    parser.add_argument("--scan-lr", type=float, default=1e-3, help="SCAN's learning rate (the SCAN paper: 1e-4, long runs)")
    parser.add_argument("--scan-images", action="store_true",
                        help="train SCAN on randomly rotated and translated images through the encoder (slower) "
                        "instead of on the fixed codes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="runs/clustering")
    args = parser.parse_args()
    if args.smoke:
        args.num_train, args.num_test, args.epochs, args.scan_epochs, args.self_label_epochs = 64, 60, 1, 2, 1

    test = make_sprites(args.num_test, size=32, seed=1)
    if args.checkpoint:
        model = IRLINR.load(args.checkpoint, map_location=args.device)
    else:
        model = IRLINR(in_channels=1, image_size=32, **preset("quick"))
        fit(model, make_sprites(args.num_train, size=32, seed=0).images, epochs=args.epochs, device=args.device,
            **training_preset("quick"))
    model.eval()
    z = encode_all(model, test.images).z  # (N, d)
    labels = test.labels

    results: dict[str, torch.Tensor] = {
        "kmeans": kmeans(z, 3, seed=0).assignments,
        "agglomerative": agglomerative(z, 3, linkage="ward"),
    }
    scan = SCAN(3, num_neighbors=min(20, len(test) - 1), epochs=args.scan_epochs,
                self_label_epochs=args.self_label_epochs, lr=args.scan_lr, batch_size=128, seed=0)
    if args.scan_images:  # augment images (random rotation + translation) and encode them on the fly
        results["scan"] = scan.fit_predict(test.images.to(model.device), encoder=lambda x: model.encode(x).z)
    else:
        results["scan"] = scan.fit_predict(z)
    over = kmeans(z, 6, seed=0).assignments  # over-clustering: more clusters than shapes

    print(f"{'method':>22}  accuracy    NMI    ARI")
    for name, assignments in results.items():
        print(f"{name:>22}  {clustering_accuracy(labels, assignments):8.3f} {normalized_mutual_info(labels, assignments):6.3f} "
              f"{adjusted_rand_index(labels, assignments):6.3f}")
    print(f"{'k-means, K=6 (majority)':>22}  {clustering_accuracy(labels, over, mapping='majority'):8.3f} "
          f"{normalized_mutual_info(labels, over):6.3f} {adjusted_rand_index(labels, over):6.3f}")

    out = Path(args.out)
    for name, assignments in results.items():
        save_assignments(out / f"clusters_{name}.csv", assignments)
    save_embeddings(out / "z.npy", z)
    print(f"wrote {', '.join(f'clusters_{name}.csv' for name in results)} and z.npy to {out}")


if __name__ == "__main__":
    main()
