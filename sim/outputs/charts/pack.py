"""Which charts make a chart pack: each scenario's forecast charts and the comparison.

Chooses charts only; their contents are built by :mod:`sim.outputs.charts.forecast` and
:mod:`sim.outputs.charts.comparison`, and :mod:`sim.outputs.report` writes them.
"""

from __future__ import annotations

from sim.outputs.charts.comparison import comparison
from sim.outputs.charts.data import ChartData
from sim.outputs.charts.forecast import (
    caseload_fan,
    cost,
    exceedance,
    segments,
    team_demand,
    waiting_fan,
    waiting_times,
)
from sim.results.tables import Results

MAX_SCENARIO_CHARTS = 8
"""Scenarios given their own charts in a pack (a sweep may have hundreds)."""
MAX_COMPARED = 12
"""Scenarios drawn in the comparison chart."""


def chart_set(results: Results, baseline: str | None = None) -> list[ChartData]:
    """Every chart of a chart pack: per scenario (the first :data:`MAX_SCENARIO_CHARTS`),
    then the comparison of up to :data:`MAX_COMPARED` scenarios with the baseline."""
    names = list(results.scenarios)
    baseline = baseline or names[0]
    shown = [baseline] + [n for n in names if n != baseline][: MAX_SCENARIO_CHARTS - 1]
    if len(names) > 1:
        compared = [baseline] + [n for n in names if n != baseline][:MAX_COMPARED]
        results = Results(
            {n: results.scenarios[n] for n in names if n in shown or n in compared},
            {n: results.keys[n] for n in names if n in shown or n in compared},
            {n: results.values[n] for n in names if n in shown or n in compared},
            results.manifest,
        )
    summary = results.summary()
    charts = []
    for scenario in shown:
        for build in (
            caseload_fan,
            waiting_fan,
            waiting_times,
            segments,
            team_demand,
            cost,
            exceedance,
        ):
            charts.append(build(results, summary, scenario))
    if len(names) > 1:
        only_compared = Results(
            {n: results.scenarios[n] for n in compared},
            {n: results.keys[n] for n in compared},
            {n: results.values[n] for n in compared},
            results.manifest,
        )
        charts.append(comparison(only_compared, baseline))
    return charts
