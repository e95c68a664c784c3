"""make bench: every benchmark in one go, its tables as it runs, then every target met or missed.

Runs, each in its own process and on the CPU:

1. ``book.py --repeats 1`` (each chapter notebook once; ``book.py --repeats 3`` is the full
   median of 3),
2. ``vq_scaling.py``, 3. ``lru_scan.py``, 4. ``amos_step.py``, 5. ``ode_nfe.py``,
6. ``site.py`` on ``_build/html`` (skipped, with a line saying so, when no book is built:
   ``make book`` first),

and, when ``torch.cuda.is_available()``, items 2-4 again with ``--device cuda``.  Each script
prints its tables and saves ``benchmarks/results/<name>-<device>.json``; at the end this
prints every target those files hold, met or MISSED.  ``make test``'s breakdown
(``suite.py``) needs a JUnit report of a full run and is not run here.  A script that is
missing is skipped with a loud line; a script that exits non-zero is a crash and makes this
exit 1 (a missed target is not a crash).  Target: the whole of make bench <= 20 minutes
(about 6 of them for the chapters).

    make bench                                       # = .venv/bin/python benchmarks/run_all.py
    .venv/bin/python benchmarks/run_all.py --quick   # every script at --quick sizes: a smoke run
    .venv/bin/python benchmarks/run_all.py --only book site
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

HERE = Path(__file__).resolve().parent
BENCH_MINUTES = 20.0
#: (script, extra arguments, runs on CUDA too)
SCRIPTS = (
    ("book.py", ["--repeats", "1"], False),
    ("vq_scaling.py", [], True),
    ("lru_scan.py", [], True),
    ("amos_step.py", [], True),
    ("ode_nfe.py", [], False),
    ("site.py", [], False),
)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def plan(only: list[str] | None, cuda: bool) -> list[tuple[str, list[str], str]]:
    """``(script, arguments, device)`` in run order: every script on CPU, then the CUDA ones."""
    chosen = [s for s in SCRIPTS if not only or s[0].removesuffix(".py") in only]
    steps = [(name, args, "cpu") for name, args, _ in chosen]
    if cuda:
        steps += [(name, args, "cuda") for name, args, on_gpu in chosen if on_gpu]
    return steps


def results_since(start: float) -> list[dict]:
    """The results files written since ``start`` (epoch seconds), parsed."""
    found = []
    for path in sorted(common.RESULTS.glob("*.json")):
        if path.stat().st_mtime >= start:
            found.append({"path": path, **json.loads(path.read_text())})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--only", nargs="*", help="scripts to run, by name (book site ...)")
    parser.add_argument("--no-cuda", action="store_true", help="CPU only, even with CUDA")
    args = parser.parse_args(argv)
    names = [s[0].removesuffix(".py") for s in SCRIPTS]
    unknown = [n for n in args.only or [] if n not in names]
    if unknown:
        parser.error(f"--only: no such benchmark {unknown}; choose from {names}")
    cuda = not args.no_cuda and cuda_available()
    print(f"make bench: {'CPU and CUDA' if cuda else 'CPU only (no CUDA device)'}", flush=True)
    began, wall_start = time.time(), time.perf_counter()
    status = []
    for script, extra, device in plan(args.only, cuda):
        path = HERE / script
        label = f"{script} --device {device}"
        if not path.is_file():
            print(f"\n!!! make bench: benchmarks/{script} does not exist; SKIPPED", flush=True)
            status.append((label, "MISSING", None))
            continue
        if script == "site.py" and not (common.ROOT / "_build/html/index.html").is_file():
            print(
                "\n!!! make bench: site.py SKIPPED: no built book at _build/html; run `make book`"
                " first, then `make bench` (or `.venv/bin/python benchmarks/site.py`)",
                flush=True,
            )
            status.append((label, "SKIPPED (no book)", None))
            continue
        cmd = [sys.executable, str(path), *extra, "--device", device]
        cmd += ["--quick"] if args.quick else []
        print(f"\n=== {' '.join(['benchmarks/' + script, *cmd[2:]])}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run(cmd, cwd=common.ROOT).returncode
        seconds = time.perf_counter() - start
        status.append((label, "ok" if rc == 0 else f"CRASHED (exit {rc})", seconds))
    minutes = (time.perf_counter() - wall_start) / 60
    print("\n=== make bench: scripts")
    common.print_table(
        [{"script": s, "status": st, "seconds": sec} for s, st, sec in status],
        ["script", "status", "seconds"],
    )
    print("\n=== make bench: targets")
    for result in results_since(began):
        print(f"{result['path'].relative_to(common.ROOT)}:")
        if result["targets"]:
            common.print_targets(result["targets"])
        else:
            print("  (no targets: figures only)")
    whole = common.target("make bench", minutes, BENCH_MINUTES, "lower", " min")
    print("this run:")
    common.print_targets([whole])
    if args.quick:
        print("(--quick: smoke sizes, so the figures above are not the benchmarks' results)")
    return 1 if any(st.startswith("CRASHED") for _, st, _ in status) else 0


if __name__ == "__main__":
    raise SystemExit(main())
