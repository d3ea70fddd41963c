"""Theory checks: the model against results from queueing theory and bookkeeping.

Set up so that it must behave as a textbook system, the model has to reproduce what is
known about that system. This module runs those checks outside the test suite, so that
users can see each check's numbers and whether it passed (``python -m sim theory``):

* With Poisson referrals, exponential stays, no team limit and ``c`` places the programme
  is an M/M/c queue: the probability of waiting and the mean wait are Erlang C's.
* With no cap it is an M/G/infinity system: the number of trusts in the programme is
  Poisson with mean (referral rate x mean stay), whatever the stay distribution.
* Little's law, L = lambda W, holds for the waiting list and for the programme.
* On the baseline, the weekly stocks follow the weekly flows exactly, and no trust is in
  two spells at once.

Statistical checks compare a mean of per-replication estimates with its theoretical
value, and pass when they differ by at most :data:`Z` standard errors of that mean, so
the tolerance comes from the simulation's own noise. Seeds are fixed: a run is
reproducible. Each check is its own function (taking simulated samples), so a check can
be run, or fed a deliberately wrong expectation, on its own.

No printing, no files and no pandas: :func:`format_checks` returns text for the caller to
show.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.calendar import WEEKS_PER_YEAR
from sim.experiment.runner import RunSettings, replicate
from sim.model import ModelInputs, ReplicationResult, compile_scenario
from sim.scenario import Scenario, with_changes

Z = 3.5
"""Tolerance of the statistical checks, in standard errors of the replication mean."""

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


# ------------------------------------------------------------------------- theory


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C formula).

    Parameters
    ----------
    servers
        Number of places ``c`` (trusts the programme can hold at once).
    offered_load
        Offered load ``a = lambda / mu`` in erlangs (arrival rate x mean stay, the mean
        number of places that would be busy without a cap); must be below ``servers``.

    Returns
    -------
    float
        Probability (0 to 1) that a referral finds every place taken and waits.
    """
    if not 0 <= offered_load < servers:
        raise ValueError(
            f"offered load {offered_load} must be in [0, {servers}) for a stable queue"
        )
    top = offered_load**servers / math.factorial(servers) * servers / (servers - offered_load)
    bottom = sum(offered_load**k / math.factorial(k) for k in range(servers))
    return top / (bottom + top)


def erlang_c_mean_wait(servers: int, offered_load: float, mean_stay: float) -> float:
    """Mean wait in an M/M/c queue, ``C(c, a) / (c mu - lambda) = C(c, a) s / (c - a)``.

    Parameters
    ----------
    servers
        Number of places ``c``.
    offered_load
        Offered load ``a`` in erlangs (arrival rate x mean stay).
    mean_stay
        Mean stay ``s = 1 / mu`` in a place, weeks.

    Returns
    -------
    float
        Mean wait from referral to admission over all referrals (those who do not wait
        count as zero), weeks.
    """
    return erlang_c(servers, offered_load) * mean_stay / (servers - offered_load)


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


# ------------------------------------------------------------------------ results


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one theory check.

    ``passed`` is ``abs(simulated - expected) <= tolerance``. Values are in the units the
    description names (trusts, weeks, a probability, a count of violations).
    """

    name: str
    """Short identifier, e.g. ``erlang_c_wait_probability``."""
    description: str
    """What is compared with what, with units."""
    expected: float
    """Value theory gives."""
    simulated: float
    """Value the simulation gives (a mean over replications, or a count)."""
    tolerance: float
    """Largest difference accepted, in the same units (e.g. 3.5 standard errors)."""
    passed: bool
    detail: str
    """The numbers in plain English: what was measured, how the tolerance was set."""


def _g(value: float) -> str:
    """Four significant figures, without trailing noise."""
    return f"{value:.4g}"


def mean_check(
    name: str,
    description: str,
    expected: float,
    values: Sequence[float] | np.ndarray,
    *,
    measured: str,
    theory: str,
    unit: str = "",
    z: float = Z,
) -> CheckResult:
    """Compare the mean of per-replication estimates with a theoretical value.

    Parameters
    ----------
    name, description
        Identify the check (see :class:`CheckResult`).
    expected
        Theoretical value, in ``unit``.
    values
        One estimate per replication (independent), in ``unit``; at least two.
    measured
        Plain-English name of what each replication estimates, for the detail.
    theory
        Plain-English account of where ``expected`` comes from, for the detail.
    unit
        Unit of the values, e.g. ``"weeks"`` (may be empty for a probability or ratio).
    z
        Tolerance in standard errors of the mean across replications.

    Returns
    -------
    CheckResult
        Simulated value the mean of ``values``; tolerance ``z`` standard errors of it.
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2 or np.isnan(values).any():
        raise ValueError(f"{name}: need at least two replication estimates and no NaN")
    simulated = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(values.size))
    return _result(
        name,
        description,
        expected,
        simulated,
        se,
        z,
        f"{measured}: {_g(simulated)}{_u(unit)} on average over {values.size} "
        f"replications (standard error {_g(se)}). {theory} {_g(expected)}{_u(unit)}.",
        unit,
    )


