"""Tests of :mod:`invariant_inr.foreground`: robust background, noise and foreground weights.

Exact identities (noiseless images are left as they are; quarter turns) in float64 with
:func:`invariant_inr.testing.tolerances`; statistical ones (noise estimates, a noisy object's
weights) on seeded draws, with margins stated next to each bound.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from invariant_inr import testing
from invariant_inr.foreground import (
    DEFAULT_LOW_THRESHOLD,
    estimate_background,
    foreground_weights,
    universal_threshold,
)

F64 = torch.float64
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _framed(seed: int, batch: int, channels: int, size: int, margin: int, device, dtype) -> torch.Tensor:
    """Random non-negative content in the middle, zeros on a border ``margin`` wide (most of the frame)."""
    images = torch.zeros(batch, channels, size, size, dtype=F64)
    inner = size - 2 * margin
    images[..., margin : margin + inner, margin : margin + inner] = torch.rand(batch, channels, inner, inner, generator=_generator(seed), dtype=F64)
    return images.to(device=device, dtype=dtype)


def _bar(size: int = 48) -> torch.Tensor:
    """A bright L-shaped object, 1 on 0, ``(1, 1, size, size)`` float64."""
    image = torch.zeros(1, 1, size, size, dtype=F64)
    image[..., 14:19, 10:36] = 1.0
    image[..., 19:32, 10:15] = 1.0
    return image


# ----------------------------------------------------------------------------- noiseless images
@given(seed=seeds, batch=st.integers(1, 3), channels=st.integers(1, 3), size=st.integers(24, 40))
def test_noiseless_images_on_a_zero_background_are_their_own_weights(device, dtype, seed, batch, channels, size):
    """Zero noise estimate, zero level: every object pixel is foreground and w is the L1 mass, exactly.
    (The blurred object, content plus 3 pixels each side, touches less than half of the pairs of
    neighbours inside a 3-pixel edge, as required.)"""
    images = _framed(seed, batch, channels, size, (size - size // 8) // 2, device, dtype)
    level, noise_std = estimate_background(images)
    assert torch.equal(level, torch.zeros_like(level)) and torch.equal(noise_std, torch.zeros_like(noise_std))
    assert torch.equal(foreground_weights(images), images.abs().sum(dim=1, keepdim=True))


@pytest.mark.parametrize("size", [(1, 1, 8, 8), (3, 2, 6, 10), (2, 1, 2, 2)])
def test_zero_and_constant_images_have_no_foreground(device, dtype, size):
    for value in (0.0, 0.7):
        images = torch.full(size, value, dtype=dtype, device=device)
        weights = foreground_weights(images)
        assert weights.shape == (size[0], 1, *size[2:])
        assert torch.equal(weights, torch.zeros_like(weights))


# ----------------------------------------------------------------------------- noisy images
def test_estimate_background_recovers_level_and_noise(device):
    """4 frames of 96 x 96 Gaussian noise: level and std within 5 % of the std (the estimates' spread is
    about 1.3 % with the blur of 2 pixels, less without)."""
    generator = _generator(0)
    level = torch.tensor([0.0, 0.3, -1.0, 2.0], dtype=F64)
    std = torch.tensor([0.05, 0.2, 0.4, 1.0], dtype=F64)
    images = (level[:, None, None, None] + std[:, None, None, None] * torch.randn(4, 1, 96, 96, generator=generator, dtype=F64)).to(device)
    for blur in (0.0, 1.0, 2.0):
        found_level, found_std = estimate_background(images, blur_pixels=blur)
        assert found_level.shape == (4, 1) and found_std.shape == (4, 1)
        assert ((found_level[:, 0].cpu() - level).abs() <= 0.05 * std).all(), (blur, found_level)
        assert ((found_std[:, 0].cpu() / std - 1).abs() <= 0.05).all(), (blur, found_std)


def test_estimate_background_with_a_large_object(device):
    """The noise estimate is raised a little by an object over a quarter of the frame (its blurred edges,
    about 10 %; bound 20 %); the median level is pulled up, by about Phi^-1(1 / (2 (1 - f))) noise stds
    of the blurred image for a fraction f of foreground (the documented bias): f = 0.3 of the measured
    interior gives 0.57 * 0.028 = 0.016, and the blurred edge adds to it (measured 0.020-0.028)."""
    images = torch.zeros(4, 1, 64, 64, dtype=F64)
    images[..., 8:40, 8:40] = 1.0  # 1,024 of 4,096 pixels
    images = (images + 0.1 * torch.randn(images.shape, generator=_generator(1), dtype=F64)).to(device)
    level, noise_std = estimate_background(images)
    assert ((noise_std / 0.1 - 1).abs() <= 0.2).all(), noise_std
    assert ((level > 0.005) & (level < 0.04)).all(), level


def test_pure_noise_leaves_almost_no_foreground_and_a_finite_pose(device, dtype):
    """Universal threshold: about one false detection in P sqrt(pi ln P) pixels, so 8 frames of 64 x 64
    noise keep well under 1 % of their pixels (measured: none or a few blobs)."""
    from invariant_inr.center import CANONICAL_RULES, canonical_pose

    images = (0.5 + 0.2 * torch.randn(8, 1, 64, 64, generator=_generator(2), dtype=F64)).to(device=device, dtype=dtype)
    weights = foreground_weights(images)
    assert bool(torch.isfinite(weights).all()) and bool((weights >= 0).all())
    assert (weights > 0).double().mean().item() < 0.01
    for rule in CANONICAL_RULES:
        theta, tau = canonical_pose(images, rule, denoise="auto")
        assert bool(torch.isfinite(theta).all()) and bool(torch.isfinite(tau).all())


def test_noisy_object_keeps_its_mass_and_drops_the_background(device):
    """An L of 1 on 0 with noise of std 0.3: over 90 % of the weight lies on the object, and the object's
    weight is within 10 % of its true mass (the noise is zero-mean on it; relu clips only its tail below -1)."""
    clean = _bar()
    noisy = (clean + 0.3 * torch.randn(8, 1, 48, 48, generator=_generator(3), dtype=F64)).to(device)
    weights = foreground_weights(noisy).cpu()
    on_object = (weights * clean).flatten(1).sum(1)
    assert (on_object / weights.flatten(1).sum(1) > 0.9).all()
    assert ((on_object / clean.sum() - 1).abs() < 0.1).all()
    raw_share = (noisy.cpu().abs() * clean).flatten(1).sum(1) / noisy.cpu().abs().flatten(1).sum(1)
    assert (raw_share < 0.5).all()  # why it is needed: the raw intensities are mostly noise


def test_clipped_noise_is_handled(device):
    """Noise clipped to [0, 1] (as in images stored as bytes) has a positive mean and a skewed law; the
    estimates come from the blurred image, so the background still stays out (over 80 % on the object)."""
    clean = _bar()
    noisy = (clean + 0.2 * torch.randn(8, 1, 48, 48, generator=_generator(4), dtype=F64)).clamp(0, 1).to(device)
    weights = foreground_weights(noisy).cpu()
    assert ((weights * clean).flatten(1).sum(1) / weights.flatten(1).sum(1) > 0.8).all()


def test_hysteresis_keeps_faint_parts_connected_to_the_object(device):
    """A faint arm (3.7 noise stds of the blurred image, between the two thresholds) attached to a bright
    body is mostly kept with hysteresis and mostly lost without it (low threshold = the universal one);
    a fainter detached blob (2.9 stds) is dropped."""
    image = torch.zeros(1, 1, 48, 48, dtype=F64)
    image[..., 10:20, 10:20] = 1.0  # bright body
    image[..., 14:17, 20:40] = 0.13  # faint arm, touching the body
    image[..., 34:38, 6:10] = 0.08  # fainter blob, detached
    noisy = (image + 0.1 * torch.randn(8, 1, 48, 48, generator=_generator(5), dtype=F64)).to(device)
    arm = torch.zeros(8, 1, 48, 48, dtype=torch.bool)
    arm[..., 14:17, 22:38] = True
    blob = torch.zeros_like(arm)
    blob[..., 34:38, 6:10] = True
    with_hysteresis = foreground_weights(noisy).cpu() > 0
    without = foreground_weights(noisy, low_threshold=universal_threshold(48 * 48)).cpu() > 0
    kept, kept_without = with_hysteresis[arm].reshape(8, -1).double().mean(1), without[arm].reshape(8, -1).double().mean(1)
    assert kept.mean() > 0.6 and kept_without.mean() < 0.35 and (kept >= kept_without).all(), (kept, kept_without)
    assert not with_hysteresis[blob].any()


def test_channels_and_images_are_independent(device):
    """Each image and channel gets its own level and noise: a batch gives what its images give alone,
    and the foreground is what is brighter than the background in at least one channel."""
    clean = _bar()
    first = clean + 0.1 * torch.randn(1, 1, 48, 48, generator=_generator(6), dtype=F64)
    second = torch.cat([3.0 + 0.5 * torch.randn(1, 1, 48, 48, generator=_generator(7), dtype=F64), first], dim=1)  # noise | object
    batch = torch.cat([torch.cat([first, first], dim=1), second], dim=0).to(device)  # (2, 2, 48, 48)
    weights = foreground_weights(batch)
    testing.assert_close(weights[1:], foreground_weights(batch[1:]))
    testing.assert_close(weights[:1], foreground_weights(batch[:1]))
    alone = foreground_weights(first.to(device)) > 0
    assert ((weights[1:] > 0) != alone).double().mean().item() < 0.01  # the noise channel adds (almost) no pixel


@given(seed=seeds, k=st.integers(1, 3))
def test_weights_commute_with_quarter_turns_and_flips(device, seed, k):
    """Median, neighbour differences, the symmetric blur and 8-connectivity are all unchanged by the
    symmetries of the square grid, so the weights of a turned noisy image are the turned weights."""
    clean = torch.rot90(_bar(40), seed % 4, dims=(-2, -1))
    noisy = (clean + 0.3 * torch.randn(2, 1, 40, 40, generator=_generator(seed), dtype=F64)).to(device)
    weights = foreground_weights(noisy)
    testing.assert_close(foreground_weights(torch.rot90(noisy, k, dims=(-2, -1))), torch.rot90(weights, k, dims=(-2, -1)))
    testing.assert_close(foreground_weights(torch.flip(noisy, dims=(-1,))), torch.flip(weights, dims=(-1,)))


def test_dark_objects_by_negating(device):
    """Dark-on-bright images (the documented recipe: pass ``-images``) get the same weights as the bright twin."""
    clean = _bar()
    noise = 0.2 * torch.randn(2, 1, 48, 48, generator=_generator(8), dtype=F64)
    bright = (clean + noise).to(device)
    dark = (1.0 - clean - noise).to(device)  # 1 - bright
    testing.assert_close(foreground_weights(-dark), foreground_weights(bright))


def test_gradients_flow_and_are_finite(device):
    for images in (torch.zeros(2, 1, 12, 12, dtype=F64), _bar(16) + 0.2 * torch.randn(2, 1, 16, 16, generator=_generator(9), dtype=F64)):
        images = images.to(device).requires_grad_()
        foreground_weights(images).sum().backward()
        assert images.grad is not None and bool(torch.isfinite(images.grad).all())
    noisy = (_bar(16) + 0.2 * torch.randn(1, 1, 16, 16, generator=_generator(10), dtype=F64)).to(device).requires_grad_()
    assert torch.autograd.gradcheck(foreground_weights, (noisy,))  # the mask is locally constant


def test_universal_threshold():
    assert universal_threshold(2500) == pytest.approx(math.sqrt(2 * math.log(2500)))
    assert universal_threshold(1) == pytest.approx(math.sqrt(2 * math.log(2)))  # never 0
    assert universal_threshold(4) < DEFAULT_LOW_THRESHOLD  # small frames: the low threshold is lowered to it
    weights = foreground_weights(torch.rand(2, 1, 3, 4, generator=_generator(11)))
    assert weights.shape == (2, 1, 3, 4) and bool(torch.isfinite(weights).all())
    with pytest.raises(ValueError, match="num_pixels"):
        universal_threshold(0)


def test_foreground_weights_reject_bad_input():
    images = torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match="low_threshold"):
        foreground_weights(images, threshold=2.0, low_threshold=3.0)
    with pytest.raises(ValueError, match="blur_pixels"):
        foreground_weights(images, blur_pixels=-1.0)
    with pytest.raises(TypeError, match="threshold"):
        foreground_weights(images, threshold="high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="images"):
        foreground_weights(torch.rand(8, 8))
    with pytest.raises(TypeError, match="images"):
        estimate_background(torch.ones(1, 1, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="images"):
        foreground_weights(torch.full((1, 1, 4, 4), float("nan")))
