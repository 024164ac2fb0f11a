//! What the test modules share: scenario text built from parts ([`Scenario`], [`Workload`],
//! [`Request`], [`Service`], [`Call`], [`Fault`]), runs that must complete ([`run`], [`run_spec`]),
//! readers of the results and of the shipped scenarios, and the command line.
//!
//! A builder renders tables in the order the format documents: `[scenario]`, `[limits]`,
//! each `[[workload]]` with its `[[workload.request]]`s, each `[[service]]` with its
//! `[[service.call]]`s, then `[[fault]]`s. Keys come out in the order they were set;
//! [`Scenario::line`] and the like take raw TOML lines for anything without a setter.

use cellsim_models::{compile, simulate, NoSeries, RunResult, ServiceStats, Spec};
use std::ffi::OsStr;
use std::fmt::{self, Display, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// The repository root (the root package's manifest folder).
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------------------
// Values

/// A TOML string: `"text"`.
pub fn q(text: &str) -> String {
    format!("\"{text}\"")
}

/// `{ process = "constant", rate_per_s = RATE }`: one arrival every 1/RATE s, the first at
/// 1/RATE s.
pub fn constant_arrivals(rate_per_s: f64) -> String {
    format!("{{ process = \"constant\", rate_per_s = {rate_per_s} }}")
}

/// `{ process = "poisson", rate_per_s = RATE }`.
pub fn poisson_arrivals(rate_per_s: f64) -> String {
    format!("{{ process = \"poisson\", rate_per_s = {rate_per_s} }}")
}

/// `{ dist = "constant", value = "VALUE" }` (e.g. `constant("1ms")`).
pub fn constant(value: &str) -> String {
    format!("{{ dist = \"constant\", value = \"{value}\" }}")
}

/// `{ dist = "exponential", mean = "MEAN" }`.
pub fn exponential(mean: &str) -> String {
    format!("{{ dist = \"exponential\", mean = \"{mean}\" }}")
}

// ---------------------------------------------------------------------------------------
// Scenario builder

/// Lines of one table: `key = value` pairs and raw lines, in the order they were added.
#[derive(Clone, Debug, Default)]
struct Lines(Vec<String>);

impl Lines {
    fn set(&mut self, key: &str, value: impl Display) {
        self.0.push(format!("{key} = {value}"));
    }

    /// Raw TOML, one line or several; nothing for an empty text, so that an optional setting
    /// can be passed as "".
    fn raw(&mut self, text: &str) {
        if !text.trim().is_empty() {
            self.0.push(text.trim_end_matches('\n').to_string());
        }
    }

    fn write(&self, out: &mut String, header: &str) {
        out.push('\n');
        out.push_str(header);
        out.push('\n');
        for l in &self.0 {
            out.push_str(l);
            out.push('\n');
        }
    }
}

/// Generates the setters every table builder has.
macro_rules! setters {
    ($t:ty) => {
        // Not every table uses every setter.
        #[allow(dead_code)]
        impl $t {
            /// `key = value`, the value as TOML (`set("workers", 4)`, `set("retry", "{ max_attempts = 3 }")`).
            pub fn set(mut self, key: &str, value: impl Display) -> Self {
                self.lines.set(key, value);
                self
            }

            /// `key = "value"`.
            pub fn set_str(self, key: &str, value: &str) -> Self {
                self.set(key, q(value))
            }

            /// Raw TOML lines, added as they are; an empty text adds nothing.
            pub fn line(mut self, text: &str) -> Self {
                self.lines.raw(text);
                self
            }
        }
    };
}

/// A whole scenario file. `Display` (or [`Scenario::text`]) renders it.
#[derive(Clone, Debug)]
pub struct Scenario {
    lines: Lines,
    limits: Lines,
    workloads: Vec<Workload>,
    services: Vec<Service>,
    faults: Vec<Fault>,
}

impl Scenario {
    /// `[scenario]` with `name` and `duration`.
    pub fn new(name: &str, duration: &str) -> Self {
        let mut lines = Lines::default();
        lines.set("name", q(name));
        lines.set("duration", q(duration));
        Scenario { lines, limits: Lines::default(), workloads: Vec::new(), services: Vec::new(), faults: Vec::new() }
    }

    pub fn warmup(self, warmup: &str) -> Self {
        self.set_str("warmup", warmup)
    }

    /// A `[limits]` key.
    pub fn limit(mut self, key: &str, value: impl Display) -> Self {
        self.limits.set(key, value);
        self
    }

    pub fn workload(mut self, w: Workload) -> Self {
        self.workloads.push(w);
        self
    }

    pub fn service(mut self, s: Service) -> Self {
        self.services.push(s);
        self
    }

    /// Several services at once (e.g. a chain built in a loop).
    pub fn services(mut self, s: impl IntoIterator<Item = Service>) -> Self {
        self.services.extend(s);
        self
    }

    pub fn fault(mut self, f: Fault) -> Self {
        self.faults.push(f);
        self
    }

    pub fn text(&self) -> String {
        self.to_string()
    }

    /// Compiles and runs the scenario: see [`run`].
    pub fn run(&self) -> RunResult {
        run(&self.text())
    }
}
setters!(Scenario);

impl Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.lines.write(&mut out, "[scenario]");
        if !self.limits.0.is_empty() {
            self.limits.write(&mut out, "[limits]");
        }
        for w in &self.workloads {
            w.lines.write(&mut out, "[[workload]]");
            for r in &w.requests {
                r.lines.write(&mut out, "[[workload.request]]");
            }
        }
        for s in &self.services {
            s.lines.write(&mut out, "[[service]]");
            for c in &s.calls {
                c.lines.write(&mut out, "[[service.call]]");
            }
        }
        for fault in &self.faults {
            fault.lines.write(&mut out, "[[fault]]");
        }
        f.write_str(&out)
    }
}

