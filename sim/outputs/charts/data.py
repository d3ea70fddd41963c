"""What every chart shares: the :class:`ChartData` record, the words common to all charts,
period dates, and the published figures drawn beside the forecasts.

The chart families build on this module: :mod:`sim.outputs.charts.forecast` (one scenario's
charts), :mod:`sim.outputs.charts.comparison` (scenarios against a baseline),
:mod:`sim.outputs.charts.analysis` (sensitivity, planner, validation) and
:mod:`sim.outputs.charts.pack` (which charts make a chart pack). :mod:`sim.outputs.charts.draw`
only draws what it is given; nothing here draws or writes files.

Every number in a title, caption or alt text is computed from the chart's table, by the run
summary's definitions (:mod:`sim.outputs.summary`): "short in X% of replications" is the share
of replications in which the national team is short at any time; each title says whether
it quotes a median or a mean. Time-based tables carry ``period_start`` and ``period_end``
(first and last day of the period, clipped to the forecast): stocks are drawn at
``period_end`` (30 June for Q1), per-period figures as steps across the period.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pandas as pd

from sim.analysis.backtest import default_held_out_path, load_held_out
from sim.data import read_table
from sim.results.tables import Results
from sim.scenario.schema import default_title

FAN_BANDS = ((10, 90), (20, 80), (30, 70), (40, 60))
"""The graded fan's bands, widest first, as percentiles across replications: each shade
holds a further 20% of them, darker towards the median (the Bank of England's convention)."""
FUTURES = {
    "noise": "Each replication is one possible future under the same assumptions.",
    "parameters": (
        "Each replication is one plausible future: it draws the uncertain assumptions as well "
        "as its own random numbers."
    ),
}
"""What a replication is, by the run's kind of uncertainty (the manifest's ``uncertainty``)."""
DATA_SOURCES = (
    "Data: NHS Oversight Framework 2025/26 segmentation and league tables (NHS England); "
    "programme size and team figures (HSJ, June 2025). Values not published are assumptions, "
    "listed in the assumptions table."
)
SOURCE_LABELS = {
    "national": "National PIP team",
    "nhs_family": "Wider NHS",
    "consultancy": "Consultancy",
    "interim": "Interim appointments",
}
TABLE_LABELS = {
    "acute": "Acute",
    "non_acute": "Mental health, community and care",
    "ambulance": "Ambulance",
}


@dataclass(frozen=True)
class ChartData:
    """Everything needed to draw and publish one chart."""

    key: str
    """File name stem, unique within a chart pack."""
    kind: str
    """Which drawing function draws it (see :data:`sim.outputs.charts.draw.DRAWERS` and
    :data:`~sim.outputs.charts.draw.ELSEWHERE`)."""
    title: str
    """The finding, in plain English."""
    caption: str
    alt_text: str
    footnote: str
    table: pd.DataFrame
    y_label: str
    meta: dict = field(default_factory=dict)
    subtitle: str = ""
    """The statistical subtitle under the title, as the ONS and GOV.UK chart guidance asks:
    the measure, its coverage and period, and the statistic drawn (median and bands, of how
    many replications)."""


COVERAGE = "NHS trusts in England"
"""Who the forecast covers, in every subtitle."""


def scenario_titles(results: Results) -> dict[str, str]:
    """Each scenario's title for publication (:attr:`Scenario.title`), by name. A title that
    an earlier scenario already has (a variant made in Python with ``with_changes`` keeps its
    parent's) is replaced by the scenario's name in words, so no two scenarios read alike."""
    out: dict[str, str] = {}
    for name, scenario in results.scenarios.items():
        title = scenario.title or default_title(name)
        if title in out.values():
            title = default_title(name)
        while title in out.values():
            title += " (again)"
        out[name] = title
    return out


def scenario_title(results: Results, scenario: str) -> str:
    """One scenario's title for publication (see :func:`scenario_titles`)."""
    return scenario_titles(results)[scenario]


def footnote(results: Results, scenario: str) -> str:
    """The line under a scenario's chart: scenario, replications, seed and data sources."""
    return (
        f"Scenario: {scenario_title(results, scenario)}. {results.replications} replications, "
        f"seed {results.manifest.get('seed', 'unknown')}. {DATA_SOURCES}"
    )


def month_span(first: dt.date, last: dt.date) -> str:
    """'April 2026 to March 2031': the months of ``first`` and ``last`` (inclusive)."""
    return f"{first:%B %Y} to {last:%B %Y}"


def forecast_span(results: Results, scenario: str) -> str:
    """The forecast's months, first to last ('April 2026 to March 2031')."""
    last = forecast_end(results, scenario) - dt.timedelta(days=1)
    return month_span(forecast_start(results, scenario), last)


def fan_subtitle(results: Results, measure: str, table: pd.DataFrame) -> str:
    """A graded fan's subtitle: ``measure``, the coverage, the dates drawn (first and last
    period end of ``table``) and the statistic."""
    first, last = table["period_end"].iloc[0], table["period_end"].iloc[-1]
    widths = " to ".join(f"{high - low}%" for low, high in (FAN_BANDS[-1], FAN_BANDS[0]))
    return (
        f"{measure}, {COVERAGE}, {day_text(first)} to {day_text(last)}. Median and middle "
        f"{widths} of {results.replications} replications."
    )


def summary_rows(
    summary: pd.DataFrame, scenario: str, metric: str, frequency: str, group: str = "all"
) -> pd.DataFrame:
    """The summary table's rows for one scenario, metric, frequency and group (period order)."""
    rows = summary[
        (summary["scenario"] == scenario)
        & (summary["metric"] == metric)
        & (summary["frequency"] == frequency)
        & (summary["group"] == group)
    ]
    return rows.reset_index(drop=True)


def fan_table(rows: pd.DataFrame) -> pd.DataFrame:
    """What a graded fan chart draws per period: the percentiles of :data:`FAN_BANDS` (10%
    to 90% by tens) with the median, and the mean, across replications."""
    columns = sorted({f"q{p:02d}" for band in FAN_BANDS for p in band} | {"q50"})
    return rows[["period", *columns, "mean"]].rename(columns={"q50": "median"})


def uncertainty(results: Results) -> str:
    """The run's kind of uncertainty: ``"parameters"`` (each replication draws the uncertain
    assumptions) or ``"noise"`` (fixed assumptions; also runs made before the manifest
    recorded it)."""
    return results.manifest.get("uncertainty") or "noise"


def band_caption(results: Results) -> str:
    """What a graded fan's line and bands mean, and what a replication is in this run."""
    widths = [f"{high - low}%" for low, high in reversed(FAN_BANDS)]
    outer_low, outer_high = FAN_BANDS[0]
    return (
        "The line is the median across replications; the bands, darker towards it as in the "
        f"Bank of England's fan charts, hold the middle {', '.join(widths[:-1])} and "
        f"{widths[-1]} of them, so {100 - outer_high}% lie above the fan and {outer_low}% below. "
        + FUTURES[uncertainty(results)]
    )


def forecast_start(results: Results, scenario: str) -> dt.date:
    """The forecast's first day."""
    return results.scenarios[scenario].start_date


# -------------------------------------------------------------------------- dates


def _add_months(date: dt.date, months: int) -> dt.date:
    index = date.year * 12 + date.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_dates(
    label: str, start: dt.date = dt.date.min, end: dt.date = dt.date.max
) -> tuple[dt.date, dt.date]:
    """First and last day of a period label, clipped to the forecast ``[start, end)``.

    Labels are those of :mod:`sim.experiment.layout`: a month ('2027-05'), a financial quarter
    ('2027/28 Q1', 1 April to 30 June) or a financial year ('2027/28', 1 April to 31 March).
    """
    try:
        if " Q" in label:
            year, quarter = label.split(" Q")
            first, months = _add_months(dt.date(int(year[:4]), 4, 1), 3 * (int(quarter) - 1)), 3
        elif "/" in label:
            first, months = dt.date(int(label[:4]), 4, 1), 12
        else:
            first, months = dt.date(int(label[:4]), int(label[5:7]), 1), 1
    except ValueError as error:
        raise ValueError(f"period label {label!r} is not a month, quarter or year") from error
    after = _add_months(first, months)
    return max(first, start), min(after, end) - dt.timedelta(days=1)


def with_dates(table: pd.DataFrame, results: Results, scenario: str) -> pd.DataFrame:
    """``table`` with the first and last day of each row's period (clipped to the forecast).

    Stocks are drawn at ``period_end`` (the state on 30 June for Q1), flows and averages
    across the period from ``period_start`` to ``period_end``.
    """
    bounds = [period_dates(p, forecast_start(results, scenario), forecast_end(results, scenario))
              for p in table["period"]]  # fmt: skip
    table = table.copy()
    position = list(table.columns).index("period") + 1
    table.insert(position, "period_start", [b[0] for b in bounds])
    table.insert(position + 1, "period_end", [b[1] for b in bounds])
    return table.reset_index(drop=True)


def forecast_end(results: Results, scenario: str) -> dt.date:
    """The day after the forecast's last day."""
    return results.scenarios[scenario].end_date


def day_text(date: dt.date) -> str:
    """'30 Jun 2026'."""
    return f"{date.day} {date:%b %Y}"


def time_meta(results: Results, scenario: str) -> dict:
    """The forecast's first day and the day after its last, for a time chart's x axis."""
    return {"start": forecast_start(results, scenario), "end": forecast_end(results, scenario)}


# ------------------------------------------------------------------ published figures


def _month_date(text: str) -> dt.date:
    """'2025-10' or '2025-10-04' -> the date (the 1st when only the month is known)."""
    parts = [int(p) for p in text.strip().split("-")]
    return dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def observed_caseload(start: dt.date) -> pd.DataFrame:
    """Published figures on the programme's size that fall before the forecast starts.

    The first wave's size is the ``pip_expected_first_entrants`` row of
    ``programme_facts.csv``; it is placed at the first PIP entry in
    ``programme_history.csv`` (when the first wave went in). Columns: date, value, label,
    source.
    """
    rows = []
    facts = read_table("programme_facts.csv")
    entries = [
        _month_date(r["date"])
        for r in read_table("programme_history.csv")
        if r["regime"] == "pip" and r["event"] in ("entry", "re-entry")
    ]
    source = ""
    for row in facts:
        source = source if row["source"].strip() == "same" else row["source"].strip()
        size = re.match(r"\s*(?:about\s+)?(\d+(?:\.\d+)?)", row["value"])
        if row["measure"] != "pip_expected_first_entrants" or not size or not entries:
            continue
        entered, announced = min(entries), _month_date(row["date"])
        rows.append({"date": entered, "value": float(size.group(1)),
                     "label": f"first wave, about {float(size.group(1)):g} trusts (expected "
                              f"{announced:%B %Y}; first entries {entered:%B %Y})",
                     "source": source})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["date", "value", "label", "source"])
    return frame[[d < start for d in frame["date"]]].reset_index(drop=True)


