"""Time the command line's start-up and the default forecast: whole ``python -m sim`` processes.

    python benchmarks/bench_startup.py [--runs N] [--no-run]

Prints the best and median wall time, in seconds, of ``python -m sim --help`` (imports and
the parser, nothing else), ``python -m sim validate scenarios/baseline.yaml`` (plus
loading one scenario) and ``python -m sim run`` (the default forecast: 1,000 replications
on every core, its results folder written and its summary printed; with the median CPU
time of the process and its workers), each run as a new process from the project folder.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ("--help",),
    ("validate", "scenarios/baseline.yaml"),
)
RUN = ("run",)
"""The default forecast (written to a temporary folder, without a progress bar)."""


def time_command(arguments: tuple[str, ...], runs: int, options: tuple[str, ...] = ()
                 ) -> tuple[float, float, float]:  # fmt: skip
    """Best and median wall time of ``python -m sim ARGUMENTS OPTIONS``, and median CPU time
    (user and system, the process and its workers), seconds, over ``runs`` processes after
    one warm-up (which fills the file system's and bytecode caches)."""
    command = [sys.executable, "-m", "sim", *arguments, *options]
    times, cpu = [], []
    for run in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run:
            times.append(time.perf_counter() - start)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(times), statistics.median(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per command")
    parser.add_argument("--no-run", action="store_true", help="leave out the default forecast")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = ("--out", str(Path(folder) / "run"), "--force", "--no-progress")
        for arguments, options in [*((c, ()) for c in COMMANDS), *([] if args.no_run else [(RUN, out)])]:
            best, median, cpu = time_command(arguments, args.runs, options)
            shown = " ".join(("python -m sim", *arguments))
            print(f"{shown:<48} {best:.3f} s best, {median:.3f} s median of {args.runs}"
                  + (f" ({cpu:.2f} s CPU)" if options else ""))  # fmt: skip


if __name__ == "__main__":
    main()
