//! The service model at run time: requests arrive, become call attempts, wait in instance
//! queues for workers, do their own work, make their downstream calls step by step, and
//! reply. This is the only module that implements `cellsim_sim::Model`.
//!
//! The hub is this file (the model struct, `start`, `dispatch`, arrivals and periodic ticks)
//! with the handlers that call each other: `model/calls.rs` (a call's attempts) and
//! `model/jobs.rs` (a job at a service). Only the hub schedules events. Its leaves
//! (`model/{event,records,tables,lanes,policies,record,arrivals}.rs`) hold what the handlers
//! call that never calls back: events and records, construction, timeout lanes, policy glue,
//! recording and arrivals. They take no `EventQueue`, so they cannot schedule.
//!
//! # Semantics (documented for users in docs/scenario-format.md)
//!
//! - A job is one call attempt at one service instance, for one of the service's operations.
//!   It queues FIFO for a worker (or is rejected when the queue is full), does its
//!   operation's own work, then runs its plan's steps in order (the plan of its operation,
//!   request type and drawn branch), the calls of a step in parallel, and replies. A call may
//!   be made several times, with a probability, awaited at the step, at the end, or never.
//! - With `hold_worker_during_calls = false` the worker is freed when the own work ends; with
//!   `true` it stays busy until the job replies.
//! - A critical call that fails (after its retries) fails the caller at once: the caller
//!   replies `error` without waiting for its other calls, whose results are then ignored.
//!   An optional call that fails makes the caller's answer `degraded`.
//! - A timeout abandons the attempt: the callee is not told and finishes its work anyway.
//! - Network latency is drawn once for the request and once for the reply.
//! - Retries start after the backoff; a call whose caller has already replied is dropped.

mod arrivals;
mod calls;
mod control;
mod deploy;
mod event;
mod heap;
mod jobs;
mod lanes;
mod memory;
mod names;
mod policies;
mod record;
mod records;
mod stop;
mod tables;
mod topo;

pub use event::{Event, Halt, Kind, Overload};
pub use memory::ModelMemory;
pub use record::Stability;

use crate::dist::Dist;
use crate::faults::FaultState;
use crate::metrics::*;
use crate::outcome::Outcome;
use crate::policy::breaker::Breaker;
use crate::policy::budget::Budget;
use crate::policy::bulkhead::Bulkhead;
use crate::policy::throttle::Throttle;
use crate::spec::{Arrival, Spec};
use crate::tier::Tier;
use cellsim_sim::{EventQueue, Handle, Model, Nanos, Slab, Stream};
use lanes::TimeoutLane;
use record::Bucket;
use records::*;
use std::marker::PhantomData;
use tables::{CallRt, EdgeRt, OpRt, ServiceRt, StepRt, WorkloadRt};

