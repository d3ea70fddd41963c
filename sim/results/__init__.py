"""Results: what an experiment produced, in memory and on disk.

* :mod:`sim.results.keys` -- :class:`RowKeys`, the labels of a value matrix's rows (numpy
  only: workers import it);
* :mod:`sim.results.tables` -- :class:`Results` (value matrices, tidy table, summary);
* :mod:`sim.results.statistics` and :mod:`sim.results.adequacy` -- statistics across
  replications;
* :mod:`sim.results.folder` -- results folders: the one atomic writer of folders and
  files, :func:`load_results`;
* :mod:`sim.results.writer` -- what a results folder holds, written scenario by scenario
  and block by block (:class:`~sim.results.writer.ResultsWriter`);
* :mod:`sim.results.stored` -- the tidy table on disk, written a block of replications at
  a time and read back lazily (:class:`StoredMatrix`, :func:`read_rows`);
* :mod:`sim.results.manifest` -- provenance recorded with a run, and the manifest's name;
* :mod:`sim.results.defaults` -- defaults the command line shows (standard library only).

Below the experiment layer: nothing here runs a simulation. Names are imported on first
use, so importing :mod:`sim.results.keys`, :mod:`sim.results.manifest` or
:mod:`sim.results.defaults` (or taking ``MANIFEST`` or ``DEFAULT_PRECISION`` from here) does
not import pandas. Nor does importing the modules a streamed run's parent process sets its
results folder up with before it starts the workers (folder, writer, stored, statistics,
adequacy): they import pandas (and :mod:`sim.results.tables`) inside the functions that
use it, so the workers start without waiting the quarter of a second that takes.
"""

from __future__ import annotations

from sim.lazy import lazy_exports

_EXPORTS = {  # module: the names this package exports from it
    "sim.results.keys": ("KEY_COLUMNS", "RowKeys"),
    "sim.results.tables": ("Results", "TIDY_COLUMNS"),
    "sim.results.adequacy": ("replication_adequacy", "ADEQUACY_FILE"),
    "sim.results.stored": ("StoredMatrix", "read_rows"),
    "sim.results.defaults": ("DEFAULT_PRECISION",),  # light: the command line's help shows it
    "sim.results.manifest": ("MANIFEST",),
    "sim.results.folder": (
        "load_results", "save_results", "atomic_folder", "atomic_file", "write_csv_atomically",
        "check_output_folder", "scenario_to_yaml_tree", "TABLE_FILE", "SUMMARY_FILE",
        "SCENARIO_DIR",
    ),
}

__all__, __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
