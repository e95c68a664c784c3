"""The book itself (issue 16, item 1): wall time and peak memory of executing each chapter.

Each chapter notebook (``chapters/NN-*.ipynb``, in ``_toc.yml`` order) is executed with
nbclient in a fresh kernel, inside a fresh child process pinned to ``--cores`` CPUs (2 by
default, the machine the book is written for).  The child records

* ``wall_s``: seconds from starting the kernel to the last cell's reply;
* ``peak_tree_mib``: the largest sum of resident memory (RSS) over the kernel and every
  process under it (chapter 1 forks 2 workers), sampled every 0.1 s; RSS counts a page shared
  by a forked worker once per process, so this is an upper bound on what the chapter holds;
* ``max_process_mib``: ``ru_maxrss`` of the largest single process among them (exact, from
  the kernel's rusage once it has been reaped);
* the slowest cell and its seconds (nbclient's timing metadata).

Rounds interleave the chapters (each round runs every chapter once, in a rotated order), so a
change in the machine's load touches every chapter alike; each chapter reports its median and
min-max spread over ``--repeats`` rounds.  Kernels run as in the book build
(``DEEPNOTES_BUILD=1``: static figures; ``--interactive`` leaves it unset, as nbval does),
with ``DEEPNOTES_CLAIMS_DIR`` pointed at a temporary folder so ``_build/claims`` is not
touched.  Targets: every chapter <= 60 s, none over 90 s in any round, the chapters together
<= 8 minutes, peak memory <= 4 GiB per chapter.

    .venv/bin/python benchmarks/book.py --repeats 3     # the full median of 3: about 18 minutes
    .venv/bin/python benchmarks/book.py                 # one round (make bench): about 6 minutes
    .venv/bin/python benchmarks/book.py --chapters 00-toolbox --repeats 1

:func:`run_notebook` is also the chapter runner of ``benchmarks/gpu_check.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

ROOT = common.ROOT
CHAPTER_SECONDS, CHAPTER_MAX_SECONDS = 60.0, 90.0
BOOK_SECONDS = 8 * 60.0
PEAK_MIB = 4 * 1024.0


def toc_chapters(root: Path = ROOT) -> list[str]:
    """The chapter notebooks' stems (``00-toolbox``, ...) in ``_toc.yml`` order."""
    sys.path.insert(0, str(root))
    from deepnotes.book import toc_files

    return [
        Path(f).name
        for f in toc_files(root)
        if f.startswith("chapters/") and (root / f"{f}.ipynb").is_file()
    ]


