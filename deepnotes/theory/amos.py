"""Chapter 3: learning rate, weight decay and schedule from the ideas of Amos.

SymPy derivations for Su Jianlin's article of 2022-11-22 (spaces.ac.cn/archives/9344)
and the Amos optimizer (Tian & Parikh, arXiv 2210.11693).  Every function returns
SymPy objects; the notebook displays them, ``tests/test_amos.py`` asserts them and the
figures overlay them.  Pure SymPy / NumPy: no torch.

Notation (one parameter tensor with ``k`` entries):

* ``alpha`` learning rate, ``rho`` decoupled weight-decay rate, ``u`` update direction;
* ``eps = theta - theta_star`` distance to the end point of training;
* dot products are symbols: ``E2 = |eps|^2``, ``U2 = |u|^2``, ``ue = u.eps``,
  ``te = theta.eps``, ``ut = u.theta``, ``T2 = |theta|^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from deepnotes.checks import one_of, positive_float, positive_int, real

__all__ = [
    "a",
    "adamw_pair",
    "adamw_translation",
    "alpha",
    "alpha0",
    "alpha0_from_lr",
    "amos_b_asymptote",
    "amos_decay_recursion",
    "amos_first_step",
    "amos_noise_equilibrium",
    "amos_norm_trajectory",
    "balance_condition",
    "balance_condition_with_q",
    "balanced_distance_step",
    "bert_base_pair",
    "beta",
    "c_coef",
    "closed_form_decay",
    "constant_p_solution",
    "D",
    "d_coef",
    "discrete_decay",
    "distance_expansion_dropped",
    "distance_expansion_exact",
    "distance_expansion_truncated",
    "dynamic_p_solution",
    "E",
    "E0",
    "E2",
    "eps0_norm_sq",
    "eta",
    "h",
    "half_life_rate",
    "inverse_square_decay",
    "inverse_time_decay",
    "k",
    "lam",
    "log_one_minus_series",
    "N",
    "N0",
    "p",
    "p0",
    "q",
    "q_at_start",
    "r",
    "rho",
    "scale_separated_rates",
    "second_order_bracket",
    "sigma",
    "solve_balance_and_closure",
    "T",
    "t",
    "T2",
    "te",
    "theta_dot_eps_identity",
    "U",
    "U2",
    "ue",
    "ut",
    "x",
    "xi",
]

LAWS = ("inverse_square", "inverse_time")

# ---------------------------------------------------------------- symbols
alpha, rho, h, a, r = sp.symbols("alpha rho h a r", positive=True)
E2, U2, T2 = sp.symbols("E2 U2 T2", positive=True)
ue, te, ut = sp.symbols("ue te ut", real=True)
q, lam, E, U, E0, D = sp.symbols("q lambda E U E_0 D", positive=True)
alpha0, p, p0, t, T = sp.symbols("alpha_0 p p_0 t T", positive=True)
k, sigma = sp.symbols("k sigma", positive=True)
x = sp.symbols("x", real=True)
S = sp.Function("S")


# ---------------------------------------------------------------- step 1: distance expansion
def distance_expansion_exact() -> sp.Expr:
    """Exact ``|eps_{t+1}|^2`` for ``theta_{t+1} = theta_t - alpha u - rho theta`` (eq. 2).

    ``eps_{t+1} = eps - alpha u - rho theta``, expanded in the dot-product symbols.
    """
    return E2 + alpha**2 * U2 + rho**2 * T2 - 2 * alpha * ue - 2 * rho * te + 2 * alpha * rho * ut


def distance_expansion_truncated() -> sp.Expr:
    """The expansion kept to second order with ``rho = O(alpha^2)`` (eq. 4).

    Put ``alpha = h a`` and ``rho = h^2 r`` so one bookkeeping symbol ``h`` counts orders,
    keep ``O(h^2)`` with ``series`` and set ``h = 1``:
    ``|eps|^2 - 2 alpha u.eps + (alpha^2 |u|^2 - 2 rho theta.eps)``.
    """
    scaled = distance_expansion_exact().subs({alpha: h * a, rho: h**2 * r})
    kept = sp.series(scaled, h, 0, 3).removeO()
    return sp.expand(kept.subs(h, 1).subs({a: alpha, r: rho}))


def distance_expansion_dropped() -> sp.Expr:
    """The terms the truncation drops: ``2 alpha rho u.theta + rho^2 |theta|^2`` (O(alpha^3))."""
    return sp.expand(distance_expansion_exact() - distance_expansion_truncated())


# ---------------------------------------------------------------- step 2: balance and q
def second_order_bracket() -> sp.Expr:
    """The ``O(h^2)`` part of the expansion: ``alpha^2 |u|^2 - 2 rho theta.eps`` (eq. 4).

    Read off the series in the bookkeeping symbol ``h`` (``alpha = h a``, ``rho = h^2 r``)
    as the coefficient of ``h^2``, not typed.
    """
    scaled = distance_expansion_exact().subs({alpha: h * a, rho: h**2 * r})
    bracket = sp.expand(scaled).coeff(h, 2) * h**2
    return sp.expand(bracket.subs(h, 1).subs({a: alpha, r: rho}))


def balance_condition() -> sp.Eq:
    """The bracket of eq. (4) set to zero (eq. 5): the decay pays for the step-size term.

    ``second_order_bracket() = 0`` split into its positive part and the decay's part, so
    that it reads ``alpha^2 |u|^2 = 2 rho theta.eps``.
    """
    bracket = second_order_bracket()
    decay_part = -sp.Add(*[term for term in bracket.args if term.has(rho)])
    return sp.Eq(sp.expand(bracket + decay_part), decay_part)


def balance_condition_with_q() -> sp.Eq:
    """Eq. (6): ``theta.eps ~ q |eps|^2`` turns the balance into ``alpha^2 |u|^2 = 2 rho q |eps|^2``."""
    return sp.Eq(alpha**2 * U2, 2 * rho * q * E2)


def balanced_distance_step() -> sp.Expr:
    """Eq. (4) under the balance: ``|eps|^2 - 2 alpha |u| |eps| cos(u, eps)``."""
    cos_ue = sp.Symbol("cos_ue", real=True)
    return E2 - 2 * alpha * sp.sqrt(U2) * sp.sqrt(E2) * cos_ue


def theta_dot_eps_identity() -> tuple[sp.Expr, sp.Expr]:
    """``theta.eps = |eps|^2 + theta*.eps`` as (lhs, rhs) in components of 3-vectors.

    Checked on explicit symbolic vectors, so the identity is not assumed.
    """
    e = sp.Matrix(sp.symbols("e1:4", real=True))
    s = sp.Matrix(sp.symbols("s1:4", real=True))  # theta_star
    theta = e + s
    return sp.expand(theta.dot(e)), sp.expand(e.dot(e) + s.dot(e))


def _start_entries(init: str) -> tuple:
    """One entry of ``theta_0`` and one of ``theta*`` as random variables (scale ``sigma``)."""
    from sympy.stats import Normal

    one_of("init", init, ("random", "zero"))
    star = Normal("theta_star", 0, sigma)  # trained entries end at scale sigma (A4)
    if init == "random":
        return Normal("theta_0", 0, sigma), star  # independent of theta*
    if init == "zero":
        return sp.Integer(0), star
    raise ValueError(f"init must be 'random' or 'zero', got {init!r}")


def eps0_norm_sq(init: str = "random") -> sp.Expr:
    """Expected ``|eps_0|^2 = |theta_0|^2 + |theta*|^2 - 2 theta_0.theta*`` at the start.

    Computed with ``sympy.stats`` as ``k E[(theta_0 - theta*)^2]`` for one entry.
    ``init="random"``: ``theta_0`` and ``theta*`` independent ``N(0, sigma^2)``, so the cross
    term has mean 0 and the result is ``2 k sigma^2`` (kernels).  ``init="zero"``:
    ``theta_0 = 0``, so ``k sigma^2`` (biases, gains measured from their init value).
    Chapter 3, Step 2.
    """
    from sympy.stats import E as expect

    theta0, star = _start_entries(init)
    return sp.simplify(k * expect((theta0 - star) ** 2))


def q_at_start(init: str = "random") -> sp.Expr:
    """``q_0 = theta_0.eps_0 / |eps_0|^2``: 1/2 for a random init, 0 for a zero init.

    In high dimension both dot products concentrate on ``k`` times their per-entry means,
    so ``q_0 = E[theta_0 (theta_0 - theta*)] / E[(theta_0 - theta*)^2]`` (``sympy.stats``).
    Chapter 3, Step 2.
    """
    from sympy.stats import E as expect

    theta0, star = _start_entries(init)
    return sp.simplify(expect(theta0 * (theta0 - star)) / expect((theta0 - star) ** 2))


# ---------------------------------------------------------------- step 3: closure and scale separation
def solve_balance_and_closure() -> dict:
    """Solve ``alpha^2 U^2 = 2 rho q E^2`` and ``2 rho q = lambda^2 E^2`` for ``alpha, rho``.

    Gives ``alpha = lambda E^2 / U`` and ``rho = lambda^2 E^2 / (2 q)`` (eq. 8-9).
    """
    sols = sp.solve(
        [sp.Eq(alpha**2 * U**2, 2 * rho * q * E**2), sp.Eq(2 * rho * q, lam**2 * E**2)],
        [alpha, rho],
        dict=True,
    )
    (sol,) = [s for s in sols if s[alpha].is_positive is not False]
    return sol


def scale_separated_rates() -> dict:
    """Substitute ``lambda = alpha0 / E0`` and ``E^2 = E0^2 D`` (``D`` = decay factor).

    Gives the per-tensor learning rate ``alpha = alpha0 E0 D / U`` and the scale-free weight
    decay ``rho = alpha0^2 D / (2 q)`` (eq. 10): Q1 and Q2 of the article.
    """
    sol = solve_balance_and_closure()
    subs = {lam: alpha0 / E0, E: E0 * sp.sqrt(D)}
    return {key: sp.simplify(val.subs(subs)) for key, val in sol.items()}


def log_one_minus_series() -> sp.Expr:
    """``log(1 - x) = -x - x^2/2 + O(x^3)``: a product of ``(1 - x_i)`` is ``exp(-sum x_i)``."""
    return sp.series(sp.log(1 - x), x, 0, 3)


# ---------------------------------------------------------------- step 4: the schedules (Q3)
def constant_p_solution() -> sp.Expr:
    """Solve ``S' = alpha0 p exp(-S)``, ``S(0) = 0``: ``S = log(1 + alpha0 p t)``."""
    sol = sp.dsolve(sp.Eq(S(t).diff(t), alpha0 * p * sp.exp(-S(t))), S(t), ics={S(0): 0})
    return sp.simplify(sol.rhs)


