//! The hub's handlers for instances' heaps (a service's `memory`; the leaf is
//! `faults::memory`): the OOM killer as jobs arrive, collections as work starts, and work
//! that a pause stopped ending later. Part of the hub: a kill answers the jobs on the
//! instance, and a stopped job's end is scheduled again.

use super::{control, Event, Halt, Kind, ServiceModel};
use crate::metrics::ControlAction;
use crate::metrics::SeriesSink;
use crate::tier::Tier;
use cellsim_sim::{EventQueue, Handle, Nanos};

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// Live data on global instance `inst` of service `s` at `now` with `more` jobs beyond
    /// those present: the heap's base, the jobs' data, the service's leak and the memory
    /// faults' since the instance last started.
    fn live_bytes(&self, s: usize, inst: u32, now: Nanos, more: u32) -> f64 {
        let heap = self.spec.services[s].memory.as_ref().expect("a service with memory");
        let started_ns = self.memory[inst as usize].started_ns;
        let rt = &self.services[s];
        let present = rt.fleet.as_ref().map_or(self.instances[inst as usize].busy, |f| {
            f.instances[(inst - rt.first_instance) as usize].outstanding
        });
        heap.live_bytes(now.saturating_sub(started_ns), present + more)
            + self.faults.memory_bytes(inst, started_ns, now)
    }

    /// A job is about to be admitted at global instance `inst` of service `s`: if its data
    /// would take the heap to its limit, the OOM killer kills the instance (the jobs on it
    /// fail at once, as in a crash) and it restarts after its restart time and back-off.
    /// `true`: killed (the job is refused with `error`).
    #[cold]
    #[inline(never)]
    pub(super) fn out_of_memory(
        &mut self,
        s: usize,
        inst: u32,
        now: Nanos,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, Halt> {
        let heap = *self.spec.services[s].memory.as_ref().expect("a service with memory");
        let live = self.live_bytes(s, inst, now, 1);
        if !heap.out_of_memory(live) {
            return Ok(false);
        }
        let delay_ns = self.memory[inst as usize].killed(&heap, now);
        let local = inst - self.services[s].first_instance;
        if self.control_actions.len() < control::MAX_ACTIONS {
            self.control_actions.push(ControlAction {
                at_ns: now,
                controller: "oom killer".into(),
                target: format!("{} instance {local}", self.spec.services[s].name),
                what: format!(
                    "kill at {:.0} MB of {:.0} MB; starts again in {}",
                    live / 1e6,
                    heap.limit_bytes / 1e6,
                    cellsim_sim::format_ns(delay_ns)
                ),
            });
        }
        self.restart_instance(s as u32, inst, delay_ns, now, q)?;
        Ok(true)
    }

    /// Work starts at `now` on global instance `inst` of service `s`: how long it waits for
    /// the collector (a pause in progress, or the one its allocation starts), and the mark
    /// its `WorkDone` carries.
    #[inline(never)]
    pub(super) fn heap_work_starts(&mut self, s: usize, inst: u32, now: Nanos) -> (Nanos, u32) {
        let heap = *self.spec.services[s].memory.as_ref().expect("a service with memory");
        let live = self.live_bytes(s, inst, now, 0);
        self.memory[inst as usize].work_starts(&heap, live, now)
    }

    /// A job's work would be done now, but collections stopped it since it started (its
    /// `mark`): `true` when its end has been moved by their length (a new `WorkDone`).
    #[inline(never)]
    pub(super) fn stopped_by_pauses(&mut self, h: Handle, mark: u32, now: Nanos, q: &mut EventQueue<Event>) -> bool {
        let inst = self.jobs.get(h).expect("live job").instance;
        let m = &self.memory[inst as usize];
        let extra = m.paused_since(mark);
        if extra == 0 {
            return false;
        }
        q.schedule_at(now + extra, Event::new(Kind::WorkDone, h, m.mark()));
        true
    }
}
