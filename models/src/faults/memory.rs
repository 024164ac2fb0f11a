//! An instance's memory (catalogue 10; a service's `memory`): a heap with a limit, live data
//! that grows with the work in flight and a leak, garbage-collection pauses whose frequency
//! and length grow with occupancy, the OOM kill at the limit, and Kubernetes' restart
//! back-off when kills repeat (CrashLoopBackOff). Event-free: the model asks it as jobs
//! arrive (the OOM killer) and start work (allocation and collections).
//!
//! # The collector
//!
//! Each job allocates `alloc_bytes_per_job` as it starts work. A collection starts when
//! allocation since the last has filled the free heap: with live data `L` under a limit `H`
//! and allocation at `A` bytes a second (the allocation per job times the jobs started a
//! second), collections come every `(H - L) / A` seconds of running. Each stops the world for
//! `P = p0 + k L` (a fixed cost and marking proportional to the live data). The share of time
//! paused is therefore
//!
//! ```text
//! share = P / (P + (H - L) / A)
//! ```
//!
//! which grows without bound as occupancy `L / H` nears 1: the death spiral of a heap that is
//! almost full, before the OOM kill.

use cellsim_sim::{Nanos, NS_PER_S};

/// A heap and what fills it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Heap {
    /// The limit (a container's memory limit, or `-Xmx`).
    pub limit_bytes: f64,
    /// Live data of an idle instance just started.
    pub base_bytes: f64,
    /// Live data each job in flight holds.
    pub per_job_bytes: f64,
    /// Live data that grows and is never freed, per second since the instance started.
    pub leak_bytes_per_s: f64,
    /// Allocation (garbage included) by each job as it starts work (0: no collections).
    pub alloc_bytes_per_job: f64,
    /// A collection's fixed pause, and its pause per byte of live data.
    pub pause_fixed_ns: f64,
    pub pause_ns_per_byte: f64,
    /// How long a killed instance takes to start again (before any back-off).
    pub restart_ns: Nanos,
}

impl Heap {
    /// Live data `up_ns` after the instance started, with `in_flight` jobs.
    pub fn live_bytes(&self, up_ns: Nanos, in_flight: u32) -> f64 {
        self.base_bytes + self.per_job_bytes * in_flight as f64 + self.leak_bytes_per_s * up_ns as f64 / NS_PER_S as f64
    }

    /// Is live data at or over the limit (the OOM killer's verdict)?
    pub fn out_of_memory(&self, live_bytes: f64) -> bool {
        live_bytes >= self.limit_bytes
    }

    /// How long after its start an instance with `in_flight` jobs throughout is killed by its
    /// leak: `(H - base - per_job x jobs) / leak` (`None`: it never is).
    pub fn time_to_oom_ns(&self, in_flight: u32) -> Option<Nanos> {
        let room = self.limit_bytes - self.live_bytes(0, in_flight);
        if room <= 0.0 {
            return Some(0);
        }
        (self.leak_bytes_per_s > 0.0).then(|| (room / self.leak_bytes_per_s * NS_PER_S as f64).round() as Nanos)
    }

    /// The time between collections at live data `live_bytes` with jobs starting at
    /// `jobs_per_s`: `(H - L) / A`, `A` their allocation a second (`None`: nothing allocates).
    pub fn gc_interval_ns(&self, live_bytes: f64, jobs_per_s: f64) -> Option<Nanos> {
        let alloc = self.alloc_bytes_per_job * jobs_per_s;
        let free = (self.limit_bytes - live_bytes).max(0.0);
        (alloc > 0.0).then(|| (free / alloc * NS_PER_S as f64).round() as Nanos)
    }

    /// The free heap a collection leaves at live data `live_bytes`: what allocation may fill
    /// before the next.
    pub fn free_bytes(&self, live_bytes: f64) -> f64 {
        (self.limit_bytes - live_bytes).max(0.0)
    }

    /// One collection's pause at live data `live_bytes`: `p0 + k L`, in whole microseconds,
    /// at most an hour (the compiler bounds both parts).
    pub fn gc_pause_ns(&self, live_bytes: f64) -> Nanos {
        let us = ((self.pause_fixed_ns + self.pause_ns_per_byte * live_bytes) / 1e3).round();
        us.min(3600e6) as Nanos * 1000
    }

    /// The share of time paused at live data `live_bytes` with jobs starting at `jobs_per_s`:
    /// `P / (P + (H - L) / A)`, 1 for a full heap (paused all the time).
    pub fn gc_share(&self, live_bytes: f64, jobs_per_s: f64) -> f64 {
        match self.gc_interval_ns(live_bytes, jobs_per_s) {
            None => 0.0,
            Some(0) => 1.0,
            Some(every) => {
                let pause = self.gc_pause_ns(live_bytes) as f64;
                (pause / (every as f64 + pause)).min(1.0)
            }
        }
    }
}

