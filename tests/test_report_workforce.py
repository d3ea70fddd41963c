"""The chart pack's workforce section (issue 16): the same answer as ``python -m sim run``
prints, the futures chart, the variance split from variance_split.csv, and what a run that
held the assumptions fixed says instead."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from sim import run_experiment
from sim.analysis.discovery import percent_words as percent
from sim.analysis.workforce import workforce_answer
from sim.experiment.runner import VARIANCE_FILE, run_to_folder
from sim.experiment.settings import RunSettings
from sim.outputs import report
from sim.outputs.charts import draw
from sim.outputs.charts.workforce import workforce_section
from sim.outputs.report import render_page, write_chart_pack
from sim.results import TABLE_FILE, load_results
from sim.scenario import with_changes

REPLICATIONS, SEED = 24, 3


@pytest.fixture(scope="module")
def scenario(short):
    """A team cut to 30 WTE: short of hours in some plausible futures and not in others."""
    return with_changes(short, {"team.national.wte_schedule[1].wte": 30.0})


@pytest.fixture(scope="module")
def folder(scenario, tmp_path_factory):
    settings = RunSettings(REPLICATIONS, seed=SEED, uncertainty="parameters", progress=False)
    folder, _ = run_to_folder([scenario], tmp_path_factory.mktemp("run") / "r", settings=settings)
    return folder


@pytest.fixture(scope="module")
def results(folder):
    return load_results(folder)


@pytest.fixture(scope="module")
def section(results):
    return workforce_section(results, list(results.scenarios))


def _cells(page: str, table: str) -> list[list[str]]:
    """Each body row's cells, its heading cell first."""
    body = re.search(rf'<table id="{table}"[^>]*>.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]  # fmt: skip


def test_the_section_gives_the_answer_run_prints(section, folder, scenario, results):
    # as python -m sim run reads it: the whole-forecast rows of its results folder's table
    wanted = [("metric", "in", ["national_demand_exceeded", "shortfall_hours"]),
              ("frequency", "==", "horizon")]  # fmt: skip
    tidy = pd.read_parquet(folder / TABLE_FILE, filters=wanted)
    expected = workforce_answer(tidy, scenario, SEED, REPLICATIONS)
    answer = section.answers[scenario.name]
    assert 0 < expected.probability < 1  # the fixture must have futures of both kinds
    assert answer.probability == expected.probability
    assert answer.mean_shortfall_hours == expected.mean_shortfall_hours
    assert answer.sentence() == expected.sentence()
    row = section.table().iloc[0]
    assert row["probability_short"] == expected.probability
    assert row["mean_shortfall_hours"] == expected.mean_shortfall_hours
    page = render_page(results, [], workforce=section)
    assert '<a href="#workforce">' in page
    assert _cells(page, "workforce-table") == [[
        scenario.title, percent(expected.probability), f"{expected.mean_shortfall_hours:,.0f}",
        expected.sentence()]]  # fmt: skip


def test_the_variance_split_is_the_run_files(section, folder, results):
    written = pd.read_csv(folder / VARIANCE_FILE)
    merged = section.variance.merge(written, on=["scenario", "frequency", "period", "metric",
                                                 "group"], suffixes=("", "_run"))  # fmt: skip
    assert len(merged) == len(section.variance) == 5  # the figures run prints
    for column in ("total", "noise", "assumptions_share"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_run"], rtol=1e-12)
    np.testing.assert_allclose(merged["noise_share"], 1 - merged["assumptions_share"])
    # a row per figure, a column per scenario: the share from the assumptions
    rows = _cells(render_page(results, [], workforce=section), "variance-table")
    figures = [f[:1].upper() + f[1:] for f in section.variance["figure"]]
    assert [r[0] for r in rows] == figures
    for cells, share in zip(rows, section.variance["assumptions_share"], strict=True):
        assert cells[1:] == [percent(share) if share == share else "no spread"]


def test_the_futures_chart_draws_the_rule_and_its_words_come_from_its_points(section, scenario):
    chart = section.charts[scenario.name]
    answer, table = section.answers[scenario.name], chart.table
    rule = answer.discovery.rule
    assert chart.meta["x"] == rule[0].parameter and len(table) == REPLICATIONS
    short, inside = table["short"].to_numpy(), table["inside_rule"].to_numpy()
    assert short.mean() == answer.probability
    assert short[inside].mean() == answer.discovery.density
    assert inside[short].mean() == answer.discovery.coverage
    assert f"short in {percent(short.mean())} of plausible futures" in chart.title
    assert f"{percent(short[inside].mean())} of those in the box" in chart.title
    assert "plausible futures" in chart.subtitle and "scenario discovery" in chart.subtitle
    assert answer.sentence() in chart.caption
    assert f"{int(short.sum())} short of hours" in chart.alt_text
    ax = draw(chart).axes[0]
    points = {line.get_label(): len(line.get_xdata()) for line in ax.get_lines()}
    assert points == {"Short of hours at some time": int(short.sum()),
                      "Never short of hours": int((~short).sum())}  # fmt: skip
    (box,) = [p for p in ax.patches if isinstance(p, Rectangle) and "box" in p.get_label()]
    (x0, y0), (x1, y1) = box.get_xy(), (box.get_x() + box.get_width(), box.get_y() + box.get_height())
    left, right = ax.get_xlim()
    bottom, top = ax.get_ylim()
    for condition in rule:  # each threshold is an edge of the box; open sides reach the edge
        edges = (x0, x1) if condition.parameter == chart.meta["x"] else (y0, y1)
        edge = edges[0] if condition.operator == ">" else edges[1]
        assert edge == pytest.approx(condition.threshold)
    if chart.meta["y"] == "shortfall_hours":  # one assumption: the box spans every height
        assert (y0, y1) == (pytest.approx(bottom), pytest.approx(top))
    assert left <= x0 < x1 <= right


def test_the_pack_writes_the_section_its_chart_and_tables(results, monkeypatch, tmp_path):
    monkeypatch.setattr(report, "chart_set", lambda *args: [])  # only this section's chart
    pack = write_chart_pack(results, tmp_path / "pack", pdf=False)
    page = (pack / "index.html").read_text(encoding="utf-8")
    name = next(iter(results.scenarios))
    for file in (f"charts/{name}-workforce.png", f"charts/{name}-workforce.svg",
                 f"data/{name}-workforce.csv", "data/workforce.csv", "data/variance_split.csv"):  # fmt: skip
        assert (pack / file).is_file(), file
    for link in re.findall(r'(?:href|src)="([^"#]+)"', page):
        assert (pack / link).is_file(), link
    assert page.index('id="workforce"') < page.index('id="assumptions"')
    assert "--uncertainty parameters" not in page
    # the key findings give the workforce question's answer, with the rule it found
    findings = page[page.index('<section id="findings">') : page.index("</section>")]
    assert html.escape(section_sentence(results)) in findings


def section_sentence(results) -> str:
    return workforce_section(results, list(results.scenarios)).answers[
        next(iter(results.scenarios))].sentence()


def test_a_run_with_fixed_assumptions_says_how_to_get_the_section(short):
    fixed = run_experiment([short], settings=RunSettings(2, seed=1, uncertainty="noise"))
    section = workforce_section(fixed, ["baseline"])
    assert not section.parameters and not section.answers and not section.charts
    page = render_page(fixed, [], workforce=section)
    text = re.search(r'<p id="workforce-fixed">(.*?)</p>', page, re.S).group(1)
    assert "holds every assumption" in text and "--uncertainty parameters" in text
    assert "workforce-table" not in page and "variance-table" not in page
