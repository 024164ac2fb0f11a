//! What a run records: outcome counts, HDR latency histograms, batch means for confidence
//! intervals, time averages for Little's law, and time-bucketed rows streamed to a sink.
//!
//! Everything here has a fixed size per workload and service: the only record that grows
//! with simulated duration is the series, and it is handed to a [`SeriesSink`] bucket by
//! bucket instead of being kept.

use cellsim_sim::Nanos;
use hdrhistogram::Histogram;

use crate::outcome::Outcomes;

/// Latency histograms cover 1 ns to 1 hour at 3 significant digits (0.1% resolution).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("static bounds are valid")
}

/// A histogram of [`new_histogram`]'s layout sized for values up to `highest_ns` (at least
/// 2), which resizes itself when a larger value is recorded or added. Quantiles, mean,
/// minimum and maximum do not depend on the size, only the memory does: about 16 KB empty,
/// 270 KB at the full hour.
pub fn sized_histogram(highest_ns: u64) -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, highest_ns.clamp(2, HIGHEST_NS), 3).expect("bounds are valid");
    h.auto(true);
    h
}

/// What a run records latencies into: the counters of [`new_histogram`]'s layout and nothing
/// else, turned into that HDR histogram when the run ends ([`LatencyRecorder::into_histogram`]).
///
/// `hdrhistogram`'s own `record` also keeps the minimum, the maximum and the total, checks
/// the range and widens the count; over half its time on the M/M/c benchmark went there. A
/// record here is a clamp, a leading-zero count, two shifts and an increment of a 16-bit
/// counter (a quarter of the cache footprint of the histogram's 64-bit ones: the counters a
/// run touches stay in the first-level cache). The HDR histogram is
/// rebuilt by recording each counter's count at its slot's lowest value, so its quantiles,
/// mean, minimum and maximum are exactly those of recording every value into it directly.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    counts: Vec<u16>,
    /// Slots whose counter wrapped past `u16::MAX`, once per wrap (each worth 2^16 counts).
    wraps: Vec<u32>,
}

/// The layout of `Histogram::new_with_bounds(1, HIGHEST_NS, 3)`: 2048 sub-buckets (the
/// smallest power of two over 2 x 10^3), so each power of two above 2048 holds 1024 slots.
const HIGHEST_NS: u64 = 3_600_000_000_000;
const HALF_SUB_BITS: u32 = 10;
/// 64 - log2(2048): the bucket of v is this minus the leading zeros of (v | 2047).
const LZ_BASE: u32 = 53;
/// The largest value the counters hold: HDR sizes the array in whole powers of two.
const TOP_NS: u64 = (1 << 42) - 1;

/// Empty: the counters grow to the largest slot recorded, so a service or request type that
/// sees no traffic costs nothing, and one whose latencies stay under a second about 40 KB.
impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder { counts: Vec::new(), wraps: Vec::new() }
    }
}

impl LatencyRecorder {
    /// The counters at their largest: every slot up to the top, and a few wraps.
    pub const MAX_HEAP_BYTES: u64 = 2 * (Self::slot(TOP_NS) as u64 + 1);

    /// HDR's `index_for` for this layout (unit magnitude 0).
    #[inline]
    const fn slot(v: u64) -> usize {
        let bucket = LZ_BASE - (v | 2047).leading_zeros();
        ((bucket << HALF_SUB_BITS) as u64 + (v >> bucket)) as usize
    }

    /// The lowest value of `slot` (HDR's `value_from_index`).
    fn lowest(slot: usize) -> u64 {
        let (bucket, sub) = (slot >> HALF_SUB_BITS, slot & ((1 << HALF_SUB_BITS) - 1));
        if bucket == 0 {
            return sub as u64;
        }
        ((sub + (1 << HALF_SUB_BITS)) as u64) << (bucket - 1)
    }

    /// Records a latency as the HDR histogram's `saturating_record(ns.max(1))` would: 0 counts
    /// as 1 ns, and a value past the top counter (2^42 - 1 ns, about 73 minutes) as an hour.
    #[inline]
    pub fn record(&mut self, ns: Nanos) {
        let v = if ns > TOP_NS { HIGHEST_NS } else { ns.max(1) };
        let s = Self::slot(v);
        let Some(c) = self.counts.get_mut(s) else { return self.grow_and_record(s) };
        *c = c.wrapping_add(1);
        if *c == 0 {
            self.wraps.push(s as u32);
        }
    }

