//! A database writer's failover (catalogue 29, AWS FIS `rds:failover-db-cluster`): at the
//! failover's start the writer goes away (work in flight on it aborts); a replica is promoted
//! and the writer endpoint's DNS record flips to it when the failover completes. A client
//! reaches the writer only through the address it last resolved: its cached record (see
//! `dns`) keeps pointing at the old writer until it expires, so a client is back when the
//! failover is over *and* its record has been refreshed since the flip. Event-free and not
//! yet in the format.

use super::dns::{Clock, DnsCache, Lookup};
use cellsim_sim::Nanos;

/// One failover of a writer endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failover {
    pub start_ns: Nanos,
    /// From the start until the promoted writer takes writes and the record flips to it.
    pub failover_ns: Nanos,
}

impl Failover {
    /// When the endpoint's record names the new writer.
    pub fn flip_ns(&self) -> Nanos {
        self.start_ns.saturating_add(self.failover_ns)
    }

    /// Is the writer at this address up at `now`: the old one before the start, the new one
    /// from the flip?
    pub fn writer_up(&self, new_address: bool, now: Nanos) -> bool {
        if new_address {
            now >= self.flip_ns()
        } else {
            now < self.start_ns
        }
    }
}

/// A client of the endpoint: its DNS cache of the writer's name, and which address its
/// record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterClient {
    cache: DnsCache,
    new_address: bool,
}

impl WriterClient {
    pub fn new(ttl_ns: Nanos) -> WriterClient {
        WriterClient { cache: DnsCache::new(ttl_ns), new_address: false }
    }

    /// A write at `now` by a client with `clock`: resolves the name (from its cache, or
    /// afresh: the old address before the flip, the new one after) and reaches the writer
    /// there, or not.
    pub fn write(&mut self, f: &Failover, clock: &Clock, now: Nanos) -> bool {
        match self.cache.lookup(now, clock, true) {
            Lookup::Cached => {}
            Lookup::Resolved => self.new_address = now >= f.flip_ns(),
            Lookup::Failed => return false,
        }
        f.writer_up(self.new_address, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellsim_sim::NS_PER_S;

    const S: Nanos = NS_PER_S;

    /// A 30 s failover from 100 s; a client writing every second with a 5 s TTL, its
    /// records fetched at 0, 5, 10, ... s: it fails from 100 s; its record fetched at 130 s,
    /// the first after the flip, brings it back at 130 s. Writing at 4, 5, 6, ... s instead,
    /// its records are fetched at 4, 9, ..., 129 s: the one of 129 s still names the old
    /// writer, and it is back only at 134 s: failover plus up to one TTL.
    #[test]
    fn clients_come_back_when_the_failover_is_over_and_their_record_expires() {
        let f = Failover { start_ns: 100 * S, failover_ns: 30 * S };
        let clock = Clock::default();
        let mut c = WriterClient::new(5 * S);
        let ok: Vec<bool> = (0..200).map(|t| c.write(&f, &clock, t * S)).collect();
        assert!(ok[..100].iter().all(|&x| x) && ok[100..130].iter().all(|&x| !x) && ok[130..].iter().all(|&x| x));
        let mut late = WriterClient::new(5 * S);
        let back = (0..200u64).map(|t| (t + 4) * S).find(|&at| late.write(&f, &clock, at) && at >= 100 * S);
        assert_eq!(back, Some(134 * S));
    }
}
