"""IDX files (the format of the MNIST files): read and write unsigned-byte arrays, plain or gzip-compressed."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import _checks
from ._base import PathLike

__all__ = ["read_idx", "write_idx"]


_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08  # the IDX type code of unsigned bytes, the only one MNIST uses
_IDX_IMAGES = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
_IDX_LABELS = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)


def read_idx(path: PathLike) -> Tensor:
    """Read an IDX file of unsigned bytes (MNIST's format), plain or gzip-compressed.

    The header is big-endian: a 4-byte magic number ``0x0000 08 D`` (``D`` dimensions; 2051 for
    MNIST images ``(N, 28, 28)``, 2049 for labels ``(N,)``), then ``D`` sizes as 4-byte
    integers, then the bytes. Compression is detected from the first two bytes (``1f 8b``), not
    from the file name.

    Args:
        path: the file.

    Returns:
        A ``torch.uint8`` tensor with the shape the header gives.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the magic number is not that of an unsigned-byte IDX file, the header is
            cut short, or the number of bytes does not match the sizes in the header.

    Example:
        >>> import os, tempfile, torch
        >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
        >>> write_idx(path, torch.tensor([3, 1, 4], dtype=torch.uint8))
        >>> read_idx(path)
        tensor([3, 1, 4], dtype=torch.uint8)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{str(path)!r} starts like a gzip file but cannot be decompressed: {error}") from error
    if len(raw) < 4:
        raise ValueError(f"{str(path)!r} is not an IDX file: {len(raw)} bytes, fewer than the 4-byte magic number")
    (magic,) = struct.unpack(">I", raw[:4])
    zeros, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zeros != 0 or type_code != _IDX_UBYTE or not 1 <= ndim <= 4:
        raise ValueError(
            f"{str(path)!r} is not an unsigned-byte IDX file: magic number {magic} (0x{magic:08x}); expected "
            f"0x000008D with D = 1..4 dimensions, e.g. {_IDX_IMAGES} for images or {_IDX_LABELS} for labels"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(path)!r}: the IDX header needs {header} bytes for {ndim} dimensions, the file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(shape)
    if len(raw) - header != expected:
        raise ValueError(
            f"{str(path)!r}: the header gives shape {shape}, i.e. {expected} bytes of data, "
            f"but the file holds {len(raw) - header}; it is truncated or corrupt"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(array.copy())


def write_idx(path: PathLike, array: Tensor | np.ndarray) -> None:
    """Write an unsigned-byte array as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    The inverse of :func:`read_idx`, for making small test files.

    Args:
        path: the file to write.
        array: ``torch.uint8`` tensor or ``numpy.uint8`` array with 1 to 4 dimensions.

    Example:
        >>> import os, tempfile, torch
        >>> path = os.path.join(tempfile.mkdtemp(), "images-idx3-ubyte")
        >>> write_idx(path, torch.zeros(2, 28, 28, dtype=torch.uint8))
        >>> read_idx(path).shape
        torch.Size([2, 28, 28])
    """
    if isinstance(array, Tensor):
        array = array.detach().cpu().numpy()
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a uint8 tensor or numpy array, got {_checks.describe(array)}")
    if array.dtype != np.uint8:
        raise TypeError(f"array must have dtype uint8, got {array.dtype}")
    if not 1 <= array.ndim <= 4:
        raise ValueError(f"array must have 1 to 4 dimensions, got {array.ndim} (shape {array.shape})")
    magic = (_IDX_UBYTE << 8) | array.ndim
    payload = struct.pack(f">I{array.ndim}I", magic, *array.shape) + np.ascontiguousarray(array).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
