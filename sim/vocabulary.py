"""The package's words, defined once: league tables, segments, phases, sources of support,
shortfall policies, the catalogue of output metrics, and the plain-English label and unit
of every scenario field (:func:`plain_label`).

Every list that orders arrays (phases, sources, league tables) and every list of metrics
that outputs share lives here, and every layer imports it from here, so no two places can
fall out of step. Foundation layer: imports nothing from the package and no third-party
library.
"""

from __future__ import annotations

import re
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


# ------------------------------------------------- plain-English labels of every scenario number

TABLE_WORDS = {"acute": "acute", "non_acute": "non-acute", "ambulance": "ambulance"}
"""A league table in running text (the ``{table}`` of :data:`LABEL_TABLE`)."""
SOURCE_WORDS = {"national": "the national team", "nhs_family": "the wider NHS",
                "consultancy": "consultancy", "interim": "interim appointments"}  # fmt: skip
"""A source of support in running text (the ``{source}`` of :data:`LABEL_TABLE`)."""
_ROUTE = {"quality": "the quality route", "finance": "the finance route"}
"""An entry route in running text (the ``{route}`` of :data:`LABEL_TABLE`)."""

LABEL_TABLE: dict[str, tuple[str, str]] = {
    "name": ("Scenario's short name", ""),
    "title": ("Scenario", ""),
    "description": ("Description", ""),
    "start_date": ("Forecast starts", "date"),
    "horizon_years": ("Length of the forecast", "years"),
    "calibration_ensemble": ("Plausible values from the calibration", "file"),
    "warm_start": ("Started from a run of the history", "file"),
    "population.trust_counts": ("Changes in the number of trusts", ""),
    "population.trust_counts[].effective_from": ("Number of trusts changes", "date"),
    "population.trust_counts[].*": ("{Table} trusts", "trusts"),
    "population.tables.*.initial_segment_counts": (
        "{Table} trusts in segments 1, 2, 3 and 4 at the start", "trusts"),
    "population.tables.*.initial_deficit_counts": (
        "{Table} trusts in deficit in segments 1, 2, 3 and 4 at the start", "trusts"),
    "population.tables.*.score.mean": ("Average metric score of {table} trusts",
                                       "score (1 best, 4 worst)"),
    "population.tables.*.score.between_trust_sd": (
        "Spread of long-run scores between {table} trusts (standard deviation)", "score points"),
    "population.tables.*.score.level_persistence_per_year": (
        "Persistence of {table} trusts' long-run scores", "correlation from year to year"),
    "population.tables.*.score.within_trust_sd": (
        "Spread of {table} trusts' scores about their long-run level (standard deviation)",
        "score points"),
    "population.tables.*.score.persistence": (
        "Persistence of {table} trusts' scores about their long-run level",
        "correlation from quarter to quarter"),
    "population.tables.*.score.trend_per_year": ("Trend in {table} trusts' scores",
                                                 "score points a year"),
    "population.tables.*.deficit.long_run_share": ("Long-run share of {table} trusts in deficit",
                                                   "%"),
    "population.tables.*.deficit.score_gradient": (
        "Effect of a worse score on {table} trusts' odds of deficit",
        "log-odds per standard deviation of score"),
    "population.tables.*.deficit.switching_rate": (
        "Rate at which {table} trusts move into and out of deficit", "a quarter"),
    "population.tables.*.capability.low_share": (
        "Share of {table} boards rated low capability", "% at the table's average score"),
    "population.tables.*.capability.score_gradient": (
        "Effect of a worse score on {table} boards' odds of a low capability rating",
        "log-odds per standard deviation of score"),
    "population.tables.*.catastrophic_failure_rate_per_year": (
        "Rate of catastrophic failures of governance among {table} trusts", "per trust a year"),
    "population.capability_reassessment_quarter": ("Quarter in which boards are reassessed",
                                                   "quarter of the financial year"),
    "population.capability_persistence": ("Boards whose capability rating carries over a year",
                                          "%"),
    "segmentation.rules[].effective_from": ("Segmentation rule in force", "date"),
    "segmentation.rules[].label": ("Segmentation rule's name", ""),
    "segmentation.rules[].rule": ("Segmentation rule", ""),
    "segmentation.rules[].financial_override": ("Financial override under this rule", ""),
    "segmentation.rules[].segment_shares": ("Shares of each league table in segments 1, 2 and 3",
                                            "%"),
    "segmentation.rules[].thresholds.*": ("Top scores of segments 1, 2 and 3, {table} trusts",
                                          "score"),
    "segmentation.financial_override": (
        "Financial override (trusts in deficit held at segment 3 or below)", ""),
    "segmentation.max_segment_in_deficit": ("Best segment open to a trust in deficit", "segment"),
    "programme.name": ("Programme's name", ""),
    "programme.cap": ("Programme cap", "trusts at once"),
    "programme.priority": ("Order in which the waiting list is served", ""),
    "programme.referrals.mode": ("How trusts are referred", ""),
    "programme.referrals.rate_per_year": ("Referrals", "a year"),
    "programme.referrals.referrals[].date": ("Scheduled referral", "date"),
    "programme.referrals.referrals[].trusts": ("Trusts referred on a scheduled date", "trusts"),
    "programme.referrals.lowest_segment_share": (
        "Eligible trusts referred at each assessment", "%"),
    "programme.referrals.catastrophic_failure_refers": (
        "A catastrophic failure of governance refers the trust", ""),
    "programme.referrals.*": ("Referrals by {route}", ""),
    "programme.referrals.*.rate_per_trust_year": ("Referral rate by {route}", "per trust a year"),
    "programme.referrals.*.score_gradient": ("Effect of a worse score on referral by {route}",
                                             "log-rate per standard deviation of score"),
    "programme.referrals.system": ("Whole systems entering together", ""),
    "programme.referrals.system.rate_per_year": ("Whole systems entering the programme",
                                                 "systems a year"),
    "programme.referrals.system.from_segment": (
        "Segment from which a system's trusts are referred", "segment or worse"),
    "programme.referrals.no_longer_eligible": ("A waiting trust no longer eligible", ""),
    "programme.phases.*": ("{Phase} phase", ""),
    "programme.phases.*.duration.distribution": ("Distribution of the length of the {phase} "
                                                 "phase", ""),
    "programme.phases.*.duration.mean_weeks": ("Average length of the {phase} phase", "weeks"),
    "programme.phases.*.duration.median_weeks": (
        "Median work of the {phase} phase, at full support", "weeks"),
    "programme.phases.*.duration.weeks": ("Length of the {phase} phase", "weeks"),
    "programme.phases.*.duration.cv": (
        "Variation in the length of the {phase} phase (coefficient of variation)", ""),
    "programme.phases.*.duration.sigma": (
        "Variation in the length of the {phase} phase (lognormal sigma)", ""),
    "programme.phases.*.support_hours_per_week": ("Support in the {phase} phase",
                                                  "hours per trust a week"),
    "programme.phases.*.blend.*": ("Share of {phase} support from {source}", "%"),
    "programme.dose_response.elasticity": (
        "Dose-response elasticity (how far less support slows improvement)", ""),
    "programme.target_duration_weeks": ("Planned time from admission to exit", "weeks"),
    "programme.exit_score_gain": ("Lasting score gain at exit", "score points"),
    "programme.relapse_probability": ("Chance a trust is referred again after its support ends",
                                      "%"),
    "programme.improvement_work_scale": ("Scale of the improvement phase's work",
                                         "times the distribution's"),
    "programme.initial.in_programme": ("Trusts in the programme at the start", ""),
    "programme.initial.in_programme[].league_table": ("League table", ""),
    "programme.initial.in_programme[].trusts": ("Trusts in the programme at the start", "trusts"),
    "programme.initial.in_programme[].phase": ("Phase at the start", ""),
    "programme.initial.in_programme[].weeks_in_phase": ("Weeks in their phase at the start",
                                                        "weeks"),
    "programme.initial.in_programme[].weeks_in_programme": (
        "Weeks in the programme at the start", "weeks"),
    "programme.initial.in_programme[].route": ("Route into the programme", ""),
    "programme.initial.waiting": ("Trusts waiting at the start", ""),
    "programme.initial.waiting[].league_table": ("League table", ""),
    "programme.initial.waiting[].trusts": ("Trusts waiting at the start", "trusts"),
    "programme.initial.waiting[].weeks_waiting": ("Weeks waited at the start", "weeks"),
    "programme.eras": ("Changes to the programme on dates", ""),
    "programme.effective_from": ("Programme change", "date"),
    "programme.dose_response": ("Dose-response", ""),
    "team.national.wte_schedule[].effective_from": ("National team size changes", "date"),
    "team.national.wte_schedule[].wte": ("National team size", "WTE"),
    "team.national.productive_hours_per_wte_week": ("Productive hours per WTE", "hours a week"),
    "team.national.vacancy_rate": ("National team's vacancy rate", "%"),
    "team.national.cost_per_wte_year": ("Cost of a national team WTE", "£ a year"),
    "team.national.director_wte_per_trust": ("Improvement director per trust in the programme",
                                             "WTE"),
    "team.nhs_family.hours_per_week": ("Wider NHS support available", "hours a week"),
    "team.nhs_family.cost_per_hour": ("Cost of an hour of wider NHS support", "£"),
    "team.consultancy.framework_cap_days_per_week": ("Consultancy framework's call-off limit",
                                                     "consultant days a week"),
    "team.consultancy.day_rate": ("Consultancy day rate", "£"),
    "team.consultancy.hours_per_day": ("Hours in a consultant day", "hours"),
    "team.interim.hours_per_week": ("Interim appointments available", "hours a week"),
    "team.interim.cost_per_hour": ("Cost of an hour of interim support", "£"),
    "team.shortfall_policy": ("When the national team is short of hours", ""),
    "team.paid_by_trusts.*": ("Share of the cost of {source} paid by the trusts supported", "%"),
    "team.prices.base_year": ("Prices of the financial year", ""),
    "team.prices.inflation_per_year": ("Inflation", "% a year"),
}  # fmt: skip
"""Plain-English label and unit of every number and setting of a scenario, by its field path
with league tables, phases, sources and routes as ``*`` and list positions as ``[]`` (see
:func:`plain_label`); a unit starting with ``%`` marks a share shown as a percentage, ``£``
an amount in pounds, ``date`` a date."""
LIST_WORDS = {"wte_schedule": "step", "rules": "rule", "trust_counts": "change", "eras": "era",
              "in_programme": "group", "waiting": "group", "referrals": "referral"}  # fmt: skip
