"""Duration distributions as inverse CDFs applied to uniform draws.

Every duration is ``ppf(u)`` for a uniform ``u`` drawn for that (trust, spell) from its
own stream. Using the inverse CDF (rather than a generator's own sampler) couples
scenarios monotonically: the same ``u`` gives a longer duration when the distribution is
stretched, which keeps paired comparisons tight. ``ppf_given_elapsed`` draws the remaining
duration of a phase already under way (conditional on lasting longer than ``elapsed``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.special.cython_special import gammaincinv as _gammaincinv
from scipy.special.cython_special import ndtri as _ndtri

from sim.scenario.durations import (
    ExponentialDuration,
    FixedDuration,
    GammaDuration,
    LognormalDuration,
)


@dataclass(frozen=True)
class DurationDistribution:
    """A compiled duration distribution, in weeks."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def from_schema(cls, spec) -> DurationDistribution:
        if isinstance(spec, FixedDuration):
            return cls("fixed", spec.weeks)
        if isinstance(spec, ExponentialDuration):
            return cls("exponential", spec.mean_weeks)
        if isinstance(spec, LognormalDuration):
            return cls("lognormal", spec.median_weeks, spec.sigma)
        if isinstance(spec, GammaDuration):
            shape = 1.0 / spec.cv**2
            return cls("gamma", shape, spec.mean_weeks / shape)
        raise TypeError(f"unknown duration specification {spec!r}")

    def scaled(self, factor: float) -> DurationDistribution:
        """The distribution of ``factor`` times a draw (all kinds scale by their first
        parameter, or by the gamma's scale)."""
        if factor == 1.0:
            return self
        if self.kind == "gamma":
            return DurationDistribution("gamma", self.a, self.b * factor)
        return DurationDistribution(self.kind, self.a * factor, self.b)

    @property
    def mean(self) -> float:
        """Mean duration, weeks."""
        if self.kind in ("fixed", "exponential"):
            return self.a
        if self.kind == "lognormal":
            return self.a * float(np.exp(self.b**2 / 2))
        return self.a * self.b

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function: durations (weeks) for uniforms ``u`` in [0, 1)."""
        u = np.asarray(u, dtype=float)
        if self.kind == "fixed":
            return np.full_like(u, self.a)
        if self.kind == "exponential":
            return -self.a * np.log1p(-u)
        if self.kind == "lognormal":
            return self.a * np.exp(self.b * special.ndtri(u))
        return special.gammaincinv(self.a, u) * self.b

    def quantile(self, u: float) -> float:
        """Scalar quantile function (the hot path draws one duration at a time).

        Calls scipy's scalar kernels directly (``cython_special``, the functions its
        ufuncs loop over, so the values are those of :meth:`ppf`) at a fraction of a
        ufunc call's cost."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "exponential":
            return -self.a * math.log1p(-u)
        if self.kind == "lognormal":
            return self.a * math.exp(self.b * _ndtri(u))
        return _gammaincinv(self.a, u) * self.b

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.kind == "fixed":
            return (x >= self.a).astype(float)
        if self.kind == "exponential":
            return -np.expm1(-x / self.a)
        if self.kind == "lognormal":
            with np.errstate(divide="ignore"):
                return special.ndtr(np.log(np.maximum(x, 0.0) / self.a) / self.b)
        return special.gammainc(self.a, np.maximum(x, 0.0) / self.b)

    def remaining_given_elapsed(self, u: np.ndarray, elapsed: float) -> np.ndarray:
        """Remaining duration of a phase that has already lasted ``elapsed`` weeks."""
        if self.kind == "fixed":
            return np.full_like(np.asarray(u, dtype=float), max(self.a - elapsed, 0.0))
        floor = float(self.cdf(np.array(elapsed)))
        conditional = floor + np.asarray(u) * (1.0 - floor)
        return np.maximum(self.ppf(np.minimum(conditional, 1.0 - 1e-12)) - elapsed, 0.0)


def poisson_quantile(u: float, mean: float) -> int:
    """The smallest k with P(K <= k) >= u for K Poisson with ``mean`` (inverse CDF by
    summing terms: means here are a few events at most, so this is short)."""
    if mean <= 0.0:
        return 0
    k, term = 0, math.exp(-mean)
    total = term
    while u > total and term > 0.0:
        k += 1
        term *= mean / k
        total += term
    return k
