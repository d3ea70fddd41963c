"""Experiments: many replications of one or more scenarios, serial or in parallel.

The unit of work is a pure function of (compiled scenario, seed, replication), reduced in
the worker to a vector of period figures (:mod:`sim.experiment.layout`). Replication ``r`` of every
scenario uses the same random streams (common random numbers), which is what makes paired
comparisons tight. Work is cut into chunks of consecutive replications; each chunk returns
a small matrix and chunks are put back in replication order, so one process, a pool of
any size, or a cluster all give identical results.

Backends: ``serial`` (this process), ``processes`` (a local process pool) and ``dask``. The
compiled scenarios are sent to each worker once, when it starts, not with every chunk.
Every way of running replications goes through the same chunking, backends and progress
bar: :func:`run_experiment`, :func:`run_to_folder` and :func:`run_outputs` reduce each
replication to period figures; :func:`replicate` hands back each replication (or what a
given function makes of it) to analyses that need more than the figures. All take one
:class:`~sim.experiment.settings.RunSettings`.

Importing this module does not import pandas (worker processes stay light): the results
tables are built, and their module imported, only when a run finishes.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import RunError
from sim.experiment.layout import Layout, build_layout, reduce_replications
from sim.experiment.limits import check_run
from sim.experiment.progress import bar_for
from sim.experiment.settings import (  # noqa: F401 (importable from here, as before)
    BACKENDS,
    DEFAULT_REPLICATIONS,
    DEFAULT_SEED,
    FORECAST_UNCERTAINTY,
    SWEEP_REPLICATIONS,
    RunSettings,
    available_cores,
    resolve_jobs,
    settings_from,
)
from sim.experiment.uncertainty import ParameterDraws, variance_split
from sim.model.replication import (
    MAX_BATCH,
    ModelInputs,
    ReplicationResult,
    compile_scenario,
    run_replications,
)
from sim.results import manifest as mf
from sim.results.keys import RowKeys
from sim.scenario.loader import scenario_hash
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    from sim.experiment.store import StreamStats
    from sim.results.tables import Results

log = logging.getLogger(__name__)

CHUNKS_PER_WORKER = 8
"""Chunks per worker and scenario: enough to balance load and move a progress bar."""
STREAM_CHUNKS = 32
"""Chunks per scenario in a streamed run, whatever the number of workers (more when they
would be larger than :data:`STREAM_CHUNK_VALUES`)."""
STREAM_CHUNK_VALUES = 2**20
"""Most values in one chunk of a streamed run (8 MiB; about 150 replications of a 5-year
forecast): beyond 32 chunks of that, more chunks rather than larger ones."""


@dataclass(frozen=True)
class Work:
    """What a worker needs for one scenario: compiled inputs, the output layout and, when
    only some outputs are wanted, the positions of those rows (to keep results small).
    With ``reduce`` (and no layout) each replication is handed to it instead, and a chunk
    is the list of what it returns (:func:`replicate`)."""

    inputs: ModelInputs
    layout: Layout | None
    rows: np.ndarray | None = None
    reduce: Callable[[ReplicationResult], Any] | None = None
    draws: ParameterDraws | None = None
    """Per-replication draws of the uncertain assumptions (parameter uncertainty), or None."""

    @property
    def width(self) -> int:
        return len(self.layout) if self.rows is None else len(self.rows)

    def inputs_of(self, replication: int) -> ModelInputs:
        """The compiled inputs replication ``replication`` runs with."""
        return self.inputs if self.draws is None else self.draws.inputs(replication)


def _draws(scenario: Scenario, settings: RunSettings) -> ParameterDraws | None:
    if settings.uncertainty != "parameters":
        return None
    return ParameterDraws(scenario, settings.seed, settings.replications)


def run_chunk(work: Work, seed: int, first: int, count: int) -> np.ndarray | list:
    """Replications ``first .. first + count - 1`` of one scenario: (count x rows) matrix,
    or with ``work.reduce`` the list of what it makes of each replication."""
    reduced: list = []
    for start in range(first, first + count, MAX_BATCH):  # a batch's results at a time
        replications = range(start, min(start + MAX_BATCH, first + count))
        results = run_replications([work.inputs_of(r) for r in replications], seed, replications)
        if work.reduce is not None:
            reduced += [work.reduce(result) for result in results]
        else:
            reduced.append(reduce_replications(results, work.layout))
    if work.reduce is not None:
        return reduced
    out = np.concatenate(reduced) if reduced else np.empty((0, work.width))
    return out if work.rows is None else out[:, work.rows]


def chunks(replications: int, jobs: int) -> list[tuple[int, int]]:
    """(first, count) of each chunk of consecutive replications."""
    size = max(1, -(-replications // (jobs * CHUNKS_PER_WORKER)))
    return [(first, min(size, replications - first)) for first in range(0, replications, size)]


def stream_chunks(replications: int, width: int) -> list[tuple[int, int]]:
    """Chunks of a streamed run: :data:`STREAM_CHUNKS` of them, unless that would put more
    than :data:`STREAM_CHUNK_VALUES` values (``width`` per replication) in one; then as many
    of that size as needed, so a worker and the parent hold little however many replications
    there are."""
    plan = chunks(replications, STREAM_CHUNKS // CHUNKS_PER_WORKER)
    most = max(1, STREAM_CHUNK_VALUES // max(1, width))
    if plan[0][1] <= most:
        return plan
    return [(first, min(most, replications - first)) for first in range(0, replications, most)]


# ------------------------------------------------------------------- process pool

_WORKER_WORK: list[Work] = []


def _initialise_worker(work: list[Work]) -> None:
    global _WORKER_WORK
    _WORKER_WORK = work
    # Ctrl-C is the parent's to handle: it stops the pool, so workers need not report it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_task(task: tuple[int, int, int, int]) -> tuple[int, int, np.ndarray | list]:
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
    finally:
        # Interrupted or failed: cancel the chunks not yet started and let the ones under
        # way finish (each is a small share of the run). Terminating a worker instead can
        # cut its reply in half, and the pool's reader thread then waits for ever.
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


def run_experiment(
    scenarios: Sequence[Scenario],
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | str | None = None,
    backend: str | None = None,
    progress: bool | None = None,
    command: str | None = None,
    scheduler: str | None = None,
    *,
    settings: RunSettings | None = None,
    uncertainty: str | None = None,
) -> Results:
    """Run the replications of each scenario and collect the results.

    Parameters
    ----------
    scenarios
        Validated scenarios with distinct names.
    settings
        Replications, seed, workers, backend, scheduler and progress bar
        (:class:`~sim.experiment.settings.RunSettings`; by default one worker). The older
        keywords ``replications``, ``seed``, ``jobs``, ``backend``, ``progress``,
        ``scheduler`` and ``uncertainty`` may be given instead. By default each replication
        draws the uncertain assumptions (``uncertainty="parameters"``).
    command
        The command line that started the run, recorded in the manifest.
    """
    settings = settings_from(settings, _EXPERIMENT, replications=replications, seed=seed,
                             jobs=jobs, backend=backend, progress=progress,
                             scheduler=scheduler, uncertainty=uncertainty
                             ).with_uncertainty(FORECAST_UNCERTAINTY)  # fmt: skip
    _check_names(scenarios)
    started = mf.now_utc()
    clock = time.perf_counter()
    work = [
        Work(inputs, build_layout(inputs), draws=_draws(scenario, settings))
        for scenario, inputs in zip(scenarios, map(compile_scenario, scenarios), strict=True)
    ]
    values = _run_work(work, settings)
    elapsed = time.perf_counter() - clock
    log.info("%d replications of %d scenarios in %.2f s", settings.replications, len(work),
             elapsed)  # fmt: skip

    from sim.results.tables import Results  # here: importing it imports pandas

    return Results(
        scenarios={s.name: s for s in scenarios},
        keys={s.name: w.layout.row_keys() for s, w in zip(scenarios, work, strict=True)},
        values={s.name: v for s, v in zip(scenarios, values, strict=True)},
        manifest=build_manifest(scenarios, settings, command, started, elapsed),
    )


_EXPERIMENT = RunSettings()
"""Defaults of :func:`run_experiment` and :func:`run_outputs`: one worker."""
_TO_FOLDER = RunSettings(jobs="auto")
"""Defaults of :func:`run_to_folder`: every available core."""


def _check_names(scenarios: Sequence[Scenario]) -> None:
    names = [s.name for s in scenarios]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"give one or more scenarios with distinct names, got {names[:5]}")


def build_manifest(
    scenarios, settings: RunSettings, command: str | None, started: str, elapsed: float
) -> dict:
    """What was run, with what, where and when (``manifest.json``)."""
    return {
        "package_version": mf.package_version(),
        "git": mf.git_state(),
        "seed": settings.seed,
        "replications": settings.replications,
        "jobs": settings.workers,
        "backend": settings.engine,
        "uncertainty": settings.uncertainty,
        "command": command,
        "scenarios": {
            s.name: {"sha256": scenario_hash(s), "regimes": s.regimes()} for s in scenarios
        },
        "libraries": mf.library_versions(),
        "started_utc": started,
        "run_seconds": round(elapsed, 3),
        "machine": mf.machine(),
    }


def run_to_folder(
    scenarios: Sequence[Scenario],
    folder: str | Path,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | str | None = None,
    backend: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    command: str | None = None,
    extra_tables: Callable[[list[RowKeys], Callable[[int], np.ndarray]], dict] | None = None,
    max_chunks: int | None = None,
    *,
    settings: RunSettings | None = None,
    precision: float | None = None,
    uncertainty: str | None = None,
) -> tuple[Path | None, StreamStats]:
    """Run scenarios streaming each finished chunk to disk, then assemble ``folder``.

    ``settings`` (:class:`~sim.experiment.settings.RunSettings`; by default every available
    core) may be replaced by the keywords ``replications``, ``seed``, ``jobs``,
    ``backend``, ``scheduler``, ``progress`` and ``uncertainty``. The folder is what
    :meth:`~sim.results.tables.Results.save` writes, ``adequacy.csv`` included (judged at
    relative ``precision``; None: the default).

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
    from sim.results.folder import check_output_folder

    settings = settings_from(settings, _TO_FOLDER, replications=replications, seed=seed,
                             jobs=jobs, backend=backend, progress=progress,
                             scheduler=scheduler, uncertainty=uncertainty
                             ).with_uncertainty(FORECAST_UNCERTAINTY)  # fmt: skip
    _check_names(scenarios)
    replications, seed, n_jobs = settings.replications, settings.seed, settings.workers
    backend, scheduler = settings.engine, settings.scheduler
    started = mf.now_utc()
    clock = time.perf_counter()
    check_output_folder(folder, force, "results folder")  # before computing anything
    work = [
        Work(inputs, build_layout(inputs), draws=_draws(scenario, settings))
        for scenario, inputs in zip(scenarios, map(compile_scenario, scenarios), strict=True)
    ]
    widths = [w.width for w in work]
    # chunk boundaries depend only on the replications and outputs, so a run can be resumed
    # with other workers or another backend (start on a laptop, finish on a cluster)
    plan_chunks = stream_chunks(replications, max(widths))
    check_run(widths, replications, n_jobs, len(plan_chunks), False, backend != "dask" or not scheduler)  # fmt: skip
    with ChunkStore(folder, scenarios, replications, seed, plan_chunks, resume, widths,
                    settings.uncertainty) as store:  # fmt: skip
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
        log.info("%d scenario(s) x %d replications: %d chunks to compute, %d reused; %s "
                 "backend, %d worker(s)", len(work), replications, len(tasks), reused,
                 backend, n_jobs)  # fmt: skip
        keys = [w.layout.row_keys() for w in work]
        # the results folder is written as the chunks arrive (the table, in order), so
        # writing overlaps with the workers; a run stopped early writes none
        column_tables = ({VARIANCE_FILE: variance_split}  # where the spread comes from
                         if settings.uncertainty == "parameters" else None)  # fmt: skip
        assembling = (nullcontext() if unfinished else
                      store.assembly(keys, force, precision, column_tables))  # fmt: skip
        computed = 0
        with assembling as assembly:
            with (
                bar_for(sum(t[2] for t in tasks), settings.progress) as bar,
                closing(_stream(work, seed, tasks, bar, n_jobs, backend, scheduler,
                                settings.pool)) as stream,
            ):
                try:
                    if assembly is not None:
                        assembly.advance()  # chunks of an earlier run, on disk
                    for scenario, first, block in stream:
                        store.write(scenario, first, block)
                        computed += 1
                        del block  # the table reads it back: hold one chunk at a time
                        if assembly is not None:
                            assembly.advance()
                except RunError as exc:
                    raise RunError(
                        f"{folder}: {exc}. {reused + computed} of {total} chunks are finished "
                        f"and kept in {store.path}; run the same command with --resume to "
                        "continue"
                    ) from None
            elapsed = time.perf_counter() - clock
            log.info("%d chunks computed in %.1f s; assembling %s", computed, elapsed, folder)
            stats = StreamStats(total, len(tasks), reused, store.damaged)
            if unfinished:
                return None, stats
            manifest = build_manifest(scenarios, settings, command, started, elapsed)
            manifest["resumed_chunks"] = reused
            extra = extra_tables(keys, store.load) if extra_tables else None
            assembly.finish(manifest, extra)
    return Path(folder), stats


