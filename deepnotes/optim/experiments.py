"""Small, CPU-sized experiments of Chapter 3 (Amos and Su's training recipes).

* :func:`amos_noise_rms`: RMS of one tensor trained by Amos on pure-noise gradients, which
  settles at the model-oriented scale ``eta / sqrt(1 - xi^2/4)`` (``c_coef = d_coef = 0``).
* :func:`teacher_student`: linear regression towards a teacher ``theta*`` with Su's rule
  ``alpha_t = alpha0 |eps_0| D(t) / |u_t|``, ``rho_t = alpha0^2 D(t) / 2`` on an Adam direction,
  several schedules at once, recording ``|eps_t|^2``, ``q_t`` and ``p_t = cos(u_t, eps_t)``.
* :func:`classification_data`, :func:`train_classifier`: a finite synthetic classification
  set and an MLP trainer for the Amos-vs-AdamW comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deepnotes.checks import boolean, float_dtype, integral, positive_float, real
from deepnotes.checks import positive_int as _positive_int
from deepnotes.checks import tensor as _tensor
from deepnotes.optim.amos import Amos
from deepnotes.optim.schedules import LAWS, decay_factor

__all__ = [
    "amos_noise_rms",
    "classification_data",
    "make_mlp",
    "p_distance_slopes",
    "teacher_student",
    "train_classifier",
    "window_means",
]


def _seed(seed) -> int:
    if integral("seed", seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _sequence(name: str, value) -> list:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list, got {value!r}")
    return list(value)


def amos_noise_rms(
    init_rms: float,
    *,
    xi: float,
    eta: float,
    steps: int,
    shape: tuple[int, ...] = (64, 64),
    c_coef: float = 0.0,
    d_coef: float = 0.0,
    beta: float = 0.999,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """RMS of ``theta_t`` (``t = 0..steps``) under Amos with scalar slots and N(0, 1) gradients.

    With ``c_coef = d_coef = 0`` theory (Chapter 3) predicts
    ``|theta_t|^2 = N_inf + (N_0 - N_inf)(1 - xi^2/2)^(2t)``, ``N_inf = k eta^2 / (1 - xi^2/4)``.
    """
    _positive_int("steps", steps)
    real("init_rms", init_rms, lo=0.0)
    real("xi", xi, lo=0.0)  # Amos would name it lr
    positive_float("eta", eta)
    shape = tuple(_positive_int("shape", n) for n in _sequence("shape", shape))
    float_dtype("dtype", dtype)
    seed = _seed(seed)
    gen = torch.Generator().manual_seed(seed)
    param = torch.nn.Parameter(init_rms * torch.randn(shape, generator=gen, dtype=dtype))
    opt = Amos([param], lr=xi, eta=eta, slot_shape=(), beta=beta, c_coef=c_coef, d_coef=d_coef)
    rms = torch.empty(steps + 1, dtype=torch.float64)
    rms[0] = param.detach().square().mean().sqrt()
    for i in range(steps):
        param.grad = torch.randn(shape, generator=gen, dtype=dtype)
        opt.step()
        rms[i + 1] = param.detach().square().mean().sqrt()
    return rms


def teacher_student(
    laws: Sequence[str],
    weight_decay: Sequence[bool],
    *,
    k: int = 500,
    sigma: float = 0.05,
    noise: float = 0.5,
    batch: int = 16,
    steps: int = 2000,
    alpha0: float = 0.01,
    half_life: float = 250.0,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Run one student per ``(laws[i], weight_decay[i])`` on the same data stream.

    Data: ``x ~ N(0, I_k)``, ``y = x . theta* + noise N(0, 1)``, loss ``mean((x.theta - y)^2)/2``.
    Teacher and student init are independent ``N(0, sigma^2)``.  The direction ``u_t`` is
    Adam's bias-corrected ``m_hat / (sqrt(v_hat) + 1e-8)`` (``beta1 = 0.9``, ``beta2 = 0.999``), and
    ``theta_{t+1} = theta_t - alpha_t u_t - rho_t theta_t`` with Su's rule (eq. 10, ``q = 1``)::

        alpha_t = alpha0 sqrt(2 k) sigma D(t) / |u_t|,     rho_t = alpha0^2 D(t) / 2  (or 0)

    Returns ``eps2`` (runs, steps+1) ``= |theta_t - theta*|^2``, and per step ``q`` ``=
    theta.eps / |eps|^2``, ``p`` ``= cos(u_t, eps_t)`` and ``u_rms`` ``= RMS(u_t)``.
    """
    laws, weight_decay = _sequence("laws", laws), _sequence("weight_decay", weight_decay)
    if len(laws) != len(weight_decay) or not laws:
        raise ValueError("laws and weight_decay must be non-empty and of equal length")
    for i, law in enumerate(laws):
        if not isinstance(law, str) or law not in LAWS:
            raise ValueError(f"laws[{i}] must be one of {LAWS}, got {law!r}")
    weight_decay = [boolean(f"weight_decay[{i}]", w) for i, w in enumerate(weight_decay)]
    for name, val in (("k", k), ("batch", batch), ("steps", steps)):
        _positive_int(name, val)
    sigma, alpha0 = positive_float("sigma", sigma), positive_float("alpha0", alpha0)
    half_life = positive_float("half_life", half_life)
    noise = real("noise", noise, lo=0.0)
    seed = _seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dt = torch.float64
    star = sigma * torch.randn(k, generator=gen, dtype=dt)
    runs = len(laws)
    theta = (sigma * torch.randn(k, generator=gen, dtype=dt)).expand(runs, k).clone()
    m = torch.zeros(runs, k, dtype=dt)
    v = torch.zeros(runs, k, dtype=dt)
    wd = torch.tensor([1.0 if w else 0.0 for w in weight_decay], dtype=dt)
    eps0 = math.sqrt(2 * k) * sigma  # |eps_0| ~ sqrt(2k) sigma for a random init
    out = {name: torch.empty(runs, steps, dtype=dt) for name in ("q", "p", "u_rms")}
    out["eps2"] = torch.empty(runs, steps + 1, dtype=dt)
    for t in range(steps):
        eps = theta - star
        e2 = eps.square().sum(1)
        out["eps2"][:, t] = e2
        out["q"][:, t] = (theta * eps).sum(1) / e2
        x = torch.randn(batch, k, generator=gen, dtype=dt)
        y = x @ star + noise * torch.randn(batch, generator=gen, dtype=dt)
        grad = ((theta @ x.T - y) @ x) / batch
        m.mul_(0.9).add_(0.1 * grad)
        v.mul_(0.999).add_(0.001 * grad.square())
        u = (m / (1 - 0.9 ** (t + 1))) / ((v / (1 - 0.999 ** (t + 1))).sqrt() + 1e-8)
        u_norm = u.norm(dim=1)
        out["p"][:, t] = (u * eps).sum(1) / (u_norm * e2.sqrt())
        out["u_rms"][:, t] = u_norm / math.sqrt(k)
        d = torch.tensor([decay_factor(t, law, half_life, steps) for law in laws], dtype=dt)
        alpha = alpha0 * eps0 * d / u_norm
        rho = wd * alpha0**2 * d / 2
        theta = theta - alpha[:, None] * u - rho[:, None] * theta
    out["eps2"][:, steps] = (theta - star).square().sum(1)
    return out


