//! The topology at run time: each instance's zone, each service's instances by zone (for
//! calls kept in their caller's zone), the cell routers, and what is counted per zone, per
//! cell and per customer. A leaf: it answers the hub and records; it schedules nothing.

use super::record::Bucket;
use crate::cells::route::HealthChange;
use crate::cells::Router;
use crate::metrics::{CellHealthChange, Integral, LatencyRecorder, PlaceStats, RouterStats, TopologyStats};
use crate::outcome::{Outcome, Outcomes};
use crate::policy::breaker::State;
use crate::spec::Spec;

/// The most changes of routers' views of cells a run keeps (the rest are counted).
pub(super) const MAX_HEALTH_CHANGES: usize = 1000;

/// Outcomes and latency counted at one place (a zone's jobs, or a cell's routed calls).
#[derive(Default)]
pub(super) struct PlaceRecord {
    pub(super) outcomes: Outcomes,
    /// Of successes.
    pub(super) latency: LatencyRecorder,
}

impl PlaceRecord {
    #[inline]
    pub(super) fn record(&mut self, outcome: Outcome, latency_ns: u64) {
        self.outcomes.add(outcome);
        if outcome.is_success() {
            self.latency.record(latency_ns);
        }
    }
}

pub(super) struct TopoRt {
    /// By global instance: its zone.
    pub(super) zone_of: Vec<u16>,
    pub(super) cross_zone_lb: bool,
    /// By service, by zone: its instances there (indices within the service), for calls
    /// kept in their zone (only then).
    by_zone: Vec<Vec<Vec<u32>>>,
    /// By route (`Spec::routes`).
    pub(super) routers: Vec<Router>,
    /// The routers' breakers' changes of state, in time order (the first
    /// `MAX_HEALTH_CHANGES`; later ones are counted in `health_changes_dropped`).
    pub(super) health_changes: Vec<HealthChange>,
    pub(super) health_changes_dropped: u64,
    /// By global customer, two bits side by side (one cache line serves both): bit 2c of
    /// the array, sent a counted request; bit 2c + 1, saw a failure in one.
    customer_bits: Vec<u64>,
    /// By zone: the counted jobs of its instances.
    pub(super) zones: Vec<PlaceRecord>,
    /// By cell: the counted calls routers sent there (their final attempt's cell).
    pub(super) cells: Vec<PlaceRecord>,
    /// The zones' and cells' current buckets of the series (warm-up included).
    pub(super) zone_buckets: Vec<Bucket>,
    pub(super) cell_buckets: Vec<Bucket>,
}

impl TopoRt {
    /// `None` without a topology.
    pub(super) fn new(spec: &Spec) -> Option<TopoRt> {
        let topology = spec.topology.as_ref()?;
        let zones = topology.zones.len();
        let zone_of = spec.services.iter().flat_map(|s| s.zones.iter().copied()).collect();
        let mut by_zone = Vec::new();
        if !topology.cross_zone_lb {
            for s in &spec.services {
                let mut lists = vec![Vec::new(); zones];
                for (i, &z) in s.zones.iter().enumerate() {
                    lists[z as usize].push(i as u32);
                }
                by_zone.push(lists);
            }
        }
        let customers = spec.customers() as usize;
        Some(TopoRt {
            zone_of,
            cross_zone_lb: topology.cross_zone_lb,
            by_zone,
            routers: spec.routes.iter().cloned().enumerate().map(|(r, s)| Router::numbered(s, r as u32)).collect(),
            health_changes: Vec::new(),
            health_changes_dropped: 0,
            customer_bits: vec![0; customers.div_ceil(32)],
            zones: (0..zones).map(|_| PlaceRecord::default()).collect(),
            cells: topology.cells.iter().map(|_| PlaceRecord::default()).collect(),
            zone_buckets: (0..zones).map(|_| Bucket::default()).collect(),
            cell_buckets: topology.cells.iter().map(|_| Bucket::default()).collect(),
        })
    }

    /// Keeps the routers' record of changes within `MAX_HEALTH_CHANGES`, counting the rest.
    #[inline]
    pub(super) fn bound_health_changes(&mut self) {
        if self.health_changes.len() > MAX_HEALTH_CHANGES {
            self.health_changes_dropped += (self.health_changes.len() - MAX_HEALTH_CHANGES) as u64;
            self.health_changes.truncate(MAX_HEALTH_CHANGES);
        }
    }

    /// The instances (within the service) of `service` in `zone`.
    pub(super) fn zone_list(&self, service: u32, zone: u16) -> &[u32] {
        &self.by_zone[service as usize][zone as usize]
    }

