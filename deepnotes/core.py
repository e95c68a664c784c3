"""Reproducibility and hardware settings shared by every chapter.

Nothing here runs at import time: a chapter calls :func:`seed_all` and
:func:`set_threads` explicitly in its first code cell.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["DEFAULT_THREADS", "seed_all", "get_device", "set_threads"]

#: Intra-op threads used by default on a CPU.  Measured by
#: ``benchmarks/threads.py`` on the 2-core CI machine: the small matmuls of the
#: book's experiments (d = 64, batch 32) are overhead-bound, and 1 thread is
#: faster than 2, several times so when the other core is busy (nbval and the
#: book build run kernels side by side).
DEFAULT_THREADS = 1


def seed_all(seed: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and CUDA) with ``seed``.

    Returns a fresh ``torch.Generator`` seeded the same way, for code that
    wants its own stream.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The device experiments run on.

    ``prefer`` may be ``None`` (CUDA when available, else CPU), ``"cpu"``,
    ``"cuda"`` or ``"mps"``.  Asking for a device that is not available is an
    error, not a silent fallback.  The environment variable ``DEEPNOTES_DEVICE``
    overrides ``None``.
    """
    choice = prefer if prefer is not None else os.environ.get("DEEPNOTES_DEVICE")
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice not in ("cpu", "cuda", "mps"):
        raise ValueError(f"prefer must be None, 'cpu', 'cuda' or 'mps', got {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("prefer='cuda' but torch.cuda.is_available() is False")
    if choice == "mps" and not torch.backends.mps.is_available():
        raise ValueError("prefer='mps' but torch.backends.mps.is_available() is False")
    return torch.device(choice)


def set_threads(n: int | None = None) -> int:
    """Set PyTorch's intra-op CPU threads and return the number in force.

    ``n=None`` takes ``DEEPNOTES_THREADS`` from the environment, else
    :data:`DEFAULT_THREADS`.  Capped at ``os.cpu_count()`` only by raising: a
    request for more threads than cores is an error.
    """
    if n is None:
        env = os.environ.get("DEEPNOTES_THREADS")
        n = int(env) if env else DEFAULT_THREADS
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    cores = os.cpu_count() or 1
    if n > cores:
        raise ValueError(f"n={n} threads exceeds the {cores} CPU cores of this machine")
    torch.set_num_threads(int(n))
    return torch.get_num_threads()
