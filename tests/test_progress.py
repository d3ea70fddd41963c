"""Every long command shows a progress bar, logs its steps with -v, and the bar never
changes a result (issue 17, item 11).

Each command takes ``--progress`` / ``--no-progress`` (default: a bar only when standard
error is a terminal, so none under pytest). Forcing the bar on writes it to standard error,
while what the command prints and the files it writes are byte for byte those of a run
without it (apart from the records of the command itself: the manifest, the page and its
PDF, and the dates in SVG files). Settings are the
cheapest each command takes (one or two replications, one worker, no parameter draws), so
most tests run in a second or two; ``report`` draws its charts small, as PNG only, and
prints no PDF.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from sim.apps.cli import build_parser, main
from sim.experiment.progress import ProgressBar
from sim.experiment.settings import RunSettings
from tests.conftest import SCENARIOS
from tests.test_calibrate_output import QUICK_SPEC

BASELINE = str(SCENARIOS / "baseline.yaml")
BAR = re.compile(r"\[\d\d:\d\d")
"""What a tqdm bar writes: its elapsed time, ``[00:01<00:03, ...]``."""
TIMING = re.compile(r"\d+(\.\d+)? s\b")
"""Wall times a command prints, which differ between any two runs."""
UNCOMPARED = {"manifest.json", "index.html"}
"""Files that record the command that made them and how fast it ran."""
DATED = {".svg", ".pdf"}
"""Kinds of file that carry the date they were drawn (SVG) or print the page (PDF)."""


def _commands(work: Path) -> dict[str, tuple[list[str], str]]:
    """Arguments of each command (before --out), and a step its -v log names."""
    spec = work / "quick.yaml"
    return {
        "run": (["run", BASELINE, "--reps", "4", "--seed", "3", "--jobs", "1",
                 "--uncertainty", "noise"], "chunks to compute"),
        "sweep": (["sweep", BASELINE, "--grid", "programme.cap=10,12", "--reps", "3",
                   "--seed", "3", "--jobs", "1", "--uncertainty", "noise"], "chunks to compute"),
        "calibrate": (["calibrate", "--spec", str(spec), "--scenario", BASELINE],
                      "stage quick: misfit"),
        "theory": (["theory", "--scenario", BASELINE, "--reps", "2"], "theory: PASS conservation"),
        "sensitivity": (["sensitivity", BASELINE, "--reps", "2", "--jobs", "1"], "one-way:"),
        "plan": (["plan", BASELINE, "--lever", "cap", "--target", "waiting <= 30 over the horizon",
                  "--min", "10", "--max", "12", "--reps", "3", "--jobs", "1"], "plan: cap at"),
        "backtest": (["backtest", str(SCENARIOS / "history" / "regimes_2013_2026.yaml"),
                      "--targets", str(SCENARIOS / "calibration" / "targets.yaml"),
                      "--reps", "2"], "figures;"),
        "validation": (["validation", "--scenario", BASELINE, "--reps", "3"], "validation:"),
        "report": (["report", str(work / "results"), "--no-backtest"], "drawing the charts"),
    }  # fmt: skip


NO_OUT = ("theory",)
"""Commands that write no folder (they only print)."""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The quick calibration spec and a small results folder for ``report``."""
    folder = tmp_path_factory.mktemp("progress")
    (folder / "quick.yaml").write_text(QUICK_SPEC)
    run = ["run", BASELINE, "--reps", "3", "--seed", "2", "--jobs", "1",
           "--uncertainty", "noise", "--no-progress"]  # fmt: skip
    assert main([*run, "--out", str(folder / "results")]) == 0
    return folder


def _run(argv: list[str], out: Path | None, capsys) -> tuple[int, str, str]:
    code = main([*argv, *([] if out is None else ["--out", str(out)])])
    printed = capsys.readouterr()
    text = printed.out.replace(str(out), "OUT") if out is not None else printed.out
    return code, TIMING.sub("T s", text), printed.err


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in UNCOMPARED and path.suffix not in DATED
    }


COMMANDS = list(_commands(Path(".")))


@pytest.mark.parametrize("command", COMMANDS)
def test_each_long_command_takes_the_progress_flags(command, work):
    argv, _ = _commands(work)[command]
    parser = build_parser()
    assert parser.parse_args(argv).progress is None  # a bar only on a terminal
    assert parser.parse_args([*argv, "--progress"]).progress is True
    assert parser.parse_args([*argv, "--no-progress"]).progress is False


def _quick_png(chart, folder) -> None:
    """The chart pack's charts as small PNGs only (drawing is most of report's time, and the
    bar has nothing to do with it)."""
    from sim.outputs.charts import draw

    draw(chart).savefig(Path(folder) / f"{chart.key}.png", dpi=30)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_bar_goes_to_stderr_and_changes_no_result(
    command, work, tmp_path, capsys, caplog, monkeypatch
):
    argv, step = _commands(work)[command]
    monkeypatch.setattr("sim.outputs.report.save", _quick_png)
    # no PDF of the chart pack (printing it in a browser takes seconds; no bar is involved)
    monkeypatch.setattr("sim.outputs.report.find_browser", lambda: None, raising=False)
    quiet_out = None if command in NO_OUT else tmp_path / "quiet"
    shown_out = None if command in NO_OUT else tmp_path / "shown"
    quiet = _run([*argv, "--no-progress"], quiet_out, capsys)
    with caplog.at_level(logging.INFO, logger="sim"):  # what -v shows
        shown = _run([*argv, "--progress"], shown_out, capsys)
    assert not BAR.search(quiet[2]), quiet[2]
    assert BAR.search(shown[2]), f"no progress bar on standard error: {shown[2]!r}"
    assert shown[:2] == quiet[:2]  # exit code and everything printed
    if quiet_out is not None:
        assert _files(shown_out) == _files(quiet_out)
        assert _files(quiet_out)  # the comparison compared something
    assert step in caplog.text, f"-v does not log {step!r}: {caplog.text}"


def test_without_a_terminal_no_bar_is_shown(work, capsys):
    argv, _ = _commands(work)["theory"]
    assert main(argv) in (0, 1)
    assert not BAR.search(capsys.readouterr().err)


def test_one_bar_follows_several_runs_and_counts_announced_work_once(capsys):
    with ProgressBar(0, show=True, desc="study") as bar:
        bar.expect(10)
        with bar.part(6):  # announced: adds nothing
            bar(6)
        with bar.part(6):  # 4 announced, 2 more
            bar(6)
        assert (bar.n, bar.total) == (12, 12)
        bar.stage("charts", 3, unit="chart")
        bar.at("charts", 2)
        assert (bar.desc, bar.n, bar.total, bar.unit) == ("charts", 2, 3, "chart")
    assert "study" in capsys.readouterr().err
    assert RunSettings(2, 1, progress=bar).progress is bar  # runs take the bar as a setting
