//! The comparison of a run with its baseline, one bucket at a time: which components are
//! impaired (the `[analysis]` rule), each fault's time to detect and recover and its blast
//! radius, and what the cascade tree needs. Holds a few counters per component and per
//! fault, never anything per bucket, so memory does not grow with the run's length.

use cellsim_models::faults::catalogue::Crash;
use cellsim_models::faults::FaultKind;
use cellsim_models::impact::{BlastRadius, FaultImpact, Impact, MAX_OCCURRENCES};
use cellsim_models::observe::{BucketObservation, Counts, CustomerCounts};
use cellsim_models::spec::{AnalysisSpec, Window};
use cellsim_models::Spec;
use cellsim_sim::Nanos;

/// The windows with a record: each scheduled fault's first `MAX_OCCURRENCES` occurrences,
/// within the run, as (fault, occurrence, window).
fn tracked(spec: &Spec) -> impl Iterator<Item = (usize, usize, Window)> + '_ {
    let duration_ns = spec.duration_ns;
    spec.faults.iter().enumerate().filter(|(_, f)| !f.random).flat_map(move |(i, f)| {
        f.occurrences().take(MAX_OCCURRENCES).enumerate().map(move |(k, w)| (i, k, clamp(w, duration_ns)))
    })
}

/// The customer windows a run collects: the windows with a record, each counting the
/// workloads its fault reaches (none when no workload declares customers).
pub(crate) fn windows(spec: &Spec, seed: u64) -> Vec<(Window, Vec<bool>)> {
    if spec.workloads.iter().all(|w| w.customers <= 1) {
        return Vec::new();
    }
    let reaches: Vec<(Vec<bool>, Vec<bool>)> = (0..spec.faults.len()).map(|i| reach(spec, i, seed)).collect();
    tracked(spec).map(|(i, _, w)| (w, reaches[i].1.clone())).collect()
}

/// What fault `i` can harm: the components connected to those it acts on through the call
/// graph (either way), and the workloads whose requests enter there. Detection, recovery and
/// blast radius look at these only, so two independent systems in one scenario each see
/// their own faults.
fn reach(spec: &Spec, i: usize, seed: u64) -> (Vec<bool>, Vec<bool>) {
    let f = &spec.faults[i];
    let mut hit = vec![false; spec.services.len()];
    for (s, _) in f.target.chosen(i as u32, seed) {
        hit[s as usize] = true;
    }
    for &(s, _) in f.link.iter().flat_map(|l| &l.to) {
        hit[s as usize] = true;
    }
    let components = crate::cascade::connected(spec, &hit);
    let workloads = spec
        .workloads
        .iter()
        .map(|w| {
            w.requests.iter().any(|r| {
                let call = &spec.calls[r.call as usize];
                match call.route {
                    Some(route) => spec.routes[route as usize].targets.iter().any(|&t| components[t as usize]),
                    None => components[call.to as usize],
                }
            })
        })
        .collect();
    (components, workloads)
}

fn clamp(w: Window, duration_ns: Nanos) -> Window {
    Window { start_ns: w.start_ns.min(duration_ns), end_ns: w.end_ns.min(duration_ns) }
}

/// Is a component (or zone) with these counts in the run and the baseline impaired? Its
/// error rate exceeds the baseline's by more than the margin and by the factor, or its p99
/// by the latency factor; judged only with `min_jobs` jobs (the latency test with as many in
/// the baseline too).
pub(crate) fn impaired(rule: &AnalysisSpec, ours: Counts, theirs: Counts, p99: Option<(Nanos, Nanos)>) -> bool {
    if ours.ended < rule.min_jobs {
        return false;
    }
    let (e, b) = (ours.failed_share(), theirs.failed_share());
    let errors = e - b > rule.error_rate_points / 100.0 && e >= rule.error_rate_factor * b;
    let slow = theirs.ended >= rule.min_jobs && p99.is_some_and(|(o, t)| o as f64 > rule.p99_factor * t as f64);
    errors || slow
}

/// A scheduled fault's progress through the comparison.
struct Tracked {
    impact: FaultImpact,
    window: Window,
    /// Consecutive clear buckets at or after the one it ends in, and when the run began.
    clear: u32,
    clear_from_ns: Nanos,
    /// Components, cells and zones impaired during its window.
    components: Vec<bool>,
    cells: Vec<bool>,
    zones: Vec<bool>,
    /// What it can harm (see `reach`): components, and workloads.
    reach: Vec<bool>,
    workloads: Vec<bool>,
    /// Its index among the customer windows (`windows`), if it has one.
    customer_window: Option<usize>,
}

/// The comparison so far.
pub(crate) struct Analysis<'s> {
    spec: &'s Spec,
    rule: AnalysisSpec,
    /// By component: impaired in how many buckets, and the first's start.
    impaired_buckets: Vec<u64>,
    first_impaired_ns: Vec<Option<Nanos>>,
    /// By component: a fault acts on it.
    faulted: Vec<bool>,
    /// By fault.
    faults: Vec<Tracked>,
    any_impaired_buckets: u64,
    analysed_until_ns: Nanos,
    occurrences_dropped: u64,
}

