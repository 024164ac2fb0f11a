//! A call's policy tables: `retry` (with `budget`), `breaker`, `hedge`, `fallback`,
//! `bulkhead` and `adaptive_throttling`.

use super::{BackoffKind, DistSection};
use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

/// Refuse requests locally with probability max(0, (requests - k x accepts) / (requests + 1))
/// over the last `window`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottlingSection {
    /// At least 1. Default 2 (the SRE book's suggestion).
    pub k: Option<Loc<f64>>,
    /// Whole seconds, 1s to 1h. Default 120s.
    pub window: Option<Loc<Duration>>,
    /// Default instance.
    pub scope: Option<Scope>,
}

/// At most `max_concurrent` attempts of the call in flight; one more waits if fewer than
/// `max_pending` are waiting (for at most `max_wait`), else is refused at once.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkheadSection {
    /// At least 1. Resilience4j's default is 25, Envoy's max_requests 1024.
    pub max_concurrent: Loc<u32>,
    /// Attempts that may wait for a permit (Envoy's max_pending_requests, 1024 there).
    /// Default 0: fail fast (Resilience4j's default).
    pub max_pending: Option<Loc<u32>>,
    /// The longest wait for a permit (Resilience4j's maxWaitDuration). Default: no limit
    /// beyond the attempt's own timeout.
    pub max_wait: Option<Duration>,
    /// Default instance: one per calling instance; service: one shared.
    pub scope: Option<Scope>,
}

/// A fallback: a cache, a static answer.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackSection {
    /// How long the fallback takes. Default: no time.
    pub latency: Option<Loc<DistSection>>,
}

/// Send another copy of the call every `delay` until one succeeds, up to `max_attempts`
/// copies; the first success wins and the others are abandoned.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HedgeSection {
    /// Copies in all, the first included: 2 to 5 (gRPC's limit).
    pub max_attempts: Loc<u32>,
    /// How long to wait for a success before sending the next copy.
    pub delay: Duration,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
    /// Total attempts including the first. Default 1.
    pub max_attempts: Option<Loc<u32>>,
    /// Default none.
    pub backoff: Option<BackoffKind>,
    /// Default 0.
    pub base: Option<Duration>,
    /// Default 20s.
    pub cap: Option<Duration>,
    /// Growth per retry of the exponential forms. Default 2.
    pub multiplier: Option<Loc<f64>>,
    /// Which failures are retried. Default all four.
    pub retry_on: Option<Vec<RetryOn>>,
    /// A retry budget shared by the calls this declaration makes. Default: none.
    pub budget: Option<Loc<BudgetSection>>,
}

/// A failure a retry policy may retry.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RetryOn {
    /// The attempt's timeout passed.
    Timeout,
    /// The callee answered with an error.
    Error,
    /// The callee's queue was full.
    Rejected,
    /// The caller's own policy refused the attempt (circuit breaker open).
    Refused,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetKind {
    /// AWS SDK standard-mode retry quota: 500 tokens, 5 per retry, 10 after a timeout.
    AwsStandard,
    /// The same with the 2026 costs: 14 per retry, 5 after a throttling (rejected) error.
    #[serde(rename = "aws-standard-2026")]
    AwsStandard2026,
    /// gRPC retryThrottling: `max_tokens` (default 10), `token_ratio` (default 0.1).
    Grpc,
    /// Envoy retry budget: `percent` of active requests (default 20), `min_concurrency`
    /// (default 3).
    Envoy,
    /// SRE book per-client ratio: retries under `ratio` (default 0.1) of the requests over
    /// `window` (default 60s).
    SreRatio,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// One per calling instance (an SDK client, a sidecar). The default.
    Instance,
    /// One shared by every instance of the calling service.
    Service,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    pub kind: BudgetKind,
    /// Default instance.
    pub scope: Option<Scope>,
    /// aws-standard, aws-standard-2026: the bucket's size. Default 500.
    pub capacity: Option<Loc<u32>>,
    /// grpc: from 1 to 1000. Default 10.
    pub max_tokens: Option<Loc<f64>>,
    /// grpc: above 0. Default 0.1.
    pub token_ratio: Option<Loc<f64>>,
    /// envoy: from 0 to 100. Default 20.
    pub percent: Option<Loc<f64>>,
    /// envoy. Default 3.
    pub min_concurrency: Option<u32>,
    /// sre-ratio: above 0. Default 0.1.
    pub ratio: Option<Loc<f64>>,
    /// sre-ratio: whole seconds, at least 1s. Default 60s.
    pub window: Option<Loc<Duration>>,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerKind {
    /// Resilience4j's CircuitBreaker: rate thresholds over a sliding window, N half-open
    /// trial calls.
    Resilience4j,
    /// Hystrix: error percentage over a rolling window checked every snapshot, one probe.
    Hystrix,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SlidingWindow {
    /// The last `window_size` calls.
    Count,
    /// The last `window_size` seconds (the current one included).
    Time,
}

/// A circuit breaker. Defaults are the real libraries' (reference sections 1.1 and 1.2).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSection {
    pub kind: BreakerKind,
    /// Default instance: one breaker per calling instance; service: one shared.
    pub scope: Option<Scope>,
    /// resilience4j: percent, above 0 and at most 100. Default 50.
    pub failure_rate_threshold: Option<Loc<f64>>,
    /// resilience4j: percent. Default 100.
    pub slow_call_rate_threshold: Option<Loc<f64>>,
    /// resilience4j: a call longer than this is slow. Default 60s.
    pub slow_call_duration: Option<Loc<Duration>>,
    /// resilience4j. Default count.
    pub sliding_window: Option<SlidingWindow>,
    /// resilience4j: calls (count) or seconds (time). Default 100.
    pub window_size: Option<Loc<u32>>,
    /// resilience4j. Default 100.
    pub minimum_calls: Option<Loc<u32>>,
    /// resilience4j: the first open period, at least 1ms. Default 60s.
    pub wait_in_open: Option<Loc<Duration>>,
    /// resilience4j: each consecutive open period is this many times the last. Default 1.
    pub wait_multiplier: Option<Loc<f64>>,
    /// resilience4j: the longest open period when `wait_multiplier` > 1. Default 60s.
    pub max_wait_in_open: Option<Duration>,
    /// resilience4j. Default 10.
    pub half_open_permits: Option<Loc<u32>>,
    /// resilience4j: back to open if the trial has not decided within this. Default 0s (never).
    pub max_wait_in_half_open: Option<Duration>,
    /// resilience4j: open becomes half-open at the wait without waiting for a call. Default false.
    pub automatic_transition: Option<bool>,
    /// hystrix: whole seconds, from 1s. Default 10s.
    pub rolling_window: Option<Loc<Duration>>,
    /// hystrix. Default 20.
    pub request_volume_threshold: Option<u32>,
    /// hystrix: percent. Default 50.
    pub error_threshold: Option<Loc<f64>>,
    /// hystrix. Default 5s.
    pub sleep_window: Option<Duration>,
    /// hystrix: how often the counts are checked. Default 500ms.
    pub snapshot_interval: Option<Loc<Duration>>,
}
