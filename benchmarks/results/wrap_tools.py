"""Experiment only (not the library): what the ``*_wrap.py`` experiment wrappers of these folders share.

A wrapper patches a piece of the library, then hands over to a script with :func:`run_script_from_argv`.
Each wrapper puts this folder on ``sys.path`` to import it (it runs as a script from its own folder).
"""
import runpy
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor


def infonce_with_extra_negatives(u: Tensor, v: Tensor, keys_u: Tensor, keys_v: Tensor, extra: Tensor, temperature: float) -> Tensor:
    """Symmetric InfoNCE: ``u[i]`` scored against ``keys_v`` (its positive ``keys_v[i]``) and ``extra``, ``v[i]``
    against ``keys_u`` and ``extra``; all rows unit length. ``keys_u, keys_v = u, v`` and an empty ``extra`` is
    the library's ``consistency_loss(z1, z2, "infonce")``.

    Args:
        u, v: (B, d) codes of the first and second copies.
        keys_u, keys_v: (B, d) what they are scored against (the codes themselves, or a momentum encoder's keys).
        extra: (M, d) extra negatives for both (M may be 0).
        temperature: the logits' divisor.
    """
    own = torch.arange(u.shape[0], device=u.device)
    forward = torch.cat([u @ keys_v.T, u @ extra.T], dim=1) / temperature  # (B, B + M)
    backward = torch.cat([v @ keys_u.T, v @ extra.T], dim=1) / temperature
    return 0.5 * (F.cross_entropy(forward, own) + F.cross_entropy(backward, own))


def run_script_from_argv() -> None:
    """Run ``sys.argv[1]`` as ``__main__`` with the rest of ``sys.argv`` as its arguments (and its folder importable)."""
    script = Path(sys.argv[1]).resolve()
    sys.argv = [str(script)] + sys.argv[2:]
    sys.path.insert(0, str(script.parent))
    runpy.run_path(str(script), run_name="__main__")
