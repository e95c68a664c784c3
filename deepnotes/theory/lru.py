"""Chapter 6: the Linear Recurrent Unit (Su, 2023-03-28; Orvieto et al., 2023), in SymPy.

Imports SymPy and NumPy only.  The chain of the chapter:

1. Linearisation: ``x_t = lam x_{t-1} + u_t`` unrolls to ``sum_k lam**(t-k) u_k``
   (:func:`unrolled_state`); one channel's output is a causal convolution with the kernel
   ``K_m = Re(c gamma b lam**m) + D delta_m0`` (:func:`convolution_output`).
2. Diagonalisation needs complex numbers (:func:`diagonalisation_facts`); the complex input
   and output projections are real ones of twice the width (:func:`complex_projection`).
3. The variance of the state grows like a geometric series, ``(1 - r**(2(t+1)))/(1 - r**2)``,
   ``-> 1/(1 - r**2)``; ``gamma**2 = 1 - r**2`` brings it to 1 (:func:`state_variance`).
4. The ring initialisation: ``r = sqrt(r_min**2 + u (r_max**2 - r_min**2))``, density
   ``2 r / (r_max**2 - r_min**2)`` and its moments (:func:`ring_init`); the polar Jacobian
   (:func:`polar_jacobian`) and the circular law's ``P(|lam| < rho) = rho**2``
   (:func:`disk_fraction`); the mean impulse response over the ring (:func:`mean_impulse`).
5. The scan: the associative operator (:func:`scan_operator_associativity`), the half-split
   identity and Su's bottom-up Upper/Lower algorithm run on symbols (:func:`half_split`,
   :func:`upper_lower_symbolic`); the naive ``lam**t cumsum(lam**-k u_k)`` overflow lengths
   (:func:`overflow_lengths`).
6. RWKV: Su's normalised form equals RWKV-4's ``wkv`` (:func:`rwkv_equivalence`).
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from deepnotes.checks import one_of, real
from deepnotes.theory._checks import count, expr

__all__ = [
    "FLOAT_MAX",
    "complex_projection",
    "convolution_output",
    "diagonalisation_facts",
    "disk_fraction",
    "half_split",
    "mean_impulse",
    "nu",
    "overflow_lengths",
    "polar_jacobian",
    "r_max",
    "r_min",
    "ring_init",
    "rwkv_equivalence",
    "scan_operator",
    "scan_operator_associativity",
    "state_variance",
    "t_sym",
    "unrolled_state",
    "upper_lower_symbolic",
]

#: Largest finite value of each IEEE format, as an exact rational (from ``numpy.finfo``).
FLOAT_MAX = {
    name: sp.Rational(float(np.finfo(name).max)) for name in ("float16", "float32", "float64")
}

lam = sp.Symbol("lambda")
t_sym = sp.Symbol("t", integer=True, nonnegative=True)
k_sym = sp.Symbol("k", integer=True, nonnegative=True)
nu = sp.Symbol("nu", positive=True)
r_min, r_max = sp.symbols("r_min r_max", positive=True)


def _check_steps(name: str, value, low: int = 0, high: int = 4096) -> int:
    # the symbolic loops grow with the count: 4096 is far past any use and still returns
    return count(name, value, low, high)


def unrolled_state(steps: int = 5) -> dict:
    """Iterate ``x = lam x + u_t`` for ``t = 0..steps`` from ``x = 0`` on symbols.

    Returns ``{"iterated", "sum", "inputs"}``: the state after the loop and
    ``sum_k lam**(steps-k) u_k``; their difference expands to 0.  Chapter 6, "Linearisation".
    """
    steps = _check_steps("steps", steps)
    u = sp.symbols(f"u0:{steps + 1}")
    x = sp.Integer(0)
    for t in range(steps + 1):
        x = lam * x + u[t]
    closed = sum(lam ** (steps - k) * u[k] for k in range(steps + 1))
    return {"iterated": sp.expand(x), "sum": closed, "inputs": u}


def convolution_output(steps: int = 3) -> dict:
    """One channel's output ``y_t = Re(c x_t) + D u_t`` with ``x_t = lam x_{t-1} + gamma b u_t``.

    Complex ``b, c, lam`` are written as ``re + i im`` of real symbols, ``u_k``, ``gamma``, ``D``
    are real.  Returns ``{"recurrence": y_t from the loop, "convolution": sum_k K_{t-k} u_k}``
    with ``K_m = Re(c gamma b lam**m) + D [m = 0]``.  Chapter 6, eq. (lru-conv).
    """
    steps = _check_steps("steps", steps)
    br, bi, cr, ci, lr, li = sp.symbols("b_r b_i c_r c_i l_r l_i", real=True)
    g, D = sp.symbols("gamma D", real=True)
    u = sp.symbols(f"u0:{steps + 1}", real=True)
    b, c, lm = br + sp.I * bi, cr + sp.I * ci, lr + sp.I * li
    x = sp.Integer(0)
    for t in range(steps + 1):
        x = lm * x + g * b * u[t]
    y = sp.re(sp.expand(c * x)) + D * u[steps]

    def kernel(m):
        return sp.re(sp.expand(c * g * b * lm**m)) + (D if m == 0 else 0)

    conv = sum(kernel(steps - k) * u[k] for k in range(steps + 1))
    return {"recurrence": sp.expand(y), "convolution": sp.expand(conv)}


def diagonalisation_facts() -> dict:
    """Why the diagonal form needs ``C``, and ``A**n = P Lambda**n P**-1``.

    * the rotation ``[[0, -1], [1, 0]]``: eigenvalues ``+-i``, not diagonalisable over the reals,
      diagonalisable over the complex numbers;
    * the shear ``[[1, 1], [0, 1]]``: defective (not diagonalisable at all);
    * a rational 3 x 3 matrix with distinct eigenvalues and the rotation: SymPy's
      ``diagonalize`` gives ``P, Lambda`` with ``A**5 - P Lambda**5 P**-1 = 0``.

    Chapter 6, "Diagonalisation over the complex numbers".
    """
    rot = sp.Matrix([[0, -1], [1, 0]])
    shear = sp.Matrix([[1, 1], [0, 1]])
    s = sp.Matrix([[2, 1, 0], [1, 3, 1], [0, 1, 1]])
    a = s * sp.diag(sp.Rational(1, 2), sp.Rational(-1, 3), sp.Rational(3, 4)) * s.inv()
    residuals = {}
    for name, m in (("rational", a), ("rotation", rot)):
        p, d = m.diagonalize()
        residuals[name] = sp.simplify(m**5 - p * d**5 * p.inv())
    return {
        "rotation_eigenvalues": sorted(rot.eigenvals(), key=sp.default_sort_key),
        "rotation_real": rot.is_diagonalizable(reals_only=True),
        "rotation_complex": rot.is_diagonalizable(),
        "shear": shear.is_diagonalizable(),
        "matrix": a,
        "power_residuals": residuals,
    }


def complex_projection() -> dict:
    """``Re[(B + iC)(x + iy)] = B x - C y`` and ``(B + iC) u = B u + i C u`` for real 2 x 2
    symbols: a complex projection is a real one on the concatenated ``[x; y]`` (output) or of
    twice the width (input).  Returns the two residuals.  Chapter 6, "Complex numbers in real
    arithmetic"."""
    B = sp.Matrix(2, 2, sp.symbols("B0:4", real=True))
    C = sp.Matrix(2, 2, sp.symbols("C0:4", real=True))
    x = sp.Matrix(sp.symbols("x0:2", real=True))
    y = sp.Matrix(sp.symbols("y0:2", real=True))
    out = ((B + sp.I * C) * (x + sp.I * y)).applyfunc(lambda e: sp.re(sp.expand(e)))
    block = B.row_join(-C) * x.col_join(y)
    u = sp.Matrix(sp.symbols("u0:2", real=True))
    inp = (B + sp.I * C) * u - (B * u + sp.I * (C * u))
    return {"output": sp.simplify(out - block), "input": sp.simplify(inp)}


