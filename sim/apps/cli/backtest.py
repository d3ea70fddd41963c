"""``backtest``: the model through the oversight regimes of 2013-2026 against what was
published about them.

The handler parses, reads the figures (held out: ``sim/data/held_out_history.csv``; used in
the fit: ``scenarios/calibration/history_targets.yaml``), calls
:func:`sim.analysis.backtest.backtest`, writes one folder atomically and prints a line per
figure. Misses are findings, not failures: exit 0 whether or not figures miss, 2 for bad
input, 1 for a failure while running. :func:`pack_backtest` runs the same back-test, with
the same defaults, for the chart pack (``report``). The layers below are imported inside
the functions so that ``python -m sim --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from sim.apps.cli.common import (
    IN_FOLDER,
    add_command,
    jobs,
    output_folder,
    positive_int,
    progress_options,
    publish_options,
    scenario_file,
)
from sim.experiment.settings import DEFAULT_SEED
from sim.locations import describe_folder, find_scenario, scenario_folder

log = logging.getLogger(__name__)

DEFAULT_HISTORY = "history/regimes_2013_2026.yaml"
"""The history scenario, a name in the scenario folder (:mod:`sim.locations`)."""
DEFAULT_TARGETS = ("calibration/history_targets.yaml", "calibration/targets.yaml")
"""Where the fitted figures are looked for, the first file found in the scenario folder
(like the other commands' default files): a list of them, or the calibration spec's
``history_figure`` targets."""
DEFAULT_REPS = 100
"""Replications of the back-test: the command's default, and the chart pack's."""
KIND = "backtest folder"
"""The folder's kind in its manifest: ``--force`` replaces only a folder of this kind."""


def add_backtest(commands: argparse._SubParsersAction) -> None:
    backtest = add_command(
        commands, "backtest", run_backtest,
        "run 2013-2026 through the real oversight regimes and compare with published history",
    )  # fmt: skip
    backtest.add_argument(
        "scenario", metavar="SCENARIO", nargs="?", type=scenario_file, default=DEFAULT_HISTORY,
        help=f"history scenario (default {DEFAULT_HISTORY} {IN_FOLDER})",
    )  # fmt: skip
    backtest.add_argument(
        "--held-out", type=Path, default=None,
        help="CSV of published figures held out of the fit (default: the package's "
        "sim/data/held_out_history.csv)",
    )  # fmt: skip
    backtest.add_argument(
        "--targets", type=scenario_file, default=None,
        help="YAML of published figures used in the fit: a targets list, or a calibration "
        f"spec's history_figure targets (default: the first of {', '.join(DEFAULT_TARGETS)} "
        f"that exists {IN_FOLDER}; none, with a note, if neither does)",
    )  # fmt: skip
    backtest.add_argument("--reps", type=positive_int, default=DEFAULT_REPS,
                          help=f"replications (default {DEFAULT_REPS})")  # fmt: skip
    backtest.add_argument(
        "--workers", "--jobs", dest="jobs", type=jobs, default=1,
        help="worker processes, or 'auto' for one per core (default 1; same numbers either way)",
    )  # fmt: skip
    publish_options(backtest, "backtest", jobs_option=False)
    progress_options(backtest)
    # also after the command (python -m sim backtest -v); SUPPRESS keeps the global -v
    backtest.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="log progress, and show details of failures")  # fmt: skip


