"""Instant what-if: change a few assumptions, re-run quickly and redraw.

This module holds everything behind the what-if notebook (``notebooks/03_what_if.ipynb``)
so that the notebook only puts controls on the screen:

* :class:`Settings` is what the controls show: the programme cap, the national team's size
  before and after its cut and the date of the cut, the improvement phase's blend of
  support, the shortfall policy, the entry rule (segmentation rule and share of boards
  rated low capability) and how referrals arrive.
* :func:`build_scenario` turns settings into a validated scenario with
  :func:`sim.scenario.with_changes`, changing only what differs from the base scenario.
  An invalid combination raises :class:`WhatIfError` with a plain-English reason.
* :class:`ResultCache` keeps recent results keyed by the scenario's content hash
  (:func:`sim.scenario.scenario_hash`), the replications and the seed, so going back to a
  combination already seen is instant.
* :class:`WhatIf` runs a what-if and the base scenario under the same random numbers
  (so their difference is paired) and returns an :class:`Outcome`: the results, the
  headline differences and the charts, drawn on demand.
* :class:`Panel` builds the ipywidgets controls and wires them to a :class:`WhatIf`
  (ipywidgets is imported only when a panel is made).

A what-if at a 5-year horizon with 50 replications runs in a few tenths of a second on a
2-core machine; see ``notebooks/README.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import io
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.compare import paired_differences
from sim.calendar import quarter_label, quarter_starts
from sim.errors import ScenarioError
from sim.experiment.runner import DEFAULT_SEED, run_experiment
from sim.results.tables import KEY_COLUMNS, Results, RowKeys
from sim.scenario import Scenario, scenario_hash, with_changes
from sim.scenario.loader import value_at
from sim.vocabulary import LEAGUE_TABLES, SOURCES

DEFAULT_REPLICATIONS = 50
"""Replications per what-if: enough for stable medians and bands at a 5-year horizon,
few enough to re-run in well under a second on two cores."""
DEFAULT_REFERRAL_RATE = 8.0
"""Exogenous referrals per year offered when the base scenario's referrals come from the
segments (close to the baseline's segment-driven referrals after its first year)."""
REPLICATIONS_VARIABLE = "SIM_NOTEBOOK_REPS"
"""Environment variable that sets the notebooks' replications (tests set it low)."""
SCENARIOS_VARIABLE = "SIM_SCENARIOS"
"""Environment variable that points the notebooks at a scenarios folder."""

SHORTFALL_POLICIES = ("wait", "dilute", "buy")
SEGMENTATION_RULES = ("quartiles", "fixed_thresholds")
REFERRAL_MODES = ("segments", "poisson")
BLEND_PHASE = "improvement"
"""The phase whose blend of support sources the what-if changes."""
WHAT_IF_NAME = "what_if"
WHAT_IF_NOTE = "set in the what-if notebook"

CHARTS = {
    "caseload": "Trusts in the programme",
    "waiting": "Waiting list",
    "team": "Demand on each source of support",
    "comparison": "Difference from the base scenario",
}
"""The what-if's charts, by key, with their tab titles."""

HEADLINE = (
    ("in_programme", "all", "Trusts in programme (average)", 1.0),
    ("waiting", "all", "Trusts waiting (average)", 1.0),
    ("admissions", "all", "Admissions (total)", 1.0),
    ("mean_wait_weeks", "all", "Mean wait of those admitted (weeks)", 1.0),
    ("utilisation", "national", "National team utilisation (%)", 100.0),
    ("cost", "total", "Total cost (£m)", 1e-6),
)
"""Whole-horizon figures in the headline table: metric, group, label and scale."""


class WhatIfError(ValueError):
    """A combination of settings that does not make a valid scenario.

    The message says which setting is at fault and why, in plain English.
    """


# ------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """The values of the what-if controls.

    Shares are fractions (0 to 1); the cut date is the day the national team changes from
    ``national_wte`` to ``wte_after_cut``. ``referral_rate`` (per year) is used only when
    ``referral_mode`` is ``"poisson"``.
    """

    cap: int | None
    national_wte: float
    wte_after_cut: float
    cut_date: dt.date
    blend: tuple[float, float, float]
    """The improvement phase's shares: national team, wider NHS, consultancy."""
    shortfall_policy: str
    segmentation_rule: str
    low_share: float
    """Share of boards rated low capability (every league table)."""
    referral_mode: str
    referral_rate: float

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Settings:
        """The settings that describe ``scenario`` as it is (the controls' starting values).

        A national team schedule with one step is read as a cut of zero, six months in.
        """
        steps = scenario.team.national.wte_schedule
        if len(steps) >= 2:
            before, after, cut = steps[-2].wte, steps[-1].wte, steps[-1].effective_from
        else:
            before = after = steps[0].wte
            later = quarter_starts(scenario.start_date, scenario.end_date)
            cut = later[1] if len(later) > 1 else scenario.start_date
        referrals = scenario.programme.referrals
        rules = scenario.segmentation.rules
        return cls(
            cap=scenario.programme.cap,
            national_wte=before,
            wte_after_cut=after,
            cut_date=cut,
            blend=tuple(getattr(scenario.programme.phases, BLEND_PHASE).blend.shares()),
            shortfall_policy=scenario.team.shortfall_policy,
            segmentation_rule=(
                "fixed_thresholds"
                if any(r.rule == "fixed_thresholds" for r in rules)
                else "quartiles"
            ),
            low_share=scenario.population.tables.acute.capability.low_share,
            referral_mode=referrals.mode,
            referral_rate=(
                referrals.rate_per_year if referrals.mode == "poisson" else DEFAULT_REFERRAL_RATE
            ),
        )

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (unknown names are an error)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise WhatIfError(
                f"no what-if setting called {', '.join(sorted(unknown))}; the settings are "
                + ", ".join(f.name for f in dataclasses.fields(self))
            )
        return dataclasses.replace(self, **changes)


def rebalance_blend(
    shares: Sequence[float], changed: int, value: float, step: float = 0.05
) -> tuple[float, float, float]:
    """Set share ``changed`` (0 national, 1 wider NHS, 2 consultancy) to ``value`` and
    scale the other two so that all three still add up to 1.

    The other two keep their ratio (split equally if both were zero). Results are whole
    multiples of ``step`` (5 percentage points by default) and add up to exactly 1.
    """
    if changed not in (0, 1, 2):
        raise WhatIfError(f"blend share index must be 0, 1 or 2, got {changed}")
    units = round(1 / step)
    if not math.isclose(units * step, 1.0):
        raise WhatIfError(f"step {step} does not divide 1 into whole steps")
    target = min(units, max(0, round(value / step)))
    others = [i for i in (0, 1, 2) if i != changed]
    weights = [max(0.0, float(shares[i])) for i in others]
    rest = units - target
    first = round(rest * weights[0] / sum(weights)) if sum(weights) > 0 else math.ceil(rest / 2)
    out = [0, 0, 0]
    out[changed], out[others[0]], out[others[1]] = target, first, rest - first
    return tuple(round(n / units, 10) for n in out)


def cut_date_options(scenario: Scenario) -> list[tuple[str, dt.date]]:
    """The dates offered for the national team's cut: the start of each financial quarter
    in the forecast (and the scenario's own cut date), labelled for a drop-down."""
    dates = {scenario.start_date, *quarter_starts(scenario.start_date, scenario.end_date)}
    dates.add(Settings.from_scenario(scenario).cut_date)
    return [(f"{d.day} {d:%b %Y} ({quarter_label(d)})", d) for d in sorted(dates)]


# ------------------------------------------------------------------------- scenarios


def build_scenario(
    base: Scenario,
    settings: Settings,
    thresholds: Scenario | None = None,
    name: str = WHAT_IF_NAME,
) -> Scenario:
    """The scenario described by ``settings``: ``base`` with what differs changed.

    Settings equal to ``base``'s (:meth:`Settings.from_scenario`) leave it untouched, so
    equal settings always give an equal scenario (and the same content hash). Every
    change is recorded as an assumption (:func:`sim.scenario.with_changes`).

    Parameters
    ----------
    base
        The scenario the what-if starts from.
    settings
        The controls' values.
    thresholds
        A scenario whose segmentation rules use fixed thresholds (for example
        ``scenarios/nof_2026_27_thresholds.yaml``); needed to switch to fixed thresholds
        when ``base`` has none.
    name
        The what-if scenario's name.

    Raises
    ------
    WhatIfError
        If the combination is not a valid scenario, saying which setting and why.
    """
    changes = _changes(base, settings, thresholds)
    summary = "; ".join(_describe(base, settings)) or "no changes"
    changes = {
        "name": name,
        "description": f"What-if from {base.name}: {summary}.",
        **changes,
    }
    try:
        scenario = with_changes(base, changes, note=WHAT_IF_NOTE)
    except ScenarioError as exc:
        raise WhatIfError(
            f"this combination is not a valid scenario: {exc.field}: {exc.reason}"
        ) from None
    return _without_stale_notes(scenario)


def _changes(base: Scenario, new: Settings, thresholds: Scenario | None) -> dict[str, Any]:
    """Dotted-path changes (for :func:`with_changes`) for the settings that differ."""
    check_settings(new)
    old = Settings.from_scenario(base)
    changes: dict[str, Any] = {}
    if new.cap != old.cap:
        changes["programme.cap"] = new.cap
    if (new.national_wte, new.wte_after_cut, new.cut_date) != (
        old.national_wte,
        old.wte_after_cut,
        old.cut_date,
    ):
        changes.update(_schedule_changes(base, new))
    if not _same_shares(new.blend, old.blend):
        changes.update(_blend_changes(new.blend))
    if new.shortfall_policy != old.shortfall_policy:
        changes["team.shortfall_policy"] = new.shortfall_policy
    if new.segmentation_rule != old.segmentation_rule:
        changes.update(_rule_changes(base, new.segmentation_rule, thresholds))
    if new.low_share != old.low_share:
        for table in LEAGUE_TABLES:
            changes[f"population.tables.{table}.capability.low_share"] = float(new.low_share)
    changes.update(_referral_changes(old, new))
    return changes


def check_settings(settings: Settings) -> None:
    """Raise :class:`WhatIfError` unless every setting has a usable type and range.

    Checks each value on its own; :func:`build_scenario` also checks the combination.
    """
    cap = settings.cap
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
        raise WhatIfError(
            f"the programme cap must be a whole number of trusts (or None), got {cap!r}"
        )
    for label, value, high in (
        ("national team WTE before the cut", settings.national_wte, math.inf),
        ("national team WTE after the cut", settings.wte_after_cut, math.inf),
        ("share of boards rated low capability", settings.low_share, 1.0),
        ("referral rate per year", settings.referral_rate, math.inf),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= high
        ):
            limit = "from 0 to 1" if high == 1.0 else "0 or more"
            raise WhatIfError(f"the {label} must be a number {limit}, got {value!r}")
    if not isinstance(settings.cut_date, dt.date):
        raise WhatIfError(f"the date of the cut must be a date, got {settings.cut_date!r}")
    blend = settings.blend
    if (
        not isinstance(blend, tuple | list)
        or len(blend) != len(SOURCES)
        or any(isinstance(v, bool) or not isinstance(v, int | float) for v in blend)
    ):
        raise WhatIfError(
            f"the {BLEND_PHASE} blend must be {len(SOURCES)} shares "
            f"({', '.join(SOURCES)}), got {blend!r}"
        )
    if any(not (math.isfinite(v) and 0.0 <= v <= 1.0) for v in blend):
        raise WhatIfError(
            f"each share of the {BLEND_PHASE} blend must be between 0 and 1, got {list(blend)}"
        )
    _check_choice("shortfall policy", settings.shortfall_policy, SHORTFALL_POLICIES)
    _check_choice("segmentation rule", settings.segmentation_rule, SEGMENTATION_RULES)
    _check_choice("referral mode", settings.referral_mode, REFERRAL_MODES)


def _schedule_changes(base: Scenario, new: Settings) -> dict[str, Any]:
    first = base.team.national.wte_schedule[0].effective_from
    if new.cut_date <= first:
        raise WhatIfError(
            f"the date of the cut ({new.cut_date}) must be after the national team's first "
            f"step ({first})"
        )
    prefix = "team.national.wte_schedule"
    changes: dict[str, Any] = {}
    if len(base.team.national.wte_schedule) != 2:
        # the what-if schedule is two steps: the size until the cut and after it
        changes[prefix] = [
            {"effective_from": first, "wte": float(new.national_wte)},
            {"effective_from": new.cut_date, "wte": float(new.wte_after_cut)},
        ]
    changes[f"{prefix}[0].wte"] = float(new.national_wte)
    changes[f"{prefix}[1].wte"] = float(new.wte_after_cut)
    changes[f"{prefix}[1].effective_from"] = new.cut_date
    return changes


def _same_shares(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, abs_tol=1e-9) for x, y in zip(a, b, strict=True)
    )


