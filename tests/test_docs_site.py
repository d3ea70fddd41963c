"""The documentation site (mkdocs.yml): every page is in the navigation, every navigation
entry, README section and documented module exists, and (slow) the site builds with
``mkdocs build --strict``, which fails on a broken link or cross-reference."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPET = re.compile(r'^--8<-- "(?P<file>[^":]+):(?P<section>[\w-]+)"$', re.MULTILINE)
AUTODOC = re.compile(r"^::: (?P<module>[\w.]+)$", re.MULTILINE)


def _nav_pages(entries) -> list[str]:
    """The page files a navigation (a list of pages and titled sections) names."""
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            pages.extend(_nav_pages(value))
        else:
            pages.append(value)
    return pages


@pytest.fixture(scope="module")
def nav() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return _nav_pages(config["nav"])


def _pages() -> list[str]:
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def test_every_page_is_in_the_navigation(nav):
    missing = [page for page in _pages() if page not in nav]
    assert not missing, f"add these pages to nav in mkdocs.yml: {missing}"


def test_every_navigation_entry_is_a_page_listed_once(nav):
    absent = [page for page in nav if not (DOCS / page).is_file()]
    assert not absent, f"nav in mkdocs.yml names pages that do not exist: {absent}"
    twice = sorted({page for page in nav if nav.count(page) > 1})
    assert not twice, f"nav in mkdocs.yml lists these pages more than once: {twice}"


@pytest.mark.parametrize("page", _pages())
def test_included_sections_and_documented_modules_exist(page):
    """A page that takes a section of README.md needs its markers there (README.md is
    edited often); a reference page's ``::: module`` must name a module of the package."""
    text = (DOCS / page).read_text(encoding="utf-8")
    for match in SNIPPET.finditer(text):
        source = (ROOT / match["file"]).read_text(encoding="utf-8")
        for end in ("start", "end"):
            marker = f"<!-- --8<-- [{end}:{match['section']}] -->"
            assert marker in source, f"{page} includes {match[0]}; {match['file']} lacks {marker}"
    for match in AUTODOC.finditer(text):
        assert importlib.util.find_spec(match["module"]) is not None, (page, match["module"])


@pytest.mark.slow
def test_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stdout + build.stderr
    for page in ("index.html", "setup/index.html", "reference/scenario/index.html"):
        assert (tmp_path / page).is_file(), page
    reference = (tmp_path / "reference/scenario/index.html").read_text(encoding="utf-8")
    assert 'id="sim.scenario.load_scenario"' in reference
