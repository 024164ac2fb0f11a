//! Fault kinds in whole runs, against closed forms and hand-computed costs: a blackhole
//! costs exactly the caller's timeout per attempt, a reject only the error; packet loss
//! delays a share 1 - (1 - p)^segments of the answers, in steps of the retransmission
//! timeout; network latency adds its delay; an `unavailable` instance fails every request
//! while its health checks pass.

use crate::support::run;
use cellsim_models::{Outcome, RunResult};

/// One request type to `api` (4 instances, 1 ms of work) at 500 a second for 30 s, with
/// `request` options, and `fault` on api from 10 s to 20 s.
fn scenario(request: &str, api: &str, fault: &str) -> String {
    format!(
        r#"
[scenario]
name = "kinds"
duration = "30s"
warmup = "0s"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 500 }}

[[workload.request]]
name = "get"
target = "api"
{request}

[[service]]
name = "api"
instances = 4
workers = 16
service_time = {{ dist = "constant", value = "1ms" }}
{api}

[[fault]]
service = "api"
start = "10s"
duration = "10s"
{fault}
"#
    )
}

fn failed_latency(r: &RunResult) -> (u64, u64, u64) {
    let h = &r.requests[0].latency_failed;
    (h.len(), h.min(), h.max())
}

/// A request every 2 ms. A blackhole: each attempt waits out its 200 ms timeout, and a
/// request whose three attempts all go out before 20 s (arriving from 10 s to 19.6 s: 4,800)
/// fails with `timeout` after exactly 600 ms; one arriving from 19.6 s to 19.8 s succeeds at
/// its third attempt, from 19.8 s at its second (100 each). A reject: the 5,000 arriving in
/// the window fail at once, their retries too.
#[test]
fn a_blackhole_costs_the_timeout_and_a_reject_only_the_error() {
    let request = "timeout = \"200ms\"\nretry = { max_attempts = 3 }";
    let hole = run(&scenario(request, "", "kind = \"blackhole\""));
    let st = &hole.requests[0];
    assert_eq!(st.outcomes.get(Outcome::Timeout), 4800);
    let (n, min, max) = failed_latency(&hole);
    assert_eq!(n, 4800);
    let ms = |ns: u64| ns as f64 / 1e6;
    assert!((ms(min) - 600.0).abs() < 0.5 && (ms(max) - 600.0).abs() < 0.5, "{} to {} ms", ms(min), ms(max));
    let requests = st.outcomes.total();
    assert_eq!(st.attempts - requests, 4800 * 2 + 100 * 2 + 100, "retries");
    let reject = run(&scenario(request, "", "kind = \"reject\""));
    let st = &reject.requests[0];
    assert_eq!(st.outcomes.get(Outcome::Error), 5000);
    let (n, _, max) = failed_latency(&reject);
    assert_eq!(n, 5000);
    assert!(max <= 1, "a reject fails at once, retries too: {max} ns (0 is recorded as 1)");
    // Without a timeout, a blackholed request never ends: in flight at the end.
    let forever = run(&scenario("", "", "kind = \"blackhole\""));
    assert_eq!(forever.in_flight_at_end, 5000);
}

/// Answers of 10 segments (14,600 bytes) at 10% loss: a share 1 - 0.9^10 = 65.13% is
/// delayed, each by a whole number of 200 ms timeouts (more when losses repeat): nothing
/// lands between the 1 ms of work and 201 ms.
#[test]
fn packet_loss_delays_one_minus_the_survival_of_every_segment_in_rto_steps() {
    let text = scenario("response_bytes = 14600", "", "kind = \"packet-loss\"\nloss_percent = 10")
        .replace("start = \"10s\"\nduration = \"10s\"", "start = \"0s\"\nduration = \"30s\"");
    let r = run(&text);
    let h = &r.requests[0].latency;
    let n = h.len() as f64;
    assert!(h.len() >= 14_990);
    let on_time = h.count_between(0, 1_000_000) as f64 / n;
    let delayed = 1.0 - on_time;
    let expected = 1.0 - 0.9f64.powi(10);
    let sigma = (expected * (1.0 - expected) / n).sqrt();
    assert!((delayed - expected).abs() < 4.0 * sigma, "{delayed} delayed, expected {expected} (sigma {sigma})");
    // (The histogram keeps 2 significant digits: 201 ms lands within 2 ms of itself.)
    assert_eq!(h.count_between(2_000_000, 190_000_000), 0, "nothing between the work and one timeout");
    // Exactly one timeout: one of the ten segments lost once and its retransmission not,
    // the nine others not: 10 x 0.1 x 0.9 x 0.9^9 = 34.87%, at 201 ms.
    let one = h.count_between(190_000_000, 210_000_000) as f64 / n;
    let expected_one = 10.0 * 0.1 * 0.9f64.powi(10);
    let sigma_one = (expected_one * (1.0 - expected_one) / n).sqrt();
    assert!((one - expected_one).abs() < 4.0 * sigma_one, "{one} one RTO late, expected {expected_one}");
    assert_eq!(h.count_between(210_000_000, 390_000_000), 0, "the next step is 401 ms");
}

/// 30 ms of added latency with 10 ms of jitter: answers in the window take 1 ms + 20 to 40
/// ms, uniformly (mean 31 ms); the others 1 ms.
#[test]
fn network_latency_adds_its_delay_and_jitter_to_the_answers() {
    let r = run(&scenario("", "", "kind = \"network-latency\"\nlatency = \"30ms\"\njitter = \"10ms\""));
    let h = &r.requests[0].latency;
    assert_eq!(h.count_between(0, 1_000_000) + 5000, h.len(), "5,000 arrive in the window");
    let slow = h.count_between(20_900_000, 41_100_000);
    assert_eq!(slow, 5000);
    assert!(h.count_between(20_900_000, 31_000_000).abs_diff(2500) < 200, "uniform: half below the middle");
}

/// `unavailable` on 1 of 4 instances: a quarter of the requests fail at once, for all ten
/// seconds, since the health checks pass and the balancer keeps sending; an outage of the
/// same instance is found by the health checks (2 failed checks a second apart) and routed
/// around after them.
#[test]
fn an_unavailable_instance_fails_its_share_while_its_health_checks_pass() {
    let checks = "health_check = { kind = \"liveness\", interval = \"1s\", unhealthy_threshold = 2 }";
    let r = run(&scenario("", checks, "kind = \"unavailable\"\ninstances = 1"));
    assert_eq!(r.requests[0].outcomes.get(Outcome::Error), 1250);
    let outage = run(&scenario("", checks, "kind = \"outage\"\ninstances = 1"));
    let failed = outage.requests[0].outcomes.get(Outcome::Error);
    assert!(failed > 0 && failed <= 250, "{failed}: found within two checks (2 s, 250 requests)");
}