/// The service model, compiled for tier `T`: a scenario runs in the lowest tier that covers
/// what it uses, from which the compiler removes every check of the features it does not
/// (see `tier.rs` and `features.rs`): what a scenario does not use costs it nothing.
pub struct ServiceModel<'s, S: SeriesSink, T: Tier> {
    spec: &'s Spec,
    calls: Slab<Call>,
    jobs: Slab<Job>,
    instances: Vec<Instance>,
    services: Vec<ServiceRt>,
    call_rt: Vec<CallRt>,
    /// Timeout lanes, by call spec.
    lanes: Vec<TimeoutLane>,
    /// Retry budgets, circuit breakers and bulkheads (see `CallRt`).
    budgets: Vec<Budget>,
    breakers: Vec<Breaker>,
    bulkheads: Vec<Bulkhead>,
    throttles: Vec<Throttle>,
    /// By call slab index: the policy state of calls that are not plain.
    exts: Vec<CallExt>,
    /// The operations of services that have several or branches (see `ServiceRt::simple`).
    ops: Vec<OpRt>,
    /// By call spec: what the call's edge recorded.
    edges: Vec<EdgeRt>,
    /// Every plan's steps in one table (ranges of call specs).
    steps: Vec<StepRt>,
    /// What the faults break now.
    faults: FaultState,
    /// The fleet's background noise (`None`: none).
    noise: Option<Box<crate::faults::noise::NoiseState>>,
    /// Callers' DNS records of the names faults break, and clocks (`None`: not modelled).
    names: Option<Box<names::NamesRt>>,
    /// IO phases (`None`: no service has `io`).
    io: Option<Box<Volumes>>,
    /// Deployments under way (`None`: none).
    deploys: Option<Box<deploy::Deploys>>,
    /// Stop conditions (`None`: none).
    stops: Option<Box<stop::Stops>>,
    /// By global instance, its heap's state (empty when no service has `memory`).
    memory: Vec<crate::faults::memory::InstanceMemory>,
    /// The periodic ticks, indexed by a `Kind::Tick` event's `arg`.
    ticks: Vec<Tick>,
    workloads: Vec<WorkloadRt>,
    /// The measurement window: [warmup, duration].
    window: (Nanos, Nanos),
    /// The batch that `now` falls in (`UNCOUNTED` during the warm-up) and when it ends:
    /// time only moves forward, so the batch advances by comparison, not division.
    batch_now: u8,
    batch_end_ns: Nanos,
    /// The window's width over BATCHES, at least 1 ns.
    batch_ns: Nanos,
    request_stats: Vec<RequestStats>,
    /// By request stats: latencies of successes and of failures (they become
    /// `latency` and `latency_failed` when the run ends).
    request_latency: Vec<[LatencyRecorder; 2]>,
    buckets: Vec<Bucket>,
    bucket_start_ns: Nanos,
    sink: S,
    /// Requests that arrived, finished, and are in flight: arrived = finished + in flight.
    requests_arrived: u64,
    requests_finished: u64,
    requests_in_flight: u64,
    /// Events handled from the queue, and events dispatched at once by `after` (both count
    /// against `limits.max_events`).
    handled_events: u64,
    inline_events: u64,
    /// Requests that finished before the trigger and in the late window after it, and how
    /// many of each succeeded (see `Stability`).
    stability: Option<Stability>,
    /// Why the run halted (set with the `Halt` that stops it).
    overload: Option<Overload>,
    /// Some workload is a closed loop (its requests' ends schedule the next).
    closed_loops: bool,
    /// Copies of calls repeated in sequence being sent inside one another (see
    /// `calls::send_repeat`).
    repeat_nesting: u32,
    /// Zones, cells, routers and per-customer counts (`None`: no topology).
    topo: Option<topo::TopoRt>,
    /// The autoscalers, and the zonal shift (`None`: none).
    scalers: Vec<control::Scaler>,
    shift: Option<control::ShiftRt>,
    /// The autoscalers' actions, for the report (the first `control::MAX_ACTIONS`).
    control_actions: Vec<ControlAction>,
    /// Calls carry their request's customer (routers, per-customer counts and shuffle
    /// sharding read it).
    tracks_customers: bool,
    /// With crash faults: the wake-up tick's index, and when it is next due.
    wake_tick: u32,
    wake_at_ns: Nanos,
    /// What a caller comparing this run with another observes (`None`: nobody does).
    observed: Option<Box<crate::observe::Observed>>,
    _tier: PhantomData<T>,
}

/// Something done at a fixed interval until the run's duration: one mechanism, one event
/// kind, for health checks, outlier sweeps and what comes later.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tick {
    /// Service `service`'s health checks.
    Health { service: u32, interval_ns: Nanos },
    /// Service `service`'s outlier detection interval.
    Outlier { service: u32, interval_ns: Nanos },
    /// Autoscaler `scaler`'s look (HPA's sync, target tracking's period).
    Scale { scaler: u32, interval_ns: Nanos },
    /// Autoscaler `scaler`'s launches may be ready (one-shot: scheduled when a launch will
    /// be, never again by itself).
    Launch { scaler: u32 },
    /// The zonal shift's step: its alarms, shifts by hand, drains.
    Shift { interval_ns: Nanos },
    /// A fault transition that crashes instances is due (one-shot: scheduled for the next
    /// transition, so that the jobs on a crashed instance fail at its instant). The event
    /// only makes `handle` apply the transitions due.
    FaultWake,
    /// Deployment `deploy`'s step: waves, capacity, its alarm (every second from its start).
    Deploy { deploy: u32 },
    /// Stop condition `condition`'s look, every period until one fires.
    Stop { condition: u32, interval_ns: Nanos },
}

