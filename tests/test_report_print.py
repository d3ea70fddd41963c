"""The printed report (issue 17, items 9 and 10): ``report.pdf`` is the page printed on A4 by
headless Chromium, opens with the findings, has content on every page and leaves no heading
at a page's foot; without a browser the pack is written without it and the command says how
to get one.

The pack printed here is the one tests/test_report.py checks (a session fixture of
conftest.py, made once); the four-scenario pack of the README is checked in the slow tier.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import struct
import unicodedata
import zlib
from pathlib import Path

import pytest

from sim import run_experiment
from sim.apps.cli import main
from sim.experiment.settings import RunSettings
from sim.outputs import report
from sim.outputs.printing import find_browser
from tests.conftest import SCENARIOS


def _tiny_png(chart, folder) -> None:
    """A chart's file without drawing it, for tests of what the command writes."""
    header = b"\x89PNG\r\n\x1a\n"
    pixels = zlib.compress(b"\x00\xff\xff\xff")

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    size = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    png = header + chunk(b"IHDR", size) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    (Path(folder) / f"{chart.key}.png").write_bytes(png)


def _needs_a_browser():
    if find_browser() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium (installed by .ci/run)")
        pytest.skip("no Chromium or Chrome here to print with")
    return pytest.importorskip("pypdf")


@pytest.fixture(scope="module")
def results(two_scenarios):
    return two_scenarios


@pytest.fixture(scope="module")
def one_run(short, tmp_path_factory):
    """A results folder of one scenario, for the command's options."""
    run = tmp_path_factory.mktemp("one") / "run"
    run_experiment([short], settings=RunSettings(3, seed=5, uncertainty="noise")).save(run)
    return run


@pytest.fixture(scope="module")
def printed(two_scenario_pack):
    pypdf = _needs_a_browser()
    pdf = pypdf.PdfReader(two_scenario_pack / "report.pdf")
    return two_scenario_pack, pdf, [_lines(page) for page in pdf.pages]


def _lines(page) -> list[str]:
    """The page's lines of text (ligatures such as 'fi' as their letters)."""
    text = unicodedata.normalize("NFKC", page.extract_text())
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_the_pdf_is_a4_with_content_on_every_page_and_the_run_s_date(printed, results):
    folder, pdf, lines = printed
    assert len(pdf.pages) >= 5
    for number, (page, text) in enumerate(zip(pdf.pages, lines, strict=True), 1):
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (595, 842), number  # A4 in points
        assert len(" ".join(text)) > 40, f"page {number} is empty"
    started = dt.datetime.fromisoformat(results.manifest["started_utc"])
    assert pdf.metadata["/CreationDate"].startswith(f"D:{started:%Y%m%d%H%M%S}")
    assert "Programme cap of 20 trusts" in pdf.metadata["/Title"]


def test_the_findings_page_comes_first(printed):
    _, _, lines = printed
    first = " ".join(lines[0])
    assert "Key findings" in first and "Key figures by scenario" in first
    assert "Scenarios compared" not in first  # it starts the next page
    assert "Scenarios compared" in " ".join(lines[1])


def test_no_heading_is_left_at_a_page_foot(printed):
    """No page ends with a heading: each stays with what follows it (break-after: avoid,
    and each chart kept whole)."""
    folder, _, lines = printed
    page = (folder / "index.html").read_text(encoding="utf-8")
    headings = {" ".join(html.unescape(re.sub(r"<[^>]+>", "", h)).split())
                for h in re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", page, re.S)}  # fmt: skip
    headings.discard("Contents")  # the contents are not printed
    assert len(headings) > 20
    for number, text in enumerate(lines[:-1], 1):  # the last page may end anywhere
        foot = " ".join(text[-3:])
        for heading in headings:
            assert not foot.endswith(heading), f"page {number} ends with the heading {heading!r}"


def test_no_browser_writes_the_pack_without_the_pdf_and_says_how(one_run, tmp_path, capsys,
                                                                 monkeypatch):  # fmt: skip
    monkeypatch.setattr(report, "save", _tiny_png)
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on it
    out = tmp_path / "pack"
    assert main(["report", str(one_run), "--no-backtest", "--out", str(out)]) == 0
    assert (out / "index.html").is_file() and not (out / "report.pdf").exists()
    err = capsys.readouterr().err
    assert "report.pdf left out" in err and "chromium" in err and "--no-pdf" in err
    assert main(["report", str(one_run), "--no-backtest", "--no-pdf", "--force", "--out",
                 str(out)]) == 0  # fmt: skip
    assert "report.pdf" not in capsys.readouterr().err  # asked for no PDF: no note


def test_bare_writes_only_the_charts_and_their_data(one_run, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "save", _tiny_png)
    pack = tmp_path / "pack"
    assert main(["report", str(one_run), "--no-backtest", "--bare", "--out", str(pack)]) == 0
    assert not (pack / "index.html").exists() and not (pack / "report.pdf").exists()
    assert len(list((pack / "charts").glob("*.png"))) == 8
    assert (pack / "data" / "charts.xlsx").is_file()


@pytest.mark.slow
def test_the_four_scenario_pack_prints_on_about_twenty_pages(tmp_path):
    """The README's pack: four scenarios of 200 replications each, at full size."""
    pypdf = _needs_a_browser()
    names = ["baseline.yaml", "cap_10.yaml", "no_cut.yaml", "policy_backfill.yaml"]
    run = tmp_path / "run"
    assert main(["run", *(str(SCENARIOS / n) for n in names), "--reps", "200", "--out",
                 str(run), "--no-progress"]) == 0  # fmt: skip
    here = Path.cwd()
    os.chdir(SCENARIOS.parent)
    try:
        assert main(["report", str(run), "--standalone-charts"]) == 0
    finally:
        os.chdir(here)
    pdf = pypdf.PdfReader(run / "report" / "report.pdf")
    assert 16 <= len(pdf.pages) <= 26
    assert len(list((run / "report" / "charts" / "standalone").glob("*.png"))) == len(
        list((run / "report" / "charts").glob("*.png")))  # fmt: skip
