//! Resilience policies in whole runs, against the numbers of shared/reference/resilience.md:
//! retry amplification (2.5), the AWS retry quota (2.1), the fan-out law (2.5). Arrivals are
//! constant and far apart unless a case says otherwise, so every count is exact.

use cellsim_models::{compile, simulate, NoSeries, Outcome, RunResult, ServiceStats};

fn run(text: &str) -> RunResult {
    let spec = compile("resilience.toml", text).unwrap_or_else(|e| panic!("{}", e[0]));
    let (r, _) = simulate(&spec, 1, NoSeries);
    assert!(r.verdict.is_completed(), "{:?}", r.verdict);
    r
}

fn service<'a>(r: &'a RunResult, name: &str) -> &'a ServiceStats {
    r.services.iter().find(|s| s.service == name).unwrap()
}

/// One request per second, `seconds` of them, to `s1`, with the client's `retry` (TOML inline
/// table, or empty for none) and `timeout`.
fn head(seconds: u32, retry: &str, timeout: &str) -> String {
    let retry = if retry.is_empty() { String::new() } else { format!("retry = {retry}") };
    let timeout = if timeout.is_empty() { String::new() } else { format!("timeout = \"{timeout}\"") };
    // Arrivals come at 1 s, 2 s, ...: half a second more makes `seconds` requests.
    let duration_ms = seconds * 1000 + 500;
    format!(
        r#"
[scenario]
name = "resilience"
duration = "{duration_ms}ms"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 1 }}

[[workload.request]]
name = "r"
target = "s1"
{timeout}
{retry}
"#
    )
}

/// A chain s1 -> s2 -> ... -> s`depth`, each call with `retry`; the last service always
/// fails.
fn chain(depth: usize, retry: &str) -> String {
    let mut text = String::new();
    for i in 1..=depth {
        text += &format!(
            "\n[[service]]\nname = \"s{i}\"\nworkers = 1000\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n"
        );
        if i == depth {
            text += "error_probability = 1.0\n";
        } else {
            text += &format!("\n[[service.call]]\nto = \"s{}\"\nretry = {retry}\n", i + 1);
        }
    }
    text
}

#[test]
fn three_attempts_per_layer_over_five_layers_reach_the_dead_leaf_243_times() {
    // Reference 2.5: 3 attempts per layer on a 5-deep stack gives 3^5 = 243x the load.
    let retry = "{ max_attempts = 3 }";
    let r = run(&(head(20, retry, "") + &chain(5, retry)));
    let requests = r.requests[0].outcomes.total();
    assert_eq!(requests, 20);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Error), 20);
    for (i, want) in [3, 9, 27, 81, 243].iter().enumerate() {
        let s = service(&r, &format!("s{}", i + 1));
        assert_eq!(s.arrivals, want * requests, "s{}", i + 1);
    }
    assert_eq!(r.requests[0].attempts, 3 * requests);
}

#[test]
fn retry_on_limits_which_failures_are_retried() {
    // The leaf fails with errors; retrying only timeouts leaves one attempt per layer.
    let retry = r#"{ max_attempts = 3, retry_on = ["timeout"] }"#;
    let r = run(&(head(20, retry, "") + &chain(5, retry)));
    assert_eq!(service(&r, "s5").arrivals, 20);
}

