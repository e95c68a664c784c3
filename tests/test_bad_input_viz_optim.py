"""Bad input to the explorers (``deepnotes.viz``, ``deepnotes.viz_field``), the optimizers and
their experiments (``deepnotes.optim``) and the reference adapters (``deepnotes.reference``).

The explorers are specced with what a reader passes: the compute function (or grid), the
sliders (names, values, defaults), the column names, theory expressions, axis limits,
colours, labels and the mode.  The reference adapters import torchscale, JAX/jestimator,
torchcfm and flow_matching (installed in the venv); their good calls are the smallest
that run (one layer, two steps) and every bad value is refused before the import.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch
from badinput import (
    Spec,
    choice,
    count,
    interval,
    make_tests,
    nonnegative,
    positive,
    tensor,
)
from hypothesis import strategies as st

JUNK = ["1", [1], {"a": 1}, object()]


def bad(*values) -> st.SearchStrategy:
    """A fixed list of bad values (the cases are few and specific: sampled, not generated)."""
    return st.sampled_from(list(values))


def boolean(*, none_ok: bool = False) -> st.SearchStrategy:
    """Bad values for a flag: numbers, strings, containers (and None unless it is the default)."""
    return bad(*([] if none_ok else [None]), 1, 0.0, "yes", [True], object())


def label(*, none_ok: bool = True) -> st.SearchStrategy:
    """Bad values for a text label (a title, an axis label): not a string."""
    return bad(*([] if none_ok else [None]), 5, 1.5, ["a"], {"a": 1}, object())


def array(shape, **kwargs) -> st.SearchStrategy:
    """:func:`badinput.tensor`'s bad values as NumPy arrays (non-tensors pass through)."""
    return tensor(shape, **kwargs).map(lambda t: t.numpy() if isinstance(t, torch.Tensor) else t)


def not_a_generator() -> st.SearchStrategy:
    return bad(None, 0, np.random.RandomState(0), torch.Generator(), "rng")


# --------------------------------------------------------------------------- viz

a_sym, x_sym = sp.symbols("a x")


def _sliders():
    from deepnotes.viz import Slider

    return [Slider("a", (1.0, 2.0))]


def _frame(a):
    return {"x": [1.0, 2.0, 3.0], "y": [a, 2 * a, 3 * a], "s": ["u", "u", "u"]}


def _grid():
    return {
        "x": [1.0, 2.0, 1.0, 2.0],
        "y": [1.0, 2.0, 2.0, 4.0],
        "a": [1.0, 1.0, 2.0, 2.0],
    }


BAD_SLIDERS = bad(None, [], 5, "a", [1], [("a", (1, 2))], "dup")


def _bad_sliders_value(v):
    from deepnotes.viz import Slider

    return [Slider("a", (1.0, 2.0)), Slider("a", (3.0, 4.0))] if v == "dup" else v


BAD_SLIDERS = BAD_SLIDERS.map(_bad_sliders_value)

EXPLORE_BAD = {
    "data": bad(None, 5, "abc", {"x": [1.0]}, lambda a: None, lambda a: {"y": [1.0]}),
    "sliders": BAD_SLIDERS,
    "x": bad("", 5, None, "a", "nope"),
    "y": bad("", 5, None, "a", "nope"),
    "series": bad(5, "", "nope", ["s"]),
    "theory": bad("abc", 5, {"t": sp.Symbol("zz")}, {"t": object()}, {"t": sp.gamma(x_sym)}),
    "logx": boolean(),
    "logy": boolean(),
    "title": label(none_ok=False),
    "xlabel": label(),
    "ylabel": label(),
    "description": label(),
    "ylim": bad(5, "ab", (1.0,), (2.0, 1.0), (math.nan, 1.0), (0.0, math.inf), (1, 2, 3)),
    "colors": bad("red", 5, {"u": "notacolour"}, {"v": "#000000"}, {"u": 5}),
    "mode": choice("live", "static", None),
}


def _explore_valid():
    return {
        "data": _frame,
        "sliders": _sliders(),
        "x": "x",
        "y": "y",
        "series": "s",
        "theory": {"a x": a_sym * x_sym},
        "logx": False,
        "logy": False,
        "title": "t",
        "xlabel": "x",
        "ylabel": "y",
        "description": "d",
        "ylim": (0.0, 7.0),
        "colors": {"u": "#1f77b4"},
        "mode": "static",
    }


