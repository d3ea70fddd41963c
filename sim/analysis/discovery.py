"""Scenario discovery: which sampled assumptions make an outcome happen, in plain words.

When a run samples its unpublished assumptions per replication (parameter uncertainty),
every replication has a row of sampled values and outcomes, such as whether the national
team was short of hours in any quarter. :func:`discover` finds a short rule over those
values (at most ``max_conditions`` conditions of the form ``parameter > threshold`` or
``parameter <= threshold``) inside which the outcome concentrates, and
:meth:`Discovery.sentence` says it for planners:

    The national team is short in 38% of plausible futures, mostly when improvement support
    hours per trust are above 82 hours a week and productive hours per WTE are below 20 (the
    rule covers 71% of those futures; within it the team is short in 86% of them).

The measures are those of scenario discovery (Bryant and Lempert, 2010): **coverage** is
the share of the futures with the outcome that the rule captures, **density** the share of
the futures inside the rule that have the outcome, and **support** the share of all futures
inside the rule.

How the rule is found, and why this way
---------------------------------------
A shallow classification tree (CART with Gini impurity, as scikit-learn's
``DecisionTreeClassifier`` grows it: depth ``max_conditions``, leaves of at least
``min_share`` of the futures, classes weighted so a rare outcome counts as much as a common
one) proposes boxes: every node of the tree is one,
the conditions on its path from the root, and so is every subset of those conditions (so a
condition that adds nothing can be dropped). Conditions on one parameter in the same
direction are merged. Among the boxes that hold at least ``min_share`` of the futures and
in which the outcome is more likely than overall, the one with the best
``score = coverage * (density - probability) / (1 - probability)`` is kept (the share of
the outcome captured, times how far the rule moves its chance from the overall rate towards
certainty: zero for the box of all futures, one for a perfect rule); of boxes scoring within
5% of the best, the one with fewest conditions wins. Thresholds are then rounded (about a
fiftieth of the parameter's spread, kept to 2-3 significant figures) and the measures
recomputed with the rounded rule, so the sentence says exactly what was measured.

Why not PRIM from the EMA workbench: it is the classic tool for this, but a heavy
dependency (it requires scikit-learn itself, plus statsmodels, seaborn, SALib and the
Platypus optimiser), its box is picked off the peeling trajectory (by an analyst, or by a
density threshold), and it has no setting that bounds the number of parameters a box
restricts, which a one-sentence answer needs. A depth-limited tree bounds the rule by
construction and is deterministic. The tree is grown here in a few lines of numpy (one
vectorised pass over every column's sorted values per node) rather than imported: the splits
are scikit-learn's (``tests/test_discovery.py`` compares them when it is installed), and
scikit-learn took about a second to import, a large part of a default ``run``.

A rule is said to **explain** the outcome when it captures at least half of the futures
where it happens and, inside it, the outcome is at least twice as likely as overall or (for
common outcomes, which cannot double) closes at least a quarter of the gap between the
overall rate and certainty. Otherwise the sentence says the outcome is not explained by any
single assumption and reports the clearest pattern found, with its weak measures.

Takes a table of sampled values and an outcome per row; returns a :class:`Discovery`.
Must not run the model, draw, print or write.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from sim.errors import ArgumentError

MIN_COVERAGE_TO_EXPLAIN = 0.5
"""A rule explains an outcome only if it captures at least this share of its futures."""
MIN_DENSITY_GAIN_TO_EXPLAIN = 2.0
"""... and the outcome is at least this many times as likely inside the rule as overall,"""
MIN_GAP_CLOSED_TO_EXPLAIN = 0.25
"""... or the rule closes at least this share of the gap from the overall rate to certainty."""
SIMPLER_WITHIN = 0.05
"""Rules scoring within this fraction of the best are compared by their number of conditions."""
ROUNDING_SPREAD_FRACTION = 1 / 50
"""Thresholds are rounded to about this fraction of the parameter's spread (2-3 sig. figs.)."""


