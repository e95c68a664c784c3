"""Chapter 5: the two flow-matching libraries' conditional paths, for cross-checks.

* ``torchcfm`` (atong01/conditional-flow-matching): ``ConditionalFlowMatcher(sigma=0)``;
* ``flow_matching`` (facebookresearch/flow_matching): ``CondOTProbPath``.

Both put noise at ``t = 0`` and data at ``t = 1`` (Su: the reverse).  The packages are
imported lazily, inside the functions; a missing one raises an ``ImportError`` naming
it and :data:`INSTALL`.
"""

from __future__ import annotations

import importlib

import torch

from deepnotes.checks import tensor as check_tensor

__all__ = ["INSTALL", "flow_matching_velocity", "torchcfm_sample"]

#: How to install the reference packages (POT is torchcfm's dependency).
INSTALL = "pip install torchcfm==1.0.7 flow_matching==1.0.10 pot"


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - exercised only without the package
        raise ImportError(f"{module} is not installed; run: {INSTALL}") from err


def _check(a: str, first, b: str, second, t, *, t_max_open: bool) -> None:
    """Two same-shape batches ``(B, ...)`` and times ``t`` of shape ``(B,)`` in ``[0, 1]``."""
    check_tensor(a, first)
    check_tensor(b, second)
    if first.ndim < 2:
        raise ValueError(f"{a} must be a batch (B, d), got shape {tuple(first.shape)}")
    if second.shape != first.shape:
        raise ValueError(
            f"{b} must have the shape of {a} {tuple(first.shape)}, got {tuple(second.shape)}"
        )
    check_tensor("t", t, 1, shape=(first.shape[0],))
    if bool((t < 0).any()) or bool((t >= 1).any() if t_max_open else (t > 1).any()):
        raise ValueError(f"t must lie in [0, 1{')' if t_max_open else ']'}")


def torchcfm_sample(noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor):
    """``(x_t, u_t)`` from ``torchcfm``'s ``ConditionalFlowMatcher(sigma=0)`` at FM time ``t``."""
    _check("noise", noise, "data", data, t, t_max_open=False)
    cfm = _import("torchcfm.conditional_flow_matching")
    matcher = cfm.ConditionalFlowMatcher(sigma=0.0)
    _, xt, ut = matcher.sample_location_and_conditional_flow(noise, data, t=t)
    return xt, ut


def flow_matching_velocity(data: torch.Tensor, x: torch.Tensor, t: torch.Tensor):
    """``CondOTProbPath().target_to_velocity(x_1=data, x_t=x, t)`` at FM time ``t`` (in [0, 1):
    the velocity divides by ``1 - t``)."""
    _check("data", data, "x", x, t, t_max_open=True)
    if data.ndim != 2:
        raise ValueError(f"data must have shape (B, d), got {tuple(data.shape)}")
    path = _import("flow_matching.path")
    return path.CondOTProbPath().target_to_velocity(x_1=data, x_t=x, t=t[:, None])
