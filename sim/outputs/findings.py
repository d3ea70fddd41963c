"""The chart pack's key findings: a page of numbers, each with its range, that opens the pack.

Every number is read from the summary table by the run summary's definitions
(:mod:`sim.outputs.summary`: the median across replications with the 5th and 95th
percentiles, :func:`~sim.outputs.summary.median_range`; the share of replications in which
the national team is first short of hours within the horizon,
:func:`~sim.outputs.summary.first_event`); the differences between scenarios are the paired
comparison chart's (:func:`sim.analysis.compare.paired_differences`); the workforce question
is :mod:`sim.outputs.charts.workforce`'s answer and the back-test's count is
:func:`sim.outputs.sections.backtest_sentences`'. Computes no statistic of its own.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

import pandas as pd

from sim.outputs.charts.data import ChartData, day_text, scenario_titles
from sim.outputs.charts.workforce import WorkforceSection
from sim.outputs.summary import first_event, median_range
from sim.results import Results


@dataclass(frozen=True)
class Finding:
    """One row of the key figures: a label and, per scenario, its figure in words."""

    key: str
    label: str
    cells: dict[str, str] = field(default_factory=dict)
    values: dict[str, tuple[float, float, float] | float | None] = field(default_factory=dict)
    """The numbers behind each cell: (median, 5th, 95th percentile), or a share."""


ROWS = (
    ("in_programme", "in_programme", "all", "year", 1.0, "trusts"),
    ("waiting", "waiting", "all", "year", 1.0, "trusts"),
    ("admissions", "admissions", "all", "horizon", 1.0, "trusts"),
    ("mean_wait", "mean_wait_weeks", "all", "horizon", 1.0, "weeks"),
    ("cost", "cost", "total", "horizon", 1e-6, "£m"),
    ("cost_trusts", "cost_by_payer", "trusts", "horizon", 1e-6, "£m"),
    ("cost_nhs_england", "cost_by_payer", "nhs_england", "horizon", 1e-6, "£m"),
)  # fmt: skip
"""(key, metric, group, frequency, scale, unit) of each figure with a range: stocks at the end
of the last financial year, flows and costs over the whole forecast."""
SHORT = "first_week_national_demand_exceeded"


def with_range(figure: tuple[float, float, float] | None, unit: str) -> str:
    """'15 (12 to 15)': the median and the 5th to 95th percentile, or '-' when none."""
    if figure is None:
        return "-"
    median, low, high = figure
    if unit == "£m":
        return f"£{median:.1f}m (£{low:.1f}m to £{high:.1f}m)"
    suffix = " weeks" if unit == "weeks" else ""
    return f"{median:.0f}{suffix} ({low:.0f} to {high:.0f})"


def key_figures(results: Results, names: list[str], summary: pd.DataFrame) -> list[Finding]:
    """The key figures of each scenario in ``names``: trusts in the programme and waiting at
    the end of the last financial year, admissions and the mean wait over the forecast, the
    share of replications in which the national team is short of hours at some time, and
    cost over the forecast in total and by payer (in the base year's prices)."""
    first = results.scenarios[names[0]]
    last_day = day_text(first.end_date - dt.timedelta(days=1))
    base_year = first.price_basis().base_year
    labels = {
        "in_programme": f"Trusts in the programme on {last_day}",
        "waiting": f"Trusts waiting for a place on {last_day}",
        "admissions": "Trusts admitted over the forecast",
        "mean_wait": "Mean wait of the trusts admitted",
        "short": "Replications in which the national team is short of hours at some time",
        "cost": f"Cost of support over the forecast ({base_year} prices)",
        "cost_trusts": "of which paid by the trusts supported",
        "cost_nhs_england": "of which paid by NHS England",
    }
    rows = {key: Finding(key, labels[key]) for key in labels}
    for name in names:
        own = summary[summary["scenario"] == name]
        last_year = own.loc[own["frequency"] == "year", "period"].iloc[-1]
        for key, metric, group, frequency, scale, unit in ROWS:
            match = (own["metric"] == metric) & (own["group"] == group) & (
                own["frequency"] == frequency)  # fmt: skip
            if frequency == "year":
                match &= own["period"] == last_year
            figure = median_range(own[match], scale)
            rows[key].values[name] = figure
            rows[key].cells[name] = with_range(figure, unit)
        share, dates = first_event(own, SHORT, results.replications,
                                   results.scenarios[name].start_date)  # fmt: skip
        rows["short"].values[name] = share
        rows["short"].cells[name] = f"{share:.0%}" + (
            f" (first short: median {day_text(dates[0])})" if dates else "")  # fmt: skip
    return list(rows.values())


def key_sentences(
    results: Results,
    names: list[str],
    figures: list[Finding],
    workforce: WorkforceSection | None = None,
    comparison: ChartData | None = None,
    backtest: str = "",
) -> list[str]:
    """The findings in words: the baseline's (first) figures with their ranges, the national
    team's chance of being short with the rule under which it is (a parameter run), what
    each other scenario changes in the waiting list and cost (paired, with 95% intervals),
    and the back-test's count (``backtest``: its sentence, if it ran)."""
    titles = scenario_titles(results)
    base = names[0]
    row = {f.key: f for f in figures}

    def figure(key: str, unit: str) -> str:
        return with_range(row[key].values[base], unit)

    last_day = row["in_programme"].label.rsplit(" on ", 1)[-1]
    sentences = [
        f"In the {titles[base]}, the programme holds {figure('in_programme', 'trusts')} trusts on "
        f"{last_day} and {figure('waiting', 'trusts')} are waiting for a place.",
        f"Over the forecast {figure('admissions', 'trusts')} trusts are admitted; those admitted "
        f"wait {figure('mean_wait', 'weeks')} on average.",
    ]
    answer = (workforce.answers.get(base) if workforce is not None else None)
    if answer is not None:
        sentences.append(answer.sentence())
    else:
        sentences.append(f"The national team is short of hours at some time in "
                         f"{row['short'].values[base]:.0%} of replications.")  # fmt: skip
    base_year = results.scenarios[base].price_basis().base_year
    sentences.append(
        f"Support costs {figure('cost', '£m')} over the forecast in {base_year} prices: "
        f"{figure('cost_trusts', '£m')} paid by the trusts supported and "
        f"{figure('cost_nhs_england', '£m')} by NHS England."
    )
    if comparison is not None and len(comparison.table):
        sentences += _differences(comparison, titles)
    if backtest:
        sentences.append(backtest)
    return sentences


WAITING, COST = "Trusts waiting (average)", "Total cost (£m)"
"""The comparison chart's measures the findings speak of (:data:`sim.vocabulary.HEADLINES`)."""


def _differences(comparison: ChartData, titles: dict[str, str]) -> list[str]:
    """Per scenario compared: its paired difference from the baseline in the average
    waiting list and the total cost, with 95% intervals."""
    table = comparison.table
    base = titles[comparison.meta["baseline"]]
    out = []
    for name in dict.fromkeys(table["scenario"]):
        rows = table[table["scenario"] == name].set_index("measure")
        parts = []
        for measure, words, unit in ((WAITING, "trusts waiting on average", "trusts"),
                                     (COST, "in cost over the forecast", "£m")):  # fmt: skip
            if measure not in rows.index:
                continue
            r = rows.loc[measure]
            if unit == "£m":
                mean = _pounds(r["mean_difference"], sign="+")
                span = f"{_pounds(r['ci_low'])} to {_pounds(r['ci_high'])}"
            else:
                mean = f"{r['mean_difference']:+.1f}"
                span = f"{r['ci_low']:.1f} to {r['ci_high']:.1f}"
            parts.append(f"{mean} {words} (95% interval {span})")
        out.append(f"{titles[name]}, against the {base}: " + " and ".join(parts) + ".")
    return out


def _pounds(millions: float, sign: str = "") -> str:
    """'£5.14m', '-£3.69m' (and '+£5.14m' with ``sign="+"``)."""
    return f"{'-' if millions < 0 else sign}£{abs(millions):.2f}m"


def findings_html(sentences: list[str], figures: list[Finding], titles: dict[str, str],
                  replications: int) -> str:  # fmt: skip
    """The key findings section: the sentences as a list, then a table of the key figures,
    a column per scenario."""
    e = html.escape
    items = "".join(f"<li>{e(s)}</li>" for s in sentences)
    names = list(figures[0].cells) if figures else []
    head = "".join(f'<th scope="col">{e(titles[n])}</th>' for n in names)
    body = "".join(
        f'<tr class="{"sub" if f.label.startswith("of which") else ""}"><th scope="row">'
        f"{e(f.label)}</th>" + "".join(f"<td>{e(f.cells[n])}</td>" for n in names) + "</tr>"
        for f in figures
    )
    return (
        '<section id="findings"><h2>Key findings</h2>'
        f'<ul class="findings">{items}</ul>'
        '<table id="findings-table" class="figures"><caption>Key figures by scenario: median '
        f"across {replications} replications (5% to 95% of them in brackets)</caption>"
        f'<thead><tr><th scope="col">Figure</th>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</section>"
    )
