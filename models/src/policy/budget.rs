//! Retry budgets: who may retry, and what a retry costs. Each is a small state machine fed
//! by the call path; none of them knows about services or events.
//!
//! - AWS SDK retry quota (reference 2.1): a token bucket, standard mode and its 2026 costs.
//! - gRPC retry throttling (2.4): tokens that failures spend and successes earn back.
//! - Envoy retry budget (1.3): concurrent retries against a share of active requests.
//! - The SRE book's per-client retry ratio (2.5): retries under 10% of requests.

use super::window::SecondCounts;
use crate::outcome::Outcome;
use cellsim_sim::Nanos;
#[cfg(test)]
use cellsim_sim::NS_PER_S;

/// A budget's parameters, compiled from the scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetSpec {
    /// AWS SDK standard-mode retry quota (botocore `retries/quota.py`, `standard.py`).
    /// A retry acquires `retry_cost` (`timeout_cost` after a timeout, `throttle_cost`
    /// after a rejection, which stands for a throttling error); without enough capacity the
    /// retry is not made. A final success returns `no_retry_increment` if the call was never
    /// retried, else the amount its last retry acquired. Nothing comes back on failure.
    Aws { capacity: u32, retry_cost: u32, timeout_cost: u32, throttle_cost: u32, no_retry_increment: u32 },
    /// gRPC retryThrottling: tokens start at `max_tokens`; each failed attempt takes 1, each
    /// success adds `token_ratio`; retries only while tokens > max_tokens / 2. Kept in
    /// thousandths, the ratio's precision, so the arithmetic is exact.
    Grpc { max_milli: i64, ratio_milli: i64 },
    /// Envoy: retries in flight may not exceed max(min_concurrency, percent of the active
    /// requests).
    Envoy { percent: f64, min_concurrency: u32 },
    /// SRE book: a request is retried only while retries stay under `ratio` of the requests
    /// seen over the trailing window (one-second buckets).
    Ratio { ratio: f64, window_s: u32 },
}

impl BudgetSpec {
    /// The scenario's name for this kind.
    pub fn name(&self) -> &'static str {
        match self {
            BudgetSpec::Aws { retry_cost: 14, .. } => "aws-standard-2026",
            BudgetSpec::Aws { .. } => "aws-standard",
            BudgetSpec::Grpc { .. } => "grpc",
            BudgetSpec::Envoy { .. } => "envoy",
            BudgetSpec::Ratio { .. } => "sre-ratio",
        }
    }

    /// AWS standard mode before 2026: capacity 500, retry 5, timeout 10, +1 on clean success.
    pub const AWS_STANDARD: BudgetSpec =
        BudgetSpec::Aws { capacity: 500, retry_cost: 5, timeout_cost: 10, throttle_cost: 5, no_retry_increment: 1 };
    /// AWS standard mode "2.1" (2026): 14 per retry, timeouts not special, 5 for throttling.
    pub const AWS_STANDARD_2026: BudgetSpec =
        BudgetSpec::Aws { capacity: 500, retry_cost: 14, timeout_cost: 14, throttle_cost: 5, no_retry_increment: 1 };
}

/// One budget's state.
#[derive(Clone, Debug)]
pub struct Budget {
    spec: BudgetSpec,
    /// Aws: capacity left. Grpc: tokens in thousandths.
    level: i64,
    /// Envoy: requests (attempts) in flight and retries in flight.
    active: u32,
    retries_active: u32,
    /// Ratio: requests (first) and retries (second) per second of the window.
    counts: SecondCounts,
    /// Retries refused so far.
    pub refused: u64,
}

impl Budget {
    pub fn new(spec: BudgetSpec) -> Budget {
        let (level, window_s) = match spec {
            BudgetSpec::Aws { capacity, .. } => (capacity as i64, 1),
            BudgetSpec::Grpc { max_milli, .. } => (max_milli, 1),
            BudgetSpec::Envoy { .. } => (0, 1),
            BudgetSpec::Ratio { window_s, .. } => (0, window_s),
        };
        Budget { spec, level, active: 0, retries_active: 0, counts: SecondCounts::new(window_s), refused: 0 }
    }

