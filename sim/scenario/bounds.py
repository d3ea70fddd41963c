"""Input bounds: what any scenario value may be, and the limits on numbers and dates.

:class:`FrozenModel`, the base of every scenario section, makes every value strict (no
``"0.8"`` for 0.8), finite (no NaN or infinity) and closed to unknown keys. Every number is
also bounded: the bounds are generous assumptions about what a model of about 200 trusts
over at most 30 years can mean, chosen so that no accepted value can make a run loop,
overflow or allocate without limit. Each says why next to it; ``docs/INPUT_LIMITS.md`` lists them.
Bounds used by one field only stand next to that field in :mod:`sim.scenario.schema`.

This module holds the base model, constants and constrained types only: no sections, no
checks across fields (those are in :mod:`sim.scenario.schema`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _parse_iso_date(value: object) -> object:
    """Accept ISO date strings (from what-if edits and JSON) as well as YAML dates."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value  # let pydantic report it as an invalid date
    if isinstance(value, dt.datetime):
        return value.date()
    return value


EARLIEST_DATE = dt.date(1990, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)
"""Dates a scenario may give: the NHS of the data (2025/26) give or take well over a
century; far dates would overflow the calendar (9999-06-01 plus a horizon)."""
MAX_HORIZON_YEARS = 30.0
MIN_HORIZON_YEARS = 0.25
"""One quarter: the model assesses trusts quarterly and reports by quarter; a shorter
horizon has no assessment and no complete period."""
MAX_WEEKS = 1600.0
"""About 30 years, the longest horizon: a duration beyond it never ends within a run."""
MAX_TRUSTS = 1000
"""Any count of trusts. The data have 205 trusts; each count is also checked against the
trusts of its league table (:mod:`sim.scenario.checks`)."""
MAX_SCORE_SD = 3.0
"""Score spreads, points: scores run from 1 to 4, so a standard deviation of 3 already
spans the whole scale (the fitted values are 0.1 to 0.6)."""
MAX_GRADIENT = 10.0
"""Log-odds per standard deviation of score: 10 is an odds ratio of 22,000 per standard
deviation (the fitted values are about 1)."""
MAX_HOURS_PER_WEEK = 100_000.0
"""Support hours per week from any source: about 2,700 full-time staff (the national
team is 37 to 51 WTE)."""
MAX_POUNDS = 1.0e8
"""Any unit cost or day rate, pounds (the baseline's largest is £85,000 a WTE a year)."""

# constrained types, for fields whose bounds are shared
IsoDate = Annotated[
    dt.date, BeforeValidator(_parse_iso_date), Field(ge=EARLIEST_DATE, le=LATEST_DATE)
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
Score = Annotated[float, Field(ge=1.0, le=4.0)]
ScoreSd = Annotated[float, Field(ge=0.0, le=MAX_SCORE_SD)]
Gradient = Annotated[float, Field(ge=-MAX_GRADIENT, le=MAX_GRADIENT)]
Weeks = Annotated[float, Field(ge=0.0, le=MAX_WEEKS)]
PositiveWeeks = Annotated[float, Field(gt=0.0, le=MAX_WEEKS)]
TrustCount = Annotated[int, Field(ge=0, le=MAX_TRUSTS)]
HoursPerWeek = Annotated[float, Field(ge=0.0, le=MAX_HOURS_PER_WEEK)]
Pounds = Annotated[float, Field(ge=0.0, le=MAX_POUNDS)]

MIN_SPELL_WEEKS = 4.0
"""Shortest average spell (all four phases) when trusts may relapse: a month. Real spells
last years (RSP: 3 to over 7)."""


class FrozenModel(BaseModel):
    """Base of every scenario section: immutable, strict and closed to unknown keys."""

    # allow_inf_nan=False: NaN and infinity (YAML .nan, .inf) are never a valid input
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# --------------------------------------------------------------------- validation helpers


def field_error(paths: str | list[str], reason: str) -> ValueError:
    """A validation error about specific fields below the model being validated.

    ``paths`` are dotted paths relative to that model (several when the problem involves
    more than one field; the error is reported against the one the user's file set). The
    marker is turned into the error's location by :mod:`sim.scenario.error_messages`.
    """
    joined = "|".join([paths] if isinstance(paths, str) else paths)
    return ValueError(f"@{joined}@ {reason}")


def check_dates_increase(list_name: str, dates: list[dt.date]) -> None:
    """Raise a located error unless each ``effective_from`` is after the one before."""
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise field_error(
                [f"{list_name}[{i}].effective_from", f"{list_name}[{i - 1}].effective_from"],
                f"{dates[i]} is not after {list_name}[{i - 1}].effective_from {dates[i - 1]}: "
                "list steps in date order",
            )


def steps_in_date_order(list_name: str):
    """A model validator: the steps of the model's list ``list_name`` are in order of their
    ``effective_from`` (see :func:`check_dates_increase`)."""

    def check(model):
        steps = getattr(model, list_name) or []
        check_dates_increase(list_name, [step.effective_from for step in steps])
        return model

    return model_validator(mode="after")(check)
