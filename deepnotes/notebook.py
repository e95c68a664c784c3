"""Small helpers for notebooks: where are we running, and gluing numbers into prose."""

from __future__ import annotations

import os
import re
import sys

__all__ = ["in_colab", "in_book_build", "glue"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def in_book_build() -> bool:
    """True while the static book is being built (the Makefile sets ``DEEPNOTES_BUILD=1``)."""
    return os.environ.get("DEEPNOTES_BUILD", "") == "1"


def glue(name: str, value, fmt: str | None = None, *, volatile: bool = False):
    """Record ``value`` under ``name`` for the prose (``{glue:text}`name```).

    Delegates to ``myst_nb.glue`` with ``display=False``; ``fmt`` formats the
    value to text first (e.g. ``".2f"``), so the prose shows exactly the
    computed number.  Outside a myst-nb environment (plain Colab) the value is
    simply returned.  ``volatile=True`` marks a number that legitimately
    changes from run to run (a wall-clock time); every other glued number must
    be identical when a chapter is executed twice (``tests/test_determinism.py``).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"name must be letters, digits, '_' or '-' (starting with a letter), got {name!r}"
        )
    if fmt is not None and not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format spec such as '.2f' or None, got {fmt!r}")
    try:
        shown = format(value, fmt) if fmt is not None else value
    except (TypeError, ValueError) as err:
        raise ValueError(f"fmt {fmt!r} cannot format {value!r}: {err}") from None
    _record(name, shown, volatile)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # Colab without the book toolchain: nothing to record into
        return shown
    _glue(name, shown, display=False)
    return shown


def _record(name: str, shown, volatile: bool = False) -> None:
    """During a book build, keep the glued text per chapter for the reader-ready copies.

    Written to ``$DEEPNOTES_CLAIMS_DIR/glue/<chapter>.json`` (the chapter named by
    :func:`deepnotes.claims.chapter`); :mod:`deepnotes.publish` substitutes these
    values for the ``{glue}`` roles of the notebooks it writes for Colab.
    """
    import json
    from pathlib import Path

    folder = os.environ.get("DEEPNOTES_CLAIMS_DIR")
    from .claims import _state

    chapter = _state.get("chapter")
    if not folder or chapter is None:
        return
    path = Path(folder) / "glue" / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    values = _GLUED.setdefault(chapter, {})
    values[name] = shown if isinstance(shown, str) else str(shown)
    path.write_text(json.dumps(values, indent=1, ensure_ascii=False), encoding="utf-8")
    if volatile:
        _VOLATILE.setdefault(chapter, set()).add(name)
    marks = path.with_suffix(".volatile.json")
    marks.write_text(json.dumps(sorted(_VOLATILE.get(chapter, ()))), encoding="utf-8")


_GLUED: dict[str, dict[str, str]] = {}
_VOLATILE: dict[str, set[str]] = {}
