//! What the faults did, found by comparing a run with its baseline bucket by bucket: per
//! fault, when it was detected and when the system recovered, and its blast radius; for the
//! run, the cascade tree of impaired components. Plain data: the orchestration crate fills
//! it (it pairs the runs), the reports read it.

use crate::observe::CustomerCounts;
use crate::spec::AnalysisSpec;
use cellsim_sim::Nanos;

/// The comparison of a run with faults against its baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Impact {
    /// The bucket width the comparison was made at (times below are at its resolution).
    pub bucket_ns: Nanos,
    /// The thresholds that made a component impaired.
    pub rule: AnalysisSpec,
    /// The buckets compared: from 0 to here (the duration, or where the run stopped).
    pub analysed_until_ns: Nanos,
    /// Buckets in which some component was impaired.
    pub impaired_buckets: u64,
    /// By fault, in the scenario's order, and by occurrence for a repeated one (its first
    /// ten; `occurrences_dropped` counts the others).
    pub faults: Vec<FaultImpact>,
    pub occurrences_dropped: u64,
    pub cascade: Cascade,
}

/// One fault's window and what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultImpact {
    /// Its index in the scenario's faults, which occurrence (0: the first; a repeated fault
    /// has a record per occurrence), its kind and target in words.
    pub fault: u32,
    pub occurrence: u32,
    pub kind: &'static str,
    pub what: String,
    pub start_ns: Nanos,
    pub end_ns: Nanos,
    /// Failures and repairs at random (no single window: no time to detect or recover, no
    /// blast radius; its components count as faulted in the cascade).
    pub random: bool,
    /// Components (services in cells) it acts on.
    pub components_hit: u32,
    /// From its start to the start of the first bucket, at or after the one it starts in,
    /// with a component impaired (`None`: none was, before the analysis ended).
    pub time_to_detect_ns: Option<Nanos>,
    /// From its end to the start of the first of `recovered_buckets` consecutive buckets,
    /// at or after the one it ends in, with no component impaired (`None`: not recovered).
    pub time_to_recover_ns: Option<Nanos>,
    pub blast: Option<BlastRadius>,
}

/// What saw harm during a fault's window (the buckets that overlap it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlastRadius {
    /// End-to-end requests that finished in the window, and those that failed or breached
    /// the SLO: in the run and in its baseline.
    pub requests: u64,
    pub requests_harmed: u64,
    pub baseline_requests: u64,
    pub baseline_requests_harmed: u64,
    /// Customers whose requests finished in the window, and those who saw one fail or
    /// breach the SLO: in the run and in its baseline (`None`: no customers, or not
    /// collected, when more windows were open at once than are collected).
    pub customers: Option<(CustomerCounts, CustomerCounts)>,
    /// Components, cells and zones impaired in some bucket of the window, of all there are.
    pub components_impaired: u32,
    pub components: u32,
    pub cells_impaired: u32,
    pub cells: u32,
    pub zones_impaired: u32,
    pub zones: u32,
}

/// The tree of impaired components, rooted at the faulted ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cascade {
    /// The largest depth an impaired component reached (0: only faulted components were
    /// impaired, or none).
    pub depth: u32,
    /// Impaired components and the faulted ones the tree hangs from, by depth then component;
    /// the first `MAX_CASCADE_NODES`.
    pub nodes: Vec<CascadeNode>,
    /// Nodes beyond that bound.
    pub nodes_dropped: u64,
}

/// Occurrences of a repeated fault with a record of their own, at most: the later ones are
/// counted (`Impact::occurrences_dropped`), so records do not grow with the run's length.
pub const MAX_OCCURRENCES: usize = 10;

/// Nodes listed in a cascade tree at most.
pub const MAX_CASCADE_NODES: usize = 1000;

/// A component in the cascade tree.
#[derive(Clone, Debug, PartialEq)]
pub struct CascadeNode {
    pub component: u32,
    pub name: String,
    pub faulted: bool,
    /// Impaired in some bucket, and in how many; the start of the first.
    pub impaired_buckets: u64,
    pub first_impaired_ns: Option<Nanos>,
    /// Call-graph distance from the nearest faulted component: upstream (towards callers),
    /// or, when no faulted component is below it, in either direction (`lateral`); `None`:
    /// not connected to any.
    pub depth: Option<u32>,
    pub lateral: bool,
    /// The next component on the way to the nearest faulted one.
    pub parent: Option<u32>,
}
