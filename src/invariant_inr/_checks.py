"""Input checks used once, at the public boundary of every entry point.

Each helper raises :class:`TypeError` (wrong kind of object or dtype) or :class:`ValueError`
(wrong rank, size, or values) with a message that says what was expected and what came in.

The checks can be switched off on hot paths, as kornia does, with
:func:`set_checks_enabled` or the :func:`checks_disabled` context manager. They are cheap
(shape and dtype tests) except :func:`check_finite`, which reads the whole tensor once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch

__all__ = ["checks_disabled", "checks_enabled", "set_checks_enabled"]

_ENABLED = True


def set_checks_enabled(enabled: bool) -> None:
    """Turn the input checks of every public entry point on or off (they are on by default).

    Example:
        >>> import invariant_inr as ii
        >>> ii.set_checks_enabled(False); ii.checks_enabled()
        False
        >>> ii.set_checks_enabled(True); ii.checks_enabled()
        True
    """
    global _ENABLED
    _ENABLED = bool(enabled)


def checks_enabled() -> bool:
    """Whether input checks run (see :func:`set_checks_enabled`)."""
    return _ENABLED


@contextlib.contextmanager
def checks_disabled() -> Iterator[None]:
    """Context manager that switches the input checks off inside its block.

    Example:
        >>> import invariant_inr as ii
        >>> with ii.checks_disabled():
        ...     ii.checks_enabled()
        False
    """
    global _ENABLED
    previous = _ENABLED
    _ENABLED = False
    try:
        yield
    finally:
        _ENABLED = previous


def describe(value: Any) -> str:
    """A short description of ``value`` for error messages."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:200]


def check_tensor(value: Any, name: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(value)}")


def check_floating(value: torch.Tensor, name: str) -> None:
    check_tensor(value, name)
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float32/float64/bfloat16/float16), "
            f"got dtype {value.dtype}; convert with .float() (and scale uint8 images to [0, 1])"
        )


def check_images(
    images: Any,
    name: str = "images",
    *,
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    finite: bool = True,
) -> None:
    """Check a batch of images ``(B, C, H, W)``: floating, non-empty, at least 2x2, finite."""
    if not _ENABLED:
        return
    check_floating(images, name)
    if images.ndim != 4:
        hint = " (add a batch axis with images.unsqueeze(0))" if images.ndim == 3 else ""
        raise ValueError(
            f"{name} must have shape (B, C, H, W), got {images.ndim} dimensions "
            f"{tuple(images.shape)}{hint}"
        )
    batch, chans, height, width = images.shape
    if batch == 0:
        raise ValueError(f"{name} is an empty batch (B = 0); give at least one image")
    if height < 2 or width < 2:
        raise ValueError(f"{name} must be at least 2x2 pixels, got {height}x{width}")
    if channels is not None and chans != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got {chans} (shape {tuple(images.shape)})")
    if size is not None and (height, width) != tuple(size):
        raise ValueError(
            f"{name} must be {size[0]}x{size[1]} pixels for this model, got {height}x{width}; "
            f"resize them (torch.nn.functional.interpolate) or build the model with image_size=({height}, {width})"
        )
    if finite:
        check_finite(images, name)


def check_finite(value: torch.Tensor, name: str) -> None:
    if not _ENABLED:
        return
    if not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); clean the data first")


def check_pose(theta: Any, tau: Any, batch: int | None = None, *, theta_name: str = "theta", tau_name: str = "tau") -> None:
    """Check per-sample angles ``(B,)`` and translations ``(B, 2)`` that agree in ``B``."""
    if not _ENABLED:
        return
    check_floating(theta, theta_name)
    check_floating(tau, tau_name)
    if theta.ndim != 1:
        raise ValueError(f"{theta_name} must have shape (B,), got {tuple(theta.shape)}")
    if tau.ndim != 2 or tau.shape[-1] != 2:
        raise ValueError(f"{tau_name} must have shape (B, 2), got {tuple(tau.shape)}")
    if theta.shape[0] != tau.shape[0]:
        raise ValueError(
            f"{theta_name} and {tau_name} must have the same batch size, got {theta.shape[0]} and {tau.shape[0]}"
        )
    if batch is not None and theta.shape[0] != batch:
        raise ValueError(f"{theta_name}/{tau_name} have batch size {theta.shape[0]} but the images have {batch}")
    check_finite(theta, theta_name)
    check_finite(tau, tau_name)


def check_points(points: Any, name: str = "points") -> None:
    if not _ENABLED:
        return
    check_floating(points, name)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) or (B, N, 2) of (x, y) coordinates, got {tuple(points.shape)}")


def check_positive_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {describe(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {describe(value)}")
    value = float(value)
    if not (value == value) or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def as_size(value: Any, name: str = "size") -> tuple[int, int]:
    """Normalise an int or an ``(H, W)`` pair to ``(H, W)``, each at least 2."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be an int or a (height, width) pair, got {describe(value)}")
    height = check_positive_int(value[0], f"{name}[0] (height)", minimum=2, maximum=8192)
    width = check_positive_int(value[1], f"{name}[1] (width)", minimum=2, maximum=8192)
    return height, width
