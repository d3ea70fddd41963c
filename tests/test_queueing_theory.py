"""Theory tier: the programme against queueing results, conservation and monotonicity.

With exogenous Poisson referrals, exponential stays, no team limit and c places, the
programme is an M/M/c queue: the probability of waiting and the mean wait are Erlang C's.
With no cap it is M/G/infinity: the caseload is Poisson with mean (referral rate x mean
stay), whatever the stay distribution. Tolerances are 3.5 standard errors of the mean
across replications (each replication gives one estimate); seeds are fixed, so results are
reproducible and a pass is not luck of the draw on this run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.calendar import WEEKS_PER_YEAR
from sim.model import compile_scenario, run_replication
from sim.scenario import with_changes
from sim.theory import erlang_c, queue_scenario

Z = 3.5


def mean_and_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


@pytest.mark.parametrize(("servers", "utilisation"), [(5, 0.75), (10, 0.85)])
def test_waiting_matches_erlang_c(baseline, servers, utilisation):
    mean_stay = 10.0  # weeks: short, so the queue forgets its empty start within the warm-up
    rate_per_week = utilisation * servers / mean_stay
    scenario = queue_scenario(
        baseline,
        servers,
        rate_per_week * WEEKS_PER_YEAR,
        {"distribution": "exponential", "mean_weeks": mean_stay},
    )
    inputs = compile_scenario(scenario)
    warm_up, end = 3 * WEEKS_PER_YEAR, 18 * WEEKS_PER_YEAR
    p_wait, mean_wait = [], []
    for rep in range(120):
        spells = run_replication(inputs, seed=7, replication=rep).spells
        window = (spells["referral"] >= warm_up) & (spells["referral"] < end)
        waits = spells["admission"][window] - spells["referral"][window]
        assert not np.isnan(waits).any()  # everyone referred in the window was admitted
        p_wait.append(np.mean(waits > 1e-9))
        mean_wait.append(waits.mean())

    offered = rate_per_week * mean_stay
    theory_p = erlang_c(servers, offered)
    theory_wait = theory_p / (servers / mean_stay - rate_per_week)
    sim_p, se_p = mean_and_se(p_wait)
    sim_wait, se_wait = mean_and_se(mean_wait)
    assert abs(sim_p - theory_p) < Z * se_p, (sim_p, se_p, theory_p)
    assert abs(sim_wait - theory_wait) < Z * se_wait, (sim_wait, se_wait, theory_wait)


@pytest.mark.parametrize(
    "stay",
    [
        {"distribution": "exponential", "mean_weeks": 30.0},
        {"distribution": "lognormal", "median_weeks": 25.0, "sigma": 0.7},
    ],
    ids=["exponential", "lognormal"],
)
def test_no_cap_caseload_is_poisson_with_mean_rate_times_stay(baseline, stay):
    rate_per_week = 0.4
    scenario = queue_scenario(baseline, None, rate_per_week * WEEKS_PER_YEAR, stay, years=12)
    inputs = compile_scenario(scenario)
    mean_stay = inputs.programme.durations[1].mean
    expected = rate_per_week * mean_stay
    means, observations = [], []
    for rep in range(80):
        caseload = run_replication(inputs, seed=3, replication=rep).weekly["caseload"]
        in_programme = caseload[int(3 * WEEKS_PER_YEAR) :, :3].sum(axis=1)
        means.append(in_programme.mean())
        observations.append(in_programme[::26])  # half a year apart: nearly independent
    sim_mean, se = mean_and_se(means)
    assert abs(sim_mean - expected) < Z * se, (sim_mean, se, expected)
    pooled = np.concatenate(observations)
    dispersion = pooled.var() / pooled.mean()
    assert dispersion == pytest.approx(1.0, abs=0.1)  # Poisson: variance equals mean


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
