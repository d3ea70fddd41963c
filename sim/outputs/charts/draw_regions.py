"""Draw the chart by NHS England region (:func:`sim.outputs.charts.regions.regions`).

A module of its own so that :mod:`sim.outputs.charts.draw` stays readable; it uses that
module's figure, colours and frame, and :func:`sim.outputs.charts.draw.draw` hands it the
charts of kind ``regions``. Computes nothing: the numbers and words come ready-made.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.outputs.charts.data import ChartData
from sim.outputs.charts.draw import BLACK, BLUE, SKY, VERMILLION, _figure

PANEL_COLOURS = {"in_programme": BLUE, "waiting": VERMILLION}
TITLE_CHARACTERS = 86
"""The title's line length: this title is all digits and wide words, so it is wrapped
shorter than the others' (95) to stay inside the figure."""


def draw_regions(chart: ChartData) -> Figure:
    """Dot-and-range panels side by side, one per measure, one row per region (the most
    trusts in the programme at the top): the median as a dot, the middle 50% of
    replications as a thick line and 90% as a thin one; the subtitle under the title."""
    fig, axes = _figure(chart, ncols=len(chart.meta["panels"]), sharey=True,
                        title_characters=TITLE_CHARACTERS)  # a title of wide words
    fig.subplots_adjust(left=0.25, top=0.76, bottom=0.3, wspace=0.12)
    table = chart.table
    first = table[table["measure"] == next(iter(chart.meta["panels"]))]
    order = first.sort_values(["median", "mean"], ascending=False, kind="stable")["region"].tolist()
    y = np.arange(len(order))[::-1]
    top = float(np.nanmax(table["q95"].to_numpy(dtype=float)))
    for ax, (measure, words) in zip(axes, chart.meta["panels"].items(), strict=True):
        rows = table[table["measure"] == measure].set_index("region").loc[order]
        colour = PANEL_COLOURS.get(measure, BLUE)
        ax.hlines(y, rows["q05"], rows["q95"], color=SKY if measure == "in_programme" else colour,
                  alpha=0.7 if measure == "in_programme" else 0.35, linewidth=2)  # fmt: skip
        ax.hlines(y, rows["q25"], rows["q75"], color=colour, linewidth=6, alpha=0.75)
        ax.plot(rows["median"], y, linestyle="none", marker="o", markersize=7, color=BLACK,
                markerfacecolor="white", markeredgewidth=1.6)  # fmt: skip
        ax.set_title(f"Trusts {words}", fontsize=10)
        ax.set_xlim(0, top * 1.08 + 0.5)
        ax.set_xlabel("Trusts (average over the forecast)")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.grid(axis="y", visible=False)
    trusts = table.drop_duplicates("region").set_index("region")["trusts"]
    axes[0].set_yticks(y, [f"{r} ({trusts[r]} trusts)" for r in order], fontsize=9)
    legend = [
        Line2D([], [], linestyle="none", marker="o", markersize=7, color=BLACK,
               markerfacecolor="white", label="Median across replications"),
        Line2D([], [], color=BLACK, linewidth=6, alpha=0.5, label="Middle 50% of replications"),
        Line2D([], [], color=BLACK, linewidth=2, alpha=0.35, label="90% of replications"),
    ]  # fmt: skip
    fig.legend(handles=legend, loc="lower center", bbox_to_anchor=(0.55, 0.175), ncol=3,
               frameon=False, fontsize=8.5)  # fmt: skip
    return fig
