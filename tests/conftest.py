"""Shared fixtures: the project's scenarios, loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model import compile_scenario
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def baseline():
    return load_scenario(SCENARIOS / "baseline.yaml")


@pytest.fixture(scope="session")
def baseline_inputs(baseline):
    return compile_scenario(baseline)


POPULATION_ONLY = {
    "programme.referrals": {"mode": "poisson", "rate_per_year": 0.0},
    "programme.initial": {"in_programme": [], "waiting": []},
}
"""What-if changes that switch the programme off: no referrals and nobody in it."""
