//! The runnable form of a scenario: names resolved to indices, defaults filled in,
//! distributions compiled. Built by `compile`; read by the model.

pub use crate::cells::{Migration, RouteKind, RouteSpec};
use crate::dist::Dist;
pub use crate::faults::{FaultKind, FaultSpec};
pub use crate::fleet::{HealthKind, HealthSpec, LbKind, OutlierSpec};
use crate::outcome::Outcome;
pub use crate::policy::backoff::{Backoff, BackoffKind};
pub use crate::policy::breaker::{BreakerSpec, HystrixSpec, R4jSpec, WindowKind};
pub use crate::policy::budget::BudgetSpec;
pub use crate::scenario::Scope;
use cellsim_sim::Nanos;

#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub description: String,
    pub duration_ns: Nanos,
    pub warmup_ns: Nanos,
    pub drain_ns: Nanos,
    pub bucket_ns: Nanos,
    pub seed: u64,
    pub max_events: u64,
    pub max_in_flight_requests: u64,
    pub max_in_flight_jobs: u64,
    /// What the run's memory and its output files may need at most (`[limits]`, in bytes).
    pub max_memory_bytes: u64,
    pub max_output_bytes: u64,
    pub services: Vec<ServiceSpec>,
    pub workloads: Vec<WorkloadSpec>,
    /// Every call edge: a workload's request type into its target, and each service's calls.
    pub calls: Vec<CallSpec>,
    /// What a service does for one request type: steps of calls.
    pub plans: Vec<Plan>,
    /// The faults injected, in the file's order (see `faults::catalogue`).
    pub faults: Vec<FaultSpec>,
    /// By fault, what reports call it: its `name`, or `fault[i]`.
    pub fault_names: Vec<String>,
    /// The random ones' distributions (MTBF and MTTR).
    pub random_faults: Vec<crate::faults::RandomFault>,
    /// When the scenario's faults act: from the first start to the last end (none without
    /// faults). The summary's stability check compares goodput before and after.
    pub trigger: Option<Window>,
    /// Request type names across all workloads (a name used by two workloads is one type).
    pub type_names: Vec<String>,
    /// The data files the scenario read (rate series), as named in it, with their hashes.
    pub data_files: Vec<DataFile>,
    /// Where the services run: regions, zones, cells and the network between them (`None`:
    /// the scenario declares no region; nothing is placed and calls cost only their own
    /// `latency`).
    pub topology: Option<Topology>,
    /// Cell routers' routing, indexed by `CallSpec::route`.
    pub routes: Vec<RouteSpec>,
    /// Zonal shifts by hand and automatic (`None`: none).
    pub zonal_shift: Option<ZonalShiftPlan>,
    /// How a run with faults is compared with its baseline.
    pub analysis: AnalysisSpec,
    /// The fleet's background noise (`None`: none, or switched off). A baseline keeps it.
    pub noise: Option<crate::faults::noise::NoiseSpec>,
    /// Steady-state hypotheses, judged after the run (by whoever runs it).
    pub hypotheses: Vec<crate::hypothesis::HypothesisSpec>,
    /// Alarms that end every fault early when they go to Alarm (watched by the model).
    pub stop_conditions: Vec<crate::hypothesis::StopSpec>,
}

/// Zonal shifts: the controller's parameters, the shifts by hand, and the autoshift alarm
/// (one per zone) with its period.
#[derive(Clone, Debug)]
pub struct ZonalShiftPlan {
    pub spec: crate::control::zonal_shift::ZonalShiftSpec,
    pub manual: Vec<ManualShift>,
    pub auto: Option<(crate::control::alarm::AlarmSpec, Nanos)>,
}

/// A shift by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManualShift {
    pub zone: u16,
    pub start_ns: Nanos,
    pub expires_ns: Nanos,
}

/// A service's autoscaling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoscalingSpec {
    pub controller: Autoscaler,
    /// How often the controller looks: HPA's sync period, target tracking's metric period.
    pub period_ns: Nanos,
    /// From a launch to the instance in service.
    pub boot_ns: Nanos,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Autoscaler {
    Hpa(crate::control::hpa::HpaSpec),
    TargetTracking(crate::control::target_tracking::TargetTrackingSpec),
}

