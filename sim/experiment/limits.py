"""Limits on the size of a run, checked before any work is done.

A run held in memory (``run_experiment``) grows with replications x output rows, its value
matrices; a streamed run (``run_to_folder``, the command line) sends each chunk to disk and
takes its statistics a block of columns at a time, so it holds a fixed work space and a few
numbers per replication, however many output rows there are. Both grow with the chunk of
replications each worker holds and with the number of workers. A mistaken ``--reps
1000000000`` or ``--jobs 999`` would otherwise start, allocate hundreds of gigabytes and
fail part way. :func:`check_run` estimates the memory a run needs and refuses one that would
not fit, saying what would.

The byte counts below are assumptions, measured on Linux with the baseline scenario and
rounded up; the estimate is meant to catch runs that are out by a large factor, not to
budget memory to the last megabyte.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from pathlib import Path

from sim.errors import ScenarioError

RUN_SETTINGS = "<run settings>"
"""Label of errors about run settings (replications, workers) rather than a file."""
BYTES_PER_VALUE = 8
"""One output value of one replication in a value matrix (float64)."""
STREAMED_BYTES = 256 * 2**20
"""Work space of a streamed run's parent process, whatever the replications: the blocks of
columns statistics are taken from (:data:`~sim.results.statistics.BLOCK_BYTES`) and the
copies sorting and summing them makes, a chunk on its way into the table and the libraries
it is written with. Measured about 165 MB above the interpreter's own for the baseline
(6,700 output rows), the same at 5,000 and 20,000 replications."""
STREAMED_BYTES_PER_REPLICATION = 4096
"""What a streamed run's parent holds per replication: a few of its outputs at once (the
adequacy check's columns, the workforce question's) and, for the workforce question, each
replication's draw of the assumptions, tabulated and searched by scenario discovery.
Measured about 2,400 for the baseline, which draws 50 numbers per replication."""
WORKER_BYTES = 64 * 2**20
"""Memory of one worker process of its own (interpreter pages it writes, one
replication's arrays). Plausible range 20 to 150 MB (fork on Linux to spawn elsewhere)."""
MEMORY_SHARE = 0.8
"""Share of the available memory a run may plan to use (the rest is for everything else)."""
JOBS_PER_CORE = 2
"""Most local workers per core: more than the cores only adds memory, not speed; twice
leaves room for a test or a laptop with hyper-threads."""
MAX_VARIANTS = 10_000
"""Most scenario variants in one sweep: each is validated, compiled and held in memory,
and 10,000 variants of 200 replications are already 2 million replications."""


def available_memory() -> int | None:
    """Bytes of memory this process may still use, or None if it cannot be told.

    The smaller of the system's available memory (``MemAvailable`` on Linux) and what is
    left under a control-group limit (containers).
    """
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # not on Windows
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            found.append(max(int(limit) - int(used), 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def run_memory(
    widths: Sequence[int],
    replications: int,
    jobs: int,
    chunk: int,
    in_memory: bool,
) -> int:
    """Estimated peak memory of a run, bytes.

    Parameters
    ----------
    widths
        Output rows of each scenario (the length of its layout).
    replications
        Replications per scenario.
    jobs
        Local worker processes (0 when workers run elsewhere, on a Dask cluster).
    chunk
        Replications in the largest chunk a worker computes and sends back.
    in_memory
        True if every scenario's value matrix is kept in memory (``run_experiment``);
        False if results stream to disk a chunk at a time and their statistics are taken a
        block of columns at a time (``run_to_folder``).
    """
    widest = max(widths)
    if in_memory:
        parent = sum(widths) * replications * BYTES_PER_VALUE
    else:
        parent = STREAMED_BYTES + replications * STREAMED_BYTES_PER_REPLICATION
    block = chunk * widest * BYTES_PER_VALUE  # one chunk's matrix, also received by the parent
    workers = jobs * (WORKER_BYTES + 2 * block)
    return parent + workers + max(jobs, 1) * block


def check_run(
    widths: Sequence[int],
    replications: int,
    jobs: int,
    chunks_per_scenario: int,
    in_memory: bool,
    local: bool = True,
    memory: int | None = None,
    cores: int | None = None,
) -> None:
    """Refuse a run that needs more workers or memory than this machine has.

    ``chunks_per_scenario`` is how many chunks each scenario's replications are cut into;
    ``local`` is False when workers run on a remote cluster (their memory is not ours).
    ``memory`` and ``cores`` default to what this machine has. Raises ScenarioError (file
    ``<run settings>``, field ``jobs`` or ``replications``) saying what would fit.
    """
    if local:
        from sim.experiment.settings import available_cores

        cores = cores or available_cores()
        if jobs > JOBS_PER_CORE * cores:
            raise ScenarioError(
                RUN_SETTINGS,
                "jobs",
                f"{jobs} workers on a machine with {cores} cores: more workers than cores "
                f"add memory, not speed; use at most {JOBS_PER_CORE * cores} (or 'auto', "
                f"one per core)",
            )
    memory = available_memory() if memory is None else memory
    if memory is None or not widths:
        return
    budget = MEMORY_SHARE * memory
    local_jobs = jobs if local else 0
    chunk = math.ceil(replications / chunks_per_scenario)
    needed = run_memory(widths, replications, local_jobs, chunk, in_memory)
    if needed <= budget:
        return
    if local_jobs * WORKER_BYTES > budget / 2:
        fit = max(int(budget / 2 // WORKER_BYTES), 1)
        raise ScenarioError(
            RUN_SETTINGS,
            "jobs",
            f"{jobs} workers need about {_gib(local_jobs * WORKER_BYTES)} of memory on their "
            f"own and {_gib(memory)} is available; use at most {fit} workers",
        )
    # the estimate is linear in the replications: the most that fit within the budget, with
    # chunks that grow with them held in memory, and no larger than now streamed (a
    # streamed run's chunks have a largest size, so a huge one is cut into more, not larger)
    fixed = run_memory(widths, 0, local_jobs, 0 if in_memory else chunk, in_memory)
    per_replication = run_memory(widths, 1, local_jobs, 1 if in_memory else chunk, in_memory) - fixed
    fit = int((budget - fixed) // max(per_replication, 1))
    raise ScenarioError(
        RUN_SETTINGS,
        "replications",
        f"{replications:,} replications of {len(widths)} scenario(s) with up to "
        f"{max(widths):,} output rows each need about {_gib(needed)} of memory and "
        f"{_gib(memory)} is available; at most about {max(fit, 0):,} replications fit "
        "(fewer replications, scenarios or workers would)",
    )


def check_variants(count: int) -> None:
    """Refuse a sweep of more than :data:`MAX_VARIANTS` scenario variants (ValueError)."""
    if count > MAX_VARIANTS:
        raise ValueError(
            f"{count:,} scenario variants is more than {MAX_VARIANTS:,}, the most one sweep "
            "runs (each variant is validated, held in memory and run for every "
            "replication); split the sweep or use fewer values"
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"
