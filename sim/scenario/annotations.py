"""Annotated numbers: ``{value, unit, source | assumption, range}`` in files, notes in scenarios.

In a scenario file a number may be written bare or annotated with its unit and where it
comes from. :func:`split_annotations` moves each value into the plain tree that pydantic
validates and keeps the rest as a note keyed by field path (``Scenario.notes``). The
other functions read those notes back: numbers without provenance, values outside their
declared range, and the declared ranges sensitivity analysis varies.

This module does not read files or merge them (:mod:`sim.scenario.extends` keeps the notes
right when a variant overrides a value).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.scenario.error_messages import reason
from sim.scenario.paths import PathKey, format_path, is_number, numeric_paths, value_at
from sim.scenario.provenance import origin_of
from sim.scenario.schema import Annotation, Scenario

ANNOTATION_KEYS = frozenset(
    {"value", "unit", "source", "assumption", "range", "distribution", "shape", "sd", "sigma"}
)
"""Keys of an annotated value; the last four say how an uncertain one is distributed
(see :class:`sim.scenario.schema.Annotation`)."""
"""The keys of an annotated value; a mapping with ``value`` and only these is one."""


FITTED_NOTE = "fitted by `python -m sim calibrate`"
"""How the note of every value the calibration wrote begins (``fitted.yaml``); a value a
scenario sets itself has another note."""


def is_fitted(note: Annotation | None) -> bool:
    """Whether a value's note says the calibration fitted it (not set by hand or a variant)."""
    return bool(note and note.assumption and note.assumption.startswith(FITTED_NOTE))


def is_annotated(node: Any) -> bool:
    """True if ``node`` is an annotated value (``{value: ..., unit: ..., ...}``)."""
    return isinstance(node, dict) and "value" in node and set(node) <= ANNOTATION_KEYS


def split_annotations(
    node: Any, origins: Mapping[PathKey, Path], path: PathKey = ()
) -> tuple[Any, dict[str, dict], list[ScenarioError]]:
    """Replace annotated values by their plain value; collect the annotations by path."""
    notes: dict[str, dict] = {}
    errors: list[ScenarioError] = []
    if isinstance(node, dict) and "value" in node and not is_annotated(node):
        for key in sorted(set(node) - ANNOTATION_KEYS, key=str):
            close = difflib.get_close_matches(str(key), sorted(ANNOTATION_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(
                ScenarioError(
                    origin_of(origins, (*path, key)),
                    format_path(path),
                    f"unknown key {key!r} in an annotated value{hint}; allowed: "
                    f"{', '.join(sorted(ANNOTATION_KEYS))}. Quote notes that contain commas.",
                )
            )
        return node, notes, errors
    if is_annotated(node) and _holds_mapping(node["value"]):
        errors.append(
            ScenarioError(
                origin_of(origins, (*path, "value")),
                format_path(path),
                "annotations describe one value or a list of values, not a whole section: "
                "annotate the numbers inside it instead",
            )
        )
        return node, notes, errors
    if is_annotated(node):
        note = {k: v for k, v in node.items() if k != "value"}
        try:
            notes[format_path(path)] = Annotation.model_validate(note).model_dump(exclude_none=True)
        except ValidationError as exc:
            for err in exc.errors():
                errors.append(
                    ScenarioError(origin_of(origins, path), format_path(path), reason(err, None))
                )
        value, sub_notes, sub_errors = split_annotations(node["value"], origins, (*path, "value"))
        return value, notes | sub_notes, errors + sub_errors
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out[key], sub_notes, sub_errors = split_annotations(value, origins, (*path, key))
            notes |= sub_notes
            errors += sub_errors
        return out, notes, errors
    if isinstance(node, list):
        items = []
        for i, value in enumerate(node):
            item, sub_notes, sub_errors = split_annotations(value, origins, (*path, i))
            items.append(item)
            notes |= sub_notes
            errors += sub_errors
        return items, notes, errors
    return node, notes, errors


def _holds_mapping(value: Any) -> bool:
    """True if ``value`` is a mapping or a list holding one (a section, not a value)."""
    return isinstance(value, dict) or (
        isinstance(value, list) and any(_holds_mapping(item) for item in value)
    )



def unannotated_numbers(scenario: Scenario) -> list[str]:
    """Numbers in a scenario that carry neither a source nor an assumption note."""
    plain = scenario.model_dump(mode="python", exclude={"notes"})
    return [
        p
        for p in numeric_paths(plain)
        if not (
            scenario.notes.get(p) and (scenario.notes[p].source or scenario.notes[p].assumption)
        )
    ]


def _ranged(scenario: Scenario) -> Iterator[tuple[str, Any, list[float]]]:
    """(path, value, [low, high]) of every value whose note declares a range."""
    tree = scenario.model_dump(mode="python", exclude={"notes"})
    for path, note in scenario.notes.items():
        if note.range is not None:
            yield path, value_at(tree, path), note.range


def out_of_range(scenario: Scenario) -> list[tuple[str, str]]:
    """(path, reason) for every value outside the ``range`` its note declares."""
    problems = []
    for path, value, declared in _ranged(scenario):
        if not is_number(value):
            problems.append((path, "a range can only be given for a single number"))
        elif not declared[0] <= value <= declared[1]:
            problems.append((path, f"value {value} is outside its range {declared}"))
    return problems


def uncertain_values(scenario: Scenario) -> list[tuple[str, float, float, float]]:
    """(path, value, low, high) of every number whose note declares a range."""
    return sorted(
        (path, float(value), float(declared[0]), float(declared[1]))
        for path, value, declared in _ranged(scenario)
    )
