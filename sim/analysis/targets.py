"""Published targets and the simulation statistics that are compared with them.

The calibration specification (``scenarios/calibration/targets.yaml``: stages, free
parameters, targets) and the named statistics of a set of replications (``STATISTICS``),
shared by the fitter (:mod:`sim.analysis.calibration`) and the side-by-side check against
published data (:mod:`sim.analysis.validation`), so that validation does not depend on the
fitter. Definitions and reading only: runs no simulation, fits nothing, writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import ScenarioError
from sim.model.replication import ReplicationResult
from sim.scenario.files import read_yaml
from sim.vocabulary import LEAGUE_TABLES

# ---------------------------------------------------------------------- statistics

Statistic = Callable[[list[ReplicationResult], dict], float]


def churn_per_quarter(results, _options) -> float:
    """Trusts changing segment (1 to 4) per quarter, averaged over quarters and replications."""
    return float(np.mean([r.churn.mean() for r in results]))


def override_churn_per_quarter(results, _options) -> float:
    return float(np.mean([r.override_churn.mean() for r in results]))


def segment_count(results, options) -> float:
    """Average trusts in a segment of a league table after the start (segment 5 counted
    with segment 4 when ``with_programme`` is true, as the published tables do)."""
    table = LEAGUE_TABLES.index(options["table"])
    segment = int(options["segment"])
    counts = np.array([r.segment_counts[1:, table].astype(float) for r in results])
    value = counts[:, :, segment - 1]
    if segment == 4 and options.get("with_programme", True):
        value = value + counts[:, :, 4]
    return float(value.mean())


def deficit_count(results, options) -> float:
    table = LEAGUE_TABLES.index(options["table"])
    return float(np.mean([r.deficit_counts[1:, table].mean() for r in results]))


def score_quantile(results, options) -> float:
    """A quantile of the scores of one league table's trusts, pooled over quarters."""
    from sim.data import trust_register

    slice_ = trust_register().table_slices[LEAGUE_TABLES.index(options["table"])]
    scores = np.concatenate([r.score_history[1:, slice_].ravel() for r in results])
    return float(np.quantile(scores, float(options["quantile"])))


def score_sd(results, options) -> float:
    """Spread of one league table's scores within a quarter, averaged over quarters."""
    from sim.data import trust_register

    slice_ = trust_register().table_slices[LEAGUE_TABLES.index(options["table"])]
    return float(np.mean([r.score_history[1:, slice_].std(axis=1, ddof=1).mean() for r in results]))


def _spells(results, first_spells_only: bool = False):
    """Completed spells admitted during the forecast (optionally first spells only)."""
    exits, stays, targets = [], [], []
    for r in results:
        s = r.spells
        done = ~np.isnan(s["exit"]) & (s["admission"] >= 0)
        if first_spells_only:
            done &= ~s["reentry"]
        stays.append(s["exit"][done] - s["admission"][done])
        exits.append(s["exit"][done])
        targets.append(s["target_exit"][done])
    return np.concatenate(stays), np.concatenate(exits), np.concatenate(targets)


def mean_stay_months(results, options) -> float:
    """Mean length of completed spells admitted during the forecast, in months."""
    stays, _, _ = _spells(results, bool(options.get("first_spells_only", False)))
    return float(stays.mean() / (365.25 / 12 / 7)) if len(stays) else math.nan


def share_stays_under_a_year(results, options) -> float:
    stays, _, _ = _spells(results)
    return float(np.mean(stays < 365.25 / 7)) if len(stays) else math.nan


def mean_lateness_months(results, options) -> float:
    """Mean time by which late exits miss their target date, in months."""
    _, exits, targets = _spells(results)
    late = exits - targets
    late = late[late > 0]
    return float(late.mean() / (365.25 / 12 / 7)) if len(late) else 0.0


def mean_in_programme(results, options) -> float:
    """Average trusts in the programme over the forecast (weekly)."""
    return float(np.mean([r.weekly["caseload"][:, :3].sum(axis=1).mean() for r in results]))


def score_extreme(results, options) -> float:
    """Best (``which: min``) or worst (``max``) score in a league table, averaged over quarters."""
    from sim.data import trust_register

    slice_ = trust_register().table_slices[LEAGUE_TABLES.index(options["table"])]
    pick = np.min if options["which"] == "min" else np.max
    return float(np.mean([pick(r.score_history[1:, slice_], axis=1).mean() for r in results]))


