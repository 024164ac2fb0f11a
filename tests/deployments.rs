//! Deployments rolled through cells in waves (the S3 2017 and Kinesis 2020 shape): a bad
//! version caught by its alarm in the first wave stays in that wave's cells; without the
//! alarm it reaches every cell. A change that removes capacity overloads what is left.

use crate::support::run;
use cellsim_models::RunResult;

/// 400 requests a second from 8,000 customers through a hashing router into 8 cells, each
/// an `api` of 2 instances (2 ms of work), for 2 hours; `deployment` keys for a fault on
/// the template's api from 10 minutes, in waves of 1, 1, 2 and 4 cells 20 minutes apart.
fn cells(deployment: &str) -> String {
    format!(
        r#"
[scenario]
name = "waves"
duration = "2h"
warmup = "0s"
bucket = "1m"

[[region]]
name = "r"
zones = ["a", "b", "c"]

[cells]
count = 8
services = ["api"]
zones = ["a", "b", "c"]

[[workload]]
name = "w"
customers = 8000
arrival = {{ process = "poisson", rate_per_s = 400 }}

[[workload.request]]
name = "get"
target = "router"

[[service]]
name = "router"
instances = 3
workers = 16
service_time = {{ dist = "constant", value = "0.5ms" }}
routing = {{ kind = "hash" }}

[[service.call]]
to = "api"

[[service]]
name = "api"
instances = 2
workers = 8
service_time = {{ dist = "exponential", mean = "2ms" }}

[[fault]]
kind = "deployment"
service = "api"
start = "10m"
waves = [1, 1, 2, 4]
bake = "20m"
error_percent = 50
{deployment}
"#
    )
}

/// Failed requests per cell.
fn failed_by_cell(r: &RunResult) -> Vec<u64> {
    r.topology.as_ref().expect("cells").cells.iter().map(|c| c.outcomes.total() - c.outcomes.successes()).collect()
}

/// The new version fails half its jobs. In the first wave (cell-1, an eighth of the
/// traffic) the service's error rate is about 6.25%: the alarm (2%, three one-minute periods
/// of three) fires at 13 minutes and halts the rollout; the rollback puts the old version
/// back 5 minutes later. Only cell-1's requests fail: about 8 minutes of 50 a second at 50%,
/// 12,000. Without the alarm the waves reach every cell (the last at 70 minutes), and every
/// cell fails half its requests from its wave on.
#[test]
fn a_bad_version_caught_in_the_first_wave_stays_in_its_cells() {
    let r = run(&cells("alarm = { error_rate = 0.02, period = \"1m\", datapoints = 3 }\nrollback = \"5m\""));
    let failed = failed_by_cell(&r);
    assert!(failed[1..].iter().all(|&f| f == 0), "only the first wave's cell fails: {failed:?}");
    // 8 minutes of the 120 at 50%: the hash gives cell-1 its own share of the customers
    // (about an eighth), so the expectation is taken from its own requests.
    let cell1 = r.topology.as_ref().unwrap().cells[0].outcomes.total() as f64;
    let expected = cell1 * 8.0 / 120.0 * 0.5;
    assert!((failed[0] as f64 - expected).abs() < 0.05 * expected, "cell-1 failed {} (expected {expected})", failed[0]);
    let halts: Vec<_> = r.actions.iter().filter(|a| a.controller == "deployment alarm").collect();
    assert_eq!(halts.len(), 1);
    assert_eq!(halts[0].at_ns, 13 * 60 * 1_000_000_000, "three breaching periods, from 11 to 13 minutes");

    let r = run(&cells(""));
    let failed = failed_by_cell(&r);
    assert!(failed.iter().all(|&f| f > 10_000), "without the alarm every cell fails: {failed:?}");
    // Cell k's wave starts at 10 + 20 x wave minutes: cell-8 (the last wave, 70 minutes) fails
    // for 50 minutes, cell-1 for 110.
    let ratio = failed[0] as f64 / failed[7] as f64;
    assert!((ratio - 110.0 / 50.0).abs() < 0.15, "cell-1 / cell-8 = {ratio} (expected 2.2)");
}

/// The same bad version without its own alarm, under a stop condition on the requests'
/// error rate (FIS's stop condition: above 2% in three one-minute periods of three). Cell-1's
/// eighth of the requests fail at 50% from 10 minutes: 6.25% of all. The condition fires at
/// 13 minutes and ends the fault: the deployment halts and, without a `rollback` time, the
/// old version is back at once. Cell-1 fails for 3 minutes, no other cell at all.
#[test]
fn a_stop_condition_halts_a_bad_deployment_and_rolls_it_back() {
    let stop = "\n[[stop_condition]]\nalarm = \"error_rate > 2%\"\nperiod = \"1m\"\ndatapoints = 3\n";
    let r = run(&(cells("") + stop));
    assert_eq!(r.stopped.as_ref().map(|s| s.at_ns), Some(13 * 60 * 1_000_000_000));
    let failed = failed_by_cell(&r);
    assert!(failed[1..].iter().all(|&f| f == 0), "only the first wave's cell fails: {failed:?}");
    let cell1 = r.topology.as_ref().unwrap().cells[0].outcomes.total() as f64;
    let expected = cell1 * 3.0 / 120.0 * 0.5;
    assert!((failed[0] as f64 - expected).abs() < 0.08 * expected, "cell-1 failed {} (expected {expected})", failed[0]);
}

/// A change that takes capacity out of service: two of api's four instances (the first
/// wave, of two instances, with `capacity_percent = 100`) are out from 10 s to 20 s, and
/// the balancer sends their share to the other two. 400 jobs a second for 30 s: instances
/// 0 and 1 take 100 a second outside the window (2,000 each), 2 and 3 also 200 a second
/// within it (4,000 each); no job fails.
#[test]
fn a_change_that_removes_capacity_moves_the_load_to_what_is_left() {
    let text = r#"
[scenario]
name = "capacity"
duration = "30s"
warmup = "0s"

[[workload]]
name = "w"
arrival = { process = "constant", rate_per_s = 400 }

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
instances = 4
workers = 4
service_time = { dist = "constant", value = "1ms" }

[[fault]]
kind = "deployment"
service = "api"
start = "10s"
duration = "10s"
waves = [2]
capacity_percent = 100
"#;
    let r = run(text);
    let jobs: Vec<u64> = r.services[0].instances_stats.iter().map(|i| i.jobs).collect();
    for (i, &j) in jobs.iter().enumerate() {
        let expected = if i < 2 { 2000 } else { 4000 };
        assert!(j.abs_diff(expected) <= 2, "instance {i}: {j} jobs (expected {expected}): {jobs:?}");
    }
    assert_eq!(r.requests[0].outcomes.successes(), r.requests[0].outcomes.total());
}
