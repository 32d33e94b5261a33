"""The learned pose head of :class:`~invariant_inr.encoders.Encoder`: which outputs give the angle."""

from __future__ import annotations

import pytest
import torch

from invariant_inr.center import pose_from_center_of_mass, safe_atan2
from invariant_inr.encoders import Encoder, SmallCNN
from invariant_inr.se2 import wrap_angle


@pytest.mark.parametrize("rule", ["com", "moments", "harmonic"])
def test_learned_angle_comes_from_the_rules_own_outputs(rule):
    """"com": the angle of the predicted centre; "moments" and "harmonic": the angle of the predicted
    direction (the head has 4 pose outputs for both; "harmonic" used to take the centre's angle, so
    its symmetry-breaking loss pulled one angle towards two different targets)."""
    torch.manual_seed(0)
    encoder = Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, head_hidden=(8,), pose="learned", rule=rule).eval()
    images = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    out = encoder.head(encoder.backbone(images))  # (B, 3 + pose outputs)
    assert out.shape[1] == 3 + (2 if rule == "com" else 4)
    theta, tau = pose_from_center_of_mass(out[:, 3:5])
    if rule != "com":
        theta = wrap_angle(-safe_atan2(out[:, 6], out[:, 5]))
    enc = encoder(images)
    torch.testing.assert_close(enc.theta, theta)
    torch.testing.assert_close(enc.tau, tau)


@pytest.mark.parametrize("rule", ["com", "moments", "harmonic"])
def test_forward_with_direction_returns_the_heads_raw_angle_output(rule):
    """The raw direction is what the "mlp" head's angle is read from; the "com" rule and the other heads have none."""
    torch.manual_seed(0)
    encoder = Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, head_hidden=(8,), pose="learned", rule=rule).eval()
    images = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    enc, direction = encoder.forward_with_direction(images)
    plain = encoder(images)
    for got, expected in zip(enc, plain):
        torch.testing.assert_close(got, expected)
    if rule == "com":
        assert direction is None
    else:
        torch.testing.assert_close(direction, encoder.head(encoder.backbone(images))[:, 5:7])
        torch.testing.assert_close(wrap_angle(-safe_atan2(direction[:, 1], direction[:, 0])), enc.theta)
    for other in (
        Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, head_hidden=(8,), pose="analytic", rule="moments"),
        Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, head_hidden=(8,), pose="learned", rule="moments", pose_head="weight_map"),
    ):
        assert other.eval().forward_with_direction(images)[1] is None


def test_training_loss_puts_the_angle_term_on_the_raw_direction(monkeypatch):
    """IRLINR.loss hands the "mlp" head's raw direction to the symmetry-breaking loss (None for the weight map)."""
    import invariant_inr.model as model_module
    from invariant_inr import IRLINR

    seen = []
    library_loss = model_module.symmetry_breaking_loss

    def spy(*args, **kwargs):
        seen.append(kwargs.get("direction"))
        return library_loss(*args, **kwargs)

    monkeypatch.setattr(model_module, "symmetry_breaking_loss", spy)
    small = dict(encoder="small", encoder_width=4, num_frequencies=8, inr_hidden=(8,), hyper_hidden=(8,), head_hidden=(16,))
    images = torch.rand(3, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    for head in ("mlp", "weight_map"):
        model = IRLINR(1, 12, 4, pose="learned", pose_head=head, canonical_rule="moments", **small)
        parts = model.loss(images, generator=torch.Generator().manual_seed(1))
        assert torch.isfinite(parts.symm)
    assert seen[0] is not None and seen[0].shape == (6, 2) and seen[0].requires_grad
    assert seen[1] is None


@pytest.mark.parametrize("rule", ["com", "moments"])
def test_two_pass_head_reads_z_from_the_image_its_pose_canonicalises(rule):
    """"mlp_two_pass": the pose is the "mlp" head's (same outputs, same direction); z is the head's code of
    S_{theta,tau}[J] computed by the same backbone and head (float64, tight)."""
    from invariant_inr.se2 import transform_images

    torch.manual_seed(0)
    kwargs = dict(head_hidden=(8,), pose="learned", rule=rule)
    two_pass = Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, pose_head="mlp_two_pass", **kwargs).double().eval()
    one_pass = Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, pose_head="mlp", **kwargs).double().eval()
    one_pass.load_state_dict(two_pass.state_dict())
    assert two_pass.sees_canonical_images and not one_pass.sees_canonical_images
    images = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    enc, direction = two_pass.forward_with_direction(images)
    reference, reference_direction = one_pass.forward_with_direction(images)
    torch.testing.assert_close(enc.theta, reference.theta, rtol=0, atol=1e-12)
    torch.testing.assert_close(enc.tau, reference.tau, rtol=0, atol=1e-12)
    assert (direction is None) == (rule == "com")
    if direction is not None:
        torch.testing.assert_close(direction, reference_direction, rtol=0, atol=1e-12)
    canonical = transform_images(images, enc.theta, enc.tau)
    expected_z = two_pass.z_norm(two_pass.head(two_pass.backbone(canonical))[:, :3])
    torch.testing.assert_close(enc.z, expected_z, rtol=0, atol=1e-12)
    assert not torch.allclose(enc.z, reference.z)  # a different image, a different code


