//! The scenario file as people write it: TOML tables mapped one-to-one onto these structs.
//! Every struct rejects unknown keys. Cross-references and value ranges are checked later,
//! by `compile`, which turns a `ScenarioFile` into a runnable `Spec`.
//!
//! The reference for users is `docs/scenario-format.md`; keep the two in step. This file
//! holds the run, its workloads, services and calls; `scenario/` the tables that stand apart:
//! a call's policies (`policy.rs`), the topology (`topology.rs`), the controllers
//! (`control.rs`), the faults (`fault.rs`) and the noise (`noise.rs`).

pub use crate::policy::backoff::BackoffKind;
use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

mod control;
mod fault;
mod hypothesis;
mod noise;
mod policy;
mod topology;

pub use control::{AutoscalerKind, AutoscalingSection, AutoshiftSection, ShiftSection, ZonalShiftSection};
pub use fault::{
    AnalysisSection, ChaosMonkeySection, Direction, DnsAnswer, ErrorClass, FaultKind, FaultSection, IfEmpty,
};
pub use hypothesis::{HypothesisSection, StopSection};
pub use noise::{NetworkNoiseSection, NoiseSection, PausesSection, StealSection};
pub use policy::{
    BreakerKind, BreakerSection, BudgetKind, BudgetSection, BulkheadSection, FallbackSection, HedgeSection, RetryOn,
    RetrySection, Scope, SlidingWindow, ThrottlingSection,
};
pub use topology::{
    CellSection, CellsSection, FallbackCellSection, MigrationSection, NetworkSection, RegionSection, RoutingKind,
    RoutingSection,
};

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Run settings: name, duration, warm-up, seed, bucket width.
    pub scenario: Loc<RunSection>,
    /// Bounds that stop a run with a verdict instead of exhausting memory.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Open-loop traffic sources.
    #[serde(default, rename = "workload")]
    pub workloads: Vec<Loc<WorkloadSection>>,
    /// The services and the calls between them.
    #[serde(default, rename = "service")]
    pub services: Vec<Loc<ServiceSection>>,
    /// Faults injected at set times.
    #[serde(default, rename = "fault")]
    pub faults: Vec<Loc<FaultSection>>,
    /// Regions and their availability zones, where services' instances are placed.
    #[serde(default, rename = "region")]
    pub regions: Vec<Loc<RegionSection>>,
    /// Network latency between placements (same zone, across zones, across regions).
    pub network: Option<Loc<NetworkSection>>,
    /// Cells: copies of a template of services, each placed across zones.
    pub cells: Option<Loc<CellsSection>>,
    /// Zonal shifts (AZ evacuation): by hand at set times, or automatic on a zone's alarm.
    pub zonal_shift: Option<Loc<ZonalShiftSection>>,
    /// How a run with faults is compared with its baseline: impairment, recovery, SLO.
    pub analysis: Option<Loc<AnalysisSection>>,
    /// A real fleet's background noise: CPU steal, pauses, network jitter and spikes.
    pub noise: Option<Loc<NoiseSection>>,
    /// Steady-state hypotheses, judged after the run.
    #[serde(default, rename = "hypothesis")]
    pub hypotheses: Vec<Loc<HypothesisSection>>,
    /// Alarms that end the faults early when they breach.
    #[serde(default, rename = "stop_condition")]
    pub stop_conditions: Vec<Loc<StopSection>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// A short name, used in reports.
    pub name: String,
    /// What the scenario shows; free text.
    #[serde(default)]
    pub description: String,
    /// Arrivals are generated from time 0 until this time.
    pub duration: Loc<Duration>,
    /// Requests that start before this time are simulated but not counted. Default 0.
    #[serde(default)]
    pub warmup: Option<Loc<Duration>>,
    /// After `duration`, requests in flight get this long to finish. Default 1m.
    #[serde(default)]
    pub drain: Option<Duration>,
    /// Master seed of every random stream. `--seed` overrides it. Default 1.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Width of a time-series bucket. Default: 1s, or for runs longer than 100,000 s
    /// (duration and drain) the narrowest of 10s, 1m, 10m, 1h, 1d giving at most 100,000
    /// buckets.
    #[serde(default)]
    pub bucket: Option<Loc<Duration>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Most events one run may handle (zero-delay dispatches, such as a retry sent at once
    /// after a refusal, count as events). 1 to 10^12. Default 2,000,000,000.
    pub max_events: Option<Loc<u64>>,
    /// Most end-to-end requests in flight at once. 1 to 100,000,000. Default 1,000,000.
    pub max_in_flight_requests: Option<Loc<u64>>,
    /// Most service jobs (one per call attempt being served or queued) at once. 1 to
    /// 1,000,000,000. Default 4,000,000.
    pub max_in_flight_jobs: Option<Loc<u64>>,
    /// Most memory a run may need, in megabytes (10^6 bytes), estimated before it starts with
    /// the work in flight at its limits. 1 to 16,000,000. Default 4,000.
    pub max_memory_mb: Option<Loc<u64>>,
    /// Most bytes the run's output files may take together, in megabytes (10^6 bytes),
    /// estimated before it starts. 1 to 16,000,000. Default 1,000.
    pub max_output_mb: Option<Loc<u64>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    pub name: Loc<String>,
    /// Size of the customer population; each request belongs to one customer, drawn uniformly.
    /// Customer ids are the partition keys. Default 1.
    #[serde(default)]
    pub customers: Option<Loc<u64>>,
    /// Workloads naming the same population share their customers (the same ids are the same
    /// customers). Default: the workload's own population.
    pub population: Option<Loc<String>>,
    /// The arrival process of an open loop (not with `users`).
    pub arrival: Option<Loc<ArrivalSection>>,
    /// A closed loop instead: this many users, each sending a request, waiting for its
    /// answer, then thinking for `think_time` before the next (Locust's and JMeter's model).
    pub users: Option<Loc<u32>>,
    /// With `users`: the pause between an answer and the user's next request; each user's
    /// first request comes after one think time.
    pub think_time: Option<Loc<DistSection>>,
    /// Request types and their mix; at least one.
    #[serde(default, rename = "request")]
    pub requests: Vec<Loc<RequestSection>>,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalProcess {
    /// Exponential inter-arrival times at `rate_per_s`.
    Poisson,
    /// Exactly `rate_per_s` arrivals per second, evenly spaced.
    Constant,
    /// Poisson arrivals whose rate follows `steps`, optionally repeating every `period`.
    Schedule,
    /// Poisson arrivals whose rate follows a series read from a CSV `file`.
    Csv,
}

/// How a rate series goes from one point to the next.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Interpolation {
    /// Each point's rate holds until the next point.
    Step,
    /// The rate goes in a straight line from each point to the next.
    Linear,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalSection {
    pub process: ArrivalProcess,
    /// Arrivals per second (poisson, constant).
    pub rate_per_s: Option<Loc<f64>>,
    /// Rate changes (schedule): from each `at`, the rate is `rate_per_s` until the next step.
    pub steps: Option<Vec<Loc<StepSection>>>,
    /// Repeat the steps (schedule) or the series (csv) with this period, e.g. "24h" for a
    /// daily shape.
    pub period: Option<Loc<Duration>>,
    /// csv: the rate series, a CSV file with a header, relative to the scenario's folder.
    pub file: Option<Loc<String>>,
    /// csv: "step" (each rate holds until the next point, the default) or "linear".
    pub interpolation: Option<Interpolation>,
    /// csv: every rate of the file is multiplied by this. Default 1.
    pub scale: Option<Loc<f64>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSection {
    pub at: Duration,
    pub rate_per_s: Loc<f64>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSection {
    pub name: Loc<String>,
    /// Relative share of this type in the workload's mix. Default 1.
    pub weight: Option<Loc<f64>>,
    /// The service that receives this request type.
    pub target: Loc<String>,
    /// The target's operation. Required when it has several; default: its only one.
    pub operation: Option<Loc<String>>,
    /// The size of the request and of the reply, in bytes. Default 1000 each.
    pub request_bytes: Option<Loc<SizeSection>>,
    pub response_bytes: Option<Loc<SizeSection>>,
    /// The client's timeout, per attempt, above 0. Default: none.
    pub timeout: Option<Loc<Duration>>,
    /// The client's overall deadline, over all attempts. Default: none.
    pub deadline: Option<Loc<Duration>>,
    /// Send the attempt's deadline with it (gRPC's `grpc-timeout`), so that the target drops
    /// the work if nobody waits for it any more and bounds its own calls. Default false.
    #[serde(default)]
    pub propagate_deadline: bool,
    /// A token carried by every attempt, checked by the callee's clock. Default: none.
    pub token: Option<Loc<TokenSection>>,
    /// Network latency between client and target, drawn once each way. Default: none.
    pub latency: Option<Loc<DistSection>>,
    /// Client retries. Default: one attempt.
    pub retry: Option<Loc<RetrySection>>,
    /// The client's circuit breaker. Default: none.
    pub breaker: Option<Loc<BreakerSection>>,
    /// The client's hedging. Default: none. Not with `retry`.
    pub hedge: Option<Loc<HedgeSection>>,
    /// A cap on the client's attempts in flight. Default: none.
    pub bulkhead: Option<Loc<BulkheadSection>>,
    /// Client-side adaptive throttling. Default: none.
    pub adaptive_throttling: Option<Loc<ThrottlingSection>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    pub name: Loc<String>,
    /// Number of instances; calls are balanced round-robin across them. Default 1.
    pub instances: Option<Loc<u32>>,
    /// Workers per instance: how many jobs one instance serves at once. Default 1.
    pub workers: Option<Loc<u32>>,
    /// Jobs an instance may hold waiting for a worker; an arrival that finds it full is
    /// rejected. 0 makes a loss system. Default 1000.
    pub queue_capacity: Option<u32>,
    /// The service's own work per job; with `[[service.operation]]`s, the work of those
    /// that state none. Required unless every operation states its own.
    pub service_time: Option<Loc<DistSection>>,
    /// The implicit operation's mutually exclusive branches, with weights: one is drawn per
    /// job, and calls with `branch = "name"` are made only when it is drawn. Default: none.
    pub branches: Option<Loc<Branches>>,
    /// The chance that a job answers `error` after its own work, without making its calls
    /// (a faulty dependency, a bad deployment). From 0 to 1. Default 0.
    pub error_probability: Option<Loc<f64>>,
    /// true: a worker stays busy while the job waits on its downstream calls
    /// (thread-per-request servers). false: the worker is freed after the job's own work
    /// (asynchronous servers). Default false.
    #[serde(default)]
    pub hold_worker_during_calls: bool,
    /// How jobs are spread over instances. Default round-robin.
    pub load_balancer: Option<LoadBalancer>,
    /// `weighted`: one weight per instance.
    pub weights: Option<Loc<Vec<u32>>>,
    /// Active health checks of the instances. Default: none (every instance always used).
    pub health_check: Option<Loc<HealthCheckSection>>,
    /// Envoy-style outlier ejection. Default: none.
    pub outlier_detection: Option<Loc<OutlierSection>>,
    /// Which queued job a free worker takes. Default fifo.
    pub queue_discipline: Option<QueueDisciplineSection>,
    /// Facebook's CoDel variant: drop queued jobs that waited longer than `target` while the
    /// queue has been standing for `interval`, else longer than `interval`. Default: none.
    pub codel: Option<Loc<CodelSection>>,
    /// At most this many jobs present per instance (queued, working, waiting on calls); one
    /// more is rejected. Default: none.
    pub max_in_flight: Option<Loc<u32>>,
    /// The zones its instances are spread over, round-robin (a zone named twice gets two
    /// shares). Default: its cell's zones, or every zone of the first region.
    pub zones: Option<Vec<Loc<String>>>,
    /// Makes this service a cell router: its calls to template services go to the
    /// customer's cell.
    pub routing: Option<Loc<RoutingSection>>,
    /// load_balancer = "shuffle-shard": the instances per customer. Default 2.
    pub shard_size: Option<Loc<u32>>,
    /// Scales the instances in service between a min and a max.
    pub autoscaling: Option<Loc<AutoscalingSection>>,
    /// An IO phase after the service's own work, on each instance's volume: `time` per job
    /// (a distribution), served by `devices` in parallel (default 1), first come first
    /// served. The worker is held through it. Default: none.
    pub io: Option<Loc<IoSection>>,
    /// The TTL of the service's DNS record: how long a caller may use the address it
    /// resolved. Default 60 s (when names are modelled: a dns, db-failover or clock-skew
    /// fault in the scenario).
    pub dns_ttl: Option<Loc<Duration>>,
    /// Each instance's heap: its limit, live data, allocation, garbage collection, leak; the
    /// OOM kill at the limit and the restart after it. Default: none (memory is not modelled).
    pub memory: Option<Loc<MemorySection>>,
    /// Downstream calls made after the service's own work, in order (the implicit
    /// operation's; not with `[[service.operation]]`).
    #[serde(default, rename = "call")]
    pub calls: Vec<Loc<CallSection>>,
    /// Named operations (endpoints, RPC methods), each with its own work and calls. Default:
    /// one implicit operation, `default`, made of the service's `service_time` and calls.
    #[serde(default, rename = "operation")]
    pub operations: Vec<Loc<OperationSection>>,
}

impl ServiceSection {
    /// Every call the service declares: its own, then its operations', in file order.
    pub fn all_calls(&self) -> impl Iterator<Item = &Loc<CallSection>> {
        self.calls.iter().chain(self.operations.iter().flat_map(|o| o.value.calls.iter()))
    }
}

/// A service's `io`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IoSection {
    pub time: Loc<DistSection>,
    pub devices: Option<Loc<u32>>,
}

/// A call's token (a JWT's `iat` and `exp`): issued by the caller on its clock, valid for
/// `validity`; the callee accepts it while its own clock reads within the window, give or
/// take `leeway` (default 0).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    pub validity: Loc<Duration>,
    pub leeway: Option<Loc<Duration>>,
}

/// A service's `memory`: each instance's heap (sizes in megabytes, 10^6 bytes).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySection {
    /// The heap's limit (a container's memory limit, or -Xmx). Required.
    pub limit_mb: Loc<f64>,
    /// Live data of an idle instance. Default 0.
    pub base_mb: Option<Loc<f64>>,
    /// Live data each job present (queued or at work) holds. Default 0.
    pub per_job_mb: Option<Loc<f64>>,
    /// Allocation by each job as it starts work; collections come when it fills the free
    /// heap. Default 0 (no collections).
    pub alloc_mb_per_job: Option<Loc<f64>>,
    /// A collection's pause: a fixed part (default 5 ms) and a part per megabyte of live
    /// data (default 0.05 ms).
    pub gc_pause: Option<Loc<Duration>>,
    pub gc_pause_per_mb: Option<Loc<Duration>>,
    /// Live data that grows and is never freed, from each start. Default 0.
    pub leak_mb_per_s: Option<Loc<f64>>,
    /// How long a killed instance takes to start again, before CrashLoopBackOff's delay.
    /// Default 5 s.
    pub restart_time: Option<Loc<Duration>>,
}

