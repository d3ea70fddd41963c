"""The consultation chart pack: charts, their data and a self-contained web page.

``write_chart_pack(results, folder)`` writes, for every chart of :func:`sim.outputs.charts.chart_set`,
a PNG, an SVG and the CSV of the data drawn, plus ``index.html``: the charts with their
findings, captions and alt text; the workforce question (how often the national team is
short of hours across plausible futures, under which assumptions, and how much of each
figure's spread comes from the assumptions; in a run that held them fixed, how to get it:
:mod:`sim.outputs.charts.workforce`); given a :class:`BacktestSection`, the back-test through
2013-2026 (its chart, ``data/backtest.csv`` and ``data/programme_stock.csv``, a table and
the count of figures inside the model's range), or why it is missing; the assumptions of
every scenario (value, unit, source or assumption); what differs between the scenarios; a
model description under the STRESS-DES headings; and the run's manifest. The back-test is
run by the caller (the ``report`` command), not here. The page uses no scripts, fonts or files from outside the
folder, so it opens offline and can be attached to a consultation. All text that comes
from scenario files is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.backtest import Backtest
from sim.analysis.compare import identical_outputs
from sim.analysis.discovery import percent_words
from sim.errors import OutputError
from sim.outputs.charts import PNG_DPI, chart_set, save
from sim.outputs.charts.analysis import backtest_chart
from sim.outputs.charts.data import DATA_SOURCES, ChartData
from sim.outputs.charts.draw import HEIGHT_INCHES, WIDTH_INCHES
from sim.outputs.charts.pack import shown_scenarios
from sim.outputs.charts.workforce import WorkforceSection, workforce_section
from sim.outputs.summary import no_difference_sentences
from sim.results import Results, atomic_folder
from sim.scenario.paths import numeric_paths, value_at
from sim.scenario.schema import Scenario

PAGE = "index.html"
BACKTEST_TABLES = {"backtest.csv": "table", "programme_stock.csv": "stock"}
"""The back-test's tables in the pack's ``data/`` folder (the same files, under the same
names, as ``python -m sim backtest`` writes), by :class:`Backtest` attribute."""
WORKFORCE_FILE = "workforce.csv"
"""The workforce question's answers in ``data/``, one row per scenario shown."""
VARIANCE_FILE = "variance_split.csv"
"""In ``data/``: the rows of the run's ``variance_split.csv`` for the figures ``run`` prints."""


@dataclass(frozen=True)
class BacktestSection:
    """What the chart pack says about the back-test: its result, or why there is none."""

    result: Backtest | None = None
    missing: str = ""
    """Why there is no result (the history scenario was not found, say): shown instead."""
    files: str = ""
    """Where the scenario and the published figures came from, shown under the table."""


