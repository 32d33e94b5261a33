"""Experiment only: the probes' curves as a markdown table (at 700 steps, the full model's count in 600 s, and at the end).

    python summarize.py probe_*.json
"""
import json
import sys


def row(point: dict) -> str:
    return (f"{point['step']:,} ({point['seconds']:.0f} s) | {point['rotation_pearson']:.4f} | {point['rotation_median_error_deg']:.1f} | "
            f"{point['rotation_within_5deg']:.3f} | {point['displacement_pearson_x']:.4f} / {point['displacement_pearson_y']:.4f}")


print("| probe | parameters | at step (time) | rotation Pearson | median error (deg) | within 5 deg | displacement x / y |")
print("|---|---:|---|---:|---:|---:|---|")
for path in sys.argv[1:]:
    record = json.load(open(path))
    curve = record["curve"]
    at700 = min(curve, key=lambda p: abs(p["step"] - 700))
    for point in (at700, curve[-1]) if at700 is not curve[-1] else (curve[-1],):
        print(f"| `{path}` | {record['parameters']:,} | {row(point)} |")
