"""Charts and the chart pack, including a check of the page in a real headless browser.

The printed report (``report.pdf``) is tests/test_report_print.py's."""

from __future__ import annotations

import html
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from sim.apps.cli import main
from sim.outputs import report
from sim.outputs.charts import chart_set, draw
from tests.conftest import ROOT

EXPECTED_KINDS = {
    "fan", "distribution", "regions", "segments", "team", "cost", "exceedance", "overlay",
    "comparison",
}  # fmt: skip
CHARTS = 8 * 2 + 6 + 1
"""Charts of the pack of two scenarios: 8 each, 6 with both on the same axes, the comparison."""


@pytest.fixture(scope="module")
def results(two_scenarios):
    # assumptions held fixed: the pack's workforce section says how to get it (its answers
    # and chart, for a run that draws them, are tests/test_report_workforce.py's)
    return two_scenarios


@pytest.fixture(scope="module")
def pack(two_scenario_pack):
    return two_scenario_pack


def test_every_chart_kind_is_drawn_with_its_words(results):
    charts = chart_set(results)
    assert {c.kind for c in charts} == EXPECTED_KINDS
    assert len({c.key for c in charts}) == len(charts)
    for chart in charts:
        assert chart.title and chart.subtitle and chart.caption and chart.alt_text
        assert "replications" in chart.footnote and "seed 3" in chart.footnote
        assert len(chart.title.split()) <= 16, chart.title  # short titles that say the finding
        assert "replications" in chart.subtitle  # the statistic, as ONS guidance asks
        assert not chart.table.empty
        figure = draw(chart)
        assert figure.axes


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.hrefs, self.missing_alt = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs["src"])
            if not attrs.get("alt"):
                self.missing_alt += 1
        if tag == "a":
            self.hrefs.append(attrs["href"])


def test_pack_has_every_file_and_every_link_resolves(pack):
    page = (pack / "index.html").read_text(encoding="utf-8")
    links = _Links()
    links.feed(page)
    assert len(links.sources) == CHARTS  # every chart differs from the baseline's here
    assert links.missing_alt == 0
    for target in links.sources + [h for h in links.hrefs if not h.startswith("#")]:
        assert (pack / target).is_file(), target
    for png in (pack / "charts").glob("*.png"):
        assert (pack / "charts" / f"{png.stem}.svg").is_file()
        assert (pack / "data" / f"{png.stem}.csv").is_file()
    assert "http://" not in page and "https://" not in page  # opens offline


def test_page_has_assumptions_differences_model_and_manifest(pack):
    page = (pack / "index.html").read_text(encoding="utf-8")
    for heading in ("Key findings", "Scenarios compared", "What the scenarios change",
                    "Each scenario in detail", "Appendix A: every assumption",
                    "1. Objectives", "2. Logic", "3. Data", "4. Experimentation",
                    "5. Implementation", "6. Code access", "Appendix C: about this run"):  # fmt: skip
        assert heading in page
    # the difference between the scenarios, in words, a column per scenario
    differences = re.search(r'<table id="differences-table".*?</table>', page, re.S).group(0)
    assert "<th>Programme cap</th>" in differences.replace(' scope="row"', "")
    assert differences.count("<tr>") == 2  # the header and the cap: nothing else differs
    assert "<td>15</td><td>20</td>" in differences
    assert "about 15 trusts at a time" in page  # a published source in the assumptions
    # a run with the assumptions fixed: the workforce section says how to get its answers
    section = page[page.index('<section id="workforce"') : page.index('<section id="assumptions"')]
    assert "--uncertainty parameters" in section and "workforce-table" not in section
    # the run's manifest, whole, beside the page
    assert (pack / "data" / "run_manifest.json").is_file() and "run_manifest.json" in page


