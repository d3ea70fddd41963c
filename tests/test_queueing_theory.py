"""Theory tier: the programme against queueing results, conservation and monotonicity.

The queueing comparisons use the same simulations and checks as ``python -m sim theory``
(:mod:`sim.analysis.verification`): Erlang C for M/M/c (here also with 10 places), and the Poisson
caseload of the uncapped programme for exponential and lognormal stays. Tolerances are 3.5
standard errors across replications; seeds are fixed, so results are reproducible.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.verification import (
    check_caseload_mean,
    check_mean_wait,
    check_poisson_dispersion,
    check_wait_probability,
    simulate_no_cap,
    simulate_queue,
)
from sim.calendar import WEEKS_PER_YEAR
from sim.model import compile_scenario, run_replication
from sim.scenario import with_changes


@pytest.mark.parametrize(("servers", "utilisation"), [(5, 0.75), (10, 0.85)])
def test_waiting_matches_erlang_c(baseline, servers, utilisation):
    sample = simulate_queue(
        baseline, replications=120, seed=7, servers=servers, utilisation=utilisation
    )
    for check in (check_wait_probability(sample), check_mean_wait(sample)):
        assert check.passed, check.detail


@pytest.mark.parametrize(
    "stay",
    [
        {"distribution": "exponential", "mean_weeks": 30.0},
        {"distribution": "lognormal", "median_weeks": 25.0, "sigma": 0.7},
    ],
    ids=["exponential", "lognormal"],
)
def test_no_cap_caseload_is_poisson_with_mean_rate_times_stay(baseline, stay):
    sample = simulate_no_cap(baseline, stay, stay["distribution"], replications=80, seed=3)
    for check in (check_caseload_mean(sample), check_poisson_dispersion(sample)):
        assert check.passed, check.detail


def test_littles_law_holds_for_the_full_model(baseline):
    scenario = with_changes(baseline, {"horizon_years": 30})
    inputs = compile_scenario(scenario)
    start, end = 2 * WEEKS_PER_YEAR, 20 * WEEKS_PER_YEAR
    area = admissions = 0.0
    stays = []
    for rep in range(40):
        result = run_replication(inputs, seed=5, replication=rep)
        caseload = result.weekly["caseload"][:, :3].sum(axis=1)
        area += caseload[int(start) : int(end)].sum()
        spells = result.spells
        admitted = (spells["admission"] >= start) & (spells["admission"] < end)
        admissions += admitted.sum()
        # stays still open at the horizon (rare: ten years after the window) are censored there
        exits = np.where(np.isnan(spells["exit"]), inputs.population.horizon_weeks, spells["exit"])
        stays.extend(exits[admitted] - spells["admission"][admitted])
    weeks = 40 * (int(end) - int(start))
    occupancy = area / weeks  # L
    arrival_rate = admissions / weeks  # lambda
    assert occupancy == pytest.approx(arrival_rate * np.mean(stays), rel=0.03)  # L = lambda W


def test_no_trust_is_lost_or_counted_twice(baseline_inputs):
    for rep in range(10):
        result = run_replication(baseline_inputs, seed=13, replication=rep)
        weekly, spells = result.weekly, result.spells
        in_programme = weekly["caseload"][:, :3].sum(axis=1)
        # stocks follow the flows week by week
        np.testing.assert_array_equal(
            np.diff(weekly["waiting"]), weekly["referrals"][1:] - weekly["admissions"][1:]
        )
        np.testing.assert_array_equal(
            np.diff(in_programme), weekly["admissions"][1:] - weekly["exits"][1:]
        )
        assert in_programme.max() <= 15
        # every referral is waiting, in the programme or has exited, at the end
        waiting = np.isnan(spells["admission"])
        inside = ~waiting & np.isnan(spells["exit"])
        assert waiting.sum() == weekly["waiting"][-1]
        assert inside.sum() == in_programme[-1]
        # times run forward within a spell, and a trust's spells do not overlap
        admitted = ~waiting
        assert np.all(spells["admission"][admitted] >= spells["referral"][admitted])
        left = ~np.isnan(spells["exit"])
        assert np.all(spells["exit"][left] >= spells["admission"][left])
        for trust in np.unique(spells["trust"]):
            own = np.flatnonzero(spells["trust"] == trust)
            ends = spells["support_end"][own[:-1]]
            assert not np.isnan(ends).any()
            assert np.all(spells["referral"][own[1:]] >= ends)
        # the population's segment 5 is exactly the trusts in the programme
        for row in range(1, len(result.assessment_weeks)):
            when = result.assessment_weeks[row]
            active = (spells["admission"] < when) & ~(spells["exit"] < when)
            assert set(spells["trust"][active]) == set(
                np.flatnonzero(result.segment_history[row] == 5)
            )


def _mean_waiting(scenario, reps=60) -> float:
    inputs = compile_scenario(scenario)
    return float(
        np.mean([run_replication(inputs, 21, rep).weekly["waiting"].mean() for rep in range(reps)])
    )


def test_more_places_never_lengthen_the_wait(baseline):
    waits = [_mean_waiting(with_changes(baseline, {"programme.cap": cap})) for cap in (10, 15, 20)]
    assert waits[0] >= waits[1] >= waits[2]
    assert waits[0] > waits[2]


def test_more_national_team_never_lengthens_the_wait(baseline):
    def team(wte):
        steps = [{"effective_from": "2025-04-01", "wte": wte}]
        return with_changes(baseline, {"team.national.wte_schedule": steps})

    waits = [_mean_waiting(team(wte)) for wte in (25, 37, 51)]
    assert waits[0] >= waits[1] >= waits[2]
    assert waits[0] > waits[2]
