//! The hub's job handlers: a job reaches an instance (balancing, refusals, load shedding),
//! waits for a worker, works (slowed by CPU stress), runs its plan's steps of calls, and
//! replies. Part of the hub: these handlers schedule events and call the call handlers in
//! `calls.rs`, which call back.

use super::records::*;
use super::{sample_opt, Event, Halt, Kind, Overload, ServiceModel, PICKED, TRAVELLING};
use crate::dist::{round_ns, MAX_DRAW_NS};
use crate::metrics::SeriesSink;
use crate::outcome::Outcome;
use crate::spec::{QueueDiscipline, Wait};
use crate::tier::Tier;
use cellsim_sim::{EventQueue, Handle, Nanos};

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// A job reaches an instance (chosen round-robin): it takes a free worker, waits in the
    /// queue, or is rejected. `slot` holds it if it was already stored (it travelled over the
    /// network); a job that arrives at once is stored here, complete, in one write.
    pub(super) fn admit(
        &mut self,
        seed: JobSeed,
        slot: Option<Handle>,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let batch = self.batch_at(now);
        let picked = if T::POLICIES && seed.instance != TRAVELLING {
            self.picked_instance(seed.service, seed.instance & !PICKED, now)
        } else {
            self.pick_instance(seed.service, seed.customer, seed.attempt, now)
        };
        let inst = match picked {
            Ok(inst) => inst,
            Err((outcome, inst)) => return self.refused_by_balancer(seed, slot, batch, outcome, inst, now, q),
        };
        if T::EXTRAS && !self.memory.is_empty() && self.spec.services[seed.service as usize].memory.is_some() {
            // The OOM killer: this job's data would fill the heap.
            if self.out_of_memory(seed.service as usize, inst, now, q)? {
                return self.refused_by_balancer(seed, slot, batch, Outcome::Error, inst, now, q);
            }
        }
        if T::EXTRAS && self.deploys.is_some() && self.deployed_crashes(seed.service as usize, inst, now, q)? {
            // The new version crashed on this job, and its instance with it.
            return self.refused_by_balancer(seed, slot, batch, Outcome::Error, inst, now, q);
        }
        if T::EXTRAS && self.names.is_some() && !self.token_accepted(seed.call, inst, now) {
            // The callee's clock is past the token's window (or before it): 401.
            return self.refused_by_balancer(seed, slot, batch, Outcome::Error, inst, now, q);
        }
        if T::EXTRAS && self.tracks_customers {
            if let Some(restart_ns) = self.faults.poisoned(seed.service, seed.customer) {
                // The poisoned request crashes the instance, and fails with it.
                self.restart_instance(seed.service, inst, restart_ns, now, q)?;
                return self.refused_by_balancer(seed, slot, batch, Outcome::Error, inst, now, q);
            }
        }
        let rt = &mut self.services[seed.service as usize];
        let instance = &mut self.instances[inst as usize];
        let (free_worker, room) = (instance.busy < rt.workers, instance.queue.len() < rt.queue_capacity);
        // Turned away: a full queue or the concurrency limit (rejected), or a deadline that
        // passed on the way (timeout: nobody waits for the answer).
        let over_limit = T::EXTRAS && rt.shedding.max_in_flight.is_some_and(|m| instance.in_system >= m);
        let refusal = if T::EXTRAS && seed.deadline_ns <= now {
            Some(Outcome::Timeout)
        } else if (!free_worker && !room) || over_limit {
            Some(Outcome::Rejected)
        } else {
            None
        };
        if batch != UNCOUNTED {
            let b = &mut rt.batches[batch as usize];
            b.arrivals += 1;
            if let Some(o) = refusal {
                b.rejected += (o == Outcome::Rejected) as u64;
                rt.stats.outcomes.add(o);
                if T::EXTRAS && rt.per_op {
                    self.ops[(rt.first_op + seed.op as u32) as usize].outcomes.add(o);
                }
            } else {
                instance.jobs += 1;
            }
        }
        if let Some(fleet) = rt.fleet.as_mut().filter(|_| T::POLICIES) {
            match refusal {
                Some(o) => fleet.on_answer(inst - rt.first_instance, o, false, now),
                None => fleet.on_admit(inst - rt.first_instance),
            }
        }
        if let Some(o) = refusal {
            self.record_zone(inst, batch, o, 0, now);
            self.observe_job(seed.service, inst, o, 0);
            if let Some(h) = slot {
                self.jobs.free(h);
            }
            return self.send_reply(seed.call, seed.attempt, o, inst, now, q);
        }
        if T::EXTRAS && rt.shedding.max_in_flight.is_some() {
            instance.in_system += 1;
        }
        let plan = if !T::EXTRAS || rt.simple {
            rt.plan_by_type[seed.type_id as usize]
        } else {
            let first_op = rt.first_op;
            op_plan(&mut self.ops[(first_op + seed.op as u32) as usize], seed.type_id)
        };
        let work_started_ns = if free_worker { now } else { 0 };
        let h = match slot {
            Some(h) => {
                let job = self.jobs.get_mut(h).expect("live job");
                (job.plan_first, job.plan_steps) = plan;
                (job.instance, job.batch, job.arrived_ns, job.work_started_ns) = (inst, batch, now, work_started_ns);
                h
            }
            None => {
                let job = seed.job(plan, inst, batch, now, work_started_ns);
                self.jobs
                    .insert(job)
                    .ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?
            }
        };
        if free_worker {
            self.instances[inst as usize].busy += 1;
            let (work, mark) = self.work_starts(seed.service as usize, seed.op, inst, now, now, batch);
            q.schedule_at(now + work, Event::new(Kind::WorkDone, h, mark));
        } else {
            let instance = &mut self.instances[inst as usize];
            if T::EXTRAS && instance.queue.is_empty() {
                instance.last_empty_ns = now;
            }
            instance.queue.push_back(h);
        }
        Ok(())
    }

    /// The instance (global index) that takes a job for `service`: the next in turn, or the
    /// balancer's pick. `Err`: no usable instance and fail-closed (`Rejected`, by the
    /// balancer, at no instance: `TRAVELLING`), or the picked instance is down (`Error`, by
    /// the instance).
    #[inline(always)]
    pub(super) fn pick_instance(
        &mut self,
        service: u32,
        customer: u32,
        attempt: u32,
        now: Nanos,
    ) -> Result<u32, (Outcome, u32)> {
        let rt = &mut self.services[service as usize];
        match rt.fleet.as_mut().filter(|_| T::POLICIES) {
            None => {
                let inst = rt.first_instance + rt.next_instance;
                rt.next_instance = if rt.next_instance + 1 == rt.instances { 0 } else { rt.next_instance + 1 };
                Ok(inst)
            }
            // A fleet that changes nothing right now (round robin, every instance usable, no
            // outage, nothing counted) only takes the next instance in turn.
            Some(fleet) if fleet.transparent() => Ok(rt.first_instance + fleet.next_in_turn()),
            Some(fleet) => match shard_or_pick(fleet, &self.spec.services[service as usize].fleet, customer, attempt) {
                None => Err((Outcome::Rejected, TRAVELLING)),
                Some(i) => {
                    let inst = rt.first_instance + i;
                    let failed = if fleet.restarting(i, now) || self.faults.broken(inst) {
                        Some(Outcome::Error)
                    } else {
                        self.faults.gray_fails(inst, now)
                    };
                    match failed {
                        None => Ok(inst),
                        Some(_) if !fleet.restarting(i, now) && self.faults.is_blackholed(inst) => {
                            // Lost: no answer, and the balancer hears none.
                            Err((Outcome::Timeout, inst))
                        }
                        Some(o) => {
                            fleet.on_answer(i, o, false, now);
                            Err((o, inst))
                        }
                    }
                }
            },
        }
    }

    /// Instance `inst`, picked when the attempt was sent, as the job arrives: `Err(Error)` if
    /// it is down (or restarting), as `pick_instance` answers for one it picks.
    #[inline(always)]
    fn picked_instance(&mut self, service: u32, inst: u32, now: Nanos) -> Result<u32, (Outcome, u32)> {
        let rt = &mut self.services[service as usize];
        if rt.fleet.is_none() {
            // No fleet: no outage is aimed at the service.
            return Ok(inst);
        }
        let local = inst - rt.first_instance;
        let fleet = rt.fleet.as_mut().filter(|_| T::POLICIES);
        let restarting = fleet.as_ref().is_some_and(|f| f.restarting(local, now));
        let failed = if restarting || self.faults.broken(inst) {
            Some(Outcome::Error)
        } else {
            self.faults.gray_fails(inst, now)
        };
        let Some(o) = failed else { return Ok(inst) };
        if !restarting && self.faults.is_blackholed(inst) {
            return Err((Outcome::Timeout, inst));
        }
        if let Some(f) = fleet {
            f.on_answer(local, o, false, now);
        }
        Err((o, inst))
    }

    /// Counts a counted job's end (or refusal) at `instance` for its zone.
    #[inline(always)]
    fn record_zone(&mut self, instance: u32, counted: u8, outcome: Outcome, latency_ns: Nanos, now: Nanos) {
        if let Some(shift) = self.shift.as_mut().filter(|_| T::POLICIES) {
            // The autoshift alarm watches every job, warm-up or not.
            let zone = self.topo.as_ref().expect("a zonal shift has zones").zone_of[instance as usize];
            let c = &mut shift.jobs[zone as usize];
            c.0 += 1;
            c.1 += !outcome.is_success() as u64;
        }
        if T::POLICIES && self.topo.is_some() {
            // The zone's series (warm-up included), then its statistics (counted jobs).
            if now >= self.bucket_start_ns + self.spec.bucket_ns {
                self.close_buckets_before(now, false);
            }
            let topo = self.topo.as_mut().expect("checked");
            let zone = topo.zone_of[instance as usize] as usize;
            // The zone's series counts outcomes only (its latencies mix every service's jobs;
            // the summary has them over the window): one histogram record per job, not two.
            topo.zone_buckets[zone].record_outcome(outcome);
            if counted != UNCOUNTED {
                topo.zones[zone].record(outcome, latency_ns);
            }
        }
    }

    /// Observes a job of `service` that ended at global instance `instance` (`TRAVELLING`:
    /// none took it), for a caller comparing runs.
    #[inline(always)]
    fn observe_job(&mut self, service: u32, instance: u32, outcome: Outcome, latency_ns: Nanos) {
        if T::EXTRAS && self.deploys.is_some() {
            self.count_for_deploys(service, !outcome.is_success());
        }
        if let Some(stops) = self.stops.as_deref_mut().filter(|_| T::EXTRAS) {
            stops.job(service, !outcome.is_success());
        }
        if let Some(o) = self.observed.as_deref_mut() {
            let zone = self.topo.as_ref().filter(|_| instance != TRAVELLING).map(|t| t.zone_of[instance as usize]);
            o.job(service, zone, outcome, latency_ns);
        }
    }

    /// A job found no instance (`pick_instance`'s refusal): count it and answer at once.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn refused_by_balancer(
        &mut self,
        seed: JobSeed,
        slot: Option<Handle>,
        batch: u8,
        outcome: Outcome,
        inst: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        if inst != TRAVELLING {
            self.record_zone(inst, batch, outcome, 0, now);
        }
        self.observe_job(seed.service, inst, outcome, 0);
        let rt = &mut self.services[seed.service as usize];
        if batch != UNCOUNTED {
            let b = &mut rt.batches[batch as usize];
            b.arrivals += 1;
            b.rejected += (outcome == Outcome::Rejected) as u64;
            rt.stats.outcomes.add(outcome);
            if T::EXTRAS && rt.per_op {
                self.ops[(rt.first_op + seed.op as u32) as usize].outcomes.add(outcome);
            }
        }
        if let Some(h) = slot {
            self.jobs.free(h);
        }
        if outcome == Outcome::Timeout {
            // Sent into a blackhole: nothing answers; the caller's own timeout ends the wait.
            return Ok(());
        }
        self.send_reply(seed.call, seed.attempt, outcome, inst, now, q)
    }

    /// A queued job gets a worker.
    pub(super) fn start_work(&mut self, job_h: Handle, now: Nanos, q: &mut EventQueue<Event>) {
        let job = self.jobs.get_mut(job_h).expect("live job");
        job.work_started_ns = now;
        let (s, op, inst, arrived_ns, batch) = (job.service as usize, job.op, job.instance, job.arrived_ns, job.batch);
        let (work, mark) = self.work_starts(s, op, inst, arrived_ns, now, batch);
        q.schedule_at(now + work, Event::new(Kind::WorkDone, job_h, mark));
    }

    /// Records a job's wait from `arrived_ns` to `now` at service `s`; draws its work time
    /// (its operation `op`'s), slowed by the CPU stress acting on its instance now and by the
    /// instance's noise (steal, and the pauses it meets), and kept waiting by its collector.
    /// Also the mark its `WorkDone` carries (see `heap.rs`; 0 without memory).
    #[inline]
    pub(super) fn work_starts(
        &mut self,
        s: usize,
        op: u16,
        inst: u32,
        arrived_ns: Nanos,
        now: Nanos,
        batch: u8,
    ) -> (Nanos, u32) {
        self.record_wait(s, arrived_ns, now, batch);
        let rt = &mut self.services[s];
        let work = if !T::EXTRAS || rt.simple {
            rt.work_draws.next(&rt.service_time)
        } else {
            let first_op = rt.first_op;
            op_work(&mut self.ops[(first_op + op as u32) as usize])
        };
        if !T::POLICIES {
            return (work, 0);
        }
        let mut work = work;
        if T::EXTRAS {
            let mut factor = self.faults.slowdown_at(inst, now);
            if self.deploys.is_some() {
                factor *= self.deployed_slowdown(inst, now);
            }
            if factor != 1.0 {
                work = round_ns(work as f64 * factor);
            }
        }
        if let Some(n) = self.noise.as_deref_mut() {
            work = n.work_ns(inst, now, work);
        }
        if T::EXTRAS && self.io.is_some() && self.spec.services[s].io.is_some() {
            work = self.io_phase(s, inst, now, work);
        }
        if T::EXTRAS && !self.memory.is_empty() && self.spec.services[s].memory.is_some() {
            let (wait, mark) = self.heap_work_starts(s, inst, now);
            return (work.saturating_add(wait).min(MAX_DRAW_NS), mark);
        }
        // Noise and IO add to a draw: the sum is kept within the longest draw, so that `now`
        // plus it stays far below the end of time.
        (work.min(MAX_DRAW_NS), 0)
    }

    /// The IO phase after work of `work_ns` started at `now` on global instance `inst` of
    /// service `s`: its IO (a draw, changed by the IO faults acting when it is ready) waits
    /// for the first of the volume's devices to be free, in the order the jobs started work.
    /// Returns the work and the IO together.
    #[inline(never)]
    fn io_phase(&mut self, s: usize, inst: u32, now: Nanos, work_ns: Nanos) -> Nanos {
        let (dist, _) = self.spec.services[s].io.as_ref().expect("a service with io");
        let io = self.io.as_deref_mut().expect("io");
        let io_ns = dist.sample(io.rngs[s].as_mut().expect("a service with io has its stream"));
        let ready = now.saturating_add(work_ns);
        let devices = &mut io.devices[inst as usize];
        let k = (0..devices.len()).min_by_key(|&k| devices[k]).expect("at least one device");
        // The faults act on the IO as the device would begin it: a pause then holds it (and
        // everything queued behind it) to the pause's end.
        let (start, io_ns) = self.faults.io(inst, ready.max(devices[k]), io_ns);
        let end = start.saturating_add(io_ns);
        devices[k] = end;
        end - now
    }

    /// A worker of `instance` (of service `service`), busy since `busy_from_ns`, is free:
    /// its busy time is recorded, and it takes the next queued job, or goes idle. A shedding
    /// service may take the newest job instead (LIFO), and drops the jobs it finds too old
    /// (CoDel) or past their deadline on the way.
    pub(super) fn release_worker(
        &mut self,
        service: u32,
        instance: u32,
        busy_from_ns: Nanos,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let window = self.window;
        let inst = &mut self.instances[instance as usize];
        // The worker's busy time, clipped to the measurement window (the service's busy time
        // is its instances', summed when the run ends).
        let (a, b) = (busy_from_ns.max(window.0), now.min(window.1));
        if b > a {
            inst.busy_ns += (b - a) as u128;
        }
        if T::POLICIES {
            // (What autoscalers measure; the lean tier has none.)
            inst.work_ns = inst.work_ns.saturating_add(now - busy_from_ns);
        }
        if !T::EXTRAS || !self.services[service as usize].sheds {
            match inst.queue.pop_front() {
                Some(next) => self.start_work(next, now, q),
                None => inst.busy -= 1,
            }
            return Ok(());
        }
        self.release_worker_shedding(service, instance, now, q)
    }

    /// `release_worker` for a shedding service: LIFO, CoDel and expired deadlines.
    #[inline(never)]
    pub(super) fn release_worker_shedding(
        &mut self,
        service: u32,
        instance: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let sh = self.services[service as usize].shedding;
        loop {
            let inst = &mut self.instances[instance as usize];
            let standing = !inst.queue.is_empty() && now - inst.last_empty_ns > sh.standing_ns;
            let lifo =
                sh.discipline == QueueDiscipline::Lifo || (sh.discipline == QueueDiscipline::AdaptiveLifo && standing);
            let next = if lifo { inst.queue.pop_back() } else { inst.queue.pop_front() };
            let Some(next) = next else {
                inst.busy -= 1;
                return Ok(());
            };
            if inst.queue.is_empty() {
                inst.last_empty_ns = now;
            }
            let job = *self.jobs.get(next).expect("live job");
            let max_wait_ns = match sh.codel {
                Some(c) if standing => c.target_ns,
                Some(c) => c.interval_ns,
                None => Nanos::MAX,
            };
            if job.deadline_ns <= now {
                self.drop_queued(next, &job, Outcome::Timeout, now, q)?;
            } else if now - job.arrived_ns > max_wait_ns {
                self.drop_queued(next, &job, Outcome::Rejected, now, q)?;
            } else {
                self.start_work(next, now, q);
                return Ok(());
            }
        }
    }

    /// Global instance `inst` crashed at `now`: its queued jobs fail at once, and the callers
    /// of the jobs at work on it (or waiting on their calls) get an error at once, as from a
    /// reset connection. Those jobs make no more calls (their deadline is now), and what they
    /// answer later reaches nobody: the attempt it answers is over. Their work is still
    /// counted when it would have ended.
    #[cold]
    #[inline(never)]
    pub(super) fn crash_jobs(&mut self, crashed: &[u32], now: Nanos, q: &mut EventQueue<Event>) -> Result<(), Halt> {
        let mut hit = vec![false; self.instances.len()];
        for &inst in crashed {
            hit[inst as usize] = true;
            if let Some(m) = self.memory.get_mut(inst as usize) {
                m.restarted(now); // its process starts afresh
            }
            let queued: Vec<Handle> = self.instances[inst as usize].queue.drain(..).collect();
            self.instances[inst as usize].last_empty_ns = now;
            for h in queued {
                let job = *self.jobs.get(h).expect("a queued job is live");
                self.drop_queued(h, &job, Outcome::Error, now, q)?;
            }
        }
        // One pass over the jobs for every instance that crashed at this instant.
        for h in self.jobs.handles_where(|j| hit.get(j.instance as usize).copied().unwrap_or(false)) {
            let Some(job) = self.jobs.get_mut(h) else { continue };
            // It makes no more calls, and answers `error` when its work ends (a leaf's `Ok`
            // would be a lie): its attempt has been answered already.
            job.deadline_ns = job.deadline_ns.min(now);
            job.answer = Outcome::Error;
            let (call, attempt, inst) = (job.call, job.attempt as u32, job.instance);
            self.send_reply(call, attempt, Outcome::Error, inst, now, q)?;
        }
        Ok(())
    }

    /// Global instance `inst` (of service `service`) crashed and restarts, down for
    /// `restart_ns` (a poison pill, an OOM kill, a bad version): the jobs on it fail.
    #[cold]
    #[inline(never)]
    pub(super) fn restart_instance(
        &mut self,
        service: u32,
        inst: u32,
        restart_ns: Nanos,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let rt = &mut self.services[service as usize];
        let local = inst - rt.first_instance;
        if let Some(fleet) = rt.fleet.as_mut() {
            fleet.crash(local, now, restart_ns);
        }
        self.crash_jobs(&[inst], now, q)
    }

    /// A queued job is dropped without being worked on: `Timeout` (its deadline passed) or
    /// `Rejected` (CoDel).
    #[inline(never)]
    pub(super) fn drop_queued(
        &mut self,
        job_h: Handle,
        job: &Job,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        self.jobs.free(job_h);
        let rt = &mut self.services[job.service as usize];
        if let Some(fleet) = &mut rt.fleet {
            fleet.on_answer(job.instance - rt.first_instance, outcome, true, now);
        }
        if rt.shedding.max_in_flight.is_some() {
            self.instances[job.instance as usize].in_system -= 1;
        }
        rt.stats.occupancy.in_system.add(job.arrived_ns, now, self.window);
        rt.stats.occupancy.queued.add(job.arrived_ns, now, self.window);
        self.record_zone(job.instance, job.batch, outcome, now - job.arrived_ns, now);
        self.observe_job(job.service as u32, job.instance, outcome, now - job.arrived_ns);
        let rt = &mut self.services[job.service as usize];
        if job.batch != UNCOUNTED {
            rt.batches[job.batch as usize].rejected += (outcome == Outcome::Rejected) as u64;
            rt.stats.outcomes.add(outcome);
            if T::EXTRAS && rt.per_op {
                self.ops[(rt.first_op + job.op as u32) as usize].outcomes.add(outcome);
            }
        }
        self.send_reply(job.call, job.attempt as u32, outcome, job.instance, now, q)
    }

    pub(super) fn work_done(
        &mut self,
        job_h: Handle,
        mark: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        if T::EXTRAS && !self.memory.is_empty() && self.stopped_by_pauses(job_h, mark, now, q) {
            return Ok(());
        }
        let job = *self.jobs.get(job_h).expect("live job");
        let rt = &mut self.services[job.service as usize];
        if !rt.hold_worker_during_calls {
            self.release_worker(job.service as u32, job.instance, job.work_started_ns, now, q)?;
        }
        let rt = &mut self.services[job.service as usize];
        if T::EXTRAS && rt.error_probability > 0.0 && rt.error_rng.unit() < rt.error_probability {
            return self.reply_from(job_h, JobEnd::of(&job), Outcome::Error, now, q);
        }
        if T::EXTRAS && self.deploys.is_some() && self.deployed_fails(job.instance, now) {
            // The new version fails it after its work.
            return self.reply_from(job_h, JobEnd::of(&job), Outcome::Error, now, q);
        }
        if job.plan_steps == 0 {
            // A leaf: answer now, from the copy already read (`error` if its instance crashed
            // under it: see `crash_jobs`).
            let answer = if T::EXTRAS && job.answer == Outcome::Error { Outcome::Error } else { Outcome::Ok };
            return self.reply_from(job_h, JobEnd::of(&job), answer, now, q);
        }
        match self.advance(job_h, now, q)? {
            Some(answer) => self.reply(job_h, answer, now, q),
            None => Ok(()),
        }
    }

    /// Starts the job's current step; when no step is left (and no call awaited at the end is
    /// out), returns the job's answer for the caller to reply with.
    pub(super) fn advance(
        &mut self,
        job_h: Handle,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<Option<Outcome>, Halt> {
        loop {
            let job = self.jobs.get_mut(job_h).expect("live job");
            if job.step >= job.plan_steps {
                if job.deferred > 0 {
                    return Ok(None); // it replies when its last deferred call ends
                }
                return Ok(Some(job.answer));
            };
            let st = self.steps[(job.plan_first + job.step as u32) as usize];
            let (step, type_id, instance, deadline) = (job.step, job.type_id, job.instance, job.deadline_ns);
            if T::EXTRAS && deadline <= now {
                // Nobody waits for this job's answer any more: it makes no more calls.
                return Ok(Some(Outcome::Error));
            }
            if T::EXTRAS && st.shaped {
                if self.shaped_step(job_h, st, type_id, instance, deadline, now, q)? {
                    continue; // nothing of the step is awaited: the next one
                }
                return Ok(None);
            }
            job.pending = st.end - st.first;
            for spec in st.first..st.end {
                self.new_call(job_h, spec, type_id, (instance, deadline), 0, now, q)?;
                // A call answered inline may have ended the step or failed the job (and replied).
                match self.jobs.get(job_h) {
                    Some(j) if j.step == step => {}
                    _ => break,
                }
            }
            return Ok(None);
        }
    }

    /// Starts a step with a call awaited late or never, repeated or conditional: draws how
    /// many times each call is made, and makes them. The step's count of calls out is held
    /// above zero until every call is out, so that calls answered inline cannot end the step
    /// early. Returns true if nothing of the step is left to wait for (the job moves to its
    /// next step), false if the step waits or the job has already failed and replied.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn shaped_step(
        &mut self,
        job_h: Handle,
        st: super::tables::StepRt,
        type_id: u16,
        instance: u32,
        deadline: Nanos,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, Halt> {
        self.jobs.get_mut(job_h).expect("live job").pending = 1;
        for spec in st.first..st.end {
            let n = self.call_count(spec);
            if n == 0 {
                continue;
            }
            let cs = &self.spec.calls[spec as usize];
            let (wait, parallel) = (cs.wait, cs.repeat.as_ref().is_some_and(|r| r.parallel));
            let (copies, repeats_left) = if parallel { (n, 0) } else { (1, (n - 1) as u16) };
            let job = self.jobs.get_mut(job_h).expect("live job");
            match wait {
                Wait::Step => job.pending += copies,
                Wait::End => job.deferred += copies as u16,
                Wait::Never => {}
            }
            for _ in 0..copies {
                self.new_call(job_h, spec, type_id, (instance, deadline), repeats_left, now, q)?;
                if self.jobs.get(job_h).is_none() {
                    return Ok(false); // a critical call failed at once: the job has replied
                }
            }
        }
        let job = self.jobs.get_mut(job_h).expect("live job");
        job.pending -= 1;
        if job.pending > 0 {
            return Ok(false);
        }
        job.step += 1;
        Ok(true)
    }

    /// How many times this execution makes call `spec`: 0 if its condition fails, else its
    /// repetitions (drawn once per execution).
    #[inline]
    fn call_count(&mut self, spec: u32) -> u32 {
        let cs = &self.spec.calls[spec as usize];
        let rt = &mut self.call_rt[spec as usize];
        if cs.probability < 1.0 && rt.condition_rng.unit() >= cs.probability {
            return 0;
        }
        match &cs.repeat {
            None => 1,
            Some(r) => r.count.sample(rt.repeat_rng.unit()),
        }
    }

    /// Makes call `spec` for job `parent` (of request type `type_id`) and sends its first
    /// attempt; `caller` is the calling instance and the job's deadline, whose policies and
    /// deadline the call takes.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn new_call(
        &mut self,
        parent: Handle,
        spec: u32,
        type_id: u16,
        caller: (u32, Nanos),
        repeats_left: u16,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let plain = !T::POLICIES || self.call_rt[spec as usize].plain;
        let pol = if plain { None } else { Some((self.call_rt[spec as usize].pol(caller.0), caller.1)) };
        let call_h = self.insert_call(parent, spec, type_id, pol, repeats_left, now)?;
        self.start_attempt(call_h, spec, type_id, 1, plain, now, q)
    }

    /// Stores a new call (with its policy state, if it has policies) and returns it; its
    /// first attempt is marked waiting but not sent.
    #[inline(always)]
    pub(super) fn insert_call(
        &mut self,
        parent: Handle,
        spec: u32,
        type_id: u16,
        pol: Option<(Pol, Nanos)>,
        repeats_left: u16,
        now: Nanos,
    ) -> Result<Handle, Halt> {
        let plain = pol.is_none();
        // The request's customer rides with its calls when a topology reads it.
        let customer =
            if T::POLICIES && self.tracks_customers { self.jobs.get(parent).map_or(0, |j| j.customer) } else { 0 };
        let call = Call::of_job(parent, spec, type_id, plain, repeats_left, customer, now);
        let call_h =
            self.calls.insert(call).ok_or_else(|| self.halt(Overload::Jobs { limit: self.spec.max_in_flight_jobs }))?;
        if let Some((pol, deadline)) = pol {
            self.new_ext(call_h, pol, deadline, now);
        }
        Ok(call_h)
    }

    /// The job is over: free its worker if it held one, record it, answer its caller.
    pub(super) fn reply(
        &mut self,
        job_h: Handle,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let job = JobEnd::of(self.jobs.get(job_h).expect("live job"));
        self.reply_from(job_h, job, outcome, now, q)
    }

    /// `reply`, from what was already read of the job. An answer that needs no network time
    /// reaches its call at once; when that finishes the caller's job too, the caller replies
    /// in the same loop (a chain of replies is a loop here, not a recursion).
    pub(super) fn reply_from(
        &mut self,
        mut job_h: Handle,
        mut job: JobEnd,
        mut outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        loop {
            self.finish_job(job_h, &job, outcome, now, q)?;
            let (call, attempt) = (job.call, job.attempt);
            let Some(latency) = self.reply_latency(call, attempt, job.instance, now) else { return Ok(()) };
            if latency > 0 {
                q.schedule_at(now + latency, Event { kind: Kind::Reply, outcome, arg: attempt, handle: call });
                return Ok(());
            }
            let Some((parent, answer)) = self.resolve(call, attempt, outcome, now, q)? else { return Ok(()) };
            (job_h, job, outcome) = (parent, JobEnd::of(self.jobs.get(parent).expect("live job")), answer);
        }
    }

    /// Frees the job, its worker if it held one, and records it.
    #[inline(always)]
    pub(super) fn finish_job(
        &mut self,
        job_h: Handle,
        job: &JobEnd,
        outcome: Outcome,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let (service, instance, counted, arrived_ns) = (job.service, job.instance, job.batch, job.arrived_ns);
        let (work_started_ns, op) = (job.work_started_ns, job.op);
        self.jobs.free(job_h);
        let rt = &mut self.services[service as usize];
        if rt.hold_worker_during_calls {
            self.release_worker(service, instance, work_started_ns, now, q)?;
        }
        let rt = &mut self.services[service as usize];
        if T::EXTRAS && rt.shedding.max_in_flight.is_some() {
            self.instances[instance as usize].in_system -= 1;
        }
        if let Some(fleet) = rt.fleet.as_mut().filter(|_| T::POLICIES) {
            fleet.on_answer(instance - rt.first_instance, outcome, true, now);
        }
        self.record_zone(instance, counted, outcome, now - arrived_ns, now);
        self.observe_job(service, instance, outcome, now - arrived_ns);
        self.record_job(service, op, arrived_ns, counted, outcome, now);
        Ok(())
    }

    /// The network time of an answer to attempt `attempt` of `call` from global instance
    /// `from` (`TRAVELLING`: none took it), or `None` if nobody is waiting for it (the
    /// attempt timed out, or the call is gone).
    #[inline(always)]
    pub(super) fn reply_latency(&mut self, call: Handle, attempt: u32, from: u32, now: Nanos) -> Option<Nanos> {
        let (spec, parent) = match self.calls.get(call) {
            Some(c) if c.outstanding(attempt) => (c.spec, c.parent),
            _ => return None,
        };
        // Network faults on the answering instance, and on the link back to the caller: lost,
        // or later.
        let extra = if T::EXTRAS && from != TRAVELLING {
            if self.faults.is_blackholed(from) {
                return None;
            }
            let bytes = &self.spec.calls[spec as usize].response_bytes;
            let mut extra = self.faults.egress_ns(from, bytes, now)?;
            if self.faults.links_act() {
                if let Some(caller) = self.jobs.get(parent).map(|j| j.instance & !PICKED) {
                    extra = extra.saturating_add(self.faults.link(from, caller, bytes, now)?);
                }
            }
            extra
        } else {
            0
        };
        let latency = if T::POLICIES && self.topo.is_some() && self.spec.calls[spec as usize].latency.is_none() {
            // Placed, and no latency of the call's own: the topology's, by placement.
            let caller = self.caller_zone(parent);
            match from {
                // Refused before any instance took it: as far as the caller's zone.
                TRAVELLING => self.placed_latency_to_zone(spec, caller),
                inst => self.placed_latency(spec, caller, inst),
            }
        } else {
            sample_opt(&self.spec.calls[spec as usize].latency, &mut self.call_rt[spec as usize].network_rng)
        };
        Some(self.with_noise(extra.saturating_add(latency)))
    }

    /// A message's network time `latency_ns` with the network noise on top (if any). A
    /// message that crosses no network (no latency: a client's, unless the topology gives
    /// clients one) stays instantaneous.
    #[inline(always)]
    pub(super) fn with_noise(&mut self, latency_ns: Nanos) -> Nanos {
        match self.noise.as_deref_mut().filter(|n| T::POLICIES && latency_ns > 0 && n.on_the_network()) {
            Some(n) => latency_ns.saturating_add(n.message_ns()),
            None => latency_ns,
        }
    }

    /// `placed_latency` for an answer from no instance (a balancer's refusal): the call's own
    /// latency, else within the caller's zone (or from a client).
    #[inline(never)]
    pub(super) fn placed_latency_to_zone(&mut self, spec: u32, caller: Option<Option<u16>>) -> Nanos {
        let cs = &self.spec.calls[spec as usize];
        let rng = &mut self.call_rt[spec as usize].network_rng;
        let topology = self.spec.topology.as_ref().expect("a topology");
        let dist = match (&cs.latency, caller) {
            (Some(d), _) => Some(d),
            (None, None) => topology.network.client.as_ref(),
            (None, Some(_)) => Some(&topology.network.same_zone),
        };
        dist.map_or(0, |d| d.sample(rng))
    }

    pub(super) fn send_reply(
        &mut self,
        call: Handle,
        attempt: u32,
        outcome: Outcome,
        from: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<(), Halt> {
        let Some(latency) = self.reply_latency(call, attempt, from, now) else { return Ok(()) };
        self.after(latency, Event { kind: Kind::Reply, outcome, arg: attempt, handle: call }, now, q)
    }
}

/// The balancer's pick: shuffle sharding by the customer and attempt, else `Fleet::pick`.
#[inline]
fn shard_or_pick(
    fleet: &mut crate::fleet::Fleet,
    spec: &crate::spec::FleetSpec,
    customer: u32,
    attempt: u32,
) -> Option<u32> {
    if spec.lb == crate::fleet::LbKind::ShuffleShard {
        fleet.pick_for(customer, attempt, spec.shard_size)
    } else {
        fleet.pick()
    }
}

/// The plan of a job of an operation of a service with several or with branches (out of the
/// line of the common case, a service with one plain operation).
#[inline(never)]
fn op_plan(op: &mut super::tables::OpRt, type_id: u16) -> (u32, u16) {
    op.plan(type_id)
}

/// A work time of an operation of a service with several or with branches.
#[inline(never)]
fn op_work(op: &mut super::tables::OpRt) -> Nanos {
    op.work_draws.next(&op.service_time)
}
