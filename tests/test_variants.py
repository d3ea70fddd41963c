"""Variant scenarios: each file changes only what it says, and moves results the right way.

Every comparison runs the baseline and the variant with the same seed and replication
numbers (common random numbers), so differences come from the change, not from noise.
The directional checks are on means over a few dozen replications; each is also chosen so
that it would fail if the change were ignored by the model (for example the two caps must
give *different* caseloads, not merely ordered ones).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from sim.model import compile_scenario, run_replication
from sim.scenario import Scenario, load_scenario, unannotated_numbers, with_changes
from tests.conftest import SCENARIOS

SEED = 20260401
N_REPS = 60
NATIONAL, NHS_FAMILY, CONSULTANCY = 0, 1, 2
TRUSTS = 0  # column of cost_by_payer

LOW_WTE = 15.0
LOW_WTE_CHANGE = {
    "team.national.wte_schedule": [{"effective_from": "2025-04-01", "wte": LOW_WTE}],
}
"""A national team too small for the starting caseload: every policy meets a shortfall."""
LOW_WTE_NOTE = "test what-if: a national team of 15 WTE throughout, too small for the caseload"

BLEND = "programme.phases.{phase}.blend.{source}"
EXPECTED_CHANGES: dict[str, set[str]] = {
    "no_cut": {"team.national.wte_schedule"},
    "cap_10": {"programme.cap"},
    "cap_20": {"programme.cap"},
    "consultancy_heavy": {
        *(
            BLEND.format(phase=phase, source=source)
            for phase in ("diagnostic", "improvement")
            for source in ("national", "nhs_family", "consultancy")
        ),
        "team.consultancy.framework_cap_days_per_week",
    },
    "policy_dilute": {"team.shortfall_policy"},
    "policy_buy": {"team.shortfall_policy"},
    "policy_backfill": {"team.shortfall_policy"},
}
"""Dotted paths (down to mappings' leaves; a list counts as one value) each variant changes."""


# ----------------------------------------------------------------------------- helpers


def differing_paths(a: Any, b: Any, prefix: str = "") -> set[str]:
    """Dotted paths at which two dumped scenarios differ (lists compared as a whole)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in a.keys() | b.keys():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                out.add(path)
            else:
                out |= differing_paths(a[key], b[key], path)
        return out
    return set() if a == b else {prefix}


def comparable(scenario: Scenario) -> dict:
    return scenario.model_dump(exclude={"notes", "name", "title", "description"})


@dataclass(frozen=True)
class Runs:
    """Replications 0..N_REPS-1 of one scenario, all with SEED."""

    scenario: Scenario
    results: list

    def weekly(self, key: str) -> np.ndarray:
        """(replications, weeks, ...) array of a weekly series."""
        return np.stack([r.weekly[key] for r in self.results])

    def spells(self, key: str) -> np.ndarray:
        """A spell column, all replications' spells concatenated."""
        return np.concatenate([r.spells[key] for r in self.results])

    def in_programme(self) -> np.ndarray:
        """(replications, weeks) trusts in the diagnostic, improvement or exit phase."""
        return self.weekly("caseload")[:, :, :3].sum(axis=2)

    def mean_wait(self) -> float:
        """Mean weeks from referral to admission, spells admitted after the start."""
        admission, referral = self.spells("admission"), self.spells("referral")
        admitted = admission > 0  # NaN (never admitted) compares False
        assert admitted.sum() > 50, "too few admissions to compare waits"
        return float(np.mean(admission[admitted] - referral[admitted]))

    def mean_length_of_stay(self) -> float:
        """Mean weeks from admission to formal exit, spells that exited."""
        stay = self.spells("exit") - self.spells("admission")
        assert np.isfinite(stay).sum() > 50, "too few exits to compare lengths of stay"
        return float(np.nanmean(stay))


def _run(scenario: Scenario) -> Runs:
    inputs = compile_scenario(scenario)
    return Runs(scenario, [run_replication(inputs, SEED, rep) for rep in range(N_REPS)])


@pytest.fixture(scope="module")
def variant() -> Callable[[str], Scenario]:
    cache: dict[str, Scenario] = {}

    def get(name: str) -> Scenario:
        if name not in cache:
            cache[name] = load_scenario(SCENARIOS / f"{name}.yaml")
        return cache[name]

    return get


@pytest.fixture(scope="module")
def runs(baseline, variant) -> Callable[[str], Runs]:
    """Cached runs by name: 'baseline', a variant file's stem, or 'low_wte_<policy>'."""
    cache: dict[str, Runs] = {}

    def scenario_for(name: str) -> Scenario:
        if name == "baseline":
            return baseline
        if name.startswith("low_wte_"):
            policy = name.removeprefix("low_wte_")
            # buy and dilute start from their variant files; wait is the baseline policy
            start = baseline if policy == "wait" else variant(f"policy_{policy}")
            low = with_changes(start, {**LOW_WTE_CHANGE, "name": name}, note=LOW_WTE_NOTE)
            assert low.team.shortfall_policy == policy
            return low
        return variant(name)

    def get(name: str) -> Runs:
        if name not in cache:
            cache[name] = _run(scenario_for(name))
        return cache[name]

    return get


# ---------------------------------------------------------------------- the files


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_scenario_file_loads_with_every_number_annotated(path):
    scenario = load_scenario(path)
    assert unannotated_numbers(scenario) == []


@pytest.mark.parametrize("name", sorted(EXPECTED_CHANGES))
def test_variant_file_names_itself_and_describes_the_change(name, variant):
    scenario = variant(name)
    assert scenario.name == name
    assert len(scenario.description.split()) >= 10, "say in plain English what changes"
    assert scenario.title and "_" not in scenario.title, "a plain-English title for readers"


@pytest.mark.parametrize("name", sorted(EXPECTED_CHANGES))
def test_variant_differs_from_baseline_exactly_where_it_says(name, baseline, variant):
    scenario = variant(name)
    assert differing_paths(comparable(baseline), comparable(scenario)) == EXPECTED_CHANGES[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_CHANGES))