/// Regions, zones and cells, and the network latency between placements.
#[derive(Clone, Debug)]
pub struct Topology {
    pub regions: Vec<String>,
    pub zones: Vec<Zone>,
    pub cells: Vec<Cell>,
    pub network: Network,
    /// Calls may go to instances in any zone (true) or only the caller's (false).
    pub cross_zone_lb: bool,
}

impl Topology {
    /// The latency class of a message from zone `from` (`None`: a client) to zone `to`.
    pub fn latency(&self, from: Option<u16>, to: u16) -> Option<&Dist> {
        let n = &self.network;
        match from {
            None => n.client.as_ref(),
            Some(f) if f == to => Some(&n.same_zone),
            Some(f) if self.zones[f as usize].region == self.zones[to as usize].region => Some(&n.cross_zone),
            Some(_) => Some(&n.cross_region),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub region: u16,
}

/// A cell: a copy of the template services, placed across `zones`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub name: String,
    pub zones: Vec<u16>,
    /// Its services (copies of the template), in the template's order.
    pub services: Vec<u32>,
}

/// One-way network latency by placement.
#[derive(Clone, Debug)]
pub struct Network {
    pub same_zone: Dist,
    pub cross_zone: Dist,
    pub cross_region: Dist,
    /// From a client (outside the zones); `None`: no latency.
    pub client: Option<Dist>,
}

/// A data file a scenario names: the path as written, its SHA-256 (hex) and its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFile {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub instances: u32,
    pub workers: u32,
    pub queue_capacity: u32,
    /// What the service offers: at least one operation; a service that names none has one,
    /// `default`. Workers, queue, instances and policies are the service's, shared by them.
    pub operations: Vec<OperationSpec>,
    /// The chance that a job answers `error` after its own work, without making its calls.
    pub error_probability: f64,
    pub fleet: FleetSpec,
    pub shedding: SheddingSpec,
    pub hold_worker_during_calls: bool,
    /// By instance: its zone (empty without a topology).
    pub zones: Vec<u16>,
    /// The cell it belongs to (`None`: shared, or no cells).
    pub cell: Option<u16>,
    /// Scales its instances in service (`instances` is then its most, `in_service` how many
    /// start).
    pub autoscaling: Option<AutoscalingSpec>,
    pub in_service: u32,
    /// Its IO phase: each job's IO time, and the devices of each instance's volume.
    pub io: Option<(Dist, u32)>,
    /// Its DNS record's TTL (`None`: the default, 60 s, where names are modelled).
    pub dns_ttl_ns: Option<Nanos>,
    /// Each instance's heap (`None`: memory is not modelled).
    pub memory: Option<crate::faults::memory::Heap>,
}

impl ServiceSpec {
    /// The mean work of a job, over the operations alike (the health checks' estimate of a
    /// queued job's work).
    pub fn mean_work_ns(&self) -> f64 {
        self.operations.iter().map(|o| o.service_time.mean_ns()).sum::<f64>() / self.operations.len() as f64
    }
}

/// One operation (endpoint, RPC method) of a service: its own work and its own calls.
#[derive(Clone, Debug)]
pub struct OperationSpec {
    /// `default` for a service that names no operation.
    pub name: String,
    pub service_time: Dist,
    /// Index into `Spec::plans`, by global request type. An operation with branches has one
    /// plan per branch from there, in the order of `branches`.
    pub plan_by_type: Vec<u32>,
    /// Mutually exclusive branches, one drawn per execution (empty: none).
    pub branches: Vec<Branch>,
}

impl OperationSpec {
    /// How many plans each request type has: one per branch, or one.
    pub fn variants(&self) -> u32 {
        self.branches.len().max(1) as u32
    }

    /// The weight of variant `b` (1 without branches).
    pub fn variant_weight(&self, b: u32) -> f64 {
        match b.checked_sub(1) {
            _ if self.branches.is_empty() => 1.0,
            None => self.branches[0].cumulative,
            Some(prev) => self.branches[b as usize].cumulative - self.branches[prev as usize].cumulative,
        }
    }
}

/// A branch of an operation and the running share of the branches up to it (the last is 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    pub name: String,
    pub cumulative: f64,
}

