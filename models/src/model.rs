//! The service model at run time: requests arrive, become call attempts, wait in instance
//! queues for workers, do their own work, make their downstream calls step by step, and
//! reply. This is the only module that implements `cellsim_sim::Model`.
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

use crate::dist::{round_ns, Dist, Draws};
use crate::fleet::{Fleet, LbKind};
use crate::metrics::*;
use crate::policy::backoff::BackoffKind;
use crate::policy::breaker::Breaker;
use crate::policy::budget::Budget;
use crate::policy::bulkhead::Bulkhead;
use crate::policy::throttle::Throttle;
use crate::spec::{Arrival, Spec};
use crate::spec::{QueueDiscipline, Scope, SheddingSpec};
use cellsim_sim::{EventQueue, Handle, Model, Nanos, Slab, Stream, NS_PER_S};
use rand_distr::{Distribution, Exp1};
use std::collections::VecDeque;

/// What an event does; the arguments live in `Event`'s other fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// `arg`: the workload.
    Arrival,
    /// `handle`: the job, reaching its instance after network latency.
    JobArrive,
    /// `handle`: the job whose own work ended.
    WorkDone,
    /// `handle`: the call; `arg`: the attempt; `outcome`: the answer.
    Reply,
    /// `arg`: the call spec whose timeout lane has reached its head's deadline.
    TimeoutLane,
    /// `handle`: the call whose backoff ended.
    Retry,
    /// `handle`: a hedged call; `arg`: its copies sent when this timer was set.
    Hedge,
    /// `handle`: a failed call whose fallback answered.
    Fallback,
    /// `arg`: the service whose instances are health-checked now.
    HealthTick,
    /// `arg`: the service whose outlier detection runs its interval now.
    OutlierSweep,
    /// `handle`: the call; `arg`: the attempt whose deadline (capped by the call's own
    /// deadline, so not in a timeout lane) has passed.
    AttemptDeadline,
    /// `arg`: a bulkhead that has a free permit and attempts waiting for one.
    BulkheadPump,
    /// `handle`: the call; `arg`: the attempt whose wait for a bulkhead permit is over.
    BulkheadWait,
}

/// One scheduled event: 16 bytes, 8-aligned, copied as two words. (A Rust enum with these
/// payloads is 15 bytes, and its copies in the event loop were overlapping 8-byte moves that
/// stall store-to-load forwarding.)
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
pub struct Event {
    kind: Kind,
    outcome: Outcome,
    arg: u32,
    handle: Handle,
}

impl Event {
    fn new(kind: Kind, handle: Handle, arg: u32) -> Event {
        Event { kind, outcome: Outcome::Ok, arg, handle }
    }
}

/// What the model's handlers return to stop the run: the reason waits in
/// `ServiceModel::overload`. (A bare marker keeps the handlers' results small enough to come
/// back in registers: with the reason inside, `resolve`'s result went through the stack and
/// was read back wider than it was written, a store-forwarding stall on every answer.)
#[derive(Clone, Copy, Debug)]
pub struct Halt;

/// Why a run was stopped before its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overload {
    /// More end-to-end requests in flight than `limits.max_in_flight_requests`.
    Requests { limit: u64 },
    /// More service jobs at once than `limits.max_in_flight_jobs`.
    Jobs { limit: u64 },
}

#[derive(Clone, Copy)]
/// A logical call from a caller (a job, or the client for a root call) to a service,
/// spanning its retries.
struct Call {
    /// The calling job; `Handle::NONE` for the client's root call.
    parent: Handle,
    spec: u32,
    type_id: u16,
    /// Root calls: index into `request_stats`, and the workload.
    stats: u32,
    workload: u16,
    /// The attempt in progress or next to start, from 1.
    attempt: u32,
    /// An attempt is out and not yet answered or timed out.
    waiting: bool,
    /// Root calls: the batch of the measurement window the request started in, or
    /// `UNCOUNTED` if it started during the warm-up.
    batch: u8,
    /// Root calls: when the request started; others: unused.
    started_ns: Nanos,
    /// No policy beyond timeouts and plain retries: `exts` holds nothing for this call.
    plain: bool,

    /// Hedged calls: bit k - 1 set while copy k is out. Always 0 for other calls.
    hedge_mask: u8,
}

impl Call {
    /// Is attempt `attempt` still awaited?
    #[inline]
    fn outstanding(&self, attempt: u32) -> bool {
        if self.hedge_mask == 0 {
            self.attempt == attempt && self.waiting
        } else {
            attempt <= 8 && self.hedge_mask & (1 << (attempt - 1)) != 0
        }
    }
}

/// No budget (breaker, bulkhead), or no retry yet.
const NO_BUDGET: u32 = u32::MAX;

/// What a call with policies keeps beyond `Call`, in `exts` at the call's slab index (so a
/// plain call, the common case, carries and copies none of it).
#[derive(Clone, Copy)]
struct CallExt {
    pol: Pol,
    /// What the budget granted the last retry (refunded on success), or `NO_BUDGET` if the
    /// call was never retried.
    last_cost: u32,
    /// The previous backoff wait (decorrelated jitter), 0 before the first retry.
    prev_backoff_ns: Nanos,
    /// When the attempt in progress was sent (breakers time calls).
    attempt_started_ns: Nanos,
    /// The call's own deadline over all its attempts: a workload's `deadline`, or the
    /// calling job's propagated one (`Nanos::MAX`: none).
    deadline_ns: Nanos,
    /// The deadline of the attempt in progress (its timeout or the call's deadline), kept
    /// for an attempt that waits for a bulkhead permit before it is sent.
    attempt_deadline_ns: Nanos,
    /// Bit (attempt - 1) % 16: that attempt holds a bulkhead permit, or waits for one. (One
    /// attempt is out at a time, or at most 5 hedged copies, so bits do not collide.)
    permits: u16,
    waiting: u16,
}

/// The bit of `attempt` in `CallExt::permits` and `CallExt::waiting`.
#[inline]
fn attempt_bit(attempt: u32) -> u16 {
    1 << ((attempt - 1) % 16)
}

