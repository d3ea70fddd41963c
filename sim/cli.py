"""Command line: a thin client of the Python API.

    python -m sim run [SCENARIO ...] [--reps N] [--seed S] [--jobs N|auto] [--out DIR] [--force]
    python -m sim compare RESULTS --baseline NAME [--out FILE]
    python -m sim report RESULTS [--out DIR] [--baseline NAME] [--force]
    python -m sim calibrate [--spec FILE] [--scenario FILE] [--out DIR] [--stage NAME ...]
    python -m sim validation [--scenario FILE] [--reps N] [--seed S] [--out DIR] [--force]
    python -m sim theory [--scenario FILE] [--reps N] [--seed S] [--details]
    python -m sim sensitivity [SCENARIO] [--metric M] [--method oneway|morris|sobol|all] [--out DIR]
    python -m sim plan [SCENARIO] --lever L --target "..." --min X --max Y [--out DIR]
    python -m sim sweep [SCENARIO] (--grid PATH=V1,V2 ... | --sample N) [--backend dask] [--resume]
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

import pandas as pd

from sim.compare import DEFAULT_PRECISION, paired_differences, replication_adequacy
from sim.errors import OutputError, ScenarioError, ScenarioErrors
from sim.results import (
    ADEQUACY_FILE,
    MANIFEST,
    SUMMARY_FILE,
    Results,
    check_output_folder,
    load_results,
    write_csv_atomically,
)
from sim.runner import DEFAULT_REPLICATIONS, DEFAULT_SEED, SWEEP_REPLICATIONS, run_to_folder
from sim.scenario import load_scenario, scenario_json_schema, unannotated_numbers
from sim.summary_text import (
    format_adequacy,
    format_comparison,
    format_fit,
    format_global,
    format_one_way,
    format_summary,
    format_validation,
)

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


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=("serial", "processes", "dask"),
        default=None,
        help="where replications run (default: processes, or serial for --jobs 1)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster)",
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
    parser.add_argument("--metric", default="waiting", help="output metric (default: waiting)")
    parser.add_argument("--group", default="all", help="output group (default: all)")
    parser.add_argument(
        "--frequency", default="horizon", choices=("month", "quarter", "year", "horizon")
    )
    parser.add_argument("--period", default=None, help="one period, e.g. '2027/28' (default: all)")


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
        type=_fraction,
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
    compare.add_argument("results", type=Path, help="a results folder written by run")
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
    report.add_argument("results", type=Path, help="a results folder written by run")
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
        help="scenario to start from (default: the baseline)",
    )
    calibrate.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for fitted.yaml and fit.json (default: the spec's folder)",
    )
    calibrate.add_argument(
        "--stage",
        action="append",
        default=None,
        help="fit only this stage (repeatable; default: all)",
    )

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
    theory.add_argument("--reps", type=_positive_int, default=120)
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
        "--min", dest="low", type=float, required=True, help="smallest setting to try"
    )
    planner.add_argument(
        "--max", dest="high", type=float, required=True, help="largest setting to try"
    )
    planner.add_argument("--reps", type=_positive_int, default=200)
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
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
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(
            "interrupted: no results folder was written; finished chunks are kept, so the same "
            "command with --out FOLDER --resume continues where it stopped",
            file=sys.stderr,
        )
        return 130
    return EXIT_FAILURE


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    scenarios = [load_scenario(path) for path in args.scenarios]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ScenarioError(args.scenarios[0], "name", f"scenario names must differ, got {names}")
    out = _output_folder(args, "+".join(names))
    check_output_folder(out, args.force)  # before spending time on the run
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
        raise OutputError(
            f"{args.results}: no scenario {args.baseline!r}; it holds {', '.join(results.values)}"
        )
    if len(results.values) < 2:
        raise OutputError(f"{args.results}: holds one scenario; nothing to compare")
    table = paired_differences(results, args.baseline)
    out = args.out or args.results / f"comparison_vs_{args.baseline}.csv"
    write_csv_atomically(table, out)
    print(format_comparison(table, results.replications))
    print(f"\nEvery paired difference written to {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sim.report import PAGE, write_chart_pack  # plotting is loaded only when needed

    results = load_results(args.results)
    out = args.out or args.results / "report"
    folder = write_chart_pack(results, out, baseline=args.baseline, force=args.force)
    charts = len(list((folder / "charts").glob("*.png")))
    print(f"Chart pack with {charts} charts written to {folder}/ (open {folder / PAGE})")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from sim.calibration import calibrate, load_spec, write_fitted

    spec = load_spec(args.spec)
    known = {stage.name for stage in spec.stages}
    unknown = set(args.stage or []) - known
    if unknown:
        raise ScenarioError(
            args.spec, "stages", f"no stage {sorted(unknown)}; have {sorted(known)}"
        )
    scenario = load_scenario(args.scenario)
    result = calibrate(scenario, spec, stages=args.stage)
    fitted, record = write_fitted(result, spec, args.out or args.spec.parent)
    print(format_fit(result))
    print(f"\nFitted values written to {fitted}; targets and quality of fit to {record}")
    return 0


def _validation(args: argparse.Namespace) -> int:
    from sim.validation import compare_with_data, load_comparisons, validation_chart

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
    from sim.theory import format_checks, run_theory_checks

    checks = run_theory_checks(load_scenario(args.scenario), replications=args.reps, seed=args.seed)
    print(format_checks(checks, details=args.details))
    return 0 if all(check.passed for check in checks) else EXIT_FAILURE


def _publish(out: Path, tables: dict, charts: list, force: bool) -> Path:
    from sim.report import write_tables_and_charts  # plotting is loaded only when needed

    return write_tables_and_charts(out, tables, charts, force)


def _sensitivity(args: argparse.Namespace) -> int:

    import pandas as pd

    from sim.sensitivity import Output, global_indices, one_way, tornado_chart

    scenario = load_scenario(args.scenario)
    output = Output(args.metric, args.group, args.frequency, args.period)
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
            print(format_global(indices, diagnostics))
    folder = _publish(out, tables, charts, args.force)
    print(f"\nTables and charts written to {folder}/")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from sim.planner import plan, plan_chart

    scenario = load_scenario(args.scenario)
    out = _output_folder(args, "plan")
    check_output_folder(out, args.force)
    try:
        result = plan(
            scenario, args.lever, args.target, args.low, args.high, args.reps, args.seed, args.jobs
        )
    except ValueError as exc:
        raise ScenarioError(
            "<command line>", "--target" if "target" in str(exc) else "--lever", str(exc)
        ) from None
    chart = plan_chart(result, scenario.name)
    folder = _publish(out, {"plan.csv": result.evaluations}, [chart], args.force)
    print(chart.title)
    print(result.evaluations.to_string(index=False))
    print(f"\nTable and chart written to {folder}/")
    return 0 if result.on_average is not None else EXIT_FAILURE


def _stopped(out: Path, stats) -> int:
    print(
        f"Stopped after {stats.computed} chunks as asked ({stats.reused + stats.computed} of "
        f"{stats.chunks} done). Run the same command with --out {out} --resume to continue."
    )
    return 0


def _sweep(args: argparse.Namespace, argv: list[str] | None) -> int:
    from sim.sweep import SWEEP_FILE, grid_variants, parse_grid, sample_variants

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
    check_output_folder(out, args.force)
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
