"""Length extrapolation of small byte-level LMs (chapter 8: KeyNorm).

Train a :class:`deepnotes.lm.TransformerLM` with RoPE and one attention
variant of :mod:`deepnotes.attention` at a short length, evaluate it on longer
fixed validation windows without any change to the model, and read out the
instruments of the chapter: loss by position and by evaluation length, key
norms, query-key cosines and attention entropy per row.

The article's own results (Su, 2023-11-20, spaces.ac.cn/archives/9859) are
kept as data in :data:`ARTICLE_TABLE1` and :data:`ARTICLE_TABLE2` (per-token
accuracy in %, columns: 512 = training length, 4096 repeated, 4096 not
repeated), cited rather than re-measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from deepnotes.attention import VARIANTS, normalize, rope
from deepnotes.checks import boolean, integral, positive_float, positive_int
from deepnotes.data import byte_batches
from deepnotes.lm import LMConfig, TransformerLM

__all__ = [
    "ARTICLE_COLUMNS",
    "ARTICLE_TABLE1",
    "ARTICLE_TABLE2",
    "AttentionStats",
    "RunConfig",
    "attention_stats",
    "cosine_lambda",
    "eval_windows",
    "loss_by_length",
    "loss_by_position",
    "repeated_windows",
    "train_variant",
]

_COLUMNS = ("512", "4096 repeated", "4096 non-repeated")
#: Table 1 of the article: variant -> accuracy (%) at (512, 4096 repeated, 4096 non-repeated).
ARTICLE_TABLE1 = {
    "Baseline": (49.41, 24.17, 23.16),
    "Baseline-log n": (49.40, 24.60, 24.02),
    "QNA": (49.55, 22.45, 22.18),
    "QNA-log n": (49.42, 19.55, 18.74),
    "KNA": (49.60, 61.08, 47.69),
    "KNA-log n": (49.58, 63.17, 46.40),
    "CosA": (49.73, 58.90, 46.98),
    "CosA-log n": (49.67, 64.74, 48.95),
}
#: Table 2 of the article (RoPE extrapolation tricks stacked on each variant).  Its CosA-log n row
#: reads 48.39 in the last column where table 1 has 48.95: the inconsistency is the article's.
ARTICLE_TABLE2 = {
    "Baseline": (49.41, 24.17, 23.16),
    "Baseline-NTK": (49.41, 60.57, 42.20),
    "Baseline-YaRN": (49.41, 80.10, 47.45),
    "Baseline-ReRoPE": (49.41, 76.11, 47.82),
    "Baseline-log n": (49.40, 24.60, 24.02),
    "Baseline-log n-NTK": (49.40, 75.86, 47.06),
    "Baseline-log n-YaRN": (49.40, 82.57, 46.52),
    "Baseline-log n-ReRoPE": (49.40, 85.47, 48.87),
    "QNA": (49.55, 22.45, 22.18),
    "QNA-NTK": (49.55, 52.28, 39.88),
    "QNA-YaRN": (49.55, 82.53, 47.50),
    "QNA-ReRoPE": (49.55, 78.22, 47.72),
    "QNA-log n": (49.42, 19.55, 18.74),
    "QNA-log n-NTK": (49.42, 57.44, 41.56),
    "QNA-log n-YaRN": (49.42, 80.08, 45.16),
    "QNA-log n-ReRoPE": (49.42, 84.71, 48.31),
    "KNA": (49.60, 61.08, 47.69),
    "KNA-NTK": (49.60, 64.44, 43.02),
    "KNA-YaRN": (49.60, 84.19, 47.44),
    "KNA-ReRoPE": (49.60, 77.76, 47.73),
    "KNA-log n": (49.58, 63.17, 46.40),
    "KNA-log n-NTK": (49.58, 79.05, 47.43),
    "KNA-log n-YaRN": (49.58, 83.95, 47.16),
    "KNA-log n-ReRoPE": (49.58, 85.48, 48.78),
    "CosA": (49.73, 58.90, 46.98),
    "CosA-NTK": (49.73, 62.50, 42.77),
    "CosA-YaRN": (49.73, 83.40, 47.80),
    "CosA-ReRoPE": (49.73, 77.82, 47.80),
    "CosA-log n": (49.67, 64.74, 48.39),
    "CosA-log n-NTK": (49.67, 78.97, 47.46),
    "CosA-log n-YaRN": (49.67, 82.28, 45.72),
    "CosA-log n-ReRoPE": (49.67, 85.67, 48.39),
}
ARTICLE_COLUMNS = _COLUMNS


def cosine_lambda(train_length: int, factor: float = 4.0) -> float:
    """The cosine variant's fixed scale ``lambda = factor * ln(train_length / 2)`` (the article's
    ``4 log n`` with ``n`` half the training length)."""
    train_length = positive_int("train_length", train_length)
    if train_length < 3:
        raise ValueError(f"train_length must be at least 3 (ln(n/2) > 0), got {train_length}")
    return positive_float("factor", factor) * math.log(train_length / 2)


@dataclass(frozen=True)
class RunConfig:
    """One training run: model size, training length and optimiser (AdamW, one-cycle schedule)."""

    variant: str = "baseline"
    seed: int = 0
    steps: int = 240
    length: int = 64
    batch: int = 16
    lr: float = 5e-3
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 2
    use_rope: bool = True

    def __post_init__(self):
        if not isinstance(self.variant, str) or self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        boolean("use_rope", self.use_rope)
        for name in ("steps", "length", "batch", "d_model", "n_layers", "n_heads"):
            positive_int(name, getattr(self, name))
        positive_float("lr", self.lr)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    @property
    def scale(self) -> float | None:
        """The logit scale: the variant's default, or ``4 ln(length / 2)`` for ``"cosine"``."""
        return cosine_lambda(self.length) if self.variant == "cosine" else None