def write_chart_pack(
    results: Results,
    folder: str | Path,
    baseline: str | None = None,
    force: bool = False,
    backtest: BacktestSection | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the chart pack to ``folder`` atomically. Returns the folder. ``backtest``
    adds the section "Does the model reproduce the last decade?"; None leaves it out.
    ``progress`` (optional) is called with (charts written, charts in all) after each chart.

    Raises
    ------
    OutputError
        If the folder exists (without ``force``) or cannot be written.
    """
    if baseline is not None and baseline not in results.scenarios:
        raise OutputError(
            f"no scenario {baseline!r} to compare against; have {', '.join(results.scenarios)}"
        )
    with atomic_folder(folder, force, "chart pack") as staging:
        charts = chart_set(results, baseline)
        (staging / "charts").mkdir()
        (staging / "data").mkdir()
        workforce = workforce_section(results, shown_scenarios(results, baseline))
        drawn = [*charts, *workforce.charts.values()]
        for done, chart in enumerate(drawn, 1):
            save(chart, staging / "charts")
            chart.table.to_csv(staging / "data" / f"{chart.key}.csv", index=False)
            if progress is not None:
                progress(done, len(drawn))
        if workforce.parameters:
            workforce.table().to_csv(staging / "data" / WORKFORCE_FILE, index=False)
            workforce.variance.to_csv(staging / "data" / VARIANCE_FILE, index=False)
        if backtest is not None and backtest.result is not None:
            save(backtest_chart(backtest.result), staging / "charts")
            for name, attribute in BACKTEST_TABLES.items():
                getattr(backtest.result, attribute).to_csv(staging / "data" / name, index=False)
        page = render_page(results, charts, backtest, image_sizes(staging / "charts"), workforce)
        (staging / PAGE).write_text(page, encoding="utf-8")
    return Path(folder)


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
    """Write an analysis's tables (CSV) and charts (PNG, SVG) to a new folder, atomically."""
    with atomic_folder(folder, force, "tables and charts") as staging:
        for name, table in tables.items():
            table.to_csv(staging / name, index=False)
        for chart in charts:
            save(chart, staging)
    return Path(folder)


# ---------------------------------------------------------------------------- page

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 72rem;
       padding: 1.5rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.7rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #0072B2; }
figure { margin: 2rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.95rem; } .links a { margin-right: 1rem; }
table { border-collapse: collapse; font-size: 0.85rem; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eef4fa; } pre { background: #f6f6f6; padding: 1rem; overflow-x: auto; }
.note { color: #444; font-size: 0.9rem; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_page(
    results: Results,
    charts: list[ChartData],
    backtest: BacktestSection | None = None,
    sizes: dict[str, tuple[int, int]] | None = None,
    workforce: WorkforceSection | None = None,
) -> str:
    """The chart pack's web page as a string (all scenario text escaped). ``backtest``:
    the back-test's section (None: no section); ``sizes``: each chart's PNG size in pixels
    (default: a one-panel chart's); ``workforce``: the workforce question's section (None:
    no section)."""
    sizes = sizes or {}
    names = list(results.scenarios)
    manifest = results.manifest
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Provider Improvement Programme forecast: {_e(', '.join(names))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Provider Improvement Programme: forecast chart pack</h1>",
        f'<p class="note">Scenarios: {_e(", ".join(names))}. {results.replications} replications, '
        f"seed {_e(manifest.get('seed', 'unknown'))}, run {_e(manifest.get('started_utc', ''))} "
        f"with version {_e(manifest.get('package_version', 'unknown'))} of the model. "
        f"{_e(DATA_SOURCES)}</p>",
        "<nav><h2>Contents</h2><ol>",
        '<li><a href="#charts">Charts</a></li>',
        *([f'<li><a href="#workforce">{WORKFORCE_HEADING}</a></li>'] if workforce else []),
        *([f'<li><a href="#backtest">{BACKTEST_HEADING}</a></li>'] if backtest else []),
        '<li><a href="#assumptions">Assumptions</a></li>',
        '<li><a href="#differences">What differs between the scenarios</a></li>',
        '<li><a href="#model">Model description (STRESS-DES)</a></li>',
        '<li><a href="#manifest">Run manifest</a></li>',
        "</ol></nav>",
        '<h2 id="charts">Charts</h2>',
        '<p class="note">Each chart links to a scalable version (SVG) and to the data drawn (CSV).</p>',
    ]
    charted = [n for n in names if any(c.key.startswith(f"{n}-") for c in charts)]
    if len(charted) < len(names):
        parts.append(
            f'<p class="note">{len(names)} scenarios were run; charts are shown for {len(charted)} of '
            "them, and the comparison for up to 12. Every scenario's figures are in the results "
            "folder's summary.csv.</p>"
        )
    for scenario in charted:
        description = results.scenarios[scenario].description.strip()
        parts.append(f"<h3>Scenario: {_e(scenario)}</h3>")
        if description:
            parts.append(f"<p>{_e(description)}</p>")
        for chart in charts:
            if chart.key.startswith(f"{scenario}-"):
                parts.append(_figure(chart, sizes.get(chart.key)))
    comparisons = [c for c in charts if c.kind == "comparison"]
    if comparisons:
        parts.append("<h3>Scenarios compared</h3>")
        parts += [_figure(c, sizes.get(c.key)) for c in comparisons]
        parts.append(_no_difference(results, comparisons[0]))
    if workforce is not None:
        parts.append(_workforce_section(workforce, sizes))
    if backtest is not None:
        parts.append(_backtest_section(backtest, sizes))
    parts.append('<h2 id="assumptions">Assumptions</h2>')
    parts.append(
        '<p class="note">Every number in each scenario, with its unit and where it comes from: '
        "a published source, or an assumption with the reason for its value.</p>"
    )
    for scenario in names:
        parts.append(f"<h3>{_e(scenario)}</h3>")
        parts.append(_assumptions_table(results.scenarios[scenario]))
    parts.append('<h2 id="differences">What differs between the scenarios</h2>')
    parts.append(_differences_table(results.scenarios))
    parts.append('<h2 id="model">Model description (STRESS-DES)</h2>')
    parts.append(_stress_des(results))
    parts.append('<h2 id="manifest">Run manifest</h2>')
    parts.append(f"<pre>{_e(json.dumps(manifest, indent=2, default=str))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


DEFAULT_SIZE = (round(WIDTH_INCHES * PNG_DPI), round(HEIGHT_INCHES * PNG_DPI))
"""A one-panel chart's PNG, pixels (1500 by 930)."""


def _figure(
    chart: ChartData, size: tuple[int, int] | None = None, data: dict[str, str] | None = None
) -> str:
    """A chart with its finding, alt text, caption and links to its SVG and its data
    (``data``: link text by file in ``data/``; default the chart's own CSV)."""
    width, height = size or DEFAULT_SIZE
    data = data or {f"{chart.key}.csv": "Data (CSV)"}
    links = "".join(f'<a href="data/{_e(name)}">{_e(text)}</a>' for name, text in data.items())
    return (
        f'<figure id="{_e(chart.key)}">'
        f"<h4>{_e(chart.title)}</h4>"
        f'<img src="charts/{_e(chart.key)}.png" alt="{_e(chart.alt_text)}" width="{width}" '
        f'height="{height}">'
        f"<figcaption>{_e(chart.caption)}"
        f'<br><span class="links"><a href="charts/{_e(chart.key)}.svg">Chart (SVG)</a>'
        f"{links}</span></figcaption></figure>"
    )


# --------------------------------------------------------------- the workforce question

WORKFORCE_HEADING = "How likely is the national team to be short of hours?"


def _workforce_section(section: WorkforceSection, sizes: dict[str, tuple[int, int]]) -> str:
    """Per scenario shown: how often the national team is short, by how much and when
    (:mod:`sim.analysis.workforce`, as ``python -m sim run`` prints it), the futures chart,
    and the share of each figure's spread due to the assumptions; or, in a run that held
    the assumptions fixed, why there is none and how to get it."""
    parts = [f'<h2 id="workforce">{WORKFORCE_HEADING}</h2>']
    if not section.parameters:
        parts.append(
            '<p id="workforce-fixed">This run holds every assumption at its value in the '
            "scenario (<code>--uncertainty noise</code>): its replications differ only in "
            "run-to-run noise, so they cannot say how likely the national team is to be short of "
            "hours across plausible futures, under which assumptions it is, or how much of each "
            "figure's spread the assumptions cause. (Each scenario's chart of demand on the "
            "support teams says how often the team is short with the assumptions as stated.) "
            "For this section, run the scenarios with <code>python -m sim run SCENARIO ... "
            "--uncertainty parameters</code> and make the chart pack from that run.</p>"
        )
        return "\n".join(parts)
    parts.append(
        '<p class="note">Each replication of this run is one plausible future: it draws every '
        "assumption whose note declares a range, and the calibration's fitted values from its "
        "ensemble. Across them: how often the national team is short of hours at some time "
        "over the forecast, its mean shortfall, and the assumptions under which the shortfalls "
        "concentrate (scenario discovery), as <code>python -m sim run</code> reports them.</p>"
    )
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{percent_words(a.probability)}</td>"
        f"<td>{a.mean_shortfall_hours:,.0f}</td><td>{_e(a.sentence())}</td></tr>"
        for name, a in section.answers.items()
    )
    parts.append(
        '<table id="workforce-table"><thead><tr><th>Scenario</th><th>Short at some time '
        "(share of futures)</th><th>Mean shortfall over the forecast (hours)</th><th>When</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    undrawn = [n for n in dict.fromkeys(section.variance["scenario"]) if n not in section.answers]
    if undrawn:
        parts.append(f'<p class="note">Not asked of {_e(", ".join(undrawn))}: no assumption was '
                     "drawn (none declares a range), so none can explain the answer.</p>")  # fmt: skip
    for chart in section.charts.values():
        data = {f"{chart.key}.csv": "Futures drawn (CSV)", WORKFORCE_FILE: "Answers (CSV)"}
        parts.append(_figure(chart, sizes.get(chart.key), data))
    parts.append('<h3 id="variance">Where the spread comes from</h3>')
    parts.append(
        '<p class="note">Replications come in pairs that share a draw of the assumptions but '
        "not their random numbers, so the spread within pairs is run-to-run noise alone and the "
        "rest of each figure's variance comes from the assumptions (figures over the whole "
        f'forecast; <a href="data/{VARIANCE_FILE}">data (CSV)</a>).</p>'
    )
    cells = []
    for row in section.variance.itertuples():
        shares = ([percent_words(row.assumptions_share), percent_words(row.noise_share)]
                  if row.assumptions_share == row.assumptions_share else ["no spread"] * 2)  # fmt: skip
        cells.append(f"<tr><td>{_e(row.scenario)}</td><td>{_e(row.figure)}</td>"
                     + "".join(f"<td>{s}</td>" for s in shares) + "</tr>")  # fmt: skip
    parts.append(
        '<table id="variance-table"><thead><tr><th>Scenario</th><th>Figure</th><th>From the '
        "assumptions</th><th>From run-to-run noise</th></tr></thead>"
        f"<tbody>{''.join(cells)}</tbody></table>"
    )
    return "\n".join(parts)


# ---------------------------------------------------------------------- back-test

BACKTEST_HEADING = "Does the model reproduce the last decade?"
BACKTEST_LINKS = {
    "backtest.csv": "Published figures beside the model (CSV)",
    "programme_stock.csv": "Trusts in the programme by month (CSV)",
}
"""The back-test chart's links to its tables (:data:`BACKTEST_TABLES`) in ``data/``."""


def backtest_sentences(table: pd.DataFrame, start, last) -> str:
    """How many published figures lie inside the model's 90% range (fitted and held out
    apart), counted from ``table`` (:func:`sim.analysis.backtest.backtest_table`) as
    ``python -m sim backtest`` counts them, and where to read why some do not."""
    compared = table[table["compared"]]
    fitted = compared[compared["used_in_fit"]]
    held = compared[~compared["used_in_fit"]]
    text = (
        f"Run through the real sequence of oversight regimes from {start:%B %Y} to "
        f"{last:%B %Y}, the model puts {int(compared['inside'].sum())} of the "
        f"{len(compared)} published figures about the programme's history inside its 90% "
        f"range: {int(fitted['inside'].sum())} of the {len(fitted)} used to fit it and "
        f"{int(held['inside'].sum())} of the {len(held)} held out of the fit."
    )
    skipped = len(table) - len(compared)
    if skipped:
        text += (
            " Another figure is not compared"
            if skipped == 1
            else f" Another {skipped} figures are not compared"
        ) + " (dated outside the run)."
    outside = len(compared) - int(compared["inside"].sum())
    where = 'docs/VALIDATION.md (section "Back-test") in the model\'s source'
    if outside:
        verb = "falls" if outside == 1 else "fall"
        return text + f" Why {outside} {verb} outside, and what would bring them in, is in {where}."
    return text + f" The comparison is described in {where}."


def _backtest_section(section: BacktestSection, sizes: dict[str, tuple[int, int]]) -> str:
    parts = [f'<h2 id="backtest">{BACKTEST_HEADING}</h2>']
    result = section.result
    if result is None:
        reason = section.missing.rstrip(".")
        parts.append(f"<p>The back-test was not run for this chart pack: {_e(reason)}.</p>")
        return "\n".join(parts)
    chart = backtest_chart(result)
    last = result.stock["month"].iloc[-1]
    parts.append(
        f'<p id="backtest-summary">{_e(backtest_sentences(result.table, result.start, last))}</p>'
    )
    parts.append(_figure(chart, sizes.get(chart.key), BACKTEST_LINKS))
    rows = []
    for row in result.table.itertuples():
        if row.compared:
            model = f"{row.model_mean:.3g} [{row.model_q05:.3g}-{row.model_q95:.3g}]"
            inside = "yes" if row.inside else "no"
        else:
            model, inside = row.note, "not compared"
        use = "fitted" if row.used_in_fit else "held out"
        rows.append(f"<tr><td>{_e(row.name)}</td><td>{row.published:g}</td><td>{_e(model)}</td>"
                    f"<td>{inside}</td><td>{use}</td></tr>")  # fmt: skip
    parts.append(
        '<table id="backtest-table"><thead><tr><th>Figure</th><th>Published</th>'
        "<th>Model mean [90% range]</th><th>Inside</th><th>Fitted or held out</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    parts.append(
        f'<p class="note">{result.replications} replications of {_e(result.scenario)}, seed '
        f"{result.seed}: the defaults of python -m sim backtest, which gives the same numbers. "
        + (f"Files: {_e(section.files)}. " if section.files else "")
        + "Each figure's source is in data/backtest.csv.</p>"
    )
    return "\n".join(parts)


def _no_difference(results: Results, chart: ChartData) -> str:
    """For each scenario in the comparison chart, which outputs are exactly the baseline's.

    Under common random numbers a zero difference in every replication means the variant
    changed nothing there; the chart alone would show a dot at zero with no interval.
    """
    baseline = chart.meta["baseline"]
    compared = [baseline, *dict.fromkeys(chart.table["scenario"])] if len(chart.table) else []
    if len(compared) < 2:
        return ""
    sentences = no_difference_sentences(identical_outputs(results.only(*compared), baseline))
    items = "".join(
        f"<li><strong>{_e(name)}</strong>: {_e(text)}</li>" for name, text in sentences.items()
    )
    return (
        f'<p id="no-difference">What each scenario leaves exactly as in {_e(baseline)} '
        "(same random numbers, every period of every replication):</p>"
        f"<ul>{items}</ul>"
    )


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)


def _assumptions_table(scenario: Scenario) -> str:
    tree = scenario.model_dump(mode="json", exclude={"notes"})
    rows = []
    for path in numeric_paths(tree):
        note = scenario.notes.get(path)
        unit = note.unit if note and note.unit else ""
        if note and note.source:
            basis = f"Source: {note.source}"
        elif note and note.assumption:
            basis = f"Assumption: {note.assumption}"
        else:
            basis = "Not documented"
        rows.append(
            f"<tr><td>{_e(path)}</td><td>{_e(_format_value(value_at(tree, path)))}</td>"
            f"<td>{_e(unit)}</td><td>{_e(basis.strip())}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Field</th><th>Value</th><th>Unit</th><th>Basis</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(node, list) and node and isinstance(node[0], dict):
        out = {}
        for i, value in enumerate(node):
            out |= _flatten(value, f"{prefix}[{i}]")
        return out
    return {prefix: node}


def _differences_table(scenarios: dict[str, Scenario]) -> str:
    if len(scenarios) < 2:
        return "<p>This run has one scenario.</p>"
    flat = {
        name: _flatten(s.model_dump(mode="json", exclude={"notes", "name", "description"}))
        for name, s in scenarios.items()
    }
    paths = sorted(set().union(*flat.values()))
    rows = []
    for path in paths:
        values = [flat[name].get(path, "(not set)") for name in scenarios]
        if any(v != values[0] for v in values[1:]):
            cells = "".join(f"<td>{_e(_format_value(v))}</td>" for v in values)
            rows.append(f"<tr><td>{_e(path)}</td>{cells}</tr>")
    if not rows:
        return "<p>The scenarios have the same assumptions.</p>"
    header = "".join(f"<th>{_e(name)}</th>" for name in scenarios)
    return f"<table><thead><tr><th>Field</th>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _stress_des(results: Results) -> str:
    """Model description under the STRESS-DES reporting headings (Monks et al., 2019)."""
    first = next(iter(results.scenarios.values()))
    manifest = results.manifest
    libraries = manifest.get("libraries", {})
    sections = [
        ("1. Objectives",
         "Purpose: forecast how many NHS trusts will be in the Provider Improvement Programme "
         "(segment 5 of the NHS Oversight Framework) and waiting to enter it, and what that means "
         "for the national team, the wider NHS and consultancy in hours and money, under different "
         "capacity, staffing and support assumptions. Outputs: trusts per segment by league table; "
         "programme caseload by phase; waiting list, waiting times and lengths of stay; referrals, "
         "admissions, exits and re-entries; trusts in the programme, waiting and referred by NHS "
         "England region; support demand, capacity, delivery and shortfall by source; cost by "
         "source and payer, in the scenario's base-year prices and in cash terms; probabilities "
         "that the programme is full or the national team short. Experimentation aims: compare scenarios with paired differences under common "
         "random numbers."),
        ("2. Logic",
         "Entities are the 205 NHS trusts. Each has a latent average metric score (a slowly "
         "mean-reverting long-run level plus a persistent quarterly deviation), deficit status that "
         "switches with odds rising with the score, and a board capability rating reassessed yearly. "
         "Each quarter trusts are segmented by a rule set in the scenario (quartiles within league "
         "table, or fixed thresholds), then the financial override holds trusts in deficit at "
         "segment 3 or below. Trusts in segment 4 with a low-capability board, and any trust with a "
         "catastrophic failure of governance, are referred; they queue in a priority order and are "
         "admitted when a place is free under the cap (and, under the 'wait' policy, when the "
         "national team has hours for the first phase). In the programme a trust passes through "
         "diagnostic, improvement and exit phases, then transitional support in segment 3. Each phase "
         "asks for weekly support hours from three sources; when a source is short, every trust gets "
         "the same share of its need, and improvement slows in proportion to the support delivered "
         "(dose-response). Under 'buy', consultancy covers the national team's gap within its "
         "framework cap; under 'backfill', interim appointments cover it within their hours, "
         "then consultancy. Trusts may relapse and be referred again."),
        ("3. Data",
         "Published figures (shipped with the model with their sources): trusts by region and "
         "league table; segment distributions and deficit counts for 2025/26; churn between Q1 and Q2 "
         "2025/26; score ranges; programme facts (about 15 trusts at a time; national team 51 WTE "
         "cut to 37; trusts pay for interventions; special measures and RSP spell lengths). Every "
         "unpublished value is an assumption stated in the scenario file; all are listed in the "
         "assumptions table above."),
        ("4. Experimentation",
         f"Initialisation: the forecast starts on {first.start_date:%d %B %Y} from the published "
         "segment distributions and the scenario's starting caseload, so there is no warm-up. "
         f"Run length: {first.horizon_years:g} years. Replications: {results.replications}, seed "
         f"{manifest.get('seed', 'unknown')}. Estimates: figures are aggregated within each "
         "replication (stocks at period ends, flows within periods), then summarised across "
         "replications by the median with 50% and 90% ranges (in the fan charts, the middle "
         "20%, 40%, 60% and 80%), and by the mean with a 95% t interval. "
         + ("Each replication draws the uncertain assumptions from their ranges, in pairs "
            "sharing a draw, so each figure's variance splits into the assumptions' part and "
            "run-to-run noise." if manifest.get("uncertainty") == "parameters" else
            "Every replication uses the scenario's values of the assumptions.")),
        ("5. Implementation",
         f"Python {libraries.get('python', '')} with SimPy {libraries.get('simpy', '')}, NumPy "
         f"{libraries.get('numpy', '')} and SciPy {libraries.get('scipy', '')}. Random numbers: one "
         "NumPy generator per kind of decision, keyed by (seed, replication, purpose), so scenarios "
         "share their random numbers replication by replication. The population is updated with "
         "array operations once a quarter; the programme is event-driven. Replications run in "
         f"parallel with identical results ({manifest.get('jobs', 1)} worker(s) here, "
         f"{manifest.get('run_seconds', '?')} s). Machine: {manifest.get('machine', {}).get('platform', '')}."),
        ("6. Code access",
         f"Model version {manifest.get('package_version', 'unknown')}, source commit "
         f"{(manifest.get('git') or {}).get('commit') or 'unknown'}"
         + (" (with uncommitted changes)" if (manifest.get("git") or {}).get("dirty") else "")
         + ". The scenario files as run are in the results folder."),
    ]  # fmt: skip
    return "".join(f"<h3>{_e(title)}</h3><p>{_e(text)}</p>" for title, text in sections)
