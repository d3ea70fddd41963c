"""One scenario's chart by NHS England region: the average caseload and waiting list of
each region over the forecast, with their spread across replications.

Every number the chart draws, and every number in its words, is computed here from the
summary table (the ``in_programme_by_region`` and ``waiting_by_region`` rows over the
whole horizon, which are time averages); the number of trusts per region is read from the
scenario's trust register (``sim/data``). Draws nothing and writes nothing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sim.data import trust_register
from sim.outputs.charts.data import ChartData, day_text, footnote, forecast_end, forecast_start
from sim.results.tables import Results
from sim.vocabulary import REGIONS

REGION_MEASURES = {
    "in_programme_by_region": "in the programme",
    "waiting_by_region": "waiting for a place",
}
"""The metrics drawn, in panel order, and the words for each."""
QUANTILES = {"q05": "q05", "q25": "q25", "q50": "median", "q75": "q75", "q95": "q95"}


def region_trusts(results: Results, scenario: str) -> dict[str, int]:
    """Trusts per region in the scenario's register on its start date."""
    chosen = results.scenarios[scenario]
    register = trust_register(chosen.population.counts_at(chosen.start_date))
    counts = np.bincount(register.region_index, minlength=len(REGIONS))
    return {region: int(n) for region, n in zip(REGIONS, counts, strict=True)}


def _span(table: pd.DataFrame, measure: str) -> tuple[float, float, list[str]]:
    """Lowest and highest median of ``measure`` across regions, and the regions with the
    highest as the title shows it (to one decimal place, so that regions that look the
    same are not told apart)."""
    rows = table[table["measure"] == measure]
    shown = rows["median"].round(1)
    top = rows.loc[shown == shown.max(), "region"].tolist()
    return float(rows["median"].min()), float(rows["median"].max()), top


def regions(results: Results, summary: pd.DataFrame, scenario: str) -> ChartData | None:
    """Trusts in the programme and waiting by region, averaged over the whole forecast:
    median, 50% and 90% ranges and the mean across replications, per region (None for
    results written before figures by region were recorded)."""
    rows = summary[(summary["scenario"] == scenario) & (summary["frequency"] == "horizon")]
    if not rows["metric"].isin(list(REGION_MEASURES)).any():
        return None
    trusts = region_trusts(results, scenario)
    frames = []
    for metric in REGION_MEASURES:
        part = rows[rows["metric"] == metric].set_index("group").reindex(list(REGIONS))
        frame = part[[*QUANTILES, "mean"]].rename(columns=QUANTILES).reset_index(names="region")
        frame.insert(1, "measure", metric.removesuffix("_by_region"))
        frame.insert(2, "trusts", [trusts[r] for r in REGIONS])
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    period = rows["period"].iloc[0] if len(rows) else ""
    first, last = forecast_start(results, scenario), forecast_end(results, scenario)
    last = last - dt.timedelta(days=1)
    caseload, waiting = (table[table["measure"] == m] for m in ("in_programme", "waiting"))
    low_in, high_in, _ = _span(table, "in_programme")
    low_wait, high_wait, longest = _span(table, "waiting")
    title = (
        f"Regions have {low_in:.1f} to {high_in:.1f} trusts in the programme, "
        f"{low_wait:.1f} to {high_wait:.1f} waiting"
    )
    n_regions, n_trusts = len(REGIONS), sum(trusts.values())
    subtitle = (
        "Trusts in the programme (left) and waiting for a place (right) by region, each "
        f"averaged over time from {day_text(first)} to {day_text(last)}. Coverage: the "
        f"{n_trusts} trusts of the register in the {n_regions} NHS England regions (trusts per "
        f"region in brackets). Medians of {results.replications} replications, with 50% and "
        "90% ranges."
    )
    caption = (
        (f"{longest[0]} has the longest waiting list. " if len(longest) == 1 else "") +
        f"Dots are medians across {results.replications} replications of each region's "
        "average over the forecast; thick lines span the middle 50% of replications and thin "
        "lines 90%. In every replication the regions add up to the figure for all trusts: on "
        f"average {caseload['mean'].sum():.1f} trusts in the programme and "
        f"{waiting['mean'].sum():.1f} waiting (means across replications)."
    )
    alt = (
        "Dot-and-range chart by NHS England region of the average number of trusts in the "
        f"programme and waiting over {period} (median, 90% range): "
        + "; ".join(
            f"{c.region} {c.median:.1f} in the programme ({c.q05:.1f} to {c.q95:.1f}), "
            f"{w.median:.1f} waiting ({w.q05:.1f} to {w.q95:.1f})"
            for c, w in zip(caseload.itertuples(), waiting.itertuples(), strict=True)
        )
        + "."
    )
    return ChartData(
        key=f"{scenario}-regions",
        kind="regions",
        title=title,
        caption=caption,
        alt_text=alt,
        footnote=footnote(results, scenario),
        table=table,
        y_label="NHS England region",
        subtitle=subtitle,
        meta={
            "panels": {m.removesuffix("_by_region"): w for m, w in REGION_MEASURES.items()},
        },
    )
