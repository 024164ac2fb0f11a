//! The `cellsim` command line: parses arguments, calls the libraries, maps outcomes to exit
//! codes (0 success, 2 bad input or a run that could not be done).

use cellsim_models::{ScenarioError, Spec};
use cellsim_reports::{render, summarise, CsvSeries, Staged};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
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
    /// Run one scenario; print its summary and write summary.json and series.csv.
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
    /// Check scenario files without running them.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (for editors).
    Schema,
}

#[derive(clap::Args, Default)]
struct RunOpts {
    /// Master seed; overrides the scenario's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder for summary.json and series.csv. Default: out/<scenario name>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the JSON summary on stdout instead of the text summary.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_text(DEMO_NAME, DEMO, RunOpts::default()),
        Some(Command::Demo { opts }) => run_text(DEMO_NAME, DEMO, opts),
        Some(Command::Run { file, opts }) => match std::fs::read_to_string(&file) {
            Ok(src) => run_text(&file.display().to_string(), &src, opts),
            Err(e) => Err(format!("error: {}: cannot read the file: {e}", file.display())),
        },
        Some(Command::Validate { files }) => validate(&files),
        Some(Command::Schema) => {
            let schema = schemars::schema_for!(cellsim_models::scenario::ScenarioFile);
            println!("{}", serde_json::to_string_pretty(&schema).expect("schema serialises"));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn errors_text(errors: &[ScenarioError]) -> String {
    let mut s: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    if errors.len() > 1 {
        s.push(format!("{} errors", errors.len()));
    }
    s.join("\n\n")
}

fn validate(files: &[PathBuf]) -> Result<(), String> {
    let mut failed = Vec::new();
    for f in files {
        let name = f.display().to_string();
        match cellsim_models::load(&name) {
            Ok(spec) => {
                let load: Vec<String> = spec
                    .offered_load()
                    .iter()
                    .zip(&spec.services)
                    .filter(|(busy, s)| **busy >= s.instances as f64 * s.workers as f64)
                    .map(|(busy, s)| {
                        let workers = s.instances as u64 * s.workers as u64;
                        format!("  warning: service `{}` is offered {busy:.2} busy workers of {workers} (overloaded at steady state)", s.name)
                    })
                    .collect();
                println!("ok: {name}");
                for l in load {
                    println!("{l}");
                }
            }
            Err(errors) => failed.push(errors_text(&errors)),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n\n"))
    }
}

fn run_text(name: &str, src: &str, opts: RunOpts) -> Result<(), String> {
    let spec = cellsim_models::compile(name, src).map_err(|e| errors_text(&e))?;
    let seed = opts.seed.unwrap_or(spec.seed);
    let dir = opts.out.unwrap_or_else(|| Path::new("out").join(sanitise(&spec.name)));
    if dir.exists() && !dir.is_dir() {
        return Err(format!("error: --out {} is a file, not a folder", dir.display()));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("error: cannot create the output folder {}: {e}", dir.display()))?;
    run_into(&spec, seed, &dir, opts.json)
}

fn run_into(spec: &Spec, seed: u64, dir: &Path, json: bool) -> Result<(), String> {
    let io_err = |e: std::io::Error| format!("error: writing into {}: {e}", dir.display());
    let mut staged = Staged::new();
    let series_path = staged.path(dir, "series.csv");
    let summary_path = staged.path(dir, "summary.json");
    let series = CsvSeries::create(&series_path).map_err(io_err)?;
    let started = Instant::now();
    let (result, series) = cellsim_models::simulate(spec, seed, series);
    let wall_s = started.elapsed().as_secs_f64();
    series.finish().map_err(io_err)?;
    let summary = summarise(&result);
    let text = serde_json::to_string_pretty(&summary).expect("summary serialises") + "\n";
    std::fs::write(&summary_path, &text).map_err(io_err)?;
    staged.commit().map_err(io_err)?;
    if json {
        print!("{text}");
    } else {
        print!("{}", render(&summary));
        println!("\nwrote {} and {}", dir.join("summary.json").display(), dir.join("series.csv").display());
    }
    let _ = std::io::Write::flush(&mut std::io::stdout());
    eprintln!("ran in {wall_s:.2}s wall clock ({:.1} M events/s)", result.events as f64 / wall_s / 1e6);
    if result.verdict.is_completed() {
        Ok(())
    } else {
        Err(format!("error: the run could not be completed: {}", result.verdict.describe()))
    }
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
