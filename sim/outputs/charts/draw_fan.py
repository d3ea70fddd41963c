"""Draw the graded fan charts (:func:`sim.outputs.charts.forecast.caseload_fan` and
:func:`~sim.outputs.charts.forecast.waiting_fan`), with the published history before the
forecast starts.

A module of its own so that :mod:`sim.outputs.charts.draw` stays readable; it uses that
module's figure, colours and date axis, and :func:`sim.outputs.charts.draw.draw` hands it the
charts of kind ``fan``. Computes nothing: the numbers and words come ready-made.
"""

from __future__ import annotations

import datetime as dt

from matplotlib import colors, transforms
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.outputs.charts.data import FAN_BANDS, ChartData
from sim.outputs.charts.draw import BLACK, BLUE, _date_axis, _figure, _x

BAND_STRENGTHS = (0.22, 0.42, 0.62, 0.84)
"""How much of the Okabe-Ito blue each band of :data:`FAN_BANDS` holds (the rest white),
widest first: opaque tints, each darker than the one around it, so the grading reads in
greyscale and no band shows through another."""
REGIME_MARKERS = {"special_measures": "^", "rsp": "s", "pip": "D"}
"""Marker of a published count, by the regime it counts (``held_out_history.csv``)."""
HEIGHT_INCHES = 6.9
"""A fan chart's height: a little taller than the others, for its legend and caption."""
AXES_BOTTOM_INCHES = 2.75
"""Foot of the plot above the figure's foot: the date axis, the legend and the caption."""
CAPTION_INCHES = 1.3
"""Top of the caption above the figure's foot: a fan's caption runs to five lines."""
FORECAST_STARTS = "forecast starts"
"""The words by the line at the forecast's first day, drawn when history is drawn before it."""


def band_colour(strength: float) -> tuple[float, float, float]:
    """Okabe-Ito blue mixed with white: ``strength`` 0 is white, 1 the blue itself."""
    blue = colors.to_rgb(BLUE)
    return tuple(1 - strength * (1 - c) for c in blue)


def band_label(low: int, high: int) -> str:
    return f"Middle {high - low}% ({low}th to {high}th percentile)"


def draw_fan(chart: ChartData) -> Figure:
    """The median at each period's end date, over bands from the 10th to the 90th percentile
    graded darker towards it (:data:`FAN_BANDS`, widest first, each drawn over the last);
    an optional cap line; and the published counts before the forecast starts, with a
    dotted line and the words "forecast starts" on its first day. The cap is drawn thin
    and beneath the median so a median at the cap stays visible."""
    fig, (ax,) = _figure(chart, caption_inches=CAPTION_INCHES, height_inches=HEIGHT_INCHES)
    # room below the date axis for three rows of legend above a five-line caption
    fig.subplots_adjust(bottom=AXES_BOTTOM_INCHES / HEIGHT_INCHES)
    table = chart.table
    x = _x(table["period_end"])
    for k, ((low, high), strength) in enumerate(zip(FAN_BANDS, BAND_STRENGTHS, strict=True)):
        ax.fill_between(x, table[f"q{low:02d}"], table[f"q{high:02d}"], color=band_colour(strength),
                        linewidth=0, label=band_label(low, high), zorder=1 + k / 10)  # fmt: skip
    cap = chart.meta.get("cap")
    if cap is not None:  # the scenario's cap, over the forecast only (not the history)
        ax.plot(_x([chart.meta["start"], chart.meta["end"]]), [cap, cap], color=BLACK, zorder=1.8,
                linestyle=(0, (4, 3)), linewidth=1.0, label=f"Cap ({cap} trusts)")  # fmt: skip
    ax.plot(x, table["median"], color=BLACK, linewidth=2.2, marker="o", markersize=3.5, zorder=3,
            label="Median (end of quarter)")  # fmt: skip
    observed = chart.meta.get("observed")
    start = first = chart.meta["start"]
    top = float(table[f"q{FAN_BANDS[0][1]:02d}"].max())
    if cap is not None:
        top = max(top, cap)
    if observed is not None and len(observed):
        for regime, rows in observed.groupby("regime", sort=False):
            ax.plot(_x(rows["date"]), rows["value"], linestyle="none", zorder=4, color=BLACK,
                    marker=REGIME_MARKERS.get(regime, "o"), markersize=7,
                    label=rows["legend"].iloc[0])  # fmt: skip
        first = min(first, min(observed["date"]) - dt.timedelta(days=45))
        top = max(top, float(observed["value"].max()))
        (at,) = _x([start])
        ax.axvline(at, color="#444444", linestyle=":", linewidth=1.4, zorder=2, gid="forecast-start")
        ax.text(at, 0.98, f" {FORECAST_STARTS}", fontsize=8.5, color="#333333", va="top",
                ha="left", transform=transforms.blended_transform_factory(ax.transData, ax.transAxes))  # fmt: skip
    _date_axis(ax, first, chart.meta["end"])
    ax.set_ylabel(chart.y_label)
    ax.set_ylim(0, top * 1.15 + 0.5)  # headroom: nothing drawn touches the top of the axes
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of trusts: whole ticks
    # in columns: the bands, darkest last, then the lines and the published points
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, frameon=False, fontsize=8)
    return fig
