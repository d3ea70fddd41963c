"""The back-test: the model run through the real sequence of oversight regimes (July 2013 to
March 2026) against what was published about the programme over those years.

Two kinds of published figure are compared, each one row of a :class:`HistoryFigure`:

* **held out** of any fit, from ``sim/data/held_out_history.csv`` (columns ``measure, date,
  date_to, value, route, regime, note, source``);
* **used in the fit**, from ``scenarios/calibration/history_targets.yaml`` (a ``targets:``
  list with the same fields plus ``name``, ``tolerance`` and, for two measures, ``options``)
  or from a calibration spec's ``history_figure`` targets (:func:`load_history_targets`).

Measures (dates are calendar dates; a flow counts events in the half-open ``[date, date_to)``):

``in_programme``
    trusts in the programme at ``date``: spells admitted at or before it and not left by it
    (exit, or a merger while in the programme);
``admissions``, ``exits``
    admissions (exits) in ``[date, date_to)``; trusts placed in the programme as the run
    starts (admission time 0) count as admitted then;
``ever_entered``
    distinct trusts admitted in ``[date, date_to)``;
``mean_completed_spell_months`` (YAML only)
    mean length (months) of spells admitted in ``[date, date_to)`` that exited before
    ``options.by`` (default: the run's end);
``share_completed_within`` (YAML only)
    share of spells admitted in ``[date, date_to)`` that exited within ``options.months``;
``mean_length_of_exits`` (YAML only)
    mean length (months, admission to exit) of spells that exited in ``[date, date_to)``.

A ``route`` (``quality``, ``finance``, ``system``, ``segment``, ``catastrophic``) keeps only
spells that began by that route (the spells' ``route`` codes index ``vocabulary.ROUTES``);
blank means every route. Each statistic is computed per replication from the spells, so the
model's mean and 90% range sit beside each published value; the programme's stock month by
month is given for every route and for each route that a published stock figure counts
(:func:`programme_stock`), so each published count can be drawn on the series it measures.
Returns tables; reads the figures' files but draws, prints and writes nothing (its chart is
:func:`sim.outputs.charts.analysis.backtest_chart`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calendar import WEEKS_PER_YEAR, period_starts, weeks_between
from sim.errors import ScenarioError
from sim.experiment.runner import RunSettings, replicate
from sim.scenario import Scenario
from sim.scenario.files import read_yaml
from sim.vocabulary import ROUTES

Spells = Mapping[str, np.ndarray]
"""One replication's spells: ``ReplicationResult.spells`` (arrays by name, times in weeks)."""

HELD_OUT_FILE = "held_out_history.csv"
"""The held-out figures' file in the package's data folder (``sim/data``)."""
CSV_COLUMNS = ("measure", "date", "date_to", "value", "route", "regime", "note", "source")
STOCK_MEASURES = ("in_programme",)
FLOW_MEASURES = ("admissions", "exits", "ever_entered")
SPELL_MEASURES = ("mean_completed_spell_months", "share_completed_within", "mean_length_of_exits")
"""Spell lengths: only the fitted figures' YAML file gives them (two need options)."""
OPTIONS = ("by", "months")
SPEC_STATISTICS = ("history_figure", "mean_length_of_exits")
"""A calibration spec's statistics whose targets are dated figures of the history."""
MEASURES = (*STOCK_MEASURES, *FLOW_MEASURES, *SPELL_MEASURES)
PUBLISHED_ROUTES = ("quality", "finance", "system", "segment", "catastrophic")
"""Entry routes a published figure may be limited to (a subset of ``vocabulary.ROUTES``)."""
WEEKS_PER_MONTH = WEEKS_PER_YEAR / 12
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

PROGRAMME_ERAS: tuple[tuple[str, dt.date], ...] = (
    ("Special measures", dt.date(2013, 7, 1)),
    ("Recovery Support Programme", dt.date(2021, 7, 1)),
    ("Provider Improvement Programme", dt.date(2025, 7, 1)),
)
FRAMEWORKS: tuple[tuple[str, dt.date], ...] = (
    ("Single Oversight Framework", dt.date(2016, 10, 1)),
)
"""When each programme and oversight framework began, for scenarios that do not name their
eras (such as a forecast scenario moved back in time): special measures after the Keogh
review (July 2013), the Single Oversight Framework (October 2016), the Recovery Support
Programme (July 2021) and the Provider Improvement Programme (first entries July 2025)."""


