"""A small configurable Transformer language model (chapters 7 and 8).

Pre-LN blocks ``x + Attn(LN x)``, ``x + MLP(LN x)``, byte-level by default.
The attention is one of

* ``"dense"``: :func:`deepnotes.attention.attention` with its variant flags
  (baseline, KeyNorm, QueryNorm, cosine; RoPE optional) and an optional
  learned window bias;
* ``"vq"``: Transformer-VQ (:mod:`deepnotes.vq`): keys quantised against a
  per-head EMA codebook with straight-through gradients, attention by the
  linear-time block recurrence with the learned window bias, and a
  commitment loss ``beta * mean ||k - sg(c_z)||**2`` collected in
  :attr:`TransformerLM.aux_loss`.

With ``qk_rmsnorm`` (the official Transformer-VQ design) queries and keys are
RMS-normalised without gain before the logits, which are then
``q.k / sqrt(d)``, a bounded, cosine-like score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deepnotes import vq as vqlib
from deepnotes.attention import VARIANTS, attention
from deepnotes.checks import boolean, positive_float, positive_int, real
from deepnotes.checks import tensor as _check_tensor

__all__ = ["LMConfig", "SelfAttention", "TransformerLM", "lm_loss"]

ATTENTIONS = ("dense", "vq")


@dataclass(frozen=True)
class LMConfig:
    """The knobs of :class:`TransformerLM` (checked on construction)."""

    vocab: int = 256
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 2
    d_ff: int | None = None  # 4 d_model when None
    attention: str = "dense"
    variant: str = "baseline"  # dense only (chapter 8's flags)
    scale: float | None = None  # dense only; None: the variant's default
    use_rope: bool = False  # dense only: RoPE does not commute with quantisation
    qk_rmsnorm: bool = False
    window_bias: bool = False  # learned Toeplitz bias b(0..block_len-1), per head
    block_len: int = 32
    n_code: int = 32
    gamma: float = 0.99
    commit_beta: float = 1e-4
    cache_grad: bool = False

    def __post_init__(self):
        for name in ("vocab", "d_model", "n_layers", "n_heads", "block_len", "n_code"):
            positive_int(name, getattr(self, name))
        if self.d_ff is not None:
            positive_int("d_ff", self.d_ff)
        if not isinstance(self.attention, str) or self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if not isinstance(self.variant, str) or self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        for name in ("use_rope", "qk_rmsnorm", "window_bias", "cache_grad"):
            boolean(name, getattr(self, name))
        if self.scale is not None:
            positive_float("scale", self.scale)
        elif self.variant == "cosine":
            raise ValueError(
                "variant='cosine' needs an explicit scale (lambda); there is no default"
            )
        if real("gamma", self.gamma, 0.0, 1.0) == 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma!r}")
        real("commit_beta", self.commit_beta, 0.0)
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads = {self.n_heads} must divide d_model = {self.d_model}")
        if self.attention == "vq" and (self.variant != "baseline" or self.use_rope):
            raise ValueError("attention='vq' takes variant='baseline' and use_rope=False")
        if self.use_rope and (self.d_model // self.n_heads) % 2:
            raise ValueError("use_rope needs an even head dimension d_model / n_heads")


def _rms(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class SelfAttention(torch.nn.Module):
    """Multi-head causal self-attention, dense or Transformer-VQ (see the module docstring)."""

    def __init__(self, config: LMConfig):
        super().__init__()
        if not isinstance(config, LMConfig):
            raise TypeError(f"config must be an LMConfig, got {type(config).__name__}")
        self.config = config
        d, h = config.d_model, config.n_heads
        self.d_head = d // h
        self.qkv = torch.nn.Linear(d, 3 * d, bias=False)
        self.out = torch.nn.Linear(d, d, bias=False)
        self.bias = (
            torch.nn.Parameter(torch.zeros(h, config.block_len)) if config.window_bias else None
        )
        self.codebook = (
            vqlib.EMACodebook(config.n_code, self.d_head, heads=h, gamma=config.gamma)
            if config.attention == "vq"
            else None
        )
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool), persistent=True)
        self.aux_loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        _check_tensor("x", x, ndim=3, shape=(cfg.d_model,))
        b, n, d = x.shape
        if cfg.attention == "vq" and n % cfg.block_len:
            raise ValueError(
                f"x must have a length n that block_len = {cfg.block_len} divides, got {n}"
            )
        q, k, v = self.qkv(x).view(b, n, 3, cfg.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        if cfg.qk_rmsnorm:
            q, k = _rms(q), _rms(k)
        if cfg.attention == "dense":
            out = self._dense(q, k, v, n)
        else:
            out = self._vq(q, k, v, n)
        return self.out(out.transpose(1, 2).reshape(b, n, d))

    def _dense(self, q, k, v, n):
        cfg = self.config
        bias = None
        if self.bias is not None:
            bias = torch.stack([vqlib.window_bias_matrix(b, n) for b in self.bias])
        scale = cfg.scale
        if cfg.qk_rmsnorm and scale is None and cfg.variant == "baseline":
            scale = 1.0 / math.sqrt(self.d_head)
        self.aux_loss = q.new_zeros(())
        return attention(
            q, k, v, variant=cfg.variant, scale=scale, bias=bias, use_rope=cfg.use_rope
        )

    def _vq(self, q, k, v, n):
        cfg = self.config
        if n % cfg.block_len:
            raise ValueError(
                f"the sequence length {n} must be a multiple of block_len = {cfg.block_len}"
            )
        if self.training and not bool(self.initialized):
            self.codebook.initialize(k.detach())  # k-means on the first batch
            self.initialized.fill_(True)
        codebook = self.codebook.codebook  # fixed for this forward (the update follows)
        z, k_hat, errors2 = vqlib.quantize(k, codebook)
        self.aux_loss = cfg.commit_beta * errors2.sum(1).mean()  # summed over heads
        if self.training:
            self.codebook.update(k, z)
        outs = []
        for head in range(cfg.n_heads):
            outs.append(
                vqlib.vq_attention(
                    q[:, head] / math.sqrt(self.d_head),
                    k_hat[:, head],
                    z[:, head],
                    v[:, head],
                    codebook[head],
                    cfg.block_len,
                    bias=None if self.bias is None else self.bias[head],
                    cache_grad=cfg.cache_grad,
                )
            )
        return torch.stack(outs, dim=1)


class _Block(torch.nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        d = config.d_model
        self.ln1 = torch.nn.LayerNorm(d)
        self.attn = SelfAttention(config)
        self.ln2 = torch.nn.LayerNorm(d)
        d_ff = config.d_ff or 4 * d
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(d, d_ff), torch.nn.GELU(), torch.nn.Linear(d_ff, d)
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TransformerLM(torch.nn.Module):
    """Token embedding, ``n_layers`` pre-LN blocks, a final LayerNorm and a tied output layer.

    No absolute position embedding: position enters through RoPE or the
    window bias (or, with neither, only through the causal mask).
    ``forward(tokens)`` returns logits ``(batch, n, vocab)``; after it,
    :attr:`aux_loss` holds the summed VQ commitment losses (zero when dense).
    """

    def __init__(self, config: LMConfig | None = None, **overrides):
        super().__init__()
        if config is not None and not isinstance(config, LMConfig):
            raise TypeError(f"config must be an LMConfig or None, got {type(config).__name__}")
        config = config or LMConfig()
        if overrides:
            config = LMConfig(**{**config.__dict__, **overrides})
        self.config = config
        self.embed = torch.nn.Embedding(config.vocab, config.d_model)
        torch.nn.init.normal_(self.embed.weight, std=config.d_model**-0.5)
        self.blocks = torch.nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.ln_f = torch.nn.LayerNorm(config.d_model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _check_tokens("tokens", tokens, self.config)
        x = self.embed(tokens) * self.config.d_model**0.5
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.embed.weight.T

    @property
    def aux_loss(self) -> torch.Tensor:
        return sum((b.attn.aux_loss for b in self.blocks), torch.zeros(()))


def _check_tokens(name: str, tokens, config: LMConfig) -> None:
    """``tokens``: a ``(batch, n)`` integer tensor of ids in ``0 .. vocab-1`` (``n`` a multiple of
    ``block_len`` for Transformer-VQ)."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        raise ValueError(f"{name} must be a (batch, n) tensor of token ids")
    if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of token ids, got dtype {tokens.dtype}")
    if (
        tokens.numel()
        and tokens.device.type != "meta"
        and not (0 <= int(tokens.min()) and int(tokens.max()) < config.vocab)
    ):
        raise ValueError(
            f"{name} must hold ids in 0 .. {config.vocab - 1}, got "
            f"{int(tokens.min())} .. {int(tokens.max())}"
        )
    if config.attention == "vq" and tokens.shape[1] % config.block_len:
        raise ValueError(
            f"{name} must have a length that block_len = {config.block_len} divides, got "
            f"{tokens.shape[1]}"
        )


def lm_loss(model: TransformerLM, batch) -> torch.Tensor:
    """Next-token cross-entropy (nats per token) plus the model's auxiliary (commitment) loss."""
    if not isinstance(model, TransformerLM):
        raise TypeError(f"model must be a TransformerLM, got {type(model).__name__}")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError("batch must be a pair (inputs, targets) of (batch, n) token-id tensors")
    inputs, targets = batch
    _check_tokens("batch inputs", inputs, model.config)
    _check_tokens("batch targets", targets, LMConfig(vocab=model.config.vocab))
    if targets.shape != inputs.shape:
        raise ValueError(
            f"batch targets must have the shape of its inputs {tuple(inputs.shape)}, got "
            f"{tuple(targets.shape)}"
        )
    logits = model(inputs)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return ce + model.aux_loss
