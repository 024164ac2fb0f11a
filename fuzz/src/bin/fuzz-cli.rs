//! `fuzz-cli`: the command-line harness. It runs the real `cellsim` binary on mutated
//! scenarios, each capped at `--max-events` events (a `[limits]` table is forced into every
//! mutant) and killed after `--timeout` seconds of wall clock (a hang), each into a fresh
//! output folder, over `--jobs` worker threads.
//!
//! For each run it checks:
//! - the exit code is 0 to 3 (a signal, or Rust's panic code 101, is a crash);
//! - stderr holds no panic text (`panicked`, `RUST_BACKTRACE`, `stack backtrace`);
//! - the output folder holds its files (`cellsim_reports::OUTPUT_FILES`: the marker,
//!   `summary.json`, `series.csv`) together or none, nothing else, and no staging or old
//!   folder is left beside it, both when the run exited 0; `summary.json`
//!   parses as JSON, says `completed` when the exit code is 0, and is what `--json`
//!   printed; `series.csv` starts with its header;
//! - `validate` writes no output folder.
//!
//! Input `i` depends only on `--seed` and `i`: `--only I` reruns it and keeps its files.
//! Failing inputs are saved under `--artifacts` (`fuzz/artifacts/cli`). Prints counts by
//! exit code; exits 1 if any run failed a check.
//!
//! ```sh
//! cargo build --profile test -p cellsim -p cellsim-fuzz --bins
//! target/debug/fuzz-cli --bin target/debug/cellsim --runs 100000 --jobs 2
//! ```