impl Tick {
    /// The service whose fleet the tick changes, if one.
    fn service(self) -> Option<u32> {
        match self {
            Tick::Health { service, .. } | Tick::Outlier { service, .. } => Some(service),
            Tick::Scale { .. }
            | Tick::Launch { .. }
            | Tick::Shift { .. }
            | Tick::FaultWake
            | Tick::Deploy { .. }
            | Tick::Stop { .. } => None,
        }
    }
}

/// The instances' volumes: by global instance its devices, each free from an instant (none
/// for a service without `io`), and by service the stream of its IO times.
pub(super) struct Volumes {
    devices: Vec<Vec<Nanos>>,
    rngs: Vec<Option<cellsim_sim::Stream>>,
}

/// A job's instance while it travels to its service.
const TRAVELLING: u32 = u32::MAX;

/// Marks a job's instance picked when the attempt was sent (scenarios with a topology): it is
/// on its way there, not yet admitted. Instances are fewer than 2^31 (the compiler checks).
const PICKED: u32 = 1 << 31;

impl<'s, S: SeriesSink, T: Tier> ServiceModel<'s, S, T> {
    /// Schedules each workload's first arrival and every periodic tick.
    pub fn start(&mut self, q: &mut EventQueue<Event>) {
        for (w, workload) in self.spec.workloads.iter().enumerate() {
            match workload.arrival {
                // Each user's first request comes after one think time.
                Arrival::Closed { users, .. } => (0..users).for_each(|_| self.user_thinks(w as u32, 0, q)),
                _ => self.schedule_arrival(w as u32, 0, q),
            }
        }
        for (tick, first_ns) in tables::ticks(self.spec) {
            // A one-shot tick (`Nanos::MAX`) is scheduled by what needs it.
            if first_ns != Nanos::MAX {
                q.schedule_at(first_ns, Event::new(Kind::Tick, Handle::NONE, self.ticks.len() as u32));
            }
            self.ticks.push(tick);
        }
        if self.faults.has_crashes() {
            self.wake_tick = self.ticks.len() as u32;
            self.ticks.push(Tick::FaultWake);
            self.schedule_wake(q);
        }
    }

    /// Schedules the fault wake-up at the next transition, unless one is already due then.
    fn schedule_wake(&mut self, q: &mut EventQueue<Event>) {
        let next = self.faults.next_ns();
        if next != Nanos::MAX && next != self.wake_at_ns && next >= q.now() {
            q.schedule_at(next, Event::new(Kind::Tick, Handle::NONE, self.wake_tick));
            self.wake_at_ns = next;
        }
    }

    /// Records why the run must stop; the caller returns the `Halt`.
    #[cold]
    fn halt(&mut self, why: Overload) -> Halt {
        self.overload = Some(why);
        Halt
    }

    // ----- arrivals -----

    fn schedule_arrival(&mut self, w: u32, now: Nanos, q: &mut EventQueue<Event>) {
        let next = self.next_arrival_ns(w, now);
        if next < self.spec.duration_ns {
            q.schedule_at(next, Event::new(Kind::Arrival, Handle::NONE, w));
        }
    }

    /// A user of closed-loop workload `w` thinks, then sends its next request (unless the
    /// run's duration has passed by then).
    fn user_thinks(&mut self, w: u32, now: Nanos, q: &mut EventQueue<Event>) {
        let next = self.next_arrival_ns(w, now);
        if next < self.spec.duration_ns {
            q.schedule_at(next, Event::new(Kind::UserRequest, Handle::NONE, w));
        }
    }

    /// A request of workload `w` arrives; an open loop's (`OPEN`) schedules the next arrival,
    /// a closed loop's next comes when this one ends.
    fn arrival<const OPEN: bool>(&mut self, w: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        if OPEN {
            self.schedule_arrival(w, now, q);
        }
        if self.requests_in_flight >= self.spec.max_in_flight_requests {
            return Err(self.halt(Overload::Requests { limit: self.spec.max_in_flight_requests }));
        }
        let (r, customer) = self.request_type(w);
        let req = &self.spec.workloads[w as usize].requests[r];
        let stats = self.workloads[w as usize].stats[r];
        let call = Call {
            parent: Handle::NONE,
            spec: req.call,
            type_id: req.type_id,
            stats,
            workload: w as u16,
            attempt: 1,
            customer,
            waiting: true,
            batch: self.batch_at(now),
            started_ns: now,
            plain: self.call_rt[req.call as usize].plain,
            hedge_mask: 0,
            repeats_left: 0,
        };
        let (spec, type_id, plain) = (call.spec, call.type_id, call.plain);
        let h =
            self.calls.insert(call).ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?;
        self.requests_in_flight += 1;
        self.requests_arrived += 1;
        if T::POLICIES && !plain {
            let pol = self.call_rt[spec as usize].pol(0);
            let d = self.spec.calls[spec as usize].deadline_ns;
            self.new_ext(h, pol, if d > 0 { now + d } else { Nanos::MAX }, now);
        }
        self.start_attempt(h, spec, type_id, 1, plain, now, q)
    }

