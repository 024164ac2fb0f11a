//! The model's run-time records: calls, the policy state of calls that have some, jobs, and
//! instances. Plain data with small helpers; nothing here schedules an event.

use crate::outcome::Outcome;
use cellsim_sim::{Handle, Nanos};
use std::collections::VecDeque;

/// Marks a request or job from the warm-up: simulated, not counted.
pub(super) const UNCOUNTED: u8 = u8::MAX;

/// A logical call from a caller (a job, or the client for a root call) to a service,
/// spanning its retries.
#[derive(Clone, Copy)]
pub(super) struct Call {
    /// The calling job; `Handle::NONE` for the client's root call.
    pub(super) parent: Handle,
    pub(super) spec: u32,
    pub(super) type_id: u16,
    /// Root calls: index into `request_stats`, and the workload.
    pub(super) stats: u32,
    pub(super) workload: u16,
    /// The attempt in progress or next to start, from 1 (at most 100 retries or 5 hedges).
    pub(super) attempt: u16,
    /// The request's customer (its global id), copied into every call of the request when
    /// the scenario has a topology (routers and per-customer counts read it).
    pub(super) customer: u32,
    /// An attempt is out and not yet answered or timed out.
    pub(super) waiting: bool,
    /// Root calls: the batch of the measurement window the request started in, or
    /// `UNCOUNTED` if it started during the warm-up.
    pub(super) batch: u8,
    /// Root calls: when the request started; others: unused.
    pub(super) started_ns: Nanos,
    /// No policy beyond timeouts and plain retries: `exts` holds nothing for this call.
    pub(super) plain: bool,

    /// Hedged calls: bit k - 1 set while copy k is out. Always 0 for other calls.
    pub(super) hedge_mask: u8,
    /// A call repeated in sequence: the copies still to make after this one.
    pub(super) repeats_left: u16,
}

impl Call {
    /// A call that job `parent` makes at `now`, its first attempt about to go out.
    #[inline(always)]
    pub(super) fn of_job(
        parent: Handle,
        spec: u32,
        type_id: u16,
        plain: bool,
        repeats_left: u16,
        customer: u32,
        now: Nanos,
    ) -> Call {
        Call {
            parent,
            spec,
            type_id,
            stats: 0,
            workload: 0,
            attempt: 1,
            customer,
            waiting: true,
            batch: UNCOUNTED,
            started_ns: now,
            plain,
            hedge_mask: 0,
            repeats_left,
        }
    }

    /// Is attempt `attempt` still awaited?
    #[inline]
    pub(super) fn outstanding(&self, attempt: u32) -> bool {
        if self.hedge_mask == 0 {
            self.attempt as u32 == attempt && self.waiting
        } else {
            attempt <= 8 && self.hedge_mask & (1 << (attempt - 1)) != 0
        }
    }
}

/// No budget (breaker, bulkhead), or no retry yet.
pub(super) const NO_BUDGET: u32 = u32::MAX;

/// What a call with policies keeps beyond `Call`, in `exts` at the call's slab index (so a
/// plain call, the common case, carries and copies none of it).
#[derive(Clone, Copy)]
pub(super) struct CallExt {
    pub(super) pol: Pol,
    /// What the budget granted the last retry (refunded on success), or `NO_BUDGET` if the
    /// call was never retried.
    pub(super) last_cost: u32,
    /// The previous backoff wait (decorrelated jitter), 0 before the first retry.
    pub(super) prev_backoff_ns: Nanos,
    /// When the attempt in progress was sent (breakers time calls).
    pub(super) attempt_started_ns: Nanos,
    /// The call's own deadline over all its attempts: a workload's `deadline`, or the
    /// calling job's propagated one (`Nanos::MAX`: none).
    pub(super) deadline_ns: Nanos,
    /// The deadline of the attempt in progress (its timeout or the call's deadline), kept
    /// for an attempt that waits for a bulkhead permit before it is sent.
    pub(super) attempt_deadline_ns: Nanos,
    /// Bit (attempt - 1) % 16: that attempt holds a bulkhead permit, or waits for one. (One
    /// attempt is out at a time, or at most 5 hedged copies, so bits do not collide.)
    pub(super) permits: u16,
    pub(super) waiting: u16,
    /// A router's call: the cell its last attempt went to (`CELL_BITS`), and in the top bit
    /// whether it went through that cell's breaker at the router.
    pub(super) cell: u16,
}