    /// Capacity left (AWS) or tokens in thousandths (gRPC); 0 for the others.
    pub fn level(&self) -> i64 {
        self.level
    }

    /// A new call (its first attempt) starts.
    #[inline]
    pub fn on_request(&mut self, now: Nanos) {
        if let BudgetSpec::Ratio { .. } = self.spec {
            self.counts.add(now, true);
        }
    }

    /// An attempt is sent (`retry`: it is not the call's first).
    #[inline]
    pub fn on_attempt_start(&mut self, retry: bool) {
        if let BudgetSpec::Envoy { .. } = self.spec {
            self.active += 1;
            self.retries_active += retry as u32;
        }
    }

    /// An attempt ended (answered or timed out) with `outcome`.
    #[inline]
    pub fn on_attempt_end(&mut self, retry: bool, outcome: Outcome) {
        match self.spec {
            BudgetSpec::Envoy { .. } => {
                self.active -= 1;
                self.retries_active -= retry as u32;
            }
            BudgetSpec::Grpc { max_milli, ratio_milli } => {
                self.level =
                    if outcome.is_success() { (self.level + ratio_milli).min(max_milli) } else { self.level - 1000 };
                self.level = self.level.max(0);
            }
            _ => {}
        }
    }

    /// May the call retry after failing with `failure`? On yes, returns the cost acquired
    /// (AWS; 0 for the others), which `on_success` refunds if the retry succeeds.
    pub fn try_retry(&mut self, now: Nanos, failure: Outcome) -> Option<u32> {
        let allowed = match self.spec {
            BudgetSpec::Aws { retry_cost, timeout_cost, throttle_cost, .. } => {
                let cost = match failure {
                    Outcome::Timeout => timeout_cost,
                    Outcome::Rejected => throttle_cost,
                    _ => retry_cost,
                };
                if self.level >= cost as i64 {
                    self.level -= cost as i64;
                    return Some(cost);
                }
                false
            }
            BudgetSpec::Grpc { max_milli, .. } => self.level * 2 > max_milli,
            BudgetSpec::Envoy { percent, min_concurrency } => {
                let limit = (percent / 100.0 * self.active as f64).max(min_concurrency as f64);
                (self.retries_active as f64) < limit
            }
            BudgetSpec::Ratio { ratio, .. } => {
                let (req, ret) = self.counts.totals(now);
                let ok = (ret as f64) < ratio * req as f64;
                if ok {
                    self.counts.add(now, false);
                }
                ok
            }
        };
        if allowed {
            Some(0)
        } else {
            self.refused += 1;
            None
        }
    }

