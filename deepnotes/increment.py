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

from collections.abc import Callable, Iterable, Mapping

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
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    return one_step_increments(model, loss_fn, batch, {optimizer: lr}, params)[optimizer]


def gradient_norms(model: torch.nn.Module) -> dict[str, float]:
    """``||grad||`` of every parameter that has a gradient (after ``backward``)."""
    return {n: float(p.grad.norm()) for n, p in model.named_parameters() if p.grad is not None}


def bottom_gradient_norm(model: torch.nn.Module) -> float:
    """``||grad||`` of the first FFN's ``fc1`` weight: the bottom of the stack.

    Expects a :class:`deepnotes.blocks.DeepNarrowEncoder` after ``backward``.
    """
    for block in getattr(model, "blocks", []):
        if getattr(block, "kind", None) == "ffn":
            g = block.branch.fc1.weight.grad
            if g is None:
                raise ValueError("model has no gradient yet: call backward first")
            return float(g.norm())
    raise ValueError("model has no FFN block with an fc1 weight")
