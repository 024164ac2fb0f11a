//! Hypotheses judged on hand-computed runs, the verdict rule's intervals against a closed
//! form, the exit codes, JUnit XML read back by an XML parser, and mistakes in the
//! expressions reported at their line and column.

use crate::support::*;
use cellsim_models::compile;
use cellsim_models::hypothesis::HypothesisResult;

/// One service of constant 10 ms work, constant arrivals of 10 a second for 60 s, and an
/// outage of the service from 20 s to 30 s (requests fail at once): 599 requests, the 100
/// sent during the outage fail, the others take 10 ms.
fn outage(hypotheses: &str) -> String {
    format!(
        "[scenario]\nname = \"outage\"\nduration = \"60s\"\nbucket = \"1s\"\n\n\
         [[workload]]\nname = \"w\"\narrival = {{ process = \"constant\", rate_per_s = 10 }}\n\n\
         [[workload.request]]\nname = \"get\"\ntarget = \"api\"\n\n\
         [[service]]\nname = \"api\"\nworkers = 4\nservice_time = {{ dist = \"constant\", value = \"10ms\" }}\n\n\
         [[fault]]\nname = \"down\"\nkind = \"outage\"\nservice = \"api\"\nstart = \"20s\"\nduration = \"10s\"\n\n{hypotheses}"
    )
}

fn judged(text: &str) -> Vec<HypothesisResult> {
    let spec = compile_ok(text);
    let (r, _) = cellsim_runs::simulate(&spec, 1, cellsim_models::NoSeries, true);
    assert!(r.verdict.is_completed());
    r.hypotheses
}

fn one(expect: &str, extra: &str) -> HypothesisResult {
    let h = judged(&outage(&format!("[[hypothesis]]\nexpect = \"{expect}\"\n{extra}")));
    h.into_iter().next().unwrap()
}

#[test]
fn windows_count_the_requests_hand_computed() {
    // The run: constant arrivals come one gap in (0.1 s to 59.9 s): 100 of 599 failed.
    let h = one("error_rate < 20%", "");
    assert_eq!(h.observed, Some(100.0 / 599.0));
    assert!(h.held);
    // During the outage every request failed; before and after it none did.
    let during = one("availability >= 99%", "window = \"during down\"");
    assert_eq!((during.observed, during.held), (Some(0.0), false));
    assert_eq!(during.interval, Some((0.0, 0.0)), "every batch failed alike");
    for window in ["before down", "after down", "after fault[0] for 5s"] {
        let h = one("error_rate <= 0", &format!("window = \"{window}\""));
        assert_eq!((h.observed, h.held), (Some(0.0), true), "{window}");
    }
    // Successes take 10 ms: the percentile is the top of its slot, within 1/64 above.
    let p = one("p(99) < 11ms", "workload = \"w\"").observed.unwrap();
    assert!((10e6..=10e6 * (1.0 + 1.0 / 64.0)).contains(&p), "{p}");
    // Sliding: 10 s windows reach 100% errors; 20 s windows at most half.
    let h = one("error_rate < 50%", "window = \"any 20s\"");
    assert_eq!((h.observed, h.held), (Some(0.5), false));
    let h = one("error_rate <= 50%", "window = \"any 20s\"");
    assert_eq!((h.observed, h.held), (Some(0.5), true));
    assert_eq!(one("error_rate < 1", "window = \"any 10s\"").observed, Some(1.0));
}

#[test]
fn comparisons_with_the_baseline_use_its_value() {
    // The baseline has no outage: no errors, and 10 ms.
    let h = one("error_rate <= baseline + 0.01", "");
    assert_eq!((h.baseline, h.threshold, h.held), (Some(0.0), 0.01, false));
    let h = one("p(99) <= baseline + 10%", "");
    assert_eq!(h.threshold, h.baseline.unwrap() * 1.1);
    assert!(h.held, "successes take 10 ms with or without the outage: {h:?}");
    let h = one("avg <= baseline * 1.0", "");
    assert!(h.held && h.observed == h.baseline);
}

