//! What a scenario uses, computed once, in one place: the set of features that decides its
//! speed tier, and for each call and service whether it may take a fast path. Every spec
//! struct is destructured exhaustively here, so a new field does not compile until someone
//! decides which feature (and so which tier) it belongs to.

use crate::faults::{FaultKind, FaultSpec};
use crate::fleet::LbKind;
use crate::spec::*;
use crate::tier::TierKind;

/// A feature beyond plain calls between round-robin services, and the tier that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    RetryBudget,
    CircuitBreaker,
    Bulkhead,
    AdaptiveThrottling,
    Hedging,
    Fallback,
    DecorrelatedJitter,
    LoadBalancer,
    HealthCheck,
    OutlierDetection,
    /// A workload request's overall deadline over its attempts.
    CallDeadline,
    PropagateDeadline,
    ErrorProbability,
    QueueDiscipline,
    Codel,
    MaxInFlight,
    /// Faults that break instances: outages, rejects, blackholes, `unavailable`.
    Outage,
    CpuStress,
    /// Network latency and packet loss on instances' answers.
    NetworkFault,
    /// A service with several operations, or with branches.
    Operations,
    /// The fleet's background noise (`[noise]`): steal, pauses, network jitter.
    Noise,
    /// Instances' heaps (a service's `memory`): collections, leaks, OOM kills.
    Memory,
    /// Names and clocks: DNS caches, database failovers, clock skew, tokens.
    Names,
    /// An IO phase on instances' volumes (a service's `io`), and the IO faults.
    Io,
    /// A call repeated, made with a probability, or awaited at the end or never.
    CallShapes,
    /// Regions and zones (placement and latency between placements, customers counted),
    /// cells and their routers.
    Topology,
    /// Autoscaling and zonal shifts: instances put in and out of service by controllers.
    Controllers,
}

impl Feature {
    pub const ALL: [Feature; 27] = [
        Feature::RetryBudget,
        Feature::CircuitBreaker,
        Feature::Bulkhead,
        Feature::AdaptiveThrottling,
        Feature::Hedging,
        Feature::Fallback,
        Feature::DecorrelatedJitter,
        Feature::LoadBalancer,
        Feature::HealthCheck,
        Feature::OutlierDetection,
        Feature::CallDeadline,
        Feature::PropagateDeadline,
        Feature::ErrorProbability,
        Feature::QueueDiscipline,
        Feature::Codel,
        Feature::MaxInFlight,
        Feature::Outage,
        Feature::CpuStress,
        Feature::NetworkFault,
        Feature::Operations,
        Feature::Noise,
        Feature::Memory,
        Feature::Names,
        Feature::Io,
        Feature::CallShapes,
        Feature::Topology,
        Feature::Controllers,
    ];

    /// The lowest tier whose model handles this feature.
    pub fn tier(self) -> TierKind {
        use Feature::*;
        match self {
            RetryBudget | CircuitBreaker | Bulkhead | AdaptiveThrottling | Hedging | Fallback | DecorrelatedJitter
            | LoadBalancer | HealthCheck | OutlierDetection | Topology | Controllers | Noise => TierKind::Policies,
            CallDeadline | PropagateDeadline | ErrorProbability | QueueDiscipline | Codel | MaxInFlight | Outage
            | CpuStress | NetworkFault | Operations | CallShapes | Memory | Names | Io => TierKind::Full,
        }
    }

