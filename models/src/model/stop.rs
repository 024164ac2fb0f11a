//! The hub's handlers for stop conditions (`[[stop_condition]]`, as AWS FIS's stop
//! conditions and LitmusChaos' probes act): each an alarm (`control::alarm`, CloudWatch's M of
//! N) fed one value per period from a workload's requests or a service's jobs. When one goes
//! to Alarm, every fault ends at that instant (rolled back: outages end, stresses lift,
//! deployments halt and roll back; a terminated instance stays terminated), no later fault
//! starts, and the run goes on, so that the recovery shows.

use super::{Event, Halt, ServiceModel};
use crate::control::alarm::{Alarm, State};
use crate::hypothesis::{Metric, Scope, Stopped};
use crate::metrics::{ControlAction, SeriesHistogram, SeriesSink};
use crate::outcome::Outcome;
use crate::spec::Spec;
use crate::tier::Tier;
use cellsim_sim::{EventQueue, Nanos};

/// One condition's alarm and what its current period has seen.
pub(super) struct StopRt {
    alarm: Alarm,
    ended: u64,
    failed: u64,
    latency: SeriesHistogram,
}

/// Every stop condition, and the one that fired.
pub(super) struct Stops {
    list: Vec<StopRt>,
    /// A workload's requests or a service's jobs count for these conditions.
    by_workload: Vec<Vec<u32>>,
    by_service: Vec<Vec<u32>>,
    pub(super) fired: Option<Stopped>,
}

impl Stops {
    pub(super) fn new(spec: &Spec) -> Option<Stops> {
        if spec.stop_conditions.is_empty() {
            return None;
        }
        let mut by_workload = vec![Vec::new(); spec.workloads.len()];
        let mut by_service = vec![Vec::new(); spec.services.len()];
        for (k, c) in spec.stop_conditions.iter().enumerate() {
            match c.scope {
                Scope::Workload(w) => by_workload[w as usize].push(k as u32),
                Scope::Service(s) => by_service[s as usize].push(k as u32),
                _ => by_workload.iter_mut().for_each(|v| v.push(k as u32)),
            }
        }
        let list = spec
            .stop_conditions
            .iter()
            .map(|c| StopRt {
                alarm: Alarm::new(c.alarm).expect("checked by the compiler"),
                ended: 0,
                failed: 0,
                latency: SeriesHistogram::default(),
            })
            .collect();
        Some(Stops { list, by_workload, by_service, fired: None })
    }

    /// The conditions' ticks: each at its period, from the first period's end.
    pub(super) fn ticks(spec: &Spec) -> impl Iterator<Item = Nanos> + '_ {
        spec.stop_conditions.iter().map(|c| c.period_ns)
    }

    /// A request of `workload` ended with `outcome` after `latency_ns`.
    #[inline]
    pub(super) fn request(&mut self, workload: u16, outcome: Outcome, latency_ns: Nanos) {
        if self.fired.is_some() {
            return;
        }
        for &k in &self.by_workload[workload as usize] {
            let c = &mut self.list[k as usize];
            c.ended += 1;
            if outcome.is_success() {
                c.latency.record(latency_ns);
            } else {
                c.failed += 1;
            }
        }
    }

    /// A job of `service` ended.
    #[inline]
    pub(super) fn job(&mut self, service: u32, failed: bool) {
        if self.fired.is_some() {
            return;
        }
        for &k in &self.by_service[service as usize] {
            let c = &mut self.list[k as usize];
            c.ended += 1;
            c.failed += failed as u64;
        }
    }

    /// Condition `k`'s period ended at `now`: its value, fed to its alarm (`Some`: it went
    /// to Alarm, with that value).
    fn look(&mut self, spec: &Spec, k: usize, now: Nanos) -> Option<Option<f64>> {
        let c = &mut self.list[k];
        let share = |x: u64| (c.ended > 0).then(|| x as f64 / c.ended as f64);
        let value = match spec.stop_conditions[k].metric {
            Metric::Quantile(q) => c.latency.quantile(q).map(|v| v as f64),
            Metric::Mean => c.latency.mean(),
            Metric::Max => c.latency.max().map(|v| v as f64),
            Metric::ErrorRate => share(c.failed),
            Metric::Availability => share(c.ended - c.failed),
            _ => None,
        };
        c.alarm.observe(now, value);
        (c.ended, c.failed) = (0, 0);
        c.latency.reset();
        (c.alarm.state() == State::Alarm).then_some(value)
    }
}

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// Stop condition `k`'s tick. `false` once a condition has fired (no more ticks).
    pub(super) fn stop_tick(&mut self, k: usize, now: Nanos, q: &mut EventQueue<Event>) -> Result<bool, Halt> {
        let spec = self.spec;
        let stops = self.stops.as_deref_mut().expect("stop conditions");
        if stops.fired.is_some() {
            return Ok(false);
        }
        let Some(value) = stops.look(spec, k, now) else { return Ok(true) };
        let c = &spec.stop_conditions[k];
        stops.fired =
            Some(Stopped { at_ns: now, condition: k as u32, name: c.name.clone(), value, unit: c.metric.unit() });
        self.stop_faults(now, q)?;
        if self.control_actions.len() < super::control::MAX_ACTIONS {
            let shown = value.map_or("no data".into(), |v| c.metric.unit().show(v));
            self.control_actions.push(ControlAction {
                at_ns: now,
                controller: "stop condition".into(),
                target: c.name.clone(),
                what: format!("alarm at {shown}: every fault ended (rolled back)"),
            });
        }
        Ok(false)
    }

    /// Ends every fault at `now` (see the module's comment).
    fn stop_faults(&mut self, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        self.faults.stop_all(now);
        if let Some(d) = self.deploys.as_deref_mut() {
            d.stop(self.spec, now);
        }
        self.sink.faults_stopped(now);
        self.apply_faults(now, q)
    }

    /// What a stop condition did, if one fired.
    pub fn stopped(&self) -> Option<Stopped> {
        self.stops.as_ref().and_then(|s| s.fired.clone())
    }
}