def train_variant(train_tokens: torch.Tensor, config: RunConfig) -> tuple[TransformerLM, list]:
    """Train one byte-level LM (vocabulary 256) on random windows of ``config.length`` bytes.

    Next-byte cross-entropy, AdamW (weight decay 0.01), one-cycle learning
    rate (10% warm-up), gradient clipping at 1.  Returns the model (in eval
    mode) and the training losses.  Seeded by ``config.seed`` (weights and
    batches), so a run is reproducible.
    """
    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be a RunConfig, got {type(config).__name__}")
    _check_ids("train_tokens", train_tokens, 1)
    if train_tokens.numel() < config.length + 1:
        raise ValueError(
            f"train_tokens must hold more than config.length = {config.length} tokens, got "
            f"{train_tokens.numel()}"
        )
    torch.manual_seed(config.seed)
    model = TransformerLM(
        LMConfig(
            vocab=256,
            d_model=config.d_model,
            n_layers=config.n_layers,
            n_heads=config.n_heads,
            variant=config.variant,
            scale=config.scale,
            use_rope=config.use_rope,
        )
    )
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, config.lr, total_steps=config.steps, pct_start=0.1
    )
    gen = torch.Generator().manual_seed(config.seed)
    batches = byte_batches(train_tokens, config.batch, config.length, generator=gen)
    losses = []
    model.train()
    for _ in range(config.steps):
        x, y = next(batches)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return model.eval(), losses


def _real_vector(name: str, value) -> np.ndarray:
    """``value`` as a finite float64 vector (a sequence, array or tensor of real numbers)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    try:
        kind = np.asarray(value).dtype.kind
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a vector of real numbers, got {value!r}") from None
    if kind not in "iuf" or arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty finite vector of real numbers, got {value!r}")
    return arr


def _check_ids(name: str, tokens, ndim: int, vocab: int = 256) -> None:
    """``tokens``: an integer tensor of token ids (``0 .. vocab-1``) with ``ndim`` axes."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != ndim:
        shape = "1-D" if ndim == 1 else "(count, length)"
        raise ValueError(f"{name} must be a {shape} tensor of token ids")
    if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of token ids, got dtype {tokens.dtype}")
    if (
        tokens.numel()
        and tokens.device.type != "meta"
        and not (0 <= int(tokens.min()) and int(tokens.max()) < vocab)
    ):
        raise ValueError(
            f"{name} must hold ids 0 .. {vocab - 1}, got {int(tokens.min())} .. {int(tokens.max())}"
        )


def eval_windows(tokens: torch.Tensor, length: int, count: int = 16, seed: int = 999):
    """``count`` fixed windows of ``length + 1`` tokens (inputs and next-token targets), drawn with
    a generator seeded by ``seed``, the same for every variant."""
    length = positive_int("length", length)
    count = positive_int("count", count)
    seed = integral("seed", seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    _check_ids("tokens", tokens, 1)
    if tokens.numel() < length + 2:
        raise ValueError(f"length = {length} needs more than {length + 1} tokens")
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, tokens.numel() - length - 1, (count,), generator=gen)
    return tokens[starts[:, None] + torch.arange(length + 1)]


def repeated_windows(windows: torch.Tensor, half: int) -> torch.Tensor:
    """The article's "repeated" test: the first ``half`` tokens of each window written twice (plus
    one token, so targets exist), so the second copy can be copied from the first."""
    half = positive_int("half", half)
    if not isinstance(windows, torch.Tensor) or windows.dim() != 2 or windows.shape[1] < half:
        raise ValueError(f"windows must be (count, >= half = {half}) token ids")
    _check_ids("windows", windows, 2)
    chunk = windows[:, :half]
    return torch.cat([chunk, chunk, chunk[:, :1]], dim=1)


