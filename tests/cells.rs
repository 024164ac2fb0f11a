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
    let mut router = Router::new(RouteSpec {
        kind: RouteKind::Hash,
        targets: (0..10).collect(),
        routed: 10,
        pinned: vec![],
        health: None,
    });
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
    let spec = RouteSpec {
        kind: RouteKind::ShuffleShard { shard_size: 2 },
        targets: (0..8).collect(),
        routed: 8,
        pinned: vec![],
        health: None,
    };
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

/// Four cells and a fallback cell behind a router whose per-cell Resilience4j breaker trips
/// at 50% of the last 20 calls (10 at least) and waits 5 s open; cell-2 is down from 20 s to
/// 40 s; the api of each cell has `api_workers` workers of exponential 5 ms, the fallback
/// cell one instance of it.
fn fallback_scenario(api_workers: u32, mean: &str, fallback: &str) -> String {
    format!(
        r#"
[scenario]
name = "fallback"
duration = "60s"
bucket = "1s"

[[region]]
name = "r"
zones = ["a", "b", "c"]

[cells]
count = 4
services = ["api"]

[cells.fallback]
instances = {{ api = 1 }}

[[workload]]
name = "w"
customers = 1000
arrival = {{ process = "poisson", rate_per_s = 400 }}

[[workload.request]]
name = "get"
target = "router"

[[service]]
name = "router"
instances = 3
workers = 32
service_time = {{ dist = "constant", value = "0.1ms" }}
routing = {{ kind = "hash", {fallback} breaker = {{ kind = "resilience4j", window_size = 20, minimum_calls = 10, failure_rate_threshold = 50, wait_in_open = "5s" }} }}

[[service.call]]
to = "api"
timeout = "500ms"

[[service]]
name = "api"
instances = 2
workers = {api_workers}
service_time = {{ dist = "exponential", mean = "{mean}" }}

[[fault]]
kind = "outage"
cell = "cell-2"
start = "20s"
duration = "20s"
"#
    )
}

/// The router's breaker for cell-2 opens after its first 10 failed calls; from then on cell-2's
/// customers are served by the fallback cell, except for the 10 trial calls (Resilience4j's
/// default half-open permits) each time the breaker half-opens, every 5 s, which fail while
/// the cell is down. The trial after the outage succeeds and the traffic returns: 10 + 3 x 10
/// = 40 failed requests, no more.
#[test]
fn a_fallback_cell_takes_a_failed_cells_traffic_until_it_recovers() {
    let r = run(&fallback_scenario(8, "5ms", ""));
    let failed = r.requests[0].outcomes.total() - r.requests[0].outcomes.successes();
    assert_eq!(failed, 40);
    let t = r.topology.as_ref().unwrap();
    let states: Vec<(&str, &str)> = t.health_changes.iter().map(|c| (c.cell.as_str(), c.state)).collect();
    let mut expected = vec![("cell-2", "open")];
    for _ in 0..3 {
        expected.extend([("cell-2", "half-open"), ("cell-2", "open")]);
    }
    expected.extend([("cell-2", "half-open"), ("cell-2", "closed")]);
    assert_eq!(states, expected);
    // Detected within the first 10 calls to cell-2 (100 a second): by 20.3 s.
    let opened_s = t.health_changes[0].at_ns as f64 / 1e9;
    assert!((20.0..20.3).contains(&opened_s), "{opened_s}");
    let closed_s = t.health_changes.last().unwrap().at_ns as f64 / 1e9;
    assert!((40.0..40.7).contains(&closed_s), "{closed_s}");
    let fallback = t.cells.iter().find(|c| c.name == "fallback").unwrap();
    assert_eq!(fallback.outcomes.successes(), t.routers[0].redirected, "every redirected call succeeded");
    // About 20 s of cell-2's 100 calls a second, less the trials.
    assert!((1700..2200).contains(&t.routers[0].redirected), "{}", t.routers[0].redirected);
}

/// With `fallback = "spread"`, cell-2's calls go over the three healthy cells (by a hash of
/// the customer) instead, and the fallback cell gets nothing.
#[test]
fn spreading_an_unhealthy_cells_traffic_loads_the_healthy_cells() {
    let r = run(&fallback_scenario(8, "5ms", "fallback = \"spread\","));
    let t = r.topology.as_ref().unwrap();
    let cell = |name: &str| t.cells.iter().find(|c| c.name == name).unwrap();
    assert_eq!(cell("fallback").outcomes.total(), 0, "spreading sends nothing to the fallback cell");
    let failed = r.requests[0].outcomes.total() - r.requests[0].outcomes.successes();
    assert_eq!(failed, 40, "the same detection and trials as with a fallback cell");
    let redirected = t.routers[0].redirected;
    assert!((1700..2200).contains(&redirected), "{redirected}");
    // Each healthy cell takes about a third of them on top of its own quarter.
    for name in ["cell-1", "cell-3", "cell-4"] {
        let n = cell(name).outcomes.total() as f64;
        let expected = r.requests[0].outcomes.total() as f64 / 4.0 + redirected as f64 / 3.0;
        assert!((n - expected).abs() < 0.1 * expected, "{name}: {n} against {expected}");
    }
}

