"""Results written and read a block at a time are the results held in memory, to the digit.

A streamed run writes ``replications.parquet`` chunk by chunk and takes ``summary.csv``,
``adequacy.csv`` and ``variance_split.csv`` from its chunk files a block of columns at a
time; a results folder is read back lazily (:class:`~sim.results.stored.StoredMatrix`).
These tests hold each against the whole-matrix definitions: the statistics of the whole
value matrix (as computed before anything was blockwise), and the table as
``pyarrow.Table.from_pandas(Results.table())`` gives it, which is what the writer wrote
before it streamed.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.special import stdtrit

import sim.results.statistics as statistics
import sim.results.writer as writer
from sim import load_results, run_experiment
from sim.experiment.runner import VARIANCE_FILE, run_to_folder
from sim.experiment.uncertainty import variance_split
from sim.results import Results, RowKeys, read_rows
from sim.results.adequacy import replication_adequacy
from sim.results.statistics import QUANTILES, column_blocks, summary_statistics
from sim.results.stored import StoredMatrix, scan_table, table_as_written
from sim.scenario import with_changes

REPS, SEED = 40, 11  # chunks of 2 replications (a streamed run makes 32 at most)


def _whole_matrix_summary(values: np.ndarray) -> pd.DataFrame:
    """The summary statistics as they were computed on the whole matrix at once."""
    present = ~np.isnan(values)
    count = present.sum(axis=0)
    mean = np.divide(np.where(present, values, 0.0).sum(axis=0), count,
                     out=np.full(values.shape[1], np.nan), where=count > 0)  # fmt: skip
    squares = (np.where(present, values - mean, 0.0) ** 2).sum(axis=0)
    sd = np.sqrt(np.divide(squares, count - 1, out=np.full(values.shape[1], np.nan),
                           where=count > 1))  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.where(count > 1, stdtrit(np.maximum(count - 1, 1), 0.975) * sd
                        / np.sqrt(count.astype(float)), np.nan)  # fmt: skip
    half = np.nan_to_num(half)
    quantiles = np.full((len(QUANTILES), values.shape[1]), np.nan)
    complete = count == values.shape[0]
    quantiles[:, complete] = np.quantile(values[:, complete], QUANTILES, axis=0)
    partial = (count > 0) & ~complete
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        quantiles[:, partial] = np.nanquantile(values[:, partial], QUANTILES, axis=0)
    table = {"replications": count, "mean": mean, "ci_low": mean - half, "ci_high": mean + half}
    table |= {f"q{round(q * 100):02d}": row for q, row in zip(QUANTILES, quantiles, strict=True)}
    return pd.DataFrame(table)


def _ragged(seed: int, replications: int = 41, columns: int = 23) -> np.ndarray:
    """Values with whole columns missing, columns partly missing and large magnitudes."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((replications, columns)) * 10.0 ** rng.integers(-3, 7, columns)
    values[rng.random(values.shape) < 0.1] = np.nan
    values[:, 3] = np.nan
    values[:, 5] = 7.0  # no spread
    return values


@pytest.mark.parametrize("budget", [8, 8 * 41 * 2, 8 * 41 * 3, 8 * 41 * 22, 2**20])
def test_statistics_taken_block_by_block_equal_the_whole_matrix(budget, monkeypatch):
    values = _ragged(budget)
    monkeypatch.setattr(statistics, "BLOCK_BYTES", budget)
    # every block two columns or more: numpy sums a lone column in another order
    assert all(b - a >= 2 for a, b in column_blocks(23, 41, budget))
    found = statistics.blockwise(lambda a, b: values[:, a:b], values.shape,
                                 statistics.summary_columns, budget)  # fmt: skip
    pd.testing.assert_frame_equal(pd.DataFrame(found), _whole_matrix_summary(values),
                                  check_exact=True)  # fmt: skip
    split = statistics.blockwise(lambda a, b: values[:, a:b], values.shape, variance_split,
                                 budget)  # fmt: skip
    for name, column in variance_split(values).items():
        np.testing.assert_array_equal(split[name], column)


