"""The house (issue 14): layers stay light, one run-settings object, one way to replicate,
one atomic writer, and ``Results.save`` writing the same folder as the command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim.experiment.layout import Layout, build_layout
from sim.experiment.runner import RunSettings, replicate, run_experiment, run_to_folder
from sim.model import run_replication
from sim.results import ADEQUACY_FILE, RowKeys, atomic_file, load_results


def test_runner_imports_without_pandas():
    """Worker processes import the runner, and a run's parent the chunk store before it
    starts them; pandas comes in only when a table is built."""
    code = ("import sys, sim.experiment.runner, sim.experiment.store; "
            "assert 'pandas' not in sys.modules, 'pandas'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "changes",
    [{"replications": 0}, {"replications": 1.5}, {"seed": -1}, {"seed": True},
     {"jobs": 0}, {"backend": "threads"}],  # fmt: skip
)
def test_run_settings_are_checked_when_made(changes):
    with pytest.raises(ValueError):
        RunSettings(**changes)


def test_settings_or_keywords_not_both(short):
    with pytest.raises(TypeError, match="not both"):
        run_experiment([short], replications=2, settings=RunSettings(2, 1))


def test_settings_equal_keywords(short):
    by_keywords = run_experiment([short], replications=3, seed=5)
    by_settings = run_experiment([short], settings=RunSettings(3, 5))
    np.testing.assert_array_equal(by_keywords.values["baseline"], by_settings.values["baseline"])


def test_layout_is_row_keys(short):
    from sim.model import compile_scenario

    layout = build_layout(compile_scenario(short))
    assert isinstance(layout, Layout) and isinstance(layout, RowKeys)
    keys = layout.row_keys()
    assert type(keys) is RowKeys and len(keys) == len(layout)


def caseload(result):
    """Module level, so workers of any start method can be given it."""
    return result.weekly["caseload"].sum()


def test_replicate_matches_run_replication_serial_and_parallel(short):
    """Common random numbers: replication r is the same whoever runs it."""
    from sim.model import compile_scenario

    inputs = compile_scenario(short)
    expected = [caseload(run_replication(inputs, 3, r)) for r in range(5)]
    serial = list(replicate(inputs, RunSettings(5, 3, progress=False), reduce=caseload))
    parallel = list(replicate(inputs, RunSettings(5, 3, jobs=2, progress=False), caseload))
    assert serial == expected == parallel


def test_save_and_run_to_folder_write_the_same_folder(short, tmp_path):
    """Both write adequacy.csv, so the API gives what ``python -m sim run`` gives."""
    settings = RunSettings(4, 9, progress=False)
    saved = run_experiment([short], settings=settings).save(tmp_path / "saved")
    streamed, _ = run_to_folder([short], tmp_path / "streamed", settings=settings)
    for folder in (saved, streamed):
        assert (folder / ADEQUACY_FILE).is_file()
        load_results(folder)  # its manifest lists adequacy.csv with its hash
    pd.testing.assert_frame_equal(
        pd.read_csv(saved / ADEQUACY_FILE), pd.read_csv(streamed / ADEQUACY_FILE)
    )


def test_atomic_file_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("stopped")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_file(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new"


def test_the_package_says_it_is_typed_and_carries_its_licence():
    """Type checkers read ``py.typed`` (PEP 561); the metadata names the licence file."""
    from importlib import metadata, resources

    assert resources.files("sim").joinpath("py.typed").is_file()
    assert metadata.metadata("nhs-pip-sim")["License-Expression"] == "MIT"


def test_the_command_line_parses_without_heavy_libraries():
    """``python -m sim --help`` stays quick: the command line's modules import the layers a
    command runs inside its handler, so building and using the parser loads none of these
    (pydantic: the scenario schema is loaded by the commands that read scenarios)."""
    code = (
        "import sys\n"
        "import sim.apps.cli as cli\n"
        "cli.build_parser().parse_args(['sensitivity', '--metric', 'cost'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}\n"
        "               & {'pandas', 'scipy', 'simpy', 'matplotlib', 'pydantic'})\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
