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
  is logged at each change and turned into weekly figures with array operations after the
  run (:meth:`Programme.weekly`).

Random numbers: each (trust, spell) has its own pre-drawn uniforms per purpose, turned into
durations by inverse CDFs, so a trust's k-th spell has the same draws whatever the queue
does.
"""

from __future__ import annotations

import heapq
import itertools
import math

import numpy as np
import simpy

from sim.model.inputs import ProgrammeInputs
from sim.model.population import Population
from sim.streams import Streams

DIAGNOSTIC, IMPROVEMENT, EXIT, TRANSITIONAL = 0, 1, 2, 3
WAITING = 4
NOT_REFERRED = -1
IN_PROGRAMME = (DIAGNOSTIC, IMPROVEMENT, EXIT)
NATIONAL, FAMILY, CONSULTANCY = 0, 1, 2
POLICY_WAIT, POLICY_DILUTE, POLICY_BUY = 0, 1, 2
SPELLS_PER_TRUST = 8
"""Pre-drawn spells per trust; further spells draw from an overflow stream."""
LOG_FIELDS = (
    "time", "diagnostic", "improvement", "exit", "transitional", "waiting",
    "demand_national", "demand_nhs_family", "demand_consultancy",
    "capacity_national", "capacity_nhs_family", "capacity_consultancy",
    "delivered_national", "delivered_nhs_family", "delivered_consultancy",
    "bought_hours", "national_wte_in_post", "dose",
)  # fmt: skip


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
        self._sequence = 0

        # shared improvement progress clock (see module docstring)
        self._progress = 0.0
        self._rate = 1.0
        self._clock_time = 0.0
        self._heap: list[tuple[float, int, int]] = []
        self._timer_version = 0
        self._timer_key: tuple[float, float] | None = None

        self._wte_in_post = float(inputs.national_wte[0])
        self._demand_now = [0.0, 0.0, 0.0]
        """Support hours per week asked of each source by the current caseload, kept up
        to date as trusts change phase."""
        improvement = inputs.phase_hours[IMPROVEMENT]
        total = sum(improvement)
        self._improvement_weights = (
            tuple(h / total for h in improvement) if total > 0 else (1 / 3, 1 / 3, 1 / 3)
        )
        self._dose = 1.0

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
                self._join_waiting_list(int(trust), -waited, catastrophic=False)
        self._try_admit()
        self._changed()

    # ----------------------------------------------------------------- referral

    def refer(self, trust: int, catastrophic: bool = False) -> None:
        """Refer a trust; does nothing if it is already waiting or in the programme."""
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
            return
        if status == TRANSITIONAL:
            self._end_transition(trust)
        self._join_waiting_list(trust, self.env.now, catastrophic)

    def _join_waiting_list(self, trust: int, when: float, catastrophic: bool) -> None:
        self._open_spell(trust, when, catastrophic)
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

    def refer_from_segments(self) -> None:
        """After an assessment: refer every trust in segment 4 whose board is low capability."""
        population = self.population
        eligible = (population.segment == 4) & population.low_capability & ~self.referred
        trusts = np.flatnonzero(eligible)
        for trust in trusts.tolist():
            self.refer(trust)
        if self._try_admit():
            self._changed()
        elif len(trusts):
            self._log_waiting()  # only the waiting list changed: support is as it was

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
                needed = self._demand_now[NATIONAL] + p.phase_hours[DIAGNOSTIC][NATIONAL]
                if needed > self._national_capacity() + 1e-9:
                    break
            _, trust = heapq.heappop(self.waiting)
            del self._waiting_entry[trust]
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
        demand, hours = self._demand_now, self.p.phase_hours
        if 0 <= previous <= TRANSITIONAL:
            self.counts[previous] -= 1
            old = hours[previous]
            demand[0] -= old[0]
            demand[1] -= old[1]
            demand[2] -= old[2]
        new = hours[phase]
        demand[0] += new[0]
        demand[1] += new[1]
        demand[2] += new[2]
        if not any(self.counts):  # no drift from repeated += and -=: empty means zero
            demand[:] = [0.0, 0.0, 0.0]
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
        self.population.leave_programme(trust, hold_segment=3, score_gain=self.p.exit_score_gain)
        self._start_phase(trust, TRANSITIONAL)

    def _end_transition(self, trust: int) -> None:
        self.counts[TRANSITIONAL] -= 1
        hours, demand = self.p.phase_hours[TRANSITIONAL], self._demand_now
        demand[0] -= hours[0]
        demand[1] -= hours[1]
        demand[2] -= hours[2]
        if not any(self.counts):
            demand[:] = [0.0, 0.0, 0.0]
        self.status[trust] = NOT_REFERRED
        self.referred[trust] = False
        self.token[trust] += 1
        self.spell_end[self.current_spell[trust]] = self.env.now
        self.spell_number[trust] += 1
        self.population.release_hold(trust)

    # ------------------------------------------------- support and progress clock

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
        demand_n, demand_f, demand_c = self._demand_now
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
        self._dose = dose
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

    def weekly(self, horizon_weeks: float) -> dict[str, np.ndarray]:
        """Weekly series from the state log. Week w covers [w, w + 1) weeks since the start.

        Stocks are taken at each week's end; hours and costs are integrated over the week.
        """
        p = self.p
        log = np.fromiter(
            itertools.chain.from_iterable(self.log),
            dtype=float,
            count=len(self.log) * len(LOG_FIELDS),
        ).reshape(len(self.log), len(LOG_FIELDS))
        times = log[:, 0]
        n_weeks = math.ceil(horizon_weeks - 1e-9)
        edges = np.minimum(np.arange(n_weeks + 1, dtype=float), horizon_weeks)
        ends = edges[1:]
        # last log row strictly before each week's end: an event exactly at w + 1 belongs
        # to week w + 1, as it does in the flow counts
        at_end = np.searchsorted(times, ends, side="left") - 1

        def integrate(rates: np.ndarray) -> np.ndarray:
            """Integral over each week of piecewise-constant rates (per week)."""
            durations = np.diff(np.append(times, max(horizon_weeks, times[-1])))
            cumulative = np.vstack(
                [np.zeros((1, rates.shape[1])), np.cumsum(rates * durations[:, None], axis=0)]
            )
            row = np.searchsorted(times, edges, side="right") - 1
            row = np.maximum(row, 0)
            at_edges = cumulative[row] + rates[row] * (edges - times[row])[:, None]
            return np.diff(at_edges, axis=0)

        columns = {name: i for i, name in enumerate(LOG_FIELDS)}

        # demand (3), capacity (3), delivered (3), bought, WTE in post: adjacent in the log
        first, last = columns["demand_national"], columns["national_wte_in_post"]
        hours = integrate(log[:, first : last + 1])
        demand, capacity, delivered = hours[:, 0:3], hours[:, 3:6], hours[:, 6:9]
        bought, wte_weeks = hours[:, 9], hours[:, 10]
        cost = np.column_stack(
            [
                wte_weeks * p.cost_per_wte_week,
                delivered[:, FAMILY] * p.family_cost_per_hour,
                delivered[:, CONSULTANCY] * p.consultancy_cost_per_hour,
            ]
        )
        trust_share = np.asarray(p.trust_share)
        paid_by_trusts = cost @ trust_share
        # shortfall: demand not met by the source itself or by bought consultancy
        met = delivered.copy()
        met[:, CONSULTANCY] -= bought
        met[:, NATIONAL] += bought
        return {
            "caseload": log[at_end][
                :, [columns[n] for n in ("diagnostic", "improvement", "exit", "transitional")]
            ].astype(np.int32),
            "waiting": log[at_end, columns["waiting"]].astype(np.int32),
            "referrals": _count_per_week(self.referral_times, n_weeks),
            "admissions": _count_per_week(self.admission_times, n_weeks),
            "exits": _count_per_week(self.exit_times, n_weeks),
            "reentries": _count_per_week(self.reentry_times, n_weeks),
            "demand_hours": demand,
            "capacity_hours": capacity,
            "delivered_hours": delivered,
            "shortfall_hours": np.maximum(demand - met, 0.0),
            "bought_hours": bought,
            "national_wte": log[at_end, columns["national_wte_in_post"]],
            "dose": log[at_end, columns["dose"]],
            "cost_by_source": cost,
            "cost_by_payer": np.column_stack([paid_by_trusts, cost.sum(axis=1) - paid_by_trusts]),
        }

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
        }


def _count_per_week(times: list[float], n_weeks: int) -> np.ndarray:
    weeks = np.floor(np.asarray(times, dtype=float))
    weeks = weeks[(weeks >= 0) & (weeks < n_weeks)].astype(np.int64)
    return np.bincount(weeks, minlength=n_weeks).astype(np.int32)
