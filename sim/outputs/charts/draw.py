"""Draw charts from :class:`~sim.outputs.charts.data.ChartData`. Each function returns a Figure.

Nothing here computes a statistic: the numbers and the words come ready-made. The style is
for publication: Okabe-Ito colours (safe for colour-blind readers) chosen to differ in
lightness too, with hatching and line styles so each chart still reads in greyscale;
calendar dates on the time axis (stocks at their period's last day, per-period figures as
steps across the period, a labelled tick on each 1 April); the finding as the title; the caption and a
footnote (scenario, replications, seed, sources) under the plot. Figures are made with
``matplotlib.figure.Figure`` directly, not pyplot: no backend is chosen or changed and no
global figure state is kept, so notebooks display them and scripts save them as they are.
"""

from __future__ import annotations

import datetime as dt
import importlib
import textwrap

import numpy as np
from matplotlib import dates as mdates
from matplotlib import transforms
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from sim.outputs.charts.data import SOURCE_LABELS, TABLE_LABELS, ChartData
from sim.vocabulary import LEAGUE_TABLES, PAYERS, PROVIDERS, SOURCES

# Okabe-Ito, ordered dark to light so neighbouring series differ in greyscale too
BLUE, VERMILLION, GREEN, ORANGE, SKY, YELLOW, PURPLE, BLACK = (
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#F0E442", "#CC79A7", "#000000",
)  # fmt: skip
SEGMENT_COLOURS = (SKY, GREEN, YELLOW, VERMILLION, BLUE)
SEGMENT_HATCHES = ("", "//", "", "\\\\", "xx")
SOURCE_COLOURS = {"national": BLUE, "nhs_family": ORANGE, "consultancy": VERMILLION, "interim": SKY}
SOURCE_HATCHES = {"national": "", "nhs_family": "//", "consultancy": "..", "interim": "xx"}
PAYER_COLOURS = {"trusts": VERMILLION, "nhs_england": BLUE}
PAYER_LABELS = {"trusts": "Trusts supported", "nhs_england": "NHS England"}
WIDTH_INCHES, HEIGHT_INCHES = 10.0, 6.2
POINT_STYLES = {
    False: ("D", VERMILLION, "held out of the fit"),
    True: ("o", BLACK, "used in the fit"),
}
"""Marker, colour and words for the back-test's published counts, by ``used_in_fit``."""
ERA_SHADES = ("#f2f2f2", "#ffffff")
LONG_AXIS_YEARS = 8
"""Beyond this many years, dates on the axis go on two lines so that they do not overlap."""
REGIME_LABEL_POINTS = 7.5
"""Font size of the regimes' labels, points."""
PANEL_INCHES = 2.4
"""Height added to a stacked chart for each panel after the first, inches."""


def _figure(chart: ChartData, ncols: int = 1, sharey: bool = False, caption_inches=None,
            height_inches: float = HEIGHT_INCHES, title_characters: int = 95):  # fmt: skip
    fig = Figure(figsize=(WIDTH_INCHES, height_inches))
    axes = fig.subplots(1, ncols, sharey=sharey, squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.84, bottom=0.32, wspace=0.25)
    _frame_text(fig, chart, caption_inches or CAPTION_INCHES, title_characters)
    for ax in axes.ravel():
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, axes.ravel()


TITLE_TOP = 0.975
"""Top of the title, a fraction of the figure's height."""
CAPTION_INCHES = 0.145 * HEIGHT_INCHES
"""Top of the caption above the figure's foot, inches (the footnote's is 0.45 of it)."""
TITLE_LINE_INCHES = 0.22
"""Height of a line of the title, inches."""
WORDS = ("chart-title", "chart-subtitle", "chart-caption", "chart-footnote")
"""The ``gid`` of each piece of text around the plot: :func:`without_words` removes them."""


