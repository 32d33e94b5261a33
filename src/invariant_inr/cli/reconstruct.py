"""``invariant-inr reconstruct``: a PNG of inputs, reconstructions and canonical reconstructions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ._common import EXIT_OK, UsageError, add_device_argument, load_model, resolve_device, say
from ._data import add_data_arguments, load_data
from ._types import non_negative_int, positive_int

__all__ = ["add_parser", "run"]


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "reconstruct", parents=[common], help="PNG grid of inputs, reconstructions and canonical reconstructions",
        description="Write a PNG with three rows: the input images, their reconstructions (the INR rendered at the "
        "encoded pose) and their canonical reconstructions (rendered from z alone). With --rotations R, each "
        "chosen image is shown as R rotated copies (2*pi*k/R), so invariance shows as identical canonical rows.",
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a trained model")
    add_data_arguments(parser)
    parser.add_argument("--out", default="reconstructions.png", metavar="FILE", help="PNG file (default reconstructions.png)")
    parser.add_argument("--num-images", type=positive_int, default=8, help="how many images (default 8; first ones)")
    parser.add_argument("--indices", metavar="I,J,...", help="which images (comma-separated indices) instead of the first ones")
    parser.add_argument("--rotations", type=non_negative_int, default=0, metavar="R", help="show R rotated copies of each image")
    parser.add_argument("--render-size", type=positive_int, metavar="S", help="render the canonical images at SxS (any resolution)")
    parser.add_argument("--autoscale", action="store_true", help="scale grey levels to the data's range instead of [0, 1]")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def _parse_indices(text: str | None, count: int, available: int) -> list[int]:
    if text is None:
        return list(range(min(count, available)))
    try:
        indices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--indices must be comma-separated integers, got {text!r}") from None
    bad = [i for i in indices if not 0 <= i < available]
    if bad or not indices:
        raise UsageError(f"--indices must lie in 0..{available - 1}, got {text!r}")
    return indices


def run(args: argparse.Namespace) -> int:
    import math

    from ..plotting import save_image_grid
    from ..se2 import transform_images

    if Path(args.out).suffix.lower() != ".png":
        raise UsageError(f"--out must be a .png file, got {Path(args.out).name!r}")
    model = load_model(args.checkpoint, resolve_device(args.device))
    loaded = load_data(args, image_size=model.config.image_size)
    indices = _parse_indices(args.indices, args.num_images, len(loaded))
    items = [loaded.data[i] for i in indices]
    images = torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in items]).to(model.dtype)
    model.eval()
    rows: list[Tensor] = []
    labels: list[str] = []
    with torch.no_grad():
        if args.rotations > 0:
            copies = args.rotations
            theta = (torch.arange(copies, dtype=images.dtype) * (2 * math.pi / copies)).repeat(len(indices))
            inputs = transform_images(images.repeat_interleave(copies, dim=0), theta, torch.zeros(theta.shape[0], 2, dtype=images.dtype))
        else:
            inputs = images
        inputs = inputs.to(model.device)
        recon = model.reconstruct(inputs).cpu()
        canon = model.canonical(inputs, size=args.render_size).cpu()
        inputs = inputs.cpu()
        if args.render_size is not None and args.render_size != inputs.shape[-1]:
            scale = dict(size=canon.shape[-2:], mode="bilinear", align_corners=False)
            inputs = torch.nn.functional.interpolate(inputs, **scale)
            recon = torch.nn.functional.interpolate(recon, **scale)
    if args.rotations > 0:
        for block, index in enumerate(indices):
            part = slice(block * args.rotations, (block + 1) * args.rotations)
            rows += [inputs[part], recon[part], canon[part]]
            labels += [f"#{loaded.ids[index]}: input", "reconstruction", "canonical"]
    else:
        rows = [inputs, recon, canon]
        labels = ["input", "reconstruction", "canonical"]
    value_range = None if args.autoscale else (0.0, 1.0)
    out = save_image_grid(args.out, rows, row_labels=labels, value_range=value_range)
    say(args, f"wrote {out}")
    return EXIT_OK
