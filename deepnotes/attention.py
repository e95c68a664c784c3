"""Scaled dot-product attention with one set of flags: causal mask, RoPE, KeyNorm, QueryNorm, cosine.

One implementation serves chapters 7 (Transformer-VQ, whose dense reference
is :func:`attention` over quantised keys) and 8 (KeyNorm, whose variants are
flags of the same function).  The logit scale is always explicit: it is passed
to :func:`torch.nn.functional.scaled_dot_product_attention` as ``scale=``, so
PyTorch's default ``1/sqrt(d)`` is never applied on top of a normalisation
that already fixed the scale (the classic double-scaling bug).

Logits by variant (``q``, ``k`` after RoPE; ``hat`` is division by the norm):

* ``"baseline"``: ``scale * q . k`` with ``scale = 1/sqrt(d)`` by default;
* ``"keynorm"``: ``scale * q . k_hat`` with ``scale = 1`` by default;
* ``"querynorm"``: ``scale * q_hat . k`` with ``scale = 1`` by default;
* ``"cosine"``: ``scale * q_hat . k_hat``; ``scale`` (``lambda``) is required.

RoPE rotates before the normalisation; rotations keep norms, so the order does
not matter for KeyNorm (chapter 8 checks it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deepnotes.checks import boolean, positive_float, positive_int
from deepnotes.checks import tensor as _check_tensor

__all__ = [
    "VARIANTS",
    "attention",
    "attention_reference",
    "causal_mask",
    "default_scale",
    "normalize",
    "rope",
    "rope_frequencies",
]

#: The logit variants of :func:`attention`.
VARIANTS = ("baseline", "keynorm", "querynorm", "cosine")


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., n, d), got {tuple(t.shape)}")
        _check_tensor(name, t)  # a floating dtype, no NaN or infinity
    for name, t in (("k", k), ("v", v)):
        if t.dtype != q.dtype:
            raise TypeError(f"{name} must have the dtype of q ({q.dtype}), got {t.dtype}")
        if t.shape[:-2] != q.shape[:-2]:
            raise ValueError(
                f"{name} must have the leading axes of q {tuple(q.shape[:-2])}, got "
                f"shape {tuple(t.shape)}"
            )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"k must have the head dimension of q: q has d = {q.shape[-1]}, k has {k.shape[-1]}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"v must have one row per key: k has {k.shape[-2]} keys, v has {v.shape[-2]}"
        )


def _check_variant(variant: str) -> None:
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def default_scale(variant: str, d: int) -> float:
    """The logit scale each variant uses when none is given: ``1/sqrt(d)`` for the baseline, ``1``
    for KeyNorm and QueryNorm; the cosine variant has no default (its ``lambda`` must be chosen)."""
    _check_variant(variant)
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive int, got {d!r}")
    if variant == "cosine":
        raise ValueError("variant='cosine' needs an explicit scale (lambda); there is no default")
    return 1.0 / math.sqrt(d) if variant == "baseline" else 1.0


def normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``x / max(||x||, eps)`` along the last axis (the hat of KeyNorm, QueryNorm and cosine)."""
    _check_tensor("x", x, ndim=tuple(range(1, 9)))
    eps = positive_float("eps", eps)
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def rope_frequencies(d: int, base: float = 10000.0) -> torch.Tensor:
    """RoPE's angular frequencies ``theta_i = base**(-2 i / d)``, ``i = 0 .. d/2 - 1``."""
    if isinstance(d, bool) or not isinstance(d, int) or d < 2 or d % 2:
        raise ValueError(f"d must be a positive even int (RoPE rotates pairs), got {d!r}")
    base = positive_float("base", base)
    return base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)


def rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0):
    """Rotary position embedding: rotate each pair ``(x_{2i}, x_{2i+1})`` by ``p * theta_i``.

    ``x`` has shape ``(..., n, d)``; ``positions`` (length ``n``) defaults to
    ``0 .. n-1``.  Pairs are adjacent (interleaved), the convention of
    ``rotary-embedding-torch``.  Then ``rope(q, m) . rope(k, n)`` depends on
    ``m - n`` only.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError("x must be a tensor of shape (..., n, d)")
    _check_tensor("x", x)
    n, d = x.shape[-2], x.shape[-1]
    if d % 2:
        raise ValueError(
            f"x: its last axis d must be a positive even int (RoPE rotates pairs), got shape "
            f"{tuple(x.shape)}"
        )
    base = positive_float("base", base)
    if positions is None:
        positions = torch.arange(n, device=x.device)
    positions = _check_positions(positions, n, "x").to(x.device)
    angles = positions.to(torch.float64)[:, None] * rope_frequencies(d, base).to(x.device)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return out.flatten(-2)


def causal_mask(n_queries: int, n_keys: int | None = None, device=None) -> torch.Tensor:
    """Boolean ``(n_queries, n_keys)`` mask, True where query ``i`` may see key ``j`` (``j <= i``,
    queries aligned to the last keys when there are more keys than queries)."""
    n_queries = positive_int("n_queries", n_queries)
    n_keys = n_queries if n_keys is None else positive_int("n_keys", n_keys)
    if n_keys < n_queries:
        raise ValueError(
            f"n_keys = {n_keys} < n_queries = {n_queries} leaves the first queries no key to see"
        )
    if device is not None:
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise ValueError(f"device must be a torch.device or its name, got {device!r}") from None
    offset = n_keys - n_queries
    i = torch.arange(n_queries, device=device)[:, None]
    j = torch.arange(n_keys, device=device)[None, :]
    return j <= i + offset


def _check_positions(positions, n: int, of: str) -> torch.Tensor:
    if not isinstance(positions, torch.Tensor):
        raise TypeError(
            f"positions must be a tensor of {n} positions, got {type(positions).__name__}"
        )
    if positions.shape != (n,) or positions.dtype == torch.bool or positions.is_complex():
        raise ValueError(
            f"positions must be a real tensor of shape ({n},), one per row of {of}, got shape "
            f"{tuple(positions.shape)} and dtype {positions.dtype}"
        )
    if positions.is_floating_point() and not bool(torch.isfinite(positions).all()):
        raise ValueError("positions must be finite, got a tensor with NaN or infinity")
    return positions


def _prepare(q, k, variant, scale, use_rope, positions, base, causal, bias):
    _check_variant(variant)
    boolean("use_rope", use_rope)
    boolean("causal", causal)
    base = positive_float("rope_base", base)
    if scale is not None:
        scale = positive_float("scale", scale)
    if positions is not None:
        _check_positions(positions, k.shape[-2], "k")
    if causal and q.shape[-2] > k.shape[-2]:
        raise ValueError(
            f"causal attention needs at least as many keys as queries: q has {q.shape[-2]} "
            f"rows, k {k.shape[-2]}"
        )
    if bias is not None:
        _check_tensor("bias", bias, ndim=tuple(range(2, 9)))
        if bias.shape[-2:] != (q.shape[-2], k.shape[-2]):
            raise ValueError(
                f"bias must end in shape {(q.shape[-2], k.shape[-2])}, got {tuple(bias.shape)}"
            )
    if use_rope:
        q = rope(q, positions[-q.shape[-2] :] if positions is not None else None, base)
        k = rope(k, positions, base)
    if variant in ("keynorm", "cosine"):
        k = normalize(k)
    if variant in ("querynorm", "cosine"):
        q = normalize(q)
    if scale is None:
        scale = default_scale(variant, q.shape[-1])
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    return q, k, scale


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    variant: str = "baseline",
    scale: float | None = None,
    causal: bool = True,
    bias: torch.Tensor | None = None,
    use_rope: bool = False,
    positions: torch.Tensor | None = None,
    rope_base: float = 10000.0,
) -> torch.Tensor:
    """``softmax(scale * q' k'^T + bias + M) v`` through PyTorch's ``scaled_dot_product_attention``.

    ``q'``, ``k'`` are ``q``, ``k`` after RoPE (``use_rope``) and the
    variant's normalisation; ``M`` is the causal mask (``-inf`` above the
    diagonal) when ``causal``; ``bias`` is an additive ``(n_q, n_k)`` float
    matrix (chapter 7's window bias).  ``scale`` is passed explicitly to SDPA.
    Shapes ``(..., n, d)``; returns ``(..., n_q, d_v)``.
    """
    _check_qkv(q, k, v)
    q, k, scale = _prepare(q, k, variant, scale, use_rope, positions, rope_base, causal, bias)
    mask = None
    if bias is not None:
        if bias.shape[-2:] != (q.shape[-2], k.shape[-2]):
            raise ValueError(
                f"bias must end in shape {(q.shape[-2], k.shape[-2])}, got {tuple(bias.shape)}"
            )
        mask = bias.to(q.dtype)
        if causal:
            keep = causal_mask(q.shape[-2], k.shape[-2], q.device)
            mask = mask.masked_fill(~keep, float("-inf"))
        return _sdpa(q, k, v, attn_mask=mask, scale=scale)
    if causal and q.shape[-2] != k.shape[-2]:
        mask = causal_mask(q.shape[-2], k.shape[-2], q.device)
        return _sdpa(q, k, v, attn_mask=mask, scale=scale)
    return _sdpa(q, k, v, is_causal=causal, scale=scale)


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kwargs) -> torch.Tensor:
    """SDPA on inputs lifted to rank 4, ``(batch, heads, n, d)``, and the result put back.

    PyTorch's fused CPU kernel (flash attention) only takes rank-4 inputs; a rank-3
    ``(batch, n, d)`` call falls back to the math path, which materialises the
    ``n x n`` weights and was 3-6x slower at n = 512..4096 on this book's CPU.
    """
    lift = max(0, 4 - q.ndim)
    if lift == 0:
        return F.scaled_dot_product_attention(q, k, v, **kwargs)
    q, k, v = (x.reshape((1,) * lift + x.shape) for x in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    return out.reshape(out.shape[lift:])


def attention_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    variant: str = "baseline",
    scale: float | None = None,
    causal: bool = True,
    bias: torch.Tensor | None = None,
    use_rope: bool = False,
    positions: torch.Tensor | None = None,
    rope_base: float = 10000.0,
    return_weights: bool = False,
):
    """The same attention written out: the ``n_q x n_k`` logits, masked, softmaxed, times ``v``.

    The quadratic reference of chapter 7 (it materialises the attention
    matrix) and the explicit formula chapter 8 checks SDPA against.  With
    ``return_weights`` it returns ``(output, weights)``.
    """
    _check_qkv(q, k, v)
    boolean("return_weights", return_weights)
    q, k, scale = _prepare(q, k, variant, scale, use_rope, positions, rope_base, causal, bias)
    logits = scale * (q @ k.transpose(-1, -2))
    if bias is not None:
        if bias.shape[-2:] != logits.shape[-2:]:
            raise ValueError(
                f"bias must end in shape {tuple(logits.shape[-2:])}, got {tuple(bias.shape)}"
            )
        logits = logits + bias.to(logits.dtype)
    if causal:
        keep = causal_mask(q.shape[-2], k.shape[-2], q.device)
        logits = logits.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(logits, dim=-1)
    out = weights @ v
    return (out, weights) if return_weights else out
