"""Reduction to periods, statistics across replications, and results folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as stats_t

from sim import load_results, run_experiment
from sim.errors import FolderError, OutputError
from sim.experiment.layout import build_layout, reduce_replication
from sim.model import run_replication
from sim.results import Results
from sim.results.statistics import QUANTILES, sorted_quantiles, summary_statistics
from sim.scenario import scenario_hash


@pytest.fixture(scope="module")
def reduced(baseline_inputs):
    layout = build_layout(baseline_inputs)
    result = run_replication(baseline_inputs, seed=4, replication=1)
    return layout, result, reduce_replication(result, layout)


def _series(layout, values, metric, frequency, group="all"):
    mask = (layout.metric == metric) & (layout.frequency == frequency) & (layout.group == group)
    return values[mask]


@pytest.mark.parametrize("metric", ["referrals", "admissions", "exits", "reentries"])
def test_flows_add_up_across_months_quarters_and_years(reduced, metric):
    layout, result, values = reduced
    total = result.weekly[metric].sum()
    for frequency in ("month", "quarter", "year"):
        assert _series(layout, values, metric, frequency).sum() == total


def test_hours_and_costs_add_up(reduced):
    layout, result, values = reduced
    for frequency in ("month", "quarter", "year"):
        cost = _series(layout, values, "cost", frequency, "total").sum()
        assert cost == pytest.approx(result.weekly["cost_by_source"].sum())
        paid = _series(layout, values, "cost_by_payer", frequency, "trusts").sum()
        paid += _series(layout, values, "cost_by_payer", frequency, "nhs_england").sum()
        assert paid == pytest.approx(cost)


def test_stocks_are_taken_at_the_end_of_each_period(reduced):
    layout, result, values = reduced
    yearly = _series(layout, values, "waiting", "year")
    ends = layout.period_edges_weeks["year"][1:]
    log = result.timeline.log
    before_end = np.searchsorted(log[:, 0], ends, side="left") - 1
    np.testing.assert_array_equal(yearly, log[before_end, 5])
    in_programme = _series(layout, values, "in_programme", "quarter")
    assert in_programme.max() <= layout.cap


def test_utilisation_and_indicators_are_in_range(reduced):
    layout, _, values = reduced
    utilisation = values[layout.metric == "utilisation"]
    assert np.nanmin(utilisation) >= 0 and np.nanmax(utilisation) <= 1 + 1e-9
    indicators = values[np.isin(layout.metric, ["cap_reached", "national_demand_exceeded"])]
    assert set(np.unique(indicators)) <= {0.0, 1.0}


def test_summary_statistics_match_pandas():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 6))
    values[rng.random(values.shape) < 0.1] = np.nan
    stats = summary_statistics(values)
    frame = pd.DataFrame(values)
    np.testing.assert_allclose(stats["mean"], frame.mean(), rtol=1e-12)
    np.testing.assert_array_equal(stats["replications"], frame.count())
    half = stats_t.ppf(0.975, frame.count() - 1) * frame.std() / np.sqrt(frame.count())
    np.testing.assert_allclose(stats["ci_high"] - stats["mean"], half, rtol=1e-9)
    np.testing.assert_allclose(stats["q50"], frame.median(), rtol=1e-12)
    # the summary tables' 5/25/75/95% and every decile for the graded fans, in order
    quantiles = [c for c in stats if c.startswith("q")]
    assert quantiles == ["q05", "q10", "q20", "q25", "q30", "q40", "q50", "q60", "q70", "q75",
                         "q80", "q90", "q95"]  # fmt: skip
    for column in quantiles:
        np.testing.assert_allclose(stats[column], frame.quantile(int(column[1:]) / 100), rtol=1e-12)


@pytest.mark.parametrize("replications", [1, 2, 3, 20, 21, 1000])
def test_quantiles_from_a_sort_are_numpys_to_the_last_digit(replications):
    """np.quantile of complete columns, np.nanquantile of the others, as taken before."""
    # ties, infinities and zeros of both signs (where a sort and numpy's partition could
    # differ), and values missing from some columns or all of one
    rng = np.random.default_rng(replications)
    values = np.concatenate([
        rng.normal(size=(replications, 20)),
        rng.integers(0, 3, size=(replications, 20)).astype(float),
        rng.choice([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf], size=(replications, 20)),
    ], axis=1)  # fmt: skip
    values = np.concatenate([values, np.where(rng.random(values.shape) < 0.3, np.nan, values),
                             np.full((replications, 1), np.nan)], axis=1)  # fmt: skip
    count = (~np.isnan(values)).sum(axis=0)
    complete, partial = count == replications, (count > 0) & (count < replications)
    for quantiles in (QUANTILES, np.linspace(0, 1, 41)):
        expected = np.full((len(quantiles), values.shape[1]), np.nan)
        with np.errstate(invalid="ignore"):  # inf - inf, as in numpy
            expected[:, complete] = np.quantile(values[:, complete], quantiles, axis=0)
            expected[:, partial] = np.nanquantile(values[:, partial], quantiles, axis=0)
            found = sorted_quantiles(values, quantiles)
        np.testing.assert_array_equal(found, expected)
        np.testing.assert_array_equal(np.signbit(found), np.signbit(expected))


@pytest.fixture(scope="module")
def small_run(short):
    return run_experiment([short], replications=4, seed=11, command="test")


def test_results_folder_round_trip(small_run, tmp_path):
    folder = small_run.save(tmp_path / "run")
    assert sorted(p.name for p in folder.iterdir()) == [
        "adequacy.csv",  # as python -m sim run writes
        "manifest.json",
        "replications.parquet",
        "scenarios",
        "summary.csv",
    ]
    manifest = json.loads((folder / "manifest.json").read_text())
    for key in ("package_version", "git", "seed", "replications", "command", "scenarios",
                "libraries", "started_utc", "run_seconds", "machine"):  # fmt: skip
        assert key in manifest
    loaded = load_results(folder)
    for name, values in small_run.values.items():
        np.testing.assert_array_equal(loaded.values[name], values)
        for column in ("frequency", "period", "metric", "group"):
            assert list(getattr(loaded.keys[name], column)) == list(
                getattr(small_run.keys[name], column)
            )
        assert scenario_hash(loaded.scenarios[name]) == scenario_hash(small_run.scenarios[name])
    pd.testing.assert_frame_equal(
        loaded.summary().reset_index(drop=True), small_run.summary().reset_index(drop=True)
    )
    summary = pd.read_csv(folder / "summary.csv")
    assert {"mean", "ci_low", "ci_high", "q05", "q25", "q50", "q75", "q95"} <= set(summary)


def test_existing_folder_is_kept_unless_forced(small_run, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "keep.txt").write_text("earlier work")
    with pytest.raises(OutputError, match="already exists"):
        small_run.save(folder)
    assert (folder / "keep.txt").read_text() == "earlier work"
    # --force replaces only a folder this tool wrote: a folder of someone's notes is refused
    with pytest.raises(FolderError, match="not replaced"):
        small_run.save(folder, force=True)
    assert (folder / "keep.txt").read_text() == "earlier work"
    assert not (folder / "manifest.json").exists()


class _Unreadable(np.ndarray):
    """Values that fail part way through being written (the table is written first)."""

    def __getitem__(self, index):
        raise RuntimeError("interrupted while writing")


def test_failed_write_leaves_nothing_that_looks_complete(small_run, tmp_path):
    failing = Results(small_run.scenarios, small_run.keys,
                      {n: v.view(_Unreadable) for n, v in small_run.values.items()}, {})  # fmt: skip
    with pytest.raises(RuntimeError):
        failing.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []  # no folder, no staging leftovers
    # and an existing complete folder survives a failed replacement
    small_run.save(tmp_path / "run")
    with pytest.raises(RuntimeError):
        failing.save(tmp_path / "run", force=True)
    assert load_results(tmp_path / "run").replications == 4
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_loading_an_incomplete_folder_fails_clearly(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(OutputError, match="not a complete results folder"):
        load_results(tmp_path / "half")
