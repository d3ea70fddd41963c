"""The scenario schema: every input the model needs, validated once and frozen.

A scenario is data. It holds the assumptions of one forecast (population dynamics,
segmentation rules, and later the programme and its team) and nothing about how it is run
(replications, seed and workers are run settings, passed to the runner).

Rules every section enforces (through :class:`~sim.scenario.bounds.FrozenModel`) and why:

* ``extra="forbid"`` so that a typo in a key is an error, not a silently ignored setting.
* ``strict=True`` so that ``"0.8"`` or ``true`` is not quietly turned into a number.
* ``frozen=True`` so that a scenario cannot change under a running model; what-if edits go
  through :func:`sim.scenario.with_changes`, which re-validates.

The bounds on numbers and dates, with their reasons, are in :mod:`sim.scenario.bounds`.
The programme's sections (phases, entry routes, eras) are in
:mod:`sim.scenario.programme_schema`; the validation helpers shared by both
(:func:`~sim.scenario.bounds.field_error`, :func:`~sim.scenario.bounds.steps_in_date_order`)
in :mod:`sim.scenario.bounds`. This module must not read files (see
:mod:`sim.scenario.loader`) or hold random generators.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.calendar import financial_year
from sim.scenario.bounds import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_HORIZON_YEARS,
    MAX_HOURS_PER_WEEK,
    MAX_TRUSTS,
    MIN_HORIZON_YEARS,
    FrozenModel,
    Gradient,
    HoursPerWeek,
    IsoDate,
    Pounds,
    Probability,
    Score,
    ScoreSd,
    TrustCount,
    field_error,
    steps_in_date_order,
)
from sim.scenario.programme_schema import PerSource, Programme
from sim.vocabulary import (
    LEAGUE_TABLES,
    ShortfallPolicyName,
)

UNION_DISCRIMINATORS = ("rule", "distribution", "mode")
"""Keys whose value picks the member of a union (pydantic adds it to error locations; a
variant that changes one replaces the section instead of merging into it)."""


DISTRIBUTION_KEYS = ("distribution", "shape", "sd", "sigma")
"""Keys of a note that say how an uncertain value is spread over its range."""


class Annotation(FrozenModel):
    """Provenance of one number in a scenario file.

    In YAML a number may be written bare or as ``{value: 0.8, unit: ..., source: ...}`` or
    ``{value: 0.8, assumption: ...}``. The loader moves the value into the typed tree and
    keeps the rest here, keyed by the dotted field path, so reports can list every
    assumption with its unit and source.
    """

    unit: str | None = None
    source: str | None = None
    assumption: str | None = None
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    """Plausible low and high values: the number is uncertain within them (sampled per
    replication when a run asks for parameter uncertainty)."""
    distribution: Literal["uniform", "triangular", "beta", "normal", "lognormal"] | None = None
    """How the value is spread over ``range`` (default uniform): triangular peaks at the
    value; beta uses ``shape``; normal has mean the value and standard deviation ``sd``;
    lognormal has median the value and ``sigma``; the last two are cut at the range."""
    shape: (
        Annotated[
            list[Annotated[float, Field(gt=0.0, le=1000.0)]], Field(min_length=2, max_length=2)
        ]
        | None
    ) = None
    sd: Annotated[float, Field(gt=0.0)] | None = None
    sigma: Annotated[float, Field(gt=0.0, le=5.0)] | None = None

    @model_validator(mode="after")
    def _one_provenance(self) -> Annotation:
        if self.source and self.assumption:
            raise ValueError("give either 'source' (published) or 'assumption', not both")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"range low {self.range[0]} is above high {self.range[1]}")
        needs = {"beta": "shape", "normal": "sd", "lognormal": "sigma"}
        if self.distribution is not None and self.range is None:
            raise ValueError(f"distribution {self.distribution!r} needs a range: [low, high]")
        if self.distribution in needs and getattr(self, needs[self.distribution]) is None:
            raise ValueError(f"distribution {self.distribution!r} needs {needs[self.distribution]}")
        if self.distribution == "lognormal" and self.range is not None and self.range[0] <= 0:
            raise ValueError("a lognormal range must be above 0")
        return self

    @property
    def is_published(self) -> bool:
        return bool(self.source)


# --------------------------------------------------------------------------- population


class ScoreDynamics(FrozenModel):
    """Latent average metric score of a league table's trusts (1.00 best, 4.00 worst).

    A trust's score is its long-run level plus a short-run deviation. Levels differ
    between trusts (standard deviation ``between_trust_sd`` around ``mean``) and revert
    slowly to the mean (``level_persistence_per_year``), so a trust's standing lasts years
    but not for ever; the deviation follows a quarterly AR(1) process with ``persistence``
    and stationary standard deviation ``within_trust_sd``.
    """

    mean: Score
    between_trust_sd: ScoreSd
    level_persistence_per_year: Annotated[float, Field(ge=0.0, le=1.0)]
    """Autocorrelation of a trust's long-run level over a year (1 = fixed for ever)."""
    within_trust_sd: ScoreSd
    persistence: Annotated[float, Field(ge=0.0, lt=1.0)]
    trend_per_year: Annotated[float, Field(ge=-3.0, le=3.0)] = 0.0
    """Drift of every trust's long-run level, score points per year (negative improves)."""