    /// A call with this feature keeps policy state beyond `Call` (it is not plain).
    fn needs_call_state(self) -> bool {
        use Feature::*;
        matches!(
            self,
            RetryBudget
                | CircuitBreaker
                | Bulkhead
                | AdaptiveThrottling
                | Hedging
                | Fallback
                | DecorrelatedJitter
                | CallDeadline
        )
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// A set of features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u32);

impl Features {
    /// Every feature `spec` uses.
    pub fn of(spec: &Spec) -> Features {
        let Spec {
            name: _,
            description: _,
            duration_ns: _,
            warmup_ns: _,
            drain_ns: _,
            bucket_ns: _,
            seed: _,
            max_events: _,
            max_in_flight_requests: _,
            max_in_flight_jobs: _,
            max_memory_bytes: _,
            max_output_bytes: _,
            services,
            workloads: _, // arrival processes and mixes are the lean tier's
            calls,
            plans: _,
            faults,
            fault_names: _,
            trigger: _, // derived from `faults`
            type_names: _,
            data_files: _,
            topology,
            routes: _, // with the topology
            zonal_shift,
            random_faults: _, // with their faults
            analysis: _,      // read by whoever pairs the run with its baseline
            noise,
            hypotheses: _,      // judged from the results, outside the model
            stop_conditions: _, // need faults: the full tier
        } = spec;
        let mut set = Features::default();
        calls.iter().for_each(|c| set.0 |= call_features(c).0);
        services.iter().for_each(|s| set.0 |= service_features(s).0);
        faults.iter().for_each(|f| set.insert(fault_feature(f)));
        if topology.is_some() {
            set.insert(Feature::Topology);
        }
        if zonal_shift.is_some() {
            set.insert(Feature::Controllers);
        }
        if noise.is_some() {
            set.insert(Feature::Noise);
        }

        set
    }

    pub fn insert(&mut self, f: Feature) {
        self.0 |= f.bit();
    }

    pub fn contains(self, f: Feature) -> bool {
        self.0 & f.bit() != 0
    }

    /// The set without `f`: what a tier choice that forgot `f` would see (for tests).
    pub fn without(self, f: Feature) -> Features {
        Features(self.0 & !f.bit())
    }

    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// The lowest tier that handles every feature in the set.
    pub fn tier(self) -> TierKind {
        self.iter().map(Feature::tier).max().unwrap_or(TierKind::Lean)
    }
}

/// The features one call uses.
pub fn call_features(c: &CallSpec) -> Features {
    let CallSpec {
        name: _,
        to: _,
        op: _, // the callee's operations are counted with the callee
        from: _,
        critical: _,
        wait,
        probability,
        repeat,
        request_bytes: _, // not drawn until network faults use them
        response_bytes: _,
        timeout_ns: _,
        latency: _,
        retry,
        breaker,
        hedge,
        fallback,
        bulkhead,
        throttle,
        deadline_ns,
        propagate_deadline,
        route: _, // routes need a topology
        token: _, // checked only where clocks are skewed (a fault: `Names`)
    } = c;
    let RetrySpec { max_attempts: _, backoff, retry_on: _, budget } = retry;
    let mut set = Features::default();
    let mut add = |used: bool, f: Feature| {
        if used {
            set.insert(f)
        }
    };
    add(budget.is_some(), Feature::RetryBudget);
    add(breaker.is_some(), Feature::CircuitBreaker);
    add(hedge.is_some(), Feature::Hedging);
    add(fallback.is_some(), Feature::Fallback);
    add(bulkhead.is_some(), Feature::Bulkhead);
    add(throttle.is_some(), Feature::AdaptiveThrottling);
    add(*deadline_ns > 0, Feature::CallDeadline);
    add(*propagate_deadline, Feature::PropagateDeadline);
    add(backoff.kind == BackoffKind::DecorrelatedJitter, Feature::DecorrelatedJitter);
    add(*wait != Wait::Step || repeat.is_some() || *probability < 1.0, Feature::CallShapes);
    set
}

/// The features one service uses (faults aimed at it are counted with the faults).
pub fn service_features(s: &ServiceSpec) -> Features {
    let ServiceSpec {
        name: _,
        instances: _,
        workers: _,
        queue_capacity: _,
        operations,
        error_probability,
        fleet,
        shedding,
        hold_worker_during_calls: _,
        zones: _, // placed with a topology
        cell: _,
        autoscaling,
        in_service: _, // with autoscaling
        memory,
        dns_ttl_ns: _, // names are modelled with the faults that need them
        io,
    } = s;
    let FleetSpec { lb, weights: _, shard_size: _, health, outlier } = fleet;
    let SheddingSpec { discipline, codel, standing_ns: _, max_in_flight } = shedding;
    let mut set = Features::default();
    let mut add = |used: bool, f: Feature| {
        if used {
            set.insert(f)
        }
    };
    add(*lb != LbKind::RoundRobin, Feature::LoadBalancer);
    add(health.is_some(), Feature::HealthCheck);
    add(autoscaling.is_some(), Feature::Controllers);
    add(memory.is_some(), Feature::Memory);
    add(io.is_some(), Feature::Io);
    add(outlier.is_some(), Feature::OutlierDetection);
    add(*error_probability > 0.0, Feature::ErrorProbability);
    add(*discipline != QueueDiscipline::Fifo, Feature::QueueDiscipline);
    add(codel.is_some(), Feature::Codel);
    add(max_in_flight.is_some(), Feature::MaxInFlight);
    add(operations.len() > 1 || operations.iter().any(|o| !o.branches.is_empty()), Feature::Operations);
    set
}

fn fault_feature(f: &FaultSpec) -> Feature {
    match f.kind {
        FaultKind::Outage
        | FaultKind::Reject
        | FaultKind::Blackhole
        | FaultKind::Unavailable
        | FaultKind::Crash(_)
        | FaultKind::TaskKill { .. }
        | FaultKind::PoisonPill { .. }
        | FaultKind::PowerInterruption
        | FaultKind::Gray { .. }
        | FaultKind::Deployment => Feature::Outage,
        FaultKind::Partition | FaultKind::Bandwidth { .. } => Feature::NetworkFault,
        FaultKind::CpuStress(_) => Feature::CpuStress,
        FaultKind::MemoryLeak { .. } | FaultKind::MemoryStress { .. } => Feature::Memory,
        FaultKind::Dns { .. } | FaultKind::ClockSkew { .. } | FaultKind::DbFailover => Feature::Names,
        FaultKind::IoPause | FaultKind::IoLatency { .. } | FaultKind::IoStress(_) => Feature::Io,
        FaultKind::NetworkLatency { .. } | FaultKind::PacketLoss(_) => Feature::NetworkFault,
        // It acts on launches only: without autoscaling, on nothing.
        FaultKind::InsufficientCapacity => Feature::Controllers,
    }
}

/// Which fast paths each call and service may take. With `fast_paths` off (a hidden switch
/// for tests), none: every call keeps policy state and takes the general gate and resolve,
/// every service has a fleet and sheds through the general loop. The answers must not change.
#[derive(Clone, Debug)]
pub struct Paths {
    /// By call: no policy state (`Call::plain`): the inline path in `resolve`.
    pub plain: Vec<bool>,
    /// By call: no bulkhead, throttling or hedging: the inline gate and success path.
    pub gated_only: Vec<bool>,
    /// By service: the balancer has work beyond round robin (load balancing, health checks,
    /// outlier ejection, outages aimed at it).
    pub fleet: Vec<bool>,
    /// By service: a free worker may drop or reorder queued jobs (LIFO, CoDel, deadlines).
    pub sheds: Vec<bool>,
    /// By service: whether its fleet's counters are reported (it uses a fleet feature).
    pub reports_fleet: Vec<bool>,
    /// By call: awaited late or never, repeated, or conditional: a step with such a call
    /// takes the general path in `advance`.
    pub shaped: Vec<bool>,
}

impl Paths {
    pub fn of(spec: &Spec, fast_paths: bool) -> Paths {
        let receives_deadlines = receives_deadlines(spec);
        let caller = callers(spec);
        let mut outages = vec![false; spec.services.len()];
        for f in spec.faults.iter().filter(|f| f.kind.breaks_instances()) {
            for &(s, _) in &f.target.instances {
                outages[s as usize] = true;
            }
        }
        let calls: Vec<Features> = spec.calls.iter().map(call_features).collect();
        // A router's call keeps policy state: the cell each attempt went to.
        let plain = calls
            .iter()
            .zip(&caller)
            .zip(&spec.calls)
            .map(|((f, caller), c)| {
                !f.iter().any(Feature::needs_call_state)
                    && !caller.is_some_and(|s| receives_deadlines[s as usize])
                    && c.route.is_none()
            })
            .collect();
        let gated_only = calls
            .iter()
            .map(|f| {
                !(f.contains(Feature::Bulkhead)
                    || f.contains(Feature::AdaptiveThrottling)
                    || f.contains(Feature::Hedging))
            })
            .collect();
        let services: Vec<Features> = spec.services.iter().map(service_features).collect();
        let reports_fleet: Vec<bool> = services
            .iter()
            .zip(&outages)
            .map(|(f, &out)| {
                out || f.contains(Feature::Memory)
                    || f.contains(Feature::LoadBalancer)
                    || f.contains(Feature::HealthCheck)
                    || f.contains(Feature::OutlierDetection)
            })
            .collect();
        let sheds = services
            .iter()
            .zip(&receives_deadlines)
            .map(|(f, &rd)| rd || f.contains(Feature::QueueDiscipline) || f.contains(Feature::Codel))
            .collect();
        let shaped =
            spec.calls.iter().map(|c| c.wait != Wait::Step || c.repeat.is_some() || c.probability < 1.0).collect();
        // Controllers put instances in and out of service through the fleet: autoscaled
        // services, and, with zonal shifts, those placed in more than one zone.
        let controlled = spec.services.iter().map(|s| {
            let zones = s.zones.iter().collect::<std::collections::BTreeSet<_>>().len();
            s.autoscaling.is_some() || (spec.zonal_shift.is_some() && zones > 1)
        });
        let fleet = reports_fleet.iter().zip(controlled).map(|(&r, c)| r || c).collect();
        let paths = Paths { plain, gated_only, fleet, sheds, reports_fleet, shaped };
        if fast_paths {
            paths
        } else {
            Paths {
                plain: vec![false; spec.calls.len()],
                gated_only: vec![false; spec.calls.len()],
                fleet: vec![true; spec.services.len()],
                sheds: vec![true; spec.services.len()],
                shaped: vec![true; spec.calls.len()],
                ..paths
            }
        }
    }
}

/// By service: some call into it propagates a deadline, so its jobs may carry one.
pub fn receives_deadlines(spec: &Spec) -> Vec<bool> {
    let mut receives = vec![false; spec.services.len()];
    for c in spec.calls.iter().filter(|c| c.propagate_deadline) {
        receives[c.to as usize] = true;
    }
    receives
}

/// By call: the service that makes it (`None` for a workload's request).
pub fn callers(spec: &Spec) -> Vec<Option<u32>> {
    let mut caller = vec![None; spec.calls.len()];
    for (s, svc) in spec.services.iter().enumerate() {
        for op in &svc.operations {
            for &p in &op.plan_by_type {
                for plan in &spec.plans[p as usize..(p + op.variants()) as usize] {
                    plan.steps.iter().flat_map(|step| step.calls()).for_each(|c| caller[c as usize] = Some(s as u32));
                }
            }
        }
    }
    caller
}
