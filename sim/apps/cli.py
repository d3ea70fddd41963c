"""Command line: a thin client of the Python API.

    python -m sim run [SCENARIO ...] [--reps N] [--seed S] [--jobs N|auto] [--out DIR] [--force]
    python -m sim compare RESULTS --baseline NAME [--out FILE]
    python -m sim report RESULTS [--out DIR] [--baseline NAME] [--force]
    python -m sim calibrate [--spec FILE] [--scenario FILE] [--out DIR] [--force] [--stage NAME ...]
                            [--replace-shipped] [--progress | --no-progress]
    python -m sim validation [--scenario FILE] [--reps N] [--seed S] [--out DIR] [--force]
    python -m sim theory [--scenario FILE] [--reps N] [--seed S] [--details]
    python -m sim sensitivity [SCENARIO] [--metric M] [--method oneway|morris|sobol|all] [--out DIR]
    python -m sim plan [SCENARIO] --lever L --target "..." --min X --max Y [--probability P]
    python -m sim sweep [SCENARIO] (--grid PATH=V1,V2 ... | --sample N) [--backend dask] [--resume]
    python -m sim validate [PATH ...]
    python -m sim schema [--out FILE]

Exit codes: 0 success, 1 failure while running or writing, 2 bad input (scenario files,
results folders to read or arguments), 130 interrupted, 141 output pipe closed. :func:`main`
is the boundary where every error becomes a message and one of these codes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import math
import os
import shlex
import socket
import sys
import tempfile
from pathlib import Path

import pandas as pd

from sim import __version__
from sim.analysis.compare import (
    DEFAULT_PRECISION,
    NO_DIFFERENCE_METRICS,
    identical_outputs,
    paired_differences,
    replication_adequacy,
)
from sim.errors import FolderError, OutputError, ScenarioError, ScenarioErrors
from sim.experiment.runner import (
    DEFAULT_REPLICATIONS,
    DEFAULT_SEED,
    SWEEP_REPLICATIONS,
    run_to_folder,
)
from sim.outputs.summary import (
    format_adequacy,
    format_comparison,
    format_fit,
    format_global,
    format_no_difference,
    format_one_way,
    format_summary,
    format_validation,
)
from sim.results.tables import (
    ADEQUACY_FILE,
    MANIFEST,
    SUMMARY_FILE,
    TABLE_FILE,
    Results,
    atomic_folder,
    check_output_folder,
    load_results,
    write_csv_atomically,
)
from sim.scenario import load_scenario, scenario_json_schema, unannotated_numbers

DEFAULT_SCENARIO = Path("scenarios/baseline.yaml")
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _jobs(text: str) -> int | str:
    return "auto" if text == "auto" else _positive_int(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


MIN_PRECISION = 0.001
"""Smallest --precision accepted: finer targets ask for many millions of replications."""


def _precision(text: str) -> float:
    """--precision: a relative half-width from MIN_PRECISION up to (not including) 1."""
    value = _fraction(text)
    if value < MIN_PRECISION:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_PRECISION} (0.1%), got {text}: finer precision would need "
            "many millions of replications"
        )
    return value


def _at_least_two(text: str) -> int:
    """Replications for checks that need a standard error (two or more)."""
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"must be at least 2 (the checks need a standard error), got {value}"
        )
    return value


def _setting(text: str) -> float:
    """A lever setting for plan: a finite number, 0 or more (in the lever's units)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def _scheduler_address(text: str) -> str:
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


def _percentage(text: str) -> float:
    """A percentage above 0 and at most 100; a fraction such as 0.9 is refused, not guessed."""
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(
            f"give a percentage from 1 to 100 (e.g. 90 for 90%), got {text}"
        )
    return value


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=("serial", "processes", "dask"),
        default=None,
        help="where replications run (default: processes, or serial for --jobs 1)",
    )
    parser.add_argument(
        "--scheduler",
        type=_scheduler_address,
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
        type=_positive_int,
        default=None,
        help="stop after computing this many chunks (continue later with --resume)",
    )


