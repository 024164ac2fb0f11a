//! The `cellsim` command line: parses arguments, calls the libraries, and maps what happened
//! to the exit codes every command shares: 0 done (and every hypothesis held), 1 the design
//! failed (a hypothesis broke, a limit verdict, or refused because an estimate exceeds a
//! `[limits]` value), 2 the input was wrong, 3 the environment failed.

use cellsim_models::estimate::format_bytes;
use cellsim_models::{Estimate, Overrides, ScenarioError, Spec};
use cellsim_reports::{render, saved, summarise, CsvSeries, OutputDir, OutputError};
use clap::{Parser, Subcommand};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

const DEMO_NAME: &str = "scenarios/quickstart.toml (built in)";
const DEMO: &str = include_str!("../scenarios/quickstart.toml");

#[derive(Parser)]
#[command(name = "cellsim", version, about = "Discrete-event simulator of cell-based service architectures")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario; print its summary and write summary.json, series.csv (places.csv with a topology) and hgrm/, each workload's latency distribution.
    Run {
        /// The scenario file (TOML).
        file: PathBuf,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Run the built-in quickstart scenario (also what `cellsim` alone does).
    Demo {
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Check scenario files without running them; print what a run would need.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (for editors), or with --summary that of
    /// summary.json (docs/summary.schema.json).
    Schema {
        #[arg(long)]
        summary: bool,
    },
    /// Make the plots (plots/) and the HTML report (report.html) of a results folder again,
    /// from its own files, without running anything: the same bytes a run wrote.
    Report {
        /// A folder `cellsim run` wrote.
        dir: PathBuf,
    },
}

#[derive(clap::Args, Default)]
struct RunOpts {
    /// Master seed; overrides the scenario's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder for summary.json, series.csv, places.csv and hgrm/, replaced as a whole. Default:
    /// out/<scenario name>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the JSON summary on stdout instead of the text summary.
    #[arg(long)]
    json: bool,
    /// Simulated duration, replacing the scenario's `duration` (e.g. `1h`): runs a shipped
    /// scenario for longer (or shorter) without editing it.
    #[arg(long, value_parser = parse_duration_arg)]
    duration: Option<cellsim_models::units::Duration>,
    /// Do not run the baseline beside a scenario with faults (about half the time): no
    /// impairment, time to detect or recover, cascade depth or blast radius.
    #[arg(long)]
    no_baseline: bool,
    /// After the verdicts, say why each hypothesis held or broke: the metric, the window,
    /// observed against threshold, and the faults and components behind it.
    #[arg(long)]
    why: bool,
}

fn parse_duration_arg(text: &str) -> Result<cellsim_models::units::Duration, String> {
    match cellsim_models::units::parse_duration(text)? {
        d if d.ns() == 0 => Err("the duration must be positive".to_string()),
        d => Ok(d),
    }
}

/// Why a command did not end with 0, with its message.
enum Failure {
    /// 1: a limit verdict, or a run refused by an estimate.
    Design(String),
    /// 2: the scenario or the arguments are wrong.
    Input(String),
    /// 3: a file could not be read or written, the output folder is busy, the disk is full.
    Environment(String),
}

impl Failure {
    fn code(&self) -> u8 {
        match self {
            Failure::Design(_) => 1,
            Failure::Input(_) => 2,
            Failure::Environment(_) => 3,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Design(m) | Failure::Input(m) | Failure::Environment(m) => m,
        }
    }

    /// The more serious of two failures (environment, then input, then design).
    fn worse(self, other: Failure) -> Failure {
        if other.code() > self.code() {
            other
        } else {
            self
        }
    }
}

/// The work runs on a thread with a large stack: a scenario's call chain (up to 1,000
/// services deep) nests the model's handlers when answers travel back with no delay.
const STACK_BYTES: usize = 512 << 20;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match std::thread::Builder::new().stack_size(STACK_BYTES).spawn(move || command(cli)) {
        Ok(worker) => worker.join().unwrap_or(ExitCode::from(3)),
        Err(e) => {
            err(&format!("error: cannot start the worker thread: {e}"));
            ExitCode::from(3)
        }
    }
}

