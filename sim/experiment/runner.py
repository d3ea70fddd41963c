"""Experiments: many replications of one or more scenarios, serial or in parallel.

The unit of work is a pure function of (compiled scenario, seed, replication), reduced in
the worker to a vector of period figures (:mod:`sim.experiment.layout`). Replication ``r`` of every
scenario uses the same random streams (common random numbers), which is what makes paired
comparisons tight. Work is cut into chunks of consecutive replications; each chunk returns
a small matrix and chunks are put back in replication order, so one process, a pool of
any size, or a cluster all give identical results.

Backends: ``serial`` (this process) and ``processes`` (a local process pool). The compiled
scenarios are sent to each worker once, when it starts, not with every chunk.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import numbers
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import RunError
from sim.experiment.layout import Layout, build_layout, reduce_replication
from sim.experiment.limits import check_run
from sim.model.replication import ModelInputs, compile_scenario, run_replication
from sim.results import manifest as mf
from sim.results.tables import Results, RowKeys, check_output_folder
from sim.scenario.loader import scenario_hash
from sim.scenario.schema import Scenario

log = logging.getLogger(__name__)

DEFAULT_SEED = 2025
DEFAULT_REPLICATIONS = 1000
"""Enough for the 5% and 95% quantiles of fan charts (see docs/EXPERIMENTS.md)."""
SWEEP_REPLICATIONS = 200
"""Per variant in a sweep, where many variants share the work."""
CHUNKS_PER_WORKER = 8
"""Chunks per worker and scenario: enough to balance load and move a progress bar."""
STREAM_CHUNKS = 32
"""Chunks per scenario in a streamed run, whatever the number of workers."""


@dataclass(frozen=True)
class Work:
    """What a worker needs for one scenario: compiled inputs, the output layout and, when
    only some outputs are wanted, the positions of those rows (to keep results small)."""

    inputs: ModelInputs
    layout: Layout
    rows: np.ndarray | None = None

    @property
    def width(self) -> int:
        return len(self.layout) if self.rows is None else len(self.rows)


def available_cores() -> int:
    """Cores this process may use (respects CPU affinity, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_jobs(jobs: int | str) -> int:
    """``"auto"`` -> the cores available; otherwise a positive whole number."""
    if jobs == "auto":
        return available_cores()
    jobs = int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1 or 'auto', got {jobs}")
    return jobs


def run_chunk(work: Work, seed: int, first: int, count: int) -> np.ndarray:
    """Replications ``first .. first + count - 1`` of one scenario: (count x rows) matrix."""
    out = np.empty((count, work.width))
    for i in range(count):
        values = reduce_replication(run_replication(work.inputs, seed, first + i), work.layout)
        out[i] = values if work.rows is None else values[work.rows]
    return out


def chunks(replications: int, jobs: int) -> list[tuple[int, int]]:
    """(first, count) of each chunk of consecutive replications."""
    size = max(1, -(-replications // (jobs * CHUNKS_PER_WORKER)))
    return [(first, min(size, replications - first)) for first in range(0, replications, size)]


# ------------------------------------------------------------------- process pool

_WORKER_WORK: list[Work] = []


def _initialise_worker(work: list[Work]) -> None:
    global _WORKER_WORK
    _WORKER_WORK = work
    # Ctrl-C is the parent's to handle: it stops the pool, so workers need not report it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_task(task: tuple[int, int, int, int]) -> tuple[int, int, np.ndarray]:
    scenario, seed, first, count = task
    return scenario, first, run_chunk(_WORKER_WORK[scenario], seed, first, count)


def _pool_context() -> mp.context.BaseContext:
    # fork starts workers in milliseconds with everything already imported; elsewhere
    # (macOS, Windows) spawn is the safe default
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods and sys.platform == "linux" else "spawn")


def _serial(work: list[Work], seed: int, tasks, done: Callable[[int], None]) -> Iterator:
    for scenario, first, count in tasks:
        yield scenario, first, run_chunk(work[scenario], seed, first, count)
        done(count)


def _processes(work: list[Work], seed: int, tasks, done: Callable[[int], None], jobs: int):
    """Run chunks on a local process pool, yielding them as they finish.

    A pool whose worker dies (killed, out of memory) is detected and the run stopped with
    :class:`~sim.errors.RunError`, instead of waiting for ever for the lost chunk.
    """
    executor = ProcessPoolExecutor(
        jobs, mp_context=_pool_context(), initializer=_initialise_worker, initargs=(work,)
    )
    try:
        # no list of the futures is kept, so each finished chunk is freed once handed on
        finished = as_completed(
            [executor.submit(_run_task, (scenario, seed, first, count))
             for scenario, first, count in tasks]
        )  # fmt: skip
        for future in finished:
            scenario, first, block = future.result()
            del future
            yield scenario, first, block
            done(len(block))
    except BrokenProcessPool:
        _stop_workers(executor)
        raise RunError(
            "a worker process stopped unexpectedly (killed, or out of memory?), so the run "
            "was stopped"
        ) from None
    except BaseException:
        _stop_workers(executor)  # interrupted or failed: stop the workers now
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers at once rather than let them finish their chunks."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


def _dask(
    work: list[Work],
    seed: int,
    tasks,
    done: Callable[[int], None],
    jobs: int,
    scheduler: str | None,
):
    """Run chunks on a Dask cluster: the one at ``scheduler``, or a local one of ``jobs``
    single-threaded worker processes. The compiled scenarios are sent to the workers once."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the dask backend needs: python -m pip install '.[dask]'") from exc
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("distributed").setLevel(logging.WARNING)  # keep the command quiet
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.WARNING)  # fmt: skip
        client = Client(cluster)
    try:
        remote = client.scatter(work, broadcast=True)
        futures = {}
        for scenario, first, count in tasks:
            future = client.submit(run_chunk, remote[scenario], seed, first, count, pure=False)
            futures[future] = (scenario, first, count)
        for future in as_completed(list(futures)):
            scenario, first, count = futures.pop(future)
            block = future.result()
            future.release()
            yield scenario, first, block
            done(count)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


BACKENDS = ("serial", "processes", "dask")


def run_experiment(
    scenarios: Sequence[Scenario],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = DEFAULT_SEED,
    jobs: int | str = 1,
    backend: str | None = None,
    progress: bool | None = None,
    command: str | None = None,
    scheduler: str | None = None,
) -> Results:
    """Run ``replications`` replications of each scenario and collect the results.

    Parameters
    ----------
    scenarios
        Validated scenarios with distinct names.
    replications
        Replications per scenario (at least 1).
    seed
        Master seed (non-negative); replication ``r`` uses streams keyed by (seed, r, purpose).
    jobs
        Worker processes, or ``"auto"`` for one per available core.
    backend
        ``"serial"``, ``"processes"`` or ``"dask"``; by default serial for one job, else
        processes.
    progress
        Show a progress bar on standard error; by default only when it is a terminal.
    command
        The command line that started the run, recorded in the manifest.
    scheduler
        Address of a Dask scheduler (``tcp://host:8786``) for the dask backend; without
        one a local Dask cluster of ``jobs`` workers is started.
    """
    n_jobs, backend = _check_run(scenarios, replications, seed, jobs, backend)

    started = mf.now_utc()
    clock = time.perf_counter()
    work = [Work(inputs, build_layout(inputs)) for inputs in map(compile_scenario, scenarios)]
    values = _run_work(work, replications, seed, n_jobs, backend, progress, scheduler)
    elapsed = time.perf_counter() - clock
    log.info("%d replications of %d scenarios in %.2f s", replications, len(work), elapsed)

    manifest = build_manifest(
        scenarios, seed, replications, n_jobs, backend, command, started, elapsed
    )
    return Results(
        scenarios={s.name: s for s in scenarios},
        keys={
            s.name: RowKeys(w.layout.frequency, w.layout.period, w.layout.metric, w.layout.group)
            for s, w in zip(scenarios, work, strict=True)
        },
        values={s.name: v for s, v in zip(scenarios, values, strict=True)},
        manifest=manifest,
    )


def _check_run(
    scenarios, replications: int, seed: int, jobs, backend: str | None
) -> tuple[int, str]:
    """Check run settings; return the number of workers and the backend to use."""
    for name, value in (("replications", replications), ("seed", seed)):
        # 1.5 would run as 1 and be recorded as 1.5; True would run as 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    if replications < 1:
        raise ValueError("replications must be at least 1")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    names = [s.name for s in scenarios]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"give one or more scenarios with distinct names, got {names[:5]}")
    n_jobs = resolve_jobs(jobs)
    backend = backend or ("serial" if n_jobs == 1 else "processes")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return n_jobs, backend


def build_manifest(scenarios, seed, replications, jobs, backend, command, started, elapsed) -> dict:
    """What was run, with what, where and when (``manifest.json``)."""
    return {
        "package_version": mf.package_version(),
        "git": mf.git_state(),
        "seed": seed,
        "replications": replications,
        "jobs": jobs,
        "backend": backend,
        "command": command,
        "scenarios": {s.name: {"sha256": scenario_hash(s)} for s in scenarios},
        "libraries": mf.library_versions(),
        "started_utc": started,
        "run_seconds": round(elapsed, 3),
        "machine": mf.machine(),
    }


def run_to_folder(
    scenarios: Sequence[Scenario],
    folder: str | Path,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = DEFAULT_SEED,
    jobs: int | str = "auto",
    backend: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    command: str | None = None,
    extra_tables: Callable[[list[RowKeys], Callable[[int], np.ndarray]], dict] | None = None,
    max_chunks: int | None = None,
) -> tuple[Path | None, StreamStats]:  # noqa: F821 (imported lazily)
    """Run scenarios streaming each finished chunk to disk, then assemble ``folder``.

    Memory stays flat however many scenarios and replications are run; an interrupted run
    resumes (``resume=True``) without redoing or duplicating finished chunks. Results are
    identical to :func:`run_experiment` with the same seed and replications.
    ``extra_tables(keys, load)`` may return more tables (file name to DataFrame) to write
    into the folder, given the row keys and a loader of each scenario's value matrix.
    ``max_chunks`` stops after computing that many chunks (for time-boxed sessions on a
    cluster): the folder is then not assembled, ``None`` is returned as its path, and a
    later call with ``resume=True`` carries on.
    """
    from sim.experiment.store import ChunkStore, StreamStats

    n_jobs, backend = _check_run(scenarios, replications, seed, jobs, backend)
    started = mf.now_utc()
    clock = time.perf_counter()
    # chunk boundaries depend only on the replications, so a run can be resumed with other
    # workers or another backend (start on a laptop, finish on a cluster)
    plan_chunks = chunks(replications, STREAM_CHUNKS // CHUNKS_PER_WORKER)
    check_output_folder(folder, force, "results folder")  # before computing anything
    work = [Work(inputs, build_layout(inputs)) for inputs in map(compile_scenario, scenarios)]
    widths = [w.width for w in work]
    check_run(widths, replications, n_jobs, STREAM_CHUNKS, False, backend != "dask" or not scheduler)
    with ChunkStore(folder, scenarios, replications, seed, plan_chunks, resume, widths) as store:
        tasks = [
            (i, first, count)
            for i in range(len(work))
            for first, count in plan_chunks
            if not store.done(i, first, count)
        ]
        total = len(work) * len(plan_chunks)
        reused = total - len(tasks)
        unfinished = max_chunks is not None and len(tasks) > max_chunks
        if unfinished:
            tasks = tasks[:max_chunks]
        computed = 0
        with (
            _ProgressBar(len(tasks) and sum(t[2] for t in tasks), progress) as bar,
            closing(_stream(work, seed, tasks, bar, n_jobs, backend, scheduler)) as stream,
        ):
            try:
                for scenario, first, block in stream:
                    store.write(scenario, first, block)
                    computed += 1
            except RunError as exc:
                raise RunError(
                    f"{folder}: {exc}. {reused + computed} of {total} chunks are finished and "
                    f"kept in {store.path}; run the same command with --resume to continue"
                ) from None
        elapsed = time.perf_counter() - clock
        stats = StreamStats(total, len(tasks), reused, store.damaged)
        if unfinished:
            return None, stats
        keys = [
            RowKeys(w.layout.frequency, w.layout.period, w.layout.metric, w.layout.group)
            for w in work
        ]
        manifest = build_manifest(
            scenarios, seed, replications, n_jobs, backend, command, started, elapsed
        )
        manifest["resumed_chunks"] = reused
        extra = extra_tables(keys, store.load) if extra_tables else None
        result_folder = store.finalise(keys, manifest, extra, force=force)
    return result_folder, stats


def _stream(work, seed, tasks, bar, jobs, backend, scheduler):
    if backend == "serial":
        return _serial(work, seed, tasks, bar)
    if backend == "dask":
        return _dask(work, seed, tasks, bar, jobs, scheduler)
    return _processes(work, seed, tasks, bar, jobs)


def _run_work(
    work: list[Work],
    replications: int,
    seed: int,
    jobs: int,
    backend: str,
    progress: bool | None,
    scheduler: str | None = None,
) -> list[np.ndarray]:
    """Run every scenario's replications; one (replications x width) matrix per scenario."""
    check_run([w.width for w in work], replications, jobs, jobs * CHUNKS_PER_WORKER, True, backend != "dask" or not scheduler)  # fmt: skip
    values = [np.empty((replications, w.width)) for w in work]
    tasks = [
        (i, first, count) for i in range(len(work)) for first, count in chunks(replications, jobs)
    ]
    with (
        _ProgressBar(len(work) * replications, progress) as bar,
        closing(_stream(work, seed, tasks, bar, jobs, backend, scheduler)) as stream,
    ):
        for scenario, first, block in stream:
            values[scenario][first : first + len(block)] = block
    return values


def run_outputs(
    scenarios: Sequence[Scenario],
    select: Callable[[Layout], np.ndarray],
    replications: int,
    seed: int = DEFAULT_SEED,
    jobs: int | str = 1,
    progress: bool | None = None,
) -> list[np.ndarray]:
    """Like :func:`run_experiment`, but keep only the rows ``select(layout)`` picks.

    For analyses that run many scenario variants (sensitivity, planning) and need a few
    outputs of each: workers send back only those rows. Returns, per scenario, a
    (replications x selected rows) matrix. Scenario names need not differ.
    """
    n_jobs = resolve_jobs(jobs)
    work = []
    for inputs in map(compile_scenario, scenarios):
        layout = build_layout(inputs)
        work.append(Work(inputs, layout, np.flatnonzero(select(layout))))
    return _run_work(
        work, replications, seed, n_jobs, "serial" if n_jobs == 1 else "processes", progress
    )


class _ProgressBar:
    """A tqdm bar on standard error when wanted; otherwise a no-op counter."""

    def __init__(self, total: int, show: bool | None):
        self.total = total
        self.show = sys.stderr.isatty() if show is None else show
        self._bar = None

    def __enter__(self) -> _ProgressBar:
        if self.show:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="rep", file=sys.stderr, leave=False)
        return self

    def __call__(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
