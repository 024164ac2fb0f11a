//! Background noise of a real fleet (issue 13's "noise at scale"): CPU steal and noisy
//! neighbours as a service-time multiplier that varies in time on a share of the instances.
//! Each noisy instance alternates segments whose lengths are exponential with mean
//! `segment_ns`; each segment draws its multiplier uniformly from `[low, high]` (1 means a
//! quiet segment). Event-free and not yet in the format: the model will ask the multiplier
//! when work starts, as it asks a CPU stress.

use cellsim_sim::{Nanos, Stream};

/// CPU steal's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Steal {
    pub segment_ns: f64,
    pub low: f64,
    pub high: f64,
}

/// One instance's steal over time, from its own stream.
#[derive(Clone, Debug)]
pub struct StealProcess {
    spec: Steal,
    rng: Stream,
    /// The current segment's multiplier and its end.
    multiplier: f64,
    until_ns: Nanos,
}

impl StealProcess {
    /// From time 0, drawing from `rng` (a stream of its own, named by the instance).
    pub fn new(spec: Steal, rng: Stream) -> StealProcess {
        let mut p = StealProcess { spec, rng, multiplier: 1.0, until_ns: 0 };
        p.next_segment(0);
        p
    }

    fn next_segment(&mut self, from_ns: Nanos) {
        let u = self.rng.unit();
        let length = (-(1.0 - u).ln() * self.spec.segment_ns).round().max(1.0) as Nanos;
        self.until_ns = from_ns.saturating_add(length);
        self.multiplier = self.spec.low + (self.spec.high - self.spec.low) * self.rng.unit();
    }

    /// The multiplier for work started at `now` (times only move forward).
    pub fn multiplier_at(&mut self, now: Nanos) -> f64 {
        while now >= self.until_ns {
            let from = self.until_ns;
            self.next_segment(from);
        }
        self.multiplier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments of mean 1 s, multipliers uniform in [1, 2]: the time-average multiplier is
    /// 1.5, and the multiplier stays within its range; the same stream gives the same steal.
    #[test]
    fn steal_averages_the_middle_of_its_range() {
        let spec = Steal { segment_ns: 1e9, low: 1.0, high: 2.0 };
        let mut p = StealProcess::new(spec, Stream::new(1, "service/api/instance/0", "steal"));
        let samples: Vec<f64> = (0..200_000u64).map(|k| p.multiplier_at(k * 10_000_000)).collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        // 2,000 s of 1 s segments: about 2,000 draws of a uniform (sd 0.29): the mean's sd is
        // about 0.0065 (more with segments of unequal length).
        assert!((mean - 1.5).abs() < 0.04, "{mean}");
        assert!(samples.iter().all(|&m| (1.0..=2.0).contains(&m)));
        let changes = samples.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(changes.abs_diff(2000) < 200, "{changes} segments in 2,000 s");
        let mut q = StealProcess::new(spec, Stream::new(1, "service/api/instance/0", "steal"));
        assert!((0..1000u64).all(|k| q.multiplier_at(k * 10_000_000) == samples[k as usize]));
    }

    /// A fixed multiplier (low = high) is that multiplier at every instant.
    #[test]
    fn a_fixed_steal_is_a_constant_multiplier() {
        let spec = Steal { segment_ns: 1e8, low: 1.25, high: 1.25 };
        let mut p = StealProcess::new(spec, Stream::new(3, "x", "steal"));
        assert!((0..10_000u64).all(|k| p.multiplier_at(k * 1_000_000) == 1.25));
    }
}