def dynamic_p_solution() -> sp.Expr:
    """Solve ``S' = alpha0 p0 exp(-2 S)`` (``p_t = p0 exp(-S_t)``): ``S = log(1 + 2 alpha0 p0 t)/2``."""
    sol = sp.dsolve(sp.Eq(S(t).diff(t), alpha0 * p0 * sp.exp(-2 * S(t))), S(t), ics={S(0): 0})
    sols = sol if isinstance(sol, list) else [sol]
    real = [s.rhs for s in sols if s.rhs.subs({alpha0: 1, p0: 1, t: 1}).is_real]
    return sp.simplify(real[0])


def inverse_square_decay() -> sp.Expr:
    """``exp(-2 S)`` for constant ``p``: ``(1 + alpha0 p t)^-2`` (eq. 12)."""
    return sp.simplify(sp.exp(-2 * constant_p_solution()))


def inverse_time_decay() -> sp.Expr:
    """``exp(-2 S)`` for ``p_t = p0 exp(-S_t)``: ``(1 + 2 alpha0 p0 t)^-1`` (eq. 13)."""
    return sp.simplify(sp.exp(-2 * dynamic_p_solution()))


def half_life_rate(law: str) -> sp.Expr:
    """The rate that halves the decay factor after ``T`` steps.

    ``"inverse_square"``: ``(1 + kT)^2 = 2`` gives ``alpha0 p = (sqrt 2 - 1)/T``;
    ``"inverse_time"``: ``1 + 2 kT = 2`` gives ``alpha0 p0 = 1/(2T)``.
    """
    one_of("law", law, LAWS)
    kk = sp.Symbol("kappa", positive=True)
    if law == "inverse_square":
        eq = sp.Eq((kk * T + 1) ** 2, 2)
    elif law == "inverse_time":
        eq = sp.Eq(2 * kk * T + 1, 2)
    else:
        raise ValueError(f"law must be 'inverse_square' or 'inverse_time', got {law!r}")
    (sol,) = sp.solve(eq, kk)
    return sp.simplify(sol)


