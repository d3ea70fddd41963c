"""Parameter uncertainty: draws from declared ranges, Latin hypercube, common random numbers."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.apps.cli.main import build_parser
from sim.experiment.layout import build_layout, reduce_replication
from sim.experiment.runner import (
    VARIANCE_FILE,
    replicate,
    run_experiment,
    run_outputs,
    run_to_folder,
)
from sim.experiment.settings import RunSettings
from sim.experiment.sweep import sample_variants
from sim.experiment.uncertainty import (
    ParameterDraws,
    UncertainNumber,
    hypercube,
    uncertain_numbers,
    variance_split,
)
from sim.model import compile_scenario, run_replication
from sim.scenario import with_changes

HOURS = "programme.phases.improvement.support_hours_per_week"
BLEND = "programme.phases.improvement.blend"


def _column(results, name, metric="waiting", frequency="horizon"):
    keys = results.keys[name]
    row = np.flatnonzero(keys.select(metric, frequency, "all"))[0]
    return results.values[name][:, row]


@given(st.integers(1, 400), st.integers(0, 2**31), st.sampled_from([HOURS, "a.b", "x"]))
@settings(max_examples=40, deadline=None)
def test_the_hypercube_puts_one_draw_in_every_stratum(replications, seed, path):
    u = hypercube(seed, replications, path)
    assert sorted(np.floor(u * replications).astype(int)) == list(range(replications))
    assert np.array_equal(u, hypercube(seed, replications, path))  # keyed, not stateful


@pytest.mark.parametrize(
    "number, frozen",
    [
        (UncertainNumber("p", 70, 50, 90), stats.uniform(50, 40)),
        (UncertainNumber("p", 60, 50, 90, "triangular"), stats.triang((60 - 50) / 40, 50, 40)),
        (UncertainNumber("p", 70, 50, 90, "beta", shape=(2, 5)), stats.beta(2, 5, 50, 40)),
    ],
)
def test_quantiles_match_scipy(number, frozen):
    u = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(number.quantile(u), frozen.ppf(u), rtol=1e-9)


def test_cut_distributions_stay_in_range_and_match_scipys_truncated_ones():
    u = np.linspace(0, 1, 2001)[:-1]
    normal = UncertainNumber("p", 70, 50, 90, "normal", sd=10.0)
    lognormal = UncertainNumber("p", 70, 50, 90, "lognormal", sigma=0.3)
    for number in (normal, lognormal):
        values = number.quantile(u)
        assert values.min() >= 50 and values.max() <= 90
    expected = stats.truncnorm(-2, 2, loc=70, scale=10).ppf(u[1:])
    np.testing.assert_allclose(normal.quantile(u[1:]), expected, rtol=1e-9)
    a, b = (np.log(50) - np.log(70)) / 0.3, (np.log(90) - np.log(70)) / 0.3
    expected = np.exp(stats.truncnorm(a, b, loc=np.log(70), scale=0.3).ppf(u[1:]))
    np.testing.assert_allclose(lognormal.quantile(u[1:]), expected, rtol=1e-9)


def test_whole_number_fields_are_drawn_whole(baseline):
    cap = with_changes(baseline, {"programme.cap": {"value": 15, "range": [10, 20],
                                                    "assumption": "test"}})  # fmt: skip
    draws = ParameterDraws(cap, seed=1, replications=50)
    caps = [draws.values(r)["programme.cap"] for r in range(50)]
    assert all(isinstance(c, int) for c in caps) and {10, 20} <= set(caps)


def test_uncertain_blend_shares_still_add_up_to_one(baseline):
    scenario = with_changes(baseline, {f"{BLEND}.national": {
        "value": 0.6, "range": [0.4, 0.8], "assumption": "test"}})  # fmt: skip
    draws = ParameterDraws(scenario, seed=3, replications=20)
    for r in range(20):
        values = draws.values(r)
        shares = [values[f"{BLEND}.{s}"] for s in ("national", "nhs_family", "consultancy")]
        assert sum(shares) == pytest.approx(1.0)
        assert draws.inputs(r).programme.eras[0].improvement_weights == pytest.approx(shares)


def test_every_declared_range_is_sampled_and_draws_differ_by_replication(baseline):
    draws = ParameterDraws(baseline, seed=7, replications=30)
    ranged = {path for path, note in baseline.notes.items() if note.range is not None}
    assert {n.path for n in draws.numbers} == ranged and HOURS in ranged
    hours = np.array([draws.values(r)[HOURS] for r in range(30)])
    assert len(set(hours)) == 15 and hours.min() >= 50 and hours.max() <= 90  # 15 pairs


def test_zero_width_ranges_give_the_noise_forecast_exactly(short):
    pinned = with_changes(short, {"calibration_ensemble": None})  # the fit's spread too
    for path, note in short.notes.items():
        if note.range is not None:
            value = ParameterDraws(short, 0, 1).numbers  # the values as written
            current = {n.path: n.value for n in value}[path]
            pinned = with_changes(pinned, {path: {"value": current, "range": [current, current],
                                                  "assumption": "pinned"}})  # fmt: skip
    noise = run_experiment([pinned], settings=RunSettings(6, seed=2, uncertainty="noise"))
    drawn = run_experiment([pinned], settings=RunSettings(6, seed=2, uncertainty="parameters"))
    assert np.array_equal(noise.values[pinned.name], drawn.values[pinned.name], equal_nan=True)


def test_parameter_uncertainty_widens_the_fan(short):
    noise = run_experiment([short], settings=RunSettings(60, seed=5, uncertainty="noise"))
    drawn = run_experiment([short], settings=RunSettings(60, seed=5, uncertainty="parameters"))

    def width(results):
        q05, q95 = np.quantile(_column(results, short.name), [0.05, 0.95])
        return q95 - q05

    assert width(drawn) > width(noise)


def test_a_scenario_compared_with_itself_differs_by_zero_and_replications_share_draws(short):
    twin = with_changes(short, {"name": "twin"})
    results = run_experiment(
        [short, twin], settings=RunSettings(8, seed=9, uncertainty="parameters")
    )
    assert np.array_equal(results.values[short.name], results.values["twin"], equal_nan=True)
    other = with_changes(short, {"name": "cap_20", "programme.cap": 20})
    a = ParameterDraws(short, 9, 8)
    b = ParameterDraws(other, 9, 8)
    assert [a.values(r)[HOURS] for r in range(8)] == [b.values(r)[HOURS] for r in range(8)]


def test_serial_equals_parallel_with_parameter_uncertainty(short):
    serial = run_experiment([short], settings=RunSettings(8, seed=4, uncertainty="parameters"))
    pooled = run_experiment(
        [short], settings=RunSettings(8, seed=4, jobs=2, uncertainty="parameters")
    )
    assert np.array_equal(serial.values[short.name], pooled.values[short.name], equal_nan=True)
    whole = list(replicate(short, RunSettings(3, seed=4, uncertainty="parameters")))
    hours = ParameterDraws(short, 4, 3).values(1)[HOURS]
    assert (
        whole[1].timeline is not None
        and hours != short.programme.phases.improvement.support_hours_per_week
    )


def test_the_manifest_records_the_kind_of_uncertainty(short, tmp_path):
    folder, _ = run_to_folder([short], tmp_path / "r", settings=RunSettings(
        4, seed=1, uncertainty="parameters", progress=False))  # fmt: skip
    assert json.loads((folder / "manifest.json").read_text())["uncertainty"] == "parameters"
    with pytest.raises(ValueError, match="uncertainty must be one of"):
        RunSettings(4, uncertainty="both")


def test_forecasts_draw_the_parameters_by_default_and_analyses_hold_them(short):
    assert RunSettings(4).uncertainty is None  # the default of what runs it
    results = run_experiment([short], replications=4, seed=3)
    assert results.manifest["uncertainty"] == "parameters"
    drawn = ParameterDraws(short, 3, 4)
    for r in (0, 3):  # the default forecast is the parameter run, replication by replication
        expected = reduce_replication(run_replication(drawn.inputs(r), 3, r),
                                      build_layout(compile_scenario(short)))  # fmt: skip
        assert np.array_equal(results.values[short.name][r], expected, equal_nan=True)
    # the analyses' primitives hold the parameters at the compiled values
    inputs = compile_scenario(short)
    fixed = next(replicate(inputs, RunSettings(1, seed=3)))
    assert np.array_equal(fixed.churn, run_replication(inputs, 3, 0).churn)
    [outputs] = run_outputs([short], lambda layout: np.ones(len(layout), bool),
                            settings=RunSettings(2, seed=3))  # fmt: skip
    noise = run_experiment([short], replications=2, seed=3, uncertainty="noise")
    assert np.array_equal(outputs, noise.values[short.name], equal_nan=True)
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, argv in (("run", []), ("sweep", ["--sample", "2"])):
        assert commands.choices[command].parse_args(argv).uncertainty == "parameters"


def test_a_fixed_change_loses_its_range_so_a_sweep_point_is_not_drawn_again(short):
    path = HOURS
    low, high = short.notes[path].range
    inside = (low + high) / 2
    kept = with_changes(short, {path: inside})
    assert kept.notes[path].range == [low, high]  # a what-if inside the range stays uncertain
    fixed = with_changes(short, {path: inside}, fixed=True)
    assert fixed.notes[path].range is None and path not in {n.path for n in uncertain_numbers(fixed)}
    variants, table = sample_variants(short, 2, seed=1)
    for variant, (_, row) in zip(variants, table.iterrows(), strict=True):
        draws = ParameterDraws(variant, seed=4, replications=4)
        assert {n.path for n in draws.numbers}.isdisjoint(set(table.columns) - {"scenario"})
        assert draws.values(2).get(path, row[path]) == row[path]


def test_pairs_of_replications_share_a_draw_but_not_their_random_numbers(short):
    draws = ParameterDraws(short, seed=2, replications=7)
    assert draws.draws == 4
    for k in range(3):
        assert draws.values(2 * k) == draws.values(2 * k + 1)
    assert draws.values(0) != draws.values(2)
    results = list(replicate(short, RunSettings(2, seed=2, uncertainty="parameters")))
    assert not np.array_equal(results[0].churn, results[1].churn)  # own random numbers


def test_the_variance_split_recovers_a_known_share():
    rng = np.random.default_rng(0)
    pairs = 20_000
    assumption = np.repeat(rng.normal(0, 2.0, pairs), 2)  # variance 4, shared within pairs
    noise = rng.normal(0, 1.0, 2 * pairs)  # variance 1, own per replication
    constant = np.full(2 * pairs, 3.0)
    split = variance_split(np.column_stack([assumption + noise, noise, constant]))
    assert split["assumptions_share"][0] == pytest.approx(0.8, abs=0.01)
    assert split["assumptions_share"][1] == pytest.approx(0.0, abs=0.02)
    assert np.isnan(split["assumptions_share"][2])  # no spread, no split
    assert split["noise"][0] == pytest.approx(1.0, rel=0.03)


def test_a_parameter_run_writes_the_variance_split(short, tmp_path):
    folder, _ = run_to_folder([short], tmp_path / "r", settings=RunSettings(
        8, seed=1, uncertainty="parameters", progress=False))  # fmt: skip
    split = pd.read_csv(folder / VARIANCE_FILE)
    assert set(split["scenario"]) == {short.name}
    assert split["assumptions_share"].dropna().between(0, 1).all()
    noise_folder, _ = run_to_folder([short], tmp_path / "n", settings=RunSettings(
        8, seed=1, progress=False, uncertainty="noise"))  # fmt: skip
    assert not (noise_folder / VARIANCE_FILE).exists()


MEDIAN = "programme.phases.improvement.duration.median_weeks"


def test_calibrated_numbers_are_drawn_from_the_ensemble_particles(baseline):
    assert baseline.calibration_ensemble is not None
    particles = pd.read_csv(baseline.calibration_ensemble)
    draws = ParameterDraws(baseline, seed=5, replications=40)
    medians = {draws.values(r)[MEDIAN] for r in range(40)}
    assert medians <= set(particles[MEDIAN]) and len(medians) > 5
    # every scenario of a run gets the same particle for draw k (common random numbers)
    other = with_changes(baseline, {"name": "cap_20", "programme.cap": 20})
    assert [ParameterDraws(other, 5, 40).values(r)[MEDIAN] for r in range(40)] == [
        draws.values(r)[MEDIAN] for r in range(40)
    ]
    # a value a variant sets itself is its own, not the calibration's: the ensemble leaves it
    what_if = with_changes(baseline, {MEDIAN: 100.0})
    assert {ParameterDraws(what_if, 5, 40).values(r).get(MEDIAN, 100.0) for r in range(40)} == {
        100.0
    }