@dataclass(frozen=True)
class HistoryFigure:
    """One published figure about the programme's history and how to compute it."""

    name: str
    measure: str
    date: dt.date
    date_to: dt.date | None
    """End of a flow's half-open interval ``[date, date_to)``; None for a stock."""
    value: float
    route: str
    """An entry route of :data:`PUBLISHED_ROUTES`, or ``""`` for every route."""
    regime: str
    source: str
    used_in_fit: bool
    note: str = ""
    tolerance: float = math.nan
    """The fit's tolerance (same units as ``value``); NaN for held-out figures."""
    by: dt.date | None = None
    """``mean_completed_spell_months``: spells count if they exited before this date."""
    months: float | None = None
    """``share_completed_within``: spells count if they exited within this many months."""


# ------------------------------------------------------------------------------ reading


def default_held_out_path() -> Path:
    """``sim/data/held_out_history.csv`` in the installed package."""
    return Path(str(resources.files("sim.data").joinpath(HELD_OUT_FILE)))


def load_figures(held_out: str | Path, targets: str | Path | None = None) -> list[HistoryFigure]:
    """Fitted figures (``targets``, YAML; None: none) then held-out figures (CSV).

    Raises ScenarioError naming the file, the row or entry and the field for a missing
    file, a bad date, an unknown measure or route, or a value that is not a number.
    """
    figures = load_history_targets(targets) if targets is not None else []
    figures += load_held_out(held_out)
    if not figures:
        raise ScenarioError(held_out, "", "holds no figures to compare with the model")
    return figures


def load_held_out(path: str | Path) -> list[HistoryFigure]:
    """The held-out figures of a CSV file (see the module docstring for its columns)."""
    path = Path(path)
    if not path.is_file():
        reason = "is a folder, not a CSV file" if path.is_dir() else "file not found"
        raise ScenarioError(path, "", f"{reason} (the held-out published figures)")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "", f"cannot be read as UTF-8 text: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ScenarioError(path, "header", f"no column {', '.join(missing)}; the columns "
                            f"are {', '.join(CSV_COLUMNS)}")  # fmt: skip
    figures = []
    for row in reader:
        where = f"line {reader.line_num}"
        if None in row:
            raise ScenarioError(path, where, "more fields than the header has columns")
        row = {k: (v or "").strip() for k, v in row.items()}
        if row["measure"] not in (*STOCK_MEASURES, *FLOW_MEASURES):
            known = ", ".join((*STOCK_MEASURES, *FLOW_MEASURES))
            raise ScenarioError(path, f"{where}, measure",
                                f"unknown measure {row['measure']!r}; known: {known}")  # fmt: skip
        figures.append(_figure(row, path, lambda key, w=where: f"{w}, {key}", used_in_fit=False))
    return figures


