"""Chapter 3: ``deepnotes.optim.Amos`` against the official ``jestimator.amos`` (JAX, float64).

Shared by ``tests/test_amos_jestimator.py`` (several option sets, ``DEFAULT_STEPS``) and the
chapter's notebook (one short run).  JAX, optax and jestimator are imported lazily, inside
the functions, so importing this module needs none of them; a missing one raises an
``ImportError`` that names it and the install command (:data:`INSTALL`).  The comparison
switches JAX to float64 only while it runs and restores the previous setting.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from deepnotes.checks import integral, positive_float, positive_int, real
from deepnotes.optim.amos import Amos

__all__ = [
    "DEFAULT_STEPS",
    "INSTALL",
    "PARAM_ATOL",
    "SLOT_RTOL",
    "compare_with_jestimator",
    "import_jestimator_amos",
]

#: How to install the reference packages.
INSTALL = 'pip install "jax[cpu]" jestimator==0.3.3'

#: Agreement required between the two implementations in float64: the largest absolute
#: parameter difference over a run, and the relative tolerances on the ``v`` and ``b`` slots.
PARAM_ATOL = 1e-12
SLOT_RTOL = {"v": 1e-12, "b": 1e-11}
#: Length of the gradient stream in the test suite's comparisons.
DEFAULT_STEPS = 300

SHAPES = {"kernel": (6, 5), "bias": (5,), "embed": (4, 3), "conv": (2, 3, 2, 2)}
# jestimator's slot shapes; the same reductions in our optimizer (same axes here: both get
# identical arrays, so no (in, out) vs (out, in) transposition is involved).
SLOTS = {"kernel": (6, 1), "bias": (), "embed": None, "conv": (1, 3, 1, 2)}
ETAS = {"kernel": 0.3, "bias": 0.5, "embed": 0.1, "conv": 0.7}


def import_jestimator_amos() -> Any:
    """Import ``jestimator.amos`` under current JAX.

    jestimator 0.3.3's ``__init__`` imports ``amos_helper``, which does
    ``from jax.experimental.pjit import PartitionSpec``; newer JAX moved that name to
    ``jax.sharding``.  Alias it back before importing.  Raises ``ImportError`` naming the
    missing package when JAX or jestimator is not installed.
    """
    jax = _require("jax")
    _require("optax")
    _require("jestimator")  # find_spec only: its __init__ needs the alias below
    import jax.experimental.pjit as pjit_module

    if not hasattr(pjit_module, "PartitionSpec"):
        pjit_module.PartitionSpec = jax.sharding.PartitionSpec
    return importlib.import_module("jestimator.amos")


def _require(name: str) -> Any:
    """Import ``name`` (or only locate ``jestimator``), or fail naming it and :data:`INSTALL`."""
    missing = importlib.util.find_spec(name) is None
    if not missing and name != "jestimator":
        return importlib.import_module(name)
    if missing:
        raise ImportError(
            f"the jestimator cross-check needs the package {name!r}, which is not "
            f"installed: {INSTALL}",
            name=name,
        )
    return None


def _is_amos_state(node: Any) -> bool:
    return type(node).__name__ == "ScaleByAmosState"


def compare_with_jestimator(
    xi: float,
    *,
    steps: int = DEFAULT_STEPS,
    beta: float = 0.999,
    momentum: float | None = None,
    clip_value: float | None = None,
    extra_l2: float = 0.0,
    d_coef: float = 0.25,
    c_coef: float = 0.25,
    schedule: Callable[[int], float] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Run jestimator's Amos and ours on the same parameters and gradient stream (float64).

    Four tensors (a kernel with an ``(in, 1)``-style reduced slot, a bias with a scalar slot,
    an embedding with a full-shape slot, a conv kernel reduced over two axes) start from
    ``N(0, eta^2)`` and receive ``steps`` Gaussian gradients whose scale cycles through 1..7.
    The update rule compared is Chapter 3's eq. for Amos,
    ``theta_t = theta_{t-1} - d_t (xi eta g_t / sqrt(v_hat_t) + (gamma_t / 2 + extra_l2) theta_{t-1})``.

    Returns ``param`` (the largest absolute parameter difference over all steps) and
    ``v``, ``b`` (the largest relative slot difference at the end).  Raises
    ``FloatingPointError`` as soon as either implementation holds a NaN or infinity (checked
    after every step), and ``ImportError`` naming a missing reference package.
    """
    xi, steps = positive_float("xi", xi), positive_int("steps", steps)
    for name, value, optional in (("beta", beta, False), ("momentum", momentum, True)):
        if (value is not None or not optional) and real(name, value, 0.0, 1.0) == 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if clip_value is not None:
        clip_value = positive_float("clip_value", clip_value)
    extra_l2 = real("extra_l2", extra_l2)
    d_coef, c_coef = real("d_coef", d_coef, lo=0.0), real("c_coef", c_coef, lo=0.0)
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be None or a function of the step, got {schedule!r}")
    if integral("seed", seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    amos = import_jestimator_amos()
    import jax

    previous_x64 = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        return _compare(
            amos, xi, steps, beta, momentum, clip_value, extra_l2, d_coef, c_coef, schedule, seed
        )
    finally:
        jax.config.update("jax_enable_x64", previous_x64)


def _compare(
    amos, xi, steps, beta, momentum, clip_value, extra_l2, d_coef, c_coef, schedule, seed
) -> dict[str, float]:
    import jax
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(seed)
    params = {n: rng.normal(size=s) * ETAS[n] for n, s in SHAPES.items()}
    grads = [{n: rng.normal(size=s) * (1 + i % 7) for n, s in SHAPES.items()} for i in range(steps)]

    learning_rate = (lambda count: xi * schedule(count)) if schedule else xi
    tx = amos.amos(
        learning_rate,
        lambda name, shape: ETAS[name[0]],
        shape_fn=lambda name, shape: shape if SLOTS[name[0]] is None else SLOTS[name[0]],
        beta=beta,
        momentum=momentum,
        clip_value=clip_value,
        extra_l2=extra_l2,
        d_coef=d_coef,
        c_coef=c_coef,
    )
    jparams = {n: jnp.asarray(v, dtype=jnp.float64) for n, v in params.items()}
    jstate = tx.init(jparams)

    @jax.jit
    def jax_step(p, s, g):
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    tparams = {
        n: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for n, v in params.items()
    }
    groups = [{"params": [tparams[n]], "eta": ETAS[n], "slot_shape": SLOTS[n]} for n in SHAPES]
    opt = Amos(
        groups,
        lr=xi,
        beta=beta,
        momentum=momentum,
        clip_value=clip_value,
        extra_l2=extra_l2,
        d_coef=d_coef,
        c_coef=c_coef,
    )
    # jestimator calls the schedule with the step count after incrementing it (1 on the
    # first step); a LambdaLR evaluated before step t sees last_epoch = t - 1.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: schedule(e + 1)) if schedule else None

    worst = np.float64(0.0)
    for step, g in enumerate(grads, start=1):
        jparams, jstate = jax_step(jparams, jstate, {n: jnp.asarray(v) for n, v in g.items()})
        for n in SHAPES:
            tparams[n].grad = torch.tensor(g[n], dtype=torch.float64)
        opt.step()
        if sched is not None:
            sched.step()
        for n in SHAPES:
            theirs = np.asarray(jparams[n])
            ours = tparams[n].detach().numpy()
            _check_finite(f"jestimator's {n!r}", theirs, step)
            _check_finite(f"our {n!r}", ours, step)
            # np.maximum propagates NaN (Python's max(0.0, nan) is 0.0)
            worst = np.maximum(worst, np.max(np.abs(theirs - ours)))
    amos_state = next(
        s for s in jax.tree_util.tree_leaves(jstate, is_leaf=_is_amos_state) if _is_amos_state(s)
    )
    rel = {"v": np.float64(0.0), "b": np.float64(0.0)}
    for n in SHAPES:
        st = opt.state[tparams[n]]
        for slot in rel:
            ours, theirs = st[slot].numpy(), np.asarray(getattr(amos_state, slot)[n])
            _check_finite(f"our slot {slot} of {n!r}", ours, steps)
            _check_finite(f"jestimator's slot {slot} of {n!r}", theirs, steps)
            scale = np.maximum(np.abs(theirs), np.finfo(np.float64).tiny)  # 0/0 -> 0
            rel[slot] = np.maximum(rel[slot], np.max(np.abs(ours - theirs) / scale))
    return {"param": float(worst), **{slot: float(val) for slot, val in rel.items()}}


def _check_finite(what: str, values: np.ndarray, step: int) -> None:
    """Fail when a NaN or infinity appears: a difference with NaN must never pass."""
    if not np.all(np.isfinite(values)):
        raise FloatingPointError(f"{what} parameters are not finite after step {step}")
