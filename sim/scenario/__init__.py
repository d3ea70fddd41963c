"""Scenarios: validated, immutable model inputs read from YAML files.

Use :func:`load_scenario` to read a file, :func:`with_changes` for what-if edits and
:func:`scenario_json_schema` for editor support.
"""

from sim.scenario.loader import (
    load_scenario,
    scenario_hash,
    scenario_json_schema,
    unannotated_numbers,
    with_changes,
)
from sim.scenario.schema import Annotation, Scenario
from sim.vocabulary import LEAGUE_TABLES, N_SEGMENTS

__all__ = [
    "LEAGUE_TABLES",
    "N_SEGMENTS",
    "Annotation",
    "Scenario",
    "load_scenario",
    "scenario_hash",
    "scenario_json_schema",
    "unannotated_numbers",
    "with_changes",
]
