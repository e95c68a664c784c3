"""Bad input to the numerical modules of Chapters 0-2 and the book-wide helpers.

``deepnotes.blocks``, ``chains``, ``increment``, ``linear``, ``measure``, ``tasks``, ``train``,
``claims``, ``notebook`` and ``plotting`` (``core`` and ``checks`` are in
``tests/test_bad_input_core.py``).  The harness is ``tests/badinput.py``.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from badinput import (  # noqa: E402
    NOT_A_NUMBER,
    NOT_A_NUMBER_OR_NONE,
    Spec,
    choice,
    count,
    make_tests,
    nonnegative,
    open_unit,
    positive,
    tensor,
)
from hypothesis import strategies as st  # noqa: E402

from deepnotes import blocks, chains, claims, increment, measure, plotting  # noqa: E402

#: Not a ``torch.Generator`` (``None`` is the default: the global stream).
GENERATOR = st.sampled_from(["1", 0, object(), torch.Generator])
#: Not a floating ``torch.dtype`` (an integer dtype would silently truncate the weights).
DTYPE = st.sampled_from([torch.int64, torch.bool, "float32", None, float, 1])
#: Not an ``nn.Module``.
MODULE = st.sampled_from([None, "model", 1, object(), lambda x: x])
#: Neither a sequence nor a number (``[1]`` of NOT_A_NUMBER is a good list of counts).
NOT_A_SEQUENCE = st.sampled_from([None, "1", {"a": 1}, object()])
#: Not callable.
NOT_CALLABLE = st.sampled_from([None, "f", 1, object()])


def sequence_of_positive_reals(one_d: bool = True) -> st.SearchStrategy:
    """Bad values for a sequence of finite positive reals (a log-log axis); ``one_d=False``
    where any shape is accepted (an elementwise function)."""
    nested = [[[1.0, 2.0, 4.0]]] if one_d else []
    return st.one_of(
        st.sampled_from(
            [[1.0, math.nan, 4.0], [1.0, 2.0, math.inf], [1.0, -2.0, 4.0], [0.0, 2.0, 4.0]]
        ),
        st.sampled_from([*nested, "124", [1.0, "2", 4.0], [True, False, True]]),
        NOT_A_SEQUENCE,
    )


def sequence_of_counts(low: int = 1) -> st.SearchStrategy:
    """Bad values for a non-empty sequence of integers >= ``low`` (depths, fan-ins)."""
    return st.one_of(
        st.sampled_from([[], [low - 1], [2, 1.5], [math.nan], [True], "4"]),
        NOT_A_SEQUENCE,
    )


def finite_reals() -> st.SearchStrategy:
    """Bad values for a finite real (or an array of them)."""
    return st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf, [1.0, math.nan], "1", True]),
        NOT_A_NUMBER,
    )


def tokens(vocab: int, shape: tuple[int, int]) -> st.SearchStrategy:
    """Bad token batches for an embedding of ``vocab`` rows: out of range, float, wrong rank."""
    b, t = shape
    return st.one_of(
        st.sampled_from([vocab, vocab + 3, -1]).map(lambda v: torch.full(shape, v)),
        st.just(torch.zeros(shape)),  # float tokens
        st.just(torch.zeros(b, t, 2, dtype=torch.long)),
        st.just(torch.zeros(t, dtype=torch.long)),
        st.just(torch.zeros(b, 1000, dtype=torch.long)),  # longer than max_len
        NOT_A_NUMBER,
    )


# --------------------------------------------------------------------------- fixtures


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _encoder() -> blocks.DeepNarrowEncoder:
    return blocks.DeepNarrowEncoder(
        1, "post_ln", d=8, vocab=5, max_len=6, heads=2, generator=_gen()
    )


def _tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 1)


def _mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def _batch():
    g = _gen()
    return torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g)


def _records():
    return [
        {
            "scheme": "su_sgd",
            "optimizer": "sgd",
            "N": n,
            "seed": s,
            "lr": 1e-3,
            "actual": a,
            "first_order": a,
        }
        for s in (0, 1)
        for n, a in ((1, 1e-3), (2, 2.1e-3), (4, 3.9e-3))
    ]


def _chain():
    return chains.ResidualChain(4, 2, 0.5, generator=_gen())


def _problem():
    return chains.chain_problem(4, 3, 2, generator=_gen(1))


def _hessian_args():
    model, problem = _chain(), _problem()
    return {
        "loss_fn": lambda: chains.chain_loss(model(problem["x"]), problem, "mse"),
        "params": list(model.parameters()),
        "iters": 2,
        "generator": _gen(),
    }


def _fit():
    return measure.loglog_slope([1, 2, 4, 8], [1.0, 2.2, 3.9, 8.1])


def _claim(**kwargs):
    claims.chapter("99-bad-input")
    try:
        return claims.claim(**kwargs)
    finally:
        claims._state.update(chapter=None, claims={})


def _with_axes(fn):
    def call(**kwargs):
        fig, ax = plt.subplots()
        try:
            kwargs = {k: (ax if v == "AX" else v) for k, v in kwargs.items()}
            fn(**kwargs)
        finally:
            plt.close(fig)

    return call


def _close(fig):
    if fig == "FIG":
        fig = plt.figure()
    return plotting.close(fig)


# --------------------------------------------------------------------------- specs

BLOCKS = [
    Spec(
        "deepnotes.blocks.scheme_constants",
        lambda: {"scheme": "su_adam", "depth": 4},
        {"scheme": choice(*blocks.SCHEMES), "depth": count()},
        finite=False,
    ),
    Spec(
        "deepnotes.blocks.SelfAttention",
        lambda: {"d": 8, "heads": 2, "causal": False},
        {"d": count(), "heads": count(), "causal": st.sampled_from([None, "yes", 1, 0.5])},
        finite=False,
    ),
    Spec(
        "deepnotes.blocks.SelfAttention.forward",
        lambda: {"x": torch.randn(2, 3, 8)},
        {"x": tensor((2, 3, 8))},
        call=lambda x: blocks.SelfAttention(8, 2)(x),
    ),
    Spec(
        "deepnotes.blocks.FeedForward",
        lambda: {"d": 8, "mult": 2},
        {"d": count(), "mult": count()},
        finite=False,
    ),
    Spec(
        "deepnotes.blocks.FeedForward.forward",
        lambda: {"x": torch.randn(2, 8)},
        {"x": tensor((2, 8), wrong_ndim=False) | st.just(torch.randn(2, 7))},
        call=lambda x: blocks.FeedForward(8, 2)(x),
    ),
    Spec(
        "deepnotes.blocks.Block",
        lambda: {"d": 8, "kind": "attn", "norm": "post", "alpha": 2.0, "heads": 2, "ffn_mult": 2},
        {
            "d": count(),
            "kind": choice(*blocks.KINDS),
            "norm": choice(*blocks.NORMS),
            "alpha": positive(),
            "heads": count(),
            "ffn_mult": count(),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.blocks.Block.forward",
        lambda: {"x": torch.randn(2, 3, 8)},
        {"x": tensor((2, 3, 8))},
        call=lambda x: blocks.Block(8, "attn", heads=2)(x),
    ),
    Spec(
        "deepnotes.blocks.init_block",
        lambda: {"block": blocks.Block(8, "ffn"), "lam": 0.5, "generator": _gen()},
        {"block": MODULE, "lam": positive(), "generator": GENERATOR},
        finite=False,
    ),
    Spec(
        "deepnotes.blocks.DeepNarrowEncoder",
        lambda: {
            "depth": 1,
            "scheme": "deepnorm_paper",
            "d": 8,
            "vocab": 5,
            "max_len": 6,
            "heads": 2,
            "ffn_mult": 2,
            "alpha": None,
            "lam": None,
            "norm": None,
            "generator": _gen(),
        },
        {
            "depth": count(),
            "scheme": choice(*blocks.SCHEMES),
            "d": count(),
            "vocab": count(low=2),
            "max_len": count(),
            "heads": count(),
            "ffn_mult": count(),
            "alpha": positive(none_ok=True),
            "lam": positive(none_ok=True),
            "norm": choice(*blocks.NORMS, None),
            "generator": GENERATOR,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.blocks.DeepNarrowEncoder.forward",
        lambda: {"tokens": torch.zeros(2, 4, dtype=torch.long)},
        {"tokens": tokens(5, (2, 4))},
        call=lambda tokens: _encoder()(tokens),
    ),
    Spec(
        "deepnotes.blocks.DeepNarrowEncoder.hidden",
        lambda: {"tokens": torch.ones(2, 4, dtype=torch.long)},
        {"tokens": tokens(5, (2, 4))},
        call=lambda tokens: _encoder().hidden(tokens),
    ),
    Spec(
        "deepnotes.blocks.DeepNarrowEncoder.sublayer_trace",
        lambda: {"tokens": torch.ones(2, 4, dtype=torch.long)},
        {"tokens": tokens(5, (2, 4))},
        call=lambda tokens: _encoder().sublayer_trace(tokens),
    ),
]

CHAINS = [
    Spec("deepnotes.chains.check_depth", lambda: {"depth": 3}, {"depth": count()}),
    Spec("deepnotes.chains.check_eps", lambda: {"eps": 0.1}, {"eps": nonnegative()}),
    Spec(
        "deepnotes.chains.orthogonal",
        lambda: {"n": 3, "m": None, "generator": _gen(), "dtype": torch.float64},
        {"n": count(), "m": count(none_ok=True), "generator": GENERATOR, "dtype": DTYPE},
    ),
    Spec(
        "deepnotes.chains.PlainChain",
        lambda: {
            "width": 4,
            "depth": 2,
            "kind": "relu",
            "generator": _gen(),
            "dtype": torch.float32,
        },
        {
            "width": count(),
            "depth": count(),
            "kind": choice("orthogonal", "relu"),
            "generator": GENERATOR,
            "dtype": DTYPE,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.chains.PlainChain.forward",
        lambda: {"x": torch.randn(3, 4)},
        {"x": tensor((3, 4)) | st.just(torch.randn(3, 5)) | st.just(torch.randn(3, 4).double())},
        call=lambda x: chains.PlainChain(4, 2, generator=_gen())(x),
    ),
    Spec(
        "deepnotes.chains.ResidualChain",
        lambda: {"width": 4, "depth": 2, "eps": 0.5, "generator": _gen(), "dtype": torch.float32},
        {
            "width": count(),
            "depth": count(),
            "eps": nonnegative(),
            "generator": GENERATOR,
            "dtype": DTYPE,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.chains.ResidualChain.forward",
        lambda: {"x": torch.randn(3, 4)},
        {"x": tensor((3, 4)) | st.just(torch.randn(3, 5)) | st.just(torch.randn(3, 4).double())},
        call=lambda x: _chain()(x),
    ),
    Spec(
        "deepnotes.chains.make_chain",
        lambda: {
            "name": "residual-0.5",
            "width": 4,
            "depth": 2,
            "generator": _gen(),
            "dtype": torch.float32,
        },
        {
            "name": choice("plain-orthogonal", "plain-relu")
            | st.sampled_from(
                ["residual-", "residual-x", "residual--1", "residual-nan", "residual-inf"]
            ),
            "width": count(),
            "depth": count(),
            "generator": GENERATOR,
            "dtype": DTYPE,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.chains.chain_problem",
        lambda: {"width": 4, "batch": 3, "outputs": 2, "generator": _gen(), "dtype": torch.float32},
        {
            "width": count(),
            "batch": count(),
            "outputs": count(),
            "generator": GENERATOR,
            "dtype": DTYPE,
        },
    ),
    Spec(
        "deepnotes.chains.chain_loss",
        lambda: {"h": torch.randn(3, 4), "problem": _problem(), "loss": "mse"},
        {
            # Non-finite h is accepted: Chapter 2's eps = 1 chain overflows after one SGD step
            # at depth, and the loss reports inf for those "blown" rows.
            "h": tensor((3, 4), nonfinite=False)
            | st.just(torch.randn(3, 5))
            | st.just(torch.randn(2, 4)),
            "problem": st.sampled_from(
                [None, {}, {"x": 1}, "problem", {"readout": 1, "target": 2}]
            ),
            "loss": choice(*chains.LOSSES),
        },
    ),
    Spec(
        "deepnotes.chains.measure_chain",
        lambda: {"model": _chain(), "problem": _problem(), "lr": 1e-3, "loss": "linear"},
        {
            "model": MODULE,
            "problem": st.sampled_from([None, {}, "problem", {"x": torch.randn(3, 4)}]),
            "lr": positive(),
            "loss": choice(*chains.LOSSES),
        },
    ),
    Spec(
        "deepnotes.chains.hessian_top_eigenvalue",
        _hessian_args,
        {
            "loss_fn": NOT_CALLABLE,
            "params": st.sampled_from([[], None, "w", [1.0], [torch.ones(2)]]),
            "iters": count(),
            "generator": GENERATOR,
        },
    ),
    Spec(
        "deepnotes.chains.log_amplification",
        lambda: {
            "eps": 0.1,
            "depth": 3,
            "width": 4,
            "kind": "random",
            "trials": 2,
            "method": "vector",
            "generator": _gen(),
        },
        {
            "eps": nonnegative(),
            "depth": count(),
            "width": count(),
            "kind": choice("aligned", "random"),
            "trials": count(),
            "method": choice("matrix", "vector"),
            "generator": GENERATOR,
        },
    ),
    Spec(
        "deepnotes.chains.amplification_sweep",
        lambda: {
            "ps": [0.5, 1.0],
            "depths": [2, 4],
            "width": 4,
            "trials": 2,
            "kinds": ("random", "aligned"),
            "method": "vector",
            "generator": _gen(),
        },
        {
            "ps": st.sampled_from([[], [math.nan], [-1.0], "1", [0.5, "1"], [math.inf]])
            | NOT_A_SEQUENCE,
            "depths": sequence_of_counts(),
            "width": count(),
            "trials": count(),
            "kinds": st.sampled_from([[], ["random", "other"], "random", None, [1]]),
            "method": choice("matrix", "vector"),
            "generator": GENERATOR,
        },
    ),
    Spec(
        "deepnotes.chains.discriminating",
        lambda: {"law": [1.01, 1.5, 3.0], "rel": 0.1},
        {
            "law": sequence_of_positive_reals(one_d=False) | st.just([]),
            "rel": positive(),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.chains.relative_error",
        lambda: {"measured": [1.0, 2.1], "expected": [1.0, 2.0]},
        {
            "measured": finite_reals() | st.just([1.0, 2.0, 3.0]),
            "expected": finite_reals() | st.just([1.0, 0.0]) | st.just([1.0]),
        },
    ),
    Spec(
        "deepnotes.chains.depth_sweep",
        lambda: {
            "names": ["residual-1", "plain-orthogonal"],
            "depths": [2],
            "width": 4,
            "batch": 2,
            "seeds": 1,
            "lr": 1e-3,
            "loss": "linear",
            "dtype": torch.float32,
        },
        {
            "names": st.sampled_from([[], ["residual-1", "bogus"], "plain-relu", None, [1]]),
            "depths": sequence_of_counts(),
            "width": count(),
            "batch": count(),
            "seeds": count(),
            "lr": positive(),
            "loss": choice(*chains.LOSSES) | st.sampled_from([[], ["mse", "l1"]]),
            "dtype": DTYPE,
        },
    ),
]

INCREMENT = [
    Spec(
        "deepnotes.increment.one_step_increments",
        lambda: {
            "model": _tiny_model(),
            "loss_fn": _mse,
            "batch": _batch(),
            "lrs": {"sgd": 1e-3, "adam": 1e-4, "lamb": 1e-3},
            "params": None,
            "eps": 1e-8,
        },
        {
            "model": MODULE,
            "loss_fn": NOT_CALLABLE,
            "lrs": st.sampled_from(
                [
                    {},
                    None,
                    "sgd",
                    {"sgd": math.inf},
                    {"sgd": -1.0},
                    {"sgd": True},
                    {"sgd": "1"},
                    {"rmsprop": 1e-3},
                ]
            )
            | st.floats(max_value=0.0).map(lambda v: {"adam": v}),
            "params": st.sampled_from([[], "w", [1.0], [torch.ones(2)]]),
            "eps": positive(),
        },
    ),
    Spec(
        "deepnotes.increment.one_step_increment",
        lambda: {
            "model": _tiny_model(),
            "loss_fn": _mse,
            "batch": _batch(),
            "optimizer": "adam",
            "lr": 1e-3,
        },
        {
            "model": MODULE,
            "loss_fn": NOT_CALLABLE,
            "optimizer": choice(*increment.OPTIMIZERS),
            "lr": positive(),
        },
    ),
    Spec(
        "deepnotes.increment.gradient_norms",
        lambda: {"model": _tiny_model()},
        {"model": MODULE},
    ),
    Spec(
        "deepnotes.increment.bottom_gradient_norm",
        lambda: {"model": _encoder_with_grad()},
        {"model": MODULE | st.just(torch.nn.Linear(2, 2))},
    ),
    Spec(
        "deepnotes.increment.increment_sweep",
        lambda: {
            "schemes": ["su_sgd"],
            "depths": [1],
            "seeds": (0,),
            "lrs": None,
            "d": 8,
            "vocab": 4,
            "seq_len": 3,
            "batch": 2,
            "heads": 2,
        },
        {
            "schemes": st.sampled_from([[], ["bogus"], "su_sgd", None, [1]]),
            "depths": sequence_of_counts(),
            "seeds": st.sampled_from([[], [-1], [1.5], "0", None, [True]]),
            "lrs": st.sampled_from([{}, "sgd", {"sgd": -1.0}, {"sgd": math.nan}, {"bogus": 1e-3}]),
            "d": count(),
            "vocab": count(low=2),
            "seq_len": count(),
            "batch": count(),
            "heads": count(),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.increment.slope_table",
        lambda: {"records": _records(), "key": "actual"},
        {
            "records": st.sampled_from([[], None, "records", [{"scheme": "a"}], [1, 2]]),
            "key": choice("actual", "first_order"),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.increment.seed_slopes",
        lambda: {"records": _records(), "key": "first_order"},
        {
            "records": st.sampled_from([[], None, "records", [{"scheme": "a"}], [1, 2]]),
            "key": choice("actual", "first_order"),
        },
    ),
    Spec(
        "deepnotes.increment.train_no_warmup",
        lambda: {
            "scheme": "su_adam",
            "depth": 1,
            "steps": 2,
            "seed": 0,
            "lr": 1e-3,
            "warmup": 1,
            "d": 8,
            "vocab": 4,
            "seq_len": 3,
            "batch": 2,
            "probe_every": 1,
        },
        {
            "scheme": choice(*blocks.SCHEMES),
            "depth": count(),
            "steps": count(),
            "seed": count(low=0),
            "lr": positive(),
            "warmup": count(low=0),
            "d": count(),
            "vocab": count(low=3),
            "seq_len": count(),
            "batch": count(),
            "probe_every": count(),
        },
        finite=False,  # the history records NaN where the probe is not measured, by design
    ),
    Spec(
        "deepnotes.increment.start_jobs",
        lambda: {"jobs": [(dict, {"a": 1})], "workers": 1},
        {
            "jobs": st.sampled_from(
                [None, "jobs", [dict], [(dict, 1)], [("f", {})], [(dict, {}, 1)]]
            ),
            "workers": count(),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.increment.run_jobs",
        lambda: {"jobs": [(dict, {"a": 1})], "workers": 1},
        {
            "jobs": st.sampled_from([None, "jobs", [dict], [(dict, 1)], [("f", {})]]),
            "workers": count(),
        },
    ),
]


def _encoder_with_grad():
    model = _encoder()
    model(torch.ones(2, 3, dtype=torch.long)).sum().backward()
    return model


LINEAR = [
    Spec(
        "deepnotes.linear.random_linear_chain_moments",
        lambda: {"width": 4, "depth": 3, "gain": 1.0, "batch": 8, "trials": 2, "generator": _gen()},
        {
            "width": count(),
            "depth": count(),
            "gain": positive(),
            "batch": count(),
            "trials": count(),
            "generator": GENERATOR,
        },
    ),
    Spec(
        "deepnotes.linear.random_linear_chain_moment",
        lambda: {"width": 4, "depth": 3, "gain": 1.0, "batch": 8, "trials": 2, "generator": _gen()},
        {
            "width": count(),
            "depth": count(),
            "gain": positive(),
            "batch": count(),
            "trials": count(),
            "generator": GENERATOR,
        },
    ),
    Spec(
        "deepnotes.linear.single_layer_moment",
        lambda: {"fan_in": 4, "sigma2": 0.25, "fan_out": 3, "batch": 8, "generator": _gen()},
        {
            "fan_in": count(),
            "sigma2": positive(),
            "fan_out": count(),
            "batch": count(),
            "generator": GENERATOR,
        },
    ),
    Spec(
        "deepnotes.linear.fan_in_moments",
        lambda: {"fan_ins": [2, 4], "exponent": 1.0, "seed": 0, "batch": 8, "fan_out": 3},
        {
            "fan_ins": sequence_of_counts(),
            "exponent": finite_reals(),
            "seed": count(low=0),
            "batch": count(),
            "fan_out": count(),
        },
    ),
]

MEASURE = [
    Spec(
        "deepnotes.measure.loglog_slope",
        lambda: {"x": [1, 2, 4, 8], "y": [1.0, 2.2, 3.9, 8.1], "confidence": 0.9},
        {
            "x": sequence_of_positive_reals() | st.just([1.0, 2.0]) | st.just([2.0, 2.0, 2.0]),
            "y": sequence_of_positive_reals() | st.just([1.0, 2.0]),
            "confidence": open_unit(),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.measure.SlopeFit.covers",
        lambda: {"value": 1.0},
        {"value": st.sampled_from([math.nan, "1", None, [1.0], True])},
        call=lambda value: _fit().covers(value),
        finite=False,
    ),
    Spec(
        "deepnotes.measure.SlopeFit.predict",
        lambda: {"x": [1.0, 3.0]},
        {"x": sequence_of_positive_reals(one_d=False)},
        call=lambda x: _fit().predict(x),
    ),
]

TASKS = [
    Spec(
        "deepnotes.tasks.reversal_batch",
        lambda: {"batch": 2, "seq_len": 3, "vocab": 4, "generator": _gen()},
        {"batch": count(), "seq_len": count(), "vocab": count(low=2), "generator": GENERATOR},
    ),
    Spec(
        "deepnotes.tasks.permutation_task",
        lambda: {"batch": 2, "seq_len": 3, "vocab": 4, "generator": _gen()},
        {"batch": count(), "seq_len": count(), "vocab": count(low=3), "generator": GENERATOR},
        finite=False,
    ),
    Spec(
        "deepnotes.tasks.token_loss",
        lambda: {"model": _encoder(), "batch": (torch.ones(2, 3, dtype=torch.long),) * 2},
        {
            "model": MODULE,
            "batch": st.sampled_from(
                [
                    None,
                    "batch",
                    (torch.ones(2, 3, dtype=torch.long),),
                    (torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.long)),
                    (torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3)),
                    (torch.ones(2, 3, dtype=torch.long), torch.full((2, 3), 9)),
                ]
            ),
        },
    ),
]


def _train_args():
    model = _tiny_model()
    return {
        "model": model,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.01),
        "loss_fn": _mse,
        "batches": [_batch()] * 3,
        "steps": 2,
        "scheduler": None,
        "callback": None,
        "progress": False,
    }


TRAIN = [
    Spec(
        "deepnotes.train.train",
        _train_args,
        {
            "model": MODULE,
            "optimizer": st.sampled_from([None, "adam", object()]),
            "loss_fn": NOT_CALLABLE,
            "batches": st.sampled_from([None, 3, object(), []]),
            "steps": count(),
            "scheduler": st.sampled_from(["cosine", 1, object()]),
            "callback": st.sampled_from(["cb", 1, object()]),
        },
    ),
]


def _claim_args():
    return {
        "id": "bad-input",
        "statement": "a good claim",
        "measured": 0.5,
        "expected": 0.5,
        "tol": 0.1,
        "kind": "law",
        "fmt": ".3g",
    }


CLAIMS = [
    Spec(
        "deepnotes.claims.chapter",
        lambda: {"name": "99-bad-input"},
        {"name": st.sampled_from(["", "intro", "1-x", "01_x", None, 1, "01-X"])},
        finite=False,
    ),
    Spec(
        "deepnotes.claims.claim",
        _claim_args,
        {
            "id": st.sampled_from(["", "Bad", "a b", "a--b", None, 1]),
            "statement": st.sampled_from(["", "   ", None, 1]),
            # A bool is not refused: it counts one check (0 or 1), and chapters pass boolean
            # masks with lower=1 ("every entry holds").
            "measured": st.sampled_from([None, "0.5", ["0.5"], object(), {"a": 1}, []]),
            # A NaN expected value (a theory that evaluated to NaN) is a failed claim, not bad
            # input: ClaimFailed, by design (tests/test_claims.py::test_nan_never_passes).
            "expected": st.sampled_from(["0.5", ["0.5"], object(), {"a": 1}, []]),
            "tol": nonnegative() | st.just(0.0) | st.just(True),
            "kind": choice(*claims.KINDS, None),
            "fmt": st.sampled_from(["zz", 1, None, ".3q"]),
        },
        call=_claim,
    ),
]

NOTEBOOK = [
    Spec(
        "deepnotes.notebook.glue",
        lambda: {"name": "bad-input-test", "value": 0.5, "fmt": ".2f"},
        {
            "name": st.sampled_from(["", "1a", "a b", None, 1]),
            "fmt": st.sampled_from(["zz", 1, ".2q", object()]),
        },
        finite=False,
    ),
]

PLOTTING = [
    Spec(
        "deepnotes.plotting.series_colors",
        lambda: {"names": ["a", "b"]},
        {
            "names": st.sampled_from(
                [[], [""], ["a", "a"], [str(i) for i in range(20)], "ab", None, [1], object()]
            ),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.plotting.overlay_theory",
        lambda: {"ax": "AX", "x": [1.0, 2.0], "y": [1.0, 4.0], "label": "theory"},
        {
            "ax": NOT_A_NUMBER_OR_NONE | st.just(None),
            # Non-finite values are left out: matplotlib leaves a gap at them, and a law may
            # diverge inside a plotted range (a theory curve is not a measurement).
            "x": st.sampled_from([[1.0], [[1.0, 2.0]], "12", [1.0, "2"], None, object()]),
            "y": st.sampled_from([[1.0, 2.0, 3.0], "12", [1.0, "2"], None, object()]),
        },
        call=_with_axes(plotting.overlay_theory),
        finite=False,
    ),
    Spec(
        "deepnotes.plotting.loglog_axes",
        lambda: {"ax": "AX", "xlabel": "x", "ylabel": "y", "title": "t"},
        {
            "ax": NOT_A_NUMBER_OR_NONE | st.just(None),
            "xlabel": st.sampled_from([None, 1, ["x"]]),
            "ylabel": st.sampled_from([None, 1, ["y"]]),
            "title": st.sampled_from([None, 1, ["t"]]),
        },
        call=_with_axes(plotting.loglog_axes),
        finite=False,
    ),
    Spec(
        "deepnotes.plotting.close",
        lambda: {"fig": "FIG"},
        {"fig": st.sampled_from([None, "all", 1, object()])},
        call=_close,
        finite=False,
    ),
]

SPECS = (
    BLOCKS + CHAINS + INCREMENT + LINEAR + MEASURE + TASKS + TRAIN + CLAIMS + NOTEBOOK + PLOTTING
)

EXEMPT = {
    "deepnotes.claims.Claim": "a ledger record that claim() builds from checked values; readers only read it",
    "deepnotes.claims.ClaimFailed": "an exception class (AssertionError) raised by claim(), not called by readers",
}

test_valid_call, test_bad_input = make_tests(SPECS)
