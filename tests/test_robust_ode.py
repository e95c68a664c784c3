"""Issue 17, numerical robustness: the ODE fields and samplers of chapters 4-5 near t = 0.

Every field of these chapters is singular at the data end: the one-point velocity is
``(x - x0) / t`` (chapter 4's kernels and chapter 5's straight path alike, ``sigma'/sigma = 1/t``),
and the kernels' densities concentrate as ``t -> 0``.  What must hold there:

* at small but positive ``t`` (down to 1e-12) every field, density, divergence and sampler
  returns finite numbers, including at points far from the data and on a datum itself
  (the posterior weights are softmaxes of log densities, so nothing underflows to 0/0);
* at ``t = 0`` or outside the valid range a field refuses with a ``ValueError`` naming the
  argument (the documented clamp is the caller's: chapter 4 integrates in log time down to
  ``t_min > 0``; chapter 5 stops its exact fields at ``T_MIN = 1e-3``);
* the learned samplers reach ``t = 0`` (flow matching: the network has no singularity) or
  ``t_min`` (chapter 4's denoiser, in log time) with finite samples.
"""

from __future__ import annotations

import pytest
import torch

from deepnotes.ode import characteristics as C
from deepnotes.ode import data as D
from deepnotes.ode import fields
from deepnotes.ode import integrate as I
from deepnotes.ode import kernels as K
from deepnotes.ode import learned as L

