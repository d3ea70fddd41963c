"""Compile a validated scenario into the arrays and times one replication needs.

Compiling once per scenario (not once per replication, and never inside the event loop)
keeps attribute look-ups on pydantic models off the hot path. The compiled object is
immutable and picklable, so the runner can ship it to worker processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.calendar import (
    WEEKS_PER_YEAR,
    financial_quarter,
    quarter_label,
    quarter_starts,
    weeks_between,
)
from sim.data import TrustRegister, trust_register
from sim.model.distributions import DurationDistribution
from sim.model.segmentation import segment_of_rank
from sim.scenario.schema import FixedThresholdRule, Scenario
from sim.vocabulary import LEAGUE_TABLES, PHASES, ShortfallPolicy


@dataclass(frozen=True)
class PopulationInputs:
    """Per-trust parameters (arrays of length n_trusts) and the assessment calendar."""

    register: TrustRegister
    horizon_weeks: float
    assessment_weeks: np.ndarray
    """Times of the quarterly assessments, weeks since the start date."""
    assessment_labels: tuple[str, ...]
    """'2026/27 Q2' label of the quarter each assessment opens (index 0 is the start)."""
    reassess_capability: np.ndarray
    """Bool per assessment: boards are reassessed for capability at this one."""
    rule_kind: np.ndarray
    """Per assessment: 0 quartiles, 1 fixed thresholds."""
    rule_bounds: np.ndarray
    """Per assessment, (n_trusts, 3) upper bounds for fixed thresholds (unused for quartiles)."""
    table_offset: np.ndarray
    """Per trust, 10 x league-table index (see :func:`quartile_segments`)."""
    segment_of_sorted: np.ndarray
    """Quartile segment of each position when trusts are sorted table by table."""
    financial_override: bool
    max_segment_in_deficit: int
    # score dynamics
    score_mean: np.ndarray
    score_trend_per_quarter: np.ndarray
    between_sd: np.ndarray
    level_persistence: np.ndarray
    """Per quarter autocorrelation of the long-run level."""
    within_sd: np.ndarray
    persistence: np.ndarray
    total_sd: np.ndarray
    # deficit and capability
    deficit_logit: np.ndarray
    deficit_gradient: np.ndarray
    deficit_switching: np.ndarray
    capability_logit: np.ndarray
    capability_gradient: np.ndarray
    capability_persistence: float
    catastrophe_rate_per_week: np.ndarray
    # starting state, per table: segment counts and deficit counts scaled to the table size
    initial_segment_counts: tuple[np.ndarray, ...]
    initial_deficit_counts: tuple[np.ndarray, ...]

    @property
    def n_trusts(self) -> int:
        return self.register.n_trusts

    @property
    def n_assessments(self) -> int:
        return len(self.assessment_weeks)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def scale_counts(counts: list[int], total: int) -> np.ndarray:
    """Scale published counts to ``total`` by largest remainders (sum is exactly total)."""
    counts_arr = np.asarray(counts, dtype=float)
    exact = counts_arr * total / counts_arr.sum()
    scaled = np.floor(exact).astype(int)
    shortfall = total - scaled.sum()
    # ties go to the earlier (better) segment: deterministic
    order = np.argsort(-(exact - scaled), kind="stable")
    scaled[order[:shortfall]] += 1
    return scaled


def compile_population(
    scenario: Scenario, register: TrustRegister | None = None
) -> PopulationInputs:
    """Build the per-trust arrays and assessment calendar for ``scenario``."""
    register = register or trust_register()
    n = register.n_trusts
    tables = scenario.population.tables

    def per_trust(get) -> np.ndarray:
        values = np.array([get(getattr(tables, name)) for name in LEAGUE_TABLES], dtype=float)
        return values[register.table]

    start, end = scenario.start_date, scenario.end_date
    horizon_weeks = weeks_between(start, end)
    dates = quarter_starts(start, end)
    weeks = np.array([weeks_between(start, d) for d in dates], dtype=float)
    reassess = np.array(
        [
            financial_quarter(d) == scenario.population.capability_reassessment_quarter
            for d in dates
        ],
        dtype=bool,
    )

    # Which rule is in force at each assessment (the last whose date has come).
    rules = scenario.segmentation.rules
    kinds = np.zeros(len(dates), dtype=np.int8)
    bounds = np.zeros((len(dates), n, 3))
    for i, date in enumerate(dates):
        rule = [r for r in rules if r.effective_from <= date][-1]
        if isinstance(rule, FixedThresholdRule):
            kinds[i] = 1
            cuts = np.array([getattr(rule.thresholds, name) for name in LEAGUE_TABLES])
            bounds[i] = cuts[register.table]

    between = per_trust(lambda t: t.score.between_trust_sd)
    within = per_trust(lambda t: t.score.within_trust_sd)
    seg_counts, def_counts = [], []
    for index, (_, params) in enumerate(tables.items()):
        size = register.table_size(index)
        segs = scale_counts(params.initial_segment_counts, size)
        share = np.divide(
            params.initial_deficit_counts,
            params.initial_segment_counts,
            out=np.zeros(4),
            where=np.asarray(params.initial_segment_counts) > 0,
        )
        seg_counts.append(segs)
        def_counts.append(np.minimum(np.rint(share * segs).astype(int), segs))

    return PopulationInputs(
        register=register,
        horizon_weeks=horizon_weeks,
        assessment_weeks=weeks,
        assessment_labels=tuple(quarter_label(d) for d in [start, *dates]),
        reassess_capability=reassess,
        rule_kind=kinds,
        rule_bounds=bounds,
        table_offset=10.0 * register.table,
        segment_of_sorted=np.concatenate(
            [segment_of_rank(register.table_size(i)) for i in range(len(LEAGUE_TABLES))]
        ),
        financial_override=scenario.segmentation.financial_override,
        max_segment_in_deficit=scenario.segmentation.max_segment_in_deficit,
        score_mean=per_trust(lambda t: t.score.mean),
        score_trend_per_quarter=per_trust(lambda t: t.score.trend_per_year / 4.0),
        between_sd=between,
        level_persistence=per_trust(lambda t: t.score.level_persistence_per_year**0.25),
        within_sd=within,
        persistence=per_trust(lambda t: t.score.persistence),
        total_sd=np.maximum(np.sqrt(between**2 + within**2), 1e-9),
        deficit_logit=per_trust(lambda t: _logit(t.deficit.long_run_share)),
        deficit_gradient=per_trust(lambda t: t.deficit.score_gradient),
        deficit_switching=per_trust(lambda t: t.deficit.switching_rate),
        capability_logit=per_trust(lambda t: _logit(t.capability.low_share)),
        capability_gradient=per_trust(lambda t: t.capability.score_gradient),
        capability_persistence=scenario.population.capability_persistence,
        catastrophe_rate_per_week=per_trust(
            lambda t: t.catastrophic_failure_rate_per_year / WEEKS_PER_YEAR
        ),
        initial_segment_counts=tuple(seg_counts),
        initial_deficit_counts=tuple(def_counts),
    )


@dataclass(frozen=True)
class ProgrammeInputs:
    """The programme and team part of a compiled scenario (plain numbers and arrays)."""

    cap: int
    priority: tuple[str, ...]
    referral_mode: str
    """'segments', 'poisson' or 'schedule'."""
    catastrophic_refers: bool
    leave_list_when_ineligible: bool
    """Segment referrals leave the waiting list when an assessment finds them ineligible."""
    poisson_rate_per_week: float
    schedule_weeks: np.ndarray
    schedule_counts: np.ndarray
    durations: tuple[DurationDistribution, ...]
    """Per phase; for improvement, the work needed at full support (weeks)."""
    phase_hours: tuple[tuple[float, float, float], ...]
    """Per phase, support hours per week per trust by source."""
    elasticity: float
    target_weeks: float
    exit_score_gain: float
    relapse_probability: float
    initial_in_programme: tuple[tuple[int, int, int, float, float], ...]
    """(table, trusts, phase, weeks_in_phase, weeks_in_programme)."""
    initial_waiting: tuple[tuple[int, int, float], ...]
    """(table, trusts, weeks_waiting)."""
    national_change_weeks: np.ndarray
    """Times the national team's WTE changes (the first is 0)."""
    national_wte: np.ndarray
    """WTE in post from each change time (vacancies already taken off)."""
    hours_per_wte_week: float
    cost_per_wte_week: float
    family_hours_per_week: float
    family_cost_per_hour: float
    consultancy_hours_per_week: float
    consultancy_cost_per_hour: float
    policy: int
    trust_share: tuple[float, float, float]