def load_history_targets(path: str | Path) -> list[HistoryFigure]:
    """The fitted figures of a YAML file, in either of two forms:

    * a ``targets:`` list of mappings with ``name``, ``measure``, ``date``, ``date_to``,
      ``value``, ``tolerance``, ``source`` and optionally ``route``, ``regime``, ``note``
      and ``options`` (``by`` or ``months``);
    * a calibration spec (``stages:``, see :func:`sim.analysis.targets.load_spec`), whose
      targets of statistic ``history_figure`` (the figure's fields in ``options``) or
      ``mean_length_of_exits`` are read; its other targets are not dated figures.
    """
    path = Path(path)
    raw = read_yaml(path)  # file not found, malformed YAML: ScenarioError naming the file
    if "stages" in raw:
        return _spec_figures(path)
    items = raw.get("targets")
    if not isinstance(items, list):
        raise ScenarioError(path, "targets", "must be a list of published figures")
    figures = []
    for i, item in enumerate(items):
        where = f"targets[{i}]"
        if not isinstance(item, dict):
            raise ScenarioError(path, where, "must be a mapping of fields to values")
        item = dict(item)
        item.setdefault("measure", item.get("statistic", ""))  # the calibration files' word
        for key in ("name", "measure", "date", "value", "tolerance", "source"):
            if item.get(key) in (None, ""):
                raise ScenarioError(path, f"{where}.{key}", "required field is missing")
        if item["measure"] not in MEASURES:
            raise ScenarioError(path, f"{where}.measure", f"unknown measure "
                                f"{item['measure']!r}; known: {', '.join(MEASURES)}")  # fmt: skip
        tolerance = _number(item["tolerance"], path, f"{where}.tolerance")
        if tolerance <= 0:
            raise ScenarioError(path, f"{where}.tolerance", "must be positive")
        options = item.get("options") or {}
        if not isinstance(options, dict):
            raise ScenarioError(path, f"{where}.options", "must be a mapping, e.g. {months: 12}")
        row = {k: "" if item.get(k) is None else item[k] for k in CSV_COLUMNS}
        row |= {k: options.get(k) for k in OPTIONS}

        def field(key: str, w: str = where) -> str:
            return f"{w}.options.{key}" if key in OPTIONS else f"{w}.{key}"

        figures.append(_figure(row, path, field, used_in_fit=True, name=str(item["name"]),
                               tolerance=tolerance))  # fmt: skip
    return figures


def _spec_figures(path: Path) -> list[HistoryFigure]:
    """The dated figures among a calibration spec's targets (see load_history_targets)."""
    from sim.analysis.targets import load_spec  # the fitter's own reading of its spec

    figures = []
    for i, stage in enumerate(load_spec(path).stages):
        for j, target in enumerate(stage.targets):
            if target.statistic not in SPEC_STATISTICS:
                continue
            options = dict(target.options)
            if target.statistic != "history_figure":
                options["measure"] = target.statistic
            if options.get("measure") not in MEASURES:
                raise ScenarioError(path, f"stages[{i}].targets[{j}].options.measure",
                                    f"unknown measure {options.get('measure')!r}; known: "
                                    f"{', '.join(MEASURES)}")  # fmt: skip
            row = {k: "" if options.get(k) is None else options[k] for k in CSV_COLUMNS}
            row |= {"value": target.value, "source": target.source}
            row |= {k: options.get(k) for k in OPTIONS}

            def field(key: str, where: str = f"stages[{i}].targets[{j}]") -> str:
                return f"{where}.{key}" if key == "value" else f"{where}.options.{key}"

            figures.append(_figure(row, path, field, used_in_fit=True, name=target.name,
                                   tolerance=target.tolerance))  # fmt: skip
    return figures


def _figure(row: Mapping, path: Path, field: Callable[[str], str], used_in_fit: bool,
            name: str | None = None, tolerance: float = math.nan) -> HistoryFigure:  # fmt: skip
    """One checked figure from a row's fields (text from the CSV, values from YAML; ``by``
    and ``months`` where the measure needs them); ``field(key)`` names a field in errors."""
    measure = row["measure"]
    date = _date(row["date"], path, field("date"))
    date_to = _date(row["date_to"], path, field("date_to")) if row["date_to"] else None
    if measure in STOCK_MEASURES and date_to is not None:
        raise ScenarioError(path, field("date_to"),
                            f"{measure} is a count at one date; leave date_to blank")  # fmt: skip
    if measure not in STOCK_MEASURES:
        if date_to is None:
            raise ScenarioError(path, field("date_to"),
                                f"{measure} counts over [date, date_to): give date_to")  # fmt: skip
        if date_to <= date:
            raise ScenarioError(path, field("date_to"),
                                f"{date_to} is not after date {date}")  # fmt: skip
    value = _number(row["value"], path, field("value"))
    if value < 0 or (measure == "share_completed_within" and value > 1):
        bound = "from 0 to 1 (a share)" if measure == "share_completed_within" else "0 or more"
        raise ScenarioError(path, field("value"), f"must be {bound}, got {value:g}")
    route = str(row["route"]).strip()
    if route and route not in PUBLISHED_ROUTES:
        raise ScenarioError(path, field("route"), f"unknown route {route!r}; known: "
                            f"{', '.join(PUBLISHED_ROUTES)} (blank for all routes)")  # fmt: skip
    by = months = None
    if measure == "mean_completed_spell_months" and row.get("by") not in (None, ""):
        by = _date(row["by"], path, field("by"))
    if measure == "share_completed_within":
        if row.get("months") in (None, ""):
            raise ScenarioError(path, field("months"),
                                "required: spells count if they exit within this many months")  # fmt: skip
        months = _number(row["months"], path, field("months"))
        if months <= 0:
            raise ScenarioError(path, field("months"), "must be positive")
    return HistoryFigure(
        name=name or _default_name(measure, date, date_to, route),
        measure=measure, date=date, date_to=date_to, value=value, route=route,
        regime=str(row["regime"]), source=str(row["source"]), used_in_fit=used_in_fit,
        note=str(row["note"]), tolerance=tolerance, by=by, months=months,
    )  # fmt: skip


