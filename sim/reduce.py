"""Reduce one replication to a vector of period figures, in a layout fixed per scenario.

Every replication of a scenario produces the same rows: (frequency, period, metric,
group). :func:`build_layout` builds that list once per scenario; :func:`reduce_replication`
turns one replication's arrays into a float vector in exactly that order. A worker process
therefore returns a small vector, not a table, and summaries across replications are array
operations on a (replications x rows) matrix.

Aggregation rules (within the replication, before any statistic across replications):

* a week belongs to the month, quarter and financial year in which it starts;
* stocks (caseload, waiting list, WTE) are taken at the last week of the period, except
  over the whole ``horizon``, where they are averaged over its weeks;
* flows (referrals, hours, cost) are summed over the period's weeks;
* ``utilisation`` is delivered hours over capacity hours within the period;
* ``*_exceeded`` metrics are 1 if the event happened in any week of the period, else 0,
  so their mean across replications is the probability it happens in that period;
* ``first_week_cap_reached`` and ``first_week_national_demand_exceeded`` (horizon only)
  are the first week (since the start date) it happens, NaN if it never does;
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

from sim.calendar import financial_year, quarter_label
from sim.model.replication import ModelInputs, ReplicationResult
from sim.scenario.schema import LEAGUE_TABLES, PHASES, SOURCES

FREQUENCIES = ("month", "quarter", "year", "horizon")
"""``horizon`` is one period covering the whole forecast (label like '2026/27-2030/31')."""
WAIT_THRESHOLD_WEEKS = 13.0
"""Waits longer than this are counted in ``share_waiting_over_13_weeks``."""

STOCKS = ("caseload", "in_programme", "waiting", "national_wte")
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
class Layout:
    """The rows every replication of one scenario produces, in order."""

    frequency: np.ndarray
    period: np.ndarray
    metric: np.ndarray
    group: np.ndarray
    # how to aggregate weeks into periods, per frequency
    period_starts: dict[str, np.ndarray]
    """Index of each period's first week (for ``np.add.reduceat``)."""
    period_ends: dict[str, np.ndarray]
    """Index of each period's last week (stocks at the period's end)."""
    period_edges_weeks: dict[str, np.ndarray]
    """Start of each period and the end of the last, in weeks since the start date."""
    n_weeks: int
    horizon_weeks: float
    cap: int

    def __len__(self) -> int:
        return len(self.metric)


def _period_labels(start: dt.date, n_weeks: int, frequency: str) -> list[str]:
    labels = []
    for week in range(n_weeks):
        date = start + dt.timedelta(days=7 * week)
        if frequency == "month":
            labels.append(f"{date.year}-{date.month:02d}")
        elif frequency == "quarter":
            labels.append(quarter_label(date))
        else:
            labels.append(financial_year(date))
    return labels


def build_layout(inputs: ModelInputs) -> Layout:
    """The output rows of a scenario (depends on its dates, horizon and cap only)."""
    n_weeks = int(np.ceil(inputs.population.horizon_weeks - 1e-9))
    rows: list[tuple[str, str, str, str]] = []
    starts, ends, edges = {}, {}, {}
    for frequency in FREQUENCIES:
        if frequency == "horizon":
            years = _period_labels(inputs.start_date, n_weeks, "year")
            labels = [f"{years[0]}-{years[-1]}"] * n_weeks
        else:
            labels = _period_labels(inputs.start_date, n_weeks, frequency)
        first = [0] + [w for w in range(1, n_weeks) if labels[w] != labels[w - 1]]
        starts[frequency] = np.asarray(first)
        ends[frequency] = np.asarray([*first[1:], n_weeks]) - 1
        edges[frequency] = np.asarray([*first, inputs.population.horizon_weeks], dtype=float)
        periods = [labels[w] for w in first]
        for metric, groups in _programme_metrics():
            for group in groups:
                rows += [(frequency, p, metric, group) for p in periods]
    horizon_label = rows[-1][1]
    for metric in FIRST_WEEK_METRICS:
        rows.append(("horizon", horizon_label, metric, "all"))
    rows += [("horizon", horizon_label, "wait_distribution", band) for band in WAIT_BAND_LABELS]
    quarters = inputs.population.assessment_labels
    for metric, groups in _population_metrics():
        for group in groups:
            rows += [("quarter", p, metric, group) for p in quarters]
    columns = [np.asarray(c, dtype=object) for c in zip(*rows, strict=True)]
    return Layout(
        frequency=columns[0],
        period=columns[1],
        metric=columns[2],
        group=columns[3],
        period_starts=starts,
        period_ends=ends,
        period_edges_weeks=edges,
        n_weeks=n_weeks,
        horizon_weeks=inputs.population.horizon_weeks,
        cap=inputs.programme.cap,
    )


def _programme_metrics() -> list[tuple[str, tuple[str, ...]]]:
    """(metric, groups) of the weekly programme outputs, in layout order."""
    return [
        ("caseload", PHASES),
        ("in_programme", ("all",)),
        ("waiting", ("all",)),
        ("national_wte", ("all",)),
        *[(flow, ("all",)) for flow in FLOWS],
        *[(hours, SOURCES) for hours in HOURS],
        ("bought_hours", ("consultancy",)),
        ("utilisation", SOURCES),
        ("cost", (*SOURCES, "total")),
        ("cost_by_payer", ("trusts", "nhs_england")),
        ("cap_reached", ("all",)),
        ("national_demand_exceeded", ("all",)),
        ("mean_wait_weeks", ("all",)),
        ("share_waiting_over_13_weeks", ("all",)),
        ("mean_stay_weeks", ("all",)),
        ("mean_slippage_weeks", ("all",)),
        ("share_exits_late", ("all",)),
    ]


