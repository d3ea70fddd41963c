"""Paired comparison of scenarios, and replication adequacy.

Replication ``r`` of every scenario in a run used the same random streams, so scenario
differences are taken replication by replication (paired) before any statistic: the noise
the scenarios share cancels, and a scenario compared with itself differs by exactly zero.
Intervals are Student-t intervals of the mean across replications.

Takes :class:`~sim.results.tables.Results`; returns tables. No files, no charts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.results.adequacy import (  # noqa: F401 (adequacy is a statistic of results; kept importable here)
    DEFAULT_PRECISION,
    MAIN_METRICS,
    replication_adequacy,
)
from sim.results.statistics import CONFIDENCE, column_means, t_half_width
from sim.results.tables import KEY_COLUMNS, Results, RowKeys
from sim.vocabulary import LEAGUE_TABLES


def paired_differences(
    results: Results, baseline: str, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Per scenario (other than ``baseline``) and row: the mean paired difference.

    Rows present in both scenarios are compared (scenarios may differ in horizon). Columns:
    ``scenario, baseline, frequency, period, metric, group, replications, baseline_mean,
    mean_difference, ci_low, ci_high, relative_difference``; ``replications`` counts the
    pairs in which both values exist.

    Raises
    ------
    KeyError
        If ``baseline`` is not a scenario in ``results``.
    """
    if baseline not in results.values:
        raise KeyError(f"no scenario {baseline!r} in these results; have {sorted(results.values)}")
    base_keys = results.keys[baseline].frame()
    base_values = results.values[baseline]
    base_index = {tuple(row): i for i, row in enumerate(base_keys.itertuples(index=False))}
    frames = []
    for name, values in results.values.items():
        if name == baseline:
            continue
        keys = results.keys[name].frame()
        mine, theirs = [], []
        for i, row in enumerate(keys.itertuples(index=False)):
            j = base_index.get(tuple(row))
            if j is not None:
                mine.append(i)
                theirs.append(j)
        count, mean, sd = column_means(values[:, mine] - base_values[:, theirs])
        half = t_half_width(sd, count, confidence)
        base_mean = column_means(base_values[:, theirs])[1]
        frame = keys.iloc[mine].reset_index(drop=True)
        frame.insert(0, "baseline", baseline)
        frame.insert(0, "scenario", name)
        frame["replications"] = count
        frame["baseline_mean"] = base_mean
        frame["mean_difference"] = mean
        frame["ci_low"] = mean - np.nan_to_num(half)
        frame["ci_high"] = mean + np.nan_to_num(half)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["relative_difference"] = np.where(base_mean != 0, mean / base_mean, np.nan)
        frames.append(frame)
    columns = ["scenario", "baseline", *KEY_COLUMNS, "replications", "baseline_mean",
               "mean_difference", "ci_low", "ci_high", "relative_difference"]  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


NO_DIFFERENCE_OUTPUTS = (
    ("in_programme", "all", "caseload"),
    ("waiting", "all", "waiting list"),
    ("admissions", "all", "admissions"),
    ("referrals", "all", "referrals"),
    ("mean_wait_weeks", "all", "waiting times"),
    ("trusts", tuple(f"{table}|segment 4" for table in LEAGUE_TABLES), "trusts in segment 4"),
    ("trusts", None, "trusts by segment"),
    ("trusts_in_deficit", None, "trusts in deficit"),
    ("utilisation", "national", "national team utilisation"),
    ("cost", "total", "cost"),
    ("cost_by_payer", "trusts", "cost paid by trusts"),
)
"""Outputs checked for "no difference at all" from the baseline: (metric, group, label),
the group being one name, a tuple of names or None for every group. Every period of every
frequency is checked, not just the whole-horizon figure."""

NATIONAL_SHORT = "national_demand_exceeded"
NO_DIFFERENCE_METRICS = tuple(
    dict.fromkeys([m for m, _, _ in NO_DIFFERENCE_OUTPUTS] + [NATIONAL_SHORT])
)
"""The metrics :func:`identical_outputs` reads (to read no more of a results folder)."""
ROUNDING = 1e-9
"""Relative difference still counted as "identical": floating-point rounding only. A figure
summed in a different order (cost paid by trusts when only the national team's cost
changed) can differ in its last digits; any real change is many orders larger."""


