"""make gpu-check (issue 17): every chapter at a GPU scale on CUDA, with times and the checked figures.

On a machine with CUDA it

1. runs the GPU items of ``make bench`` (``vq_scaling.py``, ``lru_scan.py``, ``amos_step.py``
   with ``--device cuda``; each saves its own ``benchmarks/results/<name>-cuda.json``);
2. executes every chapter notebook (``_toc.yml`` order) in a fresh kernel with its parameters
   cell's ``SCALE = 1`` replaced by ``SCALE = --scale`` (default 2: larger depths, longer
   training, longer sequences, more seeds, as each chapter's parameters cell defines them)
   and ``DEEPNOTES_DEVICE=cuda`` in the kernel's environment, and reports per chapter its wall
   time, peak memory, whether every cell ran (a failed claim stops the chapter) and its claims
   ledger: every checked figure (measured, expected, tolerance, margin) is printed, and the
   chapter's row gives the count and the claim closest to failing;
3. saves ``benchmarks/results/gpu_check-cuda.json``.

What the chapters do on CUDA, honestly: ``DEEPNOTES_DEVICE`` is read only by
:func:`deepnotes.get_device`, and no chapter calls it today; the one library function that
defaults to it is :func:`deepnotes.lru.time_scans` (chapter 6's timing table, which therefore
times the scans on the GPU).  Every other tensor of every chapter stays on the CPU, so this
check mostly exercises the chapters' larger SCALE on the GPU machine's CPU cores (one torch
thread each, as ``dn.set_threads`` sets), and the GPU figures proper are those of step 1.

Without CUDA it prints one line ("no CUDA device: ...") and exits with status 2.  A dry run
of the chapter runner works anywhere: ``--device cpu --scale 1 --chapters 00-toolbox
--no-benchmarks`` (nothing is saved for ``--device cpu``).  Runtime on the GPU machine: not
measured yet (no GPU was at hand when this was written); step 1 is a few minutes, and step 2
should take about SCALE times the chapters' 2-core minutes, since their work stays on the
CPU (so perhaps 15 minutes at SCALE 2); ``--chapters`` splits it into shorter runs.

    make gpu-check                                     # = .venv/bin/python benchmarks/gpu_check.py
    .venv/bin/python benchmarks/gpu_check.py --scale 4 --chapters 06-lru 07-transformer-vq
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book as book_bench  # noqa: E402  (benchmarks/book.py: the chapter runner)
import common  # noqa: E402  (benchmarks/common.py)

HERE = Path(__file__).resolve().parent
GPU_BENCHMARKS = ("vq_scaling.py", "lru_scan.py", "amos_step.py")


def cuda_problem() -> str | None:
    """Why CUDA cannot be used here, or None when it can."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in requirements.txt
        return f"torch does not import ({exc})"
    if not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA (a CPU-only build)"
        return f"torch.cuda.is_available() is False (torch {torch.__version__}, built for {built})"
    return None


def run_benchmarks(device: str, quick: bool) -> list[dict]:
    """Step 1: each GPU benchmark script, its output streamed; one row per script."""
    rows = []
    for script in GPU_BENCHMARKS:
        path = HERE / script
        if not path.is_file():
            print(f"\n!!! gpu-check: benchmarks/{script} does not exist; SKIPPED", flush=True)
            rows.append({"benchmark": script, "rc": None, "seconds": None, "status": "missing"})
            continue
        cmd = [sys.executable, str(path), "--device", device] + (["--quick"] if quick else [])
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run(cmd, cwd=common.ROOT).returncode
        rows.append(
            {
                "benchmark": script,
                "rc": rc,
                "seconds": time.perf_counter() - start,
                "status": "ok" if rc == 0 else "crashed",
            }
        )
    return rows


