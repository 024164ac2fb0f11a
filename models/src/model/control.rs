//! The controllers at run time: an autoscaler per autoscaled service (HPA or target tracking,
//! with its launches) and the zonal shift (shifts by hand, the autoshift alarm per zone, and
//! the zones' counts it watches). A leaf: the hub's ticks call it with `now` and what it
//! observes; it answers with decisions (which instances go in or out of service) and keeps
//! the dated actions for the report. It schedules nothing.

use crate::control::alarm::{Alarm, State as AlarmState};
use crate::control::hpa::Hpa;
use crate::control::replacement::{pick_zone, LaunchSpec, Launches, Ready};
use crate::control::target_tracking::TargetTracking;
use crate::control::zonal_shift::{Action, Reason, Trigger, ZonalShift};
use crate::faults::{FaultKind, FaultSpec};
use crate::metrics::ControlAction;
use crate::spec::{Autoscaler, Spec, ZonalShiftPlan};
use cellsim_sim::Nanos;

/// The most actions a run keeps for the report (the rest are counted).
pub(super) const MAX_ACTIONS: usize = 1000;

enum Controller {
    Hpa(Hpa),
    TargetTracking(TargetTracking),
}

/// One autoscaled service's controller and launches.
pub(super) struct Scaler {
    pub(super) service: u32,
    controller: Controller,
    pub(super) launches: Launches,
    /// The service's instances' work (unclipped) at the last look, and when that was.
    last_work_ns: u64,
    last_ns: Nanos,
    /// By instance of the service: when a launch brought it into service (target tracking's
    /// warm-up); `None` for the instances in service from the start (warmed up).
    since_ns: Vec<Option<Nanos>>,
    warmup_ns: Nanos,
    /// Instances in service now, since when, and their time in service over the
    /// measurement window so far.
    serving: u32,
    serving_since_ns: Nanos,
    pub(super) in_service_ns: u128,
}

/// What a scaler decided at a tick.
pub(super) struct Decision {
    /// Instances to take out of service (scale-in), within the service.
    pub(super) remove: Vec<u32>,
    /// The new desired capacity, when it changed.
    pub(super) desired: Option<u32>,
}

impl Scaler {
    pub(super) fn new(spec: &Spec, service: u32) -> Option<Scaler> {
        let s = &spec.services[service as usize];
        let a = s.autoscaling?;
        let (controller, warmup_ns) = match a.controller {
            Autoscaler::Hpa(h) => (Controller::Hpa(Hpa::new(h)), 0),
            Autoscaler::TargetTracking(t) => {
                (Controller::TargetTracking(TargetTracking::new(t).expect("checked by the compiler")), t.warmup_ns)
            }
        };
        Some(Scaler {
            service,
            controller,
            launches: Launches::new(LaunchSpec::new(a.boot_ns, s.instances as usize)),
            last_work_ns: 0,
            last_ns: 0,
            since_ns: vec![None; s.instances as usize],
            warmup_ns,
            serving: s.in_service,
            serving_since_ns: 0,
            in_service_ns: 0,
        })
    }

    /// How many instances are in service now.
    pub(super) fn serving_now(&self) -> u32 {
        self.serving
    }

    /// The instances in service are `serving` from `now` on: the time in service so far is
    /// added up within `window`.
    pub(super) fn serving_changed(&mut self, now: Nanos, serving: u32, window: (Nanos, Nanos)) {
        let (a, b) = (self.serving_since_ns.max(window.0), now.min(window.1));
        if b > a {
            self.in_service_ns += self.serving as u128 * (b - a) as u128;
        }
        self.serving = serving;
        self.serving_since_ns = now;
    }

