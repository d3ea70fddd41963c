"""One replication: (compiled scenario, seed, replication number) -> arrays.

This is the whole model as seen from outside. It builds one ``simpy.Environment``, the
population and its processes, runs to the horizon and returns a
:class:`ReplicationResult` of numpy arrays. No files, no printing, no pandas, no global
state: the same inputs always give the same result, in any process.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import simpy

from sim.model.inputs import PopulationInputs, compile_population
from sim.model.population import Population
from sim.scenario.schema import Scenario
from sim.streams import Streams


@dataclass(frozen=True)
class ModelInputs:
    """Everything one replication needs, compiled once per scenario."""

    scenario_name: str
    population: PopulationInputs


def compile_scenario(scenario: Scenario) -> ModelInputs:
    """Compile a validated scenario for :func:`run_replication` (do this once per scenario)."""
    return ModelInputs(scenario_name=scenario.name, population=compile_population(scenario))


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
    """(A, tables, 5) int: trusts per league table and segment 1..5."""
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

    def arrays(self) -> dict[str, np.ndarray]:
        """The array fields by name (for reduction and storage)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }


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
    trusts = rng.choice(len(rates), size=count, p=rates / total) if count else np.zeros(0, int)
    return weeks, trusts.astype(np.int32)


def _assessments(env: simpy.Environment, population: Population, weeks: np.ndarray):
    """Quarterly assessment process: one event per assessment for all trusts."""
    for when in weeks:
        yield env.timeout(when - env.now)
        population.assess()


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
    pop_inputs = inputs.population
    streams = Streams(seed, replication)
    env = simpy.Environment()
    population = Population(pop_inputs, streams)
    catastrophe_weeks, catastrophe_trusts = _draw_catastrophes(pop_inputs, streams)
    env.process(_assessments(env, population, pop_inputs.assessment_weeks))
    env.run(until=pop_inputs.horizon_weeks)

    return ReplicationResult(
        seed=seed,
        replication=replication,
        assessment_weeks=np.concatenate([[0.0], pop_inputs.assessment_weeks]),
        assessment_labels=pop_inputs.assessment_labels,
        segment_counts=population.segment_counts(),
        segment_history=population.segment_history,
        score_history=population.score_history,
        deficit_history=population.deficit_history,
        deficit_counts=population.per_table_counts(population.deficit_history),
        low_capability_counts=population.per_table_counts(population.capability_history),
        churn=population.churn,
        override_churn=population.override_churn,
        catastrophe_weeks=catastrophe_weeks,
        catastrophe_trusts=catastrophe_trusts,
    )
