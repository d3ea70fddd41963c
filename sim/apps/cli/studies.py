"""``sensitivity`` and ``plan``: studies that run many scenario variants and publish
tables and charts into a new folder.

Argument errors come back from the analysis layer typed (:class:`sim.errors.ArgumentError`
and :class:`~sim.analysis.sensitivity.OutputChoiceError`, each naming the argument), so
nothing here guesses from a message which argument was wrong. The analysis and outputs are
imported inside the handlers, so that ``python -m sim --help`` stays quick.
"""

from __future__ import annotations

import argparse

from sim.apps.cli.common import (
    EXIT_FAILURE,
    ArgumentError,
    add_command,
    output_folder,
    output_options,
    percentage,
    positive_int,
    progress_options,
    publish,
    publish_options,
    scenario_argument,
    setting,
)
from sim.errors import ScenarioError
from sim.experiment.progress import ProgressBar
from sim.experiment.settings import RunSettings

# ------------------------------------------------------------------------ sensitivity


def add_sensitivity(commands: argparse._SubParsersAction) -> None:
    sensitivity = add_command(
        commands,
        "sensitivity",
        run_sensitivity,
        "which assumptions matter (tornado, Morris, Sobol)",
    )
    scenario_argument(sensitivity)
    output_options(sensitivity)
    sensitivity.add_argument(
        "--method", choices=("oneway", "morris", "sobol", "all"), default="oneway"
    )
    sensitivity.add_argument(
        "--reps", type=positive_int, default=100, help="replications per one-way run (default 100)"
    )
    sensitivity.add_argument(
        "--samples",
        type=positive_int,
        default=16,
        help="Morris trajectories or Sobol base samples (default 16)",
    )
    sensitivity.add_argument(
        "--point-reps",
        type=positive_int,
        default=10,
        help="replications per global sample point (default 10)",
    )
    publish_options(sensitivity, "sensitivity")
    progress_options(sensitivity)


def run_sensitivity(args: argparse.Namespace) -> int:
    """One-way (tornado) and global (Morris, Sobol) sensitivity of one output."""
    import pandas as pd

    from sim.analysis.sensitivity import (
        Output,
        OutputChoiceError,
        global_indices,
        one_way,
        parameters_of,
    )
    from sim.outputs.charts.analysis import global_chart, tornado_chart
    from sim.outputs.summary import format_global, format_one_way
    from sim.results import check_output_folder
    from sim.scenario import load_scenario

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
    out = output_folder(args, "sensitivity")
    check_output_folder(out, args.force)
    tables, charts, texts = {}, [], []
    with ProgressBar(0, args.progress) as bar:  # one bar per method, over all its runs
        if args.method in ("oneway", "all"):
            bar.stage("one-way")
            settings = RunSettings(args.reps, args.seed, args.jobs, progress=bar)
            table = one_way(scenario, output, settings)
            tables["oneway.csv"] = table
            charts.append(tornado_chart(table, output, scenario.name, args.reps, args.seed))
            texts.append(format_one_way(table, output))
        for method in ("morris", "sobol"):
            if args.method in (method, "all"):
                bar.stage(method)
                indices, diagnostics = global_indices(
                    scenario, output, method, args.samples,
                    RunSettings(args.point_reps, args.seed, args.jobs, progress=bar),
                )  # fmt: skip
                tables[f"{method}.csv"] = indices
                tables[f"{method}_noise.csv"] = pd.DataFrame([diagnostics])
                charts.append(global_chart(indices, diagnostics, output, scenario.name, args.seed))
                texts.append(format_global(indices, diagnostics))
    print("\n".join(texts))  # once the bar is gone
    folder = publish(out, tables, charts, args.force)
    print(f"\nTables and charts written to {folder}/")
    return 0


# ------------------------------------------------------------------------------- plan


def add_plan(commands: argparse._SubParsersAction) -> None:
    planner = add_command(commands, "plan", run_plan, "smallest capacity that meets a target")
    scenario_argument(planner)
    planner.add_argument(
        "--lever", required=True, choices=("national_wte", "cap", "consultancy_budget")
    )
    planner.add_argument(
        "--target",
        required=True,
        help="e.g. 'share_waiting_over_13_weeks <= 0.10 in every quarter of 2027/28'",
    )
    planner.add_argument(
        "--min", dest="low", type=setting, required=True, help="smallest setting to try"
    )
    planner.add_argument(
        "--max", dest="high", type=setting, required=True, help="largest setting to try"
    )
    planner.add_argument("--reps", type=positive_int, default=200)
    planner.add_argument(
        "--probability",
        type=percentage,
        default=90.0,
        help="share of replications (%%) that must meet the target for the second answer "
        "(default 90)",
    )
    publish_options(planner, "plan")
    progress_options(planner)


def run_plan(args: argparse.Namespace) -> int:
    """Smallest lever setting that meets the target; exit code 1 if none in the range does."""
    from sim.analysis.planner import format_plan_table, plan
    from sim.outputs.charts.analysis import plan_chart
    from sim.results import check_output_folder
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    out = output_folder(args, "plan")
    check_output_folder(out, args.force)
    try:
        # a bad --target, --lever or range leaves as the planner's ArgumentError, named
        with ProgressBar(0, args.progress, desc="plan") as bar:  # grows as settings are tried
            result = plan(
                scenario, args.lever, args.target, args.low, args.high,
                RunSettings(args.reps, args.seed, args.jobs, progress=bar),
                probability=args.probability / 100,
            )  # fmt: skip
    except ScenarioError as exc:  # a setting the scenario cannot take, e.g. negative WTE
        raise ArgumentError("--min/--max", f"{exc.field}: {exc.reason}") from None
    chart = plan_chart(result, scenario.name)
    tables = {"plan.csv": result.evaluations, "plan_monotonicity.csv": result.breaks}
    folder = publish(out, tables, [chart], args.force)
    print(f"Target: {result.target.text}; {result.replications} replications per setting\n")
    print(format_plan_table(result))
    print()
    print("\n".join(result.findings()))
    print(f"\nTables and chart written to {folder}/")
    return 0 if result.on_average is not None else EXIT_FAILURE
