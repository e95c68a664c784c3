"""The book's derivations in SymPy, one module per chapter.

Functions return SymPy objects (and, where a figure needs numbers, their
``lambdify``'d forms).  This package imports SymPy and NumPy only, never
torch, so the closed forms can be checked and plotted without a deep-learning
stack.
"""

import importlib as _importlib

#: One module per chapter; each lists its own public names in its ``__all__``.
__all__ = [
    "amos",
    "characteristics",
    "deepnet",
    "keynorm",
    "lru",
    "ode",
    "residual",
    "toolbox",
    "vq",
]


def __getattr__(name: str):
    if name in __all__:  # loaded on first use, so one chapter's import stays light
        return _importlib.import_module(f"deepnotes.theory.{name}")
    raise AttributeError(f"module 'deepnotes.theory' has no attribute {name!r}")
