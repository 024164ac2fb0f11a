//! The `[[fault]]` tables.

use super::DistSection;
use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// A stressor takes `load_percent` of every instance's CPU: work started during the
    /// fault takes 1 / (1 - load) times as long (shared/reference/faults.md, cpu.stress).
    CpuStress,
    /// The instances are down: each job that reaches one fails at once with `error`
    /// (connection refused). Health checks see it; the balancer only through them.
    Outage,
    /// Launches in a zone fail (AWS FIS `aws:ec2:api-insufficient-instance-capacity-error`):
    /// autoscaling's launches there are retried until the window ends.
    InsufficientCapacity,
    /// The instances crash at `start` and stay down for the rest of the run (an autoscaled
    /// service launches replacements); jobs on them fail at once.
    Terminate,
    /// The instances crash at `start` and are down for `duration`; jobs on them fail at once.
    Stop,
    /// As `stop`: down for `duration` (the reboot time).
    Reboot,
    /// A graceful kill: no new work from `start`, what it holds drains for `grace` (default
    /// 30 s, Kubernetes' terminationGracePeriodSeconds), then is killed; down until the end.
    TaskKill,
    /// Requests of `customers` crash the instance of `service` that takes them: it restarts,
    /// down for `restart_time`; a retry carries the crash to the next instance.
    PoisonPill,
    /// Messages across a link (`from` and `to`) are dropped: calls across it wait for their
    /// timeout.
    Partition,
    /// Every instance in `zone` crashes at one instant and is down for `duration`; no launch
    /// succeeds there meanwhile.
    AzPowerInterruption,
    /// Packet loss (`loss_percent`, default 15) on every message from `zone` to the other
    /// zones (AWS FIS's cross-AZ traffic slowdown).
    CrossZoneSlowdown,
    /// A share of jobs fail (`error_percent`) and a share of answers are late (`latency`,
    /// `jitter`, `slow_percent`), while health checks pass.
    Gray,
    /// The instances' answers (or a link's messages) leave through a link of `rate_mbps`
    /// megabits a second with a queue of `queue_kb` kilobytes.
    Bandwidth,
    /// The network refuses connections to the instances: each job fails at once with
    /// `error` (a fast failure), and health checks fail.
    Reject,
    /// Messages to and from the instances vanish: the caller waits for its own timeout;
    /// health checks fail.
    Blackhole,
    /// The instances stay up and pass their health checks but fail every request at once.
    Unavailable,
    /// A dependency's API fails `error_percent` of the calls to it at once, with `class`
    /// (`throttled`: the caller sees `rejected`, as a 429 or a ThrottlingException;
    /// `internal` and `unavailable`: `error`, as a 500 or 503), as AWS FIS injects API errors
    /// and throttling.
    ApiError,
    /// A leak of `leak_mb_per_s` in the heaps of the instances hit (their service needs
    /// `memory`): from `start` their live data grows until `start + duration`, and what
    /// leaked stays until the instance restarts (an OOM kill restarts it).
    MemoryLeak,
    /// A stressor takes `memory_mb` of the instances' memory while it acts (LitmusChaos'
    /// pod-memory-hog, Chaos Mesh's StressChaos memory): the heap has that much less room.
    MemoryStress,
    /// The name of `service` does not resolve, or resolves wrong (`answer`): callers whose
    /// cached record has expired fail their lookup (`error`), or cache a wrong address that
    /// loses their calls (`blackhole`) or refuses them (`reject`) until it expires.
    Dns,
    /// The clocks of the instances hit read `offset_s` seconds ahead (negative: behind) while
    /// the fault acts: their DNS records expire early (or late) and the tokens they check
    /// are judged on the wrong time.
    ClockSkew,
    /// `service` is a database writer that fails over at `start`: its work in flight aborts,
    /// it takes no work for `failover_time`, then its endpoint's record names the promoted
    /// writer; callers whose cached record is older fail until it expires.
    DbFailover,
    /// A new version of `service` (a template's copies in every cell, or a plain service's
    /// instances) rolled out in `waves` one `bake` apart from `start`: it may be slower
    /// (`slowdown`), fail a share of its jobs (`error_percent`), crash on a share
    /// (`crash_percent`, down for `restart_time`), or take a share of each unit's instances out
    /// of service (`capacity_percent`). An `alarm` on the service's error rate halts it (no
    /// later wave starts) and `rollback` later the old version is back everywhere; `duration`,
    /// when given, ends it everywhere (a fix, or a slow recovery).
    Deployment,
    /// Every IO on the instances' volumes blocks until the fault ends (AWS FIS
    /// ebs:pause-volume-io); the service needs `io`.
    IoPause,
    /// `slow_percent` of the instances' IOs (default all) take `latency` longer (FIS
    /// ebs:volume-io-latency, Chaos Mesh IOChaos latency).
    IoLatency,
    /// A competing load takes `load_percent` of the instances' IO capacity: each IO takes
    /// 1 / (1 - load) times as long (LitmusChaos pod-io-stress).
    IoStress,
    /// Istio's and Envoy's fault injection: `error_percent` of the requests aborted (with
    /// `class`) and `slow_percent` delayed by `latency` (plus or minus `jitter`).
    HttpFault,
    /// The instances' answers take `latency` longer, plus or minus a uniform `jitter`.
    NetworkLatency,
    /// The instances' answers lose `loss_percent` of their TCP segments, each loss costing a
    /// retransmission timeout (200 ms, doubling on consecutive losses).
    PacketLoss,
}

