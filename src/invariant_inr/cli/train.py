"""``invariant-inr train``: train a model on your images (preset + flags) and save it; resumes from checkpoints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from .._distributed import init_distributed
from ..encoders import POSE_HEADS
from ..losses import CONSISTENCY_KINDS
from ..presets import preset_names
from ..training import LR_SCHEDULES
from ._common import EXIT_INTERRUPTED, EXIT_OK, add_device_argument, resolve_device, say
from ._data import add_data_arguments, load_data
from ._types import int_list, non_negative_float, non_negative_int, positive_float, positive_int

__all__ = ["MODEL_OPTIONS", "add_parser", "run"]

MODEL_OPTIONS = (
    # (flag, IRLINR keyword, type, help); every one defaults to the preset's value
    ("--latent-dim", "latent_dim", positive_int, "size d of the code z"),
    ("--encoder", "encoder", str, "encoder backbone: resnet18 (paper) or small (quick CPU CNN)"),
    ("--encoder-width", "encoder_width", positive_int, "channels of the first convolution of the small encoder"),
    ("--pose", "pose", str, "learned (paper: the head predicts the pose) or analytic (the rule's pose from the pixels)"),
    ("--pose-head", "pose_head", str, "with --pose learned: mlp (paper: the head's outputs), weight_map (the rule on a "
     "learned weight map: starts at the rule's pose, equivariant by construction) or mlp_two_pass (the mlp head's pose, "
     "then z from the image canonicalised by it)"),
    ("--canonical-rule", "canonical_rule", str, "com (paper: centre of mass), moments (principal axis) or harmonic "
     "(lowest strong angular harmonic); moments and harmonic are translation-independent"),
    ("--canonical-denoise", "canonical_denoise", str, "none (the rule weighs pixels by intensity) or auto (robust "
     "foreground weights, for noisy images)"),
    ("--encoder-denoise", "encoder_denoise", str, "none (the encoder sees the image) or auto (the image with its background "
     "removed, for noisy images)"),
    ("--num-frequencies", "num_frequencies", positive_int, "random Fourier frequencies f"),
    ("--fourier-sigma", "fourier_sigma", positive_float, "standard deviation of the Fourier frequencies"),
    ("--inr-hidden", "inr_hidden", int_list, "INR hidden widths, e.g. 256,256,256"),
    ("--hyper-hidden", "hyper_hidden", int_list, "hypernetwork hidden widths, e.g. 256,256,256"),
    ("--head-hidden", "head_hidden", int_list, "encoder head hidden widths, e.g. 512,512"),
    ("--translation-std", "translation_std", non_negative_float,
     "std of the random translations of the consistency loss, normalised units (1 pixel of a 50x50 image = 2/49)"),
    ("--pixel-fraction", "pixel_fraction", positive_float, "fraction of pixels per image and step in the reconstruction loss, (0, 1]"),
    ("--augment-strength", "augment_strength", non_negative_float,
     "random nuisance deformation (rotation, scale, shear, thicker strokes) of what the backbone sees in training; "
     "needs --pose analytic or --pose-head weight_map or mlp_two_pass; 0 = the paper"),
    ("--consistency", "consistency", str, "consistency loss: cos (the paper), mse, or infonce (also pushes different images apart)"),
    ("--consistency-temperature", "consistency_temperature", positive_float, "temperature of --consistency infonce"),
    ("--latent-norm", "latent_norm", str, "batch (standardise z over the batch, against collapse) or none (the paper's plain head)"),
    ("--output-activation", "output_activation", str, "identity or sigmoid on the INR output"),
    ("--lambda-recon", "lambda_recon", non_negative_float, "weight of the reconstruction loss"),
    ("--lambda-consis", "lambda_consis", non_negative_float, "weight of the consistency loss"),
    ("--lambda-symm", "lambda_symm", non_negative_float, "weight of the symmetry-breaking loss"),
    ("--chunk-size", "chunk_size", positive_int, "evaluate the INR this many pixels at a time (bounds memory)"),
)

CHOICES = {
    "encoder": ("resnet18", "small"),
    "pose": ("learned", "analytic"),
    "pose_head": POSE_HEADS,
    "canonical_denoise": ("none", "auto"),
    "encoder_denoise": ("none", "auto"),
    "canonical_rule": ("com", "moments", "harmonic"),
    "consistency": CONSISTENCY_KINDS,
    "output_activation": ("identity", "sigmoid"),
    "latent_norm": ("batch", "none"),
}

PRESET_FIT_KEYS = ("lr", "weight_decay", "batch_size", "lr_schedule")
"""Training options whose default is the preset's (``training_preset``), overridden by their flags."""

