"""What a results folder holds, written scenario by scenario and block by block.

:class:`ResultsWriter` writes the scenarios as run (``scenarios/<name>.yaml``), the tidy
table (``replications.parquet``, through :class:`TableWriter`), the summary
(``summary.csv``), ``adequacy.csv`` and any per-row tables computed from the values (such
as a parameter run's variance split), into a folder it is given: a staging folder of
:func:`~sim.results.folder.atomic_folder`. It takes results held in memory
(:meth:`ResultsWriter.add`) or streamed from a run's chunks on disk
(:mod:`sim.experiment.store`: the table a chunk at a time as the chunks arrive, then
:meth:`ResultsWriter.add_scenario`). Statistics are taken a block of columns at a time
(:func:`~sim.results.statistics.blockwise`), so no step holds the whole tidy table, nor,
for values on disk, the whole value matrix; the files are the same to the last byte
either way.

:class:`TableWriter` appends a scenario's rows a block of replications at a time, each
block one row group (split, at whole replications, only past :data:`MAX_GROUP_ROWS` rows),
its label columns dictionary-encoded from codes worked out once per scenario. The file
holds exactly the rows, values and Arrow schema that
``pyarrow.Table.from_pandas(results.only(name).table())`` gives, scenario after scenario,
in the same order (NaN values stored as nulls, as pandas hands them to Arrow), without the
whole table ever in memory; :mod:`sim.results.stored` reads it back.

No atomic renames here (:mod:`sim.results.folder` does them) and no simulation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from sim.results.adequacy import ADEQUACY_COLUMNS, ADEQUACY_FILE, DEFAULT_PRECISION, adequacy_rows
from sim.results.keys import KEY_COLUMNS, RowKeys
from sim.results.manifest import MANIFEST
from sim.results.statistics import blockwise, summary_columns
from sim.scenario.paths import parse_path
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from sim.results.tables import Results

TABLE_FILE = "replications.parquet"
SUMMARY_FILE = "summary.csv"
SCENARIO_DIR = "scenarios"

ColumnStatistics = Callable[[np.ndarray], Mapping[str, np.ndarray]]
"""Per-column statistics of a (replications x columns) block: named arrays, one value per
column (for example :func:`sim.experiment.uncertainty.variance_split`)."""


MAX_GROUP_ROWS = 2**20
"""Most rows in one row group of the table: a streamed run's chunk is one row group up to
this (about 150 replications of a 5-year forecast), and is split at whole replications past
it, so that a reader holds little of the table at a time."""
_LABEL_COLUMNS = ("scenario", *KEY_COLUMNS)


def index_type(labels: int) -> np.dtype:
    """The dictionary index type pandas gives a categorical of ``labels`` categories."""
    for dtype in (np.int8, np.int16, np.int32):
        if labels < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


class _Encoded:
    """One scenario's label columns as dictionary codes, built once and reused per block."""

    def __init__(self, name: str, keys: RowKeys, schema):
        import pyarrow as pa

        self.rows = len(keys)
        self.dictionaries, self.codes = {}, {}
        for column in _LABEL_COLUMNS:
            field = schema.field(column)
            index = field.type.index_type.to_pandas_dtype()
            if column == "scenario":
                self.dictionaries[column] = pa.array([name], type=field.type.value_type)
                self.codes[column] = np.zeros(self.rows, dtype=index)
                continue
            values = getattr(keys, column)
            labels = sorted({str(v) for v in values})  # as Results.table() orders them
            position = {label: i for i, label in enumerate(labels)}
            self.dictionaries[column] = pa.array(labels, type=field.type.value_type)
            self.codes[column] = np.fromiter((position[str(v)] for v in values), index, len(values))
        self._tiled: tuple[int, dict] = (0, {})

    def label_arrays(self, count: int) -> dict:
        """Each label column's dictionary array for ``count`` replications of rows."""
        import pyarrow as pa

        if self._tiled[0] != count:  # the same count block after block: tile once
            self._tiled = (count, {
                column: pa.DictionaryArray.from_arrays(np.tile(codes, count),
                                                       self.dictionaries[column])
                for column, codes in self.codes.items()
            })  # fmt: skip
        return self._tiled[1]


