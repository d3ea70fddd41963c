"""How support is shared out when sources are short, and how fast trusts then improve.

Pure functions of plain numbers: no simpy, no numpy, no state. The programme calls them at
every change of state (a few hundred times per replication), so they return plain tuples
and avoid function calls such as ``min``; that is why they look terse.

Hours are support hours per week, by source in the order of
:class:`~sim.vocabulary.Source` (national, NHS family, consultancy).
"""

from __future__ import annotations

from sim.vocabulary import ShortfallPolicy

Hours = tuple[float, float, float]
"""Hours per week by source: national, NHS family, consultancy."""
# plain ints: compared at every event
_BUY = int(ShortfallPolicy.BUY)
_BACKFILL = int(ShortfallPolicy.BACKFILL)


def demand_hours(caseload: list[int], phase_hours: tuple[Hours, ...]) -> Hours:
    """Support hours per week asked of each source by a caseload: trusts in each phase
    (diagnostic, improvement, exit, transitional) times that phase's hours per trust."""
    n0, n1, n2, n3 = caseload
    h0, h1, h2, h3 = phase_hours
    return (
        n0 * h0[0] + n1 * h1[0] + n2 * h2[0] + n3 * h3[0],
        n0 * h0[1] + n1 * h1[1] + n2 * h2[1] + n3 * h3[1],
        n0 * h0[2] + n1 * h1[2] + n2 * h2[2] + n3 * h3[2],
    )


def ration_support(
    demand: Hours, capacity: Hours, policy: int, weights: Hours
) -> tuple[Hours, float, Hours, float]:
    """Share out support in proportion to need, with no interim appointments: the first,
    third, fourth and fifth values of :func:`ration_with_interim` with no interim hours
    (so ``backfill`` here is ``buy``)."""
    delivered, bought, _, shares, dose = ration_with_interim(demand, capacity, 0.0, policy, weights)
    return delivered, bought, shares, dose


def ration_with_interim(
    demand: Hours, capacity: Hours, interim_capacity: float, policy: int, weights: Hours
) -> tuple[Hours, float, float, Hours, float]:
    """Share out support in proportion to need.

    Parameters
    ----------
    demand, capacity
        Hours per week asked of, and available from, each source.
    interim_capacity
        Hours per week interim appointments can give (used under ``backfill`` only).
    policy
        A :class:`~sim.vocabulary.ShortfallPolicy`. Under ``buy`` the national team's unmet
        hours are added to consultancy demand, within consultancy capacity (the framework
        cap). Under ``backfill`` they go first to interim appointments, up to
        ``interim_capacity``, and what those cannot take is added to consultancy demand as
        under ``buy``. Under ``wait`` and ``dilute`` a gap is simply not met (``wait`` acts
        on admissions, not here). Whatever is left unmet lowers the dose.
    weights
        The improvement phase's blend: each source's share of the hours a trust needs (sum 1).

    Returns
    -------
    delivered
        Hours per week each source delivers; consultancy includes the hours bought.
    bought
        Consultancy hours per week bought to cover the national team (0 unless ``buy`` or
        ``backfill``).
    interim
        Interim appointments' hours per week covering the national team (0 unless
        ``backfill``).
    shares
        Share (0 to 1) of each source's demand met; national counts the hours bought and
        the interim hours for it.
    dose
        Blend-weighted share of needed improvement support delivered (0 to 1).

    Each source delivers ``min(demand, capacity)`` and every trust gets the same share of
    what it asks of that source; a source asked for nothing counts as fully met.
    """
    demand_n, demand_f, demand_c = demand
    capacity_n, capacity_f, capacity_c = capacity
    delivered_n = demand_n if demand_n < capacity_n else capacity_n
    delivered_f = demand_f if demand_f < capacity_f else capacity_f
    gap = demand_n - delivered_n
    interim = 0.0
    buying = policy >= _BUY  # buy or backfill
    if buying:
        if policy == _BACKFILL and gap > 0:
            interim = gap if gap < interim_capacity else interim_capacity
            gap -= interim  # what interim appointments cannot take goes to consultancy
        asked_c = demand_c + gap
    else:
        asked_c = demand_c
    delivered_c = asked_c if asked_c < capacity_c else capacity_c
    share_c = delivered_c / asked_c if asked_c > 0 else 1.0
    # a short consultancy framework is shared in proportion too, bought hours included
    bought = gap * share_c if buying else 0.0
    share_n = (delivered_n + interim + bought) / demand_n if demand_n > 0 else 1.0
    share_f = delivered_f / demand_f if demand_f > 0 else 1.0
    wn, wf, wc = weights
    dose = wn * share_n + wf * share_f + wc * share_c
    return (
        (delivered_n, delivered_f, delivered_c),
        bought,
        interim,
        (share_n, share_f, share_c),
        dose,
    )


def improvement_rate(dose: float, elasticity: float) -> float:
    """Weeks of improvement work done per week at ``dose`` (1 at full support):
    ``dose ** elasticity``."""
    if dose > 0:
        return dose**elasticity
    return 1.0 if elasticity == 0 else 0.0  # elasticity 0: support makes no difference
