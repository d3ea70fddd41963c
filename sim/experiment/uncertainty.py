"""Parameter uncertainty: one draw of every uncertain assumption per replication.

A number whose note declares a ``range`` (and optionally a ``distribution``, see
:class:`sim.scenario.schema.Annotation`) is uncertain. With ``uncertainty="parameters"``
each replication runs with its own draw of all of them, so the spread across replications
carries the assumptions' uncertainty as well as run-to-run noise.

Draws are a Latin hypercube across the replications of a run: for each uncertain number,
the replications' quantiles are one per stratum of [0, 1) in a random order, so even a few
hundred replications cover every range evenly. The quantiles depend only on the seed, the
number of replications, the replication and the number's dotted path, so replication r
uses the same draw in every scenario of a run (common random numbers: paired comparisons
stay exact and a scenario compared with itself differs by exactly zero), in any process.

Replications come in pairs that share a draw (replications 2k and 2k + 1 use draw k) but
not their random numbers, so the spread within pairs measures run-to-run noise alone and
the share of each output's variance that comes from the assumptions can be estimated from
the run itself (:func:`variance_split`), at no extra cost.

Blend shares of a phase that are uncertain are drawn and then scaled together so that the
phase's three shares still add up to 1. Whole-number fields (a cap, a count) are rounded.
"""

from __future__ import annotations

import csv
import math
import warnings
import zlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from pydantic import BaseModel
from scipy import special

from sim.model.replication import ModelInputs, compile_scenario
from sim.scenario import Scenario, with_changes
from sim.scenario.annotations import is_fitted, value_at
from sim.scenario.checks import register_problems
from sim.scenario.paths import parse_path
from sim.vocabulary import SOURCES

_BLEND = ".blend."


@dataclass(frozen=True)
class UncertainNumber:
    """One uncertain number of a scenario: where it is, its value and how it is spread."""

    path: str
    value: float
    low: float
    high: float
    distribution: str = "uniform"
    shape: tuple[float, float] | None = None
    sd: float | None = None
    sigma: float | None = None
    whole: bool = False
    """A whole-number field: draws are rounded."""

    def quantile(self, u: np.ndarray | float) -> np.ndarray:
        """The values at probabilities ``u`` (in [0, 1))."""
        u = np.asarray(u, dtype=float)
        low, high, value = self.low, self.high, self.value
        if high <= low:
            out = np.full_like(u, low)
        elif self.distribution == "triangular":
            mode = min(max(value, low), high)
            cut = (mode - low) / (high - low)
            out = np.where(
                u < cut,
                low + np.sqrt(u * (high - low) * (mode - low)),
                high - np.sqrt((1 - u) * (high - low) * (high - mode)),
            )
        elif self.distribution == "beta":
            a, b = self.shape
            out = low + (high - low) * special.betaincinv(a, b, u)
        elif self.distribution in ("normal", "lognormal"):
            # cut at the range: map u onto the part of the distribution inside it
            if self.distribution == "normal":
                centre, spread, lo, hi = value, self.sd, low, high
            else:
                centre, spread = math.log(value), self.sigma
                lo, hi = math.log(low), math.log(high)
            p_lo = special.ndtr((lo - centre) / spread)
            p_hi = special.ndtr((hi - centre) / spread)
            out = centre + spread * special.ndtri(p_lo + u * (p_hi - p_lo))
            if self.distribution == "lognormal":
                out = np.exp(out)
            out = np.clip(out, low, high)  # the cut is exact, not just up to rounding
        else:
            out = low + (high - low) * u
        return np.rint(out) if self.whole else out

    def draw(self, u: float) -> int | float:
        """The value at probability ``u``, as the scenario field takes it."""
        value = self.quantile(u)
        return int(value) if self.whole else float(value)


