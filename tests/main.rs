//! The integration tests, linked as one binary (`cargo test --test main`; one module:
//! `cargo test --test main resilience::`). Cargo.toml sets `autotests = false`, so a file in
//! tests/ runs only if it is declared here: `every_test_file_is_declared` checks that.

mod support;

mod bad_input;
mod browser;
mod cells;
mod cli;
mod controllers;
mod deployments;
mod determinism;
mod faults;
mod golden;
mod hostile_input;
mod hypotheses;
mod impact;
mod io;
mod limits;
mod memory;
mod names;
mod noise;
mod operations;
mod properties;
mod queueing;
mod report;
mod resilience;
mod semantics;
mod tiers;
mod traffic;

#[test]
fn every_test_file_is_declared() {
    let main = include_str!("main.rs");
    let dir = support::repo_path("tests");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        if path.extension().is_some_and(|e| e == "rs") && stem != "main" && !main.contains(&format!("\nmod {stem};\n"))
        {
            missing.push(path.display().to_string());
        }
    }
    assert!(missing.is_empty(), "declare these in tests/main.rs, or they never run: {missing:?}");
}
