//! Two counts per second over a trailing window of whole seconds, for policies that compare
//! rates (the SRE retry ratio, adaptive throttling).

use cellsim_sim::{Nanos, NS_PER_S};

#[derive(Clone, Debug)]
pub struct SecondCounts {
    /// Per second of the window (a ring indexed by second % window).
    first: Vec<u32>,
    second: Vec<u32>,
    /// The latest second seen.
    latest: u64,
}

impl SecondCounts {
    pub fn new(window_s: u32) -> SecondCounts {
        let n = window_s.max(1) as usize;
        SecondCounts { first: vec![0; n], second: vec![0; n], latest: 0 }
    }

    /// Moves the window to `now`'s second, clearing the seconds that passed since the last
    /// call; returns `now`'s slot.
    pub fn advance(&mut self, now: Nanos) -> usize {
        let n = self.first.len() as u64;
        let sec = now / NS_PER_S;
        let stale = (sec - self.latest.min(sec)).min(n);
        for k in 0..stale {
            let slot = ((sec - k) % n) as usize;
            self.first[slot] = 0;
            self.second[slot] = 0;
        }
        self.latest = self.latest.max(sec);
        (sec % n) as usize
    }

    /// Counts one of the first (`true`) or second kind at `now`.
    pub fn add(&mut self, now: Nanos, first: bool) {
        let slot = self.advance(now);
        if first {
            self.first[slot] += 1;
        } else {
            self.second[slot] += 1;
        }
    }

    /// The window's totals at `now`: (first, second).
    pub fn totals(&mut self, now: Nanos) -> (u32, u32) {
        self.advance(now);
        (self.first.iter().sum(), self.second.iter().sum())
    }
}
