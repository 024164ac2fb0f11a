//! The `[noise]` table: a real fleet's background noise, on for the whole fleet.

use super::DistSection;
use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

/// `[noise]`: CPU steal, pauses and network noise, each on when its table is given (with
/// documented defaults for what it leaves out); `enabled = false` switches all of it off.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoiseSection {
    /// Default true.
    pub enabled: Option<bool>,
    pub cpu_steal: Option<Loc<StealSection>>,
    pub pauses: Option<Loc<PausesSection>>,
    pub network: Option<Loc<NetworkNoiseSection>>,
}

/// CPU steal and noisy neighbours: on `percent` of the instances (default 10), segments of
/// exponential length (mean `segment`, default 1 minute), each with a service-time
/// multiplier uniform in [`low`, `high`] (default 1 to 1.5).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StealSection {
    pub percent: Option<Loc<f64>>,
    pub segment: Option<Loc<Duration>>,
    pub low: Option<Loc<f64>>,
    pub high: Option<Loc<f64>>,
}

/// Stop-the-world pauses: on `percent` of the instances (default 100), gaps of exponential
/// length (mean `every`, default 10 s) and lengths drawn from `pause` (default lognormal,
/// median 10 ms, p99 100 ms).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PausesSection {
    pub percent: Option<Loc<f64>>,
    pub every: Option<Loc<Duration>>,
    pub pause: Option<Loc<DistSection>>,
}

/// Network noise on every message: a uniform extra up to `jitter` (default 0.1 ms), and with
/// chance `spike_percent` (default 0.01) a spike drawn from `spike` (default 200 ms, a
/// retransmission timeout).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkNoiseSection {
    pub jitter: Option<Loc<Duration>>,
    pub spike_percent: Option<Loc<f64>>,
    pub spike: Option<Loc<DistSection>>,
}
