"""``invariant-inr demo``: train on built-in sprites and write the model, pictures and scores."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_FAILURE, EXIT_OK, add_device_argument, resolve_device
from ._types import positive_int

__all__ = ["add_parser", "run"]


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "demo", parents=[common], help="train on built-in sprites and write pictures, scores and a model",
        description="Train IRL-INR (the 'quick' preset) on built-in sprites (squares, ellipses, hearts at random "
        "rotations and translations) and write to the output folder, each as soon as it is ready: model.pt, "
        "losses.png, reconstructions.png (inputs / reconstructions / canonical reconstructions of rotated copies), "
        "rotation.png (true vs predicted rotation), clusters.png (images per k-means cluster), confusion.png and "
        "scores.json (every figure of the run). A part that needs a missing extra is skipped with a one-line note.",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (seconds) instead of a few minutes; too short to learn much")
    parser.add_argument("--out", default="invariant-inr-demo", metavar="DIR", help="output folder (default ./invariant-inr-demo)")
    parser.add_argument("--epochs", type=positive_int, metavar="N", help="number of epochs (default: from the preset)")
    parser.add_argument("--num-samples", type=positive_int, metavar="N", help="number of training sprites (default: from the preset)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, model and training (default 0)")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    result = run_demo(
        args.out,
        quick=args.quick,
        epochs=args.epochs,
        num_train=args.num_samples,
        seed=args.seed,
        device=resolve_device(args.device),
        progress=not args.no_progress,
        log=None if args.quiet else (lambda line: print(line, flush=True)),
    )
    failed = [part for part, item in result["skipped"].items() if item["kind"] == "failed"]
    return EXIT_FAILURE if failed else EXIT_OK