class DeficitDynamics(FrozenModel):
    """Deficit status as a two-state switching process whose odds depend on the score.

    At standardised score ``z`` the long-run probability of being in deficit is
    ``expit(logit(long_run_share) + score_gradient * z)``; each quarter a trust in deficit
    leaves it with probability ``switching_rate * (1 - p)`` and one out of deficit enters
    with probability ``switching_rate * p``.
    """

    long_run_share: Probability
    score_gradient: Gradient
    switching_rate: Annotated[float, Field(gt=0.0, le=1.0)]


class CapabilityModel(FrozenModel):
    """Probability that a trust's board is rated low capability at an annual reassessment.

    ``P(low | z) = expit(logit(low_share) + score_gradient * z)`` at standardised score z.
    """

    low_share: Probability
    score_gradient: Gradient


class LeagueTableParams(FrozenModel):
    """Starting state and dynamics of one league table."""

    initial_segment_counts: Annotated[list[TrustCount], Field(min_length=4, max_length=4)]
    """Published trusts in segments 1 to 4; scaled to the table's size if the counts cover
    fewer rows than the table has trusts."""
    initial_deficit_counts: Annotated[list[TrustCount], Field(min_length=4, max_length=4)]
    """Published trusts in deficit within segments 1 to 4 (same rows as the segment counts)."""
    score: ScoreDynamics
    deficit: DeficitDynamics
    capability: CapabilityModel
    catastrophic_failure_rate_per_year: Annotated[float, Field(ge=0.0, le=4.0)]
    """Rate of catastrophic failures of governance (quality or finance), per trust per year
    (at most 4: one a quarter per trust; the baseline assumes 0.005)."""

    @model_validator(mode="after")
    def _deficit_within_segments(self) -> LeagueTableParams:
        if sum(self.initial_segment_counts) == 0:
            raise field_error("initial_segment_counts", "must hold at least one trust")
        for segment, (n, d) in enumerate(
            zip(self.initial_segment_counts, self.initial_deficit_counts, strict=True), start=1
        ):
            if d > n:
                raise field_error(
                    ["initial_deficit_counts", "initial_segment_counts"],
                    f"segment {segment} has {d} trusts in deficit but only {n} trusts",
                )
        return self


class LeagueTables(FrozenModel):
    """One entry per NOF league table; all three are required."""

    acute: LeagueTableParams
    non_acute: LeagueTableParams
    ambulance: LeagueTableParams

    def items(self) -> list[tuple[str, LeagueTableParams]]:
        return [(name, getattr(self, name)) for name in LEAGUE_TABLES]


