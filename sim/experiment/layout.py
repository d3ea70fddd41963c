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
from dataclasses import dataclass

import numpy as np

from sim.calendar import (
    DAYS_PER_WEEK,
    financial_year,
    period_label,
    period_starts,
    weeks_between,
)
from sim.model.replication import ModelInputs, ReplicationResult
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
    """One replication as a float vector in ``layout`` order."""
    timeline, spells = result.timeline, result.spells
    waits = spells["admission"] - spells["referral"]
    stays = spells["exit"] - spells["admission"]
    slippage = spells["exit"] - spells["target_exit"]
    late = np.where(np.isnan(slippage), np.nan, slippage > 0)

    parts: list[np.ndarray] = []
    yearly: dict[str, np.ndarray] = {}  # what inflation adds to each year's costs
    by_region = _region_spells(spells, layout.trust_region)
    for frequency in FREQUENCIES:
        edges = layout.period_edges_weeks[frequency]
        figures = timeline.over(edges)
        # stocks at each period's end; over the whole horizon, their mean over time
        prefix = "mean_" if frequency == "horizon" else ""
        caseload = figures[prefix + "caseload"].astype(float)
        cost = figures["cost_by_source"]
        used, available = figures["delivered_hours"], figures["capacity_hours"]
        utilisation = np.full_like(used, np.nan)
        np.divide(used, available, out=utilisation, where=available > 0)
        blocks = {
            "caseload": caseload,
            "in_programme": caseload[:, :3].sum(axis=1),
            "waiting": figures[prefix + "waiting"],
            "national_wte": figures[prefix + "national_wte"],
            "directors_needed": figures[prefix + "directors_needed"],
            "directors_from_interim": figures[prefix + "directors_from_interim"],
            **{name: figures[name] for name in (*FLOWS, *HOURS, "bought_hours", "interim_hours")},
            "utilisation": utilisation,
            "cost": np.column_stack([cost, cost.sum(axis=1)]),
            "cost_by_payer": figures["cost_by_payer"],
            "cap_reached": figures["cap_reached"],
            "national_demand_exceeded": figures["national_short"],
            "mean_wait_weeks": _means_by_period(spells["admission"], [waits], edges)[0],
            "share_waiting_over_13_weeks": _share_waiting_long(spells, edges, layout.horizon_weeks),
        }
        blocks |= _by_region(by_region, edges, over_time=bool(prefix))
        # cash terms: base-year prices plus what inflation adds in each financial year; over
        # the horizon, plus what it adds in each year (FREQUENCIES has years before it)
        if frequency == "horizon":
            added = {name: block.sum(axis=0, keepdims=True) for name, block in yearly.items()}
        else:
            above = timeline.prices.cash_factor(layout.period_years[frequency]) - 1.0
            added = {name: blocks[name] * above[:, None] for name in ("cost", "cost_by_payer")}
            yearly = added if frequency == "year" else yearly
        blocks["cost_cash"] = blocks["cost"] + added["cost"]
        blocks["cost_by_payer_cash"] = blocks["cost_by_payer"] + added["cost_by_payer"]
        # three figures by period of exit: one search for all of them
        blocks["mean_stay_weeks"], blocks["mean_slippage_weeks"], blocks["share_exits_late"] = (
            _means_by_period(spells["exit"], [stays, slippage, late], edges)
        )
        for metric, _ in programme_metrics():
            block = np.asarray(blocks[metric], dtype=float)
            parts.append(block.T.ravel())  # group-major, matching the layout

    parts.append(np.array([timeline.first_cap_reached(), timeline.first_national_short()]))

    admitted = spells["admission"] >= 0
    counts = np.histogram(waits[admitted], bins=WAIT_BANDS_WEEKS)[0].astype(float)
    parts.append(counts / counts.sum() if counts.sum() else np.full(len(counts), np.nan))

    labels_rows = len(result.assessment_labels)
    failures = np.bincount(
        np.searchsorted(result.assessment_weeks, result.catastrophe_weeks, side="right") - 1,
        minlength=labels_rows,
    )[:labels_rows]
    churn = np.concatenate([[np.nan], result.churn])  # no change is counted at the start
    override = np.concatenate([[np.nan], result.override_churn])
    n_tables = len(LEAGUE_TABLES)
    parts += [
        result.segment_counts.reshape(labels_rows, n_tables * 5).T.ravel().astype(float),
        result.deficit_counts.T.ravel().astype(float),
        result.low_capability_counts.T.ravel().astype(float),
        churn,
        override,
        failures.astype(float),
        result.programme_segment.astype(float),
    ]
    return np.concatenate(parts)


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


def _by_region(prepared: tuple, edges: np.ndarray, over_time: bool) -> dict[str, np.ndarray]:
    """Trusts in the programme and waiting, and referrals, by region: (P, regions) each,
    from :func:`_region_spells`.

    Stocks are the state just before each period's end, as for all trusts (or,
    ``over_time``, their mean over the one period); referrals are counted in the period of
    their exact date. One ``bincount`` over (period, region) cells per figure: no loop over
    trusts or periods.
    """
    region, stocks, referred = prepared
    n, periods = len(REGIONS), len(edges) - 1
    out = {}
    for name, start, end in stocks:
        if over_time:
            first, last = edges[0], edges[-1]
            begun = np.maximum(np.where(np.isnan(start), last, start), first)
            time = np.clip(np.fmin(end, last) - begun, 0.0, None)
            out[name] = np.bincount(region, weights=time, minlength=n) / (last - first)
            continue
        ends = edges[None, 1:]  # NaN compares False: never started, or not yet ended
        spell, period = np.nonzero((start[:, None] < ends) & ~(end[:, None] < ends))
        out[name] = np.bincount(period * n + region[spell], minlength=periods * n)
    which = np.searchsorted(edges, referred, side="right") - 1
    counted = (which >= 0) & (which < periods)
    out["referrals_by_region"] = np.bincount(
        which[counted] * n + region[counted], minlength=periods * n
    )
    return {name: cells.reshape(periods, n) for name, cells in out.items()}


def _means_by_period(
    times: np.ndarray, values: list[np.ndarray], edges: np.ndarray
) -> list[np.ndarray]:
    """For each array in ``values``, the mean of its entries whose ``times`` fall in each
    period [edges[i], edges[i+1]) (NaN times and NaN values are left out; NaN if none)."""
    n = len(edges) - 1
    which = np.searchsorted(edges, times, side="right") - 1
    inside = ~np.isnan(times) & (which >= 0) & (which < n)
    out = []
    for value in values:
        keep = inside & ~np.isnan(value)
        totals = np.bincount(which[keep], weights=value[keep], minlength=n)
        counts = np.bincount(which[keep], minlength=n)
        out.append(np.divide(totals, counts, out=np.full(n, np.nan), where=counts > 0))
    return out


def _share_waiting_long(spells: dict, edges: np.ndarray, horizon: float) -> np.ndarray:
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
    return _means_by_period(np.where(known, referral, np.nan), [long_wait], edges)[0]