@torch.no_grad()
def loss_by_position(model: TransformerLM, windows: torch.Tensor) -> np.ndarray:
    """Next-token loss (nats) at each position, averaged over the windows: ``(length,)``."""
    if not isinstance(model, TransformerLM):
        raise TypeError(f"model must be a TransformerLM, got {type(model).__name__}")
    if not isinstance(windows, torch.Tensor) or windows.dim() != 2 or windows.shape[1] < 2:
        raise ValueError("windows must be a (count, length + 1) tensor of token ids")
    _check_ids("windows", windows, 2, model.config.vocab)
    logits = model(windows[:, :-1])
    loss = F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")
    return loss.mean(0).double().numpy()


def loss_by_length(per_position, train_length: int, multipliers=(1, 2, 4, 8)) -> np.ndarray:
    """Mean loss over the first ``m * train_length`` positions for each ``m`` in ``multipliers``."""
    train_length = positive_int("train_length", train_length)
    per_position = _real_vector("per_position", per_position)
    ms = _real_vector("multipliers", multipliers)
    if not np.all(ms >= 1):
        raise ValueError(
            f"multipliers must be evaluation lengths of at least 1x, got {multipliers}"
        )
    ends = np.round(ms * train_length).astype(int)
    if np.any(ends > per_position.size):
        raise ValueError(
            f"multipliers x train_length reach {ends.max()} positions but per_position has "
            f"{per_position.size}"
        )
    return np.array([per_position[:e].mean() for e in ends])


@dataclass
class AttentionStats:
    """Per layer (lists of arrays) for one batch of windows: key norms ``||k_j||`` after RoPE,
    query norms, cosines ``cos(q_i, k_j)`` over the causal pairs and each row's attention entropy
    (averaged over windows and heads, by query position) with its half-range ``a`` of the logits."""

    key_norms: list
    query_norms: list
    cosines: list
    entropy: list
    half_range: list
    bound_slack: list  # per layer: min over rows of H_i - log(1 + (n_i - 1) exp(-2 a_i))
    cs_excess: list  # per layer: max over rows of a_i - scale ||q'_i|| max_j ||k'_j|| (<= 0)


@torch.no_grad()
def attention_stats(model: TransformerLM, tokens: torch.Tensor, max_pairs: int = 20000):
    """Recompute each layer's queries, keys and attention weights on ``tokens`` ``(batch, n)``.

    ``half_range`` is, per row, the largest ``|logit|`` over its keys
    (averaged like the entropy); the entropy lower bound of chapter 8 takes
    ``a`` = that value.  Cosines are subsampled to ``max_pairs`` values.
    """
    if not isinstance(model, TransformerLM):
        raise ValueError(f"model must be a TransformerLM, got {type(model).__name__}")
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        raise ValueError("tokens must be a (batch, n) tensor of token ids")
    _check_ids("tokens", tokens, 2, model.config.vocab)
    max_pairs = positive_int("max_pairs", max_pairs)
    inputs = []
    hooks = [
        b.attn.register_forward_hook(lambda m, i, o: inputs.append(i[0])) for b in model.blocks
    ]
    try:
        model(tokens)
    finally:
        for h in hooks:
            h.remove()
    cfg, out = model.config, AttentionStats([], [], [], [], [], [], [])
    gen = torch.Generator().manual_seed(0)
    for block, x in zip(model.blocks, inputs, strict=True):
        b, n, d = x.shape
        dh = d // cfg.n_heads
        q, k, _ = block.attn.qkv(x).view(b, n, 3, cfg.n_heads, dh).permute(2, 0, 3, 1, 4)
        if cfg.use_rope:
            q, k = rope(q), rope(k)
        qn, kn = normalize(q), normalize(k)
        qq = qn if cfg.variant in ("querynorm", "cosine") else q
        kk = kn if cfg.variant in ("keynorm", "cosine") else k
        scale = (
            cfg.scale if cfg.scale is not None else (dh**-0.5 if cfg.variant == "baseline" else 1.0)
        )
        logits = scale * qq @ kk.transpose(-1, -2)
        mask = torch.ones(n, n, dtype=torch.bool).tril()
        p = torch.softmax(logits.masked_fill(~mask, float("-inf")), -1)
        ent = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)
        half = logits.masked_fill(~mask, 0.0).abs().amax(-1)
        keys = torch.arange(1, n + 1, dtype=logits.dtype)
        bound = torch.log1p((keys - 1) * torch.exp(-2 * half))
        kmax = torch.cummax(kk.norm(dim=-1), dim=-1).values
        cs = half - scale * qq.norm(dim=-1) * kmax
        cos = (qn @ kn.transpose(-1, -2))[..., mask]
        pick = torch.randint(0, cos.numel(), (min(max_pairs, cos.numel()),), generator=gen)
        out.key_norms.append(k.norm(dim=-1).flatten().numpy())
        out.query_norms.append(q.norm(dim=-1).flatten().numpy())
        out.cosines.append(cos.flatten()[pick].numpy())
        out.entropy.append(ent.mean((0, 1)).double().numpy())
        out.half_range.append(half.mean((0, 1)).double().numpy())
        out.bound_slack.append(float((ent - bound).min()))
        out.cs_excess.append(float(cs.max()))
    return out