class TableWriter:
    """Writes ``replications.parquet`` a block of replications at a time.

    ``keys`` maps each scenario to be written to its row keys. Call :meth:`write` with each
    scenario's blocks in replication order, scenario after scenario; :meth:`close` when done
    (or use as a context manager).
    """

    def __init__(self, path: str | Path, keys: Mapping[str, RowKeys] | None = None):
        self.path = Path(path)
        self.keys = dict(keys or {})
        self._writer = None
        self._schema = None
        self._encoded: dict[str, _Encoded] = {}

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self, name: str, keys: RowKeys) -> None:
        """The file's schema: the first scenario's table's, as pandas makes it (with its
        metadata), with wider dictionary indices if a later scenario has more labels."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from sim.results.tables import Results  # here, not at the top (see sim.results)

        one = Results({}, {name: keys}, {name: np.zeros((1, len(keys)))}).table()
        schema = pa.Schema.from_pandas(one, preserve_index=False)
        for column in KEY_COLUMNS:
            field = schema.field(column)
            widest = max((index_type(len(set(getattr(k, column))))
                          for k in [keys, *self.keys.values()]), key=lambda t: t.itemsize)  # fmt: skip
            if widest.itemsize > field.type.index_type.byte_width:
                wider = pa.dictionary(pa.from_numpy_dtype(widest), field.type.value_type)
                schema = schema.set(schema.get_field_index(column), field.with_type(wider))
        self._schema = schema
        self._writer = pq.ParquetWriter(
            self.path, schema,
            use_dictionary=[*_LABEL_COLUMNS, "replication"],  # not the values: slower and larger
            write_statistics=["replication"],  # statistics of dictionary columns are costly
        )  # fmt: skip

    def write(self, name: str, first: int, block: np.ndarray, keys: RowKeys | None = None):
        """Append the rows of replications ``first .. first + len(block) - 1`` of scenario
        ``name`` (``block``: their (replications x rows) values; ``keys``: its row keys, if
        not given when the writer was made)."""
        import pyarrow as pa

        keys = self.keys.setdefault(name, keys) if keys is not None else self.keys[name]
        if self._writer is None:
            self._open(name, keys)
        encoded = self._encoded.get(name)
        if encoded is None:
            self._encoded = {name: _Encoded(name, keys, self._schema)}  # one scenario at a time
            encoded = self._encoded[name]
        block = np.asarray(block, dtype=float)
        if block.ndim != 2 or block.shape[1] != encoded.rows:
            raise ValueError(f"scenario {name}: values of shape {block.shape} for "
                             f"{encoded.rows} rows per replication")  # fmt: skip
        per_group = max(1, MAX_GROUP_ROWS // max(1, encoded.rows))
        for start in range(0, len(block), per_group):
            part = block[start : start + per_group]
            count = len(part)
            labels = encoded.label_arrays(count)
            replication_type = self._schema.field("replication").type.to_pandas_dtype()
            replication = np.repeat(np.arange(first + start, first + start + count,
                                              dtype=replication_type), encoded.rows)  # fmt: skip
            columns = {**labels, "replication": pa.array(replication),
                       "value": pa.array(part.reshape(-1), from_pandas=True)}  # fmt: skip
            table = pa.Table.from_arrays([columns[f.name] for f in self._schema],
                                         schema=self._schema)  # fmt: skip
            self._writer.write_table(table, row_group_size=len(table))



class ResultsWriter:
    """Writes the contents of a results folder scenario by scenario.

    Use as a context manager so the Parquet file is closed whatever happens; call
    :meth:`finish` last. ``keys`` (each scenario's row keys, in the order they will be
    written) lets the table's schema fit every scenario; ``column_tables`` maps more file
    names to per-column statistics (:data:`ColumnStatistics`) of each scenario's values,
    written with the scenario and row keys in front (as ``variance_split.csv``). Each
    scenario's replication adequacy (at relative ``precision``) is worked out as it is added
    and written as ``adequacy.csv``.
    """

    def __init__(
        self,
        folder: str | Path,
        precision: float | None = None,
        keys: Mapping[str, RowKeys] | None = None,
        column_tables: Mapping[str, ColumnStatistics] | None = None,
    ):
        self.folder = Path(folder)
        self.precision = DEFAULT_PRECISION if precision is None else precision
        self._table = TableWriter(self.folder / TABLE_FILE, keys)
        self._summary_header = True
        self._adequacy: list[list[tuple]] = []  # per scenario added
        self._column_tables = dict(column_tables or {})
        self._column_frames: dict[str, list[pd.DataFrame]] = {n: [] for n in self._column_tables}
        (self.folder / SCENARIO_DIR).mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._table.close()

    def add(self, results: Results) -> None:
        """Add the scenarios in ``results`` (their scenario files, rows and summaries)."""
        for name, scenario in results.scenarios.items():
            self.add_scenario(scenario, results.keys[name], results.values[name])

    def write_rows(self, name: str, keys: RowKeys, first: int, block: np.ndarray) -> None:
        """Append the table's rows of replications ``first ..`` of scenario ``name``
        (``block``: their values); scenario after scenario, in replication order."""
        self._table.write(name, first, block, keys)

    def add_scenario(self, scenario: Scenario, keys: RowKeys, values,
                     rows_written: bool = False, threads: int | None = None) -> None:  # fmt: skip
        """Add one scenario: its file, its table rows (unless already written with
        :meth:`write_rows`) and its statistics. ``values`` is its (replications x rows)
        matrix, or anything that gives blocks of it by ``values[:, start:stop]`` and
        replications by ``values[first:stop]`` (values on disk). Statistics are taken
        ``threads`` blocks at a time (default: up to 4, one per core, for a numpy matrix;
        give more only for values safe to read from threads)."""
        import pandas as pd  # here, not at the top (see sim.results)

        name = scenario.name
        text = yaml.safe_dump(scenario_to_yaml_tree(scenario), sort_keys=False,
                              allow_unicode=True)  # fmt: skip
        (self.folder / SCENARIO_DIR / f"{name}.yaml").write_text(text, encoding="utf-8")
        replications, rows = values.shape
        if not rows_written:
            step = max(1, MAX_GROUP_ROWS // max(1, rows))  # a row group at a time
            for first in range(0, replications, step):
                self.write_rows(name, keys, first, np.asarray(values[first : first + step]))

        tables = {SUMMARY_FILE: summary_columns, **self._column_tables}
        stored = getattr(values, "stored_summary", None)  # values read back from a folder
        written = stored(keys) if stored is not None and len(tables) == 1 else None
        if written is not None:
            found = {(SUMMARY_FILE, c): written[c].to_numpy() for c in written}
        else:
            if threads is None:
                threads = min(4, os.cpu_count() or 1) if isinstance(values, np.ndarray) else 1
            found = blockwise(lambda start, stop: values[:, start:stop], values.shape,
                              lambda block: {(file, c): v for file, compute in tables.items()
                                             for c, v in compute(block).items()},
                              threads=threads)  # fmt: skip
        frame = keys.frame()
        frame.insert(0, "scenario", name)
        columns = {file: {c: v for (f, c), v in found.items() if f == file} for file in tables}
        summary = pd.concat([frame, pd.DataFrame(columns[SUMMARY_FILE])], axis=1)
        summary.to_csv(self.folder / SUMMARY_FILE, index=False,
                       mode="w" if self._summary_header else "a", header=self._summary_header)  # fmt: skip
        self._summary_header = False
        for file in self._column_tables:
            self._column_frames[file].append(frame.assign(**columns[file]))
        self._adequacy.append(adequacy_rows(name, keys, values, self.precision))

    def finish(
        self, manifest: dict, extra_tables: Mapping[str, pd.DataFrame] | None = None
    ) -> None:
        """Write ``adequacy.csv``, the extra tables (one of the same name replaces it), the
        per-row tables and the manifest (last: it marks a complete folder)."""
        import pandas as pd  # here, not at the top (see sim.results)

        self.__exit__()
        tables = {}
        if self._adequacy:
            rows = [row for scenario in self._adequacy for row in scenario]
            tables[ADEQUACY_FILE] = pd.DataFrame(rows, columns=ADEQUACY_COLUMNS)
        tables |= extra_tables or {}
        tables |= {file: pd.concat(frames, ignore_index=True)
                   for file, frames in self._column_frames.items() if frames}  # fmt: skip
        for name, table in tables.items():
            table.to_csv(self.folder / name, index=False)
        (self.folder / MANIFEST).write_text(
            json.dumps(manifest, indent=2, default=str), encoding="utf-8"
        )


def scenario_to_yaml_tree(scenario: Scenario) -> dict:
    """The scenario as a YAML-ready tree with annotations put back in place.

    Loading the written file gives back an equal scenario (same content hash).
    """
    tree = scenario.model_dump(mode="json", exclude={"notes"})
    for dotted, note in scenario.notes.items():
        _annotate(tree, dotted, note.model_dump(exclude_none=True))
    return tree


def _annotate(tree: dict, dotted: str, note: Mapping) -> None:
    parts = parse_path(dotted)
    parent = tree
    for part in parts[:-1]:
        parent = parent[part]
    parent[parts[-1]] = {"value": parent[parts[-1]], **note}
