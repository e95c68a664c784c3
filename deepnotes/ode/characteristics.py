"""Chapter 5: conditional paths built by the method of characteristics, any prior.

Su puts data at ``t = 0`` and the prior at ``t = 1``.  A one-point path
``x_t = alpha_t x0 + sigma_t R(theta t) x1`` (``x0`` a datum, ``x1`` a prior draw)
has the conditional field and density (section 4 of the chapter)

    f_t(x | x0) = alpha'_t x0 + (sigma'_t / sigma_t)(x - alpha_t x0) + theta A (x - alpha_t x0),
    p_t(x | x0) = sigma_t^(-d) p_1(R(-theta t)(x - alpha_t x0) / sigma_t),

with ``A = [[0, -1], [1, 0]]`` the rotation generator (``theta != 0`` only for ``d = 2``).
Paths: ``straight`` (``alpha = 1 - t``, ``sigma = t``), ``trig``
(``alpha = cos(pi t / 2)``, ``sigma = sin(pi t / 2)``) and ``swirl`` (straight with a
rotation).  The marginal field is the posterior mean of the conditional one; since
``f_t(x | x0)`` is affine in ``x0`` it is ``f_t(x | E[x0 | x_t = x])``.

* :class:`Path`, :func:`affine_velocity`, :func:`sample_prior`, :func:`log_prior`;
* :class:`EmpiricalField` (any prior, a finite data set) and
  :class:`GaussianMixtureField` (Gaussian prior, Gaussian-mixture data, closed form);
* :func:`interval_field` and :func:`push_interval`: the article's 1-D demo;
* :class:`VelocityNet`, :func:`train_cfm`, :func:`generate`, :func:`generate_adaptive`:
  conditional flow matching (the regression the chapter derives).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import nn

from deepnotes.checks import boolean, positive_float, positive_int, real, real_array, tensor
from deepnotes.checks import generator as check_generator
from deepnotes.ode.integrate import METHODS, integrate
from deepnotes.ode.kernels import _check_pair, check_points, check_time_shape

__all__ = [
    "LAPLACE_SCALE",
    "PATHS",
    "PRIORS",
    "UNIFORM_HALF",
    "EmpiricalField",
    "GaussianMixtureField",
    "Path",
    "VelocityNet",
    "affine_velocity",
    "cfm_loss",
    "circle_means",
    "generate",
    "generate_adaptive",
    "interval_field",
    "log_prior",
    "push_interval",
    "sample_prior",
    "train_cfm",
]

PRIORS = ("gaussian", "uniform", "laplace")
PATHS = ("straight", "trig", "swirl")
#: The uniform prior's half-width: ``U[-sqrt 3, sqrt 3]^d`` has unit variance per axis.
UNIFORM_HALF = math.sqrt(3.0)
#: The Laplace prior's scale: ``b = 1/sqrt 2`` gives unit variance per axis.
LAPLACE_SCALE = 1 / math.sqrt(2.0)


def check_unit_time(name: str, t):
    """``t`` if every entry is finite and in ``(0, 1]``, else ``ValueError`` naming ``name``."""
    if isinstance(t, torch.Tensor):
        if t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"{name} must be a real tensor of times, got dtype {t.dtype}")
        tt = t.detach().to(torch.float64)
    else:
        tt = torch.as_tensor(real(name, t), dtype=torch.float64)
    if not bool(torch.all(torch.isfinite(tt) & (tt > 0) & (tt <= 1))):
        raise ValueError(f"{name} must lie in (0, 1], got {t}")
    return t


def _scalar_time(name: str, t, lo_open: bool = True) -> float:
    """One time in ``(0, 1]`` (``[0, 1]`` with ``lo_open=False``): a number or a one-entry tensor."""
    if isinstance(t, torch.Tensor):
        if t.numel() != 1 or t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"{name} must be one time, got a tensor of shape {tuple(t.shape)}")
        t = t.item()
    v = real(name, t)
    if not (0.0 < v <= 1.0 if lo_open else 0.0 <= v <= 1.0):
        raise ValueError(f"{name} must lie in {'(0' if lo_open else '[0'}, 1], got {t}")
    return v


def check_prior(prior) -> str:
    """``prior`` if it is one of :data:`PRIORS`, else ``ValueError`` naming ``prior``."""
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
    return prior


def sample_prior(
    prior: str, n: int, d: int = 2, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` float64 draws of the unit-variance product prior ``prior``, shape ``(n, d)``."""
    check_prior(prior)
    n, d = positive_int("n", n), positive_int("d", d)
    check_generator("generator", generator)
    if prior == "gaussian":
        return torch.randn(n, d, generator=generator, dtype=torch.float64)
    u = torch.rand(n, d, generator=generator, dtype=torch.float64)
    if prior == "uniform":
        return UNIFORM_HALF * (2 * u - 1)
    e = -torch.log1p(-torch.rand(n, d, generator=generator, dtype=torch.float64))
    return LAPLACE_SCALE * e * torch.where(u < 0.5, -1.0, 1.0).double()


