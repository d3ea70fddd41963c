"""Sensitivity analysis and the capacity planner, on cases with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.analysis.planner import PlanTarget, plan
from sim.analysis.sensitivity import Output, global_indices, one_way
from sim.analysis.verification import erlang_c, queue_scenario
from sim.apps.cli import main
from sim.calendar import WEEKS_PER_YEAR
from sim.errors import ScenarioError
from sim.experiment.settings import RunSettings
from sim.scenario import with_changes
from sim.scenario.annotations import uncertain_values
from tests.conftest import SCENARIOS

RATE, MEAN_STAY = 0.45, 10.0  # referrals per week; weeks


def smallest_cap_by_theory(threshold_weeks: float, share: float) -> int:
    """Smallest c with P(wait > t) = C(c, a) exp(-(c mu - lambda) t) <= share."""
    c = math.floor(RATE * MEAN_STAY) + 1
    while (
        erlang_c(c, RATE * MEAN_STAY) * math.exp(-(c / MEAN_STAY - RATE) * threshold_weeks) > share
    ):
        c += 1
    return c


@pytest.fixture(scope="module")
def queue(baseline):
    stay = {"distribution": "exponential", "mean_weeks": MEAN_STAY}
    return queue_scenario(baseline, 5, RATE * WEEKS_PER_YEAR, stay, years=6)


def test_planner_finds_the_erlang_c_answer(queue):
    expected = smallest_cap_by_theory(13.0, 0.10)
    assert expected == 6
    result = plan(queue, "cap", "share_waiting_over_13_weeks <= 0.10 in every quarter of 2030/31",
                  3, 12, RunSettings(200, seed=5, jobs=2, progress=False))  # fmt: skip
    assert result.on_average == expected
    tried = result.evaluations.set_index("value")
    assert not tried.loc[expected - 1, "met_on_average"]
    # every cap from 3 to 12 tried (no bisection); the probability of meeting the target in
    # every quarter grows with the cap, and the 90% answer is at or above the mean's
    assert tried.index.tolist() == list(range(3, 13))
    assert result.with_probability is not None and result.with_probability >= expected
    assert tried.loc[result.with_probability, "probability_met"] >= 0.9
    assert tried.loc[result.with_probability - 1, "probability_met"] < 0.9
    assert tried.loc[12, "probability_met"] > tried.loc[3, "probability_met"]


def test_planner_reports_an_unreachable_target(queue):
    result = plan(queue, "cap", "waiting <= -1 over the horizon", 3, 6,
                  RunSettings(10, seed=1, jobs=1, progress=False))  # fmt: skip
    assert result.on_average is None and result.with_probability is None
    assert (result.evaluations["probability_met"] == 0).all()


@pytest.mark.parametrize(
    "text",
    ["waiting < 3", "waiting <= many", "share_waiting_over_13_weeks <= 0.1 in every decade"],
)
def test_unreadable_targets_are_rejected(text):
    with pytest.raises(ValueError, match="cannot read the target"):
        PlanTarget.parse(text)


def test_target_parsing():
    target = PlanTarget.parse("utilisation:national >= 0.5 in every quarter of 2027/28")
    assert (target.metric, target.group, target.comparator, target.threshold) == (
        "utilisation",
        "national",
        ">=",
        0.5,
    )
    assert (target.frequency, target.financial_year) == ("quarter", "2027/28")


def _with_ranges(queue):
    """The queue with three uncertain assumptions, and no others (the baseline's ranges are
    dropped): only the length of stay can matter (exogenous referrals ignore catastrophic
    failures; no support hours means no dose)."""
    unranged = {
        path: note.model_copy(update={"range": None, "distribution": None})
        for path, note in queue.notes.items()
    }
    return with_changes(
        queue.model_copy(update={"notes": unranged}),
        {
            "programme.phases.improvement.duration.mean_weeks": {
                "value": 10.0, "range": [8.0, 12.0], "assumption": "test"},
            "population.tables.acute.catastrophic_failure_rate_per_year": {
                "value": 0.005, "range": [0.001, 0.05], "assumption": "test"},
            "programme.dose_response.elasticity": {
                "value": 1.0, "range": [0.5, 1.5], "assumption": "test"},
        },
    )  # fmt: skip


def test_one_way_ranks_the_dominant_parameter_first(queue):
    table = one_way(
        _with_ranges(queue), Output("waiting"), RunSettings(20, seed=3, jobs=2, progress=False)
    )
    assert table["parameter"].iloc[0] == "programme.phases.improvement.duration.mean_weeks"
    assert table["ci_low"].iloc[0] > 0  # longer stays, longer waiting list
    assert (table["effect"].iloc[1:] == 0).all()  # identical random numbers: exactly no effect


def test_morris_ranks_the_dominant_parameter_first_and_reports_noise(queue):
    indices, diagnostics = global_indices(
        _with_ranges(queue), Output("waiting"), "morris", samples=6,
        settings=RunSettings(4, seed=2, jobs=2, progress=False),
    )  # fmt: skip
    assert indices["parameter"].iloc[0] == "programme.phases.improvement.duration.mean_weeks"
    assert 0 <= diagnostics["noise_share"] <= 1


def test_value_outside_its_declared_range_is_an_error(baseline):
    with pytest.raises(ScenarioError) as error:
        with_changes(baseline, {"programme.relapse_probability": {
            "value": 0.5, "range": [0.05, 0.2], "assumption": "test"}})  # fmt: skip
    assert "outside its range" in str(error.value)


def test_sensitivity_and_plan_commands(tmp_path, capsys):
    scenario = str(SCENARIOS / "baseline.yaml")
    assert (
        main(["sensitivity", scenario, "--reps", "4", "--jobs", "1", "--out", str(tmp_path / "s")])
        == 0
    )
    assert {"oneway.csv", "tornado.png", "tornado.svg"} <= {
        p.name for p in (tmp_path / "s").iterdir()
    }
    code = main(["plan", scenario, "--lever", "cap", "--target", "waiting <= 20 over the horizon",
                 "--min", "10", "--max", "25", "--reps", "5", "--jobs", "1", "--out", str(tmp_path / "p")])  # fmt: skip
    tried = pd.read_csv(tmp_path / "p" / "plan.csv")
    assert tried["value"].tolist() == list(range(10, 26))  # every cap in the range
    # a cap of 10 leaves a long list (about 28 trusts at worst); 25 places bring it to 15
    assert not tried["met_on_average"].iloc[0] and tried["met_on_average"].iloc[-1]
    assert code == 0 and (tmp_path / "p" / "plan.png").exists()
    assert "is the smallest setting tried whose mean meets the target" in capsys.readouterr().out
    assert main(["plan", scenario, "--lever", "cap", "--target", "nonsense", "--min", "1",
                 "--max", "2", "--out", str(tmp_path / "q")]) == 2  # fmt: skip
    assert "cannot read the target" in capsys.readouterr().err


def test_sobol_ranks_the_dominant_parameter_first(queue):
    indices, diagnostics = global_indices(
        _with_ranges(queue), Output("waiting"), "sobol", samples=16,
        settings=RunSettings(4, seed=4, jobs=2, progress=False),
    )  # fmt: skip
    assert indices["parameter"].iloc[0] == "programme.phases.improvement.duration.mean_weeks"
    assert indices["total"].iloc[0] > 0.5
    assert len(uncertain_values(_with_ranges(queue))) == 3
    assert diagnostics["sample_points"] == 16 * (3 + 2)  # Saltelli: N (k + 2) points
