//! The hub's handlers for names and clocks: each caller's DNS cache of the services whose
//! names a fault can break (catalogue 24), database failovers seen through those caches
//! (29), clocks skewed by faults (31), and the tokens calls carry. The leaf is `faults::dns`
//! (a failover is a record that names a writer gone since: `FaultState::failovers_by`); this
//! file asks it as attempts are sent and as jobs arrive.

use super::{ServiceModel, PICKED};
use crate::faults::catalogue::DnsAnswer;
use crate::faults::dns::{Clock, DnsCache, Lookup, Token};
use crate::metrics::SeriesSink;
use crate::spec::Spec;
use crate::tier::Tier;
use cellsim_sim::{Handle, Nanos, NS_PER_S};

/// A record's TTL when the service states none.
pub const DEFAULT_TTL_NS: Nanos = 60 * NS_PER_S;

/// What an attempt finds when its caller resolves the callee's name.
pub(super) enum Reach {
    /// The right address: the attempt goes.
    Go,
    /// A wrong address where nothing answers: the attempt is lost.
    Lost,
    /// No address (the lookup failed), one that refuses, or a writer that is gone: the
    /// attempt fails at once with `error`.
    Refused,
}

/// One caller's record of one name: its cache (when fetched, on the caller's clock), and what
/// the fetch got: a wrong address (a DNS fault's), and how many failovers had flipped it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Record {
    cache: DnsCache,
    wrong: Option<DnsAnswer>,
    failovers: u32,
}

/// Every caller's records of the named services.
pub(super) struct NamesRt {
    /// By service: its index among the named ones (`u32::MAX`: its name never breaks).
    named: Vec<u32>,
    /// By caller (global instance, then one per client call spec) and named service.
    records: Vec<Record>,
    /// Global instances: a client call spec `c` is caller `instances + c`.
    instances: u32,
    /// How many services are named: a caller's records are this many in a row.
    per_caller: usize,
}

impl NamesRt {
    /// The names a DNS or failover fault aims at, cached by every instance and client.
    pub(super) fn new(spec: &Spec) -> Option<NamesRt> {
        let (named, ttls) = Self::named(spec)?;
        let instances = spec.instance_count() as u32;
        let callers = instances as usize + spec.calls.len();
        let fresh: Vec<Record> =
            ttls.iter().map(|&ttl| Record { cache: DnsCache::new(ttl), wrong: None, failovers: 0 }).collect();
        let records = (0..callers).flat_map(|_| fresh.iter().copied()).collect();
        Some(NamesRt { named, records, instances, per_caller: ttls.len() })
    }

    /// By service, its index among the named ones, and their TTLs; `None` when the scenario
    /// models no names or clocks.
    fn named(spec: &Spec) -> Option<(Vec<u32>, Vec<Nanos>)> {
        use crate::faults::FaultKind;
        let mut named = vec![u32::MAX; spec.services.len()];
        let mut ttls = Vec::new();
        for f in &spec.faults {
            if let (FaultKind::Dns { .. } | FaultKind::DbFailover, Some(&(s, _))) = (f.kind, f.target.instances.first())
            {
                if named[s as usize] == u32::MAX {
                    named[s as usize] = ttls.len() as u32;
                    ttls.push(spec.services[s as usize].dns_ttl_ns.unwrap_or(DEFAULT_TTL_NS));
                }
            }
        }
        let clocks = spec.faults.iter().any(|f| matches!(f.kind, FaultKind::ClockSkew { .. }));
        (!ttls.is_empty() || clocks).then_some((named, ttls))
    }

    /// What it holds per caller and named service (for the memory estimate).
    pub(super) fn bytes(spec: &Spec) -> u64 {
        NamesRt::named(spec).map_or(0, |(_, ttls)| {
            let callers = spec.instance_count() + spec.calls.len() as u64;
            callers * (ttls.len() * std::mem::size_of::<Record>()) as u64
        })
    }
}

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// The global instance of the job that made call `call_h` (`None`: a client, or a job
    /// that is gone).
    fn caller_instance(&self, call_h: Handle) -> Option<u32> {
        let parent = self.calls.get(call_h)?.parent;
        self.jobs.get(parent).map(|j| j.instance & !PICKED)
    }

    /// A clock read on global instance `inst` (`None`: a client's, which is right).
    fn clock_of(&self, inst: Option<u32>) -> Clock {
        Clock { offset_ns: inst.map_or(0, |i| self.faults.clock_offset_ns(i)), jump: None }
    }

    /// Attempt of call `call_h` (spec `spec`) into `service` is about to be sent at `now`:
    /// its caller resolves the name through its cache (on its own clock), and finds where
    /// the attempt goes.
    #[inline(never)]
    pub(super) fn resolve_name(&mut self, call_h: Handle, spec: u32, service: u32, now: Nanos) -> Reach {
        let Some(names) = self.names.as_deref() else { return Reach::Go };
        let n = names.named[service as usize];
        if n == u32::MAX {
            return Reach::Go;
        }
        let caller = self.caller_instance(call_h);
        let clock = self.clock_of(caller);
        let slot = caller.unwrap_or(names.instances + spec) as usize;
        let per_caller = names.per_caller;
        let answer = self.faults.dns_answer(service);
        let failovers = self.faults.failovers_by(service, now);
        let names = self.names.as_deref_mut().expect("checked");
        let record = &mut names.records[slot * per_caller + n as usize];
        match record.cache.lookup(now, &clock, answer != Some(DnsAnswer::Error)) {
            Lookup::Failed => return Reach::Refused,
            Lookup::Resolved => {
                record.wrong = answer;
                record.failovers = failovers;
            }
            Lookup::Cached => {}
        }
        match record.wrong {
            Some(DnsAnswer::Blackhole) => Reach::Lost,
            Some(_) => Reach::Refused,
            None if record.failovers < failovers => Reach::Refused, // the old writer
            None => Reach::Go,
        }
    }

    /// Does global instance `inst` accept the token of attempt-carrying call `call_h` at
    /// `now`? Issued on the caller's clock as it is sent (the network time is far below any
    /// validity), checked on the callee's.
    #[inline(never)]
    pub(super) fn token_accepted(&self, call_h: Handle, inst: u32, now: Nanos) -> bool {
        let Some(call) = self.calls.get(call_h) else { return true };
        let Some((validity_ns, leeway_ns)) = self.spec.calls[call.spec as usize].token else { return true };
        let issued_local = self.clock_of(self.caller_instance(call_h)).local(now);
        let callee_local = self.clock_of(Some(inst)).local(now);
        Token { issued_local, validity_ns }.accepted(callee_local, leeway_ns)
    }
}
