"""Simulation of NHS trusts across NHS Oversight Framework segments and the Provider
Improvement Programme.

The public API, for notebooks and scripts::

    import sim
    baseline = sim.load_scenario("scenarios/baseline.yaml")
    results = sim.run_experiment([baseline], replications=200, seed=2025)
    results.summary()

Layers (each depends only on those above it): :mod:`sim.scenario` (validated inputs),
:mod:`sim.model` (one replication, no I/O), :mod:`sim.runner` (many replications),
:mod:`sim.results` (tables, summaries, results folders), :mod:`sim.cli` (command line).
"""

from sim.errors import OutputError, ScenarioError
from sim.model import compile_scenario, run_replication
from sim.results import Results, load_results
from sim.runner import run_experiment
from sim.scenario import Scenario, load_scenario, scenario_json_schema, with_changes

__all__ = [
    "OutputError",
    "Results",
    "Scenario",
    "ScenarioError",
    "compile_scenario",
    "load_results",
    "load_scenario",
    "run_experiment",
    "run_replication",
    "scenario_json_schema",
    "with_changes",
]
