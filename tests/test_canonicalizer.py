"""The learned weight-map pose (:mod:`invariant_inr.canonicalizer`) and ``pose_head="weight_map"`` (issue 11).

Exact identities (quarter turns, whole-pixel shifts) hold for *any* weights of the map network, so
they are tested with random, non-zero weights, tight in float64 (:func:`invariant_inr.testing.tolerances`).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from invariant_inr import IRLINR, IRLINRConfig, testing
from invariant_inr.canonicalizer import QuarterTurnConv2d, WeightMapPose
from invariant_inr.center import CANONICAL_RULES, canonical_pose
from invariant_inr.encoders import Encoder, SmallCNN
from invariant_inr.se2 import grid_spacing, transform_images

F64 = torch.float64
seeds = st.integers(min_value=0, max_value=2**31 - 1)
rules = st.sampled_from(CANONICAL_RULES)


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _l_images(seed: int, batch: int, size: int, margin: int) -> torch.Tensor:
    """An L (a well-defined axis and skew for "moments") on weak noise, with a zero border ``margin`` wide."""
    inner = size - 2 * margin
    content = 0.2 * _rand(batch, 1, inner, inner, seed=seed)
    content[:, :, inner // 4 :, inner // 4] += 1.0  # the long arm...
    content[:, :, -1, inner // 4 : inner // 4 + max(2, inner // 3)] += 1.0  # ...and the foot
    images = torch.zeros(batch, 1, size, size, dtype=F64)
    images[..., margin : size - margin, margin : size - margin] = content
    return images


def _perturbed(head: WeightMapPose, seed: int, scale: float = 0.05) -> WeightMapPose:
    """The head with random weights everywhere (the last layer no longer zero): a trained-like map."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.copy_(scale * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return head


@pytest.mark.parametrize("rule", CANONICAL_RULES)
@pytest.mark.parametrize("denoise", ["none", "auto"])
def test_untrained_head_is_exactly_the_rule(device, rule, denoise):
    images = (_l_images(0, 3, 24, 2) + 0.1 * _rand(3, 1, 24, 24, seed=1)).to(device)
    head = WeightMapPose(1, rule=rule, denoise=denoise).to(device=device, dtype=F64)
    theta, tau = head(images)
    expected = canonical_pose(images, rule, denoise=denoise)
    testing.assert_close(theta, expected[0])
    testing.assert_close(tau, expected[1])


@given(seed=seeds, size=st.integers(18, 24), rule=rules, k=st.integers(1, 3), dx=st.integers(-2, 2), dy=st.integers(-2, 2))
def test_any_weights_canonicalise_quarter_turns_and_pixel_shifts_alike(device, seed, size, rule, k, dx, dy):
    """For any weights: a copy moved by a quarter turn and a whole-pixel shift has the same canonical
    image (the rule is equivariant in its weights, the symmetrised convolutions commute with quarter
    turns and shifts, and the zero border, wider than the map's reach of 4 pixels plus the shift,
    keeps the map inside the frame). The paper's "com"
    rule takes its angle from the position, so it is invariant to quarter turns only."""
    if rule == "com":
        dx = dy = 0
    head = _perturbed(WeightMapPose(1, rule=rule), seed).to(device=device, dtype=F64)
    images = _l_images(seed, 2, size, margin=7).to(device)
    step = grid_spacing(size, size)
    theta = torch.full((2,), k * math.pi / 2, dtype=F64, device=device)
    tau = torch.tensor([[dx * step, dy * step]] * 2, dtype=F64, device=device)
    moved = transform_images(images, theta, tau)  # exact: quarter turn, whole pixels
    canonical = transform_images(images, *head(images))
    testing.assert_close(transform_images(moved, *head(moved)), canonical, msg=f"rule={rule}, k={k}, shift=({dx}, {dy})")


def test_quarter_turn_conv_commutes_with_rot90(device):
    conv = QuarterTurnConv2d(2, 3, 5).to(device=device, dtype=F64)
    x = _rand(2, 2, 9, 9, seed=3).to(device)
    for k in (1, 2, 3):
        testing.assert_close(conv(torch.rot90(x, k, (2, 3))), torch.rot90(conv(x), k, (2, 3)))
    assert torch.equal(conv.symmetric_weight(), torch.rot90(conv.symmetric_weight(), 1, (2, 3)))


def test_all_noise_and_blank_images_give_a_finite_pose():
    images = torch.cat([torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(0)), torch.zeros(1, 1, 16, 16)])
    for denoise in ("none", "auto"):
        head = _perturbed(WeightMapPose(1, rule="moments", denoise=denoise), 4)
        theta, tau = head(images)
        assert torch.isfinite(theta).all() and torch.isfinite(tau).all(), denoise


def _tiny(**overrides) -> IRLINR:
    options = dict(
        encoder="small", encoder_width=4, num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(16,),
        pose="learned", pose_head="weight_map", canonical_rule="moments",
    )
    options.update(overrides)
    return IRLINR(1, 16, 4, **options)


def test_every_loss_reaches_the_weight_map():
    """Zero last layer at the start: the map's first gradient comes through the pose, from the
    reconstruction and consistency losses (the symmetry-breaking loss is 0 there)."""
    model = _tiny(augment_strength=1.0)
    parts = model.loss(torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)), generator=torch.Generator().manual_seed(1))
    assert float(parts.symm.detach()) < 1e-10
    parts.total.backward()
    last = model.encoder.pose_map.correction[-1]
    assert float(last.weight.grad.abs().sum()) > 0
    assert model.encoder.pose_outputs == 0  # the head emits z only


def test_weight_map_model_saves_loads_and_old_configs_default_to_mlp(tmp_path):
    model = _tiny()
    _perturbed(model.encoder.pose_map, 5)
    model.eval()
    images = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    model.save(tmp_path / "m.pt")
    loaded = IRLINR.load(tmp_path / "m.pt").eval()
    for a, b in zip(model.encode(images), loaded.encode(images)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    data = model.config.to_dict()
    assert data["pose_head"] == "weight_map"
    del data["pose_head"]  # a configuration saved before the option existed
    assert IRLINRConfig.from_dict(data).pose_head == "mlp"
    assert "pose_head='weight_map'" in repr(model)


def test_pose_head_bad_input():
    with pytest.raises(ValueError, match="pose_head"):
        _tiny(pose_head="cnn")
    with pytest.raises(ValueError, match="pose_head='weight_map'"):
        _tiny(pose_head="mlp", augment_strength=1.0)
    with pytest.raises(ValueError, match="odd"):
        QuarterTurnConv2d(1, 1, 4)
    with pytest.raises(ValueError, match="3 channel"):
        WeightMapPose(3)(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="width"):
        WeightMapPose(1, width=0)


def test_analytic_pose_ignores_pose_head():
    model = _tiny(pose="analytic")
    assert model.encoder.pose_map is None and model.encoder.pose_outputs == 0
    encoder = Encoder(SmallCNN(1, width=4, pool=2), 64, 3, head_hidden=(8,), pose="learned", rule="com", pose_head="weight_map")
    assert encoder.sees_canonical_images and encoder.pose_map.rule == "com"
