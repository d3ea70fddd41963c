"""Safety of results folders and streamed runs (issue 13): fault tests.

``--force`` onto folders the tool did not write, a replacement killed half way, stale
staging folders, shuffled and damaged results folders, damaged chunks of an unfinished run,
a killed worker, a full disk, a read-only unfinished run, and runs killed at random points
and resumed. Every test fails on the code before issue 13.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.experiment.runner
from sim import load_results, run_experiment
from sim.apps.cli import main
from sim.errors import FolderError, OutputError, RunError
from sim.experiment.runner import run_to_folder
from sim.results import check_output_folder
from sim.scenario import with_changes
from tests.conftest import ROOT, SCENARIOS

REPS = 4
SEED = 11


@pytest.fixture(scope="module")
def pair(short):
    return [short, with_changes(short, {"name": "cap_20", "programme.cap": 20})]


@pytest.fixture(scope="module")
def small_run(pair):
    return run_experiment(pair, replications=REPS, seed=SEED, command="test")


@pytest.fixture
def short_file(tmp_path):
    """A two-year variant of the baseline, as a scenario file for the command line."""
    path = tmp_path / "short.yaml"
    path.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: short\nhorizon_years: 2\n",
        encoding="utf-8",
    )
    return path


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``folder`` (hidden ones too) with file contents."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def _no_traceback(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------- 1. --force onto foreign folders


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_force_never_deletes_a_folder_the_tool_did_not_write(command, short_file, tmp_path,
                                                             capsys):  # fmt: skip
    notes = tmp_path / "my-notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("hi\n")
    before = _tree(tmp_path)
    args = [command, str(short_file), "--reps", "2", "--jobs", "1", "--out", str(notes), "--force"]
    if command == "sweep":
        args[2:2] = ["--grid", "programme.cap=10,15"]
    assert main(args) == 2
    err = _no_traceback(capsys)
    assert "my-notes" in err and "not replaced" in err and "this tool wrote" in err
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("out", ["scenarios", "."])
def test_force_refuses_scenarios_and_the_working_folder(out, short_file, tmp_path, monkeypatch,
                                                        capsys):  # fmt: skip
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "mine.yaml").write_text("name: mine\n")
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    assert main(["run", str(short_file), "--reps", "2", "--jobs", "1", "--out", out,
                 "--force"]) == 2  # fmt: skip
    err = _no_traceback(capsys)
    assert "not replaced" in err or "working folder" in err  # the argument check may go first
    assert _tree(tmp_path) == before
    with pytest.raises(FolderError, match="not replaced"):  # and the folder mechanism refuses
        check_output_folder(out, force=True)


def test_report_onto_the_results_folder_is_refused(small_run, tmp_path, capsys):
    folder = small_run.save(tmp_path / "R")
    before = _tree(tmp_path)
    assert main(["report", str(folder), "--out", str(folder), "--force"]) == 2
    err = _no_traceback(capsys)
    assert "results folder, not a chart pack" in err
    assert _tree(tmp_path) == before
    assert load_results(folder).replications == REPS


def test_save_force_replaces_only_what_the_tool_wrote(small_run, pair, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FolderError, match="not replaced"):
        small_run.save(foreign, force=True)
    assert (foreign / "notes.txt").read_text() == "mine"

    folder = small_run.save(tmp_path / "R")
    (folder / "notes.txt").write_text("my notes on the run")
    (folder / "summary.csv.mine").write_text("kept too")
    other = run_experiment(pair[:1], replications=2, seed=3)
    other.save(folder, force=True)
    assert (folder / "notes.txt").read_text() == "my notes on the run"
    assert (folder / "summary.csv.mine").read_text() == "kept too"
    loaded = load_results(folder)
    assert list(loaded.values) == [pair[0].name] and loaded.replications == 2
    assert not (folder / "scenarios" / "cap_20.yaml").exists()  # the old run's own file went
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R", "foreign"]


# ------------------------------------------------- 2. interrupted swaps and stale staging

SWAP_CRASH = textwrap.dedent(
    """
    import os, sys
    from sim import run_experiment, load_scenario, with_changes
    folder, crash_at = sys.argv[1], int(sys.argv[2])
    scenario = with_changes(load_scenario(sys.argv[3]), {"horizon_years": 2})
    results = run_experiment([scenario], replications=2, seed=5)
    real, calls = os.replace, []
    def replace(source, target):
        calls.append(target)
        if len(calls) == crash_at:
            os._exit(9)  # killed: no clean-up runs
        real(source, target)
    os.replace = replace
    results.save(folder, force=True)
    """
)


@pytest.mark.parametrize("crash_at", [2, 3], ids=["between-the-renames", "after-them"])
def test_a_killed_replacement_is_undone_or_finished(crash_at, small_run, tmp_path):
    folder = small_run.save(tmp_path / "R")
    (folder / "notes.txt").write_text("mine")
    process = subprocess.run(
        [sys.executable, "-c", SWAP_CRASH, str(folder), str(crash_at),
         str(SCENARIOS / "baseline.yaml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert process.returncode == 9, process.stderr
    backup = tmp_path / ".R.replaced"
    assert backup.exists()  # the state a kill leaves
    loaded = load_results(folder)  # the next use restores or finishes the replacement
    assert loaded.replications == (REPS if crash_at == 2 else 2)
    assert (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]


def test_stale_staging_folders_of_the_tool_are_removed_and_no_others(small_run, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()  # a process that has ended: its pid names no process
    from sim.results.folder import _staging_tag

    host = _staging_tag().rsplit("-", 1)[1]
    stale = tmp_path / f".R.sim-{dead.pid}-{host}.abc123.partial"
    live = tmp_path / f".R.sim-{os.getpid()}-{host}.def456.partial"
    foreign = tmp_path / ".R.abc.partial"
    for path in (stale, live, foreign):
        path.mkdir()
        (path / "data").write_text("x")
    small_run.save(tmp_path / "R")
    assert not stale.exists()
    assert live.exists() and foreign.exists()


# ------------------------------------------------------------ 4. reading by key, not position


def _shuffle_table(folder: Path, drop_hash: bool) -> None:
    path = folder / "replications.parquet"
    table = pd.read_parquet(path)
    table.sample(frac=1.0, random_state=1).to_parquet(path, index=False)
    if drop_hash:  # as a folder written before tables were hashed
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest.get("files", {}).pop("replications.parquet", None)
        (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_shuffled_table_is_read_by_key(small_run, tmp_path, capsys):
    folder = small_run.save(tmp_path / "R")
    assert main(["compare", str(folder), "--baseline", "baseline"]) == 0
    expected = pd.read_csv(next(folder.glob("comparison_vs_*.csv")))
    _shuffle_table(folder, drop_hash=True)
    loaded = load_results(folder)
    for name, values in small_run.values.items():
        keys = small_run.keys[name].frame()
        position = {tuple(row): i for i, row in enumerate(keys.itertuples(index=False))}
        order = [position[tuple(r)] for r in loaded.keys[name].frame().itertuples(index=False)]
        np.testing.assert_array_equal(loaded.values[name], values[:, order])
    capsys.readouterr()
    assert main(["compare", str(folder), "--baseline", "baseline"]) == 0
    again = pd.read_csv(next(folder.glob("comparison_vs_*.csv")))
    key = ["scenario", "frequency", "period", "metric", "group"]
    pd.testing.assert_frame_equal(
        again.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
    )


def test_a_shuffled_table_with_its_hash_is_reported_as_changed(small_run, tmp_path, capsys):
    folder = small_run.save(tmp_path / "R")
    _shuffle_table(folder, drop_hash=False)
    assert main(["compare", str(folder), "--baseline", "cap_20"]) == 2
    assert "changed since it was written" in _no_traceback(capsys)


# ------------------------------------------------------------- 6. damaged results folders


def _edit_manifest(change):
    def edit(folder):
        path = folder / "manifest.json"
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps(change(manifest)))

    return edit


def _rewrite_table(change, keep_hash=False):
    def edit(folder):
        path = folder / "replications.parquet"
        change(pd.read_parquet(path)).to_parquet(path, index=False)
        if not keep_hash:
            _edit_manifest(lambda m: {**m, "files": {k: v for k, v in m["files"].items()
                                                     if k != "replications.parquet"}})(folder)  # fmt: skip

    return edit


def _truncate(folder):
    path = folder / "replications.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "manifest not JSON": (lambda f: (f / "manifest.json").write_text("{not json"), "cannot be read"),
    "manifest a list": (lambda f: (f / "manifest.json").write_text("[]"), "not a manifest"),
    "manifest without replications": (_edit_manifest(lambda m: {k: v for k, v in m.items()
                                                                if k != "replications"}),
                                      "replications"),  # fmt: skip
    "manifest with bad files": (_edit_manifest(lambda m: {**m, "files": {"x": 1}}), "files"),
    "no manifest": (lambda f: (f / "manifest.json").unlink(), "no manifest.json"),
    "table missing": (lambda f: (f / "replications.parquet").unlink(), "missing"),
    "table truncated": (_truncate, "truncated"),
    "table truncated, no hash": (
        lambda f: (_truncate(f), _edit_manifest(lambda m: {**m, "files": {}})(f)),
        "cannot be read as Parquet",
    ),
    "value changed": (
        _rewrite_table(lambda t: t.assign(value=t["value"] + (t.index == 5)), keep_hash=True),
        "changed since it was written",
    ),
    "one row fewer, no hash": (_rewrite_table(lambda t: t.iloc[:-1]), "no value for replication"),
    "one row more, no hash": (
        _rewrite_table(lambda t: pd.concat([t, t.iloc[[3]]])), "2 values for replication"
    ),
    "a replication fewer, no hash": (
        _rewrite_table(lambda t: t[t["replication"] < REPS - 1]), "no value for replication"
    ),
    "summary missing": (lambda f: (f / "summary.csv").unlink(), "missing"),
    "scenario file changed": (
        lambda f: (f / "scenarios" / "cap_20.yaml").write_text("name: other\n"),
        "changed since it was written",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_results_folder_gets_a_clear_error(case, small_run, tmp_path, capsys):
    folder = small_run.save(tmp_path / "R")
    damage, message = DAMAGE[case]
    damage(folder)
    with pytest.raises(FolderError, match=message):
        load_results(folder)
    assert main(["compare", str(folder), "--baseline", "cap_20"]) == 2
    assert message in _no_traceback(capsys)


# ------------------------------------------------------- 5. damaged chunks of an unfinished run


def _chunk_files(folder: Path, scenario: int) -> list[Path]:
    chunks = folder.with_name(f".{folder.name}.unfinished") / "chunks" / str(scenario)
    return sorted(chunks.glob("*.npy"), key=lambda p: int(p.stem))


def test_damaged_chunks_are_found_and_computed_again(pair, tmp_path, caplog):
    out = tmp_path / "run"
    kw = dict(replications=16, jobs=1, progress=False)
    folder, stats = run_to_folder(pair, out, seed=SEED, max_chunks=6, **kw)
    assert folder is None and stats.computed == 6
    other = tmp_path / "other"
    run_to_folder(pair, other, seed=SEED + 1, max_chunks=6, **kw)
    first, second, third = _chunk_files(out, 0)[:3]
    values = np.load(first)
    values[0, 0] += 1.0  # changed values
    np.save(first, values)
    source = _chunk_files(other, 0)[1]
    for suffix in (".npy", ".json"):  # a chunk from another seed, with its record
        if source.with_suffix(suffix).exists():
            second.with_suffix(suffix).write_bytes(source.with_suffix(suffix).read_bytes())
    np.save(third, np.load(third)[:-1])  # one row fewer
    folder, stats = run_to_folder(pair, out, seed=SEED, resume=True, **kw)
    assert stats.recomputed == 3 and stats.reused == 3
    assert "computing it again" in caplog.text
    fresh = run_experiment(pair, replications=16, seed=SEED)
    loaded = load_results(folder)
    for name, expected in fresh.values.items():
        np.testing.assert_array_equal(loaded.values[name], expected)
        assert loaded.values[name].shape[0] == 16


def test_resume_without_plan_says_how_to_start_again(pair, short_file, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", str(short_file), "--reps", "8", "--jobs", "1", "--out", str(out)]
    assert main([*args, "--max-chunks", "2"]) == 0
    unfinished = tmp_path / ".run.unfinished"
    (unfinished / "plan.json").unlink()
    capsys.readouterr()
    assert main([*args, "--resume"]) == 1
    err = _no_traceback(capsys)
    assert "no plan.json" in err and f"delete {unfinished}" in err


# ---------------------------------------------------------------- 8. a worker that dies


def test_a_killed_worker_stops_the_run_and_keeps_finished_chunks(pair, tmp_path, monkeypatch):
    real = sim.experiment.runner.run_chunk

    def dies_on_one_chunk(work, seed, first, count):
        if first == 8:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(work, seed, first, count)

    monkeypatch.setattr(sim.experiment.runner, "run_chunk", dies_on_one_chunk)  # inherited by forked workers

    def hung(*_):
        raise TimeoutError("the run hung after a worker died")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(RunError, match="worker process stopped unexpectedly") as error:
            run_to_folder(pair[:1], tmp_path / "run", replications=16, seed=SEED, jobs=2,
                          backend="processes", progress=False)  # fmt: skip
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "--resume" in str(error.value)
    assert not (tmp_path / "run").exists()
    monkeypatch.setattr(sim.experiment.runner, "run_chunk", real)
    folder, stats = run_to_folder(pair[:1], tmp_path / "run", replications=16, seed=SEED,
                                  jobs=2, backend="processes", resume=True, progress=False)  # fmt: skip
    assert stats.reused >= 1
    fresh = run_experiment(pair[:1], replications=16, seed=SEED)
    np.testing.assert_array_equal(load_results(folder).values[pair[0].name],
                                  fresh.values[pair[0].name])  # fmt: skip


# ------------------------------------------------- 12. a full disk, a read-only unfinished run


def test_a_full_disk_while_writing_a_chunk_ends_with_a_clear_message(short_file, tmp_path,
                                                                     monkeypatch, capsys):  # fmt: skip
    real, writes = os.replace, []

    def replace(source, target):
        if "chunks" in str(target):
            writes.append(target)
            if len(writes) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "run"
    assert main(["run", str(short_file), "--reps", "8", "--jobs", "1", "--out", str(out)]) == 1
    err = _no_traceback(capsys)
    assert "No space left on device" in err and "--resume" in err
    assert not out.exists()
    monkeypatch.setattr(os, "replace", real)
    assert main(["run", str(short_file), "--reps", "8", "--jobs", "1", "--out", str(out),
                 "--resume"]) == 0  # fmt: skip


def test_resume_into_a_read_only_run_fails_before_computing(short_file, tmp_path, monkeypatch,
                                                            capsys):  # fmt: skip
    out = tmp_path / "run"
    args = ["run", str(short_file), "--reps", "8", "--jobs", "1", "--out", str(out)]
    assert main([*args, "--max-chunks", "1"]) == 0
    unfinished = str(tmp_path / ".run.unfinished")
    real_open = open

    def read_only(file, mode="r", *a, **k):  # the unfinished run is on a read-only disk
        if str(file).startswith(unfinished) and any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, mode, *a, **k)

    computed = []
    monkeypatch.setattr("builtins.open", read_only)
    monkeypatch.setattr("io.open", read_only)
    monkeypatch.setattr(sim.experiment.runner, "run_chunk", lambda *a: computed.append(a) or 1 / 0)
    capsys.readouterr()
    assert main([*args, "--resume"]) == 1
    err = _no_traceback(capsys)
    assert "Read-only file system" in err and ".run.unfinished" in err
    assert computed == []  # it failed before spending time on the run


# --------------------------------------------------- 16. runs killed at random points, resumed


def _run_killed_and_resumed(short_file: Path, tmp_path: Path, kills: int, seed: int) -> None:
    """Kill the run (and its workers) at random points, resume until it finishes, and check
    the results are those of an uninterrupted run and nothing else is left behind."""
    out, reps = tmp_path / "run", 2000
    command = [sys.executable, "-m", "sim", "run", str(short_file), "--reps", str(reps),
               "--jobs", "2", "--seed", "3", "--out", str(out), "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(seed)
    killed = 0
    while not (out / "manifest.json").exists():
        resume = ["--resume"] if (tmp_path / ".run.unfinished").exists() else []
        process = subprocess.Popen([*command, *resume], cwd=tmp_path, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)  # fmt: skip
        if killed < kills:
            # kill once the run is under way (a chunk on disk), at a random point after:
            # a fixed delay is wrong on a fast start or a loaded machine
            chunks = tmp_path / ".run.unfinished" / "chunks"
            while process.poll() is None and len(list(chunks.glob("*/*.npy"))) <= killed:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # the run and its workers, at once
                killed += 1
        _, err = process.communicate(timeout=300)
        assert process.returncode in (0, -signal.SIGKILL), err
        assert "Traceback" not in err
    assert killed >= 1  # (a resumed run may finish before a later kill lands)
    fresh = run_experiment([sim.load_scenario(short_file)], replications=reps, seed=3, jobs=2)
    np.testing.assert_array_equal(load_results(out).values["short"], fresh.values["short"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "short.yaml"]


@pytest.mark.slow  # about 11 s; a killed worker, and a stopped run resumed, are in the default run
def test_a_run_killed_twice_resumes_to_the_same_results(short_file, tmp_path):
    _run_killed_and_resumed(short_file, tmp_path, kills=2, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_a_run_killed_at_many_random_points_resumes_to_the_same_results(seed, short_file,
                                                                        tmp_path):  # fmt: skip
    _run_killed_and_resumed(short_file, tmp_path, kills=6, seed=seed)


def test_check_output_folder_errors_are_output_errors(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(OutputError, match="already exists"):
        check_output_folder(tmp_path / "x")
    with pytest.raises(FolderError, match="not replaced"):
        check_output_folder(tmp_path / "x", force=True)


def test_a_csv_written_atomically_gets_the_usual_permissions(tmp_path):
    """A temporary file is private (mode 600); the finished CSV must be readable as any new
    file is (666 less the umask), so colleagues can read a shared comparison."""
    from sim.results import write_csv_atomically

    path = write_csv_atomically(pd.DataFrame({"a": [1]}), tmp_path / "table.csv")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_the_api_refuses_a_seed_or_count_that_is_not_a_whole_number(baseline):
    for settings in ({"seed": 1.5}, {"replications": 2.5}, {"seed": True}):
        with pytest.raises(ValueError, match="whole number"):
            run_experiment([baseline], **{"replications": 2, "seed": 1, **settings})
