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
