//! When each workload's next request arrives, and which request type it is: Poisson,
//! constant-rate, piecewise-constant and piecewise-linear rates, and a closed loop's think
//! times. The hub schedules what this computes.

use super::ServiceModel;
use crate::dist::round_ns;
use crate::metrics::SeriesSink;
use crate::spec::{Arrival, RateStep};
use crate::tier::Tier;
use cellsim_sim::{Nanos, Stream, NS_PER_S};
use rand_distr::{Distribution, Exp1};

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// The instant of workload `w`'s next arrival after one at `now`.
    #[inline]
    pub(super) fn next_arrival_ns(&mut self, w: u32, now: Nanos) -> Nanos {
        let rt = &mut self.workloads[w as usize];
        match &self.spec.workloads[w as usize].arrival {
            Arrival::Poisson { .. } => {
                let mean_ns = rt.mean_interarrival_ns;
                now + rt.gaps.next_with(|rng| round_ns(mean_ns * Distribution::<f64>::sample(&Exp1, rng)))
            }
            Arrival::Constant { rate_per_s } => {
                rt.count += 1;
                round_ns(rt.count as f64 * NS_PER_S as f64 / rate_per_s)
            }
            Arrival::Schedule { steps, period_ns } => {
                next_scheduled(now, steps, *period_ns, self.spec.duration_ns, &mut rt.arrival_rng)
            }
            Arrival::Linear { points, period_ns } => {
                next_linear(now, points, *period_ns, self.spec.duration_ns, &mut rt.arrival_rng)
            }
            // A user's next request comes a think time after its answer.
            Arrival::Closed { think, .. } => think_ends(now, think, &mut rt.arrival_rng),
        }
    }

    /// The request type (index into the workload's requests) of an arrival of workload `w`,
    /// drawn from its mix, and its customer (a global id), drawn uniformly from the
    /// workload's population (for every request, whatever uses it, so that the stream does
    /// not depend on what does).
    pub(super) fn request_type(&mut self, w: u32) -> (usize, u32) {
        let ws = &self.spec.workloads[w as usize];
        let rt = &mut self.workloads[w as usize];
        let r = if ws.requests.len() == 1 {
            0
        } else {
            let u = rt.mix_rng.unit();
            ws.cumulative_mix.partition_point(|&c| c <= u).min(ws.requests.len() - 1)
        };
        let customer = if ws.customers > 1 { rt.customer_rng.below(ws.customers) as u32 } else { 0 };
        // (Read only by the policies tier and above: routers, shuffle sharding, counts.)
        (r, if T::POLICIES { ws.first_customer + customer } else { 0 })
    }
}

/// When a closed loop's user who got its answer at `now` sends its next request.
#[inline(never)]
fn think_ends(now: Nanos, think: &crate::dist::Dist, rng: &mut Stream) -> Nanos {
    now.saturating_add(think.sample(rng))
}

/// An exponential draw with rate `rate_per_s`, in nanoseconds (ziggurat: rarely a logarithm).
#[inline]
fn exp_ns(rng: &mut Stream, rate_per_s: f64) -> Nanos {
    let unit: f64 = Exp1.sample(rng);
    round_ns(unit * NS_PER_S as f64 / rate_per_s)
}

/// The next arrival of a piecewise-constant-rate Poisson process after `now`. Exact: the
/// exponential is memoryless, so a draw that crosses a step boundary restarts there.
fn next_scheduled(now: Nanos, steps: &[RateStep], period_ns: Option<Nanos>, end_ns: Nanos, rng: &mut Stream) -> Nanos {
    let mut t = now;
    while t < end_ns {
        let (rate, seg_end) = rate_at(t, steps, period_ns);
        if rate > 0.0 {
            let next = t + exp_ns(rng, rate);
            if next < seg_end {
                return next;
            }
        }
        t = seg_end;
    }
    Nanos::MAX
}

/// The next arrival after `now` of a Poisson process whose rate is piecewise linear. Exact:
/// an Exp(1) draw is the expected number of arrivals to the next one, and the time where
/// the rate's integral reaches it is the root of a quadratic in each segment, crossed
/// segment by segment.
#[inline(never)]
fn next_linear(now: Nanos, points: &[RateStep], period_ns: Option<Nanos>, end_ns: Nanos, rng: &mut Stream) -> Nanos {
    let unit: f64 = Exp1.sample(rng);
    // In arrivals x 1e9: rates are per second, times in nanoseconds.
    let mut left = unit * NS_PER_S as f64;
    let mut t = now;
    while t < end_ns {
        let (rate, slope, seg_end) = linear_at(t, points, period_ns);
        let len = (seg_end - t) as f64;
        let area = rate * len + slope * len * len / 2.0;
        if area >= left {
            // The root of slope/2 d^2 + rate d = left, in the form without cancellation.
            let d = 2.0 * left / (rate + (rate * rate + 2.0 * slope * left).max(0.0).sqrt());
            return (t + round_ns(d).max(1)).min(seg_end);
        }
        left -= area;
        t = seg_end;
    }
    Nanos::MAX
}

