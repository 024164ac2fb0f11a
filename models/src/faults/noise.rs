//! Background noise of a real fleet (`[noise]`): CPU steal and noisy neighbours, random
//! stop-the-world pauses, and network jitter with rare spikes. Noise is part of the steady
//! state: a paired baseline keeps it. Event-free: the model asks it when work starts and when
//! a message is sent.
//!
//! - **CPU steal**: on a share of the instances, a service-time multiplier that varies in
//!   time. Each noisy instance alternates segments whose lengths are exponential with mean
//!   `segment_ns`; each segment draws its multiplier uniformly from `[low, high]` (1 means a
//!   quiet segment). Work that starts in a segment takes the segment's multiplier times as
//!   long, as a CPU stress does.
//! - **Pauses**: on a share of the instances, stop-the-world pauses (a collector's, a VM's)
//!   with exponential gaps of mean `every_ns` between them and lengths drawn from `pause`.
//!   Work in progress during a pause stops and resumes after it: a job at work over
//!   `[s, s + w)` ends later by every pause that overlaps its (extended) work, and a job
//!   that starts during a pause waits for its end.
//! - **Network**: every message (request and answer) takes a uniform extra in
//!   `[0, jitter_ns]`, and with chance `spike_p` a spike drawn from `spike` on top.

use crate::dist::Dist;
use cellsim_sim::{Nanos, Stream};

/// `[noise]`, compiled: each part `None` when off.
#[derive(Clone, Debug, Default)]
pub struct NoiseSpec {
    pub steal: Option<(f64, Steal)>,
    pub pauses: Option<Pauses>,
    pub network: Option<NetworkNoise>,
}

/// Random stop-the-world pauses on a share of the instances.
#[derive(Clone, Debug)]
pub struct Pauses {
    /// The share of instances that pause, from 0 to 1.
    pub share: f64,
    /// The mean gap between pauses (exponential).
    pub every_ns: f64,
    pub pause: Dist,
}

/// Network jitter and spikes on every message.
#[derive(Clone, Debug)]
pub struct NetworkNoise {
    pub jitter_ns: Nanos,
    pub spike_p: f64,
    pub spike: Dist,
}

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

    /// The multiplier for work started at `now` (times only move forward). After a long
    /// quiet spell (over 1,000 mean segments) the process starts afresh at `now`: segments
    /// are exponential and their multipliers independent of their lengths, so the multiplier
    /// in force at `now` has the same law either way.
    pub fn multiplier_at(&mut self, now: Nanos) -> f64 {
        if now >= self.until_ns && (now - self.until_ns) as f64 > 1000.0 * self.spec.segment_ns {
            self.next_segment(now);
        }
        while now >= self.until_ns {
            let from = self.until_ns;
            self.next_segment(from);
        }
        self.multiplier
    }
}

/// One instance's pauses: the earliest not yet over at the last question, and the stream
/// that draws the ones after it.
#[derive(Clone, Debug)]
struct PauseProcess {
    start_ns: Nanos,
    length_ns: Nanos,
    rng: Stream,
}

impl PauseProcess {
    fn new(spec: &Pauses, mut rng: Stream) -> PauseProcess {
        let start_ns = exponential(&mut rng, spec.every_ns);
        let length_ns = spec.pause.sample(&mut rng);
        PauseProcess { start_ns, length_ns, rng }
    }

    fn end_ns(&self) -> Nanos {
        self.start_ns.saturating_add(self.length_ns)
    }

    fn advance(&mut self, spec: &Pauses) {
        self.start_ns = self
            .end_ns()
            .saturating_add(exponential(&mut self.rng, spec.every_ns))
            .max(self.end_ns().saturating_add(1));
        self.length_ns = spec.pause.sample(&mut self.rng);
    }

