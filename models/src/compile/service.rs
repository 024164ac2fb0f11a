//! `[[service]]`: instances, workers and errors; its calls and the plan of steps each
//! request type follows; its fleet (load balancing, health checks, outlier detection); and
//! load shedding.

use super::call::Caller;
use super::Checker;
use crate::scenario::{
    AllUnhealthy, HealthCheckKind, HealthCheckSection, LoadBalancer, OutlierSection, QueueDisciplineSection,
    ServiceSection,
};
use crate::spec::*;
use crate::units::{Duration, Loc};
use cellsim_sim::NS_PER_S;
use std::collections::BTreeMap;

const DEFAULT_QUEUE_CAPACITY: u32 = 1000;
/// Each instance is a record with its own queue: this bounds the memory a scenario can ask for.
const MAX_INSTANCES: u32 = 100_000;

/// A service's compiled calls: for each, its parallel group and its request-type filter.
struct CallList {
    first_call: u32,
    groups: Vec<Option<String>>,
    filters: Vec<Option<Vec<u16>>>,
}

impl Checker<'_> {
    /// A service; its calls are appended to `calls` and its plans (one per request type) to
    /// `plans`.
    pub(super) fn service(
        &mut self,
        s: &ServiceSection,
        services: &BTreeMap<String, u32>,
        type_names: &[String],
        types: &BTreeMap<String, u16>,
        calls: &mut Vec<CallSpec>,
        plans: &mut Vec<Plan>,
    ) -> ServiceSpec {
        let name = &s.name.value;
        let path = format!("service.{name}");
        let at_least_one = |v: &Option<Loc<u32>>, key: &str, me: &mut Self| match v {
            Some(x) if x.value == 0 => {
                me.err(x.span.clone(), format!("{path}.{key}"), format!("{key} must be at least 1"));
                1
            }
            Some(x) => x.value,
            None => 1,
        };
        let mut instances = at_least_one(&s.instances, "instances", self);
        if let Some(x) = s.instances.as_ref().filter(|x| x.value > MAX_INSTANCES) {
            let message = format!("{} instances is more than the {MAX_INSTANCES} a service may have", x.value);
            self.err(x.span.clone(), format!("{path}.instances"), message).hint(
                "each instance is simulated with its own workers and queue; model a larger fleet as several cells",
            );
            instances = 1;
        }
        let workers = at_least_one(&s.workers, "workers", self);
        let service_time = self.dist(&s.service_time, &format!("{path}.service_time"));
        let error_probability = match &s.error_probability {
            Some(p) if !(0.0..=1.0).contains(&p.value) => {
                let message = format!("error_probability must be from 0 to 1, not {}", p.value);
                self.err(p.span.clone(), format!("{path}.error_probability"), message)
                    .hint("it is a probability per job: 0.01 fails one job in a hundred");
                0.0
            }
            Some(p) => p.value,
            None => 0.0,
        };
        let list = self.service_calls(s, &path, services, type_names, types, calls);
        let plan_by_type = (0..type_names.len() as u16).map(|t| plan(&list, t, plans)).collect();
        ServiceSpec {
            name: name.clone(),
            instances,
            workers,
            queue_capacity: s.queue_capacity.unwrap_or(DEFAULT_QUEUE_CAPACITY),
            service_time,
            error_probability,
            fleet: self.fleet(s, &path, services, instances),
            shedding: self.shedding(s, &path),
            hold_worker_during_calls: s.hold_worker_during_calls,
            plan_by_type,
        }
    }

    /// Compiles the declared calls into `calls`, remembering each one's group and type filter.
    fn service_calls(
        &mut self,
        s: &ServiceSection,
        path: &str,
        services: &BTreeMap<String, u32>,
        type_names: &[String],
        types: &BTreeMap<String, u16>,
        calls: &mut Vec<CallSpec>,
    ) -> CallList {
        let name = &s.name.value;
        let mut list = CallList { first_call: calls.len() as u32, groups: Vec::new(), filters: Vec::new() };
        let mut closed_groups: Vec<String> = Vec::new();
        let mut call_names: Vec<&str> = Vec::new();
        for (i, c) in s.calls.iter().enumerate() {
            let c = &c.value;
            let cpath = format!("{path}.call[{i}]");
            let to = self.resolve("service", &c.to, services, format!("{cpath}.to"));
            let call_name = c.name.as_ref().unwrap_or(&c.to);
            if call_names.contains(&call_name.value.as_str()) {
                let message = format!("service `{name}` already has a call named `{}`", call_name.value);
                self.err(call_name.span.clone(), format!("{cpath}.name"), message).hint(
                    "two calls to one service need different names: add `name = \"...\"` to one of them \
                     (it names the call's random streams)",
                );
            }
            call_names.push(&call_name.value);
            if let Some(g) = &c.group {
                let continues = list.groups.last().is_some_and(|prev| prev.as_deref() == Some(g.value.as_str()));
                if !continues && closed_groups.contains(&g.value) {
                    self.err(
                        g.span.clone(),
                        format!("{cpath}.group"),
                        format!("group `{}` is split by other calls", g.value),
                    )
                    .hint("calls of one parallel group must be adjacent");
                }
            }
            if let Some(Some(prev)) = list.groups.last() {
                if c.group.as_ref().map(|g| &g.value) != Some(prev) {
                    closed_groups.push(prev.clone());
                }
            }
            list.groups.push(c.group.as_ref().map(|g| g.value.clone()));
            let filter = c.for_types.as_ref().map(|names| {
                names
                    .iter()
                    .filter_map(|t| self.request_type(t, type_names, types, format!("{cpath}.for_types")))
                    .collect()
            });
            list.filters.push(filter);
            // `op/default`: a service without named operations has one, `default`.
            let stream_name = format!("service/{name}/op/default/call/{}", call_name.value);
            let caller = Caller::Service { critical: c.critical.unwrap_or(true), fallback: c.fallback.as_ref() };
            calls.push(self.call(stream_name, to, &cpath, c.into(), caller));
        }
        list
    }

    /// Queue discipline, CoDel and the per-instance concurrency limit (reference section 3).
    fn shedding(&mut self, s: &ServiceSection, path: &str) -> SheddingSpec {
        let ms = NS_PER_S / 1000;
        let codel = s.codel.as_ref().map(|c| {
            let (target, interval) =
                (c.value.target.map_or(5 * ms, Duration::ns), c.value.interval.map_or(100 * ms, Duration::ns));
            if target == 0 || interval < target {
                self.err(c.span.clone(), format!("{path}.codel"), "codel needs 0 < target <= interval")
                    .hint("Facebook's values: target = \"5ms\", interval = \"100ms\"");
            }
            CodelSpec { target_ns: target.max(1), interval_ns: interval.max(target.max(1)) }
        });
        let max_in_flight = match &s.max_in_flight {
            Some(m) if m.value == 0 => {
                self.err(m.span.clone(), format!("{path}.max_in_flight"), "max_in_flight must be at least 1");
                None
            }
            Some(m) => Some(m.value),
            None => None,
        };
        SheddingSpec {
            discipline: match s.queue_discipline.unwrap_or(QueueDisciplineSection::Fifo) {
                QueueDisciplineSection::Fifo => QueueDiscipline::Fifo,
                QueueDisciplineSection::Lifo => QueueDiscipline::Lifo,
                QueueDisciplineSection::AdaptiveLifo => QueueDiscipline::AdaptiveLifo,
            },
            codel,
            standing_ns: codel.map_or(100 * ms, |c| c.interval_ns),
            max_in_flight,
        }
    }

    /// Load balancing, health checks and outlier detection (defaults: ALB's for health
    /// checks, Envoy's `outlier_detection.proto` for ejection).
    fn fleet(&mut self, s: &ServiceSection, path: &str, services: &BTreeMap<String, u32>, instances: u32) -> FleetSpec {
        let lb = match s.load_balancer.unwrap_or(LoadBalancer::RoundRobin) {
            LoadBalancer::RoundRobin => LbKind::RoundRobin,
            LoadBalancer::Random => LbKind::Random,
            LoadBalancer::LeastOutstanding => LbKind::LeastOutstanding,
            LoadBalancer::PowerOfTwo => LbKind::PowerOfTwo,
            LoadBalancer::Weighted => LbKind::Weighted,
        };
        let field = format!("{path}.weights");
        let weights = match (&s.weights, lb) {
            (Some(w), LbKind::Weighted) if w.value.len() != instances as usize || w.value.iter().all(|&x| x == 0) => {
                self.err(
                    w.span.clone(),
                    field,
                    format!("weights needs one weight per instance ({instances}), not all zero"),
                );
                Vec::new()
            }
            (Some(w), LbKind::Weighted) => w.value.clone(),
            (Some(w), _) => {
                self.err(w.span.clone(), field, "weights apply only to load_balancer = \"weighted\"");
                Vec::new()
            }
            (None, LbKind::Weighted) => {
                self.err(s.name.span.clone(), field, "load_balancer = \"weighted\" needs weights, one per instance");
                Vec::new()
            }
            (None, _) => Vec::new(),
        };
        let health = s.health_check.as_ref().map(|h| self.health(h, &format!("{path}.health_check"), services));
        let outlier =
            s.outlier_detection.as_ref().map(|o| self.outlier(&o.value, &format!("{path}.outlier_detection")));
        FleetSpec { lb, weights, health, outlier }
    }

    fn health(&mut self, h: &Loc<HealthCheckSection>, hp: &str, services: &BTreeMap<String, u32>) -> HealthSpec {
        let h_span = h.span.clone();
        let h = &h.value;
        let positive = |v: &Option<Loc<u32>>, key: &str, default: u32, me: &mut Self| match v {
            Some(x) if x.value == 0 => {
                me.err(x.span.clone(), format!("{hp}.{key}"), format!("{key} must be at least 1"));
                default
            }
            Some(x) => x.value,
            None => default,
        };
        let healthy_threshold = positive(&h.healthy_threshold, "healthy_threshold", 5, self);
        let unhealthy_threshold = positive(&h.unhealthy_threshold, "unhealthy_threshold", 2, self);
        let interval_ns = match &h.interval {
            Some(i) if i.value.ns() == 0 => {
                self.err(i.span.clone(), format!("{hp}.interval"), "interval must be above 0");
                30 * NS_PER_S
            }
            Some(i) => i.value.ns(),
            None => 30 * NS_PER_S,
        };
        let kind = match h.kind {
            HealthCheckKind::Liveness => HealthKind::Liveness,
            HealthCheckKind::Local => HealthKind::Local,
            HealthCheckKind::Dependency => HealthKind::Dependency,
        };
        let field = format!("{hp}.dependency");
        let dependency = match (&h.dependency, kind) {
            (Some(d), HealthKind::Dependency) => Some(self.resolve("service", d, services, field)),
            (Some(d), _) => {
                self.err(d.span.clone(), field, "only kind = \"dependency\" checks a dependency");
                None
            }
            (None, HealthKind::Dependency) => {
                self.err(h_span, field, "a dependency check needs `dependency`, a service name");
                None
            }
            (None, _) => None,
        };
        let panic_threshold = match &h.panic_threshold {
            Some(p) if !(0.0..=100.0).contains(&p.value) => {
                self.err(p.span.clone(), format!("{hp}.panic_threshold"), "panic_threshold is a percent, 0 to 100");
                None
            }
            Some(p) => Some(p.value),
            None => None,
        };
        HealthSpec {
            kind,
            interval_ns,
            timeout_ns: h.timeout.map_or(5 * NS_PER_S, Duration::ns),
            healthy_threshold,
            unhealthy_threshold,
            dependency,
            fail_open: h.all_unhealthy.unwrap_or(AllUnhealthy::FailOpen) == AllUnhealthy::FailOpen,
            panic_threshold,
            restart_after_ns: h.restart_after.map(Duration::ns),
            restart_ns: h.restart_time.map_or(30 * NS_PER_S, Duration::ns),
        }
    }

    fn outlier(&mut self, o: &OutlierSection, op: &str) -> OutlierSpec {
        let d = OutlierSpec::default();
        let consecutive_errors = match &o.consecutive_errors {
            Some(c) if c.value == 0 => {
                self.err(c.span.clone(), format!("{op}.consecutive_errors"), "consecutive_errors must be at least 1");
                d.consecutive_errors
            }
            Some(c) => c.value,
            None => d.consecutive_errors,
        };
        let interval_ns = match &o.interval {
            Some(i) if i.value.ns() == 0 => {
                self.err(i.span.clone(), format!("{op}.interval"), "interval must be above 0");
                d.interval_ns
            }
            Some(i) => i.value.ns(),
            None => d.interval_ns,
        };
        let max_ejection_percent = match &o.max_ejection_percent {
            Some(p) if !(0.0..=100.0).contains(&p.value) => {
                let message = "max_ejection_percent is a percent, 0 to 100";
                self.err(p.span.clone(), format!("{op}.max_ejection_percent"), message);
                d.max_ejection_percent
            }
            Some(p) => p.value,
            None => d.max_ejection_percent,
        };
        OutlierSpec {
            consecutive_errors,
            interval_ns,
            base_ejection_ns: o.base_ejection_time.map_or(d.base_ejection_ns, Duration::ns),
            max_ejection_ns: o.max_ejection_time.map_or(d.max_ejection_ns, Duration::ns),
            max_ejection_percent,
            success_rate_minimum_hosts: o.success_rate_minimum_hosts.unwrap_or(d.success_rate_minimum_hosts),
            success_rate_request_volume: o.success_rate_request_volume.unwrap_or(d.success_rate_request_volume),
            success_rate_stdev_factor: o.success_rate_stdev_factor.unwrap_or(d.success_rate_stdev_factor),
        }
    }
}

/// The plan for request type `t`: the calls that apply, grouped into steps; appended to
/// `plans`, and its index returned.
fn plan(list: &CallList, t: u16, plans: &mut Vec<Plan>) -> u32 {
    let first_call = list.first_call;
    let mut steps: Vec<Step> = Vec::new();
    let mut step_group: Option<&str> = None;
    let chosen = (0..list.filters.len() as u32)
        .filter(|&i| list.filters[i as usize].as_ref().is_none_or(|types| types.contains(&t)));
    // Calls are stored contiguously, so a step is a range only if its calls are
    // contiguous in the declared list; filtering can break that, so copy calls.
    for i in chosen {
        let g = list.groups[i as usize].as_deref();
        let joins = g.is_some() && g == step_group && steps.last().is_some_and(|s| s.end_call == first_call + i);
        if joins {
            steps.last_mut().expect("joins implies a step").end_call += 1;
        } else {
            steps.push(Step { first_call: first_call + i, end_call: first_call + i + 1 });
        }
        step_group = g;
    }
    plans.push(Plan { steps });
    (plans.len() - 1) as u32
}
