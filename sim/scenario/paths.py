"""Field paths of a scenario tree: ``'a.b[0].c'`` <-> ``('a', 'b', 0, 'c')``, and the value there.

A field path names one value of a plain (unannotated) scenario tree: names joined by dots,
list positions in brackets. Error messages, annotations (``Scenario.notes`` keys), what-if
edits and ``--grid`` all use this one spelling.

This module knows nothing of files, pydantic or the schema: it works on plain dicts and
lists.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

PathKey = tuple[str | int, ...]
"""A parsed field path: mapping keys and list positions, outermost first."""

_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)")


def parse_path(dotted: str) -> list[str | int]:
    """``'a.b[0].c'`` -> ``['a', 'b', 0, 'c']``; ValueError for a malformed path (an
    empty part as in ``a..b``, an unclosed or non-numeric index as in ``a[0.b``)."""
    if not isinstance(dotted, str) or not dotted:
        raise ValueError(f"a field path is a dotted name such as programme.cap, got {dotted!r}")
    return list(_parse(dotted))


@functools.lru_cache(maxsize=4096)
def _parse(dotted: str) -> PathKey:
    # cached: every per-replication draw of the assumptions parses the same paths again
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
    return tuple(parts)


def format_path(path: Iterable[str | int]) -> str:
    """``('a', 'b', 0, 'c')`` -> ``'a.b[0].c'``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def value_at(tree: Any, dotted: str) -> Any:
    """The value at a dotted path (``a.b[0].c``) of a plain scenario tree."""
    node = tree
    for part in parse_path(dotted):
        node = node[part]
    return node


def child(node: Any, part: str | int) -> Any:
    """``node[part]`` of a raw tree that may not match the schema, or None where there is
    no such child (a missing key, a position past the end, a value where a section was
    expected)."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def is_number(value: Any) -> bool:
    """True for an int or float (``True`` and ``False`` are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def numeric_paths(node: Any, path: PathKey = ()) -> Iterable[str]:
    """Dotted paths of every number (or list of numbers) in a plain scenario tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "notes":
                yield from numeric_paths(value, (*path, key))
    elif isinstance(node, list) and node and all(is_number(v) for v in node):
        yield format_path(path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from numeric_paths(value, (*path, i))
    elif is_number(node):
        yield format_path(path)