_FIT_OPTIONS = (
    # (flag, keyword, argparse keywords)
    ("--epochs", "epochs", dict(type=positive_int, default=10, help="total epochs; a resumed run continues up to it (default 10)")),
    ("--batch-size", "batch_size", dict(type=positive_int, help="images per step (default: the preset's, 128 for paper)")),
    ("--lr", "lr", dict(type=positive_float, help="Adam learning rate (default: the preset's, 1e-4 for paper)")),
    ("--weight-decay", "weight_decay", dict(type=non_negative_float, help="Adam weight decay (default 5e-4)")),
    ("--lr-schedule", "lr_schedule", dict(choices=LR_SCHEDULES,
     help="constant, or cosine: anneal to zero over the epochs or --time-limit (default: the preset's)")),
    ("--seed", "seed", dict(type=int, default=0, help="seed of the model and the training (default 0)")),
    ("--checkpoint-dir", "checkpoint_dir", dict(metavar="DIR", help="write DIR/last.pt after every epoch and resume from it")),
    ("--no-resume", "no_resume", dict(action="store_true", help="start afresh even if --checkpoint-dir holds a checkpoint")),
    ("--precision", "precision", dict(choices=("32", "bf16"), default="32", help="32 (float32) or bf16 (bfloat16 autocast)")),
    ("--channels-last", "channels_last", dict(action="store_true", help="channels-last memory format (faster convolutions on many devices)")),
    ("--compile", "compile", dict(action="store_true", help="torch.compile the loss (pays off on long runs)")),
    ("--time-limit", "time_limit", dict(type=positive_float, metavar="SECONDS", help="stop after the epoch in which this time has passed")),
    ("--max-steps-per-epoch", "max_steps_per_epoch", dict(type=positive_int, metavar="N", help="cut each epoch after N steps")),
    ("--num-workers", "num_workers", dict(type=non_negative_int, default=0, metavar="N", help="DataLoader worker processes (default 0)")),
)


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "train", parents=[common], help="train a model on your images and save it",
        description="Train an IRL-INR model on DATA. Model options start from --preset and are overridden by the "
        "flags given; training checkpoints go to --checkpoint-dir after every epoch, and a rerun resumes from there. "
        "The model is saved as soon as training ends (and, when interrupted, as it was).",
    )
    add_data_arguments(parser)
    model_group = parser.add_argument_group("model (default: the preset's value)")
    model_group.add_argument("--preset", choices=preset_names(), default="paper",
                             help="paper: the paper's ResNet18 model (slow on a CPU); quick: small and fast for 32x32 "
                             "images; mnist-quick: the quick MNIST(U) protocol's model (see invariant_inr.presets; default paper)")
    for flag, key, kind, text in MODEL_OPTIONS:
        metavar = None if key in CHOICES else {positive_int: "N", int_list: "W,W,..."}.get(kind, "X")
        model_group.add_argument(flag, dest=key, type=kind, default=None, choices=CHOICES.get(key), metavar=metavar, help=text)
    fit_group = parser.add_argument_group("training")
    for flag, key, options in _FIT_OPTIONS:
        fit_group.add_argument(flag, dest=key, **options)
    add_device_argument(fit_group)
    out_group = parser.add_argument_group("output")
    out_group.add_argument("--out", default="model.pt", metavar="FILE", help="where to save the trained model (default model.pt)")
    out_group.add_argument("--history", metavar="FILE", help="also write the per-epoch losses as JSON")
    parser.set_defaults(func=run)


def _build_model(args: argparse.Namespace, first_image: torch.Tensor) -> tuple[Any, dict[str, Any]]:
    """The model of ``--preset`` with the flags given, for images like ``first_image``; and the fit keywords."""
    from ..model import IRLINR
    from ..presets import preset, training_preset

    channels, height, width = first_image.shape
    kwargs = preset(args.preset)
    kwargs.update({key: getattr(args, key) for _, key, _, _ in MODEL_OPTIONS if getattr(args, key) is not None})
    fit_kwargs = training_preset(args.preset)
    fit_kwargs.update({key: getattr(args, key) for key in PRESET_FIT_KEYS if getattr(args, key) is not None})
    return IRLINR(channels, (height, width), seed=args.seed, **kwargs), fit_kwargs


def run(args: argparse.Namespace) -> int:
    from ..training import fit

    distributed, device = init_distributed(resolve_device(args.device))
    rank = torch.distributed.get_rank() if distributed else 0
    if rank != 0:
        args.quiet = True  # one report, from rank 0
    loaded = load_data(args, default_split="train")
    model, fit_kwargs = _build_model(args, loaded.first_image())
    channels, height, width = loaded.first_image().shape
    say(args, f"training on {loaded.description}: {channels} channel(s), {height}x{width}, preset {args.preset!r}, "
        f"{args.epochs} epoch(s), batch {fit_kwargs['batch_size']}, lr {fit_kwargs['lr']:g}, device {device}")
    if args.checkpoint_dir and not args.no_resume and (Path(args.checkpoint_dir) / "last.pt").exists():
        say(args, f"resuming from {str(Path(args.checkpoint_dir) / 'last.pt')!r}")
    out = Path(args.out)
    fit_options = {key: getattr(args, key) for _, key, _ in _FIT_OPTIONS if key not in (*PRESET_FIT_KEYS, "no_resume")}
    try:
        history = fit(model, loaded.data, resume=not args.no_resume, device=device, progress=not args.no_progress,
                      **fit_options, **fit_kwargs)
    except KeyboardInterrupt:
        if rank == 0:
            model.save(out)  # what was learned so far is not lost
            say(args, f"interrupted: saved the model as it was to {out}"
                + (f" (a rerun resumes from {args.checkpoint_dir})" if args.checkpoint_dir else ""))
        return EXIT_INTERRUPTED
    if rank != 0:
        torch.distributed.barrier()
        return EXIT_OK
    model.save(out)  # first of all, before anything that could fail
    if distributed:
        torch.distributed.barrier()
    last = {name: history[name][-1] for name in ("total", "recon", "consis", "symm")}
    say(args, f"{history.epochs} epoch(s) done; last epoch: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    say(args, f"wrote {out}")
    if args.history:
        from ..demo import to_json

        Path(args.history).parent.mkdir(parents=True, exist_ok=True)
        Path(args.history).write_text(json.dumps(to_json(dict(history)), indent=2) + "\n")
        say(args, f"wrote {args.history}")
    return EXIT_OK
