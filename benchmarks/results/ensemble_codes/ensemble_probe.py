"""Codes of several independently trained models, concatenated: 20-NN purity, k-means and SCAN on the ensemble.

Usage: python ensemble_probe.py SEED CHECKPOINT [CHECKPOINT ...]   (reproduce.py quick checkpoints, all trained
on the split of --seed SEED). Each model's z of the 10,000 training and the test images, and their concatenation
over the models (the ensemble), are scored as they are (reproduce.py's z rows) and centred at unit length (its
unit rows). Prints, for each model and for the ensemble: the test codes' 20-NN purity, the accuracy of k-means on
the test codes (10 restarts, as reproduce.py's tables), and the test accuracy of SCAN (features mode, the quick
protocol's settings, head trained on the training codes, SCAN seeds SEED to SEED + 2).
"""
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from reproduce import build_parser, load_data, resolve_settings, scores, summarize  # noqa: E402
from scan_levers import purity_of  # noqa: E402

from invariant_inr import IRLINR  # noqa: E402
from invariant_inr.cluster import SCAN, kmeans, l2_normalize, mine_neighbors  # noqa: E402
from invariant_inr.inference import encode_all  # noqa: E402

torch.set_num_threads(2)
seed, paths = int(sys.argv[1]), sys.argv[2:]
settings = resolve_settings(build_parser().parse_args(["quick", "--seed", str(seed)]))
train, test = load_data(settings)
scan_options = settings["scan"]


def report(name, z_train, z_test):
    start = time.perf_counter()
    purity = purity_of(mine_neighbors(z_test, 20), test.labels)
    kmeans_acc = scores(test.labels, kmeans(z_test, 10, num_init=10, seed=seed).assignments)["accuracy"]
    scan = summarize([scores(test.labels, SCAN(10, seed=seed + i, **scan_options).fit(z_train).predict(z_test))
                      for i in range(3)])["accuracy"]
    print(f"{name}: 20-NN purity {purity:.4f}, k-means {100 * kmeans_acc:.1f}, "
          f"SCAN {' '.join(f'{100 * s:.1f}' for s in scan['values'])} (mean {100 * scan['mean']:.1f}) "
          f"[{time.perf_counter() - start:.0f} s]", flush=True)


def report_both(name, z_train, z_test):
    report(f"{name}, z as it is", z_train, z_test)
    report(f"{name}, centred unit-length z", l2_normalize(z_train), l2_normalize(z_test))  # each on its own mean, as reproduce.py


codes = []
for path in paths:
    model = IRLINR.load(path).eval()
    pair = encode_all(model, train.images, batch_size=256).z, encode_all(model, test.images, batch_size=256).z
    codes.append(pair)
    report_both(path, *pair)
report_both(f"ensemble of {len(codes)}", torch.cat([c[0] for c in codes], 1), torch.cat([c[1] for c in codes], 1))