    #[cold]
    #[inline(never)]
    fn grow_and_record(&mut self, s: usize) {
        // Whole powers of two of slots, so that a run grows the counters a few times at most.
        self.counts.resize((s + 1).next_power_of_two().min(Self::slot(TOP_NS) + 1), 0);
        self.counts[s] = 1;
    }

    /// Bytes held by the counters now.
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * 2 + self.wraps.capacity() * 4
    }

    /// The HDR histogram of the recorded values, sized to hold the largest.
    pub fn into_histogram(self) -> Histogram<u64> {
        let top = self.counts.iter().rposition(|&c| c > 0).max(self.wraps.iter().map(|&s| s as usize).max());
        let mut h = sized_histogram(top.map_or(2, Self::lowest));
        for (s, &c) in self.counts.iter().enumerate().filter(|(_, &c)| c > 0) {
            h.record_n(Self::lowest(s), c as u64).expect("slot values are in range");
        }
        for &s in &self.wraps {
            h.record_n(Self::lowest(s as usize), 1 << 16).expect("slot values are in range");
        }
        h
    }
}

/// A per-bucket latency histogram for the time series: log-linear counters with 64 linear
/// steps per power of two (values up to 63 ns exact, others within 1/64 = 1.6%), an exact sum
/// for the mean, and reads and resets that touch only the slots up to the largest value seen.
/// HDR histograms (every other latency record) are too slow to read and clear every bucket.
#[derive(Clone, Debug, Default)]
pub struct SeriesHistogram {
    /// Grown to the largest slot recorded (see `record`).
    counts: Vec<u32>,
    total: u64,
    sum_ns: u128,
    top: usize,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

impl SeriesHistogram {
    /// The counters at their largest.
    pub const MAX_HEAP_BYTES: u64 = 4 * (Self::slot(u64::MAX) as u64 + 1);

    #[inline]
    const fn slot(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let e = 63 - v.leading_zeros(); // >= SUB_BITS
        let shift = e - SUB_BITS;
        let mantissa = v >> shift; // in [SUB, 2 SUB)
        (SUB + shift as u64 * SUB + (mantissa - SUB)) as usize
    }

    /// The largest value that falls in `slot`.
    fn highest(slot: usize) -> u64 {
        let slot = slot as u64;
        if slot < SUB {
            return slot;
        }
        let shift = (slot - SUB) / SUB;
        let mantissa = SUB + (slot - SUB) % SUB;
        // u128: the top slot ends at u64::MAX, one below 2^64.
        ((((mantissa + 1) as u128) << shift) - 1) as u64
    }

    #[inline]
    pub fn record(&mut self, ns: Nanos) {
        let s = Self::slot(ns);
        let Some(c) = self.counts.get_mut(s) else { return self.grow_and_record(s, ns) };
        *c = c.saturating_add(1);
        self.top = self.top.max(s);
        self.total += 1;
        self.sum_ns += ns as u128;
    }

    #[cold]
    #[inline(never)]
    fn grow_and_record(&mut self, s: usize, ns: Nanos) {
        self.counts.resize((s + 1).next_power_of_two().min(Self::slot(u64::MAX) + 1), 0);
        self.record(ns);
    }

    /// p50, p99 (the largest value of the slot holding each rank) and the exact mean.
    pub fn percentiles(&self) -> Option<(Nanos, Nanos, f64)> {
        if self.total == 0 {
            return None;
        }
        let rank = |q: f64| ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let (r50, r99) = (rank(0.5), rank(0.99));
        let (mut seen, mut p50) = (0u64, None);
        for (slot, &c) in self.counts[..=self.top].iter().enumerate() {
            seen += c as u64;
            if p50.is_none() && seen >= r50 {
                p50 = Some(Self::highest(slot));
            }
            if seen >= r99 {
                return Some((p50?, Self::highest(slot), self.sum_ns as f64 / self.total as f64));
            }
        }
        unreachable!("the ranks are within the total")
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The quantile `q` (0 to 1): the largest value of the slot holding its rank.
    pub fn quantile(&self, q: f64) -> Option<Nanos> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (slot, &c) in self.counts[..=self.top].iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return Some(Self::highest(slot));
            }
        }
        unreachable!("the rank is within the total")
    }

    /// The exact mean, and the largest value (its slot's largest).
    pub fn mean(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum_ns as f64 / self.total as f64)
    }

    pub fn max(&self) -> Option<Nanos> {
        self.quantile(1.0)
    }

    /// Adds `other`'s counts (`sign` 1) or takes them away (`sign` -1: `other` was added
    /// before).
    pub fn merge(&mut self, other: &SeriesHistogram, add: bool) {
        if other.total == 0 {
            return;
        }
        if self.counts.len() <= other.top {
            self.counts.resize(other.counts.len().max(other.top + 1), 0);
        }
        for (c, &o) in self.counts.iter_mut().zip(&other.counts[..=other.top]) {
            *c = if add { c.saturating_add(o) } else { c.saturating_sub(o) };
        }
        if add {
            self.total += other.total;
            self.sum_ns += other.sum_ns;
            self.top = self.top.max(other.top);
        } else {
            self.total -= other.total;
            self.sum_ns -= other.sum_ns;
            while self.top > 0 && self.counts[self.top] == 0 {
                self.top -= 1;
            }
        }
    }

    pub fn reset(&mut self) {
        if self.total > 0 {
            self.counts[..=self.top].fill(0);
        }
        self.top = 0;
        self.total = 0;
        self.sum_ns = 0;
    }
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
        self.sum.iter().zip(&self.count).filter(|(_, &n)| n > 0).map(|(s, &n)| s / n as f64).collect()
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

