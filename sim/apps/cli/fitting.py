"""``calibrate``, ``validation`` and ``theory``: the model against published data and
queueing theory.

Handlers parse, call :mod:`sim.analysis.calibration` (or, with ``calibrate --ensemble``,
:mod:`sim.analysis.ensemble`), :mod:`sim.analysis.validation` or
:mod:`sim.analysis.verification`, and print. Checks of the calibration spec itself (its
stages) live in the analysis layer, not here. The layers below (analysis, outputs, results,
scenario) are imported inside the handlers so that ``python -m sim --help`` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.apps.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    IN_FOLDER,
    add_command,
    at_least_two,
    non_negative_int,
    output_folder,
    positive_int,
    progress_options,
    publish,
    publish_options,
    scenario_file,
    scenario_option,
)
from sim.errors import ScenarioError
from sim.experiment.progress import ProgressBar

DEFAULT_SPEC = "calibration/targets.yaml"
DEFAULT_HELD_OUT = "calibration/validation.yaml"
"""Names in the scenario folder (:mod:`sim.locations`), found when the command runs."""

# -------------------------------------------------------------------------- calibrate


def add_calibrate(commands: argparse._SubParsersAction) -> None:
    calibrate = add_command(
        commands, "calibrate", run_calibration, "fit unpublished parameters to published targets"
    )
    calibrate.add_argument(
        "--spec",
        type=scenario_file,
        default=DEFAULT_SPEC,
        help=f"calibration targets and free parameters (default {DEFAULT_SPEC} {IN_FOLDER})",
    )
    scenario_option(
        calibrate,
        "scenario to fit (default: the baseline); the fitted parameters start from the "
        "spec's start values, whatever the scenario holds",
    )
    calibrate.add_argument(
        "--out",
        type=Path,
        default=None,
        help="new folder for fitted.yaml and fit.json, or with --ensemble ensemble.csv and "
        "ensemble.json (default results/calibrate-<date-time>)",
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
        help="also replace fitted.yaml and fit.json beside the spec (by default the scenario "
        "folder's calibration/, which the baseline extends: ./scenarios/calibration/, or "
        "with no ./scenarios/ the installed package's own copy), or with --ensemble "
        "ensemble.csv and ensemble.json; needs every stage, and refused if that folder "
        "cannot be written (nhs-pip-sim init makes an editable copy)",
    )
    calibrate.add_argument(
        "--ensemble",
        action="store_true",
        help="fit an ensemble of plausible parameter sets by approximate Bayesian computation "
        "(ABC-SMC, needs the extra: python -m pip install '.[ensemble]'), not one point",
    )
    calibrate.add_argument(
        "--particles",
        type=particle_count,
        default=None,
        metavar="N",
        help=f"parameter sets in the ensemble, at least {MIN_PARTICLES} (default 200); "
        "with --ensemble",
    )
    progress_options(calibrate)


MIN_PARTICLES = 10
"""Fewest --particles (sim.analysis.ensemble.EnsembleSettings checks the same; not imported,
so that --help stays quick)."""


def particle_count(text: str) -> int:
    value = positive_int(text)
    if value < MIN_PARTICLES:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_PARTICLES}, got {value}")
    return value


def by_stage(bar: ProgressBar):
    """The fits' progress callback (the stage's name and its count so far) on ``bar``: a
    bar per stage, counting evaluations of the objective against the spec's limit (a stage
    that converges early ends short of it), or the ensemble's simulations (no limit known
    in advance)."""
    return lambda stage, done: bar.at(f"stage {stage}", done)


def run_calibration(args: argparse.Namespace) -> int:
    """Fit the spec's stages, write the fit to --out and, if asked, over the shipped one."""
    from sim.analysis import calibration
    from sim.outputs.summary import format_fit
    from sim.results import atomic_folder, check_output_folder
    from sim.scenario import load_scenario

    try:
        spec = calibration.load_spec(args.spec)
    except ScenarioError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a field of the wrong shape
        raise ScenarioError(args.spec, "", f"malformed calibration spec: {exc}") from None
    calibration.check_stages(spec, args.stage, args.spec)
    if args.replace_shipped and args.stage:
        raise ScenarioError("<command line>", "--replace-shipped",
                            "the shipped files hold every stage's fit, so they are replaced only "
                            "by a full calibration; drop --stage")  # fmt: skip
    if args.particles is not None and not args.ensemble:
        raise ScenarioError("<command line>", "--particles", "sets the size of an ensemble; "
                            "add --ensemble")  # fmt: skip
    scenario = load_scenario(args.scenario)
    out = output_folder(args, "calibrate")
    check_output_folder(out, args.force)  # before spending minutes on the fit
    if args.ensemble:
        return _run_ensemble(args, spec, scenario, out)
    try:
        with ProgressBar(spec.max_evaluations, args.progress, unit="evaluation") as bar:
            result = calibration.calibrate(scenario, spec, stages=args.stage,
                                           progress=by_stage(bar))  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    with atomic_folder(out, args.force, "calibration folder") as staging:
        calibration.write_fitted(result, spec, staging)
    print(format_fit(result))
    shipped = args.spec.parent
    if not args.replace_shipped:
        print(f"\nFitted values (fitted.yaml) and quality of fit (fit.json) written to {out}/. "
              f"The shipped calibration in {shipped}/ was not changed; to make the baseline "
              "use this fit, run again with --replace-shipped.")  # fmt: skip
        return 0
    before = calibration.recorded_values(shipped / "fit.json") or {}
    fitted, record = calibration.write_fitted(result, spec, shipped)
    print(f"\nFitted values and quality of fit written to {out}/.\n"
          f"Replaced the shipped calibration: {fitted} (which {args.scenario} and every "
          f"scenario extending it build on) and {record}.")  # fmt: skip
    _print_changes(before, result.fitted_values())
    return 0


