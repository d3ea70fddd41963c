"""Programme mechanics: scheduled referrals, the starting caseload, slippage, dose-response."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.experiment.layout import build_layout, reduce_replication
from sim.model import compile_scenario, run_replication
from sim.model.distributions import DurationDistribution
from sim.model.spells import SPELL_COLUMNS, Spell, spell_arrays, spell_event_times
from sim.scenario import with_changes


def test_scheduled_referrals_arrive_on_their_dates(baseline):
    schedule = [{"date": "2026-06-01", "trusts": 2}, {"date": "2027-01-15", "trusts": 3}]
    scenario = with_changes(
        baseline,
        {
            "programme.referrals": {"mode": "schedule", "referrals": schedule},
            "programme.initial": {"in_programme": [], "waiting": []},
        },
    )
    result = run_replication(scenario, seed=1, replication=0)
    referrals = result.spells["referral"]
    first, second = (61 / 7, 289 / 7)  # days from 1 April 2026, in weeks
    assert sorted(np.round(referrals, 6)) == sorted(np.round([first] * 2 + [second] * 3, 6))
    assert len(set(result.spells["trust"])) == 5  # five different trusts


def test_starting_caseload_is_in_place_with_time_already_spent(baseline):
    scenario = with_changes(
        baseline, {"programme.referrals": {"mode": "poisson", "rate_per_year": 0.0}}
    )
    inputs = compile_scenario(scenario)
    result = run_replication(inputs, seed=2, replication=0)
    spells = result.spells
    initial = spells["admission"] < 0
    assert initial.sum() == 10
    assert np.all(spells["admission"][initial] == -26)
    assert result.weekly["caseload"][0, :3].sum() == 10
    assert result.segment_counts[0, :, 4].tolist() == [8, 2, 0]
    # the trusts chosen are in segment 4 or have the worst scores of their table
    trusts = spells["trust"][initial]
    assert np.all(result.score_history[0, trusts] >= np.median(result.score_history[0]))


@pytest.mark.parametrize(
    ("spec", "frozen"),
    [
        (DurationDistribution("exponential", 52.0), stats.expon(scale=52.0)),
        (DurationDistribution("lognormal", 57.0, 0.7), stats.lognorm(0.7, scale=57.0)),
        (
            DurationDistribution("gamma", 1 / 0.3**2, 12.0 * 0.3**2),
            stats.gamma(1 / 0.3**2, scale=12.0 * 0.3**2),
        ),
    ],
    ids=["exponential", "lognormal", "gamma"],
)
def test_durations_match_scipy_including_time_already_spent(spec, frozen):
    u = np.random.default_rng(0).random(200_000)
    np.testing.assert_allclose(spec.ppf(u[:100]), frozen.ppf(u[:100]), rtol=1e-9)
    assert spec.quantile(0.3) == pytest.approx(float(frozen.ppf(0.3)), rel=1e-9)
    assert spec.mean == pytest.approx(frozen.mean(), rel=1e-9)
    for elapsed in (5.0, 40.0):
        remaining = spec.remaining_given_elapsed(u, elapsed)
        exact = frozen.expect(lambda x, e=elapsed: x - e, lb=elapsed, conditional=True)
        assert remaining.mean() == pytest.approx(exact, rel=0.01)
        assert remaining.min() >= 0


def test_slippage_is_exit_minus_target(baseline, baseline_inputs):
    layout = build_layout(baseline_inputs)
    result = run_replication(baseline_inputs, seed=8, replication=0)
    spells = result.spells
    target = baseline.programme.target_duration_weeks
    admitted = ~np.isnan(spells["admission"])
    assert admitted.any() and np.isnan(spells["target_exit"][~admitted]).all()
    assert np.allclose(spells["target_exit"][admitted] - spells["admission"][admitted], target)
    values = reduce_replication(result, layout)
    share_late = values[(layout.metric == "share_exits_late") & (layout.frequency == "year")]
    exited = ~np.isnan(spells["exit"]) & (spells["exit"] >= 0)
    late = (spells["exit"] > spells["target_exit"])[exited]
    yearly_exits = values[(layout.metric == "exits") & (layout.frequency == "year")]
    assert np.nansum(share_late * yearly_exits) == pytest.approx(late.sum())


def test_less_support_means_longer_improvement(baseline):
    """Dose-response: diluted support stretches spells; elasticity 0 removes the effect."""

    def mean_stay(wte, elasticity):
        scenario = with_changes(
            baseline,
            {
                "team.shortfall_policy": "dilute",
                "team.national.wte_schedule": [{"effective_from": "2025-04-01", "wte": wte}],
                "programme.dose_response.elasticity": elasticity,
            },
        )
        inputs = compile_scenario(scenario)
        stays = []
        for rep in range(30):
            spells = run_replication(inputs, seed=6, replication=rep).spells
            stays.extend(spells["exit"] - spells["admission"])
        return np.nanmean(stays)

    assert mean_stay(12, 1.0) > 1.1 * mean_stay(51, 1.0)
    assert mean_stay(12, 0.0) == pytest.approx(mean_stay(51, 0.0), rel=0.02)


def test_spells_as_arrays_and_event_times_by_their_definitions():
    """The one-pass builders equal the plain definitions: a column per field, and each
    kind of event time taken from the spells that reached it (NaN: not reached)."""
    waiting = Spell(4, 2.0, catastrophic=True, reentry=False, listed=True, route=4)
    placed = Spell(7, -30.0, catastrophic=False, reentry=True, listed=False, route=0)
    placed.admission, placed.target_exit, placed.exit = -20.0, 280.0, 5.5
    again = Spell(7, 40.0, catastrophic=False, reentry=True, listed=True, route=6)
    again.admission, again.left_list, again.merged = 51.0, False, True
    records = [waiting, placed, again]
    arrays = spell_arrays(records)
    assert list(arrays) == list(SPELL_COLUMNS)
    for name in SPELL_COLUMNS:
        expected = np.asarray([getattr(s, name) for s in records], dtype=arrays[name].dtype)
        np.testing.assert_array_equal(arrays[name], expected)
    assert arrays["route"].dtype == np.int8 and arrays["trust"].dtype == np.int32
    assert all(len(column) == 0 for column in spell_arrays([]).values())
    assert spell_event_times(records) == {
        "referrals": [2.0, 40.0],
        "admissions": [-20.0, 51.0],
        "exits": [5.5],
        "reentries": [-20.0, 51.0],
    }
