"""Tables for people: numbers rounded sensibly, with thousands separators, never in
scientific notation.

:func:`format_number` writes one number; :func:`readable` shows a whole table (a pandas
DataFrame) that way, as a notebook displays it, leaving the table's values as they are.
Used by the notebooks and the what-if panel. Formats only: computes nothing.
"""

from __future__ import annotations

import math
import numbers

import pandas as pd

SIGNIFICANT = 3
"""Significant figures shown below 1,000 (whole numbers from 1,000 up)."""
MAX_DECIMALS = 6
"""No more decimals than this: smaller numbers show as 0."""


def format_number(value, significant: int = SIGNIFICANT) -> str:
    """``value`` for people: ``14.4``, ``0.0468``, ``26,696,360``, ``12``; missing
    values (None, NaN) as an empty string, and anything not a number as ``str(value)``."""
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return "" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    value = float(value)
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value.is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    if abs(value) < 0.5 * 10.0**-MAX_DECIMALS:
        return "0"

    def decimals(size: float) -> int:
        return min(MAX_DECIMALS, max(0, significant - 1 - math.floor(math.log10(size))))

    places = decimals(abs(value))
    rounded = round(value, places)
    if rounded == 0:
        return "0"
    places = decimals(abs(rounded))  # 999.96 rounds up to 1,000: no decimal
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text  # 1.2, not 1.200


def readable(table: pd.DataFrame | pd.Series, significant: int = SIGNIFICANT):
    """``table`` shown with every number written by :func:`format_number` (a pandas
    Styler: a notebook displays it as a table; its ``data`` is the table unchanged).
    True/False and text columns are shown as they are."""
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    numeric = [
        column
        for column in frame.columns
        if pd.api.types.is_numeric_dtype(frame[column])
        and not pd.api.types.is_bool_dtype(frame[column])
    ]
    return frame.style.format(
        lambda value: format_number(value, significant), subset=numeric
    ).format_index(lambda value: format_number(value, significant), axis=0)
