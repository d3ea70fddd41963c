"""The Provider Improvement Programme (segment 5) and the team that supports it.

Trusts are referred (segment 4 with a low-capability board, a catastrophic failure, or an
exogenous arrival process), wait in a priority-ordered :class:`WaitingList`, and are
admitted when a place is free under the cap (and, under the ``wait`` policy, when the
national team has room for the first phase). A :class:`Spell` runs through the diagnostic,
improvement and exit phases in the programme, then transitional support in segment 3; a
trust may relapse and come back with a new spell.

:class:`Programme` holds the state of one replication and one handler per event, named
``on_<event>``; :mod:`sim.model.replication` schedules the events and calls the handlers.
Support is shared out by the pure :func:`~sim.model.rationing.ration_with_interim`. This
module does no I/O, keeps no state outside a :class:`Programme`, and must not import from
the layers above the model.

Design note: why trust journeys are timer callbacks, not simpy processes
------------------------------------------------------------------------
A natural simpy model gives each trust a process that ``yield``\\ s a timeout per phase.
It was measured at about 130 ms per 10-year replication, against a few milliseconds for
this design; a bare simpy event costs about 1.2 microseconds, and resuming a generator
several times that. Thousands of replications per experiment make that the difference
between seconds and minutes. So events are timed callbacks on an
:class:`~sim.model.events.EventQueue` (simpy's order, a fraction of its cost per event):

* Fixed-length phases (diagnostic, exit, transitional) end with
  :meth:`Programme.on_phase_end`. Each carries the trust's token at scheduling time; any
  change to the trust's journey bumps the token, so a superseded timer (for example,
  transitional support cut short by a relapse) does nothing when it fires, and nothing has
  to be cancelled.
* Every trust in the improvement phase progresses at the same rate, ``dose ** elasticity``,
  because support is rationed in proportion to need across trusts. So progress is kept on
  one shared "progress clock" and each trust finishes when the clock reaches its own
  threshold (a heap). A change of support rate then reschedules a single timer
  (:meth:`Programme.on_improvement_due`), not one per trust, which keeps a replication to a
  few hundred events. Timers carry a version number, so a rescheduled one is a no-op.
* Support demand, capacity and delivery are piecewise constant between events. The state
  is logged at each change (a row of :data:`~sim.model.timeline.LOG_FIELDS`) and handed
  over as a :class:`~sim.model.timeline.Timeline`, which gives figures for any periods
  with array operations after the run.
* Support is a function of the counts in each phase (demand never kept by adding and
  subtracting, so it cannot drift), worked out once per caseload while the era and WTE
  stay the same: a replication passes through a few dozen caseloads, many times each.

Random numbers: each (trust, spell) has its own pre-drawn uniforms per purpose, turned into
durations by inverse CDFs, so a trust's k-th spell has the same draws whatever the queue
does.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from sim.model.events import EventQueue
from sim.model.inputs import EraSettings, ProgrammeInputs
from sim.model.population import Population
from sim.model.rationing import demand_hours, improvement_rate, ration_with_interim
from sim.model.routes import draw_route_uniforms, score_linked_referrals, system_referrals
from sim.model.spells import Spell, spell_arrays, spell_event_times
from sim.model.timeline import NATIONAL, CostRates, Timeline
from sim.model.waiting_list import WaitingList
from sim.streams import Streams
from sim.vocabulary import EXIT_SEGMENT, PHASES, ROUTES, Phase, ShortfallPolicy

# Plain ints on the hot path: an IntEnum member costs a conversion at every list index and
# comparison, and these are used hundreds of times per replication.
DIAGNOSTIC, IMPROVEMENT, EXIT, TRANSITIONAL = (int(phase) for phase in Phase)
WAITING = len(Phase)
"""Status of a trust on the waiting list (after the phases, so it indexes nothing)."""
NOT_REFERRED = -1
"""Status of a trust neither waiting, in the programme nor in transitional support."""
IN_PROGRAMME = (DIAGNOSTIC, IMPROVEMENT, EXIT)
POLICY_WAIT = int(ShortfallPolicy.WAIT)
SPELLS_PER_TRUST = 8
"""Pre-drawn spells per trust; further spells draw from an overflow stream."""
CLOCK_TOLERANCE = 1e-9
"""Progress (weeks of work) within which an improvement threshold counts as reached."""
INITIAL, SEGMENT, QUALITY, FINANCE, CATASTROPHIC, SYSTEM, RELAPSE, ARRIVAL = range(len(ROUTES))
DURATION_PURPOSES = tuple(f"{name}_duration" for name in PHASES)  # streams per phase, built once
OVERFLOW_PURPOSES = tuple(f"overflow_{phase}" for phase in range(len(PHASES)))


# --------------------------------------------------------------------------- programme


class Programme:
    """State and event handlers of the programme in one replication."""

    def __init__(
        self,
        clock: EventQueue,
        inputs: ProgrammeInputs,
        population: Population,
        streams: Streams,
    ):
        self.clock = clock
        """The events: ``clock.now`` is the time, ``clock.schedule(delay, action, *args)``."""
        self.inputs = inputs
        self.population = population
        n = population.inputs.n_trusts

        # per trust (lists: scalar access is on the hot path)
        self.status = [NOT_REFERRED] * n
        """A phase, WAITING or NOT_REFERRED."""
        self.referred = np.zeros(n, dtype=bool)
        """Waiting, in the programme or in transitional support: not referable by segment."""
        self.spell_of: list[Spell | None] = [None] * n
        """The trust's latest spell (current while it is referred)."""
        self.draw_index = [0] * n
        """Which pre-drawn spell's uniforms the trust's next phases use: spells completed
        through transitional support (leaving the list unadmitted uses no draws)."""
        self.token = [0] * n
        """Bumped at every change of a trust's journey; a timer with an older one is stale."""

        self._streams = streams
        self._spell_u: dict[str, np.ndarray] = {}
        """Uniforms per (trust, spell) by purpose (phase durations, relapse): :meth:`_uniforms`."""

        self.era: EraSettings = inputs.eras[0]
        """The programme settings in force."""
        self._route_u = draw_route_uniforms(
            inputs, streams, population.inputs.n_assessments, population.inputs.register
        )
        self._system_of = (
            population.inputs.register.systems() if inputs.uses_route("system") else None
        )

        self.caseload = [0] * len(Phase)
        """Trusts in each phase."""
        self.waiting_list = WaitingList(inputs.priority)
        self._segment_referrals: set[int] = set()
        """Waiting trusts referred by their segment: they may leave the list if a later
        assessment finds them no longer eligible (when the scenario says so)."""
        self.spell_records: list[Spell] = []
        """Every spell, in order of referral (see :meth:`spells` for them as arrays)."""

        # shared improvement progress clock (see module docstring); progress in weeks of
        # work at full support
        self._progress = 0.0
        self._rate = 1.0
        self._clock_time = 0.0
        self._finish_heap: list[tuple[float, int, int]] = []
        """(progress at which the trust finishes improvement, its token, trust)."""
        self._timer_version = 0
        self._timer_key: tuple[float, float] | None = None
        """(next threshold, rate) the pending improvement timer was set for."""

        self._wte_in_post = float(inputs.national_wte[0])
        self._refers_from_segments = inputs.referral_mode == "segments"
        self._has_eras = len(inputs.eras) > 1

        self._dose = math.nan  # the dose ``_rate`` was computed for
        self._support_of: dict[tuple[int, ...], tuple[tuple, float]] = {}
        """(support, dose) by caseload under the era and WTE in force."""
        self.support: tuple = ()
        """Support in force since the last change, the columns of
        :data:`~sim.model.timeline.SUPPORT_FIELDS` (set by :meth:`_changed`)."""
        self.log: list[tuple] = []
        """State after each change: ``(time, *caseload, waiting, cap, *support)``, the columns
        of :data:`~sim.model.timeline.LOG_FIELDS` (plain tuples: cheap to build)."""

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
            # the lowest rule segment (4 under NOF, 3 under SOF) or worse first
            not_lowest = population.segment[members] < population.programme_segment - 1
            order = np.lexsort((-population.score[members], not_lowest))
            picked = members[order[:count]]
            chosen[picked] = True
            return picked

        for table, count, phase, in_phase, in_programme, route in self.inputs.initial_in_programme:
            trusts = pick(table, count)
            # remaining durations, conditional on the time already spent in the phase
            uniforms = self._uniforms(DURATION_PURPOSES[phase])[trusts, 0]
            remaining = self.era.durations[phase].remaining_given_elapsed(uniforms, in_phase)
            for trust, duration in zip(trusts.tolist(), remaining.tolist(), strict=True):
                self._open_spell(trust, -in_programme, False, listed=False, route=route)
                self._admit(trust, admission_time=-in_programme, phase=phase, duration=duration)
        for table, count, waited in self.inputs.initial_waiting:
            for trust in pick(table, count):
                self._join_waiting_list(int(trust), -waited, False, INITIAL, by_segment=True)
        self._try_admit()
        self._changed()

    # ------------------------------------------------------------------ events

    def on_assessment(self) -> None:
        """After a quarterly assessment (the population has been re-segmented): end the
        spells of merged trusts, then refer by each entry route of the era: the lowest
        segment with a low-capability board, then the quality, finance and system routes."""
        # An era starting at this instant is in force at the assessment held then (eras
        # often start on a quarter's first day); its own event, scheduled after the
        # assessments, comes later at the same time.
        if self._has_eras:
            index = int(np.searchsorted(self.inputs.era_weeks, self.clock.now, side="right")) - 1
            if self.inputs.eras[index] is not self.era:
                self._set_era(index)
        population, era = self.population, self.era
        merged = len(population.merged_now)
        if merged:
            self._merged(population.merged_now)
        if not self._refers_from_segments:
            if merged:
                self._try_admit()
                self._changed()
            return
        i = population.step - 1  # the assessment just made
        eligible = population.segment == population.programme_segment - 1
        eligible &= population.low_capability
        # the era in force decides: a later era may say referrals, once made, stand
        leaving = self._segment_referrals and era.leave_list_when_ineligible
        left = self._leave_list_if_ineligible(eligible) if leaving else 0
        referred = 0
        if era.lowest_segment_share > 0:
            chosen = np.greater(eligible, self.referred)  # eligible and not referred
            if era.lowest_segment_share < 1:
                chosen &= self._route_u["segment"][i] < era.lowest_segment_share
            referred += self._refer_all(chosen.nonzero()[0], SEGMENT)
        if era.quality is not None:  # each route only when on (usually off)
            referred += self._refer_all(self._score_linked("quality", i, *era.quality), QUALITY)
        if era.finance is not None:  # among trusts in deficit
            chosen = self._score_linked("finance", i, *era.finance, population.deficit)
            referred += self._refer_all(chosen, FINANCE)
        if era.system is not None:
            referred += self._refer_systems(i, *era.system)
        if self._try_admit() or merged:
            self._changed()
        elif referred or left:
            self._record()  # only the waiting list changed: support is as it was

    def _refer_all(self, trusts: np.ndarray, route: int) -> int:
        for trust in trusts.tolist():  # positional arguments: cheaper than keywords
            self._refer(trust, False, route == SEGMENT, route)  # not catastrophic
        return len(trusts)

    def _score_linked(
        self, route: str, i: int, rate: float, gradient: float, pool: np.ndarray | None = None
    ) -> np.ndarray:
        """Trusts referred by a score-linked route at assessment ``i``; ``pool`` limits who
        can be (trusts in deficit for the finance route)."""
        population = self.population
        available = ~self.referred if pool is None else ~self.referred & pool
        z = population.standardised_score(population.step)
        return score_linked_referrals(self._route_u[route][i], z, rate, gradient, available)

    def _refer_systems(self, i: int, rate: float, from_segment: int) -> int:
        """Whole systems entering together at assessment ``i``."""
        candidates = (self.population.segment >= from_segment) & ~self.referred
        groups = system_referrals(self._route_u["system"][i], rate, candidates, self._system_of)
        return sum(self._refer_all(trusts, SYSTEM) for trusts in groups)

    def _merged(self, trusts: np.ndarray) -> None:
        """Trusts merged into others: their spells end now, whatever their status, and
        they are never referred again (``referred`` stays set)."""
        now = self.clock.now
        for trust in trusts.tolist():
            status, spell = self.status[trust], self.spell_of[trust]
            if status == WAITING:
                self.waiting_list.remove({trust})
                self._segment_referrals.discard(trust)
                spell.left_list = True
            elif status in IN_PROGRAMME:
                self.caseload[status] -= 1
            elif status == TRANSITIONAL:
                self.caseload[TRANSITIONAL] -= 1
            if status != NOT_REFERRED:
                spell.support_end = now
                spell.merged = True
            self.status[trust] = NOT_REFERRED
            self.token[trust] += 1  # its timers are stale
            self.referred[trust] = True

    def on_era_change(self, index: int) -> None:
        """New programme settings take effect (a scheduled era)."""
        self._set_era(index)
        self._try_admit()
        self._changed()

    def _set_era(self, index: int) -> None:
        self.era = self.inputs.eras[index]
        self._dose = math.nan  # the elasticity may have changed: recompute the rate
        self._support_of.clear()  # and the hours and blend

    def on_catastrophic_failure(self, trust: int) -> None:
        """A catastrophic failure of governance: refer the trust at once, first in line
        (when the era's rules say so and the trust has not merged away)."""
        if not self.era.catastrophic_refers or not self.population.active[trust]:
            return
        self._refer(trust, catastrophic=True, route=CATASTROPHIC)
        self._try_admit()
        self._changed()

    def on_arrival(self, u: float) -> None:
        """Exogenous referral: a trust chosen (by uniform ``u``) among those not referred."""
        available = np.flatnonzero(~self.referred)
        if len(available):
            trust = int(available[min(int(u * len(available)), len(available) - 1)])
            self._refer(trust, route=ARRIVAL)
        self._try_admit()
        self._changed()

    def on_wte_change(self, wte_in_post: float) -> None:
        """The national team's WTE in post changes (a scheduled step)."""
        self._wte_in_post = wte_in_post
        self._support_of.clear()
        self._try_admit()
        self._changed()

    def on_phase_end(self, trust: int, token: int) -> None:
        """A fixed-length phase (diagnostic, exit, transitional) of ``trust`` ends."""
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
                self._join_waiting_list(trust, self.clock.now, False, RELAPSE)
            self._try_admit()  # the lighter load may let a waiting trust in (policy wait)
        self._changed()

    def on_improvement_due(self, version: int) -> None:
        """The progress clock reaches the next improvement threshold: those trusts move to
        the exit phase."""
        if version != self._timer_version:
            return  # rescheduled since
        self._advance_clock()
        self._timer_key = None
        heap = self._finish_heap
        while heap and heap[0][0] <= self._progress + CLOCK_TOLERANCE:
            _, token, trust = heapq.heappop(heap)
            if token == self.token[trust] and self.status[trust] == IMPROVEMENT:
                self._start_phase(trust, EXIT)
        self._changed()

    # ----------------------------------------------------------------- referral

    def _refer(
        self, trust: int, catastrophic: bool = False, by_segment: bool = False, route: int = SEGMENT
    ) -> None:
        """Refer a trust; does nothing if it is already waiting or in the programme.

        ``by_segment``: the referral comes from the trust's segment and capability at an
        assessment (rather than a catastrophic failure, a relapse or an arrival process)."""
        status = self.status[trust]
        if status in IN_PROGRAMME:
            return
        if status == WAITING:
            if catastrophic:  # a catastrophic failure moves a waiting trust up the list
                self.waiting_list.promote(trust)
                self.spell_of[trust].catastrophic = True
                self._segment_referrals.discard(trust)
            return
        if status == TRANSITIONAL:
            self._end_transition(trust)
        self._join_waiting_list(trust, self.clock.now, catastrophic, route, by_segment)

    def _join_waiting_list(
        self, trust: int, when: float, catastrophic: bool, route: int, by_segment: bool = False
    ) -> None:
        self._open_spell(trust, when, catastrophic, True, route)  # listed
        if by_segment and self.era.leave_list_when_ineligible:
            self._segment_referrals.add(trust)
        self.status[trust] = WAITING
        self.referred[trust] = True
        self.waiting_list.join(trust, catastrophic, float(self.population.score[trust]), when)

    def _open_spell(
        self, trust: int, when: float, catastrophic: bool, listed: bool, route: int
    ) -> None:
        previous = self.spell_of[trust]
        # a re-entry if the trust has exited before: in its last spell or, by induction,
        # in an earlier one (a spell that left the list unadmitted did not exit)
        # (exit == exit: it is not NaN, cheaper than the ``exited`` property)
        reentry = previous is not None and (previous.reentry or previous.exit == previous.exit)
        spell = Spell(trust, when, catastrophic, reentry, listed, route)
        self.spell_of[trust] = spell
        self.spell_records.append(spell)

    def _leave_list_if_ineligible(self, eligible: np.ndarray) -> int:
        """Take off the waiting list every segment referral no longer ``eligible``;
        returns how many left. Their spells end now, never admitted."""
        leaving = {t for t in self._segment_referrals if not eligible[t]}
        if not leaving:
            return 0
        self.waiting_list.remove(leaving)
        now = self.clock.now
        for trust in leaving:
            self._segment_referrals.discard(trust)
            spell = self.spell_of[trust]
            spell.support_end = now
            spell.left_list = True
            self.status[trust] = NOT_REFERRED
            self.referred[trust] = False
        return len(leaving)

    # ---------------------------------------------------------------- admission

    def _try_admit(self) -> int:
        """Admit from the waiting list while places (and, under ``wait``, national-team
        hours) allow. Returns the number admitted."""
        inputs, caseload, waiting_list = self.inputs, self.caseload, self.waiting_list
        cap = self.era.cap
        admitted = 0
        # the cap first: the list is rarely empty, the programme often full
        while caseload[0] + caseload[1] + caseload[2] < cap and waiting_list:
            if inputs.policy == POLICY_WAIT:
                hours = self.era.phase_hours
                needed = demand_hours(caseload, hours)[NATIONAL] + hours[DIAGNOSTIC][NATIONAL]
                if needed > self._wte_in_post * inputs.hours_per_wte_week + 1e-9:
                    break
            trust = waiting_list.pop()
            self._segment_referrals.discard(trust)
            self._admit(trust, admission_time=self.clock.now, phase=DIAGNOSTIC)
            admitted += 1
        return admitted

    def _admit(
        self, trust: int, admission_time: float, phase: int, duration: float | None = None
    ) -> None:
        spell = self.spell_of[trust]
        spell.admission = admission_time
        spell.target_exit = admission_time + self.era.target_weeks
        self.referred[trust] = True
        self.population.enter_programme(trust)
        self._start_phase(trust, phase, duration)

    # ------------------------------------------------------------------- phases

    def _uniforms(self, purpose: str) -> np.ndarray:
        """(trusts, spells) uniforms of a purpose, drawn on first use (fixed phases: never)."""
        uniforms = self._spell_u.get(purpose)
        if uniforms is None:
            shape = (len(self.status), SPELLS_PER_TRUST)
            uniforms = self._spell_u[purpose] = self._streams[purpose].random(shape)
        return uniforms

    def _draw(self, phase: int, trust: int) -> float:
        """Duration (improvement: work) of the trust's current spell's phase, in weeks."""
        distribution = self.era.durations[phase]
        if distribution.kind == "fixed":
            return distribution.a
        k = self.draw_index[trust]
        if k < SPELLS_PER_TRUST:
            u = self._uniforms(DURATION_PURPOSES[phase]).item(trust, k)  # a Python float
        else:
            u = float(self._streams[OVERFLOW_PURPOSES[phase]].random())
        return distribution.quantile(u)

    def _start_phase(self, trust: int, phase: int, duration: float | None = None) -> None:
        """Move ``trust`` into ``phase``; ``duration`` (weeks; improvement: work) is drawn
        for the trust's current spell unless given."""
        status, caseload, tokens = self.status, self.caseload, self.token  # local aliases: hot
        previous = status[trust]
        if 0 <= previous <= TRANSITIONAL:
            caseload[previous] -= 1
        status[trust] = phase
        caseload[phase] += 1
        token = tokens[trust] = tokens[trust] + 1
        if duration is None:
            duration = self._draw(phase, trust)
        if phase == IMPROVEMENT:
            self._advance_clock()
            heapq.heappush(self._finish_heap, (self._progress + duration, token, trust))
        else:
            self.clock.schedule(duration, self.on_phase_end, trust, token)

    def _relapses(self, trust: int) -> bool:
        probability = self.era.relapse_probability
        k = self.draw_index[trust] - 1  # the spell that has just ended
        if k >= SPELLS_PER_TRUST:
            return bool(self._streams["overflow_relapse"].random() < probability)
        if probability <= 0.0:
            return False  # no uniform is below 0: none need be drawn
        return self._uniforms("relapse").item(trust, k) < probability

    def _leave(self, trust: int) -> None:
        """Exit criteria met and exit complete: move to segment 3 with transitional support."""
        self.spell_of[trust].exit = self.clock.now
        self.population.leave_programme(
            trust, hold_segment=EXIT_SEGMENT, score_gain=self.era.exit_score_gain
        )
        self._start_phase(trust, TRANSITIONAL)

    def _end_transition(self, trust: int) -> None:
        self.caseload[TRANSITIONAL] -= 1
        self.status[trust] = NOT_REFERRED
        self.referred[trust] = False
        self.token[trust] += 1
        self.spell_of[trust].support_end = self.clock.now
        self.draw_index[trust] += 1
        self.population.release_hold(trust)

    # ------------------------------------------------- support and progress clock

    def _advance_clock(self) -> None:
        now = self.clock.now
        if now > self._clock_time:
            self._progress += self._rate * (now - self._clock_time)
            self._clock_time = now

    def _changed(self) -> None:
        """Recompute support and the improvement rate after any change; log the state."""
        self._advance_clock()
        caseload = tuple(self.caseload)
        known = self._support_of.get(caseload)
        if known is None:
            known = self._support_of[caseload] = self._support()
        self.support, dose = known
        if dose != self._dose:  # usually unchanged (full support): skip the power
            self._dose = dose
            self._rate = improvement_rate(dose, self.era.elasticity)
        self._record()
        self._reschedule_improvement()

    def _support(self) -> tuple[tuple, float]:
        """Support for the caseload (:data:`~sim.model.timeline.SUPPORT_FIELDS`), dose."""
        inputs, wte = self.inputs, self._wte_in_post
        demand = demand_hours(self.caseload, self.era.phase_hours)
        capacity = (wte * inputs.hours_per_wte_week, inputs.family_hours_per_week,
                    inputs.consultancy_hours_per_week)  # fmt: skip
        delivered, bought, interim, _, dose = ration_with_interim(
            demand, capacity, inputs.interim_hours_per_week, inputs.policy,
            self.era.improvement_weights,
        )  # fmt: skip
        return (*demand, *capacity, *delivered, bought, interim, wte, dose), dose

    def _record(self) -> None:
        """Log the current state (a row of LOG_FIELDS)."""
        self.log.append(
            (self.clock.now, *self.caseload, len(self.waiting_list), self.era.cap, *self.support)
        )

    def _reschedule_improvement(self) -> None:
        """Keep one timer for the next improvement completion on the progress clock."""
        heap, rate = self._finish_heap, self._rate
        if not heap or rate <= 0:
            self._timer_key = None
            self._timer_version += 1
            return
        key = (heap[0][0], rate)
        if key == self._timer_key:
            return  # same trust next, same speed: the pending timer is still right
        self._timer_key = key
        self._timer_version += 1
        delay = max((heap[0][0] - self._progress) / rate, 0.0)
        self.clock.schedule(delay, self.on_improvement_due, self._timer_version)

    # ------------------------------------------------------------------ outputs

    def timeline(self, horizon_weeks: float) -> Timeline:
        """The state log and event times, for figures over any periods."""
        inputs = self.inputs
        return Timeline.from_rows(
            self.log,
            spell_event_times(self.spell_records),
            horizon_weeks,
            prices=CostRates(
                cost_per_wte_week=inputs.cost_per_wte_week,
                family_cost_per_hour=inputs.family_cost_per_hour,
                consultancy_cost_per_hour=inputs.consultancy_cost_per_hour,
                interim_cost_per_hour=inputs.interim_cost_per_hour,
                trust_share=tuple(inputs.trust_share),
                price_base_year=inputs.price_base_year,
                inflation_per_year=inputs.inflation_per_year,
            ),
            director_wte_per_trust=inputs.director_wte_per_trust,
        )

    def spells(self) -> dict[str, np.ndarray]:
        """One row per referral: trust, times (weeks; NaN if not reached) and flags.

        ``target_exit`` is the planned exit date (admission plus the target duration of the
        era of admission); exits after it are late (slippage). ``route`` indexes
        :data:`~sim.vocabulary.ROUTES`; ``merged`` marks spells ended by a merger.
        """
        return spell_arrays(self.spell_records)
