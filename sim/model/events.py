"""The event calendar of one replication: timed callbacks in time order.

:class:`EventQueue` does what the model asked of ``simpy.Environment``: run callbacks at
given times, in order of time and, at equal times, in the order they were scheduled; stop
before the first event at the horizon. It keeps simpy's order exactly (simpy orders
timeouts of equal priority by time, then by scheduling order, and its ``run(until=...)``
stops before events at ``until``), so results are identical, and a test runs the model on
both (:mod:`sim.model.reference` runs it on simpy).

Why not simpy itself: the model schedules only plain timed callbacks, a few hundred per
replication, and simpy's general events cost several microseconds each (an event object,
a callback list, a closure) against under one here; with thousands of replications per
run that was a tenth of the model's time. No state outside an instance, no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from heapq import heappop, heappush  # bare names: no module attribute lookup per event


def pause() -> None:
    """A scheduled event that runs nothing: :meth:`EventQueue.run_to_pause` stops at it,
    so a driver can do the event's work (the batch's assessment) for several calendars
    at once, at exactly the place in each calendar's order the event holds."""


class EventQueue:
    """Timed callbacks of one replication. Times are weeks since the start."""

    __slots__ = ("now", "_queue", "_order")

    def __init__(self) -> None:
        self.now = 0.0
        """The current time (weeks): the time of the event being run."""
        self._queue: list[tuple] = []
        """Heap of (time, scheduling order, callback, arguments)."""
        self._order = itertools.count()

    def schedule(self, delay: float, action: Callable[..., object], *args: object) -> None:
        """Call ``action(*args)`` ``delay`` weeks from now (``delay`` >= 0)."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        heappush(self._queue, (self.now + delay, next(self._order), action, args))

    def run(self, until: float) -> None:
        """Run every event before ``until`` (weeks), in order; events at ``until`` or
        later are not run. Leaves :attr:`now` at ``until``."""
        while self.run_to_pause(until):  # a pause runs nothing: go on past it
            pass

    def close(self) -> None:
        """Drop the events not run: their callbacks hold the objects that scheduled them,
        which hold this calendar, a cycle only the garbage collector would free."""
        self._queue.clear()

    def run_to_pause(self, until: float) -> bool:
        """Run events in order up to the next :func:`pause` before ``until``; True if it
        stopped there (:attr:`now` is then the pause's time), else as :meth:`run`."""
        queue, pop = self._queue, heappop
        while queue and queue[0][0] < until:
            self.now, _, action, args = pop(queue)
            if action is pause:
                return True
            action(*args)
        self.now = until
        return False