def deficit_share_in_segment(results, options) -> float:
    """Share of a league table's trusts in one segment that are in deficit."""
    from sim.data import trust_register

    slice_ = trust_register().table_slices[LEAGUE_TABLES.index(options["table"])]
    segment = int(options["segment"])
    shares = []
    for r in results:
        in_segment = r.segment_history[1:, slice_] == segment
        in_deficit = r.deficit_history[1:, slice_] & in_segment
        shares.append(in_deficit.sum() / max(in_segment.sum(), 1))
    return float(np.mean(shares))


def history_figure(results, options) -> float:
    """A dated figure of the programme's history (a back-test measure, see
    :mod:`sim.analysis.backtest`: stock at a date, admissions, exits or trusts entered
    between dates, completed-spell length or share completed within some months), averaged
    over replications. ``options`` holds the figure's fields and the run's dates
    (``start_date``, ``end_date``, added by the caller)."""
    import datetime as dt

    from sim.analysis.backtest import HistoryFigure, figure_value

    def day(key: str) -> dt.date | None:
        value = options.get(key)
        return None if value is None else dt.date.fromisoformat(str(value))

    figure = HistoryFigure(
        name=str(options.get("name", options["measure"])), measure=str(options["measure"]),
        date=day("date"), date_to=day("date_to"), value=math.nan,
        route=str(options.get("route", "")), regime=str(options.get("regime", "")),
        note="", source="", used_in_fit=True, by=day("by"),
        months=float(options["months"]) if "months" in options else None,
    )  # fmt: skip
    start, end = options["start_date"], options["end_date"]
    values = [figure_value(r.spells, figure, start, end) for r in results]
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else math.nan


def mean_length_of_exits(results, options) -> float:
    """Mean length, in months, of the spells that exited between ``date`` and ``date_to``
    (half-open), from admission to exit, pooled over replications."""
    import datetime as dt

    from sim.calendar import WEEKS_PER_YEAR, weeks_between

    start = options["start_date"]
    t0 = weeks_between(start, dt.date.fromisoformat(str(options["date"])))
    t1 = weeks_between(start, dt.date.fromisoformat(str(options["date_to"])))
    lengths = []
    for r in results:
        exit_, admission = r.spells["exit"], r.spells["admission"]
        done = (exit_ >= t0) & (exit_ < t1)
        lengths.append(exit_[done] - admission[done])
    pooled = np.concatenate(lengths)
    return float(pooled.mean() * 12 / WEEKS_PER_YEAR) if len(pooled) else math.nan


STATISTICS: dict[str, Statistic] = {
    "history_figure": history_figure,
    "mean_length_of_exits": mean_length_of_exits,
    "score_extreme": score_extreme,
    "deficit_share_in_segment": deficit_share_in_segment,
    "churn_per_quarter": churn_per_quarter,
    "override_churn_per_quarter": override_churn_per_quarter,
    "segment_count": segment_count,
    "deficit_count": deficit_count,
    "score_quantile": score_quantile,
    "score_sd": score_sd,
    "mean_stay_months": mean_stay_months,
    "share_stays_under_a_year": share_stays_under_a_year,
    "mean_lateness_months": mean_lateness_months,
    "mean_in_programme": mean_in_programme,
}


# --------------------------------------------------------------------- specification


