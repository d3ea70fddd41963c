"""Draw charts from :class:`~sim.charts.data.ChartData`. Each function returns a Figure.

Nothing here computes a statistic: the numbers and the words come ready-made. The style is
for publication: Okabe-Ito colours (safe for colour-blind readers) chosen to differ in
lightness too, with hatching and line styles so each chart still reads in greyscale;
financial years and quarters on the time axis; the finding as the title; the caption and a
footnote (scenario, replications, seed, sources) under the plot. Figures are made with
``matplotlib.figure.Figure`` directly, not pyplot: no backend is chosen or changed and no
global figure state is kept, so notebooks display them and scripts save them as they are.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from sim.charts.data import SOURCE_LABELS, TABLE_LABELS, ChartData
from sim.scenario.schema import LEAGUE_TABLES, SOURCES

# Okabe-Ito, ordered dark to light so neighbouring series differ in greyscale too
BLUE, VERMILLION, GREEN, ORANGE, SKY, YELLOW, PURPLE, BLACK = (
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#F0E442", "#CC79A7", "#000000",
)  # fmt: skip
SEGMENT_COLOURS = (SKY, GREEN, YELLOW, VERMILLION, BLUE)
SEGMENT_HATCHES = ("", "//", "", "\\\\", "xx")
SOURCE_COLOURS = {"national": BLUE, "nhs_family": ORANGE, "consultancy": VERMILLION}
SOURCE_HATCHES = {"national": "", "nhs_family": "//", "consultancy": ".."}
PAYER_COLOURS = {"trusts": VERMILLION, "nhs_england": BLUE}
PAYER_LABELS = {"trusts": "Trusts supported", "nhs_england": "NHS England"}
WIDTH_INCHES, HEIGHT_INCHES = 10.0, 6.2


def _figure(chart: ChartData, ncols: int = 1, sharey: bool = False):
    fig = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES))
    axes = fig.subplots(1, ncols, sharey=sharey, squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.84, bottom=0.32, wspace=0.25)
    _frame_text(fig, chart)
    for ax in axes.ravel():
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, axes.ravel()


def _frame_text(fig: Figure, chart: ChartData) -> None:
    """Title (the finding) at the top; caption and footnote at the bottom."""
    fig.text(0.01, 0.975, textwrap.fill(chart.title, 95), fontsize=13, fontweight="bold",
             va="top", ha="left")  # fmt: skip
    bottom = 0.145 * HEIGHT_INCHES / fig.get_figheight()  # same distance from the foot
    fig.text(0.01, bottom, textwrap.fill(chart.caption, 150), fontsize=8.5, va="top", ha="left")
    fig.text(0.01, bottom * 0.45, textwrap.fill(chart.footnote, 170), fontsize=7, color="#444444",
             va="top", ha="left")  # fmt: skip


def _quarter_axis(ax, periods: list[str], extra_left: int = 0, short: bool = False) -> None:
    """Quarters as positions; label each financial year at its first quarter.

    ``extra_left`` quarters before the first period are shown too (for published points);
    ``short`` labels years as '26/27' for narrow panels.
    """
    ax.set_xlim(-extra_left - 0.5, len(periods) - 0.5)
    majors = [i for i, p in enumerate(periods) if p.endswith("Q1")] or [0]
    labels = [periods[i].split()[0] for i in majors]
    if short:
        labels = [label[2:] for label in labels]
    ax.set_xticks(majors, labels)
    ax.set_xticks(np.arange(-extra_left, len(periods)), minor=True)
    ax.set_xlabel("NHS financial year (ticks are quarters)")


def _quarter_offset(first: str, other: str) -> int:
    """Quarters from ``first`` to ``other`` (labels like '2026/27 Q1')."""

    def index(label: str) -> int:
        year, quarter = label.split()
        return int(year[:4]) * 4 + int(quarter[1]) - 1

    return index(other) - index(first)


def draw_fan(chart: ChartData) -> Figure:
    """Median line with 50% and 90% bands; optional cap line and published points."""
    fig, (ax,) = _figure(chart)
    table = chart.table
    periods = list(table["period"])
    x = np.arange(len(periods))
    ax.fill_between(x, table["q05"], table["q95"], color=SKY, alpha=0.35, linewidth=0,
                    label="90% of replications")  # fmt: skip
    ax.fill_between(x, table["q25"], table["q75"], color=BLUE, alpha=0.45, linewidth=0,
                    label="50% of replications")  # fmt: skip
    ax.plot(x, table["median"], color=BLUE, linewidth=2.2, label="Median")
    cap = chart.meta.get("cap")
    if cap is not None:
        ax.axhline(cap, color=BLACK, linestyle="--", linewidth=1.2, label=f"Cap ({cap} trusts)")
    observed = chart.meta.get("observed")
    extra = 0
    if observed is not None and len(observed):
        offsets = [_quarter_offset(periods[0], p) for p in observed["period"]]
        extra = max(0, -min(offsets))
        ax.plot(offsets, observed["value"], linestyle="none", marker="D", color=BLACK,
                markersize=7, label="Published: " + "; ".join(observed["label"]))  # fmt: skip
    _quarter_axis(ax, periods, extra_left=extra)
    ax.set_ylabel(chart.y_label)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of trusts: whole ticks
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False, fontsize=8.5)
    return fig


def draw_distribution(chart: ChartData) -> Figure:
    fig, (ax,) = _figure(chart)
    table = chart.table
    x = np.arange(len(table))
    ax.bar(x, table["median_share"], color=BLUE, width=0.6, label="Median share")
    ax.errorbar(x, table["median_share"],
                yerr=[table["median_share"] - table["q05"], table["q95"] - table["median_share"]],
                fmt="none", ecolor=BLACK, capsize=5, linewidth=1.2, label="90% of replications")  # fmt: skip
    ax.set_xticks(x, table["wait"])
    ax.set_xlabel("Wait from referral to admission")
    ax.set_ylabel(chart.y_label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, max(1e-9, float(np.nanmax(table["q95"]))) * 1.15)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False, fontsize=8.5)
    return fig


def draw_segments(chart: ChartData) -> Figure:
    """Stacked areas of trusts per segment, one panel per league table."""
    fig, axes = _figure(chart, ncols=len(LEAGUE_TABLES))
    observed = chart.meta.get("observed")
    for ax, table_name in zip(axes, LEAGUE_TABLES, strict=True):
        rows = chart.table[chart.table["league_table"] == table_name]
        periods = list(dict.fromkeys(rows["period"]))
        x = np.arange(len(periods))
        layers = [rows[rows["segment"] == s]["mean_trusts"].to_numpy() for s in range(1, 6)]
        stacks = ax.stackplot(x, layers, colors=SEGMENT_COLOURS, edgecolor="white", linewidth=0.5,
                              labels=[f"Segment {s}" for s in range(1, 6)])  # fmt: skip
        for stack, hatch in zip(stacks, SEGMENT_HATCHES, strict=True):
            stack.set_hatch(hatch)
        if observed is not None:
            published = observed[observed["league_table"] == table_name]
            if len(published):
                size = sum(layer[0] for layer in layers)
                scaled = published["trusts"].to_numpy() * size / published["of_rows"].iloc[0]
                tops = np.cumsum(scaled)
                # published counts (before the start) drawn just left of the first quarter
                ax.plot([-0.45] * len(tops), tops, linestyle="none", marker=">", color=BLACK,
                        markersize=6, label="Published counts, latest quarter (top of each segment)")  # fmt: skip
        _quarter_axis(ax, periods, short=True)
        ax.set_xlabel("")
        ax.set_title(TABLE_LABELS[table_name], fontsize=10)
    axes[0].set_ylabel(chart.y_label)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.18), ncol=6,
               frameon=False, fontsize=8)  # fmt: skip
    return fig


def draw_team(chart: ChartData) -> Figure:
    """Demand (median and 90% band) against capacity, one panel per source."""
    fig, axes = _figure(chart, ncols=len(SOURCES))
    for ax, source in zip(axes, SOURCES, strict=True):
        rows = chart.table[chart.table["source"] == source]
        periods = list(rows["period"])
        x = np.arange(len(periods))
        colour = SOURCE_COLOURS[source]
        ax.fill_between(x, rows["demand_q05"], rows["demand_q95"], color=colour, alpha=0.25,
                        linewidth=0, label="Demand, 90% of replications")  # fmt: skip
        ax.plot(x, rows["demand_median"], color=colour, linewidth=2, label="Demand, median")
        ax.plot(x, rows["capacity"], color=BLACK, linestyle="--", linewidth=1.3, label="Capacity")
        for cut in chart.meta.get("cuts", []):
            if cut["period"] in periods:
                position = periods.index(cut["period"]) - 0.5
                ax.axvline(position, color="#555555", linestyle=":", linewidth=1.2)
                ax.annotate(cut["label"], (position, ax.get_ylim()[1] * 0.05), rotation=90,
                            fontsize=7.5, ha="right", va="bottom", color="#333333")  # fmt: skip
        _quarter_axis(ax, periods, short=True)
        ax.set_xlabel("")
        ax.set_ylim(bottom=0)
        ax.set_title(SOURCE_LABELS[source], fontsize=10)
    axes[0].set_ylabel(chart.y_label)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.18), ncol=3,
               frameon=False, fontsize=8.5)  # fmt: skip
    return fig


def draw_cost(chart: ChartData) -> Figure:
    fig, axes = _figure(chart, ncols=2, sharey=True)
    for ax, split, groups, colours, labels, hatches in (
        (axes[0], "source", SOURCES, SOURCE_COLOURS, SOURCE_LABELS, SOURCE_HATCHES),
        (axes[1], "payer", ("trusts", "nhs_england"), PAYER_COLOURS, PAYER_LABELS,
         {"trusts": "//", "nhs_england": ""}),
    ):  # fmt: skip
        rows = chart.table[chart.table["split"] == split]
        periods = list(dict.fromkeys(rows["period"]))
        x = np.arange(len(periods))
        bottom = np.zeros(len(periods))
        for group in groups:
            values = (
                rows[rows["group"] == group]
                .set_index("period")
                .reindex(periods)["mean_cost_millions"]
            )
            ax.bar(x, values, bottom=bottom, color=colours[group], hatch=hatches[group],
                   edgecolor="white", width=0.65, label=labels[group])  # fmt: skip
            bottom += values.fillna(0).to_numpy()
        ax.set_xticks(x, periods)
        ax.set_xlabel("NHS financial year")
        ax.set_title("By source of support" if split == "source" else "By who pays", fontsize=10)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:.1f}m"))
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False, fontsize=8.5
        )
    axes[0].set_ylabel(chart.y_label)
    return fig


def draw_exceedance(chart: ChartData) -> Figure:
    fig, (ax,) = _figure(chart)
    periods = list(chart.table["period"])
    x = np.arange(len(periods))
    ax.plot(x, chart.table["probability_cap_reached"], color=BLUE, linewidth=2.2, marker="o",
            markersize=4, label="Programme at its cap")  # fmt: skip
    ax.plot(x, chart.table["probability_national_team_short"], color=VERMILLION, linewidth=2.2,
            linestyle="--", marker="s", markersize=4, label="National team short of hours")  # fmt: skip
    _quarter_axis(ax, periods)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(chart.y_label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False, fontsize=8.5)
    return fig


def draw_comparison(chart: ChartData) -> Figure:
    """Dot-and-interval panels, one per measure, one row per scenario."""
    measures = list(dict.fromkeys(chart.table["measure"]))
    fig = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES))
    axes = fig.subplots(2, 3)
    fig.subplots_adjust(left=0.16, right=0.98, top=0.84, bottom=0.24, hspace=0.55, wspace=0.75)
    _frame_text(fig, chart)
    for ax, measure in zip(axes.ravel(), measures, strict=False):
        rows = chart.table[chart.table["measure"] == measure]
        y = np.arange(len(rows))[::-1]
        ax.errorbar(rows["mean_difference"], y,
                    xerr=[rows["mean_difference"] - rows["ci_low"], rows["ci_high"] - rows["mean_difference"]],
                    fmt="o", color=BLUE, ecolor=BLACK, capsize=3, markersize=5)  # fmt: skip
        ax.axvline(0, color="#777777", linewidth=0.8)
        ax.set_yticks(y, rows["scenario"], fontsize=8)
        ax.set_title(measure, fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="x", labelsize=8)
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


def draw_tornado(chart: ChartData) -> Figure:
    """Horizontal bars from the output at each assumption's low value to its high value."""
    fig, (ax,) = _figure(chart)
    fig.subplots_adjust(left=0.33)
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
    ax.set_yticks(y, rows["label"], fontsize=8)
    ax.set_xlabel(chart.y_label)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.13), ncol=3, frameon=False, fontsize=8.5)
    return fig


