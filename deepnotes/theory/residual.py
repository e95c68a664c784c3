"""Chapter 2: why residual connections are needed (Su, 2022-03-19; DeepNet, Wang et al. 2022).

The derivations of the chapter as SymPy objects.  Imports SymPy and NumPy only.

The chain of reasoning:

1. Increment explosion: one SGD step changes the loss by
   :math:`\\Delta\\mathcal L \\approx -\\eta\\lVert\\nabla\\mathcal L\\rVert^2 = \\mathcal O(\\eta N K G^2)`
   for ``N`` layers of ``K`` parameters with per-parameter gradient ``G``; a depth-free step
   needs ``G = O(N**-1/2)`` (SGD) or ``G = O(1/N)`` for sign-like updates (Adam)
   (:func:`required_gradient_exponent`).
2. Second moments of a linear layer ``y = x W`` (``W`` is ``n x m``): forward needs
   ``sigma**2 = 1/n`` (ReLU ``2/n``), backward ``1/m``, Xavier averages to ``2/(n+m)``
   (:func:`linear_layer_variances`).
3. A deep linear chain with per-layer gain ``g``: forward ratio ``g**(2N)``, gradient scale
   ``g**(N-1)``; ``g**(2N) = 1`` forces ``g = 1`` (:func:`stable_positive_gains`).
4. A residual block ``y = x + eps f(x; theta)``: Jacobian ``1 + eps df/dx`` and parameter
   gradient exactly ``eps`` times the branch's (:func:`residual_derivatives`).
5. "Small enough": 1-D amplification ``(1 + eps)**N`` against high-D ``(1 + eps**2)**N``
   (:func:`amplification`, :func:`expected_step_norm`, :func:`amplification_limits`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from deepnotes.checks import one_of, positive_int
from deepnotes.theory import _checks as _chk

__all__ = [
    "DEPTH",
    "EPS",
    "EPSILON_RULES",
    "RELU_BRANCH_FACTOR",
    "amplification",
    "amplification_limits",
    "amplification_numeric",
    "asymptotic_slope",
    "chain_gradient_scale",
    "chain_forward_ratio",
    "chain_forward_recursion",
    "epsilon_rule",
    "expectation",
    "expected_step_norm",
    "forward_moment",
    "gradient_sum",
    "increment_exponent",
    "linear_chain_gradient",
    "linear_layer_variances",
    "log_amplification_asymptotic",
    "relu_second_moment_factor",
    "required_gradient_exponent",
    "residual_derivatives",
    "stable_positive_gains",
]

#: Depth ``N`` (positive integer) and branch scale ``eps`` (positive).
DEPTH = sp.Symbol("N", positive=True, integer=True)
EPS = sp.Symbol("epsilon", positive=True)

#: Gradient units per layer of the ``relu(x W1) W2`` branch (see :func:`gradient_sum`).
RELU_BRANCH_FACTOR = sp.Rational(3, 2)

#: The three choices of ``eps`` the chapter compares, as exponents ``p`` in ``eps = N**-p``.
EPSILON_RULES: dict[str, sp.Expr] = {
    "eps=1": sp.Integer(0),
    "eps=N^-1/2": sp.Rational(1, 2),
    "eps=N^-1": sp.Integer(1),
}


def _checked_expr(name: str, value) -> sp.Expr:
    """A SymPy expression argument of a derivation step (``expr``), or a number."""
    return _chk.expr(name, value, finite=False)


def _check_kind(kind: str) -> None:
    one_of("kind", kind, ("1d", "1d-squared", "highd"))


def _depth(N) -> sp.Expr:
    """A depth: a positive integer or a SymPy expression for one (``DEPTH``)."""
    return _chk.count_or_symbol("N", N, 1)


def epsilon_rule(p, N: sp.Expr = DEPTH) -> sp.Expr:
    """The branch scale ``eps = N**-p`` (Chapter 2, section "Small enough")."""
    p = _chk.expr("p", p)
    if p.is_negative:
        raise ValueError(f"p must be >= 0 (eps = N**-p must not grow with depth), got {p}")
    return _depth(N) ** (-p)


# --- 1. increment explosion ------------------------------------------------------------------


def increment_exponent(gradient_exponent, optimizer: str = "sgd") -> sp.Expr:
    """Exponent of ``N`` in the one-step loss change when each gradient is ``O(N**a)``.

    ``N`` layers of ``K`` parameters: SGD gives ``dL ~ eta N K G**2`` so the exponent is
    ``1 + 2a``; a sign-like update (Adam's first step) gives ``dL ~ eta N K |G|``, exponent
    ``1 + a`` (Chapter 2, eq. "increment"; Chapter 1 for the Adam case).
    """
    a = _chk.expr("gradient_exponent", gradient_exponent, "real")
    one_of("optimizer", optimizer, ("sgd", "adam"))
    if optimizer == "sgd":
        return 1 + 2 * a
    if optimizer == "adam":
        return 1 + a
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")


def required_gradient_exponent(optimizer: str = "sgd") -> sp.Expr:
    """Solve ``increment_exponent(a) = 0``: ``a = -1/2`` for SGD, ``a = -1`` for Adam."""
    a = sp.Symbol("a", real=True)
    (sol,) = sp.solve(sp.Eq(increment_exponent(a, optimizer), 0), a)
    return sol


# --- 2. second moments of a linear layer -----------------------------------------------------


def expectation(expr: sp.Expr, variances: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """Expectation of a polynomial in independent zero-mean Gaussian variables.

    ``variances`` maps each random symbol to its variance.  Each monomial factorises over the
    independent variables, and ``E[z**k]`` is ``0`` for odd ``k`` and ``(k-1)!! var**(k/2)``
    for even ``k``.  Symbols not in ``variances`` are constants.
    """
    expr_ = _checked_expr("expr", expr)
    if not isinstance(variances, dict):
        raise TypeError(f"variances must be a dict {{symbol: variance}}, got {variances!r}")
    randoms = list(variances)
    if not randoms:
        raise ValueError("variances must name at least one random symbol")
    for z, var in variances.items():
        _chk.symbol("variances' keys", z)
        _chk.expr(f"variances[{z}]", var, "nonnegative")
    try:
        poly = sp.Poly(sp.expand(expr_), *randoms)
    except sp.PolynomialError:
        raise ValueError(
            f"expr must be a polynomial in the variances' symbols, got {expr_}"
        ) from None
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        for z, k in zip(randoms, powers, strict=True):
            if k % 2:
                term = 0
                break
            term *= sp.factorial2(k - 1) * variances[z] ** (k // 2)
        total += term
    return sp.simplify(total)


def forward_moment(n: int, sigma2: sp.Expr, q: sp.Expr) -> sp.Expr:
    """``E[y_1**2]`` for ``y = x W`` with ``n`` inputs of variance ``q`` and weights of variance
    ``sigma2``, computed monomial by monomial with :func:`expectation` (equals ``n sigma2 q``)."""
    n = positive_int("n", n)
    sigma2 = _chk.expr("sigma2", sigma2, "nonnegative")
    q = _chk.expr("q", q, "nonnegative")
    xs = sp.symbols(f"x1:{n + 1}")
    ws = sp.symbols(f"W1:{n + 1}")
    y = sum(x * w for x, w in zip(xs, ws, strict=True))
    variances = {x: q for x in xs} | {w: sigma2 for w in ws}
    return expectation(y**2, variances)


def relu_second_moment_factor() -> sp.Expr:
    """``E[relu(z)**2] / E[z**2]`` for ``z ~ N(0, s**2)``: exactly ``1/2``."""
    z = sp.Symbol("z", real=True)
    s = sp.Symbol("s", positive=True)
    pdf = sp.exp(-(z**2) / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    return sp.simplify(sp.integrate(z**2 * pdf, (z, 0, sp.oo)) / s**2)


def linear_layer_variances() -> dict[str, sp.Expr]:
    """Weight variances of ``y = x W``, ``W`` of shape ``n x m`` (Chapter 2, "stable propagation").

    Keys: ``forward`` (``n sigma2 q = q``), ``relu`` (``n sigma2 q / 2 = q``), ``backward``
    (``m sigma2 p = p`` for the gradient ``dL/dx = dL/dy W^T``), ``xavier`` (``2/(n+m)``, the
    variance whose inverse is the mean fan), and ``backward_factor_at_forward`` (``m/n``: the
    backward second-moment gain once the forward pass is fixed; no depth in it).
    """
    n, m, q, p, s2 = sp.symbols("n m q p sigma2", positive=True)
    (fwd,) = sp.solve(sp.Eq(n * s2 * q, q), s2)
    (relu,) = sp.solve(sp.Eq(n * s2 * q * relu_second_moment_factor(), q), s2)
    (bwd,) = sp.solve(sp.Eq(m * s2 * p, p), s2)
    (xavier,) = sp.solve(sp.Eq(1 / s2, (1 / fwd + 1 / bwd) / 2), s2)
    return {
        "forward": fwd,
        "relu": relu,
        "backward": bwd,
        "xavier": sp.simplify(xavier),
        "backward_factor_at_forward": sp.simplify(m * fwd),
    }


# --- 3. the deep plain chain ------------------------------------------------------------------


def chain_forward_ratio(g: sp.Expr, N: sp.Expr = DEPTH) -> sp.Expr:
    """``E||x_N||^2 / E||x_0||^2 = g**(2N)`` for a linear chain of per-layer gain ``g``.

    The closed form; :func:`chain_forward_recursion` derives it from the per-layer recursion.
    """
    return _chk.expr("g", g, "real") ** (2 * _depth(N))


def chain_forward_recursion(g: sp.Expr, N: sp.Expr = DEPTH) -> sp.Expr:
    """Solve ``q_l = g**2 q_{l-1}``, ``q_0 = 1`` with ``rsolve`` and evaluate at ``l = N``.

    Each layer of gain ``g`` multiplies the second moment by ``g**2`` (Chapter 2, "stable
    propagation"); the solution is the forward ratio of :func:`chain_forward_ratio`.
    """
    g, N = _chk.expr("g", g, "real"), _depth(N)
    layer = sp.Symbol("l", integer=True, nonnegative=True)
    q = sp.Function("q")
    sol = sp.rsolve(q(layer + 1) - g**2 * q(layer), q(layer), {q(0): 1})
    return sol.subs(layer, N)


def chain_gradient_scale(g: sp.Expr, N: sp.Expr = DEPTH) -> sp.Expr:
    """Scale of ``dL/dW_l`` in a linear chain of gain ``g``: ``N - 1`` other layers each
    multiply it by ``g`` (the input side ``l - 1`` times, the output side ``N - l`` times).

    The closed form; :func:`linear_chain_gradient` derives it by differentiating a chain.
    """
    return _chk.expr("g", g, "real") ** (_depth(N) - 1)


def linear_chain_gradient(depth: int, layer: int, g: sp.Expr) -> sp.Expr:
    """``d y / d w_layer`` for the scalar chain ``y = x w_1 ... w_depth`` at ``w_k = g``, ``x = 1``.

    Differentiates the product with SymPy, then sets every weight to ``g``: the derived
    counterpart of :func:`chain_gradient_scale` (Chapter 2, "stable propagation").
    """
    depth, layer = positive_int("depth", depth), positive_int("layer", layer)
    if layer > depth:
        raise ValueError(f"layer must lie in 1..depth={depth}, got {layer!r}")
    g = _chk.expr("g", g, "real")
    ws = sp.symbols(f"w1:{depth + 1}")
    y = sp.Mul(*ws)
    return sp.diff(y, ws[layer - 1]).subs({w: g for w in ws})


def stable_positive_gains(N: sp.Expr = DEPTH) -> list[sp.Expr]:
    """Positive real solutions of ``g**(2N) = 1``: ``[1]`` for every depth ``N``."""
    N = _depth(N)
    g = sp.Symbol("g", positive=True)
    sols = sp.solve(sp.Eq(chain_forward_ratio(g, N), 1), g)
    real_pos = [s for s in sols if s.is_real and s.is_positive]
    return real_pos


# --- 4. the residual block --------------------------------------------------------------------


def residual_derivatives() -> dict[str, sp.Expr]:
    """Derivatives of ``y = x + eps f(x, theta)`` feeding a loss ``L(y)``.

    Returns ``jacobian`` (``dy/dx``), ``jacobian_claim`` (``1 + eps df/dx``), ``param_grad``
    (``dL/dtheta``) and ``param_grad_claim`` (``eps L'(y) df/dtheta``), so that a caller can
    check ``jacobian - jacobian_claim == 0`` and ``param_grad - param_grad_claim == 0``.
    """
    x, theta = sp.symbols("x theta", real=True)
    f = sp.Function("f")(x, theta)
    loss = sp.Function("L")
    y = x + EPS * f
    u = sp.Symbol("u")
    dloss = sp.diff(loss(u), u).subs(u, y)
    return {
        "y": y,
        "jacobian": sp.diff(y, x),
        "jacobian_claim": 1 + EPS * sp.diff(f, x),
        "param_grad": sp.diff(loss(y), theta),
        "param_grad_claim": EPS * dloss * sp.diff(f, theta),
    }


def gradient_sum(eps, N: sp.Expr = DEPTH, branch_factor=RELU_BRANCH_FACTOR) -> sp.Expr:
    """Expected ``sum_l ||dL/dtheta_l||^2`` in units of one plain layer's ``||x_0^T dL/dh||^2``.

    Plain orthogonal chain (``eps=None``): every layer sees the same norms, so the sum is ``N``.
    Residual chain: layer ``l`` sees ``||x_{l-1}||^2 ~ (1 + eps**2)**(l-1)`` and
    ``||dL/dx_l||^2 ~ (1 + eps**2)**(N-l)`` and carries one ``eps**2``, so the sum is
    ``branch_factor N eps**2 (1 + eps**2)**(N-1)``.  For ``relu(x W1) W2`` with He/LeCun init
    ``branch_factor = 3/2`` (``W2``'s gradient counts once, ``W1``'s half, as half the units
    are active).  Chapter 2, the table.
    """
    N = _depth(N)
    branch_factor = _chk.expr("branch_factor", branch_factor, "positive")
    if eps is None:
        return sp.sympify(N)
    eps = _chk.expr("eps", eps, "nonnegative")
    return branch_factor * N * eps**2 * (1 + eps**2) ** (N - 1)


def asymptotic_slope(expr: sp.Expr, N: sp.Expr = DEPTH) -> sp.Expr:
    """``lim_{N->oo} d log(expr) / d log N``: the log-log slope a depth sweep approaches."""
    N = _chk.symbol("N", N)
    expr_ = _checked_expr("expr", expr)
    if N not in expr_.free_symbols:
        raise ValueError(f"expr must depend on N = {N}, got {expr_}")
    expr = expr_
    return sp.limit(sp.simplify(N * sp.diff(sp.log(expr), N)), N, sp.oo)


# --- 5. "small enough": amplification in 1-D and high-D -------------------------------------


def amplification(eps: sp.Expr, N: sp.Expr = DEPTH, kind: str = "highd") -> sp.Expr:
    """Growth of a back-propagated vector through ``N`` residual layers.

    ``kind="1d"``: the norm factor ``(1 + eps)**N`` (branch aligned with the stream);
    ``"1d-squared"``: its square ``(1 + eps)**(2N)``; ``"highd"``: the squared-norm factor
    ``(1 + eps**2)**N`` (random branch Jacobian, cross term zero in expectation).
    """
    _check_kind(kind)
    eps = _chk.expr("eps", eps, "nonnegative")
    N = _depth(N)
    if kind == "1d":
        return (1 + eps) ** N
    if kind == "1d-squared":
        return (1 + eps) ** (2 * N)
    return (1 + eps**2) ** N


def amplification_numeric(kind: str = "highd", p: float | None = None) -> Callable:
    """NumPy form of :func:`amplification`: ``f(eps, N)``, or ``f(N)`` when ``eps = N**-p``."""
    _check_kind(kind)
    if p is None:
        return sp.lambdify((EPS, DEPTH), amplification(EPS, DEPTH, kind), "numpy")
    expr = amplification(epsilon_rule(p), DEPTH, kind)
    fn = sp.lambdify(DEPTH, expr, "numpy")
    return lambda N: np.asarray(fn(np.asarray(N, dtype=float)), dtype=float)


def amplification_limits(kind: str = "highd") -> dict[str, sp.Expr]:
    """``lim_{N->oo}`` of :func:`amplification` for each rule in :data:`EPSILON_RULES`.

    1-D (norm): ``oo``, ``oo``, ``E``.  High-D (squared norm): ``oo``, ``E``, ``1``.
    """
    _check_kind(kind)
    return {
        name: sp.limit(amplification(epsilon_rule(p), DEPTH, kind), DEPTH, sp.oo)
        for name, p in EPSILON_RULES.items()
    }


def log_amplification_asymptotic() -> sp.Expr:
    """``lim (log (1 + N**-1/2)**N - sqrt(N))`` as ``N -> oo``: ``-1/2``, so the 1-D
    amplification at ``eps = N**-1/2`` grows like ``exp(sqrt(N) - 1/2)``."""
    expr = DEPTH * sp.log(1 + 1 / sp.sqrt(DEPTH)) - sp.sqrt(DEPTH)
    return sp.limit(expr, DEPTH, sp.oo)


def expected_step_norm(d: int = 2) -> dict[str, sp.Expr]:
    """``E||v + eps v J||^2`` for a ``d x d`` Jacobian ``J`` with i.i.d. ``N(0, 1/d)`` entries.

    Exact symbolic expectation with :func:`expectation`; returns ``value``, ``claim``
    (``(1 + eps**2) ||v||^2``) and ``cross_term`` (``E[2 eps <v, v J>]``, zero).
    """
    d = positive_int("d", d)
    v = sp.Matrix(1, d, sp.symbols(f"v1:{d + 1}", real=True))
    J = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"J{i + 1}{j + 1}", real=True))
    variances = {J[i, j]: sp.Rational(1, d) for i in range(d) for j in range(d)}
    vJ = v * J
    step = v + EPS * vJ
    norm2 = (v * v.T)[0, 0]
    return {
        "value": expectation((step * step.T)[0, 0], variances),
        "claim": (1 + EPS**2) * norm2,
        "cross_term": expectation(2 * EPS * (v * vJ.T)[0, 0], variances),
    }