VARIANCE_FILE = "variance_split.csv"
"""Results file of a parameter-uncertainty run: each output's variance split between the
assumptions and run-to-run noise (:func:`~sim.experiment.uncertainty.variance_split`),
taken from the chunks a block of rows at a time as the folder is assembled."""


def _stream(work, seed, tasks, bar, jobs, backend, scheduler, pool=None):
    if backend == "serial":
        return _serial(work, seed, tasks, bar)
    if backend == "dask":
        return _dask(work, seed, tasks, bar, jobs, scheduler)
    if pool is not None:  # workers kept alive between runs (the what-if)
        return pool.stream(work, seed, tasks, bar)
    return _processes(work, seed, tasks, bar, jobs)


def _run_work(work: list[Work], settings: RunSettings) -> list[np.ndarray]:
    """Run every scenario's replications; one (replications x width) matrix per scenario."""
    replications, jobs, backend = settings.replications, settings.workers, settings.engine
    check_run([w.width for w in work], replications, jobs, jobs * CHUNKS_PER_WORKER, True, backend != "dask" or not settings.scheduler)  # fmt: skip
    values = [np.empty((replications, w.width)) for w in work]
    tasks = [
        (i, first, count) for i in range(len(work)) for first, count in chunks(replications, jobs)
    ]
    for scenario, first, block in _run_tasks(work, tasks, settings):
        values[scenario][first : first + len(block)] = block
    return values


