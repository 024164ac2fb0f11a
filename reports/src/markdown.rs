//! The verdicts as Markdown (`summary.md`), for a CI job to append to its step summary
//! (`cat summary.md >> "$GITHUB_STEP_SUMMARY"`): a headline, a table of hypotheses and the
//! reasons. Everything from the scenario is escaped.

use crate::escape::markdown as md;
use crate::summary::Summary;
use std::fmt::Write;

pub fn markdown(s: &Summary) -> String {
    let mut out = String::new();
    let broken = s.hypotheses.iter().filter(|h| h.result != "held").count();
    let headline = if s.verdict != "completed" {
        format!("the run did not complete: {}", md(&s.verdict_detail))
    } else if s.hypotheses.is_empty() {
        "no hypotheses stated".into()
    } else if broken == 0 {
        format!("all {} hypotheses held", s.hypotheses.len())
    } else {
        format!("{broken} of {} hypotheses broken", s.hypotheses.len())
    };
    let _ = writeln!(out, "### cellsim: {}: {headline}\n", md(&s.scenario));
    let _ = writeln!(out, "Seed {}, {} s simulated.\n", s.seed, s.duration_s);
    if let Some(st) = &s.stopped {
        let _ = writeln!(
            out,
            "Stopped: the stop condition {} went to Alarm at {} s (its last period: {}); every fault ended then (a terminated instance stays terminated).\n",
            md(&st.condition),
            st.at_s,
            md(&st.value)
        );
    }
    if s.hypotheses.is_empty() {
        return out;
    }
    out.push_str("| result | hypothesis | observed | 95% interval | threshold |\n|---|---|---|---|---|\n");
    for h in &s.hypotheses {
        let result = match (h.result == "held", h.inconclusive) {
            (true, false) => "held",
            (true, true) => "held (inconclusive)",
            (false, false) => "**broken**",
            (false, true) => "**broken** (inconclusive)",
        };
        let show = |x: f64| h.show(x);
        let interval = h.ci95.map_or("-".into(), |[lo, hi]| format!("{} to {}", show(lo), show(hi)));
        let _ = writeln!(
            out,
            "| {result} | {} | {} | {} | {} {} |",
            md(&h.name),
            md(&h.observed_text),
            md(&interval),
            md(&h.comparison),
            md(&show(h.threshold))
        );
    }
    out.push_str("\n<details><summary>Why</summary>\n\n");
    for h in &s.hypotheses {
        let _ = writeln!(out, "- {}: {}", md(&h.name), md(&h.why));
    }
    out.push_str("\n</details>\n");
    out
}
