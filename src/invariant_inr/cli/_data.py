"""Images from the command line: ``DATA`` (a tensor file, an image folder, ``mnist-u`` or ``sprites``) and its flags."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ._common import UsageError, read_torch_file
from ._types import non_negative_float, positive_int

__all__ = ["TENSOR_SUFFIXES", "LoadedData", "add_data_arguments", "load_data", "tensor_from_file"]


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


def add_data_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
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
    group.add_argument("--num-samples", type=positive_int, metavar="N",
                       help="use only the first N images (mnist-u, tensor files, folders) or make N sprites (default 3000)")
    group.add_argument("--image-size", type=positive_int, metavar="S",
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
    group.add_argument("--noise", type=non_negative_float, default=0.0, metavar="SIGMA",
                       help="mnist-u and sprites: add Gaussian pixel noise of standard deviation SIGMA "
                       "(intensities are in [0, 1]; default 0, drawn from --data-seed)")


def tensor_from_file(path: Path) -> tuple[Tensor, Tensor | None]:
    suffix = path.suffix.lower()
    labels: Any = None
    if suffix in (".pt", ".pth"):
        content, is_dict = read_torch_file(path, "images")
        images, labels = (content["images"], content.get("labels")) if is_dict else (content, None)
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
        >>> from invariant_inr.cli import build_parser
        >>> args = build_parser().parse_args(["embed", "m.pt", "sprites", "--num-samples", "6", "--out", "z.pt"])
        >>> loaded = load_data(args, image_size=(16, 16))
        >>> len(loaded), loaded.tensor().shape, loaded.labels.shape
        (6, torch.Size([6, 1, 16, 16]), torch.Size([6]))
    """
    from ..datasets import MNISTU, ImageFolderDataset, as_dataset, make_sprites

    source = args.data
    if source is None:
        raise UsageError("give DATA: a tensor file, an image folder, 'mnist-u' or 'sprites'")
    limit = args.num_samples
    size = args.image_size
    noise = getattr(args, "noise", 0.0)
    noisy = f", noise sigma {noise:g}" if noise else ""
    if source == "sprites":
        side = size or (image_size[0] if image_size else 32)
        sprites = make_sprites(limit or 3000, size=side, seed=args.data_seed, noise=noise)
        return LoadedData(sprites.images, sprites.labels, list(range(len(sprites))), f"{len(sprites)} sprites {side}x{side}{noisy}")
    if source in ("mnist-u", "mnistu", "mnist_u"):
        if not args.root:
            raise UsageError("mnist-u needs --root DIR, the folder with the MNIST IDX files")
        split = args.split or default_split
        side = size or (image_size[0] if image_size else 50)
        data = MNISTU(args.root, split, size=side, num_samples=limit, seed=args.data_seed, download=args.download, noise=noise)
        return LoadedData(data.images, data.labels, data.indices.tolist(), f"MNIST(U) {split}: {len(data)} images {side}x{side}{noisy}")
    if noise:  # user data is taken as it is: adding noise to it is the user's own transform
        raise UsageError(f"--noise applies to the built-in data 'mnist-u' and 'sprites', got DATA {source!r}")
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
    images, labels = tensor_from_file(path)
    if limit is not None:
        images = images[:limit]
        labels = labels[:limit] if labels is not None else None
    dataset = as_dataset(images, labels)  # checks and converts (uint8 -> [0, 1] float)
    tensor = dataset.images  # type: ignore[attr-defined]
    if size and tuple(tensor.shape[-2:]) != (size, size):
        tensor = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return LoadedData(tensor, labels, list(range(tensor.shape[0])), f"{tensor.shape[0]} images from {str(path)!r}")