def log_prior(prior: str, x: torch.Tensor) -> torch.Tensor:
    """``log p_1(x)`` of :func:`sample_prior`'s law, summed over the last axis (``-inf`` off
    the uniform prior's support)."""
    check_prior(prior)
    x = tensor("x", x)
    d = x.shape[-1]
    if prior == "gaussian":
        return -0.5 * (x**2).sum(-1) - 0.5 * d * math.log(2 * math.pi)
    if prior == "uniform":
        inside = (x.abs() <= UNIFORM_HALF).all(-1)
        val = torch.full(inside.shape, -d * math.log(2 * UNIFORM_HALF), dtype=x.dtype)
        return torch.where(inside, val, torch.full_like(val, -math.inf))
    return -x.abs().sum(-1) / LAPLACE_SCALE - d * math.log(2 * LAPLACE_SCALE)


def affine_velocity(x, mu, dmu, sigma, dsigma):
    """Su's general affine field ``f = mu' + (sigma'/sigma)(x - mu)`` (FM's eq. 15, time
    reversed) for the path ``x_t = mu_t + sigma_t x1``; arguments broadcast."""
    _check_affine(x=x, mu=mu, dmu=dmu, sigma=sigma, dsigma=dsigma)
    return dmu + dsigma / sigma * (x - mu)


def _check_affine(**args) -> None:
    """Finite numbers or tensors that broadcast together, ``sigma > 0`` (affine_velocity)."""
    shapes = []
    for name, v in args.items():
        if isinstance(v, torch.Tensor):
            shapes.append(tensor(name, v).shape)
        else:
            real(name, v)
    try:
        torch.broadcast_shapes(*shapes)
    except RuntimeError:
        raise ValueError(
            f"x, mu, dmu, sigma and dsigma must broadcast, got shapes "
            f"{[tuple(torch.as_tensor(v).shape) for v in args.values()]}"
        ) from None
    if not bool((torch.as_tensor(args["sigma"]) > 0).all()):
        raise ValueError("sigma must be > 0 everywhere")


