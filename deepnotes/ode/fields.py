"""Chapter 4: the exact superposed field of an empirical dataset.

Superposing the one-point Green's field over data ``x_1..x_N`` (section 3) gives

    u(t, x) = (1/N) sum_i G(t, 0; x, x_i),      f_t(x) = u_{>1} / u_1
            = sum_i w_i(x, t) (x - x_i) / t = (x - E[x0 | x_t = x]) / t,

with posterior weights ``w = softmax_i(log G_1(t, 0; x, x_i))`` (computed from log densities,
so nothing underflows).  The marginal density is ``p_t(x) = (1/N) sum_i G_1``.
"""

from __future__ import annotations

import math

import torch

from deepnotes.ode import kernels as K

__all__ = [
    "ExactField",
]


class ExactField:
    """The exact marginal field ``f_t`` and density ``p_t`` of a dataset under a kernel.

    ``data`` is an ``(N, d)`` tensor; ``kernel`` one of :data:`deepnotes.ode.kernels.KERNELS`.
    """

    def __init__(self, data: torch.Tensor, kernel: str = "gravity"):
        self.data = K.check_points("data", data)
        self.kernel = K.check_kernel(kernel)
        self.dim = data.shape[1]

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        return K.check_points("x", x, self.dim)

    def log_kernels(self, x: torch.Tensor, t) -> torch.Tensor:
        """``log G_1(t, 0; x_b, x_i)`` for every point ``b`` and datum ``i``: ``(B, N)``."""
        x = self._check(x)
        t = K.check_time_shape("t", K.check_time("t", t), x.shape[:1])
        if isinstance(t, torch.Tensor) and t.ndim == 1:
            t = t[:, None]
        return K.log_density(self.kernel, x[:, None, :], t, self.data[None].to(x.dtype))

    def posterior(self, x: torch.Tensor, t) -> torch.Tensor:
        """``p_t(x_i | x)``: the softmax of :meth:`log_kernels` over the data, ``(B, N)``.

        On a datum the ``tanh`` and ``exp`` kernels are infinite (singular like ``r^(1-d)``);
        the limit puts all weight on the data at distance zero (a softmax would give NaN)."""
        lk = self.log_kernels(x, t)
        w = torch.softmax(lk, dim=1)
        on = torch.isposinf(lk)
        if bool(on.any()):
            w = torch.where(on.any(1, keepdim=True), on / on.sum(1, keepdim=True).clamp_min(1), w)
        return w

    def denoise(self, x: torch.Tensor, t) -> torch.Tensor:
        """``E[x0 | x_t = x] = sum_i w_i x_i`` (what a network trained to predict ``x0`` learns)."""
        return self.posterior(x, t) @ self.data.to(x.dtype)

    def velocity(self, x: torch.Tensor, t) -> torch.Tensor:
        """``f_t(x) = (x - E[x0 | x]) / t`` (the superposed field divided by its time component)."""
        t = K.check_time("t", t)
        tt = t[:, None] if isinstance(t, torch.Tensor) and t.ndim == 1 else t
        return (x - self.denoise(x, t)) / tt

    def log_marginal(self, x: torch.Tensor, t) -> torch.Tensor:
        """``log p_t(x) = logsumexp_i log G_1 - log N``."""
        return torch.logsumexp(self.log_kernels(x, t), dim=1) - math.log(self.data.shape[0])

    def divergence(self, x: torch.Tensor, t) -> torch.Tensor:
        """``div f_t(x)``: closed form for ``gravity`` and ``gaussian``, autograd otherwise.

        See :meth:`velocity_and_divergence`.
        """
        if self.kernel not in ("gravity", "gaussian"):
            from deepnotes.ode.integrate import autograd_divergence

            return autograd_divergence(lambda tt, y: self.velocity(y, tt))(t, x)
        return self.velocity_and_divergence(x, t)[1]

    def velocity_and_divergence(self, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """``f_t(x)`` and ``div f_t(x)`` from one set of weights (``gravity``, ``gaussian``).

        ``div f = (d - tr dE[x0|x]/dx) / t`` and ``tr dE[x0|x]/dx = sum_i w_i x_i . (g_i - g_bar)``
        with ``g_i = grad_x log G_1(x; x_i)`` (gravity: ``-(d+1)(x - x_i)/(t^2 + r_i^2)``;
        gaussian: ``-(x - x_i)/t^2``) and ``g_bar = sum_i w_i g_i``.
        """
        if self.kernel not in ("gravity", "gaussian"):
            raise ValueError(f"kernel must be 'gravity' or 'gaussian' here, got {self.kernel!r}")
        x = self._check(x)
        t = K.check_time_shape("t", K.check_time("t", t), x.shape[:1])
        tt = torch.as_tensor(t, dtype=x.dtype)
        tt = tt[:, None] if tt.ndim == 1 else tt
        data = self.data.to(x.dtype)
        diff = x[:, None, :] - data[None]  # (B, N, d)
        r2 = (diff**2).sum(-1)
        d = self.dim
        if self.kernel == "gravity":
            logits = torch.log(tt) - 0.5 * (d + 1) * torch.log(tt**2 + r2)
            scale = -(d + 1) / (tt**2 + r2)
        else:
            logits = -r2 / (2 * tt**2)
            scale = -torch.ones_like(r2) / tt**2
        w = torch.softmax(logits, dim=1)
        x0_hat = w @ data
        g_bar = torch.einsum("bn,bnd->bd", w * scale, diff)
        trace = (w * scale * (diff * data[None]).sum(-1)).sum(1) - (x0_hat * g_bar).sum(-1)
        tv = tt.squeeze(-1) if tt.ndim == 2 else tt
        return (x - x0_hat) / tt, (d - trace) / tv

    def u(self, x: torch.Tensor, t) -> torch.Tensor:
        """The ``(d+1)``-field ``u = (p_t, f_t p_t)`` (time component first), ``(B, d + 1)``."""
        p = self.log_marginal(x, t).exp()
        return torch.cat([p[:, None], self.velocity(x, t) * p[:, None]], dim=1)

    def sample_marginal(self, n: int, t, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws from the exact ``p_t``: a uniform datum, then the kernel around it."""
        n = K.positive_int("n", n)
        K.check_time_shape("t", K.check_time("t", t), (n,))
        K.check_generator("generator", generator)
        idx = torch.randint(self.data.shape[0], (n,), generator=generator)
        return K.sample(self.kernel, self.data[idx], t, generator)
