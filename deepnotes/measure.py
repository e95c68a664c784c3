"""Measurement helpers: power laws fitted on log-log axes, with confidence intervals.

A law ``y = c * x**k`` is a straight line ``log y = log c + k log x``; the
chapters fit ``k`` by least squares and check it against the exponent their
derivation predicts.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import stats

from deepnotes.checks import real, real_array

__all__ = ["SlopeFit", "loglog_slope"]


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares fit of ``log y = intercept + slope * log x`` (natural logs)."""

    slope: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    r2: float
    n: int

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies inside the confidence interval of the slope."""
        # An infinite value is a legitimate question (answer: no); NaN has no answer.
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ValueError(f"value must be a real number, got {value!r}")
        if math.isnan(value):
            raise ValueError("value must not be NaN")
        return self.ci_low <= value <= self.ci_high

    def predict(self, x):
        """The fitted power law ``exp(intercept) * x**slope`` at positive ``x``."""
        x = real_array("x", x)
        if np.any(x <= 0):
            raise ValueError(f"x must be positive (a power law), got {x.ravel()[:8].tolist()}")
        return np.exp(self.intercept) * x**self.slope

    def __str__(self) -> str:
        return f"{self.slope:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}]"


def _positive_array(name: str, values) -> np.ndarray:
    arr = real_array(name, values, finite=False)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be positive for a log-log fit, got {arr.tolist()}")
    return arr


def loglog_slope(x, y, confidence: float = 0.95) -> SlopeFit:
    """Fit ``y ∝ x**slope`` on log-log axes; the interval is Student-t on ``n - 2`` dof.

    ``x`` and ``y`` are positive 1-D sequences of equal length (at least 3
    points, so that the interval exists).
    """
    x = _positive_array("x", x)
    y = _positive_array("y", y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 3:
        raise ValueError(f"x and y need at least 3 points for a slope interval, got {x.size}")
    if np.unique(x).size < 2:
        raise ValueError("x must take at least two distinct values")
    confidence = real("confidence", confidence, 0.0, 1.0, closed=False)
    lx, ly = np.log(x), np.log(y)
    fit = stats.linregress(lx, ly)
    t = stats.t.ppf(0.5 + confidence / 2, df=x.size - 2)
    half = t * fit.stderr
    return SlopeFit(
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        stderr=float(fit.stderr),
        ci_low=float(fit.slope - half),
        ci_high=float(fit.slope + half),
        r2=float(fit.rvalue**2),
        n=int(x.size),
    )
