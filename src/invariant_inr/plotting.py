"""Pictures of what a model learned: image grids, cluster grids and the rotation, confusion and loss plots.

* :func:`tile_images` lays rows of images out on one canvas; :func:`save_image_grid` writes it
  as a PNG, with row labels when matplotlib is installed and as a plain PNG (no labels, through
  a small built-in writer) when it is not. :func:`save_cluster_grid` does the same for a
  sample of the images of each cluster (the paper's figures 11-12).
* :func:`plot_rotation` draws true against predicted rotation, as the paper's figure 4;
  :func:`plot_confusion` a class-by-cluster count matrix (figure 5); :func:`plot_losses` the
  training losses. These need matplotlib (``pip install "invariant-inr[plot]"``).

matplotlib is imported only inside the functions that use it, and through its object-oriented API
(``matplotlib.figure.Figure``), so no global ``pyplot`` state or interactive backend is touched.

Example:
    >>> import os, tempfile, torch
    >>> from invariant_inr.plotting import save_image_grid
    >>> rows = [torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)]
    >>> path = save_image_grid(os.path.join(tempfile.mkdtemp(), "grid.png"), rows, row_labels=["a", "b"])
    >>> path.stat().st_size > 0
    True
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import _checks

__all__ = [
    "PLOT_HINT",
    "have_matplotlib",
    "plot_confusion",
    "plot_losses",
    "plot_rotation",
    "save_cluster_grid",
    "save_image_grid",
    "save_png",
    "tile_images",
]

PLOT_HINT = 'plots need matplotlib: pip install "invariant-inr[plot]" (or pip install matplotlib)'


def _import_matplotlib() -> Any:
    """``matplotlib.figure`` or an :class:`ImportError` that says how to install it."""
    try:
        from matplotlib import figure
    except ImportError as error:
        raise ImportError(PLOT_HINT) from error
    return figure


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    try:
        _import_matplotlib()
    except ImportError:
        return False
    return True


def _save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int | None = None, tight: bool = False) -> Path:
    """Write a matplotlib figure to ``path`` (parent folders created) and return the path."""
    if tight:
        fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi if dpi is not None else "figure")
    return path


def _to_display(images: Tensor) -> Tensor:
    """``(N, C, H, W)`` to ``(N, H, W, 3)`` float in ``[0, 1]``: grey repeated, RGB(A) as RGB, else channel 0."""
    images = images.detach().float().cpu()
    channels = images.shape[1]
    if channels in (3, 4):
        images = images[:, :3]
    else:
        images = images[:, :1].expand(-1, 3, -1, -1)
    return images.permute(0, 2, 3, 1)


def tile_images(
    rows: Sequence[Tensor],
    *,
    padding: int = 1,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    background: float = 1.0,
) -> Tensor:
    """Lay out rows of images on one canvas.

    Grey images (1 channel) are shown in grey, 3- or 4-channel images as RGB (alpha dropped),
    others by their first channel. Values are mapped from ``value_range`` to ``[0, 1]`` and clipped;
    with ``value_range=None`` the range of all images together is used.

    Args:
        rows: a sequence of ``(N_r, C, H, W)`` tensors, one per row, all of one ``(H, W)``; rows
            may have different lengths (shorter ones are padded with the background).
        padding: pixels between images.
        value_range: ``(low, high)`` of the image values, or None for the data's own range.
        background: grey level of the padding, in ``[0, 1]``.

    Returns:
        ``(H_total, W_total, 3)`` float tensor in ``[0, 1]``.

    Example:
        >>> import torch
        >>> tile_images([torch.zeros(3, 1, 4, 4), torch.ones(2, 1, 4, 4)], padding=1).shape
        torch.Size([11, 16, 3])
    """
    if isinstance(rows, Tensor) or not isinstance(rows, Sequence) or len(rows) == 0:
        raise TypeError(f"rows must be a non-empty sequence of (N, C, H, W) tensors, got {_checks.describe(rows)}")
    for index, row in enumerate(rows):
        _checks.check_images(row, f"rows[{index}]", finite=False)
    height, width = rows[0].shape[-2:]
    if any(tuple(row.shape[-2:]) != (height, width) for row in rows):
        raise ValueError(f"all rows must hold images of one size, got {[tuple(row.shape[-2:]) for row in rows]}")
    _checks.check_positive_int(padding, "padding", minimum=0)
    if value_range is None:
        low = min(float(row.min()) for row in rows)
        high = max(float(row.max()) for row in rows)
    else:
        low, high = (float(v) for v in value_range)
    scale = 1.0 / (high - low) if high > low else 1.0
    columns = max(row.shape[0] for row in rows)
    canvas = torch.full(
        (len(rows) * (height + padding) + padding, columns * (width + padding) + padding, 3), float(background)
    )
    for r, row in enumerate(rows):
        shown = ((_to_display(row) - low) * scale).nan_to_num(0.0).clamp(0.0, 1.0)  # (N, H, W, 3)
        top = padding + r * (height + padding)
        for c in range(row.shape[0]):  # a loop over the few displayed images, not a batch computation
            left = padding + c * (width + padding)
            canvas[top : top + height, left : left + width] = shown[c]
    return canvas


def save_png(path: str | os.PathLike[str], image: Tensor | np.ndarray) -> Path:
    """Write an ``(H, W)`` grey or ``(H, W, 3)`` RGB image with values in ``[0, 1]`` as an 8-bit PNG.

    Needs neither Pillow nor matplotlib (a minimal PNG encoder with :mod:`zlib`).

    Example:
        >>> import os, tempfile, torch
        >>> path = save_png(os.path.join(tempfile.mkdtemp(), "x.png"), torch.rand(5, 7))
        >>> path.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    array = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, 3), got {array.shape}")
    pixels = np.round(np.clip(np.nan_to_num(array.astype(np.float64)), 0.0, 1.0) * 255.0).astype(np.uint8)
    height, width = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 2  # 0: grey, 2: RGB
    rows = pixels.reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    content = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def save_image_grid(
    path: str | os.PathLike[str],
    rows: Sequence[Tensor],
    *,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    pixels_per_image: int = 64,
    use_matplotlib: bool | None = None,
) -> Path:
    """Save rows of images as one PNG: with labels through matplotlib, else a plain grid.

    Args:
        path: the PNG file (parent folders are created).
        rows: ``(N_r, C, H, W)`` tensors, one per row (see :func:`tile_images`).
        row_labels: one label per row, written on the left (matplotlib only).
        title: figure title (matplotlib only).
        value_range: value range of the images, see :func:`tile_images`.
        pixels_per_image: approximate on-screen size of one image in the figure (matplotlib only).
        use_matplotlib: True to require matplotlib, False for the plain writer, None to use
            matplotlib when it is installed.

    Returns:
        The path written.

    Example:
        >>> import os, tempfile, torch
        >>> path = save_image_grid(os.path.join(tempfile.mkdtemp(), "g.png"), [torch.rand(2, 3, 6, 6)],
        ...                        use_matplotlib=False)
        >>> path.suffix
        '.png'
    """
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"row_labels has {len(row_labels)} entries but there are {len(rows)} rows")
    canvas = tile_images(rows, value_range=value_range)
    if use_matplotlib is None:
        use_matplotlib = have_matplotlib()
    if not use_matplotlib:
        return save_png(path, canvas)
    figure = _import_matplotlib()
    height, width = rows[0].shape[-2:]
    columns = max(row.shape[0] for row in rows)
    dpi = 100
    zoom = pixels_per_image / max(height, width)
    left_margin = 1.6 if row_labels else 0.1
    fig_width = columns * width * zoom / dpi + left_margin
    fig_height = len(rows) * height * zoom / dpi + (0.5 if title else 0.1)
    fig = figure.Figure(figsize=(fig_width, fig_height), dpi=dpi)
    ax = fig.add_axes((left_margin / fig_width, 0.02, 1 - left_margin / fig_width - 0.01, 0.96 - (0.4 / fig_height if title else 0)))
    ax.imshow(canvas.numpy(), interpolation="nearest")
    ax.set_xticks([])
    if row_labels:
        ax.set_yticks([1 + (height + 1) * r + height / 2 for r in range(len(rows))])
        ax.set_yticklabels(list(row_labels), fontsize=9)
        ax.tick_params(axis="y", length=0)
    else:
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return _save_figure(fig, path, dpi=dpi)


