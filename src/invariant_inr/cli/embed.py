"""``invariant-inr embed``: codes z and poses (theta, tau) of images, written to .pt/.npz/.npy/.csv."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, UsageError, add_device_argument, encode, load_model, resolve_device, say
from ._data import add_data_arguments, load_data
from ._types import positive_int
from .embeddings import EMBED_SUFFIXES, write_embeddings

__all__ = ["add_parser", "run"]


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "embed", parents=[common], help="codes z and poses (theta, tau) of images, to .pt/.npz/.npy/.csv",
        description="Encode DATA with a trained model. --out FILE.pt: a dict of tensors z (N, d), theta (N,), "
        "tau (N, 2), ids, labels; FILE.npz: the same as numpy arrays; FILE.npy: z, with theta and tau in "
        "FILE.theta.npy and FILE.tau.npy; FILE.csv: one row per image: index, label, theta, tau_x, tau_y, z0, z1, ... "
        "Poses follow the package convention: S_{theta,tau}[J] is the canonical image; radians, counter-clockwise; "
        "tau in (x, y), y up, normalised units (the longer image side spans [-1, 1]).",
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a model saved by 'train', 'demo' or IRLINR.save")
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, metavar="FILE", help="output file: .pt, .npz, .npy or .csv")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="images per forward pass (default 256)")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if Path(args.out).suffix.lower() not in EMBED_SUFFIXES:
        raise UsageError(f"--out must end in {', '.join(EMBED_SUFFIXES)}, got {Path(args.out).name!r}")
    model = load_model(args.checkpoint, resolve_device(args.device))
    loaded = load_data(args, image_size=model.config.image_size)
    enc = encode(model, loaded.data, args)
    written = write_embeddings(Path(args.out), enc.z, enc.theta, enc.tau, loaded.ids, loaded.labels)
    say(args, f"encoded {loaded.description}: z {tuple(enc.z.shape)}, theta {tuple(enc.theta.shape)}, tau {tuple(enc.tau.shape)}")
    for path in written:
        say(args, f"wrote {path}")
    return EXIT_OK
