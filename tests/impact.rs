//! What faults did, measured against the paired baseline, on hand-computed cases: time to
//! detect and recover from a step slowdown (the backlog's drain time), the cascade tree of
//! a shared dependency's outage under a three-level call graph (with a lateral dependency
//! hit by retries), a fault absorbed by retries, the blast radius of one cell down in ten;
//! and that the baseline shares the run's traffic and leaves its results untouched.

use crate::support::compile_ok;
use cellsim_models::impact::{CascadeNode, Impact};
use cellsim_models::{NoSeries, RunResult};

fn paired(text: &str) -> RunResult {
    cellsim_runs::simulate(&compile_ok(text), 1, NoSeries, true).0
}

fn impact(text: &str) -> Impact {
    paired(text).impact.expect("a scenario with faults is paired")
}

/// One service of one worker: 1 ms of work, a job every 2 ms; `fault` on it.
fn one_server(fault: &str) -> String {
    format!(
        r#"
[scenario]
name = "step"
duration = "60s"
warmup = "0s"
bucket = "1s"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 500 }}

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
workers = 1
queue_capacity = 100000
service_time = {{ dist = "constant", value = "1ms" }}

[[fault]]
service = "api"
{fault}
"#
    )
}

/// CPU stress at 75% from 20 s to 30 s makes each job take 4 ms: the server falls behind by
/// a job every 4 ms, 2,500 jobs by 30 s, which it then works off at a job every 2 ms (1 ms
/// of work against one arriving every 2 ms): empty at 35 s. Every sojourn from 20 s is over
/// 1.5x the baseline's 1 ms, so the first bucket detects it (0 s), and the first clear bucket
/// is [35 s, 36 s): 5 s to recover.
#[test]
fn a_step_slowdown_is_detected_at_once_and_recovers_when_its_backlog_drains() {
    let i = impact(&one_server("kind = \"cpu-stress\"\nload_percent = 75\nstart = \"20s\"\nduration = \"10s\""));
    let f = &i.faults[0];
    assert_eq!((f.kind, f.what.as_str(), f.components_hit), ("cpu-stress", "service api", 1));
    assert_eq!(f.time_to_detect_ns, Some(0));
    let ttr_s = f.time_to_recover_ns.expect("recovered") as f64 / 1e9;
    assert!((ttr_s - 5.0).abs() <= 1.0, "recovered after {ttr_s}s, not 5s within a bucket");
    // Impaired from 20 s to 35 s: 15 buckets, give or take the one at each edge.
    assert!((14..=16).contains(&i.impaired_buckets), "{} impaired buckets", i.impaired_buckets);
    assert_eq!(i.cascade.depth, 0);
    // 20% stress: 1.25 ms, under 1.5x: never impaired, and recovered at once.
    let i = impact(&one_server("kind = \"cpu-stress\"\nload_percent = 20\nstart = \"20s\"\nduration = \"10s\""));
    assert_eq!((i.faults[0].time_to_detect_ns, i.faults[0].time_to_recover_ns), (None, Some(0)));
    assert_eq!(i.impaired_buckets, 0);
    assert!(i.cascade.nodes.is_empty());
}

/// An outage all through [20 s, 30 s): every job in [20, 30) fails; the first bucket
/// detects it and the one it ends at is clear.
#[test]
fn a_step_outage_is_detected_in_its_first_bucket_and_recovered_when_it_ends() {
    let i = impact(&one_server("kind = \"outage\"\nstart = \"20s\"\nduration = \"10s\""));
    let f = &i.faults[0];
    assert_eq!((f.time_to_detect_ns, f.time_to_recover_ns), (Some(0), Some(0)));
    assert_eq!(i.impaired_buckets, 10);
    let blast = f.blast.as_ref().expect("a scheduled fault's blast radius");
    // Every request finished in the window failed; none in the baseline.
    assert_eq!((blast.requests, blast.requests_harmed, blast.baseline_requests_harmed), (5000, 5000, 0));
    assert_eq!((blast.components_impaired, blast.components), (1, 1));
}

/// front -> mid -> (auth, then db); front retries mid up to 3 times. `db` is faulted.
fn three_levels(db_instances: u32, fault: &str) -> String {
    format!(
        r#"
[scenario]
name = "three-levels"
duration = "40s"
warmup = "0s"
bucket = "1s"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 400 }}

[[workload.request]]
name = "get"
target = "front"

[[service]]
name = "front"
instances = 2
workers = 64
service_time = {{ dist = "constant", value = "0.1ms" }}

[[service.call]]
to = "mid"
retry = {{ max_attempts = 3 }}