def plot_rotation(
    path: str | os.PathLike[str],
    theta_true: Tensor,
    theta_pred: Tensor,
    *,
    groups: Tensor | None = None,
    group_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    r"""Scatter true against predicted rotation on :math:`[0, 2\pi)^2`, as the paper's figure 4.

    Points on the diagonal are exact; points on the lines :math:`\hat\theta = \theta \pm 2\pi`
    are exact too (angles are equal mod :math:`2\pi`); for objects with a rotational symmetry of
    order :math:`k` the prediction can be off by multiples of :math:`2\pi/k`, which shows as
    parallel lines.

    Args:
        path: the PNG file.
        theta_true: ``(N,)`` true angles, radians.
        theta_pred: ``(N,)`` predicted angles, radians (wrapped to ``[0, 2*pi)`` for the plot).
        groups: optional ``(N,)`` integer group of each point (for example the shape), one colour each.
        group_names: names of the groups, for the legend.
        title: figure title.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is not installed.

    Example:
        >>> import os, tempfile, torch
        >>> theta = torch.rand(20) * 6.28
        >>> path = plot_rotation(os.path.join(tempfile.mkdtemp(), "r.png"), theta, theta + 0.05)
        >>> path.exists()
        True
    """
    figure = _import_matplotlib()
    two_pi = 2.0 * math.pi
    true = torch.as_tensor(theta_true).detach().double().cpu().reshape(-1).remainder(two_pi)
    pred = torch.as_tensor(theta_pred).detach().double().cpu().reshape(-1).remainder(two_pi)
    if true.shape != pred.shape:
        raise ValueError(f"theta_true and theta_pred must have the same length, got {true.numel()} and {pred.numel()}")
    fig = figure.Figure(figsize=(4.6, 4.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, two_pi], [0, two_pi], color="0.75", linewidth=1, zorder=0)
    if groups is None:
        ax.scatter(true.numpy(), pred.numpy(), s=6, alpha=0.7)
    else:
        labels = torch.as_tensor(groups).detach().cpu().reshape(-1)
        if labels.shape != true.shape:
            raise ValueError(f"groups must have one entry per angle ({true.numel()}), got {labels.numel()}")
        for value in labels.unique().tolist():
            member = labels == value
            name = group_names[value] if group_names is not None and 0 <= value < len(group_names) else str(value)
            ax.scatter(true[member].numpy(), pred[member].numpy(), s=6, alpha=0.7, label=name)
        ax.legend(loc="upper left", fontsize=8, markerscale=2, frameon=False)
    ticks = [0, math.pi / 2, math.pi, 3 * math.pi / 2, two_pi]
    names = ["0", "π/2", "π", "3π/2", "2π"]
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set_xlim(0, two_pi)
    ax.set_ylim(0, two_pi)
    ax.set_aspect("equal")
    ax.set_xlabel("true rotation θ")
    ax.set_ylabel("predicted rotation θ̂")
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path, tight=True)


