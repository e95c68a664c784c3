"""Argument checks shared by the numerical modules: each error names the argument and what was expected."""

from __future__ import annotations

import math


def positive_int(name: str, value) -> int:
    """``value`` if it is an ``int`` >= 1 (not a ``bool``), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def positive_float(name: str, value) -> float:
    """``float(value)`` if it is a finite number > 0, else ``ValueError`` naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v
