//! Running simulations together, above `models`: a run with faults paired with its baseline
//! (the same scenario and seed without the faults), the two stepped side by side bucket by
//! bucket, and what comparing them finds (`impact`: impairment, time to detect and recover,
//! blast radius; `cascade`: the tree of impaired components). `models` offers the stepping
//! and the observations and knows nothing of pairing; the binary calls `simulate` and stays
//! thin.
//!
//! # Common random numbers
//!
//! Every random stream is keyed by the entity that draws from it (see `sim::rng`), so the
//! baseline draws exactly what the run draws wherever the faults change nothing: open
//! workloads send identical arrivals, closed loops the same users with the same think times,
//! and a difference between the two runs is the faults' doing, not noise.

mod cascade;
pub mod hypotheses;
mod impact;

use cellsim_models::observe::{CustomerCounts, Observe, Observed};
use cellsim_models::{Estimate, Features, NoSeries, RunResult, SeriesSink, Simulation, Spec};
use cellsim_sim::Nanos;
use hypotheses::Tracker;

/// Customer windows collected at once at most (each holds two bits per customer).
pub const MAX_OPEN_CUSTOMER_WINDOWS: usize = 16;

/// Runs `spec` with seed `seed`, streaming its series into `sink`; when it has faults (and
/// `[analysis] baseline` is on, and `paired` asks for it), beside its baseline, filling
/// `RunResult::impact`. The run's own results are the same bytes paired or not.
pub fn simulate<S: SeriesSink>(spec: &Spec, seed: u64, sink: S, paired: bool) -> (RunResult, S) {
    if !pairs(spec, paired) {
        let (result, tracker) = cellsim_models::simulate(spec, seed, Tracker::new(spec, sink));
        return judged_alone(spec, result, tracker);
    }
    let (result, sink, _) = simulate_paired(spec, seed, sink, NoSeries, &mut |_| {});
    (result, sink)
}

/// A run and, when it was paired and completed, its baseline's result and series.
pub type Pair<S, B> = (RunResult, S, Option<(RunResult, B)>);

/// `simulate_with_progress`, streaming the baseline's series into `base_sink` and handing
/// back the baseline's result too (for the report's baseline curves and distributions).
pub fn simulate_pair<S: SeriesSink, B: SeriesSink>(
    spec: &Spec,
    seed: u64,
    sink: S,
    base_sink: B,
    paired: bool,
    progress: &mut dyn FnMut(Nanos),
) -> Pair<S, B> {
    if pairs(spec, paired) {
        return simulate_paired(spec, seed, sink, base_sink, progress);
    }
    let (result, sink) = simulate_alone(spec, seed, sink, progress);
    (result, sink, None)
}

/// The hypotheses of a run alone judged into `result`.
fn judged_alone<S: SeriesSink>(spec: &Spec, mut result: RunResult, tracker: Tracker<S>) -> (RunResult, S) {
    let (sink, judged) = tracker.into_parts();
    result.hypotheses = hypotheses::judge(spec, &result, Some(&judged), None);
    (result, sink)
}

/// `simulate`, telling `progress` the simulated time reached as the run goes (at each bucket
/// paired, at each 1/200 of the run alone): a stepped run handles its events in the order
/// of one straight through, so the results are the same bytes.
pub fn simulate_with_progress<S: SeriesSink>(
    spec: &Spec,
    seed: u64,
    sink: S,
    paired: bool,
    progress: &mut dyn FnMut(Nanos),
) -> (RunResult, S) {
    if pairs(spec, paired) {
        let (result, sink, _) = simulate_paired(spec, seed, sink, NoSeries, progress);
        return (result, sink);
    }
    simulate_alone(spec, seed, sink, progress)
}

/// A run alone, stepped for `progress`.
fn simulate_alone<S: SeriesSink>(spec: &Spec, seed: u64, sink: S, progress: &mut dyn FnMut(Nanos)) -> (RunResult, S) {
    let mut run = Simulation::new(spec, seed, Tracker::new(spec, sink));
    let step_ns = (spec.duration_ns / 200).max(cellsim_sim::NS_PER_MS);
    let mut until_ns: Nanos = 0;
    while until_ns < spec.duration_ns {
        until_ns = until_ns.saturating_add(step_ns).min(spec.duration_ns);
        let going = run.run_until(until_ns);
        progress(until_ns);
        if !going {
            break;
        }
    }
    let (result, tracker) = run.finish();
    judged_alone(spec, result, tracker)
}

