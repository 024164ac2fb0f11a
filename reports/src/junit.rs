//! The verdicts as JUnit XML (`junit.xml`), the report format CI servers read: one test
//! suite named after the scenario, each hypothesis a test case with the scenario as its
//! class and its reason in the element's body (what GitLab shows), a broken one with a
//! `<failure>`; a run that a limit stopped adds an `<error>` case. No wall-clock time: every
//! `time` is 0, so the same run gives the same bytes.

use crate::escape::xml;
use crate::summary::Summary;
use std::fmt::Write;

/// The JUnit XML of `s`'s verdicts.
pub fn junit(s: &Summary) -> String {
    let failures = s.hypotheses.iter().filter(|h| h.result != "held").count();
    let errors = usize::from(s.verdict != "completed");
    let tests = s.hypotheses.len() + errors;
    let scenario = xml(&s.scenario);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"cellsim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"0\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{scenario}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"0\">"
    );
    let _ = writeln!(out, "    <properties>");
    let _ = writeln!(out, "      <property name=\"seed\" value=\"{}\"/>", s.seed);
    let _ = writeln!(out, "      <property name=\"duration_s\" value=\"{}\"/>", s.duration_s);
    let _ = writeln!(out, "      <property name=\"cellsim_version\" value=\"{}\"/>", xml(&s.cellsim_version));
    let _ = writeln!(out, "    </properties>");
    for h in &s.hypotheses {
        let _ = writeln!(out, "    <testcase classname=\"{scenario}\" name=\"{}\" time=\"0\">", xml(&h.name));
        let body = xml(&detail(h));
        if h.result != "held" {
            let message = format!("{}: observed {}", h.expect, h.observed_text);
            let _ = writeln!(out, "      <failure message=\"{}\" type=\"hypothesis\">{body}</failure>", xml(&message));
        }
        let _ = writeln!(out, "      <system-out>{body}</system-out>");
        let _ = writeln!(out, "    </testcase>");
    }
    if errors > 0 {
        let _ = writeln!(out, "    <testcase classname=\"{scenario}\" name=\"the run completes\" time=\"0\">");
        let _ = writeln!(out, "      <error message=\"{}\" type=\"{}\"/>", xml(&s.verdict_detail), xml(&s.verdict));
        let _ = writeln!(out, "    </testcase>");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A hypothesis's details in words: expression, scope, window, value, interval, reason.
pub(crate) fn detail(h: &crate::summary::HypothesisSummary) -> String {
    let interval = match h.ci95 {
        Some([lo, hi]) => format!(", 95% interval {} to {}", h.show(lo), h.show(hi)),
        None => String::new(),
    };
    let inconclusive = match h.settle_factor {
        Some(f) if h.inconclusive => format!(
            "\nInconclusive: the interval straddles the threshold; about {:.1}x the data (seeds, or a window that much longer) would settle it.",
            f.max(1.0)
        ),
        _ if h.inconclusive => "\nInconclusive: the interval straddles the threshold.".into(),
        _ => String::new(),
    };
    format!(
        "{} ({}, {}): {}{interval}; {}.\n{}{inconclusive}",
        h.expect,
        h.scope,
        h.window,
        h.observed_text,
        if h.result == "held" { "held" } else { "broken" },
        h.why
    )
}