def _frame_text(fig: Figure, chart: ChartData, caption_inches: float = CAPTION_INCHES,
                title_characters: int = 95) -> None:  # fmt: skip
    """Title (the finding) at the top, the statistical subtitle under it; caption and
    footnote at the bottom, at the same distances from the foot whatever the figure's
    height (``caption_inches``: a longer caption's top). ``title_characters``: the title's
    line length (shorter for a title of wide words)."""
    height = fig.get_figheight()
    title = textwrap.fill(chart.title, title_characters)
    fig.text(0.01, TITLE_TOP, title, fontsize=13, fontweight="bold", va="top", ha="left",
             gid=WORDS[0])  # fmt: skip
    if chart.subtitle:
        lines = title.count("\n") + 1
        fig.text(0.01, TITLE_TOP - (TITLE_LINE_INCHES * lines + 0.08) / height,
                 textwrap.fill(chart.subtitle, 135), fontsize=8.5, color="#333333", va="top",
                 ha="left", gid=WORDS[1])  # fmt: skip
    fig.text(0.01, caption_inches / height, textwrap.fill(chart.caption, 150), fontsize=8.5,
             va="top", ha="left", gid=WORDS[2])  # fmt: skip
    fig.text(0.01, 0.45 * CAPTION_INCHES / height, textwrap.fill(chart.footnote, 170), fontsize=7,
             color="#444444", va="top", ha="left", gid=WORDS[3])  # fmt: skip


def without_words(fig: Figure) -> Figure:
    """``fig`` without its title, subtitle, caption and footnote (:data:`WORDS`), for a page
    or document that gives them as its own text; saved with ``bbox_inches="tight"`` the
    space they took is cropped away."""
    for text in [t for t in fig.texts if t.get_gid() in WORDS]:
        text.remove()
    return fig


def _x(dates) -> np.ndarray:
    """Dates (``datetime.date``) as matplotlib's date numbers (days)."""
    return mdates.date2num(np.asarray(list(dates), dtype="datetime64[D]"))


def _edges(table) -> np.ndarray:
    """Step edges of consecutive periods: each period's first day, then the day after the
    last period's last day."""
    ends = list(table["period_end"])
    return _x([*table["period_start"], ends[-1] + dt.timedelta(days=1)])


def _date_axis(ax, first: dt.date, last: dt.date, short: bool = False) -> None:
    """Calendar dates from ``first`` to ``last``: a labelled tick on each 1 April (the first
    day of an NHS financial year) and small ticks on the first day of each quarter, so a
    point on 30 June sits just before the 1 July tick. ``short`` puts the year on a second
    line, for narrow panels."""
    left, right = _x([first, last])
    ax.set_xlim(left, right + 0.03 * (right - left))  # room for the last tick's label
    aprils = [dt.date(y, 4, 1) for y in range(first.year, last.year + 1)]
    aprils = [d for d in aprils if first <= d <= last]
    ax.set_xticks(_x(aprils), [f"1 Apr\n{d.year}" if short else f"1 Apr {d.year}" for d in aprils])
    quarters = [dt.date(y, m, 1) for y in range(first.year, last.year + 1) for m in (1, 4, 7, 10)]
    ax.set_xticks(_x([d for d in quarters if first <= d <= last]), minor=True)
    ax.set_xlabel("" if short else "Date (labelled ticks: 1 April, when each NHS financial year starts; "
                  "small ticks: quarters)")  # fmt: skip


def _finish_panels(fig: Figure, axes, chart: ChartData, titles: list[str], first: dt.date,
                   ncol: int, fontsize: float) -> Figure:  # fmt: skip
    """Side-by-side panels over time: each panel's date axis (``first`` to the chart's end)
    and title, the y label on the first, and the first panel's legend for all, below."""
    for ax, title in zip(axes, titles, strict=True):
        _date_axis(ax, first, chart.meta["end"], short=True)
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel(chart.y_label)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.18), ncol=ncol,
               frameon=False, fontsize=fontsize)  # fmt: skip
    return fig


def _bar_figure(chart: ChartData):
    """One panel of horizontal bars, with room on the left for the assumptions' labels."""
    fig, (ax,) = _figure(chart)
    fig.subplots_adjust(left=0.33)
    return fig, ax