/// When the calling operation waits for a call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Its step waits for it (the default).
    Step,
    /// The operation goes on and waits for it before it replies.
    End,
    /// Fire-and-forget: nobody waits; the callee's work and failures still happen.
    Never,
}

/// How many times a call is made per execution of its operation, drawn once per execution.
#[derive(Clone, Debug, PartialEq)]
pub enum Count {
    Fixed(u32),
    /// Uniform over `min..=max`.
    Uniform {
        min: u32,
        max: u32,
    },
    /// `min` plus the failures before a success of probability `p` (mean min + (1 - p) / p).
    Geometric {
        min: u32,
        p: f64,
    },
    /// `values[i]` with the share `cumulative[i] - cumulative[i - 1]`.
    Empirical {
        values: Vec<u32>,
        cumulative: Vec<f64>,
    },
}

/// A repeated call: `count` copies, one after another or all at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Repeat {
    pub count: Count,
    pub parallel: bool,
}

/// A message's size when the scenario does not say, in bytes.
pub const DEFAULT_MESSAGE_BYTES: u64 = 1000;

/// The most copies one repetition draws (draws above are capped).
pub const MAX_REPEAT: u32 = 1000;

impl Count {
    pub fn mean(&self) -> f64 {
        match self {
            Count::Fixed(n) => *n as f64,
            Count::Uniform { min, max } => (*min as f64 + *max as f64) / 2.0,
            Count::Geometric { min, p } => *min as f64 + (1.0 - p) / p,
            Count::Empirical { values, cumulative } => {
                let mut prev = 0.0;
                values
                    .iter()
                    .zip(cumulative)
                    .map(|(&v, &c)| {
                        let share = c - prev;
                        prev = c;
                        v as f64 * share
                    })
                    .sum()
            }
        }
    }

    pub fn max(&self) -> u32 {
        match self {
            Count::Fixed(n) => *n,
            Count::Uniform { max, .. } => *max,
            Count::Geometric { .. } => MAX_REPEAT,
            Count::Empirical { values, .. } => values.iter().copied().max().unwrap_or(0),
        }
    }

    /// One draw, from a uniform `u` in [0, 1).
    pub fn sample(&self, u: f64) -> u32 {
        match self {
            Count::Fixed(n) => *n,
            Count::Uniform { min, max } => min + ((u * (max - min + 1) as f64) as u32).min(max - min),
            Count::Geometric { min, p } => {
                // Inversion: the number of failures is floor(ln(1 - u) / ln(1 - p)).
                let failures = if *p >= 1.0 { 0.0 } else { ((1.0 - u).ln() / (1.0 - p).ln()).floor() };
                min.saturating_add(failures.min(MAX_REPEAT as f64) as u32).min(MAX_REPEAT)
            }
            Count::Empirical { values, cumulative } => {
                let i = cumulative.partition_point(|&c| c <= u).min(values.len() - 1);
                values[i]
            }
        }
    }
}

/// Steps run in order; the calls of one step run in parallel.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// One step of a plan: the calls `Spec::calls[first_call..end_call]`, made in parallel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub first_call: u32,
    pub end_call: u32,
}

impl Step {
    pub fn calls(self) -> std::ops::Range<u32> {
        self.first_call..self.end_call
    }
}

#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub name: String,
    pub customers: u64,
    /// The global id of its population's first customer: workloads of one population share
    /// ids; each other population follows the previous ones.
    pub first_customer: u32,
    pub arrival: Arrival,
    pub requests: Vec<RequestSpec>,
    /// Cumulative mix weights normalised to end at 1.
    pub cumulative_mix: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub name: String,
    pub type_id: u16,
    /// The client's call into the target service.
    pub call: u32,
}

#[derive(Clone, Debug)]
pub enum Arrival {
    Poisson {
        rate_per_s: f64,
    },
    Constant {
        rate_per_s: f64,
    },
    /// Rate `steps[i].rate_per_s` from `steps[i].at_ns` until the next step; repeats every
    /// `period_ns`.
    Schedule {
        steps: Vec<RateStep>,
        period_ns: Option<Nanos>,
    },
    /// The rate goes in a straight line from each point to the next (a rate series read
    /// with `interpolation = "linear"`), holds the last point's rate after it, and is 0
    /// before the first; repeats every `period_ns`.
    Linear {
        points: Vec<RateStep>,
        period_ns: Option<Nanos>,
    },
    /// A closed loop: `users` users, each waiting for its answer and then `think` before its
    /// next request; each user's first request comes after one think time.
    Closed {
        users: u32,
        think: Dist,
    },
}

