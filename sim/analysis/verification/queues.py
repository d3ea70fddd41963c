"""Plain-queue scenarios for the theory checks, simulated and measured.

Role: derive from a baseline the scenarios in which the programme must behave as a textbook
system (an M/M/c queue with ``c`` places; an M/G/infinity system with no cap), run them
through the experiment layer's :func:`~sim.experiment.runner.replicate`, and reduce each
replication to the per-replication measurements the checks compare with theory
(:class:`QueueSample`, :class:`CaseloadSample`).

Must not: compute what theory expects, decide PASS or FAIL, or format text (that is
:mod:`.formulas` and :mod:`.checks`); nor print, write files or use pandas. Seeds are
parameters, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.calendar import WEEKS_PER_YEAR
from sim.experiment.runner import RunSettings, replicate
from sim.model import ModelInputs, ReplicationResult, compile_scenario
from sim.scenario import Scenario, with_changes

from .formulas import poisson_mean_caseload

ZERO_WEEKS: dict[str, Any] = {"distribution": "fixed", "weeks": 0.0}

QUEUE_SERVERS = 5
QUEUE_UTILISATION = 0.75
QUEUE_MEAN_STAY = 10.0
"""M/M/c check: places, utilisation and mean exponential stay (weeks). The stay is short,
so the queue forgets its empty start within the warm-up."""
QUEUE_YEARS = 20
QUEUE_WINDOW_YEARS = (3.0, 18.0)
"""M/M/c check: horizon, and the window (years) in which referrals are measured."""

NO_CAP_RATE_PER_WEEK = 0.4
NO_CAP_YEARS = 12
NO_CAP_WARM_UP_YEARS = 3.0
NO_CAP_STAYS: dict[str, dict[str, Any]] = {
    "exponential": {"distribution": "exponential", "mean_weeks": 30.0},
    "lognormal": {"distribution": "lognormal", "median_weeks": 25.0, "sigma": 0.7},
}
"""M/G/infinity checks: referral rate (per week), horizon, warm-up (years), stays."""


def queue_scenario(
    baseline: Scenario,
    cap: int | None,
    rate_per_year: float,
    stay: Mapping[str, Any],
    years: int = 20,
) -> Scenario:
    """The programme as a plain queue, derived from ``baseline`` with ``with_changes``.

    Poisson referrals, one phase with the given stay distribution (the other phases last
    zero weeks), no support hours (so the team never limits), first come first served, no
    relapse, and nobody in the programme or waiting at the start.

    Parameters
    ----------
    baseline
        Scenario to derive from (not modified).
    cap
        Places in the programme (trusts at once); ``None`` for no cap.
    rate_per_year
        Poisson referral rate, trusts per year.
    stay
        Duration specification of the improvement phase, as in a scenario file, e.g.
        ``{"distribution": "exponential", "mean_weeks": 10.0}`` (weeks).
    years
        Horizon, years.

    Returns
    -------
    Scenario
        The validated queue scenario, named ``queue``.
    """

    def phase(duration: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "duration": dict(duration),
            "support_hours_per_week": 0.0,
            "blend": {"national": 1.0, "nhs_family": 0.0, "consultancy": 0.0},
        }

    return with_changes(
        baseline,
        {
            "name": "queue",
            "horizon_years": years,
            "programme.cap": cap,
            "programme.referrals": {"mode": "poisson", "rate_per_year": rate_per_year},
            "programme.priority": ["longest_waiting"],
            "programme.phases": {
                "diagnostic": phase(ZERO_WEEKS),
                "improvement": phase(stay),
                "exit": phase(ZERO_WEEKS),
                "transitional": phase(ZERO_WEEKS),
            },
            "programme.relapse_probability": 0.0,
            "programme.initial": {"in_programme": [], "waiting": []},
        },
    )


def whole_replications(
    inputs: ModelInputs, replications: int, seed: int, progress=False
) -> Iterator[ReplicationResult]:
    """The replications of compiled ``inputs`` (serially), in order; ``progress`` as
    the ``progress`` of :class:`~sim.experiment.settings.RunSettings` (by default
    no bar)."""
    return replicate(inputs, RunSettings(replications, seed, progress=progress))


THEORY_SETTINGS = RunSettings(replications=120, seed=7, progress=False)
"""Replications of each queue: enough for tolerances of a few standard errors."""


def _run_queue(
    baseline: Scenario,
    cap: int | None,
    rate_per_week: float,
    stay: Mapping[str, Any],
    years: int,
    settings: RunSettings,
) -> tuple[ModelInputs, Iterator[ReplicationResult]]:
    """Compile the :func:`queue_scenario` and start its replications (serially)."""
    scenario = queue_scenario(baseline, cap, rate_per_week * WEEKS_PER_YEAR, stay, years=years)
    inputs = compile_scenario(scenario)
    return inputs, whole_replications(inputs, settings.replications, settings.seed,
                                      settings.progress)


# --------------------------------------------------------------------- M/M/c queue


@dataclass(frozen=True)
class QueueSample:
    """Per-replication measurements of the M/M/c queue scenario (see :func:`simulate_queue`).

    Arrays have one entry per replication. The referral window and the Little's-law window
    are the same years; waits and stays are in weeks, rates per week, counts in trusts.
    """

    servers: int
    rate_per_week: float
    """Poisson referral rate, trusts per week."""
    mean_stay: float
    """Mean exponential stay in a place, weeks."""
    window_years: tuple[float, float]
    p_wait: np.ndarray
    """Share of referrals in the window who waited for a place."""
    mean_wait: np.ndarray
    """Mean wait of referrals in the window, weeks (zero for those who did not wait)."""
    not_admitted: int
    """Referrals in the window never admitted by the horizon (in all replications)."""
    waiting_list: np.ndarray
    """Time-average waiting list over the window's weeks, trusts."""
    in_programme: np.ndarray
    """Time-average trusts in the programme over the window's weeks."""
    admissions_per_week: np.ndarray
    """Admissions in the window per week."""
    admitted_wait: np.ndarray
    """Mean wait of the trusts admitted in the window, weeks."""
    admitted_stay: np.ndarray
    """Mean stay of the trusts admitted in the window, weeks (censored at the horizon)."""

    @property
    def offered_load(self) -> float:
        """Offered load, erlangs: referral rate x mean stay."""
        return self.rate_per_week * self.mean_stay

    @property
    def replications(self) -> int:
        return int(self.p_wait.size)


