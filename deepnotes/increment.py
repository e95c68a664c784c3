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

from deepnotes.checks import integral, nonempty_list, positive_float, positive_int

__all__ = [
    "OPTIMIZERS",
    "DEFAULT_LRS",
    "PLAIN_SCHEMES",
    "one_step_increments",
    "one_step_increment",
    "gradient_norms",
    "bottom_gradient_norm",
    "increment_sweep",
    "slope_table",
    "seed_slopes",
    "train_no_warmup",
    "start_jobs",
    "run_jobs",
]

OPTIMIZERS = ("sgd", "adam", "lamb")
LossFn = Callable[[torch.nn.Module, object], torch.Tensor]


def _check_model(model) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_loss_fn(loss_fn) -> None:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function loss_fn(model, batch), got {loss_fn!r}")


def _check_lrs(lrs) -> dict[str, float]:
    if not isinstance(lrs, Mapping) or not lrs:
        raise ValueError(f"lrs must map optimizer names to learning rates, got {lrs!r}")
    out = {}
    for opt, lr in lrs.items():
        if not isinstance(opt, str) or opt not in OPTIMIZERS:
            raise ValueError(f"lrs keys must be optimizers from {OPTIMIZERS}, got {opt!r}")
        try:
            out[opt] = positive_float("lr", lr)
        except ValueError:
            raise ValueError(f"lrs[{opt!r}] must be a positive finite number, got {lr!r}") from None
    return out


def _params(model: torch.nn.Module, params: Iterable[torch.Tensor] | None) -> list[torch.Tensor]:
    if params is not None:
        if isinstance(params, (str, bytes, torch.Tensor)):
            raise TypeError(f"params must be a list of tensors, got {type(params).__name__}")
        try:
            out = list(params)
        except TypeError:
            raise TypeError(f"params must be a list of tensors, got {params!r}") from None
        for p in out:
            if not isinstance(p, torch.Tensor) or not p.requires_grad:
                raise ValueError(f"params must hold tensors that require grad, got {p!r}")
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
    actual: bool = True,
) -> dict[str, dict[str, float]]:
    """Measured and first-order loss change of one step, for each optimizer in ``lrs``.

    ``lrs`` maps ``"sgd" | "adam" | "lamb"`` to a learning rate.  ``params``
    defaults to ``model.branch_parameters()`` when the model has it, else all
    trainable parameters; only those are moved.  Returns, per optimizer,
    ``{"actual": L(theta + d theta) - L(theta), "first_order": <g, d theta>,
    "loss": L(theta), "grad_sq": ||g||^2, "grad_l1": ||g||_1}``.
    The model's parameters are left unchanged.  ``actual=False`` skips the
    evaluation after each step (one forward pass per optimizer) and reports
    ``"actual": nan``: the first-order change needs only the gradient.

    Chapter 1, section "Measuring the increment against depth".
    """
    _check_model(model)
    _check_loss_fn(loss_fn)
    lrs = _check_lrs(lrs)
    eps = positive_float("eps", eps)
    ps = _params(model, params)
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    grads = torch.autograd.grad(loss, ps)
    base = float(loss.detach())
    grad_sq = float(sum((g.double() ** 2).sum() for g in grads))
    grad_l1 = float(sum(g.double().abs().sum() for g in grads))
    out: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        saved = [p.detach().clone() for p in ps] if actual else []
        for opt, lr in lrs.items():
            first = 0.0
            for p, g in zip(ps, grads, strict=True):
                step = _update(opt, p, g, float(lr), eps)
                first += float((g.double() * step.double()).sum())
                if actual:
                    p.add_(step)
            new = float(loss_fn(model, batch)) if actual else float("nan")
            if actual:
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
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    lr = positive_float("lr", lr)
    return one_step_increments(model, loss_fn, batch, {optimizer: lr}, params)[optimizer]


def gradient_norms(model: torch.nn.Module) -> dict[str, float]:
    """``||grad||`` of every parameter that has a gradient (after ``backward``).

    Chapter 1, section "Training without warmup".
    """
    _check_model(model)
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
    actual: bool = True,
) -> list[dict[str, object]]:
    """One-step increments of fresh encoders over schemes x depths x seeds (Chapter 1, Exp. A).

    Each record: ``scheme, N, seed, optimizer, lr, actual, first_order, loss,
    grad_sq, grad_l1, matrices`` (the number of branch matrices, ``6N``).  One
    gradient per model, three updates (:func:`one_step_increments`; with
    ``actual=False`` only the first-order change is computed).  ``lrs``
    defaults to :data:`DEFAULT_LRS`, divided by 10 for the plain stacks.
    The task is :func:`deepnotes.tasks.reversal_batch`; only branch weights move.
    """
    from deepnotes.blocks import SCHEMES, DeepNarrowEncoder
    from deepnotes.tasks import reversal_batch, token_loss

    schemes = nonempty_list("schemes", schemes)
    for s in schemes:
        if not isinstance(s, str) or s not in SCHEMES:
            raise ValueError(f"schemes must be taken from {SCHEMES}, got {s!r}")
    depths = nonempty_list("depths", depths)
    try:
        depths = [positive_int("depths", n) for n in depths]
    except ValueError:
        raise ValueError(f"depths must be positive integers, got {list(depths)!r}") from None
    seeds = [_seed("seeds", s) for s in nonempty_list("seeds", seeds)]
    base = dict(DEFAULT_LRS if lrs is None else _check_lrs(lrs))
    for name, value in (("d", d), ("vocab", vocab), ("seq_len", seq_len), ("batch", batch)):
        positive_int(name, value)
    if vocab < 2:
        raise ValueError(f"vocab must be an integer >= 2, got {vocab!r}")
    if d % positive_int("heads", heads):
        raise ValueError(f"heads must divide d, got d={d}, heads={heads}")
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
                res = one_step_increments(model, token_loss, data, these, actual=actual)
                count = len(list(model.branch_parameters()))
                for opt, r in res.items():
                    records.append(
                        dict(
                            scheme=scheme,
                            N=n,
                            seed=int(seed),
                            optimizer=opt,
                            lr=these[opt],
                            matrices=count,
                            **r,
                        )
                    )
    return records


