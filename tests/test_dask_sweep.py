"""Streaming runs, resuming, sweeps and the Dask backend (on a local cluster)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import load_results, run_experiment
from sim.apps.cli import main
from sim.errors import OutputError
from sim.experiment.layout import build_layout, reduce_replication
from sim.experiment.runner import run_to_folder
from sim.experiment.sweep import grid_variants, parse_grid, sample_variants
from sim.experiment.uncertainty import ParameterDraws
from sim.model import compile_scenario, run_replication
from sim.scenario import with_changes
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def pair(short):
    return [short, with_changes(short, {"name": "cap_20", "programme.cap": 20})]


@pytest.mark.parametrize("uncertainty", ["parameters", "noise"])
def test_dask_backend_matches_serial_to_the_last_digit(pair, tmp_path, uncertainty):
    pytest.importorskip("distributed")
    serial = run_experiment(pair, replications=10, seed=3, jobs=1, uncertainty=uncertainty)
    folder, stats = run_to_folder(pair, tmp_path / "dask", replications=10, seed=3, jobs=2,
                                  backend="dask", progress=False,
                                  uncertainty=uncertainty)  # fmt: skip
    assert stats.computed == stats.chunks and stats.reused == 0
    loaded = load_results(folder)
    assert loaded.manifest["backend"] == "dask"
    assert loaded.manifest["uncertainty"] == serial.manifest["uncertainty"] == uncertainty
    for name, values in serial.values.items():
        np.testing.assert_array_equal(loaded.values[name], values)


def test_a_stopped_run_resumes_without_redoing_finished_chunks(pair, tmp_path):
    out = tmp_path / "run"
    folder, first = run_to_folder(pair, out, replications=16, seed=5, jobs=2, backend="processes",
                                  max_chunks=7, progress=False)  # fmt: skip
    assert folder is None and first.computed == 7
    assert not out.exists() and (tmp_path / ".run.unfinished").exists()
    with pytest.raises(OutputError, match="--resume"):
        run_to_folder(pair, out, replications=16, seed=5, jobs=2, progress=False)
    with pytest.raises(OutputError, match="different run"):
        run_to_folder(pair, out, replications=16, seed=6, jobs=2, resume=True, progress=False)
    folder, second = run_to_folder(
        pair, out, replications=16, seed=5, jobs=2, resume=True, progress=False
    )
    assert second.reused == 7 and second.computed == second.chunks - 7
    assert not (tmp_path / ".run.unfinished").exists()
    fresh = run_experiment(pair, replications=16, seed=5, jobs=1)
    loaded = load_results(folder)
    for name, values in fresh.values.items():
        np.testing.assert_array_equal(loaded.values[name], values)


def test_grid_and_sample_variants(baseline):
    grid = parse_grid(["programme.cap=10,20", "team.national.vacancy_rate=0.05,0.1,0.2"])
    variants, table = grid_variants(baseline, grid)
    assert len(variants) == 6 and list(table["programme.cap"]) == [10, 10, 10, 20, 20, 20]
    assert [v.programme.cap for v in variants] == [10, 10, 10, 20, 20, 20]
    assert len({v.name for v in variants}) == 6
    sampled, table = sample_variants(baseline, 5, seed=1)
    assert len(sampled) == 5
    rates = table["programme.relapse_probability"]
    assert rates.between(0.05, 0.2).all() and rates.nunique() == 5
    with pytest.raises(ValueError, match="PATH=V1"):
        parse_grid(["programme.cap"])


def test_sweep_command_makes_one_folder_for_compare_and_report(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", str(SCENARIOS / "baseline.yaml"), "--grid", "programme.cap=10,15",
                 "--grid", "horizon_years=2", "--reps", "4", "--jobs", "2", "--out", str(out)])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["scenario"]) == ["baseline-1", "baseline-2"]
    assert main(["compare", str(out), "--baseline", "baseline-2"]) == 0
    assert main(["report", str(out), "--no-backtest", "--no-pdf"]) == 0
    assert (out / "report" / "index.html").exists()
    assert "baseline-1 minus baseline-2" in capsys.readouterr().out


def test_streamed_results_equal_direct_replications(pair, tmp_path):
    folder, _ = run_to_folder(pair[:1], tmp_path / "one", replications=6, seed=8, jobs=2,
                              progress=False, uncertainty="noise")  # fmt: skip
    loaded = load_results(folder)
    inputs = compile_scenario(pair[0])
    layout = build_layout(inputs)
    direct = reduce_replication(run_replication(inputs, 8, 4), layout)
    np.testing.assert_array_equal(loaded.values[pair[0].name][4], direct)
    # by default replication 4 runs with its own draw of the assumptions (draw 2)
    folder, _ = run_to_folder(pair[:1], tmp_path / "two", replications=6, seed=8, jobs=2,
                              progress=False)  # fmt: skip
    drawn = ParameterDraws(pair[0], 8, 6).inputs(4)
    direct = reduce_replication(run_replication(drawn, 8, 4), layout)
    np.testing.assert_array_equal(load_results(folder).values[pair[0].name][4], direct)
