"""Chapter 3: ``deepnotes.optim.Amos`` against the official ``jestimator.amos`` (JAX, CPU, float64).

Both optimizers see the same initial parameters and the same stream of gradients for a few
hundred steps (``deepnotes.optim.reference.compare_with_jestimator``); parameters must agree
to ``PARAM_ATOL`` and the slots to ``SLOT_RTOL``.  JAX and jestimator are pinned reference
packages (``pip install "jax[cpu]" jestimator==0.3.3``): a missing one is a failure, not a skip.
"""

from __future__ import annotations

import jax  # noqa: F401  (a missing reference package fails at collection, not as a skip)
import pytest

from deepnotes.optim.reference import PARAM_ATOL, SLOT_RTOL, compare_with_jestimator


def _check(result: dict[str, float]) -> None:
    assert result["param"] < PARAM_ATOL, result
    assert all(result[slot] < tol for slot, tol in SLOT_RTOL.items()), result


def test_jestimator_default_options():
    _check(compare_with_jestimator(0.05))


def test_jestimator_all_options():
    _check(
        compare_with_jestimator(
            0.1, beta=0.98, momentum=0.9, clip_value=1.5, extra_l2=0.01, d_coef=0.5, c_coef=0.1
        )
    )


def test_jestimator_scheduled_learning_rate():
    _check(
        compare_with_jestimator(0.2, beta=0.95, schedule=lambda count: 1.0 / (1.0 + 0.01 * count))
    )


def test_jestimator_bad_input():
    with pytest.raises(ValueError, match="xi"):
        compare_with_jestimator(0.0)
    with pytest.raises(ValueError, match="steps"):
        compare_with_jestimator(0.1, steps=0)
