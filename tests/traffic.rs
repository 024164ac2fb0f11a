//! Traffic beyond open-loop processes: a closed loop of users against the machine-repairman
//! closed form (M/M/1//N), and arrival rates read from a CSV file, followed bucket by bucket,
//! with malformed files rejected at their line.

use crate::queueing::assert_in_ci;
use crate::support::{cellsim, compile_ok, run_spec, write_scenario};
use cellsim_models::{compile, simulate, SeriesRow};
use cellsim_sim::NS_PER_S;

/// M/M/1//N (the machine-repairman model): N users thinking for Exp(mean z) and a single
/// exponential server of mean s. Returns (throughput per second, mean response time in s):
/// p0 = 1 / sum_k N!/(N-k)! (s/z)^k, X = (1 - p0) / s, R = N / X - z.
fn machine_repairman(n: u32, z: f64, s: f64) -> (f64, f64) {
    let (mut term, mut total) = (1.0, 1.0);
    for k in 1..=n {
        term *= (n - k + 1) as f64 * s / z;
        total += term;
    }
    let x = (1.0 - 1.0 / total) / s;
    (x, n as f64 / x - z)
}

fn closed_loop(users: u32) -> String {
    format!(
        r#"
[scenario]
name = "repairman"
duration = "10h"
warmup = "10m"

[[workload]]
name = "users"
users = {users}
think_time = {{ dist = "exponential", mean = "1s" }}

[[workload.request]]
name = "r"
target = "server"

[[service]]
name = "server"
service_time = {{ dist = "exponential", mean = "50ms" }}
"#
    )
}

#[test]
fn a_closed_loop_matches_the_machine_repairman_model_light_and_saturated() {
    for users in [5, 50] {
        let (x, r_s) = machine_repairman(users, 1.0, 0.05);
        let result = run_spec(&compile_ok(&closed_loop(users)), 1);
        let req = &result.requests[0];
        let window_s = (result.duration_ns - result.warmup_ns) as f64 / NS_PER_S as f64;
        let throughput = req.outcomes.total() as f64 / window_s;
        eprintln!("N = {users}: throughput {throughput:.4}/s, theory {x:.4}/s");
        assert!((throughput - x).abs() < 0.01 * x, "N = {users}: throughput {throughput}, theory {x}");
        assert_in_ci(&format!("N = {users}: response (s)"), &req.latency_batches, r_s, 1e9);
        // Never more requests in flight than users.
        assert_eq!(result.in_flight_at_end, 0);
    }
    // The two cases are what they claim: light (the server mostly idle), and saturated
    // (throughput at the server's capacity of 20/s).
    assert!(machine_repairman(5, 1.0, 0.05).0 < 5.0);
    assert!(machine_repairman(50, 1.0, 0.05).0 > 19.9);
}

/// Writes a scenario `csv.toml` naming `file` and a series `file` with `series`, in a temp
/// folder; returns the folder and the scenario's path.
fn with_series(series: &str, arrival_extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let text = format!(
        r#"
[scenario]
name = "csv"
duration = "40s"
bucket = "5s"

[[workload]]
name = "w"
arrival = {{ process = "csv", file = "rates.csv"{arrival_extra} }}

[[workload.request]]
name = "r"
target = "s"

[[service]]
name = "s"
workers = 100000
service_time = {{ dist = "constant", value = "0ms" }}
"#
    );
    let (dir, path) = write_scenario("csv", &text);
    std::fs::write(dir.path().join("rates.csv"), series).unwrap();
    (dir, path)
}

/// Requests per bucket (answered at once, so by arrival).
fn per_bucket(path: &std::path::Path) -> Vec<u64> {
    let spec = cellsim_models::load(path.to_str().unwrap()).unwrap_or_else(|e| panic!("{}", e[0]));
    let (_, rows): (_, Vec<SeriesRow>) = simulate(&spec, 1, Vec::new());
    rows.iter().filter(|r| r.bucket_start_ns < spec.duration_ns).map(|r| r.outcomes.total()).collect()
}

/// Asserts each bucket's count is within 4 sd of its Poisson mean.
fn assert_buckets(counts: &[u64], means: &[f64]) {
    assert_eq!(counts.len(), means.len(), "{counts:?}");
    for (i, (&c, &m)) in counts.iter().zip(means).enumerate() {
        eprintln!("bucket {i}: {c}, expected {m}");
        assert!((c as f64 - m).abs() <= 4.0 * m.sqrt().max(1.0), "bucket {i}: {c} arrivals, expected {m}");
    }
}

#[test]
fn a_csv_rate_series_is_followed_bucket_by_bucket() {
    // Steps: 200/s for 10 s, 1000/s for 10 s, 0 for 10 s, 400/s after; 5 s buckets.
    let series = "time,rate_per_s\n0s,200\n10s,1000\n20s,0\n30s,400\n";
    let (_dir, path) = with_series(series, "");
    assert_buckets(&per_bucket(&path), &[1000.0, 1000.0, 5000.0, 5000.0, 0.0, 0.0, 2000.0, 2000.0]);
    // Scaled, in other units: per minute, times in seconds.
    let (_dir, path) = with_series("time_s,rate_per_min\n0,12000\n20,0\n", ", scale = 0.5");
    assert_buckets(&per_bucket(&path), &[500.0, 500.0, 500.0, 500.0, 0.0, 0.0, 0.0, 0.0]);
    // Linear: from 0 to 800/s over 20 s, then holding 800: each 5 s bucket of the ramp has
    // the integral of the line over it.
    let (_dir, path) = with_series("time,rate_per_s\n0s,0\n20s,800\n", ", interpolation = \"linear\"");
    assert_buckets(&per_bucket(&path), &[500.0, 1500.0, 2500.0, 3500.0, 4000.0, 4000.0, 4000.0, 4000.0]);
}

