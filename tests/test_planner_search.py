"""The planner's search: a grid over the whole range, non-monotone metrics reported, and the
probability of meeting the target (issue 12, item 5).

Most tests drive :func:`sim.analysis.planner.search` with a made-up evaluation function, so the
metric's shape is known exactly; the last ones run the README's example command.
"""

from __future__ import annotations

import re
import shlex

import numpy as np
import pandas as pd
import pytest

from sim.analysis.planner import (
    EVERY_VALUE_LIMIT,
    PlanInputError,
    PlanTarget,
    search,
    wilson_interval,
)
from sim.apps.cli import main
from tests.conftest import ROOT

QUARTERS = "share_waiting_over_13_weeks <= 0.10 in every quarter of 2027/28"


def recorder(metric):
    """An evaluation function from ``metric(value) -> matrix`` that records what it ran."""
    calls: list[list[float]] = []

    def evaluate(values):
        calls.append(list(values))
        return [np.asarray(metric(v), dtype=float) for v in values]

    return evaluate, calls


# common random numbers: replication r is the same future at every setting
NOISE = np.random.default_rng(12).normal(0.0, 0.01, size=(100, 4))


def v_shaped(value: float) -> np.ndarray:
    """Best (lowest) at 20, worse either side: 0.05 + 0.03 |value - 20| plus shared noise."""
    return 0.05 + 0.03 * abs(value - 20) + NOISE


def test_a_non_monotone_metric_is_searched_over_the_whole_range_and_reported():
    evaluate, calls = recorder(v_shaped)
    result = search(evaluate, "cap", QUARTERS, 10, 30)
    # 21 settings, at most the limit: every one tried, not a bisection from the ends
    assert sorted(v for call in calls for v in call) == list(map(float, range(10, 31)))
    assert result.on_average == 19  # 0.08 at 19 and 21; 0.11 at 18 and 22
    assert result.failing_above("met_on_average") == list(map(float, range(22, 31)))
    assert not result.monotone
    (run,) = result.breaks.itertuples()
    assert (run.from_value, run.to_value) == (20, 30)
    assert run.change == pytest.approx(0.30, abs=0.01) and run.ci_low > 0
    text = " ".join(result.findings())
    assert "not monotone in the programme cap" in text
    assert "from 0.0" in text and "at 20 trusts to 0.3" in text and "at 30 trusts" in text
    assert "do not all meet it on average: 22 to 30 trusts do not" in text


def test_a_monotone_metric_with_noise_is_not_called_non_monotone():
    evaluate, _ = recorder(lambda v: 0.5 - 0.02 * v + NOISE)
    result = search(evaluate, "cap", QUARTERS.replace("0.10", "0.105"), 10, 30)
    assert result.monotone and result.breaks.empty
    assert result.on_average == 20  # 0.10 (plus a little noise) at 20; 0.12 at 19
    assert "moves one way" in " ".join(result.findings())


def test_a_reversal_within_noise_is_not_reported():
    """A small wrong-way step that independent noise explains is not a break."""
    rng = np.random.default_rng(3)
    shape = {v: 0.5 - 0.02 * v for v in range(10, 31)}
    shape[21] = shape[20] + 0.001  # a blip far smaller than the noise
    evaluate, _ = recorder(lambda v: shape[int(v)] + rng.normal(0, 0.05, size=(50, 1)))
    result = search(evaluate, "cap", "waiting <= 0.1 over the horizon", 10, 30)
    assert result.monotone


def test_probability_counts_a_replication_only_if_it_meets_every_period():
    # 10 replications, 2 quarters; the first quarter is met by replications 0-5, the
    # second by 3-9; replication 9 has no value in the first (nothing to fail on)
    first = np.array([0.05] * 6 + [0.3] * 3 + [np.nan])
    second = np.array([0.2] * 3 + [0.05] * 7)
    matrix = np.column_stack([first, second])
    target = PlanTarget.parse(QUARTERS)
    assert target.met_each(matrix).tolist() == [False] * 3 + [True] * 3 + [False] * 3 + [True]
    evaluate, _ = recorder(lambda v: matrix)
    row = search(evaluate, "cap", target, 1, 2).evaluations.iloc[0]
    assert row["probability_met"] == pytest.approx(0.4)  # not 0.6 or 0.7 (one quarter alone)
    # Wilson 95% interval for 4 of 10 (textbook value 0.168 to 0.687)
    assert (row["probability_ci_low"], row["probability_ci_high"]) == pytest.approx(
        (0.1682, 0.6873), abs=1e-3
    )
    assert not row["met_on_average"]  # quarter means 0.133 (of 9 values) and 0.095
    assert not row["met_with_probability"]


def test_probability_answer_and_mean_answer_differ_as_they_should():
    """At setting v, replications 0..v-1 meet the target (0.0) and the rest miss (0.5):
    the probability is v/10 and the mean 0.05 (10 - v)."""

    def steps(value):
        met = np.arange(10) < value
        return np.where(met, 0.0, 0.5)[:, None]

    evaluate, _ = recorder(steps)
    target = "waiting <= 0.1 over the horizon"
    result = search(evaluate, "cap", target, 1, 10, probability=0.9)
    assert result.evaluations["probability_met"].tolist() == pytest.approx(
        [v / 10 for v in range(1, 11)]
    )
    assert result.on_average == 8  # mean 0.1 at 8
    assert result.with_probability == 9  # exactly 90% counts as meeting 90%
    assert search(evaluate, "cap", target, 1, 10, probability=0.95).with_probability == 10
    high = search(evaluate, "cap", target, 1, 9, probability=0.95)
    assert high.with_probability is None
    assert "No setting tried from 1 to 9 trusts meets it in at least 95%" in " ".join(
        high.findings()
    )
    assert "the most is 90% at 9 trusts" in " ".join(high.findings())


