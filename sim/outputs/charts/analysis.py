"""Charts of the analyses: what each shows, and the words around it.

The analyses in :mod:`sim.analysis` return tables (one-way effects, Morris or Sobol indices,
the planner's settings, the model beside published data, the back-test through 2013-2026);
the functions here turn those
tables into :class:`~sim.outputs.charts.data.ChartData` with titles, captions and alt text.
Every number in the words comes from the table given. Computes no statistics and runs no
simulation; drawing is :mod:`sim.outputs.charts.draw`'s job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.backtest import Backtest
from sim.analysis.planner import PlanResult, format_setting, format_span
from sim.analysis.sensitivity import Output, readable
from sim.analysis.validation import HORIZON_YEARS
from sim.outputs.charts.data import DATA_SOURCES, ChartData

# ------------------------------------------------------------------------ sensitivity


def tornado_chart(
    table: pd.DataFrame, output: Output, scenario: str, replications: int, seed: int
) -> ChartData:
    top = table.iloc[0]
    return ChartData(
        key="tornado",
        kind="tornado",
        title=(
            f"{readable(top['parameter']).capitalize()} matters most for {output.label()}: from "
            f"{top['low_mean']:.3g} at its low value to {top['high_mean']:.3g} at its high value"
        ),
        caption=(
            "Each bar spans the output with one assumption at the low and at the high end of its "
            "stated range, everything else as in the scenario (same random numbers). The line marks "
            "the scenario's own result. Assumptions are ordered by the size of their effect."
        ),
        alt_text=(
            "Tornado chart of the effect of each uncertain assumption on "
            f"{output.label()}: "
            + "; ".join(
                f"{readable(r.parameter)} {r.low_mean:.3g} to {r.high_mean:.3g}"
                for r in table.itertuples()
            )
            + "."
        ),
        footnote=f"Scenario: {scenario}. {replications} replications per run, seed {seed}. {DATA_SOURCES}",
        table=table.assign(
            label=[
                f"{readable(p)} ({lo:g} to {hi:g})"
                for p, lo, hi in zip(table["parameter"], table["low"], table["high"], strict=True)
            ]
        ),
        y_label=output.label(),
        meta={"base": float(table["base_mean"].iloc[0])},
    )


def global_chart(
    indices: pd.DataFrame, diagnostics: dict, output: Output, scenario: str, seed: int
) -> ChartData:
    """Bar chart of Morris mu* (output units) or Sobol first-order and total indices (shares
    of the output's variance), largest first, with 95% intervals."""
    method = diagnostics["method"]
    if method == "morris":
        columns = {"mu*": ("mu_star", "mu_star_ci")}
        unit = f"mean absolute elementary effect on {output.label()}"
        how = (
            "Morris screening: each bar is mu*, the mean absolute change in the output per "
            "step of an assumption across its stated range (larger matters more)"
        )
    else:
        columns = {"first-order": ("first_order", "first_order_ci"), "total": ("total", "total_ci")}
        unit = f"share of the variance of {output.label()}"
        how = (
            "Sobol indices: first-order is the share of the output's variance due to an "
            "assumption alone, total adds its interactions with the others"
        )
    headline = "mu*" if method == "morris" else "total"  # the column the rows are sorted by
    value, _ = columns[headline]
    top = indices.iloc[0]
    noise = diagnostics["noise_share"]
    noise_text = (
        f"simulation noise is {noise:.0%} of the output's variance across the points (the "
        "rest comes from the assumptions), so read small indices with care"
        if np.isfinite(noise)
        else "the output did not vary across the points, so the indices say nothing"
    )
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "parameter": indices["parameter"],
                    "label": [readable(p) for p in indices["parameter"]],
                    "index": name,
                    "value": indices[v],
                    "ci": indices[ci],
                }
            )  # fmt: skip
            for name, (v, ci) in columns.items()
        ],
        ignore_index=True,
    )
    return ChartData(
        key=method,
        kind="indices",
        title=(
            f"{readable(top['parameter']).capitalize()} matters most for {output.label()} "
            f"({method.capitalize()} {headline} {top[value]:.3g})"
        ),
        caption=(
            f"{how}. Lines are 95% intervals. Each of the {diagnostics['sample_points']} sample "
            f"points is the mean of {diagnostics['replications_per_point']} replications; "
            f"{noise_text}."
        ),
        alt_text=(
            f"Bar chart of {method.capitalize()} indices for {output.label()}: "
            + "; ".join(f"{r.label} {r.index} {r.value:.3g}" for r in table.itertuples())
            + "."
        ),
        footnote=(
            f"Scenario: {scenario}. {diagnostics['sample_points']} sample points x "
            f"{diagnostics['replications_per_point']} replications, seed {seed}. {DATA_SOURCES}"
        ),
        table=table,
        y_label=unit,
    )