/// A `[[workload]]` and its request types.
#[derive(Clone, Debug)]
pub struct Workload {
    lines: Lines,
    requests: Vec<Request>,
}

impl Workload {
    /// `name` with `arrival` (a TOML inline table: see [`constant_arrivals`]).
    pub fn new(name: &str, arrival: &str) -> Self {
        let mut lines = Lines::default();
        lines.set("name", q(name));
        lines.set("arrival", arrival);
        Workload { lines, requests: Vec::new() }
    }

    /// Constant arrivals, `rate_per_s` of them a second.
    pub fn constant(name: &str, rate_per_s: f64) -> Self {
        Self::new(name, &constant_arrivals(rate_per_s))
    }

    /// Poisson arrivals at `rate_per_s`.
    pub fn poisson(name: &str, rate_per_s: f64) -> Self {
        Self::new(name, &poisson_arrivals(rate_per_s))
    }

    pub fn request(mut self, r: Request) -> Self {
        self.requests.push(r);
        self
    }
}
setters!(Workload);

/// A `[[workload.request]]`: the client's settings (timeout, retry, breaker...) go here.
#[derive(Clone, Debug)]
pub struct Request {
    lines: Lines,
}

impl Request {
    pub fn new(name: &str, target: &str) -> Self {
        let mut lines = Lines::default();
        lines.set("name", q(name));
        lines.set("target", q(target));
        Request { lines }
    }
}
setters!(Request);

/// A `[[service]]` and its calls.
#[derive(Clone, Debug)]
pub struct Service {
    lines: Lines,
    calls: Vec<Call>,
}

impl Service {
    /// `name` with `service_time` (a TOML inline table: see [`constant`], [`exponential`]).
    pub fn new(name: &str, service_time: &str) -> Self {
        let mut lines = Lines::default();
        lines.set("name", q(name));
        lines.set("service_time", service_time);
        Service { lines, calls: Vec::new() }
    }

    pub fn workers(self, n: u32) -> Self {
        self.set("workers", n)
    }

    pub fn instances(self, n: u32) -> Self {
        self.set("instances", n)
    }

    pub fn queue_capacity(self, n: u64) -> Self {
        self.set("queue_capacity", n)
    }

    /// Every job fails.
    pub fn always_fails(self) -> Self {
        self.set("error_probability", "1.0")
    }

    pub fn call(mut self, c: Call) -> Self {
        self.calls.push(c);
        self
    }
}
setters!(Service);

