"""A pool of worker processes kept alive between runs, for interactive use.

The runners start a process pool for each run and close it at the end, which suits a
command (one run, then exit). A notebook re-runs every time a control moves: starting
workers each time costs a fork of the whole kernel. :class:`WorkerPool` starts its
workers on first use and keeps them until :meth:`WorkerPool.close` (or the end of the
with-block, the pool being garbage-collected, or the interpreter's exit). Pass it as
``RunSettings(pool=...)``; the processes backend then runs its chunks there.

Workers started once cannot be handed each run's compiled scenarios when they start (as
the runner's own pools are), so each chunk carries them, pickled once per run, and a worker
unpickles them once per run and keeps the last few. Results are the same as any other
backend's: a chunk is a pure function of (scenario, seed, replications), whoever runs it.
Nothing here simulates (the chunks are :func:`sim.experiment.runner.run_chunk`).
"""

from __future__ import annotations

import itertools
import pickle
import signal
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from sim.errors import RunError
from sim.experiment.settings import resolve_jobs

KEPT_RUNS = 4
"""Runs whose compiled scenarios a worker keeps (a run's chunks may interleave with the
stragglers of an interrupted one)."""
_WORKER_RUNS: OrderedDict[tuple[int, int], list] = OrderedDict()
"""In a worker: the compiled scenarios (list of ``Work``) of recent runs, by run token."""


def _ignore_interrupts() -> None:
    # Ctrl-C (or a notebook's interrupt) is the parent's to handle, as in the runner's pools
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_pooled_chunk(token: tuple[int, int], payload: bytes, scenario: int, seed: int,
                      first: int, count: int):  # fmt: skip
    """In a worker: one chunk of run ``token`` (its work unpickled once per worker)."""
    from sim.experiment.runner import run_chunk

    work = _WORKER_RUNS.get(token)
    if work is None:
        work = _WORKER_RUNS[token] = pickle.loads(payload)
        while len(_WORKER_RUNS) > KEPT_RUNS:
            _WORKER_RUNS.popitem(last=False)
    return scenario, first, run_chunk(work[scenario], seed, first, count)


def _shutdown(state: dict) -> None:
    """Stop a pool's workers (also at exit or when the pool is garbage-collected)."""
    executor = state.pop("executor", None)
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)


class WorkerPool:
    """Worker processes kept alive between runs (``jobs``: a number, or ``"auto"`` for one
    per available core). Started on first use; closed by :meth:`close`, at the end of a
    with-block, when garbage-collected, or at the interpreter's exit."""

    _tokens = itertools.count()

    def __init__(self, jobs: int | str = "auto"):
        self.workers = resolve_jobs(jobs)
        self.starts = 0
        """How many times workers were started (1 however many runs, unless one died)."""
        self._state: dict = {}
        self._id = next(self._tokens)
        self._runs = itertools.count()
        self._finalizer = weakref.finalize(self, _shutdown, self._state)  # atexit too

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Stop the workers (waiting for chunks under way); the pool cannot be used again."""
        self._finalizer()

    def executor(self) -> ProcessPoolExecutor:
        """The pool's executor, its workers started on first use."""
        if self.closed:
            raise RuntimeError("this worker pool is closed")
        if "executor" not in self._state:
            from sim.experiment.runner import _pool_context

            self._state["executor"] = ProcessPoolExecutor(
                self.workers, mp_context=_pool_context(), initializer=_ignore_interrupts
            )
            self.starts += 1
        return self._state["executor"]

    def pids(self) -> set[int]:
        """Process ids of the workers now running (empty before the first run)."""
        executor = self._state.get("executor")
        processes = getattr(executor, "_processes", None) or {}
        return {process.pid for process in processes.values()}

    def stream(self, work: list, seed: int, tasks, done: Callable[[int], None]) -> Iterator:
        """Run ``tasks`` (scenario, first, count) of ``work`` here, yielding (scenario,
        first, block) as each finishes and calling ``done(count)``. A worker that dies
        stops the run with :class:`~sim.errors.RunError`; the next run starts new workers."""
        executor = self.executor()
        token = (self._id, next(self._runs))
        payload = pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)
        pending = {executor.submit(_run_pooled_chunk, token, payload, scenario, seed, first, count)
                   for scenario, first, count in tasks}  # fmt: skip
        try:
            for future in as_completed(pending):
                pending.discard(future)
                scenario, first, block = future.result()
                yield scenario, first, block
                done(len(block))
        except BrokenProcessPool:
            from sim.experiment.runner import _stop_workers

            _stop_workers(executor)
            self._state.pop("executor", None)
            executor.shutdown(wait=False, cancel_futures=True)
            raise RunError(
                "a worker process stopped unexpectedly (killed, or out of memory?), so the run "
                "was stopped"
            ) from None
        finally:
            # interrupted or failed: drop the chunks not started; the workers stay for the
            # next run (chunks under way finish, and their results are not read)
            for future in pending:
                future.cancel()
