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
