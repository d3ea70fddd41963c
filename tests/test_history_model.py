"""The history model: programme eras, dated segmentation rules, mergers and entry routes.

Each regime must switch on its date (the cap, the programme's name, phase lengths, the
target, which segment is the programme, the financial override); a fall in the number of
trusts must conserve trusts and end the merged trusts' spells; every entry route must be
possible to switch off and must refer at the rate it is given, measured on the simulated
trusts at risk; and a route switched on must leave the other routes' random draws alone.
The history scenario itself must validate, run and fill its months.

Scenarios are the baseline with a few changes (``with_changes``), over two or three years:
phases of fixed length where a test needs exact times, and one route at a time where it
measures a rate.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.calendar import date_at, period_starts, weeks_between
from sim.experiment.runner import RunSettings, run_experiment
from sim.model import compile_scenario, run_replication
from sim.model.timeline import LOG_FIELDS
from sim.scenario import Scenario, load_scenario, with_changes
from sim.vocabulary import LEAGUE_TABLES, ROUTES
from tests.conftest import SCENARIOS

SEED = 20130701
START = dt.date(2026, 4, 1)
ROUTE = {name: code for code, name in enumerate(ROUTES)}
COLUMN = {name: i for i, name in enumerate(LOG_FIELDS)}
IN_PROGRAMME = [COLUMN["diagnostic"], COLUMN["improvement"], COLUMN["exit"]]
HISTORY = SCENARIOS / "history" / "regimes_2013_2026.yaml"

NO_ROUTES = {
    "mode": "segments",
    "lowest_segment_share": 0.0,
    "catastrophic_failure_refers": False,
}
"""Segment referrals with every route off (a test switches on the one it measures)."""
EMPTY = {"in_programme": [], "waiting": []}


def fixed(weeks: float) -> dict:
    """A phase of fixed length needing no support (so the team never limits anything)."""
    return {
        "duration": {"distribution": "fixed", "weeks": weeks},
        "support_hours_per_week": 0.0,
        "blend": {"national": 1.0, "nhs_family": 0.0, "consultancy": 0.0},
    }


def runs(scenario, n: int, seed: int = SEED) -> list:
    inputs = compile_scenario(scenario)
    return [run_replication(inputs, seed=seed, replication=r) for r in range(n)]


def reached(times: np.ndarray, t: float) -> np.ndarray:
    """Whether each time has come by ``t`` (NaN, never reached: False)."""
    with np.errstate(invalid="ignore"):
        return times <= t


def open_before(spells: dict, t: float) -> np.ndarray:
    """Spells under way just before the events at time ``t``: referred earlier, not ended."""
    with np.errstate(invalid="ignore"):
        return (spells["referral"] < t) & ~(spells["support_end"] < t)


def referred_before(result, t: float) -> np.ndarray:
    """Per trust: waiting, in the programme or in transitional support just before ``t``."""
    spells = result.spells
    out = np.zeros(result.segment_history.shape[1], dtype=bool)
    out[spells["trust"][open_before(spells, t)]] = True
    return out


def in_programme_at_row(result, row: int) -> np.ndarray:
    """Per trust: in the programme when assessment ``row`` was recorded (admissions at an
    assessment come after it is recorded; the start is recorded after the starting
    caseload is placed)."""
    spells, t = result.spells, result.assessment_weeks[row]
    with np.errstate(invalid="ignore"):
        admitted = spells["admission"] < t if row else spells["admission"] <= t
        inside = admitted & ~reached(spells["exit"], t)
        inside &= ~reached(spells["support_end"], t)
    out = np.zeros(result.segment_history.shape[1], dtype=bool)
    out[spells["trust"][inside]] = True
    return out


def assert_caseload_conserved(result) -> None:
    """The log's caseload, transitional and waiting counts equal the open spells after
    every change (the last log row at each time), and no phase count is negative."""
    log, spells = result.timeline.log, result.spells
    assert (log[:, COLUMN["diagnostic"] : COLUMN["waiting"] + 1] >= 0).all()
    last = np.append(log[1:, 0] != log[:-1, 0], True)
    for row in log[last]:
        t = row[0]
        admitted = reached(spells["admission"], t)
        exited = reached(spells["exit"], t)
        ended = reached(spells["support_end"], t)
        assert row[IN_PROGRAMME].sum() == np.count_nonzero(admitted & ~exited & ~ended), t
        assert row[COLUMN["transitional"]] == np.count_nonzero(exited & ~ended), t
        waiting = reached(spells["referral"], t) & ~admitted & ~ended
        assert row[COLUMN["waiting"]] == np.count_nonzero(waiting), t


def rows_dates(result, start: dt.date) -> list[dt.date]:
    return [date_at(start, w) for w in result.assessment_weeks]


# ------------------------------------------------------------------------ eras by date

ERA_DATE = dt.date(2027, 2, 13)  # not a quarter start, so no assessment on the day
LATER_DATE = dt.date(2027, 8, 20)
ERA_WEEKS = weeks_between(START, ERA_DATE)


@pytest.fixture(scope="module")
def two_eras(short):
    """Fixed phases (4 + 10 + 2 weeks in the programme) and a cap of 5 until ERA_DATE; from
    then a cap of 30, a 20-week diagnostic and a 40-week target, under a new name; a third
    era changes only the cap. Many quality referrals keep the cap binding."""
    return with_changes(short, {
        "programme.referrals": NO_ROUTES | {"quality": {"rate_per_trust_year": 1.0}},
        "programme.initial": EMPTY,
        "programme.cap": 5,
        "programme.relapse_probability": 0.0,
        "programme.target_duration_weeks": 16,
        "programme.dose_response.elasticity": 0.0,
        "programme.phases": {"diagnostic": fixed(4), "improvement": fixed(10),
                             "exit": fixed(2), "transitional": fixed(6)},
        "programme.eras": [
            {"effective_from": ERA_DATE, "name": "second era", "cap": 30,
             "phases": {"diagnostic": fixed(20)}, "target_duration_weeks": 40},
            {"effective_from": LATER_DATE, "cap": "none"},
        ],
    })  # fmt: skip


@pytest.fixture(scope="module")
def two_era_runs(two_eras):
    return runs(two_eras, 4)


def test_an_eras_name_and_settings_carry_on_until_changed(two_eras):
    eras = compile_scenario(two_eras).programme.eras
    assert [e.name for e in eras] == ["Provider Improvement Programme", "second era", "second era"]
    assert [e.cap for e in eras] == [5, 30, 205]  # no cap: the number of trusts
    assert [e.target_weeks for e in eras] == [16, 40, 40]
    assert [e.durations[0].a for e in eras] == [4, 20, 20]
    assert [e.durations[1].a for e in eras] == [10, 10, 10]


def test_the_cap_steps_on_the_eras_date(two_era_runs):
    later = weeks_between(START, LATER_DATE)
    for result in two_era_runs:
        log = result.timeline.log
        time, cap, inside = log[:, 0], log[:, COLUMN["cap"]], log[:, IN_PROGRAMME].sum(axis=1)
        before = time < ERA_WEEKS
        assert (cap[before] == 5).all()
        assert (cap[(time >= ERA_WEEKS) & (time < later)] == 30).all()
        assert (cap[time >= later] == 205).all()
        assert ERA_WEEKS in time and later in time  # the log steps on the dates themselves
        assert inside[before].max() == 5  # full, never over the old cap
        assert inside[~before].max() > 5
        assert (inside <= cap).all()


def test_phases_and_targets_follow_the_era_of_admission(two_era_runs):
    """A trust admitted before the date keeps its 4-week diagnostic (16 weeks in all); one
    admitted on or after it has the new 20-week diagnostic (32 weeks) and target (40)."""
    for result in two_era_runs:
        spells = result.spells
        admission, stay = spells["admission"], spells["exit"] - spells["admission"]
        target = spells["target_exit"] - admission
        admitted = ~np.isnan(admission)
        old = admitted & (admission < ERA_WEEKS)
        new = admitted & (admission >= ERA_WEEKS)
        assert old.sum() > 5 and new.sum() > 5
        assert np.allclose(target[old], 16) and np.allclose(target[new], 40)
        done = ~np.isnan(stay)
        assert (done & old).any() and (done & new).any()
        assert np.allclose(stay[done & old], 16) and np.allclose(stay[done & new], 32)


def test_the_conservation_of_the_caseload_across_eras(two_era_runs):
    for result in two_era_runs:
        assert_caseload_conserved(result)


def test_an_era_on_an_assessment_date_is_in_force_at_that_assessment(two_eras):
    """Eras usually start on a quarter's first day, when trusts are also assessed (the
    history's do): the referrals made at that assessment follow the new era's routes."""
    on_the_day = dt.date(2027, 1, 1)
    scenario = with_changes(two_eras, {"programme.eras": [
        {"effective_from": on_the_day, "referrals": {
            "finance": {"rate_per_trust_year": 4.0},
            "quality": {"rate_per_trust_year": 0.0}}},
    ]})  # fmt: skip
    day = weeks_between(START, on_the_day)
    for result in runs(scenario, 3):
        assert day in result.assessment_weeks
        spells = result.spells
        at_day = spells["route"][spells["referral"] == day]
        assert (at_day == ROUTE["finance"]).sum() > 0
        assert (at_day == ROUTE["quality"]).sum() == 0


# ------------------------------------------------------------------- segmentation rules

SWITCH = dt.date(2027, 1, 1)


@pytest.fixture(scope="module")
def sof_then_quartiles(short):
    return with_changes(short, {"segmentation.rules": [
        {"rule": "sof", "effective_from": "2025-04-01", "label": "SOF",
         "segment_shares": [0.2, 0.4, 0.4]},
        {"rule": "quartiles", "effective_from": SWITCH, "label": "NOF"},
    ]})  # fmt: skip


def test_the_programme_is_segment_4_under_sof_and_5_after_quartiles(sof_then_quartiles):
    inputs = compile_scenario(sof_then_quartiles)
    for result in runs(sof_then_quartiles, 3):
        dates = rows_dates(result, START)
        under_sof = np.array([d < SWITCH for d in dates])
        assert result.programme_segment.tolist() == [4 if s else 5 for s in under_sof]
        assert inputs.population.rule_labels == tuple("SOF" if s else "NOF" for s in under_sof)
        counts = result.segment_counts.sum(axis=1)  # (rows, segments 1..5)
        moved = 0
        for row in range(1, len(dates)):  # the start is the published segments
            inside = in_programme_at_row(result, row)
            programme = result.programme_segment[row]
            assert inside.any()
            # the trusts in the programme's segment are exactly those in the programme
            assert (result.segment_history[row] == programme).tolist() == inside.tolist()
            assert counts[row, programme - 1] == inside.sum()
            if under_sof[row]:
                assert counts[row, 4] == 0  # no segment 5 under SOF
            else:
                assert counts[row, 3] > 0  # segment 4 is the rule's again
                was = in_programme_at_row(result, row - 1)
                if under_sof[row - 1]:  # the switch: trusts still inside move from 4 to 5
                    stayed = was & inside
                    assert (result.segment_history[row - 1, stayed] == 4).all()
                    assert (result.segment_history[row, stayed] == 5).all()
                    moved += stayed.sum()
        assert moved > 0


def test_a_rule_without_the_financial_override_has_no_override_churn(short):
    scenario = with_changes(short, {"segmentation.rules": [
        {"rule": "quartiles", "effective_from": "2025-04-01"},
        {"rule": "quartiles", "effective_from": SWITCH, "label": "no override",
         "financial_override": False},
    ]})  # fmt: skip
    inputs = compile_scenario(scenario).population
    dates = [START, *(date_at(START, w) for w in inputs.assessment_weeks)]
    assert inputs.override_of_assessment.tolist() == [d < SWITCH for d in dates]
    assert inputs.rule_labels == tuple(
        "NOF 2025/26" if d < SWITCH else "no override" for d in dates
    )
    first_without = dates.index(SWITCH)  # row of the first assessment without the override
    with_override = 0
    for result in runs(scenario, 3):
        # churn[i] compares row i + 1 with row i; from the row after the switch both are
        # without the override (the switch itself undoes the override's moves)
        assert (result.override_churn[first_without:] == 0).all()
        with_override += result.override_churn[: first_without - 1].sum()
        assert result.churn[first_without:].sum() > 0
    assert with_override > 0


# ------------------------------------------------------------------------------ mergers


def expected_counts(scenario, result) -> np.ndarray:
    """(rows, tables): the scenario's trust counts on each row's date."""
    dates = rows_dates(result, scenario.start_date)
    return np.array([scenario.population.counts_at(d) for d in dates])


def held_before(result, t: float) -> np.ndarray:
    """Per trust: in the programme or in transitional support just before ``t``."""
    spells = result.spells
    held = open_before(spells, t) & reached(spells["admission"], t)
    out = np.zeros(result.segment_history.shape[1], dtype=bool)
    out[spells["trust"][held]] = True
    return out


def expected_churn(result) -> np.ndarray:
    """Per assessment, trusts whose segment changed, among those still there (not merged)
    and not held in the programme or transitional support at any time since the last."""
    spells, history, weeks = result.spells, result.segment_history, result.assessment_weeks
    out = np.zeros(len(weeks) - 1, dtype=int)
    for row in range(1, len(weeks)):
        with np.errstate(invalid="ignore"):
            held = (spells["admission"] < weeks[row]) & ~(spells["support_end"] < weeks[row - 1])
        counted = (history[row] != history[row - 1]) & (history[row] > 0)
        counted[spells["trust"][held]] = False
        out[row - 1] = np.count_nonzero(counted)
    return out


def assert_mergers_conserve_trusts(scenario, result) -> dict[str, int]:
    """Active trusts per table follow the scenario's counts; merged trusts are counted
    nowhere, end their spells then and are never referred again; held trusts merge last.
    Returns how many merged trusts were waiting, in the programme, in transitional support
    or not referred."""
    counts = expected_counts(scenario, result)
    assert (result.segment_counts.sum(axis=2) == counts).all()
    history, spells = result.segment_history, result.spells
    active = history > 0
    assert (active[1:] <= active[:-1]).all()  # a merged trust never comes back
    table = compile_scenario(scenario).population.register.table
    of_table = [table == k for k in range(len(LEAGUE_TABLES))]
    assert (np.stack([active[:, m].sum(axis=1) for m in of_table], 1) == counts).all()
    in_deficit = result.deficit_history & active
    assert (np.stack([in_deficit[:, m].sum(axis=1) for m in of_table], 1)
            == result.deficit_counts).all()  # fmt: skip

    assert (result.churn == expected_churn(result)).all()

    doing = dict.fromkeys(("waiting", "in_programme", "transitional", "not_referred"), 0)
    for row in range(1, len(history)):
        leaving = active[row - 1] & ~active[row]
        if not leaving.any():
            continue
        t = result.assessment_weeks[row]
        held = held_before(result, t)
        for mask in of_table:
            if (leaving & held & mask).any():  # held trusts go only when no other is left
                assert held[active[row] & mask].all()
        for trust in np.flatnonzero(leaving):
            mine = spells["trust"] == trust
            assert (spells["referral"][mine] < t).all()  # never referred again
            ends = spells["support_end"][mine]
            assert not np.isnan(ends).any() and (ends <= t).all()  # every spell closed
            now = np.flatnonzero(mine & spells["merged"])
            if not len(now):
                assert not referred_before(result, t)[trust]
                doing["not_referred"] += 1
                continue
            (spell,) = now
            assert spells["support_end"][spell] == t
            if np.isnan(spells["admission"][spell]):
                assert spells["left_list"][spell]
                doing["waiting"] += 1
            else:
                doing["in_programme" if np.isnan(spells["exit"][spell]) else "transitional"] += 1
    assert spells["merged"].sum() == sum(doing.values()) - doing["not_referred"]
    return doing


@pytest.fixture(scope="module")
def squeezed(short):
    """Non-acute trusts cut from 61 to 1 at the first assessment, when two are in the
    programme and four are waiting, and ambulance trusts from 10 to 1 when two are in
    transitional support (a 2-week exit phase ends at week 2; the cap of 10 stays full):
    the programme must give up waiting trusts, one of its own and one in transition.
    Acute trusts merge then and later, at random. Random routes are on, which would refer
    a merged trust again if it were not marked as referred."""
    improving = {"phase": "improvement", "weeks_in_phase": 14, "weeks_in_programme": 26}
    return with_changes(short, {
        "population.trust_counts": [
            {"effective_from": "2025-04-01", "acute": 134, "non_acute": 61, "ambulance": 10},
            {"effective_from": "2026-05-20", "acute": 130, "non_acute": 1, "ambulance": 1},
            {"effective_from": "2027-02-15", "acute": 120, "non_acute": 1, "ambulance": 1},
        ],
        "programme.cap": 10,
        "programme.phases.exit.duration": fixed(2)["duration"],
        "programme.referrals.quality": {"rate_per_trust_year": 0.5},
        "programme.referrals.finance": {"rate_per_trust_year": 0.5},
        "programme.initial": {
            "in_programme": [
                {"league_table": "acute", "trusts": 8} | improving,
                {"league_table": "non_acute", "trusts": 2} | improving,
                {"league_table": "ambulance", "trusts": 2, "phase": "exit",
                 "weeks_in_phase": 0, "weeks_in_programme": 30},
            ],
            "waiting": [
                {"league_table": "non_acute", "trusts": 4, "weeks_waiting": 2},
                {"league_table": "acute", "trusts": 3, "weeks_waiting": 2},
            ],
        },
    })  # fmt: skip


def test_mergers_conserve_trusts_and_end_every_spell_of_a_merged_trust(squeezed):
    table = compile_scenario(squeezed).population.register.table
    assert len(table) == 205
    not_referred = 0
    for result in runs(squeezed, 4):
        doing = assert_mergers_conserve_trusts(squeezed, result)
        assert doing["in_programme"] == 1 and doing["transitional"] == 1  # forced out
        assert doing["waiting"] >= 4
        not_referred += doing["not_referred"]
        assert_caseload_conserved(result)
        # the one non-acute and one ambulance trust left are held by the programme: in it
        # (segment 5) or in transitional support (3)
        left = result.segment_history[1]
        left = left[(table > 0) & (left > 0)]
        assert len(left) == 2 and set(left.tolist()) <= {3, 5}
    assert not_referred > 0


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    falls=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 20), st.integers(0, 3)),
        min_size=1,
        max_size=4,
    ),
    gaps=st.lists(st.integers(1, 200), min_size=4, max_size=4),
    replication=st.integers(0, 1000),
)
def test_any_falling_counts_conserve_trusts(short, falls, gaps, replication):
    counts, date = [134, 61, 10], START
    steps = [{"effective_from": "2025-04-01", "acute": 134, "non_acute": 61, "ambulance": 10}]
    for (a, n, m), gap in zip(falls, gaps, strict=False):
        counts = [max(1, counts[0] - a), max(1, counts[1] - n), max(1, counts[2] - m)]
        date += dt.timedelta(days=gap)
        steps.append(
            {"effective_from": date.isoformat(), **dict(zip(LEAGUE_TABLES, counts, strict=True))}
        )
    scenario = with_changes(short, {"population.trust_counts": steps})
    result = run_replication(scenario, seed=SEED, replication=replication)
    assert_mergers_conserve_trusts(scenario, result)
    assert_caseload_conserved(result)


# ------------------------------------------------------------------------- entry routes

ALL_ROUTES = {
    "mode": "segments",
    "lowest_segment_share": 1.0,
    "catastrophic_failure_refers": True,
    "quality": {"rate_per_trust_year": 0.2, "score_gradient": 1.0},
    "finance": {"rate_per_trust_year": 0.2, "score_gradient": 0.5},
    "system": {"rate_per_year": 2.0, "from_segment": 3},
}
CATASTROPHES = {
    f"population.tables.{table}.catastrophic_failure_rate_per_year": 0.05 for table in LEAGUE_TABLES
}
"""Ten times the baseline's rate: enough failures in a short run to see the route."""
SWITCHED_OFF = {
    "segment": [{"lowest_segment_share": 0.0}],
    "quality": [{"quality": None}, {"quality": {"rate_per_trust_year": 0.0}}],
    "finance": [{"finance": None}, {"finance": {"rate_per_trust_year": 0.0}}],
    "system": [{"system": None}, {"system": {"rate_per_year": 0.0}}],
    "catastrophic": [{"catastrophic_failure_refers": False}],
}


