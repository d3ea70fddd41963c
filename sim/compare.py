"""Paired comparison of scenarios, and replication adequacy.

Replication ``r`` of every scenario in a run used the same random streams, so scenario
differences are taken replication by replication (paired) before any statistic: the noise
the scenarios share cancels, and a scenario compared with itself differs by exactly zero.
Intervals are Student-t intervals of the mean across replications.

Takes :class:`~sim.results.Results`; returns tables. No files, no charts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.results import KEY_COLUMNS, Results
from sim.statistics import CONFIDENCE, column_means, t_half_width

DEFAULT_PRECISION = 0.05
"""Target relative half-width of the 95% interval of the main metrics' means."""

MAIN_METRICS = (
    ("in_programme", "all"),
    ("waiting", "all"),
    ("admissions", "all"),
    ("mean_wait_weeks", "all"),
    ("utilisation", "national"),
    ("cost", "total"),
)
"""Whole-horizon figures whose precision decides whether there are enough replications."""


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


def replication_adequacy(
    results: Results, precision: float = DEFAULT_PRECISION, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Relative half-width of the interval of each main metric's whole-horizon mean.

    Columns: ``scenario, metric, group, replications, mean, half_width,
    relative_half_width, adequate, replications_needed``. ``replications_needed`` uses the
    usual estimate n * (relative_half_width / precision) ** 2. Metrics whose mean is zero
    have no relative precision (NaN) and count as adequate.
    """
    rows = []
    for name, values in results.values.items():
        keys = results.keys[name]
        for metric, group in MAIN_METRICS:
            mask = keys.select(metric, "horizon", group)
            if not mask.any():
                continue
            counts, means, sds = column_means(values[:, mask][:, :1])
            count, mean = int(counts[0]), float(means[0])
            half = float(t_half_width(sds[0], count, confidence))
            relative = abs(half / mean) if mean else np.nan
            adequate = bool(np.isnan(relative) or relative <= precision)
            needed = count if adequate else int(np.ceil(count * (relative / precision) ** 2))
            rows.append((name, metric, group, count, mean, half, relative, adequate, needed))
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "metric",
            "group",
            "replications",
            "mean",
            "half_width",
            "relative_half_width",
            "adequate",
            "replications_needed",
        ],  # fmt: skip
    )
