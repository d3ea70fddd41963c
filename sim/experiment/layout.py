"""Reduce one replication to a vector of period figures, in a layout fixed per scenario.

Every replication of a scenario produces the same rows: (frequency, period, metric,
group). :func:`build_layout` builds that list once per scenario; :func:`reduce_replication`
turns one replication's arrays into a float vector in exactly that order. A worker process
therefore returns a small vector, not a table, and summaries across replications are array
operations on a (replications x rows) matrix.

Aggregation rules (within the replication, before any statistic across replications):

* periods are exact calendar periods: a month from its 1st, a quarter from 1 April,
  1 July, 1 October or 1 January, a financial year from 1 April (the first and last
  periods may be part-periods, from the start date and to the horizon);
* every flow (referrals, admissions, exits, re-entries) is counted in the period that
  contains the exact date of its event, so the assessment on 1 July refers into Q2;
* stocks (caseload, waiting list, WTE, improvement directors) are the state at the exact
  end of the period, before any event at that instant (30 June, before the 1 July
  assessment), except over the whole ``horizon``, where they are averaged over time;
* hours and costs are integrated exactly over the period; ``cost`` and ``cost_by_payer``
  are in the scenario's base-year prices, ``cost_cash`` and ``cost_by_payer_cash`` in cash
  terms: every period within financial year y carries the factor
  ``(1 + inflation) ** (y - base year)``, and the horizon's is the sum of its years';
* ``in_programme_by_region`` and ``waiting_by_region`` (stocks) and
  ``referrals_by_region`` (a flow) split the all-trusts figures by each trust's NHS England
  region, from the spells (a merger ends a spell), so the regions add up to the totals;
* ``utilisation`` is delivered hours over capacity hours within the period;
* ``cap_reached`` and ``national_demand_exceeded`` are 1 if the programme was full, or
  the national team's demand above its capacity, for any stretch of time in the period,
  else 0, so their mean across replications is the probability it happens in that period;
* ``first_week_cap_reached`` and ``first_week_national_demand_exceeded`` (horizon only)
  are the time it first happens, in weeks since the start date, NaN if it never does;
* ``wait_distribution`` (horizon only, one group per band of weeks) is the share of
  trusts admitted during the forecast whose completed wait fell in each band;
* population metrics are quarterly, at each assessment; flows at an assessment are
  labelled with the quarter it opens;
* ``mean_wait_weeks`` is the mean completed wait of trusts admitted in the period and
  ``mean_stay_weeks`` the mean length of stay of trusts that exited in it (completed
  spells only, so neither is biased by waits or stays still running at the horizon);
  ``share_waiting_over_13_weeks`` is by period of referral and counts a trust still
  waiting at the horizon once it has waited 13 weeks; ``mean_slippage_weeks`` (exit minus
  target exit date; negative is early) and ``share_exits_late`` are by period of exit;
  periods with none are NaN.

No pandas here: this runs inside workers, thousands of times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from sim.calendar import (
    DAYS_PER_WEEK,
    financial_year,
    period_label,
    period_starts,
    weeks_between,
)
from sim.model.replication import ModelInputs, ReplicationResult
from sim.model.timeline import Periods
from sim.results.keys import RowKeys
from sim.vocabulary import INTERIM, LEAGUE_TABLES, PAYERS, PHASES, PROVIDERS, REGIONS, SOURCES

FREQUENCIES = ("month", "quarter", "year", "horizon")
"""``horizon`` is one period covering the whole forecast (label like '2026/27-2030/31')."""
WAIT_THRESHOLD_WEEKS = 13.0
"""Waits longer than this are counted in ``share_waiting_over_13_weeks``."""

FIRST_WEEK_METRICS = ("first_week_cap_reached", "first_week_national_demand_exceeded")
WAIT_BANDS_WEEKS = (0.0, 4.0, 13.0, 26.0, 52.0, np.inf)
WAIT_BAND_LABELS = (
    "under 4 weeks",
    "4 to 13 weeks",
    "13 to 26 weeks",
    "26 to 52 weeks",
    "52 weeks or more",
)
FLOWS = ("referrals", "admissions", "exits", "reentries")
STOCKS = ("caseload", "waiting", "national_wte", "directors_needed", "directors_from_interim")
"""Taken at each period's end, and over the horizon averaged over time."""
HOURS = ("demand_hours", "capacity_hours", "delivered_hours", "shortfall_hours")