/// `simulate` beside the baseline, in step bucket by bucket.
fn simulate_paired<S: SeriesSink, B: SeriesSink>(
    spec: &Spec,
    seed: u64,
    sink: S,
    base_sink: B,
    progress: &mut dyn FnMut(Nanos),
) -> Pair<S, B> {
    let baseline = baseline_of(spec);
    let observe = Observe {
        slo_ns: spec.analysis.slo_ns,
        customer_windows: impact::windows(spec, seed),
        max_open_windows: MAX_OPEN_CUSTOMER_WINDOWS,
    };
    let mut run = Simulation::new(spec, seed, Tracker::new(spec, sink));
    // The baseline in the run's tier: tiers give the same results, and the customer ids
    // that blast radius counts are drawn from the policies tier up.
    let mut base = Simulation::new_in(&baseline, seed, Tracker::new(spec, base_sink), Features::of(spec).tier(), true);
    run.observe(&observe);
    base.observe(&observe);
    let mut analysis = impact::Analysis::new(spec, seed);
    let bucket_ns = spec.bucket_ns.max(1);
    let mut start_ns: Nanos = 0;
    let mut stopped = false;
    while start_ns < spec.duration_ns {
        let end_ns = start_ns.saturating_add(bucket_ns);
        let going = run.run_until(end_ns);
        if let (Some(stop), false) = (run.faults_stopped(), stopped) {
            // The faults ended early: the comparison's windows and the baseline's
            // hypotheses end there too, before this bucket is compared.
            stopped = true;
            analysis.stop_at(stop.at_ns);
            base.sink_mut().stop_at(stop.at_ns);
        }
        let base_going = base.run_until(end_ns);
        let ours = observed(&mut run, end_ns);
        let theirs = observed(&mut base, end_ns);
        if !base_going && base.stopped_early() {
            // The baseline hit a limit: nothing after this is comparable.
            break;
        }
        analysis.bucket(start_ns, end_ns.min(spec.duration_ns), &ours, &theirs);
        progress(end_ns.min(spec.duration_ns));
        if !going {
            break;
        }
        start_ns = end_ns;
    }
    let windows: Vec<_> =
        (0..observe.customer_windows.len()).map(|k| (customers(&mut run, k), customers(&mut base, k))).collect();
    let (mut result, tracker) = run.finish();
    result.impact = Some(analysis.finish(&windows));
    let (sink, judged) = tracker.into_parts();
    // The baseline's last buckets reach its tracker as it finishes; a run stopped by a limit
    // has nothing comparable after the stop, so its baseline is not run on.
    let base = result.verdict.is_completed().then(|| {
        let (base_result, tracker) = base.finish();
        let (base_sink, judged) = tracker.into_parts();
        (base_result, base_sink, judged)
    });
    result.hypotheses = hypotheses::judge(spec, &result, Some(&judged), base.as_ref().map(|(r, _, j)| (r, j)));
    (result, sink, base.map(|(r, s, _)| (r, s)))
}

/// What a run of `spec` needs (`models::Estimate`), paired with its baseline when `pairs`
/// says so: both models at once, and both runs' observations.
pub fn estimate(spec: &Spec, paired: bool) -> Estimate {
    let run = Estimate::of(spec);
    if !pairs(spec, paired) {
        return run;
    }
    let base = Estimate::of(&baseline_of(spec));
    let zones = spec.topology.as_ref().map_or(0, |t| t.zones.len());
    let observe = Observe {
        slo_ns: None,
        customer_windows: impact::windows(spec, spec.seed),
        max_open_windows: MAX_OPEN_CUSTOMER_WINDOWS,
    };
    // Each run's observations, and the bucket taken from each (held while compared).
    let observed = 4 * Observed::bytes(&observe, spec.services.len(), spec.workloads.len(), zones, spec.customers());
    // The comparison's own state: a few counters per component and per fault.
    // The comparison's own state: a few counters per component, and per fault record (up to
    // ten occurrences a fault) its marks over components (impaired, reach), cells, zones and
    // workloads, and its words.
    let (n, cells) = (spec.services.len() as u64, spec.topology.as_ref().map_or(0, |t| t.cells.len()) as u64);
    let records: u64 = spec
        .faults
        .iter()
        .map(|f| f.repeat.map_or(1, |r| (r.times as u64).min(cellsim_models::impact::MAX_OCCURRENCES as u64)))
        .sum();
    let per_record = 512 + 2 * n + cells + zones as u64 + spec.workloads.len() as u64;
    let analysis = 64 * n + records * per_record + spec.faults.len() as u64 * (2 * n + spec.workloads.len() as u64);
    let extra = observed + analysis;
    Estimate {
        expected_peak_bytes: run.expected_peak_bytes.saturating_add(base.expected_peak_bytes).saturating_add(extra),
        bound_peak_bytes: run.bound_peak_bytes.saturating_add(base.bound_peak_bytes).saturating_add(extra),
        ..run
    }
}

/// Does `spec` run beside a baseline: it has faults, `[analysis] baseline` is on, and the
/// caller asks for it (`paired`)?
pub fn pairs(spec: &Spec, paired: bool) -> bool {
    paired && spec.analysis.baseline && !spec.faults.is_empty()
}

/// The baseline of `spec`: the same scenario without its faults (noise stays: it is part of
/// the steady state).
pub fn baseline_of(spec: &Spec) -> Spec {
    Spec { faults: Vec::new(), random_faults: Vec::new(), trigger: None, ..spec.clone() }
}

/// The customers `sim` collected over window `w`.
fn customers<S: SeriesSink>(sim: &mut Simulation<'_, S>, k: usize) -> Option<CustomerCounts> {
    sim.observed().and_then(|o| o.customers(k))
}

/// The bucket that ends at `end_ns`, taken from `sim`'s observations.
fn observed<S: SeriesSink>(sim: &mut Simulation<'_, S>, end_ns: Nanos) -> cellsim_models::observe::BucketObservation {
    let o = sim.observed().expect("observed from the start");
    o.close_windows(end_ns);
    o.take_bucket()
}
