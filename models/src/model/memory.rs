//! What a run of a spec holds in memory, estimated from the spec before it starts: the
//! model's fixed records, the latency histograms traffic fills, and the records of the work
//! in flight. Sizes are the real types' `size_of`, so the estimate follows the code; the
//! heap parts are counted as the code allocates them. Checked against measured peaks by
//! the tests (`tests/limits.rs`).

use super::lanes::TimeoutLane;
use super::record::Bucket;
use super::records::{Call, CallExt, Instance, Job};
use super::tables::{CallRt, EdgeRt, OpRt, ServiceRt, StepRt, WorkloadRt};
use crate::fleet::{Fleet, InstanceState};
use crate::metrics::{LatencyRecorder, RequestStats, SeriesHistogram};
use crate::policy::breaker::Breaker;
use crate::policy::budget::Budget;
use crate::policy::bulkhead::Bulkhead;
use crate::policy::throttle::Throttle;
use crate::spec::*;
use crate::Features;
use std::mem::size_of;

/// The process before the model: the binary, the allocator, the parsed scenario's buffers.
const BASE_BYTES: u64 = 8 << 20;
/// An HDR histogram of the summary's layout sized for values up to 2 ns (its least).
const EMPTY_HDR_BYTES: u64 = 2048 * 8;
/// A slab slot: the record and its generation, aligned.
const SLOT_OVERHEAD: u64 = 8;
/// One entry in the event queue: time, sequence, event.
const QUEUE_ENTRY_BYTES: u64 = 16 + size_of::<super::event::Event>() as u64;

/// Bytes of one run of a spec, in parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModelMemory {
    /// The spec and every record built before the first event: services, instances, calls
    /// with their policy state, workloads, statistics.
    pub fixed_bytes: u64,
    /// Latency histograms that traffic fills, at their largest (the services and request
    /// types that traffic can reach).
    pub histogram_bytes: u64,
    /// One end-to-end request in flight with the most work a request can have in flight at
    /// once (every call of its plans out, hedges included), and that work's jobs and calls.
    pub request_bytes: u64,
    pub job_bytes: u64,
    pub call_bytes: u64,
    /// The most jobs one request can have in flight at once.
    pub jobs_per_request: u64,
}

impl ModelMemory {
    pub fn of(spec: &Spec) -> ModelMemory {
        let policies = Features::of(spec).tier() != crate::TierKind::Lean;
        let call_bytes = size_of::<Call>() as u64
            + SLOT_OVERHEAD
            + if policies { size_of::<CallExt>() as u64 } else { 0 }
            // A timeout lane entry or a deadline, retry or hedge timer; the slab's free list.
            + QUEUE_ENTRY_BYTES
            + 4;
        let job_bytes =
            size_of::<Job>() as u64 + SLOT_OVERHEAD + size_of::<cellsim_sim::Handle>() as u64 + QUEUE_ENTRY_BYTES + 4;
        ModelMemory {
            fixed_bytes: BASE_BYTES
                + spec_bytes(spec)
                + services_bytes(spec)
                + calls_bytes(spec)
                + workloads_bytes(spec)
                + topology_bytes(spec)
                + controllers_bytes(spec),
            histogram_bytes: histogram_bytes(spec),
            request_bytes: call_bytes,
            job_bytes,
            call_bytes,
            jobs_per_request: jobs_per_request(spec),
        }
    }

    /// Bytes of `requests` requests in flight with at most `jobs` jobs in flight.
    pub fn in_flight_bytes(&self, requests: u64, jobs: u64) -> u64 {
        let jobs = jobs.min(requests.saturating_mul(self.jobs_per_request));
        // Each job answers one call attempt; calls waiting for a retry hold no job.
        requests
            .saturating_mul(self.request_bytes)
            .saturating_add(jobs.saturating_mul(self.job_bytes + self.call_bytes))
    }
}

fn sum(it: impl Iterator<Item = u64>) -> u64 {
    it.fold(0u64, u64::saturating_add)
}

