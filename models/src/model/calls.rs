//! The hub's call handlers: a call's attempts start, pass their policies (bulkheads,
//! breakers, budgets, throttling, hedging), travel, time out, retry, fall back and conclude,
//! telling the calling job. Part of the hub: these handlers schedule events and call the job
//! handlers in `jobs.rs`, which call back.

use super::lanes::Head;
use super::records::*;
use super::{sample_opt, Event, Halt, Kind, Overload, ServiceModel, PICKED, TRAVELLING};
use crate::dist::Dist;
use crate::metrics::SeriesSink;
use crate::outcome::Outcome;
use crate::spec::Wait;
use crate::tier::Tier;
use cellsim_sim::{EventQueue, Handle, Nanos, Slab};

/// Nobody waits for a call of job `parent` any more: the job has replied (failed on another
/// critical call, or timed out upstream), and the call is not fire-and-forget (whose copies
/// and retries go on without a caller).
#[inline]
pub(super) fn nobody_waits(jobs: &Slab<Job>, parent: Handle, wait: Wait) -> bool {
    parent != Handle::NONE && wait != Wait::Never && jobs.get(parent).is_none()
}

/// How deep copies of calls repeated in sequence may nest when each is answered at once (see
/// `send_repeat`).
const MAX_REPEAT_NESTING: u32 = 16;

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// Sends attempt `attempt` of `call_h` (already marked waiting by the caller, which
    /// passes what it knows of the call so that the record is not read back).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_attempt(
        &mut self,
        call_h: Handle,
        spec: u32,
        type_id: u16,
        attempt: u32,
        plain: bool,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let cs = &self.spec.calls[spec as usize];
        let timeout_at = if cs.timeout_ns > 0 { now + cs.timeout_ns } else { Nanos::MAX };
        let call_deadline = if !(T::POLICIES && T::EXTRAS) || plain {
            Nanos::MAX
        } else {
            self.exts[call_h.index as usize].deadline_ns
        };
        let deadline = timeout_at.min(call_deadline);
        if deadline <= now {
            // The call's own deadline has passed: the attempt is not sent.
            if T::POLICIES && !plain {
                self.exts[call_h.index as usize].attempt_started_ns = UNSENT;
            }
            let event = Event { kind: Kind::Reply, outcome: Outcome::Timeout, arg: attempt, handle: call_h };
            return self.after(0, event, now, q);
        }
        let mut waits = false;
        if T::POLICIES && !plain && self.call_rt[spec as usize].gated_only {
            // What `policies_permit` does without a bulkhead, throttling or hedging.
            let ext = &mut self.exts[call_h.index as usize];
            ext.attempt_deadline_ns = deadline;
            ext.attempt_started_ns = now;
            if !self.gate(call_h, attempt, now, q) {
                let event = Event { kind: Kind::Reply, outcome: Outcome::Refused, arg: attempt, handle: call_h };
                return self.after(0, event, now, q);
            }
        } else if T::POLICIES && !plain {
            self.exts[call_h.index as usize].attempt_deadline_ns = deadline;
            match self.policies_permit(call_h, spec, attempt, now, q) {
                Permit::Send => {}
                Permit::Wait => waits = true,
                Permit::Refuse => {
                    // Refused by the caller's own policies: the attempt ends at once, unsent.
                    let event = Event { kind: Kind::Reply, outcome: Outcome::Refused, arg: attempt, handle: call_h };
                    return self.after(0, event, now, q);
                }
            }
        }
        // The caller waits through the deadline's instant: an answer arriving exactly then is
        // in time, whatever order the two events were scheduled in. The timeout fires 1 ns
        // later.
        let cs = &self.spec.calls[spec as usize];
        if deadline < timeout_at {
            // Capped by the call's deadline: not in order with the lane's entries.
            q.schedule_at(deadline + 1, Event::new(Kind::AttemptDeadline, call_h, attempt));
        } else if cs.timeout_ns > 0 {
            // Deadlines only grow along a lane, so a new entry is the head only if the lane was
            // empty; arming for any other entry would delay the head's timeout.
            let lane = &mut self.lanes[spec as usize];
            if lane.push(timeout_at + 1, call_h, attempt) {
                lane.arm(timeout_at + 1);
                q.schedule_at(timeout_at + 1, Event::new(Kind::TimeoutLane, Handle::NONE, spec));
            }
        }
        if waits {
            return Ok(()); // sent when a bulkhead permit frees, or refused after max_wait
        }
        self.send(call_h, spec, type_id, attempt, deadline, now, q)
    }

    /// The caller of `call_h` resolves `service`'s name for attempt `attempt`: `None`, the
    /// attempt goes; else it has ended (lost: the caller's timeout ends the wait; refused:
    /// `error` at once).
    fn unreachable(
        &mut self,
        call_h: Handle,
        spec: u32,
        service: u32,
        attempt: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Option<Result<(), Halt>> {
        match self.resolve_name(call_h, spec, service, now) {
            super::names::Reach::Go => None,
            super::names::Reach::Lost => Some(Ok(())),
            super::names::Reach::Refused => {
                let event = Event { kind: Kind::Reply, outcome: Outcome::Error, arg: attempt, handle: call_h };
                Some(self.after(0, event, now, q))
            }
        }
    }

    /// Puts attempt `attempt` of `call_h` on the network (or straight into its callee).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn send(
        &mut self,
        call_h: Handle,
        spec: u32,
        type_id: u16,
        attempt: u32,
        deadline: Nanos,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        // The caller resolves the callee's name first (a router's call, its cell's: in
        // `send_placed`, once the cell is chosen).
        if T::EXTRAS && self.names.is_some() && self.spec.calls[spec as usize].route.is_none() {
            if let Some(done) = self.unreachable(call_h, spec, self.spec.calls[spec as usize].to, attempt, now, q) {
                return done;
            }
        }
        if T::POLICIES && self.topo.is_some() {
            return self.send_placed(call_h, spec, type_id, attempt, deadline, now, q);
        }
        let cs = &self.spec.calls[spec as usize];
        let latency = sample_opt(&cs.latency, &mut self.call_rt[spec as usize].network_rng);
        let deadline_ns = if T::EXTRAS && cs.propagate_deadline { deadline } else { Nanos::MAX };
        // The customer, when a balancer shards by it.
        let customer =
            if T::POLICIES && self.tracks_customers { self.calls.get(call_h).map_or(0, |c| c.customer) } else { 0 };
        let seed = JobSeed {
            call: call_h,
            attempt,
            service: cs.to,
            op: cs.op,
            type_id,
            deadline_ns,
            customer,
            instance: TRAVELLING,
        };
        // On its way, at no instance yet (or straight in).
        self.travel(seed, latency, now, q)
    }

    /// `send` in a scenario with a topology: a router's call goes to the customer's cell; the
    /// instance is picked now (in the caller's zone when cross-zone balancing is off and the
    /// service has instances there), and the network latency is the call's own, or the
    /// topology's between the caller's placement and the instance's zone.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn send_placed(
        &mut self,
        call_h: Handle,
        spec: u32,
        type_id: u16,
        attempt: u32,
        deadline: Nanos,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let (customer, parent) = match self.calls.get(call_h) {
            Some(c) => (c.customer, c.parent),
            None => unreachable!("a call being sent is live"),
        };
        let cs = &self.spec.calls[spec as usize];
        let topo = self.topo.as_mut().expect("a topology");
        let service = match cs.route {
            Some(r) => {
                let router = &mut topo.routers[r as usize];
                let (cell, through_breaker) = router.route(customer, attempt, now, &mut topo.health_changes);
                let target = router.spec().targets[cell as usize];
                topo.bound_health_changes();
                // Routed calls keep policy state (see `features::Paths`): where this went, and
                // whether the cell's breaker at the router hears how it ends.
                self.exts[call_h.index as usize].cell = cell | if through_breaker { THROUGH_BREAKER } else { 0 };
                target
            }
            None => cs.to,
        };
        if T::EXTRAS && self.names.is_some() && self.spec.calls[spec as usize].route.is_some() {
            if let Some(done) = self.unreachable(call_h, spec, service, attempt, now, q) {
                return done;
            }
        }
        let cs = &self.spec.calls[spec as usize];
        // The caller's zone matters to the latency (unless the call has its own) and to the
        // pick (when calls stay in their zone).
        let needs_zone = cs.latency.is_none() || !self.topo.as_ref().expect("a topology").cross_zone_lb;
        let from = if needs_zone { self.caller_zone(parent) } else { None };
        let deadline_ns = if cs.propagate_deadline { deadline } else { Nanos::MAX };
        let mut seed =
            JobSeed { call: call_h, attempt, service, op: cs.op, type_id, deadline_ns, customer, instance: TRAVELLING };
        let zone = match from {
            Some(Some(z)) => Some(z),
            _ => None,
        };
        let Some(local) = self.choose_instance(service, zone, customer, attempt) else {
            // No usable instance, and the service fails closed: the attempt goes as far as the
            // balancer (in the caller's zone), which refuses it there.
            let latency = self.placed_latency_to_zone(spec, from);
            return self.travel(seed, latency, now, q);
        };
        let inst = self.services[service as usize].first_instance + local;
        seed.instance = inst | PICKED;
        let mut latency = self.placed_latency(spec, from, inst);
        if T::EXTRAS && self.faults.links_act() {
            // A link fault between the caller's instance and this one: lost, or later.
            if let Some(caller) = self.jobs.get(parent).map(|j| j.instance & !PICKED) {
                match self.faults.link(caller, inst, &self.spec.calls[spec as usize].request_bytes, now) {
                    Some(extra) => latency = latency.saturating_add(extra),
                    None => return Ok(()), // nothing arrives: the caller's timeout ends the wait
                }
            }
        }
        self.travel(seed, latency, now, q)
    }

    /// The instance (within `service`) that a call from `zone` (`None`: a client) goes to,
    /// chosen as the attempt is sent: among the instances in that zone when cross-zone
    /// balancing is off and some there are usable, else among all; `None` when none is usable
    /// and the service fails closed. Whether it is down is found on arrival.
    fn choose_instance(&mut self, service: u32, zone: Option<u16>, customer: u32, attempt: u32) -> Option<u32> {
        let rt = &mut self.services[service as usize];
        let fleet_spec = &self.spec.services[service as usize].fleet;
        if let Some(fleet) =
            rt.fleet.as_mut().filter(|_| T::POLICIES && fleet_spec.lb == crate::fleet::LbKind::ShuffleShard)
        {
            // The customer's shard, whatever the caller's zone.
            let pick = fleet.pick_for(customer, attempt, fleet_spec.shard_size);
            if pick.is_none() {
                fleet.uncount_refusal();
            }
            return pick;
        }
        let topo = self.topo.as_mut().expect("a topology");
        let list = match zone {
            Some(z) if !topo.cross_zone_lb => Some(topo.zone_list(service, z)).filter(|l| !l.is_empty()),
            _ => None,
        };
        match (rt.fleet.as_mut().filter(|_| T::POLICIES), list) {
            (None, Some(list)) => {
                // What a fleet's round robin does among these (`Fleet::pick_among`): the first
                // at or after the position in turn, so that a fleet changes no pick.
                let start = rt.next_instance;
                let i = list.iter().copied().find(|&i| i >= start).unwrap_or(list[0]);
                rt.next_instance = if i + 1 >= rt.instances { 0 } else { i + 1 };
                Some(i)
            }
            (None, None) => {
                let i = rt.next_instance;
                rt.next_instance = if i + 1 == rt.instances { 0 } else { i + 1 };
                Some(i)
            }
            (Some(fleet), _) if list.is_none() && fleet.transparent() => Some(fleet.next_in_turn()),
            (Some(fleet), list) => {
                let pick = list.and_then(|l| fleet.pick_among(l)).or_else(|| fleet.pick());
                if pick.is_none() {
                    // Refused here; the balancer refuses (and counts) it where it arrives.
                    fleet.uncount_refusal();
                }
                pick
            }
        }
    }

    /// Puts `seed` on the network for `latency_ns` (or straight into its service), at the
    /// instance it names (`TRAVELLING`: picked where it arrives).
    #[inline(always)]
    fn travel(&mut self, seed: JobSeed, latency_ns: Nanos, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let latency_ns = self.with_noise(latency_ns);
        if latency_ns == 0 {
            return self.admit(seed, None, now, q);
        }
        let job = seed.job((0, 0), seed.instance, UNCOUNTED, 0, 0);
        let job_h =
            self.jobs.insert(job).ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?;
        q.schedule_at(now + latency_ns, Event::new(Kind::JobArrive, job_h, 0));
        Ok(())
    }

    /// Where the caller of a call whose calling job is `parent` is: `None`, a client;
    /// `Some(None)`, nobody any more (the job has replied: a fire-and-forget call's later
    /// copies); `Some(Some(zone))`, its job's instance's zone.
    pub(super) fn caller_zone(&self, parent: Handle) -> Option<Option<u16>> {
        if parent == Handle::NONE {
            return None;
        }
        let topo = self.topo.as_ref().expect("a topology");
        Some(self.jobs.get(parent).map(|j| topo.zone_of[(j.instance & !PICKED) as usize]))
    }

    /// One way's network latency of call `spec` between a caller at `from` (see
    /// `caller_zone`) and global instance `inst`: the call's own latency, else the topology's
    /// for the two placements (a caller that is gone counts as in the instance's zone).
    #[inline(always)]
    pub(super) fn placed_latency(&mut self, spec: u32, from: Option<Option<u16>>, inst: u32) -> Nanos {
        let cs = &self.spec.calls[spec as usize];
        let rng = &mut self.call_rt[spec as usize].network_rng;
        match &cs.latency {
            Some(Dist::Constant(ns)) => return *ns,
            Some(d) => return d.sample(rng),
            None => {}
        }
        let topology = self.spec.topology.as_ref().expect("a topology");
        let to = self.topo.as_ref().expect("a topology").zone_of[inst as usize];
        let dist = match from {
            None => topology.latency(None, to),
            Some(z) => topology.latency(Some(z.unwrap_or(to)), to),
        };
        match dist {
            Some(Dist::Constant(ns)) => *ns,
            Some(d) => d.sample(rng),
            None => 0,
        }
    }

    /// A call with policies is about to send attempt `attempt`: hedging bookkeeping, then
    /// client throttling, the bulkhead (which may queue it), the breaker, and the budget.
    #[inline(never)]
    pub(super) fn policies_permit(
        &mut self,
        call_h: Handle,
        spec: u32,
        attempt: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Permit {
        if let Some(h) = self.spec.calls[spec as usize].hedge {
            // Copy `attempt` is out; the next goes after the delay unless one succeeds.
            let call = self.calls.get_mut(call_h).expect("live call");
            call.hedge_mask |= 1 << (attempt - 1);
            if attempt < h.max_attempts {
                q.schedule_at(now + h.delay_ns, Event::new(Kind::Hedge, call_h, attempt));
            }
        }
        let ext = &mut self.exts[call_h.index as usize];
        ext.attempt_started_ns = now;
        let pol = ext.pol;
        if pol.throttle != NO_BUDGET {
            let u = self.call_rt[spec as usize].throttle_rng.unit();
            if !self.throttles[pol.throttle as usize].try_send(now, u) {
                return Permit::Refuse;
            }
        }
        if pol.bulkhead != NO_BUDGET {
            let b = &mut self.bulkheads[pol.bulkhead as usize];
            if !b.try_acquire() {
                if !b.try_wait(call_h, attempt) {
                    return Permit::Refuse;
                }
                let max_wait_ns = b.max_wait_ns;
                self.exts[call_h.index as usize].waiting |= attempt_bit(attempt);
                if max_wait_ns != Nanos::MAX {
                    q.schedule_at(now + max_wait_ns, Event::new(Kind::BulkheadWait, call_h, attempt));
                }
                return Permit::Wait;
            }
            self.exts[call_h.index as usize].permits |= attempt_bit(attempt);
        }
        if self.gate(call_h, attempt, now, q) {
            Permit::Send
        } else {
            Permit::Refuse
        }
    }

    /// The breaker and the budget, for an attempt that holds its bulkhead permit (if any).
    /// A breaker's refusal gives the permit back.
    #[inline(always)]
    pub(super) fn gate(&mut self, call_h: Handle, attempt: u32, now: Nanos, q: &mut EventQueue<Event>) -> bool {
        let pol = self.exts[call_h.index as usize].pol;
        if pol.breaker != NO_BUDGET && !self.breakers[pol.breaker as usize].try_acquire(now) {
            self.release_permits(call_h, attempt_bit(attempt), now, q);
            return false;
        }
        if pol.budget != NO_BUDGET {
            self.budgets[pol.budget as usize].on_attempt_start(attempt > 1);
        }
        true
    }

    /// Gives back the bulkhead permits of `call_h`'s attempts in `bits`; if attempts wait
    /// for a permit, one is sent next (after this event, at the same instant).
    pub(super) fn release_permits(&mut self, call_h: Handle, bits: u16, now: Nanos, q: &mut EventQueue<Event>) {
        if let Some(b) = self.give_back_permits(call_h, bits) {
            q.schedule_at(now, Event::new(Kind::BulkheadPump, Handle::NONE, b));
        }
    }

    /// A bulkhead has free permits: send the attempts waiting for them, oldest first,
    /// skipping those that ended while they waited.
    #[inline(never)]
    pub(super) fn pump_bulkhead(&mut self, b: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        while let Some((call_h, attempt)) = self.bulkheads[b as usize].next_waiting() {
            // `next_waiting` took a permit for it; an attempt that ended while waiting gives
            // it back.
            let bit = attempt_bit(attempt);
            let live = match self.calls.get(call_h) {
                Some(c) => !c.plain && c.outstanding(attempt) && self.exts[call_h.index as usize].waiting & bit != 0,
                None => false,
            };
            if !live {
                self.bulkheads[b as usize].release(1);
                continue;
            }
            let call = self.calls.get(call_h).expect("live");
            let (spec, type_id) = (call.spec, call.type_id);
            let ext = &mut self.exts[call_h.index as usize];
            ext.waiting &= !bit;
            ext.permits |= bit;
            let deadline = ext.attempt_deadline_ns;
            if self.gate(call_h, attempt, now, q) {
                self.send(call_h, spec, type_id, attempt, deadline, now, q)?;
            } else {
                let event = Event { kind: Kind::Reply, outcome: Outcome::Refused, arg: attempt, handle: call_h };
                q.schedule_at(now, event);
            }
        }
        Ok(())
    }

    /// The head of a timeout lane is due: time out every attempt whose deadline has passed
    /// and that is still waiting, drop the ones already answered, and arm the lane for the
    /// next attempt still waiting.
    #[inline(never)]
    pub(super) fn timeout_lane(&mut self, spec: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        self.lanes[spec as usize].armed = false;
        loop {
            let lane = &mut self.lanes[spec as usize];
            match lane.head(&self.calls, now) {
                Head::Empty => return Ok(()),
                Head::Later(expiry_ns) => {
                    if !lane.armed {
                        lane.arm(expiry_ns);
                        q.schedule_at(expiry_ns, Event::new(Kind::TimeoutLane, Handle::NONE, spec));
                    }
                    lane.check(&self.calls);
                    return Ok(());
                }
                Head::Due(call_h, attempt) => self.attempt_ended(call_h, attempt, Outcome::Timeout, now, q)?,
            }
        }
    }

    /// An attempt of `call_h` ended with `outcome` (a reply that travelled, or a timeout).
    pub(super) fn attempt_ended(
        &mut self,
        call_h: Handle,
        attempt: u32,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        match self.resolve(call_h, attempt, outcome, now, q)? {
            Some((job_h, answer)) => self.reply(job_h, answer, now, q),
            None => Ok(()),
        }
    }

    /// Applies the end of an attempt of `call_h` with `outcome`. Late news (the attempt
    /// already ended, or the call is gone) is ignored. A failure with attempts left starts
    /// the backoff; anything else resolves the call and tells its caller, and when that
    /// finishes the caller's job (its last step ended, or a critical call failed) returns the
    /// job and its answer for the caller to reply. One slab lookup reads everything the
    /// decision needs.
    #[inline(always)]
    pub(super) fn resolve(
        &mut self,
        call_h: Handle,
        attempt: u32,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<Option<(Handle, Outcome)>, Halt> {
        let Some(call) = self.calls.get_mut(call_h) else { return Ok(None) };
        if !call.outstanding(attempt) {
            return Ok(None);
        }
        if T::POLICIES && !call.plain && self.exts[call_h.index as usize].cell & THROUGH_BREAKER != 0 {
            // A router's call through its cell's breaker: the breaker hears how it went.
            let ext = &mut self.exts[call_h.index as usize];
            ext.cell &= CELL_BITS;
            let r = self.spec.calls[call.spec as usize].route.expect("only routed calls go through a cell's breaker");
            let topo = self.topo.as_mut().expect("routes come with a topology");
            let took_ns = now - ext.attempt_started_ns;
            topo.routers[r as usize].heard(ext.cell, now, took_ns, !outcome.is_success(), &mut topo.health_changes);
            topo.bound_health_changes();
        }
        if T::POLICIES && !call.plain {
            if outcome.is_success() && self.call_rt[call.spec as usize].gated_only {
                // What `resolve_with_policies` does with a success when there is no bulkhead,
                // throttling or hedging: the breaker and the budget hear of it, the budget
                // refunds, the call ends.
                call.waiting = false;
                let call = *call;
                let ext = &self.exts[call_h.index as usize];
                let (pol, attempt_started_ns, last_cost) = (ext.pol, ext.attempt_started_ns, ext.last_cost);
                self.policies_hear(pol, attempt, outcome, attempt_started_ns, now);
                self.refund(pol.budget, last_cost);
                return self.conclude(call_h, &call, outcome, now, q);
            }
            return self.resolve_with_policies(call_h, attempt, outcome, now, q);
        }
        call.waiting = false;
        let cs = &self.spec.calls[call.spec as usize];
        if !outcome.is_success() && (call.attempt as u32) < cs.retry.max_attempts && cs.retry.retries(outcome) {
            if nobody_waits(&self.jobs, call.parent, cs.wait) {
                self.abandon(call_h, outcome, now);
                return Ok(None);
            }
            call.attempt += 1;
            let u = self.call_rt[call.spec as usize].backoff_rng.unit();
            let wait = cs.retry.backoff.wait_ns(attempt, 0, u);
            self.after(wait, Event::new(Kind::Retry, call_h, 0), now, q)?;
            return Ok(None);
        }
        let call = *call;
        self.conclude(call_h, &call, outcome, now, q)
    }

    /// `resolve` for a call with policies: budgets, breakers and bulkheads hear of the
    /// attempt's end; a hedged call waits for its other copies or sends the next; a retry
    /// needs the budget's grant; a final failure may go to the fallback.
    #[inline(never)]
    pub(super) fn resolve_with_policies(
        &mut self,
        call_h: Handle,
        attempt: u32,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<Option<(Handle, Outcome)>, Halt> {
        let call = self.calls.get_mut(call_h).expect("checked by resolve");
        let hedged = call.hedge_mask != 0;
        call.hedge_mask &= !(1u8.checked_shl(attempt - 1).unwrap_or(0));
        call.waiting = call.hedge_mask != 0;
        let cs = &self.spec.calls[call.spec as usize];
        let parent = call.parent;
        // Only the fields read below, not a copy of the whole record.
        let ext = &self.exts[call_h.index as usize];
        let (pol, attempt_started_ns, deadline_ns) = (ext.pol, ext.attempt_started_ns, ext.deadline_ns);
        // The attempt no longer waits for, or holds, a bulkhead permit.
        let was_waiting = ext.waiting & attempt_bit(attempt) != 0;
        if pol.bulkhead != NO_BUDGET {
            self.exts[call_h.index as usize].waiting &= !attempt_bit(attempt);
            self.release_permits(call_h, attempt_bit(attempt), now, q);
        }
        let budget = pol.budget;
        if outcome != Outcome::Refused && !was_waiting && attempt_started_ns != UNSENT {
            // A refused attempt, one that timed out waiting for a bulkhead permit, or one not
            // sent because the call's deadline had passed: its policies did not see it start.
            self.policies_hear(pol, attempt, outcome, attempt_started_ns, now);
        }
        let call = self.calls.get_mut(call_h).expect("still live");
        if hedged {
            if outcome.is_success() {
                // The first success wins; the copies still out are abandoned (and give back
                // their bulkhead permits, or stop waiting for one).
                call.hedge_mask = 0;
                call.waiting = false;
                self.exts[call_h.index as usize].waiting = 0;
                self.release_permits(call_h, u16::MAX, now, q);
            } else {
                let max = cs.hedge.map_or(1, |h| h.max_attempts);
                if (call.attempt as u32) < max {
                    // A failed copy sends the next at once (gRPC: a non-fatal status).
                    if nobody_waits(&self.jobs, parent, cs.wait) {
                        self.abandon(call_h, outcome, now);
                        self.exts[call_h.index as usize].waiting = 0;
                        self.release_permits(call_h, u16::MAX, now, q);
                        return Ok(None);
                    }
                    self.send_hedge(call_h, now, q)?;
                    return Ok(None);
                }
                if call.waiting {
                    return Ok(None); // other copies may still succeed
                }
            }
        }
        let call = self.calls.get_mut(call_h).expect("still live");
        let retry_wanted =
            (call.attempt as u32) < cs.retry.max_attempts && cs.retry.retries(outcome) && now < deadline_ns;
        if !outcome.is_success() && retry_wanted {
            if nobody_waits(&self.jobs, parent, cs.wait) {
                self.abandon(call_h, outcome, now);
                return Ok(None);
            }
            let granted =
                if budget == NO_BUDGET { Some(0) } else { self.budgets[budget as usize].try_retry(now, outcome) };
            if let Some(cost) = granted {
                call.attempt += 1;
                let u = self.call_rt[call.spec as usize].backoff_rng.unit();
                let ext = &mut self.exts[call_h.index as usize];
                let wait = cs.retry.backoff.wait_ns(attempt, ext.prev_backoff_ns, u);
                ext.last_cost = cost;
                ext.prev_backoff_ns = wait;
                self.after(wait, Event::new(Kind::Retry, call_h, 0), now, q)?;
                return Ok(None);
            }
        }
        let call = *call;
        if outcome.is_success() {
            self.refund(budget, self.exts[call_h.index as usize].last_cost);
        } else if let Some(fallback) = &cs.fallback {
            // The fallback answers instead, degraded, after its own latency.
            let latency = sample_opt(fallback, &mut self.call_rt[call.spec as usize].fallback_rng);
            return self.after(latency, Event::new(Kind::Fallback, call_h, 0), now, q).map(|_| None);
        }
        self.conclude(call_h, &call, outcome, now, q)
    }

    /// The call is over with `outcome`: free it and tell its caller (the client, or the
    /// calling job, which may thereby be finished: then it is returned with its answer).
    #[inline(always)]
    pub(super) fn conclude(
        &mut self,
        call_h: Handle,
        call: &Call,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<Option<(Handle, Outcome)>, Halt> {
        let parent = call.parent;
        if parent == Handle::NONE {
            let done = Finished {
                started_ns: call.started_ns,
                workload: call.workload,
                batch: call.batch,
                stats: call.stats,
                attempts: call.attempt as u32,
                customer: call.customer,
            };
            self.calls.free(call_h);
            let workload = done.workload;
            self.request_done(done, outcome, now);
            if self.closed_loops && self.workloads[workload as usize].closed {
                self.user_thinks(workload as u32, now, q);
            }
            return Ok(None);
        }
        self.record_edge(call_h, call, outcome, now);
        let cs = &self.spec.calls[call.spec as usize];
        let critical = cs.critical;
        if T::EXTRAS && (call.repeats_left > 0 || cs.wait != Wait::Step) {
            return self.conclude_shaped(call_h, call, outcome, now, q);
        }
        self.calls.free(call_h);
        let Some(job) = self.jobs.get_mut(parent) else {
            return Ok(None);
        };
        match outcome {
            Outcome::Ok => {}
            Outcome::Degraded => job.degrade(),
            _ if critical => return Ok(Some((parent, Outcome::Error))),
            _ => job.degrade(),
        }
        job.pending -= 1;
        if job.pending == 0 {
            job.step += 1;
            return Ok(self.advance(parent, now, q)?.map(|answer| (parent, answer)));
        }
        Ok(None)
    }

    /// `conclude` for a call awaited at the end or never, or with copies still to make one
    /// after another. A critical failure of a call awaited at the end fails the job when it
    /// ends (where the caller's code reads the result); of a fire-and-forget call, nobody.
    /// The next copy of a call repeated in sequence goes out now (the job is still waiting,
    /// or nobody waits: fire-and-forget copies go on after their caller has replied); a
    /// critical failure ends the repetitions.
    #[inline(never)]
    fn conclude_shaped(
        &mut self,
        call_h: Handle,
        call: &Call,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<Option<(Handle, Outcome)>, Halt> {
        let parent = call.parent;
        let cs = &self.spec.calls[call.spec as usize];
        let (critical, wait) = (cs.critical, cs.wait);
        let failed_critically = critical && !outcome.is_success();
        let job = if wait == Wait::Never { None } else { self.jobs.get_mut(parent) };
        let waited_for = job.is_some();
        if let Some(job) = job {
            match outcome {
                Outcome::Ok => {}
                Outcome::Degraded => job.degrade(),
                _ if critical && wait == Wait::Step => {
                    self.calls.free(call_h);
                    return Ok(Some((parent, Outcome::Error)));
                }
                _ if critical => job.answer = Outcome::Error,
                _ => job.degrade(),
            }
        }
        if call.repeats_left > 0 && !failed_critically && (waited_for || wait == Wait::Never) {
            let pol = (!call.plain).then(|| {
                let ext = &self.exts[call_h.index as usize];
                (ext.pol, ext.deadline_ns)
            });
            self.calls.free(call_h);
            let next = self.insert_call(parent, call.spec, call.type_id, pol, call.repeats_left - 1, now)?;
            return self.send_repeat(next, call.spec, call.type_id, call.plain, now, q).map(|_| None);
        }
        self.calls.free(call_h);
        if !waited_for {
            return Ok(None);
        }
        let job = self.jobs.get_mut(parent).expect("checked above");
        match wait {
            Wait::Step => {
                job.pending -= 1;
                if job.pending == 0 {
                    job.step += 1;
                    return Ok(self.advance(parent, now, q)?.map(|answer| (parent, answer)));
                }
            }
            Wait::End => {
                job.deferred -= 1;
                if job.deferred == 0 && job.pending == 0 && job.step >= job.plan_steps {
                    return Ok(Some((parent, job.answer)));
                }
            }
            Wait::Never => {}
        }
        Ok(None)
    }

    /// Sends the first attempt of `call_h`, the next copy of a call repeated in sequence: at
    /// once, unless copies answered at once have nested this deep already (a repetition of
    /// refusals), in which case it goes out at the same instant from the queue, so the
    /// stack stays shallow however many copies there are.
    fn send_repeat(
        &mut self,
        call_h: Handle,
        spec: u32,
        type_id: u16,
        plain: bool,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        if self.repeat_nesting >= MAX_REPEAT_NESTING {
            q.schedule_at(now, Event::new(Kind::Retry, call_h, 0));
            return Ok(());
        }
        self.repeat_nesting += 1;
        let sent = self.start_attempt(call_h, spec, type_id, 1, plain, now, q);
        self.repeat_nesting -= 1;
        sent
    }

    /// Drops a call whose caller has already replied, ending with `outcome` (its last
    /// attempt's failure): it is counted on its edge, and retries or copies it had left are
    /// not made.
    fn abandon(&mut self, call_h: Handle, outcome: Outcome, now: Nanos) {
        let call = *self.calls.get(call_h).expect("live call");
        self.calls.free(call_h);
        self.record_edge(call_h, &call, outcome, now);
    }

    /// Sends the next copy of a hedged call now.
    pub(super) fn send_hedge(&mut self, call_h: Handle, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let call = self.calls.get_mut(call_h).expect("live call");
        call.attempt += 1;
        call.waiting = true;
        let (spec, type_id, attempt) = (call.spec, call.type_id, call.attempt as u32);
        self.start_attempt(call_h, spec, type_id, attempt, false, now, q)
    }
}
