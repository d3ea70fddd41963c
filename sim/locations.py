"""Where scenario files are found: the scenario folder, and names of files in it.

The package ships the project's scenarios (the top-level ``scenarios/`` of the source tree,
installed as ``sim/scenarios/``), so every command works from any folder. Every command
finds a scenario file, calibration spec or other file of the scenario folder by one rule:

1. a path to an existing file, as given (relative to the working folder), is that file;
2. otherwise the name is looked up in **the scenario folder**: ``./scenarios/`` when the
   working folder has one (for example one written by ``nhs-pip-sim init``), else the
   package's own. ``.yaml`` is added to a name without a suffix, and a leading
   ``scenarios/`` is dropped, so ``cap_10``, ``cap_10.yaml`` and ``scenarios/cap_10.yaml``
   name the same file.

The two folders are never mixed: with a ``./scenarios/`` folder, a name it does not hold is
an error rather than the package's file of that name (which would extend the package's
baseline, not the one beside it). ``extends:``, ``warm_start:`` and
``calibration_ensemble:`` inside a file are relative to that file, so a copy of the whole
folder (:func:`copy_scenarios`) runs on its own.

Foundation: the standard library and :mod:`sim.errors` only, so the command line can find
files while it parses its arguments; nothing here reads a file's contents.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sim.errors import FolderError, OutputError, ScenarioError

LOCAL_FOLDER = Path("scenarios")
"""The working folder's own scenario folder, used instead of the package's when present."""
BASELINE = "baseline.yaml"
"""The documented baseline: the default scenario of every command that runs one."""
SCENARIO_FILE_PATTERNS = ("*.yaml", "*.csv", "*.json")
"""The files of a scenario folder, at any depth: scenarios and calibration specs (YAML), the
calibration ensemble (CSV) and the calibration's records (JSON). The package ships exactly
these (``pyproject.toml``'s package data uses the same patterns) and ``init`` copies them."""
_SUFFIXES = {pattern.removeprefix("*") for pattern in SCENARIO_FILE_PATTERNS} | {".yml"}


def packaged_scenarios() -> Path:
    """The scenarios shipped with the package: ``sim/scenarios/`` where the package is
    installed, or the project's ``scenarios/`` beside the ``sim/`` source folder (a source
    tree or an editable install, where that folder is the source of truth)."""
    package = Path(__file__).resolve().parent
    for folder in (package / "scenarios", package.parent / "scenarios"):
        if (folder / BASELINE).is_file():
            return folder
    raise ScenarioError(package / "scenarios", "",
                        "the package's scenarios are missing; reinstall nhs-pip-sim")  # fmt: skip


def scenario_folder() -> Path:
    """``./scenarios/`` when the working folder has one (relative, as typed), else the
    package's scenarios (:func:`packaged_scenarios`)."""
    return LOCAL_FOLDER if LOCAL_FOLDER.is_dir() else packaged_scenarios()


def describe_folder(folder: Path) -> str:
    """Which scenario folder ``folder`` is, in words, for messages."""
    if folder == LOCAL_FOLDER:
        return f"{LOCAL_FOLDER}/ of the working folder, used instead of the package's"
    return f"the package's scenarios, {folder}"


def name_in_folder(name: str | Path) -> Path:
    """The path inside the scenario folder that ``name`` means: a leading ``scenarios/``
    dropped, and ``.yaml`` added when the name has no scenario-folder suffix."""
    parts = Path(name).parts
    if len(parts) > 1 and parts[0] == LOCAL_FOLDER.name:
        parts = parts[1:]
    relative = Path(*parts)
    return relative if relative.suffix in _SUFFIXES else Path(f"{relative}.yaml")


def find_scenario(name: str | Path) -> Path:
    """The file ``name`` means, by the module's rule: an existing file as given, else that
    name in the scenario folder. Raises ScenarioError ("file not found") saying where it
    looked and what the scenario folder holds."""
    path = Path(name)
    if path.exists() and not path.is_dir():  # what kind of file it is, the reader checks
        return path
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ScenarioError(name, "", "file not found")
    folder = scenario_folder()
    relative = name_in_folder(path)
    found = folder / relative
    if found.exists() and not found.is_dir():
        return found
    if path.is_dir():  # a folder here, and no file of that name: the reader says so
        return path
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    holds = f"; it holds {', '.join(names)}" if names else ""
    raise ScenarioError(
        name, "",
        f"file not found, and the scenario folder ({describe_folder(folder)}) has no "
        f"{relative.as_posix()}{holds}",
    )  # fmt: skip


def scenario_files(folder: Path) -> list[Path]:
    """The files of a scenario folder (:data:`SCENARIO_FILE_PATTERNS`, at any depth), as
    sorted paths relative to it."""
    found = {path.relative_to(folder) for pattern in SCENARIO_FILE_PATTERNS
             for path in folder.rglob(pattern) if path.is_file()}  # fmt: skip
    return sorted(found)


def copy_scenarios(project: Path) -> tuple[Path, list[Path]]:
    """Copy the package's scenario folder, subfolders included, to ``project/scenarios/``,
    where the commands run from ``project`` use it instead of the package's.

    Returns the new folder and the files written, relative to it. Nothing existing is
    replaced: if any file to be written exists (or a file stands where a folder must go),
    FolderError names it and nothing is written. If writing fails part way, the files and
    folders this call made are removed again (OutputError); nothing else is touched.
    """
    source = packaged_scenarios()
    target = project / LOCAL_FOLDER.name
    files = scenario_files(source)
    for relative in files:
        destination = target / relative
        if destination.exists() or destination.is_symlink():
            raise FolderError(f"{destination}: already exists; init never replaces a file, so "
                              "nothing was written (move it away, or give another folder)")  # fmt: skip
        for folder in destination.parents:
            if folder.exists() and not folder.is_dir():
                raise FolderError(f"{folder}: is a file where init would make a folder; nothing "
                                  "was written")  # fmt: skip
    written: list[Path] = []
    made: list[Path] = []
    destination = target
    try:
        for relative in files:
            destination = target / relative
            missing = [
                p for p in (destination.parent, *destination.parent.parents) if not p.exists()
            ]
            for folder in reversed(missing):  # outermost first
                folder.mkdir()
                made.append(folder)
            with destination.open("xb") as handle:  # "x": never over a file made meanwhile
                written.append(destination)
                handle.write((source / relative).read_bytes())
    except OSError as exc:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):  # something else was put there meanwhile
                folder.rmdir()
        if isinstance(exc, FileExistsError):
            raise FolderError(f"{destination}: already exists; init never replaces a file, so "
                              "nothing was kept") from None  # fmt: skip
        raise OutputError(f"{destination}: cannot be written ({exc.strerror or exc}); nothing "
                          "was kept") from None  # fmt: skip
    return target, files
