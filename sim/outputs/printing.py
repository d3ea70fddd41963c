"""The chart pack's printable report: ``index.html`` printed to ``report.pdf`` by a headless
Chromium (or Google Chrome) found on the PATH.

The page's print rules (in :mod:`sim.outputs.report`'s style sheet) set the A4 page, keep
each heading with what follows it and each chart whole, and start each major section on a
new page, so the findings page is the first. The PDF's creation and modification dates are
set to the run's start, so the same results give the same file byte for byte. Without a
browser the pack is written without the PDF and :data:`HOW_TO_GET` says how to get one.
Knows nothing of charts or results beyond that date.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sim.errors import OutputError

PDF = "report.pdf"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
"""Programs that can print the page, looked for on the PATH in this order."""
HOW_TO_GET = (
    "install Chromium (Debian and Ubuntu: sudo apt-get install chromium; macOS: brew install "
    "--cask chromium) or Google Chrome, so that one of chromium, chromium-browser or "
    "google-chrome is on the PATH, then make the pack again; or pass --no-pdf to leave the "
    "PDF out without this note"
)
TIMEOUT_SECONDS = 300
_DATES = re.compile(rb"(/(?:CreationDate|ModDate) \(D:)\d{14}\+00'00'\)")
"""A date the browser writes in UTC: replaced by one of the same length, so the file's table
of byte offsets stays right."""


def find_browser() -> str | None:
    """The first of :data:`BROWSERS` on the PATH, or None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(page: Path, out: Path, browser: str, when: dt.datetime | None = None) -> Path:
    """Print ``page`` (an HTML file) to ``out`` with ``browser`` headless: A4 as the page's
    print rules ask, no header or footer of the browser's own. ``when``: the date the PDF
    records as made (default: the browser's clock). Returns ``out``.

    Raises
    ------
    OutputError
        If the browser fails, times out or writes no PDF.
    """
    with tempfile.TemporaryDirectory(prefix="sim-print-") as profile:
        command = [
            browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-sync", "--disable-component-update",
            f"--user-data-dir={profile}", "--no-pdf-header-footer",
            f"--print-to-pdf={out}", page.resolve().as_uri(),
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root without it
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OutputError(f"{browser} could not print {page.name} to PDF: {exc}") from None
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise OutputError(f"{browser} could not print {page.name} to PDF: {last}")
    if when is not None:
        stamp = when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S").encode()
        data = _DATES.sub(lambda m: m.group(1) + stamp + b"+00'00')", out.read_bytes())
        out.write_bytes(data)
    return out
