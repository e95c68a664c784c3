"""Bad input to the generative-ODE package (``deepnotes.ode``), the LRU (``deepnotes.lru``)
and the delayed-recall task (``deepnotes.recall``): Chapters 4, 5 and 6."""

from __future__ import annotations

import math

import numpy as np
import torch
from badinput import (
    NOT_A_NUMBER,
    Spec,
    choice,
    count,
    make_tests,
    positive,
    tensor,
)
from hypothesis import strategies as st

from deepnotes import lru, recall
from deepnotes.ode import characteristics as C
from deepnotes.ode import fields, integrate, kernels, learned
from deepnotes.ode.data import DATASETS

F64 = torch.float64
NAN, INF = math.nan, math.inf


def pts(n: int = 4, d: int = 2) -> torch.Tensor:
    return torch.randn(n, d, dtype=F64)


def points(n: int = 4, d: int = 2, *, fixed_d: bool = True) -> st.SearchStrategy:
    """Bad ``(n, d)`` point sets: the tensor kinds, no rows, and (when ``d`` is fixed by the
    call, e.g. a model's dimension) the wrong dimension ``d``."""
    wrong = [torch.zeros(0, d, dtype=F64)] + ([torch.randn(n, d + 1, dtype=F64)] if fixed_d else [])
    return st.one_of(tensor((n, d), F64), st.sampled_from(wrong))


def times(n: int = 4) -> st.SearchStrategy:
    """Bad times for an argument that takes a number > 0 or an ``(n,)`` tensor of them
    (an integer tensor of positive times is a valid time, so no wrong-dtype kind)."""
    return st.one_of(
        positive(),
        tensor((n,), F64, wrong_dtype=False, wrong_ndim=False),
        st.sampled_from(
            [torch.full((n,), -0.5, dtype=F64), torch.full((n + 1,), 0.5, dtype=F64)]
            + [torch.full((n, 2), 0.5, dtype=F64), torch.zeros((), dtype=F64)]
        ),
    )


def unit_times(n: int = 4, *, scalar: bool = False, shaped: bool = True) -> st.SearchStrategy:
    """Bad times for ``t`` in ``(0, 1]`` (Chapter 5): a number, or an ``(n,)`` tensor unless
    ``scalar`` (then any tensor with more than one entry is bad too); ``shaped=False`` where
    any shape of ``t`` is valid (an elementwise function of time)."""
    bad_numbers = st.one_of(
        st.floats(max_value=0.0),
        st.floats(min_value=1.0 + 1e-9),
        st.sampled_from([NAN, INF, -INF, True]),
        NOT_A_NUMBER,
    )
    tensors = [torch.full((n,), 1.5, dtype=F64), torch.tensor([0.5, NAN, 0.5, 0.5])]
    if shaped:
        tensors += [torch.full((n + 1,), 0.5, dtype=F64), torch.full((n, 2), 0.5, dtype=F64)]
    if scalar:
        tensors.append(torch.full((n,), 0.5, dtype=F64))
    return st.one_of(bad_numbers, st.sampled_from(tensors))


def callables() -> st.SearchStrategy:
    """Bad values for an argument that must be a callable."""
    return st.sampled_from([None, 1, "f", [abs], object()])


def flags() -> st.SearchStrategy:
    """Bad values for a ``True``/``False`` switch (a string ``"False"`` would be truthy)."""
    return st.sampled_from([None, "False", "yes", 1.5, [True]])


def arrays(*, negative: bool = True, empty: bool = True) -> st.SearchStrategy:
    """Bad 1-D sample arrays (NumPy arrays, lists and tensors are all valid containers):
    NaN, infinity, empty (unless ``empty=False``: an empty query is valid), strings and junk;
    with ``negative=False`` also negative values."""
    bad = [np.array([0.5, NAN]), np.array([INF, 1.0]), torch.tensor([0.5, NAN])]
    bad += [np.array(["a", "b"]), "1", None, object(), {"a": 1}] + ([[]] if empty else [])
    if not negative:
        bad.append(np.array([0.5, -1.0]))
    return st.sampled_from(bad)


GEN = lambda: torch.Generator().manual_seed(0)  # noqa: E731
#: Bad generators (None is valid: the global generator); a seed is not a generator.
GEN_BAD = st.sampled_from([0, "0", 1.5, object(), np.random.default_rng(0)])

# --------------------------------------------------------------------------- ode.kernels

KERNELS = kernels.KERNELS