def _publish_options(parser: argparse.ArgumentParser, kind: str, jobs: bool = True) -> None:
    """--seed, --jobs, --out (default results/<kind>-<date-time>) and --force."""
    parser.add_argument("--seed", type=_non_negative_int, default=DEFAULT_SEED)
    if jobs:
        parser.add_argument("--jobs", type=_jobs, default="auto")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output folder (default results/{kind}-<date-time>)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")


def _output_folder(args: argparse.Namespace, kind: str) -> Path:
    """The folder asked for, or results/<kind>-<date-time>."""
    return args.out or Path("results") / dt.datetime.now().strftime(f"{kind}-%Y%m%d-%H%M%S")


def _output_options(parser: argparse.ArgumentParser) -> None:
    from sim.analysis.sensitivity import output_metrics  # the metric names, in the results' order

    parser.add_argument(
        "--metric",
        default="waiting",
        help=f"output metric, one of: {', '.join(output_metrics())} (default: waiting)",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="Simulate NHS trusts across the NHS Oversight Framework segments.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress, and show details of failures"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run scenarios and write a results folder")
    run.add_argument(
        "scenarios",
        nargs="*",
        type=Path,
        default=[DEFAULT_SCENARIO],
        help=f"scenario files (default: {DEFAULT_SCENARIO})",
    )
    run.add_argument(
        "--reps",
        type=_positive_int,
        default=DEFAULT_REPLICATIONS,
        help=f"replications per scenario (default {DEFAULT_REPLICATIONS})",
    )
    run.add_argument(
        "--seed",
        type=_non_negative_int,
        default=DEFAULT_SEED,
        help=f"master random seed (default {DEFAULT_SEED})",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default results/<scenario>-<date-time>)",
    )
    run.add_argument(
        "--jobs",
        type=_jobs,
        default="auto",
        help="worker processes, or 'auto' for one per core (default auto)",
    )
    run.add_argument("--force", action="store_true", help="replace an existing results folder")
    _backend_options(run)
    run.add_argument(
        "--precision",
        type=_precision,
        default=DEFAULT_PRECISION,
        help="target relative half-width of the 95%% interval of the main "
        f"metrics (default {DEFAULT_PRECISION})",
    )
    bar = run.add_mutually_exclusive_group()
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

    compare = commands.add_parser("compare", help="paired differences between scenarios of a run")
    compare.add_argument(
        "results", metavar="RESULTS", type=Path, help="a results folder written by run"
    )
    compare.add_argument(
        "--baseline", required=True, help="name of the scenario to compare against"
    )
    compare.add_argument(
        "--out",
        type=Path,
        default=None,
        help="CSV of every difference (default RESULTS/comparison_vs_BASELINE.csv)",
    )

    report = commands.add_parser("report", help="write the chart pack of a run")
    report.add_argument(
        "results", metavar="RESULTS", type=Path, help="a results folder written by run"
    )
    report.add_argument(
        "--out", type=Path, default=None, help="chart pack folder (default RESULTS/report)"
    )
    report.add_argument(
        "--baseline",
        default=None,
        help="scenario the others are compared with (default: the first)",
    )
    report.add_argument("--force", action="store_true", help="replace an existing chart pack")

    calibrate = commands.add_parser(
        "calibrate", help="fit unpublished parameters to published targets"
    )
    calibrate.add_argument(
        "--spec",
        type=Path,
        default=Path("scenarios/calibration/targets.yaml"),
        help="calibration targets and free parameters",
    )
    calibrate.add_argument(
        "--scenario",
        type=Path,
        default=DEFAULT_SCENARIO,
        help="scenario to fit (default: the baseline); the fitted parameters start from the "
        "spec's start values, whatever the scenario holds",
    )
    calibrate.add_argument(
        "--out",
        type=Path,
        default=None,
        help="new folder for fitted.yaml and fit.json (default results/calibrate-<date-time>)",
    )
    calibrate.add_argument("--force", action="store_true", help="replace an existing --out folder")
    calibrate.add_argument(
        "--stage",
        action="append",
        default=None,
        help="fit only this stage (repeatable; default: all)",
    )
    calibrate.add_argument(
        "--replace-shipped",
        action="store_true",
        help="also replace fitted.yaml and fit.json beside the spec (scenarios/calibration/, "
        "which the baseline extends); needs every stage",
    )
    calibrate_bar = calibrate.add_mutually_exclusive_group()
    calibrate_bar.add_argument(
        "--progress", dest="progress", action="store_true", default=None,
        help="always show a progress bar",
    )  # fmt: skip
    calibrate_bar.add_argument(
        "--no-progress", dest="progress", action="store_false",
        help="never show a progress bar (default: only on a terminal)",
    )  # fmt: skip

    validation = commands.add_parser(
        "validation", help="model against published data, side by side"
    )
    validation.add_argument(
        "--scenario",
        type=Path,
        default=DEFAULT_SCENARIO,
        help="scenario to compare (default: the baseline)",
    )
    validation.add_argument(
        "--targets", type=Path, default=Path("scenarios/calibration/targets.yaml")
    )
    validation.add_argument(
        "--held-out", type=Path, default=Path("scenarios/calibration/validation.yaml")
    )
    validation.add_argument("--reps", type=_positive_int, default=100)
    _publish_options(validation, "validation", jobs=False)

    theory = commands.add_parser(
        "theory", help="check the model against queueing theory (PASS/FAIL)"
    )
    theory.add_argument(
        "--scenario",
        type=Path,
        default=DEFAULT_SCENARIO,
        help="scenario the checks start from (default: the baseline)",
    )
    theory.add_argument(
        "--reps", type=_at_least_two, default=120, help="replications (at least 2, default 120)"
    )
    theory.add_argument("--seed", type=_non_negative_int, default=7)
    theory.add_argument("--details", action="store_true", help="explain each check's numbers")

    sensitivity = commands.add_parser(
        "sensitivity", help="which assumptions matter (tornado, Morris, Sobol)"
    )
    sensitivity.add_argument("scenario", nargs="?", type=Path, default=DEFAULT_SCENARIO)
    _output_options(sensitivity)
    sensitivity.add_argument(
        "--method", choices=("oneway", "morris", "sobol", "all"), default="oneway"
    )
    sensitivity.add_argument(
        "--reps", type=_positive_int, default=100, help="replications per one-way run (default 100)"
    )
    sensitivity.add_argument(
        "--samples",
        type=_positive_int,
        default=16,
        help="Morris trajectories or Sobol base samples (default 16)",
    )
    sensitivity.add_argument(
        "--point-reps",
        type=_positive_int,
        default=10,
        help="replications per global sample point (default 10)",
    )
    _publish_options(sensitivity, "sensitivity")

    planner = commands.add_parser("plan", help="smallest capacity that meets a target")
    planner.add_argument("scenario", nargs="?", type=Path, default=DEFAULT_SCENARIO)
    planner.add_argument(
        "--lever", required=True, choices=("national_wte", "cap", "consultancy_budget")
    )
    planner.add_argument(
        "--target",
        required=True,
        help="e.g. 'share_waiting_over_13_weeks <= 0.10 in every quarter of 2027/28'",
    )
    planner.add_argument(
        "--min", dest="low", type=_setting, required=True, help="smallest setting to try"
    )
    planner.add_argument(
        "--max", dest="high", type=_setting, required=True, help="largest setting to try"
    )
    planner.add_argument("--reps", type=_positive_int, default=200)
    planner.add_argument(
        "--probability",
        type=_percentage,
        default=90.0,
        help="share of replications (%%) that must meet the target for the second answer "
        "(default 90)",
    )
    _publish_options(planner, "plan")

    sweep = commands.add_parser("sweep", help="run a grid or a sample of scenario variants")
    sweep.add_argument("scenario", nargs="?", type=Path, default=DEFAULT_SCENARIO)
    how = sweep.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--grid",
        action="append",
        metavar="PATH=V1,V2,...",
        help="values of one dotted scenario field (repeat to cross several)",
    )
    how.add_argument(
        "--sample",
        type=_positive_int,
        metavar="N",
        help="N points of a Latin hypercube over the scenario's declared ranges",
    )
    sweep.add_argument(
        "--reps",
        type=_positive_int,
        default=SWEEP_REPLICATIONS,
        help=f"replications per variant (default {SWEEP_REPLICATIONS})",
    )
    _publish_options(sweep, "sweep")
    sweep.add_argument("--progress", dest="progress", action="store_true", default=None)
    _backend_options(sweep)

    validate = commands.add_parser("validate", help="check scenario files")
    validate.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[Path("scenarios")],
        help="files or folders of *.yaml (default: scenarios/)",
    )

    schema = commands.add_parser("schema", help="print the scenario JSON Schema (for editors)")
    schema.add_argument("--out", type=Path, default=None, help="write to this file instead")
    return parser


EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell reports for a program whose reader went away."""
log = logging.getLogger(__name__)


class ArgumentError(ValueError):
    """A command-line argument that cannot be used (bad input, exit code 2).

    ``argument`` names it (``--scheduler``, ``RESULTS``) and ``reason`` says why.
    """

    def __init__(self, argument: str, reason: str):
        self.argument = argument
        self.reason = reason
        super().__init__(f"argument {argument}: {reason}")


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code; no exception escapes but SystemExit.

    Exit codes: 0 success; 1 a failure while running or writing; 2 bad input (an argument,
    a scenario or other input file, named with the reason); 130 interrupted (Ctrl-C); 141
    the output pipe was closed (``| head``). Argument syntax errors, ``--help`` and
    ``--version`` leave through argparse's SystemExit (2 or 0). An unexpected failure prints
    one line; ``-v`` adds its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        _check_arguments(args)
        code = _dispatch(args, argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except ArgumentError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ScenarioError, FolderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        if args.command in ("run", "sweep"):
            print(
                "interrupted: no results folder was written; finished chunks are kept, so the "
                "same command with --out FOLDER --resume continues where it stopped",
                file=sys.stderr,
            )
        else:
            print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a failure while running (or a bug), never bad input
        if args.verbose:
            log.error("details of the failure:", exc_info=True)
        hint = "" if args.verbose else " (run with -v for the details)"
        print(f"error: {_describe(exc)}{hint}", file=sys.stderr)
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run the command ``args`` asks for."""
    if args.command == "run":
        return _run(args, argv)
    if args.command == "compare":
        return _compare(args)
    if args.command == "report":
        return _report(args)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "validation":
        return _validation(args)
    if args.command == "theory":
        return _theory(args)
    if args.command == "sensitivity":
        return _sensitivity(args)
    if args.command == "plan":
        return _plan(args)
    if args.command == "sweep":
        return _sweep(args, argv)
    if args.command == "validate":
        return _validate(args.paths)
    if args.command == "schema":
        return _schema(args.out)
    raise AssertionError(f"command {args.command!r} has no handler")


