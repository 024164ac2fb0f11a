//! `[[hypothesis]]` and `[[stop_condition]]`: the expressions parsed (a mistake is reported at
//! its own column of the file), the scopes and windows resolved against the workloads,
//! services, cells, zones and faults, and what each metric can be judged over.

use super::Checker;
use crate::control::alarm::Comparison;
use crate::error::did_you_mean;
use crate::faults::FaultSpec;
use crate::hypothesis::{self, Expr, ExprError, HypothesisSpec, Metric, Scope, StopSpec, Unit, WindowSel};
use crate::scenario::{FaultSection, HypothesisSection, StopSection};
use crate::spec::{Topology, WorkloadSpec};
use crate::units::Loc;
use cellsim_sim::{Nanos, NS_PER_S};
use std::collections::BTreeMap;
use std::ops::Range;

/// What hypotheses are resolved against.
pub(super) struct HypothesisContext<'a> {
    pub workloads: &'a [WorkloadSpec],
    pub services: &'a BTreeMap<String, u32>,
    pub topology: Option<&'a Topology>,
    pub faults: &'a [FaultSpec],
    pub fault_sections: &'a [Loc<FaultSection>],
    /// The baseline runs (`[analysis] baseline`).
    pub baseline: bool,
    pub warmup_ns: Nanos,
    pub duration_ns: Nanos,
    pub bucket_ns: Nanos,
}

