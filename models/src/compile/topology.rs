//! `[[region]]`, `[network]`, `[cells]` and services' `zones` and `routing`: the zones, the
//! cells' template services expanded into flat copies (`cell-3/api`, before any other check,
//! so that the rest of compilation sees plain services), routers' routing, and the zones each
//! service's instances are spread over.

use super::Checker;
use crate::cells::route::Unhealthy;
use crate::cells::route::MAX_SHARD;
use crate::cells::{Migration, RouteKind, RouteSpec};
use crate::dist::Dist;
use crate::policy::breaker::BreakerSpec;
use crate::scenario::{CallSection, RoutingKind, RoutingSection, ScenarioFile, ServiceSection};
use crate::spec::{Cell, Network, Topology, Zone};
use crate::units::Loc;
use cellsim_sim::NS_PER_US;
use std::collections::{BTreeMap, BTreeSet};

/// The most cells a scenario may have.
pub const MAX_CELLS: u32 = 1000;

/// One-way latency defaults: 0.1 ms within a zone, 0.5 ms between zones (AZs are up to 100
/// km apart: about 0.5 ms of fibre one way), 30 ms between regions.
pub const SAME_ZONE_NS: u64 = 100 * NS_PER_US;
pub const CROSS_ZONE_NS: u64 = 500 * NS_PER_US;
pub const CROSS_REGION_NS: u64 = 30_000 * NS_PER_US;

/// What the topology adds to a compiled scenario.
pub(super) struct Layout {
    pub(super) topology: Topology,
    /// By (flat) service: the zones its instances are spread over, round-robin.
    pub(super) spread: Vec<Vec<u16>>,
    /// By service: its cell.
    pub(super) cell_of: Vec<Option<u16>>,
    pub(super) routes: Vec<RouteSpec>,
    pub(super) zone_ids: BTreeMap<String, u16>,
    pub(super) region_ids: BTreeMap<String, u16>,
    pub(super) cell_ids: BTreeMap<String, u16>,
}

/// The name of cell `k` (from 0) of `count` routed cells: `cell-1` to `cell-N`, and
/// `fallback` for the fallback cell (`k == count`).
pub fn cell_name(k: u32, count: u32) -> String {
    if k == count {
        FALLBACK.to_string()
    } else {
        format!("cell-{}", k + 1)
    }
}

/// The fallback cell's name.
pub const FALLBACK: &str = "fallback";

/// Cell `k`'s copy of template service `service`.
fn copy_name(k: u32, count: u32, service: &str) -> String {
    format!("{}/{service}", cell_name(k, count))
}

