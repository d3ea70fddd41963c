"""The validation view: model against published data."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.analysis.validation import compare_with_data, load_comparisons
from sim.apps.cli import main
from sim.errors import ScenarioError
from sim.outputs.charts import draw
from sim.outputs.charts.analysis import validation_chart
from tests.conftest import SCENARIOS

CALIBRATION = SCENARIOS / "calibration"


def test_comparisons_include_fit_targets_and_held_out_figures():
    comparisons = load_comparisons(CALIBRATION / "targets.yaml", CALIBRATION / "validation.yaml")
    used = [c for c in comparisons if c.used_in_fit]
    held = [c for c in comparisons if not c.used_in_fit]
    assert len(used) >= 14 and len(held) >= 10  # history targets: see the back-test
    assert {c.name for c in used}.isdisjoint({c.name for c in held})


def test_model_and_data_side_by_side(baseline):
    comparisons = load_comparisons(CALIBRATION / "targets.yaml", CALIBRATION / "validation.yaml")
    table = compare_with_data(baseline, comparisons, replications=8, seed=1)
    assert len(table) == len(comparisons)
    assert (table["model_q05"] <= table["model_median"]).all()
    assert (table["model_median"] <= table["model_q95"]).all()
    # the published churn the model was fitted to lies in its range
    churn = table[table["quantity"] == "trusts changing segment per quarter"].iloc[0]
    assert churn["published_in_model_range"]
    chart = validation_chart(table, "baseline", 8, 1)
    assert "held out" in chart.title and draw(chart).axes


def test_validation_command_writes_table_and_chart(tmp_path, capsys):
    out = tmp_path / "validation"
    code = main(["validation", "--scenario", str(SCENARIOS / "baseline.yaml"),
                 "--targets", str(CALIBRATION / "targets.yaml"),
                 "--held-out", str(CALIBRATION / "validation.yaml"),
                 "--reps", "5", "--out", str(out)])  # fmt: skip
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "validation.csv", "validation.png", "validation.svg", "manifest.json"
    }
    assert "held-out figures lie within" in capsys.readouterr().out
    assert len(pd.read_csv(out / "validation.csv")) > 20


def test_bad_held_out_file_names_field(tmp_path):
    bad = tmp_path / "validation.yaml"
    bad.write_text("held_out:\n  - {name: x, statistic: nosuch, value: 1, source: s}\n")
    with pytest.raises(ScenarioError) as error:
        load_comparisons(CALIBRATION / "targets.yaml", bad)
    assert error.value.field == "held_out[0].statistic"


def test_theory_command_prints_each_check_and_passes(capsys):
    assert main(["theory", "--reps", "30"]) == 0
    out = capsys.readouterr().out
    assert "erlang_c_mean_wait" in out and "conservation" in out
    assert out.strip().splitlines()[-1] == "8 passed, 0 failed"
