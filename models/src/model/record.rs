//! What the model records as the run goes: requests that finish (outcome counts, latency,
//! batch means, the stability windows), the time series bucket by bucket, and the records
//! handed back when the run ends. Nothing here schedules an event.

use super::records::{Call, Finished, CELL_BITS, UNCOUNTED};
use super::ServiceModel;
use crate::metrics::*;
use crate::outcome::{Outcome, Outcomes};
use crate::spec::Window;
use crate::tier::Tier;
use cellsim_sim::{Handle, Nanos};

/// Per workload, the requests that finished in the current bucket.
#[derive(Default)]
pub(super) struct Bucket {
    outcomes: Outcomes,
    latency: SeriesHistogram,
}

impl Bucket {
    /// Counts an outcome, and a success's latency.
    #[inline]
    pub(super) fn record(&mut self, outcome: Outcome, latency_ns: Nanos) {
        self.outcomes.add(outcome);
        if outcome.is_success() {
            self.latency.record(latency_ns);
        }
    }

    /// Counts an outcome only (no latency: the row's percentiles stay empty).
    #[inline]
    pub(super) fn record_outcome(&mut self, outcome: Outcome) {
        self.outcomes.add(outcome);
    }

    /// The bucket's row as a place's, emptying it.
    fn take_place(
        &mut self,
        bucket_start_ns: Nanos,
        kind: &'static str,
        place: &str,
        sink: &mut impl SeriesSink,
        at: Place,
    ) -> PlaceRow {
        sink.bucket(bucket_start_ns, at, &self.outcomes, &self.latency);
        let (p50_ns, p99_ns) = match self.latency.percentiles() {
            Some((p50, p99, _)) => (Some(p50), Some(p99)),
            None => (None, None),
        };
        let row = PlaceRow { bucket_start_ns, kind, place: place.to_string(), outcomes: self.outcomes, p50_ns, p99_ns };
        self.outcomes = Outcomes::default();
        self.latency.reset();
        row
    }
}

/// Goodput before a trigger and long after it: the metastability check.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stability {
    /// Finishes in [warm-up, trigger start) count as "before".
    pub before: (Nanos, Nanos),
    /// Finishes in [trigger end + half of what remains, duration) count as "after".
    pub after: (Nanos, Nanos),
    pub before_ok: u64,
    pub before_total: u64,
    pub after_ok: u64,
    pub after_total: u64,
}

impl Stability {
    /// The windows around faults acting over `trigger`, in a run measured from `warmup_ns`
    /// to `duration_ns`.
    pub(super) fn around(trigger: Window, warmup_ns: Nanos, duration_ns: Nanos) -> Stability {
        let end = trigger.end_ns.min(duration_ns);
        Stability {
            before: (warmup_ns, trigger.start_ns.max(warmup_ns)),
            after: (end + (duration_ns - end) / 2, duration_ns),
            ..Stability::default()
        }
    }

    fn count(&mut self, now: Nanos, outcome: Outcome) {
        let ok = outcome.is_success() as u64;
        if (self.before.0..self.before.1).contains(&now) {
            self.before_ok += ok;
            self.before_total += 1;
        } else if (self.after.0..self.after.1).contains(&now) {
            self.after_ok += ok;
            self.after_total += 1;
        }
    }
}

