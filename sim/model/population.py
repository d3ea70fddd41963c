"""The population of trusts: scores, deficit, capability and segment, as arrays.

One :class:`Population` holds the state of every trust in one replication: its random
numbers, starting state and what the programme changes. A :class:`PopulationBatch` moves
the populations of a batch of replications on one quarter at a time with array operations
(a fixed sequence of numpy calls per assessment for all their trusts), rather than one
simpy process per trust: the population changes only at assessments, so per-trust
processes would only add events. Their state lives in one :class:`PopulationArrays`, each
population's arrays being views of its row.

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
    """State of all trusts in one replication (its quarterly update: :class:`PopulationBatch`).

    Attributes (arrays of length n_trusts)
    ------------------------------------
    score : float
        Average metric score, 1.00 (best) to 4.00 (worst).
    deficit : bool
        In deficit or receiving deficit support.
    low_capability : bool
        Board rated low capability to improve at the last reassessment.
    segment : int8
        Segment at the latest assessment, 1 to 4, or the programme's segment (5 under the
        NOF rules, 4 under the SOF rule) for a trust held in the programme; 0 once merged
        into another trust. A trust admitted or leaving between assessments is held at its
        new segment from the next assessment (see :attr:`forced_segment`).
    active : bool
        Not (yet) merged into another trust. When a league table's count falls (a merger,
        at the first assessment on or after the date), that many trusts of the table,
        chosen at random among those not in the programme or transitional support, stop
        being counted anywhere; their spells are ended by the programme.

    ``score``, ``deficit`` and ``segment`` are the latest rows of their histories (one row
    per assessment, written in place), so recording a quarter costs no copies.
    """

    def __init__(
        self,
        inputs: PopulationInputs,
        streams: Streams,
        arrays: PopulationArrays | None = None,
        member: int = 0,
    ):
        """``arrays`` holds the state of a batch of replications stepped together
        (:class:`PopulationBatch`); this population is its member ``member``. Without it
        the population has arrays of its own (a batch of one)."""
        self.inputs = inputs
        self.quarterly = quarterly = inputs.quarterly
        n, k = inputs.n_trusts, inputs.n_assessments
        self.table = inputs.register.table
        if arrays is None:
            arrays = PopulationArrays(inputs, 1)
        own = arrays.member(member)

        # Per-assessment random numbers, drawn once per purpose in fixed shapes.
        # innovations of the long-run level (row 0) and of the deviation (row 1) for every
        # quarter, scaled once: (quarters, 2, trusts); single precision is ample for noise
        # and halves the cost of drawing it. Both are then held in double precision
        # (exactly), as the arithmetic is: a mixed-precision operation costs twice as much
        innovations = np.empty((k, 2, n), dtype=np.float32)
        for row, purpose in enumerate(("level_noise", "score_noise")):
            noise = streams[purpose].standard_normal((k, n), dtype=np.float32)
            np.multiply(noise, quarterly.noise_scale[row], out=innovations[:, row])
        self._innovations = own.innovations
        self._innovations[...] = innovations
        self._deficit_u = own.deficit_u
        self._deficit_u[...] = streams["deficit_switching"].random((k, n), dtype=np.float32)
        # row 0 for the starting ratings, then one row per reassessment
        self._capability_u = own.capability_u
        streams["capability"].random(out=self._capability_u)

        init = streams["population_init"]
        self._state = own.state
        """Long-run level relative to the table mean (row 0) and the persistent deviation
        from it (row 1), score points."""
        self.level, self.deviation = self._state
        np.multiply(inputs.between_sd, init.standard_normal(n), out=self.level)
        np.multiply(inputs.within_sd, init.standard_normal(n), out=self.deviation)

        self.step = 0
        self._scores = own.scores
        self.score = self._scores[0]
        np.clip(quarterly.centre[0] + self.level + self.deviation, 1.0, 4.0, out=self.score)
        self.deficit_history = own.deficit
        self.deficit = self.deficit_history[0]
        self._rules = own.rules
        self.rule_segment = self._rules[0]
        """Segment from the rule before the financial override (for churn attribution)."""
        self.segment_history = own.segments
        self.segment = self.segment_history[0]
        self._place_initial_state(init)

        z = self.standardised_score(0)
        self.low_capability = own.low_capability
        np.less(
            self._capability_u[0, 1],
            _expit(inputs.capability_logit + inputs.capability_gradient * z),
            out=self.low_capability,
        )
        self.forced_segment = own.forced_segment
        """Segment a trust is held at regardless of its score: 5 in the programme, 3 in
        transitional support, 0 when the rule decides."""
        self.forced = own.forced
        self._free_history = own.free
        """Row i: trusts neither held at assessment i nor since, up to assessment i + 1,
        whose change of segment then is churn (the last row, after the last assessment,
        counts nothing)."""
        self._free = self._free_history[0]

        self.programme_segment = quarterly.programme_segment[0]
        """The segment that is the programme under the rule in force."""
        self.active = own.active
        self._has_mergers = quarterly.has_mergers
        self._merger_u = (
            streams["mergers"].random((k, n)) if self._has_mergers else np.zeros((0, n))
        )
        self.merged_now = np.zeros(0, dtype=np.int64)
        """Trusts merged away at the latest assessment (for the programme to act on)."""
        self.active_history = own.active_history

        self.capability_history = own.capability
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
            c1, c2, _, c4 = self.quarterly.initial_segments[index]
            d1, d2, d3, d4 = self.quarterly.initial_deficits[index]
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
        centre = self.quarterly.expected_centre[quarters_elapsed]
        return (self.score - centre) * self.quarterly.inverse_sd

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

    def record_start(self) -> None:
        """Record the starting state again, once the programme has placed its caseload."""
        np.copyto(self.segment, self.forced_segment, where=self.forced)
        self._record(0)

    def _record(self, row: int) -> None:
        """Record what is not computed in its history row: ratings and who is active."""
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
        self._free[trust] = False  # its next change is not churn either

    # ------------------------------------------------------------------------ output

    def churn(self) -> tuple[np.ndarray, np.ndarray]:
        """Per assessment (int32): trusts whose segment changed, and of those, changes
        the financial override caused (the rule segment did not change).

        Churn counts trusts whose segment is set by the rule both times (not in the
        programme, not held, not merged). Counted after the run, for all assessments at
        once, from the histories (rows are never changed once written)."""
        changed = self.segment_history[:-1] != self.segment_history[1:]
        changed &= self._free_history[:-1]
        if self._has_mergers:
            changed &= self.active_history[1:]
        churn = np.count_nonzero(changed, axis=1).astype(np.int32)
        changed &= self._rules[:-1] == self._rules[1:]
        return churn, np.count_nonzero(changed, axis=1).astype(np.int32)

    @property
    def score_history(self) -> np.ndarray:
        """(assessments + 1, trusts) float32: each trust's score at each assessment."""
        return self._scores.astype(np.float32)

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

    # --------------------------------------------------------------- batch interface

    def _at_row(self, row: int, programme_segment: int) -> None:
        """The batch has written assessment ``row``: it is now the current state."""
        self.step = row
        self.score = self._scores[row]
        self.deficit = self.deficit_history[row]
        self.rule_segment = self._rules[row]
        self.segment = self.segment_history[row]
        self._free = self._free_history[row]
        self.programme_segment = programme_segment