def simulate_queue(
    baseline: Scenario,
    settings: RunSettings = THEORY_SETTINGS,
    servers: int = QUEUE_SERVERS,
    utilisation: float = QUEUE_UTILISATION,
    mean_stay: float = QUEUE_MEAN_STAY,
) -> QueueSample:
    """Run the M/M/c queue scenario and measure each replication.

    The horizon is :data:`QUEUE_YEARS` years; referrals, admissions and the weekly stocks
    are measured in the window :data:`QUEUE_WINDOW_YEARS` (after a warm-up that lets the
    queue forget its empty start, and well before the horizon, so everyone referred in
    the window is admitted).

    Parameters
    ----------
    baseline
        Scenario the queue scenario is derived from.
    settings
        Replications (at least two) and master seed; runs are serial, without progress.
    servers
        Places ``c``.
    utilisation
        Offered load per place, ``a / c`` (below 1).
    mean_stay
        Mean exponential stay, weeks.

    Returns
    -------
    QueueSample
    """
    rate_per_week = utilisation * servers / mean_stay
    stay = {"distribution": "exponential", "mean_weeks": mean_stay}
    inputs, results = _run_queue(
        baseline, servers, rate_per_week, stay, QUEUE_YEARS, settings
    )
    start, end = (years * WEEKS_PER_YEAR for years in QUEUE_WINDOW_YEARS)
    first_week, last_week = int(start), int(end)  # whole weeks [first_week, last_week)
    weeks = last_week - first_week
    horizon = inputs.population.horizon_weeks
    out: dict[str, list[float]] = {
        k: []
        for k in (
            "p_wait",
            "mean_wait",
            "waiting_list",
            "in_programme",
            "admissions_per_week",
            "admitted_wait",
            "admitted_stay",
        )
    }
    not_admitted = 0
    for result in results:
        spells, weekly = result.spells, result.weekly
        referred = (spells["referral"] >= start) & (spells["referral"] < end)
        waits = spells["admission"][referred] - spells["referral"][referred]
        not_admitted += int(np.isnan(waits).sum())
        waits = waits[~np.isnan(waits)]
        out["p_wait"].append(float(np.mean(waits > 1e-9)))
        out["mean_wait"].append(float(waits.mean()))
        # Little's law: weekly stocks over the window's weeks against the flow through it
        out["waiting_list"].append(float(weekly["waiting"][first_week:last_week].mean()))
        caseload = weekly["caseload"][first_week:last_week, :3].sum(axis=1)
        out["in_programme"].append(float(caseload.mean()))
        admitted = (spells["admission"] >= first_week) & (spells["admission"] < last_week)
        out["admissions_per_week"].append(float(admitted.sum()) / weeks)
        admission = spells["admission"][admitted]
        out["admitted_wait"].append(float(np.mean(admission - spells["referral"][admitted])))
        # stays still open at the horizon (two years after the window) are censored there
        exits = np.where(np.isnan(spells["exit"]), horizon, spells["exit"])[admitted]
        out["admitted_stay"].append(float(np.mean(exits - admission)))
    return QueueSample(
        servers=servers,
        rate_per_week=rate_per_week,
        mean_stay=mean_stay,
        window_years=QUEUE_WINDOW_YEARS,
        not_admitted=not_admitted,
        **{k: np.asarray(v) for k, v in out.items()},
    )


