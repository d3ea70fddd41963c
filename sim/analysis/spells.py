"""Programme spells in the shipped history, and censored fits of their lengths.

Turns the rows of ``programme_history.csv`` into spells (entry to exit) per organisation,
treating spells still running at a source's date as right-censored; fits lognormal or
Weibull spell lengths by censored maximum likelihood; gives the Kaplan-Meier estimate;
and translates a fitted distribution into the aggregate figures sources publish (the mean
of spells *completed* by a date, the share that ended within so many months). Durations
are in months (``DAYS_PER_MONTH`` days). Numpy and scipy only: runs no simulation, reads
only what it is given, prints and writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy import integrate, optimize, stats

DAYS_PER_MONTH = 365.25 / 12
"""Days in an average month: durations in months are days divided by this."""

OPENING_EVENTS = ("entry", "re-entry")
EVENTS = (*OPENING_EVENTS, "transfer", "exit", "target_exit")
FAMILIES = ("lognormal", "weibull")


@dataclass(frozen=True)
class ObservedSpell:
    """One organisation's time in the programme, from entry to exit or to the censoring date."""

    organisation: str
    regime: str
    """Regime at entry (``special_measures``, ``rsp``, ``pip``); a transfer keeps it."""
    start: date
    end: date | None
    """Exit date, or None when the spell was still running at ``as_of`` (censored)."""
    censored: bool
    months: float
    """Months to the exit, or to ``as_of`` when censored; a lower bound when censored or
    left-truncated."""
    left_truncated: bool = False
    """True when the entry date is unknown and ``start`` is the date of a transfer."""
    target_exit: date | None = None
    start_precision: str = "day"
    """``day``, ``month`` (date taken as the 15th) or ``year`` (taken as 1 July)."""
    end_precision: str | None = None
    notes: tuple[str, ...] = ()


def parse_date(text: str) -> tuple[date, str]:
    """A ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` date and its precision.

    An imprecise date is taken at the middle of its period (the 15th, or 1 July), so that
    the error in a duration is at most half the period and has no systematic sign.
    """
    parts = text.strip().split("-")
    try:
        numbers = [int(p) for p in parts]
        if len(parts) == 3 and [len(p) for p in parts] == [4, 2, 2]:
            return date(*numbers), "day"
        if len(parts) == 2 and [len(p) for p in parts] == [4, 2]:
            return date(numbers[0], numbers[1], 15), "month"
        if len(parts) == 1 and len(parts[0]) == 4:
            return date(numbers[0], 7, 1), "year"
    except ValueError:
        pass
    raise ValueError(f"unparseable date {text!r} (expected YYYY-MM-DD, YYYY-MM or YYYY)")


def months_between(start: date, end: date) -> float:
    """Months (of ``DAYS_PER_MONTH`` days) from ``start`` to ``end``."""
    return (end - start).days / DAYS_PER_MONTH


def observed_spells(
    rows: Iterable[Mapping[str, str]], as_of: date, *, exits_without_entry: str = "raise"
) -> list[ObservedSpell]:
    """Spells per organisation from history rows (organisation, event, date, regime, note).

    Events dated after ``as_of`` have not happened yet: later exits leave a spell censored
    at ``as_of``, and spells starting later are dropped. An exit (or target exit) with no
    open spell is a ValueError naming the organisation and row, unless
    ``exits_without_entry="drop"``, which skips such rows (losing those spells).
    """
    if exits_without_entry not in ("raise", "drop"):
        raise ValueError(
            f"exits_without_entry must be 'raise' or 'drop', not {exits_without_entry!r}"
        )
    events: dict[str, list[tuple[date, str, str, Mapping[str, str]]]] = {}
    for number, row in enumerate(rows, start=1):
        where = f"{row['organisation']}, row {number} ({row['event']} {row['date']})"
        if row["event"] not in EVENTS:
            raise ValueError(f"{where}: unknown event; expected one of {', '.join(EVENTS)}")
        try:
            when, precision = parse_date(row["date"])
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        if when <= as_of:
            events.setdefault(row["organisation"], []).append((when, precision, where, row))

    spells = []
    for organisation, history in events.items():
        # by date; the sort is stable, so an exit and a re-entry on one day keep file order
        history.sort(key=lambda item: item[0])
        spell: dict | None = None
        for when, precision, where, row in history:
            event, notes = row["event"], [row["note"]] if row.get("note") else []
            if event in OPENING_EVENTS or (event == "transfer" and spell is None):
                if spell is not None:
                    raise ValueError(
                        f"{where}: {event} while a spell from {spell['start']} is open"
                    )
                # a transfer (special measures into the RSP, July 2021) with no entry row: the
                # spell began on an unknown earlier date, so it is observed from the transfer
                truncated = event == "transfer"
                if truncated:
                    notes.append("entry date unknown: starts at the transfer")
                spell = dict(start=when, regime=row["regime"], start_precision=precision)
                spell.update(left_truncated=truncated, target_exit=None, notes=notes)
            elif spell is None:
                if exits_without_entry == "raise":
                    raise ValueError(f"{where}: {event} with no open spell (no entry before it)")
            elif event == "transfer":
                spell["notes"] += [*notes, f"transferred to {row['regime']} {row['date']}"]
            elif event == "target_exit":
                spell["target_exit"] = when
                spell["notes"] += notes
            else:  # exit
                spells.append(_close(organisation, spell, when, precision, notes, as_of))
                spell = None
        if spell is not None:
            spells.append(_close(organisation, spell, None, None, [], as_of))
    return spells


