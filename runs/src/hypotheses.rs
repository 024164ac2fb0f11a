//! Judging hypotheses. A `Tracker` is a series sink that passes every row on and adds each
//! bucket to the windows of the hypotheses that look at it: the whole window, its batches
//! (at most 20, for a confidence interval by batch means), and for a sliding window the
//! buckets it spans. `judge` turns that (and the run's records, and the fault analysis)
//! into verdicts.
//!
//! # The verdict rule
//!
//! A hypothesis holds or breaks on its point estimate. Its 95% interval comes from batch
//! batches: the window cut into up to 20 batches of whole buckets, and the statistic (a
//! percentile, a mean, a share: none of them a plain mean of the batches' own) computed on
//! the window with each batch left out in turn: the batched jackknife's variance,
//! `(n - 1) / n x sum (theta_-i - mean)^2`, with Student's t at n - 1 degrees of freedom. For
//! a comparison with the baseline the statistic is the margin, experiment less `factor x`
//! baseline, over the same batches of both runs, which common random numbers make close. An
//! interval that straddles the threshold makes the verdict *inconclusive*: still counted by
//! its point estimate, with the factor of data (seeds, or a window that many times as long)
//! that would narrow the interval to the estimate's distance from the threshold. Batches
//! assume the window's buckets alike: over a window that holds a fault and calm, the
//! interval is wide because one batch differs, which is what it should say.

use cellsim_models::faults::catalogue::Crash;
use cellsim_models::faults::FaultKind;
use cellsim_models::hypothesis::{HypothesisResult, HypothesisSpec, Metric, Scope, Unit, WindowSel};
use cellsim_models::metrics::SeriesHistogram;
use cellsim_models::{Outcomes, Place, PlaceRow, RunResult, SeriesRow, SeriesSink, Spec};
use cellsim_sim::Nanos;
use std::collections::VecDeque;

/// Batches a window is cut into at most.
const MAX_BATCHES: u64 = 20;

/// Student's t, 97.5% quantile, by degrees of freedom 1 to 19.
const T_975: [f64; 19] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093,
];

/// Requests (or jobs) that ended, how many failed, and the successes' latencies.
#[derive(Clone, Debug, Default)]
struct Stat {
    ended: u64,
    failed: u64,
    latency: SeriesHistogram,
}

impl Stat {
    fn add(&mut self, outcomes: &Outcomes, latency: &SeriesHistogram) {
        self.ended += outcomes.total();
        self.failed += outcomes.total() - outcomes.successes();
        self.latency.merge(latency, true);
    }

    fn merge(&mut self, other: &Stat, add: bool) {
        if add {
            self.ended += other.ended;
            self.failed += other.failed;
        } else {
            self.ended -= other.ended;
            self.failed -= other.failed;
        }
        self.latency.merge(&other.latency, add);
    }

    fn value(&self, metric: Metric) -> Option<f64> {
        let share = |x: u64| (self.ended > 0).then(|| x as f64 / self.ended as f64);
        match metric {
            Metric::Quantile(q) => self.latency.quantile(q).map(|v| v as f64),
            Metric::Mean => self.latency.mean(),
            Metric::Max => self.latency.max().map(|v| v as f64),
            Metric::ErrorRate => share(self.failed),
            Metric::Availability => share(self.ended - self.failed),
            _ => None,
        }
    }
}

