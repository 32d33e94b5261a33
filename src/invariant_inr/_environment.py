"""What machine a figure came from: one record shared by the benchmark scripts.

Every benchmark writes this next to its numbers (the brief: a figure names the machine, date and
command that produced it), so the fields stay the same across ``benchmarks/*.py``.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

__all__ = ["machine_info"]

_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma")  # the ones that change CPU kernels


def _cpuinfo_field(name: str) -> str | None:
    """The first ``name : value`` line of ``/proc/cpuinfo`` (``None`` where there is no such file)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def machine_info(device: torch.device) -> dict[str, Any]:
    """Platform, CPU model and flags, core count, torch version and threads, load, and the GPU if used.

    Args:
        device: the device the benchmark runs on.

    Returns:
        A JSON-ready dict.

    Example:
        >>> info = machine_info(torch.device("cpu"))
        >>> info["device"], info["torch"] == torch.__version__
        ('cpu', True)
    """
    flags = _cpuinfo_field("flags") or ""
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpuinfo_field("model name") or platform.processor() or "unknown",
        "cpu_flags": " ".join(flag for flag in flags.split() if flag in _CPU_FLAGS),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "device": str(device),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