@pytest.fixture(scope="module")
def pair(short):
    return [short, with_changes(short, {"name": "cap_20", "programme.cap": 20})]


@pytest.fixture(scope="module")
def streamed(pair, tmp_path_factory):
    """A streamed run of two scenarios, its row groups split within chunks, and the same
    run held in memory."""
    folder = tmp_path_factory.mktemp("streamed") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writer, "MAX_GROUP_ROWS", 1000)  # a row group per replication
        run_to_folder(pair, folder, replications=REPS, seed=SEED, jobs=1, progress=False)
    return folder, run_experiment(pair, replications=REPS, seed=SEED)


def test_a_streamed_folder_holds_the_in_memory_statistics_to_the_last_digit(streamed):
    folder, results = streamed
    assert (folder / "summary.csv").read_text() == results.summary().to_csv(index=False)
    adequacy = replication_adequacy(results)
    assert (folder / "adequacy.csv").read_text() == adequacy.to_csv(index=False)
    frames = []  # the variance split as it was taken from whole matrices
    for name, values in results.values.items():
        frame = results.keys[name].frame()
        frame.insert(0, "scenario", name)
        frames.append(frame.assign(**variance_split(values)))
    expected = pd.concat(frames, ignore_index=True).to_csv(index=False)
    assert (folder / VARIANCE_FILE).read_text() == expected


def _old_writer(results: Results, path) -> None:
    """The table as written before it streamed: each scenario's whole tidy table, cast to
    the first one's schema."""
    writer = None
    for name in results.values:
        table = pa.Table.from_pandas(results.only(name).table(), preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table.cast(writer.schema))
    writer.close()


def test_the_streamed_table_is_the_old_writers_table(streamed, tmp_path):
    folder, results = streamed
    _old_writer(results, tmp_path / "old.parquet")
    old, new = pq.read_table(tmp_path / "old.parquet"), pq.read_table(folder / "replications.parquet")
    assert new.schema.equals(old.schema, check_metadata=True)  # pandas' metadata included
    assert pq.ParquetFile(folder / "replications.parquet").metadata.num_row_groups == 2 * REPS
    pd.testing.assert_frame_equal(new.to_pandas(), old.to_pandas(), check_exact=True)
    assert new.column("value").null_count == old.column("value").null_count > 0  # NaN as null
    # Results.save writes the same table (from memory, a row group at a time)
    saved = results.save(tmp_path / "saved")
    assert pq.read_table(saved / "replications.parquet").equals(new)
    for name in ("summary.csv", "adequacy.csv"):
        assert (saved / name).read_bytes() == (folder / name).read_bytes()


def test_a_folder_is_read_lazily_and_gives_the_same_values(streamed):
    folder, results = streamed
    loaded = load_results(folder)
    for name, values in results.values.items():
        lazy = loaded.values[name]
        assert isinstance(lazy, StoredMatrix) and lazy.shape == values.shape
        mask = results.keys[name].select("waiting", "quarter")
        for index in [(slice(None), mask), (slice(None), 3), 5, slice(2, 9), (slice(4, 7), mask),
                      (-1, slice(10, 20)), (np.array([3, 1, 20]), slice(None))]:  # fmt: skip
            np.testing.assert_array_equal(lazy[index], values[index])
        np.testing.assert_array_equal(np.asarray(lazy), values)
        np.testing.assert_array_equal(lazy.mean(axis=0), values.mean(axis=0))
        np.testing.assert_array_equal(lazy - values, values - values)  # arithmetic reads it all
        for column in ("frequency", "period", "metric", "group"):
            assert list(getattr(loaded.keys[name], column)) == list(getattr(results.keys[name], column))
    # the summary comes from summary.csv, read to the last digit, and is the computed one
    pd.testing.assert_frame_equal(loaded.summary(), results.summary(), check_exact=True)


