"""The fast path equals the plain reference implementation, bit for bit.

The hot paths are written for speed: the population's quarterly step
(:class:`~sim.model.population.Population`), the event calendar
(:class:`~sim.model.events.EventQueue`), the reduction of every frequency in one pass
(:func:`~sim.experiment.layout.reduce_replication`) and the compile of each parameter draw
(:func:`~sim.experiment.uncertainty.with_drawn`). Each is held here to the straightforward
definition: :func:`~sim.model.reference.run_reference_replication` (the step written
plainly, simpy as the calendar), :func:`reference_reduction` below (one frequency at a
time, as the layout defines them) and :func:`~sim.scenario.with_changes` with a full
validation. Outputs must be identical, replication by replication, on scenarios that
between them use every mechanism: quartiles and fixed thresholds, a score trend, the
override on and off, eras, mergers and every entry route (the history), a warm start,
arrival processes, each shortfall policy with a short team, a mid-month start.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from dataclasses import fields, is_dataclass

import numpy as np
import pytest
import simpy
from scipy import special

from sim.experiment import layout as layout_module
from sim.experiment.layout import (
    FLOWS,
    FREQUENCIES,
    HOURS,
    WAIT_BANDS_WEEKS,
    WAIT_THRESHOLD_WEEKS,
    _region_spells,
    build_layout,
    population_rows,
    programme_metrics,
    reduce_replication,
    reduce_replications,
)
from sim.experiment.uncertainty import ParameterDraws, with_drawn
from sim.model import compile_scenario, run_replication
from sim.model import replication as replication_module
from sim.model.distributions import DurationDistribution
from sim.model.events import EventQueue
from sim.model.reference import run_reference_replication
from sim.model.replication import run_replications
from sim.model.segmentation import quartile_segments
from sim.scenario import load_scenario, with_changes
from sim.vocabulary import REGIONS
from tests.conftest import POPULATION_ONLY, SCENARIOS

SHORT_TEAM = {"team.national.wte_schedule[1].wte": 22}


@pytest.fixture(scope="module")
def scenarios(baseline):
    """name -> scenario, each run for 3 years unless its horizon is the point."""
    three = {"horizon_years": 3}
    history = load_scenario(SCENARIOS / "history" / "regimes_2013_2026.yaml")
    return {
        "baseline ten years": with_changes(baseline, {"horizon_years": 10}),
        "thresholds": with_changes(load_scenario(SCENARIOS / "nof_2026_27_thresholds.yaml"), three),
        "trend, mid-month": with_changes(
            baseline,
            three
            | {
                "start_date": dt.date(2026, 5, 17),
                "population.tables.acute.score.trend_per_year": 0.3,
                "population.tables.non_acute.score.trend_per_year": -0.2,
            },
        ),  # fmt: skip
        "history": history,
        "history with a trend": with_changes(
            history, {"population.tables.acute.score.trend_per_year": -0.1}
        ),
        "warm start": load_scenario(SCENARIOS / "warm_start.yaml"),
        "buy, short team": with_changes(
            baseline, three | SHORT_TEAM | {"team.shortfall_policy": "buy"}
        ),
        "backfill, short team": with_changes(
            load_scenario(SCENARIOS / "policy_backfill.yaml"), three | SHORT_TEAM
        ),
        "wait, short team, leave list": with_changes(
            baseline,
            three
            | SHORT_TEAM
            | {
                "programme.referrals.no_longer_eligible": "leave_list",
            },
        ),  # fmt: skip
        "arrivals": with_changes(
            baseline,
            three
            | {
                "programme.referrals": {"mode": "poisson", "rate_per_year": 8.0},
            },
        ),  # fmt: skip
    }


@pytest.fixture(scope="module")
def runs(scenarios):
    """name -> (layout, [(fast result, reference result)]) for two seeds, two replications."""
    out = {}
    for name, scenario in scenarios.items():
        inputs = compile_scenario(scenario)
        pairs = [
            (run_replication(inputs, seed, rep), run_reference_replication(inputs, seed, rep))
            for seed in (3, 2025)
            for rep in (0, 1)
        ]
        out[name] = (build_layout(inputs), pairs)
    return out


def identical(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def assert_same_result(fast, reference, name: str) -> None:
    """Every array and event time of two replication results identical."""
    fast_arrays, reference_arrays = fast.arrays(), reference.arrays()
    assert fast_arrays.keys() == reference_arrays.keys()
    for key, value in reference_arrays.items():
        assert identical(fast_arrays[key], value), (name, fast.seed, fast.replication, key)
    for key, times in reference.timeline.event_times.items():
        assert identical(fast.timeline.event_times[key], times), (name, key)


def test_the_model_equals_the_reference_in_every_array(runs):
    for name, (_, pairs) in runs.items():
        for fast, reference in pairs:
            assert_same_result(fast, reference, name)


@pytest.mark.parametrize("name", ["baseline ten years", "history", "warm start", "thresholds",
                                  "trend, mid-month", "backfill, short team"])  # fmt: skip
def test_replications_run_together_equal_each_run_alone(scenarios, name):
    """A batch's populations step together, each pair of replications on its own draw of
    the assumptions (members with different constants), and each result is the one the
    replication gives alone (which the test above holds to the reference)."""
    scenario = scenarios[name]
    draws = ParameterDraws(scenario, seed=4, replications=6)
    inputs = [draws.inputs(rep) for rep in range(6)]
    if name == "baseline ten years":  # three draws: members' constants differ
        assert len({id(i) for i in inputs}) == 3
    together = run_replications(inputs, 4, range(6))
    for rep, result in enumerate(together):
        assert result.replication == rep
        assert_same_result(result, run_replication(inputs[rep], 4, rep), name)


def test_a_batch_leaves_nothing_for_the_garbage_collector(scenarios):
    """The model pauses the collector while a batch runs: that is safe only while a
    replication makes no reference cycles, which would then outlive it."""
    inputs = compile_scenario(scenarios["history"])
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        results = run_replications([inputs] * 3, 1, range(3))
        del results
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
    assert gc.isenabled() == was_enabled


def test_a_mixed_batch_is_split_by_structure_and_kept_in_order(scenarios, monkeypatch):
    """Scenarios with different calendars or rules cannot step together: they are run in
    groups, at most MAX_BATCH at a time, and the results come back in the order asked."""
    monkeypatch.setattr(replication_module, "MAX_BATCH", 2)
    names = ["thresholds", "history", "thresholds", "arrivals", "history", "thresholds"]
    inputs = [compile_scenario(scenarios[name]) for name in names]
    reps = [5, 0, 2, 1, 3, 7]
    together = run_replications(inputs, 9, reps)
    for name, scenario_inputs, rep, result in zip(names, inputs, reps, together, strict=True):
        assert (result.replication, result.seed) == (rep, 9)
        assert_same_result(result, run_replication(scenario_inputs, 9, rep), name)


def test_the_reduction_equals_one_frequency_at_a_time(runs):
    for name, (layout, pairs) in runs.items():
        for fast, _ in pairs:
            values = reduce_replication(fast, layout)
            assert identical(values, reference_reduction(fast, layout)), name


@pytest.fixture
def small_blocks(monkeypatch):
    """Replications reduced 3 at a time, so that the batches below are cut unevenly."""
    monkeypatch.setattr(layout_module, "REDUCE_BLOCK", 3)


def assert_each_row_is_its_replication_alone(results, layout, name: str) -> None:
    together = reduce_replications(results, layout)
    assert together.shape == (len(results), len(layout)), name
    for row, result in zip(together, results, strict=True):
        assert identical(row, reduce_replication(result, layout)), (name, result.replication)
        assert identical(row, reference_reduction(result, layout)), (name, result.replication)


def test_replications_reduced_together_equal_each_reduced_alone(runs, small_blocks):
    """Every scenario (eras, mergers, a warm start, arrivals, a short team, ...): a batch of
    its replications, some twice, reduces row by row to each replication's own vector."""
    for name, (layout, pairs) in runs.items():
        fast = [result for result, _ in pairs]
        assert_each_row_is_its_replication_alone([*fast, *fast[::-1]], layout, name)
        assert reduce_replications([], layout).shape == (0, len(layout))


