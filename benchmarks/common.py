"""What every benchmark shares: interleaved timing, medians with their spread, targets, JSON.

The machine is shared and noisy, so a benchmark never times one contender after another.
:func:`interleave` runs every contender once per round, in a rotated order, for ``repeats``
rounds, and reports each one's median and its min-max spread; a ratio is taken between
medians of the same run.  Peak memory is measured in a fresh subprocess
(:func:`peak_rss_child`), where ``ru_maxrss`` belongs to one call alone.

Results go to ``benchmarks/results/<name>-<device>.json`` with the machine, the versions and
the date (:func:`save`); the book's Performance appendix renders those files and never runs a
benchmark itself.  A script states each target with :func:`target` and prints it with the
measured figure, met or not: targets are read from the output, never asserted in tests.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def machine(device: str = "cpu") -> dict:
    """The machine, versions and date a result was measured with."""
    import numpy as np
    import torch

    info = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": device,
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def summary(times: list[float]) -> dict:
    """Median and min-max spread of ``times`` (seconds)."""
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "n": len(times),
    }


def interleave(
    contenders: dict[str, Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    sync: Callable[[], None] | None = None,
) -> dict[str, dict]:
    """Time each contender ``repeats`` times, one of each per round, rotating the order.

    ``warmup`` untimed rounds come first.  ``sync`` (``torch.cuda.synchronize`` on a GPU)
    is called before each clock read.  Returns ``{name: summary(times)}`` with wall seconds.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    sync = sync or (lambda: None)
    for r in range(warmup + repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            sync()
            start = time.perf_counter()
            contenders[name]()
            sync()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return {n: summary(t) for n, t in times.items()}


def peak_rss_child(code: str, *args: str, env: dict | None = None, timeout: float = 900) -> dict:
    """Run ``code`` (a Python program) in a fresh interpreter and return the JSON object it
    prints on its last line, with ``peak_rss_mib`` (that process's peak resident memory,
    ``VmHWM`` where ``/proc`` has it, else ``ru_maxrss``) added."""
    wrapper = (
        "import json, resource, runpy, sys\n"
        "ns = {'__name__': '__main__'}\n"
        f"exec(compile({code!r}, '<benchmark>', 'exec'), ns)\n"
        "def _hwm():\n"
        "    # VmHWM is this process's own high-water mark; ru_maxrss starts from the parent's\n"
        "    # resident size at the fork, so it over-reports small children\n"
        "    try:\n"
        "        for line in open('/proc/self/status'):\n"
        "            if line.startswith('VmHWM:'):\n"
        "                return int(line.split()[1]) / 1024\n"
        "    except OSError:\n"
        "        pass\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'peak_rss_mib': _hwm()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-2]) if len(lines) >= 2 else {}
    result.update(json.loads(lines[-1]))
    return result


def target(name: str, measured: float, threshold: float, better: str, unit: str = "") -> dict:
    """A target and the figure measured for it; ``better`` is ``"higher"`` (measured must be
    >= threshold) or ``"lower"`` (<=)."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    met = measured >= threshold if better == "higher" else measured <= threshold
    return {
        "target": name,
        "measured": measured,
        "threshold": threshold,
        "better": better,
        "unit": unit,
        "met": bool(met),
    }


def print_targets(targets: list[dict]) -> None:
    for t in targets:
        sign = ">=" if t["better"] == "higher" else "<="
        mark = "met" if t["met"] else "MISSED"
        print(
            f"  [{mark:>6}] {t['target']}: {t['measured']:.4g}{t['unit']} "
            f"(target {sign} {t['threshold']:.4g}{t['unit']})"
        )


def print_table(rows: list[dict], columns: list[str], floatfmt: str = ".4g") -> None:
    """A plain fixed-width table of ``rows`` (dicts) in ``columns`` order."""
    cells = [[_fmt(r.get(c), floatfmt) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def _fmt(value, floatfmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, floatfmt)
    return str(value)


def save(
    name: str,
    rows: list[dict],
    targets: list[dict],
    params: dict,
    device: str = "cpu",
    notes: str = "",
) -> Path:
    """Write ``benchmarks/results/<name>-<device>.json`` and return its path.

    ``rows`` are the measurements (one dict per contender and size), ``targets`` come from
    :func:`target`, ``params`` are the settings of the run, ``notes`` one paragraph for the
    Performance appendix (what is measured, and anything a reader should know)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{device}.json"
    payload = {
        "benchmark": name,
        "machine": machine(device),
        "params": params,
        "notes": notes,
        "targets": targets,
        "rows": rows,
    }
    path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"saved {path.relative_to(ROOT)}")
    return path
