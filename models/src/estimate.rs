//! What a run will cost before it starts, from its spec alone: its peak memory and the
//! bytes of every output file, and the `[limits]` check that refuses a run whose bound is
//! over a limit. `validate` prints the same figures and gives the same verdict on every
//! machine: nothing here reads the machine.

use crate::model::ModelMemory;
use crate::spec::Spec;
use cellsim_sim::{Nanos, NS_PER_S};
use std::fmt;

/// The series' header line (kept equal to the CSV writer's by a test in `reports`).
pub const SERIES_HEADER_BYTES: u64 = 100;

/// The memory and output a run of a spec needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub memory: ModelMemory,
    /// The peak when traffic flows as offered: the model, full histograms and the work in
    /// flight at steady state (from the offered load), or, if some service is offered more
    /// than it can serve, at the limits or with every queue full, whichever is less.
    pub expected_peak_bytes: u64,
    /// The peak if the work in flight reaches `limits.max_in_flight_requests` and
    /// `limits.max_in_flight_jobs`: what `limits.max_memory_mb` is checked against.
    pub bound_peak_bytes: u64,
    /// `series.csv` at its largest: one row per workload per bucket to the end of the drain.
    pub series_bytes: u64,
    /// `places.csv` at its largest (0 without a topology).
    pub places_bytes: u64,
    /// `summary.json` at its largest.
    pub summary_bytes: u64,
    /// The workloads' latency distributions (`hgrm/`).
    pub hgrm_bytes: u64,
    /// The verdicts: `junit.xml`, `summary.md`, and the hypotheses in `summary.json`.
    pub verdict_bytes: u64,
    /// The plots (`plots/`), `report.html`, the baseline's series and the text summary;
    /// the copy of the scenario, counted by whoever reads it (`Estimate::with_scenario`).
    pub report_bytes: u64,
}

/// A `[limits]` value that an estimate exceeds: the run is refused before it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Memory { bound_bytes: u64, limit_bytes: u64 },
    Output { bytes: u64, limit_bytes: u64 },
}

impl Estimate {
    pub fn of(spec: &Spec) -> Estimate {
        let memory = ModelMemory::of(spec);
        let base = memory.fixed_bytes.saturating_add(memory.histogram_bytes);
        let requests = spec.most_requests_in_flight();
        let at_limits = memory.in_flight_bytes(requests, spec.max_in_flight_jobs);
        let load = spec.offered_load();
        // Closed loops limit themselves: their offered load is a bound, not a rate.
        let open = requests == spec.max_in_flight_requests;
        let overloaded =
            open && load.iter().zip(&spec.services).any(|(busy, s)| *busy >= s.instances as f64 * s.workers as f64);
        let steady_work = steady_work(&load);
        let steady = if overloaded {
            // Work piles up to the limits, unless the services' queues turn it away first.
            let queued = queue_bound(spec);
            memory.in_flight_bytes(requests.min(queued), spec.max_in_flight_jobs.min(queued))
        } else {
            memory.in_flight_bytes(steady_work.min(requests), steady_work)
        };
        Estimate {
            memory,
            expected_peak_bytes: base.saturating_add(steady),
            bound_peak_bytes: base.saturating_add(at_limits),
            series_bytes: series_bytes(spec, spec.bucket_ns),
            places_bytes: places_bytes(spec, spec.bucket_ns),
            summary_bytes: summary_bytes(spec),
            hgrm_bytes: hgrm_bytes(spec),
            verdict_bytes: verdict_bytes(spec),
            report_bytes: report_bytes(spec),
        }
    }

    /// Every output file together.
    pub fn output_bytes(&self) -> u64 {
        self.series_bytes
            .saturating_add(self.summary_bytes)
            .saturating_add(self.places_bytes)
            .saturating_add(self.hgrm_bytes)
            .saturating_add(self.verdict_bytes)
            .saturating_add(self.report_bytes)
    }

    /// The limits this estimate exceeds.
    pub fn refusals(&self, spec: &Spec) -> Vec<Refusal> {
        let mut out = Vec::new();
        if self.bound_peak_bytes > spec.max_memory_bytes {
            out.push(Refusal::Memory { bound_bytes: self.bound_peak_bytes, limit_bytes: spec.max_memory_bytes });
        }
        if self.output_bytes() > spec.max_output_bytes {
            out.push(Refusal::Output { bytes: self.output_bytes(), limit_bytes: spec.max_output_bytes });
        }
        out
    }
}