def test_a_batch_of_busy_and_idle_replications_reduces_as_each_alone(baseline, small_blocks):
    """Replications with many spells and events next to ones with none (no referrals and
    nobody in the programme: a log of two rows), in one batch and in a batch of their own."""
    busy = with_changes(baseline, {"horizon_years": 3})
    inputs = [compile_scenario(busy), compile_scenario(with_changes(busy, POPULATION_ONLY))]
    layout = build_layout(inputs[0])
    assert (build_layout(inputs[1]).frame() == layout.frame()).all(axis=None)
    which = [1, 0, 1, 1, 0, 1, 0]
    results = run_replications([inputs[i] for i in which], 5, range(len(which)))
    idle = [result for result, i in zip(results, which, strict=True) if i]
    assert all(len(r.spells["trust"]) == 0 for r in idle)
    assert all(len(t) == 0 for r in idle for t in r.timeline.event_times.values())
    busy_results = [result for result, i in zip(results, which, strict=True) if not i]
    assert all(len(r.spells["trust"]) > 10 for r in busy_results)
    assert_each_row_is_its_replication_alone(results, layout, "busy and idle")
    assert_each_row_is_its_replication_alone(idle, layout, "idle")


@pytest.mark.parametrize("name", ["warm start", "backfill, short team", "history"])
def test_replications_on_their_own_draws_reduce_together_as_alone(scenarios, name, small_blocks):
    """Each pair of replications on its own draw of the assumptions: prices, trusts' share
    of the costs, inflation and directors per trust differ within the batch."""
    draws = ParameterDraws(scenarios[name], seed=4, replications=6)
    inputs = [draws.inputs(rep) for rep in range(6)]
    results = run_replications(inputs, 4, range(6))
    assert len({result.timeline.prices for result in results}) == 3
    assert_each_row_is_its_replication_alone(results, build_layout(inputs[0]), name)


