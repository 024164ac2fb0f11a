//! The hub's handlers for deployments (a `deployment` fault; the leaf is
//! `control::rollout`): which instances run the new version now, what it does to their jobs
//! (slower work, errors, crashes), the capacity it takes out of service, and the alarm that
//! halts it and rolls it back. Part of the hub: a crash answers the jobs on the instance, and
//! a tick each second applies waves, rollbacks and the alarm.

use super::{control, Event, Halt, ServiceModel};
use crate::control::alarm::{Alarm, State};
use crate::control::rollout::{Rollout, RolloutSpec};
use crate::faults::catalogue::Deployment;
use crate::faults::FaultKind;
use crate::metrics::{ControlAction, SeriesSink};
use crate::spec::Spec;
use crate::tier::Tier;
use cellsim_sim::{EventQueue, Nanos, Stream, NS_PER_S};

/// A deployment's tick: waves start, rollbacks end and capacity comes and goes on it.
pub(super) const DEPLOY_TICK_NS: Nanos = NS_PER_S;

/// One deployment under way.
pub(super) struct DeployRt {
    /// Its fault, and when it ends everywhere (its `duration`, or the run's end).
    fault: u32,
    end_ns: Nanos,
    rollout: Rollout,
    /// Its alarm, its period, and when it next looks.
    alarm: Option<(Alarm, Nanos)>,
    next_look_ns: Nanos,
    /// The services of its target, and their jobs (ended, failed) at the last look.
    services: Vec<u32>,
    last: (u64, u64),
    /// Its draws: which jobs fail or crash.
    rng: Stream,
    /// By target instance: taken out of service now.
    out: Vec<bool>,
    /// By unit: its wave (`u32::MAX`: none).
    wave_of: Vec<u32>,
    halted: bool,
    /// Its first tick (at its start) has counted the jobs before it.
    started: bool,
}

/// Every deployment, and by global instance the one that aims at it (`u32::MAX`: none) with
/// the instance's index in its target.
pub(super) struct Deploys {
    pub(super) list: Vec<DeployRt>,
    by_instance: Vec<(u32, u32)>,
    /// By service: its jobs ended and failed (for the alarms).
    pub(super) counts: Vec<(u64, u64)>,
}

impl Deploys {
    pub(super) fn new(spec: &Spec, first_instance: &[u32], seed: u64) -> Option<Deploys> {
        let mut list = Vec::new();
        let mut by_instance = vec![(u32::MAX, 0); spec.instance_count() as usize];
        for (i, f) in spec.faults.iter().enumerate().filter(|(_, f)| f.kind == FaultKind::Deployment) {
            let plan = f.rollout.as_ref().expect("a deployment has its plan");
            let d = list.len() as u32;
            for (k, &(s, inst)) in f.target.instances.iter().enumerate() {
                by_instance[(first_instance[s as usize] + inst) as usize] = (d, k as u32);
            }
            let mut services: Vec<u32> = f.target.instances.iter().map(|&(s, _)| s).collect();
            services.dedup();
            let alarm = plan.alarm.map(|(spec, period)| (Alarm::new(spec).expect("checked by the compiler"), period));
            list.push(DeployRt {
                fault: i as u32,
                end_ns: f.window.end_ns,
                rollout: Rollout::new(RolloutSpec {
                    waves: plan.waves.clone(),
                    start_ns: f.window.start_ns,
                    bake_ns: plan.bake_ns,
                    rollback_ns: plan.rollback_ns,
                }),
                next_look_ns: f.window.start_ns.saturating_add(alarm.as_ref().map_or(Nanos::MAX, |a| a.1)),
                alarm,
                services,
                last: (0, 0),
                rng: Stream::new(seed, &format!("fault/{i}"), "deployment"),
                out: vec![false; f.target.instances.len()],
                wave_of: {
                    let mut w = vec![u32::MAX; plan.unit_sizes.len()];
                    for (k, wave) in plan.waves.iter().enumerate() {
                        for &u in wave {
                            w[u as usize] = k as u32;
                        }
                    }
                    w
                },
                halted: false,
                started: false,
            });
        }
        (!list.is_empty()).then(|| Deploys { list, by_instance, counts: vec![(0, 0); spec.services.len()] })
    }

    /// The deployments' ticks: each from its start.
    pub(super) fn ticks(spec: &Spec) -> impl Iterator<Item = Nanos> + '_ {
        spec.faults.iter().filter(|f| f.kind == FaultKind::Deployment).map(|f| f.window.start_ns)
    }

    /// The new version global instance `inst` runs at `now`, if it does: its deployment's
    /// index and plan.
    #[inline]
    pub(super) fn new_version<'a>(&self, spec: &'a Spec, inst: u32, now: Nanos) -> Option<(usize, &'a Deployment)> {
        let (d, k) = *self.by_instance.get(inst as usize)?;
        let rt = self.list.get(d as usize)?;
        let plan = spec.faults[rt.fault as usize].rollout.as_deref()?;
        let wave = rt.wave_of[plan.units[k as usize].0 as usize];
        (wave != u32::MAX && now < rt.end_ns && rt.rollout.wave_new_version(wave as usize, now))
            .then_some((d as usize, plan))
    }
}

