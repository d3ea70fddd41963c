"""Published figures shipped with the package, each row with its source.

The CSV files here are copies of the project's shared data, so a fresh install works on
its own. Readers return plain Python structures; nothing here depends on a scenario.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

import numpy as np

from sim.vocabulary import LEAGUE_TABLES, REGIONS

DATA_FILES = (
    "trusts_by_region_type.csv",
    "segment_distributions.csv",
    "score_bands.csv",
    "programme_facts.csv",
    "programme_history.csv",
    "systems.csv",
    "trust_counts.csv",
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

    @cached_property
    def region_index(self) -> np.ndarray:
        """Each trust's NHS England region as an index of :data:`~sim.vocabulary.REGIONS`
        (int8, read-only)."""
        index = np.asarray([REGIONS.index(region) for region in self.region], dtype=np.int8)
        index.setflags(write=False)
        return index

    def table_size(self, table: int) -> int:
        s = self.table_slices[table]
        return s.stop - s.start

    @cached_property
    def system_names(self) -> tuple[str, ...]:
        """Integrated care systems (``systems.csv``), in the order of :meth:`systems`."""
        return tuple(row["system"] for row in read_table("systems.csv"))

    def systems(self) -> np.ndarray:
        """The integrated care system of each trust (an index of :attr:`system_names`).

        ``systems.csv`` gives, per system, how many trusts of each league table it hosts
        (2025/26). The register says only each trust's region and table, so the trusts of
        one region and table are shared among that region's systems in proportion to those
        counts (largest remainders, in file order); a register of another size keeps the
        proportions. Which named trust belongs where is not needed: a whole-system entry
        refers trusts of one system together.
        """
        bounds = tuple((s.start, s.stop) for s in self.table_slices)
        return _assign_systems(self.region, bounds)


@cache
def trust_register(counts: tuple[int, ...] | None = None) -> TrustRegister:
    """The NHS trusts by league table, type and region.

    ``counts`` (trusts per league table, in the order of ``LEAGUE_TABLES``) asks for a
    register of another size, for years with more (or fewer) trusts than 2025/26; ``None``
    gives the 205 trusts of 2025/26 in the shipped CSV. A table with more trusts than
    published gets extra trusts whose type and region are taken evenly across the
    published ones (so regions keep their shares); one with fewer keeps an evenly spread
    subset. Which trusts later merged is not in the package's data, so this is an
    assumption of the model, stated in ``docs/VALIDATION.md``.
    """
    rows = read_table("trusts_by_region_type.csv")
    unknown = {r["league_table"] for r in rows} - set(LEAGUE_TABLES)
    if unknown:
        raise ValueError(f"trusts_by_region_type.csv has unknown league tables {unknown}")
    unknown = {r["region"] for r in rows} - set(REGIONS)
    if unknown:
        raise ValueError(
            f"trusts_by_region_type.csv has regions {sorted(unknown)} that are not NHS England "
            f"regions ({', '.join(REGIONS)})"
        )
    tables, types, regions = [], [], []
    for index, name in enumerate(LEAGUE_TABLES):
        published = [
            (row["trust_type"], row["region"])
            for row in rows
            if row["league_table"] == name
            for _ in range(int(row["trusts"]))
        ]
        wanted = len(published) if counts is None else int(counts[index])
        chosen = _spread(published, wanted)
        tables += [index] * len(chosen)
        types += [t for t, _ in chosen]
        regions += [r for _, r in chosen]
    table = np.asarray(tables, dtype=np.int8)
    slices = []
    for index in range(len(LEAGUE_TABLES)):
        where = np.flatnonzero(table == index)
        slices.append(slice(int(where[0]), int(where[-1]) + 1))
    table.setflags(write=False)
    return TrustRegister(table, tuple(types), tuple(regions), tuple(slices))


def _spread(published: list, wanted: int) -> list:
    """``wanted`` entries of ``published``: all of them and, beyond that, extras taken at
    even steps through the list (or an evenly spaced subset when fewer are wanted)."""
    n = len(published)
    if wanted <= n:
        return [published[(2 * i + 1) * n // (2 * wanted)] for i in range(wanted)]
    extra = wanted - n
    return published + [published[(2 * j + 1) * n // (2 * extra)] for j in range(extra)]


@cache
def _assign_systems(regions: tuple[str, ...], bounds: tuple[tuple[int, int], ...]) -> np.ndarray:
    rows = read_table("systems.csv")
    out = np.full(len(regions), -1, dtype=np.int32)
    for table, (first, stop) in zip(LEAGUE_TABLES, bounds, strict=True):
        for region in sorted(set(regions)):
            members = [t for t in range(first, stop) if regions[t] == region]
            hosts = [(i, row) for i, row in enumerate(rows) if row["region"] == region]
            if not members:
                continue
            if not hosts:
                raise ValueError(f"systems.csv has no system in region {region!r}")
            weights = np.array([float(row[table] or 0) for _, row in hosts])
            if weights.sum() == 0:
                weights = np.ones(len(hosts))
            counts = _largest_remainders(weights, len(members))
            out[members] = np.repeat([i for i, _ in hosts], counts)
    out.setflags(write=False)
    return out


def _largest_remainders(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers in proportion to ``weights`` that add up to ``total``."""
    exact = weights * total / weights.sum()
    whole = np.floor(exact).astype(int)
    order = np.argsort(-(exact - whole), kind="stable")
    whole[order[: total - whole.sum()]] += 1
    return whole
