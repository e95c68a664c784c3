"""LRU scan paths against torch.nn.RNN: time, peak memory and float32 error (issue 16, item 3).

Contenders, on the same input of shape ``(batch, L, state)`` (batch 16, state 128):

* the LRU scan paths of :mod:`deepnotes.lru` in complex64 -- ``loop`` (``L`` sequential steps),
  ``upper-lower`` (Su's log-depth scan), ``hillis-steele`` (log depth, twice the work), ``fft``
  (the convolution form) and ``torch`` (PyTorch's private ``associative_scan``, generic mode;
  on CUDA also ``torch-pointwise``, where it runs);
* ``rnn``: ``torch.nn.RNN`` (tanh, hidden 128 = the LRU's state, float32, batch first) on a real
  input of the same shape.

All contenders of one length are timed in the same run, interleaved (``common.interleave``:
one call of each per round, rotated order), forward only under ``torch.no_grad``; medians and
min-max spreads are printed, and each LRU path's speed-up is ``median(rnn) / median(path)``
from that run.  The LRU rows time the scan alone (the recurrence ``x_t = lambda x_{t-1} + b_t``
on given ``b``); the RNN row includes its input projection, which is one matrix product.

Peak memory: each contender runs once more in a fresh interpreter at ``--mem-length``
(``common.peak_rss_child``; the figure is the process's peak resident memory, ``VmHWM``, less
its resident memory once the inputs are built: what the call adds.  It can read low when the
call reuses memory freed after imports, which matters only at tiny sizes.  ``VmHWM`` and not
``ru_maxrss``: a child's ``ru_maxrss`` starts from its parent's resident size at the fork,
which here is gigabytes of timing inputs).  On CUDA it is ``torch.cuda.max_memory_allocated`` above the
inputs, in process.

Float32 error: at ``--err-length`` (65536) every LRU path runs in complex64 on the first
sequence of the batch (its 128 channels; sequences do not interact) and is compared with a
complex128 sequential recurrence on the same inputs (``scipy.signal.lfilter``, per channel):
the worst channel's max abs error over that channel's max modulus.  ``lambda`` is
ring-initialised as in chapter 6 (``init_lru_parameters(128, 1, 0.9, 0.999)``).

Targets (issue 16): the fastest LRU path >= 3x faster than ``nn.RNN`` at L = 16384; float32
relative error <= 1e-4 at L = 65536, for each path.

Caps on the CPU, to keep the full run under 5 minutes: Hillis-Steele is timed up to
L = 16384 (at 65536 it alone costs about 30 s a call on one core; its error is still
measured at 65536), and lengths from 16384 on get no untimed warm-up round.  ``--device cuda``
times every contender at every length.  At L = 65536 the FFT and torch paths need about
7-9 GiB of memory on top of the 1.5 GiB of inputs (measured at 4096 and scaled by 16).

    .venv/bin/python benchmarks/lru_scan.py --quick          # smoke run, about 15 s
    .venv/bin/python benchmarks/lru_scan.py                  # full CPU run, about 4 min idle
    .venv/bin/python benchmarks/lru_scan.py --device cuda    # on a GPU (replaces lru_gpu.py)

Expected full-size runtime on the 2-core CPU machine, idle, one torch thread: about 4 minutes
(estimated from single calls at L = 4096: a round of the contenders at 65536 takes about 35 s,
at 16384 about 15 s; 3 rounds each, plus six memory children and the error check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.signal import lfilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

import deepnotes as dn  # noqa: E402
from deepnotes import lru  # noqa: E402

LRU_PATHS = ("loop", "upper-lower", "hillis-steele", "fft", "torch")
TARGET_L = 16384
SPEEDUP_TARGET = 3.0
ERR_TARGET = 1e-4
RING = (0.9, 0.999)  # chapter 6's ring
CPU_CAPS = {"hillis-steele": 16384}  # longest L timed on the CPU

# Peak memory of one call, in a fresh interpreter (common.peak_rss_child runs this).
CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
import lru_scan
name, length, batch, width, threads = sys.argv[2], *map(int, sys.argv[3:7])
torch.set_num_threads(threads)
call = lru_scan.contenders(lru_scan.inputs(length, batch, width, "cpu", names=[name]))[name]
def status_mib(key):  # /proc/self/status, this process's own memory (kB there)
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith(key + ":")) / 1024
base = status_mib("VmRSS")  # resident now, inputs built
with torch.no_grad():
    call()
print(json.dumps({"base_rss_mib": base, "hwm_mib": status_mib("VmHWM")}))
"""


def ring_lambda(width: int, device: str, seed: int = 0) -> torch.Tensor:
    p = lru.init_lru_parameters(width, 1, *RING, rng=seed)
    lam = lru.lambda_from_params(p["nu_log"], p["theta_log"])
    return torch.from_numpy(lam).to(torch.complex64).to(device)