use cellsim_fuzz::{cap_events, default_seed_dirs, digest, load_seeds, Args, Mutator, Rng};
use cellsim_reports::{ALWAYS_WRITTEN, OUTPUT_FILES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HELP: &str = "fuzz-cli: runs the cellsim binary on mutated scenarios and checks exit codes and output folders

options:
  --bin PATH        the cellsim binary (default: $CELLSIM_BIN, else target/release/cellsim, else target/debug/cellsim)
  --runs N          stop after N runs (default: unbounded if --seconds is given, else 1000)
  --seconds T       stop starting runs after T seconds
  --seed S          the mutations' seed (default 1)
  --jobs J          runs at once (default 2)
  --timeout T       a run still going after T seconds is killed and reported as a hang (default 30)
  --max-events N    the [limits] max_events forced into every mutant (default 100000)
  --corpus DIR      a seed folder (repeatable; default: scenarios, tests/fixtures, benches/scenarios, fuzz/seeds)
  --artifacts DIR   where failing inputs go (default fuzz/artifacts/cli)
  --only I          run input I alone, print its command and output, keep its files
  --progress T      print progress every T seconds (default 30; 0: never)
";

#[derive(Clone)]
struct Opts {
    bin: PathBuf,
    runs: u64,
    seconds: Option<f64>,
    seed: u64,
    jobs: u64,
    timeout: Duration,
    max_events: u64,
    artifacts: PathBuf,
    progress: u64,
}

/// Totals shared by the workers.
#[derive(Default)]
struct Totals {
    runs: AtomicU64,
    failed: AtomicU64,
    /// Runs by exit: "0", "2", "signal", "hang"...
    exits: Mutex<BTreeMap<String, u64>>,
    /// Failures by kind (the first problem's words).
    problems: Mutex<BTreeMap<String, u64>>,
    slowest_ms: AtomicU64,
}

/// One run's input and command.
struct Run {
    index: u64,
    input: Vec<u8>,
    args: Vec<String>,
    out: PathBuf,
    validate: bool,
    json: bool,
}

/// Input `index`: a mutant of a seed (or, one time in 20, the seed itself), capped, and the
/// command to run it with.
fn make_run(index: u64, opts: &Opts, seeds: &[Vec<u8>], mutator: &Mutator, dir: &Path) -> Run {
    let mut rng = Rng::for_input(opts.seed, index);
    let base = rng.pick(seeds);
    let other = rng.pick(seeds);
    let mutant = if rng.one_in(20) { base.clone() } else { mutator.mutate(&mut rng, base, other) };
    // Text is capped; bytes that are not UTF-8 go as they are (cellsim must refuse them).
    let input = match String::from_utf8(mutant) {
        Ok(text) => cap_events(&text, opts.max_events).into_bytes(),
        Err(e) => e.into_bytes(),
    };
    let file = dir.join("input.toml");
    let out = dir.join(format!("out-{index}"));
    let validate = rng.one_in(10);
    let json = rng.one_in(2);
    let mut args: Vec<String> = if validate {
        vec!["validate".into(), file.display().to_string()]
    } else {
        vec!["run".into(), file.display().to_string(), "--out".into(), out.display().to_string()]
    };
    if !validate && json {
        args.push("--json".into());
    }
    if !validate && rng.one_in(4) {
        args.extend(["--seed".into(), (rng.next_u64() >> rng.below(64)).to_string()]);
    }
    Run { index, input, args, out, validate, json: json && !validate }
}

/// What happened to a run.
struct Ran {
    /// "0", "2", "signal", "hang"...
    exit: String,
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    took: Duration,
}

/// Runs `run` in `dir`, its stdout and stderr into files (no pipe can fill up), killing it
/// after the timeout.
fn execute(run: &Run, opts: &Opts, dir: &Path) -> std::io::Result<Ran> {
    std::fs::write(dir.join("input.toml"), &run.input)?;
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let started = Instant::now();
    let mut child = Command::new(&opts.bin)
        .args(&run.args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::fs::File::create(&err_path)?)
        .spawn()?;
    let mut pause = Duration::from_micros(100);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > opts.timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let stdout = std::fs::read(&out_path)?;
    let stderr = String::from_utf8_lossy(&std::fs::read(&err_path)?).into_owned();
    let (exit, code) = match status {
        None => ("hang".to_string(), None),
        Some(s) => match s.code() {
            Some(c) => (c.to_string(), Some(c)),
            None => {
                #[cfg(unix)]
                let signal =
                    std::os::unix::process::ExitStatusExt::signal(&s).map_or(String::new(), |n| format!(" {n}"));
                #[cfg(not(unix))]
                let signal = String::new();
                (format!("signal{signal}"), None)
            }
        },
    };
    Ok(Ran { exit, code, stdout, stderr, took })
}

/// The checks of the module documentation; each problem one line.
fn check(run: &Run, ran: &Ran) -> Vec<String> {
    let mut problems = Vec::new();
    match ran.code {
        Some(0..=3) => {}
        _ => problems.push(format!("exit: {} (expected 0 to 3)", ran.exit)),
    }
    for needle in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if ran.stderr.contains(needle) {
            problems.push(format!("stderr: panic text `{needle}`"));
            break;
        }
    }
    if run.validate {
        if run.out.exists() {
            problems.push("output: validate wrote an output folder".into());
        }
        return problems;
    }
    let names: Vec<String> = match std::fs::read_dir(&run.out) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    let extra: Vec<&String> = names.iter().filter(|n| !OUTPUT_FILES.contains(&n.as_str())).collect();
    if !extra.is_empty() {
        problems.push(format!("output: leftover files {extra:?}"));
    }
    // (`places.csv` comes only with a topology: with the others or not at all.)
    let present: Vec<bool> = ALWAYS_WRITTEN.iter().map(|f| names.iter().any(|n| n == f)).collect();
    let places = names.iter().any(|n| n == "places.csv");
    if (present.contains(&true) && present.contains(&false)) || (places && present.contains(&false)) {
        problems.push(format!("output: incomplete ({ALWAYS_WRITTEN:?} present: {present:?}, places.csv: {places})"));
    }
    // Beside the folder: its lock (kept, empty) and nothing else of this run's.
    let name = run.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for leftover in [format!(".{name}.staging"), format!(".{name}.old")] {
        if run.out.with_file_name(&leftover).exists() {
            problems.push(format!("output: leftover {leftover} beside the output folder"));
        }
    }
    let has = |file: &str| names.iter().any(|n| n == file);
    let (summary, series) = (has("summary.json"), has("series.csv"));
    if ran.code == Some(0) && !summary {
        problems.push("output: exit 0 without summary.json".into());
    }
    if summary {
        let text = std::fs::read_to_string(run.out.join("summary.json")).unwrap_or_default();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Err(e) => problems.push(format!("output: summary.json is not JSON: {e}")),
            Ok(json) => {
                // Exit 0 means the run completed (the codes of other outcomes may change).
                if ran.code == Some(0) && json["verdict"] != "completed" {
                    problems.push(format!("output: verdict {} with exit {}", json["verdict"], ran.exit));
                }
                if run.json {
                    match serde_json::from_slice::<serde_json::Value>(&ran.stdout) {
                        Ok(printed) if printed == json => {}
                        Ok(_) => problems.push("output: --json printed another summary than summary.json".into()),
                        Err(e) => problems.push(format!("output: --json printed no JSON: {e}")),
                    }
                }
            }
        }
    }
    if series {
        let mut head = [0u8; 5];
        let ok = std::fs::File::open(run.out.join("series.csv"))
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|_| &head == b"t_s,w");
        if !ok {
            problems.push("output: series.csv does not start with its header".into());
        }
    }
    problems
}