def _field(c):
    g = np.linspace(-1.0, 1.0, 3)
    X, Y = np.meshgrid(g, g)
    return {"u": X.ravel(), "v": Y.ravel(), "f": np.exp(-((X - c) ** 2) - Y**2).ravel()}


def _field_valid():
    from deepnotes.viz import Slider

    u, c = sp.symbols("u c")
    return {
        "data": _field,
        "sliders": [Slider("c", (-0.5, 0.5))],
        "x": "u",
        "y": "v",
        "z": "f",
        "lines": {"v = u": u},
        "points": {"centre": (c, sp.Integer(0))},
        "logx": False,
        "logy": False,
        "zlim": (0.0, 1.0),
        "zlabel": "f",
        "title": "t",
        "xlabel": "u",
        "ylabel": "v",
        "colors": {"v = u": "#000000", "centre": "#ffffff"},
        "cmap": "viridis",
        "description": "d",
        "mode": "static",
    }


FIELD_BAD = {
    "data": bad(None, 5, "abc", lambda c: None, lambda c: {"u": [1.0], "v": [1.0]}),
    "sliders": BAD_SLIDERS,
    "x": bad("", 5, None, "v", "nope"),
    "y": bad("", 5, None, "u", "nope"),
    "z": bad("", 5, None, "u", "nope"),
    "lines": bad("abc", 5, {"l": sp.Symbol("zz")}, {"l": object()}),
    "points": bad("abc", 5, {"p": 1.0}, {"p": (1.0,)}, {"p": (sp.Symbol("u"), 0)}),
    "logx": boolean(),
    "logy": boolean(),
    "zlim": bad(5, "ab", (1.0,), (2.0, 1.0), (math.nan, 1.0), (0.0, math.inf)),
    "zlabel": label(),
    "title": label(none_ok=False),
    "xlabel": label(),
    "ylabel": label(),
    "colors": bad("red", 5, {"v = u": "nope", "centre": "#fff"}, {"v = u": "#000"}),
    "cmap": bad("jet", "", None, 5, "viridis_x"),
    "description": label(),
    "mode": choice("live", "static", None),
}

