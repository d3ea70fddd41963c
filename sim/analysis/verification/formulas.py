"""Queueing formulas: what theory says the textbook systems do.

Role: the pure numbers the theory checks compare the simulation with: Erlang C for an M/M/c
queue (probability of waiting, mean wait), the M/G/infinity mean caseload, and the
dispersion index (variance / mean) that is 1 for a Poisson count.

Must not: build scenarios, run the model, judge PASS or FAIL, or format text. Functions
here take numbers (or arrays of counts) and return numbers, so they can be tested against
textbook values on their own.
"""

from __future__ import annotations

import math

import numpy as np


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C formula).

    Parameters
    ----------
    servers
        Number of places ``c`` (trusts the programme can hold at once).
    offered_load
        Offered load ``a = lambda / mu`` in erlangs (arrival rate x mean stay, the mean
        number of places that would be busy without a cap); must be below ``servers``.

    Returns
    -------
    float
        Probability (0 to 1) that a referral finds every place taken and waits.
    """
    if not 0 <= offered_load < servers:
        raise ValueError(
            f"offered load {offered_load} must be in [0, {servers}) for a stable queue"
        )
    top = offered_load**servers / math.factorial(servers) * servers / (servers - offered_load)
    bottom = sum(offered_load**k / math.factorial(k) for k in range(servers))
    return top / (bottom + top)


def erlang_c_mean_wait(servers: int, offered_load: float, mean_stay: float) -> float:
    """Mean wait in an M/M/c queue, ``C(c, a) / (c mu - lambda) = C(c, a) s / (c - a)``.

    Parameters
    ----------
    servers
        Number of places ``c``.
    offered_load
        Offered load ``a`` in erlangs (arrival rate x mean stay).
    mean_stay
        Mean stay ``s = 1 / mu`` in a place, weeks.

    Returns
    -------
    float
        Mean wait from referral to admission over all referrals (those who do not wait
        count as zero), weeks.
    """
    return erlang_c(servers, offered_load) * mean_stay / (servers - offered_load)


def poisson_mean_caseload(rate_per_week: float, mean_stay: float) -> float:
    """Mean number in an M/G/infinity system: referral rate x mean stay.

    The number in the system is Poisson with this mean whatever the stay distribution.

    Parameters
    ----------
    rate_per_week
        Poisson referral rate, trusts per week.
    mean_stay
        Mean stay, weeks.

    Returns
    -------
    float
        Mean trusts in the programme.
    """
    return rate_per_week * mean_stay


def dispersion_index(caseload: np.ndarray) -> tuple[float, float]:
    """Variance / mean of pooled observations, with its jackknife standard error.

    Parameters
    ----------
    caseload
        (replications, observations) counts; replications independent, observations
        within a replication may be correlated.

    Returns
    -------
    tuple of float
        The dispersion index of all observations pooled (1 for a Poisson count), and its
        delete-one-replication jackknife standard error (which allows for the
        correlation within a replication).
    """
    caseload = np.asarray(caseload, dtype=float)
    reps, per_rep = caseload.shape
    if reps < 2:
        raise ValueError("need at least two replications")
    row_sum, row_sq = caseload.sum(axis=1), (caseload**2).sum(axis=1)

    def index(total: np.ndarray | float, squares: np.ndarray | float, count: int):
        mean = total / count
        return (squares / count - mean**2) * count / (count - 1) / mean

    pooled = float(index(row_sum.sum(), row_sq.sum(), reps * per_rep))
    leave_out = index(row_sum.sum() - row_sum, row_sq.sum() - row_sq, (reps - 1) * per_rep)
    se = math.sqrt((reps - 1) / reps * float(((leave_out - leave_out.mean()) ** 2).sum()))
    return pooled, se
