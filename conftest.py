"""Guard against a suite that silently checks nothing.

On a full run (``pytest`` with no paths, as ``make test`` calls it), every
notebook in ``chapters/`` must yield nbval items (one per code cell) and every
``tests/test_*.py`` file must yield tests; otherwise the run stops with an error.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
MIN_TESTS = 150


def pytest_configure(config):
    """nbval's kernels inherit this: their claims and glued numbers go to ``_build/claims-nbval``,
    which ``tests/test_determinism.py`` compares with the book build's."""
    import os

    os.environ.setdefault("DEEPNOTES_CLAIMS_DIR", str(ROOT / "_build" / "claims-nbval"))


def pytest_collection_modifyitems(session, config, items):
    # the determinism test compares nbval's ledger with the book build's: run it after nbval
    last = [i for i in items if Path(str(i.fspath)).name == "test_determinism.py"]
    items[:] = [i for i in items if i not in last] + last
    if (
        config.args_source != pytest.Config.ArgsSource.TESTPATHS
        or config.getoption("-k")
        or config.getoption("-m")
    ):
        return
    per_file = Counter(Path(str(item.fspath)).resolve() for item in items)
    problems = []
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        if per_file[nb.resolve()] == 0:
            problems.append(f"nbval collected nothing from {nb.name}")
    for test_file in sorted((ROOT / "tests").glob("test_*.py")):
        if per_file[test_file.resolve()] == 0:
            problems.append(f"no test collected from tests/{test_file.name}")
    if len(items) < MIN_TESTS:
        problems.append(f"only {len(items)} tests collected, expected at least {MIN_TESTS}")
    if problems:
        raise pytest.UsageError("incomplete test collection:\n  " + "\n  ".join(problems))
    config.stash[_COUNT] = len(items)


_COUNT = pytest.StashKey[int]()


def pytest_report_header(config):
    return f"deepnotes: full runs must collect every notebook and at least {MIN_TESTS} tests"
