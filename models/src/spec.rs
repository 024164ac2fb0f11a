//! The runnable form of a scenario: names resolved to indices, defaults filled in,
//! distributions compiled. Built by `compile`; read by the model.

use crate::dist::Dist;
pub use crate::fleet::{HealthKind, HealthSpec, LbKind, OutlierSpec};
use crate::metrics::Outcome;
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
    pub services: Vec<ServiceSpec>,
    pub workloads: Vec<WorkloadSpec>,
    /// Every call edge: a workload's request type into its target, and each service's calls.
    pub calls: Vec<CallSpec>,
    /// What a service does for one request type: steps of calls.
    pub plans: Vec<Plan>,
    /// When the scenario's faults act: from the first start to the last end (none without
    /// faults). The summary's stability check compares goodput before and after.
    pub trigger: Option<(Nanos, Nanos)>,
    /// Request type names across all workloads (a name used by two workloads is one type).
    pub type_names: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub instances: u32,
    pub workers: u32,
    pub queue_capacity: u32,
    pub service_time: Dist,
    /// The chance that a job answers `error` after its own work, without making its calls.
    pub error_probability: f64,
    /// Work started in [start, end) at instances [first, first + count) takes `multiplier`
    /// times as long (cpu-stress faults).
    pub slowdowns: Vec<(Nanos, Nanos, f64, u32, u32)>,
    /// Instances [first, first + count) are down in [start, end) (outage faults).
    pub outages: Vec<(Nanos, Nanos, u32, u32)>,
    pub fleet: FleetSpec,
    pub shedding: SheddingSpec,
    pub hold_worker_during_calls: bool,
    /// Index into `Spec::plans`, by global request type.
    pub plan_by_type: Vec<u32>,
}

/// Steps run in order; the calls of one step run in parallel. Each range indexes `Spec::calls`.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<(u32, u32)>,
}

#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub name: String,
    pub customers: u64,
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

#[derive(Clone, Debug, PartialEq)]
pub enum Arrival {
    Poisson {
        rate_per_s: f64,
    },
    Constant {
        rate_per_s: f64,
    },
    /// Rate `steps[i].1` from `steps[i].0` until the next step; repeats every `period_ns`.
    Schedule {
        steps: Vec<(Nanos, f64)>,
        period_ns: Option<Nanos>,
    },
}

/// How a service's jobs are spread over its instances.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetSpec {
    pub lb: LbKind,
    pub weights: Vec<u32>,
    pub health: Option<HealthSpec>,
    pub outlier: Option<OutlierSpec>,
}

#[derive(Clone, Debug)]
pub struct CallSpec {
    /// Stable name of the edge, which seeds its random streams.
    pub name: String,
    pub to: u32,
    pub critical: bool,
    /// 0 means no timeout.
    pub timeout_ns: Nanos,
    pub latency: Option<Dist>,
    pub retry: RetrySpec,
    pub breaker: Option<(BreakerSpec, Scope)>,
    pub hedge: Option<HedgeSpec>,
    /// A fallback (a cache, a static answer) that answers `degraded` when the call fails,
    /// after this latency (`Some(None)`: at once).
    pub fallback: Option<Option<Dist>>,
    /// At most this many attempts in flight (per scope), and how many may wait how long.
    pub bulkhead: Option<BulkheadSpec>,
    /// Client-side adaptive throttling: (K, window in seconds, scope).
    pub throttle: Option<(f64, u32, Scope)>,
    /// Workload requests: the overall deadline over all attempts (0: none).
    pub deadline_ns: Nanos,
    /// The callee receives the attempt's deadline.
    pub propagate_deadline: bool,
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
    /// (target, interval): the CoDel variant, when set.
    pub codel: Option<(Nanos, Nanos)>,
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
    pub budget: Option<(BudgetSpec, Scope)>,
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
    /// Does the scenario use anything beyond plain calls (timeouts, simple retries) and
    /// round-robin services: a call policy, a fleet feature, load shedding, deadlines, an
    /// error probability, or faults? If not, the run uses a model compiled without them.
    pub fn uses_policies(&self) -> bool {
        let call = |c: &CallSpec| {
            c.retry.budget.is_some()
                || c.breaker.is_some()
                || c.bulkhead.is_some()
                || c.hedge.is_some()
                || c.fallback.is_some()
                || c.throttle.is_some()
                || c.deadline_ns > 0
                || c.propagate_deadline
                || c.retry.backoff.kind == BackoffKind::DecorrelatedJitter
        };
        let service = |s: &ServiceSpec| {
            s.fleet.lb != LbKind::RoundRobin
                || s.fleet.health.is_some()
                || s.fleet.outlier.is_some()
                || !s.outages.is_empty()
                || !s.slowdowns.is_empty()
                || s.error_probability > 0.0
                || s.shedding.discipline != QueueDiscipline::Fifo
                || s.shedding.codel.is_some()
                || s.shedding.max_in_flight.is_some()
        };
        self.trigger.is_some() || self.calls.iter().any(call) || self.services.iter().any(service)
    }