def _date(value, path: Path, where: str) -> dt.date:
    """A date: YAML's own, or text ``YYYY-MM-DD`` or ``YYYY-MM`` (the month's first day)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        parts = [int(p) for p in text.split("-")]
        if len(parts) == 3 and len(text) == 10:
            return dt.date(*parts)
        if len(parts) == 2 and len(text) == 7:
            return dt.date(parts[0], parts[1], 1)
    except ValueError:
        pass
    raise ScenarioError(path, where, f"{text!r} is not a date (write YYYY-MM-DD or YYYY-MM)")


def _number(value, path: Path, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScenarioError(path, where, f"{value!r} is not a number") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ScenarioError(path, where, f"{value!r} is not a finite number")
    return number


def _default_name(measure: str, date: dt.date, date_to: dt.date | None, route: str) -> str:
    """'in programme on 2016-04-01', 'admissions 2014-01-01 to 2015-01-01 (quality)'."""
    words = measure.replace("_", " ")
    when = f"on {date}" if date_to is None else f"{date} to {date_to}"
    return f"{words} {when}" + (f" ({route})" if route else "")


# -------------------------------------------------------------------------- statistics


def programme_end(spells: Spells) -> np.ndarray:
    """When each spell left the programme (weeks): its exit or, for a trust that merged
    away while in the programme (no exit), the merger (``support_end``); NaN if neither."""
    end = np.array(spells["exit"], dtype=float)
    if "merged" in spells:
        merged = np.asarray(spells["merged"], dtype=bool) & np.isnan(end)
        end[merged] = spells["support_end"][merged]
    return end


def stock_at(spells: Spells, weeks: np.ndarray | float, keep: np.ndarray | None = None):
    """Trusts in the programme at each time (weeks since the start): spells admitted at or
    before it and not left by it (:func:`programme_end` NaN, or later). ``keep`` selects
    spells. Returns one count per time."""
    admission, end = spells["admission"], programme_end(spells)
    if keep is not None:
        admission, end = admission[keep], end[keep]
    t = np.atleast_1d(np.asarray(weeks, dtype=float))[:, None]
    # NaN <= t is False: a spell never admitted is not in, one never ended stays in
    inside = (admission[None, :] <= t) & ~(end[None, :] <= t)
    return inside.sum(axis=1)


def route_filter(spells: Spells, route: str) -> tuple[np.ndarray, str]:
    """Which spells began by ``route`` (all for ``""``), and a note when the model's spells
    say nothing of routes (then every spell is kept)."""
    everything = np.ones(len(spells["admission"]), dtype=bool)
    if not route:
        return everything, ""
    if "route" not in spells:
        return everything, f"the model's spells have no entry route: all routes counted for {route}"
    return np.asarray(spells["route"]) == ROUTES.index(route), ""


def figure_value(spells: Spells, figure: HistoryFigure, start: dt.date, end: dt.date) -> float:
    """The figure's statistic in one replication (NaN when it has nothing to average)."""
    keep, _ = route_filter(spells, figure.route)
    t0 = weeks_between(start, figure.date)
    if figure.measure == "in_programme":
        return float(stock_at(spells, t0, keep)[0])
    t1 = weeks_between(start, figure.date_to)
    admission, exit_ = spells["admission"], spells["exit"]
    if figure.measure == "exits":
        return float((keep & (exit_ >= t0) & (exit_ < t1)).sum())
    admitted = keep & (admission >= t0) & (admission < t1)
    if figure.measure == "admissions":
        return float(admitted.sum())
    if figure.measure == "ever_entered":
        return float(len(np.unique(spells["trust"][admitted])))
    months = (exit_[admitted] - admission[admitted]) / WEEKS_PER_MONTH  # NaN if not exited
    if figure.measure == "mean_completed_spell_months":
        by = weeks_between(start, figure.by or end)
        done = months[exit_[admitted] < by]
        return float(done.mean()) if len(done) else math.nan
    if figure.measure == "share_completed_within":
        return float(np.mean(months <= figure.months)) if len(months) else math.nan
    if figure.measure == "mean_length_of_exits":
        exited = keep & (exit_ >= t0) & (exit_ < t1)
        lengths = (exit_[exited] - admission[exited]) / WEEKS_PER_MONTH
        return float(lengths.mean()) if len(lengths) else math.nan
    raise ValueError(f"unknown measure {figure.measure!r}")


