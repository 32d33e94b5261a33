"""Speed options (issue 4): each one is checked against the exact path, and the hot path is audited.

* the naive per-sample reference of ``benchmarks/speed.py`` computes the same loss and gradients;
* pixel subsampling is an unbiased estimate of the full-pixel loss;
* chunked INR evaluation gives the same loss and gradients, with a lower memory peak;
* the fused Fourier/first-layer node matches the unfused chain, and its gradients pass gradcheck;
* bfloat16 autocast, channels-last and ``torch.compile`` agree with the default within tolerance;
* the training loss makes no host-device round trip and has no Python loop over the batch.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

import invariant_inr.model as model_module
from invariant_inr import IRLINR, FourierFeatures, FunctionalINR, checks_disabled, fit, random_pose, se2
from invariant_inr._fourier_linear import fourier_linear
from invariant_inr.testing import assert_close
from invariant_inr.training import _LossModule, _native_bf16

ROOT = Path(__file__).resolve().parents[1]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("invariant_inr_speed_benchmark", ROOT / "benchmarks" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


speed = _load_benchmark()


def tiny_model(size: int = 12, channels: int = 1, **overrides) -> IRLINR:
    options = dict(
        encoder="small",
        num_frequencies=8,
        fourier_sigma=1.0,
        inr_hidden=(16, 16),
        hyper_hidden=(16,),
        head_hidden=(32,),
        pose_head="mlp",  # the paper's learned pose, which these tests were written for
        canonical_rule="com",
    )
    options.update(overrides)
    return IRLINR(channels, size, 4, **options)


def blob_images(batch: int, size: int = 12, channels: int = 1, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """Smooth off-centre blobs in [0, 1] (a clear centre of mass)."""
    gen = torch.Generator().manual_seed(seed)
    grid = se2.coordinate_grid(size, size, dtype=torch.float64)
    centers = (torch.rand(batch, channels, 2, generator=gen, dtype=torch.float64) - 0.5) * 0.8
    dist = (grid[None, None] - centers[:, :, None, None]).pow(2).sum(-1)  # (B, C, H, W)
    return torch.exp(-dist / 0.08).to(dtype)


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def _loss_and_grads(model: IRLINR, images: torch.Tensor, seed: int = 0):
    model.zero_grad(set_to_none=True)
    parts = model.loss(images, generator=torch.Generator().manual_seed(seed))
    parts.total.backward()
    return parts, _grads(model)


# ------------------------------------------------------------------------------ naive reference
@pytest.mark.parametrize("pose", ["learned", "analytic"])
def test_naive_reference_equals_our_loss_and_gradients(pose):
    torch.manual_seed(0)
    model = tiny_model(pose=pose).double()
    images = blob_images(3, dtype=torch.float64)
    ours, our_grads = _loss_and_grads(model, images, seed=5)
    theta, tau = random_pose(6, model.config.translation_std, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    model.zero_grad(set_to_none=True)
    naive = speed.naive_loss(model, images, theta, tau)
    naive.total.backward()
    naive_grads = _grads(model)
    for name in ("total", "recon", "consis", "symm"):
        torch.testing.assert_close(getattr(naive, name), getattr(ours, name), rtol=1e-9, atol=1e-12)
    assert set(naive_grads) == set(our_grads)
    for name, grad in our_grads.items():
        torch.testing.assert_close(naive_grads[name], grad, rtol=1e-7, atol=1e-10)
    if pose == "learned":
        assert float(ours.symm.detach()) > 0  # the comparison covers the symmetry-breaking term


def test_naive_train_step_runs_and_updates():
    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.hyper.parameters()]
    parts = speed.naive_train_step(model, blob_images(2), optimizer)
    assert torch.isfinite(parts.total)
    assert any(not torch.equal(old, new) for old, new in zip(before, model.hyper.parameters()))


def test_inr_flop_count():
    model = tiny_model()  # layers 16 -> 16 -> 16 -> 1
    flops = speed.inr_flops(model, 2, 10, points_grad=False)
    macs = 16 * 16 + 16 * 16 + 16 * 1
    assert flops["forward"] == 2 * 20 * macs
    assert flops["backward"] == 2 * 20 * macs + 2 * 20 * (macs - 16 * 16)
    assert speed.inr_flops(model, 2, 10, points_grad=True)["total"] == 3 * 2 * 20 * macs


# ---------------------------------------------------------------------------- pixel subsampling
def _fixed_pose(monkeypatch, batch: int, dtype: torch.dtype) -> None:
    theta, tau = random_pose(2 * batch, 0.1, generator=torch.Generator().manual_seed(11), dtype=dtype)
    monkeypatch.setattr(model_module, "random_pose", lambda *args, **kwargs: (theta, tau))


def _flat_backbone() -> torch.nn.Module:
    """A cheap stand-in backbone for tests that call the loss hundreds of times."""
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(144, 16))


def test_pixel_subset_loss_is_an_unbiased_estimate_of_the_full_loss(monkeypatch):
    batch = 4
    _fixed_pose(monkeypatch, batch, torch.float64)  # the poses stay fixed; only the pixel subsets vary
    torch.manual_seed(0)
    backbone = _flat_backbone().double()
    full_model = tiny_model(encoder=backbone, encoder_features=16).double()
    subset_model = tiny_model(encoder=backbone, encoder_features=16, pixel_fraction=0.25).double()
    subset_model.load_state_dict(full_model.state_dict())
    images = blob_images(batch, dtype=torch.float64)
    with torch.no_grad():
        full = full_model.loss(images)
        gen = torch.Generator().manual_seed(0)
        draws = [subset_model.loss(images, generator=gen) for _ in range(200)]
    recon = torch.stack([parts.recon for parts in draws])
    assert float(recon.std()) > 1e-3 * float(full.recon)  # the subsets really differ
    standard_error = float(recon.std()) / math.sqrt(len(draws))
    assert abs(float(recon.mean()) - float(full.recon)) < 4 * standard_error
    for parts in draws[:5]:  # the other terms do not depend on the subset
        assert_close(parts.consis, full.consis)
        assert_close(parts.symm, full.symm)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_pixel_subset_of_every_pixel_equals_the_full_loss(seed):
    # a fraction that keeps all P = 144 pixels draws them in a random order: same mean
    full_model = tiny_model().double()
    permuted = tiny_model(pixel_fraction=1.0 - 1.0 / (4 * 144)).double()
    permuted.load_state_dict(full_model.state_dict())
    images = blob_images(2, seed=seed % 7, dtype=torch.float64)
    with torch.no_grad():
        full = full_model.loss(images, generator=torch.Generator().manual_seed(seed))
        shuffled = permuted.loss(images, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(shuffled.total, full.total, rtol=1e-10, atol=1e-12)


def test_pixel_fraction_is_validated():
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="pixel_fraction"):
            tiny_model(pixel_fraction=bad)


# ------------------------------------------------------------------------------------ chunking
@pytest.mark.parametrize("pose", ["learned", "analytic"])
@pytest.mark.parametrize("chunk_size", [1, 7, 100, 144])
def test_chunked_loss_and_gradients_equal_unchunked_float64(pose, chunk_size):
    exact = tiny_model(pose=pose).double()
    chunked = tiny_model(pose=pose, chunk_size=chunk_size).double()
    chunked.load_state_dict(exact.state_dict())
    images = blob_images(3, dtype=torch.float64)
    parts, grads = _loss_and_grads(exact, images, seed=1)
    chunk_parts, chunk_grads = _loss_and_grads(chunked, images, seed=1)
    for name in ("total", "recon", "consis", "symm"):
        torch.testing.assert_close(getattr(chunk_parts, name), getattr(parts, name), rtol=1e-12, atol=1e-14)
    assert set(chunk_grads) == set(grads)
    for name, grad in grads.items():
        torch.testing.assert_close(chunk_grads[name], grad, rtol=1e-10, atol=1e-13)


def test_chunked_render_equals_unchunked():
    model = tiny_model()
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    assert_close(model.render(z, size=20, chunk_size=33), model.render(z, size=20))


_MEMORY_CHILD = """
import sys, torch
sys.path.insert(0, {benchmarks!r})
import speed
from invariant_inr import IRLINR, random_pose
torch.manual_seed(0)
chunk_size = None if sys.argv[1] == "none" else int(sys.argv[1])
# 16 samples x 40 x 40 points x (128 features + 3 x 64 hidden) floats: ~30 MiB of activations unchunked
model = IRLINR(3, 40, 8, encoder="small", num_frequencies=64, inr_hidden=(64, 64, 64), hyper_hidden=(32,), head_hidden=(32,), pose_head="mlp", canonical_rule="com")
z = torch.randn(16, 8, requires_grad=True)
theta, tau = random_pose(16, 0.1, generator=torch.Generator().manual_seed(0))
theta.requires_grad_(True)
model.render(z[:2], 40, theta[:2], tau[:2], chunk_size=chunk_size).square().mean().backward()  # warm-up
step = lambda: model.render(z, 40, theta, tau, chunk_size=chunk_size).square().mean().backward()
print("PEAK", speed.peak_memory(step, torch.device("cpu"))["step_peak_bytes"])
"""


def _child_peak(chunk_size: str) -> int:
    code = _MEMORY_CHILD.format(benchmarks=str(ROOT / "benchmarks"))
    done = subprocess.run([sys.executable, "-c", code, chunk_size], capture_output=True, text=True, timeout=300, check=True)
    return int(next(line for line in done.stdout.splitlines() if line.startswith("PEAK")).split()[1])


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc/self/clear_refs to reset the peak RSS")
def test_chunked_evaluation_lowers_peak_memory():
    # a fresh process per measurement: the peak resident set after the warm-up, nothing else in it
    chunked, unchunked = _child_peak("100"), _child_peak("none")
    assert unchunked > 20 * 2**20
    assert chunked < 0.5 * unchunked, (chunked, unchunked)


# --------------------------------------------------------------------- fused Fourier first layer
@pytest.mark.parametrize("shared", [False, True])
def test_fused_fourier_layer_equals_the_unfused_chain(shared):
    gen = torch.Generator().manual_seed(0)
    ff = FourierFeatures(6, sigma=1.5, generator=gen)
    inr = FunctionalINR(12, hidden=(5, 4), out_channels=2)
    params = torch.randn(3, inr.num_params, generator=gen)
    points = torch.rand(7, 2, generator=gen) if shared else torch.rand(3, 7, 2, generator=gen)
    fused = inr._evaluate_fourier(points, ff.frequencies, params)
    assert torch.equal(fused, inr._evaluate(ff(points), params))  # same matmul calls: bit-identical


@pytest.mark.parametrize("shared", [False, True])
def test_fused_fourier_layer_gradcheck(shared):
    gen = torch.Generator().manual_seed(1)
    points = torch.rand(*(() if shared else (2,)), 5, 2, generator=gen, dtype=torch.float64).requires_grad_(True)
    frequencies = torch.randn(3, 2, generator=gen, dtype=torch.float64).requires_grad_(True)
    weight = torch.randn(2, 4, 6, generator=gen, dtype=torch.float64).requires_grad_(True)
    bias = torch.randn(2, 4, generator=gen, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(fourier_linear, (points, frequencies, weight, bias))


def test_learnable_fourier_frequencies_get_the_unfused_gradient():
    gen = torch.Generator().manual_seed(2)
    ff = FourierFeatures(5, learnable=True, generator=gen).double()
    inr = FunctionalINR(10, hidden=(6,)).double()
    params = torch.randn(2, inr.num_params, generator=gen, dtype=torch.float64)
    points = torch.rand(2, 9, 2, generator=gen, dtype=torch.float64)
    inr._evaluate_fourier(points, ff.frequencies, params).square().sum().backward()
    fused = ff.frequencies.grad.clone()
    ff.frequencies.grad = None
    inr._evaluate(ff(points), params).square().sum().backward()
    torch.testing.assert_close(fused, ff.frequencies.grad, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------ bfloat16
def test_bf16_autocast_step_runs_and_stays_close_to_float32():
    model = tiny_model(pose="learned")
    images = blob_images(4)
    exact = model.loss(images, generator=torch.Generator().manual_seed(0))
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model.loss(images, generator=torch.Generator().manual_seed(0))
    low.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert all(p.grad.dtype == torch.float32 for p in model.parameters() if p.grad is not None)
    for name in ("total", "recon", "consis", "symm"):
        got, expected = float(getattr(low, name).detach()), float(getattr(exact, name).detach())
        assert abs(got - expected) <= 0.05 * abs(expected) + 1e-3


def test_bf16_keeps_fourier_phases_in_float32():
    # bfloat16 phases of tens of radians would be off by a good part of a turn; ours stay float32
    model = IRLINR(1, 24, 8, encoder="small", num_frequencies=64, inr_hidden=(64, 64), hyper_hidden=(64,), head_hidden=(64,), pose_head="mlp", canonical_rule="com")
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model.render(z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.render(z)
    assert float((low.float() - reference).norm() / reference.norm()) < 0.02


def test_fit_with_bf16_and_channels_last_runs():
    model = tiny_model()
    # on a CPU without native bfloat16, fit() warns that it will be slow
    context = contextlib.nullcontext() if _native_bf16("cpu") else pytest.warns(UserWarning, match="bfloat16")
    with context:
        history = fit(model, blob_images(8), epochs=1, batch_size=4, progress=False, precision="bf16", channels_last=True)
    assert math.isfinite(history["total"][0])
    assert model.encoder.backbone.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_fit_rejects_unknown_precision():
    with pytest.raises(ValueError, match="precision"):
        fit(tiny_model(), blob_images(4), epochs=1, batch_size=4, progress=False, precision="16")


# ------------------------------------------------------------------------------- channels last
@pytest.mark.parametrize("encoder", ["small", "resnet18"])
def test_channels_last_gives_the_same_loss_and_gradients(encoder):
    # float64: the layout changes nothing but the order of sums, so the identity is tight
    model = tiny_model(size=16, channels=3, encoder=encoder).double()
    images = blob_images(2, size=16, channels=3, dtype=torch.float64)
    parts, grads = _loss_and_grads(model, images)
    model.to(memory_format=torch.channels_last)
    last_parts, last_grads = _loss_and_grads(model, images.contiguous(memory_format=torch.channels_last))
    for name in ("total", "recon", "consis", "symm"):
        torch.testing.assert_close(getattr(last_parts, name), getattr(parts, name), rtol=1e-10, atol=1e-12)
    for name, grad in grads.items():
        assert float((last_grads[name] - grad).norm()) <= 1e-9 * float(grad.norm()) + 1e-12, name


def test_channels_last_float32_loss_matches():
    # float32 convolutions in another layout sum in another order: the losses agree to rounding
    model = tiny_model(size=16, channels=3)
    images = blob_images(2, size=16, channels=3)
    with torch.no_grad():
        parts = model.loss(images, generator=torch.Generator().manual_seed(0))
        model.to(memory_format=torch.channels_last)
        last = model.loss(images.contiguous(memory_format=torch.channels_last), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(last.total, parts.total, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------- torch.compile
@pytest.mark.slow
def test_compiled_loss_with_options_matches_eager():
    import torch._inductor.config as inductor_config

    with inductor_config.patch(fallback_random=True):  # inductor's own RNG would draw other poses
        _compiled_matches_eager()


def _compiled_matches_eager():
    model = tiny_model(pose="learned", pixel_fraction=0.5, chunk_size=40)
    images = blob_images(3)
    module = _LossModule(model)
    compiled = torch.compile(module, dynamic=False)
    torch.manual_seed(3)
    eager = module(images)
    eager.total.backward()
    eager_grads = _grads(model)
    model.zero_grad(set_to_none=True)
    torch.manual_seed(3)
    fast = compiled(images)
    fast.total.backward()
    for name in ("total", "recon", "consis", "symm"):
        torch.testing.assert_close(getattr(fast, name), getattr(eager, name), rtol=1e-4, atol=1e-5)
    for name, grad in eager_grads.items():
        torch.testing.assert_close(model.get_parameter(name).grad, grad, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_fit_with_compile_runs():
    model = tiny_model(pose="analytic")
    history = fit(model, blob_images(8), epochs=1, batch_size=4, progress=False, compile=True)
    assert math.isfinite(history["total"][0])


# ------------------------------------------------------------------------------ hot-path audit
_HOST_SYNCS = {"item", "__bool__", "__float__", "__int__", "__index__", "tolist", "cpu", "numpy"}


class _Recorder(TorchFunctionMode):
    """Records the name of every torch function and tensor method called."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def _record_step(model: IRLINR, images: torch.Tensor) -> list[str]:
    loss_module = _LossModule(model)  # what fit() calls each step
    with _Recorder() as recorder:
        parts = loss_module(images)
        parts.total.backward()
    return recorder.names


