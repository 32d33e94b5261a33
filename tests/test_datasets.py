"""Tests of invariant_inr.datasets: IDX files, MNIST(U) on a fake MNIST, sprites, folders, as_dataset."""

from __future__ import annotations

import gzip
import math
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from invariant_inr import datasets as D
from invariant_inr import se2

TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """IDX bytes written by hand (independently of D.write_idx)."""
    magic = (0x08 << 8) | array.ndim if magic is None else magic
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in array.shape) + array.tobytes()


def _fake_digits(n: int, seed: int = 0) -> torch.Tensor:
    """``(n, 28, 28)`` uint8 blobs that are not rotation symmetric (a bar plus a dot)."""
    gen = torch.Generator().manual_seed(seed)
    digits = torch.zeros(n, 28, 28, dtype=torch.uint8)
    rows = torch.randint(6, 14, (n,), generator=gen)
    digits[:, 6:22, 12:16] = 200  # vertical bar, same for all
    for offset in range(3):  # a dot whose row differs per sample (vectorised over samples)
        digits[torch.arange(n), rows + offset, 18] = 255
    return digits


def _write_fake_mnist(root: Path, split: str, n: int, *, gz: bool = True, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images_name, labels_name = D.MNIST_FILES[split]
    suffix = ".gz" if gz else ""
    digits = _fake_digits(n, seed)
    labels = (torch.arange(n) % 10).to(torch.uint8)
    D.write_idx(root / (images_name + suffix), digits)
    D.write_idx(root / (labels_name + suffix), labels)
    return digits, labels


@pytest.fixture
def fake_mnist(tmp_path: Path) -> Path:
    _write_fake_mnist(tmp_path, "train", 40, gz=True, seed=0)
    _write_fake_mnist(tmp_path, "test", 20, gz=False, seed=1)
    return tmp_path


# ---------------------------------------------------------------------------------------------
# IDX
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", [(7,), (3, 28, 28), (2, 4, 5)])
def test_read_idx_round_trip_handwritten(tmp_path: Path, compress: bool, shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    raw = _idx_bytes(array)
    path = tmp_path / "file-idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)  # no .gz suffix: detected by magic bytes
    out = D.read_idx(path)
    assert out.dtype == torch.uint8
    assert tuple(out.shape) == shape
    assert np.array_equal(out.numpy(), array)


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
def test_write_then_read_idx(tmp_path: Path, name: str) -> None:
    array = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    D.write_idx(tmp_path / name, array)
    raw = (tmp_path / name).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    magic = struct.unpack(">I", (gzip.decompress(raw) if name.endswith(".gz") else raw)[:4])[0]
    assert magic == 2051
    assert torch.equal(D.read_idx(tmp_path / name), array)


def test_labels_magic_is_2049(tmp_path: Path) -> None:
    D.write_idx(tmp_path / "l", torch.arange(10, dtype=torch.uint8))
    assert struct.unpack(">I", (tmp_path / "l").read_bytes()[:4])[0] == 2049


@pytest.mark.parametrize("magic", [0x00000903, 0x12340803, 0x00000800, 0x00000805, 0])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_bad_magic(tmp_path: Path, magic: int, compress: bool) -> None:
    raw = _idx_bytes(np.zeros((2, 3), dtype=np.uint8), magic=magic)
    path = tmp_path / "bad"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(ValueError, match="magic number"):
        D.read_idx(path)


def test_read_idx_size_errors(tmp_path: Path) -> None:
    raw = _idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="truncated"):
        D.read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(raw + b"\x00")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        D.read_idx(tmp_path / "long")
    (tmp_path / "header").write_bytes(raw[:8])
    with pytest.raises(ValueError, match="header"):
        D.read_idx(tmp_path / "header")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        D.read_idx(tmp_path / "tiny")
    (tmp_path / "badgz").write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(ValueError, match="gzip"):
        D.read_idx(tmp_path / "badgz")


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        D.read_idx(tmp_path / "nothing-here")


def test_write_idx_rejects_wrong_input(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="uint8"):
        D.write_idx(tmp_path / "f", torch.zeros(3))
    with pytest.raises(TypeError):
        D.write_idx(tmp_path / "f", [1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1 to 4"):
        D.write_idx(tmp_path / "f", torch.zeros(1, 1, 1, 1, 1, dtype=torch.uint8))


# ---------------------------------------------------------------------------------------------
# load_mnist
# ---------------------------------------------------------------------------------------------


def test_load_mnist_plain_and_gz(fake_mnist: Path) -> None:
    for split, n in (("train", 40), ("test", 20)):
        images, labels = D.load_mnist(fake_mnist, split)
        assert images.shape == (n, 28, 28) and images.dtype == torch.uint8
        assert labels.shape == (n,) and labels.dtype == torch.int64
        assert labels.tolist() == [i % 10 for i in range(n)]
    assert torch.equal(D.load_mnist(fake_mnist, "test")[0], _fake_digits(20, seed=1))


def test_load_mnist_torchvision_layout(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    digits, _ = _write_fake_mnist(raw, "test", 12, gz=False)
    images, labels = D.load_mnist(tmp_path, "test")
    assert torch.equal(images, digits) and labels.shape == (12,)


def test_load_mnist_missing_files_message(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        D.load_mnist(tmp_path, "test")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert str(tmp_path) in message and "download=True" in message
    # only the missing one is named
    D.write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", torch.zeros(2, 28, 28, dtype=torch.uint8))
    with pytest.raises(FileNotFoundError) as info:
        D.load_mnist(tmp_path, "test")
    assert "t10k-labels-idx1-ubyte" in str(info.value) and "t10k-images" not in str(info.value)


def test_load_mnist_download_uses_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_mnist(root: str, train: bool, download: bool) -> None:  # writes what torchvision would
        calls.append((root, train, download))
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        _write_fake_mnist(raw, "train" if train else "test", 10, gz=False)

    monkeypatch.setattr(D._mnist, "_torchvision_mnist", lambda: fake_mnist)  # no network, no torchvision import
    with pytest.raises(FileNotFoundError):
        D.load_mnist(tmp_path, "test")  # download=False: never calls torchvision
    assert calls == []
    images, labels = D.load_mnist(tmp_path, "test", download=True)
    assert calls == [(str(tmp_path), False, True)] and images.shape == (10, 28, 28)
    D.load_mnist(tmp_path, "test", download=True)  # files present now: no second download
    assert len(calls) == 1

    def offline(root: str, train: bool, download: bool) -> None:
        raise RuntimeError("no network")

    monkeypatch.setattr(D._mnist, "_torchvision_mnist", lambda: offline)
    with pytest.raises(RuntimeError, match="copy the four IDX files"):
        D.load_mnist(tmp_path, "train", download=True)


def test_load_mnist_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        D.load_mnist(tmp_path, "validation")  # type: ignore[arg-type]
    D.write_idx(tmp_path / "train-images-idx3-ubyte", torch.zeros(3, 28, 28, dtype=torch.uint8))
    D.write_idx(tmp_path / "train-labels-idx1-ubyte", torch.zeros(4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="3 images but 4 labels"):
        D.load_mnist(tmp_path, "train")
    D.write_idx(tmp_path / "train-labels-idx1-ubyte", torch.zeros(3, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="labels"):
        D.load_mnist(tmp_path, "train")


# ---------------------------------------------------------------------------------------------
# embed_digits
# ---------------------------------------------------------------------------------------------


def test_embed_digits_centres_and_scales() -> None:
    digits = _fake_digits(3)
    out = D.embed_digits(digits, 50)
    assert out.shape == (3, 1, 50, 50) and out.dtype == torch.float32
    assert torch.allclose(out[:, 0, 11:39, 11:39], digits.float() / 255)
    assert torch.allclose(out.sum(dim=(1, 2, 3)), digits.float().sum(dim=(1, 2)) / 255)
    # a digit symmetric about its centre stays symmetric about the image centre (centred embedding)
    plus = torch.zeros(1, 28, 28, dtype=torch.uint8)
    plus[0, 13:15, 4:24] = 255
    plus[0, 4:24, 13:15] = 255
    embedded = D.embed_digits(plus, 40)
    assert torch.equal(embedded, torch.rot90(embedded, 1, dims=(-2, -1)))
    assert tuple(D.embed_digits(digits.float() / 255, 29).shape) == (3, 1, 29, 29)  # odd padding


def test_embed_digits_errors() -> None:
    with pytest.raises(ValueError, match="size"):
        D.embed_digits(_fake_digits(1), 20)
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        D.embed_digits(torch.zeros(28, 28, dtype=torch.uint8), 50)
    with pytest.raises(TypeError, match="dtype"):
        D.embed_digits(torch.zeros(1, 28, 28, dtype=torch.int32), 50)


# ---------------------------------------------------------------------------------------------
# MNISTU
# ---------------------------------------------------------------------------------------------


def test_mnistu_shapes_dtypes_ranges(fake_mnist: Path) -> None:
    data = D.MNISTU(fake_mnist, "train")
    assert len(data) == 40
    assert data.images.shape == (40, 1, 50, 50) and data.images.dtype == torch.float32
    assert data.labels.shape == (40,) and data.labels.dtype == torch.int64
    assert data.theta.shape == (40,) and data.tau.shape == (40, 2)
    assert float(data.images.min()) >= 0.0 and float(data.images.max()) <= 1.0
    assert float(data.theta.min()) >= 0.0 and float(data.theta.max()) < TWO_PI
    image, label = data[3]
    assert image.shape == (1, 50, 50) and int(label) == 3
    batch_images, batch_labels = next(iter(DataLoader(data, batch_size=8)))
    assert batch_images.shape == (8, 1, 50, 50) and batch_labels.shape == (8,)
    assert "MNISTU" in repr(data)


def test_mnistu_images_are_posed_base_images(fake_mnist: Path) -> None:
    data = D.MNISTU(fake_mnist, "train", size=44, seed=3)
    base = data.base_images()
    assert base.shape == (40, 1, 44, 44)
    assert torch.equal(base, D.embed_digits(data.digits, 44))
    expected = se2.transform_images(base, data.theta, data.tau)
    assert torch.allclose(data.images, expected, atol=1e-6)
    assert torch.allclose(data.base_images(torch.tensor([5, 7])), base[[5, 7]])
    assert data.base_images(2).shape == (1, 1, 44, 44)
    # the poses really vary: images differ from their un-posed versions
    assert float((data.images - base).abs().amax(dim=(1, 2, 3)).min()) > 0.1


def test_mnistu_translation_is_in_pixels(fake_mnist: Path) -> None:
    data = D.MNISTU(fake_mnist, "test", size=50, translation_std_pixels=5.0, seed=7)
    theta, tau_pixels = se2.random_pose(20, 5.0, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(data.tau / se2.grid_spacing(50, 50), tau_pixels, atol=1e-4)
    assert torch.allclose(data.theta, theta)
    still = D.MNISTU(fake_mnist, "test", translation_std_pixels=0.0)
    assert torch.equal(still.tau, torch.zeros(20, 2))


def test_mnistu_translation_statistics(tmp_path: Path) -> None:
    _write_fake_mnist(tmp_path, "test", 2000, gz=True)
    data = D.MNISTU(tmp_path, "test", size=32, translation_std_pixels=5.0, seed=0)
    pixels = data.tau / se2.grid_spacing(32, 32)
    assert abs(float(pixels.std()) - 5.0) < 0.3  # 4000 draws: the std error of the std is ~0.06
    assert abs(float(pixels.mean())) < 0.3
    assert abs(float(data.theta.mean()) - math.pi) < 0.2  # uniform on [0, 2 pi): std error ~0.04


def test_mnistu_seeded_reproducibility(fake_mnist: Path) -> None:
    first = D.MNISTU(fake_mnist, "train", seed=1)
    again = D.MNISTU(fake_mnist, "train", seed=1)
    other = D.MNISTU(fake_mnist, "train", seed=2)
    assert torch.equal(first.images, again.images) and torch.equal(first.theta, again.theta)
    assert not torch.equal(first.images, other.images)
    assert not torch.allclose(first.theta, other.theta)


def test_mnistu_exclude_digits_and_subsets(fake_mnist: Path) -> None:
    full = D.MNISTU(fake_mnist, "train", seed=4)
    no_nine = D.MNISTU(fake_mnist, "train", seed=4, exclude_digits=(9,))
    assert len(no_nine) == 36 and 9 not in no_nine.labels.tolist()
    assert no_nine.exclude_digits == (9,)
    keep = full.labels != 9
    # a digit has the same pose and image in every subset built with one seed
    assert torch.equal(no_nine.theta, full.theta[keep]) and torch.equal(no_nine.images, full.images[keep])
    assert torch.equal(no_nine.indices, keep.nonzero().squeeze(1))

    first = D.MNISTU(fake_mnist, "train", seed=4, num_samples=5)
    assert torch.equal(first.images, full.images[:5]) and first.indices.tolist() == [0, 1, 2, 3, 4]
    rand = D.MNISTU(fake_mnist, "train", seed=4, num_samples=5, subset="random")
    again = D.MNISTU(fake_mnist, "train", seed=4, num_samples=5, subset="random")
    assert torch.equal(rand.indices, again.indices)
    assert rand.indices.tolist() == sorted(rand.indices.tolist()) and len(set(rand.indices.tolist())) == 5
    assert torch.equal(rand.images, full.images[rand.indices])
    mixed = D.MNISTU(fake_mnist, "train", seed=4, num_samples=10, exclude_digits=[0, 1])
    assert set(mixed.labels.tolist()).isdisjoint({0, 1}) and len(mixed) == 10


def test_mnistu_return_pose(fake_mnist: Path) -> None:
    data = D.MNISTU(fake_mnist, "test", return_pose=True)
    image, label, theta, tau = data[4]
    assert image.shape == (1, 50, 50) and theta.shape == () and tau.shape == (2,)
    assert float(theta) == float(data.theta[4]) and int(label) == 4


def test_mnistu_errors(fake_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        D.MNISTU(tmp_path_factory.mktemp("empty"), "train")
    with pytest.raises(ValueError, match="num_samples"):
        D.MNISTU(fake_mnist, "test", num_samples=21)
    with pytest.raises(ValueError, match="no samples left"):
        D.MNISTU(fake_mnist, "test", exclude_digits=range(10))
    with pytest.raises(ValueError, match="0..9"):
        D.MNISTU(fake_mnist, "test", exclude_digits=(10,))
    with pytest.raises(TypeError, match="exclude_digits"):
        D.MNISTU(fake_mnist, "test", exclude_digits=9)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        D.MNISTU(fake_mnist, "test", size=20)
    with pytest.raises(ValueError, match="translation_std_pixels"):
        D.MNISTU(fake_mnist, "test", translation_std_pixels=-1.0)
    with pytest.raises(ValueError, match="subset"):
        D.MNISTU(fake_mnist, "test", num_samples=3, subset="last")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        D.MNISTU(fake_mnist, "test", seed=1.5)  # type: ignore[arg-type]


def test_mnistu_noise_statistics_and_same_poses(fake_mnist: Path) -> None:
    clean = D.MNISTU(fake_mnist, "train", seed=3)
    noisy = D.MNISTU(fake_mnist, "train", seed=3, noise=0.2)
    # the noise is the last draw: poses and digits are those of the clean set
    assert torch.equal(noisy.theta, clean.theta) and torch.equal(noisy.tau, clean.tau)
    assert torch.equal(noisy.labels, clean.labels) and noisy.noise == 0.2
    added = (noisy.images - clean.images).double()  # (40, 1, 50, 50): 100,000 draws
    assert abs(float(added.mean())) < 0.003  # std error 0.2 / sqrt(1e5) = 0.0006
    assert abs(float(added.std()) - 0.2) < 0.003  # std error of the std ~0.0005
    neighbours = torch.corrcoef(torch.stack([added[..., :-1].flatten(), added[..., 1:].flatten()]))[0, 1]
    assert abs(float(neighbours)) < 0.02  # i.i.d. pixels, not a smoothed field
    assert float(noisy.images.min()) < 0.0 and float(noisy.images.max()) > 1.0  # not clipped
    assert not torch.equal(added[0], added[1])  # each sample has its own noise
    assert "noise=0.2" in repr(noisy) and "noise" not in repr(clean)


def test_mnistu_noise_reproducible(fake_mnist: Path) -> None:
    first = D.MNISTU(fake_mnist, "train", seed=3, noise=0.1)
    again = D.MNISTU(fake_mnist, "train", seed=3, noise=0.1, chunk_size=7)  # chunking does not change the noise
    other = D.MNISTU(fake_mnist, "train", seed=4, noise=0.1)
    assert torch.equal(first.images, again.images)
    assert torch.equal(first[5][0], first[5][0])  # the same index always gives the same noisy image
    assert not torch.equal(first.images - D.MNISTU(fake_mnist, "train", seed=3).images,
                           other.images - D.MNISTU(fake_mnist, "train", seed=4).images)
    # noise=0 is bit for bit the dataset made without the option
    assert torch.equal(D.MNISTU(fake_mnist, "train", seed=3, noise=0.0).images, D.MNISTU(fake_mnist, "train", seed=3).images)
    subset = D.MNISTU(fake_mnist, "train", seed=3, noise=0.1, num_samples=7, subset="random")
    assert torch.equal(subset.images, D.MNISTU(fake_mnist, "train", seed=3, noise=0.1, num_samples=7, subset="random").images)


@pytest.mark.parametrize(
    ("noise", "error"),
    [(-0.1, ValueError), (math.nan, ValueError), (math.inf, ValueError), ("0.1", TypeError), (True, TypeError)],
)
def test_noise_is_validated(fake_mnist: Path, noise: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="noise"):
        D.MNISTU(fake_mnist, "test", noise=noise)  # type: ignore[arg-type]
    with pytest.raises(error, match="noise"):
        D.make_sprites(5, noise=noise)  # type: ignore[arg-type]
    clean = D.make_sprites(3, size=8)
    with pytest.raises(error, match="noise"):
        D.Sprites(clean.images, clean.labels, clean.scale, clean.theta, clean.tau, noise=noise)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Sprites
# ---------------------------------------------------------------------------------------------


def _disk(size: int, radius: float) -> torch.Tensor:
    return se2.coordinate_grid(size, size).norm(dim=-1) <= radius


def test_sprites_shapes_range_labels() -> None:
    sprites = D.make_sprites(301, size=24, seed=0)
    assert sprites.images.shape == (301, 1, 24, 24) and sprites.images.dtype == torch.float32
    assert float(sprites.images.min()) == 0.0 and float(sprites.images.max()) == 1.0
    counts = sprites.labels.bincount(minlength=3)
    assert int(counts.sum()) == 301 and int(counts.max() - counts.min()) <= 1
    assert sprites.labels.dtype == torch.int64 and sprites.scale.shape == (301,)
    assert float(sprites.scale.min()) >= 0.5 and float(sprites.scale.max()) <= 1.0
    assert float(sprites.theta.min()) >= 0.0 and float(sprites.theta.max()) < TWO_PI
    assert float(sprites.tau.abs().max()) <= 2 * 0.12 + 1e-6  # truncated at two standard deviations
    # not sorted by shape: labels are shuffled
    assert sprites.labels[:100].bincount(minlength=3).min() > 10
    image, label = sprites[0]
    assert image.shape == (1, 24, 24) and label.shape == ()
    assert "Sprites" in repr(sprites) and sprites.size == 24


def test_sprites_inside_frame_with_defaults() -> None:
    sprites = D.make_sprites(500, size=32, seed=1)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    assert float(sprites.images[:, 0][:, border].max()) == 0.0
    assert float(sprites.images.sum(dim=(1, 2, 3)).min()) > 10.0  # every sprite is visible


def test_sprites_reproducible_and_seeded() -> None:
    a = D.make_sprites(50, size=16, seed=5)
    b = D.make_sprites(50, size=16, seed=5)
    c = D.make_sprites(50, size=16, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.tau, b.tau) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_sprites_rotate_translate_switches_keep_other_latents() -> None:
    full = D.make_sprites(60, size=16, seed=2)
    fixed = D.make_sprites(60, size=16, seed=2, rotate=False)
    centred = D.make_sprites(60, size=16, seed=2, translate=False)
    assert torch.equal(fixed.theta, torch.zeros(60)) and torch.equal(fixed.tau, full.tau)
    assert torch.equal(centred.tau, torch.zeros(60, 2)) and torch.equal(centred.theta, full.theta)
    assert torch.equal(fixed.labels, full.labels) and torch.equal(fixed.scale, full.scale)
    still = D.make_sprites(10, size=16, seed=2, rotate=False, translate=False)
    assert torch.allclose(still.images, still.base_images())


def test_sprites_scale_changes_area() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    scale = torch.tensor([1.0, 0.5] * 3)
    zeros = torch.zeros(6)
    images = D.render_sprites(labels, scale, zeros, torch.zeros(6, 2), size=64)
    area = images.sum(dim=(1, 2, 3)).view(3, 2)
    ratio = area[:, 0] / area[:, 1]
    assert torch.allclose(ratio, torch.full((3,), 4.0), rtol=0.1)


def test_sprite_symmetries_and_orientation() -> None:
    zeros = torch.zeros(3)
    base = D.render_sprites(torch.arange(3), torch.ones(3), zeros, torch.zeros(3, 2), size=33)
    square, ellipse, heart = base[0:1], base[1:2], base[2:3]
    rot90 = lambda x, k: torch.rot90(x, k, dims=(-2, -1))  # noqa: E731
    assert torch.allclose(rot90(square, 1), square, atol=1e-5)
    assert torch.allclose(rot90(ellipse, 2), ellipse, atol=1e-5)
    assert float((rot90(ellipse, 1) - ellipse).abs().mean()) > 0.05
    assert float((rot90(heart, 2) - heart).abs().mean()) > 0.05
    assert torch.allclose(torch.flip(heart, dims=(-1,)), heart, atol=1e-5)  # mirror axis: the y axis
    assert float(heart[..., :16, :].sum()) > float(heart[..., 17:, :].sum())  # lobes up, tip down
    assert float(ellipse[..., 16, :].sum()) < float(ellipse[..., :, 16].sum())  # long axis along y


def test_render_quarter_turn_and_pixel_shift_are_exact() -> None:
    labels = torch.tensor([0, 1, 2])
    scale = torch.tensor([0.6, 0.8, 0.7])
    zeros = torch.zeros(3)
    base = D.render_sprites(labels, scale, zeros, torch.zeros(3, 2), size=32)
    turned = D.render_sprites(labels, scale, torch.full((3,), math.pi / 2), torch.zeros(3, 2), size=32)
    assert torch.allclose(turned, torch.rot90(base, 1, dims=(-2, -1)), atol=1e-4)
    step = se2.grid_spacing(32, 32)
    shifted = D.render_sprites(labels, scale, zeros, torch.tensor([[2 * step, -step]] * 3), size=32)
    # two pixels right, one pixel down (y is up, rows go down)
    assert torch.allclose(shifted, torch.roll(base, shifts=(1, 2), dims=(-2, -1)), atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(
    label=st.integers(0, 2),
    scale=st.floats(0.5, 1.0),
    theta=st.floats(0.0, TWO_PI, exclude_max=True),
    tx=st.floats(-0.25, 0.25),
    ty=st.floats(-0.25, 0.25),
)
def test_render_with_pose_matches_warp_of_base(label: int, scale: float, theta: float, tx: float, ty: float) -> None:
    """Drawing at pose (theta, tau) ~ transform_images of the un-posed drawing, on a central disk, loosely."""
    labels, scales = torch.tensor([label]), torch.tensor([scale])
    th, tau = torch.tensor([theta]), torch.tensor([[tx, ty]])
    base = D.render_sprites(labels, scales, torch.zeros(1), torch.zeros(1, 2), size=32)
    posed = D.render_sprites(labels, scales, th, tau, size=32)
    warped = se2.transform_images(base, th, tau)
    diff = (posed - warped)[0, 0][_disk(32, 0.95)].abs()
    assert float(diff.mean()) < 0.04  # interpolation blurs the one-pixel edge only
    assert float(diff.max()) < 0.6
    # and the mass moves with the object (the one-pixel edge ramp makes small sprites differ by a few %)
    assert abs(float(posed.sum()) - float(base.sum())) / float(base.sum()) < 0.06


def test_sprites_base_images_and_return_pose() -> None:
    sprites = D.make_sprites(40, size=32, seed=9, return_pose=True)
    base = sprites.base_images()
    warped = se2.transform_images(base, sprites.theta, sprites.tau)
    assert float((warped - sprites.images).abs().mean()) < 0.02
    assert torch.allclose(sprites.base_images(torch.tensor([3])), base[3:4])
    image, label, theta, tau = sprites[3]
    assert float(theta) == float(sprites.theta[3]) and tau.shape == (2,) and int(label) == int(sprites.labels[3])


def test_sprites_subset_of_shapes() -> None:
    sprites = D.make_sprites(20, size=16, shapes=("heart",), seed=0)
    assert sprites.labels.tolist() == [0] * 20 and sprites.shapes == ("heart",)
    both = D.make_sprites(20, size=16, shapes=("heart", "square"), seed=0)
    hearts = both.labels == 0
    again = D.render_sprites(torch.zeros(int(hearts.sum()), dtype=torch.long), both.scale[hearts], both.theta[hearts], both.tau[hearts], size=16, shapes=("heart",))
    assert torch.allclose(again, both.images[hearts])


def test_sprites_errors() -> None:
    with pytest.raises(ValueError, match="each shape"):
        D.make_sprites(5, shapes=("triangle",))
    with pytest.raises(TypeError, match="shapes"):
        D.make_sprites(5, shapes="heart")
    with pytest.raises(ValueError, match="num_samples"):
        D.make_sprites(0)
    with pytest.raises(ValueError, match="low <= high"):
        D.make_sprites(5, scale_range=(1.0, 0.5))
    with pytest.raises(ValueError, match="scale_range"):
        D.make_sprites(5, scale_range=(0.0, 0.5))
    with pytest.raises(ValueError, match="translation_std"):
        D.make_sprites(5, translation_std=-0.1)
    ones, zeros = torch.ones(2), torch.zeros(2)
    with pytest.raises(ValueError, match="labels must be in"):
        D.render_sprites(torch.tensor([0, 3]), ones, zeros, torch.zeros(2, 2))
    with pytest.raises(TypeError, match="labels"):
        D.render_sprites(torch.tensor([0.0, 1.0]), ones, zeros, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="scale"):
        D.render_sprites(torch.tensor([0, 1]), -ones, zeros, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="tau"):
        D.render_sprites(torch.tensor([0, 1]), ones, zeros, torch.zeros(2, 3))


def test_sprites_noise_statistics_and_same_latents() -> None:
    clean = D.make_sprites(400, size=24, seed=3)
    noisy = D.make_sprites(400, size=24, seed=3, noise=0.1)
    for name in ("labels", "scale", "theta", "tau"):  # the noise is drawn after every latent
        assert torch.equal(getattr(noisy, name), getattr(clean, name)), name
    added = (noisy.images - clean.images).double()  # 230,400 draws
    assert abs(float(added.mean())) < 0.001  # std error 0.1 / sqrt(230400) = 0.0002
    assert abs(float(added.std()) - 0.1) < 0.001  # std error of the std ~0.00015
    neighbours = torch.corrcoef(torch.stack([added[..., :-1].flatten(), added[..., 1:].flatten()]))[0, 1]
    assert abs(float(neighbours)) < 0.02
    assert float(noisy.images.min()) < 0.0 and float(noisy.images.max()) > 1.0  # not clipped
    assert noisy.noise == 0.1 and clean.noise == 0.0
    assert torch.equal(noisy.base_images(), clean.base_images())  # the canonical images carry no noise
    assert "noise=0.1" in repr(noisy) and "noise" not in repr(clean)


def test_sprites_noise_reproducible() -> None:
    first = D.make_sprites(50, size=16, seed=7, noise=0.05)
    again = D.make_sprites(50, size=16, seed=7, noise=0.05)
    other = D.make_sprites(50, size=16, seed=8, noise=0.05)
    assert torch.equal(first.images, again.images)
    assert torch.equal(first[3][0], first[3][0]) and torch.equal(first[3][0], first.images[3])
    assert not torch.equal(first.images, other.images)
    # noise=0 (float or int) is bit for bit the set made without the option
    plain = D.make_sprites(50, size=16, seed=7)
    assert torch.equal(D.make_sprites(50, size=16, seed=7, noise=0.0).images, plain.images)
    assert torch.equal(D.make_sprites(50, size=16, seed=7, noise=0).images, plain.images)


def test_sprites_are_fast() -> None:
    start = time.process_time()  # CPU time of this process: robust to other jobs sharing the machine
    sprites = D.make_sprites(10_000, size=32, seed=0)
    elapsed = time.process_time() - start
    assert sprites.images.shape == (10_000, 1, 32, 32)
    # measured about 0.4 s of CPU on one thread; the bound only catches a lost vectorisation
    assert elapsed < 10.0, f"10,000 sprites took {elapsed:.1f} s of CPU time"


# ---------------------------------------------------------------------------------------------
# ImageFolderDataset
# ---------------------------------------------------------------------------------------------

try:
    from PIL import Image
except ImportError:  # pragma: no cover - Pillow is in the test extras
    Image = None
needs_pil = pytest.mark.skipif(Image is None, reason="needs Pillow")


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs").mkdir()
    Image.new("L", (6, 4), color=128).save(tmp_path / "cats" / "a.png")
    Image.new("RGB", (6, 4), color=(255, 0, 51)).save(tmp_path / "cats" / "b.PNG")
    Image.new("RGBA", (6, 4), color=(0, 255, 0, 10)).save(tmp_path / "dogs" / "c.png")
    Image.new("RGB", (6, 4), color=(200, 200, 200)).save(tmp_path / "dogs" / "d.jpg", quality=95)
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    return tmp_path


@needs_pil
def test_image_folder_reads_images(image_folder: Path) -> None:
    data = D.ImageFolderDataset(image_folder)
    assert len(data) == 4 and [p.name for p in data.paths] == ["a.png", "b.PNG", "c.png", "d.jpg"]
    gray, rgb, rgba, jpg = (data[i] for i in range(4))
    assert gray.shape == (1, 4, 6) and gray.dtype == torch.float32
    assert torch.allclose(gray, torch.full((1, 4, 6), 128 / 255))
    assert rgb.shape == (3, 4, 6)
    assert torch.allclose(rgb[:, 0, 0], torch.tensor([1.0, 0.0, 0.2]))
    assert rgba.shape == (3, 4, 6)  # alpha dropped with channels=None
    assert torch.allclose(jpg, torch.full((3, 4, 6), 200 / 255), atol=3 / 255)
    assert data.labels is None and data.classes == []
    assert "ImageFolderDataset" in repr(data)


@needs_pil
def test_image_folder_channels_size_labels(image_folder: Path) -> None:
    data = D.ImageFolderDataset(image_folder, size=(8, 10), channels=1, with_labels=True)
    assert data.classes == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 1, 1]
    image, label = data[1]
    assert image.shape == (1, 8, 10) and int(label) == 0
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    images, labels = next(iter(DataLoader(data, batch_size=4)))
    assert images.shape == (4, 1, 8, 10) and labels.tolist() == [0, 0, 1, 1]
    rgb = D.ImageFolderDataset(image_folder, size=5, channels=3)
    assert rgb[0].shape == (3, 5, 5) and torch.allclose(rgb[0][0], rgb[0][2])
    assert D.ImageFolderDataset(image_folder, channels=4)[2].shape == (4, 4, 6)


@needs_pil
def test_image_folder_16_bit(tmp_path: Path) -> None:
    array = np.full((4, 5), 65535 // 4, dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "deep.png")
    image = D.ImageFolderDataset(tmp_path)[0]
    assert image.shape == (1, 4, 5) and torch.allclose(image, torch.full((1, 4, 5), 0.25), atol=1e-3)
    assert torch.allclose(D.ImageFolderDataset(tmp_path, channels=1)[0], image)
    rgba = D.ImageFolderDataset(tmp_path, channels=4)[0]
    assert rgba.shape == (4, 4, 5) and torch.allclose(rgba[:3], image.expand(3, -1, -1)) and float(rgba[3].min()) == 1.0


@needs_pil
def test_image_folder_works_with_worker_processes(image_folder: Path) -> None:
    import pickle

    data = D.ImageFolderDataset(image_folder, size=4, with_labels=True)
    clone = pickle.loads(pickle.dumps(data))
    assert torch.equal(clone[0][0], data[0][0])


@needs_pil
def test_image_folder_errors(tmp_path: Path, image_folder: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.ImageFolderDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        D.ImageFolderDataset(tmp_path / "empty")
    Image.new("L", (3, 3)).save(image_folder / "loose.png")
    with pytest.raises(ValueError, match="sub-folder"):
        D.ImageFolderDataset(image_folder, with_labels=True)
    with pytest.raises(ValueError, match="channels"):
        D.ImageFolderDataset(image_folder, channels=2)
    with pytest.raises(ValueError, match="size"):
        D.ImageFolderDataset(image_folder, size=1)


# ---------------------------------------------------------------------------------------------
# as_dataset
# ---------------------------------------------------------------------------------------------


def test_as_dataset_tensors_and_arrays() -> None:
    x64 = torch.rand(4, 2, 5, 5, dtype=torch.float64)
    data = D.as_dataset(x64)
    assert len(data) == 4 and torch.equal(data[1], x64[1]) and data[1].dtype == torch.float64
    u8 = torch.randint(0, 256, (3, 1, 4, 4), dtype=torch.uint8)
    assert torch.allclose(D.as_dataset(u8)[2], u8[2].float() / 255)
    assert torch.allclose(D.as_dataset(u8.numpy())[0], u8[0].float() / 255)
    arr = np.random.default_rng(0).random((2, 3, 4, 4)).astype(np.float32)
    assert torch.equal(D.as_dataset(arr)[1], torch.from_numpy(arr[1]))
    labelled = D.as_dataset(x64, labels=np.array([3, 1, 4, 1]))
    image, label = labelled[2]
    assert torch.equal(image, x64[2]) and int(label) == 4
    images, labels = next(iter(DataLoader(labelled, batch_size=4)))
    assert images.shape == (4, 2, 5, 5) and labels.tolist() == [3, 1, 4, 1]
    assert D.as_dataset(x64, labels=[0, 1, 2, 3])[3][1].item() == 3


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (torch.rand(5, 8, 8), ValueError, "unsqueeze"),
        (torch.rand(8, 8), ValueError, r"\(N, C, H, W\)"),
        (torch.rand(0, 1, 4, 4), ValueError, "empty"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.int32), TypeError, "floating"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.bool), TypeError, "floating"),
        (torch.full((2, 1, 4, 4), float("nan")), ValueError, "NaN"),
        (torch.full((2, 1, 4, 4), float("inf")), ValueError, "NaN or infinite"),
        (np.zeros((2, 1, 4, 4), dtype=np.int64), TypeError, "floating"),
        ([[0.0]], TypeError, "tensor or numpy array"),
        ("images", TypeError, "tensor or numpy array"),
    ],
)
def test_as_dataset_errors(data: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        D.as_dataset(data)


def test_as_dataset_label_errors() -> None:
    with pytest.raises(ValueError, match="labels"):
        D.as_dataset(torch.rand(3, 1, 4, 4), labels=torch.arange(4))
    with pytest.raises(ValueError, match="labels"):
        D.as_dataset(TensorDataset(torch.rand(3, 1, 4, 4)), labels=torch.arange(3))


class _ListDataset(Dataset):
    def __init__(self, items: list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):  # noqa: ANN204
        return self.items[index]


def test_as_dataset_wraps_datasets() -> None:
    x = torch.rand(3, 1, 4, 4)
    plain = D.as_dataset(_ListDataset(list(x)))
    assert torch.equal(plain[2], x[2])
    tuples = D.as_dataset(TensorDataset(x, torch.arange(3)))
    image, label = tuples[1]
    assert torch.equal(image, x[1]) and int(label) == 1
    u8 = D.as_dataset(_ListDataset([torch.full((1, 2, 2), 255, dtype=torch.uint8)]))
    assert u8[0].dtype == torch.float32 and torch.equal(u8[0], torch.ones(1, 2, 2))
    numpy_items = D.as_dataset(_ListDataset([(np.zeros((3, 2, 2), dtype=np.float32), "tag")]))
    image, tag = numpy_items[0]
    assert isinstance(image, torch.Tensor) and tag == "tag"
    sprites = D.make_sprites(6, size=8, seed=0)
    image, label = D.as_dataset(sprites)[4]
    assert torch.equal(image, sprites.images[4]) and int(label) == int(sprites.labels[4])
    assert len(D.as_dataset(sprites)) == 6


@needs_pil
def test_as_dataset_converts_pil_images() -> None:
    pil = D.as_dataset(_ListDataset([(Image.new("RGB", (5, 3), color=(255, 0, 0)), 7)]))
    image, label = pil[0]
    assert image.shape == (3, 3, 5) and torch.allclose(image[0], torch.ones(3, 5)) and label == 7
    gray = D.as_dataset(_ListDataset([Image.new("L", (4, 2), color=51)]))
    assert torch.allclose(gray[0], torch.full((1, 2, 4), 0.2))


def test_as_dataset_dataset_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        D.as_dataset(_ListDataset([]))
    with pytest.raises(ValueError, match="NaN"):
        D.as_dataset(_ListDataset([torch.full((1, 2, 2), float("nan"))]))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        D.as_dataset(_ListDataset([torch.rand(2, 2)]))
    with pytest.raises(TypeError, match="floating"):
        D.as_dataset(_ListDataset([torch.zeros(1, 2, 2, dtype=torch.int64)]))
    with pytest.raises(TypeError, match="tensor, a numpy array or a PIL image"):
        D.as_dataset(_ListDataset([("not an image", 0)]))
    with pytest.raises(ValueError, match="empty tuple"):
        D.as_dataset(_ListDataset([()]))
    later = D.as_dataset(_ListDataset([torch.rand(1, 2, 2), torch.full((1, 2, 2), float("nan"))]))
    with pytest.raises(ValueError, match="item 1"):
        later[1]

    class Stream(IterableDataset):
        def __iter__(self):  # noqa: ANN204
            yield torch.rand(1, 2, 2)

    with pytest.raises(TypeError, match="map-style"):
        D.as_dataset(Stream())
