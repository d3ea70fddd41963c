"""``extends:``: a variant file read over its parent, each value remembering its file.

:func:`resolve_file` reads a file (:mod:`sim.scenario.files`) and, recursively, the file
its ``extends`` names (relative to it), then deep-merges the variant over the parent:
mappings merge key by key, anything else replaces. A section that switches to another
member of a union (``distribution: fixed`` over a gamma duration) is replaced, not merged.
A variant that overrides an annotated value without saying where its new value comes from
gets an assumption naming the variant's file. The origins (:mod:`sim.scenario.provenance`)
record which file set each value, so errors name the right file.

The result is a raw tree, not yet validated: see :func:`sim.scenario.loader.build_scenario`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.annotations import is_annotated
from sim.scenario.files import read_yaml
from sim.scenario.paths import PathKey
from sim.scenario.provenance import Origins, forget_origins, record_origins
from sim.scenario.schema import UNION_DISCRIMINATORS

MAX_EXTENDS = 32
"""Longest ``extends`` chain; the shipped variants are at most 3 files deep."""


def _switches_member(base: Any, override: Any) -> bool:
    """True if ``override`` picks another member of a union than ``base`` (for example
    ``distribution: fixed`` over a gamma duration): the member's keys differ, so the
    override replaces the section instead of merging into it."""
    return isinstance(base, dict) and any(
        key in base and key in override and base[key] != override[key]
        for key in UNION_DISCRIMINATORS
    )


UNCERTAINTY_KEYS = ("unit", "range", "distribution", "shape", "sd", "sigma")
"""What a variant keeps from the note of a value it re-annotates without saying."""


def _merge(base: Any, override: Any, path: PathKey, file: Path, origins: Origins) -> Any:
    """Deep-merge ``override`` (from ``file``) over ``base``; returns a new object."""
    variant_note = f"value set by the variant {file.name}"
    if is_annotated(base) and not is_annotated(override) and not isinstance(override, dict):
        # A bare value replaces an annotated one: keep the unit, say who changed it.
        merged = {"value": override, "assumption": variant_note}
        if "unit" in base:
            merged["unit"] = base["unit"]
        return _replaced(base, merged, path, file, origins)
    if is_annotated(base) and is_annotated(override):
        merged = {k: v for k, v in base.items() if k in UNCERTAINTY_KEYS}
        merged.update(override)
        if "source" not in override and "assumption" not in override:
            merged["assumption"] = variant_note
        return _replaced(base, merged, path, file, origins)
    if (
        isinstance(base, dict)
        and isinstance(override, dict)
        and not _switches_member(base, override)
        and not (is_annotated(override) and not is_annotated(base))
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
    return _replaced(base, copy.deepcopy(override), path, file, origins)


def _replaced(base: Any, new: Any, path: PathKey, file: Path, origins: Origins) -> Any:
    """``new`` (from ``file``) in place of ``base`` at ``path``: the origins of everything
    ``base`` held are dropped and ``file`` becomes the origin of all of ``new``."""
    forget_origins(origins, path, base)
    record_origins(new, path, file, origins)
    return new


def _resolved(path: Path, file: Path | None = None) -> Path:
    """``path`` made absolute with symbolic links followed, or a ScenarioError (a link
    loop, a name too long) naming ``file`` (the file whose ``extends`` gave it) if any."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic-link loop (3.11, 3.12)
        if file is None:
            raise ScenarioError(path, "", f"cannot be read: {exc}") from None
        raise ScenarioError(file, "extends", f"cannot follow {str(path)!r}: {exc}") from None


def resolve_file(path: Path, _chain: tuple[Path, ...] = ()) -> tuple[dict, Origins]:
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
        origins: Origins = {}
        record_origins(raw, (), path, origins)
        return raw, origins
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise ScenarioError(path, "extends", "must be the path of another scenario file")
    parent_path = _resolved(path.parent / parent_ref, path)
    if not parent_path.exists():
        raise ScenarioError(path, "extends", f"parent scenario {parent_ref!r} not found")
    base, origins = resolve_file(parent_path, (*_chain, path))
    base.pop("description", None)  # a variant describes itself or says nothing
    base.pop("title", None)  # and is called by its own title, or by its name
    return _merge(base, raw, (), path, origins), origins
