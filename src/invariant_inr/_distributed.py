"""Joining the ``torch.distributed`` process group that ``torchrun`` describes in the environment.

``torchrun`` (``python -m torch.distributed.run``) starts one process per rank and sets
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; it does not
initialise the process group itself. :func:`join_torchrun_group` does, with the backend that fits
the device (NCCL for CUDA, gloo for the CPU), so that ``fit(model, images)`` in a plain script
trains one model across the ranks instead of one independent model per process.
:func:`init_distributed` is the command line's variant of the same step.
"""

from __future__ import annotations

import itertools
import os

import torch

__all__ = ["backend_for", "init_distributed", "join_torchrun_group", "launched_by_torchrun"]

_JOINS = itertools.count()
"""Groups :func:`join_torchrun_group` has initialised in this process (every rank counts alike)."""


def launched_by_torchrun() -> bool:
    """Whether the environment describes a multi-process ``torchrun`` launch.

    True when ``WORLD_SIZE`` is an integer above 1 and ``RANK`` and ``MASTER_ADDR`` are set (what
    ``env://`` initialisation needs); a stray ``WORLD_SIZE`` alone does not count.
    """
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return False
    return world > 1 and "RANK" in os.environ and "MASTER_ADDR" in os.environ


def backend_for(device: torch.device | str) -> str:
    """The process-group backend for ``device``: ``"nccl"`` for CUDA, ``"gloo"`` otherwise.

    Example:
        >>> backend_for("cuda:1"), backend_for("cpu")
        ('nccl', 'gloo')
    """
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def join_torchrun_group(device: torch.device | str, *, device_given: bool = True) -> tuple[bool, torch.device]:
    """Initialise the default process group from ``torchrun``'s environment, if that is needed.

    Nothing happens (``(False, device)`` is returned) when ``torch.distributed`` is unavailable,
    a process group is already initialised (the caller's own set-up is left alone), or
    :func:`launched_by_torchrun` is False. Otherwise the group is initialised with
    :func:`backend_for` ``(device)``; on CUDA, a device without an index (or one not chosen by the
    caller, ``device_given=False``) becomes ``cuda:LOCAL_RANK``, one GPU per rank, and is made
    the current CUDA device. Every call that initialises a group gives it its own key prefix in
    ``torchrun``'s store, so a process can join, destroy and join again (two ``fit`` calls).

    Args:
        device: the device this process trains on.
        device_given: whether the caller chose ``device`` explicitly (an explicit ``cuda:i`` is
            kept as is).

    Returns:
        ``(created, device)``: ``created`` is True when this call initialised the group (the
        caller should ``torch.distributed.destroy_process_group()`` when done); ``device`` is the
        device to train on.
    """
    device = torch.device(device)
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized() or not launched_by_torchrun():
        return False, device
    if device.type == "cuda":
        if device.index is None or not device_given:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    store, rank, world_size = next(dist.rendezvous("env://"))
    # A fresh key prefix for every group joined here: the store outlives destroy_process_group() and
    # still holds the previous group's addresses, which a re-joining rank could read and hang on.
    store = dist.PrefixStore(f"invariant_inr/group{next(_JOINS)}", store)
    dist.init_process_group(backend_for(device), store=store, rank=rank, world_size=world_size)
    return True, device


def init_distributed(device: str) -> tuple[bool, str]:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE > 1``); returns ``(distributed, device)``.

    The command line's variant: any CUDA device becomes ``cuda:LOCAL_RANK``; a group that is
    already initialised is used as it is. The group is left initialised for the process's life.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dist = torch.distributed
    if world <= 1 or not dist.is_available():
        return False, device
    if device.startswith("cuda"):
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend_for(device))
    return True, device
