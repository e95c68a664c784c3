"""Chapter 6: the LRU layer, its scans, the recall task and the SymPy derivations."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from deepnotes import lru, recall
from deepnotes.theory import lru as th

# --------------------------------------------------------------------------- references


def appendix_init(N, H, r_min=0.0, r_max=1.0, max_phase=6.28, rng=None):
    """The paper appendix's ``init_lru_parameters``, re-typed with a NumPy Generator."""
    u1 = rng.uniform(size=(N,))
    u2 = rng.uniform(size=(N,))
    nu_log = np.log(-0.5 * np.log(u1 * (r_max**2 - r_min**2) + r_min**2))
    theta_log = np.log(max_phase * u2)
    B_re = rng.normal(size=(N, H)) / np.sqrt(2 * H)
    B_im = rng.normal(size=(N, H)) / np.sqrt(2 * H)
    C_re = rng.normal(size=(H, N)) / np.sqrt(N)
    C_im = rng.normal(size=(H, N)) / np.sqrt(N)
    D = rng.normal(size=(H,))
    diag_lambda = np.exp(-np.exp(nu_log) + 1j * np.exp(theta_log))
    gamma_log = np.log(np.sqrt(1 - np.abs(diag_lambda) ** 2))
    names = ["nu_log", "theta_log", "B_re", "B_im", "C_re", "C_im", "D", "gamma_log"]
    values = [nu_log, theta_log, B_re, B_im, C_re, C_im, D, gamma_log]
    return dict(zip(names, values, strict=True))


def numpy_loop(p, u):
    """A NumPy complex128 serial loop: x_k = Lambda x_{k-1} + B_norm u_k, y = Re(C x) + D u."""
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    b_norm = (p["B_re"] + 1j * p["B_im"]) * np.exp(p["gamma_log"])[:, None]
    c = p["C_re"] + 1j * p["C_im"]
    x = np.zeros(lam.shape, dtype=np.complex128)
    ys = []
    for u_k in u:
        x = lam * x + b_norm @ u_k
        ys.append((c @ x).real + p["D"] * u_k)
    return np.stack(ys)


N, H, L = 16, 8, 64


@pytest.fixture(scope="module")
def appendix():
    rng = np.random.default_rng(0)
    p = appendix_init(N, H, 0.9, 0.999, rng=rng)
    u = rng.normal(size=(L, H))
    return p, u, numpy_loop(p, u)


@pytest.mark.parametrize("method", lru.METHODS)
def test_lru_matches_numpy_loop_float64(appendix, method):
    p, u, ref = appendix
    layer = lru.LRU(H, N, 0.9, 0.999, params=p, dtype=torch.float64)
    y = layer(torch.from_numpy(u), method=method).detach().numpy()
    assert np.max(np.abs(y - ref)) <= 1e-10 * np.max(np.abs(ref))


def test_init_matches_appendix():
    ours = lru.init_lru_parameters(N, H, 0.9, 0.999, rng=np.random.default_rng(3))
    theirs = appendix_init(N, H, 0.9, 0.999, rng=np.random.default_rng(3))
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, err_msg=name)


def test_init_statistics():
    p = lru.init_lru_parameters(20000, 64, 0.9, 0.999, max_phase=3.0, rng=0)
    lam = lru.lambda_from_params(p["nu_log"], p["theta_log"])
    r = np.abs(lam)
    assert r.min() >= 0.9 and r.max() <= 0.999
    exp = th.ring_init()
    sub = {th.r_min: sp.Rational(9, 10), th.r_max: sp.Rational(999, 1000)}
    se = r.std() / np.sqrt(r.size)
    assert abs(r.mean() - float(exp["mean_r"].subs(sub))) < 5 * se
    assert np.all((np.angle(lam) % (2 * np.pi)) <= 3.0 + 1e-9)
    np.testing.assert_allclose(np.exp(2 * p["gamma_log"]), 1 - r**2, rtol=1e-12)
    # E|(B u)_n|^2 = 1 for unit-variance u: Var(B_re) = Var(B_im) = 1/(2H)
    b = p["B_re"] + 1j * p["B_im"]
    assert abs(np.mean(np.sum(np.abs(b) ** 2, axis=1)) - 1) < 0.01