def _finish_bars(fig: Figure, ax, chart: ChartData, y, labels, ncol: int) -> Figure:
    """Labels of the horizontal bars, vertical grid lines only, and the legend below."""
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(chart.y_label)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.13), ncol=ncol, frameon=False, fontsize=8.5)
    return fig


def draw_distribution(chart: ChartData) -> Figure:
    """Mean share of admissions per band of wait, with the 90% range across replications."""
    fig, (ax,) = _figure(chart)
    table = chart.table
    x = np.arange(len(table))
    share = table["mean_share"].to_numpy(dtype=float)
    ax.bar(x, share, color=BLUE, width=0.6, label="Average share")
    ax.errorbar(x, share,
                yerr=[np.clip(share - table["q05"], 0, None), np.clip(table["q95"] - share, 0, None)],
                fmt="none", ecolor=BLACK, capsize=5, linewidth=1.2, label="90% of replications")  # fmt: skip
    ax.set_xticks(x, table["wait"])
    ax.set_xlabel("Wait from referral to admission")
    ax.set_ylabel(chart.y_label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, max(1e-9, float(np.nanmax(table[["q95", "mean_share"]].to_numpy()))) * 1.15)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False, fontsize=8.5)
    return fig


def draw_segments(chart: ChartData) -> Figure:
    """Stacked steps of trusts per segment, one panel per league table: each assessment's
    segments hold until the next."""
    fig, axes = _figure(chart, ncols=len(LEAGUE_TABLES))
    observed = chart.meta.get("observed")
    first = chart.meta["start"]
    if observed is not None and len(observed):
        first = min(first, min(observed["period_start"]) - dt.timedelta(days=20))
    for ax, table_name in zip(axes, LEAGUE_TABLES, strict=True):
        rows = chart.table[chart.table["league_table"] == table_name]
        one = rows[rows["segment"] == 1]
        edges = _edges(one)
        bottom = np.zeros(len(one))
        for segment, colour, hatch in zip(
            range(1, 6), SEGMENT_COLOURS, SEGMENT_HATCHES, strict=True
        ):
            layer = rows[rows["segment"] == segment]["mean_trusts"].to_numpy()
            ax.stairs(bottom + layer, edges, baseline=bottom.copy(), fill=True, color=colour,
                      hatch=hatch, edgecolor="white", linewidth=0.5, label=f"Segment {segment}")  # fmt: skip
            bottom = bottom + layer
        if observed is not None:
            published = observed[observed["league_table"] == table_name]
            if len(published):
                scaled = published["trusts"].to_numpy() * bottom[0] / published["of_rows"].iloc[0]
                tops = np.cumsum(scaled)
                start, end = _x(published["period_start"])[0], _x(published["period_end"])[0] + 1
                ax.hlines(tops, start, end, color=BLACK, linewidth=2,
                          label="Published counts, latest quarter (top of each segment)")  # fmt: skip
    titles = [TABLE_LABELS[table_name] for table_name in LEAGUE_TABLES]
    return _finish_panels(fig, axes, chart, titles, first, ncol=6, fontsize=8)


