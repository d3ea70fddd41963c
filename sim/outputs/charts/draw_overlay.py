"""Draw the scenarios on the same axes (:func:`sim.outputs.charts.overlay.overlays`): each
scenario's median over its middle 50%, labelled directly at the line's end where the labels
fit, in a legend below where they do not.

A module of its own so that :mod:`sim.outputs.charts.draw` stays readable; it uses that
module's figure, colours and date axis, and :func:`sim.outputs.charts.draw.draw` hands it the
charts of kind ``overlay``. Computes nothing: the numbers and words come ready-made.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.outputs.charts.data import ChartData
from sim.outputs.charts.draw import (
    BLACK,
    BLUE,
    GREEN,
    ORANGE,
    PURPLE,
    SKY,
    VERMILLION,
    _date_axis,
    _edges,
    _figure,
    _x,
)

SCENARIO_STYLES = (
    (BLUE, "-", "o"), (VERMILLION, "--", "s"), (GREEN, ":", "^"), (ORANGE, "-.", "D"),
    (BLACK, "-", "v"), (PURPLE, "--", "P"), (SKY, ":", "X"),
)  # fmt: skip
"""Colour, line style and marker of each group of scenarios in turn: Okabe-Ito colours that
differ in lightness, backed by line styles and markers so the lines read in greyscale."""
LABEL_POINTS = 8.5
"""Size of the direct labels, points."""
LABEL_CHARACTERS = 30
"""The direct labels' line length: they sit in the margin right of the plot."""
PLOT_RIGHT = 0.73
"""Right edge of the plot, a share of the figure's width, when labels sit beside it."""


def draw_overlay(chart: ChartData) -> Figure:
    """Each group of identical scenarios once: the middle 50% shaded, the median as a line
    (stocks at each period's end, with markers) or steps (flows across their period), in
    the group's colour, line style and marker; each line labelled at its end with its
    scenarios' titles, moved apart so that no two labels overlap, or, when they cannot all
    fit beside the plot, a legend below it."""
    fig, (ax,) = _figure(chart)
    table, meta = chart.table, chart.meta
    ends = {}
    for k, group in enumerate(meta["groups"]):
        colour, style, marker = SCENARIO_STYLES[k % len(SCENARIO_STYLES)]
        rows = table[table["scenario"] == group[0]]
        label = "\n".join(_titles(table, group))
        on_top = 3 + (len(meta["groups"]) - k) / 100  # the baseline's line over the others
        if meta["stock"]:
            x = _x(rows["period_end"])
            ax.fill_between(x, rows["q25"], rows["q75"], color=colour, alpha=0.16, linewidth=0)
            ax.plot(x, rows["median"], color=colour, linestyle=style, linewidth=2.0,
                    marker=marker, markersize=3.5, label=label, zorder=on_top)  # fmt: skip
            ends[label] = (x[-1], float(rows["median"].iloc[-1]), colour)
        else:
            edges = _edges(rows)
            ax.stairs(rows["q75"], edges, baseline=rows["q25"], fill=True, color=colour,
                      alpha=0.16, linewidth=0)  # fmt: skip
            ax.stairs(rows["median"], edges, baseline=None, color=colour, linestyle=style,
                      linewidth=2.0, label=label, zorder=on_top)  # fmt: skip
            ends[label] = (edges[-1], float(rows["median"].iloc[-1]), colour)
    _date_axis(ax, meta["start"], meta["end"])
    ax.set_ylabel(chart.y_label)
    top = float(np.nanmax(table[["q75", "median"]].to_numpy(dtype=float)))
    ax.set_ylim(0, max(top * 1.12, 1e-9))
    if meta["unit"] == "%":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
    elif meta["unit"] == "£m":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:.1f}m"))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not _label_lines(fig, ax, ends):
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False,
                  fontsize=8.5)  # fmt: skip
    return fig


def _titles(table, group: list[str]) -> list[str]:
    titles = table.drop_duplicates("scenario").set_index("scenario")["title"]
    return [titles[name] for name in group]


def _label_lines(fig: Figure, ax, ends: dict) -> bool:
    """Label each line at its end, in the margin right of the plot, spreading the labels
    apart (in inches) so that none overlaps another; a thin line joins a label moved away
    from its line. False (nothing drawn) when the labels are taller than the plot."""
    fig.subplots_adjust(right=PLOT_RIGHT)
    position = ax.get_position()
    height = position.height * fig.get_figheight()
    bottom, top = ax.get_ylim()
    line_inches = LABEL_POINTS * 1.25 / 72
    labels = []
    for label, (x, y, colour) in ends.items():
        text = "\n".join(textwrap.fill(title, LABEL_CHARACTERS) for title in label.split("\n"))
        lines = text.count("\n") + 1
        labels.append([(y - bottom) / (top - bottom) * height, lines * line_inches, text, x, y,
                       colour])  # fmt: skip
    if sum(size for _, size, *_ in labels) + 0.05 * len(labels) > height:
        fig.subplots_adjust(right=0.98)
        return False
    labels.sort(key=lambda item: item[0])
    gap = 0.05
    for k in range(1, len(labels)):  # push up from the lowest
        low = labels[k - 1]
        floor = low[0] + low[1] / 2 + gap + labels[k][1] / 2
        labels[k][0] = max(labels[k][0], floor)
    overshoot = labels[-1][0] + labels[-1][1] / 2 - height
    if overshoot > 0:  # then down from the highest, keeping the order
        labels[-1][0] -= overshoot
        for k in range(len(labels) - 2, -1, -1):
            ceiling = labels[k + 1][0] - labels[k + 1][1] / 2 - gap - labels[k][1] / 2
            labels[k][0] = min(labels[k][0], ceiling)
    right = ax.get_xlim()[1]
    for centre, _, text, x, y, colour in labels:
        at = bottom + centre / height * (top - bottom)
        ax.annotate(text, xy=(x, y), xytext=(right, at), textcoords="data", fontsize=LABEL_POINTS,
                    color=colour, ha="left", va="center", annotation_clip=False,
                    fontweight="bold",
                    arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.8,
                                "shrinkA": 2, "shrinkB": 2})  # fmt: skip
    return True
