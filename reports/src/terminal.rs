//! The summary people read in a terminal: a few aligned tables.

use crate::summary::{Latency, Summary};
use std::fmt::Write;

fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}ms")
    } else if v >= 10.0 {
        format!("{v:.1}ms")
    } else {
        format!("{v:.2}ms")
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.3}%", v * 100.0))
}

fn lat_cols(l: &Option<Latency>) -> [String; 4] {
    match l {
        Some(l) => {
            let mean = match l.mean_ci95 {
                Some(h) => format!("{} ±{}", fmt_ms(l.mean), fmt_ms(h)),
                None => fmt_ms(l.mean),
            };
            [mean, fmt_ms(l.p50), fmt_ms(l.p99), fmt_ms(l.p999)]
        }
        None => ["-".into(), "-".into(), "-".into(), "-".into()],
    }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i] - c.chars().count();
            if i == 0 {
                s += &format!(" {c}{}", " ".repeat(pad));
            } else {
                s += &format!("  {}{c}", " ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header.iter().map(|h| h.to_string()).collect()));
    for r in rows {
        out.push_str(&line(r.clone()));
    }
}

/// The most call edges the text shows (the summary has them all).
const MAX_EDGES_SHOWN: usize = 40;

/// The calls table: one row per caller -> callee edge, or the least successful ones when
/// there are many.
fn edges(out: &mut String, s: &Summary) {
    if s.edges.is_empty() {
        return;
    }
    let mut shown: Vec<&crate::summary::EdgeSummary> = s.edges.iter().collect();
    let title = if shown.len() > MAX_EDGES_SHOWN {
        let failed = |e: &crate::summary::EdgeSummary| e.calls - e.outcomes["ok"] - e.outcomes["degraded"];
        shown.sort_by_key(|e| std::cmp::Reverse(failed(e)));
        shown.truncate(MAX_EDGES_SHOWN);
        format!(
            "\nCalls (the {MAX_EDGES_SHOWN} of {} edges with the most failures; summary.json has all)\n",
            s.edges.len()
        )
    } else {
        "\nCalls (per caller -> callee edge; latency over each call's attempts)\n".to_string()
    };
    out.push_str(&title);
    let side = |service: &str, op: &str| if op == "default" { service.to_string() } else { format!("{service}/{op}") };
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|e| {
            let mut callee = side(&e.callee, &e.callee_operation);
            // The call's name, when it is not the default one.
            let routed = e.callee.starts_with("cell-*/");
            if !routed && e.call != e.callee && e.call != format!("{}/{}", e.callee, e.callee_operation) {
                callee = format!("{callee} ({})", e.call);
            }
            let mut row = vec![
                format!("{} -> {callee}", side(&e.caller, &e.operation)),
                e.calls.to_string(),
                pct(e.success_rate),
                e.outcomes["degraded"].to_string(),
                e.outcomes["error"].to_string(),
                e.outcomes["timeout"].to_string(),
                e.outcomes["rejected"].to_string(),
                e.outcomes["refused"].to_string(),
                e.attempts_per_call.map_or("-".into(), |a| format!("{a:.3}")),
            ];
            let [mean, p50, p99, _] = lat_cols(&e.latency_ms);
            row.extend([mean, p50, p99]);
            row
        })
        .collect();
    table(
        out,
        &[
            "caller -> callee",
            "calls",
            "success",
            "degraded",
            "error",
            "timeout",
            "rejected",
            "refused",
            "attempts",
            "mean",
            "p50",
            "p99",
        ],
        &rows,
    );
}