/// What a call's policies say before an attempt goes out.
enum Permit {
    Send,
    Refuse,
    /// Queued for a bulkhead permit: it goes out when one frees.
    Wait,
}

impl CallExt {
    const EMPTY: CallExt = CallExt {
        pol: Pol::NONE,
        last_cost: NO_BUDGET,
        prev_backoff_ns: 0,
        attempt_started_ns: 0,
        deadline_ns: Nanos::MAX,
        attempt_deadline_ns: Nanos::MAX,
        permits: 0,
        waiting: 0,
    };
}

/// A call's copies of its policies: indexes into the model's `budgets`, `breakers` and
/// `bulkheads`, each `NO_BUDGET` when the call has none.
#[derive(Clone, Copy)]
struct Pol {
    budget: u32,
    breaker: u32,
    bulkhead: u32,
    throttle: u32,
}

impl Pol {
    const NONE: Pol = Pol { budget: NO_BUDGET, breaker: NO_BUDGET, bulkhead: NO_BUDGET, throttle: NO_BUDGET };
}

/// What `request_done` needs of a root call that has just been freed.
struct Finished {
    started_ns: Nanos,
    workload: u16,
    batch: u8,
    stats: u32,
    attempts: u32,
}

/// What identifies a job before it reaches its instance.
#[derive(Clone, Copy)]
struct JobSeed {
    call: Handle,
    attempt: u32,
    service: u32,
    type_id: u16,
    /// The deadline the caller sent (`Nanos::MAX`: none).
    deadline_ns: Nanos,
}

impl JobSeed {
    #[inline(always)]
    fn job(self, plan: (u32, u32), instance: u32, batch: u8, arrived_ns: Nanos, work_started_ns: Nanos) -> Job {
        Job {
            plan_first: plan.0,
            plan_steps: plan.1,
            call: self.call,
            attempt: self.attempt,
            service: self.service,
            instance,
            type_id: self.type_id,
            batch,
            degraded: false,
            arrived_ns,
            work_started_ns,
            step: 0,
            pending: 0,
            deadline_ns: self.deadline_ns,
        }
    }
}

/// What ending a job reads of it, field by field: a copy of the whole record, read just
/// after `conclude` wrote its step counters, was a store-forwarding stall on every reply.
#[derive(Clone, Copy)]
struct JobEnd {
    call: Handle,
    attempt: u32,
    service: u32,
    instance: u32,
    batch: u8,
    arrived_ns: Nanos,
    work_started_ns: Nanos,
}

impl JobEnd {
    #[inline(always)]
    fn of(job: &Job) -> JobEnd {
        JobEnd {
            call: job.call,
            attempt: job.attempt,
            service: job.service,
            instance: job.instance,
            batch: job.batch,
            arrived_ns: job.arrived_ns,
            work_started_ns: job.work_started_ns,
        }
    }
}

#[derive(Clone, Copy)]
struct Job {
    /// The job's plan, resolved once: its steps are `steps[plan_first..plan_first + plan_steps]`
    /// of the model's flattened step table.
    plan_first: u32,
    plan_steps: u32,
    call: Handle,
    attempt: u32,
    service: u32,
    instance: u32,
    type_id: u16,
    /// The batch the job arrived in, or `UNCOUNTED` if it arrived during the warm-up.
    batch: u8,
    degraded: bool,
    arrived_ns: Nanos,
    work_started_ns: Nanos,
    step: u32,
    pending: u32,
    /// Nobody waits for the answer after this (a propagated deadline); `Nanos::MAX`: none.
    deadline_ns: Nanos,
}

struct Instance {
    busy: u32,
    queue: VecDeque<Handle>,
    /// Jobs present (kept only for services with `max_in_flight`).
    in_system: u32,
    /// When the queue was last empty (kept only for shedding services: CoDel, LIFO).
    last_empty_ns: Nanos,
}

/// A service at run time: what the hot path reads of its spec, its round-robin position, its
/// random stream and its statistics, in one record so that a hop indexes one place.
struct ServiceRt {
    first_instance: u32,
    next_instance: u32,
    instances: u32,
    workers: u32,
    queue_capacity: usize,
    hold_worker_during_calls: bool,
    /// By global request type: the plan's place in the step table.
    plan_by_type: Vec<(u32, u32)>,
    service_time: Dist,
    /// Work times, drawn ahead in batches from the service's own stream.
    work_draws: Draws,
    error_probability: f64,
    error_rng: Stream,
    /// cpu-stress windows: work started in [start, end) at instances [first, first +
    /// count) takes `multiplier` times as long.
    slowdowns: Vec<(Nanos, Nanos, f64, u32, u32)>,
    /// Load balancing beyond round robin, health checks, outlier ejection, outages; `None`
    /// for a plain round-robin service (the fast path).
    fleet: Option<Box<Fleet>>,
    shedding: SheddingSpec,
    /// A free worker may drop or reorder queued jobs (LIFO, CoDel, expired deadlines).
    sheds: bool,
    stats: ServiceStats,
    /// Become `stats.sojourn` and `stats.wait` when the run ends.
    sojourn: LatencyRecorder,
    wait: LatencyRecorder,
    batches: [ServiceBatch; BATCHES],
}

struct CallRt {
    network_rng: Stream,
    backoff_rng: Stream,
    fallback_rng: Stream,
    /// Where the call's retry budgets, breakers and bulkheads sit in the model's tables.
    budget: Slots,
    breaker: Slots,
    bulkhead: Slots,
    throttle: Slots,
    throttle_rng: Stream,
    caller_first_instance: u32,
    /// No budget, breaker, bulkhead, hedging, fallback or decorrelated backoff.
    plain: bool,
    /// No bulkhead, throttling or hedging: an attempt's start only asks the breaker and the
    /// budget (`start_attempt`'s inline gate), and a success only tells them (`resolve`'s
    /// inline path).
    gated_only: bool,
    /// Some policy is kept per calling instance; if not, every call uses `shared`.
    per_instance: bool,
    shared: Pol,
}

