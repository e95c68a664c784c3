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

from deepnotes.book import claim_calls as _claim_calls
from deepnotes.book import claim_ids, toc_problems
from deepnotes.book import notebook_python as _python

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


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
def test_at_least_three_claim_cells(path):
    claiming = [c for c in _code(_read(path)) if _claim_calls(_python(c.source))]
    assert len(claiming) >= 3, (
        f"{path.name}: {len(claiming)} cells check a claim with claim(...), need at least 3"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_claims_are_named_once_and_written_out(path):
    """The ledger's count must match the notebook: one literal-id claim(...) call per claim."""
    first = _code(_read(path))[0].source
    assert f'dn.claims.chapter("{path.stem}")' in first, (
        f"{path.name}: the first code cell must call dn.claims.chapter({path.stem!r})"
    )
    ids = claim_ids(path)
    assert None not in ids, f"{path.name}: every claim(...) needs a literal string id"
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"{path.name}: duplicate claim ids {dupes}"
    for c in _code(_read(path)):
        for node in ast.walk(_python(c.source)):
            if isinstance(node, (ast.For, ast.While, ast.comprehension, ast.FunctionDef)):
                inner = _claim_calls(node)
                assert not inner, (
                    f"{path.name}: claim(...) inside a loop or function ({ast.unparse(inner[0])[:60]}); "
                    "write one call per claim, with an array `measured` for a family"
                )


MAX_CELL_LINES = 25
MAX_LINE = 79


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_fit_the_page(path):
    """Code cells are short and no line scrolls sideways in the text column (CONTRIBUTING 19)."""
    problems = []
    for i, c in enumerate(_read(path).cells):
        if c.cell_type != "code":
            continue
        lines = c.source.splitlines()
        if len(lines) > MAX_CELL_LINES:
            problems.append(f"cell {i}: {len(lines)} lines (max {MAX_CELL_LINES})")
        long = [n + 1 for n, line in enumerate(lines) if len(line) > MAX_LINE]
        if long:
            problems.append(f"cell {i}: lines {long} longer than {MAX_LINE} characters")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


_SOLUTION_START = re.compile(r"```\{solution-start\}\s*(\S+)")
_EXERCISE = re.compile(r"```\{exercise(?:-start)?\}[^\n]*\n(?::[^\n]*\n)*?:label:\s*(\S+)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_solutions_execute(path):
    """Each exercise has one gated solution holding a code cell (CONTRIBUTING 20)."""
    cells = _read(path).cells
    exercises, solved, problems = [], [], []
    open_label, has_code = None, False
    for i, c in enumerate(cells):
        text = c.source
        if c.cell_type == "markdown":
            exercises += _EXERCISE.findall(text)
            if re.search(r"\{dropdown\}[^\n]*[Ss]olution", text):
                problems.append(f"cell {i}: a solution in a plain dropdown; use solution-start/end")
            start = _SOLUTION_START.search(text)
            if start:
                open_label, has_code = start.group(1), False
                solved.append(open_label)
            if "{solution-end}" in text:
                if open_label is None:
                    problems.append(f"cell {i}: solution-end without solution-start")
                elif not has_code:
                    problems.append(f"solution {open_label}: no code cell computes it")
                open_label = None
        elif open_label is not None and c.source.strip():
            has_code = True
    if open_label is not None:
        problems.append(f"solution {open_label} is never closed")
    missing = [e for e in exercises if e not in solved]
    extra = [s for s in solved if s not in exercises]
    twice = sorted({s for s in solved if solved.count(s) > 1})
    problems += [f"exercise {e} has no solution" for e in missing]
    problems += [f"solution {s} answers no exercise" for s in extra]
    problems += [f"exercise {s} has more than one solution" for s in twice]
    assert exercises, f"{path.name}: no exercises (a chapter ends with exercises)"
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


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


def test_figure_and_equation_labels_are_unique_across_the_book():
    """Sphinx labels are global: two chapters naming a figure alike break the -W build."""
    seen, dupes = {}, []
    for path in NOTEBOOKS:
        nb = _read(path)
        names = [
            c.metadata.get("mystnb", {}).get("figure", {}).get("name")
            for c in nb.cells
            if c.cell_type == "code"
        ]
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        names += re.findall(r"\$\$\s*\(([\w-]+)\)", text)
        names += re.findall(r"^\(([\w-]+)\)=\s*$", text, flags=re.M)
        for name in filter(None, names):
            if name in seen and seen[name] != path.name:
                dupes.append(f"{name}: {seen[name]} and {path.name}")
            seen.setdefault(name, path.name)
    assert not dupes, "labels used by two chapters:\n  " + "\n  ".join(dupes)