/// Kubernetes' restart back-off for a container that keeps dying (CrashLoopBackOff, as
/// "Kubernetes in Action", 2nd edition, section 6.2.1, gives it): the first restart at once,
/// then 10 s, doubling (20, 40, 80, 160 s), at most 5 minutes; the delay starts again from
/// zero once a container has run 10 minutes without dying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartBackoff {
    /// Deaths since the last reset.
    deaths: u32,
}

/// CrashLoopBackOff's first delay, its cap, and the run that resets it.
pub const BACKOFF_FIRST_NS: Nanos = 10 * NS_PER_S;
pub const BACKOFF_MAX_NS: Nanos = 300 * NS_PER_S;
pub const BACKOFF_RESET_NS: Nanos = 600 * NS_PER_S;

impl RestartBackoff {
    /// The container died after running `ran_ns`: how long until it starts again.
    pub fn died(&mut self, ran_ns: Nanos) -> Nanos {
        if ran_ns >= BACKOFF_RESET_NS {
            self.deaths = 0;
        }
        self.deaths += 1;
        match self.deaths {
            1 => 0,
            k => BACKOFF_FIRST_NS.saturating_mul(1 << (k - 2).min(20)).min(BACKOFF_MAX_NS),
        }
    }
}

/// One instance's memory as a run goes: when it last started, its collector's state, its
/// restart back-off, and what it did.
#[derive(Clone, Copy, Debug, Default)]
pub struct InstanceMemory {
    /// When it last started (its leak counts from then).
    pub started_ns: Nanos,
    backoff: RestartBackoff,
    /// Allocated since the last collection.
    allocated_bytes: f64,
    /// When the current (or last) pause ends.
    pause_end_ns: Nanos,
    /// Every pause's length so far, in microseconds (wrapping): a job notes it as it starts
    /// work, and the pauses since are the difference (see `paused_since`).
    paused_us: u32,
    pub gc_pauses: u64,
    pub gc_paused_ns: u64,
    pub oom_kills: u64,
}

impl InstanceMemory {
    /// A job starts work at `now` with live data `live_bytes`: how long its work waits (the
    /// rest of a pause in progress, and the collection its allocation starts, if it does),
    /// and the mark to hand to `paused_since` when the work is done.
    pub fn work_starts(&mut self, heap: &Heap, live_bytes: f64, now: Nanos) -> (Nanos, u32) {
        if heap.alloc_bytes_per_job > 0.0 {
            self.allocated_bytes += heap.alloc_bytes_per_job;
            if self.allocated_bytes >= heap.free_bytes(live_bytes) {
                let pause_ns = heap.gc_pause_ns(live_bytes);
                self.pause_end_ns = now.max(self.pause_end_ns).saturating_add(pause_ns);
                self.allocated_bytes = 0.0;
                self.paused_us = self.paused_us.wrapping_add((pause_ns / 1000) as u32);
                self.gc_pauses += 1;
                self.gc_paused_ns = self.gc_paused_ns.saturating_add(pause_ns);
            }
        }
        (self.pause_end_ns.saturating_sub(now), self.paused_us)
    }

    /// The mark of work starting (or resuming) now.
    pub fn mark(&self) -> u32 {
        self.paused_us
    }

    /// How much longer work that started with `mark` takes for the pauses that began while
    /// it was at work (stop the world: each stops it for its whole length).
    pub fn paused_since(&self, mark: u32) -> Nanos {
        self.paused_us.wrapping_sub(mark) as Nanos * 1000
    }

    /// It crashed at `now` for another reason (a fault, a poison pill, a bad version): its
    /// process starts afresh (no leak, nothing allocated, no pause under way). Its leak counts
    /// from the crash, or from the restart an OOM kill already set, whichever is later.
    pub fn restarted(&mut self, now: Nanos) {
        self.started_ns = self.started_ns.max(now);
        self.allocated_bytes = 0.0;
        self.pause_end_ns = self.pause_end_ns.min(now);
    }

