"""Results of an experiment: value matrices, tidy tables, summaries and results folders.

In memory, each scenario's results are a (replications x rows) matrix whose rows follow
the scenario's :class:`~sim.reduce.Layout` (frequency, period, metric, group). The tidy
table (``scenario, replication, frequency, period, metric, group, value``) is built from
it on demand, and statistics across replications are array operations on it.

A results folder holds ``manifest.json``, the scenarios exactly as run
(``scenarios/<name>.yaml``), the tidy table (``replications.parquet``) and ``summary.csv``.
It is written to a temporary folder and renamed into place only when complete, so an
interrupted or failed run never leaves a folder that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.errors import OutputError
from sim.scenario.loader import parse_path, scenario_from_mapping
from sim.scenario.schema import Scenario
from sim.statistics import summary_statistics

KEY_COLUMNS = ("frequency", "period", "metric", "group")
TIDY_COLUMNS = ["scenario", "replication", *KEY_COLUMNS, "value"]
MANIFEST = "manifest.json"
TABLE_FILE = "replications.parquet"
SUMMARY_FILE = "summary.csv"
SCENARIO_DIR = "scenarios"
ADEQUACY_FILE = "adequacy.csv"


@dataclass(frozen=True)
class RowKeys:
    """What each column of a value matrix means: four aligned arrays of labels."""

    frequency: np.ndarray
    period: np.ndarray
    metric: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.metric)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: getattr(self, name) for name in KEY_COLUMNS})

    def select(
        self, metric: str, frequency: str | None = None, group: str | None = None
    ) -> np.ndarray:
        """Boolean mask of the rows of one metric (and frequency, group)."""
        mask = self.metric == metric
        if frequency is not None:
            mask &= self.frequency == frequency
        if group is not None:
            mask &= self.group == group
        return mask


@dataclass
class Results:
    """An experiment's outcome: scenarios as run, value matrices and manifest.

    ``values[name]`` is (replications x rows); ``keys[name]`` labels the rows. Replication
    ``r`` of every scenario used the same random streams, so rows of different scenarios
    can be paired.
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
            matrix = self.values[name]
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
        statistic; ``replications`` counts the values used.
        """
        frames = []
        for name, values in self.values.items():
            frame = self.keys[name].frame()
            frame.insert(0, "scenario", name)
            frames.append(pd.concat([frame, summary_statistics(values)], axis=1))
        return pd.concat(frames, ignore_index=True)

    def only(self, name: str) -> Results:
        """These results restricted to one scenario (of the same type)."""
        return type(self)(
            {name: self.scenarios[name]},
            {name: self.keys[name]},
            {name: self.values[name]},
            self.manifest,
        )

    def save(
        self, folder: str | Path, force: bool = False, extra_tables: Mapping | None = None
    ) -> Path:
        """Write the results folder atomically; refuse to replace one unless ``force``.

        ``extra_tables`` maps file names (``adequacy.csv``) to DataFrames written with it.
        """
        return save_results(self, folder, force=force, extra_tables=extra_tables)


# ----------------------------------------------------------------------- folders


def check_output_folder(folder: str | Path, force: bool = False) -> None:
    """Fail early, before any simulation, if ``folder`` cannot be written as a results folder.

    Raises
    ------
    OutputError
        Naming the folder and the reason: it exists (without ``force``), a parent is a
        file, or the nearest existing parent is not writable.
    """
    folder = Path(folder)
    if folder.exists() and not force:
        raise OutputError(f"{folder}: results folder already exists (use --force to replace it)")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    parent = folder.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{folder}: cannot be created because {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: no permission to write in {parent}")


class ResultsWriter:
    """Writes the contents of a results folder scenario by scenario.

    Used for results held in memory (:func:`save_results`) and for results streamed from
    chunks on disk (:mod:`sim.store`): the Parquet table is written one scenario at a time
    and the summary appended, so memory does not grow with the number of scenarios. Write
    into a staging folder from :func:`atomic_folder`; use as a context manager so the
    Parquet file is closed whatever happens.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._parquet = None
        self._summary_header = True
        (self.folder / SCENARIO_DIR).mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def add(self, results: Results) -> None:
        """Add the scenarios in ``results`` (their scenario files, rows and summaries)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        for name, scenario in results.scenarios.items():
            text = yaml.safe_dump(
                scenario_to_yaml_tree(scenario), sort_keys=False, allow_unicode=True
            )
            (self.folder / SCENARIO_DIR / f"{name}.yaml").write_text(text, encoding="utf-8")
        table = pa.Table.from_pandas(results.table(), preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.folder / TABLE_FILE, table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))
        results.summary().to_csv(
            self.folder / SUMMARY_FILE, index=False, mode="w" if self._summary_header else "a",
            header=self._summary_header,
        )  # fmt: skip
        self._summary_header = False

    def finish(
        self, manifest: dict, extra_tables: Mapping[str, pd.DataFrame] | None = None
    ) -> None:
        """Write the extra tables and the manifest (last: it marks a complete folder)."""
        self.__exit__()
        for name, table in (extra_tables or {}).items():
            table.to_csv(self.folder / name, index=False)
        (self.folder / MANIFEST).write_text(
            json.dumps(manifest, indent=2, default=str), encoding="utf-8"
        )


def make_staging(folder: Path, suffix: str = ".partial") -> Path:
    """A new private-named staging folder beside ``folder``, with the umask's permissions."""
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=suffix, dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; results are shared
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write results folder: {exc.strerror or exc}") from exc
    return staging