KERNEL_SPECS = [
    Spec("deepnotes.ode.kernels.log_sphere_area", lambda: {"d": 2}, {"d": count()}),
    Spec("deepnotes.ode.kernels.log_gravity_constant", lambda: {"d": 2}, {"d": count()}),
    Spec(
        "deepnotes.ode.kernels.log_density",
        lambda: {"kernel": "gravity", "x": pts(), "t": 0.5, "x0": pts()},
        {
            "kernel": choice(*KERNELS),
            # x and x0 broadcast (any rank): a wrong rank is no error, a wrong d is
            "x": st.one_of(
                tensor((4, 2), F64, wrong_ndim=False),
                st.sampled_from([torch.randn(4, 3, dtype=F64), torch.randn(3, 2, dtype=F64)]),
            ),
            "t": times(),
            "x0": st.one_of(
                tensor((4, 2), F64, wrong_ndim=False), st.just(torch.randn(4, 3, dtype=F64))
            ),
        },
    ),
    Spec(
        "deepnotes.ode.kernels.radial_cdf",
        lambda: {"kernel": "gaussian", "rho": np.array([0.0, 0.5, 2.0]), "d": 2},
        {"kernel": choice(*KERNELS), "rho": arrays(negative=False), "d": count()},
    ),
    Spec(
        "deepnotes.ode.kernels.sample_radius",
        lambda: {"kernel": "gravity", "n": 5, "d": 2, "generator": GEN()},
        {"kernel": choice(*KERNELS), "n": count(), "d": count(), "generator": GEN_BAD},
    ),
    Spec(
        "deepnotes.ode.kernels.sample_direction",
        lambda: {"n": 5, "d": 3, "generator": None},
        {"n": count(), "d": count(), "generator": GEN_BAD},
    ),
    Spec(
        "deepnotes.ode.kernels.sample_z",
        lambda: {"kernel": "tanh", "n": 5, "d": 2},
        {"kernel": choice(*KERNELS), "n": count(), "d": count()},
    ),
    Spec(
        "deepnotes.ode.kernels.ratio_trick", lambda: {"n": 5, "d": 2}, {"n": count(), "d": count()}
    ),
    Spec(
        "deepnotes.ode.kernels.sample",
        lambda: {"kernel": "gaussian", "x0": pts(), "t": torch.full((4,), 0.3, dtype=F64)},
        {"kernel": choice(*KERNELS), "x0": points(fixed_d=False), "t": times()},
    ),
    Spec(
        "deepnotes.ode.kernels.one_point_velocity",
        lambda: {"x": pts(), "t": 0.5, "x0": pts()},
        {
            "x": st.one_of(
                tensor((4, 2), F64, wrong_ndim=False), st.just(torch.randn(3, 2, dtype=F64))
            ),
            "t": times(),
            "x0": st.one_of(
                tensor((4, 2), F64, wrong_ndim=False), st.just(torch.randn(4, 3, dtype=F64))
            ),
        },
    ),
    Spec(
        "deepnotes.ode.kernels.sample_prior",
        lambda: {"kernel": "exp", "n": 5, "d": 2, "T": 10.0},
        {"kernel": choice(*KERNELS), "n": count(), "d": count(), "T": positive()},
    ),
]

# --------------------------------------------------------------------------- ode.fields

DATA6 = pts(6)


def _field(kernel: str = "gravity") -> fields.ExactField:
    return fields.ExactField(DATA6, kernel)


def _field_spec(method: str, kernel: str = "gravity", **extra) -> Spec:
    return Spec(
        f"deepnotes.ode.fields.ExactField.{method}",
        lambda: {"x": pts(5), "t": 0.7, **extra},
        {"x": points(5), "t": times(5)},
        call=lambda **kw: getattr(_field(kernel), method)(**kw),
    )


FIELD_SPECS = [
    Spec(
        "deepnotes.ode.fields.ExactField",
        lambda: {"data": pts(6), "kernel": "gravity"},
        {"data": points(6, fixed_d=False), "kernel": choice(*KERNELS)},
        finite=False,
    ),
    *(
        _field_spec(m)
        for m in (
            "log_kernels",
            "posterior",
            "denoise",
            "velocity",
            "log_marginal",
            "velocity_and_divergence",
            "u",
        )
    ),
    _field_spec("divergence", kernel="tanh"),
    Spec(
        "deepnotes.ode.fields.ExactField.sample_marginal",
        lambda: {"n": 5, "t": 0.5, "generator": GEN()},
        {"n": count(), "t": times(5), "generator": GEN_BAD},
        call=lambda **kw: _field().sample_marginal(**kw),
    ),
]

# --------------------------------------------------------------------------- ode.integrate


def _decay(t, x):
    return -x


def _decay_div(t, x):
    return torch.full((x.shape[0],), -float(x.shape[1]), dtype=x.dtype)


