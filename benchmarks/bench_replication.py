"""CPU cost of one 10-year replication of the baseline, and of one parameter draw.

    python benchmarks/bench_replication.py [--reps N] [--batches B] [--profile]

Prints, in CPU milliseconds of this process (best and median of ``--batches`` batches of
``--reps`` replications, on one core, with the scenario compiled once, as the runner
does):

* ``population only``: the model with no referrals and nobody in the programme;
* ``full model``: :func:`~sim.model.run_replication`;
* ``reduction``: :func:`~sim.experiment.layout.reduce_replication` of a finished
  replication to its row vector;
* ``model + reduction``: both, the work of one replication in a run;
* ``per-draw compile``: :meth:`~sim.experiment.uncertainty.ParameterDraws.inputs` for a
  new draw of the uncertain assumptions (shared by two replications in a run).

CPU time rather than wall time, so other work on a shared machine disturbs it less; the
best batch is the machine's capability, the median what a typical run sees. ``--profile``
adds a cProfile of model + reduction, the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sim.experiment.layout import build_layout, reduce_replication
from sim.experiment.uncertainty import ParameterDraws
from sim.model import compile_scenario, run_replication
from sim.scenario import load_scenario, with_changes

ROOT = Path(__file__).resolve().parents[1]


def time_batches(step: Callable[[int], object], reps: int, batches: int) -> tuple[float, float]:
    """Best and median over batches of the mean CPU time of ``step(i)``, milliseconds."""
    step(0)  # warm-up: imports, caches
    per_batch = []
    for batch in range(batches):
        start = time.process_time()
        for i in range(reps):
            step(batch * reps + i)
        per_batch.append((time.process_time() - start) / reps * 1e3)
    return min(per_batch), statistics.median(per_batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="replications per batch")
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile model + reduction")
    args = parser.parse_args()
    baseline = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    ten_years = with_changes(baseline, {"horizon_years": 10})
    population_only = with_changes(
        ten_years,
        {
            "programme.referrals": {"mode": "poisson", "rate_per_year": 0.0},
            "programme.initial": {"in_programme": [], "waiting": []},
        },
    )
    inputs = compile_scenario(ten_years)
    layout = build_layout(inputs)
    bare = compile_scenario(population_only)
    finished = [run_replication(inputs, 1, rep) for rep in range(50)]
    draws = ParameterDraws(ten_years, seed=1, replications=2 * args.reps * (args.batches + 1))

    def replicate(rep: int) -> None:
        reduce_replication(run_replication(inputs, 1, rep), layout)

    steps = {
        "population only": lambda rep: run_replication(bare, 1, rep),
        "full model": lambda rep: run_replication(inputs, 1, rep),
        "reduction": lambda rep: reduce_replication(finished[rep % len(finished)], layout),
        "model + reduction": replicate,
        # replications 2k and 2k + 1 share draw k: even numbers only, so each is new
        "per-draw compile": lambda k: draws.inputs(2 * k + 2),
    }
    for label, step in steps.items():
        best, median = time_batches(step, args.reps, args.batches)
        print(f"10-year baseline, {label}: {best:.3f} ms best, {median:.3f} ms median (CPU)")

    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(lambda: [replicate(rep) for rep in range(args.reps)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
