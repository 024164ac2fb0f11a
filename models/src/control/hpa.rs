//! Kubernetes' Horizontal Pod Autoscaler (reference section 4, "Autoscaling"): every sync
//! period, `desired = ceil(current × metric / target)` outside the tolerance, then the
//! scale-down stabilization window and the scale-up rate policies, then the replica bounds.
//! The order of these steps follows the controller (`pkg/controller/podautoscaler`,
//! `normalizeDesiredReplicasWithBehaviors`). Not modelled: the conservative treatment of
//! pods in their first 5 minutes and of not-ready pods (the model feeds the metric it
//! wants averaged), and scale-up stabilization (its default window is 0).

use cellsim_sim::{Nanos, NS_PER_S};

/// An HPA's parameters; [`HpaSpec::new`] carries the documented defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HpaSpec {
    /// How often the model calls [`Hpa::sync`] (default 15 s). It also sizes the rings.
    pub sync_period_ns: Nanos,
    /// No change while `|metric / target - 1| <= tolerance` (default 0.1).
    pub tolerance: f64,
    /// The metric's target value per pod (e.g. 0.6 utilisation, 100 requests/s).
    pub target: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Scale-down uses the highest recommendation of this trailing window (default 300 s).
    pub stabilization_down_ns: Nanos,
    /// Default scale-up policies (selectPolicy Max): add `scale_up_pods` (4) or
    /// `scale_up_percent` (100) of the replicas at the start of each `scale_up_period_ns`
    /// (15 s), whichever allows more.
    pub scale_up_pods: u32,
    pub scale_up_percent: f64,
    pub scale_up_period_ns: Nanos,
}

impl HpaSpec {
    /// Kubernetes' defaults around the caller's target and bounds.
    pub fn new(target: f64, min_replicas: u32, max_replicas: u32) -> HpaSpec {
        HpaSpec {
            sync_period_ns: 15 * NS_PER_S,
            tolerance: 0.1,
            target,
            min_replicas,
            max_replicas,
            stabilization_down_ns: 300 * NS_PER_S,
            scale_up_pods: 4,
            scale_up_percent: 100.0,
            scale_up_period_ns: 15 * NS_PER_S,
        }
    }
}

/// Timestamped values in a ring allocated once: the recommendations of the stabilization
/// window, or the replica changes of the scale-up period.
#[derive(Clone, Debug)]
struct Timed {
    entries: Vec<(Nanos, i64)>,
}

impl Timed {
    /// Room for a window of `window_ns` sampled every `step_ns`, its two ends and an
    /// initial entry.
    fn new(window_ns: Nanos, step_ns: Nanos) -> Timed {
        let n = (window_ns / step_ns.max(1)) as usize + 2;
        Timed { entries: Vec::with_capacity(n) }
    }

    /// Stores `value` at `now`: in the slot of an entry at or before `cutoff` (out of the
    /// window), else a new slot, else (the model called more often than every sync period)
    /// over the oldest entry.
    fn record(&mut self, now: Nanos, cutoff: Option<Nanos>, value: i64) {
        let stale = self.entries.iter().position(|&(t, _)| cutoff.is_some_and(|c| t <= c));
        if let Some(k) = stale {
            self.entries[k] = (now, value);
        } else if self.entries.len() < self.entries.capacity() {
            self.entries.push((now, value));
        } else if let Some(k) = (0..self.entries.len()).min_by_key(|&k| self.entries[k].0) {
            self.entries[k] = (now, value);
        }
    }

    /// The values strictly after `cutoff` (Kubernetes' `timestamp.After(cutoff)`); all of
    /// them when the window reaches back before time 0.
    fn within(&self, cutoff: Option<Nanos>) -> impl Iterator<Item = i64> + '_ {
        self.entries.iter().filter(move |&&(t, _)| cutoff.is_none_or(|c| t > c)).map(|&(_, v)| v)
    }
}