def _describe(exc: BaseException) -> str:
    """One line saying what failed: the message, or the kind of error if it is unexpected."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, (OSError, ImportError, MemoryError)):  # the machine, not the program
        return text or type(exc).__name__
    return f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")


def _quiet_stdout() -> None:
    """After a broken pipe, send what is left of standard output to /dev/null, so the
    interpreter's final flush does not fail again and print a complaint."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # standard output is not a real file (e.g. under pytest)
        pass


def _check_arguments(args: argparse.Namespace) -> None:
    """Checks that involve several arguments or the outside world, made before any work.

    Raises ArgumentError (bad input) naming the argument, or OutputError when an output
    cannot be written where asked.
    """
    backend = getattr(args, "backend", None)
    scheduler = getattr(args, "scheduler", None)
    if scheduler and backend != "dask":
        raise ArgumentError(
            "--scheduler", "is used only with --backend dask; add --backend dask or leave it out"
        )
    if backend == "dask":
        _check_dask(scheduler)
    if args.command in ("compare", "report"):
        _check_results_folder(args.results)
    if args.command == "plan" and not args.low < args.high:
        raise ArgumentError("--min", f"{args.low:g} must be below --max {args.high:g}")
    out = getattr(args, "out", None)
    if out is not None:
        # compare and schema write one file; every other command writes a folder
        _check_out(out, folder=args.command not in ("compare", "schema"))