/// Zones, cells, routers and the per-customer bits; a latency record per zone and per cell
/// (each at most `LatencyRecorder::MAX_HEAP_BYTES`, as the requests' and services' are
/// counted at `EMPTY_HDR_BYTES` plus what traffic fills: see `estimate.rs`).
fn topology_bytes(spec: &Spec) -> u64 {
    let Some(t) = spec.topology.as_ref() else { return 0 };
    let names = sum(t.zones.iter().map(|z| 32 + z.name.len() as u64))
        + sum(t
            .cells
            .iter()
            .map(|c| 64 + c.name.len() as u64 + 2 * c.zones.len() as u64 + 4 * c.services.len() as u64));
    let instances: u64 = spec.services.iter().map(|s| s.instances as u64).sum();
    // Their latency recorders are counted with the others' (`histogram_bytes`).
    let places = (t.zones.len() + t.cells.len()) as u64 * size_of::<super::topo::PlaceRecord>() as u64;
    names + places + super::topo::TopoRt::heap_bytes(spec) + 2 * instances
}

/// The autoscalers (a launch and a start time per instance slot), the zonal shift (an alarm
/// per zone, with its datapoints), and the actions and changes of state kept for the report
/// (at most 1,000 of each).
fn controllers_bytes(spec: &Spec) -> u64 {
    let scalers: u64 =
        spec.services.iter().filter(|s| s.autoscaling.is_some()).map(|s| 512 + 64 * s.instances as u64).sum();
    let zones = spec.topology.as_ref().map_or(0, |t| t.zones.len() as u64);
    let shift = spec.zonal_shift.as_ref().map_or(0, |z| {
        let periods = z.auto.map_or(0, |(a, _)| a.evaluation_periods as u64);
        512 + zones * (96 + 8 * periods) + 32 * z.manual.len() as u64
    });
    let actions = if scalers + shift > 0 { 1_000 * 160 } else { 0 };
    let changes = if spec.routes.iter().any(|r| r.health.is_some()) { 1_000 * 24 } else { 0 };
    scalers + shift + actions + changes
}

/// The spec itself: its vectors and names.
fn spec_bytes(spec: &Spec) -> u64 {
    let types = spec.type_names.len() as u64;
    sum(spec.services.iter().map(|s| {
        let ops = s.operations.iter().map(|o| {
            size_of::<OperationSpec>() as u64
                + o.name.len() as u64
                + 4 * types
                + o.branches.iter().map(|b| size_of::<Branch>() as u64 + b.name.len() as u64).sum::<u64>()
        });
        size_of::<ServiceSpec>() as u64 + s.name.len() as u64 + sum(ops)
    })) + sum(spec.calls.iter().map(|c| size_of::<CallSpec>() as u64 + c.name.len() as u64))
        + sum(spec
            .plans
            .iter()
            .map(|p| size_of::<Plan>() as u64 + (8 + size_of::<StepRt>() as u64) * p.steps.len() as u64))
        + sum(spec.workloads.iter().map(|w| size_of::<WorkloadSpec>() as u64 + 64 * w.requests.len() as u64))
        + sum(spec.type_names.iter().map(|n| 24 + n.len() as u64))
        // Each fault: its spec, its targets (twice: the spec's and the state's, and the state's
        // sorted copy), a link's two bitsets and other side, a poison pill's customers, two
        // timeline entries per occurrence.
        + sum(spec.faults.iter().map(|f| {
            // Chaos Monkey's kills: at most one a work day, each a fault of its own.
            let days = spec.duration_ns / (24 * 3600 * cellsim_sim::NS_PER_S) + 1;
            let occurrences = f.repeat.map_or(1, |r| r.times as u64)
                + f.monkey.map_or(0, |_| days * (size_of::<FaultSpec>() as u64 + 160) / 32);
            // A task kill's end of grace is a crash fault of its own per occurrence, a copy.
            let copies = if matches!(f.kind, crate::faults::FaultKind::TaskKill { .. }) {
                f.repeat.map_or(1, |r| r.times as u64) * (size_of::<FaultSpec>() as u64 + 16 * f.target.instances.len() as u64)
            } else {
                0
            };
            let link = f.link.as_ref().map_or(0, |l| 8 * l.to.len() as u64 + spec.instance_count().div_ceil(4));
            // A deployment: its plan (units, waves) and run-time record per target instance,
            // a lookup per instance of the run, and its alarm's and halts' records.
            let deployment = f.rollout.as_ref().map_or(0, |_| {
                32 * f.target.instances.len() as u64 + 8 * spec.instance_count() + 4096
            });
            size_of::<FaultSpec>() as u64
                + deployment
                + 128
                + 16 * f.target.instances.len() as u64
                + link
                + 4 * f.customers.len() as u64
                + 32 * occurrences
                + copies
        }))
        + sum(spec.routes.iter().map(|r| r.heap_bytes()))
        // The OOM killer's and deployments' actions, at most `MAX_ACTIONS` of 160 bytes.
        + if spec.services.iter().any(|s| s.memory.is_some()) || spec.faults.iter().any(|f| f.rollout.is_some()) {
            super::control::MAX_ACTIONS as u64 * 160
        } else {
            0
        }
        // Stop conditions: each an alarm (its window of datapoints), counters and a latency
        // histogram at its largest, listed per workload or service; their action.
        + sum(spec.stop_conditions.iter().map(|c| {
            let alarm = 16 * c.alarm.evaluation_periods as u64 + 256;
            alarm + crate::metrics::SeriesHistogram::MAX_HEAP_BYTES + 4 * (spec.workloads.len() + spec.services.len()) as u64 + 160
        }))
        // Random faults: a process (and a heap entry) per failure domain, at most one per
        // instance hit.
        + sum(spec.random_faults.iter().map(|r| {
            let hit = spec.faults[r.fault as usize].target.hit_count() as u64;
            let domains = if r.per_instance { hit } else { 1 };
            domains * (size_of::<crate::faults::random::UpDown>() as u64 + 64) + 4 * hit
        }))
}