@dataclass(frozen=True)
class Condition:
    """One condition of a rule: ``parameter > threshold`` or ``parameter <= threshold``.

    ``label`` is the parameter's plain-English name and ``unit`` the words after a number
    (for example ``"hours a week"``; empty when none), both used only in sentences.
    """

    parameter: str
    operator: Literal[">", "<="]
    threshold: float
    label: str = ""
    unit: str = ""

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Which of ``values`` satisfy the condition (NaN satisfies neither direction)."""
        with np.errstate(invalid="ignore"):
            return values > self.threshold if self.operator == ">" else values <= self.threshold

    def __str__(self) -> str:
        return f"{self.parameter} {self.operator} {self.threshold:g}"


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found: the outcome's rate and the rule that best explains it.

    Attributes
    ----------
    probability
        Share of the futures (rows used) in which the outcome happens.
    rule
        The conditions, all of which must hold, in the order of the table's columns (a
        parameter's ``>`` before its ``<=``); empty when the outcome never or always
        happens, when no parameter varies, or when no box concentrates it.
    coverage
        Share of the futures with the outcome that lie inside the rule (1 for an empty
        rule, which is every future; 0 when the outcome never happens).
    density
        Share of the futures inside the rule in which the outcome happens.
    support
        Share of all futures that lie inside the rule.
    rows
        Futures used; ``dropped_rows`` were left out for a missing value (a NaN parameter
        or outcome).
    varied
        Parameters searched: those that took more than one value in the futures used.
    constant
        Parameters left out because they took one value in every future used.
    """

    probability: float
    rule: tuple[Condition, ...]
    coverage: float
    density: float
    support: float
    rows: int
    dropped_rows: int = 0
    varied: tuple[str, ...] = ()
    constant: tuple[str, ...] = ()

    @property
    def density_gain(self) -> float:
        """How many times as likely the outcome is inside the rule as overall (NaN if never)."""
        return self.density / self.probability if self.probability > 0 else math.nan

    @property
    def score(self) -> float:
        """``coverage * (density - probability) / (1 - probability)``: 0 for no rule, 1 for a
        perfect one (the measure rules are chosen by)."""
        return _score(self.coverage, self.density, self.probability)

    @property
    def explained(self) -> bool:
        """Whether the rule explains the outcome (see the module docstring)."""
        if not self.rule or not 0 < self.probability < 1:
            return False
        gap_closed = (self.density - self.probability) / (1 - self.probability)
        return self.coverage >= MIN_COVERAGE_TO_EXPLAIN and (
            self.density_gain >= MIN_DENSITY_GAIN_TO_EXPLAIN
            or gap_closed >= MIN_GAP_CLOSED_TO_EXPLAIN
        )

    def inside(self, parameters: pd.DataFrame) -> np.ndarray:
        """Which rows of ``parameters`` lie inside the rule (a row missing a value it needs
        does not)."""
        mask = np.ones(len(parameters), dtype=bool)
        for condition in self.rule:
            values = parameters[condition.parameter].to_numpy(dtype=float)
            mask &= condition.holds(values)
        return mask

    def sentence(
        self,
        event: str = "the outcome happens",
        *,
        event_again: str | None = None,
        futures: str = "plausible futures",
    ) -> str:
        """One plain-English sentence saying how often the outcome happens and why.

        ``event`` is the outcome as a clause (``"the national team is short"``);
        ``event_again`` a shorter form for its second mention (``"the team is short"``,
        default ``event``); ``futures`` names the rows (``"plausible futures"``; its last
        word is reused as ``"those futures"``).
        """
        again = event_again or event
        opening = event[:1].upper() + event[1:]
        those = "those " + (futures.split() or ["futures"])[-1]
        if self.probability <= 0:
            return (
                f"{opening} in none of the {self.rows:,} {futures}, so there is nothing to explain."
            )
        if self.probability >= 1:
            return f"{opening} in all {self.rows:,} {futures}, whatever the assumptions."
        start = f"{opening} in {percent_words(self.probability)} of {futures}"
        if not self.varied:
            return (
                f"{start}; every assumption had the same value in all of them, so none explains it."
            )
        if self.explained:
            return (
                f"{start}, mostly when {_rule_words(self.rule)} (the rule covers "
                f"{percent_words(self.coverage)} of {those}; within it {again} in "
                f"{percent_words(self.density)} of them)."
            )
        if not self.rule:
            return f"{start}, and this is not explained by any single assumption."
        return (
            f"{start}, and this is not explained by any single assumption: the clearest "
            f"pattern, when {_rule_words(self.rule)}, covers {percent_words(self.coverage)} of "
            f"{those}, and within it {again} in only {percent_words(self.density)} of them."
        )


