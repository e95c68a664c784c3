"""Chapter 4 (the Green's-function recipe for ODE generative models), in SymPy.

Su Jianlin, "生成扩散模型漫谈（十四）：构建ODE的一般步骤（上）" (2022-12-15).  The steps:

* an ODE ``dx/dt = f_t(x)`` transports a density by the continuity equation
  ``d_t p = -div(f p)`` (derived from one Euler step, :func:`continuity_equation`);
* packed as ``u = (p, f p)`` it says ``div_{(t,x)} u = 0`` (:func:`divergence_form`);
* a space-time isotropic point-source solution ``G = phi(R) (t, x - x0)`` needs
  ``R phi' + (d+1) phi = 0`` (:func:`isotropic_radial_ode`), solved by ``dsolve``:
  ``phi = C R^-(d+1)``, the gravity / PFGM kernel (:func:`gravity_field`);
* its normalising constant and radial CDF (:func:`normalising_constant`,
  :func:`gravity_radial_cdf`), the ratio trick of PFGM (:func:`ratio_trick_density`);
* the space-only family (SEP), the Gaussian case and the reverse construction from a
  radial CDF ``psi_t(r)`` (:func:`reverse_construction`), whose one-point velocity is
  ``(x - x0)/t`` for every scale family.

Every function returns SymPy objects; nothing here imports torch.
"""

from __future__ import annotations

import sympy as sp

from deepnotes.checks import one_of
from deepnotes.theory import _checks as _chk

__all__ = [
    "R",
    "WORKED_KERNELS",
    "beta_transform_density",
    "continuity_equation",
    "d",
    "divergence_form",
    "dt",
    "e",
    "gaussian_sep",
    "gravity_field",
    "gravity_radial_cdf",
    "gravity_radius_density",
    "isotropic_radial_ode",
    "normalising_constant",
    "normalising_constant_claim",
    "point_source_divergence",
    "point_source_flux",
    "r",
    "ratio_trick_density",
    "reverse_construction",
    "rho",
    "s",
    "scale_family_ratio",
    "score_identity",
    "sep_residual",
    "space_only_divergence",
    "sphere_area",
    "t",
    "worked_cdf",
]

t, r, R, rho, s, e = sp.symbols("t r R rho s e", positive=True)
d = sp.Symbol("d", positive=True, integer=True)
dt = sp.Symbol("Delta_t", positive=True)

#: The worked radial CDFs psi_t(r) of section 5c (``rho = r/t``); ``gravity`` is for d = 2.
WORKED_KERNELS = ("tanh", "exp", "gravity", "gaussian")


def _check_dim(name: str, value, lo: int = 1, hi: int = 64) -> int:
    return _chk.count(name, value, lo, hi)


def sphere_area(dim) -> sp.Expr:
    """Area of the unit sphere in ``R^dim``: ``S_dim = 2 pi^(dim/2) / Gamma(dim/2)``.

    ``dim`` is a positive integer or a SymPy expression for one (``d``)."""
    dim = _chk.count_or_symbol("dim", dim)
    return 2 * sp.pi ** (sp.S(dim) / 2) / sp.gamma(sp.S(dim) / 2)


# --------------------------------------------------------------------------- section 0-2


def continuity_equation() -> dict:
    """Derive the continuity equation from one Euler step, in d = 2 with generic functions.

    Mass conservation over a step, ``p_{t+dt}(x + f dt) det(I + J dt) = p_t(x)``, to first
    order in ``dt``, is solved (``sp.solve``) for ``d_t p``.  Returns the solved ``d_t p``
    (``"dpdt"``), the divergence form ``-div(f p)`` (``"claim"``), and the first-order
    coefficient of ``det(I + J dt)`` with the divergence (``"det_first_order"``, ``"div"``).
    """
    x1, x2 = sp.symbols("x1 x2", real=True)
    p = sp.Function("p")(t, x1, x2)
    f1 = sp.Function("f1")(t, x1, x2)
    f2 = sp.Function("f2")(t, x1, x2)
    jac = sp.Matrix([[f1.diff(x1), f1.diff(x2)], [f2.diff(x1), f2.diff(x2)]])
    det = (sp.eye(2) + dt * jac).det()
    det1 = sp.expand(det).coeff(dt, 1)
    div = f1.diff(x1) + f2.diff(x2)
    # p_{t+dt}(x + f dt) to first order: p + dt (d_t p + f . grad p)
    pt = sp.Symbol("p_t")  # the unknown d_t p
    moved = p + dt * (pt + f1 * p.diff(x1) + f2 * p.diff(x2))
    balance = sp.expand(moved * (1 + dt * det1) - p).coeff(dt, 1)
    (dpdt,) = sp.solve(sp.Eq(balance, 0), pt)
    claim = -((f1 * p).diff(x1) + (f2 * p).diff(x2))
    return {"dpdt": dpdt, "claim": claim, "det_first_order": det1, "div": div}