def draw_team(chart: ChartData) -> Figure:
    """Demand (median and 90% band) against capacity, one panel per source, as steps over
    each quarter (the data are quarterly averages); a dotted line at each change of the
    national team's size, on its date."""
    fig, axes = _figure(chart, ncols=len(SOURCES))
    for ax, source in zip(axes, SOURCES, strict=True):
        rows = chart.table[chart.table["source"] == source]
        edges = _edges(rows)
        colour = SOURCE_COLOURS[source]
        ax.stairs(rows["demand_q95"], edges, baseline=rows["demand_q05"], fill=True, color=colour,
                  alpha=0.25, linewidth=0, label="Demand, 90% of replications")  # fmt: skip
        ax.stairs(rows["capacity"], edges, baseline=None, color=BLACK, linestyle="--",
                  linewidth=1.3, label="Capacity")  # fmt: skip
        ax.stairs(rows["demand_median"], edges, baseline=None, color=colour, linewidth=2,
                  label="Demand, median")  # fmt: skip
        ax.set_ylim(0, float(np.nanmax(rows[["demand_q95", "capacity"]].to_numpy())) * 1.1 + 1)
        for cut in chart.meta.get("cuts", []):
            position = _x([cut["date"]])[0]
            ax.axvline(position, color="#555555", linestyle=":", linewidth=1.2)
            if source == "national":
                ax.annotate(cut["label"].replace("National team ", ""), (position, ax.get_ylim()[1] * 0.04),
                            rotation=90, fontsize=7.5, ha="right", va="bottom", color="#333333")  # fmt: skip
    titles = [SOURCE_LABELS[source] for source in SOURCES]
    return _finish_panels(fig, axes, chart, titles, chart.meta["start"], ncol=3, fontsize=8.5)


def draw_cost(chart: ChartData) -> Figure:
    """Bars of mean cost, by provider stacked to the total (left) and by payer side by side
    (right), each total and payer with its median as a dot and its middle 50% and 90% of
    replications as thick and thin lines; when prices rise, the mean total in cash terms as
    a hollow diamond."""
    fig, (left, right) = _figure(chart, ncols=2, caption_inches=1.25)  # a five-line caption
    fig.subplots_adjust(bottom=0.38)
    table = chart.table
    periods = list(dict.fromkeys(table["period"]))
    x = np.arange(len(periods))

    def series(split: str, group: str):
        rows = table[(table["split"] == split) & (table["group"] == group)]
        return rows.set_index("period").reindex(periods)

    bottom = np.zeros(len(periods))
    for group in PROVIDERS:
        values = series("source", group)["mean_cost_millions"]
        left.bar(x, values, bottom=bottom, color=SOURCE_COLOURS[group], hatch=SOURCE_HATCHES[group],
                 edgecolor="white", width=0.65, label=SOURCE_LABELS[group])  # fmt: skip
        bottom += values.fillna(0).to_numpy()
    _ranges(left, x, series("total", "total"), "Total: median, 50% and 90% ranges")
    if chart.meta.get("inflation"):
        left.plot(x + 0.22, series("cash", "total")["mean_cost_millions"], linestyle="none",
                  marker="D", markersize=6, color=BLACK, markerfacecolor="white",
                  label="Total in cash terms (mean)")  # fmt: skip
    for k, group in enumerate(PAYERS):
        rows = series("payer", group)
        right.bar(x + (k - 0.5) * 0.36, rows["mean_cost_millions"], width=0.34,
                  color=PAYER_COLOURS[group], hatch=("//", "")[k], edgecolor="white",
                  label=PAYER_LABELS[group])  # fmt: skip
        _ranges(right, x + (k - 0.5) * 0.36, rows, "Median, 50% and 90% ranges" if k else None)
    for ax, title in ((left, "By provider of support"), (right, "By who pays")):
        ax.set_xticks(x, periods)
        ax.set_xlabel("NHS financial year")
        ax.set_title(title, fontsize=10)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:.1f}m"))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2 if ax is left else 1,
                  frameon=False, fontsize=8)  # fmt: skip
    left.set_ylabel(chart.y_label)
    return fig


def _ranges(ax, x, rows, label: str | None) -> None:
    """Median dots, with a thick line over the middle 50% of replications and a thin one,
    capped, over 90%."""
    ax.errorbar(x, rows["median"], yerr=[rows["median"] - rows["q05"], rows["q95"] - rows["median"]],
                fmt="none", ecolor=BLACK, elinewidth=1.1, capsize=4, zorder=3)  # fmt: skip
    ax.vlines(x, rows["q25"], rows["q75"], color=BLACK, linewidth=4, zorder=3)
    ax.plot(x, rows["median"], linestyle="none", marker="o", markersize=5, color=BLACK,
            markeredgecolor="white", zorder=4, label=label)  # fmt: skip


