"""Charts and the chart pack, including a check of the page in a real headless browser."""

from __future__ import annotations

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sim import run_experiment
from sim.apps.cli import main
from sim.outputs.charts import chart_set, draw
from sim.outputs.report import write_chart_pack
from sim.scenario import with_changes

EXPECTED_KINDS = {"fan", "distribution", "segments", "team", "cost", "exceedance", "comparison"}


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
    return run_experiment([short, hostile], replications=6, seed=3)


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
    assert len(links.sources) == 15  # 7 charts per scenario and the comparison
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


def test_text_from_scenario_files_is_escaped(pack):
    page = (pack / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page


def test_report_command_refuses_to_overwrite(results, tmp_path, capsys):
    folder = tmp_path / "run"
    results.save(folder)
    assert main(["report", str(folder)]) == 0
    assert (folder / "report" / "index.html").is_file()
    assert main(["report", str(folder)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["report", str(folder), "--force", "--baseline", "nosuch"]) == 2  # bad input


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


def test_page_loads_in_a_headless_browser_with_every_image(pack):
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
        assert count == 15
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
