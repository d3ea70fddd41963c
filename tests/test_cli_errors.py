"""The command line as a safe boundary: bad input gets a message naming the argument and
exit code 2, a failure while running gets one line and exit code 1, and no traceback ever
reaches the user (issue 13: items 12, 13 and 17)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.analysis.verification import run_theory_checks
from sim.apps import cli
from sim.apps.cli import main
from sim.scenario import with_changes
from tests.conftest import ROOT, SCENARIOS

BASELINE = str(SCENARIOS / "baseline.yaml")


def cli_run(args: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of ``python -m sim ARGS`` in-process."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own usage errors, --help and --version
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def results_folder(baseline, tmp_path_factory):
    """A small finished results folder with two scenarios (one year, two replications)."""
    short = with_changes(baseline, {"horizon_years": 1})
    other = with_changes(short, {"name": "cap_20", "programme.cap": 20})
    folder = tmp_path_factory.mktemp("results") / "run"
    sim.run_experiment([short, other], replications=2, seed=1, jobs=1).save(folder)
    return folder


def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- refused before any work


def test_precision_too_fine_is_refused_before_running(in_tmp, capsys):
    code, _, err = cli_run(["run", BASELINE, "--reps", "2", "--precision", "1e-300"], capsys)
    assert code == 2
    assert "--precision" in err and "at least 0.001" in err
    assert files_under(in_tmp) == []


def test_garbage_scheduler_address_is_refused(in_tmp, capsys):
    args = ["run", BASELINE, "--reps", "2", "--backend", "dask", "--scheduler", "garbage"]
    code, _, err = cli_run(args, capsys)
    assert code == 2
    assert "--scheduler" in err and "'garbage'" in err and "tcp://HOST:PORT" in err
    assert files_under(in_tmp) == []


def test_scheduler_without_dask_backend_is_an_error(in_tmp, capsys):
    args = ["run", BASELINE, "--reps", "2", "--scheduler", "tcp://127.0.0.1:8786"]
    code, _, err = cli_run(args, capsys)
    assert code == 2
    assert "--scheduler" in err and "--backend dask" in err
    assert files_under(in_tmp) == []


def test_unreachable_scheduler_is_refused_before_running(in_tmp, capsys):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{free_port()}"
    args = ["run", BASELINE, "--reps", "2", "--backend", "dask", "--scheduler", address]
    code, _, err = cli_run(args, capsys)
    assert code == 2
    assert "--scheduler" in err and address in err and "no Dask scheduler answers" in err
    assert files_under(in_tmp) == []  # no unfinished run left behind


def test_out_at_the_file_system_root_is_refused(in_tmp, capsys):
    for force in ([], ["--force"]):
        code, _, err = cli_run(["run", BASELINE, "--reps", "2", "--out", "/", *force], capsys)
        assert code == 2, err
        assert "--out /" in err and "root of the file system" in err


def test_out_holding_the_working_folder_is_refused(in_tmp, capsys):
    code, _, err = cli_run(["run", BASELINE, "--reps", "2", "--out", ".", "--force"], capsys)
    assert code == 2
    assert "--out ." in err and "working folder" in err
    assert files_under(in_tmp) == []


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs a /proc file system")
def test_out_where_nothing_can_be_written_fails_before_running(in_tmp, capsys):
    code, _, err = cli_run(["run", BASELINE, "--reps", "2", "--out", "/proc/x"], capsys)
    assert code == 1  # the output cannot be written: a failure, reported before any work
    assert "--out /proc/x" in err and "cannot write in /proc" in err
    assert files_under(in_tmp) == []


def test_plan_bounds_must_be_finite(in_tmp, capsys):
    target = "waiting <= 5 over the horizon"
    args = ["plan", BASELINE, "--lever", "cap", "--target", target, "--min=-inf", "--max=inf"]
    code, _, err = cli_run(args, capsys)
    assert code == 2
    assert "--min" in err and "finite" in err
    assert files_under(in_tmp) == []


def test_plan_min_must_be_below_max(in_tmp, capsys):
    target = "waiting <= 5 over the horizon"
    args = ["plan", BASELINE, "--lever", "cap", "--target", target, "--min", "5", "--max", "3"]
    code, _, err = cli_run(args, capsys)
    assert code == 2
    assert "argument --min: 5 must be below --max 3" in err
    assert files_under(in_tmp) == []


def test_theory_needs_two_replications(in_tmp, capsys):
    code, _, err = cli_run(["theory", "--scenario", BASELINE, "--reps", "1"], capsys)
    assert code == 2
    assert "--reps" in err and "at least 2" in err


def test_theory_api_refuses_fractional_replications(baseline):
    with pytest.raises(TypeError, match="whole number"):
        run_theory_checks(baseline, replications=2.5)


# ------------------------------------------------------------------ sensitivity outputs


def test_unknown_metric_lists_the_valid_names(in_tmp, capsys):
    code, _, err = cli_run(["sensitivity", BASELINE, "--metric", "nosuch"], capsys)
    assert code == 2
    assert "argument --metric" in err and "'nosuch'" in err
    assert "share_waiting_over_13_weeks" in err and "catastrophic_failures" in err
    assert files_under(in_tmp) == []


def test_metric_help_lists_the_valid_names(capsys):
    code, out, _ = cli_run(["sensitivity", "--help"], capsys)
    assert code == 0
    help_text = " ".join(out.split())  # argparse wraps the help over several lines
    for metric in ("waiting", "mean_wait_weeks", "share_waiting_over_13_weeks", "trusts"):
        assert metric in help_text


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        (["--group", "acute"], "--group", "choose one of 'all'"),
        (
            ["--metric", "trusts", "--frequency", "horizon", "--group", "acute|segment 5"],
            "--frequency",
            "choose one of 'quarter'",
        ),  # fmt: skip
        (["--frequency", "year", "--period", "2099/00"], "--period", "2027/28"),
    ],
)
def test_unknown_group_frequency_or_period_is_named(in_tmp, capsys, option, value, words):
    code, _, err = cli_run(["sensitivity", BASELINE, *option], capsys)
    assert code == 2
    assert f"argument {value}" in err and words in err
    assert files_under(in_tmp) == []


def test_output_catalogue_matches_the_results_layout(baseline_inputs):
    from sim.analysis.sensitivity import output_metrics
    from sim.experiment.layout import build_layout
    from sim.vocabulary import METRICS

    assert list(METRICS) == list(output_metrics())  # --metric's help lists METRICS

    layout = build_layout(baseline_inputs)
    found = set(zip(layout.metric, layout.group, layout.frequency, strict=True))
    listed = {
        (metric, group, frequency)
        for metric, (groups, frequencies) in output_metrics().items()
        for group in groups
        for frequency in frequencies
    }
    assert listed == found


def test_output_refuses_unknown_names_in_python():
    from sim.analysis.sensitivity import Output, OutputChoiceError

    with pytest.raises(OutputChoiceError, match="no metric 'nosuch'") as info:
        Output("nosuch")
    assert info.value.field == "metric"


def test_morris_writes_the_chart_it_says_it_wrote(in_tmp, capsys):
    pytest.importorskip("SALib")
    scenario = in_tmp / "short.yaml"
    scenario.write_text(f"extends: {BASELINE}\nname: short\nhorizon_years: 1\n", encoding="utf-8")
    out = in_tmp / "morris"
    args = ["sensitivity", str(scenario), "--method", "morris", "--samples", "2",
            "--point-reps", "2", "--jobs", "1", "--out", str(out)]  # fmt: skip
    code, printed, err = cli_run(args, capsys)
    assert code == 0, err
    assert "charts written" in printed
    assert (out / "morris.png").is_file() and (out / "morris.svg").is_file()
    assert (out / "morris.csv").is_file()


def test_global_chart_words_name_the_top_assumption():
    import pandas as pd

    from sim.analysis.sensitivity import Output
    from sim.outputs.charts.analysis import global_chart

    indices = pd.DataFrame({
        "parameter": ["programme.relapse_probability", "team.national.vacancy_rate"],
        "first_order": [0.6, 0.1], "first_order_ci": [0.1, 0.05],
        "total": [0.7, 0.2], "total_ci": [0.1, 0.05],
    })  # fmt: skip
    diagnostics = {"method": "sobol", "sample_points": 40, "replications_per_point": 5,
                   "noise_share": 0.12}  # fmt: skip
    chart = global_chart(indices, diagnostics, Output("waiting"), "baseline", 7)
    assert chart.kind == "indices"
    assert chart.title.startswith("Relapse probability matters most")
    assert "12%" in chart.caption
    assert set(chart.table["index"]) == {"first-order", "total"}
    from sim.outputs.charts.draw import draw

    assert draw(chart).axes  # the drawer exists for this kind


# --------------------------------------------------------------- compare and report


def test_compare_missing_results_folder_is_bad_input(in_tmp, capsys):
    code, _, err = cli_run(["compare", "nowhere", "--baseline", "baseline"], capsys)
    assert code == 2
    assert "argument RESULTS" in err and "nowhere" in err


def test_report_folder_without_manifest_is_bad_input(in_tmp, capsys):
    (in_tmp / "half").mkdir()
    code, _, err = cli_run(["report", "half"], capsys)
    assert code == 2
    assert "argument RESULTS" in err and "manifest.json" in err


def test_compare_unknown_baseline_is_bad_input(results_folder, capsys):
    code, _, err = cli_run(["compare", str(results_folder), "--baseline", "nosuch"], capsys)
    assert code == 2
    assert "argument --baseline" in err and "'nosuch'" in err and "cap_20" in err


def test_report_unknown_baseline_is_bad_input(results_folder, tmp_path, capsys):
    out = tmp_path / "pack"
    args = ["report", str(results_folder), "--out", str(out), "--baseline", "nosuch"]
    code, _, err = cli_run(args, capsys)
    assert code == 2
    assert "argument --baseline" in err and "'nosuch'" in err
    assert not out.exists()


def test_comparison_csv_has_normal_permissions(results_folder, tmp_path, capsys):
    out = tmp_path / "comparison.csv"
    old = os.umask(0o022)
    try:
        code, _, err = cli_run(
            ["compare", str(results_folder), "--baseline", "baseline", "--out", str(out)], capsys
        )
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# ------------------------------------------------------------- calibration specs


@pytest.mark.parametrize(
    "text",
    [
        "settings: {replications: 2, seed: 1, horizon_years: 1}\nstages:\n  - name: a\n"
        "    parameters:\n      - {name: x, low: abc, high: 2, start: 1, paths: [p]}\n"
        "    targets: []\n",
        "settings: 3\nstages: 5\n",
        "settings: {replications: 2, seed: 1, horizon_years: 1}\nstages: [7]\n",
    ],
    ids=["text-for-a-number", "numbers-for-sections", "number-for-a-stage"],
)
def test_malformed_calibration_spec_is_bad_input(in_tmp, capsys, text):
    spec = in_tmp / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    code, _, err = cli_run(["calibrate", "--spec", str(spec), "--scenario", BASELINE], capsys)
    assert code == 2
    assert "spec.yaml" in err
    assert [p.name for p in in_tmp.iterdir()] == ["spec.yaml"]


# ----------------------------------------------------------------- the boundary itself


def test_version(capsys):
    code, out, _ = cli_run(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"nhs-pip-sim {sim.__version__}"
    assert sim.__version__ != ""


def test_unexpected_failure_is_one_line_and_exit_1(monkeypatch, capsys):
    def broken(paths):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli.scenario_files, "validate_files", broken)
    code, _, err = cli_run(["validate"], capsys)
    assert code == 1
    assert err.strip() == "error: unexpected RuntimeError: boom (run with -v for the details)"


def test_verbose_shows_the_details_of_an_unexpected_failure(monkeypatch, capsys):
    def broken(paths):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli.scenario_files, "validate_files", broken)
    try:
        code = main(["-v", "validate"])
    finally:
        err = capsys.readouterr().err
    assert code == 1
    assert "error: unexpected RuntimeError: boom" in err


@pytest.mark.parametrize("command", [["validate"], ["schema"]])
def test_closed_output_pipe_ends_quietly(command):
    """`python -m sim validate | head`: the reader goes away before the output is written."""
    read, write = os.pipe()
    os.close(read)  # the reader has already gone
    try:
        process = subprocess.run(
            [sys.executable, "-m", "sim", *command],
            cwd=ROOT,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert process.stderr == ""
    assert process.returncode == cli.EXIT_BROKEN_PIPE