fn command(cli: Cli) -> ExitCode {
    let result = match cli.command {
        None => run_text(DEMO_NAME, DEMO, RunOpts::default()),
        Some(Command::Demo { opts }) => run_text(DEMO_NAME, DEMO, opts),
        Some(Command::Run { file, opts }) => {
            read_scenario(&file).and_then(|src| run_text(&file.display().to_string(), &src, opts))
        }
        Some(Command::Validate { files }) => validate(&files),
        Some(Command::Report { dir }) => report(&dir),
        Some(Command::Schema { summary }) => {
            let schema = match summary {
                false => schemars::schema_for!(cellsim_models::scenario::ScenarioFile),
                true => schemars::schema_for!(cellsim_reports::Summary),
            };
            out(&(serde_json::to_string_pretty(&schema).expect("schema serialises") + "\n"))
        }
    };
    let result = result.and_then(|()| flush_stdout());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            err(failure.message());
            ExitCode::from(failure.code())
        }
    }
}

/// Set once stdout is found closed: later output is dropped, and the exit code is the one
/// the work earned.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints `text` on stdout. A closed pipe ends output quietly; any other failure to write
/// (a full disk behind a redirection) fails the command.
fn out(text: &str) -> Result<(), Failure> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    stdout_result(io::stdout().lock().write_all(text.as_bytes()))
}

fn flush_stdout() -> Result<(), Failure> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    stdout_result(io::stdout().lock().flush())
}

fn stdout_result(r: io::Result<()>) -> Result<(), Failure> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Err(Failure::Environment(format!("error: cannot write to standard output: {e}")))
        }
    }
}