@pytest.fixture(scope="module")
def three_years(baseline):
    return with_changes(baseline, {"horizon_years": 3} | CATASTROPHES)


def routes_seen(results) -> set[str]:
    return {ROUTES[code] for result in results for code in result.spells["route"]}


def test_every_route_refers_when_on(three_years):
    scenario = with_changes(three_years, {"programme.referrals": ALL_ROUTES})
    assert set(SWITCHED_OFF) | {"initial"} <= routes_seen(runs(scenario, 4))


@pytest.mark.parametrize(
    ("route", "change"),
    [(route, change) for route, changes in SWITCHED_OFF.items() for change in changes],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={v[k]}" for k in v),
)
def test_a_route_switched_off_refers_no_trust(three_years, route, change):
    scenario = with_changes(three_years, {"programme.referrals": ALL_ROUTES | change})
    results = runs(scenario, 4)
    seen = routes_seen(results)
    assert route not in seen
    assert set(SWITCHED_OFF) - {route} <= seen  # the others still refer
    if route == "catastrophic":  # nor does a failure move a waiting trust up the list
        assert not any(result.spells["catastrophic"].any() for result in results)


ROUTES_DATE = dt.date(2027, 10, 15)


@pytest.mark.parametrize("switch_on", [False, True], ids=["off-on-the-date", "on-on-the-date"])
def test_entry_routes_change_with_the_era(three_years, switch_on):
    """Every route refers on its side of an era's date and none on the other (a relapse
    may still bring a trust back)."""
    everything = {k: v for k, v in ALL_ROUTES.items() if k != "mode"}
    nothing = {"lowest_segment_share": 0.0, "catastrophic_failure_refers": False,
               "quality": {"rate_per_trust_year": 0.0}, "finance": {"rate_per_trust_year": 0.0},
               "system": {"rate_per_year": 0.0}}  # fmt: skip
    before, change = (NO_ROUTES, everything) if switch_on else (ALL_ROUTES, nothing)
    scenario = with_changes(three_years, {
        "programme.referrals": before,
        "programme.eras": [{"effective_from": ROUTES_DATE, "referrals": change}],
    })  # fmt: skip
    date = weeks_between(three_years.start_date, ROUTES_DATE)
    early, late = set(), set()
    for result in runs(scenario, 4):
        spells = result.spells
        for code, referral in zip(spells["route"], spells["referral"], strict=True):
            (late if referral >= date else early).add(ROUTES[code])
    on, off = (late, early) if switch_on else (early, late)
    assert set(SWITCHED_OFF) <= on
    assert not set(SWITCHED_OFF) & off