/// A hypothesis's window as ranges of bucket indices, sorted and apart.
/// With a stop at `stopped_ns`, a fault's occurrences end there and later ones never come; a
/// terminated instance stays terminated.
fn ranges(spec: &Spec, window: &WindowSel, stopped_ns: Option<Nanos>) -> Vec<(u64, u64)> {
    let w = spec.bucket_ns.max(1);
    let first = spec.warmup_ns.div_ceil(w);
    let last = spec.duration_ns.div_ceil(w);
    let occurrences = |f: u32| -> Vec<(Nanos, Nanos)> {
        let fault = &spec.faults[f as usize];
        let terminate = matches!(fault.kind, FaultKind::Crash(Crash::Terminate));
        fault
            .occurrences()
            .filter(|o| stopped_ns.is_none_or(|s| o.start_ns < s))
            .map(|o| match stopped_ns {
                Some(s) if !terminate => (o.start_ns, o.end_ns.min(s)),
                _ => (o.start_ns, o.end_ns),
            })
            .collect()
    };
    let clip = |(a, b): (u64, u64)| (a.max(first), b.min(last));
    let mut out: Vec<(u64, u64)> = match window {
        WindowSel::Run | WindowSel::Any(_) => vec![(first, last)],
        WindowSel::Before(f) => {
            let start = occurrences(*f).first().map_or(stopped_ns.unwrap_or(spec.duration_ns), |o| o.0);
            vec![clip((first, start / w))]
        }
        WindowSel::During(f) => occurrences(*f).into_iter().map(|(s, e)| clip((s / w, e.div_ceil(w)))).collect(),
        WindowSel::After(f, length) => match occurrences(*f).last() {
            Some(&(_, end)) => {
                let until = length.map_or(last, |l| end.saturating_add(l).div_ceil(w));
                vec![clip((end.div_ceil(w), until))]
            }
            None => vec![],
        },
    };
    out.retain(|(a, b)| a < b);
    // Occurrences whose buckets touch merge into one range.
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(out.len());
    for r in out {
        match merged.last_mut() {
            Some(m) if r.0 <= m.1 => m.1 = m.1.max(r.1),
            _ => merged.push(r),
        }
    }
    merged
}

/// One hypothesis's accumulation in one run.
#[derive(Clone, Debug)]
struct Acc {
    /// The places it adds (`None`: every workload).
    place: Option<Place>,
    ranges: Vec<(u64, u64)>,
    /// Buckets before each range, within the window.
    before: Vec<u64>,
    batch_buckets: u64,
    whole: Stat,
    batches: Vec<Stat>,
    sliding: Option<Sliding>,
}

/// A sliding window: the last `width` buckets' stats, their sum, and the worst value seen.
#[derive(Clone, Debug)]
struct Sliding {
    width: u64,
    metric: Metric,
    upper: bool,
    ring: VecDeque<Stat>,
    sum: Stat,
    /// The bucket being added to, and its stat.
    current: Option<(u64, Stat)>,
    worst: Option<f64>,
}

impl Sliding {
    fn add(&mut self, k: u64, outcomes: &Outcomes, latency: &SeriesHistogram) {
        if self.current.as_ref().is_some_and(|(c, _)| *c != k) {
            self.close();
        }
        self.current.get_or_insert_with(|| (k, Stat::default())).1.add(outcomes, latency);
    }

    /// The current bucket enters the window; a full window is judged.
    fn close(&mut self) {
        let Some((_, stat)) = self.current.take() else { return };
        self.sum.merge(&stat, true);
        self.ring.push_back(stat);
        if self.ring.len() as u64 > self.width {
            let old = self.ring.pop_front().expect("a full ring");
            self.sum.merge(&old, false);
        }
        if self.ring.len() as u64 == self.width {
            if let Some(v) = self.sum.value(self.metric) {
                let worse = self.worst.is_none_or(|w| if self.upper { v > w } else { v < w });
                if worse {
                    self.worst = Some(v);
                }
            }
        }
    }
}

impl Acc {
    fn new(spec: &Spec, h: &HypothesisSpec) -> Option<Acc> {
        let place = match h.scope {
            Scope::AllRequests => None,
            Scope::Workload(w) => Some(Place::Workload(w)),
            Scope::Cell(c) => Some(Place::Cell(c)),
            Scope::Zone(z) => Some(Place::Zone(z)),
            Scope::Request(_) | Scope::Service(_) => return None,
        };
        if h.expr.metric.from_impact() {
            return None;
        }
        let mut acc = Acc {
            place,
            ranges: Vec::new(),
            before: Vec::new(),
            batch_buckets: 1,
            whole: Stat::default(),
            batches: Vec::new(),
            sliding: match h.window {
                WindowSel::Any(width_ns) => Some(Sliding {
                    width: (width_ns / spec.bucket_ns.max(1)).max(1),
                    metric: h.expr.metric,
                    upper: h.expr.cmp.upper_bound(),
                    ring: VecDeque::new(),
                    sum: Stat::default(),
                    current: None,
                    worst: None,
                }),
                _ => None,
            },
        };
        acc.set_ranges(ranges(spec, &h.window, None));
        let buckets: u64 = acc.ranges.iter().map(|(a, b)| b - a).sum();
        acc.batch_buckets = buckets.div_ceil(MAX_BATCHES).max(1);
        Some(acc)
    }

