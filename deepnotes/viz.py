"""Interactive figures with two renderers: live sliders in a kernel, kernel-free sliders on the web.

One call, :func:`explore`, turns "a measurement as a function of a few knobs"
(plus, optionally, the closed form the chapter derived) into a figure with
sliders:

* **live** (Colab, Jupyter): ipywidgets controls drive a matplotlib figure.
  Results are cached per slider setting, so moving back to a setting redraws
  without recomputing.
* **static** (the built book): a Vega-Lite figure whose sliders filter a grid
  precomputed at build time.  Theory curves are evaluated *in the browser* from
  the SymPy expression, translated by :func:`vega_expression`.  The Vega
  scripts are not embedded in the figure: the book's Sphinx extension
  (:mod:`deepnotes.book`) serves one bundle for the whole site from
  ``_static/``, so the page works offline.

The mode is chosen by :func:`figure_mode`: the environment variable
``DEEPNOTES_FIGURES`` (``live`` or ``static``) wins; otherwise a book build
(``DEEPNOTES_BUILD=1``, set by :mod:`deepnotes.book` before the notebooks are
executed) means static, a running IPython kernel means live, and anything else
static.
"""

from __future__ import annotations

import functools
import hashlib
import html
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.printing.jscode import JavascriptCodePrinter

from deepnotes.checks import boolean, positive_float, positive_int

__all__ = [
    "MODES",
    "Slider",
    "StaticFigure",
    "check_grid",
    "evaluate_grid",
    "explore",
    "explore_field",  # noqa: F822 - served by __getattr__ from deepnotes.viz_field
    "figure_mode",
    "log_axis_labels",
    "vega_expression",
]

MODES = ("live", "static")
#: Dash patterns of theory curves, in order (static figure) and their matplotlib equivalents (live).
THEORY_DASHES = [[6, 3], [2, 2], [10, 3, 2, 3], [1, 4]]
THEORY_LINESTYLES = ["--", ":", "-.", (0, (1, 4))]


def log_axis_labels(domain: Sequence[float]) -> str:
    """Vega ``labelExpr`` for a log axis: label 1-2-5 ticks over at most three decades, powers of ten
    beyond; plain numbers in [1e-3, 1e5), ``1e+6`` style outside."""
    try:
        lo, hi = (float(v) for v in domain)
        ok = math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(domain, str):
        raise ValueError(f"domain must be (low, high) with 0 < low < high, got {domain!r}")
    decades = math.log10(domain[1]) - math.log10(domain[0])
    mantissas = "[1]" if decades > 3 else "[1, 2, 5]"
    mantissa = "datum.value / pow(10, floor(log(datum.value) / LN10 + 1e-9))"
    text = (
        "abs(datum.value) >= 1e5 || abs(datum.value) < 1e-3"
        " ? format(datum.value, '.0e') : format(datum.value, '~g')"
    )
    return f"indexof({mantissas}, round({mantissa})) >= 0 && abs({mantissa} - round({mantissa})) < 1e-6 ? {text} : ''"


# --------------------------------------------------------------------------- sliders


@dataclass(frozen=True)
class Slider:
    """One knob of an explorer.

    ``values`` are the settings the slider can take, in order; numbers give a
    slider, strings a drop-down.  A slider moves by index, so geometric values
    (see :meth:`geometric`) give a log-scale slider.  ``default`` is one of the
    values (the middle one when omitted).
    """

    name: str
    values: tuple
    label: str | None = None
    default: object = None
    log: bool = False
    fmt: str = "g"
    _is_numeric: bool = field(init=False, repr=False, default=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Slider name must be an identifier, got {self.name!r}")
        if isinstance(self.values, (str, bytes, Mapping, set, frozenset)) or not isinstance(
            self.values, Iterable
        ):
            raise TypeError(
                f"Slider {self.name!r}: values must be a sequence of numbers or of strings, "
                f"got {self.values!r}"
            )
        if self.label is not None and not isinstance(self.label, str):
            raise TypeError(f"Slider {self.name!r}: label must be a string, got {self.label!r}")
        boolean("log", self.log)
        if not isinstance(self.fmt, str):
            raise TypeError(f"Slider {self.name!r}: fmt must be a format string, got {self.fmt!r}")
        values = tuple(self.values)
        if not values:
            raise ValueError(f"Slider {self.name!r}: values must not be empty")
        numeric = all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in values
        )
        if not numeric and not all(isinstance(v, str) for v in values):
            raise ValueError(
                f"Slider {self.name!r}: values must be all numbers or all strings, got {values!r}"
            )
        if numeric:
            values = tuple(v.item() if isinstance(v, np.generic) else v for v in values)
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"Slider {self.name!r}: values must be finite, got {values!r}")
            if any(b <= a for a, b in zip(values, values[1:], strict=False)):
                raise ValueError(
                    f"Slider {self.name!r}: numeric values must be strictly increasing"
                )
            if self.log and values[0] <= 0:
                raise ValueError(f"Slider {self.name!r}: a log slider needs positive values")
            try:
                format(values[0], self.fmt)
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"Slider {self.name!r}: fmt {self.fmt!r} is not a number format ({err})"
                ) from None
        if len(set(values)) != len(values):
            raise ValueError(f"Slider {self.name!r}: values must be distinct")
        default = self.default if self.default is not None else values[(len(values) - 1) // 2]
        if default not in values:
            raise ValueError(f"Slider {self.name!r}: default {default!r} is not one of its values")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "_is_numeric", numeric)

    @classmethod
    def geometric(
        cls, name: str, lo: float, hi: float, num: int, *, integer: bool = False, **kwargs
    ) -> Slider:
        """A log-scale slider: ``num`` values spaced evenly in ``log`` between ``lo`` and ``hi``."""
        lo, hi = positive_float("lo", lo), positive_float("hi", hi)
        if not hi > lo:
            raise ValueError(f"Slider {name!r}: need 0 < lo < hi, got lo={lo}, hi={hi}")
        if positive_int("num", num) < 2:
            raise ValueError(f"Slider {name!r}: num must be at least 2, got {num}")
        boolean("integer", integer)
        values = np.geomspace(lo, hi, num)
        if integer:
            values = np.unique(np.round(values).astype(int))
        return cls(name, tuple(values.tolist()), log=True, **kwargs)

    @property
    def numeric(self) -> bool:
        return self._is_numeric

    @property
    def title(self) -> str:
        return self.label or self.name

    def show(self, value) -> str:
        return format(value, self.fmt) if self.numeric else str(value)


