"""Where and how a benchmark ran (command, date, machine), and the JSON it writes: shared by benchmarks/*.py.

The machine fields are :func:`invariant_inr._environment.machine_info` (one record for every
script); on CUDA this adds what a GPU figure also needs and that record lacks: the device's
memory, compute capability and multiprocessors, and the CUDA and cuDNN versions torch was built
with. The scripts import this file from their own folder (``benchmarks/`` is not a package).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from invariant_inr._environment import machine_info

__all__ = ["command_line", "jsonable", "machine_record", "run_record", "utc_now", "write_json"]


def machine_record(device: torch.device) -> dict[str, Any]:
    """:func:`machine_info` of ``device`` plus, on CUDA, the GPU's memory and capability and CUDA/cuDNN versions."""
    info = machine_info(device)
    info["cuda_build"] = torch.version.cuda  # None for a CPU-only build of torch
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            gpu_memory_bytes=int(props.total_memory),
            gpu_capability=f"{props.major}.{props.minor}",
            gpu_multiprocessors=int(props.multi_processor_count),
            cudnn=torch.backends.cudnn.version(),
            gpu_count=torch.cuda.device_count(),
        )
    return info


def utc_now() -> str:
    """The date and time in UTC, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """``python benchmarks/<script> ARGS`` as a shell line (``argv=None``: this process's arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python", f"benchmarks/{script}", *(shlex.quote(str(part)) for part in args)])


def run_record(device: torch.device, *, script: str, argv: Sequence[str] | None) -> dict[str, Any]:
    """The ``command``, ``date`` and ``machine`` fields every benchmark writes next to its figures."""
    return {"command": command_line(script, argv), "date": utc_now(), "machine": machine_record(device)}


def provenance_line(record: dict[str, Any]) -> str:
    """``Command: `...`; DATE; CPU, N threads, load at start L`` for a report written from :func:`run_record`."""
    machine = record["machine"]
    return (f"Command: `{record['command']}`; {record['date']}; {machine['cpu']}, {machine['torch_threads']} threads, "
            f"load at start {machine['load_average_at_start'][0]:.1f}")


def jsonable(value: Any) -> Any:
    """Plain JSON types: tuples to lists, tensors/arrays to lists, NaN/inf to None, keys to str."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (Tensor, np.ndarray)):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_json(path: Path | str, data: Any) -> None:
    """Write ``data`` atomically: a partial file never replaces a complete one."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(data), indent=2) + "\n")
    os.replace(tmp, path)
