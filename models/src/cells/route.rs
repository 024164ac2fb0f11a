//! A cell router's mapping from customer to cell (reference section 4, "cell-routing",
//! "consistent-hashing" and "Shuffle sharding"): a hash of the customer id onto the cells
//! (the reference's "hash plus modulo", scaled by a multiply and a shift instead of a
//! division: as uniform, and the same on every machine); a table of many logical buckets mapped to cells, whose buckets migrate at set
//! times; shuffle sharding (each customer gets `shard_size` distinct cells, one of the
//! C(n, k) combinations, its attempts going round its shard); and customers pinned to a cell
//! by name. Time is the caller's `now`; nothing here schedules events.

use crate::policy::breaker::{Breaker, BreakerSpec, State};
use cellsim_sim::Nanos;

/// How customers map to cells.
#[derive(Clone, Debug, PartialEq)]
pub enum RouteKind {
    /// `mix(customer)` scaled onto the cells: `mix * cells / 2^64`.
    Hash,
    /// `mix(customer) * buckets / 2^64` picks a bucket; bucket `b` starts in cell `b % cells` and
    /// moves with `migrations` (sorted by time).
    Buckets { buckets: u32, migrations: Vec<Migration> },
    /// Each customer's shard: `shard_size` distinct cells drawn from a stream seeded by the
    /// customer id (uniform over the ordered choices, so every combination is as likely);
    /// attempt `a` goes to member `(a - 1) % shard_size`.
    ShuffleShard { shard_size: u32 },
}

/// Buckets `first..=last` move to cell `to` at `at_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    pub at_ns: Nanos,
    pub first: u32,
    pub last: u32,
    pub to: u16,
}

/// Where the router sends an unhealthy cell's traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unhealthy {
    /// To this cell (the fallback cell, which hashing never picks).
    Fallback(u16),
    /// Over the cells whose breakers are not open, by a hash of the customer (back to its
    /// own cell if none is healthy).
    Spread,
}

/// A router's routing, compiled.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteSpec {
    pub kind: RouteKind,
    /// By cell: the service the routed call goes to there; the routed cells first, then the
    /// fallback cell (if any).
    pub targets: Vec<u32>,
    /// How many of `targets` hashing picks from (the fallback cell is not one).
    pub routed: u32,
    /// Customers pinned to a cell, sorted by customer id.
    pub pinned: Vec<(u32, u16)>,
    /// The router's circuit breaker per routed cell, and where traffic goes while one is
    /// open (`None`: no health signal: every call goes to its customer's cell).
    pub health: Option<(BreakerSpec, Unhealthy)>,
}

impl RouteSpec {
    /// The cells hashing picks from.
    pub fn cells(&self) -> u32 {
        self.routed
    }

    /// The heap a router of this spec holds: its bucket table.
    pub fn heap_bytes(&self) -> u64 {
        let buckets = match &self.kind {
            RouteKind::Buckets { buckets, migrations } => {
                *buckets as u64 * 2 + (migrations.len() * std::mem::size_of::<Migration>()) as u64
            }
            _ => 0,
        };
        let breakers = self
            .health
            .map_or(0, |(b, _)| self.routed as u64 * (std::mem::size_of::<Breaker>() as u64 + b.heap_bytes_at_most()));
        buckets + breakers + (self.targets.len() * 4 + self.pinned.len() * 8) as u64
    }
}

/// A change of a router's view of a cell, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthChange {
    pub at_ns: Nanos,
    /// The route (index into `Spec::routes`) whose breaker changed.
    pub route: u32,
    pub cell: u16,
    /// Its breaker's new state.
    pub state: State,
}

/// A router at run time: the spec and the bucket table as migrations have left it.
#[derive(Clone, Debug)]
pub struct Router {
    spec: RouteSpec,
    /// Buckets: by bucket, its cell now.
    table: Vec<u16>,
    /// The next migration to apply.
    next_migration: usize,
    /// By routed cell, with a health signal: the router's breaker for it, and its state as
    /// last reported.
    breakers: Vec<Breaker>,
    seen: Vec<State>,
    /// Calls sent elsewhere than their customer's cell because its breaker was open.
    pub redirected: u64,
    /// Its index among the scenario's routes (named in the changes it reports).
    id: u32,
}

