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
The specification and the statistics are defined in :mod:`sim.analysis.targets`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy import optimize

from sim.analysis.targets import (
    STATISTICS,
    CalibrationSpec,
    FreeParameter,
    Stage,
    Target,
    load_spec,  # noqa: F401  (re-exported: callers read the spec from here)
)
from sim.errors import OutputError, ScenarioError
from sim.experiment.runner import RunSettings, replicate
from sim.model import compile_scenario
from sim.scenario import Scenario, load_scenario, with_changes
from sim.scenario.annotations import FITTED_NOTE
from sim.scenario.paths import parse_path

log = logging.getLogger(__name__)

PROGRAMME_OFF = {
    "programme.referrals": {"mode": "poisson", "rate_per_year": 0.0},
    "programme.initial": {"in_programme": [], "waiting": []},
}


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
    results = list(replicate(inputs, RunSettings(replications, seed, progress=False)))
    dates = {"start_date": scenario.start_date, "end_date": scenario.end_date}
    return [STATISTICS[t.statistic](results, t.options | dates) for t in targets]


def _with_values(scenario: Scenario, parameters: Sequence[FreeParameter], values) -> Scenario:
    changes = {path: float(v) for p, v in zip(parameters, values, strict=True) for path in p.paths}
    return with_changes(scenario, changes, note="calibration trial value")


def stage_base(
    scenario: Scenario,
    stage: Stage,
    spec: CalibrationSpec,
    fitted_so_far: dict[str, float] | None = None,
    own: Scenario | None = None,
) -> Scenario:
    """The scenario a stage's trials run, before its own free parameters are set.

    A stage with its own scenario (``stage.scenario``, e.g. the history) runs that one with
    ``fitted_so_far`` (dotted path to value) applied and keeps its dates, with the stage's
    horizon if it gives one; ``own`` is that scenario already loaded (read from the file if
    None). Any other stage runs ``scenario`` (with earlier stages' values already in it)
    over the stage's horizon, or the spec's. A stage without the programme switches it off.
    """
    if stage.scenario is not None:  # its own scenario, with what earlier stages fitted
        own = own if own is not None else load_scenario(stage.scenario)
        base = with_changes(own, fitted_so_far or {}, note="fitted by an earlier stage")
        if stage.horizon_years:
            base = with_changes(base, {"horizon_years": stage.horizon_years})
    else:
        base = with_changes(scenario, {"horizon_years": stage.horizon_years or spec.horizon_years})
    if not stage.programme:
        base = with_changes(base, PROGRAMME_OFF)
    return base


Progress = Callable[[str, int], None]
"""Called after each evaluation of the objective with the stage's name and evaluations so far."""


def fit_stage(
    scenario: Scenario,
    stage: Stage,
    spec: CalibrationSpec,
    progress: Progress | None = None,
    fitted_so_far: dict[str, float] | None = None,
) -> tuple[Scenario, StageFit]:
    """Fit one stage's parameters from their ``start`` values; returns the scenario with
    the fitted values.

    The start comes from the spec, not from ``scenario``: a scenario that already holds
    fitted values (the baseline extends them) would otherwise move the starting point, and
    so the answer, every time the fit is re-run and written back.
    """
    base = stage_base(scenario, stage, spec, fitted_so_far)
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
    # the scenario calibrated takes only the values written to the file it extends
    shared = [(p, v) for p, v in zip(stage.parameters, fitted, strict=True) if p.file == "fitted.yaml"]
    fitted_scenario = _with_values(scenario, [p for p, _ in shared], [v for _, v in shared])
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


def check_stages(spec: CalibrationSpec, stages: Sequence[str] | None, source: str | Path) -> None:
    """Raise :class:`ScenarioError` (naming ``source``, the spec's file, and its ``stages``)
    unless every name in ``stages`` is a stage of ``spec``; ``None`` means every stage.

    :func:`calibrate` skips names it does not know, so callers that take stage names from
    a person check them here first, before minutes of fitting.
    """
    known = {stage.name for stage in spec.stages}
    unknown = set(stages or []) - known
    if unknown:
        raise ScenarioError(source, "stages", f"no stage {sorted(unknown)}; have {sorted(known)}")


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
    # a stage running its own scenario sees every free parameter at its spec start until
    # the stage that fits it has run, never a value fitted before (shipped files included),
    # so the fit is the same however often it is run and written back
    fitted_paths = {
        path: p.start for stage in spec.stages for p in stage.parameters for path in p.paths
    }
    for stage in spec.stages:
        if stages is not None and stage.name not in stages:
            continue
        log.info("stage %s: %d parameters to %d targets, at most %d evaluations of %d "
                 "replications", stage.name, len(stage.parameters), len(stage.targets),
                 spec.max_evaluations, spec.replications)  # fmt: skip
        current, fit = fit_stage(current, stage, spec, progress, fitted_paths)
        log.info("stage %s: misfit %.3g after %d evaluations%s", stage.name, fit.objective,
                 fit.evaluations, "" if fit.converged else " (not converged)")  # fmt: skip
        fits.append(fit)
        fitted_paths |= {
            path: float(fit.parameters[p.name]) for p in stage.parameters for path in p.paths
        }
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
    trees: dict[str, dict] = {name: {} for name in spec.files}
    for stage_spec, fit in zip([s for s in spec.stages if s.name in {f.name for f in result.stages}],
                               result.stages, strict=True):  # fmt: skip
        names = ", ".join(t["name"] for t in fit.targets)
        for parameter in stage_spec.parameters:
            value = round(fit.parameters[parameter.name], 6)
            for dotted in parameter.paths:
                _set(trees[parameter.file], dotted, {
                    "value": value,
                    "assumption": (
                        f"{FITTED_NOTE} on {result.date} (stage {fit.name}, "
                        f"bounds {parameter.low} to {parameter.high}) to published targets: {names}; "
                        "see fit.json for the quality of fit"
                    ),
                })  # fmt: skip
    for name, tree in trees.items():
        extends = spec.files[name]
        header = (
            "# Fitted parameters, written by `python -m sim calibrate`: do not edit by hand.\n"
            + ("# baseline.yaml extends this file; " if extends is None
               else f"# The history scenario extends this file, which extends {extends}; ")
            + "targets and quality of fit are in fit.json.\n"
        )  # fmt: skip
        body = ({"extends": extends} if extends else {}) | tree
        _write_text(folder / name, header + yaml.safe_dump(body, sort_keys=False, width=100))
    fitted = folder / "fitted.yaml"
    record = folder / "fit.json"
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
    """Write ``text`` via :func:`~sim.results.folder.atomic_file` (never half a file)."""
    from sim.results.folder import atomic_file

    with atomic_file(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def recorded_values(record: str | Path) -> dict[str, float] | None:
    """Fitted values in a ``fit.json`` (parameter name to value), or None if it is missing
    or unreadable; used to say what replacing a calibration changed."""
    try:
        payload = json.loads(Path(record).read_text(encoding="utf-8"))
        return {name: float(value) for stage in payload["stages"]
                for name, value in stage["parameters"].items()}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
