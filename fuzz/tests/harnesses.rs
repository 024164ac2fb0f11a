//! The harnesses themselves: a short clean run of each, and for each kind of failure a case
//! that must be caught (inputs that fail on purpose for `fuzz-compile`, fake `cellsim`
//! binaries for `fuzz-cli`). These tests also make `cargo test --workspace` build both
//! binaries in the test profile, which is what CI then runs for longer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const COMPILE: &str = env!("CARGO_BIN_EXE_fuzz-compile");
const CLI: &str = env!("CARGO_BIN_EXE_fuzz-cli");

fn run(bin: &str, args: &[&str]) -> Output {
    let out = Command::new(bin)
        .args(args)
        .env("CELLSIM_FUZZ_SELF_TEST", "1")
        .env_remove("CELLSIM_FUZZ_STRICT")
        .output()
        .unwrap();
    eprintln!(
        "{bin} {args:?}: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The files of `dir` (none if it does not exist).
fn files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn quickstart() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quickstart.toml")).unwrap()
}

#[test]
fn fuzz_compile_runs_clean_on_the_shipped_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let out = run(
        COMPILE,
        &["--inputs", "3000", "--jobs", "2", "--simulate-events", "500", "--artifacts", artifacts.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out);
    assert!(t.contains("fuzz-compile: 3000 inputs in") && t.contains("0 panics, 0 broken rules"), "{t}");
    assert_eq!(files(&artifacts), ["slowest-compile.toml", "slowest.toml"]);
}

#[test]
fn fuzz_compile_catches_panics_broken_rules_and_slow_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let mut inputs = Vec::new();
    for kind in ["panic", "broken", "slow"] {
        let f = dir.path().join(format!("{kind}.toml"));
        std::fs::write(&f, format!("# fuzz-self-test:{kind}\n{}", quickstart())).unwrap();
        inputs.push(f.display().to_string());
    }
    let fine = dir.path().join("fine.toml");
    std::fs::write(&fine, quickstart()).unwrap();
    let mut args =
        vec!["--slow-ms", "100", "--artifacts", artifacts.to_str().unwrap(), "--replay", fine.to_str().unwrap()];
    args.extend(inputs.iter().map(String::as_str));
    let out = run(COMPILE, &args);
    assert_eq!(out.status.code(), Some(1), "a failure exits 1");
    let t = text(&out);
    assert!(t.contains("fine.toml: ok"), "{t}");
    assert!(t.contains("a deliberate panic (fuzz-self-test)") && t.contains("panic.toml: FAILED"), "{t}");
    assert!(t.contains("a deliberately broken rule") && t.contains("broken.toml: FAILED"), "{t}");
    assert!(t.contains("slow: took 0.3"), "{t}");
    let saved = files(&artifacts);
    for kind in ["panic", "broken", "slow"] {
        assert_eq!(
            saved.iter().filter(|f| f.starts_with(kind)).count(),
            2,
            "{kind} saved as .toml and .txt: {saved:?}"
        );
    }
    let panic_note = saved.iter().find(|f| f.starts_with("panic") && f.ends_with(".txt")).unwrap();
    let note = std::fs::read_to_string(artifacts.join(panic_note)).unwrap();
    assert!(note.contains("fuzz-compile.rs"), "the panic's place is saved: {note}");
}

#[test]
fn fuzz_compile_saves_an_input_that_hangs_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (seeds, artifacts) = (dir.path().join("seeds"), dir.path().join("artifacts"));
    std::fs::create_dir(&seeds).unwrap();
    // Every mutant keeps the marker when the seed is nothing but markers.
    std::fs::write(seeds.join("hang.toml"), "# fuzz-self-test:hang\n".repeat(200)).unwrap();
    let out = run(
        COMPILE,
        &[
            "--inputs",
            "100",
            "--hang-seconds",
            "1",
            "--corpus",
            seeds.to_str().unwrap(),
            "--artifacts",
            artifacts.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        files(&artifacts).iter().any(|f| f.starts_with("hang-") && f.ends_with(".toml")),
        "{:?}",
        files(&artifacts)
    );
}

#[test]
fn fuzz_compile_is_deterministic_given_its_seed() {
    let summary = |seed: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = run(COMPILE, &["--inputs", "2000", "--seed", seed, "--artifacts", dir.path().to_str().unwrap()]);
        let t = String::from_utf8_lossy(&out.stdout).into_owned();
        // "N compiled, M rejected" does not depend on the machine's speed.
        t.split("): ").nth(1).unwrap().split(';').next().unwrap().to_string()
    };
    assert_eq!(summary("5"), summary("5"));
}

/// The `cellsim` that `cargo test` built next to the harnesses, if any.
fn cellsim() -> Option<PathBuf> {
    let p = Path::new(CLI).with_file_name(format!("cellsim{}", std::env::consts::EXE_SUFFIX));
    p.exists().then_some(p)
}