/// SplitMix64's finalizer: a bijective 64-bit mix, so consecutive customer ids spread
/// uniformly over cells and buckets, the same on every machine and in every version.
#[inline]
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw below `n` from 64 random bits (Lemire's multiply-shift: no division).
#[inline]
fn below(bits: u64, n: u32) -> u32 {
    ((bits as u128 * n as u128) >> 64) as u32
}

impl Router {
    pub fn new(spec: RouteSpec) -> Router {
        Router::numbered(spec, 0)
    }

    /// A router that names itself `id` in the changes it reports.
    pub fn numbered(spec: RouteSpec, id: u32) -> Router {
        let cells = spec.cells().max(1);
        let table = match &spec.kind {
            RouteKind::Buckets { buckets, .. } => (0..*buckets).map(|b| (b % cells) as u16).collect(),
            _ => Vec::new(),
        };
        let breakers = match spec.health {
            Some((b, _)) => (0..spec.routed).map(|_| Breaker::new(b)).collect(),
            None => Vec::new(),
        };
        let seen = vec![State::Closed; breakers.len()];
        Router { spec, table, next_migration: 0, breakers, seen, redirected: 0, id }
    }

    /// Where attempt `attempt` of `customer`'s call goes at `now`: its cell, and whether it
    /// went through that cell's breaker (its result must then be `heard`). A cell whose
    /// breaker refuses sends the attempt to the fallback cell, or spreads it over the
    /// healthy cells. `changes` receives the breakers' changes of state.
    pub fn route(&mut self, customer: u32, attempt: u32, now: Nanos, changes: &mut Vec<HealthChange>) -> (u16, bool) {
        let cell = self.cell(customer, attempt, now);
        let Some((_, unhealthy)) = self.spec.health else { return (cell, false) };
        let permitted = self.breakers[cell as usize].try_acquire(now);
        self.note(cell, now, changes);
        if permitted {
            return (cell, true);
        }
        self.redirected += 1;
        match unhealthy {
            Unhealthy::Fallback(f) => (f, false),
            Unhealthy::Spread => {
                let healthy: Vec<u16> = (0..self.spec.routed as u16)
                    .filter(|&c| c != cell && self.breakers[c as usize].state(now) != State::Open)
                    .collect();
                if healthy.is_empty() {
                    return (cell, false);
                }
                let pick = below(mix(customer as u64 ^ (attempt as u64) << 32), healthy.len() as u32);
                (healthy[pick as usize], false)
            }
        }
    }

    /// An attempt that went through `cell`'s breaker ended at `now` after `duration_ns`.
    pub fn heard(&mut self, cell: u16, now: Nanos, duration_ns: Nanos, failed: bool, changes: &mut Vec<HealthChange>) {
        self.breakers[cell as usize].on_result(now, duration_ns, failed);
        self.note(cell, now, changes);
    }

    /// Reports `cell`'s breaker's state if it changed since last reported (time alone moves
    /// an open breaker to half-open: that change is reported when the router next looks).
    fn note(&mut self, cell: u16, now: Nanos, changes: &mut Vec<HealthChange>) {
        let state = self.breakers[cell as usize].state(now);
        let seen = &mut self.seen[cell as usize];
        if *seen != state {
            *seen = state;
            changes.push(HealthChange { at_ns: now, route: self.id, cell, state });
        }
    }

    /// How many times each routed cell's breaker opened.
    pub fn openings(&self) -> Vec<u64> {
        self.breakers.iter().map(|b| b.opened).collect()
    }

    pub fn spec(&self) -> &RouteSpec {
        &self.spec
    }

    /// The cell that attempt `attempt` (from 1) of `customer`'s request goes to at `now`
    /// (which never goes back).
    pub fn cell(&mut self, customer: u32, attempt: u32, now: Nanos) -> u16 {
        if !self.spec.pinned.is_empty() {
            if let Ok(i) = self.spec.pinned.binary_search_by_key(&customer, |p| p.0) {
                return self.spec.pinned[i].1;
            }
        }
        let cells = self.spec.cells();
        match &self.spec.kind {
            RouteKind::Hash => below(mix(customer as u64), cells) as u16,
            RouteKind::Buckets { buckets, migrations } => {
                while let Some(m) = migrations.get(self.next_migration).filter(|m| m.at_ns <= now) {
                    for b in m.first..=m.last.min(buckets - 1) {
                        self.table[b as usize] = m.to;
                    }
                    self.next_migration += 1;
                }
                self.table[bucket_of(customer, *buckets) as usize]
            }
            RouteKind::ShuffleShard { shard_size } => {
                let k = (*shard_size).min(cells);
                shard_member(customer, cells, k, (attempt.max(1) - 1) % k)
            }
        }
    }

    /// The shard of `customer`: `shard_size` distinct cells, in the order its attempts use
    /// them (shuffle sharding only).
    pub fn shard(&self, customer: u32) -> Vec<u16> {
        match self.spec.kind {
            RouteKind::ShuffleShard { shard_size } => {
                let (n, k) = (self.spec.cells(), shard_size.min(self.spec.cells()));
                (0..k).map(|j| shard_member(customer, n, k, j)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The bucket of `customer` among `buckets`.
#[inline]
pub fn bucket_of(customer: u32, buckets: u32) -> u32 {
    below(mix(customer as u64), buckets)
}

/// The `j`-th member (from 0) of `customer`'s shard of `k` among `n` cells: a partial
/// Fisher-Yates shuffle driven by a stream seeded by the customer id. Member `i` is the
/// `r_i`-th cell not yet chosen, `r_i` uniform below `n - i`, so every ordered choice of `k`
/// distinct cells is equally likely.
pub fn shard_member(customer: u32, n: u32, k: u32, j: u32) -> u16 {
    debug_assert!(j < k && k <= n && k <= MAX_SHARD);
    // The members so far, in ascending order.
    let mut sorted = [0u16; MAX_SHARD as usize];
    let mut state = mix(customer as u64 ^ 0x5348_4152_4400_0000);
    let mut member = 0;
    for i in 0..=j as usize {
        state = mix(state);
        let mut r = below(state, n - i as u32) as u16;
        // The r-th cell not chosen yet: step over the chosen ones at or below it, in order.
        let mut at = 0;
        while at < i && sorted[at] <= r {
            r += 1;
            at += 1;
        }
        sorted.copy_within(at..i, at + 1);
        sorted[at] = r;
        member = r;
    }
    member
}

/// The largest shard size.
pub const MAX_SHARD: u32 = 32;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: RouteKind, cells: u32) -> RouteSpec {
        RouteSpec { kind, targets: (0..cells).collect(), routed: cells, pinned: Vec::new(), health: None }
    }

    /// C(n, k) for small n.
    fn choose(n: u64, k: u64) -> f64 {
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    #[test]
    fn hashing_spreads_customers_evenly_and_stays_put() {
        let mut r = Router::new(spec(RouteKind::Hash, 10));
        let mut counts = [0u32; 10];
        for c in 0..100_000 {
            let cell = r.cell(c, 1, 0);
            assert_eq!(r.cell(c, 2, 5), cell, "a customer's cell does not depend on the attempt or the time");
            counts[cell as usize] += 1;
        }
        // 10,000 each; binomial sd about 95: every count within 5 sd.
        for n in counts {
            assert!((n as i64 - 10_000).abs() < 475, "{counts:?}");
        }
    }

    #[test]
    fn pinned_customers_go_to_their_cell() {
        let mut s = spec(RouteKind::Hash, 4);
        s.pinned = vec![(7, 3), (9, 0)];
        let mut r = Router::new(s);
        assert_eq!((r.cell(7, 1, 0), r.cell(9, 3, 0)), (3, 0));
    }

    #[test]
    fn a_migration_moves_exactly_its_buckets_at_its_time() {
        let m = Migration { at_ns: 100, first: 0, last: 99, to: 3 };
        let mut r = Router::new(spec(RouteKind::Buckets { buckets: 1000, migrations: vec![m] }, 4));
        let before: Vec<u16> = (0..20_000).map(|c| r.cell(c, 1, 99)).collect();
        let after: Vec<u16> = (0..20_000).map(|c| r.cell(c, 1, 100)).collect();
        for c in 0..20_000u32 {
            let b = bucket_of(c, 1000);
            assert_eq!(before[c as usize], (b % 4) as u16, "bucket b starts in cell b % cells");
            let expected = if b <= 99 { 3 } else { (b % 4) as u16 };
            assert_eq!(after[c as usize], expected, "customer {c} in bucket {b}");
        }
    }

    #[test]
    fn shards_are_distinct_cells_and_attempts_go_round_them() {
        let mut r = Router::new(spec(RouteKind::ShuffleShard { shard_size: 3 }, 8));
        for c in 0..1000 {
            let shard = r.shard(c);
            let mut sorted = shard.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 3);
            assert!(shard.iter().all(|&m| m < 8));
            for a in 1..=6 {
                assert_eq!(r.cell(c, a, 0), shard[((a - 1) % 3) as usize]);
            }
        }
    }

    /// Reference section 4: the share of customers whose shard overlaps one given shard in O
    /// members is C(S,O) C(N-S,S-O) / C(N,S); for N = 8, S = 2: 15/28, 12/28, 1/28.
    #[test]
    fn shard_overlaps_follow_the_hypergeometric_law() {
        for (n, s) in [(8u32, 2u32), (10, 3), (16, 4)] {
            let r = Router::new(spec(RouteKind::ShuffleShard { shard_size: s }, n));
            let given: Vec<u16> = r.shard(0);
            let customers = 200_000u32;
            let mut overlaps = vec![0u32; s as usize + 1];
            for c in 1..=customers {
                let o = r.shard(c).iter().filter(|m| given.contains(m)).count();
                overlaps[o] += 1;
            }
            for (o, &count) in overlaps.iter().enumerate() {
                let o = o as u64;
                let p = choose(s as u64, o) * choose((n - s) as u64, s as u64 - o) / choose(n as u64, s as u64);
                let sd = (p * (1.0 - p) / customers as f64).sqrt();
                let got = count as f64 / customers as f64;
                assert!((got - p).abs() < 5.0 * sd + 1e-9, "N={n} S={s} O={o}: {got} against {p}");
            }
        }
    }
}