def discover(
    parameters: pd.DataFrame,
    outcome: np.ndarray | pd.Series,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    max_conditions: int = 2,
    min_share: float = 0.05,
) -> Discovery:
    """Find the short rule over the sampled ``parameters`` that best explains ``outcome``.

    Rows with a missing value are dropped and counted; constant columns are set aside.

    Parameters
    ----------
    parameters
        One numeric (or boolean) column per sampled assumption, named by its dotted scenario
        path (``programme.phases.improvement.support_hours_per_week``); one row per future
        (replication).
    outcome
        Whether the outcome happened in each row, matched by position: booleans, or 0/1
        numbers (a NaN drops its row).
    labels, units
        Plain-English name of a parameter and the words after its numbers
        (``"hours a week"``), by column; names not given are made from the last parts of
        the dotted path. Keys for columns not in ``parameters`` are ignored.
    max_conditions
        Most conditions in the rule (the tree's depth).
    min_share
        Smallest share of the futures a rule may hold.

    Raises
    ------
    ArgumentError
        If the inputs cannot be used: not a table, lengths differ, a column is not numeric,
        the outcome is not true/false, no row is complete, or a setting is out of range.
    """
    X, y, dropped = _clean_inputs(parameters, outcome, max_conditions, min_share)
    rows = len(y)
    varying = [c for c in X.columns if X[c].nunique() > 1]
    constant = tuple(c for c in X.columns if c not in varying)
    events = int(y.sum())
    probability = events / rows
    everything = Discovery(
        probability=probability,
        rule=(),
        coverage=1.0 if events else 0.0,
        density=probability,
        support=1.0,
        rows=rows,
        dropped_rows=dropped,
        varied=tuple(varying),
        constant=constant,
    )
    if events in (0, rows) or not varying:
        return everything

    values = {c: X[c].to_numpy(dtype=float) for c in varying}
    names = _readable_names(varying, labels or {})
    words = {c: (names[c], (units or {}).get(c, "")) for c in varying}
    boxes = _tree_boxes(
        np.column_stack([values[c] for c in varying]), y, varying, max_conditions, min_share
    )

    best: tuple[Condition, ...] | None = None
    best_key: tuple | None = None
    scored = []
    for box in boxes:
        coverage, density, support = _measures(box, values, y)
        if support < min_share or density <= probability:
            continue
        scored.append((_score(coverage, density, probability), box))
    if scored:
        top = max(score for score, _ in scored)
        for score, box in scored:
            if score < top * (1 - SIMPLER_WITHIN):
                continue
            key = (len(box), -score, [str(c) for c in box])
            if best_key is None or key < best_key:
                best, best_key = box, key
    if best is None:
        return everything

    spread = {c: float(np.nanmax(v) - np.nanmin(v)) for c, v in values.items()}
    rule = tuple(
        Condition(
            c.parameter,
            c.operator,
            _round_threshold(c.threshold, spread[c.parameter]),
            *words[c.parameter],
        )
        for c in sorted(best, key=lambda c: (varying.index(c.parameter), c.operator != ">"))
    )
    coverage, density, support = _measures(rule, values, y)
    return Discovery(
        probability=probability,
        rule=rule,
        coverage=coverage,
        density=density,
        support=support,
        rows=rows,
        dropped_rows=dropped,
        varied=tuple(varying),
        constant=constant,
    )


