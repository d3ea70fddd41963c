"""Snapshot: the six headline figures of a small fixed run, against a stored copy.

The run is the baseline over two years (the ``short`` fixture), :data:`REPLICATIONS`
replications, seed :data:`SEED`. Its headline rows (the metrics of
:data:`sim.vocabulary.HEADLINES`, per financial year and over the whole horizon) must equal
``tests/snapshots/headlines.csv``. Any change to the model's numbers, however small, fails
here first: a refactoring must leave them alone, and a deliberate change of the model
regenerates the file on purpose and commits it with the change that explains it::

    python -m pytest tests/test_snapshot.py --update-snapshot    # or UPDATE_SNAPSHOT=1

This file must not judge whether numbers are right (the behaviour and data tiers do that),
only whether they changed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.vocabulary import HEADLINES

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "headlines.csv"
REPLICATIONS = 5
SEED = 2025
KEYS = ["scenario", "frequency", "period", "metric", "group"]
NUMBERS = ["replications", "mean", "q05", "q50", "q95"]
RTOL = 1e-9
"""Relative tolerance: floating-point noise between machines, far below any model change."""

REGENERATE = (
    "If the change is deliberate, regenerate the snapshot and commit it with the change: "
    "python -m pytest tests/test_snapshot.py --update-snapshot (or UPDATE_SNAPSHOT=1)."
)


def headline_table(results) -> pd.DataFrame:
    """Yearly and whole-horizon rows of the headline metrics from ``results.summary()``."""
    summary = results.summary()
    wanted = {(h.metric, h.group) for h in HEADLINES}
    pairs = zip(summary["metric"].astype(str), summary["group"].astype(str), strict=True)
    keep = np.array([pair in wanted for pair in pairs]) & summary["frequency"].isin(
        ["year", "horizon"]
    ).to_numpy()
    table = summary.loc[keep, KEYS + NUMBERS].astype({k: str for k in KEYS})
    return table.sort_values(KEYS).reset_index(drop=True)


@pytest.fixture(scope="module")
def current(short):
    results = sim.run_experiment([short], replications=REPLICATIONS, seed=SEED, jobs=1)
    return headline_table(results)


def test_headline_figures_match_the_snapshot(current, request):
    update = request.config.getoption("--update-snapshot") or os.environ.get("UPDATE_SNAPSHOT")
    if update:
        SNAPSHOT.parent.mkdir(exist_ok=True)
        current.to_csv(SNAPSHOT, index=False)  # pandas writes floats so that they read back exactly
        pytest.skip("snapshot rewritten: review it with git diff tests/snapshots/")
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}. {REGENERATE}"
    stored = pd.read_csv(SNAPSHOT, dtype={k: str for k in KEYS})

    assert current[KEYS].values.tolist() == stored[KEYS].values.tolist(), (
        f"the headline rows (scenario, period, metric, group) differ from the snapshot. {REGENERATE}"
    )
    differ = ~np.isclose(current[NUMBERS], stored[NUMBERS], rtol=RTOL, atol=0, equal_nan=True)
    rows = differ.any(axis=1)
    if rows.any():
        shown = current.loc[rows, KEYS].assign(
            **{f"{c} now": current.loc[rows, c] for c in ("mean", "q50")},
            **{f"{c} stored": stored.loc[rows, c] for c in ("mean", "q50")},
        )
        pytest.fail(
            f"{int(rows.sum())} headline rows differ from {SNAPSHOT.name}; the model's numbers "
            f"changed:\n{shown.to_string(index=False)}\n{REGENERATE}",
            pytrace=False,
        )


def test_the_snapshot_covers_every_headline():
    stored = pd.read_csv(SNAPSHOT)
    assert set(zip(stored["metric"], stored["group"], strict=True)) == {
        (h.metric, h.group) for h in HEADLINES
    }
    assert set(stored["frequency"]) == {"year", "horizon"}