    /// A look at `now`: the in-service instances (`in_service[i]`), their workers, and the
    /// service's work so far (`work_ns`, unclipped); returns what to change.
    pub(super) fn look(&mut self, now: Nanos, in_service: &[bool], workers: u32, work_ns: u64) -> Decision {
        let serving = in_service.iter().filter(|&&s| s).count() as u32;
        let elapsed = now.saturating_sub(self.last_ns).max(1);
        let capacity = elapsed as f64 * serving.max(1) as f64 * workers as f64;
        let utilisation = work_ns.saturating_sub(self.last_work_ns) as f64 / capacity;
        self.last_work_ns = work_ns;
        self.last_ns = now;
        let pending = self.launches.pending() as u32;
        let current = serving + pending;
        let desired = match &mut self.controller {
            // Kubernetes counts pods starting among the current replicas, and, scaling up,
            // takes them as idle (reference section 4: not-ready pods are treated
            // conservatively): the mean over `current` of the ready ones' usage.
            Controller::Hpa(h) => {
                let mean = utilisation * serving as f64 / current.max(1) as f64;
                Some(h.sync(now, current, mean)).filter(|&d| d != current)
            }
            Controller::TargetTracking(t) => {
                let warm = |i: usize| self.since_ns[i].is_none_or(|t| now >= t.saturating_add(self.warmup_ns));
                let warming = (0..in_service.len()).filter(|&i| in_service[i] && !warm(i)).count() as u32;
                let warmed = serving - warming;
                t.observe(now, (serving > 0).then_some(utilisation), warmed, warming + pending)
            }
        };
        let mut remove = Vec::new();
        if let Some(d) = desired.filter(|&d| d < current) {
            // Scale in: the newest instances in service go first (pending launches finish).
            let excess = (current - d).min(serving.saturating_sub(1));
            remove =
                (0..in_service.len() as u32).rev().filter(|&i| in_service[i as usize]).take(excess as usize).collect();
        }
        Decision { remove, desired }
    }

    /// Requests `n` launches at `now`, each in the zone with the fewest instances in service
    /// or booting among the zones that can launch now.
    pub(super) fn launch(&mut self, now: Nanos, n: u32, mut by_zone: Vec<u32>, can_launch: &[bool], replace: bool) {
        let first_possible = can_launch.iter().position(|&c| c);
        for (z, n) in by_zone.iter_mut().enumerate() {
            *n += self.launches.pending_in(z) as u32;
        }
        for _ in 0..n {
            // With no zone launching now, the request waits in the service's first zone (the
            // first whose `can_launch` the caller did not rule out for good) for capacity.
            let zone = pick_zone(&by_zone, can_launch).or(first_possible).unwrap_or(0);
            let queued = if replace {
                self.launches.instance_unhealthy(now, zone)
            } else {
                self.launches.request_launch(now, zone)
            };
            if queued {
                by_zone[zone] += 1;
            }
        }
    }

    /// Instance `i` (within the service) came into service at `now`.
    pub(super) fn started(&mut self, i: u32, now: Nanos) {
        self.since_ns[i as usize] = Some(now);
    }
}

/// Does a launch in `zone` at `at_ns` find capacity (no insufficient-capacity fault there)?
pub(super) fn capacity_ok(faults: &[FaultSpec], zone: usize, at_ns: Nanos) -> bool {
    !faults.iter().any(|f| {
        matches!(f.kind, FaultKind::InsufficientCapacity | FaultKind::PowerInterruption)
            && f.target.zone == Some(zone as u16)
            && f.occurrences().any(|w| w.contains(at_ns))
    })
}

/// The zonal shift at run time.
pub(super) struct ShiftRt {
    pub(super) plan: ZonalShiftPlan,
    pub(super) shift: ZonalShift,
    /// The next shift by hand to start.
    next_manual: usize,
    /// By zone: the autoshift alarm, and the jobs and failures its instances served in the
    /// current period.
    alarms: Vec<Alarm>,
    pub(super) jobs: Vec<(u64, u64)>,
    period_end_ns: Nanos,
    actions: Vec<Action>,
}

impl ShiftRt {
    pub(super) fn new(spec: &Spec) -> Option<ShiftRt> {
        let plan = spec.zonal_shift.clone()?;
        let zones = spec.topology.as_ref().map_or(0, |t| t.zones.len());
        let alarms = match plan.auto {
            Some((a, _)) => (0..zones).map(|_| Alarm::new(a).expect("checked by the compiler")).collect(),
            None => Vec::new(),
        };
        let period_end_ns = plan.auto.map_or(Nanos::MAX, |(_, p)| p);
        Some(ShiftRt {
            shift: ZonalShift::new(plan.spec, zones),
            plan,
            next_manual: 0,
            alarms,
            jobs: vec![(0, 0); zones],
            period_end_ns,
            actions: Vec::new(),
        })
    }