/// The cell in `CallExt::cell`; the bit above it says the attempt went through the cell's
/// breaker at the router.
pub(super) const CELL_BITS: u16 = 0x7fff;
pub(super) const THROUGH_BREAKER: u16 = 0x8000;

/// `CallExt::attempt_started_ns` of an attempt that was never sent because the call's
/// deadline had passed: its policies did not see it start and must not hear of its end.
pub(super) const UNSENT: Nanos = Nanos::MAX;

/// The bit of `attempt` in `CallExt::permits` and `CallExt::waiting`.
#[inline]
pub(super) fn attempt_bit(attempt: u32) -> u16 {
    1 << ((attempt - 1) % 16)
}

/// What a call's policies say before an attempt goes out.
pub(super) enum Permit {
    Send,
    Refuse,
    /// Queued for a bulkhead permit: it goes out when one frees.
    Wait,
}

impl CallExt {
    pub(super) const EMPTY: CallExt = CallExt {
        pol: Pol::NONE,
        last_cost: NO_BUDGET,
        prev_backoff_ns: 0,
        attempt_started_ns: 0,
        deadline_ns: Nanos::MAX,
        attempt_deadline_ns: Nanos::MAX,
        permits: 0,
        waiting: 0,
        cell: 0,
    };
}

/// A call's copies of its policies: indexes into the model's `budgets`, `breakers` and
/// `bulkheads`, each `NO_BUDGET` when the call has none.
#[derive(Clone, Copy)]
pub(super) struct Pol {
    pub(super) budget: u32,
    pub(super) breaker: u32,
    pub(super) bulkhead: u32,
    pub(super) throttle: u32,
}

impl Pol {
    pub(super) const NONE: Pol =
        Pol { budget: NO_BUDGET, breaker: NO_BUDGET, bulkhead: NO_BUDGET, throttle: NO_BUDGET };
}

/// What `request_done` needs of a root call that has just been freed.
pub(super) struct Finished {
    pub(super) started_ns: Nanos,
    pub(super) workload: u16,
    pub(super) batch: u8,
    pub(super) stats: u32,
    pub(super) attempts: u32,
    pub(super) customer: u32,
}

/// What identifies a job before it reaches its instance.
#[derive(Clone, Copy)]
pub(super) struct JobSeed {
    pub(super) call: Handle,
    pub(super) attempt: u32,
    pub(super) service: u32,
    /// The operation, an index into the service's.
    pub(super) op: u16,
    pub(super) type_id: u16,
    /// The deadline the caller sent (`Nanos::MAX`: none).
    pub(super) deadline_ns: Nanos,
    /// The request's customer (see `Call::customer`).
    pub(super) customer: u32,
    /// The instance picked when the attempt was sent (scenarios with a topology pick
    /// before the network, whose latency depends on the instance's zone), or `TRAVELLING`:
    /// picked on arrival.
    pub(super) instance: u32,
}

impl JobSeed {
    #[inline(always)]
    pub(super) fn job(
        self,
        plan: (u32, u16),
        instance: u32,
        batch: u8,
        arrived_ns: Nanos,
        work_started_ns: Nanos,
    ) -> Job {
        Job {
            plan_first: plan.0,
            plan_steps: plan.1,
            call: self.call,
            attempt: self.attempt as u16,
            service: self.service as u16,
            customer: self.customer,
            op: self.op,
            instance,
            type_id: self.type_id,
            batch,
            answer: Outcome::Ok,
            arrived_ns,
            work_started_ns,
            step: 0,
            pending: 0,
            deferred: 0,
            deadline_ns: self.deadline_ns,
        }
    }
}

