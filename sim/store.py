"""Streaming runs: chunks of replications written to disk as they finish, resumable.

A streamed run builds its results folder in ``.<name>.unfinished/`` beside it:

    plan.json                 what is being run: scenario names and hashes, seed,
                              replications, chunking; a resumed run must match it
    scenarios/<i>.yaml        the scenarios, exactly as run
    chunks/<i>/<first>.npy    replications first.. of scenario i, one file per chunk

Each chunk is written to a temporary name and renamed, so a chunk file is either complete
or absent. The parent process keeps no results in memory while the run goes on. If the run
is interrupted, running it again with ``resume=True`` computes only the missing chunks.
When every chunk is present, the results folder is assembled one scenario at a time
(:class:`~sim.results.ResultsWriter`) and the unfinished folder removed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.errors import OutputError
from sim.results import Results, ResultsWriter, RowKeys, atomic_folder, scenario_to_yaml_tree
from sim.scenario import Scenario, scenario_hash


@dataclass
class StreamStats:
    """What a streamed run did: chunks in all, computed now, and found already done."""

    chunks: int
    computed: int
    reused: int


class ChunkStore:
    """The unfinished results of one streamed run (see the module docstring)."""

    def __init__(self, folder: str | Path, scenarios: Sequence[Scenario], replications: int,
                 seed: int, chunk_plan: list[tuple[int, int]], resume: bool):  # fmt: skip
        self.folder = Path(folder)
        self.path = self.folder.with_name(f".{self.folder.name}.unfinished")
        self.scenarios = list(scenarios)
        self.plan = {
            "scenarios": [{"name": s.name, "sha256": scenario_hash(s)} for s in self.scenarios],
            "seed": seed,
            "replications": replications,
            "chunks": chunk_plan,
        }
        if self.path.exists():
            if not resume:
                raise OutputError(
                    f"{self.folder}: an unfinished run is at {self.path}; resume it with --resume "
                    "or delete that folder"
                )
            found = json.loads((self.path / "plan.json").read_text(encoding="utf-8"))
            if found != json.loads(json.dumps(self.plan)):
                raise OutputError(
                    f"{self.folder}: the unfinished run at {self.path} is a different run (other "
                    "scenarios, seed, replications or chunks); delete it to start again"
                )
        else:
            self.path.mkdir(parents=True)
            (self.path / "scenarios").mkdir()
            for index, scenario in enumerate(self.scenarios):
                text = yaml.safe_dump(
                    scenario_to_yaml_tree(scenario), sort_keys=False, allow_unicode=True
                )
                (self.path / "scenarios" / f"{index}.yaml").write_text(text, encoding="utf-8")
            self._write(self.path / "plan.json", json.dumps(self.plan, indent=1).encode())

    def _chunk(self, scenario: int, first: int) -> Path:
        return self.path / "chunks" / str(scenario) / f"{first}.npy"

    def done(self, scenario: int, first: int) -> bool:
        return self._chunk(scenario, first).exists()

    def write(self, scenario: int, first: int, block: np.ndarray) -> None:
        target = self._chunk(scenario, first)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".partial")
        with open(temporary, "wb") as handle:
            np.save(handle, block)
        os.replace(temporary, target)

    def load(self, scenario: int) -> np.ndarray:
        blocks = [np.load(self._chunk(scenario, first)) for first, _ in self.plan["chunks"]]
        return np.concatenate(blocks)

    def finalise(
        self, keys: Sequence[RowKeys], manifest: dict, extra_tables=None, force: bool = False
    ) -> Path:
        """Assemble the results folder from the chunks, then remove the unfinished run."""
        with atomic_folder(self.folder, force) as staging, ResultsWriter(staging) as writer:
            for index, scenario in enumerate(self.scenarios):
                writer.add(Results({scenario.name: scenario}, {scenario.name: keys[index]},
                                   {scenario.name: self.load(index)}, manifest))  # fmt: skip
            writer.finish(manifest, extra_tables)
        shutil.rmtree(self.path, ignore_errors=True)
        return self.folder

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        temporary = path.with_name(f".{path.name}.partial")
        temporary.write_bytes(data)
        os.replace(temporary, path)