GRID = lambda: integrate.log_time_grid(1.0, 0.1, 4)  # noqa: E731
GRID_BAD = st.one_of(
    tensor((5,), F64, wrong_dtype=False, wrong_ndim=False),
    st.sampled_from(
        [
            [1.0],
            torch.tensor([1.0, 0.5, 0.7, 0.1], dtype=F64),  # not monotone
            torch.tensor([1.0, 1.0, 0.5], dtype=F64),  # a repeated time
            torch.tensor([1.0, 0.5, -0.1], dtype=F64),  # log time needs t > 0
            torch.ones(2, 3, dtype=F64),
            "1",
            None,
            object(),
        ]
    ),
)

INTEGRATE_SPECS = [
    Spec(
        "deepnotes.ode.integrate.log_time_grid",
        lambda: {"t_start": 1.0, "t_end": 0.01, "steps": 4},
        {"t_start": positive(), "t_end": positive(), "steps": count()},
    ),
    Spec(
        "deepnotes.ode.integrate.integrate",
        lambda: {
            "velocity": _decay,
            "x": pts(),
            "times": GRID(),
            "method": "rk4",
            "log_time": True,
            "path": False,
        },
        {
            "velocity": callables(),
            # any state shape the velocity accepts is valid, so no wrong-rank kind
            "x": tensor((4, 2), F64, wrong_ndim=False),
            "times": GRID_BAD,
            "method": choice(*integrate.METHODS),
            "log_time": flags(),
            "path": flags(),
        },
    ),
    Spec(
        "deepnotes.ode.integrate.autograd_divergence",
        lambda: {"velocity": _decay, "t": torch.tensor(0.5, dtype=F64), "x": pts()},
        {"velocity": callables(), "x": tensor((4, 2), F64)},
        call=lambda velocity, t, x: integrate.autograd_divergence(velocity)(t, x),
    ),
    Spec(
        "deepnotes.ode.integrate.integrate_logp",
        lambda: {
            "velocity": _decay,
            "x": pts(),
            "logp": torch.zeros(4, dtype=F64),
            "times": GRID(),
            "divergence": _decay_div,
            "both": None,
            "method": "heun",
            "log_time": True,
        },
        {
            "velocity": callables(),
            "x": tensor((4, 2), F64),
            "logp": st.one_of(tensor((4,), F64), st.just(torch.zeros(3, dtype=F64))),
            "times": GRID_BAD,
            "divergence": callables().filter(lambda v: v is not None),  # None: autograd
            "both": callables().filter(lambda v: v is not None),  # None: velocity, divergence
            "method": choice(*integrate.METHODS),
            "log_time": flags(),
        },
    ),
]

# --------------------------------------------------------------------------- ode.learned

torch.manual_seed(0)
DENOISER = learned.Denoiser(2, 8, 1)
DENOISER_BAD = st.sampled_from([None, "model", C.VelocityNet(2, 8, 1), abs])


def _x32(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 2)


LEARNED_SPECS = [
    Spec(
        "deepnotes.ode.learned.Denoiser",
        lambda: {"dim": 2, "width": 8, "depth": 1},
        {"dim": count(), "width": count(), "depth": count()},
        finite=False,
    ),
    Spec(
        "deepnotes.ode.learned.Denoiser.forward",
        lambda: {"x": _x32(), "t": torch.full((4,), 0.5)},
        {"x": points(), "t": times()},
        call=lambda **kw: DENOISER(**kw),
    ),
    Spec(
        "deepnotes.ode.learned.denoising_loss",
        lambda: {
            "model": DENOISER,
            "x0": _x32(8),
            "kernel": "gravity",
            "t_min": 1e-3,
            "t_max": 20.0,
            "generator": GEN(),
        },
        {
            "model": DENOISER_BAD,
            "x0": points(8),
            "kernel": choice(*KERNELS),
            "t_min": st.one_of(positive(), st.just(30.0)),  # 30 > t_max
            "t_max": st.one_of(positive(), st.just(1e-4)),  # 1e-4 < t_min
            "generator": GEN_BAD,
        },
    ),
    Spec(
        "deepnotes.ode.learned.train_denoiser",
        lambda: {
            "data": pts(16),
            "kernel": "gaussian",
            "steps": 2,
            "batch": 8,
            "lr": 1e-3,
            "t_min": 1e-3,
            "t_max": 20.0,
            "width": 8,
            "generator": GEN(),
        },
        {
            "data": points(16, fixed_d=False),
            "kernel": choice(*KERNELS),
            "steps": count(),
            "batch": count(),
            "lr": positive(),
            "t_min": st.one_of(positive(), st.just(30.0)),
            "t_max": st.one_of(positive(), st.just(1e-4)),
            "width": count(),
            "generator": GEN_BAD,
        },
    ),
    Spec(
        "deepnotes.ode.learned.generate",
        lambda: {
            "model": DENOISER,
            "x_T": pts(),
            "T": 20.0,
            "t_min": 1e-3,
            "steps": 3,
            "method": "euler",
            "path": False,
        },
        {
            "model": DENOISER_BAD,
            "x_T": points(),
            "T": st.one_of(positive(), st.just(1e-4)),  # T must exceed t_min
            "t_min": st.one_of(positive(), st.just(30.0)),
            "steps": count(),
            "method": choice(*integrate.METHODS),
            "path": flags(),
        },
    ),
]

