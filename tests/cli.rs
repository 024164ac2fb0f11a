//! The command line as users script it: every shipped scenario validates and runs, the demo
//! runs, `--json` prints what `summary.json` holds, and `schema` prints a JSON Schema.

use crate::support::{
    cellsim, constant, scenario_files, temp_dir, write_scenario, Request, Scenario, Service, Workload,
};

#[test]
fn every_shipped_scenario_validates_runs_and_documents_itself() {
    let files = scenario_files();
    assert!(files.len() >= 7, "quickstart, M/M/1, M/M/c, M/D/1, M/G/1, Erlang B, three-tier");
    for f in files {
        let path = f.display().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("# "), "{path}: starts with a header comment saying what it shows");
        let v = cellsim(["validate", &path]);
        assert_eq!(v.status.code(), Some(0), "{path}: {}", String::from_utf8_lossy(&v.stderr));
        let out = temp_dir(f.file_stem().unwrap().to_str().unwrap());
        let r = cellsim(["run", &path, "--out", out.path().to_str().unwrap(), "--json"]);
        let printed: serde_json::Value = serde_json::from_slice(&r.stdout).expect("--json prints JSON");
        // 1 only for a design that breaks a hypothesis on purpose (with a better one beside it).
        let broken = printed["hypotheses"].as_array().is_some_and(|h| h.iter().any(|h| h["result"] == "broken"));
        assert_eq!(r.status.code(), Some(broken as i32), "{path}: {}", String::from_utf8_lossy(&r.stderr));
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap()).unwrap();
        assert_eq!(printed, written);
        assert_eq!(written["schema_version"], 2);
        assert_eq!(written["verdict"], "completed");
        let series = std::fs::read_to_string(out.path().join("series.csv")).unwrap();
        assert!(series.starts_with(
            "t_s,workload,requests,ok,degraded,error,timeout,rejected,refused,availability,p50_ms,p99_ms,mean_ms\n"
        ));
        let leftovers: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{path}: temporary files left: {leftovers:?}");
    }
}

#[test]
fn the_demo_runs_the_quickstart_and_prints_a_readable_summary() {
    let out = temp_dir("demo");
    let r = cellsim(["demo", "--out", out.path().to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0));
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("scenario `quickstart`"), "{text}");
    assert!(text.contains("shoppers/browse") && text.contains("shoppers/checkout"), "{text}");
    assert!(text.contains("recommendations"), "{text}");
    assert!(out.path().join("summary.json").exists());
}

#[test]
fn seed_flag_overrides_the_scenario_seed() {
    let f = scenario_files().into_iter().find(|p| p.ends_with("quickstart.toml")).unwrap();
    let run = |seed: &str| {
        let out = temp_dir(&format!("seed{seed}"));
        let r = cellsim(["run", f.to_str().unwrap(), "--seed", seed, "--json", "--out", out.path().to_str().unwrap()]);
        serde_json::from_slice::<serde_json::Value>(&r.stdout).unwrap()
    };
    let (a, b) = (run("5"), run("6"));
    assert_eq!(a["seed"], 5);
    assert_ne!(a["requests"], b["requests"]);
}

