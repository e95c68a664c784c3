"""One figure style for the whole book, and the theory-over-measurement overlay."""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepnotes.checks import real_array

__all__ = [
    "PALETTE",
    "THEORY",
    "MEASURED_ZORDER",
    "STYLE",
    "series_colors",
    "use_style",
    "style",
    "overlay_theory",
    "loglog_axes",
    "close",
]

#: Colours used consistently: measured data in solid colours, theory in black dashes.
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]

#: Theory curves: thin, dashed, no markers, drawn *under* the measured markers.
THEORY = {"color": "black", "linestyle": "--", "linewidth": 1.0, "zorder": 1}
#: Measured series sit on top of the theory.
MEASURED_ZORDER = 3


def series_colors(names) -> dict[str, str]:
    """One fixed colour per model, scheme or series of a chapter: ``{name: hex}``.

    Call it once per chapter with every series name the chapter plots, in a
    fixed order, and use the mapping in every figure *and* explorer (pass it as
    ``colors=`` to :func:`deepnotes.viz.explore`), so a series keeps its colour
    when a drop-down filters the others away.  More names than the palette
    holds is an error (a figure with that many colours is unreadable).
    """
    if isinstance(names, (str, bytes)):  # list("ab") would make two series "a" and "b"
        raise ValueError(f"names must be a list of series names, not one string: {names!r}")
    try:
        names = list(names)
    except TypeError:
        raise ValueError(f"names must be a list of series names, got {names!r}") from None
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"names must be a non-empty list of non-empty strings, got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"names must be distinct, got {names!r}")
    if len(names) > len(PALETTE):
        raise ValueError(f"names holds {len(names)} series; the palette has {len(PALETTE)} colours")
    return dict(zip(names, PALETTE, strict=False))


STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
}


def use_style() -> None:
    """Apply the book's matplotlib style globally (call once per notebook)."""
    mpl.rcParams.update(STYLE)


@contextmanager
def style():
    """Apply the book's style inside a ``with`` block only."""
    with mpl.rc_context(STYLE):
        yield


def overlay_theory(ax, x, y, label: str = "theory", **kwargs):
    """Draw a closed-form curve beside measured points: thin black dashes, under the markers."""
    _check_axes(ax)
    x = real_array("x", x, finite=False)
    y = real_array("y", y, finite=False)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    opts = dict(THEORY)
    opts.update(kwargs)
    return ax.plot(x, y, label=label, **opts)


def loglog_axes(ax, xlabel: str, ylabel: str, title: str):
    """Log-log axes with labels and a title (the title should state the finding)."""
    _check_axes(ax)
    for name, text in (("xlabel", xlabel), ("ylabel", ylabel), ("title", title)):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a string, got {text!r}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


def close(fig) -> None:
    """Close a figure after display so notebooks do not accumulate open figures."""
    # plt.close also takes None (the current figure), "all" or a label: not what is meant here.
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    plt.close(fig)


def _check_axes(ax) -> None:
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
