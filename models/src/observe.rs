//! What a run observes for whoever compares it with another, bucket by bucket: per component
//! (a service; a cell's copy of a service is a component of its own) the jobs that ended,
//! how many failed and a coarse histogram of their latencies; per zone the jobs and failures;
//! the end-to-end requests that finished, failed or were slower than an SLO; and, per
//! customer window, which customers had a request finish and which saw one fail. The model
//! fills it as jobs and requests end; the caller that steps the run takes the bucket's counts
//! (`take_bucket`) at each bucket boundary, which resets them, so memory never grows with the
//! run's length. Event-free: it knows nothing of faults, baselines or pairing.

use crate::outcome::Outcome;
use crate::spec::Window;
use cellsim_sim::Nanos;

/// What to observe, given before the run starts.
#[derive(Clone, Debug, Default)]
pub struct Observe {
    /// Requests slower than this count as breaching the SLO (`None`: only failures count).
    pub slo_ns: Option<Nanos>,
    /// Windows over which to collect the customers that had a request finish in the window
    /// and those whose request failed or breached the SLO, each with the workloads whose
    /// requests it counts (by workload index; empty: every workload).
    pub customer_windows: Vec<(Window, Vec<bool>)>,
    /// At most this many windows collect customers at once (each holds two bits per
    /// customer); a window that opens while this many are open is not collected.
    pub max_open_windows: usize,
}

/// Latency bins per component: 8 per power of two (about 9% wide), from 1 ns to an hour.
pub const LATENCY_BINS: usize = 320;

/// Jobs (or requests) that ended, and how many of them failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub ended: u64,
    pub failed: u64,
}

impl Counts {
    /// The share that failed (0 when none ended).
    pub fn failed_share(&self) -> f64 {
        if self.ended == 0 {
            0.0
        } else {
            self.failed as f64 / self.ended as f64
        }
    }
}

/// One bucket's observations, taken from a run (see `Observed::take_bucket`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketObservation {
    /// By service (component).
    pub services: Vec<Counts>,
    /// By service: the latency bins of its jobs, `LATENCY_BINS` each, flattened.
    pub latency: Vec<u32>,
    /// By zone (empty without a topology).
    pub zones: Vec<Counts>,
    /// By workload: end-to-end requests that finished and failed, and those that succeeded
    /// slower than the SLO.
    pub requests: Vec<Counts>,
    pub slow_requests: Vec<u64>,
}

impl BucketObservation {
    /// Service `s`'s latency quantile `q` (0 to 1) in this bucket, as the upper edge of the
    /// bin that holds it; `None` without jobs.
    pub fn latency_quantile_ns(&self, s: usize, q: f64) -> Option<Nanos> {
        let bins = &self.latency[s * LATENCY_BINS..(s + 1) * LATENCY_BINS];
        let total: u64 = bins.iter().map(|&c| c as u64).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (b, &c) in bins.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return Some(bin_upper_ns(b));
            }
        }
        unreachable!("the rank is at most the total")
    }
}

/// A customer window's result: how many customers had a request finish in it, and how many
/// of those saw one fail or breach the SLO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CustomerCounts {
    pub sent: u64,
    pub failed: u64,
}

/// A customer window's collection.
#[derive(Clone, Debug)]
enum WindowState {
    /// Not started yet.
    Pending,
    /// Two bits per customer (2c: had a request finish, 2c + 1: saw a failure or a breach).
    Open(Vec<u64>),
    /// Opened while too many others were open: not collected.
    Skipped,
    Closed(CustomerCounts),
}

/// The observations being collected (see the module's comment).
#[derive(Clone, Debug)]
pub struct Observed {
    bucket: BucketObservation,
    slo_ns: Nanos,
    windows: Vec<Window>,
    /// By window: the workloads it counts (empty: all).
    masks: Vec<Vec<bool>>,
    /// By window as given: its place in `windows` (sorted by start).
    sorted_of: Vec<usize>,
    /// By window, in order of start.
    state: Vec<WindowState>,
    /// Windows before this one have opened (or were skipped).
    opened: usize,
    /// The windows open now (collecting), in order: what a request walks.
    open: Vec<usize>,
    customers: u64,
    max_open: usize,
}

impl Observed {
    /// For `services` components, `workloads` workloads, `zones` zones and `customers`
    /// customers (global ids).
    pub fn new(observe: &Observe, services: usize, workloads: usize, zones: usize, customers: u64) -> Observed {
        let mut given: Vec<(usize, (Window, Vec<bool>))> =
            observe.customer_windows.iter().cloned().enumerate().collect();
        if customers == 0 {
            given.clear();
        }
        given.sort_by_key(|(i, (w, _))| (w.start_ns, *i));
        let mut sorted_of = vec![0; given.len()];
        for (k, (i, _)) in given.iter().enumerate() {
            sorted_of[*i] = k;
        }
        let (windows, masks): (Vec<Window>, Vec<Vec<bool>>) = given.into_iter().map(|(_, x)| x).unzip();
        Observed {
            bucket: BucketObservation {
                services: vec![Counts::default(); services],
                latency: vec![0; services * LATENCY_BINS],
                zones: vec![Counts::default(); zones],
                requests: vec![Counts::default(); workloads],
                slow_requests: vec![0; workloads],
            },
            slo_ns: observe.slo_ns.unwrap_or(Nanos::MAX),
            masks,
            sorted_of,
            state: windows.iter().map(|_| WindowState::Pending).collect(),
            windows,
            opened: 0,
            open: Vec::new(),
            customers,
            max_open: observe.max_open_windows,
        }
    }