def _clean_inputs(parameters, outcome, max_conditions, min_share):
    """The complete rows as (float table, bool outcome, rows dropped); ArgumentError if unusable."""
    if not isinstance(parameters, pd.DataFrame):
        raise ArgumentError(
            "parameters", "must be a table (pandas DataFrame), one column per assumption"
        )
    if (
        isinstance(max_conditions, bool)
        or not isinstance(max_conditions, int)
        or max_conditions < 1
    ):
        raise ArgumentError(
            "max_conditions", f"must be a whole number of at least 1, not {max_conditions!r}"
        )
    if not 0 < min_share < 0.5:
        raise ArgumentError("min_share", f"must be between 0 and 0.5, not {min_share!r}")
    y = np.asarray(outcome)
    if isinstance(outcome, pd.Series) and _is_number_like(outcome):
        # also nullable columns (``boolean``, ``Int64``): their missing values become NaN
        y = outcome.to_numpy(dtype=float, na_value=np.nan)
    if y.ndim != 1 or len(y) != len(parameters):
        raise ArgumentError(
            "outcome",
            f"needs one value per row of parameters ({len(parameters)}), not shape {y.shape}",
        )
    if y.dtype == bool:
        y_missing = np.zeros(len(y), dtype=bool)
    elif y.dtype.kind in "iuf":
        y = y.astype(float)
        y_missing = np.isnan(y)
        if not np.isin(y[~y_missing], (0.0, 1.0)).all():
            raise ArgumentError("outcome", "must be true/false (or 0/1) in every row")
    else:
        raise ArgumentError("outcome", f"must be true/false (or 0/1), not {y.dtype}")
    if len(parameters.columns) == 0:
        raise ArgumentError("parameters", "has no columns: nothing was sampled")
    if parameters.columns.duplicated().any():
        raise ArgumentError("parameters", "has repeated column names")
    for column in parameters.columns:
        if not _is_number_like(parameters[column]):
            raise ArgumentError(
                "parameters", f"column {column!r} is not numeric ({parameters[column].dtype})"
            )
    X = pd.DataFrame(
        {c: parameters[c].to_numpy(dtype=float, na_value=np.nan) for c in parameters.columns}
    )
    keep = ~(X.isna().any(axis=1).to_numpy() | y_missing)
    if not keep.any():
        raise ArgumentError("parameters", "no row has every value: nothing to explain")
    return X[keep].reset_index(drop=True), y[keep].astype(bool), int((~keep).sum())


def _is_number_like(column: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column)


def _tree_boxes(X, y, columns, max_conditions, min_share) -> set[tuple[Condition, ...]]:
    """Every node of a shallow tree as a box of conditions, and every subset of each box."""
    min_leaf = max(1, math.ceil(min_share * len(y)))
    events = int(y.sum())
    weight = (len(y) / (2 * (len(y) - events)), len(y) / (2 * events))  # "balanced" classes
    boxes: set[tuple[Condition, ...]] = set()
    stack: list[tuple[np.ndarray, tuple[Condition, ...]]] = [(np.ones(len(y), bool), ())]
    while stack:
        rows, path = stack.pop()
        if path:
            for size in range(1, len(path) + 1):
                for subset in combinations(path, size):
                    boxes.add(_merged(subset))
        split = _best_split(X[rows], y[rows], weight, min_leaf) if len(path) < max_conditions else None
        if split is None:  # a leaf
            continue
        column, threshold = split
        below = rows & (X[:, column] <= threshold)
        stack.append((below, (*path, Condition(columns[column], "<=", threshold))))
        stack.append((rows & ~below, (*path, Condition(columns[column], ">", threshold))))
    return boxes


def _best_split(X, y, weight, min_leaf) -> tuple[int, float] | None:
    """(column, threshold) of the split of these rows that most lowers the class-weighted
    Gini impurity (CART), with at least ``min_leaf`` rows each side, thresholds halfway
    between neighbouring values; None for a pure node or one with no such split. Of equal
    splits the first column's, then the lowest threshold, wins.

    A column at a time, so the work space is a few arrays of the rows, however many
    parameters were drawn."""
    n = len(y)
    w1, w0 = np.where(y, weight[1], 0.0), np.where(y, 0.0, weight[0])
    total1, total0 = w1.sum(), w0.sum()
    if n < 2 * min_leaf or total1 == 0 or total0 == 0:
        return None
    count = np.arange(1, n)
    sizes = (count >= min_leaf) & (n - count >= min_leaf)  # both sides large enough
    best: tuple[float, int, float] | None = None  # (impurity, column, threshold)
    for column in range(X.shape[1]):
        order = np.argsort(X[:, column], kind="stable")
        xs = X[order, column]
        left1, left0 = np.cumsum(w1[order])[:-1], np.cumsum(w0[order])[:-1]
        right1, right0 = total1 - left1, total0 - left0
        left, right = left1 + left0, right1 + right0
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty side is never valid
            impurity = (left * (1 - (left1 / left) ** 2 - (left0 / left) ** 2)
                        + right * (1 - (right1 / right) ** 2 - (right0 / right) ** 2))  # fmt: skip
        impurity = np.where((xs[1:] > xs[:-1]) & sizes, impurity, np.inf)
        row = int(np.argmin(impurity))
        if np.isfinite(impurity[row]) and (best is None or impurity[row] < best[0]):
            best = (float(impurity[row]), column, float((xs[row] + xs[row + 1]) / 2))
    return None if best is None else best[1:]


