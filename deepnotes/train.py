"""A small training loop with a progress bar and a returned history."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice

import torch
from tqdm.auto import tqdm

__all__ = ["train"]

StepFn = Callable[[torch.nn.Module, object], torch.Tensor]
Callback = Callable[[int, torch.nn.Module], dict[str, float] | None]


def train(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: StepFn,
    batches: Iterable,
    steps: int,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    callback: Callback | None = None,
    progress: bool = True,
    desc: str = "train",
) -> dict[str, list[float]]:
    """Run ``steps`` optimizer steps and return the history as lists of floats.

    Each step: ``loss = loss_fn(model, batch)``; ``loss.backward()``;
    ``optimizer.step()``; ``scheduler.step()`` if given.  ``callback(step,
    model)`` runs after the gradient is computed and before the update (so it
    sees this step's gradients) and may return extra numbers to record.

    The history always has ``"step"``, ``"loss"`` and ``"lr"`` (the first
    param group's learning rate).  A non-finite loss stops training early and
    is recorded, so a divergence is visible rather than hidden.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function loss_fn(model, batch), got {loss_fn!r}")
    if callback is not None and not callable(callback):
        raise TypeError(
            f"callback must be a function callback(step, model) or None, got {callback!r}"
        )
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(
            f"scheduler must be a torch LR scheduler (with .step()) or None, got {scheduler!r}"
        )
    try:
        source: Iterator = iter(batches)
    except TypeError:
        raise TypeError(f"batches must be an iterable of batches, got {batches!r}") from None
    history: dict[str, list[float]] = {"step": [], "loss": [], "lr": []}
    model.train()
    bar = tqdm(islice(source, steps), total=steps, desc=desc, disable=not progress, leave=False)
    for step, batch in enumerate(bar):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)
        loss.backward()
        extra = callback(step, model) if callback is not None else None
        history["step"].append(step)
        history["loss"].append(float(loss.detach()))
        history["lr"].append(float(optimizer.param_groups[0]["lr"]))
        for key, value in (extra or {}).items():
            history.setdefault(key, []).append(float(value))
        if not torch.isfinite(loss):
            break
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if step % 10 == 0:
            bar.set_postfix(loss=f"{history['loss'][-1]:.4g}")
    if not history["step"]:
        raise ValueError("batches yielded no batch")
    return history