#[test]
fn fuzz_cli_runs_clean_against_cellsim() {
    let Some(bin) = cellsim() else {
        eprintln!("no cellsim binary next to {CLI}: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let out = run(CLI, &["--bin", bin.to_str().unwrap(), "--runs", "200", "--artifacts", artifacts.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out);
    assert!(t.contains("fuzz-cli: ") && t.contains("; 0 failed"), "{t}");
    assert!(t.contains("\"0\": ") && t.contains("\"2\": "), "both valid and invalid inputs: {t}");
    assert!(files(&artifacts).is_empty());
}

#[cfg(unix)]
mod fake_binaries {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fake `cellsim`: a shell script that does `body` for `run FILE --out DIR ...` (DIR is
    /// `$4`) and exits 0 for `validate`.
    fn fake(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("cellsim");
        std::fs::write(&p, format!("#!/bin/sh\nif [ \"$1\" = validate ]; then exit 0; fi\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// Runs fuzz-cli against a fake that does `body`; returns its output and the saved notes.
    fn against(body: &str, extra: &[&str]) -> (Output, String) {
        let dir = tempfile::tempdir().unwrap();
        let bin = fake(dir.path(), body);
        let artifacts = dir.path().join("artifacts");
        let mut args = vec!["--bin", bin.to_str().unwrap(), "--runs", "30", "--artifacts", artifacts.to_str().unwrap()];
        args.extend(extra);
        let out = run(CLI, &args);
        let notes: String = files(&artifacts)
            .iter()
            .filter(|f| f.ends_with(".txt"))
            .map(|f| std::fs::read_to_string(artifacts.join(f)).unwrap())
            .collect();
        (out, notes)
    }

    const COMPLETE: &str = "mkdir -p \"$4\"; touch \"$4/.cellsim-output\"; echo '{\"verdict\": \"completed\"}' > \"$4/summary.json\"; echo 't_s,workload' > \"$4/series.csv\"; mkdir -p \"$4/hgrm\"; touch \"$4/junit.xml\" \"$4/summary.md\" \"$4/summary.txt\" \"$4/scenario.toml\" \"$4/command.txt\" \"$4/report.html\"; mkdir -p \"$4/plots\"";

    #[test]
    fn a_complete_well_behaved_fake_passes() {
        // Without --json its stdout is not compared; with it, the fake prints nothing, which
        // fuzz-cli catches: so print the summary when asked.
        let body = format!("{COMPLETE}\ncase \"$*\" in *--json*) cat \"$4/summary.json\";; esac\nexit 0");
        let (out, notes) = against(&body, &[]);
        assert_eq!(out.status.code(), Some(0), "{notes}");
    }

    #[test]
    fn catches_a_panic() {
        let (out, notes) = against("echo \"thread 'main' panicked at src/main.rs:1:1\" >&2; exit 101", &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(notes.contains("exit: 101 (expected 0 to 3)") && notes.contains("panic text"), "{notes}");
    }

    #[test]
    fn catches_an_exit_code_outside_0_to_3_and_a_signal() {
        let (out, notes) = against("exit 4", &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(notes.contains("exit: 4 (expected 0 to 3)"), "{notes}");
        let (out, notes) = against("kill -ABRT $$", &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(notes.contains("exit: signal 6"), "{notes}");
    }

    #[test]
    fn catches_an_incomplete_output_folder_and_leftovers() {
        let (out, notes) = against("mkdir -p \"$4\"; echo '{}' > \"$4/summary.json\"; exit 2", &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(notes.contains("output: incomplete"), "{notes}");
        let (out, notes) = against(&format!("{COMPLETE}; touch \"$4/.series.csv.tmp\"; exit 2"), &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(notes.contains("leftover files [\".series.csv.tmp\"]"), "{notes}");
        let (out, notes) = against("exit 0", &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(notes.contains("exit 0 without summary.json"), "{notes}");
    }

    #[test]
    fn catches_a_summary_that_is_not_json_or_not_completed_after_exit_0() {
        let (_, notes) = against(
            "mkdir -p \"$4\"; touch \"$4/.cellsim-output\"; echo '{' > \"$4/summary.json\"; echo 't_s,workload' > \"$4/series.csv\"; exit 2",
            &[],
        );
        assert!(notes.contains("summary.json is not JSON"), "{notes}");
        let (_, notes) = against("mkdir -p \"$4\"; touch \"$4/.cellsim-output\"; echo '{\"verdict\": \"overload\"}' > \"$4/summary.json\"; echo 't_s,workload' > \"$4/series.csv\"; exit 0", &[]);
        assert!(notes.contains("verdict \"overload\" with exit 0"), "{notes}");
    }

    #[test]
    fn catches_a_hang() {
        let (out, notes) = against("exec sleep 30", &["--timeout", "0.3", "--runs", "4"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(notes.contains("exit: hang"), "{notes}");
        assert!(text(&out).contains("\"hang\": "), "{}", text(&out));
    }
}