def divergence_form() -> dict:
    """``u = (p, f p)`` in d = 2: ``div_{(t,x)} u`` and the continuity residual ``d_t p + div(f p)``."""
    x1, x2 = sp.symbols("x1 x2", real=True)
    p = sp.Function("p")(t, x1, x2)
    f1 = sp.Function("f1")(t, x1, x2)
    f2 = sp.Function("f2")(t, x1, x2)
    u = (p, f1 * p, f2 * p)
    div_u = u[0].diff(t) + u[1].diff(x1) + u[2].diff(x2)
    ce = p.diff(t) + (f1 * p).diff(x1) + (f2 * p).diff(x2)
    return {"div_u": div_u, "continuity": ce, "velocity": (u[1] / u[0], u[2] / u[0])}


# --------------------------------------------------------------------------- section 4


def isotropic_radial_ode(dim: int = 2) -> dict:
    """The divergence of ``phi(R) (t, x - x0)`` in ``dim + 1`` dimensions, and its ``dsolve``.

    Returns ``"divergence"`` (computed from the components for this ``dim``), ``"ode_lhs"``
    (``R phi'(R) + (dim+1) phi(R)`` evaluated at ``R = sqrt(t^2 + |x - x0|^2)``, to compare),
    and ``"solution"``: ``dsolve(R phi' + (d+1) phi, phi)`` with *symbolic* ``d``.
    """
    dim = _check_dim("dim", dim, 1, 4)
    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    a = sp.symbols(f"a1:{dim + 1}", real=True)
    phi = sp.Function("phi")
    rr = sp.sqrt(t**2 + sum((xi - ai) ** 2 for xi, ai in zip(xs, a, strict=True)))
    comps = [t] + [xi - ai for xi, ai in zip(xs, a, strict=True)]
    coords = [t, *xs]
    div = sum((phi(rr) * c).diff(v) for c, v in zip(comps, coords, strict=True)).doit()
    lhs = (R * phi(R).diff(R) + (dim + 1) * phi(R)).subs(R, rr).doit()
    sol = sp.dsolve(R * phi(R).diff(R) + (d + 1) * phi(R), phi(R))
    return {"divergence": div, "ode_lhs": lhs, "solution": sol, "phi": phi}


def gravity_field(dim: int = 2) -> dict:
    """The point-source field ``G = (t, x - a) / R^(dim+1)`` (GRAV, without ``C``), explicit.

    Returns its ``"divergence"`` in ``(t, x)``, the Laplacian of ``G_1 = t / R^(dim+1)``
    (``"laplacian_G1"``: the Poisson kernel of the half-space is harmonic), the components
    (``"G"``) and the coordinates.
    """
    dim = _check_dim("dim", dim, 1, 4)
    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    a = sp.symbols(f"a1:{dim + 1}", real=True)
    rr2 = t**2 + sum((xi - ai) ** 2 for xi, ai in zip(xs, a, strict=True))
    comps = [t] + [xi - ai for xi, ai in zip(xs, a, strict=True)]
    g = [c / rr2 ** (sp.S(dim + 1) / 2) for c in comps]
    coords = [t, *xs]
    div = sp.simplify(sum(gi.diff(v) for gi, v in zip(g, coords, strict=True)))
    lap = sp.simplify(sum(g[0].diff(v, 2) for v in coords))
    return {"divergence": div, "laplacian_G1": lap, "G": g, "coords": coords}


def normalising_constant(dim: int) -> sp.Expr:
    """``C`` with ``C * int S_dim rho^(dim-1) (1 + rho^2)^(-(dim+1)/2) d rho = 1``, integrated."""
    dim = _check_dim("dim", dim, 1, 8)
    total = sp.integrate(
        sphere_area(dim) * rho ** (dim - 1) * (1 + rho**2) ** (-sp.S(dim + 1) / 2),
        (rho, 0, sp.oo),
    )
    return sp.simplify(1 / total)


def normalising_constant_claim(dim) -> sp.Expr:
    """The stated value ``Gamma((d+1)/2) / pi^((d+1)/2) = 2 / S_{d+1}`` (a definition)."""
    dim = _chk.count_or_symbol("dim", dim)
    return sp.gamma(sp.S(dim + 1) / 2) / sp.pi ** (sp.S(dim + 1) / 2)


def gravity_radial_cdf(dim: int) -> sp.Expr:
    """``psi(rho) = P(|z| <= rho)`` for the gravity kernel in ``dim`` dimensions, integrated.

    Uses the stated constant (:func:`normalising_constant_claim`), which
    :func:`normalising_constant` checks; ``psi(oo) = 1`` checks it again.
    """
    dim = _check_dim("dim", dim, 1, 8)
    dens = gravity_radius_density(dim).subs(rho, s)
    return sp.simplify(sp.integrate(dens, (s, 0, rho)))


