"""Experiments: many replications of one or more scenarios, reduced to a tidy table.

The unit of work is a pure function of (compiled scenario, seed, replication), so the
same replication gives the same rows wherever it runs. Replication ``r`` of every scenario
uses the same random streams (common random numbers), which is what makes paired
comparisons between scenarios tight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from sim import manifest as mf
from sim.model.replication import compile_scenario, run_replication
from sim.reduce import build_layout, reduce_replication
from sim.results import Results, RowKeys
from sim.scenario.loader import scenario_hash
from sim.scenario.schema import Scenario

log = logging.getLogger(__name__)

DEFAULT_SEED = 2025
DEFAULT_REPLICATIONS = 200


def run_experiment(
    scenarios: Sequence[Scenario],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = DEFAULT_SEED,
    command: str | None = None,
) -> Results:
    """Run ``replications`` replications of each scenario and collect tidy results.

    Parameters
    ----------
    scenarios
        Validated scenarios with distinct names.
    replications
        Number of replications per scenario (at least 1).
    seed
        Master seed; replication ``r`` uses streams keyed by ``(seed, r, purpose)``.
    command
        The command line that started the run, recorded in the manifest.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must be distinct, got {names}")

    started = mf.now_utc()
    clock = time.perf_counter()
    keys, values = {}, {}
    for scenario in scenarios:
        inputs = compile_scenario(scenario)
        layout = build_layout(inputs)
        log.info("running %s: %d replications", scenario.name, replications)
        matrix = np.empty((replications, len(layout)))
        for rep in range(replications):
            matrix[rep] = reduce_replication(run_replication(inputs, seed, rep), layout)
        keys[scenario.name] = RowKeys(layout.frequency, layout.period, layout.metric, layout.group)
        values[scenario.name] = matrix
    elapsed = time.perf_counter() - clock

    manifest = {
        "package_version": mf.package_version(),
        "git": mf.git_state(),
        "seed": seed,
        "replications": replications,
        "command": command,
        "scenarios": {s.name: {"sha256": scenario_hash(s)} for s in scenarios},
        "libraries": mf.library_versions(),
        "started_utc": started,
        "run_seconds": round(elapsed, 3),
        "machine": mf.machine(),
    }
    return Results(
        scenarios={s.name: s for s in scenarios}, keys=keys, values=values, manifest=manifest
    )
