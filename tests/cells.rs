//! Cells, zones and routers in whole runs, against hand-computed answers: one cell of ten
//! down leaves 90% of customers untouched; shuffle sharding's isolation (a customer fails
//! only when its whole shard is down); placement latency; the streams of one cell do not
//! move when another cell is added.

use crate::support::{run, service};
use cellsim_models::cells::{RouteKind, RouteSpec, Router};

/// `cells` cells of api -> db behind a router of `routing`, `customers` customers at
/// `rate_per_s` for 60 s (5 s warm-up), client retries `attempts`, and `extra` (faults).
fn cells(cells: u32, routing: &str, customers: u64, rate_per_s: u32, attempts: u32, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "cells"
duration = "60s"
warmup = "5s"

[[region]]
name = "r"
zones = ["a", "b", "c"]

[cells]
count = {cells}
services = ["api", "db"]

[[workload]]
name = "w"
customers = {customers}
arrival = {{ process = "poisson", rate_per_s = {rate_per_s} }}

[[workload.request]]
name = "get"
target = "router"
timeout = "1s"

[[service]]
name = "router"
instances = 3
workers = 64
service_time = {{ dist = "constant", value = "0.1ms" }}
routing = {routing}

[[service.call]]
to = "api"
timeout = "500ms"
retry = {{ max_attempts = {attempts} }}

[[service]]
name = "api"
instances = 3
workers = 8
service_time = {{ dist = "exponential", mean = "2ms" }}

[[service.call]]
to = "db"

[[service]]
name = "db"
instances = 3
workers = 8
service_time = {{ dist = "exponential", mean = "1ms" }}
{extra}
"#
    )
}

fn outage(target: &str) -> String {
    format!("\n[[fault]]\nkind = \"outage\"\n{target}\nstart = \"0s\"\nduration = \"10m\"\n")
}

/// Well-Architected REL10: with 10 cells, a failure of one leaves 90% unaffected. Hashing
/// spreads 10,000 customers over ten cells: the share whose cell is down is binomial around
/// 10% (sd 0.3%), and every customer sends about 20 requests, so each one who can fail does.
#[test]
fn ten_cells_one_down_leave_ninety_percent_of_customers_untouched() {
    let r = run(&cells(10, "{ kind = \"hash\" }", 10_000, 4000, 1, &outage("cell = \"cell-3\"")));
    let t = r.topology.as_ref().expect("a topology is reported");
    assert!(t.customers >= 9_990, "nearly every customer sent a request: {}", t.customers);
    // The exact count: customers hashed into cell-3 (index 2).
    let mut router = Router::new(RouteSpec { kind: RouteKind::Hash, targets: (0..10).collect(), pinned: vec![] });
    let in_cell_3 = (0..10_000).filter(|&c| router.cell(c, 1, 0) == 2).count() as u64;
    assert!((in_cell_3 as f64 / 10_000.0 - 0.1).abs() < 5.0 * 0.003, "{in_cell_3}");
    assert!(
        t.customers_failed <= in_cell_3 && t.customers_failed + 5 >= in_cell_3,
        "{} of {in_cell_3}",
        t.customers_failed
    );
    let share = 1.0 - t.customers_failed as f64 / t.customers as f64;
    assert!((share - 0.9).abs() < 0.015, "{share} of customers saw no failure");
    // Every other cell answered everything; the dead cell nothing.
    for (k, c) in t.cells.iter().enumerate() {
        let ok = c.outcomes.successes();
        if k == 2 {
            assert_eq!(ok, 0, "{}", c.name);
        } else {
            assert_eq!(ok, c.outcomes.total(), "{}", c.name);
        }
    }
}

