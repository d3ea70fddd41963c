"""What-if settings and the scenario they describe (no running, no drawing, no widgets).

:class:`Settings` is what the what-if controls show: the programme cap, the national team's
size before and after its cut and the date of the cut, the improvement phase's blend of
support, the shortfall policy, the entry rule (segmentation rule and share of boards rated
low capability) and how referrals arrive. :func:`build_scenario` turns settings into a
validated scenario with :func:`sim.scenario.with_changes`, changing only what differs from
the base scenario; an invalid combination raises :class:`WhatIfError` with a plain-English
reason. Policy and source names come from :mod:`sim.vocabulary`, never retyped here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sim.calendar import quarter_label, quarter_starts
from sim.errors import ScenarioError
from sim.scenario import Scenario, with_changes
from sim.scenario.paths import value_at
from sim.vocabulary import LEAGUE_TABLES, SHORTFALL_POLICIES, SOURCES

DEFAULT_REFERRAL_RATE = 8.0
"""Exogenous referrals per year offered when the base scenario's referrals come from the
segments (close to the baseline's segment-driven referrals after its first year)."""
SEGMENTATION_RULES = ("quartiles", "fixed_thresholds")
REFERRAL_MODES = ("segments", "poisson")
BLEND_PHASE = "improvement"
"""The phase whose blend of support sources the what-if changes."""
WHAT_IF_NAME = "what_if"
WHAT_IF_NOTE = "set in the what-if notebook"


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
