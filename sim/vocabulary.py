"""The package's words, defined once: league tables, segments, phases, sources of support,
shortfall policies, and the catalogue of output metrics.

Every list that orders arrays (phases, sources, league tables) and every list of metrics
that outputs share lives here, and every layer imports it from here, so no two places can
fall out of step. Foundation layer: imports nothing from the package and no third-party
library.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

# ------------------------------------------------------------------------ trusts and segments

LEAGUE_TABLES: tuple[str, ...] = ("acute", "non_acute", "ambulance")
"""The three NOF league tables, in the order used for arrays throughout the package."""

N_SEGMENTS = 4
"""Segments 1 to 4 are set by the segmentation rule; segment 5 is the programme."""
PROGRAMME_SEGMENT = 5
"""The segment of a trust in the programme (NOF 2025/26: the Provider Improvement Programme)."""
EXIT_SEGMENT = 3
"""The segment a trust is held in during transitional support after it exits."""
LOWEST_RULE_SEGMENT = N_SEGMENTS
"""The lowest segment the NOF rules set (4): with a low-capability board, a referral.
Under the Single Oversight Framework rules (``sof``) the rule sets segments 1 to 3 and the
programme is segment 4; see :data:`PROGRAMME_SEGMENT_OF_RULE`."""
PROGRAMME_SEGMENT_OF_RULE: dict[str, int] = {
    "quartiles": PROGRAMME_SEGMENT,
    "fixed_thresholds": PROGRAMME_SEGMENT,
    "sof": N_SEGMENTS,
}
"""Which segment is the programme under each kind of segmentation rule: segment 5 under
NOF 2025/26 and 2026/27, segment 4 under the Single Oversight Framework (special measures
from 2016, the Recovery Support Programme from 2021). The lowest segment a rule sets is
one above it."""

# ------------------------------------------------------------------------- entry routes

ROUTES: tuple[str, ...] = (
    "initial", "segment", "quality", "finance", "catastrophic", "system", "relapse", "arrival",
)  # fmt: skip
"""How a spell began, in the order of the spells' ``route`` codes: in the programme at the
start; the lowest segment with a low-capability board; a regulator's recommendation after
an inadequate rating (quality); a finance route (financial special measures, a significant
deficit); a catastrophic failure of governance; a whole system entering together; a
relapse after transitional support; an exogenous arrival process."""

# ------------------------------------------------------------------------------ programme


class Phase(IntEnum):
    """Phases of a spell, numbered as array indices. The first three occupy a programme
    place (segment 5); transitional support follows exit, in segment 3."""

    DIAGNOSTIC = 0
    IMPROVEMENT = 1
    EXIT = 2
    TRANSITIONAL = 3


PHASES: tuple[str, ...] = tuple(phase.name.lower() for phase in Phase)
"""Phase names in array order: diagnostic, improvement, exit, transitional."""


class Source(IntEnum):
    """Sources of support, numbered as array indices: the national PIP team, the wider NHS
    family (buddying, temporary board appointments) and consultancy under the framework."""

    NATIONAL = 0
    NHS_FAMILY = 1
    CONSULTANCY = 2


SOURCES: tuple[str, ...] = tuple(source.name.lower() for source in Source)
"""Source names in array order: national, nhs_family, consultancy."""


class ShortfallPolicy(IntEnum):
    """What happens when the national team cannot cover its share of support."""

    WAIT = 0
    """Admissions wait until the national team has room for a new trust's first phase."""
    DILUTE = 1
    """Admit anyway: support is spread thinner and improvement is slower."""
    BUY = 2
    """Consultancy covers the national team's gap, within the framework cap."""
    BACKFILL = 3
    """Interim appointments cover the national team's gap, within their hours; consultancy
    covers what they cannot, within the framework cap; the rest is spread thinner."""


SHORTFALL_POLICIES: tuple[str, ...] = tuple(policy.name.lower() for policy in ShortfallPolicy)
"""Policy names as scenario files write them: wait, dilute, buy, backfill."""
ShortfallPolicyName = Literal["wait", "dilute", "buy", "backfill"]

