//! What nothing a user writes may do: fill the disk (output bounded in bytes before the run),
//! eat the memory (estimated from the spec, refused over `limits.max_memory_mb`, checked
//! against measured peaks), mix two runs' files (output folders replaced as a whole, locked
//! while a run writes), crash on a closed stdout, overflow a sum of user numbers, or run a
//! retry storm past its event budget. Exit codes: 0 done, 1 the design failed (a limit
//! verdict, a refusal), 2 bad input, 3 the environment failed.

use crate::support::*;
use cellsim_models::{compile, simulate, Estimate, NoSeries, Verdict};
use std::path::Path;
use std::process::{Command, Stdio};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scenario of `duration` with one Poisson workload at `rate` into one 1 ms service.
fn simple(name: &str, duration: &str, rate: f64) -> Scenario {
    Scenario::new(name, duration)
        .workload(Workload::poisson("w", rate).request(Request::new("r", "s")))
        .service(Service::new("s", &constant("1ms")))
}

// ---------------------------------------------------------------------------------------
// Output bounded in bytes

#[test]
fn a_long_run_gets_a_wider_default_bucket_and_a_small_bounded_series() {
    // 1000 days at the old default of 1 s would be 86 million rows per workload (over 7 GB).
    let spec = compile_ok(&simple("long", "1000d", 1.0).text());
    assert_eq!(spec.bucket_ns, 3_600 * 1_000_000_000, "one-hour buckets: 24,001 of them");
    let e = Estimate::of(&spec);
    assert!(e.series_bytes < 5_000_000, "{}", e.series_bytes);
    // Up to 100,000 s (duration and drain), the default stays 1 s.
    assert_eq!(compile_ok(&simple("day", "24h", 1.0).text()).bucket_ns, 1_000_000_000);
    assert_eq!(compile_ok(&simple("two-days", "48h", 1.0).text()).bucket_ns, 10_000_000_000);
}