/// `[analysis]`: how a run with faults is compared with its baseline (the same scenario and
/// seed without the faults, run in step with it), and when a component counts as impaired.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSection {
    /// Run the baseline beside a scenario with faults (default true); without it there is no
    /// impairment, time to detect or recover, cascade depth or blast radius.
    pub baseline: Option<bool>,
    /// A component needs at least this many jobs in a bucket to be judged (default 20).
    pub min_jobs: Option<Loc<u64>>,
    /// Impaired when its error rate exceeds the baseline's by more than this many percentage
    /// points (default 1) ...
    pub error_rate_points: Option<Loc<f64>>,
    /// ... and is at least this many times the baseline's (default 2);
    pub error_rate_factor: Option<Loc<f64>>,
    /// or when its p99 latency exceeds this many times the baseline's (default 1.5).
    pub p99_factor: Option<Loc<f64>>,
    /// Recovered after this many consecutive buckets with no component impaired (default 3).
    pub recovered_buckets: Option<Loc<u32>>,
    /// Requests that succeed slower than this breach the SLO and count in the blast radius
    /// like failures (default: only failures count).
    pub slo_latency: Option<Loc<Duration>>,
}

/// Chaos Monkey's calendar: each work day (Monday to Friday; the run starts on a Monday at
/// 00:00), with chance 1 / `mean_days` (default 2), one instance is killed at a uniform time
/// between `start_hour` (9) and `end_hour` (15), at least `min_days` (1) work days after the
/// last kill.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChaosMonkeySection {
    pub mean_days: Option<f64>,
    pub min_days: Option<u32>,
    pub start_hour: Option<u32>,
    pub end_hour: Option<u32>,
}

/// What a lookup of a name gets while a `dns` fault acts on it.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DnsAnswer {
    /// NXDOMAIN or SERVFAIL: the lookup fails, and the call with it (`error`).
    Error,
    /// A wrong address where nothing answers: calls to it are lost (the caller's timeout).
    Blackhole,
    /// A wrong address that refuses connections: calls fail at once (`error`).
    Reject,
}

/// How an injected API error fails the call, and so what the caller's retry policy sees.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// A throttling error (HTTP 429, ThrottlingException): `rejected`.
    Throttled,
    /// HTTP 500: `error`.
    Internal,
    /// HTTP 503: `error`.
    Unavailable,
}

/// Which messages a link fault acts on.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Both,
    OneWay,
}

/// What a fault whose target has no instances does (AWS FIS's `emptyTargetResolutionMode`).
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IfEmpty {
    Fail,
    Skip,
}

