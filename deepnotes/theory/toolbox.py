"""Chapter 0 (the toolbox): the variance that keeps a linear layer's forward pass stable.

For ``y = W x`` with ``W_ij`` i.i.d., mean 0, variance ``sigma2``, independent of
``x`` whose entries have mean 0 and second moment ``v``:

    E[y_i^2] = sum_j E[W_ij^2] E[x_j^2] = n * sigma2 * v            (fan-in n)

so the second moment is kept (``E[y_i^2] = v``) exactly when ``sigma2 = 1/n``
(LeCun's rule).  With ``sigma2 = g^2 / n`` each layer maps a second moment
``m`` to ``g^2 m``; solving that recursion (``rsolve``) from ``m_0 = 1`` gives
``g^(2L)`` after ``L`` layers.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy import stats

from deepnotes.checks import positive_int
from deepnotes.theory._checks import expr

__all__ = [
    "L",
    "depth_second_moment",
    "g",
    "layer_map",
    "n",
    "output_second_moment",
    "output_second_moment_exact",
    "sigma2",
    "stable_sigma2",
    "v",
]

n, sigma2, v, g, L = sp.symbols("n sigma2 v g L", positive=True)

#: The second moment after layer ``L`` of a chain, as an unknown function for ``rsolve``.
moment = sp.Function("m")


def output_second_moment_exact(fan_in: int) -> sp.Expr:
    """``E[y^2]`` for ``y = sum_j W_j x_j`` with ``fan_in`` Gaussian terms, by sympy.stats.

    Computed from the distributions, not from the formula, so it can check
    :func:`output_second_moment` (chapter 0, eq. ``layer-moment``).
    """
    fan_in = positive_int("fan_in", fan_in)
    ws = [stats.Normal(f"W{j}", 0, sp.sqrt(sigma2)) for j in range(fan_in)]
    xs = [stats.Normal(f"x{j}", 0, sp.sqrt(v)) for j in range(fan_in)]
    y = sum(w * x for w, x in zip(ws, xs, strict=True))
    return sp.simplify(stats.E(y**2))


def output_second_moment() -> sp.Expr:
    """``E[y_i^2] = n sigma2 v`` (chapter 0, eq. ``layer-moment``).

    Derived by hand (linearity of expectation; cross terms vanish by
    independence) and checked against :func:`output_second_moment_exact`.
    """
    return n * sigma2 * v


def stable_sigma2() -> sp.Expr:
    """Solve ``E[y^2] = v`` for ``sigma2``: ``1/n`` (chapter 0, eq. ``lecun``)."""
    (sol,) = sp.solve(sp.Eq(output_second_moment(), v), sigma2)
    return sol


def layer_map(m_in: sp.Expr) -> sp.Expr:
    """The second moment after one layer with ``sigma2 = g^2/n`` fed a second moment ``m_in``.

    :func:`output_second_moment` with ``sigma2 = g^2/n`` and ``v = m_in``: ``g^2 m_in``.
    ``m_in`` is a SymPy expression or a number (a second moment: not negative).
    """
    m_in = expr("m_in", m_in, "nonnegative")
    return output_second_moment().subs({sigma2: g**2 / n, v: m_in})


def depth_second_moment(
    layer: Callable[[sp.Expr], sp.Expr] | None = None,
) -> sp.Expr:
    """Second moment after ``L`` layers, solving ``m_{L+1} = layer(m_L)``, ``m_0 = 1`` by ``rsolve``.

    ``layer`` maps a second moment to the next layer's (a SymPy expression
    linear in its argument); the default is :func:`layer_map`, which gives
    ``g^(2L)`` (chapter 0, eq. ``depth-law``).  The result is derived from the
    per-layer map, not typed, so a layer that also adds a constant (a bias's
    variance) gets its own closed form.  Raises ``TypeError`` for a ``layer``
    that is not callable and ``ValueError`` when ``rsolve`` finds no
    solution (a nonlinear map).
    """
    if layer is None:
        layer = layer_map
    if not callable(layer):
        raise TypeError(f"layer must be a callable on SymPy expressions, got {layer!r}")
    step = expr("layer's result", layer(moment(L)))
    try:
        sol = sp.rsolve(moment(L + 1) - step, moment(L), {moment(0): 1})
    except (ValueError, NotImplementedError) as err:
        raise ValueError(f"layer must be a linear map; rsolve failed: {err}") from None
    if sol is None:
        raise ValueError("layer must be a linear map; rsolve found no solution")
    return sp.simplify(sol)
