"""Calibration: parameter recovery, specification errors, and the fitted file."""

from __future__ import annotations

import json

import pytest
import yaml

from sim.analysis.calibration import (
    PROGRAMME_OFF,
    CalibrationSpec,
    FreeParameter,
    Stage,
    Target,
    calibrate,
    load_spec,
    simulate_statistics,
    write_fitted,
)
from sim.apps.cli import main
from sim.errors import ScenarioError
from sim.scenario import load_scenario, with_changes
from tests.conftest import SCENARIOS

TRUTH = {"within_trust_sd": 0.13, "deficit_switching_rate": 0.40}
TOLERANCE = 0.10
"""Recovered values must be within 10% of the values the data were made with."""

PARAMETERS = (
    FreeParameter(
        "within_trust_sd",
        tuple(
            f"population.tables.{t}.score.within_trust_sd"
            for t in ("acute", "non_acute", "ambulance")
        ),
        0.05,
        0.4,
        0.17,  # the baseline's value before calibration
    ),
    FreeParameter(
        "deficit_switching_rate",
        tuple(
            f"population.tables.{t}.deficit.switching_rate"
            for t in ("acute", "non_acute", "ambulance")
        ),
        0.03,
        0.8,
        0.22,
    ),
)


def test_parameters_are_recovered_from_data_made_with_them(baseline):
    """Simulate 'published' churn from known parameters, then fit from other values."""
    truth = with_changes(
        baseline,
        {path: TRUTH[p.name] for p in PARAMETERS for path in p.paths}
        | {"horizon_years": 3}
        | PROGRAMME_OFF,
    )
    statistics = [
        Target("churn", "churn_per_quarter", 0.0, 1.0, "synthetic"),
        Target("override churn", "override_churn_per_quarter", 0.0, 0.5, "synthetic"),
        Target(
            "acute segment 1",
            "segment_count",
            0.0,
            1.0,
            "synthetic",
            {"table": "acute", "segment": 1},
        ),
    ]
    # the "data": many replications with a different seed from the fit's
    observed = simulate_statistics(truth, statistics, replications=150, seed=99)
    targets = tuple(
        Target(t.name, t.statistic, value, t.tolerance, t.source, t.options)
        for t, value in zip(statistics, observed, strict=True)
    )
    spec = CalibrationSpec(
        replications=40,
        seed=7,
        horizon_years=3,
        max_evaluations=120,
        stages=(Stage("recovery", False, PARAMETERS, targets),),
    )
    result = calibrate(baseline, spec)  # starts from the parameters' start values
    fitted = result.fitted_values()
    for name, true_value in TRUTH.items():
        assert fitted[name] == pytest.approx(true_value, rel=TOLERANCE), (name, fitted)
    assert result.stages[0].start["deficit_switching_rate"] != pytest.approx(
        TRUTH["deficit_switching_rate"], rel=TOLERANCE
    )


def test_fitted_file_is_what_the_baseline_extends(baseline, tmp_path):
    spec = CalibrationSpec(
        replications=5, seed=1, horizon_years=1, max_evaluations=6,
        stages=(Stage("quick", False, PARAMETERS[:1],
                      (Target("churn", "churn_per_quarter", 38.0, 2.0, "NHS England"),)),),
    )  # fmt: skip
    result = calibrate(baseline, spec)
    fitted_path, record_path = write_fitted(result, spec, tmp_path / "calibration")
    tree = yaml.safe_load(fitted_path.read_text())
    note = tree["population"]["tables"]["acute"]["score"]["within_trust_sd"]
    assert note["value"] == pytest.approx(result.fitted_values()["within_trust_sd"], abs=1e-6)
    assert "fitted by `python -m sim calibrate`" in note["assumption"]
    record = json.loads(record_path.read_text())
    assert record["stages"][0]["targets"][0]["target"] == 38.0


def test_baseline_uses_every_fitted_value():
    """Each value in scenarios/calibration/fitted.yaml is the baseline's, with its note."""
    from sim.scenario.paths import format_path

    baseline = load_scenario(SCENARIOS / "baseline.yaml")
    fitted = yaml.safe_load((SCENARIOS / "calibration" / "fitted.yaml").read_text())
    plain = baseline.model_dump()
    found = 0

    def walk(node, path):
        nonlocal found
        if isinstance(node, dict) and "value" in node:
            dotted = format_path(path)
            value = plain
            for part in path:
                value = value[part]
            assert value == pytest.approx(node["value"]), dotted
            assert baseline.notes[dotted].assumption == node["assumption"].strip()
            found += 1
        elif isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*path, key))

    walk(fitted, ())
    assert found >= 15


def _spec_file(tmp_path, text):
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    return path


GOOD_STAGE = """
settings: {replications: 2, seed: 1, horizon_years: 1, max_evaluations: 3}
stages:
  - name: quick
    programme: false
    parameters:
      - {name: sd, paths: [population.tables.acute.score.within_trust_sd], low: 0.05, high: 0.4,
         start: 0.17}
    targets:
      - {name: churn, statistic: churn_per_quarter, value: 38, tolerance: 2, source: NHS England}
"""


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            ("churn_per_quarter", "churn_each_quarter"),
            "stages[0].targets[0].statistic",
            "unknown statistic",
        ),
        (("low: 0.05", "low: 0.5"), "stages[0].parameters[0]", "must be below"),
        (("tolerance: 2", "tolerance: 0"), "stages[0].targets[0].tolerance", "must be positive"),
        (("value: 38, ", ""), "stages[0].targets[0].value", "missing"),
    ],
)
def test_bad_specification_names_file_and_field(tmp_path, change, field, reason):
    path = _spec_file(tmp_path, GOOD_STAGE.replace(*change))
    with pytest.raises(ScenarioError) as error:
        load_spec(path)
    assert error.value.field == field and reason in error.value.reason
    assert error.value.file.endswith("targets.yaml")


def test_calibrate_command_writes_fit(tmp_path, capsys):
    spec = _spec_file(tmp_path, GOOD_STAGE)
    out = tmp_path / "fit"
    assert main(["calibrate", "--spec", str(spec), "--scenario", str(SCENARIOS / "baseline.yaml"),
                 "--out", str(out)]) == 0  # fmt: skip
    assert (out / "fitted.yaml").exists() and (out / "fit.json").exists()
    assert "stage quick" in capsys.readouterr().out
    assert main(["calibrate", "--spec", str(spec), "--stage", "nosuch", "--out", str(out)]) == 2
