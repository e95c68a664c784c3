"""Chapter 4 (deepnotes.ode, deepnotes.theory.ode, deepnotes.reference.pfgm)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from deepnotes.ode import data as D
from deepnotes.ode import fields
from deepnotes.ode import integrate as I
from deepnotes.ode import kernels as K
from deepnotes.ode import learned as L
from deepnotes.ode import metrics as M
from deepnotes.reference import pfgm
from deepnotes.theory import ode as th


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # small tensors: two intra-op threads on a shared 2-core machine are many times slower
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- theory


def test_continuity_equation_from_euler_step():
    ce = th.continuity_equation()
    assert sp.simplify(ce["dpdt"] - ce["claim"]) == 0
    assert sp.simplify(ce["det_first_order"] - ce["div"]) == 0
    form = th.divergence_form()
    assert sp.simplify(form["div_u"] - form["continuity"]) == 0


def test_isotropic_ansatz_dsolve_and_divergence_free():
    iso = th.isotropic_radial_ode(2)
    assert sp.simplify(iso["divergence"] - iso["ode_lhs"]) == 0
    c1 = sp.Symbol("C1")
    assert iso["solution"].rhs == c1 * th.R ** (-th.d - 1)
    g = th.gravity_field(2)
    assert g["divergence"] == 0 and g["laplacian_G1"] == 0
    assert th.gravity_field(1)["divergence"] == 0


@pytest.mark.parametrize("dim", [1, 2, 3, 4])
def test_normalising_constant(dim):
    expected = {1: 1 / sp.pi, 2: 1 / (2 * sp.pi), 3: 1 / sp.pi**2, 4: sp.Rational(3, 4) / sp.pi**2}
    assert sp.simplify(th.normalising_constant(dim) - expected[dim]) == 0
    assert sp.simplify(th.normalising_constant_claim(dim) - expected[dim]) == 0


def test_radial_cdf_table_and_beta():
    rho = th.rho
    table = {
        1: 2 / sp.pi * sp.atan(rho),
        2: 1 - 1 / sp.sqrt(1 + rho**2),
        3: 2 / sp.pi * (sp.atan(rho) - rho / (1 + rho**2)),
        4: 1 - (1 + sp.Rational(3, 2) * rho**2) / (1 + rho**2) ** sp.Rational(3, 2),
    }
    for dim, psi in table.items():
        assert sp.simplify(th.gravity_radial_cdf(dim) - psi) == 0, dim
        assert th.beta_transform_density(dim)["gap"] == 0, dim


@pytest.mark.parametrize("dim,k", [(1, 1), (2, sp.sqrt(sp.pi / 2)), (3, 2), (5, 8)])
def test_ratio_trick_integral(dim, k):
    out = th.ratio_trick_density(dim)
    assert sp.simplify(out["K"] - k) == 0
    assert sp.simplify(out["integral"] - out["claim"]) == 0
    assert sp.simplify(out["density"] - th.gravity_radius_density(dim).subs(th.rho, th.r)) == 0


def test_space_only_gaussian_and_score():
    assert th.space_only_divergence(3) == 0
    gs = th.gaussian_sep()
    assert gs["residual"] == 0
    assert sp.simplify(gs["derived_ratio"] - gs["ratio_claim"]) == 0
    assert th.score_identity() == 0


@pytest.mark.parametrize("kernel", th.WORKED_KERNELS)
def test_reverse_construction_same_velocity(kernel):
    out = th.reverse_construction(th.worked_cdf(kernel))
    assert out["residual"] == 0
    assert sp.simplify(out["ratio"] - 1 / th.t) == 0


def test_scale_family_and_lambda():
    sf = th.scale_family_ratio()
    assert sp.simplify(sf["ratio"] - sf["claim"]) == 0 and sf["residual"] == 0
    lam = sp.Function("lam")(th.t)
    out = th.reverse_construction(th.worked_cdf("tanh"), lam=lam)
    # (SEP) cannot see lambda_t away from x0: the term is a point source hidden at r = 0
    assert out["residual"] == 0 and sp.simplify(out["ratio"] - 1 / th.t) != 0
    for dim in (2, 3):
        assert th.point_source_divergence(dim) == 0
    assert th.point_source_flux(2) == 2 * sp.pi


def test_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="dim"):
        th.normalising_constant(0)
    with pytest.raises(ValueError, match="kernel"):
        th.worked_cdf("cauchy")


# --------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("kernel", K.KERNELS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_sampler_matches_radial_cdf(kernel, d):
    z = K.sample_z(kernel, 40000, d, gen(d))
    ks = M.ks_distance(z.norm(dim=1), lambda a: K.radial_cdf(kernel, a, d))
    assert ks < 0.012, ks


@pytest.mark.parametrize("kernel", K.KERNELS)
def test_density_normalised_and_matches_cdf(kernel):
    # radial integral of the 2-D density against the radial CDF: int_0^rho S_2 s p(s) ds = psi
    t = 0.7
    s = torch.linspace(1e-6, 5.0, 200001, dtype=torch.float64)
    x = torch.stack([s, torch.zeros_like(s)], dim=1)
    p = K.log_density(kernel, x, t, torch.zeros(1, 2, dtype=torch.float64)).exp()
    integrand = 2 * math.pi * s * p
    psi = torch.cumulative_trapezoid(integrand, s)
    expected = K.radial_cdf(kernel, s[1:].numpy() / t, 2)
    assert np.max(np.abs(psi.numpy() - expected)) < 2e-3


def test_gravity_constant_values():
    assert math.isclose(math.exp(K.log_gravity_constant(2)), 1 / (2 * math.pi))
    assert math.isclose(math.exp(K.log_gravity_constant(4)), 3 / (4 * math.pi**2))


def test_ratio_trick_is_gravity_and_median_sqrt3():
    rho = K.ratio_trick(200000, 2, gen()).norm(dim=1)
    assert M.ks_distance(rho, lambda a: K.radial_cdf("gravity", a, 2)) < 0.005
    assert abs(float(rho.median()) - math.sqrt(3)) < 0.03
    inv = K.sample_radius("gravity", 200000, 2, gen(1))
    assert M.ks_two_sample(rho, inv) < 0.01


def test_one_point_velocity_is_shared():
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    x = torch.ones(3, 2, dtype=torch.float64)
    assert torch.allclose(K.one_point_velocity(x, 0.5, x0), 2 * x)


def test_bad_input_names_argument():
    x = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="kernel"):
        K.log_density("cauchy", x, 1.0, x)
    with pytest.raises(ValueError, match="t must"):
        K.log_density("gravity", x, 0.0, x)
    with pytest.raises(ValueError, match="t must"):
        K.sample("gravity", x, -1.0)
    with pytest.raises(ValueError, match="kernel"):
        fields.ExactField(x, "cauchy")
    with pytest.raises(ValueError, match="data"):
        fields.ExactField(torch.zeros(5), "gravity")
    field = fields.ExactField(x, "gravity")
    with pytest.raises(ValueError, match="x must have dimension"):
        field.velocity(torch.zeros(3, 3, dtype=torch.float64), 1.0)
    with pytest.raises(ValueError, match="t must"):
        field.velocity(x, 0.0)
    with pytest.raises(ValueError, match="y must have dimension"):
        M.energy_distance(x, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="name"):
        D.toy_data("spiral", 10)
    with pytest.raises(ValueError, match="T"):
        K.sample_prior("gravity", 10, 2, 0.0)
    with pytest.raises(ValueError, match="method"):
        I.integrate(lambda t, y: y, x, I.log_time_grid(1.0, 0.1, 2), method="rk45")
    with pytest.raises(ValueError, match="t_start"):
        I.log_time_grid(0.0, 1.0, 3)
    with pytest.raises(ValueError, match="data"):
        L.train_denoiser(torch.zeros(10), steps=1)


# --------------------------------------------------------------------------- fields, transport


def _field(kernel, n=16):
    return fields.ExactField(D.toy_data("8gaussians", n, gen(3)), kernel)


@pytest.mark.parametrize("kernel", ["gravity", "gaussian"])
def test_closed_form_divergence_matches_autograd(kernel):
    field = _field(kernel)
    x = field.sample_marginal(64, 0.8, gen(4))
    t = torch.tensor(0.8, dtype=torch.float64)
    auto = I.autograd_divergence(lambda tt, y: field.velocity(y, tt))(t, x)
    v, div = field.velocity_and_divergence(x, t)
    assert torch.allclose(div, auto, atol=1e-10)
    assert torch.allclose(v, field.velocity(x, t), atol=1e-12)


def test_field_is_superposed_green_field():
    # f = u_{>1}/u_1 with u = mean_i C (t, x - x_i)/R^(d+1): compute u directly
    field = _field("gravity")
    x = torch.randn(20, 2, generator=gen(5), dtype=torch.float64)
    t = 0.6
    diff = x[:, None] - field.data[None]
    big_r = (t**2 + (diff**2).sum(-1)) ** 1.5
    c = 1 / (2 * math.pi)
    u1 = (c * t / big_r).mean(1)
    u2 = (c * diff / big_r[..., None]).mean(1)
    assert torch.allclose(field.u(x, t)[:, 0], u1, rtol=1e-12)
    assert torch.allclose(field.velocity(x, t), u2 / u1[:, None], atol=1e-12)


@pytest.mark.parametrize("kernel", ["gravity", "gaussian"])
def test_exact_field_transports_density(kernel):
    field = _field(kernel, 32)
    x = field.sample_marginal(128, 20.0, gen(6))
    grid = I.log_time_grid(20.0, 0.05, 200)
    both = lambda t, y: field.velocity_and_divergence(y, t)  # noqa: E731
    xe, le = I.integrate_logp(None, x, field.log_marginal(x, 20.0), grid, both=both)
    err = float((le - field.log_marginal(xe, 0.05)).abs().max())
    assert err < 1e-5, err


def test_integrators_order():
    # dx/dt = x on [1, 2], stepped uniformly in s = ln t: x(2) = e x(1)
    x = torch.ones(1, 1, dtype=torch.float64)
    grid = I.log_time_grid(1.0, 2.0, 20)
    errs = {
        m: abs(float(I.integrate(lambda t, y: y, x, grid, method=m)) - math.e) for m in I.METHODS
    }
    assert errs["rk4"] < errs["heun"] < errs["euler"] < 0.2
    assert errs["rk4"] < 1e-7
    lin = I.integrate(lambda t, y: y, x, torch.linspace(0, 1, 11), method="rk4", log_time=False)
    assert abs(float(lin) - math.e) < 1e-5


# --------------------------------------------------------------------------- metrics, data


def test_energy_distance():
    a = D.toy_data("8gaussians", 1500, gen(7))
    b = D.toy_data("8gaussians", 1500, gen(8))
    far = 2 * torch.randn(1500, 2, generator=gen(9), dtype=torch.float64)
    assert M.energy_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert M.energy_distance(a, b) < 0.01
    assert M.energy_distance(far, b) > 0.08


@pytest.mark.parametrize("name", D.DATASETS)
def test_toy_data_shape(name):
    x = D.toy_data(name, 100, gen())
    assert x.shape == (100, 2) and torch.isfinite(x).all()


def test_ks_two_sample_and_nearest():
    a = np.linspace(0, 1, 101)
    assert M.ks_two_sample(a, a) == 0.0
    assert M.ks_distance(np.array([0.5]), lambda v: v) == pytest.approx(0.5)
    ref = torch.zeros(1, 2)
    assert float(M.nearest_distance(torch.ones(1, 2), ref)) == pytest.approx(math.sqrt(2))


def test_learned_denoiser_trains():
    data = D.toy_data("8gaussians", 2000, gen(10))
    model, losses = L.train_denoiser(
        data, "gravity", steps=150, batch=128, width=32, generator=gen(11)
    )
    assert np.mean(losses[-30:]) < np.mean(losses[:30])
    out = L.generate(model, K.sample_prior("gravity", 50, 2, 20.0, gen(12)), steps=10)
    assert out.shape == (50, 2) and torch.isfinite(out).all()


# --------------------------------------------------------------------------- PFGM cross-checks


def test_pfgm_perturbation_pooled_matches_green_kernel():
    rng = np.random.default_rng(0)
    n = 200000
    x0 = np.zeros((n, 2))
    m = rng.uniform(0, 291, size=n)
    pert = pfgm.forward_pz(x0, m, sigma=0.01, tau=0.03, rng=rng)
    rho = np.linalg.norm(pert[:, :2] - x0, axis=1) / pert[:, 2]
    assert M.ks_distance(rho, lambda a: K.radial_cdf("gravity", a, 2)) < 0.01


def test_pfgm_prior_radius_matches_inverse_cdf():
    rng = np.random.default_rng(1)
    beta = pfgm.prior_radius(100000, 2, z_max=40.0, rng=rng)
    ours = K.sample_prior("gravity", 100000, 2, 40.0, gen(13)).norm(dim=1)
    closed = 40.0 * torch.sqrt(
        (1 - torch.rand(100000, generator=gen(14), dtype=torch.float64)) ** -2 - 1
    )
    assert M.ks_two_sample(beta, ours.numpy()) < 0.01
    assert M.ks_two_sample(beta, closed.numpy()) < 0.01
    assert (
        M.ks_two_sample(
            pfgm.prior_radius(50000, 5, z_max=1.0, rng=rng),
            K.sample_radius("gravity", 50000, 5, gen(15)).numpy(),
        )
        < 0.015
    )


def test_pfgm_empirical_field_direction():
    field = _field("gravity", 64)
    x = field.sample_marginal(256, 0.5, gen(16))
    t = torch.exp(torch.linspace(-3, 2, 256, dtype=torch.float64))
    u = field.u(x, t)
    ours = -torch.cat([u[:, 1:], u[:, :1]], dim=1)  # PFGM: attractive, z last
    theirs = pfgm.empirical_field(torch.cat([x, t[:, None]], 1), field.data, normalise=True)
    cos = torch.nn.functional.cosine_similarity(ours, theirs, dim=1)
    assert float(cos.min()) > 0.9999


def test_pfgmpp_radius_d1_is_ratio_trick():
    rng = np.random.default_rng(2)
    n = 100000
    t = np.exp(rng.uniform(-3, 3, size=n))
    y = pfgm.pfgmpp_perturb(np.zeros((n, 2)), t, D=1.0, rng=rng)
    rho = np.linalg.norm(y, axis=1) / t
    ratio = K.ratio_trick(n, 2, gen(17)).norm(dim=1).numpy()
    assert M.ks_two_sample(rho, ratio) < 0.01
