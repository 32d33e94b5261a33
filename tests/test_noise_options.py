"""``canonical_denoise`` of :class:`~invariant_inr.IRLINR` and ``denoise`` of the symmetry-breaking loss,
and a smoke run of ``benchmarks/noise_pose.py`` (issue 11)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from invariant_inr import IRLINR, IRLINRConfig, canonical_pose, center_of_mass, foreground_weights, make_sprites
from invariant_inr.foreground import remove_background
from invariant_inr.losses import symmetry_breaking_loss
from invariant_inr.se2 import transform_images

ROOT = Path(__file__).resolve().parents[1]


def _tiny(**overrides) -> IRLINR:
    options = dict(encoder="small", num_frequencies=8, fourier_sigma=0.5, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(16,))
    options.update(overrides)
    return IRLINR(1, 32, 4, **options)


def _noisy_sprites(count: int = 6, sigma: float = 0.2) -> torch.Tensor:
    images = make_sprites(count, size=32, seed=0).images
    return images + sigma * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("rule", ["com", "moments", "harmonic"])
def test_analytic_pose_uses_the_denoised_rule(rule):
    images = _noisy_sprites()
    model = _tiny(pose="analytic", canonical_rule=rule, canonical_denoise="auto").eval()
    enc = model.encode(images)
    expected = canonical_pose(images, rule, denoise="auto")
    torch.testing.assert_close(enc.theta, expected[0])
    torch.testing.assert_close(enc.tau, expected[1])
    plain = _tiny(pose="analytic", canonical_rule=rule).eval().encode(images)
    assert not torch.allclose(plain.tau, enc.tau, atol=1e-3)  # noise: the two weightings differ
    assert "denoise='auto'" in repr(model.encoder)


def test_canonical_denoise_is_saved_and_old_configs_load():
    model = _tiny(pose="analytic", canonical_denoise="auto")
    data = model.config.to_dict()
    assert data["canonical_denoise"] == "auto"
    assert IRLINRConfig.from_dict(data) == model.config
    del data["canonical_denoise"]  # a configuration saved before the option existed
    assert IRLINRConfig.from_dict(data).canonical_denoise == "none"
    assert _tiny().config.canonical_denoise == "none"  # the default: the paper's rule
    with pytest.raises(ValueError, match="canonical_denoise"):
        _tiny(canonical_denoise="median")


@pytest.mark.parametrize("pose, pose_head", [("analytic", "mlp"), ("learned", "weight_map"), ("learned", "mlp")])
@pytest.mark.parametrize("canonical_denoise", ["none", "auto"])
def test_encoder_denoise_shows_the_backbone_the_cleaned_image(pose, pose_head, canonical_denoise):
    """``encoder_denoise="auto"``: the backbone sees ``remove_background`` of the image (canonicalised
    where it sees the canonical image); a pose from the rule is the one without the option."""
    images = _noisy_sprites()
    options = dict(pose=pose, pose_head=pose_head, canonical_rule="moments", canonical_denoise=canonical_denoise)
    plain = _tiny(**options).eval()
    model = _tiny(**options, encoder_denoise="auto").eval()
    model.load_state_dict(plain.state_dict())  # the same weights: only what the backbone sees differs
    seen = []
    hook = model.encoder.backbone.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    enc, ref = model.encode(images), plain.encode(images)
    hook.remove()
    if model.encoder.sees_canonical_images:  # the rule's pose (not the MLP head's, which reads the backbone)
        torch.testing.assert_close(enc.theta, ref.theta, rtol=0, atol=0)
        torch.testing.assert_close(enc.tau, ref.tau, rtol=0, atol=0)
    cleaned = remove_background(images)
    expected = cleaned if model.encoder.pose_map is None and pose == "learned" else transform_images(cleaned, enc.theta, enc.tau)
    torch.testing.assert_close(seen[0], expected)
    assert not torch.allclose(enc.z, ref.z, atol=1e-4)  # the noise outside the object no longer reaches z
    assert "input_denoise='auto'" in repr(model.encoder)


def test_encoder_denoise_is_the_identity_without_noise_and_is_saved():
    images = make_sprites(6, size=32, seed=0).images  # zero background: nothing to remove
    plain = _tiny(pose="analytic", canonical_rule="moments").eval()
    model = _tiny(pose="analytic", canonical_rule="moments", canonical_denoise="auto", encoder_denoise="auto").eval()
    model.load_state_dict(plain.state_dict())
    torch.testing.assert_close(model.encode(images).z, plain.encode(images).z, rtol=0, atol=0)
    data = model.config.to_dict()
    assert data["encoder_denoise"] == "auto" and IRLINRConfig.from_dict(data) == model.config
    del data["encoder_denoise"]  # saved before the option existed: the image itself, as it was trained
    assert IRLINRConfig.from_dict(data).encoder_denoise == "none"
    assert _tiny().config.encoder_denoise == "none"
    with pytest.raises(ValueError, match="encoder_denoise"):
        _tiny(encoder_denoise="blur")
    loss = model.loss(_noisy_sprites(), generator=torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(loss.total.detach()))


def test_remove_background_channels_sum_to_the_foreground_weights():
    rgb = make_sprites(4, size=32, seed=3).images.repeat(1, 3, 1, 1) * torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1)
    noisy = rgb + 0.1 * torch.randn(rgb.shape, generator=torch.Generator().manual_seed(2))
    cleaned = remove_background(noisy)
    assert cleaned.shape == noisy.shape and bool((cleaned >= 0).all())
    torch.testing.assert_close(cleaned.sum(dim=1, keepdim=True), foreground_weights(noisy))
    outside = foreground_weights(noisy) == 0
    assert bool((cleaned * outside).eq(0).all()) and float(outside.double().mean()) > 0.5  # the background is zeroed
    # noiseless: the image (one sprite has a faint rendering haze of 5e-6 over its frame, taken as background)
    torch.testing.assert_close(remove_background(rgb), rgb.clamp_min(0), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="low_threshold"):
        remove_background(noisy, threshold=1.0, low_threshold=2.0)


def test_learned_pose_loss_targets_the_denoised_rule():
    images = _noisy_sprites()
    for rule in ("moments", "harmonic"):
        theta, tau = canonical_pose(images, rule, denoise="auto")
        assert float(symmetry_breaking_loss(theta, tau, images, rule, denoise="auto")) < 1e-10
        assert float(symmetry_breaking_loss(theta, tau, images, rule)) > 1e-3
    center = center_of_mass(foreground_weights(images))  # "com": the implied centre is the foreground's
    theta, tau = canonical_pose(images, "com", denoise="auto")
    torch.testing.assert_close(tau, -center)
    assert float(symmetry_breaking_loss(theta, tau, images, "com", denoise="auto")) < 1e-10
    with pytest.raises(ValueError, match="denoise"):
        symmetry_breaking_loss(theta, tau, images, "com", denoise="yes")  # type: ignore[arg-type]
    model = _tiny(pose="learned", pose_head="mlp", canonical_rule="moments", canonical_denoise="auto")
    parts = model.loss(images, generator=torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(parts.total.detach())) and float(parts.symm.detach()) > 0


def test_noise_pose_benchmark_runs_on_sprites(tmp_path):
    spec = importlib.util.spec_from_file_location("invariant_inr_noise_pose_benchmark", ROOT / "benchmarks" / "noise_pose.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    untrained = IRLINR(1, 32, 4, encoder="small", encoder_width=4, num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,),
                       head_hidden=(16,), pose="learned", pose_head="weight_map", canonical_rule="harmonic")
    untrained.save(tmp_path / "map.pt")
    try:
        module.main(["--data", "sprites", "--num-samples", "24", "--sigmas", "0", "0.3", "--out", str(tmp_path),
                     "--methods", "harmonic,harmonic+auto,moments+sketch", "--model", f"map={tmp_path / 'map.pt'}"])
    finally:
        torch.set_num_threads(threads)
    record = json.loads((tmp_path / "sprites.json").read_text())
    assert set(record["methods"]) == {"harmonic", "harmonic+auto", "moments+sketch", "model:map"}
    for sigma in ("0", "0.3"):  # an untrained weight-map head is the rule itself
        assert record["methods"]["model:map"][sigma]["rotation_median_error_deg"] == pytest.approx(
            record["methods"]["harmonic"][sigma]["rotation_median_error_deg"], abs=1e-3)
    for name, per_sigma in record["methods"].items():
        assert set(per_sigma) == {"0", "0.3"} and all(figures["finite"] for figures in per_sigma.values())
        for figures in per_sigma.values():
            assert 0.0 <= figures["rotation_median_error_mod_symmetry_deg"] <= figures["rotation_median_error_deg"] + 1e-9
    noiseless = record["methods"]["harmonic"]["0"]["rotation_median_error_mod_symmetry_deg"]
    assert noiseless == record["methods"]["harmonic+auto"]["0"]["rotation_median_error_mod_symmetry_deg"]  # identical without noise
    assert noiseless < 5.0
    table = (tmp_path / "sprites.md").read_text()
    assert "| harmonic+auto |" in table and "python benchmarks/noise_pose.py --data sprites" in table
    # the reconstruction route: the model's rule on its own reconstruction, batched, finite
    images = make_sprites(5, size=32, seed=2).images
    theta, tau = module.reconstruction_pose(tmp_path / "map.pt", "auto")(images)
    assert theta.shape == (5,) and tau.shape == (5, 2) and bool(torch.isfinite(theta).all() and torch.isfinite(tau).all())
    with pytest.raises(SystemExit):
        module.main(["--methods", "nonsense", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        module.main(["--model", "nothing-here.pt", "--out", str(tmp_path)])


def test_cli_noise_option_draws_the_builders_noise():
    from invariant_inr.cli import build_parser
    from invariant_inr.cli._data import load_data

    def loaded(*extra: str):
        args = build_parser().parse_args(["embed", "m.pt", "sprites", "--num-samples", "5", "--out", "z.pt", *extra])
        return load_data(args, image_size=(16, 16))

    clean, noisy = loaded(), loaded("--noise", "0.2")
    expected = make_sprites(5, size=16, seed=0, noise=0.2).images
    torch.testing.assert_close(noisy.tensor(), expected, rtol=0, atol=0)  # the builder's own draw
    assert float((noisy.tensor() - clean.tensor()).std()) == pytest.approx(0.2, rel=0.15)
    assert "noise sigma 0.2" in noisy.description
    torch.testing.assert_close(loaded("--noise", "0").tensor(), clean.tensor(), rtol=0, atol=0)