/// Requests and jobs in flight at steady state, generously: four times the busy workers the
/// offered load needs over all services (by Little's law the jobs in service; queueing and
/// jobs waiting on their calls on top), at least a hundred.
fn steady_work(offered_load: &[f64]) -> u64 {
    let busy: f64 = offered_load.iter().sum();
    (4.0 * busy).clamp(100.0, 1e15) as u64
}

/// The most jobs the services can hold at once: every worker busy and every queue full.
fn queue_bound(spec: &Spec) -> u64 {
    spec.services
        .iter()
        .map(|s| s.instances as u64 * (s.workers as u64 + s.queue_capacity as u64))
        .fold(0, u64::saturating_add)
}

/// Decimal digits of `n`.
fn digits(n: u64) -> u64 {
    n.checked_ilog10().map_or(1, |d| d as u64 + 1)
}

/// `places.csv` at its largest: a row per zone and per cell for every bucket, each field at
/// its widest (as `series.csv`'s), with the place's name and kind.
pub fn places_bytes(spec: &Spec, bucket_ns: Nanos) -> u64 {
    let Some(t) = spec.topology.as_ref() else { return 0 };
    let end_ns = spec.duration_ns.saturating_add(spec.drain_ns);
    let buckets = end_ns / bucket_ns.max(1) + 1;
    let seconds = digits(end_ns / NS_PER_S) + 4;
    let counts = 7 * digits(spec.max_events);
    let ms = 2 * (digits(end_ns / 1_000_000) + 4);
    let fixed = seconds + counts + ms + 12 + 8 + 5;
    let names: u64 = t.zones.iter().map(|z| fixed + 2 * z.name.len() as u64 + 2).sum::<u64>()
        + t.cells.iter().map(|c| fixed + 2 * c.name.len() as u64 + 2).sum::<u64>();
    PLACES_HEADER_BYTES.saturating_add(buckets.saturating_mul(names))
}

/// The header line of `places.csv`.
const PLACES_HEADER_BYTES: u64 = 96;

/// `series.csv` at its largest with buckets of `bucket_ns`: every bucket from 0 to the end
/// of the drain, for every workload, each field at its widest (counts bounded by the event
/// budget, since every request arrives in an event; latencies by the run's length).
pub fn series_bytes(spec: &Spec, bucket_ns: Nanos) -> u64 {
    let end_ns = spec.duration_ns.saturating_add(spec.drain_ns);
    let buckets = end_ns / bucket_ns.max(1) + 1;
    let seconds = digits(end_ns / NS_PER_S) + 4;
    let counts = 7 * digits(spec.max_events);
    let ms = 3 * (digits(end_ns / 1_000_000) + 4);
    // 12 commas, a newline, the availability (0.000000 to 1.000000).
    let fixed = seconds + counts + ms + 13 + 8;
    let rows: u64 = spec.workloads.iter().map(|w| fixed + 2 * w.name.len() as u64 + 2).fold(0, u64::saturating_add);
    SERIES_HEADER_BYTES.saturating_add(buckets.saturating_mul(rows))
}

/// The workloads' `.hgrm` files at their largest: a header and a footer, and a line of at
/// most 80 bytes per percentile step: at most 5 per halving of the distance to 100% (one
/// per power of two of the requests, bounded by the event budget), and the last two.
/// The verdicts at their largest: `junit.xml` and `summary.md` (a fixed part and the
/// scenario's name), and per hypothesis its texts in `summary.json` once, `junit.xml` three
/// times (the failure, its body, the output) and `summary.md` twice, each escaped (up to six
/// bytes a byte). A reason names at most three faults (their targets) and three components.
fn verdict_bytes(spec: &Spec) -> u64 {
    let longest = spec.services.iter().map(|s| s.name.len()).max().unwrap_or(0) as u64;
    let fixed = 4_096 + 12 * spec.name.len() as u64;
    let per: u64 = spec
        .hypotheses
        .iter()
        .map(|h| {
            let words = (h.name.len() + h.expect.len() + h.scope_words.len() + h.window_words.len()) as u64;
            let why = 1_024 + words + 3 * (512 + longest) + 3 * (32 + longest);
            6 * (2 * words + why) * 6 + 1_024
        })
        .sum();
    fixed + per
}

