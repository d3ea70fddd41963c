"""The capacity planner: the smallest lever setting that meets a stated target.

A target is written as planners say it, for example::

    share_waiting_over_13_weeks <= 0.10 in every quarter of 2027/28
    waiting <= 5 over the horizon
    utilisation:national <= 0.85 in every year

and a lever is one of :data:`LEVERS` (national-team WTE, programme cap, consultancy budget).
Every setting tried runs the same replications with the same seed (common random numbers).

The target metric need not be monotone in the lever (a larger cap can lengthen waits when
it spreads the national team thinner), so the planner does not bisect: it evaluates a grid
across the whole range (every value of an integer lever when there are few), then refines
between grid points around the first setting that meets the target, and reports where the
metric moves against its overall direction by more than simulation noise.

Per setting it reports the mean of the target metric (in its worst period), whether the
mean meets the target, and the share of replications meeting it: the probability of
meeting the target, which is what "meets it in 90% of futures" means. For a target "in
every quarter", a replication meets it only if it meets it in every quarter selected.
The answers are the smallest setting whose mean meets the target and the smallest whose
probability reaches the level asked for (``probability``, default 90%).

Returns tables and plain sentences; the chart is
:func:`sim.outputs.charts.analysis.plan_chart`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.calendar import WEEKS_PER_YEAR
from sim.errors import ArgumentError
from sim.experiment.layout import Layout, build_layout
from sim.experiment.runner import run_outputs
from sim.experiment.settings import DEFAULT_SEED, RunSettings
from sim.model.replication import compile_scenario
from sim.results.statistics import CONFIDENCE, column_means, t_half_width
from sim.scenario import Scenario, with_changes

log = logging.getLogger(__name__)

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
        """Whether every value (one per period selected) meets the target."""
        return bool(
            np.all(value <= self.threshold)
            if self.comparator == "<="
            else np.all(value >= self.threshold)
        )

    def met_each(self, values: np.ndarray) -> np.ndarray:
        """Per replication (row), whether it meets the target in every period (column).

        A missing value (for example a waiting-time share in a quarter with no referrals)
        has nothing to fail on, so it does not count against the replication.
        """
        with np.errstate(invalid="ignore"):
            ok = values <= self.threshold if self.comparator == "<=" else values >= self.threshold
        return np.all(ok | np.isnan(values), axis=1)


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


DEFAULT_PROBABILITY = 0.90
"""Share of replications that must meet the target for the second answer."""
PLAN_SETTINGS = RunSettings(replications=200, seed=DEFAULT_SEED, jobs="auto")
"""Replications per setting tried, all with the same random numbers."""
EVERY_VALUE_LIMIT = 21
"""An integer lever with at most this many values in range is tried at every value."""
GRID_POINTS = 11
"""Otherwise, settings tried across the range first (then refined near the answer)."""
REFINE_POINTS = 4
"""Settings tried inside the bracket around an answer in each refinement round."""
MAX_ROUNDS = 30
"""Refinement rounds at most (each narrows a bracket about five-fold)."""

Evaluate = Callable[[list[float]], list[np.ndarray]]
"""Settings -> per setting, a (replications x periods selected) matrix of the target metric.

