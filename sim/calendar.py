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


PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
"""Length of each calendar frequency in months; quarters and years follow the NHS
financial year (years start on 1 April)."""


def period_starts(start: dt.date, end: dt.date, frequency: str) -> list[dt.date]:
    """First days of the months, financial quarters (1 Apr, 1 Jul, 1 Oct, 1 Jan) or
    financial years (1 Apr) that begin strictly inside ``(start, end)``."""
    step = PERIOD_MONTHS[frequency]
    # months since April of year 0, rounded up to the next period start after `start`
    index = start.year * 12 + start.month - 4
    index = (index // step + 1) * step
    out = []
    while True:
        year, month0 = divmod(index + 3, 12)
        date = dt.date(year, month0 + 1, 1)
        if date >= end:
            return out
        out.append(date)
        index += step


def period_label(date: dt.date, frequency: str) -> str:
    """Label of the month ('2026-05'), quarter ('2026/27 Q1') or year ('2026/27') of ``date``."""
    if frequency == "month":
        return f"{date.year}-{date.month:02d}"
    if frequency == "quarter":
        return quarter_label(date)
    return financial_year(date)


def quarter_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of financial quarters (1 Apr, 1 Jul, 1 Oct, 1 Jan) in ``(start, end)``."""
    return period_starts(start, end, "quarter")