/// The rate at time `t` (per second), its slope (per second, per nanosecond) and the end of
/// the segment it is in, for a piecewise-linear rate holding its last value and 0 before its
/// first point.
fn linear_at(t: Nanos, points: &[RateStep], period_ns: Option<Nanos>) -> (f64, f64, Nanos) {
    let (base, local) = match period_ns {
        Some(p) => (t - t % p, t % p),
        None => (0, t),
    };
    let i = points.partition_point(|s| s.at_ns <= local);
    if i == 0 {
        return (0.0, 0.0, base.saturating_add(points.first().map_or(Nanos::MAX, |p| p.at_ns)));
    }
    let p0 = points[i - 1];
    match points.get(i) {
        Some(p1) => {
            let slope = (p1.rate_per_s - p0.rate_per_s) / (p1.at_ns - p0.at_ns) as f64;
            (p0.rate_per_s + slope * (local - p0.at_ns) as f64, slope, base + p1.at_ns)
        }
        None => (p0.rate_per_s, 0.0, period_ns.map_or(Nanos::MAX, |p| base + p)),
    }
}

/// The rate at time `t` and the time that rate ends.
fn rate_at(t: Nanos, steps: &[RateStep], period_ns: Option<Nanos>) -> (f64, Nanos) {
    let (base, local) = match period_ns {
        Some(p) => (t - t % p, t % p),
        None => (0, t),
    };
    let i = steps.partition_point(|s| s.at_ns <= local);
    let rate = if i == 0 { 0.0 } else { steps[i - 1].rate_per_s };
    let end_local = match steps.get(i) {
        Some(s) => s.at_ns,
        None => period_ns.unwrap_or(Nanos::MAX - base),
    };
    (rate, base.saturating_add(end_local))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(s: &[(Nanos, f64)]) -> Vec<RateStep> {
        s.iter().map(|&(at_ns, rate_per_s)| RateStep { at_ns, rate_per_s }).collect()
    }

    #[test]
    fn linear_rate_lookup_interpolates_and_holds() {
        let p = steps(&[(100, 10.0), (200, 30.0)]);
        assert_eq!(linear_at(50, &p, None), (0.0, 0.0, 100));
        assert_eq!(linear_at(150, &p, None), (20.0, 0.2, 200));
        assert_eq!(linear_at(250, &p, None), (30.0, 0.0, Nanos::MAX));
        assert_eq!(linear_at(450, &p, Some(300)), (20.0, 0.2, 500));
    }

    #[test]
    fn linear_arrivals_follow_a_ramp() {
        // A ramp from 0 to 2000/s over 10 s: 10,000 arrivals expected, a quarter of them in
        // the first half (the integral of a line).
        let p = steps(&[(0, 0.0), (10 * NS_PER_S, 2000.0)]);
        let mut rng = Stream::new(1, "t", "arrivals");
        let (mut t, mut first_half, mut all) = (0, 0u64, 0u64);
        loop {
            t = next_linear(t, &p, None, 10 * NS_PER_S, &mut rng);
            if t >= 10 * NS_PER_S {
                break;
            }
            all += 1;
            first_half += (t < 5 * NS_PER_S) as u64;
        }
        // Poisson counts: sd = sqrt(mean).
        assert!((all as f64 - 10_000.0).abs() < 4.0 * 100.0, "{all}");
        assert!((first_half as f64 - 2_500.0).abs() < 4.0 * 50.0, "{first_half}");
    }

    #[test]
    fn schedule_rate_lookup_repeats_with_the_period() {
        let s = steps(&[(0, 10.0), (100, 50.0)]);
        assert_eq!(rate_at(0, &s, Some(200)), (10.0, 100));
        assert_eq!(rate_at(150, &s, Some(200)), (50.0, 200));
        assert_eq!(rate_at(250, &s, Some(200)), (10.0, 300));
        assert_eq!(rate_at(150, &s, None), (50.0, Nanos::MAX));
        // Before the first step the rate is zero.
        assert_eq!(rate_at(5, &steps(&[(10, 1.0)]), None), (0.0, 10));
    }
}
