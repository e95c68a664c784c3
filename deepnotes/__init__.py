"""deepnotes: the helper package of the deepnotes book.

Two layers:

* :mod:`deepnotes.theory` -- the SymPy derivations (imports no torch);
* numerical modules by topic (blocks, optimizers, measurements, figures).

Importing any module prints, downloads and writes nothing.  The names below
are loaded on first use, so ``import deepnotes.theory`` does not pull in torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DEFAULT_THREADS": "deepnotes.core",
    "claim": "deepnotes.claims",
    "get_device": "deepnotes.core",
    "seed_all": "deepnotes.core",
    "set_threads": "deepnotes.core",
    "SlopeFit": "deepnotes.measure",
    "loglog_slope": "deepnotes.measure",
    "glue": "deepnotes.notebook",
    "in_book_build": "deepnotes.notebook",
    "in_colab": "deepnotes.notebook",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


#: Submodules reachable as attributes without an explicit import (``dn.claims.chapter(...)``).
_SUBMODULES = ("claims", "plotting", "viz")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"deepnotes.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepnotes' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
