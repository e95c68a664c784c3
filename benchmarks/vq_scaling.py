"""Transformer-VQ attention (chapter 7) against dense, SDPA and flex attention: time and peak memory.

Causal, one head of width ``d = 64``, ``c = 512`` codes, blocks of ``l = 512``, float32,
``T = 1024 .. 32768`` (issue 16, item 2).  Every contender computes the same function,
causal softmax attention over the quantised keys ``k_hat`` (the output column ``max|diff|``
checks it against SDPA):

* ``dense``: ``deepnotes.attention.attention_reference``, the ``T x T`` matrix written out
  (runs up to ``--dense-max``: 16384 on CPU by default, about 3.5 GiB there; 32768 would
  need about 14 GiB);
* ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)`` on
  ``(1, 1, T, d)`` tensors, which takes PyTorch's CPU flash kernel (linear memory, masked
  tiles skipped; a 3-D ``(1, T, d)`` input falls back to the quadratic math kernel);
* ``flex``: ``torch.compile(flex_attention)`` with a causal ``create_block_mask`` (inductor
  generates a C++ kernel on CPU, so it needs a C++ compiler; the first call per length
  compiles, untimed; a failure is recorded in the row, not dropped);
* ``vq``: ``deepnotes.vq.vq_attention``, the block recurrence, given ``z`` and ``k_hat``;
* ``vq+quantize``: the same plus ``vq.quantize`` of the raw keys (timed only).

Time: :func:`common.interleave`, one call of each contender per round in rotated order,
median and min-max of ``--repeats`` rounds (``--repeats - 2`` at T > 16384) after one
warm-up round, one thread.  Memory: each (contender, T) in a fresh interpreter
(:func:`common.peak_rss_child`): ``call_mib`` is the call's own high-water mark above the
RSS it started from (Linux's VmHWM, reset through ``/proc/self/clear_refs`` just before the
call, after the inputs and flex's compilation), ``process_peak_mib`` the process's peak
over setup and call (Linux's VmHWM, which starts afresh at exec; that helper's
``peak_rss_mib``, ``ru_maxrss``, starts from the parent's resident size and is not kept);
the log-log slope of ``call_mib`` against ``T`` over ``T >= 4096`` is the memory growth.
On CUDA, memory is ``torch.cuda.max_memory_allocated`` above the allocation before the
call, in the timing process.

FLOP count (multiply-adds count 2), from what the code computes.  SDPA's causal flash
kernel: ``2 * T (T + 1) / 2 * (d_k + d_v)`` (the scores and the weighted sum over the
visible half).  ``deepnotes.vq.vq_attention`` per block of ``l`` queries: scores against
the present block, the previous block and the ``c`` codes (``l (2 l + c) d_k``), the same
weights times values and per-code means (``l (2 l + c) d_v``), and the one-hot per-code
value sums of the block (``c l d_v``), so in all ``2 T [(2 l + c)(d_k + d_v) + c d_v]``.
The ratio ``(T + 1)(d_k + d_v) / (2 [(2 l + c)(d_k + d_v) + c d_v])`` is 4.57 at
T = 16384 for these settings (the present block's masked half is computed, not skipped);
the table reports the measured speedup over SDPA divided by it.

Targets: speedup over SDPA at T = 16384 >= 5; VQ's memory slope <= 1.15 (linear).

Expected runtime of the full run on 2 idle cores: about 4-5 minutes (most of it SDPA,
flex and the dense form at 16k-32k, and 24 fresh interpreters for the memory);
``--quick`` (T = 1024, 2048): well under a minute.

    .venv/bin/python benchmarks/vq_scaling.py            # full, CPU
    .venv/bin/python benchmarks/vq_scaling.py --quick    # smoke run
    .venv/bin/python benchmarks/vq_scaling.py --device cuda
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

NAME = "vq_attention"
TIMED = ("dense", "sdpa", "flex", "vq", "vq+quantize")
MEMORY = ("dense", "sdpa", "flex", "vq")
TARGET_T = 16384

# The contenders, shared by the timing process and the memory children (exec'd there).
SETUP = r'''
import math
import torch
import torch.nn.functional as F


def make_inputs(n, d, c, device):
    from deepnotes import vq

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, n, d, generator=g) for _ in range(3))
    codebook = torch.randn(c, d, generator=g)
    q, k, v, codebook = (t.to(device) for t in (q, k, v, codebook))
    z, k_hat, _ = vq.quantize(k, codebook)
    return q, k, v, codebook, z, k_hat.contiguous()


def make_call(method, n, d, c, block, device):
    """(call, prepare_seconds): a no-argument function computing the method's output."""
    import time

    from deepnotes import vq
    from deepnotes.attention import attention_reference

    q, k, v, codebook, z, k_hat = make_inputs(n, d, c, device)
    scale = 1.0 / math.sqrt(d)
    prepare = 0.0
    if method == "dense":
        call = lambda: attention_reference(q, k_hat, v, scale=scale)  # noqa: E731
    elif method == "sdpa":
        call = lambda: F.scaled_dot_product_attention(  # noqa: E731
            q, k_hat, v, is_causal=True, scale=scale
        )
    elif method == "flex":
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        mask = create_block_mask(
            lambda b, h, qi, ki: qi >= ki, None, None, n, n, device=device
        )
        flex = torch.compile(flex_attention, dynamic=False)
        call = lambda: flex(q, k_hat, v, block_mask=mask, scale=scale)  # noqa: E731
        start = time.perf_counter()
        with torch.no_grad():
            call()  # compiles for this length
        prepare = time.perf_counter() - start
    elif method == "vq":
        call = lambda: vq.vq_attention(q * scale, k_hat, z, v, codebook, block)  # noqa: E731
    elif method == "vq+quantize":
        def call():
            z2, k2, _ = vq.quantize(k, codebook)
            return vq.vq_attention(q * scale, k2, z2, v, codebook, block)
    else:
        raise ValueError(f"unknown method {method!r}")
    return call, prepare
