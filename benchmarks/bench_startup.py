"""Time the command line's start-up: whole ``python -m sim`` processes.

    python benchmarks/bench_startup.py [--runs N]

Prints the best and median wall time, in seconds, of ``python -m sim --help`` (imports and
the parser, nothing else) and ``python -m sim validate scenarios/baseline.yaml`` (plus
loading one scenario), each run as a new process from the project folder.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ("--help",),
    ("validate", "scenarios/baseline.yaml"),
)


def time_command(arguments: tuple[str, ...], runs: int) -> tuple[float, float]:
    """Best and median wall time of ``python -m sim ARGUMENTS``, seconds, over ``runs``
    processes after one warm-up (which fills the file system's and bytecode caches)."""
    command = [sys.executable, "-m", "sim", *arguments]
    times = []
    for run in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        if run:
            times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per command")
    args = parser.parse_args()
    for arguments in COMMANDS:
        best, median = time_command(arguments, args.runs)
        shown = " ".join(("python -m sim", *arguments))
        print(f"{shown:<48} {best:.3f} s best, {median:.3f} s median of {args.runs}")


if __name__ == "__main__":
    main()
