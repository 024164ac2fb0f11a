//! The JSON summary of a run: a versioned, documented shape (docs/summary-format.md).
//! Nothing in it depends on the wall clock or the machine, so the same scenario and seed
//! give the same bytes.

use cellsim_models::hypothesis::{HypothesisResult, Unit};
use cellsim_models::metrics::{BatchMeans, T_19_95};
use cellsim_models::{Outcome, RunResult, Verdict};
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Bumped whenever a field changes meaning or disappears (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct Summary {
    pub schema_version: u32,
    pub cellsim_version: String,
    pub scenario: String,
    pub seed: u64,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// "completed", "overload" or "event-budget".
    pub verdict: String,
    pub verdict_detail: String,
    pub events: u64,
    pub end_s: f64,
    pub in_flight_at_end: u64,
    pub requests: Vec<RequestSummary>,
    pub services: Vec<ServiceSummary>,
    /// Per service call declaration: every caller -> callee edge.
    pub edges: Vec<EdgeSummary>,
    /// Retry budgets and circuit breakers, one entry per call declaration that has one.
    pub policies: Vec<PolicySummary>,
    /// With faults: goodput before them and long after them, and whether the collapse
    /// outlived them. `null` without faults.
    pub stability: Option<StabilitySummary>,
    /// The data files the scenario read (rate series): the path as written in the scenario,
    /// the SHA-256 of the contents, and their length. Absent when it read none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_files: Vec<DataFileSummary>,
    /// Per zone, per cell and per customer, for scenarios that declare regions. Absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<TopologySummary>,
    /// The controllers' actions (autoscaling, zonal shifts), in time order (the first
    /// 1,000). Absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSummary>,
    /// Where failures were absorbed, by hop depth from the clients (0: the clients; 1: the
    /// services they call; and so on): calls that succeeded after a failed attempt (a retry
    /// or a hedge), calls a fallback answered, failed optional calls (the caller degrades),
    /// failed critical calls (the failure goes up to the caller), and, at depth 0, requests
    /// that failed (surfaced to the client). Absent when nothing failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_handling: Vec<FailureHandlingSummary>,
    /// What the faults did against the baseline run (the same scenario and seed without
    /// them): impairment, time to detect and recover, blast radius, cascade depth. Absent
    /// without faults or when the baseline was not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactSummary>,
    /// The scenario's hypotheses, judged, in its order. Absent when it states none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hypotheses: Vec<HypothesisSummary>,
    /// The stop condition that ended the faults early. Absent when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<StoppedSummary>,
}

/// When and why the faults were stopped early.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct StoppedSummary {
    pub at_s: f64,
    /// The condition's name (its expression and scope when it has none).
    pub condition: String,
    /// The last period's value, as people read it ("no data" for an empty period).
    pub value: String,
}

impl HypothesisSummary {
    /// A value of this hypothesis's unit as people read it ("412 ms", "35.4 s", "0.1%").
    pub fn show(&self, x: f64) -> String {
        match self.unit.as_str() {
            "ms" => Unit::Time.show(x * 1e6),
            "share" => Unit::Share.show(x),
            _ => Unit::Count.show(x),
        }
    }
}

/// One hypothesis's verdict. Times are in milliseconds, shares from 0 to 1.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct HypothesisSummary {
    pub name: String,
    pub expect: String,
    pub scope: String,
    pub window: String,
    /// "ms", "share" or "count".
    pub unit: String,
    /// `null`: no data in the window, or (a time to recover or detect) never.
    pub observed: Option<f64>,
    /// The observed value as people read it ("412 ms", "never", "no data").
    pub observed_text: String,
    /// 95% confidence interval, when the window had batches enough for one.
    pub ci95: Option<[f64; 2]>,
    /// "<", "<=", ">" or ">=": what the observed value must be, against the threshold.
    pub comparison: String,
    pub threshold: f64,
    /// The baseline's value, for a comparison with it.
    pub baseline: Option<f64>,
    /// "held" or "broken".
    pub result: String,
    /// The interval straddles the threshold: decided by the point estimate, and
    /// `settle_factor` times the data (seeds, or window length) would settle it.
    pub inconclusive: bool,
    pub settle_factor: Option<f64>,
    pub why: String,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq, Default)]