/// A call declaration's copies of one policy in its table: `copies` of them from `base`
/// (`NO_BUDGET` if the call has none), one per calling instance or one shared.
#[derive(Clone, Copy)]
struct Slots {
    base: u32,
    copies: u32,
    per_instance: bool,
}

impl CallRt {
    /// The policies of a call made by `instance` (ignored for workload requests and shared
    /// scopes).
    #[inline]
    fn pol(&self, instance: u32) -> Pol {
        let first = self.caller_first_instance;
        if !self.per_instance {
            return self.shared;
        }
        Pol {
            budget: self.budget.pick(instance, first),
            breaker: self.breaker.pick(instance, first),
            bulkhead: self.bulkhead.pick(instance, first),
            throttle: self.throttle.pick(instance, first),
        }
    }
}

impl Slots {
    const NONE: Slots = Slots { base: NO_BUDGET, copies: 0, per_instance: false };

    /// Reserves the copies a call needs in a table of `len` entries; returns the slots.
    fn reserve(len: usize, scope: Scope, caller_instances: Option<u32>) -> Slots {
        let per_instance = scope == Scope::Instance && caller_instances.is_some();
        let copies = if per_instance { caller_instances.unwrap_or(1) } else { 1 };
        Slots { base: len as u32, copies, per_instance }
    }

    /// The copy used by a call from `instance` (whose service's first instance is `first`).
    #[inline]
    fn pick(self, instance: u32, first: u32) -> u32 {
        match (self.base, self.per_instance) {
            (NO_BUDGET, _) => NO_BUDGET,
            (base, true) => base + (instance - first),
            (base, false) => base,
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        if self.base == NO_BUDGET {
            0..0
        } else {
            self.base as usize..(self.base + self.copies) as usize
        }
    }
}

struct WorkloadRt {
    /// Poisson gaps, drawn ahead in batches from the workload's arrivals stream.
    gaps: Draws,
    /// The same stream, for schedules (a workload uses one of the two).
    arrival_rng: Stream,
    mix_rng: Stream,
    customer_rng: Stream,
    /// For constant-rate arrivals: arrivals so far, so times do not drift.
    count: u64,
    /// For Poisson arrivals: 1 / rate, in nanoseconds.
    mean_interarrival_ns: f64,
    /// Per request type of this workload: index into `request_stats`.
    stats: Vec<u32>,
}

/// The pending timeouts of one call spec. Every attempt on a call spec has the same timeout,
/// so deadlines arrive in the order attempts start: a FIFO holds them and only the earliest
/// deadline of an attempt still waiting sits in the event queue. A timeout that never fires
/// (the attempt was answered) costs a push and a pop here, not an event.
///
/// Invariant: while `pending` is not empty, an event is armed no later than the expiry of
/// its first waiting entry (or the lane is being processed by `timeout_lane`, which re-arms it).
#[derive(Default)]
struct TimeoutLane {
    /// (expiry: the deadline + 1 ns, call, attempt).
    pending: VecDeque<(Nanos, Handle, u32)>,
    /// An event for this lane is in the event queue.
    armed: bool,
}

/// Per workload, the requests that finished in the current bucket.
struct Bucket {
    outcomes: Outcomes,
    latency: SeriesHistogram,
}

/// `RICH`: the scenario uses a call policy or a fleet feature; `EXTRAS`: deadlines, load
/// shedding, faults or error probabilities.
/// A scenario that uses none runs the `false` instantiation, from which the compiler removes
/// every such check: what a scenario does not use costs it nothing.
pub struct ServiceModel<'s, S: SeriesSink, const RICH: bool, const EXTRAS: bool> {
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
    workloads: Vec<WorkloadRt>,
    /// The measurement window: [warmup, duration].
    window: (Nanos, Nanos),
    /// The batch that `now` falls in (`UNCOUNTED` during the warm-up) and when it ends:
    /// time only moves forward, so the batch advances by comparison, not division.
    batch_now: u8,
    batch_end_ns: Nanos,
    /// The window's width over BATCHES, at least 1 ns.
    batch_ns: Nanos,
    pub request_stats: Vec<RequestStats>,
    /// By request stats: latencies of successes and of failures (they become
    /// `latency` and `latency_failed` when the run ends).
    request_latency: Vec<[LatencyRecorder; 2]>,
    buckets: Vec<Bucket>,
    bucket_start_ns: Nanos,
    sink: S,
    requests_in_flight: u64,
    /// Requests that finished before the trigger and in the late window after it, and how
    /// many of each succeeded (see `Stability`).
    stability: Option<Stability>,
    /// Why the run halted (set with the `Halt` that stops it).
    overload: Option<Overload>,
}

/// Goodput before a trigger and long after it: the metastability check.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stability {
    /// Finishes in [warm-up, trigger start) count as "before".
    pub before: (Nanos, Nanos),
    /// Finishes in [trigger end + half of what remains, duration) count as "after".
    pub after: (Nanos, Nanos),
    pub before_ok: u64,
    pub before_total: u64,
    pub after_ok: u64,
    pub after_total: u64,
}

