"""Draw the workforce question's chart (:func:`sim.outputs.charts.workforce.futures_chart`):
the sampled futures on the assumptions of the discovered rule, and the rule's box.

A module of its own so that :mod:`sim.outputs.charts.draw` stays readable; it uses that
module's figure and colours, and :func:`sim.outputs.charts.draw.draw` hands it the charts of
kind ``workforce``. Computes nothing: the numbers and words come ready-made.
"""

from __future__ import annotations

from matplotlib import colors
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.outputs.charts.data import ChartData
from sim.outputs.charts.draw import BLACK, BLUE, VERMILLION, YELLOW, _figure
from sim.outputs.charts.draw_fan import CAPTION_INCHES, HEIGHT_INCHES

AXES_BOTTOM_INCHES = 2.35
"""Foot of the plot above the figure's foot: the axis label, one row of legend and the
caption (the fan's height and caption, with a shorter legend)."""
MARGIN = 0.04
"""Room around the points, a share of each axis's span."""


def draw_workforce(chart: ChartData) -> Figure:
    """One point per future: hollow blue circles never short, filled vermilion triangles
    short at some time; the rule's box shaded and outlined, open sides reaching the edge of
    the plot, its thresholds written on its edges."""
    fig, (ax,) = _figure(chart, caption_inches=CAPTION_INCHES, height_inches=HEIGHT_INCHES)
    fig.subplots_adjust(bottom=AXES_BOTTOM_INCHES / HEIGHT_INCHES)  # a five-line caption
    table, meta = chart.table, chart.meta
    x, y = table[meta["x"]].to_numpy(float), table[meta["y"]].to_numpy(float)
    short = table["short"].to_numpy(bool)
    ax.plot(x[~short], y[~short], linestyle="none", marker="o", markersize=5, color=BLUE,
            markerfacecolor="none", markeredgewidth=1.1, alpha=0.8, zorder=3,
            label="Never short of hours")  # fmt: skip
    ax.plot(x[short], y[short], linestyle="none", marker="^", markersize=6, color=VERMILLION,
            alpha=0.85, zorder=3.5, label="Short of hours at some time")  # fmt: skip
    limits = []
    for values in (x, y):
        low, high = float(values.min()), float(values.max())
        span = (high - low) or 1.0
        limits.append((low - MARGIN * span, high + MARGIN * span))
    (left, right), (bottom, top) = limits
    if meta["y"] == "shortfall_hours":
        bottom = min(bottom, 0.0)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    (x_low, x_high), (y_low, y_high) = meta["box"][meta["x"]], meta["box"][meta["y"]]
    x0, x1 = x_low if x_low is not None else left, x_high if x_high is not None else right
    y0, y1 = y_low if y_low is not None else bottom, y_high if y_high is not None else top
    words = "Rule found" if meta["explained"] else "Clearest pattern (does not explain it)"
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=colors.to_rgba(YELLOW, 0.25),
                           edgecolor=BLACK, linestyle="--", linewidth=1.4, zorder=2,
                           label=f"{words}: the box"))  # fmt: skip
    behind = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5}
    for value, where in ((x_low, "left"), (x_high, "right")):
        if value is not None:
            ax.text(value, top, f" {value:g} ", fontsize=8, va="top", zorder=5, bbox=behind,
                    ha="left" if where == "left" else "right")  # fmt: skip
    for value in (y_low, y_high):
        if value is not None:
            ax.text(right, value, f"{value:g} ", fontsize=8, va="bottom", ha="right", zorder=5,
                    bbox=behind)  # fmt: skip
    ax.set_xlabel(meta["x_label"])
    ax.set_ylabel(chart.y_label)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False, fontsize=8.5)
    return fig
