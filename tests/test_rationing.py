"""Support rationing and dose response (sim.model.rationing), as pure functions."""

from __future__ import annotations

import pytest

from sim.model.rationing import improvement_rate, ration_support
from sim.vocabulary import ShortfallPolicy

WAIT, DILUTE, BUY = int(ShortfallPolicy.WAIT), int(ShortfallPolicy.DILUTE), int(ShortfallPolicy.BUY)
WEIGHTS = (0.5, 0.3, 0.2)  # national, NHS family, consultancy


@pytest.mark.parametrize("policy", [WAIT, DILUTE, BUY])
def test_no_shortfall_delivers_demand_at_full_dose(policy):
    delivered, bought, shares, dose = ration_support(
        (10.0, 6.0, 4.0), (20.0, 6.0, 50.0), policy, WEIGHTS
    )
    assert delivered == (10.0, 6.0, 4.0)
    assert bought == 0.0
    assert shares == (1.0, 1.0, 1.0)
    assert dose == pytest.approx(1.0)


def test_no_demand_counts_as_fully_met():
    delivered, bought, shares, dose = ration_support((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), BUY, WEIGHTS)
    assert delivered == (0.0, 0.0, 0.0) and bought == 0.0
    assert shares == (1.0, 1.0, 1.0) and dose == pytest.approx(1.0)


def test_dilute_lowers_the_dose_in_proportion_to_the_gap():
    # the national team can give half its demand; the others are fully met
    delivered, bought, shares, dose = ration_support(
        (10.0, 6.0, 4.0), (5.0, 6.0, 50.0), DILUTE, WEIGHTS
    )
    assert delivered == (5.0, 6.0, 4.0)
    assert bought == 0.0
    assert shares == (0.5, 1.0, 1.0)
    assert dose == pytest.approx(0.5 * 0.5 + 0.3 + 0.2)
    # wait rations the same way: it acts on admissions, not on support
    assert ration_support((10.0, 6.0, 4.0), (5.0, 6.0, 50.0), WAIT, WEIGHTS)[3] == dose


def test_buy_covers_the_national_gap_within_the_framework_cap():
    delivered, bought, shares, dose = ration_support(
        (10.0, 6.0, 4.0), (5.0, 6.0, 50.0), BUY, WEIGHTS
    )
    assert bought == 5.0
    assert delivered == (5.0, 6.0, 9.0)  # consultancy delivers its own 4 and the 5 bought
    assert shares == (1.0, 1.0, 1.0)
    assert dose == pytest.approx(1.0)


def test_buy_shares_a_short_framework_in_proportion():
    # consultancy is asked for 4 + 6 = 10 hours and has 5: half of everything it is asked
    delivered, bought, shares, dose = ration_support(
        (10.0, 6.0, 4.0), (4.0, 6.0, 5.0), BUY, WEIGHTS
    )
    assert delivered == (4.0, 6.0, 5.0)
    assert bought == pytest.approx(3.0)
    assert shares == pytest.approx((0.7, 1.0, 0.5))
    assert dose == pytest.approx(0.5 * 0.7 + 0.3 + 0.2 * 0.5)


def test_improvement_rate_is_dose_to_the_elasticity():
    assert improvement_rate(1.0, 0.8) == 1.0
    assert improvement_rate(0.5, 1.0) == pytest.approx(0.5)
    assert improvement_rate(0.25, 0.5) == pytest.approx(0.5)
    assert improvement_rate(0.0, 0.8) == 0.0  # no support, no progress
    assert improvement_rate(0.0, 0.0) == 1.0  # support makes no difference
