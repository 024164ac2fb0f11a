//! Backoff between retries: the capped exponential family with its jitter variants, as
//! written by Marc Brooker (reference 2.2), the AWS SDKs (2.1) and gRPC (2.4).

use cellsim_sim::Nanos;
use schemars::JsonSchema;
use serde::Deserialize;

/// How long to wait before a retry. `n` counts retries from 1. Every exponential form
/// uses the AWS SDK's indexing, `ceiling(n) = min(cap, base * multiplier^(n-1))`, so the
/// first retry waits up to `base`; Brooker's blog indexes from `base * 2^1` instead (the
/// same curve, one step later).
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BackoffKind {
    /// Retry at once.
    None,
    /// Wait `base` before every retry.
    Constant,
    /// Wait `ceiling(n)`: capped exponential, no jitter.
    Exponential,
    /// Wait uniform(0, ceiling(n)): Brooker's "full jitter", the AWS SDK standard mode.
    FullJitter,
    /// Wait ceiling(n)/2 + uniform(0, ceiling(n)/2): Brooker's "equal jitter".
    EqualJitter,
    /// Wait min(cap, uniform(base, 3 * previous wait)), the previous wait starting at
    /// `base`: Brooker's "decorrelated jitter".
    DecorrelatedJitter,
    /// Wait ceiling(n) * uniform(0.8, 1.2): gRPC's retry policy since August 2024 (A6).
    Grpc,
}

/// A compiled backoff: parameters in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub kind: BackoffKind,
    pub base_ns: Nanos,
    pub cap_ns: Nanos,
    pub multiplier: f64,
}

impl Backoff {
    pub const NONE: Backoff = Backoff { kind: BackoffKind::None, base_ns: 0, cap_ns: 0, multiplier: 2.0 };

    /// min(cap, base * multiplier^(n-1)).
    pub fn ceiling_ns(&self, n: u32) -> Nanos {
        let grown = self.base_ns as f64 * self.multiplier.powi(n.saturating_sub(1).min(1024) as i32);
        if grown >= self.cap_ns as f64 {
            self.cap_ns
        } else {
            grown as Nanos
        }
    }

    /// The wait before retry `n` (from 1), given the previous wait (`prev_ns`, used by the
    /// decorrelated form; 0 before the first retry) and a uniform draw `u` in [0, 1).
    pub fn wait_ns(&self, n: u32, prev_ns: Nanos, u: f64) -> Nanos {
        let ceiling = || self.ceiling_ns(n) as f64;
        let ns = match self.kind {
            BackoffKind::None => return 0,
            BackoffKind::Constant => return self.base_ns,
            BackoffKind::Exponential => return self.ceiling_ns(n),
            BackoffKind::FullJitter => u * ceiling(),
            BackoffKind::EqualJitter => ceiling() / 2.0 + u * ceiling() / 2.0,
            BackoffKind::DecorrelatedJitter => {
                let base = self.base_ns as f64;
                let prev = if prev_ns == 0 { base } else { prev_ns as f64 };
                (base + u * (3.0 * prev - base).max(0.0)).min(self.cap_ns as f64)
            }
            BackoffKind::Grpc => ceiling() * (0.8 + 0.4 * u),
        };
        ns as Nanos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(kind: BackoffKind) -> Backoff {
        Backoff { kind, base_ns: 10, cap_ns: 100, multiplier: 2.0 }
    }

    #[test]
    fn capped_exponential_doubles_from_base_then_stops_at_the_cap() {
        let waits: Vec<_> = (1..=6).map(|n| b(BackoffKind::Exponential).wait_ns(n, 0, 0.5)).collect();
        assert_eq!(waits, vec![10, 20, 40, 80, 100, 100]);
        // A huge retry count does not overflow.
        assert_eq!(b(BackoffKind::Exponential).wait_ns(u32::MAX, 0, 0.5), 100);
    }

    #[test]
    fn jitter_forms_at_known_draws() {
        // (kind, retry n, previous wait, draw u, expected wait)
        let table = [
            (BackoffKind::None, 3, 0, 0.5, 0),
            (BackoffKind::Constant, 3, 0, 0.5, 10),
            (BackoffKind::FullJitter, 3, 0, 0.0, 0),
            (BackoffKind::FullJitter, 3, 0, 0.5, 20),
            (BackoffKind::FullJitter, 5, 0, 0.5, 50),
            (BackoffKind::EqualJitter, 3, 0, 0.0, 20),
            (BackoffKind::EqualJitter, 3, 0, 0.5, 30),
            // Decorrelated: uniform(base, 3 prev), prev starting at base: U(10, 30).
            (BackoffKind::DecorrelatedJitter, 1, 0, 0.0, 10),
            (BackoffKind::DecorrelatedJitter, 1, 0, 0.5, 20),
            (BackoffKind::DecorrelatedJitter, 2, 20, 0.5, 35),
            (BackoffKind::DecorrelatedJitter, 4, 90, 0.9, 100),
            // gRPC: ceiling * U(0.8, 1.2); ceiling(3) = 40.
            (BackoffKind::Grpc, 3, 0, 0.0, 32),
            (BackoffKind::Grpc, 3, 0, 0.5, 40),
            (BackoffKind::Grpc, 3, 0, 0.999_999, 47),
        ];
        for (kind, n, prev, u, want) in table {
            assert_eq!(b(kind).wait_ns(n, prev, u), want, "{kind:?} n={n} prev={prev} u={u}");
        }
    }

    #[test]
    fn aws_standard_and_grpc_example_schedules() {
        // AWS standard (reference 2.1): rand * min(2^(n-1), 20) s, base 1 s, cap 20 s.
        let aws =
            Backoff { kind: BackoffKind::FullJitter, base_ns: 1_000_000_000, cap_ns: 20_000_000_000, multiplier: 2.0 };
        assert_eq!(aws.ceiling_ns(1), 1_000_000_000);
        assert_eq!(aws.ceiling_ns(5), 16_000_000_000);
        assert_eq!(aws.ceiling_ns(6), 20_000_000_000);
        // gRPC with multiplier 1.5: initial 100 ms, then 150, 225 ms, capped at 200 ms.
        let grpc = Backoff { kind: BackoffKind::Grpc, base_ns: 100_000_000, cap_ns: 200_000_000, multiplier: 1.5 };
        assert_eq!([1, 2, 3].map(|n| grpc.ceiling_ns(n)), [100_000_000, 150_000_000, 200_000_000]);
        // Envoy (2.3): base 25 ms, cap 250 ms; the full jitter's ceilings are 25, 50, 100 ms.
        let envoy =
            Backoff { kind: BackoffKind::FullJitter, base_ns: 25_000_000, cap_ns: 250_000_000, multiplier: 2.0 };
        assert_eq!([1, 2, 3, 5].map(|n| envoy.ceiling_ns(n)), [25_000_000, 50_000_000, 100_000_000, 250_000_000]);
    }
}
