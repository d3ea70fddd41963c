"""Simulation of NHS trusts across NHS Oversight Framework segments and the Provider
Improvement Programme.

The public API, for notebooks and scripts::

    import sim
    baseline = sim.load_scenario("scenarios/baseline.yaml")
    results = sim.run_experiment([baseline], replications=200, seed=2025, jobs="auto")
    results.summary()

Layers (each depends only on those above it): :mod:`sim.scenario` (validated inputs),
:mod:`sim.model` (one replication, no I/O), :mod:`sim.experiment.runner` (many replications),
:mod:`sim.results` and :mod:`sim.analysis.compare` (tables and statistics), :mod:`sim.outputs.charts` and
:mod:`sim.outputs.report` (figures and the chart pack), :mod:`sim.apps.cli` (command line).

Names are imported on first use, so ``import sim.model`` stays light (no pandas, no
matplotlib) in worker processes.
"""

from __future__ import annotations

import importlib
from importlib import metadata

try:
    __version__ = metadata.version("nhs-pip-sim")
    """The installed package's version (``python -m sim --version``)."""
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown (not installed)"

_EXPORTS = {
    "OutputError": "sim.errors",
    "ScenarioError": "sim.errors",
    "Scenario": "sim.scenario",
    "load_scenario": "sim.scenario",
    "scenario_json_schema": "sim.scenario",
    "with_changes": "sim.scenario",
    "compile_scenario": "sim.model",
    "run_replication": "sim.model",
    "run_experiment": "sim.experiment.runner",
    "Results": "sim.results",
    "load_results": "sim.results",
    "paired_differences": "sim.analysis.compare",
    "replication_adequacy": "sim.analysis.compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