    /// How much later work of `work_ns` started at `now` ends: the rest of a pause in
    /// progress, and every pause that starts before the work (so extended) is done. Times
    /// only move forward; pauses ahead are looked at on a copy, so the next question sees
    /// them again.
    fn delay_ns(&mut self, spec: &Pauses, now: Nanos, work_ns: Nanos) -> Nanos {
        let mut skipped = 0;
        while self.end_ns() <= now {
            skipped += 1;
            if skipped > MAX_PAUSES_AHEAD {
                // A long quiet spell: start afresh at `now`, in a gap (gaps are memoryless).
                *self = PauseProcess { start_ns: now, length_ns: 0, rng: self.rng.clone() };
                self.advance(spec);
                break;
            }
            self.advance(spec);
        }
        let mut end = now.saturating_add(work_ns);
        if self.start_ns >= end {
            return 0; // the common case: no pause before the work is done
        }
        let mut extra = 0;
        let mut ahead = self.clone();
        if ahead.start_ns <= now {
            extra = ahead.end_ns() - now; // paused now: the work waits for the end
            end = end.saturating_add(extra);
            ahead.advance(spec);
        }
        let mut met = 0;
        while ahead.start_ns < end {
            met += 1;
            if met > MAX_PAUSES_AHEAD {
                // Work that spans more pauses than that: the rest of it is paused their mean
                // share, P / (T + P).
                let p = spec.pause.mean_ns();
                let share = p / (spec.every_ns + p);
                let rest = (end - ahead.start_ns) as f64 * share / (1.0 - share).max(1e-9);
                return extra.saturating_add(crate::dist::round_ns(rest));
            }
            extra = extra.saturating_add(ahead.length_ns);
            end = end.saturating_add(ahead.length_ns);
            ahead.advance(spec);
        }
        extra
    }
}

/// The most pauses one question walks, past or ahead (see `delay_ns`).
const MAX_PAUSES_AHEAD: u32 = 1000;

fn exponential(rng: &mut Stream, mean_ns: f64) -> Nanos {
    (-(1.0 - rng.unit()).ln() * mean_ns).round() as Nanos
}

/// The noise of a run: by global instance, its steal and its pauses (`None`: quiet), and the
/// network's stream.
#[derive(Clone, Debug)]
pub struct NoiseState {
    spec: NoiseSpec,
    steal: Vec<Option<StealProcess>>,
    pauses: Vec<Option<PauseProcess>>,
    network: Option<Stream>,
}

impl NoiseState {
    /// What it holds per instance (for the memory estimate).
    pub const BYTES_PER_INSTANCE: u64 =
        (std::mem::size_of::<Option<StealProcess>>() + std::mem::size_of::<Option<PauseProcess>>()) as u64;

