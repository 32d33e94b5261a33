"""Experiment only (not the library): ``pose_head="mlp_two_pass"`` with the warp of the second pass differentiated in
the pose (the code's losses reach the pose through it, as with the ``weight_map`` head), then a script run as usual.
This is the form run as ``mlp_2pass_s0``, before the library chose to detach the pose there.

    benchmarks/results/run_wrapped.sh benchmarks/results/mlp_head/grad_wrap.py TAG SEED CONFIG   (repository root)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results: wrap_tools
from invariant_inr.encoders import Encoder  # noqa: E402
from wrap_tools import run_script_from_argv  # noqa: E402

Encoder._second_pass_pose = staticmethod(lambda theta, tau: (theta, tau))  # the pose as it is, gradients and all
if __name__ == "__main__":
    run_script_from_argv()
