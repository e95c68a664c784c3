"""Residual/normalization blocks and a small deep-narrow Transformer encoder.

Chapter 1 (DeepNorm, increment explosion) derives the constants; Chapter 2
(why residuals) reuses the same blocks.  One sub-layer computes, for a branch
``F`` (self-attention or FFN):

* ``"post"`` (Post-LN, and DeepNorm when ``alpha != 1``): ``LN(alpha * x + F(x))``;
  the skip path is multiplied by ``alpha`` (DeepNet, arXiv 2203.00555, Fig. 2);
* ``"pre"`` (Pre-LN): ``x + F(LN(x))``;
* ``"none"`` (no residual, normalised): ``LN(F(x))``.

The commonly shipped mistake ``LN(x + alpha F(x))`` (alpha on the branch) is
*not* DeepNorm: by LN's scale invariance it equals ``LN(x/alpha + F(x))``.

Weights follow the paper's pseudo-code: ``xavier_normal_(gain=lam)`` for the
value path (``v_proj``, ``out_proj``, ``fc1``, ``fc2``), gain 1 for ``q_proj``
and ``k_proj``, zero biases.  ``lam`` and ``alpha`` come from a named scheme
whose closed forms live in :mod:`deepnotes.theory.deepnet`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from deepnotes.checks import generator as _generator
from deepnotes.checks import positive_float as _positive_float
from deepnotes.checks import positive_int as _positive_int
from deepnotes.checks import tensor as _tensor
from deepnotes.theory import deepnet as theory

__all__ = [
    "NORMS",
    "KINDS",
    "SCHEMES",
    "VALUE_PATH",
    "scheme_constants",
    "SelfAttention",
    "FeedForward",
    "Block",
    "init_block",
    "DeepNarrowEncoder",
]

NORMS = ("post", "pre", "none")
KINDS = ("attn", "ffn")
#: Schemes accepted by :func:`scheme_constants` and :class:`DeepNarrowEncoder`.
SCHEMES = theory.SCHEMES
#: Parameter-name fragments of the value path (scaled by ``lam``).
VALUE_PATH = ("v_proj", "out_proj", "fc1", "fc2")


def scheme_constants(scheme: str, depth: int) -> tuple[float, float, str]:
    """``(alpha, lam, norm)`` of a named init scheme at depth ``N = depth`` layers.

    Schemes (Chapter 1, :func:`deepnotes.theory.deepnet.scheme_constants`):
    ``post_ln`` (1, 1), ``pre_ln`` (1, 1), ``no_residual``,
    ``deepnorm_paper`` ((2N)^(1/4), (8N)^(-1/4)), ``su_sgd`` ((2N)^(1/4), (2N)^(-1/4)),
    ``su_adam`` ((2N)^(1/2), (2N)^(-1/2)), ``su_lamb`` = ``alt1`` (1, (2N)^(-1/2)),
    ``alt2`` ((2N)^(1/2), 1), ``pre_ln_sgd`` (1, (2N)^(-1/2)), ``pre_ln_adam`` (1, (2N)^(-1)).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    _positive_int("depth", depth)
    a, lam = theory.scheme_values(scheme, depth)
    return a, lam, theory.scheme_constants(scheme)["norm"]


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


