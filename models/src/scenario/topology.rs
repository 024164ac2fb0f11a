//! The topology's tables: `[[region]]`, `[network]`, `[cells]` and a router's `routing`.

use super::{BreakerSection, DistSection};
use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

/// A region and its availability zones.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionSection {
    pub name: Loc<String>,
    /// The zones' names, unique across regions (e.g. "use1-az1").
    pub zones: Vec<Loc<String>>,
}

/// One-way network latency by where the two ends are placed; a call's own `latency`
/// replaces it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Both ends in one zone. Default constant 0.1 ms.
    pub same_zone: Option<Loc<DistSection>>,
    /// Two zones of one region. Default constant 0.5 ms.
    pub cross_zone: Option<Loc<DistSection>>,
    /// Two regions. Default constant 30 ms.
    pub cross_region: Option<Loc<DistSection>>,
    /// A client (outside the zones) to the service it calls. Default: none.
    pub client: Option<Loc<DistSection>>,
    /// A caller's calls go to instances in every zone (true, as an ALB has it by default) or
    /// only in the caller's own zone (false). Default true.
    pub cross_zone_load_balancing: Option<bool>,
}

/// The cells: `count` copies of the template services, named `cell-1/api` and so on.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CellsSection {
    /// How many cells. 1 to 1,000.
    pub count: Loc<u32>,
    /// The template: the services every cell has a copy of.
    pub services: Vec<Loc<String>>,
    /// The zones each cell spans. Default: every zone of the first region.
    pub zones: Option<Vec<Loc<String>>>,
    /// Per-cell overrides.
    #[serde(default, rename = "cell")]
    pub cells: Vec<Loc<CellSection>>,
    /// A fallback cell, named `fallback`: a copy of the template that routers never pick by
    /// hashing, which takes an unhealthy cell's traffic.
    pub fallback: Option<Loc<FallbackCellSection>>,
}

/// The fallback cell's differences from the template.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackCellSection {
    /// The zones it spans. Default: the cells' zones.
    pub zones: Option<Vec<Loc<String>>>,
    /// Instances of template services in it, by service name (a smaller fallback cell).
    pub instances: Option<Loc<std::collections::BTreeMap<String, u32>>>,
}

/// One cell's differences from the template.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CellSection {
    /// `cell-1` to `cell-N`.
    pub name: Loc<String>,
    /// The zones this cell spans.
    pub zones: Option<Vec<Loc<String>>>,
    /// Instances of template services in this cell, by service name.
    pub instances: Option<Loc<std::collections::BTreeMap<String, u32>>>,
}

/// How a router maps a request's customer to a cell.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RoutingKind {
    /// A hash of the customer id, scaled onto the cells (uniform, like a modulo).
    Hash,
    /// A hash of the customer id, scaled onto `buckets`; a table maps buckets to cells.
    Buckets,
    /// Each customer gets `shard_size` of the cells, chosen by a hash of the id.
    ShuffleShard,
}

/// A router's routing: its calls to template services go to the customer's cell.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    pub kind: RoutingKind,
    /// buckets: how many logical buckets. Default 10,000.
    pub buckets: Option<Loc<u32>>,
    /// shuffle-shard: cells per customer. Default 2.
    pub shard_size: Option<Loc<u32>>,
    /// Named customers pinned to a cell: `{ "42" = "cell-3" }` (ids as strings).
    pub customers: Option<Loc<std::collections::BTreeMap<String, String>>>,
    /// buckets: moves of buckets to other cells at set times.
    #[serde(default, rename = "migration")]
    pub migrations: Vec<Loc<MigrationSection>>,
    /// The router's health signal per cell: a circuit breaker on the calls it sends there.
    /// While a cell's is open, its traffic goes elsewhere (see `fallback`).
    pub breaker: Option<Loc<BreakerSection>>,
    /// Where an unhealthy cell's traffic goes: "fallback" (the fallback cell, the default
    /// when there is one) or "spread" (the healthy cells, by hash of the customer).
    pub fallback: Option<Loc<String>>,
}

/// Buckets `first..=last` move to cell `to` at `at`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationSection {
    pub at: Loc<Duration>,
    pub first: Loc<u32>,
    pub last: Loc<u32>,
    pub to: Loc<String>,
}