def _text(page: str) -> str:
    """What a reader sees of the page: its text without tags, scripts or styles."""
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_the_page_opens_with_the_findings_then_compares_then_details(pack, results):
    page = (pack / "index.html").read_text(encoding="utf-8")
    order = [page.index(f'id="{key}"') for key in
             ("findings", "compared", "detail", "workforce", "assumptions", "model", "manifest")]
    assert order == sorted(order)
    findings = re.search(r'<section id="findings">(.*?)</section>', page, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", findings, re.S).group(1)
    rows = re.findall(r"<tr[^>]*><th[^>]*>(.*?)</th>(.*?)</tr>", body, re.S)
    assert len(rows) == 8  # each key figure, a row
    summary = results.summary()
    waiting = summary[(summary["scenario"] == "cap_20") & (summary["metric"] == "waiting")
                      & (summary["frequency"] == "year") & (summary["group"] == "all")].iloc[-1]
    cells = dict((html.unescape(k), re.findall(r"<td>(.*?)</td>", v)) for k, v in rows)
    label = next(k for k in cells if k.startswith("Trusts waiting"))
    assert cells[label][1] == f"{waiting['q50']:.0f} ({waiting['q05']:.0f} to {waiting['q95']:.0f})"


def test_publication_text_names_scenarios_by_title_and_no_field_path(pack):
    """No scenario's file name (cap_20) and no dotted field path (programme.cap) in what a
    reader sees: scenarios by their titles, assumptions by their plain labels."""
    text = _text((pack / "index.html").read_text(encoding="utf-8"))
    assert "Programme cap of 20 trusts" in text and "Baseline forecast" in text
    assert "cap_20" not in text
    assert not re.findall(r"\b[a-z_]+\.[a-z_]+\.[a-z_]+", text)  # no a.b.c paths
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text.replace("run_manifest.json", ""))


def test_charts_of_the_page_are_bare_and_their_svg_has_real_text_title_and_desc(pack, results):
    """Title and caption once: in the page, not in its images; the SVG's text is text
    (editable), and its title and alt text are its <title> and <desc>."""
    chart = next(c for c in chart_set(results) if c.key == "baseline-caseload")
    svg = (pack / "charts" / "baseline-caseload.svg").read_text(encoding="utf-8")
    assert f"<title id=\"chart-title\">{html.escape(chart.title)}</title>" in svg
    assert f"<desc id=\"chart-desc\">{html.escape(chart.alt_text)}</desc>" in svg
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert "Trusts in the programme" in texts  # the axis label, as text
    assert not any(chart.title[:30] in t or chart.caption[:30] in t for t in texts)
    page = (pack / "index.html").read_text(encoding="utf-8")
    assert page.count(html.escape(chart.title)) == 1  # once, as the figure's heading


def test_the_workbook_has_a_sheet_per_chart_with_its_data(pack, results):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(pack / "data" / "charts.xlsx", read_only=True)
    charts = chart_set(results)
    assert book.sheetnames[0] == "Contents" and len(book.sheetnames) == len(charts) + 1
    contents = list(book["Contents"].values)
    assert [row[1] for row in contents[1:]] == [c.title for c in charts]
    chart = charts[0]
    rows = list(book[contents[1][0]].values)
    assert list(rows[0]) == list(chart.table.columns) and len(rows) == len(chart.table) + 1


def test_text_from_scenario_files_is_escaped(pack):
    page = (pack / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page


TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108020000009077"
    "53de0000000c4944415408d763f8ffff3f0005fe02fea7356a810000000049454e44ae426082"
)
"""A PNG of one white pixel."""


def _quick_save(chart, folder) -> None:
    """A chart of the page written without drawing it (the back-test's small, to keep its
    shape), for tests of what the command writes rather than of the charts: drawing is
    most of a pack's time."""
    png, svg = Path(folder) / f"{chart.key}.png", Path(folder) / f"{chart.key}.svg"
    if chart.kind == "backtest":
        draw(chart).savefig(png, dpi=15)
    else:
        png.write_bytes(TINY_PNG)
    svg.write_text("<svg/>", encoding="utf-8")


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(report, "save", _quick_save)


