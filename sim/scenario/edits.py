"""What-if edits: a validated copy of a scenario with some fields changed.

:func:`with_changes` is the only way analysis code changes a scenario: it edits a plain
copy of the tree by field path, keeps the notes right (a changed value becomes an
assumption unless the change is itself annotated) and validates the result exactly as a
file would be. :func:`parse_value` reads a value typed on the command line.

Errors name :data:`~sim.scenario.provenance.WHAT_IF` as their file. This module never
modifies the scenario it is given (scenarios are frozen) and reads no files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.annotations import is_annotated, split_annotations
from sim.scenario.loader import validate_plain
from sim.scenario.paths import format_path, is_number, numeric_paths, parse_path
from sim.scenario.provenance import WHAT_IF
from sim.scenario.schema import DISTRIBUTION_KEYS, Scenario


def with_changes(
    scenario: Scenario, changes: Mapping[str, Any], note: str | None = None, *,
    fixed: bool = False,
) -> Scenario:
    """Return a re-validated copy of ``scenario`` with dotted-path fields changed.

    Parameters
    ----------
    scenario
        The scenario to start from (not modified).
    changes
        ``{"population.tables.acute.score.persistence": 0.9, "name": "what-if"}``. Values may
        also be annotated, ``{"value": 0.9, "assumption": "..."}``.
    note
        Assumption note recorded for each changed value that is not itself annotated.
    fixed
        Changed numbers lose their declared range, so a run with parameter uncertainty
        holds them at the value given (a sweep point) instead of drawing them again. By
        default a value inside its range keeps the range (a what-if within the plausible
        values) and one outside it loses it.
    """
    tree = scenario.model_dump(mode="python")
    notes = {
        k: {f: v for f, v in note.items() if v is not None} for k, note in tree.pop("notes").items()
    }
    for dotted, value in changes.items():
        try:
            parts = parse_path(dotted)
        except ValueError as exc:
            raise ScenarioError(WHAT_IF, str(dotted), str(exc)) from None
        parent = tree
        for i, part in enumerate(parts[:-1]):
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                raise ScenarioError(
                    WHAT_IF, dotted, f"no field {format_path(parts[: i + 1])!r}"
                ) from None
        last = parts[-1]
        if not isinstance(parent, dict | list):
            raise ScenarioError(
                WHAT_IF, dotted, f"{format_path(parts[:-1])!r} is a value, not a section"
            )
        if isinstance(parent, dict) and last not in parent:
            raise ScenarioError(WHAT_IF, dotted, "no such field")
        if isinstance(parent, list) and not (isinstance(last, int) and last < len(parent)):
            raise ScenarioError(WHAT_IF, dotted, "index out of range")
        if value is None:  # a section taken away (``team.prices``): so are its inner notes
            for path in [p for p in notes if p.startswith((f"{dotted}.", f"{dotted}["))]:
                del notes[path]
        if isinstance(value, dict | list) and not is_annotated(value):
            # a whole section replaced: notes about what was inside it no longer apply
            for path in [
                p for p in notes if p.startswith(f"{dotted}.") or p.startswith(f"{dotted}[")
            ]:
                del notes[path]
            value, inner, errors = split_annotations(value, {}, tuple(parts))
            if errors:
                raise ScenarioErrors(errors)
            notes |= inner
            for path in numeric_paths(value, tuple(parts)):
                notes.setdefault(path, {"assumption": note or "changed by a what-if edit"})
        elif is_annotated(value):
            notes[dotted] = {k: v for k, v in value.items() if k != "value"}
            value = value["value"]
        else:
            old = notes.get(dotted, {})
            kept = {k: v for k, v in old.items() if k == "unit"}
            declared = old.get("range")
            if (not fixed and declared and is_number(value)
                    and declared[0] <= value <= declared[1]):  # fmt: skip
                # a value beyond the range is a deliberate what-if: its uncertainty goes
                kept |= {k: v for k, v in old.items() if k in ("range", *DISTRIBUTION_KEYS)}
            notes[dotted] = kept | {"assumption": note or "changed by a what-if edit"}
        parent[last] = value
    # no origins: every error names WHAT_IF, as no file set any of the values
    return validate_plain(tree, notes, {})


def parse_value(text: str) -> Any:
    """A value written on the command line (``--grid PATH=V1,V2``) as the scenario needs it.

    Whole numbers become int (``15``, also ``15.0``), other numbers float; ``null``,
    ``true`` and ``false`` their YAML meaning; anything else stays text (a policy such as
    ``dilute``, or an ISO date, which the schema reads). NaN and infinity are refused.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    try:
        number = float(text)
    except ValueError:
        return {"null": None, "true": True, "false": False}.get(text.lower(), text)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    try:
        return int(text)
    except ValueError:
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