def discrete_decay(rate: float, steps: int, law: str) -> np.ndarray:
    """The exact recursion behind the ODEs, ``exp(-2 S_t)`` for ``t = 0..steps``.

    ``"inverse_square"``: ``S_{t+1} = S_t + rate exp(-S_t)`` (``rate = alpha0 p``);
    ``"inverse_time"``: ``S_{t+1} = S_t + rate exp(-2 S_t)`` (``rate = alpha0 p0``).
    """
    rate, steps = positive_float("rate", rate), positive_int("steps", steps)
    one_of("law", law, LAWS)
    power = {"inverse_square": 1.0, "inverse_time": 2.0}
    s = np.zeros(steps + 1)
    for i in range(steps):
        s[i + 1] = s[i] + rate * np.exp(-power[law] * s[i])
    return np.exp(-2 * s)


def closed_form_decay(rate: float, steps: int, law: str) -> np.ndarray:
    """The continuous closed forms ``(1 + rate t)^-2`` and ``(1 + 2 rate t)^-1`` at ``t = 0..steps``."""
    rate, steps = positive_float("rate", rate), positive_int("steps", steps)
    one_of("law", law, LAWS)
    expr = inverse_square_decay() if law == "inverse_square" else inverse_time_decay()
    sym = p if law == "inverse_square" else p0
    f = sp.lambdify(t, expr.subs({alpha0: 1, sym: rate}), "numpy")
    return np.asarray(f(np.arange(steps + 1, dtype=float)), dtype=float)


