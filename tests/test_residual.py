"""Chapter 2 (why residuals): the SymPy derivations, the chains, and theory-vs-code checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sympy as sp

from deepnotes import claims as dn_claims
from deepnotes.theory import residual as R

N = R.DEPTH
EPS = R.EPS


# --- theory ----------------------------------------------------------------------------------


def test_required_gradient_exponents():
    assert R.required_gradient_exponent("sgd") == sp.Rational(-1, 2)
    assert R.required_gradient_exponent("adam") == -1
    # the residual's gradient is eps = N**-p times an O(1) one: increment exponent 1 - 2p
    p = sp.Symbol("p")
    assert sp.simplify(R.increment_exponent(-p) - (1 - 2 * p)) == 0
    assert R.increment_exponent(sp.Rational(-1, 2)) == 0
    assert R.increment_exponent(-1) == -1
    assert R.increment_exponent(-1, "adam") == 0
    with pytest.raises(ValueError, match="optimizer"):
        R.increment_exponent(0, "lamb")


@pytest.mark.parametrize("n", [1, 2, 5])
def test_forward_moment_is_n_sigma2_q(n):
    s2, q = sp.symbols("s2 q", positive=True)
    assert sp.simplify(R.forward_moment(n, s2, q) - n * s2 * q) == 0


def test_expectation_gaussian_moments():
    z = sp.Symbol("z")
    s = sp.Symbol("s", positive=True)
    assert R.expectation(z**4, {z: s**2}) == 3 * s**4
    assert R.expectation(z**3 + 2 * z, {z: s**2}) == 0
    with pytest.raises(ValueError, match="variances"):
        R.expectation(z, {})


def test_linear_layer_variances():
    n, m = sp.symbols("n m", positive=True)
    v = R.linear_layer_variances()
    assert v["forward"] == 1 / n
    assert v["relu"] == 2 / n
    assert v["backward"] == 1 / m
    assert sp.simplify(v["xavier"] - 2 / (n + m)) == 0
    assert v["backward_factor_at_forward"] == m / n
    assert N not in v["backward_factor_at_forward"].free_symbols
    assert R.relu_second_moment_factor() == sp.Rational(1, 2)


def test_plain_chain_gain_forced_to_one():
    assert R.stable_positive_gains() == [1]
    for depth in (1, 3, 100):
        assert R.stable_positive_gains(sp.Integer(depth)) == [1]


def test_plain_chain_gradient_is_derived_and_depth_free_at_the_stable_gain():
    """The closed form g**(N-1) against SymPy's derivative of a chain (not typed twice)."""
    g = sp.Symbol("g", positive=True)
    (stable,) = R.stable_positive_gains()
    for depth in range(1, 7):
        for layer in range(1, depth + 1):
            derived = R.linear_chain_gradient(depth, layer, g)
            assert sp.simplify(derived - R.chain_gradient_scale(g, depth)) == 0
            assert R.linear_chain_gradient(depth, layer, stable) == 1  # no depth left
    assert R.linear_chain_gradient(3, 2, 2 * g) == 4 * g**2  # the derivative sees the gains
    with pytest.raises(ValueError, match="layer"):
        R.linear_chain_gradient(3, 4, g)
    with pytest.raises(ValueError, match="depth"):
        R.linear_chain_gradient(0, 1, g)


def test_residual_derivatives_exact():
    d = R.residual_derivatives()
    assert sp.simplify(d["jacobian"] - d["jacobian_claim"]) == 0
    assert sp.simplify(d["param_grad"] - d["param_grad_claim"]) == 0


def test_amplification_limits():
    assert R.amplification_limits("1d") == {"eps=1": sp.oo, "eps=N^-1/2": sp.oo, "eps=N^-1": sp.E}
    assert R.amplification_limits("highd") == {"eps=1": sp.oo, "eps=N^-1/2": sp.E, "eps=N^-1": 1}
    assert R.amplification_limits("1d-squared") == {
        "eps=1": sp.oo,
        "eps=N^-1/2": sp.oo,
        "eps=N^-1": sp.E**2,
    }
    assert R.log_amplification_asymptotic() == sp.Rational(-1, 2)
    with pytest.raises(ValueError, match="kind"):
        R.amplification(EPS, N, "2d")


