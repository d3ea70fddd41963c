"""Theory checks: the model against results from queueing theory and bookkeeping.

Set up so that it must behave as a textbook system, the model has to reproduce what is
known about that system. This package runs those checks outside the test suite, so that
users can see each check's numbers and whether it passed (``python -m sim theory``):

* With Poisson referrals, exponential stays, no team limit and ``c`` places the programme
  is an M/M/c queue: the probability of waiting and the mean wait are Erlang C's.
* With no cap it is an M/G/infinity system: the number of trusts in the programme is
  Poisson with mean (referral rate x mean stay), whatever the stay distribution.
* Little's law, L = lambda W, holds for the waiting list and for the programme.
* On the baseline, the weekly stocks follow the weekly flows exactly, and no trust is in
  two spells at once.

Statistical checks compare a mean of per-replication estimates with its theoretical
value, and pass when they differ by at most :data:`Z` standard errors of that mean, so
the tolerance comes from the simulation's own noise. Seeds are fixed: a run is
reproducible. Each check is its own function (taking simulated samples), so a check can
be run, or fed a deliberately wrong expectation, on its own.

Modules, lowest first: :mod:`.formulas` (the queueing formulas, no simulation),
:mod:`.verdict` (:class:`CheckResult`, the tolerance rule and the table), :mod:`.queues`
(the plain-queue scenarios, simulated through ``replicate()`` and measured),
:mod:`.conservation` (the bookkeeping check) and :mod:`.checks` (the theory checks and
:func:`run_theory_checks`).

This file only re-exports the public names; it must hold no logic. No printing, no files
and no pandas anywhere in the package: :func:`format_checks` returns text for the caller
to show.
"""

from .checks import (
    check_caseload_mean,
    check_littles_law_programme,
    check_littles_law_waiting,
    check_mean_wait,
    check_poisson_dispersion,
    check_wait_probability,
    run_theory_checks,
)
from .conservation import CONSERVATION_LABELS, check_conservation, conservation_violations
from .formulas import dispersion_index, erlang_c, erlang_c_mean_wait, poisson_mean_caseload
from .queues import (
    NO_CAP_RATE_PER_WEEK,
    NO_CAP_STAYS,
    NO_CAP_WARM_UP_YEARS,
    NO_CAP_YEARS,
    QUEUE_MEAN_STAY,
    QUEUE_SERVERS,
    QUEUE_UTILISATION,
    QUEUE_WINDOW_YEARS,
    QUEUE_YEARS,
    ZERO_WEEKS,
    CaseloadSample,
    QueueSample,
    queue_scenario,
    simulate_no_cap,
    simulate_queue,
)
from .verdict import CheckResult, Z, format_checks, mean_check

__all__ = [
    "CONSERVATION_LABELS",
    "NO_CAP_RATE_PER_WEEK",
    "NO_CAP_STAYS",
    "NO_CAP_WARM_UP_YEARS",
    "NO_CAP_YEARS",
    "QUEUE_MEAN_STAY",
    "QUEUE_SERVERS",
    "QUEUE_UTILISATION",
    "QUEUE_WINDOW_YEARS",
    "QUEUE_YEARS",
    "ZERO_WEEKS",
    "CaseloadSample",
    "CheckResult",
    "QueueSample",
    "Z",
    "check_caseload_mean",
    "check_conservation",
    "check_littles_law_programme",
    "check_littles_law_waiting",
    "check_mean_wait",
    "check_poisson_dispersion",
    "check_wait_probability",
    "conservation_violations",
    "dispersion_index",
    "erlang_c",
    "erlang_c_mean_wait",
    "format_checks",
    "mean_check",
    "poisson_mean_caseload",
    "queue_scenario",
    "run_theory_checks",
    "simulate_no_cap",
    "simulate_queue",
]
