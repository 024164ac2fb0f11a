//! The `[[fault]]` tables.

use super::DistSection;
use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// A stressor takes `load_percent` of every instance's CPU: work started during the
    /// fault takes 1 / (1 - load) times as long (shared/reference/faults.md, cpu.stress).
    CpuStress,
    /// The instances are down: each job that reaches one fails at once with `error`
    /// (connection refused). Health checks see it; the balancer only through them.
    Outage,
    /// Launches in a zone fail (AWS FIS `aws:ec2:api-insufficient-instance-capacity-error`):
    /// autoscaling's launches there are retried until the window ends.
    InsufficientCapacity,
}

/// A fault: what, where, and when.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    pub kind: FaultKind,
    /// The target, one of: the service whose instances are hit, a cell, a zone or a region
    /// (every instance placed there).
    pub service: Option<Loc<String>>,
    pub cell: Option<Loc<String>>,
    pub zone: Option<Loc<String>>,
    pub region: Option<Loc<String>>,
    /// When the fault begins (with `duration`; not with `mtbf`).
    pub start: Option<Loc<Duration>>,
    /// How long it lasts.
    pub duration: Option<Loc<Duration>>,
    /// Random failures instead of a window (outages only): each failure domain (each
    /// instance of a `service` target; the whole cell, zone or region otherwise) fails after
    /// a draw of `mtbf` and is repaired after a draw of `mttr`, again and again.
    pub mtbf: Option<Loc<DistSection>>,
    pub mttr: Option<Loc<DistSection>>,
    /// cpu-stress: the share of CPU the stressor takes, from 0 to 99.
    pub load_percent: Option<Loc<f64>>,
    /// How many instances are hit, from the first. Default all.
    pub instances: Option<Loc<u32>>,
}
