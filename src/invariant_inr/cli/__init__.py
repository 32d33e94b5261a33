"""The ``invariant-inr`` command line (also ``python -m invariant_inr``): the parser, ``main`` and the public names.

Subcommands::

    invariant-inr demo [--quick] [--out DIR]          train on built-in sprites, write pictures and scores
    invariant-inr train DATA [options]                train a model on your images, save a checkpoint
    invariant-inr embed CHECKPOINT DATA --out FILE    codes z and poses (theta, tau) to .pt/.npz/.npy/.csv
    invariant-inr cluster ... -k K --out FILE         k-means / agglomerative / SCAN; one cluster per image (CSV)
    invariant-inr reconstruct CHECKPOINT DATA --out FILE.png   inputs / reconstructions / canonical images

``DATA`` is one of: a tensor file (``.pt`` holding an ``(N, C, H, W)`` tensor or a dict with
``"images"`` and optional ``"labels"``; ``.npy``; ``.npz`` with ``images``/``labels``), a folder of
image files (PNG, JPG, ...; with ``--labels-from-folders`` each sub-folder is a class), ``mnist-u``
(MNIST(U) from the IDX files in ``--root``), or ``sprites`` (built-in shapes).

Exit codes: 0 success; 1 the run failed (for example the loss became NaN); 2 bad usage, bad input
or a missing optional dependency, with a one-line message (``--debug`` shows the traceback);
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from . import cluster, demo, embed, reconstruct, train
from ._common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, UsageError
from ._data import TENSOR_SUFFIXES, LoadedData, load_data
from .embeddings import EMBED_SUFFIXES, read_embeddings, write_embeddings

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "LoadedData",
    "UsageError",
    "build_parser",
    "load_data",
    "main",
    "read_embeddings",
    "write_embeddings",
]

COMMANDS = (demo, train, embed, cluster, reconstruct)  # each module adds its sub-command, in this order


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of the ``invariant-inr`` command.

    Example:
        >>> args = build_parser().parse_args(["cluster", "--embeddings", "z.pt", "-k", "10"])
        >>> args.command, args.method, args.num_clusters, args.out
        ('cluster', 'kmeans', 10, 'clusters.csv')
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="IRL-INR: rotation- and translation-invariant image representations "
        "(Kwon, Choi & Ryu, ICML 2023). Run 'invariant-inr demo' for a first look.",
        epilog="Run 'invariant-inr COMMAND --help' for the options of a command. Exit codes: 0 ok, 1 failed run, "
        "2 bad usage or input, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="print nothing but errors")
    common.add_argument("--no-progress", action="store_true", help="hide progress bars")
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for command in COMMANDS:
        command.add_parser(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Example:
        >>> main(["--version"])  # doctest: +ELLIPSIS
        invariant-inr ...
        0
        >>> main(["embed", "no-such-model.pt", "sprites", "--out", "z.pt"])  # prints a one-line error
        2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors (argparse prints them)
        return int(exit_.code) if isinstance(exit_.code, int) else (EXIT_OK if exit_.code is None else EXIT_USAGE)
    if getattr(args, "debug", False) or os.environ.get("INVARIANT_INR_DEBUG"):
        return int(args.func(args))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError, ImportError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except (FloatingPointError, RuntimeError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"{PROG} {args.command}: failed: {message} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE
