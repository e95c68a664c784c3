"""Chapter 5: SymPy derivations for building an ODE by the method of characteristics.

Su's recipe (data at ``t = 0``, prior at ``t = 1``): pick one-point trajectories given
implicitly by ``phi_t(x_t | x0) = x1``; the field follows by implicit differentiation,

    f_t(x | x0) = -(d phi / dx)^(-1) d phi / dt,                                  (F)

and the continuity equation, restricted to a trajectory, is the linear ODE
``d p / dt = -p div f``, so that

    p_t(x | x0) = p_1(phi_t) exp(int_t^1 div f ds) = p_1(phi_t) |det d phi_t / dx|.  (PT)

Every function returns SymPy objects (no torch).  Names of the paths: ``straight``
``(1-t) x0 + t x1``, ``affine`` ``m(t) x0 + sigma(t) x1``, ``trig``
``cos(pi t/2) x0 + sin(pi t/2) x1``, ``swirl`` ``(1-t) x0 + t R(theta t) x1`` (d = 2).
"""

from __future__ import annotations

import sympy as sp

from deepnotes.checks import one_of
from deepnotes.theory import _checks as _chk

__all__ = [
    "A",
    "PATHS",
    "a",
    "characteristic_factor",
    "continuity_residual",
    "divergence",
    "field_from_inverse",
    "flow_matching_field",
    "inverse_map",
    "log_continuity_residual",
    "log_gaussian",
    "m",
    "nonaffine",
    "p1",
    "point",
    "reduced",
    "rotation",
    "s",
    "sigma",
    "sigma_min",
    "straight_characteristic",
    "t",
    "table_field",
    "tau",
    "theta",
]

t, s = sp.symbols("t s", positive=True)
a, theta, sigma_min, tau = sp.symbols("a theta sigma_min tau", real=True)
m = sp.Function("m")
sigma = sp.Function("sigma")
p1 = sp.Function("p_1")

PATHS = ("straight", "affine", "trig", "swirl")


def _check_dim(dim) -> int:
    return _chk.count("dim", dim, 1, 8)


def _coords(name: str, x, f_name: str | None = None, f=None):
    """``x`` a column of distinct symbols and ``f`` (if given) a column of the same length."""
    x = _chk.symbols_column(name, x)
    if f_name is not None:
        _same_length(name, x, f_name, _chk.column(f_name, f))
    return x


def _same_length(name: str, x, other_name: str, other) -> None:
    if len(other) != len(x):
        raise ValueError(
            f"{other_name} and {name} must have the same length, got {len(other)} and {len(x)}"
        )


def point(name: str, dim: int = 2) -> sp.Matrix:
    """The column of symbols ``name_1..name_dim`` (real)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"name must be a string naming a variable (an identifier), got {name!r}")
    dim = _check_dim(dim)
    return sp.Matrix(sp.symbols(f"{name}_1:{dim + 1}", real=True))


def rotation(angle) -> sp.Matrix:
    """``R(angle)``, the 2-D rotation."""
    angle = _chk.expr("angle", angle, "real")
    return sp.Matrix([[sp.cos(angle), -sp.sin(angle)], [sp.sin(angle), sp.cos(angle)]])


#: The rotation generator ``A`` (``dR(u)/du = A R(u)``).
A = sp.Matrix([[0, -1], [1, 0]])


def inverse_map(path: str, dim: int = 2) -> dict:
    """``phi_t(x | x0)`` for ``path``: a dict with ``x``, ``x0`` and ``phi`` (columns)."""
    one_of("path", path, PATHS)
    x, x0 = point("x", dim), point("x0", dim)
    if path == "straight":
        phi = (x - (1 - t) * x0) / t
    elif path == "affine":
        phi = (x - m(t) * x0) / sigma(t)
    elif path == "trig":
        phi = (x - sp.cos(sp.pi * t / 2) * x0) / sp.sin(sp.pi * t / 2)
    else:
        if dim != 2:
            raise ValueError(f"the swirl path needs dim = 2, got {dim}")
        phi = rotation(-theta * t) * (x - (1 - t) * x0) / t
    return {"x": x, "x0": x0, "phi": phi}


def field_from_inverse(phi: sp.Matrix, x: sp.Matrix, time=t) -> sp.Matrix:
    """(F): ``f = -(d phi/dx)^(-1) d phi/dt`` (a ``d x 1`` Matrix, not simplified)."""
    x = _coords("x", x, "phi", phi)
    time = _chk.symbol("time", time)
    jac = phi.jacobian(x)
    try:
        inverse = jac.inv(method="LU")
    except ValueError:
        raise ValueError(f"phi must be invertible in x: its Jacobian {jac} is singular") from None
    return -inverse * phi.diff(time)


def reduced(expr):
    """``expr`` (an expression or Matrix) expanded and, where that leaves a non-zero term,
    simplified: a residual that vanishes comes back as ``0`` (a zero Matrix)."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(reduced)
    e = sp.expand(_chk.expr("expr", expr, finite=False))
    return e if e == 0 else sp.simplify(sp.expand_trig(e))


