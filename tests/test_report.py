"""Charts and the chart pack, including a check of the page in a real headless browser."""

from __future__ import annotations

import html
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from sim import run_experiment
from sim.apps.cli import main
from sim.experiment.settings import RunSettings
from sim.outputs.charts import chart_set, draw
from sim.outputs.report import write_chart_pack
from sim.scenario import with_changes
from tests.conftest import ROOT

EXPECTED_KINDS = {
    "fan", "distribution", "regions", "segments", "team", "cost", "exceedance", "comparison",
}  # fmt: skip


@pytest.fixture(scope="module")
def results(short):
    hostile = with_changes(
        short,
        {
            "name": "cap_20",
            "programme.cap": 20,
            "description": 'Bigger cap <script>alert("x")</script> & "quotes"',
        },
    )
    # assumptions held fixed: the pack's workforce section says how to get it (its answers
    # and chart, for a run that draws them, are tests/test_report_workforce.py's)
    return run_experiment([short, hostile], settings=RunSettings(6, seed=3, uncertainty="noise"))


@pytest.fixture(scope="module")
def pack(results, tmp_path_factory):
    return write_chart_pack(results, tmp_path_factory.mktemp("pack") / "report")


def test_every_chart_kind_is_drawn_with_its_words(results):
    charts = chart_set(results)
    assert {c.kind for c in charts} == EXPECTED_KINDS
    assert len({c.key for c in charts}) == len(charts)
    for chart in charts:
        assert chart.title and chart.caption and chart.alt_text and chart.footnote
        assert "replications" in chart.footnote and "seed 3" in chart.footnote
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
    assert len(links.sources) == 17  # 8 charts per scenario and the comparison
    assert links.missing_alt == 0
    for target in links.sources + [h for h in links.hrefs if not h.startswith("#")]:
        assert (pack / target).is_file(), target
    for png in (pack / "charts").glob("*.png"):
        assert (pack / "charts" / f"{png.stem}.svg").is_file()
        assert (pack / "data" / f"{png.stem}.csv").is_file()
    assert "http://" not in page and "https://" not in page  # opens offline


def test_page_has_assumptions_differences_model_and_manifest(pack):
    page = (pack / "index.html").read_text(encoding="utf-8")
    for heading in ("Assumptions", "What differs between the scenarios", "1. Objectives",
                    "2. Logic", "3. Data", "4. Experimentation", "5. Implementation",
                    "6. Code access", "Run manifest"):  # fmt: skip
        assert heading in page
    assert "programme.cap" in page  # the difference between the scenarios is listed
    assert "about 15 trusts at a time" in page  # a published source in the assumptions
    # a run with the assumptions fixed: the workforce section says how to get its answers
    section = page[page.index('<h2 id="workforce">') : page.index('<h2 id="assumptions">')]
    assert "--uncertainty parameters" in section and "workforce-table" not in section


def test_text_from_scenario_files_is_escaped(pack):
    page = (pack / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page


def test_report_command_refuses_to_overwrite(results, tmp_path, capsys):
    folder = tmp_path / "run"
    results.save(folder)
    assert main(["report", str(folder), "--no-backtest"]) == 0
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
    assert _report_in(ROOT, saved_run, out) == 0
    return out


def test_report_writes_the_backtest_section_chart_and_tables(backtest_pack):
    page = (backtest_pack / "index.html").read_text(encoding="utf-8")
    contents = page[page.index("<nav>") : page.index("</nav>")]
    assert contents.index("#charts") < contents.index("#backtest") < contents.index("#assumptions")
    assert '<h2 id="backtest">Does the model reproduce the last decade?</h2>' in page
    assert page.index('id="charts"') < page.index('id="backtest"') < page.index('id="assumptions"')
    for name in ("charts/backtest.png", "charts/backtest.svg", "data/backtest.csv",
                 "data/programme_stock.csv"):  # fmt: skip
        assert (backtest_pack / name).is_file(), name
        assert name.endswith(".png") or f'href="{name}"' in page  # linked from the page
    links = _Links()
    links.feed(page)
    assert "charts/backtest.png" in links.sources and len(links.sources) == 18
    # the image box has the chart's own shape (three panels: taller than the others)
    png = (backtest_pack / "charts" / "backtest.png").read_bytes()
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    image = re.search(r'<img src="charts/backtest.png"[^>]*>', page).group(0)
    assert f'width="{width}" height="{height}"' in image
    assert height > 930
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
    title = re.search(r'<figure id="backtest"><h4>(.*?)</h4>', page).group(1)
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


def test_no_backtest_leaves_the_section_out(saved_run, tmp_path):
    out = tmp_path / "pack"
    assert _report_in(ROOT, saved_run, out, "--no-backtest") == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "backtest" not in page and "last decade" not in page
    assert not list(out.glob("*/backtest*")) and not (out / "data" / "programme_stock.csv").exists()


def test_a_pack_made_elsewhere_says_the_history_scenario_was_not_found(saved_run, tmp_path,
                                                                       capsys):  # fmt: skip
    out = tmp_path / "pack"
    (tmp_path / "scenarios").mkdir()  # used instead of the package's, and without history/
    assert _report_in(tmp_path, saved_run, out) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    section = page[page.index('<h2 id="backtest">') : page.index('<h2 id="assumptions">')]
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
        assert count == 17 + (which == "backtest_pack")  # and the back-test's chart
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
