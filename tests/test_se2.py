"""Property tests of :mod:`invariant_inr.se2`: group laws, points, image warps, gradients, errors.

Exact identities (group laws, multiples of 90 degrees, whole-pixel shifts) are checked with the
rounding tolerances of :func:`invariant_inr.testing.tolerances`; arbitrary angles are compared with
analytically rendered smooth images on a central disk with
:func:`invariant_inr.testing.interpolation_tolerance` (its bound is derived in ``testing.py``).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import invariant_inr as ii
from invariant_inr import se2, testing
from invariant_inr.se2 import (
    ImageTransform,
    compose,
    coordinate_grid,
    grid_spacing,
    inverse,
    random_pose,
    rotation_matrix,
    transform_images,
    transform_points,
    wrap_angle,
)

F64 = torch.float64
seeds = st.integers(min_value=0, max_value=2**31 - 1)
quarter_turns = st.integers(min_value=-5, max_value=5)


# ----------------------------------------------------------------------------- helpers
def _rand(*shape: int, seed: int, device: torch.device | str = "cpu", dtype: torch.dtype = F64) -> torch.Tensor:
    """Uniform [0, 1) numbers drawn on the CPU in float64, then moved (same data on every device)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=F64).to(device=device, dtype=dtype)


def _randn(*shape: int, seed: int, device: torch.device | str = "cpu", dtype: torch.dtype = F64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64).to(device=device, dtype=dtype)


def _poses(batch: int, seed: int, device: torch.device | str = "cpu", dtype: torch.dtype = F64, *, spread: float = 4.0):
    """Random poses with angles anywhere in (-spread*pi, spread*pi) and translations of order 1."""
    theta = (_rand(batch, seed=seed) * 2.0 - 1.0) * spread * math.pi
    tau = _randn(batch, 2, seed=seed + 1)
    return theta.to(device=device, dtype=dtype), tau.to(device=device, dtype=dtype)


def _assert_same_pose(pose_a, pose_b, dtype: torch.dtype = F64) -> None:
    """Poses are equal as maps: same rotation (compared through cos/sin, so 0 == 2*pi) and translation."""
    (theta_a, tau_a), (theta_b, tau_b) = pose_a, pose_b
    testing.assert_close(torch.cos(theta_a), torch.cos(theta_b), dtype=dtype)
    testing.assert_close(torch.sin(theta_a), torch.sin(theta_b), dtype=dtype)
    testing.assert_close(tau_a, tau_b, dtype=dtype)


def _quarter_pose(ks, dx, dy, size: tuple[int, int], device, dtype):
    """theta = k*pi/2 and tau = whole-pixel shifts (dx right, dy up), per sample."""
    step = grid_spacing(*size)
    theta = torch.tensor([k * math.pi / 2 for k in ks], dtype=F64)
    tau = torch.tensor([[a * step, b * step] for a, b in zip(dx, dy)], dtype=F64)
    return theta.to(device=device, dtype=dtype), tau.to(device=device, dtype=dtype)


