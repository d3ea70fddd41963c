"""Ensemble calibration (ABC-SMC, ``python -m sim calibrate --ensemble``): recovery of known
parameters, reproducibility, stages conditioned on earlier ones, the files and the command.

Tests that run pyabc skip without it (``python -m pip install '.[ensemble]'``; the test
extra installs it). The full shipped ensemble is re-made only in the slow tier.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from sim.analysis.calibration import (
    PROGRAMME_OFF,
    CalibrationSpec,
    FreeParameter,
    Stage,
    Target,
    load_spec,
    recorded_values,
    simulate_statistics,
)
from sim.analysis.ensemble import (
    MISSING_TOLERANCES,
    EnsembleResult,
    EnsembleSettings,
    StagePosterior,
    ensemble_report,
    misfit,
    particle_changes,
    read_ensemble,
    weighted_quantile,
    write_ensemble,
)
from sim.apps.cli import main
from sim.scenario import with_changes
from tests.conftest import ROOT, SCENARIOS
from tests.test_calibration import GOOD_STAGE

TABLES = ("acute", "non_acute", "ambulance")
WITHIN_SD = FreeParameter("within_trust_sd",
                          tuple(f"population.tables.{t}.score.within_trust_sd" for t in TABLES),
                          0.05, 0.4, 0.17)  # fmt: skip
SWITCHING = FreeParameter("deficit_switching_rate",
                          tuple(f"population.tables.{t}.deficit.switching_rate" for t in TABLES),
                          0.03, 0.8, 0.22)  # fmt: skip
TRUTH = {"within_trust_sd": 0.13, "deficit_switching_rate": 0.40}
CHURN = Target("churn", "churn_per_quarter", 38.0, 2.0, "NHS England")
OVERRIDE = Target("override churn", "override_churn_per_quarter", 6.0, 1.5, "NHS England")


def _fit(*args, **kwargs):
    pytest.importorskip("pyabc")
    from sim.analysis.ensemble import fit_ensemble

    return fit_ensemble(*args, **kwargs)


@pytest.mark.slow  # an ABC-SMC fit: about 7 s
def test_abc_recovers_known_parameters_within_its_posterior_range(baseline):
    """Targets made by simulating known values (as the point fit's recovery test does): the
    posterior's 5%-95% range holds each known value and is far narrower than the prior."""
    truth = with_changes(baseline, {path: TRUTH[p.name] for p in (WITHIN_SD, SWITCHING)
                                    for path in p.paths} | {"horizon_years": 2} | PROGRAMME_OFF)  # fmt: skip
    statistics = [
        Target("churn", "churn_per_quarter", 0.0, 1.0, "synthetic"),
        Target("override churn", "override_churn_per_quarter", 0.0, 0.5, "synthetic"),
        Target("acute segment 1", "segment_count", 0.0, 1.0, "synthetic",
               {"table": "acute", "segment": 1}),
    ]  # fmt: skip
    observed = simulate_statistics(truth, statistics, replications=150, seed=99)
    targets = tuple(Target(t.name, t.statistic, value, t.tolerance, t.source, t.options)
                    for t, value in zip(statistics, observed, strict=True))  # fmt: skip
    spec = CalibrationSpec(replications=40, seed=7, horizon_years=2, max_evaluations=1,
                           stages=(Stage("recovery", False, (WITHIN_SD, SWITCHING), targets),))  # fmt: skip
    settings = EnsembleSettings(particles=40, replications=5, max_generations=8)
    result = _fit(baseline, spec, settings=settings)
    report = ensemble_report(result)
    assert report["stages"][0]["reached_floor"], report["stages"]
    for entry in report["parameters"]:
        posterior, prior = entry["posterior"], entry["prior"]
        assert posterior["q05"] <= TRUTH[entry["name"]] <= posterior["q95"], entry
        assert posterior["q95"] - posterior["q05"] < (prior["high"] - prior["low"]) / 4, entry


def _two_stages(seed: int = 3) -> CalibrationSpec:
    return CalibrationSpec(replications=2, seed=seed, horizon_years=1, max_evaluations=1,
                           stages=(Stage("first", False, (WITHIN_SD,), (CHURN,)),
                                   Stage("second", False, (SWITCHING,), (OVERRIDE,))))  # fmt: skip


TINY = EnsembleSettings(particles=20, replications=2, max_generations=3)


@pytest.mark.slow  # about 7 s of ABC-SMC
def test_stages_are_conditioned_on_earlier_draws_and_the_fit_repeats(baseline):
    state = np.random.get_state()
    first = _fit(baseline, _two_stages(), settings=TINY)
    assert np.array_equal(np.random.get_state()[1], state[1])  # the caller's generator is kept
    columns = first.columns()
    assert list(columns) == [*WITHIN_SD.paths, *SWITCHING.paths, "weight"]
    assert len(columns["weight"]) == TINY.particles
    assert columns["weight"].sum() == pytest.approx(1.0)
    # every particle carries one particle of the first stage's posterior, the same value on
    # every path of the parameter
    earlier = set(first.stages[0].values[:, 0])
    assert set(columns[WITHIN_SD.paths[0]]) <= earlier
    assert np.array_equal(columns[WITHIN_SD.paths[0]], columns[WITHIN_SD.paths[2]])
    parents = first.stages[1].parents
    assert parents.min() >= 0 and parents.max() < TINY.particles
    for parameter in (WITHIN_SD, SWITCHING):
        values = columns[parameter.paths[0]]
        assert ((values >= parameter.low) & (values <= parameter.high)).all()
    again = _fit(baseline, _two_stages(), settings=TINY)  # single-core sampler, seeded
    for path, values in columns.items():
        assert np.array_equal(values, again.columns()[path]), path
    other = _fit(baseline, _two_stages(seed=4), settings=TINY)
    assert not np.array_equal(columns["weight"], other.columns()["weight"])


def test_misfit_is_the_point_fits_and_rejects_missing_statistics():
    assert misfit([40.0, 6.0], (CHURN, OVERRIDE)) == pytest.approx(1.0)
    assert misfit([38.0, float("nan")], (CHURN, OVERRIDE)) == MISSING_TOLERANCES**2


def test_weighted_quantile():
    values, weights = np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 1.0])
    assert weighted_quantile(values, weights, 0.5) == pytest.approx(2.0)
    assert weighted_quantile(values, weights, 0.05) == 1.0
    assert weighted_quantile(values, weights, 0.95) == 3.0
    # a value carrying nearly all the weight is every quantile
    assert weighted_quantile(values, np.array([1e-9, 1e-9, 1.0]), 0.05) == pytest.approx(2.0)