def test_parameter_draws_compile_as_a_full_validation_would(scenarios):
    for name in ("baseline ten years", "history", "warm start"):
        scenario = scenarios[name]
        draws = ParameterDraws(scenario, seed=11, replications=8)
        for replication in range(0, 8, 2):
            drawn = draws.values(replication)
            fast = compile_scenario(with_drawn(scenario, drawn))
            full = compile_scenario(with_changes(scenario, drawn, note="drawn from its range"))
            assert _same_inputs(fast, full), (name, replication)


def test_a_draw_the_schema_refuses_is_reported_as_with_changes_reports_it(baseline):
    refused = {"programme.phases.diagnostic.blend.national": 2.0}
    with pytest.raises(Exception) as fast:
        with_drawn(baseline, refused)
    with pytest.raises(Exception) as full:
        with_changes(baseline, refused, note="drawn from its range")
    assert type(fast.value) is type(full.value) and str(fast.value) == str(full.value)


@pytest.mark.parametrize(
    "distribution",
    [
        DurationDistribution("gamma", 1 / 0.09, 12 * 0.09),
        DurationDistribution("gamma", 0.7, 3.0),
        DurationDistribution("lognormal", 70.0, 0.6),
    ],
)
def test_durations_from_scipys_scalar_kernels_equal_its_ufuncs(distribution):
    # the model draws one duration at a time with scipy's scalar kernels (cython_special);
    # the definition is its ufuncs, called on each uniform
    def by_ufunc(u: float) -> float:
        if distribution.kind == "gamma":
            return float(special.gammaincinv(distribution.a, u)) * distribution.b
        return distribution.a * math.exp(distribution.b * float(special.ndtri(u)))

    for u in np.random.default_rng(5).random(3000).tolist():
        assert distribution.quantile(u) == by_ufunc(u)


