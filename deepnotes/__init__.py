"""deepnotes: the helper package of the deepnotes book.

Two layers:

* :mod:`deepnotes.theory` -- the SymPy derivations (imports no torch);
* numerical modules by topic (blocks, optimizers, measurements, figures).

Importing any module prints, downloads and writes nothing.
"""

from deepnotes.core import DEFAULT_THREADS, get_device, seed_all, set_threads
from deepnotes.measure import SlopeFit, loglog_slope
from deepnotes.notebook import glue, in_book_build, in_colab

__all__ = [
    "DEFAULT_THREADS",
    "SlopeFit",
    "get_device",
    "glue",
    "in_book_build",
    "in_colab",
    "loglog_slope",
    "seed_all",
    "set_threads",
]

__version__ = "0.1.0"
