//! What the model builds from the spec before the run: per service, per call and per
//! workload run-time records with their random streams, the policy tables, and the flattened
//! step table. Construction only; nothing here schedules an event.

use super::lanes::TimeoutLane;
use super::record::Bucket;
use super::records::{Instance, Pol, NO_BUDGET, UNCOUNTED};
use super::{ServiceModel, Tick};
use crate::dist::{Dist, Draws};
use crate::faults::noise::NoiseState;
use crate::faults::FaultState;
use crate::features::{callers, Paths};
use crate::fleet::Fleet;
use crate::metrics::*;
use crate::outcome::Outcomes;
use crate::policy::breaker::Breaker;
use crate::policy::budget::Budget;
use crate::policy::bulkhead::Bulkhead;
use crate::policy::throttle::Throttle;
use crate::spec::{OperationSpec, Scope, ServiceSpec, SheddingSpec, Spec};
use crate::tier::Tier;
use cellsim_sim::{Nanos, Slab, Stream, NS_PER_S};
use std::collections::VecDeque;

/// A service at run time: what the hot path reads of its spec, its round-robin position, its
/// random stream and its statistics, in one record so that a hop indexes one place.
pub(super) struct ServiceRt {
    pub(super) first_instance: u32,
    pub(super) next_instance: u32,
    pub(super) instances: u32,
    pub(super) workers: u32,
    pub(super) queue_capacity: usize,
    pub(super) hold_worker_during_calls: bool,
    /// One operation without branches: its plans and work are here (`plan_by_type`,
    /// `service_time`, `work_draws`); otherwise every operation's are in the model's `ops`
    /// from `first_op` (and the tiers above the lean one read them there).
    pub(super) simple: bool,
    pub(super) first_op: u32,
    /// Several operations: each records its own outcomes and sojourns in its `OpRt`.
    pub(super) per_op: bool,
    /// By global request type: the plan's place in the step table.
    pub(super) plan_by_type: Vec<(u32, u16)>,
    pub(super) service_time: Dist,
    /// Work times, drawn ahead in batches from the service's own stream.
    pub(super) work_draws: Draws,
    pub(super) error_probability: f64,
    pub(super) error_rng: Stream,
    /// Load balancing beyond round robin, health checks, outlier ejection, outages; `None`
    /// for a plain round-robin service (the fast path).
    pub(super) fleet: Option<Box<Fleet>>,
    /// The fleet's counters go into the summary (the service uses a fleet feature).
    pub(super) reports_fleet: bool,
    pub(super) shedding: SheddingSpec,
    /// A free worker may drop or reorder queued jobs (LIFO, CoDel, expired deadlines).
    pub(super) sheds: bool,
    pub(super) stats: ServiceStats,
    /// Become `stats.sojourn` and `stats.wait` when the run ends.
    pub(super) sojourn: LatencyRecorder,
    pub(super) wait: LatencyRecorder,
    pub(super) batches: [ServiceBatch; BATCHES],
}

/// An operation at run time, for services with several or with branches.
pub(super) struct OpRt {
    pub(super) service_time: Dist,
    pub(super) work_draws: Draws,
    pub(super) branch_rng: Stream,
    /// The branches' running shares (empty: no branches).
    pub(super) cumulative: Vec<f64>,
    pub(super) variants: u32,
    /// By global request type and branch (`type * variants + branch`): the plan's place in
    /// the step table.
    pub(super) plans: Vec<(u32, u16)>,
    /// Its statistics, when the service has several operations.
    pub(super) outcomes: Outcomes,
    pub(super) sojourn: LatencyRecorder,
}

/// A call declaration's edge statistics as the run goes.
#[derive(Default)]
pub(super) struct EdgeRt {
    pub(super) outcomes: Outcomes,
    pub(super) attempts: u64,
    pub(super) retried_ok: u64,
    pub(super) fallbacks: u64,
    pub(super) latency: LatencyRecorder,
}

