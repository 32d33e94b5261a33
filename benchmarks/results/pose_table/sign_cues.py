"""Other signs for the "moments" rule's principal axis, on the quick test splits 0-2 (Table 1's figures).

The library's rule signs the axis so that the third moment along it is positive (c3). Each cue here is odd
in the axis' sign and normalised by the spreads: c12 (the moment across, sum w a b^2), c3 + c12 (the same sign
as the larger of the two, so also "the strongest of c3, c12"), c5 (the fifth moment along), a|a| (the signed
second moment), and the stronger of c3 and c5 / 3; the first row of each split is the library's rule (c3). Prints, per split and cue, the fraction of test digits whose
recovered rotation is within 5 deg and the Pearson of tau (x, y), as benchmarks/pose_table.py does.
Usage: python sign_cues.py  (from anywhere; MNIST at reproduce.py's default root)
"""
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
import reproduce  # noqa: E402
from invariant_inr.center import canonical_pose, central_moments, safe_atan2  # noqa: E402
from invariant_inr.se2 import coordinate_grid, wrap_angle  # noqa: E402

torch.set_num_threads(2)


def pose(images, cue):
    """The "moments" rule's pose with its axis signed by ``cue`` (a name of CUES) instead of the third moment."""
    center, covariance, probs = central_moments(images)
    _, _, h, w = images.shape
    points = coordinate_grid(h, w, dtype=images.dtype).reshape(-1, 2)
    phi = 0.5 * safe_atan2(2 * covariance[:, 0, 1], covariance[:, 0, 0] - covariance[:, 1, 1])  # the unsigned axis
    axis = torch.stack([phi.cos(), phi.sin()], -1)
    normal = torch.stack([-axis[:, 1], axis[:, 0]], -1)
    offsets = points[None] - center[:, None]
    a, b = offsets @ axis[..., None], offsets @ normal[..., None]
    a, b = a[..., 0], b[..., 0]  # (B, P): along and across the axis
    sa = (probs * a**2).sum(1).sqrt()
    sb = (probs * b**2).sum(1).sqrt().clamp_min(1e-12)
    skew = CUES[cue](probs, a, b, sa, sb)
    return wrap_angle(-torch.where(skew < 0, phi + math.pi, phi)), -center


def _c3(p, a, b, sa, sb):
    return (p * a**3).sum(1) / sa**3


def _c12(p, a, b, sa, sb):
    return (p * a * b**2).sum(1) / (sa * sb**2)


def _c5(p, a, b, sa, sb):
    return (p * a**5).sum(1) / sa**5


def _stronger_c3_c5(p, a, b, sa, sb):
    c3, c5 = _c3(p, a, b, sa, sb), _c5(p, a, b, sa, sb)
    return torch.where(c5.abs() / 3 > c3.abs(), c5, c3)


# c3 itself is the library's rule (its row is canonical_pose's); the stronger of c3 and c12 has the sign of c3 + c12
CUES = {
    "c12": _c12,
    "c3+c12": lambda p, a, b, sa, sb: _c3(p, a, b, sa, sb) + _c12(p, a, b, sa, sb),
    "c5": _c5,
    "a|a|": lambda p, a, b, sa, sb: (p * a * a.abs()).sum(1) / sa**2,
    "strongest(c3,c5)": _stronger_c3_c5,
}


def show(seed, name, f):
    print(seed, name, "within5", round(f["rotation_within_5deg"], 4),
          "tau", round(f["translation_pearson_x"], 4), round(f["translation_pearson_y"], 4), flush=True)


for seed in (0, 1, 2):
    settings = reproduce.resolve_settings(reproduce.build_parser().parse_args(["quick", "--seed", str(seed), "--train-size", "10"]))
    _, test = reproduce.load_data(settings)
    base = reproduce.reference_digits(test, settings)
    show(seed, "c3 (the library's moments rule)",
         reproduce.pose_figures(test.theta, test.tau, canonical_pose(base, "moments"), canonical_pose(test.images, "moments")))
    for cue in CUES:
        show(seed, cue, reproduce.pose_figures(test.theta, test.tau, pose(base, cue), pose(test.images, cue)))