def _run_tasks(work: list[Work], tasks: list, settings: RunSettings) -> Iterator:
    """(scenario, first, block) of each chunk in ``tasks`` as it finishes, on the settings'
    backend, with its progress bar: the one engine under every runner here."""
    total = sum(count for _, _, count in tasks)
    with (
        bar_for(total, settings.progress) as bar,
        closing(_stream(work, settings.seed, tasks, bar, settings.workers, settings.engine,
                        settings.scheduler, settings.pool)) as stream,
    ):  # fmt: skip
        yield from stream


def run_outputs(
    scenarios: Sequence[Scenario],
    select: Callable[[Layout], np.ndarray],
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | str | None = None,
    progress: bool | None = None,
    *,
    settings: RunSettings | None = None,
) -> list[np.ndarray]:
    """Like :func:`run_experiment`, but keep only the rows ``select(layout)`` picks.

    For analyses that run many scenario variants (sensitivity, planning) and need a few
    outputs of each: workers send back only those rows. Returns, per scenario, a
    (replications x selected rows) matrix. Scenario names need not differ. ``settings``
    (by default one worker) or the older keywords say how to run.
    """
    settings = settings_from(settings, _EXPERIMENT, replications=replications, seed=seed,
                             jobs=jobs, progress=progress).with_uncertainty("noise")  # fmt: skip
    work = []
    for scenario in scenarios:
        inputs = compile_scenario(scenario)
        layout = build_layout(inputs)
        rows = np.flatnonzero(select(layout))
        work.append(Work(inputs, layout, rows, draws=_draws(scenario, settings)))
    return _run_work(work, settings)


