"""Bad input at every public entry point: a clear ValueError/TypeError that names what was expected
and what came; defined, NaN-free results on degenerate but valid input; the switch that turns the
checks off.

Every bad input is one ``pytest.param`` in a table below, so the number of cases tried is the number of
collected ``test_*_rejects_bad_input`` items (``docs/reliability.md`` reports it). Each case asserts the
exception type and, with ``match``, a message naming the expectation and what came in.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import invariant_inr as ii
from invariant_inr import IRLINR, fit
from invariant_inr._io import atomic_save
from invariant_inr.encoders import Encoder, SmallCNN, build_backbone
from invariant_inr.training import make_loader

NAN = float("nan")
INF = float("inf")


# ------------------------------------------------------------------------------------------ helpers
@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: extra threads only add synchronisation (and oversubscribe a shared machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny(size: int | tuple[int, int] = 12, channels: int = 1, **overrides) -> IRLINR:
    options = dict(encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(32,))
    options.update(overrides)
    return IRLINR(channels, size, 4, **options)


@functools.cache
def shared_model() -> IRLINR:
    """A 1-channel 12x12 model with latent_dim 4, shared by cases that never reach a training step."""
    return tiny()


def images(batch: int = 2, channels: int = 1, height: int = 12, width: int = 12, *, fill: float | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    out = torch.rand(batch, channels, height, width, generator=generator)
    if fill is not None:
        out[0, 0, 0, 0] = fill
    return out


def pose(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(batch), torch.zeros(batch, 2)


def case(name: str, thunk, error: type[Exception], match: str):
    return pytest.param(thunk, error, match, id=name)


def check_rejects(thunk, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        thunk()


# --------------------------------------------------------------------------- building blocks
def _fourier_forward(points: torch.Tensor):
    return ii.FourierFeatures(4)(points)


def _inr():
    return ii.FunctionalINR(8, hidden=(16,), out_channels=1)  # num_params = 16*8+16 + 16+1 = 161


BLOCK_CASES = [
    # se2
    case("transform_images-rank3", lambda: ii.transform_images(torch.rand(1, 12, 12), *pose(1)), ValueError,
         r"images must have shape \(B, C, H, W\), got 3 dimensions \(1, 12, 12\)"),
    case("transform_images-rank5", lambda: ii.transform_images(torch.rand(1, 1, 1, 8, 8), *pose(1)), ValueError,
         r"images must have shape \(B, C, H, W\), got 5 dimensions"),
    case("transform_images-uint8", lambda: ii.transform_images(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), *pose()), TypeError,
         r"images must be a floating-point tensor .* got dtype torch.uint8"),
    case("transform_images-int64", lambda: ii.transform_images(torch.zeros(2, 1, 8, 8, dtype=torch.int64), *pose()), TypeError,
         r"floating-point .* got dtype torch.int64"),
    case("transform_images-numpy", lambda: ii.transform_images(images().numpy(), *pose()), TypeError,
         r"images must be a torch.Tensor, got ndarray"),
    case("transform_images-empty-batch", lambda: ii.transform_images(torch.zeros(0, 1, 8, 8), *pose(1)), ValueError,
         r"empty batch \(B = 0\)"),
    case("transform_images-1-pixel-high", lambda: ii.transform_images(torch.zeros(2, 1, 1, 8), *pose()), ValueError,
         r"at least 2x2 pixels, got 1x8"),
    case("transform_images-theta-longer-than-batch", lambda: ii.transform_images(images(), torch.zeros(3), torch.zeros(3, 2)), ValueError,
         r"theta/tau have batch size 3 but the images have 2"),
    case("transform_images-theta-tau-lengths", lambda: ii.transform_images(images(), torch.zeros(2), torch.zeros(3, 2)), ValueError,
         r"theta and tau must have the same batch size, got 2 and 3"),
    case("transform_images-theta-2d", lambda: ii.transform_images(images(), torch.zeros(2, 1), torch.zeros(2, 2)), ValueError,
         r"theta must have shape \(B,\), got \(2, 1\)"),
    case("transform_images-tau-3-columns", lambda: ii.transform_images(images(), torch.zeros(2), torch.zeros(2, 3)), ValueError,
         r"tau must have shape \(B, 2\), got \(2, 3\)"),
    case("transform_images-theta-nan", lambda: ii.transform_images(images(), torch.tensor([0.0, NAN]), torch.zeros(2, 2)), ValueError,
         r"theta contains 1 NaN or infinite value"),
    case("transform_images-tau-inf", lambda: ii.transform_images(images(), torch.zeros(2), torch.tensor([[INF, 0.0], [0.0, 0.0]])), ValueError,
         r"tau contains 1 NaN or infinite value"),
    case("transform_images-theta-list", lambda: ii.transform_images(images(), [0.0, 0.0], torch.zeros(2, 2)), TypeError,
         r"theta must be a torch.Tensor, got list"),
    case("transform_images-theta-int", lambda: ii.transform_images(images(), torch.zeros(2, dtype=torch.long), torch.zeros(2, 2)), TypeError,
         r"theta must be a floating-point tensor .* got dtype torch.int64"),
    case("transform_images-mode", lambda: ii.transform_images(images(), *pose(), mode="area"), ValueError,
         r"mode must be one of \['bilinear', 'nearest', 'bicubic'\], got 'area'"),
    case("transform_images-padding", lambda: ii.transform_images(images(), *pose(), padding_mode="wrap"), ValueError,
         r"padding_mode must be one of .* got 'wrap'"),
    case("transform_points-3-coordinates", lambda: ii.transform_points(torch.zeros(5, 3), *pose(1)), ValueError,
         r"points must have shape .*2\) of \(x, y\) coordinates, got \(5, 3\)"),
    case("transform_points-batch-mismatch", lambda: ii.transform_points(torch.zeros(3, 5, 2), *pose(2)), ValueError,
         r"points have batch size 3 but theta/tau have 2"),
    case("transform_points-int", lambda: ii.transform_points(torch.zeros(5, 2, dtype=torch.int32), *pose(1)), TypeError,
         r"points must be a floating-point tensor .* got dtype torch.int32"),
    case("compose-batch-mismatch", lambda: ii.compose(*pose(2), *pose(3)), ValueError,
         r"theta2/tau2 have batch size 3 but the images have 2"),
    case("inverse-tau-1d", lambda: ii.inverse(torch.zeros(2), torch.zeros(2)), ValueError,
         r"tau must have shape \(B, 2\), got \(2,\)"),
    case("random_pose-zero-batch", lambda: ii.random_pose(0), ValueError, r"batch must be >= 1, got 0"),
    case("random_pose-negative-batch", lambda: ii.random_pose(-4), ValueError, r"batch must be >= 1, got -4"),
    case("random_pose-float-batch", lambda: ii.random_pose(2.0), TypeError, r"batch must be an int, got float 2.0"),
    case("random_pose-negative-std", lambda: ii.random_pose(2, -0.1), ValueError, r"translation_std must be >= 0, got -0.1"),
    case("random_pose-nan-std", lambda: ii.random_pose(2, NAN), ValueError, r"translation_std must be finite, got nan"),
    case("coordinate_grid-1-row", lambda: ii.coordinate_grid(1, 5), ValueError,
         r"size\[0\] \(height\) must be between 2 and 8192, got 1"),
    case("coordinate_grid-negative", lambda: ii.coordinate_grid(5, -5), ValueError,
         r"size\[1\] \(width\) must be between 2 and 8192, got -5"),
    case("coordinate_grid-absurd", lambda: ii.coordinate_grid(10**6, 5), ValueError,
         r"size\[0\] \(height\) must be between 2 and 8192, got 1000000"),
    case("coordinate_grid-float", lambda: ii.coordinate_grid(5.0, 5), TypeError, r"size\[0\] \(height\) must be an int, got float 5.0"),
    # center
    case("center_of_mass-rank2", lambda: ii.center_of_mass(torch.rand(12, 12)), ValueError,
         r"images must have shape \(B, C, H, W\), got 2 dimensions"),
    case("center_of_mass-nan", lambda: ii.center_of_mass(images(fill=NAN)), ValueError, r"images contains 1 NaN or infinite value"),
    case("center_of_mass-inf", lambda: ii.center_of_mass(images(fill=-INF)), ValueError, r"images contains 1 NaN or infinite value"),
    case("center_of_mass-empty", lambda: ii.center_of_mass(torch.zeros(0, 1, 8, 8)), ValueError, r"empty batch"),
    case("central_moments-bool", lambda: ii.central_moments(torch.zeros(1, 1, 8, 8, dtype=torch.bool)), TypeError,
         r"floating-point .* got dtype torch.bool"),
    case("canonical_pose-rule", lambda: ii.canonical_pose(images(), "median"), ValueError,
         r"rule must be one of \['com', 'moments', 'harmonic'\], got 'median'"),
    case("canonicalize-uint8", lambda: ii.canonicalize(torch.zeros(1, 1, 8, 8, dtype=torch.uint8)), TypeError,
         r"got dtype torch.uint8; convert with .float\(\)"),
    case("pose_from_center_of_mass-3-columns", lambda: ii.pose_from_center_of_mass(torch.zeros(2, 3)), ValueError,
         r"center must have shape \(B, 2\), got \(2, 3\)"),
    # fourier
    case("FourierFeatures-zero-frequencies", lambda: ii.FourierFeatures(0), ValueError,
         r"num_frequencies must be between 1 and 65536, got 0"),
    case("FourierFeatures-negative-frequencies", lambda: ii.FourierFeatures(-3), ValueError,
         r"num_frequencies must be between 1 and 65536, got -3"),
    case("FourierFeatures-absurd-frequencies", lambda: ii.FourierFeatures(10**8), ValueError,
         r"num_frequencies must be between 1 and 65536, got 100000000"),
    case("FourierFeatures-float-frequencies", lambda: ii.FourierFeatures(2.5), TypeError, r"num_frequencies must be an int, got float 2.5"),
    case("FourierFeatures-zero-sigma", lambda: ii.FourierFeatures(4, sigma=0.0), ValueError, r"sigma must be > 0, got 0.0"),
    case("FourierFeatures-negative-sigma", lambda: ii.FourierFeatures(4, sigma=-2.0), ValueError, r"sigma must be > 0, got -2.0"),
    case("FourierFeatures-inf-sigma", lambda: ii.FourierFeatures(4, sigma=INF), ValueError, r"sigma must be finite, got inf"),
    case("FourierFeatures-3d-points", lambda: _fourier_forward(torch.zeros(5, 3)), ValueError,
         r"points must have shape \(\.\.\., 2\), got \(5, 3\)"),
    case("FourierFeatures-int-points", lambda: _fourier_forward(torch.zeros(5, 2, dtype=torch.long)), TypeError,
         r"points must be a floating-point tensor"),
    # inr
    case("FunctionalINR-zero-inputs", lambda: ii.FunctionalINR(0), ValueError, r"in_features must be >= 1, got 0"),
    case("FunctionalINR-negative-width", lambda: ii.FunctionalINR(8, hidden=(16, -1)), ValueError, r"hidden width must be >= 1, got -1"),
    case("FunctionalINR-activation", lambda: ii.FunctionalINR(8, activation="tanh"), ValueError,
         r"activation must be one of \[.*'relu'.*\], got 'tanh'"),
    case("FunctionalINR-zero-chunk", lambda: ii.FunctionalINR(8, chunk_size=0), ValueError, r"chunk_size must be >= 1, got 0"),
    case("FunctionalINR-params-shape", lambda: _inr()(torch.rand(10, 8), torch.rand(2, 160)), ValueError,
         r"params must have shape \(B, 161\), got \(2, 160\)"),
    case("FunctionalINR-inputs-features", lambda: _inr()(torch.rand(10, 7), torch.rand(2, 161)), ValueError,
         r"inputs must have shape \(B, P, 8\) or \(P, 8\), got \(10, 7\)"),
    case("FunctionalINR-inputs-batch", lambda: _inr()(torch.rand(3, 10, 8), torch.rand(2, 161)), ValueError,
         r"inputs have batch size 3 but params have 2"),
    case("FunctionalINR-int-params", lambda: _inr()(torch.rand(10, 8), torch.zeros(2, 161, dtype=torch.long)), TypeError,
         r"params must be a floating-point tensor"),
    case("evaluate_in_chunks-negative-chunk", lambda: ii.evaluate_in_chunks(lambda p, q: p, torch.rand(10, 2), torch.rand(1, 1), -2), ValueError,
         r"chunk_size must be >= 1, got -2"),
    # hyper
    case("HyperMLP-zero-latent", lambda: ii.HyperMLP(0, 10), ValueError, r"latent_dim must be >= 1, got 0"),
    case("HyperMLP-zero-width", lambda: ii.HyperMLP(4, 10, hidden=(0,)), ValueError, r"hidden width must be >= 1, got 0"),
    case("HyperMLP-out-scale-shape", lambda: ii.HyperMLP(4, 10, out_scale=torch.ones(9)), ValueError,
         r"out_scale must have shape \(10,\), got \(9,\)"),
    case("HyperMLP-z-shape", lambda: ii.HyperMLP(4, 10, hidden=(8,))(torch.rand(2, 5)), ValueError,
         r"z must have shape \(B, 4\), got \(2, 5\)"),
    case("HyperMLP-z-int", lambda: ii.HyperMLP(4, 10, hidden=(8,))(torch.zeros(2, 4, dtype=torch.long)), TypeError,
         r"z must be a floating-point tensor"),
    # encoders
    case("Encoder-backbone-not-module", lambda: Encoder("resnet", 8, 4), TypeError, r"backbone must be an nn.Module, got str"),
    case("Encoder-pose", lambda: Encoder(nn.Flatten(), 8, 4, pose="regressed"), ValueError,
         r"pose must be one of \['learned', 'analytic'\], got 'regressed'"),
    case("Encoder-zero-features", lambda: Encoder(nn.Flatten(), 0, 4), ValueError, r"feature_dim must be >= 1, got 0"),
    case("SmallCNN-zero-channels", lambda: SmallCNN(0), ValueError, r"in_channels must be >= 1, got 0"),
    case("build_backbone-name", lambda: build_backbone("vit", 1), ValueError, r"encoder must be one of \['resnet18', 'small'\], got 'vit'"),
    # losses
    case("reconstruction_loss-shapes", lambda: ii.reconstruction_loss(torch.zeros(2, 4, 3), torch.zeros(2, 5, 3)), ValueError,
         r"prediction and target must have the same shape, got \(2, 4, 3\) and \(2, 5, 3\)"),
    case("reconstruction_loss-int-target", lambda: ii.reconstruction_loss(torch.zeros(2, 4, 3), torch.zeros(2, 4, 3, dtype=torch.uint8)), TypeError,
         r"target must be a floating-point tensor"),
    case("consistency_loss-kind", lambda: ii.consistency_loss(torch.zeros(2, 4), torch.zeros(2, 4), "l1"), ValueError,
         r"kind must be one of \['cos', 'mse', 'infonce'\], got 'l1'"),
    case("consistency_loss-temperature", lambda: ii.consistency_loss(torch.zeros(2, 4), torch.zeros(2, 4), "infonce", temperature=0.0),
         ValueError, r"temperature must be > 0, got 0.0"),
    case("consistency_loss-lengths", lambda: ii.consistency_loss(torch.zeros(2, 4), torch.zeros(3, 4)), ValueError,
         r"z1 and z2 must both have shape \(B, d\), got \(2, 4\) and \(3, 4\)"),
    case("consistency_loss-1d", lambda: ii.consistency_loss(torch.zeros(4), torch.zeros(4)), ValueError,
         r"must both have shape \(B, d\), got \(4,\) and \(4,\)"),
    case("symmetry_breaking_loss-lengths", lambda: ii.symmetry_breaking_loss(*pose(3), images(2)), ValueError,
         r"theta/tau have batch size 3 but the images have 2"),
    case("symmetry_breaking_loss-rule", lambda: ii.symmetry_breaking_loss(*pose(2), images(2), "axis"), ValueError,
         r"rule must be one of \['com', 'moments', 'harmonic'\], got 'axis'"),
    case("symmetry_breaking_loss-nan-images", lambda: ii.symmetry_breaking_loss(*pose(2), images(2, fill=NAN)), ValueError,
         r"images contains 1 NaN or infinite value"),
]


@pytest.mark.parametrize("thunk, error, match", BLOCK_CASES)
def test_block_rejects_bad_input(thunk, error, match):
    check_rejects(thunk, error, match)


# ------------------------------------------------------------------------------ IRLINR facade
class _Flat(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def _saved(tmp_factory, mutate=None, *, model: IRLINR | None = None, name: str = "model.pt"):
    """Write a (possibly corrupted) checkpoint of ``model`` and return its path."""
    model = model if model is not None else shared_model()
    data = model.checkpoint_dict()
    if mutate is not None:
        mutate(data)
    path = tmp_factory.mktemp("ckpt") / name
    atomic_save(data, path)
    return path


def _custom_model() -> IRLINR:
    return tiny(encoder=_Flat(), encoder_features=144)


FACADE_CASES = [
    # construction: sizes, frequencies, widths, options
    case("init-zero-channels", lambda: tiny(channels=0), ValueError, r"in_channels must be between 1 and 4096, got 0"),
    case("init-negative-size", lambda: tiny(size=-5), ValueError, r"image_size\[0\] \(height\) must be between 2 and 8192, got -5"),
    case("init-absurd-size", lambda: tiny(size=(12, 10**6)), ValueError,
         r"image_size\[1\] \(width\) must be between 2 and 8192, got 1000000"),
    case("init-size-triple", lambda: tiny(size=(1, 2, 3)), TypeError, r"image_size must be an int or a \(height, width\) pair, got tuple"),
    case("init-size-float", lambda: tiny(size=12.0), TypeError, r"image_size must be an int or a \(height, width\) pair, got float"),
    case("init-zero-latent", lambda: IRLINR(1, 12, 0, encoder="small"), ValueError, r"latent_dim must be between 1 and 65536, got 0"),
    case("init-encoder-name", lambda: tiny(encoder="vit"), ValueError, r"encoder must be one of \['resnet18', 'small'\], got 'vit'"),
    case("init-encoder-type", lambda: tiny(encoder=3), TypeError, r"encoder must be 'resnet18', 'small' or an nn.Module, got int"),
    case("init-custom-without-features", lambda: tiny(encoder=_Flat()), ValueError,
         r"custom encoder backbone needs encoder_features=<its output feature size>"),
    case("init-pose", lambda: tiny(pose="fixed"), ValueError, r"pose must be one of \['learned', 'analytic'\], got 'fixed'"),
    case("init-rule", lambda: tiny(canonical_rule="pca"), ValueError, r"canonical_rule must be one of \['com', 'moments', 'harmonic'\], got 'pca'"),
    case("init-zero-frequencies", lambda: tiny(num_frequencies=0), ValueError, r"num_frequencies must be between 1 and 65536, got 0"),
    case("init-negative-frequencies", lambda: tiny(num_frequencies=-8), ValueError, r"num_frequencies must be between 1 and 65536, got -8"),
    case("init-absurd-frequencies", lambda: tiny(num_frequencies=10**9), ValueError,
         r"num_frequencies must be between 1 and 65536, got 1000000000"),
    case("init-float-frequencies", lambda: tiny(num_frequencies=8.0), TypeError, r"num_frequencies must be an int, got float 8.0"),
    case("init-nan-sigma", lambda: tiny(fourier_sigma=NAN), ValueError, r"fourier_sigma must be finite, got nan"),
    case("init-negative-sigma", lambda: tiny(fourier_sigma=-1.0), ValueError, r"fourier_sigma must be > 0, got -1.0"),
    case("init-inr-hidden-int", lambda: tiny(inr_hidden=16), TypeError, r"inr_hidden must be a sequence of layer widths .* got int 16"),
    case("init-inr-hidden-negative", lambda: tiny(inr_hidden=(16, -1)), ValueError, r"inr_hidden width must be between 1 and \d+, got -1"),
    case("init-hyper-hidden-zero", lambda: tiny(hyper_hidden=(0,)), ValueError, r"hyper_hidden width must be between 1 and \d+, got 0"),
    case("init-head-hidden-str", lambda: tiny(head_hidden="64"), TypeError, r"head_hidden must be a sequence of layer widths .* got str '64'"),
    case("init-output-activation", lambda: tiny(output_activation="tanh"), ValueError,
         r"output_activation must be one of \['identity', 'sigmoid'\], got 'tanh'"),
    case("init-consistency", lambda: tiny(consistency="l1"), ValueError, r"consistency must be one of \['cos', 'mse', 'infonce'\], got 'l1'"),
    case("init-consistency-temperature", lambda: tiny(consistency="infonce", consistency_temperature=-1.0), ValueError,
         r"consistency_temperature must be > 0, got -1.0"),
    case("init-negative-translation-std", lambda: tiny(translation_std=-0.1), ValueError, r"translation_std must be >= 0, got -0.1"),
    case("init-negative-lambda", lambda: tiny(lambda_symm=-15.0), ValueError, r"lambda_symm must be >= 0, got -15.0"),
    case("init-zero-pixel-fraction", lambda: tiny(pixel_fraction=0.0), ValueError, r"pixel_fraction must be in \(0, 1\], got 0.0"),
    case("init-large-pixel-fraction", lambda: tiny(pixel_fraction=1.5), ValueError, r"pixel_fraction must be in \(0, 1\], got 1.5"),
    case("init-str-pixel-fraction", lambda: tiny(pixel_fraction="half"), TypeError, r"pixel_fraction must be a number in \(0, 1\], got str 'half'"),
    case("init-zero-chunk", lambda: tiny(chunk_size=0), ValueError, r"chunk_size must be >= 1, got 0"),
    case("init-str-seed", lambda: tiny(seed="7"), TypeError, r"seed must be an int, got str '7'"),
    # encode (and forward)
    case("encode-rank3", lambda: shared_model().encode(torch.rand(1, 12, 12)), ValueError,
         r"images must have shape \(B, C, H, W\), got 3 dimensions \(1, 12, 12\) \(add a batch axis"),
    case("encode-uint8", lambda: shared_model().encode(torch.zeros(2, 1, 12, 12, dtype=torch.uint8)), TypeError,
         r"images must be a floating-point tensor .* got dtype torch.uint8; convert with .float\(\) \(and scale uint8"),
    case("encode-channels", lambda: shared_model().encode(images(2, 3)), ValueError,
         r"images must have 1 channel\(s\), got 3 \(shape \(2, 3, 12, 12\)\)"),
    case("encode-size", lambda: shared_model().encode(images(2, 1, 13, 12)), ValueError,
         r"images must be 12x12 pixels for this model, got 13x12"),
    case("encode-nan", lambda: shared_model().encode(images(fill=NAN)), ValueError, r"images contains 1 NaN or infinite value"),
    case("encode-inf", lambda: shared_model().encode(images(fill=INF)), ValueError, r"images contains 1 NaN or infinite value"),
    case("encode-empty", lambda: shared_model().encode(torch.zeros(0, 1, 12, 12)), ValueError, r"images is an empty batch \(B = 0\)"),
    case("encode-list", lambda: shared_model().encode([[0.0]]), TypeError, r"images must be a torch.Tensor, got list"),
    case("forward-size", lambda: shared_model()(images(2, 1, 28, 28)), ValueError, r"must be 12x12 pixels for this model, got 28x28"),
    # render
    case("render-z-int", lambda: shared_model().render(torch.zeros(2, 4, dtype=torch.long)), TypeError,
         r"z must be a floating-point tensor .* got dtype torch.int64"),
    case("render-z-latent", lambda: shared_model().render(torch.zeros(2, 5)), ValueError, r"z must have shape \(B, 4\), got \(2, 5\)"),
    case("render-z-1d", lambda: shared_model().render(torch.zeros(4)), ValueError, r"z must have shape \(B, 4\), got \(4,\)"),
    case("render-z-nan", lambda: shared_model().render(torch.tensor([[0.0, NAN, 0.0, 0.0]])), ValueError,
         r"z contains 1 NaN or infinite value"),
    case("render-z-empty", lambda: shared_model().render(torch.zeros(0, 4)), ValueError, r"z is an empty batch \(B = 0\)"),
    case("render-negative-size", lambda: shared_model().render(torch.zeros(2, 4), size=-3), ValueError,
         r"size\[0\] \(height\) must be between 2 and 8192, got -3"),
    case("render-absurd-size", lambda: shared_model().render(torch.zeros(2, 4), size=(16, 100000)), ValueError,
         r"size\[1\] \(width\) must be between 2 and 8192, got 100000"),
    case("render-theta-length", lambda: shared_model().render(torch.zeros(2, 4), theta=torch.zeros(3)), ValueError,
         r"theta and tau must have the same batch size, got 3 and 2"),
    case("render-theta-tau-length", lambda: shared_model().render(torch.zeros(2, 4), theta=torch.zeros(3), tau=torch.zeros(3, 2)), ValueError,
         r"theta/tau have batch size 3 but the images have 2"),
    case("render-tau-shape", lambda: shared_model().render(torch.zeros(2, 4), tau=torch.zeros(2)), ValueError,
         r"tau must have shape \(B, 2\), got \(2,\)"),
    case("render-theta-list", lambda: shared_model().render(torch.zeros(2, 4), theta=[0.0, 0.0]), TypeError,
         r"theta must be a torch.Tensor, got list"),
    case("render-tau-inf", lambda: shared_model().render(torch.zeros(2, 4), tau=torch.tensor([[0.0, INF], [0.0, 0.0]])), ValueError,
         r"tau contains 1 NaN or infinite value"),
    case("render-zero-chunk", lambda: shared_model().render(torch.zeros(2, 4), chunk_size=0), ValueError, r"chunk_size must be >= 1, got 0"),
    # reconstruct, canonical
    case("reconstruct-size", lambda: shared_model().reconstruct(images(2, 1, 12, 16)), ValueError,
         r"images must be 12x12 pixels for this model, got 12x16"),
    case("reconstruct-nan", lambda: shared_model().reconstruct(images(fill=NAN)), ValueError, r"images contains 1 NaN"),
    case("reconstruct-negative-chunk", lambda: shared_model().reconstruct(images(), chunk_size=-1), ValueError,
         r"chunk_size must be >= 1, got -1"),
    case("canonical-zero-size", lambda: shared_model().canonical(images(), size=0), ValueError,
         r"size\[0\] \(height\) must be between 2 and 8192, got 0"),
    case("canonical-float64-int", lambda: shared_model().canonical(torch.zeros(2, 1, 12, 12, dtype=torch.int16)), TypeError,
         r"got dtype torch.int16"),
    # loss
    case("loss-rank3", lambda: shared_model().loss(torch.rand(2, 12, 12)), ValueError, r"got 3 dimensions \(2, 12, 12\)"),
    case("loss-channels", lambda: shared_model().loss(images(2, 3)), ValueError, r"images must have 1 channel\(s\), got 3"),
    case("loss-size", lambda: shared_model().loss(images(2, 1, 10, 10)), ValueError, r"must be 12x12 pixels for this model, got 10x10"),
    case("loss-nan", lambda: shared_model().loss(images(fill=NAN)), ValueError, r"images contains 1 NaN or infinite value"),
    case("loss-empty", lambda: shared_model().loss(torch.zeros(0, 1, 12, 12)), ValueError, r"empty batch \(B = 0\)"),
    case("loss-uint8", lambda: shared_model().loss(torch.zeros(2, 1, 12, 12, dtype=torch.uint8)), TypeError, r"got dtype torch.uint8"),
    case("loss-generator", lambda: shared_model().loss(images(), generator=0), TypeError,
         r"generator must be a torch.Generator or None, got int 0"),
]


@pytest.mark.parametrize("thunk, error, match", FACADE_CASES)
def test_facade_rejects_bad_input(thunk, error, match):
    check_rejects(thunk, error, match)


def _version_2(data):
    data["format_version"] = 2


def _version_str(data):
    data["format_version"] = "1"


def _drop_state(data):
    del data["state_dict"]


def _other_latent(data):
    data["config"]["latent_dim"] = 5


def _unknown_field(data):
    data["config"]["dropout"] = 0.1


def _drop_fourier(data):
    del data["state_dict"]["fourier.frequencies"]


SAVE_LOAD_CASES = [
    ("load-newer-format", lambda f: IRLINR.load(_saved(f, _version_2)), ValueError,
     r"checkpoint format version 2, newer than this library's 1 .* upgrade invariant-inr"),
    ("load-version-not-int", lambda f: IRLINR.load(_saved(f, _version_str)), ValueError,
     r"no valid 'format_version' entry \(expected an int, got str '1'\)"),
    ("load-no-state-dict", lambda f: IRLINR.load(_saved(f, _drop_state)), ValueError,
     r"is incomplete: expected dict entries 'config' and 'state_dict', \['state_dict'\] missing"),
    ("load-weights-of-another-architecture", lambda f: IRLINR.load(_saved(f, _other_latent)), ValueError,
     r"(?s)does not match the architecture in its own config: .*size mismatch"),
    ("load-unknown-config-field", lambda f: IRLINR.load(_saved(f, _unknown_field)), ValueError,
     r"unknown IRLINR config field\(s\) \['dropout'\]"),
    ("load-missing-fourier-matrix", lambda f: IRLINR.load(_saved(f, _drop_fourier)), ValueError,
     r"Missing key\(s\) in state_dict: \"fourier.frequencies\""),
    ("load-plain-dict", lambda f: IRLINR.load(_plain_dict_file(f)), ValueError,
     r"is not an invariant-inr model checkpoint \(no 'format': 'invariant-inr' entry\)"),
    ("load-text-file", lambda f: IRLINR.load(_text_file(f)), ValueError,
     r"is not a readable invariant-inr checkpoint \(torch.load with weights_only=True failed"),
    ("load-pickled-code", lambda f: IRLINR.load(_pickled_code(f)), ValueError,
     r"is not a readable invariant-inr checkpoint \(torch.load with weights_only=True failed"),
    ("load-missing-file", lambda f: IRLINR.load(f.mktemp("empty") / "nothing.pt"), FileNotFoundError, r"no checkpoint file at '.*nothing.pt'"),
    ("load-custom-without-backbone", lambda f: IRLINR.load(_saved(f, model=_custom_model())), ValueError,
     r"trained with a custom encoder backbone; pass it as load\(\.\.\., backbone=module\)"),
    ("load-backbone-for-built-in", lambda f: IRLINR.load(_saved(f), backbone=_Flat()), ValueError,
     r"uses the built-in 'small' encoder; do not pass a backbone"),
    ("save-to-folder", lambda f: shared_model().save(f.mktemp("folder")), ValueError, r"is a folder; give the checkpoint a file name"),
]


def _plain_dict_file(factory):
    return atomic_save({"weights": torch.zeros(2)}, factory.mktemp("plain") / "weights.pt")


def _text_file(factory):
    path = factory.mktemp("text") / "notes.pt"
    path.write_text("these are not weights")
    return path


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def _pickled_code(factory):
    path = factory.mktemp("pickle") / "model.pt"
    torch.save(_Exploit(), path)
    return path


@pytest.mark.parametrize("thunk, error, match", [pytest.param(t, e, m, id=i) for i, t, e, m in SAVE_LOAD_CASES])
def test_save_load_rejects_bad_input(thunk, error, match, tmp_path_factory):
    check_rejects(lambda: thunk(tmp_path_factory), error, match)


# ------------------------------------------------------------------------------------------- fit
def _fit(data=None, model=None, **options):
    options = {"epochs": 1, "batch_size": 4, "progress": False, **options}
    return fit(model if model is not None else tiny(), images(8) if data is None else data, **options)


def _nan_dataset():
    data = images(8)
    data[5, 0, 3, 3] = NAN
    return TensorDataset(data)


def _step_lr():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)


def _file_as_dir(factory):
    path = factory.mktemp("file") / "not_a_folder"
    path.write_text("x")
    return path


def _other_arch_checkpoint(factory):
    folder = factory.mktemp("other")
    _fit(model=IRLINR(1, 12, 3, encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(32,)),
         checkpoint_dir=folder)
    return folder


def _model_file_as_last(factory):
    folder = factory.mktemp("modelfile")
    shared_model().save(folder / "last.pt")
    return folder


def _tensor_as_last(factory):
    folder = factory.mktemp("tensorfile")
    torch.save(torch.zeros(3), folder / "last.pt")
    return folder


def _newer_last(factory):
    folder = factory.mktemp("newer")
    _fit(checkpoint_dir=folder)
    state = torch.load(folder / "last.pt", weights_only=True)
    state["model"]["format_version"] = 99
    torch.save(state, folder / "last.pt")
    return folder


FIT_CASES = [
    ("model-not-irlinr", lambda f: fit(nn.Linear(2, 2), images(8)), TypeError, r"model must be an IRLINR, got Linear"),
    ("data-list", lambda f: _fit([torch.rand(1, 12, 12)] * 4), TypeError,
     r"data must be an \(N, C, H, W\) tensor, a torch Dataset or a DataLoader, got list"),
    ("data-numpy", lambda f: _fit(images(8).numpy()), TypeError, r"data must be .* got ndarray"),
    ("data-empty-tensor", lambda f: _fit(torch.zeros(0, 1, 12, 12)), ValueError, r"data is an empty batch \(B = 0\)"),
    ("data-empty-dataset", lambda f: _fit(TensorDataset(torch.zeros(0, 1, 12, 12))), ValueError, r"data is an empty dataset"),
    ("data-empty-loader", lambda f: _fit(DataLoader(TensorDataset(torch.zeros(0, 1, 12, 12)))), ValueError,
     r"the data loader yielded no batch; is the dataset empty\?"),
    ("data-rank3", lambda f: _fit(torch.rand(8, 12, 12)), ValueError, r"data must have shape \(B, C, H, W\), got 3 dimensions"),
    ("data-uint8", lambda f: _fit(torch.zeros(8, 1, 12, 12, dtype=torch.uint8)), TypeError, r"data must be a floating-point tensor .* torch.uint8"),
    ("data-nan", lambda f: _fit(images(8, fill=NAN)), ValueError, r"data contains 1 NaN or infinite value"),
    ("data-wrong-size", lambda f: _fit(images(8, 1, 28, 28)), ValueError, r"images must be 12x12 pixels for this model, got 28x28"),
    ("data-wrong-channels", lambda f: _fit(images(8, 3)), ValueError, r"images must have 1 channel\(s\), got 3"),
    ("dataset-int-items", lambda f: _fit(TensorDataset(torch.zeros(8, 1, 12, 12, dtype=torch.long))), TypeError,
     r"images must be a floating-point tensor .* torch.int64"),
    ("dataset-nan-items", lambda f: _fit(_nan_dataset()), FloatingPointError,
     r"the loss became NaN or infinite in epoch 1 .* check the data"),
    ("epochs-zero", lambda f: _fit(epochs=0), ValueError, r"epochs must be >= 1, got 0"),
    ("epochs-float", lambda f: _fit(epochs=2.0), TypeError, r"epochs must be an int, got float 2.0"),
    ("batch-size-zero", lambda f: _fit(batch_size=0), ValueError, r"batch_size must be >= 1, got 0"),
    ("lr-negative", lambda f: _fit(lr=-1e-3), ValueError, r"lr must be > 0, got -0.001"),
    ("lr-nan", lambda f: _fit(lr=NAN), ValueError, r"lr must be finite, got nan"),
    ("weight-decay-negative", lambda f: _fit(weight_decay=-1.0), ValueError, r"weight_decay must be >= 0, got -1.0"),
    ("max-steps-zero", lambda f: _fit(max_steps_per_epoch=0), ValueError, r"max_steps_per_epoch must be >= 1, got 0"),
    ("time-limit-negative", lambda f: _fit(time_limit=-5), ValueError, r"time_limit must be >= 0, got -5.0"),
    ("precision", lambda f: _fit(precision="16"), ValueError, r"precision must be one of \['32', 'bf16'\], got '16'"),
    ("optimizer-str", lambda f: _fit(optimizer="adam"), TypeError, r"optimizer must be a torch.optim.Optimizer or None, got str 'adam'"),
    ("scheduler-float", lambda f: _fit(scheduler=0.5), TypeError, r"scheduler must be a learning-rate scheduler .* got float 0.5"),
    ("lr-schedule-unknown", lambda f: _fit(lr_schedule="linear"), ValueError,
     r"lr_schedule must be one of \['constant', 'cosine'\], got 'linear'"),
    ("lr-schedule-and-scheduler", lambda f: _fit(lr_schedule="cosine", scheduler=_step_lr()), ValueError,
     r"lr_schedule='cosine' and a scheduler both set the learning rate; pass one of them"),
    ("callback-int", lambda f: _fit(callback=3), TypeError, r"callback must be callable as callback\(epoch, history\), got int 3"),
    ("seed-str", lambda f: _fit(seed="0"), TypeError, r"seed must be an int or None, got str '0'"),
    ("num-workers-negative", lambda f: _fit(num_workers=-1), ValueError, r"num_workers must be >= 0, got -1"),
    ("checkpoint-dir-is-a-file", lambda f: _fit(checkpoint_dir=_file_as_dir(f)), ValueError, r"checkpoint_dir '.*not_a_folder' exists and is not a folder"),
    ("checkpoint-dir-int", lambda f: _fit(checkpoint_dir=5), TypeError, r"checkpoint_dir must be a path \(str or os.PathLike\) or None, got int 5"),
    ("resume-other-architecture", lambda f: _fit(checkpoint_dir=_other_arch_checkpoint(f)), ValueError,
     r"was written by a model of another architecture \(latent_dim: checkpoint 3, this model 4\)"),
    ("resume-model-file", lambda f: _fit(checkpoint_dir=_model_file_as_last(f)), ValueError,
     r"is not a training checkpoint written by fit \(expected a dict with keys \['model', 'optimizer'"),
    ("resume-tensor-file", lambda f: _fit(checkpoint_dir=_tensor_as_last(f)), ValueError,
     r"is not a training checkpoint written by fit .* got a torch.float32 tensor of shape \(3,\)"),
    ("resume-newer-format", lambda f: _fit(checkpoint_dir=_newer_last(f)), ValueError,
     r"has checkpoint format version 99, newer than this library's 1; upgrade invariant-inr"),
    ("make_loader-batch-size", lambda f: make_loader(images(8), batch_size=-1), ValueError, r"batch_size must be >= 1, got -1"),
]


@pytest.mark.parametrize("thunk, error, match", [pytest.param(t, e, m, id=i) for i, t, e, m in FIT_CASES])
def test_fit_rejects_bad_input(thunk, error, match, tmp_path_factory):
    check_rejects(lambda: thunk(tmp_path_factory), error, match)


def test_fit_rejects_options_before_training():
    """A bad option is reported before the first step, not after an epoch of work."""
    model = tiny()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    with pytest.raises(TypeError, match="callback"):
        _fit(model=model, callback="print")
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())


def test_resume_false_ignores_a_foreign_checkpoint(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "last.pt")
    history = _fit(checkpoint_dir=tmp_path, resume=False)
    assert history.epochs == 1
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1  # replaced by a real checkpoint


# -------------------------------------------------------- defined results on degenerate input
POSE_MODES = [("learned", "com"), ("learned", "moments"), ("analytic", "com"), ("analytic", "moments")]


def _all_finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _check_end_to_end(model: IRLINR, batch: torch.Tensor) -> None:
    """encode, render, reconstruct, canonical, loss and its gradients are all finite."""
    model.zero_grad()
    parts = model.loss(batch)
    parts.total.backward()
    assert _all_finite(*parts), parts
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and _all_finite(*grads)
    with torch.no_grad():
        enc = model.encode(batch)
        out = (model.render(enc.z), model.render(enc.z, theta=enc.theta, tau=enc.tau), model.reconstruct(batch), model.canonical(batch))
    assert _all_finite(*enc, *out)
    assert all(o.shape == batch.shape for o in out[1:]) and out[0].shape == batch.shape
    assert float(enc.theta.min()) >= 0.0 and float(enc.theta.max()) < 2 * math.pi


@pytest.mark.parametrize("pose_mode, rule", POSE_MODES)
@pytest.mark.parametrize("kind", ["all-zero", "constant", "single-image", "negative", "tiny-values"])
def test_degenerate_images_give_finite_results(pose_mode, rule, kind):
    model = tiny(pose=pose_mode, canonical_rule=rule)
    batch = {
        "all-zero": torch.zeros(3, 1, 12, 12),
        "constant": torch.full((3, 1, 12, 12), 0.7),
        "single-image": images(1),
        "negative": -images(3),
        "tiny-values": torch.full((3, 1, 12, 12), 1e-30),
    }[kind]
    _check_end_to_end(model, batch)


def test_all_zero_image_has_identity_pose_and_centre_at_origin():
    zeros = torch.zeros(2, 3, 9, 7)
    assert torch.equal(ii.center_of_mass(zeros), torch.zeros(2, 2))
    for rule in ("com", "moments"):
        theta, tau = ii.canonical_pose(zeros, rule)
        assert torch.equal(theta.abs(), torch.zeros(2)) and torch.equal(tau.abs(), torch.zeros(2, 2))
        assert torch.equal(ii.canonicalize(zeros, rule), zeros)


@pytest.mark.parametrize(
    "encoder, pose_mode, rule", [("small", pose_mode, rule) for pose_mode, rule in POSE_MODES] + [("resnet18", "learned", "com")]
)
def test_non_square_model_works_end_to_end(encoder, pose_mode, rule):
    model = tiny(size=(10, 16), encoder=encoder, pose=pose_mode, canonical_rule=rule)
    batch = images(3, 1, 10, 16)
    _check_end_to_end(model, batch)
    enc = model.encode(batch)
    assert model.render(enc.z, size=(20, 32)).shape == (3, 1, 20, 32)
    with pytest.raises(ValueError, match=r"must be 10x16 pixels for this model, got 16x10"):
        model.encode(batch.transpose(-2, -1))


def test_non_square_fit_and_round_trip(tmp_path):
    model = tiny(size=(10, 16), channels=3)
    history = fit(model, torch.rand(6, 3, 10, 16), epochs=1, batch_size=3, progress=False)
    assert history.epochs == 1 and math.isfinite(history["total"][0])
    model.save(tmp_path / "m.pt")
    loaded = IRLINR.load(tmp_path / "m.pt").eval()
    model.eval()
    batch = torch.rand(2, 3, 10, 16)
    assert torch.equal(model.reconstruct(batch), loaded.reconstruct(batch))


def test_single_image_batch_in_train_and_eval_mode():
    model = tiny()
    one = images(1)
    model.train()
    enc = model.encode(one)  # BatchNorm sees 3x3 feature maps: enough values per channel
    assert enc.z.shape == (1, 4) and _all_finite(*enc)
    model.eval()
    assert _all_finite(*model.encode(one), model.reconstruct(one))


@pytest.mark.parametrize("shift", [3.0, -50.0, 1e4])
def test_translation_out_of_frame_gives_an_empty_image_and_identity_pose(shift):
    blob = torch.zeros(2, 1, 12, 12)
    blob[:, :, 4:8, 5:9] = 1.0
    moved = ii.transform_images(blob, torch.tensor([0.3, 2.0]), torch.tensor([[shift, 0.0], [0.0, -shift]]))
    assert torch.equal(moved, torch.zeros_like(moved))  # nothing left in frame, and no NaN
    assert torch.equal(ii.center_of_mass(moved), torch.zeros(2, 2))
    for rule in ("com", "moments"):
        theta, tau = ii.canonical_pose(moved, rule)
        assert _all_finite(theta, tau) and float(tau.abs().max()) == 0.0


@pytest.mark.parametrize("pose_mode, rule", POSE_MODES)
def test_model_on_out_of_frame_and_edge_objects(pose_mode, rule):
    model = tiny(pose=pose_mode, canonical_rule=rule, translation_std=5.0)  # the loss itself moves objects out of frame
    edge = torch.zeros(3, 1, 12, 12)
    edge[:, :, 0, 0] = 1.0  # a single corner pixel: the largest possible centre of mass
    _check_end_to_end(model, edge)
    z = torch.randn(2, 4)
    far = model.render(z, theta=torch.tensor([1.0, -7.0]), tau=torch.tensor([[1e6, 0.0], [0.0, -1e6]]))
    assert _all_finite(far)


def test_float64_and_large_batch_are_fine():
    model = tiny().double()
    batch = images(5).double()
    _check_end_to_end(model, batch)


# ---------------------------------------------------------------------- switching checks off
def test_checks_can_be_switched_off_and_back_on():
    model = tiny().eval()
    bad = images(fill=NAN)
    with pytest.raises(ValueError, match="NaN"):
        model.encode(bad)
    with ii.checks_disabled():
        assert not ii.checks_enabled()
        enc = model.encode(bad)  # no check, no error: NaN goes through as NaN
        assert not bool(torch.isfinite(enc.z).all())
        center = ii.center_of_mass(images(fill=INF))
        assert not bool(torch.isfinite(center).all())
    assert ii.checks_enabled()
    with pytest.raises(ValueError, match="NaN"):
        model.encode(bad)


def test_checks_disabled_restores_the_switch_after_an_exception():
    with pytest.raises(RuntimeError, match="inside"):
        with ii.checks_disabled():
            raise RuntimeError("inside")
    assert ii.checks_enabled()


def test_set_checks_enabled_is_global_until_turned_back_on():
    try:
        ii.set_checks_enabled(False)
        out = ii.transform_images(images(), torch.tensor([0.0, NAN]), torch.zeros(2, 2))  # theta NaN not checked
        assert out.shape == (2, 1, 12, 12)
    finally:
        ii.set_checks_enabled(True)
    with pytest.raises(ValueError, match="theta contains 1 NaN"):
        ii.transform_images(images(), torch.tensor([0.0, NAN]), torch.zeros(2, 2))


def test_checks_disabled_inside_nested_blocks():
    with ii.checks_disabled():
        with ii.checks_disabled():
            assert not ii.checks_enabled()
        assert not ii.checks_enabled()
    assert ii.checks_enabled()


# ------------------------------------------- metrics, clustering, datasets (modules by other authors)
# Checked as they stand; problems found are reported to their authors, not patched here. Cases whose
# answer is not yet a clear error are marked xfail with the reason, so they are visible in ``-ra``.
try:
    from invariant_inr import cluster as _cluster
    from invariant_inr import datasets as _datasets
    from invariant_inr import metrics as _metrics
except ImportError:  # pragma: no cover - the modules are being written in parallel
    _metrics = _cluster = _datasets = None

_needs_modules = pytest.mark.skipif(_metrics is None, reason="metrics/cluster/datasets not available")


def _features(n: int = 20, d: int = 4, fill: float | None = None) -> torch.Tensor:
    out = torch.randn(n, d, generator=torch.Generator().manual_seed(0))
    if fill is not None:
        out[1, 1] = fill
    return out


def _empty_image_folder(factory):
    return factory.mktemp("no_images")


OTHER_CASES = [] if _metrics is None else [
    # metrics: labels and predictions
    ("clustering_accuracy-lengths", lambda f: _metrics.clustering_accuracy([0, 1, 1], [0, 1]), ValueError,
     r"labels and predictions must have the same length, got 3 and 2"),
    ("clustering_accuracy-empty", lambda f: _metrics.clustering_accuracy([], []), ValueError, r"labels is empty"),
    ("clustering_accuracy-2d", lambda f: _metrics.clustering_accuracy(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long)),
     ValueError, r"labels must be one-dimensional \(N,\), got shape \(2, 2\)"),
    ("clustering_accuracy-probabilities", lambda f: _metrics.clustering_accuracy([0, 1], [0.2, 0.9]), TypeError,
     r"predictions must hold integer labels, got floating values that are not whole numbers"),
    ("clustering_accuracy-nan", lambda f: _metrics.clustering_accuracy([NAN, 1.0], [0, 1]), TypeError, r"labels must hold integer labels"),
    ("clustering_accuracy-str", lambda f: _metrics.clustering_accuracy("abc", [0, 1, 2]), TypeError,
     r"labels must be a torch.Tensor, a numpy array or a list of integers, got str"),
    ("clustering_accuracy-mapping", lambda f: _metrics.clustering_accuracy([0, 1], [0, 1], mapping="greedy"), ValueError,
     r"mapping must be one of \['hungarian', 'majority'\], got 'greedy'"),
    ("normalized_mutual_info-lengths", lambda f: _metrics.normalized_mutual_info([0, 1], [0]), ValueError,
     r"same length, got 2 and 1"),
    ("normalized_mutual_info-average", lambda f: _metrics.normalized_mutual_info([0, 1], [0, 1], average="median"), ValueError,
     r"average must be one of .* got 'median'"),
    ("adjusted_rand_index-lengths", lambda f: _metrics.adjusted_rand_index([0, 1], [0, 1, 2]), ValueError, r"same length, got 2 and 3"),
    ("confusion_matrix-lengths", lambda f: _metrics.confusion_matrix([0, 1], [0, 1, 1]), ValueError, r"same length, got 2 and 3"),
    ("confusion_matrix-num-classes", lambda f: _metrics.confusion_matrix([0, 5], [0, 1], num_classes=2), ValueError,
     r"labels go up to 5 but num_classes is 2"),
    ("match_clusters-lengths", lambda f: _metrics.match_clusters([0, 1], [0]), ValueError, r"same length, got 2 and 1"),
    # metrics: poses
    ("rotation_error-lengths", lambda f: _metrics.rotation_error(torch.zeros(3), torch.zeros(2)), ValueError,
     r"must have the same length N, got \{'true': 3, 'pred': 2\}"),
    ("rotation_error-nan", lambda f: _metrics.rotation_error(torch.tensor([NAN]), torch.zeros(1)), ValueError, r"true contains NaN or infinite"),
    ("rotation_error-empty", lambda f: _metrics.rotation_error(torch.zeros(0), torch.zeros(0)), ValueError, r"true is empty"),
    ("rotation_error-2d", lambda f: _metrics.rotation_error(torch.zeros(3, 2), torch.zeros(3, 2)), ValueError,
     r"true must have shape \(N,\), got \(3, 2\)"),
    ("circular_correlation-lengths", lambda f: _metrics.circular_correlation(torch.zeros(3), torch.zeros(2)), ValueError,
     r"same length N, got \{'a': 3, 'b': 2\}"),
    ("circular_correlation-method", lambda f: _metrics.circular_correlation(torch.rand(5), torch.rand(5), method="x"), ValueError,
     r"method must be one of \['fisher_lee', 'jammalamadaka'\], got 'x'"),
    ("pose_recovery-lengths", lambda f: _metrics.pose_recovery(torch.zeros(3), torch.zeros(3, 2), torch.zeros(2), torch.zeros(2, 2)), ValueError,
     r"same length N, got \{'theta_true': 3, 'tau_true': 3, 'theta_hat': 2, 'tau_hat': 2\}"),
    ("pose_recovery-tau-shape", lambda f: _metrics.pose_recovery(torch.zeros(3), torch.zeros(3, 3), torch.zeros(3), torch.zeros(3, 3)), ValueError,
     r"tau_true must have shape \(N, 2\), got \(3, 3\)"),
    ("relative_pose-convention", lambda f: _metrics.relative_pose(*pose(3), *pose(3), convention="x"), ValueError,
     r"convention must be one of \['to_canonical', 'from_canonical'\], got 'x'"),
    # clustering
    ("kmeans-zero-clusters", lambda f: _cluster.kmeans(_features(), 0), ValueError,
     r"num_clusters must be between 1 and the number of samples \(20\), got 0"),
    ("kmeans-more-clusters-than-samples", lambda f: _cluster.kmeans(_features(), 50), ValueError,
     r"num_clusters must be between 1 and the number of samples \(20\), got 50"),
    ("kmeans-float-clusters", lambda f: _cluster.kmeans(_features(), 2.0), TypeError, r"num_clusters must be an int, got float 2.0"),
    ("kmeans-nan", lambda f: _cluster.kmeans(_features(fill=NAN), 2), ValueError, r"features contains 1 NaN or infinite value"),
    ("kmeans-empty", lambda f: _cluster.kmeans(torch.zeros(0, 4), 2), ValueError, r"features must be non-empty, got shape \(0, 4\)"),
    ("kmeans-1d", lambda f: _cluster.kmeans(torch.zeros(10), 2), ValueError, r"features must have shape \(N, D\), got \(10,\)"),
    ("kmeans-str", lambda f: _cluster.kmeans("abc", 2), TypeError, r"features must be a torch.Tensor or a numpy array of shape \(N, D\), got str"),
    ("kmeans-num-init", lambda f: _cluster.kmeans(_features(), 2, num_init=0), ValueError, r"num_init must be >= 1, got 0"),
    ("kmeans-negative-tol", lambda f: _cluster.kmeans(_features(), 2, tol=-1), ValueError, r"tol must be >= 0, got -1.0"),
    ("agglomerative-linkage", lambda f: _cluster.agglomerative(_features(), 2, linkage="centroid"), ValueError,
     r"linkage must be one of \['ward', 'complete', 'average', 'single'\], got 'centroid'"),
    ("cluster-method", lambda f: _cluster.cluster(_features(), "dbscan", num_clusters=2), ValueError,
     r"method must be one of \['kmeans', 'agglomerative', 'scan'\], got 'dbscan'"),
    ("mine_neighbors-k-too-large", lambda f: _cluster.mine_neighbors(_features(), 20), ValueError,
     r"k must be between 1 and N - 1 = 19 .* got 20"),
    ("mine_neighbors-metric", lambda f: _cluster.mine_neighbors(_features(), 2, metric="l1"), ValueError,
     r"metric must be one of \['cosine', 'euclidean'\], got 'l1'"),
    ("scan_loss-shapes", lambda f: _cluster.scan_loss(torch.zeros(3, 4), torch.zeros(2, 4)), ValueError,
     r"anchor_logits and neighbor_logits must have the same shape, got \(3, 4\) and \(2, 4\)"),
    ("scan_loss-int", lambda f: _cluster.scan_loss(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long)), TypeError,
     r"anchor_logits must be a floating-point tensor"),
    ("ClusteringHead-features", lambda f: _cluster.ClusteringHead(4, 2)(torch.zeros(3, 5)), ValueError,
     r"features must have shape \(B, 4\), got \(3, 5\)"),
    ("random_rotate_translate-rank3", lambda f: _cluster.random_rotate_translate(torch.zeros(3, 8, 8)), ValueError,
     r"images must have shape \(B, C, H, W\), got 3 dimensions"),
    ("random_rotate_translate-negative", lambda f: _cluster.random_rotate_translate(torch.zeros(2, 1, 8, 8), -1.0), ValueError,
     r"max_translation must be >= 0, got -1.0"),
    ("SCAN-threshold", lambda f: _cluster.SCAN(2, confidence_threshold=1.5), ValueError, r"confidence_threshold must be in \(0, 1\), got 1.5"),
    ("SCAN-nan-features", lambda f: _cluster.SCAN(2, epochs=1, self_label_epochs=0).fit(torch.full((20, 4), NAN)), ValueError,
     r"contains 80 NaN or infinite value"),
    ("save_assignments-index-length", lambda f: _cluster.save_assignments(f.mktemp("a") / "a.csv", [0, 1, 2], index=["a", "b"]), ValueError,
     r"index has 2 entries but there are 3 assignments"),
    # datasets
    ("read_idx-junk", lambda f: _datasets.read_idx(_text_file(f)), ValueError, r"is not an unsigned-byte IDX file: magic number"),
    ("load_mnist-split", lambda f: _datasets.load_mnist(f.mktemp("m"), "val"), ValueError, r"split must be one of \['train', 'test'\], got 'val'"),
    ("load_mnist-missing", lambda f: _datasets.load_mnist(f.mktemp("m")), FileNotFoundError,
     r"MNIST train split not found: looked for train-images-idx3-ubyte"),
    ("embed_digits-rank4", lambda f: _datasets.embed_digits(torch.zeros(2, 1, 28, 28), 50), ValueError,
     r"digits must have shape \(N, h, w\), got \(2, 1, 28, 28\)"),
    ("embed_digits-size-too-small", lambda f: _datasets.embed_digits(torch.zeros(2, 28, 28), 10), ValueError, r"size must be >= 28, got 10"),
    ("render_sprites-lengths", lambda f: _datasets.render_sprites(torch.zeros(3, dtype=torch.long), torch.ones(2), torch.zeros(3), torch.zeros(3, 2)),
     ValueError, r"scale must have shape \(3,\), got \(2,\)"),
    ("render_sprites-label-range", lambda f: _datasets.render_sprites(torch.tensor([7]), torch.ones(1), torch.zeros(1), torch.zeros(1, 2)),
     ValueError, r"labels must be in 0..2"),
    ("make_sprites-zero", lambda f: _datasets.make_sprites(0), ValueError, r"num_samples must be >= 1, got 0"),
    ("make_sprites-absurd-size", lambda f: _datasets.make_sprites(4, size=10**6), ValueError, r"must be between 2 and 8192, got 1000000"),
    ("make_sprites-scale-range", lambda f: _datasets.make_sprites(4, scale_range=(1.0, 0.5)), ValueError,
     r"scale_range must have low <= high, got \(1.0, 0.5\)"),
    ("make_sprites-negative-std", lambda f: _datasets.make_sprites(4, translation_std=-0.1), ValueError, r"translation_std must be >= 0, got -0.1"),
    ("ImageFolderDataset-empty", lambda f: _datasets.ImageFolderDataset(_empty_image_folder(f)), ValueError, r"no image files .* found under"),
    ("as_dataset-empty", lambda f: _datasets.as_dataset(torch.zeros(0, 1, 8, 8)), ValueError, r"data is empty \(shape \(0, 1, 8, 8\)\)"),
    ("as_dataset-nan", lambda f: _datasets.as_dataset(images(fill=NAN)), ValueError, r"data contains 1 NaN or infinite value"),
    ("as_dataset-rank3", lambda f: _datasets.as_dataset(torch.zeros(2, 8, 8)), ValueError, r"data must have shape \(N, C, H, W\), got 3 dimensions"),
    ("as_dataset-label-length", lambda f: _datasets.as_dataset(torch.zeros(2, 1, 8, 8), labels=torch.zeros(3)), ValueError,
     r"labels must have shape \(2,\), got \(3,\)"),
    ("as_dataset-str", lambda f: _datasets.as_dataset("folder/"), TypeError, r"data must be a tensor or numpy array .* got str"),
]

OTHER_CASES += [] if _metrics is None else [
    ("circular_correlation-constant-input", lambda f: _metrics.circular_correlation(torch.zeros(5), torch.rand(5)), ValueError,
     r"constant|variance"),
    ("circular_correlation-one-sample", lambda f: _metrics.circular_correlation(torch.rand(1), torch.rand(1)), ValueError,
     r"at least 2"),
    ("embed_digits-empty-batch", lambda f: _datasets.embed_digits(torch.zeros(0, 28, 28), 50), ValueError, r"empty"),
    ("embed_digits-nan", lambda f: _datasets.embed_digits(torch.full((2, 28, 28), NAN), 50), ValueError, r"NaN"),
    ("MNISTU-bad-size", lambda f: _datasets.MNISTU(f.mktemp("m"), size=-5), ValueError, r"size"),
]


@_needs_modules
@pytest.mark.parametrize("thunk, error, match", [pytest.param(t, e, m, id=i) for i, t, e, m in OTHER_CASES])
def test_metrics_cluster_datasets_reject_bad_input(thunk, error, match, tmp_path_factory):
    check_rejects(lambda: thunk(tmp_path_factory), error, match)