/// One HPA's state.
#[derive(Clone, Debug)]
pub struct Hpa {
    spec: HpaSpec,
    /// Unstabilized recommendations (Kubernetes' `recommendations`).
    recommendations: Timed,
    /// Replica changes this HPA made, signed (Kubernetes' scale-up and scale-down events).
    changes: Timed,
}

impl Hpa {
    pub fn new(spec: HpaSpec) -> Hpa {
        Hpa {
            spec,
            recommendations: Timed::new(spec.stabilization_down_ns, spec.sync_period_ns),
            changes: Timed::new(spec.scale_up_period_ns, spec.sync_period_ns),
        }
    }

    pub fn spec(&self) -> &HpaSpec {
        &self.spec
    }

    /// The sync at `now` with `current_replicas` running and the metric averaged over them;
    /// returns the desired replicas, which the caller applies (this HPA assumes it does).
    /// A target scaled to 0 is left alone, as Kubernetes does.
    pub fn sync(&mut self, now: Nanos, current_replicas: u32, metric: f64) -> u32 {
        let (min, max) = (self.spec.min_replicas, self.spec.max_replicas.max(self.spec.min_replicas));
        let desired = if current_replicas == 0 {
            0
        } else if current_replicas > max {
            max
        } else if current_replicas < min {
            min
        } else {
            let proposal = self.proposal(current_replicas, metric);
            let stabilized = self.stabilize(now, current_replicas, proposal);
            self.limit(now, current_replicas, stabilized, min, max)
        };
        if desired != current_replicas {
            self.changes.record(
                now,
                cutoff(now, self.spec.scale_up_period_ns),
                desired as i64 - current_replicas as i64,
            );
        }
        desired
    }

    /// `ceil(current × metric / target)`, or `current` within the tolerance (or for a
    /// metric that is not a number).
    fn proposal(&self, current: u32, metric: f64) -> u32 {
        let ratio = metric / self.spec.target;
        if !ratio.is_finite() || (ratio - 1.0).abs() <= self.spec.tolerance {
            return current;
        }
        (current as f64 * ratio).ceil().clamp(0.0, u32::MAX as f64) as u32
    }

    /// Records `proposal` and returns the recommendation to use: never below `current`
    /// when scaling up (no up window), never above the highest recommendation of the
    /// down window when scaling down.
    /// A new HPA's window starts with `current` at `now` (Kubernetes'
    /// `maybeInitScaleDownStabilizationWindow`), so it does not scale down at once.
    fn stabilize(&mut self, now: Nanos, current: u32, proposal: u32) -> u32 {
        let cut = cutoff(now, self.spec.stabilization_down_ns);
        if self.recommendations.entries.is_empty() {
            self.recommendations.record(now, cut, current as i64);
        }
        let highest = self.recommendations.within(cut).max().unwrap_or(0).max(proposal as i64) as u32;
        self.recommendations.record(now, cut, proposal as i64);
        if proposal > current {
            proposal
        } else {
            current.min(highest)
        }
    }

    /// Applies the scale-up policies and the bounds. Scale-up: at most the larger of
    /// `start + pods` and `ceil(start × (1 + percent/100))`, where `start` is the replica
    /// count at the start of the policy period (current less the changes this HPA made in
    /// it, Kubernetes' `periodStartReplicas`). Scale-down: the default policy (100% per
    /// 15 s) allows everything, so only `min` limits it.
    fn limit(&self, now: Nanos, current: u32, desired: u32, min: u32, max: u32) -> u32 {
        if desired > current {
            let added: i64 = self.changes.within(cutoff(now, self.spec.scale_up_period_ns)).sum();
            let start = (current as i64 - added).max(0) as f64;
            let by_pods = start + self.spec.scale_up_pods as f64;
            let by_percent = (start * (1.0 + self.spec.scale_up_percent / 100.0)).ceil();
            let up_limit = (by_pods.max(by_percent) as u32).max(current);
            desired.min(up_limit).min(max)
        } else {
            desired.max(min)
        }
    }
}

