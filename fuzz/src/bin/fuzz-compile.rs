//! `fuzz-compile`: the in-process fuzzer of the scenario parser and compiler, on stable Rust.
//!
//! It mutates the seed corpus (every scenario the repository ships) and hands each mutant to
//! `cellsim_models::compile`, catching panics. A compiled mutant also goes through the cheap
//! `Spec` queries (features, tier, fast paths, offered load) and, with `--simulate-events N`,
//! a run capped at N events whose result must pass `invariants::check`. Errors must be
//! located (a line) and render. Mutants that compile to a new feature set, or fail with a new
//! kind of error, join the pool that later mutants start from.
//!
//! It stops after `--inputs N` or `--seconds T`, prints the count, inputs/s and the slowest
//! input, and exits 1 on any panic, any broken rule, or any input whose compilation takes over
//! `--slow-ms` (1000) or whose compilation and capped run take over `--slow-run-ms` (5000: a
//! capped run still sets up every instance, up to 100,000 per service). Inputs that fail are
//! saved under `--artifacts` (`fuzz/artifacts/compile`); the slowest input and the slowest to
//! compile are saved there as `slowest.toml` and `slowest-compile.toml`. Deterministic given `--seed` (and
//! `--jobs`). `--replay FILE...` runs files instead (a crash, to check a fix).
//!
//! Build it in the test profile (optimised, with overflow checks and debug assertions): the
//! release profile aborts on a panic, which no harness can catch.
//!
//! ```sh
//! cargo build --profile test -p cellsim-fuzz --bins
//! target/debug/fuzz-compile --seconds 3600 --jobs 2 --simulate-events 2000
//! ```

use cellsim_fuzz::{default_seed_dirs, digest, load_seeds, Args, Mutator, Rng};
use cellsim_models::features::{Features, Paths};
use cellsim_models::{compile, invariants, simulate, NoSeries, SeriesRow};
use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HELP: &str = "fuzz-compile: mutates the shipped scenarios and compiles each mutant in process

options:
  --inputs N            stop after N inputs in all (default: unbounded if --seconds is given, else 100000)
  --seconds T           stop after T seconds
  --seed S              the mutations' seed (default 1)
  --jobs J              worker threads (default 1); each has its own seed, pool and share of --inputs
  --simulate-events N   also run each compiled mutant for at most N events and check its invariants (default 0: off)
  --slow-ms MS          an input whose compilation takes longer is a failure (default 1000)
  --slow-run-ms MS      an input whose compilation and capped run take longer is a failure (default 5000)
  --hang-seconds T      an input still running after T s is saved and the fuzzer exits 3 (default 30)
  --corpus DIR          a seed folder (repeatable; default: scenarios, tests/fixtures, benches/scenarios, fuzz/seeds)
  --artifacts DIR       where failing inputs go (default fuzz/artifacts/compile)
  --pool N              largest pools of compiled and of rejected mutants, per worker (default 4096)
  --progress T          print progress every T seconds (default 30; 0: never)
  --replay FILE...      run these files (no mutation) and report
";

