"""ModulatedINR and IRLINR(hypernetwork=...): batched vs slow per-sample reference, the fused Fourier
first layer with shared weights, the modulation contract, gradcheck, bad input, save/load round trips."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.func import functional_call

from invariant_inr import IRLINR, FourierFeatures, ModulatedINR
from invariant_inr._fourier_linear import fourier_linear
from invariant_inr.testing import assert_close

TINY = dict(encoder="small", num_frequencies=8, inr_hidden=(16, 12), hyper_hidden=(16,), head_hidden=(32,))


def _slow_modulated(inr: ModulatedINR, inputs: torch.Tensor, modulations: torch.Tensor) -> torch.Tensor:
    """Per-sample reference: slice sample ``b``'s modulations by hand and run the shared layers with F.linear."""
    outputs = []
    for b in range(modulations.shape[0]):
        hidden = inputs if inputs.ndim == 2 else inputs[b]
        offset = 0
        for index, layer in enumerate(inr.layers):
            pre = F.linear(hidden, layer.weight, layer.bias)
            if index == len(inr.layers) - 1:
                hidden = pre
                break
            width = layer.out_features
            shift = modulations[b, offset : offset + width]
            offset += width
            gain = 1.0
            if inr.modulation == "scale_shift":
                gain = 1.0 + modulations[b, offset : offset + width]
                offset += width
            hidden = F.relu(gain * pre + shift)
        assert offset == inr.num_modulations
        outputs.append(torch.sigmoid(hidden) if inr.output_activation == "sigmoid" else hidden)
    return torch.stack(outputs)


def _random_weights(inr: ModulatedINR, generator: torch.Generator) -> None:
    """Nonzero biases too (the default initialisation has zero biases, which would hide bias mistakes)."""
    with torch.no_grad():
        for parameter in inr.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))


@given(
    batch=st.integers(1, 4),
    points=st.integers(1, 9),
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    out_channels=st.integers(1, 3),
    modulation=st.sampled_from(["shift", "scale_shift"]),
    shared=st.booleans(),
    chunk=st.one_of(st.none(), st.integers(1, 4)),
    sigmoid=st.booleans(),
)
def test_modulated_inr_matches_slow_reference(batch, points, hidden, out_channels, modulation, shared, chunk, sigmoid):
    gen = torch.Generator().manual_seed(batch * 100 + points * 7 + len(hidden))
    inr = ModulatedINR(
        5, hidden=tuple(hidden), out_channels=out_channels, modulation=modulation,
        output_activation="sigmoid" if sigmoid else "identity",
    ).double()
    _random_weights(inr, gen)
    modulations = torch.randn(batch, inr.num_modulations, generator=gen, dtype=torch.float64)
    inputs = torch.randn(*((points, 5) if shared else (batch, points, 5)), generator=gen, dtype=torch.float64)
    out = inr(inputs, modulations, chunk_size=chunk)
    assert out.shape == (batch, points, out_channels)
    assert_close(out, _slow_modulated(inr, inputs, modulations))


@pytest.mark.parametrize("modulation", ["shift", "scale_shift"])
@pytest.mark.parametrize("shared", [False, True])
def test_fused_fourier_first_layer_matches_features_then_layers(modulation, shared):
    """The fused path (features never stored) gives the same values and gradients as FourierFeatures + layers."""
    gen = torch.Generator().manual_seed(3)
    ff = FourierFeatures(6, sigma=1.5, generator=gen).double()
    inr = ModulatedINR(12, hidden=(7, 5), out_channels=2, modulation=modulation).double()
    _random_weights(inr, gen)
    modulations = torch.randn(3, inr.num_modulations, generator=gen, dtype=torch.float64, requires_grad=True)
    points = torch.rand(*((10, 2) if shared else (3, 10, 2)), generator=gen, dtype=torch.float64, requires_grad=True)
    fused = inr._evaluate_fourier(points, ff.frequencies, modulations)
    plain = inr._evaluate(ff(points), modulations)
    assert fused.shape == plain.shape == (3, 10, 2)
    assert_close(fused, plain)
    weights = [modulations, points, *inr.parameters()]
    grads_fused = torch.autograd.grad(fused.square().sum(), weights)
    grads_plain = torch.autograd.grad(plain.square().sum(), weights)
    for a, b in zip(grads_fused, grads_plain):
        assert_close(a, b)


