"""Charts: what each shows and means, and drawing it.

Chart data and words (no matplotlib): :mod:`~sim.outputs.charts.data` (the shared record and
words), :mod:`~sim.outputs.charts.forecast` (one scenario's charts, with
:mod:`~sim.outputs.charts.regions` for the chart by region),
:mod:`~sim.outputs.charts.comparison` (against a baseline), :mod:`~sim.outputs.charts.analysis`
(sensitivity, planner, validation, back-test), :mod:`~sim.outputs.charts.workforce` (the
workforce question across plausible futures) and :mod:`~sim.outputs.charts.pack` (the chart
pack); :mod:`~sim.outputs.charts.draw` (with :mod:`~sim.outputs.charts.draw_fan`,
:mod:`~sim.outputs.charts.draw_regions` and :mod:`~sim.outputs.charts.draw_workforce`) draws
them as matplotlib Figures. Imported separately from
the model so that running simulations never loads matplotlib."""

from pathlib import Path

from sim.outputs.charts.comparison import comparison
from sim.outputs.charts.data import ChartData
from sim.outputs.charts.draw import draw
from sim.outputs.charts.forecast import (
    caseload_fan,
    cost,
    exceedance,
    segments,
    team_demand,
    waiting_fan,
    waiting_times,
)
from sim.outputs.charts.pack import chart_set
from sim.outputs.charts.regions import regions

PNG_DPI = 150

__all__ = [
    "ChartData",
    "caseload_fan",
    "chart_set",
    "comparison",
    "cost",
    "draw",
    "exceedance",
    "regions",
    "save",
    "segments",
    "team_demand",
    "waiting_fan",
    "waiting_times",
]


def save(chart: ChartData, folder: str | Path) -> None:
    """Draw ``chart`` and write it to ``folder`` as ``<key>.png`` and ``<key>.svg``."""
    figure = draw(chart)
    figure.savefig(Path(folder) / f"{chart.key}.png", dpi=PNG_DPI)
    figure.savefig(Path(folder) / f"{chart.key}.svg")