/// One service's counts and sums in one batch of the measurement window, kept together so
/// that a job's arrival, start and reply each touch one place. `ServiceStats::fold_batches`
/// turns them into the `BatchMeans` of the summary (the same sums, added in the same order).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ServiceBatch {
    pub arrivals: u64,
    pub rejected: u64,
    pub started: u64,
    pub waited: u64,
    pub completed: u64,
    pub wait_sum_ns: f64,
    pub sojourn_sum_ns: f64,
}

/// A service's occupancy over the measurement window: the integrals of jobs present, busy
/// workers and queued jobs (Little's L, utilisation, Lq). Each job adds the part of each
/// phase that falls in the window when the phase ends, which is the same integral as
/// following the counts over time, without touching anything at the phase's start. Jobs still
/// in flight when a run is cut off add nothing for their unfinished phases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Occupancy {
    pub in_system: Integral,
    pub busy: Integral,
    pub queued: Integral,
}

/// The integral, in job-nanoseconds, of a count of jobs over the measurement window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Integral(pub u128);

impl Integral {
    /// Adds one job's presence from `from_ns` to `to_ns`, clipped to `window`.
    #[inline]
    pub fn add(&mut self, from_ns: Nanos, to_ns: Nanos, window: (Nanos, Nanos)) {
        let (a, b) = (from_ns.max(window.0), to_ns.min(window.1));
        if b > a {
            self.0 += (b - a) as u128;
        }
    }

    /// The time average over a window of `width_ns`.
    pub fn average(&self, width_ns: Nanos) -> f64 {
        self.0 as f64 / width_ns.max(1) as f64
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
    /// Requests that succeeded after more than one attempt: a failure absorbed at the client.
    pub retried_ok: u64,
    /// Latency of successful (ok and degraded) requests.
    pub latency: Histogram<u64>,
    /// Latency of counted requests that failed (error, timeout, rejected).
    pub latency_failed: Histogram<u64>,
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
    /// Time from arrival to the start of work, for the jobs that waited (`waited` of them);
    /// the other `started - waited` waited zero.
    pub wait: Histogram<u64>,
    pub sojourn_batches: BatchMeans,
    pub wait_batches: BatchMeans,
    /// 1 if the job waited, 0 otherwise (started jobs).
    pub waited_batches: BatchMeans,
    /// 1 if the arrival was rejected, 0 otherwise.
    pub rejected_batches: BatchMeans,
    /// Jobs present (queued, working or waiting on calls), busy workers, queued jobs.
    pub occupancy: Occupancy,
    /// Health checks, ejections and fail-open routing (services with a balancer beyond
    /// round robin, checks, outlier detection or outages).
    pub fleet: Option<crate::fleet::FleetStats>,
    /// Per operation: the jobs' outcomes and sojourns (a service with one operation has one
    /// entry, equal to the service's own counts).
    pub operations: Vec<OperationStats>,
    /// Per instance: jobs admitted after the warm-up, and busy worker time in the window.
    /// Autoscaled services: instance time in service over the measurement window (the
    /// instances' capacity, which changes); `None` for a fixed fleet.
    pub in_service: Option<Integral>,
    pub instances_stats: Vec<InstanceStats>,
    /// What its instances' heaps did over the whole run (`None`: no `memory`).
    pub memory: Option<MemoryStats>,
}

/// A service's heaps over the whole run, its instances summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub oom_kills: u64,
    pub gc_pauses: u64,
    pub gc_paused_ns: u64,
}

