"""Population model: segmentation rules, conservation, determinism, common random numbers."""

from __future__ import annotations

import numpy as np
import pytest

from sim.data import trust_register
from sim.model import compile_scenario, run_replication
from sim.model.inputs import scale_counts
from sim.model.segmentation import (
    apply_financial_override,
    quartile_segments,
    segment_of_rank,
    threshold_segments,
)
from sim.scenario import LEAGUE_TABLES, load_scenario, with_changes
from tests.conftest import POPULATION_ONLY, SCENARIOS

REGISTER = trust_register()
TABLE_SIZES = {"acute": 134, "non_acute": 61, "ambulance": 10}


def test_register_matches_published_table_sizes():
    assert REGISTER.n_trusts == 205
    for index, name in enumerate(LEAGUE_TABLES):
        assert REGISTER.table_size(index) == TABLE_SIZES[name]


@pytest.mark.parametrize("seed", range(5))
def test_quartile_rule_puts_a_quarter_of_each_table_in_each_segment(seed):
    score = np.random.default_rng(seed).uniform(1, 4, REGISTER.n_trusts)
    segment = np.zeros(REGISTER.n_trusts, dtype=np.int8)
    by_position = np.concatenate([segment_of_rank(REGISTER.table_size(i)) for i in range(3)])
    quartile_segments(score, 10.0 * REGISTER.table, by_position, segment)
    for table_slice in REGISTER.table_slices:
        n = table_slice.stop - table_slice.start
        counts = np.bincount(segment[table_slice], minlength=5)[1:]
        assert counts.sum() == n
        assert np.all(np.abs(counts - n / 4) <= 1), counts
        # better scores never get a worse segment than worse scores
        order = np.argsort(score[table_slice])
        assert np.all(np.diff(segment[table_slice][order]) >= 0)


def test_threshold_rule_and_override():
    score = np.array([1.5, 2.1, 2.2, 2.5, 3.0, 2.7])
    bounds = np.tile([2.1, 2.4, 2.7], (6, 1))
    segment = np.zeros(6, dtype=np.int8)
    threshold_segments(score, bounds, segment)
    assert segment.tolist() == [1, 1, 2, 3, 4, 3]  # upper bounds are inclusive
    deficit = np.array([True, False, True, False, True, False])
    overridden = np.empty_like(segment)
    apply_financial_override(segment, deficit, 3, out=overridden)
    assert overridden.tolist() == [3, 1, 3, 3, 4, 3]


def test_scale_counts_preserves_total_and_proportions():
    scaled = scale_counts([16, 7, 70, 36], 134)
    assert scaled.sum() == 134
    assert scaled.tolist() == [17, 7, 73, 37]
    assert scale_counts([14, 16, 17, 14], 61).tolist() == [14, 16, 17, 14]


def test_initial_state_reproduces_published_distribution(baseline_inputs):
    result = run_replication(baseline_inputs, seed=7, replication=0)
    start = result.segment_counts[0]
    # acute 16/7/70/36 of 129, scaled to 134; the starting caseload (8 acute, 2 non-acute)
    # is taken from segment 4 into segment 5
    assert start[0].tolist() == [17, 7, 73, 37 - 8, 8]
    assert start[1].tolist() == [14, 16, 17, 14 - 2, 2]
    assert start[2].tolist() == [3, 2, 2, 3, 0]
    deficit = result.deficit_history[0]
    seg = result.segment_history[0]
    acute = REGISTER.table == 0
    in_deficit = [int(np.sum(deficit & acute & (seg == s))) for s in range(1, 6)]
    assert in_deficit[:3] == [0, 0, 67]
    assert in_deficit[3] + in_deficit[4] == 37  # every published segment-4 trust is in deficit


def test_no_trust_is_lost_or_duplicated(baseline_inputs):
    result = run_replication(baseline_inputs, seed=1, replication=3)
    assert result.segment_history.shape[1] == 205
    assert np.all((result.segment_history >= 1) & (result.segment_history <= 5))
    for index, name in enumerate(LEAGUE_TABLES):
        assert np.all(result.segment_counts[:, index].sum(axis=1) == TABLE_SIZES[name])