    /// Handles `event` now when `delay_ns` is zero (saving a trip through the queue), else
    /// schedules it.
    #[inline(always)]
    fn after(&mut self, delay_ns: Nanos, event: Event, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        if delay_ns == 0 {
            // Work done at once counts against the event budget like a queued event.
            self.inline_events += 1;
            if self.handled_events + self.inline_events > self.spec.max_events {
                return Err(self.halt(Overload::Events { events: self.spec.max_events }));
            }
            self.dispatch(now, event, q)
        } else {
            q.schedule_at(now + delay_ns, event);
            Ok(())
        }
    }

    /// Periodic tick `i` is due: run it, and schedule the next unless the run has ended.
    #[inline(never)]
    fn tick(&mut self, i: u32, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let tick = self.ticks[i as usize];
        let interval_ns = match tick {
            Tick::Health { service, interval_ns } => {
                self.health_tick(service as usize, now);
                interval_ns
            }
            Tick::Outlier { service, interval_ns } => {
                let rt = &mut self.services[service as usize];
                rt.fleet.as_mut().expect("a fleet with outlier detection").outlier_sweep(now);
                interval_ns
            }
            Tick::Scale { scaler, interval_ns } => {
                self.scale_tick(scaler as usize, now, q);
                interval_ns
            }
            Tick::Launch { scaler } => {
                self.launch_tick(scaler as usize, now, q);
                return Ok(()); // one-shot
            }
            Tick::FaultWake => return Ok(()), // `handle` applied the transitions; `apply_faults` wakes next
            Tick::Shift { interval_ns } => {
                self.shift_tick(now);
                interval_ns
            }
            Tick::Deploy { deploy } => {
                if !self.deploy_tick(deploy as usize, now) {
                    return Ok(()); // over: no more ticks
                }
                deploy::DEPLOY_TICK_NS
            }
            Tick::Stop { condition, interval_ns } => {
                if !self.stop_tick(condition as usize, now, q)? {
                    return Ok(()); // fired: no more looks
                }
                interval_ns
            }
        };
        if let Some(s) = tick.service() {
            self.check_fleet(s);
        }
        if now + interval_ns < self.spec.duration_ns {
            q.schedule_at(now + interval_ns, Event::new(Kind::Tick, Handle::NONE, i));
        }
        Ok(())
    }

    /// Runs service `s`'s health checks at `now`. A probe waits behind the instance's queue:
    /// it is estimated to wait (queued jobs x mean work) / workers.
    fn health_tick(&mut self, s: usize, now: Nanos) {
        let svc = &self.spec.services[s];
        let faults = &self.faults;
        let dependency_down = match svc.fleet.health.as_ref().and_then(|h| h.dependency) {
            Some(d) => {
                let rt = &self.services[d as usize];
                let first = rt.first_instance;
                rt.fleet.as_ref().is_some_and(|f| f.all_down(now, |i| faults.is_down(first + i)))
            }
            None => false,
        };
        let rt = &self.services[s];
        let (first, workers, mean_ns) = (rt.first_instance, rt.workers.max(1) as f64, svc.mean_work_ns());
        let instances = &self.instances;
        let wait = |i: u32| (instances[(first + i) as usize].queue.len() as f64 * mean_ns / workers) as Nanos;
        let rt = &mut self.services[s];
        if let Some(fleet) = &mut rt.fleet {
            fleet.health_tick(now, wait, |i| faults.is_down(first + i), dependency_down);
        }
    }

