"""The programme's state over time, and its figures over any set of periods.

The programme logs its whole state (caseload by phase, waiting list, support demand,
capacity and delivery by source, WTE in post, dose) at every event, so between two log
rows everything is constant. :class:`Timeline` keeps that log and the exact times of every
referral, admission, exit and re-entry, and turns them into figures for any periods given
by their edges in weeks since the start date (:meth:`Timeline.over`):

* a flow (referrals, admissions, exits, re-entries) is counted in the period containing
  the exact time of its event: an event at a period's first instant belongs to it;
* a stock (caseload, waiting list, WTE in post, improvement directors, dose) is the state
  in force at the exact end of the period, before any event at that instant (so the
  quarter to 30 June ends before the assessment on 1 July); ``mean_*`` is its
  time-weighted mean over the period;
* hours and costs are integrated exactly over the period;
* ``cap_reached`` and ``national_short`` are 1 if the condition held for any stretch of
  time of positive length inside the period (a state passed through within one instant,
  between two events at the same time, does not count).

Pure numpy: no simpy, no pandas. The model returns a timeline; the reduction asks it for
months, quarters and years, and ``ReplicationResult.weekly`` asks it for weeks.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.vocabulary import PHASES, SOURCES, Source

NATIONAL, FAMILY, CONSULTANCY = (int(source) for source in Source)


SUPPORT_FIELDS = (
    *(f"demand_{source}" for source in SOURCES),
    *(f"capacity_{source}" for source in SOURCES),
    *(f"delivered_{source}" for source in SOURCES),
    "bought_hours",
    "interim_hours",
    "national_wte_in_post",
    "dose",
)
"""Support in force between two events: hours per week asked of, available from and
delivered by each source (consultancy delivered includes hours bought), consultancy hours
bought for the national team (policies ``buy`` and ``backfill``), interim appointments'
hours for the national team (policy ``backfill``; not part of any source's delivered
hours), national WTE in post, and the dose (the blend-weighted share of needed improvement
support delivered, 0 to 1)."""
LOG_FIELDS = ("time", *PHASES, "waiting", "cap", *SUPPORT_FIELDS)
"""Columns of the programme's state log, one row per change of state: time (weeks), trusts
in each phase, trusts waiting, the cap in force (the number of trusts when there is none),
then :data:`SUPPORT_FIELDS`. The programme writes rows as
``(time, *caseload, waiting, cap, *support)``; this is the one definition of that order."""
_COLUMN = {name: i for i, name in enumerate(LOG_FIELDS)}
_CASELOAD = slice(_COLUMN["diagnostic"], _COLUMN["transitional"] + 1)
_RATES = slice(_COLUMN["demand_national"], _COLUMN["national_wte_in_post"] + 1)
"""Demand (3), capacity (3), delivered (3), bought, interim, WTE in post: hours (WTE) per
week."""
SHORT_TOLERANCE_HOURS = 1e-9
"""Demand above capacity by less than this (hours a week) is rounding, not a shortfall."""


@dataclass(frozen=True)
class CostRates:
    """Prices that turn support into money, in the prices of one financial year (the
    scenario's price base); :meth:`cash_factor` turns them into cash terms."""

    cost_per_wte_week: float
    """National team, pounds per WTE in post per week."""
    family_cost_per_hour: float
    consultancy_cost_per_hour: float
    interim_cost_per_hour: float
    trust_share: tuple[float, float, float, float]
    """Share of each provider's cost paid by the trusts (the rest by NHS England), in the
    order of :data:`~sim.vocabulary.PROVIDERS` (the three sources, then interim)."""
    price_base_year: int = 0
    """First calendar year of the financial year the prices are in (2025 for 2025/26)."""
    inflation_per_year: float = 0.0
    """Rise in prices per financial year after the base year (0.025 is 2.5%)."""

    def cash_factor(self, years: np.ndarray) -> np.ndarray:
        """Multiplier from base-year prices to cash terms for costs incurred in the
        financial years starting in calendar ``years``: ``(1 + inflation) ** (y - base)``
        (exactly 1 with no inflation)."""
        years = np.asarray(years, dtype=float)
        return (1.0 + self.inflation_per_year) ** (years - self.price_base_year)


@dataclass(frozen=True)
class Periods:
    """Periods as pairs of positions in one array of edges (weeks since the start):
    period i is ``[edges[first[i]], edges[last[i]])``. Several calendars (months, quarters,
    years, ...) can share one array, so that one search of the log serves them all."""

    edges: np.ndarray
    first: np.ndarray
    """(P,) int: position of each period's start in :attr:`edges`."""
    last: np.ndarray
    """(P,) int: position of each period's end."""
    runs: tuple[slice, ...]
    """The periods of each calendar (consecutive, in order), as slices of the P periods."""

    @classmethod
    def consecutive(cls, edges: np.ndarray) -> Periods:
        """One calendar: the periods ``[edges[i], edges[i + 1])``."""
        edges = np.asarray(edges, dtype=float)
        position = np.arange(len(edges))
        return cls(edges, position[:-1], position[1:], (slice(None),))

    @classmethod
    def calendars(cls, edges_by_calendar: list[np.ndarray]) -> Periods:
        """Several calendars, each given by its edges, in one array."""
        edges = np.concatenate(edges_by_calendar).astype(float)
        sizes = [len(e) for e in edges_by_calendar]
        starts = np.cumsum([0, *sizes])[:-1]
        first = np.concatenate([s + np.arange(n - 1) for s, n in zip(starts, sizes, strict=True)])
        counts = np.cumsum([0, *(n - 1 for n in sizes)])
        runs = tuple(slice(a, b) for a, b in itertools.pairwise(counts))
        return cls(edges, first, first + 1, runs)


@dataclass(frozen=True)
class Timeline:
    """One replication's programme over time; times are weeks since the start date."""

    log: np.ndarray
    """(R, len(LOG_FIELDS)) state after each change, in time order; row 0 is the start."""
    event_times: dict[str, np.ndarray]
    """Exact times of ``referrals``, ``admissions``, ``exits`` and ``reentries``."""
    horizon_weeks: float
    prices: CostRates
    director_wte_per_trust: float
    """Improvement director WTE each trust in the programme needs (an output only)."""

    @classmethod
    def from_rows(
        cls,
        rows: list[tuple],
        event_times: dict[str, list[float]],
        horizon_weeks: float,
        prices: CostRates,
        director_wte_per_trust: float,
    ) -> Timeline:
        """Build from the programme's list of log tuples and lists of event times."""
        log = np.fromiter(
            itertools.chain.from_iterable(rows), dtype=float, count=len(rows) * len(LOG_FIELDS)
        ).reshape(len(rows), len(LOG_FIELDS))
        events = {name: np.asarray(times, dtype=float) for name, times in event_times.items()}
        return cls(log, events, float(horizon_weeks), prices, float(director_wte_per_trust))

    def since(self, offset: float) -> Timeline:
        """The same timeline from ``offset`` weeks on, with times shifted so that
        ``offset`` is 0 (the state in force then becomes the first row; earlier events
        are dropped)."""
        times = self.times
        first = max(int(np.searchsorted(times, offset, side="right")) - 1, 0)
        log = self.log[first:].copy()
        log[:, 0] = np.maximum(log[:, 0] - offset, 0.0)
        events = {name: t[t >= offset] - offset for name, t in self.event_times.items()}
        return Timeline(
            log, events, self.horizon_weeks - offset, self.prices, self.director_wte_per_trust
        )

    # ------------------------------------------------------------------ helpers
    # Everything that does not depend on the periods asked for is computed once per
    # timeline (cached), so asking for months, quarters, years and the horizon costs four
    # searches, not four passes over the log.

    @property
    def times(self) -> np.ndarray:
        return self.log[:, 0]

    @cached_property
    def _durations(self) -> np.ndarray:
        """How long each log row stays in force (weeks; 0 for a state passed within an instant)."""
        times = self.times
        return np.diff(np.append(times, max(self.horizon_weeks, times[-1])))

    @cached_property
    def _rates(self) -> np.ndarray:
        """(R, 21) what is integrated over time: caseload by phase (4) and waiting list,
        then demand, capacity and delivered hours by source (9), bought hours, interim
        hours, WTE in post, then shortfall hours by source (3): demand not met by the
        source itself, by consultancy bought for it or by interim appointments; then
        improvement director WTE the WTE in post cannot cover."""
        log = self.log
        rates = log[:, _RATES]
        met = rates[:, 6:9].copy()
        met[:, CONSULTANCY] -= rates[:, 9]
        met[:, NATIONAL] += rates[:, 9]
        met[:, NATIONAL] += rates[:, 10]
        return np.column_stack(
            [
                log[:, _CASELOAD],
                log[:, _COLUMN["waiting"]],
                rates,
                np.maximum(rates[:, 0:3] - met, 0.0),
                self._directors_from_interim(self.log),
            ]
        )

    def _directors_needed(self, rows: np.ndarray) -> np.ndarray:
        """Improvement director WTE needed in each of the log ``rows``: one director per
        trust in the programme, times the WTE per trust."""
        return rows[:, _CASELOAD][:, :3].sum(axis=1) * self.director_wte_per_trust

    def _directors_from_interim(self, rows: np.ndarray) -> np.ndarray:
        """Improvement director WTE in each of the log ``rows`` the national team's WTE in
        post cannot cover (interim appointments): ``max(0, needed - WTE in post)``."""
        wte = rows[:, _COLUMN["national_wte_in_post"]]
        return np.maximum(self._directors_needed(rows) - wte, 0.0)

    @cached_property
    def _cumulative(self) -> np.ndarray:
        """(R + 1, 21) integral of :attr:`_rates` from time 0 to each row's start."""
        rates = self._rates
        return np.vstack(
            [np.zeros((1, rates.shape[1])), np.cumsum(rates * self._durations[:, None], axis=0)]
        )

    def _at_edges(self, edges: np.ndarray, row: np.ndarray) -> np.ndarray:
        """(E, 21) integral of :attr:`_rates` from time 0 to each of ``edges``, given the
        log ``row`` in force at each (the last one starting at or before it)."""
        times, rates = self.times, self._rates
        return self._cumulative[row] + rates[row] * (edges - times[row])[:, None]

    @cached_property
    def _held(self) -> dict[str, np.ndarray]:
        """Per condition, the running count of log rows (of positive length) where it held."""
        positive = self._durations > 0
        conditions = {
            "cap_reached": self.in_programme() >= self.log[:, _COLUMN["cap"]],
            "national_short": self.national_short(),
        }
        return {
            name: np.concatenate([[0], np.cumsum(held & positive)])
            for name, held in conditions.items()
        }

    def _any_stretch(self, name: str, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """1.0 for each period in which condition ``name`` held for a positive time, given
        each period's first log row and the last row that starts before its end."""
        counts = self._held[name]
        return ((counts[last + 1] - counts[first]) > 0).astype(float)

    def _first_time(self, name: str) -> float:
        """Weeks since the start when condition ``name`` first held for a positive time
        (NaN: never)."""
        rows = np.flatnonzero(np.diff(self._held[name]))
        return float(self.times[rows[0]]) if len(rows) else math.nan

    def in_programme(self) -> np.ndarray:
        """(R,) trusts in the programme (diagnostic, improvement, exit) per log row."""
        return self.log[:, _CASELOAD][:, :3].sum(axis=1)

    def national_short(self) -> np.ndarray:
        """(R,) bool: the national team's demand exceeds its capacity in each log row."""
        demand = self.log[:, _COLUMN["demand_national"]]
        capacity = self.log[:, _COLUMN["capacity_national"]]
        return demand > capacity + SHORT_TOLERANCE_HOURS

    def first_cap_reached(self) -> float:
        return self._first_time("cap_reached")

    def first_national_short(self) -> float:
        return self._first_time("national_short")

    # ------------------------------------------------------------------ figures

    def over(self, edges: np.ndarray) -> dict[str, np.ndarray]:
        """Figures for the periods ``[edges[i], edges[i + 1])`` (weeks since the start).

        Returns, with P = len(edges) - 1: ``caseload`` (P, 4) by phase (diagnostic,
        improvement, exit, transitional), ``waiting``, ``national_wte``,
        ``directors_needed``, ``directors_from_interim`` and ``dose`` (P,) at each period's
        end; ``mean_caseload`` (P, 4), ``mean_waiting``, ``mean_national_wte``,
        ``mean_directors_needed`` and ``mean_directors_from_interim`` (P,) averaged over
        time; ``referrals``, ``admissions``, ``exits``, ``reentries`` (P,) counts;
        ``demand_hours``, ``capacity_hours``, ``delivered_hours``, ``shortfall_hours``
        (P, 3) by source (national, nhs_family, consultancy); ``bought_hours`` (P,)
        consultancy hours bought to cover the national team; ``interim_hours`` (P,) interim
        appointments' hours covering it; ``wte_weeks`` (P,); ``cost_by_source`` (P, 4, by
        :data:`~sim.vocabulary.PROVIDERS`: the three sources, then interim) and
        ``cost_by_payer`` (P, 2: trusts, NHS England) in pounds; ``cap_reached`` and
        ``national_short`` (P,) 0 or 1.

        Improvement directors (WTE) are one per trust in the programme (diagnostic,
        improvement, exit) times the scenario's WTE per trust; those the national team's
        WTE in post cannot cover are ``directors_from_interim``. They are outputs only:
        support hours do not depend on them.
        """
        return self.figures(Periods.consecutive(edges))

    def figures(self, periods: Periods) -> dict[str, np.ndarray]:
        """The figures of :meth:`over` for any :class:`Periods` (several calendars at once:
        one search of the log serves them all)."""
        edges, first, last = periods.edges, periods.first, periods.last
        log, times = self.log, self.times
        # log row in force at each edge (the last starting at or before it), and the last
        # row starting strictly before it: the state just before a period's end, since an
        # event at the end opens the next period
        row = np.maximum(np.searchsorted(times, edges, side="right") - 1, 0)
        before = np.searchsorted(times, edges, side="left") - 1
        at_end = np.maximum(before[last], 0)
        lengths = edges[last] - edges[first]

        at_edges = self._at_edges(edges, row)
        integrals = at_edges[last] - at_edges[first]
        stock_time = integrals[:, 0:5]
        demand, capacity, delivered = integrals[:, 5:8], integrals[:, 8:11], integrals[:, 11:14]
        bought, interim, wte_weeks = integrals[:, 14], integrals[:, 15], integrals[:, 16]
        shortfall = integrals[:, 17:20]
        director_wte_weeks = integrals[:, 20]  # from interim appointments

        prices = self.prices
        by_source = np.column_stack(
            [
                wte_weeks * prices.cost_per_wte_week,
                delivered[:, FAMILY] * prices.family_cost_per_hour,
                delivered[:, CONSULTANCY] * prices.consultancy_cost_per_hour,
            ]
        )
        interim_cost = interim * prices.interim_cost_per_hour
        # the sources as before, then interim: adds nothing when no interim hours are used.
        # One product per calendar, of the same shape as when each was asked for alone:
        # BLAS may round a one-row product (a dot) differently from a many-row one
        shares = np.asarray(prices.trust_share[:3])
        paid_by_trusts = np.concatenate([by_source[run] @ shares for run in periods.runs])
        paid_by_trusts += interim_cost * prices.trust_share[3]
        cost = np.column_stack([by_source, interim_cost])

        def per_period(name: str) -> np.ndarray:
            # events in [a, b): those before b less those before a
            before_edge = np.searchsorted(np.sort(self.event_times[name]), edges, side="left")
            return (before_edge[last] - before_edge[first]).astype(np.int32)

        with np.errstate(invalid="ignore", divide="ignore"):
            means = stock_time / lengths[:, None]
        stretch_first = row[first]
        return {
            "caseload": log[at_end, _CASELOAD].astype(np.int32),
            "waiting": log[at_end, _COLUMN["waiting"]].astype(np.int32),
            "national_wte": log[at_end, _COLUMN["national_wte_in_post"]],
            "directors_needed": self._directors_needed(log[at_end]),
            "directors_from_interim": self._directors_from_interim(log[at_end]),
            "dose": log[at_end, _COLUMN["dose"]],
            "mean_caseload": means[:, :4],
            "mean_waiting": means[:, 4],
            "mean_national_wte": wte_weeks / lengths,
            "mean_directors_needed": means[:, :3].sum(axis=1) * self.director_wte_per_trust,
            "mean_directors_from_interim": director_wte_weeks / lengths,
            **{
                name: per_period(name) for name in ("referrals", "admissions", "exits", "reentries")
            },
            "demand_hours": demand,
            "capacity_hours": capacity,
            "delivered_hours": delivered,
            "shortfall_hours": shortfall,
            "bought_hours": bought,
            "interim_hours": interim,
            "wte_weeks": wte_weeks,
            "cost_by_source": cost,
            "cost_by_payer": np.column_stack([paid_by_trusts, cost.sum(axis=1) - paid_by_trusts]),
            "cap_reached": self._any_stretch("cap_reached", stretch_first, before[last]),
            "national_short": self._any_stretch("national_short", stretch_first, before[last]),
        }

    def weekly(self) -> dict[str, np.ndarray]:
        """:meth:`over` whole weeks from the start: week w is [w, w + 1) (the last may be
        shorter, ending at the horizon)."""
        n_weeks = math.ceil(self.horizon_weeks - 1e-9)
        edges = np.minimum(np.arange(n_weeks + 1, dtype=float), self.horizon_weeks)
        return self.over(edges)
