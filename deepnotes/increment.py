"""One-step loss increments and gradient-norm probes (Chapter 1; reused by Chapter 2).

For one update ``d theta`` the loss changes by

    dL = L(theta + d theta) - L(theta) ~ <g, d theta>,   g = grad L,

and the three optimizer families of the article give

* SGD:              ``d theta = -lr g``                          -> ``dL ~ -lr ||g||_2^2``;
* Adam, first step: ``d theta = -lr g / (|g| + eps)`` (a sign step) -> ``dL ~ -lr ||g||_1``;
* LAMB step:        ``d theta = -lr ||W|| u / ||u||``, ``u = g/(|g|+eps)``, per matrix
  -> ``dL ~ -lr sum_W ||W|| ||g_W||_1 / ||u_W||``.

:func:`one_step_increments` computes the gradient once, then applies each
requested step to a copy of the parameters, evaluates the loss, and restores
them; it returns both the first-order prediction and the measured change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import torch

OPTIMIZERS = ("sgd", "adam", "lamb")
LossFn = Callable[[torch.nn.Module, object], torch.Tensor]


def _params(model: torch.nn.Module, params: Iterable[torch.Tensor] | None) -> list[torch.Tensor]:
    if params is not None:
        out = list(params)
    elif hasattr(model, "branch_parameters"):
        out = list(model.branch_parameters())
    else:
        out = [p for p in model.parameters() if p.requires_grad]
    if not out:
        raise ValueError("params must contain at least one tensor")
    return out


def _update(opt: str, p: torch.Tensor, g: torch.Tensor, lr: float, eps: float) -> torch.Tensor:
    if opt == "sgd":
        return -lr * g
    u = g / (g.abs() + eps)
    if opt == "adam":
        return -lr * u
    un = u.norm()
    trust = p.norm() / un if un > 0 else torch.zeros((), dtype=p.dtype)
    return -lr * trust * u


def one_step_increments(
    model: torch.nn.Module,
    loss_fn: LossFn,
    batch: object,
    lrs: Mapping[str, float],
    params: Iterable[torch.Tensor] | None = None,
    eps: float = 1e-8,
) -> dict[str, dict[str, float]]:
    """Measured and first-order loss change of one step, for each optimizer in ``lrs``.

    ``lrs`` maps ``"sgd" | "adam" | "lamb"`` to a learning rate.  ``params``
    defaults to ``model.branch_parameters()`` when the model has it, else all
    trainable parameters; only those are moved.  Returns, per optimizer,
    ``{"actual": L(theta + d theta) - L(theta), "first_order": <g, d theta>,
    "loss": L(theta), "grad_sq": ||g||^2, "grad_l1": ||g||_1}``.
    The model's parameters are left unchanged.

    Chapter 1, section "Measuring the increment against depth".
    """
    if not lrs:
        raise ValueError("lrs must name at least one optimizer")
    for opt, lr in lrs.items():
        if opt not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {opt!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"lr for {opt!r} must be a positive number, got {lr!r}")
    ps = _params(model, params)
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    grads = torch.autograd.grad(loss, ps)
    base = float(loss.detach())
    grad_sq = float(sum((g.double() ** 2).sum() for g in grads))
    grad_l1 = float(sum(g.double().abs().sum() for g in grads))
    out: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        saved = [p.detach().clone() for p in ps]
        for opt, lr in lrs.items():
            first = 0.0
            for p, g in zip(ps, grads, strict=True):
                step = _update(opt, p, g, float(lr), eps)
                first += float((g.double() * step.double()).sum())
                p.add_(step)
            new = float(loss_fn(model, batch))
            for p, s in zip(ps, saved, strict=True):
                p.copy_(s)
            out[opt] = {
                "actual": new - base,
                "first_order": first,
                "loss": base,
                "grad_sq": grad_sq,
                "grad_l1": grad_l1,
            }
    return out


def one_step_increment(
    model: torch.nn.Module,
    loss_fn: LossFn,
    batch: object,
    optimizer: str = "sgd",
    lr: float = 1e-3,
    params: Iterable[torch.Tensor] | None = None,
) -> dict[str, float]:
    """One optimizer step's loss change: ``{"actual", "first_order", "loss", "grad_sq", "grad_l1"}``.

    See :func:`one_step_increments`; ``optimizer`` is ``"sgd"``, ``"adam"``
    (Adam's exact first step, a sign step) or ``"lamb"``.

    Chapter 1, section "Measuring the increment against depth".
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    return one_step_increments(model, loss_fn, batch, {optimizer: lr}, params)[optimizer]


def gradient_norms(model: torch.nn.Module) -> dict[str, float]:
    """``||grad||`` of every parameter that has a gradient (after ``backward``).

    Chapter 1, section "Training without warmup".
    """
    return {n: float(p.grad.norm()) for n, p in model.named_parameters() if p.grad is not None}


def bottom_gradient_norm(model: torch.nn.Module) -> float:
    """``||grad||`` of the first FFN's ``fc1`` weight: the bottom of the stack.

    Expects a :class:`deepnotes.blocks.DeepNarrowEncoder` after ``backward``.

    Chapter 1, section "Training without warmup".
    """
    for block in getattr(model, "blocks", []):
        if getattr(block, "kind", None) == "ffn":
            g = block.branch.fc1.weight.grad
            if g is None:
                raise ValueError("model has no gradient yet: call backward first")
            return float(g.norm())
    raise ValueError("model has no FFN block with an fc1 weight")


# ---------------------------------------------------------------------------
# Experiments of Chapter 1 (shared by the notebook and the tests)
# ---------------------------------------------------------------------------

#: Default learning rates of the increment sweep: small enough for the
#: first-order regime; the plain (un-rescaled) stacks get a tenth of these.
DEFAULT_LRS = {"sgd": 1e-3, "adam": 1e-5, "lamb": 1e-4}
PLAIN_SCHEMES = ("post_ln", "pre_ln", "no_residual")


def increment_sweep(
    schemes: Sequence[str],
    depths: Sequence[int],
    seeds: Sequence[int] = (0,),
    lrs: Mapping[str, float] | None = None,
    d: int = 64,
    vocab: int = 16,
    seq_len: int = 16,
    batch: int = 16,
    heads: int = 4,
) -> list[dict[str, object]]:
    """One-step increments of fresh encoders over schemes x depths x seeds (Chapter 1, Exp. A).

    Each record: ``scheme, N, seed, optimizer, lr, actual, first_order, loss,
    grad_sq``.  One gradient per model, three updates (:func:`one_step_increments`).
    ``lrs`` defaults to :data:`DEFAULT_LRS`, divided by 10 for the plain stacks.
    The task is :func:`deepnotes.tasks.reversal_batch`; only branch weights move.
    """
    from deepnotes.blocks import SCHEMES, DeepNarrowEncoder
    from deepnotes.tasks import reversal_batch, token_loss

    for s in schemes:
        if s not in SCHEMES:
            raise ValueError(f"schemes must be taken from {SCHEMES}, got {s!r}")
    for n in depths:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"depths must be positive ints, got {n!r}")
    base = dict(DEFAULT_LRS if lrs is None else lrs)
    records: list[dict[str, object]] = []
    for scheme in schemes:
        scale = 0.1 if (lrs is None and scheme in PLAIN_SCHEMES) else 1.0
        these = {k: v * scale for k, v in base.items()}
        for n in depths:
            for seed in seeds:
                gen = torch.Generator().manual_seed(int(seed))
                model = DeepNarrowEncoder(
                    n, scheme, d=d, vocab=vocab, max_len=seq_len, heads=heads, generator=gen
                )
                data = reversal_batch(batch, seq_len, vocab, gen)
                res = one_step_increments(model, token_loss, data, these)
                for opt, r in res.items():
                    records.append(
                        dict(scheme=scheme, N=n, seed=seed, optimizer=opt, lr=these[opt], **r)
                    )
    return records