    /// Does it use deadlines, load shedding, concurrency limits, faults or error
    /// probabilities (the checks on every hop that policies alone do not need)?
    pub fn uses_extras(&self) -> bool {
        self.trigger.is_some()
            || self.calls.iter().any(|c| c.deadline_ns > 0 || c.propagate_deadline)
            || self.services.iter().any(|s| {
                !s.outages.is_empty()
                    || !s.slowdowns.is_empty()
                    || s.error_probability > 0.0
                    || s.shedding.discipline != QueueDiscipline::Fifo
                    || s.shedding.codel.is_some()
                    || s.shedding.max_in_flight.is_some()
            })
    }

    /// The mean number of busy workers a service needs at steady state, from the arrival
    /// rates and mean service times (requests that reach it once per end-to-end request
    /// along each path); a planning aid for `validate`, not used by the simulation.
    pub fn offered_load(&self) -> Vec<f64> {
        let mut visits = vec![0.0; self.services.len()];
        for w in &self.workloads {
            let rate = w.arrival.mean_rate_per_s();
            let mut prev = 0.0;
            for (r, cum) in w.requests.iter().zip(&w.cumulative_mix) {
                let share = cum - prev;
                prev = *cum;
                self.add_visits(self.calls[r.call as usize].to, r.type_id, rate * share, &mut visits);
            }
        }
        visits.iter().zip(&self.services).map(|(v, s)| v * s.service_time.mean_ns() / 1e9).collect()
    }

    fn add_visits(&self, service: u32, type_id: u16, rate: f64, visits: &mut [f64]) {
        visits[service as usize] += rate;
        let s = &self.services[service as usize];
        let plan = &self.plans[s.plan_by_type[type_id as usize] as usize];
        for &(a, b) in &plan.steps {
            for c in a..b {
                self.add_visits(self.calls[c as usize].to, type_id, rate, visits);
            }
        }
    }
}

impl Arrival {
    /// Long-run mean rate per second.
    pub fn mean_rate_per_s(&self) -> f64 {
        match self {
            Arrival::Poisson { rate_per_s } | Arrival::Constant { rate_per_s } => *rate_per_s,
            Arrival::Schedule { steps, period_ns } => {
                let end = period_ns.unwrap_or(steps.last().map_or(0, |s| s.0));
                if end == 0 || period_ns.is_none() {
                    return steps.last().map_or(0.0, |s| s.1);
                }
                let mut total = 0.0;
                for (i, &(at, rate)) in steps.iter().enumerate() {
                    let next = steps.get(i + 1).map_or(end, |s| s.0);
                    total += rate * (next - at) as f64;
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
        let a = Arrival::Schedule { steps: vec![(0, 100.0), (6, 400.0)], period_ns: Some(24) };
        // 6 units at 100 and 18 at 400: (600 + 7200) / 24 = 325.
        assert_eq!(a.mean_rate_per_s(), 325.0);
    }
}