def _u(unit: str) -> str:
    return f" {unit}" if unit else ""


def _result(
    name: str,
    description: str,
    expected: float,
    simulated: float,
    se: float,
    z: float,
    numbers: str,
    unit: str,
) -> CheckResult:
    tolerance = z * se
    difference = abs(simulated - expected)
    passed = bool(difference <= tolerance)
    verdict = "within" if passed else "outside"
    detail = (
        f"{numbers} The difference, {_g(difference)}{_u(unit)}, is {verdict} the tolerance "
        f"of {_g(z)} standard errors ({_g(tolerance)}{_u(unit)})."
    )
    return CheckResult(name, description, float(expected), simulated, tolerance, passed, detail)


# --------------------------------------------------------------- M/M/c queue checks


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
    replications: int = 120,
    seed: int = 7,
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
    replications
        Number of replications (at least two).
    seed
        Master seed.
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
    scenario = queue_scenario(
        baseline,
        servers,
        rate_per_week * WEEKS_PER_YEAR,
        {"distribution": "exponential", "mean_weeks": mean_stay},
        years=QUEUE_YEARS,
    )
    inputs = compile_scenario(scenario)
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
    for result in replicate(inputs, RunSettings(replications, seed, progress=False)):
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


def _queue_label(sample: QueueSample) -> str:
    return (
        f"M/M/{sample.servers} queue (utilisation "
        f"{_g(sample.offered_load / sample.servers)}, exponential stays of mean "
        f"{_g(sample.mean_stay)} weeks)"
    )


def _window(sample: QueueSample) -> str:
    return f"years {_g(sample.window_years[0])} to {_g(sample.window_years[1])}"


def _unadmitted(check: CheckResult, sample: QueueSample) -> CheckResult:
    """Fail a check whose waits miss referrals never admitted (they would bias it)."""
    if sample.not_admitted == 0:
        return check
    return CheckResult(
        check.name,
        check.description,
        check.expected,
        check.simulated,
        check.tolerance,
        False,
        f"{check.detail} FAILED because {sample.not_admitted} referrals in the window were "
        "never admitted, so their waits are missing.",
    )


def check_wait_probability(sample: QueueSample, offered_load: float | None = None) -> CheckResult:
    """Share of referrals who wait, against Erlang C.

    Parameters
    ----------
    sample
        Measurements from :func:`simulate_queue`.
    offered_load
        Offered load (erlangs) given to Erlang C; defaults to the sample's own. Pass
        another value to see the check fail.

    Returns
    -------
    CheckResult
    """
    load = sample.offered_load if offered_load is None else offered_load
    check = mean_check(
        "erlang_c_wait_probability",
        f"{_queue_label(sample)}: probability a referral waits for a place, against Erlang C",
        erlang_c(sample.servers, load),
        sample.p_wait,
        measured=f"Share of trusts referred in {_window(sample)} who had to wait",
        theory=f"Erlang C with {sample.servers} places and offered load {_g(load)} gives",
    )
    return _unadmitted(check, sample)


