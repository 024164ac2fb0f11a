//! The fault catalogue: each kind with its checked options (the scenario's `[[fault]]`
//! tables, compiled by `compile::faults`). A fault aims at a target and acts over a window.

use super::network::PacketLoss;
use crate::spec::Window;
use cellsim_sim::Nanos;

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
    /// The network refuses connections to the instances (a reset, an ICMP unreachable:
    /// catalogue 19's *reject*): each job sent to one fails at once with `error`, and health
    /// checks fail, as in an outage.
    Reject,
    /// Messages to and from the instances are dropped without an answer (catalogue 19's
    /// *blackhole*): a job sent to one is lost, so its caller waits for its own timeout (with
    /// none, for ever); answers of jobs already there are lost too; health checks fail.
    Blackhole,
    /// The instances are present and answer, but fail every request with `error` at once
    /// (catalogue 7, Chaos Mesh `pod-failure`): health checks pass, so no balancer stops
    /// sending to them unless outlier detection ejects them.
    Unavailable,
    /// The instances' answers are delayed by `delay_ns` plus a uniform draw in
    /// `[-jitter_ns, +jitter_ns]` (at least 0): netem on the instances' egress, as AWS FIS
    /// and Gremlin inject it (catalogue 15).
    NetworkLatency { delay_ns: Nanos, jitter_ns: Nanos },
    /// The instances' answers lose packets: each TCP segment of an answer (its size drawn
    /// from the call's `response_bytes`, 1460 bytes a segment) is lost with chance `p` per
    /// transmission and retransmitted after a timeout of 200 ms doubling on consecutive
    /// losses; after 15 retransmissions the connection gives up and the answer is lost
    /// (catalogue 16). On the instances' egress, on established connections.
    PacketLoss(PacketLoss),
}

impl FaultKind {
    /// The kind's name in the scenario format.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Outage => "outage",
            FaultKind::CpuStress(_) => "cpu-stress",
            FaultKind::InsufficientCapacity => "insufficient-capacity",
            FaultKind::Reject => "reject",
            FaultKind::Blackhole => "blackhole",
            FaultKind::Unavailable => "unavailable",
            FaultKind::NetworkLatency { .. } => "network-latency",
            FaultKind::PacketLoss(_) => "packet-loss",
        }
    }

    /// Does it break the instances it hits (jobs sent to them fail or are lost)? Their
    /// service then picks instances through its fleet.
    pub fn breaks_instances(&self) -> bool {
        matches!(self, FaultKind::Outage | FaultKind::Reject | FaultKind::Blackhole | FaultKind::Unavailable)
    }

    /// Does it act on the instances' answers on the network?
    pub fn on_the_network(&self) -> bool {
        matches!(self, FaultKind::NetworkLatency { .. } | FaultKind::PacketLoss(_))
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
