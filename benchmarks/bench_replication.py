"""Time one replication of the baseline over a 10-year horizon.

    python benchmarks/bench_replication.py [--reps N]

Prints milliseconds per replication (median of batches) on one core, with the scenario
compiled once, as the runner does.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sim.model import compile_scenario, run_replication
from sim.scenario import load_scenario, with_changes

ROOT = Path(__file__).resolve().parents[1]


def time_replications(inputs, reps: int, batches: int = 7) -> tuple[float, float]:
    """Best and median over batches of the mean wall time per replication, milliseconds.

    The best batch is the machine's capability (least disturbed by other work); the
    median shows what a typical run sees.
    """
    run_replication(inputs, 0, 0)  # warm-up: imports, caches
    per_batch = []
    for batch in range(batches):
        start = time.perf_counter()
        for rep in range(reps):
            run_replication(inputs, 1, batch * reps + rep)
        per_batch.append((time.perf_counter() - start) / reps * 1e3)
    return min(per_batch), statistics.median(per_batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="replications per batch")
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
    for label, scenario in (("population only", population_only), ("full model", ten_years)):
        best, median = time_replications(compile_scenario(scenario), args.reps)
        print(
            f"10-year baseline replication, {label}: {best:.2f} ms best, "
            f"{median:.2f} ms median per replication"
        )


if __name__ == "__main__":
    main()