# ---------------------------------------------------------------- step 5: AdamW translation
def adamw_translation() -> dict:
    """For sign-like updates (``|u| = sqrt k``) and ``|eps_0| = sqrt k sigma``.

    Per entry ``lr = alpha0 sigma D`` and ``rho = alpha0^2 D / 2`` (``q = 1``), so AdamW's
    coefficient (decay per step = lr * weight_decay) is ``weight_decay = alpha0 / (2 sigma)``.
    """
    rates = scale_separated_rates()
    lr = sp.simplify(rates[alpha].subs({E0: sp.sqrt(k) * sigma, U: sp.sqrt(k)}))
    rho_t = rates[rho].subs(q, 1)
    return {"lr": lr, "rho": rho_t, "weight_decay": sp.simplify(rho_t / lr)}


@dataclass(frozen=True)
class AdamWPair:
    """An AdamW (learning rate, weight decay) pair implied by the article's rule."""

    alpha0: float
    sigma: float
    lr: float
    weight_decay: float


def adamw_pair(alpha0_value: float, sigma_value: float) -> AdamWPair:
    """Numbers from :func:`adamw_translation` at ``D = 1``: ``lr = alpha0 sigma``, ``wd = alpha0/(2 sigma)``."""
    alpha0_value = positive_float("alpha0_value", alpha0_value)
    sigma_value = positive_float("sigma_value", sigma_value)
    tr = adamw_translation()
    vals = {alpha0: alpha0_value, sigma: sigma_value, D: 1}
    return AdamWPair(
        alpha0_value, sigma_value, float(tr["lr"].subs(vals)), float(tr["weight_decay"].subs(vals))
    )


def alpha0_from_lr(lr_value: float, sigma_value: float) -> float:
    """Invert the translation ``lr = alpha0 sigma`` (at ``D = 1``) for the relative step ``alpha0``.

    SymPy solves :func:`adamw_translation`'s ``lr`` for ``alpha0``; Chapter 3, "AdamW translation".
    """
    lr_value = positive_float("lr_value", lr_value)
    sigma_value = positive_float("sigma_value", sigma_value)
    lr_sym = sp.Symbol("lr", positive=True)
    (sol,) = sp.solve(sp.Eq(adamw_translation()["lr"].subs(D, 1), lr_sym), alpha0)
    return float(sol.subs({lr_sym: lr_value, sigma: sigma_value}))


def bert_base_pair(hidden: int = 768, lr_value: float = 4e-5) -> AdamWPair:
    """The BERT-base worked example, computed from a learning rate and the init scale.

    ``sigma = sqrt(1/hidden)`` (LeCun-style init); ``alpha0 = lr / sigma`` from
    :func:`alpha0_from_lr`; then ``weight_decay = alpha0 / (2 sigma) = lr * hidden / 2``.
    The default ``lr_value = 4e-5`` is the learning rate of the author's later BERT-base
    example (Lion post, spaces.ac.cn/archives/9473); Chapter 3, "AdamW translation".
    """
    hidden = positive_int("hidden", hidden)
    lr_value = positive_float("lr_value", lr_value)
    sigma_value = float(sp.sqrt(sp.Rational(1, hidden)))
    return adamw_pair(alpha0_from_lr(lr_value, sigma_value), sigma_value)


# ---------------------------------------------------------------- Amos itself
xi, eta, beta, N0, N, c_coef, d_coef = sp.symbols("xi eta beta N_0 N c_coef d_coef", positive=True)