The same replications (and random numbers) at every setting, so rows pair across settings."""

FLAGS = ("met_on_average", "met_with_probability")


class PlanInputError(ArgumentError):
    """A planner argument that cannot be used; ``argument`` names it (e.g. ``--min``)."""


@dataclass
class PlanResult:
    """What the planner tried and found; :meth:`findings` says it in words."""

    lever: Lever
    target: PlanTarget
    evaluations: pd.DataFrame
    """One row per setting tried: the worst period's mean and its 95% interval, whether the
    mean meets the target, and the share of replications meeting it (with a 95% interval)."""
    on_average: float | None
    """Smallest setting whose mean meets the target (None if none tried does)."""
    with_probability: float | None
    """Smallest setting meeting it in at least ``probability`` of replications (or None)."""
    probability: float
    """The share of replications asked for, 0 to 1."""
    breaks: pd.DataFrame
    """Runs of settings over which the mean moves against its overall direction by more than
    simulation noise (paired 95% interval of the change excludes 0); empty if monotone."""
    replications: int
    seed: int | None

    @property
    def monotone(self) -> bool:
        """No reversal of the target metric beyond simulation noise among the settings tried."""
        return self.breaks.empty

    def failing_above(self, flag: str) -> list[float]:
        """Settings larger than the answer for ``flag`` that do not meet the target."""
        answer = self.on_average if flag == "met_on_average" else self.with_probability
        if answer is None:
            return []
        rows = self.evaluations
        return rows.loc[(rows["value"] > answer) & ~rows[flag], "value"].tolist()

    def findings(self) -> list[str]:
        """The answers and what the search saw, as plain sentences."""
        lever, rows = self.lever, self.evaluations
        span = f"from {format_span(rows['value'].min(), rows['value'].max(), lever)}"
        share = f"{self.probability:.0%} of replications"
        lines = []
        if self.on_average is None:
            lines.append(f"No {lever.description} tried {span} meets the target on average.")
        else:
            lines.append(
                f"A {lever.description} of {format_setting(self.on_average, lever)} is the smallest setting "
                "tried whose mean meets the target."
            )
        if self.with_probability is None:
            best = rows.loc[rows["probability_met"].idxmax()]
            lines.append(
                f"No setting tried {span} meets it in at least {share} (simulated futures); "
                f"the most is {best['probability_met']:.0%} at {format_setting(best['value'], lever)}."
            )
        else:
            row = rows.set_index("value").loc[self.with_probability]
            lines.append(
                f"A {lever.description} of {format_setting(self.with_probability, lever)} is the smallest "
                f"tried that meets it in at least {share} (simulated futures): "
                f"{row['probability_met']:.0%} (95% interval {row['probability_ci_low']:.0%} to "
                f"{row['probability_ci_high']:.0%})."
            )
        if rows["value"].min() in (self.on_average, self.with_probability):
            lines.append("The smallest setting tried already meets it: a lower --min may too.")
        if self.monotone:
            lines.append(
                "The target metric moves one way across the settings tried (no reversal "
                "larger than simulation noise)."
            )
        else:
            runs = "; ".join(
                f"{'rises' if b.change > 0 else 'falls'} from {b.from_mean:.3g} at "
                f"{format_setting(b.from_value, lever)} to {b.to_mean:.3g} at {format_setting(b.to_value, lever)} "
                f"(paired change {b.change:+.3g}, 95% interval {b.ci_low:+.3g} to {b.ci_high:+.3g})"
                for b in self.breaks.itertuples()
            )
            lines.append(
                f"The target metric is not monotone in the {lever.description}: its mean in the "
                f"worst period {runs}."
            )
        for flag, words in zip(FLAGS, ("on average", f"in {share}"), strict=True):
            failing = self.failing_above(flag)
            if failing:
                lines.append(
                    f"Larger settings do not all meet it {words}: "
                    f"{_runs(failing, rows['value'].tolist(), lever)} do not."
                )
        return lines


def format_plan_table(result: PlanResult) -> str:
    """The settings tried as a compact text table for the terminal (plan.csv has it all)."""
    rows = result.evaluations
    table = pd.DataFrame({
        "setting": [format_setting(v, result.lever).split(" ")[0] for v in rows["value"]],
        "mean (worst period)": rows["worst_period_mean"].map("{:.4g}".format),
        "95% interval": [f"{a:.4g} to {b:.4g}" for a, b in zip(rows["worst_ci_low"], rows["worst_ci_high"], strict=True)],
        "mean meets": rows["met_on_average"].map({True: "yes", False: "no"}),
        "share of reps meeting": rows["probability_met"].map("{:.0%}".format),
        "95% interval ": [f"{a:.0%} to {b:.0%}" for a, b in zip(rows["probability_ci_low"], rows["probability_ci_high"], strict=True)],
    })  # fmt: skip
    return table.to_string(index=False)


def plan(
    scenario: Scenario,
    lever: str,
    target: str | PlanTarget,
    low: float,
    high: float,
    settings: RunSettings = PLAN_SETTINGS,
    resolution: float | None = None,
    probability: float = DEFAULT_PROBABILITY,
) -> PlanResult:
    """Find the smallest ``lever`` setting in ``[low, high]`` that meets ``target``.

    ``probability`` (0 to 1) is the share of replications that must meet the target for
    the second answer; ``resolution`` is the precision of a continuous lever (default: 1%
    of the range). Raises :class:`PlanInputError` for an argument that cannot be used.
    """
    chosen, goal = _lever(lever), _target(target)
    try:  # before any run: the target must name outputs of this scenario
        goal.select(build_layout(compile_scenario(scenario)))
    except ValueError as exc:
        raise PlanInputError("--target", str(exc)) from None

    def evaluate(values: list[float]) -> list[np.ndarray]:
        log.info("plan: %s at %s, %d replications each", lever,
                 ", ".join(format(v, "g") for v in values), settings.replications)
        runs = [chosen.apply(scenario, value) for value in values]
        return run_outputs(runs, goal.select, settings=settings)

    return search(evaluate, chosen, goal, low, high, probability, resolution, settings.seed)


def search(
    evaluate: Evaluate,
    lever: Lever | str,
    target: str | PlanTarget,
    low: float,
    high: float,
    probability: float = DEFAULT_PROBABILITY,
    resolution: float | None = None,
    seed: int | None = None,
) -> PlanResult:
    """The planner's search over settings scored by ``evaluate`` (see :data:`Evaluate`).

    Evaluates a grid across ``[low, high]`` (every value of an integer lever if there are
    at most :data:`EVERY_VALUE_LIMIT`, else :data:`GRID_POINTS` points), then refines
    between the last setting failing and the first meeting, for each answer, until the
    bracket is one step wide. Settings are never assumed to meet the target untried.
    """
    chosen = lever if isinstance(lever, Lever) else _lever(lever)
    goal = _target(target)
    if not 0 < probability <= 1:
        raise PlanInputError(
            "--probability", f"must be above 0% and at most 100%, got {probability:.0%}"
        )
    if chosen.integer:
        low, high = float(math.ceil(low - 1e-9)), float(math.floor(high + 1e-9))
    if not low < high:
        raise PlanInputError(
            "--min", f"the range must hold two settings or more, got {low:g} to {high:g}"
        )
    step = 1.0 if chosen.integer else (resolution or (high - low) / 100)
    if step <= 0:
        raise PlanInputError("resolution", f"must be above 0, got {step:g}")
    rows: dict[float, dict] = {}
    matrices: dict[float, np.ndarray] = {}
    worst: dict[float, int] = {}

    def run(values) -> None:
        new = [v for v in dict.fromkeys(_snap(v, chosen) for v in values) if v not in rows]
        if not new:
            return
        for value, matrix in zip(new, evaluate(new), strict=True):
            rows[value], worst[value] = _summarise(value, matrix, goal, probability)
            matrices[value] = matrix

    if chosen.integer and high - low + 1 <= EVERY_VALUE_LIMIT:
        run(np.arange(low, high + 1))
    else:
        run(np.linspace(low, high, GRID_POINTS))
    for _ in range(MAX_ROUNDS):
        inside = [
            value
            for flag in FLAGS
            for lo, hi in _bracket(rows, flag, step)
            for value in _inside(lo, hi, chosen)
        ]
        if not inside or all(_snap(v, chosen) in rows for v in inside):
            break
        run(inside)
    table = pd.DataFrame([rows[v] for v in sorted(rows)])
    answers = [_first(table, flag) for flag in FLAGS]
    replications = next(iter(matrices.values())).shape[0]
    breaks = _breaks(table, matrices, worst, goal)
    return PlanResult(chosen, goal, table, answers[0], answers[1], probability, breaks,
                      replications, seed)  # fmt: skip


def wilson_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval of a probability estimated as ``successes / trials``.

    Unlike the normal approximation it stays within 0 to 1 and is not empty at 0% or 100%,
    which is where planners' probabilities often are.
    """
    if trials <= 0:
        return math.nan, math.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    share = successes / trials
    scale = 1 + z**2 / trials
    centre = (share + z**2 / (2 * trials)) / scale
    half = z * math.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2)) / scale
    # exact at the ends (the formula gives 1 - 1e-16 for 100%, which plots as a negative bar)
    low = 0.0 if successes <= 0 else max(0.0, min(share, centre - half))
    high = 1.0 if successes >= trials else min(1.0, max(share, centre + half))
    return float(low), float(high)