def run_backtest(args: argparse.Namespace) -> int:
    """Run the history scenario, compare, write backtest.csv, programme_stock.csv and the
    chart to a new folder, and print one line per figure."""
    from sim.analysis import backtest as bt
    from sim.experiment.settings import RunSettings
    from sim.outputs.charts import save
    from sim.outputs.charts.analysis import backtest_chart
    from sim.results import atomic_folder, check_output_folder
    from sim.scenario import scenario_hash

    scenario, figures, held_out, targets = read_history(args.scenario, args.held_out, args.targets)
    out = output_folder(args, "backtest")
    check_output_folder(out, args.force, KIND)  # before the run, not after it
    settings = RunSettings(args.reps, args.seed, jobs=args.jobs, progress=args.progress)
    log.info("%d figures; %d replications of %s", len(figures), args.reps, scenario.name)
    result = bt.backtest(scenario, figures, settings)
    with atomic_folder(out, args.force, KIND) as staging:
        result.table.to_csv(staging / "backtest.csv", index=False)
        result.stock.to_csv(staging / "programme_stock.csv", index=False)
        save(backtest_chart(result), staging)  # backtest.png and backtest.svg
        record = {"command": getattr(args, "invocation", None), "scenario": scenario.name,
                  "scenario_sha256": scenario_hash(scenario), "seed": args.seed,
                  "replications": args.reps, "held_out": str(held_out),
                  "targets": None if targets is None else str(targets)}  # fmt: skip
        (staging / "manifest.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(format_backtest(result.table))
    print(f"\nTables and chart written to {out}/")
    return 0


def read_history(scenario_path: Path, held_out: Path | None = None, targets: Path | None = None,
                 quiet: bool = False):  # fmt: skip
    """The history scenario and the published figures, with the files they came from:
    ``(scenario, figures, held_out, targets)``. ``held_out`` None: the package's file;
    ``targets`` None: the first of :data:`DEFAULT_TARGETS` that exists, or none (said on
    standard error unless ``quiet``). Raises ScenarioError naming a file that is missing or
    wrong."""
    from sim.analysis import backtest as bt
    from sim.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    held_out = held_out or bt.default_held_out_path()
    if targets is None:
        candidates = [scenario_folder() / name for name in DEFAULT_TARGETS]
        targets = next((path for path in candidates if path.is_file()), None)
        if targets is None and not quiet:
            print(f"note: no {' or '.join(map(str, candidates))}: comparing held-out figures "
                  "only", file=sys.stderr)  # fmt: skip
    return scenario, bt.load_figures(held_out, targets), held_out, targets


def pack_backtest(seed: int = DEFAULT_SEED, replications: int = DEFAULT_REPS, progress=False):
    """The chart pack's back-test section: the shipped history scenario run as
    ``python -m sim backtest`` runs it by default (same files, replications and seed, so the
    same numbers), or, when the scenario folder (:mod:`sim.locations`) does not hold it or a
    file is wrong, the section saying why (and a note on standard error)."""
    from sim.analysis import backtest as bt
    from sim.errors import ScenarioError
    from sim.experiment.settings import RunSettings
    from sim.outputs.report import BacktestSection

    try:
        history = find_scenario(DEFAULT_HISTORY)
    except ScenarioError:
        folder = scenario_folder()
        missing = (f"the history scenario {DEFAULT_HISTORY} was not found in the scenario "
                   f"folder ({describe_folder(folder)}) of the folder the report was made in "
                   f"({Path.cwd()}); make the report where the scenario folder has it, or run "
                   "python -m sim backtest with the history scenario's path")  # fmt: skip
        print(f"note: back-test left out of the chart pack: {missing}", file=sys.stderr)
        return BacktestSection(missing=missing)
    try:
        scenario, figures, held_out, targets = read_history(history, quiet=True)
    except ScenarioError as exc:
        print(f"note: back-test left out of the chart pack: {exc}", file=sys.stderr)
        return BacktestSection(missing=str(exc))
    log.info("back-test: %d figures; %d replications of %s", len(figures), replications,
             scenario.name)  # fmt: skip
    # progress: as RunSettings.progress (the report's bar); it never changes the numbers
    result = bt.backtest(scenario, figures, RunSettings(replications, seed, progress=progress))
    shipped = held_out == bt.default_held_out_path()
    files = (f"history scenario {history}; figures held out of the fit from "
             f"{f'the package (sim/data/{bt.HELD_OUT_FILE})' if shipped else held_out}; "
             f"figures used in the fit from {targets or 'no file (none was found)'}")  # fmt: skip
    return BacktestSection(result=result, files=files)


def format_backtest(table) -> str:
    """A line per figure (PASS inside the model's 90% range, MISS outside, SKIP not
    compared) and a last line counting them."""
    lines = []
    for row in table.itertuples():
        if not row.compared:
            lines.append(f"SKIP  {row.name}: published {row.published:g}; {row.note}")
            continue
        mark = "PASS" if row.inside else "MISS"
        fitted = " (used in fit)" if row.used_in_fit else ""
        lines.append(f"{mark}  {row.name}{fitted}: published {row.published:g}, model "
                     f"{row.model_mean:.3g} [{row.model_q05:.3g}-{row.model_q95:.3g}]")  # fmt: skip
    compared = table[table["compared"]]
    held = int((~compared["used_in_fit"]).sum())
    last = (f"{int(compared['inside'].sum())} of {len(compared)} published figures inside the "
            f"model's 90% range ({held} held out)")  # fmt: skip
    skipped = len(table) - len(compared)
    if skipped:
        last += f"; {skipped} not compared (see SKIP)"
    return "\n".join([*lines, last])
