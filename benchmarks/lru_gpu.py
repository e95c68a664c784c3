"""Chapter 6 GPU check: time the LRU scan paths (loop, Upper/Lower, Hillis-Steele, FFT) on CUDA.

Prints a table of milliseconds per call and of loop-time / path-time ratios for
``L = 2**8 .. 2**16`` at a narrow and a wide width (complex64, best of 5, synchronised).
Usage: ``python benchmarks/lru_gpu.py [--max-log2 16] [--device cuda]``.  On a machine without
CUDA, ``--device cpu`` runs the same table (slowly: the loop is capped at ``2**14``).
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from deepnotes import lru


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-log2", type=int, default=16)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 4096])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu, or on a GPU machine")
    lengths = [2**k for k in range(8, args.max_log2 + 1)]
    rows = []
    for width in args.widths:
        for length in lengths:
            methods = ["upper-lower", "hillis-steele", "fft"]
            if args.device == "cuda" or length <= 2**14:
                methods = ["loop", *methods]
            rows += lru.time_scans(
                methods, [length], width, repeats=args.repeats, device=args.device
            )
            print(f"width {width}, L {length}: done", flush=True)
    table = pd.DataFrame(rows).pivot_table(index=["width", "L"], columns="method", values="seconds")
    pd.set_option("display.width", 160)
    print(
        f"\n{torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu'}, "
        f"torch {torch.__version__}: milliseconds per call"
    )
    print((1e3 * table).round(3).to_string())
    if "loop" in table:
        print("\nloop time / path time (> 1: the path beats the loop)")
        print(table.rdiv(table["loop"], axis=0).round(2).to_string())


if __name__ == "__main__":
    main()
