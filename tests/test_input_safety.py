"""Input that used to pass validation and then crash, hang, loop or eat the machine (issue 13).

Each case is refused before any work is done, with an error naming the file (or the
what-if edit, or the run setting), the field and the reason; the command line exits 2
and prints no traceback. Accepted values at the edges of the bounds run to finite outputs.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sim.apps.cli import main
from sim.errors import ScenarioError, ScenarioErrors
from sim.experiment.layout import build_layout, reduce_replication
from sim.experiment.limits import MAX_VARIANTS, check_run, check_variants, run_memory
from sim.experiment.runner import STREAM_CHUNK_VALUES, STREAM_CHUNKS, stream_chunks
from sim.experiment.sweep import parse_grid
from sim.model import compile_scenario, run_replication
from sim.scenario import load_scenario, scenario_json_schema, with_changes
from sim.scenario.edits import parse_value
from sim.scenario.error_messages import MAX_REPORTED_ERRORS
from sim.scenario.paths import parse_path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
WHAT_IF = "<what-if edit>"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A copy of the baseline (and the fitted file it extends) in tmp_path."""
    shutil.copy(SCENARIOS / "baseline.yaml", tmp_path / "baseline.yaml")
    shutil.copytree(SCENARIOS / "calibration", tmp_path / "calibration")
    return tmp_path / "baseline.yaml"


def variant(folder: Path, name: str, body: str, parent: str = "baseline.yaml") -> Path:
    path = folder / name
    path.write_text(f"extends: {parent}\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def errors_of(call) -> list[ScenarioError]:
    with pytest.raises(ScenarioError) as info:
        call()
    exc = info.value
    return list(exc.errors) if isinstance(exc, ScenarioErrors) else [exc]


def file_errors(path: Path) -> list[tuple[str, str, str]]:
    """(file name, field, reason) of every problem loading ``path``."""
    return [(Path(e.file).name, e.field, e.reason) for e in errors_of(lambda: load_scenario(path))]


def edit_errors(scenario, changes) -> list[tuple[str, str, str]]:
    return [(e.file, e.field, e.reason) for e in errors_of(lambda: with_changes(scenario, changes))]


def short(scenario, **changes):
    """A one-year version of ``scenario`` (quick to run), with ``changes``."""
    return with_changes(scenario, {"horizon_years": 1, **changes})


def outputs(scenario) -> tuple[np.ndarray, np.ndarray]:
    """One replication's reduced outputs and their metric names."""
    inputs = compile_scenario(scenario)
    layout = build_layout(inputs)
    return reduce_replication(run_replication(inputs, 7, 0), layout), layout.metric


# ----------------------------------------------------------------- 3. NaN and infinity

NON_FINITE_FIELDS = [
    ("population.tables.acute.score.trend_per_year", ".nan"),
    ("population.tables.acute.score.mean", ".nan"),
    ("team.consultancy.day_rate", ".inf"),
    ("team.nhs_family.hours_per_week", ".inf"),
    ("programme.exit_score_gain", "-.inf"),
    ("population.tables.acute.deficit.score_gradient", "-.inf"),
    ("programme.phases.diagnostic.duration.mean_weeks", ".nan"),
]


def _nested(dotted: str, value: str) -> str:
    parts = dotted.split(".")
    lines = [f"{'  ' * i}{part}:" for i, part in enumerate(parts[:-1])]
    lines.append(f"{'  ' * (len(parts) - 1)}{parts[-1]}: {value}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("field", "value"), NON_FINITE_FIELDS)
def test_nan_and_infinity_in_a_file_are_refused(tmp_path, base, field, value):
    bad = variant(tmp_path, "nonfinite.yaml", _nested(field, value))
    found = file_errors(bad)
    assert [(f, p) for f, p, _ in found] == [("nonfinite.yaml", field)], found
    assert "finite number" in found[0][2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("horizon_years: {value: .nan, assumption: x}\n", "horizon_years"),
        (
            "programme:\n  exit_score_gain: {value: 0.4, range: [0.1, .inf], assumption: x}\n",
            "programme.exit_score_gain",
        ),
    ],
    ids=["annotated-value", "range"],
)
def test_nan_in_an_annotated_value_or_a_range_is_refused(tmp_path, base, body, field):
    found = file_errors(variant(tmp_path, "annotated.yaml", body))
    assert [(f, p) for f, p, _ in found] == [("annotated.yaml", field)], found
    assert "finite number" in found[0][2]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_in_what_if_edits_are_refused(baseline, value):
    found = edit_errors(baseline, {"population.tables.acute.score.trend_per_year": value})
    assert found == [
        (WHAT_IF, "population.tables.acute.score.trend_per_year", found[0][2])
    ] and "finite" in found[0][2]


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "Infinity"])
def test_nan_and_infinity_on_the_grid_are_refused(text):
    with pytest.raises(ValueError, match="not a finite number"):
        parse_grid([f"population.tables.acute.score.trend_per_year=0,{text}"])


