"""The workforce question in the chart pack: how often the national team is short of hours
across plausible futures, under which assumptions, and where each figure's spread comes from.

The answer is :func:`sim.analysis.workforce.workforce_answer`, read from the same per
replication figures as ``python -m sim run`` reads from its results folder (the national
team short at some time over the forecast, and its shortfall in hours); the spread's split
between the assumptions and run-to-run noise is
:func:`sim.experiment.uncertainty.variance_split`, the function that writes
``variance_split.csv``, for the figures ``run`` prints
(:data:`sim.outputs.summary.VARIANCE_HEADLINES`). :func:`futures_chart` draws the sampled
futures on the assumptions of the discovered rule. Computes no statistic of its own and
draws nothing (:mod:`sim.outputs.charts.draw_workforce` draws).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.analysis.discovery import percent_words
from sim.analysis.workforce import WORKFORCE_ROWS, WorkforceAnswer
from sim.analysis.workforce import workforce_answers as run_answers
from sim.experiment.uncertainty import ParameterDraws, variance_split
from sim.outputs.charts.data import COVERAGE, ChartData, footnote, forecast_span, uncertainty
from sim.outputs.summary import VARIANCE_HEADLINES
from sim.results.tables import Results
from sim.vocabulary import plain_label

SHORTFALL = "shortfall_hours"
"""The chart's second axis when the rule restricts one assumption: hours short per future."""


@dataclass(frozen=True)
class WorkforceSection:
    """What the chart pack says about the workforce question, for the scenarios shown."""

    parameters: bool
    """Whether the run drew the assumptions; if not, the rest is empty."""
    answers: dict[str, WorkforceAnswer] = field(default_factory=dict)
    charts: dict[str, ChartData] = field(default_factory=dict)
    """The futures chart of each scenario that has a rule to draw."""
    variance: pd.DataFrame = field(default_factory=pd.DataFrame)
    """:func:`variance_table` of the scenarios."""

    def table(self) -> pd.DataFrame:
        """One row per scenario: the answer's numbers and sentence (``data/workforce.csv``)."""
        return pd.DataFrame([
            {"scenario": name, "probability_short": a.probability,
             "mean_shortfall_hours": a.mean_shortfall_hours, "sentence": a.sentence(),
             "rule": " and ".join(str(c) for c in a.discovery.rule),
             "explained": a.discovery.explained, "coverage": a.discovery.coverage,
             "density": a.discovery.density}
            for name, a in self.answers.items()
        ])  # fmt: skip


def workforce_section(results: Results, names: list[str]) -> WorkforceSection:
    """The workforce section's answers, charts and variance split for the scenarios
    ``names``; in a run that held the assumptions fixed, only that fact."""
    if not parameters_run(results):
        return WorkforceSection(parameters=False)
    answers = workforce_answers(results, names)
    charts = {name: futures_chart(results, name, answer) for name, answer in answers.items()}
    return WorkforceSection(True, answers, {n: c for n, c in charts.items() if c is not None},
                            variance_table(results, names))  # fmt: skip


def parameters_run(results: Results) -> bool:
    """Whether every replication drew the uncertain assumptions (``--uncertainty parameters``)."""
    return uncertainty(results) == "parameters"


