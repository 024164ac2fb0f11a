//! Invariants of a finished run, checked from the outside: from the public [`RunResult`], the
//! series rows the run streamed, and the [`Spec`] it ran. The property tests
//! (`tests/properties.rs`) run thousands of random scenarios through [`check`]; the tests
//! below break one count of a real result at a time and require the checker to notice.
//!
//! What is checked, and why it must hold:
//!
//! - **Conservation.** Every request that arrived finished or was still in flight at the end.
//! - **Outcome counts add up.** A request type's counted requests (after the warm-up) are at
//!   most the requests that finished, per outcome, workload by workload; a service's ended
//!   jobs are at most its arrivals.
//! - **No histogram count lost.** A request type's success histogram holds one value per
//!   success (`ok` + `degraded`) and its failure histogram one per failure; a service's wait
//!   histogram one per job that waited; every batch-means count equals the count it splits.
//! - **Simulated time never goes back.** Series rows come bucket by bucket in time order, one
//!   row per workload per bucket in scenario order, each bucket one `bucket` after the last,
//!   from 0 to the bucket holding the end of the run; the run ends within `duration + drain`.
//! - **The series adds up.** Each workload's rows (warm-up included) add up to the requests
//!   of that workload that finished, and in all to `requests_finished`.
//! - **Limits are respected.** At most `max_events` events, at most `max_in_flight_requests`
//!   requests in flight, and a verdict that names the limit the scenario set.
//!
//! Only what the documentation of `RunResult`, `RequestStats` and `ServiceStats` promises is
//! asserted; the relations between a service's counts are inequalities, because jobs still
//! queued or working when the run ends are counted as arrivals and not as ended.

use crate::metrics::{BatchMeans, SeriesRow};
use crate::outcome::{Outcome, Outcomes};
use crate::spec::Spec;
use crate::{Overload, RunResult, Verdict};

/// Checks every invariant of `result`, a run of `spec`. `rows` are the series rows the run
/// streamed (a `Vec<SeriesRow>` sink), or `None` when the run discarded them: the series
/// checks are then skipped. Returns every violation found, each one line naming the check.
pub fn check(spec: &Spec, result: &RunResult, rows: Option<&[SeriesRow]>) -> Result<(), Vec<String>> {
    let mut v = Violations(Vec::new());
    run_level(spec, result, &mut v);
    requests(spec, result, &mut v);
    services(spec, result, &mut v);
    edges(spec, result, &mut v);
    topology(spec, result, &mut v);
    if let Some(i) = &result.impact {
        impact(spec, i, &mut v);
    }
    hypotheses(spec, result, &mut v);
    if let Some(rows) = rows {
        series(spec, result, rows, &mut v);
    }
    if v.0.is_empty() {
        Ok(())
    } else {
        Err(v.0)
    }
}

/// Judged hypotheses (when judged at all): one per stated, each verdict its comparison's,
/// values within their metric's range, an interval around its value.
fn hypotheses(spec: &Spec, result: &RunResult, v: &mut Violations) {
    use crate::hypothesis::Unit;
    if result.hypotheses.is_empty() {
        return;
    }
    v.require(result.hypotheses.len() == spec.hypotheses.len(), || {
        format!("hypotheses: {} judged of {} stated", result.hypotheses.len(), spec.hypotheses.len())
    });
    for (h, s) in result.hypotheses.iter().zip(&spec.hypotheses) {
        let held = h.observed.is_some_and(|x| s.expr.cmp.holds(x, h.threshold));
        v.require(h.held == held || (s.expr.threshold.relative() && h.baseline.is_none() && !h.held), || {
            format!(
                "hypotheses: `{}` {} with {:?} against {}",
                h.name,
                if h.held { "held" } else { "broke" },
                h.observed,
                h.threshold
            )
        });
        if let Some(x) = h.observed {
            let in_range = match h.unit {
                Unit::Share => (0.0..=1.0).contains(&x),
                Unit::Time | Unit::Count => x >= 0.0,
            };
            v.require(in_range, || format!("hypotheses: `{}` observed {x}, out of its range", h.name));
            if let Some((lo, hi)) = h.interval {
                v.require(lo <= x && x <= hi, || format!("hypotheses: `{}` observed {x} outside [{lo}, {hi}]", h.name));
            }
        }
        v.require(!h.inconclusive || h.interval.is_some(), || {
            format!("hypotheses: `{}` inconclusive without an interval", h.name)
        });
    }
}

