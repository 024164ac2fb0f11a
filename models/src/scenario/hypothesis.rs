//! `[[hypothesis]]`: what must hold, judged after the run.

use crate::units::Loc;
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