/// Prints a line on stderr; a closed stderr is ignored (there is nobody to tell).
fn err(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// The scenario file's text: unreadable is the environment's failure, not UTF-8 the input's.
fn read_scenario(file: &Path) -> Result<String, Failure> {
    let name = file.display().to_string();
    if file.is_dir() {
        return Err(Failure::Input(format!("error: {name} is a folder, not a scenario file")));
    }
    let bytes =
        std::fs::read(file).map_err(|e| Failure::Environment(format!("error: {name}: cannot read the file: {e}")))?;
    match cellsim_models::decode(&name, &bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => Err(Failure::Input(errors_text(&e))),
    }
}

fn errors_text(errors: &[ScenarioError]) -> String {
    let mut s: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    if errors.len() > 1 {
        s.push(format!("{} errors", errors.len()));
    }
    s.join("\n\n")
}

/// The scenario compiled and checked against its `[limits]`, with its estimate.
fn checked(name: &str, src: &str, overrides: &Overrides, paired: bool) -> Result<(Spec, Estimate), Failure> {
    let spec = cellsim_models::compile_with(name, src, overrides).map_err(|e| Failure::Input(errors_text(&e)))?;
    let mut estimate = cellsim_runs::estimate(&spec, paired);
    // The scenario's copy, and in the report escaped (up to six bytes a byte).
    estimate.report_bytes = estimate.report_bytes.saturating_add(7 * src.len() as u64);
    let refusals = estimate.refusals(&spec);
    if refusals.is_empty() {
        Ok((spec, estimate))
    } else {
        let mut lines: Vec<String> = refusals.iter().map(|r| format!("error: {name}: {r}")).collect();
        let memory = refusals.iter().any(|r| matches!(r, cellsim_models::Refusal::Memory { .. }));
        if memory && cellsim_runs::pairs(&spec, paired) {
            lines.push("  hint: the faults' baseline runs beside the scenario and needs as much again: --no-baseline (or [analysis] baseline = false) runs it alone".into());
        }
        Err(Failure::Design(lines.join("\n")))
    }
}

fn validate(files: &[PathBuf]) -> Result<(), Failure> {
    let mut failed: Option<Failure> = None;
    for f in files {
        let name = f.display().to_string();
        let result = read_scenario(f).and_then(|src| checked(&name, &src, &Overrides::default(), true));
        match result {
            Ok((spec, estimate)) => {
                let mut text = format!("ok: {name}\n");
                // At the open loops' peak rates (closed loops limit themselves).
                let peak = spec.offered_load_at(cellsim_models::spec::Arrival::peak_rate_per_s);
                for (busy, s) in peak.iter().zip(&spec.services) {
                    let workers = s.instances as u64 * s.workers as u64;
                    if *busy >= workers as f64 {
                        text += &format!(
                            "  warning: service `{}` is offered {busy:.2} busy workers of {workers} at the peak arrival rates (overloaded while they last)\n",
                            s.name
                        );
                    }
                }
                text += &estimate_lines(&spec, &estimate);
                out(&text)?;
            }
            Err(e) => {
                err(e.message());
                failed = Some(match failed {
                    Some(f) => f.worse(e),
                    None => e,
                });
            }
        }
    }
    // Each file's errors are printed already: one closing line with the worst exit code.
    match failed {
        Some(f) => Err(summary_of(f, files.len())),
        None => Ok(()),
    }
}

/// After `validate` printed each file's errors: one closing line with the worst exit code.
fn summary_of(f: Failure, files: usize) -> Failure {
    let line = format!("validate: {} file{} checked; exit code {}", files, if files == 1 { "" } else { "s" }, f.code());
    match f {
        Failure::Design(_) => Failure::Design(line),
        Failure::Input(_) => Failure::Input(line),
        Failure::Environment(_) => Failure::Environment(line),
    }
}

/// What `validate` prints of a run's estimate.
fn estimate_lines(spec: &Spec, e: &Estimate) -> String {
    let requests = spec.most_requests_in_flight();
    let requests = if requests < spec.max_in_flight_requests {
        format!("{} requests in flight (the closed loops' users)", cellsim_models::group_digits(requests))
    } else {
        format!("limits.max_in_flight_requests = {}", cellsim_models::group_digits(requests))
    };
    format!(
        "  memory: about {} expected, at most {} with {requests} and max_in_flight_jobs = {} \
         (limits.max_memory_mb = {})\n  output: at most {} with {} buckets (limits.max_output_mb = {})\n",
        format_bytes(e.expected_peak_bytes),
        format_bytes(e.bound_peak_bytes),
        cellsim_models::group_digits(spec.max_in_flight_jobs),
        cellsim_models::group_digits(spec.max_memory_bytes / 1_000_000),
        format_bytes(e.output_bytes()),
        cellsim_sim::format_ns(spec.bucket_ns),
        cellsim_models::group_digits(spec.max_output_bytes / 1_000_000),
    )
}

fn run_text(name: &str, src: &str, opts: RunOpts) -> Result<(), Failure> {
    let (spec, estimate) = checked(name, src, &Overrides { duration: opts.duration }, !opts.no_baseline)?;
    if opts.no_baseline {
        let needs = spec.hypotheses.iter().find(|h| h.expr.metric.from_impact() || h.expr.threshold.relative());
        if let Some(h) = needs {
            return Err(Failure::Input(format!(
                "error: hypothesis `{}` is judged against the baseline, and --no-baseline leaves it without one\n  hint: run without --no-baseline",
                h.name
            )));
        }
    }
    let seed = opts.seed.unwrap_or(spec.seed);
    let dir = opts.out.clone().unwrap_or_else(|| Path::new("out").join(sanitise(&spec.name)));
    let output = OutputDir::claim(&dir).map_err(|e| match e {
        OutputError::Unusable(_) => Failure::Input(format!("error: {e}")),
        OutputError::Busy(_) | OutputError::Io(_) => Failure::Environment(format!("error: {e}")),
    })?;
    on_interrupt_remove(output.staging());
    run_into(&spec, src, seed, output, &estimate, &opts)
}

/// `cellsim report DIR`.
fn report(dir: &Path) -> Result<(), Failure> {
    if !dir.join(cellsim_reports::MARKER).is_file() {
        return Err(Failure::Input(format!(
            "error: {} is not a folder cellsim run wrote (it has no {})\n  hint: give the --out folder of a run",
            dir.display(),
            cellsim_reports::MARKER
        )));
    }
    cellsim_reports::report::rebuild(dir).map_err(|e| {
        let message = format!("error: making the report of {}: {e}", dir.display());
        match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::NotFound => Failure::Input(message),
            _ => Failure::Environment(message),
        }
    })?;
    out(&format!(
        "wrote {} and {}\n",
        dir.join(cellsim_reports::report::REPORT).display(),
        dir.join(cellsim_reports::report::PLOTS_DIR).display()
    ))
}

