"""The comparison chart: scenarios against a baseline over the whole forecast.

Paired differences come from :func:`sim.analysis.compare.paired_differences`; the measures
and their display scales are the six :data:`sim.vocabulary.HEADLINES`. Builds words and the
table drawn; computes no statistics of its own, draws nothing.
"""

from __future__ import annotations

import pandas as pd

from sim.analysis.compare import paired_differences
from sim.outputs.charts.data import (
    DATA_SOURCES,
    ChartData,
    forecast_span,
    scenario_titles,
)
from sim.results.tables import Results
from sim.vocabulary import HEADLINES

COMPARISON_LABELS = {"utilisation": "National team utilisation (points)"}
"""Where the chart's label differs from the headline's: a difference of two percentages is
in percentage points."""


def measure_label(metric: str, label: str) -> str:
    """The chart's label of a headline figure (see :data:`COMPARISON_LABELS`)."""
    return COMPARISON_LABELS.get(metric, label)


def comparison(results: Results, baseline: str) -> ChartData:
    """Whole-horizon paired differences from the baseline, with 95% intervals."""
    differences = paired_differences(results, baseline)
    horizon = differences[differences["frequency"] == "horizon"]
    titles = scenario_titles(results)
    base_title = titles[baseline]
    rows = []
    for headline in HEADLINES:
        scale, label = headline.scale, measure_label(headline.metric, headline.label)
        for row in horizon[
            (horizon["metric"] == headline.metric) & (horizon["group"] == headline.group)
        ].itertuples():
            rows.append({"measure": label, "scenario": row.scenario,
                         "scenario_title": titles[row.scenario],
                         "mean_difference": row.mean_difference * scale,
                         "ci_low": row.ci_low * scale, "ci_high": row.ci_high * scale})  # fmt: skip
    table = pd.DataFrame(rows)
    waiting_label = next(measure_label(h.metric, h.label) for h in HEADLINES if h.metric == "waiting")
    waiting = table[table["measure"] == waiting_label].set_index("scenario")
    # a scenario shortens the list only if its whole 95% interval is below zero
    shorter = waiting[waiting["ci_high"] < 0]["mean_difference"]
    best = shorter.idxmin() if len(shorter) else None
    title = (
        f'"{titles[best]}" shortens the waiting list most: {abs(shorter[best]):.1f} fewer '
        "trusts"
        if best is not None
        else "No scenario clearly shortens the waiting list"
    )
    return ChartData(
        key=f"comparison-vs-{baseline}",
        kind="comparison",
        title=title,
        subtitle=(
            f"Difference from {base_title} in six headline figures over the whole forecast, "
            f"{forecast_span(results, baseline)}, "
            "paired replication by replication. Mean difference and 95% confidence interval, "
            f"{results.replications} replications."
        ),
        caption=(
            f"Difference from {base_title} over the whole forecast, replication by replication "
            "under the same random numbers (paired). Dots are mean differences; lines are 95% "
            "confidence intervals"
            + ("" if best is not None else "; every interval of the waiting list reaches zero or above")
            + ". Averages are over time; admissions and cost are totals over the forecast."
        ),
        alt_text=(
            f"Dot and interval chart of differences from {base_title} for "
            + ", ".join(dict.fromkeys(table["scenario_title"]))
            + " on six measures: "
            + ", ".join(measure_label(h.metric, h.label) for h in HEADLINES)
            + "."
        ),
        footnote=(
            f"Scenarios: {', '.join(titles.values())}. {results.replications} replications, seed "
            f"{results.manifest.get('seed', 'unknown')}. {DATA_SOURCES}"
        ),
        table=table,
        y_label="Difference from baseline",
        meta={"baseline": baseline},
    )
