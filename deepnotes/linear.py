"""Chapter 0 (the toolbox): measuring how a stack of random linear layers moves the second moment."""

from __future__ import annotations

import torch

from deepnotes.checks import positive_int


def random_linear_chain_moment(
    width: int,
    depth: int,
    gain: float = 1.0,
    *,
    batch: int = 256,
    trials: int = 1,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Mean ``E[h_l^2]`` after each of ``depth`` random layers ``h_l = W_l h_{l-1}``.

    ``W_l`` has i.i.d. ``N(0, gain^2 / width)`` entries (chapter 0, eq. ``sigma2 = g^2/n``)
    and ``h_0 ~ N(0, I)``; the theory predicts ``E[h_l^2] = gain^(2 l)``.  Returns
    ``depth`` floats (layer 1 to ``depth``), each a mean over ``batch`` inputs,
    ``width`` units and ``trials`` independent chains.  One chain fluctuates
    around the expectation (its log error grows like the square root of
    depth), which is why several are averaged.
    """
    for name, val in (("width", width), ("depth", depth), ("batch", batch), ("trials", trials)):
        positive_int(name, val)
    if not gain > 0:
        raise ValueError(f"gain must be positive, got {gain!r}")
    h = torch.randn(trials, batch, width, generator=generator, dtype=torch.float64)
    moments = []
    for _ in range(depth):
        w = torch.randn(trials, width, width, generator=generator, dtype=torch.float64) * (
            gain / width**0.5
        )
        h = h @ w.transpose(1, 2)
        moments.append(float(h.pow(2).mean()))
    return moments


def single_layer_moment(
    fan_in: int,
    sigma2: float,
    *,
    fan_out: int = 64,
    batch: int = 256,
    generator: torch.Generator | None = None,
) -> float:
    """``E[y^2]`` of ``y = W x`` with ``W_ij ~ N(0, sigma2)`` and ``x ~ N(0, I_fan_in)``; theory: ``fan_in * sigma2``."""
    for name, val in (("fan_in", fan_in), ("fan_out", fan_out), ("batch", batch)):
        positive_int(name, val)
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be positive, got {sigma2!r}")
    x = torch.randn(batch, fan_in, generator=generator, dtype=torch.float64)
    w = torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64) * sigma2**0.5
    return float((x @ w.T).pow(2).mean())