def test_two_pass_head_takes_the_deformation_and_z_does_not_move_its_pose():
    """The nuisance deformation acts on the canonical image (the "mlp" head refuses it); a loss on z alone does not
    reach the pose outputs (the warp is detached in the pose), a loss on the pose does."""
    torch.manual_seed(0)
    images = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    shift = lambda canonical: canonical + 1.0  # noqa: E731: an augment that visibly changes what the backbone sees
    one_pass = Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, head_hidden=(8,), pose="learned", rule="moments")
    with pytest.raises(ValueError, match="mlp_two_pass"):
        one_pass(images, augment=shift)
    encoder = Encoder(SmallCNN(1, width=4, pool=2), 64, latent_dim=3, head_hidden=(8,), pose="learned", rule="moments",
                      pose_head="mlp_two_pass").eval()
    plain, deformed = encoder(images), encoder(images, augment=shift)
    torch.testing.assert_close(deformed.theta, plain.theta)  # the pose is that of the undeformed image
    assert not torch.allclose(deformed.z, plain.z)
    encoder.train()
    encoder(images).z.pow(2).sum().backward()
    pose_rows = encoder.head[-1].weight.grad[3:]  # the centre and direction outputs
    assert encoder.head[-1].weight.grad[:3].abs().sum() > 0 and pose_rows.abs().sum() == 0
    encoder.zero_grad()
    out = encoder(images)
    (out.theta.sin().sum() + out.tau.sum()).backward()
    assert encoder.head[-1].weight.grad[3:].abs().sum() > 0


def test_irlinr_trains_the_two_pass_head_with_the_deformation():
    """IRLINR accepts augment_strength > 0 with "mlp_two_pass" (not with "mlp"), hands the raw direction to the
    symmetry-breaking loss, and every loss is finite with gradients into the pose outputs."""
    from invariant_inr import IRLINR

    small = dict(encoder="small", encoder_width=4, num_frequencies=8, inr_hidden=(8,), hyper_hidden=(8,), head_hidden=(16,))
    with pytest.raises(ValueError, match="mlp_two_pass"):
        IRLINR(1, 12, 4, pose="learned", pose_head="mlp", augment_strength=1.0, **small)
    model = IRLINR(1, 12, 4, pose="learned", pose_head="mlp_two_pass", canonical_rule="moments", augment_strength=1.0, **small)
    images = torch.rand(3, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    parts = model.loss(images, generator=torch.Generator().manual_seed(1))
    assert all(torch.isfinite(value) for value in (parts.recon, parts.consis, parts.symm))
    parts.total.backward()
    assert model.encoder.head[-1].weight.grad[4:].abs().sum() > 0
