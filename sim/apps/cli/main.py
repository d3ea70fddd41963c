"""The command line's parser and its error boundary, :func:`main`.

:func:`build_parser` assembles one small parser per command, each defined beside its
handler (:mod:`~sim.apps.cli.runs`, :mod:`~sim.apps.cli.folders`,
:mod:`~sim.apps.cli.fitting`, :mod:`~sim.apps.cli.backtest`, :mod:`~sim.apps.cli.studies`,
:mod:`~sim.apps.cli.scenario_files`). :func:`main` is the one place where an error becomes
a message and an exit code; handlers raise, they never exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys

from sim import __version__
from sim.apps.cli import backtest, fitting, folders, runs, scenario_files, studies
from sim.apps.cli.checks import check_arguments
from sim.apps.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    ArgumentError,
)
from sim.errors import FolderError, OutputError, ScenarioError

log = logging.getLogger("sim.apps.cli")  # the name users have seen in -v output

COMMANDS = (
    runs.add_run,
    folders.add_compare,
    folders.add_report,
    fitting.add_calibrate,
    fitting.add_validation,
    backtest.add_backtest,
    fitting.add_theory,
    studies.add_sensitivity,
    studies.add_plan,
    runs.add_sweep,
    scenario_files.add_validate,
    scenario_files.add_init,
    scenario_files.add_schema,
)
"""Each command's parser, in the order ``--help`` lists them. Each sets ``handler``, a
function of the parsed arguments that returns the exit code."""
STREAMING_COMMANDS = ("run", "sweep")
"""Commands that keep finished chunks when interrupted (and so can be resumed)."""


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m sim`` parser: global options and one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="Simulate NHS trusts across the NHS Oversight Framework segments.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress, and show details of failures"
    )
    parser.add_argument("--version", action="version", version=f"nhs-pip-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


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
    # the command as typed, recorded in a results folder's manifest
    args.invocation = "python -m sim " + shlex.join(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        check_arguments(args)
        code = args.handler(args)
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
        if args.command in STREAMING_COMMANDS:
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
