//! From scenario text to a runnable `Spec`: parsing with located errors, defaults, and the
//! semantic checks (references, cycles, ranges) that serde cannot express.

use crate::dist::Dist;
use crate::error::{did_you_mean, ScenarioError};
use crate::faults::{CpuStress, FaultKind, FaultTarget};
use crate::outcome::Outcome;
use crate::scenario::FaultKind as FaultKindSection;
use crate::scenario::*;
use crate::spec::*;
use crate::units::{Duration, Loc};
use cellsim_sim::{Nanos, NS_PER_S};
use std::collections::BTreeMap;
use std::ops::Range;

/// Reads and compiles a scenario file.
pub fn load(path: &str) -> Result<Spec, Vec<ScenarioError>> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| vec![ScenarioError::whole_file(path, format!("cannot read the file: {e}"))])?;
    compile(path, &src)
}

/// Compiles scenario text; `file` names it in errors. Returns every semantic error found.
pub fn compile(file: &str, src: &str) -> Result<Spec, Vec<ScenarioError>> {
    let parsed: ScenarioFile = toml::from_str(src).map_err(|e| vec![from_toml(file, src, &e)])?;
    let mut c = Checker { file, src, errors: Vec::new() };
    let spec = c.spec(parsed);
    if c.errors.is_empty() {
        Ok(spec)
    } else {
        Err(c.errors)
    }
}

/// Turns a TOML or serde error into a located one with a hint for misspelt keys and values.
fn from_toml(file: &str, src: &str, e: &toml::de::Error) -> ScenarioError {
    let message = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let mut err = ScenarioError::at(file, src, span, message.clone());
    let quoted = |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    if let Some(rest) = message.strip_prefix("unknown field ").or_else(|| message.strip_prefix("unknown variant ")) {
        let words = quoted(rest);
        if let Some((word, expected)) = words.split_first() {
            let kind = if message.starts_with("unknown field") { "keys" } else { "values" };
            err = match did_you_mean(word, expected.iter().map(String::as_str)) {
                Some(best) => err.hint(format!("did you mean `{best}`?")),
                None => err.hint(format!("allowed {kind} here: {}", expected.join(", "))),
            };
        }
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        let words = quoted(rest);
        if let Some(word) = words.first() {
            err = err.hint(if word == "scenario" {
                "every scenario starts with a [scenario] table holding at least `name` and `duration`".to_string()
            } else {
                format!("add `{word} = ...` to this table; docs/scenario-format.md lists every key")
            });
        }
    }
    err
}

struct Checker<'a> {
    file: &'a str,
    src: &'a str,
    errors: Vec<ScenarioError>,
}

