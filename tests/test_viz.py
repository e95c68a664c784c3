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
    slider.value = 2.0  # what dragging the slider does
    assert len(live.redraw_seconds) == 2
    slider.value = 0.5
    assert len(live.redraw_seconds) == 3
    assert live.frame.cache_info().hits == 0 and live.frame.cache_info().misses == 3
    slider.value = 2.0  # back to a setting already seen: served from the cache
    assert live.frame.cache_info().hits == 1


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
