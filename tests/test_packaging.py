"""The package installs and runs anywhere (issue 17): the scenarios ship inside it, names
resolve from any folder by one rule, ``init`` writes an editable copy without replacing a
file, the version is reported, and the README's set-up is the two commands CI runs.

The slow test builds the wheel, installs it in a fresh virtual environment and runs the
commands from an empty folder, as a planner's machine would.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

import sim
from sim.apps import cli
from sim.apps.cli import main
from sim.errors import ScenarioError
from sim.locations import (
    SCENARIO_FILE_PATTERNS,
    find_scenario,
    packaged_scenarios,
    scenario_files,
    scenario_folder,
)
from tests.conftest import ROOT, SCENARIOS

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of ``nhs-pip-sim ARGS`` in-process."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse: --version, usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def empty(tmp_path, monkeypatch):
    """An empty working folder, away from the project."""
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


# ------------------------------------------------------------------------ finding files


def test_names_resolve_to_the_package_scenarios_from_an_empty_folder(empty):
    shipped = packaged_scenarios()
    assert (shipped / "baseline.yaml").is_file() and scenario_folder() == shipped
    for name in ("cap_10", "cap_10.yaml", "scenarios/cap_10.yaml"):
        assert find_scenario(name) == shipped / "cap_10.yaml"
    assert find_scenario("history/regimes_2013_2026") == shipped / "history/regimes_2013_2026.yaml"
    assert find_scenario("calibration/targets.yaml") == shipped / "calibration/targets.yaml"
    with pytest.raises(ScenarioError, match=r"cap_11: file not found.*package's.*cap_10"):
        find_scenario("cap_11")
    with pytest.raises(ScenarioError, match="file not found"):
        find_scenario(empty / "cap_10.yaml")  # an absolute path is only itself


def test_an_existing_file_wins_then_the_working_folders_scenarios(empty):
    (empty / "cap_10.yaml").write_text("mine\n")
    assert find_scenario("cap_10.yaml") == Path("cap_10.yaml")  # as given: it exists
    assert find_scenario("cap_10") == packaged_scenarios() / "cap_10.yaml"
    (empty / "scenarios").mkdir()
    (empty / "scenarios" / "mine.yaml").write_text("name: mine\n")
    assert scenario_folder() == Path("scenarios")
    assert find_scenario("mine") == Path("scenarios/mine.yaml")
    # the folders are never mixed: the package's cap_10 would extend another baseline
    with pytest.raises(ScenarioError, match=r"scenarios/ of the working folder.*no cap_10\.yaml"):
        find_scenario("cap_10")


def test_every_default_file_is_found_from_an_empty_folder(empty):
    """Each command's default scenario, history scenario and calibration files."""
    parse = cli.build_parser().parse_args
    shipped = packaged_scenarios()
    plan = ["plan", "--lever", "cap", "--target", "waiting <= 1 over the horizon", "--min", "1"]
    found = {
        "sweep": parse(["sweep", "--sample", "2"]).scenario,
        "sensitivity": parse(["sensitivity"]).scenario,
        "plan": parse([*plan, "--max", "2"]).scenario,
        "theory": parse(["theory"]).scenario,
        "backtest": parse(["backtest"]).scenario,
    }
    calibrate, validation = parse(["calibrate"]), parse(["validation"])
    found |= {"calibrate --spec": calibrate.spec, "calibrate --scenario": calibrate.scenario,
              "validation --targets": validation.targets,
              "validation --held-out": validation.held_out,
              "validation --scenario": validation.scenario}  # fmt: skip
    assert parse(["run"]).scenarios == []  # run finds its default when it runs
    for command, path in found.items():
        assert path.is_file() and path.is_relative_to(shipped), command
    assert found["backtest"].name == "regimes_2013_2026.yaml"
    assert found["calibrate --spec"].parent == shipped / "calibration"


def test_a_name_nowhere_is_bad_input_naming_where_it_looked(empty, capsys):
    code, _, err = run_cli(["run", "cap_11", "--reps", "2"], capsys)
    assert code == 2 and "cap_11: file not found" in err and "package's scenarios" in err
    assert list(empty.iterdir()) == []


# ---------------------------------------------------------------------------- init


def test_init_writes_copies_that_validate_and_run_from_there(empty, capsys, monkeypatch):
    code, out, _ = run_cli(["init", "project"], capsys)
    assert code == 0 and "Wrote" in out
    copy = empty / "project" / "scenarios"
    shipped = packaged_scenarios()
    assert tree(copy) == tree(shipped)  # every file, byte for byte
    assert {"calibration/ensemble.csv", "calibration/fit.json",
            "history/regimes_2013_2026.yaml"} <= set(tree(copy))  # fmt: skip
    monkeypatch.chdir(empty / "project")
    code, out, err = run_cli(["validate"], capsys)
    assert code == 0, err
    assert "of the working folder" in out and "11 of 11 scenario files valid" in out
    # extends:, warm_start: and calibration_ensemble: resolve inside the copy
    code, out, err = run_cli(["validate", "warm_start", "history/regimes_2013_2026"], capsys)
    assert code == 0, err
    assert "scenarios/warm_start.yaml" in out and str(shipped) not in out + err
    assert find_scenario("baseline") == Path("scenarios/baseline.yaml")


