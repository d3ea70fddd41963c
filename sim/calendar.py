"""Simulation time and the NHS calendar.

The model's clock is float weeks since the scenario's start date. Dates and NHS
financial-year labels (April to March, "2026/27 Q1") appear only at the edges: when a
scenario is compiled (dates to weeks) and when results are labelled (weeks to periods).
"""

from __future__ import annotations

import datetime as dt
import math

DAYS_PER_WEEK = 7.0
WEEKS_PER_YEAR = 365.25 / DAYS_PER_WEEK


def weeks_between(start: dt.date, date: dt.date) -> float:
    """Weeks from ``start`` to ``date`` (negative if ``date`` is earlier)."""
    return (date - start).days / DAYS_PER_WEEK


def date_at(start: dt.date, weeks: float) -> dt.date:
    """Calendar date ``weeks`` after ``start`` (rounded down to a day)."""
    return start + dt.timedelta(days=math.floor(weeks * DAYS_PER_WEEK + 1e-9))


def financial_year(date: dt.date) -> str:
    """NHS financial year label, April to March: 2026-05-01 -> '2026/27'."""
    first = date.year if date.month >= 4 else date.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def financial_quarter(date: dt.date) -> int:
    """Quarter of the NHS financial year, 1 (April to June) to 4 (January to March)."""
    return (date.month - 4) % 12 // 3 + 1


def quarter_label(date: dt.date) -> str:
    """'2026/27 Q1' style label of the financial quarter containing ``date``."""
    return f"{financial_year(date)} Q{financial_quarter(date)}"


def quarter_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of financial quarters (1 Apr, 1 Jul, 1 Oct, 1 Jan) in ``(start, end)``."""
    out = []
    year, month = start.year, start.month
    # first quarter start strictly after `start`
    month = ((month - 1) // 3 + 1) * 3 + 1
    if month > 12:
        year, month = year + 1, month - 12
    date = dt.date(year, month, 1)
    while date < end:
        out.append(date)
        month += 3
        if month > 12:
            year, month = year + 1, month - 12
        date = dt.date(year, month, 1)
    return out