def state_variance() -> dict:
    """The second moment of ``x_t = lam x_{t-1} + u_t`` for i.i.d. zero-mean ``u`` with
    ``E|u|**2 = 1``, ``r = |lam| = exp(-nu)``.

    Derived twice: the sum ``sum_{k<=t} r**(2(t-k))`` (``summation``) and the recurrence
    ``v_t = r**2 v_{t-1} + 1``, ``v_0 = 1`` (``rsolve``).  Returns the two, the closed form
    ``(1 - r**(2(t+1)))/(1 - r**2)``, the limit ``t -> oo`` and ``gamma**2`` times it with
    ``gamma**2 = 1 - r**2``.  Chapter 6, eq. (lru-variance).
    """
    r = sp.exp(-nu)
    raw = sp.piecewise_fold(sp.summation(r ** (2 * (t_sym - k_sym)), (k_sym, 0, t_sym)))
    # SymPy returns a Piecewise whose special branch needs exp(2 nu) = 1, i.e. r = 1; with
    # nu > 0 that equation has no solution, so the generic branch is the sum.
    (special, cond), (generic, _) = raw.args
    if sp.solve(cond.lhs - cond.rhs, nu) != []:  # pragma: no cover - guards the branch choice
        raise RuntimeError(f"the special branch {cond} is reachable")
    by_sum = sp.simplify(generic)
    v = sp.Function("v")
    by_rec = sp.rsolve(v(t_sym) - r**2 * v(t_sym - 1) - 1, v(t_sym), {v(0): 1})
    closed = (1 - r ** (2 * (t_sym + 1))) / (1 - r**2)
    limit = sp.limit(by_sum, t_sym, sp.oo)
    gamma2 = 1 - r**2
    return {
        "sum": by_sum,
        "recurrence": by_rec,
        "closed": closed,
        "limit": sp.simplify(limit),
        "normalised_limit": sp.simplify(gamma2 * limit),
        "r": r,
    }