/// Branch names and their weights, e.g. `{ hit = 0.9, miss = 0.1 }`.
pub type Branches = std::collections::BTreeMap<String, f64>;

/// One operation of a service: its own work and its own calls; workers, queue, instances and
/// policies stay the service's.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationSection {
    /// Unique within the service; callers name it with `operation = "..."`.
    pub name: Loc<String>,
    /// This operation's own work per job. Default: the service's `service_time`.
    pub service_time: Option<Loc<DistSection>>,
    /// Mutually exclusive branches with weights, one drawn per job. Default: none.
    pub branches: Option<Loc<Branches>>,
    /// Downstream calls made after the operation's own work, in order.
    #[serde(default, rename = "call")]
    pub calls: Vec<Loc<CallSection>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallSection {
    /// The called service.
    pub to: Loc<String>,
    /// Set by the compiler, not the file: a router's call into the cells, routed by
    /// `Spec::routes[route]`.
    #[serde(skip)]
    #[schemars(skip)]
    pub route: Option<u32>,
    /// The called service's operation. Required when it has several; default: its only one.
    pub operation: Option<Loc<String>>,
    /// When the caller waits for the answer: "step" (its step waits, the default), "end"
    /// (the operation goes on and waits before it replies), "never" (fire-and-forget).
    pub wait: Option<WaitSection>,
    /// The call is made several times per job: a count (`repeat = 9`, one after another), or
    /// a table with `count` or a distribution (`dist` = "uniform" with `min`, `max`;
    /// "geometric" with `mean` and `min`; "empirical" with `values`, `weights`), and
    /// `parallel = true` to make the copies at once. Default: once.
    pub repeat: Option<Loc<RepeatSection>>,
    /// The chance, above 0 and at most 1, that a job makes this call (drawn once per job).
    /// Default 1.
    pub probability: Option<Loc<f64>>,
    /// Make the call only when the job drew this branch of its operation's `branches`.
    pub branch: Option<Loc<String>>,
    /// The size of the request, in bytes: a number, or a distribution with its values in
    /// bytes. Default 1000. (Network faults turn sizes into segments and transfer time.)
    pub request_bytes: Option<Loc<SizeSection>>,
    /// The size of the reply, in bytes. Default 1000.
    pub response_bytes: Option<Loc<SizeSection>>,
    /// The call's name, unique among its service's calls: it names the call's random streams
    /// (network latency, backoff, fallback, throttling), so that adding or moving another
    /// call leaves this one's draws unchanged, and the call in the summary's policies table.
    /// Default: the called service's name.
    pub name: Option<Loc<String>>,
    /// true: the call's failure fails the caller. false: the caller answers degraded.
    /// Default true.
    pub critical: Option<bool>,
    /// Per-attempt timeout, above 0. Default: none.
    pub timeout: Option<Loc<Duration>>,
    /// Send the attempt's deadline (the sooner of its timeout and the caller's own deadline)
    /// with it. Default false.
    #[serde(default)]
    pub propagate_deadline: bool,
    /// A token carried by every attempt, checked by the callee's clock. Default: none.
    pub token: Option<Loc<TokenSection>>,
    /// Network latency of this hop, drawn once each way. Default: none.
    pub latency: Option<Loc<DistSection>>,
    /// Adjacent calls with the same group run in parallel; a call without one runs alone.
    pub group: Option<Loc<String>>,
    /// Make this call only for these request types. Default: every type.
    pub for_types: Option<Vec<Loc<String>>>,
    /// Retries. Default: one attempt.
    pub retry: Option<Loc<RetrySection>>,
    /// A circuit breaker in front of this call. Default: none.
    pub breaker: Option<Loc<BreakerSection>>,
    /// Hedged requests (gRPC's hedgingPolicy). Default: none. Not with `retry`.
    pub hedge: Option<Loc<HedgeSection>>,
    /// When the call fails (after its retries), a fallback answers instead: the caller
    /// goes on with a `degraded` answer. Default: none.
    pub fallback: Option<Loc<FallbackSection>>,
    /// A cap on this call's attempts in flight. Default: none.
    pub bulkhead: Option<Loc<BulkheadSection>>,
    /// Client-side adaptive throttling (SRE book). Default: none.
    pub adaptive_throttling: Option<Loc<ThrottlingSection>>,
}