def _shift_zero_fill(image: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move the content of ``(..., H, W)`` by ``dx`` columns right and ``dy`` rows up; zeros come in."""
    height, width = image.shape[-2:]
    out = torch.roll(image, shifts=(-dy, dx), dims=(-2, -1))
    if dy > 0:
        out[..., max(height - dy, 0) :, :] = 0
    elif dy < 0:
        out[..., : -dy, :] = 0
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, max(width + dx, 0) :] = 0
    return out


# ----------------------------------------------------------------------------- group laws (float64, tight)
@given(seed=seeds, batch=st.integers(1, 5))
def test_compose_is_associative(device, seed, batch):
    a, b, c = (_poses(batch, seed + 10 * i, device) for i in range(3))
    left = compose(*compose(*a, *b), *c)
    right = compose(*a, *compose(*b, *c))
    _assert_same_pose(left, right)


@given(seed=seeds, batch=st.integers(1, 5))
def test_identity_is_neutral(device, seed, batch):
    pose = _poses(batch, seed, device)
    identity = (torch.zeros(batch, dtype=F64, device=device), torch.zeros(batch, 2, dtype=F64, device=device))
    _assert_same_pose(compose(*pose, *identity), pose)
    _assert_same_pose(compose(*identity, *pose), pose)


@given(seed=seeds, batch=st.integers(1, 5))
def test_inverse_on_both_sides(device, seed, batch):
    pose = _poses(batch, seed, device)
    identity = (torch.zeros(batch, dtype=F64, device=device), torch.zeros(batch, 2, dtype=F64, device=device))
    inv = inverse(*pose)
    _assert_same_pose(compose(*pose, *inv), identity)
    _assert_same_pose(compose(*inv, *pose), identity)
    _assert_same_pose(inverse(*inv), pose)


@given(seed=seeds, batch=st.integers(1, 4), n_points=st.integers(1, 6))
def test_compose_agrees_with_points_in_sequence(device, seed, batch, n_points):
    first, second = _poses(batch, seed, device), _poses(batch, seed + 7, device)
    points = _randn(n_points, 2, seed=seed + 3, device=device)
    in_sequence = transform_points(transform_points(points, *first), *second)  # second after first
    at_once = transform_points(points, *compose(*second, *first))
    testing.assert_close(in_sequence, at_once)
    back = transform_points(in_sequence, *inverse(*compose(*second, *first)))
    testing.assert_close(back, points.expand(batch, -1, -1))


@given(seed=seeds, batch=st.integers(1, 6))
def test_rotation_matrix_is_orthonormal_with_det_one(device, seed, batch):
    theta = _poses(batch, seed, device)[0]
    rot = rotation_matrix(theta)
    assert rot.shape == (batch, 2, 2)
    eye = torch.eye(2, dtype=F64, device=device).expand(batch, 2, 2)
    testing.assert_close(rot @ rot.transpose(-1, -2), eye)
    testing.assert_close(torch.linalg.det(rot), torch.ones(batch, dtype=F64, device=device))
    # counter-clockwise: R e_x has a positive y component for theta in (0, pi)
    quarter = rotation_matrix(torch.tensor([math.pi / 2], dtype=F64, device=device))
    testing.assert_close(quarter[0] @ torch.tensor([1.0, 0.0], dtype=F64, device=device), torch.tensor([0.0, 1.0], dtype=F64, device=device))


@given(theta=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
@example(theta=-1e-20)  # torch.remainder rounds this to exactly 2*pi
@example(theta=-2 * math.pi)
@example(theta=2 * math.pi)
@example(theta=0.0)
def test_wrap_angle_range_and_equivalence(theta):
    for dtype in (torch.float32, F64):
        value = torch.tensor([theta], dtype=dtype)
        wrapped = wrap_angle(value)
        two_pi = torch.tensor(2 * math.pi, dtype=dtype)
        assert bool((wrapped >= 0).all()) and bool((wrapped < two_pi).all()), (theta, wrapped.item())
    # the same angle: compare in float64 (the float32 remainder of a large angle is only good to its ulp)
    wrapped = wrap_angle(torch.tensor([theta], dtype=F64))
    tol = 1e-12 * max(1.0, abs(theta))
    assert abs(math.cos(wrapped.item()) - math.cos(theta)) <= tol
    assert abs(math.sin(wrapped.item()) - math.sin(theta)) <= tol


@given(seed=seeds, batch=st.integers(1, 4), n_points=st.integers(1, 5), per_sample=st.booleans())
def test_transform_points_matches_explicit_formula(device, dtype, seed, batch, n_points, per_sample):
    theta, tau = _poses(batch, seed, device, dtype)
    shape = (batch, n_points, 2) if per_sample else (n_points, 2)
    points = _randn(*shape, seed=seed + 5, device=device, dtype=dtype)
    out = transform_points(points, theta, tau)
    assert out.shape == (batch, n_points, 2) and out.dtype == dtype
    expected = torch.empty(batch, n_points, 2, dtype=F64)
    for b in range(batch):  # slow reference: R(theta) @ (p + tau), written out with Python floats
        c, s = math.cos(theta[b].item()), math.sin(theta[b].item())
        for n in range(n_points):
            x, y = (points[b, n] if per_sample else points[n]).tolist()
            x, y = x + tau[b, 0].item(), y + tau[b, 1].item()
            expected[b, n, 0], expected[b, n, 1] = c * x - s * y, s * x + c * y
    testing.assert_close(out, expected.to(device=device, dtype=dtype))


def test_transform_points_grid_shaped_points(device):
    theta, tau = _poses(2, 0, device)
    grid = coordinate_grid(3, 4, device=device, dtype=F64).expand(2, 3, 4, 2)  # (B, H, W, 2)
    out = transform_points(grid, theta, tau)
    flat = transform_points(grid.reshape(2, -1, 2), theta, tau)
    testing.assert_close(out.reshape(2, -1, 2), flat)


# ----------------------------------------------------------------------------- coordinate grid
@pytest.mark.parametrize("size", [(2, 2), (5, 5), (6, 10), (10, 6), (7, 4)])
def test_coordinate_grid_convention(size):
    height, width = size
    grid = coordinate_grid(height, width, dtype=F64)
    step = grid_spacing(height, width)
    assert grid.shape == (height, width, 2)
    longer = grid[0, :, 0] if width >= height else grid[:, 0, 1]
    assert longer.abs().max().item() == pytest.approx(1.0, abs=1e-15)  # the longer side spans [-1, 1]
    testing.assert_close(grid.mean(dim=(0, 1)), torch.zeros(2, dtype=F64))  # centred
    testing.assert_close(grid[:, 1:, 0] - grid[:, :-1, 0], torch.full((height, width - 1), step, dtype=F64))  # x right
    testing.assert_close(grid[:-1, :, 1] - grid[1:, :, 1], torch.full((height - 1, width), step, dtype=F64))  # y up


# ----------------------------------------------------------------------------- exact image identities
@given(
    seed=seeds,
    size=st.integers(2, 12),
    batch=st.integers(1, 3),
    channels=st.integers(1, 3),
    data=st.data(),
)
def test_transform_images_quarter_turns_equal_rot90(device, dtype, seed, size, batch, channels, data):
    ks = data.draw(st.lists(quarter_turns, min_size=batch, max_size=batch), label="ks")
    mode = data.draw(st.sampled_from(["bilinear", "nearest", "bicubic"]), label="mode")
    images = _rand(batch, channels, size, size, seed=seed, device=device, dtype=dtype)
    theta, tau = _quarter_pose(ks, [0] * batch, [0] * batch, (size, size), device, dtype)
    out = transform_images(images, theta, tau, mode=mode)
    expected = torch.stack([torch.rot90(images[b], ks[b], dims=(-2, -1)) for b in range(batch)])
    testing.assert_close(out, expected)


@given(seed=seeds, height=st.integers(2, 9), width=st.integers(2, 9), batch=st.integers(1, 3), data=st.data())
def test_transform_images_whole_pixel_shifts_equal_roll_with_zero_fill(device, dtype, seed, height, width, batch, data):
    shift = st.integers(-max(height, width), max(height, width))
    dx = data.draw(st.lists(shift, min_size=batch, max_size=batch), label="dx")
    dy = data.draw(st.lists(shift, min_size=batch, max_size=batch), label="dy")
    mode = data.draw(st.sampled_from(["bilinear", "nearest", "bicubic"]), label="mode")
    images = _rand(batch, 2, height, width, seed=seed, device=device, dtype=dtype)
    theta, tau = _quarter_pose([0] * batch, dx, dy, (height, width), device, dtype)
    out = transform_images(images, theta, tau, mode=mode)
    expected = torch.stack([_shift_zero_fill(images[b], dx[b], dy[b]) for b in range(batch)])
    testing.assert_close(out, expected)


@given(seed=seeds, size=st.integers(2, 9), k=quarter_turns, dx=st.integers(-4, 4), dy=st.integers(-4, 4))
def test_shift_then_quarter_turn(device, seed, size, k, dx, dy):
    """S = R o T: the whole-pixel shift is applied first, then the quarter turn."""
    images = _rand(1, 1, size, size, seed=seed, device=device)
    theta, tau = _quarter_pose([k], [dx], [dy], (size, size), device, F64)
    expected = torch.rot90(_shift_zero_fill(images, dx, dy), k, dims=(-2, -1))
    testing.assert_close(transform_images(images, theta, tau), expected)


@pytest.mark.parametrize("size", [(6, 10), (10, 6), (5, 8), (2, 3)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_half_turn_of_non_square_images_flips_both_axes(device, dtype, size, mode):
    images = _rand(2, 3, *size, seed=1, device=device, dtype=dtype)
    theta = torch.tensor([math.pi, -math.pi], dtype=dtype, device=device)
    out = transform_images(images, theta, torch.zeros(2, 2, dtype=dtype, device=device), mode=mode)
    testing.assert_close(out, torch.flip(images, dims=(-2, -1)))


def test_identity_pose_returns_the_image(device, dtype):
    images = _rand(1, 1, 7, 5, seed=2, device=device, dtype=dtype)  # B = 1, non-square
    out = transform_images(images, torch.zeros(1, dtype=dtype, device=device), torch.zeros(1, 2, dtype=dtype, device=device))
    assert out.shape == (1, 1, 7, 5)
    testing.assert_close(out, images)


# ----------------------------------------------------------------------------- features move with the points
@given(seed=seeds, size=st.integers(3, 11), k=quarter_turns, dx=st.integers(-2, 2), dy=st.integers(-2, 2), data=st.data())
def test_bright_pixel_lands_on_transformed_point_exactly(device, seed, size, k, dx, dy, data):
    row = data.draw(st.integers(0, size - 1), label="row")
    col = data.draw(st.integers(0, size - 1), label="col")
    images = torch.zeros(1, 1, size, size, dtype=F64, device=device)
    images[0, 0, row, col] = 1.0
    theta, tau = _quarter_pose([k], [dx], [dy], (size, size), device, F64)
    target = transform_points(coordinate_grid(size, size, device=device, dtype=F64)[row, col].view(1, 2), theta, tau)[0, 0]
    out = transform_images(images, theta, tau)
    grid = coordinate_grid(size, size, device=device, dtype=F64)
    hit = (grid - target).norm(dim=-1) < 1e-9  # the pixel centre at the transformed point, if inside the frame
    expected = hit.to(F64).view(1, 1, size, size)
    testing.assert_close(out, expected)


@given(seed=seeds, theta=st.floats(-4 * math.pi, 4 * math.pi))
def test_bright_pixel_moves_to_transformed_point_at_any_angle(device, seed, theta):
    """Bilinear warping of a one-pixel spot gives the tent (1-|u|)(1-|v|) of the offset (u, v), in
    source pixels, between the pre-image of an output pixel and the spot. Some output pixel has a
    pre-image within sqrt(2)/2 px of the spot, so the peak is >= 1/4, and tent >= 1/4 forces a distance
    <= 3/4 px: the brightest output pixel lies within 3/4 px of transform_points(spot)."""
    size = 21
    step = grid_spacing(size, size)
    gen = torch.Generator().manual_seed(seed)
    row, col = (int(v) for v in torch.randint(6, size - 6, (2,), generator=gen))
    tau = ((torch.rand(1, 2, generator=gen, dtype=F64) * 2 - 1) * 3 * step).to(device)
    theta_t = torch.tensor([theta], dtype=F64, device=device)
    images = torch.zeros(1, 1, size, size, dtype=F64, device=device)
    images[0, 0, row, col] = 1.0
    grid = coordinate_grid(size, size, device=device, dtype=F64)
    target = transform_points(grid[row, col].view(1, 2), theta_t, tau)[0, 0]
    out = transform_images(images, theta_t, tau, mode="bilinear")
    peak = int(out.flatten().argmax())
    distance = (grid.reshape(-1, 2)[peak] - target).norm().item() / step
    assert distance <= 0.75 + 1e-9, distance
    assert out.max().item() >= 0.25 - 1e-12


# ----------------------------------------------------------------------------- arbitrary angles, loosely
def _smooth_scene(seed: int, batch: int, size: int, device, dtype):
    """Three Gaussian bumps of width 3 px, weights summing to 1, centred within 0.3 of the origin."""
    sigma = 3.0 * grid_spacing(size, size)
    radius = 0.3 * _rand(batch, 3, seed=seed).sqrt()
    angle = _rand(batch, 3, seed=seed + 1) * 2 * math.pi
    centers = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)  # (B, 3, 2)
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=F64).expand(batch, 3)
    return centers.to(device=device, dtype=dtype), weights.to(device=device, dtype=dtype), sigma


@given(seed=seeds, batch=st.integers(1, 3), mode=st.sampled_from(["bilinear", "bicubic"]))
def test_transform_images_matches_analytic_render_on_central_disk(device, dtype, seed, batch, mode):
    """Warping the rendered scene = rendering the scene at the moved centres, up to interpolation.

    Tolerance: interpolation_tolerance, i.e. the bilinear error bound 1/(4 sigma^2) = 0.028 for sigma =
    3 px and total weight 1 (bicubic is more accurate still). Compared on the disk of radius 0.6:
    with |tau| <= 0.3 its pre-image stays inside the frame, so no content enters from outside.
    """
    size = 33
    centers, weights, sigma = _smooth_scene(seed, batch, size, device, dtype)
    theta = ((_rand(batch, seed=seed + 2) * 2 - 1) * 2 * math.pi).to(device=device, dtype=dtype)
    tau = (0.2 * (_rand(batch, 2, seed=seed + 3) * 2 - 1)).to(device=device, dtype=dtype)  # |tau| <= 0.29
    images = testing.render_gaussians(centers, sigma, size, size, weights=weights)
    moved = testing.render_gaussians(transform_points(centers, theta, tau), sigma, size, size, weights=weights)
    warped = transform_images(images, theta, tau, mode=mode)
    mask = testing.central_disk_mask(size, size, 0.6, device=device)
    error = testing.equivariance_error(warped, moved, mask)
    assert error <= testing.interpolation_tolerance(dtype), error


@given(seed=seeds, batch=st.integers(1, 3))
def test_transform_then_inverse_returns_the_image_on_central_disk(device, dtype, seed, batch):
    """Two interpolations, each within interpolation_tolerance of the exact warp: 2x the tolerance."""
    size = 33
    centers, weights, sigma = _smooth_scene(seed, batch, size, device, dtype)
    images = testing.render_gaussians(centers, sigma, size, size, weights=weights)
    theta, tau = _poses(batch, seed + 4, device, dtype)
    tau = 0.15 * tau.clamp(-1, 1)
    back = transform_images(transform_images(images, theta, tau), *inverse(theta, tau))
    error = testing.equivariance_error(back, images, testing.central_disk_mask(size, size, 0.6, device=device))
    assert error <= 2 * testing.interpolation_tolerance(dtype), error


def test_assert_equivariant_accepts_pointwise_maps_and_rejects_a_mirror(device):
    size = 33
    centers, weights, sigma = _smooth_scene(3, 2, size, device, F64)
    images = testing.render_gaussians(centers, sigma, size, size, weights=weights)
    theta, tau = torch.tensor([0.7, -2.0], dtype=F64, device=device), torch.zeros(2, 2, dtype=F64, device=device)
    testing.assert_equivariant(torch.sigmoid, images, theta, tau)
    with pytest.raises(AssertionError, match="equivariance error"):
        testing.assert_equivariant(lambda x: x.flip(-1), images, theta, tau)


# ----------------------------------------------------------------------------- batching
@given(seed=seeds, batch=st.integers(1, 5), mode=st.sampled_from(["bilinear", "nearest", "bicubic"]))
def test_batched_poses_equal_per_sample_calls(device, dtype, seed, batch, mode):
    images = _rand(batch, 2, 9, 7, seed=seed, device=device, dtype=dtype)
    theta, tau = _poses(batch, seed + 1, device, dtype)
    tau = 0.3 * tau
    out = transform_images(images, theta, tau, mode=mode)
    for b in range(batch):  # slow reference: one call per sample
        single = transform_images(images[b : b + 1], theta[b : b + 1], tau[b : b + 1], mode=mode)
        testing.assert_close(out[b : b + 1], single)


def test_image_transform_module_matches_function(device, dtype):
    images = _rand(3, 2, 8, 8, seed=4, device=device, dtype=dtype)
    theta, tau = _poses(3, 5, device, dtype)
    module = ImageTransform(mode="bicubic", padding_mode="border")
    assert "bicubic" in repr(module) and "border" in repr(module)
    testing.assert_close(module(images, theta, tau), transform_images(images, theta, tau, mode="bicubic", padding_mode="border"))


def test_mixed_pose_dtype_follows_the_images(device):
    images = _rand(2, 1, 6, 6, seed=6, device=device, dtype=F64)
    theta, tau = _poses(2, 7, device, torch.float32)
    out = transform_images(images, theta, tau)
    assert out.dtype == F64 and out.shape == images.shape


# ----------------------------------------------------------------------------- random poses
def test_random_pose_is_reproducible_and_in_range(device, dtype):
    theta, tau = random_pose(500, 0.2, generator=torch.Generator().manual_seed(0), device=device, dtype=dtype)
    again = random_pose(500, 0.2, generator=torch.Generator().manual_seed(0), device=device, dtype=dtype)
    assert theta.shape == (500,) and tau.shape == (500, 2)
    assert theta.dtype == dtype and theta.device.type == device.type
    assert torch.equal(theta, again[0]) and torch.equal(tau, again[1])
    assert bool((theta >= 0).all()) and bool((theta <= 2 * math.pi).all())
    assert 0.1 < tau.std().item() < 0.3  # sigma = 0.2, 1000 draws
    zero_tau = random_pose(3, generator=torch.Generator().manual_seed(1))[1]
    assert torch.equal(zero_tau, torch.zeros(3, 2))


# ----------------------------------------------------------------------------- gradients and compile
def test_gradcheck_transform_images(device):
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(2, 2, 5, 6, generator=gen, dtype=F64).to(device).requires_grad_()
    theta = torch.tensor([0.3, 2.1], dtype=F64).to(device).requires_grad_()
    tau = (0.1 * torch.randn(2, 2, generator=gen, dtype=F64)).to(device).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, t, s: transform_images(x, t, s), (images, theta, tau))


def test_gradcheck_transform_points_and_compose(device):
    gen = torch.Generator().manual_seed(1)
    points = torch.randn(2, 3, 2, generator=gen, dtype=F64).to(device).requires_grad_()
    theta = torch.tensor([0.3, -1.2], dtype=F64).to(device).requires_grad_()
    tau = torch.randn(2, 2, generator=gen, dtype=F64).to(device).requires_grad_()
    assert torch.autograd.gradcheck(transform_points, (points, theta, tau))
    assert torch.autograd.gradcheck(lambda t, s: compose(t, s, *inverse(t.flip(0), s.flip(0))), (theta, tau))


@pytest.mark.parametrize(
    "backend",
    [
        "aot_eager",  # dynamo tracing + autograd, no code generation: seconds
        pytest.param("inductor", marks=pytest.mark.slow),  # C++/Triton code generation: tens of seconds cold
    ],
)
def test_torch_compile_matches_eager(device, backend):
    images = _rand(2, 1, 8, 8, seed=8, device=device)
    theta, tau = _poses(2, 9, device)
    eager = transform_images(images, theta, tau)
    with ii.checks_disabled():  # the finite check reads a tensor into Python and would break the graph
        compiled = torch.compile(transform_images, backend=backend, fullgraph=True)
        out = compiled(images, theta, tau)
    testing.assert_close(out, eager)


# ----------------------------------------------------------------------------- input errors
def _valid(device="cpu"):
    return torch.zeros(2, 1, 4, 4, device=device), torch.zeros(2, device=device), torch.zeros(2, 2, device=device)


@pytest.mark.parametrize(
    ("make", "error", "name"),
    [
        (lambda x, t, s: (x[0], t, s), ValueError, "images"),  # (C, H, W): wrong rank
        (lambda x, t, s: (x.long(), t, s), TypeError, "images"),
        (lambda x, t, s: (x.tolist(), t, s), TypeError, "images"),
        (lambda x, t, s: (x, t[:1], s), ValueError, "theta"),  # theta/tau length mismatch
        (lambda x, t, s: (x, t, torch.zeros(2, 3)), ValueError, "tau"),
        (lambda x, t, s: (x, t, torch.zeros(2)), ValueError, "tau"),
        (lambda x, t, s: (x, t.view(2, 1), s), ValueError, "theta"),
        (lambda x, t, s: (x, torch.tensor([0.0, float("nan")]), s), ValueError, "theta"),
        (lambda x, t, s: (x, t, torch.tensor([[0.0, 0.0], [float("inf"), 0.0]])), ValueError, "tau"),
        (lambda x, t, s: (x, t.long(), s), TypeError, "theta"),
        (lambda x, t, s: (x[:1], t, s), ValueError, "theta"),  # pose batch != image batch
    ],
)
def test_transform_images_rejects_bad_input(make, error, name):
    args = make(*_valid())
    with pytest.raises(error, match=name):
        transform_images(*args)


def test_transform_images_rejects_bad_options():
    with pytest.raises(ValueError, match="mode"):
        transform_images(*_valid(), mode="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="padding_mode"):
        transform_images(*_valid(), padding_mode="wrap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        ImageTransform(mode="area")  # type: ignore[arg-type]


def test_points_and_pose_functions_reject_bad_input():
    theta, tau = torch.zeros(2), torch.zeros(2, 2)
    with pytest.raises(ValueError, match="points"):
        transform_points(torch.zeros(3, 3), theta, tau)
    with pytest.raises(ValueError, match="points"):
        transform_points(torch.zeros(3, 4, 2), theta, tau)  # per-sample points, wrong batch
    with pytest.raises(TypeError, match="points"):
        transform_points(torch.zeros(3, 2, dtype=torch.int64), theta, tau)
    with pytest.raises(ValueError, match="theta2"):
        compose(theta, tau, torch.zeros(3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="tau1"):
        compose(theta, torch.zeros(2, 3), theta, tau)
    with pytest.raises(ValueError, match="theta"):
        inverse(torch.tensor([float("nan"), 0.0]), tau)
    with pytest.raises(ValueError, match="batch"):
        random_pose(0)
    with pytest.raises(TypeError, match="batch"):
        random_pose(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="translation_std"):
        random_pose(2, -0.1)
    with pytest.raises(ValueError, match="height"):
        coordinate_grid(1, 5)


def test_public_names():
    for name in se2.__all__:
        assert hasattr(se2, name), name
    for name in testing.__all__:
        assert hasattr(testing, name), name