def _close(organisation, spell, end, end_precision, notes, as_of) -> ObservedSpell:
    """The finished spell; ``end`` None means still running at ``as_of`` (censored)."""
    return ObservedSpell(
        organisation=organisation,
        regime=spell["regime"],
        start=spell["start"],
        end=end,
        censored=end is None,
        months=months_between(spell["start"], end or as_of),
        left_truncated=spell["left_truncated"],
        target_exit=spell["target_exit"],
        start_precision=spell["start_precision"],
        end_precision=end_precision,
        notes=(*spell["notes"], *notes),
    )


# ---------------------------------------------------------------------- censored fits


@dataclass(frozen=True)
class CensoredFit:
    """A spell-length distribution fitted by censored maximum likelihood (months).

    ``params`` describe the variable part (spell minus ``shift``): ``mu``, ``sigma`` of
    its log (lognormal) or ``shape``, ``scale`` (Weibull); ``median`` and ``mean`` are of
    the whole spell, shift added back. ``standard_errors`` (same keys) come from the
    numerical Hessian, and are None when it is not positive definite.
    """

    family: str
    params: dict[str, float]
    shift: float
    log_likelihood: float
    n_observed: int
    n_censored: int
    median: float
    mean: float
    standard_errors: dict[str, float] | None = None

    def distribution(self):
        """The whole spell (shift included) as a frozen scipy distribution."""
        return _frozen(self.family, tuple(self.params.values()), self.shift)


def _frozen(family: str, natural: tuple[float, float], shift: float):
    if family == "lognormal":
        mu, sigma = natural
        return stats.lognorm(s=sigma, scale=math.exp(mu), loc=shift)
    shape, scale = natural
    return stats.weibull_min(c=shape, scale=scale, loc=shift)


def _natural(family: str, theta: np.ndarray) -> tuple[float, float]:
    # optimised on unconstrained parameters, so sigma, shape and scale stay positive
    if family == "lognormal":
        return float(theta[0]), float(math.exp(theta[1]))
    return float(math.exp(theta[0])), float(math.exp(theta[1]))