QUALITY = FreeParameter("quality_route_rate", ("programme.referrals.quality.rate_per_trust_year",),
                        0.002, 0.1, 0.025, "fitted_history.yaml")  # fmt: skip


def _hand_made() -> EnsembleResult:
    """Three particles of a two-stage ensemble, written by hand."""
    first = StagePosterior("first", (WITHIN_SD,), (CHURN,), np.array([[0.1], [0.2]]),
                           np.array([[37.0], [39.0]]), np.array([0.5, 0.5]), np.array([-1, -1]),
                           2.0, [{"generation": 0, "epsilon": 2.0, "simulations": 9,
                                  "acceptance_rate": 0.2}])  # fmt: skip
    second = StagePosterior("second", (QUALITY,), (OVERRIDE,), np.array([[0.01], [0.02], [0.03]]),
                            np.array([[5.0], [6.0], [7.0]]), np.array([0.25, 0.25, 0.5]),
                            np.array([1, 0, 1]), 1.5, [{"generation": 0, "epsilon": 3.0,
                                                        "simulations": 12, "acceptance_rate": 0.25}])  # fmt: skip
    return EnsembleResult([first, second], {"replications": 2, "seed": 1}, "2026-01-01")


def test_files_hold_every_path_and_the_report(tmp_path):
    result = _hand_made()
    table, report_path = write_ensemble(result, tmp_path / "out", {"within_trust_sd": 0.15,
                                                                   "quality_route_rate": 0.5})  # fmt: skip
    with open(table, newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [*WITHIN_SD.paths, "programme.referrals.quality.rate_per_trust_year", "weight"]
    particles, weights = read_ensemble(table)
    assert weights.tolist() == [0.25, 0.25, 0.5]
    # the lineage: particle 0 of the second stage ran with particle 1 of the first
    assert [p[WITHIN_SD.paths[1]] for p in particles] == [0.2, 0.1, 0.2]
    spec = CalibrationSpec(2, 1, 1, 1, stages=(Stage("first", False, (WITHIN_SD,), (CHURN,)),
                                               Stage("second", False, (QUALITY,), (OVERRIDE,))))  # fmt: skip
    assert set(particle_changes(particles[0], spec)) == set(WITHIN_SD.paths)
    assert set(particle_changes(particles[0], spec, "fitted_history.yaml")) == {
        "programme.referrals.quality.rate_per_trust_year"}  # fmt: skip
    report = json.loads(report_path.read_text())
    within, rate = report["parameters"]
    assert within["prior"] == {"low": 0.05, "high": 0.4} and within["paths"] == list(
        WITHIN_SD.paths
    )
    assert within["posterior"]["mean"] == pytest.approx(0.175)
    assert within["point_fit_in_range"] and not rate["point_fit_in_range"]
    assert rate["file"] == "fitted_history.yaml"
    churn, override = report["targets"]
    assert churn["simulated"]["mean"] == pytest.approx(38.5) and churn["stage"] == "first"
    assert override["simulated"]["mean"] == pytest.approx(6.25)
    assert report["stages"][0]["reached_floor"] and not report["stages"][1]["reached_floor"]


def test_a_particle_applies_to_the_baseline(baseline):
    particles, _ = read_ensemble_or_skip()
    spec = load_spec(SCENARIOS / "calibration" / "targets.yaml")
    changes = particle_changes(particles[0], spec)
    assert "programme.referrals.quality.rate_per_trust_year" not in changes  # the history's
    plain = with_changes(baseline, changes).model_dump()
    assert plain["population"]["tables"]["acute"]["score"]["within_trust_sd"] == pytest.approx(
        particles[0]["population.tables.acute.score.within_trust_sd"]
    )


def read_ensemble_or_skip():
    path = SCENARIOS / "calibration" / "ensemble.csv"
    if not path.exists():
        pytest.skip("no shipped ensemble yet: python -m sim calibrate --ensemble --replace-shipped")
    return read_ensemble(path)


def test_shipped_ensemble_matches_the_spec():
    """Every free parameter of targets.yaml has a column per path, within its bounds."""
    particles, weights = read_ensemble_or_skip()
    spec = load_spec(SCENARIOS / "calibration" / "targets.yaml")
    paths = [(p, path) for s in spec.stages for p in s.parameters for path in p.paths]
    assert list(particles[0]) == [path for _, path in paths]
    assert weights.sum() == pytest.approx(1.0) and (weights > 0).all()
    for parameter, path in paths:
        values = np.array([row[path] for row in particles])
        assert ((values >= parameter.low) & (values <= parameter.high)).all(), path
    report = json.loads((SCENARIOS / "calibration" / "ensemble.json").read_text())
    assert [p["name"] for p in report["parameters"]] == list(
        dict.fromkeys(p.name for p, _ in paths)
    )
    assert report["particles"] == len(particles)


# --------------------------------------------------------------------- command line

SPEC = GOOD_STAGE  # the point fit's one-stage spec: the same quick stage


def _command(tmp_path, *extra):
    spec = tmp_path / "targets.yaml"
    spec.write_text(SPEC)
    return ["calibrate", "--spec", str(spec), "--scenario", str(SCENARIOS / "baseline.yaml"),
            "--no-progress", "--ensemble", "--particles", "10", *extra]  # fmt: skip


def test_calibrate_ensemble_writes_to_out_and_replaces_shipped_only_when_asked(tmp_path, capsys):
    pytest.importorskip("pyabc")
    out = tmp_path / "fit"
    assert main(_command(tmp_path, "--out", str(out))) == 0
    assert (out / "ensemble.csv").exists() and (out / "ensemble.json").exists()
    assert not (tmp_path / "ensemble.csv").exists()  # beside the spec: the shipped copy
    printed = capsys.readouterr().out
    assert "stage quick" in printed and "not changed" in printed
    particles, weights = read_ensemble(out / "ensemble.csv")
    assert len(particles) == 10 and list(particles[0]) == [
        "population.tables.acute.score.within_trust_sd"
    ]
    assert main(_command(tmp_path, "--out", str(tmp_path / "again"), "--replace-shipped")) == 0
    assert (tmp_path / "ensemble.csv").read_bytes() == (out / "ensemble.csv").read_bytes()
    assert "Replaced the shipped ensemble" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--stage", "quick", "--replace-shipped"), "--replace-shipped"),
        (("--stage", "nosuch"), "no stage"),
    ],
)
def test_calibrate_ensemble_refuses_bad_arguments(tmp_path, capsys, extra, words):
    assert main(_command(tmp_path, "--out", str(tmp_path / "x"), *extra)) == 2
    error = capsys.readouterr().err
    assert words in error and "Traceback" not in error
    assert not (tmp_path / "x").exists()