def _lever(name: str) -> Lever:
    if name not in LEVERS:
        raise PlanInputError("--lever", f"must be one of {', '.join(LEVERS)}, got {name!r}")
    return LEVERS[name]


def _target(target: str | PlanTarget) -> PlanTarget:
    if isinstance(target, PlanTarget):
        return target
    try:
        return PlanTarget.parse(target)
    except ValueError as exc:
        raise PlanInputError("--target", str(exc)) from None


def _snap(value: float, lever: Lever) -> float:
    return float(round(value)) if lever.integer else float(value)


def _summarise(value: float, matrix: np.ndarray, goal: PlanTarget, probability: float):
    """One setting's row of the table, and which period (column) is its worst on average."""
    count, mean, sd = column_means(matrix)
    if np.isnan(mean).all():
        raise PlanInputError(
            "--target", f"{goal.metric} has no values in the periods selected (at {value:g})"
        )
    half = np.nan_to_num(t_half_width(sd, count))
    worst = int(np.nanargmax(mean) if goal.comparator == "<=" else np.nanargmin(mean))
    met = goal.met_each(matrix)
    share = float(met.mean())
    ci_low, ci_high = wilson_interval(int(met.sum()), len(met))
    row = {
        "value": value, "worst_period_mean": mean[worst],
        "worst_ci_low": mean[worst] - half[worst], "worst_ci_high": mean[worst] + half[worst],
        "met_on_average": goal.met(mean[~np.isnan(mean)]),
        "probability_met": share, "probability_ci_low": ci_low, "probability_ci_high": ci_high,
        # a small tolerance so that, say, 180 of 200 counts as 90%
        "met_with_probability": share >= probability - 1e-9,
    }  # fmt: skip
    return row, worst