/// A client whose every call fails (errors, or timeouts when `timeout` is set), with the AWS
/// retry quota of `kind`: returns the retries the client made.
fn aws_retries(kind: &str, timeout: &str) -> u64 {
    let retry = format!(r#"{{ max_attempts = 3, budget = {{ kind = "{kind}" }} }}"#);
    let dead = if timeout.is_empty() {
        "service_time = { dist = \"constant\", value = \"1ms\" }\nerror_probability = 1.0"
    } else {
        "service_time = { dist = \"constant\", value = \"2s\" }"
    };
    let text = head(300, &retry, timeout) + &format!("\n[[service]]\nname = \"s1\"\nworkers = 1000\n{dead}\n");
    let r = run(&text);
    let req = &r.requests[0];
    assert_eq!(req.outcomes.total(), 300);
    assert_eq!(req.outcomes.successes(), 0);
    assert_eq!(service(&r, "s1").arrivals, req.attempts, "every attempt reached the service");
    req.attempts - req.outcomes.total()
}

#[test]
fn a_full_aws_retry_quota_allows_100_failed_retries_or_50_after_timeouts() {
    // Reference 2.1: capacity 500, 5 per retry (10 after a timeout), nothing back on failure.
    assert_eq!(aws_retries("aws-standard", ""), 100);
    assert_eq!(aws_retries("aws-standard", "100ms"), 50);
    // The 2026 costs: 14 per retry, timeouts not special: 500 / 14 = 35.
    assert_eq!(aws_retries("aws-standard-2026", ""), 35);
    assert_eq!(aws_retries("aws-standard-2026", "100ms"), 35);
}

#[test]
fn a_retry_budget_on_every_layer_caps_the_amplification() {
    // With an AWS quota per calling instance on every layer, each layer's budget runs dry
    // after 100 retries; after that every layer sends one attempt per call. Over 300
    // requests the leaf sees far less than 243x: at most 300 first attempts plus the
    // retries the five budgets can fund, amplified by the layers below each.
    let retry = r#"{ max_attempts = 3, budget = { kind = "aws-standard" } }"#;
    let r = run(&(head(300, retry, "") + &chain(5, retry)));
    let leaf = service(&r, "s5").arrivals;
    let unbudgeted = 243 * 300;
    assert!(leaf < unbudgeted / 20, "leaf saw {leaf} attempts");
    // Each of the five budgets granted exactly 100 retries: the callee of layer k sees
    // 300 + 100 more arrivals than its caller's calls, layer by layer.
    let arrivals: Vec<u64> = (1..=5).map(|i| service(&r, &format!("s{i}")).arrivals).collect();
    assert_eq!(arrivals[0], 300 + 100);
    for k in 1..5 {
        assert_eq!(arrivals[k], arrivals[k - 1] + 100, "layer {}", k + 1);
    }
}

/// Requests every 10 ms (`n` of them) from a client with `client` settings (TOML lines) to
/// `s1`, then `services`.
fn every_10ms(n: u32, client: &str, services: &str) -> RunResult {
    run(&format!(
        r#"
[scenario]
name = "breakers"
duration = "{}ms"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 100 }}

[[workload.request]]
name = "r"
target = "s1"
{client}
{services}
"#,
        n * 10 + 5
    ))
}

const DEAD: &str = r#"
[[service]]
name = "s1"
workers = 100
service_time = { dist = "constant", value = "1ms" }
error_probability = 1.0
"#;

#[test]
fn a_resilience4j_breaker_refuses_calls_to_a_dead_service_and_probes_once_per_wait() {
    // Hand-computed: calls at 10, 20, ... ms each fail 1 ms later. The 10th result (101 ms)
    // fills the minimum of 10 at 100% failures: open at 101 ms for 1 s. The first call
    // strictly after 1.101 s (at 1.11 s) is the half-open trial (1 permit); it fails at
    // 1.111 s: open again. Trials follow at 2.12, 3.13, ..., 9.19 s: 9 trials in 10 s.
    let breaker = r#"breaker = { kind = "resilience4j", window_size = 10, minimum_calls = 10, wait_in_open = "1s", half_open_permits = 1 }"#;
    let r = every_10ms(1000, breaker, DEAD);
    let req = &r.requests[0];
    assert_eq!(req.outcomes.total(), 1000);
    assert_eq!(req.outcomes.get(Outcome::Error), 19);
    assert_eq!(req.outcomes.get(Outcome::Refused), 981);
    assert_eq!(service(&r, "s1").arrivals, 19);
    let p = &r.policies[0];
    assert_eq!((p.policy, p.kind, p.copies, p.opened, p.refused), ("breaker", "resilience4j", 1, 10, 981));
}

#[test]
fn breaker_scope_per_instance_trips_later_than_a_shared_one() {
    // A front of 4 instances (round-robin) calls a dead backend through a breaker that trips
    // after 10 calls at 100% failures. Per instance, each of the 4 breakers needs its own
    // 10 failures: 40 calls reach the backend. Shared by the service: 10.
    let front = |scope: &str| {
        format!(
            r#"
[[service]]
name = "s1"
instances = 4
workers = 100
service_time = {{ dist = "constant", value = "1ms" }}

[[service.call]]
to = "s2"
breaker = {{ kind = "resilience4j", window_size = 10, minimum_calls = 10, wait_in_open = "60s", scope = "{scope}" }}

[[service]]
name = "s2"
workers = 100
service_time = {{ dist = "constant", value = "1ms" }}
error_probability = 1.0
"#
        )
    };
    let per_instance = every_10ms(200, "", &front("instance"));
    let shared = every_10ms(200, "", &front("service"));
    assert_eq!(service(&per_instance, "s2").arrivals, 40);
    assert_eq!(service(&shared, "s2").arrivals, 10);
    assert_eq!(per_instance.policies[0].copies, 4);
    assert_eq!(per_instance.policies[0].opened, 4);
    assert_eq!(shared.policies[0].copies, 1);
    // Either way the client sees errors: the front fails when its critical call is refused.
    assert_eq!(per_instance.requests[0].outcomes.get(Outcome::Error), 200);
}