def test_changed_numbers_carry_their_own_unit_and_provenance(name, baseline, variant):
    scenario = variant(name)
    changed = EXPECTED_CHANGES[name]
    notes = {
        path: note
        for path, note in scenario.notes.items()
        if any(path == c or path.startswith((f"{c}.", f"{c}[")) for c in changed)
    }
    for path, note in notes.items():
        assert note.unit, f"{path} has no unit"
        assert note.source or note.assumption, f"{path} has no source or assumption"
        # the loader's fallback note means the variant gave a bare number
        assert not (note.assumption or "").startswith("value set by the variant"), path
    if name == "no_cut":
        key = "team.national.wte_schedule[0].wte"
        assert notes[key].source == baseline.notes[key].source


# ------------------------------------------------------------------ no cut in WTE


def test_no_cut_keeps_national_capacity_and_does_not_lengthen_the_waiting_list(baseline, runs):
    base, no_cut = runs("baseline"), runs("no_cut")
    cut = baseline.team.national.wte_schedule[1].effective_from
    cut_week = (cut - baseline.start_date).days / 7
    before, after = math.floor(cut_week), math.ceil(cut_week)

    capacity_base = base.weekly("capacity_hours")[:, :, NATIONAL]
    capacity_no_cut = no_cut.weekly("capacity_hours")[:, :, NATIONAL]
    np.testing.assert_allclose(capacity_no_cut[:, :before], capacity_base[:, :before])
    assert (capacity_no_cut[:, after:] > capacity_base[:, after:] + 1.0).all()
    # 51 vs 37 WTE in post, at the same productive hours and vacancy rate
    ratio = capacity_no_cut[:, after:].mean() / capacity_base[:, after:].mean()
    assert ratio == pytest.approx(51 / 37, rel=1e-6)

    assert no_cut.weekly("waiting").mean() <= base.weekly("waiting").mean()


# ------------------------------------------------------------------------- the cap


def test_caseload_never_exceeds_the_cap_and_a_tight_cap_binds(runs):
    for name, cap in (("cap_10", 10), ("baseline", 15), ("cap_20", 20)):
        run = runs(name)
        assert run.scenario.programme.cap == cap
        caseload = run.in_programme()
        assert caseload.max() <= cap, f"{name}: {caseload.max()} trusts in a programme of {cap}"
    # with 10 places the cap is the constraint: it is full in most weeks
    assert (runs("cap_10").in_programme() == 10).mean() > 0.5


def test_larger_cap_means_larger_caseload_and_shorter_waiting_list(runs):
    caseload = {name: runs(name).in_programme().mean() for name in ("cap_10", "baseline", "cap_20")}
    waiting = {
        name: runs(name).weekly("waiting").mean() for name in ("cap_10", "baseline", "cap_20")
    }
    assert caseload["cap_10"] <= caseload["baseline"] <= caseload["cap_20"], caseload
    assert waiting["cap_10"] >= waiting["baseline"] >= waiting["cap_20"], waiting
    # and the caps make a real difference (an ignored cap would give equal means)
    assert caseload["cap_20"] - caseload["cap_10"] > 1.0, caseload
    assert waiting["cap_10"] - waiting["cap_20"] > 1.0, waiting


# ------------------------------------------------------------- consultancy-heavy blend


