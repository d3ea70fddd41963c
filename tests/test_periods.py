"""Period figures against independent calculations: support demand from the caseload, flows
by the exact date of each event, and stocks at the exact end of each period."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.calendar import date_at, period_label, weeks_between
from sim.experiment.layout import build_layout, reduce_replication
from sim.model import compile_scenario, run_replication
from sim.scenario import with_changes

PHASE_NAMES = ("diagnostic", "improvement", "exit", "transitional")
SOURCE_NAMES = ("national", "nhs_family", "consultancy")
SEEDS = [(2025, 0), (2025, 1), (7, 3)]


def _phase_hours(scenario) -> np.ndarray:
    """(phase, source) hours a week per trust, read from the scenario as written."""
    phases = scenario.programme.phases
    return np.array(
        [
            [
                getattr(phases, phase).support_hours_per_week
                * getattr(getattr(phases, phase).blend, source)
                for source in SOURCE_NAMES
            ]
            for phase in PHASE_NAMES
        ]
    )


@pytest.mark.parametrize(("seed", "replication"), SEEDS)
def test_demand_is_caseload_times_hours_in_every_steady_week(baseline, seed, replication):
    """In a week with no change of phase, demand by source is exactly the sum over phases of
    trusts x hours x blend share (the first trust placed used to be left out)."""
    result = run_replication(baseline, seed=seed, replication=replication)
    log = result.timeline.log
    times, caseload = log[:, 0], log[:, 1:5]
    weekly = result.weekly
    steady = []
    for week in range(len(weekly["demand_hours"])):
        inside = (times > week) & (times < week + 1)
        before = np.searchsorted(times, week, side="right") - 1
        if (caseload[inside] == caseload[before]).all():
            steady.append(week)
    assert len(steady) > 100
    # the last week may end early, at the horizon
    length = np.minimum(np.asarray(steady) + 1.0, result.timeline.horizon_weeks) - steady
    expected = (weekly["caseload"][steady] @ _phase_hours(baseline)) * length[:, None]
    np.testing.assert_allclose(weekly["demand_hours"][steady], expected, rtol=1e-12, atol=1e-9)


def _period_of(weeks: np.ndarray, start: dt.date, frequency: str) -> list[str | None]:
    """Period label of each event time by its calendar date (None before the start)."""
    return [
        None if np.isnan(w) or w < 0 else period_label(date_at(start, w), frequency)
        for w in weeks
    ]


@pytest.fixture(
    scope="module",
    params=[("2026-04-01", "stay_on_list"), ("2026-05-17", "leave_list")],
    ids=["start-on-a-quarter", "start-mid-month-leaving-the-list"],
)
def reduced_runs(request, baseline):
    start, no_longer_eligible = request.param
    scenario = with_changes(
        baseline,
        {"start_date": start, "programme.referrals.no_longer_eligible": no_longer_eligible},
    )
    inputs = compile_scenario(scenario)
    layout = build_layout(inputs)
    runs = []
    for seed, replication in SEEDS:
        result = run_replication(inputs, seed=seed, replication=replication)
        runs.append((result, reduce_replication(result, layout)))
    return inputs, layout, runs


@pytest.mark.parametrize("frequency", ["month", "quarter", "year"])
def test_flows_are_counted_by_the_exact_date_of_each_event(reduced_runs, frequency):
    inputs, layout, runs = reduced_runs
    start = inputs.start_date
    for result, values in runs:
        spells = result.spells
        events = {
            "referrals": spells["referral"],
            "admissions": spells["admission"],
            "exits": spells["exit"],
            "reentries": np.where(spells["reentry"], spells["admission"], np.nan),
        }
        for metric, times in events.items():
            rows = (layout.metric == metric) & (layout.frequency == frequency)
            labels = _period_of(times, start, frequency)
            expected = [labels.count(period) for period in layout.period[rows]]
            assert values[rows].tolist() == expected, metric
            assert values[rows].sum() == sum(label is not None for label in labels)


def test_quarterly_assessment_refers_into_the_quarter_it_opens(reduced_runs):
    """Referrals from segments happen at assessments (1 July, ...), so nearly all of a
    quarter's referrals fall on its first day, none on the last day of the one before."""
    inputs, layout, runs = reduced_runs
    assessment_days = {d for d in (dt.date(y, m, 1) for y in range(2026, 2032) for m in (1, 4, 7, 10))}
    for result, _ in runs:
        referred = [date_at(inputs.start_date, w) for w in result.spells["referral"] if w >= 0]
        on_assessment = [d for d in referred if d in assessment_days]
        assert len(on_assessment) >= len(referred) // 2


@pytest.mark.parametrize("frequency", ["month", "quarter", "year"])
def test_stocks_are_the_state_at_the_exact_end_of_each_period(reduced_runs, frequency):
    """Caseload and waiting list at each period's end, counted from the spells: admitted
    before the end and not yet exited; referred before the end and not yet admitted."""
    inputs, layout, runs = reduced_runs
    start = inputs.start_date
    for result, values in runs:
        spells = result.spells
        rows = (layout.frequency == frequency) & (layout.group == "all")
        periods = layout.period[rows & (layout.metric == "waiting")]
        ends = _period_ends(start, inputs.population.horizon_weeks, frequency, len(periods))
        admission = np.nan_to_num(spells["admission"], nan=np.inf)
        exit_ = np.nan_to_num(spells["exit"], nan=np.inf)
        in_programme = [int(((admission < t) & (exit_ >= t)).sum()) for t in ends]
        left = np.where(spells["left_list"], spells["support_end"], np.inf)
        waiting = [
            int(((spells["referral"] < t) & (admission >= t) & (left >= t)).sum()) for t in ends
        ]
        assert values[rows & (layout.metric == "in_programme")].tolist() == in_programme
        assert values[rows & (layout.metric == "waiting")].tolist() == waiting


def _period_ends(start: dt.date, horizon: float, frequency: str, n: int) -> list[float]:
    """Weeks from ``start`` to the first day after each period (the horizon for the last)."""
    ends = []
    date = start
    for _ in range(n - 1):
        months = {"month": 1, "quarter": 3, "year": 12}[frequency]
        # next period start: step to the next 1st-of-month boundary of the frequency
        index = date.year * 12 + date.month - 4
        index = (index // months + 1) * months
        year, month0 = divmod(index + 3, 12)
        date = dt.date(year, month0 + 1, 1)
        ends.append(weeks_between(start, date))
    return [*ends, horizon]


def test_horizon_stocks_are_time_averages(reduced_runs):
    inputs, layout, runs = reduced_runs
    for result, values in runs:
        log = result.timeline.log
        durations = np.diff(np.append(log[:, 0], inputs.population.horizon_weeks))
        mean_waiting = (log[:, 5] * durations).sum() / inputs.population.horizon_weeks
        row = (layout.frequency == "horizon") & (layout.metric == "waiting")
        assert values[row][0] == pytest.approx(mean_waiting, rel=1e-12)