@dataclass(frozen=True)
class Layout(RowKeys):
    """The rows every replication of one scenario produces, in order: the row keys
    (frequency, period, metric, group; :meth:`row_keys` gives them alone) and what
    reducing a replication to them needs."""

    period_edges_weeks: dict[str, np.ndarray]
    """Per frequency, the start of each period and the end of the last, in weeks since
    the start date: the exact first day of each month, quarter or year, and the horizon."""
    horizon_weeks: float
    cap: int
    trust_region: np.ndarray
    """Each trust of the scenario's register by its NHS England region (an index of
    :data:`~sim.vocabulary.REGIONS`), for the ``*_by_region`` figures."""
    period_years: dict[str, np.ndarray]
    """Per frequency except ``horizon``, the calendar year in which each period's financial
    year starts (2026 for any period of 2026/27), for costs in cash terms."""
    plan: ReductionPlan = field(init=False, repr=False, compare=False)
    """Index arrays that let :func:`reduce_replication` treat every frequency in one pass
    (built from the fields above)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", ReductionPlan.build(self))


@dataclass(frozen=True)
class ReductionPlan:
    """What :func:`reduce_replication` needs to reduce every frequency at once, built once
    per layout: the periods of all frequencies as one :class:`~sim.model.timeline.Periods`
    (months, then quarters, years and the horizon), the period of each frequency that
    holds each month, and where each (period, metric, group) figure goes in the output.

    Every quarter, year and horizon edge is a month edge (a calendar fact the build
    checks), so the month an event falls in says its period in every frequency: one
    search of the month edges replaces one per frequency."""

    periods: Periods
    month_edges: np.ndarray
    period_of_month: np.ndarray
    """(months + 2, frequencies) int: the period (a row of :attr:`periods`) holding each
    month in each frequency; row 0 is "before the first month" and the last row "after
    the last", both :attr:`outside`."""
    outside: int
    """A period number past the last, for times outside the forecast (dropped)."""
    stock_ends: np.ndarray
    """Ends (weeks) of the periods whose stocks are taken at their end (all but the
    horizon's, which are means over time), in period order."""
    cash_years: np.ndarray
    """Calendar year of each of those periods' financial year (for cash terms)."""
    years: slice
    """The financial years among those periods."""
    gather: np.ndarray
    """Positions in that table, flattened, of the programme rows of the layout, in order."""

    @classmethod
    def build(cls, layout: Layout) -> ReductionPlan:
        edges = [layout.period_edges_weeks[frequency] for frequency in FREQUENCIES]
        periods = Periods.calendars(edges)
        months = edges[0]
        n_months, total = len(months) - 1, len(periods.first)
        period_of_month = np.full((n_months + 2, len(FREQUENCIES)), total)
        for column, (frequency_edges, run) in enumerate(zip(edges, periods.runs, strict=True)):
            if not np.isin(frequency_edges, months).all():
                raise ValueError(f"{FREQUENCIES[column]} edges are not month edges")
            which = np.searchsorted(frequency_edges, months[:-1], side="right") - 1
            period_of_month[1:-1, column] = run.start + which
        width = sum(len(groups) for _, groups in programme_metrics())
        # per frequency, group-major then period, as the layout lists the rows
        gather = np.concatenate([
            (np.arange(width)[:, None] + width * np.arange(run.start, run.stop)[None, :]).ravel()
            for run in periods.runs
        ])  # fmt: skip
        stocked = slice(0, periods.runs[-1].start)
        year_run = periods.runs[FREQUENCIES.index("year")]
        return cls(
            periods=periods,
            month_edges=months,
            period_of_month=period_of_month,
            outside=total,
            stock_ends=periods.edges[periods.last[stocked]],
            cash_years=np.concatenate(
                [layout.period_years[f] for f in FREQUENCIES if f != "horizon"]
            ),
            years=year_run,
            gather=gather,
        )

    def period_of(self, times: np.ndarray) -> np.ndarray:
        """(len(times), frequencies): the period holding each time in each frequency
        (:attr:`outside` for NaN and times outside the forecast)."""
        month = np.searchsorted(self.month_edges, times, side="right")  # 1 + month index
        return self.period_of_month[month]