/// Records a failed run and saves its input (once per kind of problem).
fn report_failure(run: &Run, ran: &Ran, problems: &[String], opts: &Opts, totals: &Totals) {
    totals.failed.fetch_add(1, Ordering::Relaxed);
    // The kind of failure: the first problem, numbers left out (but an exit code kept).
    let p = &problems[0];
    let kind: String =
        if p.starts_with("exit:") { p.clone() } else { p.chars().filter(|c| !c.is_ascii_digit()).collect() };
    let first = {
        let mut p = totals.problems.lock().unwrap();
        let n = p.entry(kind).or_default();
        *n += 1;
        *n == 1
    };
    if !first {
        return;
    }
    let name = format!("run{}-{}", run.index, digest(&run.input));
    let _ = std::fs::create_dir_all(&opts.artifacts);
    let input_file = opts.artifacts.join(format!("{name}.toml"));
    let _ = std::fs::write(&input_file, &run.input);
    let tail: String = ran.stderr.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
    let what = format!(
        "input {} (--seed {} --only {}): {}\ncommand: cellsim {}\nexit: {}\nstderr (end):\n{tail}\n",
        run.index,
        opts.seed,
        run.index,
        problems.join("; "),
        run.args.join(" "),
        ran.exit
    );
    let _ = std::fs::write(opts.artifacts.join(format!("{name}.txt")), &what);
    eprintln!("\nFAILED {what}  input saved as {}\n", input_file.display());
}

/// One run, start to end: make, execute, check, clean up.
fn one(
    index: u64,
    opts: &Opts,
    seeds: &[Vec<u8>],
    mutator: &Mutator,
    dir: &Path,
    totals: &Totals,
    keep: bool,
) -> Result<(), String> {
    let run = make_run(index, opts, seeds, mutator, dir);
    let ran = execute(&run, opts, dir).map_err(|e| format!("cannot run {}: {e}", opts.bin.display()))?;
    let problems = check(&run, &ran);
    totals.runs.fetch_add(1, Ordering::Relaxed);
    totals.slowest_ms.fetch_max(ran.took.as_millis() as u64, Ordering::Relaxed);
    *totals.exits.lock().unwrap().entry(ran.exit.clone()).or_default() += 1;
    if keep {
        println!(
            "command: {} {}\nexit: {} in {:.3} s",
            opts.bin.display(),
            run.args.join(" "),
            ran.exit,
            ran.took.as_secs_f64()
        );
        println!("stderr:\n{}", ran.stderr);
        println!("problems: {problems:?}\ninput and output kept in {}", dir.display());
    }
    if !problems.is_empty() {
        report_failure(&run, &ran, &problems, opts, totals);
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&run.out);
        if let Some(name) = run.out.file_name() {
            let _ = std::fs::remove_file(run.out.with_file_name(format!(".{}.lock", name.to_string_lossy())));
        }
    }
    Ok(())
}

fn main() {
    std::process::exit(match run_all() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fuzz-cli: {e}\n\n{HELP}");
            2
        }
    })
}

/// The default binary: `$CELLSIM_BIN`, else the release build, else the debug build, under
/// `$CARGO_TARGET_DIR` or the repository's `target/`.
fn default_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("CELLSIM_BIN") {
        return PathBuf::from(b);
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| cellsim_fuzz::repo_root().join("target"), PathBuf::from);
    let release = target.join("release/cellsim");
    if release.exists() {
        release
    } else {
        target.join("debug/cellsim")
    }
}

