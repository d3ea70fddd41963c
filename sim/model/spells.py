"""One referral of one trust, from referral to the end of its support, and the spells of
a replication as arrays.

Kept apart from :mod:`sim.model.programme`, which opens, moves and closes spells; this
module only records them. No simpy, no randomness.
"""

from __future__ import annotations

import math
from operator import attrgetter

import numpy as np

SPELL_COLUMNS = (
    "trust", "referral", "admission", "target_exit", "exit", "support_end",
    "catastrophic", "reentry", "left_list", "route", "merged", "listed",
)  # fmt: skip
"""Columns of :func:`spell_arrays`, in order."""
_TYPES = (np.int32, float, float, float, float, float, bool, bool, bool, np.int8, bool, bool)


class Spell:
    """One referral of one trust, from referral to the end of its support.

    Times are weeks since the start date: NaN until reached, negative for a spell under
    way at the start."""

    __slots__ = (
        "trust", "referral", "admission", "exit", "support_end",
        "catastrophic", "reentry", "left_list", "listed", "route", "target_exit", "merged",
    )  # fmt: skip

    def __init__(
        self,
        trust: int,
        referral: float,
        catastrophic: bool,
        reentry: bool,
        listed: bool,
        route: int,
    ):
        self.trust = trust
        self.route = route
        """How the spell began: an index of ``ROUTES``."""
        self.target_exit = math.nan
        """Planned exit (admission plus the target duration of the era of admission)."""
        self.merged = False
        """The trust merged into another during the spell, which ended then (``support_end``)."""
        self.referral = referral
        self.admission = math.nan
        self.exit = math.nan
        """Formal exit from the programme to transitional support."""
        self.support_end = math.nan
        """End of transitional support, or of waiting for a trust that left the list."""
        self.catastrophic = catastrophic
        """Referred, or moved up the list, by a catastrophic failure of governance."""
        self.reentry = reentry
        """The trust had exited the programme before."""
        self.left_list = False
        """Left the waiting list unadmitted (no longer eligible), at ``support_end``."""
        self.listed = listed
        """Began with a referral to the waiting list (False: placed in the programme at
        the start, with no referral event)."""

    @property
    def exited(self) -> bool:
        return not math.isnan(self.exit)

    @property
    def admitted(self) -> bool:
        return not math.isnan(self.admission)


_GETTERS = tuple(attrgetter(name) for name in SPELL_COLUMNS)


def spell_arrays(records: list[Spell]) -> dict[str, np.ndarray]:
    """One array per column of :data:`SPELL_COLUMNS`, one row per spell, in the order given."""
    # a column at a time straight from the records: cheaper than rows then a transpose
    count = len(records)
    return {
        name: np.fromiter(map(getter, records), dtype=kind, count=count)
        for name, getter, kind in zip(SPELL_COLUMNS, _GETTERS, _TYPES, strict=True)
    }


def spell_event_times(records: list[Spell]) -> dict[str, list[float]]:
    """Times (weeks) of the referrals (spells that began with one), admissions, exits and
    re-entries (admissions of trusts that had exited before), in the order of ``records``."""
    referrals, admissions, exits, reentries = [], [], [], []
    for spell in records:  # one pass; x == x is False only for NaN (cheaper than isnan)
        if spell.listed:
            referrals.append(spell.referral)
        admission, exit_ = spell.admission, spell.exit
        if admission == admission:
            admissions.append(admission)
            if spell.reentry:
                reentries.append(admission)
        if exit_ == exit_:
            exits.append(exit_)
    return {"referrals": referrals, "admissions": admissions, "exits": exits,
            "reentries": reentries}  # fmt: skip
