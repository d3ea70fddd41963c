"""Errors raised at the edges of the package (scenario files, what-if edits, command line).

The model itself never raises these: input is validated once, when a scenario is loaded or
edited, so a run that starts never fails on bad input half way through.
"""

from __future__ import annotations

from pathlib import Path


class ScenarioError(ValueError):
    """A scenario could not be loaded or edited.

    Parameters
    ----------
    file
        The scenario file (or a label such as ``<what-if edit>``) the problem was found in.
    field
        Dotted path of the offending field, for example ``population.tables.acute.score.mean``;
        empty when the problem concerns the whole file.
    reason
        Plain-English statement of what is wrong.
    """

    def __init__(self, file: str | Path, field: str, reason: str):
        self.file = str(file)
        self.field = field
        self.reason = reason
        where = f"{self.file}: {field}" if field else self.file
        super().__init__(f"{where}: {reason}")


class ScenarioErrors(ScenarioError):
    """Several problems found in one scenario; ``errors`` lists each of them."""

    def __init__(self, errors: list[ScenarioError]):
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.field, first.reason)
        lines = [str(e) for e in errors]
        self.args = (
            (f"{len(errors)} problems:\n  " + "\n  ".join(lines),)
            if len(errors) > 1
            else (lines[0],)
        )


class OutputError(OSError):
    """A results folder could not be written (exists, unwritable, or a run failed)."""
