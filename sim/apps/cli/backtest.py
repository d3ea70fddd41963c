"""``backtest``: the model through the oversight regimes of 2013-2026 against what was
published about them.

The handler parses, reads the figures (held out: ``sim/data/held_out_history.csv``; used in
the fit: ``scenarios/calibration/history_targets.yaml``), calls
:func:`sim.analysis.backtest.backtest`, writes one folder atomically and prints a line per
figure. Misses are findings, not failures: exit 0 whether or not figures miss, 2 for bad
input, 1 for a failure while running. The layers below are imported inside the handler so
that ``python -m sim --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from sim.apps.cli.common import (
    add_command,
    jobs,
    output_folder,
    positive_int,
    progress_options,
    publish_options,
)

log = logging.getLogger(__name__)

DEFAULT_HISTORY = Path("scenarios/history/regimes_2013_2026.yaml")
DEFAULT_TARGETS = (
    Path("scenarios/calibration/history_targets.yaml"),
    Path("scenarios/calibration/targets.yaml"),
)
"""Where the fitted figures are looked for, the first file found (relative to the working
folder, like the other commands' default files): a list of them, or the calibration spec's
``history_figure`` targets."""
KIND = "backtest folder"
"""The folder's kind in its manifest: ``--force`` replaces only a folder of this kind."""


def add_backtest(commands: argparse._SubParsersAction) -> None:
    backtest = add_command(
        commands, "backtest", run_backtest,
        "run 2013-2026 through the real oversight regimes and compare with published history",
    )  # fmt: skip
    backtest.add_argument(
        "scenario", metavar="SCENARIO", nargs="?", type=Path, default=DEFAULT_HISTORY,
        help=f"history scenario (default {DEFAULT_HISTORY})",
    )  # fmt: skip
    backtest.add_argument(
        "--held-out", type=Path, default=None,
        help="CSV of published figures held out of the fit (default: the package's "
        "sim/data/held_out_history.csv)",
    )  # fmt: skip
    backtest.add_argument(
        "--targets", type=Path, default=None,
        help="YAML of published figures used in the fit: a targets list, or a calibration "
        f"spec's history_figure targets (default: the first of {', '.join(map(str, DEFAULT_TARGETS))} "
        "that exists; none, with a note, if neither does)",
    )  # fmt: skip
    backtest.add_argument("--reps", type=positive_int, default=100,
                          help="replications (default 100)")  # fmt: skip
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
    from sim.outputs.charts import PNG_DPI
    from sim.outputs.charts.analysis import backtest_chart
    from sim.outputs.charts.draw_backtest import draw_backtest
    from sim.results import atomic_folder, check_output_folder
    from sim.scenario import load_scenario, scenario_hash

    scenario = load_scenario(args.scenario)
    held_out = args.held_out or bt.default_held_out_path()
    targets = args.targets or next((p for p in DEFAULT_TARGETS if p.is_file()), None)
    if targets is None:
        print(f"note: no {' or '.join(map(str, DEFAULT_TARGETS))}: comparing held-out figures "
              "only", file=sys.stderr)  # fmt: skip
    figures = bt.load_figures(held_out, targets)
    out = output_folder(args, "backtest")
    check_output_folder(out, args.force, KIND)  # before the run, not after it
    settings = RunSettings(args.reps, args.seed, jobs=args.jobs, progress=args.progress)
    log.info("%d figures; %d replications of %s", len(figures), args.reps, scenario.name)
    result = bt.backtest(scenario, figures, settings)
    chart = backtest_chart(result)
    with atomic_folder(out, args.force, KIND) as staging:
        result.table.to_csv(staging / "backtest.csv", index=False)
        result.stock.to_csv(staging / "programme_stock.csv", index=False)
        figure = draw_backtest(chart)
        figure.savefig(staging / "backtest.png", dpi=PNG_DPI)
        figure.savefig(staging / "backtest.svg")
        record = {"command": getattr(args, "invocation", None), "scenario": scenario.name,
                  "scenario_sha256": scenario_hash(scenario), "seed": args.seed,
                  "replications": args.reps, "held_out": str(held_out),
                  "targets": None if targets is None else str(targets)}  # fmt: skip
        (staging / "manifest.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(format_backtest(result.table))
    print(f"\nTables and chart written to {out}/")
    return 0


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
