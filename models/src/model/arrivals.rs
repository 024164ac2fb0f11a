//! When each workload's next request arrives, and which request type it is: Poisson,
//! constant-rate and piecewise-rate schedules. The hub schedules what this computes.

use super::ServiceModel;
use crate::dist::round_ns;
use crate::metrics::SeriesSink;
use crate::spec::{Arrival, RateStep};
use crate::tier::Tier;
use cellsim_sim::{Nanos, Stream, NS_PER_S};
use rand_distr::{Distribution, Exp1};

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// The instant of workload `w`'s next arrival after one at `now`.
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
        }
    }

    /// The request type (index into the workload's requests) of an arrival of workload `w`,
    /// drawn from its mix. The customer is drawn too, for every request, so that the stream
    /// does not depend on what uses it.
    pub(super) fn request_type(&mut self, w: u32) -> usize {
        let ws = &self.spec.workloads[w as usize];
        let rt = &mut self.workloads[w as usize];
        let r = if ws.requests.len() == 1 {
            0
        } else {
            let u = rt.mix_rng.unit();
            ws.cumulative_mix.partition_point(|&c| c <= u).min(ws.requests.len() - 1)
        };
        if ws.customers > 1 {
            let _customer = rt.customer_rng.below(ws.customers);
        }
        r
    }
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