@contextmanager
def atomic_folder(
    folder: str | Path, force: bool = False, what: str = "results folder"
) -> Iterator[Path]:
    """Build a folder in a staging folder and move it into place only when complete.

    Yields the staging folder to write into. On success it replaces ``folder`` (an existing
    one only with ``force``, and only once the new one is complete); on any failure or
    interruption the staging folder is removed and nothing is left half-written.

    Raises
    ------
    OutputError
        If ``folder`` exists without ``force`` (checked before anything is written), or it
        cannot be written.
    """
    folder = Path(folder)
    check_output_folder(folder, force)
    staging = make_staging(folder)
    try:
        yield staging
        if folder.exists():
            backup = folder.parent / f".{folder.name}.replaced"
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(folder, backup)
            os.replace(staging, folder)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"{folder}: cannot write {what}: {exc}") from exc
        raise


def save_results(
    results: Results,
    folder: str | Path,
    force: bool = False,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write ``results`` to ``folder`` (see module docstring). Returns the folder path.

    Raises
    ------
    OutputError
        If the folder exists and ``force`` is false, or it cannot be written. Nothing is
        left half-written: an existing folder is only replaced once the new one is complete.
    """
    with atomic_folder(folder, force) as staging, ResultsWriter(staging) as writer:
        for name in results.values:
            writer.add(results.only(name))
        writer.finish(results.manifest, extra_tables)
    return Path(folder)


def write_csv_atomically(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a CSV file via a temporary file and a rename: never half a file."""
    path = Path(path)
    check_output_folder(path, force=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".partial", dir=path.parent
    )
    os.close(handle)
    try:
        table.to_csv(temporary, index=False)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write: {exc}") from exc
        raise
    return path


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


def load_results(folder: str | Path) -> Results:
    """Read a results folder written by :func:`save_results`.

    Raises
    ------
    OutputError
        If the folder is not a complete results folder.
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise OutputError(f"{folder}: not a complete results folder (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    scenarios = {}
    for path in sorted((folder / SCENARIO_DIR).glob("*.yaml")):
        scenario = scenario_from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), path)
        scenarios[scenario.name] = scenario
    table = pd.read_parquet(folder / TABLE_FILE)
    keys, values = {}, {}
    for name, rows in table.groupby("scenario", sort=False, observed=True):
        rows = rows.sort_values("replication", kind="stable")
        reps = rows["replication"].nunique()
        n = len(rows) // reps
        first = rows.iloc[:n]
        keys[str(name)] = RowKeys(
            *(first[c].astype(str).to_numpy(dtype=object) for c in KEY_COLUMNS)
        )
        values[str(name)] = rows["value"].to_numpy(dtype=float).reshape(reps, n)
    return Results(scenarios=scenarios, keys=keys, values=values, manifest=manifest)
