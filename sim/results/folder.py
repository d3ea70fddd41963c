"""Results folders on disk: the one atomic writer of folders and files, and the reader.

A results folder holds ``manifest.json``, the scenarios exactly as run
(``scenarios/<name>.yaml``), the tidy table (``replications.parquet``), ``summary.csv``
and ``adequacy.csv``. Every folder the tool writes (results, chart packs, analyses) is
built by :func:`atomic_folder`, in a staging folder renamed into place only when complete,
so an interrupted or failed run never leaves a folder that looks finished; every single
file written on its own (a CSV, a chunk of a streamed run, a calibration) goes through
:func:`atomic_file`, the same idea for one file. Nothing else in the package writes via a
temporary name.

The manifest records that the tool wrote the folder, its kind and each file's size and
SHA-256: ``--force`` replaces only such folders, and :func:`load_results` checks them.
What goes into a results folder is written by :mod:`sim.results.writer` (a block at a
time) and the table read back lazily by :mod:`sim.results.stored`. No statistics or
simulation here; the in-memory object is :mod:`sim.results.tables`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sim.errors import FolderError, OutputError
from sim.results.adequacy import ADEQUACY_FILE
from sim.results.keys import KEY_COLUMNS
from sim.results.manifest import MANIFEST
from sim.results.stored import scan_table
from sim.results.writer import (  # noqa: F401 (importable from here, as before)
    SCENARIO_DIR,
    SUMMARY_FILE,
    TABLE_FILE,
    ResultsWriter,
    scenario_to_yaml_tree,
)
from sim.scenario.files import read_yaml
from sim.scenario.loader import scenario_from_mapping

if TYPE_CHECKING:
    import pandas as pd

    from sim.results.tables import Results

log = logging.getLogger(__name__)

TOOL = "nhs-pip-sim"
"""``written_by`` in the manifest of every folder this tool writes: what ``--force`` trusts."""
LEGACY_RESULTS_ENTRIES = frozenset(
    {MANIFEST, SCENARIO_DIR, TABLE_FILE, SUMMARY_FILE, ADEQUACY_FILE, "sweep.csv"}
)
"""What a results folder written before manifests listed their files holds."""
BACKUP_SUFFIX = ".replaced"
STAGING_SUFFIX = ".partial"


@dataclass(frozen=True)
class FolderRecord:
    """What this tool recorded about a folder it wrote: its kind and the entries it owns."""

    kind: str
    owned: frozenset[str]


def folder_record(folder: str | Path) -> FolderRecord | None:
    """The tool's record of ``folder`` (from its ``manifest.json``), or None if not ours.

    A folder is ours if its manifest says ``written_by: nhs-pip-sim`` (it then lists every
    file written), or is a results folder written before that field existed (package
    version, seed, replications and scenarios recorded).
    """
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    if manifest.get("written_by") == TOOL and isinstance(manifest.get("files"), dict):
        owned = {Path(name).parts[0] for name in manifest["files"]} | {MANIFEST}
        return FolderRecord(str(manifest.get("kind", "results folder")), frozenset(owned))
    if {"package_version", "seed", "replications", "scenarios"} <= set(manifest):
        return FolderRecord("results folder", LEGACY_RESULTS_ENTRIES)
    return None


def check_output_folder(
    folder: str | Path, force: bool = False, kind: str | None = None
) -> None:
    """Fail early, before any simulation, if ``folder`` cannot be written as an output folder.

    An interrupted replacement of ``folder`` is first finished or undone (see
    :func:`recover_folder`). With ``force`` an existing folder may be replaced only if this
    tool wrote it (its manifest says so) and, when ``kind`` is given, it is of that kind.

    Raises
    ------
    OutputError
        Naming the folder and the reason: it exists (without ``force``), a parent is a
        file, or the nearest existing parent is not writable.
    FolderError
        With ``force``, if the folder is not a folder this tool wrote (or of another kind):
        nothing is replaced that the tool did not write.
    """
    folder = Path(os.path.abspath(folder))
    recover_folder(folder)
    if folder.is_symlink():
        raise FolderError(f"{folder}: is a symbolic link; give the folder it points to")
    if folder.exists() and not force:
        raise OutputError(f"{folder}: results folder already exists (use --force to replace it)")
    if folder.exists() and not folder.is_dir():
        raise FolderError(f"{folder}: exists and is not a folder")
    if folder.exists():
        record = folder_record(folder)
        if record is None:
            raise FolderError(
                f"{folder}: not replaced: --force replaces only a folder this tool wrote "
                f"(recognised by its {MANIFEST}), and this one was not; choose another "
                "--out, or move the folder away yourself"
            )
        if kind is not None and record.kind != kind:
            raise FolderError(
                f"{folder}: not replaced: it is a {record.kind}, not a {kind}; choose another --out"
            )
    _check_parent(folder)


def _check_parent(path: Path) -> None:
    """The nearest existing parent of ``path`` must be a writable folder."""
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot be created because {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: no permission to write in {parent}")


def _staging_tag() -> str:
    """``sim-<pid>-<host>``: marks a staging folder as this process's, on this machine."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    return f"sim-{os.getpid()}-{host}"


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is put straight back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def make_staging(folder: Path, suffix: str = STAGING_SUFFIX) -> Path:
    """A new staging folder beside ``folder`` (``.<name>.sim-<pid>-<host>.<random>.partial``),
    with the umask's permissions. The name says which process made it, so one left by a
    killed process can be recognised and removed (:func:`recover_folder`)."""
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{folder.name}.{_staging_tag()}.", suffix=suffix, dir=parent)
        )
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; results are shared
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write results folder: {exc.strerror or exc}") from exc
    return staging


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def recover_folder(folder: str | Path) -> None:
    """Finish or undo an interrupted replacement of ``folder``; remove stale staging folders.

    A replacement moves the old folder to ``.<name>.replaced``, moves the new one into
    place, then carries over what the old one held that the tool did not write and removes
    the rest. If it was killed between the two moves, the old folder is put back; if after,
    the clean-up is finished. Staging folders made by processes of this machine that no
    longer run are removed (their names say which process made them). Folders the tool did
    not write are never touched.
    """
    folder = Path(os.path.abspath(folder))
    parent = folder.parent
    if not parent.is_dir():
        return
    try:
        backup = parent / f".{folder.name}{BACKUP_SUFFIX}"
        if backup.is_dir() and not backup.is_symlink() and folder_record(backup) is not None:
            if not folder.exists():
                os.replace(backup, folder)
                log.warning("%s: restored the previous folder after an interrupted replacement",
                            folder)  # fmt: skip
            elif folder_record(folder) is not None:
                _finish_replacement(folder, backup)
        tag = re.compile(
            rf"^\.{re.escape(folder.name)}\.sim-(\d+)-([0-9a-f]{{8}})\.[^.]+{re.escape(STAGING_SUFFIX)}$"
        )
        host = _staging_tag().rsplit("-", 1)[1]
        for entry in parent.iterdir():
            match = tag.match(entry.name)
            if (match and match[2] == host and not _process_alive(int(match[1]))
                    and entry.is_dir() and not entry.is_symlink()):  # fmt: skip
                shutil.rmtree(entry, ignore_errors=True)
    except OSError as exc:  # a read-only place: nothing to recover there, or say why not
        log.warning("%s: could not recover an interrupted write: %s", folder, exc)