def only(scenario: Scenario, route: dict, years: float = 3, **extra) -> Scenario:
    """The baseline with one route on, nobody in the programme at the start, no relapse."""
    return with_changes(scenario, {
        "horizon_years": years,
        "programme.referrals": NO_ROUTES | route,
        "programme.initial": EMPTY,
        "programme.relapse_probability": 0.0,
    } | extra)  # fmt: skip


def at_risk_and_referred(result, route: str, pool=None):
    """Per assessment: trusts at risk (not referred just before it, and in ``pool(result,
    row)`` if given) and the referrals the route made at it."""
    spells = result.spells
    mine = spells["route"] == ROUTE[route]
    exposure, events = [], []
    for row in range(1, len(result.assessment_weeks)):
        t = result.assessment_weeks[row]
        at_risk = ~referred_before(result, t)
        if pool is not None:
            at_risk &= pool(result, row)
        referred = spells["trust"][mine & (spells["referral"] == t)]
        assert at_risk[referred].all()  # only trusts at risk are referred
        exposure.append(at_risk.sum())
        events.append(len(referred))
    # every referral of the route is at an assessment
    assert mine.sum() == sum(events)
    return np.array(exposure), np.array(events)


def ratio_with_error(exposure: np.ndarray, events: np.ndarray) -> tuple[float, float]:
    """Pooled share ``events / exposure`` over replications (rows) and its standard error
    from the spread between replications (a ratio estimator)."""
    k, n = events.sum(axis=1), exposure.sum(axis=1)
    share = k.sum() / n.sum()
    reps = len(k)
    se = np.sqrt(((k - share * n) ** 2).sum() / (reps * (reps - 1))) / n.mean()
    return float(share), float(se)