class PopulationArrays:
    """The state of several replications' populations, one block per quantity with the
    replication (member) first, so each member's part is contiguous and the batch's
    quarterly step is one numpy call per quantity for all members.

    Shapes: ``k`` assessments, ``rows = k + 1`` (the start, then each assessment), ``n``
    trusts, ``R`` members."""

    def __init__(self, inputs: PopulationInputs, members: int):
        n, k = inputs.n_trusts, inputs.n_assessments
        rows, count = k + 1, members
        reassessments = sum(inputs.quarterly.reassess)
        self.innovations = np.empty((count, k, 2, n))
        """Scaled innovations of level and deviation per quarter (score points)."""
        self.deficit_u = np.empty((count, k, n))
        self.capability_u = np.empty((count, reassessments + 1, 2, n))
        self.state = np.empty((count, 2, n))
        """Long-run level and persistent deviation (score points)."""
        self.scores = np.empty((count, rows, n))
        self.deficit = np.zeros((count, rows, n), dtype=bool)
        self.rules = np.zeros((count, rows, n), dtype=np.int8)
        self.segments = np.zeros((count, rows, n), dtype=np.int8)
        self.free = np.ones((count, rows, n), dtype=bool)
        self.capability = np.empty((count, rows, n), dtype=bool)
        self.low_capability = np.zeros((count, n), dtype=bool)
        self.forced_segment = np.zeros((count, n), dtype=np.int8)
        self.forced = np.zeros((count, n), dtype=bool)
        self.active = np.ones((count, n), dtype=bool)
        self.active_history = (
            np.ones((count, rows, n), dtype=bool) if inputs.quarterly.has_mergers else None
        )

    def member(self, index: int) -> PopulationArrays:
        """Member ``index``'s views of every block (the same names, no member axis)."""
        view = object.__new__(PopulationArrays)
        for name, block in vars(self).items():
            setattr(view, name, None if block is None else block[index])
        return view


