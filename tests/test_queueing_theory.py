"""Theory tier: the programme against queueing results, conservation and monotonicity.

The queueing comparisons use the same simulations and checks as ``python -m sim theory``
(:mod:`sim.analysis.verification`): Erlang C for M/M/c (here also with 10 places), and the Poisson
caseload of the uncapped programme for exponential and lognormal stays. Tolerances are 3.5
standard errors across replications; seeds are fixed, so results are reproducible. The
conservation test uses the same bookkeeping checks (:func:`conservation_violations`); this file
adds what ``sim theory`` does not run: Little's law on the full model and monotonicity.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.verification import (
    CONSERVATION_LABELS,
    check_caseload_mean,
    check_mean_wait,
    check_poisson_dispersion,
    check_wait_probability,
    conservation_violations,
    simulate_no_cap,
    simulate_queue,
)
from sim.calendar import WEEKS_PER_YEAR
from sim.experiment.settings import RunSettings
from sim.model import compile_scenario, run_replication
from sim.scenario import with_changes


@pytest.mark.parametrize(("servers", "utilisation"), [(5, 0.75), (10, 0.85)])
def test_waiting_matches_erlang_c(baseline, servers, utilisation):
    sample = simulate_queue(
        baseline, RunSettings(120, seed=7), servers=servers, utilisation=utilisation
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
    sample = simulate_no_cap(baseline, stay, stay["distribution"], RunSettings(80, seed=3))
    for check in (check_caseload_mean(sample), check_poisson_dispersion(sample)):
        assert check.passed, check.detail


def test_littles_law_holds_for_the_full_model(baseline):
    # spells of about a year and a half (the old calibration's), so that stays admitted in
    # the window all but always end before the horizon: the fitted spells (median about five
    # years, long tail) would leave a fifth still open and bias W down by the censoring
    scenario = with_changes(baseline, {
        "horizon_years": 30,
        "programme.phases.improvement.duration.median_weeks": 57.0,
        "programme.phases.improvement.duration.sigma": 0.7,
    })  # fmt: skip
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
    # the same bookkeeping checks as `python -m sim theory`, replication by replication
    cap = baseline_inputs.programme.cap
    assert cap == 15  # the baseline's cap: the over-cap count below is a real check
    for rep in range(10):
        result = run_replication(baseline_inputs, seed=13, replication=rep)
        violations = conservation_violations(result, cap)
        assert violations == dict.fromkeys(CONSERVATION_LABELS, 0), (rep, violations)


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
