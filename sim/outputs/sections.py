"""Sections of the chart pack's page: a chart with its words, the workforce question, the
back-test, what each scenario leaves as in the baseline, the model description under the
STRESS-DES headings, and what the run was.

Each function returns HTML (all text that comes from scenario files or results escaped);
:mod:`sim.outputs.report` puts them in order. Scenarios are named by their titles
(:func:`sim.outputs.charts.data.scenario_titles`), never by their file names. Computes no
statistic: the numbers come from :mod:`sim.analysis` and the charts' tables.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.analysis.backtest import Backtest
from sim.analysis.compare import identical_outputs
from sim.analysis.discovery import percent_words
from sim.outputs.charts.analysis import backtest_chart
from sim.outputs.charts.data import ChartData, scenario_titles
from sim.outputs.charts.workforce import WorkforceSection
from sim.outputs.summary import no_difference_sentences
from sim.results import Results

WORKFORCE_FILE = "workforce.csv"
"""The workforce question's answers in ``data/``, one row per scenario shown."""
VARIANCE_FILE = "variance_split.csv"
"""In ``data/``: the rows of the run's ``variance_split.csv`` for the figures ``run`` prints."""
MANIFEST_FILE = "run_manifest.json"
"""In ``data/``: the run's manifest (how, when and with what it was run), as the results
folder holds it."""
STANDALONE = "standalone"
"""Folder in ``charts/`` of the charts with their words in the image (``--standalone-charts``)."""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def figure_html(
    chart: ChartData,
    size: tuple[int, int],
    data: dict[str, str] | None = None,
    standalone: bool = False,
    screen_only: bool = False,
) -> str:
    """A chart: its title and subtitle, the image (bare: its words are these) with its alt
    text, the caption, and links to its SVG and its data (``data``: link text by file in
    ``data/``; default the chart's own CSV); with ``standalone``, to the image with its
    words too. ``screen_only``: left out of the printed report."""
    width, height = size
    data = data or {f"{chart.key}.csv": "Data (CSV)"}
    links = [f'<a href="charts/{_e(chart.key)}.svg">Chart (SVG)</a>']
    if standalone:
        links.append(f'<a href="charts/{STANDALONE}/{_e(chart.key)}.png">Chart with its title '
                     "and notes (PNG)</a>")  # fmt: skip
    links += [f'<a href="data/{_e(name)}">{_e(text)}</a>' for name, text in data.items()]
    subtitle = f'<p class="subtitle">{_e(chart.subtitle)}</p>' if chart.subtitle else ""
    return (
        f'<figure id="{_e(chart.key)}" class="chart{" screen-only" if screen_only else ""}">'
        f"<figcaption><h4>{_e(chart.title)}</h4>"
        f"{subtitle}</figcaption>"
        f'<img src="charts/{_e(chart.key)}.png" alt="{_e(chart.alt_text)}" width="{width}" '
        f'height="{height}">'
        f'<p class="caption">{_e(chart.caption)}</p>'
        f'<p class="links">{" ".join(links)}</p></figure>'
    )


# --------------------------------------------------------------- the workforce question

WORKFORCE_HEADING = "How likely is the national team to be short of hours?"


