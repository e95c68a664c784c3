"""Adapters to other people's implementations that the book checks its code against.

This is the only subpackage that may import a package outside ``pyproject.toml``'s
dependencies.  Each adapter module imports its package lazily, inside a function,
and fails with an ``ImportError`` naming the missing package and how to install it:

* :mod:`deepnotes.reference.torchscale`: microsoft/torchscale (DeepNorm, Chapter 1).
* :mod:`deepnotes.reference.jestimator`: google-research/jestimator (Amos, Chapter 3).

Importing this package imports none of them.
"""

__all__: list[str] = []  # the adapters are modules: import deepnotes.reference.<name>