# ------------------------------------------------------------- M/G/infinity (no cap)


@dataclass(frozen=True)
class CaseloadSample:
    """Weekly trusts in the programme with no cap (see :func:`simulate_no_cap`)."""

    label: str
    """Short name of the stay distribution, e.g. ``lognormal``."""
    stay: dict[str, Any]
    """The stay specification (weeks)."""
    rate_per_week: float
    """Poisson referral rate, trusts per week."""
    mean_stay: float
    """Mean stay, weeks."""
    warm_up_years: float
    caseload: np.ndarray
    """(replications, weeks) trusts in the programme at the end of each week after the
    warm-up."""

    @property
    def expected_mean(self) -> float:
        """M/G/infinity mean caseload, trusts: referral rate x mean stay."""
        return poisson_mean_caseload(self.rate_per_week, self.mean_stay)


def simulate_no_cap(
    baseline: Scenario,
    stay: Mapping[str, Any],
    label: str,
    settings: RunSettings = THEORY_SETTINGS,
) -> CaseloadSample:
    """Run the programme with no cap (an M/G/infinity system) and record its caseload.

    Referrals arrive at :data:`NO_CAP_RATE_PER_WEEK` for :data:`NO_CAP_YEARS` years; the
    first :data:`NO_CAP_WARM_UP_YEARS` are discarded (the system starts empty).

    Parameters
    ----------
    baseline
        Scenario the no-cap scenario is derived from.
    stay
        Stay specification (weeks), as in a scenario file.
    label
        Short name of the stay distribution, used in check names.
    settings
        As for :func:`simulate_queue`.

    Returns
    -------
    CaseloadSample
    """
    inputs, results = _run_queue(
        baseline, None, NO_CAP_RATE_PER_WEEK, stay, NO_CAP_YEARS, settings
    )
    first = int(NO_CAP_WARM_UP_YEARS * WEEKS_PER_YEAR)
    caseload = np.stack(
        [result.weekly["caseload"][first:, :3].sum(axis=1) for result in results]
    ).astype(float)
    return CaseloadSample(
        label=label,
        stay=dict(stay),
        rate_per_week=NO_CAP_RATE_PER_WEEK,
        mean_stay=inputs.programme.durations[1].mean,
        warm_up_years=NO_CAP_WARM_UP_YEARS,
        caseload=caseload,
    )
