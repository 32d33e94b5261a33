"""Codes and poses on disk: writing and reading the files of ``invariant-inr embed`` (.pt, .npz, .npy, .csv)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._common import UsageError, read_torch_file

__all__ = ["EMBED_SUFFIXES", "read_embeddings", "write_embeddings"]


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
        content, is_dict = read_torch_file(path, "z")
        z, labels, ids = (content["z"], content.get("labels"), content.get("ids")) if is_dict else (content, None, None)
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