def _blend_changes(blend: Sequence[float]) -> dict[str, Any]:
    total = sum(blend)
    if abs(total - 1.0) > 1e-6:
        raise WhatIfError(
            f"the {BLEND_PHASE} phase's shares (national {blend[0]:.0%}, wider NHS "
            f"{blend[1]:.0%}, consultancy {blend[2]:.0%}) add up to {total:.0%}, not 100%"
        )
    return {
        f"programme.phases.{BLEND_PHASE}.blend.{source}": float(share)
        for source, share in zip(SOURCES, blend, strict=True)
    }


def _check_choice(label: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise WhatIfError(f"the {label} must be one of {', '.join(allowed)}; got {value!r}")


def _rule_changes(base: Scenario, rule: str, thresholds: Scenario | None) -> dict[str, Any]:
    if rule == "quartiles":
        first = base.segmentation.rules[0].effective_from
        return {"segmentation.rules": [{"rule": "quartiles", "effective_from": first}]}
    if thresholds is None or not any(
        r.rule == "fixed_thresholds" for r in thresholds.segmentation.rules
    ):
        raise WhatIfError(
            "fixed thresholds need a scenario that defines them: pass thresholds="
            "sim.load_scenario('scenarios/nof_2026_27_thresholds.yaml')"
        )
    changes: dict[str, Any] = {
        "segmentation.rules": thresholds.segmentation.model_dump(mode="python")["rules"]
    }
    # carry the threshold values' sources and assumptions with them
    tree = thresholds.model_dump(mode="python")
    for dotted, note in thresholds.notes.items():
        if dotted.startswith("segmentation.rules"):
            changes[dotted] = {
                "value": value_at(tree, dotted),
                **note.model_dump(exclude_none=True),
            }
    return changes


def _referral_changes(old: Settings, new: Settings) -> dict[str, Any]:
    if (new.referral_mode, new.referral_rate) == (old.referral_mode, old.referral_rate):
        return {}
    if new.referral_mode == "segments":
        if old.referral_mode == "segments":
            return {}  # the rate is not used with segment-driven referrals
        return {"programme.referrals": {"mode": "segments", "catastrophic_failure_refers": True}}
    rate = float(new.referral_rate)
    if old.referral_mode == "poisson":
        return {"programme.referrals.rate_per_year": rate}
    return {
        "programme.referrals": {"mode": "poisson", "rate_per_year": rate},
        "programme.referrals.rate_per_year": rate,
    }


def _describe(base: Scenario, new: Settings) -> list[str]:
    old = Settings.from_scenario(base)
    parts = []
    if new.cap != old.cap:
        parts.append(f"cap {new.cap}")
    if (new.national_wte, new.wte_after_cut, new.cut_date) != (
        old.national_wte,
        old.wte_after_cut,
        old.cut_date,
    ):
        parts.append(
            f"national team {new.national_wte:g} WTE, {new.wte_after_cut:g} from {new.cut_date}"
        )
    if not _same_shares(new.blend, old.blend):
        parts.append("improvement blend " + "/".join(f"{s:.0%}" for s in new.blend))
    if new.shortfall_policy != old.shortfall_policy:
        parts.append(f"policy {new.shortfall_policy}")
    if new.segmentation_rule != old.segmentation_rule:
        parts.append(f"rule {new.segmentation_rule}")
    if new.low_share != old.low_share:
        parts.append(f"low capability share {new.low_share:.0%}")
    if new.referral_mode == "poisson" and (new.referral_mode, new.referral_rate) != (
        old.referral_mode,
        old.referral_rate,
    ):
        parts.append(f"Poisson referrals {new.referral_rate:g} a year")
    elif new.referral_mode != old.referral_mode:
        parts.append("referrals from segments")
    return parts


def _without_stale_notes(scenario: Scenario) -> Scenario:
    """Drop notes about fields that no longer exist (a replaced list or referral mode), so
    the scenario can be saved with its annotations."""
    tree = scenario.model_dump(mode="python")
    kept = {}
    for dotted, note in scenario.notes.items():
        try:
            value_at(tree, dotted)
        except (KeyError, IndexError, TypeError):
            continue
        kept[dotted] = note
    if len(kept) == len(scenario.notes):
        return scenario
    return scenario.model_copy(update={"notes": kept})


# ---------------------------------------------------------------------------- cache

Runner = Callable[..., Results]


class ResultCache:
    """Recent results, keyed by scenario content hash, replications and seed.

    Results do not depend on the number of workers, so ``jobs`` is not part of the key.
    The least recently used entry is dropped beyond ``maxsize``.
    """

    def __init__(self, maxsize: int = 32, runner: Runner = run_experiment):
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.runner = runner
        self.runs = 0
        """How many times the runner was called (cache misses)."""
        self._entries: OrderedDict[tuple[str, int, int], Results] = OrderedDict()

    @staticmethod
    def key(scenario: Scenario, replications: int, seed: int) -> tuple[str, int, int]:
        return scenario_hash(scenario), int(replications), int(seed)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[str, int, int]) -> bool:
        return key in self._entries

    def get(
        self, scenario: Scenario, replications: int, seed: int, jobs: int | str = "auto"
    ) -> tuple[Results, bool]:
        """Results of ``scenario``, run now or from the cache; and whether they were cached."""
        key = self.key(scenario, replications, seed)
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key], True
        results = self.runner([scenario], replications=replications, seed=seed, jobs=jobs)
        self.runs += 1
        self._entries[key] = results
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return results, False

    def clear(self) -> None:
        self._entries.clear()


