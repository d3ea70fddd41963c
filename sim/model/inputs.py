"""Compile a validated scenario into the arrays and times one replication needs.

Compiling once per scenario (not once per replication, and never inside the event loop)
keeps attribute look-ups on pydantic models off the hot path. The compiled object is
immutable and picklable, so the runner can ship it to worker processes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

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
from sim.model.segmentation import segment_of_rank, segment_of_rank_by_shares
from sim.scenario.programme_schema import Programme
from sim.scenario.schema import FixedThresholdRule, Scenario, SofRule
from sim.vocabulary import (
    LEAGUE_TABLES,
    PHASES,
    PROGRAMME_SEGMENT_OF_RULE,
    ROUTES,
    ShortfallPolicy,
)


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
    """Per assessment: 0 a ranked split (quartiles, or the SOF shares), 1 fixed thresholds."""
    rule_bounds: np.ndarray
    """Per assessment, (n_trusts, 3) upper bounds for fixed thresholds (unused otherwise)."""
    table_offset: np.ndarray
    """Per trust, 10 x league-table index (see :func:`quartile_segments`)."""
    segment_of_sorted: tuple[np.ndarray, ...]
    """Ranked splits: the segment of each position when trusts are sorted table by table
    (0 past each table's active trusts)."""
    split_of_assessment: np.ndarray
    """Per row (the start, then each assessment), which of :attr:`segment_of_sorted`
    applies."""
    override_of_assessment: np.ndarray
    """Per row, whether the financial override applies."""
    programme_segment: np.ndarray
    """Per row (int8), the segment that is the programme under the rule in force: 5 under
    the NOF rules, 4 under the SOF rule."""
    rule_labels: tuple[str, ...]
    """Per row, the name of the segmentation rule in force."""
    active_counts: np.ndarray
    """(rows, tables) int: trusts per league table from each row (mergers lower them)."""
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
    def has_mergers(self) -> bool:
        """Whether the number of trusts changes during the run."""
        return bool((self.active_counts != self.active_counts[0]).any())

    @property
    def n_assessments(self) -> int:
        return len(self.assessment_weeks)

    @cached_property
    def quarterly(self) -> QuarterlyConstants:
        """What every replication's quarterly step derives from these inputs, derived once
        (per process) rather than once per replication."""
        return QuarterlyConstants.derive(self)


@dataclass(frozen=True)
class QuarterlyConstants:
    """Constants of the population's quarterly step, per trust and per row (the start,
    then each assessment), and per-row settings as plain Python values (cheaper to look
    up than numpy scalars). Derived from :class:`PopulationInputs` by :meth:`derive`."""

    persistence: np.ndarray
    """(2, trusts): per-quarter autocorrelation of the long-run level, then of the
    deviation."""
    noise_scale: np.ndarray
    """(2, trusts): standard deviation of their quarterly innovations (score points)."""
    has_trend: bool
    centre: np.ndarray
    """(rows, trusts): the table mean scores are built on, the trend added quarter by
    quarter."""
    expected_centre: np.ndarray
    """(rows, trusts): ``mean + trend * quarters``, the centre of standardised scores."""
    inverse_sd: np.ndarray
    """1 / the spread of scores around the table mean (per score point)."""
    deficit_slope: np.ndarray
    """Deficit log-odds per score point (``gradient / sd``)."""
    deficit_intercept: np.ndarray
    """(rows, trusts): deficit log-odds at score 0, so that the log-odds are
    ``logit(share) + gradient * z`` with ``z`` the standardised score."""
    has_mergers: bool
    """Whether the number of trusts changes during the run."""
    reassess: tuple[bool, ...]
    """Per assessment: boards are reassessed for capability."""
    rule_kind: tuple[int, ...]
    """Per assessment: 0 a ranked split, 1 fixed thresholds."""
    split: tuple[int, ...]
    override: tuple[bool, ...]
    programme_segment: tuple[int, ...]
    """Per row: :attr:`PopulationInputs.split_of_assessment`,
    :attr:`~PopulationInputs.override_of_assessment` and
    :attr:`~PopulationInputs.programme_segment`."""
    initial_segments: tuple[tuple[int, ...], ...]
    initial_deficits: tuple[tuple[int, ...], ...]
    """Per table: the starting segment and deficit counts, as ints."""

    @classmethod
    def derive(cls, inputs: PopulationInputs) -> QuarterlyConstants:
        rows = inputs.n_assessments + 1
        trend = inputs.score_trend_per_quarter
        has_trend = bool(np.any(trend != 0.0))
        mean = inputs.score_mean
        if has_trend:
            # added one quarter at a time, as the step does (not mean + trend * quarters)
            centre = np.cumsum(
                np.vstack([mean, np.broadcast_to(trend, (rows - 1, len(mean)))]), axis=0
            )
            expected = mean + trend * np.arange(rows)[:, None]
        else:
            centre = expected = np.broadcast_to(mean, (rows, len(mean)))
        inverse_sd = 1.0 / inputs.total_sd
        slope = inputs.deficit_gradient * inverse_sd
        intercept = inputs.deficit_logit - slope * (
            mean + trend * np.arange(rows if has_trend else 1)[:, None]
        )
        return cls(
            persistence=np.stack([inputs.level_persistence, inputs.persistence]),
            noise_scale=np.stack(
                [
                    inputs.between_sd * np.sqrt(1.0 - inputs.level_persistence**2),
                    inputs.within_sd * np.sqrt(1.0 - inputs.persistence**2),
                ]
            ),
            has_trend=has_trend,
            centre=centre,
            expected_centre=expected,
            inverse_sd=inverse_sd,
            deficit_slope=slope,
            deficit_intercept=intercept,
            has_mergers=inputs.has_mergers,
            reassess=tuple(inputs.reassess_capability.tolist()),
            rule_kind=tuple(inputs.rule_kind.tolist()),
            split=tuple(inputs.split_of_assessment.tolist()),
            override=tuple(inputs.override_of_assessment.tolist()),
            programme_segment=tuple(inputs.programme_segment.tolist()),
            initial_segments=tuple(tuple(c.tolist()) for c in inputs.initial_segment_counts),
            initial_deficits=tuple(tuple(c.tolist()) for c in inputs.initial_deficit_counts),
        )


RULE_LABELS = {"quartiles": "NOF 2025/26", "fixed_thresholds": "NOF 2026/27", "sof": "SOF"}
"""Names of the rules in outputs when a scenario gives none."""


def _ranked_split(sizes: tuple[int, ...], active: tuple[int, ...], shares) -> np.ndarray:
    """Segment of each position when trusts are sorted table by table, the active trusts
    of each table first (best to worst) and merged ones after them (segment 0)."""
    parts = []
    for size, count in zip(sizes, active, strict=True):
        ranks = (
            segment_of_rank(count) if shares is None else segment_of_rank_by_shares(count, shares)
        )
        parts += [ranks, np.zeros(size - count, dtype=np.int8)]
    return np.concatenate(parts)


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


@lru_cache(maxsize=256)
def _quarters(
    start: dt.date, end: dt.date, reassessment_quarter: int
) -> tuple[tuple[dt.date, ...], tuple[float, ...], tuple[str, ...], tuple[bool, ...]]:
    """The assessment calendar from ``start`` to ``end``: the quarters' first days, their
    times (weeks since ``start``), the label of the quarter each row opens (the start,
    then each assessment) and whether boards are reassessed at each assessment.

    Remembered (a pure function of its arguments): the draws of a run with parameter
    uncertainty compile the same calendar hundreds of times."""
    dates = tuple(quarter_starts(start, end))
    return (
        dates,
        tuple(weeks_between(start, d) for d in dates),
        tuple(quarter_label(d) for d in [start, *dates]),
        tuple(financial_quarter(d) == reassessment_quarter for d in dates),
    )


def _last_step(dates: list, effective: list) -> list[int]:
    """Per date, the index of the last step (in list order) in force on it (whose
    ``effective`` date is on or before it); -1 if none is."""
    if all(a <= b for a, b in itertools.pairwise(effective)):  # in date order: a search
        return [bisect.bisect_right(effective, date) - 1 for date in dates]
    in_force = [[i for i, e in enumerate(effective) if e <= date] for date in dates]
    return [steps[-1] if steps else -1 for steps in in_force]


def compile_population(
    scenario: Scenario, register: TrustRegister | None = None
) -> PopulationInputs:
    """Build the per-trust arrays and assessment calendar for ``scenario``."""
    register = register or trust_register(scenario.population.counts_at(scenario.start_date))
    n = register.n_trusts
    tables = scenario.population.tables
    sizes = tuple(register.table_size(i) for i in range(len(LEAGUE_TABLES)))

    def per_trust(get) -> np.ndarray:
        values = np.array([get(getattr(tables, name)) for name in LEAGUE_TABLES], dtype=float)
        return values[register.table]

    start, end = scenario.start_date, scenario.end_date
    horizon_weeks = weeks_between(start, end)
    dates, weeks, labels_of_rows, reassess = _quarters(
        start, end, scenario.population.capability_reassessment_quarter
    )

    # Which rule, and how many trusts, at the start and at each assessment (the last step
    # whose date has come): each rule's settings once, then one look-up per row
    segmentation = scenario.segmentation
    rows = [start, *dates]
    rules = segmentation.rules
    rule_of_row = _last_step(rows, [r.effective_from for r in rules])
    steps = scenario.population.trust_counts or []
    count_of_row = _last_step(rows, [s.effective_from for s in steps])
    counts = [(steps[c].counts() if c >= 0 else None) or sizes for c in count_of_row]
    shares = [tuple(r.segment_shares) if isinstance(r, SofRule) else None for r in rules]
    splits: dict[tuple, int] = {}
    keys = [(active, shares[r]) for active, r in zip(counts, rule_of_row, strict=True)]
    split_index = np.array([splits.setdefault(key, len(splits)) for key in keys], dtype=np.int32)
    own = [r.financial_override for r in rules]
    override = np.array([segmentation.financial_override if o is None else o for o in own])
    override = override[rule_of_row]
    segment_of_rule = np.array([PROGRAMME_SEGMENT_OF_RULE[r.rule] for r in rules], dtype=np.int8)
    programme_segment = segment_of_rule[rule_of_row]
    labels = [r.label or RULE_LABELS[r.rule] for r in rules]
    labels = [labels[r] for r in rule_of_row]
    fixed = [isinstance(r, FixedThresholdRule) for r in rules]
    kinds = np.array([fixed[r] for r in rule_of_row[1:]], dtype=np.int8)
    if any(fixed):
        bounds = np.zeros((len(dates), n, 3))
        for row, r in enumerate(rule_of_row[1:]):
            if fixed[r]:
                cuts = np.array([getattr(rules[r].thresholds, name) for name in LEAGUE_TABLES])
                bounds[row] = cuts[register.table]
    else:  # never read: one row of zeros seen through every row
        bounds = np.broadcast_to(np.zeros(3), (len(dates), n, 3))

    between = per_trust(lambda t: t.score.between_trust_sd)
    within = per_trust(lambda t: t.score.within_trust_sd)
    seg_counts, def_counts = [], []
    for index, (_, params) in enumerate(tables.items()):
        size = sizes[index]
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
        assessment_weeks=np.array(weeks, dtype=float),
        assessment_labels=labels_of_rows,
        reassess_capability=np.array(reassess, dtype=bool),
        rule_kind=kinds,
        rule_bounds=bounds,
        table_offset=10.0 * register.table,
        segment_of_sorted=tuple(_ranked_split(sizes, active, shares) for active, shares in splits),
        split_of_assessment=split_index,
        override_of_assessment=override,
        programme_segment=programme_segment,
        rule_labels=tuple(labels),
        active_counts=np.asarray(counts, dtype=np.int32),
        max_segment_in_deficit=segmentation.max_segment_in_deficit,
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
class EraSettings:
    """The programme settings in force from one date (see :class:`ProgrammeEra`)."""

    name: str
    cap: int
    """Most trusts in the programme at once (the number of trusts for no cap)."""
    lowest_segment_share: float
    """Share of eligible trusts (lowest segment, low-capability board) referred per
    assessment (segment referrals)."""
    catastrophic_refers: bool
    leave_list_when_ineligible: bool
    """Segment referrals leave the waiting list when an assessment finds them ineligible."""
    quality: tuple[float, float] | None
    """(rate per trust per year, score gradient) of the quality route, or None: off."""
    finance: tuple[float, float] | None
    """(rate per trust in deficit per year, score gradient) of the finance route."""
    system: tuple[float, int] | None
    """(systems per year, from segment) of whole-system entries."""
    durations: tuple[DurationDistribution, ...]
    """Per phase; for improvement, the work needed at full support (weeks)."""
    phase_hours: tuple[tuple[float, float, float], ...]
    """Per phase, support hours per week per trust by source."""
    improvement_weights: tuple[float, float, float]
    """Shares of the improvement phase's hours by source (weights of the dose)."""
    elasticity: float
    target_weeks: float
    exit_score_gain: float
    relapse_probability: float


@dataclass(frozen=True)
class ProgrammeInputs:
    """The programme and team part of a compiled scenario (plain numbers and arrays)."""

    eras: tuple[EraSettings, ...]
    """Settings from each change date (the first from the start)."""
    era_weeks: np.ndarray
    """Times the settings change (weeks since the start; the first is 0)."""
    priority: tuple[str, ...]
    referral_mode: str
    """'segments', 'poisson' or 'schedule'."""
    poisson_rate_per_week: float
    schedule_weeks: np.ndarray
    schedule_counts: np.ndarray
    initial_in_programme: tuple[tuple[int, int, int, float, float, int], ...]
    """(table, trusts, phase, weeks_in_phase, weeks_in_programme, route index)."""
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
    interim_hours_per_week: float
    """Most hours a week interim appointments can cover (used under ``backfill`` only)."""
    interim_cost_per_hour: float
    policy: int
    trust_share: tuple[float, float, float, float]
    """Share of each provider's cost paid by the trusts, in the order of
    :data:`~sim.vocabulary.PROVIDERS` (national, NHS family, consultancy, interim)."""
    director_wte_per_trust: float
    """Improvement director WTE per trust in the programme (an output only)."""
    price_base_year: int = 0
    """First calendar year of the financial year the unit costs are priced in."""
    inflation_per_year: float = 0.0
    """Rise in unit costs per financial year after it (for costs in cash terms)."""

    @property
    def cap(self) -> int:
        """The largest cap in force at any time (a bound on the caseload)."""
        return max(era.cap for era in self.eras)

    @property
    def durations(self) -> tuple[DurationDistribution, ...]:
        """Phase durations at the start."""
        return self.eras[0].durations

    def uses_route(self, route: str) -> bool:
        """Whether any era refers trusts by ``route`` (quality, finance or system)."""
        return any(getattr(era, route) is not None for era in self.eras)


def _era_settings(settings: Programme, n_trusts: int) -> EraSettings:
    phases = [getattr(settings.phases, name) for name in PHASES]
    referrals = settings.referrals
    segments = referrals.mode == "segments"
    improvement = phases[PHASES.index("improvement")]
    total = improvement.support_hours_per_week
    shares = tuple(improvement.blend.shares())

    def route(name: str, fields: tuple[str, str]):
        value = getattr(referrals, name, None) if segments else None
        if value is None or getattr(value, fields[0]) == 0.0:
            return None  # off: no draws, no referrals
        return tuple(getattr(value, f) for f in fields)

    return EraSettings(
        name=settings.name,
        cap=n_trusts if settings.cap is None else settings.cap,
        lowest_segment_share=referrals.lowest_segment_share if segments else 0.0,
        catastrophic_refers=segments and referrals.catastrophic_failure_refers,
        leave_list_when_ineligible=segments and referrals.no_longer_eligible == "leave_list",
        quality=route("quality", ("rate_per_trust_year", "score_gradient")),
        finance=route("finance", ("rate_per_trust_year", "score_gradient")),
        system=route("system", ("rate_per_year", "from_segment")),
        durations=tuple(
            DurationDistribution.from_schema(ph.duration).scaled(
                settings.improvement_work_scale if name == "improvement" else 1.0
            )
            for name, ph in zip(PHASES, phases, strict=True)
        ),
        phase_hours=tuple(
            tuple(ph.support_hours_per_week * share for share in ph.blend.shares()) for ph in phases
        ),
        improvement_weights=shares if total > 0 else (1 / 3, 1 / 3, 1 / 3),
        elasticity=settings.dose_response.elasticity,
        target_weeks=settings.target_duration_weeks,
        exit_score_gain=settings.exit_score_gain,
        relapse_probability=settings.relapse_probability,
    )


def _steps_from_start(weeks: np.ndarray, values: list) -> tuple[np.ndarray, list]:
    """Steps that took effect before the start collapse onto time 0: keep the latest."""
    weeks = np.maximum(np.asarray(weeks, dtype=float), 0.0)
    keep = np.append(weeks[1:] > weeks[:-1], True)
    return weeks[keep], [v for v, k in zip(values, keep, strict=True) if k]


def compile_programme(scenario: Scenario, register: TrustRegister | None = None) -> ProgrammeInputs:
    """Build the programme and team inputs for ``scenario``."""
    register = register or trust_register(scenario.population.counts_at(scenario.start_date))
    programme, team = scenario.programme, scenario.team
    start = scenario.start_date
    referrals = programme.referrals
    table_index = {name: i for i, name in enumerate(LEAGUE_TABLES)}

    schedule = team.national.wte_schedule
    change_weeks, in_post = _steps_from_start(
        [weeks_between(start, s.effective_from) for s in schedule],
        [s.wte * (1.0 - team.national.vacancy_rate) for s in schedule],
    )
    by_era = programme.settings_by_era()
    era_weeks, eras = _steps_from_start(
        [-1.0] + [weeks_between(start, date) for date, _ in by_era[1:]],
        [_era_settings(settings, register.n_trusts) for _, settings in by_era],
    )

    if referrals.mode == "schedule":
        schedule_weeks = np.array([weeks_between(start, r.date) for r in referrals.referrals])
        schedule_counts = np.array([r.trusts for r in referrals.referrals], dtype=int)
    else:
        schedule_weeks, schedule_counts = np.zeros(0), np.zeros(0, dtype=int)

    return ProgrammeInputs(
        eras=tuple(eras),
        era_weeks=era_weeks,
        priority=tuple(programme.priority),
        referral_mode=referrals.mode,
        poisson_rate_per_week=getattr(referrals, "rate_per_year", 0.0) / WEEKS_PER_YEAR,
        schedule_weeks=schedule_weeks,
        schedule_counts=schedule_counts,
        initial_in_programme=tuple(
            (
                table_index[s.league_table],
                s.trusts,
                PHASES.index(s.phase),
                s.weeks_in_phase,
                s.weeks_in_programme,
                ROUTES.index(s.route),
            )
            for s in programme.initial.in_programme
        ),
        initial_waiting=tuple(
            (table_index[w.league_table], w.trusts, w.weeks_waiting)
            for w in programme.initial.waiting
        ),
        national_change_weeks=change_weeks,
        national_wte=np.asarray(in_post),
        hours_per_wte_week=team.national.productive_hours_per_wte_week,
        cost_per_wte_week=team.national.cost_per_wte_year / WEEKS_PER_YEAR,
        family_hours_per_week=team.nhs_family.hours_per_week,
        family_cost_per_hour=team.nhs_family.cost_per_hour,
        consultancy_hours_per_week=team.consultancy.framework_cap_days_per_week
        * team.consultancy.hours_per_day,
        consultancy_cost_per_hour=team.consultancy.day_rate / team.consultancy.hours_per_day,
        interim_hours_per_week=team.interim.hours_per_week,
        interim_cost_per_hour=team.interim.cost_per_hour,
        policy=int(ShortfallPolicy[team.shortfall_policy.upper()]),
        trust_share=tuple(team.paid_by_trusts.by_provider()),
        director_wte_per_trust=team.national.director_wte_per_trust,
        price_base_year=scenario.price_basis().first_year,
        inflation_per_year=scenario.price_basis().inflation_per_year,
    )
