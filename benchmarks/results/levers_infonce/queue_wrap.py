"""Experiment only (not the library): run a script with the "infonce" consistency given more negatives.

A memory of the last QUEUE (default 1024) unit-length codes of earlier training steps (detached, as in a memory
bank; no momentum encoder) joins each step's negatives: the first copies' codes are scored against the batch's
second copies and the memory, and the other way round. The memory is filled with the step's second copies
after each training step (only where gradients flow, so encoding for evaluation leaves it alone).
Usage, from the repository root:
    QUEUE=1024 python benchmarks/results/levers_infonce/queue_wrap.py benchmarks/reproduce.py quick [options]
"""
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import invariant_inr.model as model_module
from invariant_inr.losses import consistency_loss

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results: wrap_tools
from wrap_tools import infonce_with_extra_negatives, run_script_from_argv  # noqa: E402

QUEUE = int(os.environ.get("QUEUE", "1024"))
memory: torch.Tensor | None = None  # (M, d), M <= QUEUE, unit length, detached, the newest last


def consistency_with_memory(z1, z2, kind="cos", *, temperature=0.5):
    """``consistency_loss`` with the memory as extra negatives for ``kind="infonce"``."""
    if kind != "infonce" or not (torch.is_grad_enabled() and z1.requires_grad):
        return consistency_loss(z1, z2, kind, temperature=temperature)
    global memory
    u, v = F.normalize(z1, dim=1, eps=1e-8), F.normalize(z2, dim=1, eps=1e-8)
    bank = memory if memory is not None else u.new_zeros(0, u.shape[1])
    loss = infonce_with_extra_negatives(u, v, u, v, bank, temperature)
    memory = torch.cat([bank, v.detach()])[-QUEUE:]
    return loss


model_module.consistency_loss = consistency_with_memory  # the name IRLINR's training step calls
run_script_from_argv()
