"""Sweeps: many scenario variants from one scenario, over a grid or a sample.

``grid_variants`` crosses lists of values of dotted scenario paths (for example the
programme cap by national-team WTE by consultancy share); ``sample_variants`` draws a Latin
hypercube over the ranges the scenario declares for its uncertain assumptions. Each variant
is a validated scenario named ``<scenario>-0001`` and so on; each function also returns a
table of the values behind each name (written as ``sweep.csv`` in the results folder).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import pandas as pd
from scipy.stats import qmc

from sim.experiment.limits import check_variants
from sim.experiment.uncertainty import rescale_blends, uncertain_numbers
from sim.scenario import Scenario, with_changes
from sim.scenario.annotations import uncertain_values
from sim.scenario.edits import parse_value
from sim.scenario.paths import parse_path

SWEEP_FILE = "sweep.csv"


def parse_grid(items: Sequence[str]) -> dict[str, list]:
    """``["programme.cap=10,15,20", "team.shortfall_policy=wait,dilute"]`` ->
    ``{"programme.cap": [10, 15, 20], "team.shortfall_policy": ["wait", "dilute"]}``.

    Paths must be well formed and given once; values are read by
    :func:`sim.scenario.edits.parse_value` (numbers, ``null``, text; never NaN).
    """
    grid: dict[str, list] = {}
    for item in items:
        path, _, values = item.partition("=")
        path = path.strip()
        if not path or not values:
            raise ValueError(f"a grid is PATH=V1,V2,..., got {item!r}")
        parse_path(path)  # ValueError naming the path if it is malformed
        if path in grid:
            raise ValueError(f"{path} is given twice; list all its values in one --grid")
        try:
            grid[path] = [parse_value(v) for v in values.split(",")]
        except ValueError as exc:
            raise ValueError(f"grid values for {path}: {exc} in {values!r}") from None
    check_variants(math.prod(len(v) for v in grid.values()))
    return grid


def _name(base: str, index: int, width: int) -> str:
    return f"{base}-{index:0{width}d}"


def grid_variants(
    scenario: Scenario, grid: Mapping[str, Sequence[float]]
) -> tuple[list[Scenario], pd.DataFrame]:
    """Every combination of the grid's values, as scenarios and a table of their values."""
    paths = list(grid)
    check_variants(math.prod(len(grid[p]) for p in paths))
    combinations = list(itertools.product(*(grid[p] for p in paths)))
    width = len(str(len(combinations)))
    variants, rows = [], []
    for index, values in enumerate(combinations, start=1):
        name = _name(scenario.name, index, width)
        changes = dict(zip(paths, values, strict=True))
        variants.append(
            with_changes(scenario, {"name": name, **changes}, note=f"sweep point {name}",
                         fixed=True)
        )
        rows.append({"scenario": name, **changes})
    return variants, pd.DataFrame(rows)


def sample_variants(
    scenario: Scenario, points: int, seed: int
) -> tuple[list[Scenario], pd.DataFrame]:
    """A Latin hypercube of ``points`` over the scenario's declared ranges."""
    uncertain = uncertain_values(scenario)
    if not uncertain:
        raise ValueError(f"scenario {scenario.name!r} declares no ranges to sample")
    check_variants(points)
    numbers = uncertain_numbers(scenario)  # each with its distribution over its range
    sampler = qmc.LatinHypercube(d=len(numbers), seed=seed)
    unit = sampler.random(points)
    width = len(str(points))
    variants, rows = [], []
    for index, row in enumerate(unit, start=1):
        name = _name(scenario.name, index, width)
        changes = {n.path: n.draw(u) for n, u in zip(numbers, row, strict=True)}
        changes = rescale_blends(scenario, changes)  # a phase's shares still add up to 1
        variants.append(
            with_changes(scenario, {"name": name, **changes}, note=f"sweep point {name}",
                         fixed=True)
        )
        rows.append({"scenario": name, **changes})
    return variants, pd.DataFrame(rows)