/// The violations found so far.
struct Violations(Vec<String>);

impl Violations {
    /// Records `what` (the check's name, then the numbers) unless `ok`.
    fn require(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

/// The comparison with the baseline: a record per fault, shares within their wholes, times
/// within the analysed span, and a cascade tree whose parents are listed and whose depth is
/// the largest impaired one.
fn impact(spec: &Spec, i: &crate::impact::Impact, v: &mut Violations) {
    let records: usize = spec
        .faults
        .iter()
        .map(|f| f.repeat.map_or(1, |r| (r.times as usize).min(crate::impact::MAX_OCCURRENCES)))
        .sum();
    v.require(i.faults.len() == records, || {
        format!(
            "impact: {} fault records for {} faults ({records} occurrences listed)",
            i.faults.len(),
            spec.faults.len()
        )
    });
    v.require(i.analysed_until_ns <= spec.duration_ns, || {
        format!("impact: analysed until {} past the duration {}", i.analysed_until_ns, spec.duration_ns)
    });
    for f in &i.faults {
        let within = |t: Option<u64>| t.is_none_or(|t| t <= i.analysed_until_ns);
        v.require(within(f.time_to_detect_ns) && within(f.time_to_recover_ns), || {
            format!("impact: fault {} detected or recovered after the analysed span: {f:?}", f.fault)
        });
        v.require(f.random != f.blast.is_some(), || format!("impact: fault {}: a blast radius iff scheduled", f.fault));
        if let Some(b) = &f.blast {
            let ok = b.requests_harmed <= b.requests
                && b.baseline_requests_harmed <= b.baseline_requests
                && b.components_impaired <= b.components
                && b.cells_impaired <= b.cells
                && b.zones_impaired <= b.zones
                && b.components as usize == spec.services.len()
                && b.customers.is_none_or(|(o, t)| o.failed <= o.sent && t.failed <= t.sent);
            v.require(ok, || format!("impact: fault {}: a share over its whole: {b:?}", f.fault));
        }
    }
    let c = &i.cascade;
    let listed = |x: u32| c.nodes.iter().any(|n| n.component == x);
    for n in &c.nodes {
        let ok = n.parent.is_none_or(|p| listed(p) || c.nodes_dropped > 0)
            && (n.faulted == (n.depth == Some(0)))
            && (n.parent.is_none() == (n.depth.is_none_or(|d| d == 0)))
            && n.impaired_buckets <= i.analysed_until_ns / i.bucket_ns.max(1) + 1;
        v.require(ok, || format!("impact: cascade node {n:?}"));
    }
    let deepest = c.nodes.iter().filter(|n| n.impaired_buckets > 0).filter_map(|n| n.depth).max().unwrap_or(0);
    v.require(c.nodes_dropped > 0 || c.depth == deepest, || {
        format!("impact: cascade depth {} but the deepest impaired node is at {deepest}", c.depth)
    });
}

/// The number of values a batch-means record holds.
fn batch_count(b: &BatchMeans) -> u64 {
    b.count.iter().sum()
}

/// Conservation, the run's end, the limits and the verdict.
fn run_level(spec: &Spec, r: &RunResult, v: &mut Violations) {
    v.require(r.requests_arrived == r.requests_finished.saturating_add(r.in_flight_at_end), || {
        format!(
            "conservation: requests_arrived {} != requests_finished {} + in_flight_at_end {}",
            r.requests_arrived, r.requests_finished, r.in_flight_at_end
        )
    });
    let until = spec.duration_ns.saturating_add(spec.drain_ns);
    v.require(r.end_ns <= until, || format!("time: end_ns {} is past duration + drain = {until}", r.end_ns));
    v.require(r.duration_ns == spec.duration_ns && r.warmup_ns == spec.warmup_ns, || {
        format!(
            "spec: the result's duration/warm-up {}/{} are not the spec's {}/{}",
            r.duration_ns, r.warmup_ns, spec.duration_ns, spec.warmup_ns
        )
    });
    v.require(r.events <= spec.max_events, || {
        format!("limits: {} events handled, limits.max_events is {}", r.events, spec.max_events)
    });
    v.require(r.in_flight_at_end <= spec.max_in_flight_requests, || {
        format!(
            "limits: {} requests in flight at the end, limits.max_in_flight_requests is {}",
            r.in_flight_at_end, spec.max_in_flight_requests
        )
    });
    match &r.verdict {
        Verdict::Completed => {}
        Verdict::EventBudget { events, at_ns } => {
            // Queued events and those dispatched at once together reach the budget.
            v.require(r.events <= *events && *events == spec.max_events, || {
                format!(
                    "verdict: event budget at {events} events, the run handled {} of limits.max_events {}",
                    r.events, spec.max_events
                )
            });
            v.require(*at_ns == r.end_ns, || {
                format!("verdict: event budget at {at_ns} ns, the run ended at {}", r.end_ns)
            });
        }
        Verdict::Overload { what, at_ns } => {
            let (limit, set) = match what {
                Overload::Requests { limit } => (*limit, spec.max_in_flight_requests),
                Overload::Jobs { limit } => (*limit, spec.max_in_flight_jobs),
                Overload::Events { events } => (*events, spec.max_events),
            };
            v.require(limit == set, || format!("verdict: overload at a limit of {limit}, the scenario set {set}"));
            v.require(*at_ns == r.end_ns, || format!("verdict: overload at {at_ns} ns, the run ended at {}", r.end_ns));
        }
    }
    if let Some(st) = &r.stability {
        v.require(st.before_ok <= st.before_total && st.after_ok <= st.after_total, || {
            format!("stability: successes above totals: {st:?}")
        });
        v.require(st.before_total.saturating_add(st.after_total) <= r.requests_finished, || {
            format!("stability: windows count more requests than finished ({}): {st:?}", r.requests_finished)
        });
        v.require(st.before.0 <= st.before.1 && st.after.1 <= r.duration_ns, || {
            format!("stability: windows out of order or past the duration: {st:?}")
        });
    }
    for p in &r.policies {
        v.require(p.copies >= 1, || format!("policies: {} {} has no copies", p.call, p.policy));
    }
}

/// Per request type: histograms and batch means against the outcome counts.
fn requests(spec: &Spec, r: &RunResult, v: &mut Violations) {
    let types: usize = spec.workloads.iter().map(|w| w.requests.len()).sum();
    v.require(r.requests.len() == types, || {
        format!("requests: {} request records for {types} request types", r.requests.len())
    });
    let mut counted = 0u64;
    for st in &r.requests {
        let name = format!("{}/{}", st.workload, st.request);
        let (total, ok) = (st.outcomes.total(), st.outcomes.successes());
        v.require(st.retried_ok <= ok, || format!("requests: {name}: {} retried successes of {ok}", st.retried_ok));
        counted = counted.saturating_add(total);
        v.require(st.latency.len() == ok, || {
            format!("histograms: {name}: {} success latencies for {ok} successes (ok + degraded)", st.latency.len())
        });
        v.require(st.latency_failed.len() == total - ok, || {
            format!("histograms: {name}: {} failure latencies for {} failures", st.latency_failed.len(), total - ok)
        });
        v.require(batch_count(&st.success_batches) == total, || {
            format!("batches: {name}: success batches hold {} for {total} requests", batch_count(&st.success_batches))
        });
        v.require(batch_count(&st.latency_batches) == ok, || {
            format!("batches: {name}: latency batches hold {} for {ok} successes", batch_count(&st.latency_batches))
        });
        let sum: f64 = st.success_batches.sum.iter().sum();
        v.require(sum == ok as f64, || format!("batches: {name}: success batches sum to {sum}, {ok} successes"));
        v.require(st.attempts >= total, || {
            format!("attempts: {name}: {} attempts for {total} counted requests", st.attempts)
        });
    }
    v.require(counted <= r.requests_finished, || {
        format!("outcomes: {counted} requests counted, only {} finished", r.requests_finished)
    });
}

/// Per service: what its documentation promises about its counts.
fn services(spec: &Spec, r: &RunResult, v: &mut Violations) {
    v.require(r.services.len() == spec.services.len(), || {
        format!("services: {} service records for {} services", r.services.len(), spec.services.len())
    });
    for (st, s) in r.services.iter().zip(&spec.services) {
        let name = &st.service;
        v.require(*name == s.name && st.instances == s.instances && st.workers_per_instance == s.workers, || {
            format!(
                "services: record {name} {}x{} is not the spec's {} {}x{}",
                st.instances, st.workers_per_instance, s.name, s.instances, s.workers
            )
        });
        let ended = st.outcomes.total();
        let sojourns = st.sojourn.len();
        v.require(st.wait.len() == st.waited, || {
            format!("histograms: service {name}: {} wait values for {} jobs that waited", st.wait.len(), st.waited)
        });
        v.require(st.waited <= st.started && st.started <= st.arrivals, || {
            format!(
                "services: {name}: waited {} <= started {} <= arrivals {} fails",
                st.waited, st.started, st.arrivals
            )
        });
        v.require(ended <= st.arrivals, || {
            format!("outcomes: service {name}: {ended} jobs ended of {} arrivals", st.arrivals)
        });
        // A sojourn is recorded for each job that replied after its work, so at most one per
        // job started and one per job ended; the jobs that ended without a sojourn (turned
        // away on arrival, or dropped from the queue) never started.
        v.require(sojourns <= st.started && sojourns <= ended, || {
            format!("histograms: service {name}: {sojourns} sojourns for {} started and {ended} ended jobs", st.started)
        });
        v.require(ended - sojourns.min(ended) <= st.arrivals - st.started.min(st.arrivals), || {
            format!(
                "outcomes: service {name}: {} jobs ended unstarted, but only {} of {} arrivals never started",
                ended - sojourns.min(ended),
                st.arrivals - st.started.min(st.arrivals),
                st.arrivals
            )
        });
        let b = [
            ("sojourn", batch_count(&st.sojourn_batches), sojourns),
            ("wait", batch_count(&st.wait_batches), st.started),
            ("waited", batch_count(&st.waited_batches), st.started),
            ("rejected", batch_count(&st.rejected_batches), st.arrivals),
        ];
        for (what, count, expected) in b {
            v.require(count == expected, || {
                format!("batches: service {name}: {what} batches hold {count}, expected {expected}")
            });
        }
        let waited: f64 = st.waited_batches.sum.iter().sum();
        v.require(waited == st.waited as f64, || {
            format!("batches: service {name}: waited batches sum to {waited}, {} waited", st.waited)
        });
        // Operations split the service's jobs; instances its admitted jobs and busy time.
        let op_outcomes = st.operations.iter().fold([0u64; 6], |mut acc, o| {
            acc.iter_mut().zip(o.outcomes.0).for_each(|(a, x)| *a += x);
            acc
        });
        v.require(st.operations.len() == s.operations.len() && op_outcomes == st.outcomes.0, || {
            format!(
                "operations: service {name}: {} operations' outcomes {op_outcomes:?} are not the service's {:?}",
                st.operations.len(),
                st.outcomes.0
            )
        });
        let op_sojourns: u64 = st.operations.iter().map(|o| o.sojourn.len()).sum();
        v.require(op_sojourns == sojourns, || {
            format!("operations: service {name}: {op_sojourns} operation sojourns for {sojourns} service sojourns")
        });
        let admitted: u64 = st.instances_stats.iter().map(|i| i.jobs).sum();
        v.require(
            st.instances_stats.len() == s.instances as usize && st.started <= admitted && admitted <= st.arrivals,
            || {
                format!(
                    "instances: service {name}: started {} <= admitted {admitted} <= arrivals {} fails",
                    st.started, st.arrivals
                )
            },
        );
        let busy: u128 = st.instances_stats.iter().map(|i| i.busy.0).sum();
        let most = (r.measured_until_ns.saturating_sub(r.warmup_ns)) as u128 * s.workers as u128;
        v.require(busy == st.occupancy.busy.0 && st.instances_stats.iter().all(|i| i.busy.0 <= most), || {
            format!(
                "instances: service {name}: busy {busy} ns over instances, {} for the service, at most {most} each",
                st.occupancy.busy.0
            )
        });
        let rejected: f64 = st.rejected_batches.sum.iter().sum();
        v.require(rejected <= st.outcomes.get(Outcome::Rejected) as f64, || {
            format!(
                "batches: service {name}: rejected batches sum to {rejected}, {} jobs rejected",
                st.outcomes.get(Outcome::Rejected)
            )
        });
    }
}

/// One edge per service call declaration; every counted call made at least one attempt, and
/// has one latency.
fn edges(spec: &Spec, r: &RunResult, v: &mut Violations) {
    let declared = spec.calls.iter().filter(|c| c.from.is_some()).count();
    v.require(r.edges.len() == declared, || format!("edges: {} edges for {declared} service calls", r.edges.len()));
    for e in &r.edges {
        let calls = e.outcomes.total();
        let absorbed_ok = e.retried_ok <= e.outcomes.successes()
            && e.fallbacks <= e.outcomes.get(crate::Outcome::Degraded)
            && e.attempts >= calls + e.retried_ok; // each used at least one more attempt
        v.require(absorbed_ok, || {
            format!(
                "edges: {} -> {}: {} retried successes or {} fallbacks over their outcomes {:?}",
                e.caller, e.call, e.retried_ok, e.fallbacks, e.outcomes
            )
        });
        v.require(e.attempts >= calls && e.latency.len() == calls, || {
            format!(
                "edges: {} -> {}: {calls} calls, {} attempts, {} latencies",
                e.caller,
                e.call,
                e.attempts,
                e.latency.len()
            )
        });
    }
}

/// Zones, cells, customers, routers and controllers: the cells' calls are the routers' calls
/// into the cells, the zones count no more jobs than the services, customers who failed are
/// among those who sent, and the dated records are in time order and bounded.
fn topology(spec: &Spec, r: &RunResult, v: &mut Violations) {
    v.require(r.topology.is_some() == spec.topology.is_some(), || {
        format!("topology: reported {}, declared {}", r.topology.is_some(), spec.topology.is_some())
    });
    v.require(r.actions.len() <= 1000 && r.actions.windows(2).all(|w| w[0].at_ns <= w[1].at_ns), || {
        format!(
            "actions: {} actions, in time order: {}",
            r.actions.len(),
            r.actions.windows(2).all(|w| w[0].at_ns <= w[1].at_ns)
        )
    });
    let Some(t) = &r.topology else { return };
    let routed: u64 = spec
        .calls
        .iter()
        .filter(|c| c.from.is_some())
        .zip(&r.edges)
        .filter(|(c, _)| c.route.is_some())
        .map(|(_, e)| e.outcomes.total())
        .sum();
    let in_cells: u64 = t.cells.iter().map(|c| c.outcomes.total()).sum();
    v.require(routed == in_cells, || format!("cells: {in_cells} calls in the cells, {routed} on the routers' edges"));
    let zoned: u64 = t.zones.iter().map(|z| z.outcomes.total()).sum();
    let served: u64 = r.services.iter().map(|s| s.outcomes.total()).sum();
    v.require(zoned <= served, || format!("zones: {zoned} jobs in the zones, {served} at the services"));
    let instances: u64 = spec.services.iter().map(|s| s.instances as u64).sum();
    v.require(t.zones.iter().map(|z| z.instances).sum::<u64>() == instances, || {
        format!("zones: {} instances placed of {instances}", t.zones.iter().map(|z| z.instances).sum::<u64>())
    });
    v.require(t.customers_failed <= t.customers && t.customers <= spec.customers(), || {
        format!("customers: {} failed of {} sent, {} in all", t.customers_failed, t.customers, spec.customers())
    });
    let ordered = t.health_changes.windows(2).all(|w| w[0].at_ns <= w[1].at_ns);
    v.require(t.health_changes.len() <= 1000 && ordered, || {
        format!("cell health: {} changes, in time order: {ordered}", t.health_changes.len())
    });
}

/// The time series: order, spacing, coverage, and counts against the finished requests.
fn series(spec: &Spec, r: &RunResult, rows: &[SeriesRow], v: &mut Violations) {
    let workloads = spec.workloads.len();
    if workloads == 0 {
        v.require(rows.is_empty(), || format!("series: {} rows without workloads", rows.len()));
        return;
    }
    v.require(rows.len().is_multiple_of(workloads), || {
        format!("series: {} rows is not a whole number of buckets of {workloads} workloads", rows.len())
    });
    let mut finished = vec![Outcomes::default(); workloads];
    let mut last_start: Option<u64> = None;
    for (i, row) in rows.iter().enumerate() {
        let (bucket, w) = (i / workloads, i % workloads);
        let expected = (bucket as u64).saturating_mul(spec.bucket_ns);
        if row.workload != spec.workloads[w].name || row.bucket_start_ns != expected {
            v.0.push(format!(
                "series: row {i} is {} at {} ns, expected {} at {expected} ns (time order, workloads in scenario order)",
                row.workload, row.bucket_start_ns, spec.workloads[w].name
            ));
            return;
        }
        if let Some(prev) = last_start.filter(|_| w == 0) {
            v.require(row.bucket_start_ns > prev, || {
                format!("series: row {i}: bucket start {} after {prev}: time went back", row.bucket_start_ns)
            });
        }
        last_start = Some(row.bucket_start_ns);
        let ok = row.outcomes.successes();
        v.require(row.p50_ns.is_some() == (ok > 0) && row.mean_ns.is_some() == (ok > 0), || {
            format!("series: row {i}: percentiles {:?}/{:?} for {ok} successes", row.p50_ns, row.mean_ns)
        });
        v.require(row.p50_ns <= row.p99_ns, || {
            format!("series: row {i}: p50 {:?} above p99 {:?}", row.p50_ns, row.p99_ns)
        });
        for o in Outcome::ALL {
            finished[w].0[o as usize] = finished[w].get(o).saturating_add(row.outcomes.get(o));
        }
    }
    // The last bucket holds the end of the run: of the drain, or of the duration if the run
    // drained early, or where a limit stopped it.
    let end = if r.verdict.is_completed() { r.end_ns.max(r.duration_ns) } else { r.end_ns };
    if let Some(last) = rows.last() {
        v.require(last.bucket_start_ns <= end && end - last.bucket_start_ns < spec.bucket_ns, || {
            format!("series: the last bucket starts at {} ns, the run covers to {end} ns", last.bucket_start_ns)
        });
    } else {
        v.0.push(format!("series: no rows for a run covering {end} ns"));
    }
    let total: u64 = finished.iter().map(Outcomes::total).sum();
    v.require(total == r.requests_finished, || {
        format!("series: rows add up to {total} requests, {} finished", r.requests_finished)
    });
    // The counted requests (after the warm-up) are among those finished, outcome by outcome.
    for (w, rows_w) in finished.iter().enumerate() {
        let name = &spec.workloads[w].name;
        let mut counted = Outcomes::default();
        for st in r.requests.iter().filter(|st| st.workload == *name) {
            for o in Outcome::ALL {
                counted.0[o as usize] = counted.get(o).saturating_add(st.outcomes.get(o));
            }
        }
        for o in Outcome::ALL {
            v.require(counted.get(o) <= rows_w.get(o), || {
                format!(
                    "outcomes: workload {name}: {} requests counted `{}`, the series has {} finished so",
                    counted.get(o),
                    o.name(),
                    rows_w.get(o)
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile, simulate};

    /// Two workloads, a warm-up, retries, an optional call, a fallback, a small queue that
    /// rejects, and an outage: every count the checker reads is non-zero.
    const SCENARIO: &str = r#"
[scenario]
name = "checked"
duration = "4s"
warmup = "500ms"
bucket = "250ms"

[[workload]]
name = "a"
arrival = { process = "poisson", rate_per_s = 400 }
[[workload.request]]
name = "get"
target = "front"
timeout = "40ms"
retry = { max_attempts = 3, backoff = "full-jitter", base = "2ms" }
[[workload.request]]
name = "put"
weight = 0.5
target = "front"

[[workload]]
name = "b"
arrival = { process = "constant", rate_per_s = 100 }
[[workload.request]]
name = "get"
target = "back"

[[service]]
name = "front"
instances = 2
workers = 2
queue_capacity = 4
service_time = { dist = "exponential", mean = "4ms" }
[[service.call]]
to = "back"
timeout = "20ms"
[[service.call]]
to = "extra"
critical = false
fallback = {}

[[service]]
name = "back"
workers = 4
service_time = { dist = "lognormal", median = "3ms", p99 = "30ms" }

[[service]]
name = "extra"
service_time = { dist = "constant", value = "1ms" }

[[fault]]
kind = "outage"
service = "back"
start = "2s"
duration = "500ms"
"#;

    fn real() -> (Spec, RunResult, Vec<SeriesRow>) {
        let spec = compile("checked.toml", SCENARIO).unwrap_or_else(|e| panic!("{}", e[0]));
        let (r, rows) = simulate(&spec, 7, Vec::new());
        (spec, r, rows)
    }

    /// The checker's complaints about `result` after `break_it`, which must include one
    /// starting with `prefix`.
    fn caught(prefix: &str, break_it: impl FnOnce(&mut Spec, &mut RunResult, &mut Vec<SeriesRow>)) {
        let (mut spec, mut r, mut rows) = real();
        break_it(&mut spec, &mut r, &mut rows);
        let errors = check(&spec, &r, Some(&rows)).expect_err("the broken result passed the checker");
        assert!(errors.iter().any(|e| e.starts_with(prefix)), "no `{prefix}` complaint in {errors:#?}");
    }

    #[test]
    fn a_real_run_passes_and_exercises_every_count() {
        let (spec, r, rows) = real();
        check(&spec, &r, Some(&rows)).unwrap_or_else(|e| panic!("{e:#?}"));
        check(&spec, &r, None).unwrap();
        assert!(r.verdict.is_completed());
        for st in &r.requests {
            assert!(st.outcomes.successes() > 0 && st.outcomes.total() > st.outcomes.successes(), "{st:?}");
        }
        let front = &r.services[0];
        assert!(front.waited > 0 && front.outcomes.get(Outcome::Rejected) > 0, "{front:?}");
        assert!(r.services[1].outcomes.get(Outcome::Error) > 0);
        assert!(rows.len() > 2 * 16 && r.requests_finished > r.requests.iter().map(|s| s.outcomes.total()).sum());
    }

    #[test]
    fn catches_retried_successes_over_their_counts() {
        caught("requests", |_, r, _| r.requests[0].retried_ok = r.requests[0].outcomes.successes() + 1);
        caught("edges", |_, r, _| r.edges[0].retried_ok = r.edges[0].attempts + 1);
        caught("edges", |_, r, _| r.edges[0].fallbacks = r.edges[0].outcomes.get(Outcome::Degraded) + 1);
    }

    #[test]
    fn catches_lost_conservation() {
        caught("conservation", |_, r, _| r.requests_arrived += 1);
        caught("conservation", |_, r, _| r.in_flight_at_end += 1);
    }

    #[test]
    fn catches_a_bumped_outcome_count() {
        caught("histograms", |_, r, _| r.requests[0].outcomes.0[Outcome::Ok as usize] += 1);
        caught("histograms", |_, r, _| r.requests[1].outcomes.0[Outcome::Timeout as usize] += 1);
        caught("batches", |_, r, _| r.requests[0].outcomes.0[Outcome::Error as usize] += 1);
    }

    #[test]
    fn catches_a_lost_histogram_count() {
        caught("histograms", |_, r, _| r.requests[0].latency.reset());
        caught("histograms", |_, r, _| r.requests[2].latency_failed.record(1_000).unwrap());
        caught("histograms", |_, r, _| r.services[0].wait.record(5_000).unwrap());
        caught("histograms", |_, r, _| r.services[1].sojourn.record_n(5_000, 1_000_000).unwrap());
    }

    #[test]
    fn catches_lost_batch_counts() {
        caught("batches", |_, r, _| r.requests[0].success_batches.count[3] -= 1);
        caught("batches", |_, r, _| r.services[0].sojourn_batches.count[19] += 1);
        caught("batches", |_, r, _| r.services[0].rejected_batches.count[0] += 1);
    }

    #[test]
    fn catches_service_counts_that_do_not_add_up() {
        caught("services", |_, r, _| r.services[0].started = r.services[0].arrivals + 1);
        caught("outcomes", |_, r, _| r.services[2].outcomes.0[Outcome::Ok as usize] += r.services[2].arrivals);
    }

    /// Cells behind a router with a breaker per cell and a fallback cell, one cell down, and
    /// an autoscaled service.
    const CELLS: &str = r#"
[scenario]
name = "cells"
duration = "20s"

[[region]]
name = "r"
zones = ["a", "b"]

[cells]
count = 3
services = ["api"]

[cells.fallback]

[[workload]]
name = "w"
customers = 300
arrival = { process = "poisson", rate_per_s = 300 }

[[workload.request]]
name = "get"
target = "router"

[[service]]
name = "router"
workers = 16
service_time = { dist = "constant", value = "0.1ms" }
routing = { kind = "hash", breaker = { kind = "resilience4j", minimum_calls = 5, window_size = 10, wait_in_open = "2s" } }

[[service.call]]
to = "api"

[[service]]
name = "api"
instances = 2
workers = 2
service_time = { dist = "exponential", mean = "5ms" }
autoscaling = { kind = "hpa", min = 1, max = 4, target_utilisation = 5, boot_time = "1s", sync_period = "1s" }

[[fault]]
kind = "outage"
cell = "cell-2"
start = "5s"
duration = "5s"
"#;

    #[test]
    fn catches_zones_cells_customers_and_actions_that_do_not_add_up() {
        let spec = compile("cells.toml", CELLS).unwrap_or_else(|e| panic!("{}", e[0]));
        let (r, rows) = simulate(&spec, 3, Vec::new());
        check(&spec, &r, Some(&rows)).unwrap_or_else(|e| panic!("{e:#?}"));
        let t = r.topology.as_ref().unwrap();
        let exercised = (t.customers_failed, t.health_changes.len(), r.actions.len());
        assert!(exercised.0 > 0 && exercised.1 > 0 && exercised.2 > 0, "{exercised:?}");
        let broken = |prefix: &str, f: &dyn Fn(&mut RunResult)| {
            let mut r = r.clone();
            f(&mut r);
            let errors = check(&spec, &r, Some(&rows)).expect_err("the broken result passed the checker");
            assert!(errors.iter().any(|e| e.starts_with(prefix)), "no `{prefix}` complaint in {errors:#?}");
        };
        broken("cells", &|r| r.topology.as_mut().unwrap().cells[0].outcomes.0[Outcome::Ok as usize] += 1);
        broken("zones", &|r| r.topology.as_mut().unwrap().zones[0].outcomes.0[Outcome::Ok as usize] += 1_000_000);
        broken("zones", &|r| r.topology.as_mut().unwrap().zones[0].instances += 1);
        broken("customers", &|r| {
            let t = r.topology.as_mut().unwrap();
            t.customers_failed = t.customers + 1;
        });
        broken("cell health", &|r| r.topology.as_mut().unwrap().health_changes.reverse());
        broken("actions", &|r| {
            let last = r.actions.last().unwrap().clone();
            r.actions.insert(0, last);
        });
        broken("topology", &|r| r.topology = None);
    }

    #[test]
    fn catches_operations_instances_and_edges_that_do_not_add_up() {
        caught("operations", |_, r, _| r.services[0].operations[0].outcomes.0[Outcome::Ok as usize] += 1);
        caught("instances", |_, r, _| r.services[0].instances_stats[0].jobs += r.services[0].arrivals);
        caught("instances", |_, r, _| r.services[1].instances_stats[0].busy.0 += 1);
        caught("edges", |_, r, _| r.edges[0].attempts = 0);
        caught("edges", |_, r, _| {
            r.edges.pop();
        });
    }

    #[test]
    fn catches_more_counted_than_finished() {
        caught("outcomes", |_, r, _| r.requests_finished = 10);
        caught("outcomes", |_, _, rows| {
            // Moves every finished `ok` of workload b out of the series into `error`.
            for row in rows.iter_mut().filter(|row| row.workload == "b") {
                row.outcomes.0[Outcome::Error as usize] += row.outcomes.get(Outcome::Ok);
                row.outcomes.0[Outcome::Ok as usize] = 0;
                (row.p50_ns, row.p99_ns, row.mean_ns) = (None, None, None);
            }
        });
    }

    #[test]
    fn catches_a_dropped_or_reordered_series_row() {
        caught("series", |_, _, rows| {
            rows.remove(rows.len() / 2);
        });
        caught("series", |_, _, rows| {
            rows.truncate(rows.len() - 2);
        });
        caught("series", |_, _, rows| rows.swap(2, 4));
        caught("series", |_, _, rows| rows[7].outcomes.0[Outcome::Ok as usize] += 1);
        caught("series", |_, _, rows| rows[9].bucket_start_ns -= 1);
    }

    #[test]
    fn catches_time_past_the_drain() {
        caught("time", |spec, r, _| r.end_ns = spec.duration_ns + spec.drain_ns + 1);
    }

    #[test]
    fn catches_limits_exceeded() {
        caught("limits", |spec, r, _| spec.max_events = r.events - 1);
        caught("limits", |spec, r, _| {
            r.in_flight_at_end = 5;
            r.requests_arrived += 5;
            spec.max_in_flight_requests = 4;
        });
        caught("verdict", |spec, r, _| {
            r.verdict = Verdict::EventBudget { events: r.events, at_ns: r.end_ns };
            spec.max_events = r.events + 1;
        });
        caught("verdict", |spec, r, _| {
            r.verdict = Verdict::Overload { what: Overload::Jobs { limit: 10 }, at_ns: r.end_ns };
            spec.max_in_flight_jobs = 11;
        });
    }

    #[test]
    fn runs_stopped_by_a_limit_pass() {
        let (mut spec, ..) = real();
        spec.max_events = 5_000;
        let (r, rows) = simulate(&spec, 3, Vec::new());
        assert!(matches!(r.verdict, Verdict::EventBudget { .. }), "{:?}", r.verdict);
        check(&spec, &r, Some(&rows)).unwrap_or_else(|e| panic!("{e:#?}"));
        let (mut spec, ..) = real();
        spec.max_in_flight_requests = 3;
        let (r, rows) = simulate(&spec, 3, Vec::new());
        assert!(matches!(r.verdict, Verdict::Overload { .. }), "{:?}", r.verdict);
        check(&spec, &r, Some(&rows)).unwrap_or_else(|e| panic!("{e:#?}"));
    }
}