impl<'s> Analysis<'s> {
    pub(crate) fn new(spec: &'s Spec, seed: u64) -> Analysis<'s> {
        let n = spec.services.len();
        let cells = spec.topology.as_ref().map_or(0, |t| t.cells.len());
        let zones = spec.topology.as_ref().map_or(0, |t| t.zones.len());
        let mut faulted = vec![false; n];
        let mut hits = Vec::new();
        for (i, f) in spec.faults.iter().enumerate() {
            let mut hit = vec![false; n];
            for (s, _) in f.target.chosen(i as u32, seed) {
                if let cellsim_models::faults::FaultKind::Dns { .. } = f.kind {
                    // A name that does not resolve harms its callers: they are faulted.
                    let reaches = |c: &cellsim_models::spec::CallSpec| match c.route {
                        Some(r) => spec.routes[r as usize].targets.contains(&s),
                        None => c.to == s,
                    };
                    for c in spec.calls.iter().filter(|c| reaches(c)).filter_map(|c| c.from) {
                        hit[c.0 as usize] = true;
                        faulted[c.0 as usize] = true;
                    }
                    continue;
                }
                hit[s as usize] = true;
                faulted[s as usize] = true;
            }
            hits.push(hit.iter().filter(|&&h| h).count() as u32);
        }
        // A record per tracked occurrence; a random fault's one, with no window.
        let random = spec.faults.iter().enumerate().filter(|(_, f)| f.random).map(|(i, f)| (i, 0, f.window));
        let mut records: Vec<(usize, usize, Window, Option<usize>)> = tracked(spec)
            .enumerate()
            .map(|(c, (i, k, w))| (i, k, w, Some(c)))
            .chain(random.map(|(i, k, w)| (i, k, w, None)))
            .collect();
        records.sort_by_key(|&(i, k, _, _)| (i, k));
        let reaches: Vec<(Vec<bool>, Vec<bool>)> = (0..spec.faults.len()).map(|i| reach(spec, i, seed)).collect();
        let faults = records
            .into_iter()
            .map(|(i, k, window, customer_window)| {
                let f = &spec.faults[i];
                let occurrence = f.occurrences().nth(k).unwrap_or(f.window);
                Tracked {
                    impact: FaultImpact {
                        fault: i as u32,
                        occurrence: k as u32,
                        kind: f.kind.name(),
                        what: f.target.what.clone(),
                        start_ns: occurrence.start_ns,
                        end_ns: occurrence.end_ns,
                        random: f.random,
                        components_hit: hits[i],
                        time_to_detect_ns: None,
                        time_to_recover_ns: None,
                        blast: (!f.random).then(|| BlastRadius {
                            components: n as u32,
                            cells: cells as u32,
                            zones: zones as u32,
                            ..BlastRadius::default()
                        }),
                    },
                    window,
                    clear: 0,
                    clear_from_ns: 0,
                    components: vec![false; n],
                    cells: vec![false; cells],
                    zones: vec![false; zones],
                    reach: reaches[i].0.clone(),
                    workloads: reaches[i].1.clone(),
                    customer_window,
                }
            })
            .collect();
        Analysis {
            spec,
            rule: spec.analysis,
            impaired_buckets: vec![0; n],
            first_impaired_ns: vec![None; n],
            faulted,
            faults,
            any_impaired_buckets: 0,
            analysed_until_ns: 0,
            occurrences_dropped: spec
                .faults
                .iter()
                .filter_map(|f| f.repeat)
                .map(|r| (r.times as u64).saturating_sub(MAX_OCCURRENCES as u64))
                .sum(),
        }
    }

    /// A stop condition ended the faults at `at_ns`: every window ends there (one that had
    /// not begun is empty, at the stop; a termination's stays), so recovery counts from it.
    pub(crate) fn stop_at(&mut self, at_ns: Nanos) {
        for f in self.faults.iter_mut().filter(|f| !f.impact.random) {
            if matches!(self.spec.faults[f.impact.fault as usize].kind, FaultKind::Crash(Crash::Terminate)) {
                continue;
            }
            f.window.start_ns = f.window.start_ns.min(at_ns);
            f.window.end_ns = f.window.end_ns.min(at_ns);
            f.impact.start_ns = f.window.start_ns;
            f.impact.end_ns = f.window.end_ns;
        }
    }

    /// Compares the bucket `[start_ns, end_ns)` of the run (`ours`) with the baseline's.
    pub(crate) fn bucket(
        &mut self,
        start_ns: Nanos,
        end_ns: Nanos,
        ours: &BucketObservation,
        theirs: &BucketObservation,
    ) {
        self.analysed_until_ns = end_ns;
        let rule = self.rule;
        let components: Vec<bool> = (0..self.spec.services.len())
            .map(|s| {
                let p99 = ours.latency_quantile_ns(s, 0.99).zip(theirs.latency_quantile_ns(s, 0.99));
                impaired(&rule, ours.services[s], theirs.services[s], p99)
            })
            .collect();
        let zones: Vec<bool> =
            ours.zones.iter().zip(&theirs.zones).map(|(&o, &t)| impaired(&rule, o, t, None)).collect();
        let any = components.iter().any(|&i| i);
        self.any_impaired_buckets += any as u64;
        for (s, _) in components.iter().enumerate().filter(|(_, &i)| i) {
            self.impaired_buckets[s] += 1;
            self.first_impaired_ns[s].get_or_insert(start_ns);
        }
        for f in self.faults.iter_mut().filter(|f| !f.impact.random) {
            let w = f.window;
            // Only what the fault can reach counts for it.
            let any = components.iter().zip(&f.reach).any(|(&i, &r)| i && r);
            let (mut requests, mut harmed) = ([0u64; 2], [0u64; 2]);
            for (wl, _) in f.workloads.iter().enumerate().filter(|(_, &r)| r) {
                for (k, b) in [ours, theirs].into_iter().enumerate() {
                    requests[k] += b.requests[wl].ended;
                    harmed[k] += b.requests[wl].failed + b.slow_requests[wl];
                }
            }
            // Detected by an impairment before it has recovered (a later one is another story).
            let open = f.impact.time_to_recover_ns.is_none();
            if any && open && end_ns > w.start_ns && f.impact.time_to_detect_ns.is_none() {
                f.impact.time_to_detect_ns = Some(start_ns.saturating_sub(w.start_ns));
            }
            if start_ns < w.end_ns && end_ns > w.start_ns {
                let blast = f.impact.blast.as_mut().expect("scheduled faults have one");
                blast.requests += requests[0];
                blast.requests_harmed += harmed[0];
                blast.baseline_requests += requests[1];
                blast.baseline_requests_harmed += harmed[1];
                for (s, _) in components.iter().enumerate().filter(|(s, &i)| i && f.reach[*s]) {
                    f.components[s] = true;
                    if let Some(cell) = self.spec.services[s].cell {
                        f.cells[cell as usize] = true;
                    }
                }
                for (z, _) in zones.iter().enumerate().filter(|(_, &i)| i) {
                    f.zones[z] = true;
                }
            }
            // Recovery: clear buckets from the one the fault ends in.
            if end_ns > w.end_ns && f.impact.time_to_recover_ns.is_none() {
                if any {
                    f.clear = 0;
                } else {
                    if f.clear == 0 {
                        f.clear_from_ns = start_ns;
                    }
                    f.clear += 1;
                    if f.clear >= rule.recovered_buckets {
                        f.impact.time_to_recover_ns = Some(f.clear_from_ns.saturating_sub(w.end_ns));
                    }
                }
            }
        }
    }

    /// The comparison, with the customers each window collected in the run and the baseline.
    pub(crate) fn finish(self, customers: &[(Option<CustomerCounts>, Option<CustomerCounts>)]) -> Impact {
        let cascade = crate::cascade::tree(self.spec, &self.faulted, &self.impaired_buckets, &self.first_impaired_ns);
        let faults = self
            .faults
            .into_iter()
            .map(|mut f| {
                if let Some(blast) = f.impact.blast.as_mut() {
                    let count = |v: &[bool]| v.iter().filter(|&&x| x).count() as u32;
                    blast.components_impaired = count(&f.components);
                    blast.cells_impaired = count(&f.cells);
                    blast.zones_impaired = count(&f.zones);
                    blast.customers = f.customer_window.and_then(|k| customers.get(k)).and_then(|c| c.0.zip(c.1));
                }
                f.impact
            })
            .collect();
        Impact {
            bucket_ns: self.spec.bucket_ns,
            rule: self.rule,
            analysed_until_ns: self.analysed_until_ns,
            impaired_buckets: self.any_impaired_buckets,
            faults,
            occurrences_dropped: self.occurrences_dropped,
            cascade,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ended: u64, failed: u64) -> Counts {
        Counts { ended, failed }
    }

    /// The default rule, case by case: too few jobs; errors up by under a point; errors up
    /// by over a point but less than doubled; doubled and over a point; latency 1.5x.
    #[test]
    fn the_rule_needs_jobs_a_margin_and_a_factor() {
        let rule = AnalysisSpec::default();
        assert!(!impaired(&rule, counts(19, 19), counts(100, 0), None), "19 jobs are too few");
        assert!(impaired(&rule, counts(20, 1), counts(100, 0), None), "5% against 0%");
        assert!(!impaired(&rule, counts(1000, 9), counts(1000, 0), None), "0.9 points: within the margin");
        assert!(!impaired(&rule, counts(1000, 150), counts(1000, 100), None), "15% against 10%: not doubled");
        assert!(impaired(&rule, counts(1000, 200), counts(1000, 100), None), "20% against 10%");
        assert!(!impaired(&rule, counts(1000, 0), counts(1000, 0), Some((150, 100))), "exactly 1.5x is not over");
        assert!(impaired(&rule, counts(1000, 0), counts(1000, 0), Some((151, 100))));
        assert!(!impaired(&rule, counts(1000, 0), counts(19, 0), Some((1000, 100))), "too few baseline jobs");
    }
}
