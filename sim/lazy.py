"""Lazy re-exports for a package's ``__init__``: names imported from their modules on first use.

Used by :mod:`sim` and :mod:`sim.results`, so that importing a light module below them (the
model in a worker process, :mod:`sim.results.keys`) does not import pandas. Foundation: it
imports nothing else in ``sim``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], exports: Mapping[str, Iterable[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is
    ``namespace``, exporting the names ``exports`` lists under the module each lives in.

    A name is imported from its module on first use and then kept in ``namespace``, so later
    uses are ordinary lookups."""
    package = namespace["__name__"]
    home = {name: module for module, names in exports.items() for name in names}
    names = sorted(home)

    def module_getattr(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return names

    return names, module_getattr, module_dir