    /// Bytes held at most: the bucket, and the customer bits of the windows open at once.
    pub fn bytes(observe: &Observe, services: usize, workloads: usize, zones: usize, customers: u64) -> u64 {
        let bucket = services * (16 + 4 * LATENCY_BINS) + (zones + 2 * workloads) * 24;
        let open = observe.max_open_windows.min(observe.customer_windows.len()) as u64;
        let masks: usize = observe.customer_windows.iter().map(|(_, m)| m.len() + 64).sum();
        bucket as u64 + open * customers.div_ceil(32) * 8 + masks as u64
    }

    /// A job of service `service` ended with `outcome` after `latency_ns` (at `zone`, if the
    /// scenario has zones and the job reached an instance).
    #[inline]
    pub fn job(&mut self, service: u32, zone: Option<u16>, outcome: Outcome, latency_ns: Nanos) {
        let failed = !outcome.is_success() as u64;
        let c = &mut self.bucket.services[service as usize];
        c.ended += 1;
        c.failed += failed;
        self.bucket.latency[service as usize * LATENCY_BINS + latency_bin(latency_ns)] += 1;
        if let Some(z) = zone.and_then(|z| self.bucket.zones.get_mut(z as usize)) {
            z.ended += 1;
            z.failed += failed;
        }
    }

    /// An end-to-end request of workload `workload` and customer `customer` ended at `now`
    /// with `outcome` after `latency_ns`.
    #[inline]
    pub fn request(&mut self, workload: u16, customer: u32, outcome: Outcome, latency_ns: Nanos, now: Nanos) {
        let w = workload as usize;
        let r = &mut self.bucket.requests[w];
        r.ended += 1;
        let failed = !outcome.is_success();
        r.failed += failed as u64;
        let slow = !failed && latency_ns > self.slo_ns;
        self.bucket.slow_requests[w] += slow as u64;
        if self.windows.is_empty() {
            return;
        }
        // Requests finish in time order: a window whose end has passed is complete.
        if self.open.iter().any(|&k| self.windows[k].end_ns <= now) {
            self.close_windows(now);
        }
        self.open_windows(now);
        let c = customer as u64;
        for &k in &self.open {
            let counted = self.masks[k].get(w).copied().unwrap_or(true);
            if let WindowState::Open(bits) = &mut self.state[k] {
                if counted && self.windows[k].contains(now) && c < self.customers {
                    let (word, shift) = ((c / 32) as usize, 2 * (c % 32));
                    bits[word] |= (1 | ((failed || slow) as u64) << 1) << shift;
                }
            }
        }
    }

    /// Opens the windows that start by `now`, in order of start, while fewer than the most
    /// allowed are open (the others are skipped).
    fn open_windows(&mut self, now: Nanos) {
        while self.windows.get(self.opened).is_some_and(|w| w.start_ns <= now) {
            let ended = self.windows[self.opened].end_ns <= now;
            self.state[self.opened] = if ended && self.open.len() >= self.max_open {
                // Over before anything could be counted in it (no request came since its
                // start): an empty window, not a skipped one.
                WindowState::Closed(CustomerCounts::default())
            } else if self.open.len() < self.max_open {
                self.open.push(self.opened);
                WindowState::Open(vec![0; self.customers.div_ceil(32) as usize])
            } else {
                WindowState::Skipped
            };
            self.opened += 1;
        }
    }

    /// The counts of the bucket that ends now, which start again from zero.
    pub fn take_bucket(&mut self) -> BucketObservation {
        let fresh = BucketObservation {
            services: vec![Counts::default(); self.bucket.services.len()],
            latency: vec![0; self.bucket.latency.len()],
            zones: vec![Counts::default(); self.bucket.zones.len()],
            requests: vec![Counts::default(); self.bucket.requests.len()],
            slow_requests: vec![0; self.bucket.slow_requests.len()],
        };
        std::mem::replace(&mut self.bucket, fresh)
    }

    /// Closes the customer windows that end by `now` (every request that finished in them
    /// has been seen) and frees their bits.
    pub fn close_windows(&mut self, now: Nanos) {
        self.close_ended(now);
        self.open_windows(now);
        self.close_ended(now);
    }

    /// Closes the open windows that end by `now`.
    fn close_ended(&mut self, now: Nanos) {
        let (windows, state) = (&self.windows, &mut self.state);
        self.open.retain(|&k| {
            let WindowState::Open(bits) = &state[k] else { return false };
            if windows[k].end_ns > now {
                return true;
            }
            let sent = bits.iter().map(|w| (w & 0x5555_5555_5555_5555).count_ones() as u64).sum();
            let failed = bits.iter().map(|w| (w & 0xAAAA_AAAA_AAAA_AAAA).count_ones() as u64).sum();
            state[k] = WindowState::Closed(CustomerCounts { sent, failed });
            false
        });
    }