/// The zones' and cells' tables and the customers' line, for a scenario with a topology.
fn places(out: &mut String, s: &Summary) {
    let Some(t) = &s.topology else { return };
    let rows = |list: &[crate::summary::PlaceSummary]| -> Vec<Vec<String>> {
        list.iter()
            .map(|p| {
                let mut row = vec![
                    p.name.clone(),
                    p.instances.to_string(),
                    pct(p.utilisation),
                    p.total.to_string(),
                    pct(p.availability),
                    p.outcomes["error"].to_string(),
                    p.outcomes["timeout"].to_string(),
                    p.outcomes["rejected"].to_string(),
                    p.outcomes["refused"].to_string(),
                ];
                let [mean, p50, p99, _] = lat_cols(&p.latency_ms);
                row.extend([mean, p50, p99]);
                row
            })
            .collect()
    };
    let header = |first: &'static str, what: &'static str| {
        [first, "inst", "busy", what, "success", "error", "timeout", "rejected", "refused", "mean", "p50", "p99"]
    };
    out.push_str("\nZones (jobs served by the instances placed in each)\n");
    table(out, &header("zone", "jobs"), &rows(&t.zones));
    if !t.cells.is_empty() {
        out.push_str("\nCells (calls routers sent to each, by the cell of their last attempt)\n");
        table(out, &header("cell", "calls"), &rows(&t.cells));
    }
    for r in t.routers.iter().filter(|r| !r.breaker_openings.is_empty()) {
        let opened: Vec<String> = r
            .breaker_openings
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(k, n)| format!("cell-{} {n}x", k + 1))
            .collect();
        out.push_str(&format!(
            "\nRouter {} -> cells ({}): {} attempts sent elsewhere than their cell; breakers opened: {}\n",
            r.router,
            r.call,
            r.redirected,
            if opened.is_empty() { "none".to_string() } else { opened.join(", ") }
        ));
    }
    // The first and the last few changes (a cell's return is at the end).
    const EACH_END: usize = 6;
    if !t.cell_health.is_empty() {
        out.push_str("Cell health at the routers (a cell's traffic moves away when its breaker opens)\n");
        let n = t.cell_health.len();
        let line = |c: &crate::summary::CellHealthSummary| {
            format!("  {:>10.3}s  {} sees {} {}\n", c.at_s, c.router, c.cell, c.state)
        };
        if n <= 2 * EACH_END {
            t.cell_health.iter().for_each(|c| out.push_str(&line(c)));
        } else {
            t.cell_health[..EACH_END].iter().for_each(|c| out.push_str(&line(c)));
            out.push_str(&format!("  ... {} more (summary.json has the first 1,000)\n", n - 2 * EACH_END));
            t.cell_health[n - EACH_END..].iter().for_each(|c| out.push_str(&line(c)));
        }
        if t.cell_health_dropped > 0 {
            out.push_str(&format!("  ... and {} after the first 1,000, counted only\n", t.cell_health_dropped));
        }
    }
    let c = &t.customers;
    out.push_str(&format!(
        "\nCustomers: {} sent requests; {} of them ({}) saw at least one fail\n",
        c.sent,
        c.failed,
        pct(c.failed_share)
    ));
}

/// The controllers' actions, the first few.
fn actions(out: &mut String, s: &Summary) {
    const SHOWN: usize = 20;
    if s.actions.is_empty() {
        return;
    }
    out.push_str("\nControllers (autoscaling, zonal shifts)\n");
    for a in s.actions.iter().take(SHOWN) {
        out.push_str(&format!("  {:>10.3}s  {} {}: {}\n", a.at_s, a.controller, a.target, a.what));
    }
    if s.actions.len() > SHOWN {
        out.push_str(&format!("  ... and {} more (summary.json has them)\n", s.actions.len() - SHOWN));
    }
}

/// Where failures were absorbed, by depth.
fn failure_handling(out: &mut String, s: &Summary) {
    if s.failure_handling.is_empty() {
        return;
    }
    out.push_str("\nFailures handled, by caller depth (0: the clients)\n");
    let rows: Vec<Vec<String>> = s
        .failure_handling
        .iter()
        .map(|r| {
            vec![
                r.depth.to_string(),
                r.absorbed_by_retry.to_string(),
                r.absorbed_by_fallback.to_string(),
                r.absorbed_by_degradation.to_string(),
                r.passed_up.to_string(),
                if r.depth == 0 { r.surfaced.to_string() } else { "-".into() },
            ]
        })
        .collect();
    table(out, &["depth", "absorbed by retry", "by fallback", "by degradation", "passed up", "surfaced"], &rows);
}

