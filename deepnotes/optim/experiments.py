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
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deepnotes.checks import positive_int as _positive_int
from deepnotes.optim.amos import Amos
from deepnotes.optim.schedules import decay_factor


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
    if not init_rms >= 0:
        raise ValueError(f"init_rms must be >= 0, got {init_rms!r}")
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
    if len(laws) != len(weight_decay) or not laws:
        raise ValueError("laws and weight_decay must be non-empty and of equal length")
    for name, val in (("k", k), ("batch", batch), ("steps", steps)):
        _positive_int(name, val)
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
    (xtr, ytr), (xte, yte) = data
    model = make_mlp(xtr.shape[1], hidden, int(ytr.max()) + 1, seed)
    opt, sched = make_optimizer(model)
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


def window_means(values: torch.Tensor, edges) -> np.ndarray:
    """Means of ``values[..., lo:hi]`` over consecutive windows ``edges[i]:edges[i+1]``.

    ``values`` is (runs, steps); returns (runs, len(edges) - 1).  Chapter 3 averages the
    noisy per-step ``q_t`` and ``p_t`` over geometrically growing windows.
    """
    edges = np.asarray(edges)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
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

    p_w = window_means(out["p"], edges)
    e_w = window_means(out["eps2"][:, :-1].sqrt(), edges)
    fits = []
    for e_run, p_run in zip(e_w, p_w, strict=True):
        keep = p_run > 0
        fits.append(loglog_slope(e_run[keep], p_run[keep]))
    return fits
