"""Experiment only (not the library): the ``"mlp"`` pose head's symmetry-breaking loss as a squared error on the
head's raw direction output instead of on ``(cos, sin)`` of the angle it implies, then a script run as usual.

For the ``moments`` and ``harmonic`` rules the library's loss is ``|tau - tau*|^2 + |u(theta) - u(theta*)|^2``
with ``theta = -atan2(v)`` of the head's direction output ``v``: its gradient scales as ``1/|v|`` and vanishes at
a half turn. Here the angle term is ``|v - (cos theta*, -sin theta*)|^2`` (convex in ``v``, as the paper's ``com``
loss is in the head's centre output). The translation term is unchanged.

    python vector_wrap.py ../../reproduce.py quick ...   (see run.sh)
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results: wrap_tools
import invariant_inr.model as model_module  # noqa: E402
from invariant_inr.center import canonical_pose  # noqa: E402
from invariant_inr.encoders import Encoder  # noqa: E402
from wrap_tools import run_script_from_argv  # noqa: E402

_library_loss = model_module.symmetry_breaking_loss
_last_head_output: dict[str, torch.Tensor] = {}
_original_init = Encoder.__init__


def _init_with_hook(self: Encoder, *args, **kwargs) -> None:
    _original_init(self, *args, **kwargs)
    if self.pose_outputs == 4:  # the "mlp" head with a rule that has a direction (moments, harmonic)
        latent = self.latent_dim

        def keep(module, inputs, output):  # (B, d + 4): z, centre, direction
            _last_head_output["direction"] = output[:, latent + 2 :]

        self.head.register_forward_hook(keep)


def vector_loss(theta, tau, images, rule="com", *, denoise="none", direction=None):  # direction: the library's own form since this folder's runs
    direction = _last_head_output.pop("direction", None)
    if rule == "com" or direction is None or direction.shape[0] != theta.shape[0]:
        return _library_loss(theta, tau, images, rule, denoise=denoise)
    with torch.no_grad():
        target_theta, target_tau = canonical_pose(images, rule, denoise=denoise)
    target = torch.stack([torch.cos(target_theta), -torch.sin(target_theta)], dim=1)  # the head's theta is -atan2(v)
    return ((tau - target_tau).pow(2).sum(dim=1) + (direction - target).pow(2).sum(dim=1)).mean()


Encoder.__init__ = _init_with_hook
model_module.symmetry_breaking_loss = vector_loss
if __name__ == "__main__":
    run_script_from_argv()