def outside_run(figure: HistoryFigure, start: dt.date, end: dt.date) -> str:
    """Why the run cannot give the figure (its dates fall outside it), or ``""``."""
    last = max(d for d in (figure.date, figure.date_to, figure.by) if d is not None)
    if figure.date < start or last > end:
        return f"outside the simulated period {start} to {end}: not compared"
    return ""


def figure_values(
    runs: Sequence[Spells], figure: HistoryFigure, start: dt.date, end: dt.date
) -> np.ndarray:
    """The figure's statistic in each replication (``runs``: one spells mapping each)."""
    return np.array([figure_value(spells, figure, start, end) for spells in runs], dtype=float)


def backtest_table(
    runs: Sequence[Spells], figures: Sequence[HistoryFigure], start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Per figure: the published value, the model's mean, median and 5th and 95th
    percentiles across replications, ``inside`` (published within that 90% range),
    ``used_in_fit``, regime, source and notes (``published_note`` from the file; ``note``
    from the back-test). ``start`` and ``end`` are the run's first day and the day after its
    last; ``runs`` holds each replication's spells (times in weeks since ``start``)."""
    rows = []
    for f in figures:
        note = outside_run(f, start, end)
        values = np.full(0, np.nan)
        if not note:
            values = figure_values(runs, f, start, end)
            values = values[~np.isnan(values)]
            if not len(values):
                note = "no replication has a spell to measure"
        if not note and runs:
            note = route_filter(runs[0], f.route)[1]
        q05, q50, q95 = np.quantile(values, (0.05, 0.5, 0.95)) if len(values) else [np.nan] * 3
        rows.append({
            "name": f.name, "measure": f.measure, "date": f.date, "date_to": f.date_to,
            "route": f.route, "regime": f.regime, "published": f.value,
            "model_mean": float(values.mean()) if len(values) else np.nan,
            "model_q05": q05, "model_median": q50, "model_q95": q95,
            "inside": bool(len(values)) and bool(q05 <= f.value <= q95),
            "compared": bool(len(values)), "used_in_fit": f.used_in_fit,
            "tolerance": f.tolerance, "source": f.source, "published_note": f.note,
            "note": note,
        })  # fmt: skip
    return pd.DataFrame(rows)


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months in ``[start, end)`` (``start`` itself if it is a 1st)."""
    return ([start] if start.day == 1 else []) + period_starts(start, end, "month")


def stock_routes(figures: Sequence[HistoryFigure], start: dt.date, end: dt.date) -> list[str]:
    """Routes whose stock :func:`programme_stock` gives: ``""`` (every route), then each
    route of :data:`PUBLISHED_ROUTES` that a published stock figure inside the run counts."""
    counted = {f.route for f in figures if f.measure in STOCK_MEASURES and f.route
               and not outside_run(f, start, end)}  # fmt: skip
    return ["", *(route for route in PUBLISHED_ROUTES if route in counted)]


def programme_stock(
    runs: Sequence[Spells], start: dt.date, end: dt.date, routes: Sequence[str] = ("",)
) -> pd.DataFrame:
    """Trusts in the programme at each month's start, for each of ``routes`` (``""``: every
    route; otherwise spells begun by that route, as :func:`route_filter` keeps them): median
    and 5th, 25th, 75th and 95th percentiles across replications. Columns: route (blank for
    every route), month (its first day), median, q05, q25, q75, q95; one row per route and
    month, routes in the order given."""
    months = month_starts(start, end)
    weeks = np.array([weeks_between(start, m) for m in months])
    parts = []
    for route in routes:
        counts = np.array([stock_at(spells, weeks, route_filter(spells, route)[0])
                           for spells in runs], dtype=float)  # fmt: skip
        q05, q25, q50, q75, q95 = np.quantile(counts, QUANTILES, axis=0)
        parts.append(pd.DataFrame({"route": route, "month": months, "median": q50, "q05": q05,
                                   "q25": q25, "q75": q75, "q95": q95}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


# -------------------------------------------------------------------------------- runs


def spells_of(result) -> dict[str, np.ndarray]:
    """What the back-test keeps of a replication (module level, so workers can be given
    it): its spells, a few kilobytes, not its score histories."""
    return result.spells


def run_history(scenario: Scenario, settings: RunSettings) -> list[dict[str, np.ndarray]]:
    """Each replication's spells (replications 0 .. N-1, common random numbers)."""
    return list(replicate(scenario, settings, reduce=spells_of))


