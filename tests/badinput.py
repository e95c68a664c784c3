"""The bad-input harness: one table of public functions, hypothesis draws the bad values.

Each ``tests/test_bad_input_*.py`` file lists :class:`Spec` entries, one per public
callable (a function, or a class's constructor, or a method reached through a small
factory), and calls :func:`make_tests` to turn them into two pytest tests:

* ``test_valid_call`` -- the spec's good call runs and returns nothing non-finite, so the
  spec describes a real call (a spec whose "good" call fails would make every bad-input
  check pass for the wrong reason);
* ``test_bad_input`` -- for each argument named in ``bad``, hypothesis draws bad values
  from that argument's strategy, puts one in place of the good value, and the call must
  raise ``ValueError`` or ``TypeError`` whose message names the argument.  Anything else
  fails: a crash deep in torch (``RuntimeError``, ``IndexError``...), a silent clip (the call
  returns), or a NaN result.

``tests/test_public_api.py`` checks that together the specs cover every callable in every
module's ``__all__``; a test file may also define ``EXEMPT = {"deepnotes.x.f": "reason"}``
for a callable that takes no input a reader could get wrong (a derivation with no
arguments, a constant's accessor), with the reason.

Strategies for the common kinds of argument are here: :func:`count`, :func:`positive`,
:func:`open_unit`, :func:`tensor`, :func:`choice`.  Runs are derandomized (the same draws on
every run), so a failure in CI reproduces locally.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: Values that are never a number, tensor or choice: every argument should refuse them.
NOT_A_NUMBER = st.sampled_from([None, "1", [1], {"a": 1}, object()])
#: The same without ``None``, for arguments where ``None`` means "the default".
NOT_A_NUMBER_OR_NONE = st.sampled_from(["1", [1], {"a": 1}, object()])


def _junk(none_ok: bool) -> st.SearchStrategy:
    return NOT_A_NUMBER_OR_NONE if none_ok else NOT_A_NUMBER


def count(low: int = 1, *, none_ok: bool = False) -> st.SearchStrategy:
    """Bad values for an integer count that must be ``>= low``: smaller integers,
    non-integral or non-finite floats, bools, and non-numbers."""
    return st.one_of(
        st.integers(max_value=low - 1),
        st.floats(allow_nan=True, allow_infinity=True).filter(
            lambda x: not math.isfinite(x) or x != int(x)
        ),
        st.sampled_from([True, False]),
        _junk(none_ok),
    )


def positive(*, none_ok: bool = False) -> st.SearchStrategy:
    """Bad values for a finite number > 0: zero, negatives, NaN, infinities, non-numbers."""
    return st.one_of(
        st.floats(max_value=0.0),
        st.sampled_from([0, -1, math.nan, math.inf, -math.inf]),
        _junk(none_ok),
    )


def nonnegative(*, none_ok: bool = False) -> st.SearchStrategy:
    """Bad values for a finite number >= 0."""
    return st.one_of(
        st.floats(max_value=-1e-300),
        st.sampled_from([-1, math.nan, math.inf]),
        _junk(none_ok),
    )


def open_unit(*, none_ok: bool = False) -> st.SearchStrategy:
    """Bad values for a number in the open interval (0, 1): the ends, outside, NaN."""
    return st.one_of(
        st.floats(max_value=0.0),
        st.floats(min_value=1.0),
        st.sampled_from([0.0, 1.0, math.nan, math.inf]),
        _junk(none_ok),
    )


def interval(
    lo: float, hi: float, closed: bool = True, *, none_ok: bool = False
) -> st.SearchStrategy:
    """Bad values for a number in ``[lo, hi]`` (or ``(lo, hi)`` with ``closed=False``)."""
    eps = 1e-9 * max(1.0, abs(lo), abs(hi))
    outside = st.one_of(st.floats(max_value=lo - eps), st.floats(min_value=hi + eps))
    ends = [] if closed else [lo, hi]
    return st.one_of(outside, st.sampled_from([math.nan, math.inf, *ends]), _junk(none_ok))


def choice(*allowed) -> st.SearchStrategy:
    """Bad values for an argument that takes one of ``allowed`` (strings, usually)."""
    return st.one_of(
        st.text(min_size=0, max_size=8).filter(lambda s: s not in allowed),
        st.sampled_from([None, 1, 1.5]).filter(lambda v: v not in allowed),
    )


def tensor(
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float32,
    *,
    nonfinite: bool = True,
    wrong_dtype: bool = True,
    wrong_ndim: bool = True,
    none_ok: bool = False,
) -> st.SearchStrategy:
    """Bad values for a tensor of ``shape`` and floating ``dtype``.

    Draws tensors with one NaN or infinity (``nonfinite``), of an integer or bool dtype
    (``wrong_dtype``), with a dimension added or removed (``wrong_ndim``), and non-tensors.
    Turn a kind off where the function documents that it accepts it; ``none_ok=True`` in
    every strategy here leaves ``None`` out, for arguments where it means "the default".
    """
    kinds = [_junk(none_ok)]

    if nonfinite:

        @st.composite
        def with_nonfinite(draw):
            x = torch.randn(shape, dtype=torch.float64).to(dtype)
            flat = x.reshape(-1)
            i = draw(st.integers(0, flat.numel() - 1))
            bad = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
            flat[i] = bad if not dtype.is_complex else complex(bad, 0.0)
            return x

        kinds.append(with_nonfinite())
    if wrong_dtype:
        kinds.append(
            st.sampled_from([torch.int64, torch.int32, torch.bool]).map(
                lambda dt: torch.ones(shape, dtype=dt)
            )
        )
    if wrong_ndim:
        smaller = shape[1:] if len(shape) > 1 else ()
        kinds.append(
            st.sampled_from([(*shape, 2), smaller]).map(lambda s: torch.randn(s).to(dtype))
        )
    return st.one_of(kinds)


@dataclass
class Spec:
    """One public callable: ``covers`` is its dotted name (``"deepnotes.lru.scan"``),
    ``valid`` returns the keyword arguments of a good call (a function, so each test gets
    fresh tensors), ``bad`` maps argument names to strategies of bad values for it.

    ``call`` is what is called with the arguments; it defaults to the object ``covers``
    names.  Give it for methods and forwards, e.g. ``call=lambda x: LRU(8, 4)(x)``.
    ``finite=False`` where the good result is not a tensor or number to check.
    """

    covers: str
    valid: Callable[[], dict]
    bad: dict[str, st.SearchStrategy] = field(default_factory=dict)
    call: Callable | None = None
    finite: bool = True

    def target(self) -> Callable:
        if self.call is not None:
            return self.call
        import importlib

        module, _, name = self.covers.rpartition(".")
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj

    @property
    def id(self) -> str:
        return self.covers.removeprefix("deepnotes.")


def check_finite(result) -> None:
    if isinstance(result, torch.Tensor) and (result.is_floating_point() or result.is_complex()):
        assert bool(torch.isfinite(result).all()), "the good call returned a non-finite tensor"
    elif isinstance(result, np.ndarray) and result.dtype.kind in "fc":
        assert bool(np.isfinite(result).all()), "the good call returned a non-finite array"
    elif isinstance(result, float):
        assert math.isfinite(result), f"the good call returned {result}"
    elif isinstance(result, (tuple, list)):
        for r in result:
            check_finite(r)
    elif isinstance(result, dict):
        for r in result.values():
            check_finite(r)


def assert_rejected(spec: Spec, name: str, value) -> None:
    """Call ``spec`` with ``name=value`` and require a ValueError/TypeError naming ``name``."""
    kwargs = spec.valid()
    assert name in kwargs, f"{spec.id}: bad argument {name!r} is not in its valid call"
    kwargs[name] = value
    try:
        result = spec.target()(**kwargs)
    except (ValueError, TypeError) as err:
        message = str(err)
        assert name in message, (
            f"{spec.id}({name}={value!r}) raised {type(err).__name__} without naming "
            f"{name!r}: {message}"
        )
        return
    except Exception as err:  # noqa: BLE001 - anything else is the failure we look for
        pytest.fail(
            f"{spec.id}({name}={_show(value)}) raised {type(err).__name__} from inside, not a "
            f"ValueError/TypeError naming {name!r}: {err}"
        )
    pytest.fail(
        f"{spec.id}({name}={_show(value)}) was accepted and returned {_show(result)}; "
        f"expected a ValueError/TypeError naming {name!r}"
    )


def _show(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def make_tests(specs: list[Spec]):
    """The two parametrized tests for ``specs``; assign them in the test module:
    ``test_valid_call, test_bad_input = make_tests(SPECS)``."""
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"specs must cover each callable once; repeated: {dupes}")

    @pytest.mark.parametrize("spec", specs, ids=ids)
    def test_valid_call(spec: Spec):
        result = spec.target()(**spec.valid())
        if spec.finite:
            check_finite(result)

    cases = [(s, name) for s in specs for name in s.bad]

    @pytest.mark.parametrize(("spec", "name"), cases, ids=[f"{s.id}-{n}" for s, n in cases])
    @SETTINGS
    @given(data=st.data())
    def test_bad_input(spec: Spec, name: str, data):
        value = data.draw(spec.bad[name], label=name)
        assert_rejected(spec, name, value)

    return test_valid_call, test_bad_input