impl OpRt {
    /// The plan of a job of request type `type_id`, its branch drawn if it has branches.
    #[inline]
    pub(super) fn plan(&mut self, type_id: u16) -> (u32, u16) {
        let first = type_id as usize * self.variants as usize;
        if self.cumulative.is_empty() {
            return self.plans[first];
        }
        let u = self.branch_rng.unit();
        let b = self.cumulative.partition_point(|&c| c <= u).min(self.cumulative.len() - 1);
        self.plans[first + b]
    }
}

/// One step of a plan in the flattened table: the calls `first..end`, and whether one of
/// them is awaited late or never, repeated or conditional (`Paths::shaped`).
#[derive(Clone, Copy)]
pub(super) struct StepRt {
    pub(super) first: u32,
    pub(super) end: u32,
    pub(super) shaped: bool,
}

pub(super) struct CallRt {
    pub(super) network_rng: Stream,
    pub(super) backoff_rng: Stream,
    pub(super) fallback_rng: Stream,
    /// Where the call's retry budgets, breakers and bulkheads sit in the model's tables.
    pub(super) budget: Slots,
    pub(super) breaker: Slots,
    pub(super) bulkhead: Slots,
    pub(super) throttle: Slots,
    pub(super) throttle_rng: Stream,
    pub(super) caller_first_instance: u32,
    /// No policy state: see `features::Paths::plain`.
    pub(super) plain: bool,
    /// No bulkhead, throttling or hedging: an attempt's start only asks the breaker and the
    /// budget (`start_attempt`'s inline gate), and a success only tells them (`resolve`'s
    /// inline path).
    pub(super) gated_only: bool,
    /// Some policy is kept per calling instance; if not, every call uses `shared`.
    pub(super) per_instance: bool,
    pub(super) shared: Pol,
    /// Draws of `probability` and of `repeat` counts (after the fields every call reads).
    pub(super) condition_rng: Stream,
    pub(super) repeat_rng: Stream,
}

/// A call declaration's copies of one policy in its table: `copies` of them from `base`
/// (`NO_BUDGET` if the call has none), one per calling instance or one shared.
#[derive(Clone, Copy)]
pub(super) struct Slots {
    pub(super) base: u32,
    pub(super) copies: u32,
    pub(super) per_instance: bool,
}