@pytest.mark.parametrize("shared", [False, True])
def test_fourier_linear_with_shared_weights_gradcheck(shared):
    gen = torch.Generator().manual_seed(5)
    points = torch.rand(*((4, 2) if shared else (2, 4, 2)), generator=gen, dtype=torch.float64, requires_grad=True)
    freq = torch.randn(3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    out = fourier_linear(points, freq, weight, bias)
    phase = 2 * math.pi * points @ freq.t()
    assert_close(out, torch.cat([phase.cos(), phase.sin()], -1) @ weight.t() + bias)
    assert out.shape == ((4, 5) if shared else (2, 4, 5))
    assert torch.autograd.gradcheck(fourier_linear, (points, freq, weight, bias))


@pytest.mark.parametrize("modulation", ["shift", "scale_shift"])
def test_modulated_inr_gradcheck(modulation):
    """Gradients w.r.t. the inputs, the modulations and the shared weights, fused path included."""
    gen = torch.Generator().manual_seed(11)
    inr = ModulatedINR(6, hidden=(4, 3), out_channels=2, modulation=modulation).double()
    _random_weights(inr, gen)
    names = [name for name, _ in inr.named_parameters()]
    weights = tuple(p.detach().clone().requires_grad_() for p in inr.parameters())
    inputs = torch.randn(2, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    modulations = torch.randn(2, inr.num_modulations, generator=gen, dtype=torch.float64, requires_grad=True)

    def run(inputs, modulations, *weights):
        return functional_call(inr, dict(zip(names, weights)), (inputs, modulations))

    assert torch.autograd.gradcheck(run, (inputs, modulations, *weights))
    points = torch.rand(2, 5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    freq = torch.randn(3, 2, generator=gen, dtype=torch.float64)

    fused = _FusedCall(inr, freq)

    def run_fused(points, modulations, *weights):
        return functional_call(fused, dict(zip(names, weights)), (points, modulations))

    assert torch.autograd.gradcheck(run_fused, (points, modulations, *weights))


class _FusedCall(torch.nn.Module):
    """Wrap ``_evaluate_fourier`` as a forward so functional_call can swap the shared weights."""

    def __init__(self, inr: ModulatedINR, freq: torch.Tensor) -> None:
        super().__init__()
        self.layers = inr.layers
        self._inr, self._freq = [inr], freq

    def forward(self, points, modulations):
        return self._inr[0]._evaluate_fourier(points, self._freq, modulations)


def test_modulation_contract_and_scales():
    inr = ModulatedINR(10, hidden=(4, 3), out_channels=2, modulation="scale_shift")
    assert inr.modulation_shapes == [
        ("layers.0.shift", (4,)), ("layers.0.scale", (4,)), ("layers.1.shift", (3,)), ("layers.1.scale", (3,)),
    ]
    assert inr.num_modulations == 14 == sum(math.prod(s) for _, s in inr.modulation_shapes)
    assert "num_modulations=14" in repr(inr) and "modulation='scale_shift'" in repr(inr)
    scales = inr.modulation_scales()
    assert scales.shape == (14,)
    assert torch.equal(scales[:4], torch.full((4,), 2**-0.5)) and torch.equal(scales[4:8], torch.zeros(4))
    assert torch.equal(scales[8:11], torch.full((3,), 0.5)) and torch.equal(scales[11:], torch.zeros(3))
    shift = ModulatedINR(10, hidden=(4, 3))
    assert shift.num_modulations == 7 and [n for n, _ in shift.modulation_shapes] == ["layers.0.shift", "layers.1.shift"]
    # the shared weights: a state_dict of ordinary parameters, std 1/sqrt(fan_in), zero biases
    assert sorted(shift.state_dict()) == [f"layers.{i}.{k}" for i in range(3) for k in ("bias", "weight")]
    wide = ModulatedINR(400, hidden=(300,))
    assert abs(float(wide.layers[0].weight.detach().std()) * math.sqrt(400) - 1.0) < 0.02
    assert not wide.layers[0].bias.any()


def test_modulations_are_per_sample():
    """Zero modulations give every sample the shared MLP; one sample's modulation changes only its output."""
    inr = ModulatedINR(6, hidden=(8, 8), out_channels=1).double()
    inputs = torch.randn(20, 6, dtype=torch.float64)
    modulations = torch.zeros(3, inr.num_modulations, dtype=torch.float64)
    base = inr(inputs, modulations)
    assert torch.equal(base[0], base[1]) and torch.equal(base[1], base[2])
    modulations[1, :8] = 1.0
    moved = inr(inputs, modulations)
    assert torch.equal(moved[0], base[0]) and torch.equal(moved[2], base[2]) and not torch.allclose(moved[1], base[1])


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: ModulatedINR(6, hidden=()), ValueError, r"at least one hidden layer"),
        (lambda: ModulatedINR(6, hidden=(4, 0)), ValueError, r"hidden width must be >= 1, got 0"),
        (lambda: ModulatedINR(6, hidden=4), TypeError, r"hidden must be a sequence of layer widths"),
        (lambda: ModulatedINR(6, modulation="scale"), ValueError, r"modulation"),
        (lambda: ModulatedINR(0), ValueError, r"in_features must be >= 1, got 0"),
        (lambda: ModulatedINR(6, hidden=(4,))(torch.rand(5, 6), torch.rand(2, 5)), ValueError,
         r"modulations must have shape \(B, 4\), got \(2, 5\)"),
        (lambda: ModulatedINR(6, hidden=(4,))(torch.rand(5, 7), torch.rand(2, 4)), ValueError,
         r"inputs must have shape \(B, P, 6\) or \(P, 6\), got \(5, 7\)"),
        (lambda: ModulatedINR(6, hidden=(4,))(torch.rand(3, 5, 6), torch.rand(2, 4)), ValueError,
         r"inputs have batch size 3 but modulations have 2"),
        (lambda: ModulatedINR(6, hidden=(4,))(torch.rand(5, 6), torch.zeros(2, 4, dtype=torch.long)), TypeError,
         r"modulations"),
        (lambda: IRLINR(1, 12, 4, hypernetwork="lowrank", **TINY), ValueError, r"hypernetwork"),
        (lambda: IRLINR(1, 12, 4, hypernetwork="shift", **{**TINY, "inr_hidden": ()}), ValueError,
         r"hypernetwork='shift' modulates the INR's hidden layers"),
    ],
)
def test_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ------------------------------------------------------------------------------------ in IRLINR
@pytest.mark.parametrize("hypernetwork", ["shift", "scale_shift"])
def test_irlinr_modulated_sizes_and_training_options(hypernetwork):
    """The hypernetwork emits the modulations; pixel subsampling and chunking work; gradients reach everything."""
    torch.manual_seed(0)
    model = IRLINR(1, 12, 4, hypernetwork=hypernetwork, pixel_fraction=0.3, chunk_size=17, **TINY)
    assert isinstance(model.inr, ModulatedINR) and model.inr.modulation == hypernetwork
    assert model.hyper.out_features == model.inr.num_modulations == (1 if hypernetwork == "shift" else 2) * (16 + 12)
    images = torch.rand(3, 1, 12, 12)
    parts = model.loss(images, generator=torch.Generator().manual_seed(1))
    parts.total.backward()
    for name, parameter in model.named_parameters():
        if name.startswith(("inr.", "hyper.")):
            assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name
    model.eval()
    with torch.no_grad():
        z = model.encode(images).z
        torch.testing.assert_close(model.render(z, chunk_size=5), model.render(z, chunk_size=None), atol=1e-6, rtol=1e-5)
        assert model.reconstruct(images).shape == (3, 1, 12, 12)


