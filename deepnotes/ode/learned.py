"""Chapter 4: a learned field, trained by the objective the construction implies.

The superposed field is ``f_t(x) = E[(x_t - x0)/t | x_t = x]`` (section 3 and the
identity ``E[y] = argmin_mu E|y - mu|^2``).  The per-sample target ``(x_t - x0)/t = z``
is Cauchy for the gravity kernel (infinite variance), but it is affine in ``x0``, so we
regress ``x0`` instead:

    loss = E |x0_hat(x_t, t) - x0|^2,   x_t = x0 + t z,   f_t(x) = (x - x0_hat(x, t)) / t,

a ``t^2``-weighted velocity loss with the same minimiser (the PFGM++ objective with D = 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepnotes.checks import boolean, positive_float, positive_int
from deepnotes.checks import generator as check_generator
from deepnotes.ode import kernels as K
from deepnotes.ode.integrate import integrate, log_time_grid

__all__ = [
    "Denoiser",
    "denoising_loss",
    "generate",
    "train_denoiser",
]


class Denoiser(nn.Module):
    """MLP ``x0_hat(x, t)`` with inputs ``[x / sqrt(1 + t^2)`` (norm clipped to 10) ``, ln t / 4]``.

    The input scaling keeps heavy-tailed ``x_t`` (gravity kernel) in range; there is no
    skip connection (an EDM-style ``c_skip x`` assumes Gaussian tails).
    """

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3):
        super().__init__()
        dim, width, depth = (
            positive_int(n, v) for n, v in (("dim", dim), ("width", width), ("depth", depth))
        )
        self.dim = dim
        layers, n_in = [], dim + 1
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.SiLU()]
            n_in = width
        layers.append(nn.Linear(n_in, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = K.check_points("x", x, self.dim)
        t = K.check_time_shape("t", K.check_time("t", t), x.shape[:1])
        t = torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0])
        h = x / torch.sqrt(1 + t[:, None] ** 2)
        norm = h.norm(dim=1, keepdim=True).clamp_min(1e-12)
        h = h * torch.clamp(10.0 / norm, max=1.0)
        return self.net(torch.cat([h, torch.log(t)[:, None] / 4], dim=1))


def _check_model(model) -> Denoiser:
    if not isinstance(model, Denoiser):
        raise TypeError(f"model must be a Denoiser, got {type(model).__name__}")
    return model


def _check_range(t_min, t_max, names=("t_min", "t_max")) -> tuple[float, float]:
    lo, hi = K.check_time(names[0], t_min), K.check_time(names[1], t_max)
    if hi <= lo:
        raise ValueError(f"{names[1]} must exceed {names[0]}, got {hi} <= {lo}")
    return lo, hi


def denoising_loss(
    model: Denoiser,
    x0: torch.Tensor,
    kernel: str,
    *,
    t_min: float = 1e-3,
    t_max: float = 20.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One batch of ``E|x0_hat(x0 + t z, t) - x0|^2``: ``t`` log-uniform on ``[t_min, t_max]``,
    then ``z`` from the kernel (gravity: the ratio trick), drawn in that order."""
    _check_model(model)
    x0 = K.check_points("x0", x0, model.dim)
    K.check_kernel(kernel)
    t_min, t_max = _check_range(t_min, t_max)
    check_generator("generator", generator)
    n, d = x0.shape
    lo, hi = math.log(t_min), math.log(t_max)
    t = torch.exp(lo + (hi - lo) * torch.rand(n, generator=generator))
    if kernel == "gravity":
        z = K.ratio_trick(n, d, generator).float()
    else:
        z = K.sample_z(kernel, n, d, generator).float()
    return ((model(x0 + t[:, None] * z, t) - x0) ** 2).sum(1).mean()


def train_denoiser(
    data: torch.Tensor,
    kernel: str = "gravity",
    *,
    steps: int = 3000,
    batch: int = 512,
    lr: float = 2e-3,
    t_min: float = 1e-3,
    t_max: float = 20.0,
    width: int = 128,
    generator: torch.Generator | None = None,
) -> tuple[Denoiser, list[float]]:
    """Train :class:`Denoiser` by ``E|x0_hat(x0 + t z, t) - x0|^2``, ``t`` log-uniform.

    ``z`` is drawn independently of ``t`` from the kernel's law (for gravity the ratio trick
    ``eps_x / |eps_t|``).  Adam with cosine decay.  Returns the model (float32) and losses.
    """
    data = K.check_points("data", data)
    K.check_kernel(kernel)
    steps, batch = positive_int("steps", steps), positive_int("batch", batch)
    lr = positive_float("lr", lr)
    t_min, t_max = _check_range(t_min, t_max)
    check_generator("generator", generator)
    model = Denoiser(data.shape[1], width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    x_all = data.float()
    losses = []
    for _ in range(steps):
        idx = torch.randint(x_all.shape[0], (batch,), generator=generator)
        x0 = x_all[idx]
        loss = denoising_loss(model, x0, kernel, t_min=t_min, t_max=t_max, generator=generator)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return model, losses


@torch.no_grad()
def generate(
    model: Denoiser,
    x_T: torch.Tensor,
    *,
    T: float = 20.0,
    t_min: float = 1e-3,
    steps: int = 100,
    method: str = "heun",
    path: bool = False,
) -> torch.Tensor:
    """Integrate ``dx/d ln t = x - x0_hat(x, t)`` from ``T`` down to ``t_min``, then denoise.

    ``x_T`` are prior draws, shape ``(n, d)``.  With ``path=True`` returns every step
    (the final denoising step appended).
    """
    x_T = K.check_points("x_T", x_T, _check_model(model).dim)
    t_min, T = _check_range(t_min, T, names=("t_min", "T"))
    boolean("path", path)
    grid = log_time_grid(T, t_min, steps)

    def velocity(t, x):
        return (x - model(x.float(), t.float()).double()) / t

    out = integrate(velocity, x_T.double(), grid, method=method, path=path)
    last = out[-1] if path else out
    final = model(last.float(), torch.tensor(float(t_min))).double()
    return torch.cat([out, final[None]]) if path else final