def test_json_schema_refuses_nan_and_infinity_bare_and_annotated():
    jsonschema = pytest.importorskip("jsonschema")
    schema = scenario_json_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)

    def problems(field: str, value) -> list[str]:
        return [e.message for e in validator.iter_errors({field: value})]

    assert problems("horizon_years", 5) == []
    assert problems("horizon_years", {"value": 5, "assumption": "x"}) == []
    for bad in (math.nan, math.inf, -math.inf):
        assert problems("horizon_years", bad), bad
        assert problems("horizon_years", {"value": bad, "assumption": "x"}), bad
    # unbounded numbers (a gradient) still refuse infinity
    table = {"population": {"tables": {"acute": {"deficit": {"score_gradient": math.inf}}}}}
    assert list(validator.iter_errors(table))


# ------------------------------------------------------- 7. values cut down silently


def test_more_trusts_in_the_programme_than_the_table_has(tmp_path, base):
    bad = variant(
        tmp_path,
        "many.yaml",
        """\
        programme:
          initial:
            in_programme:
              - {league_table: ambulance, trusts: 500, phase: improvement,
                 weeks_in_phase: 1, weeks_in_programme: 2}
        """,
    )
    [(file, field, reason)] = file_errors(bad)
    assert (file, field) == ("many.yaml", "programme.initial.in_programme[0].trusts")
    assert "500" in reason and "has 10" in reason


def test_in_programme_and_waiting_together_exceed_the_table(baseline):
    entry = {"league_table": "ambulance", "trusts": 6, "phase": "exit",
             "weeks_in_phase": 1.0, "weeks_in_programme": 2.0}  # fmt: skip
    waiting = {"league_table": "ambulance", "trusts": 5, "weeks_waiting": 3.0}
    found = edit_errors(baseline, {"programme.initial": {"in_programme": [entry], "waiting": [waiting]}})
    assert [(f, p) for f, p, _ in found] == [(WHAT_IF, "programme.initial.waiting[0].trusts")]


def test_segment_counts_larger_than_the_table(tmp_path, base):
    bad = variant(
        tmp_path,
        "counts.yaml",
        "population:\n  tables:\n    ambulance:\n      initial_segment_counts: [3, 2, 2, 30]\n",
    )
    [(file, field, reason)] = file_errors(bad)
    assert (file, field) == ("counts.yaml", "population.tables.ambulance.initial_segment_counts")
    assert "37 trusts" in reason and "has 10" in reason


def test_scheduled_referral_before_the_start(tmp_path, base):
    bad = variant(
        tmp_path,
        "early.yaml",
        """\
        programme:
          referrals:
            mode: schedule
            referrals:
              - {date: 2020-01-01, trusts: 2}
        """,
    )
    [(file, field, reason)] = file_errors(bad)
    assert (file, field) == ("early.yaml", "programme.referrals.referrals[0].date")
    assert "before start_date 2026-04-01" in reason


def test_more_trusts_scheduled_on_one_date_than_exist(baseline):
    schedule = {"mode": "schedule", "referrals": [{"date": "2027-01-01", "trusts": 900}]}
    found = edit_errors(baseline, {"programme.referrals": schedule})
    assert [(f, p) for f, p, _ in found] == [(WHAT_IF, "programme.referrals.referrals[0].trusts")]
    assert "205 trusts" in found[0][2]