def report(name: str, estimate: float, se: float, truth: float) -> None:
    """Print a recovered figure (seen with ``pytest -s``)."""
    print(f"\n{name}: {estimate:.4f} +- {se:.4f} (given {truth:g})")


@pytest.mark.parametrize(("route", "rate"), [("quality", 0.4), ("finance", 0.6)])
def test_a_score_linked_rate_is_recovered_from_the_trusts_at_risk(baseline, route, rate):
    """With no score gradient the quarterly chance is 1 - exp(-rate / 4) for every trust
    at risk (finance: only those in deficit), so -4 log(1 - referrals / exposure) is the
    rate."""
    scenario = only(baseline, {route: {"rate_per_trust_year": rate, "score_gradient": 0.0}})
    pool = (lambda r, row: r.deficit_history[row]) if route == "finance" else None
    measured = [at_risk_and_referred(result, route, pool) for result in runs(scenario, 12)]
    exposure, events = (np.array(part) for part in zip(*measured, strict=True))
    share, se = ratio_with_error(exposure, events)
    estimate = -4.0 * np.log1p(-share)
    report(f"{route} rate", estimate, 4.0 * se / (1.0 - share), rate)
    assert events.sum() > 500
    assert abs(estimate - rate) < 4.0 * 4.0 * se / (1.0 - share)