def draw_exceedance(chart: ChartData) -> Figure:
    """Per-quarter probabilities as steps over each quarter; the share of replications in
    which each has happened so far as points at each quarter's end."""
    fig, (ax,) = _figure(chart)
    table = chart.table
    edges, ends = _edges(table), _x(table["period_end"])
    ax.stairs(table["probability_cap_reached"], edges, baseline=None, color=BLUE, linewidth=1.6,
              label="Programme at its cap, in the quarter")  # fmt: skip
    ax.stairs(table["probability_national_team_short"], edges, baseline=None, color=VERMILLION,
              linewidth=1.6, linestyle="--", label="National team short of hours, in the quarter")  # fmt: skip
    ax.plot(ends, table["cap_reached_by_end"], color=BLUE, linewidth=2.4, marker="o",
            markersize=4, alpha=0.6, label="Programme has been at its cap, by the quarter's end")  # fmt: skip
    ax.plot(ends, table["national_team_short_by_end"], color=VERMILLION, linewidth=2.4,
            linestyle=":", marker="s", markersize=4, alpha=0.8,
            label="National team has been short, by the quarter's end")  # fmt: skip
    _date_axis(ax, chart.meta["start"], chart.meta["end"])
    ax.set_ylim(-0.02, 1.04)
    ax.set_ylabel(chart.y_label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, frameon=False, fontsize=8.5)
    return fig


def draw_comparison(chart: ChartData) -> Figure:
    """Dot-and-interval panels, one per measure, one row per scenario (named by its title,
    on the left of each row of panels)."""
    measures = list(dict.fromkeys(chart.table["measure"]))
    fig = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES))
    axes = fig.subplots(2, 3, sharey=True)
    fig.subplots_adjust(left=0.25, right=0.98, top=0.8, bottom=0.24, hspace=0.5, wspace=0.12)
    _frame_text(fig, chart)
    names = "scenario_title" if "scenario_title" in chart.table else "scenario"
    for ax, measure in zip(axes.ravel(), measures, strict=False):
        rows = chart.table[chart.table["measure"] == measure]
        y = np.arange(len(rows))[::-1]
        ax.errorbar(rows["mean_difference"], y,
                    xerr=[rows["mean_difference"] - rows["ci_low"], rows["ci_high"] - rows["mean_difference"]],
                    fmt="o", color=BLUE, ecolor=BLACK, capsize=3, markersize=5)  # fmt: skip
        ax.axvline(0, color="#777777", linewidth=0.8)
        ax.set_yticks(y, [textwrap.fill(t, 34) for t in rows[names]], fontsize=8)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(textwrap.fill(measure, 30), fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    for ax in axes.ravel()[len(measures) :]:
        ax.set_visible(False)
    return fig


def draw_validation(chart: ChartData) -> Figure:
    """Model-to-published ratios: 90% range as a bar, mean as a dot, published at 1."""
    fig = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES + 2.5))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.36, right=0.97, top=0.88, bottom=0.2)
    _frame_text(fig, chart)
    rows = chart.table
    y = np.arange(len(rows))[::-1]
    for used, colour, marker, label in ((True, BLUE, "o", "Used in the fit"),
                                        (False, ORANGE, "s", "Held out of the fit")):  # fmt: skip
        part = rows["used_in_fit"] == used
        ax.hlines(y[part], rows["low"][part], rows["high"][part], color=colour, linewidth=4,
                  alpha=0.6, label=f"{label}: model 90% range")  # fmt: skip
        ax.plot(rows["mean"][part], y[part], linestyle="none", marker=marker, color=BLACK,
                markerfacecolor=colour, markersize=6, label=f"{label}: model mean")  # fmt: skip
    ax.axvline(1.0, color=BLACK, linestyle="--", linewidth=1, label="Published value")
    ax.set_yticks(y, rows["quantity"], fontsize=8)
    ax.set_xlabel(chart.y_label)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.legend(loc="upper center", bbox_to_anchor=(0.3, -0.06), ncol=3, frameon=False, fontsize=8)
    return fig


