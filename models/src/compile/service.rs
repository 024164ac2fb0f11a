//! `[[service]]`: instances, workers and errors; its operations, their calls and the plan of
//! steps each request type (and branch) follows; its fleet (load balancing, health checks, outlier detection); and
//! load shedding.

use super::call::Caller;
use super::Checker;
use crate::dist::Dist;
use crate::faults::memory::Heap;
use crate::scenario::{
    AllUnhealthy, Branches, CallSection, HealthCheckKind, HealthCheckSection, LoadBalancer, MemorySection,
    OutlierSection, QueueDisciplineSection, ServiceSection,
};
use crate::spec::*;
use crate::units::{Duration, Loc};
use cellsim_sim::NS_PER_S;
use std::collections::BTreeMap;

const DEFAULT_QUEUE_CAPACITY: u32 = 1000;
/// Each instance is a record with its own queue: this bounds the memory a scenario can ask for.
pub(super) const MAX_INSTANCES: u32 = 100_000;

/// An operation's compiled calls: for each, its parallel group, its request-type filter and
/// its branch.
struct CallList {
    first_call: u32,
    groups: Vec<Option<String>>,
    filters: Vec<Option<Vec<u16>>>,
    branches: Vec<Option<u32>>,
    /// How many steps each call is: its fixed count when it is repeated in sequence alone,
    /// else 1.
    copies: Vec<u32>,
}

/// What compiling one service needs to know of the whole scenario.
pub(super) struct Names<'n> {
    pub(super) services: &'n BTreeMap<String, u32>,
    /// By service: its operations' names and indices.
    pub(super) operations: &'n [BTreeMap<String, u32>],
    pub(super) type_names: &'n [String],
    pub(super) types: &'n BTreeMap<String, u16>,
}

/// The parts of a `[[service]]` or a `[[service.operation]]` that make an operation.
struct OperationKeys<'s> {
    name: &'s str,
    /// The operation in words, for messages: "service `api`" or "operation `get` of service
    /// `api`".
    owner: String,
    /// The service's index and the operation's.
    from: (u32, u16),
    path: String,
    branches: Option<&'s Loc<Branches>>,
    calls: &'s [Loc<CallSection>],
}

