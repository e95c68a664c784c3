"""Bad input to the hardware and argument-check helpers (``deepnotes.core``, ``deepnotes.checks``)."""

from __future__ import annotations

from badinput import Spec, choice, count, make_tests, positive

SPECS = [
    Spec("deepnotes.core.seed_all", lambda: {"seed": 0}, {"seed": count(low=0)}, finite=False),
    Spec("deepnotes.core.set_threads", lambda: {"n": 1}, {"n": count(none_ok=True)}),
    Spec(
        "deepnotes.core.get_device",
        lambda: {"prefer": "cpu"},
        {"prefer": choice("cpu", "cuda", "mps", None)},
        finite=False,
    ),
    Spec("deepnotes.checks.positive_int", lambda: {"name": "value", "value": 3}, {"value": count()}),
    Spec(
        "deepnotes.checks.positive_float",
        lambda: {"name": "value", "value": 0.5},
        {"value": positive()},
    ),
]

test_valid_call, test_bad_input = make_tests(SPECS)
