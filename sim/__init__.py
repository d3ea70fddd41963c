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

from importlib import metadata

from sim.lazy import lazy_exports

try:
    __version__ = metadata.version("nhs-pip-sim")
    """The installed package's version (``python -m sim --version``)."""
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown (not installed)"

_EXPORTS = {  # module: the names this package exports from it
    "sim.errors": ("OutputError", "ScenarioError"),
    "sim.scenario": ("Scenario", "load_scenario", "scenario_json_schema", "with_changes"),
    "sim.model": ("compile_scenario", "run_replication", "run_replications"),
    "sim.experiment.runner": ("run_experiment",),
    "sim.results": ("Results", "load_results"),
    "sim.analysis.compare": ("paired_differences", "replication_adequacy"),
}

__all__, __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
