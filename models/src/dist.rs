//! Distributions of durations (service times, network latency), compiled from the scenario
//! and sampled as integer nanoseconds.

use cellsim_sim::{Nanos, Stream};
use rand_distr::{Distribution, Exp, LogNormal, Normal};

/// z such that P(Z <= z) = 0.99 for a standard normal Z.
pub const Z_99: f64 = 2.326_347_874_040_840_8;

/// A compiled distribution; parameters are in nanoseconds.
/// The longest draw: 10^18 ns (about 31.7 years), the longest duration a scenario may
/// write. Simulated time never exceeds duration + drain (each at most this), so `now` plus
/// any delay stays far below `u64::MAX`.
pub const MAX_DRAW_NS: Nanos = 1_000_000_000_000_000_000;

/// Rounds a number of nanoseconds to the nearest integer in [0, MAX_DRAW_NS] (NaN gives 0).
/// `f64::round` is a libm call that does not inline; this is an add and a clamp.
#[inline]
pub fn round_ns(x: f64) -> Nanos {
    // Through i64: the clamp keeps the value far below 2^63, and a signed conversion is one
    // instruction where an unsigned one is a branchy sequence.
    (x + 0.5).clamp(0.0, MAX_DRAW_NS as f64) as i64 as Nanos
}

#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Constant(Nanos),
    Exponential {
        exp: Exp<f64>,
        mean_ns: f64,
    },
    Uniform {
        min_ns: f64,
        width_ns: f64,
    },
    /// Normal(mean, stddev) conditioned on [min, max], by rejection.
    TruncatedNormal {
        normal: Normal<f64>,
        min_ns: f64,
        max_ns: f64,
    },
    LogNormal {
        lognormal: LogNormal<f64>,
        mu: f64,
        sigma: f64,
    },
    /// Inverse CDF by linear interpolation between (cumulative probability, value) points,
    /// the first at probability 0 and the last at 1.
    Empirical(Vec<(f64, f64)>),
}

impl Dist {
    pub fn exponential(mean_ns: f64) -> Dist {
        Dist::Exponential { exp: Exp::new(1.0 / mean_ns).expect("validated: mean > 0"), mean_ns }
    }

    /// Lognormal with the given median and 99th percentile (p99 > median > 0).
    pub fn lognormal(median_ns: f64, p99_ns: f64) -> Dist {
        let mu = median_ns.ln();
        let sigma = (p99_ns.ln() - mu) / Z_99;
        let lognormal = LogNormal::new(mu, sigma).expect("validated: p99 > median > 0");
        Dist::LogNormal { lognormal, mu, sigma }
    }

    pub fn truncated_normal(mean_ns: f64, stddev_ns: f64, min_ns: f64, max_ns: f64) -> Dist {
        let normal = Normal::new(mean_ns, stddev_ns).expect("validated: stddev >= 0");
        Dist::TruncatedNormal { normal, min_ns, max_ns }
    }

    #[inline]
    pub fn sample(&self, rng: &mut Stream) -> Nanos {
        let x = match self {
            Dist::Constant(ns) => return *ns,
            Dist::Exponential { exp, .. } => exp.sample(rng),
            Dist::Uniform { min_ns, width_ns } => min_ns + rng.unit() * width_ns,
            Dist::TruncatedNormal { normal, min_ns, max_ns } => {
                // Validation keeps [min, max] within reach of the mean, so acceptance is at
                // least a few percent; the cap only guards against a validation bug.
                let mut x = normal.sample(rng);
                let mut tries = 0;
                while (x < *min_ns || x > *max_ns) && tries < 100_000 {
                    x = normal.sample(rng);
                    tries += 1;
                }
                x.clamp(*min_ns, *max_ns)
            }
            Dist::LogNormal { lognormal, .. } => lognormal.sample(rng),
            Dist::Empirical(points) => interpolate(points, rng.unit()),
        };
        round_ns(x)
    }

