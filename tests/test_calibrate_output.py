"""`calibrate` writes to its own folder, starts from the spec's values and is repeatable.

Issue 12, item 4: it used to overwrite the shipped ``fitted.yaml`` and ``fit.json`` (which
the baseline extends) and start from the values already fitted, so every run landed
elsewhere. Every test here works on a temporary copy of ``scenarios/``; the real shipped
files are only compared against, never written.
"""

from __future__ import annotations

import json
import shutil

import pytest

from sim.analysis.calibration import calibrate, load_spec
from sim.apps.cli import main
from sim.errors import ScenarioError
from sim.scenario import load_scenario, with_changes
from tests.conftest import SCENARIOS

SD = "population.tables.acute.score.within_trust_sd"

QUICK_SPEC = f"""
settings: {{replications: 2, seed: 1, horizon_years: 1, max_evaluations: 6}}
stages:
  - name: quick
    programme: false
    parameters:
      - {{name: within_trust_sd, paths: [{SD}], low: 0.05, high: 0.4, start: 0.3}}
    targets:
      # far from what the baseline gives (about 38), so the fit has to move
      - {{name: churn, statistic: churn_per_quarter, value: 20, tolerance: 2, source: test}}
"""
"""A one-parameter, few-second spec; its start (0.3) differs from the baseline's value."""

SHIPPED = ("fitted.yaml", "fit.json")


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A copy of scenarios/ with the quick spec beside the copied shipped fit; cwd = tmp."""
    scenarios = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, scenarios)
    spec = scenarios / "calibration" / "quick.yaml"
    spec.write_text(QUICK_SPEC)
    monkeypatch.chdir(tmp_path)  # the default results/ folder lands in tmp
    return scenarios, spec


def _args(scenarios, spec, *extra):
    return ["calibrate", "--spec", str(spec), "--scenario", str(scenarios / "baseline.yaml"),
            "--no-progress", *extra]  # fmt: skip


def _shipped_bytes(folder):
    return {name: (folder / name).read_bytes() for name in SHIPPED}


def _fitted(folder):
    return json.loads((folder / "fit.json").read_text())["stages"][0]


def test_writes_to_a_new_results_folder_and_leaves_shipped_files_alone(copy, tmp_path, capsys):
    scenarios, spec = copy
    before = _shipped_bytes(scenarios / "calibration")
    assert main(_args(scenarios, spec)) == 0
    assert _shipped_bytes(scenarios / "calibration") == before
    folders = list((tmp_path / "results").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("calibrate-"), folders
    assert set(SHIPPED) <= {p.name for p in folders[0].iterdir()}  # (with the folder's manifest)
    out = capsys.readouterr().out
    assert f"results/{folders[0].name}/" in out and "not changed" in out


def test_two_runs_give_identical_fitted_values(copy, tmp_path):
    scenarios, spec = copy
    assert main(_args(scenarios, spec)) == 0  # default folder
    assert main(_args(scenarios, spec, "--out", str(tmp_path / "second"))) == 0
    (first,) = (tmp_path / "results").iterdir()
    one, two = _fitted(first), _fitted(tmp_path / "second")
    assert one["parameters"] == two["parameters"]
    assert one["parameters"]["within_trust_sd"] != pytest.approx(0.3, abs=1e-3)  # it did move


def test_fit_starts_from_the_specs_values_not_the_scenarios(baseline, tmp_path):
    spec = _spec(tmp_path, QUICK_SPEC)
    other = with_changes(baseline, {SD: 0.1})
    runs = [calibrate(scenario, spec) for scenario in (baseline, other)]
    assert [r.stages[0].start for r in runs] == [{"within_trust_sd": 0.3}, {"within_trust_sd": 0.3}]
    assert runs[0].fitted_values() == runs[1].fitted_values()


def test_replace_shipped_replaces_them_and_says_so(copy, tmp_path, capsys):
    scenarios, spec = copy
    real = _shipped_bytes(SCENARIOS / "calibration")
    old_sd = load_scenario(scenarios / "baseline.yaml").population.tables.acute.score
    out = tmp_path / "fit"
    assert main(_args(scenarios, spec, "--out", str(out), "--replace-shipped")) == 0
    shipped = scenarios / "calibration"
    assert _shipped_bytes(shipped) == _shipped_bytes(out)  # the same files, byte for byte
    assert _fitted(shipped)["start"] == {"within_trust_sd": 0.3}
    text = capsys.readouterr().out
    assert "Replaced" in text and str(shipped / "fitted.yaml") in text
    new_sd = _fitted(out)["parameters"]["within_trust_sd"]
    assert f"within_trust_sd {old_sd.within_trust_sd:.6g} -> {new_sd:.6g}" in " ".join(text.split())
    # the quick spec fits one parameter, so the others are gone from the shipped file: said
    assert "acute_between_trust_sd" in text and "no longer fitted" in text
    assert _shipped_bytes(SCENARIOS / "calibration") == real  # the real files untouched


def test_replace_shipped_needs_every_stage(copy, capsys):
    scenarios, spec = copy
    before = _shipped_bytes(scenarios / "calibration")
    code = main(_args(scenarios, spec, "--stage", "quick", "--replace-shipped"))
    assert code == 2
    assert "--replace-shipped" in capsys.readouterr().err
    assert _shipped_bytes(scenarios / "calibration") == before


def test_existing_out_folder_is_refused_before_fitting(copy, tmp_path, capsys):
    scenarios, spec = copy
    (tmp_path / "taken").mkdir()
    assert main(_args(scenarios, spec, "--out", str(tmp_path / "taken"))) == 1
    assert "already exists" in capsys.readouterr().err


def test_progress_bar_only_when_asked_or_on_a_terminal(copy, tmp_path, capsys):
    scenarios, spec = copy
    args = [a for a in _args(scenarios, spec) if a != "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
    assert main([*args, "--out", str(tmp_path / "b"), "--progress"]) == 0
    assert "stage quick" in capsys.readouterr().err


def test_interrupted_fit_writes_nothing(copy, tmp_path, monkeypatch, capsys):
    import sim.analysis.calibration

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    scenarios, spec = copy
    before = _shipped_bytes(scenarios / "calibration")
    monkeypatch.setattr(sim.analysis.calibration, "calibrate", interrupted)
    assert main(_args(scenarios, spec, "--replace-shipped")) == 130
    assert "nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
    assert _shipped_bytes(scenarios / "calibration") == before


def _spec(tmp_path, text):
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    return load_spec(path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ((", start: 0.3", ""), "required field is missing"),
        (("start: 0.3", "start: 0.5"), "strictly between"),
        (("start: 0.3", "start: 0.05"), "strictly between"),
    ],
)
def test_start_is_required_and_inside_the_bounds(tmp_path, change, reason):
    with pytest.raises(ScenarioError) as error:
        _spec(tmp_path, QUICK_SPEC.replace(*change))
    assert error.value.field == "stages[0].parameters[0].start"
    assert reason in error.value.reason


def test_shipped_fit_started_from_the_specs_values():
    """The recorded fit is the one the shipped spec gives: same starting values."""
    spec = load_spec(SCENARIOS / "calibration" / "targets.yaml")
    record = json.loads((SCENARIOS / "calibration" / "fit.json").read_text())
    for stage, recorded in zip(spec.stages, record["stages"], strict=True):
        assert {p.name: p.start for p in stage.parameters} == recorded["start"]
