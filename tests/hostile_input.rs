//! Never a panic: thousands of variants of a valid scenario (lines deleted or duplicated,
//! values replaced by extremes) must each either be rejected with a located error or run to
//! a verdict within small budgets. Tests build with overflow checks on, so arithmetic that
//! would overflow or wrap on hostile values fails here.

use cellsim_models::{compile, simulate, NoSeries};

const BASE: &str = include_str!("../scenarios/quickstart.toml");
/// Every policy, fleet feature, shedding rule and fault in one small scenario.
const POLICIES: &str = include_str!("fixtures/all-policies.toml");

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "18446744073709551615",
    "4294967295",
    "\"0ns\"",
    "\"1ns\"",
    "\"999999999d\"",
    "\"1e30s\"",
    "\"\"",
    "[]",
    "{}",
    "true",
    "0.000000001",
];

/// Lines of `base` deleted or duplicated, and each value replaced by each extreme.
fn line_variants(base: &str) -> Vec<String> {
    let lines: Vec<&str> = base.lines().collect();
    let mut out = Vec::new();
    for i in 0..lines.len() {
        // Delete line i; duplicate line i.
        let mut v = lines.clone();
        v.remove(i);
        out.push(v.join("\n"));
        let mut v = lines.clone();
        v.insert(i, lines[i]);
        out.push(v.join("\n"));
        // Replace the value of a `key = value` line, or each value inside an inline table.
        if let Some(eq) = lines[i].find(" = ") {
            for x in EXTREMES {
                let mut v = lines.clone();
                let replaced = format!("{} = {x}", &lines[i][..eq]);
                v[i] = &replaced;
                out.push(v.join("\n"));
            }
        }
        for (start, _) in lines[i].match_indices("= ").skip(1) {
            for x in EXTREMES {
                let rest = &lines[i][start + 2..];
                let end = rest.find([',', '}']).unwrap_or(rest.len());
                let mutated = format!("{}= {x}{}", &lines[i][..start], &rest[end..]);
                let mut v = lines.clone();
                v[i] = &mutated;
                out.push(v.join("\n"));
            }
        }
    }
    out
}

fn variants() -> Vec<String> {
    let mut out = line_variants(BASE);
    // Valid but extreme: draws far beyond any duration, rates far beyond any budget.
    let extreme = [
        (
            "service_time = { dist = \"exponential\", mean = \"3ms\" }",
            "service_time = { dist = \"exponential\", mean = \"10000d\" }",
        ),
        (
            "service_time = { dist = \"exponential\", mean = \"3ms\" }",
            "service_time = { dist = \"lognormal\", median = \"1ns\", p99 = \"10000d\" }",
        ),
        (
            "arrival = { process = \"poisson\", rate_per_s = 400 }",
            "arrival = { process = \"poisson\", rate_per_s = 1e300 }",
        ),
        (
            "arrival = { process = \"poisson\", rate_per_s = 400 }",
            "arrival = { process = \"constant\", rate_per_s = 1e-300 }",
        ),
        ("timeout = \"1s\"", "timeout = \"10000d\""),
        ("base = \"50ms\"", "base = \"10000d\", cap = \"10000d\""),
        ("duration = \"2m\"", "duration = \"10000d\""),
    ];
    for (from, to) in extreme {
        assert!(BASE.contains(from), "{from}");
        out.push(BASE.replacen(from, to, 1));
    }
    out
}

#[test]
fn hostile_variants_are_rejected_or_run_to_a_verdict_without_panicking() {
    check_all(&variants());
}

#[test]
fn hostile_variants_of_the_policies_are_rejected_or_run_to_a_verdict_without_panicking() {
    check_all(&line_variants(POLICIES));
}

/// Each variant compiles with located errors, or runs to a verdict under small budgets;
/// none panics.
fn check_all(variants: &[String]) {
    assert!(variants.len() > 1000, "{} variants", variants.len());
    let (mut rejected, mut ran) = (0, 0);
    for (i, text) in variants.iter().enumerate() {
        if std::env::var_os("HOSTILE_TRACE").is_some() {
            eprintln!("variant {i}");
        }
        let outcome = std::panic::catch_unwind(|| match compile("variant.toml", text) {
            Err(errors) => {
                for e in &errors {
                    assert!(e.line >= 1, "variant {i}: error without a line: {e}");
                    assert!(!e.message.is_empty());
                }
                false
            }
            Ok(mut spec) => {
                if !cellsim_models::Estimate::of(&spec).refusals(&spec).is_empty() {
                    return false; // refused before running, as `cellsim run` refuses it (exit 1)
                }
                // Small budgets so that extreme rates or sizes end quickly, with a verdict.
                spec.max_events = 200_000;
                spec.max_in_flight_requests = spec.max_in_flight_requests.min(10_000);
                spec.max_in_flight_jobs = spec.max_in_flight_jobs.min(40_000);
                let (r, _) = simulate(&spec, 1, NoSeries);
                let _ = cellsim_reports::summarise(&r);
                true
            }
        });
        match outcome {
            Ok(true) => ran += 1,
            Ok(false) => rejected += 1,
            Err(_) => panic!("variant {i} panicked:\n{text}"),
        }
    }
    eprintln!("{} variants: {rejected} rejected, {ran} ran", variants.len());
    assert!(rejected > 100 && ran > 100, "the variants exercise both paths");
}

/// Prints variant N (`HOSTILE_SHOW=N cargo test --test main hostile_input::show -- --ignored`).
#[test]
#[ignore]
fn show() {
    let n: usize = std::env::var("HOSTILE_SHOW").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let v = &variants()[n];
    let base: Vec<&str> = BASE.lines().collect();
    for (i, line) in v.lines().enumerate() {
        if base.get(i) != Some(&line) {
            eprintln!("line {}: {line}", i + 1);
        }
    }
}