/// A fallback cell smaller than the traffic it takes overloads, and the report shows it:
/// each cell's api has two instances of two workers of exponential 24 ms: 100 calls a
/// second keep them 60% busy; the fallback cell's one instance gets cell-2's 100 a second,
/// 120% of what it can serve, so its queue grows through the outage and its calls time out
/// (500 ms), while the healthy cells (M/M/2 at 60% per instance) almost never wait that long.
#[test]
fn a_fallback_cell_too_small_for_the_traffic_overloads() {
    let r = run(&fallback_scenario(2, "24ms", ""));
    let t = r.topology.as_ref().unwrap();
    let fallback = t.cells.iter().find(|c| c.name == "fallback").unwrap();
    let timeouts = fallback.outcomes.get(cellsim_models::Outcome::Timeout);
    assert!(timeouts as f64 > 0.2 * fallback.outcomes.total() as f64, "{timeouts} of {}", fallback.outcomes.total());
    let window_s = 60.0;
    let busy = fallback.busy.average((window_s * 1e9) as u64) / fallback.workers as f64;
    // Busy through the 20 s outage (and idle otherwise): about a third of the minute.
    assert!(busy > 0.3, "{busy}");
    let healthy = t.cells.iter().find(|c| c.name == "cell-1").unwrap();
    assert!(healthy.outcomes.get(cellsim_models::Outcome::Timeout) * 1000 < healthy.outcomes.total());
}

/// Shuffle sharding over instances (reference section 4, the Builders' Library's example): 8
/// instances, shards of 2, a retry; the first two instances down. A customer fails only when
/// both its attempts meet a dead instance: exactly when its shard is those two, 1/28 of
/// customers (with four plain shards of two it would be 1/4).
#[test]
fn shuffle_sharding_over_instances_fails_only_the_shard_that_is_down() {
    let text = r#"
[scenario]
name = "shuffle-instances"
duration = "60s"
warmup = "5s"

[[workload]]
name = "w"
customers = 10000
arrival = { process = "poisson", rate_per_s = 4000 }

[[workload.request]]
name = "get"
target = "api"
retry = { max_attempts = 2 }

[[service]]
name = "api"
instances = 8
workers = 8
load_balancer = "shuffle-shard"
shard_size = 2
service_time = { dist = "exponential", mean = "2ms" }

[[fault]]
kind = "outage"
service = "api"
instances = 2
start = "0s"
duration = "10m"
"#;
    let r = run(text);
    let shard_is_0_and_1 = |c: u32| {
        let mut s: Vec<u16> = (0..2).map(|j| cellsim_models::cells::route::shard_member(c, 8, 2, j)).collect();
        s.sort();
        s == [0, 1]
    };
    let exact = (0..10_000u32).filter(|&c| shard_is_0_and_1(c)).count() as u64;
    assert!((exact as f64 - 10_000.0 / 28.0).abs() < 5.0 * 18.5, "{exact}");
    let failed = r.requests[0].outcomes.total() - r.requests[0].outcomes.successes();
    // About 22 requests per customer: the failing customers' requests, and no others.
    let per_customer = r.requests[0].outcomes.total() as f64 / 10_000.0;
    assert!((failed as f64 - exact as f64 * per_customer).abs() < 0.1 * exact as f64 * per_customer, "{failed}");
    // Every attempt that met a dead instance and was retried landed on the shard's other one.
    let api = service(&r, "api");
    assert_eq!(api.instances_stats[0].jobs + api.instances_stats[1].jobs, 0);
}

