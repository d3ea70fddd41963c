"""Shared fixtures (the project's scenarios, loaded once per test session) and the test tiers.

Tiers are markers, not folders: :data:`TIERS` gives each test file its tier, and
:func:`pytest_collection_modifyitems` marks every test with it, so ``python -m pytest -m
behaviour`` runs one tier. ``slow`` is separate and orthogonal: it marks long checks in
any tier, skipped by default (``-m 'not slow'`` in pyproject.toml). A new test file must be
added to :data:`TIERS` on purpose (``tests/test_tiers.py`` fails until it is).

This file must not hold test logic beyond fixtures, the tier table and command-line options.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model import compile_scenario
from sim.scenario import load_scenario, with_changes

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

TIER_NAMES = ("unit", "behaviour", "data", "end_to_end")
"""The tiers, fastest and most local first (registered as markers in pyproject.toml)."""

TIERS: dict[str, str] = {
    # unit: one module or mechanism against hand-checked cases and bad input
    "test_calendar_streams.py": "unit",
    "test_population.py": "unit",
    "test_programme.py": "unit",
    "test_periods.py": "unit",
    "test_waiting_list.py": "unit",
    "test_results.py": "unit",
    "test_results_safety.py": "unit",
    "test_results_streaming.py": "unit",
    "test_scenario_errors.py": "unit",
    "test_scenario_fuzz.py": "unit",
    "test_input_safety.py": "unit",
    "test_planner_search.py": "unit",
    "test_sensitivity_planner.py": "unit",
    "test_chart_words.py": "unit",
    "test_tiers.py": "unit",
    "test_house.py": "unit",
    "test_whatif.py": "unit",
    "test_rationing.py": "unit",
    "test_spells.py": "unit",
    "test_uncertainty.py": "behaviour",
    "test_workforce.py": "behaviour",
    "test_history_model.py": "unit",
    "test_regions_prices.py": "unit",
    "test_discovery.py": "unit",
    # behaviour: the model as a whole against theory, monotonicity, exact zero differences,
    # serial equals parallel, and the stored snapshot of its headline figures
    "test_queueing_theory.py": "behaviour",
    "test_theory_checks.py": "behaviour",
    "test_experiments.py": "behaviour",
    "test_dask_sweep.py": "behaviour",
    "test_no_difference.py": "behaviour",
    "test_variants.py": "behaviour",
    "test_snapshot.py": "behaviour",
    "test_fast_path.py": "behaviour",
    "test_regions_prices.py::test_regions_add_up_to_all_trusts_in_every_replication_and_period": (
        "behaviour"
    ),
    "test_backfill.py": "behaviour",
    "test_slow.py": "behaviour",
    # data: the model against published targets, calibration and validation
    "test_published_targets.py": "data",
    "test_calibration.py": "data",
    "test_ensemble.py": "data",
    "test_ensemble.py::test_misfit_is_the_point_fits_and_rejects_missing_statistics": "unit",
    "test_ensemble.py::test_weighted_quantile": "unit",
    "test_ensemble.py::test_files_hold_every_path_and_the_report": "unit",
    "test_ensemble.py::test_calibrate_ensemble_writes_to_out_and_replaces_shipped_only_when_asked": (
        "end_to_end"
    ),
    "test_ensemble.py::test_calibrate_ensemble_refuses_bad_arguments": "end_to_end",
    "test_ensemble.py::test_particles_need_the_ensemble_and_at_least_ten": "end_to_end",
    "test_ensemble.py::test_bad_spec_names_file_and_field": "end_to_end",
    "test_ensemble.py::test_without_pyabc_the_package_runs_and_the_command_says_what_to_install": (
        "end_to_end"
    ),
    "test_validation.py": "data",
    "test_backtest.py": "data",
    "test_slow.py::test_calibration_reproduces_the_recorded_fit": "data",
    # end_to_end: the command line, the chart pack (in a browser) and the notebooks
    "test_cli_errors.py": "end_to_end",
    "test_calibrate_output.py": "end_to_end",
    "test_report.py": "end_to_end",
    "test_report_workforce.py": "end_to_end",
    "test_report_print.py": "end_to_end",
    "test_notebooks.py": "end_to_end",
    "test_progress.py": "end_to_end",
    "test_packaging.py": "end_to_end",
    "test_docs_site.py": "end_to_end",
}
"""Tier of each test file (``file.py``), or of one test in it (``file.py::test_name``, which
wins). Files not listed are ``unit``; test_tiers.py insists every file is listed."""


def tier_of(file_name: str, test_name: str) -> str:
    """The tier of one test: its own entry, else its file's, else ``unit``."""
    return TIERS.get(f"{file_name}::{test_name}", TIERS.get(file_name, "unit"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        # originalname drops the parameter id: test_x[a] has the entry of test_x
        name = getattr(item, "originalname", None) or item.name
        item.add_marker(getattr(pytest.mark, tier_of(item.path.name, name)))


def pytest_addoption(parser):
    parser.addoption(
        "--update-snapshot",
        action="store_true",
        default=False,
        help="rewrite tests/snapshots/ from the current model instead of comparing with it",
    )


@pytest.fixture(scope="session")
def baseline():
    return load_scenario(SCENARIOS / "baseline.yaml")


@pytest.fixture(scope="session")
def baseline_inputs(baseline):
    return compile_scenario(baseline)


@pytest.fixture(scope="session")
def short(baseline):
    """The baseline over two years (still named ``baseline``): the test scenario of any test
    that needs whole runs but not the whole horizon. Scenarios are frozen, so sharing is safe."""
    return with_changes(baseline, {"horizon_years": 2})


@pytest.fixture(scope="session")
def two_scenarios(short):
    """Results of the short baseline and a variant with a cap of 20 whose description holds
    markup (6 replications, seed 3, assumptions fixed): the chart pack's tests'."""
    from sim import run_experiment
    from sim.experiment.settings import RunSettings

    hostile = with_changes(
        short,
        {
            "name": "cap_20",
            "title": "Programme cap of 20 trusts",
            "programme.cap": 20,
            "description": 'Bigger cap <script>alert("x")</script> & "quotes"',
        },
    )
    return run_experiment([short, hostile], settings=RunSettings(6, seed=3, uncertainty="noise"))


@pytest.fixture(scope="session")
def two_scenario_pack(two_scenarios, tmp_path_factory):
    """The chart pack of :func:`two_scenarios`, its charts drawn in full and, where a
    browser is found, printed (tests/test_report.py, tests/test_report_print.py)."""
    from sim.outputs.report import write_chart_pack

    return write_chart_pack(two_scenarios, tmp_path_factory.mktemp("pack") / "report")


POPULATION_ONLY = {
    "programme.referrals": {"mode": "poisson", "rate_per_year": 0.0},
    "programme.initial": {"in_programme": [], "waiting": []},
}
"""What-if changes that switch the programme off: no referrals and nobody in it."""