def check_mean_wait(sample: QueueSample, offered_load: float | None = None) -> CheckResult:
    """Mean wait from referral to admission, against Erlang C's ``C(c, a) s / (c - a)``.

    Parameters
    ----------
    sample
        Measurements from :func:`simulate_queue`.
    offered_load
        Offered load (erlangs) given to the formula; defaults to the sample's own.

    Returns
    -------
    CheckResult
    """
    load = sample.offered_load if offered_load is None else offered_load
    check = mean_check(
        "erlang_c_mean_wait",
        f"{_queue_label(sample)}: mean wait from referral to admission (weeks), against Erlang C",
        erlang_c_mean_wait(sample.servers, load, sample.mean_stay),
        sample.mean_wait,
        measured=f"Mean wait of trusts referred in {_window(sample)} (zero if no wait)",
        theory=(
            f"Erlang C, C(c, a) x mean stay / (c - a) with c = {sample.servers} and "
            f"a = {_g(load)}, gives"
        ),
        unit="weeks",
    )
    return _unadmitted(check, sample)


def _littles_law(
    name: str, sample: QueueSample, what: str, stock: np.ndarray, time: np.ndarray, time_name: str
) -> CheckResult:
    """L against lambda W, paired by replication (the tolerance uses their differences)."""
    rate_times_time = sample.admissions_per_week * time
    simulated = float(stock.mean())
    expected = float(rate_times_time.mean())
    difference = stock - rate_times_time
    se = float(difference.std(ddof=1) / math.sqrt(difference.size))
    numbers = (
        f"Over {_window(sample)} of {sample.replications} replications, the weekly "
        f"{what} averaged {_g(simulated)} trusts (L). Admissions averaged "
        f"{_g(float(sample.admissions_per_week.mean()))} a week (lambda) and their "
        f"{time_name} {_g(float(time.mean()))} weeks (W), so lambda W is {_g(expected)} "
        f"trusts. Standard error of the paired difference L - lambda W: {_g(se)}."
    )
    return _result(
        name,
        f"Little's law on the {_queue_label(sample)}: {what} (trusts) against admissions "
        f"per week x mean {time_name} (weeks)",
        expected,
        simulated,
        se,
        Z,
        numbers,
        "trusts",
    )


def check_littles_law_waiting(sample: QueueSample) -> CheckResult:
    """Little's law for the waiting list: time-average list against lambda x mean wait.

    Parameters
    ----------
    sample
        Measurements from :func:`simulate_queue`.

    Returns
    -------
    CheckResult
    """
    return _littles_law(
        "littles_law_waiting_list",
        sample,
        "waiting list",
        sample.waiting_list,
        sample.admitted_wait,
        "wait",
    )


def check_littles_law_programme(sample: QueueSample) -> CheckResult:
    """Little's law for the programme: time-average caseload against lambda x mean stay.

    Parameters
    ----------
    sample
        Measurements from :func:`simulate_queue`.

    Returns
    -------
    CheckResult
    """
    return _littles_law(
        "littles_law_in_programme",
        sample,
        "number of trusts in the programme",
        sample.in_programme,
        sample.admitted_stay,
        "stay",
    )


# --------------------------------------------------------- M/G/infinity (no cap) checks


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
        return self.rate_per_week * self.mean_stay


def simulate_no_cap(
    baseline: Scenario,
    stay: Mapping[str, Any],
    label: str,
    replications: int = 120,
    seed: int = 7,
    rate_per_week: float = NO_CAP_RATE_PER_WEEK,
    years: int = NO_CAP_YEARS,
    warm_up_years: float = NO_CAP_WARM_UP_YEARS,
) -> CaseloadSample:
    """Run the programme with no cap (an M/G/infinity system) and record its caseload.

    Parameters
    ----------
    baseline
        Scenario the no-cap scenario is derived from.
    stay
        Stay specification (weeks), as in a scenario file.
    label
        Short name of the stay distribution, used in check names.
    replications
        Number of replications (at least two).
    seed
        Master seed.
    rate_per_week
        Poisson referral rate, trusts per week.
    years
        Horizon, years.
    warm_up_years
        Years discarded at the start (the system starts empty).

    Returns
    -------
    CaseloadSample
    """
    scenario = queue_scenario(baseline, None, rate_per_week * WEEKS_PER_YEAR, stay, years=years)
    inputs = compile_scenario(scenario)
    first = int(warm_up_years * WEEKS_PER_YEAR)
    caseload = np.stack(
        [
            result.weekly["caseload"][first:, :3].sum(axis=1)
            for result in replicate(inputs, RunSettings(replications, seed, progress=False))
        ]
    ).astype(float)
    return CaseloadSample(
        label=label,
        stay=dict(stay),
        rate_per_week=rate_per_week,
        mean_stay=inputs.programme.durations[1].mean,
        warm_up_years=warm_up_years,
        caseload=caseload,
    )


