"""Small helpers for notebooks: where are we running, and gluing numbers into prose."""

from __future__ import annotations

import os
import re
import sys

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def in_book_build() -> bool:
    """True while the static book is being built (the Makefile sets ``DEEPNOTES_BUILD=1``)."""
    return os.environ.get("DEEPNOTES_BUILD", "") == "1"


def glue(name: str, value, fmt: str | None = None):
    """Record ``value`` under ``name`` for the prose (``{glue:text}`name```).

    Delegates to ``myst_nb.glue`` with ``display=False``; ``fmt`` formats the
    value to text first (e.g. ``".2f"``), so the prose shows exactly the
    computed number.  Outside a myst-nb environment (plain Colab) the value is
    simply returned.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"name must be letters, digits, '_' or '-' (starting with a letter), got {name!r}"
        )
    shown = format(value, fmt) if fmt is not None else value
    try:
        from myst_nb import glue as _glue
    except ImportError:  # Colab without the book toolchain: nothing to record into
        return shown
    _glue(name, shown, display=False)
    return shown
