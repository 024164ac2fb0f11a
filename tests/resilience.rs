//! Resilience policies in whole runs, against the numbers of shared/reference/resilience.md:
//! retry amplification (2.5), the AWS retry quota (2.1), the fan-out law (2.5). Arrivals are
//! constant and far apart unless a case says otherwise, so every count is exact.

use crate::support::{
    arrivals_with_prefix, compile_ok, constant, exponential, scenario_text, service, Call, Fault, Request, Scenario,
    Service, Workload,
};
use cellsim_models::{simulate, NoSeries, Outcome, RunResult};

/// One request per second, `seconds` of them, to `s1`, with the client's `retry` (TOML inline
/// table, or empty for none) and `timeout` (or empty for none).
fn head(seconds: u32, retry: &str, timeout: &str) -> Scenario {
    let mut request = Request::new("r", "s1");
    if !timeout.is_empty() {
        request = request.set_str("timeout", timeout);
    }
    if !retry.is_empty() {
        request = request.set("retry", retry);
    }
    // Arrivals come at 1 s, 2 s, ...: half a second more makes `seconds` requests.
    let duration_ms = seconds * 1000 + 500;
    Scenario::new("resilience", &format!("{duration_ms}ms")).workload(Workload::constant("w", 1.0).request(request))
}

/// A chain s1 -> s2 -> ... -> s`depth`, each call with `retry`; the last service always
/// fails.
fn chain(depth: usize, retry: &str) -> Vec<Service> {
    (1..=depth)
        .map(|i| {
            let s = Service::new(&format!("s{i}"), &constant("1ms")).workers(1000);
            if i == depth {
                s.always_fails()
            } else {
                s.call(Call::to(&format!("s{}", i + 1)).set("retry", retry))
            }
        })
        .collect()
}

#[test]
fn three_attempts_per_layer_over_five_layers_reach_the_dead_leaf_243_times() {
    // Reference 2.5: 3 attempts per layer on a 5-deep stack gives 3^5 = 243x the load.
    let retry = "{ max_attempts = 3 }";
    let r = head(20, retry, "").services(chain(5, retry)).run();
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
    let r = head(20, retry, "").services(chain(5, retry)).run();
    assert_eq!(service(&r, "s5").arrivals, 20);
}

