"""``validate``, ``init`` and ``schema``: commands about scenario files themselves (no
simulation).

``validate`` lists every problem of every file and exits 2 if any file is invalid; ``init``
writes an editable copy of the package's scenario folder, never over an existing file;
``schema`` prints or writes the JSON Schema that editors use to check scenario files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.apps.cli.common import EXIT_BAD_INPUT, IN_FOLDER, add_command, paths_argument
from sim.errors import OutputError, ScenarioError, ScenarioErrors
from sim.locations import (
    LOCAL_FOLDER,
    copy_scenarios,
    describe_folder,
    find_scenario,
    scenario_folder,
)


def add_validate(commands: argparse._SubParsersAction) -> None:
    validate = add_command(commands, "validate", validate_files, "check scenario files")
    paths_argument(
        validate, "paths", "files, names such as cap_10, or folders of *.yaml (default: the "
        f"*.yaml {IN_FOLDER})",
    )  # fmt: skip


def validate_files(args: argparse.Namespace) -> int:
    """Load each file (or each *.yaml in a folder) and report it valid or each problem."""
    from sim.scenario import load_scenario, unannotated_numbers  # pydantic: not for --help

    paths = args.paths or [scenario_folder()]
    if not args.paths:
        print(f"Scenario folder: {describe_folder(paths[0])}")
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
            file = find_scenario(file)  # a name such as cap_10: the file it means
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


def add_init(commands: argparse._SubParsersAction) -> None:
    init = add_command(
        commands, "init", copy_scenario_folder,
        "write an editable copy of the package's scenarios to DIR/scenarios/",
    )  # fmt: skip
    init.add_argument(
        "folder", metavar="DIR", nargs="?", type=Path, default=Path("."),
        help="folder to copy into, made if need be; commands run from it use its scenarios/ "
        "instead of the package's (default: the working folder)",
    )  # fmt: skip


def copy_scenario_folder(args: argparse.Namespace) -> int:
    """Copy the package's scenarios, with calibration/ and history/, to DIR/scenarios/;
    exit 2 naming the first file that exists (nothing is written then)."""
    target, files = copy_scenarios(args.folder)
    subfolders = sorted({f"{file.parts[0]}/" for file in files if len(file.parts) > 1})
    print(f"Wrote {len(files)} files to {target}/: the scenarios, with "
          f"{' and '.join(subfolders) or 'no subfolders'}.")  # fmt: skip
    here = args.folder.resolve() == Path.cwd().resolve()
    go = "" if here else f"cd {args.folder}, "
    print(f"Commands run from {'here' if here else args.folder} use them instead of the "
          f"package's: {go}edit {LOCAL_FOLDER / 'baseline.yaml'} or add a variant that extends "
          "it, then nhs-pip-sim validate && nhs-pip-sim run")  # fmt: skip
    return 0


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
