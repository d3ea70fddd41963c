"""A short plain-text summary of a run, for the command line and logs.

Takes the summary table (:meth:`sim.results.tables.Results.summary`) and returns text; computes
no statistics of its own.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import TYPE_CHECKING

import pandas as pd

from sim.analysis.discovery import percent_words
from sim.calendar import date_at
from sim.vocabulary import HEADLINES, LEAGUE_TABLES, PAYERS, REGIONS

if TYPE_CHECKING:
    from sim.scenario.schema import Prices

YEARLY = (
    ("in_programme", "all", "in programme at year end", "{:.0f}"),
    ("waiting", "all", "waiting at year end", "{:.0f}"),
    ("referrals", "all", "referrals in year", "{:.0f}"),
    ("admissions", "all", "admissions in year", "{:.0f}"),
    ("exits", "all", "exits in year", "{:.0f}"),
    ("mean_wait_weeks", "all", "mean wait of those admitted, weeks", "{:.0f}"),
    ("share_exits_late", "all", "exits later than target", "{:.0%}"),
    ("utilisation", "national", "national team utilisation", "{:.0%}"),
    ("cost", "total", "cost, £m", "{:.1f}"),
    ("cost_by_payer", "trusts", "  of which paid by trusts, £m", "{:.1f}"),
    ("cost_cash", "total", "cost in cash terms, £m", "{:.1f}"),
)
MILLIONS = {"cost", "cost_by_payer", "cost_cash", "cost_by_payer_cash"}
PAYER_WORDS = {"trusts": "trusts", "nhs_england": "NHS England"}
REGION_STOCKS = (("in_programme_by_region", "in programme"), ("waiting_by_region", "waiting"))


FIRST_EVENTS = (
    ("first_week_cap_reached", "programme first full"),
    ("first_week_national_demand_exceeded", "national team first short of hours"),
)


def format_summary(
    summary: pd.DataFrame,
    replications: int,
    seed: int,
    start_dates: dict[str, dt.date] | None = None,
    regimes: dict[str, list[dict]] | None = None,
    prices: dict[str, Prices] | None = None,
) -> str:
    """Median (5% to 95% range) of the main yearly figures per scenario, costs over the
    horizon by payer, trusts by region at the horizon's end, and segments.

    With ``start_dates`` (scenario name to start date) it also gives the dates on which
    the programme first fills and the national team is first short of hours; with
    ``regimes`` (from :meth:`Scenario.regimes`) the programme and framework of each
    period, when they change during the run; with ``prices`` (from
    :meth:`Scenario.price_basis`) the price base of the costs and the inflation that turns
    them into cash terms (without it, costs are said to be in the scenario's prices).
    """
    lines = [f"{replications} replications, seed {seed}: median (5%-95% across replications)"]
    for scenario, rows in summary.groupby("scenario", sort=False, observed=True):
        yearly = rows[rows["frequency"] == "year"]
        years = list(dict.fromkeys(yearly["period"]))
        lines.append(f"\n{scenario}")
        if regimes and len(regimes.get(scenario, [])) > 1:
            lines.append("  regimes (programme; framework, programme segment):")
            for r in regimes[scenario]:
                when = dt.date.fromisoformat(r["from"]).strftime("%d %b %Y")
                lines.append(f"    from {when}: {r['programme']}; {r['framework']}, "
                             f"segment {r['programme_segment']}")  # fmt: skip
        lines.append(f"  {'financial year':<38}" + "".join(f"{y:>16}" for y in years))
        for metric, group, label, fmt in YEARLY:
            cells = []
            for year in years:
                match = (yearly["metric"] == metric) & (yearly["group"] == group)
                row = yearly[match & (yearly["period"] == year)]
                cells.append(_cell(row, fmt, 1e-6 if metric in MILLIONS else 1.0))
            if metric == "cost":
                label = f"{label}, {_price_words(prices, scenario)}"
            lines.append(f"  {label:<38}" + "".join(f"{c:>16}" for c in cells))
        lines += _horizon_cost_lines(rows, prices, scenario)
        lines += _region_lines(rows, years[-1] if years else "")

        if start_dates and scenario in start_dates:
            lines += _first_event_lines(rows, replications, start_dates[scenario])
        trusts = rows[(rows["metric"] == "trusts") & (rows["frequency"] == "quarter")]
        quarters = list(dict.fromkeys(trusts["period"]))
        first, last = quarters[0], quarters[-1]
        lines.append(f"  trusts by segment (median), {first} -> {last}")
        for table in LEAGUE_TABLES:
            cells = []
            for segment in range(1, 6):
                group = f"{table}|segment {segment}"
                start, end = (
                    trusts[(trusts["group"] == group) & (trusts["period"] == q)]["q50"].iloc[0]
                    for q in (first, last)
                )
                cells.append(f"{start:.0f}->{end:.0f}")
            segments = zip(range(1, 6), cells, strict=True)
            lines.append(f"    {table:<10}" + "".join(f"  seg {s}: {c:<8}" for s, c in segments))
        churn = rows[rows["metric"] == "churn"]["mean"].mean()
        lines.append(
            f"  trusts changing segment per quarter: {churn:.1f} "
            "(published Q1 to Q2 2025/26: 38 of 205)"
        )
    return "\n".join(lines)


def first_event(
    rows: pd.DataFrame, metric: str, replications: int, start: dt.date
) -> tuple[float, tuple[dt.date, dt.date, dt.date] | None]:
    """The share of replications in which a first-time event (``first_week_...`` metric of
    :data:`FIRST_EVENTS`) happens within the horizon, and the median, 5th and 95th
    percentile of its date among them (None when it never happens)."""
    row = rows[rows["metric"] == metric]
    happened = int(row["replications"].iloc[0]) if not row.empty else 0
    if not happened:
        return 0.0, None
    q50, q05, q95 = (date_at(start, row[c].iloc[0]) for c in ("q50", "q05", "q95"))
    return happened / replications, (q50, q05, q95)


def _first_event_lines(rows: pd.DataFrame, replications: int, start: dt.date) -> list[str]:
    lines = []
    for metric, label in FIRST_EVENTS:
        share, dates = first_event(rows, metric, replications, start)
        if dates is None:
            lines.append(f"  {label}: not within the horizon in any replication")
            continue
        q50, q05, q95 = dates
        lines.append(
            f"  {label}: in {share:.0%} of replications; median {q50:%d %b %Y} "
            f"(5%-95%: {q05:%d %b %Y} to {q95:%d %b %Y})"
        )
    return lines


def _price_words(prices: dict[str, Prices] | None, scenario: str, cash: bool = False) -> str:
    """'2025/26 prices', or 'cash terms (+2.5% a year from 2025/26)'."""
    basis = (prices or {}).get(scenario)
    if basis is None:
        return "cash terms" if cash else "scenario's prices"
    if cash:
        return f"cash terms (+{basis.inflation_per_year:.1%} a year from {basis.base_year})"
    return f"{basis.base_year} prices"


def _horizon_cost_lines(rows: pd.DataFrame, prices: dict | None, scenario: str) -> list[str]:
    """Cost over the whole horizon, in total and by payer, in base-year prices and in cash
    terms: median (5%-95%)."""
    horizon = rows[rows["frequency"] == "horizon"]
    if horizon[horizon["metric"] == "cost_by_payer_cash"].empty:
        return []  # results from before costs in cash terms were recorded
    period = horizon["period"].iloc[0]
    heads = (_price_words(prices, scenario), _price_words(prices, scenario, cash=True))
    lines = [f"  {f'cost over {period}, £m':<38}{heads[0]:>20}{heads[1]:>40}"]
    for label, group, metrics in (
        ("total", "total", ("cost", "cost_cash")),
        *((f"  of which paid by {PAYER_WORDS[p]}", p, ("cost_by_payer", "cost_by_payer_cash"))
          for p in PAYERS),
    ):  # fmt: skip
        cells = [
            _cell(horizon[(horizon["metric"] == m) & (horizon["group"] == group)], "{:.1f}", 1e-6)
            for m in metrics
        ]
        lines.append(f"    {label:<36}{cells[0]:>20}{cells[1]:>40}")
    return lines


def _region_lines(rows: pd.DataFrame, last_year: str) -> list[str]:
    """Trusts in the programme and waiting by NHS England region at the end of the last
    financial year (the horizon's end): median (5%-95%)."""
    yearly = rows[(rows["frequency"] == "year") & (rows["period"] == last_year)]
    if yearly[yearly["metric"] == REGION_STOCKS[0][0]].empty:
        return []  # results from before regions were recorded
    lines = [
        f"  trusts by NHS England region at the end of {last_year}",
        f"    {'region':<36}" + "".join(f"{words:>16}" for _, words in REGION_STOCKS),
    ]
    for region in REGIONS:
        cells = [
            _cell(yearly[(yearly["metric"] == metric) & (yearly["group"] == region)], "{:.0f}", 1)
            for metric, _ in REGION_STOCKS
        ]
        lines.append(f"    {region:<36}" + "".join(f"{c:>16}" for c in cells))
    return lines


def median_range(row: pd.DataFrame, scale: float = 1.0) -> tuple[float, float, float] | None:
    """The median, 5th and 95th percentile across replications of a summary row, times
    ``scale`` (None for no row, or no replication with a value): the run summary's figure
    and range."""
    if row.empty or pd.isna(row["q50"].iloc[0]):
        return None
    q50, q05, q95 = (float(row[c].iloc[0]) * scale for c in ("q50", "q05", "q95"))
    return q50, q05, q95


def _cell(row: pd.DataFrame, fmt: str, scale: float) -> str:
    figure = median_range(row, scale)
    if figure is None:
        return "-"
    q50, q05, q95 = figure
    return f"{fmt.format(q50)} ({fmt.format(q05)}-{fmt.format(q95)})"


COMPARISON_WORDS = {
    "in_programme": ("trusts in programme (average)", "{:+.2f}"),
    "waiting": ("trusts waiting (average)", "{:+.2f}"),
    "admissions": ("admissions (total)", "{:+.1f}"),
    "mean_wait_weeks": ("mean wait of those admitted, weeks", "{:+.1f}"),
    "utilisation": ("national team utilisation", "{:+.1f}%"),
    "cost": ("cost, £m (total)", "{:+.2f}"),
}
"""The comparison's label and format for each headline figure, already scaled to its display
unit (utilisation in percent, cost in £m); lower case to suit the terminal."""
HEADLINE = tuple((h.metric, h.group, *COMPARISON_WORDS[h.metric], h.scale) for h in HEADLINES) + (
    ("cost_by_payer", "trusts", "  of which paid by trusts, £m", "{:+.2f}", 1e-6),
)
"""(metric, group, label, format, scale) of each row of the comparison: the headline
figures of :data:`sim.vocabulary.HEADLINES`, then the part of the cost paid by trusts."""


def format_comparison(
    table: pd.DataFrame, replications: int, identical: pd.DataFrame | None = None
) -> str:
    """Whole-horizon paired differences from the baseline, with 95% intervals.

    With ``identical`` (:func:`sim.analysis.compare.identical_outputs`) each scenario also gets a
    sentence on the outputs it leaves exactly as the baseline, and those outputs are shown
    as identical rather than as a zero difference with a zero-width interval.
    """
    lines = [f"Paired differences over the whole horizon ({replications} replications, 95% CI)"]
    horizon = table[table["frequency"] == "horizon"]
    sentences = no_difference_sentences(identical) if identical is not None else {}
    for scenario, rows in horizon.groupby("scenario", sort=False, observed=True):
        baseline = rows["baseline"].iloc[0]
        lines.append(f"\n{scenario} minus {baseline}")
        if scenario in sentences:
            lines += textwrap.wrap(sentences[scenario], 94, initial_indent="  ",
                                   subsequent_indent="  ")  # fmt: skip
        same = _identical_keys(identical, scenario)
        for metric, group, label, fmt, scale in HEADLINE:
            row = rows[(rows["metric"] == metric) & (rows["group"] == group)]
            if row.empty:
                continue
            if (metric, group) in same:
                lines.append(f"  {label:<38}{'none':>12}  (identical in every replication)")
                continue
            mean, low, high = (
                row[c].iloc[0] * scale for c in ("mean_difference", "ci_low", "ci_high")
            )
            lines.append(
                f"  {label:<38}{fmt.format(mean):>12}  ({fmt.format(low)} to {fmt.format(high)})"
            )
    return "\n".join(lines)


def no_difference_sentences(identical: pd.DataFrame) -> dict[str, str]:
    """Per scenario, a plain sentence saying which outputs are exactly the baseline's.

    Takes :func:`sim.analysis.compare.identical_outputs`. Adds a reason only where the data show
    one: the national team never short in either scenario, or segments changed without
    changing the number of trusts in segment 4 (from which trusts are referred).
    """
    sentences = {}
    for scenario, rows in identical.groupby("scenario", sort=False):
        baseline = rows["baseline"].iloc[0]
        same = list(rows.loc[rows["identical"], "output"])
        differ = list(rows.loc[~rows["identical"], "output"])
        if "trusts by segment" in same:  # implies segment 4; say it once
            same = [o for o in same if o != "trusts in segment 4"]
        if not same:
            sentences[scenario] = f"Differs from {baseline} in every output checked."
            continue
        if not differ:
            text = (
                f"No difference from {baseline} at all: {_join(same, 'and')} are identical in "
                f"every period of all {rows['replications'].iloc[0]} replications."
            )
        else:
            text = (
                f"No difference from {baseline} in {_join(same, 'or')} in any replication; "
                f"differs in {_join(differ, 'and')}."
            )
        population_moved = "trusts by segment" in differ  # then the reason lies there
        if "caseload" in same and not population_moved and rows["national_never_short"].iloc[0]:
            text += (
                " The national team was never short of hours in either scenario, so the "
                "shortfall policy never came into play."
            )
        elif "caseload" in same and "trusts in segment 4" in same and population_moved:
            text += (
                " Trusts' segments change, but not the number in segment 4, from which trusts "
                "are referred."
            )
        sentences[scenario] = text
    return sentences


def format_no_difference(identical: pd.DataFrame) -> str:
    """The run summary's section on what each variant leaves exactly as the baseline."""
    if identical.empty:
        return ""
    baseline = identical["baseline"].iloc[0]
    lines = [f"\nCompared with {baseline} (the first scenario), under the same random numbers:"]
    for scenario, text in no_difference_sentences(identical).items():
        lines += textwrap.wrap(f"{scenario}: {text}", 94, initial_indent="  ",
                               subsequent_indent="    ")  # fmt: skip
    return "\n".join(lines)


def _identical_keys(identical: pd.DataFrame | None, scenario: str) -> set[tuple[str, str]]:
    """(metric, group) of the outputs this scenario leaves exactly as the baseline."""
    if identical is None:
        return set()
    rows = identical[(identical["scenario"] == scenario) & identical["identical"]]
    return set(zip(rows["metric"], rows["group"], strict=True))


def _join(items: list[str], word: str) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _row_lines(heading: str, table: pd.DataFrame, line) -> str:
    """``heading``, then one line per row of ``table``, written by ``line(row)``."""
    return "\n".join([heading, *(line(row) for row in table.itertuples(index=False))])


VARIANCE_HEADLINES = (
    ("in_programme", "all", "trusts in the programme"),
    ("waiting", "all", "trusts waiting"),
    ("admissions", "all", "admissions"),
    ("utilisation", "national", "national team utilisation"),
    ("cost", "total", "cost"),
)
"""Figures whose variance split the run summary reports (over the whole horizon)."""


def format_variance_split(split: pd.DataFrame) -> str:
    """Per scenario, the share of each headline figure's variance over the horizon that
    comes from the assumptions (the rest is run-to-run noise)."""
    lines = ["\nWhere the spread comes from (share of the variance over the whole horizon due to "
             "the assumptions; the rest is run-to-run noise):"]  # fmt: skip
    horizon = split[split["frequency"] == "horizon"]
    for scenario, rows in horizon.groupby("scenario", sort=False):
        cells = []
        for metric, group, label in VARIANCE_HEADLINES:
            match = rows[(rows["metric"] == metric) & (rows["group"] == group)]
            share = match["assumptions_share"].iloc[0] if len(match) else float("nan")
            cells.append(f"{label} {percent_words(share)}" if share == share
                         else f"{label} (no spread)")  # fmt: skip
        lines.append(f"  {scenario}: " + "; ".join(cells))
    return "\n".join(lines)


def format_adequacy(adequacy: pd.DataFrame, precision: float) -> str:
    """Say whether the replications gave the main metrics the precision asked for."""
    short = adequacy[~adequacy["adequate"]]
    if short.empty:
        return (
            f"\nReplications are adequate: every main metric's 95% interval is within "
            f"{precision:.0%} of its mean."
        )
    return _row_lines(
        f"\nWarning: too few replications for {precision:.0%} precision on:",
        short,
        lambda row: (
            f"  {row.scenario}: {row.metric} ({row.group}) "
            f"+/-{row.relative_half_width:.1%}; about {row.replications_needed} replications needed"
        ),
    )


def format_fit(result) -> str:
    """A calibration's fitted values and its targets against what the model gives."""
    lines = [f"Calibration of {result.date} ({result.settings['replications']} replications, "
             f"seed {result.settings['seed']})"]  # fmt: skip
    for stage in result.stages:
        status = "converged" if stage.converged else "stopped at the evaluation limit"
        lines.append(f"\nstage {stage.name}: {stage.evaluations} evaluations, {status}, "
                     f"misfit {stage.objective:.2f}")  # fmt: skip
        for name, value in stage.parameters.items():
            lines.append(f"  {name:<32} {stage.start[name]:>10.4g} -> {value:<10.4g}")
        lines.append(f"  {'target':<48}{'published':>12}{'model':>12}  within tolerance")
        for t in stage.targets:
            mark = "yes" if t["within_tolerance"] else "no"
            lines.append(f"  {t['name']:<48}{t['target']:>12.4g}{t['simulated']:>12.4g}  {mark}")
    return "\n".join(lines)


def format_ensemble(report: dict) -> str:
    """A calibration ensemble (the report of :func:`sim.analysis.ensemble.ensemble_report`):
    per stage how the ABC ran, each parameter's prior range and posterior, each target
    against the ensemble's simulated mean and 90% range."""
    settings = report["settings"]
    lines = [f"Calibration ensemble of {report['date']}: {report['particles']} particles "
             f"(effective {report['effective_sample_size']:.0f}), {settings['replications']} "
             f"replications per simulation, seed {settings['seed']}"]  # fmt: skip
    parameters, targets = report["parameters"], report["targets"]
    for stage in report["stages"]:
        floor = "reached" if stage["reached_floor"] else "not reached"
        lines.append(f"\nstage {stage['name']}: {len(stage['generations'])} generations, "
                     f"{stage['simulations']} simulations, threshold {stage['epsilon']:.3g} "
                     f"(floor {stage['epsilon_floor']:.3g}, {floor}), {stage['seconds']:.0f} s")  # fmt: skip
        lines.append(f"  {'parameter':<30}{'prior':>18}{'posterior median [5%-95%]':>32}  point fit")
        for p in (p for p in parameters if p["stage"] == stage["name"]):
            post = p["posterior"]
            prior = f"{p['prior']['low']:.4g} to {p['prior']['high']:.4g}"
            band = f"{post['median']:.4g} [{post['q05']:.4g}-{post['q95']:.4g}]"
            point = ""
            if "point_fit" in p:
                where = "inside" if p["point_fit_in_range"] else "OUTSIDE"
                point = f"{p['point_fit']:.4g} ({where})"
            lines.append(f"  {p['name']:<30}{prior:>18}{band:>32}  {point}")
        lines.append(f"  {'target':<48}{'published':>10}{'ensemble mean [90% range]':>30}")
        for t in (t for t in targets if t["stage"] == stage["name"]):
            sim = t["simulated"]
            band = f"{sim['mean']:.4g} [{sim['q05']:.4g}-{sim['q95']:.4g}]"
            lines.append(f"  {t['name'][:47]:<48}{t['target']:>10.4g}{band:>30}")
    return "\n".join(lines)


def format_validation(table: pd.DataFrame) -> str:
    """Model against published figures, one line each."""
    lines = [
        f"  {'quantity':<46}{'published':>10}{'model mean':>12}{'model 90% range':>20}  in range  fit"
    ]
    for row in table.itertuples(index=False):
        span = f"{row.model_q05:.3g} to {row.model_q95:.3g}"
        lines.append(
            f"  {row.quantity:<46}{row.published:>10.4g}{row.model_mean:>12.4g}{span:>20}  "
            f"{'yes' if row.published_in_model_range else 'no':<8}  {'used' if row.used_in_fit else 'held out'}"
        )
    held = table[~table["used_in_fit"]]
    lines.append(
        f"\n{int(held['published_in_model_range'].sum())} of {len(held)} held-out figures lie within "
        f"the model's 90% range; {int(table['used_in_fit'].sum())} figures were used in the fit."
    )
    return "Model against published data\n" + "\n".join(lines)


def format_one_way(table: pd.DataFrame, output) -> str:
    """One-way sensitivity, largest effect first."""
    return _row_lines(
        f"One-way sensitivity of {output.label()} (high minus low, 95% CI)",
        table,
        lambda row: (
            f"  {row.parameter:<58} {row.low:>8g} to {row.high:<8g} {row.effect:>+9.3g} "
            f"({row.ci_low:+.3g} to {row.ci_high:+.3g})"
        ),
    )


def format_global(indices: pd.DataFrame, diagnostics: dict) -> str:
    """Morris or Sobol indices, with how much of the variation is simulation noise."""
    method = diagnostics["method"]
    columns = ["mu_star", "sigma"] if method == "morris" else ["first_order", "total"]
    return _row_lines(
        f"\n{method.capitalize()} ({diagnostics['sample_points']} sample points, "
        f"{diagnostics['replications_per_point']} replications each): simulation noise is "
        f"{diagnostics['noise_share']:.1%} of the output's variance across the sample",
        indices,
        lambda row: (
            f"  {row.parameter:<58} " + "  ".join(f"{c} {getattr(row, c):.3g}" for c in columns)
        ),
    )
