"""A waiting trust that a later assessment finds no longer eligible: stays or leaves."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import run_replication
from sim.scenario import with_changes

OPTION = "programme.referrals.no_longer_eligible"
REPLICATIONS = range(6)


@pytest.fixture(scope="module")
def leaving(baseline):
    scenario = with_changes(baseline, {OPTION: "leave_list"})
    return [run_replication(scenario, seed=2025, replication=r) for r in REPLICATIONS]


def test_the_default_is_to_stay_on_the_list(baseline):
    assert baseline.programme.referrals.no_longer_eligible == "stay_on_list"
    explicit = with_changes(baseline, {OPTION: "stay_on_list"})
    a = run_replication(baseline, seed=2025, replication=0)
    b = run_replication(explicit, seed=2025, replication=0)
    for name, array in a.arrays().items():
        np.testing.assert_array_equal(array, b.arrays()[name], err_msg=name)
    assert not a.spells["left_list"].any()


def test_ineligible_trusts_leave_the_list_at_an_assessment(leaving):
    left_any = out_of_4 = 0
    for result in leaving:
        spells = result.spells
        left = spells["left_list"]
        left_any += int(left.sum())
        # never admitted, never catastrophic; they leave at an assessment
        assert np.isnan(spells["admission"][left]).all()
        assert not spells["catastrophic"][left].any()
        rows = np.searchsorted(result.assessment_weeks, spells["support_end"][left])
        np.testing.assert_array_equal(result.assessment_weeks[rows], spells["support_end"][left])
        # most leave because the assessment moved them out of segment 4 (the rest because
        # their board is no longer rated low capability, which the result does not keep)
        moved = result.segment_history[rows, spells["trust"][left]]
        out_of_4 += int((moved != 4).sum())
    assert left_any > 0, "no waiting trust ever left the list in six replications"
    assert out_of_4 >= 0.7 * left_any


def test_leaving_shortens_the_list_and_keeps_trusts_conserved(baseline, leaving):
    staying = [run_replication(baseline, seed=2025, replication=r) for r in REPLICATIONS]
    mean_wait_stay = np.mean([r.weekly["waiting"].mean() for r in staying])
    mean_wait_leave = np.mean([r.weekly["waiting"].mean() for r in leaving])
    assert mean_wait_leave < mean_wait_stay
    for result in leaving:
        spells, weekly = result.spells, result.weekly
        end = result.timeline.horizon_weeks
        waiting_at_end = (
            (spells["referral"] < end)
            & ~(spells["admission"] < end)
            & ~(spells["left_list"] & (spells["support_end"] < end))
        ).sum()
        assert weekly["waiting"][-1] == waiting_at_end