/// What one operation of a service recorded.
#[derive(Clone, Debug)]
pub struct OperationStats {
    pub operation: String,
    /// Jobs counted (arrived after the warm-up and ended), by outcome; refusals included.
    pub outcomes: Outcomes,
    /// Time from arrival at the instance to the reply, for jobs that were not refused.
    pub sojourn: Histogram<u64>,
}

/// What one instance did: counts and busy time, not histograms (there may be 100,000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceStats {
    /// Jobs admitted (not refused) that arrived after the warm-up.
    pub jobs: u64,
    /// Worker time spent on jobs, in the measurement window.
    pub busy: Integral,
}

/// What one call declaration (a caller -> callee edge) recorded: the logical calls that
/// started after the warm-up and ended, each counted once whatever its retries.
#[derive(Clone, Debug)]
pub struct EdgeStats {
    /// The calling service and operation.
    pub caller: String,
    pub operation: String,
    /// The call's name (its `name`, by default the callee's).
    pub call: String,
    pub callee: String,
    pub callee_operation: String,
    /// By the call's final outcome (after retries, hedges and fallbacks).
    pub outcomes: Outcomes,
    /// Attempts (and hedged copies) the counted calls made.
    pub attempts: u64,
    /// From the call's start to its end, over its attempts.
    pub latency: Histogram<u64>,
    /// The caller's hop depth from the clients: 1 for a service that workloads call, n + 1
    /// for a service that one of depth n calls (the least over its callers); `None`: no
    /// workload reaches it.
    pub caller_depth: Option<u32>,
    /// Its failure fails the caller (`critical`), or only degrades it.
    pub critical: bool,
    /// Counted calls that succeeded after more than one attempt (a failure absorbed by a
    /// retry, or a hedge that won), and calls its fallback answered.
    pub retried_ok: u64,
    pub fallbacks: u64,
}

/// What happened at one place: a zone (the jobs its instances served) or a cell (the calls
/// routers sent there, by their final attempt), counted after the warm-up.
#[derive(Clone, Debug)]
pub struct PlaceStats {
    pub name: String,
    pub outcomes: Outcomes,
    /// Of successes: a zone's job sojourn, a cell's routed call from start to end.
    pub latency: Histogram<u64>,
    /// The instances placed there (a cell's: of its services), their workers, and the
    /// worker time they spent in the measurement window.
    pub instances: u64,
    pub workers: u64,
    pub busy: Integral,
}

/// Per zone, per cell and per customer, for scenarios with a topology.
#[derive(Clone, Debug)]
pub struct TopologyStats {
    pub zones: Vec<PlaceStats>,
    pub cells: Vec<PlaceStats>,
    /// Customers who sent a counted request, and those of them who saw at least one failed
    /// request (error, timeout, rejected, refused).
    pub customers: u64,
    pub customers_failed: u64,
    /// By router call: what its per-cell health signal did.
    pub routers: Vec<RouterStats>,
    /// The routers' views of cells changing, in time order (the first 1,000).
    pub health_changes: Vec<CellHealthChange>,
    /// Changes beyond the first 1,000, counted only.
    pub health_changes_dropped: u64,
}

/// A router's call into the cells: how often its breakers opened, and how many calls went
/// elsewhere than their customer's cell.
#[derive(Clone, Debug)]
pub struct RouterStats {
    pub router: String,
    pub call: String,
    /// Calls sent to the fallback cell or spread over the healthy ones because their cell's
    /// breaker refused them (after the warm-up or not).
    pub redirected: u64,
    /// By routed cell: how many times its breaker at the router opened.
    pub openings: Vec<u64>,
}

/// A controller's dated action: a scale-out or scale-in, a zonal shift started, ended or
/// refused.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlAction {
    pub at_ns: u64,
    /// "hpa", "target tracking", "zonal shift", "zonal autoshift".
    pub controller: String,
    /// The service scaled, or the zone shifted.
    pub target: String,
    pub what: String,
}

/// A router's breaker for a cell changing state.
#[derive(Clone, Debug)]
pub struct CellHealthChange {
    pub at_ns: u64,
    pub router: String,
    pub cell: String,
    /// "open" (the cell's traffic goes elsewhere), "half-open" (trial calls), "closed".
    pub state: &'static str,
}

