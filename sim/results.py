"""Results: tidy tables from replications, summaries across replications, and the results folder.

Reduction happens per replication (:func:`tidy_replication` turns one replication's arrays
into tidy rows), then statistics are taken across replications (:func:`summarise`). A
results folder holds ``manifest.json``, the scenarios exactly as run (``scenarios/``), the
tidy table (``replications.parquet``) and ``summary.csv``; it is written to a temporary
folder and renamed into place only when complete, so an interrupted run never leaves a
folder that looks finished.

Tidy columns: ``scenario, replication, period, metric, group, value``. ``period`` is an
NHS financial-year quarter label ("2026/27 Q2"): for stocks (``trusts``) the state during
that quarter, for flows (``churn``) the changes at the assessment that opened it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.errors import OutputError
from sim.model.replication import ReplicationResult
from sim.scenario.loader import parse_path, scenario_from_mapping
from sim.scenario.schema import LEAGUE_TABLES, Scenario

TIDY_COLUMNS = ["scenario", "replication", "period", "metric", "group", "value"]
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MANIFEST = "manifest.json"
TABLE_FILE = "replications.parquet"
SUMMARY_FILE = "summary.csv"
SCENARIO_DIR = "scenarios"


def _segment_groups() -> list[str]:
    return [f"{table}|segment {s}" for table in LEAGUE_TABLES for s in range(1, 6)]


def tidy_replication(result: ReplicationResult, scenario: str) -> pd.DataFrame:
    """One replication's outputs as tidy rows (aggregated within the replication)."""
    labels = np.asarray(result.assessment_labels)
    n_rows = len(labels)
    n_tables = len(LEAGUE_TABLES)
    blocks: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []

    # stocks by quarter: trusts per table and segment
    counts = result.segment_counts.reshape(n_rows, n_tables * 5)
    groups = np.asarray(_segment_groups())
    blocks.append(
        ("trusts", np.repeat(labels, len(groups)), np.tile(groups, n_rows), counts.ravel())
    )
    for metric, values in (
        ("trusts_in_deficit", result.deficit_counts),
        ("low_capability", result.low_capability_counts),
    ):
        blocks.append(
            (
                metric,
                np.repeat(labels, n_tables),
                np.tile(np.asarray(LEAGUE_TABLES), n_rows),
                values.ravel(),
            )
        )
    # flows at each assessment, labelled by the quarter it opens
    flows = labels[1:]
    failures = np.bincount(
        np.searchsorted(result.assessment_weeks, result.catastrophe_weeks, side="right") - 1,
        minlength=n_rows,
    )[:n_rows]
    for metric, values, periods in (
        ("churn", result.churn, flows),
        ("override_churn", result.override_churn, flows),
        ("catastrophic_failures", failures, labels),
    ):
        blocks.append((metric, periods, np.full(len(periods), "all"), values))

    frame = pd.DataFrame(
        {
            "period": np.concatenate([b[1] for b in blocks]),
            "metric": np.concatenate([np.full(len(b[1]), b[0]) for b in blocks]),
            "group": np.concatenate([b[2] for b in blocks]),
            "value": np.concatenate([np.asarray(b[3], dtype=float) for b in blocks]),
        }
    )
    frame.insert(0, "replication", result.replication)
    frame.insert(0, "scenario", scenario)
    return frame


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, 95% confidence interval of the mean and quantiles across replications.

    Returns one row per (scenario, metric, group, period) with columns ``replications,
    mean, ci_low, ci_high, q05, q25, q50, q75, q95``.
    """
    keys = ["scenario", "metric", "group", "period"]
    grouped = table.groupby(keys, sort=False, observed=True)["value"]
    out = grouped.agg(replications="count", mean="mean", sd="std")
    quantiles = grouped.quantile(list(QUANTILES)).unstack()
    quantiles.columns = [f"q{round(q * 100):02d}" for q in QUANTILES]
    out = out.join(quantiles)
    half = 1.96 * out["sd"].fillna(0.0) / np.sqrt(out["replications"])
    out.insert(3, "ci_low", out["mean"] - half)
    out.insert(4, "ci_high", out["mean"] + half)
    return out.drop(columns="sd").reset_index()


@dataclass
class Results:
    """The outcome of an experiment: scenarios as run, tidy table, and manifest."""

    scenarios: dict[str, Scenario]
    table: pd.DataFrame
    manifest: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        return summarise(self.table)

    def save(self, folder: str | Path, force: bool = False) -> Path:
        """Write the results folder atomically; refuse to overwrite unless ``force``."""
        return save_results(self, folder, force=force)


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


def save_results(results: Results, folder: str | Path, force: bool = False) -> Path:
    """Write ``results`` to ``folder`` (see module docstring). Returns the folder path.

    Raises
    ------
    OutputError
        If the folder exists and ``force`` is false, or it cannot be written. Nothing is
        left half-written: an existing folder is only replaced once the new one is complete.
    """
    folder = Path(folder)
    check_output_folder(folder, force)
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=parent))
        # mkdtemp makes the folder private; results are shared, so follow the umask
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write results folder: {exc.strerror or exc}") from exc
    try:
        (staging / SCENARIO_DIR).mkdir()
        for name, scenario in results.scenarios.items():
            text = yaml.safe_dump(
                scenario_to_yaml_tree(scenario), sort_keys=False, allow_unicode=True
            )
            (staging / SCENARIO_DIR / f"{name}.yaml").write_text(text, encoding="utf-8")
        results.table.to_parquet(staging / TABLE_FILE, index=False)
        results.summary().to_csv(staging / SUMMARY_FILE, index=False)
        # the manifest goes last: its presence marks a complete folder
        (staging / MANIFEST).write_text(
            json.dumps(results.manifest, indent=2, default=str), encoding="utf-8"
        )
        if folder.exists():
            backup = parent / f".{folder.name}.replaced"
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(folder, backup)
            os.replace(staging, folder)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{folder}: cannot write results folder: {exc}") from exc
        raise
    return folder


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
    """Read a results folder written by :func:`save_results`."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise OutputError(f"{folder}: not a complete results folder (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    scenarios = {}
    for path in sorted((folder / SCENARIO_DIR).glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        scenario = scenario_from_mapping(raw, path)
        scenarios[scenario.name] = scenario
    table = pd.read_parquet(folder / TABLE_FILE)
    return Results(scenarios=scenarios, table=table, manifest=manifest)


def concat_tables(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-replication tidy frames with compact dtypes."""
    table = pd.concat(frames, ignore_index=True)
    for column in ("scenario", "period", "metric", "group"):
        table[column] = table[column].astype("category")
    table["replication"] = table["replication"].astype(np.int32)
    return table