#[test]
fn a_hystrix_breaker_opens_at_a_snapshot_and_probes_once() {
    // 100 calls/s to a dead service. Hystrix checks every 500 ms: at 0.5 s it has seen 49
    // failed calls (>= 20, 100% >= 50%) and opens. Sleep 5 s: probes at 5.51 s and, after
    // that probe fails at 5.511 s, at 10.52 s.
    let r = every_10ms(1100, r#"breaker = { kind = "hystrix" }"#, DEAD);
    assert_eq!(service(&r, "s1").arrivals, 49 + 2);
    assert_eq!(r.policies[0].opened, 3);
}

/// The shipped metastability scenario with `edit` applied to its text, run with `seed`.
fn metastable_variant(edit: impl Fn(&str) -> String, seed: u64) -> cellsim_models::Stability {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/metastable-retries.toml")).unwrap();
    let spec = compile("metastable-retries.toml", &edit(&text)).unwrap_or_else(|e| panic!("{}", e[0]));
    let (r, _) = simulate(&spec, seed, NoSeries);
    r.stability.expect("the scenario has a fault")
}

#[test]
fn immediate_retries_turn_a_ten_second_capacity_drop_into_a_lasting_collapse() {
    // Reference section 5 (toy model): rho 0.5, 4 immediate retries, capacity to 20% for
    // 10 s: goodput 0/s long after the trigger. Three seeds, each one decisive.
    for seed in 1..=3 {
        let st = metastable_variant(|t| t.to_string(), seed);
        assert!((st.goodput_before_per_s() - 50.0).abs() < 2.5, "seed {seed}: {st:?}");
        assert!(st.goodput_after_per_s() < 1.0, "seed {seed}: goodput after {}", st.goodput_after_per_s());
        assert_eq!(st.metastable(), Some(true));
    }
}

#[test]
fn a_retry_budget_or_a_breaker_or_lower_load_lets_the_same_system_recover() {
    let budget =
        |t: &str| t.replace("max_attempts = 5 }\n", "max_attempts = 5, budget = { kind = \"aws-standard\" } }\n");
    let breaker = |t: &str| {
        t.replace(
            "retry = { max_attempts = 5 }\n",
            "retry = { max_attempts = 5 }\nbreaker = { kind = \"resilience4j\", window_size = 20, minimum_calls = 20, wait_in_open = \"5s\" }\n",
        )
    };
    // 15/s x 5 attempts = 75/s < 100/s: not vulnerable (the reference's rho = 0.15 row).
    let low_load = |t: &str| t.replace("rate_per_s = 50", "rate_per_s = 15");
    let no_retries = |t: &str| t.replace("retry = { max_attempts = 5 }\n", "");
    type Edit = fn(&str) -> String;
    let variants: [(&str, Edit); 4] =
        [("budget", budget), ("breaker", breaker), ("low load", low_load), ("no retries", no_retries)];
    for (name, edit) in variants {
        assert_ne!(
            edit("retry = { max_attempts = 5 }\nrate_per_s = 50"),
            "retry = { max_attempts = 5 }\nrate_per_s = 50"
        );
        for seed in 1..=3 {
            let st = metastable_variant(edit, seed);
            let (before, after) = (st.goodput_before_per_s(), st.goodput_after_per_s());
            assert!(after > 0.95 * before, "{name}, seed {seed}: goodput {before} before, {after} after");
            assert_eq!(st.metastable(), Some(false), "{name}");
        }
    }
}

/// A front that fans out to 100 shards in parallel. A shard takes U(0.5, 1.5) ms, except
/// 1% of the time when it takes U(100, 120) ms (an empirical distribution with a jump at
/// p = 99). `hedge` is the shard call's hedge (TOML inline table) or empty.
fn fan_out(hedge: &str) -> RunResult {
    let mut text = String::from(
        r#"
[scenario]
name = "fan-out"
duration = "200s"

[[workload]]
name = "w"
arrival = { process = "poisson", rate_per_s = 100 }

[[workload.request]]
name = "r"
target = "front"

[[service]]
name = "front"
workers = 1000
service_time = { dist = "constant", value = "0ms" }
"#,
    );
    let hedge = if hedge.is_empty() { String::new() } else { format!("hedge = {hedge}") };
    for i in 0..100 {
        text += &format!("\n[[service.call]]\nto = \"shard{i}\"\ngroup = \"all\"\n{hedge}\n");
    }
    for i in 0..100 {
        text += &format!(
            r#"
[[service]]
name = "shard{i}"
workers = 1000
service_time = {{ dist = "empirical", points = [{{ p = 0, value = "0.5ms" }}, {{ p = 99, value = "1.5ms" }}, {{ p = 99, value = "100ms" }}, {{ p = 100, value = "120ms" }}] }}
"#
        );
    }
    run(&text)
}

/// The share of successful requests slower than `ms`.
fn share_slower_than(r: &RunResult, ms: f64) -> f64 {
    let h = &r.requests[0].latency;
    let slow: u64 =
        h.iter_recorded().filter(|v| v.value_iterated_to() as f64 > ms * 1e6).map(|v| v.count_at_value()).sum();
    slow as f64 / h.len() as f64
}

#[test]
fn a_hundred_way_fan_out_with_one_percent_slow_shards_is_slow_63_percent_of_the_time() {
    // Reference 2.5 (The Tail at Scale): 1 - 0.99^100 = 0.634.
    let r = fan_out("");
    let n = r.requests[0].latency.len() as f64;
    assert!(n > 19_000.0);
    let share = share_slower_than(&r, 50.0);
    let want = 1.0 - 0.99f64.powi(100);
    let sigma = (want * (1.0 - want) / n).sqrt();
    assert!((share - want).abs() < 4.0 * sigma, "slow share {share:.4}, expected {want:.4} +- {:.4}", 4.0 * sigma);
    // Every shard job is one call: 100 per request.
    let shards: u64 = r.services.iter().filter(|s| s.service.starts_with("shard")).map(|s| s.arrivals).sum();
    assert_eq!(shards, 100 * r.requests[0].outcomes.total());
}

#[test]
fn hedging_after_the_p95_cuts_the_fan_out_tail_for_a_few_percent_more_calls() {
    // The shard's p95 is 0.5 + 0.95/0.99 ms = 1.46 ms. Hedging there: a call is slow only if
    // its copies are all slow (0.01^3 with three copies), so the request p99.9 drops from
    // over 100 ms to a few ms, while only calls still out at 1.46 ms (about 5%, plus 1% of
    // those again) send a copy.
    let plain = fan_out("");
    let hedged = fan_out(r#"{ max_attempts = 3, delay = "1.46ms" }"#);
    let p999 = |r: &RunResult| r.requests[0].latency.value_at_quantile(0.999) as f64 / 1e6;
    assert!(p999(&plain) > 100.0, "plain p99.9 {} ms", p999(&plain));
    assert!(p999(&hedged) < 5.0, "hedged p99.9 {} ms", p999(&hedged));
    let calls = |r: &RunResult| -> f64 {
        r.services.iter().filter(|s| s.service.starts_with("shard")).map(|s| s.arrivals).sum::<u64>() as f64
    };
    let extra = calls(&hedged) / calls(&plain) - 1.0;
    // P(a U(0.5, 1.5) ms draw or a slow one exceeds 1.46 ms) = 0.99 x 0.04 + 0.01 = 0.0496.
    assert!((extra - 0.0496).abs() < 0.003, "hedges added {:.2}% calls", extra * 100.0);
}

const FRONT_TO_DEAD: &str = r#"
[[service]]
name = "s1"
workers = 100
service_time = { dist = "constant", value = "2ms" }

[[service.call]]
to = "dead"
CALL_SETTINGS

[[service]]
name = "dead"
workers = 100
service_time = { dist = "constant", value = "1ms" }
error_probability = 1.0
"#;

#[test]
fn a_dead_optional_dependency_degrades_every_answer_and_the_summary_counts_them() {
    let r = every_10ms(100, "", &FRONT_TO_DEAD.replace("CALL_SETTINGS", "critical = false"));
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Degraded), 100);
    assert_eq!(req.outcomes.successes(), 100);
    let summary = cellsim_reports::summarise(&r);
    assert_eq!(summary.requests[0].outcomes["degraded"], 100);
    assert_eq!(summary.requests[0].availability, Some(1.0));
    // 2 ms of own work, then the 1 ms call that fails.
    assert!(req.latency.equivalent(req.latency.min(), req.latency.max()), "all requests took the same time");
    assert!((req.latency.max() as f64 / 1e6 - 3.0).abs() < 0.01);
}

