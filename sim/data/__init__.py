"""Published figures shipped with the package, each row with its source.

The CSV files here are copies of the project's shared data, so a fresh install works on
its own. Readers return plain Python structures; nothing here depends on a scenario.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from sim.vocabulary import LEAGUE_TABLES

DATA_FILES = (
    "trusts_by_region_type.csv",
    "segment_distributions.csv",
    "score_bands.csv",
    "programme_facts.csv",
    "programme_history.csv",
)


def read_table(name: str) -> list[dict[str, str]]:
    """Rows of one shipped CSV file as dictionaries (column name to text)."""
    if name not in DATA_FILES:
        raise KeyError(f"no shipped data file {name!r}; have {', '.join(DATA_FILES)}")
    with resources.files(__package__).joinpath(name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class TrustRegister:
    """The trusts, one entry per trust, grouped contiguously by league table.

    Trusts are ordered acute, non-acute, ambulance (the order of ``LEAGUE_TABLES``) so that
    each table is a contiguous slice, which keeps per-table array work cheap.
    """

    table: np.ndarray
    """League-table index per trust (0 acute, 1 non-acute, 2 ambulance), int8."""
    trust_type: tuple[str, ...]
    region: tuple[str, ...]
    table_slices: tuple[slice, ...]
    """Slice of the trust arrays holding each league table."""

    @property
    def n_trusts(self) -> int:
        return len(self.table)

    def table_size(self, table: int) -> int:
        s = self.table_slices[table]
        return s.stop - s.start


@cache
def trust_register() -> TrustRegister:
    """The 205 NHS trusts of 2025/26 by league table, type and region (shipped CSV)."""
    rows = read_table("trusts_by_region_type.csv")
    tables, types, regions = [], [], []
    for index, name in enumerate(LEAGUE_TABLES):
        for row in rows:
            if row["league_table"] == name:
                count = int(row["trusts"])
                tables += [index] * count
                types += [row["trust_type"]] * count
                regions += [row["region"]] * count
    unknown = {r["league_table"] for r in rows} - set(LEAGUE_TABLES)
    if unknown:
        raise ValueError(f"trusts_by_region_type.csv has unknown league tables {unknown}")
    table = np.asarray(tables, dtype=np.int8)
    slices = []
    for index in range(len(LEAGUE_TABLES)):
        where = np.flatnonzero(table == index)
        slices.append(slice(int(where[0]), int(where[-1]) + 1))
    table.setflags(write=False)
    return TrustRegister(table, tuple(types), tuple(regions), tuple(slices))
