"""Provenance of a run: what was run, with what, where and when (``manifest.json``)."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

MANIFEST = "manifest.json"
"""The manifest's file name in a results folder (stdlib only here: the command line's
checks read it without importing pandas)."""
LIBRARIES = ("numpy", "scipy", "simpy", "pydantic", "pandas", "pyarrow", "PyYAML", "matplotlib")


def package_version() -> str:
    try:
        return metadata.version("nhs-pip-sim")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def git_state(folder: Path | None = None) -> dict:
    """Commit of the source tree and whether it had uncommitted changes (None outside git)."""
    folder = folder or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict:
    import os

    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
        "python_executable": sys.executable,
    }


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
