"""What each chart shows: the data behind it and the words around it.

Every number a chart draws, and every sentence that states a finding, is computed here from
:class:`~sim.results.Results`; :mod:`sim.charts.draw` only draws what it is given. Each
builder returns a :class:`ChartData` whose ``table`` is exactly what the chart plots (it is
published beside the chart as CSV).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calendar import date_at, quarter_label, weeks_between
from sim.compare import paired_differences
from sim.data import read_table
from sim.reduce import WAIT_BAND_LABELS
from sim.results import Results
from sim.scenario.schema import LEAGUE_TABLES, SOURCES

BAND_CAPTION = (
    "The line is the median across replications; the darker band holds the middle 50% of "
    "replications and the lighter band 90% of them. Each replication is one possible future "
    "under the same assumptions."
)
DATA_SOURCES = (
    "Data: NHS Oversight Framework 2025/26 segmentation and league tables (NHS England); "
    "programme size and team figures (HSJ, June 2025). Values not published are assumptions, "
    "listed in the assumptions table."
)
SOURCE_LABELS = {
    "national": "National PIP team",
    "nhs_family": "Wider NHS",
    "consultancy": "Consultancy",
}
TABLE_LABELS = {
    "acute": "Acute",
    "non_acute": "Mental health, community and care",
    "ambulance": "Ambulance",
}


@dataclass(frozen=True)
class ChartData:
    """Everything needed to draw and publish one chart."""

    key: str
    """File name stem, unique within a chart pack."""
    kind: str
    """Which drawing function draws it (see :data:`sim.charts.draw.DRAWERS`)."""
    title: str
    """The finding, in plain English."""
    caption: str
    alt_text: str
    footnote: str
    table: pd.DataFrame
    y_label: str
    meta: dict = field(default_factory=dict)


def footnote(results: Results, scenario: str) -> str:
    return (
        f"Scenario: {scenario}. {results.replications} replications, seed "
        f"{results.manifest.get('seed', 'unknown')}. {DATA_SOURCES}"
    )


def _rows(summary: pd.DataFrame, scenario: str, metric: str, frequency: str, group: str = "all"):
    rows = summary[
        (summary["scenario"] == scenario)
        & (summary["metric"] == metric)
        & (summary["frequency"] == frequency)
        & (summary["group"] == group)
    ]
    return rows.reset_index(drop=True)


def _fan_table(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[["period", "q05", "q25", "q50", "q75", "q95", "mean"]].rename(
        columns={"q50": "median"}
    )


def _start(results: Results, scenario: str) -> dt.date:
    return results.scenarios[scenario].start_date


# ------------------------------------------------------------------------ builders


def caseload_fan(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Trusts in the programme at each quarter's end, with the cap and the published size."""
    table = _fan_table(_rows(summary, scenario, "in_programme", "quarter"))
    cap = results.scenarios[scenario].programme.cap
    medians = table["median"].to_numpy()
    low, high = int(np.floor(medians.min())), int(np.ceil(medians.max()))
    if cap is not None and np.mean(medians >= cap) >= 0.75:
        title = f"The programme is expected to be full in most quarters, at its cap of {cap} trusts"
    elif cap is not None:
        title = f"The programme is expected to hold {low} to {high} trusts, below its cap of {cap}"
    else:
        title = f"With no cap, the programme is expected to hold {low} to {high} trusts"
    observed = observed_caseload(_start(results, scenario))
    last = table.iloc[-1]
    alt = (
        f"Fan chart of trusts in the Provider Improvement Programme by quarter, "
        f"{table['period'].iloc[0]} to {last['period']}. Median {medians[0]:.0f} at the start and "
        f"{last['median']:.0f} at the end; 90% of replications between {last['q05']:.0f} and "
        f"{last['q95']:.0f} in the last quarter."
        + (f" A dashed line marks the cap of {cap}." if cap is not None else "")
        + (" A marker shows the published first wave." if len(observed) else "")
    )
    return ChartData(
        key=f"{scenario}-caseload",
        kind="fan",
        title=title,
        caption=f"Trusts in the programme (segment 5) at the end of each quarter. {BAND_CAPTION}",
        alt_text=alt,
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts in the programme",
        meta={"cap": cap, "observed": observed},
    )


def observed_caseload(start: dt.date) -> pd.DataFrame:
    """Published figures on the programme's size that fall before the forecast starts."""
    rows = []
    for row in read_table("programme_facts.csv"):
        if row["measure"] == "pip_expected_first_entrants":
            # entrants announced in 2025; the first wave entered around October 2025
            rows.append({"period": quarter_label(dt.date(2025, 10, 1)), "value": 10.0,
                         "label": "first wave, about 10 trusts (HSJ, May 2025)"})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["period", "value", "label"])
    before = [weeks_between(start, dt.date(2025, 10, 1)) < 0 for _ in range(len(frame))]
    return frame[before].reset_index(drop=True)