def table_field(path: str, dim: int = 2) -> sp.Matrix:
    """The article's closed forms for ``f_t(x | x0)`` (definitions, to compare with (F))."""
    r = inverse_map(path, dim)
    x, x0 = r["x"], r["x0"]
    if path == "straight":
        return (x - x0) / t
    if path == "affine":
        return m(t).diff(t) * x0 + sigma(t).diff(t) / sigma(t) * (x - m(t) * x0)
    if path == "trig":
        return sp.pi / 2 * (x * sp.cos(sp.pi * t / 2) - x0) / sp.sin(sp.pi * t / 2)
    return (x - x0) / t + theta * A * (x - (1 - t) * x0)


def divergence(f: sp.Matrix, x: sp.Matrix) -> sp.Expr:
    """``div f = sum_i d f_i / d x_i`` (unsimplified)."""
    x = _coords("x", x, "f", f)
    return sum(f[i].diff(x[i]) for i in range(len(x)))


def characteristic_factor(div: sp.Expr, time=t) -> sp.Expr:
    """``exp(int_t^1 div f(s) ds)`` for a divergence depending on time only."""
    div = _chk.expr("div", div, finite=False)
    time = _chk.symbol("time", time)
    if time == s:
        raise ValueError(f"time must not be the integration variable {s}")
    if div.free_symbols - {time}:
        raise ValueError("div must depend on the time symbol only")
    return sp.simplify(sp.exp(sp.integrate(div.subs(time, s), (s, time, 1))))


def continuity_residual(p: sp.Expr, f: sp.Matrix, x: sp.Matrix, time=t) -> sp.Expr:
    """``d p/dt + div(f p)`` (unsimplified): zero exactly when ``p`` and ``f`` obey (CE)."""
    p = _chk.expr("p", p, finite=False)
    x = _coords("x", x, "f", f)
    time = _chk.symbol("time", time)
    return p.diff(time) + sum((f[i] * p).diff(x[i]) for i in range(len(x)))


def log_continuity_residual(logp: sp.Expr, f: sp.Matrix, x: sp.Matrix, time=t) -> sp.Expr:
    """(CE) divided by ``p > 0``: ``d log p/dt + div f + f . grad log p`` (unsimplified)."""
    logp = _chk.expr("logp", logp, finite=False)
    x = _coords("x", x, "f", f)
    time = _chk.symbol("time", time)
    return logp.diff(time) + sum(f[i].diff(x[i]) + f[i] * logp.diff(x[i]) for i in range(len(x)))


def log_gaussian(x: sp.Matrix, mean: sp.Matrix, var: sp.Expr) -> sp.Expr:
    """``log N(x; mean, var I)``, the isotropic Gaussian log-density."""
    x = _chk.column("x", x)
    mean = _chk.column("mean", mean)
    _same_length("x", x, "mean", mean)
    var = _chk.expr("var", var, "positive")
    d = len(x)
    r2 = sum((x[i] - mean[i]) ** 2 for i in range(d))
    return -r2 / (2 * var) - sp.Rational(d, 2) * sp.log(2 * sp.pi * var)