# --------------------------------------------------------------------------- outcome


@dataclass
class Outcome:
    """One what-if update: the scenario, results and charts, or the reason it could not run.

    ``results`` holds the base scenario and the what-if, run under the same random
    numbers. Charts are drawn only when asked for (:meth:`figure`, :meth:`png`).
    """

    settings: Settings
    scenario: Scenario | None = None
    results: Results | None = None
    cached: bool = False
    seconds: float = 0.0
    """Wall time to build the scenario, run (or fetch) and prepare the charts' data."""
    error: str | None = None
    charts: dict = field(default_factory=dict)
    """Chart data (:class:`sim.outputs.charts.ChartData`) by key of :data:`CHARTS`."""
    headline: pd.DataFrame | None = None
    _pngs: dict = field(default_factory=dict, repr=False)
    """Drawn charts, shared by every outcome of the same what-if."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def figure(self, key: str):
        """A matplotlib Figure of one chart (see :data:`CHARTS`)."""
        from sim.outputs.charts import draw

        if not self.ok:
            raise WhatIfError(f"nothing to draw: {self.error}")
        if key not in self.charts:
            raise KeyError(f"no chart {key!r}; have {', '.join(self.charts)}")
        return draw(self.charts[key])

    def png(self, key: str, dpi: int = 72) -> bytes:
        """One chart as PNG bytes (drawn once per outcome, then kept)."""
        if (key, dpi) not in self._pngs:
            buffer = io.BytesIO()
            self.figure(key).savefig(buffer, format="png", dpi=dpi)
            self._pngs[key, dpi] = buffer.getvalue()
        return self._pngs[key, dpi]

    def status(self) -> str:
        """One line for the analyst: what ran and how long it took, or what is wrong."""
        if not self.ok:
            return f"Not run: {self.error}"
        how = "from the cache" if self.cached else f"{self.results.replications} replications run"
        return f"{self.scenario.description} ({how} in {self.seconds:.2f} s)"


# ----------------------------------------------------------------------------- what-if


class WhatIf:
    """Run what-ifs of a base scenario quickly, with a cache.

    Parameters
    ----------
    base
        The scenario the what-if starts from (usually the baseline).
    replications, seed, jobs
        Run settings; the base scenario and every what-if use the same ones, so their
        differences are paired (common random numbers).
    thresholds
        A scenario with fixed-threshold segmentation rules, offered as the alternative
        entry rule (see :func:`build_scenario`).
    cache
        A shared :class:`ResultCache` (a new one by default).
    """

    def __init__(
        self,
        base: Scenario,
        replications: int = DEFAULT_REPLICATIONS,
        seed: int = DEFAULT_SEED,
        jobs: int | str = "auto",
        thresholds: Scenario | None = None,
        cache: ResultCache | None = None,
    ):
        if replications < 2:
            raise ValueError(f"replications must be at least 2 for intervals, got {replications}")
        self.base = base
        self.replications = int(replications)
        self.seed = int(seed)
        self.jobs = jobs
        self.thresholds = thresholds
        self.cache = cache if cache is not None else ResultCache()
        self.defaults = Settings.from_scenario(base)
        self.name = WHAT_IF_NAME if base.name != WHAT_IF_NAME else f"{WHAT_IF_NAME}_variant"
        self._prepared: OrderedDict[tuple[str, int, int], tuple[dict, pd.DataFrame, dict]] = (
            OrderedDict()
        )
        """Chart data, headline table and drawn charts of recent what-ifs, by cache key."""

    def scenario(self, settings: Settings) -> Scenario:
        """The what-if scenario for ``settings`` (raises :class:`WhatIfError` if invalid)."""
        return build_scenario(self.base, settings, self.thresholds, name=self.name)

    def run(self, settings: Settings) -> tuple[Results, bool]:
        """Results of the base scenario and the what-if together, and whether the what-if
        came from the cache."""
        scenario = self.scenario(settings)
        base, _ = self.cache.get(self.base, self.replications, self.seed, self.jobs)
        what_if, cached = self.cache.get(scenario, self.replications, self.seed, self.jobs)
        return combine(base, what_if), cached

    def update(self, settings: Settings | None = None, **changes: Any) -> Outcome:
        """Build, run (or fetch) and prepare the charts for one what-if.

        ``settings`` default to the base scenario's; keyword arguments change single
        settings (``update(cap=20)``). An invalid combination does not raise: the outcome
        carries the reason in ``error``.
        """
        clock = time.perf_counter()
        settings = settings or self.defaults
        try:
            settings = settings.replace(**changes) if changes else settings
            scenario = self.scenario(settings)
        except WhatIfError as exc:
            return Outcome(settings=settings, error=str(exc), seconds=time.perf_counter() - clock)
        results, cached = self.run(settings)
        key = ResultCache.key(scenario, self.replications, self.seed)
        prepared = self._prepared.get(key) if cached else None
        if prepared is None:
            prepared = (
                chart_data(results, self.base.name, scenario.name),
                headline(results, self.base.name, scenario.name),
                {},
            )
            self._prepared[key] = prepared
            while len(self._prepared) > self.cache.maxsize:
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(key)
        charts, table, pngs = prepared
        outcome = Outcome(
            settings=settings,
            scenario=scenario,
            results=results,
            cached=cached,
            charts=charts,
            headline=table,
            _pngs=pngs,
        )
        outcome.seconds = time.perf_counter() - clock
        return outcome


def combine(*parts: Results) -> Results:
    """Put results of separate runs (same replications and seed) into one Results.

    The manifest is the last part's. Raises ValueError if the runs are not comparable.
    """
    reps = {p.replications for p in parts}
    seeds = {p.manifest.get("seed") for p in parts}
    if len(reps) != 1 or len(seeds) != 1:
        raise ValueError(
            f"results to combine need the same replications and seed, got {reps} and {seeds}"
        )
    scenarios, keys, values = {}, {}, {}
    for part in parts:
        scenarios.update(part.scenarios)
        keys.update(part.keys)
        values.update(part.values)
    manifest = dict(parts[-1].manifest)
    manifest["scenarios"] = {
        k: v for p in parts for k, v in p.manifest.get("scenarios", {}).items()
    }
    return Results(scenarios=scenarios, keys=keys, values=values, manifest=manifest)


def chart_data(results: Results, base: str, what_if: str) -> dict:
    """The what-if's chart data by key of :data:`CHARTS` (no drawing)."""
    from sim.outputs.charts.data import caseload_fan, comparison, team_demand, waiting_fan

    summary = Results(
        scenarios={what_if: results.scenarios[what_if]},
        keys={what_if: results.keys[what_if]},
        values={what_if: results.values[what_if]},
        manifest=results.manifest,
    ).summary()
    return {
        "caseload": caseload_fan(results, summary, what_if),
        "waiting": waiting_fan(results, summary, what_if),
        "team": team_demand(results, summary, what_if),
        "comparison": comparison(whole_horizon(results), base),
    }