    /// Autoscaler `k` looks at its service at `now`: scales in at once, or requests launches
    /// (and schedules the tick that brings them into service).
    fn scale_tick(&mut self, k: usize, now: Nanos, q: &mut EventQueue<Event>) {
        let s = self.scalers[k].service as usize;
        let replaced = self.replace_unhealthy(k, now);
        let rt = &self.services[s];
        let (first, n, workers) = (rt.first_instance as usize, rt.instances as usize, rt.workers);
        let fleet = rt.fleet.as_ref().expect("an autoscaled service has a fleet");
        let in_service: Vec<bool> = (0..n as u32).map(|i| fleet.in_service(i)).collect();
        let work_ns = self.instances[first..first + n].iter().fold(0u64, |sum, i| sum.saturating_add(i.work_ns));
        let decision = self.scalers[k].look(now, &in_service, workers, work_ns);
        let serving = in_service.iter().filter(|&&x| x).count() as u32;
        let current = serving + self.scalers[k].launches.pending() as u32;
        let fleet = self.services[s].fleet.as_mut().expect("an autoscaled service has a fleet");
        for &i in &decision.remove {
            fleet.set_in_service(i, false);
        }
        self.note_serving(k, now);
        let Some(desired) = decision.desired else {
            if replaced > 0 {
                self.schedule_launch_tick(k, q);
            }
            return;
        };
        let name = &self.spec.services[s].name;
        let controller = match self.spec.services[s].autoscaling.map(|a| a.controller) {
            Some(crate::spec::Autoscaler::TargetTracking(_)) => "target tracking",
            _ => "hpa",
        };
        let what = if desired > current {
            format!("scale out from {current} to {desired}")
        } else {
            format!("scale in from {current} to {desired}")
        };
        if self.control_actions.len() < control::MAX_ACTIONS {
            self.control_actions.push(ControlAction {
                at_ns: now,
                controller: controller.into(),
                target: name.clone(),
                what,
            });
        }
        if desired > current {
            let (by_zone, launch_zones) = self.launch_zones(s, &in_service, now);
            self.scalers[k].launch(now, desired - current, by_zone, &launch_zones, false);
        }
        if desired > current || replaced > 0 {
            self.schedule_launch_tick(k, q);
        }
    }

    /// An auto scaling group's health replacement (reference section 4): each in-service
    /// instance of autoscaler `k`'s service that a fault holds down is terminated (taken out
    /// of service) and a replacement launched, in the zone with the fewest instances among
    /// those that can launch (not one whose instances of the service are all down). Returns
    /// how many were replaced.
    fn replace_unhealthy(&mut self, k: usize, now: Nanos) -> u32 {
        let s = self.scalers[k].service as usize;
        let rt = &self.services[s];
        let (first, n) = (rt.first_instance, rt.instances);
        let fleet = rt.fleet.as_ref().expect("an autoscaled service has a fleet");
        let down: Vec<u32> = (0..n).filter(|&i| fleet.in_service(i) && self.faults.is_down(first + i)).collect();
        if down.is_empty() {
            return 0;
        }
        let fleet = self.services[s].fleet.as_mut().expect("an autoscaled service has a fleet");
        for &i in &down {
            fleet.set_in_service(i, false);
        }
        self.note_serving(k, now);
        let fleet = self.services[s].fleet.as_ref().expect("an autoscaled service has a fleet");
        let in_service: Vec<bool> = (0..n).map(|i| fleet.in_service(i)).collect();
        let (by_zone, launch_zones) = self.launch_zones(s, &in_service, now);
        self.scalers[k].launch(now, down.len() as u32, by_zone, &launch_zones, true);
        if self.control_actions.len() < control::MAX_ACTIONS {
            let what = format!("replace {} unhealthy instance{}", down.len(), if down.len() == 1 { "" } else { "s" });
            let target = self.spec.services[s].name.clone();
            self.control_actions.push(ControlAction {
                at_ns: now,
                controller: "auto scaling group".into(),
                target,
                what,
            });
        }
        down.len() as u32
    }