fn run_all() -> Result<i32, String> {
    let args = Args::parse(&["help"], &[])?;
    if args.flag("help") {
        print!("{HELP}");
        return Ok(0);
    }
    let known =
        ["bin", "runs", "seconds", "seed", "jobs", "timeout", "max-events", "corpus", "artifacts", "only", "progress"];
    if let Some(u) = args.unknown(&known).first() {
        return Err(format!("unknown option --{u}"));
    }
    let seconds = args.get("seconds").map(|s| s.parse::<f64>().map_err(|_| format!("--seconds {s}"))).transpose()?;
    let bin = args.get("bin").map_or_else(default_bin, PathBuf::from);
    let bin = std::fs::canonicalize(&bin).map_err(|e| format!("the cellsim binary {}: {e}", bin.display()))?;
    let opts = Opts {
        bin,
        runs: args.num("runs", if seconds.is_some() { u64::MAX } else { 1000 })?,
        seconds,
        seed: args.num("seed", 1)?,
        jobs: args.num::<u64>("jobs", 2)?.max(1),
        timeout: Duration::from_secs_f64(args.num("timeout", 30.0)?),
        max_events: args.num("max-events", 100_000)?,
        artifacts: args
            .get("artifacts")
            .map_or_else(|| cellsim_fuzz::repo_root().join("fuzz/artifacts/cli"), PathBuf::from),
        progress: args.num("progress", 30)?,
    };
    let dirs: Vec<PathBuf> = match args.all("corpus") {
        d if d.is_empty() => default_seed_dirs(),
        d => d.into_iter().map(PathBuf::from).collect(),
    };
    let seeds: Vec<Vec<u8>> = load_seeds(&dirs).into_iter().map(|s| s.bytes).collect();
    if seeds.is_empty() {
        return Err(format!("no *.toml seeds in {dirs:?}"));
    }
    let mutator = Mutator::new(&load_seeds(&dirs));
    let work = std::env::temp_dir().join(format!("cellsim-fuzz-cli-{}", std::process::id()));
    let totals = Arc::new(Totals::default());

    if let Some(i) = args.get("only") {
        let i: u64 = i.parse().map_err(|_| format!("--only {i}"))?;
        let dir = work.join("only");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        one(i, &opts, &seeds, &mutator, &dir, &totals, true)?;
        return Ok(i32::from(totals.failed.load(Ordering::Relaxed) > 0));
    }

    eprintln!(
        "fuzz-cli: {} on {} seeds, seed {}, {} job(s), runs capped at {} events, {} s timeout",
        opts.bin.display(),
        seeds.len(),
        opts.seed,
        opts.jobs,
        opts.max_events,
        opts.timeout.as_secs_f64()
    );
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..opts.jobs)
        .map(|w| {
            let (opts, seeds, mutator, totals, next) =
                (opts.clone(), seeds.clone(), mutator.clone(), totals.clone(), next.clone());
            let dir = work.join(format!("w{w}"));
            std::thread::spawn(move || -> Result<(), String> {
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                loop {
                    if opts.seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s) {
                        return Ok(());
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= opts.runs {
                        return Ok(());
                    }
                    one(i, &opts, &seeds, &mutator, &dir, &totals, false)?;
                }
            })
        })
        .collect();
    let mut last = Instant::now();
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if opts.progress > 0 && last.elapsed().as_secs() >= opts.progress {
            last = Instant::now();
            let n = totals.runs.load(Ordering::Relaxed);
            eprintln!(
                "  {n} runs, {:.1}/s, {} failed, exits {:?}",
                n as f64 / started.elapsed().as_secs_f64(),
                totals.failed.load(Ordering::Relaxed),
                totals.exits.lock().unwrap()
            );
        }
    }
    let mut error = None;
    for h in handles {
        if let Err(e) = h.join().map_err(|_| "a worker died".to_string()).and_then(|r| r) {
            error = Some(e);
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    if let Some(e) = error {
        return Err(e);
    }
    let secs = started.elapsed().as_secs_f64();
    let n = totals.runs.load(Ordering::Relaxed);
    let failed = totals.failed.load(Ordering::Relaxed);
    println!(
        "fuzz-cli: {n} runs in {secs:.1} s ({:.1} runs/s; 100,000 would take {:.0} min): exits {:?}; {failed} failed{}; slowest run {} ms",
        n as f64 / secs,
        100_000.0 / (n as f64 / secs).max(1e-9) / 60.0,
        totals.exits.lock().unwrap(),
        if failed > 0 { format!(" {:?}", totals.problems.lock().unwrap()) } else { String::new() },
        totals.slowest_ms.load(Ordering::Relaxed)
    );
    Ok(i32::from(failed > 0))
}