def whole_horizon(results: Results) -> Results:
    """The same results with only the whole-forecast rows (``frequency == "horizon"``).

    The comparison chart and the headline table use only these rows; pairing a few dozen
    rows rather than thousands keeps a what-if update quick.
    """
    keys, values = {}, {}
    for name, row_keys in results.keys.items():
        mask = row_keys.frequency == "horizon"
        keys[name] = RowKeys(*(getattr(row_keys, c)[mask] for c in KEY_COLUMNS))
        values[name] = results.values[name][:, mask]
    return Results(scenarios=results.scenarios, keys=keys, values=values, manifest=results.manifest)


def headline(results: Results, base: str, what_if: str) -> pd.DataFrame:
    """Whole-horizon headline figures: base, what-if, paired difference and its 95% CI."""
    differences = paired_differences(whole_horizon(results), base)
    horizon = differences[
        (differences["frequency"] == "horizon") & (differences["scenario"] == what_if)
    ]
    rows = []
    for metric, group, label, scale in HEADLINE:
        row = horizon[(horizon["metric"] == metric) & (horizon["group"] == group)]
        if row.empty:
            continue
        row = row.iloc[0]
        rows.append(
            {
                "measure": label,
                base: row["baseline_mean"] * scale,
                what_if: (row["baseline_mean"] + row["mean_difference"]) * scale,
                "difference": row["mean_difference"] * scale,
                "95% CI low": row["ci_low"] * scale,
                "95% CI high": row["ci_high"] * scale,
            }
        )
    return pd.DataFrame(rows).set_index("measure")