def draw_backtest(chart: ChartData) -> Figure:
    """Panels one above the other sharing the date axis, one per series (every route, then
    each route with published counts): median line and 50%/90% bands by month, regimes as
    shaded spans, and the published counts of that series as points (filled inside the
    model's 90% range, hollow outside)."""
    panels, points = chart.meta["panels"], chart.meta["points"]
    height = HEIGHT_INCHES + PANEL_INCHES * (len(panels) - 1)
    fig = Figure(figsize=(WIDTH_INCHES, height))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False).ravel()
    # in inches: the title (up to two lines) and subtitle above; the date axis, legend,
    # caption (up to six lines) and footnote below; room for each panel's heading between
    title_lines = len(textwrap.wrap(chart.title, 95))
    top, bottom, gap = 1.05 + 0.22 * title_lines, 2.6, 0.45
    fig.subplots_adjust(left=0.08, right=0.98, top=1 - top / height, bottom=bottom / height,
                        hspace=gap * len(panels) / (height - top - bottom - gap * (len(panels) - 1)))  # fmt: skip
    _frame_text(fig, chart, caption_inches=1.3)
    for k, (ax, (route, heading)) in enumerate(zip(axes, panels, strict=True)):
        stock = chart.table[chart.table["route"] == route]
        mine = points[points["route"] == route]
        _backtest_panel(ax, stock, mine, headroom=1.25 if k == 0 else 1.12)
        ax.set_title(heading, loc="left", fontsize=9.5, fontweight="bold")
    first, last = chart.meta["start"], chart.meta["end"] - dt.timedelta(days=1)
    # a dozen years: "1 Apr" over the year, and no axis label (room for the legend)
    _date_axis(axes[-1], first, last, short=(last - first).days > LONG_AXIS_YEARS * 365)
    for k, ax in enumerate(axes):  # after the axis: the labels' widths need its limits
        _regimes(ax, fig, chart.meta["eras"], chart.meta["frameworks"], labelled=k == 0)
    middle = (axes[0].get_position().y1 + axes[-1].get_position().y0) / 2
    fig.text(0.012, middle, chart.y_label, rotation=90, va="center", ha="left", fontsize=10)
    legend: dict = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    # the model's entries, then the points' in POINT_STYLES order, inside before outside
    legend = dict(sorted(legend.items(), key=lambda item: _point_order(item[0])))
    if not len(points):
        legend["No published count to compare"] = Line2D([], [], linestyle="none")
    fig.legend(legend.values(), legend.keys(), loc="upper center",
               bbox_to_anchor=(0.5, (bottom - 0.5) / height), ncol=2, frameon=False, fontsize=8)  # fmt: skip
    return fig


def _point_label(used: bool, inside: bool) -> str:
    words = POINT_STYLES[used][2]
    return f"Published, {words}: {'inside' if inside else 'outside'} the model's 90% range"


def _point_order(label: str) -> int:
    """Where a legend entry of the back-test goes: the model's first (in drawing order)."""
    order = [_point_label(used, inside) for used in POINT_STYLES for inside in (True, False)]
    return 1 + order.index(label) if label in order else 0