def test_finance_referrals_are_only_of_trusts_in_deficit(baseline):
    scenario = only(baseline, {"finance": {"rate_per_trust_year": 2.0, "score_gradient": 1.0}})
    referrals = 0
    for result in runs(scenario, 4):
        spells = result.spells
        finance = spells["route"] == ROUTE["finance"]
        rows = np.searchsorted(result.assessment_weeks, spells["referral"][finance])
        assert (result.assessment_weeks[rows] == spells["referral"][finance]).all()
        assert result.deficit_history[rows, spells["trust"][finance]].all()
        referrals += finance.sum()
        # and trusts in deficit were not all referred: the route is random, not a rule
        assert (~result.deficit_history[1:]).any()
    assert referrals > 100


def test_the_score_gradient_refers_worse_trusts_more_often(baseline):
    """Observed quality referrals against the sum of each at-risk trust's chance,
    1 - exp(-rate / 4 * exp(g z - g^2 / 2)), at its standardised score z."""
    rate, gradient = 0.3, 1.0
    scenario = only(baseline, {"quality": {"rate_per_trust_year": rate,
                                           "score_gradient": gradient}})  # fmt: skip
    inputs = compile_scenario(scenario).population
    expected = variance = observed = worse = better = 0.0
    for result in runs(scenario, 8):
        spells = result.spells
        quality = spells["route"] == ROUTE["quality"]
        for row in range(1, len(result.assessment_weeks)):
            t = result.assessment_weeks[row]
            at_risk = ~referred_before(result, t)
            z = (result.score_history[row] - inputs.score_mean) / inputs.total_sd
            chance = -np.expm1(-rate / 4 * np.exp(gradient * z - gradient**2 / 2))[at_risk]
            expected += chance.sum()
            variance += (chance * (1 - chance)).sum()
            referred = spells["trust"][quality & (spells["referral"] == t)]
            observed += len(referred)
            worse += (z[referred] > 0).sum()
            better += (z[referred] <= 0).sum()
    report("quality referrals with gradient 1 (observed / expected)",
           observed / expected, np.sqrt(variance) / expected, 1.0)  # fmt: skip
    assert abs(observed - expected) < 4 * np.sqrt(variance)
    assert worse > 2 * better


