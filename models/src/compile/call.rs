//! The one builder of a `CallSpec`, for a workload's request and for a service's call alike:
//! the keys both have, and the parts only one of them has, given explicitly.

use super::Checker;
use crate::scenario::{
    BreakerSection, BulkheadSection, CallSection, DistSection, FallbackSection, HedgeSection, RequestSection,
    RetrySection, ThrottlingSection,
};
use crate::spec::CallSpec;
use crate::units::{Duration, Loc};

/// The keys a workload's `[[workload.request]]` and a `[[service.call]]` share.
pub(super) struct CallKeys<'s> {
    timeout: Option<&'s Loc<Duration>>,
    propagate_deadline: bool,
    latency: Option<&'s Loc<DistSection>>,
    retry: Option<&'s Loc<RetrySection>>,
    breaker: Option<&'s Loc<BreakerSection>>,
    hedge: Option<&'s Loc<HedgeSection>>,
    bulkhead: Option<&'s Loc<BulkheadSection>>,
    throttle: Option<&'s Loc<ThrottlingSection>>,
}

impl<'s> From<&'s RequestSection> for CallKeys<'s> {
    fn from(r: &'s RequestSection) -> Self {
        CallKeys {
            timeout: r.timeout.as_ref(),
            propagate_deadline: r.propagate_deadline,
            latency: r.latency.as_ref(),
            retry: r.retry.as_ref(),
            breaker: r.breaker.as_ref(),
            hedge: r.hedge.as_ref(),
            bulkhead: r.bulkhead.as_ref(),
            throttle: r.adaptive_throttling.as_ref(),
        }
    }
}

impl<'s> From<&'s CallSection> for CallKeys<'s> {
    fn from(c: &'s CallSection) -> Self {
        CallKeys {
            timeout: c.timeout.as_ref(),
            propagate_deadline: c.propagate_deadline,
            latency: c.latency.as_ref(),
            retry: c.retry.as_ref(),
            breaker: c.breaker.as_ref(),
            hedge: c.hedge.as_ref(),
            bulkhead: c.bulkhead.as_ref(),
            throttle: c.adaptive_throttling.as_ref(),
        }
    }
}

/// Who makes the call, with the keys only that kind of caller has.
pub(super) enum Caller<'s> {
    /// A workload's request: always critical; it may have an overall deadline.
    Workload { deadline: Option<&'s Loc<Duration>> },
    /// A service's call: it may be non-critical and may have a fallback.
    Service { critical: bool, fallback: Option<&'s Loc<FallbackSection>> },
}

impl Checker<'_> {
    /// The call named `name` (which seeds its random streams) to service `to`, its keys at
    /// field path `path`.
    pub(super) fn call(&mut self, name: String, to: u32, path: &str, keys: CallKeys, caller: Caller) -> CallSpec {
        let latency = keys.latency.map(|d| self.dist(d, &format!("{path}.latency")));
        let retry = self.retry(keys.retry, path);
        let breaker = keys.breaker.map(|b| self.breaker(b, &format!("{path}.breaker")));
        let hedge = self.hedge(keys.hedge, keys.retry, path);
        let (critical, fallback, deadline) = match caller {
            Caller::Workload { deadline } => (true, None, deadline),
            Caller::Service { critical, fallback } => {
                let fallback = fallback
                    .map(|f| f.value.latency.as_ref().map(|d| self.dist(d, &format!("{path}.fallback.latency"))));
                (critical, fallback, None)
            }
        };
        let bulkhead = self.bulkhead(keys.bulkhead, path);
        let throttle = self.throttle(keys.throttle, path);
        let timeout_ns = match keys.timeout {
            Some(t) if t.value.ns() == 0 => {
                self.err(t.span.clone(), format!("{path}.timeout"), "a timeout must be above 0")
                    .hint("every attempt would time out at once; leave `timeout` out for no timeout");
                0
            }
            Some(t) => t.value.ns(),
            None => 0,
        };
        let deadline_ns = match deadline {
            Some(d) if d.value.ns() == 0 => {
                self.err(d.span.clone(), format!("{path}.deadline"), "a deadline must be above 0");
                0
            }
            Some(d) => d.value.ns(),
            None => 0,
        };
        CallSpec {
            name,
            to,
            critical,
            timeout_ns,
            latency,
            retry,
            breaker,
            hedge,
            fallback,
            bulkhead,
            throttle,
            deadline_ns,
            propagate_deadline: keys.propagate_deadline,
        }
    }
}