impl RequestStats {
    pub fn new(workload: &str, request: &str) -> Self {
        RequestStats {
            workload: workload.to_string(),
            request: request.to_string(),
            outcomes: Outcomes::default(),
            attempts: 0,
            retried_ok: 0,
            latency: sized_histogram(2),
            latency_failed: sized_histogram(2),
            latency_batches: BatchMeans::default(),
            success_batches: BatchMeans::default(),
        }
    }
}

impl ServiceStats {
    /// Sets the counts and batch means that the run kept per batch in `batches`.
    pub fn fold_batches(&mut self, batches: &[ServiceBatch; BATCHES]) {
        for (b, x) in batches.iter().enumerate() {
            self.arrivals += x.arrivals;
            self.started += x.started;
            self.waited += x.waited;
            self.rejected_batches.sum[b] = x.rejected as f64;
            self.rejected_batches.count[b] = x.arrivals;
            self.waited_batches.sum[b] = x.waited as f64;
            self.waited_batches.count[b] = x.started;
            self.wait_batches.sum[b] = x.wait_sum_ns;
            self.wait_batches.count[b] = x.started;
            self.sojourn_batches.sum[b] = x.sojourn_sum_ns;
            self.sojourn_batches.count[b] = x.completed;
        }
    }

    pub fn new(service: &str, instances: u32, workers_per_instance: u32) -> Self {
        ServiceStats {
            service: service.to_string(),
            instances,
            workers_per_instance,
            arrivals: 0,
            outcomes: Outcomes::default(),
            waited: 0,
            started: 0,
            sojourn: sized_histogram(2),
            wait: sized_histogram(2),
            sojourn_batches: BatchMeans::default(),
            wait_batches: BatchMeans::default(),
            waited_batches: BatchMeans::default(),
            rejected_batches: BatchMeans::default(),
            occupancy: Occupancy::default(),
            fleet: None,
            operations: Vec::new(),
            in_service: None,
            instances_stats: Vec::new(),
            memory: None,
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

/// One bucket of one place: a zone (the jobs its instances ended, warm-up included) or a
/// cell (the calls routers sent there, by the cell of their last attempt).
#[derive(Clone, Debug, PartialEq)]
pub struct PlaceRow {
    pub bucket_start_ns: Nanos,
    /// "zone" or "cell".
    pub kind: &'static str,
    pub place: String,
    pub outcomes: Outcomes,
    /// Of successes; None if there were none.
    pub p50_ns: Option<Nanos>,
    pub p99_ns: Option<Nanos>,
}

/// Whose bucket a `SeriesSink::bucket` call carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Workload(u16),
    Zone(u16),
    Cell(u16),
}

/// Receives series rows as buckets close, in time order, workloads in scenario order; with a
/// topology, each bucket's zones and cells after its workloads.
pub trait SeriesSink {
    fn row(&mut self, row: SeriesRow);
    /// A zone's or cell's bucket (ignored unless the sink keeps them).
    fn place_row(&mut self, _row: PlaceRow) {}
    /// A bucket's outcomes and successes' latency histogram, just before its row (for sinks
    /// that judge windows: hypotheses).
    fn bucket(&mut self, _bucket_start_ns: Nanos, _place: Place, _outcomes: &Outcomes, _latency: &SeriesHistogram) {}
    /// A stop condition ended the faults at `at_ns`.
    fn faults_stopped(&mut self, _at_ns: Nanos) {}
}

impl SeriesSink for Vec<SeriesRow> {
    fn row(&mut self, row: SeriesRow) {
        self.push(row);
    }
}

/// A sink that may be absent (`None` discards the series).
impl<S: SeriesSink> SeriesSink for Option<S> {
    fn row(&mut self, row: SeriesRow) {
        if let Some(s) = self {
            s.row(row)
        }
    }
    fn place_row(&mut self, row: PlaceRow) {
        if let Some(s) = self {
            s.place_row(row)
        }
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
    fn integral_clips_each_stay_to_the_window() {
        let w = (10, 30);
        let mut i = Integral::default();
        i.add(0, 20, w); // 10 ns inside
        i.add(20, 40, w); // 10 ns inside
        i.add(12, 18, w); // 6 ns inside
        i.add(30, 50, w); // after the window
        i.add(0, 5, w); // before it
        assert_eq!(i.0, 26);
        assert_eq!(i.average(20), 1.3);
    }

    /// Values at every slot edge, and a spread of others, recorded through the recorder
    /// give the same histogram (counts, minimum, maximum, quantiles, mean) as recorded
    /// directly with `saturating_record`.
    #[test]
    fn recorder_matches_recording_into_the_hdr_histogram() {
        let mut values = vec![
            0u64,
            1,
            2,
            2047,
            2048,
            2049,
            4095,
            4096,
            4097,
            HIGHEST_NS,
            HIGHEST_NS + 1,
            TOP_NS,
            TOP_NS + 1,
            u64::MAX,
        ];
        for shift in 11..42 {
            let p = 1u64 << shift;
            values.extend([p - 1, p, p + 1, p + (p >> 10) - 1, p + (p >> 10), p + p / 3]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 40 + 20));
        }
        let (mut direct, mut rec) = (new_histogram(), LatencyRecorder::default());
        for &v in &values {
            direct.saturating_record(v.max(1));
            rec.record(v);
        }
        let via = rec.into_histogram();
        assert_eq!((via.len(), via.max(), via.min_nz()), (direct.len(), direct.max(), direct.min_nz()));
        let slots = LatencyRecorder::slot(TOP_NS) + 1;
        let first_diff = (0..slots).map(LatencyRecorder::lowest).find(|&v| via.count_at(v) != direct.count_at(v));
        assert_eq!(first_diff, None, "counters differ");
        assert!(via == direct, "the histograms differ");
        assert_eq!((via.min(), via.max(), via.len()), (direct.min(), direct.max(), direct.len()));
        assert_eq!(via.mean().to_bits(), direct.mean().to_bits());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(via.value_at_quantile(q), direct.value_at_quantile(q), "q {q}");
        }
        for s in 0..=LatencyRecorder::slot(TOP_NS) {
            let v = LatencyRecorder::lowest(s);
            assert_eq!(LatencyRecorder::slot(v), s, "slot {s} starts at {v}");
            assert_eq!(direct.lowest_equivalent(v.max(1)), v.max(1), "slot {s}");
        }
    }

    #[test]
    fn recorder_counts_past_its_counters() {
        let mut rec = LatencyRecorder::default();
        let s = LatencyRecorder::slot(5_000);
        // 200,001 records in one slot wrap its counter three times.
        for i in 0..200_001u64 {
            rec.record(5_000 + i % 4);
        }
        assert_eq!(rec.wraps, vec![s as u32; 3]);
        assert_eq!(rec.into_histogram().count_at(5_000), 200_001);
    }

    #[test]
    fn series_histogram_slots_cover_values_within_a_sixty_fourth() {
        for v in [0u64, 1, 63, 64, 65, 127, 128, 1_000, 999_999, 1 << 40, u64::MAX] {
            let s = SeriesHistogram::slot(v);
            let hi = SeriesHistogram::highest(s);
            assert!(hi >= v, "{v}: slot top {hi}");
            assert!(s == 0 || SeriesHistogram::highest(s - 1) < v, "{v}: previous slot overlaps");
            assert!((hi - v) as f64 <= v as f64 / 64.0, "{v}: slot too wide");
        }
    }

    #[test]
    fn series_histogram_percentiles_and_reset() {
        let mut h = SeriesHistogram::default();
        assert_eq!(h.percentiles(), None);
        // 1..=100 us: rank 50 is 50 us, rank 99 is 99 us, mean 50.5 us.
        for v in 1..=100u64 {
            h.record(v * 1_000);
        }
        let (p50, p99, mean) = h.percentiles().unwrap();
        assert!((50_000..=50_000 + 50_000 / 64).contains(&p50), "{p50}");
        assert!((99_000..=99_000 + 99_000 / 64).contains(&p99), "{p99}");
        assert_eq!(mean, 50_500.0);
        h.reset();
        assert_eq!(h.percentiles(), None);
        h.record(7);
        assert_eq!(h.percentiles(), Some((7, 7, 7.0)));
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

/// What one call declaration's policy did over the run (all its copies together).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyStats {
    /// The call's stable name (`workload/W/R` or `service/S/op/O/call/N`).
    pub call: String,
    /// `retry-budget` or `breaker`.
    pub policy: &'static str,
    /// The scenario's `kind`.
    pub kind: &'static str,
    /// One per calling instance, or 1 when shared.
    pub copies: u32,
    /// Breakers: transitions to open.
    pub opened: u64,
    /// Budgets: retries refused. Breakers: attempts refused.
    pub refused: u64,
}