# ----------------------------------------------------------------------- notebook helpers


def replications_from_env(default: int, variable: str = REPLICATIONS_VARIABLE) -> int:
    """Replications from the environment variable (``SIM_NOTEBOOK_REPS``), else ``default``.

    Raises
    ------
    ValueError
        If the variable is set but is not a whole number of at least 2.
    """
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"{variable} must be a whole number of replications, got {text!r}"
        ) from None
    if value < 2:
        raise ValueError(f"{variable} must be at least 2, got {value}")
    return value


def find_scenarios(start: str | Path | None = None, variable: str = SCENARIOS_VARIABLE) -> Path:
    """The project's ``scenarios/`` folder: from the environment variable
    (``SIM_SCENARIOS``) if set, else the first folder holding ``scenarios/baseline.yaml``
    at or above ``start`` (default: the working folder, the notebook's own in Jupyter).

    Raises
    ------
    FileNotFoundError
        Saying where it looked.
    """
    if os.environ.get(variable):
        folder = Path(os.environ[variable]).expanduser()
        if not (folder / "baseline.yaml").is_file():
            raise FileNotFoundError(f"{variable}={folder} has no baseline.yaml")
        return folder.resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "scenarios" / "baseline.yaml").is_file():
            return folder / "scenarios"
    raise FileNotFoundError(
        f"no scenarios/baseline.yaml in {here} or any folder above it; open the notebook from "
        f"the project, or set {variable} to the scenarios folder"
    )


