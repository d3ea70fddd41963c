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
results in memory while the run goes on. When every chunk is present, the results folder is
assembled one scenario at a time (:class:`~sim.results.folder.ResultsWriter`) and the
unfinished folder removed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.errors import OutputError, RunError
from sim.results.folder import (
    ResultsWriter,
    atomic_file,
    atomic_folder,
    file_digest,
    scenario_to_yaml_tree,
)
from sim.results.keys import RowKeys
from sim.results.tables import Results
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

    def _problem(self, scenario: int, first: int, count: int) -> str | None:
        """Why the chunk on disk is not the one the plan needs, or None if it is."""
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
        if not values.is_file():
            return "its values are missing"
        size = values.stat().st_size
        if size != record.get("bytes"):
            return f"its values are {size:,} bytes where its record says {record.get('bytes')}"
        if file_digest(values) != record.get("sha256"):
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
        data = buffer.getvalue()
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

    def load(self, scenario: int) -> np.ndarray:
        """Scenario ``scenario``'s (replications x rows) matrix, each chunk checked again."""
        blocks = []
        for first, count in self.plan["chunks"]:
            problem = self._problem(scenario, first, count)
            if problem is not None:
                self.done(scenario, first, count)  # removes it, so --resume computes it again
                raise RunError(
                    f"{self._chunk(scenario, first)}: {problem}; run the same command with "
                    "--resume to compute it again"
                )
            blocks.append(np.load(self._chunk(scenario, first), allow_pickle=False))
        return np.concatenate(blocks)

    def finalise(
        self, keys: Sequence[RowKeys], manifest: dict, extra_tables=None, force: bool = False,
        precision: float | None = None,
    ) -> Path:
        """Assemble the results folder from the chunks, then remove the unfinished run.
        ``precision``: the relative half-width ``adequacy.csv`` judges by (None: default)."""
        with (
            atomic_folder(self.folder, force) as staging,
            ResultsWriter(staging, precision) as writer,
        ):
            for index, scenario in enumerate(self.scenarios):
                writer.add(Results({scenario.name: scenario}, {scenario.name: keys[index]},
                                   {scenario.name: self.load(index)}, manifest))  # fmt: skip
            writer.finish(manifest, extra_tables)
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)
        return self.folder