def _stay_text(sample: CaseloadSample) -> str:
    spec = sample.stay
    if spec.get("distribution") == "lognormal":
        return (
            f"lognormal stays (median {_g(spec['median_weeks'])} weeks, sigma "
            f"{_g(spec['sigma'])}, mean {_g(sample.mean_stay)} weeks)"
        )
    return f"{spec.get('distribution', sample.label)} stays of mean {_g(sample.mean_stay)} weeks"


def check_caseload_mean(sample: CaseloadSample, expected: float | None = None) -> CheckResult:
    """Mean trusts in the programme with no cap, against referral rate x mean stay.

    Parameters
    ----------
    sample
        Caseload from :func:`simulate_no_cap`.
    expected
        Expected mean (trusts); defaults to M/G/infinity's rate x mean stay.

    Returns
    -------
    CheckResult
    """
    target = sample.expected_mean if expected is None else expected
    return mean_check(
        f"no_cap_mean_caseload_{sample.label}",
        f"No cap (M/G/infinity), {sample.rate_per_week:g} referrals a week, "
        f"{_stay_text(sample)}: mean trusts in the programme, against rate x mean stay",
        target,
        sample.caseload.mean(axis=1),
        measured=(
            f"Trusts in the programme, averaged over the weeks after a "
            f"{_g(sample.warm_up_years)}-year warm-up"
        ),
        theory=(
            f"Referral rate {sample.rate_per_week:g} a week x mean stay "
            f"{_g(sample.mean_stay)} weeks gives"
        ),
        unit="trusts",
    )


def dispersion_index(caseload: np.ndarray) -> tuple[float, float]:
    """Variance / mean of pooled observations, with its jackknife standard error.

    Parameters
    ----------
    caseload
        (replications, observations) counts; replications independent, observations
        within a replication may be correlated.

    Returns
    -------
    tuple of float
        The dispersion index of all observations pooled (1 for a Poisson count), and its
        delete-one-replication jackknife standard error (which allows for the
        correlation within a replication).
    """
    caseload = np.asarray(caseload, dtype=float)
    reps, per_rep = caseload.shape
    if reps < 2:
        raise ValueError("need at least two replications")
    row_sum, row_sq = caseload.sum(axis=1), (caseload**2).sum(axis=1)

    def index(total: np.ndarray | float, squares: np.ndarray | float, count: int):
        mean = total / count
        return (squares / count - mean**2) * count / (count - 1) / mean

    pooled = float(index(row_sum.sum(), row_sq.sum(), reps * per_rep))
    leave_out = index(row_sum.sum() - row_sum, row_sq.sum() - row_sq, (reps - 1) * per_rep)
    se = math.sqrt((reps - 1) / reps * float(((leave_out - leave_out.mean()) ** 2).sum()))
    return pooled, se


def check_poisson_dispersion(sample: CaseloadSample) -> CheckResult:
    """Dispersion index (variance / mean) of the no-cap caseload, against 1 (Poisson).

    Parameters
    ----------
    sample
        Caseload from :func:`simulate_no_cap`.

    Returns
    -------
    CheckResult
    """
    dispersion, se = dispersion_index(sample.caseload)
    reps, weeks = sample.caseload.shape
    numbers = (
        f"Pooling the weekly number of trusts in the programme after the warm-up "
        f"({weeks} weeks in each of {reps} replications), the variance is {_g(dispersion)} "
        f"times the mean (jackknife standard error over replications {_g(se)}). "
        f"A Poisson count, as M/G/infinity gives for any stay distribution, has variance "
        f"equal to its mean: 1."
    )
    return _result(
        f"no_cap_poisson_dispersion_{sample.label}",
        f"No cap (M/G/infinity), {_stay_text(sample)}: variance / mean of trusts in the "
        "programme, against 1 (Poisson)",
        1.0,
        dispersion,
        se,
        Z,
        numbers,
        "",
    )