impl<'s, S: SeriesSink, const RICH: bool, const EXTRAS: bool> ServiceModel<'s, S, RICH, EXTRAS> {
    pub fn new(spec: &'s Spec, seed: u64, sink: S) -> Self {
        let batch_ns = ((spec.duration_ns - spec.warmup_ns) / BATCHES as Nanos).max(1);
        let plan_of: Vec<(u32, u32)> = spec
            .plans
            .iter()
            .scan(0u32, |first, p| {
                let at = (*first, p.steps.len() as u32);
                *first += p.steps.len() as u32;
                Some(at)
            })
            .collect();
        let mut instances = Vec::new();
        // Services whose jobs may carry a deadline: some call into them propagates one.
        let mut receives_deadlines = vec![false; spec.services.len()];
        for c in spec.calls.iter().filter(|c| c.propagate_deadline) {
            receives_deadlines[c.to as usize] = true;
        }
        let services = spec
            .services
            .iter()
            .enumerate()
            .map(|(svc_index, s)| {
                let first_instance = instances.len() as u32;
                for _ in 0..s.instances {
                    let cap = (s.queue_capacity as usize).min(1024);
                    instances.push(Instance {
                        busy: 0,
                        queue: VecDeque::with_capacity(cap),
                        in_system: 0,
                        last_empty_ns: 0,
                    });
                }
                let entity = format!("service/{}", s.name);
                ServiceRt {
                    first_instance,
                    next_instance: 0,
                    instances: s.instances,
                    workers: s.workers,
                    queue_capacity: s.queue_capacity as usize,
                    hold_worker_during_calls: s.hold_worker_during_calls,
                    plan_by_type: s.plan_by_type.iter().map(|&p| plan_of[p as usize]).collect(),
                    service_time: s.service_time.clone(),
                    work_draws: Draws::new(Stream::new(seed, &entity, "service_time")),
                    error_probability: s.error_probability,
                    error_rng: Stream::new(seed, &entity, "errors"),
                    slowdowns: s.slowdowns.clone(),
                    shedding: s.shedding,
                    sheds: s.shedding.discipline != QueueDiscipline::Fifo
                        || s.shedding.codel.is_some()
                        || receives_deadlines[svc_index],
                    fleet: (s.fleet.lb != LbKind::RoundRobin
                        || s.fleet.health.is_some()
                        || s.fleet.outlier.is_some()
                        || !s.outages.is_empty())
                    .then(|| {
                        Box::new(Fleet::new(
                            s.instances,
                            s.fleet.lb,
                            s.fleet.weights.clone(),
                            Stream::new(seed, &entity, "load_balancer"),
                            s.fleet.health.clone(),
                            s.fleet.outlier.clone(),
                            s.outages.clone(),
                        ))
                    }),
                    stats: ServiceStats::new(&s.name, s.instances, s.workers),
                    sojourn: LatencyRecorder::default(),
                    wait: LatencyRecorder::default(),
                    batches: [ServiceBatch::default(); BATCHES],
                }
            })
            .collect();
        // Which service makes each call (none for a workload's root call).
        let mut caller_of = vec![None; spec.calls.len()];
        for (s, svc) in spec.services.iter().enumerate() {
            for &p in &svc.plan_by_type {
                for &(a, b) in &spec.plans[p as usize].steps {
                    (a..b).for_each(|c| caller_of[c as usize] = Some(s));
                }
            }
        }
        let mut budgets = Vec::new();
        let mut breakers = Vec::new();
        let mut bulkheads = Vec::new();
        let mut throttles = Vec::new();
        let call_rt = spec
            .calls
            .iter()
            .zip(&caller_of)
            .map(|(c, caller)| {
                let caller_instances = caller.map(|s| spec.services[s].instances);
                let mut slots = (Slots::NONE, Slots::NONE, Slots::NONE, Slots::NONE);
                if let Some((budget, scope)) = c.retry.budget {
                    slots.0 = Slots::reserve(budgets.len(), scope, caller_instances);
                    budgets.extend((0..slots.0.copies).map(|_| Budget::new(budget)));
                }
                if let Some((breaker, scope)) = c.breaker {
                    slots.1 = Slots::reserve(breakers.len(), scope, caller_instances);
                    breakers.extend((0..slots.1.copies).map(|_| Breaker::new(breaker)));
                }
                if let Some(b) = c.bulkhead {
                    slots.2 = Slots::reserve(bulkheads.len(), b.scope, caller_instances);
                    bulkheads.extend(
                        (0..slots.2.copies).map(|_| Bulkhead::new(b.max_concurrent, b.max_pending, b.max_wait_ns)),
                    );
                }
                if let Some((k, window_s, scope)) = c.throttle {
                    slots.3 = Slots::reserve(throttles.len(), scope, caller_instances);
                    throttles.extend((0..slots.3.copies).map(|_| Throttle::new(k, window_s)));
                }
                CallRt {
                    network_rng: Stream::new(seed, &c.name, "network"),
                    backoff_rng: Stream::new(seed, &c.name, "backoff"),
                    fallback_rng: Stream::new(seed, &c.name, "fallback"),
                    budget: slots.0,
                    breaker: slots.1,
                    bulkhead: slots.2,
                    throttle: slots.3,
                    per_instance: slots.0.per_instance
                        || slots.1.per_instance
                        || slots.2.per_instance
                        || slots.3.per_instance,
                    shared: Pol {
                        budget: slots.0.base,
                        breaker: slots.1.base,
                        bulkhead: slots.2.base,
                        throttle: slots.3.base,
                    },
                    throttle_rng: Stream::new(seed, &c.name, "throttle"),
                    caller_first_instance: caller.map_or(0, |s| services_first_instance(spec, s)),
                    plain: c.deadline_ns == 0
                        && !caller.is_some_and(|s| receives_deadlines[s])
                        && c.retry.budget.is_none()
                        && c.breaker.is_none()
                        && c.bulkhead.is_none()
                        && c.throttle.is_none()
                        && c.hedge.is_none()
                        && c.fallback.is_none()
                        && c.retry.backoff.kind != BackoffKind::DecorrelatedJitter,
                    gated_only: c.bulkhead.is_none() && c.throttle.is_none() && c.hedge.is_none(),
                }
            })
            .collect();
        let mut request_stats = Vec::new();
        let workloads = spec
            .workloads
            .iter()
            .map(|w| {
                let entity = format!("workload/{}", w.name);
                let stats = w
                    .requests
                    .iter()
                    .map(|r| {
                        request_stats.push(RequestStats::new(&w.name, &r.name));
                        (request_stats.len() - 1) as u32
                    })
                    .collect();
                WorkloadRt {
                    gaps: Draws::new(Stream::new(seed, &entity, "arrivals")),
                    arrival_rng: Stream::new(seed, &entity, "arrivals"),
                    mix_rng: Stream::new(seed, &entity, "mix"),
                    customer_rng: Stream::new(seed, &entity, "customers"),
                    count: 0,
                    mean_interarrival_ns: NS_PER_S as f64 / w.arrival.mean_rate_per_s(),
                    stats,
                }
            })
            .collect();
        let buckets = spec
            .workloads
            .iter()
            .map(|_| Bucket { outcomes: Outcomes::default(), latency: SeriesHistogram::default() })
            .collect();
        ServiceModel {
            spec,
            calls: Slab::with_capacity_limit(spec.max_in_flight_jobs as usize + spec.max_in_flight_requests as usize),
            jobs: Slab::with_capacity_limit(spec.max_in_flight_jobs as usize),
            instances,
            services,
            call_rt,
            lanes: spec.calls.iter().map(|_| TimeoutLane::default()).collect(),
            budgets,
            breakers,
            bulkheads,
            throttles,
            exts: Vec::new(),
            steps: spec.plans.iter().flat_map(|p| p.steps.iter().copied()).collect(),
            workloads,
            window: (spec.warmup_ns, spec.duration_ns),
            batch_now: if spec.warmup_ns == 0 { 0 } else { UNCOUNTED },
            batch_end_ns: if spec.warmup_ns == 0 { batch_ns } else { spec.warmup_ns },
            batch_ns,
            request_latency: request_stats.iter().map(|_| Default::default()).collect(),
            request_stats,
            buckets,
            bucket_start_ns: 0,
            sink,
            requests_in_flight: 0,
            overload: None,
            stability: spec.trigger.map(|(start, end)| {
                let end = end.min(spec.duration_ns);
                Stability {
                    before: (spec.warmup_ns, start.max(spec.warmup_ns)),
                    after: (end + (spec.duration_ns - end) / 2, spec.duration_ns),
                    ..Stability::default()
                }
            }),
        }
    }

