"""Chapter 6: the Linear Recurrent Unit (Su, 2023-03-28; Orvieto et al., 2023).

The diagonal complex recurrence

.. math::  x_t = \\lambda \\odot x_{t-1} + b_t,\\qquad x_{-1} = 0,
           \\qquad\\Longrightarrow\\qquad x_t = \\sum_{k\\le t} \\lambda^{t-k} b_k,

computed five ways (chapter 6, "Parallelising the scan"):

* :func:`scan_loop` -- the serial loop, ``L`` sequential steps;
* :func:`scan_upper_lower` -- Su's divide and conquer ("Upper/Lower"): pad to
  a power of two, and at level ``l = 2, 4, ...`` add
  ``lambda**(1..l/2) * x[l/2 - 1]`` to the second half of every block of ``l``;
  ``log2 L`` steps, ``(L/2) log2 L`` multiply-adds;
* :func:`scan_hillis_steele` -- ``x[s:] += lambda**s * x[:-s]`` for
  ``s = 1, 2, 4, ...``; ``log2 L`` steps, about ``L log2 L`` multiply-adds;
* :func:`scan_fft` -- the convolution form ``x = K * b`` with ``K_m = lambda**m``
  (``lambda`` does not depend on time), by FFT;
* :func:`scan_torch` -- PyTorch's private ``associative_scan`` with the
  paper's operator ``(a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)``.

:func:`scan_naive_cumsum` is the rejected shortcut
``x_t = lambda**t cumsum(lambda**-k b_k)``, kept to show how it overflows.

Powers ``lambda**k`` are built as ``exp(k log lambda)`` in complex128 and cast
to the working dtype: in complex64, ``k theta`` reaches ``1e5`` rad for long
sequences and would lose the phase.

:class:`LRU` is the paper's layer (its appendix, verbatim in parametrisation):
``lambda = exp(-exp(nu_log) + i exp(theta_log))``, ``B_norm = (B_re + i B_im)
* exp(gamma_log)`` (γ scales the rows of ``B``), ``x_k = lambda x_{k-1} + B_norm
u_k``, ``y_k = Re(C x_k) + D * u_k``.  :func:`init_lru_parameters` draws the
appendix's initialisation with a NumPy generator in the appendix's order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from deepnotes.checks import integral, positive_int, real
from deepnotes.core import get_device

__all__ = [
    "LRU",
    "METHODS",
    "check_ring",
    "init_lru_parameters",
    "lambda_from_params",
    "scan",
    "scan_fft",
    "scan_hillis_steele",
    "scan_loop",
    "scan_naive_cumsum",
    "scan_torch",
    "scan_upper_lower",
    "time_scans",
    "torch_scan_available",
]

#: The scan paths :func:`scan` and :class:`LRU` accept.
METHODS = ("loop", "upper-lower", "hillis-steele", "fft", "torch")

#: The appendix's default maximal phase (it writes 6.28, not 2 pi).
MAX_PHASE = 6.28


# --------------------------------------------------------------------------- checks


def _check_scan_args(lam, bu) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(lam, torch.Tensor) or not lam.is_complex():
        raise ValueError(
            f"lam must be a complex tensor (complex64 or complex128), got "
            f"{getattr(lam, 'dtype', type(lam).__name__)}"
        )
    if lam.ndim != 1:
        raise ValueError(
            f"lam must be 1-D (one eigenvalue per channel), got shape {tuple(lam.shape)}"
        )
    if not isinstance(bu, torch.Tensor) or not bu.is_complex():
        raise ValueError(
            f"bu must be a complex tensor (complex64 or complex128), got "
            f"{getattr(bu, 'dtype', type(bu).__name__)}"
        )
    if bu.ndim < 2:
        raise ValueError(
            f"bu must have shape (..., L, N) with time second to last, got {tuple(bu.shape)}"
        )
    if bu.shape[-1] != lam.shape[0]:
        raise ValueError(
            f"bu has {bu.shape[-1]} channels in its last dimension, lam has {lam.shape[0]} eigenvalues"
        )
    if bu.shape[-2] < 1:
        raise ValueError("bu must hold at least one time step")
    for name, v in (("lam", lam), ("bu", bu)):
        if not _all_finite(v):
            raise ValueError(f"{name} must be finite, got a tensor with NaN or infinity")
    return lam.to(bu.dtype), bu


def _all_finite(v: torch.Tensor) -> bool:
    """No NaN or infinity in ``v`` (real or complex): from the two ends of ``aminmax`` (NaN
    reaches both, an infinity is one), about ten times cheaper than a boolean copy."""
    r = torch.view_as_real(v.detach().resolve_conj()) if v.is_complex() else v.detach()
    return bool(torch.isfinite(torch.stack(torch.aminmax(r))).all()) if r.numel() else True


def check_ring(
    r_min: float, r_max: float, max_phase: float = MAX_PHASE
) -> tuple[float, float, float]:
    """Validate ring-initialisation bounds: ``0 <= r_min < r_max <= 1`` and ``max_phase > 0``.

    The bounds may touch 0 and 1 (the appendix's defaults are ``r_min=0, r_max=1``); the
    draws are clamped so no eigenvalue has modulus exactly 0 or 1.  Chapter 6, "From the disk
    to a ring".
    """
    lo, hi, phase = (
        real(n, v) for n, v in (("r_min", r_min), ("r_max", r_max), ("max_phase", max_phase))
    )
    if not 0.0 <= lo < 1.0:
        raise ValueError(f"r_min must lie in [0, 1), got {r_min!r}")
    if not 0.0 < hi <= 1.0:
        raise ValueError(f"r_max must lie in (0, 1], got {r_max!r}")
    if lo >= hi:
        raise ValueError(
            f"r_min must be smaller than r_max, got r_min={r_min!r} >= r_max={r_max!r}"
        )
    if phase <= 0:
        raise ValueError(f"max_phase must be positive, got {max_phase!r}")
    return lo, hi, phase


# --------------------------------------------------------------------------- powers


def _log_lambda(lam: torch.Tensor) -> torch.Tensor:
    """``log lambda`` in complex128 (differentiable)."""
    return torch.log(lam.to(torch.complex128))


def _powers(lam: torch.Tensor, ks: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``lambda**k`` for each ``k`` in ``ks`` (shape ``(len(ks), N)``), built in complex128."""
    log_lam = _log_lambda(lam)
    k = ks.to(torch.float64)[:, None]
    mag = torch.exp(k * log_lam.real)  # real exp and cos/sin: faster than complex exp
    angle = k * log_lam.imag
    return torch.complex(mag * torch.cos(angle), mag * torch.sin(angle)).to(dtype)


# --------------------------------------------------------------------------- scans


def scan_loop(lam: torch.Tensor, bu: torch.Tensor) -> torch.Tensor:
    """Serial loop ``x_t = lam * x_{t-1} + bu_t`` over the time axis (second to last) of ``bu``.

    ``lam`` is complex of shape ``(N,)``, ``bu`` complex of shape ``(..., L, N)``; returns all
    states, shape of ``bu``.  ``L`` sequential steps.  Chapter 6, "Parallelising the scan".
    """
    lam, bu = _check_scan_args(lam, bu)
    x = torch.zeros_like(bu[..., 0, :])
    states = []
    for t in range(bu.shape[-2]):
        x = lam * x + bu[..., t, :]
        states.append(x)
    return torch.stack(states, dim=-2)


def scan_upper_lower(lam: torch.Tensor, bu: torch.Tensor) -> torch.Tensor:
    """Su's divide-and-conquer scan ("Upper/Lower"), bottom-up as in his Keras code.

    Pad ``L`` to ``P = 2**ceil(log2 L)``; for ``l = 2, 4, ..., P`` view the sequence as blocks
    of ``l`` and add ``lam**(1..l/2) * x[l/2 - 1]`` (the last state of each block's first
    half) to the block's second half:
    :math:`x_T = \\lambda^{T-t} x_t + \\sum_{k=t+1}^{T}\\lambda^{T-k} b_k`.
    ``log2 P`` steps.  Chapter 6, "Parallelising the scan".
    """
    lam, bu = _check_scan_args(lam, bu)
    length, n = bu.shape[-2], bu.shape[-1]
    batch = bu.shape[:-2]
    size = 1 << max(0, (length - 1).bit_length())
    x = torch.zeros(*batch, size, n, dtype=bu.dtype, device=bu.device)
    x[..., :length, :] = bu
    block = 2
    while block <= size:
        half = block // 2
        blocks = x.view(*batch, size // block, block, n)
        ks = torch.arange(1, half + 1, device=bu.device)
        pw = _powers(lam, ks, bu.dtype)  # (half, N)
        # x2 += lambda^(1..l/2) * x1[-1], in place on each block's second half
        last = blocks[..., half - 1 : half, :].clone()  # saved for backward: copy
        blocks[..., half:, :] += pw * last
        block *= 2
    return x[..., :length, :]


def scan_hillis_steele(lam: torch.Tensor, bu: torch.Tensor) -> torch.Tensor:
    """Hillis-Steele scan: ``x[s:] = lam**s * x[:-s] + x[s:]`` for ``s = 1, 2, 4, ... < L``.

    ``log2 L`` steps and about ``L log2 L`` multiply-adds.  Chapter 6, "Parallelising the scan".
    """
    lam, bu = _check_scan_args(lam, bu)
    length = bu.shape[-2]
    x = bu
    shift = 1
    while shift < length:
        pw = _powers(lam, torch.tensor([shift], device=bu.device), bu.dtype)[0]
        x = torch.cat([x[..., :shift, :], pw * x[..., :-shift, :] + x[..., shift:, :]], dim=-2)
        shift *= 2
    return x


def scan_fft(lam: torch.Tensor, bu: torch.Tensor) -> torch.Tensor:
    """Convolution form: ``x_t = sum_k K_{t-k} bu_k`` with kernel ``K_m = lam**m``, by FFT.

    Valid because ``lam`` does not change with time.  ``O(L log L)`` work in two FFTs and an
    elementwise product, zero-padded to ``2L`` so the circular convolution is the causal one.
    Chapter 6, "Parallelising the scan".
    """
    lam, bu = _check_scan_args(lam, bu)
    length = bu.shape[-2]
    n_fft = 1 << (2 * length - 1).bit_length()
    kernel = _powers(lam, torch.arange(length, device=bu.device), bu.dtype)  # (L, N)
    # FFT along a contiguous last axis (time moved last): much faster than a strided one
    fk = torch.fft.fft(kernel.T.contiguous(), n=n_fft, dim=-1)  # (N, n_fft)
    fb = torch.fft.fft(bu.transpose(-1, -2).contiguous(), n=n_fft, dim=-1)
    x = torch.fft.ifft(fk * fb, dim=-1)[..., :length]
    return x.transpose(-1, -2)


def torch_scan_available() -> bool:
    """True when ``torch._higher_order_ops.associative_scan`` can be imported (a private API)."""
    try:
        from torch._higher_order_ops.associative_scan import associative_scan  # noqa: F401
    except ImportError:
        return False
    return True


def _binary_operator_diag(element_i, element_j):
    """The appendix's ``binary_operator_diag``: ``(a_i, b_i) o (a_j, b_j) = (a_j a_i, a_j b_i + b_j)``."""
    a_i, bu_i = element_i
    a_j, bu_j = element_j
    return a_j * a_i, a_j * bu_i + bu_j


def scan_torch(lam: torch.Tensor, bu: torch.Tensor, combine_mode: str = "generic") -> torch.Tensor:
    """PyTorch's ``associative_scan`` with the appendix's operator ``(a1 a2, a2 b1 + b2)``.

    A private API (``torch._higher_order_ops``); ``combine_mode="pointwise"`` needs CUDA.
    Raises ``RuntimeError`` when the API is missing from this torch build.
    Chapter 6, "Conformance".
    """
    lam, bu = _check_scan_args(lam, bu)
    if combine_mode not in ("generic", "pointwise"):
        raise ValueError(f"combine_mode must be 'generic' or 'pointwise', got {combine_mode!r}")
    if combine_mode == "pointwise" and bu.device.type != "cuda":
        raise ValueError(f"combine_mode='pointwise' needs CUDA tensors, got bu on {bu.device}")
    try:
        from torch._higher_order_ops.associative_scan import associative_scan
    except ImportError as err:  # pragma: no cover - depends on the torch build
        raise RuntimeError(f"torch {torch.__version__} has no associative_scan: {err}") from err
    a = lam.expand(bu.shape).contiguous()
    _, states = associative_scan(
        _binary_operator_diag, (a, bu), dim=bu.ndim - 2, combine_mode=combine_mode
    )
    return states


def scan_naive_cumsum(lam: torch.Tensor, bu: torch.Tensor) -> torch.Tensor:
    """The rejected shortcut ``x_t = lam**t * cumsum_k(lam**-k bu_k)``, in ``bu``'s own dtype.

    Exact in exact arithmetic; in floating point ``|lam|**-k`` grows without bound and the
    cumulative sum overflows to ``inf`` once ``sum_k |lam|**-k`` exceeds the dtype's maximum.
    Kept only to measure that failure.  Chapter 6, "The naive parallel form overflows".
    """
    lam, bu = _check_scan_args(lam, bu)
    real = torch.empty((), dtype=bu.dtype).real.dtype
    ks = torch.arange(bu.shape[-2], device=bu.device).to(real)[:, None]
    log_lam = torch.log(lam)
    up = torch.exp(ks * log_lam)
    down = torch.exp(-ks * log_lam)
    return up * torch.cumsum(down * bu, dim=-2)


_SCANS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "loop": scan_loop,
    "upper-lower": scan_upper_lower,
    "hillis-steele": scan_hillis_steele,
    "fft": scan_fft,
    "torch": scan_torch,
}


def scan(lam: torch.Tensor, bu: torch.Tensor, method: str = "upper-lower") -> torch.Tensor:
    """All states of ``x_t = lam * x_{t-1} + bu_t`` by the path ``method`` (one of :data:`METHODS`).

    Chapter 6, "Parallelising the scan".
    """
    if method not in _SCANS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return _SCANS[method](lam, bu)


# --------------------------------------------------------------------------- the layer


def init_lru_parameters(
    N: int,
    H: int,
    r_min: float = 0.0,
    r_max: float = 1.0,
    max_phase: float = MAX_PHASE,
    rng: np.random.Generator | int | None = None,
) -> dict[str, np.ndarray]:
    """The paper appendix's ``init_lru_parameters``, drawn from ``rng`` in the appendix's order.

    ``u1, u2 ~ U[0, 1)`` (clamped to ``[1e-6, 1 - 1e-7]`` so no log is infinite);
    ``nu_log = log(-log(u1 (r_max**2 - r_min**2) + r_min**2) / 2)`` (so ``|lambda|**2`` is
    uniform on ``[r_min**2, r_max**2]``), ``theta_log = log(max_phase u2)``;
    ``B_re, B_im ~ N(0, 1/(2H))`` of shape ``(N, H)``, ``C_re, C_im ~ N(0, 1/N)`` of shape
    ``(H, N)``, ``D ~ N(0, 1)`` of shape ``(H,)``; ``gamma_log = log sqrt(1 - |lambda|**2)``.
    ``N`` is the state size, ``H`` the model size.  Chapter 6, "From the disk to a ring".
    """
    N = positive_int("N", N)
    H = positive_int("H", H)
    r_min, r_max, max_phase = check_ring(r_min, r_max, max_phase)
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        if rng is not None and rng < 0:
            raise ValueError(
                f"rng must be a numpy Generator, an int seed >= 0 or None, got {rng!r}"
            )
        rng = np.random.default_rng(rng)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")
    u1 = np.clip(rng.uniform(size=(N,)), 1e-6, 1 - 1e-7)
    u2 = np.clip(rng.uniform(size=(N,)), 1e-6, 1 - 1e-7)
    nu_log = np.log(-0.5 * np.log(u1 * (r_max**2 - r_min**2) + r_min**2))
    theta_log = np.log(max_phase * u2)
    B_re = rng.normal(size=(N, H)) / np.sqrt(2 * H)
    B_im = rng.normal(size=(N, H)) / np.sqrt(2 * H)
    C_re = rng.normal(size=(H, N)) / np.sqrt(N)
    C_im = rng.normal(size=(H, N)) / np.sqrt(N)
    D = rng.normal(size=(H,))
    diag_lambda = np.exp(-np.exp(nu_log) + 1j * np.exp(theta_log))
    gamma_log = np.log(np.sqrt(1 - np.abs(diag_lambda) ** 2))
    return {
        "nu_log": nu_log,
        "theta_log": theta_log,
        "B_re": B_re,
        "B_im": B_im,
        "C_re": C_re,
        "C_im": C_im,
        "D": D,
        "gamma_log": gamma_log,
    }


def _check_lambda_params(nu_log, theta_log) -> None:
    """Both tensors (real, finite) or both real arrays (finite), of one shape."""
    shapes = []
    for name, v in (("nu_log", nu_log), ("theta_log", theta_log)):
        if isinstance(nu_log, torch.Tensor) != isinstance(v, torch.Tensor):
            raise TypeError(f"{name} must be a tensor like nu_log, got {type(v).__name__}")
        if isinstance(v, torch.Tensor):
            if not v.is_floating_point():
                raise TypeError(f"{name} must be a real floating tensor, got dtype {v.dtype}")
            finite = bool(torch.isfinite(v).all())
        else:
            a = np.asarray(v) if not isinstance(v, (str, bytes)) else np.asarray(None)
            if a.dtype.kind not in "iuf":
                raise TypeError(f"{name} must be a real array or tensor, got {v!r}")
            finite = bool(np.isfinite(a).all())
        if not finite:
            raise ValueError(f"{name} must be finite, got NaN or infinity")
        shapes.append(tuple(v.shape) if isinstance(v, torch.Tensor) else np.shape(v))
    if shapes[0] != shapes[1]:
        raise ValueError(
            f"nu_log and theta_log must have one shape, got {shapes[0]} and {shapes[1]}"
        )


def lambda_from_params(nu_log, theta_log):
    """``lambda = exp(-exp(nu_log) + i exp(theta_log))`` for tensors or arrays.  Chapter 6, eq. (lru-lambda)."""
    _check_lambda_params(nu_log, theta_log)
    if isinstance(nu_log, torch.Tensor):
        return torch.exp(torch.complex(-torch.exp(nu_log), torch.exp(theta_log)))
    return np.exp(-np.exp(nu_log) + 1j * np.exp(theta_log))


_PARAM_SHAPES = {
    "nu_log": ("N",),
    "theta_log": ("N",),
    "B_re": ("N", "H"),
    "B_im": ("N", "H"),
    "C_re": ("H", "N"),
    "C_im": ("H", "N"),
    "D": ("H",),
    "gamma_log": ("N",),
}


class LRU(nn.Module):
    """The paper's Linear Recurrent Unit (its appendix's ``forward``), one layer.

    .. math::  x_k = \\Lambda x_{k-1} + \\gamma\\odot(B u_k),\\qquad
               y_k = \\operatorname{Re}(C x_k) + D\\odot u_k,

    with ``Lambda = exp(-exp(nu_log) + i exp(theta_log))`` and ``gamma = exp(gamma_log)``,
    a trainable parameter initialised to ``sqrt(1 - |lambda|**2)`` (never recomputed from
    ``|lambda|``).  Input ``u`` is real, shape ``(L, H)`` or ``(batch, L, H)``; ``dtype`` is
    ``torch.float32`` (states in complex64) or ``torch.float64`` (complex128).
    ``method`` picks the scan path (:data:`METHODS`).  Chapter 6, "The LRU layer".
    """

    def __init__(
        self,
        H: int,
        N: int,
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = MAX_PHASE,
        *,
        method: str = "upper-lower",
        dtype: torch.dtype = torch.float32,
        rng: np.random.Generator | int | None = None,
        params: dict | None = None,
    ):
        super().__init__()
        self.H = positive_int("H", H)
        self.N = positive_int("N", N)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.method = method
        if params is None:
            params = init_lru_parameters(N, H, r_min, r_max, max_phase, rng)
        else:
            check_ring(r_min, r_max, max_phase)
        self._load(params, dtype)

    def _load(self, params: dict, dtype: torch.dtype) -> None:
        if not isinstance(params, dict) or set(params) != set(_PARAM_SHAPES):
            raise ValueError(f"params must be a dict with exactly the keys {sorted(_PARAM_SHAPES)}")
        sizes = {"N": self.N, "H": self.H}
        for name, dims in _PARAM_SHAPES.items():
            raw = params[name]
            raw = raw.detach().cpu().numpy() if isinstance(raw, torch.Tensor) else np.asarray(raw)
            if raw.dtype.kind not in "iuf" or not np.isfinite(raw).all():
                raise ValueError(f"params[{name!r}] must hold finite real numbers")
            value = torch.as_tensor(raw, dtype=dtype)
            shape = tuple(sizes[d] for d in dims)
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"params[{name!r}] must have shape {shape}, got {tuple(value.shape)}"
                )
            self.register_parameter(name, nn.Parameter(value.clone()))

    @property
    def lam(self) -> torch.Tensor:
        """The diagonal ``Lambda``, complex of shape ``(N,)``."""
        return lambda_from_params(self.nu_log, self.theta_log)

    @property
    def gamma(self) -> torch.Tensor:
        """The normalisation ``gamma = exp(gamma_log)``, shape ``(N,)``."""
        return torch.exp(self.gamma_log)

    def input_states(self, u: torch.Tensor) -> torch.Tensor:
        """``gamma * (B u_k)`` for every step: complex, shape ``(..., L, N)``."""
        u = self._check_input(u)
        gamma = self.gamma[:, None]
        # (B_re + i B_im) u = B_re u + i B_im u: two real products, no complex matmul
        return torch.complex(u @ (gamma * self.B_re).T, u @ (gamma * self.B_im).T)

    def _check_input(self, u) -> torch.Tensor:
        if not isinstance(u, torch.Tensor):
            raise ValueError(f"u must be a torch tensor, got {type(u).__name__}")
        if u.is_complex() or not u.is_floating_point():
            raise ValueError(f"u must be a real floating tensor, got dtype {u.dtype}")
        if u.ndim not in (2, 3):
            raise ValueError(
                f"u must have shape (L, H) or (batch, L, H), got rank {u.ndim} shape {tuple(u.shape)}"
            )
        if u.shape[-1] != self.H:
            raise ValueError(
                f"u must have H={self.H} features in its last dimension, got {u.shape[-1]}"
            )
        if u.shape[-2] < 1:
            raise ValueError("u must hold at least one time step")
        if not _all_finite(u):
            raise ValueError("u must be finite, got a tensor with NaN or infinity")
        return u.to(self.B_re.dtype)

    def forward(self, u: torch.Tensor, method: str | None = None) -> torch.Tensor:
        """``y_k = Re(C x_k) + D * u_k`` for every step; real, the shape of ``u``."""
        method = self.method if method is None else method
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        u = self._check_input(u)
        states = scan(self.lam, self.input_states(u), method)
        # Re[(C_re + i C_im)(x_re + i x_im)] = C_re x_re - C_im x_im
        return states.real @ self.C_re.T - states.imag @ self.C_im.T + self.D * u

    def step(
        self, u_t: torch.Tensor, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of inference, ``(y_t, x_t)`` from ``u_t`` (shape ``(..., H)``) and ``x_{t-1}``."""
        if not isinstance(u_t, torch.Tensor) or u_t.shape[-1:] != (self.H,):
            raise ValueError(f"u_t must be a tensor with last dimension H={self.H}")
        if u_t.is_complex() or not u_t.is_floating_point() or not _all_finite(u_t):
            raise ValueError(f"u_t must be a finite real floating tensor, got dtype {u_t.dtype}")
        if x is not None:
            if not isinstance(x, torch.Tensor) or not x.is_complex():
                raise ValueError(f"x must be None or a complex state tensor, got {x!r:.60}")
            if x.shape != (*u_t.shape[:-1], self.N) or not _all_finite(x):
                raise ValueError(
                    f"x must be finite of shape {(*u_t.shape[:-1], self.N)}, got {tuple(x.shape)}"
                )
        u_t = u_t.to(self.B_re.dtype)
        b_norm = torch.complex(self.B_re, self.B_im) * self.gamma[:, None]
        bu = u_t.to(b_norm.dtype) @ b_norm.T
        x = bu if x is None else self.lam * x + bu
        c = torch.complex(self.C_re, self.C_im)
        return (x @ c.T).real + self.D * u_t, x


# --------------------------------------------------------------------------- timing


def time_scans(
    methods,
    lengths,
    width: int,
    *,
    batch: int = 1,
    repeats: int = 3,
    dtype: torch.dtype = torch.complex64,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> list[dict]:
    """Best-of-``repeats`` wall time (s) of each scan path for each length ``L``.

    On ``device`` (default: :func:`deepnotes.get_device`, so CUDA when there is one).
    Input ``bu`` of shape ``(batch, L, width)``, ring-initialised ``lam``; one warm-up call per
    (method, L) is not timed.  Returns records ``{method, L, batch, width, seconds, steps}``
    where ``steps`` is the number of sequential stages (``L`` for the loop, ``ceil(log2 L)``
    for the scans, 1 for the FFT's three calls).  Chapter 6, "Time against length".
    """
    if isinstance(methods, str) or not hasattr(methods, "__iter__"):
        raise ValueError(f"methods must be a list drawn from {METHODS}, got {methods!r}")
    methods = list(methods)
    if not methods or any(m not in METHODS for m in methods):
        raise ValueError(f"methods must be a non-empty list drawn from {METHODS}, got {methods!r}")
    if isinstance(lengths, str) or not hasattr(lengths, "__iter__"):
        raise ValueError(f"lengths must be a list of positive integers, got {lengths!r}")
    lengths = [positive_int("lengths", n) for n in lengths]
    if not lengths:
        raise ValueError("lengths must hold at least one length")
    width = positive_int("width", width)
    batch = positive_int("batch", batch)
    repeats = positive_int("repeats", repeats)
    seed = integral("seed", seed)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    try:
        device = get_device() if device is None else torch.device(device)
    except (TypeError, RuntimeError, ValueError):
        raise ValueError(f"device must name a torch device, got {device!r}") from None
    if dtype not in (torch.complex64, torch.complex128):
        raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype!r}")
    gen = torch.Generator().manual_seed(seed)
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    r = torch.sqrt(0.81 + 0.19 * torch.rand(width, generator=gen, dtype=torch.float64))
    theta = 6.28 * torch.rand(width, generator=gen, dtype=torch.float64)
    lam = torch.polar(r, theta).to(dtype).to(device)
    is_cuda = torch.device(device).type == "cuda"
    rows = []
    for length in lengths:
        bu = torch.complex(
            torch.randn(batch, length, width, generator=gen, dtype=real),
            torch.randn(batch, length, width, generator=gen, dtype=real),
        ).to(device)
        for m in methods:
            fn = _SCANS[m]
            fn(lam, bu)
            best = math.inf
            for _ in range(repeats):
                if is_cuda:
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                fn(lam, bu)
                if is_cuda:
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
            steps = (
                length if m == "loop" else (1 if m == "fft" else max(1, (length - 1).bit_length()))
            )
            rows.append(
                {
                    "method": m,
                    "L": length,
                    "batch": batch,
                    "width": width,
                    "seconds": best,
                    "steps": steps,
                }
            )
    return rows
