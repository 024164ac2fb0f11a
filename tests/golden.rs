//! Golden outputs: every scenario of `scenarios/` and `tests/fixtures/` run through the real
//! binary must write the same `summary.json` and `series.csv` (with `places.csv`, for a
//! scenario with a topology), byte for byte, as recorded (as SHA-256) in `tests/goldens.txt`. A deliberate change of output is blessed with
//! `CELLSIM_BLESS=1 cargo test --test main golden`, which rewrites that file.

use crate::support::{hex, repo_path, temp_dir, toml_files};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::Command;
use std::sync::Mutex;

const GOLDENS: &str = "tests/goldens.txt";
const BLESS: &str = "CELLSIM_BLESS=1 cargo test --test main golden";

/// The SHA-256 of one scenario's `summary.json` and `series.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hashes {
    summary: String,
    series: String,
}

/// Every scenario with a golden output, as paths relative to the repository root, sorted.
fn golden_scenarios() -> Vec<String> {
    let mut files: Vec<String> = ["scenarios", "tests/fixtures"]
        .into_iter()
        .flat_map(toml_files)
        .map(|p| p.to_str().expect("UTF-8 path").replace('\\', "/"))
        .collect();
    files.sort();
    files
}

/// Runs `cellsim run <scenario> --out <temp> --json` from the repository root (so the path
/// is the same relative one every time) and hashes what it wrote.
fn run_and_hash(scenario: &str) -> Hashes {
    let out = temp_dir("golden");
    let r = Command::new(env!("CARGO_BIN_EXE_cellsim"))
        .current_dir(repo_path(""))
        .args(["run", scenario, "--out"])
        .arg(out.path())
        .arg("--json")
        .output()
        .unwrap();
    // 0, or 1 for a scenario whose design breaks a hypothesis on purpose (it ships the better
    // design beside it): never a limit verdict.
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).expect("--json prints the summary");
    let broken = summary["hypotheses"].as_array().is_some_and(|h| h.iter().any(|h| h["result"] == "broken"));
    assert_eq!(r.status.code(), Some(broken as i32), "{scenario}: {}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(summary["verdict"], "completed", "{scenario}");
    // Every summary is what its published schema says.
    let errors: Vec<String> =
        summary_schema().iter_errors(&summary).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{scenario}: summary.json against docs/summary.schema.json:\n{}", errors.join("\n"));
    // Every output stays within the bound `validate` states before the run.
    let spec = cellsim_models::load(&repo_path(scenario).display().to_string()).expect("a golden scenario compiles");
    let estimate = cellsim_models::Estimate::of(&spec);
    let read = |name: &str| {
        let bytes = std::fs::read(out.path().join(name)).unwrap_or_else(|e| panic!("{scenario}: {name}: {e}"));
        let bound = match name {
            "series.csv" => estimate.series_bytes,
            "places.csv" => estimate.places_bytes,
            _ => estimate.summary_bytes,
        };
        assert!(bytes.len() as u64 <= bound, "{scenario}: {name} has {} bytes, over its estimate {bound}", bytes.len());
        bytes
    };
    // The places' series is hashed with the workloads' (one golden per series).
    let mut series = read("series.csv");
    assert_eq!(out.path().join("places.csv").exists(), spec.topology.is_some(), "{scenario}: places.csv");
    if spec.topology.is_some() {
        series.extend(b"\0places.csv\0");
        series.extend(read("places.csv"));
    }
    Hashes { summary: hex(&Sha256::digest(read("summary.json"))), series: hex(&Sha256::digest(series)) }
}

/// The validator of `docs/summary.schema.json`.
fn summary_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(repo_path("docs/summary.schema.json")).unwrap();
        jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("a valid JSON Schema")
    })
}

/// `docs/summary.schema.json` is the schema `cellsim schema --summary` prints: the
/// published shape of `summary.json`, versioned with it (blessed like the goldens).
#[test]
fn the_published_summary_schema_is_current() {
    let r = Command::new(env!("CARGO_BIN_EXE_cellsim")).args(["schema", "--summary"]).output().unwrap();
    assert_eq!(r.status.code(), Some(0));
    let path = repo_path("docs/summary.schema.json");
    if std::env::var_os("CELLSIM_BLESS").is_some() {
        std::fs::write(&path, &r.stdout).unwrap();
    }
    let published = std::fs::read(&path).unwrap();
    assert!(published == r.stdout, "docs/summary.schema.json is out of date: {BLESS}");
    let schema: serde_json::Value = serde_json::from_slice(&published).unwrap();
    let required: Vec<&str> = schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for field in ["schema_version", "scenario", "seed", "verdict", "requests", "services"] {
        assert!(required.contains(&field), "{field} is required");
    }
    for optional in ["hypotheses", "stopped", "impact", "topology"] {
        assert!(!required.contains(&optional) && schema["properties"].get(optional).is_some(), "{optional}");
    }
}

/// Runs every scenario, a few at a time.
fn run_all(scenarios: &[String]) -> BTreeMap<String, Hashes> {
    let next = Mutex::new(scenarios.iter());
    let results = Mutex::new(BTreeMap::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(scenarios.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some(scenario) = next.lock().unwrap().next() else { break };
                let hashes = run_and_hash(scenario);
                results.lock().unwrap().insert(scenario.clone(), hashes);
            });
        }
    });
    results.into_inner().unwrap()
}

