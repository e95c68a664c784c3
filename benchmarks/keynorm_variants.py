"""Regenerate ``deepnotes/data/keynorm_runs.json``: the runs chapter 8 loads instead of training.

The chapter trains the baseline and KeyNorm live (two seeds); this script
trains the other variants (QueryNorm, cosine), extra seeds of the two main
ones and a KeyNorm model without RoPE, with the chapter's own
:class:`deepnotes.extrapolation.RunConfig` at ``--scale`` times the steps,
and stores each run's loss by position on the chapter's validation windows.

    python benchmarks/keynorm_variants.py            # SCALE 1, about 2 CPU-minutes
    python benchmarks/keynorm_variants.py --scale 4  # longer training
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from deepnotes import extrapolation as ex
from deepnotes.data import stdlib_corpus

OUT = Path(__file__).resolve().parents[1] / "deepnotes" / "data" / "keynorm_runs.json"
RUNS = [
    ("querynorm", 0, True),
    ("querynorm", 1, True),
    ("cosine", 0, True),
    ("cosine", 1, True),
    ("baseline", 2, True),
    ("baseline", 3, True),
    ("keynorm", 2, True),
    ("keynorm", 3, True),
    ("keynorm", 0, False),  # NoPE ablation
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = stdlib_corpus(400_000)
    base = ex.RunConfig(steps=240 * args.scale)
    windows = ex.eval_windows(corpus.valid, 8 * base.length)
    runs = []
    for variant, seed, use_rope in RUNS:
        config = replace(base, variant=variant, seed=seed, use_rope=use_rope)
        start = time.process_time()
        model, _ = ex.train_variant(corpus.train, config)
        per_position = ex.loss_by_position(model, windows)
        cpu = time.process_time() - start
        print(variant, seed, use_rope, f"{cpu:.1f} CPU-s", ex.loss_by_length(per_position, 64))
        runs.append({"config": asdict(config), "loss_by_position": per_position.tolist()})
    meta = {"python": corpus.python_version, "sha256": corpus.sha256, "scale": args.scale}
    args.out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
