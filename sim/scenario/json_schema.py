"""The JSON Schema of scenario files, for editors (``python -m sim schema``).

Scenario files are not exactly what pydantic validates: every number may be written bare
or annotated (``{value, unit, source | assumption, range}``), ``extends`` is allowed, and
a variant lists only what differs from its parent. :func:`scenario_json_schema` adapts
pydantic's schema of :class:`~sim.scenario.schema.Scenario` to that, and makes every
number finite as the models require.

This module only describes files; loading them is :mod:`sim.scenario.loader`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.scenario.schema import UNION_DISCRIMINATORS, Scenario

LARGEST_FLOAT = 1.7976931348623157e308
NOT_NAN = {"type": "number", "minimum": 1, "maximum": 0}
"""Matches only NaN: no number is both at least 1 and at most 0, but every comparison
with NaN is false, so NaN passes both bounds. Used as ``not``, it refuses NaN."""
UNION_TAGS = frozenset({*UNION_DISCRIMINATORS, "value"})
"""Keys that stay required in the exported schema: the tags that pick a union member,
and an annotated value's ``value``."""


def scenario_json_schema() -> dict:
    """JSON Schema of scenario files, for editors.

    The schema allows every number to be written bare or annotated
    (``{value, unit, source | assumption, range}``) and allows ``extends``.
    """
    schema = Scenario.model_json_schema(mode="validation")
    schema["properties"].pop("notes", None)
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "Path (relative to this file) of the scenario this one changes.",
    }
    schema.setdefault("$defs", {})["AnnotatedValue"] = {
        "type": "object",
        "required": ["value"],
        "additionalProperties": False,
        "properties": {
            "value": {},
            "unit": {"type": "string"},
            "source": {"type": "string", "description": "Where a published figure comes from."},
            "assumption": {"type": "string", "description": "Why an unpublished value was chosen."},
            "range": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            "distribution": {
                "enum": ["uniform", "triangular", "beta", "normal", "lognormal"],
                "description": "How the value is spread over its range (default uniform).",
            },
            "shape": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                      "description": "Beta shape parameters (a, b) over the range."},
            "sd": {"type": "number", "description": "Normal: standard deviation (mean = value)."},
            "sigma": {"type": "number", "description": "Lognormal: sigma (median = value)."},
        },
    }
    _each_mapping(schema, _finite_numbers)
    _each_mapping(schema, _allow_annotation)
    # A variant lists only what differs, so no key is required anywhere (except the tags
    # that pick a union member); `python -m sim validate` checks completeness.
    _each_mapping(schema, _drop_required)
    schema["title"] = "NHS PIP simulation scenario"
    return schema


def _each_mapping(node: Any, visit: Callable[[dict], None]) -> None:
    """Call ``visit`` on every mapping in a JSON tree, innermost first (so a visit that
    wraps a mapping's children does not see the wrappers)."""
    if isinstance(node, dict):
        for value in node.values():
            _each_mapping(value, visit)
        visit(node)
    elif isinstance(node, list):
        for value in node:
            _each_mapping(value, visit)


def _finite_numbers(node: dict) -> None:
    """Make a number finite, as the scenario models require: bounds where pydantic gave
    none (refusing infinity) and ``not NOT_NAN`` (refusing NaN)."""
    if node.get("type") in ("number", "integer"):
        if "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = LARGEST_FLOAT
        if "minimum" not in node and "exclusiveMinimum" not in node:
            node["minimum"] = -LARGEST_FLOAT
        node["not"] = dict(NOT_NAN)


def _allow_annotation(node: dict) -> None:
    """Let every value field be written bare or annotated; the annotated form's ``value``
    obeys the same schema as the bare one (so bounds and finiteness hold in both)."""
    props = node.get("properties")
    if isinstance(props, dict):
        for key, sub in list(props.items()):
            if _schema_is_value(sub):
                annotated = {
                    "allOf": [
                        {"$ref": "#/$defs/AnnotatedValue"},
                        {"properties": {"value": sub}},
                    ]
                }
                props[key] = {"anyOf": [sub, annotated]}


def _schema_is_value(sub: Any) -> bool:
    """True if the schema ``sub`` describes a number, an optional number or a list of numbers."""
    if not isinstance(sub, dict):
        return False
    if "anyOf" in sub:  # optional numbers, e.g. `cap: int | None`
        return any(_schema_is_value(option) for option in sub["anyOf"])
    kind = sub.get("type")
    if kind in ("number", "integer"):
        return True
    return kind == "array" and sub.get("items", {}).get("type") in ("number", "integer")


def _drop_required(node: dict) -> None:
    """Keep only :data:`UNION_TAGS` in a ``required`` list (dropping it if none is left)."""
    if isinstance(node.get("required"), list):
        kept = [k for k in node["required"] if k in UNION_TAGS]
        if kept:
            node["required"] = kept
        else:
            del node["required"]
