"""One scenario's forecast charts: caseload, waiting list, waiting times, segments, demand on
the support teams, cost, and the chance of a full programme or a short national team.

Every number each chart draws, and every sentence that states a finding, is computed here
from :class:`~sim.results.tables.Results` and its summary table; each builder returns a
:class:`~sim.outputs.charts.data.ChartData` whose ``table`` is exactly what the chart plots
(it is published beside the chart as CSV). Draws nothing and writes nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calendar import DAYS_PER_WEEK
from sim.experiment.layout import WAIT_BAND_LABELS, WAIT_BANDS_WEEKS, WAIT_THRESHOLD_WEEKS
from sim.outputs.charts.data import (
    COVERAGE,
    FAN_BANDS,
    ChartData,
    band_caption,
    day_text,
    fan_subtitle,
    fan_table,
    footnote,
    forecast_end,
    forecast_span,
    forecast_start,
    observed_segments,
    period_dates,
    published_caseload,
    summary_rows,
    time_meta,
    with_dates,
)
from sim.outputs.charts.regions import regions
from sim.results.tables import Results
from sim.vocabulary import PAYERS, PROVIDERS, SOURCES


def caseload_fan(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Trusts in the programme at each quarter's end, with the cap and the published size."""
    table = with_dates(fan_table(summary_rows(summary, scenario, "in_programme", "quarter")),
                        results, scenario)  # fmt: skip
    cap = results.scenarios[scenario].programme.cap
    medians = table["median"].to_numpy()
    low, high = int(np.floor(medians.min())), int(np.ceil(medians.max()))
    at_cap = int(np.sum(medians >= cap)) if cap is not None else 0
    if cap is not None and at_cap == len(medians):
        title = f"The programme is full, at its cap of {cap} trusts, at every quarter end"
    elif at_cap:
        title = f"The programme is at its cap of {cap} trusts at {at_cap} of {len(medians)} quarter ends"
    elif cap is not None:
        title = f"The programme holds {low} to {high} trusts, below its cap of {cap}"
    else:
        title = f"With no cap, the programme holds {low} to {high} trusts"
    start = forecast_start(results, scenario)
    observed = published_caseload(start, results.scenarios[scenario].horizon_years)
    first, last = table.iloc[0], table.iloc[-1]
    alt = (
        f"Fan chart of trusts in the Provider Improvement Programme at the end of each quarter, "
        f"{day_text(first['period_end'])} to {day_text(last['period_end'])}. Median {first['median']:.0f} "
        f"on {day_text(first['period_end'])} and {last['median']:.0f} on {day_text(last['period_end'])}; "
        f"{_outer_words(last)} on the last date."
        + (f" A dashed line marks the cap of {cap}." if cap is not None else "")
        + _history_words(observed, start)
    )
    return ChartData(
        key=f"{scenario}-caseload",
        kind="fan",
        title=title,
        subtitle=fan_subtitle(results, "Trusts in the programme at the end of each quarter", table),
        caption=(
            "Trusts in the programme (segment 5) at the end of each quarter (30 June, "
            f"30 September, 31 December, 31 March). {band_caption(results)}"
            + _history_words(observed, start)
        ),
        alt_text=alt,
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts in the programme",
        meta={"cap": cap, "observed": observed, **time_meta(results, scenario)},
    )


def _outer_words(row: pd.Series) -> str:
    """'80% of replications between 8 and 15': the graded fan's widest band in one period."""
    low, high = FAN_BANDS[0]
    return (f"{high - low}% of replications between {row[f'q{low:02d}']:.0f} and "
            f"{row[f'q{high:02d}']:.0f}")  # fmt: skip


def _history_words(observed: pd.DataFrame, start) -> str:
    """The published counts drawn before the forecast starts, in one sentence ('' if none)."""
    if observed.empty:
        return ""
    return (
        f" Left of the dotted line, where the forecast starts ({day_text(start)}), points are "
        "published counts: " + "; ".join(observed["label"]) + "."
    )