/// A `[[service.call]]`.
#[derive(Clone, Debug)]
pub struct Call {
    lines: Lines,
}

impl Call {
    pub fn to(service: &str) -> Self {
        let mut lines = Lines::default();
        lines.set("to", q(service));
        Call { lines }
    }

    /// Calls of one group run in parallel.
    pub fn group(self, group: &str) -> Self {
        self.set_str("group", group)
    }
}
setters!(Call);

/// A `[[fault]]`.
#[derive(Clone, Debug)]
pub struct Fault {
    lines: Lines,
}

impl Fault {
    /// A fault of `kind` on `service` from `start` for `duration`.
    pub fn new(kind: &str, service: &str, start: &str, duration: &str) -> Self {
        let mut lines = Lines::default();
        lines.set("kind", q(kind));
        lines.set("service", q(service));
        lines.set("start", q(start));
        lines.set("duration", q(duration));
        Fault { lines }
    }
}
setters!(Fault);

// ---------------------------------------------------------------------------------------
// Runs and their results

/// Compiles `text` (panicking with the first error), runs it with seed 1 and asserts that
/// the run completed.
pub fn run(text: &str) -> RunResult {
    run_spec(&compile_ok(text), 1)
}

/// `run`, keeping the series' rows.
pub fn run_with_series(text: &str) -> (RunResult, Vec<cellsim_models::SeriesRow>) {
    cellsim_models::simulate(&compile_ok(text), 1, Vec::new())
}

/// Compiles `text` as `test.toml`, panicking with the first error and the text.
pub fn compile_ok(text: &str) -> Spec {
    compile("test.toml", text).unwrap_or_else(|e| panic!("{}\nin:\n{text}", e[0]))
}

/// Runs `spec` with `seed`, no series, and asserts that the run completed.
pub fn run_spec(spec: &Spec, seed: u64) -> RunResult {
    let (r, _) = simulate(spec, seed, NoSeries);
    assert!(r.verdict.is_completed(), "{:?}", r.verdict);
    r
}

/// The statistics of the service `name`.
pub fn service<'a>(r: &'a RunResult, name: &str) -> &'a ServiceStats {
    r.services.iter().find(|s| s.service == name).unwrap_or_else(|| panic!("no service `{name}`"))
}

/// Jobs that reached the services whose names start with `prefix`.
pub fn arrivals_with_prefix(r: &RunResult, prefix: &str) -> u64 {
    r.services.iter().filter(|s| s.service.starts_with(prefix)).map(|s| s.arrivals).sum()
}

// ---------------------------------------------------------------------------------------
// Files of the repository

/// `relative` (to the repository root) as an absolute path.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// The text of `scenarios/<file>`.
pub fn scenario_text(file: &str) -> String {
    let path = repo_path("scenarios").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `scenarios/<file>`, compiled.
pub fn scenario_spec(file: &str) -> Spec {
    let path = repo_path("scenarios").join(file);
    cellsim_models::load(&path.display().to_string()).unwrap_or_else(|e| panic!("{}", e[0]))
}

/// The `*.toml` files of the folder `relative` (to the repository root), sorted, as paths
/// relative to the repository root.
pub fn toml_files(relative: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_path(relative))
        .unwrap()
        .map(|e| Path::new(relative).join(e.unwrap().file_name()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The shipped scenarios, `scenarios/*.toml`, as absolute paths, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    toml_files("scenarios").into_iter().map(|p| Path::new(ROOT).join(p)).collect()
}

// ---------------------------------------------------------------------------------------
// The command line

/// Runs the `cellsim` binary with `args`.
pub fn cellsim<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cellsim")).args(args).output().unwrap()
}

/// A fresh temporary folder, removed when the returned guard is dropped.
pub fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("cellsim-test-{tag}-")).tempdir().unwrap()
}

/// Writes `text` as `<tag>.toml` in a fresh temporary folder; returns the folder (removed
/// when dropped) and the file's path.
pub fn write_scenario(tag: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = temp_dir(tag);
    let file = dir.path().join(format!("{tag}.toml"));
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        write!(s, "{b:02x}").unwrap();
    }
    s
}