def inputs(length: int, batch: int, width: int, device: str, names=None, seed: int = 0) -> dict:
    """The shared inputs; only what ``names`` need (memory children build one contender's)."""
    names = list(names or [*LRU_PATHS, "rnn"])
    gen = torch.Generator().manual_seed(seed)
    out = {"names": names}
    if any(n != "rnn" for n in names):
        out["lam"] = ring_lambda(width, device, seed)
        out["bu"] = torch.randn(batch, length, width, dtype=torch.complex64, generator=gen).to(
            device
        )
    if "rnn" in names:
        torch.manual_seed(seed)
        out["rnn"] = torch.nn.RNN(width, width, nonlinearity="tanh", batch_first=True).to(device)
        out["u"] = torch.randn(batch, length, width, generator=gen).to(device)
    return out


def contenders(data: dict) -> dict:
    calls = {}
    for name in data["names"]:
        if name == "rnn":
            calls[name] = lambda: data["rnn"](data["u"])
        elif name == "torch-pointwise":
            calls[name] = lambda: lru.scan_torch(data["lam"], data["bu"], "pointwise")
        else:
            calls[name] = lambda fn=lru._SCANS[name]: fn(data["lam"], data["bu"])
    return calls


def float32_errors(length: int, width: int, device: str, paths) -> dict:
    """Worst-channel relative error of each complex64 path against complex128 ``lfilter``."""
    lam = ring_lambda(width, device)
    gen = torch.Generator().manual_seed(1)
    bu = torch.randn(1, length, width, dtype=torch.complex64, generator=gen)
    lam64 = lam.cpu().numpy().astype(np.complex128)
    b64 = bu.numpy().astype(np.complex128)[0]
    ref = np.empty_like(b64)
    for n in range(width):
        ref[:, n] = lfilter([1.0], [1.0, -lam64[n]], b64[:, n])
    scale = np.abs(ref).max(axis=0)
    errors = {}
    with torch.no_grad():
        for name in paths:
            mode = "pointwise" if name == "torch-pointwise" else None
            try:
                if mode:
                    x = lru.scan_torch(lam, bu.to(device), mode)
                else:
                    x = lru.scan(lam, bu.to(device), name)
            except Exception as err:  # torch-pointwise where it does not run
                errors[name] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
                continue
            x = x[0].cpu().numpy().astype(np.complex128)
            errors[name] = float((np.abs(x - ref).max(axis=0) / scale).max())
            del x
    return errors


