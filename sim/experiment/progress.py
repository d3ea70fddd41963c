"""The progress bar: one helper for every command and runner that shows one.

:class:`ProgressBar` draws a tqdm bar on standard error when wanted (by default only when
standard error is a terminal) and is a no-op counter otherwise. One bar can follow several
runs and several stages of a command:

* the runners (:mod:`sim.experiment.runner`) take ``RunSettings(progress=...)``: True,
  False or None make a bar for that run alone; a :class:`ProgressBar` given there is
  advanced by the run, which adds its replications to the bar's total (:meth:`part`), so a
  study of many runs (sensitivity, the planner, the theory checks) shows one bar;
* :meth:`stage` starts a new bar for the next step of a command (reading a results
  folder, the back-test, the charts), and :meth:`at` is the callback of the fits
  (:data:`sim.analysis.calibration.Progress`): the stage's name and its count so far.

While a bar is shown, log records (``-v``) are written above it rather than through it.
A bar only counts what is done: it never changes what is run or its results. No model here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class ProgressBar:
    """A tqdm bar on standard error when ``show`` (None: only on a terminal); otherwise a
    no-op counter. Use it as a context manager; call it with a count to advance it.

    Parameters
    ----------
    total
        Units of work expected (0 when the runs it follows will say, see :meth:`part`).
    show
        True, False, or None for "only when standard error is a terminal".
    unit, desc
        The unit counted ("rep": replications) and the words before the bar.
    """

    def __init__(
        self, total: int = 0, show: bool | None = None, unit: str = "rep", desc: str | None = None
    ):
        self.show = sys.stderr.isatty() if show is None else bool(show)
        self.total = int(total)
        self.limit = self.total
        """The total each stage of :meth:`at` starts with (the fits' evaluation limit)."""
        self.unit = unit
        self.desc = desc
        self.n = 0
        self._reserved = 0
        self._bar = None
        self._logging: contextlib.ExitStack | None = None

    # ---------------------------------------------------------------- context manager

    def __enter__(self) -> ProgressBar:
        if self.show and self._logging is None:
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._logging = contextlib.ExitStack()
            self._logging.enter_context(logging_redirect_tqdm())  # -v lines above the bar
            self._open()
        return self

    def __exit__(self, *exc) -> None:
        self._close()
        if self._logging is not None:
            self._logging.close()
            self._logging = None

    def _open(self) -> None:
        if self.show and self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total or None, desc=self.desc, unit=self.unit,
                             initial=self.n, file=sys.stderr, leave=False)  # fmt: skip

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # ----------------------------------------------------------------------- counting

    def __call__(self, count: int = 1) -> None:
        """``count`` more units done."""
        self.n += count
        if self._bar is not None:
            self._bar.update(count)

    def expect(self, count: int) -> None:
        """``count`` more units of work are coming, announced by whoever knows the plan
        (the runs that do them then add nothing more to the total, see :meth:`part`)."""
        self._reserved += count
        self._grow(count)

    @contextlib.contextmanager
    def part(self, count: int) -> Iterator[ProgressBar]:
        """A run of ``count`` units under this bar: its total grows by what
        :meth:`expect` did not already announce; the bar stays open afterwards."""
        announced = min(count, self._reserved)
        self._reserved -= announced
        self._grow(count - announced)
        yield self

    def _grow(self, count: int) -> None:
        if count:
            self.total += count
            if self._bar is not None:
                self._bar.total = self.total
                self._bar.refresh()

    def stage(self, desc: str, total: int = 0, unit: str | None = None) -> None:
        """Start the next stage of the work: a new bar, with its own words, total and unit
        (counted from 0)."""
        self._close()
        self.desc, self.total, self.n, self._reserved = desc, int(total), 0, 0
        self.unit = unit or self.unit
        if self._logging is not None:
            self._open()

    def at(self, stage: str, done: int, total: int | None = None) -> None:
        """``done`` units so far in ``stage`` (a new name starts a new stage, of ``total``
        units or, by default, the total the bar was made with): the fits' callback."""
        if stage != self.desc:
            self.stage(stage, self.limit if total is None else total)
        elif total is not None and total != self.total:
            self._grow(total - self.total)
        self(done - self.n)


def bar_for(total: int, show: bool | ProgressBar | None) -> contextlib.AbstractContextManager:
    """The bar of one run of ``total`` units: a new :class:`ProgressBar` for ``show`` True,
    False or None, or, for a :class:`ProgressBar`, that bar (a :meth:`~ProgressBar.part`
    of it, left open for the runs that follow)."""
    if isinstance(show, ProgressBar):
        return show.part(total)
    return ProgressBar(total, show)