/// A client whose every call fails (errors, or timeouts when `timeout` is set), with the AWS
/// retry quota of `kind`: returns the retries the client made.
fn aws_retries(kind: &str, timeout: &str) -> u64 {
    let retry = format!(r#"{{ max_attempts = 3, budget = {{ kind = "{kind}" }} }}"#);
    let dead = if timeout.is_empty() {
        Service::new("s1", &constant("1ms")).always_fails()
    } else {
        Service::new("s1", &constant("2s"))
    };
    let r = head(300, &retry, timeout).service(dead.workers(1000)).run();
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
    let r = head(300, retry, "").services(chain(5, retry)).run();
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
fn every_10ms(n: u32, client: &str, services: impl IntoIterator<Item = Service>) -> RunResult {
    Scenario::new("breakers", &format!("{}ms", n * 10 + 5))
        .workload(Workload::constant("w", 100.0).request(Request::new("r", "s1").line(client)))
        .services(services)
        .run()
}

/// `s1`, 100 workers, fails every job after 1 ms.
fn dead() -> Service {
    Service::new("s1", &constant("1ms")).workers(100).always_fails()
}

/// `s1`, 100 workers, `work` per job.
fn slow(work: &str) -> Service {
    Service::new("s1", &constant(work)).workers(100)
}

#[test]
fn a_resilience4j_breaker_refuses_calls_to_a_dead_service_and_probes_once_per_wait() {
    // Hand-computed: calls at 10, 20, ... ms each fail 1 ms later. The 10th result (101 ms)
    // fills the minimum of 10 at 100% failures: open at 101 ms for 1 s. The first call
    // strictly after 1.101 s (at 1.11 s) is the half-open trial (1 permit); it fails at
    // 1.111 s: open again. Trials follow at 2.12, 3.13, ..., 9.19 s: 9 trials in 10 s.
    let breaker = r#"breaker = { kind = "resilience4j", window_size = 10, minimum_calls = 10, wait_in_open = "1s", half_open_permits = 1 }"#;
    let r = every_10ms(1000, breaker, [dead()]);
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
        let breaker = format!(
            r#"{{ kind = "resilience4j", window_size = 10, minimum_calls = 10, wait_in_open = "60s", scope = "{scope}" }}"#
        );
        [
            Service::new("s1", &constant("1ms")).instances(4).workers(100).call(Call::to("s2").set("breaker", breaker)),
            Service::new("s2", &constant("1ms")).workers(100).always_fails(),
        ]
    };
    let per_instance = every_10ms(200, "", front("instance"));
    let shared = every_10ms(200, "", front("service"));
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
    let r = every_10ms(1100, r#"breaker = { kind = "hystrix" }"#, [dead()]);
    assert_eq!(service(&r, "s1").arrivals, 49 + 2);
    assert_eq!(r.policies[0].opened, 3);
}

/// The shipped metastability scenario with `edit` applied to its text, run with `seed`.
fn metastable_variant(edit: impl Fn(&str) -> String, seed: u64) -> cellsim_models::Stability {
    let spec = compile_ok(&edit(&scenario_text("metastable-retries.toml")));
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
    let shard_time = r#"{ dist = "empirical", points = [{ p = 0, value = "0.5ms" }, { p = 99, value = "1.5ms" }, { p = 99, value = "100ms" }, { p = 100, value = "120ms" }] }"#;
    let hedge = if hedge.is_empty() { String::new() } else { format!("hedge = {hedge}") };
    let front = (0..100).fold(Service::new("front", &constant("0ms")).workers(1000), |front, i| {
        front.call(Call::to(&format!("shard{i}")).group("all").line(&hedge))
    });
    Scenario::new("fan-out", "200s")
        .workload(Workload::poisson("w", 100.0).request(Request::new("r", "front")))
        .service(front)
        .services((0..100).map(|i| Service::new(&format!("shard{i}"), shard_time).workers(1000)))
        .run()
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
    let shards = arrivals_with_prefix(&r, "shard");
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
    let calls = |r: &RunResult| arrivals_with_prefix(r, "shard") as f64;
    let extra = calls(&hedged) / calls(&plain) - 1.0;
    // P(a U(0.5, 1.5) ms draw or a slow one exceeds 1.46 ms) = 0.99 x 0.04 + 0.01 = 0.0496.
    assert!((extra - 0.0496).abs() < 0.003, "hedges added {:.2}% calls", extra * 100.0);
}

/// `s1` (2 ms of work) calls `dead` (fails every job after 1 ms) with `call_settings` (TOML
/// lines).
fn front_to_dead(call_settings: &str) -> [Service; 2] {
    [
        Service::new("s1", &constant("2ms")).workers(100).call(Call::to("dead").line(call_settings)),
        Service::new("dead", &constant("1ms")).workers(100).always_fails(),
    ]
}

#[test]
fn a_dead_optional_dependency_degrades_every_answer_and_the_summary_counts_them() {
    let r = every_10ms(100, "", front_to_dead("critical = false"));
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
    let r = every_10ms(100, "", front_to_dead(settings));
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Degraded), 100);
    // 2 ms own work + 1 ms failed call + 5 ms fallback.
    assert!((req.latency.max() as f64 / 1e6 - 8.0).abs() < 0.01, "{}", req.latency.max());
    assert!(req.latency.equivalent(req.latency.min(), req.latency.max()), "all requests took the same time");
    // Without the fallback the same call fails the request.
    let r = every_10ms(100, "", front_to_dead(""));
    assert_eq!(r.requests[0].outcomes.get(Outcome::Error), 100);
}

