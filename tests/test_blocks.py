"""FourierFeatures, FunctionalINR and HyperMLP: formulas, batched vs slow reference, init, gradcheck."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from invariant_inr import FourierFeatures, FunctionalINR, HyperMLP, evaluate_in_chunks
from invariant_inr.testing import assert_close


def _slow_inr(inr: FunctionalINR, inputs: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-layer reference with F.linear: the deliberately slow twin of FunctionalINR."""
    outputs = []
    for b in range(params.shape[0]):
        hidden = inputs if inputs.ndim == 2 else inputs[b]
        offset = 0
        for index, (fan_in, fan_out) in enumerate(inr.layer_sizes):
            weight = params[b, offset : offset + fan_in * fan_out].reshape(fan_out, fan_in)
            offset += fan_in * fan_out
            bias = params[b, offset : offset + fan_out]
            offset += fan_out
            hidden = F.linear(hidden, weight, bias)
            if index < len(inr.layer_sizes) - 1:
                hidden = F.relu(hidden)
        outputs.append(hidden)
    return torch.stack(outputs)


def test_fourier_features_formula(device, dtype):
    gen = torch.Generator().manual_seed(1)
    ff = FourierFeatures(7, sigma=1.5, generator=gen).to(device)
    points = torch.rand(3, 5, 2, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)
    phase = 2 * math.pi * points @ ff.frequencies.to(dtype).t()
    expected = torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)
    assert_close(ff(points), expected)
    assert ff(points).shape == (3, 5, 14)


def test_fourier_frequencies_are_saved_and_seeded():
    a = FourierFeatures(16, generator=torch.Generator().manual_seed(3))
    b = FourierFeatures(16, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.frequencies, b.frequencies)
    assert "frequencies" in a.state_dict()
    assert FourierFeatures(16, learnable=True).frequencies.requires_grad
    # sigma sets the spread of B
    wide = FourierFeatures(4096, sigma=3.0, generator=torch.Generator().manual_seed(0))
    assert abs(float(wide.frequencies.std()) - 3.0) < 0.1


@given(
    batch=st.integers(1, 4),
    points=st.integers(1, 9),
    hidden=st.lists(st.integers(1, 6), min_size=0, max_size=3),
    out_channels=st.integers(1, 3),
    shared=st.booleans(),
    chunk=st.one_of(st.none(), st.integers(1, 4)),
)
def test_functional_inr_matches_slow_reference(batch, points, hidden, out_channels, shared, chunk):
    gen = torch.Generator().manual_seed(batch * 100 + points)
    inr = FunctionalINR(5, hidden=tuple(hidden), out_channels=out_channels)
    params = torch.randn(batch, inr.num_params, generator=gen, dtype=torch.float64)
    shape = (points, 5) if shared else (batch, points, 5)
    inputs = torch.randn(*shape, generator=gen, dtype=torch.float64)
    out = inr(inputs, params, chunk_size=chunk)
    assert out.shape == (batch, points, out_channels)
    assert_close(out, _slow_inr(inr, inputs, params))


def test_functional_inr_weight_contract():
    inr = FunctionalINR(4, hidden=(3,), out_channels=2)
    names = [name for name, _ in inr.param_shapes]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert inr.num_params == 4 * 3 + 3 + 3 * 2 + 2 == sum(math.prod(s) for _, s in inr.param_shapes)
    assert "num_params=23" in repr(inr)
    layers = inr.unflatten(torch.arange(23.0).unsqueeze(0))
    assert layers[0][0][0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert layers[0][1][0].tolist() == [12, 13, 14]


def test_functional_inr_sigmoid_output_in_unit_interval():
    inr = FunctionalINR(3, hidden=(4,), out_channels=1, output_activation="sigmoid")
    out = inr(torch.randn(10, 3), torch.randn(2, inr.num_params) * 10)
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_chunked_evaluation_gradients_match_unchunked():
    gen = torch.Generator().manual_seed(0)
    inr = FunctionalINR(6, hidden=(8, 8), out_channels=2)
    inputs = torch.randn(3, 20, 6, generator=gen, dtype=torch.float64)
    params = torch.randn(3, inr.num_params, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.randn(3, 20, 2, generator=gen, dtype=torch.float64)
    grads = []
    for chunk in (None, 7):
        params.grad = None
        loss = (inr(inputs, params, chunk_size=chunk) - target).pow(2).sum()
        loss.backward()
        grads.append(params.grad.clone())
    assert_close(grads[0], grads[1])


def test_evaluate_in_chunks_rejects_bad_chunk_size():
    with pytest.raises(ValueError, match="chunk_size"):
        evaluate_in_chunks(lambda p, q: p, torch.rand(2, 5, 1), torch.rand(2, 1), 0)


def test_hyper_init_generates_inr_weights_at_default_scale():
    """For unit-scale z the generated weights of layer l have std ~ 1/sqrt(fan_in) (nn.Linear's scale)."""
    torch.manual_seed(0)
    inr = FunctionalINR(64, hidden=(128, 128), out_channels=1)
    hyper = HyperMLP(32, inr.num_params, hidden=(256, 256, 256), out_scale=inr.param_scales())
    with torch.no_grad():
        params = hyper(torch.randn(64, 32))
    offset = 0
    for fan_in, fan_out in inr.layer_sizes:
        weights = params[:, offset : offset + fan_in * fan_out]
        offset += fan_in * fan_out + fan_out
        ratio = float(weights.std()) * math.sqrt(fan_in)
        assert 0.3 < ratio < 3.0, (fan_in, ratio)
    # every generated weight depends on z: two codes give different INRs
    assert float((params[0] - params[1]).abs().mean()) > 0.1 * float(params.abs().mean())


def test_hyper_rejects_wrong_out_scale_and_z():
    with pytest.raises(ValueError, match="out_scale"):
        HyperMLP(4, 10, out_scale=torch.ones(9))
    hyper = HyperMLP(4, 10, hidden=(8,))
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        hyper(torch.randn(3, 5))


def test_blocks_gradcheck_float64():
    gen = torch.Generator().manual_seed(0)
    ff = FourierFeatures(3, generator=gen).double()
    points = torch.rand(2, 4, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ff, (points,))
    inr = FunctionalINR(6, hidden=(4,), out_channels=2, activation="gelu")  # smooth activation
    inputs = torch.randn(2, 3, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    params = torch.randn(2, inr.num_params, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: inr(a, b, chunk_size=2), (inputs, params))
    hyper = HyperMLP(3, 5, hidden=(4,)).double()
    z = torch.randn(2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(hyper, (z,))