/// Reference section 4: shuffle shards of 2 of 8 give 28 distinct shards; with the two
/// members of one shard down and a retry, a customer's request fails only when both its
/// attempts meet a dead cell, that is exactly when its shard is that pair: 1/28 of them
/// (against 1/4 with four plain shards of two).
#[test]
fn shuffle_sharding_fails_only_the_customers_whose_whole_shard_is_down() {
    let faults = outage("cell = \"cell-2\"") + &outage("cell = \"cell-6\"");
    let r = run(&cells(8, "{ kind = \"shuffle-shard\", shard_size = 2 }", 10_000, 4000, 2, &faults));
    let t = r.topology.as_ref().unwrap();
    let spec = RouteSpec { kind: RouteKind::ShuffleShard { shard_size: 2 }, targets: (0..8).collect(), pinned: vec![] };
    let router = Router::new(spec);
    let exact = (0..10_000u32)
        .filter(|&c| {
            let mut s = router.shard(c);
            s.sort();
            s == [1, 5]
        })
        .count() as u64;
    // 10,000 / 28 = 357, sd about 18.
    assert!((exact as f64 - 10_000.0 / 28.0).abs() < 5.0 * 18.5, "{exact}");
    assert!(
        t.customers_failed <= exact && t.customers_failed + 5 >= exact,
        "{} failed, {exact} have that shard",
        t.customers_failed
    );
    // Without shuffling: hashing into 8 cells, two of them down, fails 2/8 of customers.
    let plain = run(&cells(8, "{ kind = \"hash\" }", 10_000, 4000, 2, &faults));
    let p = plain.topology.as_ref().unwrap();
    let share = p.customers_failed as f64 / p.customers as f64;
    assert!((share - 0.25).abs() < 5.0 * 0.0044, "{share}");
}

/// Latency by placement: a client (none by default) to a router in three zones, which calls
/// a service in one zone: a third of its calls stay in the zone (0.1 ms each way), two
/// thirds cross (0.5 ms each way). Constant work: the mean is exact.
#[test]
fn placement_sets_the_latency_of_a_call() {
    let text = r#"
[scenario]
name = "placed"
duration = "30s"

[[region]]
name = "r"
zones = ["a", "b", "c"]

[[workload]]
name = "w"
arrival = { process = "constant", rate_per_s = 300 }

[[workload.request]]
name = "get"
target = "front"

[[service]]
name = "front"
instances = 3
workers = 100
service_time = { dist = "constant", value = "1ms" }

[[service.call]]
to = "db"

[[service]]
name = "db"
zones = ["a"]
workers = 100
service_time = { dist = "constant", value = "1ms" }
"#;
    let r = run(text);
    let front = service(&r, "front");
    // front's instances sit in a, b, c (round robin); the db in a. Per request: 1 ms of
    // front, 1 ms of db, and 2 x (0.1 ms from a, 0.5 ms from b or c): 2.2 or 3.0 ms.
    let mean_ms = front.sojourn.mean() / 1e6;
    let expected_ms = 2.0 + (0.2 + 2.0 * 1.0) / 3.0;
    assert!((mean_ms - expected_ms).abs() < 0.01, "{mean_ms} against {expected_ms}");
    let t = r.topology.as_ref().unwrap();
    assert_eq!(t.zones.iter().map(|z| z.instances).collect::<Vec<_>>(), [2, 1, 1]);
    assert!(t.cells.is_empty());
}

/// Adding a cell leaves every other cell's random streams where they were: with one customer
/// pinned to cell-1, cell-1's work is the same, draw for draw, with 3 cells and with 4.
#[test]
fn adding_a_cell_does_not_move_another_cells_streams() {
    let pinned = "{ kind = \"hash\", customers = { \"0\" = \"cell-1\" } }";
    let a = run(&cells(3, pinned, 1, 500, 1, ""));
    let b = run(&cells(4, pinned, 1, 500, 1, ""));
    for name in ["cell-1/api", "cell-1/db"] {
        let (x, y) = (service(&a, name), service(&b, name));
        assert!(x.arrivals > 20_000);
        assert_eq!((x.arrivals, &x.sojourn, x.outcomes), (y.arrivals, &y.sojourn, y.outcomes), "{name}");
    }
    assert_eq!(service(&b, "cell-4/api").arrivals, 0);
}
