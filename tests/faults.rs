//! Fault kinds in whole runs, against closed forms and hand-computed costs: a blackhole
//! costs exactly the caller's timeout per attempt, a reject only the error; packet loss
//! delays a share 1 - (1 - p)^segments of the answers, in steps of the retransmission
//! timeout; network latency adds its delay; an `unavailable` instance fails every request
//! while its health checks pass.

use crate::support::{compile_ok, run};
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

/// 8 instances, 2,000 customers at 1,000 requests a second, three attempts each (no
/// backoff); customer 7's requests crash the instance that takes them (down 30 s) from 10 s
/// to 50 s. `lb` picks the balancer.
fn poison(lb: &str) -> String {
    format!(
        r#"
[scenario]
name = "poison"
duration = "60s"
warmup = "0s"

[[workload]]
name = "w"
customers = 2000
arrival = {{ process = "poisson", rate_per_s = 1000 }}

[[workload.request]]
name = "get"
target = "api"
retry = {{ max_attempts = 3 }}

[[service]]
name = "api"
instances = 8
workers = 8
service_time = {{ dist = "exponential", mean = "1ms" }}
{lb}

[[fault]]
kind = "poison-pill"
service = "api"
customers = [7]
restart_time = "30s"
start = "10s"
duration = "40s"
"#
    )
}

/// In a plain fleet, the poisoned customer's retries carry the crash from instance to
/// instance: within its first requests every instance has crashed, and most requests of
/// every customer fail while the pill lasts. With shuffle sharding (2 of 8), only its
/// shard crashes, and only the customers whose shard is the same two instances fail:
/// 1 in 28 of them, as for two dead instances in the cells tests.
#[test]
fn a_poison_pill_takes_down_a_plain_fleet_and_only_its_shard_with_shuffle_sharding() {
    let plain = paired(&poison(""));
    let api = &plain.services[0];
    let crashes = api.fleet.as_ref().expect("a fleet").restarts;
    assert!(crashes >= 8, "{crashes} crashes: every instance");
    let b = plain.impact.as_ref().unwrap().faults[0].blast.clone().unwrap();
    let (ours, _) = b.customers.unwrap();
    assert!(ours.failed as f64 > 0.9 * ours.sent as f64, "{ours:?}: nearly every customer harmed");
    let sharded = paired(&poison("load_balancer = \"shuffle-shard\"\nshard_size = 2"));
    let shard: Vec<u32> = {
        let mut s: Vec<u32> = (0..2).map(|j| cellsim_models::cells::route::shard_member(7, 8, 2, j) as u32).collect();
        s.sort();
        s
    };
    let same_shard = |c: u32| {
        let mut s: Vec<u32> = (0..2).map(|j| cellsim_models::cells::route::shard_member(c, 8, 2, j) as u32).collect();
        s.sort();
        s == shard
    };
    let api = &sharded.services[0];
    // Only the shard's two instances crashed (each again when it came back).
    let untouched = (0..8u32).filter(|i| !shard.contains(i));
    let b = sharded.impact.as_ref().unwrap().faults[0].blast.clone().unwrap();
    let (ours, theirs) = b.customers.unwrap();
    let exact = (0..2000u32).filter(|&c| same_shard(c)).count() as u64;
    assert!((exact as f64 - 2000.0 / 28.0).abs() < 25.0, "{exact} customers share the shard");
    // Every customer of the shard that sent in the window was harmed (its requests found
    // both instances down most of the time), and no other; the baseline harmed none.
    assert!(ours.failed <= exact && ours.failed + 8 >= exact, "{} harmed, {exact} share the shard", ours.failed);
    assert_eq!(theirs.failed, 0);
    let crashes = api.fleet.as_ref().unwrap().restarts;
    assert!((2..=6).contains(&crashes), "{crashes} crashes of the shard's two instances");
    for i in untouched {
        assert!(api.instances_stats[i as usize].jobs > 0, "instance {i} kept serving");
    }
}