class SelfAttention(nn.Module):
    """Multi-head self-attention ``softmax(q k^T / sqrt(d_h)) v`` then ``out_proj``.

    Parameter names match torchscale's ``MultiheadAttention`` (``q_proj``,
    ``k_proj``, ``v_proj``, ``out_proj``), so weights can be copied across.

    Chapter 1, section "DeepNorm and the gradient of a branch".
    """

    def __init__(self, d: int, heads: int = 4, causal: bool = False):
        super().__init__()
        d = _positive_int("d", d)
        heads = _positive_int("heads", heads)
        if d % heads:
            raise ValueError(f"heads must divide d, got d={d}, heads={heads}")
        _check_bool("causal", causal)
        self.d = d
        self.heads = heads
        self.causal = causal
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _tensor("x", x, 3, shape=(self.d,))
        return self._run(x)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    """``fc2(relu(fc1(x)))`` with hidden width ``mult * d``.

    Chapter 1, section "DeepNorm and the gradient of a branch".
    """

    def __init__(self, d: int, mult: int = 4):
        super().__init__()
        self.d = _positive_int("d", d)
        _positive_int("mult", mult)
        self.fc1 = nn.Linear(d, mult * d)
        self.fc2 = nn.Linear(mult * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _tensor("x", x, shape=(self.d,))
        return self._run(x)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


class Block(nn.Module):
    """One residual sub-layer (Chapter 1, eq. DeepNorm).

    ``norm="post"``: ``LN(alpha * x + F(x))`` (Post-LN when ``alpha = 1``,
    DeepNorm otherwise); ``norm="pre"``: ``x + F(LN(x))``; ``norm="none"``:
    ``LN(F(x))``.  ``kind`` picks ``F``: ``"attn"`` or ``"ffn"``.
    """

    def __init__(
        self,
        d: int,
        kind: str = "ffn",
        norm: str = "post",
        alpha: float = 1.0,
        heads: int = 4,
        ffn_mult: int = 4,
        causal: bool = False,
    ):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.alpha = _positive_float("alpha", alpha)
        if norm != "post" and self.alpha != 1.0:
            raise ValueError(f"alpha must be 1 unless norm='post', got alpha={alpha}")
        self.kind, self.norm = kind, norm
        d = _positive_int("d", d)
        # Both widths are checked whichever branch is built, so a typo never passes silently.
        _positive_int("heads", heads)
        _positive_int("ffn_mult", ffn_mult)
        self.branch = (
            SelfAttention(d, heads, causal) if kind == "attn" else FeedForward(d, ffn_mult)
        )
        self.ln = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.ln.normalized_shape[0]
        _tensor("x", x, 3 if self.kind == "attn" else None, shape=(d,))
        return self._run(x)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """The sub-layer without the argument check (the encoder checks its tokens once)."""
        if self.norm == "post":
            return self.ln(self.alpha * x + self.branch._run(x))
        if self.norm == "pre":
            return x + self.branch._run(self.ln(x))
        return self.ln(self.branch._run(x))


def init_block(block: Block, lam: float, generator: torch.Generator | None = None) -> None:
    """DeepNet init: ``xavier_normal_(gain=lam)`` on v/out/fc1/fc2, gain 1 on q/k, zero biases.

    Chapter 1, section "Measuring the increment against depth".
    """
    if not isinstance(block, Block):
        raise TypeError(f"block must be a deepnotes.blocks.Block, got {type(block).__name__}")
    lam = _positive_float("lam", lam)
    _generator("generator", generator)
    with torch.no_grad():
        for name, p in block.branch.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            else:
                gain = lam if name.split(".")[0] in VALUE_PATH else 1.0
                std = gain * math.sqrt(2.0 / (p.shape[0] + p.shape[1]))
                p.normal_(0.0, std, generator=generator)
        block.ln.reset_parameters()


class DeepNarrowEncoder(nn.Module):
    """A deep and narrow Transformer encoder: ``N`` layers = ``2N`` sub-layers.

    Token embedding ``N(0, 1)``, learned positions (std 0.02), ``2N`` blocks
    alternating attention and FFN under one named ``scheme``
    (:func:`scheme_constants`), a final LN for Pre-LN stacks, and a linear
    head to ``vocab`` logits (Xavier normal, zero bias).  All draws use
    ``generator`` when given.  ``scheme`` may be overridden by explicit
    ``alpha``/``lam`` (with ``norm``).  ``alpha`` is the skip weight of every
    block: the scheme's value for ``norm="post"``, and 1 for ``"pre"`` and
    ``"none"`` (an explicit ``alpha != 1`` there is an error).

    Chapter 1, section "Measuring the increment against depth".
    """

    def __init__(
        self,
        depth: int,
        scheme: str = "post_ln",
        d: int = 64,
        vocab: int = 16,
        max_len: int = 64,
        heads: int = 4,
        ffn_mult: int = 4,
        alpha: float | None = None,
        lam: float | None = None,
        norm: str | None = None,
        causal: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.depth = _positive_int("depth", depth)
        if _positive_int("vocab", vocab) < 2:
            raise ValueError(f"vocab must be an integer >= 2, got {vocab!r}")
        _positive_int("max_len", max_len)
        d = _positive_int("d", d)
        if d % _positive_int("heads", heads):
            raise ValueError(f"heads must divide d, got d={d}, heads={heads}")
        _positive_int("ffn_mult", ffn_mult)
        _check_bool("causal", causal)
        _generator("generator", generator)
        a0, l0, n0 = scheme_constants(scheme, depth)
        self.scheme = scheme
        self.lam = l0 if lam is None else _positive_float("lam", lam)
        self.norm = n0 if norm is None else norm
        if not isinstance(self.norm, str) or self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if alpha is not None:
            alpha = _positive_float("alpha", alpha)
            if self.norm != "post" and alpha != 1.0:
                raise ValueError(f"alpha must be 1 unless norm='post', got alpha={alpha}")
        # Only a Post-LN/DeepNorm stack has a skip weight; the others use 1.
        self.alpha = (a0 if alpha is None else alpha) if self.norm == "post" else 1.0
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(max_len, d))
        blocks = []
        for i in range(2 * depth):
            kind = "attn" if i % 2 == 0 else "ffn"
            blocks.append(
                Block(
                    d,
                    kind,
                    self.norm,
                    self.alpha,
                    heads,
                    ffn_mult,
                    causal,
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.final_ln = nn.LayerNorm(d) if self.norm == "pre" else nn.Identity()
        self.head = nn.Linear(d, vocab)
        with torch.no_grad():
            self.embed.weight.normal_(0.0, 1.0, generator=generator)
            self.pos.normal_(0.0, 0.02, generator=generator)
            for block in self.blocks:
                init_block(block, self.lam, generator)
            self.head.weight.normal_(0.0, math.sqrt(2.0 / (d + vocab)), generator=generator)
            self.head.bias.zero_()

    def _check_tokens(self, tokens) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor):
            raise TypeError(f"tokens must be a torch.Tensor, got {type(tokens).__name__}")
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (batch, seq), got {tuple(tokens.shape)}")
        if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
            raise TypeError(f"tokens must be an integer tensor, got dtype {tokens.dtype}")
        if tokens.shape[1] > self.pos.shape[0]:
            raise ValueError(f"tokens has length {tokens.shape[1]} > max_len {self.pos.shape[0]}")
        vocab = self.embed.num_embeddings
        on_meta = tokens.device.type == "meta"  # shapes only: no values to range-check
        if tokens.numel() and not on_meta and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab):
            raise ValueError(
                f"tokens must lie in 0..{vocab - 1} (vocab={vocab}), got "
                f"{int(tokens.min())}..{int(tokens.max())}"
            )
        return tokens

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """The stack's output before the head (after the final LN for Pre-LN)."""
        self._check_tokens(tokens)
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        for block in self.blocks:
            x = block._run(x)
        return self.final_ln(x)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(tokens))

    def branch_parameters(self) -> Iterator[nn.Parameter]:
        """The 2-D weights of the residual branches (q, k, v, out, fc1, fc2): the ones the
        increment argument counts (embeddings, head, LNs and biases excluded)."""
        for block in self.blocks:
            for p in block.branch.parameters():
                if p.dim() == 2:
                    yield p

    def sublayer_trace(self, tokens: torch.Tensor) -> list[float]:
        """Mean relative change ``||x_{l+1} - x_l|| / ||x_l||`` per sub-layer (no grad).

        The post-hoc check of Chapter 1: about ``lam^2/alpha`` up to a constant for DeepNorm.
        """
        self._check_tokens(tokens)
        with torch.no_grad():
            x = self.embed(tokens) + self.pos[: tokens.shape[1]]
            x = F.layer_norm(x, x.shape[-1:])
            out = []
            for block in self.blocks:
                y = block._run(x)
                rel = (y - x).norm(dim=-1) / x.norm(dim=-1)
                out.append(float(rel.mean()))
                x = y
        return out
