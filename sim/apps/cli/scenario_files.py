"""``validate`` and ``schema``: commands about scenario files themselves (no simulation).

``validate`` lists every problem of every file and exits 2 if any file is invalid;
``schema`` prints or writes the JSON Schema that editors use to check scenario files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.apps.cli.common import EXIT_BAD_INPUT, add_command, paths_argument
from sim.errors import OutputError, ScenarioError, ScenarioErrors


def add_validate(commands: argparse._SubParsersAction) -> None:
    validate = add_command(commands, "validate", validate_files, "check scenario files")
    paths_argument(
        validate, "paths", Path("scenarios"), "files or folders of *.yaml (default: scenarios/)"
    )


def validate_files(args: argparse.Namespace) -> int:
    """Load each file (or each *.yaml in a folder) and report it valid or each problem."""
    from sim.scenario import load_scenario, unannotated_numbers  # pydantic: not for --help

    files: list[Path] = []
    for path in args.paths:
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


def add_schema(commands: argparse._SubParsersAction) -> None:
    schema = add_command(
        commands, "schema", write_schema, "print the scenario JSON Schema (for editors)"
    )
    schema.add_argument("--out", type=Path, default=None, help="write to this file instead")


def write_schema(args: argparse.Namespace) -> int:
    """Print the scenario JSON Schema, or write it to --out."""
    from sim.scenario import scenario_json_schema  # pydantic: not for --help

    text = json.dumps(scenario_json_schema(), indent=2)
    if args.out is None:
        print(text)
        return 0
    try:
        args.out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{args.out}: cannot write schema: {exc.strerror or exc}") from exc
    print(f"JSON Schema written to {args.out}")
    return 0
