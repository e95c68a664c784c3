"""Su's schedules (Chapter 3) as PyTorch LR schedulers usable with any optimizer.

The article's rule scales a tensor's learning rate and weight decay by the same factor
``D(t)``::

    alpha_t = alpha0 |eps_0| D(t) / |u_t|,     rho_t = alpha0^2 D(t) / (2 q)

with ``D(t) = (1 + kappa t)^-2`` for a constant convergence speed (eq. 12, ``kappa = alpha0 p``)
or ``D(t) = (1 + 2 kappa t)^-1`` when the speed falls like ``|eps_t|`` (eq. 13,
``kappa = alpha0 p0``).  A half-life ``T`` fixes ``kappa``: ``(sqrt 2 - 1)/T`` and ``1/(2T)``.

With AdamW the decay per step is ``lr * weight_decay``, so scheduling ``lr`` by ``D(t)``
with a constant ``weight_decay`` already scales ``rho_t`` by ``D(t)``, as the rule asks.
"""

from __future__ import annotations

import math

import torch

from deepnotes.checks import integral, one_of, positive_float, positive_int, real

__all__ = ["LAWS", "DecayLR", "adamw_hyperparameters", "decay_factor", "half_life_rate"]

LAWS = ("constant", "inverse_square", "inverse_time", "cosine", "linear")


def half_life_rate(law: str, half_life: float) -> float:
    """``kappa`` such that ``D(half_life) = 1/2``: ``(sqrt 2 - 1)/T`` or ``1/(2T)``."""
    half_life = positive_float("half_life", half_life)
    if law == "inverse_square":
        return (math.sqrt(2.0) - 1.0) / half_life
    if law == "inverse_time":
        return 1.0 / (2.0 * half_life)
    raise ValueError(f"law must be 'inverse_square' or 'inverse_time', got {law!r}")


def decay_factor(
    step: float, law: str, half_life: float | None = None, total_steps: int | None = None
) -> float:
    """The factor ``D(step)`` of a schedule law (``D(0) = 1``).

    * ``"constant"``: 1;
    * ``"inverse_square"``: ``(1 + kappa t)^-2``, ``kappa = (sqrt 2 - 1)/half_life`` (eq. 12);
    * ``"inverse_time"``: ``(1 + 2 kappa t)^-1 = (1 + t/half_life)^-1`` (eq. 13);
    * ``"cosine"``: ``(1 + cos(pi t / total_steps))/2``;
    * ``"linear"``: ``1 - t / total_steps`` (linear to zero).
    """
    one_of("law", law, LAWS)
    step = real("step", step, lo=0.0)
    # the arguments a law does not use are still checked: a bad one is a mistake either way
    if half_life is not None:
        half_life = positive_float("half_life", half_life)
    if total_steps is not None:
        total_steps = positive_int("total_steps", total_steps)
    if law == "constant":
        return 1.0
    if law in ("inverse_square", "inverse_time"):
        if half_life is None:
            raise ValueError(f"half_life is required for law={law!r}")
        kappa = half_life_rate(law, half_life)
        return (
            (1.0 + kappa * step) ** -2
            if law == "inverse_square"
            else 1.0 / (1.0 + 2.0 * kappa * step)
        )
    if total_steps is None or total_steps < 1:
        raise ValueError(f"total_steps must be a positive int for law={law!r}, got {total_steps!r}")
    frac = min(step / total_steps, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * frac)) if law == "cosine" else 1.0 - frac


class DecayLR(torch.optim.lr_scheduler.LRScheduler):
    """Multiply every group's initial ``lr`` by :func:`decay_factor` of the step count.

    Works with any optimizer (AdamW, SGD, :class:`deepnotes.optim.Amos`).  Example::

        opt = torch.optim.AdamW(model.parameters(), lr=4e-5, weight_decay=0.015)
        sched = DecayLR(opt, "inverse_time", half_life=10_000)
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        law: str,
        half_life: float | None = None,
        total_steps: int | None = None,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        decay_factor(0, law, half_life, total_steps)  # validate the arguments now
        if integral("last_epoch", last_epoch) < -1:
            raise ValueError(f"last_epoch must be -1 (a new run) or a step >= 0, got {last_epoch}")
        self.law, self.half_life, self.total_steps = law, half_life, total_steps
        super().__init__(optimizer, last_epoch)

    def factor(self, step: int) -> float:
        """``D(step)`` for this scheduler."""
        return decay_factor(step, self.law, self.half_life, self.total_steps)

    def get_lr(self) -> list[float]:
        d = self.factor(max(self.last_epoch, 0))
        return [base * d for base in self.base_lrs]


def adamw_hyperparameters(alpha0: float, sigma: float, q: float = 1.0) -> tuple[float, float]:
    """AdamW's ``(lr, weight_decay)`` from the article's rule for sign-like updates.

    ``lr = alpha0 sigma`` (``|u| = sqrt k``, ``|eps_0| = sqrt k sigma``) and
    ``weight_decay = rho / lr = alpha0 / (2 q sigma)``.  Chapter 3, "AdamW translation".
    """
    alpha0, sigma, q = (
        positive_float(n, v) for n, v in (("alpha0", alpha0), ("sigma", sigma), ("q", q))
    )
    return alpha0 * sigma, alpha0 / (2.0 * q * sigma)
