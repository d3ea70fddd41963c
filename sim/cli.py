"""Command line: a thin client of the Python API.

    python -m sim run [SCENARIO ...] [--reps N] [--seed S] [--out DIR] [--force]
    python -m sim validate [PATH ...]
    python -m sim schema [--out FILE]

Exit codes: 0 success, 1 failure while running or writing, 2 bad input (scenario files
or arguments).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shlex
import sys
from pathlib import Path

from sim.errors import OutputError, ScenarioError, ScenarioErrors
from sim.results import check_output_folder
from sim.runner import DEFAULT_REPLICATIONS, DEFAULT_SEED, run_experiment
from sim.scenario import load_scenario, scenario_json_schema, unannotated_numbers
from sim.summary_text import format_summary

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="Simulate NHS trusts across the NHS Oversight Framework segments.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
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
    run.add_argument("--force", action="store_true", help="replace an existing results folder")

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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "run":
            return _run(args, argv)
        if args.command == "validate":
            return _validate(args.paths)
        if args.command == "schema":
            return _schema(args.out)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    scenarios = [load_scenario(path) for path in args.scenarios]
    out = args.out or Path("results") / (
        "+".join(s.name for s in scenarios) + dt.datetime.now().strftime("-%Y%m%d-%H%M%S")
    )
    check_output_folder(out, args.force)  # before spending time on the run
    command = "python -m sim " + shlex.join(sys.argv[1:] if argv is None else argv)
    results = run_experiment(scenarios, replications=args.reps, seed=args.seed, command=command)
    folder = results.save(out, force=args.force)
    print(format_summary(results.summary(), args.reps, args.seed))
    print(f"\nResults written to {folder}/")
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
