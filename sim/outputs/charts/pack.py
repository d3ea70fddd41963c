"""Which charts make a chart pack: each scenario's forecast charts, the scenarios on the
same axes, and their paired comparison.

Chooses charts only; their contents are built by :mod:`sim.outputs.charts.forecast`,
:mod:`sim.outputs.charts.overlay` and :mod:`sim.outputs.charts.comparison`, and
:mod:`sim.outputs.report` writes them.
"""

from __future__ import annotations

from sim.outputs.charts.comparison import comparison
from sim.outputs.charts.data import ChartData
from sim.outputs.charts.forecast import SCENARIO_CHARTS
from sim.outputs.charts.overlay import overlays
from sim.results.tables import Results

MAX_SCENARIO_CHARTS = 8
"""Scenarios given their own charts in a pack (a sweep may have hundreds)."""
MAX_COMPARED = 12
"""Scenarios drawn in the comparison chart, after the baseline."""
MAX_OVERLAID = 7
"""Scenarios drawn on the same axes, the baseline first: beyond this, lines are too many
to tell apart (the paired comparison still has them all)."""


def shown_scenarios(results: Results, baseline: str | None = None) -> list[str]:
    """The scenarios given their own charts: the baseline (default: the first), then the
    others in order, :data:`MAX_SCENARIO_CHARTS` in all."""
    names = list(results.scenarios)
    baseline = baseline or names[0]
    return [baseline] + [n for n in names if n != baseline][: MAX_SCENARIO_CHARTS - 1]


def chart_set(results: Results, baseline: str | None = None) -> list[ChartData]:
    """Every chart of a chart pack: per scenario (the first :data:`MAX_SCENARIO_CHARTS`),
    then, for several scenarios, the headline figures of up to :data:`MAX_OVERLAID` on the
    same axes (:func:`~sim.outputs.charts.overlay.overlays`) and the paired comparison of up
    to :data:`MAX_COMPARED` with the baseline."""
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
        charts += overlays(results, compared[:MAX_OVERLAID], summary)
        charts.append(comparison(results.only(*compared), baseline))
    return charts
