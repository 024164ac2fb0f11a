//! Bulkheads: a cap on the calls in flight to one dependency. Resilience4j's semaphore
//! bulkhead with its default `maxWaitDuration = 0` (reference 1.1, "Other defaults": 25
//! concurrent calls), and Envoy's `max_requests` (1.3): a call over the cap fails at once.

/// One bulkhead's state.
#[derive(Clone, Debug)]
pub struct Bulkhead {
    pub max_concurrent: u32,
    in_use: u32,
    /// Calls refused so far.
    pub refused: u64,
}

impl Bulkhead {
    pub fn new(max_concurrent: u32) -> Bulkhead {
        Bulkhead { max_concurrent, in_use: 0, refused: 0 }
    }

    /// Takes a permit if one is free; counts a refusal if not.
    pub fn try_acquire(&mut self) -> bool {
        if self.in_use < self.max_concurrent {
            self.in_use += 1;
            true
        } else {
            self.refused += 1;
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
        let mut b = Bulkhead::new(2);
        assert!(b.try_acquire() && b.try_acquire());
        assert!(!b.try_acquire());
        assert_eq!((b.in_use(), b.refused), (2, 1));
        b.release(1);
        assert!(b.try_acquire());
        b.release(2);
        assert_eq!(b.in_use(), 0);
    }
}
