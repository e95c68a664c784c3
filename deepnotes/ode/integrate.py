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

from deepnotes.checks import positive_int
from deepnotes.ode.kernels import check_time

METHODS = ("euler", "heun", "rk4")

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def log_time_grid(t_start: float, t_end: float, steps: int) -> torch.Tensor:
    """``steps + 1`` times from ``t_start`` to ``t_end``, uniform in ``ln t`` (float64)."""
    t_start, t_end = check_time("t_start", t_start), check_time("t_end", t_end)
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


def _solve(g, y, times, method, log_time, path):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    times = torch.as_tensor(times, dtype=torch.float64)
    if times.ndim != 1 or times.numel() < 2:
        raise ValueError("times must be a 1-D grid of at least two times")
    if log_time:
        check_time("times", times)
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

    def div(t, x):
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
    if logp.shape != x.shape[:1]:
        raise ValueError(f"logp must have shape ({x.shape[0]},), got {tuple(logp.shape)}")
    div = divergence or autograd_divergence(velocity)
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