# --------------------------------------------------------------------------- data


def _columns(name: str, data) -> dict[str, list]:
    """Normalise a mapping of columns or a list of records to ``{column: list}``."""
    if isinstance(data, Mapping):
        cols = {str(k): np.asarray(v).tolist() for k, v in data.items()}
    elif isinstance(data, Sequence) and data and all(isinstance(r, Mapping) for r in data):
        keys = list(data[0])
        for i, rec in enumerate(data):
            if list(rec) != keys:
                raise ValueError(f"{name}: record {i} has keys {list(rec)}, expected {keys}")
        cols = {str(k): [rec[k] for rec in data] for k in keys}
    else:
        raise ValueError(
            f"{name} must be a mapping of columns or a non-empty list of records, got {type(data).__name__}"
        )
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{name}: columns have different lengths {lengths}")
    for k, v in cols.items():
        if any(isinstance(e, list) for e in v):
            raise ValueError(f"{name}: column {k!r} must hold scalars")
    return cols


def _records(cols: Mapping[str, list]) -> list[dict]:
    keys = list(cols)
    return [dict(zip(keys, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def _require(name: str, cols: Mapping[str, list], keys: Mapping[str, str | None]) -> None:
    """Each column ``keys[arg]`` (the column the argument ``arg`` names) is in ``cols``."""
    for arg, key in keys.items():
        if key is not None and key not in cols:
            raise ValueError(
                f"{name}: column {key!r} is missing (the {arg} column; have {sorted(cols)})"
            )


def _column_name(arg: str, value, *, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{arg} must be a column name, got {value!r}")


def evaluate_grid(
    fn: Callable[..., Mapping | Sequence],
    sliders: Sequence[Slider],
    *,
    x: str,
    y: str,
    series: str | None = None,
) -> dict[str, list]:
    """Evaluate ``fn(**values)`` at every combination of slider values and stack the results.

    Each call returns columns (``x``, ``y`` and optionally ``series``); the
    stacked grid gets one extra column per slider holding its setting.
    """
    return _evaluate_grid(fn, sliders, x=x, y=y, series=series, arg="fn")


def _evaluate_grid(fn, sliders, *, x, y, series, arg: str) -> dict[str, list]:
    """:func:`evaluate_grid`, its errors naming the function's argument ``arg``."""
    if not callable(fn):
        raise TypeError(f"{arg} must be a function of the slider values, got {type(fn).__name__}")
    sliders = _check_sliders(sliders)
    _column_name("x", x)
    _column_name("y", y)
    _column_name("series", series, none_ok=True)
    stacked: dict[str, list] = {}
    for combo in itertools.product(*(s.values for s in sliders)):
        values = dict(zip((s.name for s in sliders), combo, strict=True))
        where = f"{arg}({values})"
        cols = _columns(where, fn(**values))
        _require(where, cols, {"x": x, "y": y, "series": series})
        clash = [s.name for s in sliders if s.name in cols]
        if clash:
            raise ValueError(f"{where} returned column {clash[0]!r}, which is a slider name")
        n = len(cols[x])
        for s in sliders:
            cols[s.name] = [values[s.name]] * n
        if stacked and set(cols) != set(stacked):
            raise ValueError(f"{where} returned columns {sorted(cols)}, expected {sorted(stacked)}")
        for k, v in cols.items():
            stacked.setdefault(k, []).extend(v)
    return stacked


def check_grid(grid: Mapping[str, list], sliders: Sequence[Slider]) -> None:
    """Every slider setting must be in the grid, every grid setting on a slider, and no combination missing."""
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a mapping column -> values, got {type(grid).__name__}")
    sliders = _check_sliders(sliders)
    for s in sliders:
        if s.name not in grid:
            raise ValueError(f"grid has no column for slider {s.name!r}")
        present = set(grid[s.name])
        missing = [v for v in s.values if v not in present]
        if missing:
            raise ValueError(f"slider {s.name!r}: values {missing} do not occur in the grid")
        extra = sorted(present - set(s.values), key=str)
        if extra:
            raise ValueError(
                f"slider {s.name!r}: the grid holds values {extra} that the slider cannot reach"
            )
    seen = set(zip(*(grid[s.name] for s in sliders), strict=True))
    for combo in itertools.product(*(s.values for s in sliders)):
        if combo not in seen:
            where = ", ".join(f"{s.name}={v!r}" for s, v in zip(sliders, combo, strict=True))
            raise ValueError(f"grid is missing the combination {where}")


def _check_sliders(sliders) -> list[Slider]:
    if isinstance(sliders, (str, bytes, Slider)) or not isinstance(sliders, Iterable):
        raise TypeError(f"sliders must be a list of Slider objects, got {sliders!r}")
    sliders = list(sliders)
    if not sliders:
        raise ValueError("sliders must hold at least one Slider")
    for s in sliders:
        if not isinstance(s, Slider):
            raise ValueError(f"sliders must hold Slider objects, got {type(s).__name__}")
    names = [s.name for s in sliders]
    if len(set(names)) != len(names):
        raise ValueError(f"sliders have duplicate names {names}")
    return sliders


# --------------------------------------------------------------------------- colours


def check_colors(colors, arg: str = "colors") -> dict | None:
    """Validate a ``{name: colour}`` mapping (as made by :func:`deepnotes.plotting.series_colors`).

    Returns the mapping with every colour as a ``#rrggbb`` hex string (a colour
    both matplotlib and Vega read), or ``None`` for ``None``.
    """
    if colors is None:
        return None
    from matplotlib import colors as mcolors

    if not isinstance(colors, Mapping):
        raise ValueError(
            f"{arg} must be a mapping name -> colour (dn.plotting.series_colors), "
            f"got {type(colors).__name__}"
        )
    out = {}
    for key, colour in colors.items():
        if not isinstance(colour, str) or not mcolors.is_color_like(colour):
            raise ValueError(
                f"{arg}[{key!r}] = {colour!r} is not a colour (use a hex string such as '#1f77b4')"
            )
        out[key] = mcolors.to_hex(colour)
    return out


def _lookup_color(colors: Mapping, value, arg: str, what: str) -> str:
    for key in (value, str(value)):
        if key in colors:
            return colors[key]
    raise ValueError(f"{arg} has no colour for {what} {value!r}; it maps {list(colors)}")


def color_scale(
    values: Sequence, colors: Mapping | None, arg: str = "colors", what: str = "series value"
):
    """A fixed colour domain and range: ``values`` (distinct, in order of first appearance) with
    the colour ``colors`` gives each, else the book's palette in order.  Filtering a figure by a
    slider or a drop-down then never recolours a series."""
    from deepnotes.plotting import PALETTE

    domain = list(dict.fromkeys(values))
    if colors is None:
        colours = [PALETTE[i % len(PALETTE)] for i in range(len(domain))]
    else:
        colours = [_lookup_color(colors, v, arg, what) for v in domain]
    return domain, colours


# --------------------------------------------------------------------------- theory


class _VegaPrinter(JavascriptCodePrinter):
    """SymPy to the Vega expression language (JavaScript syntax without ``Math.``)."""

    def __init__(self, names: Mapping[str, str]):
        super().__init__({"strict": False})
        self._names = names

    def _print_Symbol(self, expr):
        return self._names[expr.name]

    def _print_Pow(self, expr):
        if expr.exp == sp.Rational(1, 3):  # JavaScript has Math.cbrt, Vega has no cbrt
            return f"pow({self._print(expr.base)}, 1/3)"
        return super()._print_Pow(expr)

    def _print_Piecewise(self, expr):  # pragma: no cover - guarded by _check_supported
        raise ValueError("Piecewise expressions are not supported in browser theory curves")

    def doprint(self, expr, assign_to=None):
        code = super().doprint(expr, assign_to)
        return code.replace("Math.", "")


_SUPPORTED = (
    sp.Add,
    sp.Mul,
    sp.Pow,
    sp.exp,
    sp.log,
    sp.Abs,
    sp.sin,
    sp.cos,
    sp.tan,
    sp.atan,
    sp.tanh,
)


def _check_supported(label: str, expr: sp.Expr, arg: str = "theory") -> None:
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Symbol, sp.Number, sp.NumberSymbol)):
            continue
        if isinstance(node, sp.Function) and not isinstance(node, _SUPPORTED):
            raise ValueError(
                f"{arg} {label!r}: function {node.func.__name__} has no browser translation"
            )
        if not isinstance(node, (*_SUPPORTED, sp.Function)):
            raise ValueError(f"{arg} {label!r}: {type(node).__name__} has no browser translation")


def vega_expression(expr: sp.Expr, names: Mapping[str, str]) -> str:
    """Translate ``expr`` into a Vega expression; ``names`` maps each symbol name to its Vega term.

    The result uses only ``+ - * /``, parentheses and the Vega functions
    ``pow exp log sqrt abs sin cos tan atan tanh`` and constants ``PI E``,
    so it can be checked against ``sympy.lambdify`` (see the tests).
    """
    if not isinstance(names, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in names.items()
    ):
        raise TypeError(f"names must be a mapping symbol name -> Vega term, got {names!r}")
    try:
        expr = sp.sympify(expr, strict=True)
    except (sp.SympifyError, TypeError, SyntaxError) as err:
        raise ValueError(f"expr must be a SymPy expression, got {expr!r}") from err
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"expr must be a SymPy expression, got {expr!r}")
    for sym in expr.free_symbols:
        if sym.name not in names:
            raise ValueError(
                f"expr uses symbol {sym.name!r}, which names does not map (no slider or axis "
                "provides it)"
            )
    _check_supported(str(expr), expr, arg="expr")
    return _VegaPrinter(names).doprint(expr)


def _check_theory(
    theory, x: str | None, sliders: Sequence[Slider], arg: str = "theory"
) -> dict[str, sp.Expr]:
    """``{label: SymPy expression}`` in the symbols ``x`` (unless None) and the numeric sliders."""
    if theory is None:
        return {}
    if not isinstance(theory, Mapping):
        raise ValueError(
            f"{arg} must be a mapping label -> SymPy expression, got {type(theory).__name__}"
        )
    allowed = ({x} if x is not None else set()) | {s.name for s in sliders if s.numeric}
    out = {}
    for label, expr in theory.items():
        try:
            expr = sp.sympify(expr)
        except (sp.SympifyError, TypeError) as err:
            raise ValueError(f"{arg} {label!r}: {expr!r} is not a SymPy expression") from err
        if not isinstance(expr, sp.Expr):
            raise ValueError(f"{arg} {label!r}: {expr!r} is not a SymPy expression")
        for sym in sorted(expr.free_symbols, key=lambda s: s.name):
            if sym.name not in allowed:
                raise ValueError(
                    f"{arg} {label!r} uses symbol {sym.name!r}; the sliders"
                    + (" and x axis" if x is not None else "")
                    + f" provide {sorted(allowed)}"
                )
        _check_supported(str(label), expr, arg)
        out[str(label)] = expr
    return out


# --------------------------------------------------------------------------- figure spec


@dataclass
class _Figure:
    sliders: list[Slider]
    x: str
    y: str
    series: str | None
    theory: dict[str, sp.Expr]
    logx: bool
    logy: bool
    title: str
    xlabel: str
    ylabel: str
    description: str
    ylim: tuple[float, float] | None = None
    colors: dict | None = None
    width: int = 480
    height: int = 300


def _domain(values: Sequence[float], log: bool) -> list[float]:
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if log:
        arr = arr[arr > 0]
    if arr.size == 0:
        raise ValueError("no finite (positive, on a log axis) values to plot")
    lo, hi = float(arr.min()), float(arr.max())
    if log:
        return [lo / 1.5, hi * 1.5]
    pad = 0.05 * (hi - lo or abs(hi) or 1.0)
    return [lo - pad, hi + pad]


def _theory_values(fig: _Figure, xdom: Sequence[float], points: int = 40) -> list[float]:
    """Every theory curve at every slider setting, sampled over the x range (for the y-domain)."""
    xs = np.geomspace(*xdom, points) if fig.logx else np.linspace(*xdom, points)
    numeric = [s for s in fig.sliders if s.numeric]
    out: list[float] = []
    for expr in fig.theory.values():
        syms = sorted(expr.free_symbols, key=lambda q: q.name)
        fn = sp.lambdify(syms, expr, "numpy")
        for combo in itertools.product(*(s.values for s in numeric)):
            env = {**dict(zip((s.name for s in numeric), combo, strict=True)), fig.x: xs}
            vals = np.broadcast_to(
                np.asarray(fn(*[env[q.name] for q in syms]), dtype=float), xs.shape
            )
            out.extend(float(v) for v in vals if np.isfinite(v))
    return out


def _y_domain(ys: Sequence[float], theory: Sequence[float], log: bool) -> list[float]:
    """A y-domain fixed across slider moves: the data's, widened to the theory curves' but at
    most tenfold (log axis) or one span (linear axis) beyond the data, so data never flattens."""
    lo, hi = _domain(ys, log)
    if not theory:
        return [lo, hi]
    tlo, thi = _domain(theory, log)
    if log:
        return [max(min(lo, tlo), lo / 10), min(max(hi, thi), hi * 10)]
    span = hi - lo
    return [max(min(lo, tlo), lo - span), min(max(hi, thi), hi + span)]


@dataclass
class SliderParams:
    """The Vega-Lite side of a figure's sliders (shared by :func:`explore` and ``explore_field``)."""

    params: list  # one Altair parameter per slider, bound to a control
    filters: list[str]  # Vega expressions: the datum matches the slider setting
    shown: list[str]  # Vega expressions: "name = value" for the in-plot readout
    names: dict[str, str]  # slider name -> Vega term of its current value (numeric sliders)
    labels: dict[str, list[str]]  # parameter -> the shown text of each index (range sliders)


def slider_params(sliders: Sequence[Slider]) -> SliderParams:
    """Parameters, filters and value labels for ``sliders``.

    A numeric slider moves by index over its values (so geometric values give
    a log slider); the page shows the real value, formatted with the slider's
    ``fmt``, next to the control (see :class:`StaticFigure`).
    """
    import altair as alt

    out = SliderParams([], [], [], {}, {})
    for s in sliders:
        pname = f"p_{s.name}"
        if s.numeric:
            index = s.values.index(s.default)
            bind = alt.binding_range(min=0, max=len(s.values) - 1, step=1, name=f"{s.title} ")
            out.params.append(alt.param(name=pname, value=index, bind=bind))
            values_js = json.dumps(list(s.values))
            out.filters.append(f"datum[{json.dumps(s.name)}] === {values_js}[{pname}]")
            out.shown.append(f"'{s.title} = ' + format({values_js}[{pname}], '.4~g')")
            out.names[s.name] = f"{values_js}[{pname}]"
            out.labels[pname] = [s.show(v) for v in s.values]
        else:
            bind = alt.binding_select(options=list(s.values), name=f"{s.title} ")
            out.params.append(alt.param(name=pname, value=s.default, bind=bind))
            out.filters.append(f"datum[{json.dumps(s.name)}] === {pname}")
            out.shown.append(f"'{s.title} = ' + {pname}")
    return out


def axis(domain: Sequence[float], log: bool):
    import altair as alt

    return alt.Axis(labelExpr=log_axis_labels(domain), labelOverlap=True) if log else alt.Axis()


def sequence_x(xdom: Sequence[float], log: bool, points: int):
    """A Vega-Lite chart of ``points + 1`` x values spanning ``xdom`` (evenly in log on a log axis),
    in the field ``x``: the abscissae at which the browser evaluates a curve."""
    import altair as alt

    lo, hi = (math.log10(xdom[0]), math.log10(xdom[1])) if log else (xdom[0], xdom[1])
    seq = alt.Chart(
        alt.SequenceGenerator(
            sequence=alt.SequenceParams(
                start=0, stop=1 + 0.5 / points, step=1 / points, **{"as": "t"}
            )
        )
    )
    return seq.transform_calculate(
        x=f"pow(10, {lo} + datum.t * {hi - lo})" if log else f"{lo} + datum.t * {hi - lo}"
    )


def vega_lite_spec(grid: Mapping[str, list], fig: _Figure, theory_points: int = 80) -> dict:
    """The Vega-Lite spec of the static explorer (a plain ``dict``).

    Theory is layered first (drawn under the measured markers), as thin black
    dashes without point marks; the series colour scale has a fixed domain.
    """
    import altair as alt

    sp_ = slider_params(fig.sliders)
    xdom = _domain(grid[fig.x], fig.logx)
    xscale = alt.Scale(type="log" if fig.logx else "linear", domain=xdom)
    ydom = (
        list(fig.ylim) if fig.ylim else _y_domain(grid[fig.y], _theory_values(fig, xdom), fig.logy)
    )
    yscale = alt.Scale(type="log" if fig.logy else "linear", domain=ydom)
    theory_names = {fig.x: "datum.x", **sp_.names}

    xaxis, yaxis = axis(xdom, fig.logx), axis(ydom, fig.logy)
    xenc = alt.X(f"{fig.x}:Q", scale=xscale, title=fig.xlabel, axis=xaxis)
    yenc = alt.Y(f"{fig.y}:Q", scale=yscale, title=fig.ylabel, axis=yaxis)
    base = alt.Chart(alt.Data(values=_records(grid))).transform_filter(" && ".join(sp_.filters))
    enc = {"x": xenc, "y": yenc}
    if fig.series is not None:
        domain, colours = color_scale(grid[fig.series], fig.colors)
        enc["color"] = alt.Color(
            f"{fig.series}:N",
            title=fig.series,
            scale=alt.Scale(domain=domain, range=colours),
            sort=domain,
            legend=alt.Legend(labelLimit=360, orient="bottom", direction="vertical"),
        )
    else:
        enc["color"] = alt.value(color_scale([fig.y], None)[1][0])
    layers = []
    if fig.theory:
        theory = sequence_x(xdom, fig.logx, theory_points)
        folded = []
        for i, expr in enumerate(fig.theory.values()):
            key = f"theory_{i}"
            theory = theory.transform_calculate(**{key: vega_expression(expr, theory_names)})
            folded.append(key)
        labels = {f"theory_{i}": label for i, label in enumerate(fig.theory)}
        theory = theory.transform_fold(folded, as_=["curve_key", "value"]).transform_calculate(
            curve=f"{json.dumps(labels)}[datum.curve_key]"
        )
        layers.append(
            theory.mark_line(color="black", strokeWidth=1, clip=True).encode(
                x=alt.X("x:Q", scale=xscale, title=fig.xlabel, axis=xaxis),
                y=alt.Y("value:Q", scale=yscale, title=fig.ylabel, axis=yaxis),
                strokeDash=alt.StrokeDash(
                    "curve:N",
                    title="theory",
                    sort=list(fig.theory),
                    scale=alt.Scale(
                        domain=list(fig.theory), range=THEORY_DASHES[: len(fig.theory)]
                    ),
                    legend=alt.Legend(
                        labelLimit=360,
                        symbolStrokeColor="black",
                        orient="bottom",
                        direction="vertical",
                    ),
                ),
                tooltip=[
                    "curve:N",
                    alt.Tooltip("x:Q", format=".3g"),
                    alt.Tooltip("value:Q", format=".3g"),
                ],
            )
        )
    layers.append(base.mark_line(point=True, clip=True, strokeWidth=1.5).encode(**enc))
    readout = (
        alt.Chart(alt.Data(values=[{}]))
        .transform_calculate(label=" + ' · ' + ".join(sp_.shown))
        .mark_text(align="left", baseline="top", dx=4, dy=4, fontSize=11, color="#444")
        .encode(text="label:N", x=alt.value(0), y=alt.value(0))
    )
    layers.append(readout)
    chart = alt.layer(*layers).add_params(*sp_.params)
    title = alt.TitleParams(
        fig.title,
        subtitle=[
            t for t in [fig.theory and "black dashes: theory, computed in your browser"] if t
        ],
    )
    chart = chart.properties(
        width=fig.width,
        height=fig.height,
        title=title,
        description=fig.description,
        usermeta={"deepnotes": {"labels": sp_.labels}},
    )
    return chart.to_dict()


# --------------------------------------------------------------------------- renderers


class StaticFigure:
    """A kernel-free explorer: a Vega-Lite spec plus the HTML that embeds it.

    Next to each range control the page shows the slider's real value (the
    control itself moves by index): an ``<output class="deepnotes-value">``
    that a Vega signal listener updates, with the texts listed in the spec's
    ``usermeta.deepnotes.labels`` (formatted in Python with the slider's
    ``fmt``).  A drop-down shows its value itself.
    """

    def __init__(self, spec: dict, description: str):
        if not isinstance(spec, dict):
            raise TypeError(f"spec must be a Vega-Lite spec (a dict), got {type(spec).__name__}")
        if not isinstance(description, str):
            raise TypeError(f"description must be a string, got {description!r}")
        self.spec = spec
        self.description = description
        digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
        self.element_id = f"deepnotes-fig-{digest}"

    def to_html(self) -> str:
        spec = json.dumps(self.spec, separators=(",", ":")).replace("</", "<\\/")
        fid = self.element_id
        alt_text = html.escape(self.description)
        return (
            f"<style>#{fid} .vega-bind input[type=range] ~ span {{display: none;}} "
            f"#{fid} .vega-bind {{margin: 2px 0;}} "
            f"#{fid} .mark-rect path {{shape-rendering: crispEdges;}} "
            f"#{fid} .deepnotes-value {{margin-left: 0.5em; font-variant-numeric: tabular-nums;}}"
            "</style>"
            f'<div class="deepnotes-figure" id="{fid}" role="figure" aria-label="{alt_text}">'
            f'<p class="deepnotes-figure-fallback">Interactive figure: {alt_text} '
            "(it needs the book's scripts; in a notebook, run with a kernel for live sliders).</p></div>\n"
            "<script>(function () {\n"
            f"  var spec = {spec};\n"
            "  function values(el, view) {\n"
            "    var labels = ((spec.usermeta || {}).deepnotes || {}).labels || {};\n"
            "    Object.keys(labels).forEach(function (name) {\n"
            "      var input = el.querySelector('input[name=\"' + name + '\"]');\n"
            "      if (!input) { return; }\n"
            "      var out = document.createElement('output');\n"
            "      out.className = 'deepnotes-value';\n"
            "      out.setAttribute('data-signal', name);\n"
            "      input.insertAdjacentElement('afterend', out);\n"
            "      var show = function (v) { var t = labels[name][v]; out.textContent = t === undefined ? String(v) : t; };\n"
            "      show(view.signal(name));\n"
            "      view.addSignalListener(name, function (n, v) { show(v); });\n"
            "    });\n"
            "  }\n"
            "  function draw() {\n"
            "    if (typeof window.vegaEmbed !== 'function') { return; }\n"
            f"    window.vegaEmbed('#{fid}', spec, {{actions: false, renderer: 'svg'}}).then(function (r) {{\n"
            f"      values(document.getElementById('{fid}'), r.view);\n"
            "      window.deepnotesViews = window.deepnotesViews || {};\n"
            f"      window.deepnotesViews['{fid}'] = r.view;\n"
            "    }).catch(function (e) { console.error('deepnotes figure', e); });\n"
            "  }\n"
            "  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', draw); }\n"
            "  else { draw(); }\n"
            "})();</script>"
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "text/html": self.to_html(),
            "text/plain": f"<interactive figure: {self.description}>",
        }


def figure_mode(mode: str | None = None) -> str:
    """``"live"`` or ``"static"``: the argument, else ``DEEPNOTES_FIGURES``, else detected (module docstring)."""
    if mode is None:
        mode = os.environ.get("DEEPNOTES_FIGURES") or None
    if mode is not None:
        if mode not in MODES:
            raise ValueError(
                f"mode must be one of {MODES} (or DEEPNOTES_FIGURES unset), got {mode!r}"
            )
        return mode
    if os.environ.get("DEEPNOTES_BUILD", "") == "1":
        return "static"
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the toolchain
        return "static"
    shell = get_ipython()
    return "live" if shell is not None and getattr(shell, "kernel", None) is not None else "static"


def controls(sliders: Sequence[Slider]) -> dict:
    """One ipywidgets control per slider, each showing its current value beside it.

    A numeric slider is a ``SelectionSlider`` whose readout is the real value
    formatted with the slider's ``fmt`` (not an index); a string slider is a
    ``Dropdown``.  Works with ipywidgets 7.7 (Colab) and 8.
    """
    import ipywidgets as widgets

    out = {}
    for s in sliders:
        if s.numeric:
            out[s.name] = widgets.SelectionSlider(
                options=[(s.show(v), v) for v in s.values],
                value=s.default,
                description=s.title,
                readout=True,
                continuous_update=True,
                style={"description_width": "initial"},
                layout=widgets.Layout(width="auto"),
            )
        else:
            out[s.name] = widgets.Dropdown(
                options=list(s.values),
                value=s.default,
                description=s.title,
                style={"description_width": "initial"},
            )
    return out


def live_widget(figure, sliders: Sequence[Slider], figsize: tuple[float, float]):
    """Controls above an output that redraws ``figure.draw(ax, **values)``; ``box.figure`` is
    ``figure`` (with ``redraw_seconds``) and ``box.controls`` the controls by slider name."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    ctrls = controls(sliders)

    def update(**values):
        start = time.perf_counter()
        fig, ax = plt.subplots(figsize=figsize)
        figure.draw(ax, **values)
        plt.show()
        figure.redraw_seconds.append(time.perf_counter() - start)

    out = widgets.interactive_output(update, ctrls)
    box = widgets.VBox([widgets.VBox(list(ctrls.values())), out])
    box.figure = figure  # for tests and benchmarks: redraw_seconds, the cache
    box.controls = ctrls
    return box


class LiveFigure:
    """ipywidgets controls driving a matplotlib figure; results cached per setting.

    Each series keeps one colour: the one ``fig.colors`` gives it, else the next
    palette colour when it is first seen (in grid order for a precomputed grid).
    Theory is drawn under the measured markers (``plotting.THEORY``'s zorder).
    """

    def __init__(self, source, sliders: list[Slider], fig: _Figure):
        self.sliders = sliders
        self.fig = fig
        self._source = source
        self.redraw_seconds: list[float] = []
        self.frame = functools.lru_cache(maxsize=256)(self._frame)  # one cache per figure
        self._theory_fns = {
            label: (
                syms := sorted(expr.free_symbols, key=lambda q: q.name),
                sp.lambdify(syms, expr, "numpy"),
            )
            for label, expr in fig.theory.items()
        }
        self._series_colors: dict = {}
        if fig.series is not None and not callable(source):
            self.series_colors(source[fig.series])

    def series_colors(self, values) -> dict:
        """The colour of each of ``values``, fixed once seen (raises ValueError naming ``colors``)."""
        new = [v for v in dict.fromkeys(values) if v not in self._series_colors]
        if new:
            domain = [*self._series_colors, *new]
            self._series_colors = dict(zip(*color_scale(domain, self.fig.colors), strict=True))
        return self._series_colors

    def _frame(self, *combo) -> dict[str, list]:
        """The columns at one slider setting (wrapped per instance by an LRU cache as ``frame``)."""
        values = dict(zip((s.name for s in self.sliders), combo, strict=True))
        if callable(self._source):
            cols = _columns(f"data({values})", self._source(**values))
            _require(
                f"data({values})",
                cols,
                {"x": self.fig.x, "y": self.fig.y, "series": self.fig.series},
            )
            return cols
        keep = [
            all(self._source[k][i] == v for k, v in values.items())
            for i in range(len(self._source[self.fig.x]))
        ]
        return {
            k: [e for e, m in zip(col, keep, strict=True) if m] for k, col in self._source.items()
        }

    def draw(self, ax, **values) -> None:
        """Draw the frame at ``values``: theory in thin black dashes under the measured lines."""
        from deepnotes.plotting import MEASURED_ZORDER, THEORY

        fig = self.fig
        cols = self.frame(*(values[s.name] for s in self.sliders))
        if fig.series:
            colours = self.series_colors(cols[fig.series])
            groups = [g for g in colours if g in set(cols[fig.series])]
        else:
            groups = [None]
        for g in groups:
            idx = [
                i for i in range(len(cols[fig.x])) if fig.series is None or cols[fig.series][i] == g
            ]
            xs = np.asarray([cols[fig.x][i] for i in idx], dtype=float)
            ys = np.asarray([cols[fig.y][i] for i in idx], dtype=float)
            order = np.argsort(xs)
            ax.plot(
                xs[order],
                ys[order],
                marker="o",
                color=colours[g] if g is not None else color_scale([fig.y], None)[1][0],
                zorder=MEASURED_ZORDER,
                label=str(g) if g is not None else fig.y,
            )
        if self._theory_fns:
            lo, hi = _domain(cols[fig.x], fig.logx)
            t = np.geomspace(lo, hi, 100) if fig.logx else np.linspace(lo, hi, 100)
            for i, (label, (syms, fn)) in enumerate(self._theory_fns.items()):
                env = {**values, fig.x: t}
                with np.errstate(all="ignore"):
                    curve = np.broadcast_to(
                        np.asarray(fn(*[env[q.name] for q in syms]), dtype=float), t.shape
                    )
                style = {**THEORY, "linestyle": THEORY_LINESTYLES[i % len(THEORY_LINESTYLES)]}
                ax.plot(t, curve, label=label, **style)
        ax.set_xscale("log" if fig.logx else "linear")
        ax.set_yscale("log" if fig.logy else "linear")
        if fig.ylim:
            ax.set_ylim(*fig.ylim)
        ax.set_xlabel(fig.xlabel)
        ax.set_ylabel(fig.ylabel)
        shown = ", ".join(f"{s.title} = {s.show(values[s.name])}" for s in self.sliders)
        ax.set_title(f"{fig.title}\n{shown}", fontsize=10)
        ax.legend(loc="best")

    def widget(self):
        if self.fig.series is not None and callable(self._source):
            # a bad colours mapping fails here, not inside a widget callback
            default = self.frame(*(s.default for s in self.sliders))
            self.series_colors(default[self.fig.series])
        return live_widget(self, self.sliders, (6.4, 4.0))


def explore(
    data,
    sliders: Sequence[Slider],
    *,
    x: str,
    y: str,
    series: str | None = None,
    theory: Mapping[str, sp.Expr] | None = None,
    logx: bool = False,
    logy: bool = False,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    description: str | None = None,
    ylim: tuple[float, float] | None = None,
    colors: Mapping[str, str] | None = None,
    mode: str | None = None,
):
    """An explorer of ``y`` against ``x``, one curve per ``series``, with a slider per knob.

    ``data`` is either a callable ``data(**slider_values)`` returning columns
    (a mapping ``column -> values`` or a list of records) with at least ``x``
    and ``y``, or a precomputed grid holding those columns plus one per slider.
    ``theory`` maps a legend label to a SymPy expression in the symbols named
    ``x`` and the numeric sliders; it is drawn as a dashed curve (evaluated in
    the browser on the static page).  The axes stay fixed while the sliders
    move, so a change is seen as a move: the y-range spans every setting's
    data (and the theory curves, up to tenfold on a log axis), unless ``ylim``
    fixes it (use it when settings differ by many decades).

    ``colors`` maps each ``series`` value to a colour (pass the chapter's
    ``dn.plotting.series_colors(...)``); without it the palette is used in the
    grid's order.  Either way the colour scale has a fixed domain, so moving a
    slider or a drop-down never recolours a series.  Theory is drawn as thin
    black dashes without markers, under the measured markers.  Each control
    shows its current value beside it.

    Returns a widget (live mode) or a :class:`StaticFigure` (static mode);
    either displays itself as a cell's last expression.  Raises ``ValueError``
    naming the offending key for a grid with a missing combination, a slider
    whose values do not match the grid, a theory symbol no slider provides,
    or a ``colors`` mapping that is not colours or misses a series value.
    """
    if not callable(data) and not isinstance(data, (Mapping, Sequence)):
        raise TypeError(
            f"data must be a function of the slider values or a grid of columns, "
            f"got {type(data).__name__}"
        )
    sliders = _check_sliders(sliders)
    _column_name("x", x)
    _column_name("y", y)
    _column_name("series", series, none_ok=True)
    if x in {s.name for s in sliders}:
        raise ValueError(f"x={x!r} is also a slider name; a slider cannot be the x axis")
    logx, logy = boolean("logx", logx), boolean("logy", logy)
    _labels(title=title, xlabel=xlabel, ylabel=ylabel, description=description)
    theory_exprs = _check_theory(theory, x, sliders)
    colors = check_colors(colors)
    if colors is not None and series is None:
        raise ValueError("colors maps series values to colours; pass series= as well")
    if ylim is not None:
        ylim = _limits("ylim", ylim)
        if logy and ylim[0] <= 0:
            raise ValueError(
                f"ylim must be (low, high) with low < high (and low > 0 on a log axis), got {ylim}"
            )
    mode = figure_mode(mode)
    description = description or (
        f"{title or y}: {y} against {x}"
        + (f" by {series}" if series else "")
        + "; sliders: "
        + ", ".join(s.title for s in sliders)
    )
    fig = _Figure(
        sliders=sliders,
        x=x,
        y=y,
        series=series,
        theory=theory_exprs,
        logx=logx,
        logy=logy,
        title=title,
        xlabel=xlabel or x,
        ylabel=ylabel or y,
        description=description,
        ylim=ylim,
        colors=colors,
    )
    if callable(data):
        source = data
        grid = (
            _evaluate_grid(data, sliders, x=x, y=y, series=series, arg="data")
            if mode == "static"
            else None
        )
    else:
        grid = _columns("data", data)
        _require("data", grid, {"x": x, "y": y, "series": series})
        check_grid(grid, sliders)
        source = grid
    if mode == "live":
        return LiveFigure(source, sliders, fig).widget()
    return StaticFigure(vega_lite_spec(grid, fig), description)


def _labels(**labels) -> None:
    """Each of ``labels`` is a string (``title``) or ``None`` (the others: a default)."""
    for arg, value in labels.items():
        if not isinstance(value, str) and not (value is None and arg != "title"):
            raise TypeError(f"{arg} must be a string, got {value!r}")


def _limits(arg: str, value) -> tuple[float, float]:
    """``(low, high)`` finite numbers with ``low < high``, else ``ValueError`` naming ``arg``."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{arg} must be (low, high) numbers, got {value!r}") from None
    if isinstance(value, str) or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{arg} must be (low, high) with finite low < high, got {value!r}")
    return lo, hi


def __getattr__(name: str):
    """``deepnotes.viz.explore_field`` (and ``LiveField``, ``Field``) live in :mod:`deepnotes.viz_field`."""
    if name in ("explore_field", "LiveField", "Field", "field_frame", "field_spec"):
        from deepnotes import viz_field

        return getattr(viz_field, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
