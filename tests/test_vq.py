"""Transformer-VQ (chapter 7): the derivation, the block recurrence against dense attention over
quantised keys, the official repository's three tests, STE and the truncated gradient, the EMA
codebook, the LM and the corpus."""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from deepnotes import vq
from deepnotes.attention import attention_reference
from deepnotes.data import byte_batches, stdlib_corpus, stdlib_files
from deepnotes.lm import LMConfig, TransformerLM, lm_loss
from deepnotes.theory import vq as th


# ----------------------------------------------------------------------------- theory
def test_pick_out_holds_for_one_hot_and_fails_for_soft():
    assert th.pick_out()["difference"] == sp.zeros(4, 4)
    assert th.pick_out(soft=True)["difference"] != sp.zeros(4, 4)


def test_causal_and_block_recurrences():
    assert all(d == 0 for d in th.causal_recurrence()["differences"])
    assert all(d == 0 for d in th.block_recurrence()["differences"])


def test_cache_forms_and_crossover():
    assert th.log_count_form()["difference"] == 0
    merge = th.running_mean_merge()
    assert merge["difference"] == 0 and merge["associativity"] == [0, 0]
    n, L, c, dk, dv = th.cost_model()["symbols"]
    assert sp.simplify(th.crossover_length() - 2 * (2 * L + c)) == 0
    assert th.crossover_length().subs({L: 256, c: 256}) == 1536
    perf = th.performer_identity()
    assert sp.simplify(perf["expectation"] - perf["kernel"]) == 0 and perf["square"] == 0


def test_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="c must be"):
        th.pick_out(c=0)
    with pytest.raises(ValueError, match="block_len"):
        th.block_recurrence(z=(0, 1, 0), c=2, block_len=2)


# ----------------------------------------------------------------------------- equivalence
def _problem(n=512, dk=16, dv=8, c=32, block=64, dtype=torch.float64, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(batch, n, dk, generator=g, dtype=dtype) for _ in range(2))
    v = torch.randn(batch, n, dv, generator=g, dtype=dtype)
    codebook = torch.randn(c, dk, generator=g, dtype=dtype)
    bias = torch.randn(block, generator=g, dtype=dtype)
    return q, k, v, codebook, bias


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_block_recurrence_equals_dense_over_quantised_keys(dtype, tol, with_bias):
    q, k, v, codebook, bias = _problem(dtype=dtype)
    z, k_hat, _ = vq.quantize(k, codebook)
    b = bias if with_bias else None
    dense_bias = vq.window_bias_matrix(bias, q.shape[-2]) if with_bias else None
    dense = attention_reference(q, k_hat, v, scale=1.0, bias=dense_bias)
    fast = vq.vq_attention(q, k_hat, z, v, codebook, 64, bias=b)
    assert (fast - dense).abs().max() < tol


def test_bidirectional_form_equals_dense():
    q, k, v, codebook, _ = _problem()
    z, k_hat, _ = vq.quantize(k, codebook)
    dense = attention_reference(q, k_hat, v, scale=1.0, causal=False)
    assert (vq.vq_attention_bidirectional(q, z, v, codebook) - dense).abs().max() < 1e-12


def test_one_block_against_many_with_the_recurrent_state():
    """Official test 1 (forward consistency): segments carried by the state = one call."""
    q, k, v, codebook, bias = _problem(n=256, block=32, dtype=torch.float32)
    z, k_hat, _ = vq.quantize(k, codebook)
    whole = vq.vq_attention(q, k_hat, z, v, codebook, 32, bias=bias)
    outs, state = [], None
    for start, stop in ((0, 32), (32, 128), (128, 160), (160, 256)):
        sl = slice(start, stop)
        out, state = vq.vq_attention(
            q[:, sl], k_hat[:, sl], z[:, sl], v[:, sl], codebook, 32,
            bias=bias, state=state, return_state=True,
        )  # fmt: skip
        outs.append(out)
    assert torch.allclose(torch.cat(outs, 1), whole, atol=5e-6, rtol=5e-5)