    /// The mean in nanoseconds (the truncated normal's by numerical integration).
    pub fn mean_ns(&self) -> f64 {
        match self {
            Dist::Constant(ns) => *ns as f64,
            Dist::Exponential { mean_ns, .. } => *mean_ns,
            Dist::Uniform { min_ns, width_ns } => min_ns + width_ns / 2.0,
            Dist::TruncatedNormal { normal, min_ns, max_ns } => {
                truncated_normal_mean(normal.mean(), normal.std_dev(), *min_ns, *max_ns)
            }
            Dist::LogNormal { mu, sigma, .. } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Empirical(points) => points.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0).sum(),
        }
    }
}

/// Draws from one distribution and one stream, made ahead in batches of [`DRAWS_AHEAD`].
///
/// A draw on the hot path is a chain of dependent steps (the generator, the ziggurat's
/// table lookups and multiplies, the rounding) behind a call; made in a loop, the draws of a
/// batch overlap in the processor, and the call is paid once per batch. The stream is this
/// distribution's alone and its draws come out in the same order, so the values are exactly
/// those of drawing one at a time; the draws made ahead when the run ends are never used.
#[derive(Clone, Debug)]
pub struct Draws {
    rng: Stream,
    next: usize,
    values: [Nanos; DRAWS_AHEAD],
}

pub const DRAWS_AHEAD: usize = 32;

impl Draws {
    pub fn new(rng: Stream) -> Draws {
        Draws { rng, next: DRAWS_AHEAD, values: [0; DRAWS_AHEAD] }
    }

    /// The next draw of `dist`, which must be the same distribution at every call.
    #[inline(always)]
    pub fn next(&mut self, dist: &Dist) -> Nanos {
        match dist {
            Dist::Exponential { exp, .. } => self.next_with(|rng| round_ns(exp.sample(rng))),
            _ => self.next_with(|rng| dist.sample(rng)),
        }
    }

    /// The next value of `draw`, which must be the same function of the stream at every call.
    #[inline(always)]
    pub fn next_with<F: FnMut(&mut Stream) -> Nanos>(&mut self, draw: F) -> Nanos {
        if self.next == DRAWS_AHEAD {
            self.refill(draw);
        }
        let v = self.values[self.next];
        self.next += 1;
        v
    }

    #[inline(never)]
    fn refill<F: FnMut(&mut Stream) -> Nanos>(&mut self, mut draw: F) {
        for v in &mut self.values {
            *v = draw(&mut self.rng);
        }
        self.next = 0;
    }
}

fn truncated_normal_mean(mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    // Trapezoid over 4001 points of the density on [lo, hi] clipped to mean +- 8 sd.
    if sd == 0.0 {
        return mean.clamp(lo, hi);
    }
    let (a, b) = (lo.max(mean - 8.0 * sd), hi.min(mean + 8.0 * sd));
    let n = 4000;
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..=n {
        let x = a + (b - a) * i as f64 / n as f64;
        let w = if i == 0 || i == n { 0.5 } else { 1.0 };
        let d = (-0.5 * ((x - mean) / sd).powi(2)).exp() * w;
        num += x * d;
        den += d;
    }
    num / den
}