/// One step of a rate schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStep {
    pub at_ns: Nanos,
    pub rate_per_s: f64,
}

/// How a run with faults is compared with its baseline (`[analysis]`): a component (a
/// service; a cell's copy is one of its own) is impaired in a bucket when it had at least
/// `min_jobs` jobs there and its error rate exceeds the baseline's by more than
/// `error_rate_points` percentage points and is at least `error_rate_factor` times it, or its
/// p99 exceeds `p99_factor` times the baseline's (judged when the baseline had `min_jobs`
/// jobs too).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalysisSpec {
    pub baseline: bool,
    pub min_jobs: u64,
    pub error_rate_points: f64,
    pub error_rate_factor: f64,
    pub p99_factor: f64,
    pub recovered_buckets: u32,
    pub slo_ns: Option<Nanos>,
}

impl Default for AnalysisSpec {
    fn default() -> Self {
        AnalysisSpec {
            baseline: true,
            min_jobs: 20,
            error_rate_points: 1.0,
            error_rate_factor: 2.0,
            p99_factor: 1.5,
            recovered_buckets: 3,
            slo_ns: None,
        }
    }
}

/// A span of simulated time, `[start_ns, end_ns)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub start_ns: Nanos,
    pub end_ns: Nanos,
}

impl Window {
    #[inline]
    pub fn contains(self, t: Nanos) -> bool {
        (self.start_ns..self.end_ns).contains(&t)
    }
}

/// A policy and whether each calling instance keeps its own copy or the service shares one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scoped<T> {
    pub spec: T,
    pub scope: Scope,
}

/// Client-side adaptive throttling (the SRE book's K formula).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThrottleSpec {
    pub k: f64,
    pub window_s: u32,
    pub scope: Scope,
}

/// CoDel as Facebook runs it: a queued job older than `target_ns` (while the queue stands) or
/// `interval_ns` (otherwise) is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodelSpec {
    pub target_ns: Nanos,
    pub interval_ns: Nanos,
}

/// How a service's jobs are spread over its instances.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetSpec {
    pub lb: LbKind,
    pub weights: Vec<u32>,
    /// Shuffle sharding: instances per customer (0 for other balancers).
    pub shard_size: u32,
    pub health: Option<HealthSpec>,
    pub outlier: Option<OutlierSpec>,
}

#[derive(Clone, Debug)]
pub struct CallSpec {
    /// Stable name of the edge, which seeds its random streams.
    pub name: String,
    pub to: u32,
    /// The callee's operation, an index into its `operations`.
    pub op: u16,
    /// The calling service and operation (`None`: a workload's request).
    pub from: Option<(u32, u16)>,
    pub critical: bool,
    /// When the caller waits for the answer (workload requests: `Step`).
    pub wait: Wait,
    /// The chance that an execution of the caller's operation makes the call (1: always).
    pub probability: f64,
    /// Made several times per execution (`None`: once).
    pub repeat: Option<Repeat>,
    /// The sizes of the request and of the reply, in bytes (distributions whose unit is the
    /// byte). Not drawn yet: the network faults of a later issue will turn them into
    /// segments and transfer time.
    pub request_bytes: Dist,
    pub response_bytes: Dist,
    /// 0 means no timeout.
    pub timeout_ns: Nanos,
    pub latency: Option<Dist>,
    pub retry: RetrySpec,
    pub breaker: Option<Scoped<BreakerSpec>>,
    pub hedge: Option<HedgeSpec>,
    /// A fallback (a cache, a static answer) that answers `degraded` when the call fails,
    /// after this latency (`Some(None)`: at once).
    pub fallback: Option<Option<Dist>>,
    /// At most this many attempts in flight (per scope), and how many may wait how long.
    pub bulkhead: Option<BulkheadSpec>,
    /// Client-side adaptive throttling.
    pub throttle: Option<ThrottleSpec>,
    /// Workload requests: the overall deadline over all attempts (0: none).
    pub deadline_ns: Nanos,
    /// The callee receives the attempt's deadline.
    pub propagate_deadline: bool,
    /// A router's call into the cells: the target is the customer's cell's copy of `to`'s
    /// template service (`Spec::routes[route]`); `to` is the first cell's.
    pub route: Option<u32>,
    /// A token each attempt carries: its validity and the callee's leeway, checked against
    /// the two clocks (only clock skew can make it fail).
    pub token: Option<(Nanos, Nanos)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkheadSpec {
    pub max_concurrent: u32,
    pub max_pending: u32,
    /// `Nanos::MAX`: no limit.
    pub max_wait_ns: Nanos,
    pub scope: Scope,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueDiscipline {
    Fifo,
    Lifo,
    AdaptiveLifo,
}

/// Load shedding at a service's instances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SheddingSpec {
    pub discipline: QueueDiscipline,
    /// The CoDel variant, when set.
    pub codel: Option<CodelSpec>,
    /// The "standing queue" interval for adaptive LIFO (CoDel's, else 100 ms).
    pub standing_ns: Nanos,
    pub max_in_flight: Option<u32>,
}

/// gRPC hedging (reference 2.4): the original at once, another copy every `delay_ns`
/// without a success, up to `max_attempts`; a failed copy sends the next at once; the
/// first success wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HedgeSpec {
    pub max_attempts: u32,
    pub delay_ns: Nanos,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetrySpec {
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Bit `o as u8` set: outcome `o` is retried.
    pub retry_on: u8,
    pub budget: Option<Scoped<BudgetSpec>>,
}

impl RetrySpec {
    pub const ONCE: RetrySpec = RetrySpec { max_attempts: 1, backoff: Backoff::NONE, retry_on: 0, budget: None };