    fn set_ranges(&mut self, ranges: Vec<(u64, u64)>) {
        let mut before = 0;
        self.before = ranges
            .iter()
            .map(|(a, b)| {
                let x = before;
                before += b - a;
                x
            })
            .collect();
        self.ranges = ranges;
    }

    fn add(&mut self, k: u64, place: Place, outcomes: &Outcomes, latency: &SeriesHistogram) {
        let wanted = match self.place {
            None => matches!(place, Place::Workload(_)),
            Some(p) => p == place,
        };
        if !wanted {
            return;
        }
        let r = self.ranges.partition_point(|(_, end)| *end <= k);
        let Some(&(start, _)) = self.ranges.get(r).filter(|(start, _)| *start <= k) else { return };
        self.whole.add(outcomes, latency);
        let batch = ((self.before[r] + k - start) / self.batch_buckets) as usize;
        if self.batches.len() <= batch {
            self.batches.resize(batch + 1, Stat::default());
        }
        self.batches[batch].add(outcomes, latency);
        if let Some(s) = self.sliding.as_mut() {
            s.add(k, outcomes, latency);
        }
    }
}

/// A series sink that passes everything on to `inner` and accumulates the hypotheses'
/// windows (see the module's comment).
pub struct Tracker<'s, S> {
    spec: &'s Spec,
    inner: S,
    accs: Vec<Option<Acc>>,
    bucket_ns: Nanos,
    stopped_ns: Option<Nanos>,
}

impl<'s, S: SeriesSink> Tracker<'s, S> {
    pub fn new(spec: &'s Spec, inner: S) -> Tracker<'s, S> {
        Tracker {
            spec,
            inner,
            accs: spec.hypotheses.iter().map(|h| Acc::new(spec, h)).collect(),
            bucket_ns: spec.bucket_ns.max(1),
            stopped_ns: None,
        }
    }

    /// A stop condition ended the faults at `at_ns`: windows over faults end there (the
    /// baseline's tracker is told too, so that both judge the same buckets). Only buckets
    /// from the stop's on are judged differently: those before have been added already.
    pub fn stop_at(&mut self, at_ns: Nanos) {
        if self.stopped_ns.is_some() {
            return;
        }
        self.stopped_ns = Some(at_ns);
        for (acc, h) in self.accs.iter_mut().zip(&self.spec.hypotheses) {
            if let Some(acc) = acc.as_mut().filter(|_| h.window.fault().is_some()) {
                acc.set_ranges(ranges(self.spec, &h.window, Some(at_ns)));
            }
        }
    }

    pub fn into_parts(mut self) -> (S, Judged) {
        for acc in self.accs.iter_mut().flatten() {
            if let Some(s) = acc.sliding.as_mut() {
                s.close();
            }
        }
        (self.inner, Judged { accs: self.accs })
    }
}

impl<S: SeriesSink> SeriesSink for Tracker<'_, S> {
    fn row(&mut self, row: SeriesRow) {
        self.inner.row(row)
    }

    fn place_row(&mut self, row: PlaceRow) {
        self.inner.place_row(row)
    }

    fn bucket(&mut self, bucket_start_ns: Nanos, place: Place, outcomes: &Outcomes, latency: &SeriesHistogram) {
        self.inner.bucket(bucket_start_ns, place, outcomes, latency);
        let k = bucket_start_ns / self.bucket_ns;
        for acc in self.accs.iter_mut().flatten() {
            acc.add(k, place, outcomes, latency);
        }
    }

    fn faults_stopped(&mut self, at_ns: Nanos) {
        self.inner.faults_stopped(at_ns);
        self.stop_at(at_ns);
    }
}

/// What a tracker accumulated, by hypothesis.
pub struct Judged {
    accs: Vec<Option<Acc>>,
}

/// A value, its interval's half-width over batches (if it has one), and the baseline's
/// value for a relative threshold.
struct Estimate {
    value: Option<f64>,
    half_width: Option<f64>,
    baseline: Option<f64>,
}

