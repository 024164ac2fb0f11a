//! The fault catalogue: each kind with its checked options (the scenario's `[[fault]]`
//! tables, compiled by `compile::faults`). A fault aims at a target and acts over a window.

use crate::spec::Window;

/// One fault, as compiled.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub target: FaultTarget,
    /// When it acts: `[start, start + duration)`; a random fault's is the whole run.
    pub window: Window,
    /// Failures and repairs drawn at random (`Spec::random_faults` has their distributions)
    /// rather than the window.
    pub random: bool,
}

/// A random fault's failure domains and their distributions.
#[derive(Clone, Debug)]
pub struct RandomFault {
    /// The fault, an index into `Spec::faults`.
    pub fault: u32,
    pub to_failure: crate::dist::Dist,
    pub to_repair: crate::dist::Dist,
    /// Each instance hit fails on its own (a service target); otherwise all together.
    pub per_instance: bool,
}

/// What a fault does while it acts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// The targeted instances are down: each job sent to one fails at once (`error`), and
    /// liveness checks fail. Jobs already there finish.
    Outage,
    /// The targeted instances lose CPU to a competing load.
    CpuStress(CpuStress),
    /// Launches in the target zone fail (autoscaling retries them).
    InsufficientCapacity,
}

impl FaultKind {
    /// The kind's name in the scenario format.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Outage => "outage",
            FaultKind::CpuStress(_) => "cpu-stress",
            FaultKind::InsufficientCapacity => "insufficient-capacity",
        }
    }
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

/// Which instances a fault hits: the first `instances` of a service, or every instance
/// placed in a cell, a zone or a region (a domain outage: all at the same instant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultTarget {
    /// What the scenario aimed at, in words for reports: `service api`, `cell cell-3`, `zone
    /// use1-az1`, `region us-east-1`.
    pub what: String,
    /// The instances hit, as (service, instance of the service), in service then instance
    /// order.
    pub instances: Vec<(u32, u32)>,
    /// The zone, when the fault is aimed at one.
    pub zone: Option<u16>,
}

impl FaultTarget {
    /// The first `count` instances of `service`.
    pub fn service(name: &str, service: u32, count: u32) -> FaultTarget {
        FaultTarget {
            what: format!("service {name}"),
            instances: (0..count).map(|i| (service, i)).collect(),
            zone: None,
        }
    }

    /// Does it hit any instance of `service`?
    pub fn hits(&self, service: u32) -> bool {
        self.instances.iter().any(|&(s, _)| s == service)
    }
}