/// Crashes fail the jobs on the instance at once: a 1 s job caught by a `stop` at 10 s
/// fails at 10 s, not when its work ends; `terminate` keeps the instance down to the end;
/// random reboots (MTBF 2 s, MTTR 0.5 s, background deaths) crash each instance about 24
/// times in 60 s.
#[test]
fn crashes_fail_the_jobs_on_the_instance_at_once() {
    let text = |fault: &str| {
        format!(
            r#"
[scenario]
name = "crash"
duration = "60s"
warmup = "0s"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 10 }}

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
instances = 2
workers = 100
service_time = {{ dist = "constant", value = "1s" }}

[[fault]]
service = "api"
{fault}
"#
        )
    };
    // Jobs arrive every 100 ms, take 1 s, and alternate between the two instances. A stop
    // of instance 0 at 10.15 s for 5 s: the 5 jobs there (arrived 9.3 s to 10.1 s) fail at
    // once, after 850 ms down to 50 ms; the 25 sent to it while it is down fail on arrival.
    let stop = run(&text("kind = \"stop\"\ninstances = 1\nstart = \"10150ms\"\nduration = \"5s\""));
    let failed = &stop.requests[0].latency_failed;
    assert_eq!(failed.len(), 30);
    assert_eq!(failed.count_between(0, 1000), 25, "refused on arrival");
    // Caught at work at the crash's instant, not after their full second.
    for at_ms in [50, 250, 450, 650, 850] {
        assert_eq!(failed.count_between(at_ms * 1_000_000 - 5_000_000, at_ms * 1_000_000 + 5_000_000), 1, "{at_ms} ms");
    }
    // A graceful task kill at 10.15 s with 0.5 s of grace: of the 5 jobs there, the two that
    // end by 10.65 s (at 10.3 and 10.5 s) finish; the three left are killed at 10.65 s
    // (after 950, 750 and 550 ms); the 25 sent to it until 15.15 s fail on arrival.
    let kill =
        run(&text("kind = \"task-kill\"\ninstances = 1\nstart = \"10150ms\"\nduration = \"5s\"\ngrace = \"500ms\""));
    let failed = &kill.requests[0].latency_failed;
    assert_eq!((failed.len(), failed.count_between(0, 1000)), (28, 25));
    for at_ms in [550, 750, 950] {
        assert_eq!(failed.count_between(at_ms * 1_000_000 - 5_000_000, at_ms * 1_000_000 + 5_000_000), 1, "{at_ms} ms");
    }
    let terminate = run(&text("kind = \"terminate\"\ninstances = 1\nstart = \"30s\""));
    assert_eq!(terminate.requests[0].outcomes.get(Outcome::Error), 150 + 5, "half of 300 after 30 s, 5 caught");
    let reboots = run(&text(
        "kind = \"reboot\"\nmtbf = { dist = \"exponential\", mean = \"2s\" }\nmttr = { dist = \"exponential\", mean = \"0.5s\" }",
    ));
    let ok = reboots.requests[0].outcomes.successes() as f64 / reboots.requests[0].outcomes.total() as f64;
    // Up 80% of the time, and a job survives only if no crash comes within its second:
    // P(up at arrival) x P(no failure in 1 s) = 0.8 x e^(-1/2) = 0.485.
    assert!((ok - 0.8 * (-0.5f64).exp()).abs() < 0.06, "{ok}");
}

fn paired(text: &str) -> RunResult {
    cellsim_runs::simulate(&compile_ok(text), 1, cellsim_models::NoSeries, true).0
}

/// Zones a and b (and an empty c); `front` in zone a calls `api`, two instances in each of a
/// and b, picked in turn across zones, with a 100 ms timeout; 500 requests a second for 30
/// s; `fault` from 10 s to 20 s.
fn zones(fault: &str) -> String {
    format!(
        r#"
[scenario]
name = "links"
duration = "30s"
warmup = "0s"

[[region]]
name = "r"
zones = ["a", "b", "c"]

[network]
same_zone = {{ dist = "constant", value = "0.1ms" }}
cross_zone = {{ dist = "constant", value = "0.5ms" }}

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 500 }}

[[workload.request]]
name = "get"
target = "front"

