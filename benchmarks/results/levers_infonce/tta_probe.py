"""Test-time augmentation probe: the code averaged over nuisance-deformed copies of the canonical image.

Usage: python tta_probe.py CHECKPOINT SEED  (a reproduce.py quick checkpoint and the --seed of its run).
Prints the 20-NN purity (cosine) and k-means (3 seeds, best of 10 inits each) and Ward accuracy on
centred unit-length z of the test split: for z as it is, and for the mean of the unit-length codes of
the plain image and of 8 copies deformed by NuisanceAugment (strength 0.5, then 1).
"""
import functools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from reproduce import build_parser, cluster_features, load_data, resolve_settings  # noqa: E402
from scan_levers import purity_of  # noqa: E402

from invariant_inr import IRLINR  # noqa: E402
from invariant_inr.augment import NuisanceAugment  # noqa: E402
from invariant_inr.cluster import l2_normalize, mine_neighbors  # noqa: E402

COPIES = 8
torch.set_num_threads(2)
checkpoint, seed = sys.argv[1], int(sys.argv[2])
settings = resolve_settings(build_parser().parse_args(["quick", "--seed", str(seed)]))
_, test = load_data(settings)
model = IRLINR.load(checkpoint).eval()
images, labels = test.images, test.labels


def encode(augment):
    """z of the test images; ``augment`` deforms the canonical image the backbone sees (None: plain)."""
    with torch.no_grad():
        return torch.cat([model.encoder(images[i : i + 250], augment).z for i in range(0, len(images), 250)])


def report(name, z):
    unit = l2_normalize(z)
    purity = purity_of(mine_neighbors(unit, 20), labels)
    clustering = cluster_features(unit, labels, seeds=[0, 1, 2])
    print(f"{name}: 20-NN purity (unit z) {purity:.4f}, k-means unit {100 * clustering['kmeans']['accuracy']['mean']:.1f}, "
          f"Ward unit {100 * clustering['agglomerative']['accuracy']['mean']:.1f}", flush=True)


plain = encode(None)
report("plain", plain)
for strength in (0.5, 1.0):
    generator = torch.Generator().manual_seed(123)
    deform = functools.partial(NuisanceAugment(strength), generator=generator)
    codes = [l2_normalize(plain)] + [l2_normalize(encode(deform)) for _ in range(COPIES)]
    report(f"TTA strength {strength}, K={COPIES} + plain", torch.stack(codes).mean(0))