def _bracket(rows: dict[float, dict], flag: str, step: float) -> list[tuple[float, float]]:
    """The last setting failing below the first meeting, if they are more than a step apart."""
    values = sorted(rows)
    first = next((i for i, v in enumerate(values) if rows[v][flag]), None)
    if not first:  # none meets, or the smallest does: nothing to refine
        return []
    lo, hi = values[first - 1], values[first]
    return [(lo, hi)] if hi - lo > step * (1 + 1e-9) else []


def _inside(lo: float, hi: float, lever: Lever) -> list[float]:
    """Settings strictly between ``lo`` and ``hi`` to try next (whole numbers if integer)."""
    points = np.linspace(lo, hi, REFINE_POINTS + 2)[1:-1]
    if lever.integer:
        points = np.unique(np.round(points))
    return [float(p) for p in points if lo < p < hi]


def _first(table: pd.DataFrame, flag: str) -> float | None:
    meeting = table.loc[table[flag], "value"]
    return float(meeting.min()) if len(meeting) else None


def _breaks(table: pd.DataFrame, matrices: dict, worst: dict, goal: PlanTarget) -> pd.DataFrame:
    """Runs of consecutive settings over which the worst period's mean moves against the
    overall direction (lowest to highest setting; if level, towards meeting the target),
    kept when the paired 95% interval of the run's change excludes 0. Common random numbers
    make the pairing valid: replication i is the same future at every setting."""
    values, means = table["value"].to_numpy(), table["worst_period_mean"].to_numpy()
    direction = np.sign(means[-1] - means[0]) or (-1.0 if goal.comparator == "<=" else 1.0)
    against = np.diff(means) * direction < 0
    found = []
    i = 0
    while i < len(against):
        if not against[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(against) and against[j + 1]:
            j += 1
        a, b = values[i], values[j + 1]
        change = matrices[b][:, worst[b]] - matrices[a][:, worst[a]]
        count, mean, sd = column_means(change[:, None])
        half = float(np.nan_to_num(t_half_width(sd, count))[0])
        if abs(mean[0]) > half:
            found.append({
                "from_value": a, "to_value": b, "from_mean": means[i], "to_mean": means[j + 1],
                "change": float(mean[0]), "ci_low": float(mean[0]) - half,
                "ci_high": float(mean[0]) + half,
            })  # fmt: skip
        i = j + 1
    columns = ["from_value", "to_value", "from_mean", "to_mean", "change", "ci_low", "ci_high"]
    return pd.DataFrame(found, columns=columns)


def format_span(low: float, high: float, lever: Lever) -> str:
    """'10 to 30 trusts' (the unit once), or '£0.50m to £1.00m a year'."""
    if lever.name == "consultancy_budget":
        return f"{format_setting(low, lever)} to {format_setting(high, lever)}"
    return f"{low:g} to {high:g} {lever.unit}"


def _runs(chosen: list[float], tried: list[float], lever: Lever) -> str:
    """``chosen`` settings as runs of neighbours among those ``tried``: '23 to 25, 30 trusts'."""
    position = {v: k for k, v in enumerate(sorted(tried))}
    groups: list[list[float]] = []
    for value in sorted(chosen):
        if groups and position[value] == position[groups[-1][-1]] + 1:
            groups[-1].append(value)
        else:
            groups.append([value])
    return ", ".join(
        format_setting(g[0], lever) if len(g) == 1 else format_span(g[0], g[-1], lever) for g in groups
    )


def format_setting(value: float | None, lever: Lever) -> str:
    """A setting in the lever's unit: '25 trusts', '£0.50m a year'; 'none' for None or NaN."""
    if value is None:
        return "none"
    if lever.name == "consultancy_budget":
        return f"£{value / 1e6:.2f}m a year"
    return f"{value:g} {lever.unit}" if not math.isnan(value) else "none"