def test_a_wide_integer_range_is_gridded_then_refined_to_one_step():
    evaluate, calls = recorder(lambda v: np.full((5, 1), 200.0 - v))
    result = search(evaluate, "national_wte", "waiting <= 63 over the horizon", 0, 200)
    assert EVERY_VALUE_LIMIT < 201  # so the range is gridded, not tried value by value
    tried = result.evaluations.set_index("value")
    assert result.on_average == result.with_probability == 137
    assert not tried.loc[136, "met_on_average"]  # the answer is bracketed to one step
    assert len(tried) < 30  # far fewer than the 201 values
    assert len(calls[0]) == 11  # the first grid across the range, then refinements


def test_a_continuous_lever_is_refined_to_its_resolution():
    answer = 666_300.0
    evaluate, _ = recorder(lambda v: np.full((3, 1), 1 - v / 1e6))
    result = search(evaluate, "consultancy_budget", f"waiting <= {1 - answer / 1e6}", 0, 1e6)
    below = result.evaluations.query("value < @result.on_average")["value"].max()
    assert answer <= result.on_average <= answer + 10_000  # 1% of the range
    assert result.on_average - below <= 10_000
    assert "£0.67m a year" in result.findings()[0]


def test_lowest_setting_meeting_the_target_is_flagged():
    evaluate, _ = recorder(lambda v: np.zeros((4, 1)))
    result = search(evaluate, "cap", "waiting <= 1 over the horizon", 5, 8)
    assert result.on_average == 5
    assert "a lower --min may too" in " ".join(result.findings())


@pytest.mark.parametrize(
    ("kwargs", "argument", "words"),
    [
        ({"probability": 0.0}, "--probability", "above 0%"),
        ({"low": 5, "high": 5}, "--min", "two settings"),
        ({"low": 5.2, "high": 5.8}, "--min", "two settings"),  # no whole number between
        ({"lever": "beds"}, "--lever", "must be one of"),
        ({"target": "waiting < 3"}, "--target", "cannot read the target"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, argument, words):
    evaluate, _ = recorder(lambda v: np.zeros((2, 1)))
    options = {"lever": "cap", "target": "waiting <= 1", "low": 1, "high": 4} | kwargs
    with pytest.raises(PlanInputError, match=words) as error:
        search(evaluate, options.pop("lever"), options.pop("target"), **options)
    assert error.value.argument == argument


def test_wilson_interval_is_exact_at_the_ends():
    assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0
    low, high = wilson_interval(45, 50)
    assert low < 0.9 < high


# --- the command line ---------------------------------------------------------------------


def readme_plan_command() -> list[str]:
    """The `python -m sim plan ...` example in the README, as arguments for ``main``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```bash\n(python -m sim plan .*?)\n```", text, re.S)
    assert match, "README has no plan example"
    words = shlex.split(match[1].replace("\\\n", " "))
    assert words[:3] == ["python", "-m", "sim"]
    return words[3:]


def _run_readme_example(tmp_path, capsys, monkeypatch, extra: list[str]):
    monkeypatch.chdir(ROOT)  # the example uses the default scenario path
    code = main(readme_plan_command() + ["--out", str(tmp_path / "p"), "--jobs", "2"] + extra)
    out = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "p" / "plan.csv")
    return code, out, table


def test_readme_plan_example_answers_quickly(tmp_path, capsys, monkeypatch):
    """The README example with few replications: it answers and says what it saw."""
    code, out, table = _run_readme_example(tmp_path, capsys, monkeypatch, ["--reps", "30"])
    assert code == 0
    assert "is the smallest setting tried whose mean meets the target" in out
    assert "of replications (simulated futures)" in out
    assert "moves one way" in out  # utilisation falls steadily as the team grows
    assert table["met_on_average"].any()
    assert table["probability_met"].between(0, 1).all()
    assert {"plan.png", "plan.csv", "plan_monotonicity.csv"} <= {
        p.name for p in (tmp_path / "p").iterdir()
    }


@pytest.mark.slow
def test_readme_plan_example_answers_as_written(tmp_path, capsys, monkeypatch):
    """The README example exactly as written (200 replications per setting)."""
    code, out, table = _run_readme_example(tmp_path, capsys, monkeypatch, [])
    assert code == 0
    assert table["met_on_average"].any() and table["met_with_probability"].any()
    assert "200 replications per setting" in out


def test_probability_given_as_a_fraction_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:  # argparse refuses it before any work
        main(["plan", "--lever", "cap", "--target", "waiting <= 3", "--min", "10",
              "--max", "20", "--probability", "0.9"])  # fmt: skip
    assert stop.value.code == 2
    assert "give a percentage from 1 to 100" in capsys.readouterr().err


def test_a_setting_the_scenario_cannot_take_is_a_clean_input_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["plan", "--lever", "national_wte", "--target", "waiting <= 3", "--min", "-5",
              "--max", "40", "--out", str(tmp_path / "p")])  # fmt: skip
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--min" in err and "Traceback" not in err


def test_unknown_target_metric_is_an_input_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["plan", "--lever", "cap", "--target", "queue_length <= 3", "--min", "10",
                 "--max", "12", "--reps", "2", "--jobs", "1", "--out", str(tmp_path / "p")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "--target" in err and "selects no output" in err and "Traceback" not in err