@pytest.mark.parametrize("seed", range(4))
def test_ranks_with_ties_are_those_of_a_stable_sort(seed):
    rng = np.random.default_rng(seed)
    score = np.clip(rng.normal(2.5, 1.0, 205), 1.0, 4.0)  # many ties at 1 and 4
    score[rng.integers(0, 205, 20)] = 2.5
    offset = 10.0 * np.repeat([0, 1, 2], [134, 61, 10])
    split = rng.integers(1, 5, 205).astype(np.int8)
    fast = np.zeros(205, dtype=np.int8)
    quartile_segments(score, offset, split, fast)
    plain = np.zeros(205, dtype=np.int8)
    plain[np.argsort(score + offset, kind="stable")] = split
    assert identical(fast, plain)


@pytest.mark.parametrize("seed", range(3))
def test_ranks_of_a_batch_are_each_rows_own(seed):
    """Rows ranked together (a batch's members; into a strided view, as the batch writes
    its history) are each ranked as alone, with or without ties in other rows."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(1.0, 4.0, (6, 205))
    scores[1] = np.clip(rng.normal(2.5, 1.0, 205), 1.0, 4.0)  # ties in one row only
    offset = 10.0 * np.repeat([0, 1, 2], [134, 61, 10])
    split = rng.integers(1, 5, 205).astype(np.int8)
    history = np.zeros((6, 3, 205), dtype=np.int8)
    quartile_segments(scores, offset, split, history[:, 1])
    for row, score in enumerate(scores):
        alone = np.zeros(205, dtype=np.int8)
        alone[np.argsort(score + offset, kind="stable")] = split
        assert identical(history[row, 1], alone)
    assert not history[:, [0, 2]].any()


def test_the_event_queue_runs_callbacks_in_simpys_order():
    rng = np.random.default_rng(9)
    delays = np.round(rng.random(300) * 20) / 2  # many equal times, some at the horizon

    def run(clock, now, schedule) -> list[tuple[float, int]]:
        order: list[tuple[float, int]] = []

        def fire(label: int) -> None:
            order.append((now(), label))
            if label < 150:  # events scheduled by events, some at the same instant
                schedule(float(delays[label + 150]) * (label % 2), fire, label + 1000)

        for label, delay in enumerate(delays[:150]):
            schedule(float(delay), fire, label)
        clock.run(until=10.0)
        return order

    queue = EventQueue()
    env = simpy.Environment()

    def on_simpy(delay, action, *args):
        env.timeout(delay).callbacks.append(lambda _event: action(*args))

    assert run(queue, lambda: queue.now, queue.schedule) == run(env, lambda: env.now, on_simpy)


# ------------------------------------------------------------------ reference reduction


def reference_reduction(result, layout) -> np.ndarray:
    """:func:`reduce_replication` one frequency at a time: figures from
    ``Timeline.over`` for each frequency's edges, means and counts by searching each
    frequency's edges, stocks by region from (spells x period ends) comparisons."""
    timeline, spells = result.timeline, result.spells
    waits = spells["admission"] - spells["referral"]
    stays = spells["exit"] - spells["admission"]
    slippage = spells["exit"] - spells["target_exit"]
    late = np.where(np.isnan(slippage), np.nan, slippage > 0)
    region, stocks, referred = _region_spells(spells, layout.trust_region)
    parts, yearly = [], {}
    for frequency in FREQUENCIES:
        edges = layout.period_edges_weeks[frequency]
        figures = timeline.over(edges)
        prefix = "mean_" if frequency == "horizon" else ""
        caseload = figures[prefix + "caseload"].astype(float)
        cost = figures["cost_by_source"]
        used, available = figures["delivered_hours"], figures["capacity_hours"]
        utilisation = np.full_like(used, np.nan)
        np.divide(used, available, out=utilisation, where=available > 0)
        blocks = {
            "caseload": caseload,
            "in_programme": caseload[:, :3].sum(axis=1),
            **{name: figures[prefix + name] for name in (
                "waiting", "national_wte", "directors_needed", "directors_from_interim")},
            **{name: figures[name] for name in (*FLOWS, *HOURS, "bought_hours", "interim_hours")},
            "utilisation": utilisation,
            "cost": np.column_stack([cost, cost.sum(axis=1)]),
            "cost_by_payer": figures["cost_by_payer"],
            "cap_reached": figures["cap_reached"],
            "national_demand_exceeded": figures["national_short"],
            "mean_wait_weeks": _means(spells["admission"], waits, edges),
            "mean_stay_weeks": _means(spells["exit"], stays, edges),
            "mean_slippage_weeks": _means(spells["exit"], slippage, edges),
            "share_exits_late": _means(spells["exit"], late, edges),
        }  # fmt: skip
        ended = np.where(spells["left_list"], spells["support_end"], spells["admission"])
        waited = np.where(np.isnan(ended), layout.horizon_weeks, ended) - spells["referral"]
        known = ~np.isnan(ended) | (waited > WAIT_THRESHOLD_WEEKS)
        blocks["share_waiting_over_13_weeks"] = _means(
            np.where(known, spells["referral"], np.nan),
            (waited > WAIT_THRESHOLD_WEEKS) * 1.0,
            edges,
        )
        for name, start, end in stocks:
            cells = np.zeros((len(edges) - 1, len(REGIONS)))
            if frequency == "horizon":
                first, last = edges[0], edges[-1]
                begun = np.maximum(np.where(np.isnan(start), last, start), first)
                time = np.clip(np.fmin(end, last) - begun, 0.0, None)
                cells[0] = np.bincount(region, weights=time, minlength=len(REGIONS)) / (
                    last - first
                )
            else:
                for p, period_end in enumerate(edges[1:]):
                    inside = (start < period_end) & ~(end < period_end)
                    cells[p] = np.bincount(region[inside], minlength=len(REGIONS))
            blocks[name] = cells
        which = np.searchsorted(edges, referred, side="right") - 1
        counted = (which >= 0) & (which < len(edges) - 1)
        cells = np.zeros((len(edges) - 1, len(REGIONS)))
        np.add.at(cells, (which[counted], region[counted]), 1.0)
        blocks["referrals_by_region"] = cells
        if frequency == "horizon":
            added = {name: block.sum(axis=0, keepdims=True) for name, block in yearly.items()}
        else:
            above = timeline.prices.cash_factor(layout.period_years[frequency]) - 1.0
            added = {name: blocks[name] * above[:, None] for name in ("cost", "cost_by_payer")}
            yearly = added if frequency == "year" else yearly
        blocks["cost_cash"] = blocks["cost"] + added["cost"]
        blocks["cost_by_payer_cash"] = blocks["cost_by_payer"] + added["cost_by_payer"]
        for metric, _ in programme_metrics():
            parts.append(np.asarray(blocks[metric], dtype=float).T.ravel())
    parts.append(np.array([timeline.first_cap_reached(), timeline.first_national_short()]))
    counts = np.histogram(waits[spells["admission"] >= 0], bins=WAIT_BANDS_WEEKS)[0] * 1.0
    parts.append(counts / counts.sum() if counts.sum() else np.full(len(counts), np.nan))
    parts += population_rows(result)  # unchanged by the fast path: shared
    return np.concatenate(parts)


def _means(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``values`` whose ``times`` fall in each period (NaN left out; NaN if none)."""
    periods = len(edges) - 1
    which = np.searchsorted(edges, times, side="right") - 1
    keep = ~np.isnan(times) & ~np.isnan(values) & (which >= 0) & (which < periods)
    totals = np.bincount(which[keep], weights=values[keep], minlength=periods)
    counts = np.bincount(which[keep], minlength=periods)
    return np.divide(totals, counts, out=np.full(periods, np.nan), where=counts > 0)


def _same_inputs(a, b) -> bool:
    """Compiled inputs equal field by field (arrays element by element)."""
    if is_dataclass(a):
        return type(a) is type(b) and all(
            _same_inputs(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)
        )
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same_inputs(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b or (a != a and b != b)
