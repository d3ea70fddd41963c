"""Slow checks, skipped by default: ``python -m pytest -m slow``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim.analysis.calibration import calibrate, load_spec
from sim.analysis.verification import erlang_c, queue_scenario
from sim.calendar import WEEKS_PER_YEAR
from sim.model import compile_scenario, run_replication
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("servers", "utilisation"), [(3, 0.6), (5, 0.75), (10, 0.85)])
def test_erlang_c_to_high_precision(baseline, servers, utilisation):
    """600 replications: the mean wait within 3 standard errors of Erlang C (about 4% here)."""
    mean_stay = 10.0
    rate = utilisation * servers / mean_stay
    scenario = queue_scenario(baseline, servers, rate * WEEKS_PER_YEAR,
                              {"distribution": "exponential", "mean_weeks": mean_stay})  # fmt: skip
    inputs = compile_scenario(scenario)
    waits = []
    for rep in range(600):
        spells = run_replication(inputs, seed=11, replication=rep).spells
        window = (spells["referral"] >= 3 * WEEKS_PER_YEAR) & (
            spells["referral"] < 18 * WEEKS_PER_YEAR
        )
        waits.append(np.mean(spells["admission"][window] - spells["referral"][window]))
    expected = erlang_c(servers, rate * mean_stay) / (servers / mean_stay - rate)
    se = np.std(waits, ddof=1) / math.sqrt(len(waits))
    assert abs(np.mean(waits) - expected) < 3 * se, (np.mean(waits), se, expected)


def test_calibration_reproduces_the_recorded_fit(baseline):
    """Re-running the committed calibration gives the recorded fit and meets every target
    the recorded fit met.

    The fit starts from the spec's values with common random numbers, so it is
    deterministic: a different answer means the model changed since the shipped fit was
    made, and it should be remade on purpose (``python -m sim calibrate --replace-shipped``).
    """
    spec = load_spec(SCENARIOS / "calibration" / "targets.yaml")
    recorded = json.loads((SCENARIOS / "calibration" / "fit.json").read_text())
    result = calibrate(baseline, spec)
    for old, new in zip(recorded["stages"], result.stages, strict=True):
        assert new.start == old["start"], new.name
        # a relative 1e-6 allows for floating-point differences between machines
        assert new.parameters == pytest.approx(old["parameters"], rel=1e-6), new.name
        for was, now in zip(old["targets"], new.targets, strict=True):
            if was["within_tolerance"]:
                assert abs(now["simulated"] - now["target"]) <= 1.5 * now["tolerance"], now