def ring_init() -> dict:
    """The appendix's ring initialisation, derived from ``u ~ U[0, 1]``.

    ``nu_log = log(-log(u (r_max**2 - r_min**2) + r_min**2) / 2)`` gives
    ``r = exp(-exp(nu_log))``; solving ``r(u) = rho`` for ``u`` gives the CDF
    ``P(r <= rho)``, its derivative the density; the moments ``E[r]``, ``E[r**2]`` and
    ``E[gamma**2] = 1 - E[r**2]`` follow by integration.  Chapter 6, "From the disk to a ring".
    """
    u, rho = sp.symbols("u rho", positive=True)
    nu_log = sp.log(-sp.log(u * (r_max**2 - r_min**2) + r_min**2) / 2)
    r_of_u = sp.exp(-sp.exp(nu_log))
    (cdf,) = sp.solve(sp.Eq(sp.sqrt(r_min**2 + u * (r_max**2 - r_min**2)), rho), u)
    density = sp.diff(cdf, rho)
    mean_r = sp.integrate(rho * density, (rho, r_min, r_max))
    mean_r2 = sp.integrate(rho**2 * density, (rho, r_min, r_max))
    total = sp.integrate(density, (rho, r_min, r_max))
    return {
        "u": u,
        "rho": rho,
        "r_of_u": sp.powsimp(sp.simplify(r_of_u), force=True),
        "target": sp.sqrt(r_min**2 + u * (r_max**2 - r_min**2)),
        "cdf": cdf,
        "density": sp.simplify(density),
        "total": sp.simplify(total),
        "mean_r": sp.factor(sp.simplify(mean_r)),
        "mean_r2": sp.factor(sp.simplify(mean_r2)),
        "mean_gamma2": sp.factor(sp.simplify(1 - mean_r2)),
    }


def polar_jacobian():
    """``det d(x, y)/d(r, theta)`` for ``x = r cos theta, y = r sin theta``: ``r``, so
    ``dx dy = r dr dtheta = d(r**2)/2 dtheta``.  Chapter 6, "From the disk to a ring"."""
    r, th = sp.symbols("r theta", positive=True)
    m = sp.Matrix([r * sp.cos(th), r * sp.sin(th)]).jacobian([r, th])
    return sp.simplify(m.det())


