//! The speed tiers and fast paths are checked, not trusted. Every shipped scenario and fixture
//! gives the same bytes in every tier at or above the one `simulate` picks, and with the
//! per-call and per-service fast paths switched off. And for every feature that moves a
//! scenario up a tier there is a scenario that uses it alone and whose output changes when
//! a tier below ignores it: so a feature left out of `Features` (or out of a fast path's
//! conditions) makes one of these tests fail.

use crate::support::{compile_ok, scenario_files, toml_files, ROOT};
use cellsim_models::{simulate_in, Feature, Features, SeriesRow, Spec, TierKind};
use cellsim_reports::summarise;
use std::path::Path;

/// The summary (as JSON) and the series of one run.
fn outputs(spec: &Spec, tier: TierKind, fast_paths: bool) -> (String, Vec<SeriesRow>) {
    let (r, series) = simulate_in(spec, 5, Vec::new(), tier, fast_paths);
    (serde_json::to_string_pretty(&summarise(&r)).unwrap(), series)
}

/// Runs `spec` in every tier from `lowest` up, fast paths on and off: all must equal the
/// most general run (the full tier, no fast path), which is returned.
fn same_in_every_tier_from(spec: &Spec, lowest: TierKind, what: &str) -> (String, Vec<SeriesRow>) {
    let reference = outputs(spec, TierKind::Full, false);
    for tier in TierKind::ALL.into_iter().filter(|&t| t >= lowest) {
        for fast_paths in [true, false] {
            let got = outputs(spec, tier, fast_paths);
            assert!(
                got.0 == reference.0,
                "{what}: the summary differs in tier {} (fast paths {fast_paths})",
                tier.name()
            );
            assert!(
                got.1 == reference.1,
                "{what}: the series differs in tier {} (fast paths {fast_paths})",
                tier.name()
            );
        }
    }
    reference
}

#[test]
fn every_shipped_scenario_gives_the_same_bytes_in_every_tier_that_covers_it() {
    let mut files = scenario_files();
    files.extend(toml_files("tests/fixtures").into_iter().map(|p| Path::new(ROOT).join(p)));
    // The benchmarks' chain with policies takes the inline gate; run them shortened.
    files.extend(toml_files("benches/scenarios").into_iter().map(|p| Path::new(ROOT).join(p)));
    assert!(files.len() >= 22, "found {} scenarios", files.len());
    for file in files {
        let mut spec = cellsim_models::load(&file.display().to_string()).unwrap_or_else(|e| panic!("{}", e[0]));
        // Hours of M/M/c teach nothing more here than a few minutes do.
        let cap_ns = if file.starts_with(Path::new(ROOT).join("benches")) { 100 } else { 1800 } * 1_000_000_000;
        // And at most about 100,000 requests (the Ring-scale benchmark sends 130,000 a second).
        let peak_per_s: f64 = spec.workloads.iter().map(|w| w.arrival.peak_rate_per_s()).sum();
        let cap_ns = cap_ns.min((100_000.0 / peak_per_s.max(1e-9) * 1e9) as u64);
        if spec.duration_ns > cap_ns {
            spec.duration_ns = cap_ns;
            spec.warmup_ns = spec.warmup_ns.min(cap_ns / 10);
        }
        let tier = Features::of(&spec).tier();
        same_in_every_tier_from(&spec, tier, &file.display().to_string());
    }
}