def _population_metrics() -> list[tuple[str, tuple[str, ...]]]:
    segments = tuple(f"{t}|segment {s}" for t in LEAGUE_TABLES for s in range(1, 6))
    return [
        ("trusts", segments),
        ("trusts_in_deficit", LEAGUE_TABLES),
        ("low_capability", LEAGUE_TABLES),
        ("churn", ("all",)),
        ("override_churn", ("all",)),
        ("catastrophic_failures", ("all",)),
    ]


def reduce_replication(result: ReplicationResult, layout: Layout) -> np.ndarray:
    """One replication as a float vector in ``layout`` order."""
    weekly, spells = result.weekly, result.spells
    in_programme = weekly["caseload"][:, :3].sum(axis=1)
    delivered, capacity = weekly["delivered_hours"], weekly["capacity_hours"]
    cost = weekly["cost_by_source"]
    # weekly series in layout order: (metric, (weeks, groups))
    stocks = {
        "caseload": weekly["caseload"],
        "in_programme": in_programme[:, None],
        "waiting": weekly["waiting"][:, None],
        "national_wte": weekly["national_wte"][:, None],
    }
    flows = {
        **{name: weekly[name][:, None] for name in FLOWS},
        **{name: weekly[name] for name in HOURS},
        "bought_hours": weekly["bought_hours"][:, None],
        "cost": np.column_stack([cost, cost.sum(axis=1)]),
        "cost_by_payer": weekly["cost_by_payer"],
        "cap_reached": (in_programme >= layout.cap)[:, None],
        "national_demand_exceeded": (weekly["demand_hours"][:, 0] > capacity[:, 0] + 1e-9)[:, None],
    }
    waits = spells["admission"] - spells["referral"]
    slippage = spells["exit"] - spells["target_exit"]

    parts: list[np.ndarray] = []
    for frequency in FREQUENCIES:
        starts, ends = layout.period_starts[frequency], layout.period_ends[frequency]
        edges = layout.period_edges_weeks[frequency]
        for metric, _ in _programme_metrics():
            if metric in stocks and frequency == "horizon":
                block = stocks[metric].mean(axis=0, keepdims=True)
            elif metric in stocks:
                block = stocks[metric][ends].astype(float)
            elif metric == "utilisation":
                used = np.add.reduceat(delivered, starts, axis=0)
                available = np.add.reduceat(capacity, starts, axis=0)
                block = np.full_like(used, np.nan)
                np.divide(used, available, out=block, where=available > 0)
            elif metric in ("cap_reached", "national_demand_exceeded"):
                block = np.maximum.reduceat(flows[metric].astype(float), starts, axis=0)
            elif metric in flows:
                block = np.add.reduceat(flows[metric].astype(float), starts, axis=0)
            elif metric == "mean_wait_weeks":
                block = _mean_by_period(spells["admission"], waits, edges)[:, None]
            elif metric == "share_waiting_over_13_weeks":
                block = _share_waiting_long(spells, edges, layout.horizon_weeks)[:, None]
            elif metric == "mean_stay_weeks":
                stays = spells["exit"] - spells["admission"]
                block = _mean_by_period(spells["exit"], stays, edges)[:, None]
            elif metric == "mean_slippage_weeks":
                block = _mean_by_period(spells["exit"], slippage, edges)[:, None]
            else:  # share_exits_late
                late = (slippage > 0).astype(float)
                block = _mean_by_period(spells["exit"], late, edges)[:, None]
            parts.append(block.T.ravel())  # group-major, matching the layout

    for metric in ("cap_reached", "national_demand_exceeded"):
        weeks = np.flatnonzero(flows[metric][:, 0])
        parts.append(np.array([weeks[0] if len(weeks) else np.nan], dtype=float))

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
    ]
    return np.concatenate(parts)


def _mean_by_period(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``values`` whose ``times`` fall in each period [edges[i], edges[i+1])."""
    known = ~np.isnan(times) & ~np.isnan(values)
    which = np.searchsorted(edges, times[known], side="right") - 1
    inside = (which >= 0) & (which < len(edges) - 1)
    n = len(edges) - 1
    totals = np.bincount(which[inside], weights=values[known][inside], minlength=n)
    counts = np.bincount(which[inside], minlength=n)
    return np.divide(totals, counts, out=np.full(n, np.nan), where=counts > 0)


def _share_waiting_long(spells: dict, edges: np.ndarray, horizon: float) -> np.ndarray:
    """Of trusts referred in each period, the share that waited over 13 weeks.

    A trust still waiting at the horizon counts as a long wait if it had already waited
    13 weeks; one referred less than 13 weeks before the horizon and still waiting is
    left out (its outcome is unknown).
    """
    referral, admission = spells["referral"], spells["admission"]
    waited = np.where(np.isnan(admission), horizon, admission) - referral
    known = ~np.isnan(admission) | (waited > WAIT_THRESHOLD_WEEKS)
    long_wait = (waited > WAIT_THRESHOLD_WEEKS).astype(float)
    return _mean_by_period(np.where(known, referral, np.nan), long_wait, edges)
