//! What a run records: outcome counts, HDR latency histograms, batch means for confidence
//! intervals, time averages for Little's law, and time-bucketed rows streamed to a sink.
//!
//! Everything here has a fixed size per workload and service: the only record that grows
//! with simulated duration is the series, and it is handed to a [`SeriesSink`] bucket by
//! bucket instead of being kept.

use cellsim_sim::Nanos;
use hdrhistogram::Histogram;

/// How a request, a call attempt or a service job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Succeeded with every call it made.
    Ok,
    /// Succeeded, but an optional call failed: the answer is partial.
    Degraded,
    /// Failed: the service failed, or a critical call of it did.
    Error,
    /// The caller stopped waiting.
    Timeout,
    /// A full queue turned it away.
    Rejected,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::Degraded,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::Rejected,
    ];

    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Degraded)
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Degraded => "degraded",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
        }
    }
}

/// Counts per outcome, indexed by `Outcome as usize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes(pub [u64; 5]);

impl Outcomes {
    #[inline]
    pub fn add(&mut self, o: Outcome) {
        self.0[o as usize] += 1;
    }
    pub fn get(&self, o: Outcome) -> u64 {
        self.0[o as usize]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn successes(&self) -> u64 {
        self.get(Outcome::Ok) + self.get(Outcome::Degraded)
    }
}

/// Latency histograms cover 1 ns to 1 hour at 3 significant digits (0.1% resolution).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("static bounds are valid")
}

#[inline]
pub fn record(h: &mut Histogram<u64>, ns: Nanos) {
    h.saturating_record(ns.max(1));
}

/// The number of batches for batch means: the measurement window is cut into this many
/// equal time slices, by the time a request or job arrived.
pub const BATCHES: usize = 20;

/// Student's t quantiles for BATCHES - 1 = 19 degrees of freedom.
pub const T_19_95: f64 = 2.093_024;
pub const T_19_99: f64 = 2.860_935;

/// Per-batch sums and counts of one measure, for a confidence interval by batch means.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchMeans {
    pub sum: [f64; BATCHES],
    pub count: [u64; BATCHES],
}

impl BatchMeans {
    #[inline]
    pub fn add(&mut self, batch: usize, x: f64) {
        self.sum[batch] += x;
        self.count[batch] += 1;
    }

    /// Batch means of the batches that received data.
    pub fn means(&self) -> Vec<f64> {
        self.sum
            .iter()
            .zip(&self.count)
            .filter(|(_, &n)| n > 0)
            .map(|(s, &n)| s / n as f64)
            .collect()
    }

    /// The mean of the batch means and the half-width of its interval with Student's
    /// quantile `t` (use `T_19_95` or `T_19_99`). None if fewer than all batches have data.
    pub fn interval(&self, t: f64) -> Option<(f64, f64)> {
        let m = self.means();
        if m.len() < BATCHES {
            return None;
        }
        let k = m.len() as f64;
        let mean = m.iter().sum::<f64>() / k;
        let var = m.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
        Some((mean, t * (var / k).sqrt()))
    }
}

/// The time-weighted average of an integer quantity over the window [from_ns, to_ns].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeAverage {
    pub value: u64,
    last_ns: Nanos,
    /// Integral of `value` over the window, in value-nanoseconds.
    pub area: u128,
}

impl TimeAverage {
    #[inline]
    pub fn change(&mut self, now: Nanos, window: (Nanos, Nanos), up: bool) {
        let (from, to) = (self.last_ns.max(window.0), now.min(window.1));
        if to > from {
            self.area += self.value as u128 * (to - from) as u128;
        }
        self.last_ns = now;
        if up {
            self.value += 1;
        } else {
            self.value -= 1;
        }
    }

    /// Closes the window at its end and returns the average.
    pub fn average(&mut self, window: (Nanos, Nanos)) -> f64 {
        let (from, to) = (self.last_ns.max(window.0), window.1);
        if to > from {
            self.area += self.value as u128 * (to - from) as u128;
            self.last_ns = to;
        }
        let width = window.1.saturating_sub(window.0);
        if width == 0 {
            0.0
        } else {
            self.area as f64 / width as f64
        }
    }
}

/// What the run records for one request type of one workload (end to end).
#[derive(Clone, Debug)]
pub struct RequestStats {
    pub workload: String,
    pub request: String,
    /// Requests counted: those that started after the warm-up and finished.
    pub outcomes: Outcomes,
    /// Attempts the client made for the counted requests (1 each, more with retries).
    pub attempts: u64,
    /// Latency of successful (ok and degraded) requests.
    pub latency: Histogram<u64>,
    /// Latency of every counted request, whatever its outcome.
    pub latency_all: Histogram<u64>,
    pub latency_batches: BatchMeans,
    /// 1 for a success, 0 otherwise, per request: availability with an interval.
    pub success_batches: BatchMeans,
}

