"""Shared test configuration: ``device``/``dtype`` fixtures and hypothesis profiles.

Options (command line first, then environment variable, then default):

* ``--device {cpu,cuda,all}`` / ``INVARIANT_INR_DEVICE``; default ``all`` = the CPU plus CUDA
  when ``torch.cuda.is_available()``. Asking for ``cuda`` on a machine without it gives CUDA cases
  that are skipped, with the reason.
* ``--dtype {float32,float64,all}`` / ``INVARIANT_INR_DTYPE``; default ``all``.
* ``HYPOTHESIS_PROFILE`` = ``ci`` (default: 25 examples per property) or ``dev`` (200 examples).

A test that takes a ``device`` or ``dtype`` argument is run once per selected value. Random numbers
in the tests are drawn on the CPU with a seeded generator and then moved, so every device sees the
same data (kornia's practice).
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

_DEVICE_CHOICES = ("cpu", "cuda", "all")
_DTYPE_CHOICES = ("float32", "float64", "all")

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("invariant-inr")
    group.addoption(
        "--device",
        action="store",
        default=None,
        choices=_DEVICE_CHOICES,
        help="devices to test on (default: $INVARIANT_INR_DEVICE or 'all' = cpu plus cuda when available)",
    )
    group.addoption(
        "--dtype",
        action="store",
        default=None,
        choices=_DTYPE_CHOICES,
        help="floating dtypes to test with (default: $INVARIANT_INR_DTYPE or 'all')",
    )


def _option(config: pytest.Config, name: str, env: str, choices: tuple[str, ...]) -> str:
    value = config.getoption(name) or os.environ.get(env) or "all"
    if value not in choices:
        raise pytest.UsageError(f"{env} must be one of {list(choices)}, got {value!r}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    """Reject bad environment variables once, before collection."""
    _option(config, "--device", "INVARIANT_INR_DEVICE", _DEVICE_CHOICES)
    _option(config, "--dtype", "INVARIANT_INR_DTYPE", _DTYPE_CHOICES)


def _device_params(config: pytest.Config) -> list:
    choice = _option(config, "--device", "INVARIANT_INR_DEVICE", _DEVICE_CHOICES)
    has_cuda = torch.cuda.is_available()
    names = ["cpu", "cuda"] if choice == "all" and has_cuda else ["cpu"] if choice == "all" else [choice]
    params = []
    for name in names:
        marks = []
        if name == "cuda":
            marks = [pytest.mark.cuda, pytest.mark.skipif(not has_cuda, reason="CUDA requested but torch.cuda.is_available() is False")]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def _dtype_params(config: pytest.Config) -> list:
    choice = _option(config, "--dtype", "INVARIANT_INR_DTYPE", _DTYPE_CHOICES)
    names = ["float32", "float64"] if choice == "all" else [choice]
    return [pytest.param(getattr(torch, name), id=name) for name in names]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        params = [pytest.param(torch.device(p.values[0]), marks=p.marks, id=p.id) for p in _device_params(metafunc.config)]
        metafunc.parametrize("device", params)
    if "dtype" in metafunc.fixturenames:
        metafunc.parametrize("dtype", _dtype_params(metafunc.config))


def pytest_report_header(config: pytest.Config) -> list[str]:
    device = _option(config, "--device", "INVARIANT_INR_DEVICE", _DEVICE_CHOICES)
    dtype = _option(config, "--dtype", "INVARIANT_INR_DTYPE", _DTYPE_CHOICES)
    return [
        f"invariant-inr: device={device} (cuda available: {torch.cuda.is_available()}), dtype={dtype}, "
        f"hypothesis profile={os.environ.get('HYPOTHESIS_PROFILE', 'ci')}"
    ]
