"""ODE samplers on chapter 5's flow-matching model: NFE against energy distance (issue 16, item 5).

The model is chapter 5's (``deepnotes.ode.characteristics.train_cfm``): 8 Gaussians, straight
path, Gaussian and uniform priors, with the chapter's sizes at SCALE = 1 (20000 training
points, 2000 held out, 2000 Adam steps of batch 256, lr 5e-3, width 128).  The generator is
seeded with ``dn.seed_all(0)`` as in the chapter, but the chapter draws other things first,
so this is an equally trained twin of its model, not the same weights.

Samplers, from the same prior draws (``--replicates`` independent sets of 2000, the same for
every sampler):

* ``euler`` and ``heun`` (``characteristics.generate``, uniform steps from t = 1 to 0) at NFE
  1, 2, 4, ..., 256 (Euler: NFE = steps; Heun: NFE = 2 steps);
* adaptive: ``scipy.integrate.solve_ivp`` with ``RK45`` (the chapter's
  ``generate_adaptive``) and ``DOP853``, at ``rtol`` 1e-1 .. 1e-5 (``atol = rtol / 10``);
  the NFE is SciPy's ``nfev``, the mean over replicates.

Energy distance (``deepnotes.ode.metrics.energy_distance``) to the held-out set, the mean over
replicates.  The noise floor is what the same metric gives a perfect sampler: the mean over
``--floor-pairs`` fresh data samples of 2000 against the same held-out set (its min-max is
printed too).  For each sampler the table gives the smallest NFE from which the energy
distance stays within 2x the floor (issue 16), and, because the trained model's own error
sits near that line (its large-NFE energy distance is close to 2x the floor), also the
smallest NFE from which it stays within one floor of that sampler's best: where the
discretisation error drops below the metric's noise.

    .venv/bin/python benchmarks/ode_nfe.py --quick   # smoke run, about 15 s
    .venv/bin/python benchmarks/ode_nfe.py           # full run

Expected full-size runtime on the 2-core CPU machine, idle: about 2 minutes (two trainings
of about 10 s CPU each, then about 9 s of sampling and energy distances per prior and
replicate; 5 replicates; a reduced run, one prior and 2 replicates, took 31 s CPU).  The model is a 2-D MLP: the script runs on the CPU only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

import deepnotes as dn  # noqa: E402
from deepnotes.ode import characteristics as C  # noqa: E402
from deepnotes.ode import data as D  # noqa: E402
from deepnotes.ode import metrics as M  # noqa: E402

# chapter 5's parameters cell at SCALE = 1
CHAPTER = {
    "n_train": 20000,
    "n_test": 2000,
    "train_steps": 2000,
    "batch": 256,
    "lr": 5e-3,
    "width": 128,
}
FIXED_NFE = [2**k for k in range(9)]  # 1 .. 256
RTOLS = [1e-1, 3e-2, 1e-2, 1e-3, 1e-4, 1e-5]
FLOOR_FACTOR = 2.0


@torch.no_grad()
def adaptive(model, x1: torch.Tensor, method: str, rtol: float) -> tuple[torch.Tensor, int]:
    """``dx/dt = v(x, t)`` from t = 1 to 0 with ``solve_ivp(method)``; ``(x0, nfev)``.

    RK45 is the chapter's :func:`~deepnotes.ode.characteristics.generate_adaptive`; other
    methods use the same right-hand side here."""
    if method == "RK45":
        return C.generate_adaptive(model, x1, rtol=rtol, atol=rtol / 10)
    shape = x1.shape

    def rhs(t, y):
        x = torch.from_numpy(y.reshape(shape)).float()
        return model(x, torch.tensor(t, dtype=torch.float32)).double().numpy().ravel()

    sol = solve_ivp(
        rhs, (1.0, 0.0), x1.double().numpy().ravel(), method=method, rtol=rtol, atol=rtol / 10
    )
    if not sol.success:
        raise RuntimeError(f"solve_ivp({method}) failed: {sol.message}")
    return torch.from_numpy(sol.y[:, -1].reshape(shape)), int(sol.nfev)


def nfe_needed(points: list[tuple[float, float]], level: float) -> float | None:
    """Smallest NFE from which every point of ``(nfe, ed)`` (sorted by NFE) has ``ed <= level``."""
    points = sorted(points)
    need = None
    for nfe, ed in reversed(points):
        if ed > level:
            break
        need = nfe
    return need


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--device", default="cpu", choices=["cpu"], help="CPU only (2-D MLP)")
    parser.add_argument("--priors", nargs="+", default=["gaussian", "uniform"])
    parser.add_argument("--replicates", type=int, default=5, help="independent prior draws")
    parser.add_argument("--floor-pairs", type=int, default=10, help="data samples for the floor")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default 1)")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    for p in args.priors:
        C.check_prior(p)
    sizes = dict(CHAPTER)
    nfes, rtols = FIXED_NFE, RTOLS
    if args.quick:
        sizes.update(n_train=4000, n_test=500, train_steps=200)
        nfes, rtols = FIXED_NFE[:6], RTOLS[:3]
        args.priors, args.replicates, args.floor_pairs = args.priors[:1], 2, 3
    threads = dn.set_threads(args.threads)
    start = time.perf_counter()

    generator = dn.seed_all(0)
    train = D.toy_data("8gaussians", sizes["n_train"], generator)
    test = D.toy_data("8gaussians", sizes["n_test"], generator)
    floors = [
        M.energy_distance(D.toy_data("8gaussians", sizes["n_test"], generator), test)
        for _ in range(args.floor_pairs)
    ]
    floor = statistics.fmean(floors)
    print(
        f"noise floor (data vs data, n = {sizes['n_test']}): mean {floor:.5f} over "
        f"{len(floors)} pairs, min-max {min(floors):.5f}-{max(floors):.5f}",
        flush=True,
    )

    rows, summary, targets = [], [], []
    for prior in args.priors:
        t0 = time.process_time()
        model, _ = C.train_cfm(
            train,
            prior,
            steps=sizes["train_steps"],
            batch=sizes["batch"],
            lr=sizes["lr"],
            width=sizes["width"],
            generator=generator,
        )
        print(f"{prior}: trained in {time.process_time() - t0:.1f} s CPU", flush=True)
        starts = [
            C.sample_prior(prior, sizes["n_test"], 2, generator) for _ in range(args.replicates)
        ]
        runs = {}  # (solver, setting) -> list of (nfe, ed, seconds)
        for x1 in starts:
            for nfe in nfes:
                for solver, steps in (("euler", nfe), ("heun", nfe // 2)):
                    if steps < 1:
                        continue
                    t = time.perf_counter()
                    out = C.generate(model, x1, steps=steps, method=solver)
                    runs.setdefault((solver, steps), []).append(
                        (nfe, M.energy_distance(out, test), time.perf_counter() - t)
                    )
            for solver in ("RK45", "DOP853"):
                for rtol in rtols:
                    t = time.perf_counter()
                    out, nfe = adaptive(model, x1, solver, rtol)
                    runs.setdefault((solver, rtol), []).append(
                        (nfe, M.energy_distance(out, test), time.perf_counter() - t)
                    )
        for (solver, setting), res in runs.items():
            eds = [r[1] for r in res]
            rows.append(
                {
                    "kind": "sweep",
                    "prior": prior,
                    "solver": solver,
                    "steps" if solver in ("euler", "heun") else "rtol": setting,
                    "nfe": statistics.fmean(r[0] for r in res),
                    "ed": statistics.fmean(eds),
                    "ed_min": min(eds),
                    "ed_max": max(eds),
                    "ed_over_floor": statistics.fmean(eds) / floor,
                    "seconds": statistics.median(r[2] for r in res),
                }
            )
        for solver in ("euler", "heun", "RK45", "DOP853"):
            pts = [
                (r["nfe"], r["ed"]) for r in rows if r["prior"] == prior and r["solver"] == solver
            ]
            best = min(ed for _, ed in pts)
            top = max(pts)  # the largest NFE of the sweep
            summary.append(
                {
                    "prior": prior,
                    "solver": solver,
                    "best_ed": best,
                    "ed_at_max_nfe": top[1],
                    "max_nfe": top[0],
                    "nfe_within_2x_floor": nfe_needed(pts, FLOOR_FACTOR * floor),
                    "nfe_within_floor_of_best": nfe_needed(pts, best + floor),
                }
            )
            targets.append(
                common.target(
                    f"{prior}/{solver}: energy distance / floor at NFE {top[0]:.0f}",
                    top[1] / floor,
                    FLOOR_FACTOR,
                    "lower",
                    "x",
                )
            )

    print(f"\nenergy distance to held-out data (mean of {args.replicates} prior draws)")
    for prior in args.priors:
        print(f"\nprior: {prior}")
        common.print_table(
            [r for r in rows if r["prior"] == prior],
            [
                "solver",
                "steps",
                "rtol",
                "nfe",
                "ed",
                "ed_min",
                "ed_max",
                "ed_over_floor",
                "seconds",
            ],
        )
    print(f"\nNFE needed (floor {floor:.5f}; '-' = not reached in the sweep)")
    common.print_table(
        summary,
        [
            "prior",
            "solver",
            "nfe_within_2x_floor",
            "nfe_within_floor_of_best",
            "best_ed",
            "ed_at_max_nfe",
            "max_nfe",
        ],
    )
    print()
    common.print_targets(targets)
    print(f"\nran in {time.perf_counter() - start:.0f} s")
    if args.quick or args.no_save:
        print("not saved (--quick or --no-save; benchmarks/results holds full runs only)")
        return
    notes = (
        "Chapter 5's flow-matching model (8 Gaussians, straight path; the chapter's sizes at "
        "SCALE=1, a twin trained from seed 0) sampled from t=1 to 0 by Euler and Heun at NFE "
        "1..256 and by solve_ivp RK45 and DOP853 at rtol 1e-1..1e-5 (atol=rtol/10, NFE = "
        f"nfev). Energy distance to {sizes['n_test']} held-out points, mean over "
        f"{args.replicates} prior draws shared by all samplers. Noise floor: the mean energy "
        f"distance of {args.floor_pairs} fresh data samples to the same held-out set. 'NFE "
        "within 2x floor': smallest NFE from which the sweep stays within 2x the floor; "
        "'within floor of best': from which it stays within one floor of the sampler's best "
        "(discretisation error below the metric's noise)."
    )
    common.save(
        "ode_nfe",
        rows + [{"kind": "summary", **s} for s in summary],
        targets,
        {
            **sizes,
            "priors": args.priors,
            "replicates": args.replicates,
            "floor_pairs": args.floor_pairs,
            "threads": threads,
            "floor": floor,
            "floor_min": min(floors),
            "floor_max": max(floors),
            "nfe": nfes,
            "rtols": rtols,
        },
        device=args.device,
        notes=notes,
    )


if __name__ == "__main__":
    main()