def amos_noise_equilibrium() -> sp.Expr:
    """Fixed point of ``N <- (1 - xi^2/2)^2 N + k xi^2 eta^2`` (Amos, pure-noise gradients).

    ``N_inf = k eta^2 / (1 - xi^2 / 4)``: the norm settles at the model-oriented scale ``eta``.
    """
    rho_amos = xi**2 / 2
    (sol,) = sp.solve(sp.Eq((1 - rho_amos) ** 2 * N + k * xi**2 * eta**2, N), N)
    return sp.simplify(sol)


def amos_norm_trajectory() -> sp.Expr:
    """``|theta_t|^2 = N_inf + (N_0 - N_inf)(1 - xi^2/2)^(2t)`` (``c_coef = d_coef = 0``)."""
    n_inf = amos_noise_equilibrium()
    return n_inf + (N0 - n_inf) * (1 - xi**2 / 2) ** (2 * t)


def amos_first_step() -> dict:
    """First Amos step for any ``beta`` with ``b_0 = v_0 = 0``.

    With ``g2 = mean(g^2)``: ``v_1 = (1 - beta) g2``, ``1/v_hat = 1/g2``, ``gamma_1 = xi^2``,
    so ``theta_1 = (1 - xi^2/2) theta_0 - xi eta g / sqrt(g2)`` and ``b_1 = xi^2``.
    """
    g2, g, th = sp.symbols("g2 g theta_0", positive=True)
    v1 = (1 - beta) * g2
    r1 = (1 - beta) / v1
    gamma1 = 1 * xi**2 * r1 * g2
    theta1 = th + 1 * (-(gamma1 / 2) * th - xi * eta * sp.sqrt(r1) * g)
    return {
        "theta_1": sp.simplify(theta1),
        "b_1": sp.simplify(gamma1),
        "g2": g2,
        "g": g,
        "theta_0": th,
    }


def amos_b_asymptote() -> dict:
    """Large-``t`` growth of Amos's accumulator ``b`` and the implied decay factor ``d_t``.

    With steady gradient statistics (``g2 / v_hat = 1``) step 6 of Amos becomes the ODE
    ``b' = xi^2 (1 + b) / sqrt(1 + kappa b)``, ``kappa = c_coef sqrt(xi)``.  For large ``t``,
    ``b ~ xi^4 t^2 / (4 kappa)``, so ``d_t = 1/(1 + d_coef sqrt(xi eta) b) ~
    4 c_coef / (d_coef sqrt(eta) xi^4 t^2)``: an inverse-square law in ``t``.
    Returns ``b``, ``d`` and ``ratio`` (``d/dt`` of the asymptote over the ODE's right side,
    which must tend to 1).
    """
    kappa = c_coef * sp.sqrt(xi)
    b_asym = xi**4 * t**2 / (4 * kappa)
    ratio = sp.diff(b_asym, t) / (xi**2 * (1 + b_asym) / sp.sqrt(1 + kappa * b_asym))
    d_asym = sp.simplify(1 / (d_coef * sp.sqrt(xi * eta) * b_asym))
    return {"b": sp.simplify(b_asym), "d": d_asym, "ratio": ratio}


def amos_decay_recursion(
    xi_value: float,
    eta_value: float,
    steps: int,
    c_coef_value: float = 0.25,
    d_coef_value: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Amos's exact scalar recursion for ``b_t`` and ``d_t`` (``t = 1..steps``) with ``g2 / v_hat = 1``.

    ``c = (1 + c_coef sqrt(xi) b)^-1/2``, ``gamma = c xi^2``, ``d = 1/(1 + d_coef sqrt(xi eta) b)``
    (both from ``b_{t-1}``), then ``b <- b + gamma (1 + b)``.  Returns ``(d, gamma)``.
    """
    xi_value = positive_float("xi_value", xi_value)
    eta_value = positive_float("eta_value", eta_value)
    steps = positive_int("steps", steps)
    c_coef_value = real("c_coef_value", c_coef_value, lo=0.0)
    d_coef_value = real("d_coef_value", d_coef_value, lo=0.0)
    d = np.empty(steps)
    gamma = np.empty(steps)
    b = 0.0
    sq_xi, sq_init = np.sqrt(xi_value), np.sqrt(xi_value * eta_value)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
        for i in range(steps):
            gamma[i] = xi_value**2 / np.sqrt(1 + c_coef_value * sq_xi * b)
            d[i] = 1 / (1 + d_coef_value * sq_init * b)
            b = b + gamma[i] * (1 + b)
    if not (np.isfinite(b) and np.isfinite(gamma).all()):
        raise ValueError(
            f"b_t overflowed float64 within steps={steps} at xi_value={xi_value}: "
            "shorten the run or lower xi_value"
        )
    return d, gamma