    /// For `instances`, each named by its service and its index there (its streams are
    /// `service/{name}/instance/{i}`, purposes `steal` and `pauses`: adding a service moves
    /// no other instance's noise). Whether an instance is noisy is the first draw of its
    /// stream against the share.
    pub fn new<'a>(spec: &NoiseSpec, seed: u64, instances: impl Iterator<Item = (&'a str, u32)>) -> NoiseState {
        let mut steal = Vec::new();
        let mut pauses = Vec::new();
        for (service, i) in instances {
            let entity = format!("service/{service}/instance/{i}");
            steal.push(spec.steal.and_then(|(share, s)| {
                let mut rng = Stream::new(seed, &entity, "steal");
                (rng.unit() < share).then(|| StealProcess::new(s, rng))
            }));
            pauses.push(spec.pauses.as_ref().and_then(|p| {
                let mut rng = Stream::new(seed, &entity, "pauses");
                (rng.unit() < p.share).then(|| PauseProcess::new(p, rng))
            }));
        }
        let network = spec.network.as_ref().map(|_| Stream::new(seed, "noise", "network"));
        NoiseState { spec: spec.clone(), steal, pauses, network }
    }

    /// How long work of `work_ns` started at `now` on global instance `inst` takes with the
    /// instance's steal and pauses.
    #[inline]
    pub fn work_ns(&mut self, inst: u32, now: Nanos, work_ns: Nanos) -> Nanos {
        let mut work = work_ns;
        if let Some(Some(s)) = self.steal.get_mut(inst as usize) {
            let m = s.multiplier_at(now);
            if m != 1.0 {
                work = (work as f64 * m).round() as Nanos;
            }
        }
        if let (Some(Some(p)), Some(spec)) = (self.pauses.get_mut(inst as usize), &self.spec.pauses) {
            work = work.saturating_add(p.delay_ns(spec, now, work));
        }
        work
    }

    /// Does the network add noise to messages?
    #[inline]
    pub fn on_the_network(&self) -> bool {
        self.network.is_some()
    }

    /// The extra time of one message: its jitter, and a spike now and then.
    pub fn message_ns(&mut self) -> Nanos {
        let (Some(n), Some(rng)) = (&self.spec.network, self.network.as_mut()) else { return 0 };
        let mut extra = (rng.unit() * n.jitter_ns as f64).round() as Nanos;
        if n.spike_p > 0.0 && rng.unit() < n.spike_p {
            extra = extra.saturating_add(n.spike.sample(rng));
        }
        extra
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

    fn pauses(every_ms: u64, pause_ms: u64) -> Pauses {
        Pauses { share: 1.0, every_ns: every_ms as f64 * 1e6, pause: Dist::Constant(pause_ms * 1_000_000) }
    }

    /// Pauses of 100 ms with gaps of mean 1 s: work of 1 ms started at a random instant is
    /// in a pause with chance 0.1 / 1.1 and waits half of it on average, or meets the start of
    /// one with chance 0.001 / 1.1 and waits all of it: 4.636 ms later on average.
    #[test]
    fn pauses_delay_work_by_what_overlaps_it() {
        let spec = pauses(1000, 100);
        let mut p = PauseProcess::new(&spec, Stream::new(5, "x", "pauses"));
        let n = 2_000_000u64;
        let total: u64 = (0..n).map(|k| p.delay_ns(&spec, k * 1_000_000 + 1, 1_000_000)).sum();
        let mean_ms = total as f64 / n as f64 / 1e6;
        let expected = 0.1 / 1.1 * 50.0 + 0.001 / 1.1 * 100.0;
        // About 1,800 pauses: the share paused varies by about 2.4%.
        assert!((mean_ms - expected).abs() < 0.1 * expected, "{mean_ms} ms (expected {expected})");
    }

    /// By hand: a pause at [10, 30) ms, the next ones far later (gaps of mean 1,000 s).
    #[test]
    fn a_pause_in_progress_or_ahead_delays_the_work() {
        let spec = pauses(1_000_000, 20);
        let mut p = PauseProcess { start_ns: 10_000_000, length_ns: 20_000_000, rng: Stream::new(1, "x", "p") };
        assert_eq!(p.delay_ns(&spec, 0, 5_000_000), 0, "done before the pause");
        assert_eq!(p.delay_ns(&spec, 5_000_000, 10_000_000), 20_000_000, "runs into it: waits all of it");
        assert_eq!(p.delay_ns(&spec, 20_000_000, 1_000_000), 10_000_000, "starts inside: waits for its end");
        assert!(p.start_ns == 10_000_000, "the pauses ahead were only looked at");
    }

    /// Found by fuzz-compile (fuzz/seeds/noise-on-endless-work.toml): work of 10^18 ns walked
    /// every pause ahead of it. Work of 10,000 s with pauses of 100 ms every 1 s: the first
    /// 1,000 pauses are walked, the rest counted at their share; about 1,000 s in all (the
    /// pauses take 1 / 11 of the elapsed 11,000 s). And a question after a quiet spell of
    /// 10,000 pauses starts afresh rather than walking them.
    #[test]
    fn work_longer_than_a_thousand_pauses_is_paused_their_share() {
        let spec = pauses(1000, 100);
        let mut p = PauseProcess::new(&spec, Stream::new(9, "x", "pauses"));
        let extra_s = p.delay_ns(&spec, 0, 10_000 * 1_000_000_000) as f64 / 1e9;
        assert!((extra_s - 1000.0).abs() < 50.0, "{extra_s} s");
        let huge = p.delay_ns(&spec, 1, 1_000_000_000_000_000_000);
        assert!(huge > 0 && huge < u64::MAX / 2);
        p.delay_ns(&spec, 11_000 * 1_000_000_000_000, 1);
        assert!(p.start_ns >= 11_000 * 1_000_000_000_000);
    }
}
