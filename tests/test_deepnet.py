"""Chapter 1 (DeepNorm, increment explosion): theory, blocks, increments, tasks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

import deepnotes as dn
from deepnotes import blocks, increment, tasks
from deepnotes.theory import deepnet as th

N = th.N
Q = sp.Rational


def same(a, b) -> bool:
    return sp.simplify(a - b) == 0


# ---------------------------------------------------------------------------
# Theory
# ---------------------------------------------------------------------------


def test_theory_imports_no_torch():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(th))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [x for x in names if x and x.split(".")[0] == "torch"]


def test_first_order_increments():
    g = sp.Symbol("g", real=True)
    tn = sp.Symbol("theta_norm", positive=True)
    assert same(th.first_order_increment("sgd")[1], -th.eta * g**2)
    assert same(th.first_order_increment("adam")[1], -th.eta * sp.Abs(g))
    assert same(th.first_order_increment("lamb")[1], -th.eta * tn * sp.Abs(g))
    assert same(th.plain_sgd_increment(), th.eta * N * th.K * th.G)
    for opt in th.OPTIMIZERS:
        assert th.sign_rewrite_residual(opt) == 0


def test_sign_rewrite_check_can_fail():
    # |g| in place of g sign(g) is an identity; -|g| or g would not be.
    g = sp.Symbol("g", real=True)
    assert sp.simplify(g * sp.sign(g) - sp.Abs(g)) == 0
    assert sp.simplify(g * sp.sign(g) + sp.Abs(g)) != 0
    assert sp.simplify(g * sp.sign(g) - g) != 0


def test_probe_closed_form_and_chain_rule():
    kappa2, target = th.probe_scale_closed_form(4)
    assert same(kappa2, target)
    assert th.probe_chain_rule_residual() == 0
    assert th.relu_homogeneity_residual() == (0, 0)
    assert th.deepnorm_scale_invariance_residual(3) == 0


def test_layer_norm_identity_on_three_entries_can_fail():
    # On two entries LN(v) is only the sign of v1 - v2; on three, alpha on the branch
    # (the labml variant) leaves a residual that is not zero.
    three = th.deepnorm_scale_invariance_residual(3, branch_weight=th.alpha, simplify=False)
    vals = {sp.Symbol(f"x{i}", real=True): v for i, v in enumerate((0.3, -1.2, 0.8), 1)}
    vals |= {sp.Symbol(f"f{i}", real=True): v for i, v in enumerate((1.0, 0.1, -0.5), 1)}
    vals[th.alpha] = 2.0
    assert float(three.subs(vals)) > 1e-3


def test_probe_scale_numeric():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((32, 32)))
    assert th.probe_scale(0.3 * q) == pytest.approx(0.3)
    w = rng.standard_normal((16, 24))
    assert th.probe_scale(-2.5 * w) == pytest.approx(2.5 * th.probe_scale(w))
    # closed form equals the numeric argmin over kappa
    gram = w @ w.T
    ks = np.linspace(0.5, 10, 20001)
    errs = [np.linalg.norm(gram / k**2 - np.eye(16)) for k in ks]
    assert th.probe_scale(w) == pytest.approx(ks[int(np.argmin(errs))], abs=1e-3)
    with pytest.raises(ValueError, match="weight"):
        th.probe_scale(np.zeros(3))


def test_branch_gradients_are_lambda_over_alpha():
    for got, want in th.branch_scale_gradients().values():
        assert same(got, want)


def test_conditions_and_su_table():
    a, lam = th.alpha, th.lam
    assert th.condition("sgd") == sp.Eq(lam / a, (2 * N) ** Q(-1, 2))
    assert same(th.condition("adam").rhs, 1 / (2 * N))
    assert same(th.condition("lamb").lhs, lam**2 / a)
    table = th.su_table()
    want = {
        "sgd": ((2 * N) ** Q(1, 4), (2 * N) ** Q(-1, 4)),
        "adam": ((2 * N) ** Q(1, 2), (2 * N) ** Q(-1, 2)),
        "lamb": (sp.Integer(1), (2 * N) ** Q(-1, 2)),
    }
    for opt, (wa, wl) in want.items():
        assert same(table[opt]["alpha"], wa), opt
        assert same(table[opt]["lambda"], wl), opt
        # the constants make the increment order exactly 1
        assert same(th.increment_order(opt, wa, wl), 1)
    assert same(th.solve_constants("lamb", "symmetric")["alpha"], (2 * N) ** Q(1, 3))
    alt1, alt2 = th.solve_constants("sgd", "alpha_one"), th.solve_constants("sgd", "lambda_one")
    assert same(alt1["lambda"], (2 * N) ** Q(-1, 2)) and same(alt2["alpha"], (2 * N) ** Q(1, 2))


def test_numeric_constants_match_brief_table():
    table = th.su_table()
    for n, sa, sl, aa, al in [
        (6, 1.8612, 0.5373, 3.4641, 0.2887),
        (1000, 6.6874, 0.1495, 44.7214, 0.0224),
    ]:
        assert float(table["sgd"]["alpha"].subs(N, n)) == pytest.approx(sa, abs=1e-4)
        assert float(table["sgd"]["lambda"].subs(N, n)) == pytest.approx(sl, abs=1e-4)
        assert float(table["adam"]["alpha"].subs(N, n)) == pytest.approx(aa, abs=1e-4)
        assert float(table["adam"]["lambda"].subs(N, n)) == pytest.approx(al, abs=1e-4)


def test_paper_relations_and_post_hoc():
    rel = th.paper_relations()
    assert same(rel["beta_over_alpha"], (4 * N) ** Q(-1, 2))
    assert same(rel["alpha_times_beta"], 1 / sp.sqrt(2))
    assert rel["sgd_budget"] == 1 and rel["decoder_budget"] == 1
    assert same(rel["combined_scale"], th.condition("sgd").rhs)
    assert same(rel["su_lambda_over_beta"], sp.sqrt(2))
    assert same(rel["decoder_alpha_times_beta"], 1 / sp.sqrt(2))
    assert rel["su_alpha_over_alpha"] == 1  # the two derivations agree on alpha
    ed = th.paper_constants("encoder_decoder")
    vals = {N: 8, th.M: 4}
    assert float(ed["alpha_encoder"].subs(vals)) == pytest.approx(1.48555, abs=1e-5)
    assert float(ed["alpha_decoder"].subs(vals)) == pytest.approx(1.86121, abs=1e-5)
    for opt, want in [("sgd", Q(-3, 4)), ("adam", Q(-3, 2)), ("lamb", -1)]:
        scale = th.post_hoc_branch_scale(opt)
        assert same(scale, (2 * N) ** want)
        assert sp.limit(scale, N, sp.oo) == 0
    assert same(th.preln_constants("sgd"), (2 * N) ** Q(-1, 2))
    assert same(th.preln_constants("adam"), 1 / (2 * N))


def test_predicted_slopes():
    assert th.predicted_slope("post_ln", "sgd") == 1
    assert th.predicted_slope("pre_ln", "sgd") is None
    for scheme, opt in [("su_sgd", "sgd"), ("su_adam", "adam"), ("su_lamb", "lamb")]:
        assert th.predicted_slope(scheme, opt) == 0
    assert th.predicted_slope("deepnorm_paper", "adam") == pytest.approx(0.5)
    assert th.predicted_slope("su_sgd", "lamb") == pytest.approx(0.25)


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.condition("rmsprop"),
        lambda: th.solve_constants("sgd", "bogus"),
        lambda: th.paper_constants("bogus"),
        lambda: th.scheme_constants("bogus"),
        lambda: th.scheme_values("su_sgd", 0),
        lambda: th.probe_scale_closed_form(0),
    ],
)
def test_theory_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------


def _block(kind="ffn", norm="post", alpha=2.0, seed=0):
    torch.manual_seed(seed)
    b = blocks.Block(16, kind, norm, alpha, heads=2)
    with torch.no_grad():  # make LN's affine non-trivial
        b.ln.weight.uniform_(0.5, 1.5)
        b.ln.bias.uniform_(-0.5, 0.5)
    return b


@pytest.mark.parametrize("kind", ["ffn", "attn"])
def test_deepnorm_block_is_exact_formula(kind):
    b = _block(kind, "post", alpha=3.0)
    x = torch.randn(2, 5, 16)
    fx = b.branch(x)
    want = F.layer_norm(3.0 * x + fx, (16,), b.ln.weight, b.ln.bias, b.ln.eps)
    torch.testing.assert_close(b(x), want, rtol=0, atol=0)
    # The labml-style variant LN(x + alpha F(x)) is not what DeepNorm computes.
    wrong = F.layer_norm(x + 3.0 * fx, (16,), b.ln.weight, b.ln.bias, b.ln.eps)
    assert (b(x) - wrong).abs().max() > 0.1
    # ... and by scale invariance DeepNorm equals LN(x + F(x)/alpha) up to eps
    inv = F.layer_norm(x + fx / 3.0, (16,), b.ln.weight, b.ln.bias, 0.0)
    torch.testing.assert_close(b(x), inv, rtol=1e-4, atol=1e-4)


def test_feedforward_and_attention_formulas():
    torch.manual_seed(0)
    ffn = blocks.FeedForward(8, 4)
    x = torch.randn(3, 4, 8)
    want = F.linear(F.relu(F.linear(x, ffn.fc1.weight, ffn.fc1.bias)), ffn.fc2.weight, ffn.fc2.bias)
    torch.testing.assert_close(ffn(x), want)
    att = blocks.SelfAttention(8, heads=1)
    q, k, v = att.q_proj(x), att.k_proj(x), att.v_proj(x)
    weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(8), dim=-1)
    torch.testing.assert_close(att(x), att.out_proj(weights @ v), rtol=1e-5, atol=1e-6)


def _torch_layer(norm_first: bool, d=16, heads=2, seed=0):
    """``nn.TransformerEncoderLayer`` (relu, no dropout) and our (attn, ffn) block pair with its
    weights: an independent implementation of Pre-LN (``norm_first``) and Post-LN."""
    torch.manual_seed(seed)
    ref = torch.nn.TransformerEncoderLayer(
        d, heads, 4 * d, dropout=0.0, activation="relu", batch_first=True, norm_first=norm_first
    ).eval()
    with torch.no_grad():  # non-trivial LN affine
        for ln in (ref.norm1, ref.norm2):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    norm = "pre" if norm_first else "post"
    attn, ffn = blocks.Block(d, "attn", norm, heads=heads), blocks.Block(d, "ffn", norm)
    q, k, v = ref.self_attn.in_proj_weight.chunk(3)
    qb, kb, vb = ref.self_attn.in_proj_bias.chunk(3)
    with torch.no_grad():
        for lin, w, b in [
            (attn.branch.q_proj, q, qb),
            (attn.branch.k_proj, k, kb),
            (attn.branch.v_proj, v, vb),
            (attn.branch.out_proj, ref.self_attn.out_proj.weight, ref.self_attn.out_proj.bias),
            (ffn.branch.fc1, ref.linear1.weight, ref.linear1.bias),
            (ffn.branch.fc2, ref.linear2.weight, ref.linear2.bias),
        ]:
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        attn.ln.load_state_dict(ref.norm1.state_dict())
        ffn.ln.load_state_dict(ref.norm2.state_dict())
    return ref, attn, ffn


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre", "post"])
def test_blocks_equal_torch_transformer_layer(norm_first):
    ref, attn, ffn = _torch_layer(norm_first)
    x = torch.randn(3, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(ffn(attn(x)), ref(x), rtol=1e-5, atol=1e-5)
        # the check can fail: the other placement of the norm does not match
        other = _torch_layer(not norm_first)[0]
        other.load_state_dict(ref.state_dict())
        assert (ffn(attn(x)) - other(x)).abs().max() > 0.1


def test_no_residual_blocks_equal_torch_modules():
    torch.manual_seed(0)
    x = torch.randn(3, 7, 16)
    ffn = _block("ffn", "none", 1.0)
    ref_ffn = torch.nn.Sequential(ffn.branch.fc1, torch.nn.ReLU(), ffn.branch.fc2, ffn.ln)
    attn = _block("attn", "none", 1.0)
    mha = torch.nn.MultiheadAttention(16, 2, batch_first=True)
    br = attn.branch
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([br.q_proj.weight, br.k_proj.weight, br.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat([br.q_proj.bias, br.k_proj.bias, br.v_proj.bias]))
        mha.out_proj.load_state_dict(br.out_proj.state_dict())
        torch.testing.assert_close(ffn(x), ref_ffn(x))
        torch.testing.assert_close(attn(x), attn.ln(mha(x, x, x, need_weights=False)[0]))
        assert (ffn(x) - (x + ref_ffn(x))).abs().max() > 0.1  # a residual would not match


def test_init_block_scales():
    torch.manual_seed(0)
    b = blocks.Block(256, "attn", "post", 1.0, heads=4)
    blocks.init_block(b, 0.25)
    xavier = math.sqrt(2.0 / 512)
    assert float(b.branch.v_proj.weight.detach().std()) == pytest.approx(0.25 * xavier, rel=0.03)
    assert float(b.branch.out_proj.weight.detach().std()) == pytest.approx(0.25 * xavier, rel=0.03)
    assert float(b.branch.q_proj.weight.detach().std()) == pytest.approx(xavier, rel=0.03)
    assert float(b.branch.v_proj.bias.detach().abs().max()) == 0.0


@pytest.mark.parametrize("scheme", blocks.SCHEMES)
def test_encoder_schemes(scheme):
    g = torch.Generator().manual_seed(0)
    m = blocks.DeepNarrowEncoder(3, scheme, d=16, vocab=8, max_len=8, heads=2, generator=g)
    a, lam, norm = blocks.scheme_constants(scheme, 3)
    assert m.alpha == a and m.lam == lam and m.norm == norm
    assert len(m.blocks) == 6 and [b.kind for b in m.blocks[:2]] == ["attn", "ffn"]
    assert len(list(m.branch_parameters())) == 6 * 3
    out = m(torch.randint(0, 8, (2, 5)))
    assert out.shape == (2, 5, 8) and torch.isfinite(out).all()


def test_encoder_deterministic():
    def build():
        g = torch.Generator().manual_seed(3)
        return blocks.DeepNarrowEncoder(2, "su_sgd", d=16, vocab=8, heads=2, generator=g)

    x = torch.randint(0, 8, (2, 4))
    torch.testing.assert_close(build()(x), build()(x))


def test_sublayer_trace_scales_like_lambda2_over_alpha():
    # su_sgd: lam^2/alpha = (2N)^(-3/4); the alternative lam^3/alpha = (2N)^(-1) is 0.25 away.
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 16, (8, 16), generator=g)
    depths = (4, 16, 64)
    traces = [
        np.mean(blocks.DeepNarrowEncoder(n, "su_sgd", generator=g).sublayer_trace(x))
        for n in depths
    ]
    fit = dn.loglog_slope(depths, traces)
    assert fit.slope == pytest.approx(-0.75, abs=0.08)
    post = blocks.DeepNarrowEncoder(4, "post_ln", d=64, vocab=16, generator=g)
    assert np.mean(post.sublayer_trace(x)) > 0.3


def test_encoder_alpha_is_what_its_blocks_use():
    # Issue 9: a Pre-LN stack built from an Adam scheme reported alpha = 2 while its blocks used 1.
    m = blocks.DeepNarrowEncoder(2, "su_adam", norm="pre", d=16, heads=2)
    assert m.alpha == 1.0 and {b.alpha for b in m.blocks} == {1.0}
    m = blocks.DeepNarrowEncoder(2, "su_adam", d=16, heads=2)
    assert m.alpha == pytest.approx(2.0) and {b.alpha for b in m.blocks} == {m.alpha}
    with pytest.raises(ValueError, match="alpha"):
        blocks.DeepNarrowEncoder(2, "post_ln", alpha=2.0, norm="pre", d=16, heads=2)


def test_numpy_integers_accepted():
    m = blocks.DeepNarrowEncoder(np.int64(4), d=16, heads=2)
    assert m.depth == 4 and len(m.blocks) == 8
    recs = increment.increment_sweep(["su_sgd"], list(np.array([2, 4])), d=16, heads=2)
    assert sorted({r["N"] for r in recs}) == [2, 4]
    with pytest.raises(ValueError, match="depths"):
        increment.increment_sweep(["su_sgd"], [True])
    with pytest.raises(ValueError, match="depths"):
        increment.increment_sweep(["su_sgd"], [2.5])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: blocks.DeepNarrowEncoder(0), "depth"),
        (lambda: blocks.DeepNarrowEncoder(2, "bogus"), "scheme"),
        (lambda: blocks.DeepNarrowEncoder(2, alpha=0.0), "alpha"),
        (lambda: blocks.DeepNarrowEncoder(2, lam=-1.0), "lam"),
        (lambda: blocks.Block(8, "conv"), "kind"),
        (lambda: blocks.Block(8, "ffn", "mid"), "norm"),
        (lambda: blocks.Block(8, "ffn", "post", alpha=-2.0), "alpha"),
        (lambda: blocks.Block(8, "ffn", "pre", alpha=2.0), "alpha"),
        (lambda: blocks.SelfAttention(10, heads=3), "heads"),
        (lambda: blocks.scheme_constants("su_sgd", 0), "depth"),
        (lambda: blocks.init_block(blocks.Block(8), 0.0), "lam"),
    ],
)
def test_blocks_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ---------------------------------------------------------------------------
# Increments and tasks
# ---------------------------------------------------------------------------


def test_one_step_increment_matches_first_order_and_restores():
    g = torch.Generator().manual_seed(0)
    m = blocks.DeepNarrowEncoder(2, "su_sgd", d=32, vocab=16, heads=2, generator=g)
    batch = tasks.reversal_batch(8, 8, 16, g)
    before = [p.detach().clone() for p in m.parameters()]
    res = increment.one_step_increments(
        m, tasks.token_loss, batch, {"sgd": 1e-3, "adam": 1e-5, "lamb": 1e-4}
    )
    for p, q in zip(m.parameters(), before, strict=True):
        assert torch.equal(p, q)
    for opt, r in res.items():
        assert r["actual"] < 0 and r["first_order"] < 0, opt
        assert r["actual"] == pytest.approx(r["first_order"], rel=0.05), opt
    assert res["sgd"]["first_order"] == pytest.approx(-1e-3 * res["sgd"]["grad_sq"], rel=1e-6)
    assert res["adam"]["first_order"] == pytest.approx(-1e-5 * res["adam"]["grad_l1"], rel=1e-4)
    single = increment.one_step_increment(m, tasks.token_loss, batch, "sgd", 1e-3)
    assert single["first_order"] == pytest.approx(res["sgd"]["first_order"], rel=1e-6)


def test_adam_first_step_is_sign_step():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5, 5))
    p0 = p.detach().clone()
    opt = torch.optim.Adam([p], lr=1e-2)
    (p**3).sum().backward()
    grad = p.grad.clone()
    opt.step()
    torch.testing.assert_close(p.detach() - p0, -1e-2 * grad / (grad.abs() + 1e-8))


def test_increment_bad_input_and_probes():
    m = blocks.DeepNarrowEncoder(1, d=16, vocab=8, heads=2)
    batch = tasks.reversal_batch(2, 4, 8)
    with pytest.raises(ValueError, match="optimizer"):
        increment.one_step_increment(m, tasks.token_loss, batch, "rmsprop")
    with pytest.raises(ValueError, match="lr"):
        increment.one_step_increments(m, tasks.token_loss, batch, {"sgd": -1.0})
    with pytest.raises(ValueError, match="gradient"):
        increment.bottom_gradient_norm(m)
    tasks.token_loss(m, batch).backward()
    assert increment.bottom_gradient_norm(m) > 0
    assert "blocks.1.branch.fc1.weight" in increment.gradient_norms(m)


def test_tasks():
    g = torch.Generator().manual_seed(0)
    x, y = tasks.reversal_batch(3, 5, 7, g)
    assert torch.equal(y, x.flip(1))
    it = tasks.permutation_task(4, 6, 16, g)
    x1, y1 = next(it)
    x2, y2 = next(it)
    assert x1.min() >= 1 and y1.min() >= 1
    table = {}
    for a, b in zip(
        torch.cat([x1, x2]).flatten().tolist(), torch.cat([y1, y2]).flatten().tolist(), strict=True
    ):
        assert table.setdefault(a, b) == b  # one fixed map
    for call in (
        lambda: tasks.reversal_batch(0, 5, 7),
        lambda: next(tasks.permutation_task(2, 2, 2)),
    ):
        with pytest.raises(ValueError):
            call()


def test_seeded_reproducible():
    dn.seed_all(0)
    a = blocks.DeepNarrowEncoder(1, d=16, vocab=8, heads=2).head.weight.clone()
    dn.seed_all(0)
    b = blocks.DeepNarrowEncoder(1, d=16, vocab=8, heads=2).head.weight
    assert torch.equal(a, b)


def test_each_optimizer_flat_under_its_own_constants():
    schemes = ["post_ln", "su_sgd", "su_adam", "su_lamb"]
    fits = increment.slope_table(increment.increment_sweep(schemes, [2, 8, 32]))
    for own in [("su_sgd", "sgd"), ("su_adam", "adam"), ("su_lamb", "lamb")]:
        assert abs(fits[own].slope) < 0.1, (own, fits[own].slope)
    for scheme in schemes[1:]:
        for opt in th.OPTIMIZERS:
            assert abs(fits[(scheme, opt)].slope - th.predicted_slope(scheme, opt)) < 0.15
    assert all(fits[("post_ln", o)].slope > 0.8 for o in th.OPTIMIZERS)


def test_sweep_and_training_helpers():
    with pytest.raises(ValueError, match="schemes"):
        increment.increment_sweep(["bogus"], [2])
    with pytest.raises(ValueError, match="depths"):
        increment.increment_sweep(["su_sgd"], [0])
    with pytest.raises(ValueError, match="key"):
        increment.slope_table([], key="bogus")
    with pytest.raises(ValueError, match="warmup"):
        increment.train_no_warmup("post_ln", 1, steps=2, warmup=-1)
    h = increment.train_no_warmup("deepnorm_paper", 2, steps=3, warmup=2, probe_every=2)
    assert len(h["loss"]) == len(h["grad"]) == len(h["output_change"]) == 3
    assert math.isnan(h["output_change"][0]) and h["output_change"][1] > 0
    assert h["lr"][0] == pytest.approx(5e-4)


def test_first_order_only_sweep_and_seed_slopes():
    full = increment.increment_sweep(["su_sgd"], [2, 4, 8], seeds=[0, 1], d=16, heads=2)
    fast = increment.increment_sweep(
        ["su_sgd"], [2, 4, 8], seeds=[0, 1], d=16, heads=2, actual=False
    )
    for a, b in zip(full, fast, strict=True):
        assert a["first_order"] == pytest.approx(b["first_order"], rel=1e-12)
        assert math.isnan(b["actual"]) and a["matrices"] == 6 * a["N"]
    with pytest.raises(ValueError, match="finite"):  # NaN is not silently dropped
        increment.slope_table(fast, key="actual")
    per_seed = increment.seed_slopes(full, key="first_order")
    assert per_seed[("su_sgd", "sgd")].shape == (2,)
    one = increment.slope_table([r for r in full if r["seed"] == 1], key="first_order")
    assert per_seed[("su_sgd", "adam")][1] == pytest.approx(one[("su_sgd", "adam")].slope)


def test_run_jobs_matches_serial():
    jobs = [
        (increment.increment_sweep, dict(schemes=[s], depths=[1, 2], d=16, heads=2))
        for s in ("post_ln", "su_adam", "pre_ln")
    ]
    assert increment.run_jobs(jobs, workers=2) == increment.run_jobs(jobs, workers=1)
    with pytest.raises(ValueError, match="jobs"):
        increment.run_jobs([lambda: 0], workers=1)
    with pytest.raises(ValueError, match="workers"):
        increment.run_jobs(jobs, workers=0)


def test_chapter_reductions_propagate_nan():
    # Python's max/min drop NaN (max(0.0, nan) == 0.0); the chapter reduces with NumPy.
    import ast
    from pathlib import Path

    import nbformat

    path = Path(__file__).resolve().parents[1] / "chapters" / "01-deepnet.ipynb"
    bad = []
    for i, c in enumerate(nbformat.read(path, as_version=4).cells):
        if c.cell_type != "code":
            continue
        src = "\n".join(
            line[: len(line) - len(line.lstrip())] + "pass"
            if line.lstrip().startswith("%")
            else line
            for line in c.source.splitlines()
        )
        for node in ast.walk(ast.parse(src)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("max", "min")
            ):
                bad.append((i, ast.unparse(node)[:60]))
    assert not bad, bad
    assert max(0.0, float("nan")) == 0.0  # the pitfall itself
