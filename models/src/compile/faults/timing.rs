//! When a fault acts: its window, or random failures (`mtbf`, `mttr`); its repetitions
//! (`every`, `times`), its ramp, and Chaos Monkey's calendar.

use super::super::Checker;
use super::kind::kind_name;
use crate::dist::Dist;
use crate::faults::catalogue::{ChaosMonkey, Repeat};
use crate::scenario::{ChaosMonkeySection, FaultKind as FaultKindSection, FaultSection};
use crate::units::Loc;
use cellsim_sim::Nanos;

/// A database failover's time when the scenario gives none: 30 s (Aurora with a replica:
/// "often less than 30 seconds").
pub(super) const DEFAULT_FAILOVER_NS: Nanos = 30 * cellsim_sim::NS_PER_S;

impl Checker<'_> {
    /// When a fault acts: its window `[start, start + duration)`, or, for random failures
    /// (`mtbf` and `mttr`), the whole run and the two distributions.
    pub(super) fn when(
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
            // A failover lasts its failover time, drawn per run: the window holds its mean.
            (Some(start), None, None, None) if fault.kind == FaultKindSection::DbFailover => {
                let mean_ns = match &fault.failover_time {
                    Some(d) => self.dist(d, &format!("{path}.failover_time")).mean_ns().round() as Nanos,
                    None => DEFAULT_FAILOVER_NS,
                };
                if start.value.ns() >= duration_ns {
                    self.err(start.span.clone(), format!("{path}.start"), "the fault starts after the scenario ends")
                        .hint(format!("[scenario] duration is {}", cellsim_sim::format_ns(duration_ns)));
                }
                (start.value.ns(), start.value.ns().saturating_add(mean_ns.max(1)), None)
            }
            // A deployment stays until its rollback, or the end of the run, or `duration`.
            (Some(start), None, None, None) if fault.kind == FaultKindSection::Deployment => {
                if start.value.ns() >= duration_ns {
                    self.err(start.span.clone(), format!("{path}.start"), "the fault starts after the scenario ends")
                        .hint(format!("[scenario] duration is {}", cellsim_sim::format_ns(duration_ns)));
                }
                (start.value.ns(), duration_ns.max(start.value.ns() + 1), None)
            }
            (_, Some(d), _, _) if fault.kind == FaultKindSection::DbFailover => {
                self.err(d.span.clone(), format!("{path}.duration"), "a failover lasts its failover_time")
                    .hint("failover_time = { dist = \"uniform\", min = \"20s\", max = \"40s\" } draws it per run (default 30 s)");
                (0, 1, None)
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

    /// `every` and `times`: the fault acts again every `every` from its start, `times` times
    /// in all (by default as many as start before the run's end).
    pub(super) fn fault_repeat(
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
        if fault.kind == FaultKindSection::Deployment {
            self.err(every.span.clone(), format!("{path}.every"), "a deployment rolls out once")
                .hint("its waves are its steps: waves = [1, 2, 5] with bake = \"10m\"; declare another deployment for another change");
            return None;
        }
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
    pub(super) fn ramp(&mut self, section: &Loc<FaultSection>, path: &str, length: Nanos) -> Nanos {
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

    /// `chaos_monkey`: kills on Netflix Chaos Monkey's calendar, for `terminate`, `stop` and
    /// `reboot` (down for `duration`); the calendar picks the times, so no `start`.
    pub(super) fn monkey(
        &mut self,
        section: &Loc<FaultSection>,
        m: &Loc<ChaosMonkeySection>,
        path: &str,
    ) -> ChaosMonkey {
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
}