def _seed(name: str, value) -> int:
    try:
        seed = integral(name, value)
    except ValueError:
        seed = -1
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return seed


_RECORD_KEYS = ("scheme", "optimizer", "N", "seed", "lr")


def _check_records(records, key: str) -> list:
    if not isinstance(key, str) or key not in ("actual", "first_order"):
        raise ValueError(f"key must be 'actual' or 'first_order', got {key!r}")
    records = nonempty_list("records", records)
    for r in records:
        if not isinstance(r, Mapping) or any(k not in r for k in (*_RECORD_KEYS, key)):
            raise ValueError(
                f"records must be dicts with keys {(*_RECORD_KEYS, key)} (see increment_sweep), "
                f"got {r!r}"
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

    records = _check_records(records, key)
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

    warmup = _seed("warmup", warmup)
    seed = _seed("seed", seed)
    probe_every = positive_int("probe_every", probe_every)
    positive_int("steps", steps)
    lr = positive_float("lr", lr)
    for name, value in (("d", d), ("seq_len", seq_len), ("batch", batch)):
        positive_int(name, value)
    if d % 4:  # DeepNarrowEncoder's default of 4 heads
        raise ValueError(f"d must be a multiple of 4 (the encoder's 4 heads), got {d!r}")
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


def _run_job(job: tuple[Callable[..., object], Mapping[str, object]]) -> object:
    fn, kwargs = job
    torch.set_num_threads(1)
    return fn(**kwargs)


class Jobs:
    """Jobs started by :func:`start_jobs`; :meth:`get` waits and returns their results in order."""

    def __init__(self, jobs: list, pool=None, pending=None):
        self._jobs, self._pool, self._pending = jobs, pool, pending
        self._results: list[object] | None = None

    def get(self) -> list[object]:
        """The results, ``[fn(**kwargs) for fn, kwargs in jobs]`` (waits for the workers)."""
        if self._results is None:
            if self._pool is None:
                self._results = [_run_job(job) for job in self._jobs]
            else:
                try:
                    self._results = self._pending.get()
                finally:
                    self._pool.close()
                    self._pool.join()
        return self._results


def _check_jobs(jobs, workers) -> tuple[list, int]:
    workers = positive_int("workers", workers)
    jobs = nonempty_list("jobs", jobs)
    for job in jobs:
        if not (
            isinstance(job, tuple)
            and len(job) == 2
            and callable(job[0])
            and isinstance(job[1], Mapping)
        ):
            raise ValueError(f"jobs must be (function, kwargs) pairs, got {job!r}")
    return jobs, workers


def start_jobs(
    jobs: Sequence[tuple[Callable[..., object], Mapping[str, object]]], workers: int = 1
) -> Jobs:
    """Start ``fn(**kwargs)`` for each job in ``workers`` background processes.

    Each job runs single-threaded and is seeded by its own arguments, so the
    results do not depend on ``workers`` or on which process ran a job.  With
    ``workers > 1`` the jobs go to forked worker processes (Linux; where
    forking is unavailable, or with ``workers=1``, they run when
    :meth:`Jobs.get` is called); ``fn`` must be a module-level function.
    Order the jobs longest first for the best balance.  Chapter 1 uses it to
    fill both cores of a 2-core machine while the notebook goes on.
    """
    jobs, workers = _check_jobs(jobs, workers)
    import multiprocessing as mp

    if workers == 1 or len(jobs) < 2 or "fork" not in mp.get_all_start_methods():
        return Jobs(jobs)
    pool = mp.get_context("fork").Pool(min(workers, len(jobs)))
    return Jobs(jobs, pool, pool.map_async(_run_job, jobs, chunksize=1))


def run_jobs(
    jobs: Sequence[tuple[Callable[..., object], Mapping[str, object]]], workers: int = 1
) -> list[object]:
    """``[fn(**kwargs) for fn, kwargs in jobs]`` over ``workers`` processes (:func:`start_jobs`)."""
    return start_jobs(jobs, workers).get()


def seed_slopes(
    records: Sequence[Mapping[str, object]], key: str = "first_order"
) -> dict[tuple[str, str], object]:
    """The slope of ``|key| / lr`` against ``N`` fitted separately for each seed.

    Returns ``{(scheme, optimizer): numpy array of slopes, one per seed}``:
    their spread is the seed-to-seed uncertainty of :func:`slope_table`.

    Chapter 1, section "Measuring the increment against depth".
    """
    import numpy as np

    records = _check_records(records, key)
    by_seed: dict[object, list] = {}
    for r in records:
        by_seed.setdefault(r["seed"], []).append(r)
    fits = [slope_table(rs, key) for _, rs in sorted(by_seed.items())]
    return {k: np.array([f[k].slope for f in fits]) for k in fits[0]}