    /// A counted request of `customer` ended with `outcome`.
    #[inline]
    pub(super) fn customer_done(&mut self, customer: u32, outcome: Outcome) {
        let (word, shift) = ((customer / 32) as usize, 2 * (customer % 32));
        if let Some(w) = self.customer_bits.get_mut(word) {
            *w |= (1 | (!outcome.is_success() as u64) << 1) << shift;
        }
    }

    /// Customers who sent a counted request, and those of them who saw a failure.
    pub(super) fn customers(&self) -> (u64, u64) {
        const SENT: u64 = 0x5555_5555_5555_5555;
        let count = |mask: u64| self.customer_bits.iter().map(|w| (w & mask).count_ones() as u64).sum();
        (count(SENT), count(SENT << 1))
    }

    /// The zones' and cells' records as statistics, in the spec's order; `busy_ns` by global
    /// instance.
    pub(super) fn into_stats(self, spec: &Spec, busy_ns: &[u128]) -> TopologyStats {
        let customers = self.customers();
        let topology = spec.topology.as_ref().expect("a topology");
        // By zone and by cell: instances, workers, busy time.
        let mut zone_use = vec![(0u64, 0u64, 0u128); topology.zones.len()];
        let mut cell_use = vec![(0u64, 0u64, 0u128); topology.cells.len()];
        let mut global = 0;
        for s in &spec.services {
            for &z in &s.zones {
                let add = |u: &mut (u64, u64, u128)| {
                    u.0 += 1;
                    u.1 += s.workers as u64;
                    u.2 += busy_ns[global];
                };
                add(&mut zone_use[z as usize]);
                if let Some(c) = s.cell {
                    add(&mut cell_use[c as usize]);
                }
                global += 1;
            }
        }
        let stats = |names: Vec<String>, records: Vec<PlaceRecord>, uses: Vec<(u64, u64, u128)>| {
            names
                .into_iter()
                .zip(records)
                .zip(uses)
                .map(|((name, r), (instances, workers, busy))| PlaceStats {
                    name,
                    outcomes: r.outcomes,
                    latency: r.latency.into_histogram(),
                    instances,
                    workers,
                    busy: Integral(busy),
                })
                .collect()
        };
        // The routers, in the order of their calls.
        let routed: Vec<(usize, &crate::spec::CallSpec)> =
            spec.calls.iter().filter_map(|c| c.route.map(|r| (r as usize, c))).collect();
        let name_of = |r: usize| {
            routed.iter().find(|(i, _)| *i == r).map_or((String::new(), String::new()), |(_, c)| {
                let router = c.from.map_or(String::new(), |(s, _)| spec.services[s as usize].name.clone());
                (router, c.name.rsplit("/call/").next().unwrap_or(&c.name).to_string())
            })
        };
        let routers = self
            .routers
            .iter()
            .enumerate()
            .map(|(r, router)| {
                let (router_name, call) = name_of(r);
                RouterStats { router: router_name, call, redirected: router.redirected, openings: router.openings() }
            })
            .collect();
        let health_changes = self
            .health_changes
            .iter()
            .map(|c| CellHealthChange {
                at_ns: c.at_ns,
                router: name_of(c.route as usize).0,
                cell: topology.cells[c.cell as usize].name.clone(),
                state: match c.state {
                    State::Open => "open",
                    State::HalfOpen => "half-open",
                    State::Closed => "closed",
                },
            })
            .collect();
        TopologyStats {
            zones: stats(topology.zones.iter().map(|z| z.name.clone()).collect(), self.zones, zone_use),
            cells: stats(topology.cells.iter().map(|c| c.name.clone()).collect(), self.cells, cell_use),
            customers: customers.0,
            customers_failed: customers.1,
            routers,
            health_changes,
            health_changes_dropped: self.health_changes_dropped,
        }
    }

    /// Heap bytes of a model's topology state for `spec` (the latency records excepted: the
    /// estimate counts those with the others).
    pub fn heap_bytes(spec: &Spec) -> u64 {
        let Some(t) = spec.topology.as_ref() else { return 0 };
        let instances: u64 = spec.services.iter().map(|s| s.instances as u64).sum();
        let zoned =
            if t.cross_zone_lb { 0 } else { spec.services.len() as u64 * t.zones.len() as u64 * 56 + instances * 4 };
        let routers: u64 = spec.routes.iter().map(|r| 2 * r.heap_bytes()).sum();
        instances * 2 + zoned + routers + spec.customers().div_ceil(32) * 8
    }
}
