//! EC2 Auto Scaling target tracking (reference section 4, "Autoscaling"): keeps a per-instance
//! metric near a target by changing desired capacity proportionally, on two CloudWatch
//! alarms ([`super::alarm`]). [DOC] proportional changes, the instance warm-up, disabling
//! scale-in, one-minute datapoints. UNVERIFIED (from memory in the reference, hence
//! parameters): the alarms' 3 of 3 datapoints above target to scale out and 15 of 15 below
//! 90% of target to scale in, and the 300 s cooldown. The model averages the metric over
//! the in-service instances only (instances in their warm-up are excluded) and feeds one
//! value per period.

use super::alarm::{Alarm, AlarmSpec, Comparison, State};
use cellsim_sim::{Nanos, NS_PER_S};

/// A target tracking policy's parameters; [`TargetTrackingSpec::new`] carries the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetTrackingSpec {
    /// The metric's target value per in-service instance.
    pub target: f64,
    pub min_capacity: u32,
    pub max_capacity: u32,
    /// The datapoint period the model aggregates over (default 60 s, the recommended
    /// one-minute resolution).
    pub period_ns: Nanos,
    /// Scale out when M of N datapoints are above target (UNVERIFIED default 3 of 3).
    pub scale_out_datapoints: u32,
    pub scale_out_periods: u32,
    /// Scale in when M of N datapoints are below `scale_in_ratio × target` (UNVERIFIED
    /// default 15 of 15 below 0.9).
    pub scale_in_datapoints: u32,
    pub scale_in_periods: u32,
    pub scale_in_ratio: f64,
    /// How long a new instance stays out of the metric (default 300 s). The model applies
    /// it: it reports such instances as `warming`.
    pub warmup_ns: Nanos,
    /// No scale-in until this long after any scaling activity (UNVERIFIED default 300 s).
    pub scale_in_cooldown_ns: Nanos,
    /// false: the policy never scales in.
    pub scale_in: bool,
}

impl TargetTrackingSpec {
    /// The defaults around the caller's target and bounds.
    pub fn new(target: f64, min_capacity: u32, max_capacity: u32) -> TargetTrackingSpec {
        TargetTrackingSpec {
            target,
            min_capacity,
            max_capacity,
            period_ns: 60 * NS_PER_S,
            scale_out_datapoints: 3,
            scale_out_periods: 3,
            scale_in_datapoints: 15,
            scale_in_periods: 15,
            scale_in_ratio: 0.9,
            warmup_ns: 300 * NS_PER_S,
            scale_in_cooldown_ns: 300 * NS_PER_S,
            scale_in: true,
        }
    }
}

/// One policy's state: its two alarms and its last scaling activity.
#[derive(Clone, Debug)]
pub struct TargetTracking {
    spec: TargetTrackingSpec,
    high: Alarm,
    low: Alarm,
    last_activity_ns: Option<Nanos>,
}