const DEFAULT_QUEUE_CAPACITY: u32 = 1000;
/// Each instance is a record with its own queue: this bounds the memory a scenario can ask for.
const MAX_INSTANCES: u32 = 100_000;

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, field: String, message: String, hint: Option<String>) {
        let mut e = ScenarioError::at(self.file, self.src, span, message).field(field);
        if let Some(h) = hint {
            e = e.hint(h);
        }
        self.errors.push(e);
    }

    fn spec(&mut self, f: ScenarioFile) -> Spec {
        let run = &f.scenario.value;
        let duration_ns = run.duration.value.ns();
        if duration_ns == 0 {
            self.error(
                run.duration.span.clone(),
                "scenario.duration".into(),
                "duration must be positive".into(),
                Some("e.g. duration = \"10m\"".into()),
            );
        }
        let warmup_ns = run.warmup.as_ref().map_or(0, |w| w.value.ns());
        if let Some(w) = &run.warmup {
            if w.value.ns() >= duration_ns && duration_ns > 0 {
                self.error(
                    w.span.clone(),
                    "scenario.warmup".into(),
                    "warmup must be shorter than duration".into(),
                    Some("nothing would be measured; shorten warmup or lengthen duration".into()),
                );
            }
        }
        let bucket_ns = run.bucket.as_ref().map_or(NS_PER_S, |b| b.value.ns());
        if let Some(b) = &run.bucket {
            if b.value.ns() == 0 {
                self.error(
                    b.span.clone(),
                    "scenario.bucket".into(),
                    "bucket must be positive".into(),
                    Some("e.g. bucket = \"1s\"".into()),
                );
            } else if duration_ns / b.value.ns() > 1_000_000 {
                self.error(
                    b.span.clone(),
                    "scenario.bucket".into(),
                    format!("{} buckets is more than the 1,000,000 allowed", duration_ns / b.value.ns()),
                    Some("use a wider bucket".into()),
                );
            }
        }
        if f.workloads.is_empty() {
            self.error(
                f.scenario.span.clone(),
                "workload".into(),
                "the scenario has no [[workload]]".into(),
                Some("add a [[workload]] with an arrival process and at least one [[workload.request]]".into()),
            );
        }
        if f.services.is_empty() {
            self.error(
                f.scenario.span.clone(),
                "service".into(),
                "the scenario has no [[service]]".into(),
                Some("add a [[service]] with a name and a service_time".into()),
            );
        }

        let service_ids = self.unique_names(f.services.iter().map(|s| &s.value.name), "service");
        let (type_names, type_ids) = self.type_table(&f.workloads);
        self.check_cycles(&f.services, &service_ids);

        let mut calls = Vec::new();
        let workloads =
            f.workloads.iter().map(|w| self.workload(&w.value, &service_ids, &type_ids, &mut calls)).collect();
        let mut plans = Vec::new();
        let services: Vec<ServiceSpec> = f
            .services
            .iter()
            .map(|s| self.service(&s.value, &service_ids, &type_names, &type_ids, &mut calls, &mut plans))
            .collect();
        let mut trigger: Option<Window> = None;
        let mut faults = Vec::new();
        for (i, fault) in f.faults.iter().enumerate() {
            let path = format!("fault[{i}]");
            let fault = &fault.value;
            let service = self.resolve(&fault.service, &service_ids, format!("{path}.service"));
            let start = fault.start.value.ns();
            let end = start.saturating_add(fault.duration.value.ns());
            if fault.duration.value.ns() == 0 {
                self.error(
                    fault.duration.span.clone(),
                    format!("{path}.duration"),
                    "a fault's duration must be above 0".into(),
                    None,
                );
            }
            if start >= duration_ns {
                self.error(
                    fault.start.span.clone(),
                    format!("{path}.start"),
                    "the fault starts after the scenario ends".into(),
                    Some(format!("[scenario] duration is {}", cellsim_sim::format_ns(duration_ns))),
                );
            }
            let n = services.get(service as usize).map_or(1, |s| s.instances);
            let count = match &fault.instances {
                Some(c) if c.value == 0 || c.value > n => {
                    self.error(
                        c.span.clone(),
                        format!("{path}.instances"),
                        format!("instances must be from 1 to the service's {n}, not {}", c.value),
                        None,
                    );
                    n
                }
                Some(c) => c.value,
                None => n,
            };
            if fault.kind == FaultKindSection::Outage {
                if let Some(l) = &fault.load_percent {
                    self.error(
                        l.span.clone(),
                        format!("{path}.load_percent"),
                        "an outage has no load_percent".into(),
                        None,
                    );
                }
                faults.push(FaultSpec {
                    kind: FaultKind::Outage,
                    target: FaultTarget { service, instances: count },
                    window: Window { start_ns: start, end_ns: end },
                });
                trigger = Some(widen(trigger, start, end));
                continue;
            }
            let stress = match (fault.kind, &fault.load_percent) {
                (FaultKindSection::CpuStress, Some(l)) if (0.0..=99.0).contains(&l.value) => CpuStress::new(l.value),
                (FaultKindSection::CpuStress, Some(l)) => {
                    self.error(
                        l.span.clone(),
                        format!("{path}.load_percent"),
                        format!("load_percent must be from 0 to 99, not {}", l.value),
                        Some("80 leaves the service a fifth of its CPU: work takes 5 times as long".into()),
                    );
                    CpuStress::new(0.0)
                }
                (FaultKindSection::CpuStress, None) => {
                    self.error(
                        fault.service.span.clone(),
                        format!("{path}.load_percent"),
                        "a cpu-stress fault needs load_percent".into(),
                        Some("load_percent = 80 leaves the service a fifth of its CPU".into()),
                    );
                    CpuStress::new(0.0)
                }
                (FaultKindSection::Outage, _) => unreachable!("handled above"),
            };
            faults.push(FaultSpec {
                kind: FaultKind::CpuStress(stress),
                target: FaultTarget { service, instances: count },
                window: Window { start_ns: start, end_ns: end },
            });
            trigger = Some(widen(trigger, start, end));
        }

        let limit = |l: &Option<Loc<u64>>, name: &str, default: u64, me: &mut Self| match l {
            Some(v) if v.value == 0 => {
                me.error(v.span.clone(), format!("limits.{name}"), format!("{name} must be at least 1"), None);
                default
            }
            Some(v) => v.value,
            None => default,
        };
        let max_in_flight_requests = limit(&f.limits.max_in_flight_requests, "max_in_flight_requests", 1_000_000, self);
        let max_in_flight_jobs = limit(&f.limits.max_in_flight_jobs, "max_in_flight_jobs", 4_000_000, self);
        Spec {
            name: run.name.clone(),
            description: run.description.clone(),
            duration_ns,
            warmup_ns,
            drain_ns: run.drain.map_or(60 * NS_PER_S, Duration::ns),
            bucket_ns,
            seed: run.seed.unwrap_or(1),
            max_events: f.limits.max_events.unwrap_or(2_000_000_000),
            max_in_flight_requests,
            max_in_flight_jobs,
            services,
            workloads,
            calls,
            plans,
            faults,
            trigger,
            type_names,
        }
    }

    fn unique_names<'n>(&mut self, names: impl Iterator<Item = &'n Loc<String>>, what: &str) -> BTreeMap<String, u32> {
        let mut ids = BTreeMap::new();
        for (i, n) in names.enumerate() {
            if n.value.trim().is_empty() {
                self.error(n.span.clone(), format!("{what}.name"), format!("a {what} name must not be empty"), None);
            } else if ids.insert(n.value.clone(), i as u32).is_some() {
                self.error(
                    n.span.clone(),
                    format!("{what}.name"),
                    format!("{what} `{}` is defined twice", n.value),
                    Some(format!("{what} names must be unique")),
                );
            }
        }
        ids
    }

    fn type_table(&mut self, workloads: &[Loc<WorkloadSection>]) -> (Vec<String>, BTreeMap<String, u16>) {
        let mut names = Vec::new();
        let mut ids = BTreeMap::new();
        for w in workloads {
            for r in &w.value.requests {
                let name = &r.value.name.value;
                if !ids.contains_key(name) {
                    ids.insert(name.clone(), names.len() as u16);
                    names.push(name.clone());
                }
            }
        }
        (names, ids)
    }

    fn resolve(&mut self, name: &Loc<String>, ids: &BTreeMap<String, u32>, field: String) -> u32 {
        match ids.get(&name.value) {
            Some(&i) => i,
            None => {
                let hint = match did_you_mean(&name.value, ids.keys().map(String::as_str)) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("defined services: {}", ids.keys().cloned().collect::<Vec<_>>().join(", ")),
                };
                self.error(name.span.clone(), field, format!("no service is named `{}`", name.value), Some(hint));
                0
            }
        }
    }

    fn check_cycles(&mut self, services: &[Loc<ServiceSection>], ids: &BTreeMap<String, u32>) {
        // Depth-first search in file order; a call to a service on the current path closes a cycle.
        let n = services.len();
        let mut state = vec![0u8; n]; // 0 new, 1 on the path, 2 done
        let mut path = Vec::new();
        for start in 0..n {
            self.visit(start, services, ids, &mut state, &mut path);
        }
    }

    fn visit(
        &mut self,
        s: usize,
        services: &[Loc<ServiceSection>],
        ids: &BTreeMap<String, u32>,
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) {
        if state[s] != 0 {
            return;
        }
        state[s] = 1;
        path.push(s);
        for call in &services[s].value.calls {
            let Some(&t) = ids.get(&call.value.to.value) else {
                continue;
            };
            let t = t as usize;
            if state[t] == 1 {
                let from = path.iter().position(|&p| p == t).unwrap_or(0);
                let mut names: Vec<&str> =
                    path[from..].iter().map(|&p| services[p].value.name.value.as_str()).collect();
                names.push(&services[t].value.name.value);
                self.error(
                    call.value.to.span.clone(),
                    format!("service.{}.call.to", services[s].value.name.value),
                    format!("the call graph has a cycle: {}", names.join(" -> ")),
                    Some("a request would call itself forever; remove one call of the cycle".into()),
                );
            } else {
                self.visit(t, services, ids, state, path);
            }
        }
        path.pop();
        state[s] = 2;
    }

    fn workload(
        &mut self,
        w: &WorkloadSection,
        services: &BTreeMap<String, u32>,
        types: &BTreeMap<String, u16>,
        calls: &mut Vec<CallSpec>,
    ) -> WorkloadSpec {
        let wname = &w.name.value;
        let path = format!("workload.{wname}");
        if w.requests.is_empty() {
            self.error(
                w.name.span.clone(),
                format!("{path}.request"),
                format!("workload `{wname}` has no [[workload.request]]"),
                Some("add one with a name and a target service".into()),
            );
        }
        self.unique_names(w.requests.iter().map(|r| &r.value.name), &format!("{path}.request"));
        let customers = match &w.customers {
            Some(c) if c.value == 0 => {
                self.error(c.span.clone(), format!("{path}.customers"), "customers must be at least 1".into(), None);
                1
            }
            Some(c) => c.value,
            None => 1,
        };
        let arrival = self.arrival(&w.arrival, &path);
        let mut requests = Vec::new();
        let mut weights = Vec::new();
        for r in &w.requests {
            let r = &r.value;
            let rpath = format!("{path}.request.{}", r.name.value);
            let weight = match &r.weight {
                Some(wt) if !(wt.value.is_finite() && wt.value > 0.0) => {
                    self.error(
                        wt.span.clone(),
                        format!("{rpath}.weight"),
                        format!("weight must be a positive number, not {}", wt.value),
                        None,
                    );
                    1.0
                }
                Some(wt) => wt.value,
                None => 1.0,
            };
            weights.push(weight);
            let to = self.resolve(&r.target, services, format!("{rpath}.target"));
            let call = CallSpec {
                name: format!("workload/{wname}/{}", r.name.value),
                to,
                critical: true,
                timeout_ns: r.timeout.map_or(0, Duration::ns),
                latency: r.latency.as_ref().map(|d| self.dist(d, &format!("{rpath}.latency"))),
                retry: self.retry(r.retry.as_ref(), &rpath),
                breaker: r.breaker.as_ref().map(|b| self.breaker(b, &format!("{rpath}.breaker"))),
                hedge: self.hedge(r.hedge.as_ref(), r.retry.as_ref(), &rpath),
                fallback: None,
                bulkhead: self.bulkhead(r.bulkhead.as_ref(), &rpath),
                throttle: self.throttle(r.adaptive_throttling.as_ref(), &rpath),
                deadline_ns: match &r.deadline {
                    Some(d) if d.value.ns() == 0 => {
                        self.error(
                            d.span.clone(),
                            format!("{rpath}.deadline"),
                            "a deadline must be above 0".into(),
                            None,
                        );
                        0
                    }
                    Some(d) => d.value.ns(),
                    None => 0,
                },
                propagate_deadline: r.propagate_deadline,
            };
            requests.push(RequestSpec {
                name: r.name.value.clone(),
                type_id: types[&r.name.value],
                call: calls.len() as u32,
            });
            calls.push(call);
        }
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative_mix = weights
            .iter()
            .map(|wt| {
                acc += wt / total;
                acc
            })
            .collect::<Vec<_>>();
        let mut cumulative_mix = cumulative_mix;
        if let Some(last) = cumulative_mix.last_mut() {
            *last = 1.0;
        }
        WorkloadSpec { name: wname.clone(), customers, arrival, requests, cumulative_mix }
    }

    fn rate(&mut self, r: &Loc<f64>, field: String, allow_zero: bool) -> f64 {
        let ok = r.value.is_finite() && (r.value > 0.0 || (allow_zero && r.value == 0.0));
        if !ok {
            let want = if allow_zero { "zero or positive" } else { "positive" };
            self.error(
                r.span.clone(),
                field,
                format!("rate_per_s must be {want}, not {}", r.value),
                Some("a rate is arrivals per second, e.g. rate_per_s = 500".into()),
            );
        }
        r.value
    }

    fn arrival(&mut self, a: &Loc<ArrivalSection>, path: &str) -> Arrival {
        let span = a.span.clone();
        let a = &a.value;
        let field = format!("{path}.arrival");
        match a.process {
            ArrivalProcess::Poisson | ArrivalProcess::Constant => {
                if a.steps.is_some() || a.period.is_some() {
                    self.error(
                        span.clone(),
                        field.clone(),
                        "steps and period apply only to process = \"schedule\"".into(),
                        None,
                    );
                }
                let Some(r) = &a.rate_per_s else {
                    self.error(
                        span,
                        format!("{field}.rate_per_s"),
                        "this arrival process needs rate_per_s".into(),
                        Some("e.g. arrival = { process = \"poisson\", rate_per_s = 100 }".into()),
                    );
                    return Arrival::Poisson { rate_per_s: 1.0 };
                };
                let rate_per_s = self.rate(r, format!("{field}.rate_per_s"), false);
                if a.process == ArrivalProcess::Poisson {
                    Arrival::Poisson { rate_per_s }
                } else {
                    Arrival::Constant { rate_per_s }
                }
            }
            ArrivalProcess::Schedule => {
                if let Some(r) = &a.rate_per_s {
                    self.error(
                        r.span.clone(),
                        format!("{field}.rate_per_s"),
                        "a schedule takes its rates from steps, not rate_per_s".into(),
                        Some("steps = [{ at = \"0s\", rate_per_s = 100 }, ...]".into()),
                    );
                }
                let steps_in = a.steps.as_deref().unwrap_or(&[]);
                if steps_in.is_empty() {
                    self.error(
                        span.clone(),
                        format!("{field}.steps"),
                        "a schedule needs at least one step".into(),
                        Some("steps = [{ at = \"0s\", rate_per_s = 100 }, { at = \"10m\", rate_per_s = 500 }]".into()),
                    );
                }
                let mut steps: Vec<RateStep> = Vec::new();
                for s in steps_in {
                    let at = s.value.at.ns();
                    if steps.last().is_some_and(|prev| at <= prev.at_ns) {
                        self.error(
                            s.span.clone(),
                            format!("{field}.steps"),
                            "steps must be in strictly increasing order of `at`".into(),
                            None,
                        );
                    }
                    let rate = self.rate(&s.value.rate_per_s, format!("{field}.steps.rate_per_s"), true);
                    steps.push(RateStep { at_ns: at, rate_per_s: rate });
                }
                if !steps.is_empty() && steps.iter().all(|s| s.rate_per_s == 0.0) {
                    self.error(
                        span.clone(),
                        format!("{field}.steps"),
                        "every step has rate 0: no request would ever arrive".into(),
                        None,
                    );
                }
                let period_ns = a.period.as_ref().map(|p| {
                    if steps.last().is_some_and(|last| p.value.ns() <= last.at_ns) {
                        self.error(
                            p.span.clone(),
                            format!("{field}.period"),
                            "period must be longer than the last step's `at`".into(),
                            None,
                        );
                    }
                    p.value.ns()
                });
                Arrival::Schedule { steps, period_ns }
            }
        }
    }

    fn retry(&mut self, r: Option<&Loc<RetrySection>>, path: &str) -> RetrySpec {
        let Some(r) = r else { return RetrySpec::ONCE };
        let max_attempts = match &r.value.max_attempts {
            Some(m) if m.value == 0 || m.value > 100 => {
                self.error(
                    m.span.clone(),
                    format!("{path}.retry.max_attempts"),
                    format!("max_attempts must be from 1 to 100, not {}", m.value),
                    Some("max_attempts counts the first attempt: 3 means two retries".into()),
                );
                1
            }
            Some(m) => m.value,
            None => 1,
        };
        let multiplier = self.number_in(
            &r.value.multiplier,
            format!("{path}.retry.multiplier"),
            (1.0, 100.0),
            2.0,
            Some("2 doubles the backoff ceiling at each retry"),
        );
        let retry_on = match &r.value.retry_on {
            Some(list) => list.iter().fold(0u8, |mask, o| {
                mask | 1
                    << match o {
                        RetryOn::Timeout => Outcome::Timeout,
                        RetryOn::Error => Outcome::Error,
                        RetryOn::Rejected => Outcome::Rejected,
                        RetryOn::Refused => Outcome::Refused,
                    } as u8
            }),
            None => RetrySpec::RETRY_ALL,
        };
        let budget = r.value.budget.as_ref().map(|b| Scoped {
            spec: self.budget(&b.value, &format!("{path}.retry.budget")),
            scope: b.value.scope.unwrap_or(Scope::Instance),
        });
        RetrySpec {
            max_attempts,
            backoff: Backoff {
                kind: r.value.backoff.unwrap_or(BackoffKind::None),
                base_ns: r.value.base.map_or(0, Duration::ns),
                cap_ns: r.value.cap.map_or(20 * NS_PER_S, Duration::ns),
                multiplier,
            },
            retry_on,
            budget,
        }
    }

    /// Queue discipline, CoDel and the per-instance concurrency limit (reference section 3).
    fn shedding(&mut self, s: &ServiceSection, path: &str) -> SheddingSpec {
        let ms = NS_PER_S / 1000;
        let codel = s.codel.as_ref().map(|c| {
            let (target, interval) =
                (c.value.target.map_or(5 * ms, Duration::ns), c.value.interval.map_or(100 * ms, Duration::ns));
            if target == 0 || interval < target {
                self.error(
                    c.span.clone(),
                    format!("{path}.codel"),
                    "codel needs 0 < target <= interval".into(),
                    Some("Facebook's values: target = \"5ms\", interval = \"100ms\"".into()),
                );
            }
            CodelSpec { target_ns: target.max(1), interval_ns: interval.max(target.max(1)) }
        });
        let max_in_flight = match &s.max_in_flight {
            Some(m) if m.value == 0 => {
                self.error(
                    m.span.clone(),
                    format!("{path}.max_in_flight"),
                    "max_in_flight must be at least 1".into(),
                    None,
                );
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
        let weights = match (&s.weights, lb) {
            (Some(w), LbKind::Weighted) if w.value.len() != instances as usize || w.value.iter().all(|&x| x == 0) => {
                self.error(
                    w.span.clone(),
                    format!("{path}.weights"),
                    format!("weights needs one weight per instance ({instances}), not all zero"),
                    None,
                );
                Vec::new()
            }
            (Some(w), LbKind::Weighted) => w.value.clone(),
            (Some(w), _) => {
                self.error(
                    w.span.clone(),
                    format!("{path}.weights"),
                    "weights apply only to load_balancer = \"weighted\"".into(),
                    None,
                );
                Vec::new()
            }
            (None, LbKind::Weighted) => {
                self.error(
                    s.name.span.clone(),
                    format!("{path}.weights"),
                    "load_balancer = \"weighted\" needs weights, one per instance".into(),
                    None,
                );
                Vec::new()
            }
            (None, _) => Vec::new(),
        };
        let health = s.health_check.as_ref().map(|h| {
            let hp = format!("{path}.health_check");
            let h_span = h.span.clone();
            let h = &h.value;
            let positive = |v: &Option<Loc<u32>>, key: &str, default: u32, me: &mut Self| match v {
                Some(x) if x.value == 0 => {
                    me.error(x.span.clone(), format!("{hp}.{key}"), format!("{key} must be at least 1"), None);
                    default
                }
                Some(x) => x.value,
                None => default,
            };
            let healthy_threshold = positive(&h.healthy_threshold, "healthy_threshold", 5, self);
            let unhealthy_threshold = positive(&h.unhealthy_threshold, "unhealthy_threshold", 2, self);
            let interval_ns = match &h.interval {
                Some(i) if i.value.ns() == 0 => {
                    self.error(i.span.clone(), format!("{hp}.interval"), "interval must be above 0".into(), None);
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
            let dependency = match (&h.dependency, kind) {
                (Some(d), HealthKind::Dependency) => Some(self.resolve(d, services, format!("{hp}.dependency"))),
                (Some(d), _) => {
                    self.error(
                        d.span.clone(),
                        format!("{hp}.dependency"),
                        "only kind = \"dependency\" checks a dependency".into(),
                        None,
                    );
                    None
                }
                (None, HealthKind::Dependency) => {
                    self.error(
                        h_span.clone(),
                        format!("{hp}.dependency"),
                        "a dependency check needs `dependency`, a service name".into(),
                        None,
                    );
                    None
                }
                (None, _) => None,
            };
            let panic_threshold = match &h.panic_threshold {
                Some(p) if !(0.0..=100.0).contains(&p.value) => {
                    self.error(
                        p.span.clone(),
                        format!("{hp}.panic_threshold"),
                        "panic_threshold is a percent, 0 to 100".into(),
                        None,
                    );
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
        });
        let outlier = s.outlier_detection.as_ref().map(|o| {
            let op = format!("{path}.outlier_detection");
            let o = &o.value;
            let d = OutlierSpec::default();
            let consecutive_errors = match &o.consecutive_errors {
                Some(c) if c.value == 0 => {
                    self.error(
                        c.span.clone(),
                        format!("{op}.consecutive_errors"),
                        "consecutive_errors must be at least 1".into(),
                        None,
                    );
                    d.consecutive_errors
                }
                Some(c) => c.value,
                None => d.consecutive_errors,
            };
            let interval_ns = match &o.interval {
                Some(i) if i.value.ns() == 0 => {
                    self.error(i.span.clone(), format!("{op}.interval"), "interval must be above 0".into(), None);
                    d.interval_ns
                }
                Some(i) => i.value.ns(),
                None => d.interval_ns,
            };
            let max_ejection_percent = match &o.max_ejection_percent {
                Some(p) if !(0.0..=100.0).contains(&p.value) => {
                    self.error(
                        p.span.clone(),
                        format!("{op}.max_ejection_percent"),
                        "max_ejection_percent is a percent, 0 to 100".into(),
                        None,
                    );
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
        });
        FleetSpec { lb, weights, health, outlier }
    }

    /// An optional number that must lie in `range` (inclusive): out of it, an error at its
    /// span, and `default` in its place.
    fn number_in(
        &mut self,
        v: &Option<Loc<f64>>,
        field: String,
        range: (f64, f64),
        default: f64,
        hint: Option<&str>,
    ) -> f64 {
        match v {
            Some(x) if !(x.value >= range.0 && x.value <= range.1) => {
                let key = field.rsplit('.').next().unwrap_or_default().to_string();
                let message = format!("{key} must be from {} to {}, not {}", range.0, range.1, x.value);
                self.error(x.span.clone(), field, message, hint.map(String::from));
                default
            }
            Some(x) => x.value,
            None => default,
        }
    }

    /// An optional window of whole seconds, 1 s to 1 h (policies count in one-second
    /// buckets), in seconds; `default` if absent or wrong.
    fn whole_seconds(&mut self, v: &Option<Loc<Duration>>, field: String, default: u32) -> u32 {
        match v {
            Some(w) if w.value.ns() < NS_PER_S || w.value.ns() % NS_PER_S != 0 || w.value.ns() > 3600 * NS_PER_S => {
                let key = field.rsplit('.').next().unwrap_or_default().to_string();
                let message = format!("{key} must be whole seconds, from 1s to 1h");
                self.error(w.span.clone(), field, message, Some("it is counted in one-second buckets".into()));
                default
            }
            Some(w) => (w.value.ns() / NS_PER_S) as u32,
            None => default,
        }
    }

    /// Hedging: 2 to 5 copies (gRPC caps maxAttempts at 5), and not together with retries
    /// (gRPC allows one policy per method).
    fn hedge(
        &mut self,
        h: Option<&Loc<HedgeSection>>,
        retry: Option<&Loc<RetrySection>>,
        path: &str,
    ) -> Option<HedgeSpec> {
        let h = h?;
        let m = &h.value.max_attempts;
        if !(2..=5).contains(&m.value) {
            self.error(
                m.span.clone(),
                format!("{path}.hedge.max_attempts"),
                format!("hedge max_attempts must be from 2 to 5, not {}", m.value),
                Some("it counts the original: 2 sends at most one extra copy".into()),
            );
        }
        if let Some(r) = retry {
            self.error(
                r.span.clone(),
                format!("{path}.retry"),
                "a call may have `retry` or `hedge`, not both".into(),
                Some("as in gRPC, a hedged call sends its copies instead of retrying".into()),
            );
        }
        Some(HedgeSpec { max_attempts: m.value.clamp(2, 5), delay_ns: h.value.delay.ns() })
    }

    fn throttle(&mut self, t: Option<&Loc<ThrottlingSection>>, path: &str) -> Option<ThrottleSpec> {
        let t = &t?.value;
        let k = self.number_in(
            &t.k,
            format!("{path}.adaptive_throttling.k"),
            (1.0, 100.0),
            2.0,
            Some("2 lets the backend see twice what it accepts"),
        );
        let window_s = self.whole_seconds(&t.window, format!("{path}.adaptive_throttling.window"), 120);
        Some(ThrottleSpec { k, window_s, scope: t.scope.unwrap_or(Scope::Instance) })
    }

    fn bulkhead(&mut self, b: Option<&Loc<BulkheadSection>>, path: &str) -> Option<BulkheadSpec> {
        let b = &b?.value;
        if b.max_concurrent.value == 0 {
            self.error(
                b.max_concurrent.span.clone(),
                format!("{path}.bulkhead.max_concurrent"),
                "max_concurrent must be at least 1".into(),
                None,
            );
        }
        let max_pending = b.max_pending.as_ref().map_or(0, |p| p.value);
        if let (Some(_), 0) = (b.max_wait, max_pending) {
            self.error(
                b.max_concurrent.span.clone(),
                format!("{path}.bulkhead.max_wait"),
                "max_wait needs max_pending above 0: with no room to wait every call over the cap fails at once".into(),
                Some("add max_pending = 100, say".into()),
            );
        }
        Some(BulkheadSpec {
            max_concurrent: b.max_concurrent.value.max(1),
            max_pending,
            max_wait_ns: b.max_wait.map_or(Nanos::MAX, Duration::ns),
            scope: b.scope.unwrap_or(Scope::Instance),
        })
    }

    /// A circuit breaker's parameters, each checked against the range its library accepts
    /// (reference 1.1 for Resilience4j's validation, 1.2 for Hystrix's defaults).
    fn breaker(&mut self, b: &Loc<BreakerSection>, path: &str) -> Scoped<BreakerSpec> {
        let scope = b.value.scope.unwrap_or(Scope::Instance);
        let b_span = b.span.clone();
        let b = &b.value;
        let other_kind: &[(bool, &str)] = match b.kind {
            BreakerKind::Resilience4j => &[
                (b.rolling_window.is_some(), "rolling_window"),
                (b.request_volume_threshold.is_some(), "request_volume_threshold"),
                (b.error_threshold.is_some(), "error_threshold"),
                (b.sleep_window.is_some(), "sleep_window"),
                (b.snapshot_interval.is_some(), "snapshot_interval"),
            ],
            BreakerKind::Hystrix => &[
                (b.failure_rate_threshold.is_some(), "failure_rate_threshold"),
                (b.slow_call_rate_threshold.is_some(), "slow_call_rate_threshold"),
                (b.slow_call_duration.is_some(), "slow_call_duration"),
                (b.sliding_window.is_some(), "sliding_window"),
                (b.window_size.is_some(), "window_size"),
                (b.minimum_calls.is_some(), "minimum_calls"),
                (b.wait_in_open.is_some(), "wait_in_open"),
                (b.wait_multiplier.is_some(), "wait_multiplier"),
                (b.max_wait_in_open.is_some(), "max_wait_in_open"),
                (b.half_open_permits.is_some(), "half_open_permits"),
                (b.max_wait_in_half_open.is_some(), "max_wait_in_half_open"),
                (b.automatic_transition.is_some(), "automatic_transition"),
            ],
        };
        for (_, key) in other_kind.iter().filter(|(present, _)| *present) {
            let (this, other) = match b.kind {
                BreakerKind::Resilience4j => ("resilience4j", "hystrix"),
                BreakerKind::Hystrix => ("hystrix", "resilience4j"),
            };
            self.error(
                b_span.clone(),
                format!("{path}.{key}"),
                format!("`{key}` is a {other} setting; this breaker is {this}"),
                Some("docs/scenario-format.md lists each kind's settings".into()),
            );
        }
        let mut percent = |v: &Option<Loc<f64>>, key: &str, default: f64| match v {
            Some(x) if !(x.value > 0.0 && x.value <= 100.0) => {
                self.error(
                    x.span.clone(),
                    format!("{path}.{key}"),
                    format!("{key} must be above 0 and at most 100 (percent), not {}", x.value),
                    None,
                );
                default
            }
            Some(x) => x.value,
            None => default,
        };
        let failure_rate_threshold = percent(&b.failure_rate_threshold, "failure_rate_threshold", 50.0);
        let slow_call_rate_threshold = percent(&b.slow_call_rate_threshold, "slow_call_rate_threshold", 100.0);
        let error_threshold = percent(&b.error_threshold, "error_threshold", 50.0);
        let mut at_least = |v: &Option<Loc<u32>>, key: &str, min: u32, default: u32| match v {
            Some(x) if x.value < min => {
                self.error(x.span.clone(), format!("{path}.{key}"), format!("{key} must be at least {min}"), None);
                default
            }
            Some(x) => x.value,
            None => default,
        };
        let window_size = at_least(&b.window_size, "window_size", 1, 100);
        let minimum_calls = at_least(&b.minimum_calls, "minimum_calls", 1, 100);
        let half_open_permits = at_least(&b.half_open_permits, "half_open_permits", 1, 10);
        let ms = NS_PER_S / 1000;
        let wait_open_ns = match &b.wait_in_open {
            Some(w) if w.value.ns() < ms => {
                self.error(
                    w.span.clone(),
                    format!("{path}.wait_in_open"),
                    "wait_in_open must be at least 1ms".into(),
                    None,
                );
                60 * NS_PER_S
            }
            Some(w) => w.value.ns(),
            None => 60 * NS_PER_S,
        };
        let wait_multiplier =
            self.number_in(&b.wait_multiplier, format!("{path}.wait_multiplier"), (1.0, 100.0), 1.0, None);
        let window_s = self.whole_seconds(&b.rolling_window, format!("{path}.rolling_window"), 10);
        let snapshot_interval_ns = match &b.snapshot_interval {
            Some(w) if w.value.ns() == 0 => {
                self.error(
                    w.span.clone(),
                    format!("{path}.snapshot_interval"),
                    "snapshot_interval must be above 0".into(),
                    None,
                );
                500 * ms
            }
            Some(w) => w.value.ns(),
            None => 500 * ms,
        };
        let spec = match b.kind {
            BreakerKind::Resilience4j => {
                let window = match b.sliding_window.unwrap_or(SlidingWindow::Count) {
                    SlidingWindow::Count => WindowKind::Count,
                    SlidingWindow::Time => WindowKind::Time,
                };
                if window == WindowKind::Time && window_size > 3600 {
                    if let Some(w) = &b.window_size {
                        self.error(
                            w.span.clone(),
                            format!("{path}.window_size"),
                            "a time window is at most 3600 seconds".into(),
                            None,
                        );
                    }
                }
                if window == WindowKind::Count && window_size > 1_000_000 {
                    if let Some(w) = &b.window_size {
                        self.error(
                            w.span.clone(),
                            format!("{path}.window_size"),
                            "a count window is at most 1000000 calls".into(),
                            None,
                        );
                    }
                }
                BreakerSpec::Resilience4j(R4jSpec {
                    failure_rate_threshold,
                    slow_call_rate_threshold,
                    slow_call_duration_ns: b.slow_call_duration.as_ref().map_or(60 * NS_PER_S, |d| d.value.ns().max(1)),
                    window,
                    window_size: window_size.min(1_000_000),
                    minimum_calls,
                    wait_open_ns,
                    wait_multiplier,
                    max_wait_ns: b.max_wait_in_open.map_or(60 * NS_PER_S, Duration::ns),
                    half_open_permits: half_open_permits.min(1_000_000),
                    max_wait_half_open_ns: b.max_wait_in_half_open.map_or(0, Duration::ns),
                    automatic_transition: b.automatic_transition.unwrap_or(false),
                })
            }
            BreakerKind::Hystrix => BreakerSpec::Hystrix(HystrixSpec {
                window_s,
                request_volume_threshold: b.request_volume_threshold.unwrap_or(20),
                error_threshold,
                sleep_window_ns: b.sleep_window.map_or(5 * NS_PER_S, Duration::ns),
                snapshot_interval_ns,
            }),
        };
        Scoped { spec, scope }
    }

    /// A retry budget's parameters, each checked against its range (reference 1.3, 2.1,
    /// 2.4, 2.5 for the defaults).
    fn budget(&mut self, b: &BudgetSection, path: &str) -> BudgetSpec {
        let mut check = |v: &Option<Loc<f64>>, key: &str, ok: fn(f64) -> bool, range: &str, default: f64| match v {
            Some(x) if !ok(x.value) => {
                self.error(
                    x.span.clone(),
                    format!("{path}.{key}"),
                    format!("{key} must be {range}, not {}", x.value),
                    None,
                );
                default
            }
            Some(x) => x.value,
            None => default,
        };
        match b.kind {
            BudgetKind::AwsStandard | BudgetKind::AwsStandard2026 => {
                let mut spec = if b.kind == BudgetKind::AwsStandard {
                    BudgetSpec::AWS_STANDARD
                } else {
                    BudgetSpec::AWS_STANDARD_2026
                };
                if let (BudgetSpec::Aws { capacity, .. }, Some(c)) = (&mut spec, &b.capacity) {
                    *capacity = c.value;
                }
                spec
            }
            BudgetKind::Grpc => {
                let max =
                    check(&b.max_tokens, "max_tokens", |x| x > 0.0 && x <= 1000.0, "above 0 and at most 1000", 10.0);
                let ratio = check(&b.token_ratio, "token_ratio", |x| x > 0.0 && x <= 1000.0, "above 0", 0.1);
                // gRPC keeps three decimals of both.
                BudgetSpec::Grpc {
                    max_milli: (max * 1000.0).round() as i64,
                    ratio_milli: (ratio * 1000.0).round() as i64,
                }
            }
            BudgetKind::Envoy => BudgetSpec::Envoy {
                percent: check(&b.percent, "percent", |x| (0.0..=100.0).contains(&x), "from 0 to 100", 20.0),
                min_concurrency: b.min_concurrency.unwrap_or(3),
            },
            BudgetKind::SreRatio => {
                let ratio = check(&b.ratio, "ratio", |x| x > 0.0 && x <= 1000.0, "above 0", 0.1);
                let window_s = self.whole_seconds(&b.window, format!("{path}.window"), 60);
                BudgetSpec::Ratio { ratio, window_s }
            }
        }
    }

    fn service(
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
                me.error(x.span.clone(), format!("{path}.{key}"), format!("{key} must be at least 1"), None);
                1
            }
            Some(x) => x.value,
            None => 1,
        };
        let mut instances = at_least_one(&s.instances, "instances", self);
        if let Some(x) = s.instances.as_ref().filter(|x| x.value > MAX_INSTANCES) {
            self.error(
                x.span.clone(),
                format!("{path}.instances"),
                format!("{} instances is more than the {MAX_INSTANCES} a service may have", x.value),
                Some(
                    "each instance is simulated with its own workers and queue; model a larger fleet as several cells"
                        .into(),
                ),
            );
            instances = 1;
        }
        let workers = at_least_one(&s.workers, "workers", self);
        let service_time = self.dist(&s.service_time, &format!("{path}.service_time"));
        let error_probability = match &s.error_probability {
            Some(p) if !(0.0..=1.0).contains(&p.value) => {
                self.error(
                    p.span.clone(),
                    format!("{path}.error_probability"),
                    format!("error_probability must be from 0 to 1, not {}", p.value),
                    Some("it is a probability per job: 0.01 fails one job in a hundred".into()),
                );
                0.0
            }
            Some(p) => p.value,
            None => 0.0,
        };

        // Compile the declared calls, remembering each one's group and type filter.
        let first_call = calls.len() as u32;
        let mut groups: Vec<Option<String>> = Vec::new();
        let mut filters: Vec<Option<Vec<u16>>> = Vec::new();
        let mut closed_groups: Vec<String> = Vec::new();
        for (i, c) in s.calls.iter().enumerate() {
            let c = &c.value;
            let cpath = format!("{path}.call[{i}]");
            let to = self.resolve(&c.to, services, format!("{cpath}.to"));
            if let Some(g) = &c.group {
                let continues = groups.last().is_some_and(|prev| prev.as_deref() == Some(g.value.as_str()));
                if !continues && closed_groups.contains(&g.value) {
                    self.error(
                        g.span.clone(),
                        format!("{cpath}.group"),
                        format!("group `{}` is split by other calls", g.value),
                        Some("calls of one parallel group must be adjacent".into()),
                    );
                }
            }
            if let Some(Some(prev)) = groups.last() {
                if c.group.as_ref().map(|g| &g.value) != Some(prev) {
                    closed_groups.push(prev.clone());
                }
            }
            groups.push(c.group.as_ref().map(|g| g.value.clone()));
            filters.push(c.for_types.as_ref().map(|list| {
                list.iter()
                    .filter_map(|t| match types.get(&t.value) {
                        Some(&id) => Some(id),
                        None => {
                            let hint = match did_you_mean(&t.value, type_names.iter().map(String::as_str)) {
                                Some(best) => format!("did you mean `{best}`?"),
                                None => format!("request types: {}", type_names.join(", ")),
                            };
                            self.error(
                                t.span.clone(),
                                format!("{cpath}.for_types"),
                                format!("no workload has a request type named `{}`", t.value),
                                Some(hint),
                            );
                            None
                        }
                    })
                    .collect()
            }));
            calls.push(CallSpec {
                name: format!("service/{name}/call{i}/{}", c.to.value),
                to,
                critical: c.critical.unwrap_or(true),
                timeout_ns: c.timeout.map_or(0, Duration::ns),
                latency: c.latency.as_ref().map(|d| self.dist(d, &format!("{cpath}.latency"))),
                retry: self.retry(c.retry.as_ref(), &cpath),
                breaker: c.breaker.as_ref().map(|b| self.breaker(b, &format!("{cpath}.breaker"))),
                hedge: self.hedge(c.hedge.as_ref(), c.retry.as_ref(), &cpath),
                fallback: c
                    .fallback
                    .as_ref()
                    .map(|f| f.value.latency.as_ref().map(|d| self.dist(d, &format!("{cpath}.fallback.latency")))),
                bulkhead: self.bulkhead(c.bulkhead.as_ref(), &cpath),
                throttle: self.throttle(c.adaptive_throttling.as_ref(), &cpath),
                deadline_ns: 0,
                propagate_deadline: c.propagate_deadline,
            });
        }

        // One plan per request type: the calls that apply, grouped into steps.
        let plan_by_type = (0..type_names.len() as u16)
            .map(|t| {
                let mut steps: Vec<Step> = Vec::new();
                let mut step_group: Option<&str> = None;
                let mut chosen: Vec<u32> = Vec::new();
                for (i, f) in filters.iter().enumerate() {
                    if f.as_ref().is_none_or(|list| list.contains(&t)) {
                        chosen.push(i as u32);
                    }
                }
                // Calls are stored contiguously, so a step is a range only if its calls are
                // contiguous in the declared list; filtering can break that, so copy calls.
                for &i in &chosen {
                    let g = groups[i as usize].as_deref();
                    let joins =
                        g.is_some() && g == step_group && steps.last().is_some_and(|s| s.end_call == first_call + i);
                    if joins {
                        steps.last_mut().expect("joins implies a step").end_call += 1;
                    } else {
                        steps.push(Step { first_call: first_call + i, end_call: first_call + i + 1 });
                    }
                    step_group = g;
                }
                plans.push(Plan { steps });
                (plans.len() - 1) as u32
            })
            .collect();

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

    fn dist(&mut self, d: &Loc<DistSection>, path: &str) -> Dist {
        let span = d.span.clone();
        let d = &d.value;
        let ns = |x: Option<Duration>| x.map(|v| v.ns() as f64);
        let given: Vec<(&str, bool)> = vec![
            ("mean", d.mean.is_some()),
            ("value", d.value.is_some()),
            ("min", d.min.is_some()),
            ("max", d.max.is_some()),
            ("stddev", d.stddev.is_some()),
            ("median", d.median.is_some()),
            ("p99", d.p99.is_some()),
            ("points", d.points.is_some()),
        ];
        let (needs, allows): (&[&str], &[&str]) = match d.dist {
            DistKind::Exponential => (&["mean"], &[]),
            DistKind::Constant => (&["value"], &[]),
            DistKind::Uniform => (&["min", "max"], &[]),
            DistKind::Normal => (&["mean", "stddev"], &["min", "max"]),
            DistKind::Lognormal => (&["median", "p99"], &[]),
            DistKind::Empirical => (&["points"], &[]),
        };
        let family = format!("{:?}", d.dist).to_lowercase();
        let a_family =
            if family.starts_with(['a', 'e', 'i', 'o', 'u']) { format!("an {family}") } else { format!("a {family}") };
        let example = match d.dist {
            DistKind::Exponential => "{ dist = \"exponential\", mean = \"10ms\" }",
            DistKind::Constant => "{ dist = \"constant\", value = \"10ms\" }",
            DistKind::Uniform => "{ dist = \"uniform\", min = \"0ms\", max = \"20ms\" }",
            DistKind::Normal => "{ dist = \"normal\", mean = \"10ms\", stddev = \"2ms\" }",
            DistKind::Lognormal => "{ dist = \"lognormal\", median = \"10ms\", p99 = \"80ms\" }",
            DistKind::Empirical => "{ dist = \"empirical\", points = [{ p = 0, value = \"1ms\" }, { p = 50, value = \"5ms\" }, { p = 100, value = \"40ms\" }] }",
        };
        let mut ok = true;
        for (key, present) in &given {
            if !present && needs.contains(key) {
                self.error(
                    span.clone(),
                    format!("{path}.{key}"),
                    format!("{a_family} distribution needs `{key}`"),
                    Some(format!("e.g. {example}")),
                );
                ok = false;
            }
            if *present && !needs.contains(key) && !allows.contains(key) {
                self.error(
                    span.clone(),
                    format!("{path}.{key}"),
                    format!("`{key}` does not apply to {a_family} distribution"),
                    Some(format!("e.g. {example}")),
                );
                ok = false;
            }
        }
        let fallback = Dist::Constant(0);
        if !ok {
            return fallback;
        }
        let bad = |me: &mut Self, msg: String| {
            me.error(span.clone(), path.to_string(), msg, Some(format!("e.g. {example}")));
            Dist::Constant(0)
        };
        match d.dist {
            DistKind::Exponential => {
                let mean = ns(d.mean).unwrap_or(0.0);
                if mean <= 0.0 {
                    return bad(self, "an exponential distribution needs a positive mean".into());
                }
                Dist::exponential(mean)
            }
            DistKind::Constant => Dist::Constant(d.value.map_or(0, Duration::ns)),
            DistKind::Uniform => {
                let (min, max) = (ns(d.min).unwrap_or(0.0), ns(d.max).unwrap_or(0.0));
                if max < min {
                    return bad(self, "uniform needs min <= max".into());
                }
                Dist::Uniform { min_ns: min, width_ns: max - min }
            }
            DistKind::Normal => {
                let (mean, sd) = (ns(d.mean).unwrap_or(0.0), ns(d.stddev).unwrap_or(0.0));
                let (lo, hi) = (ns(d.min).unwrap_or(0.0), ns(d.max).unwrap_or(f64::INFINITY));
                if hi <= lo {
                    return bad(self, "normal needs min < max".into());
                }
                if lo > mean + 2.0 * sd || hi < mean - 2.0 * sd {
                    return bad(self, "the truncation range [min, max] lies more than 2 stddev from the mean, so almost no draw falls in it".into());
                }
                Dist::truncated_normal(mean, sd, lo, hi)
            }
            DistKind::Lognormal => {
                let (median, p99) = (ns(d.median).unwrap_or(0.0), ns(d.p99).unwrap_or(0.0));
                if median <= 0.0 {
                    return bad(self, "lognormal needs a positive median".into());
                }
                if p99 <= median {
                    return bad(
                        self,
                        format!(
                            "the p99 ({}) must be above the median ({})",
                            cellsim_sim::format_ns(p99 as Nanos),
                            cellsim_sim::format_ns(median as Nanos)
                        ),
                    );
                }
                Dist::lognormal(median, p99)
            }
            DistKind::Empirical => {
                let points = d.points.as_deref().unwrap_or(&[]);
                let pts: Vec<(f64, f64)> = points.iter().map(|p| (p.p / 100.0, p.value.ns() as f64)).collect();
                if pts.len() < 2 || pts[0].0 != 0.0 || pts[pts.len() - 1].0 != 1.0 {
                    return bad(self, "empirical points must start at p = 0 and end at p = 100".into());
                }
                // A percentile may repeat once: the value jumps there (a mixture, such as 99%
                // fast and 1% slow).
                if pts.windows(2).any(|w| w[1].0 < w[0].0) || pts.windows(3).any(|w| w[0].0 == w[2].0) {
                    return bad(
                        self,
                        "empirical percentiles must increase (a percentile may repeat once, for a jump)".into(),
                    );
                }
                if pts.windows(2).any(|w| w[1].1 < w[0].1) {
                    return bad(self, "empirical values must not decrease as the percentile rises".into());
                }
                Dist::Empirical(pts)
            }
        }
    }
}

/// The span from the earliest start to the latest end of `trigger` and `[start, end)`.
fn widen(trigger: Option<Window>, start: Nanos, end: Nanos) -> Window {
    match trigger {
        Some(t) => Window { start_ns: t.start_ns.min(start), end_ns: t.end_ns.max(end) },
        None => Window { start_ns: start, end_ns: end },
    }
}