TINY = [1e-3, 1e-6, 1e-9, 1e-12]
BAD_T = [0.0, -1e-3, float("nan"), float("inf")]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return D.toy_data("8gaussians", 64, torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def probes(data):
    """Points on a datum, next to one, between two modes, and far away."""
    g = torch.Generator().manual_seed(1)
    far = 12.0 * torch.randn(8, 2, generator=g, dtype=torch.float64)
    return torch.cat(
        [data[:4], data[:4] + 1e-4, torch.tensor([[0.0, 0.0], [1.4, 1.4]]).double(), far]
    )


def finite(*tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


# --------------------------------------------------------------------------- chapter 4


@pytest.mark.parametrize("kernel", ["gravity", "gaussian"])
@pytest.mark.parametrize("t", TINY)
def test_exact_field_finite_near_zero(data, probes, kernel, t):
    field = fields.ExactField(data, kernel)
    f, div = field.velocity_and_divergence(probes, t)
    assert finite(f, div, field.velocity(probes, t), field.denoise(probes, t))
    assert finite(field.log_marginal(probes, t))
    # far from the data the field points at the posterior mean: (x - E[x0|x]) / t
    far = probes[-8:]
    x0_hat = field.denoise(far, t)
    torch.testing.assert_close(field.velocity(far, t) * t, far - x0_hat)


@pytest.mark.parametrize("kernel", ["tanh", "exp"])
@pytest.mark.parametrize("t", TINY)
def test_exact_field_other_kernels_near_zero(data, probes, kernel, t):
    """tanh and exp densities are singular like r^(1-d) at a datum (integrable): off the data
    the field is finite at every small t, and on a datum it is its limit, 0 (the posterior puts
    all weight there; a plain softmax of the infinite log density gave NaN)."""
    field = fields.ExactField(data, kernel)
    off = probes[4:]  # not exactly on a datum
    assert finite(field.velocity(off, t), field.log_marginal(off, t))
    on = field.velocity(probes[:4], t)
    assert torch.equal(on, torch.zeros_like(on))
    assert bool(torch.isposinf(field.log_marginal(probes[:4], t)).all())  # p_t is infinite there


@pytest.mark.parametrize("kernel", ["gravity", "gaussian", "tanh", "exp"])
@pytest.mark.parametrize("t", BAD_T)
def test_exact_field_refuses_t_outside_range(data, probes, kernel, t):
    field = fields.ExactField(data, kernel)
    for call in (field.velocity, field.log_marginal, field.denoise):
        with pytest.raises(ValueError, match=r"\bt\b"):
            call(probes, t)


@pytest.mark.parametrize("kernel", ["gravity", "gaussian", "tanh", "exp"])
def test_kernels_near_zero(kernel):
    x0 = torch.zeros(5, 2, dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    for t in TINY:
        xt = K.sample(kernel, x0, t, g)
        assert finite(xt)
        off = xt + 1e-3  # off x0, where tanh and exp are finite
        assert finite(K.log_density(kernel, off, t, x0), K.one_point_velocity(off, t, x0))
    for t in BAD_T:
        with pytest.raises(ValueError, match=r"\bt\b"):
            K.log_density(kernel, x0 + 1, t, x0)


def test_log_time_grid_and_integrate_refuse_zero():
    with pytest.raises(ValueError, match="t_start"):
        I.log_time_grid(0.0, 1.0, 10)
    with pytest.raises(ValueError, match="t_end"):
        I.log_time_grid(1.0, 0.0, 10)
    with pytest.raises(ValueError, match="times"):
        I.integrate(lambda t, x: x, torch.ones(3, 2), torch.linspace(1, 0, 5), log_time=True)


@pytest.mark.parametrize("kernel", ["gravity", "gaussian"])
def test_exact_field_log_time_sampling_to_tiny_t(data, kernel):
    """Chapter 4's clamp: log-time steps from T down to t_min > 0 stay finite and land on the
    data (the exact field's flow ends on a datum)."""
    field = fields.ExactField(data, kernel)
    g = torch.Generator().manual_seed(3)
    x_T = K.sample_prior(kernel, 32, 2, 10.0, g)
    grid = I.log_time_grid(10.0, 1e-6, 80)
    out = I.integrate(lambda t, y: field.velocity(y, t), x_T, grid, method="heun")
    assert finite(out)
    assert float(torch.cdist(out, data).min(1).values.max()) < 0.05


def test_denoiser_sampler_tiny_t_min_and_refusals():
    model = L.Denoiser(2, 16, 2)
    x_T = K.sample_prior("gravity", 16, 2, 20.0, torch.Generator().manual_seed(4))
    for t_min in (1e-3, 1e-6, 1e-9):
        out = L.generate(model, x_T, t_min=t_min, steps=20, method="heun", path=True)
        assert finite(out)
    for t in BAD_T:
        with pytest.raises(ValueError, match="t_min"):
            L.generate(model, x_T, t_min=t, steps=5)
        with pytest.raises(ValueError, match=r"\bt\b"):
            model(x_T.float(), torch.tensor(t))


# --------------------------------------------------------------------------- chapter 5


@pytest.mark.parametrize("prior", C.PRIORS)
@pytest.mark.parametrize("kind", C.PATHS)
def test_empirical_field_finite_near_zero(data, probes, prior, kind):
    path = C.Path(kind, 3.0 if kind == "swirl" else 0.0)
    field = C.EmpiricalField(data, prior, path)
    for t in TINY:
        f = field.velocity(probes, t)
        assert finite(f), (prior, kind, t)
        lm = field.log_marginal(probes, t)
        assert not bool(torch.isnan(lm).any())  # -inf off a uniform prior's support is allowed
    for t in [*BAD_T, 1.5]:
        with pytest.raises(ValueError, match=r"\bt\b"):
            field.velocity(probes, t)


def test_gaussian_mixture_field_near_zero(probes):
    field = C.GaussianMixtureField(C.circle_means(), 0.1, 3.0)
    for t in TINY:
        assert finite(field.velocity(probes, t), field.log_marginal(probes, t))
    # the limit t -> 0 is finite: f_t(x) -> the t = 0 value, no 1/t blow-up
    a, b = field.velocity(probes, 1e-6), field.velocity(probes, 1e-9)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    for t in [*BAD_T, 1.5]:
        with pytest.raises(ValueError, match=r"\bt\b"):
            field.velocity(probes, t)


def test_exact_field_to_t_zero_clear_error_or_finite(data):
    """Uniform steps 1 -> 0 on an exact field: Euler never evaluates t = 0 and lands finite;
    Heun's last stage would, and is refused with an error naming t (chapter 5 stops at
    T_MIN instead)."""
    field = C.EmpiricalField(data)
    x1 = C.sample_prior("gaussian", 32, 2, torch.Generator().manual_seed(5))
    grid = torch.linspace(1.0, 0.0, 41, dtype=torch.float64)

    def v(t, y):
        return field.velocity(y, t)

    assert finite(I.integrate(v, x1, grid, method="euler", log_time=False))
    with pytest.raises(ValueError, match=r"\bt\b"):
        I.integrate(v, x1, grid, method="heun", log_time=False)
    near = torch.linspace(1.0, 1e-3, 41, dtype=torch.float64)
    assert finite(I.integrate(v, x1, near, method="heun", log_time=False))


def test_flow_matching_samplers_reach_t_zero():
    """The learned velocity has no singularity: every sampler runs to t = 0, finite."""
    torch.manual_seed(0)
    model = C.VelocityNet(2, 16, 2)
    x1 = C.sample_prior("gaussian", 64, 2, torch.Generator().manual_seed(6))
    for method in I.METHODS:
        for steps in (1, 3, 50):
            assert finite(C.generate(model, x1, steps=steps, method=method, path=True))
    out, nfe = C.generate_adaptive(model, x1, rtol=1e-6, atol=1e-8)
    assert finite(out) and nfe > 0