    /// Schedules each workload's first arrival.
    pub fn start(&mut self, q: &mut EventQueue<Event>) {
        for w in 0..self.spec.workloads.len() {
            self.schedule_arrival(w as u32, 0, q);
        }
        for (s, svc) in self.spec.services.iter().enumerate() {
            if let Some(h) = &svc.fleet.health {
                q.schedule_at(h.interval_ns, Event::new(Kind::HealthTick, Handle::NONE, s as u32));
            }
            if let Some(o) = &svc.fleet.outlier {
                q.schedule_at(o.interval_ns, Event::new(Kind::OutlierSweep, Handle::NONE, s as u32));
            }
        }
    }

    /// Requests still in flight (started, not finished).
    pub fn requests_in_flight(&self) -> u64 {
        self.requests_in_flight
    }

    /// Closes the series up to `end_ns`; returns the records and the sink.
    /// The stability counters, when the scenario has a trigger.
    pub fn stability(&self) -> Option<Stability> {
        self.stability
    }

    pub fn finish(mut self, end_ns: Nanos) -> (Vec<RequestStats>, Vec<ServiceStats>, Vec<PolicyStats>, S) {
        self.close_buckets_before(end_ns.max(self.bucket_start_ns) + 1, true);
        let mut policies = Vec::new();
        for (c, rt) in self.spec.calls.iter().zip(&self.call_rt) {
            let mut push = |policy: &'static str, kind: &'static str, copies: usize, opened: u64, refused: u64| {
                policies.push(PolicyStats {
                    call: c.name.clone(),
                    policy,
                    kind,
                    copies: copies as u32,
                    opened,
                    refused,
                })
            };
            if let Some((budget, _)) = c.retry.budget {
                let all = &self.budgets[rt.budget.range()];
                push("retry-budget", budget.name(), all.len(), 0, all.iter().map(|b| b.refused).sum());
            }
            if let Some((breaker, _)) = c.breaker {
                let all = &self.breakers[rt.breaker.range()];
                let opened = all.iter().map(|b| b.opened).sum();
                push("breaker", breaker.name(), all.len(), opened, all.iter().map(|b| b.refused).sum());
            }
            if c.throttle.is_some() {
                let all = &self.throttles[rt.throttle.range()];
                push("adaptive-throttling", "sre", all.len(), 0, all.iter().map(|t| t.refused).sum());
            }
            if c.bulkhead.is_some() {
                let all = &self.bulkheads[rt.bulkhead.range()];
                push("bulkhead", "semaphore", all.len(), 0, all.iter().map(|b| b.refused).sum());
            }
        }
        let services = self
            .services
            .into_iter()
            .map(|mut rt| {
                rt.stats.fold_batches(&rt.batches);
                rt.stats.sojourn = rt.sojourn.into_histogram();
                rt.stats.wait = rt.wait.into_histogram();
                rt.stats.fleet = rt.fleet.as_ref().map(|f| f.stats);
                rt.stats
            })
            .collect();
        for (st, [ok, failed]) in self.request_stats.iter_mut().zip(self.request_latency) {
            st.latency = ok.into_histogram();
            st.latency_failed = failed.into_histogram();
        }
        (self.request_stats, services, policies, self.sink)
    }

    /// Records why the run must stop; the caller returns the `Halt`.
    #[cold]
    fn halt(&mut self, why: Overload) -> Halt {
        self.overload = Some(why);
        Halt
    }

    // ----- arrivals -----

    fn schedule_arrival(&mut self, w: u32, now: Nanos, q: &mut EventQueue<Event>) {
        let rt = &mut self.workloads[w as usize];
        let next = match &self.spec.workloads[w as usize].arrival {
            Arrival::Poisson { .. } => {
                let mean_ns = rt.mean_interarrival_ns;
                now + rt.gaps.next_with(|rng| round_ns(mean_ns * Distribution::<f64>::sample(&Exp1, rng)))
            }
            Arrival::Constant { rate_per_s } => {
                rt.count += 1;
                round_ns(rt.count as f64 * NS_PER_S as f64 / rate_per_s)
            }
            Arrival::Schedule { steps, period_ns } => {
                next_scheduled(now, steps, *period_ns, self.spec.duration_ns, &mut rt.arrival_rng)
            }
        };
        if next < self.spec.duration_ns {
            q.schedule_at(next, Event::new(Kind::Arrival, Handle::NONE, w));
        }
    }

