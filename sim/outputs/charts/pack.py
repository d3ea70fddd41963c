"""Which charts make a chart pack: each scenario's forecast charts and the comparison.

Chooses charts only; their contents are built by :mod:`sim.outputs.charts.forecast` and
:mod:`sim.outputs.charts.comparison`, and :mod:`sim.outputs.report` writes them.
"""

from __future__ import annotations

from sim.outputs.charts.comparison import comparison
from sim.outputs.charts.data import ChartData
from sim.outputs.charts.forecast import SCENARIO_CHARTS
from sim.results.tables import Results

MAX_SCENARIO_CHARTS = 8
"""Scenarios given their own charts in a pack (a sweep may have hundreds)."""
MAX_COMPARED = 12
"""Scenarios drawn in the comparison chart."""


def shown_scenarios(results: Results, baseline: str | None = None) -> list[str]:
    """The scenarios given their own charts: the baseline (default: the first), then the
    others in order, :data:`MAX_SCENARIO_CHARTS` in all."""
    names = list(results.scenarios)
    baseline = baseline or names[0]
    return [baseline] + [n for n in names if n != baseline][: MAX_SCENARIO_CHARTS - 1]


def chart_set(results: Results, baseline: str | None = None) -> list[ChartData]:
    """Every chart of a chart pack: per scenario (the first :data:`MAX_SCENARIO_CHARTS`),
    then the comparison of up to :data:`MAX_COMPARED` scenarios with the baseline."""
    names = list(results.scenarios)
    baseline = baseline or names[0]
    shown = shown_scenarios(results, baseline)
    if len(names) > 1:
        compared = [baseline] + [n for n in names if n != baseline][:MAX_COMPARED]
        results = results.only(*[n for n in names if n in shown or n in compared])
    summary = results.summary()
    charts = []
    for scenario in shown:
        for build in SCENARIO_CHARTS:
            chart = build(results, summary, scenario)
            if chart is not None:  # None: the results do not hold what it draws
                charts.append(chart)
    if len(names) > 1:
        charts.append(comparison(results.only(*compared), baseline))
    return charts