def _backtest_panel(ax, stock, points, headroom: float) -> None:
    """One series of the back-test: bands, median and its published counts."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    x = _x(stock["month"])
    ax.fill_between(x, stock["q05"], stock["q95"], color=SKY, alpha=0.35, linewidth=0,
                    label="Model: 90% of replications", zorder=1)  # fmt: skip
    ax.fill_between(x, stock["q25"], stock["q75"], color=BLUE, alpha=0.45, linewidth=0,
                    label="Model: 50% of replications", zorder=1.5)  # fmt: skip
    ax.plot(x, stock["median"], color=BLUE, linewidth=2.0, zorder=3, label="Model: median")
    for used, (marker, colour, _) in POINT_STYLES.items():
        for inside in (True, False):
            part = points[(points["used_in_fit"] == used) & (points["inside"] == inside)]
            if len(part):
                ax.plot(_x(part["date"]), part["published"], linestyle="none", marker=marker,
                        markersize=7, markeredgewidth=1.6, color=colour,
                        markerfacecolor=colour if inside else "white", zorder=4,
                        label=_point_label(used, inside))  # fmt: skip
    top = max(float(stock["q95"].max()), float(points["published"].max()) if len(points) else 0)
    ax.set_ylim(0, top * headroom + 1)  # headroom for the regimes' labels
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))  # counts: whole ticks


def _regimes(ax, fig: Figure, eras: list, frameworks: list, labelled: bool = True) -> None:
    """Alternate shading per programme and a dashed line for each change of framework;
    ``labelled``: each programme's name at the top (initials where the span is too narrow
    for the name), and each framework's beneath the programmes' names."""
    at_top = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    left, right = ax.get_xlim()
    inches_per_unit = ax.get_position().width * fig.get_figwidth() / (right - left)
    for k, (label, start, end) in enumerate(eras):
        x0, x1 = _x([start, end])
        ax.axvspan(x0, x1, color=ERA_SHADES[k % 2], zorder=0, linewidth=0)
        if k:
            ax.axvline(x0, color="#777777", linewidth=0.9, zorder=0.5)
        if not labelled:
            continue
        if len(label) * REGIME_LABEL_POINTS * 0.55 / 72 > (x1 - x0) * inches_per_unit * 0.95:
            label = "".join(word[0].upper() for word in label.split() if word[0].isalpha())
        ax.text(x0, 0.985, " " + label, transform=at_top, fontsize=REGIME_LABEL_POINTS,
                va="top", ha="left", color="#333333", zorder=5)  # fmt: skip
    for label, date in frameworks:
        (x,) = _x([date])
        ax.axvline(x, color="#777777", linestyle=(0, (3, 3)), linewidth=0.9, zorder=0.5)
        if labelled:
            ax.text(x, 0.90, " " + label, transform=at_top, fontsize=REGIME_LABEL_POINTS,
                    va="top", ha="left", color="#555555", style="italic", zorder=5)  # fmt: skip


def draw_indices(chart: ChartData) -> Figure:
    """Global sensitivity indices: one bar per assumption and index, with its 95% interval."""
    fig, ax = _bar_figure(chart)
    rows = chart.table
    labels = list(dict.fromkeys(rows["label"]))
    indices = list(dict.fromkeys(rows["index"]))
    height = 0.8 / len(indices)
    y = np.arange(len(labels))[::-1]
    for k, (index, colour, hatch) in enumerate(zip(indices, (BLUE, ORANGE), ("", "//"), strict=False)):
        part = rows[rows["index"] == index].set_index("label").loc[labels]
        ax.barh(y + 0.4 - height * (k + 0.5), part["value"], height=height * 0.9, color=colour,
                hatch=hatch, edgecolor="white", xerr=part["ci"], ecolor=BLACK, capsize=2,
                label=index)  # fmt: skip
    ax.axvline(0, color="#777777", linewidth=0.8)
    return _finish_bars(fig, ax, chart, y, labels, ncol=2)


def draw_tornado(chart: ChartData) -> Figure:
    """Horizontal bars from the output at each assumption's low value to its high value."""
    fig, ax = _bar_figure(chart)
    rows = chart.table
    y = np.arange(len(rows))[::-1]
    lows, highs = rows["low_mean"].to_numpy(), rows["high_mean"].to_numpy()
    base = chart.meta["base"]
    ax.barh(
        y, highs - base, left=base, color=BLUE, height=0.6, label="Assumption at its high value"
    )
    ax.barh(y, lows - base, left=base, color=ORANGE, hatch="//", edgecolor="white", height=0.6,
            label="Assumption at its low value")  # fmt: skip
    ax.axvline(base, color=BLACK, linewidth=1.2, label="Scenario as stated")
    return _finish_bars(fig, ax, chart, y, rows["label"], ncol=3)


