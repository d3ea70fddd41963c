"""Forecast charts: :mod:`sim.outputs.charts.data` decides what to show and what it means;
:mod:`sim.outputs.charts.draw` draws it as matplotlib Figures. Imported separately from the model
so that running simulations never loads matplotlib."""

from pathlib import Path

from sim.outputs.charts.data import ChartData, chart_set
from sim.outputs.charts.draw import draw

PNG_DPI = 150

__all__ = ["ChartData", "chart_set", "draw", "save"]


def save(chart: ChartData, folder: str | Path) -> None:
    """Draw ``chart`` and write it to ``folder`` as ``<key>.png`` and ``<key>.svg``."""
    figure = draw(chart)
    figure.savefig(Path(folder) / f"{chart.key}.png", dpi=PNG_DPI)
    figure.savefig(Path(folder) / f"{chart.key}.svg")
