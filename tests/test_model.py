"""The IRLINR facade: shapes, pose convention, rendering equivariance, save/load, compile, training."""

from __future__ import annotations

import math

import pytest
import torch

from invariant_inr import IRLINR, canonical_pose, center_of_mass, fit, inverse, se2
from invariant_inr.testing import assert_close, central_disk_mask


def tiny_model(size=16, channels=1, **overrides) -> IRLINR:
    options = dict(
        encoder="small",
        num_frequencies=8,
        fourier_sigma=0.5,
        inr_hidden=(16, 16),
        hyper_hidden=(16,),
        head_hidden=(32,),
        pose_head="mlp",  # the paper's learned pose, which these tests were written for
        canonical_rule="com",
    )
    options.update(overrides)
    return IRLINR(channels, size, 4, **options)


def blob_images(batch: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Smooth off-centre asymmetric blobs (two Gaussians of different weight), values in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    grid = se2.coordinate_grid(size, size, dtype=torch.float64)  # (H, W, 2)
    centers = (torch.rand(batch, 2, 2, generator=gen, dtype=torch.float64) - 0.5) * 0.8
    weights = torch.tensor([1.0, 0.5], dtype=torch.float64)
    dist = (grid[None, None] - centers[:, :, None, None]).pow(2).sum(-1)  # (B, 2, H, W)
    images = (weights[None, :, None, None] * torch.exp(-dist / 0.05)).sum(1, keepdim=True)
    return (images / images.amax(dim=(-2, -1), keepdim=True)).float()


@pytest.mark.parametrize("encoder", ["small", "resnet18"])
@pytest.mark.parametrize("pose", ["learned", "analytic"])
@pytest.mark.parametrize("rule", ["com", "moments", "harmonic"])
def test_public_shapes(encoder, pose, rule):
    model = tiny_model(encoder=encoder, pose=pose, canonical_rule=rule)
    images = blob_images(3)
    enc = model.encode(images)
    assert enc.z.shape == (3, 4) and enc.theta.shape == (3,) and enc.tau.shape == (3, 2)
    assert float(enc.theta.detach().min()) >= 0 and float(enc.theta.detach().max()) < 2 * math.pi
    assert model.reconstruct(images).shape == (3, 1, 16, 16)
    assert model.canonical(images).shape == (3, 1, 16, 16)
    assert model.render(enc.z, size=(20, 24)).shape == (3, 1, 20, 24)
    parts = model.loss(images)
    assert parts.total.ndim == 0 and parts.total.requires_grad
    parts.total.backward()
    assert all(p.grad is not None for p in model.hyper.parameters())


def test_learned_com_pose_satisfies_the_paper_convention():
    """m = |tau| (cos theta, -sin theta) with m = -tau, for whatever the head predicts."""
    model = tiny_model(pose="learned", canonical_rule="com")
    enc = model.encode(blob_images(8))
    implied = enc.tau.norm(dim=1, keepdim=True) * torch.stack([torch.cos(enc.theta), -torch.sin(enc.theta)], 1)
    assert_close(implied, -enc.tau, dtype=torch.float32)


def test_analytic_pose_is_the_rule_and_canonicalises():
    for rule in ("com", "moments"):
        model = tiny_model(pose="analytic", canonical_rule=rule)
        images = blob_images(5)
        enc = model.encode(images)
        theta, tau = canonical_pose(images, rule)
        assert_close(enc.theta, theta)
        assert_close(enc.tau, tau)
        canonical = se2.transform_images(images, enc.theta, enc.tau)
        assert float(center_of_mass(canonical).abs().max()) < 0.02


def test_render_at_quarter_turns_and_pixel_shifts_is_exact():
    """render(z, theta, tau) = S^{-1}_{theta,tau}[render(z)]: exact on the grid for k*pi/2 and whole pixels."""
    model = tiny_model(size=12).double()
    z = torch.randn(4, 4, dtype=torch.float64)
    canonical = model.render(z)
    step = se2.grid_spacing(12, 12)
    theta = torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64) * math.pi
    tau = torch.tensor([[step, 0.0], [0.0, -2 * step], [0.0, 0.0], [3 * step, step]], dtype=torch.float64)
    posed = model.render(z, theta=theta, tau=tau)
    expected = se2.transform_images(canonical, *inverse(theta, tau), mode="nearest")
    # compare where the moved grid stays inside the frame (elsewhere the warp pads with zeros)
    inside = se2.transform_images(torch.ones_like(canonical), *inverse(theta, tau), mode="nearest") > 0.5
    assert_close(posed[inside], expected[inside])