    /// The call succeeded in the end; `last_cost` is what its last retry acquired (`None` if
    /// it was never retried).
    #[inline]
    pub fn on_success(&mut self, last_cost: Option<u32>) {
        if let BudgetSpec::Aws { capacity, no_retry_increment, .. } = self.spec {
            let back = last_cost.unwrap_or(no_retry_increment);
            self.level = (self.level + back as i64).min(capacity as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Retries a budget grants when every call fails with `failure`, one retry asked per call.
    fn granted(spec: BudgetSpec, failure: Outcome, calls: usize) -> usize {
        let mut b = Budget::new(spec);
        (0..calls).filter(|_| b.try_retry(0, failure).is_some()).count()
    }

    #[test]
    fn aws_full_bucket_allows_100_failed_retries_or_50_after_timeouts() {
        // Reference 2.1 and aws-sdk-go-v2's comment: 500/5 and 500/10.
        assert_eq!(granted(BudgetSpec::AWS_STANDARD, Outcome::Error, 1000), 100);
        assert_eq!(granted(BudgetSpec::AWS_STANDARD, Outcome::Timeout, 1000), 50);
        // 2026 costs: 14 per retry, timeouts not special; 5 for throttling.
        assert_eq!(granted(BudgetSpec::AWS_STANDARD_2026, Outcome::Error, 1000), 35);
        assert_eq!(granted(BudgetSpec::AWS_STANDARD_2026, Outcome::Timeout, 1000), 35);
        assert_eq!(granted(BudgetSpec::AWS_STANDARD_2026, Outcome::Rejected, 1000), 100);
    }

    #[test]
    fn aws_refunds_the_last_retry_on_success_and_one_for_a_clean_success() {
        let mut b = Budget::new(BudgetSpec::AWS_STANDARD);
        assert_eq!(b.try_retry(0, Outcome::Timeout), Some(10));
        assert_eq!(b.level(), 490);
        b.on_success(Some(10));
        assert_eq!(b.level(), 500);
        b.on_success(None); // capped at capacity
        assert_eq!(b.level(), 500);
        assert_eq!(b.try_retry(0, Outcome::Error), Some(5));
        b.on_success(None);
        assert_eq!(b.level(), 496);
    }

    #[test]
    fn grpc_throttling_stops_retries_at_half_the_tokens() {
        // max 10 tokens, ratio 0.1: after 5 failures tokens = 5, not > 5: no retry.
        let mut b = Budget::new(BudgetSpec::Grpc { max_milli: 10_000, ratio_milli: 100 });
        for k in 0..5 {
            assert!(b.try_retry(0, Outcome::Error).is_some(), "failure {k}");
            b.on_attempt_end(false, Outcome::Error);
        }
        assert_eq!(b.level(), 5_000);
        assert!(b.try_retry(0, Outcome::Error).is_none());
        // One success earns 0.1: 5.1 > 5 allows retries again.
        b.on_attempt_end(false, Outcome::Ok);
        assert_eq!(b.level(), 5_100);
        assert!(b.try_retry(0, Outcome::Error).is_some());
        // Tokens never exceed the maximum nor go below zero.
        for _ in 0..100 {
            b.on_attempt_end(false, Outcome::Ok);
        }
        assert_eq!(b.level(), 10_000);
        for _ in 0..100 {
            b.on_attempt_end(false, Outcome::Error);
        }
        assert_eq!(b.level(), 0);
    }

    #[test]
    fn envoy_budget_is_a_share_of_active_requests_with_a_floor() {
        let spec = BudgetSpec::Envoy { percent: 20.0, min_concurrency: 3 };
        let mut b = Budget::new(spec);
        for _ in 0..10 {
            b.on_attempt_start(false);
        }
        // 20% of 10 is 2, below the floor of 3: three retries may be in flight.
        for _ in 0..3 {
            assert!(b.try_retry(0, Outcome::Error).is_some());
            b.on_attempt_start(true);
        }
        // Now 13 active: 20% is 2.6, floor 3, and 3 retries are in flight.
        assert!(b.try_retry(0, Outcome::Error).is_none());
        b.on_attempt_end(true, Outcome::Error);
        assert!(b.try_retry(0, Outcome::Error).is_some());
        // With 50 plain requests active the limit is 10.
        let mut b = Budget::new(spec);
        (0..50).for_each(|_| b.on_attempt_start(false));
        let mut granted = 0;
        while b.try_retry(0, Outcome::Error).is_some() {
            b.on_attempt_start(true);
            granted += 1;
        }
        // 50 + k active, k retries: k < max(3, 0.2 (50 + k)) holds up to k = 12 (12 < 12.4).
        assert_eq!(granted, 13);
    }

    #[test]
    fn sre_ratio_allows_a_tenth_of_requests_over_the_window() {
        let mut b = Budget::new(BudgetSpec::Ratio { ratio: 0.1, window_s: 60 });
        (0..100).for_each(|_| b.on_request(0));
        let granted = (0..50).filter(|_| b.try_retry(0, Outcome::Error).is_some()).count();
        assert_eq!(granted, 10);
        // At 59 s the first second is still in the window (60 one-second slots); at 60 s it has left.
        assert!(b.try_retry(59 * NS_PER_S, Outcome::Error).is_none());
        assert!(b.try_retry(60 * NS_PER_S, Outcome::Error).is_none(), "no requests left in the window");
        (0..10).for_each(|_| b.on_request(60 * NS_PER_S));
        assert!(b.try_retry(60 * NS_PER_S, Outcome::Error).is_some());
        assert!(b.try_retry(60 * NS_PER_S, Outcome::Error).is_none());
    }
}
