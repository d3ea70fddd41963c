"""Statistics across replications, NaN-aware, for (replications x rows) matrices.

A NaN marks "no value in this replication" (for example a period with no admissions has
no mean wait); each statistic uses the values present and reports how many there were.

Every statistic here is taken column by column, so it can be taken a block of columns at a
time (:func:`blockwise`): memory is then replications x block, however many rows there are,
and the figures are the same to the last digit as for the whole matrix (blocks are never one
column wide, see :func:`column_blocks`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import stdtrit  # the t quantile; scipy.stats takes a second to import

if TYPE_CHECKING:
    import pandas as pd

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


SUMMARY_COLUMNS = ("replications", "mean", "ci_low", "ci_high",
                   *(f"q{round(q * 100):02d}" for q in QUANTILES))  # fmt: skip
"""The statistics of the summary table, after its key columns."""
BLOCK_BYTES = 32 * 2**20
"""Values taken at once when statistics are taken block by block (:func:`blockwise`)."""


def column_blocks(
    columns: int, replications: int, budget: int = BLOCK_BYTES
) -> list[tuple[int, int]]:
    """(start, stop) of blocks of columns holding about ``budget`` bytes of float64 values.

    No block is one column wide (unless there is only one column): numpy sums a lone
    column pairwise but sums the columns of a wider block one replication after another, so
    a block of one would differ from the whole matrix in the last digits.
    """
    width = max(2, budget // max(1, 8 * replications))
    bounds = [*range(0, columns, width), columns]
    blocks = list(zip(bounds[:-1], bounds[1:], strict=True))
    if len(blocks) > 1 and blocks[-1][1] - blocks[-1][0] == 1:
        blocks[-2:] = [(blocks[-2][0], columns)]
    return blocks


def blockwise(
    read: Callable[[int, int], np.ndarray],
    shape: tuple[int, int],
    statistics: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    budget: int = BLOCK_BYTES,
    threads: int = 1,
) -> dict[str, np.ndarray]:
    """Per-column ``statistics`` of a (replications x columns) matrix of ``shape``, taken a
    block of columns at a time: ``read(start, stop)`` gives the block's values.

    With ``threads`` above 1, blocks are taken that many at a time (numpy lets go of the
    interpreter while it sorts and sums; ``read`` must be safe to call from threads), each
    of ``budget / threads`` bytes, so the memory is the same and the figures too.
    """
    replications, columns = shape
    blocks = column_blocks(columns, replications, budget // max(1, threads))
    if threads > 1 and len(blocks) > 1:
        # warnings filters are process-wide, so one thread's catch_warnings (variance_split
        # has one) can undo another's while it runs: ignore here what they ignore (numpy's
        # "mean of empty slice" for a row with no values), and put the filters back after
        with warnings.catch_warnings(), ThreadPoolExecutor(threads) as pool:
            warnings.simplefilter("ignore", RuntimeWarning)
            parts = list(pool.map(lambda block: statistics(read(*block)), blocks))
    else:
        parts = [statistics(read(start, stop)) for start, stop in blocks]
    if not parts:  # no columns
        return dict(statistics(np.empty((replications, 0))))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def sorted_quantiles(values: np.ndarray, quantiles=QUANTILES) -> np.ndarray:
    """``np.nanquantile(values, quantiles, axis=0)`` of a (replications x columns) block, to
    the last digit, from one sort of each column (NaN for a column with no value): numpy
    partitions once per quantile, several times slower than a sort when there are a dozen,
    and takes a column with a missing value on its own.

    Each column's values present are interpolated as numpy does (its default ``linear``
    method, Hyndman and Fan's 7th, with the same rounding). A column holding a negative
    zero goes to numpy instead (``np.quantile`` if complete, ``np.nanquantile`` if not, as
    before): a sort and a partition may order -0.0 and 0.0 differently, which can show in
    the sign of a zero.
    """
    ordered = np.sort(values, axis=0)  # NaN last
    count = values.shape[0] - np.isnan(ordered).sum(axis=0)
    virtual = (count - 1) * np.asarray(quantiles, dtype=float)[:, None]
    below = np.floor(virtual)
    above = below + 1
    last = virtual >= count - 1  # as numpy: the largest value, however far past it
    below[last] = above[last] = -1
    gamma = virtual - below
    low, high = (np.take_along_axis(ordered, np.where(last, count - 1, rows).astype(np.intp), 0)
                 for rows in (below, above))  # fmt: skip
    difference = high - low
    out = low + difference * gamma
    np.subtract(high, difference * (1 - gamma), out=out, where=gamma >= 0.5)
    out[:, count == 0] = np.nan
    signed = ((values == 0) & np.signbit(values)).any(axis=0)
    for columns, quantile in ((signed & (count == len(values)), np.quantile),
                              (signed & (count > 0) & (count < len(values)), np.nanquantile)):  # fmt: skip
        if columns.any():
            out[:, columns] = quantile(values[:, columns], quantiles, axis=0)
    return out


def summary_columns(values: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, np.ndarray]:
    """Per column: replications, mean, t interval of the mean, and quantiles (arrays named
    by :data:`SUMMARY_COLUMNS`)."""
    count, mean, sd = column_means(values)
    half_width = np.nan_to_num(t_half_width(sd, count, confidence))
    quantiles = sorted_quantiles(values)
    table = {
        "replications": count,
        "mean": mean,
        "ci_low": mean - half_width,
        "ci_high": mean + half_width,
    }
    for name, row in zip(SUMMARY_COLUMNS[4:], quantiles, strict=True):
        table[name] = row
    return table


def summary_statistics(values, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per column: replications, mean, t interval of the mean, and quantiles.

    ``values`` is a (replications x columns) matrix, or anything that gives one's columns by
    ``values[:, start:stop]`` (a stored matrix read lazily); taken a block of columns at a
    time (:func:`blockwise`), so the work space stays small however many rows there are.
    """
    import pandas as pd  # here, not at the top (see sim.results)

    return pd.DataFrame(blockwise(lambda start, stop: values[:, start:stop], values.shape,
                                  lambda block: summary_columns(block, confidence)))  # fmt: skip