def draw_plan(chart: ChartData) -> Figure:
    """Left: the target metric (worst period, with 95% interval) against the lever.
    Right: the share of replications meeting the target (with 95% interval)."""
    fig, (ax, right) = _figure(chart, ncols=2)
    rows = chart.table
    ax.errorbar(rows["value"], rows["worst_period_mean"],
                yerr=[rows["worst_period_mean"] - rows["worst_ci_low"], rows["worst_ci_high"] - rows["worst_period_mean"]],
                fmt="o-", color=BLUE, ecolor=BLACK, capsize=3, markersize=4, label="Mean in the worst period, 95% interval")  # fmt: skip
    ax.axhline(chart.meta["threshold"], color=VERMILLION, linestyle="--", linewidth=1.4,
               label="Target threshold")  # fmt: skip
    for k, (start, end) in enumerate(chart.meta.get("breaks", [])):
        ax.axvspan(start, end, facecolor=YELLOW, alpha=0.35, hatch="..", edgecolor="#999999",
                   linewidth=0, label="Moves against its trend" if k == 0 else None)  # fmt: skip
    share = rows["probability_met"]
    right.errorbar(rows["value"], share,
                   yerr=[share - rows["probability_ci_low"], rows["probability_ci_high"] - share],
                   fmt="s-", color=ORANGE, ecolor=BLACK, capsize=3, markersize=4,
                   label="Share of replications meeting the target, 95% interval")  # fmt: skip
    right.axhline(chart.meta["probability"], color=VERMILLION, linestyle="--", linewidth=1.4,
                  label=f"{chart.meta['probability']:.0%} asked for")  # fmt: skip
    right.set_ylim(-0.02, 1.02)
    right.yaxis.set_major_formatter(PercentFormatter(1.0))
    for axis in (ax, right):
        if chart.meta.get("answer") is not None:
            axis.axvline(chart.meta["answer"], color=GREEN, linestyle=":", linewidth=1.6,
                         label="Smallest meeting it on average")  # fmt: skip
        if chart.meta.get("probable") is not None:
            axis.axvline(chart.meta["probable"], color=BLACK, linestyle="-.", linewidth=1.2,
                         label=f"Smallest meeting it in {chart.meta['probability']:.0%} of replications")  # fmt: skip
        axis.set_xlabel(chart.meta["x_label"])
        axis.xaxis.set_major_locator(MaxNLocator(integer=chart.meta.get("integer", False)))
    # one legend for both panels (the answer lines are on both), between plots and caption
    fig.subplots_adjust(bottom=0.37)
    legend: dict = {}
    for axis in (ax, right):
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.265),
               ncol=3, frameon=False, fontsize=7.5)  # fmt: skip
    ax.set_ylabel(chart.y_label)
    right.set_ylabel("Probability of meeting the target")
    return fig


DRAWERS = {
    "plan": draw_plan,
    "tornado": draw_tornado,
    "indices": draw_indices,
    "validation": draw_validation,
    "backtest": draw_backtest,
    "distribution": draw_distribution,
    "segments": draw_segments,
    "team": draw_team,
    "cost": draw_cost,
    "exceedance": draw_exceedance,
    "comparison": draw_comparison,
}
ELSEWHERE = {
    "fan": ("sim.outputs.charts.draw_fan", "draw_fan"),
    "regions": ("sim.outputs.charts.draw_regions", "draw_regions"),
    "workforce": ("sim.outputs.charts.draw_workforce", "draw_workforce"),
    "overlay": ("sim.outputs.charts.draw_overlay", "draw_overlay"),
}
"""Kinds drawn in modules of their own, which use the helpers above: (module, function)."""


def draw(chart: ChartData) -> Figure:
    """Draw any chart by its kind."""
    if chart.kind in ELSEWHERE:
        module, function = ELSEWHERE[chart.kind]
        return getattr(importlib.import_module(module), function)(chart)
    return DRAWERS[chart.kind](chart)