#[test]
fn a_critical_call_with_a_fallback_answers_degraded_after_the_fallback_latency() {
    let settings = r#"fallback = { latency = { dist = "constant", value = "5ms" } }"#;
    let r = every_10ms(100, "", &FRONT_TO_DEAD.replace("CALL_SETTINGS", settings));
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Degraded), 100);
    // 2 ms own work + 1 ms failed call + 5 ms fallback.
    assert!((req.latency.max() as f64 / 1e6 - 8.0).abs() < 0.01, "{}", req.latency.max());
    assert!(req.latency.equivalent(req.latency.min(), req.latency.max()), "all requests took the same time");
    // Without the fallback the same call fails the request.
    let r = every_10ms(100, "", &FRONT_TO_DEAD.replace("CALL_SETTINGS", ""));
    assert_eq!(r.requests[0].outcomes.get(Outcome::Error), 100);
}

#[test]
fn a_bulkhead_refuses_calls_past_its_cap_and_frees_permits_as_calls_end() {
    // A call every 10 ms to a service that takes 35 ms, at most 2 in flight: the calls at
    // 10 and 20 ms go out (ending at 45 and 55 ms), those at 30 and 40 ms are refused, those
    // at 50 and 60 ms take the permits back, and so on: 2 of every 4 calls go out. The test
    // replays the rule rather than trusting the pattern.
    let slow = r#"
[[service]]
name = "s1"
workers = 100
service_time = { dist = "constant", value = "35ms" }
"#;
    let r = every_10ms(1000, r#"bulkhead = { max_concurrent = 2 }"#, slow);
    // Replay: permits held until start + 35 ms; a call at t takes one if fewer than 2 held.
    let mut ends: Vec<u64> = Vec::new();
    let mut sent = 0;
    for k in 1..=1000u64 {
        let t = 10 * k;
        ends.retain(|&e| e > t);
        if ends.len() < 2 {
            ends.push(t + 35);
            sent += 1;
        }
    }
    assert_eq!(service(&r, "s1").arrivals, sent);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Refused), 1000 - sent);
    assert_eq!(r.policies[0].refused, 1000 - sent);
    assert_eq!(sent, 500);
}