def _finish_replacement(folder: Path, backup: Path) -> None:
    """Carry over into ``folder`` what ``backup`` (the replaced folder) holds that the tool
    did not write, then remove what it did write, the manifest last (so an interrupted
    clean-up is still recognisable and is finished next time)."""
    record = folder_record(backup)
    if record is None:
        return
    for entry in sorted(backup.iterdir()):
        if entry.name not in record.owned:
            target, n = folder / entry.name, 1
            while target.exists() or target.is_symlink():  # the new folder has the name
                target, n = folder / f"{entry.name}.kept-{n}", n + 1
            os.replace(entry, target)
    for name in sorted(record.owned - {MANIFEST}):
        path = backup / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    (backup / MANIFEST).unlink(missing_ok=True)
    backup.rmdir()


def file_digest(path: Path) -> str:
    """SHA-256 of a file, in hex."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _seal(staging: Path, kind: str) -> None:
    """Record in ``manifest.json`` that the tool wrote this folder: its kind and the size and
    SHA-256 of every file (so damage or changes are detected when it is read)."""
    path = staging / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    files = {
        item.relative_to(staging).as_posix(): {"bytes": item.stat().st_size,
                                               "sha256": file_digest(item)}
        for item in sorted(staging.rglob("*"))
        if item.is_file() and item != path
    }  # fmt: skip
    manifest = {"written_by": TOOL, "kind": kind, **manifest, "files": files}
    manifest.setdefault("package_version", _package_version())
    path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")


def _package_version() -> str:
    from sim.results.manifest import package_version

    return package_version()


@contextmanager
def atomic_folder(
    folder: str | Path, force: bool = False, what: str = "results folder", seal: bool = True
) -> Iterator[Path]:
    """Build a folder in a staging folder and move it into place only when complete.

    Yields the staging folder to write into. When the body has finished, the folder's
    ``manifest.json`` records that the tool wrote it, its kind (``what``) and each file's
    hash. It then replaces ``folder``: an existing one only with ``force``, only if the tool
    wrote it and it is of the same kind, and only the entries the tool wrote (anything else
    in it is carried over). On any failure or interruption the staging folder is removed and
    nothing is left half-written; a replacement killed half way is finished or undone by the
    next call (:func:`recover_folder`). With ``seal=False`` no manifest is written (a working
    folder such as a streamed run's unfinished one, which is never replaced).

    Raises
    ------
    OutputError
        If ``folder`` exists without ``force`` (checked before anything is written), or it
        cannot be written.
    FolderError
        If ``force`` would replace a folder the tool did not write, or one of another kind.
    """
    folder = Path(os.path.abspath(folder))
    check_output_folder(folder, force, what)
    staging = make_staging(folder)
    try:
        yield staging
        if seal:
            _seal(staging, what)
        if folder.exists():
            check_output_folder(folder, force, what)  # still ours after the run
            backup = folder.parent / f".{folder.name}{BACKUP_SUFFIX}"
            if backup.exists() or backup.is_symlink():
                raise FolderError(f"{folder}: cannot replace it: {backup} is in the way")
            os.replace(folder, backup)
            os.replace(staging, folder)  # killed between these two: recover_folder undoes it
            _finish_replacement(folder, backup)
        else:
            os.replace(staging, folder)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        recover_folder(folder)  # a failed swap: put the old folder back
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"{folder}: cannot write {what}: {exc}") from exc
        raise


def save_results(
    results: Results,
    folder: str | Path,
    force: bool = False,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
    precision: float | None = None,
) -> Path:
    """Write ``results`` to ``folder`` (see module docstring). Returns the folder path.

    ``precision`` is the relative half-width ``adequacy.csv`` judges the headline figures
    by (default :data:`~sim.results.adequacy.DEFAULT_PRECISION`).

    Raises
    ------
    OutputError
        If the folder exists and ``force`` is false, or it cannot be written. Nothing is
        left half-written: an existing folder is only replaced once the new one is complete.
    """
    with (
        atomic_folder(folder, force) as staging,
        ResultsWriter(staging, precision, results.keys) as writer,
    ):
        writer.add(results)
        writer.finish(results.manifest, extra_tables)
    return Path(folder)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Write one file via a temporary name beside it: never half a file.

    Yields the temporary path (``.<name>.<random>.partial``, in the same folder so the
    rename is atomic) to write; when the body has finished it gets the permissions a new
    file normally gets and is renamed over ``path``. On any failure it is removed and
    ``path`` is left as it was.

    Raises
    ------
    FolderError
        If ``path`` is a folder.
    OutputError
        Naming ``path``, if it cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise FolderError(f"{path}: is a folder; give a file name")
    _check_parent(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=STAGING_SUFFIX,
                                        dir=path.parent)  # fmt: skip
        os.close(handle)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp makes the file private (600); give it what a new file normally gets
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        raise


def write_csv_atomically(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a CSV file (no index) via :func:`atomic_file`. Returns the path."""
    with atomic_file(path) as temporary:
        table.to_csv(temporary, index=False)
    return Path(path)


def load_results(folder: str | Path) -> Results:
    """Read a results folder written by :func:`save_results`, checking it first.

    The manifest must be readable and describe a results folder; every file it lists must
    be there with the size and SHA-256 it had when written; the table must hold exactly one
    value for each scenario, replication and row, and is read by those keys, not by the
    order of its rows. An interrupted replacement of the folder is finished or undone first.

    The table is not held in memory: a table in the order this tool writes it is checked a
    block of rows at a time, and each scenario's values are a
    :class:`~sim.results.stored.StoredMatrix` that reads the columns (or replications) it is
    indexed by, and gives :meth:`~sim.results.tables.Results.summary` from ``summary.csv``.
    ``np.asarray(values)`` reads a whole matrix. A table in another order is read whole.

    Raises
    ------
    FolderError
        Naming the file and what is wrong, if the folder is not a complete, unchanged
        results folder.
    """
    from sim.results.tables import Results, matrix_from_table  # here (see sim.results)

    folder = Path(folder)
    recover_folder(folder)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    scenarios = {}
    for path in sorted((folder / SCENARIO_DIR).glob("*.yaml")):
        try:
            tree = read_yaml(path)  # size, nesting and alias limits (a YAML bomb)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise FolderError(f"{path}: cannot read the scenario as run: {exc}") from None
        scenario = scenario_from_mapping(tree, path)
        scenarios[scenario.name] = scenario
    expected = set(manifest["scenarios"])
    if set(scenarios) != expected:
        raise FolderError(
            f"{folder / SCENARIO_DIR}: holds scenarios {sorted(scenarios)} where {MANIFEST} "
            f"records {sorted(expected)}"
        )
    replications = manifest["replications"]
    # read by its keys a block at a time, values left on disk until asked for
    stored = scan_table(folder / TABLE_FILE, replications, folder / SUMMARY_FILE)
    if stored is not None:
        found = set(stored.matrices)
    else:  # not in the order written here (or damaged): read it whole, by its keys
        table = _read_table(folder / TABLE_FILE)
        found = {str(name) for name in table["scenario"].unique()}  # categorical: no strings
    if found != expected:
        raise FolderError(
            f"{folder / TABLE_FILE}: holds scenarios {sorted(found)} where {MANIFEST} "
            f"records {sorted(expected)}"
        )
    if stored is not None:
        keys = {name: pair[0] for name, pair in stored.matrices.items()}
        values = {name: pair[1] for name, pair in stored.matrices.items()}
    else:
        keys, values = {}, {}
        for name, rows in table.groupby("scenario", sort=False, observed=True):
            keys[str(name)], values[str(name)] = matrix_from_table(
                rows, replications, folder / TABLE_FILE
            )
    ordered = [name for name in manifest["scenarios"]]
    return Results(
        scenarios={n: scenarios[n] for n in ordered},
        keys={n: keys[n] for n in ordered},
        values={n: values[n] for n in ordered},
        manifest=manifest,
    )


def read_manifest(folder: Path) -> dict:
    """The manifest of a results folder, checked for the fields reading it needs."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise FolderError(f"{folder}: no such results folder")
    if not path.exists():
        raise FolderError(f"{folder}: not a complete results folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FolderError(f"{path}: cannot be read ({exc}); the folder is damaged") from None
    if not isinstance(manifest, dict):
        raise FolderError(f"{path}: is not a manifest (a JSON object); the folder is damaged")
    if manifest.get("kind", "results folder") != "results folder":
        raise FolderError(f"{folder}: is a {manifest['kind']}, not a results folder")
    reps = manifest.get("replications")
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise FolderError(f"{path}: replications: must be a whole number of at least 1, got {reps!r}")
    names = manifest.get("scenarios")
    if not isinstance(names, dict) or not names:
        raise FolderError(f"{path}: scenarios: must list the scenarios run, got {names!r}")
    files = manifest.get("files", {})
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("bytes"), int)
        and isinstance(entry.get("sha256"), str)
        and not Path(name).is_absolute()
        and ".." not in Path(name).parts
        for name, entry in files.items()
    ):
        raise FolderError(f"{path}: files: must map file names to their bytes and sha256")
    return manifest


def verify_files(folder: Path, manifest: dict) -> None:
    """Every file the manifest lists is present, of the recorded size and SHA-256."""
    for name, entry in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise FolderError(f"{path}: missing; {MANIFEST} lists it, so the folder is incomplete")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise FolderError(
                f"{path}: {size:,} bytes where {MANIFEST} records {entry['bytes']:,}: truncated "
                "or changed since it was written; run the experiment again"
            )
        if file_digest(path) != entry["sha256"]:
            raise FolderError(
                f"{path}: content differs from the SHA-256 in {MANIFEST}: changed since it was "
                "written; run the experiment again"
            )


def _read_table(path: Path) -> pd.DataFrame:
    """The tidy table, with its columns checked."""
    import pandas as pd  # here, not at the top (see sim.results)

    from sim.results.tables import TIDY_COLUMNS
    if not path.is_file():
        raise FolderError(f"{path}: missing; the results folder is incomplete")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # any failure to parse means a damaged file
        raise FolderError(f"{path}: cannot be read as Parquet (damaged or truncated): {exc}") from None
    missing = [c for c in TIDY_COLUMNS if c not in table.columns]
    if missing:
        raise FolderError(f"{path}: has no column {', '.join(missing)}")
    if not pd.api.types.is_numeric_dtype(table["value"]) or not pd.api.types.is_integer_dtype(
        table["replication"]
    ):
        raise FolderError(f"{path}: value must be numbers and replication whole numbers")
    if table[["scenario", *KEY_COLUMNS]].isna().any().any():
        raise FolderError(f"{path}: has rows with no scenario, frequency, period, metric or group")
    return table