def identical_outputs(
    table: pd.DataFrame | Results, baseline: str, outputs=NO_DIFFERENCE_OUTPUTS
) -> pd.DataFrame:
    """Per scenario and output: is it exactly the baseline's in every replication?

    Scenarios in a run share their random numbers replication by replication, so a paired
    difference that is exactly zero in every period of every replication means the variant
    changed nothing in that output (not merely "too little to detect"); differences within
    floating-point rounding (:data:`ROUNDING`) count as zero. Missing values
    (no admissions, so no mean wait) count as equal when both are missing. Only periods
    present in both scenarios are compared.

    ``table`` is the tidy table (``scenario, replication, frequency, period, metric,
    group, value``, as :meth:`Results.table` or ``replications.parquet``) or the
    :class:`Results` themselves. Returns one row per scenario other than ``baseline`` and
    output: ``scenario, baseline, output, metric, group, identical, replications,
    replications_differing, national_never_short``. The last is true when the national
    team's demand never exceeded its capacity, in any week of any replication, in either
    scenario (so a different team size or shortfall policy had nothing to act on).

    Raises
    ------
    KeyError
        If ``baseline`` is not a scenario in ``table``.
    """
    metrics = list(dict.fromkeys([m for m, _, _ in outputs] + [NATIONAL_SHORT]))
    if isinstance(table, Results):
        matrices = {
            name: _subset(keys, table.values[name], metrics) for name, keys in table.keys.items()
        }
    else:
        matrices = _from_tidy(table[table["metric"].isin(metrics)])
    if baseline not in matrices:
        raise KeyError(f"no scenario {baseline!r} in these results; have {sorted(matrices)}")
    base_keys, base_values = matrices[baseline]
    base_index = {row: i for i, row in enumerate(zip(*base_keys.values(), strict=True))}
    base_never_short = _never_short(base_keys, base_values)
    rows = []
    for name, (keys, values) in matrices.items():
        if name == baseline:
            continue
        mine = np.array([base_index.get(row, -1) for row in zip(*keys.values(), strict=True)])
        paired = mine >= 0
        calm = base_never_short and _never_short(keys, values)
        for metric, group, label in outputs:
            columns = paired & _select(keys, metric, group)
            if not columns.any():
                continue
            a, b = values[:, columns], base_values[:, mine[columns]]
            same = np.isclose(a, b, rtol=ROUNDING, atol=0.0, equal_nan=True).all(axis=1)
            differing = int((~same).sum())
            groups = "every group" if group is None else ", ".join(np.atleast_1d(group))
            rows.append((name, baseline, label, metric, groups,
                         differing == 0, len(same), differing, calm))  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["scenario", "baseline", "output", "metric", "group", "identical",
                 "replications", "replications_differing", "national_never_short"],
    )  # fmt: skip


def _select(keys: dict[str, np.ndarray], metric: str, group) -> np.ndarray:
    """Mask of one output's rows: every period, and the group(s) asked for (None: all)."""
    mask = keys["metric"] == metric
    if group is not None:
        mask &= np.isin(keys["group"], np.atleast_1d(group))
    return mask


def _never_short(keys: dict[str, np.ndarray], values: np.ndarray) -> bool:
    """True if the national team's demand exceeded its capacity in no period at all."""
    mask = _select(keys, NATIONAL_SHORT, None)
    return bool(mask.any()) and not bool((values[:, mask] > 0).any())


def _subset(keys: RowKeys, values: np.ndarray, metrics: list[str]):
    """A value matrix's columns of these metrics, with their labels."""
    mask = np.isin(keys.metric, metrics)
    return {c: np.asarray(getattr(keys, c)[mask], dtype=object) for c in KEY_COLUMNS}, values[
        :, mask
    ]


def _from_tidy(table: pd.DataFrame) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """Tidy rows -> per scenario, (row labels, replications x rows matrix); NaN if absent."""
    replications = np.unique(table["replication"].to_numpy())
    out = {}
    for name, rows in table.groupby("scenario", sort=False, observed=True):
        codes = rows.groupby(list(KEY_COLUMNS), sort=False, observed=True).ngroup().to_numpy()
        first = np.unique(codes, return_index=True)[1]
        matrix = np.full((len(replications), len(first)), np.nan)
        at = np.searchsorted(replications, rows["replication"].to_numpy())
        matrix[at, codes] = rows["value"].to_numpy(dtype=float)
        labels = {c: rows[c].iloc[first].to_numpy(dtype=object) for c in KEY_COLUMNS}
        out[str(name)] = (labels, matrix)
    return out