def straight_characteristic() -> dict:
    """The method of characteristics for the 1-D straight field ``f = (x - x0)/s``.

    ``dsolve`` gives the characteristic through ``x1`` at ``s = 1``; the divergence
    ``1/s`` is integrated along it from ``t`` to ``1``; ``x1`` is eliminated with ``solve``
    (``X(t) = x``).  Returns ``curve``, ``factor`` and the density ``p`` for a generic
    prior ``p_1``.
    """
    x, x0, x1 = sp.symbols("x x_0 x_1", real=True)
    X = sp.Function("X")
    f = (X(s) - x0) / s
    curve = sp.dsolve(sp.Eq(X(s).diff(s), f), X(s), ics={X(1): x1}).rhs
    div = sp.diff((x - x0) / s, x)  # d f / d x, constant along the curve
    factor = sp.exp(sp.integrate(div, (s, t, 1)))
    (x1_of_x,) = sp.solve(sp.Eq(curve.subs(s, t), x), x1)
    p = p1(x1_of_x) * factor
    return {
        "x": x,
        "x0": x0,
        "x1": x1,
        "curve": curve,
        "factor": sp.simplify(factor),
        "x1_of_x": x1_of_x,
        "p": p,
        "f": (x - x0) / t,
    }


def nonaffine() -> dict:
    """The 1-D non-affine family ``x1 = y + a (1-t) sin y``, ``y = (x - x0)/t + x0``.

    Returns ``phi``, the field from (F), the table's closed form (a definition, to be
    compared), the Jacobian ``d phi/dx``, the ODE of ``y`` along a characteristic, and
    its first integral from ``dsolve`` (the exact-equation hint).
    """
    x, x0 = sp.symbols("x x_0", real=True)
    y = (x - x0) / t + x0
    phi = y + a * (1 - t) * sp.sin(y)
    f = -phi.diff(t) / phi.diff(x)
    table = (x - x0) / t + a * t * sp.sin(y) / (1 + a * (1 - t) * sp.cos(y))
    Y = sp.Function("Y")
    # along a characteristic y' = (f - (x - x0)/t) / t; written as an exact equation
    ydot = sp.cancel(((table - (x - x0) / t) / t).subs(x, (Y(t) - x0) * t + x0))
    num, den = sp.fraction(sp.together(ydot))
    ode = sp.Eq(den * Y(t).diff(t) - num, 0)
    first_integral = sp.dsolve(ode, Y(t), hint="1st_exact", simplify=False)
    return {
        "x": x,
        "x0": x0,
        "y": y,
        "phi": phi,
        "f": f,
        "table": table,
        "jacobian": phi.diff(x),
        "ode": ode,
        "Y": Y,
        "first_integral": first_integral,
    }


def flow_matching_field() -> dict:
    """Su's affine field with FM's ``mu_tau = (1 - tau) x0``, ``sigma_tau = s_min +
    (1 - s_min) tau``, moved to FM's time ``t = 1 - tau`` (and sign), against Lipman's eq. (21)
    ``u_t(x | x1) = (x1 - (1 - s_min) x) / (1 - (1 - s_min) t)`` (``x1`` the datum)."""
    x, x0 = sp.symbols("x x_0", real=True)
    mu = (1 - tau) * x0
    sig = sigma_min + (1 - sigma_min) * tau
    su = mu.diff(tau) + sig.diff(tau) / sig * (x - mu)
    fm_time = sp.simplify(-su.subs(tau, 1 - t))
    lipman = (x0 - (1 - sigma_min) * x) / (1 - (1 - sigma_min) * t)
    return {"su": su, "su_fm_time": fm_time, "lipman": lipman}
