//! A deployment's target (a template's copies in every cell, or a plain service), its waves
//! of units, and what its new version does, each checked.

use super::super::Checker;
use crate::faults::catalogue::{Deployment, FaultTarget, Pick};
use crate::scenario::FaultSection;
use crate::spec::ServiceSpec;
use crate::units::Loc;
use cellsim_sim::{Nanos, NS_PER_S};

impl Checker<'_> {
    /// A deployment aimed at a template's name: its copies in every cell (and the fallback
    /// cell), in service order; `None` when the name is not a template's.
    pub(super) fn template_target(&self, name: &str, services: &[ServiceSpec]) -> Option<FaultTarget> {
        let copies: Vec<u32> = (0..services.len() as u32)
            .filter(|&s| {
                let svc = &services[s as usize];
                svc.cell.is_some() && svc.name.split_once('/').is_some_and(|(_, t)| t == name)
            })
            .collect();
        (!copies.is_empty()).then(|| FaultTarget {
            what: format!("service {name} in every cell"),
            instances: copies.iter().flat_map(|&s| (0..services[s as usize].instances).map(move |i| (s, i))).collect(),
            zone: None,
            pick: Pick::All,
        })
    }

    /// The deployment's plan: units (the cells of a template's copies, or the instances of a
    /// plain service), waves of them in order, and what the new version does.
    pub(super) fn deployment(
        &mut self,
        section: &Loc<FaultSection>,
        path: &str,
        target: &FaultTarget,
        services: &[ServiceSpec],
    ) -> Deployment {
        let fault = &section.value;
        let template = target.what.ends_with(" in every cell");
        // Units, in order of first appearance among the target's instances.
        let mut unit_keys: std::collections::BTreeMap<(u32, u32), u32> = std::collections::BTreeMap::new();
        let mut units = Vec::with_capacity(target.instances.len());
        for &(s, i) in &target.instances {
            let cell = services.get(s as usize).and_then(|svc| svc.cell).map_or(u32::MAX, u32::from);
            let key = if template { (cell, 0) } else { (s, i) };
            let next = unit_keys.len() as u32;
            units.push(*unit_keys.entry(key).or_insert(next));
        }
        let mut unit_sizes = vec![0u32; unit_keys.len()];
        let units: Vec<(u32, u32)> = units
            .into_iter()
            .map(|u| {
                unit_sizes[u as usize] += 1;
                (u, unit_sizes[u as usize] - 1)
            })
            .collect();
        let n = unit_keys.len() as u32;
        let what = if template { "cells" } else { "instances" };
        let waves: Vec<Vec<u32>> = match &fault.waves {
            None => vec![(0..n).collect()],
            Some(w) => {
                let total: u64 = w.value.iter().map(|&k| k as u64).sum();
                if w.value.is_empty() || w.value.contains(&0) || total > n as u64 {
                    let message = format!(
                        "waves must each take at least one of the {n} {what}, {} in all at most, not {:?}",
                        n, w.value
                    );
                    self.err(w.span.clone(), format!("{path}.waves"), message)
                        .hint("waves = [1, 2, 5]: one unit first, then two, then five, in order");
                    vec![(0..n).collect()]
                } else {
                    let mut next = 0u32;
                    w.value
                        .iter()
                        .map(|&k| {
                            let wave = (next..next + k).collect();
                            next += k;
                            wave
                        })
                        .collect()
                }
            }
        };
        let bake_ns = fault.bake.as_ref().map_or(3600 * NS_PER_S, |b| b.value.ns());
        if let Some(b) = fault.bake.as_ref().filter(|b| b.value.ns() == 0) {
            self.err(b.span.clone(), format!("{path}.bake"), "a bake must be above 0")
                .hint("bake = \"10m\": each wave runs ten minutes before the next starts");
        }
        let percent = |this: &mut Self, v: &Option<Loc<f64>>, key: &str| match v {
            Some(p) if !(0.0..=100.0).contains(&p.value) => {
                let message = format!("{key} must be from 0 to 100, not {}", p.value);
                this.err(p.span.clone(), format!("{path}.{key}"), message);
                0.0
            }
            Some(p) => p.value / 100.0,
            None => 0.0,
        };
        let error_p = percent(self, &fault.error_percent, "error_percent");
        let crash_p = percent(self, &fault.crash_percent, "crash_percent");
        let capacity_share = percent(self, &fault.capacity_percent, "capacity_percent");
        let slowdown = match &fault.slowdown {
            Some(s) if !(1.0..=1000.0).contains(&s.value) => {
                let message = format!("slowdown must be from 1 to 1000, not {}", s.value);
                self.err(s.span.clone(), format!("{path}.slowdown"), message)
                    .hint("slowdown = 2: the new version's work takes twice as long");
                1.0
            }
            Some(s) => s.value,
            None => 1.0,
        };
        if slowdown == 1.0 && error_p == 0.0 && crash_p == 0.0 && capacity_share == 0.0 {
            self.err(section.span.clone(), format!("{path}.kind"), "the new version changes nothing")
                .hint("give it slowdown, error_percent, crash_percent or capacity_percent: what the bad version does");
        }
        let alarm = fault.alarm.as_ref().map(|a| self.error_rate_alarm(a, &format!("{path}.alarm")));
        let rollback_ns = fault.rollback.as_ref().map(|r| r.value.ns());
        if let (Some(r), None) = (&fault.rollback, &fault.alarm) {
            self.err(r.span.clone(), format!("{path}.rollback"), "a rollback follows an alarm, and there is none")
                .hint("alarm = { error_rate = 0.02 } halts the rollout when 2% of the service's jobs fail; duration ends the change everywhere");
        }
        let restart_ns: Nanos = fault.restart_time.as_ref().map_or(30 * NS_PER_S, |r| r.value.ns());
        Deployment {
            waves,
            units,
            unit_sizes,
            bake_ns,
            rollback_ns,
            alarm,
            slowdown,
            error_p,
            crash_p,
            restart_ns,
            capacity_share,
        }
    }
}
