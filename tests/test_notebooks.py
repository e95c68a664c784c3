"""Notebook hygiene: what every chapter must look like before nbval runs it.

nbval itself runs through pytest's collection of ``chapters/*.ipynb`` (see
``testpaths`` and ``addopts`` in pyproject.toml); ``conftest.py`` at the root
checks that every notebook was actually collected.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from deepnotes.book import toc_problems

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _python(source: str) -> ast.Module:
    """Parse a cell, blanking IPython magics (``%pip``) so ``ast`` can read the rest."""
    lines = [
        line[: len(line) - len(line.lstrip())] + "pass"
        if line.lstrip().startswith(("%", "!"))
        else line
        for line in source.splitlines()
    ]
    return ast.parse("\n".join(lines))


def test_there_are_notebooks():
    assert NOTEBOOKS, "chapters/ holds no notebook"


def test_toc_lists_exactly_the_notebooks():
    assert toc_problems(ROOT) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_stripped(path):
    nb = _read(path)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} hold outputs or execution counts; run `make strip`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_in_colab(path):
    first = _code(_read(path))[0].source
    assert 'if "google.colab" in sys.modules' in first, (
        f"{path.name}: the first code cell must guard the install"
    )
    match = re.search(r'%pip install[^\n]*"deepnotes @ git\+([^"]+)"', first)
    assert match, f"{path.name}: the first code cell must %pip install deepnotes from git"
    assert match.group(1) == REPO_URL, (
        f"{path.name}: installs from {match.group(1)}, _config.yml says {REPO_URL}"
    )
    assert "seed_all" in first, f"{path.name}: the first code cell must seed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell(path):
    cells = [c for c in _code(_read(path)) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: exactly one code cell must be tagged 'parameters'"
    names = {
        t.id
        for node in ast.walk(_python(cells[0].source))
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert "SCALE" in names, f"{path.name}: the parameters cell must define SCALE"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_at_least_three_assertion_cells(path):
    asserting = [
        c
        for c in _code(_read(path))
        if any(isinstance(n, ast.Assert) for n in ast.walk(_python(c.source)))
    ]
    assert len(asserting) >= 3, f"{path.name}: {len(asserting)} assertion cells, need at least 3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernel_and_citations(path):
    nb = _read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.name}: kernelspec must be python3"
    )
    bib = (ROOT / "chapters" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    cited = {
        k.strip()
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text)
        for k in group.split(",")
    }
    assert cited <= keys, f"{path.name}: cites unknown keys {sorted(cited - keys)}"