def waiting_fan(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    table = _fan_table(_rows(summary, scenario, "waiting", "quarter"))
    first, last = table.iloc[0], table.iloc[-1]
    peak = table.loc[table["median"].idxmax()]
    if peak["median"] == 0:
        title = "No waiting list for the programme is expected: referrals find a place at once"
    else:
        title = (
            f"The waiting list is expected to peak at about {peak['median']:.0f} trusts "
            f"({peak['period']}) and stand near {last['median']:.0f} by {last['period']} (median)"
        )
    return ChartData(
        key=f"{scenario}-waiting-list",
        kind="fan",
        title=title,
        caption=f"Trusts referred and waiting for a place at the end of each quarter. {BAND_CAPTION}",
        alt_text=(
            f"Fan chart of trusts waiting to enter the programme by quarter. Median {first['median']:.0f} "
            f"in {first['period']} and {last['median']:.0f} in {last['period']}; in the last quarter "
            f"90% of replications lie between {last['q05']:.0f} and {last['q95']:.0f}."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts waiting",
        meta={},
    )


def waiting_times(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    rows = summary[
        (summary["scenario"] == scenario) & (summary["metric"] == "wait_distribution")
    ].set_index("group")
    table = pd.DataFrame(
        {
            "wait": list(WAIT_BAND_LABELS),
            "median_share": [rows.loc[b, "q50"] for b in WAIT_BAND_LABELS],
            "q05": [rows.loc[b, "q05"] for b in WAIT_BAND_LABELS],
            "q95": [rows.loc[b, "q95"] for b in WAIT_BAND_LABELS],
            "mean_share": [rows.loc[b, "mean"] for b in WAIT_BAND_LABELS],
        }
    )
    over_13 = table["mean_share"].iloc[2:].sum()
    return ChartData(
        key=f"{scenario}-waiting-times",
        kind="distribution",
        title=f"About {over_13:.0%} of trusts admitted wait more than 13 weeks for a place",
        caption=(
            "Completed waits from referral to admission, for trusts admitted during the forecast. "
            "Bars are the median share across replications; lines span 90% of replications."
        ),
        alt_text=(
            "Bar chart of the share of admitted trusts by length of wait: "
            + "; ".join(
                f"{w} {m:.0%}" for w, m in zip(table["wait"], table["median_share"], strict=True)
            )
            + "."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Share of trusts admitted",
        meta={},
    )


def segments(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Average trusts per segment and quarter, by league table, with the published start."""
    rows = summary[
        (summary["scenario"] == scenario)
        & (summary["metric"] == "trusts")
        & (summary["frequency"] == "quarter")
    ]
    parts = rows["group"].str.split("|", expand=True)
    table = pd.DataFrame(
        {
            "league_table": parts[0].to_numpy(),
            "segment": parts[1].str.replace("segment ", "").astype(int).to_numpy(),
            "period": rows["period"].to_numpy(),
            "mean_trusts": rows["mean"].to_numpy(),
        }
    )
    acute = table[(table["league_table"] == "acute")]
    end = acute[acute["period"] == acute["period"].iloc[-1]].set_index("segment")["mean_trusts"]
    observed = observed_segments()
    return ChartData(
        key=f"{scenario}-segments",
        kind="segments",
        title=(
            f"Segments stay close to today's: about {end[4]:.0f} acute trusts in segment 4 "
            f"and {end[5]:.0f} in the programme"
        ),
        caption=(
            "Trusts in each NHS Oversight Framework segment by quarter and league table (average "
            "across replications, so segments add up to the table). Segment 5 is the programme. "
            "Markers show the latest published counts."
        ),
        alt_text=(
            "Three stacked area charts, one per league table, of trusts in segments 1 to 5 by "
            "quarter. In the last quarter the acute table has on average "
            + ", ".join(f"{end[s]:.0f} in segment {s}" for s in range(1, 6))
            + "."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts",
        meta={"observed": observed},
    )


def observed_segments() -> pd.DataFrame:
    """Published segment counts (latest quarter per league table), as in the package data."""
    rows = [
        r
        for r in read_table("segment_distributions.csv")
        if r["league_table"] in ("acute", "non_acute")
    ]
    return pd.DataFrame(
        {
            "league_table": [r["league_table"] for r in rows],
            "segment": [int(r["segment"]) for r in rows],
            "period": [r["data_quarter"] for r in rows],
            "trusts": [float(r["trusts"]) for r in rows],
            "of_rows": [int(r["table_rows"]) for r in rows],
        }
    )


def team_demand(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Support hours asked of and available from each source, per week, by quarter."""
    frames = []
    for source in SOURCES:
        demand = _rows(summary, scenario, "demand_hours", "quarter", source)
        capacity = _rows(summary, scenario, "capacity_hours", "quarter", source)
        weeks = _weeks_per_period(results, scenario, demand["period"])
        frames.append(
            pd.DataFrame(
                {
                    "source": source,
                    "period": demand["period"],
                    "demand_median": demand["q50"] / weeks,
                    "demand_q05": demand["q05"] / weeks,
                    "demand_q95": demand["q95"] / weeks,
                    "capacity": capacity["q50"] / weeks,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    national = table[table["source"] == "national"]
    short = national[national["demand_q95"] > national["capacity"] + 1e-9]
    cuts = _cut_periods(results, scenario)
    if short.empty:
        title = "Demand on the national team stays within its capacity, even after the cut"
    else:
        title = f"Demand on the national team may exceed its capacity in {len(short)} quarters"
    return ChartData(
        key=f"{scenario}-team-demand",
        kind="team",
        title=title,
        caption=(
            "Support hours per week asked of each source by trusts in the programme (median line, "
            "band spans 90% of replications) against the hours available (dashed). The vertical line "
            "marks the change in national team size."
        ),
        alt_text=(
            "Three line charts, one per support source, of hours per week demanded and available by "
            f"quarter. National team demand peaks at a median of {national['demand_median'].max():.0f} "
            f"hours per week against capacity of {national['capacity'].min():.0f} to "
            f"{national['capacity'].max():.0f}."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Hours per week",
        meta={"cuts": cuts},
    )


def _weeks_per_period(results: Results, scenario: str, periods: pd.Series) -> np.ndarray:
    """Weeks in each quarter of the forecast (to turn totals into weekly rates)."""
    start = _start(results, scenario)
    horizon = weeks_between(start, results.scenarios[scenario].end_date)
    weeks = np.arange(int(np.ceil(horizon - 1e-9)))
    labels = [quarter_label(date_at(start, w)) for w in weeks]
    lengths = np.minimum(1.0, horizon - weeks)  # the last week may be part of a week
    per_period = pd.Series(lengths).groupby(labels).sum()
    return per_period.reindex(periods.to_numpy()).to_numpy(dtype=float)


def _cut_periods(results: Results, scenario: str) -> list[dict]:
    scenario_obj = results.scenarios[scenario]
    steps = scenario_obj.team.national.wte_schedule
    out = []
    for before, after in zip(steps, steps[1:], strict=False):
        if scenario_obj.start_date < after.effective_from < scenario_obj.end_date:
            out.append(
                {
                    "period": quarter_label(after.effective_from),
                    "label": f"{before.wte:g} to {after.wte:g} WTE",
                }
            )
    return out


def cost(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Average cost per financial year by source and by payer, in millions of pounds."""
    rows = []
    for group in (*SOURCES, "trusts", "nhs_england"):
        metric = "cost" if group in SOURCES else "cost_by_payer"
        series = _rows(summary, scenario, metric, "year", group)
        for period, mean in zip(series["period"], series["mean"], strict=True):
            rows.append({"period": period, "split": "source" if group in SOURCES else "payer",
                         "group": group, "mean_cost_millions": mean / 1e6})  # fmt: skip
    table = pd.DataFrame(rows)
    by_year = (
        table[table["split"] == "source"].groupby("period", sort=False)["mean_cost_millions"].sum()
    )
    trusts = table[(table["group"] == "trusts")].set_index("period")["mean_cost_millions"]
    full_years = by_year.iloc[1:-1] if len(by_year) > 2 else by_year
    typical = full_years.mean()
    share = (trusts.reindex(full_years.index) / full_years).mean()
    return ChartData(
        key=f"{scenario}-cost",
        kind="cost",
        title=f"Support costs about £{typical:.1f}m a year, {share:.0%} of it paid by the trusts supported",
        caption=(
            "Average cost per financial year across replications, by source of support (left) and "
            "by who pays (right). National team cost is the employment cost of staff in post; other "
            "support is costed by hours delivered."
        ),
        alt_text=(
            "Two stacked bar charts of cost in millions of pounds per financial year: by source "
            "(national team, wider NHS, consultancy) and by payer (trusts, NHS England). Typical "
            f"year £{typical:.1f}m."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="£ million",
        meta={},
    )


def exceedance(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    cap = _rows(summary, scenario, "cap_reached", "quarter")
    team = _rows(summary, scenario, "national_demand_exceeded", "quarter")
    table = pd.DataFrame(
        {
            "period": cap["period"],
            "probability_cap_reached": cap["mean"],
            "probability_national_team_short": team["mean"],
        }
    )
    full = table["probability_cap_reached"].mean()
    short = table["probability_national_team_short"].max()
    return ChartData(
        key=f"{scenario}-exceedance",
        kind="exceedance",
        title=(
            f"The programme reaches its cap in a typical quarter with probability {full:.0%}; "
            + (
                "the national team is never short of hours"
                if short == 0
                else f"the national team is short of hours with probability up to {short:.0%}"
            )
        ),
        caption=(
            "Probability, in each quarter, that the programme is at its cap in any week, and that "
            "demand on the national team exceeds its capacity in any week (share of replications)."
        ),
        alt_text=(
            "Line chart of two probabilities by quarter: the programme at its cap (average "
            f"{full:.0%}) and the national team short of hours (highest {short:.0%})."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Probability",
        meta={},
    )


HEADLINE = (
    ("in_programme", "all", "Trusts in programme (average)"),
    ("waiting", "all", "Trusts waiting (average)"),
    ("admissions", "all", "Admissions (total)"),
    ("mean_wait_weeks", "all", "Mean wait of those admitted (weeks)"),
    ("utilisation", "national", "National team utilisation (points)"),
    ("cost", "total", "Total cost (£m)"),
)


def comparison(results: Results, baseline: str) -> ChartData:
    """Whole-horizon paired differences from the baseline, with 95% intervals."""
    differences = paired_differences(results, baseline)
    horizon = differences[differences["frequency"] == "horizon"]
    rows = []
    for metric, group, label in HEADLINE:
        scale = 1e-6 if metric == "cost" else (100.0 if metric == "utilisation" else 1.0)
        for row in horizon[
            (horizon["metric"] == metric) & (horizon["group"] == group)
        ].itertuples():
            rows.append({"measure": label, "scenario": row.scenario,
                         "mean_difference": row.mean_difference * scale,
                         "ci_low": row.ci_low * scale, "ci_high": row.ci_high * scale})  # fmt: skip
    table = pd.DataFrame(rows)
    waiting = table[table["measure"] == "Trusts waiting (average)"].set_index("scenario")[
        "mean_difference"
    ]
    best = waiting.idxmin() if len(waiting) else None
    title = (
        f"{best} shortens the waiting list most: {abs(waiting[best]):.1f} fewer trusts waiting on "
        f"average than {baseline}"
        if best is not None and waiting[best] < 0
        else f"No scenario shortens the waiting list compared with {baseline}"
    )
    return ChartData(
        key=f"comparison-vs-{baseline}",
        kind="comparison",
        title=title,
        caption=(
            f"Difference from {baseline} over the whole forecast, replication by replication under the "
            "same random numbers (paired). Dots are mean differences; lines are 95% confidence intervals."
        ),
        alt_text=(
            f"Dot and interval chart of differences from {baseline} for "
            + ", ".join(dict.fromkeys(table["scenario"]))
            + " on six measures: "
            + ", ".join(label for _, _, label in HEADLINE)
            + "."
        ),
        footnote=(
            f"Scenarios: {', '.join(results.scenarios)}. {results.replications} replications, seed "
            f"{results.manifest.get('seed', 'unknown')}. {DATA_SOURCES}"
        ),
        table=table,
        y_label="Difference from baseline",
        meta={"baseline": baseline},
    )


MAX_SCENARIO_CHARTS = 8
"""Scenarios given their own charts in a pack (a sweep may have hundreds)."""
MAX_COMPARED = 12
"""Scenarios drawn in the comparison chart."""


def chart_set(results: Results, baseline: str | None = None) -> list[ChartData]:
    """Every chart of a chart pack: per scenario (the first :data:`MAX_SCENARIO_CHARTS`),
    then the comparison of up to :data:`MAX_COMPARED` scenarios with the baseline."""
    names = list(results.scenarios)
    baseline = baseline or names[0]
    shown = [baseline] + [n for n in names if n != baseline][: MAX_SCENARIO_CHARTS - 1]
    if len(names) > 1:
        compared = [baseline] + [n for n in names if n != baseline][:MAX_COMPARED]
        results = Results(
            {n: results.scenarios[n] for n in names if n in shown or n in compared},
            {n: results.keys[n] for n in names if n in shown or n in compared},
            {n: results.values[n] for n in names if n in shown or n in compared},
            results.manifest,
        )
    summary = results.summary()
    charts = []
    for scenario in shown:
        for build in (
            caseload_fan,
            waiting_fan,
            waiting_times,
            segments,
            team_demand,
            cost,
            exceedance,
        ):
            charts.append(build(results, summary, scenario))
    if len(names) > 1:
        only_compared = Results(
            {n: results.scenarios[n] for n in compared},
            {n: results.keys[n] for n in compared},
            {n: results.values[n] for n in compared},
            results.manifest,
        )
        charts.append(comparison(only_compared, baseline))
    return charts


__all__ = ["ChartData", "chart_set", "LEAGUE_TABLES", "TABLE_LABELS", "SOURCE_LABELS"]