/// A scenario that uses `feature` and nothing else beyond the lean tier: Poisson requests to
/// `front`, which calls `back` with a 20 ms timeout; `back` is loaded enough that some calls
/// time out, so every policy has something to act on.
fn minimal(feature: Feature) -> String {
    let (mut request, mut call, mut back, mut fault) = ("", "", "", "");
    match feature {
        Feature::RetryBudget => {
            call = "retry = { max_attempts = 3, budget = { kind = \"sre-ratio\", ratio = 0.01, window = \"10s\" } }"
        }
        Feature::CircuitBreaker => {
            call = "breaker = { kind = \"resilience4j\", window_size = 20, minimum_calls = 10, failure_rate_threshold = 5, wait_in_open = \"1s\" }"
        }
        Feature::Bulkhead => call = "bulkhead = { max_concurrent = 2 }",
        Feature::AdaptiveThrottling => call = "adaptive_throttling = { k = 1 }",
        Feature::Hedging => call = "hedge = { max_attempts = 2, delay = \"10ms\" }",
        Feature::Fallback => call = "fallback = {}",
        Feature::DecorrelatedJitter => {
            call = "retry = { max_attempts = 3, backoff = \"decorrelated-jitter\", base = \"5ms\", cap = \"50ms\" }"
        }
        Feature::LoadBalancer => back = "load_balancer = \"random\"",
        Feature::HealthCheck => {
            back = "health_check = { kind = \"local\", interval = \"1s\", timeout = \"1ms\", unhealthy_threshold = 1 }"
        }
        Feature::OutlierDetection => {
            back = "queue_capacity = 1\noutlier_detection = { consecutive_errors = 1, interval = \"1s\" }"
        }
        Feature::CallDeadline => request = "deadline = \"30ms\"",
        Feature::PropagateDeadline => call = "propagate_deadline = true",
        Feature::ErrorProbability => back = "error_probability = 0.1",
        Feature::QueueDiscipline => back = "queue_discipline = \"lifo\"",
        Feature::Codel => back = "codel = { target = \"1ms\", interval = \"5ms\" }",
        Feature::MaxInFlight => back = "max_in_flight = 2",
        Feature::Outage => {
            fault = "[[fault]]\nkind = \"outage\"\nservice = \"back\"\ninstances = 1\nstart = \"5s\"\nduration = \"5s\""
        }
        Feature::Operations => {
            call = "operation = \"slow\"";
            back = "[[service.operation]]\nname = \"fast\"\nservice_time = { dist = \"exponential\", mean = \"1ms\" }\n\n[[service.operation]]\nname = \"slow\"";
        }
        Feature::CallShapes => call = "repeat = { dist = \"uniform\", min = 1, max = 3 }",
        Feature::Controllers => {
            back = "autoscaling = { kind = \"hpa\", min = 1, max = 4, target_utilisation = 50, boot_time = \"1s\", sync_period = \"1s\" }"
        }
        Feature::Topology => {
            // Zones: latency between placements; the back end spread over two zones.
            fault = "[[region]]\nname = \"r\"\nzones = [\"a\", \"b\"]\n\n[network]\ncross_zone = { dist = \"constant\", value = \"2ms\" }"
        }
        Feature::NetworkFault => {
            fault = "[[fault]]\nkind = \"network-latency\"\nservice = \"back\"\nstart = \"5s\"\nduration = \"5s\"\nlatency = \"3ms\"\njitter = \"1ms\""
        }
        Feature::CpuStress => {
            fault = "[[fault]]\nkind = \"cpu-stress\"\nservice = \"back\"\nstart = \"5s\"\nduration = \"5s\"\nload_percent = 50"
        }
        Feature::Memory => back = "memory = { limit_mb = 100, base_mb = 10, per_job_mb = 1, alloc_mb_per_job = 1, leak_mb_per_s = 5 }",
        Feature::Io => back = "io = { time = { dist = \"exponential\", mean = \"1ms\" } }",
        Feature::Names => {
            back = "dns_ttl = \"1s\"";
            fault = "[[fault]]\nkind = \"dns\"\nservice = \"back\"\nstart = \"5s\"\nduration = \"5s\""
        }
        Feature::Noise => {
            fault = "[noise]\ncpu_steal = { percent = 50, segment = \"2s\" }\npauses = { every = \"1s\" }\nnetwork = {}"
        }
    }
    format!(
        r#"
[scenario]
name = "tier"
duration = "20s"

[[workload]]
name = "w"
arrival = {{ process = "poisson", rate_per_s = 200 }}

[[workload.request]]
name = "r"
target = "front"
timeout = "1s"
{request}

[[service]]
name = "front"
instances = 2
workers = 4
service_time = {{ dist = "exponential", mean = "5ms" }}

[[service.call]]
to = "back"
timeout = "20ms"
{call}

[[service]]
name = "back"
instances = 2
workers = 2
service_time = {{ dist = "exponential", mean = "8ms" }}
{back}

{fault}
"#
    )
}

#[test]
fn every_feature_changes_its_scenario_when_a_tier_that_ignores_it_runs_it() {
    for feature in Feature::ALL {
        let spec = compile_ok(&minimal(feature));
        let features = Features::of(&spec);
        assert_eq!(features.iter().collect::<Vec<_>>(), [feature], "the scenario for {feature:?} uses it alone");
        assert_eq!(features.tier(), feature.tier(), "{feature:?}");
        let reference = same_in_every_tier_from(&spec, feature.tier(), &format!("{feature:?}"));
        // A tier choice that forgot the feature would pick the lean tier, and every tier
        // below the feature's own ignores it: the output must show it.
        assert_eq!(features.without(feature).tier(), TierKind::Lean);
        for below in TierKind::ALL.into_iter().filter(|&t| t < feature.tier()) {
            let ignored = outputs(&spec, below, true);
            assert!(ignored.0 != reference.0, "{feature:?}: ignoring it in tier {} changes nothing", below.name());
        }
    }
}
