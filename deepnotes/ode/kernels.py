"""Chapter 4: the conditional kernels ``p_t(x | x0)`` of the Green's-function recipe.

Four radially symmetric kernels, all with the same one-point velocity
``(x - x0) / t`` (a scale family ``psi_t(r) = Psi(r / t)``, section 5c):

* ``gravity``: ``C_d t / (t^2 + r^2)^((d+1)/2)`` (GRAV, PFGM), a multivariate Cauchy
  with scale ``t``; ``C_d = Gamma((d+1)/2) / pi^((d+1)/2)``;
* ``gaussian``: ``N(x; x0, t^2 I)`` (SEP with ``sigma_t = t``);
* ``tanh``: radial CDF ``tanh(r/t)``;
* ``exp``: radial CDF ``1 - exp(-r/t)``.

Every kernel is "``x = x0 + t z``" with ``z`` drawn from a fixed radial law, so a
sampler needs only the law of ``|z|`` (:func:`sample_radius`) and a uniform direction.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from deepnotes.checks import generator as check_generator
from deepnotes.checks import positive_float, positive_int, tensor

__all__ = [
    "KERNELS",
    "log_density",
    "log_gravity_constant",
    "log_sphere_area",
    "one_point_velocity",
    "radial_cdf",
    "ratio_trick",
    "sample",
    "sample_direction",
    "sample_prior",
    "sample_radius",
    "sample_z",
]

#: The kernels this module knows.
KERNELS = ("gravity", "gaussian", "tanh", "exp")


def check_kernel(kernel) -> str:
    """``kernel`` if it is one of :data:`KERNELS`, else ``ValueError`` naming ``kernel``."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    return kernel


def check_time(name: str, t):
    """``t`` (a number or tensor) if every entry is finite and > 0, else ``ValueError``."""
    if isinstance(t, torch.Tensor):
        if t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"{name} must be a real tensor of times, got dtype {t.dtype}")
        if not bool(torch.all(torch.isfinite(t) & (t > 0))):
            raise ValueError(f"{name} must be > 0 and finite everywhere")
        return t
    return positive_float(name, t)


def check_time_shape(name: str, t, batch: tuple[int, ...]):
    """``t`` if it is a number or a tensor that broadcasts against ``batch`` (the points' shape
    without their last axis) without growing it, else ``ValueError`` naming ``name``."""
    if isinstance(t, torch.Tensor) and t.ndim > 0:
        try:
            ok = torch.broadcast_shapes(t.shape, batch) == torch.Size(batch)
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"{name} must be a number or a tensor of shape {tuple(batch)} (one time per "
                f"point), got shape {tuple(t.shape)}"
            )
    return t


