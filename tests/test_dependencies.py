"""Only ``deepnotes.reference`` may import a package that ``pyproject.toml`` does not declare.

Colab ships neither torchscale nor jestimator (nor the book toolchain); a chapter that imports
one outside the reference adapters, which import lazily and say what is missing, would crash
there.  The build-time modules (the Sphinx extension, the publisher) run only with the book's
toolchain (``requirements.txt``) and are listed here by name.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "deepnotes"

#: Modules run only by the book build, with requirements.txt installed.
BUILD_TIME = {"deepnotes/book.py", "deepnotes/publish.py"}
#: Imports that are guarded where they appear (try/except ImportError with a fallback).
GUARDED = {("deepnotes/notebook.py", "myst_nb")}


def declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}


@functools.cache
def _mapping() -> dict:
    return md.packages_distributions()


def distributions(module: str) -> set[str]:
    mapping = _mapping()
    return {d.lower().replace("_", "-") for d in mapping.get(module, [module])}


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_reference_adapters_import_undeclared_packages():
    allowed = declared()
    # what the declared packages bring with them (torch needs sympy, altair needs jsonschema, ...)
    for dep in list(allowed):
        for req in md.requires(dep) or []:
            if "extra ==" not in req:
                allowed.add(re.split(r"[<>=!~ \[;(]", req, maxsplit=1)[0].lower().replace("_", "-"))
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("deepnotes/reference/") or rel in BUILD_TIME:
            continue
        for name in sorted(imports(path)):
            if name in sys.stdlib_module_names or name == "deepnotes" or (rel, name) in GUARDED:
                continue
            if not distributions(name) & allowed:
                bad.append(
                    f"{rel} imports {name} ({sorted(distributions(name))}), not in pyproject"
                )
    assert not bad, "\n".join(bad)


def test_the_check_catches_an_undeclared_import(tmp_path):
    fake = tmp_path / "m.py"
    fake.write_text("import torchscale\nfrom jestimator import amos\n")
    assert imports(fake) == {"torchscale", "jestimator"}
    assert not distributions("torchscale") & declared()
