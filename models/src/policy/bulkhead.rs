//! Bulkheads: a cap on the calls in flight to one dependency, with an optional bounded wait
//! for a permit. Resilience4j's semaphore bulkhead (reference 1.1, "Other defaults": 25
//! concurrent calls, `maxWaitDuration` 0) and Envoy's `max_requests` with
//! `max_pending_requests` (1.3): over the cap a call waits, FIFO, if fewer than `max_pending`
//! are waiting (and for at most `max_wait`), else fails at once.

use cellsim_sim::{Handle, Nanos};
use std::collections::VecDeque;

/// One bulkhead's state.
#[derive(Clone, Debug)]
pub struct Bulkhead {
    pub max_concurrent: u32,
    pub max_pending: u32,
    /// `Nanos::MAX`: wait until a permit frees (or the attempt's own timeout).
    pub max_wait_ns: Nanos,
    in_use: u32,
    /// Attempts waiting for a permit: (call, attempt). Entries whose attempt ended while
    /// waiting stay until they reach the head; the model skips them.
    waiting: VecDeque<(Handle, u32)>,
    /// Calls refused so far, and calls that had to wait.
    pub refused: u64,
    pub queued: u64,
}

impl Bulkhead {
    pub fn new(max_concurrent: u32, max_pending: u32, max_wait_ns: Nanos) -> Bulkhead {
        Bulkhead {
            max_concurrent,
            max_pending,
            max_wait_ns,
            in_use: 0,
            waiting: VecDeque::new(),
            refused: 0,
            queued: 0,
        }
    }

    /// Over the cap: queues the attempt if there is room in the wait queue (true), else
    /// counts a refusal (false).
    pub fn try_wait(&mut self, call: Handle, attempt: u32) -> bool {
        if (self.waiting.len() as u32) < self.max_pending {
            self.waiting.push_back((call, attempt));
            self.queued += 1;
            true
        } else {
            self.refused += 1;
            false
        }
    }

    /// The next waiting attempt, with a permit taken for it, if a permit is free and one
    /// waits. (If the attempt turns out to have ended, give the permit back.)
    pub fn next_waiting(&mut self) -> Option<(Handle, u32)> {
        if self.in_use >= self.max_concurrent {
            return None;
        }
        let next = self.waiting.pop_front()?;
        self.in_use += 1;
        Some(next)
    }

    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Takes a permit if one is free and nobody waits for one (waiters go first).
    pub fn try_acquire(&mut self) -> bool {
        if self.in_use < self.max_concurrent && self.waiting.is_empty() {
            self.in_use += 1;
            true
        } else {
            false
        }
    }

    /// Gives back `n` permits.
    pub fn release(&mut self, n: u32) {
        debug_assert!(n <= self.in_use, "released more permits than taken");
        self.in_use -= n.min(self.in_use);
    }

    pub fn in_use(&self) -> u32 {
        self.in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_cap_until_a_permit_comes_back() {
        let mut b = Bulkhead::new(2, 1, Nanos::MAX);
        assert!(b.try_acquire() && b.try_acquire());
        assert!(!b.try_acquire());
        let (h1, h2) = (Handle { index: 1, generation: 1 }, Handle { index: 2, generation: 1 });
        assert!(b.try_wait(h1, 1), "one may wait");
        assert!(!b.try_wait(h2, 1), "max_pending 1");
        assert_eq!((b.in_use(), b.refused, b.queued), (2, 1, 1));
        assert_eq!(b.next_waiting(), None, "no permit free");
        b.release(1);
        assert!(!b.try_acquire(), "a newcomer does not jump the queue");
        assert_eq!(b.next_waiting(), Some((h1, 1)), "the waiter gets the freed permit");
        assert_eq!(b.in_use(), 2);
        b.release(2);
        assert_eq!(b.in_use(), 0);
    }
}