/// Readers (50/s) need only the API; writers (50/s) need the API and the database. The
/// API's 4 instances run dependency health checks on the database every second. The
/// database is down from 20 s to 40 s.
fn shared_database_outage(all_unhealthy: &str) -> RunResult {
    run(&format!(
        r#"
[scenario]
name = "dependency-check"
duration = "60s"

[[workload]]
name = "readers"
arrival = {{ process = "constant", rate_per_s = 50 }}

[[workload.request]]
name = "read"
target = "api"

[[workload]]
name = "writers"
arrival = {{ process = "constant", rate_per_s = 50 }}

[[workload.request]]
name = "write"
target = "api"

[[service]]
name = "api"
instances = 4
workers = 10
service_time = {{ dist = "constant", value = "1ms" }}
health_check = {{ kind = "dependency", dependency = "db", interval = "1s", unhealthy_threshold = 2, healthy_threshold = 2, all_unhealthy = "{all_unhealthy}" }}

[[service.call]]
to = "db"
for_types = ["write"]

[[service]]
name = "db"
workers = 10
service_time = {{ dist = "constant", value = "1ms" }}

[[fault]]
kind = "outage"
service = "db"
start = "20s"
duration = "20s"
"#
    ))
}

#[test]
fn a_dependency_check_marks_every_instance_unhealthy_in_a_shared_outage() {
    // The database is down in [20 s, 40 s): checks at 20 s and 21 s fail, so every instance
    // is unhealthy from 21 s; checks at 40 s and 41 s pass: healthy again from 41 s (a check
    // runs before an arrival at the same instant, as it was scheduled first).
    let open = shared_database_outage("fail-open");
    let closed = shared_database_outage("fail-closed");
    for r in [&open, &closed] {
        let fleet = service(r, "api").fleet.expect("api has health checks");
        assert_eq!(fleet.marked_unhealthy, 4);
    }
    let (reads, writes) = (&open.requests[0], &open.requests[1]);
    assert_eq!((reads.request.as_str(), writes.request.as_str()), ("read", "write"));
    // Fail-open: the API keeps answering what it can. Every read succeeds; the writes
    // that reached the database while it was down (arrivals 20.00 s to 39.98 s) fail.
    assert_eq!(reads.outcomes.total(), 2999);
    assert_eq!(reads.outcomes.successes(), 2999);
    assert_eq!(writes.outcomes.get(Outcome::Error), 1000);
    assert_eq!(service(&open, "api").fleet.unwrap().routed_fail_open, 2 * 1000);
    // Fail-closed: from 21 s to 41 s the API answers nothing: 1000 reads and 1000 writes
    // are refused by its balancer; the writes of 20 s to 21 s fail at the database.
    let (reads, writes) = (&closed.requests[0], &closed.requests[1]);
    assert_eq!(reads.outcomes.get(Outcome::Rejected), 1000);
    assert_eq!(reads.outcomes.successes(), 2999 - 1000);
    assert_eq!(writes.outcomes.get(Outcome::Rejected), 1000);
    assert_eq!(writes.outcomes.get(Outcome::Error), 50);
    assert_eq!(service(&closed, "api").fleet.unwrap().refused_fail_closed, 2 * 1000);
}