def test_consultancy_heavy_shifts_hours_and_cost_to_consultancy_and_trusts(runs):
    base, heavy = runs("baseline"), runs("consultancy_heavy")
    hours_base, hours_heavy = base.weekly("delivered_hours"), heavy.weekly("delivered_hours")
    assert hours_heavy[:, :, CONSULTANCY].mean() > 1.5 * hours_base[:, :, CONSULTANCY].mean()
    assert hours_heavy[:, :, NATIONAL].mean() < hours_base[:, :, NATIONAL].mean()

    cost_base, cost_heavy = base.weekly("cost_by_source"), heavy.weekly("cost_by_source")
    assert cost_heavy[:, :, CONSULTANCY].mean() > 1.5 * cost_base[:, :, CONSULTANCY].mean()

    paid_base = base.weekly("cost_by_payer")[:, :, TRUSTS]
    paid_heavy = heavy.weekly("cost_by_payer")[:, :, TRUSTS]
    assert paid_heavy.mean() > paid_base.mean()

    # the raised framework limit is respected
    capacity = heavy.weekly("capacity_hours")[:, :, CONSULTANCY]
    assert (hours_heavy[:, :, CONSULTANCY] <= capacity + 1e-6).all()


# ------------------------------------------------- shortfall policies with a small team


def test_low_wte_is_a_real_national_shortfall(runs):
    for policy in ("wait", "dilute", "buy"):
        run = runs(f"low_wte_{policy}")
        demand = run.weekly("demand_hours")[:, :, NATIONAL]
        capacity = run.weekly("capacity_hours")[:, :, NATIONAL]
        assert (demand > capacity + 1e-6).any(), policy


def test_buy_fills_the_national_gap_with_consultancy(runs):
    wait, dilute, buy = (runs(f"low_wte_{p}") for p in ("wait", "dilute", "buy"))
    bought = buy.weekly("bought_hours")
    assert bought.mean() > 0
    assert (bought > 0).any(axis=1).all(), "every replication should buy some hours"
    # bought hours are part of the consultancy hours delivered, within the framework limit
    delivered_c = buy.weekly("delivered_hours")[:, :, CONSULTANCY]
    assert (bought <= delivered_c + 1e-6).all()
    assert (delivered_c <= buy.weekly("capacity_hours")[:, :, CONSULTANCY] + 1e-6).all()
    # the other policies never buy
    assert wait.weekly("bought_hours").max() == 0
    assert dilute.weekly("bought_hours").max() == 0

    shortfall = {
        name: run.weekly("shortfall_hours")[:, :, NATIONAL].mean()
        for name, run in (("wait", wait), ("dilute", dilute), ("buy", buy))
    }
    # buy and dilute admit the same way, so buying must leave less unmet; wait admits
    # fewer trusts, so its shortfall is not comparable (buy is limited by the framework cap)
    assert shortfall["buy"] < 0.1 * shortfall["dilute"], shortfall

    cost_c = {
        name: run.weekly("cost_by_source")[:, :, CONSULTANCY].mean()
        for name, run in (("wait", wait), ("dilute", dilute), ("buy", buy))
    }
    assert cost_c["buy"] > cost_c["wait"], cost_c
    assert cost_c["buy"] > cost_c["dilute"], cost_c


def test_dilute_admits_up_to_the_cap_and_stretches_spells(runs):
    dilute, buy, wait = (runs(f"low_wte_{p}") for p in ("dilute", "buy", "wait"))
    cap = dilute.scenario.programme.cap
    caseload = dilute.in_programme()
    # admissions are not held back by the team: the cap is reached in most replications
    assert (caseload.max(axis=1) == cap).mean() > 0.5
    assert caseload.mean() > wait.in_programme().mean()

    dose = dilute.weekly("dose")
    assert ((dose >= 0) & (dose <= 1 + 1e-9)).all()
    assert (dose < 1 - 1e-6).any()
    assert dose.mean() < buy.weekly("dose").mean()

    assert dilute.mean_length_of_stay() > buy.mean_length_of_stay()


def test_wait_keeps_within_national_capacity_by_delaying_admissions(runs):
    wait, dilute = runs("low_wte_wait"), runs("low_wte_dilute")
    delivered = wait.weekly("delivered_hours")[:, :, NATIONAL]
    capacity = wait.weekly("capacity_hours")[:, :, NATIONAL]
    assert (delivered <= capacity + 1e-6).all()
    # admissions are delayed: longer waits and a longer waiting list than under dilute
    assert wait.mean_wait() > dilute.mean_wait()
    assert wait.weekly("waiting").mean() > dilute.weekly("waiting").mean()
    assert wait.in_programme().max() < wait.scenario.programme.cap