def uncertain_numbers(scenario: Scenario) -> list[UncertainNumber]:
    """Every number of ``scenario`` whose note declares a range, in path order."""
    tree = scenario.model_dump(mode="python", exclude={"notes"})
    out = []
    for path in sorted(scenario.notes):
        note = scenario.notes[path]
        if note.range is None:
            continue
        value = value_at(tree, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # a range on a list or a word is reported by validation, not sampled
        out.append(UncertainNumber(
            path, float(value), float(note.range[0]), float(note.range[1]),
            note.distribution or "uniform", tuple(note.shape) if note.shape else None,
            note.sd, note.sigma, whole=isinstance(value, int),
        ))  # fmt: skip
    return out


def hypercube(seed: int, replications: int, path: str) -> np.ndarray:
    """Quantiles of one uncertain number for every replication of a run: one in each of
    ``replications`` equal strata of [0, 1), in a random order (Latin hypercube). Keyed by
    the seed and the number's path only, so every scenario of a run gets the same ones."""
    key = zlib.crc32(path.encode())
    rng = np.random.default_rng([seed, key, 0x11C0BE])
    order = rng.permutation(replications)
    return (order + rng.random(replications)) / replications


@dataclass(frozen=True)
class ParameterDraws:
    """The per-replication draws of one scenario's uncertain numbers, and the compiled
    inputs of each replication."""

    scenario: Scenario
    seed: int
    replications: int
    _last_inputs: list = field(default_factory=lambda: [None], init=False, repr=False,
                               compare=False)  # fmt: skip
    """[(draw, inputs)] of the last draw compiled (consecutive replications share a draw)."""

    @cached_property
    def numbers(self) -> list[UncertainNumber]:
        return uncertain_numbers(self.scenario)

    @property
    def draws(self) -> int:
        """Distinct draws: one per pair of replications."""
        return -(-self.replications // 2)

    @cached_property
    def _quantiles(self) -> np.ndarray:
        """(draws, numbers) quantiles."""
        columns = [hypercube(self.seed, self.draws, n.path) for n in self.numbers]
        return np.column_stack(columns) if columns else np.zeros((self.draws, 0))

    @cached_property
    def _ensemble(self) -> tuple[list[str], np.ndarray]:
        """(paths, draws x paths values): one calibration particle per draw, resampled by
        weight (keyed by the seed only, so every scenario of a run gets the same ones),
        for the ensemble's paths whose value in this scenario is the calibration's (a value
        a variant sets itself, or one the scenario does not use, stays as it is)."""
        path = self.scenario.calibration_ensemble
        if path is None:
            return [], np.zeros((self.draws, 0))
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        tree = self.scenario.model_dump(mode="python", exclude={"notes"})
        paths = [
            p for p in (rows[0] if rows else {})
            if p != "weight" and _is_number_at(tree, p) and is_fitted(self.scenario.notes.get(p))
        ]  # fmt: skip
        weights = np.array([float(r.get("weight") or 1.0) for r in rows])
        rng = np.random.default_rng([self.seed, 0xE45E])
        chosen = rng.choice(len(rows), size=self.draws, p=weights / weights.sum())
        values = np.array([[float(rows[i][p]) for p in paths] for i in chosen])
        return paths, values.reshape(self.draws, len(paths))

    def values(self, replication: int) -> dict[str, float]:
        """The draw of every uncertain number for ``replication`` (blends rescaled):
        replications 2k and 2k + 1 share draw k. Numbers the calibration ensemble holds
        take the draw's particle (the ensemble, not the range, says what fits the data)."""
        k = (replication // 2) % self.draws
        paths, particles = self._ensemble
        row = self._quantiles[k]
        drawn = {n.path: n.draw(u) for n, u in zip(self.numbers, row, strict=True)}
        drawn |= dict(zip(paths, particles[k].tolist(), strict=True))
        return rescale_blends(self.scenario, drawn, self._tree)

    @cached_property
    def _tree(self) -> dict:
        return blend_tree(self.scenario)

    def table(self) -> dict[str, np.ndarray]:
        """Every replication's draw: one array per path (for scenario discovery)."""
        per_draw = [self.values(2 * k) for k in range(self.draws)]  # pairs share a draw
        rows = [per_draw[(r // 2) % self.draws] for r in range(self.replications)]
        return {path: np.array([row[path] for row in rows]) for path in (rows[0] if rows else {})}

    def inputs(self, replication: int) -> ModelInputs:
        """Compiled inputs of ``replication`` with its draw in place."""
        k = (replication // 2) % self.draws
        last = self._last_inputs[0]  # read once: one (draw, inputs) pair, safe across threads
        if last is not None and last[0] == k:  # replications 2k, 2k + 1 share draw k
            return last[1]
        inputs = compile_scenario(with_drawn(self.scenario, self.values(replication)))
        self._last_inputs[0] = (k, inputs)
        return inputs


class _Changes(dict):
    """New values below one node of a scenario, by field name or list index (a nested
    ``_Changes`` for a deeper node)."""


def with_drawn(scenario: Scenario, drawn: dict[str, float]) -> Scenario:
    """``scenario`` with the drawn numbers in place, to compile (its notes are not
    updated): as :func:`~sim.scenario.with_changes` would validate it, at a fraction of the
    cost.

    Only the sections holding a drawn number are validated again, from their fields, with
    the untouched sections passed in as they are: pydantic accepts a validated section
    as it is, so each changed section and all its parents are checked whole (bounds,
    types and every cross-field rule) and nothing else, which is what validating the
    whole tree would check. A draw the schema or the package's data refuse goes through
    :func:`~sim.scenario.with_changes`, which names the problem.
    """
    changes = _Changes()
    for path, value in drawn.items():
        node, parts = changes, parse_path(path)
        for part in parts[:-1]:
            node = node.setdefault(part, _Changes())
        node[parts[-1]] = value
    # the notes are not numbers to check: left out, then put back as they were
    changes["notes"] = {}
    try:
        changed = _validated(scenario, changes)
    except (ValueError, KeyError, IndexError, TypeError):
        changed = None
    if changed is None or register_problems(changed):
        return with_changes(scenario, drawn, note="drawn from its range")
    return changed.model_copy(update={"notes": scenario.notes})


def _validated(node, changes: _Changes):
    """``node`` (a section, list or mapping) with ``changes`` applied, sections validated."""
    if isinstance(node, BaseModel):
        values = dict(node.__dict__)  # pydantic keeps a section's fields, and only them, here
    else:
        values = list(node) if isinstance(node, list) else dict(node)
    for key, change in changes.items():
        values[key] = _validated(values[key], change) if isinstance(change, _Changes) else change
    return type(node).model_validate(values) if isinstance(node, BaseModel) else values


def rescale_blends(
    scenario: Scenario, drawn: dict[str, float], tree: dict | None = None
) -> dict[str, float]:
    """``drawn`` with each phase's blend shares scaled to add up to 1 when any of them was
    drawn (the shares not drawn take the scenario's values; ``tree``, the scenario's
    values as :func:`blend_tree` gives them, saves reading them again). Shared by every
    sampler of the assumptions (per-replication draws, sensitivity studies)."""
    drawn = dict(drawn)
    phases = {path.split(_BLEND)[0] for path in drawn if _BLEND in path}
    if not phases:
        return drawn
    tree = blend_tree(scenario) if tree is None else tree
    for phase in sorted(phases):
        shares = {
            f"{phase}{_BLEND}{s}": drawn.get(f"{phase}{_BLEND}{s}", value_at(tree, f"{phase}{_BLEND}{s}"))
            for s in SOURCES
        }  # fmt: skip
        total = sum(shares.values())
        drawn |= {path: share / total for path, share in shares.items()} if total > 0 else {}
    return drawn


def blend_tree(scenario: Scenario) -> dict:
    """The scenario's values as a tree, where :func:`rescale_blends` reads blend shares."""
    return scenario.model_dump(mode="python", exclude={"notes"})


def variance_split(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per column of a (replications x outputs) matrix from a parameter-uncertainty run,
    how much of its variance is run-to-run noise and how much comes from the assumptions.

    Replications 2k and 2k + 1 share a draw of the assumptions, so half the mean squared
    difference within pairs estimates the noise variance E[Var(Y | draw)]; the total
    variance less that is the assumptions' part Var(E[Y | draw]) (law of total variance).
    Returns ``total``, ``noise`` and ``assumptions_share`` (0 to 1; NaN where the output
    does not vary or fewer than 2 pairs are complete).
    """
    pairs = values.shape[0] // 2
    first, second = values[0 : 2 * pairs : 2], values[1 : 2 * pairs : 2]
    # outputs that are NaN in every replication (no event to average) give NaN quietly
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        noise = (
            np.nanmean((first - second) ** 2, axis=0) / 2
            if pairs
            else np.full(values.shape[1], np.nan)
        )
        total = (
            np.nanvar(values, axis=0, ddof=1)
            if values.shape[0] > 1
            else np.full(values.shape[1], np.nan)
        )
        share = np.clip(1.0 - noise / total, 0.0, 1.0)
    share[(total <= 0) | ~np.isfinite(total) | (pairs < 2)] = np.nan
    return {"total": total, "noise": noise, "assumptions_share": share}


def _is_number_at(tree: dict, path: str) -> bool:
    """Whether ``tree`` holds a number (not a flag) at dotted ``path``."""
    try:
        value = value_at(tree, path)
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)