    /// A tick at `now`: the alarms see the periods that ended, shifts by hand start, and
    /// shifts end; `down(z)` says whether every instance placed in zone `z` is down,
    /// `faulted(z)` whether any fault acts on one. Returns the zones' weights now (the share
    /// of each zone's instances to keep in service).
    ///
    /// An autoshift starts when a zone's alarm goes off and ends at the first period's end
    /// at which no fault acts on the zone any more: AWS ends an autoshift on its own health
    /// signals, not on the customer's traffic (which the shift has moved away, so the alarm
    /// sees no data), and the simulation reads those signals from the faults.
    pub(super) fn tick(
        &mut self,
        now: Nanos,
        down: impl Fn(usize) -> bool,
        faulted: impl Fn(usize) -> bool,
    ) -> Vec<f64> {
        let mut out = Vec::new();
        while now >= self.period_end_ns {
            let (_, period) = self.plan.auto.expect("a period only with an alarm");
            let at = self.period_end_ns;
            for z in 0..self.alarms.len() {
                let (jobs, failed) = std::mem::take(&mut self.jobs[z]);
                let value = (jobs > 0).then(|| failed as f64 / jobs as f64);
                let before = self.alarms[z].state();
                self.alarms[z].observe(at, value);
                let healthy = self.healthy(&down);
                if before != AlarmState::Alarm && self.alarms[z].state() == AlarmState::Alarm {
                    self.shift.zone_impaired(at, z, &healthy, &mut out);
                }
                let shifted = self.shift.active(at) == Some((z, Trigger::Auto));
                if shifted && !faulted(z) {
                    self.shift.zone_recovered(at, z, &mut out);
                    self.alarms[z] = Alarm::new(*self.alarms[z].spec()).expect("checked by the compiler");
                }
            }
            self.period_end_ns = at.saturating_add(period);
        }
        while let Some(m) = self.plan.manual.get(self.next_manual).filter(|m| m.start_ns <= now).copied() {
            self.next_manual += 1;
            let healthy = self.healthy(&down);
            self.shift.start(m.start_ns, m.zone as usize, m.expires_ns, &healthy, &mut out);
        }
        self.shift.update(now, &mut out);
        self.actions.extend(out);
        if self.actions.len() > MAX_ACTIONS {
            self.actions.truncate(MAX_ACTIONS);
        }
        (0..self.jobs.len()).map(|z| self.shift.weight(now, z)).collect()
    }

    /// Healthy zones: their alarm is not going off, and not every instance there is down.
    fn healthy(&self, down: &impl Fn(usize) -> bool) -> Vec<bool> {
        (0..self.jobs.len())
            .map(|z| !down(z) && self.alarms.get(z).is_none_or(|a| a.state() != AlarmState::Alarm))
            .collect()
    }

    /// The shifts' actions, for the report.
    pub(super) fn actions(&self, zone_name: impl Fn(usize) -> String) -> Vec<ControlAction> {
        self.actions
            .iter()
            .map(|a| {
                let (at_ns, zone, trigger, what) = match *a {
                    Action::Started { zone, trigger, at_ns } => (at_ns, zone, trigger, "shift started".to_string()),
                    Action::Ended { zone, trigger, at_ns } => (at_ns, zone, trigger, "shift ended".to_string()),
                    Action::Refused { zone, trigger, at_ns, reason } => {
                        (at_ns, zone, trigger, format!("shift refused: {}", reason_words(reason)))
                    }
                };
                let by = match trigger {
                    Trigger::Manual => "zonal shift",
                    Trigger::Auto => "zonal autoshift",
                };
                ControlAction { at_ns, controller: by.to_string(), target: zone_name(zone), what }
            })
            .collect()
    }
}

fn reason_words(r: Reason) -> &'static str {
    match r {
        Reason::NoSuchZone => "no such zone",
        Reason::OthersUnhealthy => "every other zone is unhealthy",
        Reason::ShiftActive => "another zone is shifted",
        Reason::ManualActive => "a shift by hand is active",
        Reason::ExpiryOutOfRange => "expiry out of range",
    }
}

/// A scaler's readiness: the launches in service by `now`.
pub(super) fn ready(scaler: &mut Scaler, faults: &[FaultSpec], now: Nanos) -> Vec<Ready> {
    let mut out = Vec::new();
    scaler.launches.due(now, |z, at| capacity_ok(faults, z, at), &mut out);
    out
}