def period_edges(start: dt.date, end: dt.date, frequency: str) -> tuple[list[str], np.ndarray]:
    """Labels and edges (weeks since ``start``) of the periods of ``frequency`` from
    ``start`` to ``end``; the first and last may be part-periods."""
    if frequency == "horizon":
        label = f"{financial_year(start)}-{financial_year(end - dt.timedelta(days=1))}"
        return [label], np.asarray([0.0, weeks_between(start, end)])
    firsts = [start, *period_starts(start, end, frequency)]
    edges = [weeks_between(start, date) for date in firsts] + [weeks_between(start, end)]
    return [period_label(date, frequency) for date in firsts], np.asarray(edges)


def build_layout(inputs: ModelInputs) -> Layout:
    """The output rows of a scenario (depends on its dates, horizon and cap only)."""
    start = inputs.start_date
    end = start + dt.timedelta(days=round(inputs.horizon_weeks * DAYS_PER_WEEK))
    rows: list[tuple[str, str, str, str]] = []
    edges, years = {}, {}
    for frequency in FREQUENCIES:
        periods, edges[frequency] = period_edges(start, end, frequency)
        if frequency != "horizon":
            firsts = [start, *period_starts(start, end, frequency)]
            years[frequency] = np.asarray([int(financial_year(d)[:4]) for d in firsts])
        for metric, groups in programme_metrics():
            for group in groups:
                rows += [(frequency, p, metric, group) for p in periods]
    horizon_label = rows[-1][1]
    for metric in FIRST_WEEK_METRICS:
        rows.append(("horizon", horizon_label, metric, "all"))
    rows += [("horizon", horizon_label, "wait_distribution", band) for band in WAIT_BAND_LABELS]
    quarters = inputs.assessment_labels
    for metric, groups in population_metrics():
        for group in groups:
            rows += [("quarter", p, metric, group) for p in quarters]
    columns = [np.asarray(c, dtype=object) for c in zip(*rows, strict=True)]
    return Layout(
        frequency=columns[0],
        period=columns[1],
        metric=columns[2],
        group=columns[3],
        period_edges_weeks=edges,
        horizon_weeks=inputs.horizon_weeks,
        cap=inputs.programme.cap,
        trust_region=inputs.population.register.region_index.astype(np.intp),
        period_years=years,
    )


def programme_metrics() -> list[tuple[str, tuple[str, ...]]]:
    """(metric, groups) of the programme outputs per period, in layout order."""
    return [
        ("caseload", PHASES),
        ("in_programme", ("all",)),
        ("waiting", ("all",)),
        ("national_wte", ("all",)),
        ("directors_needed", ("all",)),
        ("directors_from_interim", ("all",)),
        *[(flow, ("all",)) for flow in FLOWS],
        ("in_programme_by_region", REGIONS),
        ("waiting_by_region", REGIONS),
        ("referrals_by_region", REGIONS),
        *[(hours, SOURCES) for hours in HOURS],
        ("bought_hours", ("consultancy",)),
        ("interim_hours", (INTERIM,)),
        ("utilisation", SOURCES),
        ("cost", (*PROVIDERS, "total")),
        ("cost_by_payer", PAYERS),
        ("cost_cash", (*PROVIDERS, "total")),
        ("cost_by_payer_cash", PAYERS),
        ("cap_reached", ("all",)),
        ("national_demand_exceeded", ("all",)),
        ("mean_wait_weeks", ("all",)),
        ("share_waiting_over_13_weeks", ("all",)),
        ("mean_stay_weeks", ("all",)),
        ("mean_slippage_weeks", ("all",)),
        ("share_exits_late", ("all",)),
    ]


def population_metrics() -> list[tuple[str, tuple[str, ...]]]:
    """(metric, groups) of the quarterly population outputs, in layout order."""
    segments = tuple(f"{t}|segment {s}" for t in LEAGUE_TABLES for s in range(1, 6))
    return [
        ("trusts", segments),
        ("trusts_in_deficit", LEAGUE_TABLES),
        ("low_capability", LEAGUE_TABLES),
        ("churn", ("all",)),
        ("override_churn", ("all",)),
        ("catastrophic_failures", ("all",)),
        ("programme_segment", ("all",)),
    ]


