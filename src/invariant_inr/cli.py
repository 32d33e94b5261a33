"""The ``invariant-inr`` command line (also ``python -m invariant_inr``).

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
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ._version import __version__
from .presets import preset_names

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

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROG = "invariant-inr"


class UsageError(ValueError):
    """A command-line argument or input file that cannot be used; reported in one line, exit code 2."""


# ------------------------------------------------------------------------------------------------
# argument types
# ------------------------------------------------------------------------------------------------


def _int_list(text: str) -> tuple[int, ...]:
    """``"256,256"`` -> ``(256, 256)``."""
    try:
        values = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 256,256, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers such as 256,256, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------

TENSOR_SUFFIXES = (".pt", ".pth", ".npy", ".npz")


@dataclasses.dataclass
class LoadedData:
    """Images from the command line: a tensor or dataset, optional labels, and one id per image."""

    data: Tensor | Dataset
    labels: Tensor | None
    ids: list[Any]
    description: str

    def __len__(self) -> int:
        return len(self.ids)

    def tensor(self) -> Tensor:
        """All images as one ``(N, C, H, W)`` tensor (reads a folder completely)."""
        if isinstance(self.data, Tensor):
            return self.data
        first = self.data[0]
        items = [self.data[i] for i in range(len(self.data))]  # type: ignore[arg-type]
        if isinstance(first, (tuple, list)):
            items = [item[0] for item in items]
        return torch.stack(items)

    def first_image(self) -> Tensor:
        item = self.data[0]
        return item[0] if isinstance(item, (tuple, list)) else item


def _add_data_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "data",
        nargs=None if required else "?",
        metavar="DATA",
        help="a tensor file (.pt with an (N, C, H, W) tensor or a dict with 'images' and optional 'labels'; "
        ".npy; .npz with 'images'/'labels'), a folder of image files, 'mnist-u' (with --root) or 'sprites'",
    )
    group.add_argument("--root", metavar="DIR", help="folder with the MNIST IDX files, for DATA = mnist-u")
    group.add_argument("--split", choices=("train", "test"), default=None,
                       help="MNIST split for mnist-u (default: train for 'train', test otherwise)")
    group.add_argument("--num-samples", type=_positive_int, metavar="N",
                       help="use only the first N images (mnist-u, tensor files, folders) or make N sprites (default 3000)")
    group.add_argument("--image-size", type=_positive_int, metavar="S",
                       help="side of the images: resize folder images to SxS (default: the model's size, or each "
                       "file's own), draw sprites at S (default 32), embed MNIST(U) digits in S (default 50)")
    group.add_argument("--channels", type=int, choices=(1, 3), help="folder images: 1 = grayscale, 3 = RGB "
                       "(default: 1 for grayscale files, 3 otherwise)")
    group.add_argument("--labels-from-folders", action="store_true",
                       help="folder images: each immediate sub-folder is a class (labels for scores)")
    group.add_argument("--download", action="store_true",
                       help="mnist-u: fetch the MNIST files with torchvision into --root if they are missing (needs internet)")
    group.add_argument("--data-seed", type=int, default=0, metavar="SEED",
                       help="seed of the poses of mnist-u and of the sprites (default 0)")


def _tensor_from_file(path: Path) -> tuple[Tensor, Tensor | None]:
    suffix = path.suffix.lower()
    labels: Any = None
    if suffix in (".pt", ".pth"):
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # unpickling errors come in many types
            raise UsageError(f"cannot read {str(path)!r} as a tensor file: {error}") from error
        if isinstance(content, dict):
            if "images" not in content:
                raise UsageError(f"{str(path)!r} holds a dict without an 'images' entry (keys: {sorted(map(str, content))})")
            images, labels = content["images"], content.get("labels")
        else:
            images = content
    elif suffix == ".npy":
        images = np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "images" in keys:
                images = archive["images"]
            elif len(keys) == 1:
                images = archive[keys[0]]
            else:
                raise UsageError(f"{str(path)!r} must hold an 'images' array (found {keys})")
            labels = archive["labels"] if "labels" in keys else None
    else:
        raise UsageError(f"unknown data file type {path.suffix!r} (use {', '.join(TENSOR_SUFFIXES)} or a folder)")
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, Tensor):
        raise UsageError(f"{str(path)!r} must hold an image tensor, got {type(images).__name__}")
    if images.ndim == 3:  # (N, H, W) grayscale
        images = images.unsqueeze(1)
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels)).long().reshape(-1)
    return images, labels


def load_data(args: argparse.Namespace, *, image_size: tuple[int, int] | None = None, default_split: str = "test") -> LoadedData:
    """Resolve ``DATA`` and the data options into images, labels and ids (see the module docstring).

    Args:
        args: parsed arguments with ``data``, ``root``, ``split``, ``num_samples``, ``image_size``,
            ``channels``, ``labels_from_folders``, ``download``, ``data_seed``.
        image_size: the model's ``(H, W)``: folder images are resized to it and sprites/MNIST(U)
            drawn at it unless ``--image-size`` is given.
        default_split: MNIST split when ``--split`` is not given.

    Example:
        >>> args = build_parser().parse_args(["embed", "m.pt", "sprites", "--num-samples", "6", "--out", "z.pt"])
        >>> loaded = load_data(args, image_size=(16, 16))
        >>> len(loaded), loaded.tensor().shape, loaded.labels.shape
        (6, torch.Size([6, 1, 16, 16]), torch.Size([6]))
    """
    from .datasets import MNISTU, ImageFolderDataset, as_dataset, make_sprites

    source = args.data
    if source is None:
        raise UsageError("give DATA: a tensor file, an image folder, 'mnist-u' or 'sprites'")
    limit = args.num_samples
    size = args.image_size
    if source == "sprites":
        side = size or (image_size[0] if image_size else 32)
        sprites = make_sprites(limit or 3000, size=side, seed=args.data_seed)
        return LoadedData(sprites.images, sprites.labels, list(range(len(sprites))), f"{len(sprites)} sprites {side}x{side}")
    if source in ("mnist-u", "mnistu", "mnist_u"):
        if not args.root:
            raise UsageError("mnist-u needs --root DIR, the folder with the MNIST IDX files")
        split = args.split or default_split
        side = size or (image_size[0] if image_size else 50)
        data = MNISTU(args.root, split, size=side, num_samples=limit, seed=args.data_seed, download=args.download)
        return LoadedData(data.images, data.labels, data.indices.tolist(), f"MNIST(U) {split}: {len(data)} images {side}x{side}")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"DATA {source!r} is neither a file, a folder, 'mnist-u' nor 'sprites'")
    if path.is_dir():
        target = (size, size) if size else image_size
        folder = ImageFolderDataset(path, size=target, channels=args.channels, with_labels=args.labels_from_folders)
        ids: list[Any] = [str(p.relative_to(path)) for p in folder.paths]
        dataset: Dataset = folder
        if limit is not None:
            keep = list(range(min(limit, len(folder))))
            dataset, ids = torch.utils.data.Subset(folder, keep), ids[: len(keep)]
        labels = folder.labels[: len(ids)] if folder.labels is not None else None
        loaded = LoadedData(as_dataset(dataset), labels, ids, f"{len(ids)} images from {str(path)!r}")
        return loaded
    images, labels = _tensor_from_file(path)
    if limit is not None:
        images = images[:limit]
        labels = labels[:limit] if labels is not None else None
    dataset = as_dataset(images, labels)  # checks and converts (uint8 -> [0, 1] float)
    tensor = dataset.images  # type: ignore[attr-defined]
    if size and tuple(tensor.shape[-2:]) != (size, size):
        tensor = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return LoadedData(tensor, labels, list(range(tensor.shape[0])), f"{tensor.shape[0]} images from {str(path)!r}")


# ------------------------------------------------------------------------------------------------
# shared helpers
# ------------------------------------------------------------------------------------------------


def _resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return name


def _add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps, ... (default: auto = cuda when available)")


def _load_model(path: str, device: str) -> Any:
    from .model import IRLINR

    return IRLINR.load(path, map_location=device)


def _say(args: argparse.Namespace, line: str) -> None:
    if not getattr(args, "quiet", False):
        print(line, flush=True)


def _encode(model: Any, loaded: LoadedData, args: argparse.Namespace) -> Any:
    from .inference import encode_all

    return encode_all(model, loaded.data, batch_size=args.batch_size, progress=not args.no_progress)


# ------------------------------------------------------------------------------------------------
# demo
# ------------------------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(
        args.out,
        quick=args.quick,
        epochs=args.epochs,
        num_train=args.num_samples,
        seed=args.seed,
        device=_resolve_device(args.device),
        progress=not args.no_progress,
        log=None if args.quiet else (lambda line: print(line, flush=True)),
    )
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# train
# ------------------------------------------------------------------------------------------------

_MODEL_OPTIONS = (
    # (flag, IRLINR keyword, type, help)
    ("--latent-dim", "latent_dim", _positive_int, "size d of the code z"),
    ("--encoder", "encoder", str, "encoder backbone: resnet18 (paper) or small (quick CPU CNN)"),
    ("--encoder-width", "encoder_width", _positive_int, "channels of the first convolution of the small encoder"),
    ("--pose", "pose", str, "learned (paper: the head predicts the pose) or analytic (the rule's pose from the pixels)"),
    ("--canonical-rule", "canonical_rule", str, "com (paper: centre of mass) or moments (principal axis; translation-independent)"),
    ("--num-frequencies", "num_frequencies", _positive_int, "random Fourier frequencies f"),
    ("--fourier-sigma", "fourier_sigma", _positive_float, "standard deviation of the Fourier frequencies"),
    ("--inr-hidden", "inr_hidden", _int_list, "INR hidden widths, e.g. 256,256,256"),
    ("--hyper-hidden", "hyper_hidden", _int_list, "hypernetwork hidden widths, e.g. 256,256,256"),
    ("--head-hidden", "head_hidden", _int_list, "encoder head hidden widths, e.g. 512,512"),
    ("--translation-std", "translation_std", _non_negative_float,
     "std of the random translations of the consistency loss, normalised units (1 pixel of a 50x50 image = 2/49)"),
    ("--pixel-fraction", "pixel_fraction", _positive_float, "fraction of pixels per image and step in the reconstruction loss, (0, 1]"),
    ("--augment-strength", "augment_strength", _non_negative_float,
     "random nuisance deformation (rotation, scale, shear, thicker strokes) of what the backbone sees in training; "
     "needs --pose analytic; 0 = the paper"),
    ("--consistency", "consistency", str, "consistency distance: cos or mse"),
    ("--latent-norm", "latent_norm", str, "batch (standardise z over the batch, against collapse) or none (the paper's plain head)"),
    ("--output-activation", "output_activation", str, "identity or sigmoid on the INR output"),
    ("--lambda-recon", "lambda_recon", _non_negative_float, "weight of the reconstruction loss"),
    ("--lambda-consis", "lambda_consis", _non_negative_float, "weight of the consistency loss"),
    ("--lambda-symm", "lambda_symm", _non_negative_float, "weight of the symmetry-breaking loss"),
    ("--chunk-size", "chunk_size", _positive_int, "evaluate the INR this many pixels at a time (bounds memory)"),
)

_CHOICES = {
    "encoder": ("resnet18", "small"),
    "pose": ("learned", "analytic"),
    "canonical_rule": ("com", "moments", "harmonic"),
    "consistency": ("cos", "mse"),
    "output_activation": ("identity", "sigmoid"),
    "latent_norm": ("batch", "none"),
}


def _init_distributed(device: str) -> tuple[bool, str]:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE > 1``); returns (distributed, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dist = torch.distributed
    if world <= 1 or not dist.is_available():
        return False, device
    if device.startswith("cuda"):
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return True, device


def _cmd_train(args: argparse.Namespace) -> int:
    from .model import IRLINR
    from .presets import preset, training_preset
    from .training import fit

    distributed, device = _init_distributed(_resolve_device(args.device))
    if distributed and torch.distributed.get_rank() != 0:
        args.quiet = True  # one report, from rank 0
    loaded = load_data(args, default_split="train")
    first = loaded.first_image()
    channels, height, width = first.shape
    kwargs = preset(args.preset)
    for _, key, _, _ in _MODEL_OPTIONS:
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    fit_kwargs = training_preset(args.preset)
    for key in ("lr", "weight_decay", "batch_size"):
        if getattr(args, key) is not None:
            fit_kwargs[key] = getattr(args, key)
    model = IRLINR(channels, (height, width), seed=args.seed, **kwargs)
    _say(args, f"training on {loaded.description}: {channels} channel(s), {height}x{width}, preset {args.preset!r}, "
         f"{args.epochs} epoch(s), batch {fit_kwargs['batch_size']}, lr {fit_kwargs['lr']:g}, device {device}")
    if args.checkpoint_dir and not args.no_resume and (Path(args.checkpoint_dir) / "last.pt").exists():
        _say(args, f"resuming from {str(Path(args.checkpoint_dir) / 'last.pt')!r}")
    history = fit(
        model,
        loaded.data,
        epochs=args.epochs,
        checkpoint_dir=args.checkpoint_dir,
        resume=not args.no_resume,
        seed=args.seed,
        device=device,
        progress=not args.no_progress,
        num_workers=args.num_workers,
        max_steps_per_epoch=args.max_steps_per_epoch,
        time_limit=args.time_limit,
        precision=args.precision,
        channels_last=args.channels_last,
        compile=args.compile,
        **fit_kwargs,
    )
    out = Path(args.out)
    if distributed and torch.distributed.get_rank() != 0:
        torch.distributed.barrier()
        return EXIT_OK
    model.save(out)
    if distributed:
        torch.distributed.barrier()
    last = {name: history[name][-1] for name in ("total", "recon", "consis", "symm")}
    _say(args, f"{history.epochs} epoch(s) done; last epoch: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    if args.history:
        from .demo import to_json

        Path(args.history).parent.mkdir(parents=True, exist_ok=True)
        Path(args.history).write_text(json.dumps(to_json(dict(history)), indent=2) + "\n")
        _say(args, f"wrote {args.history}")
    _say(args, f"wrote {out}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# embed
# ------------------------------------------------------------------------------------------------

EMBED_SUFFIXES = (".pt", ".npz", ".npy", ".csv")


def write_embeddings(path: Path, z: Tensor, theta: Tensor, tau: Tensor, ids: Sequence[Any], labels: Tensor | None) -> list[Path]:
    """Write codes and poses; the file type follows the suffix (see ``invariant-inr embed --help``).

    Args:
        path: ``.pt`` (dict of tensors), ``.npz`` (named arrays), ``.npy`` (``z``; ``theta`` and
            ``tau`` beside it as ``<stem>.theta.npy`` and ``<stem>.tau.npy``) or ``.csv`` (one row per image).
        z: ``(N, d)`` codes.
        theta: ``(N,)`` angles.
        tau: ``(N, 2)`` translations.
        ids: ``N`` row identifiers (indices or file names).
        labels: optional ``(N,)`` labels.

    Returns:
        The files written.

    Example:
        >>> import pathlib, tempfile, torch
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "codes.csv"
        >>> _ = write_embeddings(path, torch.ones(2, 3), torch.zeros(2), torch.zeros(2, 2), ["a.png", "b.png"], None)
        >>> path.read_text().splitlines()[0]
        'index,theta,tau_x,tau_y,z0,z1,z2'
        >>> z, labels, ids = read_embeddings(path)
        >>> z.shape, labels, ids
        (torch.Size([2, 3]), None, ['a.png', 'b.png'])
    """
    suffix = path.suffix.lower()
    if suffix not in EMBED_SUFFIXES:
        raise UsageError(f"--out must end in {', '.join(EMBED_SUFFIXES)}, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = [path]
    if suffix == ".pt":
        content: dict[str, Any] = {"z": z, "theta": theta, "tau": tau, "ids": [str(i) for i in ids]}
        if labels is not None:
            content["labels"] = labels
        torch.save(content, path)
    elif suffix == ".npz":
        arrays = {"z": z.numpy(), "theta": theta.numpy(), "tau": tau.numpy(), "ids": np.asarray([str(i) for i in ids])}
        if labels is not None:
            arrays["labels"] = labels.numpy()
        np.savez(path, **arrays)
    elif suffix == ".npy":
        np.save(path, z.numpy())
        for name, value in (("theta", theta), ("tau", tau)):
            extra = path.with_name(f"{path.stem}.{name}.npy")
            np.save(extra, value.numpy())
            written.append(extra)
    else:
        import csv

        with path.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            header = ["index"] + (["label"] if labels is not None else []) + ["theta", "tau_x", "tau_y"]
            writer.writerow(header + [f"z{j}" for j in range(z.shape[1])])
            for row, ident in enumerate(ids):
                fields: list[Any] = [ident] + ([int(labels[row])] if labels is not None else [])
                fields += [repr(float(theta[row])), repr(float(tau[row, 0])), repr(float(tau[row, 1]))]
                writer.writerow(fields + [repr(v) for v in z[row].tolist()])
    return written


def read_embeddings(path: Path) -> tuple[Tensor, Tensor | None, list[Any] | None]:
    """Read ``z`` (and labels and ids, when stored) from a file written by ``embed`` or any ``(N, D)`` array file.

    Returns:
        ``z`` ``(N, D)`` float32, ``labels`` ``(N,)`` or None, ``ids`` (list) or None.

    Example:
        >>> import pathlib, tempfile, numpy
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "z.npy"
        >>> numpy.save(path, numpy.zeros((4, 2)))
        >>> read_embeddings(path)[0].shape
        torch.Size([4, 2])
    """
    if not path.is_file():
        raise FileNotFoundError(f"no embeddings file at {str(path)!r}")
    suffix = path.suffix.lower()
    labels: Any = None
    ids: list[Any] | None = None
    if suffix in (".pt", ".pth"):
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise UsageError(f"cannot read {str(path)!r}: {error}") from error
        if isinstance(content, dict):
            if "z" not in content:
                raise UsageError(f"{str(path)!r} holds a dict without a 'z' entry (keys: {sorted(map(str, content))})")
            z, labels, ids = content["z"], content.get("labels"), content.get("ids")
        else:
            z = content
    elif suffix == ".npy":
        z = np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            if "z" not in archive:
                raise UsageError(f"{str(path)!r} must hold a 'z' array (found {list(archive.keys())})")
            z = archive["z"]
            labels = archive["labels"] if "labels" in archive else None
            ids = archive["ids"].tolist() if "ids" in archive else None
    elif suffix == ".csv":
        import csv

        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if len(rows) < 2:
            raise UsageError(f"{str(path)!r} has no data rows")
        header = rows[0]
        z_columns = [j for j, name in enumerate(header) if name.startswith("z") and name[1:].isdigit()]
        if not z_columns:
            raise UsageError(f"{str(path)!r} has no z0, z1, ... columns (header: {header[:6]}...)")
        try:
            z = np.asarray([[float(row[j]) for j in z_columns] for row in rows[1:]], dtype=np.float32)
            if "label" in header:
                labels = [int(row[header.index("label")]) for row in rows[1:]]
        except (ValueError, IndexError) as error:
            raise UsageError(f"{str(path)!r}: malformed row ({error})") from error
        if "index" in header:
            ids = [row[header.index("index")] for row in rows[1:]]
    else:
        raise UsageError(f"unknown embeddings file type {path.suffix!r} (use .pt, .npz, .npy or .csv)")
    z = torch.as_tensor(np.asarray(z)) if not isinstance(z, Tensor) else z
    if z.ndim != 2 or z.shape[0] == 0:
        raise UsageError(f"embeddings must have shape (N, D) with N >= 1, got {tuple(z.shape)} in {str(path)!r}")
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels)).long().reshape(-1)
    return z.float(), labels, ids


def _cmd_embed(args: argparse.Namespace) -> int:
    if Path(args.out).suffix.lower() not in EMBED_SUFFIXES:
        raise UsageError(f"--out must end in {', '.join(EMBED_SUFFIXES)}, got {Path(args.out).name!r}")
    device = _resolve_device(args.device)
    model = _load_model(args.checkpoint, device)
    loaded = load_data(args, image_size=model.config.image_size)
    enc = _encode(model, loaded, args)
    written = write_embeddings(Path(args.out), enc.z, enc.theta, enc.tau, loaded.ids, loaded.labels)
    _say(args, f"encoded {loaded.description}: z {tuple(enc.z.shape)}, theta {tuple(enc.theta.shape)}, tau {tuple(enc.tau.shape)}")
    for path in written:
        _say(args, f"wrote {path}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# cluster
# ------------------------------------------------------------------------------------------------


def _cmd_cluster(args: argparse.Namespace) -> int:
    from .cluster import SCAN, agglomerative, kmeans, save_assignments
    from .demo import clustering_scores, to_json

    if (args.embeddings is None) == (args.checkpoint is None):
        raise UsageError("give either --embeddings FILE, or --checkpoint FILE and DATA")
    images = None
    model = None
    if args.embeddings is not None:
        if args.data is not None:
            raise UsageError("DATA is only used with --checkpoint; with --embeddings the codes come from the file")
        z, labels, ids = read_embeddings(Path(args.embeddings))
        ids = ids if ids is not None else list(range(z.shape[0]))
        source = f"{z.shape[0]} codes from {args.embeddings!r}"
    else:
        device = _resolve_device(args.device)
        model = _load_model(args.checkpoint, device)
        loaded = load_data(args, image_size=model.config.image_size)
        z = _encode(model, loaded, args).z
        labels, ids, source = loaded.labels, loaded.ids, loaded.description
        if args.method == "scan":
            images = loaded.tensor()
    k = args.num_clusters
    if k > z.shape[0]:
        raise UsageError(f"--num-clusters {k} is more than the {z.shape[0]} samples")
    _say(args, f"clustering {source} into {k} clusters with {args.method}")
    if args.method == "kmeans":
        assignments = kmeans(z, k, seed=args.seed).assignments
    elif args.method == "agglomerative":
        assignments = agglomerative(z, k, linkage=args.linkage)
    else:
        scan = SCAN(
            k,
            num_neighbors=min(args.num_neighbors, z.shape[0] - 1),
            entropy_weight=args.entropy_weight,
            epochs=args.scan_epochs,
            self_label_epochs=args.self_label_epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            verbose=not args.quiet and not args.no_progress,
        )
        if images is not None and model is not None:
            model.eval()
            assignments = scan.fit_predict(images.to(model.device), encoder=lambda x: model.encode(x).z)
        else:
            assignments = scan.fit_predict(z)
    out = save_assignments(args.out, assignments, index=ids)
    sizes = torch.bincount(assignments.long(), minlength=k).tolist()
    _say(args, f"cluster sizes: {sizes}")
    if labels is not None and labels.shape[0] == assignments.shape[0]:
        scores = clustering_scores(labels, assignments)
        _say(args, "against the labels: " + ", ".join(f"{name} {value:.4f}" for name, value in scores.items()))
        if args.scores:
            Path(args.scores).parent.mkdir(parents=True, exist_ok=True)
            Path(args.scores).write_text(json.dumps(to_json({"method": args.method, "num_clusters": k, **scores}), indent=2) + "\n")
            _say(args, f"wrote {args.scores}")
    elif args.scores:
        raise UsageError("--scores needs labels (mnist-u, sprites, --labels-from-folders, or labels in the file)")
    _say(args, f"wrote {out}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# reconstruct
# ------------------------------------------------------------------------------------------------


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


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    import math

    from .plotting import save_image_grid
    from .se2 import transform_images

    if Path(args.out).suffix.lower() != ".png":
        raise UsageError(f"--out must be a .png file, got {Path(args.out).name!r}")
    device = _resolve_device(args.device)
    model = _load_model(args.checkpoint, device)
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
    _say(args, f"wrote {out}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# parser
# ------------------------------------------------------------------------------------------------


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

    demo = commands.add_parser(
        "demo", parents=[common], help="train on built-in sprites and write pictures, scores and a model",
        description="Train IRL-INR (the 'quick' preset) on built-in sprites (squares, ellipses, hearts at random "
        "rotations and translations) and write reconstructions.png (inputs / reconstructions / canonical "
        "reconstructions of rotated copies), rotation.png (true vs predicted rotation), scores.json (clustering "
        "and pose scores on a test set) and model.pt to the output folder.",
    )
    demo.add_argument("--quick", action="store_true", help="a tiny smoke run (seconds to a minute) instead of a few minutes")
    demo.add_argument("--out", default="invariant-inr-demo", metavar="DIR", help="output folder (default ./invariant-inr-demo)")
    demo.add_argument("--epochs", type=_positive_int, metavar="N", help="number of epochs (default: from the preset)")
    demo.add_argument("--num-samples", type=_positive_int, metavar="N", help="number of training sprites (default: from the preset)")
    demo.add_argument("--seed", type=int, default=0, help="seed of data, model and training (default 0)")
    _add_device_argument(demo)
    demo.set_defaults(func=_cmd_demo)

    train = commands.add_parser(
        "train", parents=[common], help="train a model on your images and save it",
        description="Train an IRL-INR model on DATA. Model options start from --preset and are overridden by the "
        "flags given; training checkpoints go to --checkpoint-dir after every epoch, and a rerun resumes from there.",
    )
    _add_data_arguments(train)
    model_group = train.add_argument_group("model (default: the preset's value)")
    model_group.add_argument("--preset", choices=preset_names(), default="paper",
                             help="paper: the paper's ResNet18 model (slow on a CPU); quick: small and fast for 32x32 "
                             "images; mnist-quick: the quick MNIST(U) protocol's model (see invariant_inr.presets; default paper)")
    for flag, key, kind, text in _MODEL_OPTIONS:
        metavar = None if key in _CHOICES else {_positive_int: "N", _int_list: "W,W,..."}.get(kind, "X")
        model_group.add_argument(flag, dest=key, type=kind, default=None, choices=_CHOICES.get(key), metavar=metavar, help=text)
    fit_group = train.add_argument_group("training")
    fit_group.add_argument("--epochs", type=_positive_int, default=10, help="total epochs; a resumed run continues up to it (default 10)")
    fit_group.add_argument("--batch-size", type=_positive_int, help="images per step (default: the preset's, 128 for paper)")
    fit_group.add_argument("--lr", type=_positive_float, help="Adam learning rate (default: the preset's, 1e-4 for paper)")
    fit_group.add_argument("--weight-decay", type=_non_negative_float, help="Adam weight decay (default 5e-4)")
    fit_group.add_argument("--seed", type=int, default=0, help="seed of the model and the training (default 0)")
    fit_group.add_argument("--checkpoint-dir", metavar="DIR", help="write DIR/last.pt after every epoch and resume from it")
    fit_group.add_argument("--no-resume", action="store_true", help="start afresh even if --checkpoint-dir holds a checkpoint")
    fit_group.add_argument("--precision", choices=("32", "bf16"), default="32", help="32 (float32) or bf16 (bfloat16 autocast)")
    fit_group.add_argument("--channels-last", action="store_true", help="channels-last memory format (faster convolutions on many devices)")
    fit_group.add_argument("--compile", action="store_true", help="torch.compile the loss (pays off on long runs)")
    fit_group.add_argument("--time-limit", type=_positive_float, metavar="SECONDS", help="stop after the epoch in which this time has passed")
    fit_group.add_argument("--max-steps-per-epoch", type=_positive_int, metavar="N", help="cut each epoch after N steps")
    fit_group.add_argument("--num-workers", type=_non_negative_int, default=0, metavar="N", help="DataLoader worker processes (default 0)")
    _add_device_argument(fit_group)
    out_group = train.add_argument_group("output")
    out_group.add_argument("--out", default="model.pt", metavar="FILE", help="where to save the trained model (default model.pt)")
    out_group.add_argument("--history", metavar="FILE", help="also write the per-epoch losses as JSON")
    train.set_defaults(func=_cmd_train)

    embed = commands.add_parser(
        "embed", parents=[common], help="codes z and poses (theta, tau) of images, to .pt/.npz/.npy/.csv",
        description="Encode DATA with a trained model. --out FILE.pt: a dict of tensors z (N, d), theta (N,), "
        "tau (N, 2), ids, labels; FILE.npz: the same as numpy arrays; FILE.npy: z, with theta and tau in "
        "FILE.theta.npy and FILE.tau.npy; FILE.csv: one row per image: index, label, theta, tau_x, tau_y, z0, z1, ... "
        "Poses follow the package convention: S_{theta,tau}[J] is the canonical image; radians, counter-clockwise; "
        "tau in (x, y), y up, normalised units (the longer image side spans [-1, 1]).",
    )
    embed.add_argument("checkpoint", metavar="CHECKPOINT", help="a model saved by 'train', 'demo' or IRLINR.save")
    _add_data_arguments(embed)
    embed.add_argument("--out", required=True, metavar="FILE", help="output file: .pt, .npz, .npy or .csv")
    embed.add_argument("--batch-size", type=_positive_int, default=256, help="images per forward pass (default 256)")
    _add_device_argument(embed)
    embed.set_defaults(func=_cmd_embed)

    clus = commands.add_parser(
        "cluster", parents=[common], help="cluster images by their codes z (k-means, agglomerative, SCAN)",
        description="Cluster codes z, read from --embeddings FILE (written by 'embed', or any (N, D) array) or "
        "computed with --checkpoint FILE from DATA, and write one line per image to --out (CSV: index,cluster). "
        "With labels (mnist-u, sprites, --labels-from-folders, or stored by 'embed') the scores are printed. "
        "SCAN with --checkpoint trains on randomly rotated and translated images (the paper's R + T).",
    )
    clus.add_argument("--embeddings", metavar="FILE", help="codes from 'embed' (.pt, .npz, .npy, .csv)")
    clus.add_argument("--checkpoint", metavar="FILE", help="a trained model, to encode DATA")
    _add_data_arguments(clus, required=False)
    clus.add_argument("-k", "--num-clusters", type=_positive_int, required=True, help="number of clusters (may exceed the classes)")
    clus.add_argument("--method", choices=("kmeans", "agglomerative", "scan"), default="kmeans", help="default kmeans")
    clus.add_argument("--out", default="clusters.csv", metavar="FILE", help="CSV of assignments (default clusters.csv)")
    clus.add_argument("--scores", metavar="FILE", help="also write accuracy, NMI and ARI against the labels as JSON")
    clus.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    clus.add_argument("--linkage", choices=("ward", "complete", "average", "single"), default="ward",
                      help="agglomerative linkage (default ward)")
    scan_group = clus.add_argument_group("SCAN")
    scan_group.add_argument("--num-neighbors", type=_positive_int, default=20, help="neighbours mined per sample (default 20)")
    scan_group.add_argument("--entropy-weight", type=_non_negative_float, default=5.0, help="weight of the entropy term (default 5)")
    scan_group.add_argument("--scan-epochs", type=_positive_int, default=50, help="epochs of the clustering step (default 50)")
    scan_group.add_argument("--self-label-epochs", type=_non_negative_int, default=25, help="epochs of self-labelling (default 25)")
    scan_group.add_argument("--lr", type=_positive_float, default=1e-4, help="Adam learning rate (default 1e-4)")
    scan_group.add_argument("--batch-size", type=_positive_int, default=256, help="batch size, also for encoding (default 256)")
    _add_device_argument(clus)
    clus.set_defaults(func=_cmd_cluster)

    recon = commands.add_parser(
        "reconstruct", parents=[common], help="PNG grid of inputs, reconstructions and canonical reconstructions",
        description="Write a PNG with three rows: the input images, their reconstructions (the INR rendered at the "
        "encoded pose) and their canonical reconstructions (rendered from z alone). With --rotations R, each "
        "chosen image is shown as R rotated copies (2*pi*k/R), so invariance shows as identical canonical rows.",
    )
    recon.add_argument("checkpoint", metavar="CHECKPOINT", help="a trained model")
    _add_data_arguments(recon)
    recon.add_argument("--out", default="reconstructions.png", metavar="FILE", help="PNG file (default reconstructions.png)")
    recon.add_argument("--num-images", type=_positive_int, default=8, help="how many images (default 8; first ones)")
    recon.add_argument("--indices", metavar="I,J,...", help="which images (comma-separated indices) instead of the first ones")
    recon.add_argument("--rotations", type=_non_negative_int, default=0, metavar="R", help="show R rotated copies of each image")
    recon.add_argument("--render-size", type=_positive_int, metavar="S", help="render the canonical images at SxS (any resolution)")
    recon.add_argument("--autoscale", action="store_true", help="scale grey levels to the data's range instead of [0, 1]")
    _add_device_argument(recon)
    recon.set_defaults(func=_cmd_reconstruct)
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
