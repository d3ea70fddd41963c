"""Which assumptions matter: one-way and global sensitivity analysis.

The uncertain assumptions are the numbers whose notes in the scenario file declare a
``range: [low, high]``. The output studied is one figure of the results (for example the
average waiting list over the whole horizon).

* **One-way**: each assumption at its low and at its high value, everything else as in
  the scenario, all runs with the same replications and seed (common random numbers). The
  effect is the paired difference high minus low, with a 95% t interval. Drawn as a
  tornado chart.
* **Global** (SALib, optional extra ``sensitivity``): Morris screening (elementary effects)
  and Sobol indices (first-order and total) over the joint ranges. Each sample point is
  averaged over replications with common random numbers, and the share of the output's
  variance across sample points that is simulation noise is reported, so that small
  indices are not over-read.

Returns tables; the charts are in :mod:`sim.outputs.charts.analysis`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.experiment.layout import (
    FIRST_WEEK_METRICS,
    FREQUENCIES,
    WAIT_BAND_LABELS,
    Layout,
    build_layout,
    population_metrics,
    programme_metrics,
)
from sim.experiment.runner import run_outputs
from sim.experiment.settings import DEFAULT_SEED, RunSettings
from sim.experiment.uncertainty import rescale_blends
from sim.results.statistics import column_means, t_half_width
from sim.scenario import Scenario, with_changes
from sim.scenario.annotations import uncertain_values

log = logging.getLogger(__name__)


class OutputChoiceError(ValueError):
    """An :class:`Output` names a metric, group, frequency or period the results do not have.

    ``field`` is the attribute at fault (``metric``, ``group``, ``frequency`` or ``period``)
    and ``reason`` says why, listing the valid choices.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def output_metrics() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every output metric, in the results' order: its groups and its frequencies.

    Mirrors :func:`sim.experiment.layout.build_layout` (a test checks that they agree), so names can
    be listed and checked before any scenario is loaded.
    """
    metrics = {metric: (tuple(groups), FREQUENCIES) for metric, groups in programme_metrics()}
    metrics.update({metric: (("all",), ("horizon",)) for metric in FIRST_WEEK_METRICS})
    metrics["wait_distribution"] = (tuple(WAIT_BAND_LABELS), ("horizon",))
    metrics.update({m: (tuple(groups), ("quarter",)) for m, groups in population_metrics()})
    return metrics


def _choices(names) -> str:
    return ", ".join(repr(name) for name in names)


@dataclass(frozen=True)
class Output:
    """One figure of the results: a metric and group at a frequency (and period).

    With no ``period``, the figure is the mean over the frequency's periods (for
    ``horizon`` there is only one). The metric, group and frequency are checked when the
    output is made (:class:`OutputChoiceError` lists the valid names); the period, which
    depends on the scenario's dates, by :meth:`check` or :meth:`select`.
    """

    metric: str = "waiting"
    group: str = "all"
    frequency: str = "horizon"
    period: str | None = None

    def __post_init__(self) -> None:
        metrics = output_metrics()
        if self.metric not in metrics:
            raise OutputChoiceError(
                "metric", f"no metric {self.metric!r}; choose one of {_choices(metrics)}"
            )
        groups, frequencies = metrics[self.metric]
        if self.group not in groups:
            raise OutputChoiceError(
                "group",
                f"{self.metric} has no group {self.group!r}; choose one of {_choices(groups)}",
            )
        if self.frequency not in frequencies:
            raise OutputChoiceError(
                "frequency",
                f"{self.metric} is not reported by {self.frequency!r}; choose one of "
                f"{_choices(frequencies)}",
            )

    def select(self, layout: Layout) -> np.ndarray:
        """Boolean mask of the layout's rows making up this output."""
        mask = (
            (layout.metric == self.metric)
            & (layout.group == self.group)
            & (layout.frequency == self.frequency)
        )
        if self.period is not None:
            periods = list(dict.fromkeys(layout.period[mask]))
            mask &= layout.period == self.period
            if not mask.any():
                shown = periods if len(periods) <= 12 else [*periods[:5], "...", *periods[-5:]]
                raise OutputChoiceError(
                    "period",
                    f"no {self.frequency} period {self.period!r} in this scenario's horizon; "
                    f"its periods are {', '.join(shown)}",
                )
        if not mask.any():
            raise OutputChoiceError(
                "metric", f"no output {self.metric}/{self.group}/{self.frequency} in this scenario"
            )
        return mask

    def check(self, scenario: Scenario) -> None:
        """Raise :class:`OutputChoiceError` unless ``scenario``'s results have this output
        (so a bad period is refused before any replication runs)."""
        from sim.model import compile_scenario

        self.select(build_layout(compile_scenario(scenario)))

    def label(self) -> str:
        where = (
            f", {self.period}"
            if self.period
            else ("" if self.frequency == "horizon" else f", mean per {self.frequency}")
        )
        return f"{self.metric} ({self.group}{where})"


def _per_replication(matrix: np.ndarray) -> np.ndarray:
    """Mean over the selected rows, per replication (NaN rows ignored)."""
    with np.errstate(invalid="ignore"):
        return np.nanmean(matrix, axis=1)


def parameters_of(scenario: Scenario) -> list[tuple[str, float, float, float]]:
    """(path, value, low, high) of the scenario's uncertain assumptions."""
    found = uncertain_values(scenario)
    if not found:
        raise ValueError(
            f"scenario {scenario.name!r} declares no ranges: add range: [low, high] to the notes "
            "of the assumptions to study"
        )
    return found


