"""The capacity planner: the smallest lever setting that meets a stated target.

A target is written as planners say it, for example::

    share_waiting_over_13_weeks <= 0.10 in every quarter of 2027/28
    waiting <= 5 over the horizon
    utilisation:national <= 0.85 in every year

and a lever is one of :data:`LEVERS` (national-team WTE, programme cap, consultancy budget).
Each candidate setting runs the same replications with the same seed (common random
numbers), which makes the target metric close to monotone in the lever, so the search is a
bisection between the bounds given. A setting *meets the target on average* if the mean
across replications meets it in every period selected, and *meets it with 95% confidence*
if the upper (or lower) end of the 95% interval does; the planner reports the smallest
setting of each kind, which brackets the answer's uncertainty.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calendar import WEEKS_PER_YEAR
from sim.charts.data import DATA_SOURCES, ChartData
from sim.reduce import Layout
from sim.runner import DEFAULT_SEED, run_outputs
from sim.scenario import Scenario, with_changes
from sim.statistics import column_means, t_half_width

TARGET_PATTERN = re.compile(
    r"^\s*(?P<metric>[a-z_0-9]+)(?::(?P<group>[a-z_0-9| ]+))?\s*(?P<op><=|>=)\s*(?P<value>[-+0-9.eE]+)\s*"
    r"(?:(?P<over>over the horizon)|in every (?P<frequency>month|quarter|year)(?: of (?P<year>\d{4}/\d{2}))?)?\s*$"
)


@dataclass(frozen=True)
class PlanTarget:
    """A condition on one metric, in every period selected (or over the whole horizon)."""

    metric: str
    group: str
    comparator: str
    threshold: float
    frequency: str
    financial_year: str | None
    text: str

    @classmethod
    def parse(cls, text: str) -> PlanTarget:
        match = TARGET_PATTERN.match(text)
        if not match:
            raise ValueError(
                f"cannot read the target {text!r}; write it like "
                "'share_waiting_over_13_weeks <= 0.10 in every quarter of 2027/28' or "
                "'waiting <= 5 over the horizon'"
            )
        return cls(
            metric=match["metric"],
            group=(match["group"] or "all").strip(),
            comparator=match["op"],
            threshold=float(match["value"]),
            frequency=match["frequency"] or "horizon",
            financial_year=match["year"],
            text=text.strip(),
        )

    def select(self, layout: Layout) -> np.ndarray:
        mask = (
            (layout.metric == self.metric)
            & (layout.group == self.group)
            & (layout.frequency == self.frequency)
        )
        if self.financial_year:
            mask &= np.array([str(p).startswith(self.financial_year) for p in layout.period])
        if not mask.any():
            raise ValueError(f"the target {self.text!r} selects no output of this scenario")
        return mask

    def met(self, value: np.ndarray) -> bool:
        return bool(
            np.all(value <= self.threshold)
            if self.comparator == "<="
            else np.all(value >= self.threshold)
        )


@dataclass(frozen=True)
class Lever:
    """A setting the planner can move, and how to put a value of it into a scenario."""

    name: str
    description: str
    unit: str
    integer: bool
    apply: Callable[[Scenario, float], Scenario]


def _set_wte(scenario: Scenario, wte: float) -> Scenario:
    steps = [step.model_dump(mode="json") for step in scenario.team.national.wte_schedule]
    steps[-1]["wte"] = float(wte)  # the team size from the last change on (after a cut)
    return with_changes(scenario, {"team.national.wte_schedule": steps}, note="planner trial value")


def _set_cap(scenario: Scenario, cap: float) -> Scenario:
    return with_changes(scenario, {"programme.cap": int(cap)}, note="planner trial value")


def _set_budget(scenario: Scenario, pounds_per_year: float) -> Scenario:
    days = pounds_per_year / scenario.team.consultancy.day_rate / WEEKS_PER_YEAR
    return with_changes(
        scenario, {"team.consultancy.framework_cap_days_per_week": days}, note="planner trial value"
    )


LEVERS = {
    "national_wte": Lever(
        "national_wte", "national team WTE (from its last change on)", "WTE", True, _set_wte
    ),
    "cap": Lever("cap", "programme cap", "trusts", True, _set_cap),
    "consultancy_budget": Lever(
        "consultancy_budget", "consultancy framework budget", "£ per year", False, _set_budget
    ),
}


@dataclass
class PlanResult:
    lever: Lever
    target: PlanTarget
    evaluations: pd.DataFrame
    """One row per setting tried: value, worst period's mean and its interval, met flags."""
    on_average: float | None
    """Smallest setting meeting the target on average (None if none within the bounds)."""
    with_confidence: float | None
    """Smallest setting meeting it at the end of the 95% interval (None if none)."""
    replications: int
    seed: int