class TrustCountStep(FrozenModel):
    """Trusts in each league table from a date (mergers lower the counts)."""

    effective_from: IsoDate
    acute: Annotated[int, Field(ge=1, le=MAX_TRUSTS)]
    non_acute: Annotated[int, Field(ge=1, le=MAX_TRUSTS)]
    ambulance: Annotated[int, Field(ge=1, le=MAX_TRUSTS)]

    def counts(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in LEAGUE_TABLES)


class Population(FrozenModel):
    """The trusts and how their scores and status move."""

    tables: LeagueTables
    trust_counts: Annotated[list[TrustCountStep], Field(min_length=1, max_length=200)] | None = None
    """Trusts per league table over time; ``null`` for the 2025/26 register in the package's
    data (134 acute, 61 non-acute, 10 ambulance) throughout. Counts may only fall (trusts
    merge; see :mod:`sim.model.population`), and a change takes effect at the first
    quarterly assessment on or after its date."""
    capability_reassessment_quarter: Annotated[int, Field(ge=1, le=4)]
    """NHS financial-year quarter (1 = April to June) in which boards are reassessed."""
    capability_persistence: Probability
    """Probability that a board's rating is carried over unchanged at a reassessment."""

    _dates_in_order = steps_in_date_order("trust_counts")

    def counts_at(self, date: dt.date) -> tuple[int, ...] | None:
        """Trusts per league table in force on ``date`` (``None``: the package's register)."""
        steps = [s for s in self.trust_counts or [] if s.effective_from <= date]
        return steps[-1].counts() if steps else None

    @model_validator(mode="after")
    def _counts_only_fall(self) -> Population:
        steps = self.trust_counts or []
        for i in range(1, len(steps)):
            for name in LEAGUE_TABLES:
                before, after = getattr(steps[i - 1], name), getattr(steps[i], name)
                if after > before:
                    raise field_error(
                        f"trust_counts[{i}].{name}",
                        f"{after} trusts is more than the {before} of trust_counts[{i - 1}]: "
                        "counts may only fall (trusts merge; new trusts are not modelled)",
                    )
        return self


# ------------------------------------------------------------------------- segmentation


class Thresholds(FrozenModel):
    """Upper score bounds of segments 1, 2 and 3 per league table (increasing)."""

    acute: Annotated[list[Score], Field(min_length=3, max_length=3)]
    non_acute: Annotated[list[Score], Field(min_length=3, max_length=3)]
    ambulance: Annotated[list[Score], Field(min_length=3, max_length=3)]

    @model_validator(mode="after")
    def _increasing(self) -> Thresholds:
        for name in LEAGUE_TABLES:
            cuts = getattr(self, name)
            if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
                raise field_error(name, f"thresholds must increase, got {cuts}")
        return self


class RuleCommon(FrozenModel):
    """What every segmentation rule has: its date, a label for outputs and whether the
    financial override applies under it."""

    effective_from: IsoDate
    label: Annotated[str, Field(max_length=80)] = ""
    """Name of the framework in outputs, e.g. ``NOF 2025/26`` (empty: the rule's kind)."""
    financial_override: bool | None = None
    """Whether the financial override applies under this rule; ``null``: the segmentation's
    ``financial_override``."""


class QuartileRule(RuleCommon):
    """NOF 2025/26: quartiles of the average score within each league table; segment 5 is
    the programme."""

    rule: Literal["quartiles"]


class FixedThresholdRule(RuleCommon):
    """NOF 2026/27: fixed score thresholds (values are a scenario assumption); segment 5 is
    the programme."""

    rule: Literal["fixed_thresholds"]
    thresholds: Thresholds


class SofRule(RuleCommon):
    """Single Oversight Framework (from October 2016) and System Oversight Framework
    (2021/22): segment 4 is the programme of the time (special measures, then the Recovery
    Support Programme) and is set by being in it; segments 1 to 3 follow the scores, split
    within each league table in the shares given (best first)."""

    rule: Literal["sof"]
    segment_shares: Annotated[list[Probability], Field(min_length=3, max_length=3)]

    @model_validator(mode="after")
    def _shares_add_up(self) -> SofRule:
        if abs(sum(self.segment_shares) - 1.0) > 1e-6:
            raise field_error(
                "segment_shares", f"shares add up to {sum(self.segment_shares):.4g}, not 1"
            )
        return self