fn interpolate(points: &[(f64, f64)], u: f64) -> f64 {
    let i = points.partition_point(|(p, _)| *p <= u).clamp(1, points.len() - 1);
    let ((p0, v0), (p1, v1)) = (points[i - 1], points[i]);
    if p1 <= p0 {
        return v1;
    }
    v0 + (v1 - v0) * (u - p0) / (p1 - p0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drawn ahead or one at a time, a stream gives the same values in the same order, over
    /// several batches, for the inline exponential and for the general path.
    #[test]
    fn draws_made_ahead_are_the_draws_made_one_at_a_time() {
        for d in [Dist::exponential(3e6), Dist::lognormal(2e6, 9e6), Dist::Constant(7)] {
            let mut one = Stream::new(5, "service/x", "service_time");
            let mut ahead = Draws::new(Stream::new(5, "service/x", "service_time"));
            for i in 0..3 * DRAWS_AHEAD + 5 {
                assert_eq!(ahead.next(&d), d.sample(&mut one), "{d:?}, draw {i}");
            }
        }
    }

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let mut rng = Stream::new(11, "dist", "test");
        (0..n).map(|_| d.sample(&mut rng) as f64).sum::<f64>() / n as f64
    }

    fn quantile_of(d: &Dist, n: usize, q: f64) -> f64 {
        let mut rng = Stream::new(12, "dist", "test");
        let mut v: Vec<Nanos> = (0..n).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        v[(q * n as f64) as usize] as f64
    }

    #[test]
    fn draws_are_rounded_and_capped() {
        assert_eq!(round_ns(2.4), 2);
        assert_eq!(round_ns(2.5), 3);
        assert_eq!(round_ns(-7.0), 0);
        assert_eq!(round_ns(f64::NAN), 0);
        assert_eq!(round_ns(1e300), MAX_DRAW_NS);
        // A lognormal with an extreme spread draws far past u64; every draw stays capped.
        let d = Dist::lognormal(1.0, 8.64e17);
        let mut rng = Stream::new(1, "cap", "t");
        assert!((0..100_000).all(|_| d.sample(&mut rng) <= MAX_DRAW_NS));
    }

    #[test]
    fn exponential_mean_matches() {
        // Exp(mean 2 ms): standard error of the mean over 1e6 draws is 2 us; allow 5 sigma.
        let m = mean_of(&Dist::exponential(2e6), 1_000_000);
        assert!((m - 2e6).abs() < 10e3, "{m}");
        assert_eq!(Dist::exponential(2e6).mean_ns(), 2e6);
        // Lognormal mean exp(mu + sigma^2/2) with median 10, p99 80: sigma = ln 8 / z99.
        let sigma = 8f64.ln() / Z_99;
        assert!((Dist::lognormal(10.0, 80.0).mean_ns() - 10.0 * (sigma * sigma / 2.0).exp()).abs() < 1e-9);
    }

    #[test]
    fn lognormal_hits_median_and_p99() {
        let d = Dist::lognormal(10e6, 80e6);
        let (p50, p99) = (quantile_of(&d, 400_000, 0.5), quantile_of(&d, 400_000, 0.99));
        assert!((p50 / 10e6 - 1.0).abs() < 0.01, "{p50}");
        assert!((p99 / 80e6 - 1.0).abs() < 0.03, "{p99}");
    }

    #[test]
    fn empirical_interpolates_between_points() {
        let d = Dist::Empirical(vec![(0.0, 0.0), (0.5, 10.0), (1.0, 30.0)]);
        assert_eq!(interpolate(&[(0.0, 0.0), (0.5, 10.0), (1.0, 30.0)], 0.25), 5.0);
        assert_eq!(interpolate(&[(0.0, 0.0), (0.5, 10.0), (1.0, 30.0)], 0.75), 20.0);
        // Mean of the piecewise-uniform: 0.5 * 5 + 0.5 * 20 = 12.5.
        assert!((d.mean_ns() - 12.5).abs() < 1e-9);
    }

    #[test]
    fn truncated_normal_stays_in_range_and_uniform_mean() {
        let d = Dist::truncated_normal(5e6, 3e6, 0.0, f64::INFINITY);
        let mut rng = Stream::new(1, "tn", "t");
        assert!((0..10_000).all(|_| d.sample(&mut rng) as f64 >= 0.0));
        let u = Dist::Uniform { min_ns: 0.0, width_ns: 20e6 };
        let m = mean_of(&u, 1_000_000);
        // sd of U(0,20ms) is 5.77 ms; standard error 5.8 us; allow 5 sigma.
        assert!((m - 10e6).abs() < 29e3, "{m}");
    }
}
