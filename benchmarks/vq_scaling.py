"""Transformer-VQ (chapter 7) at lengths beyond the chapter's budget: time and peak memory.

For each length n, each method (the dense reference that materialises the n x n matrix,
PyTorch's scaled_dot_product_attention, and the block recurrence of ``deepnotes.vq``) runs in a
fresh subprocess, so ``ru_maxrss`` (peak resident memory) belongs to that call alone.  Prints a
table of CPU seconds (fastest of ``--repeats``) and peak MiB, and the log-log slopes.

    .venv/bin/python benchmarks/vq_scaling.py --max-n 16384
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, resource, sys, time
import torch
from deepnotes import vq
from deepnotes.attention import attention, attention_reference
torch.set_num_threads(1)
method, n, d, c, block, repeats = sys.argv[1], *map(int, sys.argv[2:7])
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(1, n, d, generator=g) for _ in range(3))
codebook = torch.randn(c, d, generator=g)
z, k_hat, _ = vq.quantize(k, codebook)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
calls = {
    "dense": lambda: attention_reference(q, k_hat, v, scale=1.0),
    "sdpa": lambda: attention(q, k_hat, v, scale=1.0),
    "vq": lambda: vq.vq_attention(q, k_hat, z, v, codebook, block),
}
best = float("inf")
with torch.no_grad():
    for _ in range(repeats):
        start = time.process_time()
        calls[method]()
        best = min(best, time.process_time() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": best, "peak_mib": peak / 1024, "extra_mib": (peak - base) / 1024}))
"""


def run(method: str, n: int, args) -> dict:
    cmd = [sys.executable, "-c", CHILD, method, str(n), str(args.d), str(args.c)]
    cmd += [str(args.block), str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=16384)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--c", type=int, default=64)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lengths = [n for n in (2**i for i in range(9, 20)) if n <= args.max_n]
    rows = {m: [run(m, n, args) for n in lengths] for m in ("dense", "sdpa", "vq")}
    print(f"{'n':>7} " + " ".join(f"{m + ' s':>10} {m + ' MiB':>10}" for m in rows))
    for i, n in enumerate(lengths):
        cells = " ".join(
            f"{rows[m][i]['seconds']:10.4f} {rows[m][i]['extra_mib']:10.1f}" for m in rows
        )
        print(f"{n:7d} {cells}")
    top = np.log(lengths[-3:])
    for m, r in rows.items():
        slope = np.polyfit(top, np.log([x["seconds"] for x in r[-3:]]), 1)[0]
        print(f"{m}: time slope over the last three lengths {slope:.2f}")


if __name__ == "__main__":
    main()
