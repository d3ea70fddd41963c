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
This module must not read files (see :mod:`sim.scenario.loader`) or hold random generators.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.bounds import (
    MAX_HORIZON_YEARS,
    MAX_HOURS_PER_WEEK,
    MAX_TRUSTS,
    MIN_HORIZON_YEARS,
    MIN_SPELL_WEEKS,
    FrozenModel,
    Gradient,
    HoursPerWeek,
    IsoDate,
    PositiveWeeks,
    Pounds,
    Probability,
    Score,
    ScoreSd,
    TrustCount,
    Weeks,
)
from sim.scenario.durations import Duration, mean_weeks
from sim.vocabulary import (
    LEAGUE_TABLES,
    PHASES,
    SOURCES,
    ShortfallPolicyName,
)

UNION_DISCRIMINATORS = ("rule", "distribution", "mode")
"""Keys whose value picks the member of a union (pydantic adds it to error locations; a
variant that changes one replaces the section instead of merging into it)."""


def field_error(paths: str | list[str], reason: str) -> ValueError:
    """A validation error about specific fields below the model being validated.

    ``paths`` are dotted paths relative to that model (several when the problem involves
    more than one field; the error is reported against the one the user's file set). The
    marker is turned into the error's location by :mod:`sim.scenario.error_messages`.
    """
    joined = "|".join([paths] if isinstance(paths, str) else paths)
    return ValueError(f"@{joined}@ {reason}")


def check_dates_increase(list_name: str, dates: list[dt.date]) -> None:
    """Raise a located error unless each ``effective_from`` is after the one before."""
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise field_error(
                [f"{list_name}[{i}].effective_from", f"{list_name}[{i - 1}].effective_from"],
                f"{dates[i]} is not after {list_name}[{i - 1}].effective_from {dates[i - 1]}: "
                "list steps in date order",
            )


def steps_in_date_order(list_name: str):
    """A model validator: the steps of the model's list ``list_name`` are in order of their
    ``effective_from`` (see :func:`check_dates_increase`)."""

    def check(model):
        check_dates_increase(list_name, [step.effective_from for step in getattr(model, list_name)])
        return model

    return model_validator(mode="after")(check)


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

    @model_validator(mode="after")
    def _one_provenance(self) -> Annotation:
        if self.source and self.assumption:
            raise ValueError("give either 'source' (published) or 'assumption', not both")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"range low {self.range[0]} is above high {self.range[1]}")
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


class Population(FrozenModel):
    """The 205 trusts (from the package's data) and how their scores and status move."""

    tables: LeagueTables
    capability_reassessment_quarter: Annotated[int, Field(ge=1, le=4)]
    """NHS financial-year quarter (1 = April to June) in which boards are reassessed."""
    capability_persistence: Probability
    """Probability that a board's rating is carried over unchanged at a reassessment."""


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


class QuartileRule(FrozenModel):
    """NOF 2025/26: quartiles of the average score within each league table."""

    rule: Literal["quartiles"]
    effective_from: IsoDate


class FixedThresholdRule(FrozenModel):
    """NOF 2026/27: fixed score thresholds (values are a scenario assumption)."""

    rule: Literal["fixed_thresholds"]
    effective_from: IsoDate
    thresholds: Thresholds


SegmentationRule = Annotated[QuartileRule | FixedThresholdRule, Field(discriminator="rule")]


class Segmentation(FrozenModel):
    """Which rule segments trusts when, and the financial override applied after it."""

    rules: Annotated[list[SegmentationRule], Field(min_length=1, max_length=200)]
    """At most 200 rules: a change every quarter for 50 years."""
    financial_override: bool
    max_segment_in_deficit: Annotated[int, Field(ge=1, le=4)] = 3
    """A trust in deficit can be no higher (better) than this segment."""

    _dates_in_order = steps_in_date_order("rules")


# ---------------------------------------------------------------------------- programme


class PerSource(FrozenModel):
    """A share (0 to 1) for each source of support, in the order of ``SOURCES``."""

    national: Probability
    nhs_family: Probability
    consultancy: Probability

    def shares(self) -> list[float]:
        return [getattr(self, source) for source in SOURCES]


