//! A service's IO phase on its instances' volumes (catalogue 11 and 13): a FIFO device queue
//! that queues as M/D/1 says, a pause that blocks every IO until it ends, added latency on a
//! share of IOs, and a stress that slows them all.

use crate::support::run;
use cellsim_models::RunResult;

/// `api` (1 instance, 32 workers, 0.1 ms of CPU), then an IO of 1 ms on one device, under
/// `arrival` for `duration`, with `more` (faults).
fn volume(arrival: &str, duration: &str, more: &str) -> String {
    format!(
        r#"
[scenario]
name = "io"
duration = "{duration}"
warmup = "0s"

[[workload]]
name = "w"
arrival = {arrival}

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
workers = 32
service_time = {{ dist = "constant", value = "0.1ms" }}
io = {{ time = {{ dist = "constant", value = "1ms" }} }}
{more}
"#
    )
}

fn mean_ms(r: &RunResult) -> f64 {
    r.requests[0].latency.mean() / 1e6
}

/// Poisson arrivals at 500 a second into a device that takes 1 ms per IO: M/D/1 at rho =
/// 0.5, Wq = rho / (2 mu (1 - rho)) = 0.5 ms. Every IO is ready 0.1 ms after its arrival,
/// so the device sees Poisson arrivals in order: a mean of 0.1 + 0.5 + 1 = 1.6 ms.
#[test]
fn the_device_queues_as_md1() {
    let r = run(&volume("{ process = \"poisson\", rate_per_s = 500 }", "1h", ""));
    assert!((mean_ms(&r) - 1.6).abs() < 0.02 * 1.6, "{} ms (expected 1.6)", mean_ms(&r));
}

/// A request every 10 ms; the volume paused from 10 s to 12 s: the 200 IOs ready in the
/// pause wait for its end, then go one by one (the first, which arrived at 10 s, is done
/// after 2.001 s); the requests arriving while that backlog drains queue behind it, until
/// 12 s + (200 + n) ms = 12 s + 10 n ms: 22 more. The others take 1.1 ms.
#[test]
fn a_pause_blocks_every_io_until_it_ends() {
    let pause = "[[fault]]\nkind = \"io-pause\"\nservice = \"api\"\nstart = \"10s\"\nduration = \"2s\"";
    let r = run(&volume("{ process = \"constant\", rate_per_s = 100 }", "30s", pause));
    let late = r.requests[0].latency.count_between(5_000_000, u64::MAX);
    assert!(late.abs_diff(222) <= 2, "{late} requests waited for the pause");
    let max_s = r.requests[0].latency.max() as f64 / 1e9;
    assert!((1.99..2.01).contains(&max_s), "the longest waited {max_s} s");
}

/// A stress of 50% doubles every IO: 0.1 + 2 = 2.1 ms (a request every 10 ms: no queue).
/// 50 ms on 20% of the IOs (a request every 100 ms, so that a late IO holds up none behind
/// it) adds 10 ms on average.
#[test]
fn io_latency_and_stress_slow_the_ios() {
    let arrival = "{ process = \"constant\", rate_per_s = 100 }";
    let quiet = run(&volume(arrival, "60s", ""));
    assert!((mean_ms(&quiet) - 1.1).abs() < 1e-3);
    let stress =
        "[[fault]]\nkind = \"io-stress\"\nservice = \"api\"\nstart = \"0s\"\nduration = \"60s\"\nload_percent = 50";
    let r = run(&volume(arrival, "60s", stress));
    assert!((mean_ms(&r) - 2.1).abs() < 1e-3, "{} ms", mean_ms(&r));
    let latency = "[[fault]]\nkind = \"io-latency\"\nservice = \"api\"\nstart = \"0s\"\nduration = \"600s\"\nlatency = \"50ms\"\nslow_percent = 20";
    let r = run(&volume("{ process = \"constant\", rate_per_s = 10 }", "600s", latency));
    let slow = r.requests[0].latency.count_between(50_000_000, u64::MAX) as f64;
    // 6,000 IOs, 20% delayed (sd 31).
    assert!((slow - 1200.0).abs() < 4.0 * 31.0, "{slow} IOs of 50 ms or more (expected 1,200)");
    let expected = 1.1 + 50.0 * slow / 6000.0;
    assert!((mean_ms(&r) - expected).abs() < 0.01, "{} ms (expected {expected})", mean_ms(&r));
}
