"""Synthetic token tasks for the deep-narrow Transformer experiments (Chapters 1 and 2).

* :func:`reversal_batch`: random tokens, target = the sequence reversed (a fixed
  loss for one-step increment measurements).
* :func:`permutation_task`: an endless batch generator for ``y_t = pi(x_t)``
  with a fixed random permutation ``pi`` of the vocabulary; chance level is
  ``ln(vocab - 1)`` (tokens are drawn from ``1..vocab-1``).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from deepnotes.checks import generator as _generator
from deepnotes.checks import positive_int as _positive_int

__all__ = ["reversal_batch", "permutation_task", "token_loss"]


def reversal_batch(
    batch: int, seq_len: int, vocab: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens, targets)`` with ``targets = tokens.flip(1)``; tokens uniform in ``0..vocab-1``.

    Chapter 1, section "Measuring the increment against depth".
    """
    _positive_int("batch", batch)
    _positive_int("seq_len", seq_len)
    if isinstance(vocab, bool) or not isinstance(vocab, int) or vocab < 2:
        raise ValueError(f"vocab must be an int >= 2, got {vocab!r}")
    _generator("generator", generator)
    x = torch.randint(0, vocab, (batch, seq_len), generator=generator)
    return x, x.flip(1)


def permutation_task(
    batch: int, seq_len: int, vocab: int, generator: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(tokens, targets)`` batches of ``y_t = pi(x_t)`` for one fixed permutation ``pi``.

    ``pi`` permutes ``1..vocab-1`` (token 0 unused), drawn once from ``generator``.

    Chapter 1, section "Training without warmup".
    """
    _positive_int("batch", batch)
    _positive_int("seq_len", seq_len)
    if isinstance(vocab, bool) or not isinstance(vocab, int) or vocab < 3:
        raise ValueError(f"vocab must be an int >= 3, got {vocab!r}")
    _generator("generator", generator)
    # Checked here, at the call; the batches come from an inner generator, so a bad
    # argument fails now rather than at the first next().
    return _permutation_batches(batch, seq_len, vocab, generator)


def _permutation_batches(batch, seq_len, vocab, generator):
    perm = torch.cat(
        [torch.zeros(1, dtype=torch.long), 1 + torch.randperm(vocab - 1, generator=generator)]
    )
    while True:
        x = torch.randint(1, vocab, (batch, seq_len), generator=generator)
        yield x, perm[x]


def token_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy of ``model(tokens)`` logits against ``targets``.

    Chapter 1, section "Measuring the increment against depth".
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise ValueError(f"batch must be a (tokens, targets) pair, got {batch!r}")
    x, y = batch
    for name, t in (("batch tokens", x), ("batch targets", y)):
        if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer tensor, got {t!r}")
    if x.shape != y.shape:
        raise ValueError(
            f"batch tokens and targets must have the same shape, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    logits = model(x)
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= logits.shape[-1]):
        raise ValueError(
            f"batch targets must lie in 0..{logits.shape[-1] - 1}, got "
            f"{int(y.min())}..{int(y.max())}"
        )
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
