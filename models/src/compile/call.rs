//! The one builder of a `CallSpec`, for a workload's request and for a service's call alike:
//! the keys both have, and the parts only one of them has, given explicitly.

use super::Checker;
use crate::dist::Dist;
use crate::scenario::{
    BreakerSection, BulkheadSection, CallSection, DistSection, FallbackSection, HedgeSection, RepeatSection,
    RequestSection, RetrySection, ThrottlingSection,
};
use crate::scenario::{CountDist, DistKind, RepeatTable, SizeSection, WaitSection};
use crate::spec::{CallSpec, Count, Repeat, Wait, DEFAULT_MESSAGE_BYTES, MAX_REPEAT};
use crate::units::{Duration, Loc};

/// The keys a workload's `[[workload.request]]` and a `[[service.call]]` share.
pub(super) struct CallKeys<'s> {
    timeout: Option<&'s Loc<Duration>>,
    propagate_deadline: bool,
    token: Option<&'s Loc<crate::scenario::TokenSection>>,
    latency: Option<&'s Loc<DistSection>>,
    retry: Option<&'s Loc<RetrySection>>,
    breaker: Option<&'s Loc<BreakerSection>>,
    hedge: Option<&'s Loc<HedgeSection>>,
    bulkhead: Option<&'s Loc<BulkheadSection>>,
    throttle: Option<&'s Loc<ThrottlingSection>>,
    request_bytes: Option<&'s Loc<SizeSection>>,
    response_bytes: Option<&'s Loc<SizeSection>>,
    /// A router's call into the cells (set by the topology's expansion).
    route: Option<u32>,
}

impl<'s> From<&'s RequestSection> for CallKeys<'s> {
    fn from(r: &'s RequestSection) -> Self {
        CallKeys {
            timeout: r.timeout.as_ref(),
            propagate_deadline: r.propagate_deadline,
            token: r.token.as_ref(),
            latency: r.latency.as_ref(),
            retry: r.retry.as_ref(),
            breaker: r.breaker.as_ref(),
            hedge: r.hedge.as_ref(),
            bulkhead: r.bulkhead.as_ref(),
            throttle: r.adaptive_throttling.as_ref(),
            request_bytes: r.request_bytes.as_ref(),
            response_bytes: r.response_bytes.as_ref(),
            route: None,
        }
    }
}

impl<'s> From<&'s CallSection> for CallKeys<'s> {
    fn from(c: &'s CallSection) -> Self {
        CallKeys {
            timeout: c.timeout.as_ref(),
            propagate_deadline: c.propagate_deadline,
            token: c.token.as_ref(),
            latency: c.latency.as_ref(),
            retry: c.retry.as_ref(),
            breaker: c.breaker.as_ref(),
            hedge: c.hedge.as_ref(),
            bulkhead: c.bulkhead.as_ref(),
            throttle: c.adaptive_throttling.as_ref(),
            request_bytes: c.request_bytes.as_ref(),
            response_bytes: c.response_bytes.as_ref(),
            route: c.route,
        }
    }
}

/// Who makes the call, with the keys only that kind of caller has.
pub(super) enum Caller<'s> {
    /// A workload's request: always critical; it may have an overall deadline.
    Workload { deadline: Option<&'s Loc<Duration>> },
    /// A service's call: it may be non-critical, have a fallback, be awaited late or never,
    /// repeated, or conditional.
    Service {
        /// The calling service and operation.
        from: (u32, u16),
        critical: bool,
        fallback: Option<&'s Loc<FallbackSection>>,
        wait: Option<WaitSection>,
        repeat: Option<&'s Loc<RepeatSection>>,
        probability: Option<&'s Loc<f64>>,
    },
}