ONE_WAY_SETTINGS = RunSettings(replications=100, seed=DEFAULT_SEED, jobs="auto")
GLOBAL_SETTINGS = RunSettings(replications=10, seed=DEFAULT_SEED, jobs="auto")
"""Replications per sample point: few, since the noise share says how much they blur."""


def one_way(
    scenario: Scenario, output: Output, settings: RunSettings = ONE_WAY_SETTINGS
) -> pd.DataFrame:
    """Each uncertain assumption at its low and high value; paired effects on ``output``.

    Returns one row per assumption, largest absolute effect first: ``parameter, value,
    low, high, base_mean, low_mean, high_mean, effect`` (high minus low), ``ci_low,
    ci_high`` (95%), ``replications``.
    """
    parameters = parameters_of(scenario)
    runs = [scenario]
    for path, _, low, high in parameters:
        runs += [
            with_changes(scenario, rescale_blends(scenario, {path: low})),
            with_changes(scenario, rescale_blends(scenario, {path: high})),
        ]
    log.info("one-way: %d assumptions at their low and high values, %d runs of %d "
             "replications", len(parameters), len(runs), settings.replications)
    matrices = run_outputs(runs, output.select, settings=settings)
    base = _per_replication(matrices[0])
    rows = []
    for i, (path, value, low, high) in enumerate(parameters):
        y_low, y_high = _per_replication(matrices[1 + 2 * i]), _per_replication(matrices[2 + 2 * i])
        count, mean, sd = column_means((y_high - y_low)[:, None])
        half = float(np.nan_to_num(t_half_width(sd, count)[0]))
        rows.append({
            "parameter": path, "value": value, "low": low, "high": high,
            "base_mean": np.nanmean(base), "low_mean": np.nanmean(y_low),
            "high_mean": np.nanmean(y_high), "effect": mean[0],
            "ci_low": mean[0] - half, "ci_high": mean[0] + half, "replications": int(count[0]),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    order = table["effect"].abs().sort_values(ascending=False).index
    return table.loc[order].reset_index(drop=True)


def readable(path: str) -> str:
    """'team.nhs_family.hours_per_week' -> 'nhs family: hours per week'."""
    for prefix in ("population.tables.", "population.", "programme.phases.", "programme.", "team."):
        path = path.removeprefix(prefix)
    return path.replace(".", ": ").replace("_", " ")


def global_indices(
    scenario: Scenario,
    output: Output,
    method: str = "sobol",
    samples: int = 32,
    settings: RunSettings = GLOBAL_SETTINGS,
) -> tuple[pd.DataFrame, dict]:
    """Morris or Sobol indices of ``output`` over the joint ranges of the assumptions.

    Returns the indices (one row per assumption) and a dictionary with the number of
    sample points (drawn with ``settings.seed``), the output's variance across them, the simulation-noise variance of a
    sample point's mean, and ``noise_share`` (noise over total: near 0 means the indices
    describe the assumptions, near 1 means they mostly describe noise).
    """
    try:
        from SALib.analyze import morris as morris_analyze
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import morris as morris_sample
        from SALib.sample import sobol as sobol_sample
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "global sensitivity needs SALib: python -m pip install '.[sensitivity]'"
        ) from exc

    seed, replications = settings.seed, settings.replications
    parameters = parameters_of(scenario)
    problem = {
        "num_vars": len(parameters),
        "names": [p[0] for p in parameters],
        "bounds": [[p[2], p[3]] for p in parameters],
    }
    if method == "sobol":
        points = sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
    elif method == "morris":
        points = morris_sample.sample(problem, samples, num_levels=4, seed=seed)
    else:
        raise ValueError(f"method must be 'sobol' or 'morris', got {method!r}")
    runs = [
        with_changes(
            scenario,
            rescale_blends(scenario, dict(zip(problem["names"], map(float, row), strict=True))),
        )
        for row in points
    ]
    log.info("%s: %d assumptions, %d sample points of %d replications", method,
             len(parameters), len(runs), replications)
    matrices = run_outputs(runs, output.select, settings=settings)
    per_point = np.array([_per_replication(m) for m in matrices])  # (points, replications)
    y = np.nanmean(per_point, axis=1)
    noise = float(np.nanmean(np.nanvar(per_point, axis=1, ddof=1)) / replications)
    total = float(np.var(y, ddof=1))
    diagnostics = {
        "method": method,
        "sample_points": len(points),
        "replications_per_point": replications,
        "output_variance": total,
        "noise_variance": noise,
        "noise_share": noise / total if total > 0 else float("nan"),
    }
    if method == "sobol":
        result = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed)
        table = pd.DataFrame({
            "parameter": problem["names"], "first_order": result["S1"],
            "first_order_ci": result["S1_conf"], "total": result["ST"], "total_ci": result["ST_conf"],
        }).sort_values("total", ascending=False)  # fmt: skip
    else:
        result = morris_analyze.analyze(problem, points, y, num_levels=4, seed=seed)
        table = pd.DataFrame({
            "parameter": problem["names"], "mu_star": result["mu_star"],
            "mu_star_ci": result["mu_star_conf"], "sigma": result["sigma"],
        }).sort_values("mu_star", ascending=False)  # fmt: skip
    return table.reset_index(drop=True), diagnostics