    /// Every failure: timeout, error, rejected, refused.
    pub const RETRY_ALL: u8 = (1 << Outcome::Timeout as u8)
        | (1 << Outcome::Error as u8)
        | (1 << Outcome::Rejected as u8)
        | (1 << Outcome::Refused as u8);

    #[inline]
    pub fn retries(&self, o: Outcome) -> bool {
        self.retry_on & (1 << o as u8) != 0
    }
}

impl Spec {
    /// Each service's hop depth from the clients: 1 for the services workloads call (a router's
    /// cells included), n + 1 for those a service of depth n calls, the least over all paths;
    /// `None` for a service no workload reaches.
    pub fn service_depths(&self) -> Vec<Option<u32>> {
        let targets = |c: &CallSpec| -> Vec<u32> {
            match c.route {
                Some(r) => self.routes[r as usize].targets.clone(),
                None => vec![c.to],
            }
        };
        let mut depth: Vec<Option<u32>> = vec![None; self.services.len()];
        let mut queue = std::collections::VecDeque::new();
        for w in &self.workloads {
            for r in &w.requests {
                for t in targets(&self.calls[r.call as usize]) {
                    if depth[t as usize].is_none() {
                        depth[t as usize] = Some(1);
                        queue.push_back(t);
                    }
                }
            }
        }
        let mut by_caller: Vec<Vec<&CallSpec>> = vec![Vec::new(); self.services.len()];
        for c in &self.calls {
            if let Some((f, _)) = c.from {
                by_caller[f as usize].push(c);
            }
        }
        while let Some(s) = queue.pop_front() {
            let d = depth[s as usize].expect("queued when given a depth");
            for c in &by_caller[s as usize] {
                for t in targets(c) {
                    if depth[t as usize].is_none() {
                        depth[t as usize] = Some(d + 1);
                        queue.push_back(t);
                    }
                }
            }
        }
        depth
    }

    /// Instances over every service.
    pub fn instance_count(&self) -> u64 {
        self.services.iter().map(|s| s.instances as u64).sum()
    }

    /// Customers across the workloads' populations (global ids are below this).
    pub fn customers(&self) -> u64 {
        self.workloads.iter().map(|w| w.first_customer as u64 + w.customers).max().unwrap_or(0)
    }

    /// The mean number of busy workers a service needs at steady state, from the arrival
    /// rates and mean service times (with each call made as often as it is on average: its
    /// probability, its mean repetitions, its branch's share); a planning aid for
    /// `validate`, not used by the simulation.
    pub fn offered_load(&self) -> Vec<f64> {
        self.offered_load_at(Arrival::mean_rate_per_s)
    }

