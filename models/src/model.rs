//! The service model at run time: requests arrive, become call attempts, wait in instance
//! queues for workers, do their own work, make their downstream calls step by step, and
//! reply. This is the only module that implements `cellsim_sim::Model`.
//!
//! This file is the hub: the model struct, `dispatch`, and the handlers that call each other.
//! Only the hub schedules events. Its leaves (`model/*`) hold what the handlers call that
//! never calls back: events and records, construction, timeout lanes, policy glue, recording
//! and arrivals. They take no `EventQueue`, so they cannot schedule.
//!
//! # Semantics (documented for users in docs/scenario-format.md)
//!
//! - A job is one call attempt at one service instance. It queues FIFO for a worker (or is
//!   rejected when the queue is full), does the service's own work, then runs its plan's steps
//!   in order, the calls of a step in parallel, and replies.
//! - With `hold_worker_during_calls = false` the worker is freed when the own work ends; with
//!   `true` it stays busy until the job replies.
//! - A critical call that fails (after its retries) fails the caller at once: the caller
//!   replies `error` without waiting for its other calls, whose results are then ignored.
//!   An optional call that fails makes the caller's answer `degraded`.
//! - A timeout abandons the attempt: the callee is not told and finishes its work anyway.
//! - Network latency is drawn once for the request and once for the reply.
//! - Retries start after the backoff; a call whose caller has already replied is dropped.

mod arrivals;
mod event;
mod lanes;
mod policies;
mod record;
mod records;
mod tables;

pub use event::{Event, Halt, Kind, Overload};
pub use record::Stability;

use crate::dist::{round_ns, Dist};
use crate::faults::FaultState;
use crate::metrics::*;
use crate::outcome::Outcome;
use crate::policy::breaker::Breaker;
use crate::policy::budget::Budget;
use crate::policy::bulkhead::Bulkhead;
use crate::policy::throttle::Throttle;
use crate::spec::{QueueDiscipline, Spec};
use crate::tier::Tier;
use cellsim_sim::{EventQueue, Handle, Model, Nanos, Slab, Stream};
use lanes::{Head, TimeoutLane};
use record::Bucket;
use records::*;
use std::marker::PhantomData;
use tables::{CallRt, ServiceRt, WorkloadRt};

/// The service model, compiled for tier `T`: a scenario runs in the lowest tier that covers
/// what it uses, from which the compiler removes every check of the features it does not
/// (see `tier.rs` and `features.rs`): what a scenario does not use costs it nothing.
pub struct ServiceModel<'s, S: SeriesSink, T: Tier> {
    spec: &'s Spec,
    calls: Slab<Call>,
    jobs: Slab<Job>,
    instances: Vec<Instance>,
    services: Vec<ServiceRt>,
    call_rt: Vec<CallRt>,
    /// Timeout lanes, by call spec.
    lanes: Vec<TimeoutLane>,
    /// Retry budgets, circuit breakers and bulkheads (see `CallRt`).
    budgets: Vec<Budget>,
    breakers: Vec<Breaker>,
    bulkheads: Vec<Bulkhead>,
    throttles: Vec<Throttle>,
    /// By call slab index: the policy state of calls that are not plain.
    exts: Vec<CallExt>,
    /// Every plan's steps in one table (ranges of call specs).
    steps: Vec<(u32, u32)>,
    /// What the faults break now.
    faults: FaultState,
    /// The periodic ticks, indexed by a `Kind::Tick` event's `arg`.
    ticks: Vec<Tick>,
    workloads: Vec<WorkloadRt>,
    /// The measurement window: [warmup, duration].
    window: (Nanos, Nanos),
    /// The batch that `now` falls in (`UNCOUNTED` during the warm-up) and when it ends:
    /// time only moves forward, so the batch advances by comparison, not division.
    batch_now: u8,
    batch_end_ns: Nanos,
    /// The window's width over BATCHES, at least 1 ns.
    batch_ns: Nanos,
    request_stats: Vec<RequestStats>,
    /// By request stats: latencies of successes and of failures (they become
    /// `latency` and `latency_failed` when the run ends).
    request_latency: Vec<[LatencyRecorder; 2]>,
    buckets: Vec<Bucket>,
    bucket_start_ns: Nanos,
    sink: S,
    /// Requests that arrived, finished, and are in flight: arrived = finished + in flight.
    requests_arrived: u64,
    requests_finished: u64,
    requests_in_flight: u64,
    /// Requests that finished before the trigger and in the late window after it, and how
    /// many of each succeeded (see `Stability`).
    stability: Option<Stability>,
    /// Why the run halted (set with the `Halt` that stops it).
    overload: Option<Overload>,
    _tier: PhantomData<T>,
}

