"""Calibration: fit unpublished parameters to published targets.

The calibration is data (``scenarios/calibration/targets.yaml``): stages, each with free
parameters (dotted scenario paths, bounds) and targets (a named statistic of the
simulation, the published value with its source, and a tolerance that sets its weight).
Each stage minimises the sum of squared misfits, ``((simulated - target) / tolerance)^2``,
with scipy's Nelder-Mead over parameters mapped to an unbounded scale. Every evaluation
runs the same replications with the same seed (common random numbers), so the objective is
a deterministic function of the parameters, smooth enough for the optimiser. Each stage
starts from the spec's stated ``start`` values, never from the values already fitted, so
the same spec gives the same fit however often it is run.

:func:`calibrate` returns a :class:`CalibrationResult`; :func:`write_fitted` writes the
fitted values as a partial scenario file that the baseline extends, and the fit record.
Nothing here prints (progress is reported through an optional callback).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy import optimize

from sim.errors import OutputError, ScenarioError
from sim.model import compile_scenario, run_replication
from sim.model.replication import ReplicationResult
from sim.scenario import Scenario, with_changes
from sim.scenario.loader import parse_path, read_yaml
from sim.vocabulary import LEAGUE_TABLES

log = logging.getLogger(__name__)

PROGRAMME_OFF = {
    "programme.referrals": {"mode": "poisson", "rate_per_year": 0.0},
    "programme.initial": {"in_programme": [], "waiting": []},
}


# ---------------------------------------------------------------------- statistics

Statistic = Callable[[list[ReplicationResult], dict], float]


def _after_start(results, field_name):
    return np.array([getattr(r, field_name)[1:] for r in results], dtype=float)


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


STATISTICS: dict[str, Statistic] = {
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


@dataclass(frozen=True)
class CalibrationSpec:
    replications: int
    seed: int
    horizon_years: float
    max_evaluations: int
    stages: tuple[Stage, ...]


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
            parameters.append(
                FreeParameter(str(need(p, "name", pwhere)), tuple(paths), low, high, start)
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
        stages.append(Stage(str(need(stage, "name", where)), bool(stage.get("programme", True)),
                            tuple(parameters), tuple(targets),
                            float(horizon) if horizon is not None else None))  # fmt: skip
    return CalibrationSpec(
        replications=int(need(settings, "replications", "settings")),
        seed=int(need(settings, "seed", "settings")),
        horizon_years=float(need(settings, "horizon_years", "settings")),
        max_evaluations=int(settings.get("max_evaluations", 200)),
        stages=tuple(stages),
    )


# ------------------------------------------------------------------------ fitting


@dataclass
class StageFit:
    name: str
    parameters: dict[str, float]
    start: dict[str, float]
    targets: list[dict]
    objective: float
    evaluations: int
    converged: bool


@dataclass
class CalibrationResult:
    scenario: Scenario
    """The scenario with every fitted value in place."""
    stages: list[StageFit]
    settings: dict
    date: str

    def fitted_values(self) -> dict[str, float]:
        return {name: value for stage in self.stages for name, value in stage.parameters.items()}


def simulate_statistics(
    scenario: Scenario, targets: Sequence[Target], replications: int, seed: int
) -> list[float]:
    """Each target's statistic over ``replications`` replications of ``scenario``."""
    inputs = compile_scenario(scenario)
    results = [run_replication(inputs, seed, r) for r in range(replications)]
    return [STATISTICS[t.statistic](results, t.options) for t in targets]


def _with_values(scenario: Scenario, parameters: Sequence[FreeParameter], values) -> Scenario:
    changes = {path: float(v) for p, v in zip(parameters, values, strict=True) for path in p.paths}
    return with_changes(scenario, changes, note="calibration trial value")


Progress = Callable[[str, int], None]
"""Called after each evaluation of the objective with the stage's name and evaluations so far."""


