"""Chapter 0 (the toolbox): measuring how a stack of random linear layers moves the second moment."""

from __future__ import annotations

import math

import numpy as np
import torch

from deepnotes.checks import generator as check_generator
from deepnotes.checks import positive_float, positive_int, real

__all__ = [
    "random_linear_chain_moments",
    "random_linear_chain_moment",
    "single_layer_moment",
    "fan_in_moments",
]


def random_linear_chain_moments(
    width: int,
    depth: int,
    gain: float = 1.0,
    *,
    batch: int = 256,
    trials: int = 1,
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """``E[h_l^2]`` of each of ``trials`` independent chains after each of ``depth`` layers.

    A chain is ``h_l = W_l h_{l-1}`` with ``W_l`` i.i.d. ``N(0, gain^2 / width)``
    entries (chapter 0, eq. ``sigma2 = g^2/n``) and ``h_0 ~ N(0, I)``; the theory
    predicts ``E[h_l^2] = gain^(2 l)`` (chapter 0, eq. ``depth-law``).  Returns an
    array of shape ``(trials, depth)``, each entry a mean over ``batch`` inputs
    and ``width`` units of one chain, so the spread over trials gives the
    standard error of their mean.
    """
    for name, val in (("width", width), ("depth", depth), ("batch", batch), ("trials", trials)):
        positive_int(name, val)
    gain = positive_float("gain", gain)
    check_generator("generator", generator)
    h = torch.randn(trials, batch, width, generator=generator, dtype=torch.float64)
    moments = torch.empty(trials, depth, dtype=torch.float64)
    for layer in range(depth):
        w = torch.randn(trials, width, width, generator=generator, dtype=torch.float64) * (
            gain / width**0.5
        )
        h = h @ w.transpose(1, 2)
        moments[:, layer] = h.pow(2).mean(dim=(1, 2))
    return moments.numpy()


def random_linear_chain_moment(
    width: int,
    depth: int,
    gain: float = 1.0,
    *,
    batch: int = 256,
    trials: int = 1,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Mean ``E[h_l^2]`` after each of ``depth`` random layers, over ``trials`` chains.

    The trial mean of :func:`random_linear_chain_moments` (chapter 0): ``depth``
    floats (layer 1 to ``depth``), each a mean over ``batch`` inputs, ``width``
    units and ``trials`` independent chains.  One chain fluctuates around the
    expectation (its log error grows like the square root of depth), which is
    why several are averaged.
    """
    per_trial = random_linear_chain_moments(
        width, depth, gain, batch=batch, trials=trials, generator=generator
    )
    return np.mean(per_trial, axis=0).tolist()


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
    sigma2 = positive_float("sigma2", sigma2)
    check_generator("generator", generator)
    x = torch.randn(batch, fan_in, generator=generator, dtype=torch.float64)
    w = torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64) * sigma2**0.5
    return float((x @ w.T).pow(2).mean())


def fan_in_moments(
    fan_ins,
    exponent: float,
    *,
    seed: int,
    batch: int = 256,
    fan_out: int = 64,
) -> list[float]:
    """:func:`single_layer_moment` at each fan-in ``n`` with ``sigma2 = n^(-exponent)``.

    Chapter 0, "Measure": the theory ``E[y^2] = n sigma2`` predicts a log-log
    slope of ``1 - exponent`` against ``n``.  All draws come from one
    generator seeded with ``seed``, so a call is reproducible on its own.
    """
    fan_ins = [positive_int("fan_ins", n) for n in _sequence("fan_ins", fan_ins)]
    exponent = real("exponent", exponent)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    positive_int("batch", batch)
    positive_int("fan_out", fan_out)
    gen = torch.Generator().manual_seed(int(seed))
    return [
        single_layer_moment(n, float(n) ** -exponent, fan_out=fan_out, batch=batch, generator=gen)
        for n in fan_ins
    ]


def _sequence(name: str, values):
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}")
    try:
        values = list(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence, got {values!r}") from None
    if not values:
        raise ValueError(f"{name} must not be empty")
    return values


def _finite(name: str, value) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x