INTERIM = "interim"
"""Interim appointments: senior figures from outside NHS England on temporary contracts.
Not a source of a phase's blend (trusts do not ask for them): under the ``backfill``
policy they stand in for the national team, taking its unmet hours."""
PROVIDERS: tuple[str, ...] = (*SOURCES, INTERIM)
"""Who delivers support and is paid for it, in array order of costs: the three sources,
then interim appointments."""

PRIORITY_KEYS = ("catastrophic_first", "worst_score", "longest_waiting")
"""Keys that order the waiting list, applied in the order a scenario lists them."""

PAYERS: tuple[str, ...] = ("trusts", "nhs_england")
"""Who pays for support, in array order."""

REGIONS: tuple[str, ...] = (
    "East of England", "London", "Midlands", "North East and Yorkshire", "North West",
    "South East", "South West",
)  # fmt: skip
"""The seven NHS England regions, in alphabetical order (the order of arrays and of the
``*_by_region`` groups). Each trust's region is in ``sim/data/trusts_by_region_type.csv``,
which :func:`sim.data.trust_register` checks against this list."""

# ------------------------------------------------------------------------------- metrics

MetricKind = Literal["stock", "flow", "ratio", "indicator", "mean", "share", "time"]


@dataclass(frozen=True)
class Metric:
    """One output of the tidy table.

    ``kind`` says how it is aggregated within a period: a ``stock`` is the state at the
    period's end (its time average over the whole horizon), a ``flow`` is a total over the
    period, a ``ratio`` is one total over another, an ``indicator`` is 1 if something
    happened in the period, a ``mean`` or ``share`` averages the spells whose event falls in
    the period, and a ``time`` is when something first happened.
    """

    name: str
    unit: str
    kind: MetricKind
    label: str
    """Plain-English description, for tables and charts."""


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("caseload", "trusts", "stock", "trusts in each phase"),
        Metric("in_programme", "trusts", "stock", "trusts in the programme"),
        Metric("waiting", "trusts", "stock", "trusts waiting for a place"),
        Metric("national_wte", "WTE", "stock", "national team WTE in post"),
        Metric(
            "directors_needed", "WTE", "stock",
            "improvement directors needed: trusts in the programme times WTE per trust",
        ),
        Metric(
            "directors_from_interim", "WTE", "stock",
            "improvement directors the national team's WTE in post cannot cover (interim)",
        ),
        Metric("referrals", "trusts", "flow", "referrals"),
        Metric("admissions", "trusts", "flow", "admissions"),
        Metric("exits", "trusts", "flow", "exits"),
        Metric("reentries", "trusts", "flow", "re-entries after an earlier exit"),
        Metric("in_programme_by_region", "trusts", "stock", "trusts in the programme by region"),
        Metric("waiting_by_region", "trusts", "stock", "trusts waiting for a place by region"),
        Metric("referrals_by_region", "trusts", "flow", "referrals by region"),
        Metric("demand_hours", "hours", "flow", "support hours asked for"),
        Metric("capacity_hours", "hours", "flow", "support hours available"),
        Metric("delivered_hours", "hours", "flow", "support hours delivered"),
        Metric("shortfall_hours", "hours", "flow", "support hours asked for and not delivered"),
        Metric("bought_hours", "hours", "flow", "consultancy hours bought for the national team"),
        Metric("interim_hours", "hours", "flow", "interim appointees' hours for the national team"),
        Metric("utilisation", "share", "ratio", "hours delivered over hours available"),
        Metric("cost", "pounds", "flow", "cost of support"),
        Metric("cost_by_payer", "pounds", "flow", "cost of support by who pays"),
        Metric("cost_cash", "pounds", "flow", "cost of support in cash terms (inflated)"),
        Metric(
            "cost_by_payer_cash", "pounds", "flow",
            "cost of support by who pays, in cash terms (inflated)",
        ),
        Metric("cap_reached", "probability", "indicator", "programme full at some time"),
        Metric(
            "national_demand_exceeded", "probability", "indicator",
            "national team short of hours at some time",
        ),
        Metric("mean_wait_weeks", "weeks", "mean", "mean wait of trusts admitted"),
        Metric(
            "share_waiting_over_13_weeks", "share", "share",
            "share of trusts referred that wait over 13 weeks",
        ),
        Metric("mean_stay_weeks", "weeks", "mean", "mean stay of trusts that exit"),
        Metric("mean_slippage_weeks", "weeks", "mean", "mean exit after the target date"),
        Metric("share_exits_late", "share", "share", "share of exits later than target"),
        Metric("first_week_cap_reached", "weeks", "time", "when the programme is first full"),
        Metric(
            "first_week_national_demand_exceeded", "weeks", "time",
            "when the national team is first short of hours",
        ),
        Metric("wait_distribution", "share", "share", "share of admissions by wait"),
        Metric("trusts", "trusts", "stock", "trusts by segment"),
        Metric("trusts_in_deficit", "trusts", "stock", "trusts in deficit"),
        Metric("low_capability", "trusts", "stock", "trusts with a low-capability board"),
        Metric("churn", "trusts", "flow", "trusts changing segment"),
        Metric("override_churn", "trusts", "flow", "changes of segment by the financial override"),
        Metric("catastrophic_failures", "trusts", "flow", "catastrophic failures of governance"),
        Metric("programme_segment", "segment", "stock", "the segment that is the programme"),
    )
}  # fmt: skip
"""Every metric of the tidy table, by name."""