@pytest.mark.parametrize("replication", range(4))
def test_override_never_leaves_a_trust_in_deficit_above_segment_3(baseline_inputs, replication):
    result = run_replication(baseline_inputs, seed=11, replication=replication)
    in_deficit_segments = result.segment_history[result.deficit_history]
    assert in_deficit_segments.size > 0
    assert in_deficit_segments.min() >= 3


def test_without_override_segments_are_quartiles_every_quarter(baseline):
    scenario = with_changes(baseline, {"segmentation.financial_override": False, **POPULATION_ONLY})
    result = run_replication(scenario, seed=3, replication=0)
    for index, name in enumerate(LEAGUE_TABLES):
        n = TABLE_SIZES[name]
        counts = result.segment_counts[1:, index, :4]  # after the first assessment
        assert np.all(np.abs(counts - n / 4) <= 1)


def test_same_seed_same_result_and_different_replications_differ(baseline_inputs):
    a = run_replication(baseline_inputs, seed=5, replication=2)
    b = run_replication(baseline_inputs, seed=5, replication=2)
    for name, array in a.arrays().items():
        np.testing.assert_array_equal(array, b.arrays()[name], err_msg=name)
    c = run_replication(baseline_inputs, seed=5, replication=3)
    assert not np.array_equal(a.score_history, c.score_history)
    d = run_replication(baseline_inputs, seed=6, replication=2)
    assert not np.array_equal(a.score_history, d.score_history)


def test_changing_deficit_assumptions_leaves_score_draws_unchanged(baseline):
    """Common random numbers: each purpose has its own stream."""
    variant = load_scenario(SCENARIOS / "higher_deficit.yaml")
    a = run_replication(baseline, seed=9, replication=1)
    b = run_replication(variant, seed=9, replication=1)
    np.testing.assert_array_equal(a.score_history, b.score_history)
    assert b.deficit_counts[1:].sum() > a.deficit_counts[1:].sum()


def test_fixed_threshold_rule_switches_on_its_date(baseline):
    rules = [
        {"rule": "quartiles", "effective_from": "2025-04-01"},
        {
            "rule": "fixed_thresholds",
            "effective_from": "2027-04-01",
            "thresholds": {t: [3.97, 3.98, 3.99] for t in LEAGUE_TABLES},
        },
    ]
    scenario = with_changes(
        baseline,
        {"segmentation.rules": rules, "segmentation.financial_override": False, **POPULATION_ONLY},
    )
    result = run_replication(scenario, seed=2, replication=0)
    labels = list(result.assessment_labels)
    switch = labels.index("2027/28 Q1")
    # thresholds so high that every trust is in segment 1 once they apply
    assert np.all(result.segment_history[switch:] == 1)
    assert np.any(result.segment_history[:switch] > 1)


def test_score_trend_moves_scores(baseline):
    improving = with_changes(
        baseline, {f"population.tables.{t}.score.trend_per_year": -0.1 for t in LEAGUE_TABLES}
    )
    a = run_replication(baseline, seed=4, replication=0)
    b = run_replication(improving, seed=4, replication=0)
    drop = a.score_history[-1].mean() - b.score_history[-1].mean()
    assert drop == pytest.approx(0.1 * baseline.horizon_years, abs=0.05)


def test_catastrophic_failure_count_matches_rate(baseline):
    scenario = with_changes(
        baseline,
        {f"population.tables.{t}.catastrophic_failure_rate_per_year": 0.1 for t in LEAGUE_TABLES},
    )
    inputs = compile_scenario(scenario)
    counts = [len(run_replication(inputs, 0, r).catastrophe_weeks) for r in range(200)]
    expected = 0.1 * 205 * inputs.population.horizon_weeks / (365.25 / 7)
    # Poisson: the mean of 200 counts has sd sqrt(expected / 200)
    assert np.mean(counts) == pytest.approx(expected, abs=4 * np.sqrt(expected / 200))