/// What the faults did against the baseline: per fault, then the cascade tree's first nodes.
fn impact(out: &mut String, s: &Summary) {
    const SHOWN: usize = 20;
    let Some(i) = &s.impact else { return };
    let secs = |x: Option<f64>, none: &str| x.map_or(none.to_string(), |v| format!("{v}s"));
    let _ = writeln!(
        out,
        "\nImpact against the baseline ({}s buckets): cascade depth {}, {} impaired bucket(s)",
        i.bucket_s, i.cascade_depth, i.impaired_buckets
    );
    let rows: Vec<Vec<String>> = i
        .faults
        .iter()
        .map(|f| {
            let mut row = vec![
                if f.occurrence > 0 {
                    format!("{} {} #{}", f.kind, f.target, f.occurrence + 1)
                } else {
                    format!("{} {}", f.kind, f.target)
                },
                if f.random { "random".into() } else { format!("{}s-{}s", f.start_s, f.end_s) },
                secs(f.time_to_detect_s, if f.random { "-" } else { "undetected" }),
                secs(f.time_to_recover_s, if f.random { "-" } else { "not recovered" }),
            ];
            match &f.blast_radius {
                Some(b) => row.extend([
                    format!("{} (base {})", pct(b.requests_harmed), pct(b.baseline_requests_harmed)),
                    b.customers_harmed.map_or("-".into(), |c| {
                        format!("{} (base {})", pct(Some(c)), pct(b.baseline_customers_harmed))
                    }),
                    format!("{}/{}", b.components_impaired, b.components),
                    if b.cells > 0 { format!("{}/{}", b.cells_impaired, b.cells) } else { "-".into() },
                    if b.zones > 0 { format!("{}/{}", b.zones_impaired, b.zones) } else { "-".into() },
                ]),
                None => row.extend(std::iter::repeat_n("-".to_string(), 5)),
            }
            row
        })
        .collect();
    table(
        out,
        &[
            "fault",
            "window",
            "detected",
            "recovered",
            "requests harmed",
            "customers harmed",
            "impaired",
            "cells",
            "zones",
        ],
        &rows,
    );
    if i.cascade.iter().any(|n| n.impaired_buckets > 0) {
        out.push_str("\nCascade (impaired components by depth; * faulted, ~ lateral)\n");
        for n in i.cascade.iter().take(SHOWN) {
            let depth = n.depth.map_or("-".into(), |d| d.to_string());
            let mark = if n.faulted {
                "*"
            } else if n.lateral {
                "~"
            } else {
                " "
            };
            let via = n.parent.as_ref().map_or(String::new(), |p| format!(" <- {p}"));
            let _ = writeln!(
                out,
                "  {mark} depth {depth:>2}  {}{via}: impaired {} bucket(s){}",
                n.component,
                n.impaired_buckets,
                n.first_impaired_s.map_or(String::new(), |t| format!(" from {t}s"))
            );
        }
        if i.cascade.len() > SHOWN {
            let _ = writeln!(out, "  ... and {} more (summary.json has them)", i.cascade.len() - SHOWN);
        }
    }
}

/// Renders the summary as text.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cellsim {}: scenario `{}`, seed {}, {}s simulated ({}s warm-up), {} events: {}",
        s.cellsim_version, s.scenario, s.seed, s.duration_s, s.warmup_s, s.events, s.verdict_detail
    );
    if s.verdict != "completed" {
        let _ = writeln!(
            out,
            "  note: stopped at t={:.3}s: rates and averages below are over the {:.3}s from the warm-up to the stop",
            s.end_s,
            (s.end_s.min(s.duration_s) - s.warmup_s).max(0.0)
        );
    }
    if s.in_flight_at_end > 0 {
        let _ = writeln!(
            out,
            "  note: {} requests were still in flight when the run ended (not counted)",
            s.in_flight_at_end
        );
    }
    out.push_str("\nRequests (end to end; latency of successful requests)\n");
    let rows: Vec<Vec<String>> = s
        .requests
        .iter()
        .map(|r| {
            let mut row = vec![
                format!("{}/{}", r.workload, r.request),
                r.requests.to_string(),
                pct(r.availability),
                r.outcomes["degraded"].to_string(),
                r.outcomes["error"].to_string(),
                r.outcomes["timeout"].to_string(),
                r.outcomes["rejected"].to_string(),
                r.outcomes["refused"].to_string(),
            ];
            row.extend(lat_cols(&r.latency_ms));
            row
        })
        .collect();
    table(
        &mut out,
        &[
            "workload/request",
            "requests",
            "available",
            "degraded",
            "error",
            "timeout",
            "rejected",
            "refused",
            "mean ±95%",
            "p50",
            "p99",
            "p99.9",
        ],
        &rows,
    );
    out.push_str("\nServices (per job: one call attempt at one instance)\n");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for v in &s.services {
        let mut row = vec![
            v.service.clone(),
            // An autoscaled service: its mean in service, of its most.
            match v.mean_instances_in_service {
                Some(m) => format!("{m:.1}/{}x{}", v.instances, v.workers_per_instance),
                None => format!("{}x{}", v.instances, v.workers_per_instance),
            },
            v.arrivals.to_string(),
            format!("{:.1}%", v.utilisation * 100.0),
            format!("{:.3}", v.mean_in_system),
            pct(v.wait_probability),
            pct(v.rejection_rate),
        ];
        row.extend(lat_cols(&v.sojourn_ms));
        rows.push(row);
        // A service's operations, when it has several: their jobs and sojourns.
        for o in v.operations.iter().filter(|_| v.operations.len() > 1) {
            let mut row = vec![format!("  {}", o.operation), String::new(), o.jobs.to_string()];
            row.extend(std::iter::repeat_n(String::new(), 4));
            row.extend(lat_cols(&o.sojourn_ms));
            rows.push(row);
        }
    }
    table(
        &mut out,
        &[
            "service",
            "inst x workers",
            "arrivals",
            "busy",
            "L",
            "P(wait)",
            "rejected",
            "sojourn ±95%",
            "p50",
            "p99",
            "p99.9",
        ],
        &rows,
    );
    edges(&mut out, s);
    places(&mut out, s);
    actions(&mut out, s);
    failure_handling(&mut out, s);
    impact(&mut out, s);
    let fleets: Vec<Vec<String>> = s
        .services
        .iter()
        .filter_map(|v| {
            v.fleet.as_ref().map(|f| {
                vec![
                    v.service.clone(),
                    f.marked_unhealthy.to_string(),
                    f.restarts.to_string(),
                    f.ejections.to_string(),
                    f.routed_fail_open.to_string(),
                    f.refused_fail_closed.to_string(),
                ]
            })
        })
        .collect();
    if !fleets.is_empty() {
        out.push_str("\nInstances (health checks, outlier ejection, routing when too few were usable)\n");
        table(
            &mut out,
            &["service", "unhealthy", "restarts", "ejections", "fail-open jobs", "fail-closed jobs"],
            &fleets,
        );
    }
    let heaps: Vec<Vec<String>> = s
        .services
        .iter()
        .filter_map(|v| {
            v.memory.as_ref().map(|m| {
                vec![
                    v.service.clone(),
                    m.oom_kills.to_string(),
                    m.gc_pauses.to_string(),
                    format!("{:.3}s", m.gc_paused_s),
                    format!("{:.2}%", 100.0 * m.gc_share),
                ]
            })
        })
        .collect();
    if !heaps.is_empty() {
        out.push_str("\nHeaps (the whole run, instances summed)\n");
        table(&mut out, &["service", "oom kills", "collections", "paused", "paused share"], &heaps);
    }
    if let Some(st) = &s.stability {
        let _ = writeln!(
            out,
            "\nStability: goodput {:.1}/s before the faults ({}s to {}s), {:.1}/s long after them ({}s to {}s): {}",
            st.goodput_before_per_s,
            st.before_s[0],
            st.before_s[1],
            st.goodput_after_per_s,
            st.after_s[0],
            st.after_s[1],
            match st.verdict.as_str() {
                "metastable" => "METASTABLE, the collapse outlived its trigger",
                "recovered" => "recovered",
                _ => "not enough data to tell",
            }
        );
    }
    if !s.policies.is_empty() {
        out.push_str("\nPolicies (per call declaration, all copies together)\n");
        let rows: Vec<Vec<String>> = s
            .policies
            .iter()
            .map(|p| {
                let opened = if p.policy == "breaker" { p.opened.to_string() } else { "-".into() };
                vec![
                    p.call.clone(),
                    format!("{} {}", p.kind, p.policy),
                    p.copies.to_string(),
                    opened,
                    p.refused.to_string(),
                ]
            })
            .collect();
        table(&mut out, &["call", "policy", "copies", "opened", "refused"], &rows);
    }
    if let Some(st) = &s.stopped {
        let _ = writeln!(
            out,
            "\nStopped: the stop condition `{}` went to Alarm at {}s (its last period: {}): every fault ended then (rolled back; a terminated instance stays terminated), and the run went on",
            st.condition, st.at_s, st.value
        );
    }
    hypotheses(&mut out, s);
    out
}

