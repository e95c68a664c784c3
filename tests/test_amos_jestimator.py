"""Chapter 3: ``deepnotes.optim.Amos`` against the official ``jestimator.amos`` (JAX, CPU, float64).

Both optimizers see the same initial parameters and the same stream of gradients for a few
hundred steps; the parameters and slots must agree to ~1e-12.  JAX and jestimator are pinned
reference packages (``pip install "jax[cpu]" jestimator==0.3.3``): a missing one is a failure,
not a skip.
"""

from __future__ import annotations

import importlib

import jax
import numpy as np
import torch


def _import_jestimator_amos():
    """Import ``jestimator.amos`` under current JAX.

    jestimator 0.3.3's ``__init__`` imports ``amos_helper``, which does
    ``from jax.experimental.pjit import PartitionSpec``; newer JAX moved that name to
    ``jax.sharding``.  Alias it back before importing (test-only shim).
    """
    import jax.experimental.pjit as pjit_module

    if not hasattr(pjit_module, "PartitionSpec"):
        pjit_module.PartitionSpec = jax.sharding.PartitionSpec
    return importlib.import_module("jestimator.amos")


from deepnotes.optim import Amos  # noqa: E402

SHAPES = {"kernel": (6, 5), "bias": (5,), "embed": (4, 3), "conv": (2, 3, 2, 2)}
# jestimator's slot shapes; the same reductions in our optimizer (same axes here: we feed
# identical arrays to both, so no (in, out) vs (out, in) transposition is involved).
SLOTS = {"kernel": (6, 1), "bias": (), "embed": None, "conv": (1, 3, 1, 2)}
ETAS = {"kernel": 0.3, "bias": 0.5, "embed": 0.1, "conv": 0.7}
STEPS = 300


def _run_both(xi, *, beta, momentum, clip_value, extra_l2, d_coef, c_coef, schedule=None, seed=0):
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    amos = _import_jestimator_amos()
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(size=s) * ETAS[k] for k, s in SHAPES.items()}
    grads = [{k: rng.normal(size=s) * (1 + i % 7) for k, s in SHAPES.items()} for i in range(STEPS)]

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
    jparams = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    jstate = tx.init(jparams)

    @jax.jit
    def jax_step(p, s, g):
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    tparams = {
        k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in params.items()
    }
    groups = [{"params": [tparams[k]], "eta": ETAS[k], "slot_shape": SLOTS[k]} for k in SHAPES]
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

    worst = 0.0
    for g in grads:
        jparams, jstate = jax_step(jparams, jstate, {k: jnp.asarray(v) for k, v in g.items()})
        for k in SHAPES:
            tparams[k].grad = torch.tensor(g[k], dtype=torch.float64)
        opt.step()
        if sched is not None:
            sched.step()
        for k in SHAPES:
            diff = np.abs(np.asarray(jparams[k]) - tparams[k].detach().numpy())
            worst = max(worst, float(diff.max()))
    # the slots too: v and b live in the Amos state of the chain
    amos_state = next(
        s for s in jax.tree_util.tree_leaves(jstate, is_leaf=_is_amos_state) if _is_amos_state(s)
    )
    for k in SHAPES:
        st = opt.state[tparams[k]]
        np.testing.assert_allclose(
            st["v"].numpy(), np.asarray(amos_state.v[k]), rtol=1e-12, atol=1e-300
        )
        np.testing.assert_allclose(
            st["b"].numpy(), np.asarray(amos_state.b[k]), rtol=1e-11, atol=1e-300
        )
    return worst


def _is_amos_state(node) -> bool:
    return type(node).__name__ == "ScaleByAmosState"


def test_jestimator_default_options():
    worst = _run_both(
        0.05, beta=0.999, momentum=None, clip_value=None, extra_l2=0.0, d_coef=0.25, c_coef=0.25
    )
    assert worst < 1e-12


def test_jestimator_all_options():
    worst = _run_both(
        0.1, beta=0.98, momentum=0.9, clip_value=1.5, extra_l2=0.01, d_coef=0.5, c_coef=0.1
    )
    assert worst < 1e-12


def test_jestimator_scheduled_learning_rate():
    worst = _run_both(
        0.2,
        beta=0.95,
        momentum=None,
        clip_value=None,
        extra_l2=0.0,
        d_coef=0.25,
        c_coef=0.25,
        schedule=lambda count: 1.0 / (1.0 + 0.01 * count),
    )
    assert worst < 1e-12