def test_log_count_bias():
    """Official test 2: exp(score + log count) = count * exp(score)."""
    g = torch.Generator().manual_seed(3)
    score = torch.randn(50, generator=g, dtype=torch.float64)
    count = torch.randint(1, 100, (50,), generator=g).double()
    assert torch.allclose((score + count.log()).exp(), count * score.exp(), rtol=1e-14)


def test_jacobian_is_lower_triangular():
    """Official test 3: output i does not depend on inputs j > i (causality)."""
    torch.manual_seed(0)
    model = TransformerLM(
        d_model=16, n_heads=2, n_layers=1, attention="vq", block_len=4, n_code=4,
        window_bias=True, qk_rmsnorm=True,
    )  # fmt: skip
    model.eval()
    x = torch.randn(1, 12, 16, dtype=torch.float32)
    attn = model.blocks[0].attn
    jac = torch.autograd.functional.jacobian(lambda t: attn(t).sum(-1), x)[0, :, 0, :, :]
    upper = torch.triu(jac.abs().sum(-1), diagonal=1)
    assert upper.max() == 0 and jac.abs().sum() > 0


# ----------------------------------------------------------------------------- gradients
def test_straight_through_value_and_jacobian():
    k = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    codebook = torch.randn(4, 3, dtype=torch.float64)
    z, k_hat, _ = vq.quantize(k, codebook)
    assert torch.equal(k_hat.detach(), codebook[z])
    jac = torch.autograd.functional.jacobian(lambda t: vq.quantize(t, codebook)[1], k)
    assert torch.equal(jac.reshape(15, 15), torch.eye(15, dtype=torch.float64))


def _grads(fn, q, k, v):
    q, k, v = (t.clone().requires_grad_(True) for t in (q, k, v))
    out = fn(q, k, v)
    out.sum().backward()
    return out.detach(), q.grad, k.grad, v.grad


def test_truncated_gradient_reaches_only_the_last_two_blocks():
    n, block = 48, 8
    q, k, v, codebook, bias = _problem(n=n, dk=4, dv=3, c=5, block=block, batch=1, seed=7)
    w = vq.window_bias_matrix(bias, n)

    def dense(q, k, v):
        _, k_hat, _ = vq.quantize(k, codebook)
        return attention_reference(q, k_hat, v, scale=1.0, bias=w)[:, -block:]

    def blocks(q, k, v, cache_grad=False):
        z, k_hat, _ = vq.quantize(k, codebook)
        out = vq.vq_attention(q, k_hat, z, v, codebook, block, bias=bias, cache_grad=cache_grad)
        return out[:, -block:]

    d_out, d_q, d_k, d_v = _grads(dense, q, k, v)
    b_out, b_q, b_k, b_v = _grads(blocks, q, k, v)
    recent, old = slice(n - 2 * block, n), slice(0, n - 2 * block)
    assert torch.allclose(b_out, d_out, atol=1e-12) and torch.allclose(b_q, d_q, atol=1e-12)
    assert torch.allclose(b_k[:, recent], d_k[:, recent], atol=1e-12)
    assert torch.allclose(b_v[:, recent], d_v[:, recent], atol=1e-12)
    assert b_k[:, old].abs().max() == 0 and b_v[:, old].abs().max() == 0
    assert d_k[:, old].abs().max() > 1e-3 and d_v[:, old].abs().max() > 1e-3
    # with the gradient through the cache, values get it all; cached keys still none
    _, _, c_k, c_v = _grads(lambda *a: blocks(*a, cache_grad=True), q, k, v)
    assert torch.allclose(c_v, d_v, atol=1e-12) and c_k[:, old].abs().max() == 0