def compile_programme(scenario: Scenario, register: TrustRegister | None = None) -> ProgrammeInputs:
    """Build the programme and team inputs for ``scenario``."""
    register = register or trust_register()
    programme, team = scenario.programme, scenario.team
    start = scenario.start_date
    phases = [getattr(programme.phases, name) for name in PHASES]
    referrals = programme.referrals
    table_index = {name: i for i, name in enumerate(LEAGUE_TABLES)}

    schedule = team.national.wte_schedule
    change_weeks = np.array([max(weeks_between(start, s.effective_from), 0.0) for s in schedule])
    in_post = np.array([s.wte * (1.0 - team.national.vacancy_rate) for s in schedule])
    # steps that took effect before the start collapse onto time 0: keep the latest
    keep = np.append(change_weeks[1:] > change_weeks[:-1], True)
    change_weeks, in_post = change_weeks[keep], in_post[keep]

    if referrals.mode == "schedule":
        schedule_weeks = np.array([weeks_between(start, r.date) for r in referrals.referrals])
        schedule_counts = np.array([r.trusts for r in referrals.referrals], dtype=int)
    else:
        schedule_weeks, schedule_counts = np.zeros(0), np.zeros(0, dtype=int)

    return ProgrammeInputs(
        cap=register.n_trusts if programme.cap is None else programme.cap,
        priority=tuple(programme.priority),
        referral_mode=referrals.mode,
        catastrophic_refers=getattr(referrals, "catastrophic_failure_refers", False),
        leave_list_when_ineligible=getattr(referrals, "no_longer_eligible", "") == "leave_list",
        poisson_rate_per_week=getattr(referrals, "rate_per_year", 0.0) / WEEKS_PER_YEAR,
        schedule_weeks=schedule_weeks,
        schedule_counts=schedule_counts,
        durations=tuple(DurationDistribution.from_schema(ph.duration) for ph in phases),
        phase_hours=tuple(
            tuple(ph.support_hours_per_week * share for share in ph.blend.shares()) for ph in phases
        ),
        elasticity=programme.dose_response.elasticity,
        target_weeks=programme.target_duration_weeks,
        exit_score_gain=programme.exit_score_gain,
        relapse_probability=programme.relapse_probability,
        initial_in_programme=tuple(
            (
                table_index[s.league_table],
                s.trusts,
                PHASES.index(s.phase),
                s.weeks_in_phase,
                s.weeks_in_programme,
            )
            for s in programme.initial.in_programme
        ),
        initial_waiting=tuple(
            (table_index[w.league_table], w.trusts, w.weeks_waiting)
            for w in programme.initial.waiting
        ),
        national_change_weeks=change_weeks,
        national_wte=in_post,
        hours_per_wte_week=team.national.productive_hours_per_wte_week,
        cost_per_wte_week=team.national.cost_per_wte_year / WEEKS_PER_YEAR,
        family_hours_per_week=team.nhs_family.hours_per_week,
        family_cost_per_hour=team.nhs_family.cost_per_hour,
        consultancy_hours_per_week=team.consultancy.framework_cap_days_per_week
        * team.consultancy.hours_per_day,
        consultancy_cost_per_hour=team.consultancy.day_rate / team.consultancy.hours_per_day,
        policy=int(ShortfallPolicy[team.shortfall_policy.upper()]),
        trust_share=tuple(team.paid_by_trusts.shares()),
    )