@pytest.mark.parametrize("share", [0.3, 1.0])
def test_the_lowest_segment_share_is_recovered_from_the_eligible_trusts(baseline, share):
    """Every board rated low capability and no trust leaving the programme within the run
    (a 1500-week improvement phase), so the eligible trusts at an assessment are the ones
    in segment 4 not already referred; the share of them referred is ``share``."""
    capability = {
        f"population.tables.{table}.capability": {"low_share": 1.0, "score_gradient": 0.0}
        for table in LEAGUE_TABLES
    }
    scenario = only(baseline, {"lowest_segment_share": share}, **capability,
                    **{"programme.phases.improvement.duration": fixed(1500)["duration"],
                       "programme.cap": None})  # fmt: skip
    measured = [
        at_risk_and_referred(result, "segment", lambda r, row: r.segment_history[row] == 4)
        for result in runs(scenario, 12)
    ]
    exposure, events = (np.array(part) for part in zip(*measured, strict=True))
    estimate, se = ratio_with_error(exposure, events)
    if share == 1.0:
        assert (events == exposure).all()  # the PIP rule: every eligible trust
        return
    report("lowest_segment_share", estimate, se, share)
    assert events.sum() > 300
    assert abs(estimate - share) < 4 * se


def test_whole_systems_enter_together_at_the_given_rate(baseline):
    rate, from_segment = 4.0, 3
    scenario = only(baseline, {"system": {"rate_per_year": rate, "from_segment": from_segment}})
    system_of = compile_scenario(scenario).population.register.systems()
    entries = []
    for result in runs(scenario, 20):
        spells = result.spells
        system = spells["route"] == ROUTE["system"]
        assert np.isin(spells["referral"][system], result.assessment_weeks).all()
        for row in range(1, len(result.assessment_weeks)):
            t = result.assessment_weeks[row]
            referred = spells["trust"][system & (spells["referral"] == t)]
            entered = np.unique(system_of[referred])
            entries.append(len(entered))
            candidates = (result.segment_history[row] >= from_segment) & ~referred_before(result, t)
            # all the candidates of each system that entered, and no other trust
            expected = candidates & np.isin(system_of, entered)
            assert sorted(referred.tolist()) == np.flatnonzero(expected).tolist()
    entries = np.array(entries)
    mean, se = entries.mean(), entries.std(ddof=1) / np.sqrt(len(entries))
    report("systems entering per year", 4 * mean, 4 * se, rate)
    assert (entries > 1).any()
    assert abs(4 * mean - rate) < 4 * 4 * se