/// The 95% half-width from the jackknife's leave-one-batch-out values `xs` (`None` under
/// 2 values).
fn half_width(xs: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = (n - 1) as f64 / n as f64 * xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
    Some(T_975[(n - 2).min(T_975.len() - 1)] * var.sqrt())
}

/// The window's statistic with batch `k` left out.
fn without(whole: &Stat, batch: &Stat, metric: Metric) -> Option<f64> {
    let mut rest = whole.clone();
    rest.merge(batch, false);
    rest.value(metric)
}

/// Judges every hypothesis of `spec` on `result`, with `base` the baseline's result and
/// accumulations when the run was paired.
pub fn judge(
    spec: &Spec,
    result: &RunResult,
    judged: Option<&Judged>,
    base: Option<(&RunResult, &Judged)>,
) -> Vec<HypothesisResult> {
    spec.hypotheses
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let acc = judged.and_then(|j| j.accs[i].as_ref());
            let base_acc = base.and_then(|(_, j)| j.accs[i].as_ref());
            let estimate = estimate(h, result, acc, base.map(|b| b.0), base_acc);
            verdict(spec, h, result, estimate)
        })
        .collect()
}

fn estimate(
    h: &HypothesisSpec,
    result: &RunResult,
    acc: Option<&Acc>,
    base_result: Option<&RunResult>,
    base_acc: Option<&Acc>,
) -> Estimate {
    let metric = h.expr.metric;
    let threshold = h.expr.threshold;
    if metric.from_impact() {
        return Estimate { value: impact_value(h, result), half_width: None, baseline: None };
    }
    if let Some(acc) = acc {
        if let Some(s) = &acc.sliding {
            return Estimate { value: s.worst, half_width: None, baseline: None };
        }
        let value = acc.whole.value(metric);
        let baseline = base_acc.and_then(|b| b.whole.value(metric)).filter(|_| threshold.relative());
        // Leave-one-batch-out margins (a batch with no data in either run is left out of
        // the jackknife: it holds nothing to leave out).
        let margins: Vec<f64> = acc
            .batches
            .iter()
            .enumerate()
            .filter(|(_, stat)| stat.ended > 0)
            .filter_map(|(k, stat)| {
                let e = without(&acc.whole, stat, metric)?;
                if !threshold.relative() {
                    return Some(e);
                }
                let base = base_acc?;
                let b = without(&base.whole, base.batches.get(k)?, metric)?;
                Some(e - threshold.factor * b)
            })
            .collect();
        // The largest value has no interval: leaving a batch out says nothing of its spread.
        let half_width = if metric == Metric::Max { None } else { half_width(&margins) };
        return Estimate { value, half_width, baseline };
    }
    let of = |r: &RunResult| -> (Option<f64>, Option<f64>) { record_value(h, r) };
    let (value, half_width) = of(result);
    let baseline = if threshold.relative() { base_result.and_then(|b| of(b).0) } else { None };
    Estimate { value, half_width, baseline }
}

/// A request type's or a service's value over the whole run, from its records (HDR
/// histograms, and batch means for the mean latency and the error rate).
fn record_value(h: &HypothesisSpec, r: &RunResult) -> (Option<f64>, Option<f64>) {
    use cellsim_models::metrics::T_19_95;
    let (outcomes, latency, latency_batches, ok_batches) = match h.scope {
        Scope::Request(k) => {
            let q = &r.requests[k as usize];
            (&q.outcomes, &q.latency, Some(&q.latency_batches), Some(&q.success_batches))
        }
        Scope::Service(s) => {
            let q = &r.services[s as usize];
            (&q.outcomes, &q.sojourn, Some(&q.sojourn_batches), None)
        }
        _ => return (None, None),
    };
    let total = outcomes.total();
    let share = |x: u64| (total > 0).then(|| x as f64 / total as f64);
    let lat = |v: f64| (!latency.is_empty()).then_some(v);
    match h.expr.metric {
        Metric::Quantile(q) => (lat(latency.value_at_quantile(q) as f64), None),
        Metric::Mean => (lat(latency.mean()), latency_batches.and_then(|b| b.interval(T_19_95)).map(|i| i.1)),
        Metric::Max => (lat(latency.max() as f64), None),
        Metric::ErrorRate => {
            (share(total - outcomes.successes()), ok_batches.and_then(|b| b.interval(T_19_95)).map(|i| i.1))
        }
        Metric::Availability => {
            (share(outcomes.successes()), ok_batches.and_then(|b| b.interval(T_19_95)).map(|i| i.1))
        }
        _ => (None, None),
    }
}