/// Services with their statistics, fleets and instances (and the faults' per-instance state).
fn services_bytes(spec: &Spec) -> u64 {
    let types = spec.type_names.len() as u64;
    let faults_per_instance = if spec.faults.is_empty() { 0 } else { 12 };
    // Noise: each instance's steal and pauses (an `Option` each, whether noisy or not).
    let noise_per_instance =
        if spec.noise.is_some() { crate::faults::noise::NoiseState::BYTES_PER_INSTANCE } else { 0 };
    // Names: a record per caller and named service.
    let names_bytes = super::names::NamesRt::bytes(spec);
    // Heaps: a record per instance of every service once one service has `memory`.
    let heap_per_instance = if spec.services.iter().any(|s| s.memory.is_some()) {
        size_of::<crate::faults::memory::InstanceMemory>() as u64
    } else {
        0
    };
    let fleets = crate::features::Paths::of(spec, true).fleet;
    names_bytes
        + sum(spec.services.iter().zip(fleets).map(|(s, has_fleet)| {
            let n = s.instances as u64;
            // Only a service beyond plain round robin has a fleet, with a record per instance.
            let fleet =
                if has_fleet { size_of::<Fleet>() as u64 + n * (size_of::<InstanceState>() as u64 + 8 + 4) } else { 0 };
            // A service with one operation without branches keeps its plans; others have an
            // `OpRt` per operation with a plan per request type and branch.
            let ops = if s.operations.len() == 1 && s.operations[0].branches.is_empty() {
                8 * types
            } else {
                sum(s
                    .operations
                    .iter()
                    .map(|o| size_of::<OpRt>() as u64 + 8 * o.branches.len() as u64 + 8 * types * o.variants() as u64))
            };
            size_of::<ServiceRt>() as u64
            + ops
            // Handed back per instance when the run ends.
            + n * size_of::<crate::metrics::InstanceStats>() as u64
            + 2 * EMPTY_HDR_BYTES
            + 3 * s.name.len() as u64
            + fleet
            + n * (size_of::<Instance>() as u64 + faults_per_instance + noise_per_instance + heap_per_instance)
            // An IO phase: each instance's devices.
            + s.io.as_ref().map_or(0, |io| n * (24 + 8 * io.1 as u64))
        }))
}