def plan(
    scenario: Scenario,
    lever: str,
    target: str | PlanTarget,
    low: float,
    high: float,
    replications: int = 200,
    seed: int = DEFAULT_SEED,
    jobs: int | str = "auto",
    resolution: float | None = None,
    progress: bool | None = None,
) -> PlanResult:
    """Find the smallest ``lever`` setting in ``[low, high]`` that meets ``target``.

    ``resolution`` is the precision of a continuous lever (default: 1% of the range).
    """
    if lever not in LEVERS:
        raise ValueError(f"lever must be one of {', '.join(LEVERS)}, got {lever!r}")
    if not low < high:
        raise ValueError(f"low ({low}) must be below high ({high})")
    chosen = LEVERS[lever]
    goal = target if isinstance(target, PlanTarget) else PlanTarget.parse(target)
    step = 1.0 if chosen.integer else (resolution or (high - low) / 100)
    cache: dict[float, dict] = {}

    def evaluate(values: list[float]) -> None:
        new = [v for v in dict.fromkeys(values) if v not in cache]
        if not new:
            return
        runs = [chosen.apply(scenario, v) for v in new]
        for value, matrix in zip(
            new, run_outputs(runs, goal.select, replications, seed, jobs, progress), strict=True
        ):
            count, mean, sd = column_means(matrix)
            half = np.nan_to_num(t_half_width(sd, count))
            bound = mean + half if goal.comparator == "<=" else mean - half
            worst = int(np.nanargmax(mean) if goal.comparator == "<=" else np.nanargmin(mean))
            cache[value] = {
                "value": value, "worst_period_mean": mean[worst],
                "worst_ci_low": mean[worst] - half[worst], "worst_ci_high": mean[worst] + half[worst],
                "met_on_average": goal.met(mean[~np.isnan(mean)]),
                "met_with_confidence": goal.met(bound[~np.isnan(bound)]),
            }  # fmt: skip

    def snap(value: float) -> float:
        return float(round(value)) if chosen.integer else float(value)

    low, high = snap(low), snap(high)
    grid = np.linspace(low, high, 5)
    evaluate([snap(v) for v in grid])
    answers = {}
    for flag in ("met_on_average", "met_with_confidence"):
        if not cache[high][flag]:
            answers[flag] = None
            continue
        lo, hi = low, high
        if cache[lo][flag]:
            answers[flag] = lo
            continue
        # bracket from the grid, then bisect: lo fails, hi meets
        tried = sorted(cache)
        lo = max(v for v in tried if not cache[v][flag] and v < hi)
        hi = min(v for v in tried if cache[v][flag] and v > lo)
        while hi - lo > step + 1e-9:
            middle = snap((lo + hi) / 2)
            if middle in (lo, hi):
                break
            evaluate([middle])
            lo, hi = (lo, middle) if cache[middle][flag] else (middle, hi)
        answers[flag] = hi
    table = pd.DataFrame(sorted(cache.values(), key=lambda row: row["value"]))
    return PlanResult(chosen, goal, table, answers["met_on_average"], answers["met_with_confidence"],
                      replications, seed)  # fmt: skip


def plan_chart(result: PlanResult, scenario: str) -> ChartData:
    lever, goal = result.lever, result.target
    if result.on_average is None:
        title = (
            f"No {lever.description} up to {result.evaluations['value'].max():g} meets the target"
        )
    else:
        title = (
            f"A {lever.description} of {_fmt(result.on_average, lever)} meets the target on average; "
            + (
                f"{_fmt(result.with_confidence, lever)} meets it with 95% confidence"
                if result.with_confidence is not None
                else "no setting tried meets it with 95% confidence"
            )
        )
    return ChartData(
        key="plan",
        kind="plan",
        title=title,
        caption=(
            f"Target: {goal.text}. Each point is a {lever.description} tried, with the mean of the "
            "target metric in its worst period and the 95% interval of that mean (same random numbers "
            "at every setting). The dashed line is the threshold."
        ),
        alt_text=(
            f"Chart of the target metric against {lever.description}: "
            + "; ".join(
                f"{r.value:g}: {r.worst_period_mean:.3g}" for r in result.evaluations.itertuples()
            )
            + f". Threshold {goal.threshold:g}."
        ),
        footnote=f"Scenario: {scenario}. {result.replications} replications per setting, seed {result.seed}. {DATA_SOURCES}",
        table=result.evaluations,
        y_label=f"{goal.metric} ({goal.group}), worst period",
        meta={
            "threshold": goal.threshold,
            "answer": result.on_average,
            "confident": result.with_confidence,
            "x_label": f"{lever.description} ({lever.unit})",
        },  # fmt: skip
    )


def _fmt(value: float | None, lever: Lever) -> str:
    if value is None:
        return "none"
    if lever.name == "consultancy_budget":
        return f"£{value / 1e6:.2f}m a year"
    return f"{value:g} {lever.unit}" if not math.isnan(value) else "none"