def gravity_radius_density(dim) -> sp.Expr:
    """Density of ``|z|`` under the gravity kernel: ``C S_d rho^(d-1) (1+rho^2)^(-(d+1)/2)``."""
    dim = _chk.count_or_symbol("dim", dim)
    return (
        normalising_constant_claim(dim)
        * sphere_area(dim)
        * rho ** (dim - 1)
        * (1 + rho**2) ** (-(sp.S(dim) + 1) / 2)
    )


def beta_transform_density(dim: int) -> dict:
    """Density of ``B = rho^2 / (1 + rho^2)`` when ``rho`` has the gravity radius law.

    Returned next to the ``Beta(dim/2, 1/2)`` density from ``sympy.stats``: PFGM's prior
    sampler draws ``B`` and sets ``rho = sqrt(B / (1 - B))``.
    """
    from sympy import stats

    dim = _check_dim("dim", dim, 1, 8)
    b = sp.Symbol("b", positive=True)
    rho_of_b = sp.sqrt(b / (1 - b))
    p_b = gravity_radius_density(dim).subs(rho, rho_of_b) * sp.diff(rho_of_b, b)
    beta = stats.density(stats.Beta("B", sp.S(dim) / 2, sp.S.Half))(b)
    q = sp.Symbol("q", positive=True)  # b = 1/(1+q) keeps b in (0, 1) for simplify
    gap = sp.expand_func(p_b - beta).subs(b, 1 / (1 + q))
    return {"transformed": p_b, "beta": beta, "b": b, "gap": sp.simplify(gap)}


def ratio_trick_density(dim: int) -> dict:
    """The law of ``|eps_x| / |eps_t|`` (PFGM's perturbation with ``t`` substituted).

    ``|eps_x|`` has density ``prop s^(d-1) e^(-s^2/2)`` and ``|eps_t|`` is half-normal;
    integrating ``e`` out of the joint density of ``(r = s/e, e)`` gives ``"integral"``,
    to compare with ``r^(d-1)/(1+r^2)^((d+1)/2)`` times ``K_d = 2^((d-1)/2) Gamma((d+1)/2)``,
    and ``"density"``, the normalised law of ``r``.
    """
    dim = _check_dim("dim", dim, 1, 8)
    integral = sp.integrate(r ** (dim - 1) * e**dim * sp.exp(-(1 + r**2) * e**2 / 2), (e, 0, sp.oo))
    k = 2 ** (sp.S(dim - 1) / 2) * sp.gamma(sp.S(dim + 1) / 2)
    # normalise the chi(dim) and half-normal densities: constants of the joint law
    c_x = 1 / (2 ** (sp.S(dim) / 2 - 1) * sp.gamma(sp.S(dim) / 2))
    c_t = sp.sqrt(2 / sp.pi)
    dens = sp.simplify(c_x * c_t * integral)
    return {
        "integral": sp.simplify(integral),
        "claim": k * r ** (dim - 1) / (1 + r**2) ** (sp.S(dim + 1) / 2),
        "K": k,
        "density": dens,
    }


# --------------------------------------------------------------------------- section 5


def space_only_divergence(dim: int = 3) -> sp.Expr:
    """``div(F(r)(x - x0)) - (r F'(r) + dim F(r))`` with a generic ``F``, explicit components."""
    dim = _check_dim("dim", dim, 1, 4)
    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    a = sp.symbols(f"a1:{dim + 1}", real=True)
    big_f = sp.Function("F")
    rr = sp.sqrt(sum((xi - ai) ** 2 for xi, ai in zip(xs, a, strict=True)))
    div = sum((big_f(rr) * (xi - ai)).diff(xi) for xi, ai in zip(xs, a, strict=True))
    claim = (r * big_f(r).diff(r) + dim * big_f(r)).subs(r, rr)
    return sp.simplify((div - claim).doit())


def sep_residual(phi: sp.Expr, varphi: sp.Expr, dim=d) -> sp.Expr:
    """The SEP equation ``d_t phi + r^(1-d) d_r (r^d varphi)`` for radial ``phi_t(r), varphi_t(r)``."""
    phi = _chk.expr("phi", phi, finite=False)
    varphi = _chk.expr("varphi", varphi, finite=False)
    dim = _chk.count_or_symbol("dim", dim)
    return sp.simplify(phi.diff(t) + r ** (1 - dim) * (r**dim * varphi).diff(r))