    /// The customers of window `k` of `Observe::customer_windows`, once it has closed
    /// (`None`: still open, or not collected because too many were open at once).
    pub fn customers(&self, k: usize) -> Option<CustomerCounts> {
        match self.state[*self.sorted_of.get(k)?] {
            WindowState::Closed(c) => Some(c),
            _ => None,
        }
    }
}

/// The bin of a latency: 1 to 7 ns in bins 1 to 7, then 8 bins per power of two, capped at
/// the last.
#[inline]
pub fn latency_bin(ns: Nanos) -> usize {
    if ns < 8 {
        return ns as usize;
    }
    let log2 = 63 - ns.leading_zeros() as usize;
    let sub = ((ns >> (log2 - 3)) & 7) as usize;
    (8 * (log2 - 2) + sub).min(LATENCY_BINS - 1)
}

/// The largest latency in bin `b`.
pub fn bin_upper_ns(b: usize) -> Nanos {
    if b < 8 {
        return b as Nanos;
    }
    let log2 = b / 8 + 2;
    let sub = (b % 8) as Nanos;
    ((8 + sub) << (log2 - 3)) + (1 << (log2 - 3)) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_bins_are_contiguous_and_about_nine_percent_wide() {
        for ns in [1u64, 7, 8, 9, 15, 16, 17, 1_000, 1_000_000, 12_345_678_901] {
            let b = latency_bin(ns);
            assert!(bin_upper_ns(b) >= ns && (b == 0 || bin_upper_ns(b - 1) < ns), "{ns} in bin {b}");
        }
        // Bins 8 and on: the next starts just after one ends, and each spans 1/8 of its octave.
        for b in 8..LATENCY_BINS - 1 {
            let (lo, hi) = (bin_upper_ns(b - 1) + 1, bin_upper_ns(b));
            assert_eq!(latency_bin(lo), b);
            assert_eq!(latency_bin(hi), b);
            assert!((hi - lo + 1) as f64 / lo as f64 <= 0.125 + 1e-9);
        }
        assert_eq!(latency_bin(3_600_000_000_000 * 100), LATENCY_BINS - 1);
    }

    #[test]
    fn quantiles_come_from_the_bins() {
        let mut o = Observed::new(&Observe::default(), 2, 1, 0, 0);
        // 99 jobs at 1 ms and one at 100 ms: p99 is 1 ms's bin, p100 100 ms's.
        for _ in 0..99 {
            o.job(1, None, Outcome::Ok, 1_000_000);
        }
        o.job(1, None, Outcome::Error, 100_000_000);
        let b = o.take_bucket();
        assert_eq!(b.services[1], Counts { ended: 100, failed: 1 });
        assert_eq!(b.services[0], Counts::default());
        assert_eq!(b.latency_quantile_ns(1, 0.99), Some(bin_upper_ns(latency_bin(1_000_000))));
        assert_eq!(b.latency_quantile_ns(1, 1.0), Some(bin_upper_ns(latency_bin(100_000_000))));
        assert_eq!(b.latency_quantile_ns(0, 0.99), None);
        assert_eq!(o.take_bucket().services[1], Counts::default(), "taking a bucket resets it");
    }

    /// Customers are counted per window once: a customer with a success and a failure in a
    /// window is one that sent and one that failed; windows beyond the open limit are skipped.
    #[test]
    fn customer_windows_count_distinct_customers() {
        let w = |start_ns, end_ns| Window { start_ns, end_ns };
        let observe = Observe {
            slo_ns: Some(50),
            customer_windows: vec![(w(10, 20), vec![]), (w(15, 30), vec![]), (w(16, 40), vec![])],
            max_open_windows: 2,
        };
        let mut o = Observed::new(&observe, 1, 1, 0, 100);
        o.request(0, 7, Outcome::Ok, 1, 5); // before every window
        o.request(0, 7, Outcome::Ok, 1, 10);
        o.request(0, 7, Outcome::Error, 1, 12);
        o.request(0, 8, Outcome::Ok, 60, 14); // slow: a breach
        o.request(0, 9, Outcome::Ok, 1, 16); // windows 0 and 1; window 2 is over the limit
        o.request(0, 99, Outcome::Ok, 1, 25);
        o.close_windows(20);
        assert_eq!(o.customers(0), Some(CustomerCounts { sent: 3, failed: 2 }));
        assert_eq!(o.customers(1), None, "still open");
        o.close_windows(40);
        assert_eq!(o.customers(1), Some(CustomerCounts { sent: 2, failed: 0 }));
        assert_eq!(o.customers(2), None, "not collected");
        let b = o.take_bucket();
        assert_eq!((b.requests[0], b.slow_requests[0]), (Counts { ended: 6, failed: 1 }, 1));
    }
}