/// Something done at a fixed interval until the run's duration: one mechanism, one event
/// kind, for health checks, outlier sweeps and what comes later.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tick {
    /// Service `service`'s health checks.
    Health { service: u32, interval_ns: Nanos },
    /// Service `service`'s outlier detection interval.
    Outlier { service: u32, interval_ns: Nanos },
}

impl Tick {
    fn service(self) -> u32 {
        match self {
            Tick::Health { service, .. } | Tick::Outlier { service, .. } => service,
        }
    }
}

/// A job's instance while it travels to its service.
const TRAVELLING: u32 = u32::MAX;

impl<'s, S: SeriesSink, T: Tier> ServiceModel<'s, S, T> {
    /// Schedules each workload's first arrival and every periodic tick.
    pub fn start(&mut self, q: &mut EventQueue<Event>) {
        for w in 0..self.spec.workloads.len() {
            self.schedule_arrival(w as u32, 0, q);
        }
        for (tick, first_ns) in tables::ticks(self.spec) {
            q.schedule_at(first_ns, Event::new(Kind::Tick, Handle::NONE, self.ticks.len() as u32));
            self.ticks.push(tick);
        }
    }

    /// Records why the run must stop; the caller returns the `Halt`.
    #[cold]
    fn halt(&mut self, why: Overload) -> Halt {
        self.overload = Some(why);
        Halt
    }

    // ----- arrivals -----

    fn schedule_arrival(&mut self, w: u32, now: Nanos, q: &mut EventQueue<Event>) {
        let next = self.next_arrival_ns(w, now);
        if next < self.spec.duration_ns {
            q.schedule_at(next, Event::new(Kind::Arrival, Handle::NONE, w));
        }
    }

    fn arrival(&mut self, w: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        self.schedule_arrival(w, now, q);
        if self.requests_in_flight >= self.spec.max_in_flight_requests {
            return Err(self.halt(Overload::Requests { limit: self.spec.max_in_flight_requests }));
        }
        let r = self.request_type(w);
        let req = &self.spec.workloads[w as usize].requests[r];
        let stats = self.workloads[w as usize].stats[r];
        let call = Call {
            parent: Handle::NONE,
            spec: req.call,
            type_id: req.type_id,
            stats,
            workload: w as u16,
            attempt: 1,
            waiting: true,
            batch: self.batch_at(now),
            started_ns: now,
            plain: self.call_rt[req.call as usize].plain,
            hedge_mask: 0,
        };
        let (spec, type_id, plain) = (call.spec, call.type_id, call.plain);
        let h =
            self.calls.insert(call).ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?;
        self.requests_in_flight += 1;
        self.requests_arrived += 1;
        if T::POLICIES && !plain {
            let pol = self.call_rt[spec as usize].pol(0);
            let d = self.spec.calls[spec as usize].deadline_ns;
            self.new_ext(h, pol, if d > 0 { now + d } else { Nanos::MAX }, now);
        }
        self.start_attempt(h, spec, type_id, 1, plain, now, q)
    }

    // ----- calls -----

    /// Sends attempt `attempt` of `call_h` (already marked waiting by the caller, which
    /// passes what it knows of the call so that the record is not read back).
    #[allow(clippy::too_many_arguments)]
    fn start_attempt(
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

    /// Puts attempt `attempt` of `call_h` on the network (or straight into its callee).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn send(
        &mut self,
        call_h: Handle,
        spec: u32,
        type_id: u16,
        attempt: u32,
        deadline: Nanos,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let cs = &self.spec.calls[spec as usize];
        let latency = sample_opt(&cs.latency, &mut self.call_rt[spec as usize].network_rng);
        let deadline_ns = if T::EXTRAS && cs.propagate_deadline { deadline } else { Nanos::MAX };
        let seed = JobSeed { call: call_h, attempt, service: cs.to, type_id, deadline_ns };
        if latency == 0 {
            return self.admit(seed, None, now, q);
        }
        // On its way: at no instance yet.
        let job = seed.job((0, 0), TRAVELLING, UNCOUNTED, 0, 0);
        let job_h =
            self.jobs.insert(job).ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?;
        q.schedule_at(now + latency, Event::new(Kind::JobArrive, job_h, 0));
        Ok(())
    }

