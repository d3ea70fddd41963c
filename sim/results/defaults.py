"""Defaults of the results layer that the command line shows in its help, importable
without pandas or scipy (``python -m sim --help`` stays quick). Standard library only."""

from __future__ import annotations

DEFAULT_PRECISION = 0.05
"""Target relative half-width of the 95% interval of the main metrics' means."""
