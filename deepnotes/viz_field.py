"""A 2-D field (heat map) explorer, live and static: :func:`explore_field`.

The field ``z(x, y)`` on a regular grid is drawn as a heat map whose colour
scale is fixed across slider settings, so a change of colour is a change of
the field.  Curves ``y = f(x, sliders)`` (``lines``) and points
``(f(sliders), g(sliders))`` (``points``) given as SymPy expressions are drawn
on top; on the static page the browser evaluates them from the expression
(:func:`deepnotes.viz.vega_expression`), as :func:`deepnotes.viz.explore` does
for its theory curves.  Mode selection, sliders, value labels beside each
control and the live widget are shared with :mod:`deepnotes.viz`.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from deepnotes.checks import boolean
from deepnotes.viz import (
    THEORY_DASHES,
    THEORY_LINESTYLES,
    Slider,
    StaticFigure,
    _check_sliders,
    _check_theory,
    _column_name,
    _columns,
    _labels,
    _limits,
    axis,
    check_colors,
    check_grid,
    color_scale,
    figure_mode,
    live_widget,
    sequence_x,
    slider_params,
    vega_expression,
)

#: Colour maps both renderers know: matplotlib name -> Vega scheme (a ``_r`` suffix reverses).
CMAPS = {
    "viridis": "viridis",
    "magma": "magma",
    "inferno": "inferno",
    "plasma": "plasma",
    "cividis": "cividis",
    "Greys": "greys",
    "Blues": "blues",
    "Greens": "greens",
    "Oranges": "oranges",
    "Purples": "purples",
    "Reds": "reds",
    "RdBu": "redblue",
}
#: Significant digits of z stored in the static page (colour and tooltip only).
Z_DIGITS = 4
_RESERVED = ("dn_z", "dn_k", "dn_nx", "dn_xe", "dn_ye", "dn_xv", "dn_yv")

__all__ = ["CMAPS", "Z_DIGITS", "explore_field", "field_frame"]


@dataclass(frozen=True)
class Field:
    """One slider setting's field: ``z[j, i]`` at ``(xs[i], ys[j])``, both axes increasing."""

    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray


def edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges of grid points ``values``: midpoints (in log on a log axis), ends half a step out."""
    t = np.log10(values) if log else np.asarray(values, dtype=float)
    mid = (t[1:] + t[:-1]) / 2
    e = np.concatenate([[t[0] - (t[1] - t[0]) / 2], mid, [t[-1] + (t[-1] - t[-2]) / 2]])
    return 10**e if log else e


def field_frame(
    cols: Mapping[str, list], x: str, y: str, z: str, where: str, logx: bool, logy: bool
) -> Field:
    """Columns ``x, y, z`` holding every ``(x, y)`` combination exactly once, as a :class:`Field`."""
    if not isinstance(where, str):
        raise TypeError(f"where must be a string (the data's name in errors), got {where!r}")
    if not isinstance(cols, Mapping):
        raise TypeError(f"cols must be a mapping column -> values, got {type(cols).__name__}")
    for arg, key in (("x", x), ("y", y), ("z", z)):
        _column_name(arg, key)
        if key not in cols:
            raise ValueError(
                f"{where}: column {key!r} is missing (the {arg} column; have {sorted(cols)})"
            )
    logx, logy = boolean("logx", logx), boolean("logy", logy)
    try:
        xv, yv, zv = (np.asarray(cols[k], dtype=float) for k in (x, y, z))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: columns {x!r}, {y!r}, {z!r} must hold numbers") from err
    for key, arr in ((x, xv), (y, yv), (z, zv)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{where}: column {key!r} holds non-finite values")
    for key, arr, log in ((x, xv, logx), (y, yv, logy)):
        if log and np.any(arr <= 0):
            raise ValueError(f"{where}: column {key!r} must be positive on a log axis")
    xs, ys = np.unique(xv), np.unique(yv)
    for key, u in ((x, xs), (y, ys)):
        if u.size < 2:
            raise ValueError(f"{where}: column {key!r} needs at least two distinct values")
    count = np.zeros((ys.size, xs.size), dtype=int)
    ix, iy = np.searchsorted(xs, xv), np.searchsorted(ys, yv)
    np.add.at(count, (iy, ix), 1)
    if np.any(count != 1):
        j, i = np.argwhere(count != 1)[0]
        what = "is missing" if count[j, i] == 0 else f"occurs {count[j, i]} times"
        raise ValueError(
            f"{where}: not a regular grid ({xs.size} x values by {ys.size} y values, every"
            f" combination once): {x}={xs[i]:g}, {y}={ys[j]:g} {what}"
        )
    grid = np.empty((ys.size, xs.size))
    grid[iy, ix] = zv
    return Field(xs, ys, grid)


@dataclass
class _FieldFigure:
    sliders: list[Slider]
    x: str
    y: str
    z: str
    lines: dict[str, sp.Expr]
    points: dict[str, tuple[sp.Expr, sp.Expr]]
    logx: bool
    logy: bool
    zlim: tuple[float, float] | None
    zlabel: str
    title: str
    xlabel: str
    ylabel: str
    description: str
    colors: dict[str, str]  # line and point label -> colour
    cmap: str
    width: int = 440
    height: int = 360


def _combos(sliders: Sequence[Slider]):
    return list(itertools.product(*(s.values for s in sliders)))


def _z_domain(frames: Sequence[Field], zlim) -> list[float]:
    if zlim is not None:
        return list(zlim)
    lo = float(min(np.min(f.z) for f in frames))
    hi = float(max(np.max(f.z) for f in frames))
    if hi == lo:
        pad = 0.5 * (abs(lo) or 1.0)
        lo, hi = lo - pad, hi + pad
    return [lo, hi]


def _extent(frames: Sequence[Field], log_x: bool, log_y: bool) -> tuple[list, list]:
    xe = [edges(f.xs, log_x) for f in frames]
    ye = [edges(f.ys, log_y) for f in frames]
    return (
        [float(min(e[0] for e in xe)), float(max(e[-1] for e in xe))],
        [float(min(e[0] for e in ye)), float(max(e[-1] for e in ye))],
    )


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.{Z_DIGITS}g}") for v in values]


def field_spec(frames: Mapping[tuple, Field], fig: _FieldFigure, line_points: int = 200) -> dict:
    """The Vega-Lite spec of the static field explorer (a plain ``dict``).

    The page holds one record per slider setting (the flattened field and its
    axes); the slider filter keeps one, a flatten transform turns it into cells.
    """
    import altair as alt

    sp_ = slider_params(fig.sliders)
    names = [s.name for s in fig.sliders]
    rows = []
    for combo, f in frames.items():
        rows.append(
            {
                **dict(zip(names, combo, strict=True)),
                "dn_z": _round(f.z.ravel()),
                "dn_k": list(range(f.z.size)),
                "dn_nx": int(f.xs.size),
                "dn_xe": edges(f.xs, fig.logx).tolist(),
                "dn_ye": edges(f.ys, fig.logy).tolist(),
                "dn_xv": f.xs.tolist(),
                "dn_yv": f.ys.tolist(),
            }
        )
    xdom, ydom = _extent(list(frames.values()), fig.logx, fig.logy)
    zdom = _z_domain(list(frames.values()), fig.zlim)
    xscale = alt.Scale(type="log" if fig.logx else "linear", domain=xdom, nice=False, zero=False)
    yscale = alt.Scale(type="log" if fig.logy else "linear", domain=ydom, nice=False, zero=False)
    xaxis, yaxis = axis(xdom, fig.logx), axis(ydom, fig.logy)
    scheme = fig.cmap.removesuffix("_r")
    heat = (
        alt.Chart(alt.Data(values=rows))
        .transform_filter(" && ".join(sp_.filters))
        .transform_flatten(["dn_z", "dn_k"])
        .transform_calculate(
            dn_i="datum.dn_k % datum.dn_nx",
            dn_j="floor(datum.dn_k / datum.dn_nx)",
        )
        .transform_calculate(
            dn_x0="datum.dn_xe[datum.dn_i]",
            dn_x1="datum.dn_xe[datum.dn_i + 1]",
            dn_y0="datum.dn_ye[datum.dn_j]",
            dn_y1="datum.dn_ye[datum.dn_j + 1]",
            dn_x="datum.dn_xv[datum.dn_i]",
            dn_y="datum.dn_yv[datum.dn_j]",
        )
        .mark_rect(clip=True)
        .encode(
            x=alt.X("dn_x0:Q", scale=xscale, title=fig.xlabel, axis=xaxis),
            x2="dn_x1:Q",
            y=alt.Y("dn_y0:Q", scale=yscale, title=fig.ylabel, axis=yaxis),
            y2="dn_y1:Q",
            color=alt.Color(
                "dn_z:Q",
                title=fig.zlabel,
                scale=alt.Scale(
                    domain=zdom,
                    scheme=CMAPS[scheme],
                    reverse=fig.cmap.endswith("_r"),
                    clamp=True,
                ),
                legend=alt.Legend(orient="right", gradientLength=fig.height - 40),
            ),
            tooltip=[
                alt.Tooltip("dn_x:Q", title=fig.xlabel, format=".4~g"),
                alt.Tooltip("dn_y:Q", title=fig.ylabel, format=".4~g"),
                alt.Tooltip("dn_z:Q", title=fig.zlabel, format=".4~g"),
            ],
        )
    )
    layers = [heat]
    terms = {fig.x: "datum.x", **sp_.names}
    if fig.lines:
        labels = list(fig.lines)
        chart = sequence_x(xdom, fig.logx, line_points)
        for i, expr in enumerate(fig.lines.values()):
            chart = chart.transform_calculate(**{f"line_{i}": vega_expression(expr, terms)})
        keys = {f"line_{i}": label for i, label in enumerate(labels)}
        chart = chart.transform_fold(list(keys), as_=["line_key", "value"]).transform_calculate(
            line=f"{json.dumps(keys)}[datum.line_key]"
        )
        domain, colours = color_scale(labels, fig.colors)
        dashes = [THEORY_DASHES[i % len(THEORY_DASHES)] for i in range(len(labels))]
        legend = alt.Legend(orient="bottom", direction="vertical", labelLimit=360)
        layers.append(
            chart.mark_line(strokeWidth=1.5, clip=True).encode(
                x=alt.X("x:Q", scale=xscale, title=fig.xlabel, axis=xaxis),
                y=alt.Y("value:Q", scale=yscale, title=fig.ylabel, axis=yaxis),
                stroke=alt.Stroke(
                    "line:N",
                    title="lines",
                    sort=domain,
                    scale=alt.Scale(domain=domain, range=colours),
                    legend=legend,
                ),
                strokeDash=alt.StrokeDash(
                    "line:N",
                    title="lines",
                    sort=domain,
                    scale=alt.Scale(domain=domain, range=dashes),
                    legend=legend,
                ),
                tooltip=[
                    "line:N",
                    alt.Tooltip("x:Q", format=".3g"),
                    alt.Tooltip("value:Q", format=".3g"),
                ],
            )
        )
    if fig.points:
        domain, colours = color_scale(list(fig.points), fig.colors)
        for label, (px, py) in fig.points.items():
            layers.append(
                alt.Chart(alt.Data(values=[{"point": label}]))
                .transform_calculate(
                    px=vega_expression(px, sp_.names), py=vega_expression(py, sp_.names)
                )
                .mark_point(
                    filled=True, size=80, opacity=1, stroke="white", strokeWidth=1, clip=True
                )
                .encode(
                    x=alt.X("px:Q", scale=xscale, title=fig.xlabel, axis=xaxis),
                    y=alt.Y("py:Q", scale=yscale, title=fig.ylabel, axis=yaxis),
                    fill=alt.Fill(
                        "point:N",
                        title="points",
                        sort=domain,
                        scale=alt.Scale(domain=domain, range=colours),
                        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=360),
                    ),
                    tooltip=[
                        "point:N",
                        alt.Tooltip("px:Q", title=fig.xlabel, format=".4~g"),
                        alt.Tooltip("py:Q", title=fig.ylabel, format=".4~g"),
                    ],
                )
            )
    chart = alt.layer(*layers).add_params(*sp_.params)
    chart = chart.properties(
        width=fig.width,
        height=fig.height,
        title=alt.TitleParams(
            fig.title,
            subtitle=[
                t
                for t in [(fig.lines or fig.points) and "lines and points computed in your browser"]
                if t
            ],
        ),
        description=fig.description,
        usermeta={"deepnotes": {"labels": sp_.labels}},
    )
    return chart.to_dict()


class LiveField:
    """ipywidgets controls driving a matplotlib heat map; fields cached per setting."""

    def __init__(self, source: Callable[..., Field], fig: _FieldFigure, zdom: Sequence[float]):
        self.fig = fig
        self.sliders = fig.sliders
        self.zdom = list(zdom)
        self.redraw_seconds: list[float] = []
        self.frame = functools.lru_cache(maxsize=256)(source)
        self._lines = {
            label: (
                syms := sorted(e.free_symbols, key=lambda q: q.name),
                sp.lambdify(syms, e, "numpy"),
            )
            for label, e in fig.lines.items()
        }
        self._points = {
            label: tuple(
                (
                    syms := sorted(e.free_symbols, key=lambda q: q.name),
                    sp.lambdify(syms, e, "numpy"),
                )
                for e in pair
            )
            for label, pair in fig.points.items()
        }

    def draw(self, ax, **values) -> None:
        """Draw the field at ``values`` with its lines (dashed) and points on top."""
        import matplotlib.colors as mcolors

        fig = self.fig
        f = self.frame(*(values[s.name] for s in self.sliders))
        xe, ye = edges(f.xs, fig.logx), edges(f.ys, fig.logy)
        mesh = ax.pcolormesh(
            xe,
            ye,
            f.z,
            cmap=fig.cmap,
            norm=mcolors.Normalize(*self.zdom, clip=True),
            shading="flat",
        )
        ax.figure.colorbar(mesh, ax=ax, label=fig.zlabel)
        ax.grid(False)  # the book style's grid would cross the cells
        ax.set_xscale("log" if fig.logx else "linear")
        ax.set_yscale("log" if fig.logy else "linear")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        t = np.geomspace(xe[0], xe[-1], 200) if fig.logx else np.linspace(xe[0], xe[-1], 200)
        line_colors = dict(zip(*color_scale(list(fig.lines), fig.colors), strict=True))
        for i, (label, (syms, fn)) in enumerate(self._lines.items()):
            env = {**values, fig.x: t}
            with np.errstate(all="ignore"):
                curve = np.broadcast_to(
                    np.asarray(fn(*[env[q.name] for q in syms]), dtype=float), t.shape
                )
            ax.plot(
                t,
                curve,
                color=line_colors[label],
                linestyle=THEORY_LINESTYLES[i % len(THEORY_LINESTYLES)],
                linewidth=1.5,
                zorder=3,
                label=label,
            )
        point_colors = dict(zip(*color_scale(list(fig.points), fig.colors), strict=True))
        for label, ((sx, fx), (sy, fy)) in self._points.items():
            px = float(fx(*[values[q.name] for q in sx]))
            py = float(fy(*[values[q.name] for q in sy]))
            ax.plot(
                [px],
                [py],
                marker="o",
                linestyle="none",
                color=point_colors[label],
                markeredgecolor="white",
                markersize=7,
                zorder=4,
                label=label,
            )
        ax.set_xlabel(fig.xlabel)
        ax.set_ylabel(fig.ylabel)
        shown = ", ".join(f"{s.title} = {s.show(values[s.name])}" for s in self.sliders)
        ax.set_title(f"{fig.title}\n{shown}", fontsize=10)
        if self._lines or self._points:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8)

    def widget(self):
        return live_widget(self, self.sliders, (6.4, 5.6))


def _check_points(points, sliders: Sequence[Slider]) -> dict[str, tuple[sp.Expr, sp.Expr]]:
    if points is None:
        return {}
    if not isinstance(points, Mapping):
        raise ValueError(
            f"points must be a mapping label -> (x expression, y expression), got {type(points).__name__}"
        )
    out = {}
    for label, pair in points.items():
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise ValueError(
                f"points {label!r} must be a pair (x expression, y expression), got {pair!r}"
            )
        checked = (
            _check_theory({label: pair[0]}, None, sliders, arg="points")[str(label)],
            _check_theory({label: pair[1]}, None, sliders, arg="points")[str(label)],
        )
        out[str(label)] = checked
    return out


def explore_field(
    data,
    sliders: Sequence[Slider],
    *,
    x: str,
    y: str,
    z: str,
    lines: Mapping[str, sp.Expr] | None = None,
    points: Mapping[str, tuple[sp.Expr, sp.Expr]] | None = None,
    logx: bool = False,
    logy: bool = False,
    zlim: tuple[float, float] | None = None,
    zlabel: str | None = None,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    colors: Mapping[str, str] | None = None,
    cmap: str = "viridis",
    description: str | None = None,
    mode: str | None = None,
):
    """An explorer of a field ``z(x, y)`` drawn as a heat map, with a slider per knob.

    ``data`` is either a callable ``data(**slider_values)`` returning columns
    ``x``, ``y``, ``z`` (a mapping or a list of records) that hold every
    ``(x, y)`` combination of a rectilinear grid exactly once, or a
    precomputed grid holding those columns plus one per slider.  The colour
    scale is fixed across slider settings: ``zlim`` if given, else the
    smallest and largest ``z`` of every setting (so with a callable and no
    ``zlim`` every setting is computed up front, also in live mode).  On the
    static page ``z`` is stored to ``Z_DIGITS`` significant digits.

    ``lines`` maps a legend label to a SymPy expression giving ``y`` as a
    function of the symbol named ``x`` and the numeric sliders (dashed
    lines); ``points`` maps a label to a pair of expressions ``(x, y)`` in the
    numeric sliders (markers, e.g. intersections that move with a slider).
    Both are evaluated in the browser on the static page.  ``colors`` maps
    each line and point label to a colour (else the palette in order; pick
    colours that stand out on ``cmap``, e.g. black and white on ``RdBu``);
    ``cmap`` is one of :data:`CMAPS` (``_r`` reverses it).  Each control shows
    its current value beside it.

    Returns a widget (live mode) or a :class:`~deepnotes.viz.StaticFigure`.
    Raises ``ValueError`` naming the argument for a grid with a missing
    ``(x, y)`` cell or slider combination, slider values absent from the
    grid, unknown symbols, functions with no browser translation, a bad
    ``zlim``, ``colors`` or ``cmap``.

    Example (a Gaussian bump whose centre follows a slider, and the line
    ``y = x`` with the point where the bump's centre sits on it)::

        import numpy as np, sympy as sp
        from deepnotes.viz import Slider, explore_field

        grid = np.linspace(-2, 2, 21)

        def bump(c):
            X, Y = np.meshgrid(grid, grid)
            return {"u": X.ravel(), "v": Y.ravel(), "f": np.exp(-(X - c) ** 2 - Y**2).ravel()}

        u, c = sp.symbols("u c")
        explore_field(bump, [Slider("c", (-1.0, 0.0, 1.0))], x="u", y="v", z="f",
                      lines={"v = u": u}, points={"centre": (c, sp.Integer(0))},
                      zlim=(0, 1), zlabel="f(u, v)", title="A bump moving with c")
    """
    if not callable(data) and not isinstance(data, (Mapping, Sequence)):
        raise TypeError(
            f"data must be a function of the slider values or a grid of columns, "
            f"got {type(data).__name__}"
        )
    sliders = _check_sliders(sliders)
    for key, val in (("x", x), ("y", y), ("z", z)):
        _column_name(key, val)
    logx, logy = boolean("logx", logx), boolean("logy", logy)
    _labels(title=title, xlabel=xlabel, ylabel=ylabel, zlabel=zlabel, description=description)
    if len({x, y, z}) != 3:
        raise ValueError(f"x, y and z must be three different columns, got {x!r}, {y!r}, {z!r}")
    for s in sliders:
        if s.name in (x, y, z) or s.name in _RESERVED:
            raise ValueError(
                f"slider {s.name!r} has the name of a column (x, y, z) or a reserved name"
            )
    line_exprs = _check_theory(lines, x, sliders, arg="lines")
    point_exprs = _check_points(points, sliders)
    if zlim is not None:
        zlim = _limits("zlim", zlim)
    if not isinstance(cmap, str) or cmap.removesuffix("_r") not in CMAPS:
        raise ValueError(f"cmap must be one of {sorted(CMAPS)} (optionally with _r), got {cmap!r}")
    colors = check_colors(colors)
    if colors is not None:  # every label needs a colour: fail now, not in the browser
        color_scale([*line_exprs, *point_exprs], colors, what="line or point label")
    mode = figure_mode(mode)
    description = description or (
        f"{title or z}: heat map of {z} over {x} and {y}; sliders: "
        + ", ".join(s.title for s in sliders)
    )
    fig = _FieldFigure(
        sliders=sliders,
        x=x,
        y=y,
        z=z,
        lines=line_exprs,
        points=point_exprs,
        logx=logx,
        logy=logy,
        zlim=zlim,
        zlabel=zlabel or z,
        title=title,
        xlabel=xlabel or x,
        ylabel=ylabel or y,
        description=description,
        colors=colors,
        cmap=cmap,
    )
    names = [s.name for s in sliders]
    if callable(data):

        def source(*combo):
            values = dict(zip(names, combo, strict=True))
            where = f"data({', '.join(f'{k}={v!r}' for k, v in values.items())})"
            return field_frame(_columns(where, data(**values)), x, y, z, where, logx, logy)

    else:
        grid = _columns("data", data)
        check_grid(grid, sliders)
        index: dict[tuple, list[int]] = {}
        for i, combo in enumerate(zip(*(grid[n] for n in names), strict=True)):
            index.setdefault(combo, []).append(i)

        def source(*combo):
            rows = index[combo]
            where = "data at " + ", ".join(f"{k}={v!r}" for k, v in zip(names, combo, strict=True))
            cols = {k: [grid[k][i] for i in rows] for k in (x, y, z) if k in grid}
            return field_frame(cols, x, y, z, where, logx, logy)

    if mode == "live" and zlim is not None:
        live = LiveField(source, fig, zlim)
        live.frame(*(s.default for s in sliders))  # bad data fails here, not in a widget callback
        return live.widget()
    frames = {combo: source(*combo) for combo in _combos(sliders)}
    if mode == "live":
        live = LiveField(lambda *combo: frames[combo], fig, _z_domain(list(frames.values()), None))
        return live.widget()
    return StaticFigure(field_spec(frames, fig), description)