def disk_fraction():
    """``P(|lam| < rho)`` for ``lam`` uniform in the unit disk: ``rho**2`` (integrating the
    polar area element over the disk of radius ``rho``, divided by ``pi``).  Chapter 6."""
    r, th = sp.symbols("r theta", positive=True)  # the symbols of polar_jacobian
    rho = sp.Symbol("rho", positive=True)
    area = sp.integrate(polar_jacobian(), (r, 0, rho), (th, 0, 2 * sp.pi))
    return sp.simplify(area / sp.pi)


def mean_impulse() -> dict:
    """The ring's mean impulse response at lag ``k``, ``theta ~ U[0, max_phase]``:
    ``E|lam|**k = 2 (r_max**(k+2) - r_min**(k+2)) / ((k+2)(r_max**2 - r_min**2))`` and
    ``E Re lam**k = E r**k * sin(k max_phase) / (k max_phase)``, by integration over the ring's
    density.  Returns the two expressions in ``k, r_min, r_max, max_phase``.  Chapter 6."""
    rho = sp.Symbol("rho", positive=True)
    k = sp.Symbol("k", positive=True)
    phase = sp.Symbol("max_phase", positive=True)
    theta = sp.Symbol("theta", positive=True)
    density = 2 * rho / (r_max**2 - r_min**2)
    modulus = sp.simplify(sp.integrate(rho**k * density, (rho, r_min, r_max), conds="none"))
    cos_mean = sp.simplify(sp.integrate(sp.cos(k * theta), (theta, 0, phase)) / phase)
    return {"modulus": modulus, "real": modulus * cos_mean, "k": k, "max_phase": phase}


def _element(name: str, e) -> tuple:
    if not isinstance(e, (tuple, list)) or len(e) != 2:
        raise TypeError(f"{name} must be a pair (a, b), got {e!r}")
    return expr(f"{name}[0]", e[0]), expr(f"{name}[1]", e[1])


def scan_operator(e1, e2):
    """The paper's operator ``(a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)``: composing
    ``x -> a1 x + b1`` then ``x -> a2 x + b2``.  Chapter 6, eq. (lru-scan-op)."""
    (a1, b1), (a2, b2) = _element("e1", e1), _element("e2", e2)
    return (a1 * a2, a2 * b1 + b2)


def scan_operator_associativity() -> tuple:
    """``(e1 o e2) o e3 - e1 o (e2 o e3)`` for symbolic elements, both components expanded."""
    a1, b1, a2, b2, a3, b3 = sp.symbols("a1 b1 a2 b2 a3 b3")
    left = scan_operator(scan_operator((a1, b1), (a2, b2)), (a3, b3))
    right = scan_operator((a1, b1), scan_operator((a2, b2), (a3, b3)))
    return tuple(sp.expand(p - q) for p, q in zip(left, right, strict=True))


def half_split(T: int = 5, t: int = 2):
    """``x_T - [lam**(T-t) x_t + sum_{k=t+1}^{T} lam**(T-k) u_k]`` (expanded; 0): the scan of a
    sequence is the scan of its halves plus powers of ``lam`` times the first half's last state.
    Chapter 6, eq. (lru-split)."""
    T = _check_steps("T", T, 1)
    t = _check_steps("t", t)
    if t >= T:
        raise ValueError(f"t must be smaller than T, got t={t}, T={T}")
    u = sp.symbols(f"u0:{T + 1}")

    def x(n):
        return sum(lam ** (n - k) * u[k] for k in range(n + 1))

    split = lam ** (T - t) * x(t) + sum(lam ** (T - k) * u[k] for k in range(t + 1, T + 1))
    return sp.expand(x(T) - split)


