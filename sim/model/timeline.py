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

Every figure is defined once, for several timelines at a time (:class:`TimelineBatch`,
each timeline's figures exactly what it gives alone); a timeline's own are those of a
batch of it alone.

Pure numpy: no simpy, no pandas. The model returns a timeline; the reduction asks a batch
of them for months, quarters and years, and ``ReplicationResult.weekly`` asks one for weeks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
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
_IN_PROGRAMME = tuple(_COLUMN[phase] for phase in PHASES[:3])
"""The phases of trusts in the programme (transitional support is after it)."""
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

    @cached_property
    def grid(self) -> np.ndarray:
        """The distinct edges, ascending."""
        edges = self.edges
        return edges if (edges[1:] > edges[:-1]).all() else np.unique(edges)

    @cached_property
    def grid_first(self) -> np.ndarray:
        """(P,) position in :attr:`grid` of each period's start."""
        return np.searchsorted(self.grid, self.edges[self.first])

    @cached_property
    def grid_last(self) -> np.ndarray:
        """(P,) position in :attr:`grid` of each period's end."""
        return np.searchsorted(self.grid, self.edges[self.last])


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

    # ------------------------------------------------------------------ figures
    # Every figure is defined once, for a batch of timelines (:class:`TimelineBatch`); one
    # timeline's are those of a batch of one, kept (cached) so that asking it for several
    # sets of periods concatenates and integrates its log once.

    @cached_property
    def _alone(self) -> TimelineBatch:
        return TimelineBatch((self,))

    @property
    def times(self) -> np.ndarray:
        return self.log[:, 0]

    def in_programme(self) -> np.ndarray:
        """(R,) trusts in the programme (diagnostic, improvement, exit) per log row."""
        return _in_programme(self.log)

    def national_short(self) -> np.ndarray:
        """(R,) bool: the national team's demand exceeds its capacity in each log row."""
        return _conditions(self.log)["national_short"]

    def first_cap_reached(self) -> float:
        """Weeks since the start when the programme was first full for a positive time
        (NaN: never)."""
        return float(self._alone.first_times("cap_reached")[0])

    def first_national_short(self) -> float:
        """Weeks since the start when the national team's demand was first above its
        capacity for a positive time (NaN: never)."""
        return float(self._alone.first_times("national_short")[0])

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
        return {name: values[0] for name, values in self._alone.figures(periods).items()}

    def weekly(self) -> dict[str, np.ndarray]:
        """:meth:`over` whole weeks from the start: week w is [w, w + 1) (the last may be
        shorter, ending at the horizon)."""
        n_weeks = math.ceil(self.horizon_weeks - 1e-9)
        edges = np.minimum(np.arange(n_weeks + 1, dtype=float), self.horizon_weeks)
        return self.over(edges)


def _in_programme(rows: np.ndarray) -> np.ndarray:
    """Trusts in the programme (diagnostic, improvement, exit) in each of the log ``rows``."""
    diagnostic, improvement, exiting = _IN_PROGRAMME
    return rows[..., diagnostic] + rows[..., improvement] + rows[..., exiting]  # whole: exact


def _conditions(rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per log row, whether the programme is full (``cap_reached``) and whether the national
    team's demand exceeds its capacity (``national_short``)."""
    demand = rows[:, _COLUMN["demand_national"]]
    capacity = rows[:, _COLUMN["capacity_national"]]
    return {
        "cap_reached": _in_programme(rows) >= rows[:, _COLUMN["cap"]],
        "national_short": demand > capacity + SHORT_TOLERANCE_HOURS,
    }


def _directors(rows: np.ndarray, wte_per_trust: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Improvement director WTE needed in each of the log ``rows`` (one director per trust
    in the programme, times the WTE per trust), and the part of it the national team's WTE
    in post cannot cover (interim appointments): ``max(0, needed - WTE in post)``."""
    needed = _in_programme(rows) * wte_per_trust
    return needed, np.maximum(needed - rows[..., _COLUMN["national_wte_in_post"]], 0.0)


def _running_counts(position: np.ndarray, group: np.ndarray, groups: int, points: int):
    """(groups, points) int: per group, how many of its entries have a ``position`` (0 to
    ``points``) at or before each point: with ``position`` the number of grid points below
    (or at or below) each value, how many values are at or below (or below) each point,
    which is what searching each group's sorted values for the grid gives, for all groups
    at once and exactly."""
    width = points + 1
    found = np.bincount(group * width + position, minlength=groups * width)
    return np.cumsum(found.reshape(groups, width), axis=1)[:, :-1]


class TimelineBatch:
    """Several timelines' figures at once: their logs end to end (row ``start[b] + i`` is
    row i of timeline b) and their events together, so that each step is one array
    operation for the whole batch whatever its size. Every figure of timeline b is exactly
    (bit for bit) what a batch of it alone gives: the arithmetic is element by element,
    searches are counts (exact), and each running sum runs over one timeline's own rows in
    its own order."""

    EVENTS = ("referrals", "admissions", "exits", "reentries")

    def __init__(self, timelines: Sequence[Timeline]):
        # what the figures need, not the timelines themselves: a timeline keeps the batch
        # of itself alone, which must not make a reference cycle
        self.size = len(timelines)
        self.sizes = np.array([len(t.log) for t in timelines])
        """Log rows of each timeline."""
        self.log = (
            timelines[0].log if self.size == 1 else np.concatenate([t.log for t in timelines])
        )
        self.start = np.cumsum(self.sizes) - self.sizes
        self.owner = np.repeat(np.arange(self.size), self.sizes)
        """The timeline of each log row."""
        self.horizon_weeks = np.array([t.horizon_weeks for t in timelines])
        self.prices = [t.prices for t in timelines]
        self.wte_per_trust = np.array([t.director_wte_per_trust for t in timelines])
        self.event_times = [t.event_times[name] for name in self.EVENTS for t in timelines]
        """Times of each kind of event (:attr:`EVENTS`) of each timeline, kind by kind."""

    @staticmethod
    def of(timelines: Sequence[Timeline]) -> TimelineBatch:
        """The batch of ``timelines``: of one, its own (kept by the timeline, so that what
        is integrated once serves all its figures)."""
        return timelines[0]._alone if len(timelines) == 1 else TimelineBatch(timelines)

    @property
    def times(self) -> np.ndarray:
        return self.log[:, 0]

    @cached_property
    def _durations(self) -> np.ndarray:
        """How long each log row stays in force (weeks; 0 for a state passed within an
        instant): to the next row of its timeline, the last row to the horizon."""
        times = self.times
        last = self.start + self.sizes - 1
        ends = np.empty_like(times)
        ends[:-1] = times[1:]
        ends[last] = np.maximum(self.horizon_weeks, times[last])
        return ends - times

    @cached_property
    def _rates(self) -> np.ndarray:
        """(N, 21) what is integrated over time: caseload by phase (4) and waiting list,
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
                _directors(log, self.wte_per_trust[self.owner])[1],
            ]
        )

    @cached_property
    def _cumulative(self) -> np.ndarray:
        """(B * (longest + 1), 21) integral of :attr:`_rates` from time 0 to the start of
        each row of each timeline (row i of timeline b at ``b * (longest + 1) + i``): each
        timeline's running sum over its own rows, the rows of a longer one left as zeros."""
        rates = self._rates
        width = int(self.sizes.max()) + 1
        padded = np.zeros((self.size, width, rates.shape[1]))
        # row i of timeline b to row i + 1 of its block (row 0 stays 0)
        shift = 1 + np.arange(self.size) * width - self.start
        padded.reshape(-1, rates.shape[1])[np.arange(len(rates)) + shift[self.owner]] = (
            rates * self._durations[:, None]
        )
        np.cumsum(padded[:, 1:], axis=1, out=padded[:, 1:])
        return padded.reshape(-1, rates.shape[1])

    @cached_property
    def _held(self) -> dict[str, np.ndarray]:
        """Per condition (:func:`_conditions`): whether it held in each log row of
        positive length, and the running count of such rows over the whole batch."""
        positive = self._durations > 0
        out = {}
        for name, held in _conditions(self.log).items():
            flags = held & positive
            out[name] = (flags, np.concatenate([[0], np.cumsum(flags)]))
        return out

    def first_times(self, name: str) -> np.ndarray:
        """(B,) weeks since the start when condition ``name`` first held for a positive time
        in each timeline (NaN: never)."""
        rows = np.flatnonzero(self._held[name][0])
        owner = self.owner[rows]
        first = np.flatnonzero(np.diff(owner, prepend=-1))  # first row of each owner
        out = np.full(self.size, np.nan)
        out[owner[first]] = self.times[rows[first]]
        return out

    def figures(self, periods: Periods) -> dict[str, np.ndarray]:
        """The figures of :meth:`Timeline.over` for any :class:`Periods`, each with a
        leading axis: one row per timeline."""
        edges, first, last = periods.edges, periods.first, periods.last
        # everything is found at the distinct edges (the grid), then read for each period
        # at the grid points of its first and last edge
        grid, first_at, last_at = periods.grid, periods.grid_first, periods.grid_last
        log, times, start = self.log, self.times, self.start[:, None]
        size, kinds = self.size, len(self.EVENTS)
        # per grid point: the log rows of each timeline at or before it and strictly before
        # it, and the events of each kind of each timeline before it, in one count
        # (v <= g[k] iff fewer than k + 1 points are below v; v < g[k] iff fewer than k + 1
        # are at or below it; NaN is above every point)
        events = self.event_times
        event_owner = np.repeat(np.arange(kinds * size), [len(e) for e in events])
        found = _running_counts(
            np.concatenate([
                np.searchsorted(grid, times, side="left"),
                np.searchsorted(grid, times, side="right"),
                np.searchsorted(grid, np.concatenate(events), side="right"),
            ]),
            np.concatenate([self.owner, size + self.owner, 2 * size + event_owner]),
            (2 + kinds) * size,
            len(grid),
        )  # fmt: skip
        # the log row in force at each grid point (the last starting at or before it), and
        # the last row starting strictly before it: the state just before a period's end,
        # since an event at the end opens the next period (row numbers within a timeline)
        row = np.maximum(found[:size] - 1, 0)
        before = found[size : 2 * size] - 1
        before_edge = found[2 * size :].reshape(kinds, size, -1)
        at_end = np.maximum(before[:, last_at], 0)
        lengths = edges[last] - edges[first]

        # integral of the rates from time 0 to each grid point, (B, G, 21)
        rates, in_force = self._rates, start + row
        where = np.arange(self.size)[:, None] * (int(self.sizes.max()) + 1) + row
        # (in place and with take: few large temporaries)
        at_grid = np.take(rates, in_force, axis=0)
        at_grid *= (grid - times[in_force])[..., None]
        at_grid += np.take(self._cumulative, where, axis=0)
        integrals = np.take(at_grid, last_at, axis=1)
        integrals -= np.take(at_grid, first_at, axis=1)
        stock_time = integrals[..., 0:5]
        demand, capacity = integrals[..., 5:8], integrals[..., 8:11]
        delivered = integrals[..., 11:14]
        bought, interim, wte_weeks = integrals[..., 14], integrals[..., 15], integrals[..., 16]
        shortfall = integrals[..., 17:20]
        director_wte_weeks = integrals[..., 20]  # from interim appointments

        prices = self.prices

        def price(name: str) -> np.ndarray:
            return np.array([getattr(p, name) for p in prices])[:, None]

        # by provider: the three sources, then interim
        cost = np.empty((*wte_weeks.shape, 4))
        np.multiply(wte_weeks, price("cost_per_wte_week"), out=cost[..., 0])
        np.multiply(delivered[..., FAMILY], price("family_cost_per_hour"), out=cost[..., 1])
        np.multiply(
            delivered[..., CONSULTANCY], price("consultancy_cost_per_hour"), out=cost[..., 2]
        )
        np.multiply(interim, price("interim_cost_per_hour"), out=cost[..., 3])
        # the providers in order (interim adds nothing when no interim hours are used),
        # element by element, so the rounding is the same for any shape
        share = np.array([p.trust_share for p in prices])[:, None, :]
        paid_by_trusts = cost[..., 0] * share[..., 0]
        for provider in range(1, 4):
            paid_by_trusts += cost[..., provider] * share[..., provider]

        # events in [a, b): those before b less those before a, (events, B, P)
        counts = np.take(before_edge, last_at, axis=-1) - np.take(before_edge, first_at, axis=-1)

        # the conditions: any row of positive length in force during the period
        stretch_first, stretch_last = start + row[:, first_at], start + before[:, last_at]
        stretches = {
            name: ((held[stretch_last + 1] - held[stretch_first]) > 0).astype(float)
            for name, (_, held) in self._held.items()
        }

        with np.errstate(invalid="ignore", divide="ignore"):
            means = stock_time / lengths[:, None]
        ends = log[start + at_end]  # (B, P, fields) the state just before each period's end
        wte_per_trust = self.wte_per_trust[:, None]
        directors_needed, directors_from_interim = _directors(ends, wte_per_trust)
        return {
            "caseload": ends[..., _CASELOAD].astype(np.int32),
            "waiting": ends[..., _COLUMN["waiting"]].astype(np.int32),
            "national_wte": ends[..., _COLUMN["national_wte_in_post"]],
            "directors_needed": directors_needed,
            "directors_from_interim": directors_from_interim,
            "dose": ends[..., _COLUMN["dose"]],
            "mean_caseload": means[..., :4],
            "mean_waiting": means[..., 4],
            "mean_national_wte": wte_weeks / lengths,
            "mean_directors_needed": means[..., :3].sum(axis=-1) * wte_per_trust,
            "mean_directors_from_interim": director_wte_weeks / lengths,
            **dict(zip(self.EVENTS, counts.astype(np.int32), strict=True)),
            "demand_hours": demand,
            "capacity_hours": capacity,
            "delivered_hours": delivered,
            "shortfall_hours": shortfall,
            "bought_hours": bought,
            "interim_hours": interim,
            "wte_weeks": wte_weeks,
            "cost_by_source": cost,
            "cost_by_payer": np.stack(
                [paid_by_trusts, cost.sum(axis=-1) - paid_by_trusts], axis=-1
            ),
            "cap_reached": stretches["cap_reached"],
            "national_short": stretches["national_short"],
        }