pub struct FailureHandlingSummary {
    /// The callers' depth: 0 for the clients' requests.
    pub depth: u32,
    pub absorbed_by_retry: u64,
    pub absorbed_by_fallback: u64,
    pub absorbed_by_degradation: u64,
    /// Failed critical calls: their callers (at this depth) fail with them.
    pub passed_up: u64,
    /// Requests that failed: the clients saw the failure (depth 0 only).
    pub surfaced: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct ImpactSummary {
    /// The resolution of every time below.
    pub bucket_s: f64,
    /// The impairment rule (`[analysis]`).
    pub min_jobs: u64,
    pub error_rate_points: f64,
    pub error_rate_factor: f64,
    pub p99_factor: f64,
    pub recovered_buckets: u32,
    pub slo_latency_ms: Option<f64>,
    pub analysed_until_s: f64,
    /// Buckets in which some component was impaired.
    pub impaired_buckets: u64,
    /// The largest depth an impaired component reached (0: only faulted ones were).
    pub cascade_depth: u32,
    pub faults: Vec<FaultImpactSummary>,
    /// Occurrences of repeated faults beyond the first ten of each, not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub occurrences_dropped: u64,
    /// The impaired components and the components on the way to their faulted roots, by
    /// depth (the first 1,000).
    pub cascade: Vec<CascadeNodeSummary>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cascade_nodes_dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct FaultImpactSummary {
    /// Its index among the scenario's `[[fault]]` tables, and which occurrence (from 0; a
    /// fault that repeats has a record for each of its first ten).
    pub fault: u32,
    pub occurrence: u32,
    pub kind: String,
    pub target: String,
    pub start_s: f64,
    pub end_s: f64,
    pub random: bool,
    pub components_hit: u32,
    /// `null`: never detected (no component impaired) / not recovered by the run's end.
    pub time_to_detect_s: Option<f64>,
    pub time_to_recover_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastRadiusSummary>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct BlastRadiusSummary {
    /// Requests that finished in the fault's window, and the share that failed or breached
    /// the SLO, in the run and in the baseline.
    pub requests: u64,
    pub requests_harmed: Option<f64>,
    pub baseline_requests_harmed: Option<f64>,
    /// Customers with a request in the window, and the share that saw one fail or breach the
    /// SLO (absent: no customers, or not collected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers_harmed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_customers_harmed: Option<f64>,
    /// Components, cells and zones impaired during the window, as counts and shares.
    pub components_impaired: u32,
    pub components: u32,
    pub cells_impaired: u32,
    pub cells: u32,
    pub zones_impaired: u32,
    pub zones: u32,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct CascadeNodeSummary {
    pub component: String,
    pub faulted: bool,
    /// `null`: not connected to a faulted component.
    pub depth: Option<u32>,
    pub lateral: bool,
    /// The next component towards the nearest faulted one.
    pub parent: Option<String>,
    pub impaired_buckets: u64,
    pub first_impaired_s: Option<f64>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct ActionSummary {
    pub at_s: f64,
    /// "hpa", "target tracking", "zonal shift" or "zonal autoshift".
    pub controller: String,
    /// The service scaled or the zone shifted.
    pub target: String,
    pub what: String,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct TopologySummary {
    /// By zone: the jobs its instances served.
    pub zones: Vec<PlaceSummary>,
    /// By cell: the calls routers sent there (counted for the cell of their final attempt).
    pub cells: Vec<PlaceSummary>,
    pub customers: CustomersSummary,
    /// By router call into the cells: its breakers' openings per cell and the calls it sent
    /// elsewhere than their customer's cell. Empty without routers.
    pub routers: Vec<RouterSummary>,
    /// The routers' breakers changing state, in time order: when a cell's traffic moved
    /// away ("open"), was tried again ("half-open"), and came back ("closed").
    pub cell_health: Vec<CellHealthSummary>,
    /// Changes beyond the first 1,000, counted only.
    pub cell_health_dropped: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct RouterSummary {
    pub router: String,
    pub call: String,
    pub redirected: u64,
    /// By routed cell, `cell-1` first.
    pub breaker_openings: Vec<u64>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct CellHealthSummary {
    pub at_s: f64,
    pub router: String,
    pub cell: String,
    pub state: String,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct PlaceSummary {
    pub name: String,
    /// Instances placed there (a cell's: of its services), and their mean utilisation.
    pub instances: u64,
    pub utilisation: Option<f64>,
    /// Zones: jobs; cells: routed calls.
    pub total: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// Successes (ok and degraded) over `total`.
    pub availability: Option<f64>,
    /// Of successes: a zone's job sojourn; a cell's routed call, attempts and retries
    /// included.
    pub latency_ms: Option<Latency>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct CustomersSummary {
    /// Customers who sent a request after the warm-up.
    pub sent: u64,
    /// Of them, those who saw at least one failed request (error, timeout, rejected,
    /// refused), and their share.
    pub failed: u64,
    pub failed_share: Option<f64>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct DataFileSummary {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct StabilitySummary {
    /// The window before the first fault: [from, to) in seconds.
    pub before_s: [f64; 2],
    /// The second half of the time between the last fault's end and the end of the run.
    pub after_s: [f64; 2],
    pub goodput_before_per_s: f64,
    pub goodput_after_per_s: f64,
    /// "metastable" (goodput after is under half of goodput before), "recovered", or
    /// "unknown" (a window is empty).
    pub verdict: String,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct PolicySummary {
    pub call: String,
    /// "retry-budget" or "breaker".
    pub policy: String,
    pub kind: String,
    pub copies: u32,
    /// Breakers: how many times one opened.
    pub opened: u64,
    /// Budgets: retries refused. Breakers: attempts refused.
    pub refused: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct RequestSummary {
    pub workload: String,
    pub request: String,
    pub requests: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// (ok + degraded) / requests; null when no request was counted.
    pub availability: Option<f64>,
    pub availability_ci95: Option<f64>,
    pub attempts_per_request: Option<f64>,
    /// Successful requests only.
    pub latency_ms: Option<Latency>,
    /// Every counted request, whatever its outcome.
    pub latency_all_ms: Option<Latency>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct ServiceSummary {
    pub service: String,
    /// Its instances (an autoscaled service's most: its `max`).
    pub instances: u32,
    /// Autoscaled services: the mean number of instances in service over the measurement
    /// window (what `utilisation` is relative to). Absent for a fixed fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_instances_in_service: Option<f64>,
    pub workers_per_instance: u32,
    pub arrivals: u64,
    pub started: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub rejection_rate: Option<f64>,
    pub rejection_rate_ci95: Option<f64>,
    /// Share of started jobs that waited for a worker.
    pub wait_probability: Option<f64>,
    pub wait_probability_ci95: Option<f64>,
    /// Mean busy workers over all workers, over the measurement window.
    pub utilisation: f64,
    /// Time-average jobs present (L) and queued (Lq) over the measurement window.
    pub mean_in_system: f64,
    pub mean_in_queue: f64,
    /// Accepted arrivals per second over the window (lambda for Little's law).
    pub throughput_per_s: f64,
    pub sojourn_ms: Option<Latency>,
    pub wait_ms: Option<Latency>,
    /// Health checks, outlier ejection and routing when too few instances were usable;
    /// `null` for a plain round-robin service.
    pub fleet: Option<FleetSummary>,
    /// Its heaps over the whole run (warm-up included); absent without `memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySummary>,
    /// Per operation (one, `default`, for a service that names none).
    pub operations: Vec<OperationSummary>,
    /// Per instance, in order: jobs admitted, and busy workers over the instance's workers
    /// over the window. Counts, not histograms: a service may have 100,000 instances.
    pub instance_jobs: Vec<u64>,
    pub instance_utilisation: Vec<f64>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct OperationSummary {
    pub operation: String,
    /// Jobs counted, refusals included.
    pub jobs: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// From arrival at the instance to the reply, for jobs not refused.
    pub sojourn_ms: Option<Latency>,
}

/// One call declaration: a caller's operation calling a callee's operation.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct EdgeSummary {
    pub caller: String,
    pub operation: String,
    /// The call's name (by default the callee's name).
    pub call: String,
    pub callee: String,
    pub callee_operation: String,
    /// Logical calls counted (started after the warm-up, ended), each once whatever its
    /// retries.
    pub calls: u64,
    /// By the call's final outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// (ok + degraded) / calls.
    pub success_rate: Option<f64>,
    pub attempts_per_call: Option<f64>,
    /// From the call's start to its end, over its attempts, whatever its outcome.
    pub latency_ms: Option<Latency>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct FleetSummary {
    /// Instances marked unhealthy by their checks (transitions).
    pub marked_unhealthy: u64,
    pub restarts: u64,
    pub ejections: u64,
    /// Jobs routed to any instance because none (or too few, under the panic threshold)
    /// were usable.
    pub routed_fail_open: u64,
    /// Jobs refused because no instance was usable and the service fails closed.
    pub refused_fail_closed: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct MemorySummary {
    /// Instances killed by the OOM killer.
    pub oom_kills: u64,
    /// Garbage collections, and their pauses summed over the instances.
    pub gc_pauses: u64,
    pub gc_paused_s: f64,
    /// The pauses' share of the instances' time (paused time over instances x run length).
    pub gc_share: f64,
}

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    /// Half-width of the 95% confidence interval of the mean (20 batch means); null when a
    /// batch had no data.
    pub mean_ci95: Option<f64>,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

fn ms(ns: f64) -> f64 {
    // Round to the nanosecond so the JSON carries no floating-point noise.
    (ns.round()) / 1e6
}

fn latency(h: &Histogram<u64>, batches: Option<&BatchMeans>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let q = |x: f64| ms(h.value_at_quantile(x) as f64);
    Some(Latency {
        count: h.len(),
        mean: ms(h.mean()),
        mean_ci95: batches.and_then(|b| b.interval(T_19_95)).map(|(_, half)| ms(half)),
        min: ms(h.min() as f64),
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: ms(h.max() as f64),
    })
}

fn outcomes(o: &cellsim_models::Outcomes) -> BTreeMap<String, u64> {
    Outcome::ALL.iter().map(|&x| (x.name().to_string(), o.get(x))).collect()
}

/// The failure handling table (see `Summary::failure_handling`): edges by their caller's
/// depth, the clients' requests at depth 0; rows where something failed.
fn failure_handling(r: &RunResult) -> Vec<FailureHandlingSummary> {
    let mut rows: BTreeMap<u32, FailureHandlingSummary> = BTreeMap::new();
    for q in &r.requests {
        let row = rows.entry(0).or_default();
        row.absorbed_by_retry += q.retried_ok;
        row.surfaced += q.outcomes.total() - q.outcomes.successes();
    }
    for e in r.edges.iter() {
        let Some(depth) = e.caller_depth else { continue };
        let row = rows.entry(depth).or_insert_with(|| FailureHandlingSummary { depth, ..Default::default() });
        let failed = e.outcomes.total() - e.outcomes.successes();
        row.absorbed_by_retry += e.retried_ok;
        row.absorbed_by_fallback += e.fallbacks;
        if e.critical {
            row.passed_up += failed;
        } else {
            row.absorbed_by_degradation += failed;
        }
    }
    rows.into_values()
        .filter(|r| {
            r.absorbed_by_retry + r.absorbed_by_fallback + r.absorbed_by_degradation + r.passed_up + r.surfaced > 0
        })
        .collect()
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn hypothesis(h: &HypothesisResult) -> HypothesisSummary {
    let (unit, scale) = match h.unit {
        Unit::Time => ("ms", 1e-6),
        Unit::Share => ("share", 1.0),
        Unit::Count => ("count", 1.0),
    };
    let v = |x: f64| x * scale;
    HypothesisSummary {
        name: h.name.clone(),
        expect: h.expect.clone(),
        scope: h.scope.clone(),
        window: h.window.clone(),
        unit: unit.into(),
        observed: h.observed.filter(|x| x.is_finite()).map(v),
        observed_text: h.observed.map_or("no data".into(), |x| h.unit.show(x)),
        ci95: h.interval.map(|(lo, hi)| [v(lo), v(hi)]),
        comparison: h.comparison.symbol().into(),
        threshold: v(h.threshold),
        baseline: h.baseline.map(v),
        result: if h.held { "held" } else { "broken" }.into(),
        inconclusive: h.inconclusive,
        settle_factor: h.settle_factor,
        why: h.why.clone(),
    }
}

fn impact(i: &cellsim_models::impact::Impact, r: &RunResult) -> ImpactSummary {
    let name = |c: u32| r.services.get(c as usize).map_or_else(String::new, |s| s.service.clone());
    ImpactSummary {
        bucket_s: seconds(i.bucket_ns),
        min_jobs: i.rule.min_jobs,
        error_rate_points: i.rule.error_rate_points,
        error_rate_factor: i.rule.error_rate_factor,
        p99_factor: i.rule.p99_factor,
        recovered_buckets: i.rule.recovered_buckets,
        slo_latency_ms: i.rule.slo_ns.map(|ns| ms(ns as f64)),
        analysed_until_s: seconds(i.analysed_until_ns),
        impaired_buckets: i.impaired_buckets,
        cascade_depth: i.cascade.depth,
        occurrences_dropped: i.occurrences_dropped,
        faults: i
            .faults
            .iter()
            .map(|f| FaultImpactSummary {
                fault: f.fault,
                occurrence: f.occurrence,
                kind: f.kind.to_string(),
                target: f.what.clone(),
                start_s: seconds(f.start_ns),
                end_s: seconds(f.end_ns),
                random: f.random,
                components_hit: f.components_hit,
                time_to_detect_s: f.time_to_detect_ns.map(seconds),
                time_to_recover_s: f.time_to_recover_ns.map(seconds),
                blast_radius: f.blast.as_ref().map(|b| BlastRadiusSummary {
                    requests: b.requests,
                    requests_harmed: ratio(b.requests_harmed, b.requests),
                    baseline_requests_harmed: ratio(b.baseline_requests_harmed, b.baseline_requests),
                    customers: b.customers.map(|c| c.0.sent),
                    customers_harmed: b.customers.and_then(|c| ratio(c.0.failed, c.0.sent)),
                    baseline_customers_harmed: b.customers.and_then(|c| ratio(c.1.failed, c.1.sent)),
                    components_impaired: b.components_impaired,
                    components: b.components,
                    cells_impaired: b.cells_impaired,
                    cells: b.cells,
                    zones_impaired: b.zones_impaired,
                    zones: b.zones,
                }),
            })
            .collect(),
        cascade: i
            .cascade
            .nodes
            .iter()
            .map(|n| CascadeNodeSummary {
                component: n.name.clone(),
                faulted: n.faulted,
                depth: n.depth,
                lateral: n.lateral,
                parent: n.parent.map(name),
                impaired_buckets: n.impaired_buckets,
                first_impaired_s: n.first_impaired_ns.map(seconds),
            })
            .collect(),
        cascade_nodes_dropped: i.cascade.nodes_dropped,
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| round9(a as f64 / b as f64))
}

fn round9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

fn ci(b: &BatchMeans) -> Option<f64> {
    b.interval(T_19_95).map(|(_, half)| round9(half))
}

pub fn summarise(r: &RunResult) -> Summary {
    let window_s = (r.measured_until_ns - r.warmup_ns) as f64 / 1e9;
    let (verdict, detail) = match &r.verdict {
        Verdict::Completed => ("completed", r.verdict.describe()),
        Verdict::Overload { .. } => ("overload", r.verdict.describe()),
        Verdict::EventBudget { .. } => ("event-budget", r.verdict.describe()),
    };
    Summary {
        schema_version: SCHEMA_VERSION,
        cellsim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: r.scenario.clone(),
        seed: r.seed,
        duration_s: r.duration_ns as f64 / 1e9,
        warmup_s: r.warmup_ns as f64 / 1e9,
        verdict: verdict.to_string(),
        verdict_detail: detail,
        events: r.events,
        end_s: r.end_ns as f64 / 1e9,
        in_flight_at_end: r.in_flight_at_end,
        requests: r
            .requests
            .iter()
            .map(|s| RequestSummary {
                workload: s.workload.clone(),
                request: s.request.clone(),
                requests: s.outcomes.total(),
                outcomes: outcomes(&s.outcomes),
                availability: ratio(s.outcomes.successes(), s.outcomes.total()),
                availability_ci95: ci(&s.success_batches),
                attempts_per_request: ratio(s.attempts, s.outcomes.total()),
                latency_ms: latency(&s.latency, Some(&s.latency_batches)),
                latency_all_ms: {
                    let mut all = s.latency.clone();
                    all.add(&s.latency_failed).expect("histograms share their bounds");
                    latency(&all, None)
                },
            })
            .collect(),
        services: r
            .services
            .iter()
            .map(|s| {
                let workers = s.instances as f64 * s.workers_per_instance as f64;
                let accepted = s.arrivals - s.outcomes.get(Outcome::Rejected);
                let width = r.measured_until_ns - r.warmup_ns;
                let o = &s.occupancy;
                let (in_system, busy, queued) =
                    (o.in_system.average(width), o.busy.average(width), o.queued.average(width));
                let mut wait = s.wait.clone();
                // The histogram holds positive waits; the rest waited zero (1 ns, its floor).
                wait.record_n(1, s.started - s.waited).expect("1 ns is within the bounds");
                ServiceSummary {
                    service: s.service.clone(),
                    instances: s.instances,
                    workers_per_instance: s.workers_per_instance,
                    arrivals: s.arrivals,
                    started: s.started,
                    outcomes: outcomes(&s.outcomes),
                    rejection_rate: ratio(s.outcomes.get(Outcome::Rejected), s.arrivals),
                    rejection_rate_ci95: ci(&s.rejected_batches),
                    wait_probability: ratio(s.waited, s.started),
                    wait_probability_ci95: ci(&s.waited_batches),
                    // An autoscaled service's workers are those in service, on average.
                    utilisation: round9(match s.in_service {
                        Some(t) if t.0 > 0 => busy / (t.average(width) * s.workers_per_instance as f64),
                        _ => busy / workers,
                    }),
                    mean_instances_in_service: s.in_service.map(|t| round9(t.average(width))),
                    mean_in_system: round9(in_system),
                    mean_in_queue: round9(queued),
                    throughput_per_s: round9(accepted as f64 / window_s),
                    sojourn_ms: latency(&s.sojourn, Some(&s.sojourn_batches)),
                    wait_ms: latency(&wait, Some(&s.wait_batches)),
                    fleet: s.fleet.map(|f| FleetSummary {
                        marked_unhealthy: f.marked_unhealthy,
                        restarts: f.restarts,
                        ejections: f.ejections,
                        routed_fail_open: f.routed_fail_open,
                        refused_fail_closed: f.refused_fail_closed,
                    }),
                    memory: s.memory.map(|m| MemorySummary {
                        oom_kills: m.oom_kills,
                        gc_pauses: m.gc_pauses,
                        gc_paused_s: round9(m.gc_paused_ns as f64 / 1e9),
                        gc_share: round9(m.gc_paused_ns as f64 / (s.instances as f64 * r.end_ns.max(1) as f64)),
                    }),
                    operations: s
                        .operations
                        .iter()
                        .map(|o| OperationSummary {
                            operation: o.operation.clone(),
                            jobs: o.outcomes.total(),
                            outcomes: outcomes(&o.outcomes),
                            sojourn_ms: latency(&o.sojourn, None),
                        })
                        .collect(),
                    instance_jobs: s.instances_stats.iter().map(|i| i.jobs).collect(),
                    instance_utilisation: s
                        .instances_stats
                        .iter()
                        .map(|i| round9(i.busy.average(width) / s.workers_per_instance as f64))
                        .collect(),
                }
            })
            .collect(),
        edges: r
            .edges
            .iter()
            .map(|e| EdgeSummary {
                caller: e.caller.clone(),
                operation: e.operation.clone(),
                call: e.call.clone(),
                callee: e.callee.clone(),
                callee_operation: e.callee_operation.clone(),
                calls: e.outcomes.total(),
                outcomes: outcomes(&e.outcomes),
                success_rate: ratio(e.outcomes.successes(), e.outcomes.total()),
                attempts_per_call: ratio(e.attempts, e.outcomes.total()),
                latency_ms: latency(&e.latency, None),
            })
            .collect(),
        policies: r
            .policies
            .iter()
            .map(|p| PolicySummary {
                call: p.call.clone(),
                policy: p.policy.to_string(),
                kind: p.kind.to_string(),
                copies: p.copies,
                opened: p.opened,
                refused: p.refused,
            })
            .collect(),
        stability: r.stability.map(|st| StabilitySummary {
            before_s: [round9(st.before.0 as f64 / 1e9), round9(st.before.1 as f64 / 1e9)],
            after_s: [round9(st.after.0 as f64 / 1e9), round9(st.after.1 as f64 / 1e9)],
            goodput_before_per_s: round9(st.goodput_before_per_s()),
            goodput_after_per_s: round9(st.goodput_after_per_s()),
            verdict: match st.metastable() {
                Some(true) => "metastable",
                Some(false) => "recovered",
                None => "unknown",
            }
            .into(),
        }),
        data_files: r
            .data_files
            .iter()
            .map(|d| DataFileSummary { file: d.file.clone(), sha256: d.sha256.clone(), bytes: d.bytes })
            .collect(),
        actions: r
            .actions
            .iter()
            .map(|a| ActionSummary {
                at_s: a.at_ns as f64 / 1e9,
                controller: a.controller.clone(),
                target: a.target.clone(),
                what: a.what.clone(),
            })
            .collect(),
        impact: r.impact.as_ref().map(|i| impact(i, r)),
        hypotheses: r.hypotheses.iter().map(hypothesis).collect(),
        stopped: r.stopped.as_ref().map(|s| StoppedSummary {
            at_s: s.at_ns as f64 / 1e9,
            condition: s.name.clone(),
            value: s.value.map_or("no data".into(), |v| s.unit.show(v)),
        }),
        failure_handling: failure_handling(r),
        topology: r.topology.as_ref().map(|t| {
            let width = r.measured_until_ns - r.warmup_ns;
            let places = |list: &[cellsim_models::PlaceStats]| {
                list.iter()
                    .map(|p| PlaceSummary {
                        name: p.name.clone(),
                        instances: p.instances,
                        utilisation: (p.workers > 0).then(|| round9(p.busy.average(width) / p.workers as f64)),
                        total: p.outcomes.total(),
                        outcomes: outcomes(&p.outcomes),
                        availability: ratio(p.outcomes.successes(), p.outcomes.total()),
                        latency_ms: latency(&p.latency, None),
                    })
                    .collect()
            };
            TopologySummary {
                zones: places(&t.zones),
                cells: places(&t.cells),
                customers: CustomersSummary {
                    sent: t.customers,
                    failed: t.customers_failed,
                    failed_share: ratio(t.customers_failed, t.customers),
                },
                routers: t
                    .routers
                    .iter()
                    .map(|r| RouterSummary {
                        router: r.router.clone(),
                        call: r.call.clone(),
                        redirected: r.redirected,
                        breaker_openings: r.openings.clone(),
                    })
                    .collect(),
                cell_health: t
                    .health_changes
                    .iter()
                    .map(|c| CellHealthSummary {
                        at_s: c.at_ns as f64 / 1e9,
                        router: c.router.clone(),
                        cell: c.cell.clone(),
                        state: c.state.to_string(),
                    })
                    .collect(),
                cell_health_dropped: t.health_changes_dropped,
            }
        }),
    }
}
