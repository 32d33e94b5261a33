"""Experiment only (not the library): run a script with a momentum (MoCo) key encoder for the "infonce" consistency.

MoCo (He et al. 2020): the keys that each code is scored against come from a slowly moving copy of the encoder,
an exponential moving average of its weights (momentum MOMENTUM, default 0.99), without gradients; a queue of
the last QUEUE (default 0) keys joins the batch's keys as negatives. Each training step: the momentum copy is
moved towards the encoder, encodes the same deformed canonical images as the encoder (both copies of each image),
and the first copies' codes are scored against the second copies' keys (and the queue), the second copies' codes
against the first copies' keys. The keys then enter the queue. Only the backbone, the head and the code's batch
norm are copied; the copy lives outside the model, so checkpoints are those of the library.
Usage, from the repository root:
    MOMENTUM=0.99 QUEUE=4096 python benchmarks/results/moco_infonce/moco_wrap.py benchmarks/reproduce.py quick [options]
"""
import copy
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import invariant_inr.encoders as encoders
import invariant_inr.model as model_module
from invariant_inr.losses import consistency_loss

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results: wrap_tools
from wrap_tools import infonce_with_extra_negatives, run_script_from_argv  # noqa: E402

MOMENTUM = float(os.environ.get("MOMENTUM", "0.99"))
QUEUE = int(os.environ.get("QUEUE", "0"))
state: dict = {"copy": None, "keys": None, "queue": None}  # keys: (2B, d) of the current step, unit length
_encode_canonical = encoders.Encoder._encode_canonical


def _momentum_copy(encoder: encoders.Encoder) -> torch.nn.ModuleDict:
    online = torch.nn.ModuleDict({"backbone": encoder.backbone, "head": encoder.head})
    if encoder.z_norm is not None:
        online["norm"] = encoder.z_norm
    if state["copy"] is None:
        state["copy"] = copy.deepcopy(online).requires_grad_(False)
    else:
        with torch.no_grad():
            for slow, fast in zip(state["copy"].parameters(), online.parameters()):
                slow.lerp_(fast, 1.0 - MOMENTUM)  # slow <- m slow + (1 - m) fast
    return state["copy"]


def encode_with_keys(self, images, theta, tau, augment):
    """The encoder's canonical path; while training, the momentum copy's keys of the images its backbone saw are kept."""
    if not (torch.is_grad_enabled() and self.training):
        return _encode_canonical(self, images, theta, tau, augment)
    seen: list = []  # the deformed canonical images the backbone is shown, caught on the way in
    hook = self.backbone.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        z = _encode_canonical(self, images, theta, tau, augment)  # the library's own path
    finally:
        hook.remove()
    canonical_images = seen[0]
    slow = _momentum_copy(self)
    with torch.no_grad():
        keys = slow["head"](slow["backbone"](canonical_images))
        keys = slow["norm"](keys) if "norm" in slow else keys  # batch statistics, as the encoder's
        state["keys"] = F.normalize(keys, dim=1, eps=1e-8)
    return z


def consistency_with_keys(z1, z2, kind="cos", *, temperature=0.5):
    """``consistency_loss`` against the momentum keys (and the queue) for ``kind="infonce"`` while training."""
    keys, state["keys"] = state["keys"], None
    if kind != "infonce" or keys is None or not z1.requires_grad:
        return consistency_loss(z1, z2, kind, temperature=temperature)
    u, v = F.normalize(z1, dim=1, eps=1e-8), F.normalize(z2, dim=1, eps=1e-8)
    k1, k2 = keys.chunk(2)
    queue = state["queue"] if state["queue"] is not None else u.new_zeros(0, u.shape[1])
    loss = infonce_with_extra_negatives(u, v, k1, k2, queue, temperature)
    if QUEUE > 0:
        state["queue"] = torch.cat([queue, keys])[-QUEUE:]
    return loss


encoders.Encoder._encode_canonical = encode_with_keys
model_module.consistency_loss = consistency_with_keys  # the name IRLINR's training step calls
run_script_from_argv()