def test_every_key_gets_some_gradient_from_a_loss_over_all_positions():
    q, k, v, codebook, bias = _problem(n=48, dk=4, dv=3, c=5, block=8, batch=1, seed=7)

    def blocks(q, k, v):
        z, k_hat, _ = vq.quantize(k, codebook)
        return vq.vq_attention(q, k_hat, z, v, codebook, 8, bias=bias)

    _, _, g_k, g_v = _grads(blocks, q, k, v)
    assert (g_k.abs().sum(-1) > 0).all() and (g_v.abs().sum(-1) > 0).all()


# ----------------------------------------------------------------------------- EMA codebook
@pytest.mark.parametrize("heads", [None, 3])
def test_ema_is_one_sgd_step_with_lr_one(heads):
    torch.manual_seed(0)
    book = vq.EMACodebook(6, 4, heads=heads).double()
    keys = torch.randn(2, 3, 10, 4, dtype=torch.float64) if heads else torch.randn(40, 4).double()
    z, _, _ = vq.quantize(keys, book.codebook)
    tgt_sum, tgt_count = book.targets(keys, z)
    opt = torch.optim.SGD(book.parameters(), lr=1.0)
    opt.zero_grad()
    book.surrogate_loss(keys, z).backward()
    opt.step()
    assert torch.allclose(book.c_sum, tgt_sum, atol=1e-15, rtol=0)
    assert torch.allclose(book.c_count, tgt_count, atol=1e-15, rtol=0)
    # and the targets are the EMA of the per-code sums, computed independently
    other = vq.EMACodebook(6, 4, heads=heads).double()
    flat_k = keys.reshape(-1, 4) if heads is None else keys[:, 0].reshape(-1, 4)
    flat_z = z.reshape(-1) if heads is None else z[:, 0].reshape(-1)
    c0 = other.c_sum.detach().clone() if heads is None else other.c_sum.detach()[0].clone()
    manual = 0.99 * c0
    for key, code in zip(flat_k, flat_z, strict=True):
        manual[code] += 0.01 * key
    other.update(keys, z)
    got = other.c_sum if heads is None else other.c_sum[0]
    assert torch.allclose(got, manual, atol=1e-12)


def test_ema_codewords_approach_cluster_means():
    torch.manual_seed(0)
    centres = torch.randn(4, 2) * 5
    book = vq.EMACodebook(4, 2, gamma=0.9)
    book.initialize(centres.repeat(8, 1) + 0.1 * torch.randn(32, 2))
    for _ in range(100):
        keys = centres.repeat(16, 1) + 0.1 * torch.randn(64, 2)
        z, _, _ = vq.quantize(keys, book.codebook)
        book.update(keys, z)
    gap = torch.cdist(book.codebook, centres).min(-1).values
    assert gap.max() < 0.1


# ----------------------------------------------------------------------------- errors
def test_bad_input_names_the_argument():
    q, k, v, codebook, bias = _problem(n=64, block=16)
    z, k_hat, _ = vq.quantize(k, codebook)
    with pytest.raises(ValueError, match="block_len"):
        vq.vq_attention(q, k_hat, z, v, codebook, 24)
    with pytest.raises(ValueError, match="n_code"):
        vq.EMACodebook(0, 4)
    with pytest.raises(ValueError, match="head dimension"):
        vq.quantize(k, codebook[:, :3])
    with pytest.raises(ValueError, match="codebook"):
        vq.vq_attention(q, k_hat, z, v, codebook[:, :3], 16)
    with pytest.raises(ValueError, match="bias"):
        vq.vq_attention(q, k_hat, z, v, codebook, 16, bias=bias[:3])
    with pytest.raises(ValueError, match="n_code"):
        vq.kmeans(torch.randn(3, 2), 5)
    with pytest.raises(ValueError, match="n_heads"):
        LMConfig(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="attention"):
        LMConfig(attention="sparse")
    model = TransformerLM(d_model=16, n_heads=2, n_layers=1, attention="vq", block_len=8)
    with pytest.raises(ValueError, match="block_len"):
        model(torch.zeros(1, 12, dtype=torch.long))