/// What a run hands back: per request type, per service, per call policy, per call edge,
/// and the sink.
pub type Records<S> = (
    Vec<RequestStats>,
    Vec<ServiceStats>,
    Vec<PolicyStats>,
    Vec<EdgeStats>,
    (Option<TopologyStats>, Vec<ControlAction>),
    S,
);

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// A request finished with `outcome`: count it in its bucket, and (after the warm-up) in
    /// its request type's statistics.
    pub(super) fn request_done(&mut self, done: Finished, outcome: Outcome, now: Nanos) {
        let Finished { started_ns, workload, batch: counted, stats, attempts, customer } = done;
        self.requests_in_flight -= 1;
        self.requests_finished += 1;
        let latency = now - started_ns;
        if now >= self.bucket_start_ns + self.spec.bucket_ns {
            self.close_buckets_before(now, false);
        }
        if let Some(o) = self.observed.as_deref_mut() {
            o.request(workload, customer, outcome, latency, now);
        }
        if let Some(st) = self.stability.as_mut().filter(|_| T::POLICIES) {
            st.count(now, outcome);
        }
        if let Some(stops) = self.stops.as_deref_mut().filter(|_| T::EXTRAS) {
            stops.request(workload, outcome, latency);
        }
        let b = &mut self.buckets[workload as usize];
        b.outcomes.add(outcome);
        if outcome.is_success() {
            b.latency.record(latency);
        }
        if counted == UNCOUNTED {
            return;
        }
        if let Some(topo) = self.topo.as_mut().filter(|_| T::POLICIES) {
            topo.customer_done(customer, outcome);
        }
        let batch = counted as usize;
        let st = &mut self.request_stats[stats as usize];
        st.outcomes.add(outcome);
        st.attempts += attempts as u64;
        st.retried_ok += (outcome.is_success() && attempts > 1) as u64;
        if outcome.is_success() {
            self.request_latency[stats as usize][0].record(latency);
            st.latency_batches.add(batch, latency as f64);
            st.success_batches.add(batch, 1.0);
        } else {
            st.success_batches.add(batch, 0.0);
            self.request_latency[stats as usize][1].record(latency);
        }
    }

    /// The batch of the measurement window that `now` falls in, or `UNCOUNTED`.
    #[inline]
    pub(super) fn batch_at(&mut self, now: Nanos) -> u8 {
        while now >= self.batch_end_ns && (self.batch_now == UNCOUNTED || (self.batch_now as usize) < BATCHES - 1) {
            self.batch_now = if self.batch_now == UNCOUNTED { 0 } else { self.batch_now + 1 };
            self.batch_end_ns = self.window.0 + (self.batch_now as Nanos + 1) * self.batch_ns;
        }
        debug_assert_eq!(self.batch_now, batch_at(now, self.window.0, self.batch_ns));
        self.batch_now
    }

    /// Records a job's wait from `arrived_ns` to `now` at service `s`, as its work starts.
    #[inline]
    pub(super) fn record_wait(&mut self, s: usize, arrived_ns: Nanos, now: Nanos, batch: u8) {
        let rt = &mut self.services[s];
        let wait = now - arrived_ns;
        if wait > 0 {
            rt.stats.occupancy.queued.add(arrived_ns, now, self.window);
        }
        if batch != UNCOUNTED {
            let b = &mut rt.batches[batch as usize];
            b.started += 1;
            if wait > 0 {
                b.waited += 1;
                b.wait_sum_ns += wait as f64;
                rt.wait.record(wait);
            }
        }
    }

    /// Records a job that ended at service `service` with `outcome`, at its instance since
    /// `arrived_ns`.
    #[inline(always)]
    pub(super) fn record_job(
        &mut self,
        service: u32,
        op: u16,
        arrived_ns: Nanos,
        counted: u8,
        outcome: Outcome,
        now: Nanos,
    ) {
        let rt = &mut self.services[service as usize];
        rt.stats.occupancy.in_system.add(arrived_ns, now, self.window);
        if counted != UNCOUNTED {
            let sojourn = now - arrived_ns;
            let b = &mut rt.batches[counted as usize];
            b.completed += 1;
            b.sojourn_sum_ns += sojourn as f64;
            rt.stats.outcomes.add(outcome);
            rt.sojourn.record(sojourn);
            if T::EXTRAS && rt.per_op {
                let o = &mut self.ops[(rt.first_op + op as u32) as usize];
                o.outcomes.add(outcome);
                o.sojourn.record(sojourn);
            }
        }
    }

    /// Records the end of a service's call with `outcome` on its edge, if it started after
    /// the warm-up.
    #[inline(always)]
    pub(super) fn record_edge(&mut self, call_h: Handle, call: &Call, outcome: Outcome, now: Nanos) {
        if T::POLICIES && self.spec.calls[call.spec as usize].route.is_some() {
            // A router's call, in its cell's series (warm-up included, as the series are).
            if now >= self.bucket_start_ns + self.spec.bucket_ns {
                self.close_buckets_before(now, false);
            }
            let cell = self.exts[call_h.index as usize].cell & CELL_BITS;
            let topo = self.topo.as_mut().expect("routes come with a topology");
            topo.cell_buckets[cell as usize].record(outcome, now - call.started_ns);
        }
        if call.started_ns >= self.window.0 {
            let e = &mut self.edges[call.spec as usize];
            e.outcomes.add(outcome);
            e.attempts += call.attempt as u64;
            e.retried_ok += (outcome.is_success() && call.attempt > 1) as u64;
            e.latency.record(now - call.started_ns);
            if T::POLICIES && self.spec.calls[call.spec as usize].route.is_some() {
                // A router's call: counted for the cell its last attempt was sent to.
                let cell = self.exts[call_h.index as usize].cell & CELL_BITS;
                let topo = self.topo.as_mut().expect("routes come with a topology");
                topo.cells[cell as usize].record(outcome, now - call.started_ns);
            }
        }
    }

    /// Emits every bucket that ends at or before `now` (all buckets up to `now` if `last`).
    pub(super) fn close_buckets_before(&mut self, now: Nanos, last: bool) {
        let width = self.spec.bucket_ns;
        while self.bucket_start_ns + width <= now || (last && self.bucket_start_ns < now) {
            for (w, b) in self.buckets.iter_mut().enumerate() {
                self.sink.bucket(self.bucket_start_ns, Place::Workload(w as u16), &b.outcomes, &b.latency);
                let (p50_ns, p99_ns, mean_ns) = match b.latency.percentiles() {
                    Some((p50, p99, mean)) => (Some(p50), Some(p99), Some(mean)),
                    None => (None, None, None),
                };
                self.sink.row(SeriesRow {
                    bucket_start_ns: self.bucket_start_ns,
                    workload: self.spec.workloads[w].name.clone(),
                    outcomes: b.outcomes,
                    p50_ns,
                    p99_ns,
                    mean_ns,
                });
                b.outcomes = Outcomes::default();
                b.latency.reset();
            }
            if let Some(topo) = self.topo.as_mut() {
                let topology = self.spec.topology.as_ref().expect("a topology");
                for (z, b) in topo.zone_buckets.iter_mut().enumerate() {
                    let row = b.take_place(
                        self.bucket_start_ns,
                        "zone",
                        &topology.zones[z].name,
                        &mut self.sink,
                        Place::Zone(z as u16),
                    );
                    self.sink.place_row(row);
                }
                for (c, b) in topo.cell_buckets.iter_mut().enumerate() {
                    let row = b.take_place(
                        self.bucket_start_ns,
                        "cell",
                        &topology.cells[c].name,
                        &mut self.sink,
                        Place::Cell(c as u16),
                    );
                    self.sink.place_row(row);
                }
            }
            self.bucket_start_ns += width;
        }
    }

    /// Requests still in flight (started, not finished).
    pub fn requests_in_flight(&self) -> u64 {
        self.requests_in_flight
    }

    /// End-to-end requests arrived and finished so far (warm-up included).
    pub fn request_counts(&self) -> (u64, u64) {
        (self.requests_arrived, self.requests_finished)
    }

    /// The stability counters, when the scenario has a trigger.
    pub fn stability(&self) -> Option<Stability> {
        self.stability
    }

    /// Closes the series up to `end_ns`; returns the records and the sink.
    pub fn finish(mut self, end_ns: Nanos) -> Records<S> {
        debug_assert_eq!(
            self.requests_arrived,
            self.requests_finished + self.requests_in_flight,
            "every request that arrived has finished or is still in flight"
        );
        self.close_buckets_before(end_ns.max(self.bucket_start_ns) + 1, true);
        // The autoscaled services' time in service, to the end of the window.
        let window_end = self.window.1.min(end_ns);
        for k in 0..self.scalers.len() {
            let serving = self.scalers[k].serving_now();
            self.scalers[k].serving_changed(window_end, serving, self.window);
        }
        let policies = self.policy_stats();
        let edges = self.edge_stats();
        let mut ops = std::mem::take(&mut self.ops).into_iter();
        let spec = self.spec;
        let instances = &self.instances;
        let heaps = &self.memory;
        let scalers = &self.scalers;
        let services = self
            .services
            .into_iter()
            .zip(&spec.services)
            .enumerate()
            .map(|(s, (mut rt, svc))| {
                rt.stats.fold_batches(&rt.batches);
                rt.stats.sojourn = rt.sojourn.into_histogram();
                rt.stats.wait = rt.wait.into_histogram();
                rt.stats.fleet = rt.fleet.as_ref().filter(|_| rt.reports_fleet).map(|f| f.stats);
                let first = rt.first_instance as usize;
                rt.stats.memory = svc.memory.map(|_| {
                    heaps[first..first + rt.instances as usize].iter().fold(MemoryStats::default(), |t, m| {
                        MemoryStats {
                            oom_kills: t.oom_kills + m.oom_kills,
                            gc_pauses: t.gc_pauses + m.gc_pauses,
                            gc_paused_ns: t.gc_paused_ns + m.gc_paused_ns,
                        }
                    })
                });
                rt.stats.instances_stats = instances[first..first + rt.instances as usize]
                    .iter()
                    .map(|i| InstanceStats { jobs: i.jobs, busy: Integral(i.busy_ns) })
                    .collect();
                rt.stats.occupancy.busy = Integral(rt.stats.instances_stats.iter().map(|i| i.busy.0).sum());
                rt.stats.in_service =
                    scalers.iter().find(|sc| sc.service as usize == s).map(|sc| Integral(sc.in_service_ns));
                // A service that is not simple has an `OpRt` per operation, in order; one with
                // several recorded each's statistics there, one with one is its operation.
                let op_rts = ops.by_ref().take(if rt.simple { 0 } else { svc.operations.len() });
                rt.stats.operations = if rt.per_op {
                    let each = svc.operations.iter().zip(op_rts);
                    each.map(|(o, r)| OperationStats {
                        operation: o.name.clone(),
                        outcomes: r.outcomes,
                        sojourn: r.sojourn.into_histogram(),
                    })
                    .collect()
                } else {
                    op_rts.for_each(drop);
                    vec![OperationStats {
                        operation: svc.operations[0].name.clone(),
                        outcomes: rt.stats.outcomes,
                        sojourn: rt.stats.sojourn.clone(),
                    }]
                };
                rt.stats
            })
            .collect();
        for (st, [ok, failed]) in self.request_stats.iter_mut().zip(self.request_latency) {
            st.latency = ok.into_histogram();
            st.latency_failed = failed.into_histogram();
        }
        let busy_ns: Vec<u128> = self.instances.iter().map(|i| i.busy_ns).collect();
        let zone_name = |z: usize| spec.topology.as_ref().map_or(String::new(), |t| t.zones[z].name.clone());
        let mut actions = self.shift.as_ref().map_or_else(Vec::new, |s| s.actions(zone_name));
        actions.append(&mut self.control_actions);
        // In time order; at one instant, shifts before scaling (a stable sort).
        actions.sort_by_key(|a| a.at_ns);
        actions.truncate(super::control::MAX_ACTIONS);
        let topology = self.topo.map(|t| t.into_stats(spec, &busy_ns));
        (self.request_stats, services, policies, edges, (topology, actions), self.sink)
    }

    /// Every service call's edge, in the spec's order (workload requests are reported as
    /// requests).
    fn edge_stats(&mut self) -> Vec<EdgeStats> {
        let spec = self.spec;
        let edges = std::mem::take(&mut self.edges);
        let depths = spec.service_depths();
        spec.calls
            .iter()
            .zip(edges)
            .filter_map(|(c, e)| {
                let (s, op) = c.from?;
                let caller = &spec.services[s as usize];
                let callee = &spec.services[c.to as usize];
                // A router's call goes to every cell's copy: `cell-*/api`.
                let callee_name = match c.route {
                    Some(_) => format!("cell-*/{}", callee.name.split_once('/').map_or(&*callee.name, |(_, t)| t)),
                    None => callee.name.clone(),
                };
                Some(EdgeStats {
                    caller: caller.name.clone(),
                    operation: caller.operations[op as usize].name.clone(),
                    call: c.name.rsplit("/call/").next().unwrap_or(&c.name).to_string(),
                    callee: callee_name,
                    callee_operation: callee.operations[c.op as usize].name.clone(),
                    outcomes: e.outcomes,
                    attempts: e.attempts,
                    latency: e.latency.into_histogram(),
                    caller_depth: depths[s as usize],
                    critical: c.critical,
                    retried_ok: e.retried_ok,
                    fallbacks: e.fallbacks,
                })
            })
            .collect()
    }

    /// What each call's policies did, summed over their copies.
    fn policy_stats(&self) -> Vec<PolicyStats> {
        let mut policies = Vec::new();
        for (c, rt) in self.spec.calls.iter().zip(&self.call_rt) {
            let mut push = |policy: &'static str, kind: &'static str, copies: usize, opened: u64, refused: u64| {
                policies.push(PolicyStats {
                    call: c.name.clone(),
                    policy,
                    kind,
                    copies: copies as u32,
                    opened,
                    refused,
                })
            };
            if let Some(budget) = c.retry.budget {
                let all = &self.budgets[rt.budget.range()];
                push("retry-budget", budget.spec.name(), all.len(), 0, all.iter().map(|b| b.refused).sum());
            }
            if let Some(breaker) = c.breaker {
                let all = &self.breakers[rt.breaker.range()];
                let opened = all.iter().map(|b| b.opened).sum();
                push("breaker", breaker.spec.name(), all.len(), opened, all.iter().map(|b| b.refused).sum());
            }
            if c.throttle.is_some() {
                let all = &self.throttles[rt.throttle.range()];
                push("adaptive-throttling", "sre", all.len(), 0, all.iter().map(|t| t.refused).sum());
            }
            if c.bulkhead.is_some() {
                let all = &self.bulkheads[rt.bulkhead.range()];
                push("bulkhead", "semaphore", all.len(), 0, all.iter().map(|b| b.refused).sum());
            }
        }
        policies
    }
}

/// Which batch of the measurement window a time falls in (the last batch also takes the
/// drain period), or `UNCOUNTED` before the window. The model keeps a running equivalent;
/// this is its definition, checked against it in debug builds.
#[cfg_attr(not(any(test, debug_assertions)), allow(dead_code))]
fn batch_at(t: Nanos, window_start: Nanos, batch_ns: Nanos) -> u8 {
    if t < window_start {
        return UNCOUNTED;
    }
    (((t - window_start) / batch_ns) as usize).min(BATCHES - 1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_the_window_evenly() {
        // A window [100, 300) in 20 batches of 10 ns.
        assert_eq!(batch_at(99, 100, 10), UNCOUNTED);
        assert_eq!(batch_at(100, 100, 10), 0);
        assert_eq!(batch_at(109, 100, 10), 0);
        assert_eq!(batch_at(110, 100, 10), 1);
        assert_eq!(batch_at(299, 100, 10), BATCHES as u8 - 1);
        assert_eq!(batch_at(5_000, 100, 10), BATCHES as u8 - 1);
    }
}