/// A fault analysis metric: over a fault's records, or the worst over every fault.
fn impact_value(h: &HypothesisSpec, result: &RunResult) -> Option<f64> {
    let impact = result.impact.as_ref()?;
    if h.expr.metric == Metric::CascadeDepth {
        return Some(impact.cascade.depth as f64);
    }
    let fault = h.window.fault();
    let records = impact.faults.iter().filter(|r| !r.random && fault.is_none_or(|f| r.fault == f));
    let time = |t: Option<Nanos>| t.map_or(f64::INFINITY, |t| t as f64);
    let values: Vec<f64> = records
        .filter_map(|r| match h.expr.metric {
            Metric::Recovery => Some(time(r.time_to_recover_ns)),
            Metric::Detection => Some(time(r.time_to_detect_ns)),
            Metric::BlastRadius => r.blast.as_ref().map(|b| match b.customers {
                Some((run, _)) if run.sent > 0 => run.failed as f64 / run.sent as f64,
                _ => b.requests_harmed as f64 / b.requests.max(1) as f64,
            }),
            _ => None,
        })
        .collect();
    values.into_iter().reduce(f64::max)
}

fn verdict(spec: &Spec, h: &HypothesisSpec, result: &RunResult, e: Estimate) -> HypothesisResult {
    let unit = h.expr.metric.unit();
    let t = h.expr.threshold;
    let threshold = match e.baseline {
        Some(b) => t.factor * b + t.add,
        None => t.add,
    };
    let relative_missing = t.relative() && e.baseline.is_none();
    let held = match e.value {
        Some(v) if !relative_missing => h.expr.cmp.holds(v, threshold),
        _ => false,
    };
    // The interval within the metric's range (a time is not negative, a share within 0 to 1).
    let top = if unit == Unit::Share { 1.0 } else { f64::INFINITY };
    let interval = match (e.value, e.half_width) {
        (Some(v), Some(hw)) if v.is_finite() => Some(((v - hw).max(0.0), (v + hw).min(top))),
        _ => None,
    };
    let inconclusive = interval.is_some_and(|(lo, hi)| lo < threshold && threshold < hi);
    let settle_factor = match (inconclusive, e.value, e.half_width) {
        (true, Some(v), Some(hw)) if v != threshold => Some((hw / (v - threshold).abs()).powi(2)),
        _ => None,
    };
    let why = why(spec, h, result, &e, threshold, held, relative_missing);
    HypothesisResult {
        name: h.name.clone(),
        expect: h.expect.clone(),
        scope: h.scope_words.clone(),
        window: h.window_words.clone(),
        unit,
        observed: e.value,
        interval,
        comparison: h.expr.cmp,
        threshold,
        baseline: e.baseline,
        held,
        inconclusive,
        settle_factor,
        why,
    }
}