/// The verdicts: each hypothesis with its observed value, interval and threshold.
fn hypotheses(out: &mut String, s: &Summary) {
    if s.hypotheses.is_empty() {
        return;
    }
    let broken = s.hypotheses.iter().filter(|h| h.result != "held").count();
    let _ = writeln!(
        out,
        "\nHypotheses: {} held, {broken} broken (95% intervals by batch means; ? = inconclusive: the interval straddles the threshold)",
        s.hypotheses.len() - broken
    );
    let rows: Vec<Vec<String>> = s
        .hypotheses
        .iter()
        .map(|h| {
            let verdict = if h.result == "held" { "HELD" } else { "BROKEN" };
            let mark = if h.inconclusive { "?" } else { "" };
            let show = |x: f64| h.show(x);
            let interval = h.ci95.map_or("-".into(), |[lo, hi]| format!("{} to {}", show(lo), show(hi)));
            let threshold = format!("{} {}", h.comparison, show(h.threshold));
            vec![format!("{verdict}{mark}"), h.name.clone(), h.observed_text.clone(), interval, threshold]
        })
        .collect();
    table(out, &["result", "hypothesis", "observed", "95% interval", "threshold"], &rows);
}

/// The reasons behind the verdicts (`cellsim run --why`), one paragraph each.
pub fn why(s: &Summary) -> String {
    let mut out = String::new();
    for h in &s.hypotheses {
        let settle = h.settle_factor.map_or(String::new(), |f| {
            format!(
                " Inconclusive: about {:.1}x the data (seeds, or a window that much longer) would settle it.",
                f.max(1.0)
            )
        });
        let _ = writeln!(out, "- {} [{}]: {}.{settle}", h.name, h.result, h.why);
    }
    out
}
