"""The consistency and symmetry-breaking losses' forms, against slow references written from their formulas."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invariant_inr import IRLINR
from invariant_inr.center import canonical_pose
from invariant_inr.losses import consistency_loss, symmetry_breaking_loss
from invariant_inr.se2 import transform_images


def _infonce_reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """The symmetric InfoNCE of the docstring, one term at a time in Python."""
    batch = z1.shape[0]
    u = [z1[i] / z1[i].norm() for i in range(batch)]
    v = [z2[j] / z2[j].norm() for j in range(batch)]
    s = [[float(u[i] @ v[j]) / temperature for j in range(batch)] for i in range(batch)]
    total = 0.0
    for i in range(batch):
        row = math.log(sum(math.exp(s[i][j]) for j in range(batch)))
        column = math.log(sum(math.exp(s[j][i]) for j in range(batch)))
        total += (row - s[i][i]) + (column - s[i][i])
    return total / (2 * batch)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 7), dim=st.integers(1, 9), temperature=st.floats(0.05, 2.0), seed=st.integers(0, 2**16))
def test_infonce_matches_its_formula(batch, dim, temperature, seed):
    generator = torch.Generator().manual_seed(seed)
    z1 = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    z2 = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    got = float(consistency_loss(z1, z2, "infonce", temperature=temperature))
    assert math.isclose(got, _infonce_reference(z1, z2, temperature), rel_tol=1e-10, abs_tol=1e-12)


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(2, 6), seed=st.integers(0, 2**16), scale=st.floats(0.1, 10.0))
def test_infonce_ignores_code_length_and_batch_order(batch, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    z1 = torch.randn(batch, 5, generator=generator, dtype=torch.float64)
    z2 = torch.randn(batch, 5, generator=generator, dtype=torch.float64)
    order = torch.randperm(batch, generator=generator)
    base = consistency_loss(z1, z2, "infonce")
    torch.testing.assert_close(consistency_loss(scale * z1, z2 / scale, "infonce"), base, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(consistency_loss(z1[order], z2[order], "infonce"), base, rtol=1e-12, atol=1e-12)
    # swapping the copies leaves the symmetric loss unchanged
    torch.testing.assert_close(consistency_loss(z2, z1, "infonce"), base, rtol=1e-12, atol=1e-12)


def test_infonce_bounds_and_single_image():
    z = torch.eye(4, dtype=torch.float64)
    # orthogonal codes at a low temperature: each copy finds its own, loss near 0
    assert float(consistency_loss(z, z, "infonce", temperature=0.01)) < 1e-10
    # identical codes for every image: nothing to tell apart, loss log B
    same = torch.ones(4, 3, dtype=torch.float64)
    assert math.isclose(float(consistency_loss(same, same, "infonce")), math.log(4), rel_tol=1e-12)
    # one image: no negatives, loss 0 whatever the codes
    assert float(consistency_loss(torch.randn(1, 3), torch.randn(1, 3), "infonce")) == 0.0


def test_infonce_gradient_pulls_copies_together_and_pushes_images_apart():
    generator = torch.Generator().manual_seed(0)
    z1 = torch.randn(6, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(6, 4, generator=generator, dtype=torch.float64)

    def similarities(a):
        sims = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(z2, dim=1).T
        return sims.diagonal().mean(), (sims.sum() - sims.diagonal().sum()) / 30

    own_before, other_before = similarities(z1.detach())
    consistency_loss(z1, z2, "infonce").backward()
    with torch.no_grad():
        stepped = z1 - 0.5 * z1.grad
    own_after, other_after = similarities(stepped)
    assert own_after > own_before
    assert other_after < other_before


def test_cos_and_mse_identities():
    z = torch.randn(5, 3, dtype=torch.float64)
    assert float(consistency_loss(z, 3 * z, "cos")) < 1e-12
    assert math.isclose(float(consistency_loss(z, -z, "cos")), 2.0, rel_tol=1e-12)
    torch.testing.assert_close(consistency_loss(z, z + 1, "mse"), torch.tensor(1.0, dtype=torch.float64))


def test_model_with_infonce_trains_and_saves_its_temperature(tmp_path):
    model = IRLINR(1, 16, 8, encoder="small", pose="analytic", num_frequencies=16, inr_hidden=(32,),
                   hyper_hidden=(32,), head_hidden=(64,), consistency="infonce", consistency_temperature=0.3)
    images = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    parts = model.loss(images, generator=torch.Generator().manual_seed(2))
    parts.total.backward()
    # at most log B + 2 / t: every own similarity -1, every other +1
    assert 0.0 < float(parts.consis.detach()) <= math.log(6) + 2 / 0.3
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    model.save(tmp_path / "m.pt")
    loaded = IRLINR.load(tmp_path / "m.pt")
    assert loaded.config.consistency == "infonce" and loaded.config.consistency_temperature == 0.3


def test_presets_choose_the_consistency_form_with_its_deformation():
    """The contrastive form only where the preset also deforms the copies; the paper keeps its own."""
    from invariant_inr.presets import preset

    mnist_quick, quick, paper = preset("mnist-quick"), preset("quick"), preset("paper")
    assert (mnist_quick["consistency"], mnist_quick["consistency_temperature"]) == ("infonce", 0.5)
    assert mnist_quick["augment_strength"] > 0
    assert quick.get("consistency", "cos") == "cos" and paper["consistency"] == "cos"
    assert IRLINR(1, 16, 8, encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,),
                  head_hidden=(16,)).config.consistency == "cos"


def _posed_batch(seed: int = 0) -> torch.Tensor:
    images = torch.zeros(4, 1, 16, 16, dtype=torch.float64)
    images[:, :, 4:12, 6:9] = 1.0
    images[:, :, 4:6, 9:12] = 1.0  # an asymmetric shape: the rules give a definite pose
    theta = torch.rand(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 6.283
    return transform_images(images, theta, torch.zeros(4, 2, dtype=torch.float64))


@pytest.mark.parametrize("rule", ["moments", "harmonic"])
def test_symmetry_loss_on_the_raw_direction(rule):
    """With ``direction``, the angle term is |v - (cos t*, -sin t*)|^2: equal to the angle form for a unit v that gives
    theta, zero at the rule's pose, and (unlike the angle form) with a gradient a half turn off."""
    posed = _posed_batch()
    target_theta, target_tau = canonical_pose(posed, rule)
    target = torch.stack([torch.cos(target_theta), -torch.sin(target_theta)], dim=1)
    assert float(symmetry_breaking_loss(target_theta, target_tau, posed, rule, direction=target)) < 1e-20
    theta = target_theta + torch.tensor([0.3, -1.0, 2.0, 3.1], dtype=torch.float64)
    unit = torch.stack([torch.cos(theta), -torch.sin(theta)], dim=1)
    torch.testing.assert_close(
        symmetry_breaking_loss(theta, target_tau, posed, rule, direction=unit), symmetry_breaking_loss(theta, target_tau, posed, rule)
    )
    scaled = 0.5 * unit
    expected = (scaled - target).pow(2).sum(1).mean()
    torch.testing.assert_close(symmetry_breaking_loss(theta, target_tau, posed, rule, direction=scaled), expected)
    flipped_theta = (target_theta + torch.pi).requires_grad_(True)
    symmetry_breaking_loss(flipped_theta, target_tau, posed, rule).backward()
    assert float(flipped_theta.grad.abs().max()) < 1e-6  # the angle form is stuck at a half turn
    flipped = (-target).requires_grad_(True)
    symmetry_breaking_loss(flipped_theta.detach(), target_tau, posed, rule, direction=flipped).backward()
    assert float(flipped.grad.norm(dim=1).min()) > 0.1


def test_symmetry_loss_direction_bad_input():
    posed = _posed_batch()
    theta, tau = canonical_pose(posed, "moments")
    with pytest.raises(ValueError, match=r"direction must have shape \(B, 2\) = \(4, 2\), got \(4, 3\)"):
        symmetry_breaking_loss(theta, tau, posed, "moments", direction=torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="the 'com' rule has none"):
        symmetry_breaking_loss(theta, tau, posed, "com", direction=torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="direction"):
        symmetry_breaking_loss(theta, tau, posed, "moments", direction=torch.zeros(4, 2, dtype=torch.long))