def test_a_high_system_rate_is_not_cut_short(baseline):
    """At 40 systems a year (within the schema's bound of 52) ten systems enter at a
    quarter's assessment on average; the first assessment has candidates in most of the
    42 systems, so the number entering is the Poisson draw itself."""
    rate = 40.0
    scenario = only(baseline, {"system": {"rate_per_year": rate, "from_segment": 3}}, years=1)
    system_of = compile_scenario(scenario).population.register.systems()
    first = np.array([systems_entering(result, system_of)[0] for result in runs(scenario, 60)])
    mean, se = first.mean(), first.std(ddof=1) / np.sqrt(len(first))
    report("systems entering at the first assessment (40 a year)", mean, se, rate / 4)
    assert abs(mean - rate / 4) < 4 * se


# --------------------------------------------------------------- common random numbers


def first_referrals(result, route: str) -> np.ndarray:
    """Trusts the route referred at the first assessment."""
    spells, first = result.spells, result.assessment_weeks[1]
    return spells["trust"][(spells["route"] == ROUTE[route]) & (spells["referral"] == first)]


def systems_entering(result, system_of: np.ndarray) -> list[int]:
    """Per assessment, how many systems entered (the route's Poisson draw)."""
    spells = result.spells
    system = spells["route"] == ROUTE["system"]
    return [
        len(np.unique(system_of[spells["trust"][system & (spells["referral"] == t)]]))
        for t in result.assessment_weeks[1:]
    ]


def test_switching_the_quality_route_on_leaves_the_other_draws_alone(baseline):
    """Catastrophes are the same failures at the same times; the first assessment's
    segment referrals (before any route has changed the population) are the same trusts;
    and as many systems enter at each assessment."""
    off = only(baseline, {"lowest_segment_share": 0.5, "catastrophic_failure_refers": True,
                          "system": {"rate_per_year": 4.0}},
               years=2, **CATASTROPHES)  # fmt: skip
    on = with_changes(off, {"programme.referrals.quality": {"rate_per_trust_year": 0.5}})
    system_of = compile_scenario(off).population.register.systems()
    quality_referrals = 0
    for a, b in zip(runs(off, 5), runs(on, 5), strict=True):
        assert a.catastrophe_weeks.tolist() == b.catastrophe_weeks.tolist()
        assert a.catastrophe_trusts.tolist() == b.catastrophe_trusts.tolist()
        assert np.array_equal(a.score_history[:2], b.score_history[:2])
        first_a, first_b = (first_referrals(x, "segment") for x in (a, b))
        assert len(first_a) > 0 and first_a.tolist() == first_b.tolist()
        assert systems_entering(a, system_of) == systems_entering(b, system_of)
        assert sum(systems_entering(a, system_of)) > 0
        quality_referrals += (b.spells["route"] == ROUTE["quality"]).sum()
    assert quality_referrals > 0


def same_result(a, b) -> bool:
    arrays_a, arrays_b = a.arrays(), b.arrays()
    assert arrays_a.keys() == arrays_b.keys()
    return all(np.array_equal(arrays_a[k], arrays_b[k], equal_nan=True) for k in arrays_a)


@pytest.fixture(scope="module")
def history():
    return load_scenario(HISTORY)