impl Checker<'_> {
    /// A service; its calls are appended to `calls` and its plans (per operation, one per
    /// request type and branch) to `plans`.
    pub(super) fn service(
        &mut self,
        s: &ServiceSection,
        names: &Names,
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
        // Autoscaled: the instances are its most; `instances` start in service.
        let (autoscaling, in_service) = match &s.autoscaling {
            Some(a) => {
                let (spec, max) = self.autoscaling(a, &path, instances);
                let start = instances;
                instances = max;
                (Some(spec), start)
            }
            None => (None, instances),
        };
        if let Some(x) = s.instances.as_ref().filter(|x| x.value > MAX_INSTANCES) {
            let message = format!("{} instances is more than the {MAX_INSTANCES} a service may have", x.value);
            self.err(x.span.clone(), format!("{path}.instances"), message).hint(
                "each instance is simulated with its own workers and queue; model a larger fleet as several cells",
            );
            instances = 1;
        }
        let workers = at_least_one(&s.workers, "workers", self);
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
        let operations = self.operations(s, &path, names, calls, plans);
        ServiceSpec {
            name: name.clone(),
            instances,
            workers,
            queue_capacity: s.queue_capacity.unwrap_or(DEFAULT_QUEUE_CAPACITY),
            operations,
            error_probability,
            fleet: self.fleet(s, &path, names.services, instances),
            shedding: self.shedding(s, &path),
            hold_worker_during_calls: s.hold_worker_during_calls,
            zones: Vec::new(),
            cell: None,
            autoscaling,
            in_service,
            memory: s.memory.as_ref().map(|m| self.memory(m, &path)),
            dns_ttl_ns: s.dns_ttl.as_ref().map(|t| t.value.ns()),
            io: s.io.as_ref().map(|io| {
                let time = self.dist(&io.value.time, &format!("{path}.io.time"));
                let devices = match &io.value.devices {
                    Some(d) if d.value == 0 || d.value > 1024 => {
                        let message = format!("devices must be from 1 to 1024, not {}", d.value);
                        self.err(d.span.clone(), format!("{path}.io.devices"), message)
                            .hint("a volume serves this many IOs at once; 1 is a single queue");
                        1
                    }
                    Some(d) => d.value,
                    None => 1,
                };
                (time, devices)
            }),
        }
    }

    /// A service's `memory`, each size in its range.
    fn memory(&mut self, section: &Loc<MemorySection>, path: &str) -> Heap {
        let m = &section.value;
        const MB: f64 = 1e6;
        let mut size = |v: Option<&Loc<f64>>, key: &str, min: f64, default: f64| match v {
            Some(x) if !(min..=1e9).contains(&x.value) || (min > 0.0 && x.value == 0.0) => {
                let range = if min > 0.0 { "above 0" } else { "at least 0" };
                self.err(
                    x.span.clone(),
                    format!("{path}.memory.{key}"),
                    format!("{key} must be {range} and at most 1,000,000,000, not {}", x.value),
                )
                .hint("sizes are in megabytes: limit_mb = 512 is a 512 MB heap");
                default
            }
            Some(x) => x.value,
            None => default,
        };
        let limit = size(Some(&m.limit_mb), "limit_mb", f64::MIN_POSITIVE, 512.0);
        let base = size(m.base_mb.as_ref(), "base_mb", 0.0, 0.0);
        let per_job = size(m.per_job_mb.as_ref(), "per_job_mb", 0.0, 0.0);
        let alloc = size(m.alloc_mb_per_job.as_ref(), "alloc_mb_per_job", 0.0, 0.0);
        let leak = size(m.leak_mb_per_s.as_ref(), "leak_mb_per_s", 0.0, 0.0);
        if let Some(b) = m.base_mb.as_ref().filter(|b| b.value >= limit) {
            let message =
                format!("base_mb ({}) must be below limit_mb ({limit}): the instance would be killed at once", b.value);
            self.err(b.span.clone(), format!("{path}.memory.base_mb"), message)
                .hint("base_mb is an idle instance's live data; the limit is the heap's size");
        }
        for (key, v, max_ns) in [
            ("gc_pause", m.gc_pause.as_ref(), 3600 * NS_PER_S),
            ("gc_pause_per_mb", m.gc_pause_per_mb.as_ref(), NS_PER_S),
        ] {
            if let Some(d) = v.filter(|d| d.value.ns() > max_ns) {
                let message = format!(
                    "{key} must be at most {}, not {}",
                    cellsim_sim::format_ns(max_ns),
                    cellsim_sim::format_ns(d.value.ns())
                );
                self.err(d.span.clone(), format!("{path}.memory.{key}"), message).hint(
                    "a collection's pause is milliseconds to seconds: gc_pause = \"5ms\", gc_pause_per_mb = \"0.05ms\"",
                );
            }
        }
        let ns = |d: Option<&Loc<crate::units::Duration>>, default_ns: u64| d.map_or(default_ns, |d| d.value.ns());
        Heap {
            limit_bytes: limit * MB,
            base_bytes: base * MB,
            per_job_bytes: per_job * MB,
            leak_bytes_per_s: leak * MB,
            alloc_bytes_per_job: alloc * MB,
            pause_fixed_ns: ns(m.gc_pause.as_ref(), 5_000_000) as f64,
            pause_ns_per_byte: ns(m.gc_pause_per_mb.as_ref(), 50_000) as f64 / MB,
            restart_ns: ns(m.restart_time.as_ref(), 5 * cellsim_sim::NS_PER_S),
        }
    }

    /// The service's operations: its named ones, or the implicit `default` made of the
    /// service's own `service_time`, `branches` and calls.
    fn operations(
        &mut self,
        s: &ServiceSection,
        path: &str,
        names: &Names,
        calls: &mut Vec<CallSpec>,
        plans: &mut Vec<Plan>,
    ) -> Vec<OperationSpec> {
        let service_time = s.service_time.as_ref().map(|d| self.dist(d, &format!("{path}.service_time")));
        if s.operations.is_empty() {
            if service_time.is_none() {
                self.err(s.name.span.clone(), format!("{path}.service_time"), "the service has no service_time")
                    .hint("add service_time = { dist = \"exponential\", mean = \"5ms\" }, its work per job");
            }
            let keys = OperationKeys {
                name: "default",
                owner: format!("service `{}`", s.name.value),
                from: (names.services.get(&s.name.value).copied().unwrap_or(0), 0),
                path: path.to_string(),
                branches: s.branches.as_ref(),
                calls: &s.calls,
            };
            let time = service_time.unwrap_or(Dist::Constant(0));
            return vec![self.operation(&s.name.value, keys, time, names, calls, plans)];
        }
        if let Some(c) = s.calls.first() {
            self.err(c.span.clone(), format!("{path}.call"), "a service with [[service.operation]] has no calls of its own")
                .hint("move each [[service.call]] under the [[service.operation]] that makes it, as [[service.operation.call]]");
        }
        if let Some(b) = &s.branches {
            self.err(
                b.span.clone(),
                format!("{path}.branches"),
                "a service with [[service.operation]] has no branches of its own",
            )
            .hint("give `branches` to the operation that draws them");
        }
        let service = names.services.get(&s.name.value).copied().unwrap_or(0);
        s.operations
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let o = &o.value;
                let opath = format!("{path}.operation.{}", o.name.value);
                let time = match (&o.service_time, &service_time) {
                    (Some(d), _) => self.dist(d, &format!("{opath}.service_time")),
                    (None, Some(d)) => d.clone(),
                    (None, None) => {
                        self.err(
                            o.name.span.clone(),
                            format!("{opath}.service_time"),
                            "the operation has no service_time",
                        )
                        .hint("give it a service_time, or give the service one for every operation without");
                        Dist::Constant(0)
                    }
                };
                let keys = OperationKeys {
                    name: &o.name.value,
                    owner: format!("operation `{}` of service `{}`", o.name.value, s.name.value),
                    from: (service, i as u16),
                    path: opath,
                    branches: o.branches.as_ref(),
                    calls: &o.calls,
                };
                self.operation(&s.name.value, keys, time, names, calls, plans)
            })
            .collect()
    }

    /// One operation of service `service`: its branches, its calls (appended to `calls`) and
    /// its plans, one per request type and branch (appended to `plans`).
    fn operation(
        &mut self,
        service: &str,
        keys: OperationKeys,
        service_time: Dist,
        names: &Names,
        calls: &mut Vec<CallSpec>,
        plans: &mut Vec<Plan>,
    ) -> OperationSpec {
        let branches = keys.branches.map_or_else(Vec::new, |b| self.branches(b, &keys.path));
        // Branches declared but invalid were reported once; their calls are not, again.
        let declared = keys.branches.is_some();
        let mut list = self.operation_calls(service, &keys, (&branches, declared), names, calls);
        // A call repeated a fixed number of times in sequence, alone in its step, awaited
        // there and always made, is that many steps of one call: it takes the plain path
        // (no shape, no extra tier), and costs what as many declared calls cost.
        for (i, c) in calls[list.first_call as usize..].iter_mut().enumerate() {
            let alone = list.groups[i].is_none() && c.wait == Wait::Step && c.probability == 1.0;
            if let (true, Some(Repeat { count: Count::Fixed(n), parallel: false })) = (alone, &c.repeat) {
                list.copies[i] = *n;
                c.repeat = None;
            }
        }
        // A job counts its steps and its calls awaited at the end in 16 bits.
        let declared = &calls[list.first_call as usize..];
        let deferred: u64 = declared
            .iter()
            .filter(|c| c.wait == Wait::End)
            .map(|c| if c.repeat.as_ref().is_some_and(|r| r.parallel) { c.max_count() as u64 } else { 1 })
            .sum();
        let steps: u64 = list.copies.iter().map(|&n| n as u64).sum();
        if steps > u16::MAX as u64 || deferred > u16::MAX as u64 {
            let span = keys.calls.first().map_or(0..0, |c| c.span.clone());
            self.err(span, format!("{}.call", keys.path), format!("{} makes too many calls", keys.owner)).hint(
                "an operation makes at most 65,535 calls one after another (a call repeated in \
                 sequence counts its copies), and awaits at most 65,535 at its end",
            );
        }
        let variants = branches.len().max(1) as u32;
        let plan_by_type = (0..names.type_names.len() as u16)
            .map(|t| {
                let first = plans.len() as u32;
                for b in 0..variants {
                    plans.push(plan(&list, t, (!branches.is_empty()).then_some(b)));
                }
                first
            })
            .collect();
        OperationSpec { name: keys.name.to_string(), service_time, plan_by_type, branches }
    }

    /// `branches = { hit = 0.9, miss = 0.1 }`: names and positive weights, normalised.
    fn branches(&mut self, b: &Loc<Branches>, path: &str) -> Vec<Branch> {
        let field = format!("{path}.branches");
        if b.value.len() < 2 {
            self.err(b.span.clone(), field.clone(), "branches needs at least two branches")
                .hint("e.g. branches = { hit = 0.9, miss = 0.1 }; for one optional call use `probability`");
        }
        if let Some((name, w)) = b.value.iter().find(|(_, w)| !(w.is_finite() && **w > 0.0)) {
            self.err(b.span.clone(), field, format!("branch `{name}` has weight {w}; weights must be positive"));
            return Vec::new();
        }
        let total: f64 = b.value.values().sum();
        let mut acc = 0.0;
        let mut out: Vec<Branch> = b
            .value
            .iter()
            .map(|(name, w)| {
                acc += w / total;
                Branch { name: name.clone(), cumulative: acc }
            })
            .collect();
        if let Some(last) = out.last_mut() {
            last.cumulative = 1.0;
        }
        out
    }

    /// Compiles an operation's declared calls into `calls`, remembering each one's group,
    /// type filter and branch.
    fn operation_calls(
        &mut self,
        service: &str,
        keys: &OperationKeys,
        (branches, declared): (&[Branch], bool),
        names: &Names,
        calls: &mut Vec<CallSpec>,
    ) -> CallList {
        let mut list = CallList {
            first_call: calls.len() as u32,
            groups: Vec::new(),
            filters: Vec::new(),
            branches: Vec::new(),
            copies: Vec::new(),
        };
        let mut closed_groups: Vec<String> = Vec::new();
        let mut call_names: Vec<String> = Vec::new();
        for (i, c) in keys.calls.iter().enumerate() {
            let c = &c.value;
            let cpath = format!("{}.call[{i}]", keys.path);
            let to = self.resolve("service", &c.to, names.services, format!("{cpath}.to"));
            // By default the callee's name, and its operation when the call names one.
            let default_name = match &c.operation {
                Some(op) => Loc { value: format!("{}/{}", c.to.value, op.value), span: c.to.span.clone() },
                None => c.to.clone(),
            };
            let call_name = c.name.as_ref().unwrap_or(&default_name);
            if call_names.contains(&call_name.value) {
                let message = format!("{} already has a call named `{}`", keys.owner, call_name.value);
                self.err(call_name.span.clone(), format!("{cpath}.name"), message).hint(
                    "two calls to one service need different names: add `name = \"...\"` to one of them \
                     (it names the call's random streams)",
                );
            }
            call_names.push(call_name.value.clone());
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
            let filter = c.for_types.as_ref().map(|types| {
                types
                    .iter()
                    .filter_map(|t| self.request_type(t, names.type_names, names.types, format!("{cpath}.for_types")))
                    .collect()
            });
            list.filters.push(filter);
            let branch = match &c.branch {
                Some(_) if declared && branches.is_empty() => None,
                Some(b) => self.branch_of(b, branches, &keys.owner, &cpath),
                None => None,
            };
            list.branches.push(branch);
            list.copies.push(1);
            let stream_name = format!("service/{service}/op/{}/call/{}", keys.name, call_name.value);
            let op = self.callee_operation(to, c.operation.as_ref(), &c.to, names, &cpath);
            let caller = Caller::Service {
                from: keys.from,
                critical: c.critical.unwrap_or(true),
                fallback: c.fallback.as_ref(),
                wait: c.wait,
                repeat: c.repeat.as_ref(),
                probability: c.probability.as_ref(),
            };
            calls.push(self.call(stream_name, to, op, &cpath, c.into(), caller));
        }
        list
    }

    /// The index of branch `b` among the operation's `branches` (`owner` names it).
    fn branch_of(&mut self, b: &Loc<String>, branches: &[Branch], owner: &str, cpath: &str) -> Option<u32> {
        if let Some(i) = branches.iter().position(|x| x.name == b.value) {
            return Some(i as u32);
        }
        let field = format!("{cpath}.branch");
        if branches.is_empty() {
            let on = if owner.starts_with("service") { "service" } else { "operation" };
            self.err(b.span.clone(), field, format!("{owner} has no branches"))
                .hint(format!("declare them on the {on}: branches = {{ hit = 0.9, miss = 0.1 }}"));
        } else {
            let known: Vec<&str> = branches.iter().map(|x| x.name.as_str()).collect();
            let hint = match crate::error::did_you_mean(&b.value, known.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("its branches: {}", known.join(", ")),
            };
            self.err(b.span.clone(), field, format!("{owner} has no branch named `{}`", b.value)).hint(hint);
        }
        None
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
            LoadBalancer::ShuffleShard => LbKind::ShuffleShard,
        };
        let shard_size = match (&s.shard_size, lb) {
            (Some(k), LbKind::ShuffleShard)
                if k.value == 0 || k.value > instances.min(crate::cells::route::MAX_SHARD) =>
            {
                let most = instances.min(crate::cells::route::MAX_SHARD);
                let message =
                    format!("shard_size must be from 1 to {most} (the instances, at most 32), not {}", k.value);
                self.err(k.span.clone(), format!("{path}.shard_size"), message)
                    .hint("a shard is a few of the instances: 2 of 8 gives 28 distinct shards");
                1
            }
            (Some(k), LbKind::ShuffleShard) => k.value,
            (None, LbKind::ShuffleShard) => 2.min(instances),
            (Some(k), _) => {
                self.err(
                    k.span.clone(),
                    format!("{path}.shard_size"),
                    "shard_size belongs to load_balancer = \"shuffle-shard\"",
                );
                0
            }
            (None, _) => 0,
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
        FleetSpec { lb, weights, shard_size, health, outlier }
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

/// The plan for request type `t` (and branch `branch` of an operation with branches): the
/// calls that apply, grouped into steps.
fn plan(list: &CallList, t: u16, branch: Option<u32>) -> Plan {
    let first_call = list.first_call;
    let mut steps: Vec<Step> = Vec::new();
    let mut step_group: Option<&str> = None;
    let chosen = (0..list.filters.len() as u32).filter(|&i| {
        list.filters[i as usize].as_ref().is_none_or(|types| types.contains(&t))
            && list.branches[i as usize].is_none_or(|b| Some(b) == branch)
    });
    // Calls are stored contiguously, so a step is a range only if its calls are
    // contiguous in the declared list; filtering can break that, so copy calls.
    for i in chosen {
        let g = list.groups[i as usize].as_deref();
        let joins = g.is_some() && g == step_group && steps.last().is_some_and(|s| s.end_call == first_call + i);
        if joins {
            steps.last_mut().expect("joins implies a step").end_call += 1;
        } else {
            let step = Step { first_call: first_call + i, end_call: first_call + i + 1 };
            steps.extend(std::iter::repeat_n(step, list.copies[i as usize] as usize));
        }
        step_group = g;
    }
    Plan { steps }
}