/// Random failures (MTBF 9 s, MTTR 1 s, exponential): each instance is up 90% of the time.
/// Aimed at a service, its 5 instances fail independently and a request balanced at random
/// finds its instance down 10% of the time; aimed at a zone (one of three), the zone's
/// instances fail together, and a third of the requests see the zone down 10% of the time.
#[test]
fn random_failures_follow_their_mtbf_and_mttr() {
    let scenario = |target: &str| {
        format!(
            r#"
[scenario]
name = "mtbf"
duration = "4000s"

[[region]]
name = "r"
zones = ["a", "b", "c"]

[[workload]]
name = "w"
arrival = {{ process = "poisson", rate_per_s = 500 }}

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
instances = 6
workers = 8
load_balancer = "random"
service_time = {{ dist = "exponential", mean = "1ms" }}

[[fault]]
kind = "outage"
{target}
mtbf = {{ dist = "exponential", mean = "9s" }}
mttr = {{ dist = "exponential", mean = "1s" }}
"#
        )
    };
    let availability = |r: &cellsim_models::RunResult| {
        r.requests[0].outcomes.successes() as f64 / r.requests[0].outcomes.total() as f64
    };
    // About 400 failures per instance: the time-average's sd is about 0.003 over 6.
    let each = run(&scenario("service = \"api\""));
    assert!((availability(&each) - 0.9).abs() < 0.012, "{}", availability(&each));
    let zone = run(&scenario("zone = \"a\""));
    assert!((availability(&zone) - (1.0 - 0.1 / 3.0)).abs() < 0.012, "{}", availability(&zone));
    // The zone's two instances were down together: the same errors' share each.
    let z = zone.topology.as_ref().unwrap();
    let errors = z.zones[0].outcomes.get(cellsim_models::Outcome::Error) as f64 / z.zones[0].outcomes.total() as f64;
    assert!((errors - 0.1).abs() < 0.02, "{errors}");
    assert_eq!(z.zones[1].outcomes.get(cellsim_models::Outcome::Error), 0);
}

/// Random failures and repairs count against the event budget, as events do: a service
/// that takes no traffic fails and recovers about every millisecond (4,000 transitions over
/// 4 s, within the budget's bound on their expected number); with it, a run of about 8,000
/// events (4,000 arrivals and their work) no longer fits a budget of 10,000.
#[test]
fn random_failures_count_against_the_event_budget() {
    let scenario = |fault: &str| {
        format!(
            "[scenario]\nname = \"budget\"\nduration = \"4s\"\n\n[limits]\nmax_events = 10000\n\n[[workload]]\nname = \"w\"\narrival = {{ process = \"constant\", rate_per_s = 1000 }}\n\n[[workload.request]]\nname = \"get\"\ntarget = \"api\"\n\n[[service]]\nname = \"api\"\nworkers = 8\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n\n[[service]]\nname = \"idle\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n{fault}"
        )
    };
    let run =
        |text: String| cellsim_models::simulate(&crate::support::compile_ok(&text), 1, cellsim_models::NoSeries).0;
    let quiet = run(scenario(""));
    assert!(quiet.verdict.is_completed(), "{:?}", quiet.verdict);
    let noisy = run(scenario(
        "\n[[fault]]\nkind = \"outage\"\nservice = \"idle\"\nmtbf = { dist = \"exponential\", mean = \"1ms\" }\nmttr = { dist = \"exponential\", mean = \"1ms\" }\n",
    ));
    assert!(matches!(noisy.verdict, cellsim_models::Verdict::EventBudget { .. }), "{:?}", noisy.verdict);
}

/// k of n: three instances failing independently (MTBF = MTTR = 1 s, exponential: each up
/// half the time), health checks every millisecond that mark an instance at its first
/// failed or passed probe, and a balancer that refuses when none is usable: a request fails
/// when fewer than k = 1 instances are up. By PASTA, Poisson arrivals see the time average:
/// the binomial P(0 of 3 up) = (1/2)^3 = 0.125; every other request is served.
#[test]
fn k_of_n_instances_up_follow_the_binomial() {
    let text = r#"
[scenario]
name = "k-of-n"
duration = "2000s"
warmup = "0s"

[[workload]]
name = "w"
arrival = { process = "poisson", rate_per_s = 200 }

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
instances = 3
workers = 8
service_time = { dist = "exponential", mean = "0.1ms" }
health_check = { kind = "liveness", interval = "1ms", unhealthy_threshold = 1, healthy_threshold = 1, all_unhealthy = "fail-closed" }

[[fault]]
kind = "outage"
service = "api"
mtbf = { dist = "exponential", mean = "1s" }
mttr = { dist = "exponential", mean = "1s" }
"#;
    let r = run(text);
    let o = &r.requests[0].outcomes;
    let n = o.total() as f64;
    let refused = o.get(cellsim_models::Outcome::Rejected) as f64 / n;
    // About 2,000 s / 0.67 s per "all down" spell's cycle: the time share's sd is about 0.006;
    // detection within 1 ms of each of ~6,000 transitions adds at most 0.3%.
    assert!((refused - 0.125).abs() < 0.02, "{refused} of requests found no instance up");
    let failed = (o.total() - o.successes()) as f64 / n;
    assert!((failed - refused).abs() < 0.005, "only those fail: {failed}");
}