thread_local! {
    /// The message of the last panic on this thread, set by the panic hook.
    static PANIC: RefCell<String> = const { RefCell::new(String::new()) };
    /// Whether this thread is running an input (a panic elsewhere is the harness's own).
    static IN_INPUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// How long the last input's `compile` took.
    static COMPILE_TOOK: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

#[derive(Clone)]
struct Opts {
    inputs: u64,
    seconds: Option<f64>,
    seed: u64,
    jobs: u64,
    simulate_events: u64,
    slow: Duration,
    slow_run: Duration,
    hang: Duration,
    artifacts: PathBuf,
    pool: usize,
    progress: u64,
}

/// What one input did.
enum Verdict {
    /// Compiled or rejected as it should: a signature of what happened, for the pool.
    Fine(String),
    /// A rule was broken without a panic (an unlocated error, a violated invariant).
    Broken(String),
}

/// The run's totals, shared by the workers.
#[derive(Default)]
struct Totals {
    inputs: AtomicU64,
    compiled: AtomicU64,
    rejected: AtomicU64,
    panics: AtomicU64,
    broken: AtomicU64,
    slow: AtomicU64,
    slowest_ns: AtomicU64,
    slowest_compile_ns: AtomicU64,
    slowest_compile: Mutex<Vec<u8>>,
    saved: Mutex<HashSet<String>>,
    slowest: Mutex<Vec<u8>>,
}

/// The shape of an error message: digits and quoted names removed, so that "no service is
/// named `a`" and "... `b`" are one kind of error.
fn shape(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in message.chars().take(120) {
        match c {
            '`' => {
                quoted = !quoted;
                out.push('`');
            }
            _ if quoted || c.is_ascii_digit() => {}
            _ => out.push(c),
        }
    }
    out
}

/// Compiles `text` and exercises what compiled. Panics propagate to the caller.
fn exercise(text: &str, simulate_events: u64) -> Verdict {
    if let Some(v) = self_test(text) {
        return v;
    }
    let started = Instant::now();
    // Named as if beside the fixtures, so that a rate series a seed names is found.
    let compiled = compile(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/fuzz.toml"), text);
    COMPILE_TOOK.with(|c| c.set(started.elapsed()));
    match compiled {
        Err(errors) => {
            if errors.is_empty() {
                return Verdict::Broken("compile failed with no error".into());
            }
            for e in &errors {
                if e.line == 0 || e.message.is_empty() {
                    return Verdict::Broken(format!("an error without a line or a message: {e:?}"));
                }
                let _ = e.to_string();
            }
            Verdict::Fine(format!("err {} {}", errors.len().min(3), shape(&errors[0].message)))
        }
        Ok(mut spec) => {
            // What `validate` prints; a run over a `[limits]` estimate is refused, as
            // `cellsim run` refuses it (exit 1), before it starts.
            let estimate = cellsim_models::Estimate::of(&spec);
            if !estimate.refusals(&spec).is_empty() {
                return Verdict::Fine("refused by [limits]".into());
            }
            let features = Features::of(&spec);
            let tier = features.tier();
            let _ = Paths::of(&spec, true);
            let _ = Paths::of(&spec, false);
            let _ = spec.offered_load();
            if simulate_events > 0 {
                spec.max_events = spec.max_events.min(simulate_events);
                spec.max_in_flight_requests = spec.max_in_flight_requests.min(10_000);
                spec.max_in_flight_jobs = spec.max_in_flight_jobs.min(40_000);
                // The series is kept (and checked) when it is short.
                let buckets = spec.duration_ns.saturating_add(spec.drain_ns) / spec.bucket_ns.max(1);
                let checked = if buckets.saturating_mul(spec.workloads.len() as u64) <= 20_000 {
                    let (r, rows) = simulate(&spec, spec.seed, Vec::<SeriesRow>::new());
                    let _ = cellsim_reports::summarise(&r);
                    invariants::check(&spec, &r, Some(&rows))
                } else {
                    let (r, _) = simulate(&spec, spec.seed, NoSeries);
                    let _ = cellsim_reports::summarise(&r);
                    invariants::check(&spec, &r, None)
                };
                if let Err(v) = checked {
                    return Verdict::Broken(format!("invariants violated: {}", v.join("; ")));
                }
            }
            Verdict::Fine(format!("ok {tier:?} {features:?}"))
        }
    }
}

/// With `CELLSIM_FUZZ_SELF_TEST=1`, inputs holding a marker fail on purpose, so that the
/// tests (`fuzz/tests/harnesses.rs`) can check that the harness notices: `fuzz-self-test:panic`
/// panics, `:broken` breaks a rule, `:slow` takes 300 ms, `:hang` 60 s.
fn self_test(text: &str) -> Option<Verdict> {
    if std::env::var_os("CELLSIM_FUZZ_SELF_TEST").is_none_or(|v| v != "1") || !text.contains("fuzz-self-test:") {
        return None;
    }
    if text.contains("fuzz-self-test:panic") {
        panic!("a deliberate panic (fuzz-self-test)");
    }
    if text.contains("fuzz-self-test:broken") {
        return Some(Verdict::Broken("a deliberately broken rule (fuzz-self-test)".into()));
    }
    let pause = Duration::from_millis(if text.contains("fuzz-self-test:hang") { 60_000 } else { 300 });
    std::thread::sleep(pause);
    COMPILE_TOOK.with(|c| c.set(pause));
    Some(Verdict::Fine("self-test".into()))
}

/// Saves a failing input (once per distinct kind of failure) and prints it.
fn save(opts: &Opts, totals: &Totals, kind: &str, what: &str, text: &str) {
    let key = format!("{kind} {}", shape(what.lines().next().unwrap_or_default()));
    let first = totals.saved.lock().unwrap().insert(key);
    if !first {
        return;
    }
    let name = format!("{kind}-{}", digest(text.as_bytes()));
    let _ = std::fs::create_dir_all(&opts.artifacts);
    let file = opts.artifacts.join(format!("{name}.toml"));
    let _ = std::fs::write(&file, text);
    let _ = std::fs::write(opts.artifacts.join(format!("{name}.txt")), what);
    eprintln!("\n{kind}: {what}\n  input saved as {}\n", file.display());
}

/// Runs one input, timed, catching panics; updates the totals. Returns the signature of a
/// fine input.
fn one(opts: &Opts, totals: &Totals, text: &str) -> Option<String> {
    let started = Instant::now();
    COMPILE_TOOK.with(|c| c.set(Duration::ZERO));
    IN_INPUT.with(|f| f.set(true));
    let verdict = catch_unwind(AssertUnwindSafe(|| exercise(text, opts.simulate_events)));
    IN_INPUT.with(|f| f.set(false));
    let took = started.elapsed();
    totals.inputs.fetch_add(1, Ordering::Relaxed);
    let ns = took.as_nanos() as u64;
    if ns > totals.slowest_ns.fetch_max(ns, Ordering::Relaxed) {
        *totals.slowest.lock().unwrap() = text.as_bytes().to_vec();
    }
    let compile_took = COMPILE_TOOK.with(|c| c.get());
    let ns = compile_took.as_nanos() as u64;
    if ns > totals.slowest_compile_ns.fetch_max(ns, Ordering::Relaxed) {
        *totals.slowest_compile.lock().unwrap() = text.as_bytes().to_vec();
    }
    if compile_took > opts.slow || took > opts.slow_run {
        totals.slow.fetch_add(1, Ordering::Relaxed);
        let what = format!("took {:.3} s ({:.3} s to compile)", took.as_secs_f64(), compile_took.as_secs_f64());
        save(opts, totals, "slow", &what, text);
    }
    match verdict {
        Ok(Verdict::Fine(sig)) => {
            let counter = if sig.starts_with("ok") { &totals.compiled } else { &totals.rejected };
            counter.fetch_add(1, Ordering::Relaxed);
            Some(sig)
        }
        Ok(Verdict::Broken(what)) => {
            totals.broken.fetch_add(1, Ordering::Relaxed);
            save(opts, totals, "broken", &what, text);
            None
        }
        Err(_) => {
            let message = PANIC.with(|p| p.borrow().clone());
            totals.panics.fetch_add(1, Ordering::Relaxed);
            save(opts, totals, "panic", &message, text);
            None
        }
    }
}

/// What a worker is running now and since when (empty when idle), for the watchdog.
type Current = Mutex<(Instant, Vec<u8>)>;

/// Worker `w`: mutates its pool until its share of the inputs is done or time is up.
fn worker(
    w: u64,
    opts: &Opts,
    totals: &Totals,
    seeds: &[Vec<u8>],
    mutator: &Mutator,
    current: &Current,
    started: Instant,
) {
    let mut rng = Rng::new(opts.seed ^ w.wrapping_mul(0xd1b5_4a32_d192_ed03));
    // Mutants that compiled to a new feature set, and mutants rejected with a new kind of
    // error: each input starts from a seed (2 in 5), a compiled mutant (2 in 5) or a rejected
    // one (1 in 5), so that the pool does not fill with text that no longer parses.
    let (mut compiled, mut rejected): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let mut signatures: HashSet<String> = HashSet::new();
    let share = opts.inputs / opts.jobs + u64::from(w < opts.inputs % opts.jobs);
    for _ in 0..share {
        if opts.seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s) {
            break;
        }
        let pick = |rng: &mut Rng| -> Vec<u8> {
            let from = match rng.below(5) {
                0 | 1 if !compiled.is_empty() => &compiled,
                2 if !rejected.is_empty() => &rejected,
                _ => seeds,
            };
            rng.pick(from).clone()
        };
        let (base, other) = (pick(&mut rng), pick(&mut rng));
        let input = mutator.mutate(&mut rng, &base, &other);
        let text = String::from_utf8_lossy(&input).into_owned();
        *current.lock().unwrap() = (Instant::now(), text.as_bytes().to_vec());
        if let Some(sig) = one(opts, totals, &text) {
            if !signatures.contains(&sig) {
                let pool = if sig.starts_with("ok") { &mut compiled } else { &mut rejected };
                signatures.insert(sig);
                if pool.len() < opts.pool {
                    pool.push(input);
                } else {
                    let k = rng.below(pool.len());
                    pool[k] = input;
                }
            }
        }
    }
    current.lock().unwrap().1.clear();
}

fn main() {
    std::process::exit(match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fuzz-compile: {e}\n\n{HELP}");
            2
        }
    })
}

