"""The tidy table on disk (``replications.parquet``), read a block at a time.

:func:`scan_table` reads a table back without holding it: one pass over its label columns,
a batch of rows at a time, checks that each scenario's rows come replication after
replication with the same keys each time (the order
:class:`~sim.results.writer.TableWriter` writes) and gives, per scenario, its row keys and
a :class:`StoredMatrix`, whose values are read when asked for, only the columns (or
replications) asked for. A table in any other
order is left to the caller (``None``), which reads it whole by its keys.
:func:`table_as_written` places the matrices of a table this process has just written
without reading a row (its ``summary.csv`` gives the keys).
:class:`LazyMatrix` is what a stored matrix, and a streamed run's chunks, have in common:
a read-only (replications x rows) matrix that reads what it is indexed by.
:func:`read_rows` reads the rows of some metrics a batch at a time.

No statistics here (see :mod:`sim.results.statistics`), no writing (see
:mod:`sim.results.writer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from sim.results.keys import KEY_COLUMNS, RowKeys
from sim.results.statistics import SUMMARY_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

CACHE_BYTES = 64 * 2**20
"""Values of a stored matrix kept after they were read (columns asked for again are not
read again)."""
_LABELS = ("scenario", *KEY_COLUMNS)
_LABELS_AS_WRITTEN = {"dtype": dict.fromkeys(_LABELS, str), "keep_default_na": False,
                      "na_values": [""]}  # fmt: skip
"""How ``summary.csv`` is read so its labels are the strings written (a group "NA" too)."""
_CODE_BITS = 16  # per label column in a row's combined key (so fewer than 2**15 labels each)


class LazyMatrix(NDArrayOperatorsMixin):
    """A read-only (replications x rows) matrix of floats whose values are read when indexed.

    ``m[:, columns]`` reads only those columns, for every replication, and ``m[rows]`` (or
    ``m[rows, columns]``) only those replications; both give numpy arrays. Anything else
    (``np.asarray(m)``, arithmetic, an ndarray method) reads the whole matrix first.
    Subclasses say how to read columns and replications.
    """

    dtype = np.dtype(float)
    ndim = 2
    __array_priority__ = 20

    def __init__(self, replications: int, rows: int):
        self.shape = (int(replications), int(rows))

    def _columns(self, positions: np.ndarray) -> np.ndarray:
        """(replications x len(positions)) values of the columns at ``positions``."""
        raise NotImplementedError

    def _replications(self, start: int, stop: int) -> np.ndarray:
        """((stop - start) x rows) values of replications ``start .. stop - 1``."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape})"

    def __getitem__(self, index):
        parts = index if isinstance(index, tuple) else (index,)
        if len(parts) > 2 or any(p is None or p is Ellipsis for p in parts):
            return np.asarray(self)[index]
        rows, columns = (*parts, slice(None))[:2]
        replications, width = self.shape
        if isinstance(rows, slice) and rows == slice(None):
            positions = np.arange(width)[columns]
            block = self._columns(np.atleast_1d(positions))
            return block[:, 0] if positions.ndim == 0 else block
        chosen = np.arange(replications)[rows]
        if chosen.size == 0:
            return np.empty((0, width))[..., columns]
        start, stop = int(chosen.min()), int(chosen.max()) + 1
        return self._replications(start, stop)[chosen - start][..., columns]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(np.asarray(self))

    def __array__(self, dtype=None, copy=None):
        values = self._replications(0, self.shape[0])
        return values if dtype is None else values.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(x, LazyMatrix) for x in kwargs.get("out", ())):
            return NotImplemented  # read-only
        inputs = tuple(np.asarray(x) if isinstance(x, LazyMatrix) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __getattr__(self, name: str):
        # ndarray methods (m.mean(axis=0), m.reshape(-1), ...) on the whole matrix, read
        if "shape" in vars(self) and not name.startswith("_") and hasattr(np.ndarray, name):
            return getattr(np.asarray(self), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def pieces(offset: int, length: int, width: int) -> Iterator[tuple[int, int, int, int]]:
    """Split rows ``offset .. offset + length - 1`` of a matrix laid out replication after
    replication (``width`` rows each) into ``(start, stop, replication, column)`` pieces,
    counted from ``offset``: either whole replications (``column`` 0, a multiple of
    ``width`` long) or part of one replication."""
    position, end = offset, offset + length
    while position < end:
        replication, column = divmod(position, width)
        if column == 0 and end - position >= width:
            stop = position + (end - position) // width * width
        else:
            stop = min(end, (replication + 1) * width)
        yield position - offset, stop - offset, replication, column
        position = stop


class StoredMatrix(LazyMatrix):
    """One scenario's (replications x rows) values in ``replications.parquet``, read when
    indexed (see :class:`LazyMatrix`); the folder's ``summary.csv`` gives its summary."""

    def __init__(self, table: StoredTable, name: str, segments: list, replications: int,
                 rows: int):  # fmt: skip
        super().__init__(replications, rows)
        self.table, self.name, self.segments = table, name, segments
        self._cache: dict[int, np.ndarray] = {}

    def stored_summary(self, keys: RowKeys) -> pd.DataFrame | None:
        """The statistics columns of this scenario's rows in ``summary.csv``, exactly as
        written, if that file holds them for ``keys`` (None otherwise)."""
        return self.table.summary(self.name, keys)

    def _values(self, first: int = 0, last: int | None = None) -> Iterator[tuple[np.ndarray, int]]:
        """This scenario's values from row ``first`` (up to ``last``) of its rows, a batch
        at a time: (values, row of the scenario the first is)."""
        last = self.size if last is None else last
        with self.table.open() as file:
            for group, start, stop, offset in self.segments:
                low, high = max(first, offset), min(last, offset + stop - start)
                if low >= high:
                    continue
                a, b = low - offset + start, high - offset + start  # rows of the row group
                for row, batch in _batches(file, group, ["value"]):
                    if row >= b:
                        break
                    if row + batch.num_rows > a:  # nulls are read as NaN
                        part = batch.column(0).slice(max(a - row, 0), min(b, row + batch.num_rows)
                                                     - max(a, row))  # fmt: skip
                        yield part.to_numpy(zero_copy_only=False), offset + max(a, row) - start
        _release()

    def _read(self, positions: np.ndarray) -> np.ndarray:
        replications, width = self.shape
        out = np.empty((replications, len(positions)))
        for flat, offset in self._values():
            for start, stop, replication, column in pieces(offset, len(flat), width):
                if column == 0 and stop - start >= width:
                    count = (stop - start) // width
                    whole = flat[start:stop].reshape(count, width)
                    out[replication : replication + count] = whole[:, positions]
                else:
                    inside = (positions >= column) & (positions < column + stop - start)
                    out[replication, inside] = flat[start + positions[inside] - column]
        return out

    def _columns(self, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        wanted = np.unique(positions)
        column_bytes = self.shape[0] * self.dtype.itemsize
        if len(wanted) * column_bytes > CACHE_BYTES:
            return self._read(positions)
        missing = np.array([p for p in wanted if p not in self._cache], dtype=np.int64)
        if len(missing):
            read = self._read(missing)
            while self._cache and (len(self._cache) + len(missing)) * column_bytes > CACHE_BYTES:
                self._cache.pop(next(iter(self._cache)))  # the oldest first
            for j, position in enumerate(missing):
                self._cache[int(position)] = np.ascontiguousarray(read[:, j])
        out = np.empty((self.shape[0], len(positions)))
        for j, position in enumerate(positions):
            out[:, j] = self._cache[int(position)]
        return out

    def _replications(self, start: int, stop: int) -> np.ndarray:
        width = self.shape[1]
        out = np.empty((stop - start) * width)
        for flat, offset in self._values(start * width, stop * width):
            out[offset - start * width : offset - start * width + len(flat)] = flat
        return out.reshape(stop - start, width)


class StoredTable:
    """A results folder's ``replications.parquet`` (read by :func:`scan_table`) and the
    ``summary.csv`` beside it; shared by the scenarios' :class:`StoredMatrix`."""

    def __init__(self, path: Path, summary_path: Path | None = None):
        self.path, self.summary_path = Path(path), summary_path
        self.matrices: dict[str, tuple[RowKeys, StoredMatrix]] = {}
        self._summary: pd.DataFrame | bool | None = None

    def open(self):
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.path, pre_buffer=False)

    def summary(self, name: str, keys: RowKeys) -> pd.DataFrame | None:
        """Scenario ``name``'s statistics (:data:`SUMMARY_COLUMNS`) from ``summary.csv``,
        read to the last digit, if it holds them for exactly the rows ``keys``."""
        if self._summary is None:
            self._summary = self._read_summary()
        table = self._summary
        if table is False:
            return None
        rows = table[table["scenario"].to_numpy(dtype=object) == name]
        if len(rows) != len(keys) or not all(
            np.array_equal(rows[c].to_numpy(dtype=object), np.asarray(getattr(keys, c), dtype=object))
            for c in KEY_COLUMNS
        ):
            return None
        return rows[list(SUMMARY_COLUMNS)].reset_index(drop=True)

    def _read_summary(self) -> pd.DataFrame | bool:
        import pandas as pd  # here, not at the top (see sim.results)

        if self.summary_path is None or not self.summary_path.is_file():
            return False
        labels = ["scenario", *KEY_COLUMNS]
        # every float to the last digit: pandas 3 does so by default (and deprecates the option)
        exact = {"float_precision": "round_trip"} if pd.__version__ < "3" else {}
        try:
            table = pd.read_csv(self.summary_path, **_LABELS_AS_WRITTEN, **exact)
        except (OSError, ValueError, pd.errors.ParserError):
            return False
        if list(table.columns) != [*labels, *SUMMARY_COLUMNS] or table[labels].isna().any().any():
            return False  # written by another version of the tool: compute it instead
        numbers = table[list(SUMMARY_COLUMNS)]
        if not pd.api.types.is_integer_dtype(numbers["replications"]) or not all(
            pd.api.types.is_float_dtype(numbers[c]) for c in SUMMARY_COLUMNS[1:]
        ):
            return False
        table["replications"] = table["replications"].astype(np.int64)
        return table


class _Labels:
    """One row batch's label columns: each as its dictionary indices (``local``), with the
    maps between its dictionary and the labels' numbers across the whole table."""

    def __init__(self, batch, ids: dict[str, dict[str, int]]):
        self.local, self.to_global, self.to_local = {}, {}, {}
        for column in _LABELS:
            found = _dictionary(batch.column(column), ids[column])
            if found is None:
                raise ValueError(f"{column}: missing or too many labels")
            self.local[column], self.to_global[column] = found
        for column in _LABELS:
            inverse = np.full(len(ids[column]), -1, dtype=np.int64)
            inverse[self.to_global[column]] = np.arange(len(self.to_global[column]))
            self.to_local[column] = inverse

    def global_codes(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {c: self.to_global[c][self.local[c][start:stop]] for c in KEY_COLUMNS}


class _Scan:
    """What :func:`scan_table` has seen of one scenario: where its rows are, how many a
    replication has and their keys (the first replication's, as label numbers)."""

    def __init__(self):
        self.segments: list[list[int]] = []  # [row group, start, stop, scenario row offset]
        self.offset = 0
        self.width: int | None = None
        self.first: list[dict[str, np.ndarray]] = []
        self.keys: dict[str, np.ndarray] = {}

    def feed(self, group: int, row: int, replication: np.ndarray, labels: _Labels,
             start: int, stop: int) -> bool:  # fmt: skip
        """Rows ``start .. stop - 1`` of a batch (``row ..`` of row group ``group``; its
        ``replication`` and ``labels``): True if they continue the layout."""
        last = self.segments[-1] if self.segments else None
        if last is not None and last[0] == group and last[2] == row + start:
            last[2] = row + stop
        else:
            self.segments.append([group, row + start, row + stop, self.offset])
        replication, seen = replication[start:stop], 0
        if self.width is None:  # still in the first replication
            later = np.flatnonzero(replication != 0)
            seen = len(replication) if len(later) == 0 else int(later[0])
            self.first.append(labels.global_codes(start, start + seen))
            if seen < len(replication):
                self._settle(self.offset + seen)
                if not self.width:  # the scenario's rows do not start at replication 0
                    return False
        ok = True
        if self.width is not None and seen < len(replication):
            expected = {c: labels.to_local[c][self.keys[c]] for c in KEY_COLUMNS}
            local = {c: labels.local[c][start + seen : stop] for c in KEY_COLUMNS}
            ok = _follows(replication[seen:], local, self.offset + seen, self.width, expected)
        self.offset += len(replication)
        return ok

    def _settle(self, width: int) -> None:
        self.width = width
        self.keys = {c: np.concatenate([part[c] for part in self.first]) for c in KEY_COLUMNS}
        self.first = []

    def finish(self, replications: int) -> bool:
        if self.width is None:
            self._settle(self.offset)
        combined = np.zeros(self.width, dtype=np.int64)
        for column in KEY_COLUMNS:
            combined = (combined << _CODE_BITS) | self.keys[column]
        return (self.width > 0 and self.offset == replications * self.width
                and len(np.unique(combined)) == self.width)  # fmt: skip


def _follows(replication, local: dict, offset: int, width: int, expected: dict) -> bool:
    """Whether rows from ``offset`` have the replication and labels the layout says
    (``local``: their dictionary indices; ``expected``: a replication's, in the same)."""
    for start, stop, first, column in pieces(offset, len(replication), width):
        if column == 0 and stop - start >= width:
            count = (stop - start) // width
            if not (replication[start:stop].reshape(count, width)
                    == np.arange(first, first + count)[:, None]).all():  # fmt: skip
                return False
            if not all((local[c][start:stop].reshape(count, width) == expected[c]).all()
                       for c in KEY_COLUMNS):  # fmt: skip
                return False
        elif not ((replication[start:stop] == first).all()
                  and all((local[c][start:stop] == expected[c][column : column + stop - start]).all()
                          for c in KEY_COLUMNS)):  # fmt: skip
            return False
    return True


def _dictionary(array, ids: dict[str, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """A label column of a row batch as (dictionary indices, the number across the table of
    each dictionary entry); None if it has missing labels or too many."""
    import pyarrow as pa

    if array.null_count:
        return None
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    if array.dictionary.null_count:
        return None
    to_global = np.array([ids.setdefault(str(v), len(ids)) for v in array.dictionary.to_pylist()],
                         dtype=np.int64)  # fmt: skip
    if len(ids) >= 2 ** (_CODE_BITS - 1):
        return None
    return array.indices.to_numpy(zero_copy_only=False), to_global


BATCH_ROWS = 2**18
"""Rows of a table decoded at once when it is read a batch at a time."""


def _batches(file, group: int, columns: list[str]) -> Iterator[tuple[int, object]]:
    """(first row, record batch) of ``columns`` of row group ``group``, a batch at a time."""
    row = 0
    for batch in file.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns,
                                   use_threads=False):  # fmt: skip
        yield row, batch
        row += batch.num_rows


def _release() -> None:
    """Hand the memory Arrow no longer uses back to the system (its pool keeps it)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def scan_table(path: Path, replications: int, summary_path: Path | None = None
               ) -> StoredTable | None:  # fmt: skip
    """The scenarios of the tidy table at ``path``, read by their keys without holding the
    table: a :class:`StoredTable` whose ``matrices`` map each scenario (in the order of the
    file) to its row keys and lazily read values. ``None`` if the table is not laid out as
    :class:`~sim.results.writer.TableWriter` writes it (each scenario's rows together,
    replication after replication ``0 .. replications - 1``, the same keys in the same
    order in each, no missing labels), or cannot be read: read it whole then, which also
    says what is wrong.
    Every row is checked, a batch at a time, in each batch's own dictionary codes.
    """
    import pyarrow as pa

    if not path.is_file():
        return None
    stored = StoredTable(path, summary_path)
    ids: dict[str, dict[str, int]] = {c: {} for c in _LABELS}
    scans: dict[int, _Scan] = {}
    try:
        file = stored.open()
        schema = file.schema_arrow
        if not ({*_LABELS, "replication", "value"} <= set(schema.names)
                and pa.types.is_float64(schema.field("value").type)
                and pa.types.is_integer(schema.field("replication").type)):  # fmt: skip
            return None
        for group in range(file.num_row_groups):
            for row, batch in _batches(file, group, [*_LABELS, "replication"]):
                if batch.column("replication").null_count:
                    return None
                labels = _Labels(batch, ids)
                replication = batch.column("replication").to_numpy(zero_copy_only=False)
                scenario = labels.local["scenario"]
                bounds = [0, *(np.flatnonzero(np.diff(scenario)) + 1), len(scenario)]
                for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
                    which = int(labels.to_global["scenario"][scenario[start]])
                    if which in scans and list(scans)[-1] != which:
                        return None  # a scenario's rows in two places
                    scan = scans.setdefault(which, _Scan())
                    if not scan.feed(group, row, replication, labels, start, stop):
                        return None
    except (OSError, ValueError, pa.ArrowException):
        return None
    finally:
        _release()
    names = {code: name for name, code in ids["scenario"].items()}
    labels = {c: np.array(list(ids[c]), dtype=object) for c in KEY_COLUMNS}
    for which, scan in scans.items():
        if not scan.finish(replications):
            return None
        keys = RowKeys(*(labels[c][scan.keys[c]] for c in KEY_COLUMNS))
        matrix = StoredMatrix(stored, names[which], [tuple(s) for s in scan.segments],
                              replications, scan.width)  # fmt: skip
        stored.matrices[names[which]] = (keys, matrix)
    return stored


def table_as_written(path: Path, summary_path: Path, replications: int) -> StoredTable:
    """The table at ``path`` of a results folder this process has just written, placed
    without reading a row: the folder's ``summary.csv`` (at ``summary_path``) lists each
    scenario's row keys in the order the table holds them, ``replications`` times over
    (:class:`~sim.results.writer.ResultsWriter` writes both), so the file's row-group sizes
    say where each :class:`StoredMatrix` lies. A table from anywhere else is read by
    :func:`scan_table`, which checks every row.

    Raises ValueError if the table does not hold the rows the summary and ``replications``
    make.
    """
    import pandas as pd  # here, not at the top (see sim.results)

    labels = pd.read_csv(summary_path, usecols=list(_LABELS), **_LABELS_AS_WRITTEN)
    scenario = labels["scenario"].to_numpy(dtype=object)
    bounds = [0, *(np.flatnonzero(scenario[1:] != scenario[:-1]) + 1), len(scenario)]
    stored = StoredTable(path, summary_path)
    with stored.open() as file:
        sizes = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
    if sum(sizes) != replications * len(scenario):
        raise ValueError(f"{path}: {sum(sizes):,} rows where {summary_path.name} and "
                         f"{replications} replications make {replications * len(scenario):,}")  # fmt: skip
    group, start = 0, 0  # where the next scenario's rows begin
    for first, stop in zip(bounds[:-1], bounds[1:], strict=True):
        width, offset, segments = stop - first, 0, []
        while offset < replications * width:
            taken = min(sizes[group] - start, replications * width - offset)
            if taken:
                segments.append((group, start, start + taken, offset))
            offset, start = offset + taken, start + taken
            if start == sizes[group]:
                group, start = group + 1, 0
        keys = RowKeys(*(labels[c].to_numpy(dtype=object)[first:stop] for c in KEY_COLUMNS))
        name = str(scenario[first])
        stored.matrices[name] = (keys, StoredMatrix(stored, name, segments, replications, width))
    return stored


def read_rows(path: str | Path, metrics=None, frequency: str | None = None) -> pd.DataFrame:
    """The rows of the tidy table at ``path`` of the metrics ``metrics`` (all if None) and
    of ``frequency`` (all if None), as ``pd.read_parquet`` with those filters gives them,
    but read a batch at a time, so that only the rows kept are held (the filtered read
    holds several row groups of every column at once)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = {"metric": None if metrics is None else {str(m) for m in metrics},
              "frequency": None if frequency is None else {str(frequency)}}  # fmt: skip
    kept = []
    with pq.ParquetFile(path, pre_buffer=False) as file:
        for batch in file.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
            mask = np.ones(batch.num_rows, dtype=bool)
            for column, labels in wanted.items():
                if labels is not None:
                    mask &= _label_in(batch.column(column), labels)
            kept.append(batch.filter(pa.array(mask)))
        schema = file.schema_arrow
    _release()
    return pa.Table.from_batches(kept, schema=schema).to_pandas()


def _label_in(array, labels: set[str]) -> np.ndarray:
    """Which rows of a label column hold one of ``labels`` (read by its dictionary, not
    label by label)."""
    import pyarrow as pa

    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    chosen = np.array([v in labels for v in array.dictionary.to_pylist()] + [False])
    indices = array.indices.to_numpy(zero_copy_only=False) if not array.null_count else (
        array.indices.fill_null(len(chosen) - 1).to_numpy(zero_copy_only=False))  # fmt: skip
    return chosen[indices]
