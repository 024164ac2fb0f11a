//! `[[fault]]`: each fault's target, window, instances and kind, and the trigger window that
//! spans them all.

use super::topology::Layout;
use super::Checker;
use crate::dist::Dist;
use crate::faults::catalogue::Crash;
use crate::faults::catalogue::{ChaosMonkey, Repeat};
use crate::faults::network::PacketLoss;
use crate::faults::{CpuStress, FaultKind, FaultTarget, Link, Pick, RandomFault};
use crate::scenario::{
    AnalysisSection, ChaosMonkeySection, Direction, FaultKind as FaultKindSection, FaultSection, IfEmpty,
};
use crate::spec::{AnalysisSpec, FaultSpec, ServiceSpec, Window, WorkloadSpec};
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
        let (mut target, link) = if on_a_link {
            self.link(section, path, cx)
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
        self.pick(section, path, fault.kind, &mut target);
        let random_kinds = [FaultKindSection::Outage, FaultKindSection::Stop, FaultKindSection::Reboot];
        if random.is_some() && !random_kinds.contains(&fault.kind) {
            self.err(section.span.clone(), format!("{path}.mtbf"), "only outages, stops and reboots fail at random")
                .hint("kind = \"outage\" (or \"reboot\", crashing what is on the instance) with mtbf and mttr; other kinds take start and duration");
        }
        let kind = self.kind(section, path, target.zone.is_some());
        let customers = self.poisoned_customers(section, path, cx, &target);
        if let Some((to_failure, to_repair)) = random {
            let per_instance = fault.service.is_some();
            self.random_faults.push(RandomFault { fault: index, to_failure, to_repair, per_instance });
        }
        let repeat = if monkey.is_some() { None } else { self.fault_repeat(section, path, start, end, cx.duration_ns) };
        let ramp_ns = self.ramp(section, path, end.saturating_sub(start));
        FaultSpec {
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

    /// `chaos_monkey`: kills on Netflix Chaos Monkey's calendar, for `terminate`, `stop` and
    /// `reboot` (down for `duration`); the calendar picks the times, so no `start`.
    fn monkey(&mut self, section: &Loc<FaultSection>, m: &Loc<ChaosMonkeySection>, path: &str) -> ChaosMonkey {
        let fault = &section.value;
        let field = format!("{path}.chaos_monkey");
        let crash = [FaultKindSection::Terminate, FaultKindSection::Stop, FaultKindSection::Reboot];
        if !crash.contains(&fault.kind) {
            self.err(
                m.span.clone(),
                field.clone(),
                format!("Chaos Monkey kills instances: {} faults have no calendar", kind_name(fault.kind)),
            )
            .hint("kind = \"terminate\" (replaced by autoscaling), or \"reboot\" with duration (down that long)");
        }
        for (key, given) in [
            ("start", fault.start.is_some()),
            ("mtbf", fault.mtbf.is_some()),
            ("mttr", fault.mttr.is_some()),
            ("every", fault.every.is_some()),
        ] {
            if given {
                self.err(
                    m.span.clone(),
                    format!("{path}.{key}"),
                    format!("the calendar picks the kills' times: no {key}"),
                )
                .hint("leave it out; chaos_monkey's mean_days sets how often");
            }
        }
        let down_ns = match (&fault.duration, fault.kind) {
            (Some(d), FaultKindSection::Terminate) => {
                self.err(d.span.clone(), format!("{path}.duration"), "a terminated instance does not come back")
                    .hint("leave duration out, or use kind = \"reboot\" for instances down for a while");
                None
            }
            (Some(d), _) => Some(d.value.ns().max(1)),
            (None, FaultKindSection::Terminate) => None,
            (None, _) => {
                self.err(
                    section.span.clone(),
                    format!("{path}.duration"),
                    "a reboot on the calendar needs how long it is down",
                )
                .hint("duration = \"2m\": each killed instance is down two minutes");
                Some(1)
            }
        };
        let c = &m.value;
        let mean_days = c.mean_days.unwrap_or(2.0);
        if !(1.0..=1e6).contains(&mean_days) {
            self.err(
                m.span.clone(),
                format!("{field}.mean_days"),
                format!("mean_days must be at least 1, not {mean_days}"),
            )
            .hint("Netflix's default is 2: a kill every other work day on average");
        }
        let (start_hour, end_hour) = (c.start_hour.unwrap_or(9), c.end_hour.unwrap_or(15));
        if start_hour >= end_hour || end_hour > 24 {
            let message = format!("working hours must be within a day, start before end: {start_hour} to {end_hour}");
            self.err(m.span.clone(), format!("{field}.start_hour"), message).hint("start_hour = 9, end_hour = 15");
        }
        ChaosMonkey {
            mean_days: mean_days.clamp(1.0, 1e6),
            min_days: c.min_days.unwrap_or(1),
            start_hour: start_hour.min(23),
            end_hour: end_hour.clamp(start_hour.min(23) + 1, 24),
            down_ns,
        }
    }

    /// A link fault's sides (`from`, and `to`, by default everything else), direction and
    /// share of flows; the target is the `from` side.
    fn link(&mut self, section: &Loc<FaultSection>, path: &str, cx: &FaultContext) -> (FaultTarget, Option<Link>) {
        let fault = &section.value;
        let empty = FaultTarget { what: String::new(), instances: Vec::new(), zone: None, pick: Pick::All };
        let hint = "from = \"zone use1-az1\", to = \"zone use1-az2\": a service, cell, zone or region, its kind first";
        for (key, given) in
            [("service", &fault.service), ("cell", &fault.cell), ("zone", &fault.zone), ("region", &fault.region)]
        {
            if let Some(v) = given {
                self.err(v.span.clone(), format!("{path}.{key}"), "a link fault is aimed with from and to").hint(hint);
            }
        }
        let allowed = [
            FaultKindSection::Partition,
            FaultKindSection::NetworkLatency,
            FaultKindSection::PacketLoss,
            FaultKindSection::Bandwidth,
        ];
        if !allowed.contains(&fault.kind) {
            let span = fault.from.as_ref().map_or(section.span.clone(), |f| f.span.clone());
            self.err(
                span,
                format!("{path}.from"),
                format!("{} faults act on instances, not links", kind_name(fault.kind)),
            )
            .hint("links take kind = \"partition\", \"network-latency\", \"packet-loss\" or \"bandwidth\"");
        }
        let Some(from) = &fault.from else {
            self.err(section.span.clone(), format!("{path}.from"), "a partition needs the link it cuts").hint(hint);
            return (empty, None);
        };
        if cx.layout.is_none() {
            self.err(
                from.span.clone(),
                format!("{path}.from"),
                "a link joins placements: the scenario declares no [[region]]",
            )
            .hint("declare regions and zones (docs/scenario-format.md, Topology)");
            return (empty, None);
        }
        let Some((from_what, from_instances)) = self.side(from, &format!("{path}.from"), cx) else {
            return (empty, None);
        };
        let (to_what, to) = match &fault.to {
            Some(to) => match self.side(to, &format!("{path}.to"), cx) {
                Some((what, instances)) => (what, instances),
                None => return (empty, None),
            },
            None => {
                let all =
                    cx.services.iter().enumerate().flat_map(|(s, svc)| (0..svc.instances).map(move |i| (s as u32, i)));
                // (Both lists are in service then instance order: sorted.)
                ("everything else".to_string(), all.filter(|x| from_instances.binary_search(x).is_err()).collect())
            }
        };
        if from_instances.iter().any(|x| to.binary_search(x).is_ok()) {
            if let Some(to) = &fault.to {
                self.err(
                    to.span.clone(),
                    format!("{path}.to"),
                    "the link's sides overlap: a message inside both would cross it",
                )
                .hint("two separate places: two zones, two cells, or a cell and a zone it is not in");
            }
        }
        if to.is_empty() && fault.if_empty != Some(IfEmpty::Skip) {
            let span = fault.to.as_ref().map_or(from.span.clone(), |t| t.span.clone());
            self.err(span, format!("{path}.to"), format!("the link's other side, {to_what}, has no instances"))
                .hint("name a place with instances as to, or set if_empty = \"skip\"");
        }
        let flows_percent = match &fault.flows_percent {
            Some(f) if !(1..=100).contains(&f.value) => {
                let message = format!("flows_percent must be from 1 to 100, not {}", f.value);
                self.err(f.span.clone(), format!("{path}.flows_percent"), message)
                    .hint("the share of caller and callee instance pairs hit, each for the whole fault");
                100
            }
            Some(f) => f.value,
            None => 100,
        };
        let both = fault.direction != Some(Direction::OneWay);
        let arrow = if both { "<->" } else { "->" };
        let target = FaultTarget {
            what: format!("link {from_what} {arrow} {to_what}"),
            instances: from_instances,
            zone: None,
            pick: Pick::All,
        };
        (target, Some(Link { to, both, flows_percent }))
    }

    /// One side of a link: "KIND NAME", its words for reports and its instances.
    fn side(&mut self, text: &Loc<String>, field: &str, cx: &FaultContext) -> Option<(String, Vec<(u32, u32)>)> {
        let Some((key, name)) = text.value.split_once(' ') else {
            self.err(text.span.clone(), field, format!("`{}` names no kind of place", text.value))
                .hint("a kind, a space and a name: \"zone use1-az1\", \"cell cell-3\", \"region us-east-1\" or \"service api\"");
            return None;
        };
        if !["service", "cell", "zone", "region"].contains(&key) {
            self.err(text.span.clone(), field, format!("`{key}` is not a kind of place"))
                .hint("service, cell, zone or region, then the name: \"zone use1-az1\"");
            return None;
        }
        let name = Loc { value: name.trim().to_string(), span: text.span.clone() };
        let (instances, _) = self.place(key, &name, field.to_string(), cx.service_ids, cx.services, cx.layout);
        Some((format!("{key} {}", name.value), instances))
    }

    /// A cross-zone slowdown: packet loss on every message from the target zone's instances
    /// to the other zones' (one way, as AWS FIS's scenario injects it).
    fn cross_zone(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        target: &FaultTarget,
        cx: &FaultContext,
    ) -> Option<Link> {
        let Some(zone) = target.zone else {
            self.err(section.span.clone(), format!("{path}.zone"), "a cross-zone slowdown leaves a zone")
                .hint("aim it at a zone: zone = \"use1-az1\"; messages from there to the other zones lose packets");
            return None;
        };
        let to = cx
            .services
            .iter()
            .enumerate()
            .flat_map(|(s, svc)| (0..svc.instances).map(move |i| (s as u32, i, svc.zones.get(i as usize).copied())))
            .filter(|&(_, _, z)| z != Some(zone))
            .map(|(s, i, _)| (s, i))
            .collect();
        let flows_percent = fault_flows(&section.value);
        Some(Link { to, both: false, flows_percent })
    }

    /// `every` and `times`: the fault acts again every `every` from its start, `times` times
    /// in all (by default as many as start before the run's end).
    fn fault_repeat(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        start: Nanos,
        end: Nanos,
        duration_ns: Nanos,
    ) -> Option<Repeat> {
        let fault = &section.value;
        let Some(every) = &fault.every else {
            if let Some(t) = &fault.times {
                self.err(t.span.clone(), format!("{path}.times"), "times counts repetitions: it needs every")
                    .hint("every = \"5m\" repeats the fault every five minutes from its start");
            }
            return None;
        };
        let every_ns = every.value.ns();
        let length = end.saturating_sub(start);
        if fault.start.is_none() || fault.duration.is_none() {
            self.err(every.span.clone(), format!("{path}.every"), "only a fault with start and duration repeats")
                .hint("random failures (mtbf) repeat by themselves; a terminated instance does not come back");
            return None;
        }
        if every_ns <= length {
            let message = format!(
                "every ({}) must be longer than duration ({}): a repetition would start before the last ends",
                cellsim_sim::format_ns(every_ns),
                cellsim_sim::format_ns(length)
            );
            self.err(every.span.clone(), format!("{path}.every"), message)
                .hint("a longer every, or a shorter duration");
            return None;
        }
        let fit = (duration_ns.saturating_sub(start + 1) / every_ns + 1).min(u32::MAX as u64) as u32;
        let times = match &fault.times {
            Some(t) if t.value == 0 => {
                self.err(t.span.clone(), format!("{path}.times"), "times must be at least 1");
                fit
            }
            Some(t) if t.value > fit => {
                let message =
                    format!("the fault would start {} times, but only {fit} start before the run ends", t.value);
                self.err(t.span.clone(), format!("{path}.times"), message)
                    .hint("fewer times, a shorter every, or a longer [scenario] duration");
                fit
            }
            Some(t) => t.value,
            None => fit,
        };
        if times > 1_000_000 {
            self.err(every.span.clone(), format!("{path}.every"), format!("{times} repetitions, more than 1,000,000"))
                .hint("a longer every");
            return None;
        }
        Some(Repeat { every_ns, times })
    }

    /// `ramp`: how long the fault's strength takes to rise to full, for the kinds that have a
    /// strength; at most its duration.
    fn ramp(&mut self, section: &Loc<FaultSection>, path: &str, length: Nanos) -> Nanos {
        let fault = &section.value;
        let Some(ramp) = &fault.ramp else { return 0 };
        let ramps = [
            FaultKindSection::CpuStress,
            FaultKindSection::NetworkLatency,
            FaultKindSection::PacketLoss,
            FaultKindSection::CrossZoneSlowdown,
            FaultKindSection::Gray,
        ];
        let field = format!("{path}.ramp");
        if !ramps.contains(&fault.kind) {
            self.err(
                ramp.span.clone(),
                field,
                format!("{} faults act at once: they have no ramp", kind_name(fault.kind)),
            )
            .hint("cpu-stress, network-latency, packet-loss, cross-zone-slowdown and gray ramp up");
            return 0;
        }
        if fault.mtbf.is_some() {
            return 0; // random failures: reported by `when`
        }
        let ns = ramp.value.ns();
        if ns == 0 || ns > length {
            let message = format!(
                "the ramp ({}) must be above 0 and at most the fault's duration ({})",
                cellsim_sim::format_ns(ns),
                cellsim_sim::format_ns(length)
            );
            self.err(ramp.span.clone(), field, message).hint("a shorter ramp, or a longer duration");
            return ns.min(length);
        }
        ns
    }

    /// A poison pill's customers, as global ids: `customers` of `workload` (the first
    /// workload's when the scenario has one population); other kinds have none.
    fn poisoned_customers(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        cx: &FaultContext,
        target: &FaultTarget,
    ) -> Vec<u32> {
        let fault = &section.value;
        let hint = "customers = [7] poisons customer 7 of the workload (ids from 0 to its customers - 1)";
        if fault.kind != FaultKindSection::PoisonPill {
            for (key, span) in [
                ("customers", fault.customers.as_ref().map(|c| &c.span)),
                ("workload", fault.workload.as_ref().map(|w| &w.span)),
            ] {
                if let Some(span) = span {
                    self.err(
                        span.clone(),
                        format!("{path}.{key}"),
                        format!("{} faults have no {key}", kind_name(fault.kind)),
                    )
                    .hint("customers poison requests: kind = \"poison-pill\"");
                }
            }
            return Vec::new();
        }
        if fault.service.is_none() {
            self.err(
                section.span.clone(),
                format!("{path}.service"),
                "a poison pill crashes the instances of a service",
            )
            .hint("aim it at the service whose instances crash: service = \"api\"");
        }
        let _ = target;
        let workload = match (&fault.workload, cx.workloads) {
            (Some(name), list) => match list.iter().find(|w| w.name == name.value) {
                Some(w) => Some(w),
                None => {
                    let names: BTreeMap<String, u32> =
                        list.iter().enumerate().map(|(i, w)| (w.name.clone(), i as u32)).collect();
                    self.resolve("workload", name, &names, format!("{path}.workload"));
                    None
                }
            },
            (None, [first, rest @ ..]) if rest.iter().all(|w| w.first_customer == first.first_customer) => Some(first),
            (None, _) => {
                self.err(
                    section.span.clone(),
                    format!("{path}.workload"),
                    "whose customers? the workloads have customers of their own",
                )
                .hint("name the workload: workload = \"web\"");
                None
            }
        };
        let Some(list) = &fault.customers else {
            self.err(section.span.clone(), format!("{path}.customers"), "a poison pill needs its customers").hint(hint);
            return Vec::new();
        };
        let Some(w) = workload else { return Vec::new() };
        if list.value.is_empty() {
            self.err(list.span.clone(), format!("{path}.customers"), "a poison pill needs at least one customer")
                .hint(hint);
        }
        let mut ids = Vec::new();
        for &c in &list.value {
            if c as u64 >= w.customers {
                let message = format!("customer {c} is not one of workload {}'s {} (ids from 0)", w.name, w.customers);
                self.err(list.span.clone(), format!("{path}.customers"), message).hint(hint);
            } else if let Some(id) = w.first_customer.checked_add(c) {
                // (Past u32: the populations are too many, an error already.)
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl Checker<'_> {
    /// The fault's kind with its options, each checked; an option of another kind is an
    /// error.
    fn kind(&mut self, section: &Loc<FaultSection>, path: &str, zone_target: bool) -> FaultKind {
        let fault = &section.value;
        let name = kind_name(fault.kind);
        let options: [(&str, Option<&std::ops::Range<usize>>); 11] = [
            ("grace", fault.grace.as_ref().map(|l| &l.span)),
            ("rate_mbps", fault.rate_mbps.as_ref().map(|l| &l.span)),
            ("queue_kb", fault.queue_kb.as_ref().map(|l| &l.span)),
            ("flows_percent", fault.flows_percent.as_ref().map(|l| &l.span)),
            ("error_percent", fault.error_percent.as_ref().map(|l| &l.span)),
            ("slow_percent", fault.slow_percent.as_ref().map(|l| &l.span)),
            ("restart_time", fault.restart_time.as_ref().map(|l| &l.span)),
            ("load_percent", fault.load_percent.as_ref().map(|l| &l.span)),
            ("latency", fault.latency.as_ref().map(|l| &l.span)),
            ("jitter", fault.jitter.as_ref().map(|l| &l.span)),
            ("loss_percent", fault.loss_percent.as_ref().map(|l| &l.span)),
        ];
        let link = fault.from.is_some();
        let own: &[&str] = match fault.kind {
            FaultKindSection::CpuStress => &["load_percent"],
            FaultKindSection::NetworkLatency if link => &["latency", "jitter", "flows_percent"],
            FaultKindSection::NetworkLatency => &["latency", "jitter"],
            FaultKindSection::PacketLoss if link => &["loss_percent", "flows_percent"],
            FaultKindSection::PacketLoss => &["loss_percent"],
            FaultKindSection::CrossZoneSlowdown => &["loss_percent", "flows_percent"],
            FaultKindSection::Partition => &["flows_percent"],
            FaultKindSection::Bandwidth if link => &["rate_mbps", "queue_kb", "flows_percent"],
            FaultKindSection::Bandwidth => &["rate_mbps", "queue_kb"],
            FaultKindSection::PoisonPill => &["restart_time"],
            FaultKindSection::TaskKill => &["grace"],
            FaultKindSection::Gray => &["error_percent", "slow_percent", "latency", "jitter"],
            _ => &[],
        };
        for (key, span) in options {
            if let Some(span) = span.filter(|_| !own.contains(&key)) {
                self.err(span.clone(), format!("{path}.{key}"), format!("{name} faults have no {key}"))
                    .hint(format!("{key} belongs to {}", owner_of(key)));
            }
        }
        let required = |this: &mut Self, key: &str, hint: &str| {
            this.err(section.span.clone(), format!("{path}.{key}"), format!("{name} faults need {key}")).hint(hint);
        };
        let percent = |this: &mut Self, v: &Option<Loc<f64>>, key: &str, default: f64| match v {
            Some(p) if !(0.0..=100.0).contains(&p.value) => {
                let message = format!("{key} must be from 0 to 100, not {}", p.value);
                this.err(p.span.clone(), format!("{path}.{key}"), message);
                default
            }
            Some(p) => p.value / 100.0,
            None => default,
        };
        match fault.kind {
            FaultKindSection::Outage => FaultKind::Outage,
            FaultKindSection::Partition => FaultKind::Partition,
            FaultKindSection::Bandwidth => {
                let bits_per_s = match &fault.rate_mbps {
                    Some(r) if r.value > 0.0 && r.value <= 1e6 => (r.value * 1e6).round().max(1.0) as u64,
                    Some(r) => {
                        let message = format!("rate_mbps must be above 0 and at most 1,000,000, not {}", r.value);
                        self.err(r.span.clone(), format!("{path}.rate_mbps"), message)
                            .hint("10 is ten megabits a second: a 1,000-byte answer takes 0.8 ms to send");
                        1
                    }
                    None => {
                        required(self, "rate_mbps", "rate_mbps = 10 is ten megabits a second");
                        1
                    }
                };
                let queue_bytes = match &fault.queue_kb {
                    Some(q) if q.value == 0 || q.value > 1_000_000 => {
                        let message = format!("queue_kb must be from 1 to 1,000,000, not {}", q.value);
                        self.err(q.span.clone(), format!("{path}.queue_kb"), message);
                        1_000_000
                    }
                    Some(q) => q.value * 1000,
                    None => 1_000_000,
                };
                FaultKind::Bandwidth { bits_per_s, queue_bytes }
            }
            FaultKindSection::AzPowerInterruption => {
                if !zone_target {
                    self.err(section.span.clone(), format!("{path}.zone"), "a power interruption is a zone's")
                        .hint("aim it at a zone: zone = \"use1-az1\"");
                }
                FaultKind::PowerInterruption
            }
            FaultKindSection::CrossZoneSlowdown => {
                if let Some(f) = fault.flows_percent.as_ref().filter(|f| !(1..=100).contains(&f.value)) {
                    let message = format!("flows_percent must be from 1 to 100, not {}", f.value);
                    self.err(f.span.clone(), format!("{path}.flows_percent"), message);
                }
                let p = percent(self, &fault.loss_percent, "loss_percent", 0.15);
                FaultKind::PacketLoss(PacketLoss::new(p))
            }
            FaultKindSection::Gray => {
                let error_p = percent(self, &fault.error_percent, "error_percent", 0.0);
                let delay_ns = fault.latency.as_ref().map_or(0, |l| l.value.ns());
                let jitter_ns = fault.jitter.as_ref().map_or(0, |j| j.value.ns());
                let slowed = delay_ns > 0 || jitter_ns > 0;
                let slow_p = percent(self, &fault.slow_percent, "slow_percent", if slowed { 1.0 } else { 0.0 });
                if error_p == 0.0 && (slow_p == 0.0 || !slowed) {
                    required(self, "error_percent", "error_percent = 5 fails one job in twenty; latency = \"200ms\" with slow_percent = 10 delays one answer in ten");
                }
                FaultKind::Gray { error_p, slow_p, delay_ns, jitter_ns }
            }
            FaultKindSection::Reject => FaultKind::Reject,
            FaultKindSection::Blackhole => FaultKind::Blackhole,
            FaultKindSection::Unavailable => FaultKind::Unavailable,
            FaultKindSection::Terminate => FaultKind::Crash(Crash::Terminate),
            FaultKindSection::Stop => FaultKind::Crash(Crash::Stop),
            FaultKindSection::Reboot => FaultKind::Crash(Crash::Reboot),
            FaultKindSection::TaskKill => {
                let grace_ns = fault.grace.as_ref().map_or(30 * cellsim_sim::NS_PER_S, |g| g.value.ns());
                let length = match (&fault.start, &fault.duration) {
                    (Some(s), Some(d)) => d.value.ns().min(u64::MAX - s.value.ns()),
                    _ => u64::MAX,
                };
                if let Some(g) = fault.grace.as_ref().filter(|_| grace_ns >= length) {
                    let message = format!(
                        "the grace ({}) must end before the fault does ({})",
                        cellsim_sim::format_ns(grace_ns),
                        cellsim_sim::format_ns(length)
                    );
                    self.err(g.span.clone(), format!("{path}.grace"), message)
                        .hint("duration is how long the task is gone, its grace included");
                }
                FaultKind::TaskKill { grace_ns }
            }
            FaultKindSection::PoisonPill => {
                let restart_ns = fault.restart_time.as_ref().map_or(30 * cellsim_sim::NS_PER_S, |r| r.value.ns());
                FaultKind::PoisonPill { restart_ns }
            }
            FaultKindSection::CpuStress => {
                let load = match &fault.load_percent {
                    Some(l) if (0.0..=99.0).contains(&l.value) => l.value,
                    Some(l) => {
                        let message = format!("load_percent must be from 0 to 99, not {}", l.value);
                        self.err(l.span.clone(), format!("{path}.load_percent"), message)
                            .hint("80 leaves the service a fifth of its CPU: work takes 5 times as long");
                        0.0
                    }
                    None => {
                        required(self, "load_percent", "load_percent = 80 leaves the service a fifth of its CPU");
                        0.0
                    }
                };
                FaultKind::CpuStress(CpuStress::new(load))
            }
            FaultKindSection::InsufficientCapacity => {
                if !zone_target {
                    self.err(section.span.clone(), format!("{path}.zone"), "insufficient capacity is a zone's")
                        .hint("aim it at a zone: zone = \"use1-az1\"; launches there fail while it lasts");
                }
                FaultKind::InsufficientCapacity
            }
            FaultKindSection::NetworkLatency => {
                let delay_ns = fault.latency.as_ref().map(|l| l.value.ns());
                let jitter_ns = fault.jitter.as_ref().map_or(0, |j| j.value.ns());
                match delay_ns {
                    Some(d) if d == 0 && jitter_ns == 0 => {
                        let span = fault.latency.as_ref().map(|l| l.span.clone()).unwrap_or_default();
                        self.err(span, format!("{path}.latency"), "the added latency is 0: the fault would do nothing")
                            .hint("latency = \"100ms\", and jitter = \"20ms\" for a spread");
                    }
                    Some(_) => {}
                    None => required(self, "latency", "latency = \"100ms\" delays every answer by 100 ms"),
                }
                FaultKind::NetworkLatency { delay_ns: delay_ns.unwrap_or(0), jitter_ns }
            }
            FaultKindSection::PacketLoss => {
                let p = match &fault.loss_percent {
                    Some(l) if l.value > 0.0 && l.value <= 100.0 => l.value / 100.0,
                    Some(l) => {
                        let message = format!("loss_percent must be above 0 and at most 100, not {}", l.value);
                        self.err(l.span.clone(), format!("{path}.loss_percent"), message)
                            .hint("AWS FIS injects 7 by default; 100 loses every answer, as a blackhole");
                        0.0
                    }
                    None => {
                        required(self, "loss_percent", "loss_percent = 7 is AWS FIS's default");
                        0.0
                    }
                };
                FaultKind::PacketLoss(PacketLoss::new(p))
            }
        }
    }

    /// When a fault acts: its window `[start, start + duration)`, or, for random failures
    /// (`mtbf` and `mttr`), the whole run and the two distributions.
    fn when(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        duration_ns: Nanos,
    ) -> (Nanos, Nanos, Option<(Dist, Dist)>) {
        let fault = &section.value;
        let hint = "give start and duration (a window), or mtbf and mttr (random failures and repairs)";
        match (&fault.start, &fault.duration, &fault.mtbf, &fault.mttr) {
            // A terminated instance stays down: its window runs to the end.
            (Some(start), None, None, None) if fault.kind == FaultKindSection::Terminate => {
                if start.value.ns() >= duration_ns {
                    self.err(start.span.clone(), format!("{path}.start"), "the fault starts after the scenario ends")
                        .hint(format!("[scenario] duration is {}", cellsim_sim::format_ns(duration_ns)));
                }
                (start.value.ns(), duration_ns.max(start.value.ns() + 1), None)
            }
            (_, Some(d), _, _) if fault.kind == FaultKindSection::Terminate => {
                self.err(d.span.clone(), format!("{path}.duration"), "a terminated instance does not come back")
                    .hint("leave duration out, or use kind = \"stop\" for instances down for a while");
                (0, 1, None)
            }
            (Some(start), Some(duration), None, None) => {
                let (s, d) = (start.value.ns(), duration.value.ns());
                if d == 0 {
                    self.err(duration.span.clone(), format!("{path}.duration"), "a fault's duration must be above 0");
                }
                if s >= duration_ns {
                    self.err(start.span.clone(), format!("{path}.start"), "the fault starts after the scenario ends")
                        .hint(format!("[scenario] duration is {}", cellsim_sim::format_ns(duration_ns)));
                }
                (s, s.saturating_add(d), None)
            }
            (None, None, Some(mtbf), Some(mttr)) => {
                let to_failure = self.dist(mtbf, &format!("{path}.mtbf"));
                let to_repair = self.dist(mttr, &format!("{path}.mttr"));
                // Transitions are not events: bounded here, by their means.
                for (d, key, span) in [(&to_failure, "mtbf", &mtbf.span), (&to_repair, "mttr", &mttr.span)] {
                    if d.mean_ns() < cellsim_sim::NS_PER_MS as f64 {
                        self.err(span.clone(), format!("{path}.{key}"), format!("{key}'s mean must be at least 1ms"))
                            .hint("failures faster than that are noise: a service's error_probability models them");
                    }
                }
                (0, duration_ns, Some((to_failure, to_repair)))
            }
            (_, _, Some(m), _) | (_, _, _, Some(m)) if fault.start.is_some() || fault.duration.is_some() => {
                self.err(m.span.clone(), format!("{path}.mtbf"), "a fault has a window or random failures, not both")
                    .hint(hint);
                (0, 1, None)
            }
            (_, _, Some(m), None) | (_, _, None, Some(m)) => {
                self.err(m.span.clone(), format!("{path}.mttr"), "random failures need both mtbf and mttr").hint(hint);
                (0, 1, None)
            }
            _ => {
                self.err(section.span.clone(), format!("{path}.start"), "the fault has no window").hint(hint);
                (0, 1, None)
            }
        }
    }

    /// What a fault aims at: exactly one of `service` (with `instances`, its first ones),
    /// `cell`, `zone` and `region` (every instance placed there).
    fn target(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        service_ids: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        layout: Option<&Layout>,
    ) -> FaultTarget {
        let fault = &section.value;
        let given: Vec<(&str, &Loc<String>)> =
            [("service", &fault.service), ("cell", &fault.cell), ("zone", &fault.zone), ("region", &fault.region)]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
                .collect();
        let hint =
            "aim it with one of service = \"api\", cell = \"cell-3\", zone = \"use1-az1\" or region = \"us-east-1\"";
        let (key, name) = match given.as_slice() {
            [one] => *one,
            [] => {
                self.err(section.span.clone(), path, "the fault has no target").hint(hint);
                return FaultTarget { what: String::new(), instances: Vec::new(), zone: None, pick: Pick::All };
            }
            [_, (second, v), ..] => {
                self.err(v.span.clone(), format!("{path}.{second}"), "a fault has one target").hint(hint);
                given[0]
            }
        };
        if key != "service" {
            if let Some(c) = &fault.instances {
                self.err(
                    c.span.clone(),
                    format!("{path}.instances"),
                    format!("a {key} fault hits every instance placed there"),
                )
                .hint("to hit some of them, count = 2 or percent = 25 picks them at random");
            }
        }
        let field = format!("{path}.{key}");
        if key == "service" && layout.is_none() {
            let service = self.resolve("service", name, service_ids, field);
            let n = services.get(service as usize).map_or(1, |s| s.instances);
            let count = match &fault.instances {
                Some(c) if c.value == 0 || c.value > n => {
                    let message = format!("instances must be from 1 to the service's {n}, not {}", c.value);
                    self.err(c.span.clone(), format!("{path}.instances"), message);
                    n
                }
                Some(c) => c.value,
                None => n,
            };
            return FaultTarget::service(&name.value, service, count);
        }
        let (mut instances, zone) = self.place(key, name, field, service_ids, services, layout);
        if key == "service" {
            if let Some(c) = &fault.instances {
                if c.value == 0 || c.value as usize > instances.len() {
                    let message =
                        format!("instances must be from 1 to the service's {}, not {}", instances.len(), c.value);
                    self.err(c.span.clone(), format!("{path}.instances"), message);
                } else {
                    instances.truncate(c.value as usize);
                }
            }
        }
        FaultTarget { what: format!("{key} {}", name.value), instances, zone, pick: Pick::All }
    }

    /// The instances a place names (a `service`, `cell`, `zone` or `region` called `name`),
    /// in service then instance order, and the zone's id for a zone.
    fn place(
        &mut self,
        key: &str,
        name: &Loc<String>,
        field: String,
        service_ids: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        layout: Option<&Layout>,
    ) -> (Vec<(u32, u32)>, Option<u16>) {
        let placed = |hit: &dyn Fn(u32, u16) -> bool| -> Vec<(u32, u32)> {
            let mut out = Vec::new();
            for (s, svc) in services.iter().enumerate() {
                for i in 0..svc.instances {
                    let z = svc.zones.get(i as usize).copied().unwrap_or(0);
                    if hit(s as u32, z) {
                        out.push((s as u32, i));
                    }
                }
            }
            out
        };
        if key == "service" {
            let service = self.resolve("service", name, service_ids, field);
            return (placed(&|s, _| s == service), None);
        }
        let Some(layout) = layout else {
            self.err(name.span.clone(), field, format!("the scenario has no {key}s: it declares no [[region]]"))
                .hint("declare regions, zones and cells first; docs/scenario-format.md, Topology");
            return (Vec::new(), None);
        };
        let to_u32 =
            |m: &BTreeMap<String, u16>| m.iter().map(|(k, &v)| (k.clone(), v as u32)).collect::<BTreeMap<_, _>>();
        match key {
            "cell" => {
                let k = self.resolve("cell", name, &to_u32(&layout.cell_ids), field) as u16;
                (placed(&|s, _| services[s as usize].cell == Some(k)), None)
            }
            "zone" => {
                let zone = self.resolve("zone", name, &to_u32(&layout.zone_ids), field) as u16;
                (placed(&|_, z| z == zone), Some(zone))
            }
            _ => {
                let region = self.resolve("region", name, &to_u32(&layout.region_ids), field) as u16;
                let zones = &layout.topology.zones;
                // (Zones may be missing when a region declares none: an error already.)
                (placed(&|_, z| zones.get(z as usize).is_some_and(|zone| zone.region == region)), None)
            }
        }
    }

    /// The target's instances sub-selected by `count` or `percent` (chosen at random when the
    /// run starts), and an error when it hits nothing, unless `if_empty = "skip"`.
    fn pick(&mut self, section: &Loc<FaultSection>, path: &str, kind: FaultKindSection, target: &mut FaultTarget) {
        let fault = &section.value;
        let n = target.instances.len() as u32;
        let hint = "count = 2 hits two instances chosen at random, percent = 25 a quarter of them (rounded up)";
        target.pick = match (&fault.count, &fault.percent, &fault.instances) {
            (Some(_), Some(p), _) | (Some(_), _, Some(p)) | (None, Some(_), Some(p)) => {
                let other =
                    if fault.percent.as_ref().is_some_and(|x| x.span == p.span) { "percent" } else { "instances" };
                self.err(p.span.clone(), format!("{path}.{other}"), "a fault picks its instances one way")
                    .hint("instances = N (the first N), count = N or percent = P (chosen at random)");
                Pick::All
            }
            (Some(c), None, None) if c.value == 0 || (c.value > n && n > 0) => {
                let message = format!("count must be from 1 to the target's {n} instances, not {}", c.value);
                self.err(c.span.clone(), format!("{path}.count"), message).hint(hint);
                Pick::All
            }
            (Some(c), None, None) => Pick::Count(c.value),
            (None, Some(p), None) if !(1..=100).contains(&p.value) => {
                let message = format!("percent must be from 1 to 100, not {}", p.value);
                self.err(p.span.clone(), format!("{path}.percent"), message).hint(hint);
                Pick::All
            }
            (None, Some(p), None) => Pick::Percent(p.value),
            (None, None, _) => Pick::All,
        };
        // Insufficient capacity acts on launches in its zone, not on the instances there.
        let empty = n == 0 && kind != FaultKindSection::InsufficientCapacity && !target.what.is_empty();
        if empty && fault.if_empty != Some(IfEmpty::Skip) {
            self.err(section.span.clone(), path, format!("the fault's target, {}, has no instances", target.what))
                .hint("aim it where instances are placed, or set if_empty = \"skip\" to let it do nothing (AWS FIS's emptyTargetResolutionMode)");
        }
    }
}

impl Checker<'_> {
    /// `[analysis]`: the impairment rule's thresholds and the SLO, each in its range.
    pub(super) fn analysis(&mut self, section: &Loc<AnalysisSection>) -> AnalysisSpec {
        let a = &section.value;
        let d = AnalysisSpec::default();
        let mut real = |v: &Option<Loc<f64>>, key: &str, lo: f64, hi: f64, default: f64| match v {
            Some(v) if !(lo..=hi).contains(&v.value) => {
                self.err(
                    v.span.clone(),
                    format!("analysis.{key}"),
                    format!("{key} must be from {lo} to {hi}, not {}", v.value),
                )
                .hint(format!("leave it out for the default, {default}"));
                default
            }
            Some(v) => v.value,
            None => default,
        };
        let error_rate_points = real(&a.error_rate_points, "error_rate_points", 0.0, 100.0, d.error_rate_points);
        let error_rate_factor = real(&a.error_rate_factor, "error_rate_factor", 1.0, 1000.0, d.error_rate_factor);
        let p99_factor = real(&a.p99_factor, "p99_factor", 1.0, 1000.0, d.p99_factor);
        let mut count = |v: Option<u64>, span, key: &str, max: u64, default: u64| match v {
            Some(v) if v == 0 || v > max => {
                let message = format!("{key} must be from 1 to {}", crate::group_digits(max));
                self.err(span, format!("analysis.{key}"), message)
                    .hint(format!("leave it out for the default, {default}"));
                default
            }
            Some(v) => v,
            None => default,
        };
        let span_of = |v: &Option<Loc<u64>>| v.as_ref().map_or(0..0, |v| v.span.clone());
        let min_jobs =
            count(a.min_jobs.as_ref().map(|v| v.value), span_of(&a.min_jobs), "min_jobs", 1_000_000_000, d.min_jobs);
        let recovered_span = a.recovered_buckets.as_ref().map_or(0..0, |v| v.span.clone());
        let recovered_buckets = count(
            a.recovered_buckets.as_ref().map(|v| v.value as u64),
            recovered_span,
            "recovered_buckets",
            1000,
            d.recovered_buckets as u64,
        ) as u32;
        let slo_ns = a.slo_latency.as_ref().map(|s| {
            if s.value.ns() == 0 {
                self.err(s.span.clone(), "analysis.slo_latency", "slo_latency must be above 0")
                    .hint("the latency a successful request must beat, such as \"300ms\"");
            }
            s.value.ns()
        });
        AnalysisSpec {
            baseline: a.baseline.unwrap_or(d.baseline),
            min_jobs,
            error_rate_points,
            error_rate_factor,
            p99_factor,
            recovered_buckets,
            slo_ns,
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

/// A link fault's share of flows, in percent (checked with the link; 100 by default).
fn fault_flows(f: &FaultSection) -> u32 {
    f.flows_percent.as_ref().map_or(100, |p| p.value.clamp(1, 100))
}

/// A kind's name in the format.
fn kind_name(kind: FaultKindSection) -> &'static str {
    match kind {
        FaultKindSection::Outage => "outage",
        FaultKindSection::CpuStress => "cpu-stress",
        FaultKindSection::InsufficientCapacity => "insufficient-capacity",
        FaultKindSection::Reject => "reject",
        FaultKindSection::Blackhole => "blackhole",
        FaultKindSection::Unavailable => "unavailable",
        FaultKindSection::NetworkLatency => "network-latency",
        FaultKindSection::PacketLoss => "packet-loss",
        FaultKindSection::Terminate => "terminate",
        FaultKindSection::Stop => "stop",
        FaultKindSection::Reboot => "reboot",
        FaultKindSection::PoisonPill => "poison-pill",
        FaultKindSection::Partition => "partition",
        FaultKindSection::AzPowerInterruption => "az-power-interruption",
        FaultKindSection::CrossZoneSlowdown => "cross-zone-slowdown",
        FaultKindSection::Gray => "gray",
        FaultKindSection::Bandwidth => "bandwidth",
        FaultKindSection::TaskKill => "task-kill",
    }
}

/// The kind an option belongs to, for hints.
fn owner_of(key: &str) -> &'static str {
    match key {
        "load_percent" => "kind = \"cpu-stress\"",
        "loss_percent" => "kind = \"packet-loss\"",
        "restart_time" => "kind = \"poison-pill\"",
        "flows_percent" => "a link fault (from, to)",
        "error_percent" | "slow_percent" => "kind = \"gray\"",
        "rate_mbps" | "queue_kb" => "kind = \"bandwidth\"",
        "grace" => "kind = \"task-kill\"",
        _ => "kind = \"network-latency\"",
    }
}

/// The span from the earliest start to the latest end of `trigger` and `[start, end)`.
fn widen(trigger: Option<Window>, start: Nanos, end: Nanos) -> Window {
    match trigger {
        Some(t) => Window { start_ns: t.start_ns.min(start), end_ns: t.end_ns.max(end) },
        None => Window { start_ns: start, end_ns: end },
    }
}