impl CallRt {
    /// The policies of a call made by `instance` (ignored for workload requests and shared
    /// scopes).
    #[inline]
    pub(super) fn pol(&self, instance: u32) -> Pol {
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
    pub(super) const NONE: Slots = Slots { base: NO_BUDGET, copies: 0, per_instance: false };

    /// Reserves the copies a call needs in a table of `len` entries; returns the slots.
    fn reserve(len: usize, scope: Scope, caller_instances: Option<u32>) -> Slots {
        let per_instance = scope == Scope::Instance && caller_instances.is_some();
        let copies = if per_instance { caller_instances.unwrap_or(1) } else { 1 };
        Slots { base: len as u32, copies, per_instance }
    }

    /// The copy used by a call from `instance` (whose service's first instance is `first`).
    #[inline]
    pub(super) fn pick(self, instance: u32, first: u32) -> u32 {
        match (self.base, self.per_instance) {
            (NO_BUDGET, _) => NO_BUDGET,
            (base, true) => base + (instance - first),
            (base, false) => base,
        }
    }

    pub(super) fn range(self) -> std::ops::Range<usize> {
        if self.base == NO_BUDGET {
            0..0
        } else {
            self.base as usize..(self.base + self.copies) as usize
        }
    }
}

pub(super) struct WorkloadRt {
    /// Poisson gaps, drawn ahead in batches from the workload's arrivals stream.
    pub(super) gaps: Draws,
    /// The same stream, for schedules (a workload uses one of the two).
    pub(super) arrival_rng: Stream,
    pub(super) mix_rng: Stream,
    pub(super) customer_rng: Stream,
    /// For constant-rate arrivals: arrivals so far, so times do not drift.
    pub(super) count: u64,
    /// For Poisson arrivals: 1 / rate, in nanoseconds.
    pub(super) mean_interarrival_ns: f64,
    /// A closed loop: a request's end schedules its user's next.
    pub(super) closed: bool,
    /// Per request type of this workload: index into `request_stats`.
    pub(super) stats: Vec<u32>,
}

/// The policy tables every call's `Slots` index.
#[derive(Default)]
pub(super) struct PolicyTables {
    pub(super) budgets: Vec<Budget>,
    pub(super) breakers: Vec<Breaker>,
    pub(super) bulkheads: Vec<Bulkhead>,
    pub(super) throttles: Vec<Throttle>,
}

impl<'s, S: SeriesSink, T: Tier> ServiceModel<'s, S, T> {
    /// The model of `spec` with master seed `seed`, streaming its series into `sink`;
    /// `fast_paths` off makes every call and service take the general paths (for tests).
    pub fn new(spec: &'s Spec, seed: u64, sink: S, fast_paths: bool) -> Self {
        let batch_ns = ((spec.duration_ns - spec.warmup_ns) / BATCHES as Nanos).max(1);
        let paths = Paths::of(spec, fast_paths);
        let plan_of = plan_places(spec);
        let (instances, services, ops) = services_rt(spec, seed, &paths, &plan_of);
        let first_instance: Vec<u32> = services.iter().map(|s| s.first_instance).collect();
        let (call_rt, tables) = calls_rt(spec, seed, &paths, &first_instance);
        let mut request_stats = Vec::new();
        let workloads = workloads_rt(spec, seed, &mut request_stats);
        ServiceModel {
            spec,
            calls: Slab::with_capacity_limit(
                spec.max_in_flight_jobs.saturating_add(spec.max_in_flight_requests) as usize
            ),
            jobs: Slab::with_capacity_limit(spec.max_in_flight_jobs as usize),
            faults: FaultState::new(&spec.faults, &spec.random_faults, &first_instance, instances.len() as u32, seed),
            names: super::names::NamesRt::new(spec).map(Box::new),
            deploys: super::deploy::Deploys::new(spec, &first_instance, seed).map(Box::new),
            stops: super::stop::Stops::new(spec).map(Box::new),
            io: spec.services.iter().any(|s| s.io.is_some()).then(|| {
                let devices = spec
                    .services
                    .iter()
                    .flat_map(|s| (0..s.instances).map(move |_| vec![0; s.io.as_ref().map_or(0, |io| io.1 as usize)]))
                    .collect();
                let rngs = spec
                    .services
                    .iter()
                    .map(|s| s.io.as_ref().map(|_| Stream::new(seed, &format!("service/{}", s.name), "io")))
                    .collect();
                Box::new(super::Volumes { devices, rngs })
            }),
            memory: if spec.services.iter().any(|s| s.memory.is_some()) {
                vec![Default::default(); spec.instance_count() as usize]
            } else {
                Vec::new()
            },
            noise: spec.noise.as_ref().map(|n| {
                let names = spec.services.iter().flat_map(|s| (0..s.instances).map(move |i| (s.name.as_str(), i)));
                Box::new(NoiseState::new(n, seed, names))
            }),
            instances,
            services,
            call_rt,
            lanes: spec.calls.iter().map(|_| TimeoutLane::default()).collect(),
            budgets: tables.budgets,
            breakers: tables.breakers,
            bulkheads: tables.bulkheads,
            throttles: tables.throttles,
            exts: Vec::new(),
            ops,
            edges: spec.calls.iter().map(|_| EdgeRt::default()).collect(),
            steps: spec
                .plans
                .iter()
                .flat_map(|p| p.steps.iter())
                .map(|s| StepRt {
                    first: s.first_call,
                    end: s.end_call,
                    shaped: s.calls().any(|c| paths.shaped[c as usize]),
                })
                .collect(),
            ticks: Vec::new(),
            workloads,
            window: (spec.warmup_ns, spec.duration_ns),
            batch_now: if spec.warmup_ns == 0 { 0 } else { UNCOUNTED },
            batch_end_ns: if spec.warmup_ns == 0 { batch_ns } else { spec.warmup_ns },
            batch_ns,
            request_latency: request_stats.iter().map(|_| Default::default()).collect(),
            request_stats,
            buckets: spec.workloads.iter().map(|_| Bucket::default()).collect(),
            bucket_start_ns: 0,
            sink,
            requests_arrived: 0,
            requests_finished: 0,
            requests_in_flight: 0,
            handled_events: 0,
            inline_events: 0,
            overload: None,
            repeat_nesting: 0,
            topo: super::topo::TopoRt::new(spec),
            scalers: (0..spec.services.len() as u32).filter_map(|s| super::control::Scaler::new(spec, s)).collect(),
            shift: super::control::ShiftRt::new(spec),
            control_actions: Vec::new(),
            tracks_customers: spec.topology.is_some()
                || spec.services.iter().any(|s| s.fleet.lb == crate::fleet::LbKind::ShuffleShard)
                || spec.faults.iter().any(|f| matches!(f.kind, crate::faults::FaultKind::PoisonPill { .. })),
            closed_loops: spec.workloads.iter().any(|w| matches!(w.arrival, crate::spec::Arrival::Closed { .. })),
            stability: spec.trigger.map(|t| super::record::Stability::around(t, spec.warmup_ns, spec.duration_ns)),
            observed: None,
            wake_tick: 0,
            wake_at_ns: Nanos::MAX,
            _tier: std::marker::PhantomData,
        }
    }