def test_moments_agree_with_the_toolbox_chapter():
    from deepnotes.theory import toolbox as T

    q, s2 = sp.symbols("q sigma2", positive=True)
    exact = T.output_second_moment_exact(3).subs({T.sigma2: s2, T.v: q})
    assert sp.simplify(R.forward_moment(3, s2, q) - exact) == 0
    g = sp.Symbol("g", positive=True)
    derived = R.chain_forward_recursion(g)  # rsolve of q_l = g**2 q_(l-1), q_0 = 1
    assert sp.simplify(derived - R.chain_forward_ratio(g)) == 0
    toolbox = T.depth_second_moment().subs({T.g: g, T.L: N})
    assert sp.simplify(toolbox - derived) == 0


def test_gradient_sum_asymptotic_slopes():
    assert R.asymptotic_slope(R.gradient_sum(None)) == 1
    assert R.asymptotic_slope(R.gradient_sum(R.epsilon_rule(sp.Rational(1, 2)))) == 0
    assert R.asymptotic_slope(R.gradient_sum(R.epsilon_rule(1))) == -1


def test_one_over_n_power_increases_below_e():
    f = R.amplification_numeric("1d", p=1)
    vals = f(np.arange(1, 2001))
    assert np.all(np.diff(vals) > 0) and np.all(vals < math.e)


def test_expected_step_norm_cross_term_vanishes():
    for d in (1, 2):
        e = R.expected_step_norm(d)
        assert sp.simplify(e["value"] - e["claim"]) == 0
        assert e["cross_term"] == 0


def test_amplification_numeric_matches_expr():
    f = R.amplification_numeric("highd")
    assert f(0.5, 4) == pytest.approx(1.25**4)
    g = R.amplification_numeric("1d-squared", p=0.5)
    assert g(4.0) == pytest.approx(1.5**8)


def test_theory_bad_input():
    with pytest.raises(ValueError, match="p"):
        R.epsilon_rule(-1)
    with pytest.raises(ValueError, match="n"):
        R.forward_moment(0, 1, 1)
    with pytest.raises(ValueError, match="d"):
        R.expected_step_norm(0)
    with pytest.raises(ValueError, match="eps"):
        R.amplification(-0.5, 4)
    with pytest.raises(ValueError, match="N must"):
        R.amplification(0.5, 0)
    with pytest.raises(ValueError, match="eps"):
        R.gradient_sum(-0.5)


# --- chains ----------------------------------------------------------------------------------

import torch  # noqa: E402

