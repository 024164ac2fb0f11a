//! The pending-event set: a binary min-heap keyed by (time, insertion sequence).
//!
//! Ties at the same instant break by insertion order (FIFO), so a run is a pure function of
//! the order in which the model schedules events. Push and pop are O(log n); the storage is
//! reused, so a queue that has reached its working size never allocates again. A pop leaves
//! the root vacant, and a handler's first push takes its place: one sift down where a pop
//! and a push would sift twice (a handler almost always schedules something).
//!
//! The heap is written here rather than taken from `std::collections::BinaryHeap` because
//! std's pop swaps the last entry into the root with 8-byte stores and reads it straight back
//! with 16-byte loads, which defeats store-to-load forwarding; on the M/M/c benchmark that one
//! stall was over a quarter of the run time. This heap sifts a "hole" and keeps the moving
//! entry in registers, so no slot is read right after it was written.

use crate::time::Nanos;

#[derive(Clone, Copy)]
struct Entry<E> {
    at_ns: Nanos,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    #[inline]
    fn before(&self, other: &Self) -> bool {
        // One 128-bit comparison, computed in registers (the fields stay two u64s in memory).
        (((self.at_ns as u128) << 64) | self.seq as u128) < (((other.at_ns as u128) << 64) | other.seq as u128)
    }
}

