"""CPU cost of one 10-year replication of the baseline, and of one parameter draw.

    python benchmarks/bench_replication.py [--reps N] [--batches B] [--together K] [--profile]

Prints, in CPU milliseconds per replication of this process (best and median of
``--batches`` batches of ``--reps`` replications, on one core, with the scenario compiled
once, as the runner does). The model runs replications ``--together`` at a time
(:func:`~sim.model.replication.run_replications`; default the runner's
:data:`~sim.model.replication.MAX_BATCH`), as a run's chunks do:

* ``population only``: the model with no referrals and nobody in the programme;
* ``full model``: the model;
* ``full model, one at a time``: :func:`~sim.model.run_replication` per replication;
* ``reduction``: :func:`~sim.experiment.layout.reduce_replication` of a finished
  replication to its row vector;
* ``reduction, batched``: :func:`~sim.experiment.layout.reduce_replications` of
  ``--together`` finished replications at once to their rows (what a run's chunks do);
* ``model + reduction``: both, the work of one replication in a run;
* ``model + reduction, drawn assumptions``: the same with each pair of replications on
  its own draw of the uncertain assumptions (the default forecast), draws compiled
  beforehand;
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

from sim.experiment.layout import build_layout, reduce_replication, reduce_replications
from sim.experiment.uncertainty import ParameterDraws
from sim.model import compile_scenario, run_replication
from sim.model.replication import MAX_BATCH, run_replications
from sim.scenario import load_scenario, with_changes

ROOT = Path(__file__).resolve().parents[1]


def time_batches(
    step: Callable[[range], object], reps: int, batches: int, together: int
) -> tuple[float, float]:
    """Best and median over batches of the CPU time per replication of ``step(block)``
    over blocks of ``together`` replication numbers, milliseconds."""
    step(range(together))  # warm-up: imports, caches
    per_batch = []
    for batch in range(batches):
        first = batch * reps
        start = time.process_time()
        for block in range(first, first + reps, together):
            step(range(block, min(block + together, first + reps)))
        per_batch.append((time.process_time() - start) / reps * 1e3)
    return min(per_batch), statistics.median(per_batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="replications per batch")
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--together", type=int, default=MAX_BATCH,
                        help=f"replications run together (default {MAX_BATCH})")  # fmt: skip
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
    finished = run_replications([inputs] * 50, 1, range(50))
    total = args.reps * (args.batches + 1)
    draws = ParameterDraws(ten_years, seed=1, replications=2 * total)
    drawn = [draws.inputs(rep) for rep in range(total)]

    def model(scenario_inputs) -> Callable[[range], object]:
        return lambda block: run_replications([scenario_inputs] * len(block), 1, block)

    def replicate(block: range, of=lambda rep: inputs) -> None:  # as a run's chunk does
        reduce_replications(run_replications([of(rep) for rep in block], 1, block), layout)

    steps = {
        "population only": model(bare),
        "full model": model(inputs),
        "full model, one at a time": lambda block: [run_replication(inputs, 1, r) for r in block],
        "reduction": lambda block: [reduce_replication(finished[r % 50], layout) for r in block],
        "reduction, batched": lambda block: reduce_replications(
            [finished[r % 50] for r in block], layout
        ),
        "model + reduction": replicate,
        "model + reduction, drawn assumptions": lambda block: replicate(block, drawn.__getitem__),
        # replications 2k and 2k + 1 share draw k: even numbers only, so each is new
        "per-draw compile": lambda block: [draws.inputs(2 * k + 2 * total) for k in block],
    }
    for label, step in steps.items():
        best, median = time_batches(step, args.reps, args.batches, args.together)
        print(f"10-year baseline, {label}: {best:.3f} ms best, {median:.3f} ms median (CPU)")

    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(lambda: replicate(range(args.reps)))
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
