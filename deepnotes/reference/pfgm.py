"""PFGM and PFGM++ recipes, re-implemented from the papers for Chapter 4's cross-checks.

Written from the descriptions in Xu et al., *Poisson Flow Generative Models* (NeurIPS 2022,
arXiv 2209.11178; official code Newbeeer/Poisson_flow) and *PFGM++* (arXiv 2302.04265;
Newbeeer/pfgmpp), not copied.  Conventions follow PFGM's, which differ from the chapter's:

* the augmented coordinate ``z`` (the chapter's ``t``) is stored **last**;
* the empirical field points **towards** the data (``-(x~ - x_i)``), the chapter's ``G``
  away from it;
* its weights are ``(min_j |x~ - x_j| / |x~ - x_i|)^(d+1)``, normalised per row, and the
  field is normalised to ``sqrt(d) * E / (|E| + gamma)``.

Samplers use NumPy's generator (a stream independent of torch's) so a cross-check
compares two independent draws.  Only NumPy and torch are imported.
"""

from __future__ import annotations

import numpy as np
import torch

from deepnotes.checks import boolean, positive_float, positive_int, real_array
from deepnotes.checks import tensor as check_tensor

__all__ = ["empirical_field", "forward_pz", "pfgmpp_perturb", "prior_radius"]


def _rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _per_row(name: str, value, n: int) -> np.ndarray:
    """A finite scalar or one value per row (``n``), as an array."""
    arr = real_array(name, value, (0, 1))
    if arr.ndim == 1 and arr.shape[0] != n:
        raise ValueError(f"{name} must be a number or one per row ({n}), got shape {arr.shape}")
    return arr


def forward_pz(
    x0: np.ndarray,
    m: np.ndarray,
    *,
    sigma: float = 0.01,
    tau: float = 0.03,
    rng: np.random.Generator,
) -> np.ndarray:
    """PFGM's training perturbation of data ``x0`` (n, d), returned as ``(n, d + 1)``, z last.

    ``eps = (eps_x, eps_z) ~ N(0, sigma^2 I_{d+1})``, multiplier ``(1 + tau)^m``;
    ``x~ = x0 + |eps_x| (1 + tau)^m u`` with ``u`` uniform on the sphere and
    ``z = |eps_z| (1 + tau)^m``.
    """
    x0 = real_array("x0", x0, 2)
    sigma, tau = positive_float("sigma", sigma), positive_float("tau", tau)
    rng = _rng(rng)
    n, d = x0.shape
    with np.errstate(over="ignore"):
        mult = (1 + tau) ** _per_row("m", m, n)
    if not np.all(np.isfinite(mult)):
        raise ValueError(f"m is too large: (1 + tau)^m overflows (tau={tau})")
    eps_x = rng.standard_normal((n, d)) * sigma
    eps_z = rng.standard_normal(n) * sigma
    u = rng.standard_normal((n, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    x = x0 + (np.linalg.norm(eps_x, axis=1) * mult)[:, None] * u
    z = np.abs(eps_z) * mult
    return np.concatenate([x, z[:, None]], axis=1)


def prior_radius(
    n: int, d: int, *, z_max: float, rng: np.random.Generator, upper_norm: float | None = None
) -> np.ndarray:
    """PFGM's prior radius on the plane ``z = z_max``: ``z_max sqrt(B / (1 - B))``.

    ``B ~ Beta((d+1)/2 - 1/2, 1/2) = Beta(d/2, 1/2)`` (``N = d + 1`` augmented dimensions),
    clipped to ``[1, upper_norm]`` when ``upper_norm`` is given (PFGM does; the check
    does not).
    """
    n, d = positive_int("n", n), positive_int("d", d)
    z_max = positive_float("z_max", z_max)
    rng = _rng(rng)
    if upper_norm is not None and positive_float("upper_norm", upper_norm) < 1:
        raise ValueError(
            f"upper_norm must be >= 1 (the radius is clipped to [1, upper_norm]), got {upper_norm!r}"
        )
    b = rng.beta(0.5 * (d + 1) - 0.5, 0.5, size=n)
    radius = z_max * np.sqrt(b / (1 - b))
    if upper_norm is not None:
        radius = np.clip(radius, 1.0, positive_float("upper_norm", upper_norm))
    return radius


def empirical_field(
    x_aug: torch.Tensor, data: torch.Tensor, *, gamma: float = 5.0, normalise: bool = True
) -> torch.Tensor:
    """PFGM's empirical Poisson field at augmented points ``x_aug`` (B, d + 1), z last.

    ``E = sum_i c_i (-(x~ - x_i))`` with ``c_i = (min_j D_j / D_i)^(d+1) / sum(...)``,
    ``D_i = |x~ - (x_i, 0)|``; with ``normalise`` it returns ``sqrt(d) E / (|E| + gamma)``.
    """
    check_tensor("x_aug", x_aug, 2)
    check_tensor("data", data, 2)
    if x_aug.shape[1] != data.shape[1] + 1:
        raise ValueError(
            f"x_aug must be (B, d + 1) and data (N, d), got x_aug {tuple(x_aug.shape)} and "
            f"data {tuple(data.shape)}"
        )
    gamma, normalise = positive_float("gamma", gamma), boolean("normalise", normalise)
    d = data.shape[1]
    real = torch.cat([data, torch.zeros(data.shape[0], 1, dtype=data.dtype)], dim=1)
    diff = -(x_aug[:, None, :] - real[None])
    dist = diff.norm(dim=-1)
    ratio = (dist.min(dim=1, keepdim=True).values / (dist + 1e-7)) ** (d + 1)
    coeff = ratio / (ratio.sum(dim=1, keepdim=True) + 1e-7)
    field = (coeff[..., None] * diff).sum(1)
    if normalise:
        field = field / (field.norm(dim=1, keepdim=True) + gamma) * np.sqrt(d)
    return field


def pfgmpp_perturb(
    y: np.ndarray, sigma: np.ndarray, *, D: float, rng: np.random.Generator
) -> np.ndarray:
    """PFGM++'s perturbation of ``y`` (n, N): radius ``R = r sqrt(B / (1 - B))``.

    ``r = sigma sqrt(D)``, ``B ~ Beta(N/2, D/2)``, uniform direction.  ``D = 1`` with
    ``r = t`` (``sigma = t``) is the gravity kernel.
    """
    y = real_array("y", y, 2)
    D = positive_float("D", D)
    rng = _rng(rng)
    n, big_n = y.shape
    sigma = _per_row("sigma", sigma, n)
    if np.any(sigma < 0):
        raise ValueError("sigma must be >= 0 (a radius scale)")
    r = sigma * np.sqrt(D)
    b = rng.beta(big_n / 2, D / 2, size=n)
    radius = r * np.sqrt(b / (1 - b))
    u = rng.standard_normal((n, big_n))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return y + radius[:, None] * u
