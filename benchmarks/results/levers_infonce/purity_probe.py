"""20-nearest-neighbour purity of trained codes on the quick test split (the neighbours SCAN mines).

Usage: python purity_probe.py SEED=CHECKPOINT [SEED=CHECKPOINT ...]  (reproduce.py quick checkpoints
and the --seed of their runs). Prints, per checkpoint, the fraction of each test image's 20 nearest
neighbours (cosine) with its label, on z as it is (SCAN's features mode) and centred at unit length.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from reproduce import build_parser, load_data, resolve_settings  # noqa: E402

from invariant_inr import IRLINR  # noqa: E402
from invariant_inr.cluster import l2_normalize, mine_neighbors  # noqa: E402
from invariant_inr.inference import encode_all  # noqa: E402

torch.set_num_threads(2)
for item in sys.argv[1:]:
    seed, _, path = item.partition("=")
    settings = resolve_settings(build_parser().parse_args(["quick", "--seed", seed]))
    _, test = load_data(settings)
    z = encode_all(IRLINR.load(path).eval(), test.images, batch_size=256).z
    labels = test.labels
    raw, unit = (float((labels[mine_neighbors(f, 20)] == labels[:, None]).double().mean()) for f in (z, l2_normalize(z)))
    print(f"{path}: 20-NN purity z {raw:.4f}, unit-length z {unit:.4f}", flush=True)
