"""Chapter 0: the closed forms and the code that measures them agree."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from deepnotes import linear
from deepnotes.theory import toolbox as th


def test_closed_form_matches_sympy_stats():
    for fan_in in (1, 2, 4):
        exact = th.output_second_moment_exact(fan_in)
        assert sp.simplify(exact - th.output_second_moment().subs(th.n, fan_in)) == 0


def test_stable_variance_and_depth_law():
    assert sp.simplify(th.stable_sigma2() - 1 / th.n) == 0
    assert sp.simplify(th.depth_second_moment() - th.g ** (2 * th.L)) == 0


@pytest.mark.parametrize("fan_in, sigma2", [(64, 1.0), (256, 1 / 256), (32, 0.5)])
def test_single_layer_measurement_matches_theory(fan_in, sigma2):
    gen = torch.Generator().manual_seed(0)
    measured = np.mean(
        [linear.single_layer_moment(fan_in, sigma2, batch=512, generator=gen) for _ in range(8)]
    )
    predicted = float(th.output_second_moment().subs({th.n: fan_in, th.sigma2: sigma2, th.v: 1}))
    assert measured == pytest.approx(predicted, rel=0.05)


def test_chain_measurement_matches_theory():
    gen = torch.Generator().manual_seed(1)
    moments = linear.random_linear_chain_moment(128, 10, 1.1, batch=256, trials=16, generator=gen)
    predicted = 1.1 ** (2 * np.arange(1, 11))
    np.testing.assert_allclose(np.log(moments), np.log(predicted), atol=0.1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"width": 0, "depth": 2}, "width"),
        ({"width": 4, "depth": 0}, "depth"),
        ({"width": 4, "depth": 2, "gain": -1.0}, "gain"),
        ({"width": 4, "depth": 2, "trials": 0}, "trials"),
    ],
)
def test_chain_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        linear.random_linear_chain_moment(**kwargs)


def test_single_layer_bad_input():
    with pytest.raises(ValueError, match="sigma2"):
        linear.single_layer_moment(4, 0.0)
    with pytest.raises(ValueError, match="fan_in"):
        linear.single_layer_moment(0, 1.0)
    with pytest.raises(ValueError, match="fan_in"):
        th.output_second_moment_exact(0)


# --------------------------------------------------------------------------- issue 18: checks that can fail


@pytest.fixture
def fresh_ledger(monkeypatch, tmp_path):
    from deepnotes import claims

    monkeypatch.setenv("DEEPNOTES_CLAIMS_DIR", str(tmp_path))
    claims.chapter("99-test")
    yield
    claims._state.update(chapter=None, claims={})


def _old_depth_law(layer):
    """The old derivation: one layer's factor (at v = 1) raised to the power L."""
    return sp.simplify(layer(sp.Integer(1)) ** th.L)


def _iterate(layer, depth):
    m = sp.Integer(1)
    for _ in range(depth):
        m = sp.expand(layer(m))
    return m


def test_depth_law_is_derived_from_the_layer_map():
    """The old `**L` form agrees only where it was typed to; rsolve follows the layer map."""
    b = sp.Symbol("b", positive=True)

    def with_bias(m):  # a layer that also adds a bias of variance b
        return th.layer_map(m) + b

    for depth in (1, 2, 5):
        exact = _iterate(with_bias, depth)
        assert sp.simplify(th.depth_second_moment(with_bias).subs(th.L, depth) - exact) == 0
        # the old check's form passes for the plain layer but is wrong here
        assert sp.simplify(_old_depth_law(with_bias).subs(th.L, depth) - exact) != 0 or depth == 1
        plain = th.depth_second_moment().subs(th.L, depth)
        assert sp.simplify(plain - _iterate(th.layer_map, depth)) == 0
    law = th.depth_second_moment()
    assert sp.simplify(law.subs(th.L, th.L + 1) - th.layer_map(law)) == 0
    assert law.subs(th.L, 0) == 1


def test_depth_law_rejects_bad_layers():
    with pytest.raises(TypeError, match="layer"):
        th.depth_second_moment(layer=2.0)
    with pytest.raises(ValueError, match="layer"):
        th.depth_second_moment(layer=lambda m: m**2 + 1)