def test_render_at_any_pose_matches_the_warped_canonical_on_a_disk():
    torch.manual_seed(0)
    model = tiny_model(size=64, fourier_sigma=0.3).double()
    z = torch.randn(3, 4, dtype=torch.float64)
    theta, tau = se2.random_pose(3, 0.05, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():  # values only
        posed = model.render(z, theta=theta, tau=tau)
        expected = se2.transform_images(model.render(z), *inverse(theta, tau))
    mask = central_disk_mask(64, 64, radius=0.6)
    error = (posed - expected)[..., mask].abs().max()
    scale = posed[..., mask].abs().max()
    assert float(error) < 0.02 * float(scale)  # bilinear interpolation of a smooth field, 64 px


def test_save_load_round_trip(tmp_path):
    model = tiny_model(pose="learned", canonical_rule="moments").eval()
    images = blob_images(4)
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = IRLINR.load(path).eval()
    assert loaded.config == model.config
    with torch.no_grad():
        for a, b in zip(model.encode(images), loaded.encode(images)):
            assert torch.equal(a, b)
        assert torch.equal(model.canonical(images), loaded.canonical(images))
    raw = torch.load(path, weights_only=True)
    assert "fourier.frequencies" in raw["state_dict"]


def test_custom_backbone_needs_features_and_round_trips(tmp_path):
    backbone = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 10))
    with pytest.raises(ValueError, match="encoder_features"):
        IRLINR(1, 16, 4, encoder=backbone)
    model = tiny_model(encoder=backbone, encoder_features=10)
    model.save(tmp_path / "c.pt")
    with pytest.raises(ValueError, match="backbone"):
        IRLINR.load(tmp_path / "c.pt")
    fresh = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 10))
    loaded = IRLINR.load(tmp_path / "c.pt", backbone=fresh).eval()
    images = blob_images(2)
    assert torch.equal(model.eval().encode(images).z, loaded.encode(images).z)


def test_rgb_and_non_square_images():
    model = tiny_model(size=(12, 20), channels=3)
    images = torch.rand(2, 3, 12, 20)
    assert model.reconstruct(images).shape == (2, 3, 12, 20)
    assert torch.isfinite(model.loss(images).total)


def test_pixel_fraction_and_chunking_run():
    images = blob_images(3)
    model = tiny_model(pixel_fraction=0.25, chunk_size=50)
    parts = model.loss(images, generator=torch.Generator().manual_seed(0))
    parts.total.backward()
    assert torch.isfinite(parts.total)


def test_compiled_loss_runs_and_matches_eager():
    model = tiny_model(pose="analytic", canonical_rule="moments")
    images = blob_images(2)
    compiled = torch.compile(model.loss)
    eager = model.loss(images, generator=torch.Generator().manual_seed(0))
    fast = compiled(images, generator=torch.Generator().manual_seed(0))
    assert_close(fast.total, eager.total, dtype=torch.float32)


def test_short_fit_lowers_every_loss_term():
    images = blob_images(64, seed=3)
    model = tiny_model(pose="learned", canonical_rule="com", translation_std=0.05)
    history = fit(model, images, epochs=12, batch_size=16, lr=2e-3, weight_decay=0.0, progress=False, seed=0)
    for name in ("total", "recon", "consis", "symm"):
        first, last = history[name][0], history[name][-1]
        assert last < first, (name, history[name])


def test_defaults_learn_the_pose_on_a_weight_map_with_the_harmonic_rule():
    """The defaults changed from the paper's MLP head and centre-of-mass rule (which did not learn a
    pose in minutes on a CPU, benchmarks/defaults_check.py); preset("paper") keeps the paper's."""
    from invariant_inr.presets import preset

    model = IRLINR(1, 16, 4, encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(16,))
    assert (model.config.pose, model.config.pose_head, model.config.canonical_rule) == ("learned", "weight_map", "harmonic")
    images = blob_images(6, seed=1)
    expected = canonical_pose(images, "harmonic")  # untrained: the pose is the rule's
    enc = model.eval().encode(images)
    torch.testing.assert_close(enc.theta, expected[0])
    torch.testing.assert_close(enc.tau, expected[1])
    paper = preset("paper")
    assert (paper["pose"], paper["pose_head"], paper["canonical_rule"]) == ("learned", "mlp", "com")