def _merged(conditions) -> tuple[Condition, ...]:
    """The same box with one condition per parameter and direction (the tighter), sorted."""
    tightest: dict[tuple[str, str], Condition] = {}
    for c in conditions:
        kept = tightest.get((c.parameter, c.operator))
        if (
            kept is None
            or (c.operator == ">" and c.threshold > kept.threshold)
            or (c.operator == "<=" and c.threshold < kept.threshold)
        ):
            tightest[(c.parameter, c.operator)] = c
    return tuple(sorted(tightest.values(), key=lambda c: (c.parameter, c.operator != ">")))


def _measures(rule, values, y) -> tuple[float, float, float]:
    """(coverage, density, support) of ``rule`` on the columns ``values`` and outcome ``y``."""
    mask = np.ones(len(y), dtype=bool)
    for c in rule:
        mask &= c.holds(values[c.parameter])
    inside, events = int(mask.sum()), int(y.sum())
    hits = int((mask & y).sum())
    coverage = hits / events if events else 0.0
    density = hits / inside if inside else 0.0
    return coverage, density, inside / len(y)


def _score(coverage: float, density: float, probability: float) -> float:
    if not 0 < probability < 1:
        return 0.0
    return coverage * (density - probability) / (1 - probability)


def _round_threshold(value: float, spread: float) -> float:
    """``value`` rounded to about a fiftieth of ``spread``, kept to 2-3 significant figures."""
    if value == 0 or not math.isfinite(value):
        return value
    magnitude = math.floor(math.log10(abs(value)))
    step = (
        math.floor(math.log10(spread * ROUNDING_SPREAD_FRACTION)) if spread > 0 else magnitude - 2
    )
    step = min(max(step, magnitude - 2), magnitude - 1)
    return round(value, -step)


def _number(value: float) -> str:
    """A rounded threshold as text: thousands separated, no trailing zeros."""
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _with_unit(value: float, unit: str) -> str:
    if not unit:
        return _number(value)
    return f"{_number(value)}{unit}" if unit.startswith("%") else f"{_number(value)} {unit}"


def percent_words(share: float) -> str:
    """A share (0 to 1) as whole per cent, with 'under 1%' and 'over 99%' for shares that
    would round to 0 or 100 without being either (the words every answer uses)."""
    if 0 < share < 0.005:
        return "under 1%"
    if 0.995 <= share < 1:
        return "over 99%"
    return f"{round(share * 100)}%"


_HEAD_ENDS = re.compile(r"\s(?:per|of|in|for|at|on|by|a|an|the)\s")


def _verb(label: str) -> str:
    """``are`` when the label's head noun looks plural (``hours per WTE``), else ``is``."""
    head = _HEAD_ENDS.split(f" {label} ", maxsplit=1)[0].split()
    word = head[-1].lower() if head else ""
    plural = word.endswith("s") and not word.endswith(("ss", "us", "is"))
    return "are" if plural else "is"


def _rule_words(rule: tuple[Condition, ...]) -> str:
    """``a is above 0.7 and b is below 0.3``; two conditions on one parameter read as a range."""
    parts = []
    for parameter in dict.fromkeys(c.parameter for c in rule):
        mine = {c.operator: c for c in rule if c.parameter == parameter}
        first = next(iter(mine.values()))
        subject = f"{first.label or parameter} {_verb(first.label or parameter)}"
        if len(mine) == 2:
            low, high = mine[">"], mine["<="]
            parts.append(
                f"{subject} between {_number(low.threshold)} and {_with_unit(high.threshold, high.unit)}"
            )
        else:
            side = "above" if first.operator == ">" else "below"
            parts.append(f"{subject} {side} {_with_unit(first.threshold, first.unit)}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _readable_names(columns: list[str], labels: Mapping[str, str]) -> dict[str, str]:
    """Each column's label if given, else the fewest last parts of its dotted path (at least
    two) that tell it from the other columns, with underscores as spaces."""
    names = {}
    for column in columns:
        if labels.get(column):
            names[column] = labels[column]
            continue
        parts = column.split(".")
        others = [o.split(".") for o in columns if o != column]
        take = min(2, len(parts))
        while take < len(parts) and any(o[-take:] == parts[-take:] for o in others):
            take += 1
        names[column] = " ".join(parts[-take:]).replace("_", " ")
    return names