def test_report_command_refuses_to_overwrite(results, tmp_path, capsys, quick):
    folder = tmp_path / "run"
    results.save(folder)
    assert main(["report", str(folder), "--no-backtest", "--no-pdf"]) == 0
    assert (folder / "report" / "index.html").is_file()
    assert main(["report", str(folder)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["report", str(folder), "--force", "--baseline", "nosuch"]) == 2  # bad input


# ---------------------------------------------------------------------- the back-test


@pytest.fixture(scope="module")
def saved_run(results, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "run"
    results.save(folder)
    return folder


def _report_in(where: Path, run: Path, out: Path, *options: str) -> int:
    """``python -m sim report`` run from ``where`` (the history scenario's path is relative
    to the working folder, as every command's default files are)."""
    here = Path.cwd()
    os.chdir(where)
    try:
        return main(["report", str(run), "--out", str(out), *options])
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def backtest_pack(saved_run, tmp_path_factory):
    """A chart pack made from the project folder: with the back-test (the defaults)."""
    out = tmp_path_factory.mktemp("pack") / "with-backtest"
    with pytest.MonkeyPatch.context() as patch:  # the charts are test_pack_...'s to check
        patch.setattr(report, "save", _quick_save)
        assert _report_in(ROOT, saved_run, out, "--no-pdf") == 0
    return out


def test_report_writes_the_backtest_section_chart_and_tables(backtest_pack):
    page = (backtest_pack / "index.html").read_text(encoding="utf-8")
    contents = page[page.index("<nav") : page.index("</nav>")]
    assert contents.index("#detail") < contents.index("#backtest") < contents.index("#assumptions")
    assert "<h2>Does the model reproduce the last decade?</h2>" in page
    assert page.index('id="detail"') < page.index('id="backtest"') < page.index('id="assumptions"')
    # the findings give the back-test's count as its section does
    findings = page[page.index('<section id="findings">') : page.index("</section>")]
    summary = re.search(r'<p id="backtest-summary">(.*?)</p>', page).group(1)
    assert summary.split(": ")[0] + "." in findings
    for name in ("charts/backtest.png", "charts/backtest.svg", "data/backtest.csv",
                 "data/programme_stock.csv"):  # fmt: skip
        assert (backtest_pack / name).is_file(), name
        assert name.endswith(".png") or f'href="{name}"' in page  # linked from the page
    links = _Links()
    links.feed(page)
    assert "charts/backtest.png" in links.sources and len(links.sources) == CHARTS + 1
    # the image box has the chart's own shape (three panels: taller than the others)
    png = (backtest_pack / "charts" / "backtest.png").read_bytes()
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    image = re.search(r'<img src="charts/backtest.png"[^>]*>', page).group(0)
    assert f'width="{width}" height="{height}"' in image
    assert height > width / 2  # three panels: taller than the others
    # the sentence counts the figures of data/backtest.csv, as python -m sim backtest does
    table = pd.read_csv(backtest_pack / "data" / "backtest.csv", keep_default_na=False)
    compared = table[table["compared"]]
    fitted, held = compared[compared["used_in_fit"]], compared[~compared["used_in_fit"]]
    summary = html.unescape(re.search(r'<p id="backtest-summary">(.*?)</p>', page).group(1))
    assert (f"puts {int(compared['inside'].sum())} of the {len(compared)} published figures "
            "about the programme's history inside its 90% range: "
            f"{int(fitted['inside'].sum())} of the {len(fitted)} used to fit it and "
            f"{int(held['inside'].sum())} of the {len(held)} held out of the fit.") in summary  # fmt: skip
    skipped = len(table) - len(compared)
    assert skipped == 0 or "not compared" in summary
    assert "docs/VALIDATION.md" in summary
    # one row per figure in the table, with its verdict
    rows = re.search(r'<table id="backtest-table">(.*?)</table>', page, re.S).group(1)
    assert rows.count("<tr>") == len(table) + 1
    assert rows.count("<td>yes</td>") == int(compared["inside"].sum())
    assert rows.count("<td>held out</td>") == int((~table["used_in_fit"]).sum())


def test_backtest_chart_title_counts_the_published_counts_drawn(backtest_pack):
    """The title's counts are the stock figures of data/backtest.csv on a series of
    data/programme_stock.csv (every route, and each route with published counts)."""
    page = (backtest_pack / "index.html").read_text(encoding="utf-8")
    title = re.search(r'<figure id="backtest"[^>]*><figcaption><h4>(.*?)</h4>', page).group(1)
    table = pd.read_csv(backtest_pack / "data" / "backtest.csv", keep_default_na=False)
    stock = pd.read_csv(backtest_pack / "data" / "programme_stock.csv", keep_default_na=False)
    routes = set(stock["route"])
    assert "" in routes and "quality" in routes  # quality special measures is published
    drawn = table[(table["measure"] == "in_programme") & table["compared"]
                  & table["route"].isin(routes)]  # fmt: skip
    assert routes - {""} <= set(drawn["route"])  # a route's series only for its counts
    assert len(drawn) == len(table[(table["measure"] == "in_programme") & table["compared"]])
    assert title.startswith(f"{int(drawn['inside'].sum())} of {len(drawn)} published counts")


def test_backtest_in_the_pack_equals_the_backtest_command(backtest_pack, tmp_path, capsys):
    """Same history scenario, replications (100) and seed (2025): the same numbers."""
    out = tmp_path / "bt"
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        assert main(["backtest", "--out", str(out), "--no-progress"]) == 0
    finally:
        os.chdir(here)
    command_line = capsys.readouterr().out.strip().splitlines()[-3]  # before the folder line
    for name in ("backtest.csv", "programme_stock.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(backtest_pack / "data" / name), pd.read_csv(out / name)
        )
        assert (backtest_pack / "data" / name).read_bytes() == (out / name).read_bytes()
    page = (backtest_pack / "index.html").read_text(encoding="utf-8")
    summary = re.search(r'<p id="backtest-summary">(.*?)</p>', page).group(1)
    inside, compared = re.match(r"(\d+) of (\d+) published figures", command_line).groups()
    assert f"puts {inside} of the {compared} published figures" in summary


def test_no_backtest_leaves_the_section_out(saved_run, tmp_path, quick):
    out = tmp_path / "pack"
    assert _report_in(ROOT, saved_run, out, "--no-backtest", "--no-pdf") == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "backtest" not in page and "last decade" not in page
    assert not list(out.glob("*/backtest*")) and not (out / "data" / "programme_stock.csv").exists()


def test_a_pack_made_elsewhere_says_the_history_scenario_was_not_found(saved_run, tmp_path,
                                                                       capsys, quick):  # fmt: skip
    out = tmp_path / "pack"
    (tmp_path / "scenarios").mkdir()  # used instead of the package's, and without history/
    assert _report_in(tmp_path, saved_run, out, "--no-pdf") == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="backtest"') : page.index('<section id="assumptions"')]
    assert "was not found" in section and "regimes_2013_2026.yaml" in section
    assert not list(out.glob("*/backtest*"))
    assert "back-test left out" in capsys.readouterr().err


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium and chromedriver (installed by .ci/run)")
        pytest.skip("headless Chromium is not installed here")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1300,900"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=driver)  # no driver download
    return webdriver.Chrome(options=options, service=service)


@pytest.mark.parametrize("which", ["pack", "backtest_pack"])
def test_page_loads_in_a_headless_browser_with_every_image(which, request):
    pack = request.getfixturevalue(which)
    browser = _browser()
    try:
        browser.get(Path(pack / "index.html").resolve().as_uri())
        assert "Provider Improvement Programme" in browser.title
        broken = browser.execute_script(
            "return Array.from(document.images)"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);"
        )
        assert broken == []
        count = browser.execute_script("return document.images.length;")
        assert count == CHARTS + (which == "backtest_pack")  # and the back-test's chart
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        browser.quit()


def test_the_model_imports_no_plotting_or_tables():
    """The model layer stays light: no matplotlib or pandas behind a replication."""
    import subprocess
    import sys

    code = (
        "import sys; from sim.model import run_replication, compile_scenario; "
        "from sim.scenario import load_scenario; "
        f"run_replication(load_scenario({str(Path(__file__).parents[1] / 'scenarios' / 'baseline.yaml')!r}), 1, 0); "
        "print(sorted(m for m in ('matplotlib', 'pandas') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
