"""The workforce question as a probability, with the reason.

Across the plausible futures of a parameter-uncertainty run (each replication draws the
uncertain assumptions, :mod:`sim.experiment.uncertainty`): how often is the national team
short of hours at some time over the forecast, how many hours short on average, and under
which assumptions does it happen (scenario discovery, :mod:`sim.analysis.discovery`)?
Reads a run's per-replication figures (tidy rows, or the values of :data:`WORKFORCE_ROWS`);
runs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.discovery import Discovery, discover
from sim.experiment.uncertainty import ParameterDraws
from sim.scenario import Scenario
from sim.vocabulary import PLAIN_LABELS, plain_label

EVENT = "the national team is short of hours at some time"
EVENT_AGAIN = "the team is short"
SHORT = ("national_demand_exceeded", "all")
"""(metric, group) of the whole-forecast figure above zero where the team was short."""
SHORTFALL = ("shortfall_hours", "national")
"""(metric, group) of the whole-forecast shortfall, hours."""
WORKFORCE_ROWS = (SHORT, SHORTFALL)
"""The whole-forecast figures (frequency ``horizon``) the workforce question reads."""


@dataclass(frozen=True)
class WorkforceAnswer:
    """One scenario's answer: the probability that the national team is short at some
    time over the horizon, the mean shortfall (hours over the horizon, across all
    futures), and the rule that says when it happens."""

    scenario: str
    probability: float
    mean_shortfall_hours: float
    discovery: Discovery

    def sentence(self) -> str:
        return self.discovery.sentence(EVENT, event_again=EVENT_AGAIN)


def _per_replication(tidy: pd.DataFrame, scenario: str, metric: str, group: str) -> pd.Series:
    rows = tidy[
        (tidy["scenario"] == scenario)
        & (tidy["frequency"] == "horizon")
        & (tidy["metric"] == metric)
        & (tidy["group"] == group)
    ]
    return rows.set_index("replication")["value"].sort_index()


def workforce_answer(
    tidy: pd.DataFrame, scenario: Scenario, seed: int, replications: int
) -> WorkforceAnswer:
    """The workforce question for ``scenario`` from a parameter-uncertainty run's tidy
    per-replication table (columns scenario, replication, frequency, period, metric,
    group, value), with the run's ``seed`` and ``replications`` to recover each
    replication's draw."""
    short = _per_replication(tidy, scenario.name, *SHORT)
    hours = _per_replication(tidy, scenario.name, *SHORTFALL)
    return answer_from_values(scenario, seed, replications, short.to_numpy(), hours.to_numpy(),
                              short.index.to_numpy())  # fmt: skip


def answer_from_values(
    scenario: Scenario, seed: int, replications: int, short: np.ndarray, hours: np.ndarray,
    which: np.ndarray | None = None,
) -> WorkforceAnswer:
    """The workforce question for ``scenario`` from its :data:`SHORT` and :data:`SHORTFALL`
    figures (hours) per replication, of replications ``which`` (default: all of the run's
    ``replications``, in order); the run's ``seed`` recovers each replication's draw."""
    draws = ParameterDraws(scenario, seed, replications)
    table = pd.DataFrame(draws.table())
    if which is not None:
        table = table.iloc[which]
    paths = [n.path for n in draws.numbers]
    labels = {p: PLAIN_LABELS[p][0] if p in PLAIN_LABELS else plain_label(p, sentence=True)[0]
              for p in paths}  # fmt: skip
    units = {p: PLAIN_LABELS[p][1] if p in PLAIN_LABELS else scenario.notes[p].unit or ""
             for p in paths}  # fmt: skip
    found = discover(table, short > 0, labels=labels, units=units)
    # the mean of those present, as pandas takes it
    return WorkforceAnswer(scenario.name, float(np.mean(short > 0)), float(np.nanmean(hours)),
                           found)  # fmt: skip


def workforce_answers(
    tidy: pd.DataFrame, scenarios: Sequence[Scenario], seed: int, replications: int
) -> dict[str, WorkforceAnswer]:
    """:func:`workforce_answer` for each scenario of a parameter-uncertainty run that drew
    an assumption (one that declares no range and has no calibration ensemble has nothing
    to explain its shortfall by, and is left out)."""
    return {s.name: workforce_answer(tidy, s, seed, replications)
            for s in scenarios if draws_anything(s, seed, replications)}  # fmt: skip


def draws_anything(scenario: Scenario, seed: int, replications: int) -> bool:
    """Whether the replications of a parameter-uncertainty run of ``scenario`` draw any
    assumption (one declaring no range and with no calibration ensemble draws none, and so
    has nothing to explain a shortfall by)."""
    return bool(ParameterDraws(scenario, seed, replications).numbers
                or scenario.calibration_ensemble)  # fmt: skip