    /// A call with policies is about to send attempt `attempt`: hedging bookkeeping, then
    /// client throttling, the bulkhead (which may queue it), the breaker, and the budget.
    #[inline(never)]
    fn policies_permit(
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
    fn gate(&mut self, call_h: Handle, attempt: u32, now: Nanos, q: &mut EventQueue<Event>) -> bool {
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
    fn release_permits(&mut self, call_h: Handle, bits: u16, now: Nanos, q: &mut EventQueue<Event>) {
        if let Some(b) = self.give_back_permits(call_h, bits) {
            q.schedule_at(now, Event::new(Kind::BulkheadPump, Handle::NONE, b));
        }
    }

    /// A bulkhead has free permits: send the attempts waiting for them, oldest first,
    /// skipping those that ended while they waited.
    #[inline(never)]
    fn pump_bulkhead(&mut self, b: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
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

    /// Handles `event` now when `delay_ns` is zero (saving a trip through the queue), else
    /// schedules it.
    #[inline(always)]
    fn after(&mut self, delay_ns: Nanos, event: Event, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        if delay_ns == 0 {
            self.dispatch(now, event, q)
        } else {
            q.schedule_at(now + delay_ns, event);
            Ok(())
        }
    }

    /// The head of a timeout lane is due: time out every attempt whose deadline has passed
    /// and that is still waiting, drop the ones already answered, and arm the lane for the
    /// next attempt still waiting.
    #[inline(never)]
    fn timeout_lane(&mut self, spec: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
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
    fn attempt_ended(
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
    fn resolve(
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
        if !outcome.is_success() && call.attempt < cs.retry.max_attempts && cs.retry.retries(outcome) {
            if call.parent != Handle::NONE && self.jobs.get(call.parent).is_none() {
                self.calls.free(call_h); // nobody waits for this call any more
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
    fn resolve_with_policies(
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
        if outcome != Outcome::Refused && !was_waiting {
            // A refused attempt, or one that timed out waiting for a bulkhead permit, was
            // never sent: its policies did not see it start.
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
                if call.attempt < max {
                    // A failed copy sends the next at once (gRPC: a non-fatal status).
                    if parent != Handle::NONE && self.jobs.get(parent).is_none() {
                        self.calls.free(call_h);
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
        let retry_wanted = call.attempt < cs.retry.max_attempts && cs.retry.retries(outcome) && now < deadline_ns;
        if !outcome.is_success() && retry_wanted {
            if parent != Handle::NONE && self.jobs.get(parent).is_none() {
                self.calls.free(call_h); // nobody waits for this call any more
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
    fn conclude(
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
                attempts: call.attempt,
            };
            self.calls.free(call_h);
            self.request_done(done, outcome, now);
            return Ok(None);
        }
        let critical = self.spec.calls[call.spec as usize].critical;
        self.calls.free(call_h);
        let Some(job) = self.jobs.get_mut(parent) else {
            return Ok(None);
        };
        match outcome {
            Outcome::Ok => {}
            Outcome::Degraded => job.degraded = true,
            _ if critical => return Ok(Some((parent, Outcome::Error))),
            _ => job.degraded = true,
        }
        job.pending -= 1;
        if job.pending == 0 {
            job.step += 1;
            return Ok(self.advance(parent, now, q)?.map(|answer| (parent, answer)));
        }
        Ok(None)
    }

    /// Periodic tick `i` is due: run it, and schedule the next unless the run has ended.
    #[inline(never)]
    fn tick(&mut self, i: u32, now: Nanos, q: &mut EventQueue<Event>) {
        let tick = self.ticks[i as usize];
        let interval_ns = match tick {
            Tick::Health { service, interval_ns } => {
                self.health_tick(service as usize, now);
                interval_ns
            }
            Tick::Outlier { service, interval_ns } => {
                let rt = &mut self.services[service as usize];
                rt.fleet.as_mut().expect("a fleet with outlier detection").outlier_sweep(now);
                interval_ns
            }
        };
        self.check_fleet(tick.service());
        if now + interval_ns < self.spec.duration_ns {
            q.schedule_at(now + interval_ns, Event::new(Kind::Tick, Handle::NONE, i));
        }
    }

    /// Runs service `s`'s health checks at `now`. A probe waits behind the instance's queue:
    /// it is estimated to wait (queued jobs x mean work) / workers.
    fn health_tick(&mut self, s: usize, now: Nanos) {
        let svc = &self.spec.services[s];
        let faults = &self.faults;
        let dependency_down = match svc.fleet.health.as_ref().and_then(|h| h.dependency) {
            Some(d) => {
                let rt = &self.services[d as usize];
                let first = rt.first_instance;
                rt.fleet.as_ref().is_some_and(|f| f.all_down(now, |i| faults.is_down(first + i)))
            }
            None => false,
        };
        let rt = &self.services[s];
        let (first, workers, mean_ns) = (rt.first_instance, rt.workers.max(1) as f64, svc.service_time.mean_ns());
        let instances = &self.instances;
        let wait = |i: u32| (instances[(first + i) as usize].queue.len() as f64 * mean_ns / workers) as Nanos;
        let rt = &mut self.services[s];
        if let Some(fleet) = &mut rt.fleet {
            fleet.health_tick(now, wait, |i| faults.is_down(first + i), dependency_down);
        }
    }

    /// Tested builds: a fleet's count of jobs present at each instance matches a recount.
    fn check_fleet(&self, s: u32) {
        #[cfg(debug_assertions)]
        if let Some(fleet) = &self.services[s as usize].fleet {
            let first = self.services[s as usize].first_instance;
            fleet.check(|i| {
                let at = |job: &&Job| job.service == s && job.instance == first + i;
                self.jobs.iter().filter(at).count() as u32
            });
        }
        let _ = s;
    }

    /// Sends the next copy of a hedged call now.
    fn send_hedge(&mut self, call_h: Handle, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let call = self.calls.get_mut(call_h).expect("live call");
        call.attempt += 1;
        call.waiting = true;
        let (spec, type_id, attempt) = (call.spec, call.type_id, call.attempt);
        self.start_attempt(call_h, spec, type_id, attempt, false, now, q)
    }

    // ----- jobs at a service -----

    /// A job reaches an instance (chosen round-robin): it takes a free worker, waits in the
    /// queue, or is rejected. `slot` holds it if it was already stored (it travelled over the
    /// network); a job that arrives at once is stored here, complete, in one write.
    fn admit(
        &mut self,
        seed: JobSeed,
        slot: Option<Handle>,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let batch = self.batch_at(now);
        let rt = &mut self.services[seed.service as usize];
        let inst = match rt.fleet.as_mut().filter(|_| T::POLICIES) {
            None => {
                let inst = rt.first_instance + rt.next_instance;
                rt.next_instance = if rt.next_instance + 1 == rt.instances { 0 } else { rt.next_instance + 1 };
                inst
            }
            // A fleet that changes nothing right now (round robin, every instance usable, no
            // outage, nothing counted) only takes the next instance in turn.
            Some(fleet) if fleet.transparent() => rt.first_instance + fleet.next_in_turn(),
            Some(fleet) => {
                // No usable instance and fail-closed: refused by the balancer; an instance
                // that is down: refused by the instance.
                let picked = fleet.pick();
                let refusal = match picked {
                    None => Some(Outcome::Rejected),
                    Some(i) if fleet.restarting(i, now) || self.faults.is_down(rt.first_instance + i) => {
                        fleet.on_answer(i, Outcome::Error, false, now);
                        Some(Outcome::Error)
                    }
                    Some(_) => None,
                };
                if let Some(outcome) = refusal {
                    if batch != UNCOUNTED {
                        let b = &mut rt.batches[batch as usize];
                        b.arrivals += 1;
                        b.rejected += (outcome == Outcome::Rejected) as u64;
                        rt.stats.outcomes.add(outcome);
                    }
                    if let Some(h) = slot {
                        self.jobs.free(h);
                    }
                    return self.send_reply(seed.call, seed.attempt, outcome, now, q);
                }
                rt.first_instance + picked.expect("picked")
            }
        };
        let instance = &mut self.instances[inst as usize];
        let (free_worker, room) = (instance.busy < rt.workers, instance.queue.len() < rt.queue_capacity);
        // Turned away: a full queue or the concurrency limit (rejected), or a deadline that
        // passed on the way (timeout: nobody waits for the answer).
        let over_limit = T::EXTRAS && rt.shedding.max_in_flight.is_some_and(|m| instance.in_system >= m);
        let refusal = if T::EXTRAS && seed.deadline_ns <= now {
            Some(Outcome::Timeout)
        } else if (!free_worker && !room) || over_limit {
            Some(Outcome::Rejected)
        } else {
            None
        };
        if batch != UNCOUNTED {
            let b = &mut rt.batches[batch as usize];
            b.arrivals += 1;
            if let Some(o) = refusal {
                b.rejected += (o == Outcome::Rejected) as u64;
                rt.stats.outcomes.add(o);
            }
        }
        if let Some(fleet) = rt.fleet.as_mut().filter(|_| T::POLICIES) {
            match refusal {
                Some(o) => fleet.on_answer(inst - rt.first_instance, o, false, now),
                None => fleet.on_admit(inst - rt.first_instance),
            }
        }
        if let Some(o) = refusal {
            if let Some(h) = slot {
                self.jobs.free(h);
            }
            return self.send_reply(seed.call, seed.attempt, o, now, q);
        }
        if T::EXTRAS && rt.shedding.max_in_flight.is_some() {
            instance.in_system += 1;
        }
        let plan = rt.plan_by_type[seed.type_id as usize];
        let work_started_ns = if free_worker { now } else { 0 };
        let h = match slot {
            Some(h) => {
                let job = self.jobs.get_mut(h).expect("live job");
                (job.plan_first, job.plan_steps) = plan;
                (job.instance, job.batch, job.arrived_ns, job.work_started_ns) = (inst, batch, now, work_started_ns);
                h
            }
            None => {
                let job = seed.job(plan, inst, batch, now, work_started_ns);
                self.jobs
                    .insert(job)
                    .ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?
            }
        };
        if free_worker {
            self.instances[inst as usize].busy += 1;
            let work = self.work_starts(seed.service as usize, inst, now, now, batch);
            q.schedule_at(now + work, Event::new(Kind::WorkDone, h, 0));
        } else {
            let instance = &mut self.instances[inst as usize];
            if T::EXTRAS && instance.queue.is_empty() {
                instance.last_empty_ns = now;
            }
            instance.queue.push_back(h);
        }
        Ok(())
    }

    /// A queued job gets a worker.
    fn start_work(&mut self, job_h: Handle, now: Nanos, q: &mut EventQueue<Event>) {
        let job = self.jobs.get_mut(job_h).expect("live job");
        job.work_started_ns = now;
        let (s, inst, arrived_ns, batch) = (job.service as usize, job.instance, job.arrived_ns, job.batch);
        let work = self.work_starts(s, inst, arrived_ns, now, batch);
        q.schedule_at(now + work, Event::new(Kind::WorkDone, job_h, 0));
    }

    /// Records a job's wait from `arrived_ns` to `now` at service `s`; draws its work time,
    /// slowed by the CPU stress acting on its instance now.
    #[inline]
    fn work_starts(&mut self, s: usize, inst: u32, arrived_ns: Nanos, now: Nanos, batch: u8) -> Nanos {
        self.record_wait(s, arrived_ns, now, batch);
        let rt = &mut self.services[s];
        let work = rt.work_draws.next(&rt.service_time);
        if !T::EXTRAS {
            return work;
        }
        let factor = self.faults.slowdown(inst);
        if factor == 1.0 {
            work
        } else {
            round_ns(work as f64 * factor)
        }
    }

    /// A worker of `instance` (of service `service`) is free: it takes the next queued job,
    /// or goes idle. A shedding service may take the newest job instead (LIFO), and drops
    /// the jobs it finds too old (CoDel) or past their deadline on the way.
    fn release_worker(
        &mut self,
        service: u32,
        instance: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        if !T::EXTRAS || !self.services[service as usize].sheds {
            match self.instances[instance as usize].queue.pop_front() {
                Some(next) => self.start_work(next, now, q),
                None => self.instances[instance as usize].busy -= 1,
            }
            return Ok(());
        }
        self.release_worker_shedding(service, instance, now, q)
    }

    /// `release_worker` for a shedding service: LIFO, CoDel and expired deadlines.
    #[inline(never)]
    fn release_worker_shedding(
        &mut self,
        service: u32,
        instance: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let sh = self.services[service as usize].shedding;
        loop {
            let inst = &mut self.instances[instance as usize];
            let standing = !inst.queue.is_empty() && now - inst.last_empty_ns > sh.standing_ns;
            let lifo =
                sh.discipline == QueueDiscipline::Lifo || (sh.discipline == QueueDiscipline::AdaptiveLifo && standing);
            let next = if lifo { inst.queue.pop_back() } else { inst.queue.pop_front() };
            let Some(next) = next else {
                inst.busy -= 1;
                return Ok(());
            };
            if inst.queue.is_empty() {
                inst.last_empty_ns = now;
            }
            let job = *self.jobs.get(next).expect("live job");
            let max_wait_ns = match sh.codel {
                Some(c) if standing => c.target_ns,
                Some(c) => c.interval_ns,
                None => Nanos::MAX,
            };
            if job.deadline_ns <= now {
                self.drop_queued(next, &job, Outcome::Timeout, now, q)?;
            } else if now - job.arrived_ns > max_wait_ns {
                self.drop_queued(next, &job, Outcome::Rejected, now, q)?;
            } else {
                self.start_work(next, now, q);
                return Ok(());
            }
        }
    }

    /// A queued job is dropped without being worked on: `Timeout` (its deadline passed) or
    /// `Rejected` (CoDel).
    #[inline(never)]
    fn drop_queued(
        &mut self,
        job_h: Handle,
        job: &Job,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        self.jobs.free(job_h);
        let rt = &mut self.services[job.service as usize];
        if let Some(fleet) = &mut rt.fleet {
            fleet.on_answer(job.instance - rt.first_instance, outcome, true, now);
        }
        if rt.shedding.max_in_flight.is_some() {
            self.instances[job.instance as usize].in_system -= 1;
        }
        rt.stats.occupancy.in_system.add(job.arrived_ns, now, self.window);
        rt.stats.occupancy.queued.add(job.arrived_ns, now, self.window);
        if job.batch != UNCOUNTED {
            rt.batches[job.batch as usize].rejected += (outcome == Outcome::Rejected) as u64;
            rt.stats.outcomes.add(outcome);
        }
        self.send_reply(job.call, job.attempt, outcome, now, q)
    }

    fn work_done(&mut self, job_h: Handle, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let job = *self.jobs.get(job_h).expect("live job");
        let rt = &mut self.services[job.service as usize];
        if !rt.hold_worker_during_calls {
            rt.stats.occupancy.busy.add(job.work_started_ns, now, self.window);
            self.release_worker(job.service, job.instance, now, q)?;
        }
        let rt = &mut self.services[job.service as usize];
        if T::EXTRAS && rt.error_probability > 0.0 && rt.error_rng.unit() < rt.error_probability {
            return self.reply_from(job_h, JobEnd::of(&job), Outcome::Error, now, q);
        }
        if job.plan_steps == 0 {
            // A leaf: answer now, from the copy already read.
            return self.reply_from(job_h, JobEnd::of(&job), Outcome::Ok, now, q);
        }
        match self.advance(job_h, now, q)? {
            Some(answer) => self.reply(job_h, answer, now, q),
            None => Ok(()),
        }
    }

    /// Starts the job's current step; when no step is left, returns the job's answer for the
    /// caller to reply with.
    fn advance(&mut self, job_h: Handle, now: Nanos, q: &mut EventQueue<Event>) -> Result<Option<Outcome>, Halt> {
        let job = self.jobs.get_mut(job_h).expect("live job");
        if job.step >= job.plan_steps {
            return Ok(Some(if job.degraded { Outcome::Degraded } else { Outcome::Ok }));
        };
        let (first, end) = self.steps[(job.plan_first + job.step) as usize];
        job.pending = end - first;
        let (step, type_id, instance, deadline) = (job.step, job.type_id, job.instance, job.deadline_ns);
        if T::EXTRAS && deadline <= now {
            // Nobody waits for this job's answer any more: it makes no more calls.
            return Ok(Some(Outcome::Error));
        }
        for spec in first..end {
            let rt = &self.call_rt[spec as usize];
            let plain = !T::POLICIES || rt.plain;
            let call = Call {
                parent: job_h,
                spec,
                type_id,
                stats: 0,
                workload: 0,
                attempt: 1,
                waiting: true,
                batch: UNCOUNTED,
                started_ns: now,
                plain,
                hedge_mask: 0,
            };
            let call_h = self
                .calls
                .insert(call)
                .ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?;
            if T::POLICIES && !plain {
                let pol = self.call_rt[spec as usize].pol(instance);
                self.new_ext(call_h, pol, deadline, now);
            }
            self.start_attempt(call_h, spec, type_id, 1, plain, now, q)?;
            // A call answered inline may have ended the step or failed the job (and replied).
            match self.jobs.get(job_h) {
                Some(j) if j.step == step => {}
                _ => break,
            }
        }
        Ok(None)
    }

    /// The job is over: free its worker if it held one, record it, answer its caller.
    fn reply(&mut self, job_h: Handle, outcome: Outcome, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let job = JobEnd::of(self.jobs.get(job_h).expect("live job"));
        self.reply_from(job_h, job, outcome, now, q)
    }

    /// `reply`, from what was already read of the job. An answer that needs no network time
    /// reaches its call at once; when that finishes the caller's job too, the caller replies
    /// in the same loop (a chain of replies is a loop here, not a recursion).
    fn reply_from(
        &mut self,
        mut job_h: Handle,
        mut job: JobEnd,
        mut outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        loop {
            self.finish_job(job_h, &job, outcome, now, q)?;
            let (call, attempt) = (job.call, job.attempt);
            let Some(latency) = self.reply_latency(call, attempt) else { return Ok(()) };
            if latency > 0 {
                q.schedule_at(now + latency, Event { kind: Kind::Reply, outcome, arg: attempt, handle: call });
                return Ok(());
            }
            let Some((parent, answer)) = self.resolve(call, attempt, outcome, now, q)? else { return Ok(()) };
            (job_h, job, outcome) = (parent, JobEnd::of(self.jobs.get(parent).expect("live job")), answer);
        }
    }

    /// Frees the job, its worker if it held one, and records it.
    #[inline(always)]
    fn finish_job(
        &mut self,
        job_h: Handle,
        job: &JobEnd,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let (service, instance, counted, arrived_ns) = (job.service, job.instance, job.batch, job.arrived_ns);
        let work_started_ns = job.work_started_ns;
        self.jobs.free(job_h);
        let rt = &mut self.services[service as usize];
        if rt.hold_worker_during_calls {
            rt.stats.occupancy.busy.add(work_started_ns, now, self.window);
            self.release_worker(service, instance, now, q)?;
        }
        let rt = &mut self.services[service as usize];
        if T::EXTRAS && rt.shedding.max_in_flight.is_some() {
            self.instances[instance as usize].in_system -= 1;
        }
        if let Some(fleet) = rt.fleet.as_mut().filter(|_| T::POLICIES) {
            fleet.on_answer(instance - rt.first_instance, outcome, true, now);
        }
        self.record_job(service, arrived_ns, counted, outcome, now);
        Ok(())
    }

    /// The network time of an answer to attempt `attempt` of `call`, or `None` if nobody is
    /// waiting for it (the attempt timed out, or the call is gone).
    #[inline(always)]
    fn reply_latency(&mut self, call: Handle, attempt: u32) -> Option<Nanos> {
        let spec = match self.calls.get(call) {
            Some(c) if c.outstanding(attempt) => c.spec,
            _ => return None,
        };
        Some(sample_opt(&self.spec.calls[spec as usize].latency, &mut self.call_rt[spec as usize].network_rng))
    }

    fn send_reply(
        &mut self,
        call: Handle,
        attempt: u32,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let Some(latency) = self.reply_latency(call, attempt) else { return Ok(()) };
        self.after(latency, Event { kind: Kind::Reply, outcome, arg: attempt, handle: call }, now, q)
    }
}

impl<S: SeriesSink, T: Tier> Model for ServiceModel<'_, S, T> {
    type Event = Event;
    type Stop = Overload;

    #[inline]
    fn handle(&mut self, now: Nanos, event: Event, q: &mut EventQueue<Event>) -> Result<(), Overload> {
        if T::EXTRAS && now >= self.faults.next_ns() {
            self.faults.advance_to(now);
        }
        self.dispatch(now, event, q).map_err(|Halt| self.overload.take().expect("a halt records its overload"))
    }
}

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// Routes an event to its handler. Always inlined, so that where the kind is known (an
    /// event handled at once by `after`) the match folds into a direct call.
    #[inline(always)]
    fn dispatch(&mut self, now: Nanos, event: Event, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let h = event.handle;
        match event.kind {
            Kind::Arrival => self.arrival(event.arg, now, q),
            Kind::JobArrive => {
                let job = self.jobs.get(h).expect("live job");
                let seed = JobSeed {
                    call: job.call,
                    attempt: job.attempt,
                    service: job.service,
                    type_id: job.type_id,
                    deadline_ns: job.deadline_ns,
                };
                self.admit(seed, Some(h), now, q)
            }
            Kind::WorkDone => self.work_done(h, now, q),
            Kind::Reply => self.attempt_ended(h, event.arg, event.outcome, now, q),
            Kind::TimeoutLane => self.timeout_lane(event.arg, now, q),
            Kind::Retry => match self.calls.get_mut(h) {
                Some(call) => {
                    call.waiting = true;
                    let (spec, type_id, attempt, plain) = (call.spec, call.type_id, call.attempt, call.plain);
                    self.start_attempt(h, spec, type_id, attempt, plain, now, q)
                }
                None => Ok(()),
            },
            Kind::Tick => {
                self.tick(event.arg, now, q);
                Ok(())
            }
            Kind::AttemptDeadline => self.attempt_ended(h, event.arg, Outcome::Timeout, now, q),
            Kind::BulkheadPump => self.pump_bulkhead(event.arg, now, q),
            Kind::BulkheadWait => {
                // Still waiting for a permit: the wait is over, refused.
                let bit = attempt_bit(event.arg);
                match self.calls.get(h) {
                    Some(c)
                        if !c.plain && c.outstanding(event.arg) && self.exts[h.index as usize].waiting & bit != 0 =>
                    {
                        self.exts[h.index as usize].waiting &= !bit;
                        let pol = self.exts[h.index as usize].pol;
                        self.bulkheads[pol.bulkhead as usize].refused += 1;
                        self.attempt_ended(h, event.arg, Outcome::Refused, now, q)
                    }
                    _ => Ok(()),
                }
            }
            Kind::Fallback => {
                let Some(&call) = self.calls.get(h) else { return Ok(()) };
                match self.conclude(h, &call, Outcome::Degraded, now, q)? {
                    Some((job_h, answer)) => self.reply(job_h, answer, now, q),
                    None => Ok(()),
                }
            }
            Kind::Hedge => match self.calls.get(h) {
                // Still waiting, and no copy went out since this timer was set.
                Some(call) if call.waiting && call.hedge_mask != 0 && call.attempt == event.arg => {
                    if call.parent != Handle::NONE && self.jobs.get(call.parent).is_none() {
                        return Ok(());
                    }
                    self.send_hedge(h, now, q)
                }
                _ => Ok(()),
            },
        }
    }
}

#[inline]
fn sample_opt(d: &Option<Dist>, rng: &mut Stream) -> Nanos {
    match d {
        Some(d) => d.sample(rng),
        None => 0,
    }
}
