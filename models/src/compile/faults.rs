//! `[[fault]]`: each fault's target, window, instances and kind, and the trigger window that
//! spans them all.

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
        duration_ns: Nanos,
    ) -> (Vec<FaultSpec>, Option<Window>) {
        let mut trigger: Option<Window> = None;
        let mut faults = Vec::new();
        for (i, fault) in sections.iter().enumerate() {
            let f = self.fault(&fault.value, &format!("fault[{i}]"), service_ids, services, duration_ns);
            trigger = Some(widen(trigger, f.window.start_ns, f.window.end_ns));
            faults.push(f);
        }
        (faults, trigger)
    }

    fn fault(
        &mut self,
        fault: &FaultSection,
        path: &str,
        service_ids: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        duration_ns: Nanos,
    ) -> FaultSpec {
        let service = self.resolve("service", &fault.service, service_ids, format!("{path}.service"));
        let start = fault.start.value.ns();
        let end = start.saturating_add(fault.duration.value.ns());
        if fault.duration.value.ns() == 0 {
            self.err(fault.duration.span.clone(), format!("{path}.duration"), "a fault's duration must be above 0");
        }
        if start >= duration_ns {
            self.err(fault.start.span.clone(), format!("{path}.start"), "the fault starts after the scenario ends")
                .hint(format!("[scenario] duration is {}", cellsim_sim::format_ns(duration_ns)));
        }
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
            (FaultKindSection::CpuStress, None) => {
                self.err(fault.service.span.clone(), field, "a cpu-stress fault needs load_percent")
                    .hint("load_percent = 80 leaves the service a fifth of its CPU");
                FaultKind::CpuStress(CpuStress::new(0.0))
            }
        };
        FaultSpec {
            kind,
            target: FaultTarget { service, instances: count },
            window: Window { start_ns: start, end_ns: end },
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
