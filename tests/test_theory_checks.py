"""The theory checks users run outside the test suite (sim.analysis.verification): they pass on the model,
their table says so, and a wrong expectation is reported as a failure."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from sim.analysis.verification import (
    CheckResult,
    check_caseload_mean,
    check_mean_wait,
    check_wait_probability,
    dispersion_index,
    erlang_c,
    erlang_c_mean_wait,
    format_checks,
    mean_check,
    run_theory_checks,
    simulate_no_cap,
    simulate_queue,
)
from sim.experiment.settings import RunSettings

REPLICATIONS = 40
NAMES = [
    "erlang_c_wait_probability",
    "erlang_c_mean_wait",
    "no_cap_mean_caseload_exponential",
    "no_cap_mean_caseload_lognormal",
    "no_cap_poisson_dispersion_lognormal",
    "littles_law_waiting_list",
    "littles_law_in_programme",
    "conservation",
]


@pytest.fixture(scope="module")
def checks(baseline):
    return run_theory_checks(baseline, replications=REPLICATIONS, seed=7)


@pytest.fixture(scope="module")
def queue(baseline):
    return simulate_queue(baseline, RunSettings(20, seed=11))


def test_every_check_passes_on_the_model(checks):
    assert [c.name for c in checks] == NAMES
    failed = [c for c in checks if not c.passed]
    assert not failed, "\n".join(f"{c.name}: {c.detail}" for c in failed)
    for check in checks:
        assert math.isfinite(check.expected) and math.isfinite(check.simulated)
        assert check.passed == (abs(check.simulated - check.expected) <= check.tolerance)
        assert check.description and check.detail


def test_statistical_tolerances_come_from_the_replications(checks):
    by_name = {c.name: c for c in checks}
    for name in NAMES[:-1]:
        assert by_name[name].tolerance > 0
        assert "3.5 standard errors" in by_name[name].detail
    conservation = by_name["conservation"]
    assert conservation.expected == conservation.simulated == conservation.tolerance == 0.0


def test_run_is_reproducible(baseline):
    first = run_theory_checks(baseline, replications=3, seed=1)
    again = run_theory_checks(baseline, replications=3, seed=1)
    assert first == again


def test_table_lists_every_check_and_the_count(checks):
    text = format_checks(checks)
    lines = text.splitlines()
    for name in NAMES:
        (row,) = [line for line in lines if line.startswith(name + " ")]
        assert row.endswith("PASS")
    assert "FAIL" not in text
    assert lines[-1] == f"{len(NAMES)} passed, 0 failed"
    assert re.fullmatch(r"\d+ passed, \d+ failed", lines[-1])


def test_table_details_add_description_and_explanation(checks):
    text = format_checks(checks, details=True)
    for check in checks:
        assert check.description in text
        assert check.detail in text
    assert text.splitlines()[-1] == f"{len(NAMES)} passed, 0 failed"


def test_wrong_offered_load_fails_the_erlang_c_checks(queue):
    assert check_wait_probability(queue).passed
    assert check_mean_wait(queue).passed
    wrong = [
        check_wait_probability(queue, offered_load=4.5),
        check_mean_wait(queue, offered_load=4.5),
    ]
    assert not any(c.passed for c in wrong)
    assert wrong[0].expected == pytest.approx(erlang_c(5, 4.5))
    text = format_checks(wrong)
    assert text.count("FAIL") == 2
    assert text.splitlines()[-1] == "0 passed, 2 failed"


def test_wrong_mean_fails_the_no_cap_check(baseline):
    sample = simulate_no_cap(
        baseline, {"distribution": "exponential", "mean_weeks": 30.0}, "exponential", RunSettings(10, seed=3)
    )
    assert check_caseload_mean(sample).passed
    wrong = check_caseload_mean(sample, expected=sample.expected_mean * 1.2)
    assert not wrong.passed
    assert "outside the tolerance" in wrong.detail


def test_constructed_results_are_counted_and_marked():
    good = CheckResult("good_check", "a check", 1.0, 1.01, 0.05, True, "fine")
    bad = dataclasses.replace(good, name="bad_check", simulated=2.0, passed=False)
    lines = format_checks([good, bad, good]).splitlines()
    assert [line.split()[-1] for line in lines[2:-1]] == ["PASS", "FAIL", "PASS"]
    assert lines[-1] == "2 passed, 1 failed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        good.passed = False  # type: ignore[misc]


def test_mean_check_uses_standard_errors_of_the_replications():
    values = [1.0, 1.2, 0.8, 1.1, 0.9]
    se = np.std(values, ddof=1) / math.sqrt(len(values))
    close = mean_check("close", "d", 1.05, values, measured="m", theory="t")
    assert close.passed and close.tolerance == pytest.approx(3.5 * se)
    far = mean_check("far", "d", 2.0, values, measured="m", theory="t")
    assert not far.passed and "FAIL" in format_checks([far])


def test_erlang_c_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = utilisation
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # M/M/1 mean wait: rho / (mu - lambda) = 0.5 * 10 / 0.5
    assert erlang_c_mean_wait(1, 0.5, 10.0) == pytest.approx(10.0)
    with pytest.raises(ValueError):
        erlang_c(5, 5.0)


def test_dispersion_index_of_poisson_counts_is_one():
    rng = np.random.default_rng(0)
    counts = rng.poisson(12.0, size=(50, 200))
    index, se = dispersion_index(counts)
    assert abs(index - 1.0) < 3.5 * se
    assert 0 < se < 0.05
    overdispersed = rng.negative_binomial(6, 1 / 3, size=(50, 200))  # variance / mean = 3
    index, se = dispersion_index(overdispersed)
    assert abs(index - 1.0) > 3.5 * se