fn run() -> Result<i32, String> {
    if cfg!(panic = "abort") {
        return Err(
            "built with panic = \"abort\" (the release profile): panics cannot be caught; build with --profile test"
                .into(),
        );
    }
    let args = Args::parse(&["help"], &["replay"])?;
    if args.flag("help") {
        print!("{HELP}");
        return Ok(0);
    }
    let known = [
        "inputs",
        "seconds",
        "seed",
        "jobs",
        "simulate-events",
        "slow-ms",
        "slow-run-ms",
        "hang-seconds",
        "corpus",
        "artifacts",
        "pool",
        "progress",
        "replay",
    ];
    if let Some(u) = args.unknown(&known).first() {
        return Err(format!("unknown option --{u}"));
    }
    let seconds = args.get("seconds").map(|s| s.parse::<f64>().map_err(|_| format!("--seconds {s}"))).transpose()?;
    let opts = Opts {
        inputs: args.num("inputs", if seconds.is_some() { u64::MAX } else { 100_000 })?,
        seconds,
        seed: args.num("seed", 1)?,
        jobs: args.num::<u64>("jobs", 1)?.max(1),
        simulate_events: args.num("simulate-events", 0)?,
        slow: Duration::from_millis(args.num("slow-ms", 1000)?),
        slow_run: Duration::from_millis(args.num("slow-run-ms", 5000)?),
        hang: Duration::from_secs(args.num("hang-seconds", 30)?),
        artifacts: args
            .get("artifacts")
            .map_or_else(|| cellsim_fuzz::repo_root().join("fuzz/artifacts/compile"), PathBuf::from),
        pool: args.num("pool", 4096)?,
        progress: args.num("progress", 30)?,
    };
    // Panics are expected and counted: record their message instead of printing it.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if IN_INPUT.with(|f| f.get()) {
            PANIC.with(|p| *p.borrow_mut() = info.to_string());
        } else {
            default_hook(info);
        }
    }));
    let totals = Arc::new(Totals::default());

    let replay = args.all("replay");
    if !replay.is_empty() {
        for f in &replay {
            let text = std::fs::read(f).map_err(|e| format!("{f}: {e}"))?;
            let text = String::from_utf8_lossy(&text);
            let failures = || totals.panics.load(Ordering::Relaxed) + totals.broken.load(Ordering::Relaxed);
            let failed_before = failures();
            let started = Instant::now();
            let sig = one(&opts, &totals, &text);
            let what = if failures() > failed_before { "FAILED".to_string() } else { sig.unwrap_or_default() };
            println!("{f}: {what} in {:.3} s", started.elapsed().as_secs_f64());
        }
        let bad = totals.panics.load(Ordering::Relaxed)
            + totals.broken.load(Ordering::Relaxed)
            + totals.slow.load(Ordering::Relaxed);
        return Ok(i32::from(bad > 0));
    }

    let dirs: Vec<PathBuf> = match args.all("corpus") {
        d if d.is_empty() => default_seed_dirs(),
        d => d.into_iter().map(PathBuf::from).collect(),
    };
    let seeds = load_seeds(&dirs);
    if seeds.is_empty() {
        return Err(format!("no *.toml seeds in {dirs:?}"));
    }
    let mutator = Mutator::new(&seeds);
    let seed_bytes: Vec<Vec<u8>> = seeds.iter().map(|s| s.bytes.clone()).collect();
    eprintln!(
        "fuzz-compile: {} seeds, seed {}, {} job(s), {}{}",
        seeds.len(),
        opts.seed,
        opts.jobs,
        match (opts.inputs, opts.seconds) {
            (u64::MAX, Some(s)) => format!("{s} s"),
            (n, Some(s)) => format!("{n} inputs or {s} s"),
            (n, None) => format!("{n} inputs"),
        },
        if opts.simulate_events > 0 {
            format!(", runs capped at {} events", opts.simulate_events)
        } else {
            String::new()
        }
    );
    let started = Instant::now();
    let current: Vec<Arc<Current>> =
        (0..opts.jobs).map(|_| Arc::new(Mutex::new((Instant::now(), Vec::new())))).collect();
    let handles: Vec<_> = (0..opts.jobs)
        .map(|w| {
            let (opts, totals, seeds, mutator, cur) =
                (opts.clone(), totals.clone(), seed_bytes.clone(), mutator.clone(), current[w as usize].clone());
            std::thread::spawn(move || worker(w, &opts, &totals, &seeds, &mutator, &cur, started))
        })
        .collect();
    // The watchdog: progress lines, and an input that runs too long is saved before exiting.
    let mut last_progress = Instant::now();
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        for cur in &current {
            let (since, input) = &*cur.lock().unwrap();
            if !input.is_empty() && since.elapsed() > opts.hang {
                let text = String::from_utf8_lossy(input);
                save(&opts, &totals, "hang", &format!("still running after {} s", opts.hang.as_secs()), &text);
                report(&opts, &totals, started);
                std::process::exit(3);
            }
        }
        if opts.progress > 0 && last_progress.elapsed().as_secs() >= opts.progress {
            last_progress = Instant::now();
            let n = totals.inputs.load(Ordering::Relaxed);
            eprintln!(
                "  {n} inputs, {:.0}/s, {} panics, slowest {:.1} ms",
                n as f64 / started.elapsed().as_secs_f64(),
                totals.panics.load(Ordering::Relaxed),
                totals.slowest_ns.load(Ordering::Relaxed) as f64 / 1e6
            );
        }
    }
    for h in handles {
        h.join().map_err(|_| "a worker died".to_string())?;
    }
    Ok(report(&opts, &totals, started))
}

