"""Chapter 6: the delayed-recall task, and the two models the chapter trains on it.

Input ``(batch, T, classes + 1)``: step 0 holds a one-hot class, steps ``1 .. T-2`` are zero,
step ``T-1`` holds a query flag in the last channel.  The target is the class, read at the last
step, so a model must carry ``log2(classes)`` bits across ``T - 2`` empty steps.  Chance accuracy
is ``1 / classes``.

* :class:`TanhRNN`: ``torch.nn.RNN`` (tanh) and a linear readout of the last hidden state;
* :class:`LRUClassifier`: a linear encoder, one pre-LN residual block
  ``x + MLP(GELU(LRU(LayerNorm(x))))`` and a linear readout of the last step;
* :func:`train_recall`: Adam with gradient clipping on fresh batches; returns the training
  curve and the accuracy on a held-out batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepnotes.checks import generator as check_generator
from deepnotes.checks import integral, positive_float, positive_int, tensor
from deepnotes.lru import LRU, METHODS

__all__ = [
    "MODELS",
    "LRUClassifier",
    "TanhRNN",
    "delayed_recall_batch",
    "make_model",
    "train_recall",
]

#: The LRU's recurrent parameters, trained at ``lr_factor`` times the learning rate.
_RECURRENT = ("nu_log", "theta_log", "gamma_log")

#: Model names :func:`make_model` and :func:`train_recall` accept.
MODELS = ("tanh-rnn", "lru")


def _check_seed(seed) -> int:
    seed = integral("seed", seed)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return seed


def _check_u(u, inputs: int) -> torch.Tensor:
    """``u`` a finite floating tensor ``(batch, T, inputs)``: a 2-D ``(T, inputs)`` would be
    read as a batch by the last-step readout, so it is refused."""
    u = tensor("u", u, ndim=3, shape=(None, None, inputs))
    if u.shape[1] < 1:
        raise ValueError("u must hold at least one time step")
    return u


def delayed_recall_batch(
    batch: int, T: int, classes: int = 4, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)``: a one-hot class at step 0, zeros, a query flag at step ``T - 1``.

    ``inputs`` is float32 of shape ``(batch, T, classes + 1)``, ``targets`` long of shape
    ``(batch,)``.  ``T >= 2``.  Chapter 6, "Long-range memory".
    """
    batch = positive_int("batch", batch)
    T = positive_int("T", T)
    classes = positive_int("classes", classes)
    if T < 2:
        raise ValueError(f"T must be at least 2 (a class step and a query step), got {T}")
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    check_generator("generator", generator)
    targets = torch.randint(0, classes, (batch,), generator=generator)
    inputs = torch.zeros(batch, T, classes + 1)
    inputs[torch.arange(batch), 0, targets] = 1.0
    inputs[:, T - 1, classes] = 1.0
    return inputs, targets


class TanhRNN(nn.Module):
    """``h_t = tanh(W_ih u_t + W_hh h_{t-1} + b)``, logits ``= W_o h_{T-1}``.  Chapter 6."""

    def __init__(self, inputs: int, hidden: int, classes: int):
        super().__init__()
        self.rnn = nn.RNN(
            positive_int("inputs", inputs), positive_int("hidden", hidden), batch_first=True
        )
        self.head = nn.Linear(hidden, positive_int("classes", classes))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        u = _check_u(u, self.rnn.input_size)
        h, _ = self.rnn(u)
        return self.head(h[:, -1])


class LRUClassifier(nn.Module):
    """Encoder, one pre-LN residual LRU block, readout of the last step.  Chapter 6.

    ``x = E u`` (no bias); ``x <- x + W_2 GELU(W_1 GELU(LRU(LayerNorm(x))))`` (a LayerNorm
    without affine parameters, so a zero step stays zero); logits ``= W_o x_{T-1}``.
    """

    def __init__(
        self,
        inputs: int,
        H: int,
        N: int,
        classes: int,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 6.28,
        *,
        method: str = "fft",
        seed: int = 0,
    ):
        super().__init__()
        H = positive_int("H", H)
        seed = _check_seed(seed)
        # no bias and no affine norm: an empty step stays exactly zero, so the state holds
        # only the class step's trace (a constant input would add a large DC term)
        self.encoder = nn.Linear(positive_int("inputs", inputs), H, bias=False)
        self.norm = nn.LayerNorm(H, elementwise_affine=False)
        self.lru = LRU(H, N, r_min, r_max, max_phase, method=method, rng=seed)
        self.mlp = nn.Sequential(nn.Linear(H, 2 * H), nn.GELU(), nn.Linear(2 * H, H))
        self.head = nn.Linear(H, positive_int("classes", classes))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        u = _check_u(u, self.encoder.in_features)
        x = self.encoder(u)
        y = self.lru(self.norm(x))[:, -1]  # the block is position-wise after the LRU:
        return self.head(x[:, -1] + self.mlp(F.gelu(y)))  # only the read-out step counts


