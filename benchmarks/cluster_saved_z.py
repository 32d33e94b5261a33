#!/usr/bin/env python
"""k-means on saved test codes of the quick MNIST(U) protocol: plain, standardised, L2-normalised, PCA-whitened.

``benchmarks/reproduce.py quick`` writes ``OUT/z_test_<rule>.npy`` (the 2,000 test codes, in the
order of its seeded test subset); this script re-clusters such files without the model, so that the
effect of a transformation of ``z`` is measured on exactly the codes of a run. Labels come from the
same subset (``MNISTU(root, "test", num_samples=2000, seed=SEED + 1, subset="random")``, as in
``reproduce.py``). Each transformation: k-means with 10 clusters, best of 10 k-means++ inits, over
``--seeds`` seeds; accuracy with Hungarian matching, mean and standard deviation.

Usage::

    python benchmarks/cluster_saved_z.py benchmarks/results/pose_600s/*/z_test_moments.npy
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from invariant_inr.cluster import kmeans, whiten
from invariant_inr.datasets import MNISTU
from invariant_inr.metrics import clustering_accuracy

DEFAULT_MNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def transforms(z: torch.Tensor, whiten_dims: list[int] | tuple[int, ...] = ()) -> dict[str, torch.Tensor]:
    centred = z - z.mean(dim=0)
    out = {
        "plain": z,
        "standardised": centred / centred.std(dim=0),
        "centred, L2-normalised": torch.nn.functional.normalize(centred, dim=1),
        "PCA-whitened": whiten(z),
    }
    for dims in whiten_dims:  # only the leading principal directions, whitened
        out[f"PCA-whitened, {dims} components"] = whiten(z, dims=dims)
    return out


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[float]]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="z_test_<rule>.npy files of reproduce.py quick")
    parser.add_argument("--mnist-root", type=Path, default=DEFAULT_MNIST_ROOT)
    parser.add_argument("--seed", type=int, default=0, help="the --seed of the reproduce.py run")
    parser.add_argument("--seeds", type=int, default=5, help="k-means seeds")
    parser.add_argument("--whiten-dims", type=int, nargs="*", default=[], help="also whiten onto only this many leading components")
    args = parser.parse_args(argv)
    labels = MNISTU(args.mnist_root, "test", num_samples=2000, seed=args.seed + 1, subset="random").labels
    results: dict[str, dict[str, list[float]]] = {}
    names = ["plain", "standardised", "centred, L2-normalised", "PCA-whitened", *(f"PCA-whitened, {d} components" for d in args.whiten_dims)]
    print("| codes | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for path in args.files:
        z = torch.from_numpy(np.load(path)).double()
        if z.shape[0] != labels.shape[0]:
            raise SystemExit(f"{path}: {z.shape[0]} codes, but the quick protocol's test subset has {labels.shape[0]}")
        row = {
            name: [clustering_accuracy(labels, kmeans(f.float(), 10, num_init=10, seed=s).assignments) for s in range(args.seeds)]
            for name, f in transforms(z, args.whiten_dims).items()
        }
        results[str(path)] = row
        cells = [f"{100 * np.mean(v):.1f} ± {100 * np.std(v, ddof=1):.1f}" for v in row.values()]
        print(f"| `{path.parent.name}/{path.name}` | " + " | ".join(cells) + " |", flush=True)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
