"""Chapter 0 (the toolbox): the variance that keeps a linear layer's forward pass stable.

For ``y = W x`` with ``W_ij`` i.i.d., mean 0, variance ``sigma2``, independent of
``x`` whose entries have mean 0 and second moment ``v``:

    E[y_i^2] = sum_j E[W_ij^2] E[x_j^2] = n * sigma2 * v            (fan-in n)

so the second moment is kept (``E[y_i^2] = v``) exactly when ``sigma2 = 1/n``
(LeCun's rule).  With ``sigma2 = g^2 / n`` a chain of ``L`` layers multiplies
the second moment by ``g^(2L)``.
"""

from __future__ import annotations

import sympy as sp
from sympy import stats

n, sigma2, v, g, L = sp.symbols("n sigma2 v g L", positive=True)


def output_second_moment_exact(fan_in: int) -> sp.Expr:
    """``E[y^2]`` for ``y = sum_j W_j x_j`` with ``fan_in`` Gaussian terms, by sympy.stats.

    Computed from the distributions, not from the formula, so it can check
    :func:`output_second_moment`.
    """
    if not isinstance(fan_in, int) or fan_in < 1:
        raise ValueError(f"fan_in must be a positive int, got {fan_in!r}")
    ws = [stats.Normal(f"W{j}", 0, sp.sqrt(sigma2)) for j in range(fan_in)]
    xs = [stats.Normal(f"x{j}", 0, sp.sqrt(v)) for j in range(fan_in)]
    y = sum(w * x for w, x in zip(ws, xs, strict=True))
    return sp.simplify(stats.E(y**2))


def output_second_moment() -> sp.Expr:
    """``E[y_i^2] = n sigma2 v`` (linearity of expectation; cross terms vanish by independence)."""
    return n * sigma2 * v


def stable_sigma2() -> sp.Expr:
    """Solve ``E[y^2] = v`` for ``sigma2``: ``1/n``."""
    (sol,) = sp.solve(sp.Eq(output_second_moment(), v), sigma2)
    return sol


def depth_second_moment() -> sp.Expr:
    """Second moment after ``L`` layers with ``sigma2 = g^2/n``, starting from ``v = 1``: ``g^(2L)``."""
    per_layer = output_second_moment().subs({sigma2: g**2 / n, v: 1})
    return sp.simplify(per_layer**L)
