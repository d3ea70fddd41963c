"""Checks of a validated scenario against the package's data (the trusts that exist).

The schema cannot see how many trusts each league table has at the start: by default that
is published data (``sim/data/trusts_by_region_type.csv``), or the scenario's
``population.trust_counts``. Without these checks the
model would quietly cut the scenario down to fit, for example placing 10 ambulance trusts
in the programme when the scenario asks for 500.
"""

from __future__ import annotations

from sim.scenario.schema import Scenario
from sim.vocabulary import LEAGUE_TABLES

DATA_FILE = "sim/data/trusts_by_region_type.csv"


def register_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """(field path, reason) for every count larger than the trusts there are."""
    from sim.data import trust_register  # imported here: sim.data imports the schema

    register = trust_register(scenario.population.counts_at(scenario.start_date))
    sizes = {name: register.table_size(i) for i, name in enumerate(LEAGUE_TABLES)}
    problems: list[tuple[str, str]] = []

    for name, params in scenario.population.tables.items():
        counted = sum(params.initial_segment_counts)
        if counted > sizes[name]:
            problems.append(
                (
                    f"population.tables.{name}.initial_segment_counts",
                    f"holds {counted} trusts but the {name} league table has {sizes[name]} "
                    f"({DATA_FILE}); counts may cover fewer trusts than the table (they are "
                    "scaled up), not more",
                )
            )

    # trusts placed in the programme or on its waiting list at the start, per table
    placed = dict.fromkeys(LEAGUE_TABLES, 0)
    reported: set[str] = set()
    initial = scenario.programme.initial
    entries = [("in_programme", i, e) for i, e in enumerate(initial.in_programme)]
    entries += [("waiting", i, e) for i, e in enumerate(initial.waiting)]
    for kind, index, entry in entries:
        placed[entry.league_table] += entry.trusts
        if (
            placed[entry.league_table] > sizes[entry.league_table]
            and entry.league_table not in reported
        ):
            reported.add(entry.league_table)
            problems.append(
                (
                    f"programme.initial.{kind}[{index}].trusts",
                    f"brings the {entry.league_table} trusts in the programme or waiting at "
                    f"the start to {placed[entry.league_table]}, but the table has "
                    f"{sizes[entry.league_table]} ({DATA_FILE})",
                )
            )

    referrals = scenario.programme.referrals
    if referrals.mode == "schedule":
        for index, referral in enumerate(referrals.referrals):
            if referral.trusts > register.n_trusts:
                problems.append(
                    (
                        f"programme.referrals.referrals[{index}].trusts",
                        f"{referral.trusts} trusts referred on one date, but there are "
                        f"{register.n_trusts} trusts ({DATA_FILE})",
                    )
                )
    return problems