"""What one item of each list of a scenario is called, when no date or words name it."""
_INDEX = re.compile(r"\[(\d+)\]")
_TABLES = "|".join(LEAGUE_TABLES)
_WILD = (
    (re.compile(rf"^population\.tables\.({_TABLES})\."), "population.tables.*.", "table"),
    (re.compile(rf"^population\.trust_counts\[\]\.({_TABLES})$"), "population.trust_counts[].*",
     "table"),
    (re.compile(rf"^segmentation\.rules\[\]\.thresholds\.({_TABLES})$"),
     "segmentation.rules[].thresholds.*", "table"),
    (re.compile(rf"^programme\.phases\.({'|'.join(PHASES)})\b"), "programme.phases.*", "phase"),
    (re.compile(rf"\.(?:blend|paid_by_trusts)\.({'|'.join(PROVIDERS)})$"), None, "source"),
    (re.compile(r"^programme\.referrals\.(quality|finance)"), "programme.referrals.*", "route"),
)  # fmt: skip


def plain_label(
    path: str, positions: dict[str, str] | None = None, sentence: bool = False
) -> tuple[str, str]:
    """The plain-English label and unit of the scenario number or setting at ``path``
    (``team.national.wte_schedule[1].wte`` -> ``("National team size (step 2)", "WTE")``).

    ``positions`` names list items by their path (``{"team.national.wte_schedule[1]": "from
    1 Oct 2026"}``), in place of "step 2"; an era's field is labelled as the programme's
    field of that name, in that era. ``sentence``: the label to go inside a sentence (its
    first word in lower case unless it is a name, such as NHS). A path missing from
    :data:`LABEL_TABLE` is labelled from its field names, never with dots.
    """
    where = []
    for match in _INDEX.finditer(path):
        item = path[: match.end()]
        if positions and item in positions:
            where.append(positions[item])
        else:
            head = re.findall(r"(\w+)$", path[: match.start()])
            where.append(f"{LIST_WORDS.get(head[0] if head else '', 'item')} {int(match.group(1)) + 1}")
    generic = _INDEX.sub("[]", path)
    era = generic.startswith("programme.eras[].")
    if era:
        generic = "programme." + generic.removeprefix("programme.eras[].")
    words = {}
    for pattern, replacement, kind in _WILD:
        found = pattern.search(generic)
        if found:
            words[kind] = found.group(1)
            start, end = found.span(1)
            generic = generic[:start] + "*" + generic[end:] if replacement is None else (
                replacement + generic[found.end():])  # fmt: skip
    label, unit = LABEL_TABLE.get(generic) or _from_field_names(path)
    fill = {"table": TABLE_WORDS.get(words.get("table", ""), words.get("table", "")),
            "phase": words.get("phase", "").replace("_", " "),
            "source": SOURCE_WORDS.get(words.get("source", ""), words.get("source", "")),
            "route": _ROUTE.get(words.get("route", ""), words.get("route", ""))}  # fmt: skip
    fill |= {key.capitalize(): value[:1].upper() + value[1:] for key, value in fill.items()}
    label = label.format(**fill)
    if where:
        label += f" ({', '.join(where)})"
    if sentence and not re.match(r"^(NHS|WTE|[A-Z]{2,})\b", label):
        label = label[:1].lower() + label[1:]
    return label, unit


def _from_field_names(path: str) -> tuple[str, str]:
    """A label made from the last two field names of ``path``, for a path the table lacks."""
    names = [n for n in re.split(r"[.\[\]]+", path) if n and not n.isdigit()][-2:]
    text = " ".join(n.replace("_", " ") for n in names)
    for short, word in (("wte", "WTE"), ("nhs", "NHS"), ("sd", "standard deviation")):
        text = re.sub(rf"\b{short}\b", word, text)
    return text[:1].upper() + text[1:], ""
