//! `peers`: cellsim's benchmarks side by side with the peer simulators in shared/anchors.
//!
//! Runs cellsim's M/M/c and three-tier chain scenarios (benches/scenarios) with the `cellsim`
//! binary (`cellsim run FILE`: read and compile the file, simulate, write series.csv and
//! summary.json; timed from process start to exit), then the anchors' run.sh, in five rounds
//! in one invocation, and prints each tool's median rate, cellsim's ratio to it and the
//! target. It also checks that peak memory does not grow with simulated duration (the chain
//! at 1x and 10x duration, each in a child process of its own).
//!
//! Usage: cargo run --release -p cellsim-benches --bin peers [-- --quick] [-- --no-anchors]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Rounds: each runs cellsim's three scenarios, then the anchors. Five, because this
/// machine's run-to-run noise (up to 10% between two runs of the same binary) is the size of
/// the margins the targets leave.
const REPEATS: usize = 5;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("benches/ sits in the workspace").to_path_buf()
}

/// Where runs write their outputs (one folder per process, removed at the end of `main`).
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cellsim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `cellsim` binary next to this one, built first so that it is current.
fn cellsim_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "cellsim", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building cellsim failed");
    let exe = std::env::current_exe().unwrap().with_file_name("cellsim");
    assert!(exe.exists(), "{} was not built", exe.display());
    exe
}

/// Runs `cellsim run FILE --out DIR` (the shipped binary: read and compile the file,
/// simulate, write series.csv and summary.json) in a child process; returns (requests, wall
/// seconds, process start to exit). With `duration_s`, runs a copy of the file with that
/// duration.
fn run_binary(exe: &Path, file: &Path, duration_s: Option<u64>) -> (u64, f64) {
    let dir = scratch_dir();
    let file = match duration_s {
        None => file.to_path_buf(),
        Some(d) => {
            let text = std::fs::read_to_string(file).unwrap();
            let text: Vec<String> = text
                .lines()
                .map(|l| if l.starts_with("duration = ") { format!("duration = \"{d}s\"") } else { l.to_string() })
                .collect();
            let copy = dir.join(file.file_name().unwrap());
            std::fs::write(&copy, text.join("\n")).unwrap();
            copy
        }
    };
    let started = Instant::now();
    let out = Command::new(exe).arg("run").arg(&file).arg("--out").arg(&dir).output().expect("cellsim runs");
    assert!(out.status.success(), "cellsim run {} failed:\n{}", file.display(), String::from_utf8_lossy(&out.stderr));
    // The plots and the HTML report are timed on their own (`report_and_pairing`): the time
    // the run prints for them is taken out, so this keeps timing the simulation and the
    // outputs it had before them.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report_s: f64 = stderr
        .split("plots and report in ")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let wall = started.elapsed().as_secs_f64() - report_s;
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let requests = summary["requests"].as_array().unwrap().iter().map(|r| r["requests"].as_u64().unwrap()).sum();
    (requests, wall)
}

