"""What every command shares: exit codes, the usage error, the device flag, model loading, printing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "UsageError",
    "add_device_argument",
    "encode",
    "load_model",
    "read_torch_file",
    "resolve_device",
    "say",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROG = "invariant-inr"


class UsageError(ValueError):
    """A command-line argument or input file that cannot be used; reported in one line, exit code 2."""


def resolve_device(name: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; a CUDA name without CUDA is a :class:`UsageError`."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return name


def add_device_argument(parser: argparse.ArgumentParser | Any) -> None:
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps, ... (default: auto = cuda when available)")


def load_model(path: str, device: str) -> Any:
    from ..model import IRLINR

    return IRLINR.load(path, map_location=device)


def read_torch_file(path: Path, wanted: str) -> tuple[Any, bool]:
    """``torch.load`` with ``weights_only=True``: ``(content, is_dict)``; a dict must hold the key ``wanted``."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors come in many types
        raise UsageError(f"cannot read {str(path)!r} as a tensor file: {error}") from error
    if isinstance(content, dict) and wanted not in content:
        raise UsageError(f"{str(path)!r} holds a dict without a {wanted!r} entry (keys: {sorted(map(str, content))})")
    return content, isinstance(content, dict)


def say(args: argparse.Namespace, line: str) -> None:
    """Print ``line`` unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(line, flush=True)


def encode(model: Any, data: Any, args: argparse.Namespace) -> Any:
    """Codes and poses of ``data`` (a tensor or dataset), ``--batch-size`` at a time."""
    from ..inference import encode_all

    return encode_all(model, data, batch_size=args.batch_size, progress=not args.no_progress)