[[service]]
name = "mid"
instances = 2
workers = 64
service_time = {{ dist = "constant", value = "0.1ms" }}

[[service.call]]
to = "auth"

[[service.call]]
to = "db"
retry = {{ max_attempts = 3 }}

[[service]]
name = "auth"
workers = 1
queue_capacity = 100000
service_time = {{ dist = "constant", value = "1ms" }}

[[service]]
name = "db"
instances = {db_instances}
workers = 64
service_time = {{ dist = "constant", value = "0.5ms" }}

[[fault]]
service = "db"
{fault}
"#
    )
}

fn node<'a>(i: &'a Impact, name: &str) -> &'a CascadeNode {
    i.cascade.nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("{name} in {:?}", i.cascade.nodes))
}

/// db down for 10 s: db fails (depth 0), mid's calls fail (1 upstream of db), front's fail
/// after three attempts (2). Each attempt of front's calls auth again: three times its load,
/// 1,200 jobs a second against its 1,000, so its queue grows and its latency with it: auth
/// calls nothing faulted, so it is lateral, two hops from db (through mid). Depth 2.
#[test]
fn a_shared_dependency_outage_cascades_up_the_call_graph() {
    let i = impact(&three_levels(2, "kind = \"outage\"\nstart = \"10s\"\nduration = \"10s\""));
    let shape = |n: &CascadeNode| (n.faulted, n.depth, n.lateral, n.parent);
    assert_eq!(shape(node(&i, "db")), (true, Some(0), false, None));
    assert_eq!(shape(node(&i, "mid")), (false, Some(1), false, Some(3)));
    assert_eq!(shape(node(&i, "front")), (false, Some(2), false, Some(1)));
    assert_eq!(shape(node(&i, "auth")), (false, Some(2), true, Some(1)));
    for name in ["db", "mid", "front", "auth"] {
        assert!(node(&i, name).impaired_buckets >= 9, "{name}: {:?}", node(&i, name));
        assert_eq!(node(&i, name).first_impaired_ns, Some(10_000_000_000), "{name}");
    }
    assert_eq!(i.cascade.depth, 2);
    // The tree lists by depth, then component.
    let order: Vec<&str> = i.cascade.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(order, ["db", "mid", "front", "auth"]);
}

/// One of four db instances down: each attempt that meets it fails at once and the retry
/// goes to the next instance in the rotation. db is impaired (a quarter of its jobs fail);
/// nobody upstream is: the retries absorb it, at depth 2 (mid, which calls db). Picks go
/// round the four in turn and a retry takes the next: one call in three meets the dead
/// instance, 4,000 / 3 = 1,333 of mid's calls in the window absorbed by a retry, none passed
/// up, none surfaced.
#[test]
fn a_fault_absorbed_by_retries_impairs_nothing_upstream() {
    let r = paired(&three_levels(4, "kind = \"outage\"\ninstances = 1\nstart = \"10s\"\nduration = \"10s\""));
    let handled = cellsim_reports::summarise(&r).failure_handling;
    let row = |depth: u32| handled.iter().find(|h| h.depth == depth).cloned().unwrap_or_default();
    assert_eq!(handled.len(), 1, "{handled:?}");
    let mid = row(2);
    assert_eq!((mid.absorbed_by_retry, mid.passed_up, mid.absorbed_by_degradation), (1333, 0, 0));
    assert_eq!((row(0).surfaced, row(1).passed_up), (0, 0));
    let i = r.impact.expect("paired");
    let impaired: Vec<&str> =
        i.cascade.nodes.iter().filter(|n| n.impaired_buckets > 0).map(|n| n.name.as_str()).collect();
    assert_eq!(impaired, ["db"]);
    assert_eq!(i.cascade.depth, 0);
    let blast = i.faults[0].blast.as_ref().unwrap();
    assert_eq!((blast.requests_harmed, blast.components_impaired), (0, 1));
}