# ------------------------------------------------------------ 9. files that eat the machine


def test_devices_pipes_and_alias_bombs_are_refused_quickly(tmp_path, base):
    """Run in a child process with a memory limit and a timeout: before the fix these
    read /dev/zero for ever, blocked on a FIFO, or expanded aliases to gigabytes."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe.yaml")
    variant(tmp_path, "zero.yaml", "", parent="/dev/zero")
    variant(tmp_path, "fifo.yaml", "", parent="pipe.yaml")
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (tmp_path / "bomb.yaml").stat().st_size < 700

    def limit_memory():  # pragma: no cover - runs in the child
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    files = [str(tmp_path / f) for f in ("zero.yaml", "fifo.yaml", "bomb.yaml")]
    done = subprocess.run(
        [sys.executable, "-m", "sim", "validate", *files],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        preexec_fn=limit_memory if sys.platform == "linux" else None,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "/dev/zero: is not a regular file" in done.stderr
    assert "pipe.yaml: is not a regular file" in done.stderr
    assert "bomb.yaml: cannot be read as YAML: expands to more than" in done.stderr


def test_a_large_file_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 200_000, encoding="utf-8")
    [(file, field, reason)] = file_errors(big)
    assert (file, field) == ("big.yaml", "") and "larger than" in reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("a: &a [*a]\n", "refers to itself", id="recursive-alias"),
        pytest.param("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than", id="deep-nesting"),
        pytest.param("? [a, b]\n: 1\n", "a key must be a name", id="unhashable-key"),
        pytest.param("start_date: 2026-02-30\n", "'2026-02-30' is not a valid date", id="feb-30"),
    ],
)
def test_malformed_structures_give_a_clean_error(tmp_path, base, text, reason):
    bad = variant(tmp_path, "odd.yaml", text)
    [(file, field, found)] = file_errors(bad)
    assert file == "odd.yaml" and field == "", found
    assert reason in found


def test_a_long_extends_chain_is_refused(tmp_path, base):
    for i in range(1200):
        parent = f"chain{i + 1}.yaml" if i < 1199 else "baseline.yaml"
        variant(tmp_path, f"chain{i}.yaml", "", parent=parent)
    [(file, field, reason)] = file_errors(tmp_path / "chain0.yaml")
    assert (file, field) == ("chain0.yaml", "extends") and "chain is longer" in reason


def test_a_symbolic_link_loop_is_refused(tmp_path, base):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    child = variant(tmp_path, "child.yaml", "", parent="a.yaml")
    [(file, field, reason)] = file_errors(child)
    assert (file, field) == ("child.yaml", "extends"), reason
    found = file_errors(tmp_path / "a.yaml")
    assert len(found) == 1 and found[0][0] == "a.yaml"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_an_unreadable_parent_is_refused(tmp_path, base):
    locked = variant(tmp_path, "locked.yaml", "horizon_years: 3\n")
    locked.chmod(0)
    child = variant(tmp_path, "child.yaml", "", parent="locked.yaml")
    try:
        [(file, field, reason)] = file_errors(child)
    finally:
        locked.chmod(0o644)
    assert file == "locked.yaml" and "cannot be read" in reason


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("team: {value: {shortfall_policy: wait}, assumption: x}\n", id="top-section"),
        pytest.param(
            "programme:\n  phases:\n    exit: {value: {support_hours_per_week: 1}, assumption: x}\n",
            id="nested-section",
        ),
    ],
)
def test_an_annotated_whole_section_is_refused_naming_the_variant(tmp_path, base, body):
    bad = variant(tmp_path, "section.yaml", body)
    [(file, field, reason)] = file_errors(bad)
    assert file == "section.yaml" and "not a whole section" in reason


def test_thousands_of_unknown_keys_are_reported_in_linear_time(tmp_path, base):
    def timed(n: int) -> tuple[float, list]:
        keys = "".join(f"  key_{i}: 1\n" for i in range(n))
        bad = variant(tmp_path, f"keys{n}.yaml", f"population:\n{keys}")
        clock = time.perf_counter()
        found = file_errors(bad)
        return time.perf_counter() - clock, found

    small, _ = timed(2_000)
    large, found = timed(20_000)
    assert len(found) == MAX_REPORTED_ERRORS + 1
    assert "19,900 more problems" in found[-1][2]
    assert found[0][:2] == ("keys20000.yaml", "population.key_0")
    # linear: ten times the keys takes about ten times as long (quadratic: a hundred)
    assert large < 30 * small + 1.0, (small, large)


# ------------------------------------------------- 10 and 11. bounds a run can live with

CRASHING_VALUES = [
    pytest.param("horizon_years", 1.0e-9, id="horizon-1e-9"),
    pytest.param("start_date", "9999-06-01", id="start-9999"),
    pytest.param("programme.phases.improvement.duration.sigma", 1000.0, id="lognormal-sigma"),
    pytest.param("programme.phases.diagnostic.duration.cv", 1.0e-300, id="gamma-cv"),
    pytest.param(
        "population.tables.acute.catastrophic_failure_rate_per_year", 1.0e9, id="catastrophes"
    ),
    pytest.param("population.tables.acute.initial_segment_counts", [10**30, 0, 0, 0], id="1e30"),
    pytest.param("name", "x" * 300, id="long-name"),
    pytest.param("programme.dose_response.elasticity", 1.0e6, id="elasticity"),
    pytest.param("team.national.productive_hours_per_wte_week", 1.0e300, id="hours"),
]


@pytest.mark.parametrize(("field", "value"), CRASHING_VALUES)
def test_values_a_run_would_trip_over_are_refused(baseline, field, value):
    found = edit_errors(baseline, {field: value})
    assert found and all(f == WHAT_IF for f, _, _ in found)
    assert any(p.startswith(field) for _, p, _ in found), found


def test_poisson_and_schedule_rates_that_allocate_without_bound(baseline):
    poisson = {"mode": "poisson", "rate_per_year": 1.0e9}
    assert edit_errors(baseline, {"programme.referrals": poisson})[0][1] == (
        "programme.referrals.rate_per_year"
    )
    schedule = {"mode": "schedule", "referrals": [{"date": "2027-01-01", "trusts": 10**9}]}
    assert edit_errors(baseline, {"programme.referrals": schedule})[0][1] == (
        "programme.referrals.referrals[0].trusts"
    )


def test_spells_of_no_time_with_relapse_are_refused(baseline):
    zero = {"distribution": "fixed", "weeks": 0.0}
    changes = {f"programme.phases.{p}.duration": zero for p in
               ("diagnostic", "improvement", "exit", "transitional")}  # fmt: skip
    found = edit_errors(baseline, {**changes, "programme.relapse_probability": 1.0})
    assert [p for _, p, _ in found] == ["programme.relapse_probability"]
    assert "without time passing" in found[0][2]
    # without relapse, phases of no time are fine (the queueing checks use them)
    with_changes(baseline, {**changes, "programme.relapse_probability": 0.0})


EDGE_VALUES = {
    "horizon_years": 0.25,
    "programme.phases.improvement.duration.sigma": 3.0,
    "programme.phases.diagnostic.duration.cv": 0.01,
    "programme.phases.exit.duration.cv": 5.0,
    "population.tables.acute.catastrophic_failure_rate_per_year": 4.0,
    "population.tables.acute.score.trend_per_year": 3.0,
    "population.tables.non_acute.deficit.score_gradient": -10.0,
    "programme.dose_response.elasticity": 10.0,
    "team.consultancy.day_rate": 1.0e8,
}


@pytest.mark.parametrize(("field", "value"), EDGE_VALUES.items(), ids=list(EDGE_VALUES))
def test_values_at_the_edge_of_the_bounds_run_to_finite_outputs(baseline, field, value):
    values, metrics = outputs(short(baseline, **{field: value}))
    assert not np.isinf(values).any()
    for metric in ("caseload", "waiting", "cost", "segment_count"):
        chosen = values[metrics == metric]
        assert np.isfinite(chosen).all(), metric


def test_edge_poisson_rate_and_late_start_run(baseline):
    busy = short(baseline, **{"programme.referrals": {"mode": "poisson", "rate_per_year": 1000.0}})
    values, _ = outputs(busy)
    assert not np.isinf(values).any()
    late = with_changes(baseline, {"start_date": "2200-10-01", "horizon_years": 0.5})
    assert late.end_date.year == 2201


# ----------------------------------------------------- run settings: memory and workers


def test_memory_estimate_grows_with_replications_and_outputs():
    one = run_memory([4000], 1000, 2, 32, in_memory=False)
    assert run_memory([4000], 2000, 2, 64, in_memory=False) > one
    assert run_memory([4000, 4000], 1000, 2, 32, in_memory=True) > run_memory(
        [4000], 1000, 2, 32, in_memory=True
    )


def _streamed_chunks(replications: int, width: int) -> int:
    """How many chunks a streamed run of many replications cuts a scenario into: the count
    of ``stream_chunks``, without listing a billion replications' chunks."""
    return max(STREAM_CHUNKS, -(-replications // (STREAM_CHUNK_VALUES // width)))


def test_a_streamed_run_holds_its_chunks_not_its_replications_times_its_rows():
    """A million replications of 4,000 rows are 30 GiB of values; streamed to disk a chunk at
    a time, with statistics a block of columns at a time, the run needs a few GiB."""
    for replications in (1000, 10**5):
        assert _streamed_chunks(replications, 4000) == len(stream_chunks(replications, 4000))
    streamed = run_memory([4000], 10**6, 2, 10**6 // _streamed_chunks(10**6, 4000), False)
    assert streamed < 8 * 2**30 < run_memory([4000], 10**6, 2, 10**6 // 16, True)
    wider = run_memory([40_000], 10**6, 2, 10**6 // _streamed_chunks(10**6, 40_000), False)
    assert wider - streamed < 2**30  # ten times the rows: larger chunks only


def test_a_run_too_large_for_memory_says_what_fits():
    with pytest.raises(ScenarioError) as info:
        check_run([4000], 10**9, 2, _streamed_chunks(10**9, 4000), False, memory=8 * 2**30,
                  cores=2)  # fmt: skip
    error = info.value
    assert (error.file, error.field) == ("<run settings>", "replications")
    fit = int(error.reason.split("at most about ")[1].split()[0].replace(",", ""))
    assert 100_000 < fit < 10_000_000
    # what it says fits
    check_run([4000], fit, 2, _streamed_chunks(fit, 4000), False, memory=8 * 2**30, cores=2)
    with pytest.raises(ScenarioError) as info:  # held in memory, far fewer
        check_run([4000], 10**9, 2, 16, True, memory=8 * 2**30, cores=2)
    fit = int(info.value.reason.split("at most about ")[1].split()[0].replace(",", ""))
    assert 1_000 < fit < 100_000
    check_run([4000], fit, 2, 16, True, memory=8 * 2**30, cores=2)


def test_too_many_workers_are_refused():
    with pytest.raises(ScenarioError, match="2 cores") as info:
        check_run([4000], 10, 999, 32, False, memory=64 * 2**30, cores=2)
    assert info.value.field == "jobs"
    check_run([4000], 10, 4, 32, False, memory=64 * 2**30, cores=2)
    # workers on a remote cluster use its memory, not ours
    check_run([4000], 10, 999, 32, False, local=False, memory=64 * 2**30, cores=2)


def test_cli_refuses_a_billion_replications_before_working(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", str(SCENARIOS / "baseline.yaml"), "--reps", "1000000000",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "replications" in err and "fit" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_refuses_999_workers(tmp_path, capsys):
    code = main(["run", str(SCENARIOS / "baseline.yaml"), "--reps", "2", "--jobs", "999",
                 "--out", str(tmp_path / "out"), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "999 workers" in capsys.readouterr().err


def test_sweep_sample_of_a_million_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="more than 10,000"):
        check_variants(1_000_000)
    check_variants(MAX_VARIANTS)
    code = main(["sweep", str(SCENARIOS / "baseline.yaml"), "--sample", "1000000",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert "--sample" in capsys.readouterr().err


# ---------------------------------------------------- 12. field paths and grid values


@pytest.mark.parametrize(
    "path", ["team.national.wte_schedule[0.wte", "programme..cap", "programme.cap.", "a[x]", ""]
)
def test_malformed_paths_are_refused(baseline, path):
    with pytest.raises(ValueError, match="path"):
        parse_path(path)
    with pytest.raises(ValueError, match="(?i)path"):
        parse_grid([f"{path}=1,2"])
    found = edit_errors(baseline, {path: 1})
    assert len(found) == 1 and found[0][0] == WHAT_IF


def test_edit_below_a_value_is_refused(baseline):
    found = edit_errors(baseline, {"horizon_years.value": 3})
    assert found == [(WHAT_IF, "horizon_years.value", "'horizon_years' is a value, not a section")]


def test_grid_takes_words_dates_and_null(baseline):
    grid = parse_grid(["team.shortfall_policy=wait,dilute", "programme.cap=10,null",
                       "team.national.wte_schedule[1].effective_from=2026-10-01"])  # fmt: skip
    assert grid == {
        "team.shortfall_policy": ["wait", "dilute"],
        "programme.cap": [10, None],
        "team.national.wte_schedule[1].effective_from": ["2026-10-01"],
    }
    assert parse_value("15.0") == 15 and parse_value("0.5") == 0.5
    with pytest.raises(ValueError, match="twice"):
        parse_grid(["programme.cap=1", "programme.cap=2"])


def test_cli_sweep_over_policies(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", str(SCENARIOS / "baseline.yaml"), "--grid",
                 "team.shortfall_policy=wait,dilute", "--grid", "horizon_years=0.5",
                 "--reps", "2", "--jobs", "1", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert (out / "sweep.csv").read_text(encoding="utf-8").count("dilute") == 1


# ------------------------------------------------ 14. a variant switching a union member


def test_variant_switches_referral_mode(tmp_path, base):
    switched = variant(
        tmp_path, "poisson.yaml", "programme:\n  referrals:\n    mode: poisson\n    rate_per_year: 3\n"
    )
    scenario = load_scenario(switched)
    assert scenario.programme.referrals.mode == "poisson"
    assert scenario.programme.referrals.rate_per_year == 3


def test_variant_switches_duration_distribution(tmp_path, base):
    switched = variant(
        tmp_path,
        "fixed.yaml",
        "programme:\n  phases:\n    diagnostic:\n      duration: {distribution: fixed, weeks: 4}\n",
    )
    duration = load_scenario(switched).programme.phases.diagnostic.duration
    assert (duration.distribution, duration.weeks) == ("fixed", 4)


def test_error_in_a_switched_section_names_the_variant(tmp_path, base):
    bad = variant(
        tmp_path, "half.yaml", "programme:\n  referrals:\n    mode: poisson\n    rate_per_yaer: 3\n"
    )
    found = file_errors(bad)
    assert {(f, p) for f, p, _ in found} == {
        ("half.yaml", "programme.referrals.rate_per_yaer"),
        ("half.yaml", "programme.referrals.rate_per_year"),
    }
    typo = next(r for f, p, r in found if p.endswith("rate_per_yaer"))
    assert "did you mean 'rate_per_year'?" in typo


def test_typo_in_a_lognormal_duration_suggests_lognormal_keys(tmp_path, base):
    bad = variant(
        tmp_path,
        "typo.yaml",
        """\
        programme:
          phases:
            improvement:
              duration:
                distribution: lognormal
                median_wekks: 30
                sigma: 0.5
        """,
    )
    found = file_errors(bad)
    typo = [r for f, p, r in found if p.endswith("median_wekks")]
    assert typo == ["unknown key 'median_wekks' (did you mean 'median_weeks'?)"], found
    assert all(f == "typo.yaml" for f, _, _ in found)
