"""The Colab contract: the book's install cell leaves Colab's packages alone, and every chapter runs there.

    .venv/bin/python tests/colab/contract.py            # or: make colab-check

What it does, in a virtual environment under ``_build/colab/``:

1. Installs the packages a chapter touches at the versions Colab ships, with Colab's published
   package list (``pip-freeze-2026-08-19.txt``, from googlecolab/backend-info) as pip constraints,
   so every transitive dependency is Colab's too.  Stand-ins, because this machine cannot have the
   real thing: Python 3.11 instead of 3.13, and ``torch==2.13.0`` (the CPU wheel on this disk)
   instead of Colab's 2.11.0+cpu (which also lets setuptools float: torch 2.13 needs >= 77.0.3,
   Colab has 75.2.0); ``timm`` is a stub package providing
   ``timm.models.layers.drop_path`` (what torchscale imports), because PyPI's torchvision, which the
   real timm imports, does not load beside this torch; ``google.colab`` is a marker module imported
   at kernel start-up, as Colab does, with an empty ``google.colab.output`` (JAX's Colab debugger
   imports it whenever ``google.colab`` is loaded; without it ``import jax`` fails).  torchscale
   and jestimator are absent, as on Colab.
2. Runs the notebooks' own install command (parsed from the first cell of each chapter), pointed
   at this clone (``git+file://``, so what is committed), and fails if pip changed the version of
   anything Colab ships; it may only add ``deepnotes`` and packages Colab lacks.
3. Executes every chapter in that environment with the Colab marker active (so the install cell
   runs) and live widgets, then moves every control of every explorer through its values and
   checks that each move redraws.  Any error fails the run.

4. Runs chapter 8 once more on Python 3.13's standard library, which is Colab's and differs from
   this machine's 3.11 (3.13 removed 19 modules): its byte corpus is the stdlib's own source, so
   the corpus hash the chapter checks its shipped runs against changes, and the chapter must still
   run, say that the loaded runs come from another corpus, and pass its claims on the new bytes.
   The 3.13 sources are those of CPython 3.13.2 as Pyodide 0.28.3 ships them
   (``python_stdlib.zip`` from the npm registry, ``npm pack pyodide@0.28.3``; top-level ``*.py``,
   minus Pyodide's ``_sysconfigdata`` file), read through a patched ``sysconfig.get_paths``.

Prints the versions it found, what pip added, and one line per chapter; exits 1 on any failure.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FREEZE = HERE / "pip-freeze-2026-08-19.txt"
WORK = ROOT / "_build" / "colab"
VENV = WORK / "venv"
PY = VENV / "bin" / "python"

#: What a chapter imports, at Colab's versions (the constraints pin them and their dependencies).
PACKAGES = [
    "pip",
    "numpy",
    "sympy",
    "scipy",
    "pandas",
    "matplotlib",
    "altair",
    "tqdm",
    "ipywidgets",
    "widgetsnbextension",
    "jupyterlab_widgets",
    "ipython",
    "ipykernel",
    "jupyter_client",
    "traitlets",
    "nbclient",
    "nbformat",
    "jax",
    "jaxlib",
]
TORCH = "torch==2.13.0"  # stands in for Colab's torch 2.11.0+cpu (the wheel this machine has)

TIMM_STUB = '''"""Stand-in for timm 1.0 (Colab ships it): only what torchscale imports."""
'''
TIMM_LAYERS = '''"""timm.models.layers.drop_path, as torchscale imports it."""


def drop_path(x, drop_prob: float = 0.0, training: bool = False, scale_by_keep: bool = True):
    if drop_prob == 0.0 or not training:
        return x
    keep = 1 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep if scale_by_keep else x * mask
'''
COLAB_MARKER = (
    '"""Marker: this kernel pretends to be a Colab runtime (tests/colab/contract.py)."""\n'
)
COLAB_OUTPUT = '"""Stand-in for google.colab.output: jax._src.debugger imports it under Colab."""\n'

#: Appended to each chapter: move every explorer's controls through their values.
MOVE_WIDGETS = r"""
import gc as _gc
import ipywidgets as _w

_boxes = [o for o in _gc.get_objects()
          if isinstance(o, _w.Box) and hasattr(o, "controls") and hasattr(o, "figure")]
