//! Names and clocks (catalogue 24 and 31): a caller's DNS cache with a TTL, resolution that
//! can fail, per-instance clocks with an offset that can jump, and tokens with a validity
//! window checked against the callee's clock. Event-free and not yet in the format: the
//! model will ask it when a caller sends (lookup) and when a callee admits (token).
//!
//! Every expiry is measured on the clock of whoever holds the record: a record fetched at
//! local time `f` is fresh while local time is in `[f, f + ttl)`. A clock that jumps forward
//! by `J` during a record's life ages it by `J` at once, so it expires `J` earlier in real
//! time (catalogue 31: "TTL expiry early/late"); a jump back keeps it longer.

use cellsim_sim::Nanos;

/// A clock: real time plus an offset, and a jump of the offset at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    pub offset_ns: i64,
    /// From this real time on, the offset grows by this much (negative: back).
    pub jump: Option<(Nanos, i64)>,
}

impl Clock {
    /// The clock's reading at real time `now`.
    pub fn local(&self, now: Nanos) -> i128 {
        let jump = match self.jump {
            Some((at, by)) if now >= at => by,
            _ => 0,
        };
        now as i128 + self.offset_ns as i128 + jump as i128
    }
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The cached record was still fresh.
    Cached,
    /// The record had expired (or there was none) and the resolver answered.
    Resolved,
    /// The record had expired and the resolver failed: the call cannot be made.
    Failed,
}

/// One caller's cache of one name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsCache {
    pub ttl_ns: Nanos,
    /// When the record was fetched, on the holder's clock (`None`: nothing cached).
    fetched_local: Option<i128>,
}

impl DnsCache {
    pub fn new(ttl_ns: Nanos) -> DnsCache {
        DnsCache { ttl_ns, fetched_local: None }
    }

    /// A lookup at real time `now` by a holder with `clock`, the resolver up or not: a fresh
    /// record answers; otherwise the resolver, whose answer is cached from now.
    pub fn lookup(&mut self, now: Nanos, clock: &Clock, resolver_up: bool) -> Lookup {
        let local = clock.local(now);
        if let Some(f) = self.fetched_local {
            // A clock set back before the fetch keeps the record (it looks younger).
            if local < f + self.ttl_ns as i128 {
                return Lookup::Cached;
            }
        }
        if resolver_up {
            self.fetched_local = Some(local);
            Lookup::Resolved
        } else {
            Lookup::Failed
        }
    }
}

/// A token issued at `issued_local` on the issuer's clock, valid for `validity_ns` (a JWT's
/// `iat`/`nbf` and `exp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub issued_local: i128,
    pub validity_ns: Nanos,
}

impl Token {
    /// Does a callee whose clock reads `callee_local` accept it, allowing `leeway_ns` of skew
    /// either way (as JWT libraries allow clock skew)?
    pub fn accepted(&self, callee_local: i128, leeway_ns: Nanos) -> bool {
        let leeway = leeway_ns as i128;
        callee_local >= self.issued_local - leeway
            && callee_local < self.issued_local + self.validity_ns as i128 + leeway
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellsim_sim::NS_PER_S;

    const S: Nanos = NS_PER_S;

    /// A 30 s TTL, fetched at 0: cached until 30 s; the resolver down from 10 s: the caller
    /// keeps working until its record expires at 30 s, then fails.
    #[test]
    fn cached_records_work_until_their_ttl_then_fail() {
        let clock = Clock::default();
        let mut c = DnsCache::new(30 * S);
        assert_eq!(c.lookup(0, &clock, true), Lookup::Resolved);
        assert_eq!(c.lookup(10 * S, &clock, false), Lookup::Cached);
        assert_eq!(c.lookup(30 * S - 1, &clock, false), Lookup::Cached);
        assert_eq!(c.lookup(30 * S, &clock, false), Lookup::Failed);
        assert_eq!(c.lookup(40 * S, &clock, true), Lookup::Resolved, "the resolver back: fetched at 40 s");
        assert_eq!(c.lookup(69 * S, &clock, false), Lookup::Cached);
    }

    /// The holder's clock jumps 20 s forward at 5 s: the record fetched at 0 expires at 10 s
    /// of real time, 20 s earlier; a jump back keeps it 20 s longer.
    #[test]
    fn a_clock_jump_moves_the_expiry_by_the_jump() {
        let forward = Clock { offset_ns: 0, jump: Some((5 * S, 20 * S as i64)) };
        let mut c = DnsCache::new(30 * S);
        c.lookup(0, &forward, true);
        assert_eq!(c.lookup(10 * S - 1, &forward, false), Lookup::Cached);
        assert_eq!(c.lookup(10 * S, &forward, false), Lookup::Failed);
        let back = Clock { offset_ns: 0, jump: Some((5 * S, -(20 * S as i64))) };
        let mut c = DnsCache::new(30 * S);
        c.lookup(0, &back, true);
        assert_eq!(c.lookup(50 * S - 1, &back, false), Lookup::Cached);
        assert_eq!(c.lookup(50 * S, &back, false), Lookup::Failed);
    }

    /// A 60 s token issued at the caller's 100 s: a callee with the same clock accepts it
    /// until 160 s; one 90 s ahead reads 190 s at once and rejects it; with 30 s of leeway a
    /// callee 80 s ahead still accepts it for 10 s; one 10 s behind sees it as not yet valid
    /// unless it allows that much leeway.
    #[test]
    fn a_callee_skewed_past_the_window_rejects_tokens() {
        let caller = Clock::default();
        let token = Token { issued_local: caller.local(100 * S), validity_ns: 60 * S };
        let same = Clock::default();
        assert!(token.accepted(same.local(159 * S), 0) && !token.accepted(same.local(160 * S), 0));
        let ahead = Clock { offset_ns: 90 * S as i64, jump: None };
        assert!(!token.accepted(ahead.local(100 * S), 0));
        let ahead80 = Clock { offset_ns: 80 * S as i64, jump: None };
        assert!(token.accepted(ahead80.local(109 * S), 30 * S) && !token.accepted(ahead80.local(110 * S), 30 * S));
        let behind = Clock { offset_ns: -(10 * S as i64), jump: None };
        assert!(!token.accepted(behind.local(100 * S), 0) && token.accepted(behind.local(100 * S), 10 * S));
    }
}
