"""The programme's part of a scenario: phases, support blend, entry routes, starting
caseload, and the eras in which its settings change on dates.

Split from :mod:`sim.scenario.schema` (which assembles the whole Scenario) so that each
file stays readable; the rules every section enforces are described there.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.bounds import (
    MAX_TRUSTS,
    MIN_SPELL_WEEKS,
    FrozenModel,
    Gradient,
    HoursPerWeek,
    IsoDate,
    PositiveWeeks,
    Probability,
    TrustCount,
    Weeks,
    field_error,
    steps_in_date_order,
)
from sim.scenario.durations import Duration, mean_weeks
from sim.vocabulary import PHASES, SOURCES


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


class ScoreLinkedRoute(FrozenModel):
    """An entry route that refers trusts at random, more often the worse their score.

    At each quarterly assessment a trust not already referred is referred with probability
    ``1 - exp(-rate / 4)``, where its rate is ``rate_per_trust_year`` times
    ``exp(score_gradient * z - score_gradient**2 / 2)`` at standardised score ``z``: the
    factor averages 1 over a table, so ``rate_per_trust_year`` is the average rate."""

    rate_per_trust_year: Annotated[float, Field(ge=0.0, le=4.0)]
    """At most 4 a year: a certain referral every quarter."""
    score_gradient: Gradient = 0.0
    """Log-rate per standard deviation of score (positive: worse trusts more often)."""


class SystemRoute(FrozenModel):
    """Whole systems entering together: at each quarterly assessment a Poisson number of
    integrated care systems (mean ``rate_per_year / 4``) is chosen, in proportion to how
    many of their trusts are in ``from_segment`` or worse, and all those trusts are
    referred."""

    rate_per_year: Annotated[float, Field(ge=0.0, le=52.0)]
    """Systems entering per year, nationally."""
    from_segment: Annotated[int, Field(ge=1, le=4)] = 3
    """Trusts of the system in this segment or worse (before the programme) are referred."""


class SegmentReferrals(FrozenModel):
    """Referrals from the population, by route: the lowest segment with a low-capability
    board, a catastrophic failure of governance, and optionally a quality route, a finance
    route and whole systems."""

    mode: Literal["segments"]
    lowest_segment_share: Probability = 1.0
    """Share of eligible trusts (lowest segment, low-capability board) referred at each
    assessment; 1 refers every one (the PIP rule), 0 switches the route off."""
    catastrophic_failure_refers: bool = True
    quality: ScoreLinkedRoute | None = None
    """A regulator's recommendation after an inadequate rating (the main route into
    special measures from 2013); ``null``: off."""
    finance: ScoreLinkedRoute | None = None
    """Trusts in deficit (financial special measures from 2016; a significant deficit or
    gap to plan under the Recovery Support Programme); ``null``: off."""
    system: SystemRoute | None = None
    """Whole integrated care systems entering together; ``null``: off."""
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
    route: Literal["initial", "segment", "quality", "finance", "catastrophic", "system"] = "initial"
    """How these trusts entered, for outputs by route (e.g. ``quality`` for the Keogh
    trusts of July 2013); ``initial`` when it does not matter."""

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
    waiting: Annotated[list[InitialWaiting], Field(max_length=100)] = Field(default_factory=list)


class PhaseChanges(FrozenModel):
    """Phases that change in an era (each given whole); the others carry on as before."""

    diagnostic: Phase | None = None
    improvement: Phase | None = None
    exit: Phase | None = None
    transitional: Phase | None = None


class ReferralChanges(FrozenModel):
    """Entry routes that change in an era (segment referral mode only); each route given
    replaces the one before, the others carry on. A route is switched off with a rate (or
    share) of 0."""

    lowest_segment_share: Probability | None = None
    catastrophic_failure_refers: bool | None = None
    quality: ScoreLinkedRoute | None = None
    finance: ScoreLinkedRoute | None = None
    system: SystemRoute | None = None
    no_longer_eligible: Literal["stay_on_list", "leave_list"] | None = None


WorkScale = Annotated[float, Field(ge=0.05, le=20.0)]
"""A multiplier of the improvement phase's work: 0.05 to 20 times the distribution's."""

NO_CAP = "none"
"""An era's ``cap: none``: no cap from that date (a missing ``cap`` leaves it unchanged)."""


