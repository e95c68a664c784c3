"""Argument checks for the SymPy derivations: each error names the argument.

The numerical rules (counts, positive numbers, choices) are :mod:`deepnotes.checks`;
these add the symbolic kinds of argument: an expression (a SymPy expression or a real
number, never a string, which SymPy would parse, nor a bool), a symbol, a column
matrix and a flag.  A symbolic argument is refused only when SymPy can tell it breaks
the rule (``-alpha`` is not positive when ``alpha`` is a positive symbol); a free
symbol without assumptions passes.
"""

from __future__ import annotations

import numbers

import numpy as np
import sympy as sp

from deepnotes.checks import integral

__all__: list[str] = []

_SIGNS = {
    "positive": ("is_positive", "positive"),
    "nonnegative": ("is_nonnegative", "non-negative"),
    "real": ("is_extended_real", "real"),
}


def expr(name: str, value, sign: str | None = None, *, finite: bool = True) -> sp.Expr:
    """``value`` as a SymPy expression if it is one or a real number, else ``TypeError``.

    ``finite``: a number or expression holding NaN or an infinity is a ``ValueError``;
    ``sign`` (``"positive"``, ``"nonnegative"``, ``"real"``): a ``ValueError`` when SymPy
    knows the value breaks it.
    """
    if isinstance(value, (bool, np.bool_, sp.MatrixBase)) or not isinstance(
        value, (sp.Expr, numbers.Real)
    ):
        shown = repr(value) if len(repr(value)) < 60 else type(value).__name__
        raise TypeError(f"{name} must be a SymPy expression or a real number, got {shown}")
    e = sp.sympify(value)
    if finite and e.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if sign is not None:
        attr, words = _SIGNS[sign]
        if getattr(e, attr) is False:
            raise ValueError(f"{name} must be {words}, got {value!r}")
    return e


def symbol(name: str, value) -> sp.Symbol:
    """``value`` if it is a SymPy ``Symbol`` (a variable to differentiate or solve in)."""
    if not isinstance(value, sp.Symbol):
        raise TypeError(f"{name} must be a SymPy Symbol, got {type(value).__name__} {value!r}")
    return value


def column(name: str, value, rows: int | None = None) -> sp.MatrixBase:
    """``value`` if it is a SymPy column matrix (``rows x 1`` when ``rows`` is given)."""
    if not isinstance(value, sp.MatrixBase):
        raise TypeError(f"{name} must be a SymPy Matrix column, got {type(value).__name__}")
    if value.cols != 1 or value.rows < 1 or (rows is not None and value.rows != rows):
        want = f"({rows}, 1)" if rows is not None else "(d, 1)"
        raise ValueError(f"{name} must have shape {want}, got {value.shape}")
    return value


def symbols_column(name: str, value) -> sp.MatrixBase:
    """``value`` if it is a column of distinct SymPy symbols (the coordinates ``x``)."""
    column(name, value)
    if not all(isinstance(v, sp.Symbol) for v in value) or len(set(value)) != len(value):
        raise ValueError(f"{name} must be a column of distinct SymPy symbols, got {list(value)}")
    return value


def flag(name: str, value) -> bool:
    """``bool(value)`` if ``value`` is a bool (not ``0``, ``"yes"`` or ``None``)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def count(name: str, value, lo: int = 1, hi: int | None = None) -> int:
    """``int(value)`` if it is an integral number in ``[lo, hi]`` (see ``checks.integral``)."""
    where = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
    try:
        n = integral(name, value)
    except ValueError:
        raise ValueError(f"{name} must be an integer {where}, got {value!r}") from None
    if n < lo or (hi is not None and n > hi):
        raise ValueError(f"{name} must be an integer {where}, got {value!r}")
    return n


def count_or_symbol(name: str, value, lo: int = 1):
    """An integer ``>= lo`` (see :func:`count`) or a SymPy expression for one (a symbolic
    dimension such as ``d``): an expression is refused when SymPy knows it is not an
    integer or is below ``lo``."""
    if isinstance(value, sp.Basic) and not isinstance(value, sp.MatrixBase):
        e = expr(name, value)
        if e.is_number:
            if not e.is_integer:
                raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
            return sp.Integer(count(name, int(e), lo))
        if e.is_integer is False or (e - lo).is_negative:
            raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
        return e
    return count(name, value, lo)
