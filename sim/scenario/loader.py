"""Loading scenarios: files (with ``extends``) or mappings to validated, frozen Scenarios.

What happens when a file is loaded, and where:

1. The file is read safely (:mod:`sim.scenario.files`): a bounded regular file, safe
   YAML with no duplicate keys.
2. ``extends:`` is resolved and the file is deep-merged over its parent, each value
   remembering which file set it (:mod:`sim.scenario.extends`,
   :mod:`sim.scenario.provenance`).
3. Annotated numbers, ``{value: 0.8, unit: ..., source: ... | assumption: ...}``, are split
   into the plain value and an :class:`~sim.scenario.schema.Annotation` kept in
   ``Scenario.notes`` (:mod:`sim.scenario.annotations`).
4. The plain tree is validated by pydantic (:mod:`sim.scenario.schema`), then against the
   declared ranges and the package's data (:mod:`sim.scenario.checks`); every problem
   becomes a :class:`~sim.errors.ScenarioError` naming the file, the field path and the
   reason (:mod:`sim.scenario.error_messages`).

What-if edits (:mod:`sim.scenario.edits`) are validated by the same :func:`validate_plain`.
This module does no modelling and must not import the model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.scenario.annotations import out_of_range, split_annotations
from sim.scenario.checks import register_problems
from sim.scenario.error_messages import bounded_errors, translate
from sim.scenario.extends import resolve_file
from sim.scenario.paths import PathKey, parse_path
from sim.scenario.provenance import Origins, origin_of, record_origins
from sim.scenario.schema import Scenario


def validate_plain(
    plain: dict, notes: dict[str, dict], origins: Mapping[PathKey, Path], top: Path | None = None
) -> Scenario:
    """Validate a plain tree (annotations already split off into ``notes``) into a Scenario.

    Checks the schema, then the declared ranges, then what the schema cannot see (the
    trusts in the package's data). Errors name the file ``origins`` gives for each field
    (:data:`~sim.scenario.provenance.WHAT_IF` where it gives none).
    """
    try:
        scenario = Scenario.model_validate({**plain, "notes": notes})
    except ValidationError as exc:
        raise translate(exc, plain, origins, top) from None
    problems = out_of_range(scenario) or register_problems(scenario)
    if problems:
        raise bounded_errors(
            [
                ScenarioError(origin_of(origins, tuple(parse_path(path)), top), path, reason)
                for path, reason in problems
            ]
        )
    return scenario


def build_scenario(raw: dict, origins: Mapping[PathKey, Path], top: Path | None = None) -> Scenario:
    """Validate a merged raw tree (annotated values allowed) into a Scenario.

    ``top`` is the file the user loaded; errors involving several fields name its field.
    """
    if "notes" in raw:
        raise ScenarioError(
            origin_of(origins, ("notes",)), "notes", "is reserved: annotate values in place"
        )
    plain, notes, errors = split_annotations(raw, origins)
    if errors:
        raise bounded_errors(errors)
    return validate_plain(plain, notes, origins, top)


def scenario_from_mapping(raw: dict, label: str | Path) -> Scenario:
    """Validate a scenario given as a mapping (annotated values allowed, no ``extends``).

    ``label`` names the mapping's origin (a file path) in error messages.
    """
    origins: Origins = {}
    record_origins(raw, (), Path(label), origins)
    return build_scenario(raw, origins)


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge (``extends``) and validate a scenario file.

    Raises
    ------
    ScenarioError
        Naming the file, the field path and the reason, for any problem in the file.
    """
    raw, origins = resolve_file(Path(path))
    for key in ("warm_start", "calibration_ensemble"):  # files named relative to their file
        if isinstance(raw.get(key), str):
            raw = raw | {key: _named_file(key, raw[key], origins)}
    return build_scenario(raw, origins, top=Path(path).resolve())


def _named_file(key: str, written: str, origins: Mapping[PathKey, Path]) -> str:
    """The absolute path of a file a scenario names (``warm_start``,
    ``calibration_ensemble``), written relative to the file that names it; a missing file
    is an error naming that file and field."""
    where = origin_of(origins, (key,))
    path = (Path(where).parent / written).resolve()
    if not path.is_file():
        raise ScenarioError(where, key, f"file {written!r} not found ({path})")
    return str(path)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 (hex) of the scenario's canonical JSON: equal content, equal hash."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