from deepnotes import chains as C  # noqa: E402


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_orthogonal_is_orthogonal_and_rejects_non_square():
    q = C.orthogonal(16, generator=_gen(), dtype=torch.float64)
    assert torch.allclose(q @ q.T, torch.eye(16, dtype=torch.float64), atol=1e-12)
    assert C.orthogonal(8, 8).shape == (8, 8)
    with pytest.raises(ValueError, match="m must equal n"):
        C.orthogonal(8, 4)
    with pytest.raises(ValueError, match="n must"):
        C.orthogonal(0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: C.ResidualChain(8, 4, eps=-0.1), "eps"),
        (lambda: C.ResidualChain(8, 0, eps=0.5), "depth"),
        (lambda: C.PlainChain(8, 0), "depth"),
        (lambda: C.PlainChain(8, 2, kind="tanh"), "kind"),
        (lambda: C.make_chain("residual--1", 8, 2), "name"),
        (lambda: C.make_chain("resnet", 8, 2), "name"),
        (lambda: C.log_amplification(-1.0, 4), "eps"),
        (lambda: C.log_amplification(0.5, 0), "depth"),
        (lambda: C.log_amplification(0.5, 4, kind="sideways"), "kind"),
        (lambda: C.hessian_top_eigenvalue(lambda: torch.zeros(()), [], iters=0), "iters"),
        (lambda: C.chain_loss(torch.zeros(2, 4), C.chain_problem(4, 2), "l1"), "loss"),
        (lambda: C.depth_sweep([], [4]), "names"),
        (lambda: C.amplification_sweep([], [4]), "ps"),
        (lambda: C.amplification_sweep([-0.5], [4]), "ps"),
        (lambda: C.amplification_sweep([0.5], [0]), "depths"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_residual_block_jacobian_is_identity_plus_eps_branch():
    eps = 0.3
    model = C.ResidualChain(6, 1, eps, generator=_gen(1), dtype=torch.float64)
    x = torch.randn(1, 6, generator=_gen(2), dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda z: model(z), x).reshape(6, 6)
    jac_f = torch.autograd.functional.jacobian(lambda z: model.branch(z, 0), x).reshape(6, 6)
    assert torch.allclose(jac, torch.eye(6, dtype=torch.float64) + eps * jac_f, atol=1e-6)


def test_parameter_gradient_is_linear_in_eps():
    x = torch.randn(4, 6, generator=_gen(3), dtype=torch.float64)
    g_y = torch.randn(4, 6, generator=_gen(4), dtype=torch.float64)
    grads = []
    for eps in (0.2, 0.4):
        model = C.ResidualChain(6, 1, eps, generator=_gen(5), dtype=torch.float64)
        y = model(x)
        grads.append(torch.autograd.grad(y, list(model.parameters()), grad_outputs=g_y))
    for g1, g2 in zip(*grads, strict=True):
        assert torch.allclose(g2, 2 * g1, rtol=1e-12, atol=1e-14)


def test_plain_orthogonal_chain_is_perfectly_stable_and_gradient_grows_as_n():
    rows = C.depth_sweep(["plain-orthogonal"], [2, 8], width=32, batch=8, seeds=1, lr=1e-3)
    for row in rows:
        assert row["forward"] == pytest.approx(1.0, rel=1e-5)
        assert row["backward"] == pytest.approx(1.0, rel=1e-5)
        assert row["grad_sq"] / row["one_layer"] == pytest.approx(row["N"], rel=1e-4)
        assert row["increment"] / row["first_order"] == pytest.approx(1.0, rel=1e-3)


def test_residual_gradient_sum_matches_theory():
    depths = [4, 16]
    rows = C.depth_sweep(
        ["residual-0.5", "residual-1"], depths, 64, 32, seeds=4, dtype=torch.float64
    )
    for name, p in (("residual-0.5", 0.5), ("residual-1", 1.0)):
        for depth in depths:
            sel = [r for r in rows if r["model"] == name and r["N"] == depth]
            measured = np.mean([r["grad_sq"] / r["one_layer"] for r in sel])
            predicted = float(R.gradient_sum(depth**-p, sp.Integer(depth)))
            assert measured == pytest.approx(predicted, rel=0.25), (name, depth)
            fwd = np.mean([r["forward"] for r in sel])
            assert fwd == pytest.approx((1 + depth ** (-2 * p)) ** depth, rel=0.15)


def test_log_amplification_aligned_and_random():
    for method in ("matrix", "vector"):
        aligned = C.log_amplification(0.5, 10, 16, "aligned", 2, method=method, generator=_gen())
        expected = torch.full((2,), 20 * math.log(1.5), dtype=torch.float64)
        assert torch.allclose(aligned, expected, rtol=1e-12, atol=0)
        ratio = C.log_amplification(0.25, 16, 128, "random", 16, method=method, generator=_gen())
        assert float(ratio.exp().mean()) == pytest.approx((1 + 0.25**2) ** 16, rel=0.1)


def test_aligned_amplification_is_measured_not_typed(monkeypatch):
    """The aligned value comes from iterating the map: a branch of half the gain shows up.

    The old code returned 2 N log(1 + eps) without iterating, so it fails this test.
    """
    monkeypatch.setattr(C, "_branch_output", lambda v, kind, method, generator: 0.5 * v)
    half = C.log_amplification(0.5, 10, 8, "aligned", 3, generator=_gen())
    assert torch.allclose(half, torch.full((3,), 20 * math.log(1.25), dtype=torch.float64))


def test_amplification_sweep_rows_and_a_nan_cannot_hide(monkeypatch):
    rows = C.amplification_sweep([0.5], [4, 16], 32, 8, generator=_gen())
    assert [(r["N"], r["kind"]) for r in rows] == [
        (4, "random"),
        (4, "aligned"),
        (16, "random"),
        (16, "aligned"),
    ]
    aligned = np.array([r["ratio"] for r in rows if r["kind"] == "aligned"])
    np.testing.assert_allclose(aligned, (1 + np.array([4, 16]) ** -0.5) ** (2 * np.array([4, 16])))
    # A chain that turns NaN at one depth: the old check (pandas max, Python max) passes ...
    real = C.log_amplification

    def faulty(eps, depth, *args, **kwargs):
        out = real(eps, depth, *args, **kwargs)
        return out * float("nan") if depth == 16 else out

    monkeypatch.setattr(C, "log_amplification", faulty)
    rows = C.amplification_sweep([0.5], [4, 16], 32, 8, kinds=["random"], generator=_gen())
    measured = np.array([r["ratio"] for r in rows])
    law = (1 + 1 / np.array([4.0, 16.0])) ** np.array([4.0, 16.0])
    old_err = pd.Series(np.abs(measured / law - 1))
    assert old_err.max() < 0.15 and max(0.0, float(old_err.max())) < 0.15  # NaN dropped
    # ... the new one does not.
    with pytest.raises(ValueError, match="not finite"):
        C.relative_error(measured, law, "ratio")
    dn_claims.chapter("02-why-residual")
    with pytest.raises(dn_claims.ClaimFailed, match="growth"):
        dn_claims.claim(
            "growth",
            "growth follows the law",
            measured=np.abs(measured / law - 1),
            expected=0.0,
            tol=0.15,
        )


def test_relative_error_and_discriminating_rows():
    np.testing.assert_allclose(C.relative_error([1.1, 0.9], [1.0, 1.0]), [0.1, 0.1])
    for bad in ([np.inf, 1.0], [1.0, np.nan]):
        with pytest.raises(ValueError, match="ratio"):
            C.relative_error(bad, [1.0, 1.0], "ratio")
    with pytest.raises(ValueError, match="not finite"):
        C.relative_error([1.0], [0.0])
    with pytest.raises(ValueError, match="shape"):
        C.relative_error([1.0, 2.0], [1.0])
    # eps = 1/N: (1 + 1/N**2)**N is within 15% of "no growth" from N = 8 on
    depths = np.array([4, 8, 16, 32, 64, 128], dtype=float)
    assert C.discriminating((1 + depths**-2) ** depths, 0.15).tolist() == [True] + [False] * 5
    assert C.discriminating((1 + 1 / depths) ** depths, 0.15).all()
    with pytest.raises(ValueError, match="rel"):
        C.discriminating([2.0], 0)
    with pytest.raises(ValueError, match="law"):
        C.discriminating([np.nan], 0.1)


def test_depth_sweep_measures_several_losses_on_the_same_chain():
    both = C.depth_sweep(["residual-0.5"], [4], 16, 8, seeds=1, loss=("linear", "mse"))
    alone = C.depth_sweep(["residual-0.5"], [4], 16, 8, seeds=1, loss="mse")
    assert [r["objective"] for r in both] == ["linear", "mse"]
    for key in ("forward", "grad_sq", "increment"):
        assert both[1][key] == pytest.approx(alone[0][key], rel=1e-12)
    with pytest.raises(ValueError, match="loss"):
        C.depth_sweep(["residual-0.5"], [4], loss=["linear", "l1"])


def test_linear_probe_output_gradient_does_not_depend_on_the_output():
    problem = C.chain_problem(8, 4, generator=_gen(6), dtype=torch.float64)
    grads = {}
    for loss in C.LOSSES:
        for scale in (1.0, 3.0):
            h = (scale * problem["x"]).requires_grad_(True)
            (grads[loss, scale],) = torch.autograd.grad(C.chain_loss(h, problem, loss), h)
    expected = problem["target"] @ problem["readout"].T / (4 * 16 * math.sqrt(8))
    assert torch.allclose(grads["linear", 1.0], expected, atol=1e-14)
    assert torch.allclose(grads["linear", 3.0], expected, atol=1e-14)
    assert not torch.allclose(grads["mse", 1.0], grads["mse", 3.0])


def test_hessian_top_eigenvalue_on_a_quadratic():
    a = torch.diag(torch.tensor([3.0, -1.0, 0.5], dtype=torch.float64))
    w = torch.ones(3, dtype=torch.float64, requires_grad=True)
    lam = C.hessian_top_eigenvalue(lambda: 0.5 * w @ a @ w, [w], iters=60, generator=_gen())
    assert lam == pytest.approx(3.0, rel=1e-6)