@dataclass(frozen=True)
class FreeParameter:
    """One fitted quantity, written to every path in ``paths`` (e.g. all league tables).

    The fit searches between ``low`` and ``high`` (the parameter's units) from ``start``,
    which must lie strictly between them.
    """

    name: str
    paths: tuple[str, ...]
    low: float
    high: float
    start: float
    file: str = "fitted.yaml"
    """File (beside the spec) the fitted value is written to: ``fitted.yaml``, which the
    baseline extends, or another named in the spec's ``files`` (values only one scenario
    uses, such as the history's)."""

    def __post_init__(self) -> None:
        if not self.low < self.start < self.high:
            raise ValueError(
                f"{self.name}: start {self.start} must be strictly between low {self.low} "
                f"and high {self.high}"
            )

    def to_unbounded(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        share = min(max(share, 1e-6), 1 - 1e-6)
        return math.log(share / (1 - share))

    def from_unbounded(self, x: float) -> float:
        return self.low + (self.high - self.low) / (1 + math.exp(-x))


@dataclass(frozen=True)
class Target:
    """A published figure and the statistic of the simulation that should match it."""

    name: str
    statistic: str
    value: float
    tolerance: float
    source: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    programme: bool
    """Whether the programme runs (off: no referrals, nobody in it, for population fits)."""
    parameters: tuple[FreeParameter, ...]
    targets: tuple[Target, ...]
    horizon_years: float | None = None
    """Simulated years per replication for this stage (default: the settings' value)."""
    scenario: Path | None = None
    """Scenario file this stage runs instead of the one being calibrated (e.g. the history
    since 2013), with the values fitted so far applied; its own dates and horizon are kept."""


@dataclass(frozen=True)
class CalibrationSpec:
    replications: int
    seed: int
    horizon_years: float
    max_evaluations: int
    stages: tuple[Stage, ...]
    files: dict[str, str | None] = field(default_factory=lambda: {"fitted.yaml": None})
    """Files the fit writes, each with the scenario it extends (``None``: none)."""


def load_spec(path: str | Path) -> CalibrationSpec:
    """Read and check a calibration specification; errors name the file and field."""
    path = Path(path)
    raw = read_yaml(path)

    def need(node: dict, key: str, where: str):
        if key not in node:
            raise ScenarioError(
                path, f"{where}.{key}" if where else key, "required field is missing"
            )
        return node[key]

    settings = need(raw, "settings", "")
    stages = []
    for i, stage in enumerate(need(raw, "stages", "")):
        where = f"stages[{i}]"
        parameters = []
        for j, p in enumerate(need(stage, "parameters", where)):
            pwhere = f"{where}.parameters[{j}]"
            low, high = float(need(p, "low", pwhere)), float(need(p, "high", pwhere))
            if not low < high:
                raise ScenarioError(path, pwhere, f"low {low} must be below high {high}")
            paths = need(p, "paths", pwhere)
            start = float(need(p, "start", pwhere))
            if not low < start < high:
                raise ScenarioError(path, f"{pwhere}.start",
                                    f"{start} must be strictly between low {low} and high {high}")  # fmt: skip
            file = str(p.get("file", "fitted.yaml"))
            if file != "fitted.yaml" and file not in (raw.get("files") or {}):
                raise ScenarioError(path, f"{pwhere}.file",
                                    f"{file!r} is not listed under 'files' at the top")  # fmt: skip
            parameters.append(
                FreeParameter(str(need(p, "name", pwhere)), tuple(paths), low, high, start, file)
            )
        targets = []
        for j, t in enumerate(need(stage, "targets", where)):
            twhere = f"{where}.targets[{j}]"
            statistic = need(t, "statistic", twhere)
            if statistic not in STATISTICS:
                raise ScenarioError(path, f"{twhere}.statistic",
                                    f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")  # fmt: skip
            tolerance = float(need(t, "tolerance", twhere))
            if tolerance <= 0:
                raise ScenarioError(path, f"{twhere}.tolerance", "must be positive")
            targets.append(
                Target(
                    str(need(t, "name", twhere)),
                    statistic,
                    float(need(t, "value", twhere)),
                    tolerance,
                    str(need(t, "source", twhere)),
                    dict(t.get("options", {})),
                )  # fmt: skip
            )
        horizon = stage.get("horizon_years")
        own = stage.get("scenario")
        if own is not None and not (path.parent / own).is_file():
            raise ScenarioError(path, f"{where}.scenario", f"file {own!r} not found")
        stages.append(Stage(str(need(stage, "name", where)), bool(stage.get("programme", True)),
                            tuple(parameters), tuple(targets),
                            float(horizon) if horizon is not None else None,
                            (path.parent / own).resolve() if own is not None else None))  # fmt: skip
    return CalibrationSpec(
        replications=int(need(settings, "replications", "settings")),
        seed=int(need(settings, "seed", "settings")),
        horizon_years=float(need(settings, "horizon_years", "settings")),
        max_evaluations=int(settings.get("max_evaluations", 200)),
        stages=tuple(stages),
        files={"fitted.yaml": None}
        | {str(name): (spec or {}).get("extends") for name, spec in (raw.get("files") or {}).items()},
    )
