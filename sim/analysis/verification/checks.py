"""The queueing-theory checks: each compares a simulated statistic with theory, PASS or FAIL.

Role: one function per check, taking the per-replication measurements of :mod:`.queues`
(so a check can be run, or fed a deliberately wrong expectation, on its own) and returning
a :class:`~.verdict.CheckResult` with the statistic, its tolerance and a plain-English
account; and :func:`run_theory_checks`, which simulates the check scenarios and runs every
check in a fixed order.

Must not: hold queueing formulas (:mod:`.formulas`), build or simulate scenarios itself
(:mod:`.queues`), or print, write files or use pandas.
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import replace

import numpy as np

from sim.experiment.progress import ProgressBar
from sim.experiment.settings import RunSettings
from sim.scenario import Scenario

from .conservation import check_conservation
from .formulas import dispersion_index, erlang_c, erlang_c_mean_wait
from .queues import NO_CAP_STAYS, CaseloadSample, QueueSample, simulate_no_cap, simulate_queue
from .verdict import CheckResult, fmt, mean_check, standard_error, within_standard_errors

log = logging.getLogger(__name__)

# --------------------------------------------------------------- M/M/c queue checks


def _queue_label(sample: QueueSample) -> str:
    return (
        f"M/M/{sample.servers} queue (utilisation "
        f"{fmt(sample.offered_load / sample.servers)}, exponential stays of mean "
        f"{fmt(sample.mean_stay)} weeks)"
    )


def _window(sample: QueueSample) -> str:
    return f"years {fmt(sample.window_years[0])} to {fmt(sample.window_years[1])}"


def _erlang_check(
    sample: QueueSample,
    name: str,
    what: str,
    expected: float,
    values: np.ndarray,
    *,
    measured: str,
    theory: str,
    unit: str = "",
) -> CheckResult:
    """A :func:`mean_check` of the M/M/c waits against Erlang C.

    It fails if referrals in the window were never admitted: their waits are missing, so
    they would bias it.
    """
    check = mean_check(
        name,
        f"{_queue_label(sample)}: {what}, against Erlang C",
        expected,
        values,
        measured=measured,
        theory=theory,
        unit=unit,
    )
    if sample.not_admitted == 0:
        return check
    return replace(
        check,
        passed=False,
        detail=f"{check.detail} FAILED because {sample.not_admitted} referrals in the window "
        "were never admitted, so their waits are missing.",
    )


def check_wait_probability(sample: QueueSample, offered_load: float | None = None) -> CheckResult:
    """Share of referrals who wait, against Erlang C, for a ``sample`` from
    :func:`~.queues.simulate_queue`. ``offered_load`` (erlangs) is given to Erlang C and
    defaults to the sample's own: pass another value to see the check fail."""
    load = sample.offered_load if offered_load is None else offered_load
    return _erlang_check(
        sample,
        "erlang_c_wait_probability",
        "probability a referral waits for a place",
        erlang_c(sample.servers, load),
        sample.p_wait,
        measured=f"Share of trusts referred in {_window(sample)} who had to wait",
        theory=f"Erlang C with {sample.servers} places and offered load {fmt(load)} gives",
    )


def check_mean_wait(sample: QueueSample, offered_load: float | None = None) -> CheckResult:
    """Mean wait from referral to admission, against Erlang C's ``C(c, a) s / (c - a)``
    (parameters as :func:`check_wait_probability`)."""
    load = sample.offered_load if offered_load is None else offered_load
    return _erlang_check(
        sample,
        "erlang_c_mean_wait",
        "mean wait from referral to admission (weeks)",
        erlang_c_mean_wait(sample.servers, load, sample.mean_stay),
        sample.mean_wait,
        measured=f"Mean wait of trusts referred in {_window(sample)} (zero if no wait)",
        theory=(
            f"Erlang C, C(c, a) x mean stay / (c - a) with c = {sample.servers} and "
            f"a = {fmt(load)}, gives"
        ),
        unit="weeks",
    )


def _littles_law(
    name: str, sample: QueueSample, what: str, stock: np.ndarray, time: np.ndarray, time_name: str
) -> CheckResult:
    """L against lambda W, paired by replication (the tolerance uses their differences).

    ``stock`` is the time-average number (L) of each replication, ``time`` the mean time in
    that stock of the trusts admitted in the window (W, weeks), ``time_name`` its name.
    """
    rate_times_time = sample.admissions_per_week * time
    simulated = float(stock.mean())
    expected = float(rate_times_time.mean())
    se = standard_error(stock - rate_times_time)
    account = (
        f"Over {_window(sample)} of {sample.replications} replications, the weekly "
        f"{what} averaged {fmt(simulated)} trusts (L). Admissions averaged "
        f"{fmt(float(sample.admissions_per_week.mean()))} a week (lambda) and their "
        f"{time_name} {fmt(float(time.mean()))} weeks (W), so lambda W is {fmt(expected)} "
        f"trusts. Standard error of the paired difference L - lambda W: {fmt(se)}."
    )
    description = (
        f"Little's law on the {_queue_label(sample)}: {what} (trusts) against admissions "
        f"per week x mean {time_name} (weeks)"
    )
    return within_standard_errors(name, description, expected, simulated, se, account, "trusts")


