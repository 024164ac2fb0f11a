//! A call's policies: retry and its budget, circuit breaker, hedging, adaptive throttling
//! and bulkhead; and the checked numbers they share (`number_in`, `whole_seconds`).

use super::Checker;
use crate::outcome::Outcome;
use crate::scenario::{
    BackoffKind, BreakerKind, BreakerSection, BudgetKind, BudgetSection, BulkheadSection, HedgeSection, RetryOn,
    RetrySection, Scope, SlidingWindow, ThrottlingSection,
};
use crate::spec::*;
use crate::units::{Duration, Loc};
use cellsim_sim::{Nanos, NS_PER_S};

/// A breaker's numeric keys of both kinds, checked, with defaults filled in.
struct BreakerNumbers {
    failure_rate_threshold: f64,
    slow_call_rate_threshold: f64,
    error_threshold: f64,
    window_size: u32,
    minimum_calls: u32,
    half_open_permits: u32,
    wait_open_ns: Nanos,
    wait_multiplier: f64,
    window_s: u32,
    snapshot_interval_ns: Nanos,
}

impl Checker<'_> {
    pub(super) fn retry(&mut self, r: Option<&Loc<RetrySection>>, path: &str) -> RetrySpec {
        let Some(r) = r else { return RetrySpec::ONCE };
        let max_attempts = match &r.value.max_attempts {
            Some(m) if m.value == 0 || m.value > 100 => {
                let message = format!("max_attempts must be from 1 to 100, not {}", m.value);
                self.err(m.span.clone(), format!("{path}.retry.max_attempts"), message)
                    .hint("max_attempts counts the first attempt: 3 means two retries");
                1
            }
            Some(m) => m.value,
            None => 1,
        };
        let multiplier = self.number_in(
            &r.value.multiplier,
            format!("{path}.retry.multiplier"),
            (1.0, 100.0),
            2.0,
            Some("2 doubles the backoff ceiling at each retry"),
        );
        let retry_on = match &r.value.retry_on {
            Some(list) => list.iter().fold(0u8, |mask, o| {
                mask | 1
                    << match o {
                        RetryOn::Timeout => Outcome::Timeout,
                        RetryOn::Error => Outcome::Error,
                        RetryOn::Rejected => Outcome::Rejected,
                        RetryOn::Refused => Outcome::Refused,
                    } as u8
            }),
            None => RetrySpec::RETRY_ALL,
        };
        let budget = r.value.budget.as_ref().map(|b| Scoped {
            spec: self.budget(&b.value, &format!("{path}.retry.budget")),
            scope: b.value.scope.unwrap_or(Scope::Instance),
        });
        RetrySpec {
            max_attempts,
            backoff: Backoff {
                kind: r.value.backoff.unwrap_or(BackoffKind::None),
                base_ns: r.value.base.map_or(0, Duration::ns),
                cap_ns: r.value.cap.map_or(20 * NS_PER_S, Duration::ns),
                multiplier,
            },
            retry_on,
            budget,
        }
    }

    /// A retry budget's parameters, each checked against its range (reference 1.3, 2.1,
    /// 2.4, 2.5 for the defaults).
    fn budget(&mut self, b: &BudgetSection, path: &str) -> BudgetSpec {
        let mut check = |v: &Option<Loc<f64>>, key: &str, ok: fn(f64) -> bool, range: &str, default: f64| match v {
            Some(x) if !ok(x.value) => {
                self.err(x.span.clone(), format!("{path}.{key}"), format!("{key} must be {range}, not {}", x.value));
                default
            }
            Some(x) => x.value,
            None => default,
        };
        match b.kind {
            BudgetKind::AwsStandard | BudgetKind::AwsStandard2026 => {
                let mut spec = if b.kind == BudgetKind::AwsStandard {
                    BudgetSpec::AWS_STANDARD
                } else {
                    BudgetSpec::AWS_STANDARD_2026
                };
                if let (BudgetSpec::Aws { capacity, .. }, Some(c)) = (&mut spec, &b.capacity) {
                    *capacity = c.value;
                }
                spec
            }
            BudgetKind::Grpc => {
                let max =
                    check(&b.max_tokens, "max_tokens", |x| x > 0.0 && x <= 1000.0, "above 0 and at most 1000", 10.0);
                let ratio = check(&b.token_ratio, "token_ratio", |x| x > 0.0 && x <= 1000.0, "above 0", 0.1);
                // gRPC keeps three decimals of both.
                BudgetSpec::Grpc {
                    max_milli: (max * 1000.0).round() as i64,
                    ratio_milli: (ratio * 1000.0).round() as i64,
                }
            }
            BudgetKind::Envoy => BudgetSpec::Envoy {
                percent: check(&b.percent, "percent", |x| (0.0..=100.0).contains(&x), "from 0 to 100", 20.0),
                min_concurrency: b.min_concurrency.unwrap_or(3),
            },
            BudgetKind::SreRatio => {
                let ratio = check(&b.ratio, "ratio", |x| x > 0.0 && x <= 1000.0, "above 0", 0.1);
                let window_s = self.whole_seconds(&b.window, format!("{path}.window"), 60);
                BudgetSpec::Ratio { ratio, window_s }
            }
        }
    }

    /// A circuit breaker's parameters, each checked against the range its library accepts
    /// (reference 1.1 for Resilience4j's validation, 1.2 for Hystrix's defaults).
    pub(super) fn breaker(&mut self, b: &Loc<BreakerSection>, path: &str) -> Scoped<BreakerSpec> {
        let scope = b.value.scope.unwrap_or(Scope::Instance);
        self.breaker_foreign_keys(b, path);
        let b = &b.value;
        let n = self.breaker_numbers(b, path);
        let spec = match b.kind {
            BreakerKind::Resilience4j => BreakerSpec::Resilience4j(self.resilience4j(b, path, &n)),
            BreakerKind::Hystrix => BreakerSpec::Hystrix(HystrixSpec {
                window_s: n.window_s,
                request_volume_threshold: b.request_volume_threshold.unwrap_or(20),
                error_threshold: n.error_threshold,
                sleep_window_ns: b.sleep_window.map_or(5 * NS_PER_S, Duration::ns),
                snapshot_interval_ns: n.snapshot_interval_ns,
            }),
        };
        Scoped { spec, scope }
    }

    /// An error for each key that belongs to the other kind of breaker.
    fn breaker_foreign_keys(&mut self, b: &Loc<BreakerSection>, path: &str) {
        let b_span = b.span.clone();
        let b = &b.value;
        let other_kind: &[(bool, &str)] = match b.kind {
            BreakerKind::Resilience4j => &[
                (b.rolling_window.is_some(), "rolling_window"),
                (b.request_volume_threshold.is_some(), "request_volume_threshold"),
                (b.error_threshold.is_some(), "error_threshold"),
                (b.sleep_window.is_some(), "sleep_window"),
                (b.snapshot_interval.is_some(), "snapshot_interval"),
            ],
            BreakerKind::Hystrix => &[
                (b.failure_rate_threshold.is_some(), "failure_rate_threshold"),
                (b.slow_call_rate_threshold.is_some(), "slow_call_rate_threshold"),
                (b.slow_call_duration.is_some(), "slow_call_duration"),
                (b.sliding_window.is_some(), "sliding_window"),
                (b.window_size.is_some(), "window_size"),
                (b.minimum_calls.is_some(), "minimum_calls"),
                (b.wait_in_open.is_some(), "wait_in_open"),
                (b.wait_multiplier.is_some(), "wait_multiplier"),
                (b.max_wait_in_open.is_some(), "max_wait_in_open"),
                (b.half_open_permits.is_some(), "half_open_permits"),
                (b.max_wait_in_half_open.is_some(), "max_wait_in_half_open"),
                (b.automatic_transition.is_some(), "automatic_transition"),
            ],
        };
        let (this, other) = match b.kind {
            BreakerKind::Resilience4j => ("resilience4j", "hystrix"),
            BreakerKind::Hystrix => ("hystrix", "resilience4j"),
        };
        for (_, key) in other_kind.iter().filter(|(present, _)| *present) {
            self.err(
                b_span.clone(),
                format!("{path}.{key}"),
                format!("`{key}` is a {other} setting; this breaker is {this}"),
            )
            .hint("docs/scenario-format.md lists each kind's settings");
        }
    }

    /// A breaker percentage, above 0 and at most 100.
    fn percent(&mut self, v: &Option<Loc<f64>>, path: &str, key: &str, default: f64) -> f64 {
        match v {
            Some(x) if !(x.value > 0.0 && x.value <= 100.0) => {
                let message = format!("{key} must be above 0 and at most 100 (percent), not {}", x.value);
                self.err(x.span.clone(), format!("{path}.{key}"), message);
                default
            }
            Some(x) => x.value,
            None => default,
        }
    }

    /// A breaker count of at least `min`.
    fn at_least(&mut self, v: &Option<Loc<u32>>, path: &str, key: &str, min: u32, default: u32) -> u32 {
        match v {
            Some(x) if x.value < min => {
                self.err(x.span.clone(), format!("{path}.{key}"), format!("{key} must be at least {min}"));
                default
            }
            Some(x) => x.value,
            None => default,
        }
    }

    /// Every numeric breaker key of either kind, checked (a key of the other kind has already
    /// been reported, and is checked too).
    fn breaker_numbers(&mut self, b: &BreakerSection, path: &str) -> BreakerNumbers {
        let failure_rate_threshold = self.percent(&b.failure_rate_threshold, path, "failure_rate_threshold", 50.0);
        let slow_call_rate_threshold =
            self.percent(&b.slow_call_rate_threshold, path, "slow_call_rate_threshold", 100.0);
        let error_threshold = self.percent(&b.error_threshold, path, "error_threshold", 50.0);
        let window_size = self.at_least(&b.window_size, path, "window_size", 1, 100);
        let minimum_calls = self.at_least(&b.minimum_calls, path, "minimum_calls", 1, 100);
        let half_open_permits = self.at_least(&b.half_open_permits, path, "half_open_permits", 1, 10);
        let ms = NS_PER_S / 1000;
        let wait_open_ns = match &b.wait_in_open {
            Some(w) if w.value.ns() < ms => {
                self.err(w.span.clone(), format!("{path}.wait_in_open"), "wait_in_open must be at least 1ms");
                60 * NS_PER_S
            }
            Some(w) => w.value.ns(),
            None => 60 * NS_PER_S,
        };
        let wait_multiplier =
            self.number_in(&b.wait_multiplier, format!("{path}.wait_multiplier"), (1.0, 100.0), 1.0, None);
        let window_s = self.whole_seconds(&b.rolling_window, format!("{path}.rolling_window"), 10);
        let snapshot_interval_ns = match &b.snapshot_interval {
            Some(w) if w.value.ns() == 0 => {
                self.err(w.span.clone(), format!("{path}.snapshot_interval"), "snapshot_interval must be above 0");
                500 * ms
            }
            Some(w) => w.value.ns(),
            None => 500 * ms,
        };
        BreakerNumbers {
            failure_rate_threshold,
            slow_call_rate_threshold,
            error_threshold,
            window_size,
            minimum_calls,
            half_open_permits,
            wait_open_ns,
            wait_multiplier,
            window_s,
            snapshot_interval_ns,
        }
    }

    fn resilience4j(&mut self, b: &BreakerSection, path: &str, n: &BreakerNumbers) -> R4jSpec {
        let window = match b.sliding_window.unwrap_or(SlidingWindow::Count) {
            SlidingWindow::Count => WindowKind::Count,
            SlidingWindow::Time => WindowKind::Time,
        };
        let too_long = match window {
            WindowKind::Time => (n.window_size > 3600).then_some("a time window is at most 3600 seconds"),
            WindowKind::Count => (n.window_size > 1_000_000).then_some("a count window is at most 1000000 calls"),
        };
        if let (Some(message), Some(w)) = (too_long, &b.window_size) {
            self.err(w.span.clone(), format!("{path}.window_size"), message);
        }
        R4jSpec {
            failure_rate_threshold: n.failure_rate_threshold,
            slow_call_rate_threshold: n.slow_call_rate_threshold,
            slow_call_duration_ns: b.slow_call_duration.as_ref().map_or(60 * NS_PER_S, |d| d.value.ns().max(1)),
            window,
            window_size: n.window_size.min(1_000_000),
            minimum_calls: n.minimum_calls,
            wait_open_ns: n.wait_open_ns,
            wait_multiplier: n.wait_multiplier,
            max_wait_ns: b.max_wait_in_open.map_or(60 * NS_PER_S, Duration::ns),
            half_open_permits: n.half_open_permits.min(1_000_000),
            max_wait_half_open_ns: b.max_wait_in_half_open.map_or(0, Duration::ns),
            automatic_transition: b.automatic_transition.unwrap_or(false),
        }
    }

    /// Hedging: 2 to 5 copies (gRPC caps maxAttempts at 5), and not together with retries
    /// (gRPC allows one policy per method).
    pub(super) fn hedge(
        &mut self,
        h: Option<&Loc<HedgeSection>>,
        retry: Option<&Loc<RetrySection>>,
        path: &str,
    ) -> Option<HedgeSpec> {
        let h = h?;
        let m = &h.value.max_attempts;
        if !(2..=5).contains(&m.value) {
            let message = format!("hedge max_attempts must be from 2 to 5, not {}", m.value);
            self.err(m.span.clone(), format!("{path}.hedge.max_attempts"), message)
                .hint("it counts the original: 2 sends at most one extra copy");
        }
        if let Some(r) = retry {
            self.err(r.span.clone(), format!("{path}.retry"), "a call may have `retry` or `hedge`, not both")
                .hint("as in gRPC, a hedged call sends its copies instead of retrying");
        }
        Some(HedgeSpec { max_attempts: m.value.clamp(2, 5), delay_ns: h.value.delay.ns() })
    }

    pub(super) fn throttle(&mut self, t: Option<&Loc<ThrottlingSection>>, path: &str) -> Option<ThrottleSpec> {
        let t = &t?.value;
        let k = self.number_in(
            &t.k,
            format!("{path}.adaptive_throttling.k"),
            (1.0, 100.0),
            2.0,
            Some("2 lets the backend see twice what it accepts"),
        );
        let window_s = self.whole_seconds(&t.window, format!("{path}.adaptive_throttling.window"), 120);
        Some(ThrottleSpec { k, window_s, scope: t.scope.unwrap_or(Scope::Instance) })
    }

    pub(super) fn bulkhead(&mut self, b: Option<&Loc<BulkheadSection>>, path: &str) -> Option<BulkheadSpec> {
        let b = &b?.value;
        let span = b.max_concurrent.span.clone();
        if b.max_concurrent.value == 0 {
            self.err(span.clone(), format!("{path}.bulkhead.max_concurrent"), "max_concurrent must be at least 1");
        }
        let max_pending = b.max_pending.as_ref().map_or(0, |p| p.value);
        if let (Some(_), 0) = (b.max_wait, max_pending) {
            let message =
                "max_wait needs max_pending above 0: with no room to wait every call over the cap fails at once";
            self.err(span, format!("{path}.bulkhead.max_wait"), message).hint("add max_pending = 100, say");
        }
        Some(BulkheadSpec {
            max_concurrent: b.max_concurrent.value.max(1),
            max_pending,
            max_wait_ns: b.max_wait.map_or(Nanos::MAX, Duration::ns),
            scope: b.scope.unwrap_or(Scope::Instance),
        })
    }

    /// An optional number that must lie in `range` (inclusive): out of it, an error at its
    /// span, and `default` in its place.
    fn number_in(
        &mut self,
        v: &Option<Loc<f64>>,
        field: String,
        range: (f64, f64),
        default: f64,
        hint: Option<&str>,
    ) -> f64 {
        match v {
            Some(x) if !(x.value >= range.0 && x.value <= range.1) => {
                let key = field.rsplit('.').next().unwrap_or_default().to_string();
                let message = format!("{key} must be from {} to {}, not {}", range.0, range.1, x.value);
                let e = self.err(x.span.clone(), field, message);
                if let Some(h) = hint {
                    e.hint(h);
                }
                default
            }
            Some(x) => x.value,
            None => default,
        }
    }

    /// An optional window of whole seconds, 1 s to 1 h (policies count in one-second
    /// buckets), in seconds; `default` if absent or wrong.
    fn whole_seconds(&mut self, v: &Option<Loc<Duration>>, field: String, default: u32) -> u32 {
        match v {
            Some(w) if w.value.ns() < NS_PER_S || w.value.ns() % NS_PER_S != 0 || w.value.ns() > 3600 * NS_PER_S => {
                let key = field.rsplit('.').next().unwrap_or_default().to_string();
                let message = format!("{key} must be whole seconds, from 1s to 1h");
                self.err(w.span.clone(), field, message).hint("it is counted in one-second buckets");
                default
            }
            Some(w) => (w.value.ns() / NS_PER_S) as u32,
            None => default,
        }
    }
}