REGIME_WORDS = {
    "special_measures": "special measures",
    "rsp": "the Recovery Support Programme",
    "pip": "the Provider Improvement Programme",
}
"""The programme and the regimes before it, as ``held_out_history.csv`` names them."""


def published_caseload(start: dt.date, years: float) -> pd.DataFrame:
    """Published counts of trusts in the programme, or in the regime before it, dated in the
    ``years`` before the forecast starts on ``start``, oldest first.

    They are the counts of trusts in the programme by every entry route in
    ``held_out_history.csv`` (measure ``in_programme``, route blank; a count of one route,
    such as special measures for quality alone, measures less than the forecast does and is
    left to the back-test), and the first wave of :func:`observed_caseload`. Looking back
    as far as the forecast looks ahead keeps the forecast at least half the chart. Columns:
    date, value, regime, label (the count in words), legend (the regime's name), source.
    """
    earliest = start - dt.timedelta(days=round(years * 365.25))
    rows = [
        {"date": f.date, "value": f.value, "regime": f.regime, "source": f.source,
         "label": f"{f.value:g} trusts in {REGIME_WORDS.get(f.regime, f.regime)} "
                  f"({day_text(f.date)})"}
        for f in load_held_out(default_held_out_path())
        if f.measure == "in_programme" and not f.route
    ]  # fmt: skip
    for row in observed_caseload(start).to_dict("records"):
        rows.append(row | {"regime": "pip", "label": f"{REGIME_WORDS['pip']}'s {row['label']}"})
    frame = pd.DataFrame(rows, columns=["date", "value", "regime", "label", "legend", "source"])
    words = frame["regime"].map(lambda r: REGIME_WORDS.get(r, r).removeprefix("the "))
    frame["legend"] = "Published: " + words.str[:1].str.upper() + words.str[1:]
    frame = frame[[earliest <= d < start for d in frame["date"]]]
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def observed_segments() -> pd.DataFrame:
    """Published segment counts (latest quarter per league table), as in the package data,
    with the first and last day of the quarter they describe."""
    rows = [
        r
        for r in read_table("segment_distributions.csv")
        if r["league_table"] in ("acute", "non_acute")
    ]
    bounds = [period_dates(r["data_quarter"]) for r in rows]
    return pd.DataFrame(
        {
            "league_table": [r["league_table"] for r in rows],
            "segment": [int(r["segment"]) for r in rows],
            "period": [r["data_quarter"] for r in rows],
            "period_start": [b[0] for b in bounds],
            "period_end": [b[1] for b in bounds],
            "trusts": [float(r["trusts"]) for r in rows],
            "of_rows": [int(r["table_rows"]) for r in rows],
        }
    )
