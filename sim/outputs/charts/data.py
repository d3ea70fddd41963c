"""What each chart shows: the data behind it and the words around it.

Every number a chart draws, and every sentence that states a finding, is computed here from
:class:`~sim.results.tables.Results`; :mod:`sim.outputs.charts.draw` only draws what it is given. Each
builder returns a :class:`ChartData` whose ``table`` is exactly what the chart plots (it is
published beside the chart as CSV).

Every number in a title, caption or alt text is computed from that table, by the run
summary's definitions (:mod:`sim.outputs.summary`): "short in X% of replications" is the share
of replications in which the national team is short at any time; each title says whether
it quotes a median or a mean. Time-based tables carry ``period_start`` and ``period_end``
(first and last day of the period, clipped to the forecast): stocks are drawn at
``period_end`` (30 June for Q1), per-period figures as steps across the period.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.analysis.compare import paired_differences
from sim.calendar import DAYS_PER_WEEK
from sim.data import read_table
from sim.experiment.layout import WAIT_BAND_LABELS, WAIT_BANDS_WEEKS, WAIT_THRESHOLD_WEEKS
from sim.results.tables import Results
from sim.vocabulary import LEAGUE_TABLES, SOURCES

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
    """Which drawing function draws it (see :data:`sim.outputs.charts.draw.DRAWERS`)."""
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


# -------------------------------------------------------------------------- dates


def _add_months(date: dt.date, months: int) -> dt.date:
    index = date.year * 12 + date.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_dates(
    label: str, start: dt.date = dt.date.min, end: dt.date = dt.date.max
) -> tuple[dt.date, dt.date]:
    """First and last day of a period label, clipped to the forecast ``[start, end)``.

    Labels are those of :mod:`sim.experiment.layout`: a month ('2027-05'), a financial quarter
    ('2027/28 Q1', 1 April to 30 June) or a financial year ('2027/28', 1 April to 31 March).
    """
    try:
        if " Q" in label:
            year, quarter = label.split(" Q")
            first, months = _add_months(dt.date(int(year[:4]), 4, 1), 3 * (int(quarter) - 1)), 3
        elif "/" in label:
            first, months = dt.date(int(label[:4]), 4, 1), 12
        else:
            first, months = dt.date(int(label[:4]), int(label[5:7]), 1), 1
    except ValueError as error:
        raise ValueError(f"period label {label!r} is not a month, quarter or year") from error
    after = _add_months(first, months)
    return max(first, start), min(after, end) - dt.timedelta(days=1)


def _with_dates(table: pd.DataFrame, results: Results, scenario: str) -> pd.DataFrame:
    """``table`` with the first and last day of each row's period (clipped to the forecast).

    Stocks are drawn at ``period_end`` (the state on 30 June for Q1), flows and averages
    across the period from ``period_start`` to ``period_end``.
    """
    bounds = [period_dates(p, _start(results, scenario), _end(results, scenario))
              for p in table["period"]]  # fmt: skip
    table = table.copy()
    position = list(table.columns).index("period") + 1
    table.insert(position, "period_start", [b[0] for b in bounds])
    table.insert(position + 1, "period_end", [b[1] for b in bounds])
    return table.reset_index(drop=True)


def _end(results: Results, scenario: str) -> dt.date:
    """The day after the forecast's last day."""
    return results.scenarios[scenario].end_date


def _day(date: dt.date) -> str:
    """'30 Jun 2026'."""
    return f"{date.day} {date:%b %Y}"


def _time_meta(results: Results, scenario: str) -> dict:
    return {"start": _start(results, scenario), "end": _end(results, scenario)}


# ------------------------------------------------------------------------ builders


