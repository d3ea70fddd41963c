"""Experiments: common random numbers, serial equals parallel, comparison, adequacy, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from sim import load_results, run_experiment
from sim.analysis.compare import paired_differences, replication_adequacy
from sim.apps.cli import main
from sim.scenario import with_changes
from tests.conftest import ROOT


def test_serial_one_worker_and_several_workers_agree_exactly(short):
    serial = run_experiment([short], replications=12, seed=3, jobs=1)
    one = run_experiment([short], replications=12, seed=3, jobs=1, backend="processes")
    two = run_experiment([short], replications=12, seed=3, jobs=2)
    assert two.manifest["backend"] == "processes" and two.manifest["jobs"] == 2
    for other in (one, two):
        np.testing.assert_array_equal(other.values[short.name], serial.values[short.name])


def test_a_scenario_compared_with_itself_differs_by_exactly_zero(short):
    twin = with_changes(short, {"name": "twin"})
    results = run_experiment([short, twin], replications=8, seed=5)
    table = paired_differences(results, short.name)
    differences = table["mean_difference"].dropna()
    assert len(differences) > 1000
    assert (differences == 0).all()
    assert (table["ci_low"].dropna() == 0).all() and (table["ci_high"].dropna() == 0).all()


def test_common_random_numbers_isolate_the_change(short):
    """A change that cannot affect the dynamics (a cost) changes nothing else."""
    dearer = with_changes(short, {"name": "dearer", "team.consultancy.day_rate": 2400})
    results = run_experiment([short, dearer], replications=8, seed=9)
    table = paired_differences(results, short.name)
    moved = table[table["mean_difference"].fillna(0) != 0]
    assert set(moved["metric"]) == {"cost", "cost_by_payer", "cost_cash", "cost_by_payer_cash"}
    consultancy = table[(table["metric"] == "cost") & (table["group"] == "consultancy")]
    assert (consultancy["mean_difference"] >= 0).all()


def test_paired_intervals_are_tighter_than_unpaired(short):
    bigger = with_changes(short, {"name": "cap_20", "programme.cap": 20})
    results = run_experiment([short, bigger], replications=30, seed=2)
    table = paired_differences(results, short.name)
    row = table[(table["frequency"] == "horizon") & (table["metric"] == "waiting")].iloc[0]
    assert row["ci_high"] < 0  # more places, shorter waiting list
    keys = results.keys[short.name]
    column = np.flatnonzero(keys.select("waiting", "horizon", "all"))[0]
    sd_each = results.values[short.name][:, column].std(ddof=1)
    paired_half = (row["ci_high"] - row["ci_low"]) / 2
    unpaired_half = 2.05 * np.sqrt(2) * sd_each / np.sqrt(30)
    assert paired_half < unpaired_half


def test_adequacy_flags_too_few_replications(short):
    results = run_experiment([short], replications=4, seed=1)
    strict = replication_adequacy(results, precision=0.01)
    assert not strict["adequate"].all()
    short_rows = strict[~strict["adequate"]]
    assert (short_rows["replications_needed"] > 4).all()
    assert replication_adequacy(results, precision=5.0)["adequate"].all()  # 500%: always met


def test_exceedance_rows_are_probabilities_and_first_weeks(short):
    results = run_experiment([short], replications=10, seed=4)
    summary = results.summary()
    cap = summary[(summary["metric"] == "cap_reached") & (summary["frequency"] == "quarter")]
    assert cap["mean"].between(0, 1).all()
    first = summary[summary["metric"] == "first_week_cap_reached"]
    assert len(first) == 1 and first["frequency"].iloc[0] == "horizon"
    assert 0 <= first["q50"].iloc[0] <= 2 * 52.2


def test_command_line_run_and_compare(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            str(ROOT / "scenarios" / "baseline.yaml"),
            str(ROOT / "scenarios" / "cap_20.yaml"),
            "--reps", "3", "--seed", "7", "--jobs", "2", "--out", str(out), "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr()
    assert "Results written to" in printed.out
    assert printed.err == ""  # no progress bar when asked for none
    assert (out / "adequacy.csv").exists()
    assert main(["compare", str(out), "--baseline", "baseline"]) == 0
    assert "cap_20 minus baseline" in capsys.readouterr().out
    comparison = pd.read_csv(out / "comparison_vs_baseline.csv")
    assert set(comparison["scenario"]) == {"cap_20"}
    assert main(["compare", str(out), "--baseline", "nosuch"]) == 2  # bad input
    assert "no scenario 'nosuch'" in capsys.readouterr().err
    loaded = load_results(out)
    assert loaded.replications == 3 and loaded.manifest["seed"] == 7


def test_jobs_must_be_positive_or_auto():
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--jobs", "0"])
    assert exit_info.value.code == 2


def test_interrupted_run_leaves_no_results(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(ROOT / "scenarios" / "baseline.yaml"),
            "--reps",
            "4000",
            "--jobs",
            "2",
            "--out",
            str(out),
        ],  # fmt: skip
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # interrupt once the run is under way (its first chunk is on disk), not after a fixed
    # sleep: on a loaded machine the child may still be importing after several seconds.
    # A chunk is 1/32 of the run, so the run is far from finished when the first one lands.
    chunks = tmp_path / ".run.unfinished" / "chunks"
    deadline = time.monotonic() + 120
    while not any(chunks.glob("*/*.npy")):
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no chunk written within 120 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "no results folder was written" in err and "--resume" in err
    # nothing that looks complete: only the hidden unfinished run, kept for --resume
    assert [p.name for p in tmp_path.iterdir()] == [".run.unfinished"]
    assert not (tmp_path / ".run.unfinished" / "manifest.json").exists()
