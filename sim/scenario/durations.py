"""Duration models: how long a programme phase lasts, as a distribution in weeks.

The schema's ``duration`` fields take one of these, picked by ``distribution``. The model
compiles them into samplers (:mod:`sim.model.distributions`); :func:`mean_weeks` gives
the mean the schema checks need. Like the schema, this module only describes inputs: it
draws no random numbers.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from sim.scenario.bounds import FrozenModel, PositiveWeeks, Weeks


class FixedDuration(FrozenModel):
    """Always the same duration."""

    distribution: Literal["fixed"]
    weeks: Weeks


class ExponentialDuration(FrozenModel):
    # memoryless, with the given mean (no docstring: it would change the exported schema)
    distribution: Literal["exponential"]
    mean_weeks: PositiveWeeks


class LognormalDuration(FrozenModel):
    """Long-tailed: ``median_weeks * exp(sigma * Z)``, Z standard normal."""

    distribution: Literal["lognormal"]
    median_weeks: PositiveWeeks
    sigma: Annotated[float, Field(gt=0.0, le=3.0)]
    """At most 3: the 99th percentile is then 1,000 times the median (fitted: about 0.7);
    far larger values overflow floating point."""


class GammaDuration(FrozenModel):
    """Gamma with the given mean and coefficient of variation (sd / mean)."""

    distribution: Literal["gamma"]
    mean_weeks: PositiveWeeks
    cv: Annotated[float, Field(ge=0.01, le=5.0)]
    """0.01 to 5: below 0.01 the duration is in effect fixed (use ``fixed``); the shape
    ``1 / cv**2`` must stay a finite number."""


Duration = Annotated[
    FixedDuration | ExponentialDuration | LognormalDuration | GammaDuration,
    Field(discriminator="distribution"),
]


def mean_weeks(duration: FixedDuration | ExponentialDuration | LognormalDuration | GammaDuration):
    """Mean of a duration distribution, weeks (improvement: at full support)."""
    if isinstance(duration, FixedDuration):
        return duration.weeks
    if isinstance(duration, LognormalDuration):
        return duration.median_weeks * math.exp(duration.sigma**2 / 2)
    return duration.mean_weeks
