"""The model's plain reference implementation, for tests only: what the fast path must equal.

The model's hot paths are written for speed (:class:`~sim.model.population.Population`
computes each quarter into preallocated history rows with derived constants and counts
churn after the run; :class:`~sim.model.events.EventQueue` replaces simpy). Here the same
definitions are written the straightforward way, with no precomputed constants and no
reuse of buffers: the quarterly step as a plain sequence of array expressions from the
scenario's inputs, churn counted at each assessment, a stable sort for ranks, and simpy
as the event calendar. ``tests/test_fast_path.py`` runs both on several scenarios and
seeds and requires identical results, bit for bit.

Everything else (the starting state, mergers, the programme's journeys) is shared with the
fast path. Nothing in the package runs this module.
"""

from __future__ import annotations

import numpy as np
import simpy
from scipy.special import expit

from sim.model.population import Population
from sim.model.programme import Programme
from sim.model.replication import (
    ModelInputs,
    ReplicationResult,
    collect_result,
    schedule_replication,
)
from sim.model.segmentation import threshold_segments
from sim.streams import Streams


class SimpyClock:
    """The event calendar the programme expects (``now``, ``schedule``, ``run``), on a
    ``simpy.Environment``: each event a timeout with a callback."""

    def __init__(self) -> None:
        self.env = simpy.Environment()

    @property
    def now(self) -> float:
        return self.env.now

    def schedule(self, delay: float, action, *args) -> None:
        self.env.timeout(delay).callbacks.append(lambda _event: action(*args))

    def run(self, until: float) -> None:
        self.env.run(until=until)


class ReferencePopulation(Population):
    """:class:`~sim.model.population.Population` with the quarterly step written plainly."""

    def __init__(self, inputs, streams: Streams):
        super().__init__(inputs, streams)
        self._centre = inputs.score_mean.copy()
        self._was_forced = np.zeros(inputs.n_trusts, dtype=bool)
        self._churn = np.zeros(inputs.n_assessments, dtype=np.int32)
        self._override_churn = np.zeros(inputs.n_assessments, dtype=np.int32)
        self._reassessments_done = 0

    def _force(self, trust: int, segment: int) -> None:
        super()._force(trust, segment)
        self._was_forced[trust] = True  # its next change is not churn either

    def _expected_centre(self, quarters_elapsed: int) -> np.ndarray:
        inputs = self.inputs
        return inputs.score_mean + inputs.score_trend_per_quarter * quarters_elapsed

    def standardised_score(self, quarters_elapsed: int) -> np.ndarray:
        return (self.score - self._expected_centre(quarters_elapsed)) * (1.0 / self.inputs.total_sd)

    def assess(self) -> None:
        inputs = self.inputs
        i = self.step
        row = self.step = i + 1
        previous_segment, previous_rule = self.segment.copy(), self.rule_segment.copy()

        # scores: long-run level and deviation, each AR(1), around the table mean
        self._centre = self._centre + inputs.score_trend_per_quarter
        self.level *= inputs.level_persistence
        self.level += self._innovations[i, 0]
        self.deviation *= inputs.persistence
        self.deviation += self._innovations[i, 1]
        self._scores[row] = np.clip(self._centre + self.level + self.deviation, 1.0, 4.0)
        self.score = score = self._scores[row]

        # deficit switches in with probability rate * p, out with rate * (1 - p)
        slope = inputs.deficit_gradient * (1.0 / inputs.total_sd)
        intercept = inputs.deficit_logit - slope * self._expected_centre(row)
        p_deficit = expit(slope * score + intercept)
        p_switch = np.where(self.deficit, 1.0 - p_deficit, p_deficit) * inputs.deficit_switching
        self.deficit_history[row] = self.deficit ^ (self._deficit_u[i] < p_switch)
        self.deficit = self.deficit_history[row]

        if inputs.reassess_capability[i]:  # yearly: keep the rating or rate again
            self._reassessments_done += 1
            keep_u, draw_u = self._capability_u[self._reassessments_done]
            z = self.standardised_score(row)
            p_low = expit(inputs.capability_logit + inputs.capability_gradient * z)
            redraw = keep_u >= inputs.capability_persistence
            self.low_capability[:] = np.where(redraw, draw_u < p_low, self.low_capability)
        if self._has_mergers:
            self._merge(i)
        segment = int(inputs.programme_segment[row])
        if segment != self.programme_segment:
            self.forced_segment[self.forced_segment == self.programme_segment] = segment
            self.programme_segment = segment

        # rule segment: ranks within each table (stable sort), or fixed thresholds
        rule = np.zeros(inputs.n_trusts, dtype=np.int8)
        if inputs.rule_kind[i] == 0:
            key = score + 5.0 * ~self.active + inputs.table_offset
            split = inputs.segment_of_sorted[inputs.split_of_assessment[row]]
            rule[np.argsort(key, kind="stable")] = split
        else:
            threshold_segments(score, inputs.rule_bounds[i], rule)
        if inputs.override_of_assessment[row]:
            worst = inputs.max_segment_in_deficit
            segment = np.maximum(rule, np.where(self.deficit, worst, 0)).astype(np.int8)
        else:
            segment = rule.copy()
        segment = np.where(self.forced, self.forced_segment, segment).astype(np.int8)
        segment[~self.active] = 0
        rule[~self.active] = 0
        self._rules[row], self.segment_history[row] = rule, segment
        self.rule_segment, self.segment = self._rules[row], self.segment_history[row]

        # churn: the rule sets the segment both times (not held since the last assessment)
        changed = (previous_segment != segment) & ~(self.forced | self._was_forced) & self.active
        self._churn[i] = np.count_nonzero(changed)
        self._override_churn[i] = np.count_nonzero(changed & (previous_rule == rule))
        self._was_forced = self.forced.copy()
        self._record(row)

    def churn(self) -> tuple[np.ndarray, np.ndarray]:
        return self._churn, self._override_churn


def run_reference_replication(
    inputs: ModelInputs, seed: int, replication: int
) -> ReplicationResult:
    """:func:`~sim.model.run_replication` by the reference implementation: one replication
    alone, its assessments ordinary events on simpy's calendar."""
    streams = Streams(seed, replication)
    population = ReferencePopulation(inputs.population, streams)
    clock = SimpyClock()
    programme = Programme(clock, inputs.programme, population, streams)

    def assess() -> None:  # re-segment every trust, then let the programme refer
        population.assess()
        programme.on_assessment()

    catastrophes = schedule_replication(inputs, streams, clock, population, programme, assess)
    clock.run(until=inputs.population.horizon_weeks)
    return collect_result(inputs, seed, replication, population, programme, catastrophes)