/// One cell of ten down, customers hashed over the cells: about a tenth of the customers
/// saw a failure, one cell and its two components were impaired; none in the baseline.
#[test]
fn one_cell_down_in_ten_harms_a_tenth_of_the_customers() {
    let text = r#"
[scenario]
name = "ten"
duration = "30s"
warmup = "0s"

[[region]]
name = "r"
zones = ["a", "b", "c"]

[cells]
count = 10
services = ["api", "db"]

[[workload]]
name = "w"
customers = 2000
arrival = { process = "poisson", rate_per_s = 2000 }

[[workload.request]]
name = "get"
target = "router"

[[service]]
name = "router"
instances = 3
workers = 64
service_time = { dist = "constant", value = "0.1ms" }
routing = { kind = "hash" }

[[service.call]]
to = "api"

[[service]]
name = "api"
instances = 3
workers = 8
service_time = { dist = "exponential", mean = "1ms" }

[[service.call]]
to = "db"

[[service]]
name = "db"
instances = 3
workers = 8
service_time = { dist = "exponential", mean = "1ms" }

[[fault]]
kind = "outage"
cell = "cell-3"
start = "10s"
duration = "10s"
"#;
    let i = impact(text);
    let b = i.faults[0].blast.as_ref().unwrap();
    let (ours, theirs) = b.customers.expect("customers counted");
    let share = ours.failed as f64 / ours.sent as f64;
    assert!(ours.sent > 1900, "nearly every customer sent in 10 s: {}", ours.sent);
    assert!((share - 0.1).abs() < 0.02, "{share} of customers harmed");
    assert_eq!(theirs.failed, 0);
    assert_eq!((b.cells_impaired, b.cells, b.components_impaired), (1, 10, 2));
    // The router's jobs fail too: it calls the cell (depth 1 above both of cell-3's).
    assert_eq!(node(&i, "cell-3/db").depth, Some(0));
    assert_eq!(node(&i, "router").depth, Some(1));
    let requests = b.requests_harmed as f64 / b.requests as f64;
    assert!((requests - 0.1).abs() < 0.02, "{requests} of requests harmed");
}

/// Pairing changes nothing in the run's own results, the baseline sees the same arrivals,
/// and what a fault does not touch draws the same in both: a second workload on its own
/// service gives identical statistics with and without the fault.
#[test]
fn the_baseline_shares_the_traffic_and_changes_nothing_in_the_run() {
    let text = one_server("kind = \"outage\"\nstart = \"20s\"\nduration = \"10s\"").replace(
        "[[fault]]",
        r#"[[workload]]
name = "other"
arrival = { process = "poisson", rate_per_s = 300 }

[[workload.request]]
name = "get"
target = "side"

[[service]]
name = "side"
workers = 2
service_time = { dist = "exponential", mean = "2ms" }

[[fault]]"#,
    );
    let spec = compile_ok(&text);
    let alone = cellsim_models::simulate(&spec, 1, NoSeries).0;
    let with = cellsim_runs::simulate(&spec, 1, NoSeries, true).0;
    assert!(with.impact.is_some() && alone.impact.is_none());
    assert_eq!(format!("{:?}", RunResult { impact: None, ..with.clone() }), format!("{alone:?}"));
    let base = cellsim_models::simulate(&cellsim_runs::baseline_of(&spec), 1, NoSeries).0;
    assert_eq!(base.requests_arrived, alone.requests_arrived, "open workloads: the same arrivals");
    let side = |r: &RunResult| format!("{:?}", r.services.iter().find(|s| s.service == "side").unwrap());
    assert_eq!(side(&base), side(&alone), "the untouched service draws the same");
    assert_ne!(format!("{:?}", base.services[0]), format!("{:?}", alone.services[0]));
    // Unpaired on request, or by the scenario.
    assert!(cellsim_runs::simulate(&spec, 1, NoSeries, false).0.impact.is_none());
    let off = compile_ok(&format!("{text}\n[analysis]\nbaseline = false\n"));
    assert!(cellsim_runs::simulate(&off, 1, NoSeries, true).0.impact.is_none());
}

/// An outage of 5 s repeated every 20 s from 10 s: three occurrences fit in the 60 s run
/// (10, 30 and 50 s), each with its own record, detected and recovered at once, its 2,500
/// requests all failed.
#[test]
fn a_repeated_fault_has_a_record_per_occurrence() {
    let i = impact(&one_server("kind = \"outage\"\nstart = \"10s\"\nduration = \"5s\"\nevery = \"20s\""));
    let starts: Vec<(u32, u64)> = i.faults.iter().map(|f| (f.occurrence, f.start_ns / 1_000_000_000)).collect();
    assert_eq!(starts, [(0, 10), (1, 30), (2, 50)]);
    for f in &i.faults {
        assert_eq!((f.time_to_detect_ns, f.time_to_recover_ns), (Some(0), Some(0)), "{f:?}");
        let b = f.blast.as_ref().unwrap();
        assert_eq!((b.requests, b.requests_harmed), (2500, 2500));
    }
    assert_eq!(i.impaired_buckets, 15);
    let twice =
        impact(&one_server("kind = \"outage\"\nstart = \"10s\"\nduration = \"5s\"\nevery = \"20s\"\ntimes = 2"));
    assert_eq!(twice.faults.len(), 2);
}
