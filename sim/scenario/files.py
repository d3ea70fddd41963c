"""Reading one scenario file safely: a bounded regular file, safe YAML, no surprises.

:func:`read_yaml` returns the file's top-level mapping or raises a
:class:`~sim.errors.ScenarioError` naming the file (and the line, where YAML gives one).
The YAML loader builds no Python objects beyond plain data, refuses duplicate keys (PyYAML
keeps the last one silently, which hides typos), keys that are not names, impossible dates,
deep nesting and alias expansion beyond :data:`MAX_YAML_VALUES` ("billion laughs").

This module reads exactly one file: ``extends:`` is resolved in :mod:`sim.scenario.extends`
and nothing here validates against the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioError

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