def classification_data(
    n_train: int = 1400,
    n_test: int = 400,
    dim: int = 64,
    classes: int = 10,
    hidden: int = 64,
    seed: int = 0,
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A finite, learnable classification set: labels are the argmax of a random teacher MLP."""
    for name, val in (("n_train", n_train), ("n_test", n_test), ("dim", dim), ("hidden", hidden)):
        _positive_int(name, val)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    seed = _seed(seed)
    gen = torch.Generator().manual_seed(seed)
    w1 = torch.randn(dim, hidden, generator=gen) / math.sqrt(dim)
    w2 = torch.randn(hidden, classes, generator=gen) / math.sqrt(hidden)
    x = torch.randn(n_train + n_test, dim, generator=gen)
    y = (torch.tanh(x @ w1) @ w2).argmax(1)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def make_mlp(dim: int, hidden: int, classes: int, seed: int) -> torch.nn.Sequential:
    """``Linear-ReLU-Linear`` with an explicit init: ``W1 ~ N(0, 2/dim)``, ``W2 ~ N(0, 1/hidden)``, zero biases.

    The stds are what Amos's ``eta`` must match.  Chapter 3, "Amos against AdamW".
    """
    for name, value in (("dim", dim), ("hidden", hidden), ("classes", classes)):
        _positive_int(name, value)
    seed = _seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes)
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(hidden, dim, generator=gen) * math.sqrt(2 / dim))
        model[2].weight.copy_(torch.randn(classes, hidden, generator=gen) * math.sqrt(1 / hidden))
        model[0].bias.zero_()
        model[2].bias.zero_()
    return model


def train_classifier(
    make_optimizer: Callable[[torch.nn.Module], tuple[torch.optim.Optimizer, object]],
    data,
    *,
    hidden: int = 128,
    steps: int = 1500,
    batch: int = 32,
    seed: int = 0,
) -> dict[str, float]:
    """Train :func:`make_mlp` for ``steps`` minibatch steps; return final train CE and test accuracy.

    ``make_optimizer(model) -> (optimizer, scheduler_or_None)``.
    """
    _positive_int("steps", steps)
    _positive_int("batch", batch)
    _positive_int("hidden", hidden)
    seed = _seed(seed)
    if not callable(make_optimizer):
        raise TypeError(f"make_optimizer must be a function of the model, got {make_optimizer!r}")
    (xtr, ytr), (xte, yte) = _check_data(data)
    model = make_mlp(xtr.shape[1], hidden, int(ytr.max()) + 1, seed)
    made = make_optimizer(model)
    if not (
        isinstance(made, tuple)
        and len(made) == 2
        and isinstance(made[0], torch.optim.Optimizer)
        and (made[1] is None or callable(getattr(made[1], "step", None)))
    ):
        raise TypeError(
            f"make_optimizer(model) must return (optimizer, scheduler or None), got {made!r}"
        )
    opt, sched = made
    gen = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        idx = torch.randint(0, xtr.shape[0], (batch,), generator=gen)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
        opt.step()
        if sched is not None:
            sched.step()
    with torch.no_grad():
        train_ce = float(F.cross_entropy(model(xtr), ytr))
        test_acc = float((model(xte).argmax(1) == yte).float().mean())
    return {"train_ce": train_ce, "test_acc": test_acc}


def _check_data(data):
    """``((x_train, y_train), (x_test, y_test))``: finite 2-D float inputs, int64 labels."""
    try:
        (xtr, ytr), (xte, yte) = data
    except (TypeError, ValueError):
        raise TypeError(
            "data must be ((x_train, y_train), (x_test, y_test)), as classification_data "
            f"returns, got {type(data).__name__}"
        ) from None
    for part, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        _tensor(f"data's x_{part}", x, 2)
        if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.shape != x.shape[:1]:
            raise ValueError(
                f"data's y_{part} must be an int64 tensor of labels, one per row of x_{part}"
            )
        if y.numel() == 0 or int(y.min()) < 0:
            raise ValueError(f"data's y_{part} must hold labels >= 0 (and at least one)")
    if xte.shape[1] != xtr.shape[1]:
        raise ValueError(f"data's x_test has {xte.shape[1]} features, x_train {xtr.shape[1]}")
    return (xtr, ytr), (xte, yte)


def window_means(values: torch.Tensor, edges) -> np.ndarray:
    """Means of ``values[..., lo:hi]`` over consecutive windows ``edges[i]:edges[i+1]``.

    ``values`` is (runs, steps); returns (runs, len(edges) - 1).  Chapter 3 averages the
    noisy per-step ``q_t`` and ``p_t`` over geometrically growing windows.
    """
    _tensor("values", values)
    if values.ndim < 1:
        raise ValueError("values must have at least one dimension (steps last)")
    raw = np.asarray(edges, dtype=object)
    if raw.ndim != 1 or len(raw) < 2:
        raise ValueError(f"edges must be an increasing 1-D sequence of >= 2 steps, got {edges!r}")
    edges = np.array([integral("edges", e) for e in raw], dtype=np.int64)
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be an increasing 1-D sequence of >= 2 steps, got {edges!r}")
    if edges[0] < 0 or edges[-1] > values.shape[-1]:
        raise ValueError(f"edges must lie in [0, {values.shape[-1]}], got {edges!r}")
    arr = values.detach().cpu().double().numpy()
    return np.stack(
        [arr[..., lo:hi].mean(-1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)], -1
    )


def p_distance_slopes(out: dict[str, torch.Tensor], edges) -> list:
    """Per run, the log-log slope of the window means of ``p_t`` against ``|eps_t|``.

    ``out`` is :func:`teacher_student`'s result.  Slope 1 is the hypothesis
    ``p_t ∝ |eps_t|`` behind the inverse-time law (Chapter 3, "Testing the assumptions").
    Windows whose mean ``p`` is not positive are left out of the fit.
    """
    from deepnotes.measure import loglog_slope

    if not isinstance(out, Mapping) or "p" not in out or "eps2" not in out:
        raise TypeError("out must be teacher_student's result (a dict with 'p' and 'eps2')")
    _tensor("out['p']", out["p"], 2)
    _tensor("out['eps2']", out["eps2"], 2)
    runs, steps = out["p"].shape
    if tuple(out["eps2"].shape) != (runs, steps + 1):
        raise ValueError(
            f"out['eps2'] must have shape {(runs, steps + 1)} next to out['p'] {(runs, steps)}, "
            f"got {tuple(out['eps2'].shape)}"
        )
    p_w = window_means(out["p"], edges)
    e_w = window_means(out["eps2"][:, :-1].sqrt(), edges)
    fits = []
    for e_run, p_run in zip(e_w, p_w, strict=True):
        keep = p_run > 0
        fits.append(loglog_slope(e_run[keep], p_run[keep]))
    return fits
