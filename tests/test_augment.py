"""Tests of :mod:`invariant_inr.augment` and of its use in :meth:`IRLINR.loss`.

Exact identities (identity at strength 0, a half turn, a 3 x 3 dilation) are checked tightly in
float64; the random geometric parts are checked as properties of smooth Gaussian blobs (moments
move as the drawn transform says, within bounds), which is what interpolation allows honestly.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from invariant_inr import IRLINR
from invariant_inr.augment import NuisanceAugment
from invariant_inr.se2 import coordinate_grid

F64 = torch.float64
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def _blob(size: int, sx: float, sy: float, *, device: torch.device | str = "cpu", dtype: torch.dtype = F64) -> torch.Tensor:
    """A centred Gaussian blob ``(1, 1, size, size)`` with standard deviations ``sx``, ``sy`` (normalised units)."""
    grid = coordinate_grid(size, size, device=device, dtype=dtype)
    return torch.exp(-0.5 * ((grid[..., 0] / sx) ** 2 + (grid[..., 1] / sy) ** 2))[None, None]


def _moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mass, second moments ``mu20``, ``mu02``, ``mu11`` about the origin, per image."""
    grid = coordinate_grid(images.shape[-2], images.shape[-1], device=images.device, dtype=images.dtype)
    x, y = grid[..., 0], grid[..., 1]
    mass = images.sum((-3, -2, -1))
    return (
        mass,
        (images * x**2).sum((-3, -2, -1)) / mass,
        (images * y**2).sum((-3, -2, -1)) / mass,
        (images * x * y).sum((-3, -2, -1)) / mass,
    )


def test_strength_zero_is_the_identity(device: str, dtype: torch.dtype) -> None:
    images = torch.rand(3, 2, 9, 7, generator=torch.Generator().manual_seed(0), dtype=F64).to(device, dtype)
    augment = NuisanceAugment(0.0)
    assert augment.is_identity and augment(images) is images


def test_half_turn_is_exact(device: str) -> None:
    images = torch.rand(4, 1, 9, 9, generator=torch.Generator().manual_seed(1), dtype=F64).to(device)
    out = NuisanceAugment(0.0, flip=1.0)(images)
    torch.testing.assert_close(out, torch.rot90(images, 2, dims=(-2, -1)), atol=1e-12, rtol=0)


def test_thicken_is_a_three_by_three_dilation(device: str) -> None:
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2), dtype=F64).to(device)
    out = NuisanceAugment(0.0, thicken=1.0)(images)
    torch.testing.assert_close(out, torch.nn.functional.max_pool2d(images, 3, stride=1, padding=1), atol=0, rtol=0)


@given(seed=seeds, scale=st.floats(0.05, 0.5))
def test_scaling_changes_size_within_its_bound(seed: int, scale: float) -> None:
    image = _blob(41, 0.2, 0.2).expand(6, 1, 41, 41)
    augment = NuisanceAugment(0.0, scale=scale)
    out = augment(image, generator=torch.Generator().manual_seed(seed))
    _, mu20, mu02, _ = _moments(image)
    _, nu20, nu02, _ = _moments(out)
    ratio = ((nu20 + nu02) / (mu20 + mu02)).sqrt()  # the blob's radius grows by the drawn factor
    tol = 0.02  # pixel sampling of a blob 0.2 units (4 pixels) wide
    assert bool((ratio >= 1 - scale - tol).all()) and bool((ratio <= 1 + scale + tol).all())
    assert ratio.std() > 0  # one draw per image


@given(seed=seeds, degrees=st.floats(1.0, 60.0))
def test_rotation_turns_the_principal_axis_within_its_bound(seed: int, degrees: float) -> None:
    image = _blob(41, 0.35, 0.12).expand(8, 1, 41, 41)  # elongated along x
    out = NuisanceAugment(0.0, rotation_deg=degrees)(image, generator=torch.Generator().manual_seed(seed))
    mass, mu20, mu02, mu11 = _moments(out)
    axis = 0.5 * torch.atan2(2 * mu11, mu20 - mu02)  # principal-axis angle of the output
    assert bool((axis.abs() <= math.radians(degrees) + 0.02).all())
    torch.testing.assert_close(mass, _moments(image)[0], rtol=0.01, atol=0)  # a rotation keeps the mass


