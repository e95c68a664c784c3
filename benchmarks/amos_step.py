"""Amos (chapter 3) against torch.optim.AdamW(foreach=True): step time and optimizer-state bytes.

The model is a transformer-like stack of ``--blocks`` blocks of width ``--width`` (each:
LayerNorm, a ``d -> 3d`` and a ``d -> d`` projection, LayerNorm, a ``d -> 4d -> d`` MLP;
72 tensors and 10.6M parameters at the defaults 6 x 384).  Only ``optimizer.step()`` is
timed: every optimizer owns a copy of the model whose gradients are fixed random tensors
(seeded, std 1e-3; the step's cost depends on the shapes, not on the values), so forward
and backward passes, identical for all, are left out.

Contenders, interleaved by :func:`common.interleave` (one step of each per round, rotated
order, median and min-max over ``--repeats`` rounds, one thread):

* ``adamw``: ``torch.optim.AdamW(lr=1e-3, weight_decay=0.01, foreach=True)``;
* ``amos``: the chapter's configuration, :func:`deepnotes.optim.amos_param_groups` with
  ``eta`` = the init std (``1/sqrt(fan_in)`` for matrices, 0.5 for vectors, as in
  jestimator's configs) and :func:`deepnotes.optim.linear_slot_shape` (``(out, 1)`` slots
  for matrices, scalars otherwise), no momentum;
* ``amos_full``: full-shape slots ``v`` and ``b`` (no saving), no momentum;
* ``amos_momentum``: reduced slots plus ``momentum=0.9`` (one full-size slot).

State bytes: :func:`deepnotes.optim.state_bytes` (sum of ``numel * element_size`` over the
tensors in ``optimizer.state``) after the timed steps.  Targets: the step-time ratio
``amos / adamw <= 1.3`` and the state ratio (reduced slots, no momentum) ``<= 0.01``.

Expected runtime of the full run on 2 idle cores: about 40 s (30 rounds of four steps,
about 1 s a round, most of it ``amos_full``); ``--quick`` (2 blocks of 128): a few seconds.

    .venv/bin/python benchmarks/amos_step.py
    .venv/bin/python benchmarks/amos_step.py --quick
    .venv/bin/python benchmarks/amos_step.py --device cuda
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

NAME = "amos_step"


def build_model(width: int, blocks: int):
    import torch

    layers = []
    for _ in range(blocks):
        layers += [
            torch.nn.LayerNorm(width),
            torch.nn.Linear(width, 3 * width),
            torch.nn.Linear(width, width),
            torch.nn.LayerNorm(width),
            torch.nn.Linear(width, 4 * width),
            torch.nn.Linear(4 * width, width),
        ]
    return torch.nn.ModuleList(layers)


def init_std(name: str, shape) -> float:
    """Amos's ``eta``: the init std of a matrix (``1/sqrt(fan_in)``), 0.5 for vectors."""
    return 1.0 / math.sqrt(shape[1]) if len(shape) == 2 else 0.5


def make_optimizers(model):
    import torch

    from deepnotes import optim

    def amos(m, slot_shape_fn, momentum=None):
        groups = optim.amos_param_groups(
            m.named_parameters(), init_std, slot_shape_fn, momentum=momentum
        )
        return optim.Amos(groups, lr=0.01)

    makers = {
        "adamw": lambda m: torch.optim.AdamW(
            m.parameters(), lr=1e-3, weight_decay=0.01, foreach=True
        ),
        "amos": lambda m: amos(m, optim.linear_slot_shape),
        "amos_full": lambda m: amos(m, lambda n, s: None),
        "amos_momentum": lambda m: amos(m, optim.linear_slot_shape, 0.9),
    }
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(p.shape, generator=gen) * 1e-3 for p in model.parameters()]
    out = {}
    for name, make in makers.items():
        mine = copy.deepcopy(model)
        for p, g in zip(mine.parameters(), grads, strict=True):
            p.grad = g.to(p.device).clone()
        out[name] = make(mine)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 blocks of width 128, 3 repeats")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    import torch

    from deepnotes.core import set_threads
    from deepnotes.optim import state_bytes

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    set_threads(1)
    if args.quick:
        args.width, args.blocks, args.repeats = 128, 2, 3
    torch.manual_seed(0)
    model = build_model(args.width, args.blocks).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    n_tensors = len(list(model.parameters()))
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    opts = make_optimizers(model)
    sync = torch.cuda.synchronize if args.device == "cuda" else None
    stats = common.interleave(
        {name: opt.step for name, opt in opts.items()}, repeats=args.repeats, warmup=2, sync=sync
    )
    base_t, base_b = stats["adamw"]["median"], state_bytes(opts["adamw"])
    rows = []
    for name, opt in opts.items():
        s, nbytes = stats[name], state_bytes(opt)
        rows.append(
            {
                "optimizer": name,
                "ms": 1e3 * s["median"],
                "min_ms": 1e3 * s["min"],
                "max_ms": 1e3 * s["max"],
                "repeats": s["n"],
                "time_vs_adamw": s["median"] / base_t,
                "state_bytes": nbytes,
                "state_vs_adamw": nbytes / base_b,
                "state_vs_params": nbytes / param_bytes,
            }
        )
        ok = all(torch.isfinite(p).all() for g in opt.param_groups for p in g["params"])
        rows[-1]["params_finite"] = bool(ok)
    print(f"{n_params:,} parameters in {n_tensors} tensors ({args.device})")
    common.print_table(
        rows,
        ["optimizer", "ms", "min_ms", "max_ms", "time_vs_adamw", "state_bytes"]
        + ["state_vs_adamw", "state_vs_params"],
    )
    by = {r["optimizer"]: r for r in rows}
    targets = [
        common.target(
            "Amos (reduced slots) step time / AdamW foreach",
            by["amos"]["time_vs_adamw"],
            1.3,
            "lower",
            "x",
        ),
        common.target(
            "Amos (reduced slots, no momentum) state bytes / AdamW",
            by["amos"]["state_vs_adamw"],
            0.01,
            "lower",
        ),
    ]
    print("targets:")
    common.print_targets(targets)
    notes = (
        f"optimizer.step() alone on a {n_params / 1e6:.1f}M-parameter stack of {args.blocks} "
        f"transformer-like blocks of width {args.width} ({n_tensors} tensors), fixed random "
        f"gradients, {torch.get_num_threads()} thread(s); interleaved rounds, median and "
        "min-max. amos = the chapter's configuration (reduced (out, 1) slots, eta = init std, "
        "no momentum); amos_full = full-shape slots. State bytes are numel * element_size "
        "over optimizer.state (AdamW's includes its float32 step counters)."
    )
    params = {
        "width": args.width,
        "blocks": args.blocks,
        "repeats": args.repeats,
        "n_params": n_params,
        "n_tensors": n_tensors,
        "param_bytes": param_bytes,
        "quick": args.quick,
    }
    if args.quick:
        print("not saved (--quick; benchmarks/results holds full runs only)")
    else:
        common.save(NAME, rows, targets, params, device=args.device, notes=notes)


if __name__ == "__main__":
    main()