/// What the run records for one service, over all its instances.
#[derive(Clone, Debug)]
pub struct ServiceStats {
    pub service: String,
    pub instances: u32,
    pub workers_per_instance: u32,
    /// Jobs that arrived after the warm-up (one per call attempt that reached the service).
    pub arrivals: u64,
    /// Completed jobs by outcome; `Rejected` counts arrivals turned away by a full queue.
    pub outcomes: Outcomes,
    /// Jobs that waited in the queue before a worker took them.
    pub waited: u64,
    /// Jobs that reached a worker.
    pub started: u64,
    /// Time from arrival at the instance to the reply (completed jobs).
    pub sojourn: Histogram<u64>,
    /// Time from arrival to the start of work (started jobs).
    pub wait: Histogram<u64>,
    pub sojourn_batches: BatchMeans,
    pub wait_batches: BatchMeans,
    /// 1 if the job waited, 0 otherwise (started jobs).
    pub waited_batches: BatchMeans,
    /// 1 if the arrival was rejected, 0 otherwise.
    pub rejected_batches: BatchMeans,
    /// Jobs present (queued, working or waiting on calls), busy workers, queued jobs.
    pub in_system: TimeAverage,
    pub busy: TimeAverage,
    pub queued: TimeAverage,
}

impl RequestStats {
    pub fn new(workload: &str, request: &str) -> Self {
        RequestStats {
            workload: workload.to_string(),
            request: request.to_string(),
            outcomes: Outcomes::default(),
            attempts: 0,
            latency: new_histogram(),
            latency_all: new_histogram(),
            latency_batches: BatchMeans::default(),
            success_batches: BatchMeans::default(),
        }
    }
}

impl ServiceStats {
    pub fn new(service: &str, instances: u32, workers_per_instance: u32) -> Self {
        ServiceStats {
            service: service.to_string(),
            instances,
            workers_per_instance,
            arrivals: 0,
            outcomes: Outcomes::default(),
            waited: 0,
            started: 0,
            sojourn: new_histogram(),
            wait: new_histogram(),
            sojourn_batches: BatchMeans::default(),
            wait_batches: BatchMeans::default(),
            waited_batches: BatchMeans::default(),
            rejected_batches: BatchMeans::default(),
            in_system: TimeAverage::default(),
            busy: TimeAverage::default(),
            queued: TimeAverage::default(),
        }
    }
}

/// One workload's requests that finished in one time bucket (warm-up included).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    pub bucket_start_ns: Nanos,
    pub workload: String,
    pub outcomes: Outcomes,
    /// Percentiles and mean of successful requests' latency; None if there were none.
    pub p50_ns: Option<Nanos>,
    pub p99_ns: Option<Nanos>,
    pub mean_ns: Option<f64>,
}

/// Receives series rows as buckets close, in time order, workloads in scenario order.
pub trait SeriesSink {
    fn row(&mut self, row: SeriesRow);
}

impl SeriesSink for Vec<SeriesRow> {
    fn row(&mut self, row: SeriesRow) {
        self.push(row);
    }
}

/// Discards the series.
pub struct NoSeries;
impl SeriesSink for NoSeries {
    fn row(&mut self, _: SeriesRow) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_average_integrates_inside_the_window_only() {
        let mut t = TimeAverage::default();
        let w = (10, 30);
        t.change(0, w, true); // 1 from 0
        t.change(20, w, true); // 2 from 20
        t.change(40, w, false); // 1 from 40 (outside)
                                // Inside [10, 30]: 1 for 10 ns, 2 for 10 ns: area 30, average 1.5.
        assert_eq!(t.average(w), 1.5);
    }

    #[test]
    fn batch_interval_of_known_values() {
        let mut b = BatchMeans::default();
        for i in 0..BATCHES {
            // Batch means alternate 1 and 3: mean 2, sample sd = sqrt(20/19).
            b.add(i, if i % 2 == 0 { 1.0 } else { 3.0 });
        }
        let (mean, half) = b.interval(T_19_95).unwrap();
        assert_eq!(mean, 2.0);
        let expected = T_19_95 * ((20.0f64 / 19.0) / 20.0).sqrt();
        assert!((half - expected).abs() < 1e-12);
        let mut partial = BatchMeans::default();
        partial.add(0, 1.0);
        assert_eq!(partial.interval(T_19_95), None);
    }
}