# --------------------------------------------------------------------- conservation


def conservation_violations(result: ReplicationResult, cap: int) -> dict[str, int]:
    """Count the bookkeeping errors in one replication (all should be zero).

    Parameters
    ----------
    result
        One replication's output.
    cap
        Places in the programme (trusts).

    Returns
    -------
    dict of str to int
        ``waiting_flow`` and ``caseload_flow``: weeks in which the waiting list or the
        trusts in the programme did not change by referrals - admissions or admissions -
        exits; ``over_cap``: weeks with more trusts in the programme than places;
        ``end_stock``: end-of-horizon stocks that do not match the spells still waiting or
        in the programme; ``time_order``: spells admitted before referral or exiting before
        admission; ``overlap``: spells that start before the same trust's previous spell
        has ended; ``segment_5``: assessments at which segment 5 is not exactly the
        trusts in the programme.
    """
    weekly, spells = result.weekly, result.spells
    in_programme = weekly["caseload"][:, :3].sum(axis=1)
    waiting_flow = np.diff(weekly["waiting"]) != weekly["referrals"][1:] - weekly["admissions"][1:]
    caseload_flow = np.diff(in_programme) != weekly["admissions"][1:] - weekly["exits"][1:]

    waiting = np.isnan(spells["admission"])
    inside = ~waiting & np.isnan(spells["exit"])
    end_stock = int(waiting.sum() != weekly["waiting"][-1]) + int(inside.sum() != in_programme[-1])
    admitted, left = ~waiting, ~np.isnan(spells["exit"])
    time_order = int(np.sum(spells["admission"][admitted] < spells["referral"][admitted])) + int(
        np.sum(spells["exit"][left] < spells["admission"][left])
    )

    # consecutive spells of a trust: the later one must start after the earlier has ended
    order = np.lexsort((spells["referral"], spells["trust"]))
    trust, referral = spells["trust"][order], spells["referral"][order]
    ends = spells["support_end"][order]
    same = trust[1:] == trust[:-1]
    earlier_end = ends[:-1][same]
    overlap = int(np.sum(np.isnan(earlier_end) | (referral[1:][same] < earlier_end)))

    segment_5 = 0
    for row in range(1, len(result.assessment_weeks)):
        when = result.assessment_weeks[row]
        active = (spells["admission"] < when) & ~(spells["exit"] < when)
        listed = set(np.flatnonzero(result.segment_history[row] == 5).tolist())
        segment_5 += int(set(spells["trust"][active].tolist()) != listed)

    return {
        "waiting_flow": int(waiting_flow.sum()),
        "caseload_flow": int(caseload_flow.sum()),
        "over_cap": int(np.sum(in_programme > cap)),
        "end_stock": end_stock,
        "time_order": time_order,
        "overlap": overlap,
        "segment_5": segment_5,
    }


CONSERVATION_LABELS = {
    "waiting_flow": "weeks the waiting list did not change by referrals - admissions",
    "caseload_flow": "weeks the programme did not change by admissions - exits",
    "over_cap": "weeks over the cap",
    "end_stock": "end stocks not matching the spells",
    "time_order": "spells with times out of order",
    "overlap": "trusts in two spells at once",
    "segment_5": "assessments where segment 5 was not the programme",
}