SegmentationRule = Annotated[
    QuartileRule | FixedThresholdRule | SofRule, Field(discriminator="rule")
]


class Segmentation(FrozenModel):
    """Which rule segments trusts when, and the financial override applied after it."""

    rules: Annotated[list[SegmentationRule], Field(min_length=1, max_length=200)]
    """At most 200 rules: a change every quarter for 50 years."""
    financial_override: bool
    max_segment_in_deficit: Annotated[int, Field(ge=1, le=4)] = 3
    """A trust in deficit can be no higher (better) than this segment."""

    _dates_in_order = steps_in_date_order("rules")


# --------------------------------------------------------------------------------- team


class WteStep(FrozenModel):
    effective_from: IsoDate
    wte: Annotated[float, Field(ge=0.0, le=10_000.0)]
    """At most 10,000 WTE (the PIP team is 37 to 51)."""


class NationalTeam(FrozenModel):
    """The national PIP team: whole-time equivalents over time and their productive hours."""

    wte_schedule: Annotated[list[WteStep], Field(min_length=1, max_length=2000)]
    productive_hours_per_wte_week: Annotated[float, Field(ge=0.0, le=168.0)]
    """Hours per WTE per week available for programme case work."""
    vacancy_rate: Annotated[float, Field(ge=0.0, lt=1.0)]
    cost_per_wte_year: Pounds
    """Employment cost per WTE in post, pounds per year."""
    director_wte_per_trust: Annotated[float, Field(ge=0.0, le=10.0)]
    """WTE of improvement director each trust in the programme (diagnostic, improvement
    and exit) needs: an output only, set against the WTE in post (``directors_needed``,
    ``directors_from_interim``); it does not change support hours. At most 10 (one
    director is at most 1 WTE)."""

    _dates_in_order = steps_in_date_order("wte_schedule")


class NhsFamily(FrozenModel):
    """Wider NHS support: buddying, temporary board appointments, other organisations."""

    hours_per_week: HoursPerWeek
    cost_per_hour: Pounds


class Consultancy(FrozenModel):
    """Consultancy under the nationally commissioned framework."""

    framework_cap_days_per_week: Annotated[float, Field(ge=0.0, le=MAX_HOURS_PER_WEEK / 8)]
    day_rate: Pounds
    """Pounds per consultant day."""
    hours_per_day: Annotated[float, Field(gt=0.0, le=24.0)]


class Interim(FrozenModel):
    """Interim appointments: senior figures from outside NHS England on temporary contracts,
    who take the national team's unmet hours under the ``backfill`` policy (unused under
    the others)."""

    hours_per_week: HoursPerWeek
    """Most hours a week interim appointees can give the programme."""
    cost_per_hour: Pounds
    """Pounds per hour delivered."""


class TrustShare(PerSource):
    """Share of each source's cost paid by the trusts supported (the rest by NHS England),
    and of interim appointments' cost."""

    interim: Probability

    def by_provider(self) -> list[float]:
        """Shares in the order of :data:`~sim.vocabulary.PROVIDERS` (the sources, then
        interim appointments)."""
        return [*self.shares(), self.interim]


MAX_INFLATION_PER_YEAR = 0.5
"""Prices may rise by at most 50% a year (and fall by at most 20%): about twice the highest
UK inflation since the Second World War (about 25%, in 1975), and small enough that 200
years of it stay finite."""