def set_scale(nb, scale: int) -> None:
    """Replace ``SCALE = 1`` in the cell tagged ``parameters`` by ``SCALE = <scale>``."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected one cell tagged 'parameters', found {len(cells)}")
    lines = cells[0].source.splitlines()
    hits = [i for i, line in enumerate(lines) if line.split("#")[0].strip() == "SCALE = 1"]
    if len(hits) != 1:
        raise ValueError("the parameters cell has no line 'SCALE = 1' to replace")
    lines[hits[0]] = f"SCALE = {int(scale)}"
    cells[0].source = "\n".join(lines)


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    for p in proc.children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:  # the process ended between listing and reading
            pass
    return total


def _child(path: Path, scale: int | None, timeout: float) -> dict:
    """Execute one notebook here (in the child process) and return its figures."""
    import resource

    import nbformat
    import psutil
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    if scale is not None:
        set_scale(nb, scale)
    me, peak, stop = psutil.Process(), [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(me))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    client = NotebookClient(
        nb,
        timeout=int(timeout),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=True,
    )
    error = None
    sampler.start()
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:500] if str(exc).strip() else repr(exc)
    except Exception as exc:  # a dead kernel or a timeout: reported, not raised
        error = f"{type(exc).__name__}: {exc}"[:500]
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    slowest, slowest_s = None, 0.0
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        a, b = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if a and b:
            from datetime import datetime

            s = (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()
            if s > slowest_s:
                slowest, slowest_s = i, s
    return {
        "wall_s": wall,
        "peak_tree_mib": peak[0] / 2**20,
        "max_process_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "slowest_cell": slowest,
        "slowest_cell_s": slowest_s,
        "error": error,
    }


def run_notebook(
    path: Path,
    *,
    scale: int | None = None,
    env: dict | None = None,
    cores: int | None = 2,
    timeout: float = 900,
    build_mode: bool = True,
) -> dict:
    """Execute ``path`` in a fresh child process and kernel; return its figures and claims.

    ``scale`` replaces ``SCALE = 1`` in the parameters cell; ``env`` is added to the kernel's
    environment; ``cores`` pins the child (and so the kernel and its workers) to that many
    CPUs when the machine has more (``None``: all).  The returned dict has ``wall_s``,
    ``peak_tree_mib``, ``max_process_mib``, ``slowest_cell(_s)``, ``error`` (``None`` when
    every cell ran, else the error's last line: a failed claim raises), ``passed`` and
    ``claims`` (how many the chapter's ledger recorded) and ``ledger`` (those records: id,
    statement, measured, expected, tolerance, margin, ...).
    """
    path = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="deepnotes-bench-claims-") as claims:
        child_env = {**os.environ, **(env or {}), "DEEPNOTES_CLAIMS_DIR": claims}
        if build_mode:
            child_env["DEEPNOTES_BUILD"] = "1"
        else:
            child_env.pop("DEEPNOTES_BUILD", None)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path)]
        cmd += ["--timeout", str(timeout)] + (["--scale", str(scale)] if scale else [])
        if cores is not None:
            cmd += ["--cores", str(cores)]
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=child_env, timeout=timeout * 4 + 600
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not lines:
            raise RuntimeError(
                f"the runner for {path.name} failed ({out.returncode}):\n{out.stderr[-3000:]}"
            )
        result = json.loads(lines[-1])
        ledger = Path(claims) / f"{path.stem}.json"
        rows = json.loads(ledger.read_text())["claims"] if ledger.is_file() else []
    result["claims"] = len(rows)
    result["ledger"] = rows
    result["passed"] = result["error"] is None
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="rounds (median, spread)")
    parser.add_argument("--chapters", nargs="*", help="stems to run (default: every chapter)")
    parser.add_argument("--cores", type=int, default=2, help="CPUs each chapter may use")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per cell")
    parser.add_argument("--interactive", action="store_true", help="leave DEEPNOTES_BUILD unset")
    parser.add_argument("--quick", action="store_true", help="only 00-toolbox, one round")
    parser.add_argument("--device", default="cpu", choices=["cpu"], help="chapters run on CPU")
    parser.add_argument("--no-save", action="store_true", help="print only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.cores and hasattr(os, "sched_setaffinity"):
            cpus = sorted(os.sched_getaffinity(0))
            if len(cpus) > args.cores:
                os.sched_setaffinity(0, cpus[: args.cores])
        print(json.dumps(_child(Path(args.child), args.scale, args.timeout)))
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    every = toc_chapters()
    chapters = ["00-toolbox"] if args.quick else (args.chapters or every)
    unknown = [c for c in chapters if c not in every]
    if unknown:
        parser.error(f"--chapters: no such chapter {unknown}; the book has {every}")
    runs: dict[str, list[dict]] = {c: [] for c in chapters}
    for r in range(args.repeats):
        order = chapters[r % len(chapters) :] + chapters[: r % len(chapters)]
        for ch in order:
            res = run_notebook(
                ROOT / "chapters" / f"{ch}.ipynb",
                cores=args.cores,
                timeout=args.timeout,
                build_mode=not args.interactive,
            )
            runs[ch].append(res)
            status = "ok" if res["error"] is None else f"ERROR {res['error']}"
            print(
                f"  round {r + 1}/{args.repeats} {ch}: {res['wall_s']:.1f} s, "
                f"peak {res['peak_tree_mib']:.0f} MiB, {status}",
                flush=True,
            )
    rows = []
    for ch in chapters:
        times = common.summary([x["wall_s"] for x in runs[ch]])
        slow = max(runs[ch], key=lambda x: x["slowest_cell_s"])
        rows.append(
            {
                "chapter": ch,
                "wall_median_s": times["median"],
                "wall_min_s": times["min"],
                "wall_max_s": times["max"],
                "n": times["n"],
                "peak_tree_mib": max(x["peak_tree_mib"] for x in runs[ch]),
                "max_process_mib": max(x["max_process_mib"] for x in runs[ch]),
                "slowest_cell": slow["slowest_cell"],
                "slowest_cell_s": slow["slowest_cell_s"],
                "claims": runs[ch][-1]["claims"],
                "errors": sum(x["error"] is not None for x in runs[ch]),
            }
        )
    total = sum(r["wall_median_s"] for r in rows)
    rows.append(
        {
            "chapter": "all",
            "wall_median_s": total,
            "wall_min_s": sum(r["wall_min_s"] for r in rows),
            "wall_max_s": sum(r["wall_max_s"] for r in rows),
            "n": args.repeats,
            "peak_tree_mib": max(r["peak_tree_mib"] for r in rows),
            "max_process_mib": max(r["max_process_mib"] for r in rows),
            "slowest_cell": None,
            "slowest_cell_s": max(r["slowest_cell_s"] for r in rows),
            "claims": sum(r["claims"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
        }
    )
    per = rows[:-1]
    targets = [
        common.target(f"{r['chapter']} median", r["wall_median_s"], CHAPTER_SECONDS, "lower", " s")
        for r in per
    ]
    targets += [
        common.target(
            "slowest chapter, any round",
            max(r["wall_max_s"] for r in per),
            CHAPTER_MAX_SECONDS,
            "lower",
            " s",
        ),
        common.target(
            f"all {len(per)} chapters (sum of medians)"
            if len(per) == len(every)
            else f"{len(per)} of {len(every)} chapters (sum of medians)",
            total,
            BOOK_SECONDS,
            "lower",
            " s",
        ),
        common.target(
            "peak memory of a chapter (RSS, kernel tree)",
            max(r["peak_tree_mib"] for r in per),
            PEAK_MIB,
            "lower",
            " MiB",
        ),
        common.target("chapters that raised", sum(r["errors"] for r in per), 0, "lower"),
    ]
    columns = ["chapter", "wall_median_s", "wall_min_s", "wall_max_s", "n", "peak_tree_mib"]
    columns += ["max_process_mib", "slowest_cell", "slowest_cell_s", "claims", "errors"]
    print("\nbook: executing each chapter notebook (fresh kernel, DEEPNOTES_BUILD=1)")
    common.print_table(rows, columns)
    common.print_targets(targets)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    notes = (
        "Wall time and peak memory of executing each chapter notebook with nbclient in a fresh "
        f"kernel pinned to {args.cores} CPU cores, as the book build runs it "
        f"({'DEEPNOTES_BUILD unset, as nbval' if args.interactive else 'DEEPNOTES_BUILD=1'}); "
        f"median and min-max over {args.repeats} interleaved round(s). Peak memory is the "
        "largest sampled sum of RSS over the kernel and its worker processes (an upper bound: "
        "pages a forked worker shares are counted per process); max_process_mib is the largest "
        "single process's ru_maxrss. slowest_cell is the index of the chapter's slowest cell."
    )
    if args.quick or args.no_save:
        print("not saved (--quick or --no-save; benchmarks/results holds full runs only)")
    else:
        common.save(
            "book",
            rows,
            targets,
            {
                "repeats": args.repeats,
                "cores": args.cores,
                "chapters": chapters,
                "build_mode": not args.interactive,
                "load_average_end": list(load) if load else None,
            },
            notes=notes,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