# ------------------------------------------------------------------------------- panel


class Panel:
    """ipywidgets controls for a :class:`WhatIf`, wired to re-run and redraw on change.

    ``panel.widget`` is the whole panel to display; ``panel.controls`` maps each setting
    to its control (the blend has three, ``blend_national``, ``blend_nhs_family`` and
    ``blend_consultancy``, and ``no_cap`` turns the cap off); ``panel.outcome`` is the
    latest :class:`Outcome` and ``panel.seconds`` the wall time of the latest update,
    redrawing included. Setting a control's ``value`` from code runs an update exactly as
    moving it on screen does.

    Moving one blend slider moves the other two so the three shares add up to 100%.
    Sliders update when released. Only the chart in the open tab is drawn.
    """

    def __init__(self, what_if: WhatIf, dpi: int = 72):
        import ipywidgets as w

        self.what_if = what_if
        self.dpi = dpi
        self.outcome: Outcome | None = None
        self.seconds = 0.0
        self.updates = 0
        self._quiet = False
        d = what_if.defaults
        look = {"style": {"description_width": "17em"}, "layout": w.Layout(width="36em")}
        style = {"continuous_update": False, **look}  # sliders run when released
        rules = [("NOF 2025/26: quartiles within league table", "quartiles")]
        if d.segmentation_rule == "fixed_thresholds" or what_if.thresholds is not None:
            rules.append(("NOF 2026/27: fixed score thresholds", "fixed_thresholds"))
        c = {}
        c["no_cap"] = w.Checkbox(value=d.cap is None, description="No cap on the programme")
        c["cap"] = w.IntSlider(
            value=d.cap if d.cap is not None else 15,
            min=1,
            max=max(40, d.cap or 0),
            description="Programme cap (trusts at once)",
            disabled=d.cap is None,
            **style,
        )
        for key, label, value in (
            ("national_wte", "National team WTE before the cut", d.national_wte),
            ("wte_after_cut", "National team WTE after the cut", d.wte_after_cut),
        ):
            c[key] = w.FloatSlider(
                value=value, min=0, max=max(100, value), step=1, description=label, **style
            )
        c["cut_date"] = w.Dropdown(
            options=cut_date_options(what_if.base),
            value=d.cut_date,
            description="Date of the cut",
            **look,
        )
        c["shortfall_policy"] = w.Dropdown(
            options=[
                ("wait: delay admissions", "wait"),
                ("dilute: admit, spread support thinner", "dilute"),
                ("buy: consultancy covers the gap", "buy"),
            ],
            value=d.shortfall_policy,
            description="When the national team is short",
            **look,
        )
        for index, source in enumerate(SOURCES):
            c[f"blend_{source}"] = w.FloatSlider(
                value=d.blend[index],
                min=0,
                max=1,
                step=0.05,
                readout_format=".0%",
                description=_SOURCE_WORDS[source],
                **style,
            )
        c["segmentation_rule"] = w.Dropdown(
            options=rules, value=d.segmentation_rule, description="Segmentation rule", **look
        )
        c["low_share"] = w.FloatSlider(
            value=d.low_share,
            min=0,
            max=max(0.5, d.low_share),
            step=0.01,
            readout_format=".0%",
            description="Boards rated low capability",
            **style,
        )
        c["referral_mode"] = w.Dropdown(
            options=[
                ("from segment 4 with a low-capability board", "segments"),
                ("at random (Poisson), at a fixed rate", "poisson"),
            ],
            value=d.referral_mode,
            description="Referrals",
            **look,
        )
        c["referral_rate"] = w.FloatSlider(
            value=d.referral_rate,
            min=0,
            max=max(40, d.referral_rate),
            step=0.5,
            description="Referrals per year (Poisson)",
            disabled=d.referral_mode != "poisson",
            **style,
        )
        self.controls = c
        for control in c.values():
            control.observe(self._changed, names="value")

        def section(title: str, *keys: str):
            return [w.HTML(f"<b>{title}</b>"), *(c[k] for k in keys)]

        left = w.VBox(
            section("The programme", "no_cap", "cap")
            + section(
                "The national team", "national_wte", "wte_after_cut", "cut_date", "shortfall_policy"
            )  # fmt: skip
            + section(
                "Support in the improvement phase (shares add up to 100%)",
                *(f"blend_{s}" for s in SOURCES),
            )
            + section(
                "Entry to the programme",
                "segmentation_rule",
                "low_share",
                "referral_mode",
                "referral_rate",
            )  # fmt: skip
        )
        self.status = w.HTML()
        self.table = w.HTML()
        self.images = {
            key: w.Image(format="png", layout=w.Layout(max_width="100%")) for key in CHARTS
        }
        self.tabs = w.Tab(children=[self.images[k] for k in CHARTS])
        for i, title in enumerate(CHARTS.values()):
            self.tabs.set_title(i, title)
        self.tabs.observe(lambda _: self._draw_open_tab(), names="selected_index")
        self.widget = w.VBox([w.HBox([left, self.table]), self.status, self.tabs])

    def settings(self) -> Settings:
        """The settings the controls show now."""
        c = self.controls
        return self.what_if.defaults.replace(
            cap=None if c["no_cap"].value else c["cap"].value,
            national_wte=c["national_wte"].value,
            wte_after_cut=c["wte_after_cut"].value,
            cut_date=c["cut_date"].value,
            blend=tuple(round(c[f"blend_{s}"].value, 10) for s in SOURCES),
            shortfall_policy=c["shortfall_policy"].value,
            segmentation_rule=c["segmentation_rule"].value,
            low_share=c["low_share"].value,
            referral_mode=c["referral_mode"].value,
            referral_rate=c["referral_rate"].value,
        )

    def refresh(self) -> Outcome:
        """Run the what-if the controls show and redraw (also done on every change)."""
        clock = time.perf_counter()
        outcome = self.what_if.update(self.settings())
        self.outcome = outcome
        self.updates += 1
        if outcome.ok:
            self.status.value = html.escape(outcome.status())
            self.table.value = (
                f"<b>Whole forecast: means of {self.what_if.replications} replications; "
                "differences are paired, with 95% intervals</b>"
                + outcome.headline.to_html(float_format=lambda v: f"{v:,.1f}")
            )
            for image in self.images.values():
                image.value = b""
            self._draw_open_tab()
        else:
            self.status.value = (
                f'<span style="color:#b00020"><b>{html.escape(outcome.status())}</b> '
                "The charts still show the last valid what-if.</span>"
            )
        self.seconds = time.perf_counter() - clock
        return outcome

    def _draw_open_tab(self) -> None:
        if self.outcome is None or not self.outcome.ok or self.tabs.selected_index is None:
            return
        key = list(CHARTS)[self.tabs.selected_index]
        if not self.images[key].value:
            self.images[key].value = self.outcome.png(key, self.dpi)

    def _changed(self, change: Mapping) -> None:
        if self._quiet:
            return
        c = self.controls
        blend = [c[f"blend_{s}"] for s in SOURCES]
        self._quiet = True
        try:
            if change["owner"] in blend:
                index = blend.index(change["owner"])
                shares = rebalance_blend([b.value for b in blend], index, change["new"])
                for control, share in zip(blend, shares, strict=True):
                    control.value = share
            c["cap"].disabled = c["no_cap"].value
            c["referral_rate"].disabled = c["referral_mode"].value != "poisson"
        finally:
            self._quiet = False
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.outcome is None:
            self.refresh()
        display(self.widget)


_SOURCE_WORDS = {
    "national": "national team",
    "nhs_family": "wider NHS",
    "consultancy": "consultancy",
}
