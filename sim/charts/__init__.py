"""Forecast charts: :mod:`sim.charts.data` decides what to show and what it means;
:mod:`sim.charts.draw` draws it as matplotlib Figures. Imported separately from the model
so that running simulations never loads matplotlib."""

from sim.charts.data import ChartData, chart_set
from sim.charts.draw import draw

__all__ = ["ChartData", "chart_set", "draw"]