def fit_stage(
    scenario: Scenario, stage: Stage, spec: CalibrationSpec, progress: Progress | None = None
) -> tuple[Scenario, StageFit]:
    """Fit one stage's parameters from their ``start`` values; returns the scenario with
    the fitted values.

    The start comes from the spec, not from ``scenario``: a scenario that already holds
    fitted values (the baseline extends them) would otherwise move the starting point, and
    so the answer, every time the fit is re-run and written back.
    """
    base = with_changes(scenario, {"horizon_years": stage.horizon_years or spec.horizon_years})
    if not stage.programme:
        base = with_changes(base, PROGRAMME_OFF)
    start = [p.start for p in stage.parameters]
    x0 = np.array([p.to_unbounded(v) for p, v in zip(stage.parameters, start, strict=True)])
    evaluations = 0

    def objective(x: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        values = [p.from_unbounded(v) for p, v in zip(stage.parameters, x, strict=True)]
        simulated = simulate_statistics(
            _with_values(base, stage.parameters, values),
            stage.targets,
            spec.replications,
            spec.seed,
        )
        misfit = sum(((s - t.value) / t.tolerance) ** 2 for s, t in zip(simulated, stage.targets, strict=True)
                     if not math.isnan(s))  # fmt: skip
        log.debug("stage %s evaluation %d: %s -> %.3f", stage.name, evaluations, values, misfit)
        if progress is not None:
            progress(stage.name, evaluations)
        return misfit

    # first simplex steps of about a sixth of each parameter's range
    step = 0.7
    simplex = np.vstack([x0] + [x0 + step * np.eye(len(x0))[i] for i in range(len(x0))])
    best = optimize.minimize(
        objective,
        x0,
        method="Nelder-Mead",
        options={
            "maxfev": spec.max_evaluations,
            "initial_simplex": simplex,
            "xatol": 0.01,
            "fatol": 0.01,
        },
    )
    fitted = [p.from_unbounded(v) for p, v in zip(stage.parameters, best.x, strict=True)]
    fitted_scenario = _with_values(scenario, stage.parameters, fitted)
    check = _with_values(base, stage.parameters, fitted)
    simulated = simulate_statistics(check, stage.targets, spec.replications, spec.seed)
    return fitted_scenario, StageFit(
        name=stage.name,
        parameters={p.name: v for p, v in zip(stage.parameters, fitted, strict=True)},
        start={p.name: v for p, v in zip(stage.parameters, start, strict=True)},
        targets=[
            {
                "name": t.name,
                "statistic": t.statistic,
                "target": t.value,
                "simulated": s,
                "tolerance": t.tolerance,
                "within_tolerance": bool(abs(s - t.value) <= t.tolerance),
                "source": t.source,
            }  # fmt: skip
            for t, s in zip(stage.targets, simulated, strict=True)
        ],
        objective=float(best.fun),
        evaluations=evaluations,
        converged=bool(best.success),
    )


def calibrate(
    scenario: Scenario,
    spec: CalibrationSpec,
    stages: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Fit every stage (or those named) in order.

    Each stage's free parameters start from the spec's ``start`` values; everything else
    comes from ``scenario`` with the earlier stages' fitted values in place. So a full run
    gives the same fit whatever values ``scenario`` already holds for the free parameters.
    ``progress`` (optional) is called after every evaluation, see :data:`Progress`.
    """
    fits = []
    current = scenario
    for stage in spec.stages:
        if stages is not None and stage.name not in stages:
            continue
        current, fit = fit_stage(current, stage, spec, progress)
        fits.append(fit)
    settings = {"replications": spec.replications, "seed": spec.seed,
                "horizon_years": spec.horizon_years, "max_evaluations": spec.max_evaluations}  # fmt: skip
    return CalibrationResult(current, fits, settings, dt.date.today().isoformat())


def write_fitted(
    result: CalibrationResult, spec: CalibrationSpec, folder: str | Path
) -> tuple[Path, Path]:
    """Write ``fitted.yaml`` (a partial scenario the baseline extends) and ``fit.json``.

    Each file is replaced atomically. Raises :class:`OutputError` naming the file if it
    cannot be written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write the calibration: {exc.strerror or exc}") from exc
    tree: dict = {}
    for stage_spec, fit in zip([s for s in spec.stages if s.name in {f.name for f in result.stages}],
                               result.stages, strict=True):  # fmt: skip
        names = ", ".join(t["name"] for t in fit.targets)
        for parameter in stage_spec.parameters:
            value = round(fit.parameters[parameter.name], 6)
            for dotted in parameter.paths:
                _set(tree, dotted, {
                    "value": value,
                    "assumption": (
                        f"fitted by `python -m sim calibrate` on {result.date} (stage {fit.name}, "
                        f"bounds {parameter.low} to {parameter.high}) to published targets: {names}; "
                        "see fit.json for the quality of fit"
                    ),
                })  # fmt: skip
    header = (
        "# Fitted parameters, written by `python -m sim calibrate`: do not edit by hand.\n"
        "# baseline.yaml extends this file; targets and quality of fit are in fit.json.\n"
    )
    fitted = folder / "fitted.yaml"
    record = folder / "fit.json"
    _write_text(fitted, header + yaml.safe_dump(tree, sort_keys=False, width=100))
    payload = {
        "date": result.date,
        "settings": result.settings,
        "stages": [asdict(f) for f in result.stages],
    }
    _write_text(record, json.dumps(payload, indent=2))
    return fitted, record


def _set(tree: dict, dotted: str, value) -> None:
    parts = parse_path(dotted)
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def recorded_values(record: str | Path) -> dict[str, float] | None:
    """Fitted values in a ``fit.json`` (parameter name to value), or None if it is missing
    or unreadable; used to say what replacing a calibration changed."""
    try:
        payload = json.loads(Path(record).read_text(encoding="utf-8"))
        return {name: float(value) for stage in payload["stages"]
                for name, value in stage["parameters"].items()}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
