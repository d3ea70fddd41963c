"""Ensemble calibration: approximate Bayesian computation (ABC-SMC) over the calibration's
free parameters, giving a few hundred plausible parameter sets instead of one point.

The same specification as the point fit (:mod:`sim.analysis.calibration`,
``scenarios/calibration/targets.yaml``): the same stages, free parameters, published
targets and tolerances. For each stage, pyabc's ABC-SMC samples the stage's free
parameters from uniform priors over their ``[low, high]`` and keeps the parameter sets
whose misfit, the point fit's ``sum(((simulated - target) / tolerance)^2)``, falls below a
threshold that shrinks from generation to generation (the median of the last generation's
misfits) down to a floor of ``misfit_per_target`` (default 1) times the stage's number of
targets: a kept set misses its targets by one tolerance each on average, or better. A
stage stops after its second generation at the floor (or at a limit on generations,
simulations or acceptance rate, which ``ensemble.json`` would show): the first generation at
the floor was proposed from particles kept at a wider threshold, so a few particles in the
proposal's thin tails carry large importance weights; the second, proposed from particles
already at the floor, has even weights and so a larger effective sample. A
statistic the simulation cannot compute (no spell finished in a window) counts as missed by
:data:`MISSING_TOLERANCES` tolerances; the point fit skips it instead, which suits an
optimiser that starts near a good fit but would let ABC, which samples the whole prior,
keep parameter sets that produce no data.

**Stages in order, each conditioned on the earlier stages' posterior.** Every simulation of
a stage first draws one particle (with its weight) of the previous stage's posterior, which
carries that stage's values and, through its own draw, every earlier stage's, and runs with
them in place exactly as the point fit runs with the earlier stages' fitted values. Since
which earlier particle was drawn is recorded with each accepted particle, the last stage's
particles are whole parameter sets, and the kept pairs are samples of the joint posterior
(the earlier particles are reweighted by the later targets through acceptance), while each
stage's ABC runs over its own few parameters only: 7, 4 and 1 rather than 12 at once. A
joint ABC over all twelve would need every simulation to run all three stages and far more
simulations to shrink a twelve-dimensional prior, for the same posterior when, as here,
each stage's targets depend mostly on its own parameters. Parameters of later stages are
held as the point fit holds them (their spec ``start`` in a stage's own scenario, the
scenario's value otherwise).

**Simulations.** A particle's statistics are the point fit's (:func:`simulate_statistics`),
on ``replications`` replications (default 10, not the spec's 40, for speed: the noise this
adds to a statistic is a fraction of its tolerance) with a fresh seed for every simulation,
so that the posterior allows for simulation noise rather than fitting one set of random
numbers.

**Reproducibility.** pyabc's ``SingleCoreSampler`` is used, with numpy's global generator
(which pyabc's priors and perturbation kernels draw from, as do the earlier-particle draws
and the simulation seeds here) seeded from the spec's seed and the stage, and restored
afterwards: the same spec, settings, model and library versions give the same ensemble to
the last digit. pyabc's multi-core samplers re-seed every worker from the operating system,
so they are not reproducible, and are not used; the fit takes a few minutes on one core.
The history is kept in a sqlite file in a temporary folder, removed afterwards.

pyabc is an optional extra (``python -m pip install '.[ensemble]'``), imported inside the
functions that need it, so the package runs without it. Nothing here prints: progress goes
through an optional callback, as in the point fit. :func:`write_ensemble` writes
``ensemble.csv`` (one row per particle: a column per dotted path of every free parameter,
so a row can be applied with ``with_changes``, and ``weight``) and ``ensemble.json`` (the
fit report).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim.analysis.calibration import Progress, simulate_statistics, stage_base
from sim.analysis.targets import CalibrationSpec, FreeParameter, Stage, Target
from sim.errors import OutputError
from sim.scenario import Scenario, load_scenario, with_changes

log = logging.getLogger(__name__)

MISSING_TOLERANCES = 100.0
"""A statistic the simulation cannot compute counts as missed by this many tolerances."""
INSTALL_HINT = "the ensemble fit needs pyabc: python -m pip install '.[ensemble]'"
SAMPLER = "pyabc.sampler.SingleCoreSampler"


@dataclass(frozen=True)
class EnsembleSettings:
    """How the ABC-SMC runs (each stage alike)."""

    particles: int = 200
    """Accepted particles per generation (pyabc's population size), and so in the ensemble."""
    replications: int = 10
    """Replications behind each particle's statistics (the point fit uses the spec's 40)."""
    max_generations: int = 20
    """Stop a stage after this many generations even if its threshold is above the floor."""
    misfit_per_target: float = 1.0
    """The threshold's floor is this times the stage's number of targets."""
    min_acceptance_rate: float = 0.02
    """Stop a stage once a generation accepts fewer than this share of its simulations."""
    max_simulations: int = 40_000
    """Stop a stage once it has run this many simulations."""
    seed: int | None = None
    """Seed of numpy's global generator (None: the spec's seed), offset by each stage."""

    def __post_init__(self) -> None:
        if self.particles < 10:
            raise ValueError(f"particles must be at least 10, got {self.particles}")
        if self.replications < 1 or self.max_generations < 1 or self.max_simulations < 1:
            raise ValueError("replications, max_generations and max_simulations must be positive")
        if not self.misfit_per_target > 0 or not 0 <= self.min_acceptance_rate < 1:
            raise ValueError("misfit_per_target must be positive, min_acceptance_rate in [0, 1)")


@dataclass
class StagePosterior:
    """One stage's accepted particles, from its last generation."""

    name: str
    parameters: tuple[FreeParameter, ...]
    targets: tuple[Target, ...]
    values: np.ndarray
    """(particles, parameters): each particle's values, in the order of ``parameters``."""
    statistics: np.ndarray
    """(particles, targets): each particle's simulated statistics."""
    weights: np.ndarray
    """(particles,): importance weights, summing to 1."""
    parents: np.ndarray
    """(particles,): the previous stage's particle each was run with (-1 for the first)."""
    epsilon_floor: float
    generations: list[dict] = field(default_factory=list)
    """Per generation: its number, threshold, simulations and acceptance rate."""
    calibration_simulations: int = 0
    """Simulations from the prior that set the first threshold."""
    seconds: float = 0.0

    @property
    def epsilon(self) -> float:
        return self.generations[-1]["epsilon"] if self.generations else math.inf

    @property
    def reached_floor(self) -> bool:
        return self.epsilon <= self.epsilon_floor * (1 + 1e-9)

    @property
    def simulations(self) -> int:
        return self.calibration_simulations + sum(g["simulations"] for g in self.generations)


@dataclass
class EnsembleResult:
    stages: list[StagePosterior]
    settings: dict
    date: str

    @property
    def weights(self) -> np.ndarray:
        return self.stages[-1].weights

    def lineage(self) -> list[np.ndarray]:
        """For each stage, the row of its posterior behind each particle of the last stage."""
        rows = [np.arange(len(self.stages[-1].weights))]
        for later in reversed(self.stages[1:]):
            rows.insert(0, later.parents[rows[0]])
        return rows

    def parameter_values(self) -> dict[str, np.ndarray]:
        """Each free parameter's value in every particle of the ensemble, by name."""
        return {p.name: stage.values[rows, j]
                for stage, rows in zip(self.stages, self.lineage(), strict=True)
                for j, p in enumerate(stage.parameters)}  # fmt: skip

    def statistic_values(self) -> list[tuple[str, Target, np.ndarray]]:
        """(stage, target, simulated statistic of every particle) for every target."""
        return [(stage.name, t, stage.statistics[rows, i])
                for stage, rows in zip(self.stages, self.lineage(), strict=True)
                for i, t in enumerate(stage.targets)]  # fmt: skip

    def columns(self) -> dict[str, np.ndarray]:
        """``ensemble.csv``'s columns: every dotted path of every free parameter, and weight."""
        values = self.parameter_values()
        table = {path: values[p.name] for stage in self.stages
                 for p in stage.parameters for path in p.paths}  # fmt: skip
        return table | {"weight": self.weights}


# ------------------------------------------------------------------------ fitting


def misfit(simulated: Sequence[float], targets: Sequence[Target]) -> float:
    """The point fit's ``sum(((simulated - target) / tolerance)^2)``, with a statistic that
    could not be computed (NaN) counted as :data:`MISSING_TOLERANCES` tolerances off."""
    total = 0.0
    for value, target in zip(simulated, targets, strict=True):
        z = (value - target.value) / target.tolerance
        total += MISSING_TOLERANCES**2 if math.isnan(z) else z * z
    return total


def _stage_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _floored_quantile_epsilon(floor: float):
    """pyabc's median threshold, never below ``floor``: the last generation runs at it."""
    from pyabc.epsilon import QuantileEpsilon

    class FlooredQuantileEpsilon(QuantileEpsilon):
        def __call__(self, t: int) -> float:
            return max(super().__call__(t), floor)

        def get_config(self):
            return super().get_config() | {"floor": floor}

    return FlooredQuantileEpsilon(alpha=0.5)


def fit_ensemble(
    scenario: Scenario,
    spec: CalibrationSpec,
    stages: Sequence[str] | None = None,
    settings: EnsembleSettings | None = None,
    progress: Progress | None = None,
) -> EnsembleResult:
    """ABC-SMC of every stage (or those named) in order, each conditioned on the earlier
    stages' posterior; ``progress`` is called after every simulation with the stage's name
    and its simulations so far. Raises ImportError (saying how to install it) without pyabc.
    """
    try:
        import pyabc
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    settings = settings or EnsembleSettings()
    seed = spec.seed if settings.seed is None else settings.seed
    starts = {path: p.start for s in spec.stages for p in s.parameters for path in p.paths}
    files = {path: p.file for s in spec.stages for p in s.parameters for path in p.paths}
    state = np.random.get_state()
    quiet = logging.getLogger("ABC")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # pyabc logs every generation through its own handler
    done: list[StagePosterior] = []
    try:
        for index, stage in enumerate(spec.stages):
            if stages is not None and stage.name not in stages:
                continue
            np.random.seed(_stage_seed(seed, index))
            done.append(_fit_stage(scenario, stage, spec, settings, done, starts, files, progress))
    finally:
        np.random.set_state(state)
        quiet.setLevel(level)
    record = asdict(settings) | {"seed": seed, "sampler": SAMPLER, "pyabc": pyabc.__version__}
    return EnsembleResult(done, record, dt.date.today().isoformat())


def _earlier_values(done: Sequence[StagePosterior], row: int) -> dict[str, float]:
    """Dotted path to value of every earlier stage's parameters behind the last done
    stage's particle ``row``."""
    values: dict[str, float] = {}
    for stage in reversed(done):
        for j, p in enumerate(stage.parameters):
            values |= {path: float(stage.values[row, j]) for path in p.paths}
        row = int(stage.parents[row])
    return values


def _fit_stage(
    scenario: Scenario,
    stage: Stage,
    spec: CalibrationSpec,
    settings: EnsembleSettings,
    done: Sequence[StagePosterior],
    starts: dict[str, float],
    files: dict[str, str],
    progress: Progress | None,
) -> StagePosterior:
    import pyabc
    from pyabc.sampler import SingleCoreSampler

    began = time.perf_counter()
    own = load_scenario(stage.scenario) if stage.scenario is not None else None
    previous = done[-1] if done else None
    bases: dict[int, Scenario] = {}

    def base_for(parent: int) -> Scenario:
        """The stage's scenario with the earlier particle ``parent``'s values (cached)."""
        if parent not in bases:
            earlier = _earlier_values(done, parent) if parent >= 0 else {}
            if own is not None:  # as the point fit: every later parameter at its start
                bases[parent] = stage_base(scenario, stage, spec, starts | earlier, own=own)
            else:  # only the values the calibrated scenario takes (fitted.yaml's)
                shared = {k: v for k, v in earlier.items() if files[k] == "fitted.yaml"}
                start = (
                    with_changes(scenario, shared, note="ensemble particle") if shared else scenario
                )
                bases[parent] = stage_base(start, stage, spec)
        return bases[parent]

    simulations = 0

    def model(parameter) -> dict:
        nonlocal simulations
        parent = -1
        if previous is not None:
            parent = int(np.random.choice(len(previous.weights), p=previous.weights))
        run_seed = int(np.random.randint(0, 2**31 - 1))
        changes = {path: float(parameter[p.name]) for p in stage.parameters for path in p.paths}
        trial = with_changes(base_for(parent), changes, note="ensemble particle")
        simulated = simulate_statistics(trial, stage.targets, settings.replications, run_seed)
        simulations += 1
        if progress is not None:
            progress(stage.name, simulations)
        return {f"t{i}": float(s) for i, s in enumerate(simulated)} | {"parent": parent}

    def distance(x: dict, _observed: dict) -> float:
        return misfit([x[f"t{i}"] for i in range(len(stage.targets))], stage.targets)

    floor = settings.misfit_per_target * len(stage.targets)
    prior = pyabc.Distribution(**{p.name: pyabc.RV("uniform", p.low, p.high - p.low)
                                  for p in stage.parameters})  # fmt: skip
    abc = pyabc.ABCSMC(model, prior, distance, population_size=settings.particles,
                       eps=_floored_quantile_epsilon(floor), sampler=SingleCoreSampler())  # fmt: skip
    observed = {f"t{i}": t.value for i, t in enumerate(stage.targets)}
    with tempfile.TemporaryDirectory(prefix="nhs-pip-sim-abc-") as folder:
        history = abc.new(f"sqlite:///{Path(folder) / 'abc.db'}", observed)
        # the threshold never goes below the floor, so the run stops at the second
        # generation at it (two equal thresholds), or at a limit
        abc.run(minimum_epsilon=0.0, min_eps_diff=floor * 1e-9,
                max_nr_populations=settings.max_generations,
                min_acceptance_rate=settings.min_acceptance_rate,
                max_total_nr_simulations=settings.max_simulations)  # fmt: skip
        particles = history.get_population().particles
        table = history.get_all_populations()
    generations = [{"generation": int(row.t), "epsilon": float(row.epsilon),
                    "simulations": int(row.samples),
                    "acceptance_rate": float(row.particles) / float(row.samples)}
                   for row in table.itertuples() if row.t >= 0]  # fmt: skip
    weights = np.array([p.weight for p in particles], dtype=float)
    posterior = StagePosterior(
        name=stage.name,
        parameters=stage.parameters,
        targets=stage.targets,
        values=np.array(
            [[float(p.parameter[q.name]) for q in stage.parameters] for p in particles]
        ),
        statistics=np.array(
            [[float(p.sum_stat[f"t{i}"]) for i in range(len(stage.targets))] for p in particles]
        ),
        weights=weights / weights.sum(),
        parents=np.array([int(p.sum_stat["parent"]) for p in particles], dtype=int),
        epsilon_floor=floor,
        generations=generations,
        calibration_simulations=simulations - sum(g["simulations"] for g in generations),
        seconds=time.perf_counter() - began,
    )
    log.info("stage %s: %d generations, threshold %.3g (floor %.3g), %d simulations, %.0f s",
             stage.name, len(generations), posterior.epsilon, floor, posterior.simulations,
             posterior.seconds)  # fmt: skip
    return posterior


# ------------------------------------------------------------------------ report, files


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of weighted values: the smallest value whose cumulative weight
    reaches ``q`` of the total (the inverse of the weighted distribution function)."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, dtype=float)[order], np.asarray(weights, dtype=float)[order]
    cumulative = np.cumsum(w) / w.sum()
    return float(v[min(int(np.searchsorted(cumulative, q * (1 - 1e-12))), len(v) - 1)])


def _summary(values: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    ok = ~np.isnan(values)
    values, weights = values[ok], weights[ok]
    if not len(values):
        return {"mean": math.nan, "median": math.nan, "q05": math.nan, "q95": math.nan}
    return {"mean": float(np.average(values, weights=weights)),
            "median": weighted_quantile(values, weights, 0.5),
            "q05": weighted_quantile(values, weights, 0.05),
            "q95": weighted_quantile(values, weights, 0.95)}  # fmt: skip


def ensemble_report(result: EnsembleResult, point_fit: Mapping[str, float] | None = None) -> dict:
    """The fit report (``ensemble.json``): per parameter its prior range and the posterior
    mean, median, 5% and 95% (and, if given, the point fit's value and whether it lies in
    that range); per target the ensemble's simulated mean and 90% range; per stage how the
    ABC ran."""
    weights = result.weights
    values = result.parameter_values()
    parameters = []
    for stage in result.stages:
        for p in stage.parameters:
            entry = {"name": p.name, "stage": stage.name, "file": p.file, "paths": list(p.paths),
                     "prior": {"low": p.low, "high": p.high},
                     "posterior": _summary(values[p.name], weights)}  # fmt: skip
            if point_fit is not None and p.name in point_fit:
                inside = entry["posterior"]["q05"] <= point_fit[p.name] <= entry["posterior"]["q95"]
                entry |= {"point_fit": float(point_fit[p.name]), "point_fit_in_range": bool(inside)}
            parameters.append(entry)
    targets = []
    for stage_name, t, simulated in result.statistic_values():
        summary = _summary(simulated, weights)
        targets.append({"name": t.name, "stage": stage_name, "statistic": t.statistic,
                        "target": t.value, "tolerance": t.tolerance,
                        "simulated": {k: summary[k] for k in ("mean", "q05", "q95")},
                        "target_in_range": bool(summary["q05"] <= t.value <= summary["q95"]),
                        "source": t.source})  # fmt: skip
    stages = [{"name": s.name, "epsilon_floor": s.epsilon_floor, "epsilon": s.epsilon,
               "reached_floor": s.reached_floor, "simulations": s.simulations,
               "seconds": round(s.seconds, 1), "generations": s.generations}
              for s in result.stages]  # fmt: skip
    effective = float(1 / np.sum(weights**2))
    return {"date": result.date, "settings": result.settings, "particles": len(weights),
            "effective_sample_size": effective, "stages": stages,
            "parameters": parameters, "targets": targets}  # fmt: skip


def write_ensemble(
    result: EnsembleResult, folder: str | Path, point_fit: Mapping[str, float] | None = None
) -> tuple[Path, Path]:
    """Write ``ensemble.csv`` and ``ensemble.json`` into ``folder``, each atomically.

    Raises :class:`OutputError` naming the folder if it cannot be written.
    """
    from sim.analysis.calibration import _write_text

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write the ensemble: {exc.strerror or exc}") from exc
    columns = result.columns()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in zip(*columns.values(), strict=True):
        writer.writerow([repr(float(v)) for v in row])
    table, report = folder / "ensemble.csv", folder / "ensemble.json"
    _write_text(table, text.getvalue())
    _write_text(report, json.dumps(ensemble_report(result, point_fit), indent=2))
    return table, report


def read_ensemble(path: str | Path) -> tuple[list[dict[str, float]], np.ndarray]:
    """The particles of an ``ensemble.csv`` (each a mapping of dotted path to value, for
    :func:`~sim.scenario.with_changes`) and their weights.

    Paths of parameters written to another file than ``fitted.yaml`` (``ensemble.json``
    gives each parameter's file) belong to that file's scenario: keep them for it only, see
    :func:`particle_changes`.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    weights = np.array([row.pop("weight") for row in rows])
    return rows, weights


def particle_changes(
    particle: Mapping[str, float], spec: CalibrationSpec, file: str = "fitted.yaml"
) -> dict[str, float]:
    """The paths of ``particle`` that the calibration writes to ``file`` (by default the
    ones the baseline takes), ready for ``with_changes``."""
    wanted = {path for s in spec.stages for p in s.parameters if p.file == file for path in p.paths}
    return {path: value for path, value in particle.items() if path in wanted}
