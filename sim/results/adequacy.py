"""Replication adequacy: is the run long enough for the headline figures' precision?

Every results folder carries ``adequacy.csv`` (written by :mod:`sim.results.folder`, so
:meth:`~sim.results.tables.Results.save` and a streamed run write the same folder as the
command line). A statistic of results, so it lives with them, below the analyses; takes
:class:`~sim.results.tables.Results` and returns a table. No files here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.results.defaults import DEFAULT_PRECISION  # importable from here, as before
from sim.results.keys import RowKeys
from sim.results.statistics import CONFIDENCE, column_means, t_half_width
from sim.vocabulary import HEADLINES

if TYPE_CHECKING:
    import pandas as pd

    from sim.results.tables import Results

ADEQUACY_FILE = "adequacy.csv"
MAIN_METRICS = tuple((headline.metric, headline.group) for headline in HEADLINES)
"""Whole-horizon figures whose precision decides whether there are enough replications
(the six headlines)."""
ADEQUACY_COLUMNS = ["scenario", "metric", "group", "replications", "mean", "half_width",
                    "relative_half_width", "adequate", "replications_needed"]  # fmt: skip


def replication_adequacy(
    results: Results, precision: float = DEFAULT_PRECISION, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Relative half-width of the interval of each main metric's whole-horizon mean.

    Columns: ``scenario, metric, group, replications, mean, half_width,
    relative_half_width, adequate, replications_needed``. ``replications_needed`` uses the
    usual estimate n * (relative_half_width / precision) ** 2. Metrics whose mean is zero
    have no relative precision (NaN) and count as adequate.
    """
    import pandas as pd  # here, not at the top (see sim.results)

    rows = []
    for name, values in results.values.items():
        rows += adequacy_rows(name, results.keys[name], values, precision, confidence)
    return pd.DataFrame(rows, columns=ADEQUACY_COLUMNS)


def adequacy_rows(
    name: str, keys: RowKeys, values, precision: float = DEFAULT_PRECISION,
    confidence: float = CONFIDENCE,
) -> list[tuple]:
    """The rows of :func:`replication_adequacy` for one scenario. ``values`` is its
    (replications x rows) matrix, or anything giving its columns by ``values[:, positions]``
    (only the main metrics' columns are read, at once)."""
    found = [(metric, group, np.flatnonzero(keys.select(metric, "horizon", group))[:1])
             for metric, group in MAIN_METRICS]  # fmt: skip
    found = [(metric, group, int(row[0])) for metric, group, row in found if len(row)]
    if not found:
        return []
    block = values[:, [row for *_, row in found]]
    rows = []
    for j, (metric, group, _) in enumerate(found):
        # one contiguous column (replications x 1): numpy sums it pairwise, not as in a block
        column = np.ascontiguousarray(block[:, j : j + 1])
        counts, means, sds = column_means(column)
        count, mean = int(counts[0]), float(means[0])
        half = float(t_half_width(sds[0], count, confidence))
        relative = abs(half / mean) if mean else np.nan
        adequate = bool(np.isnan(relative) or relative <= precision)
        needed = count if adequate else int(np.ceil(count * (relative / precision) ** 2))
        rows.append((name, metric, group, count, mean, half, relative, adequate, needed))
    return rows
