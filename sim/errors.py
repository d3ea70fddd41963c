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


class ArgumentError(ValueError):
    """An argument of a call that cannot be used (bad input, exit code 2 at the command line).

    ``argument`` names it as the command line spells it (``--target``, ``--min``,
    ``RESULTS``), so the command line reports it without guessing from the message, and
    ``reason`` says why in plain English.
    """

    def __init__(self, argument: str, reason: str):
        self.argument = argument
        self.reason = reason
        super().__init__(f"argument {argument}: {reason}")


class OutputError(OSError):
    """A results folder could not be written (exists, unwritable, or a run failed)."""


class FolderError(OutputError):
    """A folder named as input or output cannot be used as asked: bad input (exit code 2).

    Raised when ``--force`` would replace a folder this tool did not write (or one of
    another kind), and when a results folder to read is damaged or has been changed since
    it was written (bad manifest, missing, truncated or altered tables).
    """


class RunError(OutputError):
    """A run had to stop: a worker process died, or the run's own files on disk could not be
    used or written (exit code 1). The message says what was kept and how to continue."""
