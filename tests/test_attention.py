"""deepnotes.attention: one attention with flags, SDPA against the written-out formula (chapters 7-8)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from deepnotes.attention import (
    VARIANTS,
    attention,
    attention_reference,
    causal_mask,
    default_scale,
    normalize,
    rope,
)


def _qkv(n=12, d=8, dv=6, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 3, n, w, generator=g, dtype=dtype) for w in (d, d, dv))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("use_rope", [False, True])
def test_sdpa_matches_written_out_softmax(variant, use_rope):
    q, k, v = _qkv()
    scale = 4.0 if variant == "cosine" else None
    bias = torch.randn(12, 12, dtype=torch.float64)
    for b in (None, bias):
        fast = attention(q, k, v, variant=variant, scale=scale, bias=b, use_rope=use_rope)
        slow = attention_reference(q, k, v, variant=variant, scale=scale, bias=b, use_rope=use_rope)
        assert torch.allclose(fast, slow, atol=1e-12, rtol=0)


def test_keynorm_explicit_formula_float32():
    q, k, v = _qkv(dtype=torch.float32)
    mask = torch.ones(12, 12, dtype=torch.bool).tril()
    logits = (q @ (k / k.norm(dim=-1, keepdim=True)).transpose(-1, -2)).masked_fill(
        ~mask, float("-inf")
    )
    expected = torch.softmax(logits, -1) @ v
    out = attention(q, k, v, variant="keynorm", scale=1.0)
    assert (out - expected).abs().max() < 1e-6


def test_default_scale_is_not_applied_twice():
    """SDPA's default 1/sqrt(d) on top of KeyNorm is the classic bug: our call differs from it."""
    q, k, v = _qkv()
    ours = attention(q, k, v, variant="keynorm")
    buggy = F.scaled_dot_product_attention(q, normalize(k), v, is_causal=True)
    assert (ours - buggy).abs().max() > 1e-3
    rescaled = attention(q, k, v, variant="keynorm", scale=1 / math.sqrt(q.shape[-1]))
    assert torch.allclose(rescaled, buggy, atol=1e-12)
    assert default_scale("baseline", 16) == 0.25 and default_scale("keynorm", 16) == 1.0


def test_rope_is_relative_and_keeps_norms():
    g = torch.Generator().manual_seed(1)
    d = torch.randn(16, generator=g, dtype=torch.float64)
    x = d.expand(10, 16)
    r = rope(x)
    assert torch.allclose(r.norm(dim=-1), x.norm(dim=-1), atol=1e-12)
    dots = r @ r.T  # depends on i - j only: constant along diagonals
    for offset in range(1, 4):
        diag = torch.diagonal(dots, offset)
        assert torch.allclose(diag, diag[0].expand_as(diag), atol=1e-10)
    assert torch.allclose(normalize(rope(x)), rope(normalize(x)), atol=1e-12)


def test_causal_mask_aligns_queries_to_last_keys():
    m = causal_mask(2, 4)
    assert m.tolist() == [[True, True, True, False], [True, True, True, True]]


def test_bad_input_names_the_argument():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="k must have the head dimension"):
        attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="variant"):
        attention(q, k, v, variant="unknown")
    with pytest.raises(ValueError, match="scale"):
        attention(q, k, v, variant="cosine")
    with pytest.raises(ValueError, match="scale"):
        attention(q, k, v, scale=-1.0)
    with pytest.raises(ValueError, match="bias"):
        attention(q, k, v, bias=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="d must be a positive even"):
        rope(torch.zeros(4, 5))