/// The staging folder a signal handler removes before the process ends (Ctrl-C, SIGTERM,
/// SIGHUP); `None` once the run has committed. The lock is held while committing, so that
/// the handler never removes a folder being renamed into place.
static STAGING: Mutex<Option<PathBuf>> = Mutex::new(None);
static HANDLER: AtomicBool = AtomicBool::new(false);

fn on_interrupt_remove(staging: &Path) {
    *STAGING.lock().unwrap_or_else(|p| p.into_inner()) = Some(staging.to_path_buf());
    if !HANDLER.swap(true, Ordering::SeqCst) {
        let _ = ctrlc::set_handler(|| {
            let staging = STAGING.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = staging.as_ref() {
                let _ = std::fs::remove_dir_all(p);
            }
            err("interrupted: no results were written");
            std::process::exit(130);
        });
    }
}

/// The progress bar on a terminal: simulated time, rate and ETA, shown only once a run has
/// taken a second. The wall clock it reads stays here, in the display, never in a result.
struct Progress {
    duration_s: u64,
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(duration_ns: u64, started: Instant) -> Progress {
        Progress { duration_s: duration_ns.div_ceil(1_000_000_000), started, bar: None }
    }

    /// The run has simulated up to `ns`.
    fn at(&mut self, ns: u64) {
        if self.bar.is_none() && self.started.elapsed().as_secs_f64() >= 1.0 {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(self.duration_s),
                indicatif::ProgressDrawTarget::stderr_with_hz(4),
            );
            let style = indicatif::ProgressStyle::with_template("[{bar:30}] {msg}")
                .expect("a valid template")
                .progress_chars("=> ");
            bar.set_style(style);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            let (done_s, wall_s) = (ns as f64 / 1e9, self.started.elapsed().as_secs_f64());
            let rate = done_s / wall_s.max(1e-9);
            let eta_s = (self.duration_s as f64 - done_s).max(0.0) / rate.max(1e-9);
            bar.set_position(ns / 1_000_000_000);
            bar.set_message(format!(
                "{done_s:.0} of {} s simulated, {rate:.1} s a second, about {eta_s:.0} s to go",
                self.duration_s
            ));
        }
    }

    fn clear(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Each workload's latency distribution (its successful requests, every request type) as
/// HdrHistogram's percentile distribution in milliseconds (`{dir}/{workload}.hgrm`) and as an
/// interval log (`.hlog`), and the baseline's beside them (`{workload}.baseline.hgrm`).
fn write_distributions(
    dir: &std::path::Path,
    spec: &Spec,
    result: &cellsim_models::RunResult,
    baseline: Option<&cellsim_models::RunResult>,
) -> io::Result<()> {
    std::fs::create_dir(dir)?;
    for w in &spec.workloads {
        for (r, suffix) in std::iter::once((result, "")).chain(baseline.map(|b| (b, ".baseline"))) {
            let mut merged = cellsim_models::metrics::sized_histogram(2);
            for r in r.requests.iter().filter(|r| r.workload == w.name) {
                merged.add(&r.latency).expect("an auto-resizing histogram takes any other");
            }
            let text = cellsim_reports::percentile_distribution(&merged, 1e6);
            let file = cellsim_reports::file_name(&w.name);
            std::fs::write(dir.join(format!("{file}{suffix}.hgrm")), text)?;
            // The same histogram as an interval log over the measurement window.
            let tag = format!("{}{suffix}", w.name);
            let log = cellsim_reports::interval_log(&merged, r.warmup_ns, r.measured_until_ns, &tag);
            std::fs::write(dir.join(format!("{file}{suffix}.hlog")), log)?;
        }
    }
    Ok(())
}

/// The command line as typed, each argument quoted for a POSIX shell where it needs it.
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_into(
    spec: &Spec,
    src: &str,
    seed: u64,
    output: OutputDir,
    estimate: &Estimate,
    opts: &RunOpts,
) -> Result<(), Failure> {
    let paired = !opts.no_baseline;
    let dir = output.dir().to_path_buf();
    let io_err = |e: io::Error| Failure::Environment(format!("error: writing into {}: {e}", dir.display()));
    // With a topology, the zones' and cells' series too.
    let places = spec.topology.as_ref().map(|_| output.path("places.csv"));
    let series = CsvSeries::create_with_places(&output.path("series.csv"), places.as_deref()).map_err(io_err)?;
    // Beside its baseline, the baseline's series too (the report overlays them).
    let base_series = match cellsim_runs::pairs(spec, paired) {
        true => Some(CsvSeries::create(&output.path(saved::BASELINE_SERIES)).map_err(io_err)?),
        false => None,
    };
    let started = Instant::now();
    let mut bar = std::io::stderr().is_terminal().then(|| Progress::new(spec.duration_ns, started));
    let (result, series, base) = cellsim_runs::simulate_pair(spec, seed, series, base_series, paired, &mut |ns| {
        if let Some(bar) = bar.as_mut() {
            bar.at(ns)
        }
    });
    if let Some(bar) = bar {
        bar.clear();
    }
    let wall_s = started.elapsed().as_secs_f64();
    series.finish().map_err(io_err)?;
    let base = match base {
        Some((r, Some(s))) => {
            s.finish().map_err(io_err)?;
            Some(r)
        }
        _ => None,
    };
    let summary = summarise(&result);
    let text = serde_json::to_string_pretty(&summary).expect("summary serialises") + "\n";
    std::fs::write(output.path("summary.json"), &text).map_err(io_err)?;
    write_distributions(&output.path(cellsim_reports::HGRM_DIR), spec, &result, base.as_ref()).map_err(io_err)?;
    std::fs::write(output.path("junit.xml"), cellsim_reports::junit(&summary)).map_err(io_err)?;
    std::fs::write(output.path("summary.md"), cellsim_reports::markdown(&summary)).map_err(io_err)?;
    let mut printed = render(&summary);
    if opts.why && !summary.hypotheses.is_empty() {
        printed.push_str(&format!("\nWhy\n{}", cellsim_reports::why(&summary)));
    }
    std::fs::write(output.path(saved::SUMMARY_TEXT), &printed).map_err(io_err)?;
    std::fs::write(output.path(saved::SCENARIO_COPY), src).map_err(io_err)?;
    std::fs::write(output.path(saved::COMMAND), command_line() + "\n").map_err(io_err)?;
    let report_started = Instant::now();
    cellsim_reports::report::write(output.staging(), output.staging()).map_err(io_err)?;
    let report_s = report_started.elapsed().as_secs_f64();
    {
        let mut staging = STAGING.lock().unwrap_or_else(|p| p.into_inner());
        output.commit().map_err(io_err)?;
        *staging = None;
    }
    if opts.json {
        out(&text)?;
    } else {
        out(&printed)?;
        let files = [
            "report.html",
            "summary.json",
            "series.csv",
            "places.csv",
            "junit.xml",
            "summary.md",
            "plots",
            cellsim_reports::HGRM_DIR,
        ];
        let files: Vec<&str> = files.into_iter().filter(|f| *f != "places.csv" || places.is_some()).collect();
        out(&format!("\nwrote {}/: {}\n", dir.display(), files.join(", ")))?;
    }
    flush_stdout()?;
    err(&format!(
        "ran in {wall_s:.2}s wall clock ({:.1} M events/s); plots and report in {report_s:.2}s",
        result.events as f64 / wall_s / 1e6
    ));
    if let Some(peak) = peak_memory_bytes() {
        err(&format!(
            "peak memory {} (estimated {} expected, {} at most)",
            format_bytes(peak),
            format_bytes(estimate.expected_peak_bytes),
            format_bytes(estimate.bound_peak_bytes)
        ));
    }
    let broken = summary.hypotheses.iter().filter(|h| h.result != "held").count();
    if !result.verdict.is_completed() {
        Err(Failure::Design(format!("error: the run could not be completed: {}", result.verdict.describe())))
    } else if broken > 0 {
        Err(Failure::Design(format!(
            "error: {broken} of {} hypotheses broke (see Hypotheses above; --why for the reasons)",
            summary.hypotheses.len()
        )))
    } else {
        Ok(())
    }
}

/// The process's peak resident memory, where the system reports it (Linux: VmHWM).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A scenario name made safe as a folder name.
fn sanitise(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if s.is_empty() {
        "scenario".into()
    } else {
        s
    }
}
