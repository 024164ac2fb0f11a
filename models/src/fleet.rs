//! Which instance of a service takes a job: load balancing over the instances that health
//! checks and outlier ejection leave usable, with fail-open and panic routing when too few
//! are left (shared/reference/resilience.md sections 1.3 and 3). Instances that a fault has
//! taken down are known to `faults::state`; the model passes that in, and the balancer does
//! not see it: only the health checks do.
//!
//! Nothing here schedules events: the model calls `health_tick` and `outlier_sweep` at their
//! intervals and reports each job's end.

use crate::outcome::Outcome;
use cellsim_sim::{Nanos, Stream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbKind {
    RoundRobin,
    Random,
    /// The instance with the fewest jobs present (ties: the next in round-robin order).
    LeastOutstanding,
    /// Two distinct instances at random, the one with fewer jobs present (Envoy's default
    /// least-request balancer).
    PowerOfTwo,
    /// Smooth weighted round robin (each instance gets its weight's share, interleaved).
    Weighted,
    /// Shuffle sharding over the instances (reference section 4): each customer's attempts
    /// go round its shard of `FleetSpec::shard_size` instances (see `Fleet::pick_for`).
    ShuffleShard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthKind {
    /// Is the process up: fails only while the instance is down.
    Liveness,
    /// Also fails when the probe would wait in the instance's queue longer than the check's
    /// timeout (an overloaded instance looks unhealthy).
    Local,
    /// Local, and also fails while the `dependency` service is entirely down.
    Dependency,
}

/// Active health checks, as an ALB target group or Kubernetes probes run them.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthSpec {
    pub kind: HealthKind,
    pub interval_ns: Nanos,
    pub timeout_ns: Nanos,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// `Dependency` checks: the service whose outage fails them.
    pub dependency: Option<u32>,
    /// When no instance is usable: route to all (ALB's fail-open) or refuse the job.
    pub fail_open: bool,
    /// Percent: below this share of usable instances, route to all (Envoy's panic mode).
    pub panic_threshold: Option<f64>,
    /// Restart an instance that has been unhealthy this long; the restart takes `restart_ns`.
    pub restart_after_ns: Option<Nanos>,
    pub restart_ns: Nanos,
}

/// Envoy outlier detection (reference 1.3): consecutive errors and success rate.
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierSpec {
    pub consecutive_errors: u32,
    pub interval_ns: Nanos,
    pub base_ejection_ns: Nanos,
    pub max_ejection_ns: Nanos,
    pub max_ejection_percent: f64,
    pub success_rate_minimum_hosts: u32,
    pub success_rate_request_volume: u32,
    pub success_rate_stdev_factor: f64,
}

impl Default for OutlierSpec {
    fn default() -> Self {
        OutlierSpec {
            consecutive_errors: 5,
            interval_ns: 10_000_000_000,
            base_ejection_ns: 30_000_000_000,
            max_ejection_ns: 300_000_000_000,
            max_ejection_percent: 10.0,
            success_rate_minimum_hosts: 5,
            success_rate_request_volume: 100,
            success_rate_stdev_factor: 1.9,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct InstanceState {
    pub healthy: bool,
    ok_streak: u32,
    fail_streak: u32,
    unhealthy_since_ns: Nanos,
    /// Down (restarting) until then.
    restart_until_ns: Nanos,
    pub ejected: bool,
    ejected_until_ns: Nanos,
    times_ejected: u32,
    consecutive_errors: u32,
    interval_ok: u32,
    interval_total: u32,
    /// Jobs present at the instance (queued, working, or waiting on calls).
    pub outstanding: u32,
    /// Smooth weighted round robin's running score.
    current: i64,
    /// Not taking jobs: not launched yet, scaled in, or drained by a zonal shift (the
    /// controllers decide; jobs already there finish).
    pub out_of_service: bool,
}

/// What a service's fleet did over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Transitions to unhealthy, restarts, ejections.
    pub marked_unhealthy: u64,
    pub restarts: u64,
    pub ejections: u64,
    /// Jobs routed while no instance (or too few) were usable: to all instances (fail-open
    /// or panic), or refused (fail-closed).
    pub routed_fail_open: u64,
    pub refused_fail_closed: u64,
}

/// A service's instances as the balancer sees them.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub lb: LbKind,
    weights: Vec<i64>,
    rr_next: u32,
    rng: Stream,
    pub health: Option<HealthSpec>,
    pub outlier: Option<OutlierSpec>,
    pub instances: Vec<InstanceState>,
    scratch: Vec<u32>,
    /// Instances unhealthy or ejected, kept with every transition so that a fleet with all
    /// instances usable picks without scanning them.
    unusable: u32,
    /// Jobs present and answers are counted only when a balancer or outlier detection reads
    /// them.
    tracks_jobs: bool,
    /// Round robin, no outages, no restarts, nothing tracked: see `transparent`.
    transparent_when_usable: bool,
    pub stats: FleetStats,
}

impl Fleet {
    pub fn new(
        n: u32,
        lb: LbKind,
        weights: Vec<u32>,
        rng: Stream,
        health: Option<HealthSpec>,
        outlier: Option<OutlierSpec>,
        has_outages: bool,
    ) -> Fleet {
        let tracks_jobs = matches!(lb, LbKind::LeastOutstanding | LbKind::PowerOfTwo) || outlier.is_some();
        let transparent_when_usable = lb == LbKind::RoundRobin
            && !tracks_jobs
            && !has_outages
            && health.as_ref().is_none_or(|h| h.restart_after_ns.is_none());
        let weights =
            if weights.is_empty() { vec![1; n as usize] } else { weights.iter().map(|&w| w as i64).collect() };
        Fleet {
            lb,
            weights,
            rr_next: 0,
            rng,
            health,
            outlier,
            instances: vec![InstanceState { healthy: true, ..InstanceState::default() }; n as usize],
            scratch: Vec::with_capacity(n as usize),
            unusable: 0,
            tracks_jobs,
            transparent_when_usable,
            stats: FleetStats::default(),
        }
    }

    /// Is instance `i` restarting at `now` (down after a health-check restart)?
    #[inline]
    pub fn restarting(&self, i: u32, now: Nanos) -> bool {
        now < self.instances[i as usize].restart_until_ns
    }

    /// Instance `i` crashed at `now` (a poison pill): it restarts, down for `restart_ns`.
    pub fn crash(&mut self, i: u32, now: Nanos, restart_ns: Nanos) {
        let s = &mut self.instances[i as usize];
        s.restart_until_ns = s.restart_until_ns.max(now.saturating_add(restart_ns));
        self.stats.restarts += 1;
    }

    /// Is every instance down at `now`: restarting, or down by a fault (`fault_down(i)`)?
    pub fn all_down(&self, now: Nanos, fault_down: impl Fn(u32) -> bool) -> bool {
        (0..self.instances.len() as u32).all(|i| self.restarting(i, now) || fault_down(i))
    }

    /// Counts the jobs present at each instance whatever the balancer (instances' heaps hold
    /// data per job present).
    pub fn track_jobs(&mut self) {
        self.tracks_jobs = true;
        self.transparent_when_usable = false;
    }

    /// Tested builds: the jobs counted present at each instance equal `recount(i)`, and
    /// `unusable` equals a recount of the instances unhealthy or ejected.
    pub fn check(&self, recount: impl Fn(u32) -> u32) {
        let unusable = (0..self.instances.len()).filter(|&i| !self.usable(i)).count() as u32;
        assert_eq!(self.unusable, unusable, "the fleet's count of unusable instances");
        if self.tracks_jobs {
            for (i, s) in self.instances.iter().enumerate() {
                assert_eq!(s.outstanding, recount(i as u32), "jobs present at instance {i}");
            }
        }
    }

    fn usable(&self, i: usize) -> bool {
        let s = &self.instances[i];
        s.healthy && !s.ejected && !s.out_of_service
    }

    /// Changes instance `i`'s state with `change`, keeping the count of unusable instances
    /// in step.
    fn update(&mut self, i: usize, change: impl FnOnce(&mut InstanceState)) {
        let before = self.usable(i);
        change(&mut self.instances[i]);
        match (before, self.usable(i)) {
            (true, false) => self.unusable += 1,
            (false, true) => self.unusable -= 1,
            _ => {}
        }
    }

    /// Takes back the count of the last fail-closed refusal: with a topology, the model
    /// picks as an attempt is sent and picks again where it arrives, and only the second
    /// refusal is the balancer's.
    pub fn uncount_refusal(&mut self) {
        self.stats.refused_fail_closed -= 1;
    }

    /// Puts instance `i` in or out of service (a controller's decision).
    pub fn set_in_service(&mut self, i: u32, in_service: bool) {
        self.update(i as usize, |s| s.out_of_service = !in_service);
    }

    /// Is instance `i` in service?
    pub fn in_service(&self, i: u32) -> bool {
        !self.instances[i as usize].out_of_service
    }

    /// Picking changes nothing and nothing needs counting: round robin, every instance
    /// usable, no outage windows, no restarts, no ejection. The model then takes
    /// `next_in_turn` directly.
    #[inline]
    pub fn transparent(&self) -> bool {
        self.transparent_when_usable && self.unusable == 0
    }

    /// Round robin over every instance: the next in turn (what `pick` does when nothing is
    /// filtered), without the checks.
    #[inline]
    pub fn next_in_turn(&mut self) -> u32 {
        let choice = self.rr_next;
        self.rr_next = if choice + 1 >= self.instances.len() as u32 { 0 } else { choice + 1 };
        choice
    }

    /// Chooses the instance for a job, or `None` when none is usable and
    /// the service fails closed. Usable: healthy (per its checks) and not ejected. Too few
    /// usable (under the panic threshold) or none (fail-open): any instance.
    pub fn pick(&mut self) -> Option<u32> {
        let n = self.instances.len();
        self.scratch.clear();
        if self.unusable > 0 {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.extend((0..n as u32).filter(|&i| self.usable(i as usize)));
            self.scratch = scratch;
            let panic = match self.health.as_ref().and_then(|h| h.panic_threshold) {
                Some(pct) => (self.scratch.len() as f64) < pct / 100.0 * n as f64,
                None => false,
            };
            if self.scratch.is_empty() || panic {
                let fail_open = self.health.as_ref().is_none_or(|h| h.fail_open) || panic;
                if !fail_open {
                    self.stats.refused_fail_closed += 1;
                    return None;
                }
                self.stats.routed_fail_open += 1;
                self.scratch.clear();
            }
        }
        // An empty scratch list means every instance is a candidate.
        let all = self.scratch.is_empty();
        Some(self.choose(all))
    }

    /// Shuffle sharding's pick for attempt `attempt` (from 1) of `customer`'s request: the
    /// members of its shard of `shard_size` instances in turn from the attempt's, the first
    /// usable; none usable: the attempt's member (fail-open) or `None` (fail-closed).
    pub fn pick_for(&mut self, customer: u32, attempt: u32, shard_size: u32) -> Option<u32> {
        let n = self.instances.len() as u32;
        let k = shard_size.clamp(1, n);
        let first = (attempt.max(1) - 1) % k;
        let member = |j: u32| crate::cells::route::shard_member(customer, n, k, (first + j) % k) as u32;
        if let Some(m) = (0..k).map(member).find(|&m| self.usable(m as usize)) {
            return Some(m);
        }
        if self.health.as_ref().is_some_and(|h| !h.fail_open) {
            self.stats.refused_fail_closed += 1;
            return None;
        }
        self.stats.routed_fail_open += 1;
        Some(member(0))
    }

    /// `pick` among `allowed` only (the instances in a caller's zone, when cross-zone
    /// balancing is off), or `None` when none of them is usable (the caller then picks among
    /// every zone's, as DNS stops sending a zone's clients to a load balancer node whose
    /// zone has no healthy target).
    pub fn pick_among(&mut self, allowed: &[u32]) -> Option<u32> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(allowed.iter().copied().filter(|&i| self.usable(i as usize)));
        self.scratch = scratch;
        if self.scratch.is_empty() {
            return None;
        }
        Some(self.choose(false))
    }

    /// The balancer's choice among every instance (`all`) or those in `scratch` (not empty,
    /// ascending); moves the round-robin position past it.
    fn choose(&mut self, all: bool) -> u32 {
        let n = self.instances.len();
        let count = if all { n } else { self.scratch.len() };
        let at = |k: usize, scratch: &[u32]| if all { k as u32 } else { scratch[k] };
        let choice = match self.lb {
            LbKind::RoundRobin if all => self.rr_next,
            LbKind::RoundRobin => {
                // The first candidate at or after the round-robin position.
                let start = self.rr_next;
                let k = (0..count).find(|&k| at(k, &self.scratch) >= start).unwrap_or(0);
                at(k, &self.scratch)
            }
            LbKind::Random => at(self.rng.below(count as u64) as usize, &self.scratch),
            LbKind::LeastOutstanding => {
                let start = self.rr_next;
                let rotated = (0..count)
                    .map(|k| at(k, &self.scratch))
                    .filter(|&i| i >= start)
                    .chain((0..count).map(|k| at(k, &self.scratch)).filter(|&i| i < start));
                rotated.min_by_key(|&i| self.instances[i as usize].outstanding).expect("a candidate")
            }
            LbKind::PowerOfTwo => {
                if count == 1 {
                    at(0, &self.scratch)
                } else {
                    let a = self.rng.below(count as u64) as usize;
                    let mut b = self.rng.below(count as u64 - 1) as usize;
                    if b >= a {
                        b += 1;
                    }
                    let (a, b) = (at(a, &self.scratch), at(b, &self.scratch));
                    if self.instances[b as usize].outstanding < self.instances[a as usize].outstanding {
                        b
                    } else {
                        a
                    }
                }
            }
            // Without a customer (`pick_for` is the shard's way in): round robin.
            LbKind::ShuffleShard => {
                let start = self.rr_next;
                let k = (0..count).find(|&k| at(k, &self.scratch) >= start).unwrap_or(0);
                at(k, &self.scratch)
            }
            LbKind::Weighted => {
                let total: i64 = (0..count).map(|k| self.weights[at(k, &self.scratch) as usize]).sum();
                let mut best = at(0, &self.scratch);
                for k in 0..count {
                    let i = at(k, &self.scratch);
                    self.instances[i as usize].current += self.weights[i as usize];
                    if self.instances[i as usize].current > self.instances[best as usize].current {
                        best = i;
                    }
                }
                self.instances[best as usize].current -= total;
                best
            }
        };
        self.rr_next = if choice + 1 >= n as u32 { 0 } else { choice + 1 };
        choice
    }

    /// A job was admitted at instance `i`.
    #[inline]
    pub fn on_admit(&mut self, i: u32) {
        if self.tracks_jobs {
            self.instances[i as usize].outstanding += 1;
        }
    }

    /// A job at instance `i` answered `outcome` (`admitted`: it had been counted by
    /// `on_admit`). Errors and rejections are 5xx to outlier detection.
    #[inline]
    pub fn on_answer(&mut self, i: u32, outcome: Outcome, admitted: bool, now: Nanos) {
        if self.tracks_jobs {
            self.count_answer(i, outcome, admitted, now);
        }
    }

    fn count_answer(&mut self, i: u32, outcome: Outcome, admitted: bool, now: Nanos) {
        let n = self.instances.len();
        let s = &mut self.instances[i as usize];
        if admitted {
            s.outstanding -= 1;
        }
        let Some(o) = &self.outlier else { return };
        let failed = matches!(outcome, Outcome::Error | Outcome::Rejected);
        s.interval_total += 1;
        if failed {
            s.consecutive_errors += 1;
        } else {
            s.interval_ok += 1;
            s.consecutive_errors = 0;
        }
        if failed && s.consecutive_errors >= o.consecutive_errors && !s.ejected {
            let (base, max, pct) = (o.base_ejection_ns, o.max_ejection_ns, o.max_ejection_percent);
            self.eject(i as usize, now, base, max, pct, n);
        }
    }

    /// Ejects instance `i` unless that would put more than `max_pct` of the fleet out (one
    /// ejection is always allowed). Ejection time = base x times ejected, capped at
    /// max(max, base).
    fn eject(&mut self, i: usize, now: Nanos, base: Nanos, max: Nanos, max_pct: f64, n: usize) {
        let ejected = self.instances.iter().filter(|s| s.ejected).count();
        if ejected > 0 && (ejected + 1) as f64 * 100.0 / n as f64 > max_pct {
            return;
        }
        self.update(i, |s| {
            s.times_ejected += 1;
            s.ejected = true;
            s.ejected_until_ns = now + base.saturating_mul(s.times_ejected as u64).min(max.max(base));
        });
        self.stats.ejections += 1;
    }

    /// Outlier detection's interval: un-eject the hosts whose time is up, then eject the
    /// hosts whose success rate is below mean - factor x stdev (among hosts with enough
    /// requests, when there are enough such hosts).
    pub fn outlier_sweep(&mut self, now: Nanos) {
        let Some(o) = self.outlier.clone() else { return };
        for i in 0..self.instances.len() {
            let s = &self.instances[i];
            if s.ejected && now >= s.ejected_until_ns {
                self.update(i, |s| {
                    s.ejected = false;
                    s.consecutive_errors = 0;
                });
            }
        }
        let rates: Vec<(usize, f64)> = self
            .instances
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.ejected && s.interval_total >= o.success_rate_request_volume)
            .map(|(i, s)| (i, s.interval_ok as f64 / s.interval_total as f64))
            .collect();
        if rates.len() >= o.success_rate_minimum_hosts as usize {
            let mean = rates.iter().map(|r| r.1).sum::<f64>() / rates.len() as f64;
            let var = rates.iter().map(|r| (r.1 - mean).powi(2)).sum::<f64>() / rates.len() as f64;
            let threshold = mean - o.success_rate_stdev_factor * var.sqrt();
            let n = self.instances.len();
            for (i, rate) in rates {
                if rate < threshold {
                    self.eject(i, now, o.base_ejection_ns, o.max_ejection_ns, o.max_ejection_percent, n);
                }
            }
        }
        for s in self.instances.iter_mut() {
            s.interval_ok = 0;
            s.interval_total = 0;
        }
    }

    /// Runs one round of health checks at `now`. `queue_wait_ns(i)` estimates how long a
    /// probe would wait at instance `i`; `fault_down(i)` says whether a fault holds it down;
    /// `dependency_down` says whether the checked dependency is entirely down. Returns the
    /// instances that begin a restart now.
    pub fn health_tick(
        &mut self,
        now: Nanos,
        queue_wait_ns: impl Fn(u32) -> Nanos,
        fault_down: impl Fn(u32) -> bool,
        dependency_down: bool,
    ) -> Vec<u32> {
        let Some(h) = self.health.clone() else { return Vec::new() };
        let mut restarts = Vec::new();
        for i in 0..self.instances.len() as u32 {
            let down = self.restarting(i, now) || fault_down(i);
            let pass = !down
                && match h.kind {
                    HealthKind::Liveness => true,
                    HealthKind::Local => queue_wait_ns(i) <= h.timeout_ns,
                    HealthKind::Dependency => queue_wait_ns(i) <= h.timeout_ns && !dependency_down,
                };
            let s = &mut self.instances[i as usize];
            if now < s.restart_until_ns {
                continue; // restarting: not probed
            }
            if pass {
                s.ok_streak += 1;
                s.fail_streak = 0;
                if !s.healthy && s.ok_streak >= h.healthy_threshold {
                    self.update(i as usize, |s| s.healthy = true);
                }
            } else {
                s.fail_streak += 1;
                s.ok_streak = 0;
                if s.healthy && s.fail_streak >= h.unhealthy_threshold {
                    self.update(i as usize, |s| {
                        s.healthy = false;
                        s.unhealthy_since_ns = now;
                    });
                    self.stats.marked_unhealthy += 1;
                }
            }
            let s = &mut self.instances[i as usize];
            if let Some(after) = h.restart_after_ns {
                if !s.healthy && now - s.unhealthy_since_ns >= after {
                    // Down while it restarts; then it must pass `healthy_threshold` checks.
                    s.restart_until_ns = now + h.restart_ns;
                    s.unhealthy_since_ns = s.restart_until_ns;
                    s.ok_streak = 0;
                    s.fail_streak = 0;
                    self.stats.restarts += 1;
                    restarts.push(i);
                }
            }
        }
        restarts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;

    fn fleet(n: u32, lb: LbKind) -> Fleet {
        Fleet::new(n, lb, Vec::new(), Stream::new(1, "fleet", "lb"), None, None, false)
    }

    #[test]
    fn round_robin_and_weighted_spread_as_written() {
        let mut f = fleet(3, LbKind::RoundRobin);
        let picks: Vec<_> = (0..6).map(|_| f.pick().unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        // Smooth weighted round robin, weights 5, 1, 1 (nginx's example): a a b a c a a.
        let mut f = Fleet::new(3, LbKind::Weighted, vec![5, 1, 1], Stream::new(1, "f", "lb"), None, None, false);
        let picks: Vec<_> = (0..7).map(|_| f.pick().unwrap()).collect();
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn least_outstanding_and_power_of_two_prefer_the_idle() {
        let mut f = fleet(3, LbKind::LeastOutstanding);
        f.instances[0].outstanding = 2;
        f.instances[2].outstanding = 1;
        assert_eq!(f.pick(), Some(1));
        // P2C never picks the busiest of three: whichever pair is drawn, the other is idler.
        let mut f = fleet(3, LbKind::PowerOfTwo);
        f.instances[0].outstanding = 1;
        f.instances[1].outstanding = 5;
        f.instances[2].outstanding = 3;
        for _ in 0..100 {
            assert_ne!(f.pick(), Some(1));
        }
    }

    fn health(kind: HealthKind, fail_open: bool) -> HealthSpec {
        HealthSpec {
            kind,
            interval_ns: S,
            timeout_ns: S,
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            dependency: None,
            fail_open,
            panic_threshold: None,
            restart_after_ns: None,
            restart_ns: 0,
        }
    }

    #[test]
    fn health_thresholds_and_fail_open_or_closed() {
        // Instance 1 is down from 0 to 10 s.
        let down = |t: Nanos| move |i: u32| i == 1 && t < 10 * S;
        let mut f = Fleet::new(
            2,
            LbKind::RoundRobin,
            vec![],
            Stream::new(1, "f", "lb"),
            Some(health(HealthKind::Liveness, true)),
            None,
            true,
        );
        f.health_tick(S, |_| 0, down(S), false);
        assert!(f.instances[1].healthy, "one failed check is not enough");
        f.health_tick(2 * S, |_| 0, down(2 * S), false);
        assert!(!f.instances[1].healthy, "two are");
        assert!((0..4).all(|_| f.pick() == Some(0)), "only the healthy instance gets jobs");
        // Back up at 10 s: healthy again after three passing checks.
        for t in 10..12 {
            f.health_tick(t * S, |_| 0, down(t * S), false);
            assert!(!f.instances[1].healthy);
        }
        f.health_tick(12 * S, |_| 0, down(12 * S), false);
        assert!(f.instances[1].healthy);
        // A dependency check fails everywhere while the dependency is down.
        for fail_open in [true, false] {
            let mut f = Fleet::new(
                2,
                LbKind::RoundRobin,
                vec![],
                Stream::new(1, "f", "lb"),
                Some(health(HealthKind::Dependency, fail_open)),
                None,
                false,
            );
            f.health_tick(S, |_| 0, |_| false, true);
            f.health_tick(2 * S, |_| 0, |_| false, true);
            assert!(f.instances.iter().all(|s| !s.healthy));
            let got = f.pick();
            if fail_open {
                assert!(got.is_some());
                assert_eq!(f.stats.routed_fail_open, 1);
            } else {
                assert_eq!(got, None);
                assert_eq!(f.stats.refused_fail_closed, 1);
            }
        }
    }

    #[test]
    fn an_instance_unhealthy_long_enough_is_restarted_and_must_pass_checks_again() {
        // Instance 0 is down from 0 to 100 s; restart after 5 s unhealthy, restarts take 3 s.
        let mut h = health(HealthKind::Liveness, true);
        h.restart_after_ns = Some(5 * S);
        h.restart_ns = 3 * S;
        let mut f = Fleet::new(2, LbKind::RoundRobin, vec![], Stream::new(1, "f", "lb"), Some(h), None, true);
        let mut restarts = Vec::new();
        for t in 1..=20 {
            if !f.health_tick(t * S, |_| 0, |i| i == 0, false).is_empty() {
                restarts.push(t);
            }
        }
        // Unhealthy at 2 s (two failures); restarted at 7 s; down until 10 s (not probed);
        // fails again from 10 s, so it counts 5 s from the restart's end: restarted at 15 s.
        assert_eq!(restarts, [7, 15]);
        assert_eq!(f.stats.restarts, 2);
        assert!(f.restarting(0, 16 * S) && !f.restarting(0, 18 * S));
    }

    #[test]
    fn panic_threshold_routes_to_all_below_half_healthy() {
        let mut h = health(HealthKind::Liveness, true);
        h.panic_threshold = Some(50.0);
        let down = |i: u32| i < 3; // 3 of 4 down
        let mut f = Fleet::new(4, LbKind::RoundRobin, vec![], Stream::new(1, "f", "lb"), Some(h), None, true);
        f.health_tick(S, |_| 0, down, false);
        f.health_tick(2 * S, |_| 0, down, false);
        // 1 of 4 usable, under 50%: every instance gets jobs again.
        let picks: Vec<_> = (0..4).map(|_| f.pick().unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 3]);
    }

    #[test]
    fn outlier_ejection_after_consecutive_errors_grows_and_respects_the_cap() {
        let o = OutlierSpec::default();
        let mut f = Fleet::new(10, LbKind::RoundRobin, vec![], Stream::new(1, "f", "lb"), None, Some(o), false);
        for _ in 0..4 {
            f.on_answer(3, Outcome::Error, false, 0);
        }
        assert!(!f.instances[3].ejected);
        f.on_answer(3, Outcome::Error, false, 0);
        assert!(f.instances[3].ejected, "5 consecutive errors");
        assert_eq!(f.instances[3].ejected_until_ns, 30 * S);
        // 10% of 10 hosts: a second ejection would make 20%.
        (0..5).for_each(|_| f.on_answer(4, Outcome::Error, false, 0));
        assert!(!f.instances[4].ejected);
        assert!((0..9).all(|_| f.pick() != Some(3)));
        // Un-ejected at the first sweep after 30 s; the next ejection lasts 60 s.
        f.outlier_sweep(30 * S);
        assert!(!f.instances[3].ejected);
        (0..5).for_each(|_| f.on_answer(3, Outcome::Error, false, 31 * S));
        assert_eq!(f.instances[3].ejected_until_ns, 91 * S);
    }

    #[test]
    fn success_rate_ejection_finds_the_outlier() {
        let o = OutlierSpec { consecutive_errors: u32::MAX, ..OutlierSpec::default() };
        let mut f = Fleet::new(6, LbKind::RoundRobin, vec![], Stream::new(1, "f", "lb"), None, Some(o), false);
        for i in 0..6 {
            for k in 0..100 {
                // Instance 5 fails half its requests; the others 1%.
                let fail = if i == 5 { k % 2 == 0 } else { k == 0 };
                f.on_answer(i, if fail { Outcome::Error } else { Outcome::Ok }, false, 0);
            }
        }
        f.outlier_sweep(10 * S);
        let ejected: Vec<_> = (0..6).filter(|&i| f.instances[i].ejected).collect();
        assert_eq!(ejected, [5]);
    }
}
