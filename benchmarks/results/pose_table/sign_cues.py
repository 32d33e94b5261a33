"""Other signs for the "moments" rule's principal axis, on the quick test splits 0-2 (Table 1's figures).

The library's rule signs the axis so that the third moment along it is positive (c3). Each cue here is odd
in the axis' sign and normalised by the spreads: c12 (the moment across, sum w a b^2), c3 + c12 (the same sign
as the larger of the two, so also "the strongest of c3, c12"), c5 (the fifth moment along), a|a| (the signed
second moment), and the strongest of c3 and c5 / 3. Prints, per split and cue, the fraction of test digits whose
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
    center, cov, probs = central_moments(images)
    _, _, h, w = images.shape
    pts = coordinate_grid(h, w, dtype=images.dtype).reshape(-1, 2)
    vx, vy, cxy = cov[:, 0, 0], cov[:, 1, 1], cov[:, 0, 1]
    phi = 0.5 * safe_atan2(2 * cxy, vx - vy)
    axis = torch.stack([phi.cos(), phi.sin()], -1); normal = torch.stack([-axis[:, 1], axis[:, 0]], -1)
    off = pts[None] - center[:, None]
    a = (off @ axis[..., None])[..., 0]; b = (off @ normal[..., None])[..., 0]
    sa = (probs * a**2).sum(1).sqrt(); sb = (probs * b**2).sum(1).sqrt().clamp_min(1e-12)
    c3 = (probs * a**3).sum(1) / sa**3
    c12 = (probs * a * b**2).sum(1) / (sa * sb**2)
    c5 = (probs * a**5).sum(1) / sa**5
    c1abs = (probs * a * a.abs()).sum(1) / sa**2
    if cue == "c3": skew = c3
    elif cue == "c12": skew = c12
    elif cue == "c3+c12": skew = c3 + c12
    elif cue == "c5": skew = c5
    elif cue == "a|a|": skew = c1abs
    elif cue == "strongest(c3,c12)": skew = torch.where(c12.abs() > c3.abs(), c12, c3)
    elif cue == "strongest(c3,c5)": skew = torch.where(c5.abs() / 3 > c3.abs(), c5, c3)
    phi = torch.where(skew < 0, phi + math.pi, phi)
    return wrap_angle(-phi), -center

cues = ["c3", "c12", "c3+c12", "c5", "a|a|", "strongest(c3,c12)", "strongest(c3,c5)"]
for seed in (0, 1, 2):
    settings = reproduce.resolve_settings(reproduce.build_parser().parse_args(["quick", "--seed", str(seed), "--train-size", "10"]))
    _, test = reproduce.load_data(settings)
    base = reproduce.reference_digits(test, settings)
    ref = canonical_pose(base, "moments"); mov = canonical_pose(test.images, "moments")
    f = reproduce.pose_figures(test.theta, test.tau, ref, mov)
    print(seed, "library moments", round(f["rotation_within_5deg"], 4), round(f["translation_pearson_x"], 4), round(f["translation_pearson_y"], 4), flush=True)
    for cue in cues:
        f = reproduce.pose_figures(test.theta, test.tau, pose(base, cue), pose(test.images, cue))
        print(seed, cue, "within5", round(f["rotation_within_5deg"], 4), "tau", round(f["translation_pearson_x"], 4), round(f["translation_pearson_y"], 4), flush=True)
