//! The fault catalogue: each kind with its checked options (the scenario's `[[fault]]`
//! tables, compiled by `compile::faults`). A fault aims at a target and acts over a window.

use crate::spec::Window;

/// One fault, as compiled.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub target: FaultTarget,
    /// When it acts: `[start, start + duration)`.
    pub window: Window,
}

/// What a fault does while it acts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// The targeted instances are down: each job sent to one fails at once (`error`), and
    /// liveness checks fail. Jobs already there finish.
    Outage,
    /// The targeted instances lose CPU to a competing load.
    CpuStress(CpuStress),
}

/// CPU stress (AWS FIS `aws:ssm:send-command` stress, Chaos Mesh `StressChaos`): a competing
/// load takes `load_percent` of the CPU, so work that starts while it acts takes
/// `multiplier` = 1 / (1 - load_percent / 100) times as long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuStress {
    pub load_percent: f64,
    pub multiplier: f64,
}

impl CpuStress {
    /// `load_percent` from 0 to 99 (checked by the compiler).
    pub fn new(load_percent: f64) -> CpuStress {
        CpuStress { load_percent, multiplier: 1.0 / (1.0 - load_percent / 100.0) }
    }
}

/// Which instances a fault hits: the first `instances` of `service`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultTarget {
    pub service: u32,
    pub instances: u32,
}
