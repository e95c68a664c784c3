"""Bad input to the SymPy derivations (``deepnotes.theory.*``), see ``tests/badinput.py``.

The derivations take three kinds of argument: numbers a reader picks (depths, dimensions,
rates, choices), SymPy objects that are another derivation's output (an expression, a
column of coordinates, the time symbol) and flags.  Numbers get the usual bad values.
SymPy arguments get what is never one (``None``, a string, which SymPy would parse, a
list, a bool), NaN and infinities, and values SymPy can tell break the rule (``-a`` for
a positive argument, ``I`` for a real one, a row where a column is wanted).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from badinput import Spec, choice, count, make_tests, nonnegative, open_unit, positive
from hypothesis import strategies as st

from deepnotes.theory import (
    amos,
    characteristics,
    deepnet,
    keynorm,
    lru,
    ode,
    residual,
    toolbox,
    vq,
)

X = sp.Symbol("x", real=True)
Z = sp.Symbol("z", real=True)
POS = sp.Symbol("a", positive=True)

#: Never a SymPy expression nor a number (a string would be parsed by SymPy).
NOT_AN_EXPR = [None, "x", "1", [1], {"a": 1}, object(), True, sp.Matrix([1])]
NONFINITE = [math.nan, math.inf, -math.inf, sp.nan, sp.oo, sp.zoo]
SIGN_BREAKERS = {
    "positive": [0, -1, -0.5, sp.Integer(-2), -POS],
    "nonnegative": [-1, -1e-3, sp.Rational(-1, 2), -POS],
    "real": [sp.I, 1 + sp.I, sp.Symbol("w", imaginary=True)],
}


def expression(sign: str | None = None, *, finite: bool = True, none_ok: bool = False):
    """Bad values for a SymPy-expression-or-number argument."""
    bad = [v for v in NOT_AN_EXPR if not (none_ok and v is None)]
    bad += NONFINITE if finite else []
    bad += SIGN_BREAKERS.get(sign, [])
    return st.sampled_from(bad)


def dimension(low: int = 1):
    """Bad values for an integer that may also be a SymPy symbol for one (``d``, ``N``)."""
    symbolic = [
        sp.Rational(1, 2),
        sp.nan,
        sp.oo,
        sp.Symbol("q", negative=True),
        sp.Symbol("w", integer=False),
        sp.Integer(low - 1),
        "d",
    ]
    return st.one_of(count(low), st.sampled_from(symbolic))


def count_up_to(high: int, low: int = 1):
    """Bad values for a count in ``[low, high]``: the usual ones and one past the top."""
    return st.one_of(count(low), st.sampled_from([high + 1, 10**6]))


#: Bad values for an argument that must be a SymPy Symbol.
NOT_A_SYMBOL = st.sampled_from([None, "t", 1, 2.5, X + 1, sp.Matrix([X]), [X]])
#: Bad values for a flag.
NOT_A_FLAG = st.sampled_from([None, 0, 1, 1.0, "yes", "False", [True]])


def column(rows: int):
    """Bad values for a SymPy column of ``rows`` entries."""
    return st.sampled_from(
        [None, "x", [X] * rows, X, sp.Matrix([[X] * rows]), sp.Matrix([X] * (rows + 1))]
    )


def coordinates(rows: int):
    """Bad values for a column of ``rows`` distinct symbols."""
    return st.one_of(column(rows), st.sampled_from([sp.Matrix([1] * rows), sp.Matrix([X] * rows)]))


#: Bad values for a real 2-D array (``probe_scale``'s weight).
NOT_A_MATRIX = st.sampled_from(
    [
        None,
        "1",
        [1.0, 2.0],
        {"a": 1},
        object(),
        np.ones(3),
        np.ones((2, 2, 2)),
        np.float64(1.0),
        np.zeros((3, 3)),
        np.array([[1.0, math.nan], [0.0, 1.0]]),
        np.array([[1.0, 0.0], [0.0, math.inf]]),
        np.array([["a", "b"], ["c", "d"]]),
        np.eye(2, dtype=bool),
        np.eye(2) * (1 + 1j),
    ]
)

#: Bad values for a sequence of codes.
NOT_CODES = st.sampled_from(
    [None, 5, "01", [2], [-1], [0.5], [True], [], {"a": 1}, object(), (0, "1"), [0] * 65]
)

#: Bad values for a pair ``(a, b)`` of the scan operator.
NOT_A_PAIR = st.sampled_from(
    [None, 1, (1,), (1, 2, 3), ("a", "b"), [None, 1], {"a": 1}, object(), "ab", (1, math.nan)]
)

X2 = characteristics.point("x", 2)
X0 = characteristics.point("x0", 2)
T = characteristics.t
STRAIGHT = characteristics.table_field("straight")


def _lambda_bad_layers():
    return st.sampled_from(
        [2.0, "m", [1], {"a": 1}, object(), lambda m: m**2 + 1, lambda m: None, lambda m: "m"]
    )


SPECS = [
    # ---------------------------------------------------------------- toolbox (chapter 0)
    Spec(
        "deepnotes.theory.toolbox.output_second_moment_exact",
        lambda: {"fan_in": 1},
        {"fan_in": count()},
    ),
    Spec(
        "deepnotes.theory.toolbox.layer_map",
        lambda: {"m_in": sp.Symbol("m", positive=True)},
        {"m_in": expression("nonnegative")},
    ),
    Spec(
        "deepnotes.theory.toolbox.depth_second_moment",
        lambda: {"layer": lambda m: 2 * m},
        {"layer": _lambda_bad_layers()},  # None means layer_map
    ),
    # ---------------------------------------------------------------- deepnet (chapter 1)
    Spec(
        "deepnotes.theory.deepnet.first_order_increment",
        lambda: {"optimizer": "adam"},
        {"optimizer": choice(*deepnet.OPTIMIZERS)},
    ),
    Spec(
        "deepnotes.theory.deepnet.sign_rewrite_residual",
        lambda: {"optimizer": "sgd"},
        {"optimizer": choice(*deepnet.OPTIMIZERS)},
    ),
    Spec(
        "deepnotes.theory.deepnet.probe_scale_closed_form",
        lambda: {"n": 2},
        {"n": count()},
    ),
    Spec(
        "deepnotes.theory.deepnet.probe_scale",
        lambda: {"weight": 0.5 * np.eye(3)},
        {"weight": NOT_A_MATRIX},
    ),
    Spec(
        "deepnotes.theory.deepnet.deepnorm_scale_invariance_residual",
        lambda: {"n": 3, "branch_weight": None, "simplify": False},
        {
            "n": count(2),
            "branch_weight": expression(none_ok=True),  # None: the DeepNorm form itself
            "simplify": NOT_A_FLAG,
        },
    ),
    Spec(
        "deepnotes.theory.deepnet.increment_order",
        lambda: {"optimizer": "sgd", "alpha_expr": deepnet.alpha, "lam_expr": deepnet.lam},
        {
            "optimizer": choice(*deepnet.OPTIMIZERS),
            "alpha_expr": expression("positive"),
            "lam_expr": expression("positive"),
        },
    ),
    Spec(
        "deepnotes.theory.deepnet.condition",
        lambda: {"optimizer": "lamb"},
        {"optimizer": choice(*deepnet.OPTIMIZERS)},
    ),
    Spec(
        "deepnotes.theory.deepnet.solve_constants",
        lambda: {"optimizer": "sgd", "choice": "symmetric"},
        {"optimizer": choice(*deepnet.OPTIMIZERS), "choice": choice(*deepnet.CHOICES)},
    ),
    Spec(
        "deepnotes.theory.deepnet.post_hoc_branch_scale",
        lambda: {"optimizer": "adam"},
        {"optimizer": choice(*deepnet.OPTIMIZERS)},
    ),
    Spec(
        "deepnotes.theory.deepnet.preln_constants",
        lambda: {"optimizer": "sgd"},
        {"optimizer": choice(*deepnet.OPTIMIZERS)},
    ),
    Spec(
        "deepnotes.theory.deepnet.paper_constants",
        lambda: {"architecture": "decoder"},
        {"architecture": choice(*deepnet.ARCHITECTURES)},
    ),
    Spec(
        "deepnotes.theory.deepnet.scheme_constants",
        lambda: {"scheme": "su_sgd"},
        {"scheme": choice(*deepnet.SCHEMES)},
    ),
    Spec(
        "deepnotes.theory.deepnet.scheme_values",
        lambda: {"scheme": "deepnorm_paper", "depth": 4},
        {"scheme": choice(*deepnet.SCHEMES), "depth": count()},
    ),
    Spec(
        "deepnotes.theory.deepnet.predicted_slope",
        lambda: {"scheme": "su_adam", "optimizer": "adam"},
        {"scheme": choice(*deepnet.SCHEMES), "optimizer": choice(*deepnet.OPTIMIZERS)},
    ),
    # ---------------------------------------------------------------- residual (chapter 2)
    Spec(
        "deepnotes.theory.residual.epsilon_rule",
        lambda: {"p": sp.Rational(1, 2), "N": residual.DEPTH},
        {"p": expression("nonnegative"), "N": dimension()},
    ),
    Spec(
        "deepnotes.theory.residual.increment_exponent",
        lambda: {"gradient_exponent": sp.Rational(-1, 2), "optimizer": "sgd"},
        {"gradient_exponent": expression("real"), "optimizer": choice("sgd", "adam")},
    ),
    Spec(
        "deepnotes.theory.residual.required_gradient_exponent",
        lambda: {"optimizer": "adam"},
        {"optimizer": choice("sgd", "adam")},
    ),
    Spec(
        "deepnotes.theory.residual.expectation",
        lambda: {"expr": Z**4 + X * Z, "variances": {Z: POS**2}},
        {
            "expr": st.sampled_from(
                [None, "z**2", [Z], object(), True, sp.exp(Z), 1 / Z, sp.Matrix([Z])]
            ),
            "variances": st.sampled_from(
                [None, [Z], {}, {"z": 1}, {Z: -1}, {Z: "1"}, {Z: sp.nan}, {Z: -POS}]
            ),
        },
    ),
    Spec(
        "deepnotes.theory.residual.forward_moment",
        lambda: {"n": 2, "sigma2": POS, "q": sp.Rational(1, 3)},
        {"n": count(), "sigma2": expression("nonnegative"), "q": expression("nonnegative")},
    ),
    *[
        Spec(
            f"deepnotes.theory.residual.{name}",
            lambda: {"g": POS, "N": residual.DEPTH},
            {"g": expression("real"), "N": dimension()},
        )
        for name in ("chain_forward_ratio", "chain_forward_recursion", "chain_gradient_scale")
    ],
    Spec(
        "deepnotes.theory.residual.linear_chain_gradient",
        lambda: {"depth": 3, "layer": 2, "g": POS},
        {
            "depth": count(),
            "layer": st.one_of(count(), st.just(4)),  # 4 > depth
            "g": expression("real"),
        },
    ),
    Spec(
        "deepnotes.theory.residual.stable_positive_gains",
        lambda: {"N": residual.DEPTH},
        {"N": dimension()},
    ),
    Spec(
        "deepnotes.theory.residual.gradient_sum",
        lambda: {"eps": residual.EPS, "N": residual.DEPTH, "branch_factor": sp.Rational(3, 2)},
        {
            "eps": expression("nonnegative", none_ok=True),  # None: the plain chain
            "N": dimension(),
            "branch_factor": expression("positive"),
        },
    ),
    Spec(
        "deepnotes.theory.residual.asymptotic_slope",
        lambda: {"expr": residual.DEPTH**2, "N": residual.DEPTH},
        {
            "expr": st.sampled_from(
                [None, "N", [1], object(), True, sp.Integer(2), residual.EPS, sp.Matrix([1])]
            ),
            "N": NOT_A_SYMBOL,
        },
    ),
    Spec(
        "deepnotes.theory.residual.amplification",
        lambda: {"eps": residual.EPS, "N": residual.DEPTH, "kind": "1d"},
        {
            "eps": expression("nonnegative"),
            "N": dimension(),
            "kind": choice("1d", "1d-squared", "highd"),
        },
    ),
    Spec(
        "deepnotes.theory.residual.amplification_numeric",
        lambda: {"kind": "highd", "p": 0.5},
        {
            "kind": choice("1d", "1d-squared", "highd"),
            "p": expression("nonnegative", none_ok=True),  # None: f(eps, N)
        },
        finite=False,
    ),
    Spec(
        "deepnotes.theory.residual.amplification_limits",
        lambda: {"kind": "highd"},
        {"kind": choice("1d", "1d-squared", "highd")},
    ),
    Spec(
        "deepnotes.theory.residual.expected_step_norm",
        lambda: {"d": 1},
        {"d": count()},
    ),
    # ---------------------------------------------------------------- amos (chapter 3)
    Spec(
        "deepnotes.theory.amos.eps0_norm_sq",
        lambda: {"init": "zero"},
        {"init": choice("random", "zero")},
    ),
    Spec(
        "deepnotes.theory.amos.q_at_start",
        lambda: {"init": "random"},
        {"init": choice("random", "zero")},
    ),
    Spec(
        "deepnotes.theory.amos.half_life_rate",
        lambda: {"law": "inverse_time"},
        {"law": choice(*amos.LAWS)},
    ),
    *[
        Spec(
            f"deepnotes.theory.amos.{name}",
            lambda: {"rate": 0.1, "steps": 5, "law": "inverse_square"},
            {"rate": positive(), "steps": count(), "law": choice(*amos.LAWS)},
        )
        for name in ("discrete_decay", "closed_form_decay")
    ],
    Spec(
        "deepnotes.theory.amos.adamw_pair",
        lambda: {"alpha0_value": 0.01, "sigma_value": 0.05},
        {"alpha0_value": positive(), "sigma_value": positive()},
        finite=False,
    ),
    Spec(
        "deepnotes.theory.amos.alpha0_from_lr",
        lambda: {"lr_value": 1e-3, "sigma_value": 0.05},
        {"lr_value": positive(), "sigma_value": positive()},
    ),
    Spec(
        "deepnotes.theory.amos.bert_base_pair",
        lambda: {"hidden": 768, "lr_value": 4e-5},
        {"hidden": count(), "lr_value": positive()},
        finite=False,
    ),
    Spec(
        "deepnotes.theory.amos.amos_decay_recursion",
        lambda: {
            "xi_value": 0.1,
            "eta_value": 1.0,
            "steps": 10,
            "c_coef_value": 0.25,
            "d_coef_value": 0.25,
        },
        {
            "xi_value": positive(),
            "eta_value": positive(),
            "steps": count(),
            "c_coef_value": nonnegative(),
            "d_coef_value": nonnegative(),
        },
    ),
    # ---------------------------------------------------------------- ode (chapter 4)
    *[
        Spec(f"deepnotes.theory.ode.{name}", lambda: {"dim": 2}, {"dim": dimension()})
        for name in ("sphere_area", "normalising_constant_claim", "gravity_radius_density")
    ],
    *[
        Spec(f"deepnotes.theory.ode.{name}", lambda: {"dim": 1}, {"dim": count_up_to(high)})
        for name, high in (
            ("isotropic_radial_ode", 4),
            ("gravity_field", 4),
            ("space_only_divergence", 4),
            ("point_source_divergence", 4),
            ("normalising_constant", 8),
            ("gravity_radial_cdf", 8),
            ("beta_transform_density", 8),
            ("ratio_trick_density", 8),
            ("point_source_flux", 8),
        )
    ],
    Spec(
        "deepnotes.theory.ode.sep_residual",
        lambda: {"phi": ode.r * ode.t, "varphi": ode.t, "dim": 2},
        {
            "phi": expression(finite=False),
            "varphi": expression(finite=False),
            "dim": dimension(),
        },
    ),
    Spec(
        "deepnotes.theory.ode.worked_cdf",
        lambda: {"kernel": "exp"},
        {"kernel": choice(*ode.WORKED_KERNELS)},
    ),
    Spec(
        "deepnotes.theory.ode.reverse_construction",
        lambda: {"psi": ode.worked_cdf("exp"), "dim": 2, "lam": ode.t},
        {
            "psi": st.sampled_from([*NOT_AN_EXPR, ode.t, sp.Integer(1)]),  # no r in them
            "dim": dimension(),
            "lam": expression(),
        },
    ),
    # ---------------------------------------------------------------- characteristics (chapter 5)
    Spec(
        "deepnotes.theory.characteristics.point",
        lambda: {"name": "y", "dim": 3},
        {
            "name": st.sampled_from([None, 1, "", "x y", "1x", ["x"], b"x"]),
            "dim": count_up_to(8),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.theory.characteristics.rotation",
        lambda: {"angle": X},
        {"angle": expression("real")},
        finite=False,
    ),
    *[
        Spec(
            f"deepnotes.theory.characteristics.{name}",
            lambda: {"path": "trig", "dim": 2},
            {"path": choice(*characteristics.PATHS), "dim": count_up_to(8)},
            finite=False,
        )
        for name in ("inverse_map", "table_field")
    ],
    Spec(
        "deepnotes.theory.characteristics.field_from_inverse",
        lambda: {
            "phi": characteristics.inverse_map("straight")["phi"],
            "x": X2,
            "time": T,
        },
        {
            "phi": st.one_of(column(2), st.just(sp.Matrix([T, T]))),  # singular in x
            "x": coordinates(2),
            "time": NOT_A_SYMBOL,
        },
        finite=False,
    ),
    Spec(
        "deepnotes.theory.characteristics.reduced",
        lambda: {"expr": sp.sin(X) ** 2 + sp.cos(X) ** 2 - 1},
        {"expr": st.sampled_from([v for v in NOT_AN_EXPR if not isinstance(v, sp.MatrixBase)])},
    ),
    Spec(
        "deepnotes.theory.characteristics.divergence",
        lambda: {"f": STRAIGHT, "x": X2},
        {"f": column(2), "x": coordinates(2)},
    ),
    Spec(
        "deepnotes.theory.characteristics.characteristic_factor",
        lambda: {"div": 2 / T, "time": T},
        {
            "div": st.sampled_from([*NOT_AN_EXPR, X / T]),  # X / T depends on x
            "time": st.one_of(NOT_A_SYMBOL, st.just(characteristics.s)),
        },
    ),
    Spec(
        "deepnotes.theory.characteristics.continuity_residual",
        lambda: {"p": sp.exp(-(X2[0] ** 2)) / T, "f": STRAIGHT, "x": X2, "time": T},
        {
            "p": expression(finite=False),
            "f": column(2),
            "x": coordinates(2),
            "time": NOT_A_SYMBOL,
        },
    ),
    Spec(
        "deepnotes.theory.characteristics.log_continuity_residual",
        lambda: {"logp": -(X2[0] ** 2) / T, "f": STRAIGHT, "x": X2, "time": T},
        {
            "logp": expression(finite=False),
            "f": column(2),
            "x": coordinates(2),
            "time": NOT_A_SYMBOL,
        },
    ),
    Spec(
        "deepnotes.theory.characteristics.log_gaussian",
        lambda: {"x": X2, "mean": (1 - T) * X0, "var": T**2},
        {"x": column(2), "mean": column(2), "var": expression("positive")},
    ),
    # ---------------------------------------------------------------- lru (chapter 6)
    Spec(
        "deepnotes.theory.lru.unrolled_state",
        lambda: {"steps": 2},
        {"steps": count_up_to(4096, low=0)},
    ),
    Spec(
        "deepnotes.theory.lru.convolution_output",
        lambda: {"steps": 1},
        {"steps": count_up_to(4096, low=0)},
    ),
    Spec(
        "deepnotes.theory.lru.half_split",
        lambda: {"T": 3, "t": 1},
        {"T": count_up_to(4096), "t": st.one_of(count(0), st.just(3))},  # t must be < T
    ),
    Spec(
        "deepnotes.theory.lru.upper_lower_symbolic",
        lambda: {"length": 4},
        {"length": st.one_of(count_up_to(4096), st.sampled_from([3, 6]))},  # powers of two
    ),
    Spec(
        "deepnotes.theory.lru.overflow_lengths",
        lambda: {"r": 0.9, "fmt": "float16"},
        {"r": open_unit(), "fmt": choice("float16", "float32", "float64")},
        finite=False,
    ),
    Spec(
        "deepnotes.theory.lru.scan_operator",
        lambda: {"e1": (2, 1), "e2": (3, X)},
        {"e1": NOT_A_PAIR, "e2": NOT_A_PAIR},
        finite=False,
    ),
    # ---------------------------------------------------------------- vq (chapter 7)
    Spec(
        "deepnotes.theory.vq.one_hot",
        lambda: {"z": (0, 1, 1), "c": 2},
        {"z": NOT_CODES, "c": count_up_to(64)},
        finite=False,
    ),
    Spec(
        "deepnotes.theory.vq.pick_out",
        lambda: {"z": (1, 0), "c": 2, "soft": True},
        {"z": NOT_CODES, "c": count_up_to(64), "soft": NOT_A_FLAG},
        finite=False,
    ),
    Spec(
        "deepnotes.theory.vq.causal_recurrence",
        lambda: {"z": (1, 0), "c": 2},
        {"z": NOT_CODES, "c": count_up_to(64)},
        finite=False,
    ),
    Spec(
        "deepnotes.theory.vq.block_recurrence",
        lambda: {"z": (1, 0, 1, 0), "c": 2, "block_len": 2},
        {
            "z": NOT_CODES,
            "c": count_up_to(64),
            "block_len": st.one_of(count(), st.just(3)),  # 3 does not divide len(z)
        },
        finite=False,
    ),
    Spec(
        "deepnotes.theory.vq.crossover_length",
        lambda: {"with_update": True},
        {"with_update": NOT_A_FLAG},
    ),
    # ---------------------------------------------------------------- keynorm (chapter 8)
    *[
        Spec(f"deepnotes.theory.keynorm.{name}", lambda: {"d": 4}, {"d": dimension()})
        for name in ("expected_sq_norm", "norm_series")
    ],
    Spec("deepnotes.theory.keynorm.expected_norm", lambda: {"d": 2}, {"d": count()}),
    Spec("deepnotes.theory.keynorm.lagrange_gap", lambda: {"d": 2}, {"d": count()}),
    Spec(
        "deepnotes.theory.keynorm.sphere_logit_second_moment",
        lambda: {"d": 3},
        {"d": st.one_of(count(), st.sampled_from([2, 4]))},  # the integral is written in 3-D
    ),
    Spec(
        "deepnotes.theory.keynorm.log_ratio",
        lambda: {"scale": POS},
        {"scale": expression("positive", none_ok=True)},  # None: 1/sqrt(d)
    ),
    Spec(
        "deepnotes.theory.keynorm.rope_block",
        lambda: {"theta": X},
        {"theta": expression("real")},
        finite=False,
    ),
    Spec(
        "deepnotes.theory.keynorm.cosine_scale",
        lambda: {"length": 16, "factor": 4},
        {"length": count(), "factor": expression("positive")},
    ),
]

EXEMPT = {
    f"deepnotes.theory.characteristics.{name}": (
        "a SymPy undefined function (sp.Function placeholder of the derivation, like "
        "m(t) and sigma(t) of the affine path or the prior p_1): it takes any SymPy "
        "argument by design and is not deepnotes code"
    )
    for name in ("m", "sigma", "p1")
}

test_valid_call, test_bad_input = make_tests(SPECS)


def test_amos_recursion_overflow_is_an_error_not_nan():
    """Without the ``c`` damping ``b_t`` grows like ``(1 + xi^2)^t`` and overflows float64:
    a ValueError naming the arguments, not NaN arrays."""
    with pytest.raises(ValueError, match="xi_value"):
        amos.amos_decay_recursion(1.0, 1.0, 2000, c_coef_value=0.0)


def test_symbolic_dimensions_pass():
    """The symbolic arguments the chapters pass stay accepted (a check, not a bad input)."""
    assert keynorm.expected_sq_norm() == keynorm.d_sym
    assert ode.sphere_area(ode.d) == 2 * sp.pi ** (ode.d / 2) / sp.gamma(ode.d / 2)
    assert residual.amplification(residual.EPS, 2 * residual.DEPTH, "1d") == (1 + residual.EPS) ** (
        2 * residual.DEPTH
    )
    assert toolbox.layer_map(1) == toolbox.g**2
    assert lru.scan_operator((X, 1), (2, X)) == (2 * X, 2 + X)
    assert vq.one_hot([np.int64(1)], 2) == sp.Matrix([[0, 1]])