@dataclass(frozen=True)
class Regimes:
    """The oversight regimes of a run: (label, first day) of each programme, in date order
    from the run's start, and of each change of segmentation framework within the run that
    does not come with a new programme."""

    programmes: list[tuple[str, dt.date]]
    frameworks: list[tuple[str, dt.date]]


def regime_eras(scenario: Scenario) -> Regimes:
    """The run's regimes, read from the scenario when its programme names its eras (the
    programme's name, its named eras, and segmentation rules with a label); otherwise
    :data:`PROGRAMME_ERAS` and :data:`FRAMEWORKS`, clipped to the run."""
    start, end = scenario.start_date, scenario.end_date
    programme = scenario.programme
    named = [(era.name, era.effective_from) for era in getattr(programme, "eras", None) or []
             if getattr(era, "name", None)]  # fmt: skip
    if named:
        programmes = [(getattr(programme, "name", ""), start), *named]
        frameworks = [(rule.label, rule.effective_from) for rule in scenario.segmentation.rules
                      if getattr(rule, "label", "")]  # fmt: skip
    else:
        programmes, frameworks = list(PROGRAMME_ERAS), list(FRAMEWORKS)
    spans: list[tuple[str, dt.date]] = []
    for label, first in sorted(programmes, key=lambda era: era[1]):
        first = max(first, start)  # the programme in force when the run starts
        if first >= end or (spans and spans[-1][0] == label):
            continue
        if spans and spans[-1][1] == first:
            spans.pop()  # a later programme on the same day replaces it
        spans.append((label, first))
    changes = {first for _, first in spans}
    lines = [(label, first) for label, first in sorted(frameworks, key=lambda f: f[1])
             if start < first < end and first not in changes]  # fmt: skip
    return Regimes(spans, lines)


@dataclass(frozen=True)
class Backtest:
    """A back-test's tables and what they were made from."""

    table: pd.DataFrame
    """One row per published figure (:func:`backtest_table`)."""
    stock: pd.DataFrame
    """Trusts in the programme at each month's start, for every route and for each route
    with a published stock figure (:func:`programme_stock`, :func:`stock_routes`)."""
    regimes: Regimes
    scenario: str
    start: dt.date
    end: dt.date
    """The day after the run's last day."""
    replications: int
    seed: int


def backtest(
    scenario: Scenario, figures: Sequence[HistoryFigure], settings: RunSettings
) -> Backtest:
    """Run the history scenario and set each published figure beside the model."""
    runs = run_history(scenario, settings)
    start, end = scenario.start_date, scenario.end_date
    return Backtest(
        table=backtest_table(runs, figures, start, end),
        stock=programme_stock(runs, start, end, stock_routes(figures, start, end)),
        regimes=regime_eras(scenario), scenario=scenario.name, start=start, end=end,
        replications=settings.replications, seed=settings.seed,
    )  # fmt: skip