VIZ = [
    Spec(
        "deepnotes.viz.Slider",
        lambda: {
            "name": "a",
            "values": (1.0, 2.0, 4.0),
            "label": "the a",
            "default": 2.0,
            "log": True,
            "fmt": ".2g",
        },
        {
            "name": bad("", "1a", "a b", 5, None, ["a"]),
            "values": bad(
                None,
                5,
                (),
                (1.0, "a"),
                (2.0, 1.0),
                (1.0, 1.0),
                (1.0, math.nan),
                "abc",
                {"a": 1},
                (True, False),
                ((1, 2), (3, 4)),
            ),
            "label": label(),
            "default": bad(3.0, "a", math.nan, [1.0]),
            "log": boolean(),
            "fmt": bad("zz", 5, None, ".2q"),  # "" is a format (str())
        },
        finite=False,
    ),
    Spec(
        "deepnotes.viz.Slider.geometric",
        lambda: {"name": "lr", "lo": 1e-3, "hi": 1e-1, "num": 5, "integer": False},
        {
            "name": bad("", "1a", 5, None),
            "lo": positive(),
            "hi": bad(1e-4, 1e-3, math.nan, math.inf, "1", None, -1.0),
            "num": count(low=2),
            "integer": boolean(),
        },
        call=lambda **kw: __import__("deepnotes.viz").viz.Slider.geometric(**kw),
        finite=False,
    ),
    Spec("deepnotes.viz.explore", _explore_valid, EXPLORE_BAD, finite=False),
    Spec("deepnotes.viz_field.explore_field", _field_valid, FIELD_BAD, finite=False),
    Spec(
        "deepnotes.viz.evaluate_grid",
        lambda: {"fn": _frame, "sliders": _sliders(), "x": "x", "y": "y", "series": "s"},
        {
            "fn": bad(None, 5, "abc", lambda a: None, lambda a: {"y": [1.0]}),
            "sliders": BAD_SLIDERS,
            "x": bad("", 5, None, "nope"),
            "y": bad("", 5, None, "nope"),
            "series": bad("", 5, "nope"),
        },
    ),
    Spec(
        "deepnotes.viz.check_grid",
        lambda: {"grid": _grid(), "sliders": _sliders()},
        {
            "grid": bad(None, 5, "abc", {"x": [1.0]}, {**_grid(), "a": [1.0, 1.0, 1.0, 3.0]}),
            "sliders": BAD_SLIDERS,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.viz.figure_mode",
        lambda: {"mode": "static"},
        {"mode": choice("live", "static", None)},
        finite=False,
    ),
    Spec(
        "deepnotes.viz.vega_expression",
        lambda: {"expr": a_sym * sp.exp(x_sym), "names": {"a": "p_a", "x": "datum.x"}},
        {
            "expr": bad(object(), sp.Symbol("zz"), sp.gamma(x_sym), "a +", None),
            "names": bad(None, 5, "ax", {"a": "p_a"}, {"a": 5, "x": "datum.x"}),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.viz.log_axis_labels",
        lambda: {"domain": (1.0, 100.0)},
        {"domain": bad(None, 5, (1.0,), (0.0, 10.0), (10.0, 1.0), (math.nan, 1.0), "ab")},
        finite=False,
    ),
    Spec(
        "deepnotes.viz.StaticFigure",
        lambda: {"spec": {"mark": "point"}, "description": "a figure"},
        {"spec": bad(None, 5, "spec", [1]), "description": label(none_ok=False)},
        finite=False,
    ),
    Spec(
        "deepnotes.viz_field.field_frame",
        lambda: {
            "cols": _field(0.0),
            "x": "u",
            "y": "v",
            "z": "f",
            "where": "cols",  # the columns' name in its errors
            "logx": False,
            "logy": False,
        },
        {
            "cols": bad(None, 5, "abc", {"u": [1.0], "v": [1.0], "f": [1.0]}),
            "x": bad("", 5, None, "nope"),
            "y": bad("", 5, None, "nope"),
            "z": bad("", 5, None, "nope"),
            "where": label(none_ok=False),
            "logx": boolean(),
            "logy": boolean(),
        },
        finite=False,
    ),
]

# --------------------------------------------------------------------------- optim


def _param():
    return torch.nn.Parameter(torch.randn(2, 3))


def _linear_params():
    return list(torch.nn.Linear(3, 2).named_parameters())


OPTIM = [
    Spec(
        "deepnotes.optim.amos.Amos",
        lambda: {
            "params": [_param()],
            "lr": 0.1,
            "eta": 0.5,
            "slot_shape": (2, 1),
            "beta": 0.999,
            "momentum": 0.9,
            "clip_value": 1.0,
            "extra_l2": 0.0,
            "d_coef": 0.25,
            "c_coef": 0.25,
            "epsilon": 1e-30,
        },
        {
            "params": bad(None, 5, [], [5], torch.randn(2, 3)),
            # lr = 0 is a legitimate (frozen) rate; None is refused: lr is required
            "lr": nonnegative(),
            "eta": positive(),
            "slot_shape": bad((5,), (3, 1), (1, 1, 1), "ab", 5, (2.5, 1), (True, 1), [[1]]),
            "beta": interval(0.0, 1.0) | bad(1.0),  # [0, 1): the upper end is out
            "momentum": bad(-0.1, 1.0, 1.5, math.nan, "0.9", True),
            # clip_value = inf is "no clip", like None: harmless, so not drawn
            "clip_value": bad(0.0, -1.0, math.nan, "1", True, [1.0]),
            "extra_l2": bad(math.nan, math.inf, "0", None, True),
            "d_coef": nonnegative(),
            "c_coef": nonnegative(),
            "epsilon": positive(),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.optim.amos.check_slot_shape",
        lambda: {"slot_shape": (2, 1), "param_shape": (2, 3)},
        {
            "slot_shape": bad((5,), (3, 1), (1, 1, 1), "ab", 5, (2.5, 1), (True, 1), [[1]]),
            "param_shape": bad(None, 5, "ab", (2.5, 3), (-2, 3), (True, 3)),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.optim.amos.amos_param_groups",
        lambda: {
            "named_parameters": _linear_params(),
            "eta_fn": lambda name, shape: 0.5,
            "slot_shape_fn": lambda name, shape: (),
        },
        {
            "named_parameters": bad(None, 5, [], [(1, 2)], [("w", 5)], [torch.randn(2)]),
            "eta_fn": bad(
                None,
                5,
                lambda n, s: -1.0,
                lambda n, s: math.nan,
                lambda n, s: "a",
                lambda n, s: None,
            ),
            "slot_shape_fn": bad(5, "ab", lambda n, s: (7,), lambda n, s: "ab"),
        },
    ),
    Spec(
        "deepnotes.optim.amos.linear_slot_shape",
        lambda: {"name": "w", "shape": torch.Size([2, 3])},
        {"shape": bad(None, 5, "ab", (2.5, 3), (-2, 3), (True, 3))},
        finite=False,
    ),
    Spec(
        "deepnotes.optim.amos.state_bytes",
        lambda: {"optimizer": torch.optim.SGD([_param()], lr=0.1)},
        {"optimizer": bad(None, 5, torch.nn.Linear(2, 2), [torch.optim.SGD([_param()], lr=0.1)])},
    ),
    Spec(
        "deepnotes.optim.schedules.decay_factor",
        lambda: {"step": 3, "law": "inverse_time", "half_life": 10.0, "total_steps": 100},
        {
            "step": nonnegative(),
            "law": choice("constant", "inverse_square", "inverse_time", "cosine", "linear"),
            "half_life": positive(),
            "total_steps": count(none_ok=True),
        },
    ),
    Spec(
        "deepnotes.optim.schedules.half_life_rate",
        lambda: {"law": "inverse_square", "half_life": 10.0},
        {"law": choice("inverse_square", "inverse_time"), "half_life": positive()},
    ),
    Spec(
        "deepnotes.optim.schedules.DecayLR",
        lambda: {
            "optimizer": torch.optim.SGD([_param()], lr=0.1),
            "law": "cosine",
            "half_life": 5.0,
            "total_steps": 10,
            "last_epoch": -1,
        },
        {
            "optimizer": bad(None, 5, torch.nn.Linear(2, 2), [_param()]),
            "law": choice("constant", "inverse_square", "inverse_time", "cosine", "linear"),
            "half_life": positive(none_ok=True),
            "total_steps": count(none_ok=True),
            # last_epoch >= 0 resumes a run (torch then needs 'initial_lr' in every group)
            "last_epoch": bad(-2, -1.5, 2.5, "0", None, True, math.nan),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.optim.schedules.adamw_hyperparameters",
        lambda: {"alpha0": 0.01, "sigma": 0.05, "q": 1.0},
        {"alpha0": positive(), "sigma": positive(), "q": positive()},
    ),
]


def _tiny_data():
    from deepnotes.optim.experiments import classification_data

    return classification_data(n_train=24, n_test=8, dim=4, classes=3, hidden=4)


def _bad_data():
    (xtr, ytr), (xte, yte) = _tiny_data()
    nan_x = xtr.clone()
    nan_x[0, 0] = math.nan
    return bad(
        None,
        5,
        (xtr, ytr),
        ((xtr, ytr), (xte,)),
        ((nan_x, ytr), (xte, yte)),
        ((xtr, ytr.float()), (xte, yte)),
        ((xtr, ytr[:-1]), (xte, yte)),
        ((xtr[:, :2], ytr), (xte, yte)),
        ((xtr, ytr), (xte, -yte)),
        ((xtr.numpy(), ytr), (xte, yte)),
    )


def _sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1), None


def _teacher():
    from deepnotes.optim.experiments import teacher_student

    return teacher_student(["constant", "inverse_time"], [False, True], k=8, batch=4, steps=40)


def _bad_out():
    out = _teacher()
    nan_p = {**out, "p": out["p"].clone()}
    nan_p["p"][0, 0] = math.nan
    return bad(
        None,
        5,
        {},
        {"p": out["p"]},
        {"eps2": out["eps2"]},
        {"p": out["p"], "eps2": out["eps2"][:, :-1]},
        {"p": out["p"].numpy(), "eps2": out["eps2"]},
        nan_p,
    )


EDGES = [1, 4, 10, 20, 40]

EXPERIMENTS = [
    Spec(
        "deepnotes.optim.experiments.amos_noise_rms",
        lambda: {
            "init_rms": 1.0,
            "xi": 0.1,
            "eta": 0.5,
            "steps": 3,
            "shape": (4, 4),
            "c_coef": 0.0,
            "d_coef": 0.0,
            "beta": 0.999,
            "seed": 0,
            "dtype": torch.float64,
        },
        {
            "init_rms": nonnegative(),
            "xi": nonnegative(),
            "eta": positive(),
            "steps": count(),
            "shape": bad((0,), (-1, 2), "ab", None, (2.5,), 4, (True, 2)),
            "c_coef": nonnegative(),
            "d_coef": nonnegative(),
            "beta": bad(-0.1, 1.0, math.nan, "0.9", None),
            "seed": count(low=0),
            "dtype": bad(torch.int64, torch.bool, "float32", None, np.float32, torch.complex64),
        },
    ),
    Spec(
        "deepnotes.optim.experiments.teacher_student",
        lambda: {
            "laws": ["constant", "inverse_time"],
            "weight_decay": [False, True],
            "k": 8,
            "sigma": 0.05,
            "noise": 0.5,
            "batch": 4,
            "steps": 5,
            "alpha0": 0.01,
            "half_life": 250.0,
            "seed": 0,
        },
        {
            "laws": bad([], "constant", ["nope", "constant"], None, [5, "constant"], ["constant"]),
            "weight_decay": bad([], [False], None, "ab", [1, 0], [None, True], True),
            "k": count(),
            "sigma": positive(),
            "noise": nonnegative(),
            "batch": count(),
            "steps": count(),
            "alpha0": positive(),
            "half_life": positive(),
            "seed": count(low=0),
        },
    ),
    Spec(
        "deepnotes.optim.experiments.classification_data",
        lambda: {"n_train": 8, "n_test": 4, "dim": 3, "classes": 3, "hidden": 4, "seed": 0},
        {
            "n_train": count(),
            "n_test": count(),
            "dim": count(),
            "classes": count(low=2),
            "hidden": count(),
            "seed": count(low=0),
        },
    ),
    Spec(
        "deepnotes.optim.experiments.make_mlp",
        lambda: {"dim": 3, "hidden": 4, "classes": 2, "seed": 0},
        {"dim": count(), "hidden": count(), "classes": count(), "seed": count(low=0)},
        finite=False,
    ),
    Spec(
        "deepnotes.optim.experiments.train_classifier",
        lambda: {
            "make_optimizer": _sgd,
            "data": _tiny_data(),
            "hidden": 4,
            "steps": 2,
            "batch": 4,
            "seed": 0,
        },
        {
            "make_optimizer": bad(
                None,
                5,
                lambda m: None,
                lambda m: (5, None),
                lambda m: _sgd(m)[0],
                lambda m: (_sgd(m)[0], 5),
            ),
            "data": _bad_data(),
            "hidden": count(),
            "steps": count(),
            "batch": count(),
            "seed": count(low=0),
        },
    ),
    Spec(
        "deepnotes.optim.experiments.window_means",
        lambda: {"values": torch.rand(2, 40), "edges": EDGES},
        {
            # values are rank-polymorphic (windows along the last axis): no wrong rank but 0-d
            "values": tensor((2, 40), wrong_ndim=False) | bad(torch.tensor(1.0)),
            "edges": bad(
                None,
                "ab",
                [0],
                [3, 2],
                [[0, 1]],
                [0, 41],
                [-1, 2],
                [0.5, 2],
                [math.nan, 1],
                [True, 3],
            ),
        },
    ),
    Spec(
        "deepnotes.optim.experiments.p_distance_slopes",
        lambda: {"out": _teacher(), "edges": EDGES},
        {"out": _bad_out(), "edges": bad(None, [0], [3, 2], [0, 41], [0.5, 2])},
        finite=False,
    ),
]

# --------------------------------------------------------------------------- reference


def _encoder_layer():
    from deepnotes.reference.torchscale import import_torchscale

    ts = import_torchscale()
    cfg = ts.EncoderConfig(
        deepnorm=True,
        encoder_layers=1,
        encoder_embed_dim=8,
        encoder_ffn_embed_dim=32,
        encoder_attention_heads=2,
        dropout=0.0,
    )
    return ts.Encoder(cfg).layers[0]


TS_VALID = {"depth": 1, "decoder_depth": 1, "d": 8, "heads": 2, "seed": 0}
TS_BAD = {
    "depth": count(),
    "decoder_depth": count(),
    "d": count(),
    "heads": count() | bad(3),  # 3 does not divide d = 8
    "seed": count(low=0),
}

RNG = np.random.default_rng


REFERENCE = [
    Spec(
        "deepnotes.reference.torchscale.torchscale_comparison",
        lambda: dict(TS_VALID),
        TS_BAD,
    ),
    Spec(
        "deepnotes.reference.torchscale.comparison_if_installed",
        lambda: dict(TS_VALID),
        {"depth": count(), "heads": bad(3, 0, 2.5)},
    ),
    Spec(
        "deepnotes.reference.torchscale.load_torchscale_layer",
        lambda: {"layer": _encoder_layer(), "alpha": 1.5},
        {"layer": bad(None, 5, torch.nn.Linear(8, 8), "layer"), "alpha": positive()},
        finite=False,
    ),
    Spec(
        "deepnotes.reference.jestimator.compare_with_jestimator",
        lambda: {
            "xi": 0.1,
            "steps": 2,
            "beta": 0.999,
            "momentum": 0.9,
            "clip_value": 3.0,
            "extra_l2": 0.0,
            "d_coef": 0.25,
            "c_coef": 0.25,
            "schedule": lambda count: 1.0,
            "seed": 0,
        },
        {
            "xi": positive(),
            "steps": count(),
            "beta": bad(-0.1, 1.0, math.nan, "0.9", None, True),
            "momentum": bad(-0.1, 1.0, math.nan, "0.9", True),
            "clip_value": bad(0.0, -1.0, math.nan, "1", True),
            "extra_l2": bad(math.nan, math.inf, "0", None),
            "d_coef": nonnegative(),
            "c_coef": nonnegative(),
            "schedule": bad(5, "cosine", [1.0]),
            "seed": count(low=0),
        },
    ),
    Spec(
        "deepnotes.reference.pfgm.forward_pz",
        lambda: {
            "x0": RNG(0).normal(size=(4, 2)),
            "m": np.arange(4.0),
            "sigma": 0.01,
            "tau": 0.03,
            "rng": RNG(1),
        },
        {
            # x0 is converted with np.asarray(dtype=float): integer arrays are data too
            "x0": array((4, 2), wrong_dtype=False),
            "m": array((4,), wrong_dtype=False, wrong_ndim=False) | bad(np.ones((4, 2)), 1e6),
            "sigma": positive(),
            "tau": positive(),
            "rng": not_a_generator(),
        },
    ),
    Spec(
        "deepnotes.reference.pfgm.prior_radius",
        lambda: {"n": 5, "d": 2, "z_max": 40.0, "rng": RNG(0), "upper_norm": 3000.0},
        {
            "n": count(),
            "d": count(),
            "z_max": positive(),
            "rng": not_a_generator(),
            # the radius is clipped to [1, upper_norm]: below 1 the interval is empty
            "upper_norm": positive(none_ok=True) | bad(0.5),
        },
    ),
    Spec(
        "deepnotes.reference.pfgm.empirical_field",
        lambda: {
            "x_aug": torch.randn(3, 3),
            "data": torch.randn(5, 2),
            "gamma": 5.0,
            "normalise": True,
        },
        {
            "x_aug": tensor((3, 3)) | bad(torch.randn(3, 2), np.ones((3, 3))),
            "data": tensor((5, 2)) | bad(torch.randn(5, 3), np.ones((5, 2))),
            "gamma": positive(),
            "normalise": boolean(),
        },
    ),
    Spec(
        "deepnotes.reference.pfgm.pfgmpp_perturb",
        lambda: {
            "y": RNG(0).normal(size=(4, 3)),
            "sigma": np.full(4, 0.5),
            "D": 2.0,
            "rng": RNG(1),
        },
        {
            "y": array((4, 3), wrong_dtype=False),
            "sigma": array((4,), wrong_dtype=False, wrong_ndim=False)
            | bad(np.full(4, -0.5), np.ones((4, 2)), np.ones(3)),
            "D": positive(),
            "rng": not_a_generator(),
        },
    ),
    Spec(
        "deepnotes.reference.flowmatch.torchcfm_sample",
        lambda: {"noise": torch.randn(4, 2), "data": torch.randn(4, 2), "t": torch.rand(4)},
        {
            "noise": tensor((4, 2)) | bad(torch.randn(3, 2)),
            "data": tensor((4, 2)) | bad(torch.randn(4, 3)),
            "t": tensor((4,)) | bad(torch.full((4,), 1.5), torch.full((4,), -0.1)),
        },
    ),
    Spec(
        "deepnotes.reference.flowmatch.flow_matching_velocity",
        lambda: {"data": torch.randn(4, 2), "x": torch.randn(4, 2), "t": torch.rand(4) * 0.9},
        {
            "data": tensor((4, 2)) | bad(torch.randn(3, 2)),
            "x": tensor((4, 2)) | bad(torch.randn(4, 3)),
            # t = 1 divides by 1 - t: the velocity is undefined there
            "t": tensor((4,)) | bad(torch.ones(4), torch.full((4,), -0.1)),
        },
    ),
]

SPECS = [*VIZ, *OPTIM, *EXPERIMENTS, *REFERENCE]

test_valid_call, test_bad_input = make_tests(SPECS)
