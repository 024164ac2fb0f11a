//! A bounded arena of records addressed by generational handles.
//!
//! Freed slots are reused (no allocation in steady state), and each reuse bumps the slot's
//! generation, so a handle kept by a late event (a reply to an abandoned call, a timer that
//! lost its race) is recognised as stale instead of reaching the slot's new occupant.
//! The capacity bound is how a model bounds work in flight: `insert` refuses past it.

/// Index plus generation. Generation 0 is never live, so `Handle::NONE` is always stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    pub index: u32,
    pub generation: u32,
}

impl Handle {
    pub const NONE: Handle = Handle { index: u32::MAX, generation: 0 };
}

/// A slot is live while its generation is odd; each insert and each free adds one.
struct Slot<T> {
    generation: u32,
    value: T,
}

pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    live: usize,
    capacity: usize,
}

/// Records are `Copy`: a freed slot keeps its old bytes until reused, and liveness is the
/// generation's parity, so a lookup is one comparison and no `Option` tag is written.
impl<T: Copy> Slab<T> {
    /// A slab that holds at most `capacity` live records.
    pub fn with_capacity_limit(capacity: usize) -> Self {
        Slab { slots: Vec::new(), free: Vec::new(), live: 0, capacity }
    }

    /// Stores `value`; `None` when `capacity` records are already live.
    #[inline]
    pub fn insert(&mut self, value: T) -> Option<Handle> {
        if self.live >= self.capacity {
            return None;
        }
        self.live += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = value;
            return Some(Handle { index, generation: slot.generation });
        }
        let index = self.slots.len() as u32;
        self.slots.push(Slot { generation: 1, value });
        Some(Handle { index, generation: 1 })
    }

    /// The live record `h` names. Handles are only issued with odd (live) generations, so a
    /// match means live; `Handle::NONE` (generation 0) never matches.
    #[inline]
    pub fn get(&self, h: Handle) -> Option<&T> {
        match self.slots.get(h.index as usize) {
            Some(s) if s.generation == h.generation => Some(&s.value),
            _ => None,
        }
    }

    #[inline]
    pub fn get_mut(&mut self, h: Handle) -> Option<&mut T> {
        match self.slots.get_mut(h.index as usize) {
            Some(s) if s.generation == h.generation => Some(&mut s.value),
            _ => None,
        }
    }

    /// Removes and returns the record; later lookups with `h` (or any older handle) fail.
    #[inline]
    pub fn remove(&mut self, h: Handle) -> Option<T> {
        let value = *self.get(h)?;
        self.free(h);
        Some(value)
    }

    /// Frees the record; false if `h` was stale.
    #[inline]
    pub fn free(&mut self, h: Handle) -> bool {
        match self.slots.get_mut(h.index as usize) {
            Some(slot) if slot.generation == h.generation => {
                // Odd to even: dead. After 2^31 reuses the generation wraps through 0, which
                // is even, so `Handle::NONE` stays stale.
                slot.generation = slot.generation.wrapping_add(1);
                self.free.push(h.index);
                self.live -= 1;
                true
            }
            _ => false,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn capacity_limit(&self) -> usize {
        self.capacity
    }

    /// Every live record, in slot order (for checkers: it visits every slot ever used).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter(|s| s.generation % 2 == 1).map(|s| &s.value)
    }

    /// The handles of the live records for which `keep` holds, in slot order (a scan of
    /// every slot ever used: for rare events, such as an instance crashing).
    pub fn handles_where(&self, keep: impl Fn(&T) -> bool) -> Vec<Handle> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.generation % 2 == 1 && keep(&s.value))
            .map(|(i, s)| Handle { index: i as u32, generation: s.generation })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_where_names_the_live_matches() {
        let mut s = Slab::with_capacity_limit(4);
        let a = s.insert(1).unwrap();
        let b = s.insert(2).unwrap();
        let c = s.insert(3).unwrap();
        s.free(b);
        assert_eq!(s.handles_where(|&v| v != 3), vec![a]);
        assert_eq!(s.handles_where(|_| true), vec![a, c]);
    }

    #[test]
    fn stale_handles_miss_after_reuse() {
        let mut s = Slab::with_capacity_limit(4);
        let a = s.insert("a").unwrap();
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b").unwrap();
        assert_eq!(a.index, b.index, "slot is reused");
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.get(Handle::NONE), None);
        assert!(s.free(b));
        assert!(!s.free(b), "a second free of the same handle is refused");
        assert!(s.is_empty());
    }

    #[test]
    fn refuses_past_capacity_and_accepts_after_a_free() {
        let mut s = Slab::with_capacity_limit(2);
        let a = s.insert(1).unwrap();
        s.insert(2).unwrap();
        assert!(s.insert(3).is_none());
        s.remove(a);
        assert!(s.insert(3).is_some());
        assert_eq!(s.len(), 2);
    }
}
