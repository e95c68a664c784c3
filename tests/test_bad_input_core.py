"""Bad input to the hardware and argument-check helpers (``deepnotes.core``, ``deepnotes.checks``)."""

from __future__ import annotations

import math

import torch
from badinput import NOT_A_NUMBER, Spec, choice, count, interval, make_tests, positive, tensor
from hypothesis import strategies as st

SPECS = [
    Spec("deepnotes.core.seed_all", lambda: {"seed": 0}, {"seed": count(low=0)}, finite=False),
    Spec("deepnotes.core.set_threads", lambda: {"n": 1}, {"n": count(none_ok=True)}),
    Spec(
        "deepnotes.core.get_device",
        lambda: {"prefer": "cpu"},
        {"prefer": choice("cpu", "cuda", "mps", None)},
        finite=False,
    ),
    Spec(
        "deepnotes.checks.positive_int", lambda: {"name": "value", "value": 3}, {"value": count()}
    ),
    Spec(
        "deepnotes.checks.positive_float",
        lambda: {"name": "value", "value": 0.5},
        {"value": positive()},
    ),
    Spec(
        "deepnotes.checks.integral",
        lambda: {"name": "value", "value": -3},
        {
            "value": st.one_of(
                st.floats().filter(lambda x: not math.isfinite(x) or x != int(x)),
                st.sampled_from([True, False]),
                NOT_A_NUMBER,
            )
        },
    ),
    Spec(
        "deepnotes.checks.real",
        lambda: {"name": "value", "value": 0.5, "lo": 0.0, "hi": 1.0},
        {"value": interval(0.0, 1.0)},
    ),
    Spec(
        "deepnotes.checks.one_of",
        lambda: {"name": "value", "value": "a", "allowed": ("a", "b")},
        {"value": choice("a", "b")},
        finite=False,
    ),
    Spec(
        "deepnotes.checks.tensor",
        lambda: {"name": "x", "x": torch.zeros(2, 3), "ndim": 2, "shape": (2, 3)},
        {"x": tensor((2, 3)) | st.just(torch.zeros(3, 2))},
    ),
    Spec(
        "deepnotes.checks.generator",
        lambda: {"name": "value", "value": torch.Generator()},
        {"value": st.sampled_from(["1", 0, object(), torch.Generator])},
        finite=False,
    ),
    Spec(
        "deepnotes.checks.float_dtype",
        lambda: {"name": "value", "value": torch.float64},
        {"value": st.sampled_from([torch.int64, torch.bool, "float32", None, float])},
        finite=False,
    ),
    Spec(
        "deepnotes.checks.real_array",
        lambda: {"name": "value", "value": [1.0, 2.0], "ndim": 1},
        {
            "value": st.sampled_from(
                [
                    [1.0, math.nan],
                    [math.inf],
                    "12",
                    [1.0, "2"],
                    [True],
                    [[1.0, 2.0]],
                    None,
                    object(),
                ]
            )
        },
    ),
]

test_valid_call, test_bad_input = make_tests(SPECS)