def reduce_replication(result: ReplicationResult, layout: Layout) -> np.ndarray:
    """One replication as a float vector in ``layout`` order.

    Every frequency is reduced in one pass: the timeline's figures for all periods at
    once, then one (periods x metric groups) table, read out in layout order."""
    plan = layout.plan
    timeline, spells = result.timeline, result.spells
    waits = spells["admission"] - spells["referral"]
    stays = spells["exit"] - spells["admission"]
    slippage = spells["exit"] - spells["target_exit"]
    late = np.where(np.isnan(slippage), np.nan, slippage > 0)

    figures = timeline.figures(plan.periods)
    horizon = plan.periods.runs[-1]
    # stocks at each period's end; over the whole horizon, their mean over time
    stocks = {}
    for name in STOCKS:
        stocks[name] = figures[name].astype(float)
        stocks[name][horizon] = figures["mean_" + name][horizon]
    caseload = stocks["caseload"]
    used, available = figures["delivered_hours"], figures["capacity_hours"]
    utilisation = np.full_like(used, np.nan)
    np.divide(used, available, out=utilisation, where=available > 0)
    cost = figures["cost_by_source"]
    cost = np.column_stack([cost, cost.sum(axis=1)])
    blocks = {
        **stocks,
        "in_programme": caseload[:, :3].sum(axis=1),
        **{name: figures[name] for name in (*FLOWS, *HOURS, "bought_hours", "interim_hours")},
        "utilisation": utilisation,
        "cost": cost,
        "cost_by_payer": figures["cost_by_payer"],
        "cap_reached": figures["cap_reached"],
        "national_demand_exceeded": figures["national_short"],
        "mean_wait_weeks": _means_by_period(plan.period_of(spells["admission"]), [waits], plan)[0],
        "share_waiting_over_13_weeks": _share_waiting_long(spells, plan, layout.horizon_weeks),
    }
    # cash terms: base-year prices plus what inflation adds in each financial year; over
    # the horizon, plus what it adds in each year
    above = timeline.prices.cash_factor(plan.cash_years)[:, None] - 1.0
    for name in ("cost", "cost_by_payer"):
        added = blocks[name][: horizon.start] * above
        added = np.concatenate([added, added[plan.years].sum(axis=0, keepdims=True)])
        blocks[f"{name}_cash"] = blocks[name] + added
    # three figures by period of exit: one search for all of them
    blocks["mean_stay_weeks"], blocks["mean_slippage_weeks"], blocks["share_exits_late"] = (
        _means_by_period(plan.period_of(spells["exit"]), [stays, slippage, late], plan)
    )
    blocks |= _by_region(_region_spells(spells, layout.trust_region), plan)
    # one (periods x metric groups) table, in the order of programme_metrics()
    table = np.concatenate(
        [blocks[metric].reshape(len(cost), -1) for metric, _ in programme_metrics()],
        axis=1,
        dtype=float,
    )

    parts = [table.ravel()[plan.gather]]
    parts.append(np.array([timeline.first_cap_reached(), timeline.first_national_short()]))

    admitted = spells["admission"] >= 0
    # as np.histogram: band i holds waits in [edge i, edge i + 1)
    counts = np.diff(np.searchsorted(np.sort(waits[admitted]), WAIT_BANDS_WEEKS)).astype(float)
    parts.append(counts / counts.sum() if counts.sum() else np.full(len(counts), np.nan))

    parts += population_rows(result)
    return np.concatenate(parts)


def population_rows(result: ReplicationResult) -> list[np.ndarray]:
    """The quarterly population figures of one replication, in layout order."""
    labels_rows = len(result.assessment_labels)
    failures = np.bincount(
        np.searchsorted(result.assessment_weeks, result.catastrophe_weeks, side="right") - 1,
        minlength=labels_rows,
    )[:labels_rows]
    churn = np.concatenate([[np.nan], result.churn])  # no change is counted at the start
    override = np.concatenate([[np.nan], result.override_churn])
    n_tables = len(LEAGUE_TABLES)
    return [
        result.segment_counts.reshape(labels_rows, n_tables * 5).T.ravel().astype(float),
        result.deficit_counts.T.ravel().astype(float),
        result.low_capability_counts.T.ravel().astype(float),
        churn,
        override,
        failures.astype(float),
        result.programme_segment.astype(float),
    ]