def draw_plan(chart: ChartData) -> Figure:
    """The target metric (worst period, with 95% interval) against the lever."""
    fig, (ax,) = _figure(chart)
    rows = chart.table
    ax.errorbar(rows["value"], rows["worst_period_mean"],
                yerr=[rows["worst_period_mean"] - rows["worst_ci_low"], rows["worst_ci_high"] - rows["worst_period_mean"]],
                fmt="o-", color=BLUE, ecolor=BLACK, capsize=4, label="Mean in the worst period, 95% interval")  # fmt: skip
    ax.axhline(
        chart.meta["threshold"],
        color=VERMILLION,
        linestyle="--",
        linewidth=1.4,
        label="Target threshold",
    )
    if chart.meta.get("answer") is not None:
        ax.axvline(
            chart.meta["answer"],
            color=GREEN,
            linestyle=":",
            linewidth=1.6,
            label="Smallest meeting it on average",
        )
    if chart.meta.get("confident") is not None:
        ax.axvline(chart.meta["confident"], color=BLACK, linestyle="-.", linewidth=1.2,
                   label="Smallest meeting it with 95% confidence")  # fmt: skip
    ax.set_xlabel(chart.meta["x_label"])
    ax.set_ylabel(chart.y_label)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False, fontsize=8.5)
    return fig


DRAWERS = {
    "plan": draw_plan,
    "tornado": draw_tornado,
    "validation": draw_validation,
    "fan": draw_fan,
    "distribution": draw_distribution,
    "segments": draw_segments,
    "team": draw_team,
    "cost": draw_cost,
    "exceedance": draw_exceedance,
    "comparison": draw_comparison,
}


def draw(chart: ChartData) -> Figure:
    """Draw any chart by its kind."""
    return DRAWERS[chart.kind](chart)