# --------------------------------------------------------------------------- ode.metrics and data


def _bad_cdf():
    return st.sampled_from(
        [None, 1, "norm", lambda a: 2 * a + 5, lambda a: np.full(2, 0.5), lambda a: a * NAN]
    )


METRIC_SPECS = [
    Spec(
        "deepnotes.ode.metrics.energy_distance",
        lambda: {"x": pts(6), "y": pts(5)},
        {"x": points(6, fixed_d=False), "y": points(5)},
    ),
    Spec(
        "deepnotes.ode.metrics.ks_distance",
        lambda: {"samples": np.array([0.1, 0.5, 0.9]), "cdf": lambda a: np.clip(a, 0, 1)},
        {"samples": arrays(), "cdf": _bad_cdf()},
    ),
    Spec(
        "deepnotes.ode.metrics.ks_two_sample",
        lambda: {"a": np.array([0.1, 0.5, 0.9]), "b": torch.tensor([0.2, 0.3])},
        {"a": arrays(), "b": arrays()},
    ),
    Spec(
        "deepnotes.ode.metrics.nearest_distance",
        lambda: {"x": pts(6), "ref": pts(5)},
        {"x": points(6, fixed_d=False), "ref": points(5)},
    ),
    Spec(
        "deepnotes.ode.data.toy_data",
        lambda: {"name": "moons", "n": 6, "generator": GEN(), "dtype": torch.float32},
        {
            "name": choice(*DATASETS),
            "n": count(),
            "generator": GEN_BAD,
            "dtype": st.sampled_from([torch.int64, torch.bool, torch.complex64, "float32", 1]),
        },
    ),
]

# --------------------------------------------------------------------------- ode.characteristics

PRIORS, PATHS = C.PRIORS, C.PATHS
SWIRL = C.Path("swirl", 1.0)
torch.manual_seed(0)
VNET = C.VelocityNet(2, 8, 1)
VNET_BAD = st.sampled_from([None, "model", DENOISER, abs])
T4 = lambda: torch.full((4,), 0.4, dtype=F64)  # noqa: E731


def _path_spec(method: str, first: str, second: str, *, prior: bool = False) -> Spec:
    """A swirl path's ``method(first, second, t)`` (``t`` positional as in the signatures)."""

    def valid():
        kw = {first: pts(), second: pts(), "t": T4()}
        return {"prior": "laplace", **kw} if prior else kw

    bad = {
        first: st.one_of(
            tensor((4, 2), F64, wrong_ndim=False), st.just(torch.randn(4, 3, dtype=F64))
        ),
        second: st.one_of(
            tensor((4, 2), F64, wrong_ndim=False), st.just(torch.randn(3, 2, dtype=F64))
        ),
        "t": unit_times(),
    }
    if prior:
        bad["prior"] = choice(*PRIORS)
    return Spec(
        f"deepnotes.ode.characteristics.Path.{method}",
        valid,
        bad,
        call=lambda **kw: getattr(SWIRL, method)(**kw),
    )


MEANS = C.circle_means(4, 2.0)
EMPIRICAL = lambda: C.EmpiricalField(pts(6), "gaussian", C.Path("trig"))  # noqa: E731
MIXTURE = lambda: C.GaussianMixtureField(MEANS, 0.3, 1.0)  # noqa: E731


def _scalar_t_spec(cls: str, factory, method: str) -> Spec:
    return Spec(
        f"deepnotes.ode.characteristics.{cls}.{method}",
        lambda: {"x": pts(5), "t": 0.6},
        {"x": points(5), "t": unit_times(5, scalar=True)},
        call=lambda **kw: getattr(factory(), method)(**kw),
    )


INTERVAL = {"data": [0.5, 1.2], "weights": [0.25, 0.75], "lo": 0.0, "hi": 2.0}
INTERVAL_BAD = {
    "data": arrays(),
    "weights": st.sampled_from(
        [[0.5, 0.6], [1.5, -0.5], [1.0], [NAN, 1.0], "1", np.array(["a", "b"]), object()]
    ),
    "lo": st.one_of(st.sampled_from([NAN, INF, 3.0, "0"]), NOT_A_NUMBER),  # 3.0 >= hi
    "hi": st.one_of(st.sampled_from([NAN, INF, -1.0, "2"]), NOT_A_NUMBER),  # -1.0 <= lo
}

