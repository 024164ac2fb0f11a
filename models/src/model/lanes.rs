//! Timeout lanes: the pending timeouts of one call spec, in deadline order, so that only the
//! earliest of them waits in the event queue. The hub arms them; nothing here schedules.

use super::records::Call;
use cellsim_sim::{Handle, Nanos, Slab};
use std::collections::VecDeque;

/// The pending timeouts of one call spec. Every attempt on a call spec has the same timeout,
/// so deadlines arrive in the order attempts start: a FIFO holds them and only the earliest
/// deadline of an attempt still waiting sits in the event queue. A timeout that never fires
/// (the attempt was answered) costs a push and a pop here, not an event.
///
/// Invariant (asserted in tested builds by `check`): while `pending` is not empty, an event
/// is armed no later than the expiry of its first waiting entry, or the lane is being
/// processed by the hub's `timeout_lane`, which re-arms it.
#[derive(Default)]
pub(super) struct TimeoutLane {
    /// (expiry: the deadline + 1 ns, call, attempt), expiries not decreasing.
    pending: VecDeque<(Nanos, Handle, u32)>,
    /// An event for this lane is in the event queue.
    pub(super) armed: bool,
    /// When the armed event fires (tested builds check the invariant against it).
    #[cfg(debug_assertions)]
    armed_at_ns: Nanos,
}

/// What the lane's head says at `now`.
pub(super) enum Head {
    /// Nothing waits in the lane.
    Empty,
    /// This attempt's timeout is due: it was taken off the lane.
    Due(Handle, u32),
    /// The first attempt still waiting expires then; nothing else is due.
    Later(Nanos),
}

impl TimeoutLane {
    /// Adds the timeout of an attempt that starts now; returns true if the lane must be armed
    /// for it (it was empty and unarmed: a later entry is never the head of a busy lane,
    /// since expiries only grow).
    #[inline]
    pub(super) fn push(&mut self, expiry_ns: Nanos, call: Handle, attempt: u32) -> bool {
        debug_assert!(self.pending.back().is_none_or(|&(last, _, _)| last <= expiry_ns), "expiries grow along a lane");
        let was_empty = self.pending.is_empty();
        self.pending.push_back((expiry_ns, call, attempt));
        was_empty && !self.armed
    }

    /// Drops the entries already answered, up to the first attempt still waiting: it is due
    /// (and is taken off) if its expiry is at or before `now`.
    #[inline]
    pub(super) fn head(&mut self, calls: &Slab<Call>, now: Nanos) -> Head {
        loop {
            let Some(&(expiry, call_h, attempt)) = self.pending.front() else { return Head::Empty };
            if matches!(calls.get(call_h), Some(c) if c.outstanding(attempt)) {
                if expiry > now {
                    return Head::Later(expiry);
                }
                self.pending.pop_front();
                return Head::Due(call_h, attempt);
            }
            self.pending.pop_front();
        }
    }

    /// Records that an event for the lane is now due at `at_ns`.
    #[inline]
    pub(super) fn arm(&mut self, at_ns: Nanos) {
        self.armed = true;
        #[cfg(debug_assertions)]
        {
            self.armed_at_ns = at_ns;
        }
        let _ = at_ns;
    }

    /// Tested builds: the lane's invariant, checked whenever the hub leaves the lane.
    #[inline]
    pub(super) fn check(&self, calls: &Slab<Call>) {
        #[cfg(debug_assertions)]
        if let Some(&(expiry, _, _)) =
            self.pending.iter().find(|(_, c, a)| matches!(calls.get(*c), Some(call) if call.outstanding(*a)))
        {
            assert!(self.armed && self.armed_at_ns <= expiry, "a waiting timeout has no armed event before it");
        }
        let _ = calls;
    }
}
