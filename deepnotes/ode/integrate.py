"""Chapters 4-5: fixed-step ODE integrators, optionally in log-time, with density tracking.

``integrate(velocity, x, times)`` solves ``dx/dt = velocity(t, x)`` through the given
time grid.  With ``log_time=True`` the steps are uniform in ``s = ln t`` and the solver
integrates ``dx/ds = t f_t(x)``, which stays well conditioned as ``t -> 0`` (Chapter 4;
PFGM integrates in ``ln z`` too).  ``integrate_logp`` also carries
``d log p / dt = -div f_t`` (the continuity equation along a trajectory).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from deepnotes.checks import boolean, positive_float, positive_int, tensor
from deepnotes.ode.kernels import check_time

__all__ = [
    "METHODS",
    "autograd_divergence",
    "integrate",
    "integrate_logp",
    "log_time_grid",
]

METHODS = ("euler", "heun", "rk4")

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def log_time_grid(t_start: float, t_end: float, steps: int) -> torch.Tensor:
    """``steps + 1`` times from ``t_start`` to ``t_end``, uniform in ``ln t`` (float64)."""
    t_start, t_end = positive_float("t_start", t_start), positive_float("t_end", t_end)
    if t_start == t_end:
        raise ValueError(f"t_end must differ from t_start, got both {t_start!r}")
    steps = positive_int("steps", steps)
    return torch.logspace(
        torch.log10(torch.tensor(t_start)),
        torch.log10(torch.tensor(t_end)),
        steps + 1,
        dtype=torch.float64,
    )


def _step(method: str, g: Callable, s: float, y: torch.Tensor, h: float) -> torch.Tensor:
    if method == "euler":
        return y + h * g(s, y)
    if method == "heun":
        k1 = g(s, y)
        k2 = g(s + h, y + h * k1)
        return y + 0.5 * h * (k1 + k2)
    k1 = g(s, y)
    k2 = g(s + h / 2, y + h / 2 * k1)
    k3 = g(s + h / 2, y + h / 2 * k2)
    k4 = g(s + h, y + h * k3)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _check_callable(name: str, f) -> None:
    if not callable(f):
        raise TypeError(f"{name} must be a callable (t, x) -> tensor, got {type(f).__name__}")


def _check_times(times, log_time: bool) -> torch.Tensor:
    """A strictly monotone 1-D grid of at least two finite times (all > 0 in log time)."""
    if isinstance(times, (str, bytes)):
        raise TypeError(f"times must be a 1-D grid of numbers, got {times!r}")
    try:
        times = torch.as_tensor(times, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"times must be a 1-D grid of numbers, got {type(times).__name__}"
        ) from None
    if times.ndim != 1 or times.numel() < 2:
        raise ValueError("times must be a 1-D grid of at least two times")
    if not bool(torch.isfinite(times).all()):
        raise ValueError("times must be finite")
    steps = times.diff()
    if not (bool((steps > 0).all()) or bool((steps < 0).all())):
        raise ValueError("times must be strictly increasing or strictly decreasing")
    if log_time:
        check_time("times", times)
    return times


def _solve(g, y, times, method, log_time, path):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    log_time, path = boolean("log_time", log_time), boolean("path", path)
    times = _check_times(times, log_time)
    if log_time:
        grid = torch.log(times)
    else:
        grid = times
    out = [y] if path else None
    for a, b in zip(grid[:-1].tolist(), grid[1:].tolist(), strict=True):
        y = _step(method, g, a, y, b - a)
        if path:
            out.append(y)
    return torch.stack(out) if path else y


def integrate(
    velocity: Field,
    x: torch.Tensor,
    times,
    *,
    method: str = "heun",
    log_time: bool = True,
    path: bool = False,
) -> torch.Tensor:
    """Solve ``dx/dt = velocity(t, x)`` from ``times[0]`` to ``times[-1]`` (either direction).

    ``velocity`` takes a scalar tensor ``t`` and ``x`` of shape ``(n, d)``.  Returns the
    final ``x``, or with ``path=True`` every step, shape ``(len(times), n, d)``.
    """
    _check_callable("velocity", velocity)
    x = tensor("x", x)
    log_time = boolean("log_time", log_time)
    if log_time:

        def g(s, y):
            tt = torch.tensor(s, dtype=torch.float64).exp()
            return tt * velocity(tt, y)
    else:

        def g(s, y):
            return velocity(torch.tensor(s, dtype=torch.float64), y)

    return _solve(g, x, times, method, log_time, path)


def autograd_divergence(velocity: Field) -> Field:
    """``div f_t(x)`` by autograd, one backward pass per dimension (exact, for small ``d``)."""

    _check_callable("velocity", velocity)

    def div(t, x):
        x = tensor("x", x, ndim=2)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            f = velocity(t, xg)
            total = torch.zeros(x.shape[0], dtype=x.dtype)
            for j in range(x.shape[1]):
                (gj,) = torch.autograd.grad(f[:, j].sum(), xg, retain_graph=j < x.shape[1] - 1)
                total = total + gj[:, j]
        return total.detach()

    return div


def integrate_logp(
    velocity: Field,
    x: torch.Tensor,
    logp: torch.Tensor,
    times,
    *,
    divergence: Field | None = None,
    both: Callable | None = None,
    method: str = "rk4",
    log_time: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Carry ``(x, log p)`` along ``dx/dt = f``, ``d log p/dt = -div f`` (continuity equation).

    ``divergence(t, x)`` defaults to :func:`autograd_divergence`; ``both(t, x)``, returning
    ``(f, div f)`` in one call, replaces ``velocity`` and ``divergence`` when given.
    Returns ``(x, log p)``.
    """
    for name, f in (("divergence", divergence), ("both", both)):
        if f is not None:
            _check_callable(name, f)
    if both is None or velocity is not None:  # velocity may be None when both is given
        _check_callable("velocity", velocity)
    x = tensor("x", x, ndim=2)
    logp = tensor("logp", logp, ndim=1)
    if logp.shape != x.shape[:1]:
        raise ValueError(f"logp must have shape ({x.shape[0]},), got {tuple(logp.shape)}")
    _check_times(times, boolean("log_time", log_time))
    div = None if both is not None else divergence or autograd_divergence(velocity)
    d = x.shape[1]

    def field(t, y):
        xs = y[:, :d]
        if both is not None:
            f, dv = both(t, xs)
        else:
            f, dv = velocity(t, xs), div(t, xs)
        return torch.cat([f, -dv[:, None]], dim=1)

    y = integrate(field, torch.cat([x, logp[:, None]], 1), times, method=method, log_time=log_time)
    return y[:, :d], y[:, d]