def _run_ensemble(args: argparse.Namespace, spec, scenario, out: Path) -> int:
    """Fit the ensemble (ABC-SMC), write it to --out and, if asked, over the shipped one."""
    from sim.analysis import calibration, ensemble
    from sim.outputs.summary import format_ensemble
    from sim.results import atomic_folder

    settings = ensemble.EnsembleSettings(
        **({"particles": args.particles} if args.particles is not None else {})
    )
    try:
        with ProgressBar(0, args.progress, unit=" simulations") as bar:
            result = ensemble.fit_ensemble(scenario, spec, args.stage, settings,
                                           progress=by_stage(bar))  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    shipped = args.spec.parent
    point = calibration.recorded_values(shipped / "fit.json")  # the shipped point fit, if any
    with atomic_folder(out, args.force, "calibration ensemble") as staging:
        ensemble.write_ensemble(result, staging, point)
    print(format_ensemble(ensemble.ensemble_report(result, point)))
    if not args.replace_shipped:
        print(f"\nEnsemble (ensemble.csv) and fit report (ensemble.json) written to {out}/. "
              f"The shipped ensemble in {shipped}/ was not changed; to replace it, run again "
              "with --replace-shipped.")  # fmt: skip
        return 0
    table, report = ensemble.write_ensemble(result, shipped, point)
    print(f"\nEnsemble and fit report written to {out}/.\n"
          f"Replaced the shipped ensemble: {table} and {report}.")  # fmt: skip
    return 0


def _print_changes(before: dict[str, float], after: dict[str, float]) -> None:
    """List the fitted values that a replaced shipped calibration changed."""
    changes = [(name, before.get(name), after.get(name)) for name in {**before, **after}
               if before.get(name) != after.get(name)]  # fmt: skip
    print("Fitted values that changed:" if changes else "The fitted values are unchanged.")
    for name, old, new in changes:
        was = "(new)" if old is None else format(old, ".6g")
        now = "(no longer fitted)" if new is None else format(new, ".6g")
        print(f"  {name:<32} {was:>12} -> {now}")


# ------------------------------------------------------------------ validation, theory


def add_validation(commands: argparse._SubParsersAction) -> None:
    validation = add_command(
        commands, "validation", run_validation, "model against published data, side by side"
    )
    scenario_option(validation, "scenario to compare (default: the baseline)")
    validation.add_argument("--targets", type=scenario_file, default=DEFAULT_SPEC,
                            help=f"calibration spec (default {DEFAULT_SPEC} {IN_FOLDER})")
    validation.add_argument("--held-out", type=scenario_file, default=DEFAULT_HELD_OUT,
                            help=f"published figures held out of the fit (default "
                            f"{DEFAULT_HELD_OUT} {IN_FOLDER})")  # fmt: skip
    validation.add_argument("--reps", type=positive_int, default=100)
    publish_options(validation, "validation", jobs_option=False)
    progress_options(validation)


def run_validation(args: argparse.Namespace) -> int:
    """Model and published data side by side: a table and a chart."""
    from sim.analysis.validation import compare_with_data, load_comparisons
    from sim.outputs.charts.analysis import validation_chart
    from sim.outputs.summary import format_validation
    from sim.results import check_output_folder
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    comparisons = load_comparisons(args.targets, args.held_out)
    out = output_folder(args, "validation")
    check_output_folder(out, args.force)
    table = compare_with_data(scenario, comparisons, replications=args.reps, seed=args.seed,
                              progress=args.progress)  # fmt: skip
    chart = validation_chart(table, scenario.name, args.reps, args.seed)
    folder = publish(out, {"validation.csv": table}, [chart], args.force)
    print(format_validation(table))
    print(f"\nTable and chart written to {folder}/")
    return 0


def add_theory(commands: argparse._SubParsersAction) -> None:
    theory = add_command(
        commands, "theory", run_theory, "check the model against queueing theory (PASS/FAIL)"
    )
    scenario_option(theory, "scenario the checks start from (default: the baseline)")
    theory.add_argument(
        "--reps", type=at_least_two, default=120, help="replications (at least 2, default 120)"
    )
    theory.add_argument("--seed", type=non_negative_int, default=7)
    theory.add_argument("--details", action="store_true", help="explain each check's numbers")
    progress_options(theory)


def run_theory(args: argparse.Namespace) -> int:
    """The queueing-theory checks: exit code 1 if any fails."""
    from sim.analysis.verification import format_checks, run_theory_checks
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    with ProgressBar(0, args.progress, desc="theory") as bar:
        checks = run_theory_checks(scenario, replications=args.reps, seed=args.seed, progress=bar)
    print(format_checks(checks, details=args.details))
    return 0 if all(check.passed for check in checks) else EXIT_FAILURE
