"""SCAN's own settings on one trained code: neighbours, entropy weight, epochs, self-labelling.

Usage: python scan_hparams_probe.py SEED=CHECKPOINT [RUNS]  (a reproduce.py quick checkpoint and the
--seed of its run; RUNS SCAN seeds per setting, default 3). SCAN in features mode as reproduce.py runs
it (head trained on z of the 10,000 training images, scored on the 2,000 test images), each
setting changing one option of reproduce.SCAN_DEFAULTS; prints mean and spread of the test accuracy.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from code_geometry import parse_checkpoint  # noqa: E402
from reproduce import NUM_CLASSES, SCAN_DEFAULTS, build_parser, load_data, resolve_settings, scores, summarize  # noqa: E402

from invariant_inr import IRLINR  # noqa: E402
from invariant_inr.cluster import SCAN  # noqa: E402
from invariant_inr.inference import encode_all  # noqa: E402

torch.set_num_threads(2)
seed, path = parse_checkpoint(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
settings = resolve_settings(build_parser().parse_args(["quick", "--seed", str(seed)]))
train, test = load_data(settings)
model = IRLINR.load(path).eval()
z_train = encode_all(model, train.images, batch_size=256).z
z_test = encode_all(model, test.images, batch_size=256).z

SETTINGS = [
    {},
    {"num_neighbors": 5}, {"num_neighbors": 10}, {"num_neighbors": 50},
    {"entropy_weight": 2.0}, {"entropy_weight": 10.0},
    {"epochs": 150}, {"self_label_epochs": 0}, {"self_label_epochs": 45},
    {"lr": 1e-3, "epochs": 150},
]
print(f"{path} (split {seed}), {runs} SCAN seeds per setting; defaults {SCAN_DEFAULTS}", flush=True)
for change in SETTINGS:
    # the SCAN seeds of reproduce.py's run_scan: the split's seed plus 0, 1, ...
    accuracy = summarize([scores(test.labels, SCAN(NUM_CLASSES, seed=seed + i, **{**SCAN_DEFAULTS, **change}).fit(z_train).predict(z_test))
                          for i in range(runs)])["accuracy"]
    values = [round(100 * v, 2) for v in accuracy["values"]]
    print(f"{change or 'defaults'}: {100 * accuracy['mean']:.2f} +- {100 * accuracy['std']:.2f} {values}", flush=True)