[[service]]
name = "front"
zones = ["a"]
workers = 64
service_time = {{ dist = "constant", value = "0.1ms" }}

[[service.call]]
to = "api"
timeout = "100ms"

[[service]]
name = "api"
instances = 4
zones = ["a", "b"]
workers = 16
service_time = {{ dist = "constant", value = "1ms" }}

[[fault]]
start = "10s"
duration = "10s"
{fault}
"#
    )
}

fn timed_out(r: &RunResult) -> u64 {
    r.requests[0].outcomes.get(Outcome::Error)
}

/// A partition between zones a and b: calls from front (a) to api's instances in b are
/// lost, half of them, each costing its 100 ms timeout; a one-way cut either way does the
/// same to these calls (the request, or the answer, is lost); a cut between a and the empty
/// zone c, nothing. On half the flows, a quarter.
#[test]
fn a_partition_between_zones_loses_the_calls_across_it() {
    let both = run(&zones("kind = \"partition\"\nfrom = \"zone a\"\nto = \"zone b\""));
    assert_eq!(timed_out(&both), 2500, "half of the 5,000 calls in the window");
    let api_calls = both.edges.iter().find(|e| e.callee == "api").unwrap();
    assert_eq!(api_calls.outcomes.get(Outcome::Timeout), 2500);
    let slow = &both.requests[0].latency_failed;
    assert!(slow.min() >= 100_000_000 && slow.max() < 101_000_000, "each costs the timeout");
    for (from, to) in [("a", "b"), ("b", "a")] {
        let one = run(&zones(&format!(
            "kind = \"partition\"\nfrom = \"zone {from}\"\nto = \"zone {to}\"\ndirection = \"one-way\""
        )));
        assert_eq!(timed_out(&one), 2500, "one way, from {from}");
    }
    let elsewhere = run(&zones("kind = \"partition\"\nfrom = \"zone a\"\nto = \"zone c\"\nif_empty = \"skip\""));
    assert_eq!(timed_out(&elsewhere), 0);
    // Half the flows: front's one instance with api's two in b is two flows; each is hit or
    // not for the whole fault, by a hash. Whatever the hash picks, a multiple of 1,250.
    let half = run(&zones("kind = \"partition\"\nfrom = \"zone a\"\nto = \"zone b\"\nflows_percent = 50"));
    assert!(timed_out(&half).is_multiple_of(1250) && timed_out(&half) <= 2500, "{}", timed_out(&half));
}

/// A cross-zone slowdown from zone b (15% packet loss on its messages to other zones):
/// answers from api's instances in b to front in a are late by at least 200 ms with chance
/// 0.15 (one 1,000-byte segment), past front's 100 ms timeout; those from a, never. Without
/// the timeout, the late ones take 201 ms (or 601 ms, both transmissions lost).
#[test]
fn a_cross_zone_slowdown_delays_the_answers_leaving_the_zone() {
    let r = run(&zones("kind = \"cross-zone-slowdown\"\nzone = \"b\""));
    // 2,500 answers from b in the window, a share 0.15 late (sd about 18).
    let late = timed_out(&r) as f64;
    assert!((late - 2500.0 * 0.15).abs() < 4.0 * 17.9, "{late} late answers");
    let r = run(&zones("kind = \"cross-zone-slowdown\"\nzone = \"b\"").replace("timeout = \"100ms\"", ""));
    let h = &r.requests[0].latency;
    let (one, more) = (h.count_between(190_000_000, 215_000_000), h.count_between(215_000_000, u64::MAX));
    assert!(((one + more) as f64 - 375.0).abs() < 4.0 * 17.9 && more < 100, "{one} + {more}");
    assert_eq!(h.count_between(5_000_000, 190_000_000), 0);
}

/// An AZ power interruption in zone b: its instances crash at 10 s and are down until 20 s;
/// calls sent to them fail at once (no timeout).
#[test]
fn an_az_power_interruption_downs_the_zone_at_once() {
    let r = run(&zones("kind = \"az-power-interruption\"\nzone = \"b\""));
    assert_eq!(timed_out(&r), 2500);
    assert!(r.requests[0].latency_failed.max() < 5_000_000, "fast failures");
}