/// Calls with their lanes and the policy state of every copy.
fn calls_bytes(spec: &Spec) -> u64 {
    let callers = crate::features::callers(spec);
    sum(spec.calls.iter().zip(&callers).map(|(c, caller)| {
        let instances = caller.map_or(1, |s| spec.services[s as usize].instances as u64);
        let copies = |scope: Scope| if scope == Scope::Instance { instances } else { 1 };
        let mut bytes = (size_of::<CallRt>() + size_of::<TimeoutLane>() + size_of::<EdgeRt>()) as u64;
        if let Some(b) = c.retry.budget {
            let window_s = match b.spec {
                BudgetSpec::Ratio { window_s, .. } => window_s as u64,
                _ => 1,
            };
            bytes += copies(b.scope) * (size_of::<Budget>() as u64 + 8 * window_s);
        }
        if let Some(b) = c.breaker {
            bytes += copies(b.scope) * (size_of::<Breaker>() as u64 + b.spec.heap_bytes_at_most());
        }
        if let Some(b) = c.bulkhead {
            bytes += copies(b.scope) * size_of::<Bulkhead>() as u64;
        }
        if let Some(t) = c.throttle {
            bytes += copies(t.scope) * (size_of::<Throttle>() as u64 + 8 * t.window_s as u64);
        }
        bytes
    }))
}

/// Workloads with their series buckets and request types with their statistics.
fn workloads_bytes(spec: &Spec) -> u64 {
    sum(spec.workloads.iter().map(|w| {
        let types = w.requests.len() as u64;
        (size_of::<WorkloadRt>() + size_of::<Bucket>()) as u64
            + SeriesHistogram::MAX_HEAP_BYTES
            + 2 * w.name.len() as u64
            + types
                * (size_of::<RequestStats>() as u64 + 2 * EMPTY_HDR_BYTES + 4 + 2 * size_of::<LatencyRecorder>() as u64)
    }))
}

/// The latency recorders of the services and request types traffic reaches, at their
/// largest, and the HDR histograms they become when the run ends, sized for the longest
/// latency the run allows (its duration and drain, capped at an hour).
fn histogram_bytes(spec: &Spec) -> u64 {
    let longest_ns = spec.duration_ns.saturating_add(spec.drain_ns);
    let hdr = crate::metrics::sized_histogram(longest_ns.max(2));
    let hdr_bytes = 8 * hdr.distinct_values() as u64;
    let per_record = LatencyRecorder::MAX_HEAP_BYTES + hdr_bytes;
    let mut reached = vec![false; spec.services.len()];
    let mut types = 0u64;
    for w in &spec.workloads {
        for r in &w.requests {
            types += 1;
            for (s, _) in spec.service_visits(&spec.calls[r.call as usize], r.type_id, |_| 1.0, false) {
                reached[s as usize] = true;
            }
        }
    }
    let services = reached.iter().filter(|&&r| r).count() as u64;
    // A recorder per call edge and per operation of a service with several, and the
    // histograms they become; a service with one operation reports a copy of its sojourns.
    let edges = spec.calls.iter().filter(|c| c.from.is_some_and(|(s, _)| reached[s as usize])).count() as u64;
    let operations: u64 = spec
        .services
        .iter()
        .zip(&reached)
        .filter(|(_, &r)| r)
        .map(|(s, _)| if s.operations.len() > 1 { s.operations.len() as u64 } else { 0 })
        .sum();
    // A recorder per zone and per cell (their jobs' and routed calls' latencies).
    let places = spec.topology.as_ref().map_or(0, |t| (t.zones.len() + t.cells.len()) as u64);
    2 * per_record * (services + types) + per_record * (edges + operations + places) + hdr_bytes * services
}

/// The most jobs one request can have in flight at once: each call of each plan along
/// every path out at the same time, hedged calls with every copy out.
fn jobs_per_request(spec: &Spec) -> u64 {
    let mut most = 1f64;
    for w in &spec.workloads {
        for r in &w.requests {
            let entry = &spec.calls[r.call as usize];
            // Every copy of a hedged call, every copy of a call repeated in parallel (one of a
            // call repeated in sequence), every branch.
            let copies = |c: &CallSpec| {
                let parallel = c.repeat.as_ref().filter(|r| r.parallel).map_or(1, |r| r.count.max());
                c.hedge.map_or(1.0, |h| h.max_attempts as f64) * parallel as f64
            };
            let visits = spec.visits(entry.to, entry.op, r.type_id, copies, false);
            most = most.max(copies(entry) * visits.iter().map(|(_, k)| k).sum::<f64>());
        }
    }
    if most >= u64::MAX as f64 {
        u64::MAX
    } else {
        most as u64
    }
}
