"""Row keys: what each column of a (replications x rows) value matrix means.

:class:`RowKeys` is the one row-keys type of the package: four aligned label arrays
(frequency, period, metric, group). The experiment's :class:`~sim.experiment.layout.Layout`
extends it with what reduction needs (period edges, horizon, cap).

Imports numpy only (pandas on demand in :meth:`RowKeys.frame`): it is used inside worker
processes, which must stay light. No statistics, no files here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

KEY_COLUMNS = ("frequency", "period", "metric", "group")
"""The label columns of a row, in the order of the tidy table."""


@dataclass(frozen=True)
class RowKeys:
    """What each column of a value matrix means: four aligned arrays of labels."""

    frequency: np.ndarray
    period: np.ndarray
    metric: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.metric)

    def row_keys(self) -> RowKeys:
        """Just the four label arrays (drops what a subclass such as a layout adds)."""
        return RowKeys(self.frequency, self.period, self.metric, self.group)

    def frame(self) -> pd.DataFrame:
        """The keys as a DataFrame with columns :data:`KEY_COLUMNS`."""
        import pandas as pd  # here, not at the top: workers import this module

        return pd.DataFrame({name: getattr(self, name) for name in KEY_COLUMNS})

    def select(
        self, metric: str, frequency: str | None = None, group: str | None = None
    ) -> np.ndarray:
        """Boolean mask of the rows of one metric (and frequency, group)."""
        mask = self.metric == metric
        if frequency is not None:
            mask &= self.frequency == frequency
        if group is not None:
            mask &= self.group == group
        return mask