    /// The most end-to-end requests in flight at once, as far as memory is concerned:
    /// `max_in_flight_requests`, or, when every workload is a closed loop, its users (one
    /// request each at most), if fewer, unless some call is fire-and-forget (its work
    /// outlives its request).
    pub fn most_requests_in_flight(&self) -> u64 {
        if self.calls.iter().any(|c| c.wait == Wait::Never) {
            return self.max_in_flight_requests;
        }
        let users = self.workloads.iter().try_fold(0u64, |sum, w| match w.arrival {
            Arrival::Closed { users, .. } => Some(sum + users as u64),
            _ => None,
        });
        users.map_or(self.max_in_flight_requests, |u| u.min(self.max_in_flight_requests))
    }

    /// `offered_load` with each workload's rate given by `rate`: at their peak rates
    /// (`Arrival::peak_rate_per_s`), what the heaviest moments of a schedule ask.
    pub fn offered_load_at(&self, rate: impl Fn(&Arrival) -> f64) -> Vec<f64> {
        let mut busy = vec![0.0; self.services.len()];
        for w in &self.workloads {
            let rate = rate(&w.arrival);
            let mut prev = 0.0;
            for (r, cum) in w.requests.iter().zip(&w.cumulative_mix) {
                let share = cum - prev;
                prev = *cum;
                let entry = &self.calls[r.call as usize];
                for ((s, op), k) in self.visits(entry.to, entry.op, r.type_id, CallSpec::mean_count, true) {
                    let work_s = self.services[s as usize].operations[op as usize].service_time.mean_ns() / 1e9;
                    busy[s as usize] += rate * share * k * work_s;
                }
            }
        }
        busy
    }

    /// The operations (service, operation) a request of type `type_id` reaches from
    /// operation `op` of service `entry`, each with the number of times it is executed per
    /// request: the sum over the paths to it of the product of `per_call` along the path
    /// (with `per_call` 1, the number of paths), a call in a branch weighted by the branch's
    /// share when `weigh_branches` (else every branch counts fully: a bound). In topological
    /// order; linear in the calls reached, however many paths a diamond-shaped graph has.
    pub fn visits(
        &self,
        entry: u32,
        op: u16,
        type_id: u16,
        per_call: impl Fn(&CallSpec) -> f64,
        weigh_branches: bool,
    ) -> Vec<((u32, u16), f64)> {
        let mut first_op = Vec::with_capacity(self.services.len() + 1);
        first_op.push(0usize);
        for s in &self.services {
            first_op.push(first_op.last().unwrap() + s.operations.len());
        }
        let mut node_of = Vec::with_capacity(*first_op.last().unwrap());
        for (s, svc) in self.services.iter().enumerate() {
            node_of.extend((0..svc.operations.len()).map(|o| (s as u32, o as u16)));
        }
        let index = |s: u32, o: u16| first_op[s as usize] + o as usize;
        let calls_of = |n: usize| {
            let (s, o) = node_of[n];
            let operation = &self.services[s as usize].operations[o as usize];
            let first = operation.plan_by_type[type_id as usize];
            (0..operation.variants()).flat_map(move |b| {
                let weight = if weigh_branches { operation.variant_weight(b) } else { 1.0 };
                let plan = &self.plans[(first + b) as usize];
                plan.steps.iter().flat_map(|step| step.calls()).flat_map(move |c| {
                    let call = &self.calls[c as usize];
                    // A router's call reaches every cell's copy, in equal shares (hashing
                    // spreads customers evenly).
                    let targets: &[u32] = match call.route {
                        Some(r) => &self.routes[r as usize].targets,
                        None => std::slice::from_ref(&call.to),
                    };
                    let share = weight / targets.len() as f64;
                    targets.iter().map(move |&to| (call, to, share))
                })
            })
        };
        // Depth-first post-order without recursion (graphs may be deep): reversed, a
        // topological order of the reached operations.
        let mut seen = vec![false; node_of.len()];
        let mut order = Vec::new();
        let mut stack = vec![(index(entry, op), false)];
        while let Some((n, done)) = stack.pop() {
            if done {
                order.push(n);
                continue;
            }
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            stack.push((n, true));
            stack.extend(calls_of(n).map(|(c, to, _)| index(to, c.op)).filter(|&m| !seen[m]).map(|m| (m, false)));
        }
        order.reverse();
        let mut times = vec![0.0f64; node_of.len()];
        times[index(entry, op)] = 1.0;
        for &n in &order {
            for (c, to, weight) in calls_of(n) {
                times[index(to, c.op)] += times[n] * weight * per_call(c);
            }
        }
        order.into_iter().map(|n| (node_of[n], times[n])).collect()
    }

