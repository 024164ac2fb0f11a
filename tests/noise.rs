//! The fleet's background noise (`[noise]`): switched off it changes nothing; pauses and
//! network jitter cost what their arithmetic says. (Steal at a fixed multiplier against
//! M/M/c is in `queueing.rs`.)

use crate::support::{repo_path, run};

/// The three-tier chain, and a copy with a noise table switched off, or on but touching
/// nothing (steal on no instance): the same numbers, to the last count and nanosecond.
#[test]
fn noise_off_gives_todays_numbers_exactly() {
    let text = std::fs::read_to_string(repo_path("scenarios/three-tier.toml")).unwrap();
    let today = format!("{:?}", run(&text));
    let off = "\n[noise]\nenabled = false\ncpu_steal = { percent = 50 }\npauses = {}\nnetwork = { jitter = \"1ms\" }\n";
    assert_eq!(format!("{:?}", run(&(text.clone() + off))), today, "switched off");
    let idle = "\n[noise]\ncpu_steal = { percent = 0 }\npauses = { percent = 0 }\n";
    assert_eq!(format!("{:?}", run(&(text + idle))), today, "on, on no instance");
}

/// One service, 1 ms of work, a job every 10 ms on each of 4 instances (never queueing
/// beyond a pause). Pauses of 100 ms with gaps of mean 1 s: a job starts inside one with
/// chance 0.1 / 1.1 and waits half of it on average, or its work meets the start of one with
/// chance 0.001 / 1.1 and waits all of it; jobs that arrive during a pause also queue behind
/// nothing (16 workers). Mean sojourn 1 + 4.545 + 0.091 = 5.636 ms.
#[test]
fn pauses_stop_the_work_they_overlap() {
    let quiet = run(&one_service(""));
    let mean_ms = |r: &cellsim_models::RunResult| r.requests[0].latency.mean() / 1e6;
    assert!((mean_ms(&quiet) - 1.0).abs() < 1e-3);
    let r =
        run(&one_service("[noise]\npauses = { every = \"1s\", pause = { dist = \"constant\", value = \"100ms\" } }"));
    let expected = 1.0 + 0.1 / 1.1 * 50.0 + 0.001 / 1.1 * 100.0;
    // 3,600 pauses per instance, 14,400 in all: the share paused is within about 1.7%.
    assert!((mean_ms(&r) - expected).abs() < 0.06 * expected, "{} ms (expected {expected})", mean_ms(&r));
    assert_eq!(r.requests[0].outcomes.successes(), quiet.requests[0].outcomes.successes());
}

/// One service of 4 instances, 1 ms of constant work, a job every 2.5 ms, for an hour.
fn one_service(noise: &str) -> String {
    format!(
        r#"
[scenario]
name = "pauses"
duration = "1h"
warmup = "0s"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 400 }}

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
instances = 4
workers = 16
service_time = {{ dist = "constant", value = "1ms" }}
{noise}
"#
    )
}

/// Network noise on both messages of a request that crosses a network (1 ms each way): a
/// uniform extra up to 2 ms each (1 ms each on average, 2 ms a request), and a 50 ms spike
/// on 1% of messages: 1 - 0.99^2 = 1.99% of requests meet one. Without a latency of its own,
/// a client's request crosses no network and the noise leaves it alone.
#[test]
fn network_noise_adds_its_jitter_and_spikes_to_every_message() {
    let noise =
        "[noise]\nnetwork = { jitter = \"2ms\", spike_percent = 1, spike = { dist = \"constant\", value = \"50ms\" } }";
    let hop = |text: String| {
        text.replace("target = \"api\"", "target = \"api\"\nlatency = { dist = \"constant\", value = \"1ms\" }")
    };
    let quiet = run(&hop(one_service("")));
    let noisy = run(&hop(one_service(noise)));
    assert_eq!(format!("{:?}", run(&one_service(noise))), format!("{:?}", run(&one_service(""))), "no network");
    let (q, n) = (&quiet.requests[0], &noisy.requests[0]);
    assert_eq!(q.outcomes.total(), n.outcomes.total(), "the same arrivals");
    let extra_ms = (n.latency.mean() - q.latency.mean()) / 1e6;
    let expected = 2.0 + 0.0199 * 50.0;
    assert!((extra_ms - expected).abs() < 0.1 * expected, "{extra_ms} ms more (expected {expected})");
}
