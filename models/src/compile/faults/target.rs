//! What a fault aims at: a service, cell, zone or region and a pick of its instances
//! (`instances`, `count`, `percent`, `if_empty`); a link's two sides; a cross-zone
//! slowdown's; a poison pill's customers.

use super::super::topology::Layout;
use super::super::Checker;
use super::kind::kind_name;
use super::FaultContext;
use crate::faults::{FaultTarget, Link, Pick};
use crate::scenario::{Direction, FaultKind as FaultKindSection, FaultSection, IfEmpty};
use crate::spec::ServiceSpec;
use crate::units::Loc;
use std::collections::BTreeMap;

impl Checker<'_> {
    /// What a fault aims at: exactly one of `service` (with `instances`, its first ones),
    /// `cell`, `zone` and `region` (every instance placed there).
    pub(super) fn target(
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
    pub(super) fn place(
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
    pub(super) fn pick(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        kind: FaultKindSection,
        target: &mut FaultTarget,
    ) {
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

    /// A link fault's sides (`from`, and `to`, by default everything else), direction and
    /// share of flows; the target is the `from` side.
    pub(super) fn link(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        cx: &FaultContext,
    ) -> (FaultTarget, Option<Link>) {
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
    pub(super) fn side(
        &mut self,
        text: &Loc<String>,
        field: &str,
        cx: &FaultContext,
    ) -> Option<(String, Vec<(u32, u32)>)> {
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
    pub(super) fn cross_zone(
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

    /// A poison pill's customers, as global ids: `customers` of `workload` (the first
    /// workload's when the scenario has one population); other kinds have none.
    pub(super) fn poisoned_customers(
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

/// A link fault's share of flows, in percent (checked with the link; 100 by default).
fn fault_flows(f: &FaultSection) -> u32 {
    f.flows_percent.as_ref().map_or(100, |p| p.value.clamp(1, 100))
}