_report = {"explorers": len(_boxes), "moves": 0, "stuck": []}
for _box in _boxes:
    for _name, _control in _box.controls.items():
        _values = list(getattr(_control, "_options_values", None) or [])
        if not _values and hasattr(_control, "max"):
            _values = list(range(_control.min, _control.max + 1, max(1, (_control.max - _control.min) // 6)))
        _start = _control.value
        for _v in _values[:: max(1, len(_values) // 6)] + [_start]:
            if _v == _control.value:
                continue
            _before = len(_box.figure.redraw_seconds)
            _control.value = _v
            _report["moves"] += 1
            if len(_box.figure.redraw_seconds) != _before + 1:
                _report["stuck"].append(f"{_name}={_v!r}")
print("COLAB-WIDGETS " + __import__("json").dumps(_report))
"""


def run(cmd, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, **kw)


def constraints() -> Path:
    """Colab's freeze as constraints, less what cannot apply here (URL wheels, torch and friends)."""
    keep = []
    for line in FREEZE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or " @ " in line:
            continue
        if re.match(r"^(torch|torchvision|torchaudio|torchcodec|torchao)\b", line, re.I):
            continue
        if line.lower().startswith(
            "setuptools=="
        ):  # torch 2.13.0 needs >= 77.0.3; Colab's 75.2 serves 2.11
            continue
        keep.append(line)
    path = WORK / "constraints.txt"
    path.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return path


def freeze() -> dict[str, str]:
    out = subprocess.run(
        [PY, "-m", "pip", "list", "--format=json"], check=True, text=True, capture_output=True
    ).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


def site_packages() -> Path:
    out = subprocess.run(
        [PY, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        text=True,
        capture_output=True,
    ).stdout.strip()
    return Path(out)


def build_env() -> None:
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", VENV])
    cons = constraints()
    run([PY, "-m", "pip", "install", "-q", "-c", cons, "pip"])
    run([PY, "-m", "pip", "install", "-q", "-c", cons, TORCH, *PACKAGES])
    site = site_packages()
    (site / "timm" / "models").mkdir(parents=True)
    (site / "timm" / "__init__.py").write_text(TIMM_STUB, encoding="utf-8")
    (site / "timm" / "models" / "__init__.py").write_text("", encoding="utf-8")
    (site / "timm" / "models" / "layers.py").write_text(TIMM_LAYERS, encoding="utf-8")
    (site / "google" / "colab").mkdir(parents=True, exist_ok=True)
    (site / "google" / "colab" / "__init__.py").write_text(COLAB_MARKER, encoding="utf-8")
    (site / "google" / "colab" / "output.py").write_text(COLAB_OUTPUT, encoding="utf-8")


def install_command(notebook: Path) -> list[str]:
    """The first cell's ``%pip install ...`` line, as a pip command pointed at this clone."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    line = next(x for x in "".join(first["source"]).splitlines() if "%pip install" in x)
    args = shlex.split(line.strip().removeprefix("%pip install"))
    args = [re.sub(r"git\+https://\S+", f"git+file://{ROOT}", a) for a in args]
    return [str(PY), "-m", "pip", "install", *args]


def check_install(notebooks: list[Path]) -> list[str]:
    commands = {tuple(install_command(nb)) for nb in notebooks}
    if len(commands) != 1:
        return [f"the chapters' install cells differ: {sorted(commands)}"]
    before = freeze()
    run(list(commands.pop()))
    after = freeze()
    changed = {k: (before[k], after[k]) for k in before if k in after and before[k] != after[k]}
    removed = sorted(set(before) - set(after))
    added = {k: after[k] for k in sorted(set(after) - set(before))}
    print("pip added:", added or "nothing")
    problems = [f"pip changed {k} {a} -> {b}, which Colab ships" for k, (a, b) in changed.items()]
    problems += [f"pip removed {k}" for k in removed]
    problems += [
        f"pip added {k}=={v} (Colab lacks it? check)" for k, v in added.items() if k != "deepnotes"
    ]
    for name in ("numpy", "ipywidgets", "matplotlib", "altair", "sympy", "pandas", "torch"):
        print(f"  {name}: {after.get(name)}")
    return problems


def execute(notebook: Path, stdlib: Path | None = None) -> tuple[bool, str]:
    """Run one chapter as Colab would (marker imported at start-up, live figures) and move its widgets.

    ``stdlib``: a folder of standard-library sources that ``sysconfig.get_paths()["stdlib"]``
    reports instead of this Python's (where the chapters' stdlib corpus is read from)."""
    import nbformat  # from the book's own venv, only to edit the copy

    nb = nbformat.read(notebook, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.source = re.sub(r"git\+https://[^\"]+", f"git+file://{ROOT}", first.source)
    nb.cells.append(nbformat.v4.new_code_cell(MOVE_WIDGETS))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        startup = tmp / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-colab.py").write_text(
            "import google.colab  # noqa: F401\n", encoding="utf-8"
        )
        if stdlib is not None:
            (startup / "01-stdlib.py").write_text(
                "import sysconfig\n_paths = sysconfig.get_paths\n"
                "sysconfig.get_paths = lambda *a, **k: "
                f"{{**_paths(*a, **k), 'stdlib': {str(stdlib)!r}}}\n",
                encoding="utf-8",
            )
        src = tmp / notebook.name
        nbformat.write(nb, src)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPNOTES_")}
        env.update(
            IPYTHONDIR=str(tmp / "ipython"), MPLBACKEND="module://matplotlib_inline.backend_inline"
        )
        code = (
            "import sys, nbformat; from nbclient import NotebookClient\n"
            "nb = nbformat.read(sys.argv[1], as_version=4)\n"
            "NotebookClient(nb, timeout=900, kernel_name='python3',"
            " resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
            "nbformat.write(nb, sys.argv[1])\n"
        )
        start = time.perf_counter()
        proc = subprocess.run(
            [PY, "-c", code, str(src), str(ROOT / "chapters")],
            env=env,
            text=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            return False, f"{notebook.name}: failed after {seconds:.0f} s\n{proc.stderr[-3000:]}"
        done = nbformat.read(src, as_version=4)
    texts = [
        o.get("text", "")
        for c in done.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    errors = [
        o
        for c in done.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    report = next(
        (json.loads(t.split("COLAB-WIDGETS ", 1)[1]) for t in texts if "COLAB-WIDGETS" in t), None
    )
    notes = [
        line
        for t in texts
        for line in t.splitlines()
        if "not run" in line or (stdlib is not None and "same corpus" in line)
    ]
    if errors or report is None:
        return False, f"{notebook.name}: errors in outputs {errors[:1]}"
    ok = not report["stuck"] and (report["explorers"] == 0 or report["moves"] > 0)
    line = (
        f"{notebook.name}: {seconds:.0f} s, {report['explorers']} live explorers, "
        f"{report['moves']} control moves, stuck: {report['stuck'] or 'none'}"
    )
    for n in notes:
        line += f"\n    says: {n.strip()}"
    return ok, line


PYODIDE = "pyodide@0.28.3"  # ships CPython 3.13.2's standard library as python_stdlib.zip


def stdlib_313() -> Path:
    """CPython 3.13's top-level standard-library sources, from Pyodide's npm package (cached)."""
    import zipfile

    lib = WORK / "stdlib-3.13"
    if lib.is_dir() and any(lib.glob("*.py")):
        return lib
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is needed to fetch Python 3.13's stdlib (Debian: apt-get install npm)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        run([npm, "pack", PYODIDE, "--silent"], cwd=tmp)
        tgz = next(Path(tmp).glob("pyodide-*.tgz"))
        run(["tar", "xzf", tgz.name, "package/python_stdlib.zip"], cwd=tmp)
        zf = zipfile.ZipFile(Path(tmp) / "package" / "python_stdlib.zip")
        lib.mkdir(parents=True, exist_ok=True)
        for name in zf.namelist():
            if "/" not in name and name.endswith(".py") and not name.startswith("_sysconfigdata"):
                (lib / name).write_bytes(zf.read(name))
    return lib


def _has_deepnotes() -> bool:
    return "deepnotes" in freeze()


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=ROOT / "chapters",
        help="the chapters to run (make colab-check passes the reader-ready copies)",
    )
    parser.add_argument(
        "--reuse-env",
        action="store_true",
        help="keep an existing _build/colab/venv (local iteration)",
    )
    args = parser.parse_args()
    notebooks = sorted(args.notebooks.glob("*.ipynb"))
    if not notebooks:
        print(f"error: no notebooks in {args.notebooks}", file=sys.stderr)
        return 1
    if not (args.reuse_env and PY.exists()):
        build_env()
    problems = check_install(notebooks) if not (args.reuse_env and _has_deepnotes()) else []
    results = []
    for nb in notebooks:
        ok, line = execute(nb)
        results.append((ok, line))
        print(("ok   " if ok else "FAIL ") + line, flush=True)
        if not ok:
            problems.append(line)
    keynorm = [nb for nb in notebooks if nb.name.startswith("08-")]
    if keynorm:
        ok, line = execute(keynorm[0], stdlib=stdlib_313())
        ok = ok and "same corpus: False" in line
        line = f"{line} [Python 3.13 stdlib corpus]"
        results.append((ok, line))
        print(("ok   " if ok else "FAIL ") + line, flush=True)
        if not ok:
            problems.append(line)
    for p in problems:
        print("error:", p, file=sys.stderr)
    failed = sum(not ok for ok, _ in results) + (len(problems) - sum(not ok for ok, _ in results))
    print(f"colab-check: {len(results) - sum(not ok for ok, _ in results)} passed, {failed} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
