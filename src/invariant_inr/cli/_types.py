"""Argument types of the command line: numbers with a lower bound and comma-separated widths.

Each type is an ``argparse`` ``type=`` callable that raises ``argparse.ArgumentTypeError`` with
a message saying what was expected and what came, so every flag reports bad values the same way.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["int_list", "non_negative_float", "non_negative_int", "positive_float", "positive_int"]


def _bounded(kind: type, *, strict: bool, expected: str) -> Callable[[str], int | float]:
    """An argument type parsing ``kind`` that must be ``> 0`` (``strict``) or ``>= 0``, and finite."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not math.isfinite(value) or (value <= 0 if strict else value < 0):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = parse.__qualname__ = expected.replace(" ", "_")  # argparse names the type in some messages
    return parse


positive_int = _bounded(int, strict=True, expected="a positive integer")
non_negative_int = _bounded(int, strict=False, expected="an integer >= 0")
positive_float = _bounded(float, strict=True, expected="a positive finite number")
non_negative_float = _bounded(float, strict=False, expected="a finite number >= 0")


def int_list(text: str) -> tuple[int, ...]:
    """``"256,256"`` -> ``(256, 256)``: positive integers separated by commas.

    Example:
        >>> int_list("256, 128")
        (256, 128)
    """
    try:
        values = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 256,256, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers such as 256,256, got {text!r}")
    return values
