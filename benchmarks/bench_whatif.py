"""Warm what-if update time: what an analyst waits for after moving a control.

    python benchmarks/bench_whatif.py [--reps 1000] [--updates 5] [--jobs auto] [--start spawn]

Makes two :class:`~sim.apps.whatif.WhatIf` of the baseline: one that keeps its worker
processes between updates (as the notebook's does) and one that starts a new pool for each
update (as every update did before the pool was kept; ``what_if.pool = None``). Each runs a
first update (the base scenario, and the kept pool's start-up), then ``--updates`` updates
of combinations not seen before (cache misses: the what-if is run, its chart data and
headline table prepared and the open tab's chart drawn, as the panel does), the two
alternating so that both see the same load on the machine. Prints each update's wall time,
split into the simulation (``run_experiment``, the what-if's one cache miss) and the rest
(building the scenario, the charts' statistics, the headline table, drawing the open tab),
then the best and the median of each. ``--start spawn`` starts workers as macOS and Windows
do (a fresh interpreter each, which imports the package) rather than by fork (Linux).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--jobs", default="auto")
    parser.add_argument("--start", choices=("fork", "spawn"), default=None,
                        help="how workers are started (default: the platform's)")  # fmt: skip
    args = parser.parse_args()

    import multiprocessing as mp

    import sim.experiment.runner as runner
    from sim import load_scenario
    from sim.apps.whatif import WhatIf

    simulating: list[float] = []  # seconds in run_experiment, the latest last

    def timed(*args, **kwargs):
        clock = time.perf_counter()
        try:
            return runner.run_experiment(*args, **kwargs)
        finally:
            simulating.append(time.perf_counter() - clock)

    if args.start:  # every pool, kept or not, starts its workers this way
        runner._pool_context = lambda: mp.get_context(args.start)

    baseline = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    jobs = args.jobs if args.jobs == "auto" else int(args.jobs)
    kept = WhatIf(baseline, replications=args.reps, jobs=jobs)
    fresh = WhatIf(baseline, replications=args.reps, jobs=jobs)
    if fresh.pool is not None:
        fresh.pool.close()
        fresh.pool = None  # a new pool for every run, as before
    ways = {"pool kept": kept, "new pool per update": fresh}
    for what_if in ways.values():
        what_if.cache.runner = timed
    times: dict[str, list[float]] = {name: [] for name in ways}
    simulation: dict[str, list[float]] = {name: [] for name in ways}
    rest: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for name, what_if in ways.items():
            clock = time.perf_counter()
            what_if.update(cap=16).png("caseload")
            print(f"{name}: first update (base scenario too) {time.perf_counter() - clock:.2f} s")
        for cap in range(17, 17 + args.updates):
            for name, what_if in ways.items():
                simulating.clear()
                clock = time.perf_counter()
                outcome = what_if.update(cap=cap)
                outcome.png("caseload")  # the open tab, drawn as the panel draws it
                times[name].append(time.perf_counter() - clock)
                simulation[name].append(sum(simulating))
                rest[name].append(times[name][-1] - simulation[name][-1])
                print(f"{name}: cap={cap} {times[name][-1]:.3f} s: simulation "
                      f"{simulation[name][-1]:.3f} s, the rest {rest[name][-1]:.3f} s "
                      f"(run and prepare {outcome.seconds:.3f} s)")  # fmt: skip
        for name, seconds in times.items():
            print(f"{name}: {args.reps} replications, {args.updates} warm updates: best "
                  f"{min(seconds):.3f} s, median {statistics.median(seconds):.3f} s; simulation "
                  f"best {min(simulation[name]):.3f} s, median "
                  f"{statistics.median(simulation[name]):.3f} s; the rest best "
                  f"{min(rest[name]):.3f} s, median {statistics.median(rest[name]):.3f} s")  # fmt: skip
    finally:
        kept.close()


if __name__ == "__main__":
    main()