/// Runs a scenario file in this process, as `cellsim run` does (for the memory probe);
/// returns (requests, wall seconds).
fn run_scenario(file: &Path, duration_s: Option<u64>) -> (u64, f64) {
    let started = Instant::now();
    let mut spec = cellsim_models::load(&file.display().to_string()).unwrap_or_else(|e| panic!("{}", e[0]));
    if let Some(d) = duration_s {
        spec.duration_ns = d * 1_000_000_000;
    }
    let dir = scratch_dir();
    let series = cellsim_reports::CsvSeries::create(&dir.join("series.csv")).unwrap();
    let (result, series) = cellsim_models::simulate(&spec, spec.seed, series);
    series.finish().unwrap();
    let summary = cellsim_reports::summarise(&result);
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert!(result.verdict.is_completed(), "{}", result.verdict.describe());
    let requests: u64 = summary.requests.iter().map(|r| r.requests).sum();
    (requests, wall)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Peak resident memory of this process, from /proc (Linux); None elsewhere.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the anchors' run.sh and returns (label, rate) for each line with a rate.
fn run_anchors(dir: &Path, what: &str) -> Vec<(String, f64)> {
    let out = Command::new("bash").arg(dir.join("run.sh")).arg(what).output();
    let Ok(out) = out else { return Vec::new() };
    if !out.status.success() {
        eprintln!("anchors ({what}) failed:\n{}", String::from_utf8_lossy(&out.stderr));
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let label = line.split_whitespace().next()?.to_string();
            let rate = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("customers/s=").or_else(|| w.strip_prefix("requests/s=")))?;
            Some((label, rate.replace(',', "").parse().ok()?))
        })
        .collect()
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1} k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--rss-probe") {
        // Child mode: run the chain for the given duration, print the peak RSS.
        let file = PathBuf::from(&args[2]);
        let duration_s: u64 = args[3].parse().unwrap();
        let (requests, _) = run_scenario(&file, Some(duration_s));
        println!("{requests} {}", peak_rss_kib().unwrap_or(0));
        let _ = std::fs::remove_dir_all(scratch_dir());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let with_anchors = !args.iter().any(|a| a == "--no-anchors");
    let scenarios = root().join("benches/scenarios");
    let anchors =
        std::env::var_os("CELLSIM_ANCHORS").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/anchors"));

    let mmc_file = scenarios.join("mmc.toml");
    let chain_file = scenarios.join("chain.toml");
    let policies_file = scenarios.join("chain-policies.toml");
    let (mmc_s, chain_s) = if quick { (Some(20 * 3600), Some(1000)) } else { (None, None) };
    let mut mmc_rates = Vec::new();
    let mut chain_rates = Vec::new();
    let mut policies_rates = Vec::new();
    let mut anchor_runs: Vec<(String, f64)> = Vec::new();
    let exe = cellsim_binary();
    for round in 1..=REPEATS {
        let (n, wall) = run_binary(&exe, &mmc_file, mmc_s);
        mmc_rates.push(n as f64 / wall);
        let (n, wall) = run_binary(&exe, &chain_file, chain_s);
        chain_rates.push(n as f64 / wall);
        let (n, wall) = run_binary(&exe, &policies_file, chain_s);
        policies_rates.push(n as f64 / wall);
        eprintln!(
            "round {round}: cellsim M/M/c {}/s, chain {}/s, chain with policies {}/s",
            human(mmc_rates[round - 1]),
            human(chain_rates[round - 1]),
            human(policies_rates[round - 1])
        );
        if with_anchors && anchors.join("run.sh").exists() {
            anchor_runs.extend(run_anchors(&anchors, "all"));
        }
    }
    // The policies' cost is the ratio of two runs made one after the other in a round: the
    // median of the per-round ratios, so that drift between rounds cancels.
    let policies_cost = median(chain_rates.iter().zip(&policies_rates).map(|(c, p)| c / p).collect());
    let mmc = median(mmc_rates);
    let chain = median(chain_rates);
    let policies = median(policies_rates);
    let anchor = |label: &str| -> Option<f64> {
        let v: Vec<f64> = anchor_runs.iter().filter(|(l, _)| l == label).map(|(_, r)| *r).collect();
        (!v.is_empty()).then(|| median(v))
    };

    println!("\ncellsim benchmarks, median of {REPEATS} rounds (rates per wall-clock second)\n");
    println!("{:<8} {:<34} {:>14} {:>12}  target", "workload", "tool", "rate", "cellsim/x");
    let row = |w: &str, tool: &str, rate: Option<f64>, ours: f64, target: &str| {
        let (r, ratio) = match rate {
            Some(r) => (human(r), format!("{:.2}x", ours / r)),
            None => ("(not run)".into(), "-".into()),
        };
        println!("{w:<8} {tool:<34} {r:>14} {ratio:>12}  {target}");
    };
    println!("{:<8} {:<34} {:>14} {:>12}", "M/M/c", "cellsim (scenario file)", human(mmc), "");
    row("M/M/c", "hand-written Rust heap loop", anchor("rust-heap"), mmc, ">= 0.5x");
    row("M/M/c", "nexosim 1.0, 1 thread", anchor("nexosim"), mmc, ">= 6x");
    row("M/M/c", "SimPy 4.1.2", anchor("simpy"), mmc, ">= 100x");
    row("M/M/c", "Ciw 3.2.7", anchor("ciw"), mmc, "");
    println!("{:<8} {:<34} {:>14} {:>12}", "chain", "cellsim (scenario file)", human(chain), "");
    row("chain", "SimPy 4.1.2", anchor("simpy-chain"), chain, ">= 200x");
    println!(
        "{:<8} {:<34} {:>14} {:>12}  <= 1.3x",
        "policies",
        "chain + breakers, budgets, checks",
        human(policies),
        format!("{policies_cost:.2}x time")
    );

    // Memory: the chain at 1x and 10x simulated duration, each in a fresh process.
    let exe = std::env::current_exe().unwrap();
    let base_s = if quick { 200 } else { 1000 };
    let probe = |d: u64| -> (u64, u64) {
        let out = Command::new(&exe)
            .args(["--rss-probe", &chain_file.display().to_string(), &d.to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace().map(|w| w.parse::<u64>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    };
    let (n1, rss1) = probe(base_s);
    let (n10, rss10) = probe(base_s * 10);
    println!(
        "\nmemory   chain {}s ({} requests): peak RSS {:.1} MiB; {}s ({} requests): {:.1} MiB; ratio {:.2}x (target <= 1.2x)",
        base_s,
        n1,
        rss1 as f64 / 1024.0,
        base_s * 10,
        n10,
        rss10 as f64 / 1024.0,
        rss10 as f64 / rss1.max(1) as f64
    );
    report_and_pairing(&cellsim_binary(), quick);
    let _ = std::fs::remove_dir_all(scratch_dir());
}

/// Wall seconds of `cellsim ARGS` (which must succeed or end with 1, a broken hypothesis).
fn timed(exe: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new(exe).args(args).output().expect("cellsim runs");
    let wall = started.elapsed().as_secs_f64();
    assert!(matches!(out.status.code(), Some(0 | 1)), "cellsim {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    wall
}

/// The plots and the HTML report of a one-hour run (`cellsim report DIR` on its folder: read
/// the files back, draw, encode, write), timed on their own so that the peers' comparison
/// above keeps timing the simulation; and the paired baseline's cost against the faulted run
/// alone (whole commands, outputs included), on the same hour.
fn report_and_pairing(exe: &Path, quick: bool) {
    let dir = scratch_dir().join("hour");
    let dir_s = dir.display().to_string();
    let hour = root().join("benches/scenarios/pairing.toml").display().to_string();
    let run_s = timed(exe, &["run", &hour, "--duration", "1h", "--out", &dir_s]);
    let report: Vec<f64> = (0..REPEATS).map(|_| timed(exe, &["report", &dir_s])).collect();
    println!(
        "\nreport   pairing.toml (Kinesis 2020), 1 h simulated (run {run_s:.2} s): plots and report.html in {:.3} s (median of {REPEATS}; target < 2 s)",
        median(report)
    );
    let duration = if quick { "15m" } else { "1h" };
    let mut ratios = Vec::new();
    for _ in 0..REPEATS {
        let alone = timed(exe, &["run", &hour, "--duration", duration, "--no-baseline", "--out", &dir_s]);
        let paired = timed(exe, &["run", &hour, "--duration", duration, "--out", &dir_s]);
        ratios.push(paired / alone);
    }
    println!(
        "pairing  pairing.toml (Kinesis 2020), {duration} simulated: the run beside its baseline costs {:.2}x the run alone (median of {REPEATS} rounds; target <= 2.1x)",
        median(ratios)
    );
}
