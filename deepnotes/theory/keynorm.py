"""SymPy derivations for chapter 8 (KeyNorm: normalised keys help length extrapolation).

Each function returns SymPy objects derived by SymPy (``sympy.stats``,
integration over the sphere, ``diff``, ``simplify``), so the chapter can check
them against the closed forms the article uses.  No torch import.
"""

from __future__ import annotations

import sympy as sp
import sympy.stats as stats

from deepnotes.checks import positive_int
from deepnotes.theory._checks import count, count_or_symbol, expr

__all__ = [
    "a",
    "cos_j",
    "cos_l",
    "cosine_scale",
    "d_sym",
    "entropy_lower_bound",
    "expected_norm",
    "expected_sq_norm",
    "k_j",
    "k_l",
    "lagrange_gap",
    "log_ratio",
    "max_weight",
    "max_weight_derivatives",
    "n",
    "norm_series",
    "q_norm",
    "rope_block",
    "rope_norm_gap",
    "rope_relative_gap",
    "sphere_logit_second_moment",
]

n = sp.Symbol("n", positive=True, integer=True)  # keys in the row (context length)
a = sp.Symbol("a", positive=True)  # half-width of the logit range
q_norm = sp.Symbol(r"\|q\|", positive=True)
k_j, k_l = sp.symbols(r"\|k_j\| \|k_l\|", positive=True)
cos_j, cos_l = sp.symbols(r"\cos_j \cos_l", real=True)
d_sym = sp.Symbol("d", positive=True, integer=True)


def expected_sq_norm(d: int | sp.Symbol = d_sym) -> sp.Expr:
    """``E ||x||^2`` for ``x ~ N(0, I_d)``, from ``sympy.stats`` (a chi-squared variable with ``d``
    degrees of freedom)."""
    d = count_or_symbol("d", d)
    return sp.simplify(stats.E(stats.ChiSquared("c", d)))


def expected_norm(d: int) -> sp.Expr:
    """``E ||x||`` for ``x ~ N(0, I_d)``: the mean of a chi variable, by ``sympy.stats``
    (``sqrt(2) Gamma((d+1)/2) / Gamma(d/2)``)."""
    d = positive_int("d", d)
    return sp.simplify(stats.E(stats.Chi("r", d)))


def norm_series(d: int | sp.Symbol = d_sym) -> sp.Expr:
    """The two-term approximation ``sqrt(d) - 1/(4 sqrt(d))`` of ``E ||x||`` (a definition)."""
    d = count_or_symbol("d", d)
    return sp.sqrt(d) - 1 / (4 * sp.sqrt(d))


def sphere_logit_second_moment(d: int = 3) -> tuple[sp.Expr, sp.Expr]:
    """``E[(q . u)^2]`` for ``u`` uniform on the unit sphere of ``R^3``, integrated in spherical
    coordinates, and ``||q||^2 / d``; the chapter checks they are equal."""
    if count("d", d) != 3:
        raise ValueError(
            f"d must be 3 (the integral is written in spherical coordinates), got {d!r}"
        )
    q1, q2, q3 = sp.symbols("q1 q2 q3", real=True)
    th, ph = sp.symbols("theta phi", real=True)
    u = (sp.sin(th) * sp.cos(ph), sp.sin(th) * sp.sin(ph), sp.cos(th))
    dot = q1 * u[0] + q2 * u[1] + q3 * u[2]
    integrand = sp.expand(dot**2) * sp.sin(th) / (4 * sp.pi)
    moment = sp.integrate(integrand, (ph, 0, 2 * sp.pi), (th, 0, sp.pi))
    return sp.simplify(moment), (q1**2 + q2**2 + q3**2) / 3


def lagrange_gap(d: int = 3) -> sp.Expr:
    """``||q||^2 ||k||^2 - (q . k)^2`` minus the sum of squares ``sum_{i<j} (q_i k_j - q_j k_i)^2``.

    Lagrange's identity: it simplifies to 0, so the left side is non-negative
    (Cauchy-Schwarz, ``|q . k| <= ||q|| ||k||``, the logit bound).
    """
    d = positive_int("d", d)
    q = sp.symbols(f"q0:{d}", real=True)
    k = sp.symbols(f"k0:{d}", real=True)
    lhs = (
        sum(x**2 for x in q) * sum(y**2 for y in k)
        - sum(x * y for x, y in zip(q, k, strict=True)) ** 2
    )
    squares = sum((q[i] * k[j] - q[j] * k[i]) ** 2 for i in range(d) for j in range(i + 1, d))
    return sp.expand(lhs - squares)