def caseload_fan(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Trusts in the programme at each quarter's end, with the cap and the published size."""
    table = _with_dates(_fan_table(_rows(summary, scenario, "in_programme", "quarter")),
                        results, scenario)  # fmt: skip
    cap = results.scenarios[scenario].programme.cap
    medians = table["median"].to_numpy()
    low, high = int(np.floor(medians.min())), int(np.ceil(medians.max()))
    at_cap = int(np.sum(medians >= cap)) if cap is not None else 0
    if cap is not None and at_cap == len(medians):
        title = f"The programme is full, at its cap of {cap} trusts, at the end of every quarter (median)"
    elif at_cap:
        title = (
            f"The programme is full, at its cap of {cap} trusts, at the end of {at_cap} of "
            f"{len(medians)} quarters (median)"
        )
    elif cap is not None:
        title = (
            f"The programme holds {low} to {high} trusts at quarter ends (median), below its "
            f"cap of {cap}"
        )
    else:
        title = f"With no cap, the programme holds {low} to {high} trusts at quarter ends (median)"
    observed = observed_caseload(_start(results, scenario))
    first, last = table.iloc[0], table.iloc[-1]
    alt = (
        f"Fan chart of trusts in the Provider Improvement Programme at the end of each quarter, "
        f"{_day(first['period_end'])} to {_day(last['period_end'])}. Median {first['median']:.0f} "
        f"on {_day(first['period_end'])} and {last['median']:.0f} on {_day(last['period_end'])}; "
        f"90% of replications between {last['q05']:.0f} and {last['q95']:.0f} on the last date."
        + (f" A dashed line marks the cap of {cap}." if cap is not None else "")
        + "".join(f" A marker shows the published {label}." for label in observed["label"])
    )
    return ChartData(
        key=f"{scenario}-caseload",
        kind="fan",
        title=title,
        caption=(
            "Trusts in the programme (segment 5) at the end of each quarter (30 June, "
            f"30 September, 31 December, 31 March). {BAND_CAPTION}"
        ),
        alt_text=alt,
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts in the programme",
        meta={"cap": cap, "observed": observed, **_time_meta(results, scenario)},
    )


def _month_date(text: str) -> dt.date:
    """'2025-10' or '2025-10-04' -> the date (the 1st when only the month is known)."""
    parts = [int(p) for p in text.strip().split("-")]
    return dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def observed_caseload(start: dt.date) -> pd.DataFrame:
    """Published figures on the programme's size that fall before the forecast starts.

    The first wave's size is the ``pip_expected_first_entrants`` row of
    ``programme_facts.csv``; it is placed at the first PIP entry in
    ``programme_history.csv`` (when the first wave went in). Columns: date, value, label,
    source.
    """
    rows = []
    facts = read_table("programme_facts.csv")
    entries = [
        _month_date(r["date"])
        for r in read_table("programme_history.csv")
        if r["regime"] == "pip" and r["event"] in ("entry", "re-entry")
    ]
    source = ""
    for row in facts:
        source = source if row["source"].strip() == "same" else row["source"].strip()
        size = re.match(r"\s*(?:about\s+)?(\d+(?:\.\d+)?)", row["value"])
        if row["measure"] != "pip_expected_first_entrants" or not size or not entries:
            continue
        entered, announced = min(entries), _month_date(row["date"])
        rows.append({"date": entered, "value": float(size.group(1)),
                     "label": f"first wave, about {float(size.group(1)):g} trusts (expected "
                              f"{announced:%B %Y}; first entries {entered:%B %Y})",
                     "source": source})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["date", "value", "label", "source"])
    return frame[[d < start for d in frame["date"]]].reset_index(drop=True)