def cuda_peak(call) -> float:
    """Peak CUDA memory of one call above what is allocated before it (the inputs), MiB."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        call()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--width", type=int, default=128, help="LRU state = RNN hidden size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--err-length", type=int, default=65536)
    parser.add_argument("--mem-length", type=int, default=TARGET_L)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default 1)")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.lengths, args.repeats = [256, 1024], 2
        args.err_length, args.mem_length = 4096, 4096
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu, or on a GPU machine")
    if args.device == "cuda" and args.mem_length not in args.lengths:
        args.mem_length = args.lengths[-1]  # measured in process, at a timed length
    threads = dn.set_threads(args.threads)
    cuda = args.device == "cuda"
    sync = torch.cuda.synchronize if cuda else None
    paths = list(LRU_PATHS) + (["torch-pointwise"] if cuda else [])
    if not lru.torch_scan_available():
        paths = [p for p in paths if not p.startswith("torch")]
    notes_extra = []

    rows = []
    for i, length in enumerate(args.lengths):
        names = [p for p in paths if cuda or length <= CPU_CAPS.get(p, length)] + ["rnn"]
        data = inputs(length, args.batch, args.width, args.device, names)
        calls = contenders(data)
        # drop what does not run (torch-pointwise): at the first length, at every one on CUDA
        for name in list(calls) if i == 0 or cuda else []:
            try:
                with torch.no_grad():
                    calls[name]()
            except Exception as err:
                msg = f"{name} (L={length}): {type(err).__name__}: {str(err).splitlines()[0]}"
                notes_extra.append(msg[:200])
                print("skipped", msg[:200])
                del calls[name]
                paths.remove(name)
        # one untimed round where it is cheap; at L >= 16384 on the CPU a call takes seconds
        # and the median of the timed rounds absorbs the first call's page faults
        warmup = 1 if length <= 4096 or cuda else 0
        with torch.no_grad():
            times = common.interleave(calls, repeats=args.repeats, warmup=warmup, sync=sync)
        rnn = times["rnn"]["median"]
        for name, t in times.items():
            rows.append(
                {
                    "kind": "time",
                    "contender": name,
                    "L": length,
                    "median_s": t["median"],
                    "min_s": t["min"],
                    "max_s": t["max"],
                    "n": t["n"],
                    "speedup_vs_rnn": rnn / t["median"],
                }
            )
        print(
            f"L={length}: "
            + ", ".join(f"{n} {1e3 * t['median']:.1f} ms" for n, t in times.items()),
            flush=True,
        )
        if cuda and length == args.mem_length:
            for name, call in calls.items():
                rows.append(
                    {"kind": "memory", "contender": name, "L": length, "peak_mib": cuda_peak(call)}
                )
        del data, calls

    if not cuda:
        for name in [p for p in paths if args.mem_length <= CPU_CAPS.get(p, args.mem_length)] + [
            "rnn"
        ]:
            if name == "torch-pointwise":
                continue
            res = common.peak_rss_child(
                CHILD,
                str(Path(__file__).resolve().parent),
                name,
                str(args.mem_length),
                str(args.batch),
                str(args.width),
                str(threads),
            )
            rows.append(
                {
                    "kind": "memory",
                    "contender": name,
                    "L": args.mem_length,
                    "peak_mib": res["hwm_mib"] - res["base_rss_mib"],
                    "process_peak_mib": res["hwm_mib"],
                }
            )

    errors = float32_errors(args.err_length, args.width, args.device, paths)
    for name, err in errors.items():
        rows.append({"kind": "error", "contender": name, "L": args.err_length, "rel_error": err})

    # ------------------------------------------------------------------ tables
    timed = [r for r in rows if r["kind"] == "time"]
    names = list(dict.fromkeys(r["contender"] for r in timed))
    print(
        f"\nmilliseconds per call (median, min-max), batch {args.batch}, state {args.width},"
        f" {args.device}, {threads} thread(s)"
    )
    table = []
    for length in args.lengths:
        row = {"L": length}
        for r in timed:
            if r["L"] == length:
                row[r["contender"]] = (
                    f"{1e3 * r['median_s']:.1f} ({1e3 * r['min_s']:.1f}-{1e3 * r['max_s']:.1f})"
                )
        table.append(row)
    common.print_table(table, ["L", *names])
    print("\nspeed-up over nn.RNN (median(rnn) / median(path), same run)")
    common.print_table(
        [
            {
                "L": length,
                **{r["contender"]: r["speedup_vs_rnn"] for r in timed if r["L"] == length},
            }
            for length in args.lengths
        ],
        ["L", *[n for n in names if n != "rnn"]],
        ".3g",
    )
    mem = [r for r in rows if r["kind"] == "memory"]
    if mem:
        print(f"\npeak memory of one call above the inputs, MiB (L = {args.mem_length})")
        common.print_table(mem, ["contender", "peak_mib"], ".1f")
    print(f"\nfloat32 relative error against a float64 sequential loop, L = {args.err_length}")
    common.print_table([r for r in rows if r["kind"] == "error"], ["contender", "rel_error"], ".2e")

    # ------------------------------------------------------------------ targets
    at = max((length for length in args.lengths if length <= TARGET_L), default=args.lengths[0])
    lru_rows = [r for r in timed if r["L"] == at and r["contender"] != "rnn"]
    best = max(lru_rows, key=lambda r: r["speedup_vs_rnn"])
    targets = [
        common.target(
            f"fastest LRU path ({best['contender']}) vs nn.RNN at L={at}",
            best["speedup_vs_rnn"],
            SPEEDUP_TARGET,
            "higher",
            "x",
        )
    ]
    for name, err in errors.items():
        if isinstance(err, float):
            targets.append(
                common.target(
                    f"float32 rel. error, {name}, L={args.err_length}", err, ERR_TARGET, "lower"
                )
            )
    print()
    common.print_targets(targets)
    notes = (
        f"LRU scan paths (complex64, state {args.width}) and torch.nn.RNN (tanh, hidden "
        f"{args.width}, float32) on inputs of shape ({args.batch}, L, {args.width}), forward only, "
        f"{threads} torch thread(s); contenders interleaved, {args.repeats} rounds, medians with "
        "min-max spread. LRU rows time the scan alone; the RNN row includes its input projection. "
        "Hillis-Steele is timed up to L=16384 on the CPU. Memory: peak resident set of one call "
        "above the inputs, in a fresh process (CUDA: max_memory_allocated). Float32 error: each "
        "path in complex64 on one sequence of 128 ring-initialised channels (r in [0.9, 0.999]) "
        "against a complex128 lfilter recurrence on the same inputs, worst channel."
    )
    if notes_extra:
        notes += " Did not run: " + "; ".join(notes_extra)
    if args.quick or args.no_save:
        print("not saved (--quick or --no-save; benchmarks/results holds full runs only)")
        return
    common.save(
        "lru_scan",
        rows,
        targets,
        vars(args) | {"threads": threads, "ring": RING},
        device=args.device,
        notes=notes,
    )


if __name__ == "__main__":
    main()