#[test]
fn duration_flag_overrides_the_scenario_duration() {
    let f = scenario_files().into_iter().find(|p| p.ends_with("quickstart.toml")).unwrap();
    let out = temp_dir("duration");
    let r = cellsim(["run", f.to_str().unwrap(), "--duration", "90s", "--json", "--out", out.path().to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    let s: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(s["duration_s"], 90.0);
    let bad = cellsim(["run", f.to_str().unwrap(), "--duration", "0s", "--out", out.path().to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("the duration must be positive"));
}

#[test]
fn schema_is_a_json_schema_of_the_format() {
    let r = cellsim(["schema"]);
    assert_eq!(r.status.code(), Some(0));
    let s: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(s["title"], "ScenarioFile");
    for key in ["scenario", "workload", "service", "limits"] {
        assert!(s["properties"].get(key).is_some(), "schema lacks {key}");
    }
    assert_eq!(s["additionalProperties"], false, "unknown keys are rejected");
    let text = r.stdout.iter().map(|&b| b as char).collect::<String>();
    assert!(text.contains("hold_worker_during_calls") && text.contains("rate_per_s"));
}

#[test]
fn a_run_that_hits_a_bound_stops_with_a_verdict_and_exit_1() {
    // 2000 requests/s into one worker at 10 ms: 20x overloaded, the in-flight bound trips.
    let overload = Scenario::new("overload", "10m")
        .limit("max_in_flight_requests", 5000)
        .workload(Workload::poisson("w", 2000.0).request(Request::new("r", "s")))
        .service(Service::new("s", &constant("10ms")).queue_capacity(1_000_000));
    let (_dir, file) = write_scenario("overload", &overload.text());
    let out = file.with_file_name("out");
    let r = cellsim(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]);
    // The design failed (1), which an orchestrator tells from bad input (2).
    assert_eq!(r.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&r.stderr);
    // In flight grows at 2000 - 100 = 1900/s, so 5000 are reached near t = 2.63 s (the
    // Poisson count's noise there is about 70 requests, 0.04 s).
    let t: f64 = stderr
        .split("overload: 5,000 requests in flight at t=")
        .nth(1)
        .and_then(|s| s.split('s').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!((t - 5000.0 / 1900.0).abs() < 0.15, "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(summary["verdict"], "overload");
}

#[test]
fn validate_warns_about_a_service_offered_more_work_than_it_has_workers() {
    // 300 requests/s x 10 ms = 3 busy workers' worth of work, offered to 2 workers.
    let offered = Scenario::new("offered", "1m")
        .workload(Workload::poisson("w", 300.0).request(Request::new("r", "s")))
        .service(Service::new("s", &constant("10ms")).workers(2));
    let (_dir, file) = write_scenario("offered", &offered.text());
    let r = cellsim(["validate", file.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "a warning is not an error");
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(out.contains("warning: service `s` is offered 3.00 busy workers of 2"), "{out}");
}

/// A run writes each workload's latency distribution as HdrHistogram's percentile
/// distribution (`hgrm/{workload}.hgrm`, milliseconds), its name escaped into a file name:
/// the header, a last line at percentile 1 with every successful request, and the footer's
/// count and mean as the summary has them.
#[test]
fn a_run_writes_each_workloads_latency_distribution() {
    let text = r#"
[scenario]
name = "hgrm"
duration = "20s"
warmup = "0s"

[[workload]]
name = "web/clients"
arrival = { process = "constant", rate_per_s = 100 }

[[workload.request]]
name = "get"
target = "api"

[[workload]]
name = "batch"
arrival = { process = "constant", rate_per_s = 10 }

[[workload.request]]
name = "put"
target = "api"

[[service]]
name = "api"
workers = 4
service_time = { dist = "constant", value = "2ms" }
"#;
    let (dir, file) = crate::support::write_scenario("hgrm", text);
    let out_dir = dir.path().join("out");
    let out = cellsim(["run".as_ref(), file.as_os_str(), "--out".as_ref(), out_dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(out_dir.join("hgrm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["batch.hgrm", "batch.hlog", "web_2Fclients.hgrm", "web_2Fclients.hlog"]);
    let web = std::fs::read_to_string(out_dir.join("hgrm/web_2Fclients.hgrm")).unwrap();
    assert!(web.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    let last_step = web.lines().rfind(|l| !l.starts_with('#')).unwrap();
    let cols: Vec<&str> = last_step.split_whitespace().collect();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    let count = summary["requests"][0]["latency_ms"]["count"].as_u64().unwrap();
    assert!(count.abs_diff(2000) <= 1);
    assert_eq!((cols[1], cols[2]), ("1.000000000000", count.to_string().as_str()), "{last_step}");
    let max_ms: f64 = cols[0].parse().unwrap();
    assert!((max_ms - 2.0).abs() < 0.01, "every request takes 2 ms: {max_ms}");
    assert!(web.contains(&format!("#[Max     = {max_ms:12.3}, Total count    = {count:12}]")), "{web}");
    // The interval log holds the same histogram, over the measurement window, at full
    // precision: every request's 2 ms.
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let log = std::fs::read(out_dir.join("hgrm/web_2Fclients.hlog")).unwrap();
    let interval = IntervalLogIterator::new(&log)
        .find_map(|e| match e.unwrap() {
            LogEntry::Interval(i) => Some(i),
            _ => None,
        })
        .expect("one interval");
    assert_eq!(interval.tag().map(|t| t.as_str()), Some("web/clients"));
    assert_eq!((interval.start_timestamp().as_secs(), interval.duration().as_secs()), (0, 20));
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(interval.encoded_histogram()).unwrap();
    let h: hdrhistogram::Histogram<u64> =
        hdrhistogram::serialization::Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
    assert_eq!(h.len(), count);
    assert_eq!(h.value_at_quantile(0.5), h.value_at_quantile(1.0), "one value: {}", h.max());
    assert!(h.equivalent(2_000_000, h.max()), "2 ms in nanoseconds: {}", h.max());
}

/// The progress bar is for a terminal only: a run whose stderr is a pipe (CI logs) prints
/// none, though it takes over the second after which a terminal would show one.
#[test]
fn no_progress_bar_without_a_terminal() {
    let out_dir = temp_dir("progress");
    let scenario = crate::support::repo_path("benches/scenarios/ring-cells.toml");
    let started = std::time::Instant::now();
    let out = cellsim([
        "run".as_ref(),
        scenario.as_os_str(),
        "--duration".as_ref(),
        "15s".as_ref(),
        "--out".as_ref(),
        out_dir.path().join("o").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(started.elapsed().as_secs_f64() > 1.0, "long enough for a bar on a terminal");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("s simulated,") && !stderr.contains('\r'), "{stderr}");
}