'''

CHILD = r"""
import json, sys, traceback
method, n, d, c, block = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(1)


def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB -> MiB


try:
    call, prepare = make_call(method, n, d, c, block, "cpu")
    with torch.no_grad():
        setup_peak = status("VmHWM")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # VmHWM := VmRSS
            hwm = True
        except OSError:
            hwm = False
        before = status("VmRSS")
        call()
        call_peak = status("VmHWM")
    print(json.dumps({
        "call_mib": call_peak - before if hwm else None,
        "process_peak_mib": max(setup_peak, call_peak),
        "prepare_s": prepare,
    }))
except Exception as err:  # recorded in the row, not a crash of the benchmark
    print(json.dumps({"error": f"{type(err).__name__}: {str(err)[:300]}",
                      "trace": traceback.format_exc()[-1500:]}))
"""

_SETUP_NS: dict = {}
exec(SETUP, _SETUP_NS)  # the same make_call as the memory children
make_call = _SETUP_NS["make_call"]


def flop_counts(n: int, d: int, c: int, block: int) -> dict:
    """FLOPs (multiply-adds count 2) of each form, as written in the module docstring."""
    dk = dv = d
    return {
        "dense": 2.0 * n * n * (dk + dv),
        "sdpa": 2.0 * n * (n + 1) / 2 * (dk + dv),
        "vq": 2.0 * n * ((2 * block + c) * (dk + dv) + c * dv),
        "quantize": 2.0 * n * c * dk,
    }


def slope(ns: list[int], values: list[float | None], n_min: int = 4096) -> float | None:
    """Least-squares slope of log(value) on log(n) over n >= n_min (None with < 2 points)."""
    pts = [(n, v) for n, v in zip(ns, values, strict=True) if n >= n_min and v and v > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def time_length(n, args, device, sync) -> tuple[dict, dict]:
    """Interleaved times of every timed contender at length n; errors and compile times."""
    import torch

    calls, errors, prepare, outputs = {}, {}, {}, {}
    for method in TIMED:
        if method == "dense" and n > args.dense_max:
            errors[method] = f"not run: T > --dense-max = {args.dense_max}"
            continue
        try:
            call, prepare[method] = make_call(method, n, args.d, args.c, args.block, device)
            with torch.no_grad():
                outputs[method] = call()
        except Exception as err:  # flex without a compiler, out of memory, ...
            errors[method] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
            continue
        calls[method] = call
    repeats = args.repeats if n <= TARGET_T else max(1, args.repeats - 2)
    with torch.no_grad():
        stats = common.interleave(calls, repeats=repeats, warmup=1, sync=sync)
    ref = outputs.get("sdpa")
    for method, out in outputs.items():
        diff = None if ref is None else float((out.reshape(ref.shape) - ref).abs().max())
        stats[method]["max_abs_diff_vs_sdpa"] = diff
        stats[method]["prepare_s"] = prepare[method]
    outputs.clear()
    return stats, errors


def memory_cpu(method, n, args) -> dict:
    if method == "dense" and n > args.dense_max:
        return {"error": f"not run: T > --dense-max = {args.dense_max}"}
    code = SETUP + CHILD
    out = common.peak_rss_child(
        code, method, str(n), str(args.d), str(args.c), str(args.block), timeout=900
    )
    return out


def memory_cuda(method, n, args) -> dict:
    import torch

    if method == "dense" and n > args.dense_max:
        return {"error": f"not run: T > --dense-max = {args.dense_max}"}
    try:
        call, _ = make_call(method, n, args.d, args.c, args.block, "cuda")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        with torch.no_grad():
            call()
        torch.cuda.synchronize()
        return {"call_mib": (torch.cuda.max_memory_allocated() - before) / 2**20}
    except Exception as err:
        return {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 1024, 2048; 2 repeats")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--max-n", type=int, default=32768)
    parser.add_argument("--dense-max", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--c", type=int, default=512)
    parser.add_argument("--block", type=int, default=512)
    args = parser.parse_args()
    import torch

    from deepnotes.core import set_threads

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    set_threads(1)
    if args.quick:
        args.max_n, args.repeats = min(args.max_n, 2048), 2
    if args.dense_max is None:
        args.dense_max = 16384 if args.device == "cpu" else 32768
    lengths = [n for n in (1024 * 2**i for i in range(6)) if n <= args.max_n]
    sync = torch.cuda.synchronize if args.device == "cuda" else None
    memory = memory_cuda if args.device == "cuda" else memory_cpu

    rows = []
    for n in lengths:
        stats, errors = time_length(n, args, args.device, sync)
        flops = flop_counts(n, args.d, args.c, args.block)
        for method in TIMED:
            row = {"method": method, "T": n}
            if method in stats:
                s = stats[method]
                row.update(
                    seconds=s["median"],
                    min_s=s["min"],
                    max_s=s["max"],
                    repeats=s["n"],
                    max_abs_diff_vs_sdpa=s["max_abs_diff_vs_sdpa"],
                    prepare_s=s["prepare_s"],
                )
            else:
                row["error"] = errors.get(method)
            if method in MEMORY:
                mem = memory(method, n, args)
                row["call_mib"] = mem.get("call_mib")
                row["process_peak_mib"] = mem.get("process_peak_mib")
                if "error" in mem and "error" not in row:
                    row["error"] = mem["error"]
            row["gflop"] = _gflop(method, flops)
            rows.append(row)
        sdpa = next((r for r in rows if r["T"] == n and r["method"] == "sdpa"), {})
        ratio = flops["sdpa"] / flops["vq"]
        for r in rows:
            if r["T"] == n:
                if r.get("seconds") and sdpa.get("seconds"):
                    r["speedup_vs_sdpa"] = sdpa["seconds"] / r["seconds"]
                if r["method"] == "vq":
                    r["flop_ratio_sdpa_vq"] = ratio
                    if r.get("speedup_vs_sdpa"):
                        r["speedup_over_flop_ratio"] = r["speedup_vs_sdpa"] / ratio
        print(f"T = {n}: done", flush=True)

    columns = ["method", "T", "seconds", "min_s", "max_s", "speedup_vs_sdpa", "gflop"]
    columns += ["call_mib", "process_peak_mib", "max_abs_diff_vs_sdpa"]
    common.print_table(rows, columns)
    print()
    print("FLOP ratio SDPA / VQ and the measured VQ speedup over SDPA:")
    common.print_table(
        [r for r in rows if r["method"] == "vq"],
        ["T", "flop_ratio_sdpa_vq", "speedup_vs_sdpa", "speedup_over_flop_ratio"],
    )
    for r in rows:
        if r.get("error"):
            print(f"  {r['method']} at T = {r['T']}: {r['error']}")

    slopes = {}
    for method in MEMORY:
        mine = [r for r in rows if r["method"] == method]
        slopes[method] = {
            "memory": slope([r["T"] for r in mine], [r.get("call_mib") for r in mine]),
            "time": slope([r["T"] for r in mine], [r.get("seconds") for r in mine]),
        }
    print("log-log slopes over T >= 4096 (memory: call_mib):")
    for method, s in slopes.items():
        print(f"  {method}: time {_fmt(s['time'])}, memory {_fmt(s['memory'])}")

    targets = []
    vq_at = next((r for r in rows if r["method"] == "vq" and r["T"] == TARGET_T), None)
    if vq_at is not None and vq_at.get("speedup_vs_sdpa"):
        targets.append(
            common.target(
                f"VQ speedup over SDPA at T = {TARGET_T}",
                vq_at["speedup_vs_sdpa"],
                5.0,
                "higher",
                "x",
            )
        )
    if slopes["vq"]["memory"] is not None:
        targets.append(
            common.target(
                "VQ memory log-log slope (T >= 4096)", slopes["vq"]["memory"], 1.15, "lower"
            )
        )
    print("targets:")
    common.print_targets(targets)
    notes = (
        "Causal attention over quantised keys, one head, d = "
        f"{args.d}, c = {args.c} codes, blocks of {args.block}, float32, "
        f"{torch.get_num_threads()} thread(s). Time: interleaved rounds, median and min-max. "
        "Memory: call_mib is the call's own high-water mark in a fresh process "
        "(CPU; CUDA: max_memory_allocated). SDPA gets (1, 1, T, d) tensors (the flash kernel; "
        "3-D inputs fall back to the quadratic math kernel). The FLOP ratio SDPA / VQ is "
        "(T+1)(dk+dv) / (2[(2l+c)(dk+dv) + c dv]); vq+quantize adds the key quantisation. "
        f"dense stops at T = {args.dense_max}."
    )
    params = {
        "lengths": lengths,
        "d": args.d,
        "c": args.c,
        "block": args.block,
        "repeats": args.repeats,
        "dense_max": args.dense_max,
        "quick": args.quick,
    }
    for method, sl in slopes.items():  # flat, so that the Performance appendix shows them
        params[f"time_slope_{method}"] = sl["time"]
        params[f"memory_slope_{method}"] = sl["memory"]
    if args.quick:
        print("not saved (--quick; benchmarks/results holds full runs only)")
    else:
        common.save(NAME, rows, targets, params, device=args.device, notes=notes)


def _gflop(method: str, flops: dict) -> float:
    """flex skips the masked tiles as SDPA does; vq+quantize adds the quantisation."""
    if method == "vq+quantize":
        return (flops["vq"] + flops["quantize"]) / 1e9
    return flops["sdpa" if method == "flex" else method] / 1e9


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    main()