def check_points(name: str, x, dim: int | None = None) -> torch.Tensor:
    """``x`` as a floating tensor of shape ``(n, dim)``, else ``ValueError`` naming ``name``."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor of shape (n, d), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have dimension d = {dim}, got {x.shape[1]}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor, got {x.dtype}")
    # NaN reaches both ends of aminmax and an infinity is one: cheaper than a boolean copy
    if not bool(torch.isfinite(torch.stack(torch.aminmax(x.detach()))).all()):
        raise ValueError(f"{name} must be finite, got a tensor with NaN or infinity")
    return x


def _check_pair(x_name: str, x, y_name: str, y) -> tuple[torch.Tensor, torch.Tensor]:
    """Two finite floating point tensors of the same last dimension that broadcast."""
    x, y = tensor(x_name, x, finite=True), tensor(y_name, y, finite=True)
    if x.ndim < 1 or y.ndim < 1 or x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"{y_name} must have the last dimension of {x_name} ({tuple(x.shape)[-1:]}), got "
            f"shape {tuple(y.shape)}"
        )
    try:
        torch.broadcast_shapes(x.shape, y.shape)
    except RuntimeError:
        raise ValueError(
            f"{y_name} of shape {tuple(y.shape)} does not broadcast against {x_name} of shape "
            f"{tuple(x.shape)}"
        ) from None
    return x, y


def log_sphere_area(d: int) -> float:
    """``log S_d``, ``S_d = 2 pi^(d/2) / Gamma(d/2)`` the area of the unit sphere in ``R^d``."""
    d = positive_int("d", d)
    return math.log(2.0) + 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d)


def log_gravity_constant(d: int) -> float:
    """``log C_d``, ``C_d = Gamma((d+1)/2) / pi^((d+1)/2)`` (Chapter 4, normalisation of GRAV)."""
    d = positive_int("d", d)
    return math.lgamma(0.5 * (d + 1)) - 0.5 * (d + 1) * math.log(math.pi)


def _as_time(t, like: torch.Tensor) -> torch.Tensor:
    t = check_time("t", t)
    return torch.as_tensor(t, dtype=like.dtype)


def log_density(kernel: str, x: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
    """``log p_t(x | x0)`` for broadcastable ``x``, ``x0`` of last dimension ``d``.

    ``t`` is a positive number or a tensor broadcastable against ``x[..., 0]``.
    ``tanh`` and ``exp`` are singular like ``r^(1-d)`` at ``x0`` (integrable).
    """
    check_kernel(kernel)
    x, x0 = _check_pair("x", x, "x0", x0)
    t = _as_time(check_time_shape("t", t, torch.broadcast_shapes(x.shape, x0.shape)[:-1]), x)
    d = x.shape[-1]
    r2 = ((x - x0) ** 2).sum(-1)
    if kernel == "gravity":
        return log_gravity_constant(d) + torch.log(t) - 0.5 * (d + 1) * torch.log(t**2 + r2)
    if kernel == "gaussian":
        return -0.5 * d * torch.log(2 * math.pi * t**2) - r2 / (2 * t**2)
    r = r2.sqrt()
    rho = r / t
    if (
        kernel == "tanh"
    ):  # d/dr tanh(r/t) = sech^2(rho)/t, log sech^2 = log 4 - 2 rho - 2 log1p(e^-2rho)
        log_dpsi = math.log(4.0) - 2 * rho - 2 * torch.log1p(torch.exp(-2 * rho)) - torch.log(t)
    else:  # exp: d/dr (1 - e^-rho) = e^-rho / t
        log_dpsi = -rho - torch.log(t)
    return log_dpsi - log_sphere_area(d) - (d - 1) * torch.log(r)


def radial_cdf(kernel: str, rho, d: int) -> np.ndarray:
    """``psi(rho) = P(|z| <= rho)``: the radial CDF of ``z = (x - x0)/t`` in ``d`` dimensions.

    gravity: ``I_{rho^2/(1+rho^2)}(d/2, 1/2)`` (``|z|^2/(1+|z|^2) ~ Beta(d/2, 1/2)``);
    gaussian: ``P(d/2, rho^2/2)`` (chi law); tanh: ``tanh(rho)``; exp: ``1 - e^(-rho)``.
    """
    check_kernel(kernel)
    d = positive_int("d", d)
    if isinstance(rho, torch.Tensor):
        rho = rho.detach().cpu().numpy()
    rho = np.asarray(rho) if not isinstance(rho, (str, bytes)) else np.asarray(None)
    if rho.dtype.kind not in "iuf" or rho.size == 0:
        raise ValueError(f"rho must be a non-empty array of radii, got {rho!r}")
    rho = rho.astype(float)
    if not (np.all(np.isfinite(rho)) and np.all(rho >= 0)):
        raise ValueError("rho must be finite and >= 0 everywhere")
    if kernel == "gravity":
        return special.betainc(0.5 * d, 0.5, rho**2 / (1 + rho**2))
    if kernel == "gaussian":
        return special.gammainc(0.5 * d, 0.5 * rho**2)
    if kernel == "tanh":
        return np.tanh(rho)
    return -np.expm1(-rho)


def sample_radius(
    kernel: str, n: int, d: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` draws of ``|z|`` by the inverse-CDF method (float64), ``U ~ U(0, 1)``.

    gravity: ``sqrt(B / (1 - B))`` with ``B = I^{-1}_U(d/2, 1/2)``; for ``d = 2`` this is
    ``sqrt((1 - U)^-2 - 1)``.  gaussian: ``sqrt(2 P^{-1}(d/2, U))``.  tanh: ``artanh U``.
    exp: ``-log(1 - U)``.
    """
    check_kernel(kernel)
    n, d = positive_int("n", n), positive_int("d", d)
    check_generator("generator", generator)
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    un = u.numpy()
    if kernel == "gravity":
        b = special.betaincinv(0.5 * d, 0.5, un)
        out = np.sqrt(b / (1 - b))
    elif kernel == "gaussian":
        out = np.sqrt(2 * special.gammaincinv(0.5 * d, un))
    elif kernel == "tanh":
        out = np.arctanh(un)
    else:
        out = -np.log1p(-un)
    return torch.from_numpy(out)


def sample_direction(n: int, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` unit vectors uniform on the sphere in ``R^d`` (normalised Gaussians), float64."""
    n, d = positive_int("n", n), positive_int("d", d)
    check_generator("generator", generator)
    g = torch.randn(n, d, generator=generator, dtype=torch.float64)
    return g / g.norm(dim=1, keepdim=True)


def sample_z(kernel: str, n: int, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` draws of ``z = (x_t - x0)/t`` (radius by :func:`sample_radius`, uniform direction)."""
    radius = sample_radius(kernel, n, d, generator)
    return radius[:, None] * sample_direction(n, d, generator)


def ratio_trick(n: int, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """PFGM's perturbation with ``t`` substituted: ``z = eps_x / |eps_t|``, ``eps ~ N(0, I_{d+1})``.

    Chapter 4, section 4d: its law is the gravity kernel's (a multivariate Cauchy).
    """
    n, d = positive_int("n", n), positive_int("d", d)
    check_generator("generator", generator)
    eps = torch.randn(n, d + 1, generator=generator, dtype=torch.float64)
    return eps[:, :d] / eps[:, d:].abs()


def sample(
    kernel: str, x0: torch.Tensor, t, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``x_t ~ p_t(. | x0)`` for each row of ``x0``: ``x_t = x0 + t z``; ``t`` a number or ``(n,)``."""
    x0 = check_points("x0", x0)
    t = _as_time(check_time_shape("t", t, x0.shape[:1]), x0)
    z = sample_z(kernel, x0.shape[0], x0.shape[1], generator).to(x0.dtype)
    return x0 + (t[:, None] if t.ndim == 1 else t) * z


def one_point_velocity(x: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
    """The one-point velocity ``G_{>1}/G_1 = (x - x0)/t``, the same for all :data:`KERNELS`."""
    x, x0 = _check_pair("x", x, "x0", x0)
    t = _as_time(check_time_shape("t", t, torch.broadcast_shapes(x.shape, x0.shape)[:-1]), x)
    return (x - x0) / (t[..., None] if t.ndim >= 1 else t)


def sample_prior(
    kernel: str, n: int, d: int, T: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The data-free large-``T`` prior: ``T z`` (``p_T(x | 0)``; for gravity PFGM's prior)."""
    T = check_time("T", T)
    return T * sample_z(kernel, n, d, generator)