/// 10 single-worker instances at rho = 0.9 (Poisson 900/s, exponential work of mean 10 ms),
/// balanced by `lb`; returns the mean sojourn in units of the mean work.
fn sojourn_with(lb: &str) -> f64 {
    let r = run(&format!(
        r#"
[scenario]
name = "balancers"
duration = "2000s"
warmup = "100s"

[[workload]]
name = "w"
arrival = {{ process = "poisson", rate_per_s = 900 }}

[[workload.request]]
name = "r"
target = "pool"

[[service]]
name = "pool"
instances = 10
queue_capacity = 100000
load_balancer = "{lb}"
service_time = {{ dist = "exponential", mean = "10ms" }}
"#
    ));
    let s = service(&r, "pool");
    s.sojourn_batches.sum.iter().sum::<f64>() / s.sojourn_batches.count.iter().sum::<u64>() as f64 / 10e6
}

#[test]
fn random_balancing_makes_independent_mm1_queues_and_two_choices_beat_it() {
    // Random splitting of a Poisson stream gives each instance an M/M/1 at rho 0.9:
    // W = 1 / (mu - lambda) = 10 mean works.
    let random = sojourn_with("random");
    assert!((random - 10.0).abs() < 0.6, "random: W = {random:.2} works, expected 10");
    // Power of two choices (Mitzenmacher's supermarket model): W -> sum over i >= 1 of
    // rho^(2^i - 2) = 2.61 works as the fleet grows; 10 instances do a little worse.
    let p2c = sojourn_with("power-of-two");
    assert!(p2c > 2.61 && p2c < 3.5, "power of two: W = {p2c:.2} works");
    // Joining the least loaded of all is better still.
    let least = sojourn_with("least-outstanding");
    assert!(least < p2c, "least outstanding {least:.2} vs two choices {p2c:.2}");
}

#[test]
fn weighted_balancing_splits_by_weight_and_outlier_detection_ejects_a_dead_instance() {
    let text = |extra: &str| {
        format!(
            r#"
[scenario]
name = "weights"
duration = "100s"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 100 }}

[[workload.request]]
name = "r"
target = "pool"

[[service]]
name = "pool"
instances = 5
workers = 10
service_time = {{ dist = "constant", value = "1ms" }}
{extra}
"#
        )
    };
    // Weights 4, 1, 1, 1, 1 out of 8; instance 0 fails for the whole run.
    let dead_first =
        "\n[[fault]]\nkind = \"outage\"\nservice = \"pool\"\nstart = \"0s\"\nduration = \"100s\"\ninstances = 1\n";
    let r = run(&text(&format!("load_balancer = \"weighted\"\nweights = [4, 1, 1, 1, 1]\n{dead_first}")));
    // 9,999 requests; smooth weighted round robin sends 4 of every 8 to the dead instance.
    // Replayed here: add each weight to its score, pick the highest (first on ties), take
    // the total off the winner.
    let (weights, mut score, mut to_dead) = ([4i64, 1, 1, 1, 1], [0i64; 5], 0);
    for _ in 0..9999 {
        (0..5).for_each(|i| score[i] += weights[i]);
        let best = (0..5).fold(0, |b, i| if score[i] > score[b] { i } else { b });
        score[best] -= 8;
        to_dead += (best == 0) as u64;
    }
    assert_eq!(to_dead, 4999, "4 x 1249 in the full cycles, 3 in the last 7 picks");
    assert_eq!(r.requests[0].outcomes.get(Outcome::Error), to_dead);
    // With outlier detection (5 consecutive errors; ejected 30 s, then 60 s; sweeps every
    // 10 s): the dead instance fails 5 jobs and is ejected at about 0.1 s; the sweep at 40 s
    // is the first after its 30 s, so it comes back then, fails 5 more and is ejected for
    // 60 s, past the end of the run. 2 ejections, 10 errors.
    let r = run(&text(&format!("load_balancer = \"weighted\"\nweights = [4, 1, 1, 1, 1]\noutlier_detection = {{ consecutive_errors = 5 }}\n{dead_first}")));
    let fleet = service(&r, "pool").fleet.unwrap();
    assert_eq!(fleet.ejections, 2);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Error), 10);
}

#[test]
fn an_overall_deadline_caps_the_retries_and_ends_the_request_on_time() {
    // Attempts time out after 100 ms; the request's deadline is 250 ms: attempts start at
    // 0, 100 and 200 ms, the third is cut at 250 ms, and no fourth starts.
    let slow = "\n[[service]]\nname = \"s1\"\nworkers = 100\nservice_time = { dist = \"constant\", value = \"1s\" }\n";
    let client = "timeout = \"100ms\"\ndeadline = \"250ms\"\nretry = { max_attempts = 5 }";
    let r = every_10ms(100, client, slow);
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Timeout), 100);
    assert_eq!(req.attempts, 300);
    assert!(req.latency_failed.equivalent(req.latency_failed.min(), req.latency_failed.max()));
    assert!((req.latency_failed.max() as f64 / 1e6 - 250.0).abs() < 0.3, "{}", req.latency_failed.max());
    // The first two attempts time out at 100 and 200 ms (1 ns after, in fact: an answer at
    // the deadline's instant would still count).
}