def _region_spells(spells: dict, trust_region: np.ndarray) -> tuple:
    """Per spell, what :func:`_by_region` counts: its trust's region, when it was in the
    programme and when it waited ((start, end) pairs; NaN end: not yet), and its referral
    time (NaN for a trust placed in the programme at the start, with no referral event).

    A trust is in the programme from admission until exit, or until a merger ends its
    spell; it waits from referral until admission, or until it leaves the list.
    """
    ended = np.fmin(spells["exit"], np.where(spells["merged"], spells["support_end"], np.nan))
    waited = np.where(spells["left_list"], spells["support_end"], spells["admission"])
    stocks = (
        ("in_programme_by_region", spells["admission"], ended),
        ("waiting_by_region", spells["referral"], waited),
    )
    referred = np.where(spells["listed"], spells["referral"], np.nan)
    return trust_region[spells["trust"]], stocks, referred


def _by_region(prepared: tuple, plan: ReductionPlan) -> dict[str, np.ndarray]:
    """Trusts in the programme and waiting, and referrals, by region: (periods, regions)
    each, from :func:`_region_spells`.

    Stocks are the state just before each period's end, as for all trusts (over the
    horizon, their mean over time); referrals are counted in the period of their exact
    date. Whole arrays, no loop over trusts or periods: stocks as (spells x period ends)
    indicators summed by region with one product (whole numbers: exact).
    """
    region, stocks, referred = prepared
    n, periods = len(REGIONS), len(plan.periods.first)
    ends = plan.stock_ends[None, :]
    in_region = (region[:, None] == np.arange(n)).astype(float)
    first, last = plan.periods.edges[-2:]  # the horizon
    out = {}
    for name, start, end in stocks:
        # counted at an end if begun before it and not ended before it (NaN compares
        # False: never begun, or not yet ended)
        inside = np.greater(start[:, None] < ends, end[:, None] < ends).astype(float)
        begun = np.maximum(np.where(np.isnan(start), last, start), first)
        time = np.clip(np.fmin(end, last) - begun, 0.0, None)
        over_time = np.bincount(region, weights=time, minlength=n) / (last - first)
        out[name] = np.vstack([inside.T @ in_region, over_time])
    which = plan.period_of(referred)
    cells = (which * n + region[:, None])[which < plan.outside]
    out["referrals_by_region"] = np.bincount(cells, minlength=periods * n).reshape(periods, n)
    return out


def _means_by_period(
    period: np.ndarray, values: list[np.ndarray], plan: ReductionPlan
) -> list[np.ndarray]:
    """For each array in ``values``, the mean of its entries in each period, given the
    period of each entry in every frequency (:meth:`ReductionPlan.period_of`; NaN values
    and entries outside the forecast are left out; NaN if none).

    Entries are summed in their order within each period, as one ``bincount`` per
    frequency would."""
    n = plan.outside
    out = []
    for value in values:
        keep = ~np.isnan(value)
        which = period[keep]
        weights = np.broadcast_to(value[keep, None], which.shape)
        totals = np.bincount(which.ravel(), weights=weights.ravel(), minlength=n + 1)[:n]
        counts = np.bincount(which.ravel(), minlength=n + 1)[:n]
        out.append(np.divide(totals, counts, out=np.full(n, np.nan), where=counts > 0))
    return out


def _share_waiting_long(spells: dict, plan: ReductionPlan, horizon: float) -> np.ndarray:
    """Of trusts referred in each period, the share that waited over 13 weeks.

    A trust that left the list unadmitted (no longer eligible) counts by how long it
    waited before leaving. A trust still waiting at the horizon counts as a long wait if
    it had already waited 13 weeks; one referred less than 13 weeks before the horizon and still waiting is
    left out (its outcome is unknown).
    """
    referral, admission = spells["referral"], spells["admission"]
    # a wait ends at admission, or when the trust leaves the list no longer eligible
    ended = np.where(spells["left_list"], spells["support_end"], admission)
    waited = np.where(np.isnan(ended), horizon, ended) - referral
    known = ~np.isnan(ended) | (waited > WAIT_THRESHOLD_WEEKS)
    long_wait = (waited > WAIT_THRESHOLD_WEEKS).astype(float)
    period = plan.period_of(np.where(known, referral, np.nan))
    return _means_by_period(period, [long_wait], plan)[0]
