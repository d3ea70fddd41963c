"""Scenarios on the same axes: one chart per headline figure, every scenario's median and
middle 50% of replications over time (as starsim and covasim draw their scenario runs).

The six figures are :data:`sim.vocabulary.HEADLINES`, each drawn at the frequency that
suits it (:data:`OVERLAYS`): stocks (trusts in the programme, waiting) at each quarter's
end, flows and averages (admissions, the mean wait, the national team's utilisation, cost)
across their period. Scenarios that are identical in every period drawn (the same random
numbers give the same figures) are drawn once, labelled with all their titles. Every
number in the words comes from the table drawn: the title gives the lowest and highest
median of the last period across the scenarios. Draws nothing
(:mod:`sim.outputs.charts.draw_overlay` draws).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sim.outputs.charts.data import (
    COVERAGE,
    DATA_SOURCES,
    ChartData,
    day_text,
    forecast_span,
    scenario_titles,
    summary_rows,
    with_dates,
)
from sim.results.tables import Results
from sim.vocabulary import HEADLINES


@dataclass(frozen=True)
class Overlay:
    """How one headline figure is drawn across scenarios."""

    metric: str
    frequency: str
    stock: bool
    """A stock (drawn at each period's end); otherwise a flow or average (steps across it)."""
    measure: str
    """The figure in the subtitle, with its period."""
    title: str
    """The title: ``{when}`` is the last period, ``{values}`` the lowest to the highest
    median in it across the scenarios ('10 to 15')."""
    same: str
    """The title when every scenario's last median reads the same (``{values}``: it)."""
    unit: str
    """'trusts', 'weeks', '%' or '£m': how its numbers are written."""


OVERLAYS = (
    Overlay("in_programme", "quarter", True,
            "Trusts in the programme at the end of each quarter",
            "On {when}, the scenarios have {values} trusts in the programme",
            "On {when}, every scenario has {values} trusts in the programme", "trusts"),
    Overlay("waiting", "quarter", True, "Trusts waiting for a place at the end of each quarter",
            "On {when}, {values} trusts are waiting across the scenarios",
            "On {when}, {values} trusts are waiting in every scenario", "trusts"),
    Overlay("admissions", "year", False, "Trusts admitted to the programme in each financial year",
            "In {when}, the scenarios admit {values} trusts to the programme",
            "In {when}, every scenario admits {values} trusts to the programme", "trusts"),
    Overlay("mean_wait_weeks", "year", False,
            "Mean wait from referral to admission of the trusts admitted in each financial year",
            "In {when}, trusts admitted have waited {values} weeks on average",
            "In {when}, trusts admitted have waited {values} weeks on average in every scenario",
            "weeks"),
    Overlay("utilisation", "quarter", False,
            "National team utilisation (hours delivered as a share of hours available), averaged "
            "over each quarter",
            "In {when}, national team utilisation is {values} across the scenarios",
            "In {when}, national team utilisation is {values} in every scenario", "%"),
    Overlay("cost", "year", False,
            "Cost of support in each financial year, in the scenario's base-year prices",
            "In {when}, support costs {values} across the scenarios",
            "In {when}, support costs {values} in every scenario", "£m"),
)  # fmt: skip
"""The headline figures drawn across scenarios, in the order of :data:`HEADLINES`."""
COLUMNS = {"q25": "q25", "q50": "median", "q75": "q75", "mean": "mean"}
AXIS_LABELS = {
    "in_programme": "Trusts in the programme", "waiting": "Trusts waiting",
    "admissions": "Trusts admitted a year", "mean_wait_weeks": "Mean wait (weeks)",
    "utilisation": "National team utilisation", "cost": "£ million a year",
}  # fmt: skip


def number(value: float, unit: str, with_unit: bool = True) -> str:
    """A value in the words of an overlay chart: '15 trusts' ('15' without the unit),
    '46 weeks', '84%', '£5.2m'."""
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "£m":
        return f"£{value:.1f}m"
    return f"{value:.0f} {unit}" if with_unit else f"{value:.0f}"


def overlays(
    results: Results, names: list[str], summary: pd.DataFrame | None = None
) -> list[ChartData]:
    """One chart per figure of :data:`OVERLAYS` with the scenarios ``names`` (the first is
    the baseline), their medians and middle 50% over time (``summary``: the results'
    summary table, if already made)."""
    summary = results.only(*names).summary() if summary is None else summary
    titles = scenario_titles(results)
    headlines = {h.metric: h for h in HEADLINES}
    return [_overlay(results, summary, names, titles, spec, headlines[spec.metric])
            for spec in OVERLAYS]  # fmt: skip


def _overlay(results, summary, names, titles, spec: Overlay, headline) -> ChartData:
    scale = headline.scale
    frames = []
    for name in names:
        rows = summary_rows(summary, name, spec.metric, spec.frequency, headline.group)
        frame = rows[["period", *COLUMNS]].rename(columns=COLUMNS)
        frame[list(COLUMNS.values())] = frame[list(COLUMNS.values())] * scale
        frames.append(with_dates(frame, results, name).assign(scenario=name, title=titles[name]))
    table = pd.concat(frames, ignore_index=True)
    table = table[["scenario", "title", "period", "period_start", "period_end",
                   *COLUMNS.values()]]  # fmt: skip
    groups = identical_groups(table, names)
    table["drawn_with"] = table["scenario"].map({n: g[0] for g in groups for n in g})
    last_period = table["period"].iloc[-1]
    last = table[table["period"] == last_period].set_index("scenario")["median"]
    low, high = last.min(), last.max()
    when = day_text(table["period_end"].iloc[-1]) if spec.stock else last_period
    low_text, high_text = (number(v, spec.unit, with_unit=False) for v in (low, high))
    if low_text == high_text:
        title = spec.same.format(when=when, values=high_text)
    else:
        title = spec.title.format(when=when, values=f"{low_text} to {high_text}")
    shared = [g for g in groups if len(g) > 1]
    same = " ".join(
        f"{_join([titles[n] for n in g])} are identical in every period drawn." for g in shared
    )
    baseline = names[0]
    return ChartData(
        key=f"compare-{spec.metric.replace('_', '-')}",
        kind="overlay",
        title=title,
        subtitle=(
            f"{spec.measure}, {COVERAGE}, {forecast_span(results, baseline)}. Median and middle "
            f"50% of {results.replications} replications of each scenario."
        ),
        caption=(
            "Lines: medians across replications"
            + ("" if spec.stock else ", as steps across each period")
            + "; shaded: the middle 50% of replications. "
            + (f"{same} " if same else "")
            + "Scenarios share their random numbers replication by replication, so a "
            "difference between them comes from what the scenarios change."
        ),
        alt_text=(
            f"Line chart of {spec.measure[:1].lower() + spec.measure[1:]} for "
            f"{len(names)} scenarios. In the last period ({last_period}) the medians are: "
            + "; ".join(f"{titles[n]} {number(last[n], spec.unit)}" for n in names)
            + "."
        ),
        footnote=(
            f"Scenarios: {', '.join(titles[n] for n in names)}. {results.replications} "
            f"replications, seed {results.manifest.get('seed', 'unknown')}. {DATA_SOURCES}"
        ),
        table=table,
        y_label=AXIS_LABELS[spec.metric],
        meta={"stock": spec.stock, "unit": spec.unit, "groups": groups,
              "start": results.scenarios[baseline].start_date,
              "end": results.scenarios[baseline].end_date},  # fmt: skip
    )


def identical_groups(table: pd.DataFrame, names: list[str]) -> list[list[str]]:
    """The scenarios in groups whose median and middle 50% are equal in every period, in
    the order of ``names`` (a group is drawn once)."""
    groups: list[list[str]] = []
    series = {n: table.loc[table["scenario"] == n, ["median", "q25", "q75"]].to_numpy()
              for n in names}  # fmt: skip
    for name in names:
        for group in groups:
            first = series[group[0]]
            if first.shape == series[name].shape and (first == series[name]).all():
                group.append(name)
                break
        else:
            groups.append([name])
    return groups


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