CHAR_SPECS = [
    Spec(
        "deepnotes.ode.characteristics.sample_prior",
        lambda: {"prior": "laplace", "n": 5, "d": 2, "generator": GEN()},
        {"prior": choice(*PRIORS), "n": count(), "d": count(), "generator": GEN_BAD},
    ),
    Spec(
        "deepnotes.ode.characteristics.log_prior",
        lambda: {"prior": "uniform", "x": 0.5 * pts()},
        # any leading shape (..., d) is valid, so no wrong-rank kind
        {"prior": choice(*PRIORS), "x": tensor((4, 2), F64, wrong_ndim=False)},
    ),
    Spec(
        "deepnotes.ode.characteristics.affine_velocity",
        lambda: {
            "x": pts(),
            "mu": pts(),
            "dmu": pts(),
            "sigma": torch.full((4, 1), 0.5, dtype=F64),
            "dsigma": 1.0,
        },
        {
            name: st.one_of(
                tensor((4, 2), F64, wrong_ndim=False),
                st.just(torch.randn(3, 5, dtype=F64)),  # does not broadcast
            )
            for name in ("x", "mu", "dmu")
        }
        | {
            "sigma": st.one_of(
                positive(), st.sampled_from([torch.zeros(4, 1, dtype=F64), torch.full((4, 1), NAN)])
            ),
            "dsigma": st.one_of(st.sampled_from([NAN, INF]), NOT_A_NUMBER),
        },
    ),
    Spec(
        "deepnotes.ode.characteristics.Path",
        lambda: {"kind": "swirl", "theta": 1.0},
        {
            "kind": choice(*PATHS),
            "theta": st.one_of(st.sampled_from([NAN, INF, -INF, True]), NOT_A_NUMBER),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.ode.characteristics.Path.coefficients",
        lambda: {"t": T4()},
        {"t": unit_times(shaped=False)},
        call=lambda **kw: SWIRL.coefficients(**kw),
    ),
    _path_spec("point", "x0", "x1"),
    _path_spec("target", "x0", "x1"),
    _path_spec("velocity", "x", "x0"),
    _path_spec("inverse", "x", "x0"),
    _path_spec("log_density", "x", "x0", prior=True),
    Spec(
        "deepnotes.ode.characteristics.EmpiricalField",
        lambda: {"data": pts(6), "prior": "uniform", "path": C.Path("trig")},
        {
            "data": points(6, fixed_d=False),
            "prior": choice(*PRIORS),
            "path": st.sampled_from(["straight", 1, object(), DENOISER]),  # None: straight
        },
        finite=False,
    ),
    *(_scalar_t_spec("EmpiricalField", EMPIRICAL, m) for m in ("log_kernels", "log_marginal")),
    _scalar_t_spec("EmpiricalField", EMPIRICAL, "velocity"),
    Spec(
        "deepnotes.ode.characteristics.GaussianMixtureField",
        lambda: {"means": MEANS, "std": 0.3, "theta": 1.0},
        {
            "means": points(4, fixed_d=False),
            "std": positive(),
            "theta": st.one_of(st.sampled_from([NAN, INF, True]), NOT_A_NUMBER),
        },
        finite=False,
    ),
    *(
        _scalar_t_spec("GaussianMixtureField", MIXTURE, m)
        for m in ("log_marginal", "denoise", "velocity")
    ),
    Spec(
        "deepnotes.ode.characteristics.GaussianMixtureField.sample",
        lambda: {"n": 5, "t": 0.0, "generator": GEN()},  # t = 0 is valid here: the data
        {
            "n": count(),
            "generator": GEN_BAD,
            "t": st.one_of(
                st.floats(max_value=-1e-9),
                st.floats(min_value=1.0 + 1e-9),
                st.sampled_from([NAN, INF, True, torch.full((5,), 0.5)]),
                NOT_A_NUMBER,
            ),
        },
        call=lambda **kw: MIXTURE().sample(**kw),
    ),
    Spec(
        "deepnotes.ode.characteristics.circle_means",
        lambda: {"k": 8, "radius": 2.0},
        {"k": count(), "radius": positive()},
    ),
    Spec(
        "deepnotes.ode.characteristics.interval_field",
        lambda: {"x": np.array([0.3, 1.0, 1.9]), "t": 0.5, **INTERVAL, "eps": 1e-8},
        {
            "x": arrays(empty=False),  # no positions: an empty field, valid
            "t": unit_times(3, scalar=True),
            **INTERVAL_BAD,
            "eps": positive(),
        },
    ),
    Spec(
        "deepnotes.ode.characteristics.push_interval",
        lambda: {"x1": np.array([0.3, 1.0, 1.9]), **INTERVAL, "steps": 5},
        {"x1": arrays(empty=False), **INTERVAL_BAD, "steps": count()},
    ),
    Spec(
        "deepnotes.ode.characteristics.VelocityNet",
        lambda: {"dim": 2, "width": 8, "depth": 1},
        {"dim": count(), "width": count(), "depth": count()},
        finite=False,
    ),
    Spec(
        "deepnotes.ode.characteristics.VelocityNet.forward",
        lambda: {"x": _x32(), "t": torch.full((4,), 0.5)},
        {
            "x": points(),
            # any finite time is a valid input to the network (t = 0 is its last step)
            "t": st.one_of(
                st.sampled_from([NAN, INF, torch.full((5,), 0.5), torch.full((4, 2), 0.5)]),
                NOT_A_NUMBER,
            ),
        },
        call=lambda **kw: VNET(**kw),
    ),
    Spec(
        "deepnotes.ode.characteristics.cfm_loss",
        lambda: {"model": VNET, "x0": pts(), "x1": pts(), "t": T4(), "path": C.Path()},
        {
            "model": VNET_BAD,
            "x0": points(),
            "x1": points(),
            "t": unit_times(),
            "path": st.sampled_from([None, "straight", object()]),
        },
    ),
    Spec(
        "deepnotes.ode.characteristics.train_cfm",
        lambda: {
            "data": pts(16),
            "prior": "gaussian",
            "path": C.Path("trig"),
            "steps": 2,
            "batch": 8,
            "lr": 1e-3,
            "width": 8,
            "generator": GEN(),
        },
        {
            "data": points(16, fixed_d=False),
            "prior": choice(*PRIORS),
            "path": st.sampled_from(["straight", 1, object()]),  # None: straight
            "steps": count(),
            "batch": count(),
            "lr": positive(),
            "width": count(),
            "generator": GEN_BAD,
        },
    ),
    Spec(
        "deepnotes.ode.characteristics.generate",
        lambda: {"model": VNET, "x1": pts(), "steps": 3, "method": "heun", "path": True},
        {
            "model": VNET_BAD,
            "x1": points(),
            "steps": count(),
            "method": choice(*integrate.METHODS),
            "path": flags(),
        },
    ),
    Spec(
        "deepnotes.ode.characteristics.generate_adaptive",
        lambda: {"model": VNET, "x1": pts(), "rtol": 1e-2, "atol": 1e-3},
        {"model": VNET_BAD, "x1": points(), "rtol": positive(), "atol": positive()},
    ),
]

# --------------------------------------------------------------------------- lru

C64 = torch.complex64


def _lam(n: int = 4) -> torch.Tensor:
    return torch.polar(torch.full((n,), 0.9), torch.linspace(0.1, 3.0, n)).to(C64)


def _bu() -> torch.Tensor:
    return torch.randn(2, 8, 4, dtype=C64)


LAM_BAD = st.one_of(
    tensor((4,), C64),
    st.sampled_from([torch.full((4,), 0.9), torch.ones(3, dtype=C64)]),  # real; wrong N
)
# (L, N) without a batch is a valid bu, so no wrong-rank kind from tensor()
BU_BAD = st.one_of(
    tensor((2, 8, 4), C64, wrong_ndim=False),
    st.sampled_from(
        [torch.randn(2, 8, 4), torch.ones(4, dtype=C64), torch.ones(2, 8, 3, dtype=C64)]
        + [torch.ones(2, 0, 4, dtype=C64)]
    ),
)


def _scan_spec(name: str) -> Spec:
    return Spec(
        f"deepnotes.lru.{name}",
        lambda: {"lam": _lam(), "bu": _bu()},
        {"lam": LAM_BAD, "bu": BU_BAD},
    )


PARAMS = lru.init_lru_parameters(4, 3, rng=0)


def _params_with(**change) -> dict:
    return {**PARAMS, **change}


PARAMS_BAD = st.sampled_from(
    [
        {"a": 1},
        "params",
        {k: v for k, v in PARAMS.items() if k != "D"},  # a missing key
        _params_with(nu_log=np.full(4, NAN)),
        _params_with(B_re=np.full((4, 3), INF)),
        _params_with(C_im=np.ones((4, 4))),  # wrong shape
        _params_with(D=np.array(["a", "b", "c"])),
    ]
)
RING_BAD = {
    "r_min": st.one_of(
        st.floats(max_value=-1e-9), st.floats(min_value=0.95), st.sampled_from([NAN, INF, "0"])
    ),
    "r_max": st.one_of(
        st.floats(max_value=0.5), st.floats(min_value=1.0 + 1e-9), st.sampled_from([NAN, "1"])
    ),
    "max_phase": positive(),
}
RNG_BAD = st.sampled_from([-1, 1.5, "1", [1], object(), True])
LAYER = lambda: lru.LRU(3, 4, 0.5, 0.9, rng=0)  # noqa: E731
U_BAD = st.one_of(
    tensor((2, 5, 3), wrong_ndim=False),  # (L, H) is valid too
    st.sampled_from(
        [torch.randn(3), torch.randn(2, 5, 4), torch.randn(2, 0, 3), torch.randn(2, 5, 3, 1)]
        + [torch.randn(2, 5, 3, dtype=C64)]
    ),
)

LRU_SPECS = [
    Spec(
        "deepnotes.lru.check_ring",
        lambda: {"r_min": 0.5, "r_max": 0.9, "max_phase": 3.14},
        RING_BAD,
    ),
    Spec(
        "deepnotes.lru.init_lru_parameters",
        lambda: {"N": 4, "H": 3, "r_min": 0.5, "r_max": 0.9, "max_phase": 3.14, "rng": 0},
        {"N": count(), "H": count(), **RING_BAD, "rng": RNG_BAD},
    ),
    Spec(
        "deepnotes.lru.lambda_from_params",
        lambda: {"nu_log": torch.zeros(4), "theta_log": torch.zeros(4)},
        {
            "nu_log": st.one_of(
                tensor((4,), wrong_ndim=False, wrong_dtype=False),
                st.sampled_from([np.array([0.0, NAN]), torch.zeros(3), None, "0", object()]),
            ),
            "theta_log": st.one_of(
                tensor((4,), wrong_ndim=False, wrong_dtype=False),
                st.sampled_from([np.zeros(4), torch.zeros(3), None, "0", object()]),
            ),
        },
    ),
    Spec(
        "deepnotes.lru.scan",
        lambda: {"lam": _lam(), "bu": _bu(), "method": "hillis-steele"},
        {"lam": LAM_BAD, "bu": BU_BAD, "method": choice(*lru.METHODS)},
    ),
    *(
        _scan_spec(name)
        for name in (
            "scan_loop",
            "scan_upper_lower",
            "scan_hillis_steele",
            "scan_fft",
            "scan_naive_cumsum",
        )
    ),
    Spec(
        "deepnotes.lru.scan_torch",
        lambda: {"lam": _lam(), "bu": _bu(), "combine_mode": "generic"},
        {
            "lam": LAM_BAD,
            "bu": BU_BAD,
            # "pointwise" is valid on CUDA only (these tests run on the CPU)
            "combine_mode": st.one_of(choice("generic", "pointwise"), st.just("pointwise")),
        },
    ),
    Spec(
        "deepnotes.lru.time_scans",
        lambda: {
            "methods": ["loop", "fft"],
            "lengths": [4],
            "width": 2,
            "batch": 1,
            "repeats": 1,
            "dtype": C64,
            "seed": 0,
            "device": "cpu",
        },
        {
            "methods": st.sampled_from([["nope"], [], None, 1, "loop", [1]]),
            "lengths": st.sampled_from([[0], [1.5], [], None, 4, ["4"]]),
            "width": count(),
            "batch": count(),
            "repeats": count(),
            "dtype": st.sampled_from([torch.float32, "complex64", None]),
            "seed": count(low=0),
            "device": st.sampled_from(["nope", 1.5, object()]),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.lru.LRU",
        lambda: {
            "H": 3,
            "N": 4,
            "r_min": 0.5,
            "r_max": 0.9,
            "max_phase": 3.14,
            "method": "fft",
            "dtype": torch.float64,
            "rng": 0,
            "params": None,
        },
        {
            "H": count(),
            "N": count(),
            **RING_BAD,
            "method": choice(*lru.METHODS),
            "dtype": st.sampled_from([torch.float16, torch.complex64, torch.int64, "float32"]),
            "rng": RNG_BAD,
            "params": PARAMS_BAD,  # None: drawn from rng
        },
        finite=False,
    ),
    Spec(
        "deepnotes.lru.LRU.forward",
        lambda: {"u": torch.randn(2, 5, 3), "method": None},
        {"u": U_BAD, "method": choice(*lru.METHODS, None)},
        call=lambda **kw: LAYER()(**kw),
    ),
    Spec(
        "deepnotes.lru.LRU.input_states",
        lambda: {"u": torch.randn(2, 5, 3)},
        {"u": U_BAD},
        call=lambda **kw: LAYER().input_states(**kw),
    ),
    Spec(
        "deepnotes.lru.LRU.step",
        lambda: {"u_t": torch.randn(2, 3), "x": torch.zeros(2, 4, dtype=C64)},
        {
            # (H,) without a batch is a valid u_t, so no wrong-rank kind from tensor()
            "u_t": st.one_of(
                tensor((2, 3), wrong_ndim=False),
                st.sampled_from([torch.randn(2, 4), torch.randn(2, 3, dtype=C64)]),
            ),
            "x": st.one_of(
                tensor((2, 4), C64, none_ok=True, wrong_ndim=False),  # None: a first step
                st.sampled_from([torch.zeros(2, 4), torch.zeros(2, 5, dtype=C64)]),
                st.just(torch.zeros(3, 4, dtype=C64)),  # batch does not match u_t's
            ),
        },
        call=lambda **kw: LAYER().step(**kw),
    ),
]

# --------------------------------------------------------------------------- recall

torch.manual_seed(0)
RNN = recall.TanhRNN(5, 8, 4)
LRU_CLS = recall.LRUClassifier(5, 8, 8, 4, seed=0)
RECALL_U = lambda: recall.delayed_recall_batch(3, 6, 4, GEN())[0]  # noqa: E731
RECALL_U_BAD = st.one_of(
    tensor((3, 6, 5)), st.sampled_from([torch.randn(3, 6, 4), torch.randn(3, 0, 5)])
)

RECALL_SPECS = [
    Spec(
        "deepnotes.recall.delayed_recall_batch",
        lambda: {"batch": 3, "T": 5, "classes": 4, "generator": GEN()},
        {"batch": count(), "T": count(low=2), "classes": count(low=2), "generator": GEN_BAD},
    ),
    Spec(
        "deepnotes.recall.TanhRNN",
        lambda: {"inputs": 5, "hidden": 8, "classes": 4},
        {"inputs": count(), "hidden": count(), "classes": count()},
        finite=False,
    ),
    Spec(
        "deepnotes.recall.TanhRNN.forward",
        lambda: {"u": RECALL_U()},
        {"u": RECALL_U_BAD},
        call=lambda **kw: RNN(**kw),
    ),
    Spec(
        "deepnotes.recall.LRUClassifier",
        lambda: {
            "inputs": 5,
            "H": 8,
            "N": 8,
            "classes": 4,
            "r_min": 0.5,  # RING_BAD's values are bad against r_min = 0.5, r_max = 0.9
            "r_max": 0.9,
            "max_phase": 6.28,
            "method": "fft",
            "seed": 0,
        },
        {
            "inputs": count(),
            "H": count(),
            "N": count(),
            "classes": count(),
            **RING_BAD,
            "method": choice(*lru.METHODS),
            "seed": count(low=0),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.recall.LRUClassifier.forward",
        lambda: {"u": RECALL_U()},
        {"u": RECALL_U_BAD},
        call=lambda **kw: LRU_CLS(**kw),
    ),
    Spec(
        "deepnotes.recall.make_model",
        lambda: {"name": "lru", "classes": 4, "seed": 0, "method": "fft", "max_phase": 3.14},
        {
            "name": choice(*recall.MODELS),
            "classes": count(low=2),
            "seed": count(low=0),
            "method": choice(*lru.METHODS),
            "max_phase": positive(),
        },
        finite=False,
    ),
    Spec(
        "deepnotes.recall.train_recall",
        lambda: {
            "name": "tanh-rnn",
            "T": 4,
            "steps": 2,
            "lr": 1e-2,
            "lr_factor": 0.5,
            "max_phase": 6.28,
            "batch": 4,
            "classes": 4,
            "clip": 1.0,
            "eval_size": 8,
            "stop_loss": None,
            "seed": 0,
        },
        {
            "name": choice(*recall.MODELS),
            "T": count(low=2),
            "steps": count(),
            "lr": positive(),
            "lr_factor": positive(),
            "max_phase": positive(),
            "batch": count(),
            "classes": count(low=2),
            "clip": positive(),
            "eval_size": count(),
            "stop_loss": positive(none_ok=True),  # None: never stop early
            "seed": count(low=0),
        },
        finite=False,
    ),
]

SPECS = (
    KERNEL_SPECS
    + FIELD_SPECS
    + INTEGRATE_SPECS
    + LEARNED_SPECS
    + METRIC_SPECS
    + CHAR_SPECS
    + LRU_SPECS
    + RECALL_SPECS
)

test_valid_call, test_bad_input = make_tests(SPECS)