def chapter_rows(chapters: list[str], scale: int, device: str, timeout: float) -> list[dict]:
    """Step 2: every chapter at ``scale`` with ``DEEPNOTES_DEVICE=device``."""
    rows = []
    for ch in chapters:
        path = common.ROOT / "chapters" / f"{ch}.ipynb"
        try:
            book_bench.set_scale(nbformat.read(path, as_version=4), scale)
        except ValueError as exc:
            print(f"  {ch}: cannot set SCALE ({exc})", flush=True)
            rows.append({"chapter": ch, "scale": scale, "passed": False, "error": str(exc)})
            continue
        res = book_bench.run_notebook(
            path, scale=scale, env={"DEEPNOTES_DEVICE": device}, cores=None, timeout=timeout
        )
        ledger = res["ledger"]
        print(
            f"\n  {ch} at SCALE={scale}: {res['wall_s']:.1f} s, {len(ledger)} claims, "
            + ("every cell ran" if res["passed"] else f"FAILED: {res['error']}"),
            flush=True,
        )
        for c in ledger:
            margin = "exact" if c["margin"] is None else f"{100 * c['margin']:.0f}%"
            print(
                f"    {c['id']}: measured {c['measured']}, expected {c['expected']}, "
                f"tolerance {c['tolerance']}, margin {margin}"
            )
        close = min(
            (c for c in ledger if c["margin"] is not None), key=lambda c: c["margin"], default=None
        )
        rows.append(
            {
                "chapter": ch,
                "scale": scale,
                "wall_s": res["wall_s"],
                "peak_tree_mib": res["peak_tree_mib"],
                "claims": len(ledger),
                "passed": res["passed"],
                "closest_claim": close["id"] if close else None,
                "closest_margin": close["margin"] if close else None,
                "error": res["error"],
                "figures": [
                    {k: c.get(k) for k in ("id", "measured", "expected", "tolerance", "margin")}
                    for c in ledger
                ],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--scale", type=int, default=2, help="SCALE of every chapter")
    parser.add_argument("--chapters", nargs="*", help="stems to run (default: every chapter)")
    parser.add_argument("--no-benchmarks", action="store_true", help="skip step 1")
    parser.add_argument("--no-chapters", action="store_true", help="skip step 2")
    parser.add_argument("--quick", action="store_true", help="benchmarks at --quick sizes")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per cell")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be a positive integer")
    if args.device == "cuda" and (problem := cuda_problem()):
        print(f"no CUDA device: {problem}; make gpu-check needs an NVIDIA GPU", file=sys.stderr)
        return 2
    every = book_bench.toc_chapters()
    chapters = args.chapters or every
    unknown = [c for c in chapters if c not in every]
    if unknown:
        parser.error(f"--chapters: no such chapter {unknown}; the book has {every}")
    bench = [] if args.no_benchmarks else run_benchmarks(args.device, args.quick)
    rows = [] if args.no_chapters else chapter_rows(chapters, args.scale, args.device, args.timeout)
    shown = [{k: v for k, v in r.items() if k != "figures"} for r in rows]
    print(f"\ngpu-check: chapters at SCALE={args.scale}, DEEPNOTES_DEVICE={args.device}")
    if shown:
        cols = ["chapter", "scale", "wall_s", "peak_tree_mib", "claims", "passed"]
        common.print_table(shown, cols + ["closest_claim", "closest_margin"])
    if bench:
        common.print_table(bench, ["benchmark", "status", "rc", "seconds"])
    targets = []
    if rows:
        targets.append(
            common.target("chapters that failed", sum(not r["passed"] for r in rows), 0, "lower")
        )
    if bench:
        crashed = sum(b["status"] == "crashed" for b in bench)
        targets.append(common.target("benchmark scripts that crashed", crashed, 0, "lower"))
    common.print_targets(targets)
    if args.device != "cuda":
        print("dry run on cpu: nothing saved")
    elif not args.no_save:
        notes = (
            f"Every chapter executed at SCALE={args.scale} with DEEPNOTES_DEVICE=cuda on the GPU "
            "machine, with its claims checked as it ran. No chapter calls get_device today, "
            "so apart from chapter 6's scan timings (lru.time_scans defaults to the GPU) the "
            "chapters' tensors stay on the CPU: this checks the larger SCALE, and the GPU "
            "figures proper are the -cuda benchmarks. Each row gives the chapter's wall time, "
            "its claims and the claim closest to failing (margin: the share of its allowance "
            "left); the JSON keeps every checked figure."
        )
        params = {"scale": args.scale, "chapters": chapters, "benchmarks": bench}
        common.save("gpu_check", rows, targets, params, device="cuda", notes=notes)
    failed = any(not r["passed"] for r in rows) or any(b["status"] == "crashed" for b in bench)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
