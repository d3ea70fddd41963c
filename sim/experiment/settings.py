"""Run settings: how many replications, which seed, where to run them. Not scenario content.

:class:`RunSettings` is the one object every runner takes (:func:`~sim.experiment.runner.
run_experiment`, :func:`~sim.experiment.runner.run_to_folder`,
:func:`~sim.experiment.runner.run_outputs`, :func:`~sim.experiment.runner.replicate`). It is
checked once, when made, so a bad setting fails before any work. No simulation here.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.experiment.pool import WorkerPool
    from sim.experiment.progress import ProgressBar

DEFAULT_SEED = 2025
DEFAULT_REPLICATIONS = 1000
"""Enough for the 5% and 95% quantiles of fan charts (see docs/EXPERIMENTS.md)."""
SWEEP_REPLICATIONS = 200
"""Per variant in a sweep, where many variants share the work."""
BACKENDS = ("serial", "processes", "dask")


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


UNCERTAINTY_MODES = ("noise", "parameters")
"""``noise``: fixed assumptions; ``parameters``: each replication draws the uncertain ones."""
FORECAST_UNCERTAINTY = "parameters"
"""Forecasts carry the assumptions' uncertainty unless asked for ``noise`` alone."""


@dataclass(frozen=True)
class RunSettings:
    """How to run replications (checked when made; ``ValueError`` naming the setting).

    Attributes
    ----------
    replications
        Replications per scenario, a whole number of at least 1.
    seed
        Master seed, a whole number of at least 0; replication ``r`` uses streams keyed by
        (seed, r, purpose), the same in every scenario (common random numbers).
    jobs
        Worker processes, or ``"auto"`` for one per available core (see :attr:`workers`).
    backend
        ``"serial"``, ``"processes"`` or ``"dask"``; None: serial for one worker, else
        processes (see :attr:`engine`).
    scheduler
        Address of a Dask scheduler (``tcp://host:8786``); None starts a local cluster.
    progress
        Show a progress bar on standard error; None: only when it is a terminal; or a
        :class:`~sim.experiment.progress.ProgressBar` the run advances (one bar over the
        many runs of a study). It never changes the results.
    uncertainty
        ``"noise"``: every replication uses the scenario's values (replications differ by
        their random numbers only); ``"parameters"``: each replication also draws every
        number whose note declares a range (:mod:`sim.experiment.uncertainty`). None: the
        default of what runs them (:meth:`with_uncertainty`): forecasts
        (:func:`~sim.experiment.runner.run_experiment`,
        :func:`~sim.experiment.runner.run_to_folder`, the ``run`` and ``sweep`` commands)
        draw the parameters; analyses that fit or check the model at given values
        (calibration, validation, theory, the back-test, sensitivity, the planner) and
        :func:`~sim.experiment.runner.replicate` hold them fixed.
    """

    replications: int = DEFAULT_REPLICATIONS
    seed: int = DEFAULT_SEED
    jobs: int | str = 1
    backend: str | None = None
    scheduler: str | None = None
    progress: bool | ProgressBar | None = None
    uncertainty: str | None = None
    pool: WorkerPool | None = None
    """Worker processes kept alive between runs (:class:`~sim.experiment.pool.WorkerPool`),
    used by the processes backend instead of starting its own; None: a pool per run."""

    def __post_init__(self) -> None:
        if self.uncertainty is not None and self.uncertainty not in UNCERTAINTY_MODES:
            raise ValueError(
                f"uncertainty must be one of {UNCERTAINTY_MODES}, got {self.uncertainty!r}"
            )
        for name in ("replications", "seed"):
            value = getattr(self, name)
            # 1.5 would run as 1 and be recorded as 1.5; True would run as 1
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        if self.replications < 1:
            raise ValueError("replications must be at least 1")
        if self.seed < 0:
            raise ValueError("seed must be a non-negative integer")
        resolve_jobs(self.jobs)
        if self.backend is not None and self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")

    def with_uncertainty(self, default: str) -> RunSettings:
        """These settings with ``uncertainty`` set to ``default`` where it was left None."""
        return self if self.uncertainty is not None else replace(self, uncertainty=default)

    @property
    def workers(self) -> int:
        """The number of worker processes (``"auto"`` resolved to the cores available)."""
        return resolve_jobs(self.jobs)

    @property
    def engine(self) -> str:
        """The backend used: as given, or serial for one worker and processes for more."""
        return self.backend or ("serial" if self.workers == 1 else "processes")


def settings_from(
    settings: RunSettings | None, defaults: RunSettings, **given
) -> RunSettings:
    """``settings``, or ``defaults`` with the keyword settings given (not None) put in.

    Lets the runners take either a :class:`RunSettings` or the older keywords; giving both
    is an error (which one would win is not obvious).
    """
    given = {name: value for name, value in given.items() if value is not None}
    if settings is None:
        return RunSettings(**{**defaults.__dict__, **given})
    if given:
        raise TypeError(f"give settings= or {', '.join(sorted(given))}, not both")
    return settings