def check_conservation(
    baseline: Scenario | ModelInputs, replications: int = 120, seed: int = 7
) -> CheckResult:
    """Conservation on a scenario: no trust lost, created or counted twice.

    Parameters
    ----------
    baseline
        Scenario (or compiled scenario) to run as it is.
    replications
        Number of replications.
    seed
        Master seed.

    Returns
    -------
    CheckResult
        Expected 0 violations, simulated the total over all replications, tolerance 0.
    """
    inputs = baseline if isinstance(baseline, ModelInputs) else compile_scenario(baseline)
    totals = dict.fromkeys(CONSERVATION_LABELS, 0)
    for result in replicate(inputs, RunSettings(replications, seed, progress=False)):
        for key, count in conservation_violations(result, inputs.programme.cap).items():
            totals[key] += count
    violations = sum(totals.values())
    weeks = int(math.ceil(inputs.population.horizon_weeks))
    found = "; ".join(f"{CONSERVATION_LABELS[k]}: {v}" for k, v in totals.items())
    detail = (
        f"{replications} replications of '{inputs.scenario_name}' ({weeks} weeks each), "
        f"checked week by week and spell by spell. Violations found: {found}. Total {violations} violations; "
        "bookkeeping must be exact, so the tolerance is 0."
    )
    return CheckResult(
        "conservation",
        f"'{inputs.scenario_name}' as it is: weekly waiting list and trusts in the programme "
        "follow referrals, admissions and exits exactly, within the cap, and no trust is in "
        "two spells at once (count of violations)",
        0.0,
        float(violations),
        0.0,
        violations == 0,
        detail,
    )


# ------------------------------------------------------------------------- all checks


def run_theory_checks(
    baseline: Scenario, replications: int = 120, seed: int = 7
) -> list[CheckResult]:
    """Run every theory check on scenarios derived from ``baseline``.

    In order: M/M/c probability of waiting and mean wait against Erlang C; no-cap mean
    caseload against rate x mean stay for exponential and lognormal stays; Poisson
    dispersion of the no-cap caseload; Little's law for the waiting list and for the
    programme on the M/M/c scenario; conservation on ``baseline`` itself.

    Parameters
    ----------
    baseline
        Scenario the check scenarios are derived from (with ``with_changes``).
    replications
        Replications of each check scenario (at least two; tolerances shrink as the
        square root of this).
    seed
        Master seed (fixed, so a run is reproducible).

    Returns
    -------
    list of CheckResult
        Eight results, in the order above.
    """
    if isinstance(replications, bool) or not isinstance(replications, numbers.Integral):
        raise TypeError(f"replications must be a whole number, got {replications!r}")
    if replications < 2:
        raise ValueError(
            f"replications must be at least 2 (tolerances need a standard error), got {replications}"
        )
    queue = simulate_queue(baseline, replications, seed)
    no_cap = {
        label: simulate_no_cap(baseline, stay, label, replications, seed)
        for label, stay in NO_CAP_STAYS.items()
    }
    return [
        check_wait_probability(queue),
        check_mean_wait(queue),
        check_caseload_mean(no_cap["exponential"]),
        check_caseload_mean(no_cap["lognormal"]),
        check_poisson_dispersion(no_cap["lognormal"]),
        check_littles_law_waiting(queue),
        check_littles_law_programme(queue),
        check_conservation(baseline, replications, seed),
    ]


def format_checks(results: Sequence[CheckResult], *, details: bool = False) -> str:
    """A table of check results, one line per check, and a final count.

    Parameters
    ----------
    results
        Check results, e.g. from :func:`run_theory_checks`.
    details
        Also give each check's description and plain-English detail under its line.

    Returns
    -------
    str
        Columns check, expected, simulated, difference, tolerance and PASS or FAIL; the
        last line reads ``"N passed, N failed"``. No trailing newline.
    """
    header = ("check", "expected", "simulated", "difference", "tolerance", "result")
    rows = [
        (
            r.name,
            _g(r.expected),
            _g(r.simulated),
            _g(abs(r.simulated - r.expected)),
            _g(r.tolerance),
            "PASS" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:-1], strict=True)]
        cells.append(row[-1])
        return "  ".join(cells)

    lines = [line(header), "  ".join("-" * w for w in widths)]
    for result, row in zip(results, rows, strict=True):
        lines.append(line(row))
        if details:
            lines += [f"    {result.description}", f"    {result.detail}", ""]
    passed = sum(r.passed for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)