/// Calls every 10 ms to one worker that takes 30 ms, with a 50 ms timeout, the deadline
/// propagated or not. Returns (successes, jobs the server dropped as expired, jobs it
/// finished).
fn overloaded_server(propagate: bool, discipline: &str) -> (u64, u64, u64) {
    let server = format!("\n[[service]]\nname = \"s1\"\nqueue_capacity = 100000\nqueue_discipline = \"{discipline}\"\nservice_time = {{ dist = \"constant\", value = \"30ms\" }}\n");
    let client = format!("timeout = \"50ms\"\npropagate_deadline = {propagate}");
    let r = every_10ms(1000, &client, &server);
    let s = service(&r, "s1");
    let finished = s.outcomes.get(Outcome::Ok);
    (r.requests[0].outcomes.successes(), s.outcomes.get(Outcome::Timeout), finished)
}

#[test]
fn a_propagated_deadline_stops_the_server_working_for_callers_that_left() {
    // Replay of the rule: a free server takes the oldest queued job; one whose deadline
    // (arrival + 50 ms) has been reached is dropped; a job succeeds if it finishes by its
    // deadline (an answer at the deadline's instant is in time).
    let (mut free_at, mut ok, mut dropped) = (0u64, 0u64, 0u64);
    let mut queue: std::collections::VecDeque<u64> = (1..=1000u64).map(|k| 10 * k).collect();
    while let Some(&a) = queue.front() {
        let t = free_at.max(a);
        queue.pop_front();
        if a + 50 <= t {
            dropped += 1;
            continue;
        }
        ok += (t + 30 <= a + 50) as u64;
        free_at = t + 30;
    }
    let (successes, expired, finished) = overloaded_server(true, "fifo");
    assert_eq!((successes, expired), (ok, dropped));
    assert_eq!(finished + expired, 1000);
    // Without propagation the server works through the whole backlog for callers that have
    // gone: 1000 jobs of work for the same 2 answers in time. With it, a third of that.
    let (without, expired, finished) = overloaded_server(false, "fifo");
    assert_eq!((without, expired, finished), (ok, 0, 1000));
    assert_eq!(ok, 2, "FIFO still serves only stale work: each job it takes has under 30 ms left");
    assert_eq!(dropped, 665);
    // Deadlines plus LIFO restore goodput: the server takes the freshest job, which it can
    // finish in time, and drops the expired ones: a third of the calls (its capacity).
    let (lifo, _, _) = overloaded_server(true, "lifo");
    assert!(lifo > 320, "LIFO with deadlines: {lifo} answers in time");
}

/// Poisson arrivals at twice the capacity of one worker (work 10 ms exponential) for 60 s,
/// clients giving up after 1 s, with `extra` service settings. Returns the successful
/// requests' latency histogram and the request count.
fn overload(extra: &str) -> (hdrhistogram::Histogram<u64>, u64) {
    let r = run(&format!(
        r#"
[scenario]
name = "shedding"
duration = "60s"

[[workload]]
name = "w"
arrival = {{ process = "poisson", rate_per_s = 200 }}

[[workload.request]]
name = "r"
target = "s1"
timeout = "1s"

[[service]]
name = "s1"
queue_capacity = 100000
service_time = {{ dist = "exponential", mean = "10ms" }}
{extra}
"#
    ));
    (r.requests[0].latency.clone(), r.requests[0].outcomes.total())
}

#[test]
fn codel_bounds_the_queueing_time_of_what_it_serves_and_lifo_serves_fresh_work_first() {
    // FIFO: the backlog grows by 100 jobs a second; after its first second every job waits
    // longer than the clients do. Goodput collapses to the first second's worth.
    let (fifo, n) = overload("");
    assert!((fifo.len() as f64) < 0.05 * n as f64, "FIFO served {} of {n} in time", fifo.len());
    // CoDel (target 5 ms, interval 100 ms): a served job waited at most 100 ms, so it
    // finished within 100 ms plus its own work.
    let (codel, _) = overload("codel = { target = \"5ms\", interval = \"100ms\" }");
    let max_work_ns = 200_000_000; // an exponential draw of mean 10 ms over 200 ms: p = e^-20
    assert!(codel.max() < 100_000_000 + max_work_ns, "CoDel max latency {} ms", codel.max() / 1_000_000);
    assert!(codel.value_at_quantile(0.99) < 120_000_000);
    assert!((codel.len() as f64) < 0.6 * n as f64 && (codel.len() as f64) > 0.4 * n as f64, "served {}", codel.len());
    // LIFO under overload: the newest work is served fresh, so about half the requests (the
    // capacity) succeed, quickly; the rest starve.
    for discipline in ["lifo", "adaptive-lifo"] {
        let (lifo, _) = overload(&format!("queue_discipline = \"{discipline}\""));
        let share = lifo.len() as f64 / n as f64;
        assert!(share > 0.4 && share < 0.6, "{discipline} served {share:.2}");
        assert!(
            lifo.value_at_quantile(0.5) < 50_000_000,
            "{discipline} median {} ms",
            lifo.value_at_quantile(0.5) / 1_000_000
        );
    }
}

