"""Chapter 1: increment explosion and DeepNorm, derived in SymPy.

Su Jianlin, "What makes training a 1000-layer Transformer hard?" (2022-03-09,
spaces.ac.cn/archives/8978) and Wang et al., *DeepNet* (arXiv 2203.00555).

The argument, as functions that return SymPy objects:

1. A first-order step changes the loss by ``dL ~ <grad L, d theta>``; for SGD
   that is ``-eta * ||grad L||^2 = O(eta N K)`` when each of the ``N K``
   matrices has an O(1) gradient (:func:`plain_sgd_increment`).
2. The magnitude probe ``W = lam U`` (:func:`probe_scale_closed_form`,
   :func:`probe_chain_rule_residual`).
3. In a DeepNorm sub-layer ``LN(alpha x + F(x)) = LN(x + F(x)/alpha)`` the
   gradients of the two value-path scales are ``O(lam/alpha)``
   (:func:`branch_scale_gradients`).
4. Summing over the ``2N`` sub-layers per optimizer gives the increment's
   order (:func:`increment_order`); asking it to be O(1) gives one condition
   per optimizer (:func:`condition`) and, with a second equation, the constants
   (:func:`solve_constants`, :func:`su_table`).
5. The paper's constants and their relation to the article's
   (:func:`paper_constants`, :func:`paper_relations`), the post-hoc branch
   scale ``lam^2/alpha`` (:func:`post_hoc_branch_scale`) and Pre-LN
   (:func:`preln_constants`).

Only SymPy and NumPy are imported (no torch).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from deepnotes.checks import one_of, positive_int
from deepnotes.theory._checks import count, expr, flag

__all__ = [
    "ARCHITECTURES",
    "CHOICES",
    "G",
    "K",
    "M",
    "N",
    "OPTIMIZERS",
    "SCHEMES",
    "SU_CHOICE",
    "alpha",
    "branch_scale_gradients",
    "condition",
    "deepnorm_scale_invariance_residual",
    "eta",
    "first_order_increment",
    "increment_order",
    "lam",
    "paper_constants",
    "paper_relations",
    "plain_sgd_increment",
    "post_hoc_branch_scale",
    "predicted_slope",
    "preln_constants",
    "probe_chain_rule_residual",
    "probe_scale",
    "probe_scale_closed_form",
    "relu_homogeneity_residual",
    "scheme_constants",
    "scheme_values",
    "sign_rewrite_residual",
    "solve_constants",
    "su_table",
]

#: Depth (number of Transformer layers; there are ``2N`` residual sub-layers).
N = sp.Symbol("N", positive=True)
#: Number of decoder layers (encoder-decoder models).
M = sp.Symbol("M", positive=True)
#: The DeepNorm skip weight and the branch-matrix scale (Xavier gain).
alpha = sp.Symbol("alpha", positive=True)
lam = sp.Symbol("lambda", positive=True)
#: Learning rate and the number of weight matrices per layer.
eta = sp.Symbol("eta", positive=True)
K = sp.Symbol("K", positive=True)
#: The common (order-one) squared gradient norm of one matrix in the plain count.
G = sp.Symbol("G", positive=True)

OPTIMIZERS = ("sgd", "adam", "lamb")

#: Second equations that pick one point on a condition's curve.
CHOICES = ("symmetric", "alpha_one", "lambda_one")

#: The schemes compared in the chapter; see :func:`scheme_constants`.
SCHEMES = (
    "post_ln",
    "pre_ln",
    "no_residual",
    "deepnorm_paper",
    "su_sgd",
    "su_adam",
    "su_lamb",
    "alt1",
    "alt2",
    "pre_ln_sgd",
    "pre_ln_adam",
)


def _check_optimizer(optimizer: str) -> str:
    return one_of("optimizer", optimizer, OPTIMIZERS)


# ---------------------------------------------------------------------------
# 1. Increment explosion
# ---------------------------------------------------------------------------


def first_order_increment(optimizer: str) -> tuple[sp.Expr, sp.Expr]:
    """The update and the first-order loss change for one scalar coordinate.

    Returns ``(d_theta, d_loss)`` in terms of a gradient entry ``g`` and a
    parameter norm ``theta_norm`` (LAMB only):

    * SGD:  ``d_theta = -eta g``,                 ``dL = -eta g^2``;
    * Adam: ``d_theta = -eta sign(g)``,           ``dL = -eta |g|``;
    * LAMB: ``d_theta = -eta ||theta|| sign(g)``, ``dL = -eta ||theta|| |g|``.

    ``dL = g * d_theta`` is the first-order Taylor term ``<grad L, d theta>``.

    Chapter 1, section "Increment explosion".
    """
    _check_optimizer(optimizer)
    g = sp.Symbol("g", real=True)
    theta_norm = sp.Symbol("theta_norm", positive=True)
    if optimizer == "sgd":
        step = -eta * g
    elif optimizer == "adam":
        step = -eta * sp.sign(g)
    else:
        step = -eta * theta_norm * sp.sign(g)
    # Written with |g| for display; sign_rewrite_residual() has SymPy prove g sign(g) = |g|.
    return step, sp.expand(g * step).subs(g * sp.sign(g), sp.Abs(g))


def sign_rewrite_residual(optimizer: str) -> sp.Expr:
    """``g * d_theta - dL`` for :func:`first_order_increment`, simplified by SymPy: zero.

    The displayed ``dL`` uses ``|g|`` where the product has ``g sign(g)``;
    SymPy proves the two equal for every real ``g`` (including ``g = 0``).

    Chapter 1, section "Increment explosion".
    """
    step, d_loss = first_order_increment(optimizer)
    g = sp.Symbol("g", real=True)
    return sp.simplify(g * step - d_loss)


def plain_sgd_increment() -> sp.Expr:
    """Definition (a count): ``|dL| = eta * sum_{i=1}^{N K} ||g_i||^2`` with ``||g_i||^2 = G``.

    Every one of the ``N K`` matrices has a gradient of the same order-one
    size ``G``; the sum is then ``eta N K G``.  This is the article's
    bookkeeping, not a derivation: the chapter labels it a definition.

    Chapter 1, section "Increment explosion".
    """
    i = sp.Symbol("i", integer=True, positive=True)
    return sp.summation(eta * G, (i, 1, N * K))


# ---------------------------------------------------------------------------
# 2. The magnitude probe W = lam U
# ---------------------------------------------------------------------------


def probe_scale_closed_form(n: int = 3) -> tuple[sp.Expr, sp.Expr]:
    """Minimise ``sum_i (s_i^2 t - 1)^2`` over ``t = 1/kappa^2``.

    ``s_1..s_n`` are the singular values of ``W``, so the objective is
    ``||W W^T / kappa^2 - I||_F^2``.  Returns ``(kappa2, target)`` where
    ``kappa2`` is solved from the stationarity condition and ``target`` is the
    closed form ``sum s^4 / sum s^2``; they are equal.

    Chapter 1, section "The magnitude probe".
    """
    n = positive_int("n", n)
    s = sp.symbols(f"s1:{n + 1}", positive=True)
    t = sp.Symbol("t", positive=True)
    objective = sum((si**2 * t - 1) ** 2 for si in s)
    (t_star,) = sp.solve(sp.diff(objective, t), t)
    kappa2 = sp.simplify(1 / t_star)
    target = sum(si**4 for si in s) / sum(si**2 for si in s)
    return kappa2, target


def probe_scale(weight: np.ndarray) -> float:
    """The probe scale ``lam = sqrt(tr((W W^T)^2) / tr(W W^T))`` of a matrix (NumPy).

    The minimiser of ``||W W^T / kappa^2 - I||_F`` over ``kappa > 0``
    (:func:`probe_scale_closed_form`).

    Chapter 1, section "The magnitude probe".
    """
    if isinstance(weight, (str, bytes)):
        raise TypeError(f"weight must be a 2-D array of real numbers, got {weight!r}")
    try:
        w = np.asarray(weight)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"weight must be a 2-D array of real numbers: {err}") from None
    if w.dtype.kind not in "iuf":
        raise TypeError(f"weight must be a 2-D array of real numbers, got dtype {w.dtype}")
    w = w.astype(float)
    if w.ndim != 2:
        raise ValueError(f"weight must be a 2-D matrix, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weight must be finite, got NaN or infinity")
    gram = w @ w.T
    denom = np.trace(gram)
    if denom <= 0:
        raise ValueError("weight must not be all zeros")
    return float(np.sqrt(np.sum(gram * gram) / denom))


def probe_chain_rule_residual() -> sp.Expr:
    """``d L(lam U)/d lam - <dL/dW at lam U, U>`` for a smooth test loss of a 2x2 ``W``.

    It simplifies to zero: the chain-rule identity of the probe.

    Chapter 1, section "The magnitude probe".
    """
    w = sp.Matrix(2, 2, sp.symbols("w11 w12 w21 w22", real=True))
    u = sp.Matrix(2, 2, sp.symbols("u11 u12 u21 u22", real=True))
    loss = sp.tanh(w[0, 0] * w[1, 1] - w[0, 1]) + sp.sin(w[1, 0]) * w[0, 1] ** 2 + w[1, 1] ** 3
    at = dict(zip(w, lam * u, strict=True))
    lhs = sp.diff(loss.subs(at), lam)
    rhs = sum(sp.diff(loss, w[k]).subs(at) * u[k] for k in range(4))
    return sp.simplify(lhs - rhs)


# ---------------------------------------------------------------------------
# 3. Gradients of the branch scales
# ---------------------------------------------------------------------------


def branch_scale_gradients() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """Derivatives of the pre-LN sum ``z`` with respect to the branch scales.

    FFN:  ``z = x + lam1 lam2 h / alpha`` with ``h = phi(x U1) U2`` (O(1)).
    Attention: ``z = x + lam_v lam_o a / alpha`` with ``a = softmax(.) x U_v U_o``.
    Returns ``{"ffn": (dz/dlam1, expected), ..., }`` pairs whose difference is 0;
    the expected forms are ``lam2 h / alpha`` etc., i.e. ``O(lam / alpha)``.

    Chapter 1, section "DeepNorm and the gradient of a branch".
    """
    x, h, a = sp.symbols("x h a", real=True)
    l1, l2, lv, lo = sp.symbols("lambda_1 lambda_2 lambda_v lambda_o", positive=True)
    z_ffn = x + l1 * l2 * h / alpha
    z_att = x + lv * lo * a / alpha
    return {
        "ffn_1": (sp.diff(z_ffn, l1), l2 * h / alpha),
        "ffn_2": (sp.diff(z_ffn, l2), l1 * h / alpha),
        "attn_v": (sp.diff(z_att, lv), lo * a / alpha),
        "attn_o": (sp.diff(z_att, lo), lv * a / alpha),
    }


def relu_homogeneity_residual() -> tuple[sp.Expr, sp.Expr]:
    """``relu(c x) - c relu(x)`` for ``c > 0``, on ``x > 0`` and on ``x < 0``: both zero.

    Positive homogeneity of ``phi`` lets the probe scales leave the FFN branch.

    Chapter 1, section "DeepNorm and the gradient of a branch".
    """
    c = sp.Symbol("c", positive=True)
    out = []
    for x in (sp.Symbol("x_pos", positive=True), sp.Symbol("x_neg", negative=True)):
        out.append(sp.simplify(sp.Max(0, c * x) - c * sp.Max(0, x)))
    return out[0], out[1]


def layer_norm(v: sp.Matrix) -> sp.Matrix:
    """LayerNorm without ``eps`` or affine: ``(v - mean) / sqrt(var)`` (population variance)."""
    n = len(v)
    mean = sum(v) / n
    var = sum((vi - mean) ** 2 for vi in v) / n
    return sp.Matrix([(vi - mean) / sp.sqrt(var) for vi in v])


def deepnorm_scale_invariance_residual(
    n: int = 3, branch_weight=None, simplify: bool = True
) -> sp.Expr:
    """``LN(alpha x + F) - LN(x + F/alpha)`` for an ``n``-entry vector without eps/affine.

    With ``n >= 3`` (on two entries LN is only the sign of ``x1 - x2``, so
    many wrong identities also hold) it simplifies to the zero vector; the
    sum of squares of the entries is returned.  ``branch_weight`` replaces
    the left side by ``LN(x + branch_weight F)`` (e.g. ``alpha``: the
    alpha-on-the-branch mistake), which does *not* simplify to zero.

    Chapter 1, section "DeepNorm and the gradient of a branch".
    """
    n = count("n", n, 2)
    if branch_weight is not None:
        branch_weight = expr("branch_weight", branch_weight)
    simplify = flag("simplify", simplify)
    x = sp.Matrix(sp.symbols(f"x1:{n + 1}", real=True))
    f = sp.Matrix(sp.symbols(f"f1:{n + 1}", real=True))
    lhs = layer_norm(alpha * x + f) if branch_weight is None else layer_norm(x + branch_weight * f)
    diff = lhs - layer_norm(x + f / alpha)
    if not simplify:
        return sum(d**2 for d in diff)
    return sp.simplify(sum(sp.simplify(d) ** 2 for d in diff))


# ---------------------------------------------------------------------------
# 4. Conditions and constants per optimizer
# ---------------------------------------------------------------------------


def increment_order(optimizer: str, alpha_expr=alpha, lam_expr=lam) -> sp.Expr:
    """Order of ``|dL| / eta`` summed over ``2N`` sub-layers with gradients ``lam/alpha``.

    Per matrix the gradient is ``g = lam/alpha`` and the weight is ``lam``, so
    (from :func:`first_order_increment`):

    * SGD:  ``2N (lam/alpha)^2``;
    * Adam: ``2N (lam/alpha)``;
    * LAMB: ``2N lam * (lam/alpha) = 2N lam^2/alpha``.

    Chapter 1, section "One condition per optimizer".
    """
    _check_optimizer(optimizer)
    alpha_expr = expr("alpha_expr", alpha_expr, "positive")
    lam_expr = expr("lam_expr", lam_expr, "positive")
    g = sp.Symbol("g", positive=True)
    theta_norm = sp.Symbol("theta_norm", positive=True)
    _, d_loss = first_order_increment(optimizer)
    per_matrix = sp.Abs(d_loss).subs({sp.Symbol("g", real=True): g}) / eta
    per_matrix = per_matrix.subs({g: lam_expr / alpha_expr, theta_norm: lam_expr})
    return sp.simplify(2 * N * per_matrix)


def condition(optimizer: str) -> sp.Eq:
    """Depth independence: ``increment_order(optimizer) = 1``, rewritten per optimizer.

    SGD: ``lam/alpha = (2N)^(-1/2)``; Adam: ``lam/alpha = (2N)^(-1)``;
    LAMB: ``lam^2/alpha = (2N)^(-1)``.

    Chapter 1, section "One condition per optimizer".
    """
    return _condition(_check_optimizer(optimizer))


@cache
def _condition(optimizer: str) -> sp.Eq:
    order = increment_order(optimizer)
    if optimizer == "lamb":
        lhs = lam**2 / alpha
    else:
        lhs = lam / alpha
    # solve order == 1 for the combination lhs
    c = sp.Symbol("c", positive=True)
    rewritten = order.subs(lam, sp.sqrt(c * alpha) if optimizer == "lamb" else c * alpha)
    (c_star,) = sp.solve(sp.Eq(sp.simplify(rewritten), 1), c)
    return sp.Eq(lhs, sp.simplify(c_star))


def solve_constants(optimizer: str, choice: str = "symmetric") -> dict[str, sp.Expr]:
    """Solve ``condition(optimizer)`` together with a second equation.

    ``choice``: ``"symmetric"`` (``lam = 1/alpha``, the paper's choice),
    ``"alpha_one"`` (``alpha = 1``) or ``"lambda_one"`` (``lam = 1``).
    Returns ``{"alpha": ..., "lambda": ...}`` as functions of ``N``.

    Chapter 1, section "One condition per optimizer".
    """
    _check_optimizer(optimizer)
    one_of("choice", choice, CHOICES)
    return dict(_solve_constants(optimizer, choice))


@cache
def _solve_constants(optimizer: str, choice: str) -> tuple[tuple[str, sp.Expr], ...]:
    second = {
        "symmetric": sp.Eq(lam, 1 / alpha),
        "alpha_one": sp.Eq(alpha, 1),
        "lambda_one": sp.Eq(lam, 1),
    }[choice]
    (sol,) = sp.solve([condition(optimizer), second], [alpha, lam], dict=True)
    return (("alpha", sp.simplify(sol[alpha])), ("lambda", sp.simplify(sol[lam])))


#: The second equation the article adopts per optimizer.
SU_CHOICE = {"sgd": "symmetric", "adam": "symmetric", "lamb": "alpha_one"}


def su_table() -> dict[str, dict[str, sp.Expr]]:
    """The article's table: per optimizer the update, ``dL``, condition, ``alpha``, ``lam``.

    Chapter 1, section "One condition per optimizer".
    """
    table = {}
    for opt in OPTIMIZERS:
        step, d_loss = first_order_increment(opt)
        consts = solve_constants(opt, SU_CHOICE[opt])
        table[opt] = {
            "update": step,
            "increment": d_loss,
            "condition": condition(opt),
            "alpha": consts["alpha"],
            "lambda": consts["lambda"],
        }
    return table


def post_hoc_branch_scale(optimizer: str) -> sp.Expr:
    """``lam^2/alpha``: the scale of each residual branch at init under the article's row.

    SGD ``(2N)^(-3/4)``, Adam ``(2N)^(-3/2)``, LAMB ``(2N)^(-1)``: all tend to 0.

    Chapter 1, section "After the fact".
    """
    consts = solve_constants(optimizer, SU_CHOICE[_check_optimizer(optimizer)])
    return sp.simplify(consts["lambda"] ** 2 / consts["alpha"])


def preln_constants(optimizer: str) -> sp.Expr:
    """Pre-LN: no ``alpha`` (set 1) and solve the condition for ``lam``.

    Chapter 1, section "After the fact".
    """
    return solve_constants(optimizer, "alpha_one")["lambda"]


# ---------------------------------------------------------------------------
# 5. The paper's constants
# ---------------------------------------------------------------------------

ARCHITECTURES = ("encoder", "decoder", "encoder_decoder")


def paper_constants(architecture: str = "encoder") -> dict[str, sp.Expr]:
    """DeepNet's table (paper Fig. 2): ``alpha`` and ``beta`` per architecture.

    Encoder-only: ``alpha=(2N)^(1/4)``, ``beta=(8N)^(-1/4)``.  Decoder-only: the
    same with ``M``.  Encoder-decoder: encoder ``0.81 (N^4 M)^(1/16)``,
    ``0.87 (N^4 M)^(-1/16)``; decoder ``(3M)^(1/4)``, ``(12M)^(-1/4)``.

    Chapter 1, section "The paper's constants".
    """
    one_of("architecture", architecture, ARCHITECTURES)
    q = sp.Rational
    if architecture == "encoder":
        return {"alpha": (2 * N) ** q(1, 4), "beta": (8 * N) ** q(-1, 4)}
    if architecture == "decoder":
        return {"alpha": (2 * M) ** q(1, 4), "beta": (8 * M) ** q(-1, 4)}
    if architecture == "encoder_decoder":
        return {
            "alpha_encoder": q(81, 100) * (N**4 * M) ** q(1, 16),
            "beta_encoder": q(87, 100) * (N**4 * M) ** q(-1, 16),
            "alpha_decoder": (3 * M) ** q(1, 4),
            "beta_decoder": (12 * M) ** q(-1, 4),
        }
    raise AssertionError("unreachable")  # pragma: no cover


def paper_relations() -> dict[str, sp.Expr]:
    """How the paper's encoder constants relate to the article's SGD row.

    * ``beta/alpha`` (per matrix) ``= (4N)^(-1/2)``;
    * ``alpha beta = 2^(-1/2)`` (not 1: the paper is not exactly symmetric);
    * ``2N * 2 beta^2/alpha^2 = 1`` (two value-path matrices per sub-layer);
    * ``lam_su / beta = sqrt(2)``: the article's per-matrix scale is larger;
    * decoder: ``3M * 2 beta_d^2/alpha_d^2 = 1`` and ``alpha_d beta_d = 2^(-1/2)``.

    Chapter 1, section "The paper's constants".
    """
    enc = paper_constants("encoder")
    dec = paper_constants("encoder_decoder")
    su = solve_constants("sgd", "symmetric")
    a, b = enc["alpha"], enc["beta"]
    ad, bd = dec["alpha_decoder"], dec["beta_decoder"]
    return {
        "beta_over_alpha": sp.simplify(b / a),
        "alpha_times_beta": sp.simplify(a * b),
        "sgd_budget": sp.simplify(2 * N * 2 * b**2 / a**2),
        "combined_scale": sp.simplify(sp.sqrt(2) * b / a),
        "su_lambda_over_beta": sp.simplify(su["lambda"] / b),
        "su_alpha_over_alpha": sp.simplify(su["alpha"] / a),
        "decoder_budget": sp.simplify(3 * M * 2 * bd**2 / ad**2),
        "decoder_alpha_times_beta": sp.simplify(ad * bd),
    }


# ---------------------------------------------------------------------------
# Schemes used by the experiments (one source of truth for the blocks)
# ---------------------------------------------------------------------------


def scheme_constants(scheme: str) -> dict[str, sp.Expr]:
    """``alpha(N)``, ``lam(N)`` and the block kind for a named init scheme.

    ``lam`` is the Xavier gain of the value-path matrices (v, o, fc1, fc2).
    The article's rows come from :func:`solve_constants`; the paper's from
    :func:`paper_constants` (``lam = beta``).

    Chapter 1, section "Measuring the increment against depth".
    """
    one_of("scheme", scheme, SCHEMES)
    one = sp.Integer(1)
    if scheme in ("post_ln", "pre_ln", "no_residual"):
        kind = {"post_ln": "post", "pre_ln": "pre", "no_residual": "none"}[scheme]
        return {"alpha": one, "lambda": one, "norm": kind}
    if scheme == "deepnorm_paper":
        p = paper_constants("encoder")
        return {"alpha": p["alpha"], "lambda": p["beta"], "norm": "post"}
    rows = {
        "su_sgd": ("sgd", "symmetric", "post"),
        "su_adam": ("adam", "symmetric", "post"),
        "su_lamb": ("lamb", "alpha_one", "post"),
        "alt1": ("sgd", "alpha_one", "post"),
        "alt2": ("sgd", "lambda_one", "post"),
        "pre_ln_sgd": ("sgd", "alpha_one", "pre"),
        "pre_ln_adam": ("adam", "alpha_one", "pre"),
    }
    opt, choice, kind = rows[scheme]
    consts = solve_constants(opt, choice)
    return {"alpha": consts["alpha"], "lambda": consts["lambda"], "norm": kind}


def scheme_values(scheme: str, depth: int) -> tuple[float, float]:
    """Numeric ``(alpha, lam)`` of a scheme at ``N = depth``.

    Chapter 1, section "Measuring the increment against depth".
    """
    depth = positive_int("depth", depth)
    c = scheme_constants(scheme)
    return float(c["alpha"].subs(N, int(depth))), float(c["lambda"].subs(N, int(depth)))


def predicted_slope(scheme: str, optimizer: str) -> float | None:
    """Exponent of ``N`` in ``increment_order(optimizer)`` under ``scheme``'s constants.

    ``None`` for the plain Pre-LN and no-residual stacks, whose increments are
    not covered by the argument (their gradients are not ``lam/alpha``).

    Chapter 1, section "Measuring the increment against depth".
    """
    _check_optimizer(optimizer)
    c = scheme_constants(scheme)  # checks scheme
    if scheme in ("pre_ln", "no_residual"):
        return None
    order = increment_order(optimizer, c["alpha"], c["lambda"])
    return float(sp.simplify(N * sp.diff(order, N) / order))
