"""The ``backfill`` shortfall policy and the improvement director outputs.

Under ``backfill`` the national team's unmet hours go first to interim appointments (up to
``team.interim.hours_per_week``), then to framework consultancy (within its cap, shared in
proportion as under ``buy``); what neither can take lowers the dose, as under ``dilute``.
Improvement directors are an output only: one per trust in the programme times
``team.national.director_wte_per_trust``, set against the national WTE in post.

Pure rationing cases are checked by hand; whole replications run with a national team too
small for the caseload (15 WTE throughout), under common random numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.experiment.layout import build_layout, reduce_replication
from sim.model import compile_scenario, run_replication
from sim.model.rationing import ration_support, ration_with_interim
from sim.model.timeline import LOG_FIELDS
from sim.scenario import Scenario, load_scenario, with_changes
from sim.vocabulary import INTERIM, METRICS, PROVIDERS, SOURCES, ShortfallPolicy
from tests.conftest import SCENARIOS

WAIT, DILUTE, BUY, BACKFILL = (int(p) for p in ShortfallPolicy)
NATIONAL, NHS_FAMILY, CONSULTANCY = 0, 1, 2
INTERIM_COST = PROVIDERS.index(INTERIM)
TRUSTS, NHS_ENGLAND = 0, 1
WEIGHTS = (0.5, 0.3, 0.2)  # national, NHS family, consultancy
SEED = 2025
REPS = 6
NOTE = "test what-if: backfill and improvement directors"
LOW_WTE = {"team.national.wte_schedule": [{"effective_from": "2025-04-01", "wte": 15.0}]}
"""A national team too small for the caseload: every policy meets a shortfall."""
AMPLE = 10_000.0
"""Interim hours a week far above any national gap."""


# ------------------------------------------------------------------ pure rationing


def test_backfill_covers_the_gap_with_interim_hours_first():
    # national short by 5; interim appointments can give 100: they take all of it
    delivered, bought, interim, shares, dose = ration_with_interim(
        (10.0, 6.0, 4.0), (5.0, 6.0, 50.0), 100.0, BACKFILL, WEIGHTS
    )
    assert interim == 5.0 and bought == 0.0
    assert delivered == (5.0, 6.0, 4.0)  # consultancy delivers only its own hours
    assert shares == (1.0, 1.0, 1.0)
    assert dose == pytest.approx(1.0)


def test_backfill_sends_what_interim_cannot_take_to_consultancy():
    # interim appointments give 2 of the 5 missing hours; consultancy is bought for 3
    delivered, bought, interim, shares, dose = ration_with_interim(
        (10.0, 6.0, 4.0), (5.0, 6.0, 50.0), 2.0, BACKFILL, WEIGHTS
    )
    assert interim == 2.0 and bought == 3.0
    assert delivered == (5.0, 6.0, 7.0)
    assert shares == (1.0, 1.0, 1.0) and dose == pytest.approx(1.0)


def test_backfill_dilutes_what_neither_interim_nor_consultancy_can_take():
    # gap 6; interim 2; consultancy asked 4 + 4 = 8 with 4 available: half of everything
    delivered, bought, interim, shares, dose = ration_with_interim(
        (10.0, 6.0, 4.0), (4.0, 6.0, 4.0), 2.0, BACKFILL, WEIGHTS
    )
    assert interim == 2.0
    assert bought == pytest.approx(2.0)
    assert delivered == (4.0, 6.0, 4.0)
    assert shares == pytest.approx(((4.0 + 2.0 + 2.0) / 10.0, 1.0, 0.5))
    assert dose == pytest.approx(0.5 * 0.8 + 0.3 + 0.2 * 0.5)
    assert dose < 1.0


@pytest.mark.parametrize(
    ("demand", "capacity"),
    [
        ((10.0, 6.0, 4.0), (5.0, 6.0, 50.0)),  # framework has room
        ((10.0, 6.0, 4.0), (4.0, 6.0, 5.0)),  # framework short too
        ((10.0, 6.0, 4.0), (20.0, 6.0, 50.0)),  # national not short
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),  # nothing asked
    ],
)
def test_backfill_without_interim_hours_is_buy(demand, capacity):
    backfill = ration_with_interim(demand, capacity, 0.0, BACKFILL, WEIGHTS)
    buy = ration_with_interim(demand, capacity, 0.0, BUY, WEIGHTS)
    assert backfill == buy
    assert backfill[2] == 0.0


@pytest.mark.parametrize("policy", [WAIT, DILUTE, BUY])
def test_other_policies_never_use_interim_hours(policy):
    demand, capacity = (10.0, 6.0, 4.0), (4.0, 6.0, 5.0)
    delivered, bought, interim, shares, dose = ration_with_interim(
        demand, capacity, AMPLE, policy, WEIGHTS
    )
    assert interim == 0.0
    assert (delivered, bought, shares, dose) == ration_support(demand, capacity, policy, WEIGHTS)


def test_no_gap_uses_no_interim_hours():
    out = ration_with_interim((10.0, 6.0, 4.0), (20.0, 6.0, 50.0), AMPLE, BACKFILL, WEIGHTS)
    assert out[1] == 0.0 and out[2] == 0.0 and out[4] == pytest.approx(1.0)


# ------------------------------------------------------------------ whole replications


@pytest.fixture(scope="module")
def backfill_file() -> Scenario:
    return load_scenario(SCENARIOS / "policy_backfill.yaml")


def _low(scenario: Scenario, **changes) -> Scenario:
    return with_changes(scenario, {**LOW_WTE, **changes}, note=NOTE)


def _runs(scenario: Scenario, reps: int = REPS) -> list:
    inputs = compile_scenario(scenario)
    return [run_replication(inputs, SEED, rep) for rep in range(reps)]


def _reduced(scenario: Scenario, reps: int = REPS) -> tuple:
    inputs = compile_scenario(scenario)
    layout = build_layout(inputs)
    values = [reduce_replication(r, layout) for r in _runs(scenario, reps)]
    return layout, np.stack(values)


def _rows(layout, frequency: str, metric: str, group: str = "all") -> np.ndarray:
    return (layout.frequency == frequency) & (layout.metric == metric) & (layout.group == group)


def test_policy_backfill_file_changes_only_the_policy(backfill_file, baseline):
    assert backfill_file.team.shortfall_policy == "backfill"
    assert backfill_file.team.interim == baseline.team.interim
    for path in ("team.interim.hours_per_week", "team.interim.cost_per_hour",
                 "team.paid_by_trusts.interim", "team.national.director_wte_per_trust"):  # fmt: skip
        note = backfill_file.notes[path]
        assert note.unit and note.assumption and note.range, path


def test_ample_interim_capacity_keeps_the_dose_at_one(backfill_file):
    scenario = _low(backfill_file, **{"team.interim.hours_per_week": AMPLE})
    dose = LOG_FIELDS.index("dose")
    for result in _runs(scenario):
        weekly = result.weekly
        demand_n = weekly["demand_hours"][:, NATIONAL]
        own_n = weekly["delivered_hours"][:, NATIONAL]
        assert (demand_n > own_n + 1.0).any(), "the national team should be short"
        assert (result.timeline.log[:, dose] == 1.0).all()
        # the national team's whole gap is met by interim appointments, none bought
        np.testing.assert_allclose(weekly["interim_hours"], demand_n - own_n, atol=1e-9)
        assert weekly["bought_hours"].max() == 0.0
        np.testing.assert_allclose(weekly["shortfall_hours"], 0.0, atol=1e-9)


def test_zero_interim_capacity_is_buy_exactly(backfill_file):
    backfill = _low(backfill_file, **{"team.interim.hours_per_week": 0.0})
    buy = _low(
        backfill_file, **{"team.interim.hours_per_week": 0.0, "team.shortfall_policy": "buy"}
    )
    for a, b in zip(_runs(backfill), _runs(buy), strict=True):
        assert a.weekly["bought_hours"].sum() > 0, "consultancy should be bought"
        for key, value in a.weekly.items():
            np.testing.assert_array_equal(value, b.weekly[key], err_msg=key)
        for key, value in a.spells.items():
            np.testing.assert_array_equal(value, b.spells[key], err_msg=key)


def test_interim_first_then_consultancy(backfill_file):
    # 100 interim hours a week cannot cover a gap of about 300: they are used to the full
    # whenever the gap exceeds them, and consultancy is bought only then
    scenario = _low(backfill_file, **{"team.interim.hours_per_week": 100.0})
    interim_col, bought_col = LOG_FIELDS.index("interim_hours"), LOG_FIELDS.index("bought_hours")
    demand_col = LOG_FIELDS.index("demand_national")
    delivered_col = LOG_FIELDS.index("delivered_national")
    for result in _runs(scenario):
        log = result.timeline.log
        gap = log[:, demand_col] - log[:, delivered_col]
        np.testing.assert_allclose(log[:, interim_col], np.minimum(gap, 100.0), atol=1e-9)
        buying = log[:, bought_col] > 0
        assert buying.any()
        assert (log[buying, interim_col] == 100.0).all()


@pytest.mark.parametrize("policy", ["wait", "dilute", "buy", "backfill"])
def test_delivered_plus_shortfall_is_demand_for_every_source(backfill_file, policy):
    # a small framework, so consultancy is short too under buy and backfill
    scenario = _low(
        backfill_file,
        **{
            "team.shortfall_policy": policy,
            "team.interim.hours_per_week": 100.0,
            "team.consultancy.framework_cap_days_per_week": 30.0,
        },
    )
    for result in _runs(scenario):
        weekly = result.weekly
        delivered, bought = weekly["delivered_hours"], weekly["bought_hours"]
        met = delivered.copy()
        met[:, NATIONAL] += bought + weekly["interim_hours"]  # met for the national team
        met[:, CONSULTANCY] -= bought  # consultancy's own demand met
        total = met + weekly["shortfall_hours"]
        np.testing.assert_allclose(total, weekly["demand_hours"], rtol=1e-9, atol=1e-6)
        assert (weekly["shortfall_hours"] >= 0).all()
        if policy != "backfill":
            assert weekly["interim_hours"].max() == 0.0


def test_interim_cost_is_hours_times_price_and_paid_by_its_payer(backfill_file):
    price, share = 140.0, 0.25
    scenario = _low(
        backfill_file,
        **{"team.interim.cost_per_hour": price, "team.paid_by_trusts.interim": share},
    )
    nobody = _low(
        backfill_file,
        **{"team.interim.cost_per_hour": price, "team.paid_by_trusts.interim": 0.0},
    )
    for result, other in zip(_runs(scenario), _runs(nobody), strict=True):
        weekly = result.weekly
        assert weekly["interim_hours"].sum() > 0
        cost = weekly["cost_by_source"]
        assert cost.shape[1] == len(PROVIDERS)
        np.testing.assert_allclose(cost[:, INTERIM_COST], weekly["interim_hours"] * price)
        np.testing.assert_allclose(weekly["cost_by_payer"].sum(axis=1), cost.sum(axis=1))
        # the trusts' share of interim cost moves exactly that much from NHS England
        moved = weekly["cost_by_payer"][:, TRUSTS] - other.weekly["cost_by_payer"][:, TRUSTS]
        np.testing.assert_allclose(moved, share * cost[:, INTERIM_COST], atol=1e-6)

    layout, values = _reduced(scenario)
    for frequency in ("year", "horizon"):
        hours = values[:, _rows(layout, frequency, "interim_hours", INTERIM)]
        cost = values[:, _rows(layout, frequency, "cost", INTERIM)]
        np.testing.assert_allclose(cost, hours * price)
        groups = sum(values[:, _rows(layout, frequency, "cost", g)] for g in PROVIDERS)
        np.testing.assert_allclose(values[:, _rows(layout, frequency, "cost", "total")], groups)


def test_backfill_changes_nothing_when_the_team_is_never_short(baseline, backfill_file):
    # common random numbers: the policy draws nothing, so at 37 WTE (never short) every
    # output is as in the baseline
    layout, base = _reduced(baseline)
    _, backfill = _reduced(backfill_file)
    np.testing.assert_array_equal(base, backfill)


def test_backfill_with_ample_interim_admits_like_buy_with_ample_consultancy(backfill_file):
    # both keep the dose at 1, so the same random numbers give the same journeys
    backfill = _low(backfill_file, **{"team.interim.hours_per_week": AMPLE})
    buy = _low(
        backfill_file,
        **{"team.shortfall_policy": "buy", "team.consultancy.framework_cap_days_per_week": 5000.0},
    )
    for a, b in zip(_runs(backfill), _runs(buy), strict=True):
        for key, value in a.spells.items():
            np.testing.assert_array_equal(value, b.spells[key], err_msg=key)
        np.testing.assert_array_equal(a.weekly["caseload"], b.weekly["caseload"])
        np.testing.assert_allclose(a.weekly["interim_hours"], b.weekly["bought_hours"], atol=1e-9)


# ------------------------------------------------------------- improvement directors


@pytest.fixture(scope="module")
def director_run(backfill_file):
    """9 WTE in post (10 WTE, 10% vacant) against up to 15 trusts at 0.75 WTE each, so
    interim directors are needed for part of the time."""
    scenario = with_changes(
        backfill_file,
        {
            "team.national.wte_schedule": [{"effective_from": "2025-04-01", "wte": 10.0}],
            "team.national.director_wte_per_trust": 0.75,
        },
        note=NOTE,
    )
    return scenario, *_reduced(scenario)


@pytest.mark.parametrize("frequency", ["month", "quarter", "year"])
def test_directors_needed_is_caseload_times_wte_per_trust_at_period_end(director_run, frequency):
    _, layout, values = director_run
    in_programme = values[:, _rows(layout, frequency, "in_programme")]
    needed = values[:, _rows(layout, frequency, "directors_needed")]
    np.testing.assert_allclose(needed, in_programme * 0.75, rtol=1e-12)
    wte = values[:, _rows(layout, frequency, "national_wte")]
    from_interim = values[:, _rows(layout, frequency, "directors_from_interim")]
    np.testing.assert_allclose(from_interim, np.maximum(needed - wte, 0.0), atol=1e-12)
    assert (from_interim > 0).any()
    if frequency == "month":  # the first months: 10 trusts need 7.5 WTE, under the 9 in post
        assert (from_interim == 0).any()


def test_horizon_directors_are_time_averages(director_run):
    scenario, layout, values = director_run
    inputs = compile_scenario(scenario)
    needed = values[:, _rows(layout, "horizon", "directors_needed")][:, 0]
    in_programme = values[:, _rows(layout, "horizon", "in_programme")][:, 0]
    np.testing.assert_allclose(needed, in_programme * 0.75, rtol=1e-12)
    from_interim = values[:, _rows(layout, "horizon", "directors_from_interim")][:, 0]
    wte_col = LOG_FIELDS.index("national_wte_in_post")
    for rep, result in enumerate(_runs(scenario)):
        log = result.timeline.log
        horizon = inputs.population.horizon_weeks
        durations = np.diff(np.append(log[:, 0], horizon))
        gap = np.maximum(log[:, 1:4].sum(axis=1) * 0.75 - log[:, wte_col], 0.0)
        assert from_interim[rep] == pytest.approx((gap * durations).sum() / horizon, rel=1e-12)


def test_directors_are_an_output_only(backfill_file):
    one = _low(backfill_file)
    half = _low(backfill_file, **{"team.national.director_wte_per_trust": 0.5})
    layout, a = _reduced(one)
    _, b = _reduced(half)
    director = np.isin(layout.metric, ["directors_needed", "directors_from_interim"])
    np.testing.assert_array_equal(a[:, ~director], b[:, ~director])
    assert not np.array_equal(a[:, director], b[:, director])


def test_new_metrics_are_in_the_catalogue_and_the_layout(baseline_inputs):
    layout = build_layout(baseline_inputs)
    for metric, group, unit in (
        ("interim_hours", INTERIM, "hours"),
        ("directors_needed", "all", "WTE"),
        ("directors_from_interim", "all", "WTE"),
        ("cost", INTERIM, "pounds"),
    ):
        assert METRICS[metric].unit == unit
        assert _rows(layout, "horizon", metric, group).sum() == 1, (metric, group)
    assert set(SOURCES) < set(PROVIDERS)
