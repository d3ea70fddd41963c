"""The Results object: value matrices, their row keys, the tidy table and summaries.

In memory, each scenario's results are a (replications x rows) matrix whose rows are
labelled by a :class:`~sim.results.keys.RowKeys` (frequency, period, metric, group); results
read from a folder hold a :class:`~sim.results.stored.StoredMatrix` instead, which reads the
columns it is indexed by (``values[:, mask]``) from the folder's table. The
tidy table (``scenario, replication, frequency, period, metric, group, value``) is built
from it on demand (:meth:`Results.table`) and read back into a matrix by
:func:`matrix_from_table`; statistics across replications are array operations on it.

No files here: writing and reading results folders is :mod:`sim.results.folder`
(:meth:`Results.save` hands over to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import FolderError
from sim.results.keys import KEY_COLUMNS, RowKeys
from sim.results.manifest import MANIFEST
from sim.results.statistics import summary_statistics
from sim.scenario.schema import Scenario

TIDY_COLUMNS = ["scenario", "replication", *KEY_COLUMNS, "value"]
"""Named in messages about a table read from a results folder."""

__all__ = ["KEY_COLUMNS", "TIDY_COLUMNS", "Results", "RowKeys", "matrix_from_table"]


@dataclass
class Results:
    """An experiment's outcome: scenarios as run, value matrices and manifest.

    ``values[name]`` is (replications x rows): a numpy array, or for results read from a
    folder a :class:`~sim.results.stored.StoredMatrix` (index it, ``values[:, columns]``, to
    read only those columns; ``np.asarray`` reads it all); ``keys[name]`` labels the rows.
    Replication ``r`` of every scenario used the same random streams, so rows of different
    scenarios can be paired.
    """

    scenarios: dict[str, Scenario]
    keys: dict[str, RowKeys]
    values: dict[str, np.ndarray]
    manifest: dict = field(default_factory=dict)

    @property
    def replications(self) -> int:
        return next(iter(self.values.values())).shape[0]

    def table(self) -> pd.DataFrame:
        """The tidy table: one row per scenario, replication, period, metric and group.

        Label columns are categorical, built from codes (the same labels repeat in every
        replication), which keeps a table of millions of rows quick to build and small.
        """
        names = list(self.values)
        labels = {
            c: sorted({v for k in self.keys.values() for v in getattr(k, c)}) for c in KEY_COLUMNS
        }
        columns: dict[str, list[np.ndarray]] = {
            c: [] for c in ("scenario", "replication", *KEY_COLUMNS, "value")
        }
        for index, name in enumerate(names):
            matrix = np.asarray(self.values[name])  # values read from a folder: read them all
            reps, rows = matrix.shape
            columns["scenario"].append(np.full(reps * rows, index, dtype=np.int16))
            columns["replication"].append(np.repeat(np.arange(reps, dtype=np.int32), rows))
            for column in KEY_COLUMNS:
                position = {v: i for i, v in enumerate(labels[column])}
                row_codes = np.fromiter(
                    (position[v] for v in getattr(self.keys[name], column)), np.int16, rows
                )
                columns[column].append(np.broadcast_to(row_codes, (reps, rows)).reshape(-1))
            columns["value"].append(matrix.reshape(-1))

        def joined(column: str) -> np.ndarray:
            parts = columns[column]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        frame = {
            "scenario": pd.Categorical.from_codes(joined("scenario"), names, validate=False),
            "replication": joined("replication"),
        }
        for column in KEY_COLUMNS:
            frame[column] = pd.Categorical.from_codes(
                joined(column), labels[column], validate=False
            )
        frame["value"] = joined("value")
        return pd.DataFrame(frame, copy=False)

    def summary(self) -> pd.DataFrame:
        """Per scenario and row: replications, mean, 95% CI of the mean and quantiles.

        NaN values (a period with no admissions has no mean wait) are left out of each
        statistic; ``replications`` counts the values used. Taken a block of rows at a time;
        for results read from a folder, read from its ``summary.csv`` (which holds exactly
        these figures), so the values are not read at all.
        """
        frames = []
        for name, values in self.values.items():
            frame = self.keys[name].frame()
            frame.insert(0, "scenario", name)
            stored = getattr(values, "stored_summary", None)
            statistics = stored(self.keys[name]) if stored is not None else None
            if statistics is None:
                statistics = summary_statistics(values)
            frames.append(pd.concat([frame, statistics], axis=1))
        return pd.concat(frames, ignore_index=True)

    def only(self, *names: str) -> Results:
        """These results restricted to the scenarios ``names``, in that order (of the same
        type)."""
        return type(self)(
            {name: self.scenarios[name] for name in names},
            {name: self.keys[name] for name in names},
            {name: self.values[name] for name in names},
            self.manifest,
        )

    def save(
        self,
        folder: str | Path,
        force: bool = False,
        extra_tables: Mapping | None = None,
        precision: float | None = None,
    ) -> Path:
        """Write the results folder atomically; refuse to replace one unless ``force``.

        The folder holds what ``python -m sim run`` writes, ``adequacy.csv`` included (at
        relative ``precision``, by default :data:`~sim.results.adequacy.DEFAULT_PRECISION`).
        ``extra_tables`` maps more file names to DataFrames written with it.
        """
        from sim.results.folder import save_results  # folder imports this module

        return save_results(
            self, folder, force=force, extra_tables=extra_tables, precision=precision
        )


# ------------------------------------------------------------ from the tidy table back

def matrix_from_table(
    rows: pd.DataFrame, replications: int, path: Path
) -> tuple[RowKeys, np.ndarray]:
    """One scenario's (replications x rows) matrix, placed by (replication, key).

    Rows in the order they were written (replication by replication, the same keys in the
    same order each time) keep that order; otherwise keys are put in sorted order (periods
    then run in time order). Exactly one value is required per replication and key.
    """
    name = str(rows["scenario"].iloc[0])
    rep = rows["replication"].to_numpy(np.int64)
    if rep.min() < 0 or rep.max() >= replications:
        raise FolderError(
            f"{path}: scenario {name}: replication {rep.min() if rep.min() < 0 else rep.max()} "
            f"outside 0 to {replications - 1} ({MANIFEST} records {replications})"
        )
    labels, combined = [], np.zeros(len(rows), dtype=np.int64)
    for column in KEY_COLUMNS:
        sorted_labels, codes = _sorted_codes(rows[column])
        labels.append(sorted_labels)
        combined = combined * len(sorted_labels) + codes
    value = rows["value"].to_numpy(dtype=float)
    n = len(rows) // replications
    if n * replications == len(rows) and n:
        block = combined.reshape(replications, n)
        if ((rep.reshape(replications, n) == np.arange(replications)[:, None]).all()
                and (block == block[0]).all() and len(np.unique(block[0])) == n):  # fmt: skip
            return _row_keys(block[0], labels), value.reshape(replications, n)
    unique, inverse = np.unique(combined, return_inverse=True)
    n = len(unique)
    counts = np.bincount(rep * n + inverse, minlength=replications * n)
    if (counts != 1).any():
        bad = int(np.flatnonzero(counts != 1)[0])
        what = "no value" if counts[bad] == 0 else f"{counts[bad]} values"
        key = _row_keys(unique[[bad % n]], labels)
        raise FolderError(
            f"{path}: scenario {name}: {what} for replication {bad // n}, "
            f"{key.frequency[0]} {key.period[0]} {key.metric[0]} {key.group[0]} "
            f"(rows missing or repeated in {int((counts != 1).sum()):,} places; one value per "
            "replication and row is needed)"
        )
    matrix = np.empty(replications * n)
    matrix[rep * n + inverse] = value
    return _row_keys(unique, labels), matrix.reshape(replications, n)


def _sorted_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels of a column and each row's position among them."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # the usual case: no strings per row
        categories = np.asarray(column.cat.categories.astype(str), dtype=object)
        order = np.argsort(categories)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return categories[order], rank[column.cat.codes.to_numpy(np.int64)]
    labels, codes = np.unique(column.astype(str).to_numpy(dtype=object), return_inverse=True)
    return labels, codes.astype(np.int64)


def _row_keys(combined: np.ndarray, labels: list[np.ndarray]) -> RowKeys:
    """Decode combined key codes into row labels."""
    columns = []
    for column_labels in reversed(labels):
        combined, code = np.divmod(combined, len(column_labels))
        columns.append(column_labels[code])
    return RowKeys(*reversed(columns))
