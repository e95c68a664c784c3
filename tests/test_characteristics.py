"""Chapter 5: conditional paths by the method of characteristics (deepnotes.ode.characteristics,
deepnotes.theory.characteristics) and the flow-matching libraries' paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.integrate import solve_ivp

from deepnotes.ode import characteristics as C
from deepnotes.ode import integrate as I
from deepnotes.ode import metrics as M
from deepnotes.theory import characteristics as th


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- theory


@pytest.mark.parametrize("path", ["straight", "affine", "trig"])
def test_field_from_inverse_matches_table(path):
    r = th.inverse_map(path)
    f = th.field_from_inverse(r["phi"], r["x"])
    assert th.reduced(f - th.table_field(path)).is_zero_matrix


def test_divergences_and_factor():
    x = th.point("x")
    assert th.reduced(th.divergence(th.table_field("straight"), x) - 2 / th.t) == 0
    assert th.characteristic_factor(2 / th.t) == th.t**-2
    div_trig = th.reduced(th.divergence(th.table_field("trig"), x))
    jac = th.inverse_map("trig")["phi"].jacobian(x).det()
    assert th.reduced(th.characteristic_factor(div_trig) - jac) == 0


def test_gaussian_continuity_straight_and_swirl():
    x, x0 = th.point("x"), th.point("x0")
    logp = th.log_gaussian(x, (1 - th.t) * x0, th.t**2)
    for path in ("straight", "swirl"):
        assert th.reduced(th.log_continuity_residual(logp, th.table_field(path), x)) == 0
    # a wrong density fails the check
    wrong = th.log_gaussian(x, (1 - th.t) * x0, th.t)
    assert th.reduced(th.log_continuity_residual(wrong, th.table_field("straight"), x)) != 0


def test_straight_characteristic_generic_prior():
    mc = th.straight_characteristic()
    assert sp.simplify(mc["curve"] - (mc["x0"] + th.s * (mc["x1"] - mc["x0"]))) == 0
    res = th.continuity_residual(mc["p"], sp.Matrix([mc["f"]]), sp.Matrix([mc["x"]]))
    assert th.reduced(res) == 0


def test_nonaffine_field_first_integral_and_density():
    na = th.nonaffine()
    assert th.reduced(na["f"] - na["table"]) == 0
    label = na["phi"].subs(na["x"], (na["Y"](th.t) - na["x0"]) * th.t + na["x0"])
    assert th.reduced(na["first_integral"].lhs + label) == 0
    p = th.p1(na["phi"]) * na["jacobian"]
    res = th.continuity_residual(p, sp.Matrix([na["f"]]), sp.Matrix([na["x"]]))
    assert th.reduced(res) == 0


def test_nonaffine_characteristic_factor_numbers():
    """The brief's numbers: a = 0.7, x0 = 0.3, x1 = 1.1, t = 0.2."""
    na = th.nonaffine()
    sym = (th.a, na["x0"], na["x"], th.t)
    f = sp.lambdify(sym, na["f"])
    df = sp.lambdify(sym, sp.diff(na["f"], na["x"]))
    jac = sp.lambdify(sym, na["jacobian"])
    sol = solve_ivp(
        lambda tt, y: [f(0.7, 0.3, y[0], tt), df(0.7, 0.3, y[0], tt)],
        (1.0, 0.2),
        [1.1, 0.0],
        rtol=1e-11,
        atol=1e-13,
    )
    xt, factor = sol.y[0, -1], math.exp(-sol.y[1, -1])
    assert xt == pytest.approx(0.38551373760, abs=1e-9)
    assert factor == pytest.approx(7.0910219860, abs=1e-8)
    assert factor == pytest.approx(jac(0.7, 0.3, xt, 0.2), rel=1e-9)


def test_flow_matching_eq21():
    fm = th.flow_matching_field()
    assert th.reduced(fm["su_fm_time"] - fm["lipman"]) == 0


def test_theory_bad_input():
    with pytest.raises(ValueError, match="path"):
        th.inverse_map("spiral")
    with pytest.raises(ValueError, match="dim"):
        th.inverse_map("swirl", 3)
    with pytest.raises(ValueError, match="dim"):
        th.point("x", 0)
    with pytest.raises(ValueError, match="div"):
        th.characteristic_factor(th.t * th.a)


# --------------------------------------------------------------------------- numerics


@pytest.mark.parametrize("kind,theta", [("straight", 0.0), ("trig", 0.0), ("swirl", 2.0)])
def test_path_velocity_is_the_time_derivative(kind, theta):
    path = C.Path(kind, theta)
    g = _gen()
    x0, x1 = torch.randn(50, 2, generator=g).double(), torch.randn(50, 2, generator=g).double()
    t = 0.05 + 0.9 * torch.rand(50, generator=g).double()
    h = 1e-6
    fd = (path.point(x0, x1, t + h) - path.point(x0, x1, t - h)) / (2 * h)
    xt = path.point(x0, x1, t)
    assert torch.allclose(path.target(x0, x1, t), fd, atol=1e-7)
    assert torch.allclose(path.velocity(xt, t, x0), fd, atol=1e-7)
    assert torch.allclose(path.inverse(xt, t, x0), x1, atol=1e-12)


