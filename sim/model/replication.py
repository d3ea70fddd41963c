"""Replications: (compiled scenario, seed, replication number) -> arrays.

This is the whole model as seen from outside: :func:`run_replication` runs one,
:func:`run_replications` several at once (their populations stepped together, each result
the same as alone). Each replication has its own event calendar, population and programme,
runs to the horizon and gives a :class:`ReplicationResult` of numpy arrays. No files, no
printing, no pandas, no global state: the same inputs always give the same result, in any
process.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from functools import cached_property

import numpy as np

from sim.calendar import weeks_between
from sim.model.events import EventQueue, pause
from sim.model.inputs import (
    PopulationInputs,
    ProgrammeInputs,
    compile_population,
    compile_programme,
)
from sim.model.population import Population, PopulationArrays, PopulationBatch, batch_key
from sim.model.programme import Programme
from sim.model.timeline import Timeline
from sim.scenario.schema import Scenario
from sim.streams import Streams


@dataclass(frozen=True)
class ModelInputs:
    """Everything one replication needs, compiled once per scenario.

    For a warm start (``Scenario.warm_start``) the run begins ``report_offset_weeks``
    before ``start_date`` and results are cut to the forecast: :attr:`horizon_weeks` and
    :attr:`assessment_labels` describe the reported window, not the whole run."""

    scenario_name: str
    start_date: dt.date
    population: PopulationInputs
    programme: ProgrammeInputs
    report_offset_weeks: float = 0.0
    """Weeks simulated before ``start_date`` (0 unless warm-started)."""
    report_row: int = 0
    """Row of the population's arrays that is the state at ``start_date``."""

    @property
    def horizon_weeks(self) -> float:
        """Length of the reported forecast, weeks."""
        return self.population.horizon_weeks - self.report_offset_weeks

    @property
    def assessment_labels(self) -> tuple[str, ...]:
        """Label of the quarter each reported row opens (row 0 is the start)."""
        return self.population.assessment_labels[self.report_row :]


def compile_scenario(scenario: Scenario) -> ModelInputs:
    """Compile a validated scenario for :func:`run_replication` (do this once per scenario).

    A warm-started scenario is compiled as one run from its history's start (see
    :mod:`sim.scenario.warm_start`), reported from its own start date."""
    if scenario.warm_start is None:
        return ModelInputs(
            scenario_name=scenario.name,
            start_date=scenario.start_date,
            population=compile_population(scenario),
            programme=compile_programme(scenario),
        )
    from sim.scenario.warm_start import combined_scenario

    combined, history_start = combined_scenario(scenario)
    population = compile_population(combined)
    offset = weeks_between(history_start, scenario.start_date)
    # the assessment on the forecast's start date (a quarter's first day) is its start row
    row = 1 + int(np.argmin(np.abs(population.assessment_weeks - offset)))
    return ModelInputs(
        scenario_name=scenario.name,
        start_date=scenario.start_date,
        population=population,
        programme=compile_programme(combined),
        report_offset_weeks=offset,
        report_row=row,
    )