# ---------------------------------------------------------------------------- planner


def plan_chart(result: PlanResult, scenario: str) -> ChartData:
    """The target metric and the probability of meeting it, against the lever."""
    lever, goal = result.lever, result.target
    share = f"{result.probability:.0%} of replications"
    if result.on_average is None:
        title = (
            f"No {lever.description} up to {format_setting(result.evaluations['value'].max(), lever)} "
            f"meets the target on average; at best {result.evaluations['probability_met'].max():.0%} "
            "of replications meet it"
        )
    else:
        title = (
            f"A {lever.description} of {format_setting(result.on_average, lever)} meets the target on average; "
            + (
                f"{format_setting(result.with_probability, lever)} meets it in {share}"
                if result.with_probability is not None
                else f"no setting tried meets it in {share}"
            )
        )
    rows = result.evaluations
    every = " in every period" if goal.frequency != "horizon" else ""
    shape = (
        "The metric moves one way across the settings."
        if result.monotone
        else "Not monotone: it moves against its trend beyond noise from "
        + ", from ".join(format_span(b.from_value, b.to_value, lever) for b in result.breaks.itertuples())
        + " (shaded)."
    )
    return ChartData(
        key="plan",
        kind="plan",
        title=title,
        caption=(
            f"Target: {goal.text}. Left: mean of the target metric in its worst period, 95% "
            "interval; dashed: threshold. Right: share of replications (simulated futures) "
            f"meeting it{every}, 95% interval; dashed: {result.probability:.0%}. Same random "
            f"numbers at every setting. {shape}"
        ),
        alt_text=(
            f"Chart of the target metric and the probability of meeting it against {lever.description}: "
            + "; ".join(
                f"{r.value:g}: mean {r.worst_period_mean:.3g}, met in {r.probability_met:.0%}"
                for r in rows.itertuples()
            )
            + f". Threshold {goal.threshold:g}."
        ),
        footnote=f"Scenario: {scenario}. {result.replications} replications per setting, seed {result.seed}. {DATA_SOURCES}",
        table=rows,
        y_label=f"{goal.metric} ({goal.group}), "
        + ("over the horizon" if goal.frequency == "horizon" else f"worst {goal.frequency}"),
        meta={
            "threshold": goal.threshold,
            "probability": result.probability,
            "answer": result.on_average,
            "probable": result.with_probability,
            "x_label": f"{lever.description} ({lever.unit})",
            "integer": lever.integer,
            "breaks": list(
                zip(result.breaks["from_value"], result.breaks["to_value"], strict=True)
            ),
        },  # fmt: skip
    )


# ------------------------------------------------------------------------- validation


def validation_chart(table: pd.DataFrame, scenario: str, replications: int, seed: int) -> ChartData:
    ratios = table.assign(
        low=table["model_q05"] / table["published"],
        median=table["model_median"] / table["published"],
        high=table["model_q95"] / table["published"],
        mean=table["model_mean"] / table["published"],
    )[["quantity", "used_in_fit", "low", "median", "high", "mean", "published_in_model_range"]]
    held = table[~table["used_in_fit"]]
    fitted = table[table["used_in_fit"]]
    inside = int(held["published_in_model_range"].sum())
    fitted_inside = int(fitted["published_in_model_range"].sum())
    return ChartData(
        key="validation",
        kind="validation",
        title=(
            f"{fitted_inside} of {len(fitted)} published figures used in the fit, and {inside} of "
            f"{len(held)} held out of it, lie within the model's 90% range"
        ),
        caption=(
            "Each row is a published figure (at 1 on the scale). The bar is the model's 90% range "
            "across replications relative to it; the dot is the model's mean. Blue rows were used "
            "to fit the model; orange rows were held out."
        ),
        alt_text=(
            f"Chart of {len(table)} model-to-published ratios with 90% ranges; "
            f"{int(table['used_in_fit'].sum())} figures used in the fit and {len(held)} held out, "
            f"of which {inside} lie within the model's range."
        ),
        footnote=f"Scenario: {scenario}. {replications} replications, seed {seed}, "
        f"{HORIZON_YEARS}-year runs. {DATA_SOURCES}",
        table=ratios,
        y_label="Model relative to published (published = 1)",
    )


# -------------------------------------------------------------------------- back-test


ROUTE_LABELS = {
    "": "Every entry route",
    "quality": "Quality route (special measures for quality)",
    "finance": "Finance route (financial special measures)",
    "system": "Whole-system route",
    "segment": "Lowest-segment route",
    "catastrophic": "Catastrophic-failure route",
}
"""Panel headings of the back-test chart, by the route a series counts (``""``: every route)."""


