"""The consultation chart pack: a web page that opens with the findings, a printable report,
and every chart with its data.

``write_chart_pack(results, folder)`` writes ``index.html`` in this order: the key findings
(each with its range, :mod:`sim.outputs.findings`); for several scenarios, what they change
(:mod:`sim.outputs.assumptions`), the headline figures of every scenario on the same axes
and their paired differences from the baseline; each scenario's charts (those identical to
the baseline's are not repeated); the workforce question (:mod:`sim.outputs.charts.workforce`);
given a :class:`BacktestSection`, the back-test through 2013-2026, or why it is missing; and
appendices: every assumption with its unit and basis, a model description under the
STRESS-DES headings, and what the run was (:mod:`sim.outputs.sections`). Scenarios are named
by their titles. The back-test is run by the caller (the ``report`` command), not here.

Beside the page: ``report.pdf``, the page printed on A4 by a headless Chromium when one is
found (:mod:`sim.outputs.printing`); ``charts/`` with each chart as PNG and SVG, bare (the
page gives the title, subtitle and caption as its own text, so they are not in the image
twice) and, with ``standalone``, in ``charts/standalone/`` with its words in the image for
use on its own; ``data/`` with each chart's data as CSV and all of them in ``charts.xlsx``
(:mod:`sim.outputs.workbook`), the workforce and back-test tables, and the run's manifest.
``bare`` writes only the charts and their data, for a document in its own house style. The
page uses no scripts, fonts or files from outside the folder, so it opens offline and can
be attached to a consultation. All text that comes from scenario files is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.errors import OutputError
from sim.outputs.assumptions import assumptions, differences_html, full_list_html
from sim.outputs.charts import PNG_DPI, chart_set
from sim.outputs.charts import save as save_chart
from sim.outputs.charts.analysis import backtest_chart
from sim.outputs.charts.data import DATA_SOURCES, ChartData, scenario_titles
from sim.outputs.charts.draw import HEIGHT_INCHES, WIDTH_INCHES
from sim.outputs.charts.pack import MAX_SCENARIO_CHARTS, shown_scenarios
from sim.outputs.charts.workforce import WorkforceSection, workforce_section
from sim.outputs.findings import findings_html, key_figures, key_sentences
from sim.outputs.printing import HOW_TO_GET, PDF, find_browser, print_pdf
from sim.outputs.sections import (
    BACKTEST_HEADING,
    BACKTEST_LINKS,
    BACKTEST_TABLES,
    MANIFEST_FILE,
    STANDALONE,
    VARIANCE_FILE,
    WORKFORCE_FILE,
    WORKFORCE_HEADING,
    BacktestSection,
    backtest_html,
    backtest_sentences,
    figure_html,
    no_difference_html,
    run_html,
    stress_des_html,
    workforce_html,
)
from sim.outputs.workbook import WORKBOOK, write_workbook
from sim.results import Results, atomic_folder

__all__ = [
    "BACKTEST_HEADING", "BACKTEST_LINKS", "BACKTEST_TABLES", "PAGE", "PDF", "VARIANCE_FILE",
    "WORKFORCE_FILE", "WORKFORCE_HEADING", "BacktestSection", "backtest_sentences",
    "image_sizes", "render_page", "save", "write_chart_pack", "write_tables_and_charts",
]  # fmt: skip

log = logging.getLogger("sim")
PAGE = "index.html"


def save(chart: ChartData, folder: Path) -> None:
    """A chart of the page: PNG and SVG without its words (the page gives them)."""
    save_chart(chart, folder, words=False)


def write_chart_pack(
    results: Results,
    folder: str | Path,
    baseline: str | None = None,
    force: bool = False,
    backtest: BacktestSection | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    pdf: bool = True,
    standalone: bool = False,
    bare: bool = False,
    note: Callable[[str], None] | None = None,
) -> Path:
    """Write the chart pack to ``folder`` atomically. Returns the folder.

    ``backtest`` adds the section "Does the model reproduce the last decade?"; None leaves
    it out. ``progress`` (optional) is called with (charts written, charts in all) after
    each chart. ``pdf``: print the page to ``report.pdf`` when a browser is found (without
    one, ``note`` is told how to get it). ``standalone``: also write each chart with its
    words in the image, in ``charts/standalone/``. ``bare``: only the charts (without
    words) and their data; no page and no PDF. ``note`` (default: the ``sim`` log's
    warnings) hears why the PDF was left out.

    Raises
    ------
    OutputError
        If the folder exists (without ``force``) or cannot be written.
    """
    if baseline is not None and baseline not in results.scenarios:
        raise OutputError(
            f"no scenario {baseline!r} to compare against; have {', '.join(results.scenarios)}"
        )
    note = note or log.warning
    when = _started(results)
    with atomic_folder(folder, force, "chart pack") as staging:
        charts = chart_set(results, baseline)
        (staging / "charts").mkdir()
        (staging / "data").mkdir()
        if standalone:
            (staging / "charts" / STANDALONE).mkdir()
        workforce = workforce_section(results, shown_scenarios(results, baseline))
        history = backtest_chart(backtest.result) if backtest and backtest.result else None
        drawn = [*charts, *workforce.charts.values(), *([history] if history else [])]
        for done, chart in enumerate(drawn, 1):
            save(chart, staging / "charts")
            if standalone:
                save_chart(chart, staging / "charts" / STANDALONE, words=True)
            if chart is not history:  # its data are the back-test's tables, below
                chart.table.to_csv(staging / "data" / f"{chart.key}.csv", index=False)
            if progress is not None:
                progress(done, len(drawn))
        if workforce.parameters:
            workforce.table().to_csv(staging / "data" / WORKFORCE_FILE, index=False)
            workforce.variance.to_csv(staging / "data" / VARIANCE_FILE, index=False)
        if history is not None:
            for name, attribute in BACKTEST_TABLES.items():
                getattr(backtest.result, attribute).to_csv(staging / "data" / name, index=False)
        write_workbook(drawn, staging / "data" / WORKBOOK, when)
        (staging / "data" / MANIFEST_FILE).write_text(
            json.dumps(results.manifest, indent=2, default=str), encoding="utf-8")  # fmt: skip
        if not bare:
            sizes = image_sizes(staging / "charts")
            page = render_page(results, charts, backtest, sizes, workforce, standalone=standalone)
            (staging / PAGE).write_text(page, encoding="utf-8")
            if pdf:
                _print(staging / PAGE, staging / PDF, when, note)
    return Path(folder)


def _started(results: Results) -> dt.datetime:
    """When the run started (the manifest's ``started_utc``): the date the workbook and
    the PDF record, so the same results make the same files."""
    try:
        return dt.datetime.fromisoformat(str(results.manifest["started_utc"]))
    except (KeyError, ValueError):
        return dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _print(page: Path, out: Path, when: dt.datetime, note: Callable[[str], None]) -> None:
    browser = find_browser()
    if browser is None:
        note(f"{PDF} left out of the chart pack: no Chromium or Chrome was found to print it; "
             f"{HOW_TO_GET}")  # fmt: skip
        return
    log.info("printing %s to %s with %s", page.name, out.name, browser)
    try:
        print_pdf(page, out, browser, when)
    except OutputError as exc:
        out.unlink(missing_ok=True)
        note(f"{PDF} left out of the chart pack: {exc}")


def image_sizes(folder: Path) -> dict[str, tuple[int, int]]:
    """Width and height in pixels of each PNG in ``folder``, by name without ``.png``
    (read from the file's header, so the page's image boxes have each chart's shape)."""
    sizes = {}
    for png in folder.glob("*.png"):
        with png.open("rb") as file:
            header = file.read(24)  # signature, then the IHDR chunk: width, height
        sizes[png.stem] = (
            int.from_bytes(header[16:20], "big"),
            int.from_bytes(header[20:24], "big"),
        )
    return sizes


def write_tables_and_charts(
    folder: str | Path,
    tables: dict[str, pd.DataFrame],
    charts: list[ChartData],
    force: bool = False,
) -> Path:
    """Write an analysis's tables (CSV) and charts (PNG, SVG, each with its words: they are
    used on their own) to a new folder, atomically."""
    with atomic_folder(folder, force, "tables and charts") as staging:
        for name, table in tables.items():
            table.to_csv(staging / name, index=False)
        for chart in charts:
            save_chart(chart, staging)
    return Path(folder)


# ---------------------------------------------------------------------------- page

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 64rem;
       padding: 1.5rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.8rem; margin-bottom: 0.3rem; } .lede { color: #333; margin-top: 0; }
h2 { margin-top: 2.5rem; border-bottom: 2px solid #0072B2; padding-bottom: 0.2rem; }
h3 { margin-top: 2rem; } h4 { margin: 0 0 0.2rem; font-size: 1.08rem; }
figure.chart { margin: 1.8rem 0 2.2rem; }
figure.chart img { width: 100%; max-width: 60rem; height: auto; display: block; }
.subtitle { margin: 0 0 0.6rem; color: #444; font-size: 0.9rem; }
.caption { font-size: 0.88rem; margin: 0.5rem 0 0.2rem; color: #222; }
.links { font-size: 0.85rem; margin: 0; } .links a { margin-right: 1rem; }
table { border-collapse: collapse; font-size: 0.85rem; width: 100%; margin: 0.8rem 0 1.2rem; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: #eef4fa; } tbody th { font-weight: normal; }
table.figures tbody th, table.differences tbody th { width: 24%; }
tr.sub th { padding-left: 1.5rem; } tr.section th { background: #f3f3f3; font-weight: bold; }
table.assumptions { font-size: 0.8rem; } table.assumptions tbody th { width: 26%; }
table.assumptions td:nth-child(2) { width: 18%; }
table.compact { width: auto; } table.compact th { font-weight: bold; }
ul.findings li { margin-bottom: 0.45rem; }
.note { color: #444; font-size: 0.9rem; }
nav ol { columns: 2; } .appendix h2 { border-bottom-color: #777; } .print-only { display: none; }
@page { size: A4; margin: 14mm 13mm 15mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; line-height: 1.35; }
  h1 { font-size: 17pt; } h2 { font-size: 13.5pt; margin-top: 0; }
  h3 { font-size: 11.5pt; margin-top: 1.2rem; } h4 { font-size: 10.5pt; }
  h1, h2, h3, h4, caption, .lead { break-after: avoid; page-break-after: avoid; }
  figure, tr, .keep, #manifest { break-inside: avoid; page-break-inside: avoid; }
  section.major { break-before: page; page-break-before: always; }
  nav, .links, .screen-only { display: none; } .print-only { display: block; }
  figure.chart { margin: 0.6rem 0 0.9rem; }
  figure.chart img { width: 86%; max-width: none; }
  .subtitle, .caption { font-size: 8.5pt; } .note { font-size: 8.5pt; }
  table { font-size: 8pt; } table.assumptions { font-size: 7pt; }
  th, td { padding: 0.18rem 0.35rem; } ul.findings li { margin-bottom: 0.25rem; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
}
"""
CHART_NAMES = {
    "caseload": "trusts in the programme", "waiting-list": "the waiting list",
    "regions": "trusts by region", "waiting-times": "waiting times", "segments": "segments",
    "team-demand": "demand on the support teams", "cost": "cost",
    "exceedance": "the chance of a full programme or a short national team",
    "workforce": "plausible futures",
}  # fmt: skip
"""What each of a scenario's charts shows, by the end of its key, for the note of charts
identical to the baseline's."""
DEFAULT_SIZE = (round(WIDTH_INCHES * PNG_DPI), round(HEIGHT_INCHES * PNG_DPI))
"""A one-panel chart's PNG with its words, pixels (1500 by 930): an image box's shape when
the image's own is not known."""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def render_page(
    results: Results,
    charts: list[ChartData],
    backtest: BacktestSection | None = None,
    sizes: dict[str, tuple[int, int]] | None = None,
    workforce: WorkforceSection | None = None,
    standalone: bool = False,
) -> str:
    """The chart pack's web page as a string (all scenario text escaped). ``charts``: those
    of :func:`~sim.outputs.charts.chart_set`; ``backtest``: the back-test's section (None: no
    section); ``sizes``: each chart's PNG size in pixels (default: a one-panel chart's);
    ``workforce``: the workforce question's section (None: no section); ``standalone``:
    link each chart's image with its words (``charts/standalone/``)."""
    sizes = sizes or {}
    names = list(results.scenarios)
    titles = scenario_titles(results)
    manifest = results.manifest
    summary = results.summary()
    comparison = next((c for c in charts if c.kind == "comparison"), None)
    overlays = [c for c in charts if c.kind == "overlay"]
    baseline = comparison.meta["baseline"] if comparison is not None else names[0]
    order = [baseline, *[n for n in names if n != baseline]]
    charted = [n for n in order if any(c.key.startswith(f"{n}-") for c in charts)]
    table_names = charted or order[:MAX_SCENARIO_CHARTS]
    figures = key_figures(results, table_names, summary)
    history = ""
    if backtest is not None and backtest.result is not None:
        result = backtest.result
        history = backtest_sentences(result.table, result.start, result.stock["month"].iloc[-1])
        history = history.split(": ")[0] + "."  # the count, without the details that follow

    def figure(chart: ChartData, data: dict[str, str] | None = None, screen_only=False) -> str:
        return figure_html(chart, sizes.get(chart.key, DEFAULT_SIZE), data, standalone,
                           screen_only)  # fmt: skip

    started = str(manifest.get("started_utc", ""))[:10]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Provider Improvement Programme forecast: {_e('; '.join(titles.values()))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Provider Improvement Programme: forecast</h1>",
        f'<p class="lede">{len(names)} scenario{"s" if len(names) > 1 else ""}: '
        f"{_e('; '.join(titles[n] for n in order))}. {results.replications} replications, seed "
        f"{_e(manifest.get('seed', 'unknown'))}, run on {_e(started)} with version "
        f"{_e(manifest.get('package_version', 'unknown'))} of the model.</p>",
        findings_html(key_sentences(results, table_names, figures, workforce, comparison, history),
                      figures, titles, results.replications),  # fmt: skip
        f'<p class="note">{_e(DATA_SOURCES)} Figures are medians across replications with the '
        "5th and 95th percentiles in brackets (90% of replications lie between them), as "
        "<code>python -m sim run</code> prints them; differences between scenarios are paired "
        "replication by replication, with 95% confidence intervals.</p>",
        _contents(len(names) > 1, workforce is not None, backtest is not None),
    ]
    if len(names) > 1:
        parts.append('<section id="compared" class="major"><h2>Scenarios compared</h2>')
        shown = {n: titles[n] for n in order}
        parts.append('<h3 id="differences" class="lead">What the scenarios change</h3>')
        parts.append(differences_html(assumptions({n: results.scenarios[n] for n in order}), shown))
        if overlays:
            parts.append('<h3 id="over-time" class="lead">Headline figures over time</h3>')
            parts += [figure(c) for c in overlays]
        if comparison is not None:
            parts.append('<h3 id="paired" class="lead">Differences from the baseline</h3>')
            parts.append(figure(comparison))
            parts.append(no_difference_html(results, comparison))
        parts.append("</section>")
    parts.append(_detail(results, charts, charted, titles, figure, bool(overlays)))
    if workforce is not None:
        drawn = list(workforce.charts.values())
        shown = _not_repeated(drawn, baseline)[0]
        futures = [figure(c, {f"{c.key}.csv": "Futures drawn (CSV)", WORKFORCE_FILE: "Answers (CSV)"})
                   for c in shown]  # fmt: skip
        same = [titles[c.key.removesuffix("-workforce")] for c in drawn
                if all(c is not d for d in shown)]  # fmt: skip
        if same:
            futures.append(f'<p class="note">The futures of {_e(_join(same))} are drawn as in the '
                           f"{_e(titles[baseline])}'s chart: the same in every replication.</p>")  # fmt: skip
        parts.append(workforce_html(workforce, titles, futures))
    if backtest is not None:
        parts.append(backtest_html(backtest, sizes, DEFAULT_SIZE, standalone))
    rows = assumptions({n: results.scenarios[n] for n in order})
    parts += [
        '<section id="assumptions" class="major appendix"><h2>Appendix A: every assumption</h2>',
        '<p class="note">Every number and setting of the scenarios, with its unit and where it '
        "comes from: a published source, an assumption with the reason for its value, or the "
        "calibration that fitted it to published figures. Where the scenarios differ, each "
        "scenario's value is given.</p>",
        full_list_html(rows, {n: titles[n] for n in order}),
        "</section>",
        '<section id="model" class="appendix"><h2>Appendix B: model description '
        "(STRESS-DES)</h2>",
        stress_des_html(results),
        "</section>",
        '<section id="manifest" class="appendix"><h2>Appendix C: about this run</h2>',
        run_html(results, titles, MANIFEST_FILE),
        "</section></body></html>",
    ]
    return "\n".join(parts)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _contents(several: bool, workforce: bool, backtest: bool) -> str:
    entries = [("findings", "Key findings")]
    if several:
        entries.append(("compared", "Scenarios compared"))
    entries.append(("detail", "Each scenario in detail"))
    if workforce:
        entries.append(("workforce", WORKFORCE_HEADING))
    if backtest:
        entries.append(("backtest", BACKTEST_HEADING))
    entries += [("assumptions", "Appendix A: every assumption"),
                ("model", "Appendix B: model description (STRESS-DES)"),
                ("manifest", "Appendix C: about this run")]  # fmt: skip
    items = "".join(f'<li><a href="#{key}">{_e(text)}</a></li>' for key, text in entries)
    return f'<nav aria-label="Contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def _not_repeated(
    charts: list[ChartData], baseline: str, every: list[ChartData] | None = None
) -> tuple[list[ChartData], list[str]]:
    """Of ``charts``, those to show, and what the others show: a scenario's chart whose data
    and words are the baseline's chart's (among ``every``, default ``charts``: a variant
    that changes nothing there) is not repeated."""
    every = charts if every is None else every
    own = {c.key.removeprefix(f"{baseline}-"): c for c in every if c.key.startswith(f"{baseline}-")}
    shown, same = [], []
    for chart in charts:
        kind = chart.key.split("-", 1)[1] if "-" in chart.key else chart.key
        base = own.get(kind)
        twin = (base is not None and base is not chart and chart.table.equals(base.table)
                and (chart.title, chart.subtitle, chart.caption, chart.alt_text)
                == (base.title, base.subtitle, base.caption, base.alt_text))  # fmt: skip
        if twin:
            same.append(CHART_NAMES.get(kind, kind))
        else:
            shown.append(chart)
    return shown, same


PRINTED_ONCE = ("caseload", "waiting-list", "regions", "segments", "cost", "exceedance")
"""A scenario's charts that the printed report shows for the baseline only, when the
scenarios are also drawn on the same axes: their headline figures are in the charts
comparing the scenarios and in the key figures, so the other scenarios' pages print what
those do not show (waiting times, demand on each source of support); the web page shows
every chart of every scenario."""


def _detail(results: Results, charts: list[ChartData], charted: list[str],
            titles: dict[str, str], figure: Callable, compared: bool) -> str:  # fmt: skip
    """Each scenario's own charts, under its title and description; in print, the charts
    of :data:`PRINTED_ONCE` for the baseline only when ``compared`` (the scenarios are drawn
    on the same axes)."""
    names = list(results.scenarios)
    parts = ['<section id="detail" class="major"><h2>Each scenario in detail</h2>']
    if len(charted) < len(names):
        parts.append(
            f'<p class="note">{len(names)} scenarios were run; charts are shown for {len(charted)} '
            "of them, and the comparison for up to 12. Every scenario's figures are in the "
            "results folder's summary.csv.</p>"
        )
    baseline = charted[0] if charted else None
    for scenario in charted:
        own = [c for c in charts if c.key.startswith(f"{scenario}-")]
        shown, same = _not_repeated(own, baseline, charts)
        description = results.scenarios[scenario].description.strip()
        lead = f'<h3 id="scenario-{_e(scenario)}">{_e(titles[scenario])}</h3>'
        if description:
            lead += f'<p class="lead">{_e(description)}</p>'
        if same:
            lead += (f'<p class="note">The charts of {_e(_join(same))} are identical to the '
                     f"{_e(titles[baseline])}'s and are not repeated.</p>")  # fmt: skip
        once = [c for c in shown if compared and scenario != baseline
                and c.key.removeprefix(f"{scenario}-") in PRINTED_ONCE]  # fmt: skip
        if once:
            lead += ('<p class="note print-only">This printed report shows this scenario\'s '
                     "charts that the comparisons do not; its charts of "
                     f"{_e(_join([CHART_NAMES[c.key.removeprefix(f'{scenario}-')] for c in once]))}"
                     " are in the chart pack's web page (index.html), and their headline figures "
                     "under Scenarios compared and in the key figures.</p>")  # fmt: skip
        skipped = {c.key for c in once}
        printed = [c for c in shown if c.key not in skipped]
        lead_chart = printed[0] if printed else None
        parts.append(f'<div class="keep">{lead}{figure(lead_chart) if lead_chart else ""}</div>')
        parts += [figure(c, screen_only=c.key in skipped) for c in shown if c is not lead_chart]
    parts.append("</section>")
    return "\n".join(parts)
