"""Checks made before any command starts work: arguments that depend on each other or on
the outside world (a Dask scheduler, a results folder to read, an --out to write).

Each raises :class:`~sim.errors.ArgumentError` or :class:`~sim.errors.FolderError` (bad
input, exit code 2) or :class:`~sim.errors.OutputError` (exit code 1), naming the argument.
Nothing here runs a model or writes anything but a probe folder that is removed at once.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import tempfile
from pathlib import Path

from sim.apps.cli.common import ArgumentError
from sim.errors import FolderError, OutputError
from sim.results.manifest import MANIFEST  # not sim.results.folder: no pandas

FILE_COMMANDS = ("compare", "schema")
"""Commands whose --out is one file; every other command's --out is a folder."""


def check_arguments(args: argparse.Namespace) -> None:
    """Checks that involve several arguments or the outside world, made before any work.

    Raises ArgumentError (bad input) naming the argument, or OutputError when an output
    cannot be written where asked.
    """
    backend = getattr(args, "backend", None)
    scheduler = getattr(args, "scheduler", None)
    if scheduler and backend != "dask":
        raise ArgumentError(
            "--scheduler", "is used only with --backend dask; add --backend dask or leave it out"
        )
    if backend == "dask":
        check_dask(scheduler)
    if args.command in ("compare", "report"):
        check_results_folder(args.results)
    if args.command == "plan" and not args.low < args.high:
        raise ArgumentError("--min", f"{args.low:g} must be below --max {args.high:g}")
    out = getattr(args, "out", None)
    if out is not None:
        check_out(out, folder=args.command not in FILE_COMMANDS)
    if getattr(args, "replace_shipped", False):
        check_replace_shipped(args.spec.parent)


def check_dask(scheduler: str | None) -> None:
    """The dask backend is installed and, for a tcp scheduler, something listens there."""
    if importlib.util.find_spec("distributed") is None:
        raise ArgumentError(
            "--backend", "dask needs the dask extra: python -m pip install '.[dask]'"
        )
    if not scheduler:
        return
    scheme, _, rest = scheduler.rpartition("://")
    if scheme not in ("", "tcp"):
        return  # other transports are checked by Dask itself when the run starts
    host, _, port = rest.rpartition(":")
    try:
        # a quick connection now, rather than Dask's 30 s timeout after the run has begun
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ArgumentError(
            "--scheduler", f"no Dask scheduler answers at {scheduler} ({exc.strerror or exc})"
        ) from None


def check_results_folder(folder: Path) -> None:
    """RESULTS of compare and report is a results folder that run finished writing."""
    if not folder.exists():
        raise ArgumentError("RESULTS", f"{folder}: no such folder")
    if not folder.is_dir():
        raise ArgumentError("RESULTS", f"{folder}: is a file, not a results folder")
    if not (folder / MANIFEST).is_file():
        raise ArgumentError(
            "RESULTS",
            f"{folder}: not a complete results folder (no {MANIFEST}); give a folder written "
            "by python -m sim run",
        )


def check_replace_shipped(folder: Path) -> None:
    """``calibrate --replace-shipped`` writes beside the spec, in the scenario folder it was
    read from (the installed package's own, with no ./scenarios/): refused before the fit
    if that folder cannot be written."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".sim-check-", dir=folder))
    except OSError as exc:
        raise ArgumentError(
            "--replace-shipped",
            f"cannot write in {folder}, beside the calibration spec ({exc.strerror or exc}); "
            "copy the scenarios with nhs-pip-sim init DIR and calibrate from DIR, or give a "
            "--spec in a folder you can write",
        ) from None


def check_out(path: Path, folder: bool) -> None:
    """--out can be written: not a folder that holds other work (the file system's root,
    the working folder or one above it, the home folder), and a file can actually be made
    where it goes (permission bits say nothing of read-only or virtual file systems)."""
    target = path.expanduser().resolve()
    here = Path.cwd().resolve()
    if folder and (target == Path(target.anchor) or target == here or target in here.parents):
        raise FolderError(
            f"--out {path}: is the root of the file system or holds the working folder; "
            "give a new folder for the output"
        )
    if folder and target == Path.home().resolve():
        raise FolderError(f"--out {path}: is the home folder; give a new folder for the output")
    if not folder and path.is_dir():
        raise FolderError(f"--out {path}: is a folder; give the name of a file to write")
    # whether the folder exists (and --force may replace it) each command checks itself
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(
            f"--out {path}: cannot be created because {parent} is a file, not a folder"
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".sim-check-", dir=parent))
    except OSError as exc:
        raise OutputError(
            f"--out {path}: cannot write in {parent}: {exc.strerror or exc}"
        ) from None
