"""Helpers the notebooks share: how many replications to run and where the scenarios are.

Both read environment variables so that tests (and analysts) can run every notebook with
few replications, from any folder. No simulation here.
"""

from __future__ import annotations

import os
from pathlib import Path

REPLICATIONS_VARIABLE = "SIM_NOTEBOOK_REPS"
"""Environment variable that sets the notebooks' replications (tests set it low)."""
SCENARIOS_VARIABLE = "SIM_SCENARIOS"
"""Environment variable that points the notebooks at a scenarios folder."""


def replications_from_env(default: int, variable: str = REPLICATIONS_VARIABLE) -> int:
    """Replications from the environment variable (``SIM_NOTEBOOK_REPS``), else ``default``.

    Raises
    ------
    ValueError
        If the variable is set but is not a whole number of at least 2.
    """
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"{variable} must be a whole number of replications, got {text!r}"
        ) from None
    if value < 2:
        raise ValueError(f"{variable} must be at least 2, got {value}")
    return value


def find_scenarios(start: str | Path | None = None, variable: str = SCENARIOS_VARIABLE) -> Path:
    """The project's ``scenarios/`` folder: from the environment variable
    (``SIM_SCENARIOS``) if set, else the first folder holding ``scenarios/baseline.yaml``
    at or above ``start`` (default: the working folder, the notebook's own in Jupyter).

    Raises
    ------
    FileNotFoundError
        Saying where it looked.
    """
    if os.environ.get(variable):
        folder = Path(os.environ[variable]).expanduser()
        if not (folder / "baseline.yaml").is_file():
            raise FileNotFoundError(f"{variable}={folder} has no baseline.yaml")
        return folder.resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "scenarios" / "baseline.yaml").is_file():
            return folder / "scenarios"
    raise FileNotFoundError(
        f"no scenarios/baseline.yaml in {here} or any folder above it; open the notebook from "
        f"the project, or set {variable} to the scenarios folder"
    )
