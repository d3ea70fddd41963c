"""The workforce question: probability, mean shortfall and the rule, from a parameter run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.workforce import workforce_answer
from sim.apps.cli.main import main
from sim.experiment.runner import run_to_folder
from sim.experiment.settings import RunSettings
from sim.results import TABLE_FILE
from sim.scenario import with_changes

HOURS = "programme.phases.improvement.support_hours_per_week"


def test_the_answer_is_read_from_the_run_and_explained_by_the_drawn_assumptions(short, tmp_path):
    # a team of 30 WTE is short in some futures and not others, depending on the hours
    scenario = with_changes(short, {"team.national.wte_schedule[1].wte": 30.0})
    folder, _ = run_to_folder([scenario], tmp_path / "r", settings=RunSettings(
        60, seed=3, uncertainty="parameters", progress=False))  # fmt: skip
    tidy = pd.read_parquet(folder / TABLE_FILE)
    answer = workforce_answer(tidy, scenario, seed=3, replications=60)
    short_rows = tidy[(tidy["metric"] == "national_demand_exceeded")
                      & (tidy["frequency"] == "horizon")]  # fmt: skip
    assert answer.probability == np.mean(short_rows["value"] > 0)
    assert 0 < answer.probability < 1
    hours = tidy[(tidy["metric"] == "shortfall_hours") & (tidy["frequency"] == "horizon")
                 & (tidy["group"] == "national")]["value"]  # fmt: skip
    assert answer.mean_shortfall_hours == hours.mean() > 0
    assert f"{answer.probability:.0%}" in answer.sentence()
    assert "national team is short" in answer.sentence()


def test_run_with_parameter_uncertainty_prints_the_spread_and_the_workforce_answer(
    tmp_path, capsys
):
    code = main(["run", "--reps", "20", "--seed", "2", "--uncertainty", "parameters",
                 "--out", str(tmp_path / "r"), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "Where the spread comes from" in out and "The workforce question" in out
    assert "plausible futures" in out


def test_a_scenario_that_draws_nothing_gets_a_plain_answer_not_a_failure(short, tmp_path):
    """The default forecast draws the assumptions; a scenario declaring no ranges (and no
    calibration ensemble) has none to draw, and the run says so instead of failing."""
    from sim.apps.cli.runs import _workforce_lines
    from sim.experiment.uncertainty import uncertain_numbers

    fixed = with_changes(short, {"calibration_ensemble": None, "name": "fixed"})
    fixed = with_changes(fixed, {n.path: n.value for n in uncertain_numbers(fixed)}, fixed=True)
    assert not uncertain_numbers(fixed)
    folder, _ = run_to_folder([fixed, short], tmp_path / "r",
                              settings=RunSettings(6, seed=1, progress=False))  # fmt: skip
    lines = _workforce_lines(folder, [fixed, short], 1, 6).splitlines()
    assert "fixed: declares no ranges" in lines[2]
    assert lines[3].startswith(f"  {short.name}: The national team is short")
