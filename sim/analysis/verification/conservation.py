"""Conservation: the model's bookkeeping is exact, on any scenario as it is.

Role: count, in one replication, the ways trusts could be lost, created or counted twice
(:func:`conservation_violations`: weekly stocks against weekly flows, the cap, end stocks
against open spells, time order, overlapping spells, segment 5 against the programme), and
the check that the total over many replications is zero (:func:`check_conservation`).

Must not: compare with queueing theory or use a tolerance (bookkeeping must be exact), or
print, write files or use pandas.
"""

from __future__ import annotations

import math

import numpy as np

from sim.model import ModelInputs, ReplicationResult, compile_scenario
from sim.scenario import Scenario

from .queues import whole_replications
from .verdict import CheckResult


def conservation_violations(result: ReplicationResult, cap: int) -> dict[str, int]:
    """Count the bookkeeping errors in one replication (all should be zero).

    Parameters
    ----------
    result
        One replication's output.
    cap
        Places in the programme (trusts).

    Returns
    -------
    dict of str to int
        ``waiting_flow`` and ``caseload_flow``: weeks in which the waiting list or the
        trusts in the programme did not change by referrals - admissions or admissions -
        exits; ``over_cap``: weeks with more trusts in the programme than places;
        ``end_stock``: end-of-horizon stocks that do not match the spells still waiting or
        in the programme; ``time_order``: spells admitted before referral or exiting before
        admission; ``overlap``: spells that start before the same trust's previous spell
        has ended; ``segment_5``: assessments at which segment 5 is not exactly the
        trusts in the programme.
    """
    weekly, spells = result.weekly, result.spells
    in_programme = weekly["caseload"][:, :3].sum(axis=1)
    waiting_flow = np.diff(weekly["waiting"]) != weekly["referrals"][1:] - weekly["admissions"][1:]
    caseload_flow = np.diff(in_programme) != weekly["admissions"][1:] - weekly["exits"][1:]

    waiting = np.isnan(spells["admission"])
    inside = ~waiting & np.isnan(spells["exit"])
    end_stock = int(waiting.sum() != weekly["waiting"][-1]) + int(inside.sum() != in_programme[-1])
    admitted, left = ~waiting, ~np.isnan(spells["exit"])
    time_order = int(np.sum(spells["admission"][admitted] < spells["referral"][admitted])) + int(
        np.sum(spells["exit"][left] < spells["admission"][left])
    )

    # consecutive spells of a trust: the later one must start after the earlier has ended
    order = np.lexsort((spells["referral"], spells["trust"]))
    trust, referral = spells["trust"][order], spells["referral"][order]
    ends = spells["support_end"][order]
    same = trust[1:] == trust[:-1]
    earlier_end = ends[:-1][same]
    overlap = int(np.sum(np.isnan(earlier_end) | (referral[1:][same] < earlier_end)))

    segment_5 = 0
    for row in range(1, len(result.assessment_weeks)):
        when = result.assessment_weeks[row]
        active = (spells["admission"] < when) & ~(spells["exit"] < when)
        listed = set(np.flatnonzero(result.segment_history[row] == 5).tolist())
        segment_5 += int(set(spells["trust"][active].tolist()) != listed)

    return {
        "waiting_flow": int(waiting_flow.sum()),
        "caseload_flow": int(caseload_flow.sum()),
        "over_cap": int(np.sum(in_programme > cap)),
        "end_stock": end_stock,
        "time_order": time_order,
        "overlap": overlap,
        "segment_5": segment_5,
    }


CONSERVATION_LABELS = {
    "waiting_flow": "weeks the waiting list did not change by referrals - admissions",
    "caseload_flow": "weeks the programme did not change by admissions - exits",
    "over_cap": "weeks over the cap",
    "end_stock": "end stocks not matching the spells",
    "time_order": "spells with times out of order",
    "overlap": "trusts in two spells at once",
    "segment_5": "assessments where segment 5 was not the programme",
}


def check_conservation(
    baseline: Scenario | ModelInputs, replications: int = 120, seed: int = 7, progress=False
) -> CheckResult:
    """Conservation on a scenario: no trust lost, created or counted twice.

    Parameters
    ----------
    baseline
        Scenario (or compiled scenario) to run as it is.
    replications
        Number of replications.
    seed
        Master seed.
    progress
        As the ``progress`` of :class:`~sim.experiment.settings.RunSettings`
        (by default no bar).

    Returns
    -------
    CheckResult
        Expected 0 violations, simulated the total over all replications, tolerance 0.
    """
    inputs = baseline if isinstance(baseline, ModelInputs) else compile_scenario(baseline)
    totals = dict.fromkeys(CONSERVATION_LABELS, 0)
    for result in whole_replications(inputs, replications, seed, progress):
        for key, count in conservation_violations(result, inputs.programme.cap).items():
            totals[key] += count
    violations = sum(totals.values())
    weeks = int(math.ceil(inputs.population.horizon_weeks))
    found = "; ".join(f"{CONSERVATION_LABELS[k]}: {v}" for k, v in totals.items())
    detail = (
        f"{replications} replications of '{inputs.scenario_name}' ({weeks} weeks each), "
        f"checked week by week and spell by spell. Violations found: {found}. Total {violations} violations; "
        "bookkeeping must be exact, so the tolerance is 0."
    )
    return CheckResult(
        name="conservation",
        description=f"'{inputs.scenario_name}' as it is: weekly waiting list and trusts in the "
        "programme follow referrals, admissions and exits exactly, within the cap, and no "
        "trust is in two spells at once (count of violations)",
        expected=0.0,
        simulated=float(violations),
        tolerance=0.0,
        passed=violations == 0,
        detail=detail,
    )