@pytest.mark.parametrize(
    "options",
    [dict(pose="learned"), dict(pose="analytic", canonical_rule="moments"), dict(pixel_fraction=0.3, chunk_size=50)],
)
def test_training_step_has_no_host_sync_and_no_loop_over_the_batch(options):
    model = tiny_model(**options)
    small = _record_step(model, blob_images(2))
    large = _record_step(model, blob_images(7))
    assert not _HOST_SYNCS.intersection(small), sorted(_HOST_SYNCS.intersection(small))
    assert len(small) == len(large)  # the same calls whatever the batch size: no Python loop over it
    assert small == large


@pytest.mark.parametrize("pose", ["learned", "analytic"])
def test_encode_has_one_boundary_check_and_no_loop_over_the_batch(pose):
    model = tiny_model(pose=pose)
    calls = []
    for batch in (2, 7):
        with _Recorder() as recorder:
            model.encode(blob_images(batch))
        calls.append(recorder.names)
    assert calls[0] == calls[1]
    assert [name for name in calls[0] if name in _HOST_SYNCS] == ["__bool__"]  # the finiteness check of the input
    with checks_disabled(), _Recorder() as recorder:
        model.encode(blob_images(2))
    assert not _HOST_SYNCS.intersection(recorder.names)


def test_cuda_training_step_never_synchronises(device):
    if device.type != "cuda":
        pytest.skip("CUDA synchronisation debugging needs a CUDA device")
    model = tiny_model(pixel_fraction=0.5, chunk_size=50).to(device)
    images = blob_images(4).to(device)
    loss_module = _LossModule(model)
    loss_module(images).total.backward()  # warm-up (lazy initialisation may synchronise)
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss_module(images).total.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_benchmark_quick_run_reports_every_item(tmp_path):
    out = tmp_path / "speed.json"
    report = speed.main(["--quick", "--no-memory", "--options", "chunk", "--json", str(out)])
    assert out.exists()
    assert set(report["steps"]) == {"naive", "encoder", "exact", "chunk"}
    assert all(entry["median_s"] > 0 for entry in report["steps"].values())
    assert report["gemm"]["flop_per_s"] > 0 and report["inr"]["flops"]["total"] > 0
    assert report["encode"]["images_per_s"] > 0
    assert report["summary"]["step_over_encoder"]["encoder"] == 1.0
    assert "cpu" in report["machine"] and "torch" in report["machine"]


def test_named_sizes_are_the_papers_and_explicit_options_win():
    args = speed.parse_args(["--sizes", "galaxy-zoo", "--batch", "8"])
    assert (args.image_size, args.channels, args.latent_dim, args.batch) == (64, 3, 512, 8)
    args = speed.parse_args(["--sizes", "mnist-u"])
    assert (args.image_size, args.channels, args.latent_dim, args.batch) == (50, 1, 32, 128)
    assert speed.parse_args([]).batch == 32  # no --sizes: the defaults stay