impl Checker<'_> {
    /// The call named `name` (which seeds its random streams) to operation `op` of service
    /// `to`, its keys at field path `path`.
    pub(super) fn call(
        &mut self,
        name: String,
        to: u32,
        op: u16,
        path: &str,
        keys: CallKeys,
        caller: Caller,
    ) -> CallSpec {
        let latency = keys.latency.map(|d| self.dist(d, &format!("{path}.latency")));
        let retry = self.retry(keys.retry, path);
        let breaker = keys.breaker.map(|b| self.breaker(b, &format!("{path}.breaker")));
        let hedge = self.hedge(keys.hedge, keys.retry, path);
        let (critical, fallback, deadline) = match caller {
            Caller::Workload { deadline } => (true, None, deadline),
            Caller::Service { critical, fallback, .. } => {
                let fallback = fallback
                    .map(|f| f.value.latency.as_ref().map(|d| self.dist(d, &format!("{path}.fallback.latency"))));
                (critical, fallback, None)
            }
        };
        let from = match caller {
            Caller::Workload { .. } => None,
            Caller::Service { from, .. } => Some(from),
        };
        let (wait, repeat, probability) = match caller {
            Caller::Workload { .. } => (Wait::Step, None, 1.0),
            Caller::Service { wait, repeat, probability, .. } => {
                let wait = match wait.unwrap_or(WaitSection::Step) {
                    WaitSection::Step => Wait::Step,
                    WaitSection::End => Wait::End,
                    WaitSection::Never => Wait::Never,
                };
                (wait, repeat.and_then(|r| self.repeat(r, path)), self.probability(probability, path))
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
        let token = keys.token.map(|t| {
            let validity_ns = t.value.validity.value.ns();
            if validity_ns == 0 {
                self.err(
                    t.value.validity.span.clone(),
                    format!("{path}.token.validity"),
                    "a token's validity must be above 0",
                )
                .hint("token = { validity = \"5m\" }: valid for five minutes from its issue");
            }
            (validity_ns.max(1), t.value.leeway.as_ref().map_or(0, |l| l.value.ns()))
        });
        let request_bytes = self.size(keys.request_bytes, &format!("{path}.request_bytes"));
        let response_bytes = self.size(keys.response_bytes, &format!("{path}.response_bytes"));
        CallSpec {
            name,
            request_bytes,
            response_bytes,
            to,
            op,
            from,
            critical,
            wait,
            probability,
            repeat,
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
            route: keys.route,
            token,
        }
    }
}

impl Checker<'_> {
    /// A message size: bytes, or a distribution of bytes (compiled as a distribution whose
    /// unit is the byte); `DEFAULT_MESSAGE_BYTES` when absent.
    fn size(&mut self, s: Option<&Loc<SizeSection>>, path: &str) -> Dist {
        let Some(s) = s else { return Dist::Constant(DEFAULT_MESSAGE_BYTES) };
        match &s.value {
            SizeSection::Bytes(b) => Dist::Constant(*b),
            SizeSection::Dist(d) => {
                let as_duration = |v: Option<u64>| v.map(Duration);
                let section = DistSection {
                    dist: d.dist,
                    mean: as_duration(d.mean),
                    value: as_duration(d.value),
                    min: as_duration(d.min),
                    max: as_duration(d.max),
                    stddev: None,
                    median: as_duration(d.median),
                    p99: as_duration(d.p99),
                    points: None,
                };
                if matches!(d.dist, DistKind::Normal | DistKind::Empirical) {
                    self.err(
                        s.span.clone(),
                        path,
                        "sizes take dist = \"constant\", \"uniform\", \"exponential\" or \"lognormal\"",
                    )
                    .hint("e.g. request_bytes = { dist = \"lognormal\", median = 800, p99 = 20000 }");
                    return Dist::Constant(DEFAULT_MESSAGE_BYTES);
                }
                self.dist(&Loc { value: section, span: s.span.clone() }, path)
            }
        }
    }

    /// `probability`: above 0, at most 1; default 1.
    fn probability(&mut self, p: Option<&Loc<f64>>, path: &str) -> f64 {
        match p {
            Some(p) if !(p.value > 0.0 && p.value <= 1.0) => {
                let message = format!("probability must be above 0 and at most 1, not {}", p.value);
                self.err(p.span.clone(), format!("{path}.probability"), message)
                    .hint("it is the chance per job that the call is made: 0.2 makes it in one job of five");
                1.0
            }
            Some(p) => p.value,
            None => 1.0,
        }
    }

    /// `repeat`: a count from 1 to `MAX_REPEAT`, or a table with a count or a distribution.
    fn repeat(&mut self, r: &Loc<RepeatSection>, path: &str) -> Option<Repeat> {
        let field = format!("{path}.repeat");
        let (count, parallel) = match &r.value {
            RepeatSection::Count(n) => (Ok(Count::Fixed(*n)), false),
            RepeatSection::Table(t) => (count_of(t), t.parallel),
        };
        let count = match count {
            Ok(c) => c,
            Err(message) => {
                self.err(r.span.clone(), field, message).hint(
                    "e.g. repeat = 9, repeat = { count = 9, parallel = true }, \
                     repeat = { dist = \"uniform\", min = 1, max = 5 }",
                );
                return None;
            }
        };
        if count.max() == 0 || count.max() > MAX_REPEAT {
            let message = format!("a call is repeated from 1 to {MAX_REPEAT} times, not {}", count.max());
            self.err(r.span.clone(), field, message).hint(
                "for a call made only sometimes, use `probability`; counts are at most 1,000 \
                 (a geometric draw above it is capped)",
            );
            return None;
        }
        Some(Repeat { count, parallel })
    }
}