def test_full_is_the_default_and_unchanged():
    full = IRLINR(1, 12, 4, **TINY)
    assert full.config.hypernetwork == "full" and not list(full.inr.parameters())
    assert full.hyper.out_features == full.inr.num_params
    # the same seed gives the same model with or without naming the default
    named = IRLINR(1, 12, 4, hypernetwork="full", **TINY)
    state, other = full.state_dict(), named.state_dict()
    assert state.keys() == other.keys() and all(torch.equal(state[k], other[k]) for k in state)


@pytest.mark.parametrize("hypernetwork", ["shift", "scale_shift"])
def test_save_load_round_trip(tmp_path, hypernetwork):
    model = IRLINR(1, 12, 4, hypernetwork=hypernetwork, **TINY).eval()
    with torch.no_grad():  # move the shared weights away from their initialisation
        for parameter in model.inr.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = IRLINR.load(path).eval()
    assert loaded.config == model.config and loaded.config.hypernetwork == hypernetwork
    assert isinstance(loaded.inr, ModulatedINR)
    images = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.reconstruct(images), model.reconstruct(images))
    raw = torch.load(path, weights_only=True)
    assert raw["config"]["hypernetwork"] == hypernetwork and "inr.layers.0.weight" in raw["state_dict"]


def test_checkpoint_without_the_option_loads_as_full(tmp_path):
    """A checkpoint written before ``hypernetwork`` existed has no such config key: it is the paper's model."""
    model = IRLINR(1, 12, 4, **TINY).eval()
    data = model.checkpoint_dict()
    del data["config"]["hypernetwork"]
    loaded = IRLINR.from_checkpoint_dict(data).eval()
    assert loaded.config.hypernetwork == "full"
    images = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.reconstruct(images), model.reconstruct(images))
    # a modulated model's weights do not fit a full model's architecture: refused, not silently dropped
    shift = IRLINR(1, 12, 4, hypernetwork="shift", **TINY).checkpoint_dict()
    shift["config"]["hypernetwork"] = "full"
    with pytest.raises(ValueError, match="does not match the architecture"):
        IRLINR.from_checkpoint_dict(shift)


