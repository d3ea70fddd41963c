"""``run`` and ``sweep``: commands that run replications into a new results folder.

Both stream chunks to disk through :func:`sim.experiment.runner.run_to_folder`, so both
take the backend options and can stop early (``--max-chunks``) and resume. This module
parses, calls the API and prints; it computes no statistics itself. The API is imported
inside the handlers, so that ``python -m sim --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sim.apps.cli.common import (
    DEFAULT_SCENARIO,
    IN_FOLDER,
    add_command,
    backend_options,
    jobs,
    non_negative_int,
    output_folder,
    paths_argument,
    positive_int,
    precision,
    progress_options,
    publish_options,
    scenario_argument,
    scenario_file,
)
from sim.errors import ScenarioError
from sim.experiment.settings import (
    DEFAULT_REPLICATIONS,
    DEFAULT_SEED,
    FORECAST_UNCERTAINTY,
    SWEEP_REPLICATIONS,
    UNCERTAINTY_MODES,
)
from sim.locations import find_scenario
from sim.results.defaults import DEFAULT_PRECISION
from sim.results.manifest import MANIFEST

# -------------------------------------------------------------------------------- run


def add_run(commands: argparse._SubParsersAction) -> None:
    run = add_command(commands, "run", run_scenarios, "run scenarios and write a results folder")
    paths_argument(run, "scenarios", "scenario files, or names such as cap_10 (default "
                   f"{DEFAULT_SCENARIO} {IN_FOLDER})", type=scenario_file)  # fmt: skip
    run.add_argument(
        "--reps",
        type=positive_int,
        default=DEFAULT_REPLICATIONS,
        help=f"replications per scenario (default {DEFAULT_REPLICATIONS})",
    )
    run.add_argument(
        "--seed",
        type=non_negative_int,
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
        type=jobs,
        default="auto",
        help="worker processes, or 'auto' for one per core (default auto)",
    )
    run.add_argument("--force", action="store_true", help="replace an existing results folder")
    backend_options(run)
    run.add_argument(
        "--precision",
        type=precision,
        default=DEFAULT_PRECISION,
        help="target relative half-width of the 95%% interval of the main "
        f"metrics (default {DEFAULT_PRECISION})",
    )
    uncertainty_option(run)
    progress_options(run)


def uncertainty_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uncertainty",
        choices=UNCERTAINTY_MODES,
        default=FORECAST_UNCERTAINTY,
        help="parameters: each replication draws every number whose note declares a range, "
        "so the spread covers the assumptions as well as run-to-run noise; noise: the "
        f"scenario's values in every replication (default {FORECAST_UNCERTAINTY})",
    )


def run_scenarios(args: argparse.Namespace) -> int:
    """Run the scenarios into a results folder and print their summary."""
    # only what the run needs before it starts its workers: pandas and the printing come after
    from sim.experiment.runner import run_to_folder
    from sim.results import ADEQUACY_FILE, SUMMARY_FILE, TABLE_FILE, check_output_folder
    from sim.scenario import load_scenario

    files = args.scenarios or [find_scenario(DEFAULT_SCENARIO)]  # found from where it runs
    scenarios = [load_scenario(path) for path in files]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ScenarioError(files[0], "name", f"scenario names must differ, got {names}")
    joined = "+".join(names)  # within file systems' 255-byte names, with the date-time
    out = output_folder(args, joined if len(joined) <= 120 else f"{names[0]}+{len(names) - 1}-more")
    check_output_folder(out, args.force, "results folder")  # before spending time on the run
    # the folder, adequacy.csv included, is the API's: the same as Results.save writes
    folder, stats = run_to_folder(
        scenarios, out, replications=args.reps, seed=args.seed, jobs=args.jobs,
        backend=args.backend, scheduler=args.scheduler, resume=args.resume, force=args.force,
        progress=args.progress, command=args.invocation, max_chunks=args.max_chunks,
        precision=args.precision, uncertainty=args.uncertainty,
    )  # fmt: skip
    if folder is None:
        return stopped(out, stats)
    import pandas as pd

    from sim.analysis.compare import NO_DIFFERENCE_METRICS, identical_outputs
    from sim.outputs.summary import format_adequacy, format_no_difference, format_summary

    start_dates = {s.name: s.start_date for s in scenarios}
    regimes = {s.name: s.regimes() for s in scenarios}
    summary = pd.read_csv(folder / SUMMARY_FILE)
    prices = {s.name: s.price_basis() for s in scenarios}
    print(format_summary(summary, args.reps, args.seed, start_dates, regimes, prices))
    if len(scenarios) > 1:  # say plainly which outputs a variant leaves exactly as they were
        from sim.results.stored import read_rows

        # only the rows compared (a fraction of the table), read a batch at a time
        tidy = read_rows(folder / TABLE_FILE, NO_DIFFERENCE_METRICS)
        print(format_no_difference(identical_outputs(tidy, names[0])))
    if args.uncertainty == "parameters":
        from sim.experiment.runner import VARIANCE_FILE
        from sim.outputs.summary import format_variance_split

        print(format_variance_split(pd.read_csv(folder / VARIANCE_FILE)))
        print(_workforce_lines(folder, scenarios, args.seed, args.reps))
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


def _workforce_lines(folder: Path, scenarios, seed: int, replications: int) -> str:
    """The workforce question per scenario of the results ``folder`` just written: how often
    the national team is short, by how much, and when (scenario discovery over the drawn
    assumptions)."""
    import numpy as np

    from sim.analysis.workforce import WORKFORCE_ROWS, answer_from_values, draws_anything
    from sim.results import SUMMARY_FILE, TABLE_FILE
    from sim.results.stored import table_as_written

    # two values per replication: read just those, where the folder's own layout puts them
    stored = table_as_written(folder / TABLE_FILE, folder / SUMMARY_FILE, replications)
    lines = ["\nThe workforce question, across plausible futures:"]
    for scenario in scenarios:
        answer = None
        if draws_anything(scenario, seed, replications):
            keys, values = stored.matrices[scenario.name]
            rows = [np.flatnonzero(keys.select(metric, "horizon", group))[0]
                    for metric, group in WORKFORCE_ROWS]  # fmt: skip
            short, hours = values[:, rows].T
            answer = answer_from_values(scenario, seed, replications, short, hours)
        lines.append(
            f"  {scenario.name}: {answer.sentence()} Mean national shortfall over the "
            f"forecast: {answer.mean_shortfall_hours:,.0f} hours."
            if answer else f"  {scenario.name}: declares no ranges, so every replication "
            "used the same assumptions; nothing to explain a shortfall by."
        )  # fmt: skip
    return "\n".join(lines)


def stopped(out: Path, stats) -> int:
    """What to say when ``--max-chunks`` stopped a run before its folder was assembled."""
    print(
        f"Stopped after {stats.computed} chunks as asked ({stats.reused + stats.computed} of "
        f"{stats.chunks} done). Run the same command with --out {out} --resume to continue."
    )
    return 0


# ------------------------------------------------------------------------------ sweep


def add_sweep(commands: argparse._SubParsersAction) -> None:
    sweep = add_command(commands, "sweep", run_sweep, "run a grid or a sample of scenario variants")
    scenario_argument(sweep)
    how = sweep.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--grid",
        action="append",
        metavar="PATH=V1,V2,...",
        help="values of one dotted scenario field (repeat to cross several)",
    )
    how.add_argument(
        "--sample",
        type=positive_int,
        metavar="N",
        help="N points of a Latin hypercube over the scenario's declared ranges",
    )
    sweep.add_argument(
        "--reps",
        type=positive_int,
        default=SWEEP_REPLICATIONS,
        help=f"replications per variant (default {SWEEP_REPLICATIONS})",
    )
    publish_options(sweep, "sweep")
    progress_options(sweep)
    backend_options(sweep)
    uncertainty_option(sweep)


def run_sweep(args: argparse.Namespace) -> int:
    """Run every variant of a grid or sample into one results folder."""
    from sim.experiment.runner import run_to_folder
    from sim.experiment.sweep import SWEEP_FILE, grid_variants, parse_grid, sample_variants
    from sim.results import check_output_folder
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    try:
        if args.grid:
            variants, table = grid_variants(scenario, parse_grid(args.grid))
        else:
            variants, table = sample_variants(scenario, args.sample, args.seed)
    except ValueError as exc:  # --grid and --sample exclude each other: the one given
        raise ScenarioError(
            "<command line>", "--grid" if args.grid else "--sample", str(exc)
        ) from None
    out = output_folder(args, "sweep")
    check_output_folder(out, args.force, "results folder")
    folder, stats = run_to_folder(
        variants, out, replications=args.reps, seed=args.seed, jobs=args.jobs,
        backend=args.backend, scheduler=args.scheduler, resume=args.resume, force=args.force,
        progress=args.progress, command=args.invocation,
        extra_tables=lambda keys, load: {SWEEP_FILE: table}, max_chunks=args.max_chunks,
        uncertainty=args.uncertainty,
    )  # fmt: skip
    if folder is None:
        return stopped(out, stats)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    print(
        f"Sweep of {len(variants)} scenarios x {args.reps} replications written to {folder}/ "
        f"({manifest['run_seconds']:.1f} s, {manifest['backend']} backend; {stats.computed} chunks "
        f"computed, {stats.reused} reused). The values behind each scenario are in {SWEEP_FILE}."
    )
    return 0