    /// Observes the run for a caller that takes its counts bucket by bucket (see `observe`).
    pub fn observe(&mut self, observe: &crate::observe::Observe) {
        let zones = self.spec.topology.as_ref().map_or(0, |t| t.zones.len());
        let spec = self.spec;
        let o =
            crate::observe::Observed::new(observe, spec.services.len(), spec.workloads.len(), zones, spec.customers());
        self.observed = Some(Box::new(o));
    }

    /// The observations (`None`: not observed).
    /// The sink the series go to.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    pub fn observed(&mut self) -> Option<&mut crate::observe::Observed> {
        self.observed.as_deref_mut()
    }
}

/// Each plan's place in the flattened step table: its first step and its number of steps.
fn plan_places(spec: &Spec) -> Vec<(u32, u16)> {
    spec.plans
        .iter()
        .scan(0u32, |first, p| {
            let at = (*first, p.steps.len() as u16);
            *first += p.steps.len() as u32;
            Some(at)
        })
        .collect()
}

/// Every instance (each with its queue), every service's run-time record, and the
/// operations of the services that are not simple.
fn services_rt(
    spec: &Spec,
    seed: u64,
    paths: &Paths,
    plan_of: &[(u32, u16)],
) -> (Vec<Instance>, Vec<ServiceRt>, Vec<OpRt>) {
    let mut instances = Vec::new();
    let mut ops = Vec::new();
    let services = spec
        .services
        .iter()
        .enumerate()
        .map(|(svc_index, s)| {
            let first_instance = instances.len() as u32;
            for _ in 0..s.instances {
                // Queues grow as jobs wait: an idle instance costs its record only.
                instances.push(Instance {
                    busy: 0,
                    queue: VecDeque::new(),
                    in_system: 0,
                    last_empty_ns: 0,
                    jobs: 0,
                    busy_ns: 0,
                    work_ns: 0,
                });
            }
            let entity = format!("service/{}", s.name);
            // (The OOM killer crashes instances as an outage does.)
            let has_outages = s.memory.is_some()
                || spec.faults.iter().any(|f| f.kind.breaks_instances() && f.target.hits(svc_index as u32));
            let op0 = &s.operations[0];
            let simple = s.operations.len() == 1 && op0.branches.is_empty();
            let first_op = ops.len() as u32;
            if !simple {
                ops.extend(s.operations.iter().map(|o| op_rt(spec, seed, s, o, plan_of)));
            }
            ServiceRt {
                first_instance,
                next_instance: 0,
                instances: s.instances,
                workers: s.workers,
                queue_capacity: s.queue_capacity as usize,
                hold_worker_during_calls: s.hold_worker_during_calls,
                simple,
                first_op,
                per_op: s.operations.len() > 1,
                // The lean tier, which ignores operations and branches (see `features`), runs
                // every job as the first operation's first branch.
                plan_by_type: op0.plan_by_type.iter().map(|&p| plan_of[p as usize]).collect(),
                service_time: op0.service_time.clone(),
                work_draws: Draws::new(Stream::new(seed, &work_entity(s, op0), "service_time")),
                error_probability: s.error_probability,
                error_rng: Stream::new(seed, &entity, "errors"),
                shedding: s.shedding,
                sheds: paths.sheds[svc_index],
                fleet: paths.fleet[svc_index].then(|| {
                    let mut fleet = Fleet::new(
                        s.instances,
                        s.fleet.lb,
                        s.fleet.weights.clone(),
                        Stream::new(seed, &entity, "load_balancer"),
                        s.fleet.health.clone(),
                        s.fleet.outlier.clone(),
                        has_outages,
                    );
                    if s.memory.is_some() {
                        fleet.track_jobs(); // a heap holds data per job present
                    }
                    // An autoscaled service starts with its first `in_service` instances.
                    for i in s.in_service..s.instances {
                        fleet.set_in_service(i, false);
                    }
                    Box::new(fleet)
                }),
                reports_fleet: paths.reports_fleet[svc_index],
                stats: ServiceStats::new(&s.name, s.instances, s.workers),
                sojourn: LatencyRecorder::default(),
                wait: LatencyRecorder::default(),
                batches: [ServiceBatch::default(); BATCHES],
            }
        })
        .collect();
    (instances, services, ops)
}

