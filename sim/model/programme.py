"""The Provider Improvement Programme (segment 5) and the team that supports it.

Trusts are referred (segment 4 with a low-capability board, a catastrophic failure, or an
exogenous arrival process), wait in a priority-ordered list, and are admitted when a place
is free under the cap (and, under the ``wait`` policy, when the national team has room for
the first phase). A spell runs through diagnostic, improvement and exit phases in the
programme, then transitional support in segment 3; a trust may relapse and come back.

How time is handled, and why:

* Fixed-length phases (diagnostic, exit, transitional) are simpy timeouts with callbacks,
  checked against a per-trust token so that a superseded timeout does nothing.
* Every trust in the improvement phase progresses at the same rate, ``dose ** elasticity``,
  because support is rationed in proportion to need across trusts. So progress is kept on
  one shared "progress clock" and each trust finishes when the clock reaches its own
  threshold (a heap). A change of support rate reschedules a single timer, not one per
  trust, which keeps a replication to a few hundred events.
* Support demand, capacity and delivery are piecewise constant between events. The state
  is logged at each change and handed over as a :class:`~sim.model.timeline.Timeline`,
  which gives figures for any periods with array operations after the run.
* Support demand is recomputed from the counts in each phase whenever it is needed
  (:meth:`Programme._demand`), never kept by adding and subtracting, so it cannot drift.

Random numbers: each (trust, spell) has its own pre-drawn uniforms per purpose, turned into
durations by inverse CDFs, so a trust's k-th spell has the same draws whatever the queue
does.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import simpy

from sim.model.inputs import ProgrammeInputs
from sim.model.population import Population
from sim.model.timeline import NATIONAL, CostRates, Timeline
from sim.streams import Streams
from sim.vocabulary import EXIT_SEGMENT, LOWEST_RULE_SEGMENT, Phase, ShortfallPolicy

# plain ints on the hot path (an IntEnum costs a conversion at every list index)
DIAGNOSTIC, IMPROVEMENT, EXIT, TRANSITIONAL = (int(phase) for phase in Phase)
WAITING = 4
NOT_REFERRED = -1
IN_PROGRAMME = (DIAGNOSTIC, IMPROVEMENT, EXIT)
POLICY_WAIT, POLICY_DILUTE, POLICY_BUY = (int(policy) for policy in ShortfallPolicy)
SPELLS_PER_TRUST = 8
"""Pre-drawn spells per trust; further spells draw from an overflow stream."""


class Programme:
    """State and event handlers of the programme in one replication."""

    def __init__(
        self,
        env: simpy.Environment,
        inputs: ProgrammeInputs,
        population: Population,
        streams: Streams,
    ):
        self.env = env
        self.p = inputs
        self.population = population
        n = population.inputs.n_trusts
        self.status = [NOT_REFERRED] * n  # a list: scalar access is on the hot path
        self.referred = np.zeros(n, dtype=bool)
        """Waiting, in the programme or in transitional support: not referable by segment."""
        self.spell_number = [0] * n
        self.token = [0] * n
        self.exits_so_far = [0] * n
        self.current_spell = [-1] * n

        self._streams = streams
        shape = (n, SPELLS_PER_TRUST)
        # uniforms per (trust, spell); turned into durations only when a spell needs them
        self._phase_u = [
            streams[f"{name}_duration"].random(shape)
            for name in ("diagnostic", "improvement", "exit", "transitional")
        ]
        self._relapse_u = streams["relapse"].random(shape)

        self.counts = [0, 0, 0, 0]
        self.waiting: list[tuple] = []
        """Heap of (priority key, trust); the key is fixed when the trust is referred."""
        self._waiting_entry: dict[int, tuple] = {}
        self._segment_referrals: set[int] = set()
        """Waiting trusts referred by their segment: they may leave the list if a later
        assessment finds them no longer eligible (when the scenario says so)."""
        self._sequence = 0

        # shared improvement progress clock (see module docstring)
        self._progress = 0.0
        self._rate = 1.0
        self._clock_time = 0.0
        self._heap: list[tuple[float, int, int]] = []
        self._timer_version = 0
        self._timer_key: tuple[float, float] | None = None

        self._wte_in_post = float(inputs.national_wte[0])
        improvement = inputs.phase_hours[IMPROVEMENT]
        total = sum(improvement)
        self._improvement_weights = (
            tuple(h / total for h in improvement) if total > 0 else (1 / 3, 1 / 3, 1 / 3)
        )

        self.log: list[tuple] = []
        self.referral_times: list[float] = []
        self.admission_times: list[float] = []
        self.exit_times: list[float] = []
        self.reentry_times: list[float] = []
        # spells, one entry per referral
        self.spell_trust: list[int] = []
        self.spell_referral: list[float] = []
        self.spell_admission: list[float] = []
        self.spell_exit: list[float] = []
        self.spell_end: list[float] = []
        self.spell_catastrophic: list[bool] = []
        self.spell_reentry: list[bool] = []
        self.spell_left_list: list[bool] = []

    # ------------------------------------------------------------------ set-up

    def place_initial_state(self) -> None:
        """Put the scenario's starting caseload and waiting list in place at time 0.

        The trusts chosen are, in each league table, those in segment 4 with the worst
        scores (then the worst of the rest), so the starting caseload is plausible.
        """
        population = self.population
        chosen = np.zeros(population.inputs.n_trusts, dtype=bool)

        def pick(table: int, count: int) -> np.ndarray:
            table_slice = population.inputs.register.table_slices[table]
            members = np.arange(table_slice.start, table_slice.stop)
            members = members[~chosen[members]]
            order = np.lexsort((-population.score[members], population.segment[members] != 4))
            picked = members[order[:count]]
            chosen[picked] = True
            return picked

        for table, count, phase, in_phase, in_programme in self.p.initial_in_programme:
            trusts = pick(table, count)
            # remaining durations, conditional on the time already spent in the phase
            uniforms = self._phase_u[phase][trusts, 0]
            remaining = self.p.durations[phase].remaining_given_elapsed(uniforms, in_phase)
            for trust, duration in zip(trusts.tolist(), remaining.tolist(), strict=True):
                self._open_spell(trust, -in_programme, catastrophic=False)
                self._admit(trust, admission_time=-in_programme, phase=phase, duration=duration)
        for table, count, waited in self.p.initial_waiting:
            for trust in pick(table, count):
                self._join_waiting_list(int(trust), -waited, catastrophic=False, by_segment=True)
        self._try_admit()
        self._changed()

    # ----------------------------------------------------------------- referral

    def refer(self, trust: int, catastrophic: bool = False, by_segment: bool = False) -> None:
        """Refer a trust; does nothing if it is already waiting or in the programme.

        ``by_segment``: the referral comes from the trust's segment and capability at an
        assessment (rather than a catastrophic failure, a relapse or an arrival process)."""
        status = self.status[trust]
        if status in IN_PROGRAMME:
            return
        if status == WAITING:
            if catastrophic:  # a catastrophic failure moves a waiting trust up the list
                _, score, when = self._waiting_entry[trust]
                self.waiting = [e for e in self.waiting if e[1] != trust]
                self._queue(trust, True, score, when)
                heapq.heapify(self.waiting)
                self.spell_catastrophic[self.current_spell[trust]] = True
                self._segment_referrals.discard(trust)
            return
        if status == TRANSITIONAL:
            self._end_transition(trust)
        self._join_waiting_list(trust, self.env.now, catastrophic, by_segment)

    def _join_waiting_list(
        self, trust: int, when: float, catastrophic: bool, by_segment: bool = False
    ) -> None:
        self._open_spell(trust, when, catastrophic)
        if by_segment and self.p.leave_list_when_ineligible:
            self._segment_referrals.add(trust)
        self.status[trust] = WAITING
        self.referred[trust] = True
        self._queue(trust, catastrophic, float(self.population.score[trust]), when)
        self.referral_times.append(when)

    def _queue(self, trust: int, catastrophic: bool, score: float, when: float) -> None:
        """Put a trust on the waiting list with its priority key (smallest first)."""
        self._sequence += 1
        parts = {
            "catastrophic_first": not catastrophic,
            "worst_score": -score,
            "longest_waiting": when,
        }
        key = (*[parts[name] for name in self.p.priority], self._sequence)
        self._waiting_entry[trust] = (catastrophic, score, when)
        heapq.heappush(self.waiting, (key, trust))

    def _open_spell(self, trust: int, when: float, catastrophic: bool) -> None:
        self.current_spell[trust] = len(self.spell_trust)
        self.spell_trust.append(trust)
        self.spell_referral.append(when)
        self.spell_admission.append(math.nan)
        self.spell_exit.append(math.nan)
        self.spell_end.append(math.nan)
        self.spell_catastrophic.append(catastrophic)
        self.spell_reentry.append(self.exits_so_far[trust] > 0)
        self.spell_left_list.append(False)

    def refer_from_segments(self) -> None:
        """After an assessment: refer every trust in segment 4 whose board is low capability."""
        population = self.population
        eligible = (population.segment == LOWEST_RULE_SEGMENT) & population.low_capability
        left = self._leave_list_if_ineligible(eligible) if self._segment_referrals else 0
        trusts = np.flatnonzero(eligible & ~self.referred)
        for trust in trusts.tolist():
            self.refer(trust, by_segment=True)
        if self._try_admit():
            self._changed()
        elif len(trusts) or left:
            self._log_waiting()  # only the waiting list changed: support is as it was

    def _leave_list_if_ineligible(self, eligible: np.ndarray) -> int:
        """Take off the waiting list every segment referral no longer ``eligible``;
        returns how many left. Their spells end now, never admitted."""
        leaving = sorted(t for t in self._segment_referrals if not eligible[t])
        if not leaving:
            return 0
        gone = set(leaving)
        self.waiting = [entry for entry in self.waiting if entry[1] not in gone]
        heapq.heapify(self.waiting)
        for trust in leaving:
            del self._waiting_entry[trust]
            self._segment_referrals.discard(trust)
            spell = self.current_spell[trust]
            self.spell_end[spell] = self.env.now
            self.spell_left_list[spell] = True
            self.status[trust] = NOT_REFERRED
            self.referred[trust] = False
        return len(leaving)

    def refer_catastrophic(self, trust: int) -> None:
        """A catastrophic failure of governance: refer the trust at once, first in line."""
        self.refer(trust, catastrophic=True)
        self._try_admit()
        self._changed()

    def refer_any_available(self, u: float) -> None:
        """Exogenous referral: a trust chosen (by uniform ``u``) among those not referred."""
        available = np.flatnonzero(~self.referred)
        if len(available):
            self.refer(int(available[min(int(u * len(available)), len(available) - 1)]))
        self._try_admit()
        self._changed()

    # ---------------------------------------------------------------- admission

    def _try_admit(self) -> int:
        """Admit from the waiting list while places (and, under ``wait``, national-team
        hours) allow. Returns the number admitted."""
        p = self.p
        admitted = 0
        while self.waiting and self.counts[0] + self.counts[1] + self.counts[2] < p.cap:
            if p.policy == POLICY_WAIT:
                needed = self._demand()[NATIONAL] + p.phase_hours[DIAGNOSTIC][NATIONAL]
                if needed > self._national_capacity() + 1e-9:
                    break
            _, trust = heapq.heappop(self.waiting)
            del self._waiting_entry[trust]
            self._segment_referrals.discard(trust)
            self._admit(trust, admission_time=self.env.now, phase=DIAGNOSTIC)
            admitted += 1
        return admitted

    def _admit(
        self, trust: int, admission_time: float, phase: int, duration: float | None = None
    ) -> None:
        spell = self.current_spell[trust]
        self.spell_admission[spell] = admission_time
        self.admission_times.append(admission_time)
        if self.spell_reentry[spell]:
            self.reentry_times.append(admission_time)
        self.referred[trust] = True
        self.population.enter_programme(trust)
        self._start_phase(trust, phase, duration)

    # ------------------------------------------------------------------- phases

    def _draw(self, phase: int, trust: int) -> float:
        """Duration (improvement: work) of the trust's current spell's phase, in weeks."""
        distribution = self.p.durations[phase]
        if distribution.kind == "fixed":
            return distribution.a
        k = self.spell_number[trust]
        if k < SPELLS_PER_TRUST:
            u = float(self._phase_u[phase][trust, k])
        else:
            u = float(self._streams[f"overflow_{phase}"].random())
        return distribution.quantile(u)

    def _start_phase(self, trust: int, phase: int, duration: float | None = None) -> None:
        """Move ``trust`` into ``phase``; ``duration`` (weeks; improvement: work) is drawn
        for the trust's current spell unless given."""
        previous = self.status[trust]
        if 0 <= previous <= TRANSITIONAL:
            self.counts[previous] -= 1
        self.status[trust] = phase
        self.counts[phase] += 1
        self.token[trust] += 1
        if duration is None:
            duration = self._draw(phase, trust)
        if phase == IMPROVEMENT:
            self._advance_clock()
            heapq.heappush(self._heap, (self._progress + duration, self.token[trust], trust))
        else:
            token = self.token[trust]
            event = self.env.timeout(duration)
            event.callbacks.append(lambda _event, t=trust, k=token: self._phase_over(t, k))

    def _phase_over(self, trust: int, token: int) -> None:
        if token != self.token[trust]:
            return  # superseded (for example, transitional support cut short by a relapse)
        phase = self.status[trust]
        if phase == DIAGNOSTIC:
            self._start_phase(trust, IMPROVEMENT)
        elif phase == EXIT:
            self._leave(trust)  # a place is free
            self._try_admit()
        elif phase == TRANSITIONAL:
            self._end_transition(trust)
            if self._relapses(trust):
                self._join_waiting_list(trust, self.env.now, catastrophic=False)
            self._try_admit()  # the lighter load may let a waiting trust in (policy wait)
        self._changed()

    def _relapses(self, trust: int) -> bool:
        k = self.spell_number[trust] - 1
        u = (
            self._relapse_u[trust, k]
            if k < SPELLS_PER_TRUST
            else self._streams["overflow_relapse"].random()
        )
        return bool(u < self.p.relapse_probability)

    def _leave(self, trust: int) -> None:
        """Exit criteria met and exit complete: move to segment 3 with transitional support."""
        now = self.env.now
        self.spell_exit[self.current_spell[trust]] = now
        self.exit_times.append(now)
        self.exits_so_far[trust] += 1
        self.population.leave_programme(trust, hold_segment=EXIT_SEGMENT, score_gain=self.p.exit_score_gain)
        self._start_phase(trust, TRANSITIONAL)

    def _end_transition(self, trust: int) -> None:
        self.counts[TRANSITIONAL] -= 1
        self.status[trust] = NOT_REFERRED
        self.referred[trust] = False
        self.token[trust] += 1
        self.spell_end[self.current_spell[trust]] = self.env.now
        self.spell_number[trust] += 1
        self.population.release_hold(trust)

    # ------------------------------------------------- support and progress clock

    def _demand(self) -> tuple[float, float, float]:
        """Support hours per week asked of each source (national, NHS family,
        consultancy) by the current caseload: trusts in each phase times that phase's hours.

        Recomputed from the counts rather than kept by += and -=, so it cannot drift."""
        n0, n1, n2, n3 = self.counts
        h0, h1, h2, h3 = self.p.phase_hours
        return (
            n0 * h0[0] + n1 * h1[0] + n2 * h2[0] + n3 * h3[0],
            n0 * h0[1] + n1 * h1[1] + n2 * h2[1] + n3 * h3[1],
            n0 * h0[2] + n1 * h1[2] + n2 * h2[2] + n3 * h3[2],
        )

    def _national_capacity(self) -> float:
        return self._wte_in_post * self.p.hours_per_wte_week

    def set_national_wte(self, wte_in_post: float) -> None:
        """The national team's WTE in post changes (a scheduled step)."""
        self._wte_in_post = wte_in_post
        self._try_admit()
        self._changed()

    def _advance_clock(self) -> None:
        now = self.env.now
        if now > self._clock_time:
            self._progress += self._rate * (now - self._clock_time)
            self._clock_time = now

    def _changed(self) -> None:
        """Recompute support and the improvement rate after any change; log the state.

        Support is rationed in proportion to need: each source delivers
        ``min(demand, capacity)`` and every trust gets the same share of what it needs. Under
        ``buy`` the national team's unmet hours are added to consultancy demand (within the
        framework cap). The improvement dose is the blend-weighted share delivered.
        """
        self._advance_clock()
        p = self.p
        n0, n1, n2, n3 = self.counts
        demand_n, demand_f, demand_c = self._demand()
        capacity_n = self._wte_in_post * p.hours_per_wte_week
        capacity_f = p.family_hours_per_week
        capacity_c = p.consultancy_hours_per_week

        delivered_n = demand_n if demand_n < capacity_n else capacity_n
        delivered_f = demand_f if demand_f < capacity_f else capacity_f
        gap = demand_n - delivered_n
        asked_c = demand_c + gap if p.policy == POLICY_BUY else demand_c
        delivered_c = asked_c if asked_c < capacity_c else capacity_c
        share_c = delivered_c / asked_c if asked_c > 0 else 1.0
        bought = gap * share_c if p.policy == POLICY_BUY else 0.0
        share_n = (delivered_n + bought) / demand_n if demand_n > 0 else 1.0
        share_f = delivered_f / demand_f if demand_f > 0 else 1.0
        wn, wf, wc = self._improvement_weights
        dose = wn * share_n + wf * share_f + wc * share_c
        self._rate = dose**p.elasticity if dose > 0 else (1.0 if p.elasticity == 0 else 0.0)

        self.log.append(
            (
                self.env.now, n0, n1, n2, n3, len(self.waiting),
                demand_n, demand_f, demand_c, capacity_n, capacity_f, capacity_c,
                delivered_n, delivered_f, delivered_c, bought, self._wte_in_post, dose,
            )
        )  # fmt: skip
        self._reschedule_improvement()

    def _log_waiting(self) -> None:
        """Log a change of the waiting list alone (support and rates are unchanged)."""
        last = self.log[-1]
        self.log.append((self.env.now, *last[1:5], len(self.waiting), *last[6:]))

    def _reschedule_improvement(self) -> None:
        """Keep one timer for the next improvement completion on the progress clock."""
        heap, rate = self._heap, self._rate
        if not heap or rate <= 0:
            self._timer_key = None
            self._timer_version += 1
            return
        key = (heap[0][0], rate)
        if key == self._timer_key:
            return  # same trust next, same speed: the pending timer is still right
        self._timer_key = key
        self._timer_version += 1
        version = self._timer_version
        delay = max((self._heap[0][0] - self._progress) / self._rate, 0.0)
        event = self.env.timeout(delay)
        event.callbacks.append(lambda _event, v=version: self._improvement_due(v))

    def _improvement_due(self, version: int) -> None:
        if version != self._timer_version:
            return
        self._advance_clock()
        self._timer_key = None
        while self._heap and self._heap[0][0] <= self._progress + 1e-9:
            _, token, trust = heapq.heappop(self._heap)
            if token == self.token[trust] and self.status[trust] == IMPROVEMENT:
                self._start_phase(trust, EXIT)
        self._changed()

    # ------------------------------------------------------------------ outputs

    def timeline(self, horizon_weeks: float) -> Timeline:
        """The state log and event times, for figures over any periods."""
        p = self.p
        return Timeline.from_rows(
            self.log,
            {
                "referrals": self.referral_times,
                "admissions": self.admission_times,
                "exits": self.exit_times,
                "reentries": self.reentry_times,
            },
            horizon_weeks,
            cap=p.cap,
            prices=CostRates(
                p.cost_per_wte_week,
                p.family_cost_per_hour,
                p.consultancy_cost_per_hour,
                tuple(p.trust_share),
            ),
        )

    def spells(self) -> dict[str, np.ndarray]:
        """One row per referral: trust, times (weeks; NaN if not reached) and flags.

        ``target_exit`` is the planned exit date (admission plus the target duration);
        exits after it are late (slippage).
        """
        admission = np.asarray(self.spell_admission, dtype=float)
        return {
            "trust": np.asarray(self.spell_trust, dtype=np.int32),
            "referral": np.asarray(self.spell_referral, dtype=float),
            "admission": admission,
            "target_exit": admission + self.p.target_weeks,
            "exit": np.asarray(self.spell_exit, dtype=float),
            "support_end": np.asarray(self.spell_end, dtype=float),
            "catastrophic": np.asarray(self.spell_catastrophic, dtype=bool),
            "reentry": np.asarray(self.spell_reentry, dtype=bool),
            "left_list": np.asarray(self.spell_left_list, dtype=bool),
        }