@dataclass(frozen=True)
class Headline:
    """A main whole-horizon figure: shown first in summaries, comparisons and what-ifs,
    and checked for replication adequacy."""

    metric: str
    group: str
    label: str
    """Short label with the measure, e.g. 'Trusts waiting (average)'."""
    scale: float
    """Multiply by this to show the figure in ``display_unit``."""
    display_unit: str


HEADLINES: tuple[Headline, ...] = (
    Headline("in_programme", "all", "Trusts in programme (average)", 1.0, "trusts"),
    Headline("waiting", "all", "Trusts waiting (average)", 1.0, "trusts"),
    Headline("admissions", "all", "Admissions (total)", 1.0, "trusts"),
    Headline("mean_wait_weeks", "all", "Mean wait of those admitted (weeks)", 1.0, "weeks"),
    Headline("utilisation", "national", "National team utilisation", 100.0, "%"),
    Headline("cost", "total", "Total cost (£m)", 1e-6, "£m"),
)
"""The six headline figures, in the order every output shows them."""


# ------------------------------------------------------------------ plain-English labels

PLAIN_LABELS: dict[str, tuple[str, str]] = {
    "programme.phases.improvement.support_hours_per_week": (
        "improvement support per trust", "hours a week"),
    "programme.phases.diagnostic.support_hours_per_week": (
        "diagnostic support per trust", "hours a week"),
    "team.national.productive_hours_per_wte_week": ("productive hours per WTE", "hours a week"),
    "team.national.vacancy_rate": ("the national team's vacancy rate", ""),
    "team.nhs_family.hours_per_week": ("NHS-family capacity", "hours a week"),
    "population.capability_persistence": ("the persistence of board ratings", ""),
    "population.tables.acute.capability.low_share": (
        "the share of acute boards rated low capability", ""),
    "population.tables.non_acute.capability.low_share": (
        "the share of non-acute boards rated low capability", ""),
    "population.tables.ambulance.capability.low_share": (
        "the share of ambulance boards rated low capability", ""),
    "programme.dose_response.elasticity": ("the dose-response elasticity", ""),
    "programme.exit_score_gain": ("the lasting score gain at exit", "points"),
    "programme.relapse_probability": ("the relapse probability", ""),
    "population.tables.acute.catastrophic_failure_rate_per_year": (
        "the rate of catastrophic failures", "a trust a year"),
}  # fmt: skip
"""Plain-English name and short unit of scenario numbers that outputs speak of (by
dotted path); others are named from their path."""