@given(seed=seeds, shear=st.floats(0.05, 0.6))
def test_shear_keeps_area_and_row_heights(seed: int, shear: float) -> None:
    image = _blob(41, 0.15, 0.25).expand(4, 1, 41, 41)
    out = NuisanceAugment(0.0, shear=shear)(image, generator=torch.Generator().manual_seed(seed))
    mass, _, mu02, mu11 = _moments(out)
    mass0, _, nu02, _ = _moments(image)
    torch.testing.assert_close(mass, mass0, rtol=0.01, atol=0)  # determinant 1
    torch.testing.assert_close(mu02, nu02, rtol=0.01, atol=0)  # a horizontal shear moves no row
    slant = mu11 / mu02  # the output's x = y * (-shear_drawn) on average: |slant| bounded by the shear
    assert bool((slant.abs() <= shear + 0.02).all())


def test_draws_follow_the_generator_and_differ_per_image() -> None:
    images = _blob(21, 0.2, 0.3, dtype=torch.float32).expand(5, 1, 21, 21)
    augment = NuisanceAugment(1.0)
    first = augment(images, generator=torch.Generator().manual_seed(7))
    again = augment(images, generator=torch.Generator().manual_seed(7))
    other = augment(images, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.allclose(first[0], first[1])  # identical inputs, independent draws


def test_non_square_images_keep_their_shape(device: str) -> None:
    images = torch.rand(2, 3, 12, 20, device=device)
    assert NuisanceAugment(1.0, shift=0.1, flip=0.5)(images).shape == (2, 3, 12, 20)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strength": -1.0}, ValueError, "strength"),
        ({"strength": "strong"}, TypeError, "strength must be a number"),
        ({"scale": 1.0}, ValueError, "scale must be below 1"),
        ({"flip": 1.5}, ValueError, "flip is a probability"),
        ({"thicken": -0.1}, ValueError, "thicken"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        NuisanceAugment(**kwargs)


def test_bad_call_arguments() -> None:
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        NuisanceAugment(1.0)(torch.rand(1, 1, 8, 8), generator=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="images"):
        NuisanceAugment(1.0)(torch.rand(8, 8))


# ------------------------------------------------------------------------------- in the model
def _model(**kwargs: object) -> IRLINR:
    options = dict(encoder="small", encoder_width=8, pose="analytic", canonical_rule="moments", num_frequencies=8,
                   inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(16,))
    options.update(kwargs)
    return IRLINR(1, 16, 4, **options)  # type: ignore[arg-type]


def test_the_model_augments_in_the_loss_only(tmp_path) -> None:
    images = _blob(16, 0.3, 0.15, dtype=torch.float32).repeat(4, 1, 1, 1) + 0.05 * torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    plain, augmented = _model(), _model(augment_strength=1.0)
    augmented.load_state_dict(plain.state_dict())  # same weights: the deformation adds no parameter
    # encoding never deforms, in either mode ...
    for train in (False, True):
        plain.train(train), augmented.train(train)
        torch.testing.assert_close(augmented.encode(images).z, plain.encode(images).z, atol=0, rtol=0)
    # ... but the loss does: the backbone saw deformed canonical images
    loss_plain = plain.loss(images, generator=torch.Generator().manual_seed(3)).consis
    loss_aug = augmented.loss(images, generator=torch.Generator().manual_seed(3)).consis
    assert not torch.isclose(loss_plain, loss_aug)
    # the strength is part of the saved configuration
    augmented.save(tmp_path / "model.pt")
    assert IRLINR.load(tmp_path / "model.pt").config.augment_strength == 1.0


def test_the_model_refuses_augmentation_with_the_mlp_pose_head() -> None:
    """The deformation acts on the canonical image, which the paper's MLP head never forms; the
    weight-map head (the default learned pose) does form it, so it accepts the deformation."""
    with pytest.raises(ValueError, match="needs pose='analytic' or pose_head='weight_map'"):
        _model(pose="learned", pose_head="mlp", augment_strength=0.5)
    with pytest.raises(ValueError, match="augment_strength"):
        _model(augment_strength=-1.0)
    learned = _model(pose="learned", pose_head="mlp")
    with pytest.raises(ValueError, match="augment needs the backbone to see the canonical image"):
        learned.encoder(torch.rand(2, 1, 16, 16), NuisanceAugment(1.0))
    assert _model(pose="learned", pose_head="weight_map", augment_strength=0.5).encoder.sees_canonical_images