/// The entity whose streams an operation's work and branches draw from: the service's own
/// for the implicit operation (as before operations existed), else `service/S/op/O`.
fn work_entity(s: &ServiceSpec, op: &OperationSpec) -> String {
    if s.operations.len() == 1 && op.name == "default" {
        format!("service/{}", s.name)
    } else {
        format!("service/{}/op/{}", s.name, op.name)
    }
}

fn op_rt(spec: &Spec, seed: u64, s: &ServiceSpec, o: &OperationSpec, plan_of: &[(u32, u16)]) -> OpRt {
    let entity = work_entity(s, o);
    let variants = o.variants();
    OpRt {
        service_time: o.service_time.clone(),
        work_draws: Draws::new(Stream::new(seed, &entity, "service_time")),
        branch_rng: Stream::new(seed, &entity, "branch"),
        cumulative: o.branches.iter().map(|b| b.cumulative).collect(),
        variants,
        plans: (0..spec.type_names.len())
            .flat_map(|t| (0..variants).map(move |b| plan_of[(o.plan_by_type[t] + b) as usize]))
            .collect(),
        outcomes: Outcomes::default(),
        sojourn: LatencyRecorder::default(),
    }
}

/// Every call's run-time record, and the policy tables their copies live in.
fn calls_rt(spec: &Spec, seed: u64, paths: &Paths, first_instance: &[u32]) -> (Vec<CallRt>, PolicyTables) {
    let caller_of = callers(spec);
    let mut t = PolicyTables::default();
    let call_rt = spec
        .calls
        .iter()
        .zip(&caller_of)
        .enumerate()
        .map(|(i, (c, caller))| {
            let caller_instances = caller.map(|s| spec.services[s as usize].instances);
            let mut slots = [Slots::NONE; 4];
            if let Some(b) = c.retry.budget {
                slots[0] = Slots::reserve(t.budgets.len(), b.scope, caller_instances);
                t.budgets.extend((0..slots[0].copies).map(|_| Budget::new(b.spec)));
            }
            if let Some(b) = c.breaker {
                slots[1] = Slots::reserve(t.breakers.len(), b.scope, caller_instances);
                t.breakers.extend((0..slots[1].copies).map(|_| Breaker::new(b.spec)));
            }
            if let Some(b) = c.bulkhead {
                slots[2] = Slots::reserve(t.bulkheads.len(), b.scope, caller_instances);
                t.bulkheads.extend(
                    (0..slots[2].copies).map(|_| Bulkhead::new(b.max_concurrent, b.max_pending, b.max_wait_ns)),
                );
            }
            if let Some(th) = c.throttle {
                slots[3] = Slots::reserve(t.throttles.len(), th.scope, caller_instances);
                t.throttles.extend((0..slots[3].copies).map(|_| Throttle::new(th.k, th.window_s)));
            }
            let [budget, breaker, bulkhead, throttle] = slots;
            CallRt {
                network_rng: Stream::new(seed, &c.name, "network"),
                condition_rng: Stream::new(seed, &c.name, "condition"),
                repeat_rng: Stream::new(seed, &c.name, "repeat"),
                backoff_rng: Stream::new(seed, &c.name, "backoff"),
                fallback_rng: Stream::new(seed, &c.name, "fallback"),
                budget,
                breaker,
                bulkhead,
                throttle,
                per_instance: slots.iter().any(|s| s.per_instance),
                shared: Pol {
                    budget: budget.base,
                    breaker: breaker.base,
                    bulkhead: bulkhead.base,
                    throttle: throttle.base,
                },
                throttle_rng: Stream::new(seed, &c.name, "throttle"),
                caller_first_instance: caller.map_or(0, |s| first_instance[s as usize]),
                plain: paths.plain[i],
                gated_only: paths.gated_only[i],
            }
        })
        .collect();
    (call_rt, t)
}

