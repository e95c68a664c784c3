"""Issue 17, numerical robustness: the LRU's float32 scans at L = 65536 against float64.

Every path runs in complex64 on complex64 inputs and is compared with a complex128 sequential
recurrence on the *same* inputs (``scipy.signal.lfilter``, a compiled loop, so the reference
costs milliseconds instead of a Python loop's seconds): the error measured is the path's own
arithmetic, not the rounding of ``lambda`` to complex64.  The tolerance is issue 16's relative
``1e-4`` (max abs error over the max modulus of the reference, per channel).

Channels are ring-initialised as in chapter 6 (``init_lru_parameters``, phases up to 6.28), with
``|lambda|`` pushed towards 1.  Measured (torch 2.13, CPU): Upper/Lower, Hillis-Steele and FFT
stay at 2e-7..5e-7 on every ring up to ``|lambda|`` < 0.99999 (they build ``lambda**k`` in float64,
deepnotes.lru's ``_powers``), and the complex64 loop at 8e-7..5e-6.  PyTorch's associative scan
(like the paper's ``jax.lax.associative_scan``) forms ``lambda**k`` as running products in
complex64, so its error grows like ``eps / (1 - |lambda|)``: 2.4e-6 on the chapter's ring
(0.9, 0.999), 2e-5 on (0.99, 0.9999) and 1.8e-4 on (0.999, 0.99999).  It is held to 1e-4 on the
first two and its miss on the third is pinned as a known limit, not hidden.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from deepnotes import lru

L = 65536
N = 6  # a handful of channels
TOL = 1e-4  # issue 16: float32 relative error at L = 65536
FAST = ("upper-lower", "hillis-steele", "fft")


def ring_lambda(r_min: float, r_max: float, seed: int) -> torch.Tensor:
    """Chapter 6's ring initialisation, ``N`` channels, rounded to complex64."""
    p = lru.init_lru_parameters(N, 1, r_min, r_max, 6.28, rng=seed)
    return torch.from_numpy(lru.lambda_from_params(p["nu_log"], p["theta_log"])).to(torch.complex64)


def reference(lam: torch.Tensor, bu: torch.Tensor) -> np.ndarray:
    """``x_t = lam x_{t-1} + bu_t`` in complex128, sequentially, per channel (``lfilter``)."""
    lam64 = lam.numpy().astype(np.complex128)
    b64 = bu.numpy().astype(np.complex128)
    out = np.empty_like(b64)
    for n in range(lam64.shape[0]):
        out[..., n] = lfilter([1.0], [1.0, -lam64[n]], b64[..., n], axis=-1)
    return out


def rel_error(x: torch.Tensor, ref: np.ndarray) -> float:
    """Worst channel's max abs error over that channel's max modulus."""
    err = np.abs(x.numpy().astype(np.complex128) - ref).max(axis=-2)
    return float((err / np.abs(ref).max(axis=-2)).max())


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, L, N, dtype=torch.complex64, generator=g)


def test_reference_is_the_recurrence():
    """lfilter is the float64 loop (checked against scan_loop in complex128, short length)."""
    lam = ring_lambda(0.9, 0.999, 1)
    bu = torch.randn(2, 3000, N, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    loop = lru.scan_loop(lam.to(torch.complex128), bu.to(torch.complex128)).numpy()
    ref = reference(lam, bu)
    assert np.abs(loop - ref).max() / np.abs(ref).max() < 1e-12


# |lambda| rings, each towards 1: the chapter's own, then ten and a hundred times closer
RINGS = [(0.9, 0.999), (0.99, 0.9999), (0.999, 0.99999)]


@pytest.mark.parametrize("ring", RINGS, ids=[f"r<{r[1]}" for r in RINGS])
def test_fast_paths_float32_at_65536(inputs, ring):
    lam = ring_lambda(*ring, seed=4)
    assert lam.abs().max() > ring[1] - 0.5 * (ring[1] - ring[0])  # some channel near r_max
    ref = reference(lam, inputs)
    assert np.isfinite(ref).all()
    for method in FAST:
        x = lru.scan(lam, inputs, method)
        assert x.dtype == torch.complex64 and torch.isfinite(x).all(), method
        assert rel_error(x, ref) <= TOL, (method, rel_error(x, ref))


def test_loop_float32_at_65536(inputs):
    lam = ring_lambda(0.99, 0.9999, seed=4)
    err = rel_error(lru.scan_loop(lam, inputs), reference(lam, inputs))
    assert err <= TOL, err


@pytest.mark.skipif(not lru.torch_scan_available(), reason="torch has no associative_scan")
def test_torch_scan_float32_at_65536(inputs):
    """Met on the chapter's ring and at 0.9999; at 0.99999 its complex64 products of lambda fail.

    The last assertion pins the known limit (error grows like eps / (1 - |lambda|)): if a torch
    release computes the products more accurately, it fails and the docstring needs updating."""
    errors = {}
    for ring in RINGS:
        lam = ring_lambda(*ring, seed=4)
        errors[ring] = rel_error(lru.scan_torch(lam, inputs), reference(lam, inputs))
    assert errors[RINGS[0]] <= TOL and errors[RINGS[1]] <= TOL, errors
    assert errors[RINGS[0]] < errors[RINGS[1]] < errors[RINGS[2]], errors
    assert errors[RINGS[2]] > TOL, errors