def gaussian_sep() -> dict:
    """The Gaussian kernel with ``sigma = sigma(t)`` in the SEP equation, symbolic ``d``.

    ``"residual"``: SEP residual of ``phi = N(r; 0, sigma^2 I)``, ``varphi = (sigma'/sigma) phi``;
    ``"derived_ratio"``: for d = 3, ``varphi/phi`` obtained the article's way,
    ``varphi = -r^(-3) d_t int_0^r phi s^2 ds``.
    """
    sigma = sp.Function("sigma", positive=True)(t)
    phi = (2 * sp.pi * sigma**2) ** (-d / 2) * sp.exp(-(r**2) / (2 * sigma**2))
    varphi = sigma.diff(t) / sigma * phi
    residual = sep_residual(phi, varphi)
    phi3 = phi.subs(d, 3)
    # int_0^r phi s^2 ds with sigma frozen (a positive symbol), by manual integration
    sig = sp.Symbol("sigma_", positive=True)
    antider = sp.integrate(s**2 * sp.exp(-(s**2) / (2 * sig**2)), s, manual=True)
    inner = (antider.subs(s, r) - antider.subs(s, 0)) * (2 * sp.pi * sig**2) ** sp.Rational(-3, 2)
    varphi3 = -inner.subs(sig, sigma).diff(t) / r**3
    ratio = sp.simplify(varphi3 / phi3)
    return {
        "residual": residual,
        "derived_ratio": ratio,
        "ratio_claim": sigma.diff(t) / sigma,
        "phi": phi,
    }


def score_identity() -> sp.Expr:
    """``(sigma'/sigma)(x - x0) N(x; x0, sigma^2) + sigma' sigma d_x N``, 1-D: should be 0."""
    x, x0 = sp.symbols("x x0", real=True)
    sigma = sp.Function("sigma")(t)
    gauss = sp.exp(-((x - x0) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)
    return sp.simplify(
        sigma.diff(t) / sigma * (x - x0) * gauss + sigma.diff(t) * sigma * gauss.diff(x)
    )


def worked_cdf(kernel: str) -> sp.Expr:
    """The radial CDF ``psi_t(r)`` of a worked kernel (d = 2 for ``gravity``), ``sigma_t = t``."""
    cdfs = {
        "tanh": sp.tanh(r / t),
        "exp": 1 - sp.exp(-r / t),
        "gravity": 1 - t / sp.sqrt(t**2 + r**2),
        "gaussian": 1 - sp.exp(-(r**2) / (2 * t**2)),
    }
    one_of("kernel", kernel, WORKED_KERNELS)
    return cdfs[kernel]


def reverse_construction(psi: sp.Expr, dim=2, lam: sp.Expr = sp.S.Zero) -> dict:
    """Section 5c: from a radial CDF ``psi_t(r)`` build ``phi`` and ``varphi`` (constant dropped).

    ``phi = d_r psi / r^(d-1)``, ``varphi = -d_t (psi + lambda_t) / r^d``.  Returns both, the
    SEP residual, and the one-point speed ratio ``varphi / phi`` (so the velocity is
    ``(varphi/phi) (x - x0)``).
    """
    psi = _chk.expr("psi", psi, finite=False)
    if r not in psi.free_symbols:
        raise ValueError(f"psi must be a radial CDF, a function of r, got {psi}")
    dim = _chk.count_or_symbol("dim", dim)
    lam = _chk.expr("lam", lam)
    phi = sp.simplify(psi.diff(r) / r ** (dim - 1))
    varphi = sp.simplify(-(psi + lam).diff(t) / r**dim)
    return {
        "phi": phi,
        "varphi": varphi,
        "residual": sep_residual(phi, varphi, dim),
        "ratio": sp.simplify(varphi / phi),
    }


def scale_family_ratio() -> dict:
    """``psi_t(r) = Psi(r / sigma(t))`` with a generic ``Psi``: ``varphi/phi`` and ``sigma'/sigma``."""
    big_psi = sp.Function("Psi")
    sigma = sp.Function("sigma")(t)
    out = reverse_construction(big_psi(r / sigma), dim=2)
    return {"ratio": out["ratio"], "claim": sigma.diff(t) / sigma, "residual": out["residual"]}


def point_source_divergence(dim: int) -> sp.Expr:
    """``div((x - x0) / r^dim)`` away from ``x0``, explicit components: 0 for ``r > 0``."""
    dim = _check_dim("dim", dim, 1, 4)
    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    rr = sp.sqrt(sum(xi**2 for xi in xs))
    return sp.simplify(sum((xi / rr**dim).diff(xi) for xi in xs))


def point_source_flux(dim: int) -> sp.Expr:
    """Flux of ``(x - x0)/r^dim`` out of a sphere of any radius about ``x0``: ``S_dim`` (a source)."""
    dim = _check_dim("dim", dim, 1, 8)
    radius = sp.Symbol("a", positive=True)
    # the field is radial with size radius^(1-dim): flux = size * area of the sphere
    return sp.simplify(radius ** (1 - dim) * sphere_area(dim) * radius ** (dim - 1))
