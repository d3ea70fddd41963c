"""Throughput and parallel efficiency of the process pool and Dask backends.

    python benchmarks/bench_backends.py [--reps 1000]

Runs ``--reps`` replications of the 10-year baseline through the streaming runner (the
path sweeps use: chunks written to disk, folder assembled at the end) on each backend with
1 and 2 workers, and prints replications per second and parallel efficiency, for the run
alone (Dask's is measured on a cluster already started, as on a real cluster) and with
start-up included.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from sim import load_scenario, with_changes
    from sim.experiment.runner import run_to_folder

    scenario = with_changes(
        load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"horizon_years": 10}
    )
    timings: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for workers in (1, 2):
            start = time.perf_counter()
            run_to_folder([scenario], Path(folder) / f"p{workers}", args.reps, seed=1, jobs=workers,
                          backend="processes", progress=False)  # fmt: skip
            timings[("processes", workers)] = time.perf_counter() - start
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
                client.run(lambda: __import__("sim.model"))  # warm the workers' imports
                start = time.perf_counter()
                run_to_folder([scenario], Path(folder) / f"d{workers}", args.reps, seed=1, jobs=workers,
                              backend="dask", scheduler=cluster.scheduler_address, progress=False)  # fmt: skip
                timings[("dask", workers)] = time.perf_counter() - start
    for backend in ("processes", "dask"):
        one, two = timings[(backend, 1)], timings[(backend, 2)]
        print(
            f"{backend:<9} {args.reps} replications: 1 worker {one:.2f} s ({args.reps / one:.0f}/s), "
            f"2 workers {two:.2f} s ({args.reps / two:.0f}/s); parallel efficiency {one / (2 * two):.2f}"
        )


if __name__ == "__main__":
    main()