# ------------------------------------------------------------------------- the ablation benchmark
def _write_fake_mnist(root, *, train: int, test: int):
    """The four MNIST IDX files with a label-dependent bar plus noise."""
    from invariant_inr.datasets import write_idx

    root.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = torch.arange(count) % 10
        images = torch.zeros(count, 28, 28)
        for digit in range(10):
            images[labels == digit, 6 + digit : 9 + digit, 6:14] = 200.0
        pixels = (images + 40 * torch.rand(count, 28, 28, generator=generator)).to(torch.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", pixels)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels.to(torch.uint8))
    return root


def _load_z_ablation():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "z_ablation.py"
    spec = importlib.util.spec_from_file_location("invariant_inr_z_ablation_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_z_ablation_modulated_variants_and_step_times(tmp_path):
    import json

    threads = torch.get_num_threads()
    try:
        ablation = _load_z_ablation()
        mnist = _write_fake_mnist(tmp_path / "mnist", train=64, test=40)
        tiny = {"encoder_width": 4, "num_frequencies": 8, "inr_hidden": [16], "hyper_hidden": [16], "head_hidden": [16],
                "latent_dim": 4}
        common = ["--threads", "1", "--mnist-root", str(mnist), "--out", str(tmp_path / "out"), "--train-size", "64",
                  "--test-size", "40", "--image-size", "32", "--batch-size", "8", "--model-overrides", json.dumps(tiny)]
        ablation.main(["--variants", "shift-b128", "--budget", "0.3", "--chunk-steps", "2", *common])
        record = json.loads((tmp_path / "out" / "shift-b128.json").read_text())
        assert record["config"]["hypernetwork"] == "shift" and record["config"]["pixel_fraction"] == 0.125
        assert record["batch_size"] == 16  # twice --batch-size
        for evaluation in record["evaluations"]:
            assert evaluation["images_seen"] == 16 * evaluation["steps"]
            assert evaluation["seconds_per_step"] > 0 and evaluation["train_seconds"] <= evaluation["seconds"]
        ablation.main(["--variants", "augment,shift", "--step-times", "2", *common])
        times = json.loads((tmp_path / "out" / "step_times.json").read_text())
        assert set(times["variants"]) == {"augment", "shift"} and times["variants"]["augment"]["ratio_to_augment"] == 1.0
        assert all(len(v["seconds"]) == 2 for v in times["variants"].values())
        assert times["variants"]["shift"]["parameters"] < times["variants"]["augment"]["parameters"]
    finally:
        torch.set_num_threads(threads)