#[test]
fn the_fault_analysis_answers_recovery_and_cascade() {
    let h = judged(&outage(
        "[[hypothesis]]\nexpect = \"recovery < 5m\"\n\n[[hypothesis]]\nexpect = \"cascade_depth <= 0\"\n",
    ));
    assert!(h[0].held && h[0].observed.unwrap() <= 5e9, "{:?}", h[0]);
    assert_eq!((h[1].observed, h[1].held), (Some(0.0), true), "no component beyond the faulted one was impaired");
}

/// M/M/1 at rho = 0.5 (mu = 100/s): the mean sojourn is 1 / (mu - lambda) = 20 ms.
fn mm1(hypotheses: &str) -> String {
    format!(
        "[scenario]\nname = \"mm1\"\nduration = \"20m\"\nwarmup = \"1m\"\nbucket = \"10s\"\n\n\
         [[workload]]\nname = \"w\"\narrival = {{ process = \"poisson\", rate_per_s = 50 }}\n\n\
         [[workload.request]]\nname = \"get\"\ntarget = \"q\"\n\n\
         [[service]]\nname = \"q\"\nworkers = 1\nqueue_capacity = 100000\nservice_time = {{ dist = \"exponential\", mean = \"10ms\" }}\n\n{hypotheses}"
    )
}

#[test]
fn intervals_cover_the_closed_form_and_a_threshold_at_it_is_inconclusive() {
    let mut covered = 0;
    for seed in 1..=5 {
        let spec = compile_ok(&mm1("[[hypothesis]]\nexpect = \"avg < 20ms\"\n"));
        let (r, _) = cellsim_runs::simulate(&spec, seed, cellsim_models::NoSeries, true);
        let h = &r.hypotheses[0];
        let (lo, hi) = h.interval.expect("20 batches");
        assert!(lo < h.observed.unwrap() && h.observed.unwrap() < hi);
        // Half-width: about 10% of the mean at this length (the batch means' spread).
        assert!((hi - lo) / 2.0 < 0.2 * 20e6, "{lo} {hi}");
        if lo <= 20e6 && 20e6 <= hi {
            covered += 1;
            assert!(h.inconclusive, "{h:?}");
            assert!(h.settle_factor.unwrap() >= 1.0);
        }
    }
    assert!(covered >= 4, "a 95% interval covers the true mean in most seeds: {covered} of 5");
    // Far from the threshold, a verdict is conclusive.
    let h = &judged(&mm1("[[hypothesis]]\nexpect = \"avg < 40ms\"\n"))[0];
    assert!(h.held && !h.inconclusive && h.settle_factor.is_none());
}