def slope_table(
    records: Sequence[Mapping[str, object]], key: str = "actual"
) -> dict[tuple[str, str], object]:
    """Fit ``|dL| / lr ∝ N^slope`` per (scheme, optimizer), averaging ``|key|`` over seeds.

    Returns ``{(scheme, optimizer): SlopeFit}`` (:func:`deepnotes.loglog_slope`).

    Chapter 1, section "Measuring the increment against depth".
    """
    from deepnotes.measure import loglog_slope

    if key not in ("actual", "first_order"):
        raise ValueError(f"key must be 'actual' or 'first_order', got {key!r}")
    groups: dict[tuple[str, str], dict[int, list[float]]] = {}
    for r in records:
        g = groups.setdefault((str(r["scheme"]), str(r["optimizer"])), {})
        g.setdefault(int(r["N"]), []).append(abs(float(r[key])) / float(r["lr"]))
    out = {}
    for k, by_n in groups.items():
        ns = sorted(by_n)
        out[k] = loglog_slope(ns, [sum(by_n[n]) / len(by_n[n]) for n in ns])
    return out


def train_no_warmup(
    scheme: str,
    depth: int,
    steps: int = 60,
    seed: int = 0,
    lr: float = 1e-3,
    warmup: int = 0,
    d: int = 64,
    vocab: int = 16,
    seq_len: int = 8,
    batch: int = 32,
    probe_every: int = 10,
) -> dict[str, list[float]]:
    """Train a deep-narrow encoder with Adam(lr, betas=(0.9, 0.98)) on the permutation task.

    Chapter 1, Exp. D (DeepNet Sec. 3).  ``warmup = 0``: no warmup (the default);
    otherwise a linear warmup over ``warmup`` steps.  The history has ``loss``,
    ``grad`` (``||grad||`` of the bottom FFN's fc1, :func:`bottom_gradient_norm`)
    and ``output_change`` = ``||F(x, theta_t) - F(x, theta_0)|| / ||F(x, theta_0)||``
    on a fixed probe batch, measured at step 1 and every ``probe_every`` steps
    (NaN elsewhere).
    """
    from deepnotes.blocks import DeepNarrowEncoder
    from deepnotes.tasks import permutation_task, token_loss
    from deepnotes.train import train

    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    if isinstance(probe_every, bool) or not isinstance(probe_every, int) or probe_every < 1:
        raise ValueError(f"probe_every must be a positive int, got {probe_every!r}")
    gen = torch.Generator().manual_seed(int(seed))
    model = DeepNarrowEncoder(depth, scheme, d=d, vocab=vocab, max_len=seq_len, generator=gen)
    batches = permutation_task(batch, seq_len, vocab, gen)
    probe, _ = next(
        permutation_task(8, seq_len, vocab, torch.Generator().manual_seed(10_000 + seed))
    )
    with torch.no_grad():
        out0 = model.hidden(probe)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98))
    sched = None
    if warmup:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))

    def callback(step: int, m: torch.nn.Module) -> dict[str, float]:
        change = float("nan")
        if step == 1 or (step % probe_every == 0 and step > 0):
            with torch.no_grad():
                change = float((m.hidden(probe) - out0).norm() / out0.norm())
        return {"grad": bottom_gradient_norm(m), "output_change": change}

    return train(
        model, opt, token_loss, batches, steps, scheduler=sched, callback=callback, progress=False
    )
