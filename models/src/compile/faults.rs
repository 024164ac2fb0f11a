//! `[[fault]]`: each fault from its parts (`target`: what it aims at; `timing`: when it acts;
//! `kind`: what it does), the faults that would be copies of one another, and the trigger
//! window that spans them all.

mod kind;
mod rollout;
mod target;
mod timing;

use super::topology::Layout;
use super::Checker;
use crate::faults::RandomFault;
use crate::scenario::{FaultKind as FaultKindSection, FaultSection};
use crate::spec::{FaultSpec, ServiceSpec, Window, WorkloadSpec};
use crate::units::Loc;
use cellsim_sim::Nanos;
use std::collections::BTreeMap;

/// What a fault's checks read from the rest of the scenario.
pub(super) struct FaultContext<'a> {
    pub(super) service_ids: &'a BTreeMap<String, u32>,
    pub(super) services: &'a [ServiceSpec],
    pub(super) workloads: &'a [WorkloadSpec],
    pub(super) layout: Option<&'a Layout>,
    pub(super) duration_ns: Nanos,
    /// The scenario has `[zonal_shift]` (which puts instances in and out of service).
    pub(super) zonal_shift: bool,
}

impl Checker<'_> {
    /// The faults, in the file's order, and the window from the first start to the last end
    /// (none without faults).
    pub(super) fn faults(
        &mut self,
        sections: &[Loc<FaultSection>],
        cx: &FaultContext,
    ) -> (Vec<FaultSpec>, Option<Window>) {
        let mut trigger: Option<Window> = None;
        let mut faults: Vec<FaultSpec> = Vec::new();
        for (i, fault) in sections.iter().enumerate() {
            let f = self.fault(fault, i as u32, cx);
            let last = f.occurrences().last().unwrap_or(f.window);
            trigger = Some(widen(trigger, f.window.start_ns, last.end_ns));
            if let Some(j) = faults.iter().position(|g| same_place_and_time(g, &f)) {
                let message = format!(
                    "fault[{i}] is another {} of {} acting at the same time as fault[{j}]",
                    f.kind.name(),
                    f.target.what
                );
                self.err(fault.span.clone(), format!("fault[{i}]"), message).hint(
                    "faults on one target compose (outages hold it down until the last ends, CPU stresses multiply: two of 50% make work 4 times as long, delays add, losses compound), but the same kind twice at once is most likely a copy: merge them, or move one",
                );
            }
            faults.push(f);
        }
        (faults, trigger)
    }

    fn fault(&mut self, section: &Loc<FaultSection>, index: u32, cx: &FaultContext) -> FaultSpec {
        let fault = &section.value;
        let path = &format!("fault[{index}]");
        let monkey = fault.chaos_monkey.as_ref().map(|m| self.monkey(section, m, path));
        let (start, end, random) = match monkey {
            Some(_) => (0, cx.duration_ns, None),
            None => self.when(section, path, cx.duration_ns),
        };
        let is_random = random.is_some() || monkey.is_some();
        let on_a_link = fault.from.is_some() || fault.kind == FaultKindSection::Partition;
        let template = match (&fault.service, fault.kind) {
            (Some(name), FaultKindSection::Deployment) if !cx.service_ids.contains_key(&name.value) => {
                self.template_target(&name.value, cx.services)
            }
            _ => None,
        };
        let (mut target, link) = if on_a_link {
            self.link(section, path, cx)
        } else if let Some(t) = template {
            (t, None)
        } else {
            let target = self.target(section, path, cx.service_ids, cx.services, cx.layout);
            let mut target = target;
            let link = (fault.kind == FaultKindSection::CrossZoneSlowdown)
                .then(|| self.cross_zone(section, path, &target, cx));
            if link.is_some() {
                target.what = format!("link {} -> other zones", target.what);
            }
            (target, link.flatten())
        };
        if !on_a_link {
            for (key, span) in [
                ("to", fault.to.as_ref().map(|t| &t.span)),
                ("direction", fault.direction.as_ref().map(|_| &section.span)),
            ] {
                if let Some(span) = span {
                    self.err(span.clone(), format!("{path}.{key}"), format!("{key} belongs to a link fault"))
                        .hint("a link fault is aimed with from (and to): from = \"zone a\", to = \"zone b\"");
                }
            }
        }
        if fault.count.is_some() || fault.percent.is_some() {
            // As AWS FIS resolves its targets among running instances: an autoscaled
            // service's random pick is among those in service when the run starts, not its
            // spare slots.
            target.instances.retain(|&(s, i)| cx.services.get(s as usize).is_none_or(|svc| i < svc.in_service));
        }
        self.pick(section, path, fault.kind, &mut target);
        let random_kinds = [FaultKindSection::Outage, FaultKindSection::Stop, FaultKindSection::Reboot];
        if random.is_some() && !random_kinds.contains(&fault.kind) {
            self.err(section.span.clone(), format!("{path}.mtbf"), "only outages, stops and reboots fail at random")
                .hint("kind = \"outage\" (or \"reboot\", crashing what is on the instance) with mtbf and mttr; other kinds take start and duration");
        }
        let kind = self.kind(section, path, target.zone.is_some());
        if matches!(
            kind,
            crate::faults::FaultKind::IoPause
                | crate::faults::FaultKind::IoLatency { .. }
                | crate::faults::FaultKind::IoStress(_)
        ) {
            let bare = target
                .instances
                .iter()
                .map(|&(s, _)| s)
                .find(|&s| cx.services.get(s as usize).is_some_and(|svc| svc.io.is_none()));
            if let Some(s) = bare {
                let name = &cx.services[s as usize].name;
                let message = format!("{} faults act on a volume's IO, and service {name} has no io", kind.name());
                self.err(section.span.clone(), format!("{path}.kind"), message).hint(format!(
                    "give {name} its IO phase: io = {{ time = {{ dist = \"exponential\", mean = \"2ms\" }} }}"
                ));
            }
        }
        if matches!(kind, crate::faults::FaultKind::MemoryLeak { .. } | crate::faults::FaultKind::MemoryStress { .. }) {
            let bare = target
                .instances
                .iter()
                .map(|&(s, _)| s)
                .find(|&s| cx.services.get(s as usize).is_some_and(|svc| svc.memory.is_none()));
            if let Some(s) = bare {
                let name = &cx.services[s as usize].name;
                let message = format!("{} faults act on a heap, and service {name} has no memory", kind.name());
                self.err(section.span.clone(), format!("{path}.kind"), message)
                    .hint(format!("give {name} its heap: memory = {{ limit_mb = 512, base_mb = 100 }}"));
            }
        }
        let customers = self.poisoned_customers(section, path, cx, &target);
        if let Some((to_failure, to_repair)) = random {
            let per_instance = fault.service.is_some();
            self.random_faults.push(RandomFault { fault: index, to_failure, to_repair, per_instance });
        }
        let repeat = if monkey.is_some() { None } else { self.fault_repeat(section, path, start, end, cx.duration_ns) };
        let ramp_ns = self.ramp(section, path, end.saturating_sub(start));
        let failover = (fault.kind == FaultKindSection::DbFailover).then(|| match &fault.failover_time {
            Some(d) => self.dist(d, &format!("{path}.failover_time")),
            None => crate::dist::Dist::Constant(timing::DEFAULT_FAILOVER_NS),
        });
        if matches!(kind, crate::faults::FaultKind::Dns { .. } | crate::faults::FaultKind::DbFailover)
            && fault.service.is_none()
        {
            self.err(
                section.span.clone(),
                format!("{path}.service"),
                format!("a {} fault is aimed at a service's name", kind.name()),
            )
            .hint("service = \"db\": the name its callers resolve");
        }
        let rollout = (fault.kind == FaultKindSection::Deployment)
            .then(|| Box::new(self.deployment(section, path, &target, cx.services)));
        if fault.kind == FaultKindSection::Deployment {
            // Its units are its waves': a random pick would deploy to some of them only.
            let in_every_cell = target.what.ends_with(" in every cell");
            for (key, span) in [
                ("instances", fault.instances.as_ref().filter(|_| in_every_cell).map(|c| &c.span)),
                ("count", fault.count.as_ref().map(|c| &c.span)),
                ("percent", fault.percent.as_ref().map(|p| &p.span)),
            ] {
                if let Some(span) = span {
                    self.err(span.clone(), format!("{path}.{key}"), "a deployment takes its units by its waves")
                        .hint("waves = [1, 2] deploys to the first unit, then the next two; units in no wave keep the old version");
                }
            }
            let controlled = target
                .instances
                .iter()
                .any(|&(s, _)| cx.services.get(s as usize).is_some_and(|svc| svc.autoscaling.is_some()));
            if let Some(c) = fault.capacity_percent.as_ref().filter(|c| c.value > 0.0 && (controlled || cx.zonal_shift))
            {
                let what = if controlled { "an autoscaled service" } else { "a scenario with a zonal shift" };
                self.err(c.span.clone(), format!("{path}.capacity_percent"), format!("a deployment cannot take capacity out of service in {what}"))
                    .hint("the autoscaler and the zonal shift put the same instances in and out of service; model the change's capacity loss with a stop fault instead, or drop capacity_percent");
            }
        }
        FaultSpec {
            rollout,
            failover,
            kind,
            target,
            window: Window { start_ns: start, end_ns: end },
            random: is_random,
            customers,
            link,
            repeat,
            ramp_ns,
            monkey,
        }
    }
}

/// Are `a` and `b` the same kind (with the same strength or not) on the same target, acting
/// at the same time (random ones never are: their windows are the whole run by design)?
fn same_place_and_time(a: &FaultSpec, b: &FaultSpec) -> bool {
    let comparable =
        !a.random && !b.random && a.kind.name() == b.kind.name() && a.target == b.target && a.link == b.link;
    if !comparable || a.target.what.is_empty() {
        return false;
    }
    // Each's windows, in time order: a sweep over both finds an overlap.
    let (mut x, mut y) = (a.occurrences().peekable(), b.occurrences().peekable());
    while let (Some(u), Some(v)) = (x.peek(), y.peek()) {
        if u.start_ns < v.end_ns && v.start_ns < u.end_ns {
            return true;
        }
        if u.end_ns <= v.end_ns {
            x.next();
        } else {
            y.next();
        }
    }
    false
}

/// The span from the earliest start to the latest end of `trigger` and `[start, end)`.
fn widen(trigger: Option<Window>, start: Nanos, end: Nanos) -> Window {
    match trigger {
        Some(t) => Window { start_ns: t.start_ns.min(start), end_ns: t.end_ns.max(end) },
        None => Window { start_ns: start, end_ns: end },
    }
}