def make_model(
    name: str, classes: int = 4, *, seed: int = 0, method: str = "fft", max_phase: float = 6.28
) -> nn.Module:
    """The chapter's two models: ``"tanh-rnn"`` (hidden 64) or ``"lru"`` (H = N = 32, ring
    0.9-0.999, phases in ``[0, max_phase]``), seeded with ``seed``.  Chapter 6, "Long-range
    memory"."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {MODELS}, got {name!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    classes = positive_int("classes", classes)
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    seed = _check_seed(seed)
    max_phase = positive_float("max_phase", max_phase)
    torch.manual_seed(seed)
    if name == "tanh-rnn":
        return TanhRNN(classes + 1, 64, classes)
    return LRUClassifier(
        classes + 1, 32, 32, classes, max_phase=max_phase, method=method, seed=seed
    )


def train_recall(
    name: str,
    T: int,
    *,
    steps: int = 200,
    lr: float = 1e-2,
    lr_factor: float = 0.5,
    max_phase: float = 6.28,
    batch: int = 32,
    classes: int = 4,
    clip: float = 1.0,
    eval_size: int = 512,
    stop_loss: float | None = 0.05,
    seed: int = 0,
) -> dict:
    """Train model ``name`` on delayed recall of length ``T``; returns the curve and test accuracy.

    Adam (``lr``; the LRU's ``nu_log, theta_log, gamma_log`` at ``lr * lr_factor``, as
    minimal-LRU does with 0.5), gradient norm clipped to ``clip``, a fresh batch per step from a generator
    seeded with ``seed``; training stops early once the mean loss of the last 5 steps is
    below ``stop_loss`` (``None``: never), so a solved run does not spend the whole budget.
    The accuracy is measured on ``eval_size`` held-out sequences.
    Returns ``{"model", "T", "seed", "loss": [...], "steps", "accuracy", "final_loss"}``.
    Chapter 6, "Long-range memory".
    """
    T = positive_int("T", T)
    if T < 2:
        raise ValueError(f"T must be at least 2 (a class step and a query step), got {T}")
    steps = positive_int("steps", steps)
    lr = positive_float("lr", lr)
    clip = positive_float("clip", clip)
    eval_size = positive_int("eval_size", eval_size)
    if stop_loss is not None:
        stop_loss = positive_float("stop_loss", stop_loss)
    lr_factor = positive_float("lr_factor", lr_factor)
    batch = positive_int("batch", batch)
    model = make_model(name, classes, seed=seed, max_phase=max_phase)
    recurrent = [p for n, p in model.named_parameters() if n.split(".")[-1] in _RECURRENT]
    others = [p for n, p in model.named_parameters() if n.split(".")[-1] not in _RECURRENT]
    groups = [{"params": others}]
    if recurrent:
        groups.append({"params": recurrent, "lr": lr * lr_factor})
    opt = torch.optim.Adam(groups, lr=lr)
    gen = torch.Generator().manual_seed(10_000 + seed)
    losses = []
    for _ in range(steps):
        u, y = delayed_recall_batch(batch, T, classes, gen)
        loss = F.cross_entropy(model(u), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(loss.item())
        if stop_loss is not None and len(losses) >= 5 and sum(losses[-5:]) / 5 < stop_loss:
            break
    test_gen = torch.Generator().manual_seed(99_999)
    u, y = delayed_recall_batch(eval_size, T, classes, test_gen)
    with torch.no_grad():
        logits = model(u)
        accuracy = float((logits.argmax(-1) == y).float().mean())
        final = float(F.cross_entropy(logits, y))
    return {
        "model": name,
        "T": T,
        "seed": seed,
        "loss": losses,
        "steps": len(losses),
        "accuracy": accuracy,
        "final_loss": final,
    }