    fn arrival(&mut self, w: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        self.schedule_arrival(w, now, q);
        if self.requests_in_flight >= self.spec.max_in_flight_requests {
            return Err(self.halt(Overload::Requests { limit: self.spec.max_in_flight_requests }));
        }
        let ws = &self.spec.workloads[w as usize];
        let rt = &mut self.workloads[w as usize];
        let r = if ws.requests.len() == 1 {
            0
        } else {
            let u = rt.mix_rng.unit();
            ws.cumulative_mix.partition_point(|&c| c <= u).min(ws.requests.len() - 1)
        };
        if ws.customers > 1 {
            // Drawn for every request so the stream does not depend on what uses it.
            let _customer = rt.customer_rng.below(ws.customers);
        }
        let req = &ws.requests[r];
        let call = Call {
            parent: Handle::NONE,
            spec: req.call,
            type_id: req.type_id,
            stats: rt.stats[r],
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
        if RICH && !plain {
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
        let call_deadline =
            if !(RICH && EXTRAS) || plain { Nanos::MAX } else { self.exts[call_h.index as usize].deadline_ns };
        let deadline = timeout_at.min(call_deadline);
        if deadline <= now {
            // The call's own deadline has passed: the attempt is not sent.
            let event = Event { kind: Kind::Reply, outcome: Outcome::Timeout, arg: attempt, handle: call_h };
            return self.after(0, event, now, q);
        }
        let mut waits = false;
        if RICH && !plain && self.call_rt[spec as usize].gated_only {
            // What `policies_permit` does without a bulkhead, throttling or hedging.
            let ext = &mut self.exts[call_h.index as usize];
            ext.attempt_deadline_ns = deadline;
            ext.attempt_started_ns = now;
            if !self.gate(call_h, attempt, now, q) {
                let event = Event { kind: Kind::Reply, outcome: Outcome::Refused, arg: attempt, handle: call_h };
                return self.after(0, event, now, q);
            }
        } else if RICH && !plain {
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
            let was_empty = lane.pending.is_empty();
            lane.pending.push_back((timeout_at + 1, call_h, attempt));
            if was_empty && !lane.armed {
                lane.armed = true;
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
        let deadline_ns = if EXTRAS && cs.propagate_deadline { deadline } else { Nanos::MAX };
        let seed = JobSeed { call: call_h, attempt, service: cs.to, type_id, deadline_ns };
        if latency == 0 {
            return self.admit(seed, None, now, q);
        }
        let job = seed.job((0, 0), 0, UNCOUNTED, 0, 0);
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
        let ext = &mut self.exts[call_h.index as usize];
        let held = ext.permits & bits;
        if held == 0 || ext.pol.bulkhead == NO_BUDGET {
            return;
        }
        ext.permits &= !held;
        let b = ext.pol.bulkhead;
        let bulkhead = &mut self.bulkheads[b as usize];
        bulkhead.release(held.count_ones());
        if bulkhead.has_waiting() {
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

    /// Gives a new call with policies its state, at its slab index.
    #[inline(always)]
    fn new_ext(&mut self, call_h: Handle, pol: Pol, deadline_ns: Nanos, now: Nanos) {
        let i = call_h.index as usize;
        if self.exts.len() <= i {
            self.grow_exts(i);
        }
        self.exts[i] = CallExt { pol, attempt_started_ns: now, deadline_ns, ..CallExt::EMPTY };
        if pol.budget != NO_BUDGET {
            self.budgets[pol.budget as usize].on_request(now);
        }
    }

    /// The side table grows with the call slab (rarely: the slab reuses its slots).
    #[cold]
    #[inline(never)]
    fn grow_exts(&mut self, i: usize) {
        self.exts.resize(i + 1, CallExt::EMPTY);
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
            // Drop the answered entries in one pass over the lane, up to the first attempt
            // still waiting: it times out now, or arms the lane for its deadline.
            let (calls, lane) = (&self.calls, &mut self.lanes[spec as usize]);
            let (call_h, attempt) = loop {
                let Some(&(deadline, call_h, attempt)) = lane.pending.front() else { return Ok(()) };
                if matches!(calls.get(call_h), Some(c) if c.outstanding(attempt)) {
                    if deadline > now {
                        if !lane.armed {
                            lane.armed = true;
                            q.schedule_at(deadline, Event::new(Kind::TimeoutLane, Handle::NONE, spec));
                        }
                        return Ok(());
                    }
                    lane.pending.pop_front();
                    break (call_h, attempt);
                }
                lane.pending.pop_front();
            };
            self.attempt_ended(call_h, attempt, Outcome::Timeout, now, q)?;
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
        if RICH && !call.plain {
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

    /// The call's budget, breaker and throttle hear that an attempt sent at
    /// `attempt_started_ns` ended with `outcome`.
    #[inline(always)]
    fn policies_hear(&mut self, pol: Pol, attempt: u32, outcome: Outcome, attempt_started_ns: Nanos, now: Nanos) {
        if pol.budget != NO_BUDGET {
            self.budgets[pol.budget as usize].on_attempt_end(attempt > 1, outcome);
        }
        if pol.breaker != NO_BUDGET {
            let took_ns = now - attempt_started_ns;
            self.breakers[pol.breaker as usize].on_result(now, took_ns, !outcome.is_success());
        }
        if pol.throttle != NO_BUDGET && outcome.is_success() {
            self.throttles[pol.throttle as usize].on_accept(now);
        }
    }

    /// A call succeeded: its budget (if any) gets back what its last retry cost, or its
    /// increment for a success without retries (`last_cost` is `NO_BUDGET`).
    #[inline(always)]
    fn refund(&mut self, budget: u32, last_cost: u32) {
        if budget != NO_BUDGET {
            let last = (last_cost != NO_BUDGET).then_some(last_cost);
            self.budgets[budget as usize].on_success(last);
        }
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

    /// Runs service `s`'s health checks at `now`. A probe waits behind the instance's queue:
    /// it is estimated to wait (queued jobs x mean work) / workers.
    #[inline(never)]
    fn health_tick(&mut self, s: usize, now: Nanos) {
        let svc = &self.spec.services[s];
        let dependency_down = match svc.fleet.health.as_ref().and_then(|h| h.dependency) {
            Some(d) => self.services[d as usize].fleet.as_ref().is_some_and(|f| f.all_down(now)),
            None => false,
        };
        let rt = &self.services[s];
        let (first, workers, mean_ns) = (rt.first_instance, rt.workers.max(1) as f64, svc.service_time.mean_ns());
        let instances = &self.instances;
        let wait = |i: u32| (instances[(first + i) as usize].queue.len() as f64 * mean_ns / workers) as Nanos;
        let rt = &mut self.services[s];
        if let Some(fleet) = &mut rt.fleet {
            fleet.health_tick(now, wait, dependency_down);
        }
    }

    /// Sends the next copy of a hedged call now.
    fn send_hedge(&mut self, call_h: Handle, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let call = self.calls.get_mut(call_h).expect("live call");
        call.attempt += 1;
        call.waiting = true;
        let (spec, type_id, attempt) = (call.spec, call.type_id, call.attempt);
        self.start_attempt(call_h, spec, type_id, attempt, false, now, q)
    }

    fn request_done(&mut self, done: Finished, outcome: Outcome, now: Nanos) {
        let Finished { started_ns, workload, batch: counted, stats, attempts } = done;
        self.requests_in_flight -= 1;
        let latency = now - started_ns;
        if now >= self.bucket_start_ns + self.spec.bucket_ns {
            self.close_buckets_before(now, false);
        }
        if let Some(st) = self.stability.as_mut().filter(|_| EXTRAS) {
            let ok = outcome.is_success() as u64;
            if (st.before.0..st.before.1).contains(&now) {
                st.before_ok += ok;
                st.before_total += 1;
            } else if (st.after.0..st.after.1).contains(&now) {
                st.after_ok += ok;
                st.after_total += 1;
            }
        }
        let b = &mut self.buckets[workload as usize];
        b.outcomes.add(outcome);
        if outcome.is_success() {
            b.latency.record(latency);
        }
        if counted == UNCOUNTED {
            return;
        }
        let batch = counted as usize;
        let st = &mut self.request_stats[stats as usize];
        st.outcomes.add(outcome);
        st.attempts += attempts as u64;
        if outcome.is_success() {
            self.request_latency[stats as usize][0].record(latency);
            st.latency_batches.add(batch, latency as f64);
            st.success_batches.add(batch, 1.0);
        } else {
            st.success_batches.add(batch, 0.0);
            self.request_latency[stats as usize][1].record(latency);
        }
    }

    /// The batch of the measurement window that `now` falls in, or `UNCOUNTED`.
    #[inline]
    fn batch_at(&mut self, now: Nanos) -> u8 {
        while now >= self.batch_end_ns && (self.batch_now == UNCOUNTED || (self.batch_now as usize) < BATCHES - 1) {
            self.batch_now = if self.batch_now == UNCOUNTED { 0 } else { self.batch_now + 1 };
            self.batch_end_ns = self.window.0 + (self.batch_now as Nanos + 1) * self.batch_ns;
        }
        debug_assert_eq!(self.batch_now, batch_at(now, self.window.0, self.batch_ns));
        self.batch_now
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
        let inst = match rt.fleet.as_mut().filter(|_| RICH) {
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
                    Some(i) if fleet.is_down(i, now) => {
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
        let over_limit = EXTRAS && rt.shedding.max_in_flight.is_some_and(|m| instance.in_system >= m);
        let refusal = if EXTRAS && seed.deadline_ns <= now {
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
        if let Some(fleet) = rt.fleet.as_mut().filter(|_| RICH) {
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
        if EXTRAS && rt.shedding.max_in_flight.is_some() {
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
            if EXTRAS && instance.queue.is_empty() {
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

    /// Records a job's wait from `arrived_ns` to `now` at service `s`; draws its work time.
    #[inline]
    fn work_starts(&mut self, s: usize, inst: u32, arrived_ns: Nanos, now: Nanos, batch: u8) -> Nanos {
        let rt = &mut self.services[s];
        let wait = now - arrived_ns;
        if wait > 0 {
            rt.stats.occupancy.queued.add(arrived_ns, now, self.window);
        }
        if batch != UNCOUNTED {
            let b = &mut rt.batches[batch as usize];
            b.started += 1;
            if wait > 0 {
                b.waited += 1;
                b.wait_sum_ns += wait as f64;
                rt.wait.record(wait);
            }
        }
        let work = rt.work_draws.next(&rt.service_time);
        if !EXTRAS || rt.slowdowns.is_empty() {
            return work;
        }
        let i = inst - rt.first_instance;
        let factor: f64 = rt
            .slowdowns
            .iter()
            .filter(|w| (w.0..w.1).contains(&now) && (w.3..w.3 + w.4).contains(&i))
            .map(|w| w.2)
            .product();
        round_ns(work as f64 * factor)
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
        if !EXTRAS || !self.services[service as usize].sheds {
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
                Some((target, interval)) => {
                    if standing {
                        target
                    } else {
                        interval
                    }
                }
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
        if EXTRAS && rt.error_probability > 0.0 && rt.error_rng.unit() < rt.error_probability {
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
        if EXTRAS && deadline <= now {
            // Nobody waits for this job's answer any more: it makes no more calls.
            return Ok(Some(Outcome::Error));
        }
        for spec in first..end {
            let rt = &self.call_rt[spec as usize];
            let plain = !RICH || rt.plain;
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
            if RICH && !plain {
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
        if EXTRAS && rt.shedding.max_in_flight.is_some() {
            self.instances[instance as usize].in_system -= 1;
        }
        if let Some(fleet) = rt.fleet.as_mut().filter(|_| RICH) {
            fleet.on_answer(instance - rt.first_instance, outcome, true, now);
        }
        rt.stats.occupancy.in_system.add(arrived_ns, now, self.window);
        if counted != UNCOUNTED {
            let sojourn = now - arrived_ns;
            let b = &mut rt.batches[counted as usize];
            b.completed += 1;
            b.sojourn_sum_ns += sojourn as f64;
            rt.stats.outcomes.add(outcome);
            rt.sojourn.record(sojourn);
        }
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

    // ----- series -----

    /// Emits every bucket that ends at or before `now` (all buckets up to `now` if `last`).
    fn close_buckets_before(&mut self, now: Nanos, last: bool) {
        let width = self.spec.bucket_ns;
        while self.bucket_start_ns + width <= now || (last && self.bucket_start_ns < now) {
            for (w, b) in self.buckets.iter_mut().enumerate() {
                let (p50_ns, p99_ns, mean_ns) = match b.latency.percentiles() {
                    Some((p50, p99, mean)) => (Some(p50), Some(p99), Some(mean)),
                    None => (None, None, None),
                };
                self.sink.row(SeriesRow {
                    bucket_start_ns: self.bucket_start_ns,
                    workload: self.spec.workloads[w].name.clone(),
                    outcomes: b.outcomes,
                    p50_ns,
                    p99_ns,
                    mean_ns,
                });
                b.outcomes = Outcomes::default();
                b.latency.reset();
            }
            self.bucket_start_ns += width;
        }
    }
}

impl<S: SeriesSink, const RICH: bool, const EXTRAS: bool> Model for ServiceModel<'_, S, RICH, EXTRAS> {
    type Event = Event;
    type Stop = Overload;

    #[inline]
    fn handle(&mut self, now: Nanos, event: Event, q: &mut EventQueue<Event>) -> Result<(), Overload> {
        self.dispatch(now, event, q).map_err(|Halt| self.overload.take().expect("a halt records its overload"))
    }
}

impl<S: SeriesSink, const RICH: bool, const EXTRAS: bool> ServiceModel<'_, S, RICH, EXTRAS> {
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
            Kind::HealthTick => {
                self.health_tick(event.arg as usize, now);
                let interval =
                    self.spec.services[event.arg as usize].fleet.health.as_ref().map_or(0, |h| h.interval_ns);
                if now + interval < self.spec.duration_ns {
                    q.schedule_at(now + interval, event);
                }
                Ok(())
            }
            Kind::OutlierSweep => {
                let rt = &mut self.services[event.arg as usize];
                rt.fleet.as_mut().expect("a fleet with outlier detection").outlier_sweep(now);
                let interval =
                    self.spec.services[event.arg as usize].fleet.outlier.as_ref().map_or(0, |o| o.interval_ns);
                if now + interval < self.spec.duration_ns {
                    q.schedule_at(now + interval, event);
                }
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

/// An exponential draw with rate `rate_per_s`, in nanoseconds (ziggurat: rarely a logarithm).
#[inline]
fn exp_ns(rng: &mut Stream, rate_per_s: f64) -> Nanos {
    let unit: f64 = Exp1.sample(rng);
    round_ns(unit * NS_PER_S as f64 / rate_per_s)
}

/// Marks a request or job from the warm-up: simulated, not counted.
const UNCOUNTED: u8 = u8::MAX;

/// Which batch of the measurement window a time falls in (the last batch also takes the
/// drain period), or `UNCOUNTED` before the window. The model keeps a running equivalent;
/// this is its definition, checked against it in debug builds.
#[cfg_attr(not(any(test, debug_assertions)), allow(dead_code))]
fn batch_at(t: Nanos, window_start: Nanos, batch_ns: Nanos) -> u8 {
    if t < window_start {
        return UNCOUNTED;
    }
    (((t - window_start) / batch_ns) as usize).min(BATCHES - 1) as u8
}

/// The next arrival of a piecewise-constant-rate Poisson process after `now`. Exact: the
/// exponential is memoryless, so a draw that crosses a step boundary restarts there.
fn next_scheduled(
    now: Nanos,
    steps: &[(Nanos, f64)],
    period_ns: Option<Nanos>,
    end_ns: Nanos,
    rng: &mut Stream,
) -> Nanos {
    let mut t = now;
    while t < end_ns {
        let (rate, seg_end) = rate_at(t, steps, period_ns);
        if rate > 0.0 {
            let next = t + exp_ns(rng, rate);
            if next < seg_end {
                return next;
            }
        }
        t = seg_end;
    }
    Nanos::MAX
}

/// The rate at time `t` and the time that rate ends.
fn rate_at(t: Nanos, steps: &[(Nanos, f64)], period_ns: Option<Nanos>) -> (f64, Nanos) {
    let (base, local) = match period_ns {
        Some(p) => (t - t % p, t % p),
        None => (0, t),
    };
    let i = steps.partition_point(|s| s.0 <= local);
    let rate = if i == 0 { 0.0 } else { steps[i - 1].1 };
    let end_local = match steps.get(i) {
        Some(s) => s.0,
        None => period_ns.unwrap_or(Nanos::MAX - base),
    };
    (rate, base.saturating_add(end_local))
}

/// The first instance of service `s` in the model's instance table.
fn services_first_instance(spec: &Spec, s: usize) -> u32 {
    spec.services[..s].iter().map(|x| x.instances).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_two_words() {
        assert_eq!(std::mem::size_of::<Event>(), 16);
        assert_eq!(std::mem::align_of::<Event>(), 8);
    }

    #[test]
    fn schedule_rate_lookup_repeats_with_the_period() {
        let steps = [(0, 10.0), (100, 50.0)];
        assert_eq!(rate_at(0, &steps, Some(200)), (10.0, 100));
        assert_eq!(rate_at(150, &steps, Some(200)), (50.0, 200));
        assert_eq!(rate_at(250, &steps, Some(200)), (10.0, 300));
        assert_eq!(rate_at(150, &steps, None), (50.0, Nanos::MAX));
        // Before the first step the rate is zero.
        assert_eq!(rate_at(5, &[(10, 1.0)], None), (0.0, 10));
    }

    #[test]
    fn batches_split_the_window_evenly() {
        // A window [100, 300) in 20 batches of 10 ns.
        assert_eq!(batch_at(99, 100, 10), UNCOUNTED);
        assert_eq!(batch_at(100, 100, 10), 0);
        assert_eq!(batch_at(109, 100, 10), 0);
        assert_eq!(batch_at(110, 100, 10), 1);
        assert_eq!(batch_at(299, 100, 10), BATCHES as u8 - 1);
        assert_eq!(batch_at(5_000, 100, 10), BATCHES as u8 - 1);
    }
}
