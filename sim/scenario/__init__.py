"""Scenarios: validated, immutable model inputs read from YAML files.

Use :func:`load_scenario` to read a file, :func:`with_changes` for what-if edits and
:func:`scenario_json_schema` for editor support.

Modules, in the order a file goes through them: ``files`` (safe YAML), ``extends`` and
``provenance`` (inheritance, which file set each value), ``annotations`` (units and
sources), ``schema`` with ``bounds`` and ``durations`` (the validated models), ``checks``
(against the package's data), ``error_messages`` (problems as ScenarioErrors), ``loader``
(all of it, for a file or a mapping); ``paths`` (``a.b[0].c`` field paths), ``edits``
(what-if changes) and ``json_schema`` (for editors) serve the rest.
"""

from sim.scenario.annotations import unannotated_numbers
from sim.scenario.edits import with_changes
from sim.scenario.json_schema import scenario_json_schema
from sim.scenario.loader import load_scenario, scenario_hash
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