def waiting_fan(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    table = _with_dates(_fan_table(_rows(summary, scenario, "waiting", "quarter")),
                        results, scenario)  # fmt: skip
    first, last = table.iloc[0], table.iloc[-1]
    peak = table.loc[table["median"].idxmax()]
    if peak["median"] == 0:
        title = (
            "The median waiting list is empty at every quarter end; in the busiest 5% of "
            f"replications up to {table['q95'].max():.0f} trusts wait"
        )
    else:
        title = (
            f"The waiting list peaks at a median of {peak['median']:.0f} trusts "
            + ("first " if (table["median"] == peak["median"]).sum() > 1 else "")
            + f"on {_day(peak['period_end'])} and stands at {last['median']:.0f} on "
            f"{_day(last['period_end'])}"
        )
    return ChartData(
        key=f"{scenario}-waiting-list",
        kind="fan",
        title=title,
        caption=(
            "Trusts referred and waiting for a place at the end of each quarter (30 June, "
            f"30 September, 31 December, 31 March). {BAND_CAPTION}"
        ),
        alt_text=(
            f"Fan chart of trusts waiting to enter the programme at the end of each quarter. "
            f"Median {first['median']:.0f} on {_day(first['period_end'])} and "
            f"{last['median']:.0f} on {_day(last['period_end'])}; on the last date 90% of "
            f"replications lie between {last['q05']:.0f} and {last['q95']:.0f}."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts waiting",
        meta=_time_meta(results, scenario),
    )


def waiting_times(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Completed waits by band: the mean share across replications (bars add up to 100%)."""
    rows = summary[
        (summary["scenario"] == scenario) & (summary["metric"] == "wait_distribution")
    ].set_index("group")
    table = pd.DataFrame(
        {
            "wait": list(WAIT_BAND_LABELS),
            "mean_share": [rows.loc[b, "mean"] for b in WAIT_BAND_LABELS],
            "q05": [rows.loc[b, "q05"] for b in WAIT_BAND_LABELS],
            "q95": [rows.loc[b, "q95"] for b in WAIT_BAND_LABELS],
        }
    )
    # bands from 13 weeks up (the band edges are WAIT_BANDS_WEEKS; 13 is the third edge)
    long = [i for i, edge in enumerate(WAIT_BANDS_WEEKS[:-1]) if edge >= WAIT_THRESHOLD_WEEKS]
    over_13 = table["mean_share"].iloc[long].sum()
    admitted = int(rows["replications"].max()) if len(rows) else 0
    return ChartData(
        key=f"{scenario}-waiting-times",
        kind="distribution",
        title=(
            f"On average {over_13:.0%} of trusts admitted wait 13 weeks or more for a place"
            if admitted
            else "No trust is admitted from the waiting list in any replication"
        ),
        caption=(
            "Completed waits from referral to admission, for trusts admitted during the forecast. "
            "Bars are each band's share of a replication's admissions, averaged across the "
            f"{admitted} replications with an admission, so they add up to 100%; lines span 90% "
            "of those replications."
        ),
        alt_text=(
            "Bar chart of the average share of admitted trusts by length of wait: "
            + "; ".join(
                f"{w} {m:.0%}" for w, m in zip(table["wait"], table["mean_share"], strict=True)
            )
            + "."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Share of trusts admitted",
        meta={},
    )


def segments(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Average trusts per segment and quarter, by league table, with the published start.

    Segments are set at each quarterly assessment (the first at the start date) and hold
    until the next, so each row applies from ``period_start`` to ``period_end``.
    """
    rows = summary[
        (summary["scenario"] == scenario)
        & (summary["metric"] == "trusts")
        & (summary["frequency"] == "quarter")
    ]
    parts = rows["group"].str.split("|", expand=True)
    table = _with_dates(
        pd.DataFrame(
            {
                "league_table": parts[0].to_numpy(),
                "segment": parts[1].str.replace("segment ", "").astype(int).to_numpy(),
                "period": rows["period"].to_numpy(),
                "mean_trusts": rows["mean"].to_numpy(),
            }
        ),
        results,
        scenario,
    )
    periods = list(dict.fromkeys(table["period"]))
    first, last = periods[0], periods[-1]

    def total(period: str, segment: int, league_table: str | None = None) -> float:
        mask = (table["period"] == period) & (table["segment"] == segment)
        if league_table is not None:
            mask &= table["league_table"] == league_table
        return float(table.loc[mask, "mean_trusts"].sum())

    acute_4 = (total(first, 4, "acute"), total(last, 4, "acute"))
    programme = (total(first, 5), total(last, 5))
    last_date = table.loc[table["period"] == last, "period_start"].iloc[0]
    acute_end = [total(last, s, "acute") for s in range(1, 6)]
    return ChartData(
        key=f"{scenario}-segments",
        kind="segments",
        title=(
            f"By the assessment of {_day(last_date)}: about {acute_4[1]:.0f} acute trusts in "
            f"segment 4 (from {acute_4[0]:.0f}) and {programme[1]:.0f} trusts in the programme "
            f"across all tables (from {programme[0]:.0f}), on average"
        ),
        caption=(
            "Trusts in each NHS Oversight Framework segment by league table, as set at each "
            "quarterly assessment and held until the next (average across replications, so "
            "segments add up to the table). Segment 5 is the programme. Black lines show the "
            "latest published counts, scaled to the table's size, in the quarter they describe."
        ),
        alt_text=(
            "Three stacked area charts, one per league table, of trusts in segments 1 to 5 by "
            f"quarter. At the assessment of {_day(last_date)} the acute table has on average "
            + ", ".join(
                f"{n:.0f} in segment {s}" for s, n in zip(range(1, 6), acute_end, strict=True)
            )
            + f"; {programme[1]:.0f} trusts are in the programme (segment 5) across all tables."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts",
        meta={"observed": observed_segments(), **_time_meta(results, scenario)},
    )


def observed_segments() -> pd.DataFrame:
    """Published segment counts (latest quarter per league table), as in the package data,
    with the first and last day of the quarter they describe."""
    rows = [
        r
        for r in read_table("segment_distributions.csv")
        if r["league_table"] in ("acute", "non_acute")
    ]
    bounds = [period_dates(r["data_quarter"]) for r in rows]
    return pd.DataFrame(
        {
            "league_table": [r["league_table"] for r in rows],
            "segment": [int(r["segment"]) for r in rows],
            "period": [r["data_quarter"] for r in rows],
            "period_start": [b[0] for b in bounds],
            "period_end": [b[1] for b in bounds],
            "trusts": [float(r["trusts"]) for r in rows],
            "of_rows": [int(r["table_rows"]) for r in rows],
        }
    )


def team_demand(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Support hours asked of and available from each source, per week, by quarter.

    Hours are each quarter's totals divided by its length in weeks (its days / 7), so a
    quarter's figure is its average week. Whether the national team is short uses the run
    summary's definition: short at any time in the forecast, as a share of replications.
    """
    frames = []
    for source in SOURCES:
        demand = _rows(summary, scenario, "demand_hours", "quarter", source)
        capacity = _rows(summary, scenario, "capacity_hours", "quarter", source)
        frame = _with_dates(pd.DataFrame({"source": source, "period": demand["period"]}),
                            results, scenario)  # fmt: skip
        weeks = np.array([((e - s).days + 1) / DAYS_PER_WEEK
                          for s, e in zip(frame["period_start"], frame["period_end"], strict=True)])  # fmt: skip
        frame["demand_median"] = demand["q50"].to_numpy() / weeks
        frame["demand_q05"] = demand["q05"].to_numpy() / weeks
        frame["demand_q95"] = demand["q95"].to_numpy() / weeks
        frame["capacity"] = capacity["q50"].to_numpy() / weeks
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    national = table[table["source"] == "national"].reset_index(drop=True)
    short = float(_happened_by_end(results, scenario, "national_demand_exceeded").iloc[-1])
    cuts = _cuts(results, scenario)
    peak = national.loc[national["demand_median"].idxmax()]
    if short == 0:
        title = (
            "Demand on the national team stays within its capacity at all times in every "
            "replication" + (", even after the cut" if cuts else "")
        )
    else:
        title = (
            f"The national team is short of hours at some time in {short:.0%} of replications; "
            f"median demand peaks at {peak['demand_median']:.0f} hours a week against "
            f"{peak['capacity']:.0f} available"
        )
    return ChartData(
        key=f"{scenario}-team-demand",
        kind="team",
        title=title,
        caption=(
            "Support hours per week asked of each source by trusts in the programme (median, "
            "band spans 90% of replications) against the hours available (dashed), averaged over "
            "each quarter. A quarter's average can sit below capacity while demand exceeds it for "
            "part of the quarter; the share of replications short at any time is in the title. "
            "The dotted vertical line marks the date the national team's size changes."
        ),
        alt_text=(
            "Three step charts, one per support source, of the average hours per week demanded "
            "and available in each quarter. National team demand peaks at a median of "
            f"{peak['demand_median']:.0f} hours per week in {peak['period']} against capacity of "
            f"{national['capacity'].min():.0f} to {national['capacity'].max():.0f}; "
            + (
                f"the team is short at some time in {short:.0%} of replications."
                if short
                else "the team is never short in any replication."
            )  # fmt: skip
            + "".join(f" {cut['label']}." for cut in cuts)
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Hours per week",
        meta={"cuts": cuts, "share_short": short, **_time_meta(results, scenario)},
    )


def _happened_by_end(results: Results, scenario: str, metric: str) -> pd.Series:
    """By each quarter's end, the share of replications in which ``metric`` (1 if it
    happened at any time in the quarter) has happened at least once.

    The last value is the share of replications in which it happens at all: the run
    summary's "first full" and "first short of hours" share.
    """
    keys = results.keys[scenario]
    mask = keys.select(metric, "quarter", "all")
    flags = np.nan_to_num(results.values[scenario][:, mask]) > 0
    so_far = np.logical_or.accumulate(flags, axis=1)
    return pd.Series(so_far.mean(axis=0), index=keys.period[mask])


def _cuts(results: Results, scenario: str) -> list[dict]:
    """Changes of national team size inside the forecast: date and a label."""
    scenario_obj = results.scenarios[scenario]
    steps = scenario_obj.team.national.wte_schedule
    out = []
    for before, after in zip(steps, steps[1:], strict=False):
        if scenario_obj.start_date < after.effective_from < scenario_obj.end_date:
            out.append(
                {
                    "date": after.effective_from,
                    "label": f"National team {before.wte:g} to {after.wte:g} WTE from "
                    f"{_day(after.effective_from)}",
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
    table = _with_dates(pd.DataFrame(rows), results, scenario)
    by_year = (
        table[table["split"] == "source"].groupby("period", sort=False)["mean_cost_millions"].sum()
    )
    trusts = table[(table["group"] == "trusts")].set_index("period")["mean_cost_millions"]
    # the title's typical year: whole financial years only (a part-year costs less)
    whole = [p for p in by_year.index if (period_dates(p) == period_dates(
        p, _start(results, scenario), _end(results, scenario)))]  # fmt: skip
    years = whole or list(by_year.index)
    typical = by_year[years].mean()
    share = trusts[years].sum() / by_year[years].sum()
    span = years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"
    return ChartData(
        key=f"{scenario}-cost",
        kind="cost",
        title=(
            f"Support costs about £{typical:.1f}m a year on average, {share:.0%} of it paid by "
            "the trusts supported"
        ),
        caption=(
            "Mean cost per financial year across replications, by source of support (left) and "
            "by who pays (right). National team cost is the employment cost of staff in post; "
            "other support is costed by hours delivered. The title's yearly figure and share are "
            f"over the {'whole ' if whole else ''}financial years {span}."
        ),
        alt_text=(
            "Two stacked bar charts of mean cost in millions of pounds per financial year: by "
            "source (national team, wider NHS, consultancy) and by payer (trusts, NHS England). "
            f"Mean £{typical:.1f}m a year over {span}, {share:.0%} paid by trusts."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="£ million",
        meta={"title_years": years},
    )


def exceedance(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Per quarter, the probability the programme is full or the national team short at
    any time in it; and the share of replications in which either has happened so far."""
    cap = _rows(summary, scenario, "cap_reached", "quarter")
    team = _rows(summary, scenario, "national_demand_exceeded", "quarter")
    full_by = _happened_by_end(results, scenario, "cap_reached")
    short_by = _happened_by_end(results, scenario, "national_demand_exceeded")
    table = _with_dates(
        pd.DataFrame(
            {
                "period": cap["period"],
                "probability_cap_reached": cap["mean"],
                "probability_national_team_short": team["mean"],
                "cap_reached_by_end": full_by.reindex(cap["period"]).to_numpy(),
                "national_team_short_by_end": short_by.reindex(cap["period"]).to_numpy(),
            }
        ),
        results,
        scenario,
    )
    full, short = table["cap_reached_by_end"].iloc[-1], table["national_team_short_by_end"].iloc[-1]
    worst = table.loc[table["probability_national_team_short"].idxmax()]
    return ChartData(
        key=f"{scenario}-exceedance",
        kind="exceedance",
        title=(
            f"The programme is full at some time in {full:.0%} of replications; "
            + (
                "the national team is never short of hours"
                if short == 0
                else f"the national team is short of hours at some time in {short:.0%}"
            )
        ),
        caption=(
            "Steps: the probability, in each quarter, that the programme is at its cap, or demand "
            "on the national team above its capacity, at any time in the quarter. Lines with "
            "markers: the share of replications in which it has happened at least once by the "
            "quarter's end. Probabilities are shares of replications."
        ),
        alt_text=(
            "Step and line chart of probabilities by quarter. By the end of the forecast the "
            f"programme has been full in {full:.0%} of replications and the national team short "
            f"of hours in {short:.0%}"
            + (
                f"; the national team is most likely to be short in {worst['period']} "
                f"({worst['probability_national_team_short']:.0%})."
                if short
                else "."
            )
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Probability (share of replications)",
        meta=_time_meta(results, scenario),
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
    waiting = table[table["measure"] == "Trusts waiting (average)"].set_index("scenario")
    # a scenario shortens the list only if its whole 95% interval is below zero
    shorter = waiting[waiting["ci_high"] < 0]["mean_difference"]
    best = shorter.idxmin() if len(shorter) else None
    title = (
        f"{best} shortens the waiting list most: {abs(shorter[best]):.1f} fewer trusts waiting on "
        f"average than {baseline}"
        if best is not None
        else f"No scenario clearly shortens the waiting list compared with {baseline} "
        "(every 95% interval reaches zero or above)"
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