#[test]
fn the_summary_records_the_series_hash() {
    let series = "time,rate_per_s\n0s,10\n";
    let (dir, path) = with_series(series, "");
    let out = dir.path().join("out");
    let run = cellsim(["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    use sha2::Digest;
    let sha = crate::support::hex(&sha2::Sha256::digest(series.as_bytes()));
    assert_eq!(summary["data_files"][0]["file"], "rates.csv");
    assert_eq!(summary["data_files"][0]["sha256"], sha.as_str());
    assert_eq!(summary["data_files"][0]["bytes"], series.len());
}

#[test]
fn a_malformed_series_is_an_input_error_at_its_line() {
    let cases = [
        ("time,rate\n0s,1\n", "rates.csv:1:1", "no rate column in the header"),
        ("time,rate_per_s\n0s,5\n10s,-3\n", "rates.csv:3:5", "rate: -3 is negative"),
        ("time,rate_per_s\n0s,5\n20s,5\n10s,5\n", "rates.csv:4:1", "is not after the row before"),
    ];
    for (series, place, message) in cases {
        let (dir, path) = with_series(series, "");
        let out = dir.path().join("out");
        let run = cellsim(["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{series}: {stderr}");
        assert!(stderr.contains(place) && stderr.contains(message), "{series}: {stderr}");
        assert!(stderr.contains("workload.w.arrival.file"), "{stderr}");
        assert!(!out.exists(), "nothing is written");
    }
    // A missing file: the scenario's line, exit 2.
    let (dir, path) = with_series("time,rate_per_s\n0s,1\n", "");
    std::fs::remove_file(dir.path().join("rates.csv")).unwrap();
    let errors = compile(path.to_str().unwrap(), &std::fs::read_to_string(&path).unwrap()).unwrap_err();
    assert!(errors[0].message.contains("cannot read") && errors[0].line == 9, "{}", errors[0]);
}

#[test]
fn a_closed_loop_is_checked_with_located_errors() {
    let with = |keys: &str| {
        closed_loop(50).replace("users = 50\nthink_time = { dist = \"exponential\", mean = \"1s\" }", keys)
    };
    let cases = [
        ("think_time = { dist = \"exponential\", mean = \"1s\" }", "think_time needs users", "add users = 50"),
        ("users = 5", "a closed loop needs think_time", "between(1, 10)"),
        (
            "users = 5\nthink_time = { dist = \"constant\", value = \"0ms\" }",
            "think_time must have a mean above 0",
            "never pause",
        ),
        ("users = 5\nthink_time = \"1s\"", "think_time: must be a distribution table", "dist = \"exponential\""),
        (
            "users = 5\narrival = { process = \"poisson\", rate_per_s = 1 }",
            "either arrival (an open loop) or users",
            "",
        ),
        ("users = 0\nthink_time = \"1s\"", "must be a distribution table", ""),
    ];
    for (keys, message, hint) in cases {
        let e = compile("bad.toml", &with(keys)).expect_err(keys);
        let shown = e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
        assert!(shown.contains(message) && shown.contains(hint), "{keys}:\n{shown}");
    }
}

#[test]
fn a_closed_loop_bounds_the_memory_estimate_by_its_users() {
    use cellsim_models::Estimate;
    let closed = compile_ok(&closed_loop(50));
    assert_eq!(closed.most_requests_in_flight(), 50);
    let open_text = closed_loop(50).replace(
        "users = 50\nthink_time = { dist = \"exponential\", mean = \"1s\" }",
        "arrival = { process = \"poisson\", rate_per_s = 50 }",
    );
    let open = compile_ok(&open_text);
    assert_eq!(open.most_requests_in_flight(), 1_000_000);
    let (c, o) = (Estimate::of(&closed), Estimate::of(&open));
    // 50 requests' work in flight against a million's: the bound is the model alone, nearly.
    assert!(c.bound_peak_bytes < c.memory.fixed_bytes + c.memory.histogram_bytes + 1_000_000);
    assert!(o.bound_peak_bytes > 10 * c.bound_peak_bytes, "{} vs {}", o.bound_peak_bytes, c.bound_peak_bytes);
    // A fire-and-forget call's work outlives its request: no such bound.
    let detached = closed_loop(50).replace(
        "[[service]]\nname = \"server\"",
        "[[service]]\nname = \"front\"\nservice_time = { dist = \"constant\", value = \"0ms\" }\n\n[[service.call]]\nto = \"server\"\nwait = \"never\"\n\n[[service]]\nname = \"server\"",
    ).replace("target = \"server\"", "target = \"front\"");
    assert_eq!(compile_ok(&detached).most_requests_in_flight(), 1_000_000);
}
