//! `[[fault]]`: each fault's target, window, instances and kind, and the trigger window that
//! spans them all.

use super::topology::Layout;
use super::Checker;
use crate::faults::{CpuStress, FaultKind, FaultTarget};
use crate::scenario::{FaultKind as FaultKindSection, FaultSection};
use crate::spec::{FaultSpec, ServiceSpec, Window};
use crate::units::Loc;
use cellsim_sim::Nanos;
use std::collections::BTreeMap;

impl Checker<'_> {
    /// The faults, in the file's order, and the window from the first start to the last end
    /// (none without faults).
    pub(super) fn faults(
        &mut self,
        sections: &[Loc<FaultSection>],
        service_ids: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        layout: Option<&Layout>,
        duration_ns: Nanos,
    ) -> (Vec<FaultSpec>, Option<Window>) {
        let mut trigger: Option<Window> = None;
        let mut faults = Vec::new();
        for (i, fault) in sections.iter().enumerate() {
            let f = self.fault(fault, &format!("fault[{i}]"), service_ids, services, layout, duration_ns);
            trigger = Some(widen(trigger, f.window.start_ns, f.window.end_ns));
            faults.push(f);
        }
        (faults, trigger)
    }

    fn fault(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        service_ids: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        layout: Option<&Layout>,
        duration_ns: Nanos,
    ) -> FaultSpec {
        let fault = &section.value;
        let start = fault.start.value.ns();
        let end = start.saturating_add(fault.duration.value.ns());
        if fault.duration.value.ns() == 0 {
            self.err(fault.duration.span.clone(), format!("{path}.duration"), "a fault's duration must be above 0");
        }
        if start >= duration_ns {
            self.err(fault.start.span.clone(), format!("{path}.start"), "the fault starts after the scenario ends")
                .hint(format!("[scenario] duration is {}", cellsim_sim::format_ns(duration_ns)));
        }
        let target = self.target(section, path, service_ids, services, layout);
        let field = format!("{path}.load_percent");
        let kind = match (fault.kind, &fault.load_percent) {
            (FaultKindSection::Outage, load) => {
                if let Some(l) = load {
                    self.err(l.span.clone(), field, "an outage has no load_percent");
                }
                FaultKind::Outage
            }
            (FaultKindSection::CpuStress, Some(l)) if (0.0..=99.0).contains(&l.value) => {
                FaultKind::CpuStress(CpuStress::new(l.value))
            }
            (FaultKindSection::CpuStress, Some(l)) => {
                self.err(l.span.clone(), field, format!("load_percent must be from 0 to 99, not {}", l.value))
                    .hint("80 leaves the service a fifth of its CPU: work takes 5 times as long");
                FaultKind::CpuStress(CpuStress::new(0.0))
            }
            (FaultKindSection::InsufficientCapacity, load) => {
                if let Some(l) = load {
                    self.err(l.span.clone(), field, "insufficient-capacity has no load_percent");
                }
                if target.zone.is_none() {
                    self.err(section.span.clone(), format!("{path}.zone"), "insufficient capacity is a zone's")
                        .hint("aim it at a zone: zone = \"use1-az1\"; launches there fail while it lasts");
                }
                FaultKind::InsufficientCapacity
            }
            (FaultKindSection::CpuStress, None) => {
                self.err(section.span.clone(), field, "a cpu-stress fault needs load_percent")
                    .hint("load_percent = 80 leaves the service a fifth of its CPU");
                FaultKind::CpuStress(CpuStress::new(0.0))
            }
        };
        FaultSpec { kind, target, window: Window { start_ns: start, end_ns: end } }
    }
}

impl Checker<'_> {
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
                return FaultTarget { what: String::new(), instances: Vec::new(), zone: None };
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
                .hint("to hit some instances, aim at a service: service = \"cell-3/api\", instances = 2");
            }
        }
        let field = format!("{path}.{key}");
        let Some(layout) = layout.filter(|_| key != "service") else {
            if key != "service" {
                self.err(name.span.clone(), field, format!("the scenario has no {key}s: it declares no [[region]]"))
                    .hint("declare regions, zones and cells first; docs/scenario-format.md, Topology");
                return FaultTarget { what: String::new(), instances: Vec::new(), zone: None };
            }
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
        };
        let placed = |hit: &dyn Fn(u32, u16) -> bool| -> Vec<(u32, u32)> {
            let mut out = Vec::new();
            for (s, svc) in services.iter().enumerate() {
                for (i, &z) in svc.zones.iter().enumerate() {
                    if hit(s as u32, z) {
                        out.push((s as u32, i as u32));
                    }
                }
            }
            out
        };
        let to_u32 =
            |m: &BTreeMap<String, u16>| m.iter().map(|(k, &v)| (k.clone(), v as u32)).collect::<BTreeMap<_, _>>();
        let mut zone_id = None;
        let instances = match key {
            "cell" => {
                let k = self.resolve("cell", name, &to_u32(&layout.cell_ids), field) as u16;
                placed(&|s, _| services[s as usize].cell == Some(k))
            }
            "zone" => {
                let zone = self.resolve("zone", name, &to_u32(&layout.zone_ids), field) as u16;
                zone_id = Some(zone);
                placed(&|_, z| z == zone)
            }
            _ => {
                let region = self.resolve("region", name, &to_u32(&layout.region_ids), field) as u16;
                let zones = &layout.topology.zones;
                // (Zones may be missing when a region declares none: an error already.)
                placed(&|_, z| zones.get(z as usize).is_some_and(|zone| zone.region == region))
            }
        };
        FaultTarget { what: format!("{key} {}", name.value), instances, zone: zone_id }
    }
}

/// The span from the earliest start to the latest end of `trigger` and `[start, end)`.
fn widen(trigger: Option<Window>, start: Nanos, end: Nanos) -> Window {
    match trigger {
        Some(t) => Window { start_ns: t.start_ns.min(start), end_ns: t.end_ns.max(end) },
        None => Window { start_ns: start, end_ns: end },
    }
}
