//! Client-side adaptive throttling (reference 2.5, Google SRE book "Handling Overload"; the
//! same formula as Envoy's admission control filter): over the last `window` seconds, with
//! `requests` attempted and `accepts` that succeeded, each new request is refused locally
//! with probability max(0, (requests - K x accepts) / (requests + 1)).

use super::window::SecondCounts;
use cellsim_sim::Nanos;
#[cfg(test)]
use cellsim_sim::NS_PER_S;

#[derive(Clone, Debug)]
pub struct Throttle {
    k: f64,
    /// Requests (first) and accepts (second) per second of the window.
    counts: SecondCounts,
    pub refused: u64,
}

impl Throttle {
    pub fn new(k: f64, window_s: u32) -> Throttle {
        Throttle { k, counts: SecondCounts::new(window_s), refused: 0 }
    }

    /// The refusal probability at `now`.
    pub fn p_refuse(&mut self, now: Nanos) -> f64 {
        let (requests, accepts) = self.counts.totals(now);
        ((requests as f64 - self.k * accepts as f64) / (requests as f64 + 1.0)).max(0.0)
    }

    /// A request at `now` with uniform draw `u`: counted, and refused when `u` falls under
    /// the refusal probability.
    pub fn try_send(&mut self, now: Nanos, u: f64) -> bool {
        let p = self.p_refuse(now);
        self.counts.add(now, true);
        if u < p {
            self.refused += 1;
            return false;
        }
        true
    }

    /// The backend accepted (answered successfully) a request at `now`.
    pub fn on_accept(&mut self, now: Nanos) {
        self.counts.add(now, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_probability_follows_the_sre_formula() {
        let mut t = Throttle::new(2.0, 120);
        // 100 requests, 20 accepted: (100 - 40) / 101.
        for i in 0..100 {
            assert!(t.try_send(0, 1.0));
            if i < 20 {
                t.on_accept(0);
            }
        }
        assert!((t.p_refuse(0) - 60.0 / 101.0).abs() < 1e-12);
        // Accepting half or more: K = 2 means no refusals.
        let mut t = Throttle::new(2.0, 120);
        for i in 0..100 {
            t.try_send(0, 1.0);
            if i % 2 == 0 {
                t.on_accept(0);
            }
        }
        assert_eq!(t.p_refuse(0), 0.0);
        // The window forgets: 120 s later the counts are gone.
        let mut t = Throttle::new(2.0, 120);
        (0..100).for_each(|_| {
            t.try_send(0, 1.0);
        });
        assert!(t.p_refuse(119 * NS_PER_S) > 0.9);
        assert_eq!(t.p_refuse(120 * NS_PER_S), 0.0);
    }

    #[test]
    fn steady_state_refusal_is_one_minus_k_times_the_accept_ratio() {
        // Reference 2.5 [OURS]: P ~ max(0, 1 - K a) with a = accepts / requests. A backend
        // that can accept 300 requests a second, offered 1000 a second: a = 0.3, so P ~ 0.4
        // and the client still sends K x 300 = 600 a second (the SRE book's point: K = 2 lets
        // the backend see twice what it accepts).
        let mut t = Throttle::new(2.0, 120);
        let mut rng = cellsim_sim::Stream::new(1, "throttle", "test");
        let (mut sent, mut refused, mut accepted_this_second) = (0u64, 0u64, 0u64);
        for i in 0..600_000u64 {
            let now = i * NS_PER_S / 1000;
            if i % 1000 == 0 {
                accepted_this_second = 0;
            }
            if t.try_send(now, rng.unit()) {
                sent += 1;
                if accepted_this_second < 300 {
                    accepted_this_second += 1;
                    t.on_accept(now);
                }
            } else {
                refused += 1;
            }
        }
        // Past the first window the refusal share settles at 0.4.
        let p = refused as f64 / (sent + refused) as f64;
        assert!((p - 0.4).abs() < 0.02, "refused {p:.3}");
    }
}