impl Checker<'_> {
    pub(super) fn hypotheses(
        &mut self,
        sections: &[Loc<HypothesisSection>],
        cx: &HypothesisContext,
    ) -> Vec<HypothesisSpec> {
        let names = self.fault_names(cx.fault_sections);
        sections.iter().enumerate().filter_map(|(i, h)| self.hypothesis(h, i, cx, &names)).collect()
    }

    /// Fault names, which must be unique.
    fn fault_names(&mut self, faults: &[Loc<FaultSection>]) -> BTreeMap<String, u32> {
        let named: Vec<(usize, &Loc<String>)> =
            faults.iter().enumerate().filter_map(|(i, f)| f.value.name.as_ref().map(|n| (i, n))).collect();
        let ids = self.unique_names(named.iter().map(|(_, n)| *n), "fault");
        ids.into_iter().map(|(name, k)| (name, named[k as usize].0 as u32)).collect()
    }

    fn hypothesis(
        &mut self,
        section: &Loc<HypothesisSection>,
        index: usize,
        cx: &HypothesisContext,
        fault_names: &BTreeMap<String, u32>,
    ) -> Option<HypothesisSpec> {
        let h = &section.value;
        let path = format!("hypothesis[{index}]");
        let expr = self.expression(&h.expect, &format!("{path}.expect"))?;
        let scope_keys = [("workload", &h.workload), ("service", &h.service), ("cell", &h.cell), ("zone", &h.zone)];
        let (scope, scope_words) = self.scope(section, &path, &scope_keys, h.request.as_ref(), cx)?;
        let (window, window_words) = match &h.window {
            Some(w) => self.window(w, &format!("{path}.window"), cx, fault_names)?,
            None => (WindowSel::Run, "over the run".to_string()),
        };
        let metric = expr.metric;
        let fail = |this: &mut Self, span: Range<usize>, field: &str, message: String, hint: &str| {
            this.err(span, format!("{path}.{field}"), message).hint(hint);
            None
        };
        let window_span = h.window.as_ref().map_or(h.expect.span.clone(), |w| w.span.clone());
        if matches!(scope, Scope::Request(_) | Scope::Service(_)) && window != WindowSel::Run {
            let what = if matches!(scope, Scope::Request(_)) { "a request type" } else { "a service" };
            return fail(
                self,
                window_span,
                "window",
                format!("{what} is judged over the whole run only"),
                "leave out window, or judge a workload, a cell or a zone over the window",
            );
        }
        if expr.threshold.relative() && matches!(window, WindowSel::Any(_)) {
            return fail(
                self,
                window_span,
                "window",
                "a sliding window is judged against an absolute value".into(),
                "compare with a value (`p(99) < 300ms`), or judge the baseline over a fault's window",
            );
        }
        if metric.from_impact() || expr.threshold.relative() {
            let what = if metric.from_impact() { metric.name() } else { "a comparison with the baseline".into() };
            if cx.faults.is_empty() || !cx.baseline {
                let why = if cx.faults.is_empty() { "the scenario has no fault" } else { "[analysis] baseline is off" };
                return fail(
                    self,
                    h.expect.span.clone(),
                    "expect",
                    format!("{what} needs the run with faults beside its baseline, and {why}"),
                    "judge an absolute value instead, like `p(99) < 200ms`",
                );
            }
        }
        if metric.from_impact() {
            if scope != Scope::AllRequests {
                let span =
                    scope_keys.iter().find_map(|(_, v)| v.as_ref()).map_or(section.span.clone(), |v| v.span.clone());
                return fail(
                    self,
                    span,
                    "expect",
                    format!("{} is measured over every component, not one scope", metric.name()),
                    "leave out workload, service, cell and zone",
                );
            }
            let allowed = match window {
                WindowSel::Run => true,
                WindowSel::During(_) | WindowSel::After(_, None) => metric != Metric::CascadeDepth,
                _ => false,
            };
            if !allowed {
                let hint = if metric == Metric::CascadeDepth {
                    "the cascade is the run's: leave out window"
                } else {
                    "judge it over `during F` or `after F` (that fault's) or `run` (the worst of all faults)"
                };
                return fail(
                    self,
                    window_span,
                    "window",
                    format!("{} is not measured over {window_words}", metric.name()),
                    hint,
                );
            }
        }
        let name = h.name.as_ref().map_or_else(
            || {
                let mut s = h.expect.value.trim().to_string();
                if !scope_words.is_empty() {
                    s.push_str(&format!(" ({scope_words})"));
                }
                if window != WindowSel::Run {
                    s.push_str(&format!(" {window_words}"));
                }
                s
            },
            |n| n.value.clone(),
        );
        Some(HypothesisSpec {
            name,
            expect: h.expect.value.trim().to_string(),
            scope_words: match (metric.from_impact(), scope_words.is_empty()) {
                (true, _) => "the faults".into(),
                (false, true) => "every workload".into(),
                (false, false) => scope_words,
            },
            window_words,
            expr,
            scope,
            window,
        })
    }

    /// Parses an expression, reporting a mistake at its own column.
    fn expression(&mut self, text: &Loc<String>, field: &str) -> Option<Expr> {
        match hypothesis::parse(&text.value) {
            Ok(e) => Some(e),
            Err(ExprError { at, message, hint }) => {
                let span = self.inner_span(text, at);
                self.err(span, field, message).hint(hint);
                None
            }
        }
    }

    /// The file's bytes of `at` within string value `text` (its whole span when the string
    /// holds escapes, so that its bytes are not the value's).
    fn inner_span(&self, text: &Loc<String>, at: Range<usize>) -> Range<usize> {
        let raw = self.src.get(text.span.clone()).unwrap_or("");
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") { 3 } else { 1 };
        match raw.get(quote..quote + text.value.len()) {
            Some(inner) if inner == text.value => {
                let start = text.span.start + quote;
                start + at.start..start + at.end.max(at.start + 1).min(text.value.len().max(at.start + 1))
            }
            _ => text.span.clone(),
        }
    }

    /// The scope: at most one of `keys`, and `request` with a workload.
    fn scope(
        &mut self,
        section: &Loc<impl Sized>,
        path: &str,
        keys: &[(&str, &Option<Loc<String>>)],
        request: Option<&Loc<String>>,
        cx: &HypothesisContext,
    ) -> Option<(Scope, String)> {
        let given: Vec<(&str, &Loc<String>)> = keys.iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v))).collect();
        if given.len() > 1 {
            let message =
                format!("a scope is one of workload, service, cell and zone, not {} and {}", given[0].0, given[1].0);
            self.err(given[1].1.span.clone(), format!("{path}.{}", given[1].0), message)
                .hint("state one hypothesis per scope");
            return None;
        }
        let Some(&(key, name)) = given.first() else {
            if let Some(r) = request {
                self.err(r.span.clone(), format!("{path}.request"), "request names a request type of a workload")
                    .hint("add workload = \"...\"");
                return None;
            }
            return Some((Scope::AllRequests, String::new()));
        };
        let field = format!("{path}.{key}");
        let zones: Vec<&str> = cx.topology.map_or(vec![], |t| t.zones.iter().map(|z| z.name.as_str()).collect());
        let cells: Vec<&str> = cx.topology.map_or(vec![], |t| t.cells.iter().map(|c| c.name.as_str()).collect());
        let workloads: Vec<&str> = cx.workloads.iter().map(|w| w.name.as_str()).collect();
        let services: Vec<&str> = cx.services.keys().map(String::as_str).collect();
        let candidates = match key {
            "workload" => &workloads,
            "service" => &services,
            "cell" => &cells,
            _ => &zones,
        };
        let Some(k) = candidates.iter().position(|c| *c == name.value) else {
            let hint = match did_you_mean(&name.value, candidates.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None if candidates.is_empty() => format!("the scenario has no {key}s"),
                None => format!("{key}s: {}", candidates.join(", ")),
            };
            self.err(name.span.clone(), field, format!("no {key} is named `{}`", name.value)).hint(hint);
            return None;
        };
        let words = format!("{key} {}", name.value);
        let scope = match key {
            "workload" => match request {
                None => Scope::Workload(k as u16),
                Some(r) => {
                    let requests = &cx.workloads[k].requests;
                    let Some(j) = requests.iter().position(|q| q.name == r.value) else {
                        let names: Vec<&str> = requests.iter().map(|q| q.name.as_str()).collect();
                        self.err(
                            r.span.clone(),
                            format!("{path}.request"),
                            format!("workload {} has no request `{}`", name.value, r.value),
                        )
                        .hint(format!("its requests: {}", names.join(", ")));
                        return None;
                    };
                    let before: usize = cx.workloads[..k].iter().map(|w| w.requests.len()).sum();
                    return Some((Scope::Request((before + j) as u32), format!("{words}, request {}", r.value)));
                }
            },
            "service" => Scope::Service(cx.services[&name.value]),
            "cell" => Scope::Cell(k as u16),
            _ => Scope::Zone(k as u16),
        };
        if let (Some(r), false) = (request, key == "workload") {
            self.err(r.span.clone(), format!("{path}.request"), "request goes with workload")
                .hint("add workload = \"...\"");
            return None;
        }
        let _ = section;
        Some((scope, words))
    }

    /// `run`, `before F`, `during F`, `after F`, `after F for 5m`, `any 1m`.
    fn window(
        &mut self,
        text: &Loc<String>,
        field: &str,
        cx: &HypothesisContext,
        fault_names: &BTreeMap<String, u32>,
    ) -> Option<(WindowSel, String)> {
        let words: Vec<&str> = text.value.split_whitespace().collect();
        let form = "windows: run, before F, during F, after F, after F for 5m, any 1m (F: a fault's name or fault[i])";
        let fail = |this: &mut Self, message: String, hint: String| {
            this.err(text.span.clone(), field, message).hint(hint);
            None
        };
        let fault = |this: &mut Self, word: &str| -> Result<u32, (String, String)> {
            let index = match fault_names.get(word) {
                Some(&f) => f,
                None => {
                    match word.strip_prefix("fault[").and_then(|r| r.strip_suffix(']')).and_then(|n| n.parse().ok()) {
                        Some(f) if (f as usize) < cx.faults.len() => f,
                        _ => {
                            let names: Vec<&str> = fault_names.keys().map(String::as_str).collect();
                            let hint = match did_you_mean(word, names.iter().copied()) {
                                Some(m) => format!("did you mean `{m}`?"),
                                None if cx.faults.is_empty() => "the scenario has no [[fault]]".into(),
                                None => format!(
                                    "give the fault a name (name = \"...\") or write fault[0] to fault[{}]",
                                    cx.faults.len() - 1
                                ),
                            };
                            return Err((format!("no fault is named `{word}`"), hint));
                        }
                    }
                }
            };
            let _ = this;
            if cx.faults[index as usize].random {
                return Err((
                    format!("`{word}` fails at random: it has no window of its own"),
                    "judge it over run, or any 1m".into(),
                ));
            }
            Ok(index)
        };
        let sel = match words.as_slice() {
            ["run"] => return Some((WindowSel::Run, "over the run".into())),
            [when @ ("before" | "during" | "after"), f] => match fault(self, f) {
                Ok(k) => match *when {
                    "before" => WindowSel::Before(k),
                    "during" => WindowSel::During(k),
                    _ => WindowSel::After(k, None),
                },
                Err((m, h)) => return fail(self, m, h),
            },
            ["after", f, "for", d] => match (fault(self, f), crate::units::parse_duration(d)) {
                (Ok(k), Ok(d)) if d.ns() > 0 => WindowSel::After(k, Some(d.ns())),
                (Err((m, h)), _) => return fail(self, m, h),
                (_, Err(m)) => return fail(self, m, form.into()),
                _ => return fail(self, "a window's length must be above 0".into(), form.into()),
            },
            ["any", d] => match crate::units::parse_duration(d) {
                Ok(d) if d.ns() >= cx.bucket_ns && d.ns() % cx.bucket_ns.max(1) == 0 => {
                    if d.ns() > cx.duration_ns.saturating_sub(cx.warmup_ns) {
                        return fail(
                            self,
                            format!("`any {}` is longer than the run's window", words[1]),
                            "a shorter window, or `run`".into(),
                        );
                    }
                    WindowSel::Any(d.ns())
                }
                Ok(_) => {
                    let bucket = Unit::Time.show(cx.bucket_ns as f64);
                    let example =
                        Unit::Time.show(cx.bucket_ns.max(NS_PER_S).saturating_mul(60) as f64).replace(' ', "");
                    return fail(
                        self,
                        format!("a sliding window is a whole number of buckets ({bucket} each)"),
                        format!("for example any {example}"),
                    );
                }
                Err(m) => return fail(self, m, form.into()),
            },
            _ => return fail(self, format!("`{}` is not a window", text.value), form.into()),
        };
        let Some(f) = sel.fault() else {
            let words = match sel {
                WindowSel::Any(d) => format!("in any {}", hypothesis::span_words(d)),
                _ => "over the run".into(),
            };
            return Some((sel, words));
        };
        let fault_words =
            cx.fault_sections[f as usize].value.name.as_ref().map_or(format!("fault[{f}]"), |n| n.value.clone());
        let words = match &sel {
            WindowSel::Before(_) => format!("before {fault_words}"),
            WindowSel::During(_) => format!("during {fault_words}"),
            WindowSel::After(_, None) => format!("after {fault_words}"),
            WindowSel::After(_, Some(d)) => format!("in the {} after {fault_words}", hypothesis::span_words(*d)),
            _ => unreachable!("a fault's window"),
        };
        Some((sel, words))
    }

    pub(super) fn stop_conditions(&mut self, sections: &[Loc<StopSection>], cx: &HypothesisContext) -> Vec<StopSpec> {
        sections.iter().enumerate().filter_map(|(i, s)| self.stop_condition(s, i, cx)).collect()
    }

    fn stop_condition(&mut self, section: &Loc<StopSection>, index: usize, cx: &HypothesisContext) -> Option<StopSpec> {
        let s = &section.value;
        let path = format!("stop_condition[{index}]");
        let expr = self.expression(&s.alarm, &format!("{path}.alarm"))?;
        let bad = |this: &mut Self, message: String, hint: &str| {
            this.err(s.alarm.span.clone(), format!("{path}.alarm"), message).hint(hint);
            None
        };
        if expr.metric.from_impact() || expr.threshold.relative() {
            let what = if expr.threshold.relative() { "the baseline".into() } else { expr.metric.name() };
            return bad(
                self,
                format!("a stop condition watches a live metric, not {what}"),
                "error_rate > 5%, p(99) > 1s, availability < 99%",
            );
        }
        let keys = [("workload", &s.workload), ("service", &s.service)];
        let (scope, words) = self.scope(section, &path, &keys, None, cx)?;
        if matches!(scope, Scope::Service(_)) && !matches!(expr.metric, Metric::ErrorRate | Metric::Availability) {
            return bad(
                self,
                "on a service, a stop condition watches error_rate or availability".into(),
                "watch a workload's latency instead",
            );
        }
        let alarm = crate::scenario::AutoshiftSection {
            error_rate: Loc { value: 0.0, span: s.alarm.span.clone() },
            period: s.period.clone(),
            datapoints: s.datapoints.clone(),
            evaluation_periods: s.evaluation_periods.clone(),
        };
        let (mut spec, period_ns) = self.error_rate_alarm(&Loc { value: alarm, span: section.span.clone() }, &path);
        if cx.faults.is_empty() {
            self.err(section.span.clone(), path, "a stop condition ends faults, and the scenario has none")
                .hint("add a [[fault]], or remove the stop condition");
            return None;
        }
        let name = s.name.as_ref().map_or_else(
            || {
                if words.is_empty() {
                    s.alarm.value.trim().to_string()
                } else {
                    format!("{} ({words})", s.alarm.value.trim())
                }
            },
            |n| n.value.clone(),
        );
        spec.threshold = expr.threshold.add;
        spec.comparison = match expr.cmp {
            hypothesis::Cmp::Less => Comparison::LessThan,
            hypothesis::Cmp::LessOrEqual => Comparison::LessOrEqual,
            hypothesis::Cmp::Greater => Comparison::GreaterThan,
            hypothesis::Cmp::GreaterOrEqual => Comparison::GreaterOrEqual,
        };
        Some(StopSpec { name, metric: expr.metric, scope, alarm: spec, period_ns })
    }
}
