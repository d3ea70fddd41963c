"""Warm start: a forecast that begins from the end state of a history run.

A forecast normally starts from the published state on its ``start_date`` (segment
counts, the trusts in the programme and how long they have been there, as the scenario
file gives them). With ``warm_start: history/<file>.yaml`` it starts instead from where a
run of the history leaves the trusts: each keeps its score, deficit, board rating,
segment, place in the programme, time in its phase and past spells.

This is done by running one continuous scenario, built here: the history's settings up
to the forecast's ``start_date`` and the forecast's from then on. The model then reports
only the forecast's window (see :func:`sim.model.compile_scenario`). So:

* population dynamics (scores, deficit, capability) are the forecast's throughout (a
  history extends the baseline, so they are normally the same); the starting counts are
  the history's;
* segmentation rules are the history's before ``start_date`` and the forecast's from it;
* the programme follows the history's eras, then takes the forecast's settings whole on
  ``start_date`` (an era named after the forecast's programme), then the forecast's eras;
* the team (WTE, capacity, costs and shortfall policy) is the forecast's throughout,
  since a policy cannot change on a date; the history's own team settings are not used;
* trust counts follow the history, then the forecast's (the package's register if it
  gives none), which may not be higher than the history's last.

Reads the history file (scenario layer I/O); builds and validates a new Scenario.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from sim.errors import ScenarioError
from sim.scenario.schema import Scenario
from sim.vocabulary import LEAGUE_TABLES, PHASES


@cache
def _load_history(path: str, modified: float) -> Scenario:
    from sim.scenario.loader import load_scenario  # the loader imports this module's users

    return load_scenario(path)


def history_of(scenario: Scenario) -> Scenario:
    """The history scenario a warm-started ``scenario`` names (loaded once per file
    version)."""
    path = Path(scenario.warm_start)
    if not path.is_file():
        raise ScenarioError(path, "warm_start", "history scenario file not found")
    return _load_history(str(path), path.stat().st_mtime)


def _steps_from(steps: list[dict], start: dt.date) -> list[dict]:
    """The steps in force from ``start`` on: the last one on or before it (moved to
    ``start``) and every later one."""
    before = [s for s in steps if s["effective_from"] <= start]
    later = [s for s in steps if s["effective_from"] > start]
    return ([before[-1] | {"effective_from": start}] if before else []) + later


def _all_routes(referrals: dict) -> dict | None:
    """The forecast's entry routes as an era's changes: every route, those it does not
    use switched off (rate 0), so none of the history's carries over."""
    if referrals["mode"] != "segments":
        return None
    off = {"rate_per_trust_year": 0.0, "score_gradient": 0.0}
    return {key: value for key, value in referrals.items() if key != "mode"} | {
        "quality": referrals["quality"] or off,
        "finance": referrals["finance"] or off,
        "system": referrals["system"] or {"rate_per_year": 0.0, "from_segment": 3},
    }


def combined_scenario(forecast: Scenario) -> tuple[Scenario, dt.date]:
    """One scenario running the history up to the forecast's start and the forecast
    after it, and the date the history starts (the combined scenario's start)."""
    history = history_of(forecast)
    start = forecast.start_date
    where = Path(forecast.warm_start)
    if history.warm_start is not None:
        raise ScenarioError(where, "warm_start", "a history scenario cannot itself warm-start")
    if history.start_date >= start:
        raise ScenarioError(
            where,
            "start_date",
            f"the history starts on {history.start_date}, not before the forecast's start {start}",
        )
    if history.programme.referrals.mode != forecast.programme.referrals.mode:
        raise ScenarioError(
            where,
            "programme.referrals.mode",
            f"the history refers by {history.programme.referrals.mode!r} and the forecast by "
            f"{forecast.programme.referrals.mode!r}: a warm start needs the same mode",
        )
    h = history.model_dump(mode="python", exclude={"notes"})
    f = forecast.model_dump(mode="python", exclude={"notes"})

    combined = dict(f)
    combined["warm_start"] = None
    combined["start_date"] = history.start_date
    days = (forecast.end_date - history.start_date).days
    combined["horizon_years"] = days / 365.25

    population = dict(f["population"])
    population["tables"] = {
        name: f["population"]["tables"][name]
        | {
            key: h["population"]["tables"][name][key]
            for key in ("initial_segment_counts", "initial_deficit_counts")
        }
        for name in LEAGUE_TABLES
    }
    history_counts = [
        s for s in h["population"]["trust_counts"] or [] if s["effective_from"] < start
    ]
    forecast_counts = forecast.population.counts_at(start)
    if forecast_counts is None:
        from sim.data import trust_register  # data reads the package's files

        register = trust_register()
        forecast_counts = tuple(register.table_size(i) for i in range(len(LEAGUE_TABLES)))
    counts = (
        history_counts
        + [dict(zip(LEAGUE_TABLES, forecast_counts, strict=True)) | {"effective_from": start}]
        + [s for s in f["population"]["trust_counts"] or [] if s["effective_from"] > start]
    )
    if not history_counts:
        register_start = history.population.counts_at(history.start_date)
        if register_start is not None:
            counts.insert(
                0,
                dict(zip(LEAGUE_TABLES, register_start, strict=True))
                | {"effective_from": history.start_date},
            )
    population["trust_counts"] = counts
    combined["population"] = population

    segmentation = dict(f["segmentation"])
    history_rules = [
        r | {"financial_override": h["segmentation"]["financial_override"]
             if r["financial_override"] is None else r["financial_override"]}
        for r in h["segmentation"]["rules"]
        if r["effective_from"] < start
    ]  # fmt: skip
    segmentation["rules"] = history_rules + _steps_from(f["segmentation"]["rules"], start)
    combined["segmentation"] = segmentation

    programme = dict(h["programme"])
    programme["priority"] = f["programme"]["priority"]
    forecast_era = {
        "effective_from": start,
        "name": f["programme"]["name"],
        "cap": "none" if f["programme"]["cap"] is None else f["programme"]["cap"],
        "referrals": _all_routes(f["programme"]["referrals"]),
        "phases": {name: f["programme"]["phases"][name] for name in PHASES},
        **{
            key: f["programme"][key]
            for key in ("dose_response", "target_duration_weeks", "exit_score_gain",
                        "relapse_probability", "improvement_work_scale")
        },
    }  # fmt: skip
    programme["eras"] = (
        [e for e in h["programme"]["eras"] if e["effective_from"] < start]
        + [forecast_era]
        + [e for e in f["programme"]["eras"] if e["effective_from"] > start]
    )
    combined["programme"] = programme

    team = dict(f["team"])
    national = dict(team["national"])
    schedule = _steps_from(national["wte_schedule"], start)
    national["wte_schedule"] = [schedule[0] | {"effective_from": history.start_date}] + schedule[1:]
    team["national"] = national
    combined["team"] = team

    try:
        return Scenario.model_validate(combined), history.start_date
    except ValueError as exc:  # a combination the schema rejects, e.g. counts that rise
        raise ScenarioError(where, "warm_start", f"cannot continue this history: {exc}") from None