#[test]
fn a_bulkhead_refuses_calls_past_its_cap_and_frees_permits_as_calls_end() {
    // A call every 10 ms to a service that takes 35 ms, at most 2 in flight: the calls at
    // 10 and 20 ms go out (ending at 45 and 55 ms), those at 30 and 40 ms are refused, those
    // at 50 and 60 ms take the permits back, and so on: 2 of every 4 calls go out. The test
    // replays the rule rather than trusting the pattern.
    let r = every_10ms(1000, r#"bulkhead = { max_concurrent = 2 }"#, [slow("35ms")]);
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
    let health_check = format!(
        r#"{{ kind = "dependency", dependency = "db", interval = "1s", unhealthy_threshold = 2, healthy_threshold = 2, all_unhealthy = "{all_unhealthy}" }}"#
    );
    Scenario::new("dependency-check", "60s")
        .workload(Workload::constant("readers", 50.0).request(Request::new("read", "api")))
        .workload(Workload::constant("writers", 50.0).request(Request::new("write", "api")))
        .service(
            Service::new("api", &constant("1ms"))
                .instances(4)
                .workers(10)
                .set("health_check", health_check)
                .call(Call::to("db").set("for_types", r#"["write"]"#)),
        )
        .service(Service::new("db", &constant("1ms")).workers(10))
        .fault(Fault::new("outage", "db", "20s", "20s"))
        .run()
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
    let r = Scenario::new("balancers", "2000s")
        .warmup("100s")
        .workload(Workload::poisson("w", 900.0).request(Request::new("r", "pool")))
        .service(
            Service::new("pool", &exponential("10ms"))
                .instances(10)
                .queue_capacity(100_000)
                .set_str("load_balancer", lb),
        )
        .run();
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
    // Weights 4, 1, 1, 1, 1 out of 8; instance 0 fails for the whole run.
    let weighted = |extra: &str| {
        Scenario::new("weights", "100s")
            .workload(Workload::constant("w", 100.0).request(Request::new("r", "pool")))
            .service(
                Service::new("pool", &constant("1ms"))
                    .instances(5)
                    .workers(10)
                    .set_str("load_balancer", "weighted")
                    .set("weights", "[4, 1, 1, 1, 1]")
                    .line(extra),
            )
            .fault(Fault::new("outage", "pool", "0s", "100s").set("instances", 1))
            .run()
    };
    let r = weighted("");
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
    let r = weighted("outlier_detection = { consecutive_errors = 5 }");
    let fleet = service(&r, "pool").fleet.unwrap();
    assert_eq!(fleet.ejections, 2);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Error), 10);
}

#[test]
fn an_overall_deadline_caps_the_retries_and_ends_the_request_on_time() {
    // Attempts time out after 100 ms; the request's deadline is 250 ms: attempts start at
    // 0, 100 and 200 ms, the third is cut at 250 ms, and no fourth starts.
    let client = "timeout = \"100ms\"\ndeadline = \"250ms\"\nretry = { max_attempts = 5 }";
    let r = every_10ms(100, client, [slow("1s")]);
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
    let server = Service::new("s1", &constant("30ms")).queue_capacity(100_000).set_str("queue_discipline", discipline);
    let client = format!("timeout = \"50ms\"\npropagate_deadline = {propagate}");
    let r = every_10ms(1000, &client, [server]);
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
    let r = Scenario::new("shedding", "60s")
        .workload(Workload::poisson("w", 200.0).request(Request::new("r", "s1").set_str("timeout", "1s")))
        .service(Service::new("s1", &exponential("10ms")).queue_capacity(100_000).line(extra))
        .run();
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
    let r = every_10ms(1000, "", [slow("35ms").set("max_in_flight", 2)]);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Rejected), 500);
    assert_eq!(service(&r, "s1").outcomes.get(Outcome::Rejected), 500);
}

#[test]
fn adaptive_throttling_refuses_in_proportion_to_what_the_backend_rejects() {
    // A backend of 3 workers (10 ms each, no queue) offered 1000 calls/s can accept under
    // 300/s. Client-side throttling with K = 2 settles where the refusal share is
    // 1 - K x accepts / requests (reference 2.5): the client still sends about twice what
    // the backend accepts, and sheds the rest locally.
    let r = Scenario::new("throttling", "600s")
        .warmup("120s")
        .workload(
            Workload::poisson("w", 1000.0)
                .request(Request::new("r", "s1").set("adaptive_throttling", r#"{ k = 2, window = "120s" }"#)),
        )
        .service(Service::new("s1", &constant("10ms")).workers(3).queue_capacity(0))
        .run();
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
    let r = every_10ms(1000, r#"bulkhead = { max_concurrent = 2, max_pending = 1 }"#, [slow("35ms")]);
    assert_eq!(service(&r, "s1").arrivals, sent);
    assert_eq!(r.requests[0].outcomes.get(Outcome::Refused), refused);
    assert_eq!(sent + refused, 1000);
    // More than the 500 that fail-fast lets through: the waiting room absorbs the phase.
    assert!(sent > 500, "{sent}");
    // A bounded wait: waiting longer than 3 ms is refused, so only waiters freed within
    // 3 ms go (a call arriving 5 ms before a release waits too long).
    let r = every_10ms(1000, r#"bulkhead = { max_concurrent = 2, max_pending = 1, max_wait = "3ms" }"#, [slow("35ms")]);
    assert_eq!(service(&r, "s1").arrivals, 500);
}
