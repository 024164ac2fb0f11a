//! Random failures of one failure domain (an instance, a cell, a zone) as an alternating
//! renewal process (reference faults.md, "MTBF and MTTR per failure domain"): up for a draw
//! of the time to failure, down for a draw of the time to repair, and so on, from time 0 up.
//! Its long-run availability is E[up] / (E[up] + E[down]) = MTBF / (MTBF + MTTR) whatever the
//! distributions; n independent domains have j up with the binomial law. Event-free: the
//! model asks for the next transition and applies it; draws come from the domain's own
//! stream, so adding a domain moves no other's.

use crate::dist::Dist;
use cellsim_sim::{Nanos, Stream};

/// One domain's failures and repairs.
#[derive(Clone, Debug)]
pub struct UpDown {
    to_failure: Dist,
    to_repair: Dist,
    rng: Stream,
    up: bool,
    /// When the domain next changes state.
    next_ns: Nanos,
}

impl UpDown {
    /// Up at time 0; the first failure after a draw of `to_failure`.
    pub fn new(to_failure: Dist, to_repair: Dist, mut rng: Stream) -> UpDown {
        let next_ns = to_failure.sample(&mut rng).max(1);
        UpDown { to_failure, to_repair, rng, up: true, next_ns }
    }

    pub fn up(&self) -> bool {
        self.up
    }

    /// When the next transition is due.
    pub fn next_ns(&self) -> Nanos {
        self.next_ns
    }

    /// Applies the transition due at `next_ns` (the caller calls it at or after that time);
    /// returns whether the domain is now up. Each state lasts at least 1 ns.
    pub fn step(&mut self) -> bool {
        self.up = !self.up;
        let dist = if self.up { &self.to_failure } else { &self.to_repair };
        self.next_ns = self.next_ns.saturating_add(dist.sample(&mut self.rng).max(1));
        self.up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellsim_sim::NS_PER_S;

    const HOUR: Nanos = 3600 * NS_PER_S;

    fn exp(mean_ns: Nanos) -> Dist {
        Dist::exponential(mean_ns as f64)
    }

    /// Binomial: the chance that at least `k` of `n` are up, each up with probability `a`.
    fn at_least(k: u32, n: u32, a: f64) -> f64 {
        (k..=n)
            .map(|j| {
                let c = (0..j).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
                c * a.powi(j as i32) * (1.0 - a).powi((n - j) as i32)
            })
            .sum()
    }

    /// k-of-n instances with independent MTBF 9 h and MTTR 1 h (each 90% available): over
    /// 200,000 hours, the time with at least k up matches the binomial closed form.
    #[test]
    fn k_of_n_availability_is_binomial() {
        let n = 5u32;
        let horizon = 200_000 * HOUR;
        let mut domains: Vec<UpDown> = (0..n)
            .map(|i| UpDown::new(exp(9 * HOUR), exp(HOUR), Stream::new(3, &format!("instance/{i}"), "mtbf")))
            .collect();
        let mut time_with = vec![0u128; n as usize + 1];
        let mut now: Nanos = 0;
        while now < horizon {
            let next = domains.iter().map(UpDown::next_ns).min().unwrap().min(horizon);
            let up = domains.iter().filter(|d| d.up()).count();
            time_with[up] += (next - now) as u128;
            now = next;
            for d in domains.iter_mut().filter(|d| d.next_ns() == now) {
                d.step();
            }
        }
        let single =
            time_with.iter().enumerate().map(|(j, &t)| j as f64 * t as f64).sum::<f64>() / (n as f64 * horizon as f64);
        assert!((single - 0.9).abs() < 0.005, "one instance's availability {single}");
        for k in 1..=n {
            let got = time_with[k as usize..].iter().sum::<u128>() as f64 / horizon as f64;
            let expected = at_least(k, n, 0.9);
            // About 20,000 failures per instance: a few tenths of a percent of noise.
            assert!((got - expected).abs() < 0.006, "at least {k} of {n}: {got} against {expected}");
        }
    }

    /// The first failure comes after a draw of the time to failure; states alternate.
    #[test]
    fn states_alternate_from_up() {
        let mut d = UpDown::new(Dist::Constant(10), Dist::Constant(3), Stream::new(1, "d", "mtbf"));
        assert!(d.up());
        assert_eq!(d.next_ns(), 10);
        assert!(!d.step());
        assert_eq!(d.next_ns(), 13);
        assert!(d.step());
        assert_eq!(d.next_ns(), 23);
    }
}
