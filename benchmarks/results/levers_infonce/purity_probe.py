"""20-nearest-neighbour purity of trained codes on the quick test split (the neighbours SCAN mines).

Usage: python purity_probe.py SEED=CHECKPOINT [SEED=CHECKPOINT ...]  (reproduce.py quick checkpoints
and the --seed of their runs). Prints, per checkpoint, the fraction of each test image's 20 nearest
neighbours (cosine) with its label, on z as it is (SCAN's features mode) and centred at unit length.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from code_geometry import parse_checkpoint  # noqa: E402
from reproduce import build_parser, load_data, resolve_settings  # noqa: E402
from scan_levers import purity_of  # noqa: E402

from invariant_inr import IRLINR  # noqa: E402
from invariant_inr.cluster import l2_normalize, mine_neighbors  # noqa: E402
from invariant_inr.inference import encode_all  # noqa: E402

torch.set_num_threads(2)
for seed, path in map(parse_checkpoint, sys.argv[1:]):
    settings = resolve_settings(build_parser().parse_args(["quick", "--seed", str(seed)]))
    _, test = load_data(settings)
    z = encode_all(IRLINR.load(path).eval(), test.images, batch_size=256).z
    raw, unit = (purity_of(mine_neighbors(codes, 20), test.labels) for codes in (z, l2_normalize(z)))
    print(f"{path}: 20-NN purity z {raw:.4f}, unit-length z {unit:.4f}", flush=True)
