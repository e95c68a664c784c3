"""Chapter 7: Transformer-VQ, attention made linear by quantising the keys (Su, 2023-11-09).

The derivations of the chapter as SymPy objects.  Imports SymPy only (no torch).

The chain of reasoning:

1. The pick-out identity ``exp(S Delta^T) = exp(S) Delta^T`` for a one-hot
   assignment ``Delta`` (and its failure for a soft one), which turns
   ``softmax(Q K_hat^T) V`` into ``exp(Q C^T) (Delta^T V)`` / normaliser
   (:func:`pick_out`).
2. The causal form: ``O_i = exp(Q_i C^T) U_i`` with the per-code value sums
   ``U_i = U_{i-1} + Delta_i^T v_i`` (:func:`causal_recurrence`).
3. The cache stored as counts and means: ``exp(q.c + log n) vbar = exp(q.c) U``
   (:func:`log_count_form`), updated by a running-mean merge that is
   associative (:func:`running_mean_merge`).
4. The block form with a window bias: exact attention over the current and
   previous blocks, the compressed cache for blocks ``<= i - 2``
   (:func:`block_recurrence`).
5. The cost model and its crossover length ``n* = 2 (2 l + c)``
   (:func:`cost_model`, :func:`crossover_length`).
6. The follow-up: Performer's positive random features as a soft VQ
   (:func:`performer_identity`).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import sympy as sp

from deepnotes.theory._checks import count, flag

__all__ = [
    "block_recurrence",
    "causal_recurrence",
    "cost_model",
    "crossover_length",
    "log_count_form",
    "one_hot",
    "performer_identity",
    "pick_out",
    "running_mean_merge",
]


def _codes(z: Sequence[int], c: int) -> tuple[list[int], int]:
    c = count("c", c, 1, 64)  # the codebook size; the symbolic matrices grow as n x c
    if isinstance(z, (str, bytes, dict)) or not isinstance(z, Sequence):
        raise TypeError(f"z must be a sequence of integer codes, got {type(z).__name__}")
    z = list(z)
    if not z or len(z) > 64:
        raise ValueError(f"z must hold 1 to 64 codes, got {len(z)}")
    for code in z:
        if isinstance(code, bool) or not isinstance(code, numbers.Integral) or not 0 <= code < c:
            raise ValueError(f"z must hold ints in [0, {c}), got {z!r}")
    return [int(code) for code in z], c


def one_hot(z: Sequence[int], c: int) -> sp.Matrix:
    """The assignment matrix ``Delta`` (``n x c``): row ``i`` is one at column ``z[i]``."""
    z, c = _codes(z, c)
    return sp.Matrix(len(z), c, lambda i, j: 1 if z[i] == j else 0)


def pick_out(z: Sequence[int] = (2, 0, 2, 1), c: int = 3, soft: bool = False) -> dict:
    """Eq. (pick-out): ``exp(S Delta^T) - exp(S) Delta^T`` for a symbolic ``n x c`` score matrix.

    ``S[i, s] = s_{i s}`` stands for ``Q C^T``; ``Delta`` is :func:`one_hot` of
    ``z``, or, with ``soft=True``, the uniform soft assignment ``1/c``
    everywhere (for which the identity fails).  Returns ``S``, ``Delta``, the
    two sides (``n x n``) and their simplified difference.
    """
    z, c = _codes(z, c)
    soft = flag("soft", soft)
    n = len(z)
    S = sp.Matrix(n, c, lambda i, j: sp.Symbol(f"s_{i}{j}", real=True))
    delta = sp.Matrix(n, c, lambda i, j: sp.Rational(1, c)) if soft else one_hot(z, c)
    lhs = (S * delta.T).applyfunc(sp.exp)
    rhs = S.applyfunc(sp.exp) * delta.T
    return {"S": S, "Delta": delta, "lhs": lhs, "rhs": rhs, "difference": sp.simplify(lhs - rhs)}


def causal_recurrence(z: Sequence[int] = (2, 0, 2, 1), c: int = 3) -> dict:
    """Eq. (causal-rnn): ``sum_{j<=i} exp(s_{i z_j}) v_j = sum_s exp(s_{i s}) U_i[s]``.

    ``U`` is built by the recurrence ``U_i = U_{i-1} + Delta_i^T v_i`` (not by
    the closed sum), with scalar symbolic values ``v_j``.  Returns the
    numerators of the direct and recurrent forms for every ``i``, the
    denominators (``v`` replaced by one: the per-code counts), and the
    differences.
    """
    z, c = _codes(z, c)
    n = len(z)
    S = sp.Matrix(n, c, lambda i, j: sp.Symbol(f"s_{i}{j}", real=True))
    v = sp.symbols(f"v_0:{n}", real=True)
    delta = one_hot(z, c)
    direct = [sum(sp.exp(S[i, z[j]]) * v[j] for j in range(i + 1)) for i in range(n)]
    direct_den = [sum(sp.exp(S[i, z[j]]) for j in range(i + 1)) for i in range(n)]
    U = sp.zeros(c, 1)
    Z = sp.zeros(c, 1)
    recurrent, recurrent_den, states = [], [], []
    for i in range(n):
        U = U + delta[i, :].T * v[i]
        Z = Z + delta[i, :].T
        states.append(U)
        recurrent.append(sum(sp.exp(S[i, s]) * U[s] for s in range(c)))
        recurrent_den.append(sum(sp.exp(S[i, s]) * Z[s] for s in range(c)))
    diff = [sp.simplify(a - b) for a, b in zip(direct, recurrent, strict=True)]
    diff += [sp.simplify(a - b) for a, b in zip(direct_den, recurrent_den, strict=True)]
    return {
        "direct": direct,
        "recurrent": recurrent,
        "states": states,
        "counts": Z,
        "differences": diff,
    }


def log_count_form() -> dict:
    """Eq. (log-count): ``exp(a + log n) * (U / n) = exp(a) * U`` for a count ``n > 0``.

    ``a`` is the score ``q . c_s``, ``U`` the code's value sum and ``U / n``
    its mean; the official cache stores ``n`` and the mean and adds ``log n``
    to the score.
    """
    a, U = sp.symbols("a U", real=True)
    n = sp.Symbol("n", positive=True)
    lhs = sp.exp(a + sp.log(n)) * (U / n)
    rhs = sp.exp(a) * U
    return {"lhs": lhs, "rhs": rhs, "difference": sp.simplify(sp.expand_log(lhs - rhs))}


def running_mean_merge() -> dict:
    """Eq. (merge): merging ``(n, vbar)`` with a block's ``(m, vbar_blk)``.

    The update ``n/(n+m) vbar + m/(n+m) vbar_blk`` equals the pooled mean
    ``(n vbar + m vbar_blk)/(n+m)``; and the merge of ``(count, mean)`` pairs
    is associative, so the cache can be built by a parallel scan.  Returns the
    difference of the two update forms and the differences of
    ``merge(merge(a, b), c)`` against ``merge(a, merge(b, c))`` (count, mean).
    """
    n, m, k = sp.symbols("n m k", positive=True)
    va, vb, vc = sp.symbols("vbar_a vbar_b vbar_c", real=True)

    def merge(x, y):
        (cx, mx), (cy, my) = x, y
        return cx + cy, cx / (cx + cy) * mx + cy / (cx + cy) * my

    update = merge((n, va), (m, vb))[1]
    pooled = (n * va + m * vb) / (n + m)
    left = merge(merge((n, va), (m, vb)), (k, vc))
    right = merge((n, va), merge((m, vb), (k, vc)))
    return {
        "update": update,
        "pooled": pooled,
        "difference": sp.simplify(update - pooled),
        "associativity": [sp.simplify(a - b) for a, b in zip(left, right, strict=True)],
    }


def block_recurrence(
    z: Sequence[int] = (1, 0, 1, 1, 0, 0, 1, 0), c: int = 2, block_len: int = 2
) -> dict:
    """Eq. (tvq-bias): the block form with a window bias equals dense attention over ``K_hat``.

    Symbolic scores ``s_{i s}`` (query ``i`` against code ``s``), scalar values
    ``v_j`` and a Toeplitz bias ``b_d`` for distances ``0 <= d < l``
    (``l = block_len``; zero beyond the window, ``-inf`` above the diagonal).
    Dense: ``O_i = sum_{j<=i} exp(s_{i z_j} + B(i-j)) v_j``.  Block ``r``:
    exact terms over blocks ``r`` and ``r-1`` (bias by distance), plus
    ``sum_s exp(s_{i s}) U_{r-2}[s]`` with ``U_r = U_{r-1} + Delta_[r]^T V_[r]``
    and ``U_{-1} = U_{-2} = 0``.  Numerators and denominators are compared.
    """
    z, c = _codes(z, c)
    block_len = count("block_len", block_len, 1)
    n, L = len(z), block_len
    if n % L:
        raise ValueError(f"len(z) = {n} must be a multiple of block_len = {L}")
    S = sp.Matrix(n, c, lambda i, j: sp.Symbol(f"s_{i}{j}", real=True))
    v = sp.symbols(f"v_0:{n}", real=True)
    b = sp.symbols(f"b_0:{L}", real=True)

    def bias(d):
        return b[d] if d < L else 0

    def term(i, j, value):
        return sp.exp(S[i, z[j]] + bias(i - j)) * value

    delta = one_hot(z, c)
    blocks = n // L
    U = [sp.zeros(c, 1) for _ in range(blocks)]  # U_r: value sums of blocks <= r
    Zc = [sp.zeros(c, 1) for _ in range(blocks)]  # counts of blocks <= r
    for r in range(blocks):
        U[r] = (U[r - 1] if r else sp.zeros(c, 1)) + sum(
            (delta[j, :].T * v[j] for j in range(r * L, (r + 1) * L)), sp.zeros(c, 1)
        )
        Zc[r] = (Zc[r - 1] if r else sp.zeros(c, 1)) + sum(
            (delta[j, :].T for j in range(r * L, (r + 1) * L)), sp.zeros(c, 1)
        )
    differences = []
    for i in range(n):
        r = i // L
        for value_of, cache in ((lambda j: v[j], U), (lambda j: 1, Zc)):
            dense = sum(term(i, j, value_of(j)) for j in range(i + 1))
            exact = sum(term(i, j, value_of(j)) for j in range(max(r - 1, 0) * L, i + 1))
            old = cache[r - 2] if r >= 2 else sp.zeros(c, 1)
            compressed = sum(sp.exp(S[i, s]) * old[s] for s in range(c))
            differences.append(sp.simplify(dense - exact - compressed))
    return {"blocks": blocks, "states": U, "counts": Zc, "differences": differences}


def cost_model() -> dict:
    """Eq. (cost): multiply-adds of causal dense attention and of block VQ attention.

    Dense: ``n**2/2 (d_k + d_v)`` (the causal half of ``Q K^T`` and of ``P V``).
    Block VQ with window = block: each query meets ``l`` present keys, ``l``
    previous keys and ``c`` codes, ``n (2 l + c)(d_k + d_v)``, plus the cache
    update ``n d_v``.  Returns the symbols and both costs (with and without the
    update term) and their ratio.
    """
    n, L, c, dk, dv = sp.symbols("n l c d_k d_v", positive=True)
    dense = n**2 / 2 * (dk + dv)
    vq = n * (2 * L + c) * (dk + dv)
    return {
        "symbols": (n, L, c, dk, dv),
        "dense": dense,
        "vq": vq,
        "vq_with_update": vq + n * dv,
        "ratio": sp.simplify(dense / vq),
    }


def crossover_length(with_update: bool = False) -> sp.Expr:
    """The length ``n*`` where dense and block-VQ costs are equal, solved from :func:`cost_model`.

    Without the update term ``n* = 2 (2 l + c)``; the update adds
    ``2 d_v / (d_k + d_v)`` tokens.
    """
    with_update = flag("with_update", with_update)
    model = cost_model()
    n = model["symbols"][0]
    vq = model["vq_with_update"] if with_update else model["vq"]
    roots = [r for r in sp.solve(sp.Eq(model["dense"], vq), n) if r != 0]
    if len(roots) != 1:  # pragma: no cover - the cost model is fixed
        raise RuntimeError(f"expected one non-zero crossover, got {roots}")
    return sp.simplify(roots[0])


def performer_identity() -> dict:
    """Follow-up (archives/9862): Performer's positive features and their reading as a soft VQ.

    1-D: ``E_w[exp(w q - q**2/2) exp(w k - k**2/2)] = exp(q k)`` with
    ``w ~ N(0, 1)``, from the normal's moment generating function (derived by
    ``sympy.stats``); and the completed square
    ``w k - k**2/2 - w**2/2 = -(k - w)**2/2`` that makes the key feature a
    softmax over ``-||k - w_i||**2 / 2``, a soft nearest-codeword assignment.
    """
    import sympy.stats as stats

    w, q, k, t = sp.symbols("omega q k t", real=True)
    mgf = stats.moment_generating_function(stats.Normal("W", 0, 1))(t)  # E[exp(t W)]
    # E[exp(W q - q**2/2) exp(W k - k**2/2)] = exp(-(q**2 + k**2)/2) E[exp((q + k) W)]
    expectation = sp.simplify(sp.exp(-(q**2 + k**2) / 2) * mgf.subs(t, q + k))
    exponent = w * k - k**2 / 2 - w**2 / 2
    return {
        "expectation": expectation,
        "kernel": sp.exp(q * k),
        "exponent": exponent,
        "square": sp.simplify(exponent + (k - w) ** 2 / 2),
    }
