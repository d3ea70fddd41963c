"""The programme's waiting list: trusts referred and waiting for a place, in priority order.

A trust's priority key is fixed when it joins the list, from the scenario's ordered
priority keys (:data:`sim.vocabulary.PRIORITY_KEYS`), and ends with a joining sequence
number so that no two keys tie: the order in which trusts leave the list is then fully
determined by the keys, whatever the heap's internal layout. Only a catastrophic failure
re-keys a waiting trust (it moves up the list, keeping its score and referral time).

This module knows nothing of simpy, spells or support: the programme decides who joins and
when a place is free; the list only keeps the order. Times are weeks since the start date.
"""

from __future__ import annotations

import heapq
from operator import itemgetter

from sim.vocabulary import PRIORITY_KEYS


class WaitingList:
    """Trusts waiting for a place, served smallest priority key first."""

    __slots__ = ("_heap", "_entry", "_order", "_sequence")

    def __init__(self, priority: tuple[str, ...]):
        """``priority``: the scenario's priority keys, most important first (names from
        :data:`~sim.vocabulary.PRIORITY_KEYS`)."""
        self._heap: list[tuple[tuple, int]] = []
        """Heap of (priority key, trust)."""
        self._entry: dict[int, tuple[bool, float, float]] = {}
        """Per waiting trust: (catastrophic, score at referral, referral time in weeks)."""
        # the per-trust values (see _key) of the keys the scenario lists, in its order
        order = [PRIORITY_KEYS.index(name) for name in priority]
        self._order = itemgetter(*order) if len(order) > 1 else (lambda v: (v[order[0]],))
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._heap)

    def __contains__(self, trust: int) -> bool:
        return trust in self._entry

    def _key(self, catastrophic: bool, score: float, when: float) -> tuple:
        # one value per name in PRIORITY_KEYS, in its order; smallest is served first:
        # catastrophic_first (False first), worst_score (highest first), longest_waiting
        self._sequence += 1
        return (*self._order((not catastrophic, -score, when)), self._sequence)

    def join(self, trust: int, catastrophic: bool, score: float, when: float) -> None:
        """Put ``trust`` on the list: referred at ``when`` (weeks) with average metric
        ``score`` (1 best to 4 worst) at referral."""
        self._entry[trust] = (catastrophic, score, when)
        heapq.heappush(self._heap, (self._key(catastrophic, score, when), trust))

    def promote(self, trust: int) -> None:
        """A catastrophic failure of a waiting trust: re-key it as catastrophic."""
        _, score, when = self._entry[trust]
        self._heap = [entry for entry in self._heap if entry[1] != trust]
        self._entry[trust] = (True, score, when)
        self._heap.append((self._key(True, score, when), trust))
        heapq.heapify(self._heap)

    def pop(self) -> int:
        """Take the first trust off the list (the list must not be empty)."""
        _, trust = heapq.heappop(self._heap)
        del self._entry[trust]
        return trust

    def remove(self, trusts: set[int]) -> None:
        """Take every trust in ``trusts`` off the list (they must all be waiting)."""
        self._heap = [entry for entry in self._heap if entry[1] not in trusts]
        heapq.heapify(self._heap)
        for trust in trusts:
            del self._entry[trust]