def save_cluster_grid(
    path: str | os.PathLike[str],
    images: Tensor,
    assignments: Tensor | Sequence[int],
    *,
    per_cluster: int = 64,
    columns: int = 8,
    seed: int = 0,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    use_matplotlib: bool | None = None,
) -> Path:
    """Save a PNG with up to ``per_cluster`` images of each cluster, as the paper's figures 11-12.

    Each cluster is one block of ``columns`` images per row (8 x 8 by default), drawn from the
    cluster at random (seeded) when it holds more; blocks are laid out side by side, about as
    many across as down, largest cluster first, each titled with its id and size when matplotlib is
    installed (a plain PNG without titles otherwise).

    Args:
        path: the PNG file.
        images: ``(N, C, H, W)`` images.
        assignments: ``(N,)`` cluster id of each image (integers ``>= 0``).
        per_cluster: images shown per cluster.
        columns: images per row inside a cluster's block.
        seed: seed of the random choice of the images shown.
        value_range: value range of the images, see :func:`tile_images`.
        use_matplotlib: as in :func:`save_image_grid`.

    Returns:
        The path written.

    Example:
        >>> import os, tempfile, torch
        >>> path = save_cluster_grid(os.path.join(tempfile.mkdtemp(), "c.png"), torch.rand(30, 1, 8, 8),
        ...                          torch.arange(30) % 3, per_cluster=4, columns=2)
        >>> path.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    _checks.check_images(images, "images", finite=False)
    ids = torch.as_tensor(assignments).detach().cpu().reshape(-1).long()
    if ids.shape[0] != images.shape[0]:
        raise ValueError(f"assignments must have one entry per image ({images.shape[0]}), got {ids.shape[0]}")
    if ids.numel() and int(ids.min()) < 0:
        raise ValueError(f"assignments must be cluster ids >= 0, got {int(ids.min())}")
    _checks.check_positive_int(per_cluster, "per_cluster")
    _checks.check_positive_int(columns, "columns")
    images = images.detach().cpu()
    generator = torch.Generator().manual_seed(seed)
    sizes = torch.bincount(ids)
    order = [c for c in torch.argsort(sizes, descending=True, stable=True).tolist() if sizes[c] > 0]
    blocks, titles = [], []
    for cluster in order:
        members = (ids == cluster).nonzero().reshape(-1)
        if members.numel() > per_cluster:
            members = members[torch.randperm(members.numel(), generator=generator)[:per_cluster]].sort().values
        shown = images[members]
        rows = [shown[start : start + columns] for start in range(0, shown.shape[0], columns)]
        blocks.append(tile_images(rows, value_range=value_range, padding=1, background=1.0))  # (h, w, 3)
        titles.append(f"cluster {cluster} ({int(sizes[cluster])})")
    across = max(1, math.ceil(math.sqrt(len(blocks))))
    height = max(block.shape[0] for block in blocks)
    width = max(block.shape[1] for block in blocks)
    gap = max(12, images.shape[-1] // 2)  # room for each block's title above it
    down = math.ceil(len(blocks) / across)
    canvas = torch.ones(down * (height + gap) + gap, across * (width + gap) + gap, 3)
    corners = []
    for index, block in enumerate(blocks):
        top = gap + (index // across) * (height + gap)
        left = gap + (index % across) * (width + gap)
        canvas[top : top + block.shape[0], left : left + block.shape[1]] = block
        corners.append((top, left))
    if use_matplotlib is None:
        use_matplotlib = have_matplotlib()
    if not use_matplotlib:
        return save_png(path, canvas)
    figure = _import_matplotlib()
    zoom = max(1.0, 24.0 / max(images.shape[-2:]))  # small images drawn at least 24 screen pixels wide
    dpi = 100
    fig = figure.Figure(figsize=(canvas.shape[1] * zoom / dpi, canvas.shape[0] * zoom / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas.numpy(), interpolation="nearest")
    for (top, left), title in zip(corners, titles):
        ax.text(left, top - 1, title, fontsize=7, va="bottom", ha="left")
    ax.set_axis_off()
    return _save_figure(fig, path, dpi=dpi)


def plot_confusion(
    path: str | os.PathLike[str],
    counts: np.ndarray | Tensor,
    *,
    class_names: Sequence[str] | None = None,
    cluster_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Draw a class-by-cluster count matrix with its numbers, as the paper's figure 5.

    Reorder the columns first (for example with :func:`~invariant_inr.metrics.match_clusters`)
    so that matched clusters sit on the diagonal.

    Args:
        path: the PNG file.
        counts: ``(C, K)`` counts of class ``i`` (row) in cluster ``j`` (column).
        class_names: ``C`` row names (default ``0..C-1``).
        cluster_names: ``K`` column names (default ``0..K-1``).
        title: figure title.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is not installed.

    Example:
        >>> import os, tempfile, numpy
        >>> path = plot_confusion(os.path.join(tempfile.mkdtemp(), "m.png"), numpy.eye(3, dtype=int) * 5)
        >>> path.exists()
        True
    """
    figure = _import_matplotlib()
    matrix = np.asarray(counts.detach().cpu().numpy() if isinstance(counts, Tensor) else counts)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(f"counts must be a non-empty (C, K) matrix, got shape {matrix.shape}")
    rows, cols = matrix.shape
    fig = figure.Figure(figsize=(max(3.6, 1.2 + 0.42 * cols), max(2.6, 1.0 + 0.4 * rows)), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues", interpolation="nearest", aspect="auto")
    high = matrix.max() if matrix.max() > 0 else 1
    for i in range(rows):  # a loop over the few cells drawn, not a batch computation
        for j in range(cols):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > 0.6 * high else "black")
    ax.set_xticks(range(cols), list(cluster_names) if cluster_names is not None else [str(j) for j in range(cols)], fontsize=8)
    ax.set_yticks(range(rows), list(class_names) if class_names is not None else [str(i) for i in range(rows)], fontsize=8)
    ax.set_xlabel("cluster")
    ax.set_ylabel("class")
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path, tight=True)


def plot_losses(path: str | os.PathLike[str], history: dict[str, Sequence[float]], *, title: str | None = None) -> Path:
    """Draw the training losses per epoch (one line per loss term, log scale), from :func:`~invariant_inr.fit`'s history.

    Args:
        path: the PNG file.
        history: ``{name: [value per epoch]}``; non-positive or non-finite values are left out of
            the log-scale plot.
        title: figure title.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is not installed.

    Example:
        >>> import os, tempfile
        >>> path = plot_losses(os.path.join(tempfile.mkdtemp(), "l.png"), {"total": [1.0, 0.5], "recon": [0.8, 0.3]})
        >>> path.exists()
        True
    """
    figure = _import_matplotlib()
    fig = figure.Figure(figsize=(5.0, 3.4), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    drawn = 0
    for name, values in history.items():
        series = np.asarray(list(values), dtype=np.float64)
        epochs = np.arange(1, series.size + 1)
        keep = np.isfinite(series) & (series > 0)
        if keep.any():
            ax.plot(epochs[keep], series[keep], marker="o", markersize=3, label=name)
            drawn += 1
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=8, frameon=False)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path, tight=True)