impl Deploys {
    /// A stop condition fired at `now`: every deployment halts and rolls back (after its
    /// `rollback` time, at once without one), and is over then.
    pub(super) fn stop(&mut self, spec: &Spec, now: Nanos) {
        for rt in &mut self.list {
            let plan = spec.faults[rt.fault as usize].rollout.as_deref().expect("a deployment has its plan");
            rt.rollout.halt(now);
            rt.halted = true;
            rt.end_ns = rt.end_ns.min(now.saturating_add(plan.rollback_ns.unwrap_or(0)));
        }
    }
}

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// The work multiplier of the new version on global instance `inst` now (1: none).
    #[inline(never)]
    pub(super) fn deployed_slowdown(&self, inst: u32, now: Nanos) -> f64 {
        let deploys = self.deploys.as_deref().expect("deployments");
        deploys.new_version(self.spec, inst, now).map_or(1.0, |(_, p)| p.slowdown)
    }

    /// Does the new version on global instance `inst` fail this job (a draw)?
    #[inline(never)]
    pub(super) fn deployed_fails(&mut self, inst: u32, now: Nanos) -> bool {
        let spec = self.spec;
        let deploys = self.deploys.as_deref_mut().expect("deployments");
        match deploys.new_version(spec, inst, now) {
            Some((d, p)) if p.error_p > 0.0 => deploys.list[d].rng.unit() < p.error_p,
            _ => false,
        }
    }

    /// A job reaches global instance `inst` of service `s`: does the new version crash on it
    /// (a draw)? Then the instance restarts, down for the plan's restart time, and the jobs on
    /// it fail (`true`: the job fails with them).
    #[inline(never)]
    pub(super) fn deployed_crashes(
        &mut self,
        s: usize,
        inst: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, Halt> {
        let spec = self.spec;
        let deploys = self.deploys.as_deref_mut().expect("deployments");
        let restart_ns = match deploys.new_version(spec, inst, now) {
            Some((d, p)) if p.crash_p > 0.0 && deploys.list[d].rng.unit() < p.crash_p => p.restart_ns,
            _ => return Ok(false),
        };
        self.restart_instance(s as u32, inst, restart_ns, now, q)?;
        Ok(true)
    }

    /// Deployment `d`'s tick: the capacity its new version takes out of service, and its
    /// alarm's look at the service's error rate (which halts it, and rolls it back). `false`
    /// once it is over (its end has passed and this tick has given the capacity back).
    pub(super) fn deploy_tick(&mut self, d: usize, now: Nanos) -> bool {
        let spec = self.spec;
        let deploys = self.deploys.as_deref_mut().expect("deployments");
        let rt = &mut deploys.list[d];
        let f = &spec.faults[rt.fault as usize];
        let plan = f.rollout.as_deref().expect("a deployment has its plan");
        let counts = rt.services.iter().fold((0, 0), |t, &s| {
            let c = deploys.counts[s as usize];
            (t.0 + c.0, t.1 + c.1)
        });
        if !rt.started {
            // The alarm's first period starts with the deployment.
            rt.started = true;
            rt.last = counts;
        }
        if let Some((alarm, period)) = rt.alarm.as_mut().filter(|_| now >= rt.next_look_ns) {
            let (ended, failed) = (counts.0 - rt.last.0, counts.1 - rt.last.1);
            rt.last = counts;
            rt.next_look_ns = now + *period;
            alarm.observe(now, (ended > 0).then(|| failed as f64 / ended as f64));
            if alarm.state() == State::Alarm && !rt.halted {
                rt.halted = true;
                rt.rollout.halt(now);
                if self.control_actions.len() < control::MAX_ACTIONS {
                    let back = plan.rollback_ns.map_or("no rollback".to_string(), |r| {
                        format!("rolled back by {}", cellsim_sim::format_ns(now.saturating_add(r)))
                    });
                    self.control_actions.push(ControlAction {
                        at_ns: now,
                        controller: "deployment alarm".into(),
                        target: f.target.what.clone(),
                        what: format!("halt the rollout after {} wave(s); {back}", rt.rollout.waves_started(now)),
                    });
                }
            }
        }
        let more = now < rt.end_ns;
        if plan.capacity_share == 0.0 {
            return more;
        }
        // Each unit on the new version has its first ceil(share x size) instances out.
        let rt = &mut deploys.list[d];
        for (k, &(s, i)) in f.target.instances.iter().enumerate() {
            let (unit, index) = plan.units[k];
            let size = plan.unit_sizes[unit as usize];
            let taken = (plan.capacity_share * size as f64).ceil() as u32;
            let wave = rt.wave_of[unit as usize];
            let out =
                wave != u32::MAX && now < rt.end_ns && rt.rollout.wave_new_version(wave as usize, now) && index < taken;
            if out != rt.out[k] {
                rt.out[k] = out;
                if let Some(fleet) = self.services[s as usize].fleet.as_mut() {
                    fleet.set_in_service(i, !out);
                }
            }
        }
        more
    }

    /// Counts a job's end at `service` for the deployments' alarms.
    #[inline(always)]
    pub(super) fn count_for_deploys(&mut self, service: u32, failed: bool) {
        if let Some(d) = self.deploys.as_deref_mut() {
            let c = &mut d.counts[service as usize];
            c.0 += 1;
            c.1 += failed as u64;
        }
    }
}