def test_particles_need_the_ensemble_and_at_least_ten(tmp_path, capsys):
    command = _command(tmp_path)
    assert main([a for a in command if a != "--ensemble"]) == 2
    assert "--particles" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main([*command[:-1], "5"])
    assert stop.value.code == 2 and "at least 10" in capsys.readouterr().err


def test_bad_spec_names_file_and_field(tmp_path, capsys):
    command = _command(tmp_path)
    (tmp_path / "targets.yaml").write_text(SPEC.replace("tolerance: 2", "tolerance: 0"))
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "targets.yaml" in error and "stages[0].targets[0].tolerance" in error


def test_without_pyabc_the_package_runs_and_the_command_says_what_to_install(tmp_path):
    """pyabc is an optional extra: blocked, the package imports and the command fails with
    one line naming the extra (exit 1), not a traceback."""
    code = (
        "import sys; sys.modules['pyabc'] = None\n"
        "import sim.analysis.ensemble, sim.analysis.calibration\n"
        "from sim.apps.cli import main\n"
        f"sys.exit(main({_command(tmp_path, '--out', str(tmp_path / 'x'))!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert ".[ensemble]" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------ slow


@pytest.mark.slow
def test_shipped_ensemble_is_reproduced(baseline, tmp_path):
    """Re-making the shipped ensemble (about ten minutes on one core) gives the shipped file
    to the last digit: the sampler is single-core and seeded. A difference means the model or
    pyabc changed since it was made; remake it on purpose
    (``python -m sim calibrate --ensemble --replace-shipped``)."""
    shipped, weights = read_ensemble_or_skip()
    report = json.loads((SCENARIOS / "calibration" / "ensemble.json").read_text())
    spec = load_spec(SCENARIOS / "calibration" / "targets.yaml")
    result = _fit(baseline, spec, settings=EnsembleSettings(particles=report["particles"]))
    write_ensemble(result, tmp_path, recorded_values(SCENARIOS / "calibration" / "fit.json"))
    particles, again = read_ensemble(tmp_path / "ensemble.csv")
    assert again.tolist() == pytest.approx(weights.tolist(), rel=1e-9)
    for old, new in zip(shipped, particles, strict=True):
        assert new == pytest.approx(old, rel=1e-9)