# ----------------------------------------------------------------------------- LM and corpus
@pytest.mark.parametrize("attention", ["dense", "vq"])
def test_lm_trains_a_few_steps(attention):
    torch.manual_seed(0)
    corpus = stdlib_corpus(20_000)
    model = TransformerLM(
        d_model=32, n_heads=2, n_layers=1, attention=attention, block_len=16, n_code=8,
        window_bias=True, qk_rmsnorm=True,
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = byte_batches(corpus.train, 4, 64, generator=torch.Generator().manual_seed(0))
    losses = []
    for _ in range(15):
        loss = lm_loss(model, next(batches))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0


def test_corpus_is_deterministic_and_checked():
    a, b = stdlib_corpus(5000), stdlib_corpus(5000)
    assert a.sha256 == b.sha256 and a.files == b.files and a.n_bytes == 5000
    assert int(a.train.max()) < 256 and a.python_version
    with pytest.raises(ValueError, match="pattern"):
        stdlib_files("*.no-such-extension")
    with pytest.raises(ValueError, match="max_bytes"):
        stdlib_corpus(0)


def test_vq_attention_and_lm_run_on_the_meta_device():
    """Device-agnostic: no tensor is created on another device than the inputs'."""
    with torch.device("meta"):
        q, k, v = torch.randn(2, 64, 8), torch.randn(2, 64, 8), torch.randn(2, 64, 4)
        codebook, bias = torch.randn(16, 8), torch.randn(16)
        model = TransformerLM(d_model=16, n_heads=2, n_layers=1, window_bias=True)
        tokens = torch.zeros(1, 32, dtype=torch.long)
    z, k_hat, _ = vq.quantize(k, codebook)
    out = vq.vq_attention(q, k_hat, z, v, codebook, 16, bias=bias)
    assert out.device.type == "meta" and out.shape == (2, 64, 4)
    assert model(tokens).device.type == "meta"


def test_ema_codebook_matches_vector_quantize_pytorch():
    """Our EMA statistics are vector-quantize-pytorch's (``Codebook``): ``c_count`` is its
    ``cluster_size`` and ``c_sum`` its ``embed_avg``, both moved by ``lerp(new, 1 - decay)``
    with decay = gamma.  Only the division differs: it smooths the counts (Laplace, eps) where
    we clamp them at 0.01, so the codewords agree once the same division is applied."""
    from vector_quantize_pytorch.vector_quantize_pytorch import Codebook, laplace_smoothing

    torch.manual_seed(0)
    n_code, dim, gamma = 8, 4, 0.9
    ours = vq.EMACodebook(n_code, dim, gamma=gamma).double()
    theirs = Codebook(dim, n_code, decay=gamma, eps=1e-5).double()
    with torch.no_grad():
        theirs.cluster_size.copy_(ours.c_count.detach()[None])
        theirs.embed_avg.copy_(ours.c_sum.detach()[None])
    for _ in range(5):
        keys = torch.randn(64, dim, dtype=torch.float64)
        z, _, _ = vq.quantize(keys, ours.codebook)
        onehot = torch.nn.functional.one_hot(z, n_code).double()
        ours.update(keys, z)
        theirs.track_cluster_size_and_embed_avg(keys[None], onehot[None])
        torch.testing.assert_close(
            theirs.cluster_size[0], ours.c_count.detach(), rtol=0, atol=1e-12
        )
        torch.testing.assert_close(theirs.embed_avg[0], ours.c_sum.detach(), rtol=0, atol=1e-12)
    theirs.update_ema()
    smoothed = laplace_smoothing(ours.c_count.detach(), n_code, 1e-5) * ours.c_count.sum()
    torch.testing.assert_close(
        theirs.embed[0], ours.c_sum.detach() / smoothed[:, None], atol=1e-12, rtol=0
    )
    # and the two divisions differ by O(eps) where every count is well above the 0.01 floor
    assert (ours.c_count > 0.01).all()
    assert torch.allclose(theirs.embed[0], ours.codebook, rtol=1e-4)