def waiting_fan(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    table = with_dates(fan_table(summary_rows(summary, scenario, "waiting", "quarter")),
                        results, scenario)  # fmt: skip
    first, last = table.iloc[0], table.iloc[-1]
    peak = table.loc[table["median"].idxmax()]
    outer = f"q{FAN_BANDS[0][1]:02d}"
    if peak["median"] == 0 and table[outer].max() == 0:
        title = (f"The waiting list is empty at every quarter end in at least "
                 f"{FAN_BANDS[0][1]}% of replications")  # fmt: skip
    elif peak["median"] == 0:
        busiest = table.loc[table[outer].idxmax()]
        title = (
            f"The waiting list is mostly empty; in {100 - FAN_BANDS[0][1]}% of replications "
            f"{busiest[outer]:.0f} or more wait on {day_text(busiest['period_end'])}"
        )
    elif last["median"] == peak["median"]:
        title = (f"The waiting list grows to {last['median']:.0f} trusts by "
                 f"{day_text(last['period_end'])}")  # fmt: skip
    else:
        title = (
            f"The waiting list peaks at {peak['median']:.0f} trusts on "
            f"{day_text(peak['period_end'])}, ending at {last['median']:.0f}"
        )
    return ChartData(
        key=f"{scenario}-waiting-list",
        kind="fan",
        title=title,
        subtitle=fan_subtitle(
            results, "Trusts referred and waiting for a place at the end of each quarter", table
        ),
        caption=(
            "Trusts referred and waiting for a place at the end of each quarter (30 June, "
            f"30 September, 31 December, 31 March). {band_caption(results)}"
        ),
        alt_text=(
            f"Fan chart of trusts waiting to enter the programme at the end of each quarter. "
            f"Median {first['median']:.0f} on {day_text(first['period_end'])} and "
            f"{last['median']:.0f} on {day_text(last['period_end'])}; on the last date "
            f"{_outer_words(last)}."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts waiting",
        meta=time_meta(results, scenario),
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
        subtitle=(
            f"Completed waits from referral to admission, {COVERAGE} admitted from "
            f"{forecast_span(results, scenario)}. Mean share of admissions across the "
            f"{admitted} replications with an admission, and the range of 90% of them."
        ),
        title=(
            f"On average {over_13:.0%} of trusts admitted wait 13 weeks or more"
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
    table = with_dates(
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
    first_date = table.loc[table["period"] == first, "period_start"].iloc[0]
    acute_end = [total(last, s, "acute") for s in range(1, 6)]
    return ChartData(
        key=f"{scenario}-segments",
        kind="segments",
        title=(
            f"Segment 4 acute trusts {_move(*acute_4)}; the programme "
            f"{_move(*programme, up='grows')}"
        ),
        subtitle=(
            "Trusts in each NHS Oversight Framework segment, by league table, at each quarterly "
            f"assessment from {day_text(first_date)} to {day_text(last_date)}, {COVERAGE}. Mean of "
            f"{results.replications} replications; the programme is segment 5 of every table."
        ),
        caption=(
            "Trusts in each NHS Oversight Framework segment by league table, as set at each "
            "quarterly assessment and held until the next (average across replications, so "
            "segments add up to the table). Segment 5 is the programme. Black lines show the "
            "latest published counts, scaled to the table's size, in the quarter they describe."
        ),
        alt_text=(
            "Three stacked area charts, one per league table, of trusts in segments 1 to 5 by "
            f"quarter. At the assessment of {day_text(last_date)} the acute table has on average "
            f"{acute_4[1]:.0f} trusts in segment 4 (from {acute_4[0]:.0f}): "
            + ", ".join(
                f"{n:.0f} in segment {s}" for s, n in zip(range(1, 6), acute_end, strict=True)
            )
            + f"; {programme[1]:.0f} trusts are in the programme (segment 5) across all tables."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label="Trusts",
        meta={"observed": observed_segments(), **time_meta(results, scenario)},
    )


def _move(first: float, last: float, up: str = "rise", down: str = "fall") -> str:
    """'fall from 29 to 26', 'rise from 10 to 14', 'stay at 15': two numbers as drawn (whole
    numbers) and the way they move."""
    a, b = f"{first:.0f}", f"{last:.0f}"
    if a == b:
        return f"stay at {a}" if up == "rise" else f"stays at {a}"
    if up != "rise":  # a singular subject
        up, down = up, ("falls" if down == "fall" else down)
    return f"{up if float(b) > float(a) else down} from {a} to {b}"


def team_demand(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Support hours asked of and available from each source, per week, by quarter.

    Hours are each quarter's totals divided by its length in weeks (its days / 7), so a
    quarter's figure is its average week. Whether the national team is short uses the run
    summary's definition: short at any time in the forecast, as a share of replications.
    """
    frames = []
    for source in SOURCES:
        demand = summary_rows(summary, scenario, "demand_hours", "quarter", source)
        capacity = summary_rows(summary, scenario, "capacity_hours", "quarter", source)
        frame = with_dates(pd.DataFrame({"source": source, "period": demand["period"]}),
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
        title = ("The national team has the hours it needs in every replication"
                 + (", even after the cut" if cuts else ""))  # fmt: skip
    else:
        title = f"The national team is short of hours at some time in {short:.0%} of replications"
    peak_words = (f"Median demand on the national team peaks at {peak['demand_median']:.0f} hours "
                  f"a week against {peak['capacity']:.0f} available ({peak['period']}).")  # fmt: skip
    return ChartData(
        key=f"{scenario}-team-demand",
        kind="team",
        title=title,
        subtitle=(
            "Support hours a week asked of each source by trusts in the programme, and the hours "
            f"available, averaged over each quarter, {forecast_span(results, scenario)}. Median "
            f"and range of 90% of {results.replications} replications."
        ),
        caption=(
            f"{peak_words} Lines: median demand; bands: 90% of replications; dashed: the hours "
            "available. A quarter's average can sit below capacity while demand exceeds it for "
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
        meta={"cuts": cuts, "share_short": short, **time_meta(results, scenario)},
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
                    f"{day_text(after.effective_from)}",
                }
            )
    return out


COST_SERIES = (
    *(("source", group, "cost") for group in PROVIDERS),
    *(("payer", group, "cost_by_payer") for group in PAYERS),
    ("total", "total", "cost"),
    ("cash", "total", "cost_cash"),
)
"""(split, group, metric) of each series the cost chart draws: by provider and by payer in
base-year prices, the total in those prices and the total in cash terms."""
COST_QUANTILES = {"q05": "q05", "q25": "q25", "q50": "median", "q75": "q75", "q95": "q95"}


def cost(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Cost per financial year in millions of pounds, in the scenario's base-year prices:
    mean by provider and by payer, and the median, 50% and 90% ranges across replications
    of each payer's cost and of the total; the mean total in cash terms beside them."""
    frames = []
    for split, group, metric in COST_SERIES:
        series = summary_rows(summary, scenario, metric, "year", group)
        frame = series[["period", "mean", *COST_QUANTILES]].rename(columns=COST_QUANTILES)
        frame[frame.columns[1:]] = frame[frame.columns[1:]] / 1e6
        frames.append(frame.rename(columns={"mean": "mean_cost_millions"})
                      .assign(split=split, group=group))  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    table = with_dates(table[["period", "split", "group", "mean_cost_millions",
                              *COST_QUANTILES.values()]], results, scenario)  # fmt: skip
    by_year = (
        table[table["split"] == "source"].groupby("period", sort=False)["mean_cost_millions"].sum()
    )
    periods = list(by_year.index)
    trusts = table[(table["group"] == "trusts")].set_index("period")["mean_cost_millions"]
    cash = table[table["split"] == "cash"].set_index("period")["mean_cost_millions"]
    # the title's typical year: whole financial years only (a part-year costs less)
    whole = [p for p in by_year.index if (period_dates(p) == period_dates(
        p, forecast_start(results, scenario), forecast_end(results, scenario)))]  # fmt: skip
    years = whole or list(by_year.index)
    typical = by_year[years].mean()
    share = trusts[years].sum() / by_year[years].sum()
    span = years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"
    prices = results.scenarios[scenario].price_basis()
    base, inflation = prices.base_year, prices.inflation_per_year
    total = table[table["split"] == "total"]
    widest = float((total["q95"] - total["q05"]).max())
    if cash.empty:  # results written before costs in cash terms were recorded
        in_cash, inflation = "", 0.0
    elif inflation:
        in_cash = (
            f"Diamonds: mean total in cash terms, prices rising {inflation:.1%} a year from "
            f"{base} (£{cash[years].mean():.1f}m a year over {span})."
        )
    else:
        in_cash = f"No inflation is assumed: cash terms are {base} prices."
    return ChartData(
        key=f"{scenario}-cost",
        kind="cost",
        title=(
            f"Support costs about £{typical:.1f}m a year in {base} prices; trusts pay {share:.0%}"
        ),
        subtitle=(
            f"Cost of support per financial year, {COVERAGE}, {periods[0]} to {periods[-1]}, in "
            f"{base} prices. Mean by provider and by payer; median, 50% and 90% ranges of "
            f"{results.replications} replications."
        ),
        caption=(
            f"Cost per financial year in {base} prices. Bars: mean cost by provider (left, "
            "stacked) and by payer (right); national team cost is the employment cost of staff "
            "in post, other support is costed by hours delivered. Dots: medians; thick and thin "
            "lines: the middle 50% and 90% of replications (for the total, at most "
            f"£{widest:.2f}m wide in any year). " + (f"{in_cash} " if in_cash else "")
            + f"The title's figures are means over the {'whole ' if whole else ''}financial "
            f"years {span}."
        ),
        alt_text=(
            f"Bar and range charts of cost in millions of pounds in {base} prices per financial "
            "year: mean cost by provider (national team, wider NHS, consultancy, interim "
            "appointments) with the total's median and ranges, and each payer's median and "
            f"ranges (trusts, NHS England). Mean £{typical:.1f}m a year over {span}, "
            f"{share:.0%} paid by trusts"
            + (f"; £{cash[years].mean():.1f}m a year in cash terms." if inflation else ".")
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label=f"£ million, {base} prices",
        meta={"title_years": years, "base_year": base, "inflation": inflation},
    )


def exceedance(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData:
    """Per quarter, the probability the programme is full or the national team short at
    any time in it; and the share of replications in which either has happened so far."""
    cap = summary_rows(summary, scenario, "cap_reached", "quarter")
    team = summary_rows(summary, scenario, "national_demand_exceeded", "quarter")
    full_by = _happened_by_end(results, scenario, "cap_reached")
    short_by = _happened_by_end(results, scenario, "national_demand_exceeded")
    table = with_dates(
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
            f"The programme fills in {full:.0%} of replications; "
            + ("the national team is never short" if short == 0
               else f"the national team is short in {short:.0%}")
        ),
        subtitle=(
            "Share of replications in which the programme is at its cap, or the national team "
            "short of hours, at some time in each quarter and by each quarter's end, "
            f"{forecast_span(results, scenario)}; {results.replications} replications."
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
        meta=time_meta(results, scenario),
    )


SCENARIO_CHARTS = (
    caseload_fan, waiting_fan, regions, waiting_times, segments, team_demand, cost, exceedance,
)  # fmt: skip
"""Each scenario's charts in a chart pack, in the order they are shown."""
