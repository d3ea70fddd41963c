"""The population of trusts: scores, deficit, capability and segment, as arrays.

One :class:`Population` holds the state of every trust in one replication and moves it on
one quarter at a time with array operations (a handful of numpy calls per assessment for
all 205 trusts), rather than one simpy process per trust: the population changes only at
assessments, so per-trust processes would only add events.

Random numbers are drawn up front in fixed-shape blocks, one stream per purpose, so that a
trust's k-th quarter always uses the same numbers whatever else a scenario changes.

The programme (segment 5) talks to the population through :meth:`Population.enter_programme`,
:meth:`Population.leave_programme` and :meth:`Population.release_hold`; nothing else writes
the state from outside.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit as _expit

from sim.model.inputs import PopulationInputs
from sim.model.segmentation import (
    apply_financial_override,
    quartile_segments,
    threshold_segments,
)
from sim.streams import Streams


class Population:
    """State of all trusts in one replication, and its quarterly update.

    Attributes (arrays of length n_trusts)
    ------------------------------------
    score : float
        Average metric score, 1.00 (best) to 4.00 (worst).
    deficit : bool
        In deficit or receiving deficit support.
    low_capability : bool
        Board rated low capability to improve at the last reassessment.
    segment : int8
        Current segment, 1 to 4, or the programme's segment (5 under the NOF rules, 4
        under the SOF rule) while in the programme; 0 once merged into another trust.
    active : bool
        Not (yet) merged into another trust. When a league table's count falls (a merger,
        at the first assessment on or after the date), that many trusts of the table,
        chosen at random among those not in the programme or transitional support, stop
        being counted anywhere; their spells are ended by the programme.
    """

    def __init__(self, inputs: PopulationInputs, streams: Streams):
        self.inputs = inputs
        n, k = inputs.n_trusts, inputs.n_assessments
        self.table = inputs.register.table

        # Per-assessment random numbers, drawn once per purpose in fixed shapes.
        # score innovations for every quarter, scaled once: (quarters, trusts)
        # (single precision is ample for noise and halves the cost of drawing it)
        self._innovations = streams["score_noise"].standard_normal((k, n), dtype=np.float32)
        self._deficit_u = streams["deficit_switching"].random((k, n), dtype=np.float32)
        # row 0 for the starting ratings, then one row per reassessment
        n_reassessments = int(np.count_nonzero(inputs.reassess_capability))
        self._capability_u = streams["capability"].random((n_reassessments + 1, 2, n))
        self._reassessments_done = 0
        self._innovations *= inputs.within_sd * np.sqrt(1.0 - inputs.persistence**2)
        self._inverse_sd = 1.0 / inputs.total_sd
        self._has_trend = bool(np.any(inputs.score_trend_per_quarter != 0.0))
        self._set_deficit_odds(0)

        # long-run levels revert slowly to the table mean: innovations scaled once
        self._level_innovations = streams["level_noise"].standard_normal((k, n), dtype=np.float32)
        self._level_innovations *= inputs.between_sd * np.sqrt(1.0 - inputs.level_persistence**2)

        init = streams["population_init"]
        self.level = inputs.between_sd * init.standard_normal(n)
        """Long-run level relative to the table mean (score points)."""
        self.deviation = inputs.within_sd * init.standard_normal(n)
        self._centre = inputs.score_mean.copy()
        self.score = np.clip(self._centre + self.level + self.deviation, 1.0, 4.0)
        self.deficit = np.zeros(n, dtype=bool)
        self.rule_segment = np.zeros(n, dtype=np.int8)
        """Segment from the rule before the financial override (for churn attribution)."""
        self.segment = np.zeros(n, dtype=np.int8)
        self._place_initial_state(init)

        z = self.standardised_score(0)
        self.low_capability = self._capability_u[0, 1] < _expit(
            inputs.capability_logit + inputs.capability_gradient * z
        )
        self.forced_segment = np.zeros(n, dtype=np.int8)
        """Segment a trust is held at regardless of its score: 5 in the programme, 3 in
        transitional support, 0 when the rule decides."""
        self.forced = np.zeros(n, dtype=bool)
        self._was_forced = np.zeros(n, dtype=bool)
        self._previous_segment = np.empty(n, dtype=np.int8)
        self._previous_rule = np.empty(n, dtype=np.int8)
        self._override_floor = np.empty(n, dtype=np.int8)

        self.programme_segment = int(inputs.programme_segment[0])
        """The segment that is the programme under the rule in force."""
        self.active = np.ones(n, dtype=bool)
        self._has_mergers = inputs.has_mergers
        self._merger_u = (
            streams["mergers"].random((k, n)) if self._has_mergers else np.zeros((0, n))
        )
        self.merged_now = np.zeros(0, dtype=np.int64)
        """Trusts merged away at the latest assessment (for the programme to act on)."""
        self.active_history = np.ones((k + 1, n), dtype=bool) if self._has_mergers else None

        self.step = 0
        self.segment_history = np.empty((k + 1, n), dtype=np.int8)
        self.score_history = np.empty((k + 1, n), dtype=np.float32)
        self.deficit_history = np.empty((k + 1, n), dtype=bool)
        self.capability_history = np.empty((k + 1, n), dtype=bool)
        self.churn = np.zeros(k, dtype=np.int32)
        self.override_churn = np.zeros(k, dtype=np.int32)
        self._record(0)

    # ----------------------------------------------------------------- starting state

    def _place_initial_state(self, rng: np.random.Generator) -> None:
        """Give each table its published segment counts and deficit counts.

        Trusts are ordered by their drawn score. The worst become segment 4. Of the rest,
        the best quarter (or more, if more are published in segment 1) form quartile 1
        and the next quarter quartile 2; in each, the published number stay in segment 1
        or 2 and the others are in deficit and held at segment 3 by the override. The
        remainder is the natural segment 3, topped up with trusts in deficit to the
        published count.
        """
        inputs = self.inputs
        for index, table_slice in enumerate(inputs.register.table_slices):
            n = table_slice.stop - table_slice.start
            c1, c2, c3, c4 = (int(v) for v in inputs.initial_segment_counts[index])
            d1, d2, d3, d4 = (int(v) for v in inputs.initial_deficit_counts[index])
            quarter = round(n / 4)
            q1, q2 = max(c1, quarter), max(c2, quarter)
            while q1 + q2 + c4 > n:  # small tables: shrink the quartiles towards the counts
                if q1 > c1:
                    q1 -= 1
                elif q2 > c2:
                    q2 -= 1
            order = table_slice.start + np.argsort(self.score[table_slice], kind="stable")
            top, second = order[:q1], order[q1 : q1 + q2]
            natural_3, worst = order[q1 + q2 : n - c4], order[n - c4 :]

            stay_1 = rng.permutation(top)
            stay_2 = rng.permutation(second)
            self.segment[stay_1[:c1]] = 1
            self.segment[stay_2[:c2]] = 2
            moved = np.concatenate([stay_1[c1:], stay_2[c2:]])
            self.segment[moved] = 3
            self.deficit[moved] = True
            self.segment[natural_3] = 3
            self.segment[worst] = 4
            self.rule_segment[stay_1] = 1
            self.rule_segment[stay_2] = 2
            self.rule_segment[natural_3] = 3
            self.rule_segment[worst] = 4
            # deficit among trusts not moved by the override
            self.deficit[rng.permutation(stay_1[:c1])[:d1]] = True
            self.deficit[rng.permutation(stay_2[:c2])[:d2]] = True
            self.deficit[rng.permutation(natural_3)[: max(0, d3 - len(moved))]] = True
            self.deficit[rng.permutation(worst)[:d4]] = True

    # ----------------------------------------------------------------------- dynamics

    def standardised_score(self, quarters_elapsed: int) -> np.ndarray:
        """Score relative to the table's expected mean and spread at that time."""
        inputs = self.inputs
        if self._has_trend:
            centre = inputs.score_mean + inputs.score_trend_per_quarter * quarters_elapsed
        else:
            centre = inputs.score_mean
        return (self.score - centre) * self._inverse_sd

    def _set_deficit_odds(self, quarters_elapsed: int) -> None:
        """Deficit log-odds as a linear function of the raw score (fused for speed):
        ``logit(share) + gradient * z`` with ``z = (score - centre) / sd``."""
        inputs = self.inputs
        centre = inputs.score_mean + inputs.score_trend_per_quarter * quarters_elapsed
        self._deficit_slope = inputs.deficit_gradient * self._inverse_sd
        self._deficit_intercept = inputs.deficit_logit - self._deficit_slope * centre

    def assess(self) -> None:
        """Move every trust on one quarter and re-segment (one assessment)."""
        inputs = self.inputs
        i = self.step
        self.step += 1

        if self._has_trend:
            self._centre += inputs.score_trend_per_quarter
        self.level *= inputs.level_persistence
        self.level += self._level_innovations[i]
        self.deviation *= inputs.persistence
        self.deviation += self._innovations[i]
        score = self.score
        np.add(self._centre, self.level, out=score)
        score += self.deviation
        # keep scores on the 1 to 4 scale (np.clip's wrapper is slow on small arrays)
        np.maximum(score, 1.0, out=score)
        np.minimum(score, 4.0, out=score)
        if self._has_trend:
            self._set_deficit_odds(self.step)

        # switch with probability rate * p (into deficit) or rate * (1 - p) (out of it)
        p_deficit = _expit(self._deficit_slope * self.score + self._deficit_intercept)
        p_switch = np.where(self.deficit, 1.0 - p_deficit, p_deficit)
        p_switch *= inputs.deficit_switching
        self.deficit ^= self._deficit_u[i] < p_switch

        if inputs.reassess_capability[i]:
            self._reassessments_done += 1
            keep_u, draw_u = self._capability_u[self._reassessments_done]
            z = self.standardised_score(self.step)
            p_low = _expit(inputs.capability_logit + inputs.capability_gradient * z)
            redraw = keep_u >= inputs.capability_persistence
            self.low_capability = np.where(redraw, draw_u < p_low, self.low_capability)

        if self._has_mergers:
            self._merge(i)
        segment = int(inputs.programme_segment[self.step])
        if segment != self.programme_segment:  # a new framework: the programme is renumbered
            self.forced_segment[self.forced_segment == self.programme_segment] = segment
            self.programme_segment = segment

        # swap buffers: the old arrays become "previous", the new ones are overwritten whole
        self._previous_rule, self.rule_segment = self.rule_segment, self._previous_rule
        self._previous_segment, self.segment = self.segment, self._previous_segment
        previous_rule, previous = self._previous_rule, self._previous_segment
        if inputs.rule_kind[i] == 0:
            split = inputs.segment_of_sorted[inputs.split_of_assessment[self.step]]
            key = self.score
            if self._has_mergers:  # merged trusts sort after their table's active ones
                key = self.score + 5.0 * ~self.active
            quartile_segments(key, inputs.table_offset, split, self.rule_segment)
        else:
            threshold_segments(self.score, inputs.rule_bounds[i], self.rule_segment)
        self._resegment()

        # Churn counts trusts whose segment is set by the rule both times (not in the
        # programme, not held, not merged); a change with the same rule segment is the
        # override's.
        changed = previous != self.segment
        changed &= ~(self.forced | self._was_forced)
        if self._has_mergers:
            changed &= self.active
        self.churn[i] = np.count_nonzero(changed)
        changed &= previous_rule == self.rule_segment
        self.override_churn[i] = np.count_nonzero(changed)
        np.copyto(self._was_forced, self.forced)
        self._record(self.step)

    def _merge(self, i: int) -> None:
        """Take merged trusts out at assessment ``i`` (chosen by the pre-drawn uniforms,
        trusts in the programme or transitional support last)."""
        inputs = self.inputs
        merged = []
        for table, table_slice in enumerate(inputs.register.table_slices):
            leaving = int(inputs.active_counts[i, table] - inputs.active_counts[i + 1, table])
            if leaving <= 0:
                continue
            members = np.arange(table_slice.start, table_slice.stop)
            members = members[self.active[members]]
            # held trusts sort after the others: their u is pushed above 1
            key = self._merger_u[i, members] + self.forced[members]
            merged.append(members[np.argsort(key, kind="stable")[:leaving]])
        self.merged_now = np.concatenate(merged) if merged else np.zeros(0, dtype=np.int64)
        self.active[self.merged_now] = False
        self.forced[self.merged_now] = False
        self.forced_segment[self.merged_now] = 0

    def _resegment(self) -> None:
        """Segment from the rule segment, the override, holds and the programme."""
        if self.inputs.override_of_assessment[self.step]:
            apply_financial_override(
                self.rule_segment,
                self.deficit,
                self.inputs.max_segment_in_deficit,
                out=self.segment,
                scratch=self._override_floor,
            )
        else:
            np.copyto(self.segment, self.rule_segment)
        np.copyto(self.segment, self.forced_segment, where=self.forced)
        if self._has_mergers:
            inactive = ~self.active
            self.segment[inactive] = 0
            self.rule_segment[inactive] = 0

    def record_start(self) -> None:
        """Record the starting state again, once the programme has placed its caseload."""
        self._record(0)

    def _record(self, row: int) -> None:
        self.segment_history[row] = self.segment
        self.score_history[row] = self.score
        self.deficit_history[row] = self.deficit
        self.capability_history[row] = self.low_capability
        if self.active_history is not None:
            self.active_history[row] = self.active

    # ---------------------------------------------------------- programme interface

    def enter_programme(self, trust: int) -> None:
        """Trust admitted to the programme: held at the programme's segment until it leaves."""
        self._force(trust, self.programme_segment)

    def leave_programme(self, trust: int, hold_segment: int, score_gain: float) -> None:
        """Trust exits: held at ``hold_segment`` during transitional support.

        ``score_gain`` (score points) lowers the trust's long-run level: the lasting
        improvement the programme bought, which fades only as levels revert to the mean.
        The board is no longer rated low capability.
        """
        self._force(trust, hold_segment)
        self.level[trust] -= score_gain
        self.deviation[trust] = 0.0
        self.low_capability[trust] = False

    def release_hold(self, trust: int) -> None:
        """Transitional support over: the rule sets the trust's segment again from the
        next assessment."""
        self.forced_segment[trust] = 0
        self.forced[trust] = False

    def _force(self, trust: int, segment: int) -> None:
        self.forced_segment[trust] = segment
        self.forced[trust] = True
        self._was_forced[trust] = True  # its next change is not churn either
        self.segment[trust] = segment

    # ------------------------------------------------------------------------ output

    def segment_counts(self) -> np.ndarray:
        """Trusts per (assessment, league table, segment 1..5), int array (merged trusts,
        segment 0, are not counted)."""
        rows, n = self.segment_history.shape
        n_tables = len(self.inputs.register.table_slices)
        cell = (
            np.arange(rows)[:, None] * (n_tables * 6)
            + self.table[None, :].astype(np.int64) * 6
            + self.segment_history.astype(np.int64)
        )
        counts = np.bincount(cell.ravel(), minlength=rows * n_tables * 6)
        return counts.reshape(rows, n_tables, 6)[:, :, 1:]

    def per_table_counts(self, history: np.ndarray) -> np.ndarray:
        """Sum a bool history (assessments, trusts) within each league table, over trusts
        not merged away."""
        if self.active_history is not None:
            history = history & self.active_history
        return np.stack(
            [history[:, s].sum(axis=1) for s in self.inputs.register.table_slices], axis=1
        )