def _check_dask(scheduler: str | None) -> None:
    """The dask backend is installed and, for a tcp scheduler, something listens there."""
    if importlib.util.find_spec("distributed") is None:
        raise ArgumentError(
            "--backend", "dask needs the dask extra: python -m pip install '.[dask]'"
        )
    if not scheduler:
        return
    scheme, _, rest = scheduler.rpartition("://")
    if scheme not in ("", "tcp"):
        return  # other transports are checked by Dask itself when the run starts
    host, _, port = rest.rpartition(":")
    try:
        # a quick connection now, rather than Dask's 30 s timeout after the run has begun
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ArgumentError(
            "--scheduler", f"no Dask scheduler answers at {scheduler} ({exc.strerror or exc})"
        ) from None


def _check_results_folder(folder: Path) -> None:
    """RESULTS of compare and report is a results folder that run finished writing."""
    if not folder.exists():
        raise ArgumentError("RESULTS", f"{folder}: no such folder")
    if not folder.is_dir():
        raise ArgumentError("RESULTS", f"{folder}: is a file, not a results folder")
    if not (folder / MANIFEST).is_file():
        raise ArgumentError(
            "RESULTS",
            f"{folder}: not a complete results folder (no {MANIFEST}); give a folder written "
            "by python -m sim run",
        )