#[test]
fn exit_codes_and_junit_follow_the_verdicts() {
    let hold = "[[hypothesis]]\nname = \"errors stay rare <outside> the outage\"\nexpect = \"error_rate < 0.1%\"\nwindow = \"after down\"\n";
    let broken = "[[hypothesis]]\nexpect = \"availability >= 99.9%\"\nwindow = \"during down\"\n";
    for (text, code, failures) in [(hold.to_string(), 0, 0), (format!("{hold}\n{broken}"), 1, 1)] {
        let (dir, file) = write_scenario("hypotheses", &outage(&text));
        let out = dir.path().join("out");
        let o = cellsim(["run".as_ref(), file.as_os_str(), "--out".as_ref(), out.as_os_str(), "--why".as_ref()]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(code), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
        assert!(stdout.contains("Hypotheses:") && stdout.contains("\nWhy\n"), "{stdout}");
        let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
        let doc = roxmltree::Document::parse(&xml).expect("junit.xml parses");
        let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 1 + failures);
        assert_eq!(suite.attribute("tests"), Some((1 + failures).to_string().as_str()));
        assert_eq!(suite.attribute("failures"), Some(failures.to_string().as_str()));
        let failed: Vec<_> = cases.iter().filter(|c| c.children().any(|n| n.has_tag_name("failure"))).collect();
        assert_eq!(failed.len(), failures);
        assert!(cases.iter().all(|c| c.attribute("classname") == Some("outage")));
        assert_eq!(cases[0].attribute("name"), Some("errors stay rare <outside> the outage"), "escaped and read back");
        let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
        assert!(md.contains("&lt;outside&gt;") && !md.contains("<outside>"), "{md}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["hypotheses"].as_array().unwrap().len(), 1 + failures);
    }
}

#[test]
fn mistakes_are_reported_at_their_line_and_column() {
    let cases: &[(&str, usize, usize, &str, &str)] = &[
        // (hypothesis table, line within it, column, message, hint)
        ("expect = \"p(99) < 200\"\n", 1, 19, "has no unit", "200ms"),
        ("expect = \"p99 < 2s\"\n", 1, 11, "unknown metric `p99`", "p(99)"),
        ("expect = \"error_rate < 2\"\n", 1, 24, "from 0 to 1", "0.1%"),
        ("expect = \"p(99) < 1s\"\nworkload = \"x\"\n", 2, 12, "no workload is named `x`", "did you mean `w`?"),
        (
            "expect = \"p(99) < 1s\"\nwindow = \"during dwon\"\n",
            2,
            10,
            "no fault is named `dwon`",
            "did you mean `down`?",
        ),
        ("expect = \"p(99) < 1s\"\nwindow = \"sometimes\"\n", 2, 10, "is not a window", "during F"),
        ("expect = \"p(99) < 1s\"\nwindow = \"any 1500ms\"\n", 2, 10, "whole number of buckets", "any"),
        (
            "expect = \"p(99) < 1s\"\nworkload = \"w\"\nrequest = \"get\"\nwindow = \"during down\"\n",
            4,
            10,
            "whole run only",
            "leave out window",
        ),
        (
            "expect = \"p(99) < 1s\"\nworkload = \"w\"\nservice = \"api\"\n",
            3,
            11,
            "not workload and service",
            "one hypothesis per scope",
        ),
        ("expect = \"recovery < 1m\"\nworkload = \"w\"\n", 2, 12, "every component", "leave out"),
        ("expect = \"cascade_depth <= 1\"\nwindow = \"during down\"\n", 2, 10, "not measured", "the run's"),
        (
            "expect = \"p(99) < baseline + 10%\"\nwindow = \"any 10s\"\n",
            2,
            10,
            "absolute value",
            "compare with a value",
        ),
    ];
    for (table, line, column, message, hint) in cases {
        let text = outage(&format!("[[hypothesis]]\n{table}"));
        let e = compile("h.toml", &text).expect_err(table).remove(0);
        let first = outage("").lines().count() + 1;
        assert_eq!((e.line, e.column), (first + line, *column), "{table}: {e}");
        assert!(e.message.contains(message), "{table}: {e}");
        assert!(e.hint.as_deref().unwrap_or("").contains(hint), "{table}: {e}");
    }
    // Found by fuzz-compile: the hint under a bucket of 10^18 ns overflowed.
    let text = outage("[[hypothesis]]\nexpect = \"rate < 1%\"\nwindow = \"any 5s\"\n")
        .replace("bucket = \"1s\"", "bucket = \"1000000000000000000ns\"");
    let e = compile("h.toml", &text).expect_err("a huge bucket").remove(0);
    assert!(e.message.contains("whole number of buckets"), "{e}");
    // Without faults, nothing to compare with.
    let text = outage("").replace(
        "[[fault]]\nname = \"down\"\nkind = \"outage\"\nservice = \"api\"\nstart = \"20s\"\nduration = \"10s\"\n",
        "",
    ) + "[[hypothesis]]\nexpect = \"p(99) <= baseline + 10%\"\n";
    let e = compile("h.toml", &text).expect_err("no baseline").remove(0);
    assert!(e.message.contains("the scenario has no fault"), "{e}");
    // --no-baseline refuses a hypothesis that needs the baseline, as bad input.
    let (_dir, file) = write_scenario("no-baseline", &outage("[[hypothesis]]\nexpect = \"recovery < 1m\"\n"));
    let o = cellsim(["run".as_ref(), file.as_os_str(), "--no-baseline".as_ref()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--no-baseline leaves it without one"));
}

/// `outage`'s scenario with the outage from 20.05 s for 30 s, and a stop condition: more
/// than half the requests failing in 2 periods of 1 s in a row.
fn stopped_outage(stop: &str) -> String {
    outage("[[hypothesis]]\nexpect = \"availability >= 99%\"\nwindow = \"after down\"\n")
        .replace("start = \"20s\"\nduration = \"10s\"", "start = \"20050ms\"\nduration = \"30s\"")
        + stop
}

#[test]
fn a_stop_condition_ends_the_faults_early_and_the_recovery_shows() {
    let stop = "\n[[stop_condition]]\nalarm = \"error_rate > 50%\"\nperiod = \"1s\"\ndatapoints = 2\n";
    let spec = compile_ok(&stopped_outage(stop));
    let (r, _) = cellsim_runs::simulate(&spec, 1, cellsim_models::NoSeries, true);
    // Periods [20 s, 21 s) (9 of 10 failed) and [21 s, 22 s) (10 of 10) breach: Alarm at
    // 22 s. The requests sent from 20.1 s to 21.9 s failed (19); the one at 22 s comes
    // after the look (its tick was scheduled first) and succeeds, as every later one does.
    let stopped = r.stopped.as_ref().expect("the stop condition fired");
    assert_eq!((stopped.at_ns, stopped.value), (22_000_000_000, Some(1.0)));
    let failed = r.requests[0].outcomes.total() - r.requests[0].outcomes.successes();
    assert_eq!(failed, 19);
    let impact = r.impact.as_ref().unwrap();
    assert_eq!((impact.faults[0].start_ns, impact.faults[0].end_ns), (20_050_000_000, 22_000_000_000));
    assert_eq!(impact.faults[0].time_to_recover_ns, Some(0), "recovered as the outage ended");
    // The hypothesis's window after the fault starts at the stop: every request succeeded.
    assert_eq!((r.hypotheses[0].observed, r.hypotheses[0].held), (Some(1.0), true));
    assert!(r.actions.iter().any(|a| a.controller == "stop condition" && a.at_ns == 22_000_000_000));
    // Without it, the outage runs its 30 s: 300 requests fail, and after it is 50 s in.
    let (plain, _) = cellsim_runs::simulate(&compile_ok(&stopped_outage("")), 1, cellsim_models::NoSeries, true);
    assert_eq!(plain.requests[0].outcomes.total() - plain.requests[0].outcomes.successes(), 300);
    assert!(plain.stopped.is_none());
    // On the service's jobs (refused by the outage, they fail), with the default 3 of 3
    // periods: Alarm at 23 s.
    let on_jobs = "\n[[stop_condition]]\nalarm = \"error_rate > 50%\"\nservice = \"api\"\nperiod = \"1s\"\n";
    let (r, _) = cellsim_runs::simulate(&compile_ok(&stopped_outage(on_jobs)), 1, cellsim_models::NoSeries, true);
    assert_eq!(r.stopped.map(|s| s.at_ns), Some(23_000_000_000));
    // The command line says when and why.
    let (dir, file) = write_scenario("stopped", &stopped_outage(stop));
    let out = dir.path().join("out");
    let o = cellsim(["run".as_ref(), file.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Stopped: the stop condition `error_rate > 50%` went to Alarm at 22s"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stopped"]["at_s"], 22.0);
    assert!(std::fs::read_to_string(out.join("summary.md")).unwrap().contains("Stopped: the stop condition"));
}

#[test]
fn stop_conditions_refuse_what_they_cannot_watch() {
    let cases: &[(&str, &str, &str)] = &[
        ("alarm = \"recovery > 1m\"\n", "a live metric, not recovery", "error_rate > 5%"),
        ("alarm = \"p(99) > baseline * 2\"\n", "a live metric, not the baseline", "error_rate > 5%"),
        ("alarm = \"p(99) > 1s\"\nservice = \"api\"\n", "error_rate or availability", "a workload's latency"),
        (
            "alarm = \"error_rate > 5%\"\ndatapoints = 3\nevaluation_periods = 2\n",
            "datapoints <= evaluation_periods",
            "3 of 3",
        ),
        ("alarm = \"error_rat > 5%\"\n", "unknown metric", "did you mean `error_rate`"),
    ];
    for (table, message, hint) in cases {
        let text = outage(&format!("[[stop_condition]]\n{table}"));
        let e = compile("s.toml", &text).expect_err(table).remove(0);
        assert!(e.message.contains(message), "{table}: {e}");
        assert!(e.hint.as_deref().unwrap_or("").contains(hint), "{table}: {e}");
    }
}
