"""Bad input to the sequence-model modules (attention, Transformer-VQ, the LM, length
extrapolation, the corpus) and to the book tooling (``deepnotes.book``, ``deepnotes.publish``).

Chapters 7 and 8 use the first five; the book tooling is what a maintainer calls (paths,
notebooks, bibliographies).  See ``tests/badinput.py`` for the harness.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import torch
from badinput import (
    NOT_A_NUMBER,
    NOT_A_NUMBER_OR_NONE,
    Spec,
    choice,
    count,
    interval,
    make_tests,
    nonnegative,
    positive,
    tensor,
)
from hypothesis import strategies as st

from deepnotes import vq
from deepnotes.data import byte_batches
from deepnotes.extrapolation import RunConfig
from deepnotes.lm import LMConfig, SelfAttention, TransformerLM

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("baseline", "keynorm", "querynorm", "cosine")

#: A flag (bool) given as something else: a string, a number, None, a list.
FLAG = st.sampled_from([None, "yes", "False", 1, 0, 1.0, [True], object()])
#: Not a path to anything: non-paths, and paths that do not exist.
NOT_A_PATH = st.sampled_from([None, 1, 1.5, [ROOT], object(), "/nonexistent/x", Path("/no/such")])
#: A path to a file given where a folder is needed, and the other way round.
NOT_A_DIR = st.one_of(NOT_A_PATH, st.just(ROOT / "_toc.yml"))
NOT_A_FILE = st.one_of(NOT_A_PATH, st.just(ROOT))


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape, seed=0, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=_g(seed), dtype=dtype)


def ids(shape, vocab: int = 256, *, none_ok: bool = False, wrong_ndim: bool = True):
    """Bad token-id tensors: floating or bool dtypes, ids outside ``0 .. vocab-1``, a dimension
    added or removed, non-tensors."""
    kinds = [
        NOT_A_NUMBER_OR_NONE if none_ok else NOT_A_NUMBER,
        st.sampled_from([torch.float32, torch.float64, torch.bool]).map(
            lambda dt: torch.ones(shape, dtype=dt)
        ),
        st.sampled_from([-1, vocab, vocab + 7]).map(
            lambda bad: torch.zeros(shape, dtype=torch.int64).index_fill_(
                -1, torch.tensor([0]), bad
            )
        ),
    ]
    if wrong_ndim:
        kinds.append(
            st.sampled_from([(*shape, 2), shape[1:] or (1, 1, 1)]).map(
                lambda s: torch.zeros(s, dtype=torch.int64)
            )
        )
    return st.one_of(kinds)


def codes(shape, c: int):
    """Bad code tensors ``z``: floating or bool dtypes, codes outside ``0 .. c-1``, wrong shape."""
    return st.one_of(
        NOT_A_NUMBER,
        st.sampled_from([torch.float32, torch.bool]).map(lambda dt: torch.zeros(shape, dtype=dt)),
        st.sampled_from([-1, c, c + 3]).map(lambda bad: torch.full(shape, bad, dtype=torch.int64)),
        st.sampled_from([(*shape, 2), shape[1:] or (2, 2)]).map(
            lambda s: torch.zeros(s, dtype=torch.int64)
        ),
    )


# --------------------------------------------------------------------------- attention

QKV = (2, 8, 4)


def _qkv():
    return {"q": _randn(*QKV, seed=1), "k": _randn(*QKV, seed=2), "v": _randn(*QKV, seed=3)}


def _attention_call():
    return {
        **_qkv(),
        "variant": "keynorm",
        "scale": 2.0,
        "causal": True,
        "bias": _randn(8, 8, seed=4),
        "use_rope": True,
        "positions": torch.arange(8),
        "rope_base": 100.0,
    }


def _attention_bad():
    return {
        "q": tensor(QKV, torch.float64),
        "k": tensor(QKV, torch.float64),
        "v": tensor(QKV, torch.float64),
        "variant": choice(*VARIANTS),
        "scale": positive(none_ok=True),  # None: the variant's default
        "causal": FLAG,
        "bias": tensor((8, 8), torch.float64, none_ok=True),  # None: no bias
        "use_rope": FLAG,
        # None: 0 .. n-1; integer positions are the usual kind, so no wrong-dtype draw
        "positions": st.one_of(
            tensor((8,), torch.float64, wrong_dtype=False, none_ok=True),
            st.just(torch.arange(8) > 3),  # a bool mask is not a position
            st.just(torch.arange(7)),
        ),
        "rope_base": positive(),
    }


ATTENTION = [
    Spec(
        "deepnotes.attention.default_scale",
        lambda: {"variant": "baseline", "d": 16},
        {"variant": choice("baseline", "keynorm", "querynorm"), "d": count()},
    ),
    Spec(
        "deepnotes.attention.normalize",
        lambda: {"x": _randn(3, 4), "eps": 1e-6},
        # any rank is fine (it normalises the last axis), so no wrong-rank draw
        {"x": tensor((3, 4), torch.float64, wrong_ndim=False), "eps": positive()},
    ),
    Spec(
        "deepnotes.attention.rope_frequencies",
        lambda: {"d": 8, "base": 10000.0},
        {"d": st.one_of(count(low=2), st.sampled_from([3, 5, 7])), "base": positive()},
    ),
    Spec(
        "deepnotes.attention.rope",
        lambda: {"x": _randn(2, 6, 4), "positions": torch.arange(6), "base": 100.0},
        {
            "x": st.one_of(tensor((2, 6, 4), torch.float64), st.just(_randn(2, 6, 5))),
            "positions": st.one_of(
                tensor((6,), torch.float64, wrong_dtype=False, none_ok=True),
                st.just(torch.ones(6, dtype=torch.bool)),
            ),
            "base": positive(),
        },
    ),
    Spec(
        "deepnotes.attention.causal_mask",
        lambda: {"n_queries": 3, "n_keys": 5, "device": "cpu"},
        {
            "n_queries": st.one_of(count(), st.just(6)),  # 6 queries cannot see 5 keys causally
            "n_keys": st.one_of(count(none_ok=True), st.just(2)),
            "device": st.sampled_from(["gpu0", "not a device", 1.5, [0], object()]),
        },
        finite=False,
    ),
    Spec("deepnotes.attention.attention", _attention_call, _attention_bad()),
    Spec(
        "deepnotes.attention.attention_reference",
        lambda: {**_attention_call(), "return_weights": True},
        {**_attention_bad(), "return_weights": FLAG},
    ),
]

# --------------------------------------------------------------------------- vq

KEYS, CODES = (2, 16, 4), (5, 4)


def _vq_inputs(n=16, lead=(2,), c=5, d=4):
    q, k, v = (_randn(*lead, n, d, seed=s) for s in (1, 2, 3))
    codebook = _randn(c, d, seed=4)
    z, k_hat, _ = vq.quantize(k, codebook)
    return {"q": q, "k_hat": k_hat, "z": z, "v": v, "codebook": codebook}


def _state():
    out = vq.vq_attention(**_vq_inputs(), block_len=4, return_state=True)
    return out[1]


def _vq_attention_call():
    return {
        **_vq_inputs(),
        "block_len": 4,
        "bias": _randn(4, seed=5),
        "state": _state(),
        "cache_grad": False,
        "return_state": False,
    }


def _codebook(heads=None):
    return vq.EMACodebook(5, 4, heads=heads, gamma=0.9).double()


VQ = [
    Spec(
        "deepnotes.vq.straight_through",
        lambda: {"x": _randn(*KEYS), "x_quantized": _randn(*KEYS, seed=1)},
        {"x": tensor(KEYS, torch.float64), "x_quantized": tensor(KEYS, torch.float64)},
    ),
    Spec(
        "deepnotes.vq.quantize",
        lambda: {"keys": _randn(*KEYS), "codebook": _randn(*CODES, seed=1)},
        {
            # keys of any rank >= 2 share one codebook, so the wrong-rank draw is a vector only
            "keys": st.one_of(tensor(KEYS, torch.float64, wrong_ndim=False), st.just(_randn(4))),
            # (3, c, d): three codebooks, but the keys have 2 heads
            "codebook": st.one_of(tensor(CODES, torch.float64), st.just(_randn(3, 5, 4))),
        },
    ),
    Spec(
        "deepnotes.vq.EMACodebook",
        lambda: {"n_code": 5, "dim": 4, "heads": 2, "gamma": 0.9},
        {
            "n_code": count(),
            "dim": count(),
            "heads": count(none_ok=True),  # None: one shared codebook
            "gamma": st.one_of(interval(0.0, 1.0), st.just(1.0)),  # [0, 1)
        },
        finite=False,
    ),
    Spec(
        "deepnotes.vq.EMACodebook.update",
        lambda: {"keys": _randn(3, 2, 8, 4), "z": torch.randint(0, 5, (3, 2, 8), generator=_g())},
        {"keys": tensor((3, 2, 8, 4), torch.float64), "z": codes((3, 2, 8), 5)},
        call=lambda keys, z: _codebook(heads=2).update(keys, z),
    ),
    Spec(
        "deepnotes.vq.EMACodebook.surrogate_loss",
        lambda: {"keys": _randn(*KEYS), "z": torch.randint(0, 5, KEYS[:-1], generator=_g())},
        {"keys": tensor(KEYS, torch.float64), "z": codes(KEYS[:-1], 5)},
        call=lambda keys, z: _codebook().surrogate_loss(keys, z),
    ),
    Spec(
        "deepnotes.vq.EMACodebook.initialize",
        lambda: {"keys": _randn(*KEYS), "steps": 2, "generator": _g()},
        {
            # (2, 2, 4): 4 keys for 5 codes
            "keys": st.one_of(tensor(KEYS, torch.float64), st.just(_randn(2, 2, 4))),
            "steps": count(),
            "generator": NOT_A_NUMBER_OR_NONE,  # None: torch's global generator
        },
        call=lambda keys, steps, generator: _codebook().initialize(keys, steps, generator),
    ),
    Spec(
        "deepnotes.vq.kmeans",
        lambda: {"x": _randn(32, 4), "n_code": 4, "steps": 2, "generator": _g()},
        {
            "x": tensor((32, 4), torch.float64),
            "n_code": st.one_of(count(), st.just(33)),  # more centres than rows
            "steps": count(),
            "generator": NOT_A_NUMBER_OR_NONE,
        },
    ),
    Spec(
        "deepnotes.vq.window_bias_matrix",
        lambda: {"bias": _randn(4), "n": 10},
        {"bias": st.one_of(tensor((4,), torch.float64), st.just(torch.zeros(0))), "n": count()},
    ),
    Spec(
        "deepnotes.vq.vq_attention",
        _vq_attention_call,
        {
            "q": tensor((2, 16, 4), torch.float64),
            "k_hat": tensor((2, 16, 4), torch.float64),
            "z": codes((2, 16), 5),
            "v": tensor((2, 16, 4), torch.float64),
            "codebook": st.one_of(tensor(CODES, torch.float64), st.just(_randn(3, 5, 4))),
            "block_len": st.one_of(count(), st.just(5)),  # 5 does not divide n = 16
            "bias": tensor((4,), torch.float64, none_ok=True),  # None: no window bias
            "state": st.one_of(  # None: a fresh sequence
                NOT_A_NUMBER_OR_NONE,
                st.just("a VQState of another shape").map(
                    lambda _: vq.vq_attention(
                        **_vq_inputs(c=3, d=4), block_len=4, return_state=True
                    )[1]
                ),
            ),
            "cache_grad": FLAG,
            "return_state": FLAG,
        },
    ),
    Spec(
        "deepnotes.vq.vq_attention_bidirectional",
        lambda: {k: v for k, v in _vq_inputs().items() if k != "k_hat"},
        {
            "q": tensor((2, 16, 4), torch.float64),
            "z": codes((2, 16), 5),
            "v": tensor((2, 16, 4), torch.float64),
            "codebook": st.one_of(tensor(CODES, torch.float64), st.just(_randn(3, 5, 4))),
        },
    ),
]

# --------------------------------------------------------------------------- lm

TINY = {"vocab": 16, "d_model": 8, "n_layers": 1, "n_heads": 2, "block_len": 4, "n_code": 4}


def _lm_config():
    return {
        **TINY,
        "d_ff": 16,
        "attention": "dense",
        "variant": "cosine",
        "scale": 3.0,
        "use_rope": True,
        "qk_rmsnorm": False,
        "window_bias": True,
        "gamma": 0.9,
        "commit_beta": 1e-3,
        "cache_grad": False,
    }


def _tiny_lm(attention="dense"):
    torch.manual_seed(0)
    return TransformerLM(LMConfig(**TINY, attention=attention, window_bias=True))


def _tokens(b=2, n=8, vocab=16, seed=0):
    return torch.randint(0, vocab, (b, n), generator=_g(seed))


LM = [
    Spec(
        "deepnotes.lm.LMConfig",
        _lm_config,
        {
            "vocab": count(),
            "d_model": st.one_of(count(), st.just(9)),  # 9 is not a multiple of n_heads = 2
            "n_layers": count(),
            "n_heads": st.one_of(count(), st.just(3)),
            "d_ff": count(none_ok=True),  # None: 4 d_model
            "attention": choice("dense", "vq"),
            "variant": choice(*VARIANTS),
            "scale": positive(),  # cosine needs its lambda, so None is bad here too
            "use_rope": FLAG,
            "qk_rmsnorm": FLAG,
            "window_bias": FLAG,
            "block_len": count(),
            "n_code": count(),
            "gamma": st.one_of(interval(0.0, 1.0), st.just(1.0)),
            "commit_beta": nonnegative(),
            "cache_grad": FLAG,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.lm.SelfAttention",
        lambda: {"config": LMConfig(**TINY)},
        {"config": st.one_of(NOT_A_NUMBER, st.just(TINY))},  # a dict is not an LMConfig
        finite=False,
    ),
    Spec(
        "deepnotes.lm.SelfAttention.forward",
        lambda: {"x": _randn(2, 8, 8, dtype=torch.float32)},
        {"x": st.one_of(tensor((2, 8, 8)), st.just(torch.randn(2, 6, 8)))},  # 6: block_len 4
        call=lambda x: SelfAttention(LMConfig(**TINY, attention="vq")).eval()(x),
    ),
    Spec(
        "deepnotes.lm.TransformerLM",
        lambda: {"config": None, **TINY},
        {
            "config": st.one_of(NOT_A_NUMBER_OR_NONE, st.just(TINY)),  # None: the defaults
            "vocab": count(),
            "n_heads": st.one_of(count(), st.just(3)),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.lm.TransformerLM.forward",
        lambda: {"tokens": _tokens()},
        {"tokens": st.one_of(ids((2, 8), 16), st.just(_tokens(n=6)))},  # 6: block_len 4
        call=lambda tokens: _tiny_lm("vq").eval()(tokens),
    ),
    Spec(
        "deepnotes.lm.lm_loss",
        lambda: {"model": _tiny_lm(), "batch": (_tokens(seed=1), _tokens(seed=2))},
        {
            "model": st.one_of(NOT_A_NUMBER, st.just(torch.nn.Linear(2, 2))),
            "batch": st.one_of(
                NOT_A_NUMBER,
                st.just((_tokens(),)),
                ids((2, 8), 16).map(lambda t: (_tokens(), t)),
                ids((2, 8), 16).map(lambda t: (t, _tokens())),
                st.just((_tokens(), _tokens(n=4))),
            ),
        },
    ),
]

# --------------------------------------------------------------------------- extrapolation

TINY_RUN = {"steps": 1, "length": 8, "batch": 2, "d_model": 8, "n_layers": 1, "n_heads": 2}


def _run_config():
    return {"variant": "cosine", "seed": 0, "lr": 1e-3, "use_rope": True, **TINY_RUN}


def _byte_lm():
    torch.manual_seed(0)
    return TransformerLM(LMConfig(vocab=256, d_model=8, n_layers=1, n_heads=2, use_rope=True))


def _bytes(n=64, seed=0):
    return torch.randint(0, 256, (n,), generator=_g(seed))


EXTRAPOLATION = [
    Spec(
        "deepnotes.extrapolation.cosine_lambda",
        lambda: {"train_length": 64, "factor": 4.0},
        {"train_length": st.one_of(count(), st.just(2)), "factor": positive()},
    ),
    Spec(
        "deepnotes.extrapolation.RunConfig",
        _run_config,
        {
            "variant": choice(*VARIANTS),
            "seed": count(low=0),
            "steps": count(),
            "length": count(),
            "batch": count(),
            "lr": positive(),
            "d_model": count(),
            "n_layers": count(),
            "n_heads": count(),
            "use_rope": FLAG,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.extrapolation.train_variant",
        lambda: {"train_tokens": _bytes(), "config": RunConfig(**TINY_RUN)},
        {
            "train_tokens": st.one_of(ids((64,), 256), st.just(_bytes(8))),  # 8 <= length
            "config": st.one_of(NOT_A_NUMBER, st.just(_run_config())),  # a dict is no RunConfig
        },
    ),
    Spec(
        "deepnotes.extrapolation.eval_windows",
        lambda: {"tokens": _bytes(), "length": 16, "count": 3, "seed": 5},
        {
            "tokens": ids((64,), 256),
            "length": st.one_of(count(), st.just(63)),  # too long for 64 tokens
            "count": count(),
            "seed": count(low=0),
        },
    ),
    Spec(
        "deepnotes.extrapolation.repeated_windows",
        lambda: {"windows": _bytes(40).reshape(4, 10), "half": 5},
        {"windows": ids((4, 10), 256), "half": st.one_of(count(), st.just(11))},
    ),
    Spec(
        "deepnotes.extrapolation.loss_by_position",
        lambda: {"model": _byte_lm(), "windows": _bytes(36).reshape(4, 9)},
        {
            "model": st.one_of(NOT_A_NUMBER, st.just(torch.nn.Linear(2, 2))),
            "windows": ids((4, 9), 256),
        },
    ),
    Spec(
        "deepnotes.extrapolation.loss_by_length",
        lambda: {
            "per_position": [1.0 + 0.1 * i for i in range(16)],
            "train_length": 4,
            "multipliers": (1, 2, 4),
        },
        {
            "per_position": st.one_of(
                NOT_A_NUMBER,
                st.just([1.0, math.nan] * 8),
                st.just([[1.0] * 16]),
                st.just(["1"] * 16),
                st.just([]),
            ),
            "train_length": st.one_of(count(), st.just(5)),  # 4 x 5 = 20 > 16 positions
            "multipliers": st.one_of(
                st.sampled_from(["1", {"a": 1}, object(), None]),
                st.sampled_from([(0.5, 1), (1, math.inf), (1, math.nan), (), ((1, 2),), (8,)]),
            ),
        },
    ),
    Spec(
        "deepnotes.extrapolation.attention_stats",
        lambda: {"model": _byte_lm(), "tokens": _bytes(16).reshape(2, 8), "max_pairs": 10},
        {
            "model": st.one_of(NOT_A_NUMBER, st.just(torch.nn.Linear(2, 2))),
            "tokens": ids((2, 8), 256),
            "max_pairs": count(),
        },
        finite=False,  # a dataclass of per-layer arrays
    ),
]

# --------------------------------------------------------------------------- data

DATA = [
    Spec(
        "deepnotes.data.corpus.stdlib_files",
        lambda: {"pattern": "ab*.py", "root": None},
        {
            "pattern": st.one_of(NOT_A_NUMBER, st.just(""), st.just("*.no-such-suffix")),
            "root": st.sampled_from([1, 1.5, [ROOT], object(), "/nonexistent/x"]),  # None: stdlib
        },
        finite=False,
    ),
    Spec(
        "deepnotes.data.corpus.stdlib_corpus",
        lambda: {"max_bytes": 4000, "pattern": "ab*.py", "valid_fraction": 0.25, "root": None},
        {
            "max_bytes": count(),
            "pattern": st.one_of(NOT_A_NUMBER, st.just(""), st.just("*.no-such-suffix")),
            "valid_fraction": interval(0.0, 1.0, closed=False),
            "root": st.sampled_from([1, 1.5, [ROOT], object(), "/nonexistent/x"]),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.data.corpus.byte_batches",
        lambda: {"tokens": _bytes(), "batch": 2, "length": 8, "generator": _g()},
        {
            # any integer ids are tokens here (no vocabulary), so no out-of-range draw
            "tokens": st.one_of(
                NOT_A_NUMBER,
                st.sampled_from([torch.float32, torch.bool]).map(
                    lambda dt: torch.ones(64, dtype=dt)
                ),
                st.just(_bytes(8)),  # too short for length 8 + 1
                st.just(_bytes(64).reshape(8, 8)),
            ),
            "batch": count(),
            "length": count(),
            "generator": NOT_A_NUMBER_OR_NONE,
        },
        call=lambda **kw: next(byte_batches(**kw)),  # the first batch: the checks come before it
    ),
]

# --------------------------------------------------------------------------- book, publish


def _tmp(name: str) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"deepnotes-badinput-{name}-"))


def _notebook(folder: Path, name="01-tiny.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny\n\nA number {glue:text}`x` and {cite}`tiny2020`."),
        nbformat.v4.new_code_cell('claim("c1", "s", measured=1.0, expected=1.0, tol=0.1)'),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    path = folder / name
    nbformat.write(nb, path)
    return path


BIB = "@misc{tiny2020, author = {Ann Author}, title = {A Title}, year = {2020}}\n"


def _book_root() -> Path:
    root = _tmp("root")
    (root / "chapters").mkdir()
    _notebook(root / "chapters")
    (root / "chapters" / "references.bib").write_text(BIB)
    (root / "intro.md").write_text("# Intro\n")
    (root / "_toc.yml").write_text("root: intro\nchapters:\n  - file: chapters/01-tiny\n")
    return root


def _build() -> Path:
    build = _tmp("build")
    (build / "claims" / "glue").mkdir(parents=True)
    (build / "claims" / "glue" / "01-tiny.json").write_text(json.dumps({"x": "42"}))
    return build


def _entries():
    from deepnotes.publish import bib_entries

    root = _book_root()
    return bib_entries(root / "chapters" / "references.bib")


def _ledgers() -> Path:
    folder = _tmp("ledgers")
    claim = {
        "id": "c1",
        "statement": "s",
        "kind": "numeric",
        "expected": 1.0,
        "measured": 1.0,
        "tolerance": "0.1",
        "margin": 1.0,
    }
    (folder / "01-tiny.json").write_text(json.dumps({"chapter": "01-tiny", "claims": [claim]}))
    return folder


def _ledger_dict():
    from deepnotes.book import load_ledgers

    return load_ledgers(_ledgers())


BOOK = [
    Spec(
        "deepnotes.book.load_ledgers",
        lambda: {"folder": _ledgers(), "chapters": ["01-tiny"]},
        {
            "folder": NOT_A_DIR,
            "chapters": st.sampled_from(["01-tiny", 1, [1], {"a": 1}, object()]),  # None: all
        },
        finite=False,
    ),
    Spec(
        "deepnotes.book.claims_html",
        lambda: {
            "ledgers": _ledger_dict(),
            "link": lambda ch, i: f"{ch}.html#{i}",
            "titles": {"01-tiny": "Tiny"},
        },
        {
            "ledgers": st.one_of(NOT_A_NUMBER, st.just({"01-tiny": "not claims"})),
            "link": NOT_A_NUMBER,
            "titles": NOT_A_NUMBER,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.book.toc_files",
        lambda: {"root": _book_root()},
        {"root": st.one_of(NOT_A_DIR, st.just(ROOT / "chapters"))},  # a folder without _toc.yml
        finite=False,
    ),
    Spec(
        "deepnotes.book.toc_problems",
        lambda: {"root": _book_root()},
        {"root": st.one_of(NOT_A_DIR, st.just(ROOT / "chapters"))},
        finite=False,
    ),
    Spec(
        "deepnotes.book.notebook_python",
        lambda: {"source": "%pip install x\nx = 1\n!ls\nclaim('a', 's', identity=0)"},
        # a str is source text ("1" is valid Python), so the bad values are non-str and bad syntax
        {"source": st.sampled_from([None, 1, [1], object(), b"x = 1", "def (:\n"])},
        finite=False,
    ),
    Spec(
        "deepnotes.book.claim_calls",
        lambda: {"tree": __import__("ast").parse("claim('a', 's')\ndn.claim('b', 't')")},
        {"tree": st.one_of(NOT_A_NUMBER, st.just("claim('a', 's')"))},  # source text, not a tree
        finite=False,
    ),
    Spec(
        "deepnotes.book.claim_ids",
        lambda: {"path": _notebook(_tmp("nb"))},
        {"path": NOT_A_FILE},
        finite=False,
    ),
    Spec(
        "deepnotes.book.strip_outputs",
        lambda: {"path": _notebook(_tmp("nb"))},
        {"path": NOT_A_FILE},
        finite=False,
    ),
    Spec(
        "deepnotes.book.main",
        lambda: {"argv": ["strip", str(_notebook(_tmp("nb")))]},
        # None: sys.argv; a str is not a list of arguments (it would be read letter by letter)
        {"argv": st.sampled_from(["check", b"check", 1, [1], ["strip", 2], object()])},
    ),
    Spec(
        "deepnotes.publish.bib_entries",
        lambda: {"bibfile": _book_root() / "chapters" / "references.bib"},
        {"bibfile": NOT_A_FILE},
        finite=False,
    ),
    Spec(
        "deepnotes.publish.author_year_labels",
        lambda: {"entries": _entries()},
        {"entries": st.one_of(NOT_A_NUMBER, st.just({"k": "not an entry"}), st.just(["k"]))},
    ),
    Spec(
        "deepnotes.publish.reference_line",
        lambda: {"key": "tiny2020", "entry": _entries()["tiny2020"], "label": "Author, 2020"},
        {"entry": NOT_A_NUMBER, "label": st.sampled_from([None, 1, ["a"], object()])},
    ),
    Spec(
        "deepnotes.publish.publish_chapter",
        lambda: {
            "source": _book_root() / "chapters" / "01-tiny.ipynb",
            "glue": {"x": "42"},
            "entries": _entries(),
            "labels": {"tiny2020": "Author, 2020"},
            "titles": {"01-tiny": "Tiny"},
        },
        {
            "source": st.one_of(NOT_A_FILE, st.just(ROOT / "_toc.yml")),  # not a notebook
            "glue": NOT_A_NUMBER,
            "entries": NOT_A_NUMBER,
            "labels": NOT_A_NUMBER,
            "titles": NOT_A_NUMBER,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.publish.leftover_markup",
        lambda: {"nb": nbformat.read(_notebook(_tmp("nb")), as_version=4)},
        {"nb": st.one_of(NOT_A_NUMBER, st.just(ROOT / "_toc.yml"))},  # a path is not a notebook
        finite=False,
    ),
    Spec(
        "deepnotes.publish.publish",
        lambda: {"build": _build(), "out": _tmp("out"), "root": _book_root()},
        {
            "build": NOT_A_DIR,
            "out": st.sampled_from([None, 1, [1], object()]),
            "root": st.one_of(  # None: the current folder
                st.sampled_from([1, 1.5, [ROOT], object(), "/nonexistent/x"]),
                st.just(ROOT / "chapters"),  # a folder without chapters/references.bib
            ),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.publish.main",
        # the full run needs a built book (tests/test_book.py runs it); with no arguments it
        # prints its usage and returns 2, which is still a real call of the command line
        lambda: {"argv": []},
        {"argv": st.sampled_from(["_build", b"_build", 1, [1], ["_build", 2], object()])},
    ),
]

EXEMPT = {
    "deepnotes.vq.VQState": "a record that vq_attention(return_state=True) returns and takes "
    "back; vq_attention checks a state's type and every field's shape (its spec draws bad ones)",
    "deepnotes.extrapolation.AttentionStats": "a result record that attention_stats fills in; "
    "readers read it, they do not build one",
    "deepnotes.data.corpus.Corpus": "a result record that stdlib_corpus builds (with the "
    "SHA-256 of its bytes); readers read it, they do not build one",
    "deepnotes.publish.PublishError": "an exception class: its argument is the message",
}

#: The flag check the modules above use (deepnotes.checks.boolean, added with them).
CHECKS = [
    Spec("deepnotes.checks.boolean", lambda: {"name": "value", "value": True}, {"value": FLAG}),
]

SPECS = [*ATTENTION, *VQ, *LM, *EXTRAPOLATION, *DATA, *BOOK, *CHECKS]

test_valid_call, test_bad_input = make_tests(SPECS)
