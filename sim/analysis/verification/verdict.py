"""The verdict of a theory check: its record, its tolerance rule and the table of results.

Role: :class:`CheckResult` (one check's expected and simulated values, tolerance, PASS or
FAIL and a plain-English account), the rule that a statistical check passes when the
simulated value is within :data:`Z` standard errors of the expected one
(:func:`mean_check`, :func:`within_standard_errors`), and :func:`format_checks`, the text
table ``python -m sim theory`` shows.

Must not: run the model, know about queues or scenarios, or print: it returns results and
text for the caller to show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z = 3.5
"""Tolerance of the statistical checks, in standard errors of the replication mean."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one theory check.

    ``passed`` is ``abs(simulated - expected) <= tolerance``. Values are in the units the
    description names (trusts, weeks, a probability, a count of violations).
    """

    name: str
    """Short identifier, e.g. ``erlang_c_wait_probability``."""
    description: str
    """What is compared with what, with units."""
    expected: float
    """Value theory gives."""
    simulated: float
    """Value the simulation gives (a mean over replications, or a count)."""
    tolerance: float
    """Largest difference accepted, in the same units (e.g. 3.5 standard errors)."""
    passed: bool
    detail: str
    """The numbers in plain English: what was measured, how the tolerance was set."""


def fmt(value: float) -> str:
    """Four significant figures, without trailing noise."""
    return f"{value:.4g}"


def with_unit(unit: str) -> str:
    """`` unit`` to follow a number, or nothing for a unitless value."""
    return f" {unit}" if unit else ""


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of independent ``values`` (sample standard deviation)."""
    return float(values.std(ddof=1) / math.sqrt(values.size))


def within_standard_errors(
    name: str,
    description: str,
    expected: float,
    simulated: float,
    se: float,
    numbers: str,
    unit: str,
    z: float = Z,
) -> CheckResult:
    """Pass when ``simulated`` is within ``z`` standard errors ``se`` of ``expected``.

    Parameters
    ----------
    name, description
        Identify the check (see :class:`CheckResult`).
    expected, simulated
        Theoretical and simulated values, in ``unit``.
    se
        Standard error of the simulated value (or of the difference), in ``unit``.
    numbers
        Plain-English account of the measurement, to which the verdict is appended.
    unit
        Unit of the values (may be empty for a probability or ratio).
    z
        Tolerance in standard errors.

    Returns
    -------
    CheckResult
    """
    tolerance = z * se
    difference = abs(simulated - expected)
    passed = bool(difference <= tolerance)
    verdict = "within" if passed else "outside"
    detail = (
        f"{numbers} The difference, {fmt(difference)}{with_unit(unit)}, is {verdict} the "
        f"tolerance of {fmt(z)} standard errors ({fmt(tolerance)}{with_unit(unit)})."
    )
    return CheckResult(name, description, float(expected), simulated, tolerance, passed, detail)


def mean_check(
    name: str,
    description: str,
    expected: float,
    values: Sequence[float] | np.ndarray,
    *,
    measured: str,
    theory: str,
    unit: str = "",
    z: float = Z,
) -> CheckResult:
    """Compare the mean of per-replication estimates with a theoretical value.

    ``values`` holds one independent estimate per replication (at least two), in ``unit``;
    ``measured`` names what each estimates and ``theory`` says where ``expected`` comes
    from, both in plain English for the detail. The other parameters are those of
    :func:`within_standard_errors`, with ``z`` counted in standard errors of the mean.
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2 or np.isnan(values).any():
        raise ValueError(f"{name}: need at least two replication estimates and no NaN")
    simulated = float(values.mean())
    se = standard_error(values)
    u = with_unit(unit)
    numbers = (
        f"{measured}: {fmt(simulated)}{u} on average over {values.size} "
        f"replications (standard error {fmt(se)}). {theory} {fmt(expected)}{u}."
    )
    return within_standard_errors(name, description, expected, simulated, se, numbers, unit, z)


def format_checks(results: Sequence[CheckResult], *, details: bool = False) -> str:
    """A table of check results, one line per check, and a final count.

    Parameters
    ----------
    results
        Check results, e.g. from :func:`~sim.analysis.verification.run_theory_checks`.
    details
        Also give each check's description and plain-English detail under its line.

    Returns
    -------
    str
        Columns check, expected, simulated, difference, tolerance and PASS or FAIL; the
        last line reads ``"N passed, N failed"``. No trailing newline.
    """
    header = ("check", "expected", "simulated", "difference", "tolerance", "result")
    rows = [
        (
            r.name,
            fmt(r.expected),
            fmt(r.simulated),
            fmt(abs(r.simulated - r.expected)),
            fmt(r.tolerance),
            "PASS" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:-1], strict=True)]
        cells.append(row[-1])
        return "  ".join(cells)

    lines = [line(header), "  ".join("-" * w for w in widths)]
    for result, row in zip(results, rows, strict=True):
        lines.append(line(row))
        if details:
            lines += [f"    {result.description}", f"    {result.detail}", ""]
    passed = sum(r.passed for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)