def test_a_table_in_other_row_groups_is_read_lazily_too(streamed, tmp_path):
    """Row groups that cut replications in two (as the writer once made them) and a
    dictionary per row group."""
    _, results = streamed
    path = tmp_path / "table.parquet"
    table = pa.concat_tables(
        [pa.Table.from_pandas(results.only(n).table(), preserve_index=False) for n in results.values]
    )  # fmt: skip
    pq.write_table(table, path, row_group_size=1234)
    found = scan_table(path, REPS)
    assert found is not None and list(found.matrices) == list(results.values)
    for name, (keys, lazy) in found.matrices.items():
        np.testing.assert_array_equal(np.asarray(lazy), results.values[name])
        np.testing.assert_array_equal(lazy[:, [7, 2000, 5]], results.values[name][:, [7, 2000, 5]])
        assert list(keys.period) == list(results.keys[name].period)
    # a table in another order is left to the reader of whole tables
    table.take(np.random.default_rng(1).permutation(table.num_rows)).to_pandas().to_parquet(path)
    assert scan_table(path, REPS) is None


def test_a_table_just_written_is_placed_by_its_summary_without_reading_it(streamed, tmp_path):
    folder, results = streamed
    path = tmp_path / "table.parquet"  # row groups across replications and scenarios too
    pq.write_table(pq.read_table(folder / "replications.parquet"), path, row_group_size=1234)
    for table in (folder / "replications.parquet", path):
        found = table_as_written(table, folder / "summary.csv", REPS)
        assert list(found.matrices) == list(results.values)
        for name, (keys, lazy) in found.matrices.items():
            np.testing.assert_array_equal(np.asarray(lazy), results.values[name])
            np.testing.assert_array_equal(lazy[:, [7, 2000, 5]], results.values[name][:, [7, 2000, 5]])
            for column in ("frequency", "period", "metric", "group"):
                assert list(getattr(keys, column)) == list(getattr(results.keys[name], column))
    with pytest.raises(ValueError, match="rows where summary.csv"):
        table_as_written(path, folder / "summary.csv", REPS + 1)


def test_rows_are_read_a_batch_at_a_time_as_the_filtered_read_gives_them(streamed):
    folder, _ = streamed
    path = folder / "replications.parquet"
    for metrics, frequency in [(["waiting", "cost"], "horizon"), (["admissions"], None)]:
        wanted = [("metric", "in", metrics)] + ([("frequency", "==", frequency)] if frequency else [])
        pd.testing.assert_frame_equal(read_rows(path, metrics, frequency),
                                      pd.read_parquet(path, filters=wanted), check_exact=True)  # fmt: skip


def test_the_chunk_store_reads_blocks_of_columns(tmp_path):
    from sim.experiment.store import ChunkMatrix

    values = _ragged(3, replications=30, columns=11)
    chunks = []
    for first in range(0, 30, 7):
        path = tmp_path / f"{first}.npy"
        np.save(path, values[first : first + 7])
        chunks.append((path, first, len(values[first : first + 7])))
    matrix = ChunkMatrix(chunks, 30, 11)
    np.testing.assert_array_equal(matrix[:, 2:9], values[:, 2:9])
    np.testing.assert_array_equal(matrix[:, [10, 0, 4]], values[:, [10, 0, 4]])
    np.testing.assert_array_equal(matrix[12:23], values[12:23])
    pd.testing.assert_frame_equal(summary_statistics(matrix), _whole_matrix_summary(values),
                                  check_exact=True)  # fmt: skip


def test_row_keys_of_a_scenario_with_one_replication(tmp_path):
    keys = RowKeys(*(np.array(v, dtype=object) for v in (["year", "year"], ["a", "b"],
                                                          ["m", "m"], ["all", "all"])))  # fmt: skip
    results = Results({}, {"only": keys}, {"only": np.array([[1.0, np.nan]])},
                      {"replications": 1})  # fmt: skip
    path = tmp_path / "t.parquet"
    with writer.TableWriter(path, results.keys) as table:
        table.write("only", 0, results.values["only"])
    (_, lazy), = scan_table(path, 1).matrices.values()
    np.testing.assert_array_equal(np.asarray(lazy), results.values["only"])
    assert json.loads(pq.read_schema(path).metadata[b"pandas"])["columns"][0]["name"] == "scenario"
