"""Reduce one replication to a vector of period figures, in a layout fixed per scenario.

Every replication of a scenario produces the same rows: (frequency, period, metric,
group). :func:`build_layout` builds that list once per scenario; :func:`reduce_replications`
turns replications' arrays into float vectors in exactly that order, a batch of them at a
time (:func:`reduce_replication` one). A worker process therefore returns a small matrix,
not a table, and summaries across replications are array operations on a (replications x
rows) matrix.

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
import itertools
from collections.abc import Sequence
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
from sim.model.timeline import CostRates, Periods, TimelineBatch
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
    """Index arrays that let :func:`reduce_replications` treat every frequency in one pass
    (built from the fields above)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", ReductionPlan.build(self))


@dataclass(frozen=True)
class ReductionPlan:
    """What :func:`reduce_replications` needs to reduce every frequency at once, built once
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
    stock_month: np.ndarray
    """Positions in :attr:`month_edges` of the ends of the periods whose stocks are taken
    at their end (all but the horizon's, which are means over time), in period order."""
    cash_years: np.ndarray
    """Calendar year of each of those periods' financial year (for cash terms)."""
    years: slice
    """The financial years among those periods."""
    place: np.ndarray
    """Where each programme figure goes in a row of the layout (the programme rows come
    first), the figures taken metric by metric in the order of :func:`programme_metrics`,
    each metric's (periods x groups) block in its own order."""

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
        metrics = programme_metrics()
        width = sum(len(groups) for _, groups in metrics)
        # per frequency, group-major then period, as the layout lists the rows: the
        # position in the (periods x metric groups) table of each programme row...
        gather = np.concatenate([
            (np.arange(width)[:, None] + width * np.arange(run.start, run.stop)[None, :]).ravel()
            for run in periods.runs
        ])  # fmt: skip
        # ... and so the position in a row of each figure of the table, read metric by
        # metric (a metric's (periods x groups) block in its own order)
        row = np.empty_like(gather)
        row[gather] = np.arange(len(gather))
        row = row.reshape(total, width)
        ends = np.cumsum([0, *(len(groups) for _, groups in metrics)])
        place = np.concatenate([row[:, a:b].ravel() for a, b in itertools.pairwise(ends)])
        stocked = slice(0, periods.runs[-1].start)
        year_run = periods.runs[FREQUENCIES.index("year")]
        return cls(
            periods=periods,
            month_edges=months,
            period_of_month=period_of_month,
            outside=total,
            stock_month=np.searchsorted(months, periods.edges[periods.last[stocked]]),
            cash_years=np.concatenate(
                [layout.period_years[f] for f in FREQUENCIES if f != "horizon"]
            ),
            years=year_run,
            place=place,
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
    """One replication as a float vector in ``layout`` order: :func:`reduce_replications`
    of it alone."""
    return reduce_replications([result], layout)[0]


REDUCE_BLOCK = 16
"""Replications :func:`reduce_replications` reduces together: enough that each step is one
array operation for many, few enough that its arrays stay in the processor's cache."""


def reduce_replications(results: Sequence[ReplicationResult], layout: Layout) -> np.ndarray:
    """Replications of one scenario as a (replications x rows) matrix in ``layout`` order;
    row j is exactly (bit for bit) what replication j gives alone.

    Replications are reduced :data:`REDUCE_BLOCK` at a time, every frequency of every
    replication at once: the timelines' figures for all periods
    (:class:`~sim.model.timeline.TimelineBatch`), and the spells of all replications end to
    end, each labelled with its replication. Every figure is element by element, a count,
    or a sum of one replication's values in their own order, so it does not depend on
    which other replications are reduced with it."""
    out = np.empty((len(results), len(layout)))
    for first in range(0, len(results), REDUCE_BLOCK):
        block = slice(first, first + REDUCE_BLOCK)
        _reduce_block(results[block], layout, out[block])
    return out


def _reduce_block(results: Sequence[ReplicationResult], layout: Layout, out: np.ndarray) -> None:
    """:func:`reduce_replications` of a few replications, written into ``out``."""
    plan, batch = layout.plan, len(results)
    timelines = TimelineBatch.of([result.timeline for result in results])
    spells = _spells_of(results)
    replication = spells["replication"]
    waits = spells["admission"] - spells["referral"]
    stays = spells["exit"] - spells["admission"]
    slippage = spells["exit"] - spells["target_exit"]
    late = np.where(np.isnan(slippage), np.nan, slippage > 0)

    def means(times: np.ndarray, values: list[np.ndarray]) -> list[np.ndarray]:
        return _means_by_period(times, values, replication, batch, plan)

    figures = timelines.figures(plan.periods)
    horizon = plan.periods.runs[-1]
    # stocks at each period's end; over the whole horizon, their mean over time
    stocks = {}
    for name in STOCKS:
        stocks[name] = figures[name].astype(float)
        stocks[name][:, horizon] = figures["mean_" + name][:, horizon]
    caseload = stocks["caseload"]
    used, available = figures["delivered_hours"], figures["capacity_hours"]
    utilisation = np.full_like(used, np.nan)
    np.divide(used, available, out=utilisation, where=available > 0)
    cost = figures["cost_by_source"]
    cost = np.concatenate([cost, cost.sum(axis=-1, keepdims=True)], axis=-1)
    blocks = {
        **stocks,
        "in_programme": caseload[..., :3].sum(axis=-1),
        **{name: figures[name] for name in (*FLOWS, *HOURS, "bought_hours", "interim_hours")},
        "utilisation": utilisation,
        "cost": cost,
        "cost_by_payer": figures["cost_by_payer"],
        "cap_reached": figures["cap_reached"],
        "national_demand_exceeded": figures["national_short"],
        "mean_wait_weeks": means(spells["admission"], [waits])[0],
        "share_waiting_over_13_weeks": _share_waiting_long(
            spells, replication, batch, plan, layout.horizon_weeks
        ),
    }
    # cash terms: base-year prices plus what inflation adds in each financial year; over
    # the horizon, plus what it adds in each year
    above = _cash_above(timelines.prices, plan.cash_years)
    for name in ("cost", "cost_by_payer"):
        added = blocks[name][:, : horizon.start] * above[..., None]
        added = np.concatenate([added, added[:, plan.years].sum(axis=1, keepdims=True)], axis=1)
        blocks[f"{name}_cash"] = blocks[name] + added
    # three figures by period of exit: one search for all of them
    blocks["mean_stay_weeks"], blocks["mean_slippage_weeks"], blocks["share_exits_late"] = means(
        spells["exit"], [stays, slippage, late]
    )
    blocks |= _by_region(_region_spells(spells, layout.trust_region), replication, batch, plan)
    # every (periods x groups) block to its places in the rows
    out[:, plan.place] = np.concatenate(
        [blocks[metric].reshape(batch, -1) for metric, _ in programme_metrics()],
        axis=1,
        dtype=float,
    )

    # then the horizon's first weeks (FIRST_WEEK_METRICS), wait bands and the population
    at = len(plan.place)
    for condition in ("cap_reached", "national_short"):
        out[:, at] = timelines.first_times(condition)
        at += 1

    # as np.histogram: band i holds waits in [edge i, edge i + 1)
    admitted = spells["admission"] >= 0
    bands = len(WAIT_BAND_LABELS)
    band = np.searchsorted(WAIT_BANDS_WEEKS, waits[admitted], side="right") - 1
    inside = (band >= 0) & (band < bands)
    cells = replication[admitted][inside] * bands + band[inside]
    counts = np.bincount(cells, minlength=batch * bands).reshape(batch, bands).astype(float)
    total = counts.sum(axis=1, keepdims=True)
    out[:, at : at + bands] = np.divide(
        counts, total, out=np.full_like(counts, np.nan), where=total > 0
    )
    at += bands

    np.concatenate(_population_parts(results), axis=1, out=out[:, at:])


def _spells_of(results: Sequence[ReplicationResult]) -> dict[str, np.ndarray]:
    """The spells of all ``results`` end to end, with the ``replication`` (index in
    ``results``) of each."""
    if len(results) == 1:
        spells = dict(results[0].spells)
        spells["replication"] = np.zeros(len(spells["trust"]), dtype=np.intp)
        return spells
    columns = [result.spells for result in results]
    out = {name: np.concatenate([c[name] for c in columns]) for name in _SPELL_COLUMNS}
    sizes = [len(c["trust"]) for c in columns]
    out["replication"] = np.repeat(np.arange(len(results)), sizes)
    return out


_SPELL_COLUMNS = ("trust", "referral", "admission", "target_exit", "exit", "support_end",
                  "left_list", "merged", "listed")  # fmt: skip
"""The spell columns the reduction reads."""


def _cash_above(prices: list[CostRates], years: np.ndarray) -> np.ndarray:
    """(replications, len(years)): what cash terms add to base-year prices in each of
    ``years`` (:meth:`~sim.model.timeline.CostRates.cash_factor` less 1), once per distinct
    set of prices."""
    factors: dict[CostRates, np.ndarray] = {}
    for rates in prices:
        if rates not in factors:
            factors[rates] = rates.cash_factor(years) - 1.0
    return np.array([factors[rates] for rates in prices])


def population_rows(result: ReplicationResult) -> list[np.ndarray]:
    """The quarterly population figures of one replication, in layout order."""
    return [part[0] for part in _population_parts([result])]


def _population_parts(results: Sequence[ReplicationResult]) -> list[np.ndarray]:
    """The quarterly population figures of replications of one scenario, in layout order:
    (replications, rows) per metric."""
    batch, labels_rows = len(results), len(results[0].assessment_labels)

    def stacked(name: str) -> np.ndarray:
        return np.array([getattr(result, name) for result in results])

    # a failure counts in the row of the last assessment at or before it: the assessments
    # not after it, less one (NaN: after every assessment, as a sorted search would put it)
    weeks = [result.catastrophe_weeks for result in results]
    owner = np.repeat(np.arange(batch), [len(w) for w in weeks])
    weeks = np.concatenate(weeks)
    row = (~(stacked("assessment_weeks")[owner] > weeks[:, None])).sum(axis=1) - 1
    cells = (owner * labels_rows + row)[row >= 0]  # none is before the start
    failures = np.bincount(cells, minlength=batch * labels_rows)
    start = np.full((batch, 1), np.nan)  # no change is counted at the start
    n_tables = len(LEAGUE_TABLES)
    by_table = (0, 2, 1)  # (replications, rows, tables) to table-major

    def table_major(values: np.ndarray) -> np.ndarray:
        return values.transpose(by_table).reshape(batch, -1).astype(float)

    return [
        table_major(stacked("segment_counts").reshape(batch, labels_rows, n_tables * 5)),
        table_major(stacked("deficit_counts")),
        table_major(stacked("low_capability_counts")),
        np.concatenate([start, stacked("churn")], axis=1),
        np.concatenate([start, stacked("override_churn")], axis=1),
        failures.reshape(batch, labels_rows).astype(float),
        stacked("programme_segment").astype(float),
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


def _by_region(
    prepared: tuple, replication: np.ndarray, batch: int, plan: ReductionPlan
) -> dict[str, np.ndarray]:
    """Trusts in the programme and waiting, and referrals, by region: (replications,
    periods, regions) each, from :func:`_region_spells` of the spells of ``batch``
    replications (``replication``: whose each spell is).

    Stocks are the state just before each period's end, as for all trusts (over the
    horizon, their mean over time); referrals are counted in the period of their exact
    date. Whole arrays, no loop over trusts or periods: a spell is counted at the month
    edges from the first after its start to the first at or after its end (every period
    ends at a month edge), so each stock is a running count by replication and region
    (whole numbers: exact), read at the period ends.
    """
    region, stocks, referred = prepared
    n, periods = len(REGIONS), len(plan.periods.first)
    edges = plan.month_edges
    cell = replication * n + region
    width = len(edges) + 1  # a spell never begun, or never ended, changes nothing
    first, last = plan.periods.edges[-2:]  # the horizon
    out = {}
    for name, start, end in stocks:
        # counted at an end e if begun before it and not ended before it (NaN compares
        # False: never begun, or not yet ended): start < e iff (edges <= start) <= e's
        # position, end < e likewise (NaN: after every edge)
        opens = np.searchsorted(edges, start, side="right")
        closes = np.searchsorted(edges, end, side="right")
        counted = opens < closes
        cells = cell[counted] * width
        changes = np.bincount(cells + opens[counted], minlength=batch * n * width)
        changes -= np.bincount(cells + closes[counted], minlength=batch * n * width)
        changes = changes.reshape(batch, n, width)
        inside = np.cumsum(changes, axis=2)[..., plan.stock_month].transpose(0, 2, 1)
        begun = np.maximum(np.where(np.isnan(start), last, start), first)
        time = np.clip(np.fmin(end, last) - begun, 0.0, None)
        over_time = np.bincount(cell, weights=time, minlength=batch * n) / (last - first)
        out[name] = np.concatenate([inside, over_time.reshape(batch, 1, n)], axis=1)
    which = plan.period_of(referred)
    cells = ((replication[:, None] * periods + which) * n + region[:, None])[which < plan.outside]
    out["referrals_by_region"] = np.bincount(cells, minlength=batch * periods * n).reshape(
        batch, periods, n
    )
    return out


def _means_by_period(
    times: np.ndarray,
    values: list[np.ndarray],
    replication: np.ndarray,
    batch: int,
    plan: ReductionPlan,
) -> list[np.ndarray]:
    """For each array in ``values``, the mean of its entries in each period of each
    replication, (replications, periods), given the time of each entry and its
    replication (NaN values, and entries at NaN times or outside the forecast, are left
    out; NaN if none).

    Entries are summed in their order within each period of each replication, as one
    ``bincount`` per replication and frequency would."""
    n = plan.outside
    size = batch * (n + 1)
    cells = (replication * (n + 1))[:, None] + plan.period_of(times)
    out = []
    for value in values:
        keep = ~np.isnan(value)
        which = cells[keep].ravel()  # entry by entry, each in every frequency
        weights = np.repeat(value[keep], cells.shape[1])
        totals = np.bincount(which, weights=weights, minlength=size).reshape(batch, n + 1)
        counts = np.bincount(which, minlength=size).reshape(batch, n + 1)
        mean = np.divide(totals, counts, out=np.full((batch, n + 1), np.nan), where=counts > 0)
        out.append(mean[:, :n])
    return out


def _share_waiting_long(
    spells: dict, replication: np.ndarray, batch: int, plan: ReductionPlan, horizon: float
) -> np.ndarray:
    """Of trusts referred in each period, the share that waited over 13 weeks
    (replications, periods).

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
    times = np.where(known, referral, np.nan)
    return _means_by_period(times, [long_wait], replication, batch, plan)[0]