/// The start of the trailing window of `window_ns` at `now`, if it starts after time 0.
fn cutoff(now: Nanos, window_ns: Nanos) -> Option<Nanos> {
    now.checked_sub(window_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = NS_PER_S;

    fn hpa(min: u32, max: u32) -> Hpa {
        Hpa::new(HpaSpec::new(1.0, min, max))
    }

    #[test]
    fn proportional_with_tolerance() {
        // (current, metric / target, desired)
        let cases = [
            (4, 2.0, 8),    // ceil(4 × 2)
            (3, 1.5, 5),    // ceil(4.5)
            (10, 1.05, 10), // within 0.1: no change
            (10, 0.95, 10),
            (10, 1.09, 10), // just inside
            (10, 1.2, 12),
            (10, f64::NAN, 10),
        ];
        for (current, metric, want) in cases {
            assert_eq!(hpa(1, 100).sync(0, current, metric), want, "{current} at {metric}");
        }
    }

    #[test]
    fn scale_up_is_limited_to_max_of_double_or_plus_four_per_period() {
        // 2 pods at 5× target want 10: max(2 × 2, 2 + 4) = 6.
        let mut h = hpa(1, 100);
        assert_eq!(h.sync(0, 2, 5.0), 6);
        // 15 s later the period has rolled: from 6, max(12, 10) = 12; ceil(6 × 5) = 30.
        assert_eq!(h.sync(15 * S, 6, 5.0), 12);
        // Called again within the same period, the limit is relative to its start (6), not
        // to the 12 already added: still 12.
        let mut h = hpa(1, 100);
        assert_eq!(h.sync(0, 2, 5.0), 6);
        assert_eq!(h.sync(10 * S, 6, 5.0), 6);
        // 20 pods: doubling beats +4.
        assert_eq!(hpa(1, 100).sync(0, 20, 3.0), 40);
    }

    #[test]
    fn scale_down_waits_for_the_highest_recommendation_to_leave_the_window() {
        let mut h = hpa(1, 100);
        assert_eq!(h.sync(0, 10, 1.0), 10); // recommendation 10 at t = 0
        for k in 1..20 {
            assert_eq!(h.sync(k * 15 * S, 10, 0.5), 10, "t = {} s", k * 15);
        }
        // At 300 s the t = 0 recommendation is no longer after the cutoff: 5.
        assert_eq!(h.sync(300 * S, 10, 0.5), 5);
        // Each step down goes to the highest recommendation of the trailing 300 s, all at
        // once. A new HPA's window starts with the current count (10 at t = 0).
        let mut h = hpa(1, 100);
        let steps = [
            (0, 10, 1.0, 10),
            (100, 10, 0.8, 10), // recommends 8
            (200, 10, 0.5, 10), // recommends 5
            (300, 10, 0.3, 8),  // recommends 3; the window (0, 300] holds 8, 5, 3
            (399, 8, 0.3, 8),   // recommends 3; (99, 399] still holds the 8 of t = 100
            (400, 8, 0.3, 5),   // (100, 400]: 5, 3, 3, 3
            (500, 5, 0.6, 3),   // (200, 500]: 3s only
        ];
        for (t, current, metric, want) in steps {
            assert_eq!(h.sync(t * S, current, metric), want, "t = {t} s");
        }
    }

    #[test]
    fn bounds_clamp_every_answer() {
        // (min, max, current, metric, desired)
        let cases = [
            (2, 8, 5, 10.0, 8), // wants 50, limited to 10, clamped to 8
            (2, 8, 12, 1.0, 8), // above max: max at once
            (2, 8, 1, 1.0, 2),  // below min: min at once
            (2, 8, 4, 0.0, 4),  // wants 0, but a new HPA's window starts at the current 4
            (2, 8, 0, 5.0, 0),  // scaled to zero: left alone
        ];
        for (min, max, current, metric, want) in cases {
            assert_eq!(hpa(min, max).sync(0, current, metric), want, "{current} at {metric}");
        }
        // After the window, a metric of 0 goes down to min, not to 0.
        let mut h = hpa(2, 8);
        assert_eq!(h.sync(0, 4, 1.0), 4);
        assert_eq!(h.sync(300 * S, 4, 0.0), 2);
    }
}