/// The recorded hashes: `path summary-sha256 series-sha256` lines; `#` starts a comment.
fn parse_goldens(text: &str) -> Result<BTreeMap<String, Hashes>, String> {
    let mut goldens = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [path, summary, series] = fields[..] else {
            return Err(format!("{GOLDENS}:{}: expected `path summary-sha256 series-sha256`, got `{line}`", i + 1));
        };
        let hashes = Hashes { summary: summary.to_string(), series: series.to_string() };
        if goldens.insert(path.to_string(), hashes).is_some() {
            return Err(format!("{GOLDENS}:{}: `{path}` is listed twice", i + 1));
        }
    }
    Ok(goldens)
}

fn render_goldens(hashes: &BTreeMap<String, Hashes>) -> String {
    let mut text = String::from(
        "# Golden outputs: the SHA-256 of the summary.json and series.csv that `cellsim run` writes\n\
         # for each scenario of scenarios/ and tests/fixtures/, checked by tests/golden.rs.\n\
         # Line format: <scenario path> <summary.json sha256> <series.csv sha256>, sorted by path.\n\
         # summary.json holds cellsim_version, so a version bump changes every summary hash.\n\
         # Do not edit by hand: after a deliberate change of output, run\n\
         #     CELLSIM_BLESS=1 cargo test --test main golden\n\
         # and commit this file with the change.\n",
    );
    for (path, h) in hashes {
        text += &format!("{path} {} {}\n", h.summary, h.series);
    }
    text
}

/// What differs between the recorded hashes and the actual ones, one line per scenario.
fn differences(recorded: &BTreeMap<String, Hashes>, actual: &BTreeMap<String, Hashes>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, a) in actual {
        match recorded.get(path) {
            None => out.push(format!("{path}: no golden line (a new scenario?)")),
            Some(r) => {
                let changed: Vec<&str> =
                    [("summary.json", r.summary != a.summary), ("series.csv", r.series != a.series)]
                        .into_iter()
                        .filter_map(|(name, differs)| differs.then_some(name))
                        .collect();
                if !changed.is_empty() {
                    out.push(format!("{path}: {} changed", changed.join(" and ")));
                }
            }
        }
    }
    for path in recorded.keys().filter(|p| !actual.contains_key(*p)) {
        out.push(format!("{path}: has a golden line but the file no longer exists"));
    }
    out
}

#[test]
fn golden_outputs_are_unchanged() {
    let scenarios = golden_scenarios();
    assert!(scenarios.len() >= 19, "{scenarios:?}");
    let actual = run_all(&scenarios);
    assert_eq!(actual.len(), scenarios.len());
    let path = repo_path(GOLDENS);
    let recorded_text = std::fs::read_to_string(&path).unwrap_or_default();
    let recorded = parse_goldens(&recorded_text);
    if std::env::var_os("CELLSIM_BLESS").is_some_and(|v| v == "1") {
        let diffs = differences(&recorded.unwrap_or_default(), &actual);
        let text = render_goldens(&actual);
        let rewrite = text != recorded_text;
        if rewrite {
            std::fs::write(&path, &text).unwrap();
        }
        // Straight to stderr: the test harness captures eprintln! of passing tests.
        let mut err = std::io::stderr().lock();
        let what = if rewrite { "rewrote" } else { "left as it was" };
        writeln!(err, "CELLSIM_BLESS: {what} {} ({} scenarios)", path.display(), actual.len()).unwrap();
        for d in &diffs {
            writeln!(err, "  {d}").unwrap();
        }
        if diffs.is_empty() {
            writeln!(err, "  no output changed").unwrap();
        }
        return;
    }
    let recorded = recorded.unwrap_or_else(|e| panic!("{e}\nRewrite the file with\n    {BLESS}"));
    let diffs = differences(&recorded, &actual);
    assert!(
        diffs.is_empty(),
        "golden outputs differ from {GOLDENS} for {} of {} scenarios:\n  {}\n\
         If the change is deliberate, rewrite the file with\n    {BLESS}\nand commit it with the change.",
        diffs.len(),
        actual.len(),
        diffs.join("\n  ")
    );
}

#[test]
fn goldens_file_round_trips_and_differences_name_each_file() {
    let h = |a: &str, b: &str| Hashes { summary: a.repeat(64), series: b.repeat(64) };
    let recorded: BTreeMap<String, Hashes> =
        [("a.toml", h("1", "2")), ("b.toml", h("3", "4")), ("gone.toml", h("5", "6"))]
            .into_iter()
            .map(|(p, h)| (p.to_string(), h))
            .collect();
    assert_eq!(parse_goldens(&render_goldens(&recorded)), Ok(recorded.clone()));
    assert!(parse_goldens("a.toml 11 22 33\n").is_err());
    let actual: BTreeMap<String, Hashes> =
        [("a.toml", h("1", "2")), ("b.toml", h("3", "0")), ("new.toml", h("7", "8"))]
            .into_iter()
            .map(|(p, h)| (p.to_string(), h))
            .collect();
    assert_eq!(
        differences(&recorded, &actual),
        [
            "b.toml: series.csv changed",
            "new.toml: no golden line (a new scenario?)",
            "gone.toml: has a golden line but the file no longer exists",
        ]
    );
}
