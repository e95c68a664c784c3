"""Chapters 4-5: sample-quality and distribution-distance metrics.

* :func:`energy_distance`: ``ED = 2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic),
  zero exactly when the two laws agree;
* :func:`ks_distance` (one sample against a CDF) and :func:`ks_two_sample`;
* :func:`nearest_distance`: how close each sample is to a reference set (memorisation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from deepnotes.checks import real_array
from deepnotes.ode.kernels import check_points

__all__ = [
    "energy_distance",
    "ks_distance",
    "ks_two_sample",
    "nearest_distance",
]


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """The energy distance between the samples ``x`` (n, d) and ``y`` (m, d), in float64."""
    x = check_points("x", x).double()
    y = check_points("y", y, x.shape[1]).double()
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).mean()
    yy = torch.cdist(y, y).mean()
    return float(2 * xy - xx - yy)


def _flat(name: str, a) -> np.ndarray:
    a = real_array(name, a).ravel()
    if a.size == 0:
        raise ValueError(f"{name} must not be empty")
    return np.sort(a)


def ks_distance(samples, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Kolmogorov-Smirnov distance ``sup |F_n - F|`` of ``samples`` against the CDF ``cdf``."""
    a = _flat("samples", samples)
    if not callable(cdf):
        raise TypeError(f"cdf must be a callable, got {type(cdf).__name__}")
    f = np.asarray(cdf(a), dtype=float)
    if f.shape != a.shape or not np.all((f >= 0) & (f <= 1)):
        raise ValueError(
            f"cdf must map the {a.size} samples to as many values in [0, 1], got shape "
            f"{f.shape}, values {f.ravel()[:4].tolist()}"
        )
    n = a.size
    hi = np.arange(1, n + 1) / n - f
    lo = f - np.arange(0, n) / n
    return float(np.max(np.concatenate([hi, lo])))


def ks_two_sample(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov distance ``sup |F_a - F_b|``."""
    a, b = _flat("a", a), _flat("b", b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def nearest_distance(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Distance from each row of ``x`` to the nearest row of ``ref``."""
    x = check_points("x", x)
    ref = check_points("ref", ref, x.shape[1])
    return torch.cdist(x.double(), ref.double()).min(dim=1).values