def max_weight() -> sp.Expr:
    """The largest softmax weight a row of ``n`` logits in ``[-a, a]`` can give: the first logit at
    ``a`` and the other ``n - 1`` at ``-a`` (where :func:`max_weight_derivatives` says the maximum
    lies), simplified."""
    x1, x2 = sp.symbols("x1 x2", real=True)
    p1 = sp.exp(x1) / (sp.exp(x1) + (n - 1) * sp.exp(x2))
    return sp.simplify(p1.subs({x1: a, x2: -a}))


def max_weight_derivatives() -> tuple[sp.Expr, sp.Expr]:
    """``dp_1/dx_1`` and ``dp_1/dx_2`` for ``p_1 = e^{x_1} / (e^{x_1} + (n-1) e^{x_2})``, written as
    multiples of ``p_1 (1 - p_1)``: ``+1`` and ``-1`` (so ``p_1`` grows with its own logit and
    falls with the others'; its maximum on the box is at the corner)."""
    x1, x2 = sp.symbols("x1 x2", real=True)
    p1 = sp.exp(x1) / (sp.exp(x1) + (n - 1) * sp.exp(x2))
    base = p1 * (1 - p1)
    return sp.simplify(sp.diff(p1, x1) / base), sp.simplify(sp.diff(p1, x2) / base)


def entropy_lower_bound() -> sp.Expr:
    """``H >= -log max_j p_j >= log(1 + (n - 1) e^{-2a})`` for ``n`` logits in ``[-a, a]``."""
    return sp.log(sp.expand(sp.simplify(1 / max_weight())))


def log_ratio(scale: sp.Expr | None = None) -> sp.Expr:
    """``log(p_j / p_l)`` for logits ``scale * ||q|| ||k|| cos``: the softmax normaliser cancels."""
    scale = 1 / sp.sqrt(d_sym) if scale is None else expr("scale", scale, "positive")
    s_j = scale * q_norm * k_j * cos_j
    s_l = scale * q_norm * k_l * cos_l
    return sp.expand_log(sp.log(sp.exp(s_j) / sp.exp(s_l)), force=True)


def rope_block(theta: sp.Expr) -> sp.Matrix:
    """The 2x2 rotation RoPE applies to one pair of coordinates (a definition)."""
    theta = expr("theta", theta, "real")
    return sp.Matrix([[sp.cos(theta), -sp.sin(theta)], [sp.sin(theta), sp.cos(theta)]])


def rope_norm_gap() -> sp.Expr:
    """``||R_theta k||^2 - ||k||^2`` for one RoPE block, simplified (0: rotations keep norms, so
    ``normalize(R k) = R normalize(k)``)."""
    theta = sp.Symbol("theta", real=True)
    k1, k2 = sp.symbols("k1 k2", real=True)
    k = sp.Matrix([k1, k2])
    rk = rope_block(theta) * k
    return sp.simplify((rk.T * rk)[0] - (k.T * k)[0])


def rope_relative_gap() -> sp.Matrix:
    """``R_m^T R_n - R_{n-m}`` for one block with angles ``m theta``, ``n theta``, simplified (the
    zero matrix: the logit depends on ``n - m`` only)."""
    theta, m, p = sp.symbols("theta m p", real=True)
    gap = rope_block(m * theta).T * rope_block(p * theta) - rope_block((p - m) * theta)
    return sp.simplify(gap)


def cosine_scale(length: int, factor: float | sp.Expr = 4) -> sp.Expr:
    """The cosine-attention scale ``lambda = factor * ln(length)`` (the article's ``4 log n``)."""
    length = positive_int("length", length)
    return sp.nsimplify(expr("factor", factor, "positive")) * sp.log(length)