/// Events of type `E` waiting for their time.
pub struct EventQueue<E> {
    heap: Vec<Entry<E>>,
    next_seq: u64,
    now: Nanos,
    /// The root was popped and not yet replaced: the next push takes its place (one sift
    /// down instead of a pop's sift down and a push's sift up), or the next pop removes it.
    hole: bool,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue { heap: Vec::with_capacity(1024), next_seq: 0, now: 0, hole: false }
    }

    /// The time of the event being handled (or of the last one popped).
    #[inline]
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Schedules `event` at absolute time `at_ns`. Scheduling in the past is a model bug.
    /// Always inlined: called out of line, the event went through memory in pieces and was
    /// read back whole, a store-forwarding stall on every schedule.
    #[inline(always)]
    pub fn schedule_at(&mut self, at_ns: Nanos, event: E) {
        debug_assert!(at_ns >= self.now, "event scheduled in the past");
        let entry = Entry { at_ns, seq: self.next_seq, event };
        self.next_seq += 1;
        if self.hole {
            self.hole = false;
            Self::sift_down(self.heap.as_mut_slice(), entry);
            return;
        }
        let mut pos = self.heap.len();
        self.heap.push(entry);
        // A local slice: its length stays in a register, so the indexing below needs no
        // bounds re-checks after each store.
        let heap = self.heap.as_mut_slice();
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !entry.before(&heap[parent]) {
                break;
            }
            heap[pos] = heap[parent];
            pos = parent;
        }
        heap[pos] = entry;
    }

    /// Schedules `event` after `delay_ns` from now.
    #[inline]
    pub fn schedule_in(&mut self, delay_ns: Nanos, event: E) {
        self.schedule_at(self.now.saturating_add(delay_ns), event);
    }

    /// Removes the earliest event and advances `now` to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        if self.is_empty() {
            None
        } else {
            Some(self.pop_earliest())
        }
    }

    /// Removes the earliest event of a non-empty queue and advances `now` to its time.
    /// The run loop uses this after checking `is_empty`: returning the pair bare, not in an
    /// `Option`, lets it be copied as whole words (an `Option` around a 16-byte event took
    /// the event's niche and was copied with overlapping moves that stalled the loop).
    #[inline(always)]
    pub fn pop_earliest(&mut self) -> (Nanos, E) {
        if self.hole {
            self.fill_hole();
        }
        let top = *self.heap.first().expect("pop_earliest on an empty queue");
        self.hole = true;
        self.now = top.at_ns;
        (top.at_ns, top.event)
    }

    /// Removes the vacant root: the last entry takes its place and sifts down.
    #[inline(always)]
    fn fill_hole(&mut self) {
        self.hole = false;
        let last = self.heap.pop().expect("a hole is in a non-empty heap");
        if !self.heap.is_empty() {
            Self::sift_down(self.heap.as_mut_slice(), last);
        }
    }

    /// Puts `entry` in the root's place and sifts it down, moving smaller children up.
    #[inline(always)]
    fn sift_down(heap: &mut [Entry<E>], entry: Entry<E>) {
        let n = heap.len();
        let mut pos = 0;
        loop {
            let mut child = 2 * pos + 1;
            if child >= n {
                break;
            }
            // Branch-free choice of the smaller child: in a small heap this comparison is a
            // coin flip, which a branch predictor gets wrong half the time.
            if child + 1 < n {
                child += heap[child + 1].before(&heap[child]) as usize;
            }
            if !heap[child].before(&entry) {
                break;
            }
            heap[pos] = heap[child];
            pos = child;
        }
        heap[pos] = entry;
    }

    /// Undoes the last `pop_earliest`, with nothing scheduled since: the popped entry still
    /// sits in the vacant root, so it becomes the root again with its own sequence number
    /// (its place among events at its instant is kept) and the clock goes back to `now_ns`.
    /// A run stopped at a time and resumed later handles events in the same order as one
    /// run straight through.
    #[inline]
    pub fn unpop(&mut self, now_ns: Nanos) {
        debug_assert!(self.hole, "unpop right after a pop only");
        self.hole = false;
        self.now = now_ns;
    }

    /// The time of the earliest pending event.
    #[inline]
    pub fn peek_time(&mut self) -> Option<Nanos> {
        if self.hole {
            self.fill_hole();
        }
        self.heap.first().map(|e| e.at_ns)
    }

    pub fn len(&self) -> usize {
        self.heap.len() - self.hole as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn pops_in_time_order_and_ties_in_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule_at(30, "c");
        q.schedule_at(10, "a1");
        q.schedule_at(20, "b");
        q.schedule_at(10, "a2");
        q.schedule_at(10, "a3");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(10, "a1"), (10, "a2"), (10, "a3"), (20, "b"), (30, "c")]);
    }

    #[test]
    fn a_push_after_a_pop_takes_the_root_and_lengths_exclude_it() {
        let mut q = EventQueue::new();
        for (t, e) in [(50, "e"), (10, "a"), (30, "c")] {
            q.schedule_at(t, e);
        }
        assert_eq!(q.pop(), Some((10, "a")));
        assert_eq!(q.len(), 2);
        q.schedule_at(20, "b"); // takes the popped root's place
        q.schedule_at(40, "d");
        assert_eq!(q.peek_time(), Some(20));
        assert_eq!(q.pop(), Some((20, "b")));
        assert_eq!(q.peek_time(), Some(30), "a peek after a pop sees the next event");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(30, "c"), (40, "d"), (50, "e")]);
        assert!(q.is_empty());
        assert_eq!(q.peek_time(), None);
    }

    #[test]
    fn schedule_in_is_relative_to_the_last_pop() {
        let mut q = EventQueue::new();
        q.schedule_at(100, 1);
        assert_eq!(q.pop(), Some((100, 1)));
        q.schedule_in(5, 2);
        assert_eq!(q.peek_time(), Some(105));
        assert_eq!(q.now(), 100);
    }

    #[test]
    fn matches_a_sort_by_time_then_insertion_under_random_interleaving() {
        // Interleave pushes (with many equal times) and pops; the pops must come out exactly
        // as a stable sort by time of what was pushed would order them.
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut q = EventQueue::new();
        let mut pending: Vec<(Nanos, u32)> = Vec::new();
        let mut id = 0u32;
        for _ in 0..20_000 {
            if rng.random_bool(0.55) || pending.is_empty() {
                let at = q.now() + rng.random_range(0..20);
                q.schedule_at(at, id);
                pending.push((at, id));
                id += 1;
            } else {
                let (t, e) = q.pop().unwrap();
                // The expected next: the earliest time, and among those the first pushed.
                let i = (0..pending.len()).min_by_key(|&i| (pending[i].0, pending[i].1)).unwrap();
                assert_eq!((t, e), pending.remove(i));
            }
        }
    }
}