/// Every workload's arrival state and streams; adds a `RequestStats` per request type.
fn workloads_rt(spec: &Spec, seed: u64, request_stats: &mut Vec<RequestStats>) -> Vec<WorkloadRt> {
    spec.workloads
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
                closed: matches!(w.arrival, crate::spec::Arrival::Closed { .. }),
                stats,
            }
        })
        .collect()
}

/// The periodic ticks of `spec`'s services, in service order (health checks, then outlier
/// sweeps), with their first instants.
pub(super) fn ticks(spec: &Spec) -> Vec<(Tick, Nanos)> {
    let mut ticks = Vec::new();
    for (s, svc) in spec.services.iter().enumerate() {
        let service = s as u32;
        if let Some(h) = &svc.fleet.health {
            ticks.push((Tick::Health { service, interval_ns: h.interval_ns }, h.interval_ns));
        }
        if let Some(o) = &svc.fleet.outlier {
            ticks.push((Tick::Outlier { service, interval_ns: o.interval_ns }, o.interval_ns));
        }
    }
    // Autoscalers in the order of their services (the model's `scalers`), each with its
    // look and its launches' one-shot tick (scheduled when a launch will be ready).
    let mut scaler = 0;
    for svc in &spec.services {
        if let Some(a) = svc.autoscaling {
            ticks.push((Tick::Scale { scaler, interval_ns: a.period_ns }, a.period_ns));
            ticks.push((Tick::Launch { scaler }, Nanos::MAX));
            scaler += 1;
        }
    }
    if let Some(plan) = &spec.zonal_shift {
        let step = crate::compile::shift_tick_ns(plan);
        ticks.push((Tick::Shift { interval_ns: step }, 0));
    }
    for (deploy, start_ns) in super::deploy::Deploys::ticks(spec).enumerate() {
        ticks.push((Tick::Deploy { deploy: deploy as u32 }, start_ns));
    }
    for (condition, period_ns) in super::stop::Stops::ticks(spec).enumerate() {
        ticks.push((Tick::Stop { condition: condition as u32, interval_ns: period_ns }, period_ns));
    }
    ticks
}
