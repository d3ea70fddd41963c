"""Which file set each value: the origins recorded while files are merged, and their lookup.

An *origins* mapping holds, for every field path of a merged raw tree, the file that set
the value there (see :mod:`sim.scenario.extends`). Errors use it to name the file to fix;
values changed by :func:`sim.scenario.with_changes` have no origin and are reported as
:data:`WHAT_IF`.

This module only records and looks up paths; it does not read files or validate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.scenario.paths import PathKey

WHAT_IF = "<what-if edit>"
"""The 'file' named by errors in values that no file set (what-if edits)."""

Origins = dict[PathKey, Path]


def record_origins(node: Any, path: PathKey, file: Path, origins: Origins) -> None:
    """Record ``file`` as the origin of ``node`` (at ``path``) and of everything inside it."""
    origins[path] = file
    if isinstance(node, dict):
        for key, value in node.items():
            record_origins(value, (*path, key), file, origins)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            record_origins(value, (*path, i), file, origins)


def forget_origins(origins: Origins, path: PathKey, base: Any) -> None:
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
        forget_origins(origins, (*path, key), value)


def origin_of(
    origins: Mapping[PathKey, Path],
    path: PathKey,
    top: Path | None = None,
    top_paths: set[PathKey] | None = None,
) -> Path | str:
    """The file that set the value at ``path`` (:data:`WHAT_IF` if none did).

    For a mapping merged from several files, the loaded file ``top`` is named if it set
    anything inside it: that is where the user changed it. ``top_paths`` (from
    :func:`paths_set_by`) saves scanning every origin once per error.
    """
    if top is not None:
        if top_paths is None:
            top_paths = paths_set_by(origins, top)
        if path in top_paths:
            return top
    for cut in range(len(path), -1, -1):
        if path[:cut] in origins:
            return origins[path[:cut]]
    return WHAT_IF


def paths_set_by(origins: Mapping[PathKey, Path], file: Path) -> set[PathKey]:
    """Every path at or above a value that ``file`` set (linear in the origins)."""
    out: set[PathKey] = set()
    for key, origin in origins.items():
        if origin == file:
            for cut in range(len(key), -1, -1):
                if key[:cut] in out:
                    break
                out.add(key[:cut])
    return out