def test_scans_agree_and_gradients_match():
    g = torch.Generator().manual_seed(0)
    lam = torch.polar(
        0.9 + 0.099 * torch.rand(8, dtype=torch.float64, generator=g),
        6.28 * torch.rand(8, dtype=torch.float64, generator=g),
    ).requires_grad_()
    bu = torch.randn(3, 37, 8, dtype=torch.complex128, generator=g).requires_grad_()
    w = torch.randn(3, 37, 8, dtype=torch.complex128, generator=g)
    ref = lru.scan_loop(lam, bu)
    gref = torch.autograd.grad((ref * w).real.sum(), (lam, bu))
    for method in lru.METHODS:
        x = lru.scan(lam, bu, method)
        assert torch.allclose(x, ref, rtol=1e-10, atol=1e-12), method
        grads = torch.autograd.grad((x * w).real.sum(), (lam, bu))
        for a, b in zip(grads, gref, strict=True):
            assert torch.allclose(a, b, rtol=1e-9, atol=1e-10), method


def test_complex64_within_float_tolerance():
    g = torch.Generator().manual_seed(1)
    lam = torch.polar(
        torch.sqrt(0.81 + 0.19 * torch.rand(16, dtype=torch.float64, generator=g)),
        6.28 * torch.rand(16, dtype=torch.float64, generator=g),
    ).to(torch.complex64)
    bu = torch.randn(2048, 16, dtype=torch.complex64, generator=g)
    ref = lru.scan_loop(lam.to(torch.complex128), bu.to(torch.complex128))
    for method in lru.METHODS:
        x = lru.scan(lam, bu, method).to(torch.complex128)
        assert ((x - ref).abs().max() / ref.abs().max()).item() < 3e-4, method


def test_step_matches_forward(appendix):
    p, u, _ = appendix
    layer = lru.LRU(H, N, params=p, dtype=torch.float64)
    u_t = torch.from_numpy(u)
    full = layer(u_t, method="loop")
    x = None
    for k in range(5):
        y, x = layer.step(u_t[k], x)
        assert torch.allclose(y, full[k], atol=1e-12)


def test_jax_associative_scan_float32(appendix):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    p, u, _ = appendix

    def binary_operator_diag(element_i, element_j):
        a_i, bu_i = element_i
        a_j, bu_j = element_j
        return a_j * a_i, a_j * bu_i + bu_j

    def forward(q, uj):
        lam = jnp.exp(-jnp.exp(q["nu_log"]) + 1j * jnp.exp(q["theta_log"]))
        b_norm = (q["B_re"] + 1j * q["B_im"]) * jnp.expand_dims(jnp.exp(q["gamma_log"]), -1)
        lam_el = jnp.repeat(lam[None, ...], L, axis=0)
        bu_el = jax.vmap(lambda v: b_norm @ v)(uj)
        _, states = jax.lax.associative_scan(binary_operator_diag, (lam_el, bu_el))
        c = q["C_re"] + 1j * q["C_im"]
        return jax.vmap(lambda x, v: (c @ x).real + q["D"] * v)(states, uj)

    q = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in p.items()}
    ref = np.asarray(jax.jit(forward)(q, jnp.asarray(u, dtype=jnp.float32)))
    layer = lru.LRU(H, N, params=p, dtype=torch.float32)
    for method in lru.METHODS:
        y = layer(torch.from_numpy(u).float(), method=method).detach().numpy()
        assert np.max(np.abs(y - ref)) <= 1e-5 * np.max(np.abs(ref)), method