def batch_key(inputs: PopulationInputs) -> tuple:
    """What populations stepped together must share: the trusts, the calendar of
    assessments and the rule in force at each. Numbers that differ between members (drawn
    assumptions) are stacked per member by :class:`PopulationBatch`."""
    q = inputs.quarterly
    return (
        inputs.n_trusts,
        inputs.register.table.tobytes(),
        inputs.horizon_weeks,
        inputs.assessment_weeks.tobytes(),
        q.reassess, q.rule_kind, q.split, q.override, q.programme_segment,
        q.has_mergers, q.has_trend,
        inputs.active_counts.tobytes(),
        inputs.rule_bounds.tobytes(),
        inputs.table_offset.tobytes(),
        tuple(s.tobytes() for s in inputs.segment_of_sorted),
        inputs.max_segment_in_deficit,
    )  # fmt: skip


_PER_MEMBER = ("persistence", "centre", "expected_centre", "inverse_sd", "deficit_slope",
               "deficit_intercept")  # fmt: skip
"""Quarterly constants the batch's step reads, stacked per member when members differ."""
_PER_ROW = ("centre", "expected_centre", "deficit_intercept")
"""Of those, the ones with a row per assessment (one row only when there is no trend)."""
_PER_MEMBER_INPUTS = ("deficit_switching", "capability_logit", "capability_gradient",
                      "capability_persistence")  # fmt: skip
"""Inputs the batch's step reads as they are, stacked per member when members differ."""