def horizon_rows(results: Results, scenario: str) -> pd.DataFrame:
    """The tidy rows ``workforce_answer`` reads (as ``run`` reads them from its results
    folder): one per replication of each of :data:`WORKFORCE_ROWS` over the whole forecast."""
    keys, values = results.keys[scenario], results.values[scenario]
    frames = []
    for metric, group in WORKFORCE_ROWS:
        (row,) = np.flatnonzero(keys.select(metric, "horizon", group))
        frames.append(pd.DataFrame({
            "scenario": scenario, "replication": np.arange(values.shape[0]),
            "frequency": "horizon", "period": keys.period[row], "metric": metric,
            "group": group, "value": values[:, row],
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def workforce_answers(results: Results, names: list[str]) -> dict[str, WorkforceAnswer]:
    """The workforce question for each of the scenarios ``names`` of a parameter run
    (:func:`sim.analysis.workforce.workforce_answers`: a scenario that drew nothing is left
    out)."""
    tidy = pd.concat([horizon_rows(results, name) for name in names], ignore_index=True)
    scenarios = [results.scenarios[name] for name in names]
    return run_answers(tidy, scenarios, int(results.manifest["seed"]), results.replications)


def variance_table(results: Results, names: list[str]) -> pd.DataFrame:
    """Per scenario, the share of each figure ``run`` reports that comes from the
    assumptions, the rest being run-to-run noise (whole forecast): the rows of
    ``variance_split.csv`` for those figures, with their labels and the noise's share."""
    frames = []
    for name in names:
        keys = results.keys[name]
        rows = [int(np.flatnonzero(keys.select(metric, "horizon", group))[0])
                for metric, group, _ in VARIANCE_HEADLINES]  # fmt: skip
        split = variance_split(results.values[name][:, rows])
        frames.append(pd.DataFrame({
            "scenario": name, "frequency": "horizon", "period": keys.period[rows],
            "metric": [m for m, _, _ in VARIANCE_HEADLINES],
            "group": [g for _, g, _ in VARIANCE_HEADLINES],
            "figure": [label for _, _, label in VARIANCE_HEADLINES], **split,
        }))  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    table["noise_share"] = 1 - table["assumptions_share"]
    return table


def futures_chart(results: Results, scenario: str, answer: WorkforceAnswer) -> ChartData | None:
    """The sampled futures on the assumptions of the rule that ``answer`` found, marked
    short or never short, with the rule's box; None when there is no rule to draw (the team
    is never or always short, or no assumption concentrates it).

    With two assumptions in the rule they are the axes; with one, it is the horizontal
    axis and the national team's shortfall over the forecast (hours) the vertical one.
    """
    found = answer.discovery
    if not found.rule:
        return None
    seed = int(results.manifest["seed"])
    drawn = pd.DataFrame(ParameterDraws(results.scenarios[scenario], seed,
                                        results.replications).table())  # fmt: skip
    rows = horizon_rows(results, scenario)
    outcome = {metric: rows[rows["metric"] == metric]["value"].to_numpy()
               for metric, _ in WORKFORCE_ROWS}  # fmt: skip
    axes = list(dict.fromkeys(c.parameter for c in found.rule))
    table = pd.DataFrame({
        "replication": np.arange(results.replications),
        "short": outcome["national_demand_exceeded"] > 0,
        SHORTFALL: outcome[SHORTFALL],
        **{path: drawn[path].to_numpy() for path in axes},
        "inside_rule": found.inside(drawn),
    })  # fmt: skip
    if len(axes) == 1:
        axes.append(SHORTFALL)
    words = {c.parameter: (c.label or plain_label(c.parameter, sentence=True)[0], c.unit)
             for c in found.rule}  # fmt: skip
    words[SHORTFALL] = ("national team's shortfall over the forecast", "hours")
    box = {path: (next((c.threshold for c in found.rule if c.parameter == path and c.operator == ">"), None),
                  next((c.threshold for c in found.rule if c.parameter == path and c.operator == "<="), None))
           for path in axes}  # fmt: skip
    short = table["short"].to_numpy()
    inside = table["inside_rule"].to_numpy()
    share, density = short.mean(), short[inside].mean() if inside.any() else 0.0
    coverage = inside[short].mean() if short.any() else 0.0
    hours = table[SHORTFALL].mean()
    futures = f"{results.replications:,} plausible futures"
    title = (
        f"The national team is short in {percent_words(share)} of plausible futures, "
        + (f"{percent_words(density)} of those in the box"
           if found.explained else "and no single assumption explains it")
    )  # fmt: skip
    label = {path: _axis_label(*words[path]) for path in axes}
    return ChartData(
        key=f"{scenario}-workforce",
        kind="workforce",
        title=title,
        subtitle=(
            f"Each point is one of {futures} ({forecast_span(results, scenario)}), short of "
            "hours at some time or never, against the assumptions of the rule that scenario "
            f"discovery finds; {COVERAGE}."
        ),
        caption=(
            f"Each point is one of the {futures} (replications): its {words[axes[0]][0]} "
            f"against its {words[axes[1]][0]}. Triangles: the national team is short of hours at "
            "some time over the forecast; circles: it never is. Replications come in pairs that "
            "share a draw of the assumptions, so a place may hold both. The box is the rule "
            f"that scenario discovery finds"
            + ("" if found.explained else
               f"; only {percent_words(density)} of the futures in the box are short")
            + f". {answer.sentence()} Mean shortfall over the "
            f"forecast, across all futures: {hours:,.0f} hours."
        ),
        alt_text=(
            f"Scatter chart of {futures}: {_axis_label(*words[axes[0]], capital=False)} across, "
            f"{_axis_label(*words[axes[1]], capital=False)} up; "
            f"{int(short.sum())} short of hours at some time ({percent_words(share)}), drawn as "
            f"triangles. The box drawn holds {int(inside.sum())} futures, {percent_words(density)} of "
            f"them short, and {percent_words(coverage)} of the futures that are short."
        ),
        footnote=footnote(results, scenario),
        table=table,
        y_label=label[axes[1]],
        meta={"x": axes[0], "y": axes[1], "x_label": label[axes[0]], "box": box,
              "explained": found.explained, "share": share, "density": density,
              "coverage": coverage},  # fmt: skip
    )


def _axis_label(words: str, unit: str, capital: bool = True) -> str:
    text = words[:1].upper() + words[1:] if capital else words
    return f"{text} ({unit})" if unit else text