/// Gray failures: 10% of jobs fail on one of api's four instances (0.25% of all in the
/// window); on every instance, half the answers 50 ms late; health checks see nothing.
#[test]
fn gray_failures_fail_and_slow_a_share() {
    let r = run(&zones("kind = \"gray\"\nservice = \"api\"\ncount = 1\nerror_percent = 10"));
    let failed = timed_out(&r) as f64;
    assert!((failed - 125.0).abs() < 4.0 * 10.6, "{failed} failed (expected 125)");
    let r = run(&zones("kind = \"gray\"\nservice = \"api\"\nlatency = \"50ms\"\nslow_percent = 50"));
    let late = r.requests[0].latency.count_between(40_000_000, u64::MAX) as f64;
    assert!((late - 2500.0).abs() < 4.0 * 35.4, "{late} late (expected 2,500)");
}

/// A CPU stress of 50% ramped over its 10 s: work started a share x of the way through takes
/// 1 / (1 - 0.5 x) as long, on average 2 ln 2 = 1.386 ms for 1 ms of work (a job every 10
/// ms never queues). The 1,000 jobs in the window against the 2,000 outside: mean sojourn
/// (2,000 x 1 + 1,000 x 1.386) / 3,000 = 1.129 ms. Without the ramp, 2 ms in the window.
#[test]
fn a_ramped_stress_rises_linearly_to_its_load() {
    let text = |ramp: &str| {
        scenario("", "", &format!("kind = \"cpu-stress\"\nload_percent = 50\n{ramp}"))
            .replace("rate_per_s = 500", "rate_per_s = 100")
            .replace("instances = 4", "instances = 1")
    };
    let mean_ms = |r: &RunResult| r.services[0].sojourn.mean() / 1e6;
    let ramped = run(&text("ramp = \"10s\""));
    let expected = (2000.0 + 1000.0 * 2.0 * 2f64.ln()) / 3000.0;
    assert!((mean_ms(&ramped) - expected).abs() < 0.01 * expected, "{} ms, expected {expected}", mean_ms(&ramped));
    let step = run(&text(""));
    assert!((mean_ms(&step) - 4.0 / 3.0).abs() < 0.01 * 4.0 / 3.0, "{} ms", mean_ms(&step));
}

/// A bandwidth limit of 1 Mbit/s on one instance's answers of 12,500 bytes: each takes 100 ms
/// to send. At 5 requests a second (one every 200 ms) none waits: every answer in the window
/// is exactly 100 ms late. At 20 a second, twice what the link carries, the queue of 50 kB
/// (four answers) fills and the excess is dropped: the link sends 10 answers a second and
/// about half of the window's 200 are lost (their callers time out at 1 s).
#[test]
fn a_bandwidth_limit_serialises_queues_and_drops() {
    let text = |rate: u32| {
        scenario("response_bytes = 12500\ntimeout = \"1s\"", "", "kind = \"bandwidth\"\nrate_mbps = 1\nqueue_kb = 50")
            .replace("rate_per_s = 500", &format!("rate_per_s = {rate}"))
            .replace("instances = 4", "instances = 1")
    };
    let light = run(&text(5));
    let h = &light.requests[0].latency;
    assert_eq!(h.count_between(99_000_000, 103_000_000), 50, "the window's 50 answers, 100 ms late");
    assert_eq!(h.count_between(0, 2_000_000) + 50, h.len());
    let heavy = run(&text(20));
    let timed_out = heavy.requests[0].outcomes.get(Outcome::Timeout) as f64;
    // 200 requests in the window; the link sends 10 answers a second: about 100 of them.
    assert!((timed_out - 100.0).abs() <= 10.0, "{timed_out} lost");
}

