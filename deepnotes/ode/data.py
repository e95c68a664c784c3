"""Chapters 4-5: toy 2-D datasets.

* ``8gaussians``: eight Gaussians of std 0.1 centred on the circle of radius 2 at
  angles ``k pi / 4``;
* ``moons``: two interleaved half circles (radius 1) with Gaussian noise 0.05;
* ``ring``: the circle of radius 2 with radial noise 0.05.
"""

from __future__ import annotations

import math

import torch

from deepnotes.checks import float_dtype, positive_int
from deepnotes.checks import generator as check_generator

__all__ = [
    "DATASETS",
    "toy_data",
]

DATASETS = ("8gaussians", "moons", "ring")


def toy_data(
    name: str, n: int, generator: torch.Generator | None = None, dtype=torch.float64
) -> torch.Tensor:
    """``n`` points of the 2-D dataset ``name`` (one of :data:`DATASETS`), shape ``(n, 2)``."""
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    n = positive_int("n", n)
    check_generator("generator", generator)
    float_dtype("dtype", dtype)
    if name == "8gaussians":
        k = torch.randint(8, (n,), generator=generator)
        angle = k.double() * math.pi / 4
        centres = 2.0 * torch.stack([angle.cos(), angle.sin()], dim=1)
        x = centres + 0.1 * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    elif name == "moons":
        upper = torch.rand(n, generator=generator) < 0.5
        a = math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
        top = torch.stack([a.cos(), a.sin()], dim=1)
        bottom = torch.stack([1 - a.cos(), 0.5 - a.sin()], dim=1)
        x = torch.where(upper[:, None], top, bottom) - torch.tensor([0.5, 0.25])
        x = x + 0.05 * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    else:
        a = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
        rad = 2.0 + 0.05 * torch.randn(n, generator=generator, dtype=torch.float64)
        x = rad[:, None] * torch.stack([a.cos(), a.sin()], dim=1)
    return x.to(dtype)