/// When a caller waits for a call's answer.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WaitSection {
    /// The call's step waits for it.
    Step,
    /// The operation goes on, and waits for it before it replies.
    End,
    /// Fire-and-forget: nobody waits for it.
    Never,
}

/// A message size in bytes: a number, or a distribution of bytes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SizeSection {
    Bytes(u64),
    Dist(SizeDistSection),
}

/// A distribution of sizes: `dist` as for durations ("constant" with `value`, "uniform" with
/// `min` and `max`, "exponential" with `mean`, "lognormal" with `median` and `p99`), the
/// values in bytes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SizeDistSection {
    pub dist: DistKind,
    pub value: Option<u64>,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub mean: Option<u64>,
    pub median: Option<u64>,
    pub p99: Option<u64>,
}

/// How many times a call is made per job.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RepeatSection {
    /// That many times, one after another.
    Count(u32),
    /// A count or a distribution, in sequence or in parallel.
    Table(RepeatTable),
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatTable {
    /// A fixed count (not with `dist`).
    pub count: Option<u32>,
    /// A distribution of counts: "uniform", "geometric" or "empirical".
    pub dist: Option<CountDist>,
    /// uniform: the least count; geometric: the least count (default 1).
    pub min: Option<u32>,
    /// uniform: the largest count.
    pub max: Option<u32>,
    /// geometric: the mean count, above `min`.
    pub mean: Option<f64>,
    /// empirical: the counts.
    pub values: Option<Vec<u32>>,
    /// empirical: their relative weights.
    pub weights: Option<Vec<f64>>,
    /// true: the copies are made at once; false: one after another. Default false.
    #[serde(default)]
    pub parallel: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CountDist {
    Uniform,
    Geometric,
    Empirical,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DistKind {
    /// Needs `mean`.
    Exponential,
    /// Needs `value`.
    Constant,
    /// Needs `min` and `max`.
    Uniform,
    /// Needs `mean` and `stddev`; `min` (default 0) and `max` (default none) truncate it.
    Normal,
    /// Needs `median` and `p99`.
    Lognormal,
    /// Needs `points`: percentiles from 0 to 100 with their values.
    Empirical,
}

/// A distribution of durations. `dist` names the family; the other keys are its parameters.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistSection {
    pub dist: DistKind,
    pub mean: Option<Duration>,
    pub value: Option<Duration>,
    pub min: Option<Duration>,
    pub max: Option<Duration>,
    pub stddev: Option<Duration>,
    pub median: Option<Duration>,
    pub p99: Option<Duration>,
    pub points: Option<Vec<PointSection>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PointSection {
    /// Percentile, 0 to 100.
    pub p: f64,
    pub value: Duration,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum QueueDisciplineSection {
    Fifo,
    Lifo,
    /// FIFO, but LIFO while the queue is standing (not empty for the CoDel interval,
    /// default 100ms).
    AdaptiveLifo,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodelSection {
    /// Default 5ms.
    pub target: Option<Duration>,
    /// Default 100ms.
    pub interval: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancer {
    RoundRobin,
    Random,
    /// The instance with the fewest jobs present.
    LeastOutstanding,
    /// The less busy of two instances drawn at random.
    PowerOfTwo,
    /// Smooth weighted round robin over `weights`.
    Weighted,
    /// Each customer gets `shard_size` of the instances (one of the C(n, k) shards, by a
    /// hash of its id); its attempts go round its shard.
    ShuffleShard,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HealthCheckKind {
    /// Fails only while the instance is down.
    Liveness,
    /// Also fails when the probe would queue longer than `timeout`.
    Local,
    /// Local, and fails while `dependency` is entirely down.
    Dependency,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSection {
    pub kind: HealthCheckKind,
    /// Default 30s (ALB).
    pub interval: Option<Loc<Duration>>,
    /// Default 5s (ALB).
    pub timeout: Option<Duration>,
    /// Consecutive passes to become healthy. Default 5 (ALB).
    pub healthy_threshold: Option<Loc<u32>>,
    /// Consecutive failures to become unhealthy. Default 2 (ALB).
    pub unhealthy_threshold: Option<Loc<u32>>,
    /// `dependency` checks: the service they depend on.
    pub dependency: Option<Loc<String>>,
    /// When every instance is unhealthy: "fail-open" (route to all, as an ALB does) or
    /// "fail-closed" (refuse). Default fail-open.
    pub all_unhealthy: Option<AllUnhealthy>,
    /// Percent: with fewer usable instances than this share, route to all (Envoy's panic
    /// threshold, 50 there). Default: none.
    pub panic_threshold: Option<Loc<f64>>,
    /// Restart an instance unhealthy for this long. Default: never.
    pub restart_after: Option<Duration>,
    /// How long a restart keeps the instance down. Default 30s.
    pub restart_time: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AllUnhealthy {
    FailOpen,
    FailClosed,
}

/// Envoy outlier detection; defaults from `outlier_detection.proto`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlierSection {
    /// Default 5.
    pub consecutive_errors: Option<Loc<u32>>,
    /// Default 10s.
    pub interval: Option<Loc<Duration>>,
    /// Default 30s.
    pub base_ejection_time: Option<Duration>,
    /// Default 300s.
    pub max_ejection_time: Option<Duration>,
    /// Default 10.
    pub max_ejection_percent: Option<Loc<f64>>,
    /// Default 5.
    pub success_rate_minimum_hosts: Option<u32>,
    /// Default 100.
    pub success_rate_request_volume: Option<u32>,
    /// Default 1.9.
    pub success_rate_stdev_factor: Option<f64>,
}