def workforce_html(
    section: WorkforceSection,
    titles: dict[str, str],
    figures: list[str],
) -> str:
    """Per scenario shown: how often the national team is short, by how much and when
    (:mod:`sim.analysis.workforce`, as ``python -m sim run`` prints it), the futures charts
    (``figures``, ready-made), and the share of each figure's spread due to the
    assumptions; or, in a run that held the assumptions fixed, why there is none and how to
    get it."""
    parts = [f'<section id="workforce" class="major"><h2>{WORKFORCE_HEADING}</h2>']
    if not section.parameters:
        parts.append(
            '<p id="workforce-fixed">This run holds every assumption at its value in the '
            "scenario (<code>--uncertainty noise</code>): its replications differ only in "
            "run-to-run noise, so they cannot say how likely the national team is to be short of "
            "hours across plausible futures, under which assumptions it is, or how much of each "
            "figure's spread the assumptions cause. (Each scenario's chart of demand on the "
            "support teams says how often the team is short with the assumptions as stated.) "
            "For this section, run the scenarios with <code>python -m sim run SCENARIO ... "
            "--uncertainty parameters</code> and make the chart pack from that run.</p></section>"
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
        f'<tr><th scope="row">{_e(titles[name])}</th><td>{percent_words(a.probability)}</td>'
        f"<td>{a.mean_shortfall_hours:,.0f}</td><td>{_e(a.sentence())}</td></tr>"
        for name, a in section.answers.items()
    )
    parts.append(
        '<table id="workforce-table"><thead><tr><th scope="col">Scenario</th><th scope="col">'
        'Short at some time (share of futures)</th><th scope="col">Mean shortfall over the '
        'forecast (hours)</th><th scope="col">When</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    undrawn = [n for n in dict.fromkeys(section.variance["scenario"]) if n not in section.answers]
    if undrawn:
        parts.append(f'<p class="note">Not asked of {_e(", ".join(titles[n] for n in undrawn))}: '
                     "no assumption was drawn (none declares a range), so none can explain the "
                     "answer.</p>")  # fmt: skip
    parts += figures
    parts.append('<div class="keep"><h3 id="variance">Where the spread comes from</h3>')
    parts.append(
        '<p class="note">Replications come in pairs that share a draw of the assumptions but '
        "not their random numbers, so the spread within pairs is run-to-run noise alone and the "
        "rest of each figure's variance comes from the assumptions (figures over the whole "
        f'forecast; <a href="data/{VARIANCE_FILE}">data (CSV)</a>).</p>'
    )
    variance = section.variance
    names = list(dict.fromkeys(variance["scenario"]))
    rows = []
    for figure in dict.fromkeys(variance["figure"]):
        shares = variance[variance["figure"] == figure].set_index("scenario")["assumptions_share"]
        cells = "".join(f"<td>{percent_words(shares[n]) if shares[n] == shares[n] else 'no spread'}"
                        "</td>" for n in names)  # fmt: skip
        rows.append(f'<tr><th scope="row">{_e(figure[:1].upper() + figure[1:])}</th>{cells}</tr>')
    head = "".join(f'<th scope="col">{_e(titles[n])}</th>' for n in names)
    parts.append(
        '<table id="variance-table" class="differences"><caption>Share of each figure\'s '
        "variance over the whole forecast that comes from the assumptions (the rest is "
        f'run-to-run noise)</caption><thead><tr><th scope="col">Figure</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )
    return "\n".join(parts)


# ---------------------------------------------------------------------- back-test

BACKTEST_HEADING = "Does the model reproduce the last decade?"
BACKTEST_TABLES = {"backtest.csv": "table", "programme_stock.csv": "stock"}
"""The back-test's tables in the pack's ``data/`` folder (the same files, under the same
names, as ``python -m sim backtest`` writes), by :class:`Backtest` attribute."""
BACKTEST_LINKS = {
    "backtest.csv": "Published figures beside the model (CSV)",
    "programme_stock.csv": "Trusts in the programme by month (CSV)",
}
"""The back-test chart's links to its tables (:data:`BACKTEST_TABLES`) in ``data/``."""


@dataclass(frozen=True)
class BacktestSection:
    """What the chart pack says about the back-test: its result, or why there is none."""

    result: Backtest | None = None
    missing: str = ""
    """Why there is no result (the history scenario was not found, say): shown instead."""
    files: str = ""
    """Where the scenario and the published figures came from, shown under the table."""


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


def backtest_html(section: BacktestSection, sizes: dict[str, tuple[int, int]],
                  default: tuple[int, int], standalone: bool = False) -> str:  # fmt: skip
    """The back-test's section: the count of published figures inside the model's range,
    the chart, a row per figure; or why the back-test was not run."""
    parts = [f'<section id="backtest"><h2>{BACKTEST_HEADING}</h2>']
    result = section.result
    if result is None:
        reason = section.missing.rstrip(".")
        parts.append(f"<p>The back-test was not run for this chart pack: {_e(reason)}.</p>")
        return "\n".join(parts) + "</section>"
    chart = backtest_chart(result)
    last = result.stock["month"].iloc[-1]
    parts.append(
        f'<p id="backtest-summary">{_e(backtest_sentences(result.table, result.start, last))}</p>'
    )
    parts.append(figure_html(chart, sizes.get(chart.key, default), BACKTEST_LINKS, standalone))
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
        '<table id="backtest-table"><thead><tr><th scope="col">Figure</th><th scope="col">'
        'Published</th><th scope="col">Model mean [90% range]</th><th scope="col">Inside</th>'
        '<th scope="col">Fitted or held out</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    parts.append(
        f'<p class="note">{result.replications} replications of the history scenario, seed '
        f"{result.seed}: the defaults of python -m sim backtest, which gives the same numbers. "
        + (f"Files: {_e(section.files)}. " if section.files else "")
        + "Each figure's source is in data/backtest.csv.</p></section>"
    )
    return "\n".join(parts)


def no_difference_html(results: Results, chart: ChartData) -> str:
    """For each scenario in the comparison chart, which outputs are exactly the baseline's.

    Under common random numbers a zero difference in every replication means the variant
    changed nothing there; the chart alone would show a dot at zero with no interval.
    """
    baseline = chart.meta["baseline"]
    compared = [baseline, *dict.fromkeys(chart.table["scenario"])] if len(chart.table) else []
    if len(compared) < 2:
        return ""
    titles = scenario_titles(results)
    identical = identical_outputs(results.only(*compared), baseline)
    named = identical.assign(scenario=identical["scenario"].map(titles),
                             baseline=identical["baseline"].map(titles))  # fmt: skip
    sentences = no_difference_sentences(named)
    items = "".join(
        f"<li><strong>{_e(name)}</strong>: {_e(text)}</li>" for name, text in sentences.items()
    )
    return (
        f'<p id="no-difference">What each scenario leaves exactly as in the {_e(titles[baseline])} '
        "(same random numbers, every period of every replication):</p>"
        f"<ul>{items}</ul>"
    )


def run_html(results: Results, titles: dict[str, str], manifest_file: str | None) -> str:
    """What the run was, in a table: model version and source commit, when it ran, the
    scenarios, replications, seed, kind of uncertainty, workers and time; and a link to the
    full manifest (``manifest_file`` in ``data/``)."""
    m = results.manifest
    git = m.get("git") or {}
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    machine = (m.get("machine") or {}).get("platform", "")
    rows = [
        ("Model version", m.get("package_version", "unknown")),
        ("Source commit", commit),
        ("Run started (UTC)", str(m.get("started_utc", "")).replace("T", " ")),
        ("Scenarios", "; ".join(titles.values())),
        ("Replications", results.replications),
        ("Seed", m.get("seed", "unknown")),
        ("Uncertainty", {"parameters": "assumptions drawn from their ranges, and run-to-run noise",
                         "noise": "run-to-run noise only (assumptions fixed)"}.get(
                             m.get("uncertainty") or "noise", m.get("uncertainty"))),
        ("Workers and time", f"{m.get('jobs', 1)} worker(s), {m.get('run_seconds', '?')} s"),
        ("Machine", machine),
    ]  # fmt: skip
    body = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in rows)
    link = (f' The full manifest (libraries, command and the hash of every file) is in '
            f'<a href="data/{manifest_file}">{manifest_file}</a>.' if manifest_file else "")  # fmt: skip
    return (
        f'<table id="run-table" class="compact"><tbody>{body}</tbody></table>'
        f'<p class="note">The scenario files as run are in the results folder.{link}</p>'
    )


def stress_des_html(results: Results) -> str:
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
         "unpublished value is an assumption stated in the scenario file; all are listed in "
         "Appendix A."),
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
