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
