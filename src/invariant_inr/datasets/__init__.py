r"""Datasets: MNIST files, MNIST(U), procedural sprites, and your own images.

This package is the entry point; each idea lives in its own private module (import from here):
``_idx`` (IDX files), ``_mnist`` (MNIST files), ``_mnistu`` (MNIST(U)), ``_sprite_shapes`` (the
sprites' signed distance functions), ``_sprites`` (sprites), ``_folder`` (image folders),
``_tensors`` (:func:`as_dataset`) and ``_base`` (what the posed datasets share).

Four sources, one output format: float images ``(C, H, W)`` in ``[0, 1]`` (batched ``(N, C, H, W)``),
with labels and, for the synthetic sets, the true pose of every sample.

* **MNIST files** -- :func:`read_idx` / :func:`write_idx` read and write the IDX format (plain or
  gzip-compressed); :func:`load_mnist` finds the four MNIST files in a folder you name.
* **MNIST(U)** -- :class:`MNISTU`, the rotated and translated MNIST of the paper (section 4.1.1):
  each digit is embedded, centred, in ``50 x 50`` pixels, turned by
  :math:`\theta \sim U[0, 2\pi)` and moved by :math:`\tau \sim N(0, 5^2 I_2)` **pixels**.
  :func:`embed_digits` gives the un-posed centred digits. ``noise=`` adds Gaussian pixel noise.
* **Sprites** -- :func:`make_sprites` / :func:`render_sprites`, dSprites-like shapes (square,
  ellipse, heart) drawn procedurally from signed distance functions, with known shape, scale and
  pose; no download. ``noise=`` adds Gaussian pixel noise.
* **Your own images** -- :class:`ImageFolderDataset` (PNG/JPG through Pillow) and
  :func:`as_dataset`, which wraps tensors, arrays and datasets into one checked format.

Convention: poses follow :mod:`invariant_inr.se2`: ``theta`` ``(N,)`` in radians,
counter-clockwise positive; ``tau`` ``(N, 2)`` in ``(x, y)`` order, ``y`` up, in normalised
units (one pixel of an ``H x W`` image is ``se2.grid_spacing(H, W)``). For every synthetic set,
``images == se2.transform_images(base_images, theta, tau)``, where ``base_images`` is the object
in its canonical pose (centred, upright), so pose metrics can be computed against the truth.

Example:
    >>> sprites = make_sprites(6, size=16, seed=0)
    >>> image, label = sprites[0]
    >>> image.shape, image.dtype, sprites.theta.shape, sprites.tau.shape
    (torch.Size([1, 16, 16]), torch.float32, torch.Size([6]), torch.Size([6, 2]))
"""

from ._base import PathLike
from ._folder import IMAGE_EXTENSIONS, ImageFolderDataset
from ._idx import read_idx, write_idx
from ._mnist import MNIST_FILES, load_mnist
from ._mnistu import MNISTU, embed_digits
from ._sprite_shapes import SPRITE_SHAPES
from ._sprites import Sprites, make_sprites, render_sprites
from ._tensors import as_dataset

__all__ = [
    "IMAGE_EXTENSIONS",
    "MNIST_FILES",
    "SPRITE_SHAPES",
    "ImageFolderDataset",
    "MNISTU",
    "Sprites",
    "as_dataset",
    "embed_digits",
    "load_mnist",
    "make_sprites",
    "read_idx",
    "render_sprites",
    "write_idx",
]
