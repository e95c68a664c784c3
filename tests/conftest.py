"""Shared fixtures: the repository root and the built book."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the whole book once per session (every notebook executed, warnings are errors).

    ``DEEPNOTES_BOOK_HTML=<dir>`` uses that built HTML folder instead, e.g. one
    chapter's ``make page`` build (``_build/page-00-toolbox/_build/html``), so
    the browser test can run on one chapter; ``DEEPNOTES_PREBUILT=1`` reuses an
    existing ``_build/html``.  The default rebuilds, so the test sees the
    current tree.
    """
    given = os.environ.get("DEEPNOTES_BOOK_HTML")
    if given:
        html = Path(given)
        if not html.is_absolute():
            html = ROOT / html
        if not (html / "index.html").is_file() or not (html / "_static").is_dir():
            pytest.fail(
                f"DEEPNOTES_BOOK_HTML={given!r} is not a built HTML folder (no index.html and "
                "_static/ in it); build one with `make page NB=chapters/NN-name.ipynb`"
            )
        return html.resolve()
    html = ROOT / "_build" / "html"
    if os.environ.get("DEEPNOTES_PREBUILT") == "1" and (html / "index.html").exists():
        return html
    cmd = [
        str(BIN / "jupyter-book"),
        "build",
        str(ROOT),
        "--all",  # rebuild and re-execute every page: a change in deepnotes must reach the pages
        "--builder",
        "html",
        "-n",
        "-W",
        "--keep-going",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    log = ROOT / "_build" / "book-build.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        pytest.fail(
            f"jupyter-book build failed (exit {proc.returncode}); log: {log}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return html
