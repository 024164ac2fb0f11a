//! `autoscaling` on services and `[zonal_shift]`: the controllers' parameters, checked, with
//! their documented defaults (reference section 4: Kubernetes' HPA, EC2 target tracking, ARC
//! zonal shift and autoshift).

use super::topology::Layout;
use super::Checker;
use crate::control::alarm::{AlarmSpec, Comparison, MAX_EVALUATION_PERIODS};
use crate::control::hpa::HpaSpec;
use crate::control::target_tracking::TargetTrackingSpec;
use crate::control::zonal_shift::ZonalShiftSpec;
use crate::scenario::{AutoscalerKind, AutoscalingSection, ZonalShiftSection};
use crate::spec::{Autoscaler, AutoscalingSpec, ManualShift, ZonalShiftPlan};
use crate::units::{Duration, Loc};
use cellsim_sim::{Nanos, NS_PER_S};

impl Checker<'_> {
    /// A service's autoscaling, and its most instances; `instances` (how many start) must be
    /// within its bounds.
    pub(super) fn autoscaling(
        &mut self,
        a: &Loc<AutoscalingSection>,
        path: &str,
        instances: u32,
    ) -> (AutoscalingSpec, u32) {
        let s = &a.value;
        let path = format!("{path}.autoscaling");
        let (min, max) = (s.min.value, s.max.value);
        if min == 0 || max < min || max > super::service::MAX_INSTANCES {
            let message = format!("min and max must satisfy 1 <= min <= max <= 100000, not {min} and {max}");
            self.err(s.min.span.clone(), format!("{path}.min"), message);
        } else if !(min..=max).contains(&instances) {
            let message = format!("the service starts with {instances} instances, outside min {min} and max {max}");
            self.err(a.span.clone(), format!("{path}.min"), message)
                .hint("`instances` is how many are in service at the start");
        }
        let min = min.clamp(1, super::service::MAX_INSTANCES);
        let max = max.clamp(min, super::service::MAX_INSTANCES);
        let target = s.target_utilisation.value;
        if !(target > 0.0 && target <= 100.0) {
            let message = format!("target_utilisation must be above 0 and at most 100, not {target}");
            self.err(s.target_utilisation.span.clone(), format!("{path}.target_utilisation"), message)
                .hint("a percent of the instances' workers kept busy, e.g. 60");
        }
        let target = target.clamp(1.0, 100.0) / 100.0;
        let secs =
            |d: &Option<Loc<Duration>>, default_s: u64| d.as_ref().map_or(default_s * NS_PER_S, |d| d.value.ns());
        let positive = |me: &mut Self, d: &Option<Loc<Duration>>, key: &str| {
            if let Some(d) = d.as_ref().filter(|d| d.value.ns() == 0) {
                me.err(d.span.clone(), format!("{path}.{key}"), format!("{key} must be above 0"));
            }
        };
        type Keys<'k> = &'k [(&'k str, bool)];
        let (hpa_only, tt_only): (Keys, Keys) = (
            &[
                ("sync_period", s.sync_period.is_some()),
                ("tolerance", s.tolerance.is_some()),
                ("stabilization", s.stabilization.is_some()),
            ],
            &[
                ("period", s.period.is_some()),
                ("warmup", s.warmup.is_some()),
                ("cooldown", s.cooldown.is_some()),
                ("scale_in", s.scale_in.is_some()),
            ],
        );
        let foreign = match s.kind {
            AutoscalerKind::Hpa => (tt_only, "target-tracking"),
            AutoscalerKind::TargetTracking => (hpa_only, "hpa"),
        };
        for (key, given) in foreign.0 {
            if *given {
                self.err(
                    a.span.clone(),
                    format!("{path}.{key}"),
                    format!("`{key}` belongs to kind = \"{}\"", foreign.1),
                );
            }
        }
        let (controller, period_ns, boot_default_s) = match s.kind {
            AutoscalerKind::Hpa => {
                positive(self, &s.sync_period, "sync_period");
                let mut h = HpaSpec::new(target, min, max);
                h.sync_period_ns = secs(&s.sync_period, 15).max(1);
                h.stabilization_down_ns = secs(&s.stabilization, 300);
                if let Some(t) = &s.tolerance {
                    if !(0.0..1.0).contains(&t.value) {
                        let message = format!("tolerance must be from 0 to below 1, not {}", t.value);
                        self.err(t.span.clone(), format!("{path}.tolerance"), message)
                            .hint("Kubernetes' default is 0.1");
                    } else {
                        h.tolerance = t.value;
                    }
                }
                (Autoscaler::Hpa(h), h.sync_period_ns, 30)
            }
            AutoscalerKind::TargetTracking => {
                positive(self, &s.period, "period");
                let mut t = TargetTrackingSpec::new(target, min, max);
                t.period_ns = secs(&s.period, 60).max(1);
                t.warmup_ns = secs(&s.warmup, 300);
                t.scale_in_cooldown_ns = secs(&s.cooldown, 300);
                t.scale_in = s.scale_in.unwrap_or(true);
                (Autoscaler::TargetTracking(t), t.period_ns, 180)
            }
        };
        let boot_ns: Nanos = secs(&s.boot_time, boot_default_s);
        (AutoscalingSpec { controller, period_ns, boot_ns }, max)
    }

    /// `[zonal_shift]`: its drain, its shifts by hand (zones resolved, expiries within ARC's
    /// bounds) and its autoshift alarm.
    pub(super) fn zonal_shift(
        &mut self,
        z: &Loc<ZonalShiftSection>,
        layout: Option<&Layout>,
    ) -> Option<ZonalShiftPlan> {
        let Some(layout) = layout else {
            self.err(
                z.span.clone(),
                "zonal_shift",
                "a zonal shift moves traffic between zones, and the scenario has no [[region]]",
            )
            .hint("declare the zones first: [[region]] name = \"us-east-1\", zones = [...]");
            return None;
        };
        let s = &z.value;
        let mut spec = ZonalShiftSpec::default();
        if let Some(d) = &s.drain {
            spec.drain_ns = d.value.ns();
        }
        let zone_ids = layout.zone_ids.iter().map(|(k, &v)| (k.clone(), v as u32)).collect();
        let mut manual = Vec::new();
        for (i, shift) in s.shifts.iter().enumerate() {
            let path = format!("zonal_shift.shift[{i}]");
            let zone = self.resolve("zone", &shift.value.zone, &zone_ids, format!("{path}.zone")) as u16;
            let expires = shift.value.expires_after.value.ns();
            if !(spec.min_expiry_ns..=spec.max_expiry_ns).contains(&expires) {
                self.err(
                    shift.value.expires_after.span.clone(),
                    format!("{path}.expires_after"),
                    "a zonal shift expires after 1 minute to 72 hours",
                )
                .hint("ARC's bounds; extend a shift by starting another when it ends");
            }
            let start_ns = shift.value.start.value.ns();
            manual.push(ManualShift { zone, start_ns, expires_ns: start_ns.saturating_add(expires) });
        }
        manual.sort_by_key(|m| m.start_ns);
        let auto = s.auto.as_ref().map(|a| self.error_rate_alarm(a, "zonal_shift.auto"));
        Some(ZonalShiftPlan { spec, manual, auto })
    }

    /// An alarm on an error rate (`zonal_shift.auto`, a deployment's `alarm`): its spec and
    /// its period.
    pub(super) fn error_rate_alarm(
        &mut self,
        section: &Loc<crate::scenario::AutoshiftSection>,
        path: &str,
    ) -> (AlarmSpec, Nanos) {
        {
            let a = &section.value;
            if !(0.0..=1.0).contains(&a.error_rate.value) {
                let message = format!("error_rate is a share from 0 to 1, not {}", a.error_rate.value);
                self.err(a.error_rate.span.clone(), format!("{path}.error_rate"), message)
                    .hint("0.05 is 5% of jobs failing");
            }
            let period_ns = a.period.as_ref().map_or(60 * NS_PER_S, |p| p.value.ns());
            if let Some(p) = a.period.as_ref().filter(|p| p.value.ns() == 0) {
                self.err(p.span.clone(), format!("{path}.period"), "period must be above 0");
            }
            let m = a.datapoints.as_ref().map_or(3, |d| d.value);
            let n = a.evaluation_periods.as_ref().map_or(m, |d| d.value);
            if m == 0 || m > n || n > MAX_EVALUATION_PERIODS {
                let span = a
                    .datapoints
                    .as_ref()
                    .or(a.evaluation_periods.as_ref())
                    .map_or(section.span.clone(), |d| d.span.clone());
                let message =
                    format!("need 1 <= datapoints <= evaluation_periods <= {MAX_EVALUATION_PERIODS}, not {m} and {n}");
                self.err(span, format!("{path}.datapoints"), message).hint("3 of 3: three periods in a row");
            }
            let (m, n) = (
                m.clamp(1, MAX_EVALUATION_PERIODS),
                n.clamp(m.clamp(1, MAX_EVALUATION_PERIODS), MAX_EVALUATION_PERIODS),
            );
            (AlarmSpec::new(a.error_rate.value, Comparison::GreaterThan, m, n), period_ns.max(1))
        }
    }
}

/// The tick of a zonal shift: its alarm's period, at most a second (so that drains and
/// starts by hand move in steps of a second at most).
pub fn shift_tick_ns(plan: &ZonalShiftPlan) -> Nanos {
    plan.auto.map_or(NS_PER_S, |(_, p)| p.min(NS_PER_S))
}
