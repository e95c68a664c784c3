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

from deepnotes.ode.kernels import check_points


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """The energy distance between the samples ``x`` (n, d) and ``y`` (m, d), in float64."""
    x = check_points("x", x).double()
    y = check_points("y", y, x.shape[1]).double()
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).mean()
    yy = torch.cdist(y, y).mean()
    return float(2 * xy - xx - yy)


def _flat(name: str, a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()
    a = np.asarray(a, dtype=float).ravel()
    if a.size == 0:
        raise ValueError(f"{name} must not be empty")
    return np.sort(a)


def ks_distance(samples, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Kolmogorov-Smirnov distance ``sup |F_n - F|`` of ``samples`` against the CDF ``cdf``."""
    a = _flat("samples", samples)
    f = np.asarray(cdf(a), dtype=float)
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
