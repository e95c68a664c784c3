"""Chapter 8 (KeyNorm): the derivations in deepnotes.theory.keynorm and deepnotes.extrapolation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from deepnotes import extrapolation as ex
from deepnotes.attention import attention, normalize, rope
from deepnotes.data import stdlib_files
from deepnotes.lm import LMConfig, TransformerLM
from deepnotes.theory import keynorm as th


def test_norm_concentration():
    assert th.expected_sq_norm() == th.d_sym
    for d, value in ((64, 7.968812), (128, 11.291633)):
        mean = float(th.expected_norm(d).evalf(12))
        assert abs(mean - value) < 1e-6
        assert abs(mean - float(th.norm_series(d))) < 1e-4


def test_sphere_moment_and_cauchy_schwarz():
    moment, closed = th.sphere_logit_second_moment()
    assert sp.simplify(moment - closed) == 0
    assert th.lagrange_gap(3) == 0 and th.lagrange_gap(4) == 0


def test_entropy_bound_and_max_weight():
    assert th.max_weight_derivatives() == (1, -1)
    bound = th.entropy_lower_bound()
    assert sp.simplify(sp.exp(bound) - (1 + (th.n - 1) * sp.exp(-2 * th.a))) == 0
    # numerically: random rows with logits in [-a, a] never beat the bound
    g = torch.Generator().manual_seed(0)
    for n, a in ((2, 0.5), (16, 2.0), (512, 4.0)):
        x = (2 * torch.rand(2000, n, generator=g, dtype=torch.float64) - 1) * a
        p = torch.softmax(x, -1)
        h = -(p * p.log()).sum(-1)
        assert float(h.min()) >= math.log1p((n - 1) * math.exp(-2 * a)) - 1e-12


def test_norm_ranking_and_rope():
    dlog = sp.diff(th.log_ratio(), th.q_norm)
    diff = th.k_j * th.cos_j - th.k_l * th.cos_l
    assert sp.simplify(dlog - diff / sp.sqrt(th.d_sym)) == 0
    assert th.rope_norm_gap() == 0
    assert th.rope_relative_gap() == sp.zeros(2, 2)
    k = torch.randn(5, 16, dtype=torch.float64)
    assert torch.allclose(normalize(rope(k)), rope(normalize(k)), atol=1e-12)


def test_constants():
    assert abs(float(th.cosine_scale(256)) - 22.1807) < 1e-4
    assert abs(float(th.cosine_scale(256, 3.5)) - 19.4081) < 1e-4
    assert abs(float(th.cosine_scale(4096)) - 33.2711) < 1e-4
    assert abs(ex.cosine_lambda(64) - 13.8629) < 1e-4


def test_cosine_matches_x_transformers():
    import x_transformers as xt  # pinned in requirements.txt: a missing package fails

    torch.manual_seed(0)
    lam = 10.0
    attn = xt.Attention(dim=32, heads=2, dim_head=16, qk_norm=True, qk_norm_scale=lam, causal=True)
    x = torch.randn(2, 12, 32)
    ref = attn(x)
    h = attn.heads
    q, k, v = (
        t.view(2, 12, h, 16).transpose(1, 2) for t in (attn.to_q(x), attn.to_k(x), attn.to_v(x))
    )
    ours = attention(q, k, v, variant="cosine", scale=lam).transpose(1, 2).reshape(2, 12, -1)
    assert torch.allclose(attn.to_out(ours), ref, atol=1e-5)


def test_rope_matches_rotary_embedding_torch():
    import rotary_embedding_torch as ret  # pinned in requirements.txt

    rot = ret.RotaryEmbedding(dim=16)
    x = torch.randn(2, 10, 16)
    assert torch.allclose(rot.rotate_queries_or_keys(x), rope(x), atol=1e-5)


def test_loss_by_length_and_windows():
    per = np.arange(1, 65, dtype=float)
    out = ex.loss_by_length(per, 8, (1, 2, 8))
    assert np.allclose(out, [per[:8].mean(), per[:16].mean(), per.mean()])
    tokens = torch.arange(1000) % 256
    w = ex.eval_windows(tokens, 32, 4)
    assert w.shape == (4, 33) and torch.equal(ex.eval_windows(tokens, 32, 4), w)
    r = ex.repeated_windows(w, 16)
    assert torch.equal(r[:, :16], r[:, 16:32])


def test_training_smoke_and_stats():
    tokens = torch.randint(0, 256, (5000,), generator=torch.Generator().manual_seed(0))
    for variant in ("baseline", "keynorm", "querynorm", "cosine"):
        cfg = ex.RunConfig(variant=variant, steps=3, length=16, batch=2, d_model=16)
        model, losses = ex.train_variant(tokens, cfg)
        assert len(losses) == 3 and np.all(np.isfinite(losses))
        stats = ex.attention_stats(model, ex.eval_windows(tokens, 32, 2)[:, :32])
        assert min(stats.bound_slack) >= -1e-5
        assert max(stats.cs_excess) <= 1e-4
    m = TransformerLM(LMConfig(d_model=16, n_heads=2, variant="keynorm", use_rope=True))
    assert ex.attention_stats(m, torch.zeros(1, 8, dtype=torch.long)).entropy[0].shape == (8,)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="multipliers"):
        ex.loss_by_length(np.zeros(64), 8, (0.5, 1))
    with pytest.raises(ValueError, match="multipliers"):
        ex.loss_by_length(np.zeros(64), 8, (16,))
    with pytest.raises(ValueError, match="variant"):
        ex.RunConfig(variant="alibi")
    with pytest.raises(ValueError, match="steps"):
        ex.RunConfig(steps=0)
    with pytest.raises(ValueError, match="pattern"):
        stdlib_files("*.no-such-extension")
    with pytest.raises(ValueError, match="length"):
        ex.eval_windows(torch.arange(10), 64)
    with pytest.raises(ValueError, match="train_length"):
        ex.cosine_lambda(2)
    with pytest.raises(ValueError, match="d"):
        th.expected_norm(0)
