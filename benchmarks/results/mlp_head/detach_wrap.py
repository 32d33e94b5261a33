"""Experiment only (not the library): ``pose_head="mlp_two_pass"`` with the pose detached where it canonicalises
the image of the second pass, so that only the symmetry-breaking and reconstruction losses train the pose (the
consistency loss on z cannot move it), then a script run as usual.

    benchmarks/results/run_wrapped.sh benchmarks/results/mlp_head/detach_wrap.py TAG SEED CONFIG   (repository root)

Since run ``mlp_2pass_detach_s0`` the library detaches the pose there itself; the wrapper is kept as the record of
how that run was made on the library before.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results: wrap_tools
from invariant_inr.encoders import Encoder  # noqa: E402
from wrap_tools import run_script_from_argv  # noqa: E402

_library_encode_canonical = Encoder._encode_canonical


def _encode_canonical_detached(self, images, theta, tau, augment):
    if self.pose_head == "mlp_two_pass":
        theta, tau = theta.detach(), tau.detach()
    return _library_encode_canonical(self, images, theta, tau, augment)


Encoder._encode_canonical = _encode_canonical_detached
if __name__ == "__main__":
    run_script_from_argv()