/// Prints the totals, saves the slowest input; 0 if nothing failed, else 1.
fn report(opts: &Opts, t: &Totals, started: Instant) -> i32 {
    let secs = started.elapsed().as_secs_f64();
    let n = t.inputs.load(Ordering::Relaxed);
    let (panics, broken, slow) =
        (t.panics.load(Ordering::Relaxed), t.broken.load(Ordering::Relaxed), t.slow.load(Ordering::Relaxed));
    let mut saved = Vec::new();
    for (input, name) in [(&t.slowest, "slowest.toml"), (&t.slowest_compile, "slowest-compile.toml")] {
        let input = input.lock().unwrap().clone();
        let file = opts.artifacts.join(name);
        if !input.is_empty() && std::fs::create_dir_all(&opts.artifacts).is_ok() {
            let _ = std::fs::write(&file, &input);
        }
        saved.push(display(&file));
    }
    println!(
        "fuzz-compile: {n} inputs in {secs:.1} s ({:.0} inputs/s): {} compiled, {} rejected; {panics} panics, {broken} broken rules, {slow} slow (compile over {} ms or all over {} ms)",
        n as f64 / secs.max(1e-9),
        t.compiled.load(Ordering::Relaxed),
        t.rejected.load(Ordering::Relaxed),
        opts.slow.as_millis(),
        opts.slow_run.as_millis(),
    );
    println!(
        "  slowest compile {:.3} ms ({}); slowest input {:.3} ms ({})",
        t.slowest_compile_ns.load(Ordering::Relaxed) as f64 / 1e6,
        saved[1],
        t.slowest_ns.load(Ordering::Relaxed) as f64 / 1e6,
        saved[0],
    );
    i32::from(panics + broken + slow > 0)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
