"""``compare`` and ``report``: commands that read a results folder written by ``run``.

RESULTS is checked before any work (:func:`sim.apps.cli.checks.check_arguments`); these
handlers load it, call the analysis or the chart pack and print where things went. They
import what they call, so that ``python -m sim --help`` stays quick.
"""

from __future__ import annotations

import argparse
import logging
import sys
from functools import partial
from pathlib import Path

from sim.apps.cli.common import ArgumentError, add_command, progress_options
from sim.experiment.progress import ProgressBar

log = logging.getLogger(__name__)


def results_argument(parser: argparse.ArgumentParser) -> None:
    """RESULTS, the folder of a run that compare and report read."""
    parser.add_argument(
        "results", metavar="RESULTS", type=Path, help="a results folder written by run"
    )


# ---------------------------------------------------------------------------- compare


def add_compare(commands: argparse._SubParsersAction) -> None:
    compare = add_command(
        commands, "compare", compare_scenarios, "paired differences between scenarios of a run"
    )
    results_argument(compare)
    compare.add_argument(
        "--baseline", required=True, help="name of the scenario to compare against"
    )
    compare.add_argument(
        "--out",
        type=Path,
        default=None,
        help="CSV of every difference (default RESULTS/comparison_vs_BASELINE.csv)",
    )


def compare_scenarios(args: argparse.Namespace) -> int:
    """Paired differences of every scenario from ``--baseline``: printed and written."""
    from sim.analysis.compare import identical_outputs, paired_differences
    from sim.outputs.summary import format_comparison
    from sim.results import load_results, write_csv_atomically

    results = load_results(args.results)
    if args.baseline not in results.values:
        raise ArgumentError(
            "--baseline",
            f"{args.results} has no scenario {args.baseline!r}; it holds "
            f"{', '.join(results.values)}",
        )
    if len(results.values) < 2:
        raise ArgumentError("RESULTS", f"{args.results} holds one scenario; nothing to compare")
    table = paired_differences(results, args.baseline)
    out = args.out or args.results / f"comparison_vs_{args.baseline}.csv"
    write_csv_atomically(table, out)
    identical = identical_outputs(results, args.baseline)
    print(format_comparison(table, results.replications, identical))
    print(f"\nEvery paired difference written to {out}")
    return 0


# ----------------------------------------------------------------------------- report


def add_report(commands: argparse._SubParsersAction) -> None:
    report = add_command(commands, "report", write_report, "write the chart pack of a run")
    results_argument(report)
    report.add_argument(
        "--out", type=Path, default=None, help="chart pack folder (default RESULTS/report)"
    )
    report.add_argument(
        "--baseline",
        default=None,
        help="scenario the others are compared with (default: the first)",
    )
    report.add_argument("--force", action="store_true", help="replace an existing chart pack")
    report.add_argument(
        "--no-backtest", dest="backtest", action="store_false",
        help="leave out the back-test through 2013-2026 (by default it is run, about 4 s: "
        "the shipped history scenario, as python -m sim backtest runs it)",
    )  # fmt: skip
    report.add_argument(
        "--no-pdf", dest="pdf", action="store_false",
        help="leave out report.pdf (by default the page is printed on A4 with a headless "
        "Chromium or Chrome when one is on the PATH, a few seconds)",
    )  # fmt: skip
    report.add_argument(
        "--standalone-charts", action="store_true",
        help="also write each chart with its title, subtitle, caption and notes in the image, "
        "in charts/standalone/, for use on its own (the page's charts leave them to the page)",
    )  # fmt: skip
    report.add_argument(
        "--bare", action="store_true",
        help="write only the charts, without titles or notes in the image, and their data "
        "(charts/, data/ with charts.xlsx), for a document in its own house style: no page "
        "and no PDF",
    )  # fmt: skip
    progress_options(report)


def write_report(args: argparse.Namespace) -> int:
    """Write the chart pack of a results folder, with the back-test unless --no-backtest."""
    # plotting is loaded only when needed
    from sim.apps.cli.backtest import format_backtest, pack_backtest
    from sim.outputs.report import PAGE, PDF, write_chart_pack
    from sim.results import check_output_folder, load_results

    # one bar a step: reading the results, the back-test's replications, the charts
    with ProgressBar(1, args.progress, unit="folder", desc="reading results") as bar:
        log.info("reading %s", args.results)
        results = load_results(args.results)
        bar(1)
        if args.baseline is not None and args.baseline not in results.scenarios:
            raise ArgumentError(
                "--baseline",
                f"{args.results} has no scenario {args.baseline!r}; it holds "
                f"{', '.join(results.scenarios)}",
            )
        out = args.out or args.results / "report"
        check_output_folder(out, args.force, "chart pack")  # before the back-test runs
        backtest = None
        if args.backtest:
            bar.stage("back-test", unit="rep")
            backtest = pack_backtest(progress=bar)
        bar.stage("charts", unit="chart")
        log.info("drawing the charts into %s", out)
        charts_done = partial(bar.at, "charts")  # called with (charts written, charts in all)
        folder = write_chart_pack(results, out, baseline=args.baseline, force=args.force,
                                  backtest=backtest, progress=charts_done, pdf=args.pdf,
                                  standalone=args.standalone_charts, bare=args.bare,
                                  note=lambda text: print(f"note: {text}", file=sys.stderr))  # fmt: skip
    charts = len(list((folder / "charts").glob("*.png")))
    if args.bare:
        print(f"{charts} bare charts and their data written to {folder}/ (charts/, data/)")
    else:
        print(f"Chart pack with {charts} charts written to {folder}/ (open {folder / PAGE})")
    if (folder / PDF).is_file():
        print(f"Printable report: {folder / PDF}")
    if backtest is not None and backtest.result is not None:
        last = format_backtest(backtest.result.table).splitlines()[-1]
        print(f"Back-test: {last}")
    return 0
