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
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from deepnotes.checks import positive_float as _positive_float
from deepnotes.checks import positive_int as _positive_int
from deepnotes.theory import deepnet as theory

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


class SelfAttention(nn.Module):
    """Multi-head self-attention ``softmax(q k^T / sqrt(d_h)) v`` then ``out_proj``.

    Parameter names match torchscale's ``MultiheadAttention`` (``q_proj``,
    ``k_proj``, ``v_proj``, ``out_proj``), so weights can be copied across.

    Chapter 1, section "DeepNorm and the gradient of a branch".
    """

    def __init__(self, d: int, heads: int = 4, causal: bool = False):
        super().__init__()
        _positive_int("d", d)
        _positive_int("heads", heads)
        if d % heads:
            raise ValueError(f"heads must divide d, got d={d}, heads={heads}")
        self.heads = heads
        self.causal = causal
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
        _positive_int("d", d)
        _positive_int("mult", mult)
        self.fc1 = nn.Linear(d, mult * d)
        self.fc2 = nn.Linear(mult * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
        self.branch = (
            SelfAttention(d, heads, causal) if kind == "attn" else FeedForward(d, ffn_mult)
        )
        self.ln = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm == "post":
            return self.ln(self.alpha * x + self.branch(x))
        if self.norm == "pre":
            return x + self.branch(self.ln(x))
        return self.ln(self.branch(x))


def init_block(block: Block, lam: float, generator: torch.Generator | None = None) -> None:
    """DeepNet init: ``xavier_normal_(gain=lam)`` on v/out/fc1/fc2, gain 1 on q/k, zero biases.

    Chapter 1, section "Measuring the increment against depth".
    """
    lam = _positive_float("lam", lam)
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
    ``alpha``/``lam`` (with ``norm``).

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
        _positive_int("vocab", vocab)
        _positive_int("max_len", max_len)
        a0, l0, n0 = scheme_constants(scheme, depth)
        self.scheme = scheme
        self.alpha = a0 if alpha is None else _positive_float("alpha", alpha)
        self.lam = l0 if lam is None else _positive_float("lam", lam)
        self.norm = n0 if norm is None else norm
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
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
                    self.alpha if self.norm == "post" else 1.0,
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

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """The stack's output before the head (after the final LN for Pre-LN)."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (batch, seq), got {tuple(tokens.shape)}")
        if tokens.shape[1] > self.pos.shape[0]:
            raise ValueError(f"tokens has length {tokens.shape[1]} > max_len {self.pos.shape[0]}")
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
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
        with torch.no_grad():
            x = self.embed(tokens) + self.pos[: tokens.shape[1]]
            x = F.layer_norm(x, x.shape[-1:])
            out = []
            for block in self.blocks:
                y = block(x)
                rel = (y - x).norm(dim=-1) / x.norm(dim=-1)
                out.append(float(rel.mean()))
                x = y
        return out


# ---------------------------------------------------------------------------
# Cross-check against the reference implementation (microsoft/torchscale)
# ---------------------------------------------------------------------------


@contextmanager
def _timm_stub() -> Iterator[None]:
    """Provide ``timm.models.layers.drop_path`` while torchscale is imported, if timm is absent.

    torchscale 0.3.0 imports timm (and through it torchvision) only for
    ``drop_path``, which is the identity at our settings (``drop_path_rate=0``).
    The stub lives in ``sys.modules`` only for the duration of the import.
    """
    try:
        import timm.models.layers  # noqa: F401

        yield
        return
    except ImportError:
        pass
    names = ("timm", "timm.models", "timm.models.layers")
    saved = {n: sys.modules.get(n) for n in names}

    def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
        if drop_prob > 0 and training:
            raise NotImplementedError("the timm stub supports drop_path_rate=0 only")
        return x

    sys.modules["timm"] = types.ModuleType("timm")
    sys.modules["timm.models"] = types.ModuleType("timm.models")
    layers = types.ModuleType("timm.models.layers")
    layers.drop_path = drop_path
    sys.modules["timm.models.layers"] = layers
    try:
        yield
    finally:
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


def import_torchscale() -> types.SimpleNamespace:
    """Import torchscale's config, encoder and decoder (``pip install --no-deps
    torchscale==0.3.0 fairscale==0.4.0``); raises ``ImportError`` when absent.

    Chapter 1, section "The reference implementation".
    """
    with _timm_stub():
        from torchscale.architecture.config import (
            DecoderConfig,
            EncoderConfig,
            EncoderDecoderConfig,
        )
        from torchscale.architecture.decoder import Decoder
        from torchscale.architecture.encoder import Encoder
    return types.SimpleNamespace(
        EncoderConfig=EncoderConfig,
        DecoderConfig=DecoderConfig,
        EncoderDecoderConfig=EncoderDecoderConfig,
        Encoder=Encoder,
        Decoder=Decoder,
    )


def load_torchscale_layer(layer: nn.Module, alpha: float) -> tuple[Block, Block]:
    """Our (attention, FFN) DeepNorm block pair carrying a torchscale ``EncoderLayer``'s weights.

    Chapter 1, section "The reference implementation".
    """
    d = layer.embed_dim
    heads = layer.self_attn.num_heads
    attn = Block(d, "attn", "post", alpha, heads=heads)
    ffn = Block(d, "ffn", "post", alpha, ffn_mult=layer.ffn_dim // d)
    attn.ln.eps = layer.self_attn_layer_norm.eps
    ffn.ln.eps = layer.final_layer_norm.eps
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            getattr(attn.branch, name).load_state_dict(getattr(layer.self_attn, name).state_dict())
        attn.ln.load_state_dict(layer.self_attn_layer_norm.state_dict())
        ffn.branch.fc1.load_state_dict(layer.ffn.fc1.state_dict())
        ffn.branch.fc2.load_state_dict(layer.ffn.fc2.state_dict())
        ffn.ln.load_state_dict(layer.final_layer_norm.state_dict())
    return attn, ffn


def torchscale_comparison(
    depth: int = 8, decoder_depth: int = 4, d: int = 64, heads: int = 4, seed: int = 0
) -> list[dict[str, object]]:
    """Compare our DeepNorm with torchscale 0.3.0 (``deepnorm=True``) and the paper.

    Rows: the skip weight ``alpha`` (encoder-only, decoder-only, encoder-decoder),
    the effective value-path scale ``beta`` (torchscale divides PyTorch's
    default init, std ``1/sqrt(3 fan_in)``, by ``init_scale``; we measure
    ``std * sqrt(3 fan_in)``), q/k left unscaled, biases, the absolute weight
    std against the paper's ``xavier_normal_(gain=beta)``, and the output of one
    of our block pairs loaded with an ``EncoderLayer``'s weights.  Each row has
    ``quantity``, ``ours``, ``torchscale``, ``paper``, ``agree`` (whether ours,
    i.e. the paper's formula, matches torchscale) and a ``note``.
    Used by the Chapter 1 notebook and by ``tests/test_torchscale_crosscheck.py``.
    """
    _positive_int("depth", depth)
    _positive_int("decoder_depth", decoder_depth)
    ts = import_torchscale()
    n, m = depth, decoder_depth
    torch.manual_seed(seed)
    common = dict(activation_fn="relu", dropout=0.0, attention_dropout=0.0)
    enc = ts.Encoder(
        ts.EncoderConfig(
            deepnorm=True,
            encoder_layers=n,
            encoder_embed_dim=d,
            encoder_ffn_embed_dim=4 * d,
            encoder_attention_heads=heads,
            **common,
        )
    )
    dec = ts.Decoder(
        ts.DecoderConfig(
            deepnorm=True,
            decoder_layers=m,
            decoder_embed_dim=d,
            decoder_ffn_embed_dim=4 * d,
            decoder_attention_heads=heads,
            **common,
        )
    )
    ed_cfg = ts.EncoderDecoderConfig(
        deepnorm=True,
        encoder_layers=n,
        decoder_layers=m,
        encoder_embed_dim=d,
        decoder_embed_dim=d,
        encoder_ffn_embed_dim=4 * d,
        decoder_ffn_embed_dim=4 * d,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        **common,
    )
    ed_enc = ts.Encoder(ed_cfg, is_encoder_decoder=True)
    ed_dec = ts.Decoder(ed_cfg, is_encoder_decoder=True)
    ours_alpha, ours_beta, _ = scheme_constants("deepnorm_paper", n)
    p_ed = theory.paper_constants("encoder_decoder")
    sub = {theory.N: n, theory.M: m}
    paper_ed = {k: float(v.subs(sub)) for k, v in p_ed.items()}
    dec_alpha, dec_beta = (2 * m) ** 0.25, (8 * m) ** -0.25

    def beta_eff(w: torch.Tensor) -> float:  # std relative to nn.Linear's default init
        return float(w.detach().std() * math.sqrt(3 * w.shape[1]))

    layer = enc.layers[0]
    att = layer.self_attn
    rows: list[dict[str, object]] = []

    def row(quantity, ours, theirs, paper, tol, note=""):
        agree = ours is not None and abs(ours - theirs) <= tol * abs(theirs)
        rows.append(
            dict(
                quantity=quantity, ours=ours, torchscale=theirs, paper=paper, agree=agree, note=note
            )
        )

    row("encoder alpha (2N)^(1/4)", ours_alpha, layer.alpha, ours_alpha, 1e-12)
    row("encoder beta via v_proj", ours_beta, beta_eff(att.v_proj.weight), ours_beta, 0.05)
    row("encoder beta via fc2", ours_beta, beta_eff(layer.ffn.fc2.weight), ours_beta, 0.05)
    row("q_proj scale (unscaled = 1)", 1.0, beta_eff(att.q_proj.weight), 1.0, 0.05)
    row("decoder-only alpha (2M)^(1/4)", dec_alpha, dec.layers[0].alpha, dec_alpha, 1e-12)
    row(
        "decoder-only beta via v_proj",
        dec_beta,
        beta_eff(dec.layers[0].self_attn.v_proj.weight),
        dec_beta,
        0.05,
    )
    a_ed = paper_ed["alpha_encoder"]
    row("enc-dec encoder alpha 0.81(N^4 M)^(1/16)", a_ed, ed_enc.layers[0].alpha, a_ed, 1e-12)
    row(
        "enc-dec decoder alpha (3M)^(1/4)",
        paper_ed["alpha_decoder"],
        ed_dec.layers[0].alpha,
        paper_ed["alpha_decoder"],
        1e-12,
    )
    b_ed = paper_ed["beta_encoder"]
    row(
        "enc-dec encoder beta 0.87(N^4 M)^(-1/16)",
        b_ed,
        beta_eff(ed_enc.layers[0].self_attn.v_proj.weight),
        b_ed,
        0.05,
        "torchscale divides by (N^4 M)^(1/16)/1.15, i.e. beta = 1.15 (N^4 M)^(-1/16)",
    )
    row(
        "enc-dec decoder beta (12M)^(-1/4)",
        paper_ed["beta_decoder"],
        beta_eff(ed_dec.layers[0].self_attn.v_proj.weight),
        paper_ed["beta_decoder"],
        0.05,
    )
    xavier_vd = ours_beta * math.sqrt(2.0 / (2 * d))
    row(
        "v_proj weight std",
        xavier_vd,
        float(att.v_proj.weight.detach().std()),
        xavier_vd,
        0.05,
        "torchscale keeps nn.Linear's default init, then divides: 1/sqrt(3) of the paper's",
    )
    row(
        "|v_proj bias| max",
        0.0,
        float(att.v_proj.bias.detach().abs().max()),
        0.0,
        0.0,
        "torchscale scales non-zero default biases; the paper and we use zero",
    )
    # The layer itself: load its weights into our blocks and compare outputs.
    attn_block, ffn_block = load_torchscale_layer(layer, layer.alpha)
    layer.eval()
    x = torch.randn(2, 8, d, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        theirs, _ = layer(x, encoder_padding_mask=None)
        ours = ffn_block(attn_block(x))
    diff = float((ours - theirs).abs().max())
    rows.append(
        dict(
            quantity="EncoderLayer output, max |ours - torchscale|",
            ours=diff,
            torchscale=0.0,
            paper=None,
            agree=diff < 1e-5,
            note="same weights; our LN(alpha x + F(x)) blocks",
        )
    )
    return rows