def upper_lower_symbolic(length: int = 8) -> dict:
    """Su's bottom-up Upper/Lower scan run on symbols ``u_0..u_{L-1}`` (``L`` a power of two).

    At level ``l = 2, 4, ..., L``, each block's second half gets ``lam**(1..l/2)`` times the
    block's ``l/2 - 1``-th entry added.  Returns ``{"scan": [...], "sums": [...]}`` (the
    unrolled sums); entrywise differences expand to 0.  Chapter 6, "Parallelising the scan".
    """
    length = _check_steps("length", length, 1)
    if length & (length - 1):
        raise ValueError(f"length must be a power of two, got {length}")
    u = sp.symbols(f"u0:{length}")
    x = list(u)
    block = 2
    while block <= length:
        half = block // 2
        for start in range(0, length, block):
            last = x[start + half - 1]
            for j in range(half):
                x[start + half + j] = x[start + half + j] + lam ** (j + 1) * last
        block *= 2
    sums = [sum(lam ** (n - k) * u[k] for k in range(n + 1)) for n in range(length)]
    return {"scan": [sp.expand(e) for e in x], "sums": sums}


@functools.lru_cache(maxsize=1)
def _overflow_solutions() -> tuple:
    """``k*`` solving ``q**k = M`` and ``n*`` solving ``sum_{k<n} q**k = M`` (``q = 1/r > 1``)."""
    q, k, n, big_m = sp.symbols("q k n M", positive=True)
    (k_star,) = sp.solve(sp.Eq(q**k, big_m), k)
    partial = sp.summation(q**k_sym, (k_sym, 0, n - 1))
    if isinstance(partial, sp.Piecewise):  # the q = 1 branch is excluded: q = 1/r > 1
        partial = next(e for e, c in partial.args if c is sp.true)
    (n_star,) = sp.solve(sp.Eq(sp.simplify(partial), big_m), n)
    return k_star, n_star


def overflow_lengths(r: float, fmt: str = "float32") -> dict:
    """Where the naive ``lam**t cumsum(lam**-k u_k)`` breaks, for ``|lam| = r`` in (0, 1), ``u = 1``.

    * ``power``: the ``k*`` solving ``r**-k = max`` (``solve``): ``ln(max) / (-ln r)``; the
      first integer power that overflows is ``floor(k*) + 1``;
    * ``cumsum``: the ``n*`` solving ``sum_{k<n} r**-k = max``; the first overflowing partial
      sum is at index ``floor(n*)`` (a sequence of ``floor(n*) + 1`` steps).

    Returns floats ``{"power", "cumsum", "first_bad_index", "max"}``.  Chapter 6, "The naive
    parallel form overflows".
    """
    one_of("fmt", fmt, FLOAT_MAX)
    rv = real("r", r, 0.0, 1.0, closed=False)
    big = FLOAT_MAX[fmt]
    k_star, n_star = _overflow_solutions()
    q, big_m = sp.Symbol("q", positive=True), sp.Symbol("M", positive=True)
    values = {q: 1 / sp.Float(rv, 30), big_m: big}
    power = float(k_star.subs(values).evalf(30))
    cumsum = float(n_star.subs(values).evalf(30))
    return {
        "power": power,
        "cumsum": cumsum,
        "first_bad_index": int(np.floor(cumsum)),
        "max": float(big),
        "k_star": k_star,
        "n_star": n_star,
    }


def rwkv_equivalence():
    """Su's normalised RWKV form against RWKV-4's ``wkv``, for one step (difference, 0).

    ``(y + (g lam - 1) e**k v) / (z + (g lam - 1) e**k)`` with ``y = lam y_ + e**k v`` and
    ``z = lam z_ + e**k`` equals ``(y_ + g e**k v) / (z_ + g e**k)``: decay ``lam = e**-w``,
    bonus ``g = e**u``.  Chapter 6, "Two relatives".
    """
    yp, zp, lm, g, kk, v = sp.symbols("y_prev z_prev lambda gamma k v", positive=True)
    y = lm * yp + sp.exp(kk) * v
    z = lm * zp + sp.exp(kk)
    su = (y + (g * lm - 1) * sp.exp(kk) * v) / (z + (g * lm - 1) * sp.exp(kk))
    wkv = (yp + g * sp.exp(kk) * v) / (zp + g * sp.exp(kk))
    return sp.simplify(su - wkv)