@pytest.mark.parametrize("prior", C.PRIORS)
def test_priors_unit_variance_and_normalised(prior):
    x = C.sample_prior(prior, 200000, 2, _gen())
    assert torch.allclose(x.var(0), torch.ones(2, dtype=torch.float64), atol=0.02)
    grid = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    dens = C.log_prior(prior, grid[:, None]).exp()
    assert float(torch.trapezoid(dens, grid)) == pytest.approx(1.0, abs=2e-3)


def test_interval_demo_quantile_map():
    x1 = np.linspace(0.005, 1.995, 399)
    _, path = C.push_interval(x1, [0.5, 0.5, 1.2, 1.7])
    q = np.where(x1 < 1.0, 0.5, np.where(x1 < 1.5, 1.2, 1.7))
    away = np.min(np.abs(x1[:, None] - [1.0, 1.5]), 1) > 0.02
    assert np.max(np.abs(path[-1] - q)[away]) < 1e-6
    assert np.all(np.diff(path[-1]) >= -1e-12)  # monotone


def test_gaussian_mixture_transport_short():
    means = C.circle_means()
    field = C.GaussianMixtureField(means, 0.1, 3.0)
    x = torch.randn(64, 2, generator=_gen(), dtype=torch.float64)
    grid = torch.linspace(1.0, 0.3, 71, dtype=torch.float64)
    xe, lp = I.integrate_logp(
        lambda t, y: field.velocity(y, t),
        x,
        C.log_prior("gaussian", x),
        grid,
        method="rk4",
        log_time=False,
    )
    assert float((lp - field.log_marginal(xe, 0.3)).abs().max()) < 1e-5  # RK4, h = 0.01


def test_empirical_field_matches_gaussian_mixture_in_the_limit():
    """With data drawn from a GMM the empirical posterior mean approaches the closed form."""
    means = C.circle_means()
    gmm = C.GaussianMixtureField(means, 0.1)
    data = gmm.sample(20000, 0.0, _gen(1))
    emp = C.EmpiricalField(data, "gaussian")
    x = torch.randn(200, 2, generator=_gen(2), dtype=torch.float64)
    diff = (emp.velocity(x, 0.8) - gmm.velocity(x, 0.8)).abs().max()
    assert float(diff) < 0.05


def test_cfm_tiny_training_reduces_loss_and_generates():
    data = C.circle_means().repeat(50, 1)
    model, losses = C.train_cfm(data, "uniform", steps=150, batch=128, width=32, generator=_gen())
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    x1 = C.sample_prior("uniform", 100, 2, _gen(3))
    out = C.generate(model, x1, steps=10, method="heun")
    ad, nfe = C.generate_adaptive(model, x1)
    assert out.shape == (100, 2) and nfe > 0
    assert M.energy_distance(out, ad) < 0.05


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="t must lie"):
        C.Path().point(torch.zeros(2, 2), torch.zeros(2, 2), 1.5)
    with pytest.raises(ValueError, match="t must lie"):
        C.Path().velocity(torch.zeros(2, 2), 0.0, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="kind"):
        C.Path("spiral")
    with pytest.raises(ValueError, match="prior"):
        C.sample_prior("cauchy", 3)
    with pytest.raises(ValueError, match="x must have dimension"):
        C.EmpiricalField(torch.zeros(3, 2)).velocity(torch.zeros(4, 3), 0.5)
    with pytest.raises(ValueError, match="x1 must have dimension"):
        C.generate(C.VelocityNet(2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="data"):
        C.train_cfm(torch.zeros(3), "gaussian")
    with pytest.raises(ValueError, match="swirl path needs d = 2"):
        C.Path("swirl", 1.0).point(torch.zeros(2, 3), torch.zeros(2, 3), 0.5)
    with pytest.raises(ValueError, match="weights"):
        C.interval_field([0.5], 0.5, [0.1, 0.2], [0.2, 0.2])
    with pytest.raises(ValueError, match="model"):
        C.generate_adaptive(torch.nn.Linear(2, 2), torch.zeros(2, 2))


# --------------------------------------------------------------------------- references


def _pairs(seed=1):
    g = _gen(seed)
    data = torch.randn(256, 2, generator=g, dtype=torch.float64)
    noise = torch.randn(256, 2, generator=g, dtype=torch.float64)
    t = 0.01 + 0.98 * torch.rand(256, generator=g, dtype=torch.float64)
    return data, noise, t


def test_torchcfm_is_the_straight_path_time_flipped():
    pytest.importorskip("torchcfm")
    from deepnotes.reference import flowmatch as R

    data, noise, t = _pairs()
    xt, ut = R.torchcfm_sample(noise, data, t)
    path, tau = C.Path("straight"), 1 - t
    x_su = path.point(data, noise, tau)
    assert float((xt - x_su).abs().max()) < 1e-6
    assert float((ut + path.velocity(x_su, tau, data)).abs().max()) < 1e-6
    assert float((ut + path.target(data, noise, tau)).abs().max()) < 1e-6


def test_flow_matching_condot_is_su_affine_time_flipped():
    pytest.importorskip("flow_matching")
    from deepnotes.reference import flowmatch as R

    data, noise, t = _pairs(2)
    path, tau = C.Path("straight"), 1 - t
    x = path.point(data, noise, tau)
    a, da, s, ds = (c[:, None] for c in path.coefficients(tau))
    ours = C.affine_velocity(x, a * data, da * data, s, ds)
    assert float((R.flow_matching_velocity(data, x, t) + ours).abs().max()) < 1e-6