    /// The OOM killer killed it at `now`: how long until it runs again (its restart time
    /// and CrashLoopBackOff's delay). It starts afresh then: no leak, nothing allocated.
    pub fn killed(&mut self, heap: &Heap, now: Nanos) -> Nanos {
        let delay = heap.restart_ns.saturating_add(self.backoff.died(now.saturating_sub(self.started_ns)));
        self.started_ns = now.saturating_add(delay);
        self.allocated_bytes = 0.0;
        self.oom_kills += 1;
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1e6;

    fn heap() -> Heap {
        Heap {
            limit_bytes: 512.0 * MB,
            base_bytes: 100.0 * MB,
            per_job_bytes: 1.0 * MB,
            leak_bytes_per_s: 0.5 * MB,
            alloc_bytes_per_job: 1.0 * MB,
            pause_fixed_ns: 2e6,
            pause_ns_per_byte: 0.05,
            restart_ns: 5 * NS_PER_S,
        }
    }

    /// A leak of 0.5 MB/s fills the 512 MB heap from 100 MB idle plus 12 jobs' 12 MB in
    /// (512 - 112) / 0.5 = 800 s.
    #[test]
    fn a_leak_reaches_the_limit_when_the_arithmetic_says() {
        let h = heap();
        assert_eq!(h.time_to_oom_ns(12), Some(800 * NS_PER_S));
        assert!(!h.out_of_memory(h.live_bytes(800 * NS_PER_S - 1, 12)));
        assert!(h.out_of_memory(h.live_bytes(800 * NS_PER_S, 12)));
        assert_eq!(Heap { leak_bytes_per_s: 0.0, ..h }.time_to_oom_ns(12), None);
        assert_eq!(Heap { base_bytes: 600.0 * MB, ..h }.time_to_oom_ns(0), Some(0));
    }

    /// At 300 MB live with 100 jobs a second allocating 1 MB each: a collection every (512 -
    /// 300) / 100 = 2.12 s, each 2 ms + 0.05 ns x 300 MB = 17 ms: 17 / 2137 = 0.7955% of the
    /// time. At 500 MB: every 0.12 s, 27 ms each: 18.4%.
    #[test]
    fn gc_pauses_grow_with_occupancy_as_the_formula_gives() {
        let h = heap();
        assert_eq!(h.gc_interval_ns(300.0 * MB, 100.0), Some(2_120_000_000));
        assert_eq!(h.gc_pause_ns(300.0 * MB), 17_000_000);
        assert!((h.gc_share(300.0 * MB, 100.0) - 17.0 / 2137.0).abs() < 1e-12);
        assert!((h.gc_share(500.0 * MB, 100.0) - 27.0 / 147.0).abs() < 1e-12);
        assert_eq!(h.gc_share(512.0 * MB, 100.0), 1.0, "a full heap collects all the time");
        assert_eq!(h.gc_share(300.0 * MB, 0.0), 0.0, "nothing allocates, nothing collects");
    }

    /// Restarts at once, then 10, 20, 40, 80, 160 s, then 300 s for good; ten minutes up
    /// start it over.
    #[test]
    fn restarts_back_off_as_kubernetes_does() {
        let mut b = RestartBackoff::default();
        let delays: Vec<Nanos> = (0..9).map(|_| b.died(NS_PER_S) / NS_PER_S).collect();
        assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(b.died(BACKOFF_RESET_NS), 0, "ten minutes up: reset, restart at once");
        assert_eq!(b.died(NS_PER_S), BACKOFF_FIRST_NS);
    }

    /// By hand: 1 MB a job into a heap of 10 MB with 4 MB live (6 MB free): the sixth job
    /// starts a collection of 2 ms + 0.05 ns x 4 MB = 2.2 ms and waits for it; a job that
    /// starts 1 ms into it waits 1.2 ms; one that started before it (mark 0) is 2.2 ms later.
    #[test]
    fn a_collection_comes_when_allocation_fills_the_free_heap() {
        let h = Heap { limit_bytes: 10.0 * MB, alloc_bytes_per_job: 1.0 * MB, ..heap() };
        let mut m = InstanceMemory::default();
        let live = 4.0 * MB;
        for k in 0..5 {
            assert_eq!(m.work_starts(&h, live, k * 1000), (0, 0), "job {k}: no collection yet");
        }
        let (wait, mark) = m.work_starts(&h, live, 10_000_000);
        assert_eq!((wait, mark), (2_200_000, 2200));
        assert_eq!(m.work_starts(&h, live, 11_000_000), (1_200_000, 2200));
        assert_eq!(m.paused_since(0), 2_200_000);
        assert_eq!(m.paused_since(mark), 0);
        assert_eq!((m.gc_pauses, m.gc_paused_ns), (1, 2_200_000));
    }

    /// Killed after 100 s up: restart time 5 s and no back-off the first time; killed again
    /// 100 s after that start: 5 s plus 10 s.
    #[test]
    fn a_killed_instance_restarts_after_its_restart_time_and_back_off() {
        let h = heap();
        let mut m = InstanceMemory::default();
        assert_eq!(m.killed(&h, 100 * NS_PER_S), 5 * NS_PER_S);
        assert_eq!(m.started_ns, 105 * NS_PER_S);
        assert_eq!(m.killed(&h, 205 * NS_PER_S), 15 * NS_PER_S);
        assert_eq!(m.oom_kills, 2);
    }
}
