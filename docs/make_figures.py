"""Draw the figures of the documentation into ``docs/_static/`` (committed; rerun after changing this file).

    python docs/make_figures.py

``coordinates.png``: the coordinate convention of :mod:`invariant_inr.se2` on a small pixel grid,
and an image moved by ``transform_images``. ``measurement.png``: the measurement model
``J = M[T_tau[R_theta[I]]]`` on a sprite. Needs matplotlib.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from matplotlib.figure import Figure

from invariant_inr.datasets import render_sprites
from invariant_inr.se2 import coordinate_grid, transform_images, transform_points

STATIC = Path(__file__).resolve().parent / "_static"
HEART = torch.tensor([2])
EXTENT = (-1.0, 1.0, -1.0, 1.0)  # imshow extent of a square image: pixel centres span [-1, 1]


def _heart(size: int, theta: float = 0.0, tau: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    return render_sprites(HEART, torch.tensor([0.9]), torch.tensor([theta]), torch.tensor([tau]), size=size)[0, 0]


def coordinates(path: Path) -> None:
    fig = Figure(figsize=(9.6, 3.3), dpi=90)
    axes = fig.subplots(1, 3)

    # (a) the grid of pixel centres of a 5 x 5 image and the axes
    ax = axes[0]
    grid = coordinate_grid(5, 5)
    ax.scatter(grid[..., 0].flatten(), grid[..., 1].flatten(), s=14, color="0.3")
    for (row, col) in ((0, 0), (0, 4), (4, 0), (4, 4), (2, 2)):
        x, y = grid[row, col].tolist()
        ax.annotate(f"row {row}, col {col}\n({x:g}, {y:g})", (x, y), textcoords="offset points",
                    xytext=(0, 7 if row == 0 else -22), ha="center", fontsize=7)
    ax.annotate("", xy=(0.9, 0), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "C0", "lw": 1.5})
    ax.annotate("", xy=(0, 0.9), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "C0", "lw": 1.5})
    ax.text(0.92, -0.12, "x", color="C0", fontsize=10)
    ax.text(0.05, 0.88, "y", color="C0", fontsize=10)
    ax.add_patch(_arc(0.45, 0.0, 1.2))
    ax.text(0.42, 0.42, "θ > 0", color="C3", fontsize=9)
    ax.set_title("(a) pixel centres of a 5×5 image", fontsize=9)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)

    # (b) an image J and (c) S_{theta,tau}[J]; one feature point p and S(p)
    theta, tau = math.pi / 3, (0.35, 0.0)
    image = _heart(64)
    moved = transform_images(image[None, None], torch.tensor([theta]), torch.tensor([tau]))[0, 0]
    point = torch.tensor([[0.0, -0.36]])  # the heart's tip
    moved_point = transform_points(point, torch.tensor([theta]), torch.tensor([tau]))[0, 0]
    for ax, picture, (px, py), title in (
        (axes[1], image, point[0].tolist(), "(b) J, with its tip p"),
        (axes[2], moved, moved_point.tolist(), "(c) transform_images(J, π/3, (0.35, 0)):\ncontent moved by S(x) = R(x + τ)"),
    ):
        ax.imshow(picture.numpy(), cmap="gray", extent=EXTENT, origin="upper", vmin=0, vmax=1)
        ax.plot([px], [py], "o", color="C1", markersize=5)
        ax.axhline(0, color="C0", lw=0.6)
        ax.axvline(0, color="C0", lw=0.6)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
    axes[2].text(moved_point[0] + 0.05, moved_point[1], "S(p)", color="C1", fontsize=9)
    axes[1].text(point[0, 0] + 0.05, point[0, 1], "p", color="C1", fontsize=9)
    for ax in axes:
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path)


def _arc(radius: float, start: float, end: float):  # noqa: ANN202 - a matplotlib patch
    from matplotlib.patches import FancyArrowPatch

    a = (radius * math.cos(start), radius * math.sin(start))
    b = (radius * math.cos(end), radius * math.sin(end))
    return FancyArrowPatch(a, b, connectionstyle=f"arc3,rad={0.35}", arrowstyle="->", color="C3", lw=1.2, mutation_scale=10)


def measurement(path: Path) -> None:
    theta, tau = 2 * math.pi / 7 * 2, (0.25, -0.15)
    fine = 256
    continuous = _heart(fine)
    rotated = _heart(fine, theta)
    # T_tau after R_theta: rotate about the origin, then shift; in this package's S = R o T form the
    # same map is S_{theta, R_{-theta} tau}
    shift = torch.tensor([tau])
    back = transform_points(shift, torch.tensor([-theta]), torch.zeros(1, 2))[0]
    posed = _heart(fine, theta, tuple(back[0].tolist()))
    measured = _heart(20, theta, tuple(back[0].tolist()))
    fig = Figure(figsize=(9.6, 2.7), dpi=90)
    axes = fig.subplots(1, 4)
    panels = (
        (continuous, r"$I$ (continuous)"),
        (rotated, r"$R_\theta[I]$"),
        (posed, r"$T_\tau[R_\theta[I]]$"),
        (measured, r"$J = M[T_\tau[R_\theta[I]]]$ (20×20 grid)"),
    )
    for ax, (picture, title) in zip(axes, panels):
        ax.imshow(picture.numpy(), cmap="gray", extent=EXTENT, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([-1, 0, 1])
        ax.set_yticks([-1, 0, 1])
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    coordinates(STATIC / "coordinates.png")
    measurement(STATIC / "measurement.png")
    for name in ("coordinates.png", "measurement.png"):
        print(f"wrote {STATIC / name} ({(STATIC / name).stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