def test_a_scenario_compared_with_itself_is_identical(history):
    copy = with_changes(history, {})
    for r in range(2):
        assert same_result(run_replication(history, SEED, r), run_replication(copy, SEED, r))
    assert not same_result(run_replication(history, SEED, 0), run_replication(history, SEED, 1))


# --------------------------------------------------------------------- history scenario


def test_the_history_scenario_switches_regimes_on_their_dates(history):
    inputs = compile_scenario(history)
    programme, population = inputs.programme, inputs.population
    assert population.n_trusts == 161 + 76 + 10
    names = [era.name for era in programme.eras]
    assert names == ["special measures (quality)", "special measures (quality and finance)",
                     "Recovery Support Programme", "Provider Improvement Programme"]  # fmt: skip
    dates = [date_at(history.start_date, w) for w in programme.era_weeks]
    assert dates == [dt.date(2013, 7, 1), dt.date(2016, 7, 1), dt.date(2021, 7, 1),
                     dt.date(2025, 7, 1)]  # fmt: skip
    assert [era.cap for era in programme.eras] == [247, 247, 247, 15]
    rows = [history.start_date, *(date_at(history.start_date, w)
                                  for w in population.assessment_weeks)]  # fmt: skip
    nof = dt.date(2025, 7, 1)
    assert population.programme_segment.tolist() == [4 if d < nof else 5 for d in rows]
    assert population.override_of_assessment.tolist() == [d >= nof for d in rows]
    assert population.rule_labels[rows.index(dt.date(2016, 10, 1))] == "SOF 2016"
    assert rows[-1] == dt.date(2026, 1, 1)


def test_the_history_scenario_runs_and_keeps_its_books(history):
    for result in runs(history, 3):
        assert_mergers_conserve_trusts(history, result)
        assert_caseload_conserved(result)
        nof = result.programme_segment == 5
        counts = result.segment_counts.sum(axis=1)
        assert (counts[~nof, 4] == 0).all()  # no segment 5 before the NOF
        for row in range(len(nof)):
            inside = in_programme_at_row(result, row)
            assert counts[row, result.programme_segment[row] - 1] == inside.sum()
        spells = result.spells
        assert (spells["admission"] == 0).sum() == 11  # the Keogh trusts, at the start
        assert (spells["route"] == ROUTE["quality"]).sum() > 11


def test_the_history_scenario_fills_every_month_from_july_2013_to_april_2026(history):
    """The tidy table has monthly trusts in the programme, admissions and exits for every
    month from July 2013 to March 2026 (the run ends on 1 April 2026) and replication."""
    replications = 3
    results = run_experiment(
        [history], settings=RunSettings(replications, SEED, progress=False, uncertainty="noise")
    )  # compared below with the replications of the compiled scenario itself
    table = results.table()
    months = table[table["frequency"] == "month"]
    start, end = dt.date(2013, 7, 1), dt.date(2026, 4, 1)
    expected = [f"{d:%Y-%m}" for d in [start, *period_starts(start, end, "month")]]
    assert expected[0] == "2013-07" and expected[-1] == "2026-03" and len(expected) == 153
    inputs = compile_scenario(history)
    for metric in ("in_programme", "admissions", "exits"):
        rows = months[months["metric"] == metric]
        assert sorted(map(str, rows["period"].unique())) == expected
        per = rows.groupby("replication", observed=True)["period"].count()
        assert (per == len(expected)).all()
        assert rows["value"].notna().all() and (rows["value"] >= 0).all()
    # monthly admissions add up to the replication's admissions within the run
    admissions = months[months["metric"] == "admissions"]
    for r in range(replications):
        spells = run_replication(inputs, SEED, r).spells
        inside = (spells["admission"] >= 0) & (
            spells["admission"] < inputs.population.horizon_weeks
        )
        total = admissions.loc[admissions["replication"] == r, "value"].sum()
        assert total == inside.sum()
    first = months[(months["metric"] == "in_programme") & (months["period"] == "2013-07")]
    assert (first["value"] >= 11).all()  # the eleven Keogh trusts, in from the start


def test_leaving_the_list_stops_when_a_later_era_says_referrals_stand(short):
    # leave_list from the start, then stay_on_list from ERA_DATE: after that date no
    # waiting trust leaves the list, whichever era referred it
    leave = with_changes(short, {"programme.referrals.no_longer_eligible": "leave_list"})
    both = with_changes(leave, {"programme.eras": [
        {"effective_from": ERA_DATE, "referrals": {"no_longer_eligible": "stay_on_list"}},
    ]})  # fmt: skip
    left_before = left_after = 0
    for result in runs(both, 6):
        s = result.spells
        left = s["left_list"] & ~s["merged"]
        left_before += int((left & (s["support_end"] < ERA_WEEKS)).sum())
        left_after += int((left & (s["support_end"] >= ERA_WEEKS)).sum())
    assert left_before > 0  # the rule was working before the change
    assert left_after == 0
