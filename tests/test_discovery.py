"""Scenario discovery (sim.analysis.discovery): rules recovered from constructed cases, the
plain-English sentence, and the edge cases (never, always, noise, missing and fixed values)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim.analysis.discovery import Condition, _number, _round_threshold, discover
from sim.errors import ArgumentError

ROWS = 2_000
SUPPORT = "programme.phases.improvement.support_hours_per_week"
PRODUCTIVE = "national.productive_hours_per_wte_week"


def uniform_table(seed: int, columns: str = "abcde") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.random((ROWS, len(columns))), columns=list(columns))


def move_labels(truth: np.ndarray, share: float, seed: int) -> np.ndarray:
    """``truth`` with ``share`` of its events moved: that many futures inside the rule lose the
    event and as many outside it gain it (so 5% of the event's labels are wrong). Flipping 5%
    of all rows instead would put more false events outside a 9% box than it holds, capping
    any rule's coverage near 0.65."""
    rng = np.random.default_rng(seed)
    noisy = truth.copy()
    inside, outside = np.flatnonzero(truth), np.flatnonzero(~truth)
    k = round(share * len(inside))
    noisy[rng.choice(inside, k, replace=False)] = False
    noisy[rng.choice(outside, k, replace=False)] = True
    return noisy


def thresholds(discovery) -> dict[tuple[str, str], float]:
    return {(c.parameter, c.operator): c.threshold for c in discovery.rule}


def test_recovers_a_known_two_condition_rule():
    X = uniform_table(seed=1)
    truth = ((X.a > 0.7) & (X.b < 0.3)).to_numpy()
    found = discover(X, move_labels(truth, 0.05, seed=2))
    rule = thresholds(found)
    assert set(rule) == {("a", ">"), ("b", "<=")}, found.rule
    assert rule["a", ">"] == pytest.approx(0.7, abs=0.05)
    assert rule["b", "<="] == pytest.approx(0.3, abs=0.05)
    assert found.coverage > 0.8 and found.density > 0.8
    assert found.support == pytest.approx(found.inside(X).mean())
    assert found.explained
    assert found.sentence("the national team is short", event_again="the team is short") == (
        "The national team is short in 9% of plausible futures, mostly when a is above 0.7 and "
        "b is below 0.3 (the rule covers 95% of those futures; within it the team is short in "
        "95% of them)."
    )


def test_symmetric_label_noise_still_names_the_rule_with_honest_coverage():
    X = uniform_table(seed=3)
    truth = ((X.a > 0.7) & (X.b < 0.3)).to_numpy()
    flipped = truth ^ (np.random.default_rng(4).random(ROWS) < 0.05)
    found = discover(X, flipped)
    rule = thresholds(found)
    assert set(rule) == {("a", ">"), ("b", "<=")}, found.rule
    assert rule["a", ">"] == pytest.approx(0.7, abs=0.05)
    assert rule["b", "<="] == pytest.approx(0.3, abs=0.05)
    # the false events outside the box cannot be captured: coverage says so
    assert 0.5 < found.coverage < 0.8 and found.density > 0.9


def test_planner_sentence_uses_labels_units_and_rounded_thresholds():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(
        {
            SUPPORT: rng.uniform(40, 120, ROWS),
            PRODUCTIVE: rng.uniform(10, 30, ROWS),
            "national.vacancy_rate": rng.uniform(0.0, 0.2, ROWS),
        }
    )
    truth = ((X[SUPPORT] > 82.3) & (X[PRODUCTIVE] < 19.96)).to_numpy()
    found = discover(
        X,
        move_labels(truth, 0.1, seed=6),
        labels={
            SUPPORT: "improvement support hours per trust",
            PRODUCTIVE: "productive hours per WTE",
        },
        units={SUPPORT: "hours a week"},
    )
    assert thresholds(found) == {(SUPPORT, ">"): 82.0, (PRODUCTIVE, "<="): 20.0}
    text = found.sentence("the national team is short", event_again="the team is short")
    assert text == (
        "The national team is short in 23% of plausible futures, mostly when improvement "
        "support hours per trust are above 82 hours a week and productive hours per WTE are "
        "below 20 (the rule covers 90% of those futures; within it the team is short in 89% of "
        "them)."
    )


def test_one_parameter_threshold():
    rng = np.random.default_rng(7)
    X = pd.DataFrame({SUPPORT: rng.uniform(0, 100, ROWS)})
    found = discover(X, X[SUPPORT].to_numpy() > 42, units={SUPPORT: "hours a week"})
    assert len(found.rule) == 1
    (condition,) = found.rule
    assert (condition.parameter, condition.operator) == (SUPPORT, ">")
    assert condition.threshold == pytest.approx(42, abs=1)
    assert found.coverage > 0.98 and found.density > 0.98
    assert found.sentence("the national team is short") == (
        "The national team is short in 58% of plausible futures, mostly when improvement "
        "support hours per week are above 42 hours a week (the rule covers 100% of those "
        "futures; within it the national team is short in 100% of them)."
    )


def test_two_conditions_on_one_parameter_read_as_a_range_and_max_conditions_is_kept():
    X = uniform_table(seed=8)
    inside = ((X.a > 0.3) & (X.a <= 0.6)).to_numpy()
    found = discover(X, inside)
    assert thresholds(found) == {("a", ">"): 0.3, ("a", "<="): 0.6}
    assert "mostly when a is between 0.3 and 0.6 (" in found.sentence()
    assert len(discover(X, inside, max_conditions=1).rule) == 1


@pytest.mark.parametrize("always", [False, True])
def test_an_outcome_that_never_or_always_happens_has_no_rule(always):
    X = uniform_table(seed=9)
    found = discover(X, np.full(ROWS, always))
    assert found.rule == () and not found.explained
    assert found.probability == float(always)
    expected = (
        "The national team is short in all 2,000 plausible futures, whatever the assumptions."
        if always
        else "The national team is short in none of the 2,000 plausible futures, so there is "
        "nothing to explain."
    )
    assert found.sentence("the national team is short") == expected


def test_an_outcome_unrelated_to_the_parameters_is_not_explained():
    X = uniform_table(seed=10)
    noise = np.random.default_rng(11).random(ROWS) < 0.3
    found = discover(X, noise)
    assert not found.explained
    assert found.density_gain < 1.6  # a weak rule: the event barely concentrates anywhere
    assert found.score < 0.1
    text = found.sentence("the national team is short", event_again="the team is short")
    assert text.startswith(
        "The national team is short in 31% of plausible futures, and this is not explained by "
        "any single assumption: the clearest pattern, when "
    ), text
    assert "mostly when" not in text


def test_same_input_gives_the_same_rule_whatever_the_row_order():
    X = uniform_table(seed=12)
    y = move_labels(((X.c > 0.5) & (X.e <= 0.4)).to_numpy(), 0.05, seed=13)
    first, second = discover(X, y), discover(X, y)
    assert first == second and first.sentence() == second.sentence()
    order = np.random.default_rng(14).permutation(ROWS)
    shuffled = discover(X.iloc[order].reset_index(drop=True), y[order])
    assert shuffled.rule == first.rule


def test_missing_rows_are_dropped_and_counted_and_fixed_parameters_set_aside():
    X = uniform_table(seed=15).assign(f=1.0, g=True)
    X.loc[[3, 5, 9], "c"] = np.nan
    y = ((X.a > 0.7) & (X.b < 0.3)).to_numpy().astype(float)
    y[[3, 20]] = np.nan  # row 3 also lacks c: four rows go
    found = discover(X, y)
    assert (found.rows, found.dropped_rows) == (ROWS - 4, 4)
    assert found.constant == ("f", "g") and found.varied == tuple("abcde")
    assert set(thresholds(found)) == {("a", ">"), ("b", "<=")}
    assert not found.inside(X.iloc[[5]]).any()  # a row missing a value it needs is outside


def test_only_fixed_parameters_explain_nothing():
    X = pd.DataFrame({SUPPORT: np.full(10, 80.0)})
    found = discover(X, np.arange(10) % 2 == 0)
    assert found.rule == () and found.varied == () and found.constant == (SUPPORT,)
    assert found.sentence() == (
        "The outcome happens in 50% of plausible futures; every assumption had the same value "
        "in all of them, so none explains it."
    )


def test_names_come_from_the_dotted_path_when_no_label_is_given():
    rng = np.random.default_rng(16)
    X = pd.DataFrame(
        {
            "programme.phases.improvement.support_hours_per_week": rng.random(400),
            "programme.phases.diagnostic.support_hours_per_week": rng.random(400),
        }
    )
    found = discover(X, X.iloc[:, 0].to_numpy() > 0.5)
    assert [c.label for c in found.rule] == ["improvement support hours per week"]
    assert "improvement support hours per week are above 0.5 (" in found.sentence()


def test_readable_words():
    assert _round_threshold(82.37, 80) == 82
    assert _round_threshold(0.7012, 1) == 0.7
    assert _round_threshold(1234.0, 500) == 1230
    assert _round_threshold(1234.0, 50_000) == 1200  # never fewer than 2 significant figures
    assert _round_threshold(0.0123456, 0.0001) == 0.0123  # never more than 3
    assert _number(1230.0) == "1,230" and _number(0.70) == "0.7" and _number(-0.0) == "0"
    assert str(Condition("a", "<=", 0.3)) == "a <= 0.3"


@pytest.mark.parametrize(
    ("parameters", "outcome", "argument"),
    [
        (np.zeros((4, 2)), np.zeros(4, dtype=bool), "parameters"),
        (pd.DataFrame({"a": [1.0, 2.0]}), np.array([True]), "outcome"),
        (pd.DataFrame({"a": [1.0, 2.0]}), np.array([0.0, 2.0]), "outcome"),
        (pd.DataFrame({"a": ["x", "y"]}), np.array([True, False]), "parameters"),
        (pd.DataFrame({"a": [np.nan, 1.0]}), np.array([0.0, np.nan]), "parameters"),
    ],
)
def test_unusable_input_is_refused(parameters, outcome, argument):
    with pytest.raises(ArgumentError) as caught:
        discover(parameters, outcome)
    assert caught.value.argument == argument


def test_settings_out_of_range_are_refused():
    X, y = uniform_table(seed=17), np.zeros(ROWS, dtype=bool)
    with pytest.raises(ArgumentError, match="max_conditions"):
        discover(X, y, max_conditions=0)
    with pytest.raises(ArgumentError, match="min_share"):
        discover(X, y, min_share=0.6)


def test_discovery_imports_no_machine_learning_library():
    code = ("import sys, numpy as np, pandas as pd, sim.analysis.discovery as d; "
            "d.discover(pd.DataFrame({'a': np.arange(40.0)}), np.arange(40) > 30); "
            "assert 'sklearn' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("seed", range(6))
def test_the_tree_splits_as_scikit_learn_grows_them(seed):
    """The CART grown here proposes the splits scikit-learn's tree finds (same criterion,
    leaf size and class weights) on a mixed table: a threshold rule, noise, ties."""
    tree_module = pytest.importorskip("sklearn.tree")
    from sim.analysis.discovery import _best_split

    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.random(600), rng.integers(0, 5, 600), rng.normal(size=600)])
    y = ((X[:, 0] > 0.6) & (X[:, 2] < 0.3)) ^ (rng.random(600) < 0.1)
    min_leaf = 30
    weight = (len(y) / (2 * (~y).sum()), len(y) / (2 * y.sum()))
    fitted = tree_module.DecisionTreeClassifier(
        max_depth=2, min_samples_leaf=min_leaf, class_weight="balanced", random_state=0
    ).fit(X, y).tree_
    root = _best_split(X, y, weight, min_leaf)
    assert root[0] == fitted.feature[0]
    assert root[1] == pytest.approx(fitted.threshold[0], rel=1e-6)  # theirs are float32
    below = X[:, root[0]] <= root[1]
    for rows, child in ((below, fitted.children_left[0]), (~below, fitted.children_right[0])):
        split = _best_split(X[rows], y[rows], weight, min_leaf)
        if fitted.children_left[child] == -1:
            assert split is None or fitted.impurity[child] == 0
        else:
            assert split[0] == fitted.feature[child]
            assert split[1] == pytest.approx(fitted.threshold[child], rel=1e-6)


def test_nullable_columns_and_outcome_are_read_with_their_missing_values():
    rng = np.random.default_rng(18)
    a = rng.random(500)
    X = pd.DataFrame(
        {
            "a": pd.array(np.where(a < 0.01, None, a), dtype="Float64"),
            "flag": pd.array([True, None] * 250, dtype="boolean"),
        }
    )
    y = pd.Series(a > 0.6, dtype="boolean")
    y[7] = pd.NA
    found = discover(X, y)
    assert found.rows + found.dropped_rows == 500 and found.dropped_rows >= 250
    assert [(c.parameter, c.operator, c.threshold) for c in found.rule] == [("a", ">", 0.6)]