def test_naive_cumsum_overflows_where_predicted():
    for r in (0.5, 0.9, 0.99):
        n = th.overflow_lengths(r)["first_bad_index"]
        bu = torch.ones(n + 10, 1, dtype=torch.complex64)
        x = lru.scan_naive_cumsum(torch.tensor([r], dtype=torch.complex64), bu)
        bad = torch.nonzero(~torch.isfinite(x[:, 0])).flatten()
        assert abs(int(bad[0]) - n) <= 1, r
        assert torch.allclose(
            x[: n - 5, 0].real,
            lru.scan_loop(torch.tensor([r + 0j]), bu[: n - 5]).real[:, 0],
            rtol=1e-3,
        )


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    lam = torch.tensor([0.5 + 0.1j])
    with pytest.raises(ValueError, match="lam"):
        lru.scan_loop(torch.tensor([0.5]), torch.ones(4, 1, dtype=torch.complex64))
    with pytest.raises(ValueError, match="bu"):
        lru.scan_fft(lam, torch.ones(4, 1))
    with pytest.raises(ValueError, match="bu"):
        lru.scan_upper_lower(lam, torch.ones(4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="method"):
        lru.scan(lam, torch.ones(4, 1, dtype=torch.complex64), "nope")
    with pytest.raises(ValueError, match="r_min"):
        lru.init_lru_parameters(4, 2, 0.99, 0.9)
    with pytest.raises(ValueError, match="r_min"):
        lru.init_lru_parameters(4, 2, -0.1, 0.9)
    with pytest.raises(ValueError, match="r_max"):
        lru.init_lru_parameters(4, 2, 0.1, 1.5)
    with pytest.raises(ValueError, match="max_phase"):
        lru.init_lru_parameters(4, 2, 0.1, 0.5, max_phase=0)
    layer = lru.LRU(4, 8, 0.9, 0.999)
    with pytest.raises(ValueError, match="u"):
        layer(torch.ones(2, 3, 5, 4))
    with pytest.raises(ValueError, match="u"):
        layer(torch.ones(5, 3))
    with pytest.raises(ValueError, match="u"):
        layer(torch.ones(5, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="r must"):
        th.overflow_lengths(1.0)
    with pytest.raises(ValueError, match="r must"):
        th.overflow_lengths(0.0)
    with pytest.raises(ValueError, match="T"):
        recall.delayed_recall_batch(4, 1)
    with pytest.raises(ValueError, match="name"):
        recall.make_model("gru")


def test_torch_associative_scan_pointwise_needs_cuda():
    if not lru.torch_scan_available():
        pytest.skip("no torch associative_scan on this build")
    lam = torch.tensor([0.5 + 0.1j])
    bu = torch.ones(4, 1, dtype=torch.complex64)
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(Exception, match="CUDA"):
        lru.scan_torch(lam, bu, combine_mode="pointwise")


# --------------------------------------------------------------------------- recall


def test_recall_batch_shape_and_content():
    u, y = recall.delayed_recall_batch(8, 10, 4, torch.Generator().manual_seed(0))
    assert u.shape == (8, 10, 5) and y.shape == (8,)
    assert torch.equal(u[:, 0, :4].argmax(-1), y)
    assert u[:, 1:-1].abs().sum() == 0 and torch.all(u[:, -1, 4] == 1)


def test_lru_learns_short_recall():
    out = recall.train_recall("lru", 16, steps=60, seed=0)
    assert out["accuracy"] > 0.95


# --------------------------------------------------------------------------- theory


def test_symbolic_identities():
    un = th.unrolled_state(4)
    assert sp.expand(un["iterated"] - un["sum"]) == 0
    conv = th.convolution_output(2)
    assert sp.expand(conv["recurrence"] - conv["convolution"]) == 0
    assert th.scan_operator_associativity() == (0, 0)
    assert th.half_split(5, 2) == 0
    ul = th.upper_lower_symbolic(8)
    assert all(sp.expand(a - b) == 0 for a, b in zip(ul["scan"], ul["sums"], strict=True))
    proj = th.complex_projection()
    assert proj["output"] == sp.zeros(2, 1) and proj["input"] == sp.zeros(2, 1)
    assert th.rwkv_equivalence() == 0
    assert th.polar_jacobian() == sp.Symbol("r", positive=True)
    assert th.disk_fraction() == sp.Symbol("rho", positive=True) ** 2


def test_diagonalisation_facts():
    d = th.diagonalisation_facts()
    assert d["rotation_eigenvalues"] == [-sp.I, sp.I]
    assert d["rotation_real"] is False and d["rotation_complex"] is True
    assert d["shear"] is False
    assert all(m == sp.zeros(*m.shape) for m in d["power_residuals"].values())


def test_variance_and_ring_closed_forms():
    v = th.state_variance()
    assert sp.simplify(v["sum"] - v["closed"]) == 0
    assert sp.simplify(v["recurrence"] - v["closed"]) == 0
    assert sp.simplify(v["limit"] - 1 / (1 - v["r"] ** 2)) == 0
    assert v["normalised_limit"] == 1
    ring = th.ring_init()
    assert sp.simplify(ring["r_of_u"] - ring["target"]) == 0
    assert ring["total"] == 1
    sub = {th.r_min: sp.Rational(9, 10), th.r_max: sp.Rational(999, 1000)}
    assert abs(float(ring["mean_r"].subs(sub)) - 0.9503602) < 1e-7
    assert abs(float(ring["mean_r2"].subs(sub)) - 0.9040005) < 1e-7
    assert abs(float(ring["mean_gamma2"].subs(sub)) - 0.0959995) < 1e-7


def test_overflow_thresholds():
    assert abs(th.overflow_lengths(0.9)["power"] - 842.088) < 1e-3
    assert abs(th.overflow_lengths(0.99)["power"] - 8827.8) < 0.1
    assert abs(th.overflow_lengths(0.9, "float64")["power"] - 6736.7) < 0.1
    assert abs(th.overflow_lengths(0.9, "float16")["power"] - 105.26) < 0.01
    assert th.overflow_lengths(0.9)["first_bad_index"] == 821