def test_worst_error_propagates_nan(fresh_ledger):
    """Python's max drops a NaN that comes after a number; the claim on the array does not."""
    from deepnotes.claims import ClaimFailed, claim

    log_errors = [0.05, float("nan"), 0.03]  # one chain diverged
    old_worst = max(abs(e) for e in log_errors)
    assert old_worst < 0.2  # the old check passed
    assert np.isnan(np.max(np.abs(log_errors)))
    with pytest.raises(ClaimFailed, match="depth-law-measured"):
        claim(
            "depth-law-measured",
            "the chain matches the law",
            measured=np.asarray(log_errors),
            expected=0.0,
            tol=0.2,
        )


FAN_INS = [16, 32, 64, 128, 256, 512, 1024]


def _old_interval_check(fit, predicted):
    """The old cell: |slope - prediction| < 0.1 and an interval narrower than 0.2."""
    return abs(fit.slope - predicted) < 0.1 and fit.ci_high - fit.ci_low < 0.2


def test_interval_claim_is_calibrated_over_seeds(fresh_ledger):
    """Seed 0's interval excludes the true slope, yet the old check passed; over seeds the
    interval's coverage is measured, and an interval half as wide (badly miscalibrated)
    passes the old check but fails the coverage claim."""
    from deepnotes.claims import ClaimFailed, claim
    from deepnotes.measure import SlopeFit, loglog_slope

    fits = [loglog_slope(FAN_INS, linear.fan_in_moments(FAN_INS, 0, seed=s)) for s in range(30)]
    assert all(_old_interval_check(f, 1.0) for f in fits)
    coverage = np.mean([f.covers(1.0) for f in fits])
    claim("coverage", "covers in most seeds", measured=coverage, lower=0.8)

    def halved(f):
        half = (f.ci_high - f.ci_low) / 4
        return SlopeFit(
            f.slope, f.intercept, f.stderr / 2, f.slope - half, f.slope + half, f.r2, f.n
        )

    narrow = [halved(f) for f in fits]
    assert all(_old_interval_check(f, 1.0) for f in narrow)  # the old check cannot see it
    with pytest.raises(ClaimFailed, match="coverage-narrow"):
        claim(
            "coverage-narrow",
            "covers in most seeds",
            measured=np.mean([f.covers(1.0) for f in narrow]),
            lower=0.8,
        )


def test_slope_tolerance_separates_a_wrong_law(fresh_ledger):
    """A law n^0.93 passes the old 0.1 tolerance; the seed-set tolerance 0.05 rejects it."""
    from deepnotes.claims import ClaimFailed, claim
    from deepnotes.measure import loglog_slope

    gen = torch.Generator().manual_seed(0)
    wrong = [
        linear.single_layer_moment(n, float(n) ** -0.07, generator=gen) for n in FAN_INS
    ]  # slope 0.93, not 1
    fit = loglog_slope(FAN_INS, wrong)
    assert _old_interval_check(fit, 1.0)
    with pytest.raises(ClaimFailed, match="slope-fixed"):
        claim("slope-fixed", "slope 1", measured=fit.slope, expected=1.0, tol=0.05)


def test_fan_in_moments_slope_and_reproducibility():
    from deepnotes.measure import loglog_slope

    for exponent, predicted in ((0, 1.0), (1, 0.0), (0.5, 0.5)):
        m = linear.fan_in_moments(FAN_INS, exponent, seed=3)
        assert m == linear.fan_in_moments(FAN_INS, exponent, seed=3)
        assert abs(loglog_slope(FAN_INS, m).slope - predicted) < 0.05
    with pytest.raises(ValueError, match="fan_ins"):
        linear.fan_in_moments([], 0, seed=0)
    with pytest.raises(ValueError, match="fan_ins"):
        linear.fan_in_moments([16, 0], 0, seed=0)
    with pytest.raises(ValueError, match="exponent"):
        linear.fan_in_moments(FAN_INS, float("nan"), seed=0)
    with pytest.raises(ValueError, match="seed"):
        linear.fan_in_moments(FAN_INS, 0, seed=-1)


def test_chain_moments_per_trial():
    gen = torch.Generator().manual_seed(2)
    per = linear.random_linear_chain_moments(16, 5, 1.1, batch=8, trials=3, generator=gen)
    assert per.shape == (3, 5) and np.all(np.isfinite(per))
    gen = torch.Generator().manual_seed(2)
    mean = linear.random_linear_chain_moment(16, 5, 1.1, batch=8, trials=3, generator=gen)
    np.testing.assert_allclose(mean, per.mean(axis=0))
    with pytest.raises(ValueError, match="gain"):
        linear.random_linear_chain_moments(4, 2, float("inf"))
