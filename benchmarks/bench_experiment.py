"""Experiment throughput, parallel efficiency and memory, for the 10-year baseline.

    python benchmarks/bench_experiment.py [--reps 1000]

Prints:

* wall time of ``--reps`` replications with default settings (jobs = all cores), for the
  run alone and including writing the results folder;
* parallel efficiency at 2 workers: serial time / (2 x time with 2 workers);
* peak memory (resident set size) of the parent and of the workers at a quarter of the
  replications and at all of them, beside the size of the stored value matrix, to show
  memory grows with the stored results only.

Each measurement runs in a fresh Python process so that peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from sim import load_scenario, run_experiment, with_changes
    reps, jobs, save_to = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    baseline = load_scenario(Path(sys.argv[4]) / "scenarios" / "baseline.yaml")
    scenario = with_changes(baseline, {"horizon_years": 10})
    start = time.perf_counter()
    results = run_experiment([scenario], replications=reps, seed=1, jobs=jobs, progress=False)
    run_seconds = time.perf_counter() - start
    if save_to != "-":
        results.save(save_to)
    total_seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({
        "run_seconds": run_seconds, "total_seconds": total_seconds,
        "parent_peak_mb": own, "worker_peak_mb": children,
        "values_mb": results.values["baseline"].nbytes / 2**20,
        "jobs": results.manifest["jobs"],
    }))
    """
)


def measure(reps: int, jobs: str, save: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        target = str(Path(folder) / "run") if save else "-"
        output = subprocess.run(
            [sys.executable, "-c", MEASURE, str(reps), jobs, target, str(ROOT)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()

    default = measure(args.reps, "auto", save=True)
    print(
        f"{args.reps} replications, 10-year baseline, jobs=auto ({default['jobs']} workers): "
        f"{default['run_seconds']:.2f} s run, {default['total_seconds']:.2f} s with results folder"
    )

    efficiency_reps = args.reps
    serial = measure(efficiency_reps, "1", save=False)["run_seconds"]
    two = measure(efficiency_reps, "2", save=False)["run_seconds"]
    print(
        f"parallel efficiency at 2 workers ({efficiency_reps} replications): "
        f"{serial:.2f} s serial, {two:.2f} s on 2 workers, efficiency {serial / (2 * two):.2f}"
    )

    for reps in (max(args.reps // 4, 10), args.reps):
        m = measure(reps, "auto", save=False)
        print(
            f"peak memory at {reps:>5} replications: parent {m['parent_peak_mb']:.0f} MB, "
            f"workers {m['worker_peak_mb']:.0f} MB; stored values {m['values_mb']:.1f} MB"
        )


if __name__ == "__main__":
    main()
