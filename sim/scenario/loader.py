"""Reading scenario files: safe YAML, ``extends:`` inheritance, provenance notes, clear errors.

What happens when a file is loaded:

1. The file is parsed with a safe YAML loader that also rejects duplicate keys (PyYAML keeps
   the last one silently, which hides typos).
2. ``extends: other.yaml`` (relative to the file) is resolved recursively and the file is
   deep-merged over its parent: mappings merge key by key, anything else replaces. Each
   value remembers which file it came from, so errors name the right file.
3. Annotated numbers, ``{value: 0.8, unit: ..., source: ... | assumption: ...}``, are split
   into the plain value and an :class:`~sim.scenario.schema.Annotation` kept in
   ``Scenario.notes``. A variant that overrides an annotated value without saying where its
   new value comes from has the note replaced by an assumption naming the variant's file.
4. The plain tree is validated by pydantic; every error is translated into a
   :class:`~sim.errors.ScenarioError` naming the file, the field path and the reason.

This module does no modelling and must not import the model.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.checks import register_problems
from sim.scenario.schema import Annotation, Scenario

UNION_DISCRIMINATORS = ("rule", "distribution", "mode")
"""Keys whose value picks the member of a union (pydantic adds it to error locations)."""
ANNOTATION_KEYS = frozenset({"value", "unit", "source", "assumption", "range"})
WHAT_IF = "<what-if edit>"

PathKey = tuple[str | int, ...]


# ---------------------------------------------------------------------------- YAML


MAX_FILE_BYTES = 1_000_000
"""Largest scenario file read, bytes. The documented baseline is about 15 kB; a megabyte
keeps a mistaken path (a log, a device such as /dev/zero) from being read into memory."""
MAX_YAML_VALUES = 100_000
"""Most values (mappings, lists and scalars) a file may hold once YAML aliases are
expanded. The baseline holds about 1,300; aliases can make a 600-byte file expand to
billions (a "billion laughs"), which would exhaust memory in the merging that follows."""
MAX_NESTING = 32
"""Deepest nesting of mappings and lists in a file; a scenario is about 8 levels deep.
Deeper input would exhaust Python's recursion limit in the parser."""
MAX_EXTENDS = 32
"""Longest ``extends`` chain; the shipped variants are at most 3 files deep."""
MAX_REPORTED_ERRORS = 100
"""Problems listed for one scenario; the rest are counted (a file of 20,000 unknown keys
would otherwise print 20,000 lines)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader (no object construction) that refuses duplicate and unhashable keys,
    nesting deeper than :data:`MAX_NESTING` and impossible dates, each with a line number."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        # the composer recurses once per level: stop before Python's recursion limit does
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"values nested more than {MAX_NESTING} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a name, not a {type(key).__name__} (line {line})",
                key_node.start_mark,
            ) from None
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


def _construct_timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode):
    """YAML dates, with a located error for impossible ones such as 2026-02-30."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a valid date ({exc})", node.start_mark
        ) from None


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Values in a composed YAML document once aliases are expanded, counting each aliased
    node as often as it is used; stops with ValueError beyond ``limit`` or at a recursive
    alias. Linear in the number of distinct nodes (aliases share node objects)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > limit:
                raise ValueError(
                    f"expands to more than {limit:,} values (YAML aliases repeat the value they "
                    f"name; line {node.start_mark.line + 1})"
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ValueError(f"a YAML alias refers to itself (line {node.start_mark.line + 1})")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _read_text(path: Path) -> str:
    """The text of a regular file of at most MAX_FILE_BYTES, or a ScenarioError."""
    try:
        if not path.exists():
            raise ScenarioError(path, "", "file not found")
        if path.is_dir():
            raise ScenarioError(path, "", "is a folder, not a scenario file")
        if not path.is_file():  # a FIFO would block for ever, a device never end
            raise ScenarioError(path, "", "is not a regular file (a device, pipe or socket)")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:  # unreadable, a symbolic-link loop, a name too long
        raise ScenarioError(path, "", f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(
            path, "", f"is larger than {MAX_FILE_BYTES:,} bytes: not a scenario file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, "", f"cannot be read: not UTF-8 text ({exc.reason})") from None


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one scenario file into a mapping, or raise ScenarioError naming the file.

    Only regular files of at most :data:`MAX_FILE_BYTES` are read; documents nested more
    than :data:`MAX_NESTING` deep or expanding to more than :data:`MAX_YAML_VALUES`
    values through aliases are refused before any Python objects are built.
    """
    text = _read_text(path)
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, MAX_YAML_VALUES)
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(path, "", f"malformed YAML{where}: {problem}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ScenarioError(path, "", f"cannot be read as YAML: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        raise ScenarioError(path, "", "file is empty")
    if not isinstance(data, dict):
        raise ScenarioError(
            path, "", f"top level must be a mapping of keys to values, got {type(data).__name__}"
        )
    return data


# ---------------------------------------------------------------- extends and merging


def _is_annotated(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and set(node) <= ANNOTATION_KEYS


def record_origins(node: Any, path: PathKey, file: Path, origins: dict[PathKey, Path]) -> None:
    origins[path] = file
    if isinstance(node, dict):
        for key, value in node.items():
            record_origins(value, (*path, key), file, origins)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            record_origins(value, (*path, i), file, origins)


def _forget(origins: dict[PathKey, Path], path: PathKey, base: Any) -> None:
    """Drop the recorded origins of everything below ``path`` (``base`` is being replaced).

    Walks the replaced value rather than every recorded path, so merging stays linear in
    the size of the files.
    """
    if isinstance(base, dict):
        items: Iterable = base.items()
    elif isinstance(base, list):
        items = enumerate(base)
    else:
        return
    for key, value in items:
        origins.pop((*path, key), None)
        _forget(origins, (*path, key), value)


def _switches_member(base: Any, override: Any) -> bool:
    """True if ``override`` picks another member of a union than ``base`` (for example
    ``distribution: fixed`` over a gamma duration): the member's keys differ, so the
    override replaces the section instead of merging into it."""
    return isinstance(base, dict) and any(
        key in base and key in override and base[key] != override[key]
        for key in UNION_DISCRIMINATORS
    )


def _merge(base: Any, override: Any, path: PathKey, file: Path, origins: dict) -> Any:
    """Deep-merge ``override`` (from ``file``) over ``base``; returns a new object."""
    variant_note = f"value set by the variant {file.name}"
    if _is_annotated(base) and not _is_annotated(override) and not isinstance(override, dict):
        # A bare value replaces an annotated one: keep the unit, say who changed it.
        merged = {"value": override, "assumption": variant_note}
        if "unit" in base:
            merged["unit"] = base["unit"]
        _forget(origins, path, base)
        record_origins(merged, path, file, origins)
        return merged
    if _is_annotated(base) and _is_annotated(override):
        merged = {k: v for k, v in base.items() if k in ("unit", "range")}
        merged.update(override)
        if "source" not in override and "assumption" not in override:
            merged["assumption"] = variant_note
        _forget(origins, path, base)
        record_origins(merged, path, file, origins)
        return merged
    if (
        isinstance(base, dict)
        and isinstance(override, dict)
        and not _switches_member(base, override)
        and not (_is_annotated(override) and not _is_annotated(base))
    ):
        merged = dict(base)
        for key, value in override.items():
            if key in base:
                merged[key] = _merge(base[key], value, (*path, key), file, origins)
            else:
                merged[key] = copy.deepcopy(value)
                record_origins(value, (*path, key), file, origins)
        origins.setdefault(path, file)
        return merged
    # anything else replaces: a scalar or list, a section switched to another union
    # member, or an annotated value over a section (refused later, naming this file)
    _forget(origins, path, base)
    record_origins(override, path, file, origins)
    return copy.deepcopy(override)


def _resolved(path: Path, file: Path | None = None) -> Path:
    """``path`` made absolute with symbolic links followed, or a ScenarioError (a link
    loop, a name too long) naming ``file`` (the file whose ``extends`` gave it) if any."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic-link loop (3.11, 3.12)
        if file is None:
            raise ScenarioError(path, "", f"cannot be read: {exc}") from None
        raise ScenarioError(file, "extends", f"cannot follow {str(path)!r}: {exc}") from None


def resolve_file(path: Path, _chain: tuple[Path, ...] = ()) -> tuple[dict, dict[PathKey, Path]]:
    """Read ``path`` and everything it extends; return the merged raw tree and origins."""
    path = _resolved(path)
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError(path, "extends", f"circular extends: {cycle}")
    if len(_chain) >= MAX_EXTENDS:
        raise ScenarioError(
            _chain[0], "extends", f"the extends chain is longer than {MAX_EXTENDS} files"
        )
    raw = read_yaml(path)
    parent_ref = raw.pop("extends", None)
    raw.setdefault("name", path.stem)
    if parent_ref is None:
        origins: dict[PathKey, Path] = {}
        record_origins(raw, (), path, origins)
        return raw, origins
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise ScenarioError(path, "extends", "must be the path of another scenario file")
    parent_path = _resolved(path.parent / parent_ref, path)
    if not parent_path.exists():
        raise ScenarioError(path, "extends", f"parent scenario {parent_ref!r} not found")
    base, origins = resolve_file(parent_path, (*_chain, path))
    base.pop("description", None)  # a variant describes itself or says nothing
    return _merge(base, raw, (), path, origins), origins


# ------------------------------------------------------------------------ annotations


def split_annotations(
    node: Any, origins: Mapping[PathKey, Path], path: PathKey = ()
) -> tuple[Any, dict[str, dict], list[ScenarioError]]:
    """Replace annotated values by their plain value; collect the annotations by path."""
    notes: dict[str, dict] = {}
    errors: list[ScenarioError] = []
    if isinstance(node, dict) and "value" in node and not _is_annotated(node):
        for key in sorted(set(node) - ANNOTATION_KEYS, key=str):
            close = difflib.get_close_matches(str(key), sorted(ANNOTATION_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(
                ScenarioError(
                    _origin(origins, (*path, key)),
                    format_path(path),
                    f"unknown key {key!r} in an annotated value{hint}; allowed: "
                    f"{', '.join(sorted(ANNOTATION_KEYS))}. Quote notes that contain commas.",
                )
            )
        return node, notes, errors
    if _is_annotated(node) and _holds_mapping(node["value"]):
        errors.append(
            ScenarioError(
                _origin(origins, (*path, "value")),
                format_path(path),
                "annotations describe one value or a list of values, not a whole section: "
                "annotate the numbers inside it instead",
            )
        )
        return node, notes, errors
    if _is_annotated(node):
        note = {k: v for k, v in node.items() if k != "value"}
        try:
            notes[format_path(path)] = Annotation.model_validate(note).model_dump(exclude_none=True)
        except ValidationError as exc:
            for err in exc.errors():
                errors.append(
                    ScenarioError(_origin(origins, path), format_path(path), _reason(err, None))
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


def numeric_paths(node: Any, path: PathKey = ()) -> Iterable[str]:
    """Dotted paths of every number (or list of numbers) in a plain scenario tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "notes":
                yield from numeric_paths(value, (*path, key))
    elif isinstance(node, list) and node and all(_is_number(v) for v in node):
        yield format_path(path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from numeric_paths(value, (*path, i))
    elif _is_number(node):
        yield format_path(path)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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


# ------------------------------------------------------------------ error translation


def format_path(path: Iterable[str | int]) -> str:
    """``('a', 'b', 0, 'c')`` -> ``'a.b[0].c'``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _origin(
    origins: Mapping[PathKey, Path],
    path: PathKey,
    top: Path | None = None,
    top_paths: set[PathKey] | None = None,
) -> Path | str:
    """The file that set the value at ``path``.

    For a mapping merged from several files, the loaded file ``top`` is named if it set
    anything inside it: that is where the user changed it. ``top_paths`` (from
    :func:`_paths_set_by`) saves scanning every origin once per error.
    """
    if top is not None:
        if top_paths is None:
            top_paths = _paths_set_by(origins, top)
        if path in top_paths:
            return top
    for cut in range(len(path), -1, -1):
        if path[:cut] in origins:
            return origins[path[:cut]]
    return WHAT_IF


def _paths_set_by(origins: Mapping[PathKey, Path], file: Path) -> set[PathKey]:
    """Every path at or above a value that ``file`` set (linear in the origins)."""
    out: set[PathKey] = set()
    for key, origin in origins.items():
        if origin == file:
            for cut in range(len(key), -1, -1):
                if key[:cut] in out:
                    break
                out.add(key[:cut])
    return out


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
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
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
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
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


def _reason(err: dict, allowed: Iterable[str] | None) -> str:
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
            if _origin(origins, candidate) == top:
                chosen = candidate
                break
    return chosen, match.group(2)


def translate(
    exc: ValidationError, raw: Any, origins: Mapping[PathKey, Path], top: Path | None = None
) -> ScenarioErrors:
    """Turn a pydantic ValidationError into ScenarioErrors that name file and field."""
    errors = []
    top_paths = _paths_set_by(origins, top) if top is not None else None
    for err in exc.errors():
        loc = _clean_loc(tuple(err.get("loc", ())), raw)
        if err.get("type") == "value_error":
            loc, message = _located(loc, _reason(err, None), origins, top)
            errors.append(
                ScenarioError(_origin(origins, loc, top, top_paths), format_path(loc), message)
            )
            continue
        allowed = None
        if err.get("type") == "extra_forbidden":
            model = _model_at(Scenario, loc[:-1], raw)
            allowed = model.model_fields.keys() if model else None
        file = _origin(origins, loc, top, top_paths)
        errors.append(ScenarioError(file, format_path(loc), _reason(err, allowed)))
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


# --------------------------------------------------------------------------- public


def build_scenario(raw: dict, origins: Mapping[PathKey, Path], top: Path | None = None) -> Scenario:
    """Validate a merged raw tree (annotated values allowed) into a Scenario.

    ``top`` is the file the user loaded; errors involving several fields name its field.
    """
    if "notes" in raw:
        raise ScenarioError(
            _origin(origins, ("notes",)), "notes", "is reserved: annotate values in place"
        )
    plain, notes, errors = split_annotations(raw, origins)
    if errors:
        raise bounded_errors(errors)
    try:
        scenario = Scenario.model_validate({**plain, "notes": notes})
    except ValidationError as exc:
        raise translate(exc, plain, origins, top) from None
    # declared ranges, then what the schema cannot see (the trusts in the package's data)
    problems = out_of_range(scenario) or register_problems(scenario)
    if problems:
        raise bounded_errors(
            [
                ScenarioError(_origin(origins, tuple(parse_path(path)), top), path, reason)
                for path, reason in problems
            ]
        )
    return scenario


def out_of_range(scenario: Scenario) -> list[tuple[str, str]]:
    """(path, reason) for every value outside the ``range`` its note declares."""
    tree = scenario.model_dump(mode="python", exclude={"notes"})
    problems = []
    for path, note in scenario.notes.items():
        if note.range is None:
            continue
        value = value_at(tree, path)
        if not _is_number(value):
            problems.append((path, "a range can only be given for a single number"))
        elif not note.range[0] <= value <= note.range[1]:
            problems.append((path, f"value {value} is outside its range {note.range}"))
    return problems


def uncertain_values(scenario: Scenario) -> list[tuple[str, float, float, float]]:
    """(path, value, low, high) of every number whose note declares a range."""
    tree = scenario.model_dump(mode="python", exclude={"notes"})
    out = []
    for path, note in scenario.notes.items():
        if note.range is not None:
            value = value_at(tree, path)
            out.append((path, float(value), float(note.range[0]), float(note.range[1])))
    return sorted(out)


def scenario_from_mapping(raw: dict, label: str | Path) -> Scenario:
    """Validate a scenario given as a mapping (annotated values allowed, no ``extends``).

    ``label`` names the mapping's origin (a file path) in error messages.
    """
    origins: dict[PathKey, Path] = {}
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
    return build_scenario(raw, origins, top=Path(path).resolve())


def with_changes(
    scenario: Scenario, changes: Mapping[str, Any], note: str | None = None
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
        if isinstance(value, dict | list) and not _is_annotated(value):
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
        elif _is_annotated(value):
            notes[dotted] = {k: v for k, v in value.items() if k != "value"}
            value = value["value"]
        else:
            old = notes.get(dotted, {})
            kept = {k: v for k, v in old.items() if k == "unit"}
            declared = old.get("range")
            if declared and _is_number(value) and declared[0] <= value <= declared[1]:
                kept["range"] = declared  # a value beyond the range is a deliberate what-if
            notes[dotted] = kept | {"assumption": note or "changed by a what-if edit"}
        parent[last] = value
    try:
        edited = Scenario.model_validate({**tree, "notes": notes})
    except ValidationError as exc:
        raise translate(exc, tree, {}) from None
    problems = out_of_range(edited) or register_problems(edited)
    if problems:
        raise bounded_errors([ScenarioError(WHAT_IF, path, reason) for path, reason in problems])
    return edited


def value_at(tree: Any, dotted: str) -> Any:
    """The value at a dotted path (``a.b[0].c``) of a plain scenario tree."""
    node = tree
    for part in parse_path(dotted):
        node = node[part]
    return node


_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)")


def parse_path(dotted: str) -> list[str | int]:
    """``'a.b[0].c'`` -> ``['a', 'b', 0, 'c']``; ValueError for a malformed path (an
    empty part as in ``a..b``, an unclosed or non-numeric index as in ``a[0.b``)."""
    if not isinstance(dotted, str) or not dotted:
        raise ValueError(f"a field path is a dotted name such as programme.cap, got {dotted!r}")
    parts: list[str | int] = []
    for piece in dotted.split("."):
        match = _PATH_PART.fullmatch(piece)
        if match is None:
            raise ValueError(
                f"malformed field path {dotted!r} at {piece!r}: write names joined by dots, "
                "with list positions in brackets, e.g. team.national.wte_schedule[0].wte"
            )
        parts.append(match.group(1))
        parts += [int(index) for index in re.findall(r"\[([0-9]+)\]", match.group(2))]
    return parts


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


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON: equal content, equal hash."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


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
        },
    }
    _finite_numbers(schema)
    _allow_annotation(schema)
    # A variant lists only what differs, so no key is required anywhere (except the tags
    # that pick a union member); `python -m sim validate` checks completeness.
    _drop_required(schema)
    schema["title"] = "NHS PIP simulation scenario"
    return schema


LARGEST_FLOAT = 1.7976931348623157e308
NOT_NAN = {"type": "number", "minimum": 1, "maximum": 0}
"""Matches only NaN: no number is both at least 1 and at most 0, but every comparison
with NaN is false, so NaN passes both bounds. Used as ``not``, it refuses NaN."""


def _finite_numbers(node: Any) -> None:
    """Make every number in the schema finite, as the scenario models require: bounds
    where pydantic gave none (refusing infinity) and ``not NOT_NAN`` (refusing NaN)."""
    if isinstance(node, dict):
        for value in node.values():
            _finite_numbers(value)
        if node.get("type") in ("number", "integer"):
            if "maximum" not in node and "exclusiveMaximum" not in node:
                node["maximum"] = LARGEST_FLOAT
            if "minimum" not in node and "exclusiveMinimum" not in node:
                node["minimum"] = -LARGEST_FLOAT
            node["not"] = dict(NOT_NAN)
    elif isinstance(node, list):
        for value in node:
            _finite_numbers(value)


def _allow_annotation(node: Any) -> None:
    """Let every value field be written bare or annotated; the annotated form's ``value``
    obeys the same schema as the bare one (so bounds and finiteness hold in both)."""
    if isinstance(node, dict):
        for value in node.values():
            _allow_annotation(value)
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
    elif isinstance(node, list):
        for value in node:
            _allow_annotation(value)


def _schema_is_value(sub: Any) -> bool:
    if not isinstance(sub, dict):
        return False
    if "anyOf" in sub:  # optional numbers, e.g. `cap: int | None`
        return any(_schema_is_value(option) for option in sub["anyOf"])
    kind = sub.get("type")
    if kind in ("number", "integer"):
        return True
    return kind == "array" and sub.get("items", {}).get("type") in ("number", "integer")


UNION_TAGS = frozenset({"rule", "distribution", "mode", "value"})


def _drop_required(node: Any) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("required"), list):
            kept = [k for k in node["required"] if k in UNION_TAGS]
            if kept:
                node["required"] = kept
            else:
                del node["required"]
        for value in node.values():
            _drop_required(value)
    elif isinstance(node, list):
        for value in node:
            _drop_required(value)
