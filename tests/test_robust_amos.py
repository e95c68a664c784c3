"""Numerical robustness of Amos (issue 17): all-zero and huge gradients, all-zero parameters.

Every step runs under :class:`_Watch`, a dispatch mode that sees each ATen op of
``Amos.step``: no op may return a nan, and no division, reciprocal or rsqrt may see a
zero (the floors ``max(v, epsilon)`` and ``1 + coef * b >= 1`` are what make the
divisions safe; the mode checks that they hold, not only that the end result is finite).

Huge gradients: a float32 gradient above ~1.8e19 squares to inf, so its second moment
cannot be represented; Amos saturates ``v`` at the dtype's largest finite value (its
step is then larger than the normalised ``xi * eta``, but finite and of the right sign).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from deepnotes.core import set_threads
from deepnotes.optim import Amos

set_threads()

aten = torch.ops.aten
_DIVISIONS = {aten.div.Tensor, aten.div_.Tensor, aten.div.Scalar, aten.div_.Scalar}
_RECIPROCALS = {aten.reciprocal.default, aten.reciprocal_.default, aten.rsqrt.default}


class _Watch(TorchDispatchMode):
    """Records every nan an op returns and every zero a divisor holds."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.divisions = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        divisor = None
        if func in _DIVISIONS:
            divisor = args[1]
        elif func in _RECIPROCALS:
            divisor = args[0]
        if divisor is not None:
            self.divisions += 1
            zero = (divisor == 0).any() if torch.is_tensor(divisor) else divisor == 0
            if zero:
                self.problems.append(f"{func}: division by zero")
        out = func(*args, **kwargs)
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if torch.is_tensor(t) and t.is_floating_point() and torch.isnan(t).any():
                self.problems.append(f"{func}: nan")
        return out


def _run(grad_value, dtype, slot_shape, momentum, steps=4):
    gen = torch.Generator().manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(6, 5, generator=gen, dtype=dtype) * 0.1)
    zeros = torch.nn.Parameter(torch.zeros(6, 5, dtype=dtype))  # an all-zero parameter
    opt = Amos([weight, zeros], lr=0.1, eta=0.5, slot_shape=slot_shape, momentum=momentum)
    start = weight.detach().clone()
    watch = _Watch()
    first = None
    for _ in range(steps):
        for p in (weight, zeros):
            p.grad = torch.full_like(p, grad_value)
        with watch:
            opt.step()
        if first is None:
            first = zeros.detach().clone()
    assert watch.divisions > 0, "the watch saw no division: it would check nothing"
    assert not watch.problems, watch.problems[:5]
    for p in (weight, zeros):
        assert torch.isfinite(p).all()
        for key, value in opt.state[p].items():
            if torch.is_tensor(value):
                assert torch.isfinite(value).all(), key
                assert not torch.isnan(value).any(), key
    return start, weight.detach(), first, opt


SLOTS = [None, (6, 1), ()]
HUGE = {torch.float32: [1e30, torch.finfo(torch.float32).max], torch.float64: [1e300]}
HUGE[torch.float64].append(torch.finfo(torch.float64).max)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("slot_shape", SLOTS)
@pytest.mark.parametrize("momentum", [None, 0.9])
def test_zero_gradients_change_nothing(dtype, slot_shape, momentum):
    start, end, first, opt = _run(0.0, dtype, slot_shape, momentum)
    # with g = 0: v = 0 (floored at epsilon), gamma = 0 and the step is exactly zero
    assert torch.equal(end, start)
    assert torch.equal(first, torch.zeros_like(first))
    for state in opt.state.values():
        assert torch.equal(state["v"], torch.zeros_like(state["v"]))
        assert torch.equal(state["b"], torch.zeros_like(state["b"]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("slot_shape", SLOTS)
@pytest.mark.parametrize("momentum", [None, 0.9])
@pytest.mark.parametrize("index", [0, 1])
def test_huge_gradients_stay_finite(dtype, slot_shape, momentum, index):
    for sign in (1.0, -1.0):
        value = sign * HUGE[dtype][index]
        _, _, first, _ = _run(value, dtype, slot_shape, momentum)
        # from theta = 0 the first step is -d xi eta sqrt(1/v_hat) g: against the gradient
        assert (torch.sign(first) == -sign).all()


def test_watch_catches_a_division_by_zero_and_a_nan():
    """The dispatch mode is not vacuous: it flags what it is meant to flag."""
    watch = _Watch()
    with watch:
        x = torch.zeros(3)
        _ = 1.0 / x
        _ = x / x
    kinds = " ".join(watch.problems)
    assert "division by zero" in kinds and "nan" in kinds