class ProgrammeEra(FrozenModel):
    """Programme settings that change on a date, such as a new programme replacing the old.

    An era lists only what changes from the era before it (or from the programme's own
    settings for the first era); everything else carries on. Trusts already in a phase keep
    the length drawn when it began; phases that begin later follow the new settings."""

    effective_from: IsoDate
    name: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    """The programme's name from this date (e.g. ``Recovery Support Programme``)."""
    cap: Annotated[int, Field(ge=0, le=MAX_TRUSTS)] | Literal["none"] | None = None
    """New cap; ``none`` removes the cap; missing or ``null`` leaves it as it was."""
    referrals: ReferralChanges | None = None
    """Entry routes that change (segment referral mode only)."""
    phases: PhaseChanges | None = None
    dose_response: DoseResponse | None = None
    target_duration_weeks: PositiveWeeks | None = None
    exit_score_gain: Annotated[float, Field(ge=0.0, le=3.0)] | None = None
    relapse_probability: Probability | None = None
    improvement_work_scale: WorkScale | None = None


ERA_FIELDS = (
    "name", "cap", "dose_response", "target_duration_weeks", "exit_score_gain",
    "relapse_probability", "improvement_work_scale",
)  # fmt: skip
"""Fields of :class:`ProgrammeEra` that replace the programme's field of the same name."""


class Programme(FrozenModel):
    """The intensive programme of the time (the Provider Improvement Programme, segment 5,
    by default): entry, journey and exit, and how its settings change on dates."""

    name: Annotated[str, Field(min_length=1, max_length=80)] = "Provider Improvement Programme"
    """The programme's name in outputs (before the first era, if any)."""
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
    improvement_work_scale: WorkScale = 1.0
    """Multiplies the improvement phase's work (every draw): an era whose trusts needed
    less (or more) improvement than the distribution says, without restating the phase."""
    initial: InitialProgramme = Field(default_factory=InitialProgramme)
    eras: Annotated[list[ProgrammeEra], Field(max_length=200)] = Field(default_factory=list)
    """Settings that change on dates, in date order (see :class:`ProgrammeEra`)."""

    _eras_in_order = steps_in_date_order("eras")

    def settings_by_era(self) -> list[tuple[dt.date | None, Programme]]:
        """The programme's settings in force from each date: ``(None, self)`` first, then
        one entry per era with its changes applied on top of the era before."""
        out: list[tuple[dt.date | None, Programme]] = [(None, self)]
        current = self
        for era in self.eras:
            update = {
                name: getattr(era, name) for name in ERA_FIELDS if getattr(era, name) is not None
            }
            if update.get("cap") == NO_CAP:
                update["cap"] = None
            if era.referrals is not None:
                changed = {key: value for key, value in era.referrals if value is not None}
                update["referrals"] = current.referrals.model_copy(update=changed)
            if era.phases is not None:
                changed = {
                    name: getattr(era.phases, name)
                    for name in PHASES
                    if getattr(era.phases, name) is not None
                }
                update["phases"] = current.phases.model_copy(update=changed)
            current = current.model_copy(update=update | {"eras": []})
            out.append((era.effective_from, current))
        return out

    @model_validator(mode="after")
    def _eras_keep_referral_mode(self) -> Programme:
        for i, era in enumerate(self.eras):
            if era.referrals is not None and self.referrals.mode != "segments":
                raise field_error(
                    f"eras[{i}].referrals",
                    f"entry routes can change on a date only when referrals.mode is "
                    f"'segments', not {self.referrals.mode!r}",
                )
        return self

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
        for index, (_, settings) in enumerate(self.settings_by_era()):
            weeks = sum(mean_weeks(getattr(settings.phases, name).duration) for name in PHASES)
            relapse = settings.relapse_probability
            if relapse > 0 and weeks < MIN_SPELL_WEEKS:
                where = "" if index == 0 else f"eras[{index - 1}]."
                raise field_error(
                    [f"{where}relapse_probability", f"{where}phases"],
                    f"the four phases last {weeks:.3g} weeks on average, under "
                    f"{MIN_SPELL_WEEKS:g}: with relapse_probability {relapse:g} trusts would "
                    "cycle through the programme without time passing; lengthen the phases "
                    "or set relapse_probability to 0",
                )
        return self