#[test]
fn an_explicit_bucket_over_the_output_limit_is_refused_with_exit_1_and_writes_nothing() {
    // 10 days in 1 ms buckets: 864 million rows, refused before the run starts.
    let text = simple("fine", "10d", 1.0).set_str("bucket", "1ms").text();
    let (dir, file) = write_scenario("fine", &text);
    let v = cellsim(["validate", file.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(stderr(&v).contains("over limits.max_output_mb = 1,000"), "{}", stderr(&v));
    let out = dir.path().join("out");
    let r = cellsim(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    assert!(!out.exists());
    // Raising the limit is the documented way through (here only checked, not run).
    let raised = simple("fine", "10d", 1.0).set_str("bucket", "1ms").limit("max_output_mb", 16_000_000).text();
    let (_d2, f2) = write_scenario("raised", &raised);
    assert_eq!(cellsim(["validate", f2.to_str().unwrap()]).status.code(), Some(0));
}

#[test]
fn written_outputs_stay_within_the_estimate() {
    // Long names, a drain, several workloads: every row at its widest is still bounded.
    let name = "w-".repeat(40);
    let text = Scenario::new("bounds", "20s")
        .set_str("bucket", "100ms")
        .set_str("drain", "5s")
        .workload(Workload::poisson(&name, 500.0).request(Request::new("r", "s")))
        .workload(Workload::poisson("other,name", 50.0).request(Request::new("q", "s")))
        .service(Service::new("s", &exponential("3ms")).workers(2))
        .text();
    let (dir, file) = write_scenario("bounds", &text);
    let out = dir.path().join("out");
    let r = cellsim(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let e = Estimate::of(&compile_ok(&text));
    let size = |f: &str| std::fs::metadata(out.join(f)).unwrap().len();
    assert!(size("series.csv") <= e.series_bytes, "{} > {}", size("series.csv"), e.series_bytes);
    assert!(size("summary.json") <= e.summary_bytes, "{} > {}", size("summary.json"), e.summary_bytes);
}

// ---------------------------------------------------------------------------------------
// Memory: estimated, refused over the limit, checked against measured peaks

/// The peak and the two estimates from `cellsim run`'s last stderr line.
fn peak_and_estimates(stderr: &str) -> (f64, f64, f64) {
    let line = stderr.lines().find(|l| l.starts_with("peak memory ")).unwrap_or_else(|| panic!("{stderr}"));
    let bytes: Vec<f64> = line
        .split(['(', ',', ')'])
        .filter_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let i = words.iter().position(|w| ["B", "kB", "MB", "GB"].contains(w))?;
            let unit = match words[i] {
                "B" => 1.0,
                "kB" => 1e3,
                "MB" => 1e6,
                _ => 1e9,
            };
            Some(words[i - 1].parse::<f64>().ok()? * unit)
        })
        .collect();
    assert_eq!(bytes.len(), 3, "{line}");
    (bytes[0], bytes[1], bytes[2])
}

fn assert_within_2x(measured: f64, estimated: f64, what: &str) {
    let ratio = estimated / measured;
    eprintln!("{what}: measured {:.1} MB, estimated {:.1} MB (x{ratio:.2})", measured / 1e6, estimated / 1e6);
    assert!((0.5..=2.0).contains(&ratio), "{what}: measured {measured}, estimated {estimated}");
}

#[test]
fn five_thousand_services_fit_and_their_peak_is_predicted_within_2x() {
    // One request type fans out to the first 50 services; the other 4,950 stay idle. Each
    // service used to cost 670 KB before any traffic (3.35 GB here).
    let mut front = Service::new("front", &constant("1ms"));
    for i in 0..50 {
        front = front.call(Call::to(&format!("s{i}")));
    }
    let mut scenario =
        Scenario::new("many", "10s").workload(Workload::poisson("w", 100.0).request(Request::new("r", "front")));
    scenario = scenario.service(front);
    for i in 0..4_999 {
        scenario = scenario.service(Service::new(&format!("s{i}"), &constant("1ms")));
    }
    let (dir, file) = write_scenario("many", &scenario.text());
    let r = cellsim(["run", file.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let (peak, expected, _) = peak_and_estimates(&stderr(&r));
    assert!(peak < 400e6, "{peak} bytes");
    assert_within_2x(peak, expected, "5,000 services");
}

#[test]
fn a_run_driven_to_its_in_flight_limit_peaks_as_estimated_within_2x() {
    // Twice the work the service can do: requests pile up to the limit, a verdict ends it.
    let text = Scenario::new("flood", "1h")
        .limit("max_in_flight_requests", 300_000)
        .workload(Workload::poisson("w", 200_000.0).request(Request::new("r", "s").set_str("timeout", "10m")))
        .service(Service::new("s", &constant("10us")).workers(1).queue_capacity(1_000_000))
        .text();
    let (dir, file) = write_scenario("flood", &text);
    let r = cellsim(["run", file.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    assert!(stderr(&r).contains("overload: 300,000 requests in flight"), "{}", stderr(&r));
    let (peak, expected, bound) = peak_and_estimates(&stderr(&r));
    assert_eq!(expected, bound, "an overloaded service is expected to reach the limits");
    assert_within_2x(peak, bound, "300,000 requests in flight");
}

#[test]
fn a_model_too_big_for_the_memory_limit_is_refused_before_it_starts() {
    // 200 services of 100,000 instances died on an allocation failure (exit 134) while
    // `validate` said ok. Here 20 x 100,000 instances with a 100 MB limit.
    let mut s = Scenario::new("huge", "1s")
        .limit("max_memory_mb", 100)
        .workload(Workload::poisson("w", 1.0).request(Request::new("r", "s0")));
    for i in 0..20 {
        s = s.service(Service::new(&format!("s{i}"), &constant("1ms")).instances(100_000));
    }
    let (_dir, file) = write_scenario("huge", &s.text());
    let v = cellsim(["validate", file.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(stderr(&v).contains("over limits.max_memory_mb = 100"), "{}", stderr(&v));
    assert!(stderr(&v).contains("hint:"), "{}", stderr(&v));
    // Policy state counts too: a breaker per calling instance, each with a window of a
    // million calls, on 100,000 instances is 100 GB, refused by the default limit.
    let breakers = Scenario::new("breakers", "1s")
        .workload(Workload::poisson("w", 1.0).request(Request::new("r", "front")))
        .service(
            Service::new("front", &constant("1ms"))
                .instances(100_000)
                .call(Call::to("back").set("breaker", "{ kind = \"resilience4j\", window_size = 1000000 }")),
        )
        .service(Service::new("back", &constant("1ms")))
        .text();
    let spec = compile_ok(&breakers);
    let refusals = Estimate::of(&spec).refusals(&spec);
    assert!(refusals.iter().any(|r| r.to_string().contains("max_memory_mb = 4,000")), "{refusals:?}");
}

// ---------------------------------------------------------------------------------------
// Output folders: one run's files, together or not at all

/// `cellsim run FILE --out OUT` and `extra` arguments, started in the background, its
/// output discarded.
fn spawn_run(file: &Path, out: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_cellsim"))
        .args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits (up to 20 s) until `path` exists: a background run has got that far.
fn wait_for(path: &Path) {
    let t0 = std::time::Instant::now();
    while !path.exists() && t0.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A run long enough (about a second) for another to try the same folder meanwhile.
fn slow_scenario() -> String {
    simple("slow", "2h", 2_000.0).text()
}

#[test]
fn a_second_run_into_a_busy_folder_is_refused_with_exit_3() {
    let (dir, file) = write_scenario("busy", &slow_scenario());
    let out = dir.path().join("out");
    let first = spawn_run(&file, &out, &["--seed", "7"]);
    // Wait until the first run holds the lock (its staging folder exists).
    let staging = dir.path().join(".out.staging");
    wait_for(&staging);
    let second = cellsim(["run", file.to_str().unwrap(), "--seed", "8", "--out", out.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(3), "{}", stderr(&second));
    assert!(stderr(&second).contains("in use by another run"), "{}", stderr(&second));
    assert_eq!(first.wait_with_output().unwrap().status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 7);
    assert!(!staging.exists());
}

#[test]
fn runs_racing_for_one_folder_never_mix_their_files() {
    // Ten runs with ten seeds at once into one folder: each wins (0) or is refused (3), and
    // the folder ends with one run's summary and that same run's series.
    let text = simple("race", "60s", 500.0).text();
    let (dir, file) = write_scenario("race", &text);
    let out = dir.path().join("out");
    let children: Vec<_> = (0..10).map(|seed: u32| spawn_run(&file, &out, &["--seed", &seed.to_string()])).collect();
    let codes: Vec<i32> = children.into_iter().map(|mut c| c.wait().unwrap().code().unwrap()).collect();
    assert!(codes.iter().all(|c| *c == 0 || *c == 3), "{codes:?}");
    assert!(codes.contains(&0), "{codes:?}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let seed = summary["seed"].as_u64().unwrap();
    let spec = compile_ok(&text);
    let (_, rows) = simulate(&spec, seed, Vec::new());
    let series = std::fs::read_to_string(out.join("series.csv")).unwrap();
    assert_eq!(series.lines().count(), rows.len() + 1, "the series is seed {seed}'s");
    let solo = dir.path().join("solo");
    let r = cellsim(["run", file.to_str().unwrap(), "--seed", &seed.to_string(), "--out", solo.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(std::fs::read(solo.join("series.csv")).unwrap(), series.as_bytes(), "seed {seed}'s series");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// Hidden staging or old folders in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".staging") || n.ends_with(".old"))
        .collect();
    v.sort();
    v
}

#[test]
fn an_interrupted_run_leaves_the_old_results_and_no_staging_folder() {
    let (dir, file) = write_scenario("interrupted", &slow_scenario());
    let out = dir.path().join("out");
    let quick = simple("quick", "1s", 10.0).text();
    let (_q, quick_file) = write_scenario("quick", &quick);
    assert_eq!(cellsim(["run", quick_file.to_str().unwrap(), "--out", out.to_str().unwrap()]).status.code(), Some(0));
    let before = std::fs::read(out.join("summary.json")).unwrap();
    for signal in ["TERM", "INT", "KILL"] {
        let child = spawn_run(&file, &out, &[]);
        let staging = dir.path().join(".out.staging");
        wait_for(&staging.join("series.csv"));
        std::thread::sleep(std::time::Duration::from_millis(50));
        let kill = Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let status = child.wait_with_output().unwrap().status;
        assert_ne!(status.code(), Some(0), "{signal}: the run was not interrupted");
        assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before, "{signal}: old results changed");
        if signal == "KILL" {
            // Nothing can clean up after SIGKILL; the next run into the folder removes it.
            assert!(staging.exists());
            assert_eq!(
                cellsim(["run", quick_file.to_str().unwrap(), "--out", out.to_str().unwrap()]).status.code(),
                Some(0)
            );
        }
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "{signal}");
    }
}

#[test]
fn a_folder_holding_other_files_is_never_replaced() {
    let dir = temp_dir("foreign");
    let out = dir.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let (_d, file) = write_scenario("quick", &simple("quick", "1s", 10.0).text());
    let r = cellsim(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("notes.txt"), "{}", stderr(&r));
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "keep me");
    let dot = cellsim(["run", file.to_str().unwrap(), "--out", "."]);
    assert_eq!(dot.status.code(), Some(2), "{}", stderr(&dot));
    // A user's own summary.json is not taken for cellsim's: only a folder holding the marker
    // that cellsim writes is replaced.
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("summary.json"), "my precious summary").unwrap();
    let r = cellsim(["run", file.to_str().unwrap(), "--out", theirs.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert_eq!(std::fs::read_to_string(theirs.join("summary.json")).unwrap(), "my precious summary");
    // A file in the way of the folder is bad input too, not the environment's failure.
    let under_file = out.join("notes.txt").join("sub");
    let r = cellsim(["run", file.to_str().unwrap(), "--out", under_file.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    let v = cellsim(["validate", dir.path().to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(2), "{}", stderr(&v));
}

#[test]
fn a_replaced_folder_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let out = dir.path().join("shared");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o2770)).unwrap();
    let (_d, file) = write_scenario("quick", &simple("quick", "1s", 10.0).text());
    for _ in 0..2 {
        assert_eq!(cellsim(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]).status.code(), Some(0));
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o7777, 0o2770);
    }
}

#[test]
fn a_stopped_run_measures_up_to_the_stop_and_its_series_ends_there() {
    // One worker at 10 ms, 1000 requests/s: saturated from the start; stopped near 1 s.
    let text = Scenario::new("stopped", "10m")
        .limit("max_in_flight_requests", 1_000)
        .workload(Workload::poisson("w", 1_000.0).request(Request::new("r", "s")))
        .service(Service::new("s", &constant("10ms")).queue_capacity(1_000_000))
        .text();
    let spec = compile_ok(&text);
    let (r, rows) = simulate(&spec, 1, Vec::new());
    assert!(!r.verdict.is_completed());
    assert_eq!(r.measured_until_ns, r.end_ns);
    assert!(rows.iter().all(|row| row.bucket_start_ns <= r.end_ns), "no rows past the stop");
    let summary = cellsim_reports::summarise(&r);
    let s = &summary.services[0];
    // Busy all the time it ran (the job in service at the stop is not counted).
    assert!(s.utilisation > 0.95, "{}", s.utilisation);
    // Accepted arrivals per second of the window: the 1000/s offered (over the whole 10
    // minutes it would read 1.7/s).
    assert!((s.throughput_per_s - 1000.0).abs() < 100.0, "{}", s.throughput_per_s);
}

// ---------------------------------------------------------------------------------------
// Standard output

#[test]
fn a_closed_stdout_ends_quietly_and_a_full_one_is_an_environment_failure() {
    for args in [vec!["schema"], vec!["demo", "--json"]] {
        let dir = temp_dir("pipe");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cellsim"))
            .args(&args)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone, like `cellsim schema | true`
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    let full = std::fs::File::create("/dev/full").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cellsim")).arg("schema").stdout(full).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------
// User numbers, silent meanings, type errors

#[test]
fn limits_at_the_top_of_their_range_run_and_past_it_are_rejected() {
    // The model adds the two in-flight limits (its call records' bound): at u64::MAX that
    // overflowed. Past the documented ranges they are rejected, at the top they run.
    let over = simple("over", "1s", 10.0).limit("max_in_flight_requests", u64::MAX).text();
    let e = compile("x.toml", &over).unwrap_err();
    assert!(e[0].to_string().contains("max_in_flight_requests must be from 1 to 100,000,000"), "{}", e[0]);
    let top = simple("top", "1s", 10.0)
        .limit("max_in_flight_requests", 100_000_000)
        .limit("max_in_flight_jobs", 1_000_000_000)
        .limit("max_events", 1_000_000_000_000u64)
        .limit("max_memory_mb", 16_000_000)
        .text();
    let spec = compile_ok(&top);
    assert!(Estimate::of(&spec).refusals(&spec).is_empty());
    // Overflow-checked here (tests build with overflow checks): no sum of limits panics.
    let (r, _) = simulate(&spec, 1, NoSeries);
    assert!(r.verdict.is_completed());
}

#[test]
fn a_zero_timeout_is_rejected_rather_than_meaning_none() {
    let text = simple("t", "1s", 10.0).text().replace("target = \"s\"", "target = \"s\"\ntimeout = \"0ms\"");
    let e = compile("t.toml", &text).unwrap_err();
    let shown = e[0].to_string();
    assert!(shown.contains("timeout: a timeout must be above 0"), "{shown}");
    assert!(shown.contains("leave `timeout` out for no timeout"), "{shown}");
}

#[test]
fn type_errors_name_the_field_and_give_an_example() {
    let base = simple("t", "1s", 10.0).text();
    // The field is named by its table's header and the inline tables it is in.
    for (from, to, field, example) in [
        ("name = \"s\"", "name = \"s\"\nworkers = -4", "service.workers", "workers = 4"),
        ("rate_per_s = 10", "rate_per_s = \"10\"", "workload.arrival.rate_per_s", "rate_per_s = 2.5"),
        ("name = \"s\"", "name = \"s\"\nqueue_capacity = \"80%\"", "service.queue_capacity", "queue_capacity = 4"),
    ] {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let e = compile("t.toml", &text).unwrap_err();
        let shown = e[0].to_string();
        assert!(
            shown.contains(&format!(":{field}: must be ")) || shown.contains(&format!(" {field}: must be ")),
            "{shown}"
        );
        assert!(shown.contains(&format!("for example `{example}`")), "{shown}");
        assert!(e[0].line > 0, "{shown}");
    }
}

#[test]
fn a_type_error_after_a_wide_space_is_reported_not_a_panic() {
    // Found by fuzz-compile: the key before a wrong value follows U+202F (3 bytes).
    let text = "[scenario]\nname = \"x\"\nduration = \"1s\"\n}\u{202f}workers = \"w\"\n";
    let e = compile("w.toml", text).unwrap_err();
    assert!(e[0].line >= 1, "{}", e[0]);
    let seed = std::fs::read_to_string(repo_path("fuzz/seeds/type-error-after-a-wide-space.toml")).unwrap();
    assert!(compile("seed.toml", &seed).is_err());
}

#[test]
fn invalid_utf8_is_located_at_its_line() {
    let mut bytes = simple("t", "1s", 10.0).text().into_bytes();
    let at = bytes.iter().position(|&b| b == b'\n').unwrap() + 1; // start of line 2
    bytes.insert(at, 0xff);
    let e = &cellsim_models::decode("t.toml", &bytes).unwrap_err()[0];
    assert_eq!((e.line, e.column), (2, 1));
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
    let (dir, _) = write_scenario("utf8", "");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, &bytes).unwrap();
    let v = cellsim(["validate", file.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(2));
    assert!(stderr(&v).contains("bad.toml:2:1"), "{}", stderr(&v));
}

#[test]
fn call_chains_are_bounded_in_depth_and_a_deep_one_runs_without_exhausting_the_stack() {
    // Each service calls the next; answers travel back with no delay, so the model's
    // handlers nest once per hop. 1,000 hops run; more are refused at compile time (they
    // overflowed the stack while checking for cycles, before the model existed).
    let chain = |n: usize| {
        let mut s =
            Scenario::new("chain", "2s").workload(Workload::constant("w", 100.0).request(Request::new("r", "s0")));
        for i in 0..n {
            let mut svc = Service::new(&format!("s{i}"), &constant("0ms"));
            if i + 1 < n {
                svc = svc.call(Call::to(&format!("s{}", i + 1)));
            }
            s = s.service(svc);
        }
        s.text()
    };
    let e = compile("deep.toml", &chain(1_500)).unwrap_err();
    assert!(e[0].to_string().contains("more than 1000 services deep"), "{}", e[0]);
    let (dir, file) = write_scenario("chain", &chain(1_000));
    let r = cellsim(["run", file.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
}

// ---------------------------------------------------------------------------------------
// Retry storms count against the event budget

#[test]
fn a_retry_storm_inside_one_event_stops_at_the_event_budget() {
    // One permit, no waiting, 100 immediate retries on refusal: while one attempt is out,
    // every new request's attempts are refused at once, 100 of them inside one event.
    let text = Scenario::new("storm", "1h")
        .limit("max_events", 100_000)
        .workload(
            Workload::poisson("w", 1_000.0).request(
                Request::new("r", "s")
                    .set("retry", "{ max_attempts = 100, backoff = \"none\", retry_on = [\"refused\"] }")
                    .set("bulkhead", "{ max_concurrent = 1 }"),
            ),
        )
        .service(Service::new("s", &constant("50ms")))
        .text();
    let spec = compile_ok(&text);
    let (r, _) = simulate(&spec, 1, NoSeries);
    match r.verdict {
        Verdict::EventBudget { events, .. } => assert_eq!(events, 100_000),
        v => panic!("expected the event budget, got {v:?}"),
    }
    // Queued events alone stay well under the budget: the refusals were counted.
    assert!(r.events < 100_000 / 10, "{}", r.events);
    assert!(r.end_ns < 60_000_000_000, "stopped within the first minute, not after an hour");
}