def _rot(angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


class Path:
    """A one-point path ``x_t = alpha_t x0 + sigma_t R(theta t) x1`` (data at ``t = 0``).

    ``kind`` is one of :data:`PATHS`; ``theta`` (the swirl rate, radians per unit time)
    is used by ``swirl`` only, which needs ``d = 2``.
    """

    def __init__(self, kind: str = "straight", theta: float = 0.0):
        if kind not in PATHS:
            raise ValueError(f"kind must be one of {PATHS}, got {kind!r}")
        theta = real("theta", theta)
        if theta != 0.0 and kind != "swirl":
            raise ValueError(f"theta must be 0 unless kind is 'swirl', got {theta!r} for {kind!r}")
        self.kind = kind
        self.theta = float(theta) if kind == "swirl" else 0.0

    def coefficients(self, t):
        """``(alpha_t, alpha'_t, sigma_t, sigma'_t)`` as float64 tensors."""
        t = torch.as_tensor(check_unit_time("t", t), dtype=torch.float64)
        if self.kind == "trig":
            h = math.pi / 2
            return torch.cos(h * t), -h * torch.sin(h * t), torch.sin(h * t), h * torch.cos(h * t)
        return 1 - t, -torch.ones_like(t), t, torch.ones_like(t)

    def _rotate(self, v: torch.Tensor, angle) -> torch.Tensor:
        if self.theta == 0.0:
            return v
        if v.shape[-1] != 2:
            raise ValueError(f"a swirl path needs d = 2, got d = {v.shape[-1]}")
        r = _rot(torch.as_tensor(angle, dtype=torch.float64)).to(v.dtype)
        return (r @ v.unsqueeze(-1)).squeeze(-1)

    def _check(self, x_name: str, x, y_name: str, y, t) -> None:
        """Finite ``(..., d)`` tensors that broadcast (``d = 2`` for a swirl) and times ``t`` in
        ``(0, 1]``, a number or one per point."""
        x, y = _check_pair(x_name, x, y_name, y)
        if self.theta and x.shape[-1] != 2:
            raise ValueError(f"a swirl path needs d = 2, got {x_name} with d = {x.shape[-1]}")
        check_time_shape(
            "t", check_unit_time("t", t), torch.broadcast_shapes(x.shape, y.shape)[:-1]
        )

    def _gen(self, v: torch.Tensor) -> torch.Tensor:  # A v, A = [[0, -1], [1, 0]]
        return torch.stack([-v[..., 1], v[..., 0]], -1)

    @staticmethod
    def _col(c, like):  # a time coefficient broadcast against points (..., d)
        c = c.to(like.dtype)
        return c[..., None] if c.ndim >= 1 else c

    def point(self, x0: torch.Tensor, x1: torch.Tensor, t) -> torch.Tensor:
        """``x_t = alpha_t x0 + sigma_t R(theta t) x1``; ``t`` a number or ``(n,)``."""
        self._check("x0", x0, "x1", x1, t)
        a, _, s, _ = (self._col(c, x0) for c in self.coefficients(t))
        tt = torch.as_tensor(t, dtype=torch.float64)
        return a * x0 + s * self._rotate(x1, self.theta * tt)

    def target(self, x0: torch.Tensor, x1: torch.Tensor, t) -> torch.Tensor:
        """The regression target ``d x_t / dt`` at fixed ``(x0, x1)`` (``x1 - x0`` if straight)."""
        self._check("x0", x0, "x1", x1, t)
        a, da, s, ds = (self._col(c, x0) for c in self.coefficients(t))
        tt = torch.as_tensor(t, dtype=torch.float64)
        rx1 = self._rotate(x1, self.theta * tt)
        out = da * x0 + ds * rx1
        return out + self.theta * s * self._gen(rx1) if self.theta else out

    def velocity(self, x: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
        """The conditional field ``f_t(x | x0)`` (broadcasting ``x`` against ``x0``)."""
        self._check("x", x, "x0", x0, t)
        a, da, s, ds = (self._col(c, x) for c in self.coefficients(t))
        f = affine_velocity(x, a * x0, da * x0, s, ds)
        return f + self.theta * self._gen(x - a * x0) if self.theta else f

    def inverse(self, x: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
        """``phi_t(x | x0) = x1``: the prior point whose path passes through ``x`` at ``t``."""
        self._check("x", x, "x0", x0, t)
        a, _, s, _ = (self._col(c, x) for c in self.coefficients(t))
        tt = torch.as_tensor(t, dtype=torch.float64)
        return self._rotate((x - a * x0) / s, -self.theta * tt)

    def log_density(self, prior: str, x: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
        """``log p_t(x | x0) = log p_1(phi_t) + log|det d phi_t / dx| = ... - d log sigma_t``."""
        check_prior(prior)
        self._check("x", x, "x0", x0, t)
        s = self.coefficients(t)[2].to(x.dtype)
        return log_prior(prior, self.inverse(x, t, x0)) - x.shape[-1] * torch.log(s)


class EmpiricalField:
    """The exact marginal field of a finite data set under ``path`` and ``prior``.

    ``p_t(x) = mean_i p_t(x | x_i)`` and ``f_t(x) = f_t(x | E[x0 | x_t = x])`` with
    posterior weights ``softmax_i log p_t(x | x_i)``.  Where no datum's support covers
    ``x`` (a uniform prior) the field is set to zero, as the article's ``+1e-8`` does.
    """

    def __init__(self, data: torch.Tensor, prior: str = "gaussian", path: Path | None = None):
        self.data = check_points("data", data)
        self.prior = check_prior(prior)
        self.path = _check_path(path) or Path("straight")
        self.dim = self.data.shape[1]

    def log_kernels(self, x: torch.Tensor, t) -> torch.Tensor:
        """``log p_t(x_b | x_i)``, shape ``(B, N)``."""
        x = check_points("x", x, self.dim)
        _scalar_time("t", t)
        return self.path.log_density(self.prior, x[:, None, :], t, self.data[None].to(x.dtype))

    def log_marginal(self, x: torch.Tensor, t) -> torch.Tensor:
        """``log p_t(x) = logsumexp_i log p_t(x | x_i) - log N``."""
        return torch.logsumexp(self.log_kernels(x, t), 1) - math.log(self.data.shape[0])

    def velocity(self, x: torch.Tensor, t) -> torch.Tensor:
        """``f_t(x) = E[f_t(x | x0) | x_t = x]`` (zero off every support)."""
        lk = self.log_kernels(x, t)
        covered = torch.isfinite(lk).any(1)
        w = torch.softmax(torch.where(covered[:, None], lk, torch.zeros_like(lk)), 1)
        f = self.path.velocity(x, t, w @ self.data.to(x.dtype))
        return torch.where(covered[:, None], f, torch.zeros_like(f))


class GaussianMixtureField:
    """Gaussian prior, data ``(1/K) sum_k N(m_k, s^2 I)``, straight or swirl path: closed form.

    ``p_t = (1/K) sum_k N((1-t) m_k, v I)``, ``v = (1-t)^2 s^2 + t^2`` (the same for the
    swirl: ``R eps`` is again standard normal), and ``E[x0 | x]`` is the
    responsibility-weighted ``m_k + (1-t) s^2 / v (x - (1-t) m_k)``.
    """

    def __init__(self, means: torch.Tensor, std: float, theta: float = 0.0):
        self.means = check_points("means", means).double()
        self.std = positive_float("std", std)
        theta = real("theta", theta)
        self.path = Path("swirl", theta) if theta else Path("straight")

    def _parts(self, x, t):
        x = check_points("x", x, self.means.shape[1])
        t = _scalar_time("t", t)
        v = (1 - t) ** 2 * self.std**2 + t**2
        centre = (1 - t) * self.means
        diff = x[:, None, :] - centre[None].to(x.dtype)
        d = x.shape[1]
        logn = -0.5 * (diff**2).sum(-1) / v - 0.5 * d * math.log(2 * math.pi * v)
        return x, t, v, diff, logn

    def log_marginal(self, x: torch.Tensor, t) -> torch.Tensor:
        """The analytic ``log p_t(x)``."""
        *_, logn = self._parts(x, t)
        return torch.logsumexp(logn, 1) - math.log(self.means.shape[0])

    def denoise(self, x: torch.Tensor, t) -> torch.Tensor:
        """``E[x0 | x_t = x]``."""
        x, t, v, diff, logn = self._parts(x, t)
        w = torch.softmax(logn, 1)
        post = self.means[None].to(x.dtype) + (1 - t) * self.std**2 / v * diff
        return (w[..., None] * post).sum(1)

    def velocity(self, x: torch.Tensor, t) -> torch.Tensor:
        """The exact marginal field ``f_t(x | E[x0 | x])``."""
        x0_hat = self.denoise(x, t)
        return self.path.velocity(x, _scalar_time("t", t), x0_hat)

    def sample(self, n: int, t, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` direct draws of ``x_t = (1-t) x0 + t eps`` (``t = 0``: the data)."""
        n = positive_int("n", n)
        t = _scalar_time("t", t, lo_open=False)
        check_generator("generator", generator)
        k = torch.randint(self.means.shape[0], (n,), generator=generator)
        x0 = self.means[k] + self.std * torch.randn(
            n, self.means.shape[1], generator=generator, dtype=torch.float64
        )
        eps = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        return (1 - t) * x0 + t * eps


def circle_means(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The ``k`` means of the 8-Gaussians data: angles ``2 pi j / k`` on a circle."""
    k, radius = positive_int("k", k), positive_float("radius", radius)
    a = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return radius * torch.stack([a.cos(), a.sin()], 1)


def _interval_args(data, weights, lo, hi):
    data = real_array("data", data).ravel()
    if data.size == 0:
        raise ValueError("data must be a non-empty array of finite numbers")
    w = np.full(data.size, 1 / data.size) if weights is None else real_array("weights", weights)
    if w.shape != data.shape or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError("weights must be non-negative, one per datum, summing to 1")
    lo, hi = real("lo", lo), real("hi", hi)
    if not hi > lo:
        raise ValueError(f"hi must exceed lo, got lo={lo}, hi={hi}")
    return data, w, lo, hi


def interval_field(x, t, data, weights=None, lo: float = 0.0, hi: float = 2.0, eps=1e-8):
    """The article's 1-D field: a uniform prior on ``[lo, hi]``, straight paths, data ``x_i``.

    ``p_t(x | x_i) = 1 / (t (hi - lo))`` on ``[(1-t) x_i + t lo, (1-t) x_i + t hi]`` and
    ``f = sum_i w_i p_i (x - x_i)/t / (sum_i w_i p_i + eps)`` (NumPy, vectorised over ``x``).
    """
    data, w, lo, hi = _interval_args(data, weights, lo, hi)
    t = _scalar_time("t", t)
    eps = positive_float("eps", eps)
    x = real_array("x", x)[..., None]
    left = (1 - t) * data + t * lo
    p = np.where((x >= left) & (x <= left + t * (hi - lo)), 1 / (t * (hi - lo)), 0.0)
    return (w * p * (x - data) / t).sum(-1) / ((w * p).sum(-1) + eps)


def push_interval(x1, data, weights=None, lo=0.0, hi=2.0, steps: int = 1000):
    """Euler from ``t = 1`` to ``t = 0`` along :func:`interval_field`: ``(times, path)``,
    ``path`` of shape ``(steps + 1, len(x1))`` (the last row is the generated ``x0``)."""
    steps = positive_int("steps", steps)
    _interval_args(data, weights, lo, hi)
    x = real_array("x1", x1).ravel().copy()
    times = np.linspace(1.0, 0.0, steps + 1)
    out = [x.copy()]
    for a, b in zip(times[:-1], times[1:], strict=True):
        x = x + (b - a) * interval_field(x, a, data, weights, lo, hi)
        out.append(x.copy())
    return times, np.stack(out)


class VelocityNet(nn.Module):
    """MLP ``v(x, t)`` with input ``[x, t]``, ``depth`` hidden SiLU layers of ``width``."""

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3):
        super().__init__()
        dim, width = positive_int("dim", dim), positive_int("width", width)
        depth = positive_int("depth", depth)
        self.dim = dim
        layers, n_in = [], dim + 1
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.SiLU()]
            n_in = width
        self.net = nn.Sequential(*layers, nn.Linear(n_in, dim))

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        x = check_points("x", x, self.dim)
        if isinstance(t, torch.Tensor):
            t = check_time_shape("t", tensor("t", t, floating=False), x.shape[:1])
        else:
            t = real("t", t)
        t = torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0])
        return self.net(torch.cat([x, t[:, None]], 1))


def _check_path(path, none_ok: bool = True):
    if not (isinstance(path, Path) or (none_ok and path is None)):
        want = "a Path or None" if none_ok else "a Path"
        raise TypeError(f"path must be {want}, got {type(path).__name__}")
    return path


def cfm_loss(model, x0, x1, t, path: Path) -> torch.Tensor:
    """``E |v(x_t, t) - d x_t/dt|^2`` with ``x_t = path.point(x0, x1, t)`` (float32)."""
    check_points("x0", x0, _check_model(model).dim)
    check_points("x1", x1, model.dim)
    _check_path(path, none_ok=False)
    xt = path.point(x0, x1, t).float()
    t = torch.as_tensor(t, dtype=torch.float64)
    target = path.target(x0, x1, t).float()
    return ((model(xt, t.float()) - target) ** 2).sum(1).mean()


def train_cfm(
    data: torch.Tensor,
    prior: str = "gaussian",
    path: Path | None = None,
    *,
    steps: int = 3000,
    batch: int = 512,
    lr: float = 2e-3,
    width: int = 128,
    generator: torch.Generator | None = None,
) -> tuple[VelocityNet, list[float]]:
    """Conditional flow matching in Su's time: ``x0`` data, ``x1 ~ prior``, ``t ~ U[0, 1]``.

    Minimises :func:`cfm_loss` with Adam and cosine decay; returns the model and losses.
    """
    data = check_points("data", data)
    check_prior(prior)
    path = _check_path(path) or Path("straight")
    check_generator("generator", generator)
    steps, batch = positive_int("steps", steps), positive_int("batch", batch)
    lr = positive_float("lr", lr)
    model = VelocityNet(data.shape[1], width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    losses = []
    for _ in range(steps):
        x0 = data[torch.randint(data.shape[0], (batch,), generator=generator)].double()
        x1 = sample_prior(prior, batch, data.shape[1], generator)
        t = torch.rand(batch, generator=generator, dtype=torch.float64).clamp_min(1e-6)
        loss = cfm_loss(model, x0, x1, t, path)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return model, losses


def _check_model(model) -> VelocityNet:
    if not isinstance(model, VelocityNet):
        raise ValueError(f"model must be a VelocityNet, got {type(model).__name__}")
    return model


def _check_start(model, x1):
    return check_points("x1", x1, _check_model(model).dim)


@torch.no_grad()
def generate(
    model: VelocityNet,
    x1: torch.Tensor,
    *,
    steps: int = 100,
    method: str = "heun",
    path: bool = False,
) -> torch.Tensor:
    """Integrate ``dx/dt = v(x, t)`` from ``t = 1`` (prior draws ``x1``) to ``t = 0``
    with ``steps`` uniform steps (Chapter 4's :func:`~deepnotes.ode.integrate.integrate`).
    The number of network evaluations is ``steps`` (Euler), ``2 steps`` (Heun), ``4 steps``
    (RK4)."""
    x1 = _check_start(model, x1)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    boolean("path", path)
    times = torch.linspace(1.0, 0.0, positive_int("steps", steps) + 1, dtype=torch.float64)

    def v(t, x):
        return model(x.float(), t.float()).double()

    return integrate(v, x1.double(), times, method=method, log_time=False, path=path)


@torch.no_grad()
def generate_adaptive(
    model: VelocityNet, x1: torch.Tensor, *, rtol: float = 1e-3, atol: float = 1e-4
) -> tuple[torch.Tensor, int]:
    """The same ODE with SciPy's adaptive ``RK45`` (Dormand-Prince); returns ``(x0, nfe)``."""
    x1 = _check_start(model, x1)
    rtol, atol = positive_float("rtol", rtol), positive_float("atol", atol)
    shape = x1.shape

    def rhs(t, y):
        x = torch.from_numpy(y.reshape(shape)).float()
        return model(x, torch.tensor(t, dtype=torch.float32)).double().numpy().ravel()

    sol = solve_ivp(rhs, (1.0, 0.0), x1.double().numpy().ravel(), rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return torch.from_numpy(sol.y[:, -1].reshape(shape)), int(sol.nfev)
