"""Command line: a thin client of the Python API.

    python -m sim run [SCENARIO ...] [--reps N] [--seed S] [--jobs N|auto] [--out DIR] [--force]
    python -m sim compare RESULTS --baseline NAME [--out FILE]
    python -m sim report RESULTS [--out DIR] [--baseline NAME] [--force] [--no-backtest]
    python -m sim calibrate [--spec FILE] [--scenario FILE] [--out DIR] [--force] [--stage NAME ...]
                            [--replace-shipped] [--progress | --no-progress]
    python -m sim validation [--scenario FILE] [--reps N] [--seed S] [--out DIR] [--force]
    python -m sim theory [--scenario FILE] [--reps N] [--seed S] [--details]
    python -m sim sensitivity [SCENARIO] [--metric M] [--method oneway|morris|sobol|all] [--out DIR]
    python -m sim plan [SCENARIO] --lever L --target "..." --min X --max Y [--probability P]
    python -m sim sweep [SCENARIO] (--grid PATH=V1,V2 ... | --sample N) [--backend dask] [--resume]
    python -m sim validate [PATH ...]
    python -m sim init [DIR]
    python -m sim schema [--out FILE]

A SCENARIO (and a calibration spec) is an existing file, or a name such as ``cap_10`` in
the scenario folder: ``./scenarios/`` if the working folder has one, else the package's
(:mod:`sim.locations`). ``python -m sim`` and ``nhs-pip-sim`` are the same program.

Exit codes: 0 success, 1 failure while running or writing, 2 bad input (scenario files,
results folders to read or arguments), 130 interrupted, 141 output pipe closed.

Where things are (the apps layer: it may import every layer below, and nothing imports it):

* :mod:`~sim.apps.cli.main` -- :func:`main`, the error boundary where every error becomes a
  message and one of these codes, and :func:`build_parser`;
* :mod:`~sim.apps.cli.common` -- argument types, option groups shared by commands, exit codes;
* :mod:`~sim.apps.cli.checks` -- checks made before any work (--out, RESULTS, Dask);
* one module per family of commands, each command with its own parser function and handler:
  :mod:`~sim.apps.cli.runs` (run, sweep), :mod:`~sim.apps.cli.folders` (compare, report),
  :mod:`~sim.apps.cli.fitting` (calibrate, validation, theory), :mod:`~sim.apps.cli.studies`
  (sensitivity, plan), :mod:`~sim.apps.cli.scenario_files` (validate, init, schema).

Handlers parse, call the API and print; they hold no model or statistics logic. Modules
here import only the standard library and light constants at module level, so that
``python -m sim --help`` stays quick: each handler imports the layers it calls (pandas,
scipy, simpy and matplotlib stay out of a parse; ``tests/test_house.py`` checks).
"""

from sim.apps.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    ArgumentError,
)
from sim.apps.cli.main import build_parser, main

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "ArgumentError",
    "build_parser",
    "main",
]