    /// Service `s`'s instances in service by zone, and the zones a launch may go to now: its
    /// own (where its instances are placed) that have capacity and are not entirely down;
    /// with none, its own zones (the launch waits there for capacity).
    fn launch_zones(&self, s: usize, in_service: &[bool], now: Nanos) -> (Vec<u32>, Vec<bool>) {
        let zones = self.spec.topology.as_ref().map_or(1, |t| t.zones.len());
        let svc = &self.spec.services[s];
        let first = self.services[s].first_instance;
        let mut by_zone = vec![0u32; zones];
        let mut alive = vec![false; zones];
        for (i, &serving) in in_service.iter().enumerate() {
            let z = svc.zones.get(i).copied().unwrap_or(0) as usize;
            by_zone[z] += serving as u32;
            alive[z] |= !self.faults.is_down(first + i as u32);
        }
        let own: Vec<bool> = (0..zones).map(|z| svc.zones.iter().any(|&x| x as usize == z)).collect();
        let can_launch: Vec<bool> =
            (0..zones).map(|z| own[z] && alive[z] && control::capacity_ok(&self.spec.faults, z, now)).collect();
        (by_zone, if can_launch.iter().any(|&c| c) { can_launch } else { own })
    }

    /// Autoscaler `k`'s launches in service by `now` take free instances (in their zone when
    /// it has one free) into service; the next launch's tick is scheduled.
    fn launch_tick(&mut self, k: usize, now: Nanos, q: &mut EventQueue<Event>) {
        let ready = control::ready(&mut self.scalers[k], &self.spec.faults, now);
        let s = self.scalers[k].service as usize;
        let svc = &self.spec.services[s];
        let first = self.services[s].first_instance;
        let fleet = self.services[s].fleet.as_mut().expect("an autoscaled service has a fleet");
        let faults = &self.faults;
        for r in ready {
            // A free slot in the launch's zone that no fault holds down, else any such slot,
            // else any free one.
            let free = |i: &u32| !fleet.in_service(*i);
            let up = |i: &u32| !faults.is_down(first + *i);
            let slot = (0..svc.instances)
                .filter(free)
                .filter(up)
                .find(|&i| svc.zones.get(i as usize).is_none_or(|&z| z as usize == r.zone))
                .or_else(|| (0..svc.instances).filter(free).find(up))
                .or_else(|| (0..svc.instances).find(free));
            if let Some(i) = slot {
                fleet.set_in_service(i, true);
                self.scalers[k].started(i, now);
            }
        }
        self.note_serving(k, now);
        self.schedule_launch_tick(k, q);
    }

    /// Autoscaler `k`'s service's instances in service changed at `now` (or may have).
    fn note_serving(&mut self, k: usize, now: Nanos) {
        let s = self.scalers[k].service as usize;
        let rt = &self.services[s];
        let fleet = rt.fleet.as_ref().expect("an autoscaled service has a fleet");
        let serving = (0..rt.instances).filter(|&i| fleet.in_service(i)).count() as u32;
        self.scalers[k].serving_changed(now, serving, self.window);
    }

    /// Schedules autoscaler `k`'s launch tick for its next launch's readiness.
    fn schedule_launch_tick(&mut self, k: usize, q: &mut EventQueue<Event>) {
        let Some(at) = self.scalers[k].launches.next_ready_ns() else { return };
        let tick = self.ticks.iter().position(|t| matches!(t, Tick::Launch { scaler } if *scaler as usize == k));
        if let Some(t) = tick {
            q.schedule_at(at, Event::new(Kind::Tick, Handle::NONE, t as u32));
        }
    }

    /// The zonal shift's step at `now`: each service placed in several zones keeps in
    /// service the share of its instances in each zone that the zone's weight says.
    fn shift_tick(&mut self, now: Nanos) {
        let (faults, spec) = (&self.faults, self.spec);
        // The global instances placed in zone `z`.
        let zone_of = &self.topo.as_ref().expect("a zonal shift has zones").zone_of;
        let in_zone = |z: usize| (0..zone_of.len() as u32).filter(move |&i| zone_of[i as usize] as usize == z);
        let down = |z: usize| {
            let mut placed = in_zone(z).peekable();
            placed.peek().is_some() && placed.all(|i| faults.is_down(i))
        };
        let faulted = |z: usize| in_zone(z).any(|i| faults.is_down(i) || faults.slowdown(i) != 1.0);
        let weights = self.shift.as_mut().expect("a zonal shift").tick(now, down, faulted);
        for (s, svc) in spec.services.iter().enumerate() {
            let Some(fleet) = self.services[s].fleet.as_mut() else { continue };
            // Services in one zone are not shifted (there is nowhere to move their traffic);
            // an autoscaled one's autoscaler decides what is in service.
            let placed_in = svc.zones.iter().collect::<std::collections::BTreeSet<_>>().len();
            if svc.autoscaling.is_some() || placed_in < 2 {
                continue;
            }
            for (z, &w) in weights.iter().enumerate() {
                let here: Vec<u32> = (0..svc.instances).filter(|&i| svc.zones[i as usize] as usize == z).collect();
                // The first `keep` stay; the rest drain (one by one as the weight falls).
                let keep = (w * here.len() as f64).ceil() as usize;
                for (k, &i) in here.iter().enumerate() {
                    fleet.set_in_service(i, k < keep);
                }
            }
        }
    }