class Prices(FrozenModel):
    """The price base of the team's unit costs, and how prices rise after it.

    Every unit cost of :class:`Team` (WTE cost, hourly cost, day rate) is in the prices of
    ``base_year``. Costs are reported both in those prices (``cost``, ``cost_by_payer``)
    and in cash terms (``cost_cash``, ``cost_by_payer_cash``), where every period within
    financial year ``y`` carries the factor ``(1 + inflation_per_year) ** (y - base)``
    (years counted by their first calendar year: 2027/28 is two years after 2025/26).
    """

    base_year: Annotated[str, Field(pattern=r"^[0-9]{4}/[0-9]{2}$")]
    """NHS financial year whose prices the unit costs are in, written '2025/26'."""
    inflation_per_year: Annotated[float, Field(ge=-0.2, le=MAX_INFLATION_PER_YEAR)]
    """Rise in the unit costs from one financial year to the next (0.025 is 2.5%)."""

    @model_validator(mode="after")
    def _a_financial_year(self) -> Prices:
        first, second = int(self.base_year[:4]), int(self.base_year[5:])
        if second != (first + 1) % 100:
            raise field_error(
                "base_year",
                f"{self.base_year!r} is not a financial year: write it as "
                f"'{first}/{(first + 1) % 100:02d}' (April {first} to March {first + 1})",
            )
        if not EARLIEST_DATE.year <= first <= LATEST_DATE.year:
            raise field_error(
                "base_year",
                f"{self.base_year!r} is outside the years a scenario may give "
                f"({EARLIEST_DATE.year} to {LATEST_DATE.year})",
            )
        return self

    @property
    def first_year(self) -> int:
        """The calendar year the base financial year starts in (2025 for '2025/26')."""
        return int(self.base_year[:4])


class Team(FrozenModel):
    """Who supports trusts in the programme, at what capacity and cost."""

    national: NationalTeam
    nhs_family: NhsFamily
    consultancy: Consultancy
    interim: Interim
    shortfall_policy: ShortfallPolicyName
    """When the national team is full: ``wait`` delays admissions; ``dilute`` spreads
    support thinner (slower improvement); ``buy`` fills the gap with consultancy;
    ``backfill`` fills it with interim appointments, then consultancy."""
    paid_by_trusts: TrustShare
    prices: Prices | None = None
    """The price base of the unit costs and inflation after it; ``None``: the prices of
    the forecast's first financial year, with no inflation (see
    :meth:`Scenario.price_basis`)."""


# ----------------------------------------------------------------------------- scenario


def default_title(name: str) -> str:
    """A scenario's title when its file gives none: its name in words, capitalised
    (``cap_10`` -> ``Cap 10``, ``policy_backfill`` -> ``Policy backfill``)."""
    words = " ".join(name.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:]