def _counts(n: int) -> str:
    """'1 published count', '12 published counts'."""
    return f"{n} published count{'' if n == 1 else 's'}"


def backtest_chart(result: Backtest) -> ChartData:
    """Trusts in the programme month by month through the regimes, one panel per series of
    ``result.stock`` (every route, then each route with published counts: median, 50% and
    90% bands), each published count of ``result.table`` on the series it measures."""
    table, stock = result.table, result.stock
    routes = list(dict.fromkeys(stock["route"]))
    drawn = table[(table["measure"] == "in_programme") & table["route"].isin(routes)
                  & table["compared"]]  # fmt: skip
    held = drawn[~drawn["used_in_fit"]]
    inside, held_inside = int(drawn["inside"].sum()), int(held["inside"].sum())
    last = stock["month"].iloc[-1]
    if len(drawn):
        verb = "lies" if len(drawn) == 1 else "lie"
        title = (f"{inside} of {_counts(len(drawn))} of trusts in the programme {verb} inside "
                 "the model's 90% range")  # fmt: skip
        if 0 < len(held) < len(drawn):
            title += f" ({held_inside} of {len(held)} held out of the fit)"
        elif len(held) == len(drawn):
            title += ", all held out of the fit"
    else:
        title = (f"Trusts in the programme, {result.start:%B %Y} to {last:%B %Y}: no published "
                 "count to compare")  # fmt: skip
    programmes, frameworks = result.regimes.programmes, result.regimes.frameworks
    ends = [start for _, start in programmes[1:]] + [result.end]
    eras = [(label, start, end) for (label, start), end in zip(programmes, ends, strict=True)]
    regimes = sorted([*programmes, *frameworks], key=lambda regime: regime[1])
    points = drawn[["name", "date", "route", "published", "model_q05", "model_q95", "inside",
                    "used_in_fit"]].reset_index(drop=True)  # fmt: skip
    panels = []
    for route in routes:
        own = points[points["route"] == route]
        label = ROUTE_LABELS.get(route, route)
        heading = (f"{label}: {int(own['inside'].sum())} of {_counts(len(own))} inside the "
                   "model's 90% range" if len(own) else f"{label}: no published count")  # fmt: skip
        panels.append((route, heading))
    routed = [ROUTE_LABELS.get(route, route).split(" (")[0].lower() for route in routes[1:]]
    series = "every entry route" + (f", and the {' and '.join(routed)}" if routed else "")
    medians = "; ".join(
        f"{ROUTE_LABELS.get(route, route)}: model median {part['median'].min():g} to "
        f"{part['median'].max():g} trusts"
        for route, part in ((r, stock[stock["route"] == r]) for r in routes)
    )
    return ChartData(
        key="backtest",
        kind="backtest",
        title=title,
        caption=(
            (
                "One panel per series: trusts in the programme by every entry route, then by each "
                "route that published counts measure (spells begun by that route, including "
                "trusts placed in the programme at the start by it). "
                if len(routes) > 1
                else "Trusts in the programme by every entry route. "
            )
            + "Line: model median; bands: middle 50% and 90% of replications. Diamonds: "
            "published counts held out of the fit; circles: "
            "used in it; filled if inside the model's 90% range, hollow if outside. Shaded: "
            "programmes; dashed: changes of framework. "
            + "; ".join(f"{label[:1].upper()}{label[1:]}, {start:%b %Y}" for label, start in regimes)
            + "."
        ),
        alt_text=(
            f"Chart of trusts in the programme from {result.start:%B %Y} to {last:%B %Y}, "
            f"{series}. {medians}. "
            + "".join(
                f"{p.name}: published {p.published:g}, model 90% range {p.model_q05:g} "
                f"to {p.model_q95:g} ({'inside' if p.inside else 'outside'}). "
                for p in points.itertuples()
            )
        ).strip(),
        footnote=(
            f"Scenario: the oversight regimes of {result.start:%B %Y} to {last:%B %Y}. "
            f"{result.replications} replications, seed "
            f"{result.seed}. Each published figure, its source and whether it was used in the "
            "fit are listed in backtest.csv; the monthly series in programme_stock.csv."
        ),
        table=stock,
        y_label="Trusts in the programme",
        subtitle=(
            f"Trusts in the programme at the start of each month, {result.start:%B %Y} to "
            f"{last:%B %Y}, counted over {series}: model median and ranges across "
            f"{result.replications} replications, with each published count on the series "
            "it measures"
        ),
        meta={
            "points": points,
            "panels": panels,
            "eras": eras,
            "frameworks": frameworks,
            "start": result.start,
            "end": result.end,
        },
    )