/// The reason, in words: the metric, scope and window, observed against threshold, and what
/// drove it (the faults acting in the window, and the components most impaired).
fn why(
    spec: &Spec,
    h: &HypothesisSpec,
    result: &RunResult,
    e: &Estimate,
    threshold: f64,
    held: bool,
    relative_missing: bool,
) -> String {
    let unit = h.expr.metric.unit();
    let subject = format!("{} of {} {}", h.expr.metric.name(), h.scope_words, h.window_words);
    let mut s = match e.value {
        None => format!(
            "{subject}: no data (no request finished in the window, or for a latency no successful one; requests count in the bucket they finish in, so slow ones during a fault finish after it: try `after F for 1m`)"
        ),
        Some(_) if relative_missing => format!("{subject}: the baseline had no data to compare with"),
        Some(v) => {
            let against = match e.baseline {
                Some(b) => format!("{} {} (the baseline's {})", h.expr.cmp.symbol(), unit.show(threshold), unit.show(b)),
                None => format!("{} {}", h.expr.cmp.symbol(), unit.show(threshold)),
            };
            let kind = if matches!(h.window, WindowSel::Any(_)) { "worst window " } else { "" };
            format!("{subject}: {kind}{} against {against}: {}", unit.show(v), if held { "held" } else { "broke" })
        }
    };
    if let Some(impact) = &result.impact {
        // The faults acting in the window (its buckets' span), each once.
        let w = spec.bucket_ns.max(1);
        let stopped = result.stopped.as_ref().map(|s| s.at_ns);
        let span: Vec<(Nanos, Nanos)> =
            ranges(spec, &h.window, stopped).iter().map(|&(a, b)| (a * w, b.saturating_mul(w))).collect();
        let acting = |r: &cellsim_models::impact::FaultImpact| {
            r.random || span.iter().any(|&(a, b)| r.start_ns < b && a < r.end_ns.max(r.start_ns + 1))
        };
        let mut listed: Vec<u32> = Vec::new();
        let faults: Vec<String> = impact
            .faults
            .iter()
            .filter(|r| {
                acting(r) && !listed.contains(&r.fault) && {
                    listed.push(r.fault);
                    true
                }
            })
            .map(|r| {
                let name = spec.fault_names.get(r.fault as usize).map_or(String::new(), |n| format!("{n}: "));
                let impaired = r.blast.as_ref().map_or(String::new(), |b| {
                    format!(", {} of {} components impaired", b.components_impaired, b.components)
                });
                format!("{name}{} of {}{impaired}", r.kind, r.what)
            })
            .take(3)
            .collect();
        if !faults.is_empty() {
            s.push_str(&format!("; faults: {}", faults.join("; ")));
        }
        let mut nodes: Vec<_> = impact.cascade.nodes.iter().filter(|n| n.impaired_buckets > 0).collect();
        nodes.sort_by(|a, b| b.impaired_buckets.cmp(&a.impaired_buckets).then(a.component.cmp(&b.component)));
        let most: Vec<String> =
            nodes.iter().take(3).map(|n| format!("{} ({} buckets)", n.name, n.impaired_buckets)).collect();
        if !most.is_empty() {
            s.push_str(&format!("; impaired longest over the run: {}", most.join(", ")));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jackknife_of_a_mean_is_the_t_interval() {
        // For the mean, leave-one-out values are (S - x_i) / (n - 1), and the jackknife's
        // variance is the usual s^2 / n. Batches 0, 2, 0, 2, ... (20): s^2 = 20/19.
        let xs: Vec<f64> = (0..20).map(|i| (i % 2 * 2) as f64).collect();
        let total: f64 = xs.iter().sum();
        let left_out: Vec<f64> = xs.iter().map(|x| (total - x) / 19.0).collect();
        let expected = 2.093 * (20.0f64 / 19.0 / 20.0).sqrt();
        assert!((half_width(&left_out).unwrap() - expected).abs() < 1e-12);
        // Two batches 1 and 3: leave-one-out 3 and 1, variance 1/2 x 2 = 1, t(1) = 12.706.
        assert!((half_width(&[3.0, 1.0]).unwrap() - 12.706).abs() < 1e-9);
        assert_eq!(half_width(&[1.0]), None);
    }

    #[test]
    fn sliding_windows_keep_the_worst_full_window() {
        let mut s = Sliding {
            width: 2,
            metric: Metric::ErrorRate,
            upper: true,
            ring: VecDeque::new(),
            sum: Stat::default(),
            current: None,
            worst: None,
        };
        let h = SeriesHistogram::default();
        let o = |ok: u64, failed: u64| {
            let mut o = Outcomes::default();
            o.0[cellsim_models::Outcome::Ok as usize] = ok;
            o.0[cellsim_models::Outcome::Error as usize] = failed;
            o
        };
        // Buckets: 0/10 failed, 5/10, 3/10, 0/10: windows of two: 25%, 40%, 15%.
        for (k, (ok, failed)) in [(10, 0), (5, 5), (7, 3), (10, 0)].into_iter().enumerate() {
            s.add(k as u64, &o(ok, failed), &h);
        }
        s.close();
        assert_eq!(s.worst, Some(0.4));
    }
}