    /// `visits` summed by service.
    pub fn service_visits(
        &self,
        entry: &CallSpec,
        type_id: u16,
        per_call: impl Fn(&CallSpec) -> f64,
        weigh_branches: bool,
    ) -> Vec<(u32, f64)> {
        let mut total: Vec<Option<f64>> = vec![None; self.services.len()];
        let mut order = Vec::new();
        for ((s, _), k) in self.visits(entry.to, entry.op, type_id, per_call, weigh_branches) {
            let t = total[s as usize].get_or_insert_with(|| {
                order.push(s);
                0.0
            });
            *t += k;
        }
        order.into_iter().map(|s| (s, total[s as usize].unwrap_or(0.0))).collect()
    }
}

impl CallSpec {
    /// How many times an execution of the caller makes this call, on average.
    pub fn mean_count(&self) -> f64 {
        self.probability * self.repeat.as_ref().map_or(1.0, |r| r.count.mean())
    }

    /// The most times an execution of the caller makes this call.
    pub fn max_count(&self) -> u32 {
        self.repeat.as_ref().map_or(1, |r| r.count.max())
    }
}

impl Arrival {
    /// The highest rate the process reaches; 0 for a closed loop, which limits itself (at
    /// most one request in flight per user).
    pub fn peak_rate_per_s(&self) -> f64 {
        match self {
            Arrival::Poisson { rate_per_s } | Arrival::Constant { rate_per_s } => *rate_per_s,
            Arrival::Schedule { steps: points, .. } | Arrival::Linear { points, .. } => {
                points.iter().map(|p| p.rate_per_s).fold(0.0, f64::max)
            }
            Arrival::Closed { .. } => 0.0,
        }
    }

    /// Long-run mean rate per second; for a closed loop, its most (users over the mean think
    /// time: every answer at once).
    pub fn mean_rate_per_s(&self) -> f64 {
        match self {
            Arrival::Poisson { rate_per_s } | Arrival::Constant { rate_per_s } => *rate_per_s,
            Arrival::Closed { users, think } => *users as f64 / (think.mean_ns() / 1e9).max(1e-9),
            Arrival::Linear { points, period_ns } => {
                let end = period_ns.unwrap_or(points.last().map_or(0, |s| s.at_ns));
                if end == 0 || period_ns.is_none() {
                    return points.last().map_or(0.0, |s| s.rate_per_s);
                }
                // The trapezoids between points, and the last rate held to the period's end.
                let mut total = 0.0;
                for (i, p) in points.iter().enumerate() {
                    let (next_at, next_rate) =
                        points.get(i + 1).map_or((end, p.rate_per_s), |n| (n.at_ns, n.rate_per_s));
                    total += (p.rate_per_s + next_rate) / 2.0 * (next_at - p.at_ns) as f64;
                }
                total / end as f64
            }
            Arrival::Schedule { steps, period_ns } => {
                let end = period_ns.unwrap_or(steps.last().map_or(0, |s| s.at_ns));
                if end == 0 || period_ns.is_none() {
                    return steps.last().map_or(0.0, |s| s.rate_per_s);
                }
                let mut total = 0.0;
                for (i, step) in steps.iter().enumerate() {
                    let next = steps.get(i + 1).map_or(end, |s| s.at_ns);
                    total += step.rate_per_s * (next - step.at_ns) as f64;
                }
                total / end as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_mean_rate_weights_by_time() {
        let steps = vec![RateStep { at_ns: 0, rate_per_s: 100.0 }, RateStep { at_ns: 6, rate_per_s: 400.0 }];
        let a = Arrival::Schedule { steps, period_ns: Some(24) };
        // 6 units at 100 and 18 at 400: (600 + 7200) / 24 = 325.
        assert_eq!(a.mean_rate_per_s(), 325.0);
    }
}
