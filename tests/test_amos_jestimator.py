"""Chapter 3: ``deepnotes.optim.Amos`` against the official ``jestimator.amos`` (JAX, CPU, float64).

Both optimizers see the same initial parameters and the same stream of gradients for a few
hundred steps (``deepnotes.reference.jestimator.compare_with_jestimator``); parameters must
agree to ``PARAM_ATOL`` and the slots to ``SLOT_RTOL``.  JAX and jestimator are pinned
reference packages (``pip install "jax[cpu]" jestimator==0.3.3``): a missing one is a
failure, not a skip.
"""

from __future__ import annotations

import jax  # (a missing reference package fails at collection, not as a skip)
import pytest
import torch

from deepnotes.optim import Amos
from deepnotes.reference import jestimator as ref
from deepnotes.reference.jestimator import PARAM_ATOL, SLOT_RTOL, compare_with_jestimator


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


def _nan_amos(after: int):
    """An Amos whose parameters turn NaN from step ``after + 1`` on."""

    class NanAmos(Amos):
        calls = 0

        @torch.no_grad()
        def step(self, closure=None):
            loss = super().step(closure)
            NanAmos.calls += 1
            if NanAmos.calls > after:
                for group in self.param_groups:
                    for param in group["params"]:
                        param.fill_(float("nan"))
            return loss

    return NanAmos


@pytest.mark.parametrize("after", [0, 150], ids=["nan-from-the-start", "nan-after-step-150"])
def test_a_nan_amos_fails_the_cross_check(monkeypatch, after):
    # The old check kept its maxima with Python's max(), and max(0.0, nan) == 0.0: an Amos
    # that filled everything with NaN "agreed" ({'param': 0.0, 'v': 0.0, 'b': 0.0}), and one
    # that turned NaN after step 150 of 300 passed with param = 6.7e-16.
    monkeypatch.setattr(ref, "Amos", _nan_amos(after))
    with pytest.raises(FloatingPointError, match=f"not finite after step {after + 1}"):
        compare_with_jestimator(0.05, steps=300)


def test_cross_check_restores_jax_precision():
    before = bool(jax.config.jax_enable_x64)
    compare_with_jestimator(0.05, steps=3)
    assert bool(jax.config.jax_enable_x64) == before


def test_missing_reference_package_is_named(monkeypatch):
    real = ref.importlib.util.find_spec
    monkeypatch.setattr(
        ref.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "jestimator" else real(name, *a),
    )
    with pytest.raises(ImportError, match="'jestimator'.*pip install"):
        compare_with_jestimator(0.05, steps=3)


def test_jestimator_bad_input():
    with pytest.raises(ValueError, match="xi"):
        compare_with_jestimator(0.0)
    with pytest.raises(ValueError, match="steps"):
        compare_with_jestimator(0.1, steps=0)
