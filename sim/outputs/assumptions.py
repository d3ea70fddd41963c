"""The chart pack's assumptions: one table of what differs between the scenarios (a column
per scenario) and, in an appendix, every assumption once.

Each number and setting is named in plain English with its unit
(:func:`sim.vocabulary.plain_label`), never by its field path; values are written for
people (shares as percentages, amounts in pounds, dates as dates, fitted values to three
significant figures); the basis is the scenario file's source or assumption, with the
calibration's notes of fitted values put in words. All text is escaped. Computes nothing
about the run.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from sim.outputs.tables import format_number
from sim.scenario.schema import Scenario
from sim.vocabulary import (
    LEAGUE_TABLES,
    PHASES,
    PROVIDERS,
    SOURCE_WORDS,
    TABLE_WORDS,
    plain_label,
)

LEFT_OUT = ("name", "title", "description", "notes")
"""Fields the page shows elsewhere (the scenario's names and description)."""
SECTIONS = {
    "horizon_years": "The forecast", "start_date": "The forecast",
    "calibration_ensemble": "The forecast", "warm_start": "The forecast",
    "population": "Trusts, their scores, finances and boards",
    "segmentation": "Segmentation", "programme": "The programme",
    "team": "Support teams and costs",
}  # fmt: skip
"""The heading of each top-level field's rows in the full list."""
VALUE_WORDS = {
    "quartiles": "quartiles within each league table",
    "fixed_thresholds": "fixed score thresholds",
    "sof": "Single Oversight Framework shares",
    "wait": "trusts wait for a place until the team has hours",
    "buy": "consultancy is bought to fill the gap",
    "dilute": "support is spread thinner",
    "backfill": "interim staff, then consultancy, fill the gap",
    "segments": "from the lowest segment, with a low-capability board",
    "poisson": "at random, at a fixed rate",
    "schedule": "on given dates",
    "stay_on_list": "stays on the list",
    "leave_list": "leaves the list",
    "catastrophic_first": "catastrophic failures first",
    "worst_score": "worst score",
    "longest_waiting": "longest waiting",
    "non_acute": "non-acute",
    "initial": "in the programme at the start",
}
"""Settings' values in words (the rest are shown as they are, underscores as spaces)."""
FITTED = re.compile(
    r"fitted by `?python -m sim calibrate`? on (\d{4}-\d{2}-\d{2}) \(stage [\w-]+, bounds "
    r"([^)]*)\) to published targets: (.*?);? see fit\.json for the quality of fit",
    re.S,
)
FITTED_CHARACTERS = 90
"""Length of the list of published figures in the basis of a fitted value (the rest are
"others", listed in the calibration's fit.json)."""
VARIANT = re.compile(r"^value set by the variant \S+$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Assumption:
    """One row: a number or setting, its plain label and unit, each scenario's value in
    words, and the basis of the first scenario's value."""

    path: str
    label: str
    unit: str
    values: dict[str, str]
    basis: str
    section: str

    @property
    def differs(self) -> bool:
        return len(set(self.values.values())) > 1


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every value of a scenario tree by field path (lists of sections item by item)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(node, list) and node and isinstance(node[0], dict):
        out = {}
        for i, value in enumerate(node):
            out |= flatten(value, f"{prefix}[{i}]")
        return out
    return {prefix: node}


def positions(tree: dict) -> dict[str, str]:
    """Words naming each item of the scenario's lists: a dated step by its date ('from 1 Oct
    2026', with an era's programme name), trusts at the start by their table and phase."""
    words = {}
    for path, value in flatten(tree).items():
        item = path.rsplit(".", 1)[0]
        if not item.endswith("]"):
            continue
        if path.endswith(".effective_from"):
            words[item] = f"from {_date(value)}" + words.get(item, "")
        elif path.endswith("].name") and value:
            words[item] = words.get(item, "") + f", {value}"
    for path in flatten(tree):
        item = path.rsplit(".", 1)[0]
        if item.startswith("programme.initial.") and item.endswith("]") and item not in words:
            parts = [flatten(tree).get(f"{item}.{k}") for k in ("league_table", "phase")]
            words[item] = ", ".join(format_value(p) for p in parts if p)
    return words


def _date(text: str) -> str:
    return f"{dt.date.fromisoformat(text).day} {dt.date.fromisoformat(text):%b %Y}"


def format_value(value: Any, unit: str = "") -> str:
    """A value in words: percentages for shares, pounds for amounts, dates as dates, other
    numbers to three significant figures (whole numbers in full), settings in words."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if not value:
            return "none"
        joiner = " then " if all(isinstance(v, str) for v in value) else ", "
        return joiner.join(format_value(v, unit) for v in value)
    if isinstance(value, str):
        if not value:
            return "none"
        if DATE.match(value):
            return _date(value)
        if unit == "file":
            return PurePath(value).name
        return VALUE_WORDS.get(value, value.replace("_", " "))
    if unit.startswith("%"):
        return f"{_significant(value * 100)}%"
    if unit.startswith("£"):
        return f"£{value:,.0f}" if float(value).is_integer() else f"£{value:,.2f}"
    return _significant(value)


def _significant(value: float) -> str:
    """Whole numbers in full (with thousands separators), others to three significant
    figures: the people's format of :func:`sim.outputs.tables.format_number`."""
    return format_number(value)


def unit_words(unit: str) -> str:
    """The unit column: what the value does not already say ('%' and '£' are in it)."""
    for mark in ("%", "£", "date", "file"):
        if unit.startswith(mark):
            return unit[len(mark):].strip()
    return unit


def basis_words(scenario: Scenario, path: str) -> str:
    """Where the value comes from: the file's source, or its assumption (fitted values in
    words), or that the scenario sets it."""
    note = scenario.notes.get(path)
    if note is None or not (note.source or note.assumption):
        return "Scenario setting"
    if note.source:
        return f"Source: {' '.join(note.source.split())}"
    text = " ".join(note.assumption.split())
    fitted = FITTED.search(text)
    if fitted:
        date, bounds, targets = fitted.groups()
        targets = " ".join(targets.split())
        if len(targets) > FITTED_CHARACTERS:
            targets = targets[: targets.rfind(", ", 0, FITTED_CHARACTERS)] + " and others"
        return (f"Fitted on {_date(date)} by the calibration, within {bounds}, to published "
                f"figures: {targets} (all of them, and the quality of fit, are in the "
                "calibration's fit.json)")
    if VARIANT.match(text):
        return "Set by this scenario"
    return f"Assumption: {text}"


@dataclass(frozen=True)
class SideBySide:
    """Fields that differ only by a league table, phase or provider, shown in one row with
    each part's value ('acute 2.4; non-acute 2.32; ambulance 2.4')."""

    pattern: re.Pattern
    """Matches a field path; its groups ``head``, ``part`` and ``field``."""
    words: dict[str, str]
    """Each part in running text."""
    every: str
    """After a value that every part shares: '(every table)'."""
    by: str
    """Appended to the row's label (unless it says 'each'): ', by league table'."""
    changes: tuple[tuple[str, str], ...]
    """(pattern, replacement) made in the label of the first part's field, in turn, to
    make it the row's: ``{part}`` is that part's words."""

    def key(self, found: re.Match) -> str:
        return f"{found['head']}*.{found['field']}"

    def label(self, label: str, part: str) -> str:
        """The first part's label made the row's: the part's words taken out."""
        words = re.escape(self.words.get(part, part))
        for pattern, replacement in self.changes:
            label = re.sub(pattern.format(part=words), replacement, label, count=1,
                           flags=re.IGNORECASE)  # fmt: skip
        by = "" if " each " in label else self.by
        return f"{label[:1].upper()}{label[1:]}{by}"


SIDE_BY_SIDE = (
    SideBySide(re.compile(rf"^(?P<head>population\.tables\.)(?P<part>{'|'.join(LEAGUE_TABLES)})"
                          r"\.(?P<field>.+)$"),
               TABLE_WORDS, "(every table)", ", by league table", ((r"\b{part} ", ""),)),
    SideBySide(re.compile(rf"^(?P<head>programme\.phases\.)(?P<part>{'|'.join(PHASES)})"
                          r"\.(?P<field>.+)$"),
               {p: p for p in PHASES}, "(every phase)", ", by phase",
               ((r"\bthe {part} phase\b", "each phase"), (r"\b{part} ", ""))),
    SideBySide(re.compile(rf"^(?P<head>team\.paid_by_trusts\.)(?P<part>{'|'.join(PROVIDERS)})"
                          r"(?P<field>)$"),
               SOURCE_WORDS, "(every provider)", ", by provider", ((r" of {part}", ""),)),
)  # fmt: skip
"""Fields shown side by side: the league tables, the phases, the providers paid for."""
NAMED_BY_POSITION = re.compile(r"^programme\.initial\.\w+\[\d+\]\.(league_table|phase)$")
"""Fields of the trusts in the programme or waiting at the start that name their rows."""
DATED_ITEM = re.compile(r"^(?P<list>[\w.]+?)\[(?P<index>\d+)\]\.(?P<field>.+)$")


def _side_by_side(path: str) -> tuple[SideBySide, re.Match] | None:
    for group in SIDE_BY_SIDE:
        found = group.pattern.match(path)
        if found:
            return group, found
    return None


def _dated_lists(flat: dict[str, Any]) -> dict[str, list[str]]:
    """Lists of dated steps (each item has an ``effective_from``: the national team's size,
    segmentation rules, trust counts, programme eras) and the dates of their items."""
    lists: dict[str, list[str]] = {}
    for path, value in flat.items():
        found = DATED_ITEM.match(path)
        if found and found["field"] == "effective_from":
            lists.setdefault(found["list"], []).append(value)
    return lists


def _rows_of(flat: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """Each row's (item path, value) pairs: one pair for a plain field; for fields side by
    side (:data:`SIDE_BY_SIDE`), one row with each part's value; for a field of a list of
    dated steps, one row for all the steps, with each step's date (steps that do not set the
    field are left out)."""
    dated = _dated_lists(flat)
    rows: dict[str, list[tuple[str, Any]]] = {}
    for path, value in flat.items():
        side = _side_by_side(path)
        if side:
            group, found = side
            rows.setdefault(group.key(found), []).append((path, (found["part"], value)))
            continue
        found = DATED_ITEM.match(path)
        if found and found["list"] in dated:
            if found["field"] == "effective_from" or value is None or value == "":
                continue
            when = dated[found["list"]][int(found["index"])]
            rows.setdefault(f"{found['list']}[].{found['field']}", []).append((path, (when, value)))
        else:
            rows.setdefault(path, []).append((path, value))
    return rows


def assumptions(scenarios: dict[str, Scenario]) -> list[Assumption]:
    """Every number and setting of the scenarios (the union of their fields, in the first
    scenario's order), with each scenario's value in words; the league tables, phases and
    providers side by side (:data:`SIDE_BY_SIDE`); a field of a list of dated steps as one
    row, its value each step's with its date ('51 from 1 Apr 2025; 37 from 1 Oct 2026')."""
    trees = {name: s.model_dump(mode="json", exclude=set(LEFT_OUT)) for name, s in scenarios.items()}
    rows_of = {name: _rows_of(flatten(tree)) for name, tree in trees.items()}
    first = next(iter(scenarios))
    words = positions(trees[first])
    keys = list(dict.fromkeys(k for rows in rows_of.values() for k in rows))
    out = []
    for key in keys:
        if NAMED_BY_POSITION.match(key):
            continue  # the words naming the item say it
        owner = next(n for n in scenarios if key in rows_of[n])
        paths = [path for path, _ in rows_of[owner][key]]
        label, unit = plain_label(key if "[]" in key else paths[0], words)
        if key.startswith("programme.eras[]."):  # the programme's own value has its own row
            label = f"Changes to the {plain_label(key, sentence=True)[0]}"
        side = _side_by_side(paths[0])
        if side and len(paths) > 1:
            label = side[0].label(label, side[1]["part"])
        note = scenarios[owner].notes.get(paths[0])
        if not unit and note is not None and note.unit:
            unit = note.unit
        values = {n: _value_words(rows_of[n].get(key), unit, side) for n in scenarios}
        bases = _bases(scenarios[owner], paths, side)
        out.append(Assumption(key, label, unit_words(unit), values, "; ".join(bases),
                              SECTIONS.get(re.split(r"[.\[]", key)[0], "Other")))  # fmt: skip
    order = list(dict.fromkeys(SECTIONS.values()))  # each section's rows together, in turn
    return sorted(out, key=lambda row: order.index(row.section) if row.section in order else 99)


SAME_AS = re.compile(r"^Assumption: as (acute|non-acute)$")
"""A league table's basis that points at another table's (left out of a row for all)."""


def _bases(scenario: Scenario, paths: list[str], side) -> list[str]:
    """The distinct bases of a row's values; in a row of parts side by side, each named by
    its part when they differ (those that say 'as acute' left out)."""
    if side is None or len(paths) == 1:
        return list(dict.fromkeys(basis_words(scenario, path) for path in paths))
    group = side[0]
    found: dict[str, str] = {}
    for path in paths:
        basis = basis_words(scenario, path)
        if not SAME_AS.match(basis) and basis not in found.values():
            found[group.words.get(group.pattern.match(path)["part"], "")] = basis
    if len(found) == 1:
        return list(found.values())
    return [f"{part[:1].upper()}{part[1:]}: {basis}" for part, basis in found.items()]


def _value_words(pairs: list[tuple[str, Any]] | None, unit: str, side) -> str:
    if pairs is None:
        return "not set"
    if side is not None:
        group = side[0]
        values = {part: format_value(value, unit) for _, (part, value) in pairs}
        if len(values) == 1:
            return next(iter(values.values()))
        if len(set(values.values())) == 1:
            return f"{next(iter(values.values()))} {group.every}"
        return "; ".join(f"{group.words.get(p, p)} {v}" for p, v in values.items())
    if isinstance(pairs[0][1], tuple):  # dated steps
        return "; ".join(f"{format_value(value, unit)} from {_date(when)}"
                         for _, (when, value) in pairs)  # fmt: skip
    return format_value(pairs[0][1], unit)


def differences_html(rows: list[Assumption], titles: dict[str, str]) -> str:
    """The table of what differs between the scenarios: a row per number or setting that
    differs, a column per scenario (or a sentence when nothing does)."""
    e = html.escape
    differ = [r for r in rows if r.differs]
    if len(titles) < 2:
        return "<p>This run has one scenario; its assumptions are listed in the appendix.</p>"
    if not differ:
        return "<p>The scenarios have the same assumptions.</p>"
    head = "".join(f'<th scope="col">{e(t)}</th>' for t in titles.values())
    body = "".join(
        f'<tr><th scope="row">{e(r.label)}</th><td>{e(r.unit)}</td>'
        + "".join(f"<td>{e(r.values[n])}</td>" for n in titles)
        + "</tr>"
        for r in differ
    )
    return (
        '<table id="differences-table" class="differences"><caption>What the scenarios change: '
        "every assumption that differs between them (the rest are in Appendix A)</caption>"
        f'<thead><tr><th scope="col">Assumption</th><th scope="col">Unit</th>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table>"
    )


def full_list_html(rows: list[Assumption], titles: dict[str, str]) -> str:
    """Every assumption once, by section: its value with its unit (each scenario's, where
    they differ) and its basis."""
    e = html.escape
    parts, section = [], None
    for r in rows:
        if r.section != section:
            section = r.section
            parts.append(f'<tr class="section"><th colspan="3" scope="rowgroup">{e(section)}</th></tr>')
        unit = f" {r.unit}" if r.unit else ""
        if r.differs:
            value = "; ".join(f"{titles[n]}: {v}{unit}" for n, v in r.values.items())
        else:
            value = next(iter(r.values.values())) + unit
        parts.append(f'<tr><th scope="row">{e(r.label)}</th><td>{e(value)}</td>'
                     f"<td>{e(r.basis)}</td></tr>")  # fmt: skip
    return (
        '<table id="assumptions-table" class="assumptions"><thead><tr><th scope="col">'
        'Assumption</th><th scope="col">Value</th><th scope="col">Basis</th></tr></thead>'
        f"<tbody>{''.join(parts)}</tbody></table>"
    )