class PopulationBatch:
    """The populations of several replications (members of one :class:`PopulationArrays`,
    sharing :func:`batch_key`), moved on one quarter together.

    Each quarter is the same sequence of numpy calls as one population's step, on blocks
    with a member axis in front: the arithmetic is elementwise (and ranks are taken within
    each member's row), so every member's numbers are exactly those it would have alone,
    and the cost per member falls with the batch's size. Constants that differ between
    members (drawn assumptions) are stacked per member; shared ones broadcast.
    :class:`~sim.model.reference.ReferencePopulation` is the same step written plainly for
    one population; a test holds the two to identical results."""

    def __init__(self, members: list[Population], arrays: PopulationArrays):
        self.members = members
        self.arrays = arrays
        first = members[0]
        self.inputs, self.quarterly = first.inputs, first.quarterly
        self.step = 0
        self.programme_segment = first.programme_segment
        self._reassessments_done = 0
        shared = all(m.inputs is first.inputs for m in members)

        def stacked(values: list) -> np.ndarray:
            """(1 or members, ...) block: one value broadcast, or one per member."""
            if shared:
                return np.asarray(values[0])[None]
            return np.stack([np.asarray(v) for v in values])

        for name in _PER_MEMBER:
            values = [getattr(m.quarterly, name) for m in members]
            if name in _PER_ROW and not self.quarterly.has_trend:
                values = [v[:1] for v in values]  # every row the same: keep one (see _row)
            setattr(self, name, stacked(values))
        for name in _PER_MEMBER_INPUTS:
            block = stacked([getattr(m.inputs, name) for m in members])
            setattr(self, name, block if block.ndim > 1 else block[:, None])
        shape = arrays.low_capability.shape
        self._odds = np.empty(shape)
        self._p_out = np.empty(shape)
        self._flip = np.empty(shape, dtype=bool)
        self._override_floor = np.empty(shape, dtype=np.int8)

    @staticmethod
    def _row(block: np.ndarray, row: int) -> np.ndarray:
        """Row ``row`` of a per-row constant held as (1|R, rows, n), or its only row."""
        return block[:, row if block.shape[1] > 1 else 0]

    def assess(self) -> None:
        """Move every member on one quarter and re-segment (one assessment).

        Each quantity is computed into its history row in place, with a fixed sequence of
        numpy calls on preallocated blocks: this runs 40 times per 10-year replication.
        The calls' overhead is shared by the members; from about 16 members the cost is
        the arithmetic itself (the logistic and the sort, a few nanoseconds per trust)."""
        arrays, quarterly = self.arrays, self.quarterly
        i = self.step
        row = self.step = i + 1

        state = arrays.state
        state *= self.persistence
        state += arrays.innovations[:, i]
        score = arrays.scores[:, row]
        np.add(self._row(self.centre, row), state[:, 0], out=score)
        score += state[:, 1]
        score.clip(1.0, 4.0, out=score)  # the 1 to 4 scale (np.clip's wrapper is slower)

        # switch with probability rate * p (into deficit) or rate * (1 - p) (out of it)
        odds = np.multiply(self.deficit_slope, score, out=self._odds)
        odds += self._row(self.deficit_intercept, row)
        p_switch = _expit(odds, out=odds)
        previous_deficit, deficit = arrays.deficit[:, i], arrays.deficit[:, row]
        np.copyto(p_switch, np.subtract(1.0, p_switch, out=self._p_out), where=previous_deficit)
        p_switch *= self.deficit_switching
        flip = np.less(arrays.deficit_u[:, i], p_switch, out=self._flip)
        np.logical_xor(previous_deficit, flip, out=deficit)

        if quarterly.reassess[i]:
            self._reassess_capability(score, row)
        has_mergers = quarterly.has_mergers
        if has_mergers:
            for member in self.members:
                member._merge(i)
        segment = quarterly.programme_segment[row]
        if segment != self.programme_segment:  # a new framework: the programme is renumbered
            forced_segment = arrays.forced_segment
            forced_segment[forced_segment == self.programme_segment] = segment
            self.programme_segment = segment

        inputs = self.inputs
        rule = arrays.rules[:, row]
        if quarterly.rule_kind[i] == 0:
            split = inputs.segment_of_sorted[quarterly.split[row]]
            key = score
            if has_mergers:  # merged trusts sort after their table's active ones
                key = score + 5.0 * ~arrays.active
            quartile_segments(key, inputs.table_offset, split, rule)
        else:
            threshold_segments(score, inputs.rule_bounds[i], rule)
        self._resegment(row, rule, deficit)
        np.logical_not(arrays.forced, out=arrays.free[:, row])  # free until the next one
        arrays.capability[:, row] = arrays.low_capability
        if has_mergers:
            arrays.active_history[:, row] = arrays.active
        for member in self.members:
            member._at_row(row, self.programme_segment)

    def _reassess_capability(self, score: np.ndarray, row: int) -> None:
        """Yearly: each board keeps its rating or is rated again from its score."""
        self._reassessments_done += 1
        uniforms = self.arrays.capability_u[:, self._reassessments_done]
        keep_u, draw_u = uniforms[:, 0], uniforms[:, 1]
        z = (score - self._row(self.expected_centre, row)) * self.inverse_sd
        p_low = _expit(self.capability_logit + self.capability_gradient * z)
        redraw = keep_u >= self.capability_persistence
        np.copyto(self.arrays.low_capability, draw_u < p_low, where=redraw)

    def _resegment(self, row: int, rule: np.ndarray, deficit: np.ndarray) -> None:
        """Segment from the rule segment, the override, holds and the programme."""
        arrays = self.arrays
        segment = arrays.segments[:, row]
        if self.quarterly.override[row]:
            apply_financial_override(
                rule,
                deficit,
                self.inputs.max_segment_in_deficit,
                out=segment,
                scratch=self._override_floor,
            )
        else:
            np.copyto(segment, rule)
        np.copyto(segment, arrays.forced_segment, where=arrays.forced)
        if self.quarterly.has_mergers:
            inactive = ~arrays.active
            segment[inactive] = 0
            rule[inactive] = 0
