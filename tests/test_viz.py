"""Unit tests of deepnotes.viz: grids, validation, the SymPy-to-Vega translation, both renderers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp

from deepnotes.viz import (
    LiveFigure,
    Slider,
    StaticFigure,
    check_grid,
    evaluate_grid,
    explore,
    figure_mode,
    vega_expression,
)

x, N, p, g = sp.symbols("x N p gain", positive=True)

# The Vega expression language shares JavaScript's syntax for everything the translator emits;
# these are the Vega functions it may use, implemented in Python to evaluate the emitted string.
VEGA_FUNCTIONS = {
    "pow": math.pow,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "atan": math.atan,
    "tanh": math.tanh,
    "PI": math.pi,
    "E": math.e,
}


def eval_vega(code: str, **values) -> float:
    assert "Math." not in code and "**" not in code, code
    return eval(code, {"__builtins__": {}}, {**VEGA_FUNCTIONS, **values})  # noqa: S307 - test-only, our own output


@pytest.mark.parametrize(
    "expr",
    [
        g ** (2 * x),
        (2 * N) ** sp.Rational(-1, 4),
        (1 + N ** (-p)) ** (2 * N),
        sp.exp(-x / N) * sp.sqrt(x) + sp.log(1 + x) / sp.pi,
        sp.Abs(sp.sin(x) - sp.cos(N)) + sp.atan(x) * sp.tanh(N) + sp.E,
        x ** sp.Rational(1, 3) / (1 + x**2),
    ],
)
def test_vega_expression_matches_lambdify(expr):
    names = {s.name: s.name for s in expr.free_symbols}
    code = vega_expression(expr, names)
    f = sp.lambdify(sorted(expr.free_symbols, key=lambda s: s.name), expr, "math")
    rng = np.random.default_rng(0)
    for _ in range(20):
        vals = {s.name: float(rng.uniform(0.1, 5.0)) for s in expr.free_symbols}
        expected = f(*[vals[s.name] for s in sorted(expr.free_symbols, key=lambda s: s.name)])
        assert eval_vega(code, **vals) == pytest.approx(expected, rel=1e-12)


def test_vega_expression_maps_symbols_to_terms():
    code = vega_expression(g ** (2 * x), {"gain": "[0.5, 2][p_gain]", "x": "datum.x"})
    assert "datum.x" in code and "[0.5, 2][p_gain]" in code


def test_vega_expression_rejects_unknown_symbol_and_function():
    with pytest.raises(ValueError, match="'N'"):
        vega_expression(N * x, {"x": "datum.x"})
    with pytest.raises(ValueError, match="gamma"):
        vega_expression(sp.gamma(x), {"x": "datum.x"})


def frame(gain):
    xs = [1, 2, 4, 8]
    return {"x": xs, "y": [gain ** (2 * v) for v in xs], "kind": ["measured"] * 4}


SLIDERS = [Slider("gain", (0.5, 1.0, 2.0))]


def test_evaluate_grid_stacks_every_setting():
    grid = evaluate_grid(frame, SLIDERS, x="x", y="y", series="kind")
    assert len(grid["x"]) == 12 and grid["gain"] == [0.5] * 4 + [1.0] * 4 + [2.0] * 4
    assert grid["y"][8:] == [2.0 ** (2 * v) for v in [1, 2, 4, 8]]
    check_grid(grid, SLIDERS)


def test_evaluate_grid_product_of_two_sliders():
    sliders = [Slider("a", (1, 2, 3)), Slider("b", ("u", "v"))]
    grid = evaluate_grid(lambda a, b: {"x": [0, 1], "y": [a, a]}, sliders, x="x", y="y")
    assert len(grid["x"]) == 12
    assert set(zip(grid["a"], grid["b"], strict=True)) == {(a, b) for a in (1, 2, 3) for b in "uv"}


def test_check_grid_names_missing_combination():
    grid = evaluate_grid(frame, SLIDERS, x="x", y="y")
    keep = [i for i, v in enumerate(grid["gain"]) if v != 1.0]
    broken = {k: [v[i] for i in keep] for k, v in grid.items()}
    with pytest.raises(ValueError, match="'gain'"):
        check_grid(broken, SLIDERS)
    two = [Slider("a", (1, 2)), Slider("b", (1, 2))]
    grid2 = {"a": [1, 1, 2], "b": [1, 2, 1], "x": [0, 0, 0], "y": [0, 0, 0]}
    with pytest.raises(ValueError, match="missing the combination a=2, b=2"):
        check_grid(grid2, two)


def test_check_grid_slider_range_mismatch():
    grid = evaluate_grid(frame, SLIDERS, x="x", y="y")
    with pytest.raises(ValueError, match="slider 'gain'.*cannot reach"):
        check_grid(grid, [Slider("gain", (0.5, 1.0))])
    with pytest.raises(ValueError, match="grid has no column for slider 'depth'"):
        check_grid(grid, [Slider("depth", (1, 2))])


def test_explore_rejects_theory_symbol_without_slider():
    with pytest.raises(ValueError, match="symbol 'N'"):
        explore(frame, SLIDERS, x="x", y="y", theory={"t": N * x}, mode="static")


def test_explore_rejects_bad_columns_and_sliders():
    with pytest.raises(ValueError, match="column 'z'"):
        explore(frame, SLIDERS, x="x", y="z", mode="static")
    with pytest.raises(ValueError, match="duplicate"):
        explore(frame, SLIDERS * 2, x="x", y="y", mode="static")
    with pytest.raises(ValueError, match="mode"):
        explore(frame, SLIDERS, x="x", y="y", mode="web")


def test_ylim_fixes_the_axis_and_is_validated():
    fig = explore(frame, SLIDERS, x="x", y="y", logy=True, ylim=(1e-3, 1e3), mode="static")
    assert '"domain": [0.001, 1000.0]' in json.dumps(fig.spec)
    with pytest.raises(ValueError, match="ylim"):
        explore(frame, SLIDERS, x="x", y="y", logy=True, ylim=(0, 1), mode="static")
    with pytest.raises(ValueError, match="ylim"):
        explore(frame, SLIDERS, x="x", y="y", ylim=(2, 1), mode="static")


def test_slider_validation():
    with pytest.raises(ValueError, match="'n'.*increasing"):
        Slider("n", (3, 2, 1))
    with pytest.raises(ValueError, match="default"):
        Slider("n", (1, 2), default=5)
    with pytest.raises(ValueError, match="positive"):
        Slider("n", (0, 1), log=True)
    with pytest.raises(ValueError, match="identifier"):
        Slider("two words", (1, 2))
    s = Slider.geometric("N", 1, 1000, 13, integer=True)
    assert s.values[0] == 1 and s.values[-1] == 1000 and s.log


def test_static_figure_is_self_contained():
    kwargs = dict(
        x="x", y="y", series="kind", theory={"g^2x": g ** (2 * x)}, logy=True, mode="static"
    )
    fig = explore(frame, SLIDERS, **kwargs)
    assert isinstance(fig, StaticFigure)
    page = fig._repr_mimebundle_()["text/html"]
    assert "<script src" not in page and "cdn" not in page.lower()
    spec = fig.spec
    assert {prm["name"] for prm in spec["params"]} == {"p_gain"}
    assert '"gain": 2.0' in json.dumps(spec), "the precomputed grid is embedded in the spec"
    # deterministic: the same inputs give the same element id
    again = explore(frame, SLIDERS, **kwargs)
    assert again.element_id == fig.element_id


def test_live_figure_draws_and_caches():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls = []

    def counted(gain):
        calls.append(gain)
        return frame(gain)

    widget = explore(
        counted, SLIDERS, x="x", y="y", series="kind", theory={"t": g ** (2 * x)}, mode="live"
    )
    assert widget.__class__.__name__ == "VBox"
    live = LiveFigure(
        counted,
        SLIDERS,
        explore.__globals__["_Figure"](
            sliders=SLIDERS,
            x="x",
            y="y",
            series="kind",
            theory={"t": g ** (2 * x)},
            logx=False,
            logy=True,
            title="t",
            xlabel="x",
            ylabel="y",
            description="d",
        ),
    )
    calls.clear()
    for _ in range(3):
        fig, ax = plt.subplots()
        live.draw(ax, gain=2.0)
        plt.close(fig)
    assert calls == [2.0], "a repeated setting must come from the cache"
    assert len(ax.lines) == 2  # measured + theory


def test_live_widget_redraws_when_a_slider_moves():
    import matplotlib

    matplotlib.use("Agg")
    box = explore(
        frame, SLIDERS, x="x", y="y", series="kind", theory={"t": g ** (2 * x)}, mode="live"
    )
    live, slider = box.figure, box.controls["gain"]
    assert len(live.redraw_seconds) == 1  # drawn once on display
    hits = live.frame.cache_info().hits  # the default frame was computed once, before display
    slider.value = 2.0  # what dragging the slider does
    assert len(live.redraw_seconds) == 2
    slider.value = 0.5
    assert len(live.redraw_seconds) == 3
    assert live.frame.cache_info().hits == hits and live.frame.cache_info().misses == 3
    slider.value = 2.0  # back to a setting already seen: served from the cache
    assert live.frame.cache_info().hits == hits + 1


def test_figure_mode(monkeypatch):
    monkeypatch.delenv("DEEPNOTES_FIGURES", raising=False)
    monkeypatch.setenv("DEEPNOTES_BUILD", "1")
    assert figure_mode() == "static"
    monkeypatch.setenv("DEEPNOTES_FIGURES", "live")
    assert figure_mode() == "live"
    monkeypatch.setenv("DEEPNOTES_FIGURES", "nonsense")
    with pytest.raises(ValueError, match="DEEPNOTES_FIGURES"):
        figure_mode()
    monkeypatch.delenv("DEEPNOTES_FIGURES")
    monkeypatch.delenv("DEEPNOTES_BUILD")
    assert figure_mode() == "static"  # plain Python, no kernel


def test_log_axis_labels_thin_out_with_the_span():
    from deepnotes.viz import log_axis_labels

    assert "[1, 2, 5]" in log_axis_labels([1, 500])  # under three decades: 1-2-5 ticks
    assert "[1]" in log_axis_labels([1e-3, 1e12])  # many decades: powers of ten only
    assert "Math." not in log_axis_labels([1, 10])


# --------------------------------------------------------------------------- colours, theory, labels


def two_series(gain, opt):
    """A frame whose second series exists only for opt == 'b' (filtering must not recolour)."""
    xs = [1, 2, 4, 8]
    cols = {"x": list(xs), "y": [gain ** (2 * v) for v in xs], "kind": ["measured"] * 4}
    if opt == "b":
        cols["x"] += xs
        cols["y"] += [1.1 * gain ** (2 * v) for v in xs]
        cols["kind"] += ["other"] * 4
    return cols


TWO = [Slider("gain", (0.5, 1.0, 2.0), fmt=".2f"), Slider("opt", ("a", "b"))]


def _layers(spec):
    return spec["layer"]


def _measured_layer(spec):
    (layer,) = [lay for lay in _layers(spec) if "color" in lay.get("encoding", {})]
    return layer


def test_static_colour_scale_has_a_fixed_domain_from_colors():
    from deepnotes.plotting import series_colors

    colors = series_colors(["other", "measured"])
    fig = explore(two_series, TWO, x="x", y="y", series="kind", colors=colors, mode="static")
    scale = _measured_layer(fig.spec)["encoding"]["color"]["scale"]
    # every series value of the grid, in grid order, whatever the drop-down filters away
    assert scale["domain"] == ["measured", "other"]
    assert scale["range"] == [colors["measured"], colors["other"]]


def test_static_colour_scale_without_colors_uses_the_palette_in_order():
    from deepnotes.plotting import PALETTE

    fig = explore(two_series, TWO, x="x", y="y", series="kind", mode="static")
    scale = _measured_layer(fig.spec)["encoding"]["color"]["scale"]
    assert scale == {"domain": ["measured", "other"], "range": PALETTE[:2]}


def test_colors_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"colors has no colour for series value 'other'"):
        explore(
            two_series,
            TWO,
            x="x",
            y="y",
            series="kind",
            colors={"measured": "#000000"},
            mode="static",
        )
    with pytest.raises(ValueError, match=r"colors\['measured'\] = 'notacolour'"):
        explore(
            two_series,
            TWO,
            x="x",
            y="y",
            series="kind",
            colors={"measured": "notacolour", "other": "#00ff00"},
            mode="static",
        )
    with pytest.raises(ValueError, match="colors must be a mapping"):
        explore(two_series, TWO, x="x", y="y", series="kind", colors=["#000000"], mode="static")
    with pytest.raises(ValueError, match="colors.*series="):
        explore(frame, SLIDERS, x="x", y="y", colors={"y": "#000000"}, mode="static")
    with pytest.raises(ValueError, match="colors has no colour for series value 'measured'"):
        # live: the default setting is checked before display
        explore(two_series, TWO, x="x", y="y", series="kind", colors={"other": "#000"}, mode="live")


def test_static_theory_is_layered_under_the_measurement_without_markers():
    fig = explore(
        frame, SLIDERS, x="x", y="y", series="kind", theory={"t": g ** (2 * x)}, mode="static"
    )
    layers = _layers(fig.spec)
    theory, measured = layers[0], layers[1]
    assert "strokeDash" in theory["encoding"], "the first (bottom) layer is the theory"
    assert theory["mark"]["type"] == "line" and not theory["mark"].get("point")
    assert theory["mark"]["strokeWidth"] <= 1
    assert measured["mark"]["type"] == "line" and measured["mark"]["point"] is True


def test_static_value_labels_beside_each_slider():
    fig = explore(two_series, TWO, x="x", y="y", series="kind", mode="static")
    labels = fig.spec["usermeta"]["deepnotes"]["labels"]
    assert labels == {"p_gain": ["0.50", "1.00", "2.00"]}  # the real values, in the slider's fmt
    page = fig.to_html()
    assert "deepnotes-value" in page and "addSignalListener" in page
    assert "input[type=range] ~ span {display: none;}" in page  # the index label stays hidden


def test_live_colours_fixed_and_theory_under_markers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepnotes.plotting import series_colors

    colors = series_colors(["other", "measured"])
    box = explore(
        two_series,
        TWO,
        x="x",
        y="y",
        series="kind",
        theory={"t": g ** (2 * x)},
        colors=colors,
        mode="live",
    )
    live = box.figure
    seen = {}
    for opt in ("a", "b", "a"):
        fig, ax = plt.subplots()
        live.draw(ax, gain=2.0, opt=opt)
        for line in ax.lines:
            seen.setdefault(line.get_label(), set()).add(line.get_color())
        measured = [ln for ln in ax.lines if ln.get_label() in colors]
        theory = [ln for ln in ax.lines if ln.get_label() == "t"]
        assert theory and all(
            ln.get_linestyle() == "--" and ln.get_marker() in ("None", None, "") for ln in theory
        )
        assert max(ln.get_zorder() for ln in theory) < min(ln.get_zorder() for ln in measured)
        plt.close(fig)
    assert seen["measured"] == {colors["measured"]} and seen["other"] == {colors["other"]}


def test_live_controls_show_the_real_value():
    import matplotlib

    matplotlib.use("Agg")
    box = explore(two_series, TWO, x="x", y="y", series="kind", mode="live")
    gain, opt = box.controls["gain"], box.controls["opt"]
    assert gain.readout and gain.label == "1.00"
    gain.value = 2.0
    assert gain.label == "2.00"  # the readout is the value in the slider's fmt, not an index
    opt.value = "b"
    assert opt.label == "b"


# --------------------------------------------------------------------------- explore_field

U = np.linspace(-2.0, 2.0, 9)
V = np.linspace(-1.0, 1.0, 5)
u, v, c = sp.symbols("u v c")
FIELD_SLIDERS = [Slider("c", (-1.0, 0.0, 1.0), fmt=".1f"), Slider("kind", ("bump", "ridge"))]


def bump(c, kind):
    X, Y = np.meshgrid(U, V)
    z = np.exp(-((X - c) ** 2) - Y**2) if kind == "bump" else np.exp(-((X - c) ** 2))
    return {"u": X.ravel(), "v": Y.ravel(), "f": z.ravel()}


FIELD_KW = dict(
    x="u",
    y="v",
    z="f",
    lines={"v = u - c": u - c, "v = c u / 2": c * u / 2},
    points={"centre": (c, sp.Integer(0)), "corner": (c + 1, c / 2)},
)


def _calculates(layer) -> dict[str, str]:
    return {t["as"]: t["calculate"] for t in layer.get("transform", []) if "calculate" in t}


def test_field_frame_checks_the_grid():
    from deepnotes.viz_field import field_frame

    cols = bump(0.0, "bump")
    f = field_frame(cols, "u", "v", "f", "w", False, False)
    assert f.z.shape == (V.size, U.size)
    np.testing.assert_array_equal(f.xs, U)
    i, j = 3, 1
    assert f.z[j, i] == pytest.approx(math.exp(-(U[i] ** 2) - V[j] ** 2))
    short = {k: list(col[1:]) for k, col in cols.items()}
    with pytest.raises(ValueError, match=r"not a regular grid.*u=-2, v=-1 is missing"):
        field_frame(short, "u", "v", "f", "w", False, False)
    dup = {k: [*col[:-1], col[0]] for k, col in cols.items()}
    with pytest.raises(ValueError, match="occurs 2 times"):
        field_frame(dup, "u", "v", "f", "w", False, False)
    with pytest.raises(ValueError, match="column 'f' holds non-finite"):
        field_frame({**cols, "f": [math.nan] * len(cols["f"])}, "u", "v", "f", "w", False, False)
    with pytest.raises(ValueError, match="positive on a log axis"):
        field_frame(cols, "u", "v", "f", "w", True, False)


def test_field_static_spec_holds_every_setting_and_a_fixed_colour_scale():
    from deepnotes.viz import explore_field

    fig = explore_field(bump, FIELD_SLIDERS, mode="static", **FIELD_KW)
    heat = fig.spec["layer"][0]
    rows = fig.spec["datasets"][heat["data"]["name"]] if "name" in heat.get("data", {}) else None
    rows = rows or heat["data"]["values"]
    assert len(rows) == 6  # one record per slider setting
    assert {(r["c"], r["kind"]) for r in rows} == {
        (a, b) for a in (-1.0, 0.0, 1.0) for b in ("bump", "ridge")
    }
    rec = next(r for r in rows if r["c"] == 1.0 and r["kind"] == "bump")
    z = np.asarray(rec["dn_z"]).reshape(V.size, U.size)
    np.testing.assert_allclose(z, bump(1.0, "bump")["f"].reshape(V.size, U.size), rtol=1e-3)
    scale = heat["encoding"]["color"]["scale"]
    everything = np.concatenate(
        [bump(a, b)["f"] for a in (-1.0, 0.0, 1.0) for b in ("bump", "ridge")]
    )
    assert scale["domain"] == [pytest.approx(everything.min()), pytest.approx(everything.max())]
    assert {"flatten": ["dn_z", "dn_k"]} in heat["transform"]
    assert fig.spec["usermeta"]["deepnotes"]["labels"] == {"p_c": ["-1.0", "0.0", "1.0"]}
    fixed = explore_field(bump, FIELD_SLIDERS, zlim=(0, 2), mode="static", **FIELD_KW)
    assert fixed.spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [0.0, 2.0]


class _Datum:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_field_lines_and_points_in_the_browser_match_lambdify():
    from deepnotes.viz import explore_field

    fig = explore_field(bump, FIELD_SLIDERS, mode="static", **FIELD_KW)
    layers = fig.spec["layer"]
    calcs = _calculates(layers[1])
    for i, (label, expr) in enumerate(FIELD_KW["lines"].items()):
        code = calcs[f"line_{i}"]
        f = sp.lambdify((u, c), expr, "math")
        for idx, cval in enumerate((-1.0, 0.0, 1.0)):
            for xv in (-1.5, 0.3, 2.0):
                got = eval_vega(code, datum=_Datum(x=xv), p_c=idx)
                assert got == pytest.approx(f(xv, cval), rel=1e-12, abs=1e-12), label
    for layer, (label, (ex, ey)) in zip(layers[2:], FIELD_KW["points"].items(), strict=True):
        calcs = _calculates(layer)
        for idx, cval in enumerate((-1.0, 0.0, 1.0)):
            assert eval_vega(calcs["px"], p_c=idx) == pytest.approx(float(ex.subs(c, cval))), label
            assert eval_vega(calcs["py"], p_c=idx) == pytest.approx(float(ey.subs(c, cval))), label


def test_field_precomputed_grid_equals_callable():
    from deepnotes.viz import explore_field

    grid = evaluate_grid(bump, FIELD_SLIDERS, x="u", y="f")
    a = explore_field(grid, FIELD_SLIDERS, mode="static", **FIELD_KW)
    b = explore_field(bump, FIELD_SLIDERS, mode="static", **FIELD_KW)
    assert a.spec == b.spec
    missing = {
        k: [e for e, cc in zip(col, grid["c"], strict=True) if cc != 0.0] for k, col in grid.items()
    }
    with pytest.raises(ValueError, match="slider 'c'"):
        explore_field(missing, FIELD_SLIDERS, mode="static", **FIELD_KW)
    with pytest.raises(ValueError, match="grid has no column for slider 'kind'"):
        explore_field(
            {k: col for k, col in grid.items() if k != "kind"},
            FIELD_SLIDERS,
            mode="static",
            **FIELD_KW,
        )


def test_field_bad_input_names_the_argument():
    from deepnotes.viz import explore_field

    kw = dict(x="u", y="v", z="f", mode="static")
    with pytest.raises(ValueError, match="lines 'l' uses symbol 'N'"):
        explore_field(bump, FIELD_SLIDERS, lines={"l": N * u}, **kw)
    with pytest.raises(ValueError, match="points 'p' uses symbol 'u'"):
        explore_field(bump, FIELD_SLIDERS, points={"p": (u, c)}, **kw)
    with pytest.raises(ValueError, match="points 'p' must be a pair"):
        explore_field(bump, FIELD_SLIDERS, points={"p": c}, **kw)
    with pytest.raises(ValueError, match="lines 'l': function gamma"):
        explore_field(bump, FIELD_SLIDERS, lines={"l": sp.gamma(u)}, **kw)
    with pytest.raises(ValueError, match="zlim"):
        explore_field(bump, FIELD_SLIDERS, zlim=(1, 0), **kw)
    with pytest.raises(ValueError, match="zlim"):
        explore_field(bump, FIELD_SLIDERS, zlim=(0, math.inf), **kw)
    with pytest.raises(ValueError, match="cmap"):
        explore_field(bump, FIELD_SLIDERS, cmap="jet", **kw)
    with pytest.raises(ValueError, match="colors has no colour for line or point label 'l'"):
        explore_field(bump, FIELD_SLIDERS, lines={"l": u}, colors={"m": "#000000"}, **kw)
    with pytest.raises(ValueError, match="column 'w' is missing"):
        explore_field(bump, FIELD_SLIDERS, x="u", y="w", z="f", mode="static")
    with pytest.raises(ValueError, match=r"data\(c=-1.0, kind='bump'\): not a regular grid"):
        explore_field(
            lambda c, kind: {"u": [0, 1, 1], "v": [0, 0, 1], "f": [1, 2, 3]}, FIELD_SLIDERS, **kw
        )
    with pytest.raises(ValueError, match="three different columns"):
        explore_field(bump, FIELD_SLIDERS, x="u", y="u", z="f", mode="static")


def test_field_live_redraws_with_a_fixed_colour_scale():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepnotes.viz import explore_field

    box = explore_field(bump, FIELD_SLIDERS, mode="live", **FIELD_KW)
    live = box.figure
    assert len(live.redraw_seconds) == 1
    box.controls["c"].value = 1.0
    box.controls["kind"].value = "ridge"
    assert len(live.redraw_seconds) == 3
    assert box.controls["c"].label == "1.0"
    limits = set()
    for cval in (-1.0, 1.0):
        fig, ax = plt.subplots()
        live.draw(ax, c=cval, kind="bump")
        (mesh,) = ax.collections
        np.testing.assert_allclose(np.asarray(mesh.get_array()).ravel(), bump(cval, "bump")["f"])
        limits.add(mesh.get_clim())
        dashed = [ln for ln in ax.lines if ln.get_label() in FIELD_KW["lines"]]
        assert len(dashed) == 2 and all(ln.get_linestyle() != "-" for ln in dashed)
        (centre,) = [ln for ln in ax.lines if ln.get_label() == "centre"]
        assert centre.get_xdata()[0] == cval
        plt.close(fig)
    assert len(limits) == 1, "the colour scale must not change with the sliders"


def test_field_docstring_example_runs():
    import textwrap

    from deepnotes import viz_field

    code = textwrap.dedent(viz_field.explore_field.__doc__.split("Example")[1].split("::\n", 1)[1])
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own docstring
    assert "bump" in namespace
