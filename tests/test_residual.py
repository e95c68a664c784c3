"""Chapter 2 (why residuals): the SymPy derivations, the chains, and theory-vs-code checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

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
    assert R.chain_gradient_scale(sp.Integer(1)) == 1  # no depth left in the gradient


def test_residual_derivatives_exact():
    d = R.residual_derivatives()
    assert sp.simplify(d["jacobian"] - d["jacobian_claim"]) == 0
    assert sp.simplify(d["param_grad"] - d["param_grad_claim"]) == 0


def test_amplification_limits():
    assert R.amplification_limits("1d") == {"eps=1": sp.oo, "eps=N^-1/2": sp.oo, "eps=N^-1": sp.E}
    assert R.amplification_limits("highd") == {"eps=1": sp.oo, "eps=N^-1/2": sp.E, "eps=N^-1": 1}
    assert R.log_amplification_asymptotic() == sp.Rational(-1, 2)
    with pytest.raises(ValueError, match="kind"):
        R.amplification(EPS, N, "2d")


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
