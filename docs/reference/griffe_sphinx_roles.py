"""Griffe extension for the API reference: docstrings written for Sphinx, read as Markdown.

The docstrings use numpy-style sections (which mkdocstrings parses) and Sphinx roles such as
``:func:`load_scenario``` and ``:mod:`sim.results.keys```. This extension, loaded by
``mkdocs.yml``, turns each role into a cross-reference to the object it names, resolved the
way Python would from the docstring's own scope (the module's imports and members, then its
parents'). A reference to an object the site does not document renders as plain code; a
reference that names no object in the package at all is a warning, so ``mkdocs build
--strict`` fails on it. It also turns a paragraph ending in ``::`` (a literal block) into one
ending in ``:``, since the indented block after it is already code in Markdown.

Docs tooling only: nothing in ``sim`` imports it.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from griffe import Alias, Extension, Object

logger = logging.getLogger("mkdocs.plugins.griffe_sphinx_roles")  # strict mode counts these

ROLE = re.compile(r":(?:py:)?(mod|func|class|meth|attr|data|exc|obj|const):`(?P<target>[^`]+)`")
LITERAL_BLOCK = re.compile(r"(?<=\S)::[ \t]*$", re.MULTILINE)
EXTERNAL = ("numpy", "np.", "pandas", "pd.", "scipy", "simpy", "pydantic", "matplotlib", "dask")


def _exists(obj: Object, path: str) -> bool:
    try:
        obj.modules_collection.get_member(path)
    except Exception:  # KeyError, or an alias that points outside the package
        return False
    return True


def _resolve(obj: Object, target: str, index: dict[str, list[str]]) -> str | None:
    """The full path of ``target`` as named in ``obj``'s docstring, or None if it names nothing.

    Like Sphinx: a full path; else a name in the scope of the object or of one of its parents
    (members, inherited members and imports), with any attribute after it
    (``Results.save``); else the one object in the package with that name (a name the
    module re-exports lazily, or one it does not import)."""
    if _exists(obj, target):  # already a full path (sim.results.keys)
        return target
    first, _, rest = target.partition(".")
    scope: Object | None = obj
    while scope is not None:
        if scope.is_class and first in scope.all_members:  # inherited methods (Layout.row_keys)
            member = scope.all_members[first]
            path = member.target_path if isinstance(member, Alias) else member.path
        else:
            try:
                path = scope.resolve(first)
            except Exception:  # NameResolutionError
                path = None
        if path is not None:
            full = f"{path}.{rest}" if rest else path
            if _exists(obj, full) or not full.startswith(obj.package.name):
                return full
        scope = scope.parent
    candidates = index.get(first, [])
    if len(candidates) == 1:
        full = f"{candidates[0]}.{rest}" if rest else candidates[0]
        if _exists(obj, full):
            return full
    return None


def _rewrite(obj: Object, text: str, index: dict[str, list[str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        target = re.sub(r"\s+", "", match["target"])  # a role wrapped across two lines
        shown = target
        if target.startswith("~"):  # Sphinx: show only the last component
            target = target[1:]
            shown = target.rpartition(".")[2]
        target = target.lstrip(".")
        code = f"<code>{html.escape(shown)}</code>"
        path = _resolve(obj, target, index)
        if path is None:
            if not target.startswith(EXTERNAL):
                location = f"{obj.relative_filepath}:{obj.lineno or 1}"
                logger.warning(
                    "%s: docstring of %s names %r, which is no single object in the package",
                    location, obj.path, target,
                )
            return code
        return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'

    text = ROLE.sub(replace, text)
    return LITERAL_BLOCK.sub(":", text)


def _walk(pkg: Object) -> list[Object]:
    """Every object defined in the package (not the names it imports)."""
    found, stack = [], [pkg]
    while stack:
        obj = stack.pop()
        found.append(obj)
        stack.extend(m for m in obj.members.values() if not isinstance(m, Alias))
    return found


class SphinxRoles(Extension):
    """Rewrite every docstring in a loaded package once, after the whole package is loaded."""

    def on_package(self, *, pkg: Object, **kwargs: Any) -> None:
        objects = _walk(pkg)
        index: dict[str, list[str]] = {}  # name -> full paths of the objects with that name
        for obj in objects:
            index.setdefault(obj.name, []).append(obj.path)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = _rewrite(obj, obj.docstring.value, index)
