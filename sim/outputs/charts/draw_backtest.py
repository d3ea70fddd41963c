"""Draw the back-test chart (:func:`sim.outputs.charts.analysis.backtest_chart`).

Kept beside :mod:`sim.outputs.charts.draw` in the same style (its figure frame, date axis
and Okabe-Ito colours) until it joins that module's ``DRAWERS`` as kind ``backtest``.
Computes nothing: bands, points, regimes and words come ready-made in the ChartData.
"""

from __future__ import annotations

import datetime as dt
import textwrap

from matplotlib import transforms
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from sim.outputs.charts.data import ChartData
from sim.outputs.charts.draw import BLACK, BLUE, SKY, VERMILLION, _date_axis, _figure, _x

POINT_STYLES = {
    False: ("D", VERMILLION, "held out of the fit"),
    True: ("o", BLACK, "used in the fit"),
}
"""Marker, colour and words for published counts, by ``used_in_fit``."""
ERA_SHADES = ("#f2f2f2", "#ffffff")
LONG_AXIS_YEARS = 8
"""Beyond this many years, dates on the axis go on two lines so that they do not overlap."""
LABEL_POINTS = 7.5
"""Font size of the regimes' labels, points."""


def draw_backtest(chart: ChartData) -> Figure:
    """Median line and 50%/90% bands by month, regimes as shaded spans, published counts as
    points (filled inside the model's 90% range, hollow outside)."""
    fig, (ax,) = _figure(chart)
    fig.subplots_adjust(top=0.78)
    lines = len(textwrap.wrap(chart.title, 95))
    fig.text(0.01, 0.975 - 0.042 * lines, textwrap.fill(chart.meta["subtitle"], 130),
             fontsize=9, color="#333333", va="top", ha="left")  # fmt: skip
    stock, points = chart.table, chart.meta["points"]
    x = _x(stock["month"])
    ax.fill_between(x, stock["q05"], stock["q95"], color=SKY, alpha=0.35, linewidth=0,
                    label="Model: 90% of replications", zorder=1)  # fmt: skip
    ax.fill_between(x, stock["q25"], stock["q75"], color=BLUE, alpha=0.45, linewidth=0,
                    label="Model: 50% of replications", zorder=1.5)  # fmt: skip
    ax.plot(x, stock["median"], color=BLUE, linewidth=2.0, zorder=3, label="Model: median")
    for used, (marker, colour, words) in POINT_STYLES.items():
        for inside in (True, False):
            part = points[(points["used_in_fit"] == used) & (points["inside"] == inside)]
            if len(part):
                ax.plot(_x(part["date"]), part["published"], linestyle="none", marker=marker,
                        markersize=7, markeredgewidth=1.6, color=colour,
                        markerfacecolor=colour if inside else "white", zorder=4,
                        label=f"Published, {words}: {'inside' if inside else 'outside'} the "
                              "model's 90% range")  # fmt: skip
    top = max(float(stock["q95"].max()), float(points["published"].max()) if len(points) else 0)
    ax.set_ylim(0, top * 1.25 + 1)  # headroom for the regimes' labels
    first, last = chart.meta["start"], chart.meta["end"] - dt.timedelta(days=1)
    # a dozen years: "1 Apr" over the year, and no axis label (room for the legend)
    _date_axis(ax, first, last, short=(last - first).days > LONG_AXIS_YEARS * 365)
    _regimes(ax, fig, chart.meta["eras"], chart.meta["frameworks"])  # after the axis: label
    # widths need its limits
    ax.set_ylabel(chart.y_label)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of trusts: whole ticks
    handles, labels = ax.get_legend_handles_labels()
    if not len(points):
        handles.append(Line2D([], [], linestyle="none"))
        labels.append("No published count to compare")
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2,
              frameon=False, fontsize=8)  # fmt: skip
    return fig


def _regimes(ax, fig: Figure, eras: list, frameworks: list) -> None:
    """Alternate shading per programme with its name at the top (initials where the span is
    too narrow for the name), and a dashed line for each change of framework, labelled
    beneath the programmes' names."""
    at_top = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    left, right = ax.get_xlim()
    inches_per_unit = ax.get_position().width * fig.get_figwidth() / (right - left)
    for k, (label, start, end) in enumerate(eras):
        x0, x1 = _x([start, end])
        ax.axvspan(x0, x1, color=ERA_SHADES[k % 2], zorder=0, linewidth=0)
        if k:
            ax.axvline(x0, color="#777777", linewidth=0.9, zorder=0.5)
        if len(label) * LABEL_POINTS * 0.55 / 72 > (x1 - x0) * inches_per_unit * 0.95:
            label = "".join(word[0].upper() for word in label.split() if word[0].isalpha())
        ax.text(x0, 0.985, " " + label, transform=at_top, fontsize=LABEL_POINTS, va="top",
                ha="left", color="#333333", zorder=5)  # fmt: skip
    for label, date in frameworks:
        (x,) = _x([date])
        ax.axvline(x, color="#777777", linestyle=(0, (3, 3)), linewidth=0.9, zorder=0.5)
        ax.text(x, 0.93, " " + label, transform=at_top, fontsize=LABEL_POINTS, va="top",
                ha="left", color="#555555", style="italic", zorder=5)  # fmt: skip
