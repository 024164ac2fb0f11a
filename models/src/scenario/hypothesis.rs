//! `[[hypothesis]]` and `[[stop_condition]]`: what must hold (judged after the run) and what
//! ends the faults early (watched during it).

use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

/// A steady-state hypothesis: a compact expression over a scope and a window.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HypothesisSection {
    /// What it says, in words (default: the expression).
    pub name: Option<Loc<String>>,
    /// `metric comparison value`: `p(99) < 200ms`, `error_rate < 0.1%`, `availability >=
    /// 99.9%`, `p(99) <= baseline + 10%`, `recovery < 5m`, `cascade_depth <= 1`,
    /// `blast_radius < 10%`.
    pub expect: Loc<String>,
    /// The scope, at most one of these (default: every workload's requests); `request`
    /// goes with `workload`.
    pub workload: Option<Loc<String>>,
    pub request: Option<Loc<String>>,
    pub service: Option<Loc<String>>,
    pub cell: Option<Loc<String>>,
    pub zone: Option<Loc<String>>,
    /// `run` (default), `before F`, `during F`, `after F`, `after F for 5m`, `any 1m`; `F` is
    /// a fault's `name` or `fault[i]`.
    pub window: Option<Loc<String>>,
}

/// A stop condition: an alarm (M of N periods breaching) on a workload's or a service's
/// metric; when it goes to Alarm, every fault ends (rolled back) and the run goes on.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopSection {
    pub name: Option<Loc<String>>,
    /// The breach, as an expression: `error_rate > 5%`, `p(99) > 1s`, `availability < 99%`.
    pub alarm: Loc<String>,
    /// The scope (default: every workload's requests); a service's jobs allow `error_rate`
    /// and `availability` only.
    pub workload: Option<Loc<String>>,
    pub service: Option<Loc<String>>,
    /// The alarm's period (default 1m), M (`datapoints`, default 3) of the last N
    /// (`evaluation_periods`, default M).
    pub period: Option<Loc<Duration>>,
    pub datapoints: Option<Loc<u32>>,
    pub evaluation_periods: Option<Loc<u32>>,
}