/// The count a `repeat` table gives, or what is wrong with it.
fn count_of(t: &RepeatTable) -> Result<Count, String> {
    let RepeatTable { count, dist, min, max, mean, values, weights, parallel: _ } = t;
    let given = |keys: &[(&str, bool)], allowed: &[&str]| -> Result<(), String> {
        match keys.iter().find(|(k, set)| *set && !allowed.contains(k)) {
            Some((k, _)) => Err(format!("`{k}` does not apply here")),
            None => Ok(()),
        }
    };
    let keys = [
        ("count", count.is_some()),
        ("min", min.is_some()),
        ("max", max.is_some()),
        ("mean", mean.is_some()),
        ("values", values.is_some()),
        ("weights", weights.is_some()),
    ];
    match (count, dist) {
        (Some(_), Some(_)) => Err("give either `count` or `dist`, not both".into()),
        (None, None) => Err("repeat needs `count` or `dist`".into()),
        (Some(n), None) => given(&keys, &["count"]).map(|_| Count::Fixed(*n)),
        (None, Some(CountDist::Uniform)) => {
            given(&keys, &["min", "max"])?;
            match (min, max) {
                (Some(lo), Some(hi)) if lo <= hi => Ok(Count::Uniform { min: *lo, max: *hi }),
                (Some(_), Some(_)) => Err("uniform needs min <= max".into()),
                _ => Err("uniform needs `min` and `max`".into()),
            }
        }
        (None, Some(CountDist::Geometric)) => {
            given(&keys, &["min", "mean"])?;
            let lo = min.unwrap_or(1);
            match mean {
                Some(m) if m.is_finite() && *m > lo as f64 && *m <= MAX_REPEAT as f64 => {
                    Ok(Count::Geometric { min: lo, p: 1.0 / (m - lo as f64 + 1.0) })
                }
                Some(m) => Err(format!("geometric needs a mean above min ({lo}) and at most {MAX_REPEAT}, not {m}")),
                None => Err("geometric needs `mean`".into()),
            }
        }
        (None, Some(CountDist::Empirical)) => {
            given(&keys, &["values", "weights"])?;
            let (Some(values), Some(weights)) = (values, weights) else {
                return Err("empirical needs `values` and `weights`".into());
            };
            if values.is_empty() || values.len() != weights.len() {
                return Err("empirical needs as many weights as values, at least one".into());
            }
            if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || weights.iter().sum::<f64>() <= 0.0 {
                return Err("empirical weights must be zero or positive, not all zero".into());
            }
            let total: f64 = weights.iter().sum();
            let mut acc = 0.0;
            let mut cumulative: Vec<f64> = weights
                .iter()
                .map(|w| {
                    acc += w / total;
                    acc
                })
                .collect();
            *cumulative.last_mut().expect("not empty") = 1.0;
            Ok(Count::Empirical { values: values.clone(), cumulative })
        }
    }
}