class Blend(PerSource):
    """Shares of a phase's support hours by source; they must add up to 1."""

    @model_validator(mode="after")
    def _adds_up(self) -> Blend:
        total = self.national + self.nhs_family + self.consultancy
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"blend shares add up to {total:.4g}, not 1")
        return self


class Phase(FrozenModel):
    """A phase: how long it lasts and the support it needs each week.

    For the improvement phase ``duration`` is the work needed *at full support*: with less
    support delivered the phase lasts longer (see :class:`DoseResponse`).
    """

    duration: Duration
    support_hours_per_week: HoursPerWeek
    blend: Blend


class Phases(FrozenModel):
    diagnostic: Phase
    improvement: Phase
    exit: Phase
    transitional: Phase


class DoseResponse(FrozenModel):
    """Improvement progresses at ``dose ** elasticity`` weeks of work per week, where dose
    is the share of the required support hours actually delivered (0 to 1)."""

    elasticity: Annotated[float, Field(ge=0.0, le=10.0)]
    """At most 10: a 90% dose then gives a third of the speed (the baseline assumes 1)."""


class PoissonReferrals(FrozenModel):
    """Referrals arrive at random at a constant rate, replacing segment-driven referrals."""

    mode: Literal["poisson"]
    rate_per_year: Annotated[float, Field(ge=0.0, le=1000.0)]
    """At most 1,000 a year, about five per trust: referrals go to trusts not already
    referred, so a higher rate only refers the same trusts again."""


class ScheduledReferral(FrozenModel):
    date: IsoDate
    trusts: Annotated[int, Field(ge=1, le=MAX_TRUSTS)]


class ScheduleReferrals(FrozenModel):
    """Referrals on given dates, replacing segment-driven referrals."""

    mode: Literal["schedule"]
    referrals: Annotated[list[ScheduledReferral], Field(min_length=1, max_length=2000)]
    """At most 2,000 dates: one a week for the longest horizon."""

    @model_validator(mode="after")
    def _in_order(self) -> ScheduleReferrals:
        dates = [r.date for r in self.referrals]
        if dates != sorted(dates):
            raise field_error("referrals", "referrals must be listed in date order")
        return self


class SegmentReferrals(FrozenModel):
    """Referrals from the population: segment 4 with low capability, or a catastrophic
    failure of governance."""

    mode: Literal["segments"]
    catastrophic_failure_refers: bool = True
    no_longer_eligible: Literal["stay_on_list", "leave_list"] = "stay_on_list"
    """A trust waiting for a place that a later assessment finds no longer eligible (out
    of segment 4 or no longer low capability) stays on the list (a referral, once made,
    stands) or leaves it. Catastrophic and relapse referrals always stay."""


Referrals = Annotated[
    SegmentReferrals | PoissonReferrals | ScheduleReferrals, Field(discriminator="mode")
]


class InitialSpells(FrozenModel):
    """Trusts already in the programme at the start date, in one phase."""

    league_table: Literal["acute", "non_acute", "ambulance"]
    trusts: TrustCount
    phase: Literal["diagnostic", "improvement", "exit"]
    weeks_in_phase: Weeks
    weeks_in_programme: Weeks

    @model_validator(mode="after")
    def _consistent(self) -> InitialSpells:
        if self.weeks_in_phase > self.weeks_in_programme:
            raise field_error(
                ["weeks_in_phase", "weeks_in_programme"],
                f"weeks_in_phase {self.weeks_in_phase} exceeds weeks_in_programme "
                f"{self.weeks_in_programme}",
            )
        return self


class InitialWaiting(FrozenModel):
    """Trusts referred and waiting to enter at the start date."""

    league_table: Literal["acute", "non_acute", "ambulance"]
    trusts: TrustCount
    weeks_waiting: Weeks


class InitialProgramme(FrozenModel):
    """Who is in the programme and waiting at the start. The trusts chosen are the
    worst-scoring ones of their league table."""

    in_programme: Annotated[list[InitialSpells], Field(max_length=100)] = Field(
        default_factory=list
    )
    waiting: Annotated[list[InitialWaiting], Field(max_length=100)] = Field(
        default_factory=list
    )