/// Chaos Monkey's calendar on a single instance, every work day (mean_days = 1), each kill a
/// reboot of one hour: two weeks hold ten work days, so ten kills and ten hours down, and a
/// request a second (constant) finds the instance down 36,000 times. None on the weekend.
#[test]
fn chaos_monkey_reboots_on_its_calendar() {
    let text = r#"
[scenario]
name = "monkey"
duration = "14d"
warmup = "0s"

[[workload]]
name = "w"
arrival = { process = "constant", rate_per_s = 1 }

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
service_time = { dist = "constant", value = "1ms" }

[[fault]]
kind = "reboot"
service = "api"
duration = "1h"
chaos_monkey = { mean_days = 1 }
"#;
    let r = run(text);
    let failed = r.requests[0].outcomes.get(Outcome::Error);
    assert_eq!(failed, 36_000);
}

/// API errors: 30% of the calls to api fail at once, 5,000 requests in the window. Three
/// attempts retried on the class the fault answers: a request fails when all three do,
/// 0.3^3 = 2.7% (135); retried on the other class, the first failure is final (1,500). A
/// throttling error is `rejected`, an internal one `error`.
#[test]
fn api_errors_fail_with_their_class_and_retries_treat_it_so() {
    let failed = |class: &str, retry_on: &str, outcome: Outcome| {
        let request = format!("retry = {{ max_attempts = 3, retry_on = [\"{retry_on}\"] }}");
        let fault = format!("kind = \"api-error\"\nerror_percent = 30\nclass = \"{class}\"");
        let r = run(&scenario(&request, "", &fault));
        let st = &r.requests[0];
        assert_eq!(st.outcomes.total() - st.outcomes.successes(), st.outcomes.get(outcome), "{class}");
        st.outcomes.get(outcome) as f64
    };
    // Binomial spreads: sqrt(5,000 x 0.027 x 0.973) = 11.5, sqrt(5,000 x 0.3 x 0.7) = 32.4.
    let n = failed("throttled", "rejected", Outcome::Rejected);
    assert!((n - 135.0).abs() < 4.0 * 11.5, "{n} throttled after retries (expected 135)");
    let n = failed("throttled", "error", Outcome::Rejected);
    assert!((n - 1500.0).abs() < 4.0 * 32.4, "{n} throttled, not retried (expected 1,500)");
    let n = failed("internal", "error", Outcome::Error);
    assert!((n - 135.0).abs() < 4.0 * 11.5, "{n} internal errors after retries (expected 135)");
    let n = failed("unavailable", "timeout", Outcome::Error);
    assert!((n - 1500.0).abs() < 4.0 * 32.4, "{n} unavailable, not retried (expected 1,500)");
}

/// Istio-style HTTP faults: 10% aborted with a 503 and 20% of the answers 100 ms late, of
/// the 5,000 requests in the window (sd 21 and 28).
#[test]
fn http_faults_abort_and_delay_their_shares() {
    let fault =
        "kind = \"http-fault\"\nerror_percent = 10\nclass = \"unavailable\"\nslow_percent = 20\nlatency = \"100ms\"";
    let r = run(&scenario("", "", fault));
    let st = &r.requests[0];
    let errors = st.outcomes.get(Outcome::Error) as f64;
    assert!((errors - 500.0).abs() < 4.0 * 21.2, "{errors} aborted (expected 500)");
    // Of the 4,500 not aborted, 20% late: 900.
    let late = st.latency.count_between(90_000_000, u64::MAX) as f64;
    assert!((late - 900.0).abs() < 4.0 * 26.8, "{late} late (expected 900)");
}

/// A random pick on an autoscaled service (4 in service of at most 8) chooses among the 4
/// in service, as AWS FIS resolves its targets among running instances: over 200 seeds,
/// every pick of 2 is within instances 0 to 3, and each of them is picked.
#[test]
fn a_random_pick_on_an_autoscaled_service_hits_instances_in_service() {
    let spec = compile_ok(&scenario(
        "",
        "autoscaling = { kind = \"hpa\", min = 2, max = 8, target_utilisation = 50 }",
        "kind = \"stop\"\ncount = 2",
    ));
    let mut seen = [0u32; 8];
    for seed in 0..200 {
        for (_, i) in spec.faults[0].target.chosen(0, seed) {
            seen[i as usize] += 1;
        }
    }
    assert!(seen[..4].iter().all(|&n| n > 0) && seen[4..].iter().all(|&n| n == 0), "{seen:?}");
}