def check_littles_law_waiting(sample: QueueSample) -> CheckResult:
    """Little's law for the waiting list of a :func:`~.queues.simulate_queue` sample:
    time-average list against lambda x mean wait."""
    return _littles_law("littles_law_waiting_list", sample, "waiting list",
                        sample.waiting_list, sample.admitted_wait, "wait")  # fmt: skip


def check_littles_law_programme(sample: QueueSample) -> CheckResult:
    """Little's law for the programme of a :func:`~.queues.simulate_queue` sample:
    time-average caseload against lambda x mean stay."""
    return _littles_law("littles_law_in_programme", sample, "number of trusts in the programme",
                        sample.in_programme, sample.admitted_stay, "stay")  # fmt: skip


# --------------------------------------------------------- M/G/infinity (no cap) checks


def _stay_text(sample: CaseloadSample) -> str:
    spec = sample.stay
    if spec.get("distribution") == "lognormal":
        return (
            f"lognormal stays (median {fmt(spec['median_weeks'])} weeks, sigma "
            f"{fmt(spec['sigma'])}, mean {fmt(sample.mean_stay)} weeks)"
        )
    return f"{spec.get('distribution', sample.label)} stays of mean {fmt(sample.mean_stay)} weeks"


def check_caseload_mean(sample: CaseloadSample, expected: float | None = None) -> CheckResult:
    """Mean trusts in the programme with no cap, against referral rate x mean stay, for a
    ``sample`` from :func:`~.queues.simulate_no_cap`; ``expected`` (trusts) defaults to
    M/G/infinity's rate x mean stay."""
    target = sample.expected_mean if expected is None else expected
    return mean_check(
        f"no_cap_mean_caseload_{sample.label}",
        f"No cap (M/G/infinity), {sample.rate_per_week:g} referrals a week, "
        f"{_stay_text(sample)}: mean trusts in the programme, against rate x mean stay",
        target,
        sample.caseload.mean(axis=1),
        measured=(
            f"Trusts in the programme, averaged over the weeks after a "
            f"{fmt(sample.warm_up_years)}-year warm-up"
        ),
        theory=(
            f"Referral rate {sample.rate_per_week:g} a week x mean stay "
            f"{fmt(sample.mean_stay)} weeks gives"
        ),
        unit="trusts",
    )


def check_poisson_dispersion(sample: CaseloadSample) -> CheckResult:
    """Dispersion index (variance / mean) of the no-cap caseload of a
    :func:`~.queues.simulate_no_cap` sample, against 1 (Poisson)."""
    dispersion, se = dispersion_index(sample.caseload)
    reps, weeks = sample.caseload.shape
    account = (
        f"Pooling the weekly number of trusts in the programme after the warm-up "
        f"({weeks} weeks in each of {reps} replications), the variance is {fmt(dispersion)} "
        f"times the mean (jackknife standard error over replications {fmt(se)}). "
        f"A Poisson count, as M/G/infinity gives for any stay distribution, has variance "
        f"equal to its mean: 1."
    )
    description = (
        f"No cap (M/G/infinity), {_stay_text(sample)}: variance / mean of trusts in the "
        "programme, against 1 (Poisson)"
    )
    return within_standard_errors(
        f"no_cap_poisson_dispersion_{sample.label}", description, 1.0, dispersion, se, account, ""
    )


# ------------------------------------------------------------------------- all checks


def run_theory_checks(
    baseline: Scenario,
    replications: int = 120,
    seed: int = 7,
    progress: bool | ProgressBar | None = False,
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
    progress
        As the ``progress`` of :class:`~sim.experiment.settings.RunSettings`: by
        default no bar; a :class:`~sim.experiment.progress.ProgressBar` counts the
        replications of every check scenario. Each step is logged (INFO).

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
    settings = RunSettings(replications, seed, progress=progress)
    if isinstance(progress, ProgressBar):  # one bar over every check scenario's replications
        progress.expect((2 + len(NO_CAP_STAYS)) * replications)
    log.info("theory: M/M/c queue, %d replications", replications)
    queue = simulate_queue(baseline, settings)
    no_cap = {}
    for label, stay in NO_CAP_STAYS.items():
        log.info("theory: no cap, %s stays, %d replications", label, replications)
        no_cap[label] = simulate_no_cap(baseline, stay, label, settings)
    log.info("theory: conservation on %s, %d replications", baseline.name, replications)
    checks = [
        check_wait_probability(queue),
        check_mean_wait(queue),
        check_caseload_mean(no_cap["exponential"]),
        check_caseload_mean(no_cap["lognormal"]),
        check_poisson_dispersion(no_cap["lognormal"]),
        check_littles_law_waiting(queue),
        check_littles_law_programme(queue),
        check_conservation(baseline, replications, seed, progress),
    ]
    for check in checks:
        log.info("theory: %s %s", "PASS" if check.passed else "FAIL", check.name)
    return checks
