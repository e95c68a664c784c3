"""How many intra-op threads should the book's experiments use on a small CPU?

Times a representative tiny-tensor workload (forward + backward of a deep,
narrow MLP stack: d = 64, batch 32, 32 layers, the scale of chapter 1's
experiments) with 1 and with 2 threads, first on an idle machine and then with
a second process keeping one core busy (as when nbval and the book build run
side by side, or another notebook kernel is working).

Prints a ratio table; ``deepnotes.core.DEFAULT_THREADS`` is set from it.
Run: ``.venv/bin/python benchmarks/threads.py``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import torch


def workload(steps: int = 60) -> float:
    torch.manual_seed(0)
    layers = torch.nn.Sequential(
        *[torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.LayerNorm(64)) for _ in range(32)]
    )
    x = torch.randn(32, 64)
    start = time.perf_counter()
    for _ in range(steps):
        layers.zero_grad()
        layers(x).pow(2).mean().backward()
    return (time.perf_counter() - start) / steps


def busy(stop):
    x = 0.0
    while not stop.is_set():
        x += 1.0


def measure(threads: int, repeats: int = 5) -> float:
    torch.set_num_threads(threads)
    workload(5)  # warm up
    return min(workload() for _ in range(repeats))


def main() -> None:
    print(f"cores: {os.cpu_count()}, torch {torch.__version__}")
    rows = []
    for label, load in (("idle", False), ("one core busy", True)):
        stop = mp.Event()
        proc = mp.Process(target=busy, args=(stop,)) if load else None
        if proc:
            proc.start()
            time.sleep(0.5)
        try:
            t1, t2 = measure(1), measure(2)
        finally:
            if proc:
                stop.set()
                proc.join()
        rows.append((label, t1, t2))
    print(f"{'machine':<15} {'1 thread (ms/step)':>19} {'2 threads (ms/step)':>20} {'2T / 1T':>8}")
    for label, t1, t2 in rows:
        print(f"{label:<15} {t1 * 1e3:>19.2f} {t2 * 1e3:>20.2f} {t2 / t1:>8.2f}")


if __name__ == "__main__":
    main()