def _check_out(path: Path, folder: bool) -> None:
    """--out can be written: not a folder that holds other work (the file system's root,
    the working folder or one above it, the home folder), and a file can actually be made
    where it goes (permission bits say nothing of read-only or virtual file systems)."""
    target = path.expanduser().resolve()
    here = Path.cwd().resolve()
    if folder and (target == Path(target.anchor) or target == here or target in here.parents):
        raise FolderError(
            f"--out {path}: is the root of the file system or holds the working folder; "
            "give a new folder for the output"
        )
    if folder and target == Path.home().resolve():
        raise FolderError(f"--out {path}: is the home folder; give a new folder for the output")
    if not folder and path.is_dir():
        raise FolderError(f"--out {path}: is a folder; give the name of a file to write")
    # whether the folder exists (and --force may replace it) each command checks itself
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(
            f"--out {path}: cannot be created because {parent} is a file, not a folder"
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".sim-check-", dir=parent))
    except OSError as exc:
        raise OutputError(
            f"--out {path}: cannot write in {parent}: {exc.strerror or exc}"
        ) from None


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    scenarios = [load_scenario(path) for path in args.scenarios]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ScenarioError(args.scenarios[0], "name", f"scenario names must differ, got {names}")
    joined = "+".join(names)  # within file systems' 255-byte names, with the date-time
    out = _output_folder(args, joined if len(joined) <= 120 else f"{names[0]}+{len(names) - 1}-more")
    check_output_folder(out, args.force, "results folder")  # before spending time on the run
    command = "python -m sim " + shlex.join(sys.argv[1:] if argv is None else argv)

    def adequacy(keys, load):
        tables = [
            replication_adequacy(
                Results({s.name: s}, {s.name: keys[i]}, {s.name: load(i)}), args.precision
            )
            for i, s in enumerate(scenarios)
        ]
        return {ADEQUACY_FILE: pd.concat(tables, ignore_index=True)}

    folder, stats = run_to_folder(
        scenarios, out, replications=args.reps, seed=args.seed, jobs=args.jobs,
        backend=args.backend, scheduler=args.scheduler, resume=args.resume, force=args.force,
        progress=args.progress, command=command, extra_tables=adequacy, max_chunks=args.max_chunks,
    )  # fmt: skip
    if folder is None:
        return _stopped(out, stats)
    start_dates = {s.name: s.start_date for s in scenarios}
    print(format_summary(pd.read_csv(folder / SUMMARY_FILE), args.reps, args.seed, start_dates))
    if len(scenarios) > 1:  # say plainly which outputs a variant leaves exactly as they were
        tidy = pd.read_parquet(
            folder / TABLE_FILE, filters=[("metric", "in", list(NO_DIFFERENCE_METRICS))]
        )  # only the rows compared: a fraction of the table
        print(format_no_difference(identical_outputs(tidy, names[0])))
    print(format_adequacy(pd.read_csv(folder / ADEQUACY_FILE), args.precision))
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    resumed = (
        f"; {stats.reused} of {stats.chunks} chunks reused from an earlier run"
        if stats.reused
        else ""
    )
    print(
        f"\nResults written to {folder}/ ({manifest['run_seconds']:.1f} s, "
        f"{manifest['jobs']} worker(s), {manifest['backend']} backend{resumed})"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
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


def _report(args: argparse.Namespace) -> int:
    from sim.outputs.report import PAGE, write_chart_pack  # plotting is loaded only when needed

    results = load_results(args.results)
    if args.baseline is not None and args.baseline not in results.scenarios:
        raise ArgumentError(
            "--baseline",
            f"{args.results} has no scenario {args.baseline!r}; it holds "
            f"{', '.join(results.scenarios)}",
        )
    out = args.out or args.results / "report"
    folder = write_chart_pack(results, out, baseline=args.baseline, force=args.force)
    charts = len(list((folder / "charts").glob("*.png")))
    print(f"Chart pack with {charts} charts written to {folder}/ (open {folder / PAGE})")
    return 0


class _FitProgress:
    """A tqdm bar per calibration stage on standard error (by default only on a terminal).

    Counts evaluations of the objective against the spec's limit; a stage that converges
    early ends short of it.
    """

    def __init__(self, limit: int, show: bool | None):
        self.limit = limit
        self.show = sys.stderr.isatty() if show is None else show
        self._bar = None
        self._stage = None

    def __enter__(self) -> _FitProgress:
        return self

    def __call__(self, stage: str, evaluations: int) -> None:
        if not self.show:
            return
        if stage != self._stage:
            from tqdm import tqdm

            self.__exit__()
            self._stage = stage
            self._bar = tqdm(total=self.limit, desc=f"stage {stage}", unit="evaluation",
                             file=sys.stderr, leave=False)  # fmt: skip
        self._bar.update(evaluations - self._bar.n)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _calibrate(args: argparse.Namespace) -> int:
    from sim.analysis.calibration import calibrate, load_spec, recorded_values, write_fitted

    try:
        spec = load_spec(args.spec)
    except ScenarioError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a field of the wrong shape
        raise ScenarioError(args.spec, "", f"malformed calibration spec: {exc}") from None
    known = {stage.name for stage in spec.stages}
    unknown = set(args.stage or []) - known
    if unknown:
        raise ScenarioError(
            args.spec, "stages", f"no stage {sorted(unknown)}; have {sorted(known)}"
        )
    if args.replace_shipped and args.stage:
        raise ScenarioError("<command line>", "--replace-shipped",
                            "the shipped files hold every stage's fit, so they are replaced only "
                            "by a full calibration; drop --stage")  # fmt: skip
    scenario = load_scenario(args.scenario)
    out = _output_folder(args, "calibrate")
    check_output_folder(out, args.force)  # before spending minutes on the fit
    try:
        with _FitProgress(spec.max_evaluations, args.progress) as bar:
            result = calibrate(scenario, spec, stages=args.stage, progress=bar)
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    with atomic_folder(out, args.force, "calibration folder") as staging:
        write_fitted(result, spec, staging)
    print(format_fit(result))
    shipped = args.spec.parent
    if not args.replace_shipped:
        print(f"\nFitted values (fitted.yaml) and quality of fit (fit.json) written to {out}/. "
              f"The shipped calibration in {shipped}/ was not changed; to make the baseline "
              "use this fit, run again with --replace-shipped.")  # fmt: skip
        return 0
    before = recorded_values(shipped / "fit.json") or {}
    fitted, record = write_fitted(result, spec, shipped)
    print(f"\nFitted values and quality of fit written to {out}/.\n"
          f"Replaced the shipped calibration: {fitted} (which {args.scenario} and every "
          f"scenario extending it build on) and {record}.")  # fmt: skip
    after = result.fitted_values()
    changes = [(name, before.get(name), after.get(name)) for name in {**before, **after}
               if before.get(name) != after.get(name)]  # fmt: skip
    print("Fitted values that changed:" if changes else "The fitted values are unchanged.")
    for name, old, new in changes:
        was = "(new)" if old is None else format(old, ".6g")
        now = "(no longer fitted)" if new is None else format(new, ".6g")
        print(f"  {name:<32} {was:>12} -> {now}")
    return 0


def _validation(args: argparse.Namespace) -> int:
    from sim.analysis.validation import compare_with_data, load_comparisons, validation_chart

    scenario = load_scenario(args.scenario)
    comparisons = load_comparisons(args.targets, args.held_out)
    out = _output_folder(args, "validation")
    check_output_folder(out, args.force)
    table = compare_with_data(scenario, comparisons, replications=args.reps, seed=args.seed)
    chart = validation_chart(table, scenario.name, args.reps, args.seed)
    folder = _publish(out, {"validation.csv": table}, [chart], args.force)
    print(format_validation(table))
    print(f"\nTable and chart written to {folder}/")
    return 0


def _theory(args: argparse.Namespace) -> int:
    from sim.analysis.verification import format_checks, run_theory_checks

    checks = run_theory_checks(load_scenario(args.scenario), replications=args.reps, seed=args.seed)
    print(format_checks(checks, details=args.details))
    return 0 if all(check.passed for check in checks) else EXIT_FAILURE


def _publish(out: Path, tables: dict, charts: list, force: bool) -> Path:
    from sim.outputs.report import write_tables_and_charts  # plotting is loaded only when needed

    return write_tables_and_charts(out, tables, charts, force)


def _sensitivity(args: argparse.Namespace) -> int:

    import pandas as pd

    from sim.analysis.sensitivity import (
        Output,
        OutputChoiceError,
        global_chart,
        global_indices,
        one_way,
        parameters_of,
        tornado_chart,
    )

    try:
        output = Output(args.metric, args.group, args.frequency, args.period)
        scenario = load_scenario(args.scenario)
        output.check(scenario)  # a bad period is refused before any replication
    except OutputChoiceError as exc:
        raise ArgumentError(f"--{exc.field}", exc.reason) from None
    try:
        parameters_of(scenario)
    except ValueError as exc:  # no assumption declares a range: nothing to study
        raise ScenarioError(args.scenario, "", str(exc)) from None
    out = _output_folder(args, "sensitivity")
    check_output_folder(out, args.force)
    tables, charts = {}, []
    if args.method in ("oneway", "all"):
        table = one_way(scenario, output, args.reps, args.seed, args.jobs)
        tables["oneway.csv"] = table
        charts.append(tornado_chart(table, output, scenario.name, args.reps, args.seed))
        print(format_one_way(table, output))
    for method in ("morris", "sobol"):
        if args.method in (method, "all"):
            indices, diagnostics = global_indices(
                scenario, output, method, args.samples, args.point_reps, args.seed, args.jobs
            )
            tables[f"{method}.csv"] = indices
            tables[f"{method}_noise.csv"] = pd.DataFrame([diagnostics])
            charts.append(global_chart(indices, diagnostics, output, scenario.name, args.seed))
            print(format_global(indices, diagnostics))
    folder = _publish(out, tables, charts, args.force)
    print(f"\nTables and charts written to {folder}/")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from sim.analysis.planner import PlanInputError, format_plan_table, plan, plan_chart

    scenario = load_scenario(args.scenario)
    out = _output_folder(args, "plan")
    check_output_folder(out, args.force)
    try:
        result = plan(
            scenario, args.lever, args.target, args.low, args.high, args.reps, args.seed,
            args.jobs, probability=args.probability / 100,
        )  # fmt: skip
    except PlanInputError as exc:
        raise ArgumentError(exc.argument, str(exc)) from None
    except ScenarioError as exc:  # a setting the scenario cannot take, e.g. negative WTE
        raise ArgumentError("--min/--max", f"{exc.field}: {exc.reason}") from None
    chart = plan_chart(result, scenario.name)
    tables = {"plan.csv": result.evaluations, "plan_monotonicity.csv": result.breaks}
    folder = _publish(out, tables, [chart], args.force)
    print(f"Target: {result.target.text}; {result.replications} replications per setting\n")
    print(format_plan_table(result))
    print()
    print("\n".join(result.findings()))
    print(f"\nTables and chart written to {folder}/")
    return 0 if result.on_average is not None else EXIT_FAILURE


def _stopped(out: Path, stats) -> int:
    print(
        f"Stopped after {stats.computed} chunks as asked ({stats.reused + stats.computed} of "
        f"{stats.chunks} done). Run the same command with --out {out} --resume to continue."
    )
    return 0


def _sweep(args: argparse.Namespace, argv: list[str] | None) -> int:
    from sim.experiment.sweep import SWEEP_FILE, grid_variants, parse_grid, sample_variants

    scenario = load_scenario(args.scenario)
    try:
        if args.grid:
            variants, table = grid_variants(scenario, parse_grid(args.grid))
        else:
            variants, table = sample_variants(scenario, args.sample, args.seed)
    except ValueError as exc:
        raise ScenarioError(
            "<command line>", "--grid" if args.grid else "--sample", str(exc)
        ) from None
    out = _output_folder(args, "sweep")
    check_output_folder(out, args.force, "results folder")
    command = "python -m sim " + shlex.join(sys.argv[1:] if argv is None else argv)
    folder, stats = run_to_folder(
        variants, out, replications=args.reps, seed=args.seed, jobs=args.jobs,
        backend=args.backend, scheduler=args.scheduler, resume=args.resume, force=args.force,
        progress=args.progress, command=command,
        extra_tables=lambda keys, load: {SWEEP_FILE: table}, max_chunks=args.max_chunks,
    )  # fmt: skip
    if folder is None:
        return _stopped(out, stats)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    print(
        f"Sweep of {len(variants)} scenarios x {args.reps} replications written to {folder}/ "
        f"({manifest['run_seconds']:.1f} s, {manifest['backend']} backend; {stats.computed} chunks "
        f"computed, {stats.reused} reused). The values behind each scenario are in {SWEEP_FILE}."
    )
    return 0


def _validate(paths: list[Path]) -> int:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
            if not found:
                print(f"error: {path}: no *.yaml scenario files", file=sys.stderr)
                return EXIT_BAD_INPUT
            files += found
        else:
            files.append(path)
    failed = 0
    for file in files:
        try:
            scenario = load_scenario(file)
        except ScenarioErrors as exc:
            failed += 1
            for error in exc.errors:
                print(f"FAIL {error}", file=sys.stderr)
            continue
        except ScenarioError as exc:
            failed += 1
            print(f"FAIL {exc}", file=sys.stderr)
            continue
        bare = unannotated_numbers(scenario)
        print(f"ok   {file} ({scenario.name})")
        for path in bare:
            print(f"     warning: {path} has no source or assumption note")
    print(f"{len(files) - failed} of {len(files)} scenario files valid")
    return EXIT_BAD_INPUT if failed else 0


def _schema(out: Path | None) -> int:
    text = json.dumps(scenario_json_schema(), indent=2)
    if out is None:
        print(text)
        return 0
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write schema: {exc.strerror or exc}") from exc
    print(f"JSON Schema written to {out}")
    return 0