@dataclass(frozen=True)
class ReplicationResult:
    """Outputs of one replication. Times are weeks since the scenario's start date.

    Assessment arrays have one row for the starting state and one per quarterly
    assessment; churn arrays have one row per assessment.
    """

    seed: int
    replication: int
    assessment_weeks: np.ndarray
    """(A,) float: 0 for the start, then each assessment's time."""
    assessment_labels: tuple[str, ...]
    """(A,) '2026/27 Q2' label of the quarter each row opens."""
    segment_counts: np.ndarray
    """(A, tables, 5) int: trusts per league table and segment 1..5 (merged trusts are
    not counted)."""
    programme_segment: np.ndarray
    """(A,) int8: the segment that is the programme under the rule in force (5 under the
    NOF rules, 4 under the SOF rule)."""
    segment_history: np.ndarray
    """(A, trusts) int8: each trust's segment."""
    score_history: np.ndarray
    """(A, trusts) float32: each trust's average metric score."""
    deficit_history: np.ndarray
    """(A, trusts) bool: each trust's deficit status."""
    deficit_counts: np.ndarray
    """(A, tables) int: trusts in deficit."""
    low_capability_counts: np.ndarray
    """(A, tables) int: trusts whose board is rated low capability."""
    churn: np.ndarray
    """(A-1,) int: trusts whose segment (1 to 4) changed at each assessment."""
    override_churn: np.ndarray
    """(A-1,) int: of those, changes caused by the financial override alone."""
    catastrophe_weeks: np.ndarray
    """(F,) float: times of catastrophic failures of governance."""
    catastrophe_trusts: np.ndarray
    """(F,) int: the trust that failed at each of those times."""

    timeline: Timeline
    """The programme and team over time: figures for any periods (exact event dates)."""
    spells: dict[str, np.ndarray]
    """One row per referral: ``trust``, ``referral``, ``admission``, ``target_exit``
    (admission plus the target duration), ``exit`` (formal exit to transitional support),
    ``support_end`` (weeks; NaN if not reached, negative if before the start),
    ``catastrophic`` and ``reentry`` flags, and ``left_list`` (the trust left the waiting
    list unadmitted, at ``support_end``, when no longer eligible), ``route``, ``merged``
    (a merger ended the spell, at ``support_end``) and ``listed`` (began with a referral
    event; False for a trust placed in the programme at the start)."""

    @cached_property
    def weekly(self) -> dict[str, np.ndarray]:
        """Programme and team by week (week w is [w, w + 1) weeks since the start); see
        :meth:`Timeline.over` for the figures and their definitions."""
        return self.timeline.weekly()

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the result by name (weekly and spell arrays prefixed)."""
        out = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        out |= {f"weekly.{k}": v for k, v in self.weekly.items()}
        out["timeline.log"] = self.timeline.log
        out |= {f"spells.{k}": v for k, v in self.spells.items()}
        return out


def _draw_catastrophes(inputs: PopulationInputs, streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """Catastrophic failures as a Poisson process over the horizon, all trusts at once.

    Rates are constant per trust, so the number of failures is Poisson and, given the
    number, times are uniform and the failing trust is drawn in proportion to its rate.
    """
    rng = streams["catastrophes"]
    rates = inputs.catastrophe_rate_per_week
    total = float(rates.sum())
    count = rng.poisson(total * inputs.horizon_weeks) if total > 0 else 0
    weeks = np.sort(rng.random(count) * inputs.horizon_weeks)
    # trust drawn in proportion to its rate (inverse CDF on the cumulative rates)
    trusts = np.searchsorted(np.cumsum(rates), rng.random(count) * total, side="right")
    trusts = np.minimum(trusts, len(rates) - 1)
    return weeks, trusts.astype(np.int32)


def _at(clock: EventQueue, weeks, action, *args_per_event) -> None:
    """Schedule ``action(*args)`` at each time in ``weeks`` (weeks since the start).

    All these times are known at the start, so each is a timed callback rather than a
    process that sleeps between them."""
    for when, *args in zip(weeks, *args_per_event, strict=True):
        clock.schedule(float(when) - clock.now, action, *args)


def _exogenous_arrival_weeks(
    inputs: ProgrammeInputs, horizon: float, streams: Streams
) -> np.ndarray:
    if inputs.referral_mode == "poisson":
        rng = streams["exogenous_arrivals"]
        count = rng.poisson(inputs.poisson_rate_per_week * horizon)
        return np.sort(rng.random(count) * horizon)
    if inputs.referral_mode == "schedule":
        weeks = np.repeat(inputs.schedule_weeks, inputs.schedule_counts)
        return weeks[(weeks >= 0) & (weeks < horizon)]
    return np.zeros(0)


MAX_BATCH = 64
"""Most replications stepped together (:func:`run_replications`): the cost per
replication of the population's step stops falling well before this, while the batch's
arrays (about 0.3 MiB per 10-year replication) keep growing."""


def run_replication(
    inputs: ModelInputs | Scenario, seed: int, replication: int
) -> ReplicationResult:
    """Run one replication of a scenario.

    Parameters
    ----------
    inputs
        A compiled scenario (from :func:`compile_scenario`) or a Scenario (compiled here).
    seed
        Master seed (non-negative integer) shared by every replication of an experiment.
    replication
        Replication number (0, 1, ...); with ``seed`` it selects the random streams.
    """
    if isinstance(inputs, Scenario):
        inputs = compile_scenario(inputs)
    return run_replications([inputs], seed, [replication])[0]


def run_replications(
    inputs: Sequence[ModelInputs], seed: int, replications: Sequence[int]
) -> list[ReplicationResult]:
    """Replication ``replications[j]`` of ``inputs[j]`` for each j, in that order.

    Each result is exactly what :func:`run_replication` gives for it alone. Replications
    whose populations share a calendar and rules (:func:`~sim.model.population.batch_key`:
    every replication of a scenario, drawn assumptions or not) are run together, up to
    :data:`MAX_BATCH` at a time: their populations move on each quarter in one
    :class:`~sim.model.population.PopulationBatch` step, while each keeps its own random
    streams, programme and events. A result's population arrays are views of its batch's
    blocks, so keeping one result keeps its batch's (about 0.3 MiB per 10-year
    replication); a pickled result carries its own rows only."""
    if len(inputs) != len(replications):
        raise ValueError(f"{len(inputs)} inputs for {len(replications)} replications")
    groups: dict[tuple, list[int]] = {}
    keys: dict[int, tuple] = {}  # by the inputs' identity: pairs of replications share them
    for j, model_inputs in enumerate(inputs):
        population = model_inputs.population
        key = keys.get(id(population))
        if key is None:
            key = keys[id(population)] = batch_key(population)
        groups.setdefault(key, []).append(j)
    results: list[ReplicationResult | None] = [None] * len(inputs)
    with _no_collection():
        for members in groups.values():
            for start in range(0, len(members), MAX_BATCH):
                part = members[start : start + MAX_BATCH]
                batch = _run_batch([inputs[j] for j in part], seed,
                                   [replications[j] for j in part])  # fmt: skip
                for j, result in zip(part, batch, strict=True):
                    results[j] = result
    return results  # type: ignore[return-value]


@contextmanager
def _no_collection() -> Iterator[None]:
    """The garbage collector paused: a replication makes no reference cycles (its
    calendar is closed at the end; a test checks nothing is left for the collector), so
    collecting while a batch runs would only scan its thousands of live objects again and
    again (about 5% of the model's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class _Run:
    """One replication's parts while a batch runs."""

    inputs: ModelInputs
    replication: int
    clock: EventQueue
    population: Population
    programme: Programme
    catastrophes: tuple[np.ndarray, np.ndarray]


def _run_batch(
    inputs: Sequence[ModelInputs], seed: int, replications: Sequence[int]
) -> list[ReplicationResult]:
    """Replications sharing a :func:`batch_key`, their populations stepped together.

    Each replication's calendar runs its own events up to the next assessment, which is a
    :func:`~sim.model.events.pause` in its place in the calendar's order; when every
    calendar has paused, the batch re-segments all populations and each programme then
    acts on its own (:meth:`Programme.on_assessment`), as one replication's assessment
    event would have done."""
    first = inputs[0].population
    arrays = PopulationArrays(first, len(inputs))
    runs = []
    for member, (model_inputs, replication) in enumerate(zip(inputs, replications, strict=True)):
        streams = Streams(seed, replication)
        population = Population(model_inputs.population, streams, arrays, member)
        clock = EventQueue()
        programme = Programme(clock, model_inputs.programme, population, streams)
        catastrophes = schedule_replication(model_inputs, streams, clock, population,
                                            programme, assess=pause)  # fmt: skip
        runs.append(_Run(model_inputs, replication, clock, population, programme, catastrophes))
    batch = PopulationBatch([run.population for run in runs], arrays)
    horizon = first.horizon_weeks
    for _ in range(int(np.count_nonzero(first.assessment_weeks < horizon))):
        for run in runs:
            if not run.clock.run_to_pause(horizon):  # every calendar holds every assessment
                raise AssertionError("a replication's calendar lost an assessment")
        batch.assess()
        for run in runs:
            run.programme.on_assessment()
    for run in runs:
        run.clock.run(until=horizon)
        run.clock.close()
    return [
        collect_result(run.inputs, seed, run.replication, run.population, run.programme,
                       run.catastrophes)  # fmt: skip
        for run in runs
    ]


def schedule_replication(
    inputs: ModelInputs,
    streams: Streams,
    clock,
    population: Population,
    programme: Programme,
    assess: Callable[[], None],
) -> tuple[np.ndarray, np.ndarray]:
    """Place the starting state and schedule every event known at the start on ``clock``:
    the assessments (``assess`` at each), catastrophic failures, exogenous arrivals, eras
    and changes of the national team. Returns the catastrophes' (weeks, trusts)."""
    pop_inputs, prog_inputs = inputs.population, inputs.programme
    programme.place_initial_state()
    population.record_start()

    catastrophe_weeks, catastrophe_trusts = _draw_catastrophes(pop_inputs, streams)
    _at(clock, pop_inputs.assessment_weeks, assess)
    if prog_inputs.referral_mode == "segments" and any(
        era.catastrophic_refers for era in prog_inputs.eras
    ):
        _at(
            clock, catastrophe_weeks, programme.on_catastrophic_failure, catastrophe_trusts.tolist()
        )
    arrivals = _exogenous_arrival_weeks(prog_inputs, pop_inputs.horizon_weeks, streams)
    if len(arrivals):
        choices = streams["exogenous_choice"].random(len(arrivals))
        _at(clock, arrivals, programme.on_arrival, choices.tolist())
    eras = np.arange(len(prog_inputs.eras))
    _at(clock, prog_inputs.era_weeks[1:], programme.on_era_change, eras[1:].tolist())
    later = prog_inputs.national_change_weeks > 0
    _at(
        clock,
        prog_inputs.national_change_weeks[later],
        programme.on_wte_change,
        prog_inputs.national_wte[later].tolist(),
    )
    return catastrophe_weeks, catastrophe_trusts


def collect_result(
    inputs: ModelInputs,
    seed: int,
    replication: int,
    population: Population,
    programme: Programme,
    catastrophes: tuple[np.ndarray, np.ndarray],
) -> ReplicationResult:
    """The result of a replication run to its horizon (cut to the forecast's window
    when warm-started)."""
    pop_inputs = inputs.population
    churn, override_churn = population.churn()
    catastrophe_weeks, catastrophe_trusts = catastrophes
    result = ReplicationResult(
        seed=seed,
        replication=replication,
        assessment_weeks=np.concatenate([[0.0], pop_inputs.assessment_weeks]),
        assessment_labels=pop_inputs.assessment_labels,
        segment_counts=population.segment_counts(),
        programme_segment=pop_inputs.programme_segment,
        segment_history=population.segment_history,
        score_history=population.score_history,
        deficit_history=population.deficit_history,
        deficit_counts=population.per_table_counts(population.deficit_history),
        low_capability_counts=population.per_table_counts(population.capability_history),
        churn=churn,
        override_churn=override_churn,
        catastrophe_weeks=catastrophe_weeks,
        catastrophe_trusts=catastrophe_trusts,
        timeline=programme.timeline(pop_inputs.horizon_weeks),
        spells=programme.spells(),
    )
    if inputs.report_offset_weeks:
        return _reported_window(result, inputs.report_row, inputs.report_offset_weeks)
    return result


def _reported_window(result: ReplicationResult, row: int, offset: float) -> ReplicationResult:
    """A warm-started run cut to the forecast: rows from the start date's assessment, times
    shifted so 0 is the start date, spells that ended before it dropped."""
    spells = result.spells
    keep = ~(spells["support_end"] < offset)
    shifted = {
        name: (values[keep] - offset if values.dtype.kind == "f" else values[keep])
        for name, values in spells.items()
    }
    later = result.catastrophe_weeks >= offset
    by_row = ("segment_counts", "programme_segment", "segment_history", "score_history",
              "deficit_history", "deficit_counts", "low_capability_counts")  # fmt: skip
    return replace(
        result,
        assessment_weeks=result.assessment_weeks[row:] - offset,
        assessment_labels=result.assessment_labels[row:],
        **{name: getattr(result, name)[row:] for name in by_row},
        churn=result.churn[row:],
        override_churn=result.override_churn[row:],
        catastrophe_weeks=result.catastrophe_weeks[later] - offset,
        catastrophe_trusts=result.catastrophe_trusts[later],
        timeline=result.timeline.since(offset),
        spells=shifted,
    )
