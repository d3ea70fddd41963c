"""Results: what an experiment produced, in memory and on disk.

* :mod:`sim.results.keys` -- :class:`RowKeys`, the labels of a value matrix's rows (numpy
  only: workers import it);
* :mod:`sim.results.tables` -- :class:`Results` (value matrices, tidy table, summary);
* :mod:`sim.results.statistics` and :mod:`sim.results.adequacy` -- statistics across
  replications;
* :mod:`sim.results.folder` -- results folders: the one atomic writer of folders and
  files, :func:`load_results`;
* :mod:`sim.results.manifest` -- provenance recorded with a run.

Below the experiment layer: nothing here runs a simulation. Names are imported on first
use, so importing :mod:`sim.results.keys` or :mod:`sim.results.manifest` does not import
pandas.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "KEY_COLUMNS": "sim.results.keys",
    "RowKeys": "sim.results.keys",
    "Results": "sim.results.tables",
    "TIDY_COLUMNS": "sim.results.tables",
    "replication_adequacy": "sim.results.adequacy",
    "ADEQUACY_FILE": "sim.results.adequacy",
    "DEFAULT_PRECISION": "sim.results.adequacy",
    "load_results": "sim.results.folder",
    "save_results": "sim.results.folder",
    "atomic_folder": "sim.results.folder",
    "atomic_file": "sim.results.folder",
    "write_csv_atomically": "sim.results.folder",
    "check_output_folder": "sim.results.folder",
    "scenario_to_yaml_tree": "sim.results.folder",
    "MANIFEST": "sim.results.folder",
    "TABLE_FILE": "sim.results.folder",
    "SUMMARY_FILE": "sim.results.folder",
    "SCENARIO_DIR": "sim.results.folder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim.results' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
