"""Entry routes drawn at random: which trusts a score-linked route refers, and which whole
systems enter together, given pre-drawn uniforms.

Pure functions of arrays (no simpy, no state): :class:`sim.model.programme.Programme` calls
them at each assessment and refers the trusts they return. Uniforms are drawn up front, one
stream per route, so switching one route on leaves the others' draws alone.
"""

from __future__ import annotations

import numpy as np

from sim.data import TrustRegister
from sim.model.distributions import poisson_quantile
from sim.model.inputs import ProgrammeInputs
from sim.streams import Streams


def draw_route_uniforms(
    inputs: ProgrammeInputs, streams: Streams, n_assessments: int, register: TrustRegister
) -> dict[str, np.ndarray]:
    """Uniforms per assessment for each random route some era uses: per trust for the
    lowest-segment share (when below 1) and the quality and finance routes; for the system
    route, the count then one choice per system (no more can enter than there are)."""
    shape = (n_assessments, register.n_trusts)
    out = {}
    if any(0.0 < era.lowest_segment_share < 1.0 for era in inputs.eras):
        out["segment"] = streams["segment_route"].random(shape)
    for route in ("quality", "finance"):
        if inputs.uses_route(route):
            out[route] = streams[f"{route}_route"].random(shape)
    if inputs.uses_route("system"):
        out["system"] = streams["system_route"].random((n_assessments, 1 + len(register.system_names)))
    return out


def score_linked_referrals(
    u: np.ndarray, z: np.ndarray, rate: float, gradient: float, available: np.ndarray
) -> np.ndarray:
    """Trusts referred this quarter by a route with mean rate ``rate`` per trust per year
    and log-rate ``gradient`` per standard deviation of score ``z`` (see
    :class:`~sim.scenario.programme_schema.ScoreLinkedRoute`): trust k is referred if
    ``u[k] < 1 - exp(-rate / 4 * exp(gradient * z[k] - gradient**2 / 2))`` and available."""
    quarterly = rate / 4.0 * np.exp(gradient * z - gradient * gradient / 2.0)
    return np.flatnonzero((u < -np.expm1(-quarterly)) & available)


def system_referrals(
    u: np.ndarray, rate: float, candidates: np.ndarray, system_of: np.ndarray
) -> list[np.ndarray]:
    """Trusts of each system entering this quarter (see
    :class:`~sim.scenario.programme_schema.SystemRoute`): a Poisson number of systems with
    mean ``rate / 4`` (``u[0]``), each chosen (``u[1:]``) in proportion to its
    ``candidates``; every candidate of a chosen system enters with it."""
    count = min(poisson_quantile(float(u[0]), rate / 4.0), len(u) - 1)
    left = candidates.copy()
    groups = []
    for k in range(count):
        per_system = np.bincount(system_of[left], minlength=1)
        total = int(per_system.sum())
        if total == 0:
            break
        system = int(np.searchsorted(np.cumsum(per_system), u[1 + k] * total, side="right"))
        trusts = np.flatnonzero(left & (system_of == system))
        left[trusts] = False
        groups.append(trusts)
    return groups
