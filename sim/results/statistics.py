"""Statistics across replications, NaN-aware, for (replications x rows) matrices.

A NaN marks "no value in this replication" (for example a period with no admissions has
no mean wait); each statistic uses the values present and reports how many there were.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # the t quantile; scipy.stats takes a second to import

CONFIDENCE = 0.95
QUANTILES = (0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95)
"""Quantiles across replications in the summary table (columns ``q05`` to ``q95``): the 5%,
25%, 75% and 95% of the summary tables and the run's printout, and every decile from 10% to
90% for the graded fan charts (:func:`sim.outputs.charts.data.fan_table`)."""


def t_half_width(sd, count, confidence: float = CONFIDENCE) -> np.ndarray:
    """Half-width of the Student-t interval of a mean of ``count`` values with spread ``sd``."""
    count = np.asarray(count, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stdtrit(np.maximum(count - 1, 1), 0.5 + confidence / 2)
        return np.where(count > 1, quantile * np.asarray(sd) / np.sqrt(count), np.nan)


def column_means(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: count of values present, their mean and standard deviation (ddof 1)."""
    present = ~np.isnan(values)
    count = present.sum(axis=0)
    total = np.where(present, values, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.full(values.shape[1], np.nan), where=count > 0)
    squares = (np.where(present, values - mean, 0.0) ** 2).sum(axis=0)
    variance = np.divide(squares, count - 1, out=np.full(values.shape[1], np.nan), where=count > 1)
    return count, mean, np.sqrt(variance)


def summary_statistics(values: np.ndarray, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per column: replications, mean, t interval of the mean, and quantiles."""
    count, mean, sd = column_means(values)
    half_width = np.nan_to_num(t_half_width(sd, count, confidence))
    # np.quantile is much faster than np.nanquantile: use it wherever nothing is missing
    quantiles = np.full((len(QUANTILES), values.shape[1]), np.nan)
    complete = count == values.shape[0]
    quantiles[:, complete] = np.quantile(values[:, complete], QUANTILES, axis=0)
    partial = (count > 0) & ~complete
    if partial.any():
        quantiles[:, partial] = np.nanquantile(values[:, partial], QUANTILES, axis=0)
    table = {
        "replications": count,
        "mean": mean,
        "ci_low": mean - half_width,
        "ci_high": mean + half_width,
    }
    for q, row in zip(QUANTILES, quantiles, strict=True):
        table[f"q{round(q * 100):02d}"] = row
    return pd.DataFrame(table)