/// What ending a job reads of it, field by field: a copy of the whole record, read just
/// after `conclude` wrote its step counters, was a store-forwarding stall on every reply.
#[derive(Clone, Copy)]
pub(super) struct JobEnd {
    pub(super) call: Handle,
    pub(super) attempt: u32,
    pub(super) service: u32,
    pub(super) op: u16,
    pub(super) instance: u32,
    pub(super) batch: u8,
    pub(super) arrived_ns: Nanos,
    pub(super) work_started_ns: Nanos,
}

impl JobEnd {
    #[inline(always)]
    pub(super) fn of(job: &Job) -> JobEnd {
        JobEnd {
            call: job.call,
            attempt: job.attempt as u32,
            service: job.service as u32,
            op: job.op,
            instance: job.instance,
            batch: job.batch,
            arrived_ns: job.arrived_ns,
            work_started_ns: job.work_started_ns,
        }
    }
}

/// One call attempt at one instance: 64 bytes, a cache line.
#[derive(Clone, Copy)]
pub(super) struct Job {
    /// The job's plan, resolved once: its steps are `steps[plan_first..plan_first + plan_steps]`
    /// of the model's flattened step table.
    pub(super) plan_first: u32,
    pub(super) plan_steps: u16,
    pub(super) step: u16,
    pub(super) call: Handle,
    /// From 1 (see `Call::attempt`).
    pub(super) attempt: u16,
    /// At most 65,535 services (checked by the compiler).
    pub(super) service: u16,
    /// The request's customer (see `Call::customer`).
    pub(super) customer: u32,
    pub(super) instance: u32,
    pub(super) type_id: u16,
    /// The batch the job arrived in, or `UNCOUNTED` if it arrived during the warm-up.
    pub(super) batch: u8,
    /// The answer so far: `Ok`, `Degraded` (an optional call failed, or a callee answered
    /// degraded), or `Error` (a call awaited at the end failed).
    pub(super) answer: Outcome,
    pub(super) arrived_ns: Nanos,
    pub(super) work_started_ns: Nanos,
    /// Calls of the current step still out.
    pub(super) pending: u32,
    /// The operation, an index into the service's.
    pub(super) op: u16,
    /// Calls awaited when the operation ends (`wait = "end"`) still out.
    pub(super) deferred: u16,
    /// Nobody waits for the answer after this (a propagated deadline); `Nanos::MAX`: none.
    pub(super) deadline_ns: Nanos,
}

impl Job {
    /// An optional call failed, or a callee answered degraded.
    #[inline]
    pub(super) fn degrade(&mut self) {
        if self.answer == Outcome::Ok {
            self.answer = Outcome::Degraded;
        }
    }
}

pub(super) struct Instance {
    pub(super) busy: u32,
    pub(super) queue: VecDeque<Handle>,
    /// Jobs present (kept only for services with `max_in_flight`).
    pub(super) in_system: u32,
    /// When the queue was last empty (kept only for shedding services: CoDel, LIFO).
    pub(super) last_empty_ns: Nanos,
    /// Jobs admitted after the warm-up, and worker time spent in the window.
    pub(super) jobs: u64,
    pub(super) busy_ns: u128,
    /// Worker time spent since the start, warm-up and drain included (what autoscalers
    /// measure).
    pub(super) work_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job is one cache line and a call stays at 40 bytes: operations, deferred calls and
    /// repetitions fit in what was padding or wider than it needed to be.
    #[test]
    fn records_keep_their_size() {
        assert_eq!(std::mem::size_of::<Job>(), 64);
        assert_eq!(std::mem::size_of::<Call>(), 40);
    }
}