def _whole(result: ReplicationResult) -> ReplicationResult:
    return result


def replicate(
    inputs: ModelInputs | Scenario,
    settings: RunSettings,
    reduce: Callable[[ReplicationResult], Any] | None = None,
) -> Iterator:
    """Replications ``0 .. settings.replications - 1`` of one scenario, yielded in order.

    Each item is the :class:`~sim.model.replication.ReplicationResult` of that replication,
    or what ``reduce`` makes of it (reduce in the workers, so only what is needed comes
    back; with the process backend on a platform that spawns workers it must be a
    module-level function). Replication ``r`` uses the streams of (seed, r) in every
    scenario (common random numbers), so the answer is the same serial or in parallel.
    For analyses that need more than the period figures (queueing checks, calibration,
    validation); runs go through the same chunks, backends and progress bar as
    :func:`run_experiment`. Serial runs yield each replication as it is made, so a loop
    over them holds one at a time; parallel ones hold chunks that finish early until
    their turn.
    """
    settings = settings.with_uncertainty("noise")  # analyses hold the parameters fixed
    draws = None
    if isinstance(inputs, Scenario):
        draws = _draws(inputs, settings)
        inputs = compile_scenario(inputs)
    elif settings.uncertainty == "parameters":
        raise ValueError(
            "parameter uncertainty needs the Scenario (its notes say the ranges); give the "
            "Scenario, or uncertainty='noise' to hold the parameters at the compiled values"
        )
    work = [Work(inputs, None, reduce=reduce or _whole, draws=draws)]
    tasks = [(0, first, count) for first, count in chunks(settings.replications, settings.workers)]
    waiting, turn = {}, 0  # chunks finished out of order, by first replication
    for _, first, block in _run_tasks(work, tasks, settings):
        waiting[first] = block
        while turn in waiting:
            block = waiting.pop(turn)
            turn += len(block)
            yield from block

