"""Peak memory of ``python -m sim run`` and ``python -m sim report`` at two replication counts.

    python benchmarks/bench_memory.py [--reps 1000 10000] [--jobs 2] [--scenario baseline]
                                      [--report-options "--no-backtest --no-pdf"] [--keep DIR]

Runs the command line as whole processes, in a temporary folder: ``run`` with each number
of replications (``--jobs`` workers, the scenario's own horizon and uncertainty), then
``report`` on the folder it wrote. While each runs, the resident memory of the process and
of all its descendants (the workers) is sampled every 20 ms; it prints, per command and
replication count, the wall time, the peak of the whole process tree (sum of resident
sets: shared pages of forked workers are counted in each, so this is an upper bound) and of
the largest single process (best and median of ``--repeat`` runs), then the ratio of the
larger count's median peaks to the smaller's.
The memory goal of the results layer is a ratio of at most 1.5 for 20 times the
replications: nothing may hold the whole tidy table.

``--report-options`` is passed to ``report`` (default ``--no-backtest --no-pdf``: the
back-test runs its own replications and the PDF a browser, neither of which grows with the
results folder; give ``""`` for the full report).
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.02


def peak_memory(command: list[str]) -> dict:
    """Run ``command``; its wall time and peak resident memory (tree and largest process)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks = {"tree": 0, "single": 0}
    done = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(process.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            try:
                members = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            sizes = []
            for member in members:
                with contextlib.suppress(psutil.Error):  # ended since it was listed
                    sizes.append(member.memory_info().rss)
            if sizes:
                peaks["tree"] = max(peaks["tree"], sum(sizes))
                peaks["single"] = max(peaks["single"], max(sizes))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({process.returncode}):\n"
                         f"{stderr.decode(errors='replace')[-2000:]}")  # fmt: skip
    return {"seconds": seconds, "tree_mib": peaks["tree"] / 2**20,
            "single_mib": peaks["single"] / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, nargs=2, default=[1000, 10000], metavar="N")
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--report-options", default="--no-backtest --no-pdf")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each command (best and median are printed)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the folders here (kept) rather than in a temporary folder")
    args = parser.parse_args()

    python = [sys.executable, "-m", "sim"]
    measured: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        where = args.keep or Path(temporary)
        where.mkdir(parents=True, exist_ok=True)
        for reps in args.reps:
            run_folder, pack = where / f"run-{reps}", where / f"report-{reps}"
            for _ in range(args.repeat):
                measured.setdefault(("run", reps), []).append(peak_memory(
                    [*python, "run", args.scenario, "--reps", str(reps), "--jobs", args.jobs,
                     "--out", str(run_folder), "--force", "--no-progress"]
                ))  # fmt: skip
                measured.setdefault(("report", reps), []).append(peak_memory(
                    [*python, "report", str(run_folder), "--out", str(pack), "--force",
                     "--no-progress", *shlex.split(args.report_options)]
                ))  # fmt: skip
            for command in ("run", "report"):
                runs = measured[command, reps]
                figures = ", ".join(
                    f"{label} {min(m[key] for m in runs):{width}} / "
                    f"{statistics.median(m[key] for m in runs):{width}}"
                    for label, key, width in (("wall s", "seconds", "6.1f"),
                                              ("tree MiB", "tree_mib", "6.0f"),
                                              ("largest MiB", "single_mib", "6.0f"))
                )  # fmt: skip
                print(f"{command:>6} {reps:>6} replications (best / median of {len(runs)}): "
                      f"{figures}", flush=True)  # fmt: skip
    small, large = args.reps
    for command in ("run", "report"):
        ratio = {key: statistics.median(m[key] for m in measured[command, large])
                 / statistics.median(m[key] for m in measured[command, small])
                 for key in ("tree_mib", "single_mib")}  # fmt: skip
        print(f"{command:>6} {large}/{small} replications: median peak x{ratio['tree_mib']:.2f} "
              f"(process tree), x{ratio['single_mib']:.2f} (largest process)")


if __name__ == "__main__":
    main()
