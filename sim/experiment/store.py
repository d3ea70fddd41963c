"""Streaming runs: chunks of replications written to disk as they finish, resumable.

A streamed run builds its results folder in ``.<name>.unfinished/`` beside it:

    plan.json                 what is being run: scenario names, hashes and rows per
                              replication, seed, replications, chunking; a resumed run must
                              match it
    scenarios/<i>.yaml        the scenarios, exactly as run
    chunks/<i>/<first>.npy    replications first.. of scenario i, one file per chunk
    chunks/<i>/<first>.json   what that chunk must be: scenario and its hash, seed, first
                              replication, count, shape, and the size and SHA-256 of the file
    lock                      locked by the process running it, so two cannot run it at once

The unfinished folder is built by :func:`~sim.results.folder.atomic_folder`, so it always
has its plan. Each chunk's values are written by :func:`~sim.results.folder.atomic_file`,
then its record; a chunk counts as done only if both are there and agree with each other and with the plan.
On resume every finished chunk is checked and a bad one (changed values, another seed or
scenario, a row too many or too few) is computed again. The parent process keeps no
results in memory while the run goes on.

The results folder is assembled while the run goes on (:meth:`ChunkStore.assembly`, in a
staging folder): each chunk, checked again, goes into the tidy table as soon as every chunk
before it has (one row group per chunk, in replication order), so writing the table
overlaps with the workers. When every chunk is there, the statistics are taken from the
chunk files a block of columns at a time (:class:`ChunkMatrix`), so memory stays
replications x block however many replications there are; then the folder is moved into
place and the unfinished folder removed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.errors import OutputError, RunError
from sim.results.folder import atomic_file, atomic_folder, file_digest
from sim.results.keys import RowKeys
from sim.results.stored import LazyMatrix
from sim.results.writer import ColumnStatistics, ResultsWriter, scenario_to_yaml_tree
from sim.scenario import Scenario, scenario_hash

log = logging.getLogger(__name__)

PLAN_FORMAT = 2
"""Version of ``plan.json``; unfinished runs of another format are not resumed."""


@dataclass
class StreamStats:
    """What a streamed run did: chunks in all, computed now, found already done, and found
    damaged (and so computed again)."""

    chunks: int
    computed: int
    reused: int
    recomputed: int = 0


class ChunkStore:
    """The unfinished results of one streamed run (see the module docstring).

    ``rows`` gives each scenario's values per replication (the width of its chunks). Use as
    a context manager (or call :meth:`close`) so the lock is released.
    """

    def __init__(self, folder: str | Path, scenarios: Sequence[Scenario], replications: int,
                 seed: int, chunk_plan: list[tuple[int, int]], resume: bool,
                 rows: Sequence[int], uncertainty: str = "noise"):  # fmt: skip
        self.folder = Path(folder)
        self.path = self.folder.with_name(f".{self.folder.name}.unfinished")
        self.scenarios = list(scenarios)
        self.plan = {
            "format": PLAN_FORMAT,
            "scenarios": [
                {"name": s.name, "sha256": scenario_hash(s), "rows": int(width)}
                for s, width in zip(self.scenarios, rows, strict=True)
            ],
            "seed": seed,
            "replications": replications,
            "chunks": [list(chunk) for chunk in chunk_plan],
            "uncertainty": uncertainty,
        }
        self.damaged = 0
        self.ready: set[tuple[int, int]] = set()  # (scenario, first) of chunks on disk
        self._latest: tuple[int, int, np.ndarray] | None = None  # the chunk written last
        self._lock = None
        try:
            if self.path.exists():
                self._open(resume)
            else:
                self._create()
        except OSError as exc:
            self.close()
            raise RunError(
                f"{self.folder}: cannot prepare the unfinished run in {self.path}: "
                f"{exc.strerror or exc}"
            ) from None
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ set-up

    def _create(self) -> None:
        # a killed start leaves only a stale staging folder, removed by the next start
        with atomic_folder(self.path, what="unfinished run", seal=False) as staging:
            (staging / "scenarios").mkdir()
            for index, scenario in enumerate(self.scenarios):
                text = yaml.safe_dump(
                    scenario_to_yaml_tree(scenario), sort_keys=False, allow_unicode=True
                )
                (staging / "scenarios" / f"{index}.yaml").write_text(text, encoding="utf-8")
            (staging / "plan.json").write_text(json.dumps(self.plan, indent=1), encoding="utf-8")
            (staging / "chunks").mkdir()
        self._acquire()

    def _open(self, resume: bool) -> None:
        if not resume:
            raise OutputError(
                f"{self.folder}: an unfinished run is at {self.path}; resume it with --resume "
                "or delete that folder"
            )
        plan_path = self.path / "plan.json"
        try:
            found = json.loads(plan_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            found, reason = None, "has no plan.json"
        except (UnicodeDecodeError, ValueError):
            found, reason = None, "has an unreadable plan.json"
        if found is None:
            raise RunError(
                f"{self.folder}: the unfinished run at {self.path} {reason}, so its chunks "
                f"cannot be checked; delete {self.path} and run the same command again "
                "without --resume"
            )
        if found != json.loads(json.dumps(self.plan)):
            raise OutputError(
                f"{self.folder}: the unfinished run at {self.path} is a different run (other "
                "scenarios, seed, replications or chunks, or an older version of this tool); "
                "delete it to start again"
            )
        self._acquire()
        for partial in (self.path / "chunks").glob("*/*.partial"):  # left by a killed run
            partial.unlink()
        # fail now, not after computing, if the run cannot be written (read-only, for example)
        probe = self.path / "chunks" / ".write-test.partial"
        probe.write_bytes(b"")
        probe.unlink()

    def _acquire(self) -> None:
        """Lock the unfinished run for this process (where the platform can)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            return
        handle = open(self.path / "lock", "a+b")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunError(
                f"{self.folder}: another process is running the unfinished run at {self.path}; "
                "wait for it to finish"
            ) from None
        self._lock = handle

    def close(self) -> None:
        """Release the lock (chunks stay on disk for ``--resume``)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ChunkStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ chunks

    def _chunk(self, scenario: int, first: int, extension: str = ".npy") -> Path:
        return self.path / "chunks" / str(scenario) / f"{first}{extension}"

    def _expected(self, scenario: int, first: int, count: int) -> dict:
        """What the record of a chunk must say."""
        entry = self.plan["scenarios"][scenario]
        return {
            "scenario": entry["name"],
            "scenario_sha256": entry["sha256"],
            "seed": self.plan["seed"],
            "first": first,
            "count": count,
            "shape": [count, entry["rows"]],
        }

    def _problem(self, scenario: int, first: int, count: int, data: bytes | None = None
                 ) -> str | None:  # fmt: skip
        """Why the chunk on disk is not the one the plan needs, or None if it is (``data``:
        its values file's bytes, if already read)."""
        values, record_path = self._chunk(scenario, first), self._chunk(scenario, first, ".json")
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return "it has no record (the run stopped while writing it)"
        except (UnicodeDecodeError, ValueError):
            return "its record is unreadable"
        if not isinstance(record, dict):
            return "its record is unreadable"
        for key, value in self._expected(scenario, first, count).items():
            if record.get(key) != value:
                return f"its record gives {key} {record.get(key)!r} where this run needs {value!r}"
        if data is None and not values.is_file():
            return "its values are missing"
        size = values.stat().st_size if data is None else len(data)
        if size != record.get("bytes"):
            return f"its values are {size:,} bytes where its record says {record.get('bytes')}"
        digest = file_digest(values) if data is None else hashlib.sha256(data).hexdigest()
        if digest != record.get("sha256"):
            return "its values have changed since they were written (SHA-256 differs)"
        return None

    def done(self, scenario: int, first: int, count: int) -> bool:
        """True if the chunk is on disk and is exactly what the plan needs. A chunk that is
        not (damaged, from another run, half written) is removed so it is computed again."""
        values, record = self._chunk(scenario, first), self._chunk(scenario, first, ".json")
        if not values.exists() and not record.exists():
            return False
        problem = self._problem(scenario, first, count)
        if problem is None:
            self.ready.add((scenario, first))
            return True
        if record.exists():  # a chunk without a record was simply cut short: not worth a word
            self.damaged += 1
            log.warning("%s: %s; computing it again", values, problem)
        values.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
        return False

    def write(self, scenario: int, first: int, block: np.ndarray) -> None:
        """Store one chunk: its values, then its record (values without a record are redone)."""
        expected = self._expected(scenario, first, len(block))
        if list(block.shape) != expected["shape"]:
            raise RunError(
                f"scenario {expected['scenario']}, replications from {first}: the workers "
                f"returned {block.shape} values where {tuple(expected['shape'])} were expected"
            )
        buffer = io.BytesIO()
        np.save(buffer, block, allow_pickle=False)
        data = buffer.getbuffer()  # hashed and written without a copy
        record = {**expected, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        target = self._chunk(scenario, first)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            for path, content in ((target, data), (target.with_suffix(".json"),
                                                  json.dumps(record).encode())):  # fmt: skip
                with atomic_file(path) as temporary:
                    temporary.write_bytes(content)
        except OSError as exc:
            raise RunError(f"cannot write a chunk to {target.parent}: {exc.strerror or exc}") from None
        self.ready.add((scenario, first))
        # chunks mostly arrive in order, so the table usually takes this one next: keep it
        # (one chunk at most) rather than read back and hash again what was just written
        self._latest = (scenario, first, block)

    def load_chunk(self, scenario: int, first: int, count: int) -> np.ndarray:
        """One chunk's (count x rows) values: the chunk :meth:`write` stored last as it was
        given, any other read back and checked again against its record (read once: the
        bytes checked are the bytes loaded)."""
        if self._latest is not None and self._latest[:2] == (scenario, first):
            block, self._latest = self._latest[2], None
            return block
        path = self._chunk(scenario, first)
        try:
            data = path.read_bytes()
        except OSError:
            data = None  # missing or unreadable: _problem says which
        problem = self._problem(scenario, first, count, data)
        if problem is not None:
            self.done(scenario, first, count)  # removes it, so --resume computes it again
            raise RunError(f"{path}: {problem}; run the same command with --resume to compute "
                           "it again")  # fmt: skip
        return np.load(io.BytesIO(data), allow_pickle=False)

    def load(self, scenario: int) -> np.ndarray:
        """Scenario ``scenario``'s (replications x rows) matrix, each chunk checked again."""
        return np.concatenate([self.load_chunk(scenario, first, count)
                               for first, count in self.plan["chunks"]])  # fmt: skip

    def matrix(self, scenario: int) -> ChunkMatrix:
        """Scenario ``scenario``'s values as its chunk files, read a block at a time."""
        return ChunkMatrix([(self._chunk(scenario, first), first, count)
                            for first, count in self.plan["chunks"]],
                           self.plan["replications"], self.plan["scenarios"][scenario]["rows"])  # fmt: skip

    @contextmanager
    def assembly(
        self, keys: Sequence[RowKeys], force: bool = False, precision: float | None = None,
        column_tables: Mapping[str, ColumnStatistics] | None = None,
    ) -> Iterator[Assembly]:
        """The results folder, assembled in a staging folder while the run goes on (see the
        module docstring); moved into place, and the unfinished run removed, when the body
        has called :meth:`Assembly.finish`. On any failure nothing is left but the chunks.
        ``precision``: the relative half-width ``adequacy.csv`` judges by (None: default);
        ``column_tables``: more per-row tables of the values (file name to statistics)."""
        names = {s.name: k for s, k in zip(self.scenarios, keys, strict=True)}
        with (
            atomic_folder(self.folder, force) as staging,
            ResultsWriter(staging, precision, names, column_tables) as writer,
        ):
            yield Assembly(self, writer, list(keys))
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def finalise(
        self, keys: Sequence[RowKeys], manifest: dict, extra_tables=None, force: bool = False,
        precision: float | None = None, column_tables=None,
    ) -> Path:
        """Assemble the results folder from the chunks, then remove the unfinished run.
        ``precision``: the relative half-width ``adequacy.csv`` judges by (None: default)."""
        with self.assembly(keys, force, precision, column_tables) as assembly:
            assembly.finish(manifest, extra_tables)
        return self.folder


class Assembly:
    """A results folder being written from a :class:`ChunkStore` (see
    :meth:`ChunkStore.assembly`): :meth:`advance` after each chunk is stored, :meth:`finish`
    when all are."""

    def __init__(self, store: ChunkStore, writer: ResultsWriter, keys: list[RowKeys]):
        self.store, self.writer, self.keys = store, writer, keys
        self._order = [(i, first, count) for i in range(len(store.scenarios))
                       for first, count in store.plan["chunks"]]  # fmt: skip
        self._written = 0
        self._added = 0  # scenarios whose statistics are written

    def advance(self, every: bool = False) -> None:
        """Add to the table, in order, each chunk whose turn has come and that is on disk
        (with ``every``, all the rest: each must be on disk); and the statistics of each
        scenario all of whose chunks are in, but the last (while the workers go on)."""
        while self._written < len(self._order):
            scenario, first, count = self._order[self._written]
            if not every and (scenario, first) not in self.store.ready:
                return
            block = self.store.load_chunk(scenario, first, count)
            self.writer.write_rows(self.store.scenarios[scenario].name, self.keys[scenario],
                                   first, block)  # fmt: skip
            self._written += 1
            last = self._written == len(self._order) or self._order[self._written][0] != scenario
            if last and scenario < len(self.store.scenarios) - 1:
                self._add(scenario, threads=1)

    def _add(self, scenario: int, threads: int) -> None:
        self.writer.add_scenario(self.store.scenarios[scenario], self.keys[scenario],
                                 self.store.matrix(scenario), rows_written=True,
                                 threads=threads)  # fmt: skip
        self._added = scenario + 1

    def finish(self, manifest: dict, extra_tables: Mapping | None = None) -> None:
        """The rest of the table and of the statistics (from the chunk files, a block of
        columns at a time), the extra tables and the manifest."""
        self.advance(every=True)
        threads = min(4, os.cpu_count() or 1)  # the workers are done: use the cores
        for scenario in range(self._added, len(self.store.scenarios)):
            self._add(scenario, threads)
        self.writer.finish(manifest, extra_tables)


class ChunkMatrix(LazyMatrix):
    """One scenario's (replications x rows) values as a streamed run's chunk files
    (``(path, first, count)`` each, in order), read when indexed: a block of columns is read
    from each file through a memory map, so only that block is held."""

    def __init__(self, chunks: list[tuple[Path, int, int]], replications: int, rows: int):
        super().__init__(replications, rows)
        self.chunks = chunks

    def _columns(self, positions: np.ndarray) -> np.ndarray:
        out = np.empty((self.shape[0], len(positions)))
        span = len(positions) and positions[-1] - positions[0] + 1 == len(positions)
        contiguous = span and (np.diff(positions) == 1).all()
        for path, first, count in self.chunks:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
            part = mapped[:, positions[0] : positions[-1] + 1] if contiguous else mapped[:, positions]
            out[first : first + count] = part
            del mapped, part  # unmapped: its pages leave this process's memory
        return out

    def _replications(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, self.shape[1]))
        for path, first, count in self.chunks:
            low, high = max(start, first), min(stop, first + count)
            if low < high:
                mapped = np.load(path, mmap_mode="r", allow_pickle=False)
                out[low - start : high - start] = mapped[low - first : high - first]
                del mapped
        return out