    /// Tested builds: a fleet's count of jobs present at each instance matches a recount.
    fn check_fleet(&self, s: u32) {
        #[cfg(debug_assertions)]
        if let Some(fleet) = self.services[s as usize].fleet.as_ref().filter(|_| T::POLICIES) {
            let first = self.services[s as usize].first_instance;
            fleet.check(|i| {
                let at = |job: &&Job| job.service as u32 == s && job.instance == first + i;
                self.jobs.iter().filter(at).count() as u32
            });
        }
        let _ = s;
    }
}

impl<S: SeriesSink, T: Tier> Model for ServiceModel<'_, S, T> {
    type Event = Event;
    type Stop = Overload;

    #[inline]
    fn handle(&mut self, now: Nanos, event: Event, q: &mut EventQueue<Event>) -> Result<(), Overload> {
        self.handled_events += 1;
        if T::EXTRAS && now >= self.faults.next_ns() {
            self.apply_faults(now, q).map_err(|Halt| self.overload.take().expect("a halt records its overload"))?;
        }
        self.dispatch(now, event, q).map_err(|Halt| self.overload.take().expect("a halt records its overload"))
    }
}

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// Applies the fault transitions due by `now`. Random failures and repairs count against
    /// the event budget like events (a run stops at the budget whatever makes it work).
    #[cold]
    #[inline(never)]
    fn apply_faults(&mut self, now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let left = self.spec.max_events.saturating_sub(self.handled_events + self.inline_events);
        let applied = self.faults.advance_within(now, left);
        self.inline_events += applied;
        let crashed = self.faults.take_crashed();
        if !crashed.is_empty() {
            self.crash_jobs(&crashed, now, q)?;
        }
        if self.faults.has_crashes() {
            self.schedule_wake(q);
        }
        if applied == left && now >= self.faults.next_ns() {
            self.overload = Some(Overload::Events { events: self.spec.max_events });
            return Err(Halt);
        }
        Ok(())
    }

    /// Routes an event to its handler. Always inlined, so that where the kind is known (an
    /// event handled at once by `after`) the match folds into a direct call.
    #[inline(always)]
    fn dispatch(&mut self, now: Nanos, event: Event, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let h = event.handle;
        match event.kind {
            Kind::Arrival => self.arrival::<true>(event.arg, now, q),
            Kind::UserRequest => self.arrival::<false>(event.arg, now, q),
            Kind::JobArrive => {
                let job = self.jobs.get(h).expect("live job");
                let seed = JobSeed {
                    call: job.call,
                    attempt: job.attempt as u32,
                    service: job.service as u32,
                    op: job.op,
                    type_id: job.type_id,
                    deadline_ns: job.deadline_ns,
                    customer: job.customer,
                    instance: job.instance,
                };
                self.admit(seed, Some(h), now, q)
            }
            Kind::WorkDone => self.work_done(h, event.arg, now, q),
            Kind::Reply => self.attempt_ended(h, event.arg, event.outcome, now, q),
            Kind::TimeoutLane => self.timeout_lane(event.arg, now, q),
            Kind::Retry => match self.calls.get_mut(h) {
                Some(call) => {
                    call.waiting = true;
                    let (spec, type_id, attempt, plain) = (call.spec, call.type_id, call.attempt as u32, call.plain);
                    self.start_attempt(h, spec, type_id, attempt, plain, now, q)
                }
                None => Ok(()),
            },
            Kind::Tick => self.tick(event.arg, now, q),
            Kind::AttemptDeadline => self.attempt_ended(h, event.arg, Outcome::Timeout, now, q),
            Kind::BulkheadPump => self.pump_bulkhead(event.arg, now, q),
            Kind::BulkheadWait => {
                // Still waiting for a permit: the wait is over, refused.
                let bit = attempt_bit(event.arg);
                match self.calls.get(h) {
                    Some(c)
                        if !c.plain && c.outstanding(event.arg) && self.exts[h.index as usize].waiting & bit != 0 =>
                    {
                        self.exts[h.index as usize].waiting &= !bit;
                        let pol = self.exts[h.index as usize].pol;
                        self.bulkheads[pol.bulkhead as usize].refused += 1;
                        self.attempt_ended(h, event.arg, Outcome::Refused, now, q)
                    }
                    _ => Ok(()),
                }
            }
            Kind::Fallback => {
                let Some(&call) = self.calls.get(h) else { return Ok(()) };
                if call.parent != Handle::NONE && call.started_ns >= self.window.0 {
                    self.edges[call.spec as usize].fallbacks += 1;
                }
                match self.conclude(h, &call, Outcome::Degraded, now, q)? {
                    Some((job_h, answer)) => self.reply(job_h, answer, now, q),
                    None => Ok(()),
                }
            }
            Kind::Hedge => match self.calls.get(h) {
                // Still waiting, and no copy went out since this timer was set.
                Some(call) if call.waiting && call.hedge_mask != 0 && call.attempt as u32 == event.arg => {
                    if calls::nobody_waits(&self.jobs, call.parent, self.spec.calls[call.spec as usize].wait) {
                        return Ok(());
                    }
                    self.send_hedge(h, now, q)
                }
                _ => Ok(()),
            },
        }
    }
}