#[test]
fn a_concurrency_limit_rejects_past_the_limit() {
    // As the bulkhead case: every 10 ms, 35 ms of work, at most 2 jobs present: 2 of 4.
    let slow = "\n[[service]]\nname = \"s1\"\nworkers = 100\nmax_in_flight = 2\nservice_time = { dist = \"constant\", value = \"35ms\" }\n";
    let r = every_10ms(1000, "", slow);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Rejected), 500);
    assert_eq!(service(&r, "s1").outcomes.get(Outcome::Rejected), 500);
}

#[test]
fn adaptive_throttling_refuses_in_proportion_to_what_the_backend_rejects() {
    // A backend of 3 workers (10 ms each, no queue) offered 1000 calls/s can accept under
    // 300/s. Client-side throttling with K = 2 settles where the refusal share is
    // 1 - K x accepts / requests (reference 2.5): the client still sends about twice what
    // the backend accepts, and sheds the rest locally.
    let text = r#"
[scenario]
name = "throttling"
duration = "600s"
warmup = "120s"

[[workload]]
name = "w"
arrival = { process = "poisson", rate_per_s = 1000 }

[[workload.request]]
name = "r"
target = "s1"
adaptive_throttling = { k = 2, window = "120s" }

[[service]]
name = "s1"
workers = 3
queue_capacity = 0
service_time = { dist = "constant", value = "10ms" }
"#;
    let r = run(text);
    let o = &r.requests[0].outcomes;
    let n = o.total() as f64;
    let (ok, refused, rejected) =
        (o.successes() as f64 / n, o.get(Outcome::Refused) as f64 / n, o.get(Outcome::Rejected) as f64 / n);
    assert!((refused - (1.0 - 2.0 * ok)).abs() < 0.02, "refused {refused:.3}, accepted {ok:.3}");
    assert!(ok > 0.2 && ok < 0.3, "accepted {ok:.3}");
    // What was sent (not refused) is about twice what was accepted.
    assert!(((ok + rejected) / ok - 2.0).abs() < 0.1, "sent / accepted = {:.2}", (ok + rejected) / ok);
    assert_eq!(r.policies[0].policy, "adaptive-throttling");
}

#[test]
fn a_bulkhead_with_pending_room_queues_fifo_and_refuses_past_it() {
    // Envoy's max_requests 2 with max_pending_requests 1: calls every 10 ms, 35 ms each.
    // Replayed in 5 ms steps: at each instant, calls that end free their permits; an
    // arriving call takes a permit only if nobody waits (waiters go first), else waits if
    // the wait queue has room, else is refused; then waiters take the free permits.
    let (mut in_flight, mut waiting, mut sent, mut refused) = (Vec::<u64>::new(), 0u32, 0u64, 0u64);
    let mut t = 0u64;
    while t <= 10_000 + 100 {
        in_flight.retain(|&end| end > t);
        if t > 0 && t.is_multiple_of(10) && t <= 10_000 {
            if waiting == 0 && in_flight.len() < 2 {
                in_flight.push(t + 35);
                sent += 1;
            } else if waiting < 1 {
                waiting += 1;
            } else {
                refused += 1;
            }
        }
        while waiting > 0 && in_flight.len() < 2 {
            waiting -= 1;
            in_flight.push(t + 35);
            sent += 1;
        }
        t += 5;
    }
    let slow =
        "\n[[service]]\nname = \"s1\"\nworkers = 100\nservice_time = { dist = \"constant\", value = \"35ms\" }\n";
    let r = every_10ms(1000, r#"bulkhead = { max_concurrent = 2, max_pending = 1 }"#, slow);
    assert_eq!(service(&r, "s1").arrivals, sent);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Refused), refused);
    assert_eq!(sent + refused, 1000);
    // More than the 500 that fail-fast lets through: the waiting room absorbs the phase.
    assert!(sent > 500, "{sent}");
    // A bounded wait: waiting longer than 3 ms is refused, so only waiters freed within
    // 3 ms go (a call arriving 5 ms before a release waits too long).
    let r = every_10ms(1000, r#"bulkhead = { max_concurrent = 2, max_pending = 1, max_wait = "3ms" }"#, slow);
    assert_eq!(service(&r, "s1").arrivals, 500);
}
