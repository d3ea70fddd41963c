"""Error translation: pydantic's validation errors as ScenarioErrors naming file, field, reason.

Every problem a user sees about a scenario is a :class:`~sim.errors.ScenarioError` with
the file to fix (from the origins, :mod:`sim.scenario.provenance`), the field path as
written in the file (pydantic's union tags and validator names removed) and a reason in
plain words, with a "did you mean" hint for a misspelt key. Problems a validator raises
about several fields (:func:`sim.scenario.bounds.field_error`) are reported against the
field the loaded file set. At most :data:`MAX_REPORTED_ERRORS` are listed.

The wording here is part of the interface (tests and users read it): change it only on
purpose. This module reads no files and validates nothing itself.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.paths import PathKey, child, format_path, parse_path
from sim.scenario.provenance import origin_of, paths_set_by
from sim.scenario.schema import UNION_DISCRIMINATORS, Scenario

MAX_REPORTED_ERRORS = 100
"""Problems listed for one scenario; the rest are counted (a file of 20,000 unknown keys
would otherwise print 20,000 lines)."""


def _clean_loc(loc: tuple, raw: Any) -> PathKey:
    """Drop pydantic's union-tag and validator entries from an error location."""
    out: list[str | int] = []
    node = raw
    for part in loc:
        is_tag = (
            isinstance(node, dict)
            and part not in node
            and any(part == node.get(key) for key in UNION_DISCRIMINATORS)
        )
        if is_tag or (isinstance(part, str) and part.startswith("function-")):
            continue
        out.append(part)
        node = child(node, part)
    return tuple(out)


def _model_at(model: Any, path: PathKey, raw: Any) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at ``path`` (for key suggestions)."""
    current: Any = model
    node = raw
    for part in path:
        current = _unwrap(current, node)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (list, dict) and typing.get_args(current):
            current = typing.get_args(current)[-1]
        else:
            return None
        node = child(node, part)
    current = _unwrap(current, node)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip Annotated/Optional; pick the union member whose tag (``rule``,
    ``distribution`` or ``mode``) matches the one ``node`` gives."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            chosen = members[0]
            for member in members:
                fields = getattr(member, "model_fields", {})
                for key in UNION_DISCRIMINATORS:
                    tag = node.get(key) if isinstance(node, dict) else None
                    field = fields.get(key)
                    if field is not None and tag in typing.get_args(field.annotation):
                        chosen = member
            tp = chosen
        else:
            return tp


def reason(err: dict, allowed: Iterable[str] | None) -> str:
    """The reason of one pydantic error in plain words; for an unknown key, the closest
    of the ``allowed`` keys as a hint (or the list of them if none is close)."""
    kind = err.get("type", "")
    value = err.get("input")
    if kind == "extra_forbidden":
        key = err["loc"][-1] if err.get("loc") else "?"
        hint = ""
        if allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else f"; allowed keys: {', '.join(sorted(allowed))}"
            )
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return "required field is missing"
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    if (
        kind not in ("value_error", "assertion_error")
        and value is not None
        and not isinstance(value, dict | list)
    ):
        msg += f" (got {value!r})"
    return msg


def _located(loc: PathKey, message: str, origins: Mapping[PathKey, Path], top: Path | None):
    """Resolve a ``field_error`` marker: the field path and the reason without the marker.

    Of several candidate fields, the one whose value came from ``top`` (the file the user
    loaded) is reported, since that is the file to fix.
    """
    match = re.match(r"@([^@]+)@ (.*)", message, flags=re.DOTALL)
    if not match:
        return loc, message
    candidates = [(*loc, *parse_path(rel)) for rel in match.group(1).split("|")]
    chosen = candidates[0]
    if top is not None:
        for candidate in candidates:
            if origin_of(origins, candidate) == top:
                chosen = candidate
                break
    return chosen, match.group(2)


def translate(
    exc: ValidationError, raw: Any, origins: Mapping[PathKey, Path], top: Path | None = None
) -> ScenarioErrors:
    """Turn a pydantic ValidationError into ScenarioErrors that name file and field."""
    errors = []
    top_paths = paths_set_by(origins, top) if top is not None else None
    for err in exc.errors():
        loc = _clean_loc(tuple(err.get("loc", ())), raw)
        if err.get("type") == "value_error":
            loc, message = _located(loc, reason(err, None), origins, top)
            errors.append(
                ScenarioError(origin_of(origins, loc, top, top_paths), format_path(loc), message)
            )
            continue
        allowed = None
        if err.get("type") == "extra_forbidden":
            model = _model_at(Scenario, loc[:-1], raw)
            allowed = model.model_fields.keys() if model else None
        file = origin_of(origins, loc, top, top_paths)
        errors.append(ScenarioError(file, format_path(loc), reason(err, allowed)))
    return bounded_errors(errors)


def bounded_errors(errors: list[ScenarioError]) -> ScenarioErrors:
    """ScenarioErrors listing at most :data:`MAX_REPORTED_ERRORS` problems (and a count of
    the rest), so a file of thousands of mistakes gives a readable report."""
    if len(errors) <= MAX_REPORTED_ERRORS:
        return ScenarioErrors(errors)
    shown = errors[:MAX_REPORTED_ERRORS]
    rest = len(errors) - len(shown)
    shown.append(ScenarioError(shown[-1].file, "", f"and {rest:,} more problems not listed"))
    return ScenarioErrors(shown)