#[inline]
fn sample_opt(d: &Option<Dist>, rng: &mut Stream) -> Nanos {
    match d {
        Some(d) => d.sample(rng),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    /// Only the hub (model.rs, model/calls.rs, model/jobs.rs) schedules events: no leaf of
    /// the model and no event-free module names the event queue.
    #[test]
    fn only_the_hub_schedules_events() {
        let leaves = [
            ("model/event.rs", include_str!("model/event.rs")),
            ("model/records.rs", include_str!("model/records.rs")),
            ("model/tables.rs", include_str!("model/tables.rs")),
            ("model/lanes.rs", include_str!("model/lanes.rs")),
            ("model/policies.rs", include_str!("model/policies.rs")),
            ("model/record.rs", include_str!("model/record.rs")),
            ("model/arrivals.rs", include_str!("model/arrivals.rs")),
            ("model/topo.rs", include_str!("model/topo.rs")),
            ("model/names.rs", include_str!("model/names.rs")),
            ("cells/route.rs", include_str!("cells/route.rs")),
            ("control/alarm.rs", include_str!("control/alarm.rs")),
            ("control/hpa.rs", include_str!("control/hpa.rs")),
            ("control/target_tracking.rs", include_str!("control/target_tracking.rs")),
            ("control/zonal_shift.rs", include_str!("control/zonal_shift.rs")),
            ("control/replacement.rs", include_str!("control/replacement.rs")),
            ("control/rollout.rs", include_str!("control/rollout.rs")),
            ("faults/catalogue.rs", include_str!("faults/catalogue.rs")),
            ("faults/state.rs", include_str!("faults/state.rs")),
            ("faults/network.rs", include_str!("faults/network.rs")),
            ("faults/memory.rs", include_str!("faults/memory.rs")),
            ("faults/dns.rs", include_str!("faults/dns.rs")),
            ("faults/noise.rs", include_str!("faults/noise.rs")),
            ("faults/random.rs", include_str!("faults/random.rs")),
            ("fleet.rs", include_str!("fleet.rs")),
            ("observe.rs", include_str!("observe.rs")),
            ("impact.rs", include_str!("impact.rs")),
            ("hypothesis.rs", include_str!("hypothesis.rs")),
            ("features.rs", include_str!("features.rs")),
            ("policy/backoff.rs", include_str!("policy/backoff.rs")),
            ("policy/breaker.rs", include_str!("policy/breaker.rs")),
            ("policy/budget.rs", include_str!("policy/budget.rs")),
            ("policy/bulkhead.rs", include_str!("policy/bulkhead.rs")),
            ("policy/throttle.rs", include_str!("policy/throttle.rs")),
            ("policy/window.rs", include_str!("policy/window.rs")),
        ];
        for (file, text) in leaves {
            assert!(!text.contains("EventQueue") && !text.contains("schedule_at"), "{file} schedules events");
        }
    }
}
