"""Argument checks shared by the numerical modules: each error names the argument and what was expected."""

from __future__ import annotations

import math
import numbers

import numpy as np


def integral(name: str, value) -> int:
    """``int(value)`` if ``value`` is an integral number, else ``ValueError`` naming ``name``.

    The one rule every ``deepnotes`` function uses for counts (depths, widths,
    steps): Python and NumPy integers are accepted, and so are floats with an
    integral value (``4.0``, as depths read from an array are); bools,
    non-integral or non-finite floats, strings and ``None`` are rejected.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if not math.isfinite(float(value)) or float(value) != int(value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def positive_int(name: str, value) -> int:
    """``value`` as an ``int`` if it is an integral number >= 1 (see :func:`integral`), else
    ``ValueError`` naming ``name``."""
    try:
        n = integral(name, value)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return n


def positive_float(name: str, value) -> float:
    """``float(value)`` if it is a finite number > 0, else ``ValueError`` naming ``name``.

    Strings and bools are not numbers here (``float("1")`` would accept one)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v