class Programme(FrozenModel):
    """The Provider Improvement Programme (segment 5): entry, journey and exit."""

    cap: Annotated[int, Field(ge=0, le=MAX_TRUSTS)] | None
    """Most trusts in the programme at once (diagnostic, improvement and exit phases);
    ``null`` for no cap."""
    priority: Annotated[
        list[Literal["catastrophic_first", "worst_score", "longest_waiting"]], Field(min_length=1)
    ]
    """Order in which the waiting list is served: keys applied in turn."""
    referrals: Referrals
    phases: Phases
    dose_response: DoseResponse
    target_duration_weeks: PositiveWeeks
    """Planned time from admission to exit; exits later than this count as slippage."""
    exit_score_gain: Annotated[float, Field(ge=0.0, le=3.0)]
    """Lasting improvement of the trust's long-run score at exit, score points."""
    relapse_probability: Probability
    """Probability that a trust is referred again when its transitional support ends."""
    initial: InitialProgramme = Field(default_factory=InitialProgramme)

    @model_validator(mode="after")
    def _unique_priority(self) -> Programme:
        if len(set(self.priority)) != len(self.priority):
            raise field_error("priority", f"lists a key twice: {self.priority}")
        return self

    @model_validator(mode="after")
    def _spell_takes_time(self) -> Programme:
        # A trust that relapses is referred again when its spell ends; spells of no time
        # would repeat at one instant for ever (relapse_probability 1) or thousands of
        # times (just below 1).
        weeks = sum(mean_weeks(getattr(self.phases, name).duration) for name in PHASES)
        if self.relapse_probability > 0 and weeks < MIN_SPELL_WEEKS:
            raise field_error(
                ["relapse_probability", "phases"],
                f"the four phases last {weeks:.3g} weeks on average, under "
                f"{MIN_SPELL_WEEKS:g}: with relapse_probability {self.relapse_probability:g} "
                "trusts would cycle through the programme without time passing; lengthen "
                "the phases or set relapse_probability to 0",
            )
        return self


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


class TrustShare(PerSource):
    """Share of each source's cost paid by the trusts supported (the rest by NHS England)."""


class Team(FrozenModel):
    """Who supports trusts in the programme, at what capacity and cost."""

    national: NationalTeam
    nhs_family: NhsFamily
    consultancy: Consultancy
    shortfall_policy: ShortfallPolicyName
    """When the national team is full: ``wait`` delays admissions; ``dilute`` spreads
    support thinner (slower improvement); ``buy`` fills the gap with consultancy."""
    paid_by_trusts: TrustShare


# ----------------------------------------------------------------------------- scenario


class Scenario(FrozenModel):
    """A complete, validated, immutable scenario.

    Build one with :func:`sim.scenario.load_scenario` (from YAML) or change one with
    :func:`sim.scenario.with_changes`; do not construct it field by field in analysis code.
    """

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    """Names results folders and files: at most 64 characters, so that folder names built
    from it (``<name>-<date-time>``, sweep points ``<name>-0001``) fit file systems."""
    description: Annotated[str, Field(max_length=10_000)] = ""
    start_date: IsoDate
    horizon_years: Annotated[float, Field(ge=MIN_HORIZON_YEARS, le=MAX_HORIZON_YEARS)]
    population: Population
    segmentation: Segmentation
    programme: Programme
    team: Team
    notes: dict[str, Annotation] = Field(default_factory=dict)
    """Provenance of annotated numbers, keyed by dotted field path (filled by the loader)."""

    @model_validator(mode="after")
    def _first_rule_covers_start(self) -> Scenario:
        first = self.segmentation.rules[0].effective_from
        if first > self.start_date:
            raise field_error(
                ["start_date", "segmentation.rules[0].effective_from"],
                f"start_date {self.start_date} is before the first segmentation rule "
                f"({first}): some rule must be in force from the start",
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

    @property
    def end_date(self) -> dt.date:
        """First day after the forecast horizon."""
        return self.start_date + dt.timedelta(days=round(self.horizon_years * 365.25))