class Scenario(FrozenModel):
    """A complete, validated, immutable scenario.

    Build one with :func:`sim.scenario.load_scenario` (from YAML) or change one with
    :func:`sim.scenario.with_changes`; do not construct it field by field in analysis code.
    """

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    """Names results folders and files: at most 64 characters, so that folder names built
    from it (``<name>-<date-time>``, sweep points ``<name>-0001``) fit file systems."""
    title: Annotated[str, Field(max_length=120)] = ""
    """The scenario's name in published outputs (chart titles, the chart pack's tables and
    findings), in plain English: "Programme cap of 10 trusts" rather than ``cap_10``. At
    most 120 characters. A variant does not inherit its parent's title (like
    ``description``); when a file gives none it is made from ``name`` ("cap_10" becomes
    "Cap 10")."""
    description: Annotated[str, Field(max_length=10_000)] = ""
    start_date: IsoDate
    horizon_years: Annotated[float, Field(ge=MIN_HORIZON_YEARS, le=MAX_HORIZON_YEARS)]
    population: Population
    segmentation: Segmentation
    programme: Programme
    team: Team
    calibration_ensemble: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """A calibration ensemble (``calibrate --ensemble``: one row per plausible parameter
    set, a column per dotted path, and ``weight``), relative to this file when written; the
    loader stores the absolute path. With parameter uncertainty each draw takes one set,
    resampled by weight, for the numbers the scenario has (:mod:`sim.experiment.uncertainty`);
    ``null``: calibrated numbers keep their fitted values."""
    warm_start: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """A history scenario file to start from (relative to this file when written; the
    loader stores the absolute path): the run begins at the history's start, follows it up
    to this scenario's ``start_date`` and then this scenario's settings, and reports from
    ``start_date`` on, so trusts keep their time in the programme and their history (see
    :mod:`sim.scenario.warm_start`). ``null``: start from the published state."""
    notes: dict[str, Annotation] = Field(default_factory=dict)
    """Provenance of annotated numbers, keyed by dotted field path (filled by the loader)."""

    @model_validator(mode="before")
    @classmethod
    def _title_from_name(cls, data):
        """A scenario without a title is called by its name, in words (:func:`default_title`)."""
        if isinstance(data, dict) and not str(data.get("title") or "").strip():
            data = {**data, "title": default_title(str(data.get("name", "")))}
        return data

    @model_validator(mode="after")
    def _first_rule_covers_start(self) -> Scenario:
        first = self.segmentation.rules[0].effective_from
        if first > self.start_date:
            raise field_error(
                ["start_date", "segmentation.rules[0].effective_from"],
                f"start_date {self.start_date} is before the first segmentation rule "
                f"({first}): some rule must be in force from the start",
            )
        if self.warm_start is not None and (
            self.start_date.day != 1 or self.start_date.month not in (1, 4, 7, 10)
        ):
            raise field_error(
                ["start_date", "warm_start"],
                f"start_date {self.start_date} is not the first day of a quarter (1 April, "
                "1 July, 1 October or 1 January): a warm start takes over at a quarterly "
                "assessment",
            )
        counts = self.population.trust_counts
        if counts and counts[0].effective_from > self.start_date:
            raise field_error(
                ["start_date", "population.trust_counts[0].effective_from"],
                f"start_date {self.start_date} is before the first trust count "
                f"({counts[0].effective_from}): the number of trusts must be known from the "
                "start",
            )
        first_wte = self.team.national.wte_schedule[0].effective_from
        if first_wte > self.start_date:
            raise field_error(
                ["start_date", "team.national.wte_schedule[0].effective_from"],
                f"start_date {self.start_date} is before the first WTE step ({first_wte}): "
                "the team size must be known from the start",
            )
        referrals = self.programme.referrals
        if referrals.mode == "schedule":
            for i, referral in enumerate(referrals.referrals):
                if referral.date < self.start_date:  # would be dropped without a word
                    raise field_error(
                        [f"programme.referrals.referrals[{i}].date", "start_date"],
                        f"scheduled referral on {referral.date} is before start_date "
                        f"{self.start_date}: trusts referred before the start belong in "
                        "programme.initial.waiting",
                    )
        return self

    def regimes(self) -> list[dict]:
        """The programme and framework in force from the start and from each change within
        the run: ``{"from", "programme", "framework", "programme_segment"}`` (dates as
        ISO text), for outputs that say which programme and segment applied when."""
        from sim.vocabulary import PROGRAMME_SEGMENT_OF_RULE

        start, end = self.start_date, self.end_date
        changes = {start} | {
            d for d, _ in self.programme.settings_by_era()[1:] if d is not None and start < d < end
        }
        changes |= {
            r.effective_from for r in self.segmentation.rules if start < r.effective_from < end
        }
        out, by_era = [], self.programme.settings_by_era()
        for date in sorted(changes):
            settings = [p for d, p in by_era if d is None or d <= date][-1]
            rule = [r for r in self.segmentation.rules if r.effective_from <= date][-1]
            entry = {
                "from": date.isoformat(),
                "programme": settings.name,
                "framework": rule.label or rule.rule,
                "programme_segment": PROGRAMME_SEGMENT_OF_RULE[rule.rule],
            }
            if not out or {k: v for k, v in entry.items() if k != "from"} != {
                k: v for k, v in out[-1].items() if k != "from"
            }:
                out.append(entry)
        return out

    def price_basis(self) -> Prices:
        """The prices costs are stated in: ``team.prices``, or when a scenario gives none,
        the prices of the financial year of ``start_date`` with no inflation."""
        if self.team.prices is not None:
            return self.team.prices
        return Prices(base_year=financial_year(self.start_date), inflation_per_year=0.0)

    @property
    def end_date(self) -> dt.date:
        """First day after the forecast horizon."""
        return self.start_date + dt.timedelta(days=round(self.horizon_years * 365.25))