impl TargetTracking {
    /// `Err` when an alarm's datapoints are out of bounds (see [`Alarm::new`]).
    pub fn new(spec: TargetTrackingSpec) -> Result<TargetTracking, &'static str> {
        let high =
            AlarmSpec::new(spec.target, Comparison::GreaterThan, spec.scale_out_datapoints, spec.scale_out_periods);
        let low_threshold = spec.target * spec.scale_in_ratio;
        let low = AlarmSpec::new(low_threshold, Comparison::LessThan, spec.scale_in_datapoints, spec.scale_in_periods);
        Ok(TargetTracking { spec, high: Alarm::new(high)?, low: Alarm::new(low)?, last_activity_ns: None })
    }

    pub fn spec(&self) -> &TargetTrackingSpec {
        &self.spec
    }

    /// The scale-out and scale-in alarms' states.
    pub fn alarms(&self) -> (State, State) {
        (self.high.state(), self.low.state())
    }

    /// The datapoint of the period ending at `now` (averaged over the `in_service`
    /// instances), with `warming` instances launched but still in their warm-up (launches
    /// not yet in service included). Returns the new desired capacity when it changes.
    /// While an alarm is in Alarm, every datapoint invokes its action again (Auto Scaling
    /// actions repeat each period, unlike notifications). Capacity is `in_service +
    /// warming`: warming instances count as already added, so one breach is not answered
    /// twice.
    pub fn observe(&mut self, now: Nanos, period_metric: Option<f64>, in_service: u32, warming: u32) -> Option<u32> {
        self.high.observe(now, period_metric);
        self.low.observe(now, period_metric);
        let metric = period_metric.filter(|m| m.is_finite())?;
        if in_service == 0 {
            return None;
        }
        let capacity = in_service + warming;
        let proportional = self.proportional(in_service, metric);
        let desired = if self.high.state() == State::Alarm {
            proportional.max(in_service + 1).min(self.spec.max_capacity).max(capacity)
        } else if self.low.state() == State::Alarm && self.spec.scale_in && self.cooled(now) {
            proportional.max(self.spec.min_capacity).min(capacity)
        } else {
            capacity
        };
        if desired == capacity {
            return None;
        }
        self.last_activity_ns = Some(now);
        Some(desired)
    }

    /// `ceil(in_service × metric / target)`.
    fn proportional(&self, in_service: u32, metric: f64) -> u32 {
        (in_service as f64 * metric / self.spec.target).ceil().clamp(0.0, u32::MAX as f64) as u32
    }

    /// Has the scale-in cooldown since the last activity passed at `now`?
    fn cooled(&self, now: Nanos) -> bool {
        self.last_activity_ns.is_none_or(|t| now >= t.saturating_add(self.spec.scale_in_cooldown_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Nanos = 60 * NS_PER_S;

    fn policy(f: impl FnOnce(&mut TargetTrackingSpec)) -> TargetTracking {
        let mut spec = TargetTrackingSpec::new(1.0, 1, 100);
        f(&mut spec);
        TargetTracking::new(spec).unwrap()
    }

    #[test]
    fn a_step_to_twice_the_target_doubles_on_the_third_datapoint_once() {
        let mut p = policy(|_| {});
        assert_eq!(p.observe(MIN, Some(2.0), 4, 0), None);
        assert_eq!(p.observe(2 * MIN, Some(2.0), 4, 0), None);
        assert_eq!(p.observe(3 * MIN, Some(2.0), 4, 0), Some(8));
        // The 4 new instances warm up: still 2x over the 4 in service, but 8 = ceil(4 × 2)
        // are already there.
        for k in 4..=8 {
            assert_eq!(p.observe(k * MIN, Some(2.0), 4, 4), None, "minute {k}");
        }
        // Warmed up and still 2x over 8: 16.
        assert_eq!(p.observe(9 * MIN, Some(2.0), 8, 0), Some(16));
        // 1.5x over 4 wants 6: with 2 already warming that is met; without them it is not.
        for (warming, want) in [(2, None), (0, Some(6))] {
            let mut p = policy(|_| {});
            let answers: Vec<_> = (1..=3).map(|k| p.observe(k * MIN, Some(1.5), 4, warming)).collect();
            assert_eq!(answers, [None, None, want], "{warming} warming");
        }
    }

    #[test]
    fn scale_out_is_at_least_one_and_at_most_max() {
        // 1.2x over 10 in service: ceil(12) = 12; 1.01x over 10: ceil(10.1) = 11;
        // 5x over 10 with max 30: 30.
        for (metric, want) in [(1.2, 12), (1.01, 11), (5.0, 30)] {
            let mut p = policy(|s| s.max_capacity = 30);
            let answers: Vec<_> = (1..=3).map(|k| p.observe(k * MIN, Some(metric), 10, 0)).collect();
            assert_eq!(answers, [None, None, Some(want)], "{metric}");
        }
    }

    #[test]
    fn scale_in_needs_fifteen_datapoints_then_waits_for_the_cooldown() {
        let mut p = policy(|_| {});
        for k in 1..=14 {
            assert_eq!(p.observe(k * MIN, Some(0.5), 10, 0), None, "minute {k}");
        }
        assert_eq!(p.observe(15 * MIN, Some(0.5), 10, 0), Some(5));
        // Still low over 5: ceil(2.5) = 3, but not before 300 s after the last activity.
        for k in 16..=19 {
            assert_eq!(p.observe(k * MIN, Some(0.5), 5, 0), None, "minute {k}");
        }
        assert_eq!(p.observe(20 * MIN, Some(0.5), 5, 0), Some(3));
        // 0.89 is below 90% of target; 0.9 is not.
        let mut p = policy(|_| {});
        (1..=15).for_each(|k| assert_eq!(p.observe(k * MIN, Some(0.9), 10, 0), None));
        let mut p = policy(|_| {});
        let last = (1..=15).map(|k| p.observe(k * MIN, Some(0.89), 10, 0)).last();
        assert_eq!(last, Some(Some(9)));
    }

    #[test]
    fn scale_in_respects_min_and_can_be_disabled() {
        let mut p = policy(|s| s.min_capacity = 4);
        let last = (1..=15).map(|k| p.observe(k * MIN, Some(0.1), 10, 0)).last();
        assert_eq!(last, Some(Some(4)));
        let mut p = policy(|s| s.scale_in = false);
        assert!((1..=30).all(|k| p.observe(k * MIN, Some(0.1), 10, 0).is_none()));
        // No data and no instances in service decide nothing.
        let mut p = policy(|_| {});
        (1..=3).for_each(|k| assert_eq!(p.observe(k * MIN, Some(2.0), 0, 2), None));
        assert_eq!(p.observe(4 * MIN, None, 4, 0), None);
    }
}
