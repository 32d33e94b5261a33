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