impl Checker<'_> {
    /// Checks the topology and expands the cells in `f.services`; `None` without regions (in
    /// which case any topology key is an error).
    pub(super) fn layout(&mut self, f: &mut ScenarioFile) -> Option<Layout> {
        if f.regions.is_empty() {
            self.no_regions(f);
            return None;
        }
        let (regions, zones, region_ids, zone_ids) = self.zones(f);
        let network = self.network(f);
        let first_region: Vec<u16> = (0..zones.len() as u16).filter(|&z| zones[z as usize].region == 0).collect();
        let template = self.template(f);
        // (A count out of range is an error already: one cell is enough to check the rest.)
        let count = f.cells.as_ref().map_or(0, |c| match c.value.count.value {
            n @ 1..=MAX_CELLS => n,
            _ => 1,
        });
        // The routed cells, and the fallback cell after them.
        let all = count + f.cells.as_ref().is_some_and(|c| c.value.fallback.is_some()) as u32;
        let cell_zones = self.cell_zones(f, count, all, &zone_ids, &first_region);
        let instance_overrides = self.instance_overrides(f, count, &template);
        self.check_cell_boundaries(f, &template);
        // Said once above: requests and shared services that name a template service go on
        // as if they named the first cell's copy (no second error for a missing name).
        for w in &mut f.workloads {
            for r in &mut w.value.requests {
                if template.contains(&r.value.target.value) {
                    r.value.target.value = copy_name(0, count, &r.value.target.value);
                }
            }
        }
        for s in f.services.iter_mut().filter(|s| s.value.routing.is_none() && !template.contains(&s.value.name.value))
        {
            let s = &mut s.value;
            for call in s.calls.iter_mut().chain(s.operations.iter_mut().flat_map(|o| o.value.calls.iter_mut())) {
                if template.contains(&call.value.to.value) {
                    call.value.to.value = copy_name(0, count, &call.value.to.value);
                }
            }
        }

        // The flat list: shared services in the file's order, every cell's copies where the
        // first template service was.
        let mut flat: Vec<Loc<ServiceSection>> = Vec::new();
        let mut cell_of = Vec::new();
        let mut placed_cells = false;
        for s in &f.services {
            if !template.contains(&s.value.name.value) {
                flat.push(s.clone());
                cell_of.push(None);
            } else if !placed_cells {
                placed_cells = true;
                for k in 0..all {
                    for t in f.services.iter().filter(|t| template.contains(&t.value.name.value)) {
                        flat.push(copy_of(t, k, count, &template, &instance_overrides));
                        cell_of.push(Some(k as u16));
                    }
                }
            }
        }
        let ids: BTreeMap<String, u32> =
            flat.iter().enumerate().map(|(i, s)| (s.value.name.value.clone(), i as u32)).collect();
        let mut routes = Vec::new();
        for s in flat.iter_mut().filter(|s| s.value.routing.is_some()) {
            let routing = s.value.routing.clone().expect("filtered");
            let path = format!("service.{}.routing", s.value.name.value);
            let calls =
                s.value.calls.iter_mut().chain(s.value.operations.iter_mut().flat_map(|o| o.value.calls.iter_mut()));
            for call in calls.filter(|c| template.contains(&c.value.to.value)) {
                // (A template service that is not declared has no copies: an error already.)
                let targets = (0..all)
                    .map(|k| ids.get(&copy_name(k, count, &call.value.to.value)).copied().unwrap_or(0))
                    .collect();
                let route = self.route(&routing, &path, targets, count, all);
                call.value.route = Some(routes.len() as u32);
                if call.value.name.is_none() {
                    // Named by the template service, as a call to it would be by default.
                    let name = match &call.value.operation {
                        Some(op) => format!("{}/{}", call.value.to.value, op.value),
                        None => call.value.to.value.clone(),
                    };
                    call.value.name = Some(Loc { value: name, span: call.value.to.span.clone() });
                }
                call.value.to.value = copy_name(0, count, &call.value.to.value);
                routes.push(route);
            }
        }
        f.services = flat;

        let cells = (0..all)
            .map(|k| Cell {
                name: cell_name(k, count),
                zones: cell_zones[k as usize].clone(),
                services: cell_of
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == Some(k as u16))
                    .map(|(i, _)| i as u32)
                    .collect(),
            })
            .collect::<Vec<_>>();
        let spread = f
            .services
            .iter()
            .zip(&cell_of)
            .map(|(s, cell)| match &s.value.zones {
                Some(list) => self.zone_list(list, &zone_ids, &format!("service.{}.zones", s.value.name.value)),
                None => cell.map_or_else(|| first_region.clone(), |k| cell_zones[k as usize].clone()),
            })
            .collect();
        let cross_zone_lb = f.network.as_ref().and_then(|n| n.value.cross_zone_load_balancing).unwrap_or(true);
        let cell_ids = cells.iter().enumerate().map(|(k, c)| (c.name.clone(), k as u16)).collect();
        Some(Layout {
            topology: Topology { regions, zones, cells, network, cross_zone_lb },
            spread,
            cell_of,
            routes,
            zone_ids,
            region_ids,
            cell_ids,
        })
    }

    /// Without regions, no key may place anything.
    fn no_regions(&mut self, f: &ScenarioFile) {
        let hint = "declare the zones first: [[region]] name = \"us-east-1\", zones = [\"use1-az1\", \"use1-az2\"]";
        if let Some(c) = &f.cells {
            self.err(c.span.clone(), "cells", "cells are placed in zones, and the scenario has no [[region]]")
                .hint(hint);
        }
        if let Some(n) = &f.network {
            self.err(
                n.span.clone(),
                "network",
                "[network] sets latency between zones, and the scenario has no [[region]]",
            )
            .hint(hint);
        }
        for s in &f.services {
            if let Some(z) = s.value.zones.as_ref().and_then(|z| z.first()) {
                let field = format!("service.{}.zones", s.value.name.value);
                self.err(z.span.clone(), field, "the scenario has no [[region]] to place this service in").hint(hint);
            }
            if let Some(r) = &s.value.routing {
                let field = format!("service.{}.routing", s.value.name.value);
                self.err(r.span.clone(), field, "a router routes to cells, and the scenario has no [cells]")
                    .hint("add [[region]] and [cells] with the template services this router calls");
            }
        }
    }

    /// Regions and zones, with unique names (zones across regions).
    #[allow(clippy::type_complexity)]
    fn zones(&mut self, f: &ScenarioFile) -> (Vec<String>, Vec<Zone>, BTreeMap<String, u16>, BTreeMap<String, u16>) {
        let region_ids: BTreeMap<String, u16> = self
            .unique_names(f.regions.iter().map(|r| &r.value.name), "region")
            .into_iter()
            .map(|(n, i)| (n, i as u16))
            .collect();
        let mut zones = Vec::new();
        let mut zone_ids = BTreeMap::new();
        for (r, region) in f.regions.iter().enumerate() {
            if region.value.zones.is_empty() {
                self.err(
                    region.span.clone(),
                    format!("region.{}.zones", region.value.name.value),
                    "a region needs zones",
                )
                .hint("zones = [\"use1-az1\", \"use1-az2\", \"use1-az3\"]");
            }
            for z in &region.value.zones {
                if zone_ids.contains_key(&z.value) {
                    let field = format!("region.{}.zones", region.value.name.value);
                    self.err(z.span.clone(), field, format!("zone `{}` is declared twice", z.value))
                        .hint("zone names are unique across regions");
                    continue;
                }
                zone_ids.insert(z.value.clone(), zones.len() as u16);
                zones.push(Zone { name: z.value.clone(), region: r as u16 });
            }
        }
        if zones.len() > u16::MAX as usize / 2 {
            self.err(f.regions[0].span.clone(), "region", "at most 32,767 zones");
        }
        (f.regions.iter().map(|r| r.value.name.value.clone()).collect(), zones, region_ids, zone_ids)
    }

    fn network(&mut self, f: &ScenarioFile) -> Network {
        let constant = |ns| Dist::Constant(ns);
        let Some(n) = &f.network else {
            return Network {
                same_zone: constant(SAME_ZONE_NS),
                cross_zone: constant(CROSS_ZONE_NS),
                cross_region: constant(CROSS_REGION_NS),
                client: None,
            };
        };
        let n = &n.value;
        let mut dist = |d: &Option<Loc<crate::scenario::DistSection>>, key: &str, default: u64| match d {
            Some(d) => self.dist(d, &format!("network.{key}")),
            None => constant(default),
        };
        Network {
            same_zone: dist(&n.same_zone, "same_zone", SAME_ZONE_NS),
            cross_zone: dist(&n.cross_zone, "cross_zone", CROSS_ZONE_NS),
            cross_region: dist(&n.cross_region, "cross_region", CROSS_REGION_NS),
            client: n.client.as_ref().map(|d| self.dist(d, "network.client")),
        }
    }

    /// The template services' names, each declared as a service, each once.
    fn template(&mut self, f: &ScenarioFile) -> BTreeSet<String> {
        let Some(cells) = &f.cells else { return BTreeSet::new() };
        let cells = &cells.value;
        if cells.count.value == 0 || cells.count.value > MAX_CELLS {
            let message = format!("count must be from 1 to {MAX_CELLS}, not {}", cells.count.value);
            self.err(cells.count.span.clone(), "cells.count", message).hint("count = 8 makes cell-1 to cell-8");
        }
        if cells.services.is_empty() {
            self.err(cells.count.span.clone(), "cells.services", "cells need template services")
                .hint("services = [\"api\", \"db\"]: every cell gets a copy of each");
        }
        let declared: BTreeMap<String, u32> =
            f.services.iter().enumerate().map(|(i, s)| (s.value.name.value.clone(), i as u32)).collect();
        let mut template = BTreeSet::new();
        for s in &cells.services {
            self.resolve("service", s, &declared, "cells.services".into());
            if !template.insert(s.value.clone()) {
                self.err(s.span.clone(), "cells.services", format!("`{}` is listed twice", s.value));
            }
        }
        template
    }

    /// Each cell's zones: its override, the cells' `zones`, or the first region's.
    fn cell_zones(
        &mut self,
        f: &ScenarioFile,
        count: u32,
        all: u32,
        zone_ids: &BTreeMap<String, u16>,
        first_region: &[u16],
    ) -> Vec<Vec<u16>> {
        let Some(cells) = &f.cells else { return Vec::new() };
        let cells = &cells.value;
        let default = match &cells.zones {
            Some(list) => self.zone_list(list, zone_ids, "cells.zones"),
            None => first_region.to_vec(),
        };
        let mut zones = vec![default; all as usize];
        if let Some(list) = cells.fallback.as_ref().and_then(|f| f.value.zones.as_ref()) {
            zones[count as usize] = self.zone_list(list, zone_ids, "cells.fallback.zones");
        }
        for c in &cells.cells {
            if let (Some(k), Some(list)) = (self.cell_index(&c.value.name, count), &c.value.zones) {
                zones[k as usize] = self.zone_list(list, zone_ids, &format!("cells.cell.{}.zones", c.value.name.value));
            }
        }
        zones
    }

    /// The cell `cell-k` names (from 0), or an error.
    fn cell_index(&mut self, name: &Loc<String>, count: u32) -> Option<u32> {
        let k = name.value.strip_prefix("cell-").and_then(|k| k.parse::<u32>().ok()).filter(|&k| k >= 1 && k <= count);
        if k.is_none() {
            let message = format!("no cell is named `{}`", name.value);
            self.err(name.span.clone(), "cells.cell.name", message)
                .hint(format!("cells are named cell-1 to cell-{count}"));
        }
        k.map(|k| k - 1)
    }

    /// Zone names to ids; an error for each unknown one and for an empty list.
    fn zone_list(&mut self, list: &[Loc<String>], zone_ids: &BTreeMap<String, u16>, field: &str) -> Vec<u16> {
        let mut out = Vec::new();
        for z in list {
            match zone_ids.get(&z.value) {
                Some(&id) => out.push(id),
                None => {
                    self.resolve(
                        "zone",
                        z,
                        &zone_ids.iter().map(|(k, &v)| (k.clone(), v as u32)).collect(),
                        field.into(),
                    );
                }
            }
        }
        if list.is_empty() {
            let known = zone_ids.keys().cloned().collect::<Vec<_>>().join("\", \"");
            self.err(0..0, field, "the list of zones is empty").hint(format!("for example zones = [\"{known}\"]"));
        }
        if out.is_empty() {
            out.push(0);
        }
        out
    }

    /// By cell (from 0), instances of template services that differ from the template.
    fn instance_overrides(
        &mut self,
        f: &ScenarioFile,
        count: u32,
        template: &BTreeSet<String>,
    ) -> BTreeMap<(u32, String), u32> {
        let mut out = BTreeMap::new();
        let Some(cells) = &f.cells else { return out };
        let mut seen = BTreeSet::new();
        let mut lists = Vec::new();
        for c in &cells.value.cells {
            let Some(k) = self.cell_index(&c.value.name, count) else { continue };
            if !seen.insert(k) {
                self.err(
                    c.value.name.span.clone(),
                    "cells.cell.name",
                    format!("`{}` is overridden twice", c.value.name.value),
                );
            }
            if let Some(instances) = &c.value.instances {
                lists.push((k, format!("cells.cell.{}", c.value.name.value), instances));
            }
        }
        // The fallback cell comes after the routed ones.
        if let Some(instances) = cells.value.fallback.as_ref().and_then(|f| f.value.instances.as_ref()) {
            lists.push((count, "cells.fallback".to_string(), instances));
        }
        for (k, path, instances) in lists {
            for (service, &n) in &instances.value {
                let field = format!("{path}.instances.{service}");
                if !template.contains(service) {
                    let listed = template.iter().cloned().collect::<Vec<_>>().join(", ");
                    self.err(instances.span.clone(), field, format!("`{service}` is not a template service"))
                        .hint(format!("the template services are: {listed}"));
                } else if n == 0 || n > super::service::MAX_INSTANCES {
                    let message = format!("instances must be from 1 to {}, not {n}", super::service::MAX_INSTANCES);
                    self.err(instances.span.clone(), field, message);
                } else if f.services.iter().any(|s| &s.value.name.value == service && s.value.weights.is_some()) {
                    let message = format!(
                        "`{service}` balances with one weight per instance: its instances cannot differ by cell"
                    );
                    self.err(instances.span.clone(), field, message)
                        .hint("drop `weights` (and the weighted balancer) from the service, or this override");
                } else {
                    out.insert((k, service.clone()), n);
                }
            }
        }
        out
    }

    /// Cells are entered through routers only: no request targets a template service, no
    /// shared service other than a router calls one, a router is not in the template, and a
    /// router calls into the cells.
    fn check_cell_boundaries(&mut self, f: &ScenarioFile, template: &BTreeSet<String>) {
        for w in &f.workloads {
            for r in &w.value.requests {
                if template.contains(&r.value.target.value) {
                    let field = format!("workload.{}.request.{}.target", w.value.name.value, r.value.name.value);
                    let message =
                        format!("`{}` is a cell service: requests reach cells through a router", r.value.target.value);
                    self.err(r.value.target.span.clone(), field, message)
                        .hint("target a service with `routing = { kind = \"hash\" }` that calls it");
                }
            }
        }
        for s in &f.services {
            let s = &s.value;
            let name = &s.name.value;
            let in_template = template.contains(name);
            if in_template {
                // A call to no declared service, said once with the template's names (each
                // copy would say it again with the cells' names).
                let declared: BTreeMap<String, u32> =
                    f.services.iter().map(|s| (s.value.name.value.clone(), 0)).collect();
                for call in s.all_calls().filter(|c| !declared.contains_key(&c.value.to.value)) {
                    self.resolve("service", &call.value.to, &declared, format!("service.{name}.call.to"));
                }
                if let Some(r) = &s.routing {
                    self.err(
                        r.span.clone(),
                        format!("service.{name}.routing"),
                        "a router cannot be in the cells' template",
                    )
                    .hint("a router is shared: remove it from [cells] services");
                }
                continue;
            }
            let into_cells: Vec<&Loc<CallSection>> =
                s.all_calls().filter(|c| template.contains(&c.value.to.value)).collect();
            match (&s.routing, into_cells.first()) {
                (None, Some(call)) => {
                    let message = format!(
                        "`{name}` is shared and `{}` is a cell service: only a router calls into cells",
                        call.value.to.value
                    );
                    self.err(call.value.to.span.clone(), format!("service.{name}.call.to"), message).hint(format!(
                        "add `routing = {{ kind = \"hash\" }}` to `{name}`, or add it to [cells] services"
                    ));
                }
                (Some(r), None) if !template.is_empty() => {
                    self.err(r.span.clone(), format!("service.{name}.routing"), "this router calls no cell service")
                        .hint("give it a [[service.call]] whose `to` is one of [cells] services");
                }
                (Some(r), None) => {
                    self.err(
                        r.span.clone(),
                        format!("service.{name}.routing"),
                        "a router routes to cells, and the scenario has no [cells]",
                    )
                    .hint("add [cells] with count and the template services this router calls");
                }
                _ => {}
            }
        }
    }

    /// A router's routing into `count` cells whose copies of the called service are
    /// `targets`.
    fn route(&mut self, r: &Loc<RoutingSection>, path: &str, targets: Vec<u32>, count: u32, all: u32) -> RouteSpec {
        let routing = &r.value;
        let kind = match routing.kind {
            RoutingKind::Hash => RouteKind::Hash,
            RoutingKind::Buckets => {
                let buckets = match &routing.buckets {
                    Some(b) if b.value == 0 || b.value > 1_000_000 => {
                        let message = format!("buckets must be from 1 to 1,000,000, not {}", b.value);
                        self.err(b.span.clone(), format!("{path}.buckets"), message)
                            .hint("tens of thousands of buckets let migrations move small slices");
                        10_000
                    }
                    Some(b) => b.value,
                    None => 10_000,
                };
                let mut migrations = Vec::new();
                for m in &routing.migrations {
                    let m = &m.value;
                    let field = format!("{path}.migration");
                    if m.first.value > m.last.value || m.last.value >= buckets {
                        let message =
                            format!("buckets {}..={} are not within 0..={}", m.first.value, m.last.value, buckets - 1);
                        self.err(m.first.span.clone(), format!("{field}.first"), message)
                            .hint("first and last are bucket numbers, first <= last < buckets");
                    }
                    let to = self.cell_index(&m.to, count).unwrap_or(0) as u16;
                    migrations.push(Migration { at_ns: m.at.value.ns(), first: m.first.value, last: m.last.value, to });
                }
                migrations.sort_by_key(|m| m.at_ns);
                RouteKind::Buckets { buckets, migrations }
            }
            RoutingKind::ShuffleShard => {
                let k = match &routing.shard_size {
                    Some(k) if k.value == 0 || k.value > count.min(MAX_SHARD) => {
                        let message = format!(
                            "shard_size must be from 1 to {} (the cells, at most {MAX_SHARD}), not {}",
                            count.min(MAX_SHARD),
                            k.value
                        );
                        self.err(k.span.clone(), format!("{path}.shard_size"), message)
                            .hint("a shard is a few of the cells: 2 of 8 gives 28 distinct shards");
                        1
                    }
                    Some(k) => k.value,
                    None => 2.min(count),
                };
                RouteKind::ShuffleShard { shard_size: k }
            }
        };
        if routing.kind != RoutingKind::Buckets {
            if let Some(b) = &routing.buckets {
                self.err(b.span.clone(), format!("{path}.buckets"), "buckets belong to kind = \"buckets\"");
            }
            if let Some(m) = routing.migrations.first() {
                self.err(
                    m.span.clone(),
                    format!("{path}.migration"),
                    "migrations move buckets: kind = \"buckets\" only",
                );
            }
        }
        if routing.kind != RoutingKind::ShuffleShard {
            if let Some(k) = &routing.shard_size {
                self.err(
                    k.span.clone(),
                    format!("{path}.shard_size"),
                    "shard_size belongs to kind = \"shuffle-shard\"",
                );
            }
        }
        let mut pinned = Vec::new();
        if let Some(customers) = &routing.customers {
            for (id, cell) in &customers.value {
                let field = format!("{path}.customers.{id}");
                let Ok(id) = id.parse::<u32>() else {
                    self.err(customers.span.clone(), field, format!("`{id}` is not a customer id"))
                        .hint("customer ids are whole numbers from 0, written as keys: { \"42\" = \"cell-3\" }");
                    continue;
                };
                let cell = Loc { value: cell.clone(), span: customers.span.clone() };
                if let Some(k) = self.cell_index(&cell, count) {
                    pinned.push((id, k as u16));
                }
            }
        }
        pinned.sort();
        let health = self.cell_health(routing, path, count, all);
        RouteSpec { kind, targets, routed: count, pinned, health }
    }

    /// A router's breaker per cell and where an unhealthy cell's traffic goes.
    fn cell_health(
        &mut self,
        routing: &RoutingSection,
        path: &str,
        count: u32,
        all: u32,
    ) -> Option<(BreakerSpec, Unhealthy)> {
        let has_fallback = all > count;
        let Some(b) = &routing.breaker else {
            if let Some(f) = &routing.fallback {
                self.err(
                    f.span.clone(),
                    format!("{path}.fallback"),
                    "a fallback needs a health signal: the router's breaker",
                )
                .hint("add breaker = { kind = \"resilience4j\" } to routing: a cell whose breaker opens is bypassed");
            }
            return None;
        };
        // One breaker per cell, at the router: a `scope` does not apply.
        if b.value.scope.is_some() {
            self.err(
                b.span.clone(),
                format!("{path}.breaker.scope"),
                "a router keeps one breaker per cell: scope does not apply",
            )
            .hint("remove `scope` from the router's breaker");
        }
        let breaker = self.breaker(b, &format!("{path}.breaker"));
        let unhealthy = match &routing.fallback {
            None if has_fallback => Unhealthy::Fallback(count as u16),
            None => Unhealthy::Spread,
            Some(f) if f.value == "spread" => Unhealthy::Spread,
            Some(f) if f.value == FALLBACK && has_fallback => Unhealthy::Fallback(count as u16),
            Some(f) => {
                let field = format!("{path}.fallback");
                let routed = f
                    .value
                    .strip_prefix("cell-")
                    .and_then(|k| k.parse::<u32>().ok())
                    .is_some_and(|k| k >= 1 && k <= count);
                if routed {
                    self.err(f.span.clone(), field, format!("`{}` is a routed cell: a fallback cell takes no customers of its own", f.value))
                        .hint("declare [cells.fallback] (a cell named `fallback` that hashing never picks) and write fallback = \"fallback\"");
                } else if f.value == FALLBACK {
                    self.err(f.span.clone(), field, "the scenario has no fallback cell")
                        .hint("declare [cells.fallback], or write fallback = \"spread\"");
                } else {
                    self.err(f.span.clone(), field, format!("`{}` is neither \"fallback\" nor \"spread\"", f.value))
                        .hint("fallback = \"fallback\" sends an unhealthy cell's traffic to the fallback cell; \"spread\" over the healthy cells");
                }
                Unhealthy::Spread
            }
        };
        Some((breaker.spec, unhealthy))
    }
}

/// Cell `k`'s copy of template service `t`: renamed, its calls to template services renamed
/// to this cell's copies, its instances overridden.
fn copy_of(
    t: &Loc<ServiceSection>,
    k: u32,
    count: u32,
    template: &BTreeSet<String>,
    overrides: &BTreeMap<(u32, String), u32>,
) -> Loc<ServiceSection> {
    let mut copy = t.clone();
    let s = &mut copy.value;
    if let Some(&n) = overrides.get(&(k, s.name.value.clone())) {
        match &mut s.instances {
            Some(i) => i.value = n,
            None => s.instances = Some(Loc { value: n, span: s.name.span.clone() }),
        }
    }
    s.name.value = copy_name(k, count, &s.name.value);
    let rename = |name: &mut String| {
        if template.contains(name.as_str()) {
            *name = copy_name(k, count, name);
        }
    };
    for call in s.calls.iter_mut().chain(s.operations.iter_mut().flat_map(|o| o.value.calls.iter_mut())) {
        rename(&mut call.value.to.value);
    }
    if let Some(d) = s.health_check.as_mut().and_then(|h| h.value.dependency.as_mut()) {
        rename(&mut d.value);
    }
    copy
}