def fit_censored(
    durations: Sequence[float],
    censored: Sequence[bool],
    family: str = "lognormal",
    shift: float = 0.0,
) -> CensoredFit:
    """Maximum-likelihood fit of spell lengths (months), some right-censored.

    ``censored[i]`` True means spell i was still running, so its length is at least
    ``durations[i]``. ``shift`` is a known fixed part of every spell (months), subtracted
    first. Log-likelihood: log pdf of each observed spell plus log survival of each censored.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    d = np.asarray(durations, dtype=float)
    c = np.asarray(censored, dtype=bool)
    if d.ndim != 1 or d.shape != c.shape:
        raise ValueError(
            f"durations and censored must be 1-d and of one length: {d.shape}, {c.shape}"
        )
    if not np.all(np.isfinite(d)) or np.any(d < 0) or not (math.isfinite(shift) and shift >= 0):
        raise ValueError("durations and shift must be finite and non-negative")
    y = d - shift
    if np.any(y[~c] <= 0):
        raise ValueError(f"observed (uncensored) durations must exceed the shift {shift}")
    observed, running = y[~c], y[c & (y > 0)]  # censored at or before the shift: log S = 0
    if len(observed) < 2:
        raise ValueError(
            f"need at least 2 observed (uncensored) spells to fit, have {len(observed)} "
            f"({int(c.sum())} censored)"
        )

    def nll(theta):
        dist = _frozen(family, _natural(family, theta), 0.0)
        value = -(dist.logpdf(observed).sum() + dist.logsf(running).sum())
        return value if np.isfinite(value) else 1e300  # steer the search away, do not fail

    # start from the moments of the observed spells' logs (biased short, but close enough)
    logs = np.log(observed)
    m, s = float(logs.mean()), float(logs.std()) or 0.5
    if family == "lognormal":
        start = np.array([m, math.log(s)])
    else:  # log of a Weibull has sd pi / (shape sqrt 6) and mean log(scale) - euler / shape
        shape = math.pi / (s * math.sqrt(6))
        start = np.array([math.log(shape), m + np.euler_gamma / shape])
    result = optimize.minimize(
        nll, start, method="Nelder-Mead", options=dict(xatol=1e-8, fatol=1e-10, maxiter=4000)
    )
    result = optimize.minimize(nll, result.x, method="BFGS")  # polish; Nelder-Mead finds the basin
    theta = result.x
    natural = _natural(family, theta)
    names = ("mu", "sigma") if family == "lognormal" else ("shape", "scale")
    dist = _frozen(family, natural, shift)
    return CensoredFit(
        family=family,
        params=dict(zip(names, natural, strict=True)),
        shift=float(shift),
        log_likelihood=float(-nll(theta)),
        n_observed=len(observed),
        n_censored=int(c.sum()),
        median=float(dist.median()),
        mean=float(dist.mean()),
        standard_errors=_standard_errors(nll, theta, family, names),
    )


def _standard_errors(nll, theta, family, names) -> dict[str, float] | None:
    """Delta-method standard errors from the central-difference Hessian at the optimum."""
    k, h = len(theta), 1e-4
    steps = np.eye(k) * h
    hessian = np.array(
        [
            [
                nll(theta + a + b) - nll(theta + a - b) - nll(theta - a + b) + nll(theta - a - b)
                for b in steps
            ]
            for a in steps
        ]
    ) / (4 * h * h)
    try:
        np.linalg.cholesky(hessian)  # not positive definite: not at a proper maximum
    except np.linalg.LinAlgError:
        return None
    se_theta = np.sqrt(np.diag(np.linalg.inv(hessian)))
    natural = _natural(family, theta)
    # d(natural)/d(theta): 1 for mu, the value itself for exp-transformed parameters
    scale = [1.0 if name == "mu" else value for name, value in zip(names, natural, strict=True)]
    return {name: float(se * f) for name, se, f in zip(names, se_theta, scale, strict=True)}


# ---------------------------------------------------------------------- Kaplan-Meier


def kaplan_meier(
    durations: Sequence[float], censored: Sequence[bool]
) -> tuple[np.ndarray, np.ndarray]:
    """Product-limit estimate: distinct exit times (months) and survival just after each.

    A spell censored at an exit time counts as still at risk at that time (exits are taken
    to come before censorings), the usual convention.
    """
    d = np.asarray(durations, dtype=float)
    c = np.asarray(censored, dtype=bool)
    if d.shape != c.shape:
        raise ValueError(f"durations and censored differ in length: {d.shape}, {c.shape}")
    times = np.unique(d[~c])
    at_risk = np.array([(d >= t).sum() for t in times])
    exits = np.array([((d == t) & ~c).sum() for t in times])
    survival = np.cumprod(1.0 - exits / np.maximum(at_risk, 1)) if len(times) else np.empty(0)
    return times, survival


def km_median(times: np.ndarray, survival: np.ndarray) -> float:
    """The first time at which survival is at most a half; nan when it never gets there."""
    below = np.flatnonzero(np.asarray(survival) <= 0.5)
    return float(times[below[0]]) if len(below) else math.nan


# ---------------------------------------------------------------------- published aggregates


def _completion_grid(fit, start_from: date, start_to: date, by: date, points: int):
    """Time left u = by - start (months) over the window's starts (those after ``by`` are not
    yet counted), the spell cdf F(u), its integral G(u) from 0, and the distribution."""
    if not start_from < start_to:
        raise ValueError(f"the start window {start_from} to {start_to} must have positive length")
    u_low, u_high = max(0.0, months_between(start_to, by)), months_between(start_from, by)
    if u_high <= 0:
        raise ValueError(f"no spell in the window {start_from} to {start_to} started by {by}")
    dist = fit.distribution() if isinstance(fit, CensoredFit) else fit
    # G needs the cdf from 0; the grid includes u_low exactly, so the window's edge is exact
    u = np.union1d(np.linspace(0.0, u_low, points), np.linspace(u_low, u_high, points))
    F = dist.cdf(u)
    G = integrate.cumulative_trapezoid(F, u, initial=0.0)
    inside = u >= u_low
    return u[inside], F[inside], G[inside], dist


def mean_of_completed(
    fit, start_from: date, start_to: date, by: date, points: int = 20001
) -> float:
    """Expected mean length (months) of the spells completed by ``by``, of spells starting
    uniformly over ``start_from`` to ``start_to`` (how a source that averages only finished
    spells counts). ``fit`` is a :class:`CensoredFit` or a frozen scipy distribution.

    E[D | D <= by - s] averaged over starts s weighted by P(D <= by - s); the partial
    mean E[D; D <= u] = u F(u) - integral of F from 0 to u, which stays finite for any cdf.
    """
    u, F, G, _ = _completion_grid(fit, start_from, start_to, by, points)
    completed = np.trapezoid(F, u)
    if completed <= 0:
        raise ValueError(f"no spell started in the window can have ended by {by}")
    return float(np.trapezoid(u * F - G, u) / completed)


def share_completed_within(
    months: float, fit, start_from: date, start_to: date, by: date, points: int = 20001
) -> float:
    """Share of the spells started in the window (and by ``by``) that had ended within
    ``months`` of their start when counted at ``by`` (as in "5 of 27 trusts left within a
    year"): the average over starts of F(min(months, by - s))."""
    u, _, _, dist = _completion_grid(fit, start_from, start_to, by, points)
    return float(np.trapezoid(dist.cdf(np.minimum(u, months)), u) / (u[-1] - u[0]))