def test_init_never_replaces_a_file(empty, capsys):
    mine = empty / "scenarios" / "calibration" / "fit.json"
    mine.parent.mkdir(parents=True)
    mine.write_text("my own fit\n")
    (empty / "scenarios" / "notes.txt").write_text("keep\n")
    before = tree(empty)
    code, _, err = run_cli(["init"], capsys)  # default: the working folder
    assert code == 2
    assert "calibration/fit.json: already exists" in err and "nothing was written" in err
    assert tree(empty) == before  # nothing written, nothing removed
    assert run_cli(["init", "elsewhere"], capsys)[0] == 0
    assert run_cli(["init", "elsewhere"], capsys)[0] == 2  # a second time: refused
    assert tree(empty / "elsewhere" / "scenarios") == tree(packaged_scenarios())


def test_init_refuses_a_file_where_a_folder_goes(empty, capsys):
    (empty / "scenarios").write_text("not a folder\n")
    code, _, err = run_cli(["init"], capsys)
    assert code == 2 and "is a file where init would make a folder" in err
    assert tree(empty) == {"scenarios": b"not a folder\n"}


def test_replace_shipped_is_refused_where_it_cannot_write(empty, capsys, monkeypatch):
    """In an installed package the spec's folder may be read-only: said before the fit."""

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.checks.tempfile, "mkdtemp", read_only)
    code, _, err = run_cli(["calibrate", "--replace-shipped"], capsys)
    assert code == 2
    assert "--replace-shipped" in err and str(packaged_scenarios() / "calibration") in err
    assert "nhs-pip-sim init" in err
    assert list(empty.iterdir()) == []


# ------------------------------------------------------------------- version, metadata


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"nhs-pip-sim {sim.__version__}"
    assert sim.__version__ == PYPROJECT["project"]["version"], "reinstall: the metadata is stale"


def test_metadata_names_the_project_its_licence_and_authors():
    project = PYPROJECT["project"]
    assert set(project["urls"]) == {"Homepage", "Documentation", "Repository", "Issues",
                                    "Changelog"}  # fmt: skip
    assert all(url.startswith("https://") for url in project["urls"].values())
    assert project["authors"] and project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert project["scripts"]["nhs-pip-sim"] == "sim.apps.cli:main"
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["sim"]
    assert (ROOT / "sim" / "py.typed").is_file()
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_the_wheel_lists_every_package_and_every_scenario_file():
    """The packages are listed by hand (so the scenarios can ship as sim.scenarios): every
    folder of sim/ with an __init__.py must be among them, and the package data must cover
    every file of scenarios/, the files init copies."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sim").rglob("__init__.py")
             if "__pycache__" not in p.parts}  # fmt: skip
    assert set(setuptools["packages"]) == found | {"sim.scenarios"}
    assert setuptools["package-dir"] == {"sim.scenarios": "scenarios"}
    globs = setuptools["package-data"]["sim.scenarios"]
    assert globs == [f"**/{pattern}" for pattern in SCENARIO_FILE_PATTERNS]
    files = [p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]  # fmt: skip
    unshipped = [f for f in files if not any(fnmatch.fnmatch(Path(f).name, g.removeprefix("**/"))
                                             for g in globs)]  # fmt: skip
    assert not unshipped, f"scenarios/ files the wheel would leave out: {unshipped}"
    assert sorted(files) == [p.as_posix() for p in scenario_files(SCENARIOS)]
    assert {"calibration/targets.yaml", "history/regimes_2013_2026.yaml"} <= set(files)


def setup_commands() -> list[str]:
    """The commands of the README's Set-up code block (what .ci/run runs)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Set-up", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_set_up_is_two_commands_each_in_a_virtual_environment():
    install_and_run, install_and_test = setup_commands()
    for command in (install_and_run, install_and_test):
        assert command.startswith("python3 -m venv .venv && "), command
        assert " python " not in f" {command} " and "pip install" in command
    assert install_and_run.endswith("-m sim run") and install_and_test.endswith("-m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "## Set-up" in ci and "lint-imports" in ci


# ------------------------------------------------------------------ the installed wheel


@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_an_empty_folder(tmp_path):
    """Build the wheel from a copy of the sources, install it alone (dependencies come from
    this environment: no network) in a fresh virtual environment, and use it from an empty
    folder: run by name, init, validate, --version and report."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).write_bytes((ROOT / name).read_bytes())
    for folder in ("sim", "scenarios"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                target = source / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w",
                    str(wheels), "--quiet"], check=True, timeout=600)  # fmt: skip
    [wheel] = wheels.glob("nhs_pip_sim-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--force-reinstall", "--quiet",
                    str(wheel)], check=True, timeout=600)  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def command(*args: str, cwd: Path = work) -> str:
        done = subprocess.run([environment / "bin" / "nhs-pip-sim", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, f"{args}: {done.stderr}"
        assert "Traceback" not in done.stderr
        return done.stdout

    where = subprocess.run([python, "-c", "import sim, sim.locations as l; "
                            "print(sim.__file__); print(l.packaged_scenarios())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    module, scenarios = where.stdout.split()
    assert Path(module).is_relative_to(environment) and Path(scenarios).is_relative_to(environment)
    assert command("--version").strip() == f"nhs-pip-sim {PYPROJECT['project']['version']}"
    out = command("run", "baseline", "cap_10", "--reps", "20", "--jobs", "2", "--out", "results")
    assert "Results written to results/" in out
    pack = command("report", "results")
    assert "Chart pack with" in pack and "Back-test:" in pack  # the shipped history ran
    assert "11 of 11 scenario files valid" in command("validate")
    assert "Wrote" in command("init", "project")
    checked = command("validate", cwd=work / "project")
    assert "of the working folder" in checked and "11 of 11 scenario files valid" in checked
    assert sorted(p.name for p in work.iterdir()) == ["project", "results"]