/// The report at its largest: each plot's PNG uncompressed (1000 pixels wide, RGB) and its
/// SVG (a time plot draws at most 1,000 points per line; a dashed baseline is a dash of 80
/// bytes per 10 pixels of its path, at most 1,000 steps of 400 pixels), `report.html`
/// holding the PNGs in base64 and the font, the summary's text (about the size of
/// `summary.json`) twice, and the baseline's series (the run's).
fn report_bytes(spec: &Spec) -> u64 {
    let workloads = spec.workloads.len() as u64;
    let places = spec.topology.as_ref().map_or(0, |t| (t.zones.len() + t.cells.len()) as u64);
    let height = |rows: u64| (140 + 26 * rows).clamp(240, 1200);
    let png = |h: u64| 1000 * h * 3 + 4_096;
    let time_plots = 3 * (png(480) + 100_000 + workloads * (3 * 1_000 * 12 + 1_000 * 400 / 10 * 80));
    let heatmaps = 2 * (png(height(places)) + 50_000 + places * 200 * 160);
    let cascade = png(height(40)) + 40 * 600;
    let pngs = 3 * png(480) + 2 * png(height(places)) + png(height(40));
    let html = 64_000 + pngs * 4 / 3 + 2 * summary_bytes(spec);
    time_plots
        .saturating_add(heatmaps)
        .saturating_add(cascade)
        .saturating_add(html)
        .saturating_add(summary_bytes(spec))
        .saturating_add(series_bytes(spec, spec.bucket_ns))
}

fn hgrm_bytes(spec: &Spec) -> u64 {
    let halvings = 64 - spec.max_events.leading_zeros() as u64 + 2;
    // The interval log: a histogram of 3 digits up to an hour, about 88,000 counters, each at
    // most a 9-byte varint before compression, in base64; a header and the tag.
    let log = 88_000 * 9 * 4 / 3 + 1_024 + spec.workloads.iter().map(|w| w.name.len()).max().unwrap_or(0) as u64;
    // The run's and the baseline's.
    2 * spec.workloads.len() as u64 * (400 + 80 * (5 * halvings + 2) + log)
}

/// `summary.json` at its largest: a fixed part, a part per request type, service and
/// policy, and every name (escaped, so up to six bytes a byte) several times.
fn summary_bytes(spec: &Spec) -> u64 {
    let names: u64 = spec.services.iter().map(|s| s.name.len() as u64).sum::<u64>()
        + spec
            .workloads
            .iter()
            .map(|w| w.name.len() as u64 + w.requests.len() as u64 * w.name.len() as u64)
            .sum::<u64>()
        + spec.type_names.iter().map(|n| n.len() as u64).sum::<u64>()
        + spec.calls.iter().map(|c| c.name.len() as u64).sum::<u64>()
        + (spec.name.len() + spec.description.len()) as u64;
    let requests: u64 = spec.workloads.iter().map(|w| w.requests.len() as u64).sum();
    let policies = spec.calls.iter().filter(|c| c.breaker.is_some() || c.retry.budget.is_some()).count() as u64;
    // An operation's entry, its name in it; an edge's entry, with its five names (each at
    // most as long as the longest service, operation or call name); an instance's job count
    // and utilisation, each on its own indented line.
    let operations: u64 = spec.services.iter().map(|s| s.operations.len() as u64).sum();
    let op_names: u64 = spec.services.iter().flat_map(|s| &s.operations).map(|o| o.name.len() as u64).sum();
    let longest = spec
        .services
        .iter()
        .flat_map(|s| std::iter::once(s.name.len()).chain(s.operations.iter().map(|o| o.name.len())))
        .chain(spec.calls.iter().map(|c| c.name.len()))
        .max()
        .unwrap_or(0) as u64;
    let edges = spec.calls.iter().filter(|c| c.from.is_some()).count() as u64;
    let instances: u64 = spec.services.iter().map(|s| s.instances as u64).sum();
    // The topology's zones and cells (an entry each, with a latency object), routers (a
    // breaker-openings count per cell), the routers' changes of state and the controllers'
    // actions (at most 1,000 each, each an entry with a zone's, cell's or service's name).
    let places = spec.topology.as_ref().map_or(0, |t| (t.zones.len() + t.cells.len()) as u64);
    let place_names: u64 = spec.topology.as_ref().map_or(0, |t| {
        t.zones.iter().map(|z| z.name.len() as u64).chain(t.cells.iter().map(|c| c.name.len() as u64)).sum()
    });
    let routers: u64 = spec.routes.iter().map(|r| 512 + 24 * r.targets.len() as u64).sum();
    let changes = if spec.routes.iter().any(|r| r.health.is_some()) { 1_000 } else { 0 };
    let controlled = spec.zonal_shift.is_some() || spec.services.iter().any(|s| s.autoscaling.is_some());
    let actions = if controlled { 1_000 } else { 0 };
    // With faults, the impact section: an entry per fault with its target's name, and the
    // cascade tree's nodes (at most `MAX_CASCADE_NODES`), each with two component names.
    let longest_place = spec.topology.as_ref().map_or(0, |t| {
        t.zones.iter().map(|z| z.name.len()).chain(t.cells.iter().map(|c| c.name.len())).max().unwrap_or(0)
    }) as u64;
    let impact = if spec.faults.is_empty() {
        0
    } else {
        let nodes = spec.services.len().min(crate::impact::MAX_CASCADE_NODES) as u64;
        // A record per occurrence of a repeated fault (the first ten).
        let records: u64 = spec
            .faults
            .iter()
            .map(|f| f.repeat.map_or(1, |r| (r.times as u64).min(crate::impact::MAX_OCCURRENCES as u64)))
            .sum();
        let regions = spec.topology.as_ref().map_or(0, |t| t.regions.iter().map(|r| r.len()).max().unwrap_or(0));
        2_048
            + records * (1_536 + 6 * (longest.max(longest_place).max(regions as u64) + 8))
            + nodes * (384 + 12 * longest)
    };
    // The failure handling table: a row per depth, at most one per service and the clients'.
    let failure_rows = 256 * (spec.services.len() as u64 + 1);
    16_384
        + failure_rows
        + impact
        + 2_560 * places
        + 6 * place_names
        + routers
        + (changes + actions) * (256 + 6 * longest.max(place_names.min(256)))
        + 4_096 * requests
        + 6_144 * spec.services.len() as u64
        + 1_024 * policies
        + 6 * 4 * names
        + 2_048 * operations
        + 6 * op_names
        + edges * (2_560 + 6 * 5 * longest)
        + 64 * instances
}

