"""Shared pieces of the command line: argument types, option groups used by several
commands, exit codes and small output helpers.

Argument types turn one string into one value or raise ``argparse.ArgumentTypeError``
(argparse then prints the usage and exits 2). Nothing here runs a model or reads results;
commands live in their own modules (:mod:`sim.apps.cli.runs` and the others) and the error
boundary in :mod:`sim.apps.cli.main`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path

from sim.errors import ArgumentError, ScenarioError
from sim.experiment.settings import DEFAULT_SEED
from sim.locations import BASELINE, find_scenario
from sim.vocabulary import METRICS

__all__ = ["ArgumentError"]  # commands raise it; main turns it into exit code 2

DEFAULT_SCENARIO = BASELINE
"""The default scenario, a name in the scenario folder (:mod:`sim.locations`)."""
IN_FOLDER = "in the scenario folder: ./scenarios/ if there is one, else the package's"
"""How help texts say where a default file is found."""
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell reports for a program whose reader went away."""

MIN_PRECISION = 0.001
"""Smallest --precision accepted: finer targets ask for many millions of replications."""
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")

# ------------------------------------------------------------------------ argument types


def _read(convert, text: str, kind: str, shown: str | None = None):
    """``convert(text)``, or an ArgumentTypeError saying ``shown`` (default ``text``) is not
    ``kind``."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown or text!r} is not {kind}") from None


def _whole_number(text: str, minimum: int, bound: str) -> int:
    """A whole number of at least ``minimum``; ``bound`` says so in the message."""
    value = _read(int, text, "a whole number")
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
    return value


def scenario_file(text: str) -> Path:
    """A file of the scenario folder's kind (scenario, calibration spec): an existing file as
    given, else that name in the scenario folder (the rule of :mod:`sim.locations`)."""
    try:
        return find_scenario(text)
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    return _whole_number(text, 1, "at least 1")


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0, "0 or more")


def jobs(text: str) -> int | str:
    """--jobs: worker processes, or 'auto' for one per core."""
    return "auto" if text == "auto" else positive_int(text)


def fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = _read(float, text, "a number")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def precision(text: str) -> float:
    """--precision: a relative half-width from MIN_PRECISION up to (not including) 1."""
    value = fraction(text)
    if value < MIN_PRECISION:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_PRECISION} (0.1%), got {text}: finer precision would need "
            "many millions of replications"
        )
    return value


def at_least_two(text: str) -> int:
    """Replications for checks that need a standard error (two or more)."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"must be at least 2 (the checks need a standard error), got {value}"
        )
    return value


def setting(text: str) -> float:
    """A lever setting for plan: a finite number, 0 or more (in the lever's units)."""
    value = _read(float, text, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def scheduler_address(text: str) -> str:
    """A Dask scheduler address, [SCHEME://]HOST:PORT (returned as given)."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "tcp", text
    host, _, port = rest.rpartition(":")
    if (
        scheme not in SCHEDULER_SCHEMES
        or not host.strip("[]")
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a scheduler address; write it as tcp://HOST:PORT, for example "
            "tcp://10.0.0.5:8786"
        )
    return text


def percentage(text: str) -> float:
    """A percentage above 0 and at most 100; a fraction such as 0.9 is refused, not guessed."""
    value = _read(float, text.rstrip("%"), "a number", shown=text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(
            f"give a percentage from 1 to 100 (e.g. 90 for 90%), got {text}"
        )
    return value


# ------------------------------------------------------------------------- option groups


def add_command(
    commands: argparse._SubParsersAction, name: str, handler, help: str
) -> argparse.ArgumentParser:
    """A command's parser, listed in ``--help`` with ``help``; ``handler`` runs it."""
    parser = commands.add_parser(name, help=help)
    parser.set_defaults(handler=handler)
    return parser


def paths_argument(parser: argparse.ArgumentParser, name: str, help: str, type=Path) -> None:
    """Zero or more paths as positional arguments. None given: an empty list, which the
    handler replaces by its default, found when it runs (in the scenario folder)."""
    parser.add_argument(name, nargs="*", type=type, default=[], help=help)


def scenario_option(parser: argparse.ArgumentParser, help: str) -> None:
    """--scenario FILE, the baseline by default (calibrate, validation and theory)."""
    parser.add_argument("--scenario", type=scenario_file, default=DEFAULT_SCENARIO, help=help)


def scenario_argument(parser: argparse.ArgumentParser, default: str = DEFAULT_SCENARIO) -> None:
    """SCENARIO, one optional scenario file or name (sweep, sensitivity, plan, backtest)."""
    parser.add_argument(
        "scenario", metavar="SCENARIO", nargs="?", type=scenario_file, default=default,
        help=f"scenario file, or a name such as cap_10 (default {default} {IN_FOLDER})",
    )  # fmt: skip


def backend_options(parser: argparse.ArgumentParser) -> None:
    """--backend, --scheduler, --resume and --max-chunks (run and sweep)."""
    parser.add_argument(
        "--backend",
        choices=("serial", "processes", "dask"),
        default=None,
        help="where replications run (default: processes, or serial for --jobs 1)",
    )
    parser.add_argument(
        "--scheduler",
        type=scheduler_address,
        default=None,
        help="Dask scheduler address, e.g. tcp://host:8786, with --backend dask "
        "(default: a local cluster)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run into the same --out folder",
    )
    parser.add_argument(
        "--max-chunks",
        type=positive_int,
        default=None,
        help="stop after computing this many chunks (continue later with --resume)",
    )


def progress_options(parser: argparse.ArgumentParser) -> None:
    """--progress / --no-progress: a bar always, never, or (default) only on a terminal."""
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always show a progress bar",
    )
    bar.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="never show a progress bar (default: only on a terminal)",
    )


def publish_options(parser: argparse.ArgumentParser, kind: str, jobs_option: bool = True) -> None:
    """--seed, --jobs, --out (default results/<kind>-<date-time>) and --force."""
    parser.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED)
    if jobs_option:
        parser.add_argument("--jobs", type=jobs, default="auto")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output folder (default results/{kind}-<date-time>)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")


def output_options(parser: argparse.ArgumentParser) -> None:
    """--metric, --group, --frequency and --period: one output of the results."""
    parser.add_argument(
        "--metric",
        default="waiting",
        # METRICS lists the output metrics in the results' order, as output_metrics() does
        # (a test checks it), without importing the analysis for --help
        help=f"output metric, one of: {', '.join(METRICS)} (default: waiting)",
    )
    parser.add_argument(
        "--group",
        default="all",
        help="output group, e.g. a phase, source or payer; the metric's groups are listed "
        "if another is given (default: all)",
    )
    parser.add_argument(
        "--frequency", default="horizon", choices=("month", "quarter", "year", "horizon")
    )
    parser.add_argument("--period", default=None, help="one period, e.g. '2027/28' (default: all)")


# ------------------------------------------------------------------------------- outputs


def output_folder(args: argparse.Namespace, kind: str) -> Path:
    """The folder asked for, or results/<kind>-<date-time>."""
    return args.out or Path("results") / dt.datetime.now().strftime(f"{kind}-%Y%m%d-%H%M%S")


def publish(out: Path, tables: dict, charts: list, force: bool) -> Path:
    """Write tables (CSV) and charts into a new folder ``out``, atomically."""
    from sim.outputs.report import write_tables_and_charts  # plotting is loaded only when needed

    return write_tables_and_charts(out, tables, charts, force)