/// A fault: what, where, and when.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    pub kind: FaultKind,
    /// A name hypotheses' windows can use (`during az-outage`); otherwise `fault[i]`.
    pub name: Option<Loc<String>>,
    /// The target, one of: the service whose instances are hit, a cell, a zone or a region
    /// (every instance placed there).
    pub service: Option<Loc<String>>,
    pub cell: Option<Loc<String>>,
    pub zone: Option<Loc<String>>,
    pub region: Option<Loc<String>>,
    /// When the fault begins (with `duration`; not with `mtbf`).
    pub start: Option<Loc<Duration>>,
    /// How long it lasts.
    pub duration: Option<Loc<Duration>>,
    /// Random failures instead of a window (outages only): each failure domain (each
    /// instance of a `service` target; the whole cell, zone or region otherwise) fails after
    /// a draw of `mtbf` and is repaired after a draw of `mttr`, again and again.
    pub mtbf: Option<Loc<DistSection>>,
    pub mttr: Option<Loc<DistSection>>,
    /// cpu-stress: the share of CPU the stressor takes, from 0 to 99.
    pub load_percent: Option<Loc<f64>>,
    /// How many instances are hit, from the first. Default all.
    pub instances: Option<Loc<u32>>,
    /// Hit this many of the target's instances, chosen at random when the run starts.
    pub count: Option<Loc<u32>>,
    /// Hit this share of the target's instances, in percent (rounded up), chosen at random.
    pub percent: Option<Loc<u32>>,
    /// A target with no instances is an error (`"fail"`, the default) or does nothing
    /// (`"skip"`).
    pub if_empty: Option<IfEmpty>,
    /// network-latency: the added one-way delay of each answer, and its uniform jitter.
    pub latency: Option<Loc<Duration>>,
    pub jitter: Option<Loc<Duration>>,
    /// packet-loss: the chance, in percent, that a transmission of a segment is lost.
    pub loss_percent: Option<Loc<f64>>,
    /// poison-pill: the poisoned customers' ids, of `workload` (needed when workloads have
    /// customers of their own), and how long a crashed instance is down (default 30 s).
    pub customers: Option<Loc<Vec<u32>>>,
    pub workload: Option<Loc<String>>,
    pub restart_time: Option<Loc<Duration>>,
    /// task-kill: how long the instance drains before what is left is killed.
    pub grace: Option<Loc<Duration>>,
    /// A link fault's sides: "service api", "cell cell-3", "zone use1-az1" or "region
    /// us-east-1"; `to` defaults to everything else.
    pub from: Option<Loc<String>>,
    pub to: Option<Loc<String>>,
    /// Both ways (default), or only messages from `from` to `to`.
    pub direction: Option<Direction>,
    /// The share of flows (caller and callee instance pairs) hit, in percent (default 100).
    pub flows_percent: Option<Loc<u32>>,
    /// The strength rises linearly from 0 at the start to full after `ramp` (CPU stress,
    /// network latency, packet loss, gray failures), as Chaos Mesh's stressors ramp.
    pub ramp: Option<Loc<Duration>>,
    /// Act again every `every` from `start`, `times` times in all (default: as many as start
    /// before the run's end).
    pub every: Option<Loc<Duration>>,
    pub times: Option<Loc<u32>>,
    /// Kills on Netflix Chaos Monkey's calendar (terminate, stop or reboot).
    pub chaos_monkey: Option<Loc<ChaosMonkeySection>>,
    /// bandwidth: the rate, in megabits (10^6 bits) a second, and the queue, in kilobytes
    /// (10^3 bytes; default 1,000).
    pub rate_mbps: Option<Loc<f64>>,
    pub queue_kb: Option<Loc<u64>>,
    /// gray: the share of jobs that fail, and of answers delayed by `latency`.
    pub error_percent: Option<Loc<f64>>,
    /// memory-leak: megabytes (10^6 bytes) a second; memory-stress: megabytes taken.
    pub leak_mb_per_s: Option<Loc<f64>>,
    pub memory_mb: Option<Loc<f64>>,
    /// deployment: the units (cells of a template, or instances of a plain service) in each
    /// wave, in order (default: one wave of all); the time between waves (default 1 h); what
    /// the new version does; the alarm that halts it and the time a rollback takes.
    pub waves: Option<Loc<Vec<u32>>>,
    pub bake: Option<Loc<Duration>>,
    pub slowdown: Option<Loc<f64>>,
    pub crash_percent: Option<Loc<f64>>,
    pub capacity_percent: Option<Loc<f64>>,
    pub alarm: Option<Loc<super::AutoshiftSection>>,
    pub rollback: Option<Loc<Duration>>,
    /// dns: what a lookup gets while it acts (default `error`).
    pub answer: Option<Loc<DnsAnswer>>,
    /// clock-skew: the offset, in seconds (negative: behind).
    pub offset_s: Option<Loc<f64>>,
    /// db-failover: how long the writer is gone (default 30 s), a distribution drawn per run.
    pub failover_time: Option<Loc<DistSection>>,
    /// api-error and http-fault: how the failed calls fail (default `internal`).
    pub class: Option<Loc<ErrorClass>>,
    pub slow_percent: Option<Loc<f64>>,
}