/// The default bucket: the narrowest of 1 s, 10 s, 1 min, 10 min, 1 h and 1 day that cuts
/// the run (duration and drain) into at most 100,000 buckets.
pub fn default_bucket_ns(duration_ns: Nanos, drain_ns: Nanos) -> Nanos {
    let end_ns = duration_ns.saturating_add(drain_ns);
    const LADDER_S: [u64; 6] = [1, 10, 60, 600, 3_600, 86_400];
    LADDER_S.iter().map(|s| s * NS_PER_S).find(|&b| end_ns / b < MAX_DEFAULT_BUCKETS).unwrap_or(86_400 * NS_PER_S)
}

/// The most buckets the default bucket width gives.
pub const MAX_DEFAULT_BUCKETS: u64 = 100_000;

/// `1234567` bytes as `1.2 MB` (decimal units, as disk sizes are read); a saturated
/// estimate as "more than 18 EB".
pub fn format_bytes(b: u64) -> String {
    const UNITS: [(f64, &str); 5] = [(1e3, "kB"), (1e6, "MB"), (1e9, "GB"), (1e12, "TB"), (1e15, "PB")];
    if b == u64::MAX {
        return "more than 18 EB".into();
    }
    let x = b as f64;
    match UNITS.iter().rev().find(|(scale, _)| x >= *scale) {
        Some((scale, unit)) => format!("{:.1} {unit}", x / scale),
        None => format!("{b} B"),
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Memory { bound_bytes, limit_bytes } => write!(
                f,
                "refused: the run could need {} of memory, over limits.max_memory_mb = {}\n  \
                 hint: lower limits.max_in_flight_requests or limits.max_in_flight_jobs, or the model's \
                 size (instances, breaker windows), or raise limits.max_memory_mb",
                format_bytes(*bound_bytes),
                crate::group_digits(limit_bytes / 1_000_000)
            ),
            Refusal::Output { bytes, limit_bytes } => write!(
                f,
                "refused: the run could write {} of output, over limits.max_output_mb = {}\n  \
                 hint: set a wider [scenario] bucket, shorten duration or drain, or raise limits.max_output_mb",
                format_bytes(*bytes),
                crate::group_digits(limit_bytes / 1_000_000)
            ),
        }
    }
}
